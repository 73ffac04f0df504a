import Foundation

/// The first element of an XML document, after the prolog: a byte-order mark, white space,
/// processing instructions (`<?xml?>`, `<?xpacket begin?>`), comments and a DOCTYPE.
enum XMLHead {
    struct Root {
        /// The element's qualified name (`svg`, `x:xmpmeta`, `rdf:RDF`).
        var name: String
        /// Its local name (after the prefix).
        var local: String { name.split(separator: ":").last.map(String.init) ?? name }
        /// The DOCTYPE's root name, when there was one (`svg`).
        var doctype: String?
        /// Where the element's `<` is.
        var offset: Int
    }

    /// The first element of `bytes` (UTF-8, or UTF-16 reduced to its ASCII bytes), or nil when
    /// the bytes do not start like XML.
    static func root(_ head: [UInt8]) -> Root? {
        var bytes = head
        if bytes.count >= 2 && ((bytes[0] == 0xFE && bytes[1] == 0xFF) || (bytes[0] == 0xFF && bytes[1] == 0xFE)
                                 || (bytes[0] == 0 && bytes[1] == 0x3C) || (bytes[0] == 0x3C && bytes[1] == 0)) {
            // UTF-16 (XMP allows it): the ASCII bytes are all the element name needs.
            let bigEndian = bytes[0] == 0xFE || bytes[0] == 0
            bytes = stride(from: bigEndian ? 1 : 0, to: bytes.count, by: 2).map { bytes[$0] }
            if bytes.first == 0xFF || bytes.first == 0xFE { bytes.removeFirst() }
        }
        var i = bytes.hasBytes([0xEF, 0xBB, 0xBF]) ? 3 : 0
        var doctype: String?
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
        while true {
            while i < bytes.count, isSpace(bytes[i]) { i += 1 }
            guard i < bytes.count, bytes[i] == UInt8(ascii: "<") else { return nil }
            if bytes.hasBytes(asciiBytes("<?"), at: i) {
                guard let end = bytes.indexOfBytes(asciiBytes("?>"), from: i + 2) else { return nil }
                i = end + 2
            } else if bytes.hasBytes(asciiBytes("<!--"), at: i) {
                guard let end = bytes.indexOfBytes(asciiBytes("-->"), from: i + 4) else { return nil }
                i = end + 3
            } else if bytes.hasBytes(asciiBytes("<!"), at: i) {
                // <!DOCTYPE name …>, possibly with an internal subset in brackets.
                var k = i + 2
                while k < bytes.count, !isSpace(bytes[k]) { k += 1 }
                while k < bytes.count, isSpace(bytes[k]) { k += 1 }
                var n = k
                while n < bytes.count, !isSpace(bytes[n]), bytes[n] != UInt8(ascii: ">"), bytes[n] != UInt8(ascii: "[") { n += 1 }
                doctype = String(decoding: bytes[k..<n], as: UTF8.self)
                var depth = 0
                while n < bytes.count {
                    if bytes[n] == UInt8(ascii: "[") { depth += 1 }
                    if bytes[n] == UInt8(ascii: "]") { depth -= 1 }
                    if bytes[n] == UInt8(ascii: ">") && depth <= 0 { break }
                    n += 1
                }
                guard n < bytes.count else { return nil }
                i = n + 1
            } else {
                break
            }
        }
        var end = i + 1
        while end < bytes.count, !isSpace(bytes[end]), bytes[end] != UInt8(ascii: ">"), bytes[end] != UInt8(ascii: "/") { end += 1 }
        guard end > i + 1 else { return nil }
        return Root(name: String(decoding: bytes[(i + 1)..<end], as: UTF8.self), doctype: doctype, offset: i)
    }

    /// The attributes of the start tag that begins at `offset` (`name="value"` or `'value'`).
    static func attributes(_ bytes: [UInt8], startTagAt offset: Int) -> (attributes: [(String, String)], end: Int)? {
        var i = offset + 1
        while i < bytes.count, bytes[i] > 0x20, bytes[i] != UInt8(ascii: ">"), bytes[i] != UInt8(ascii: "/") { i += 1 }
        var out: [(String, String)] = []
        while i < bytes.count {
            while i < bytes.count, bytes[i] <= 0x20 { i += 1 }
            guard i < bytes.count else { return nil }
            if bytes[i] == UInt8(ascii: ">") || bytes[i] == UInt8(ascii: "/") { return (out, i) }
            var n = i
            while n < bytes.count, bytes[n] > 0x20, bytes[n] != UInt8(ascii: "=") { n += 1 }
            let name = String(decoding: bytes[i..<n], as: UTF8.self)
            while n < bytes.count, bytes[n] <= 0x20 || bytes[n] == UInt8(ascii: "=") { n += 1 }
            guard n < bytes.count, bytes[n] == UInt8(ascii: "\"") || bytes[n] == UInt8(ascii: "'") else { return nil }
            let quote = bytes[n]
            guard let close = bytes[(n + 1)...].firstIndex(of: quote) else { return nil }
            out.append((name, String(decoding: bytes[(n + 1)..<close], as: UTF8.self)))
            i = close + 1
        }
        return nil
    }
}

/// SVG images: the pixel size from the root's `width` and `height` (plain numbers or `px`, as
/// ExifTool reports them), and the XMP packet in the `<metadata>` element (Illustrator writes
/// an `x:xmpmeta`, Inkscape an `rdf:RDF`). Namespaces declared on the `<svg>` root are carried
/// over to the packet, which is then parsed as any XMP.
enum SVGReader {
    static func read(_ c: MetadataCollector) throws {
        if c.source.size > Int64(MetadataLimits.maxBlock) {
            c.problem("SVG", "the SVG is \(c.source.size) bytes: only its first \(MetadataLimits.maxBlock) bytes are read for metadata")
        }
        let bytes = try c.source.read(at: 0, count: Int(min(c.source.size, Int64(MetadataLimits.maxBlock))))
        guard let root = XMLHead.root(Array(bytes.prefix(64 << 10))), root.local == "svg",
              let (attributes, _) = XMLHead.attributes(bytes, startTagAt: root.offset) else {
            c.problem("SVG", "no <svg> start tag could be read")
            return
        }
        func pixels(_ name: String) -> Int? {
            guard var text = attributes.first(where: { $0.0 == name })?.1.trimmingCharacters(in: .whitespaces) else { return nil }
            if text.hasSuffix("px") { text.removeLast(2) }
            guard let value = Double(text), value > 0, value < 1e9, value.rounded() == value else { return nil }
            return Int(value)
        }
        c.setDimensions(pixels("width"), pixels("height"), tag: "SVG")
        guard var packet = packet(in: bytes) else { return }
        // Prefixes the packet uses but declares only on the <svg> root.
        let declared = attributes.filter { $0.0.hasPrefix("xmlns:") }
        if let first = XMLHead.root(packet), let (own, end) = XMLHead.attributes(packet, startTagAt: first.offset) {
            let missing = declared.filter { d in !own.contains { $0.0 == d.0 } }
            if !missing.isEmpty {
                let text = missing.map { " \($0.0)=\"\($0.1.replacingOccurrences(of: "\"", with: "&quot;"))\"" }.joined()
                packet.insert(contentsOf: Array(text.utf8), at: end)
            }
        }
        c.addXMP(packet, block: "SVG metadata")
    }

    /// The XMP packet inside an SVG: an `<?xpacket … ?>`-wrapped one, else the `x:xmpmeta`
    /// element, else the `rdf:RDF` element (whatever their prefixes).
    static func packet(in bytes: [UInt8]) -> [UInt8]? {
        if let p = XPacketScanner.lastPacket(in: bytes) { return p }
        for local in ["xmpmeta", "xapmeta", "RDF"] {
            guard let open = elementStart(bytes, local: local) else { continue }
            let qualified: String = XMLHead.root(Array(bytes[open...].prefix(256)))?.name ?? local
            let name: [UInt8] = Array(qualified.utf8)
            let closing: [UInt8] = [UInt8(ascii: "<"), UInt8(ascii: "/")] + name + [UInt8(ascii: ">")]
            guard let close = bytes.indexOfBytes(closing, from: open) else { continue }
            return Array(bytes[open..<(close + name.count + 3)])
        }
        return nil
    }

    /// Where the first start tag whose local name is `local` begins.
    static func elementStart(_ bytes: [UInt8], local: String) -> Int? {
        let needle = Array(local.utf8)
        var from = 0
        while let hit = bytes.indexOfBytes(needle, from: from) {
            from = hit + 1
            guard hit > 0, hit + needle.count < bytes.count else { continue }
            let after = bytes[hit + needle.count]
            guard after <= 0x20 || after == UInt8(ascii: ">") || after == UInt8(ascii: "/") else { continue }
            // Back to the '<', over a prefix ending in ':'.
            var k = hit - 1
            if bytes[k] == UInt8(ascii: ":") {
                k -= 1
                while k >= 0, bytes[k] > 0x20, bytes[k] != UInt8(ascii: "<"), bytes[k] != UInt8(ascii: "/") { k -= 1 }
            }
            if k >= 0, bytes[k] == UInt8(ascii: "<") { return k }
        }
        return nil
    }
}
