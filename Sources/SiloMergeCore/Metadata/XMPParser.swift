import Foundation

/// XMP (RDF/XML) parsing with SiloMerge's own XML tokenizer (`XMLTokenizer`), hardened for
/// untrusted input: no DOCTYPE or ENTITY declarations (billion laughs, external entities),
/// no entity but the five predefined ones, depth capped at `MetadataLimits.maxXMLDepth`,
/// elements at `XMLTokenizer.maxNodes`, size capped at `MetadataLimits.maxBlock`.
///
/// All three RDF forms are understood: properties as attributes of `rdf:Description`, as child
/// elements with text, and as `rdf:Bag` / `rdf:Seq` / `rdf:Alt` containers of `rdf:li` (for an
/// Alt the `xml:lang="x-default"` item is preferred, else the first).
enum XMPParser {
    struct Result {
        var values: [SourcedValue] = []
        var problems: [MetadataProblem] = []
        /// `xmpNote:HasExtendedXMP`: the GUID of the extended XMP to merge (JPEG).
        var extendedGUID: String?
    }

    static func parse<C: Collection>(_ input: C, origin: MetadataOrigin, block: String = "XMP") -> Result
    where C.Element == UInt8 {
        var result = Result()
        func fail(_ reason: String) -> Result {
            result.problems.append(MetadataProblem(block: block, reason: reason))
            return result
        }
        guard input.count <= MetadataLimits.maxBlock else {
            return fail("the XMP packet is \(input.count) bytes, more than the \(MetadataLimits.maxBlock)-byte limit")
        }
        var bytes = Array(input)
        guard let range = packetRange(&bytes) else { return fail("no XML found in the XMP packet") }
        let outcome = XMLTokenizer.parse(&bytes, range, reads: XMPMapping.readsNamespace)
        if outcome.repairedUTF8 {
            result.problems.append(MetadataProblem(block: block, reason: "the XMP is not valid UTF-8; invalid bytes replaced"))
        }
        switch outcome.failure {
        case nil: break
        case .declaration?:
            return fail("the XMP packet holds a DOCTYPE or ENTITY declaration; refused (entity expansion attacks)")
        case .tooDeep?:
            return fail("the XMP nests elements deeper than \(MetadataLimits.maxXMLDepth) levels; refused")
        case .tooManyNodes?:
            return fail("the XMP has more than \(XMLTokenizer.maxNodes) elements; refused")
        case .malformed(let line, let reason)?:
            return fail("the XMP is not well-formed XML (line \(line)): \(reason)")
        }
        let properties = RDFInterpreter(tree: outcome.tree).properties()
        result.values = XMPMapping.values(from: properties, origin: origin)
        for p in properties where same(p.namespace, XMPNamespace.xmpNote) && p.name == "HasExtendedXMP" {
            if case .text(let guid) = p.value { result.extendedGUID = guid.metadataTrimmed }
        }
        return result
    }

    /// The bytes to hand to the XML parser: UTF-16/32 transcoded to UTF-8, leading junk and
    /// anything after `<?xpacket end…?>` (padding, a GIF trailer, "endstream") cut off.
    static func packetBytes(_ raw: [UInt8]) -> [UInt8]? {
        var bytes = raw
        return packetRange(&bytes).map { Array(bytes[$0]) }
    }

    /// Where the packet is in `bytes` (transcoded in place from UTF-16 when it is that): a
    /// leading UTF-8 BOM and junk before the first `<` skipped, anything after
    /// `<?xpacket end…?>` cut off. Nil when there is no `<`.
    static func packetRange(_ bytes: inout [UInt8]) -> Range<Int>? {
        // UTF-16 packets (with or without a BOM): XMP allows them; transcode.
        if bytes.count >= 2 {
            let b0 = bytes[0], b1 = bytes[1]
            let bigEndian16 = (b0 == 0xFE && b1 == 0xFF) || (b0 == 0 && b1 == UInt8(ascii: "<"))
            let littleEndian16 = (b0 == 0xFF && b1 == 0xFE) || (b0 == UInt8(ascii: "<") && b1 == 0)
            if bigEndian16 || littleEndian16 {
                let s = TextDecoding.utf16(bytes[...], bigEndian: bigEndian16)
                bytes = Array(s.utf8)
            }
        }
        let from = bytes.hasBytes([0xEF, 0xBB, 0xBF]) ? 3 : 0
        guard let start = bytes[from...].firstIndex(of: UInt8(ascii: "<")) else { return nil }
        var end = bytes.count
        // The packet ends at the first `<?xpacket end…?>` after its begin: whatever follows
        // (padding, a stale copy of an older packet left in a PNG iTXt or a JPEG APP1, a GIF
        // trailer, "endstream") is not part of it.
        let begin = bytes.indexOfBytes(asciiBytes("<?xpacket begin"), from: start) ?? start
        if let tail = bytes.indexOfBytes(asciiBytes("<?xpacket end"), from: begin),
           let close = bytes.indexOfBytes(asciiBytes("?>"), from: tail) {
            end = close + 2
        } else {
            // No trailer: cut at the end of the first x:xmpmeta (else rdf:RDF) root.
            while end > start, bytes[end - 1] == 0 || bytes[end - 1] <= 0x20 { end -= 1 }
            if let meta = bytes.indexOfBytes(asciiBytes("</x:xmpmeta>"), from: start), meta + 12 <= end {
                end = meta + 12
            } else if let rdf = bytes.indexOfBytes(asciiBytes("</rdf:RDF>"), from: start), rdf + 10 <= end {
                end = rdf + 10
            }
        }
        guard start < end else { return nil }
        return start..<end
    }
}

// MARK: - The element tree

/// One XML element, its namespace resolved from the `xmlns` / `xmlns:p` declarations in scope;
/// its attributes, children and text are ranges of its tree's shared arrays (`XMLTree`).
struct XMLNode {
    var namespace: String
    var name: String
    var attributes: Range<Int>
    var children: Range<Int> = 0..<0
    var text: Range<Int> = 0..<0
}

/// The elements of a document in the order their start tags came, with what they hold in
/// three arrays shared by all of them (a sidecar's packet used to make an array or a String per
/// element for these, and release each: about a tenth of parsing it).
struct XMLTree {
    var nodes: [XMLNode] = []
    var attributeList: [XMLAttribute] = []
    /// Each element's children (indices into `nodes`), in order.
    var childList: [Int] = []
    /// Each element's character data, UTF-8.
    var textBytes: [UInt8] = []

    func attributes(_ n: XMLNode) -> ArraySlice<XMLAttribute> { attributeList[n.attributes] }
    func children(_ n: XMLNode) -> ArraySlice<Int> { childList[n.children] }
    func text(_ n: XMLNode) -> String {
        n.text.isEmpty ? "" : textBytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[n.text]), as: UTF8.self) }
    }

    /// Every element with its own copies.
    var elements: [XMLElement] {
        nodes.map { n in
            XMLElement(namespace: n.namespace, name: n.name, attributes: Array(attributes(n)), children: Array(children(n)), text: text(n))
        }
    }
}

/// An attribute: its namespace ("" for none), local name and value.
struct XMLAttribute {
    var namespace: String
    var name: String
    var value: String
}

/// One element of an `XMLTree`, with its own attributes, children and text.
struct XMLElement {
    var namespace: String
    var name: String
    var attributes: [XMLAttribute]
    var children: [Int]
    var text: String
}

// MARK: - RDF

/// `a == b` for a namespace name and one of the `XMPNamespace` constants, telling most unequal
/// names apart by their length alone: `==` compares the bytes of two different strings (some
/// 100 instructions for two namespace names that share a long prefix), and RDF interpretation
/// and the property mapping compare each element's and attribute's namespace with several
/// constants (about a tenth of parsing a camera's packet). Equal names are nearly always one
/// storage (the tokenizer gives the known namespaces the constants' own), which `==` finds at
/// once.
///
/// Strings of different lengths can be equal (canonically equivalent), but never when one is
/// ASCII without `K`, `;` or `` ` ``: no other ASCII character is what a non-ASCII character
/// decomposes to (U+212A KELVIN SIGN, U+037E GREEK QUESTION MARK, U+1FEF GREEK VARIA), and
/// no sequence with a combining mark is equivalent to ASCII. The constants are such names.
@inline(__always) func same(_ a: String, _ b: String) -> Bool {
    a.utf8.count == b.utf8.count && a == b
}

enum XMPNamespace {
    static let rdf = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
    static let xml = "http://www.w3.org/XML/1998/namespace"
    static let dc = "http://purl.org/dc/elements/1.1/"
    static let xmp = "http://ns.adobe.com/xap/1.0/"
    static let photoshop = "http://ns.adobe.com/photoshop/1.0/"
    static let exif = "http://ns.adobe.com/exif/1.0/"
    static let tiff = "http://ns.adobe.com/tiff/1.0/"
    static let iptcCore = "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/"
    static let xmpNote = "http://ns.adobe.com/xmp/note/"
    static let pdf = "http://ns.adobe.com/pdf/1.3/"

    /// The usual prefix of a namespace, for tags ("XMP-dc:title"), whatever prefix the file used.
    static let prefixes: [String: String] = [
        dc: "dc", xmp: "xmp", photoshop: "photoshop", exif: "exif", tiff: "tiff",
        iptcCore: "Iptc4xmpCore", xmpNote: "xmpNote", pdf: "pdf",
    ]
}

/// One top-level XMP property.
struct XMPProperty {
    enum Value {
        case text(String)
        case list([String])                       // rdf:Bag / rdf:Seq
        case alternatives([(lang: String?, text: String)])   // rdf:Alt
    }
    var namespace: String
    var name: String
    var value: Value
}

/// Reads top-level properties out of the element tree, as RDF/XML defines them: node
/// elements (rdf:Description or typed nodes) at the rdf:RDF level describe the resource;
/// a property's value is its text, an rdf:resource, a container (rdf:Bag, rdf:Seq, rdf:Alt of
/// rdf:li, or a node typed as one with rdf:li / rdf:_N members), a qualified value
/// (rdf:value, in an rdf:Description or an rdf:parseType="Resource" property), or a blank
/// node referenced by rdf:nodeID and described elsewhere at the rdf:RDF level.
struct RDFInterpreter {
    let tree: XMLTree
    let nodes: [XMLNode]
    /// Blank nodes by rdf:nodeID: the node elements that describe them.
    private let blank: [String: [Int]]
    /// The blank nodes some property refers to (their node elements are not resource
    /// descriptions of their own).
    private let referenced: Set<String>

    init(tree: XMLTree) {
        self.tree = tree
        let nodes = tree.nodes
        self.nodes = nodes
        var blank: [String: [Int]] = [:]
        var referenced: Set<String> = []
        func nodeID(_ n: XMLNode) -> String? {
            if n.attributes.isEmpty { return nil }
            return tree.attributes(n).first { same($0.namespace, XMPNamespace.rdf) && $0.name == "nodeID" }?.value
        }
        for i in nodes.indices where same(nodes[i].namespace, XMPNamespace.rdf) && nodes[i].name == "RDF" {
            for child in tree.children(nodes[i]) {
                if let id = nodeID(nodes[child]) { blank[id, default: []].append(child) }
            }
        }
        for i in nodes.indices where !nodes[i].attributes.isEmpty
            && !(same(nodes[i].namespace, XMPNamespace.rdf) && (nodes[i].name == "RDF" || nodes[i].name == "Description")) {
            if let id = nodeID(nodes[i]), nodes[i].children.isEmpty { referenced.insert(id) }
        }
        self.blank = blank
        self.referenced = referenced
    }

    /// How deep blank-node references are followed (a node referring to itself is a loop).
    private static let maxReferenceDepth = 8

    func properties() -> [XMPProperty] {
        var out: [XMPProperty] = []
        // Every rdf:RDF element, wherever it is (normally x:xmpmeta/rdf:RDF).
        for i in nodes.indices where same(nodes[i].namespace, XMPNamespace.rdf) && nodes[i].name == "RDF" {
            for child in tree.children(nodes[i]) {
                if let id = attribute(nodes[child], "nodeID"), referenced.contains(id) { continue }
                collect(description: nodes[child], into: &out)
            }
        }
        return out
    }

    private func isRDF(_ n: XMLNode, _ name: String) -> Bool { same(n.namespace, XMPNamespace.rdf) && n.name == name }
    private func attribute(_ n: XMLNode, _ name: String) -> String? {
        if n.attributes.isEmpty { return nil }
        return tree.attributes(n).first { same($0.namespace, XMPNamespace.rdf) && $0.name == name }?.value
    }
    private func isContainer(_ n: XMLNode) -> Bool { isRDF(n, "Bag") || isRDF(n, "Seq") || isRDF(n, "Alt") }

    /// A node element (normally rdf:Description): its attributes and child elements are properties.
    /// A property of a namespace the tokenizer did not read has no name (see
    /// `XMLTokenizer.NamespaceFilter`): nothing maps it, so no value is made of it.
    private func collect(description: XMLNode, into out: inout [XMPProperty]) {
        for a in tree.attributes(description) where !a.name.isEmpty && !same(a.namespace, XMPNamespace.rdf) && !same(a.namespace, XMPNamespace.xml) && !a.namespace.isEmpty {
            out.append(XMPProperty(namespace: a.namespace, name: a.name, value: .text(a.value)))
        }
        for c in tree.children(description) {
            guard !nodes[c].name.isEmpty, !nodes[c].namespace.isEmpty, !same(nodes[c].namespace, XMPNamespace.rdf) else { continue }
            if let value = value(of: nodes[c], depth: 0) {
                out.append(XMPProperty(namespace: nodes[c].namespace, name: nodes[c].name, value: value))
            }
        }
    }

    /// The value of a property element, or nil for structures we do not map.
    private func value(of p: XMLNode, depth: Int) -> XMPProperty.Value? {
        if let resource = attribute(p, "resource") { return .text(resource) }
        if let id = attribute(p, "nodeID"), p.children.isEmpty {
            return blankValue(id, depth: depth)
        }
        let elements = tree.children(p)
        if elements.isEmpty {
            if attribute(p, "parseType") != nil { return nil }
            return .text(tree.text(p))
        }
        if let container = elements.first(where: { isContainer(nodes[$0]) }) { return items(of: nodes[container], depth: depth) }
        // rdf:parseType="Resource": the children are the fields of a blank node; rdf:value is
        // its value.
        if attribute(p, "parseType") == "Resource" {
            if let v = elements.first(where: { isRDF(nodes[$0], "value") }) { return value(of: nodes[v], depth: depth + 1) }
            return nil   // a structure
        }
        // <prop><rdf:Description>…: a qualified value, a structure, or a node typed as a container.
        if let description = elements.first(where: { isRDF(nodes[$0], "Description") }) {
            return nodeValue(nodes[description], depth: depth + 1)
        }
        return nil   // a structure
    }

    /// The value of a blank node described elsewhere (merging every description of it).
    private func blankValue(_ id: String, depth: Int) -> XMPProperty.Value? {
        guard depth < Self.maxReferenceDepth, let described = blank[id] else { return nil }
        for index in described {
            if let v = nodeValue(nodes[index], depth: depth + 1) { return v }
        }
        return nil
    }

    /// The value of a node element: a container, a node typed as a container, or a
    /// description with rdf:value.
    private func nodeValue(_ n: XMLNode, depth: Int) -> XMPProperty.Value? {
        guard depth < Self.maxReferenceDepth else { return nil }
        if isContainer(n) { return items(of: n, depth: depth) }
        let children = tree.children(n).map { nodes[$0] }
        if let v = children.first(where: { isRDF($0, "value") }) { return value(of: v, depth: depth + 1) }
        if let v = attribute(n, "value") { return .text(v) }
        let type = children.first(where: { isRDF($0, "type") }).flatMap { attribute($0, "resource") }
        if let type, type.hasPrefix(XMPNamespace.rdf), ["Bag", "Seq", "Alt"].contains(String(type.dropFirst(XMPNamespace.rdf.count))) {
            return items(of: n, depth: depth, alt: type.hasSuffix("Alt"))
        }
        if children.contains(where: { same($0.namespace, XMPNamespace.rdf) && ($0.name == "li" || isMemberName($0.name)) }) {
            return items(of: n, depth: depth)
        }
        return nil
    }

    /// rdf:_1, rdf:_2, ...
    private func isMemberName(_ name: String) -> Bool {
        name.hasPrefix("_") && name.count > 1 && name.dropFirst().allSatisfy(\.isASCIIDigit)
    }

    /// The members of a container: rdf:li in order, then rdf:_N by N.
    private func items(of container: XMLNode, depth: Int, alt: Bool? = nil) -> XMPProperty.Value {
        var items: [(lang: String?, text: String)] = []
        var numbered: [(Int, (lang: String?, text: String))] = []
        items.reserveCapacity(container.children.count)
        for c in tree.children(container) where same(nodes[c].namespace, XMPNamespace.rdf) {
            let li = nodes[c]
            let lang = li.attributes.isEmpty ? nil : tree.attributes(li).first(where: { same($0.namespace, XMPNamespace.xml) && $0.name == "lang" })?.value
            if li.name == "li" {
                if let text = simpleText(li, depth: depth) { items.append((lang, text)) }
            } else if isMemberName(li.name), let n = Int(li.name.dropFirst()), let text = simpleText(li, depth: depth) {
                numbered.append((n, (lang, text)))
            }
        }
        if !numbered.isEmpty { items += numbered.sorted { $0.0 < $1.0 }.map(\.1) }
        if alt ?? isRDF(container, "Alt") { return .alternatives(items) }
        return .list(items.map(\.text))
    }

    /// The text of an rdf:li: its text, rdf:resource, a qualified value (rdf:value, in an
    /// rdf:Description or with rdf:parseType="Resource"), or a blank node's rdf:value.
    private func simpleText(_ li: XMLNode, depth: Int) -> String? {
        if li.children.isEmpty {
            if let r = attribute(li, "resource") { return r }
            if let id = attribute(li, "nodeID"), depth < Self.maxReferenceDepth {
                if case .text(let t)? = blankValue(id, depth: depth + 1) { return t }
                return nil
            }
            if attribute(li, "parseType") != nil { return nil }
            return tree.text(li)
        }
        for c in tree.children(li) {
            let n = nodes[c]
            if isRDF(n, "value") { return n.children.isEmpty ? tree.text(n) : nil }
            if isRDF(n, "Description") {
                if let v = tree.children(n).map({ nodes[$0] }).first(where: { isRDF($0, "value") }) { return tree.text(v) }
                if let v = attribute(n, "value") { return v }
            }
        }
        return nil
    }
}

/// Maps XMP properties to unified fields.
enum XMPMapping {
    private struct Target { var field: UnifiedField; var kind: Kind }
    private enum Kind { case text, list, date, integer, orientation }

    private static let targets: [String: Target] = [
        XMPNamespace.dc + "title": Target(field: .title, kind: .text),
        XMPNamespace.dc + "description": Target(field: .description, kind: .text),
        XMPNamespace.dc + "subject": Target(field: .keywords, kind: .list),
        XMPNamespace.dc + "creator": Target(field: .creator, kind: .list),
        XMPNamespace.dc + "rights": Target(field: .rights, kind: .text),
        XMPNamespace.photoshop + "DateCreated": Target(field: .dateCreated, kind: .date),
        XMPNamespace.xmp + "CreateDate": Target(field: .dateCreated, kind: .date),
        XMPNamespace.exif + "DateTimeOriginal": Target(field: .dateCreated, kind: .date),
        XMPNamespace.photoshop + "City": Target(field: .city, kind: .text),
        XMPNamespace.photoshop + "State": Target(field: .state, kind: .text),
        XMPNamespace.photoshop + "Country": Target(field: .country, kind: .text),
        XMPNamespace.iptcCore + "CountryName": Target(field: .country, kind: .text),
        XMPNamespace.xmp + "Rating": Target(field: .rating, kind: .integer),
        XMPNamespace.tiff + "Make": Target(field: .make, kind: .text),
        XMPNamespace.tiff + "Model": Target(field: .model, kind: .text),
        XMPNamespace.tiff + "Orientation": Target(field: .orientation, kind: .orientation),
        XMPNamespace.tiff + "ImageWidth": Target(field: .width, kind: .integer),
        XMPNamespace.tiff + "ImageLength": Target(field: .height, kind: .integer),
        XMPNamespace.exif + "PixelXDimension": Target(field: .width, kind: .integer),
        XMPNamespace.exif + "PixelYDimension": Target(field: .height, kind: .integer),
    ]

    static func tag(_ namespace: String, _ name: String) -> String {
        "XMP-\(XMPNamespace.prefixes[namespace] ?? "unknown"):\(name)"
    }

    /// `targets` by namespace, then local name, each with its tag: found without joining the
    /// two into a key (a String and its hash per property).
    private static let byNamespace: [MappedNamespace] = {
        var out: [MappedNamespace] = []
        for namespace in [XMPNamespace.dc, XMPNamespace.photoshop, XMPNamespace.xmp, XMPNamespace.exif,
                          XMPNamespace.iptcCore, XMPNamespace.tiff] {
            var names: [String: (target: Target, tag: String)] = [:]
            for (key, target) in targets where key.utf8.starts(with: namespace.utf8) {
                let name = String(key.utf8.dropFirst(namespace.utf8.count))!
                names[name] = (target, tag(namespace, name))
            }
            out.append(MappedNamespace(namespace: namespace, targets: names))
        }
        return out
    }()
    /// A struct, not a tuple: walking an array of tuples that hold a String copied each
    /// element through the runtime's generic tuple witnesses (asked per property and per
    /// namespace declaration).
    private struct MappedNamespace {
        let namespace: String
        let targets: [String: (target: Target, tag: String)]
    }

    /// The target of a property, as `targets[namespace + name]` finds it.
    private static func target(_ namespace: String, _ name: String) -> (target: Target, tag: String)? {
        for entry in byNamespace where same(entry.namespace, namespace) { return entry.targets[name] }
        // A namespace that is not one of them, but begins with one (xmpMM begins with xmp):
        // the joined key may still name a target ("…/1.1/ti" + "tle"), only when what follows
        // that namespace is ASCII letters, as every target's name is (none holds a K, the one
        // letter a non-ASCII character is canonically equal to). Never in practice, but
        // looked up exactly as before.
        guard lettersFollowMapped(namespace) else { return nil }
        return targets[namespace + name].map { ($0, tag(namespace, name)) }
    }

    /// Whether a name or value in `namespace` can matter to `XMPParser`: RDF's own (rdf:*,
    /// xml:lang), xmpNote (HasExtendedXMP), and every namespace `target` can map a property of
    /// (one of `byNamespace`'s, or one that begins with one of them and goes on in ASCII
    /// letters) — exif's GPS coordinates among them. The tokenizer gives elements and
    /// attributes of any other namespace no name or value (`XMLTokenizer.NamespaceFilter`):
    /// `values(from:)` would find no target for them whatever their name.
    static func readsNamespace(_ namespace: String) -> Bool {
        if same(namespace, XMPNamespace.rdf) || same(namespace, XMPNamespace.xml) || same(namespace, XMPNamespace.xmpNote) {
            return true
        }
        for entry in byNamespace where same(entry.namespace, namespace) { return true }
        return lettersFollowMapped(namespace)
    }

    /// Whether `namespace` is one of `byNamespace`'s followed by ASCII letters only (over the
    /// bytes with memcmp: `utf8.starts(with:)` cost ~1,000 instructions a test).
    private static func lettersFollowMapped(_ namespace: String) -> Bool {
        var namespace = namespace
        return namespace.withUTF8 { bytes in
            for entry in byNamespace {
                let count = entry.namespace.utf8.count
                guard bytes.count > count, let base = bytes.baseAddress,
                      entry.namespace.utf8.withContiguousStorageIfAvailable({ memcmp(base, $0.baseAddress!, count) == 0 }) ?? false
                else { continue }
                return bytes[count...].allSatisfy { $0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A }
            }
            return false
        }
    }

    static func values(from properties: [XMPProperty], origin: MetadataOrigin) -> [SourcedValue] {
        var out: [SourcedValue] = []
        var latitude: (String, Double)?, longitude: (String, Double)?
        for p in properties {
            if same(p.namespace, XMPNamespace.exif) && (p.name == "GPSLatitude" || p.name == "GPSLongitude") {
                guard case .text(let raw) = p.value else { continue }
                let isLat = p.name == "GPSLatitude"
                if let v = GPSParser.xmpCoordinate(raw, isLatitude: isLat) {
                    if isLat { if latitude == nil { latitude = (raw, v) } } else if longitude == nil { longitude = (raw, v) }
                }
                continue
            }
            guard let (target, tag) = target(p.namespace, p.name) else { continue }
            let (text, items, raw) = flatten(p.value)
            var value: FieldValue?
            switch target.kind {
            case .text:
                if let t = text?.metadataTrimmed, !t.isEmpty { value = .text(t) }
            case .list:
                let cleaned = items.map(\.metadataTrimmed).filter { !$0.isEmpty }
                if !cleaned.isEmpty { value = .list(cleaned) }
            case .date:
                if let t = text?.metadataTrimmed, !t.isEmpty {
                    value = DateNormalizer.iso(t).map(FieldValue.date) ?? .text(t)
                }
            case .integer:
                if let t = text?.metadataTrimmed, let n = integer(t) {
                    if target.field == .rating ? (-1...5).contains(n) : n > 0 { value = .integer(n) }
                }
            case .orientation:
                if let t = text?.metadataTrimmed, let n = integer(t), (1...8).contains(n) { value = .integer(n) }
            }
            if let value {
                out.append(SourcedValue(field: target.field, value: value, origin: origin, tag: tag, raw: raw))
            }
        }
        if let latitude, let longitude {
            out.append(SourcedValue(field: .gps, value: .gps(latitude: latitude.1, longitude: longitude.1),
                                    origin: origin, tag: "XMP-exif:GPSLatitude/GPSLongitude",
                                    raw: "\(latitude.0), \(longitude.0)"))
        }
        return out
    }

    /// (single text, list items, raw) of a value. An Alt gives its x-default (else first) item.
    private static func flatten(_ v: XMPProperty.Value) -> (String?, [String], String) {
        switch v {
        case .text(let t): return (t, [t], t)
        case .list(let items): return (items.first, items, items.joined(separator: "; "))
        case .alternatives(let alts):
            let chosen = alts.first(where: { $0.lang?.lowercased() == "x-default" })?.text ?? alts.first?.text
            return (chosen, chosen.map { [$0] } ?? [], chosen ?? "")
        }
    }

    /// "4", "4.0", "+4" → 4; nil for non-integral or huge values.
    static func integer(_ s: String) -> Int? {
        if let n = Int(s) { return n }
        if let d = Double(s), d.isFinite, d == d.rounded(), abs(d) < 1e9 { return Int(d) }
        return nil
    }
}
