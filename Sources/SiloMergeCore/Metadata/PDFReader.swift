/// PDF: the document-level XMP (the catalogue's /Metadata stream, found through the
/// cross-reference table or stream; else the last uncompressed `<?xpacket` packet near either end
/// of the file) and the document information dictionary (/Title /Author /Subject /Keywords
/// /CreationDate). Reads the tail first, then single objects by offset, or out of the object
/// stream that holds them. Both are read; the in-file reconciliation prefers the XMP, as
/// ExifTool and PDF 1.4+ readers do.
///
/// Encrypted files (the standard security handler, revisions 2 to 6: RC4, AES-128, AES-256)
/// are read when the user password is empty, which is how "no copying / no printing" PDFs
/// are made; otherwise their strings and streams are left out with a note, never shown
/// scrambled.
enum PDFReader {
    static func read(_ c: MetadataCollector) throws {
        let doc = try PDFDocument(c)
        let trailer = doc.trailer
        // XMP: Root → /Metadata.
        var xmpDone = false
        if case .reference(let rootRef)? = trailer["Root"], let root = try doc.object(rootRef)?.dictionary,
           case .reference(let metaRef)? = root["Metadata"] {
            switch try doc.decodedStream(metaRef) {
            case .success(let plain)?:
                c.addXMP(plain, block: "XMP")
                xmpDone = true
            case .failure(let why)?:
                c.problem("PDF", "the /Metadata stream cannot be read: \(why)")
            case nil:
                break
            }
        }
        if !xmpDone, !doc.isEncrypted, let packet = try doc.lastUncompressedPacket() {
            c.addXMP(packet, block: "XMP")
        }
        // Info dictionary (its strings decrypted with the key of the object holding them).
        if case .reference(let infoRef)? = trailer["Info"], let info = try doc.object(infoRef)?.dictionary {
            try infoValues(c, info, doc: doc, owner: infoRef)
        } else if case .dictionary(let info)? = trailer["Info"] {
            try infoValues(c, info, doc: doc, owner: nil)
        }
        c.addProblems(doc.problems)
    }

    private static func infoValues(_ c: MetadataCollector, _ info: [String: PDFValue], doc: PDFDocument, owner: PDFObjectID?) throws {
        func add(_ key: String, _ field: UnifiedField, _ tag: String) throws {
            var bytes: [UInt8]
            var holder = owner
            switch info[key] {
            case .string(let b)?:
                bytes = b
            case .reference(let ref)?:
                // iBooks and others store every entry as an object of its own.
                guard case .string(let b)? = try doc.object(ref) else { return }
                bytes = b
                holder = ref
            default:
                return
            }
            if doc.isEncrypted {
                guard let holder, let plain = doc.decryptString(bytes, in: holder) else { return }
                bytes = plain
            }
            let raw = PDFValue.decodeText(bytes)
            let t = raw.metadataTrimmed
            guard !t.isEmpty else { return }
            // Control characters do not occur in document properties: such a string is binary or
            // still encrypted, and is left out rather than shown scrambled.
            let controls = t.unicodeScalars.filter { $0.value < 0x20 && $0 != "\n" && $0 != "\r" && $0 != "\t" }.count
            if controls > 0 && controls * 20 >= t.unicodeScalars.count {
                c.problem("PDF", "/\(key) holds binary data, not text; left out")
                return
            }
            let value: FieldValue
            switch field {
            case .creator: value = .list([t])
            case .keywords:
                let items = t.split(whereSeparator: { $0 == "," || $0 == ";" }).map { String($0).metadataTrimmed }.filter { !$0.isEmpty }
                guard !items.isEmpty else { return }
                value = .list(items)
            case .dateCreated:
                guard let iso = DateNormalizer.pdf(t) else {
                    c.problem("PDF", "/CreationDate '\(t.prefix(40))' is not a date")
                    return
                }
                value = .date(iso)
            default: value = .text(t)
            }
            c.values.append(SourcedValue(field: field, value: value, origin: .pdf, tag: "PDF:" + tag, raw: raw))
        }
        try add("Title", .title, "Title")
        try add("Author", .creator, "Author")
        try add("Subject", .description, "Subject")
        try add("Keywords", .keywords, "Keywords")
        try add("CreationDate", .dateCreated, "CreateDate")
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
