import Foundation

/// Zip archives, for the documents that are zips: Office Open XML (docx, xlsx, pptx) and
/// OpenDocument (odt, ods, odp). Read from the central directory at the end of the file, never
/// extracted: only the one member that holds the document properties is read and inflated,
/// capped at `MetadataLimits.maxBlock`.
///
/// - OOXML `docProps/core.xml`: dc:title, dc:subject and dc:description (description),
///   dc:creator, cp:keywords (split at commas and semicolons), dcterms:created.
/// - ODF `meta.xml`: dc:title, dc:subject and dc:description, meta:initial-creator (else
///   dc:creator), meta:keyword, meta:creation-date.
///
/// The format is refined from the members: word/document.xml, xl/workbook.xml,
/// ppt/presentation.xml, or the ODF `mimetype` member; any other zip stays `zip`.
enum ZipReader {
    static let localHeader: [UInt8] = [0x50, 0x4B, 0x03, 0x04]
    static let centralHeader: [UInt8] = [0x50, 0x4B, 0x01, 0x02]
    static let endRecord: [UInt8] = [0x50, 0x4B, 0x05, 0x06]
    static let zip64Locator: [UInt8] = [0x50, 0x4B, 0x06, 0x07]
    static let zip64End: [UInt8] = [0x50, 0x4B, 0x06, 0x06]
    /// Members listed at most (a directory larger than the block limit is read in part).
    static let maxEntries = 200_000

    static func sniff(_ h: [UInt8]) -> MediaFormat? {
        guard h.hasBytes(localHeader) else { return nil }
        // ODF puts an uncompressed "mimetype" member first: its content follows the header.
        if h.hasBytes(asciiBytes("mimetype"), at: 30), let mime = String(bytes: h.dropFirst(38).prefix(while: { $0 > 0x20 && $0 < 0x7F }), encoding: .ascii) {
            if let f = odfFormat(mime) { return f }
        }
        return .zip
    }

    static func odfFormat(_ mime: String) -> MediaFormat? {
        switch mime {
        case "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.text-template": return .odt
        case "application/vnd.oasis.opendocument.spreadsheet", "application/vnd.oasis.opendocument.spreadsheet-template": return .ods
        case "application/vnd.oasis.opendocument.presentation", "application/vnd.oasis.opendocument.presentation-template": return .odp
        default: return nil
        }
    }

    struct Entry {
        var name: [UInt8]
        var method: UInt16
        var flags: UInt16
        var compressedSize: UInt64
        var size: UInt64
        var localOffset: UInt64
        var nameString: String { String(decoding: name, as: UTF8.self) }
    }

    static func read(_ c: MetadataCollector) throws {
        guard let entries = try centralDirectory(c) else { return }
        let names = Set(entries.map(\.nameString))
        if names.contains("word/document.xml") { c.format = .docx }
        else if names.contains("xl/workbook.xml") { c.format = .xlsx }
        else if names.contains("ppt/presentation.xml") { c.format = .pptx }
        else if let m = entries.first(where: { $0.nameString == "mimetype" }), let data = try member(c, m, limit: 256),
                let f = odfFormat(String(decoding: data, as: UTF8.self).metadataTrimmed) {
            c.format = f
        }
        if let core = entries.first(where: { $0.nameString == "docProps/core.xml" }) {
            if let xml = try member(c, core) { DocumentProperties.ooxml(xml, into: c) }
        } else if let meta = entries.first(where: { $0.nameString == "meta.xml" }) {
            if let xml = try member(c, meta) { DocumentProperties.odf(xml, into: c) }
        }
    }

    /// The central directory's entries, located through the end record (and its ZIP64 form).
    static func centralDirectory(_ c: MetadataCollector) throws -> [Entry]? {
        let src = c.source
        // The end record is 22 bytes plus a comment of up to 65,535 bytes.
        let tailStart = max(0, src.size - 22 - 65_535)
        let tail = try src.read(at: tailStart, count: Int(src.size - tailStart))
        guard let e = tail.lastIndexOfBytes(endRecord), e + 22 <= tail.count else {
            c.problem("ZIP", "no end of central directory record; not a complete zip archive")
            return nil
        }
        var count = UInt64(tail.u16(at: e + 10, bigEndian: false)!)
        var size = UInt64(tail.u32(at: e + 12, bigEndian: false)!)
        var offset = UInt64(tail.u32(at: e + 16, bigEndian: false)!)
        if count == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
            // ZIP64: the locator sits just before the end record.
            let locatorAt = tailStart + Int64(e) - 20
            guard let loc = try src.exact(at: locatorAt, count: 20), loc.hasBytes(zip64Locator),
                  let recordAt = loc.u64(at: 8, bigEndian: false), recordAt < UInt64(src.size),
                  let rec = try src.exact(at: Int64(recordAt), count: 56), rec.hasBytes(zip64End) else {
                c.problem("ZIP", "the ZIP64 end record cannot be found")
                return nil
            }
            count = rec.u64(at: 32, bigEndian: false)!
            size = rec.u64(at: 40, bigEndian: false)!
            offset = rec.u64(at: 48, bigEndian: false)!
        }
        guard offset < UInt64(src.size), size <= UInt64(src.size) - offset else {
            c.problem("ZIP", "the central directory (offset \(offset), \(size) bytes) lies outside the file")
            return nil
        }
        let readable = Int(min(size, UInt64(MetadataLimits.maxBlock)))
        if UInt64(readable) < size { c.problem("ZIP", "the central directory is \(size) bytes; only the first \(readable) are read") }
        guard let cd = try src.exact(at: Int64(offset), count: readable) else { return nil }
        var out: [Entry] = []
        var i = 0
        while out.count < min(Int(min(count, UInt64(maxEntries))), maxEntries), i + 46 <= cd.count, cd.hasBytes(centralHeader, at: i) {
            let flags = cd.u16(at: i + 8, bigEndian: false)!
            let method = cd.u16(at: i + 10, bigEndian: false)!
            var csize = UInt64(cd.u32(at: i + 20, bigEndian: false)!)
            var usize = UInt64(cd.u32(at: i + 24, bigEndian: false)!)
            let nameLength = Int(cd.u16(at: i + 28, bigEndian: false)!)
            let extraLength = Int(cd.u16(at: i + 30, bigEndian: false)!)
            let commentLength = Int(cd.u16(at: i + 32, bigEndian: false)!)
            var local = UInt64(cd.u32(at: i + 42, bigEndian: false)!)
            let nameStart = i + 46
            guard nameStart + nameLength + extraLength + commentLength <= cd.count else { break }
            // ZIP64 extended information: the fields set to 0xFFFFFFFF, in order.
            var x = nameStart + nameLength
            let extraEnd = x + extraLength
            while x + 4 <= extraEnd {
                let id = cd.u16(at: x, bigEndian: false)!, n = Int(cd.u16(at: x + 2, bigEndian: false)!)
                if id == 1 {
                    var p = x + 4
                    if usize == 0xFFFF_FFFF, p + 8 <= x + 4 + n, let v = cd.u64(at: p, bigEndian: false) { usize = v; p += 8 }
                    if csize == 0xFFFF_FFFF, p + 8 <= x + 4 + n, let v = cd.u64(at: p, bigEndian: false) { csize = v; p += 8 }
                    if local == 0xFFFF_FFFF, p + 8 <= x + 4 + n, let v = cd.u64(at: p, bigEndian: false) { local = v }
                }
                x += 4 + n
            }
            out.append(Entry(name: Array(cd[nameStart..<(nameStart + nameLength)]), method: method, flags: flags,
                             compressedSize: csize, size: usize, localOffset: local))
            i = nameStart + nameLength + extraLength + commentLength
        }
        return out
    }

    /// One member's bytes, inflated, at most `limit` of them; nil with a problem otherwise.
    static func member(_ c: MetadataCollector, _ e: Entry, limit: Int = MetadataLimits.maxBlock) throws -> [UInt8]? {
        let name = PathDisplay.escape(e.name)
        guard e.flags & 1 == 0 else {
            c.problem("ZIP", "\(name) is encrypted; not read")
            return nil
        }
        guard e.localOffset < UInt64(c.source.size), let h = try c.source.exact(at: Int64(e.localOffset), count: 30), h.hasBytes(localHeader) else {
            c.problem("ZIP", "\(name): no local header at offset \(e.localOffset)")
            return nil
        }
        let dataStart = Int64(e.localOffset) + 30 + Int64(h.u16(at: 26, bigEndian: false)!) + Int64(h.u16(at: 28, bigEndian: false)!)
        guard e.compressedSize <= UInt64(MetadataLimits.maxBlock) else {
            c.problem("ZIP", "\(name) is \(e.compressedSize) bytes compressed, more than the \(MetadataLimits.maxBlock)-byte limit; not read")
            return nil
        }
        guard let raw = try c.source.exact(at: dataStart, count: Int(e.compressedSize)) else {
            c.problem("ZIP", "\(name) runs past the end of the file")
            return nil
        }
        switch e.method {
        case 0:
            return raw.count <= limit ? raw : Array(raw.prefix(limit))
        case 8:
            switch Inflate.raw(raw[...], limit: limit) {
            case .success(let d): return d
            case .failure(.tooLarge(let l)):
                c.problem("ZIP", "\(name) inflates to more than \(l) bytes; not read")
            case .failure(.corrupt(let why)):
                c.problem("ZIP", "\(name) cannot be inflated: \(why)")
            }
            return nil
        default:
            c.problem("ZIP", "\(name) uses compression method \(e.method); not read")
            return nil
        }
    }
}

/// Document properties: the OOXML and ODF XML parts, parsed with the XMP parser's hardening.
enum DocumentProperties {
    static let dc = XMPNamespace.dc
    static let cp = "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
    static let dcterms = "http://purl.org/dc/terms/"
    static let odfMeta = "urn:oasis:names:tc:opendocument:xmlns:meta:1.0"

    static func ooxml(_ xml: [UInt8], into c: MetadataCollector) {
        guard let nodes = SafeXML.parse(xml, block: "docProps/core.xml", into: c) else { return }
        func texts(_ ns: String, _ name: String) -> [String] {
            nodes.filter { $0.namespace == ns && $0.name == name }.map(\.text)
        }
        add(c, .title, texts(dc, "title"), "XML:Title")
        add(c, .description, texts(dc, "subject"), "XML:Subject")
        add(c, .description, texts(dc, "description"), "XML:Description")
        add(c, .creator, texts(dc, "creator"), "XML:Creator")
        add(c, .keywords, texts(cp, "keywords"), "XML:Keywords")
        add(c, .dateCreated, texts(dcterms, "created"), "XML:CreateDate")
    }

    static func odf(_ xml: [UInt8], into c: MetadataCollector) {
        guard let nodes = SafeXML.parse(xml, block: "meta.xml", into: c) else { return }
        func texts(_ ns: String, _ name: String) -> [String] {
            nodes.filter { $0.namespace == ns && $0.name == name }.map(\.text)
        }
        add(c, .title, texts(dc, "title"), "XML:Title")
        add(c, .description, texts(dc, "subject"), "XML:Subject")
        add(c, .description, texts(dc, "description"), "XML:Description")
        let initial = texts(odfMeta, "initial-creator")
        add(c, .creator, initial, "XML:Initial-creator")
        if initial.allSatisfy({ $0.metadataTrimmed.isEmpty }) { add(c, .creator, texts(dc, "creator"), "XML:Creator") }
        let keywords = texts(odfMeta, "keyword").map(\.metadataTrimmed).filter { !$0.isEmpty }
        if !keywords.isEmpty {
            c.values.append(SourcedValue(field: .keywords, value: .list(keywords), origin: .document, tag: "XML:Keyword",
                                         raw: keywords.joined(separator: "; ")))
        }
        add(c, .dateCreated, texts(odfMeta, "creation-date"), "XML:Creation-date")
    }

    private static func add(_ c: MetadataCollector, _ field: UnifiedField, _ texts: [String], _ tag: String) {
        guard let raw = texts.first(where: { !$0.metadataTrimmed.isEmpty }) else { return }
        let t = raw.metadataTrimmed
        let value: FieldValue
        switch field {
        case .dateCreated:
            guard let iso = DateNormalizer.iso(t), !iso.hasPrefix("0000") else {
                c.problem("XML", "\(tag) '\(t.prefix(40))' is not a date")
                return
            }
            value = .date(iso)
        case .keywords:
            let items = t.split(whereSeparator: { $0 == "," || $0 == ";" }).map { String($0).metadataTrimmed }.filter { !$0.isEmpty }
            guard !items.isEmpty else { return }
            value = .list(items)
        case .creator:
            value = .list([t])
        default:
            value = .text(t)
        }
        c.values.append(SourcedValue(field: field, value: value, origin: .document, tag: tag, raw: raw))
    }
}

/// XML that is not XMP (document properties), parsed with the same tokenizer and hardening as
/// XMP: size cap, UTF-8 repaired, processing instructions skipped, DOCTYPE and ENTITY refused,
/// depth capped.
enum SafeXML {
    static func parse(_ input: [UInt8], block: String, into c: MetadataCollector) -> [XMLElement]? {
        guard input.count <= MetadataLimits.maxBlock else {
            c.problem(block, "\(input.count) bytes, more than the \(MetadataLimits.maxBlock)-byte limit")
            return nil
        }
        var bytes = input
        if bytes.hasBytes([0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        if bytes.count >= 2, (bytes[0] == 0xFF && bytes[1] == 0xFE) || (bytes[0] == 0xFE && bytes[1] == 0xFF) {
            bytes = Array(TextDecoding.utf16(bytes[...], bigEndian: bytes[0] == 0xFE).utf8)
        }
        let outcome = XMLTokenizer.parse(&bytes, 0..<bytes.count)
        if outcome.repairedUTF8 { c.problem(block, "not valid UTF-8; invalid bytes replaced") }
        switch outcome.failure {
        case nil:
            return outcome.elements
        case .declaration?:
            c.problem(block, "holds a DOCTYPE or ENTITY declaration; refused (entity expansion attacks)")
        case .tooDeep?:
            c.problem(block, "the XML nests elements deeper than \(MetadataLimits.maxXMLDepth) levels; refused")
        case .tooManyNodes?:
            c.problem(block, "the XML has more than \(XMLTokenizer.maxNodes) elements; refused")
        case .malformed(let line, let reason)?:
            c.problem(block, "the XML is not well-formed XML (line \(line)): \(reason)")
        }
        return nil
    }
}
