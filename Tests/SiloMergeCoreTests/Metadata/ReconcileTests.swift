import Foundation
import Testing
@testable import SiloMergeCore
import SiloMergeTestSupport

@Suite("Metadata: IPTC digest and MWG in-file reconciliation")
struct MetadataReconcileTests {
    static func digestInfo() throws -> [String: Any] {
        try #require(try Fixture.truth()["iptc_digest"] as? [String: Any])
    }

    @Test("digest states of every JPEG agree with truth.json")
    func digestStates() throws {
        let info = try Self.digestInfo()
        let all = try #require(info["all_jpegs"] as? [String: String])
        #expect(all.count >= 7)
        for (file, state) in all {
            #expect(try Fixture.read(file).iptcDigest == IPTCDigestState(rawValue: state), "\(file)")
        }
    }

    @Test("digest matches: XMP is preferred to the differing IPTC caption")
    func digestMatchesPrefersXMP() throws {
        let info = try Self.digestInfo()
        let file = try #require(info["matches"] as? String)
        let preferred = try #require((info["mwg_preferred_description"] as? [String: String])?[file])
        let m = try Fixture.read(file)
        #expect(m.iptcDigest == .matches)
        let caption = try #require(m.first(.description, from: .iptc)?.value.text)
        let xmp = try #require(m.first(.description, from: .xmp)?.value.text)
        #expect(caption != xmp)
        let chosen = try #require(MetadataReader.reconcileInFile(m)[.description])
        #expect(chosen.value == .text(preferred))
        #expect(chosen.value != .text(caption))
        // MWG: EXIF:ImageDescription comes first, and here it holds the XMP text.
        #expect(chosen.origin == .exif)
        // Without the EXIF value the decision is IPTC against XMP: a matching digest picks XMP.
        var noExif = m
        noExif.values.removeAll { $0.origin == .exif }
        let decided = try #require(MetadataReader.reconcileInFile(noExif)[.description])
        #expect(decided.origin == .xmp)
        #expect(decided.tag == "XMP-dc:description")
        #expect(decided.value == .text(preferred))
    }

    @Test("digest stale: the edited IPTC caption wins over XMP")
    func digestStalePrefersIPTC() throws {
        let info = try Self.digestInfo()
        let file = try #require(info["stale"] as? String)
        let preferred = try #require((info["mwg_preferred_description"] as? [String: String])?[file])
        let m = try Fixture.read(file)
        #expect(m.iptcDigest == .stale)
        #expect(m.first(.description, from: .exif) == nil)
        let r = MetadataReader.reconcileInFile(m)
        let chosen = try #require(r[.description])
        #expect(chosen.origin == .iptc)
        #expect(chosen.tag == "IPTC:Caption-Abstract")
        #expect(chosen.value == .text(preferred))
        // Every IPTC-covered field comes from IPTC when the digest is stale.
        #expect(r[.keywords]?.origin == .iptc)
        #expect(r[.city]?.value == .text("São Paulo"))
        #expect(r[.city]?.origin == .iptc)
        #expect(r[.title]?.origin == .iptc)
        // EXIF still comes first where it has the field.
        #expect(r[.creator]?.origin == .exif)
        #expect(r[.gps]?.origin == .exif)
    }

    @Test("PHOTO-A reconciles to the truth.json embedded values")
    func photoA() throws {
        let truth = try Fixture.truth()
        let photo = try #require(truth["photo_a"] as? [String: Any])
        let files = try #require(photo["files"] as? [String])
        let sources = try #require(photo["sources"] as? [String: Any])
        let embedded = try #require(sources["embedded (all copies)"] as? [String: Any])
        for file in files {
            let r = MetadataReader.reconcileInFile(try Fixture.read(file))
            #expect(r[.title]?.value == .text(embedded["title"] as! String))
            #expect(r[.description]?.value == .text(embedded["description"] as! String))
            #expect(r[.keywords]?.value == .list(embedded["keywords"] as! [String]))
            #expect(r[.creator]?.value == .list(embedded["creator"] as! [String]))
            #expect(r[.rights]?.value == .text(embedded["rights"] as! String))
            #expect(r[.dateCreated]?.value == .date(embedded["date_created"] as! String))
            #expect(r[.city]?.value == .text(embedded["city"] as! String))
            #expect(r[.state]?.value == .text(embedded["state"] as! String))
            #expect(r[.country]?.value == .text(embedded["country"] as! String))
            let gps = embedded["gps"] as! [Double]
            #expect(r[.gps]?.value == .gps(latitude: gps[0], longitude: gps[1]))
            #expect(r[.rating]?.value == .integer(embedded["rating"] as! Int))
            #expect(r[.make]?.value == .text(embedded["make"] as! String))
            #expect(r[.model]?.value == .text(embedded["model"] as! String))
            #expect(r[.width]?.value == .integer(embedded["width"] as! Int))
            #expect(r[.height]?.value == .integer(embedded["height"] as! Int))
            #expect(r[.orientation]?.value == .integer(embedded["orientation"] as! Int))
            #expect(r[.format]?.value == .text(embedded["format"] as! String))
        }
    }

    // MARK: - The rules, on synthetic inputs

    static func v(_ field: UnifiedField, _ value: FieldValue, _ origin: MetadataOrigin, _ tag: String) -> SourcedValue {
        SourcedValue(field: field, value: value, origin: origin, tag: tag, raw: "")
    }

    static func metadata(_ digest: IPTCDigestState, _ values: [SourcedValue]) -> EmbeddedMetadata {
        EmbeddedMetadata(format: .jpeg, values: values, iptcDigest: digest)
    }

    @Test("no digest: XMP, and IPTC only when XMP lacks the value", arguments: [IPTCDigestState.absent, .matches])
    func noDigestOrMatching(_ state: IPTCDigestState) {
        let both = Self.metadata(state, [
            Self.v(.title, .text("iptc"), .iptc, "IPTC:ObjectName"),
            Self.v(.title, .text("xmp"), .xmp, "XMP-dc:title"),
            Self.v(.city, .text("iptc city"), .iptc, "IPTC:City"),
        ])
        let r = MetadataReader.reconcileInFile(both)
        #expect(r[.title]?.origin == .xmp)
        #expect(r[.city]?.origin == .iptc)
        #expect(r[.city]?.value == .text("iptc city"))
    }

    @Test("stale digest: IPTC, falling back to XMP when IPTC lacks the field")
    func staleFallsBack() {
        let m = Self.metadata(.stale, [
            Self.v(.title, .text("iptc"), .iptc, "IPTC:ObjectName"),
            Self.v(.title, .text("xmp"), .xmp, "XMP-dc:title"),
            Self.v(.country, .text("xmp country"), .xmp, "XMP-photoshop:Country"),
        ])
        let r = MetadataReader.reconcileInFile(m)
        #expect(r[.title]?.value == .text("iptc"))
        #expect(r[.country]?.value == .text("xmp country"))
    }

    @Test("stale digest: an IPTC value cut at its IIM limit is recovered from XMP")
    func truncatedIPTCRecovered() {
        let long = String(repeating: "abcdefgh", count: 10)          // 80 bytes
        let cut = String(long.prefix(64))                            // ObjectName limit
        let m = Self.metadata(.stale, [
            Self.v(.title, .text(cut), .iptc, "IPTC:ObjectName"),
            Self.v(.title, .text(long), .xmp, "XMP-dc:title"),
            Self.v(.keywords, .list([cut, "b"]), .iptc, "IPTC:Keywords"),
            Self.v(.keywords, .list([long, "c"]), .xmp, "XMP-dc:subject"),
            Self.v(.city, .text("short"), .iptc, "IPTC:City"),
            Self.v(.city, .text("shorter or not"), .xmp, "XMP-photoshop:City"),
        ])
        let r = MetadataReader.reconcileInFile(m)
        #expect(r[.title]?.value == .text(long))
        #expect(r[.title]?.origin == .xmp)
        #expect(r[.keywords]?.value == .list([long, "b"]))
        #expect(r[.keywords]?.origin == .iptc)
        #expect(r[.city]?.value == .text("short"))
    }

    @Test("EXIF comes first, but a blank EXIF value is skipped")
    func exifFirstUnlessBlank() {
        let m = Self.metadata(.absent, [
            Self.v(.description, .text("  "), .exif, "EXIF:ImageDescription"),
            Self.v(.description, .text("xmp"), .xmp, "XMP-dc:description"),
            Self.v(.rights, .text("exif"), .exif, "EXIF:Copyright"),
            Self.v(.rights, .text("xmp"), .xmp, "XMP-dc:rights"),
        ])
        let r = MetadataReader.reconcileInFile(m)
        #expect(r[.description]?.value == .text("xmp"))
        #expect(r[.rights]?.value == .text("exif"))
    }

    @Test("XMP date preference, rating from XMP only, header dimensions first, PNG and PDF last")
    func otherRules() {
        let m = EmbeddedMetadata(format: .png, width: 10, height: 20, values: [
            Self.v(.width, .integer(10), .header, "PNG:ImageWidth"),
            Self.v(.width, .integer(99), .exif, "EXIF:ExifImageWidth"),
            Self.v(.dateCreated, .date("2020-01-01"), .xmp, "XMP-exif:DateTimeOriginal"),
            Self.v(.dateCreated, .date("2021-01-01"), .xmp, "XMP-xmp:CreateDate"),
            Self.v(.dateCreated, .date("2022-01-01"), .xmp, "XMP-photoshop:DateCreated"),
            Self.v(.title, .text("png"), .png, "PNG:Title"),
            Self.v(.title, .text("xmp"), .sidecar, "XMP-dc:title"),
            Self.v(.description, .text("pdf"), .pdf, "PDF:Subject"),
            Self.v(.description, .text("png"), .png, "PNG:Description"),
            Self.v(.orientation, .integer(3), .xmp, "XMP-tiff:Orientation"),
            Self.v(.orientation, .integer(6), .exif, "EXIF:Orientation"),
            Self.v(.rating, .integer(2), .xmp, "XMP-xmp:Rating"),
        ])
        let r = MetadataReader.reconcileInFile(m)
        #expect(r[.width]?.origin == .header)
        #expect(r[.dateCreated]?.value == .date("2022-01-01"))
        #expect(r[.title]?.value == .text("xmp"))
        #expect(r[.description]?.value == .text("png"))
        #expect(r[.orientation]?.value == .integer(6))
        #expect(r[.rating]?.value == .integer(2))
        #expect(r[.gps] == nil)
    }
}
