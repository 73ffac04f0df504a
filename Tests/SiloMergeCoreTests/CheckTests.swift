import Foundation
import Synchronization
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

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
        try probe(store).change(filesNamed: "a.bin", FileRowChange(sha256: String(repeating: "0", count: 64)))
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
    /// Makes the stored hash of `name` wrong without touching the file: rot the ctime hides.
    func hideRot(_ store: SQLiteCatalogue, _ name: String) throws {
        try probe(store).change(filesNamed: name, FileRowChange(sha256: String(repeating: "0", count: 64)))
    }

    @Test("Path 1, the changed ctime: new bytes behind the same size and mtime are corrupted on a plain check, and stay open")
    func ctimePathStaysOpen() throws {
        let tree = try TestTree()
        try tree.write("s/a.bin", bytes(50_000, seed: 1))
        try tree.write("s/b.bin", bytes(50_000, seed: 2))
        tree.setMtime("s/a.bin", seconds: 1_700_000_000)
        let (_, store) = try scan(tree, [tree.silo("s")])
        let good = try sha(bytes(50_000, seed: 1))
        var rotten = bytes(50_000, seed: 1)
        rotten[7] ^= 0x01
        try tree.write("s/a.bin", rotten)
        tree.setMtime("s/a.bin", seconds: 1_700_000_000)
        let found = try CheckEngine(store: store).check()
        #expect(found.outcome == .corrupted)
        #expect(found.findings.map(\.kind) == [.corrupted])
        #expect(found.open.map(\.kind) == [.corrupted])
        #expect(found.open.first?.verified.sha256?.hex == good)
        #expect(found.open.first?.seen?.sha256?.hex == (try sha(rotten)))
        for _ in 0..<3 {
            let later = try CheckEngine(store: store).check()
            #expect(later.outcome == .corrupted)
            #expect(later.findings.isEmpty)
            #expect(later.open.first?.openedRun == found.scan.runID)
            #expect(later.open.first?.lastRun == later.scan.runID)
        }
        // The good bytes back (a restore from backup, the mtime as it was): restored, closed.
        try tree.write("s/a.bin", bytes(50_000, seed: 1))
        tree.setMtime("s/a.bin", seconds: 1_700_000_000)
        let restored = try CheckEngine(store: store).check()
        #expect(restored.findings.map(\.kind) == [.restored])
        #expect(restored.outcome == .changed)
        #expect(restored.open.isEmpty)
        #expect(try CheckEngine(store: store).check().outcome == .unchanged)
    }

    @Test("Path 2, the re-read: check --rehash finds rot the ctime hides, and so does scan --rehash; both keep it open")
    func rereadPathStaysOpen() throws {
        let tree = try TestTree()
        try tree.write("s/a.bin", bytes(50_000, seed: 1))
        try tree.write("s/b.bin", bytes(50_000, seed: 2))
        let (_, store) = try scan(tree, [tree.silo("s")])
        try hideRot(store, "a.bin")
        var rehash = CheckOptions()
        rehash.scan.rehash = true
        let checked = try CheckEngine(store: store).check(options: rehash)
        #expect(checked.outcome == .corrupted)
        #expect(checked.findings.map(\.path) == [RelativePath("a.bin")])
        #expect(try CheckEngine(store: store).check().outcome == .corrupted)

        // A scan, not a check: the same finding, found by the scan, and open for the next check.
        let other = try TestTree()
        try other.write("s/a.bin", bytes(50_000, seed: 1))
        let (_, store2) = try scan(other, [other.silo("s")])
        try hideRot(store2, "a.bin")
        let scanned = try scan(other, [other.silo("s")]) { $0.rehash = true }.0
        #expect(scanned.status == .warnings)
        #expect(scanned.openFindings.map(\.kind) == [.corrupted])
        let next = try CheckEngine(store: store2).check()
        #expect(next.outcome == .corrupted)
        #expect(next.open.first?.openedRun == scanned.runID)
    }

    @Test("Path 3, --hash dupes: a copy compared byte for byte with its twin finds the rot, and keeps it open")
    func dupesPathStaysOpen() throws {
        let tree = try TestTree()
        try tree.write("s/a.bin", bytes(50_000, seed: 1))
        try tree.write("s/twin.bin", bytes(50_000, seed: 1))
        let (_, store) = try scan(tree, [tree.silo("s")], mode: .dupes)
        try hideRot(store, "a.bin")
        let audit = try scan(tree, [tree.silo("s")], mode: .dupes) { $0.rehash = true; $0.kind = .audit }.0
        #expect(audit.diagnostics.contains { $0.code == .contentChanged && $0.path == RelativePath("a.bin") })
        #expect(audit.openFindings.map(\.path) == [RelativePath("a.bin")])
        #expect(try CheckEngine(store: store).check().outcome == .corrupted)
    }

    @Test("A missing file stays open until it is back; its content at a new path closes it as moved; --accept closes it")
    func missingLifecycle() throws {
        let tree = try TestTree()
        for name in ["a", "b", "c", "keep"] { try tree.write("s/\(name).bin", bytes(4000, seed: UInt64(name.count * 7 + Int(name.utf8.first!)))) }
        let (_, store) = try scan(tree, [tree.silo("s")])
        let a = try Data(contentsOf: tree.url("s/a.bin")), b = try Data(contentsOf: tree.url("s/b.bin"))
        for name in ["a", "b", "c"] { try tree.remove("s/\(name).bin") }
        let gone = try CheckEngine(store: store).check()
        #expect(gone.findings.map(\.kind) == [.missing, .missing, .missing])
        #expect(try CheckEngine(store: store).check().open.count == 3)
        try a.write(to: tree.url("s/a.bin"))
        try b.write(to: tree.url("s/renamed.bin"))
        let back = try CheckEngine(store: store).check()
        #expect(back.findings.map(\.kind).sorted { $0.rawValue < $1.rawValue } == [.moved, .restored])
        #expect(back.findings.first { $0.kind == .moved }?.oldPath == RelativePath("b.bin"))
        #expect(back.open.map(\.path) == [RelativePath("c.bin")])
        #expect(back.outcome == .changed)
        let accepted = try store.acceptFindings([FindingSelector(silo: "s", path: RelativePath("c.bin"))], by: "tester", reason: "gone for good")
        #expect(accepted.map(\.path) == [RelativePath("c.bin")])
        #expect(try CheckEngine(store: store).check().outcome == .unchanged)
        let closed = try store.closedFindings(limit: 10)
        #expect(Set(closed.compactMap(\.resolution)) == [.restored, .moved, .accepted])
        #expect(closed.first { $0.resolution == .accepted }?.closedBy == "tester")
    }

    @Test("A check interrupted after reading rot does not lose it: the next check keeps it open")
    func interruptedRunIsSettledLater() throws {
        let tree = try TestTree()
        try tree.write("s/a.bin", bytes(50_000, seed: 1))
        let (_, store) = try scan(tree, [tree.silo("s")])
        try hideRot(store, "a.bin")
        let interruption = Interruption()
        var options = CheckOptions()
        options.scan.rehash = true
        let engine = ScanEngine(store: store, testHooks: .init(afterWalk: { interruption.request(signal: SIGINT) }), interruption: interruption)
        #expect(throws: ScanError.self) { try engine.scan(try store.silos().map(\.definition), options: options.scan) }
        let runs = try store.runs(limit: 1)
        #expect(runs.first?.status == .interrupted)
        let next = try CheckEngine(store: store).check()
        #expect(next.outcome == .corrupted)
        #expect(next.open.first?.openedRun == runs.first?.id)
    }

    @Test("An interrupted rescan is recorded interrupted the moment it is asked, stops, and marks nothing missing")
    func interruptedRescanMarksNothingMissing() throws {
        let tree = try TestTree()
        for d in 0..<20 { for f in 0..<10 { try tree.write("s/d\(d)/f\(f).bin", bytes(2000, seed: UInt64(d * 10 + f))) } }
        let (_, store) = try scan(tree, [tree.silo("s")])
        let interruption = Interruption()
        let reads = Mutex(0)
        let statusAtRequest = Mutex<RunStatus?>(nil)
        let hooks = ScanEngine.TestHooks(beforeRead: { _, _ in
            if reads.withLock({ $0 += 1; return $0 }) == 20 {
                interruption.request(signal: SIGINT)
                statusAtRequest.withLock { $0 = try? store.runs(limit: 1).first?.status }
            }
            return nil
        })
        var options = ScanOptions()
        options.rehash = true
        options.jobs = 2
        #expect(throws: ScanError.self) {
            try ScanEngine(store: store, testHooks: hooks, interruption: interruption).scan([tree.silo("s")], options: options)
        }
        #expect(statusAtRequest.withLock { $0 } == .interrupted)
        let run = try #require(try store.runs(limit: 1).first)
        #expect(run.status == .interrupted)
        #expect(run.counts.filesHashed < 200)
        #expect(try probe(store).changeKinds(runID: run.id).count == 0)
        let next = try CheckEngine(store: store).check()
        #expect(next.outcome == .unchanged)
        #expect(next.scan.counts.files == 200)
    }
}
