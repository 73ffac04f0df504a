import Foundation
@testable import SiloMergeCore
import Testing

// FolderFold on hand-made streams: what a store promises (each folder once) is checked, folders
// above the listed ones are made, and `explains` leaves a file group to a folder group only
// when it has one copy in each of the group's folders.

private func digest(_ n: UInt8) -> SHA256Digest { [UInt8](repeating: n, count: 32).withUnsafeBytes { SHA256Digest(bytes: $0) } }
private let silos = [Silo(id: 1, name: "a", root: FilePath("/a"), priority: 0, lastRunID: nil),
                     Silo(id: 2, name: "b", root: FilePath("/b"), priority: 1, lastRunID: nil)]

private func fold(_ stream: [(Int64, String, [(UInt8?, Int64)])]) throws -> DuplicateFolders {
    var f = try FolderFold(silos: silos)
    for (silo, dir, files) in stream {
        try f.add(FolderContents(siloID: silo, dir: RelativePath(dir), files: files.map { .init(sha256: $0.0.map(digest), size: $0.1) }))
    }
    return try f.finish()
}

private func group(_ files: [(String, String)]) -> DuplicateGroup {
    DuplicateGroup(sha256: digest(9), size: 10, files: files.enumerated().map { i, f in
        GroupFile(silo: f.0, siloPriority: 0, siloRoot: FilePath("/" + f.0), path: RelativePath(f.1), device: 1, inode: UInt64(i + 1),
                  linkCount: 1, mtimeNs: 0)
    }, physicalCopies: files.count)
}

@Suite("FolderFold: folder identities from a stream")
struct FolderFoldTests {
    @Test("a folder given twice breaks the stream's contract: refused, not merged")
    func twice() throws {
        #expect(throws: FolderStreamError.self) {
            try fold([(1, "x", [(1, 10)]), (1, "y", [(2, 10)]), (1, "x", [(3, 10)])])
        }
    }

    @Test("folders above the listed ones are made; order of files and folders does not matter; sizes count")
    func implied() throws {
        // Deep folders listed before their parents, files in different orders.
        let r = try fold([(1, "p/q/r", [(1, 10), (2, 20)]), (2, "s/t", [(2, 20), (1, 10)]), (2, "s", [(3, 5)]), (1, "p/q", [(3, 5)]),
                          (1, "", [(7, 1)]), (2, "", [(8, 2)])])
        #expect(r.groups.map { $0.folders.map { "\($0.silo):\($0.display)" } } == [["a:p/q", "b:s"]])
        #expect(r.groups.first?.files == 3 && r.groups.first?.bytes == 35)
        #expect(r.nestedGroups == 1)                    // r and t
        #expect(r.folders == 7)                         // a: "", p, p/q, p/q/r; b: "", s, s/t
        // The same digests at other sizes are other contents.
        let other = try fold([(1, "x", [(1, 10)]), (2, "y", [(1, 11)])])
        #expect(other.groups.isEmpty)
    }

    @Test("a file group is left to a folder group only with one copy in each of its folders")
    func explains() throws {
        let r = try fold([(1, "x", [(1, 10), (1, 10)]), (2, "y", [(1, 10), (1, 10)]), (2, "z", [(1, 10)])])
        #expect(r.groups.count == 1)
        #expect(r.explains(group([("a", "x/f1"), ("b", "y/g1")])))
        #expect(!r.explains(group([("a", "x/f1"), ("a", "x/f2"), ("b", "y/g1"), ("b", "y/g2")])))   // two in one folder
        #expect(!r.explains(group([("a", "x/f1"), ("b", "y/g1"), ("b", "z/h")])))                 // one outside
        #expect(!r.explains(group([("a", "x/f1")])))                                              // not in every folder
    }
}
