/// PNG: walks the chunks up to IEND, reading IHDR and the textual chunks (tEXt Latin-1,
/// zTXt compressed Latin-1, iTXt UTF-8 optionally compressed, the iTXt XMP packet), eXIf, and
/// the hex-encoded "Raw profile type exif|APP1|iptc|xmp|8bim" text chunks ImageMagick writes.
/// Image data (IDAT) is never read.
enum PNGReader {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    private static let textChunks: Set<String> = ["tEXt", "zTXt", "iTXt"]

    /// PNG text keywords → unified fields, matched without regard to case or spaces (ExifTool
    /// also takes "author" for "Author", and keeps "CreationTime" as well as the registered
    /// "Creation Time"). The value is the tag's name, as ExifTool names it. "Comment" is not a
    /// description: GIMP writes "Created with GIMP" there.
    static let keywordFields: [String: (UnifiedField, String)] = [
        "title": (.title, "Title"),
        "author": (.creator, "Author"),
        "artist": (.creator, "Artist"),
        "description": (.description, "Description"),
        "copyright": (.rights, "Copyright"),
        "creationtime": (.dateCreated, "CreationTime"),
        "make": (.make, "Make"),
        "model": (.model, "Model"),
    ]

    /// The lookup key of a keyword: lower case, spaces dropped.
    static func keywordKey(_ keyword: String) -> String {
        String(keyword.lowercased().unicodeScalars.filter { $0 != " " })
    }

    static func read(_ c: MetadataCollector) throws {
        let src = c.source
        var pos: Int64 = 8
        var chunks = 0
        var sawIEND = false
        while pos < src.size {
            chunks += 1
            guard chunks <= MetadataLimits.maxSegments else {
                c.problem("PNG", "more than \(MetadataLimits.maxSegments) chunks; stopped")
                break
            }
            // The header read in place (a big PNG is hundreds of IDAT chunks; a four-byte String
            // is stored inline, with no allocation).
            guard let (length, code) = try src.withExact(at: pos, count: 8, { h in
                h.map { (Int(UInt32(bigEndianBytes: $0, at: 0)), UInt32(bigEndianBytes: $0, at: 4)) }
            }) else {
                c.problem("PNG", "chunk header at offset \(pos) is truncated")
                break
            }
            let type = withUnsafeBytes(of: code.bigEndian) { String(decoding: $0, as: UTF8.self) }
            guard length <= Int(Int32.max) else {
                c.problem("PNG", "chunk '\(printable(type))' at offset \(pos) has an invalid length \(length)")
                break
            }
            guard let end = (pos + 8).checkedAdd(length + 4), end <= src.size else {
                c.problem("PNG", "chunk '\(printable(type))' at offset \(pos) claims \(length) bytes, past the end of the file")
                break
            }
            let dataStart = pos + 8
            if chunks == 1 && type != "IHDR" { c.problem("PNG", "the first chunk is '\(printable(type))', not IHDR") }
            switch type {
            case "IHDR":
                if let d = try src.exact(at: dataStart, count: min(length, 8)), d.count == 8 {
                    c.setDimensions(Int(d.u32(at: 0, bigEndian: true)!), Int(d.u32(at: 4, bigEndian: true)!), tag: "PNG")
                }
            case "IEND":
                sawIEND = true
            case "eXIf":
                if let d = try readChunk(c, dataStart, length, type) {
                    c.addEXIF(d.hasBytes(JPEGReader.exifHeader) ? Array(d[6...]) : d)
                }
            case _ where textChunks.contains(type):
                // The keyword first: a chunk no field reads (a thumbnail's URI, an ICC profile
                // in hex, Software) is neither read whole nor decompressed.
                guard let head = try src.exact(at: dataStart, count: min(length, keywordLimit)),
                      readsText(keywordHead: head, type: type) else { break }
                if let d = try readChunk(c, dataStart, length, type) { text(c, type: type, data: d) }
            default:
                break
            }
            if sawIEND { break }
            pos = end
        }
        if !sawIEND, c.problems.allSatisfy({ $0.block != "PNG" }) { c.problem("PNG", "no IEND chunk") }
    }

    private static func readChunk(_ c: MetadataCollector, _ at: Int64, _ length: Int, _ type: String) throws -> [UInt8]? {
        guard length <= MetadataLimits.maxBlock else {
            c.problem("PNG", "\(type) chunk of \(length) bytes is larger than the \(MetadataLimits.maxBlock)-byte limit; skipped")
            return nil
        }
        return try c.source.exact(at: at, count: length)
    }

    private static func printable(_ s: String) -> String { PathDisplay.escape(Array(s.utf8)) }

    /// A keyword's bytes and its NUL lie within a chunk's first 80 bytes (1 to 79 of Latin-1).
    private static let keywordLimit = 80

    /// Whether a text chunk starting with `keywordHead` can give a value, a profile or a packet
    /// `text` reads: a keyword of `keywordFields`, an ImageMagick raw profile of EXIF, IPTC,
    /// Photoshop resources or XMP, or iTXt's XMP packet. Any other (Software, Comment, a
    /// thumbnailer's Thumb::URI, a raw ICC profile) is skipped unread, as nothing SiloMerge
    /// keeps comes from it, so it is not decompressed either; a damaged one is then no note.
    /// A keyword without its terminator is read, for `text` to say so.
    static func readsText(keywordHead: [UInt8], type: String) -> Bool {
        var r = ByteReader(keywordHead)
        guard let keywordBytes = r.cString(limit: keywordLimit) else { return true }
        let keyword = TextDecoding.latin1(keywordBytes)
        let key = keywordKey(keyword)
        if keywordFields[key] != nil { return true }
        if type == "iTXt", keyword == "XML:com.adobe.xmp" { return true }
        guard key.hasPrefix("rawprofiletype") else { return false }
        return rawProfileKinds.contains(String(key.dropFirst("rawprofiletype".count)))
    }

    /// The raw profiles `rawProfile` reads.
    private static let rawProfileKinds: Set<String> = ["exif", "app1", "iptc", "8bim", "xmp"]

    private static func text(_ c: MetadataCollector, type: String, data: [UInt8]) {
        var r = ByteReader(data)
        guard let keywordBytes = r.cString(limit: keywordLimit) else {
            c.problem("PNG", "\(type) chunk without a keyword terminator")
            return
        }
        let keyword = TextDecoding.latin1(keywordBytes)
        let key = keywordKey(keyword)
        if let (field, _) = keywordFields[key], !c.wants(field, block: "PNG") { return }
        var value: String
        var bytes: [UInt8]
        switch type {
        case "tEXt":
            bytes = Array(r.rest())
        case "zTXt":
            guard let method = r.u8(), method == 0 else {
                c.problem("PNG", "zTXt '\(printable(keyword))' uses an unknown compression method")
                return
            }
            guard let inflated = c.inflate(r.rest(), block: "PNG", what: "zTXt '\(printable(keyword))'") else { return }
            bytes = inflated
        default: // iTXt
            guard let compressed = r.u8(), let method = r.u8(), r.cString() != nil, r.cString() != nil else {
                c.problem("PNG", "iTXt '\(printable(keyword))' has a truncated header")
                return
            }
            bytes = Array(r.rest())
            if compressed == 1 {
                guard method == 0 else {
                    c.problem("PNG", "iTXt '\(printable(keyword))' uses an unknown compression method")
                    return
                }
                guard let inflated = c.inflate(bytes[...], block: "PNG", what: "iTXt '\(printable(keyword))'") else { return }
                bytes = inflated
            }
            if keyword == "XML:com.adobe.xmp" {
                c.addXMP(bytes, block: "XMP")
                return
            }
        }
        if key.hasPrefix("rawprofiletype") {
            rawProfile(c, String(key.dropFirst("rawprofiletype".count)), keyword: keyword, text: bytes)
            return
        }
        guard let (field, name) = keywordFields[key] else { return }
        // tEXt and zTXt are Latin-1 by the PNG specification; iTXt is UTF-8.
        value = type == "iTXt" ? TextDecoding.utf8OrWindows1252(bytes) : TextDecoding.latin1(bytes)
        let tag = "PNG:" + name
        let t = value.metadataTrimmed
        guard !t.isEmpty else { return }
        let v: FieldValue
        switch field {
        case .creator: v = .list([t])
        case .dateCreated:
            guard let iso = DateNormalizer.iso(t) else {
                c.problem("PNG", "\(name) '\(TextDecoding.printable(t, limit: 40))' is not a date; ignored")
                return
            }
            v = .date(iso)
        default: v = .text(t)
        }
        c.values.append(SourcedValue(field: field, value: v, origin: .png, tag: tag, raw: value))
    }

    /// ImageMagick's "Raw profile type NAME" chunks: "\nNAME\n   LENGTH\nHEX…" holding an EXIF
    /// block (with or without "Exif\0\0"; an APP1 profile may hold XMP instead), IPTC IIM or a
    /// Photoshop resource block, or an XMP packet; decoded as ExifTool's ProcessProfile does.
    private static func rawProfile(_ c: MetadataCollector, _ kind: String, keyword: String, text: [UInt8]) {
        guard let profile = decodeRawProfile(text) else {
            c.problem("PNG", "'\(printable(keyword))' is not a hex-encoded profile")
            return
        }
        if profile.declaredLength != profile.bytes.count {
            c.problem("PNG", "'\(printable(keyword))' declares \(profile.declaredLength) bytes but holds \(profile.bytes.count)")
        }
        let b = profile.bytes
        switch kind {
        case "exif", "app1":
            if b.hasBytes(JPEGReader.exifHeader) { c.addEXIF(Array(b[6...])) }
            else if b.hasBytes(JPEGReader.xmpHeader) { c.addXMP(b[JPEGReader.xmpHeader.count...], block: "XMP") }
            else if b.hasBytes(asciiBytes("MM")) || b.hasBytes(asciiBytes("II")) { c.addEXIF(b) }
            else if kind == "exif" { c.problem("PNG", "'\(printable(keyword))' holds neither EXIF nor XMP") }
        case "iptc":
            if b.first == 0x1C {
                var problems: [MetadataProblem] = []
                c.values += IPTCReader.values(b, problems: &problems)
                c.addProblems(problems)
            } else {
                c.addPhotoshop(b)
            }
        case "8bim":
            c.addPhotoshop(b)
        case "xmp":
            c.addXMP(b, block: "XMP")
        default:
            break   // `readsText` lets no other kind through (icc, icm: no descriptive metadata)
        }
    }

    private static let invalid: UInt8 = 0xFF
    /// A hex digit's value; 0xFE for the white space between digits; `invalid` for the rest.
    private static let hexValue: [UInt8] = (0...255).map { (c: Int) -> UInt8 in
        switch c {
        case 0x30...0x39: UInt8(c - 0x30)
        case 0x61...0x66: UInt8(c - 0x61 + 10)
        case 0x41...0x46: UInt8(c - 0x41 + 10)
        case 0x20, 0x09, 0x0A, 0x0D: 0xFE
        default: invalid
        }
    }

    /// "\nNAME\n  LENGTH\nHEX DIGITS (with white space)" → the bytes and the declared length.
    static func decodeRawProfile(_ text: [UInt8]) -> (bytes: [UInt8], declaredLength: Int)? {
        var i = 0
        guard text.first == 0x0A else { return nil }
        i = 1
        while i < text.count, text[i] != 0x0A { i += 1 }          // the profile's name
        guard i < text.count else { return nil }
        i += 1
        while i < text.count, text[i] == 0x20 || text[i] == 0x09 || text[i] == 0x0D || text[i] == 0x0A { i += 1 }
        var length = 0
        var digits = 0
        while i < text.count, DateNormalizer.isDigit(text[i]) {
            guard digits < 10 else { return nil }
            length = length * 10 + Int(text[i] - 0x30)
            digits += 1
            i += 1
        }
        guard digits > 0, i < text.count, text[i] == 0x0A else { return nil }
        i += 1
        // The digits through a table, straight from the text into the output (a raw profile
        // is tens of kilobytes of hex on every ImageMagick PNG).
        let available = text.count - i
        var valid = true
        let out = text.withUnsafeBufferPointer { t in
            [UInt8](unsafeUninitializedCapacity: available / 2) { o, n in
                var k = i, high: UInt8 = 0, haveHigh = false, w = 0
                while k < t.count {
                    let v = hexValue[Int(t[k])]
                    k += 1
                    if v < 16 {
                        if haveHigh { o[w] = high << 4 | v; w += 1; haveHigh = false } else { high = v; haveHigh = true }
                    } else if v == invalid {
                        valid = false
                        break
                    }
                }
                n = w
            }
        }
        guard valid else { return nil }
        return (out, length)
    }
}
