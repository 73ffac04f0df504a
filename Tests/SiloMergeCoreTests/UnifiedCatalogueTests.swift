import Foundation
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

/// Scans a copy of the bundled Fixtures with their configuration (manifests, policies).
private final class FixtureCatalogue {
    let tree: TestTree
    let store: SQLiteCatalogue
    let config: SiloMergeConfiguration
    let scan: ScanResult

    init(_ label: String = #function, edit: (TestTree) throws -> Void = { _ in }) throws {
        tree = try TestTree(label)
        for item in try FileManager.default.contentsOfDirectory(atPath: Fixture.root.path) {
            try FileManager.default.copyItem(at: Fixture.url(item), to: tree.url(item))
        }
        try edit(tree)
        config = try SiloMergeConfiguration.load(path: tree.url("silomerge.yml").path)
        store = try SQLiteCatalogue(path: tree.catalogue)
        scan = try ScanEngine(store: store).scan(config.silos, options: ScanOptions())
    }

    func rescan(_ configure: (inout ScanOptions) -> Void = { _ in }) throws -> ScanResult {
        var options = ScanOptions()
        configure(&options)
        return try ScanEngine(store: store).scan(config.silos, options: options)
    }

    func reconcile(resolutions: String? = nil) throws -> [ReconciledAsset] {
        var out: [ReconciledAsset] = []
        try Reconciliation.run(store: store, policies: config.reconcile, resolutionsFile: resolutions) { out.append($0) }
        return out
    }
}

private func asset(_ assets: [ReconciledAsset], containing file: String) throws -> ReconciledAsset {
    let (silo, path) = file.split(separator: "/", maxSplits: 1).map(String.init).pair
    return try #require(assets.first { $0.copies.contains { $0.silo == silo && $0.path == RelativePath(path) } }, "no asset holds \(file)")
}

private extension Array where Element == String {
    var pair: (String, String) { (self[0], self[1]) }
}

@Suite("Unified catalogue: sidecars, manifests, reconciliation, conflicts")
struct UnifiedCatalogueTests {
    @Test("Sidecars are attached to their asset (name.ext.xmp wins), never catalogued as assets")
    func sidecarsAttached() throws {
        let fx = try FixtureCatalogue()
        let truth = try Fixture.truth()
        let winners = try #require(truth["sidecar_winner"] as? [String: String])
        let rows = try probe(fx.store).sidecars()
        for (assetFile, winner) in winners {
            let used = rows.filter { row in
                let path = "\(row.silo)/" + [row.dir, row.asset].filter { !$0.isEmpty }.joined(separator: "/")
                return path == assetFile && row.used
            }
            #expect(used.count == 1, "\(assetFile)")
            #expect(used.first.map(\.sidecar) == String(winner.split(separator: "/").last!), "\(assetFile)")
        }
        // intro-hero.xmp is recorded but overridden by intro-hero.jpg.xmp.
        #expect(rows.contains { $0.sidecar == "intro-hero.xmp" && !$0.used })
        let xmpFiles = try probe(fx.store).files().filter { $0.name.lowercased().hasSuffix(".xmp") }.count
        #expect(xmpFiles == 0)
        // Duplicate groups are those of truth.json: sidecars never join them.
        let planted = (truth["duplicate_groups"] as! [[String: Any]]).map { ($0["files"] as! [String]).sorted() }
        #expect(try groups(fx.store).map { $0.sorted() }.sorted { $0[0] < $1[0] } == planted.sorted { $0[0] < $1[0] })
    }

    @Test("The records a rebuild hands over after its commit equal those a read-only pass computes, to the last digit")
    func storedRecordsRoundTrip() throws {
        let fx = try FixtureCatalogue()
        let stored = try fx.reconcile()
        var computed: [ReconciledAsset] = []
        try Reconciliation.run(store: fx.store, record: false) { computed.append($0) }
        #expect(stored.count == computed.count && !stored.isEmpty)
        // Every field with its value, status, rule and sources; coordinates to the last bit.
        #expect(stored.flatMap(\.fields).contains { $0.field == .gps && $0.value != nil })
        for (a, b) in zip(stored, computed) { #expect(a == b, "content \(a.shortID)") }
    }

    @Test("Manifest rows naming missing files are reported; quoted commas and embedded newlines survive")
    func manifests() throws {
        let fx = try FixtureCatalogue()
        let missing = try #require(try Fixture.truth()["manifest_missing_rows"] as? [[String: String]])
        let reported = fx.scan.diagnostics.filter { $0.code == .manifest }
        #expect(reported.count == missing.count)
        for m in missing {
            #expect(reported.contains { $0.silo == m["silo"] && $0.path == RelativePath(m["path"]!) }, "\(m)")
        }
        #expect(fx.scan.status == .ok)   // a stale manifest row is a note
        let assets = try fx.reconcile()
        let widget = try asset(assets, containing: "marketing/products/widget-pro/widget-front.jpg")
        let titles = widget.field(.title)?.sources.filter { $0.origin == .manifest }.map(\.raw) ?? []
        #expect(titles == ["Widget Pro \"Front\" view, studio"])
        let logo = try asset(assets, containing: "marketing/logo.png")
        let rights = logo.field(.rights)?.sources.first { $0.origin == .manifest }?.raw
        #expect(rights == "Trademark of Northwind Traders.\nDo not recolour or distort.")
    }

    @Test("Exactly the planted conflicts, with every source; other fields settle by policy")
    func conflicts() throws {
        let fx = try FixtureCatalogue()
        let assets = try fx.reconcile()
        let expected = try #require(try Fixture.truth()["expected_conflicts"] as? [[String: Any]])
        var found: [String] = []
        for a in assets {
            for f in a.fields where f.status == .conflict {
                found.append("\(a.copies[0].silo)/\(a.copies[0].path.display) \(f.field.rawValue)")
                #expect(f.value == nil)
            }
        }
        let planted = expected.map { "\($0["asset_file"] as! String) \($0["field"] as! String)" }
        #expect(found.sorted() == planted.sorted())
        // Photo A: the HR sidecar's rights is one of the conflicting sources.
        let photo = try asset(assets, containing: "marketing/campaigns/2023/summer-launch/hero.jpg")
        let rights = try #require(photo.field(.rights))
        #expect(rights.sources.contains { $0.origin == .sidecar && $0.silo == "hr" && $0.raw.hasPrefix("For internal HR use only") })
        #expect(Set(rights.sources.map(\.value.comparisonKey)).count == 3)
        // longest: the sidecar's truncated caption loses to the full text.
        let description = try #require(photo.field(.description))
        #expect(description.value == .text("Team gathering at the 2023 summer offsite in Lisbon, Portugal."))
        #expect(description.status == .resolved)
        #expect(description.rule == .policy(.longest))
        // union: "Offsite" and "offsite" are one keyword; every silo's keywords are there.
        let keywords = try #require(photo.field(.keywords)?.value?.list)
        #expect(keywords.filter { $0.lowercased() == "offsite" }.count == 1)
        #expect(keywords.contains("HR") && keywords.contains("summer launch") && keywords.contains("Lisbon"))
        // priority: marketing's title.
        #expect(photo.field(.title)?.value == .text("Summer Offsite 2023"))
        #expect(photo.field(.gps)?.status == .agreed)
        // The stored unified catalogue says the same.
        let stored = try probe(fx.store).assetFieldStatuses().filter { $0 == "conflict" }.count
        #expect(stored == planted.count)
    }

    @Test("A resolutions file settles conflicts; bad entries are errors with their line")
    func resolutions() throws {
        let fx = try FixtureCatalogue()
        let photo = try asset(try fx.reconcile(), containing: "marketing/campaigns/2023/summer-launch/hero.jpg")
        let file = fx.tree.url("decisions.yml").path
        try fx.tree.write("decisions.yml", """
            # keep the corporate notice
            \(photo.shortID):
              rights: "Internal training use only"

            """)
        let settled = try asset(try fx.reconcile(resolutions: file), containing: "marketing/campaigns/2023/summer-launch/hero.jpg")
        #expect(settled.field(.rights)?.value == .text("Internal training use only"))
        #expect(settled.field(.rights)?.rule == .manual)
        #expect(settled.field(.rights)?.status == .resolved)
        // Remembered for the next run.
        let again = try asset(try fx.reconcile(), containing: "marketing/campaigns/2023/summer-launch/hero.jpg")
        #expect(again.field(.rights)?.rule == .manual)

        let cases: [(String, String)] = [
            ("0000000000aa:\n  rights: x\n", ":1: no content"),
            ("\(photo.shortID):\n  rites: x\n", ":2: unknown field 'rites'"),
            ("\(photo.shortID):\n  gps: somewhere\n", ":2: gps: expected [latitude, longitude]"),
            ("\(photo.shortID):\n  rating: [1, 2]\n", ":2: rating: expected a whole number"),
            ("abc:\n  rights: x\n", ":1: 'abc' is not an asset id"),
            ("- just a list\n", "expected a mapping"),
            ("\(photo.shortID): [unclosed\n", "not valid YAML"),
        ]
        for (text, message) in cases {
            try fx.tree.write("bad.yml", text)
            #expect {
                try fx.reconcile(resolutions: fx.tree.url("bad.yml").path)
            } throws: { error in
                "\(error)".contains(message)
            }
        }
    }

    @Test("Same image, different metadata: the groups and fields of truth.json")
    func sameImage() throws {
        let fx = try FixtureCatalogue()
        let expected = try #require(try Fixture.truth()["same_image_groups"] as? [[String: Any]])
        let found = try fx.store.sameImageGroups(silos: [])
        #expect(found.count == expected.count)
        for e in expected {
            let files = (e["files"] as! [String]).sorted()
            let g = try #require(found.first { Set($0.files.map { "\($0.silo)/\($0.path.display)" }) == Set(files) }, "\(files)")
            #expect(g.format.rawValue == e["format"] as? String)
            #expect(Set(g.fieldsThatDiffer.map(\.rawValue)) == Set(e["fields_differ"] as! [String]))
        }
    }

    @Test("A changed or removed sidecar is read again on rescan; unchanged ones are not")
    func sidecarRescan() throws {
        let fx = try FixtureCatalogue()
        let sidecar = "hr/staff-photos/offsite-2023/team_offsite.xmp"
        let original = try String(contentsOf: fx.tree.url(sidecar), encoding: .utf8)
        try fx.tree.write(sidecar, original.replacingOccurrences(of: "For internal HR use only", with: "HR only, revised"))
        let second = try fx.rescan()
        #expect(second.counts.filesHashed == 0)
        let photo = try asset(try fx.reconcile(), containing: "hr/staff-photos/offsite-2023/team_offsite.jpg")
        #expect(photo.field(.rights)?.sources.contains { $0.origin == .sidecar && $0.raw.hasPrefix("HR only, revised") } == true)

        try fx.tree.remove(sidecar)
        _ = try fx.rescan()
        let after = try asset(try fx.reconcile(), containing: "hr/staff-photos/offsite-2023/team_offsite.jpg")
        #expect(after.field(.rights)?.sources.contains { $0.origin == .sidecar } == false)
        // Without the HR sidecar, photo A's rights conflict is between the embedded notice and the training manifest.
        #expect(Set(after.field(.rights)?.sources.map(\.value.comparisonKey) ?? []).count == 2)
    }

    @Test("Broken metadata is a note; the file is still catalogued and hashed")
    func brokenMetadata() throws {
        let tree = try TestTree()
        // A JPEG whose APP1 claims more bytes than the file has, and an XMP sidecar that is not XML.
        try tree.write("s/broken.jpg", [0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xF0] + Array("Exif\0\0MM\0*".utf8) + [UInt8](repeating: 0x41, count: 40))
        try tree.write("s/broken.jpg.xmp", "<x:xmpmeta><rdf:RDF><unclosed")
        let (result, store) = try scan(tree, [tree.silo("s")])
        #expect(result.diagnostics.contains { $0.code == .metadata && $0.severity == .note && $0.path == RelativePath("broken.jpg") })
        #expect(result.status == .ok)
        let row = try probe(store).files().first { $0.name == "broken.jpg" }
        #expect(row?.sha256?.count == 64)
        #expect(row?.format == "jpeg")
        #expect(row?.metadataRead == MetadataReader.version)
    }

    @Test("A manifest with a BOM, CRLF, quoted newlines, a row leaving the silo and a missing file")
    func manifestEdges() throws {
        let tree = try TestTree()
        try tree.write("s/a.txt", "alpha")
        try tree.write("s/sub/b.txt", "beta")
        try tree.write("m.csv", [0xEF, 0xBB, 0xBF] + Array("File;Tags;Note\r\n./a.txt;one | Two | one;\"line 1\r\nline 2\"\r\nsub\\b.txt;x;y\r\n../escape.txt;z;z\r\nghost.txt;g;g\r\n".utf8))
        var silo = tree.silo("s")
        silo.manifest = ManifestDefinition(file: FilePath(tree.url("m.csv").path), pathColumn: "File",
                                           columns: [.init(column: "Tags", field: .keywords, split: "|"),
                                                     .init(column: "Note", field: .description, split: nil)],
                                           delimiter: ";")
        let (result, store) = try scan(tree, [silo])
        let manifestNotes = result.diagnostics.filter { $0.code == .manifest }
        #expect(manifestNotes.contains { $0.path == RelativePath("ghost.txt") })
        #expect(manifestNotes.contains { $0.message.contains("row 3") })   // ../escape.txt is refused
        var assets: [ReconciledAsset] = []
        try Reconciliation.run(store: store) { assets.append($0) }
        let a = try #require(assets.first { $0.copies[0].path == RelativePath("a.txt") })
        #expect(a.field(.keywords)?.value == .list(["one", "Two"]))
        #expect(a.field(.description)?.value?.text?.contains("line 1") == true)
        #expect(a.field(.description)?.value?.text?.contains("line 2") == true)
        let b = try #require(assets.first { $0.copies[0].path == RelativePath("sub/b.txt") })
        #expect(b.field(.keywords)?.value == .list(["x"]))
    }

    @Test("--no-metadata scans read no metadata; a later scan with it reads only the metadata")
    func metadataLater() throws {
        let tree = try TestTree()
        for item in try FileManager.default.contentsOfDirectory(atPath: Fixture.root.path) {
            try FileManager.default.copyItem(at: Fixture.url(item), to: tree.url(item))
        }
        let config = try SiloMergeConfiguration.load(path: tree.url("silomerge.yml").path)
        let store = try SQLiteCatalogue(path: tree.catalogue)
        var options = ScanOptions()
        options.readMetadata = false
        _ = try ScanEngine(store: store).scan(config.silos, options: options)
        let none = try probe(store).metadata().count
        #expect(none == 0)
        let second = try ScanEngine(store: store).scan(config.silos, options: ScanOptions())
        #expect(second.counts.filesHashed == 0)   // hashes are reused, only metadata blocks are read
        let some = try probe(store).metadata().filter { $0.origin == "xmp" }.count
        #expect(some > 0)
        let sidecarValues = try probe(store).metadata().filter { $0.origin == "sidecar" }.count
        #expect(sidecarValues > 0)
    }

    @Test("A manifest that cannot be used is an error naming it; the scan still catalogues the silo")
    func brokenManifests() throws {
        let tree = try TestTree()
        try tree.write("s/a.txt", "alpha")
        try tree.write("no-path-column.csv", "Name,Tags\na.txt,x\n")
        try tree.write("binary.csv", [0xFF, 0xFE, 0x00, 0x00, 0x41, 0x00])
        for (file, message) in [("no-path-column.csv", "File"), ("missing.csv", "cannot open"), ("binary.csv", "has no column")] {
            var silo = tree.silo("s")
            silo.manifest = ManifestDefinition(file: FilePath(tree.url(file).path), pathColumn: "File",
                                               columns: [.init(column: "Tags", field: .keywords, split: ";")])
            let (result, store) = try scan(tree, [silo])
            let errors = result.diagnostics.filter { $0.code == .manifest && $0.severity == .error }
            #expect(errors.count == 1, "\(file): \(result.diagnostics)")
            #expect(errors.first?.message.contains(file) == true, "\(file)")
            #expect(errors.first?.message.contains(message) == true, "\(file): \(errors.first?.message ?? "")")
            #expect(result.status == .warnings)
            #expect(try store.fileCounts().values.reduce(0, +) == 1)
        }
    }

    @Test("Manifests saved as UTF-16 or Windows-1252 are converted and said, not read as garbage")
    func manifestEncodings() throws {
        let text = "File,Title\r\na.txt,Caf\u{E9} \u{2013} \u{201C}Br\u{FC}cke\u{201D}\r\n"
        let cases: [(String, Data, String)] = [
            ("utf16le.csv", Data([0xFF, 0xFE]) + text.data(using: .utf16LittleEndian)!, "UTF-16LE"),
            ("utf16be.csv", Data([0xFE, 0xFF]) + text.data(using: .utf16BigEndian)!, "UTF-16BE"),
            ("cp1252.csv", text.data(using: .windowsCP1252)!, "Windows-1252"),
        ]
        for (name, data, encoding) in cases {
            let tree = try TestTree()
            try tree.write("s/a.txt", "alpha")
            try tree.write(name, [UInt8](data))
            var silo = tree.silo("s")
            silo.manifest = ManifestDefinition(file: FilePath(tree.url(name).path), pathColumn: "File",
                                               columns: [.init(column: "Title", field: .title)])
            let (result, store) = try scan(tree, [silo])
            #expect(result.diagnostics.contains { $0.code == .manifest && $0.message.contains("read as \(encoding)") }, "\(name)")
            var titles: [String] = []
            try Reconciliation.run(store: store) { titles += $0.field(.title)?.value?.text.map { [$0] } ?? [] }
            #expect(titles == ["Caf\u{E9} \u{2013} \u{201C}Br\u{FC}cke\u{201D}"], "\(name)")
        }
    }
}
