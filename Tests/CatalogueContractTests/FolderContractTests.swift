import Foundation
import SiloMergeCore
import SiloMergeTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

// The folder stream (ContentStreams.forEachFolderContents) and what DuplicateFolders makes of
// it, on every backend: each folder once with its own files, their sizes and hashes (nil when
// not hashed), names that are not UTF-8, scoped by silo.

private func scan(_ store: any CatalogueStore, _ silos: [SiloDefinition], mode: HashMode = .full) throws {
    var options = ScanOptions()
    options.hashMode = mode
    _ = try ScanEngine(store: store, host: HostIdentity(id: "host-a", name: "host-a")).scan(silos, options: options)
}

private func folders(_ store: any CatalogueStore, _ ids: [Int64] = []) throws -> [FolderContents] {
    var out: [FolderContents] = []
    try store.forEachFolderContents(siloIDs: ids) { out.append($0) }
    return out
}

/// Writes `name` inside a folder of `silo` whose name is the raw bytes `folder` (not UTF-8).
private func writeInRawFolder(_ tree: TestTree, silo: String, folder: [UInt8], name: String, _ content: [UInt8]) throws {
    let dir = Array(tree.url(silo).path.utf8) + [0x2F] + folder
    #expect((dir + [0]).withUnsafeBufferPointer { p in p.withMemoryRebound(to: CChar.self) { mkdir($0.baseAddress!, 0o755) } } == 0)
    let path = dir + [0x2F] + Array(name.utf8) + [0]
    let fd = path.withUnsafeBufferPointer { p in p.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT | O_TRUNC, 0o644) } }
    #expect(fd >= 0)
    _ = content.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

@Suite("Catalogue contract: folder contents and duplicate folders")
struct FolderContractTests {
    @Test("each folder once, with its own files' sizes and hashes; non-UTF-8 folders; scoped by silo", arguments: Backend.all)
    func folderStream(backend: Backend) throws {
        let tree = try TestTree()
        let x = bytes(1_000, seed: 1), y = bytes(2_000, seed: 2)
        try tree.write("a/top.bin", x)
        try tree.write("a/d/x.bin", x)
        try tree.write("a/d/y.bin", y)
        try tree.write("a/d-e/y.bin", y)      // '-' < '/': "d-e" sorts between "d" and "d/f"
        try tree.write("a/d/f/deep.bin", bytes(10, seed: 3))
        try tree.writeRaw(folder: "a/caf\u{e9}", name: Array("n.bin".utf8), x)
        try writeInRawFolder(tree, silo: "a", folder: [0x72, 0xE9], name: "n.bin", y)
        try tree.write("b/only.bin", bytes(500, seed: 4))
        let store = try backend.open(tree)
        try scan(store, [tree.silo("a"), tree.silo("b")])

        let all = try folders(store)
        let silos = Dictionary(uniqueKeysWithValues: try store.silos().map { ($0.name, $0.id) })
        let listed = all.map { "\($0.siloID == silos["a"] ? "a" : "b"):\($0.dir.display)" }
        #expect(listed.count == Set(listed).count, "a folder came twice: \(listed)")
        #expect(Set(listed) == ["a:", "a:d", "a:d-e", "a:d/f", "a:caf\u{e9}", "a:r\\xE9", "b:"])
        let raw = try #require(all.first { $0.dir.bytes == [0x72, 0xE9] })
        #expect(raw.files == [FolderContents.File(sha256: try SHA256Hasher.digest(y), size: 2_000)])
        let d = try #require(all.first { $0.dir == RelativePath("d") })
        let (sx, sy) = (try SHA256Hasher.digest(x), try SHA256Hasher.digest(y))
        #expect(Set(d.files) == [FolderContents.File(sha256: sx, size: 1_000), FolderContents.File(sha256: sy, size: 2_000)])
        // Silos come one after the other.
        let order = all.map(\.siloID)
        #expect(order == order.sorted())

        let onlyB = try folders(store, [try #require(silos["b"])])
        #expect(onlyB.map(\.dir) == [.root] && onlyB.first?.files.count == 1)
    }

    @Test("unhashed files (--hash dupes) come with no hash, and make their folders not comparable", arguments: Backend.all)
    func unhashedFolders(backend: Backend) throws {
        let tree = try TestTree()
        let shared = bytes(3_000, seed: 7)
        try tree.write("a/p/shared.bin", shared)
        try tree.write("a/p/unique.bin", bytes(1_234, seed: 8))
        try tree.write("b/p/shared.bin", shared)
        try tree.write("b/p/other.bin", bytes(4_321, seed: 9))
        let store = try backend.open(tree)
        try scan(store, [tree.silo("a"), tree.silo("b")], mode: .dupes)
        let p = try folders(store).filter { $0.dir == RelativePath("p") }
        #expect(p.count == 2)
        for f in p { #expect(f.files.filter { $0.sha256 == nil }.count == 1) }
        let result = try DuplicateFolders.find(in: store, silos: [])
        #expect(result.groups.isEmpty)
        // a/p, a (root), b/p, b (root).
        #expect(result.notComparableFolders == 4 && result.unhashedFiles == 2)
        #expect(Set(result.unhashedExamples.map { "\($0.folder.silo):\($0.folder.display)" }) == ["a:p", "b:p"])
    }

    @Test("a folder copied whole (files renamed) is one group; a changed copy is not; nested copies once", arguments: Backend.all)
    func duplicateFolders(backend: Backend) throws {
        let tree = try TestTree()
        let (x, y, z) = (bytes(5_000, seed: 11), bytes(3_000, seed: 12), bytes(100, seed: 13))
        for (silo, folder, names) in [("a", "shoot", ["x.jpg", "y.jpg", "sub/z.txt"]),
                                      ("b", "copy of shoot", ["IMG_1.jpg", "IMG_2.jpg", "other/z-renamed.txt"])] {
            try tree.write("\(silo)/\(folder)/\(names[0])", x)
            try tree.write("\(silo)/\(folder)/\(names[1])", y)
            try tree.write("\(silo)/\(folder)/\(names[2])", z)
        }
        // The same files, one changed by a byte: not a copy.
        var changed = y; changed[0] ^= 1
        try tree.write("b/edited/x.jpg", x)
        try tree.write("b/edited/y.jpg", changed)
        try tree.write("b/edited/sub/z.txt", z)
        // The same files, flattened: not the same folder (structure counts, names do not).
        try tree.write("b/flat/x.jpg", x)
        try tree.write("b/flat/y.jpg", y)
        try tree.write("b/flat/z.txt", z)
        // A copy nested two levels deep: its inner folders are groups too, reported once as the outer.
        let w = bytes(50, seed: 14)
        try tree.write("a/deep/l1/l2/w.bin", w)
        try tree.write("b/deep copy/l1/l2/w-copy.bin", w)
        let store = try backend.open(tree)
        try scan(store, [tree.silo("a", priority: 0), tree.silo("b", priority: 1)])

        let result = try DuplicateFolders.find(in: store, silos: [])
        let listed = result.groups.map { $0.folders.map { "\($0.silo):\($0.display)" } }
        // sub/ and other/ (z alone) are a nested group: reported once, as the outer folders.
        // edited/sub holds z too but lies inside no group folder, so that group is reported.
        #expect(listed == [["a:shoot", "b:copy of shoot"], ["a:shoot/sub", "b:copy of shoot/other", "b:edited/sub"],
                           ["a:deep", "b:deep copy"]])
        #expect(result.groups.first?.files == 3 && result.groups.first?.bytes == 8_100)
        #expect(result.groups.first?.reclaimableBytes == 8_100)
        #expect(result.nestedGroups == 2)
        #expect(result.notComparableFolders == 0)

        // Only silo a: nothing is copied.
        #expect(try DuplicateFolders.find(in: store, silos: ["a"]).groups.isEmpty)
        #expect(throws: (any Error).self) { try DuplicateFolders.find(in: store, silos: ["nobody"]) }
    }
}
