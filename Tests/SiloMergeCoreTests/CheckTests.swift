import Foundation
import GRDB
import Testing
@testable import SiloMergeCore

@Suite("Consistency checks")
struct CheckTests {
    @Test("Rot that even the ctime hides is found only by re-reading (--verify-fraction)")
    func verifyFindsHiddenRot() throws {
        let tree = try TestTree()
        try tree.write("s/a.bin", bytes(50_000, seed: 1))
        try tree.write("s/b.bin", bytes(50_000, seed: 2))
        let (_, store) = try scan(tree, [tree.silo("s")])
        // The stored hash no longer matches the bytes, while the file's identity is untouched:
        // the same mismatch as a bit flipped by the disk under an unchanged inode.
        try store.pool.write { db in
            try db.execute(sql: "UPDATE file SET sha256 = ? WHERE name = 'a.bin'", arguments: [String(repeating: "0", count: 64)])
        }
        let plain = try CheckEngine(store: store).check()
        #expect(plain.outcome == .unchanged)
        #expect(plain.scan.counts.filesHashed == 0)
        var options = CheckOptions()
        options.scan.verifyFraction = 1
        let verified = try CheckEngine(store: store).check(options: options)
        #expect(verified.outcome == .corrupted)
        let rot = try #require(verified.findings.first)
        #expect(rot.kind == .corrupted)
        #expect(rot.path == RelativePath("a.bin"))
        #expect(rot.old?.sha256 == SHA256Digest(hex: String(repeating: "0", count: 64)))
        #expect(verified.findings.count == 1)
        // Recorded with the run, for history and the report.
        let last = try #require(try store.lastCheck())
        #expect(last.run.id == verified.scan.runID)
        #expect(last.outcome == .corrupted)
        #expect(last.findings == verified.findings)
    }

    @Test("--verify-fraction reads the least recently verified files first")
    func rotation() throws {
        let tree = try TestTree()
        for i in 0..<20 { try tree.write("s/f\(i).bin", bytes(1000 + i, seed: UInt64(i))) }
        let (_, store) = try scan(tree, [tree.silo("s")])
        var options = CheckOptions()
        options.scan.verifyFraction = 0.25
        var seen = Set<Int64>()
        for _ in 0..<4 {
            let chosen = try store.leastRecentlyVerified(siloIDs: try store.silos().map(\.id), fraction: 0.25)
            #expect(chosen.count == 5)
            #expect(seen.isDisjoint(with: chosen.keys))
            seen.formUnion(chosen.keys)
            let r = try CheckEngine(store: store).check(options: options)
            #expect(r.scan.counts.filesHashed == 5)
            #expect(r.outcome == .unchanged)
            Thread.sleep(forTimeInterval: 0.002)   // hashed_at has millisecond resolution
        }
        #expect(seen.count == 20)
    }

    @Test("A content moved into another silo is one 'moved' finding, not missing + new")
    func moveAcrossSilos() throws {
        let tree = try TestTree()
        try tree.write("a/photo.jpg", bytes(4000, seed: 9))
        try tree.write("a/keep.txt", "stays")   // an emptied root reads as an unmounted share: nothing is marked missing
        try tree.mkdir("b")
        try tree.write("b/other.txt", "x")
        let (_, store) = try scan(tree, [tree.silo("a", priority: 1), tree.silo("b", priority: 2)])
        try FileManager.default.moveItem(at: tree.url("a/photo.jpg"), to: tree.url("b/renamed.jpg"))
        let r = try CheckEngine(store: store).check()
        #expect(r.outcome == .changed)
        #expect(r.findings.map(\.kind) == [.moved])
        #expect(r.findings.first?.oldSilo == "a")
        #expect(r.findings.first?.silo == "b")
        #expect(r.findings.first?.path == RelativePath("renamed.jpg"))
    }

    @Test("A new hard link is not a new duplicate; a new independent copy is")
    func hardLinksAreNotCopies() throws {
        let tree = try TestTree()
        try tree.write("s/a.bin", bytes(3000, seed: 4))
        let (_, store) = try scan(tree, [tree.silo("s")])
        try tree.hardlink("s/a-link.bin", to: "s/a.bin")
        let linked = try CheckEngine(store: store).check()
        #expect(linked.findings.map(\.kind) == [.new])
        try FileManager.default.copyItem(at: tree.url("s/a.bin"), to: tree.url("s/a-copy.bin"))
        let copied = try CheckEngine(store: store).check()
        #expect(Set(copied.findings.map(\.kind)) == [.new, .newDuplicate])
        #expect(copied.findings.first { $0.kind == .newDuplicate }?.detail == "2 copies (was 1)")
    }

    @Test("A check with nothing catalogued is a clear error")
    func nothingCatalogued() throws {
        let tree = try TestTree()
        let store = try SQLiteCatalogue(path: tree.catalogue)
        #expect(throws: CheckError.self) { try CheckEngine(store: store).check() }
    }
}
