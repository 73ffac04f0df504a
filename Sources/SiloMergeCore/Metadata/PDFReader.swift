/// PDF: the document-level XMP (the catalogue's /Metadata stream, found through the
/// cross-reference table; else the last uncompressed `<?xpacket` packet near either end of the
/// file) and the document information dictionary (/Title /Author /Subject /Keywords
/// /CreationDate). Reads the tail first, then single objects by offset.
enum PDFReader {
    static func read(_ c: MetadataCollector) throws {
        let doc = try PDFDocument(c)
        let trailer = doc.trailer
        // XMP: Root → /Metadata.
        var xmpDone = false
        if case .reference(let rootRef)? = trailer["Root"], let root = try doc.object(rootRef)?.dictionary,
           case .reference(let metaRef)? = root["Metadata"] {
            if let (dict, data) = try doc.stream(metaRef) {
                if dict["Filter"] == nil {
                    c.addXMP(data, block: "XMP")
                    xmpDone = true
                } else if dict["Filter"] == .name("FlateDecode") {
                    switch Inflate.zlib(data[...]) {
                    case .success(let plain): c.addXMP(plain, block: "XMP"); xmpDone = true
                    case .failure(let why): c.problem("PDF", "the /Metadata stream cannot be decompressed: \(why)")
                    }
                }
            }
        }
        if !xmpDone, let packet = try doc.lastUncompressedPacket() {
            c.addXMP(packet, block: "XMP")
        }
        // Info dictionary.
        if case .reference(let infoRef)? = trailer["Info"], let info = try doc.object(infoRef)?.dictionary {
            infoValues(c, info)
        } else if case .dictionary(let info)? = trailer["Info"] {
            infoValues(c, info)
        }
        c.addProblems(doc.problems)
    }

    private static func infoValues(_ c: MetadataCollector, _ info: [String: PDFValue]) {
        func add(_ key: String, _ field: UnifiedField, _ tag: String) {
            guard case .string(let bytes)? = info[key] else { return }
            let raw = PDFValue.decodeText(bytes)
            let t = raw.metadataTrimmed
            guard !t.isEmpty else { return }
            let value: FieldValue
            switch field {
            case .creator: value = .list([t])
            case .keywords:
                let items = t.split(whereSeparator: { $0 == "," || $0 == ";" }).map { String($0).metadataTrimmed }.filter { !$0.isEmpty }
                guard !items.isEmpty else { return }
                value = .list(items)
            case .dateCreated: value = DateNormalizer.pdf(t).map(FieldValue.date) ?? .text(t)
            default: value = .text(t)
            }
            c.values.append(SourcedValue(field: field, value: value, origin: .pdf, tag: "PDF:" + tag, raw: raw))
        }
        add("Title", .title, "Title")
        add("Author", .creator, "Author")
        add("Subject", .description, "Subject")
        add("Keywords", .keywords, "Keywords")
        add("CreationDate", .dateCreated, "CreateDate")
    }
}

/// A PDF object value (just enough of the syntax for dictionaries).
indirect enum PDFValue: Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case name(String)
    case string([UInt8])
    case array([PDFValue])
    case dictionary([String: PDFValue])
    case reference(PDFObjectID)

    var dictionary: [String: PDFValue]? { if case .dictionary(let d) = self { return d }; return nil }

    /// Text strings: UTF-16BE with a BOM, UTF-8 with a BOM (PDF 2.0), else PDFDocEncoding.
    static func decodeText(_ b: [UInt8]) -> String {
        if b.hasBytes([0xFE, 0xFF]) { return TextDecoding.utf16(b[...], bigEndian: true) }
        if b.hasBytes([0xEF, 0xBB, 0xBF]) { return TextDecoding.utf8OrLatin1(b.dropFirst(3)) }
        var s = ""
        for byte in b {
            if byte >= 0x80 && byte <= 0xA0, let mapped = pdfDocHigh[byte] { s.unicodeScalars.append(mapped) }
            else { s.unicodeScalars.append(Unicode.Scalar(byte)) }
        }
        return s
    }

    /// PDFDocEncoding differs from Latin-1 in 0x80…0xA0.
    private static let pdfDocHigh: [UInt8: Unicode.Scalar] = [
        0x80: "\u{2022}", 0x81: "\u{2020}", 0x82: "\u{2021}", 0x83: "\u{2026}", 0x84: "\u{2014}", 0x85: "\u{2013}",
        0x86: "\u{0192}", 0x87: "\u{2044}", 0x88: "\u{2039}", 0x89: "\u{203A}", 0x8A: "\u{2212}", 0x8B: "\u{2030}",
        0x8C: "\u{201E}", 0x8D: "\u{201C}", 0x8E: "\u{201D}", 0x8F: "\u{2018}", 0x90: "\u{2019}", 0x91: "\u{201A}",
        0x92: "\u{2122}", 0x93: "\u{FB01}", 0x94: "\u{FB02}", 0x95: "\u{0141}", 0x96: "\u{0152}", 0x97: "\u{0160}",
        0x98: "\u{0178}", 0x99: "\u{017D}", 0x9A: "\u{0131}", 0x9B: "\u{0142}", 0x9C: "\u{0153}", 0x9D: "\u{0161}",
        0x9E: "\u{017E}", 0xA0: "\u{20AC}",
    ]
}

struct PDFObjectID: Hashable { var number: Int; var generation: Int }

/// Locates objects through the classic cross-reference tables (following /Prev), falling back
/// to searching the first and last window of the file for "N G obj" when the file uses
/// cross-reference streams or its table is broken.
final class PDFDocument {
    let source: any ByteSource
    private(set) var problems: [MetadataProblem] = []
    private(set) var trailer: [String: PDFValue] = [:]
    private var offsets: [Int: Int64] = [:]
    private var tail: [UInt8] = []
    private var tailStart: Int64 = 0
    private var head: [UInt8]?

    init(_ c: MetadataCollector) throws {
        source = c.source
        let window = Int64(MetadataLimits.scanWindow)
        tailStart = max(0, source.size - window)
        tail = try source.read(at: tailStart, count: Int(source.size - tailStart))
        try readCrossReferences()
        if trailer.isEmpty { findTrailerByScanning() }
    }

    private func problem(_ reason: String) {
        if problems.count < 16 { problems.append(MetadataProblem(block: "PDF", reason: reason)) }
    }

    private func readCrossReferences() throws {
        guard let sx = tail.lastIndexOfBytes(asciiBytes("startxref")) else {
            problem("no startxref near the end of the file")
            return
        }
        var lexer = PDFLexer(Array(tail[(sx + 9)...]))
        guard case .number(let first)? = lexer.value(), first >= 0, first < Double(source.size) else {
            problem("startxref does not give an offset inside the file")
            return
        }
        var next: Int64? = Int64(first)
        var seen: Set<Int64> = []
        while let offset = next, seen.insert(offset).inserted, seen.count <= 64 {
            next = nil
            let chunk = try source.read(at: offset, count: 256 * 1024)
            guard chunk.hasBytes(asciiBytes("xref")) else {
                if seen.count == 1 { problem("the cross-reference at \(offset) is not a table (a cross-reference stream?); searching instead") }
                return
            }
            var lexer = PDFLexer(Array(chunk[4...]))
            // Subsections: "start count" then count 20-byte entries.
            while true {
                lexer.skipWhitespace()
                if lexer.starts(with: "trailer") { lexer.advance(7); break }
                guard case .number(let s)? = lexer.value(), case .number(let n)? = lexer.value(),
                      s >= 0, n >= 0, n < 10_000_000, s < 10_000_000 else {
                    problem("malformed cross-reference table at \(offset)")
                    return
                }
                lexer.skipWhitespace()
                for i in 0..<Int(n) {
                    // A table longer than the window read: keep what we have; objects not
                    // listed are found by searching, the trailer by `findTrailerByScanning`.
                    guard let entry = lexer.take(20) else { return }
                    let text = String(decoding: entry, as: UTF8.self)
                    let parts = text.split(separator: " ")
                    guard parts.count >= 3, let off = Int64(parts[0]) else { continue }
                    let number = Int(s) + i
                    if parts[2].hasPrefix("n"), offsets[number] == nil { offsets[number] = off }
                    else if parts[2].hasPrefix("f"), offsets[number] == nil { offsets[number] = -1 }
                }
            }
            guard case .dictionary(let dict)? = lexer.value() else {
                problem("no trailer dictionary after the cross-reference table at \(offset)")
                return
            }
            for (k, v) in dict where trailer[k] == nil { trailer[k] = v }
            if case .number(let prev)? = dict["Prev"], prev >= 0, prev < Double(source.size) { next = Int64(prev) }
        }
    }

    /// For files with cross-reference streams: the last "trailer" dictionary, or the last
    /// /Root and /Info references anywhere in the tail (an XRef stream dictionary holds them).
    private func findTrailerByScanning() {
        if let t = tail.lastIndexOfBytes(asciiBytes("trailer")) {
            var lexer = PDFLexer(Array(tail[(t + 7)...]))
            if case .dictionary(let d)? = lexer.value() { trailer = d; return }
        }
        for key in ["Root", "Info"] {
            if let k = tail.lastIndexOfBytes(asciiBytes("/") + Array(key.utf8)) {
                var lexer = PDFLexer(Array(tail[(k + 1 + key.count)...]))
                if let v = lexer.value(), case .reference = v { trailer[key] = v }
            }
        }
    }

    /// The object's value (the dictionary of a stream).
    func object(_ id: PDFObjectID) throws -> PDFValue? {
        guard let (_, bytes, start) = try objectBytes(id) else { return nil }
        var lexer = PDFLexer(bytes, from: start)
        return lexer.value()
    }

    /// The dictionary and raw (still encoded) data of a stream object.
    func stream(_ id: PDFObjectID) throws -> ([String: PDFValue], [UInt8])? {
        guard let (offset, bytes, start) = try objectBytes(id) else { return nil }
        var lexer = PDFLexer(bytes, from: start)
        guard case .dictionary(let dict)? = lexer.value() else { return nil }
        lexer.skipWhitespace()
        guard lexer.starts(with: "stream") else { return nil }
        lexer.advance(6)
        if lexer.peek == 0x0D { lexer.advance(1) }
        if lexer.peek == 0x0A { lexer.advance(1) }
        let dataStart = offset + Int64(lexer.position)
        var length: Int?
        if case .number(let l)? = dict["Length"], l >= 0, l <= Double(MetadataLimits.maxBlock) { length = Int(l) }
        if case .reference(let ref)? = dict["Length"], case .number(let l)? = try object(ref), l >= 0,
           l <= Double(MetadataLimits.maxBlock) { length = Int(l) }
        if let length, let data = try source.exact(at: dataStart, count: length) {
            return (dict, data)
        }
        // Without a usable /Length: up to "endstream", within the block limit.
        let window = try source.read(at: dataStart, count: MetadataLimits.maxBlock)
        guard let e = window.indexOfBytes(asciiBytes("endstream")) else {
            problem("stream \(id.number) \(id.generation) has no endstream within the limit")
            return nil
        }
        return (dict, Array(window[..<e]))
    }

    /// Where an object starts, the bytes from there (64 KiB), and where its value starts in them.
    private func objectBytes(_ id: PDFObjectID) throws -> (Int64, [UInt8], Int)? {
        let header = Array("\(id.number) \(id.generation) obj".utf8)
        let window = 64 * 1024
        if let off = offsets[id.number], off >= 0, off < source.size {
            let bytes = try source.read(at: off, count: window)
            if bytes.hasBytes(header) { return (off, bytes, header.count) }
            problem("object \(id.number) is not at the offset the cross-reference table gives")
        }
        // Search the windows: the last definition wins (incremental updates append).
        if let i = lastDefinition(header, in: tail) {
            let off = tailStart + Int64(i)
            return (off, try source.read(at: off, count: window), header.count)
        }
        if head == nil, tailStart > 0 {
            head = try source.read(at: 0, count: MetadataLimits.scanWindow)
        }
        if let head, let i = lastDefinition(header, in: head) {
            return (Int64(i), try source.read(at: Int64(i), count: window), header.count)
        }
        return nil
    }

    /// The last "N G obj" preceded by a delimiter (so "11 0 obj" does not match "1 0 obj").
    private func lastDefinition(_ header: [UInt8], in bytes: [UInt8]) -> Int? {
        var before = bytes.count
        while let i = bytes.lastIndexOfBytes(header, before: before) {
            if i == 0 || PDFLexer.isWhitespace(bytes[i - 1]) || PDFLexer.isDelimiter(bytes[i - 1]) { return i }
            before = i + header.count - 1
        }
        return nil
    }

    /// The fallback: the last `<?xpacket` packet in the tail (else the head) that is not inside
    /// a stream whose dictionary names a /Filter.
    func lastUncompressedPacket() throws -> [UInt8]? {
        if let p = lastPacket(in: tail) { return p }
        if head == nil, tailStart > 0 { head = try source.read(at: 0, count: MetadataLimits.scanWindow) }
        if let head, tailStart > 0 { return lastPacket(in: head) }
        return nil
    }

    private func lastPacket(in bytes: [UInt8]) -> [UInt8]? {
        // The last 64 packets at most: each check scans backwards, and a hostile file could
        // otherwise make that quadratic.
        for range in XPacketScanner.packets(in: bytes).suffix(64).reversed() {
            // The dictionary of the enclosing stream: between the last "obj" and "stream" before it.
            if let s = bytes.lastIndexOfBytes(asciiBytes("stream"), before: range.lowerBound),
               let o = bytes.lastIndexOfBytes(asciiBytes("obj"), before: s),
               bytes[o..<s].indexOfBytes(asciiBytes("/Filter")) != nil {
                continue
            }
            return Array(bytes[range])
        }
        return nil
    }
}

/// A tokenizer for the PDF object syntax, bounded in depth and size.
struct PDFLexer {
    let bytes: [UInt8]
    private(set) var position: Int
    private var depth = 0

    init(_ bytes: [UInt8], from start: Int = 0) { self.bytes = bytes; position = start }

    static func isWhitespace(_ b: UInt8) -> Bool { b == 0 || b == 9 || b == 10 || b == 12 || b == 13 || b == 32 }
    static func isDelimiter(_ b: UInt8) -> Bool { "()<>[]{}/%".utf8.contains(b) }

    var peek: UInt8? { position < bytes.count ? bytes[position] : nil }
    mutating func advance(_ n: Int) { position = min(bytes.count, position + n) }

    func starts(with s: String) -> Bool { bytes.hasBytes(Array(s.utf8), at: position) }

    mutating func take(_ n: Int) -> ArraySlice<UInt8>? {
        guard position + n <= bytes.count else { return nil }
        defer { position += n }
        return bytes[position..<(position + n)]
    }

    mutating func skipWhitespace() {
        while let b = peek {
            if Self.isWhitespace(b) { position += 1 }
            else if b == UInt8(ascii: "%") { while let c = peek, c != 10, c != 13 { position += 1 } }
            else { break }
        }
    }

    /// The next value, or nil at the end or on a syntax error.
    mutating func value() -> PDFValue? {
        skipWhitespace()
        guard let b = peek else { return nil }
        switch b {
        case UInt8(ascii: "/"):
            position += 1
            return .name(regularRun())
        case UInt8(ascii: "("):
            return literalString()
        case UInt8(ascii: "<"):
            if bytes.u8(at: position + 1) == UInt8(ascii: "<") { return dictionaryValue() }
            return hexString()
        case UInt8(ascii: "["):
            guard depth < 32 else { return nil }
            depth += 1; defer { depth -= 1 }
            position += 1
            var items: [PDFValue] = []
            while true {
                skipWhitespace()
                guard let c = peek else { return nil }
                if c == UInt8(ascii: "]") { position += 1; return .array(items) }
                guard let v = value(), items.count < 100_000 else { return nil }
                items.append(v)
            }
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."):
            let word = regularRun()
            guard let n = Double(word) else { return nil }
            // "N G R" is a reference.
            let save = position
            if n >= 0, n == n.rounded(), n < 1e9 {
                skipWhitespace()
                let second = regularRun()
                if let g = Int(second), g >= 0, g < 65536 {
                    skipWhitespace()
                    if peek == UInt8(ascii: "R") {
                        position += 1
                        return .reference(PDFObjectID(number: Int(n), generation: g))
                    }
                }
            }
            position = save
            return .number(n)
        default:
            let word = regularRun()
            switch word {
            case "true": return .bool(true)
            case "false": return .bool(false)
            case "null": return .null
            default: return nil
            }
        }
    }

    private mutating func regularRun() -> String {
        let start = position
        while let c = peek, !Self.isWhitespace(c), !Self.isDelimiter(c) { position += 1 }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    private mutating func dictionaryValue() -> PDFValue? {
        guard depth < 32 else { return nil }
        depth += 1; defer { depth -= 1 }
        position += 2
        var dict: [String: PDFValue] = [:]
        while true {
            skipWhitespace()
            guard let c = peek else { return nil }
            if c == UInt8(ascii: ">") {
                guard bytes.u8(at: position + 1) == UInt8(ascii: ">") else { return nil }
                position += 2
                return .dictionary(dict)
            }
            guard case .name(let key)? = value(), let v = value(), dict.count < 10_000 else { return nil }
            dict[key] = v
        }
    }

    private mutating func literalString() -> PDFValue? {
        position += 1
        var out: [UInt8] = []
        var nesting = 1
        while let c = peek {
            position += 1
            switch c {
            case UInt8(ascii: "\\"):
                guard let e = peek else { return nil }
                position += 1
                switch e {
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "b"): out.append(8)
                case UInt8(ascii: "f"): out.append(12)
                case 13: if peek == 10 { position += 1 }   // line continuation
                case 10: break
                case UInt8(ascii: "0")...UInt8(ascii: "7"):
                    var v = Int(e - 48)
                    for _ in 0..<2 {
                        guard let d = peek, d >= 48, d <= 55 else { break }
                        v = v * 8 + Int(d - 48)
                        position += 1
                    }
                    out.append(UInt8(truncatingIfNeeded: v))
                default: out.append(e)
                }
            case UInt8(ascii: "("):
                nesting += 1
                out.append(c)
            case UInt8(ascii: ")"):
                nesting -= 1
                if nesting == 0 { return .string(out) }
                out.append(c)
            default:
                out.append(c)
            }
        }
        return nil
    }

    private mutating func hexString() -> PDFValue? {
        position += 1
        var digits: [UInt8] = []
        while let c = peek {
            position += 1
            if c == UInt8(ascii: ">") {
                if digits.count % 2 == 1 { digits.append(0) }
                var out: [UInt8] = []
                var i = 0
                while i + 1 < digits.count { out.append(digits[i] << 4 | digits[i + 1]); i += 2 }
                return .string(out)
            }
            if Self.isWhitespace(c) { continue }
            switch c {
            case 48...57: digits.append(c - 48)
            case 65...70: digits.append(c - 55)
            case 97...102: digits.append(c - 87)
            default: return nil
            }
        }
        return nil
    }
}
