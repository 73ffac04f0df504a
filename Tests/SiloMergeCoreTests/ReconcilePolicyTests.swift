import Foundation
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

/// Sources of one content built by hand: each copy with its values (value, origin, time).
private enum R {
    static let sha = try! SHA256Hasher.digest(Array("policy test".utf8))

    static func copy(_ silo: String, _ priority: Int, _ path: String, mtimeNs: Int64, inode: UInt64) -> AssetCopy {
        AssetCopy(silo: silo, siloPriority: priority, path: RelativePath(path), size: 10, mtimeNs: mtimeNs, uid: 0, gid: 0,
                  device: 1, inode: inode, absolutePath: FilePath("/srv/\(silo)/\(path)"))
    }

    static func value(_ f: UnifiedField, _ v: FieldValue, _ origin: MetadataOrigin, timeNs: Int64? = nil) -> StoredValue {
        StoredValue(field: f, origin: origin, tag: "test:\(f.rawValue)", value: v, raw: v.display, timeNs: timeNs, preferred: true)
    }

    static func sources(_ copies: [(AssetCopy, [StoredValue])]) -> AssetSources {
        AssetSources(sha256: sha, size: 10, format: .jpeg, copies: copies.map { AssetSources.Copy(copy: $0.0, values: $0.1) })
    }

    static let y2019: Int64 = 1_546_300_800_000_000_000   // 2019-01-01
    static let y2021: Int64 = 1_609_459_200_000_000_000   // 2021-01-01
    static let y2023: Int64 = 1_672_531_200_000_000_000   // 2023-01-01
}

@Suite("Reconcile: the oldest and newest policies, and dates only from metadata")
struct ReconcilePolicyTests {
    /// Three copies whose title and date differ; the source times are 2021 (marketing, best
    /// priority), 2019 (hr, via its sidecar) and 2023 (training's manifest).
    static let sources = R.sources([
        (R.copy("marketing", 1, "a.jpg", mtimeNs: R.y2021, inode: 1),
         [R.value(.title, .text("Marketing title"), .xmp), R.value(.dateCreated, .date("2020-05-05"), .exif)]),
        (R.copy("hr", 2, "b.jpg", mtimeNs: R.y2023, inode: 2),
         [R.value(.title, .text("HR title"), .sidecar, timeNs: R.y2019), R.value(.dateCreated, .date("2018-08-08"), .sidecar, timeNs: R.y2019)]),
        (R.copy("training", 3, "c.jpg", mtimeNs: R.y2019 + 1, inode: 3),
         [R.value(.title, .text("Training title"), .manifest, timeNs: R.y2023), R.value(.dateCreated, .date("2022-02-02"), .manifest, timeNs: R.y2023)]),
    ])

    @Test("oldest: the value whose source (file, sidecar or manifest) has the oldest mtime")
    func oldest() {
        let r = Reconciler(policies: ReconcilePolicies([.title: .oldest])).reconcile(Self.sources)
        #expect(r.field(.title)?.value == .text("HR title"))             // the sidecar's 2019, not the file's 2023
        #expect(r.field(.title)?.status == .resolved && r.field(.title)?.rule == .policy(.oldest))
        // date_created defaults to oldest.
        let d = Reconciler().reconcile(Self.sources).field(.dateCreated)
        #expect(d?.value == .date("2018-08-08") && d?.rule == .policy(.oldest))
    }

    @Test("newest: the value whose source has the newest mtime")
    func newest() {
        let r = Reconciler(policies: ReconcilePolicies([.title: .newest, .dateCreated: .newest])).reconcile(Self.sources)
        #expect(r.field(.title)?.value == .text("Training title"))       // the manifest's 2023
        #expect(r.field(.dateCreated)?.value == .date("2022-02-02"))
        #expect(r.field(.dateCreated)?.rule == .policy(.newest))
        // Embedded values are as old as their file: marketing's exif (2021) beats hr's sidecar (2019)
        // once the manifest is gone.
        var two = Self.sources
        two.copies.removeLast()
        #expect(Reconciler(policies: ReconcilePolicies([.dateCreated: .newest])).reconcile(two).field(.dateCreated)?.value == .date("2020-05-05"))
    }

    @Test("no metadata date: no date_created at all (a file's mtime is never made a creation date)")
    func noDateFromMtime() {
        let bare = R.sources([(R.copy("marketing", 1, "a.jpg", mtimeNs: R.y2021, inode: 1), [R.value(.title, .text("t"), .xmp)]),
                              (R.copy("hr", 2, "b.jpg", mtimeNs: R.y2019, inode: 2), [])])
        let r = Reconciler().reconcile(bare)
        #expect(r.field(.dateCreated) == nil)
        #expect(r.fields.allSatisfy { $0.sources.allSatisfy { $0.origin != .filesystem } })
        #expect(r.fileModifiedNs == R.y2019)                             // its own field: the oldest copy's mtime
    }

    @Test("physical copies: hard links to one file are one copy")
    func physicalCopies() {
        let linked = R.sources([(R.copy("marketing", 1, "a.jpg", mtimeNs: 0, inode: 7), []),
                                (R.copy("marketing", 1, "b.jpg", mtimeNs: 0, inode: 7), []),
                                (R.copy("hr", 2, "c.jpg", mtimeNs: 0, inode: 8), [])])
        let r = Reconciler().reconcile(linked)
        #expect(r.copies.count == 3)
        #expect(r.physicalCopies == 2)
    }
}

@Suite("Unified catalogue: every content, the empty one included; copies are physical copies")
struct UnifiedContentsTests {
    @Test("zero-length files are one content; a hard link is not a copy (asset.copies, CSV copies)")
    func emptyContentAndPhysicalCopies() throws {
        let tree = try TestTree()
        try tree.write("a/empty.txt", [])
        try tree.write("b/notes/todo.txt", [])
        try tree.write("a/photo.jpg", bytes(2000, seed: 1))
        try tree.hardlink("a/photo-link.jpg", to: "a/photo.jpg")
        try tree.write("b/photo-copy.jpg", bytes(2000, seed: 1))
        let (_, store) = try scan(tree, [tree.silo("a"), tree.silo("b", priority: 2)])
        var assets: [ReconciledAsset] = []
        try Reconciliation.run(store: store) { assets.append($0) }
        #expect(assets.count == 2)
        let empty = try #require(assets.first { $0.sha256 == .empty })
        #expect(empty.size == 0)
        #expect(Set(empty.copies.map { "\($0.silo)/\($0.path.display)" }) == ["a/empty.txt", "b/notes/todo.txt"])
        let photo = try #require(assets.first { $0.size == 2000 })
        #expect(photo.copies.count == 3 && photo.physicalCopies == 2)
        let stored = Dictionary(uniqueKeysWithValues: try probe(store).assetCopies().map { ($0.size, $0.copies) })
        #expect(stored == [0: 2, 2000: 2])
        #expect(ExportWriter.csvRow(for: photo).split(separator: ",", omittingEmptySubsequences: false)[5] == "2")
    }
}
