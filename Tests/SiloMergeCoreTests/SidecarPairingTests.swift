import Foundation
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

private func names(_ list: String...) -> [[UInt8]] { list.map { Array($0.utf8) } }
private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// An SVG as Illustrator saves one: a DOCTYPE, and an XMP packet in <metadata> whose prefixes
/// are declared on the <svg> root.
let illustratorSVG = """
    <?xml version="1.0" encoding="utf-8"?>
    <!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
    <svg version="1.1" xmlns="http://www.w3.org/2000/svg" xmlns:x="adobe:ns:meta/"
         xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" width="640" height="480px">
    <metadata>
    <x:xmpmeta x:xmptk="Adobe XMP Core 5.6">
     <rdf:RDF>
      <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
       <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Vector logo</rdf:li></rdf:Alt></dc:title>
       <dc:rights><rdf:Alt><rdf:li xml:lang="x-default">(c) Vector Co</rdf:li></rdf:Alt></dc:rights>
      </rdf:Description>
     </rdf:RDF>
    </x:xmpmeta>
    </metadata>
    <circle cx="5" cy="5" r="4"/>
    </svg>
    """

@Suite("XMP sidecars: paired as the tools that write them name them")
struct SidecarPairingTests {
    @Test("name.ext.xmp names its file; name.xmp the one file of its stem; both forms: name.ext.xmp used")
    func conventions() {
        let exact = SidecarPlan(files: names("a.jpg", "a.jpg.xmp", "b.png"), excluded: [])
        #expect(exact.attachments[Array("a.jpg".utf8)]?.map { text($0.name) } == ["a.jpg.xmp"])
        #expect(exact.attachments[Array("b.png".utf8)] == nil)

        let stem = SidecarPlan(files: names("IMG_1.CR2", "IMG_1.xmp"), excluded: [])
        #expect(stem.attachments[Array("IMG_1.CR2".utf8)]?.first?.form == .name)
        #expect(stem.unattached.isEmpty)

        let both = SidecarPlan(files: names("a.jpg", "a.jpg.xmp", "a.xmp"), excluded: [])
        let list = both.attachments[Array("a.jpg".utf8)] ?? []
        #expect(list.map { text($0.name) } == ["a.jpg.xmp", "a.xmp"])
        #expect(list.map(\.used) == [true, false])

        let lone = SidecarPlan(files: names("notes.xmp", "other.txt"), excluded: [])
        #expect(lone.sidecars.isEmpty && lone.unattached.isEmpty)
    }

    @Test("A name.xmp beside several files of its stem is attached to none and says which; Lightroom's raw + JPEG pair is the raw's")
    func ambiguity() {
        let two = SidecarPlan(files: names("logo.jpg", "logo.png", "logo.xmp"), excluded: [])
        #expect(two.attachments.isEmpty)
        #expect(two.sidecars.isEmpty)
        #expect(two.unattached.map { text($0.name) } == ["logo.xmp"])
        #expect(two.unattached.first?.candidates.map(text) == ["logo.jpg", "logo.png"])
        #expect(two.unattached.first?.reason == .ambiguous)

        let pair = SidecarPlan(files: names("IMG_0042.CR2", "IMG_0042.JPG", "IMG_0042.xmp"), excluded: [])
        #expect(pair.attachments.keys.map(text) == ["IMG_0042.CR2"])
        #expect(pair.unattached.isEmpty)

        let tworaw = SidecarPlan(files: names("IMG_0042.CR2", "IMG_0042.dng", "IMG_0042.JPG", "IMG_0042.xmp"), excluded: [])
        #expect(tworaw.attachments.isEmpty)
        #expect(tworaw.unattached.first?.candidates.map(text) == ["IMG_0042.CR2", "IMG_0042.JPG", "IMG_0042.dng"])
        // The name.ext.xmp of one of them is unambiguous.
        let exact = SidecarPlan(files: names("logo.jpg", "logo.png", "logo.png.xmp"), excluded: [])
        #expect(exact.attachments.keys.map(text) == ["logo.png"])
    }

    @Test("A .xmp that is an SVG, or not an XMP packet, is not a sidecar")
    func contentDecides() {
        let svg = SidecarPlan(files: names("logo.png", "logo.xmp"), excluded: []) { _ in SidecarPlan.classify(head: Array(illustratorSVG.utf8)) }
        #expect(svg.attachments.isEmpty)
        #expect(svg.unattached.first?.reason == .notXMP(kind: "an SVG image"))

        #expect(SidecarPlan.classify(head: Array(xmpPacket(title: "t").utf8)) == .xmp)
        #expect(SidecarPlan.classify(head: Array("<?xml version=\"1.0\"?>\n<!-- c -->\n<rdf:RDF xmlns:rdf=\"x\"/>".utf8)) == .xmp)
        #expect(SidecarPlan.classify(head: Array("<x:xmpmeta><rdf:RDF><unclosed".utf8)) == .xmp)   // broken, still a sidecar (its reader says why)
        var utf16: [UInt8] = [0xFE, 0xFF]
        for u in "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"/>".utf16 { utf16 += [UInt8(u >> 8), UInt8(u & 0xFF)] }
        #expect(SidecarPlan.classify(head: utf16) == .xmp)
        #expect(SidecarPlan.classify(head: Array("<svg xmlns=\"http://www.w3.org/2000/svg\"><metadata><x:xmpmeta/></metadata></svg>".utf8)) == .other(kind: "an SVG image"))
        #expect(SidecarPlan.classify(head: Array("<?xml version=\"1.0\"?><doc><x:xmpmeta/></doc>".utf8)) == .other(kind: "an XML document whose root is <doc>"))
        #expect(SidecarPlan.classify(head: Array("hello".utf8)) == .other(kind: nil))
        #expect(SidecarPlan.classify(head: []) == .other(kind: nil))
    }

    @Test("Scanned: a lone name.xmp beside name.jpg and name.png leaks into neither; an SVG named .xmp is an SVG file")
    func scannedAmbiguity() throws {
        let tree = try TestTree()
        try tree.write("s/logo.jpg", try Fixture.bytes("hr/onboarding/welcome-pack/our-products.jpg"))
        try tree.write("s/logo.png", try Fixture.bytes("marketing/logo.png"))
        try tree.write("s/logo.xmp", try Fixture.bytes("hr/staff-photos/offsite-2023/team_offsite.xmp"))
        try tree.write("s/chart.png", try Fixture.bytes("marketing/about/org-chart.png"))
        try tree.write("s/chart.xmp", illustratorSVG)
        let (result, store) = try scan(tree, [tree.silo("s")])
        let notes = result.diagnostics.filter { $0.code == .sidecar }
        #expect(notes.contains { $0.path == RelativePath("logo.xmp") && $0.message.contains("logo.jpg, logo.png") && $0.message.contains("attached to none") })
        #expect(notes.contains { $0.path == RelativePath("chart.xmp") && $0.message.contains("is an SVG image, not an XMP sidecar of chart.png") })
        let rows = try probe(store).metadata().filter { $0.field == "rights" }
        let hrRights = rows.filter { $0.value.contains("For internal HR use only") }.map(\.fileName)
        #expect(hrRights == ["logo.xmp"], "the HR sidecar's rights leaked into \(hrRights)")
        #expect(try probe(store).sidecars().count == 0)
        let formats = Dictionary(uniqueKeysWithValues: try probe(store).files().map { ($0.name, $0.format!) })
        #expect(formats["logo.xmp"] == "xmp")
        #expect(formats["chart.xmp"] == "svg")
        #expect(formats.count == 5)
    }

    @Test("An SVG with XMP is read as an SVG: its size, and the packet's values with the root's namespaces")
    func svgWithXMP() throws {
        let svg = MetadataReader.read(DataByteSource(Array(illustratorSVG.utf8)))
        #expect(svg.format == .svg)
        #expect(svg.problems.isEmpty, "\(svg.problems)")
        #expect(svg.width == 640 && svg.height == 480)
        #expect(svg.values.contains { $0.field == .title && $0.value == .text("Vector logo") })
        #expect(svg.values.contains { $0.field == .rights && $0.value == .text("(c) Vector Co") })
        // Without a packet: still an SVG, with no problem; with units ExifTool keeps as text, no pixel size.
        let plain = MetadataReader.read(DataByteSource(Array("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"210mm\" height=\"297mm\"><rect/></svg>".utf8)))
        #expect(plain.format == .svg)
        #expect(plain.problems.isEmpty)
        #expect(plain.width == nil)
        // A bare XMP file is still one.
        #expect(MetadataReader.read(DataByteSource(Array(xmpPacket(title: "x").utf8))).format == .xmp)
    }
    @Test("A sidecar rewritten as something else is looked at again on the next scan: no longer a sidecar")
    func sidecarThatChangesNature() throws {
        let tree = try TestTree()
        try tree.write("s/chart.png", try Fixture.bytes("marketing/about/org-chart.png"))
        try tree.write("s/chart.xmp", xmpPacket(title: "Org chart"))
        let (_, store) = try scan(tree, [tree.silo("s")])
        let sidecars = { try probe(store).sidecars().count }
        #expect(try sidecars() == 1)
        let again = try CheckEngine(store: store).check()
        #expect(again.outcome == .unchanged, "an unchanged sidecar stays one: \(again.findings)")
        try tree.write("s/chart.xmp", illustratorSVG)
        let changed = try CheckEngine(store: store).check()
        #expect(try sidecars() == 0)
        #expect(changed.findings.contains { $0.kind == .new && $0.path == RelativePath("chart.xmp") })
        #expect(changed.findings.contains { $0.kind == .metadataDrift && ($0.detail ?? "").contains("sidecar removed (chart.xmp)") })
    }
}
