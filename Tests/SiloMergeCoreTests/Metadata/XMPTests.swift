import Foundation
import Testing
@testable import SiloMergeCore
import SiloMergeTestSupport

@Suite("Metadata: XMP and sidecars")
struct MetadataXMPTests {
    static func wrap(_ body: String, namespaces: String = "") -> String {
        """
        <?xpacket begin="\u{FEFF}" id="W5M0MpCehiHzreSzNTczkc9d"?>
        <x:xmpmeta xmlns:x="adobe:ns:meta/">
         <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
          \(body)
         </rdf:RDF>
        </x:xmpmeta>
        <?xpacket end="w"?>
        """
    }

    static func parse(_ xmp: String) -> (values: [SourcedValue], problems: [MetadataProblem]) {
        MetadataReader.readSidecar(Array(xmp.utf8))
    }

    static func value(_ r: (values: [SourcedValue], problems: [MetadataProblem]), _ tag: String) -> FieldValue? {
        r.values.first { $0.tag == tag }?.value
    }

    @Test("both sidecars of intro-hero.jpg parse")
    func introHeroSidecars() throws {
        let truth = try Fixture.truth()
        let sidecars = try #require((truth["sidecars"] as? [String: [String]])?["training/module-01/images/intro-hero.jpg"])
        #expect(sidecars.count == 2)
        let winner = MetadataReader.readSidecar(try Fixture.bytes("training/module-01/images/intro-hero.jpg.xmp"))
        #expect(winner.problems.isEmpty)
        #expect(Self.value(winner, "XMP-dc:title") == .text("Module 1 - Welcome hero"))
        #expect(Self.value(winner, "XMP-dc:subject") == .list(["module 1", "welcome"]))
        #expect(winner.values.allSatisfy { $0.origin == .sidecar })
        let loser = MetadataReader.readSidecar(try Fixture.bytes("training/module-01/images/intro-hero.xmp"))
        #expect(loser.problems.isEmpty)
        #expect(Self.value(loser, "XMP-dc:title") == .text("Intro hero (legacy sidecar)"))
        #expect(Self.value(loser, "XMP-dc:subject") == .list(["legacy"]))
    }

    @Test("the other sidecars: GPS in the 'deg,min.frac' form, creators, rights")
    func otherSidecars() throws {
        let hr = MetadataReader.readSidecar(try Fixture.bytes("hr/staff-photos/offsite-2023/team_offsite.xmp"))
        #expect(hr.problems.isEmpty)
        #expect(Self.value(hr, "XMP-dc:creator") == .list(["Jo Mendes"]))
        #expect(Self.value(hr, "XMP-dc:subject") == .list(["offsite", "team", "HR", "staff event"]))
        guard case .gps(let lat, let lon)? = Self.value(hr, "XMP-exif:GPSLatitude/GPSLongitude") else {
            Issue.record("no GPS"); return
        }
        #expect(abs(lat - 38.7139) < 1e-9 && abs(lon + 9.1394) < 1e-9)
        let teaser = MetadataReader.readSidecar(try Fixture.bytes("marketing/campaigns/2023/summer-launch/teaser.xmp"))
        guard case .gps(let plat, let plon)? = Self.value(teaser, "XMP-exif:GPSLatitude/GPSLongitude") else {
            Issue.record("no GPS"); return
        }
        #expect(abs(plat - 41.1496) < 1e-9 && abs(plon + 8.611) < 1e-9)
    }

    @Test("RDF form 1: properties as attributes of rdf:Description")
    func attributeForm() {
        let r = Self.parse(Self.wrap("""
          <rdf:Description rdf:about="" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
            xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/"
            xmlns:exif="http://ns.adobe.com/exif/1.0/"
            photoshop:City="Lisbon" photoshop:DateCreated="2023-06-14T18:30:00.25+01:00" xmp:Rating="3"
            tiff:Orientation="6" tiff:Make="Canon" exif:PixelXDimension="4000" exif:PixelYDimension="3000"
            exif:GPSLatitude="51,30,30N" exif:GPSLongitude="0,7.5W"/>
        """))
        #expect(r.problems.isEmpty)
        #expect(Self.value(r, "XMP-photoshop:City") == .text("Lisbon"))
        #expect(Self.value(r, "XMP-photoshop:DateCreated") == .date("2023-06-14T18:30:00.25+01:00"))
        #expect(Self.value(r, "XMP-xmp:Rating") == .integer(3))
        #expect(Self.value(r, "XMP-tiff:Orientation") == .integer(6))
        #expect(Self.value(r, "XMP-tiff:Make") == .text("Canon"))
        #expect(Self.value(r, "XMP-exif:PixelXDimension") == .integer(4000))
        #expect(Self.value(r, "XMP-exif:PixelYDimension") == .integer(3000))
        guard case .gps(let lat, let lon)? = Self.value(r, "XMP-exif:GPSLatitude/GPSLongitude") else {
            Issue.record("no GPS"); return
        }
        #expect(abs(lat - 51.508333333) < 1e-6)
        #expect(abs(lon + 0.125) < 1e-9)
    }

    @Test("RDF form 2: properties as child elements with text (any prefix)")
    func elementForm() {
        let r = Self.parse(Self.wrap("""
          <rdf:Description rdf:about="" xmlns:ps="http://ns.adobe.com/photoshop/1.0/"
              xmlns:core="http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/" xmlns:t="http://ns.adobe.com/tiff/1.0/">
            <ps:State> Lisboa </ps:State>
            <core:CountryName>Portugal</core:CountryName>
            <t:ImageWidth>640</t:ImageWidth>
            <t:ImageLength>480</t:ImageLength>
            <ps:Country></ps:Country>
          </rdf:Description>
        """))
        #expect(r.problems.isEmpty)
        #expect(Self.value(r, "XMP-photoshop:State") == .text("Lisboa"))
        #expect(Self.value(r, "XMP-Iptc4xmpCore:CountryName") == .text("Portugal"))
        #expect(Self.value(r, "XMP-tiff:ImageWidth") == .integer(640))
        #expect(Self.value(r, "XMP-tiff:ImageLength") == .integer(480))
        #expect(Self.value(r, "XMP-photoshop:Country") == nil)   // empty values are dropped
    }

    @Test("RDF form 3: Bag, Seq and Alt containers; Alt prefers x-default")
    func containerForm() {
        let r = Self.parse(Self.wrap("""
          <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
            <dc:subject><rdf:Bag><rdf:li> one </rdf:li><rdf:li></rdf:li><rdf:li>two</rdf:li></rdf:Bag></dc:subject>
            <dc:creator><rdf:Seq><rdf:li>Ana</rdf:li><rdf:li>Jo</rdf:li></rdf:Seq></dc:creator>
            <dc:title><rdf:Alt><rdf:li xml:lang="fr">Titre</rdf:li><rdf:li xml:lang="x-default">Title</rdf:li></rdf:Alt></dc:title>
            <dc:rights><rdf:Alt><rdf:li xml:lang="pt">Direitos</rdf:li><rdf:li xml:lang="en">Rights</rdf:li></rdf:Alt></dc:rights>
            <dc:description><rdf:Alt><rdf:li xml:lang="x-default"><rdf:Description><rdf:value>Qualified</rdf:value></rdf:Description></rdf:li></rdf:Alt></dc:description>
          </rdf:Description>
        """))
        #expect(r.problems.isEmpty)
        #expect(Self.value(r, "XMP-dc:subject") == .list(["one", "two"]))
        #expect(Self.value(r, "XMP-dc:creator") == .list(["Ana", "Jo"]))
        #expect(Self.value(r, "XMP-dc:title") == .text("Title"))
        #expect(Self.value(r, "XMP-dc:rights") == .text("Direitos"))
        #expect(Self.value(r, "XMP-dc:description") == .text("Qualified"))
    }

    @Test("all three forms mixed, several descriptions, structures ignored, UTF-16")
    func mixed() {
        let xmp = Self.wrap("""
          <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" dc:format="image/jpeg">
            <dc:title><rdf:Alt><rdf:li xml:lang="x-default">T &amp; U</rdf:li></rdf:Alt></dc:title>
          </rdf:Description>
          <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
              xmlns:Iptc4xmpCore="http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/" xmp:CreateDate="2023-06-14">
            <Iptc4xmpCore:CreatorContactInfo rdf:parseType="Resource"><Iptc4xmpCore:CiAdrCity>X</Iptc4xmpCore:CiAdrCity></Iptc4xmpCore:CreatorContactInfo>
            <xmp:Rating>4.0</xmp:Rating>
          </rdf:Description>
        """)
        let r = Self.parse(xmp)
        #expect(r.problems.isEmpty)
        #expect(Self.value(r, "XMP-dc:title") == .text("T & U"))
        #expect(Self.value(r, "XMP-xmp:CreateDate") == .date("2023-06-14"))
        #expect(Self.value(r, "XMP-xmp:Rating") == .integer(4))
        // The same packet in UTF-16 (big- and little-endian, with a BOM).
        for bigEndian in [true, false] {
            var bytes: [UInt8] = bigEndian ? [0xFE, 0xFF] : [0xFF, 0xFE]
            for u in xmp.utf16 { bytes += bigEndian ? [UInt8(u >> 8), UInt8(u & 0xFF)] : [UInt8(u & 0xFF), UInt8(u >> 8)] }
            let r16 = MetadataReader.readSidecar(bytes)
            #expect(r16.problems.isEmpty)
            #expect(r16.values.first { $0.tag == "XMP-dc:title" }?.value == .text("T & U"))
        }
    }

    @Test("processing instructions without data (a Foundation crash on Linux) and invalid UTF-8 are harmless")
    func processingInstructions() {
        let body = "<rdf:Description xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><?pi?><dc:title>T<?x?></dc:title></rdf:Description>"
        let r = Self.parse("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>" + Self.wrap(body) + "<?y?>")
        #expect(r.problems.isEmpty)
        #expect(Self.value(r, "XMP-dc:title") == .text("T"))
        // Invalid UTF-8 inside an element name and a text value: repaired, reported, parsed.
        var bytes = Array(Self.wrap("<rdf:Description xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:subjXct>a</dc:subjXct><dc:title>caf\u{E9}</dc:title></rdf:Description>").utf8)
        bytes[bytes.indexOfBytes(Array("subjX".utf8))! + 4] = 0xEF
        bytes[bytes.lastIndexOfBytes(Array("subjX".utf8))! + 4] = 0xEF
        let c = bytes.indexOfBytes(Array("caf".utf8))! + 3
        bytes.replaceSubrange(c..<(c + 2), with: [0xE9])
        let u = MetadataReader.readSidecar(bytes)
        #expect(u.problems.contains { $0.reason.contains("not valid UTF-8") })
        #expect(u.values.first { $0.tag == "XMP-dc:title" }?.value == .text("caf\u{FFFD}"))
        // The input the fuzzer crashed Foundation with (tools/fuzz, crash-24280e78…): a broken JPEG
        // whose bytes, read as a sidecar, hold "<?xpacket" + invalid UTF-8 + "?>", a PI without data.
        let hex = """
            ffd8ffe000104a46494600010101004800480000ffe1020a4578696600004d4d002a00000008000c010e000200000029
            0000009e010f000200000005000000c8011000020001000000030000000100780000a003000300000001005a00000000
            0000323032333a30333a30322031313a31353a3430002020202020202020202020202020202020202020202020202020
            202020200a20202020202020202020202020202020202020202020202020202020202020202020202020202020202020
            202020202020202020202020200a3c3f787061636b6574e09a919bc2d888dc3f3effdb00430006040506050406060506
            070a4cfc8a99ac246e1038d418475be2b915ff0020b9c0883c8bae06a7ffd9
            """.filter { !$0.isWhitespace }
        let artifact = stride(from: 0, to: hex.count, by: 2).map { i -> UInt8 in
            let a = hex.index(hex.startIndex, offsetBy: i)
            return UInt8(hex[a...hex.index(after: a)], radix: 16)!
        }
        #expect(artifact.count == 271)
        _ = MetadataReader.read(DataByteSource(artifact))
        #expect(MetadataReader.readSidecar(artifact).values.isEmpty)
        _ = MetadataReader.readSidecar(Array("<?x?><a/>".utf8))
    }

    @Test("a standalone XMP file read with read() is sniffed as xmp, origin sidecar")
    func standaloneRead() throws {
        let m = MetadataReader.read(DataByteSource(try Fixture.bytes("training/module-01/images/intro-hero.jpg.xmp")))
        #expect(m.format == .xmp)
        #expect(m.first(.title, from: .sidecar)?.value == .text("Module 1 - Welcome hero"))
    }

    @Test("billion laughs: a DOCTYPE is refused before parsing", .timeLimit(.minutes(3)))
    func billionLaughs() {
        var entities = "<!ENTITY lol \"lol\">\n"
        for i in 1...9 {
            let prev = i == 1 ? "lol" : "lol\(i - 1)"
            entities += "<!ENTITY lol\(i) \"" + String(repeating: "&\(prev);", count: 10) + "\">\n"
        }
        let doc = """
        <?xml version="1.0"?>
        <!DOCTYPE x:xmpmeta [
        \(entities)]>
        <x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
        <rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>&lol9;</dc:title></rdf:Description>
        </rdf:RDF></x:xmpmeta>
        """
        let start = Date()
        let r = Self.parse(doc)
        #expect(r.values.isEmpty)
        #expect(r.problems.contains { $0.reason.contains("DOCTYPE") })
        #expect(Date().timeIntervalSince(start) < 2)
        // An external entity too, and a lower-case declaration.
        let external = "<!doctype x [<!entity e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>"
        #expect(Self.parse(external).problems.count == 1)
        // An undeclared entity reference is a well-formedness error, never expanded.
        let undeclared = Self.parse(Self.wrap("<rdf:Description xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>&xxe;</dc:title></rdf:Description>"))
        #expect(undeclared.values.isEmpty)
        #expect(!undeclared.problems.isEmpty)
    }

    @Test("10,000-deep nesting is refused", .timeLimit(.minutes(3)))
    func deepNesting() {
        let depth = 10_000
        let doc = Self.wrap("<rdf:Description xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>"
            + String(repeating: "<a>", count: depth) + "x" + String(repeating: "</a>", count: depth)
            + "</dc:title></rdf:Description>")
        let start = Date()
        let r = Self.parse(doc)
        #expect(r.values.isEmpty)
        #expect(r.problems.contains { $0.reason.contains("deeper than") })
        #expect(Date().timeIntervalSince(start) < 2)
    }

    @Test("malformed, empty, oversized and non-XML input give problems, never values")
    func malformed() {
        for doc in ["", "   ", "not xml at all", "<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF", "<a></b>",
                    Self.wrap("<rdf:Description><dc:title>no namespace</dc:title></rdf:Description>")] {
            let r = Self.parse(doc)
            #expect(r.values.isEmpty, "\(doc)")
        }
        #expect(!Self.parse("<a></b>").problems.isEmpty)
        let huge = [UInt8](repeating: 0x20, count: 16 * 1024 * 1024 + 1)
        #expect(MetadataReader.readSidecar(huge).problems.first?.reason.contains("limit") == true)
    }
}
