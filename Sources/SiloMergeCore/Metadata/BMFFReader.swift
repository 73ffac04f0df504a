/// ISO base media file format and QuickTime: MP4, MOV, M4V, 3GP, HEIC/HEIF, AVIF, CR3.
///
/// Walks the box tree from the file's structure, reading only the boxes that hold metadata;
/// `mdat` (the media) is skipped by its size, never read:
///
/// - `ftyp`: refines the format (HEIC, AVIF, CR3).
/// - `meta` at the top (HEIF, AVIF): `pitm` (the primary item), `iinf` (item types), `iloc` (where
///   each item's bytes are), `iprp/ipco` + `ipma` (the primary item's `ispe` for its size). The
///   `Exif` item is read with the TIFF parser, the `mime` item of type application/rdf+xml as XMP.
/// - `moov/mvhd`: the creation date (seconds since 1904, UTC; zero means unknown).
/// - `moov/trak`: the size (`tkhd`, 16.16 fixed point) of the first video track (`hdlr` vide).
/// - `moov/udta`: QuickTime text atoms (`©nam`, `©ART`, `©day`, `©xyz`, `©cpy`, `©des`,
///   `©mak`, `©mod`, `©aut`), 3GPP asset boxes (`titl`, `auth`, `perf`, `dscp`, `cprt`, `yrrc`),
///   `XMP_`, and `meta/ilst` iTunes-style items.
/// - `moov/meta`: Apple's `mdta` keys (`keys` + `ilst`): com.apple.quicktime.title,
///   .description, .artist, .author, .copyright, .creationdate, .location.ISO6709, .make,
///   .model, .keywords (and the bare names ffmpeg writes: title, artist, creation_time...).
/// - `moov/uuid` (Canon, CR3): the CMT1 (IFD0), CMT2 (EXIF), CMT4 (GPS) TIFF blocks.
/// - `uuid` BE7ACFCB-97A9-42E8-9C71-999491E3AFAC (XMP) at the top or in `moov`.
///
/// Tags follow ExifTool's group names: QuickTime:CreateDate, UserData:Title, ItemList:Artist,
/// Keys:GPSCoordinates...
enum BMFFReader {
    static let xmpUUID: [UInt8] = [0xBE, 0x7A, 0xCF, 0xCB, 0x97, 0xA9, 0x42, 0xE8, 0x9C, 0x71, 0x99, 0x94, 0x91, 0xE3, 0xAF, 0xAC]
    static let canonUUID: [UInt8] = [0x85, 0xC0, 0xB6, 0x87, 0x82, 0x0F, 0x11, 0xE0, 0x81, 0x11, 0xF4, 0xCE, 0x46, 0x2B, 0x6A, 0x48]

    struct Box {
        /// The four type bytes, the first in the high byte: no array per box (a phone's HEIC
        /// lists a box per tile, and the walk made two arrays for each).
        var fourCC: UInt32
        var start: Int64
        var dataStart: Int64
        var end: Int64
        var type: [UInt8] { BMFFReader.bytes(of: fourCC) }
        var name: String { String(decoding: type, as: UTF8.self) }
        var dataSize: Int64 { end - dataStart }
        /// Compared in place: readers ask this of every box.
        func `is`(_ t: StaticString) -> Bool {
            guard t.utf8CodeUnitCount == 4 else { return false }
            let p = t.utf8Start
            return fourCC == UInt32(p[0]) << 24 | UInt32(p[1]) << 16 | UInt32(p[2]) << 8 | UInt32(p[3])
        }
    }

    /// A four-character type's bytes, the first from the high byte.
    static func bytes(of fourCC: UInt32) -> [UInt8] {
        [UInt8(fourCC >> 24), UInt8(truncatingIfNeeded: fourCC >> 16), UInt8(truncatingIfNeeded: fourCC >> 8), UInt8(truncatingIfNeeded: fourCC)]
    }

    /// Boxes nested deeper than this are not walked.
    static let maxDepth = 12

    /// The boxes between `start` and `end`, with their bounds checked. A box whose size runs
    /// past its container ends the walk with a problem.
    static func boxes(_ c: MetadataCollector, from start: Int64, to end: Int64) throws -> [Box] {
        var out: [Box] = []
        var pos = start
        while pos + 8 <= end {
            guard out.count < MetadataLimits.maxSegments else {
                c.problem("BMFF", "more than \(MetadataLimits.maxSegments) boxes at one level; stopped")
                break
            }
            // The header read in place (no array).
            guard let head = try c.source.withExact(at: pos, count: 8, { h -> (UInt32, UInt32)? in
                guard let h else { return nil }
                return (UInt32(bigEndian: h.loadUnaligned(as: UInt32.self)), UInt32(bigEndian: h.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
            }) else { break }
            let (size32, fourCC) = head
            var size = Int64(size32)
            var type: [UInt8] { bytes(of: fourCC) }   // for a problem's message
            var header: Int64 = 8
            if size == 1 {
                guard let large = try c.source.exact(at: pos + 8, count: 8),
                      let v = large.u64(at: 0, bigEndian: true), v <= UInt64(Int64.max) else {
                    c.problem("BMFF", "box '\(PathDisplay.escape(type))' at offset \(pos) has a truncated size")
                    break
                }
                size = Int64(v)
                header = 16
            } else if size == 0 {
                size = end - pos   // "to the end of the file (or container)"
            }
            guard size >= header, let boxEnd = pos.checkedAdd(size), boxEnd <= end else {
                // QuickTime lists end with a 4-byte zero terminator; anything else is damage.
                if !(size == 0 || (size32 == 0 && end - pos < 8)) {
                    c.problem("BMFF", "box '\(PathDisplay.escape(type))' at offset \(pos) claims \(size) bytes, past its container (\(end - pos) left)")
                }
                break
            }
            out.append(Box(fourCC: fourCC, start: pos, dataStart: pos + header, end: boxEnd))
            pos = boxEnd
        }
        return out
    }

    static func read(_ c: MetadataCollector) throws {
        let top = try boxes(c, from: 0, to: c.source.size)
        var state = State()
        for box in top {
            switch box.name {
            case "ftyp":
                if let f = try brandFormat(c, box) { c.format = f }
            case "uuid":
                try readUUID(c, box, &state)
            case "moov":
                try readMoov(c, box, &state)
            case "meta":
                try HEIFItems.read(c, meta: box, state: &state)
            default:
                break
            }
        }
        if let dims = state.trackSize { c.setDimensions(dims.0, dims.1, tag: "Track") }
        c.values += state.values.sorted { rank($0.tag) < rank($1.tag) }
    }

    /// What the walk found, in the order it was found.
    struct State {
        var values: [SourcedValue] = []
        var trackSize: (Int, Int)?
        var canonIFDsRead = false
    }

    /// Inside the `quicktime` origin, the order the in-file reconciliation takes the first of:
    /// Apple's keys, then the iTunes items, then the QuickTime atoms, then the movie header.
    static func rank(_ tag: String) -> Int {
        if tag.hasPrefix("Keys:") { return 0 }
        if tag.hasPrefix("ItemList:") { return 1 }
        if tag.hasPrefix("UserData:") { return 2 }
        return 3
    }

    /// The major brand, else the first known compatible brand.
    static func brandFormat(_ c: MetadataCollector, _ box: Box) throws -> MediaFormat? {
        let size = Int(min(box.dataSize, 256))
        guard size >= 4, let d = try c.source.exact(at: box.dataStart, count: size) else { return nil }
        let total = UInt32(size + 8)
        let header = [UInt8(total >> 24), UInt8((total >> 16) & 0xFF), UInt8((total >> 8) & 0xFF), UInt8(total & 0xFF)]
        return FormatSniffer.bmffBrand(header + asciiBytes("ftyp") + d)
    }

    private static func readUUID(_ c: MetadataCollector, _ box: Box, _ state: inout State) throws {
        guard let id = try c.source.exact(at: box.dataStart, count: 16) else { return }
        if id == xmpUUID, !c.foundXMP {
            try readXMP(c, from: box.dataStart + 16, to: box.end)
        } else if id == canonUUID, !state.canonIFDsRead {
            state.canonIFDsRead = true
            try readCanon(c, from: box.dataStart + 16, to: box.end)
        }
    }

    static func readXMP(_ c: MetadataCollector, from: Int64, to: Int64) throws {
        let size = to - from
        guard size <= Int64(MetadataLimits.maxBlock) else {
            c.problem("XMP", "XMP box of \(size) bytes is larger than the \(MetadataLimits.maxBlock)-byte limit; skipped")
            return
        }
        if let d = try c.source.exact(at: from, count: Int(size)) { c.addXMP(d, block: "XMP") }
    }

    // MARK: - moov

    private static func readMoov(_ c: MetadataCollector, _ moov: Box, _ state: inout State) throws {
        for child in try boxes(c, from: moov.dataStart, to: moov.end) {
            switch child.name {
            case "mvhd":
                try movieHeader(c, child, &state)
            case "trak":
                if state.trackSize == nil { try track(c, child, &state) }
            case "udta":
                try userData(c, child, &state, depth: 2)
            case "meta":
                try metaItems(c, child, &state)
            case "uuid":
                try readUUID(c, child, &state)
            default:
                break
            }
        }
    }

    /// mvhd: version 0 holds 32-bit times, version 1 64-bit; seconds since 1904-01-01 UTC.
    private static func movieHeader(_ c: MetadataCollector, _ box: Box, _ state: inout State) throws {
        guard let d = try c.source.exact(at: box.dataStart, count: min(Int(box.dataSize), 12)), d.count >= 8 else { return }
        let seconds: UInt64
        if d[0] == 1 {
            guard let v = d.u64(at: 4, bigEndian: true) else { return }
            seconds = v
        } else {
            seconds = UInt64(d.u32(at: 4, bigEndian: true)!)
        }
        guard seconds > 0, let iso = QuickTimeDates.iso(secondsSince1904: seconds) else { return }
        state.values.append(SourcedValue(field: .dateCreated, value: .date(iso), origin: .quicktime,
                                         tag: "QuickTime:CreateDate", raw: "\(seconds)"))
    }

    /// The first video track's display size from tkhd (the last 8 bytes: 16.16 fixed point).
    private static func track(_ c: MetadataCollector, _ trak: Box, _ state: inout State) throws {
        var size: (Int, Int)?
        var handler: [UInt8]?
        for t in try boxes(c, from: trak.dataStart, to: trak.end) {
            if t.is("tkhd"), t.dataSize == 84 || t.dataSize == 96, let d = try c.source.exact(at: t.end - 8, count: 8) {
                size = (Int(d.u32(at: 0, bigEndian: true)! >> 16), Int(d.u32(at: 4, bigEndian: true)! >> 16))
            } else if t.is("mdia") {
                for m in try boxes(c, from: t.dataStart, to: t.end) where m.is("hdlr") {
                    if let d = try c.source.exact(at: m.dataStart + 8, count: 4) { handler = d }
                }
            }
        }
        guard let size, size.0 > 0, size.1 > 0 else { return }
        if handler == nil || handler == asciiBytes("vide") { state.trackSize = size }
    }

    // MARK: - udta

    /// QuickTime user data: international text atoms, 3GPP asset boxes, XMP, an ilst.
    private static func userData(_ c: MetadataCollector, _ udta: Box, _ state: inout State, depth: Int) throws {
        for atom in try boxes(c, from: udta.dataStart, to: udta.end) {
            if atom.is("XMP_") {
                if !c.foundXMP { try readXMP(c, from: atom.dataStart, to: atom.end) }
                continue
            }
            if atom.is("meta") { try metaItems(c, atom, &state); continue }
            if atom.is("uuid") { try readUUID(c, atom, &state); continue }
            if atom.is("date") || atom.is("loci") {
                guard atom.dataSize <= 4096, let d = try c.source.exact(at: atom.dataStart, count: Int(atom.dataSize)) else { continue }
                if atom.is("date") {
                    // Android: the creation time as plain ISO 8601 text.
                    add(.dateCreated, TextDecoding.utf8OrLatin1(TextDecoding.cutAtNUL(d)), "UserData:DateTimeOriginal", &state)
                } else if let (lat, lon) = locationInformation(d) {
                    state.values.append(SourcedValue(field: .gps, value: .gps(latitude: lat, longitude: lon), origin: .quicktime,
                                                     tag: "UserData:LocationInformation", raw: "\(lat) \(lon)"))
                }
                continue
            }
            if let (field, tag) = userDataAtoms[atom.type] {
                guard atom.dataSize <= 1 << 20, let d = try c.source.exact(at: atom.dataStart, count: Int(atom.dataSize)) else { continue }
                for text in quickTimeStrings(d) { add(field, text, tag, &state) }
            } else if let (field, tag) = threeGPPAtoms[atom.type] {
                guard atom.dataSize <= 1 << 20, let d = try c.source.exact(at: atom.dataStart, count: Int(atom.dataSize)) else { continue }
                if atom.is("yrrc") {
                    // Full box, then a 16-bit year.
                    if let y = d.u16(at: 4, bigEndian: true), y > 0 { add(.dateCreated, String(y), "UserData:Year", &state) }
                } else if let text = threeGPPString(d) {
                    add(field, text, tag, &state)
                }
            }
        }
    }

    static let userDataAtoms: [[UInt8]: (UnifiedField, String)] = [
        [0xA9] + asciiBytes("nam"): (.title, "UserData:Title"),
        [0xA9] + asciiBytes("ART"): (.creator, "UserData:Artist"),
        [0xA9] + asciiBytes("aut"): (.creator, "UserData:Author"),
        [0xA9] + asciiBytes("day"): (.dateCreated, "UserData:ContentCreateDate"),
        [0xA9] + asciiBytes("xyz"): (.gps, "UserData:GPSCoordinates"),
        [0xA9] + asciiBytes("cpy"): (.rights, "UserData:Copyright"),
        [0xA9] + asciiBytes("des"): (.description, "UserData:Description"),
        [0xA9] + asciiBytes("mak"): (.make, "UserData:Make"),
        [0xA9] + asciiBytes("mod"): (.model, "UserData:Model"),
    ]

    static let threeGPPAtoms: [[UInt8]: (UnifiedField, String)] = [
        asciiBytes("titl"): (.title, "UserData:Title"),
        asciiBytes("auth"): (.creator, "UserData:Author"),
        asciiBytes("perf"): (.creator, "UserData:Performer"),
        asciiBytes("dscp"): (.description, "UserData:Description"),
        asciiBytes("cprt"): (.rights, "UserData:Copyright"),
        asciiBytes("yrrc"): (.dateCreated, "UserData:Year"),
    ]

    /// QuickTime international text: repeated [16-bit length][16-bit language][text]. A
    /// language code below 0x400 is a Macintosh language (text in Mac Roman; ASCII in
    /// practice), else a packed ISO 639-2 code with UTF-8 text. Some writers store an
    /// iTunes-style `data` box instead.
    static func quickTimeStrings(_ d: [UInt8]) -> [String] {
        if d.count >= 16, d.hasBytes(asciiBytes("data"), at: 4) { return dataBoxText(d).map { [$0] } ?? [] }
        var out: [String] = []
        var i = 0
        while i + 4 <= d.count, out.count < 16 {
            let length = Int(d.u16(at: i, bigEndian: true)!)
            let language = d.u16(at: i + 2, bigEndian: true)!
            guard length > 0, i + 4 + length <= d.count else { break }
            let bytes = d[(i + 4)..<(i + 4 + length)]
            let text = language < 0x400 && String(validatingUTF8Bytes: Array(TextDecoding.cutAtNUL(bytes))) == nil
                ? MacRoman.decode(TextDecoding.cutAtNUL(bytes)) : TextDecoding.utf8OrLatin1(TextDecoding.cutAtNUL(bytes))
            out.append(text)
            i += 4 + length
        }
        return out
    }

    /// 3GPP `loci`: a full box, a language, a NUL-terminated place name, a role byte, then
    /// longitude, latitude and altitude as signed 16.16 fixed point.
    static func locationInformation(_ d: [UInt8]) -> (Double, Double)? {
        guard d.count > 6, let nul = d[6...].firstIndex(of: 0) else { return nil }
        let p = nul + 2
        guard let lonBits = d.u32(at: p, bigEndian: true), let latBits = d.u32(at: p + 4, bigEndian: true) else { return nil }
        // 16.16 fixed point resolves 1.5e-5 degrees: rounded to 5 decimals, as ExifTool shows it.
        let lon = (Double(Int32(bitPattern: lonBits)) / 65536 * 1e5).rounded() / 1e5
        let lat = (Double(Int32(bitPattern: latBits)) / 65536 * 1e5).rounded() / 1e5
        guard GPSParser.valid(lat, true), GPSParser.valid(lon, false), lat != 0 || lon != 0 else { return nil }
        return (lat, lon)
    }

    /// 3GPP asset boxes: a full box (4 bytes), a packed language (2 bytes), then a
    /// NUL-terminated string, UTF-8 or UTF-16 with a BOM.
    static func threeGPPString(_ d: [UInt8]) -> String? {
        guard d.count > 6 else { return nil }
        let s = d[6...]
        if s.starts(with: [0xFE, 0xFF]) || s.starts(with: [0xFF, 0xFE]) {
            var units = Array(s)
            if units.count % 2 == 1 { units.removeLast() }
            var end = 2
            while end + 1 < units.count, !(units[end] == 0 && units[end + 1] == 0) { end += 2 }
            return TextDecoding.utf16(units[0..<end][...], bigEndian: units[0] == 0xFE)
        }
        return TextDecoding.utf8OrLatin1(TextDecoding.cutAtNUL(s))
    }

    // MARK: - meta / ilst / keys

    /// A `meta` box with iTunes items (`hdlr` mdir) or Apple keys (`hdlr` mdta). In QuickTime
    /// files `meta` is a plain box, in MP4 a full box (4 bytes of version and flags first).
    private static func metaItems(_ c: MetadataCollector, _ meta: Box, _ state: inout State) throws {
        var start = meta.dataStart
        if let peek = try c.source.exact(at: start + 4, count: 4), peek != asciiBytes("hdlr") { start += 4 }
        var keys: [UInt32: String] = [:]
        var ilst: Box?
        for b in try boxes(c, from: start, to: meta.end) {
            if b.is("keys") { keys = try readKeys(c, b) }
            else if b.is("ilst") { ilst = b }
        }
        guard let ilst else { return }
        for item in try boxes(c, from: ilst.dataStart, to: ilst.end) {
            let mapping: (UnifiedField, String)?
            if !keys.isEmpty, let index = item.type.u32(at: 0, bigEndian: true), let key = keys[index] {
                mapping = keyMapping(key)
            } else {
                mapping = itemListAtoms[item.type]
            }
            guard let (field, tag) = mapping else { continue }
            for data in try boxes(c, from: item.dataStart, to: item.end) where data.is("data") {
                guard data.dataSize <= 1 << 20, let d = try c.source.exact(at: data.start, count: Int(data.end - data.start)),
                      let text = dataBoxText(d) else { continue }
                if field == .keywords {
                    let items = text.split(whereSeparator: { $0 == "," || $0 == ";" }).map { String($0).metadataTrimmed }.filter { !$0.isEmpty }
                    if !items.isEmpty { state.values.append(SourcedValue(field: .keywords, value: .list(items), origin: .quicktime, tag: tag, raw: text)) }
                } else {
                    add(field, text, tag, &state)
                }
            }
        }
    }

    static let itemListAtoms: [[UInt8]: (UnifiedField, String)] = [
        [0xA9] + asciiBytes("nam"): (.title, "ItemList:Title"),
        [0xA9] + asciiBytes("ART"): (.creator, "ItemList:Artist"),
        [0xA9] + asciiBytes("aut"): (.creator, "ItemList:Author"),
        [0xA9] + asciiBytes("day"): (.dateCreated, "ItemList:ContentCreateDate"),
        [0xA9] + asciiBytes("xyz"): (.gps, "ItemList:GPSCoordinates"),
        [0xA9] + asciiBytes("cpy"): (.rights, "ItemList:Copyright"),
        asciiBytes("cprt"): (.rights, "ItemList:Copyright"),
        [0xA9] + asciiBytes("des"): (.description, "ItemList:Description"),
        asciiBytes("desc"): (.description, "ItemList:Description"),
        [0xA9] + asciiBytes("mak"): (.make, "ItemList:Make"),
        [0xA9] + asciiBytes("mod"): (.model, "ItemList:Model"),
        asciiBytes("keyw"): (.keywords, "ItemList:Keyword"),
    ]

    /// `keys`: a full box, an entry count, then per key [size][namespace][name].
    private static func readKeys(_ c: MetadataCollector, _ box: Box) throws -> [UInt32: String] {
        guard box.dataSize <= 1 << 20, let d = try c.source.exact(at: box.dataStart, count: Int(box.dataSize)),
              let count = d.u32(at: 4, bigEndian: true) else { return [:] }
        var out: [UInt32: String] = [:]
        var i = 8
        var index: UInt32 = 1
        while index <= count, i + 8 <= d.count {
            let size = Int(d.u32(at: i, bigEndian: true)!)
            guard size >= 8, i + size <= d.count else { break }
            out[index] = String(decoding: d[(i + 8)..<(i + size)], as: UTF8.self)
            i += size
            index += 1
        }
        return out
    }

    /// Apple's keys (and the bare names ffmpeg writes with -movflags use_metadata_tags).
    static func keyMapping(_ key: String) -> (UnifiedField, String)? {
        var k = key
        if k.hasPrefix("com.apple.quicktime.") { k.removeFirst("com.apple.quicktime.".count) }
        switch k.lowercased() {
        case "title": return (.title, "Keys:Title")
        case "description": return (.description, "Keys:Description")
        case "artist": return (.creator, "Keys:Artist")
        case "author": return (.creator, "Keys:Author")
        case "copyright": return (.rights, "Keys:Copyright")
        case "creationdate": return (.dateCreated, "Keys:CreationDate")
        case "creation_time": return (.dateCreated, "Keys:CreationTime")
        case "location.iso6709": return (.gps, "Keys:GPSCoordinates")
        case "make": return (.make, "Keys:Make")
        case "model": return (.model, "Keys:Model")
        case "keywords": return (.keywords, "Keys:Keywords")
        default: return nil
        }
    }

    /// An iTunes `data` box (the whole box): [size]['data'][type: 1 version + 3 bytes][locale]
    /// then the value. Text types: 1 UTF-8, 2 UTF-16BE, 4/5 their sort forms; 0 (implicit) is
    /// taken as UTF-8 when it decodes as such. Integers (21, 22) as decimal text.
    static func dataBoxText(_ d: [UInt8]) -> String? {
        guard d.count >= 16, let type = d.u32(at: 8, bigEndian: true) else { return nil }
        let value = d[16...]
        switch type & 0xFFFFFF {
        case 1, 4:
            return TextDecoding.utf8OrLatin1(TextDecoding.cutAtNUL(value))
        case 2, 5:
            return TextDecoding.utf16(value, bigEndian: true)
        case 0:
            return String(validatingUTF8Bytes: Array(TextDecoding.cutAtNUL(value)))
        case 21, 22:
            guard (1...8).contains(value.count) else { return nil }
            var v: UInt64 = 0
            for b in value { v = v << 8 | UInt64(b) }
            if type & 0xFFFFFF == 21, value.count < 8, value.first! & 0x80 != 0 {
                return String(Int64(bitPattern: v) - (Int64(1) << (Int64(value.count) * 8)))
            }
            return String(v)
        default:
            return nil
        }
    }

    /// A text value to a unified value: dates normalised (invalid ones are notes), GPS from
    /// ISO 6709, creators as one-item lists.
    private static func add(_ field: UnifiedField, _ rawText: String, _ tag: String, _ state: inout State) {
        let text = rawText.metadataTrimmed
        guard !text.isEmpty else { return }
        let value: FieldValue
        switch field {
        case .dateCreated:
            guard let iso = DateNormalizer.iso(text), !iso.hasPrefix("0000") else { return }
            value = .date(iso)
        case .gps:
            guard let (lat, lon) = ISO6709.parse(text) else { return }
            value = .gps(latitude: lat, longitude: lon)
        case .creator:
            value = .list([text])
        case .keywords:
            value = .list([text])
        default:
            value = .text(text)
        }
        state.values.append(SourcedValue(field: field, value: value, origin: .quicktime, tag: tag, raw: rawText))
    }

    // MARK: - Canon CR3

    /// CR3: moov/uuid(Canon) holds CMT1 (a TIFF whose IFD0 is the main IFD0), CMT2 (a TIFF whose
    /// IFD0 is the EXIF IFD) and CMT4 (a TIFF whose IFD0 is the GPS IFD). CMT2 and CMT4 are
    /// read through the ordinary TIFF parser by appending to each an IFD0 that points at its
    /// own first IFD as the EXIF (0x8769) or GPS (0x8825) IFD: every offset inside the block
    /// stays valid, and the EXIF reader applies its usual rules.
    private static func readCanon(_ c: MetadataCollector, from: Int64, to: Int64) throws {
        for box in try boxes(c, from: from, to: to) {
            let pointer: UInt16
            switch box.name {
            case "CMT1": pointer = 0
            case "CMT2": pointer = 0x8769
            case "CMT4": pointer = 0x8825
            default: continue
            }
            guard box.dataSize <= Int64(MetadataLimits.maxBlock), box.dataSize >= 8,
                  let d = try c.source.exact(at: box.dataStart, count: Int(box.dataSize)) else {
                c.problem("CR3", "\(box.name) box of \(box.dataSize) bytes cannot be read")
                continue
            }
            if pointer == 0 {
                c.addEXIF(d)
            } else if let wrapped = wrapIFD(d, as: pointer) {
                c.addEXIF(wrapped)
            } else {
                c.problem("CR3", "\(box.name) does not hold a TIFF header")
            }
        }
    }

    /// A TIFF block whose IFD0 is really the IFD `pointer` points to, rewritten so that a new
    /// IFD0 (appended at the end, word-aligned) holds just that pointer.
    static func wrapIFD(_ tiff: [UInt8], as pointer: UInt16) -> [UInt8]? {
        guard tiff.count >= 8 else { return nil }
        let bigEndian: Bool
        if tiff[0] == 0x4D, tiff[1] == 0x4D { bigEndian = true } else if tiff[0] == 0x49, tiff[1] == 0x49 { bigEndian = false } else { return nil }
        guard let first = tiff.u32(at: 4, bigEndian: bigEndian) else { return nil }
        var out = tiff
        if out.count % 2 == 1 { out.append(0) }
        guard out.count <= Int(UInt32.max) - 32 else { return nil }
        let newIFD = UInt32(out.count)
        func u16(_ v: UInt16) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: UInt32) -> [UInt8] {
            let b = [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
            return bigEndian ? b : b.reversed()
        }
        out += u16(1) + u16(pointer) + u16(4) + u32(1) + u32(first) + u32(0)
        out.replaceSubrange(4..<8, with: u32(newIFD))
        return out
    }
}

/// QuickTime times: seconds since 1904-01-01T00:00:00Z.
enum QuickTimeDates {
    static func iso(secondsSince1904 s: UInt64) -> String? {
        // 1904 → 1970 is 2,082,844,800 s. Dates before 1970 are kept (some cameras write 1904 + a few years).
        guard s < 1 << 40 else { return nil }
        let unix = Int64(s) - 2_082_844_800
        return UnixDates.iso(unix)
    }
}

enum UnixDates {
    /// "2023-06-14T18:32:07Z" for seconds since 1970 (proleptic Gregorian, UTC).
    static func iso(_ unix: Int64) -> String? {
        let days = unix >= 0 ? unix / 86400 : (unix - 86399) / 86400
        let secs = unix - days * 86400
        // Civil from days (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        var y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        if m <= 2 { y += 1 }
        guard (1...9999).contains(y) else { return nil }
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let year = String(y)
        let padded = String(repeating: "0", count: max(0, 4 - year.count)) + year
        return "\(padded)-\(two(m))-\(two(d))T\(two(secs / 3600)):\(two(secs / 60 % 60)):\(two(secs % 60))Z"
    }
}

/// ISO 6709 points as QuickTime writes them: "+48.8584+002.2945+035.000/", degrees with a
/// sign each; also the ±DDMM.MMM / ±DDMMSS.SS forms the standard allows.
enum ISO6709 {
    static func parse(_ s: String) -> (Double, Double)? {
        var numbers: [(sign: Double, digits: String)] = []
        var current: (Double, String)?
        for ch in s {
            if ch == "+" || ch == "-" {
                if let c = current { numbers.append(c) }
                current = (ch == "-" ? -1 : 1, "")
            } else if ch.isASCII && (ch.isNumber || ch == "."), current != nil {
                current!.1.append(ch)
            } else {
                if let c = current { numbers.append(c); current = nil }
                if ch == "/" { break }
            }
        }
        if let c = current { numbers.append(c) }
        guard numbers.count >= 2,
              let lat = degrees(numbers[0].digits, degreeDigits: 2), let lon = degrees(numbers[1].digits, degreeDigits: 3) else { return nil }
        let la = numbers[0].sign * lat, lo = numbers[1].sign * lon
        guard GPSParser.valid(la, true), GPSParser.valid(lo, false) else { return nil }
        return (la, lo)
    }

    /// "48.8584" (degrees), "4851.50" (DDMM.MM), "485130.5" (DDMMSS.S).
    private static func degrees(_ digits: String, degreeDigits: Int) -> Double? {
        let parts = digits.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let intPart = parts.first, !intPart.isEmpty, intPart.allSatisfy(\.isNumber) else { return nil }
        let fraction = parts.count > 1 ? "." + parts[1] : ""
        guard fraction.dropFirst().allSatisfy(\.isNumber) else { return nil }
        let n = intPart.count
        if n <= degreeDigits { return Double(intPart + fraction) }
        if n == degreeDigits + 2, let d = Double(intPart.prefix(degreeDigits)), let m = Double(intPart.suffix(2) + fraction), m < 60 {
            return d + m / 60
        }
        if n == degreeDigits + 4, let d = Double(intPart.prefix(degreeDigits)), let m = Double(intPart.dropFirst(degreeDigits).prefix(2)),
           let sec = Double(intPart.suffix(2) + fraction), m < 60, sec < 60 {
            return d + m / 60 + sec / 3600
        }
        return nil
    }
}

/// Mac Roman, for old QuickTime text atoms.
enum MacRoman {
    static let high: [UInt16] = [
        0xC4, 0xC5, 0xC7, 0xC9, 0xD1, 0xD6, 0xDC, 0xE1, 0xE0, 0xE2, 0xE4, 0xE3, 0xE5, 0xE7, 0xE9, 0xE8,
        0xEA, 0xEB, 0xED, 0xEC, 0xEE, 0xEF, 0xF1, 0xF3, 0xF2, 0xF4, 0xF6, 0xF5, 0xFA, 0xF9, 0xFB, 0xFC,
        0x2020, 0xB0, 0xA2, 0xA3, 0xA7, 0x2022, 0xB6, 0xDF, 0xAE, 0xA9, 0x2122, 0xB4, 0xA8, 0x2260, 0xC6, 0xD8,
        0x221E, 0xB1, 0x2264, 0x2265, 0xA5, 0xB5, 0x2202, 0x2211, 0x220F, 0x3C0, 0x222B, 0xAA, 0xBA, 0x3A9, 0xE6, 0xF8,
        0xBF, 0xA1, 0xAC, 0x221A, 0x192, 0x2248, 0x2206, 0xAB, 0xBB, 0x2026, 0xA0, 0xC0, 0xC3, 0xD5, 0x152, 0x153,
        0x2013, 0x2014, 0x201C, 0x201D, 0x2018, 0x2019, 0xF7, 0x25CA, 0xFF, 0x178, 0x2044, 0x20AC, 0x2039, 0x203A, 0xFB01, 0xFB02,
        0x2021, 0xB7, 0x201A, 0x201E, 0x2030, 0xC2, 0xCA, 0xC1, 0xCB, 0xC8, 0xCD, 0xCE, 0xCF, 0xCC, 0xD3, 0xD4,
        0xF8FF, 0xD2, 0xDA, 0xDB, 0xD9, 0x131, 0x2C6, 0x2DC, 0xAF, 0x2D8, 0x2D9, 0x2DA, 0xB8, 0x2DD, 0x2DB, 0x2C7,
    ]

    static func decode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var s = ""
        for b in bytes {
            if b < 0x80 { s.unicodeScalars.append(Unicode.Scalar(b)) }
            else if let u = Unicode.Scalar(UInt32(high[Int(b) - 0x80])) { s.unicodeScalars.append(u) }
        }
        return s
    }
}
