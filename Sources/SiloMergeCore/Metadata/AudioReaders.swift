/// Audio (and RIFF video) tags: title, artist, copyright, date, and where the format has them,
/// description and keywords. Each format is read from its structure; the audio itself is
/// skipped by its length, never read.
///
/// - MP3: the ID3v2 tag at the start (versions 2.2, 2.3, 2.4; unsynchronisation undone;
///   compressed or encrypted frames noted, not read), then the 128-byte ID3v1 tag at the end.
/// - Ogg (Vorbis, Opus, Theora) and FLAC: the Vorbis comment block (TITLE, ARTIST, COPYRIGHT,
///   DATE, DESCRIPTION).
/// - WAV and AVI (RIFF): `LIST/INFO` (INAM, IART, ICOP, ICRD, ISBJ, IKEY), the Broadcast Wave
///   `bext` chunk (description, origination date), an `id3 ` chunk, XMP in `_PMX`, and the AVI
///   main header's frame size.
///
/// Tags are ExifTool's: ID3v2_4:Title, ID3v1:Artist, Vorbis:Date, RIFF:Copyright...
enum AudioReaders {
    static func sniff(_ h: [UInt8], source: (any ByteSource)?) -> MediaFormat? {
        if h.hasBytes("ID3"), h.count >= 10, h[3] >= 2, h[3] <= 4 {
            // An ID3 tag in front of FLAC (or anything else): look past it.
            let size = Int64(ID3.syncsafe(h[6..<10]))
            if let source, let after = try? source.read(at: 10 + size + (h[5] & 0x10 != 0 ? 10 : 0), count: 4), after == asciiBytes("fLaC") {
                return .flac
            }
            return .mp3
        }
        if h.hasBytes("OggS") { return .ogg }
        if h.hasBytes("fLaC") { return .flac }
        if h.hasBytes("RIFF") || h.hasBytes("RF64") {
            if h.hasBytes("WAVE", at: 8) { return .wav }
            if h.hasBytes("AVI ", at: 8) { return .avi }
        }
        if let source, MPEGFrame(h) != nil, MPEGFrame.confirmed(source) { return .mp3 }
        return nil
    }

    static func read(_ c: MetadataCollector) throws {
        switch c.format {
        case .mp3:
            var offset: Int64 = 0
            if let h = try c.source.exact(at: 0, count: 10), h.hasBytes(asciiBytes("ID3")) {
                offset = try ID3.read(c, at: 0)
            }
            _ = offset
            try ID3.readVersion1(c)
        case .flac:
            var pos: Int64 = 0
            if let h = try c.source.exact(at: 0, count: 10), h.hasBytes(asciiBytes("ID3")) { pos = try ID3.read(c, at: 0) }
            try FLAC.read(c, at: pos)
        case .ogg:
            try Ogg.read(c)
        case .wav, .avi:
            try RIFF.read(c)
        default:
            break
        }
    }

    /// A value to the collector, with the usual normalisation (dates checked, lists split).
    static func add(_ c: MetadataCollector, _ field: UnifiedField, _ rawText: String, tag: String) {
        let t = rawText.metadataTrimmed
        guard !t.isEmpty else { return }
        let value: FieldValue
        switch field {
        case .dateCreated:
            guard let iso = DateNormalizer.iso(t), !iso.hasPrefix("0000") else {
                c.problem(tag.split(separator: ":").first.map(String.init) ?? "audio", "\(tag) '\(t.prefix(40))' is not a date")
                return
            }
            value = .date(iso)
        case .keywords:
            let items = t.split(whereSeparator: { $0 == ";" || $0 == "," }).map { String($0).metadataTrimmed }.filter { !$0.isEmpty }
            guard !items.isEmpty else { return }
            value = .list(items)
        case .creator:
            value = .list([t])
        default:
            value = .text(t)
        }
        c.values.append(SourcedValue(field: field, value: value, origin: .audio, tag: tag, raw: rawText))
    }
}

// MARK: - ID3

enum ID3 {
    static func syncsafe<C: Collection>(_ b: C) -> UInt32 where C.Element == UInt8 {
        b.reduce(0) { $0 << 7 | UInt32($1 & 0x7F) }
    }

    /// Removes the 0x00 stuffed after every 0xFF (unsynchronisation).
    static func resync<C: Collection>(_ b: C) -> [UInt8] where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var previousFF = false
        for x in b {
            if previousFF && x == 0 { previousFF = false; continue }
            out.append(x)
            previousFF = x == 0xFF
        }
        return out
    }

    static let frames: [String: (UnifiedField, String)] = [
        "TIT2": (.title, "Title"), "TT2": (.title, "Title"),
        "TPE1": (.creator, "Artist"), "TP1": (.creator, "Artist"),
        "TCOP": (.rights, "Copyright"), "TCR": (.rights, "Copyright"),
        "TDRC": (.dateCreated, "RecordingTime"),
        "TYER": (.dateCreated, "Year"), "TYE": (.dateCreated, "Year"),
    ]

    /// Reads the tag at `offset`; returns the offset after it.
    @discardableResult
    static func read(_ c: MetadataCollector, at offset: Int64) throws -> Int64 {
        guard let h = try c.source.exact(at: offset, count: 10), h.hasBytes(asciiBytes("ID3")) else { return offset }
        let version = h[3], flags = h[5]
        let size = Int(syncsafe(h[6..<10]))
        let end = offset + 10 + Int64(size) + (flags & 0x10 != 0 ? 10 : 0)
        guard (2...4).contains(version) else {
            c.problem("ID3", "ID3v2.\(version) is not a known version; skipped")
            return end
        }
        guard size <= MetadataLimits.maxBlock, var tag = try c.source.exact(at: offset + 10, count: size) else {
            c.problem("ID3", "the ID3v2 tag (\(size) bytes) runs past the end of the file or the block limit")
            return end
        }
        let group = "ID3v2_\(version)"
        if version < 4, flags & 0x80 != 0 { tag = resync(tag) }
        var pos = 0
        if flags & 0x40 != 0, version >= 3 {
            // Extended header: its size counts itself in 2.4 (syncsafe), not in 2.3.
            guard tag.count >= 4 else { return end }
            let n = version == 4 ? Int(syncsafe(tag[0..<4])) : Int(tag.u32(at: 0, bigEndian: true)!) + 4
            pos = n
        }
        let idLength = version == 2 ? 3 : 4, headerLength = version == 2 ? 6 : 10
        var values: [String: String] = [:]   // frame id → text, first wins
        var frameCount = 0
        while pos + headerLength <= tag.count, frameCount < 10_000 {
            frameCount += 1
            let idBytes = tag[pos..<(pos + idLength)]
            guard idBytes.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) }) else { break }   // padding
            let id = String(decoding: idBytes, as: UTF8.self)
            var frameSize: Int
            switch version {
            case 2: frameSize = Int(tag[pos + 3]) << 16 | Int(tag[pos + 4]) << 8 | Int(tag[pos + 5])
            case 3: frameSize = Int(tag.u32(at: pos + 4, bigEndian: true)!)
            default:
                frameSize = Int(syncsafe(tag[(pos + 4)..<(pos + 8)]))
                // iTunes wrote 2.4 tags with plain 32-bit frame sizes: when the syncsafe size
                // lands on no frame and the plain one does, take the plain one (as ExifTool does).
                let plain = Int(tag.u32(at: pos + 4, bigEndian: true)!)
                if plain != frameSize, !frameStarts(tag, at: pos + headerLength + frameSize),
                   frameStarts(tag, at: pos + headerLength + plain) {
                    frameSize = plain
                }
            }
            let frameFlags = version == 2 ? UInt16(0) : tag.u16(at: pos + 8, bigEndian: true)!
            let dataStart = pos + headerLength
            guard frameSize >= 0, dataStart + frameSize <= tag.count else {
                c.problem("ID3", "frame \(id) claims \(frameSize) bytes, past the end of the tag")
                break
            }
            pos = dataStart + frameSize
            guard frames[id] != nil || id == "TDAT" || id == "TIME" || id == "TDA" || id == "TIM" else { continue }
            var data = Array(tag[dataStart..<(dataStart + frameSize)])
            if version == 4 {
                if frameFlags & 0x0C != 0 { c.problem("ID3", "frame \(id) is compressed or encrypted; not read"); continue }
                if frameFlags & 0x01 != 0 { data = Array(data.dropFirst(4)) }   // data length indicator
                if frameFlags & 0x02 != 0 || flags & 0x80 != 0 { data = resync(data) }
            } else if version == 3, frameFlags & 0x00C0 != 0 {
                c.problem("ID3", "frame \(id) is compressed or encrypted; not read")
                continue
            }
            if values[id] == nil, let text = textFrame(data) { values[id] = text }
        }
        for (id, (field, name)) in frames.sorted(by: { $0.key < $1.key }) {
            guard var text = values[id] else { continue }
            if field == .dateCreated, version < 4 {
                // TYER "2021" + TDAT "DDMM" + TIME "HHMM".
                let date = values["TDAT"] ?? values["TDA"], time = values["TIME"] ?? values["TIM"]
                if let date, date.count == 4, date.allSatisfy(\.isASCIIDigit) {
                    text += "-" + date.suffix(2) + "-" + date.prefix(2)
                    if let time, time.count == 4, time.allSatisfy(\.isASCIIDigit) { text += "T" + time.prefix(2) + ":" + time.suffix(2) }
                }
            }
            // 2.4 separates several values with NUL: the first is the value.
            let first = text.split(separator: "\0", omittingEmptySubsequences: true).first.map(String.init) ?? text
            AudioReaders.add(c, field, first, tag: "\(group):\(name)")
        }
        return end
    }

    /// Whether a 2.4 frame (or the tag's end, or its padding) starts at `at`.
    static func frameStarts(_ tag: [UInt8], at: Int) -> Bool {
        if at == tag.count { return true }
        guard at >= 0, at < tag.count else { return false }
        if tag[at] == 0 { return true }   // padding
        guard at + 10 <= tag.count,
              tag[at..<(at + 4)].allSatisfy({ ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) }) else { return false }
        // A frame header's size, read either way, must fit in the tag.
        let size = min(Int(syncsafe(tag[(at + 4)..<(at + 8)])), Int(tag.u32(at: at + 4, bigEndian: true)!))
        return at + 10 + size <= tag.count
    }

    /// A text frame: encoding byte (0 Latin-1, 1 UTF-16 with BOM, 2 UTF-16BE, 3 UTF-8), text.
    static func textFrame(_ d: [UInt8]) -> String? {
        guard let encoding = d.first else { return nil }
        let body = d[1...]
        let text: String
        switch encoding {
        case 0: text = TextDecoding.latin1(body)
        case 1: text = TextDecoding.utf16(body, bigEndian: false)
        case 2: text = TextDecoding.utf16(body, bigEndian: true)
        case 3: text = TextDecoding.utf8OrLatin1(body)
        default: return nil
        }
        let trimmed = text.trimmingTrailingNULs
        return trimmed.isEmpty ? nil : trimmed
    }

    /// ID3v1: "TAG", title 30, artist 30, album 30, year 4, comment 30, genre 1 (Latin-1).
    static func readVersion1(_ c: MetadataCollector) throws {
        guard c.source.size >= 128, let t = try c.source.exact(at: c.source.size - 128, count: 128), t.hasBytes(asciiBytes("TAG")) else { return }
        func field(_ r: Range<Int>) -> String { TextDecoding.latin1(TextDecoding.cutAtNUL(t[r])).metadataTrimmed }
        AudioReaders.add(c, .title, field(3..<33), tag: "ID3v1:Title")
        AudioReaders.add(c, .creator, field(33..<63), tag: "ID3v1:Artist")
        let year = field(93..<97)
        if year.count == 4, year.allSatisfy(\.isASCIIDigit), year != "0000" { AudioReaders.add(c, .dateCreated, year, tag: "ID3v1:Year") }
    }
}

extension String {
    var trimmingTrailingNULs: String {
        var s = self
        while s.hasSuffix("\0") { s.removeLast() }
        return s
    }
}

/// An MPEG audio frame header, for MP3 files without an ID3 tag.
struct MPEGFrame {
    var length: Int

    init?(_ h: [UInt8], at i: Int = 0) {
        guard i + 4 <= h.count, h[i] == 0xFF, h[i + 1] & 0xE0 == 0xE0 else { return nil }
        let version = (h[i + 1] >> 3) & 3, layer = (h[i + 1] >> 1) & 3
        let bitrateIndex = Int(h[i + 2] >> 4), rateIndex = Int((h[i + 2] >> 2) & 3), padding = Int((h[i + 2] >> 1) & 1)
        guard version != 1, layer != 0, bitrateIndex != 0, bitrateIndex != 15, rateIndex != 3 else { return nil }
        let mpeg1 = version == 3
        let rates = [44100, 48000, 32000][rateIndex] >> (mpeg1 ? 0 : version == 2 ? 1 : 2)
        let table: [Int]
        switch (mpeg1, layer) {
        case (true, 3): table = [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448]
        case (true, 2): table = [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384]
        case (true, _): table = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
        case (false, 3): table = [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256]
        default: table = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
        }
        let bitrate = table[bitrateIndex] * 1000
        if layer == 3 { length = (12 * bitrate / rates + padding) * 4 }
        else { length = (mpeg1 || layer == 1 ? 144 : 72) * bitrate / rates + padding }
        guard length > 4 else { return nil }
    }

    /// Three frames in a row at the start of the file: an MP3 without a tag, not chance bytes.
    static func confirmed(_ source: any ByteSource) -> Bool {
        guard let head = try? source.read(at: 0, count: 8192) else { return false }
        var i = 0
        for _ in 0..<3 {
            guard let f = MPEGFrame(head, at: i) else { return false }
            i += f.length
            if i + 4 > head.count { return i <= head.count }
        }
        return true
    }
}

// MARK: - Vorbis comments

enum VorbisComment {
    static let keys: [String: (UnifiedField, String)] = [
        "TITLE": (.title, "Vorbis:Title"), "ARTIST": (.creator, "Vorbis:Artist"),
        "COPYRIGHT": (.rights, "Vorbis:Copyright"), "DATE": (.dateCreated, "Vorbis:Date"),
        "DESCRIPTION": (.description, "Vorbis:Description"),
    ]

    /// vendor (length-prefixed), count, then "KEY=value" strings, all lengths little-endian.
    static func read(_ d: [UInt8], into c: MetadataCollector) {
        var r = ByteReader(d, bigEndian: false)
        guard let vendorLength = r.u32(), r.skip(Int(vendorLength)), let count = r.u32() else {
            c.problem("Vorbis", "the comment header is truncated")
            return
        }
        var values: [(key: String, text: String)] = []
        defer {
            // The first value of each key; every value of ARTIST (one comment per artist).
            var seen: Set<String> = []
            for (key, text) in values where seen.insert(key).inserted {
                guard let (field, tag) = keys[key] else { continue }
                if field == .creator {
                    let all = values.filter { $0.key == key }.map(\.text.metadataTrimmed).filter { !$0.isEmpty }
                    if !all.isEmpty {
                        c.values.append(SourcedValue(field: .creator, value: .list(all), origin: .audio, tag: tag,
                                                     raw: all.joined(separator: "; ")))
                    }
                } else {
                    AudioReaders.add(c, field, text, tag: tag)
                }
            }
        }
        for _ in 0..<min(Int(count), 10_000) {
            guard let n = r.u32(), let bytes = r.bytes(Int(n)) else {
                c.problem("Vorbis", "a comment runs past the end of its block")
                return
            }
            guard let eq = bytes.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let key = String(decoding: bytes[bytes.startIndex..<eq], as: UTF8.self).uppercased()
            guard keys[key] != nil else { continue }
            values.append((key, TextDecoding.utf8OrLatin1(bytes[(eq + 1)...])))
        }
    }
}

enum FLAC {
    /// Metadata blocks after "fLaC": [last flag + type][24-bit length]; type 4 is the Vorbis comment.
    static func read(_ c: MetadataCollector, at start: Int64) throws {
        var pos = start + 4
        for _ in 0..<1000 {
            guard let h = try c.source.exact(at: pos, count: 4) else {
                c.problem("FLAC", "the metadata blocks end early, at offset \(pos)")
                return
            }
            let length = Int(h[1]) << 16 | Int(h[2]) << 8 | Int(h[3])
            if h[0] & 0x7F == 4 {
                guard let d = try c.source.exact(at: pos + 4, count: length) else {
                    c.problem("FLAC", "the Vorbis comment block runs past the end of the file")
                    return
                }
                VorbisComment.read(d, into: c)
                return
            }
            if h[0] & 0x80 != 0 { return }
            pos += 4 + Int64(length)
        }
    }
}

enum Ogg {
    /// Reassembles the first logical stream's packets from its pages until the comment header
    /// (the second packet): Vorbis "\u{3}vorbis", Opus "OpusTags", Theora "\u{81}theora".
    static func read(_ c: MetadataCollector) throws {
        var pos: Int64 = 0
        var serial: UInt32?
        var packet: [UInt8] = []
        var packets = 0
        for _ in 0..<10_000 {
            guard let h = try c.source.exact(at: pos, count: 27), h.hasBytes(asciiBytes("OggS")) else {
                if packets < 2 { c.problem("Ogg", "no Ogg page at offset \(pos) before the comment header") }
                return
            }
            let segments = Int(h[26])
            guard let table = try c.source.exact(at: pos + 27, count: segments) else { return }
            let pageSerial = h.u32(at: 14, bigEndian: false)!
            var dataPos = pos + 27 + Int64(segments)
            let pageLength = table.reduce(0) { $0 + Int($1) }
            defer { pos = dataPos }
            if serial == nil { serial = pageSerial }
            guard pageSerial == serial else { dataPos += Int64(pageLength); continue }
            guard let data = try c.source.exact(at: dataPos, count: pageLength) else {
                c.problem("Ogg", "the page at offset \(pos) is truncated")
                return
            }
            dataPos += Int64(pageLength)
            var i = 0
            for lacing in table {
                packet += data[i..<(i + Int(lacing))]
                i += Int(lacing)
                guard packet.count <= MetadataLimits.maxBlock else {
                    c.problem("Ogg", "a header packet is larger than the \(MetadataLimits.maxBlock)-byte limit")
                    return
                }
                if lacing < 255 {
                    packets += 1
                    if packets == 2 { comment(packet, c); return }
                    packet = []
                }
            }
        }
    }

    static func comment(_ p: [UInt8], _ c: MetadataCollector) {
        if p.hasBytes([3] + asciiBytes("vorbis")) { VorbisComment.read(Array(p[7...]), into: c) }
        else if p.hasBytes(asciiBytes("OpusTags")) { VorbisComment.read(Array(p[8...]), into: c) }
        else if p.hasBytes([0x81] + asciiBytes("theora")) { VorbisComment.read(Array(p[7...]), into: c) }
    }
}

// MARK: - RIFF

enum RIFF {
    static let info: [String: (UnifiedField, String)] = [
        "INAM": (.title, "RIFF:Title"), "IART": (.creator, "RIFF:Artist"), "ICOP": (.rights, "RIFF:Copyright"),
        "ICRD": (.dateCreated, "RIFF:DateCreated"), "ISBJ": (.description, "RIFF:Subject"), "IKEY": (.keywords, "RIFF:Keywords"),
    ]

    static func read(_ c: MetadataCollector) throws {
        guard let h = try c.source.exact(at: 0, count: 12) else { return }
        let declared = Int64(h.u32(at: 4, bigEndian: false)!) + 8
        let end = h.hasBytes(asciiBytes("RF64")) || declared < 12 ? c.source.size : min(c.source.size, declared)
        try chunks(c, from: 12, to: end, depth: 0)
    }

    private static func chunks(_ c: MetadataCollector, from start: Int64, to end: Int64, depth: Int) throws {
        var pos = start
        var count = 0
        while pos + 8 <= end, count < MetadataLimits.maxSegments {
            count += 1
            guard let h = try c.source.exact(at: pos, count: 8) else { return }
            let id = String(decoding: h[0..<4], as: UTF8.self)
            let size = Int64(h.u32(at: 4, bigEndian: false)!)
            let dataStart = pos + 8
            guard size != 0xFFFF_FFFF, let dataEnd = dataStart.checkedAdd(size), dataEnd <= end else {
                if size != 0xFFFF_FFFF && id != "data" && id != "movi" {
                    c.problem("RIFF", "chunk '\(PathDisplay.escape(Array(h[0..<4])))' at offset \(pos) claims \(size) bytes, past the end of the file")
                }
                return
            }
            switch id {
            case "LIST":
                if depth < 4, let type = try c.source.exact(at: dataStart, count: 4) {
                    if type == asciiBytes("INFO") { try infoList(c, from: dataStart + 4, to: dataEnd) }
                    else if type == asciiBytes("hdrl") { try chunks(c, from: dataStart + 4, to: dataEnd, depth: depth + 1) }
                }
            case "avih":
                if let d = try c.source.exact(at: dataStart, count: 40) {
                    c.setDimensions(Int(d.u32(at: 32, bigEndian: false)!), Int(d.u32(at: 36, bigEndian: false)!), tag: "RIFF")
                }
            case "bext":
                // Broadcast Wave: Description 256, Originator 32, OriginatorReference 32,
                // OriginationDate 10 ("yyyy-mm-dd"), OriginationTime 8 ("hh:mm:ss").
                if let d = try c.source.exact(at: dataStart, count: 338) {
                    AudioReaders.add(c, .description, TextDecoding.latin1(TextDecoding.cutAtNUL(d[0..<256])), tag: "RIFF:Description")
                    let date = TextDecoding.latin1(TextDecoding.cutAtNUL(d[320..<330])).metadataTrimmed
                    let time = TextDecoding.latin1(TextDecoding.cutAtNUL(d[330..<338])).metadataTrimmed
                    if !date.isEmpty {
                        let joined = time.isEmpty ? date : date + " " + time.replacingOccurrences(of: "-", with: ":")
                        AudioReaders.add(c, .dateCreated, joined, tag: "RIFF:DateTimeOriginal")
                    }
                }
            case "id3 ", "ID3 ":
                try ID3.read(c, at: dataStart)
            case "_PMX":
                if !c.foundXMP, size <= Int64(MetadataLimits.maxBlock), let d = try c.source.exact(at: dataStart, count: Int(size)) {
                    c.addXMP(d, block: "XMP")
                }
            default:
                break
            }
            pos = dataEnd + (size & 1)
        }
    }

    private static func infoList(_ c: MetadataCollector, from start: Int64, to end: Int64) throws {
        var pos = start
        var count = 0
        while pos + 8 <= end, count < 10_000 {
            count += 1
            guard let h = try c.source.exact(at: pos, count: 8) else { return }
            let id = String(decoding: h[0..<4], as: UTF8.self)
            let size = Int(h.u32(at: 4, bigEndian: false)!)
            guard let dataEnd = (pos + 8).checkedAdd(size), dataEnd <= end else {
                c.problem("RIFF", "INFO item \(PathDisplay.escape(Array(h[0..<4]))) runs past its list")
                return
            }
            if let (field, tag) = info[id], size <= 1 << 20, let d = try c.source.exact(at: pos + 8, count: size) {
                AudioReaders.add(c, field, TextDecoding.utf8OrLatin1(TextDecoding.cutAtNUL(d)), tag: tag)
            }
            pos = dataEnd + Int64(size & 1)
        }
    }
}
