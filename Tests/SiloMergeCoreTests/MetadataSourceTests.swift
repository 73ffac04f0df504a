import Foundation
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

/// Metadata rows per file and source: (file name, source or "file", count).
private func rowCounts(_ store: SQLiteCatalogue) throws -> [String: Int] {
    var out: [String: Int] = [:]
    for row in try probe(store).metadata() { out["\(row.fileName) ← \(row.source ?? "file")", default: 0] += 1 }
    return out
}

@Suite("Metadata sources: replaced per source, drift found for each")
struct MetadataSourceTests {
    @Test("No source piles up rows: five rescans that change a lone .xmp, both sidecars, an embedded title and a manifest")
    func rowsAreReplacedPerSource() throws {
        let tree = try TestTree()
        try tree.write("s/lone.xmp", xmpPacket(title: "Lone 0", keywords: ["a", "b"], creator: "Ann"))
        try tree.write("s/photo.jpg", try Fixture.bytes("marketing/campaigns/2023/summer-launch/hero.jpg"))
        try tree.write("s/photo.jpg.xmp", xmpPacket(title: "Exact 0", keywords: ["x"]))
        try tree.write("s/photo.xmp", xmpPacket(title: "Stem 0", keywords: ["y"]))
        try tree.write("manifest.csv", "File,Title\nphoto.jpg,Manifest 0\n")
        var silo = tree.silo("s")
        silo.manifest = ManifestDefinition(file: FilePath(tree.url("manifest.csv").path), pathColumn: "File",
                                           columns: [.init(column: "Title", field: .title)])
        let (_, store) = try scan(tree, [silo])
        let first = try rowCounts(store)
        #expect(first.keys.contains { $0.hasPrefix("lone.xmp ← file") })
        #expect(first.keys.contains { $0.hasPrefix("photo.jpg ← s/photo.jpg.xmp") || $0.hasPrefix("photo.jpg ← photo.jpg.xmp") })
        for round in 1...5 {
            try tree.write("s/lone.xmp", xmpPacket(title: "Lone \(round)", keywords: ["a", "b"], creator: "Ann"))
            try tree.write("s/photo.jpg.xmp", xmpPacket(title: "Exact \(round)", keywords: ["x"]))
            try tree.write("s/photo.xmp", xmpPacket(title: "Stem \(round)", keywords: ["y"]))
            try tree.write("manifest.csv", "File,Title\nphoto.jpg,Manifest \(round)\n")
            try ScanEngine(store: store).scan([silo], options: ScanOptions())
            #expect(try rowCounts(store) == first, "round \(round)")
        }
        // Only the latest values are there: one title per source, the latest one (the
        // overridden photo.xmp is read for drift, never reconciled).
        let titles = try probe(store).metadata().filter { $0.field == "title" && ($0.source != nil || $0.origin == "sidecar") }
            .map(\.value).sorted()
        #expect(titles == ["\"Exact 5\"", "\"Lone 5\"", "\"Manifest 5\""])
        // The file's own bytes changed (another JPEG at the same name): its embedded rows are
        // replaced, the other sources' rows stay as they were.
        let embedded = { try probe(store).metadata().filter { $0.fileName == "photo.jpg" && $0.source == nil }.count }
        try tree.write("s/photo.jpg", try Fixture.bytes("hr/staff-photos/offsite-2023/team_offsite.jpg"))
        try ScanEngine(store: store).scan([silo], options: ScanOptions())
        let afterEdit = try embedded()
        var rehash = ScanOptions()
        rehash.rehash = true
        try ScanEngine(store: store).scan([silo], options: rehash)
        #expect(try embedded() == afterEdit)
        #expect(try rowCounts(store).filter { !$0.key.hasPrefix("photo.jpg ← file") } == first.filter { !$0.key.hasPrefix("photo.jpg ← file") })
        // The lone .xmp's asset agrees with itself.
        var assets: [ReconciledAsset] = []
        try Reconciliation.run(store: store, policies: [:], resolutionsFile: nil) { assets.append($0) }
        let lone = try #require(assets.first { $0.copies.contains { $0.path == RelativePath("lone.xmp") } })
        #expect(lone.field(.title)?.value == .text("Lone 5"))
        #expect(lone.field(.title)?.status == .agreed)
        #expect(lone.field(.title)?.sources.count == 1)
    }

    @Test("An asset with both sidecar forms: editing either one is metadata drift, naming the sidecar; the overridden one is never reconciled")
    func driftForBothSidecarForms() throws {
        let tree = try TestTree()
        try tree.write("s/photo.jpg", try Fixture.bytes("marketing/campaigns/2023/summer-launch/hero.jpg"))
        try tree.write("s/photo.jpg.xmp", xmpPacket(title: "Exact", keywords: ["x"]))
        try tree.write("s/photo.xmp", xmpPacket(title: "Stem", keywords: ["y"]))
        let (_, store) = try scan(tree, [tree.silo("s")])
        #expect(try CheckEngine(store: store).check().outcome == .unchanged)

        try tree.write("s/photo.jpg.xmp", xmpPacket(title: "Exact, edited", keywords: ["x"]))
        let exact = try CheckEngine(store: store).check()
        #expect(exact.outcome == .changed)
        #expect(exact.findings.map(\.kind) == [.metadataDrift])
        #expect(exact.findings.first?.path == RelativePath("photo.jpg"))
        #expect(exact.findings.first?.detail == "sidecar photo.jpg.xmp: title")

        try tree.write("s/photo.xmp", xmpPacket(title: "Stem", keywords: ["y", "z"]))
        let stem = try CheckEngine(store: store).check()
        #expect(stem.findings.map(\.kind) == [.metadataDrift])
        #expect(stem.findings.first?.detail == "sidecar photo.xmp (not used: photo.jpg.xmp takes precedence): keywords")
        // Only touching a sidecar (same values) is no drift.
        try tree.write("s/photo.xmp", xmpPacket(title: "Stem", keywords: ["y", "z"]) + "\n")
        #expect(try CheckEngine(store: store).check().outcome == .unchanged)

        var assets: [ReconciledAsset] = []
        try Reconciliation.run(store: store, policies: [:], resolutionsFile: nil) { assets.append($0) }
        let photo = try #require(assets.first { $0.copies.contains { $0.path == RelativePath("photo.jpg") } })
        #expect(photo.field(.title)?.value == .text("Exact, edited"))
        #expect(photo.field(.keywords)?.sources.contains { $0.raw.contains("z") } == false)

        // Removing the winning sidecar makes the other one used: drift again.
        try tree.remove("s/photo.jpg.xmp")
        let removed = try CheckEngine(store: store).check()
        #expect(removed.findings.map(\.kind) == [.metadataDrift])
        let detail = try #require(removed.findings.first?.detail)
        #expect(detail.contains("sidecar removed (photo.jpg.xmp): keywords, title"), "\(detail)")
        #expect(detail.contains("sidecar photo.xmp: keywords, title") || detail.contains("sidecar photo.xmp: now used"), "\(detail)")
    }

}
