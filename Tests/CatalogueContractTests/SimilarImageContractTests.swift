import Foundation
import SiloMergeCore
import SiloMergeSQLite
import SiloMergeTestSupport
import Synchronization
import Testing

// Perceptual hashes through the store protocols (SQLite v14-phash, PostgreSQL schema 3): the
// scan hands each image it reads to the fingerprinter, the store keeps one record per content,
// and `similarImageFiles` returns every file of a content that has a hash. The fingerprinter
// here is a stand-in that reads the hash from the file's bytes (the real decoders are tested in
// SiloMergeImagingTests and end to end): what is under contract is the storing.

/// "JPEG" files: the JPEG magic, then 16 hex digits of hash, or "CORRUPT".
private final class StandInFingerprinter: ImageFingerprinting {
    let calls = Mutex(0)
    func decodes(_ format: MediaFormat) -> Bool { format == .jpeg }
    var maxFileBytes: Int64 { 1 << 20 }
    func fingerprint(bytes: UnsafeRawBufferPointer, format: MediaFormat?) -> Result<ImageFingerprint, ImageFingerprintFailure> {
        calls.withLock { $0 += 1 }
        let text = String(decoding: bytes.dropFirst(4).prefix(16), as: UTF8.self)
        guard let hash = PerceptualHash(hex: text) else { return .failure(.corrupt("not a stand-in image")) }
        // 4:3, larger for longer files (so the longest is the master), at least 32 × 32.
        return .success(ImageFingerprint(hash: hash, width: bytes.count * 40, height: bytes.count * 30, decoder: "jpeg"))
    }
    func fingerprint(fd: Int32, format: MediaFormat?) -> Result<ImageFingerprint, ImageFingerprintFailure> {
        .failure(.unsupported("the scan hands bytes"))
    }
}

private func image(_ hex: String, padding: Int = 0) -> [UInt8] {
    [0xFF, 0xD8, 0xFF, 0xE0] + Array(hex.utf8) + [UInt8](repeating: 0x20, count: padding)
}

@Suite("Catalogue contract: perceptual hashes")
struct SimilarImageContractTests {
    @Test("a scan records one perceptual hash per content; every copy is listed; refused images are not", arguments: Backend.all)
    func scanRecordsFingerprintsPerContent(backend: Backend) throws {
        let tree = try TestTree()
        try tree.write("a/master.jpg", image("0123456789abcdef", padding: 100))
        try tree.write("a/copy.jpg", image("0123456789abcdef", padding: 100))       // same content
        try tree.write("b/small.jpg", image("0123456789abcdee"))                      // 1 bit away
        try tree.write("b/broken.jpg", image("CORRUPT-CORRUPT-"))
        try tree.write("b/notes.txt", Array("not an image".utf8))
        let store = try backend.open(tree)
        let fingerprinter = StandInFingerprinter()
        var options = ScanOptions()
        options.jobs = 2
        let result = try ScanEngine(store: store, fingerprinter: fingerprinter)
            .scan([tree.silo("a", priority: 1), tree.silo("b", priority: 2)], options: options)
        #expect(fingerprinter.calls.withLock { $0 } == 4)
        #expect(result.diagnostics.contains { $0.message.contains("no perceptual hash") && $0.path?.display == "broken.jpg" })

        let files = try store.similarImageFiles(siloIDs: nil)
        let silos = Dictionary(uniqueKeysWithValues: try store.silos().map { ($0.id, $0.name) })
        #expect(files.map { "\(silos[$0.siloID]!)/\($0.path.display)" }.sorted() == ["a/copy.jpg", "a/master.jpg", "b/small.jpg"])
        let master = try #require(files.first { $0.path.display == "master.jpg" })
        #expect(master.fingerprint == ImageFingerprint(hash: PerceptualHash(hex: "0123456789abcdef")!, width: 4800, height: 3600, decoder: "jpeg"))
        #expect(master.size == 120)
        // Only one silo when asked.
        let onlyB = try #require(try store.silos().first { $0.name == "b" })
        #expect(try store.similarImageFiles(siloIDs: [onlyB.id]).map(\.path.display) == ["small.jpg"])
        #expect(try store.similarImageFiles(siloIDs: []).isEmpty)

        // Grouped: one content (two copies) is the master, the smaller image its derivative.
        let similar = SimilarImages.find(files, silos: try store.silos())
        #expect(similar.groups.count == 1)
        #expect(similar.groups.first?.master.copies == 2 && similar.groups.first?.master.silo == "a")
        #expect(similar.groups.first?.derivatives.map(\.image.path.display) == ["small.jpg"])
        #expect(similar.groups.first?.derivatives.first?.distance == 1)

        // A rescan of unchanged files decodes nothing; a changed file is decoded again.
        let rescan = StandInFingerprinter()
        _ = try ScanEngine(store: store, fingerprinter: rescan).scan([tree.silo("a", priority: 1), tree.silo("b", priority: 2)], options: options)
        #expect(rescan.calls.withLock { $0 } == 0)
        try tree.write("b/small.jpg", image("fedcba9876543210", padding: 3))
        let changed = StandInFingerprinter()
        _ = try ScanEngine(store: store, fingerprinter: changed).scan([tree.silo("a", priority: 1), tree.silo("b", priority: 2)], options: options)
        #expect(changed.calls.withLock { $0 } == 1)
        let after = try store.similarImageFiles(siloIDs: [onlyB.id])
        #expect(after.map(\.fingerprint.hash) == [PerceptualHash(hex: "fedcba9876543210")!])
    }

    @Test("catalogue merge and copy carry the perceptual hashes: the similar-image groups of the destination are the source's; merged again, nothing more",
          arguments: Backend.all)
    func mergeAndCopyCarryFingerprints(backend: Backend) throws {
        let tree = try TestTree()
        try tree.write("a/master.jpg", image("0123456789abcdef", padding: 100))
        try tree.write("a/copy.jpg", image("0123456789abcdef", padding: 100))
        try tree.write("b/small.jpg", image("0123456789abcdee"))
        try tree.write("b/other.jpg", image("f0f0f0f0f0f0f0f0", padding: 50))
        try tree.write("b/other-web.jpg", image("f0f0f0f0f0f0f0f1", padding: 10))
        try tree.write("b/broken.jpg", image("CORRUPT-CORRUPT-"))
        // The shard: a host's own SQLite catalogue.
        let shard = try SQLiteCatalogue(path: tree.url("shard.sqlite").path, access: .create)
        var options = ScanOptions()
        options.jobs = 2
        _ = try ScanEngine(store: shard, fingerprinter: StandInFingerprinter())
            .scan([tree.silo("a", priority: 1), tree.silo("b", priority: 2)], options: options)
        func similar(_ store: any CatalogueStore) throws -> [SimilarImages.Group] {
            SimilarImages.find(try store.similarImageFiles(siloIDs: nil), silos: try store.silos()).groups
        }
        let before = try similar(shard)
        #expect(before.count == 2 && before.map(\.derivatives.count) == [1, 1], "\(before)")

        let dest = try backend.open(tree)
        let transfer = try #require(dest as? any CatalogueTransfer)
        let origin = try #require(try shard.shardIdentity())
        let merged = try ShardMerge(shard: shard, origin: origin).merge(into: transfer)
        #expect(merged.files == 6)
        #expect(try similar(dest) == before)
        // The failed decode comes too: a rescan of the destination would not try it again.
        var hashes: [TransferRecord] = []
        try transfer.exportRecords { if $0.table == .imagePhash { hashes.append($0) } }
        #expect(hashes.count == 5 && hashes.filter { $0["phash"].isNull }.count == 1, "\(hashes)")
        let again = try ShardMerge(shard: shard, origin: origin).merge(into: transfer)
        #expect(again.runs == 0 && again.otherRows == 0, "\(again)")
        #expect(try similar(dest) == before)

        // A copy to a new catalogue of the other backend's kind (SQLite), and back.
        let copy = try SQLiteCatalogue(path: tree.url("copy.sqlite").path, access: .create)
        _ = try CatalogueCopy.copy(from: transfer, to: copy)
        #expect(try similar(copy) == before)
        var copied: [TransferRecord] = []
        try copy.exportRecords { if $0.table == .imagePhash { copied.append($0) } }
        #expect(copied == hashes)
    }
}
