/// One IFD entry: where its value is and how to read it. Nothing is read until asked.
struct TIFFEntry {
    var tag: UInt16
    var type: UInt16
    var count: UInt32
    /// The value bytes when they fit in the entry (4 bytes or fewer).
    var inline: [UInt8]?
    /// Otherwise the value's offset inside the TIFF block.
    var offset: UInt32
    /// count × type size, or nil when that overflows or the type is unknown.
    var byteCount: Int?
}

/// A bounds-checked reader of TIFF structure (EXIF blocks and TIFF files), both byte orders.
/// Reads through a `ByteSource` so that a TIFF file is never loaded whole: the IFDs and the
/// few values asked for are read by offset.
///
/// Offsets inside a TIFF are relative to `base`, and nothing may lie past `base + length`.
/// Guards: IFD offsets visited twice (loops), entry counts that do not fit, count × size
/// overflow, value offsets outside the block.
final class TIFFParser {
    let source: any ByteSource
    let base: Int64
    let length: Int64
    let block: String
    private(set) var bigEndian = true
    private(set) var problems: [MetadataProblem] = []
    private var visited: Set<UInt32> = []

    init(source: any ByteSource, base: Int64 = 0, length: Int64? = nil, block: String) {
        self.source = source
        self.base = base
        self.length = max(0, min(length ?? (source.size - base), source.size - base))
        self.block = block
    }

    func problem(_ reason: String) {
        if problems.count < MetadataLimits.maxProblems { problems.append(MetadataProblem(block: block, reason: reason)) }
    }

    /// Reads the 8-byte header; returns the offset of IFD0.
    func header() throws -> UInt32? {
        guard let h = try source.exact(at: base, count: 8) else {
            problem("the TIFF header is truncated (\(length) bytes)")
            return nil
        }
        if h[0] == 0x49, h[1] == 0x49 { bigEndian = false }
        else if h[0] == 0x4D, h[1] == 0x4D { bigEndian = true }
        else {
            problem("unknown byte order mark \(hexString(h[0]))\(String(h[1], radix: 16))")
            return nil
        }
        guard h.u16(at: 2, bigEndian: bigEndian) == 42 else {
            problem("the TIFF magic number is not 42")
            return nil
        }
        return h.u32(at: 4, bigEndian: bigEndian)
    }

    static func typeSize(_ type: UInt16) -> Int? {
        switch type {
        case 1, 2, 6, 7: return 1
        case 3, 8: return 2
        case 4, 9, 11, 13: return 4
        case 5, 10, 12: return 8
        default: return nil
        }
    }

    /// The entries of the IFD at `offset`, keyed by tag (the first of duplicate tags wins).
    func ifd(at offset: UInt32, name: String) throws -> [UInt16: TIFFEntry]? {
        guard offset >= 8, Int64(offset) < length else {
            problem("\(name) offset \(hexString(offset)) points past the end of the \(blockNoun)")
            return nil
        }
        guard visited.insert(offset).inserted else {
            problem("\(name) offset \(hexString(offset)) was already read (IFD loop)")
            return nil
        }
        guard let countBytes = try source.exact(at: base + Int64(offset), count: 2),
              let declared = countBytes.u16(at: 0, bigEndian: bigEndian) else {
            problem("\(name) at \(hexString(offset)) is truncated")
            return nil
        }
        var count = Int(declared)
        let room = Int((length - Int64(offset) - 2) / 12)
        if count > room {
            problem("\(name) declares \(count) entries but only \(max(0, room)) fit in the \(blockNoun)")
            count = max(0, room)
        }
        guard count > 0 else { return [:] }
        guard let raw = try source.exact(at: base + Int64(offset) + 2, count: count * 12) else {
            problem("\(name) entries are truncated")
            return nil
        }
        var entries: [UInt16: TIFFEntry] = [:]
        for i in 0..<count {
            let p = i * 12
            guard let tag = raw.u16(at: p, bigEndian: bigEndian), let type = raw.u16(at: p + 2, bigEndian: bigEndian),
                  let n = raw.u32(at: p + 4, bigEndian: bigEndian), let valueOffset = raw.u32(at: p + 8, bigEndian: bigEndian)
            else { break }
            if entries[tag] != nil { continue }
            var size: Int?
            if let unit = Self.typeSize(type) { size = Int(n).checkedMul(unit) }
            var entry = TIFFEntry(tag: tag, type: type, count: n, inline: nil, offset: valueOffset, byteCount: size)
            if let size, size <= 4 { entry.inline = Array(raw[(p + 8)..<(p + 8 + size)]) }
            entries[tag] = entry
        }
        return entries
    }

    private var blockNoun: String { block == "TIFF" ? "file" : "\(block) block" }

    /// The value bytes of an entry (at most `limit`), or nil with a problem when they lie
    /// outside the block.
    func data(_ e: TIFFEntry, name: String, limit: Int = MetadataLimits.maxBlock) throws -> [UInt8]? {
        if let inline = e.inline { return inline }
        guard let size = e.byteCount else {
            problem("\(name): value size overflows or has unknown type \(e.type)")
            return nil
        }
        guard size <= limit else {
            problem("\(name): \(size)-byte value is larger than the \(limit)-byte limit")
            return nil
        }
        guard let end = Int64(e.offset).checkedAdd(size), end <= length else {
            problem("\(name): value offset \(hexString(e.offset)) (+\(size) bytes) points past the end of the \(blockNoun)")
            return nil
        }
        guard let bytes = try source.exact(at: base + Int64(e.offset), count: size, limit: limit) else {
            problem("\(name): value is truncated")
            return nil
        }
        return bytes
    }

    /// SHORT / LONG values (also BYTE), at most `limit` of them.
    func integers(_ e: TIFFEntry, name: String, limit: Int = 1 << 20) throws -> [UInt32]? {
        guard e.type == 1 || e.type == 3 || e.type == 4 || e.type == 13 else {
            problem("\(name): expected an integer type, found type \(e.type)")
            return nil
        }
        guard Int(e.count) <= limit else {
            problem("\(name): \(e.count) values, more than the limit of \(limit)")
            return nil
        }
        guard let d = try data(e, name: name) else { return nil }
        var out: [UInt32] = []
        out.reserveCapacity(Int(e.count))
        for i in 0..<Int(e.count) {
            switch e.type {
            case 1: if let v = d.u8(at: i) { out.append(UInt32(v)) }
            case 3: if let v = d.u16(at: i * 2, bigEndian: bigEndian) { out.append(UInt32(v)) }
            default: if let v = d.u32(at: i * 4, bigEndian: bigEndian) { out.append(v) }
            }
        }
        return out
    }

    func integer(_ e: TIFFEntry?, name: String) throws -> UInt32? {
        guard let e else { return nil }
        return try integers(e, name: name, limit: 16)?.first
    }

    /// RATIONAL values as (numerator, denominator).
    func rationals(_ e: TIFFEntry, name: String) throws -> [(UInt32, UInt32)]? {
        guard e.type == 5 || e.type == 10 else {
            problem("\(name): expected RATIONAL, found type \(e.type)")
            return nil
        }
        guard e.count <= 16, let d = try data(e, name: name) else { return nil }
        var out: [(UInt32, UInt32)] = []
        for i in 0..<Int(e.count) {
            guard let n = d.u32(at: i * 8, bigEndian: bigEndian), let q = d.u32(at: i * 8 + 4, bigEndian: bigEndian) else { break }
            out.append((n, q))
        }
        return out
    }

    /// An ASCII (or UNDEFINED / BYTE) string: cut at the first NUL, UTF-8 when valid else Latin-1.
    func string(_ e: TIFFEntry?, name: String) throws -> String? {
        guard let e, let d = try data(e, name: name, limit: 1 << 20) else { return nil }
        return TextDecoding.utf8OrLatin1(TextDecoding.cutAtNUL(d))
    }
}

/// EXIF (IFD0 + ExifIFD + GPS IFD) to unified values.
enum EXIFReader {
    struct Result {
        var values: [SourcedValue] = []
        var problems: [MetadataProblem] = []
        /// TIFF IFD0 ImageWidth / ImageLength (the image size for TIFF files).
        var imageWidth: Int?, imageHeight: Int?
        /// TIFF files only: the XMP packet in tag 700 and IPTC in 33723 / Photoshop IRB in 34377.
        var xmp: [UInt8]?
        var iptc: [UInt8]?
        var photoshop: [UInt8]?
    }

    /// Reads an EXIF block (TIFF structure starting at `base`). `tiffFile` also collects the
    /// XMP/IPTC tags TIFF files carry and names problems after the file.
    static func read(_ source: any ByteSource, base: Int64 = 0, length: Int64? = nil, tiffFile: Bool = false) -> Result {
        let parser = TIFFParser(source: source, base: base, length: length, block: tiffFile ? "TIFF" : "EXIF")
        var result = Result()
        do {
            try readInto(&result, parser: parser, tiffFile: tiffFile)
        } catch {
            parser.problem("read failed: \(error)")
        }
        result.problems = parser.problems
        return result
    }

    private static func readInto(_ r: inout Result, parser p: TIFFParser, tiffFile: Bool) throws {
        guard let ifd0Offset = try p.header(), let ifd0 = try p.ifd(at: ifd0Offset, name: "IFD0") else { return }
        var exif: [UInt16: TIFFEntry] = [:], gps: [UInt16: TIFFEntry] = [:]
        if let e = ifd0[0x8769], let o = try p.integer(e, name: "ExifIFD pointer") {
            exif = try p.ifd(at: o, name: "ExifIFD") ?? [:]
        }
        if let e = ifd0[0x8825], let o = try p.integer(e, name: "GPS IFD pointer") {
            gps = try p.ifd(at: o, name: "GPS IFD") ?? [:]
        }
        func add(_ field: UnifiedField, _ value: FieldValue, _ tag: String, _ raw: String) {
            r.values.append(SourcedValue(field: field, value: value, origin: .exif, tag: "EXIF:" + tag, raw: raw))
        }
        func text(_ field: UnifiedField, _ entry: TIFFEntry?, _ tag: String) throws {
            guard let s = try p.string(entry, name: tag) else { return }
            let t = s.metadataTrimmed
            if !t.isEmpty { add(field, .text(t), tag, s) }
        }
        try text(.description, ifd0[0x010E], "ImageDescription")
        try text(.make, ifd0[0x010F], "Make")
        try text(.model, ifd0[0x0110], "Model")
        if let o = try p.integer(ifd0[0x0112], name: "Orientation") {
            if (1...8).contains(o) { add(.orientation, .integer(Int(o)), "Orientation", "\(o)") }
            else { p.problem("Orientation \(o) is outside 1...8") }
        }
        if let artist = try p.string(ifd0[0x013B], name: "Artist") {
            let items = MWGStringList.split(artist).map(\.metadataTrimmed).filter { !$0.isEmpty }
            if !items.isEmpty { add(.creator, .list(items), "Artist", artist) }
        }
        if let e = ifd0[0x8298], let d = try p.data(e, name: "Copyright", limit: 1 << 20) {
            // "photographer NUL editor NUL": both parts kept, joined.
            let parts = d.split(separator: 0).map { TextDecoding.utf8OrLatin1($0).metadataTrimmed }.filter { !$0.isEmpty }
            if !parts.isEmpty {
                add(.rights, .text(parts.joined(separator: " - ")), "Copyright",
                    TextDecoding.utf8OrLatin1(TextDecoding.cutAtNUL(d)))
            }
        }
        // Dimensions: ExifImageWidth/Height, or the TIFF ImageWidth/ImageLength of a TIFF file.
        let w = try p.integer(ifd0[0x0100], name: "ImageWidth"), h = try p.integer(ifd0[0x0101], name: "ImageLength")
        if tiffFile {
            r.imageWidth = w.flatMap { $0 > 0 ? Int($0) : nil }
            r.imageHeight = h.flatMap { $0 > 0 ? Int($0) : nil }
        }
        if let ew = try p.integer(exif[0xA002], name: "ExifImageWidth"), ew > 0 {
            add(.width, .integer(Int(ew)), "ExifImageWidth", "\(ew)")
        } else if tiffFile, let w, w > 0 {
            add(.width, .integer(Int(w)), "ImageWidth", "\(w)")
        }
        if let eh = try p.integer(exif[0xA003], name: "ExifImageHeight"), eh > 0 {
            add(.height, .integer(Int(eh)), "ExifImageHeight", "\(eh)")
        } else if tiffFile, let h, h > 0 {
            add(.height, .integer(Int(h)), "ImageLength", "\(h)")
        }
        // DateTimeOriginal + SubSecTimeOriginal + OffsetTimeOriginal.
        if let dto = try p.string(exif[0x9003], name: "DateTimeOriginal") {
            let sub = try p.string(exif[0x9291], name: "SubSecTimeOriginal")
            let off = try p.string(exif[0x9011], name: "OffsetTimeOriginal")
            if let iso = DateNormalizer.exif(dto, subSeconds: sub, offset: off) {
                let raw = [dto, sub, off].compactMap { $0 }.joined(separator: " ")
                add(.dateCreated, .date(iso), "DateTimeOriginal", raw)
            } else if !dto.metadataTrimmed.isEmpty, !dto.hasPrefix("0000") {
                p.problem("DateTimeOriginal '\(dto.prefix(40))' is not a date")
            }
        }
        try gpsValue(gps, parser: p, add: add)
        if tiffFile {
            if let e = ifd0[0x02BC] { r.xmp = try p.data(e, name: "XMP (tag 700)") }
            if let e = ifd0[0x83BB] { r.iptc = try p.data(e, name: "IPTC-NAA (tag 33723)") }
            if let e = ifd0[0x8649] { r.photoshop = try p.data(e, name: "Photoshop (tag 34377)") }
        }
    }

    private static func gpsValue(_ gps: [UInt16: TIFFEntry], parser p: TIFFParser,
                                 add: (UnifiedField, FieldValue, String, String) -> Void) throws {
        guard let latE = gps[0x0002], let lonE = gps[0x0004] else { return }
        let latRef = try p.string(gps[0x0001], name: "GPSLatitudeRef")?.metadataTrimmed.uppercased() ?? "N"
        let lonRef = try p.string(gps[0x0003], name: "GPSLongitudeRef")?.metadataTrimmed.uppercased() ?? "E"
        guard let lat = try p.rationals(latE, name: "GPSLatitude"), let lon = try p.rationals(lonE, name: "GPSLongitude") else { return }
        func degrees(_ parts: [(UInt32, UInt32)], _ name: String) -> Double? {
            guard !parts.isEmpty, parts.count <= 3 else { p.problem("\(name) has \(parts.count) parts"); return nil }
            var v = 0.0
            for (i, (n, d)) in parts.enumerated() {
                guard d != 0 else {
                    if n == 0 { continue }
                    p.problem("\(name) has a zero denominator")
                    return nil
                }
                v += Double(n) / Double(d) / [1.0, 60.0, 3600.0][i]
            }
            return v
        }
        guard var la = degrees(lat, "GPSLatitude"), var lo = degrees(lon, "GPSLongitude") else { return }
        if latRef.hasPrefix("S") { la = -la }
        if lonRef.hasPrefix("W") { lo = -lo }
        guard GPSParser.valid(la, true), GPSParser.valid(lo, false) else {
            p.problem("GPS position \(la), \(lo) is out of range")
            return
        }
        let raw = { (parts: [(UInt32, UInt32)]) in parts.map { "\($0.0)/\($0.1)" }.joined(separator: " ") }
        add(.gps, .gps(latitude: la, longitude: lo), "GPSLatitude/GPSLongitude",
            "\(raw(lat)) \(latRef), \(raw(lon)) \(lonRef)")
    }
}
