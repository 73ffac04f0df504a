import Foundation
import Testing
@testable import SiloMergeCore

/// The XML tokenizer that reads XMP packets (and Office / OpenDocument properties): each
/// construct XML 1.0 and libxml2 handled for SiloMerge before, on packets ExifTool writes and on
/// hand-made edge cases.
@Suite("XML tokenizer")
struct XMLTokenizerTests {
    static let dc = "http://purl.org/dc/elements/1.1/"
    static let rdf = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

    static func tree(_ xml: String) -> XMLTokenizer.Outcome { tree(Array(xml.utf8)) }

    static func tree(_ bytes: [UInt8]) -> XMLTokenizer.Outcome {
        var b = bytes
        return XMLTokenizer.parse(&b, 0..<b.count)
    }

    static func xmp(_ xml: String) -> XMPParser.Result { XMPParser.parse(Array(xml.utf8), origin: .sidecar) }

    static func value(_ r: XMPParser.Result, _ tag: String) -> FieldValue? {
        r.values.first { $0.tag == tag }?.value
    }

    /// The malformed failure's (line, reason), nil when it parsed or failed otherwise.
    static func malformed(_ xml: String) -> (line: Int, reason: String)? {
        if case .malformed(let line, let reason)? = tree(xml).failure { return (line, reason) }
        return nil
    }

    static func wrap(_ body: String) -> String {
        """
        <?xpacket begin="\u{FEFF}" id="W5M0MpCehiHzreSzNTczkc9d"?>
        <x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="\(rdf)">
        <rdf:Description rdf:about="" xmlns:dc="\(dc)">\(body)</rdf:Description>
        </rdf:RDF></x:xmpmeta>
        <?xpacket end="w"?>
        """
    }

    // MARK: A packet ExifTool writes

    static let exiftool = "/usr/bin/exiftool"

    /// An XMP sidecar written by ExifTool (`exiftool -o x.xmp -XMP-…=…`): single-quoted
    /// attributes, the five entities and `&#39;`, namespaces declared on each rdf:Description,
    /// xml:lang, a literal LF and TAB in a value, UTF-8, the xpacket wrapper.
    static func exiftoolPacket() throws -> String {
        try #require(FileManager.default.isExecutableFile(atPath: exiftool), "exiftool is needed (.ci/run installs it)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("xt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.xmp")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exiftool)
        p.arguments = ["-q", "-o", out.path,
                       "-XMP-dc:Title=Café <Tom & \"Jerry\"> 's",
                       "-XMP-dc:Subject+=a&b", "-XMP-dc:Subject+=<tag>",
                       "-XMP-dc:Description=line1\nline2\ttab",
                       "-XMP-dc:Creator=Zoë", "-XMP-photoshop:City=Köln", "-XMP-xmp:Rating=4"]
        try p.run()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0)
        return try String(contentsOf: out, encoding: .utf8)
    }

    static func expectExiftoolValues(_ r: XMPParser.Result, _ context: String) {
        #expect(r.problems.isEmpty, "\(context): \(r.problems)")
        #expect(value(r, "XMP-dc:title") == .text("Café <Tom & \"Jerry\"> 's"), "\(context)")
        #expect(value(r, "XMP-dc:subject") == .list(["a&b", "<tag>"]), "\(context)")
        #expect(value(r, "XMP-dc:description") == .text("line1\nline2\ttab"), "\(context)")
        #expect(value(r, "XMP-dc:creator") == .list(["Zoë"]), "\(context)")
        #expect(value(r, "XMP-photoshop:City") == .text("Köln"), "\(context)")
        #expect(value(r, "XMP-xmp:Rating") == .integer(4), "\(context)")
    }

    @Test("an ExifTool sidecar: entities, &#39;, single quotes, child-scope namespaces, LF and TAB")
    func exiftoolSidecar() throws {
        let packet = try Self.exiftoolPacket()
        #expect(packet.contains("&amp;") && packet.contains("&#39;") && packet.contains("&quot;") && packet.contains("='"))
        Self.expectExiftoolValues(Self.xmp(packet), "as written")
        // Every namespace was declared on an rdf:Description, not on the root.
        let nodes = Self.tree(packet).elements
        #expect(nodes.contains { $0.namespace == "http://ns.adobe.com/photoshop/1.0/" && $0.name == "City" && $0.text == "Köln" })
        let li = nodes.first { $0.name == "li" && $0.text.hasPrefix("Café") }
        #expect(li?.attributes.map(\.namespace) == [XMPNamespace.xml])
    }

    @Test("CR LF and a lone CR in text become LF (the ExifTool packet with CR LF, then CR, line ends)")
    func lineEnds() throws {
        let packet = try Self.exiftoolPacket()
        Self.expectExiftoolValues(Self.xmp(packet.replacingOccurrences(of: "\n", with: "\r\n")), "CR LF")
        Self.expectExiftoolValues(Self.xmp(packet.replacingOccurrences(of: "\n", with: "\r")), "CR")
        // A character reference to CR is kept: it is not a line end in the source.
        #expect(Self.tree("<a>1&#13;2\r\n3\r4&#xD;&#10;</a>").elements.first?.text == "1\r2\n3\n4\r\n")
    }

    @Test("UTF-16 packets, with a byte-order mark and without, read as the UTF-8 one")
    func utf16() throws {
        let packet = try Self.exiftoolPacket()
        var le: [UInt8] = [0xFF, 0xFE], be: [UInt8] = []
        for u in packet.utf16 {
            le += [UInt8(u & 0xFF), UInt8(u >> 8)]
            be += [UInt8(u >> 8), UInt8(u & 0xFF)]
        }
        Self.expectExiftoolValues(XMPParser.parse(le, origin: .sidecar), "UTF-16LE with BOM")
        Self.expectExiftoolValues(XMPParser.parse(be, origin: .sidecar), "UTF-16BE without BOM")
    }

    // MARK: Character data and attributes

    @Test("entity and character references in text and attribute values")
    func references() {
        let t = Self.tree("<a b='&amp;&lt;&gt;&quot;&apos;&#65;&#x42;&#x1f600;'>&amp;&lt;&gt;&quot;&apos;&#65;&#x42;&#X43;</a>")
        // `&#X43;` (capital X) is not a reference: an error, as in libxml2.
        #expect(t.failure != nil)
        let ok = Self.tree("<a b='&amp;&lt;&gt;&quot;&apos;&#65;&#x42;&#x1f600;'>&amp;&lt;&gt;&quot;&apos;&#65;&#x42;&#x1F600;</a>")
        #expect(ok.failure == nil)
        #expect(ok.elements.first?.text == "&<>\"'AB😀")
        #expect(ok.elements.first?.attributes.first?.value == "&<>\"'AB😀")
        // References to code points XML does not allow, malformed ones and undefined entities.
        for bad in ["&#0;", "&#1;", "&#x8;", "&#xD800;", "&#xDFFF;", "&#xFFFE;", "&#xFFFF;", "&#x110000;",
                    "&#99999999999999999999;", "&#;", "&#x;", "&#-1;", "&nbsp;", "&xxe;", "&amp", "a & b", "&;"] {
            let r = Self.malformed("<a>\(bad)</a>")
            #expect(r != nil, "\(bad)")
            #expect(Self.malformed("<a b=\"\(bad)\"/>") != nil, "\(bad) in an attribute")
        }
        #expect(Self.malformed("<a>&nbsp;</a>")?.reason.contains("'nbsp' is not defined") == true)
        // The highest code points allowed pass.
        #expect(Self.tree("<a>&#x10FFFF;&#xFFFD;&#9;</a>").elements.first?.text == "\u{10FFFF}\u{FFFD}\t")
    }

    @Test("attribute values are normalised: TAB, CR, LF, CR LF each become one space; references are kept")
    func attributeNormalisation() {
        let t = Self.tree("<a b=\"1\t2\r\n3\r4\n5\" c=\"&#9;&#10;&#13;\" d='x \"y\" z' e=\"it's\"/>")
        #expect(t.failure == nil)
        let attrs = Dictionary(uniqueKeysWithValues: (t.elements.first?.attributes ?? []).map { ($0.name, $0.value) })
        #expect(attrs["b"] == "1 2 3 4 5")
        #expect(attrs["c"] == "\t\n\r")
        #expect(attrs["d"] == "x \"y\" z")
        #expect(attrs["e"] == "it's")
        // Through XMP: a property as an attribute of rdf:Description.
        let r = Self.xmp(Self.wrap("").replacingOccurrences(of: "rdf:about=\"\"", with: "rdf:about=\"\" dc:title=\"a\r\nb\tc\""))
        #expect(Self.value(r, "XMP-dc:title") == .text("a b c"))
    }

    @Test("attributes come sorted by qualified name, whatever their order in the tag")
    func attributeOrder() {
        let t = Self.tree("<a xmlns:p='http://p/' z='1' p:b='2' a='3' b='4'/>")
        #expect(t.elements.first?.attributes.map(\.name) == ["a", "b", "b", "z"])
        #expect(t.elements.first?.attributes.map(\.namespace) == ["", "", "http://p/", ""])
    }

    @Test("long runs are crossed eight bytes at a time: each kind of stop is found at every offset, in values and in text")
    func stopsAtEveryOffset() {
        // What a byte (sequence) put in a run of letters does, in an attribute value and in
        // character data: a long run is read word by word, so each is tried at every position
        // relative to the eight-byte words and at the end, before the closing quote or tag.
        let inValue: [(put: String, becomes: String?)] = [
            ("&amp;", "&"), ("&lt;", "<"), ("<", nil), ("\t", " "), ("\n", " "), ("\r", " "), ("\r\n", " "),
            ("'", "'"), ("]", "]"), ("]]>", "]]>"), ("\u{1}", nil), ("\u{1F}", nil), ("\u{FFFE}", nil), ("\u{FFFF}", nil),
            ("\u{FEFF}", "\u{FEFF}"), ("\u{EFFF}", "\u{EFFF}"), ("é", "é"), ("\u{7F}", "\u{7F}"), (" ", " "), ("=", "="),
        ]
        let inText: [(put: String, becomes: String?)] = [
            ("&amp;", "&"), ("&lt;", "<"), ("\t", "\t"), ("\n", "\n"), ("\r", "\n"), ("\r\n", "\n"), ("\"", "\""), ("'", "'"),
            ("]", "]"), ("]]", "]]"), ("]]>", nil), ("\u{1}", nil), ("\u{1F}", nil), ("\u{FFFE}", nil), ("\u{FFFF}", nil),
            ("\u{FEFF}", "\u{FEFF}"), ("é", "é"), ("\u{7F}", "\u{7F}"),
        ]
        // Short runs go byte by byte; past 64 bytes, word by word: each stop at every offset
        // of the first words, and of the words past the 64th byte.
        for before in Array(0..<19) + Array(60..<84) {
            for after in [0, 1, 7, 8, 9, 20] {
                let a = String(repeating: "a", count: before), z = String(repeating: "z", count: after)
                for (put, becomes) in inValue {
                    let t = Self.tree("<e v=\"\(a)\(put)\(z)\"/>")
                    if let becomes {
                        #expect(t.failure == nil && t.elements.first?.attributes.first?.value == a + becomes + z,
                                "value: \(before) + \(put.debugDescription) + \(after)")
                    } else {
                        #expect(Self.malformed("<e v=\"\(a)\(put)\(z)\"/>") != nil, "value: \(before) + \(put.debugDescription) + \(after)")
                    }
                }
                for (put, becomes) in inText {
                    let t = Self.tree("<e>\(a)\(put)\(z)</e>")
                    if let becomes {
                        #expect(t.failure == nil && t.elements.first?.text == a + becomes + z, "text: \(before) + \(put.debugDescription) + \(after)")
                    } else {
                        #expect(Self.malformed("<e>\(a)\(put)\(z)</e>") != nil, "text: \(before) + \(put.debugDescription) + \(after)")
                    }
                }
                // A run that ends the packet: an unterminated value or element, never a read past it.
                #expect(Self.malformed("<e v=\"\(a)\(z)") != nil, "unterminated value: \(before) + \(after)")
                if before + after > 0 {   // "<e>" alone is under the 4 bytes libxml2 needed: read as empty
                    #expect(Self.malformed("<e>\(a)\(z)") != nil, "unclosed element: \(before) + \(after)")
                }
            }
        }
    }

    @Test("CDATA sections are appended raw; ']]>' in text is an error")
    func cdata() {
        let t = Self.tree("<a>x<![CDATA[<b>&amp;\r\n]]]]>y</a>")
        #expect(t.elements.first?.text == "x<b>&amp;\r\n]]y")
        let r = Self.xmp(Self.wrap("<dc:title><![CDATA[Fish & <Chips>]]></dc:title>"))
        #expect(Self.value(r, "XMP-dc:title") == .text("Fish & <Chips>"))
        #expect(Self.malformed("<a>x]]>y</a>") != nil)
        #expect(Self.malformed("<a><![CDATA[x</a>")?.reason.contains("unterminated CDATA") == true)
        #expect(Self.malformed("<![CDATA[x]]><a/>") != nil)   // outside the root
        #expect(Self.tree("<a>] ]> ]]</a>").elements.first?.text == "] ]> ]]")
    }

    @Test("comments are skipped anywhere; '--' inside one is an error")
    func comments() {
        let t = Self.tree("<!-- before --><a>x<!-- <b>not an element</b> -->y<!---->z</a><!-- after -->")
        #expect(t.failure == nil)
        #expect(t.elements.count == 1)
        #expect(t.elements.first?.text == "xyz")
        #expect(Self.malformed("<a><!-- a -- b --></a>")?.reason.contains("'--'") == true)
        #expect(Self.malformed("<a><!-- a ---></a>") != nil)
        #expect(Self.malformed("<a><!-- never closed </a>")?.reason.contains("unterminated comment") == true)
        #expect(Self.malformed("<a><!- x --></a>") != nil)
    }

    @Test("processing instructions: skipped in the prolog and epilog, as many spaces in content (the old blanking)")
    func processingInstructions() {
        let t = Self.tree("<?xml version='1.0' encoding='UTF-16'?><?pi?><a>x<?pi data?>y</a><?y?>")
        #expect(t.failure == nil)
        // Before libxml2 saw the bytes every `<?…?>` was replaced by spaces: in content they were
        // character data, and stay so (values are trimmed).
        #expect(t.elements.first?.text == "x" + String(repeating: " ", count: 11) + "y")
        // Even inside a tag, an attribute value or CDATA, as before.
        let inTag = Self.tree("<a <?x?> b='1<?y?>'><![CDATA[c<?z?>d]]></a>")
        #expect(inTag.failure == nil)
        #expect(inTag.elements.first?.attributes.first?.value == "1     ")
        #expect(inTag.elements.first?.text == "c     d")
        // Unterminated: to the end, so the element is never closed.
        #expect(Self.malformed("<a><?x </a>")?.reason.contains("not closed") == true)
    }

    @Test("control characters and U+FFFE / U+FFFF are errors; NUL reads as a space; DEL and C1 pass")
    func characters() {
        for bad in ["\u{1}", "\u{8}", "\u{B}", "\u{C}", "\u{1F}", "\u{FFFE}", "\u{FFFF}"] {
            #expect(Self.malformed("<a>x\(bad)y</a>") != nil, "\(bad.unicodeScalars.first!.value) in text")
            #expect(Self.malformed("<a b='x\(bad)y'/>") != nil, "in an attribute")
            #expect(Self.malformed("<a><!-- \(bad) --></a>") != nil, "in a comment")
            #expect(Self.malformed("<a><![CDATA[\(bad)]]></a>") != nil, "in CDATA")
        }
        #expect(Self.tree("<a>\u{7F}\u{80}\u{9F}\u{FFFD}</a>").elements.first?.text == "\u{7F}\u{80}\u{9F}\u{FFFD}")
        let nul = Self.tree(Array("<a\0b='1'>x\0y</a>".utf8))
        #expect(nul.elements.first?.text == "x y")
        #expect(nul.elements.first?.attributes.first?.name == "b")
    }

    @Test("invalid UTF-8 is replaced (U+FFFD) and reported, then parsed")
    func invalidUTF8() {
        var bytes = Array(Self.wrap("<dc:title>caf__</dc:title>").utf8)
        let i = bytes.indexOfBytes(Array("__".utf8))!
        bytes[i] = 0xE9   // Latin-1 é
        bytes[i + 1] = 0xFF
        let r = XMPParser.parse(bytes, origin: .sidecar)
        #expect(r.problems.map(\.reason) == ["the XMP is not valid UTF-8; invalid bytes replaced"])
        #expect(Self.value(r, "XMP-dc:title") == .text("caf\u{FFFD}\u{FFFD}"))
        for bad: [UInt8] in [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82]] {   // overlong, surrogate, > U+10FFFF, cut
            #expect(bad.withUnsafeBufferPointer { XMLTokenizer.scanUTF8($0).valid } == false, "\(bad)")
        }
        let ascii = Array("0123456789abcdef\0xyz".utf8)
        #expect(ascii.withUnsafeBufferPointer { XMLTokenizer.scanUTF8($0) } == (true, true))
    }

    // MARK: Namespaces

    @Test("namespaces: default, undeclared, redeclared in a child scope, restored after it, xml predefined")
    func namespaces() {
        let t = Self.tree("""
            <r xmlns="http://d/" xmlns:p="http://p1/" a="1" p:a="2">\
            <p:c xmlns:p="http://p2/" p:x="3"><p:d/></p:c>\
            <p:e/><f xmlns=""><g xml:lang="en"/></f><h/></r>
            """)
        #expect(t.failure == nil)
        let names = t.elements.map { "{\($0.namespace)}\($0.name)" }
        #expect(names == ["{http://d/}r", "{http://p2/}c", "{http://p2/}d", "{http://p1/}e", "{}f", "{}g", "{http://d/}h"])
        // An unprefixed attribute has no namespace, even under a default one.
        #expect(t.elements[0].attributes.map { "{\($0.namespace)}\($0.name)" } == ["{}a", "{http://p1/}a"])
        #expect(t.elements[1].attributes.map(\.namespace) == ["http://p2/"])
        #expect(t.elements[5].attributes.map { "{\($0.namespace)}\($0.name)=\($0.value)" } == ["{\(XMPNamespace.xml)}lang=en"])
        #expect(t.elements[0].children == [1, 3, 4, 6])
    }

    @Test("prefixes: found by their bytes, or past 32 bindings through a dictionary; the same scoping either way")
    func manyBindings() {
        for count in [3, 40] {
            let decls = (0..<count).map { " xmlns:p\($0)='http://u/\($0)'" }.joined()
            let t = Self.tree("""
                <r\(decls)><p1:c xmlns:p1='http://z/'><p1:d/></p1:c><p1:e/>\
                <q xmlns:p2='http://w/' xmlns=''><p2:f/><g/></q><p2:h xml:lang='en'/></r>
                """)
            #expect(t.failure == nil, "\(count)")
            #expect(t.elements.map { "{\($0.namespace)}\($0.name)" }
                    == ["{}r", "{http://z/}c", "{http://z/}d", "{http://u/1}e", "{}q", "{http://w/}f", "{}g", "{http://u/2}h"], "\(count)")
            #expect(t.elements[7].attributes.map(\.namespace) == [XMPNamespace.xml])
            #expect(Self.malformed("<r\(decls) xmlns:p2='http://d/'/>")?.reason.contains("declared twice") == true, "\(count)")
            #expect(Self.malformed("<r\(decls)><a xmlns:z='http://z/'/><z:b/></r>")?.reason.contains("not bound") == true, "\(count)")
        }
        // Prefixes compare as Strings do, as when they were dictionary keys: a Kelvin sign is a K.
        #expect(Self.tree("<a xmlns:\u{212A}='http://k/'><K:b/></a>").elements.last?.namespace == "http://k/")
        #expect(Self.tree("<a xmlns:\u{E9}='http://e/'><e\u{301}:b/></a>").elements.last?.namespace == "http://e/")
    }

    @Test("common namespace names are judged once, as check judges them, and shared")
    func knownNamespaces() {
        for uri in [XMPNamespace.dc, XMPNamespace.rdf, XMPNamespace.xmp, "adobe:ns:meta/", "http://ns.adobe.com/xap/1.0/mm/"] {
            let known = URIReference.known(uri)
            #expect(known?.uri == uri)
            #expect(known.map { [$0.valid, $0.absolute] } == [URIReference.check(uri).valid, URIReference.check(uri).absolute])
        }
        #expect(URIReference.known("http://example.com/ns/") == nil)
        #expect(URIReference.known("relative") == nil)
        // A node's namespace is then the constant itself.
        #expect(Self.tree(Self.wrap("<dc:title>t</dc:title>")).elements.last?.namespace == XMPNamespace.dc)
    }

    @Test("namespace errors libxml2 made: unbound prefix, bad QName, empty prefixed namespace, relative default, invalid URI")
    func namespaceErrors() {
        #expect(Self.malformed("<p:a/>")?.reason.contains("not bound") == true)
        #expect(Self.malformed("<a q:b='1'/>")?.reason.contains("not bound") == true)
        #expect(Self.malformed("<a><b xmlns:q='http://q/'/><q:c/></a>")?.reason.contains("not bound") == true)   // out of scope
        #expect(Self.malformed("<a:b:c xmlns:a='http://a/'/>") != nil)
        #expect(Self.malformed("<:a/>") != nil)
        #expect(Self.malformed("<a: xmlns:a='http://a/'/>") != nil)
        #expect(Self.malformed("<a xmlns:p=''/>") != nil)
        #expect(Self.malformed("<a xmlns='relative'/>")?.reason.contains("not absolute") == true)
        #expect(Self.tree("<a xmlns:p='relative'/>").failure == nil)   // only the default namespace must be absolute
        #expect(Self.malformed("<a xmlns:p='http://u/ x'/>")?.reason.contains("not a valid URI") == true)
        #expect(Self.malformed("<a xmlns:p='http://u/{x}'/>") != nil)
        #expect(Self.malformed("<a xmlns:p='http://u/%zz'/>") != nil)
        #expect(Self.malformed("<a xmlns:p='http://u:/p'/>") != nil)
        #expect(Self.malformed("<a xmlns:xml='http://other/'/>") != nil)
        #expect(Self.malformed("<a xmlns:xmlns='http://x/'/>") != nil)
        #expect(Self.malformed("<a xmlns:p='http://u/' xmlns:p='http://u/'/>") != nil)
        for uri in ["adobe:ns:meta/", "http://ns.adobe.com/xap/1.0/sType/ResourceRef#", "uuid:faf5bdd5-ba3d-11da-ad31-d33d75182f1b",
                    "http://u/%20?q=1&amp;r#f", "http://[::1]:80/", "mailto:x@y", "urn:x:y"] {
            #expect(Self.tree("<a xmlns='\(uri)' xmlns:p='\(uri)'/>").failure == nil, "\(uri)")
        }
    }

    // MARK: Well-formedness errors

    @Test("each well-formedness error is a problem naming its line, and no value is read")
    func wellFormednessErrors() {
        let cases: [(String, String, Int)] = [
            ("<a>\n<b>\n</c>\n</a>", "does not match", 3),
            ("<a>\n<b>\n</b>\n", "not closed", 4),
            ("<a/>\njunk", "after the root", 2),
            ("<a/>\n<b/>", "second root", 2),
            ("x<a/>", "before the root", 1),
            ("<a b='1<2'/>", "'<' in an attribute value", 1),
            ("<a\nb='1'\nb='2'/>", "given twice", 1),
            ("<a xmlns:p='http://u/' xmlns:q='http://u/' p:x='1' q:x='2'/>", "given twice", 1),
            ("<a b=1/>", "not quoted", 1),
            ("<a b/>", "has no value", 1),
            ("<a b='1'c='2'/>", "not separated", 1),
            ("<a b='1", "unterminated attribute value", 1),
            ("<abc\n", "unterminated start tag", 1),
            ("<a></a", "unterminated end tag", 1),
            ("<a></a b='1'>", "unterminated end tag", 1),
            ("<a/ >", "'/' not followed by '>'", 1),
            ("<1a/>", "name", 1),
            ("< a/>", "name", 1),
            ("<a><!x></a>", "'<!'", 1),
            ("   \n  ", "no root element", 2),
        ]
        for (doc, reason, line) in cases {
            let m = Self.malformed(doc)
            #expect(m?.reason.contains(reason) == true, "\(doc.debugDescription): \(String(describing: m))")
            #expect(m?.line == line, "\(doc.debugDescription): line \(String(describing: m?.line))")
        }
        // Through XMP: one problem in the old wording, no values.
        let r = Self.xmp(Self.wrap("<dc:title>T</dc:title>\n<dc:rights>R</dc:right>"))
        #expect(r.values.isEmpty)
        #expect(r.problems.count == 1)
        #expect(r.problems.first?.reason.hasPrefix("the XMP is not well-formed XML (line 4): end tag </dc:right> does not match <dc:rights>") == true,
                "\(r.problems)")
        // Accepted: white space in end tags and around '=', an empty value.
        #expect(Self.tree("<a b = '' ></a >").failure == nil)
    }

    // MARK: Refusals and caps

    @Test("a DOCTYPE or ENTITY declaration anywhere outside a PI refuses the packet, before any other error")
    func declarations() {
        for doc in ["<!DOCTYPE a><a/>", "<!doctype a><a/>", "<a><!ENTITY x 'y'></a>", "<a><!-- <!DOCTYPE --></a>",
                    "<a><![CDATA[<!entity]]></a>", "<a></b><!DOCTYPE x>", "<a b='<!DOCTYPE'/>"] {
            #expect(Self.tree(doc).failure == .declaration, "\(doc)")
        }
        #expect(Self.tree("<a><?x <!DOCTYPE ?></a>").failure == nil)   // inside a PI: blanked, as before
        let r = Self.xmp("<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>" + Self.wrap("<dc:title>&e;</dc:title>"))
        #expect(r.values.isEmpty)
        #expect(r.problems.map(\.reason) == ["the XMP packet holds a DOCTYPE or ENTITY declaration; refused (entity expansion attacks)"])
    }

    @Test("depth is capped at maxXMLDepth, elements at maxNodes; neither recurses", .timeLimit(.minutes(2)))
    func caps() {
        let limit = MetadataLimits.maxXMLDepth
        func nested(_ depth: Int) -> String { String(repeating: "<a>", count: depth) + String(repeating: "</a>", count: depth) }
        #expect(Self.tree(nested(limit)).failure == nil)
        #expect(Self.tree(nested(limit)).elements.count == limit)
        #expect(Self.tree(nested(limit + 1)).failure == .tooDeep)
        #expect(Self.tree(nested(1_000_000)).failure == .tooDeep)
        let max = XMLTokenizer.maxNodes
        func flat(_ count: Int) -> String { "<r>" + String(repeating: "<b/>", count: count - 1) + "</r>" }
        #expect(Self.tree(flat(max)).elements.count == max)
        #expect(Self.tree(flat(max + 1)).failure == .tooManyNodes)
        let r = XMPParser.parse(Array(flat(max + 1).utf8), origin: .xmp)
        #expect(r.problems.map(\.reason) == ["the XMP has more than 500000 elements; refused"])
        let d = XMPParser.parse(Array(nested(limit + 1).utf8), origin: .xmp)
        #expect(d.problems.map(\.reason) == ["the XMP nests elements deeper than \(limit) levels; refused"])
    }

    @Test("many attributes or namespace declarations on one element stay linear", .timeLimit(.minutes(1)))
    func manyAttributes() {
        let count = 100_000
        let attrs = (0..<count).map { " a\($0)='\($0)'" }.joined()
        let decls = (0..<count).map { " xmlns:p\($0)='http://u/\($0)'" }.joined()
        let children = String(repeating: "<p7:c p9:x='1'/>", count: count)
        let t = Self.tree("<r\(attrs)\(decls)>\(children)</r>")
        #expect(t.failure == nil)
        #expect(t.elements.first?.attributes.count == count)
        #expect(t.elements.count == count + 1)
        #expect(t.elements.last?.namespace == "http://u/7")
        #expect(Self.malformed("<r\(attrs) a5='x'/>")?.reason.contains("given twice") == true)
    }

    @Test("duplicate attributes, few or many, by qualified name or by namespace and local name: refused exactly when there is one")
    func duplicateAttributesFewOrMany() {
        // Many (the sort-based check): a qualified name twice, and two prefixes of one URI.
        let many = (0..<40).map { " a\($0)='\($0)'" }.joined()
        let ns = " xmlns:p='http://u/' xmlns:q='http://u/' xmlns:r='http://v/'"
        #expect(Self.malformed("<e\(ns)\(many) p:x='1' a39='2'/>")?.reason == "attribute 'a39' given twice")
        #expect(Self.malformed("<e\(ns)\(many) p:x='1' q:x='2'/>")?.reason == "attribute 'x' in namespace 'http://u/' given twice")
        #expect(Self.tree("<e\(ns)\(many) p:x='1' r:x='2' x='3'/>").failure == nil)
        // Random attribute sets over a few local names and prefixes (two of them one URI):
        // refused exactly when two attributes share a qualified name or an expanded name.
        var g = SystemRandomNumberGenerator()
        let prefixes = ["", "p:", "q:", "r:"], uri = ["": "", "p:": "http://u/", "q:": "http://u/", "r:": "http://v/"]
        for _ in 0..<400 {
            let n = Int.random(in: 2...40, using: &g)
            let names = (0..<n).map { _ in prefixes.randomElement(using: &g)! + "n\(Int.random(in: 0..<(n * 2), using: &g))" }
            let qualified = Set(names).count < names.count
            let expanded = Set(names.map { name -> String in
                let colon = name.firstIndex(of: ":")
                let prefix = colon.map { String(name[...$0]) } ?? ""
                let local = colon.map { String(name[name.index(after: $0)...]) } ?? name
                return uri[prefix]! + " " + local
            }).count < names.count
            let xml = "<e\(ns)" + names.map { " \($0)='v'" }.joined() + "/>"
            let failure = Self.malformed(xml)
            #expect((failure?.reason.contains("given twice") ?? false) == (qualified || expanded), "\(xml)")
        }
    }

    @Test("a namespace filter: names and values in namespaces nobody reads are left out, and checked all the same")
    func namespaceFilter() {
        let long = String(repeating: "0123456789", count: 5000)
        let xml = "<r xmlns:p='http://p/' xmlns:q='http://q/' p:skip='\(long)' q:keep='\(long)' q:tab='a\tb' plain='x'>"
            + "<p:e p:a='1' q:b='2'/><q:e>t</q:e><e/></r>"
        var bytes = Array(xml.utf8)
        let filtered = XMLTokenizer.parse(&bytes, 0..<bytes.count) { $0 == "http://q/" }
        #expect(filtered.failure == nil)
        let elements = filtered.elements
        #expect(elements.map(\.name) == ["", "", "e", ""])          // r, p:e, q:e, e: no namespace is not read
        #expect(elements.map(\.namespace) == ["", "http://p/", "http://q/", ""])
        let attrs = (elements.first?.attributes ?? []).map { "\($0.namespace)|\($0.name)|\($0.value.count)" }
        // In qualified-name order, the ones read only (p:skip and plain, checked, are left out).
        #expect(attrs == ["http://q/|keep|\(long.count)", "http://q/|tab|3"])
        #expect(elements[1].attributes.map(\.name) == ["b"])
        #expect(elements[2].text == "t")
        // Unfiltered, every name and value is there.
        let all = Self.tree(xml)
        #expect(all.elements.map(\.name) == ["r", "e", "e", "e"])
        #expect(all.elements.first?.attributes.first { $0.name == "skip" }?.value == long)
        // What is left out is still checked: '<', an undefined entity, a control character, an
        // unbound prefix, a mismatched end tag, a duplicate attribute (by qualified name, and by
        // namespace and local name).
        for bad in ["<r xmlns:p='http://p/' p:skip='\(long)<'/>", "<r xmlns:p='http://p/' p:skip='&bogus;'/>",
                    "<r xmlns:p='http://p/' p:skip='\u{1}'/>", "<r xmlns:p='http://p/' z:skip='1'/>",
                    "<p:r xmlns:p='http://p/'></p:s>", "<r xmlns:p='http://p/' p:a='1' p:a='2'/>",
                    "<r xmlns:p='http://p/' xmlns:o='http://p/' p:a='1' o:a='2'/>"] {
            var b = Array(bad.utf8)
            #expect(XMLTokenizer.parse(&b, 0..<b.count) { _ in false }.failure != nil, "\(bad)")
        }
        // Through XMP: unmapped properties are left out; mapped ones, rdf:resource and xml:lang read.
        let desc = String(repeating: "a long description ", count: 100)
        let r = Self.xmp(Self.wrap("<dc:rights rdf:resource='http://example.com/licence/\(long)'/>"
                                   + "<dc:title><rdf:Alt><rdf:li xml:lang='de'>Titel</rdf:li><rdf:li xml:lang='x-default'>Title</rdf:li></rdf:Alt></dc:title>"
                                   + "<xmpMM:History><rdf:Seq><rdf:li stEvt:action='saved' xmlns:stEvt='http://ns.adobe.com/xap/1.0/sType/ResourceEvent#'/></rdf:Seq></xmpMM:History>")
            .replacingOccurrences(of: "rdf:about=\"\"", with: "rdf:about=\"\" xmlns:xmpMM='http://ns.adobe.com/xap/1.0/mm/' xmpMM:DocumentID='xmp.did:\(long)' dc:description='\(desc)'"))
        #expect(r.problems.isEmpty)
        #expect(Self.value(r, "XMP-dc:description") == .text(desc.metadataTrimmed))
        #expect(Self.value(r, "XMP-dc:rights") == .text("http://example.com/licence/" + long))
        #expect(Self.value(r, "XMP-dc:title") == .text("Title"))
    }

    @Test("the XMP filter reads exactly the namespaces whose properties can be mapped")
    func xmpNamespaceFilter() {
        for read in [XMPNamespace.rdf, XMPNamespace.xml, XMPNamespace.xmpNote, XMPNamespace.dc, XMPNamespace.xmp,
                     XMPNamespace.photoshop, XMPNamespace.exif, XMPNamespace.tiff, XMPNamespace.iptcCore,
                     XMPNamespace.dc + "ti"] {   // the joined key "…/1.1/ti" + "tle" names dc:title
            #expect(XMPMapping.readsNamespace(read), "\(read)")
        }
        for unread in ["", "http://ns.adobe.com/xap/1.0/mm/", "http://ns.adobe.com/exif/1.0/aux/",
                       "http://ns.adobe.com/camera-raw-settings/1.0/", "http://ns.google.com/photos/1.0/depthmap/",
                       "http://purl.org/dc/elements/1.1", XMPNamespace.pdf] {
            #expect(!XMPMapping.readsNamespace(unread), "\(unread)")
        }
        // The odd case, end to end: a namespace that joins with a name into a target's key.
        let r = Self.xmp(Self.wrap("").replacingOccurrences(of: "rdf:about=\"\"",
                                                            with: "rdf:about=\"\" xmlns:t='\(XMPNamespace.dc)ti' t:tle='joined'"))
        #expect(r.values.first { $0.field == .title }?.value == .text("joined"))
    }

    @Test("an element of a namespace not read keeps no text, and is checked as strictly as before")
    func unreadElementsKeepNoText() {
        let xml = "<r xmlns:dc='\(Self.dc)' xmlns:h='urn:history'><dc:t>kept &amp; <![CDATA[here]]>\r\n</dc:t>"
            + "<h:e>dropped &amp; <![CDATA[gone]]><?pi x?></h:e><dc:u>also</dc:u></r>"
        var b = Array(xml.utf8)
        let t = XMLTokenizer.parse(&b, 0..<b.count, reads: { $0 == Self.dc })
        #expect(t.failure == nil)
        let els = t.elements
        #expect(els.first { $0.name == "t" }?.text == "kept & here\n")
        #expect(els.first { $0.name == "u" }?.text == "also")
        #expect(els.contains { $0.name.isEmpty && $0.namespace == "urn:history" && $0.text.isEmpty })
        // Its attributes are left out, a read one kept; a duplicate is an error all the same.
        var a = Array("<r xmlns:dc='\(Self.dc)' xmlns:h='urn:history' h:z='1' dc:x='2' h:a='3'/>".utf8)
        let attrs = XMLTokenizer.parse(&a, 0..<a.count, reads: { $0 == Self.dc }).elements.first?.attributes
        #expect(attrs?.count == 1 && attrs?.first?.name == "x" && attrs?.first?.value == "2")
        var twice = Array("<r xmlns:h='urn:history' xmlns:g='urn:history' h:z='1' g:z='2'/>".utf8)
        #expect(XMLTokenizer.parse(&twice, 0..<twice.count, reads: { $0 == Self.dc }).failure != nil)
        // Unread or not, a bad reference or a stray "]]>" is still an error.
        for bad in ["<r xmlns:h='urn:history'><h:e>&bogus;</h:e></r>", "<r xmlns:h='urn:history'><h:e>a]]>b</h:e></r>",
                    "<r xmlns:h='urn:history'><h:e>&#0;</h:e></r>"] {
            var bb = Array(bad.utf8)
            #expect(XMLTokenizer.parse(&bb, 0..<bb.count, reads: { $0 == Self.dc }).failure != nil, "\(bad)")
        }
        // End to end: a history's values make no property, and the mapped ones are all there.
        let r = Self.xmp(Self.wrap("<dc:title><rdf:Alt><rdf:li xml:lang='x-default'>Title</rdf:li></rdf:Alt></dc:title>"
                                   + "<xmpMM:History><rdf:Seq><rdf:li>saved &amp; saved</rdf:li></rdf:Seq></xmpMM:History>")
            .replacingOccurrences(of: "rdf:about=\"\"", with: "rdf:about=\"\" xmlns:xmpMM='http://ns.adobe.com/xap/1.0/mm/'"))
        #expect(r.problems.isEmpty)
        #expect(Self.value(r, "XMP-dc:title") == .text("Title"))
        #expect(r.values.count == 1)
    }

    @Test("the XMP namespace constants compare by length first as == does: ASCII without K, ';' or '`'")
    func namespaceConstantsCompareByLength() {
        let constants = [XMPNamespace.rdf, XMPNamespace.xml, XMPNamespace.dc, XMPNamespace.xmp, XMPNamespace.photoshop,
                         XMPNamespace.exif, XMPNamespace.tiff, XMPNamespace.iptcCore, XMPNamespace.xmpNote, XMPNamespace.pdf]
        for c in constants {
            #expect(c.utf8.allSatisfy { $0 < 0x80 && $0 != UInt8(ascii: "K") && $0 != UInt8(ascii: ";") && $0 != UInt8(ascii: "`") }, "\(c)")
        }
        // Why it matters: strings of different lengths can be ==.
        #expect("\u{212A}" == "K" && !same("\u{212A}", "K"))
        #expect(same(XMPNamespace.dc, String(decoding: Array(XMPNamespace.dc.utf8), as: UTF8.self)))
        #expect(!same(XMPNamespace.xmp, XMPNamespace.xmpNote))
    }

    @Test("names: ASCII through a table, then any non-ASCII name character, at the start or after ASCII")
    func nameCharacters() {
        for name in ["a", "_x", "a-b.c_9", "\u{E9}t\u{E9}", "x\u{E9}", "\u{E9}x", "a\u{B7}b", "\u{10000}z"] {
            let t = Self.tree("<\(name) \(name)='1'/>")
            #expect(t.failure == nil, "\(name)")
            #expect(t.elements.first?.name == name && t.elements.first?.attributes.first?.name == name, "\(name)")
        }
        // Characters no name may start with: a digit, '-', '.', U+00B7.
        for bad in ["1a", "-a", ".a", "\u{B7}a"] {
            #expect(Self.malformed("<\(bad)/>") != nil, "\(bad)")
        }
    }
}
