/// PNG: walks the chunks up to IEND, reading IHDR and the textual chunks (tEXt Latin-1,
/// zTXt compressed Latin-1, iTXt UTF-8 optionally compressed, the iTXt XMP packet) and eXIf.
/// Image data (IDAT) is never read.
enum PNGReader {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    private static let textChunks: Set<String> = ["tEXt", "zTXt", "iTXt"]

    /// PNG keywords → unified fields (keywords are case-sensitive in PNG).
    static let keywordFields: [String: (UnifiedField, String)] = [
        "Title": (.title, "Title"),
        "Author": (.creator, "Author"),
        "Description": (.description, "Description"),
        "Copyright": (.rights, "Copyright"),
        "Creation Time": (.dateCreated, "CreationTime"),
    ]

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
            guard let h = try src.exact(at: pos, count: 8) else {
                c.problem("PNG", "chunk header at offset \(pos) is truncated")
                break
            }
            let length = Int(h.u32(at: 0, bigEndian: true)!)
            let type = String(decoding: h[4..<8], as: UTF8.self)
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

    private static func text(_ c: MetadataCollector, type: String, data: [UInt8]) {
        var r = ByteReader(data)
        guard let keywordBytes = r.cString(limit: 80) else {
            c.problem("PNG", "\(type) chunk without a keyword terminator")
            return
        }
        let keyword = TextDecoding.latin1(keywordBytes)
        var value: String
        switch type {
        case "tEXt":
            value = TextDecoding.latin1(r.rest())
        case "zTXt":
            guard let method = r.u8(), method == 0 else {
                c.problem("PNG", "zTXt '\(keyword)' uses an unknown compression method")
                return
            }
            guard let inflated = inflate(c, r.rest(), what: "zTXt '\(keyword)'") else { return }
            value = TextDecoding.latin1(inflated)
        default: // iTXt
            guard let compressed = r.u8(), let method = r.u8(), r.cString() != nil, r.cString() != nil else {
                c.problem("PNG", "iTXt '\(keyword)' has a truncated header")
                return
            }
            var bytes = Array(r.rest())
            if compressed == 1 {
                guard method == 0 else {
                    c.problem("PNG", "iTXt '\(keyword)' uses an unknown compression method")
                    return
                }
                guard let inflated = inflate(c, bytes[...], what: "iTXt '\(keyword)'") else { return }
                bytes = inflated
            }
            if keyword == "XML:com.adobe.xmp" {
                c.addXMP(bytes, block: "XMP")
                return
            }
            value = TextDecoding.utf8OrLatin1(bytes)
        }
        guard let (field, name) = keywordFields[keyword] else { return }
        let tag = "PNG:" + name
        let t = value.metadataTrimmed
        guard !t.isEmpty else { return }
        let v: FieldValue
        switch field {
        case .creator: v = .list([t])
        case .dateCreated: v = DateNormalizer.iso(t).map(FieldValue.date) ?? .text(t)
        default: v = .text(t)
        }
        c.values.append(SourcedValue(field: field, value: v, origin: .png, tag: tag, raw: value))
    }

    private static func inflate(_ c: MetadataCollector, _ bytes: ArraySlice<UInt8>, what: String) -> [UInt8]? {
        switch Inflate.zlib(bytes) {
        case .success(let out): return out
        case .failure(.tooLarge(let limit)):
            c.problem("PNG", "\(what) inflates to more than \(limit) bytes; refused")
        case .failure(.corrupt(let why)):
            c.problem("PNG", "\(what) cannot be decompressed: \(why)")
        }
        return nil
    }
}
