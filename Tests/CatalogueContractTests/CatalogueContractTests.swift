import Foundation
import SiloMergeCore
import SiloMergeTestSupport
import Testing

/// Scans `silos` into `store` as `host`.
@discardableResult
private func scan(_ store: any CatalogueStore, _ silos: [SiloDefinition], mode: HashMode = .full,
                  host: HostIdentity = HostIdentity(id: "contract-host", name: "contract-host")) throws -> ScanResult {
    var options = ScanOptions()
    options.hashMode = mode
    return try ScanEngine(store: store, host: host).scan(silos, options: options)
}

@Suite("Catalogue contract: silo registry, run log, scan lock, settings")
struct RegistryContractTests {
    @Test("silos are added, listed by priority then name, updated by name with their host, and removed", arguments: Backend.all)
    func siloRegistry(backend: Backend) throws {
        let tree = try TestTree()
        let store = try backend.open(tree)
        #expect(try store.silos().isEmpty)
        var b = tree.silo("b", priority: 2)
        b.excludes = ["*.tmp"]
        b.host = HostIdentity(id: "h1", name: "one")
        let registered = try store.registerSilos([b, tree.silo("a", priority: 1)])
        #expect(registered.map(\.name) == ["b", "a"])
        #expect(try store.silos().map(\.name) == ["a", "b"])
        let stored = try #require(try store.silos().first { $0.name == "b" })
        #expect(stored.excludes == ["*.tmp"] && stored.host == HostIdentity(id: "h1", name: "one") && stored.priority == 2)
        // Updating by name keeps the id; a definition without a host keeps the stored one.
        var again = tree.silo("b", priority: 3)
        again.host = nil
        let updated = try #require(try store.registerSilos([again]).first)
        #expect(updated.id == stored.id && updated.priority == 3 && updated.host == stored.host)
        try store.removeSilo(named: "a")
        #expect(try store.silos().map(\.name) == ["b"])
        #expect(throws: (any Error).self) { try store.removeSilo(named: "nobody") }
        // Two names for one folder are refused.
        #expect(throws: (any Error).self) { try store.registerSilos([SiloDefinition(name: "c", root: stored.root, priority: 1)]) }
    }

    @Test("runs are recorded running, then finished with their counts; interrupting a finished run changes nothing", arguments: Backend.all)
    func runLog(backend: Backend) throws {
        let tree = try TestTree()
        let store = try backend.open(tree)
        let first = try store.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["a"])
        #expect(try store.runs(limit: nil).map(\.status) == [.running])
        var counts = RunCounts()
        counts.files = 7; counts.bytesHashed = 123
        try store.finishRun(first, status: .ok, counts: counts, errorMessage: nil)
        try store.markInterrupted(first, counts: RunCounts(), reason: "too late")
        let second = try store.beginRun(kind: .check, hashMode: "full", options: "{}", silos: ["a", "b"])
        try store.markInterrupted(second, counts: counts, reason: "interrupted by SIGINT")
        let runs = try store.runs(limit: nil)
        #expect(runs.map(\.id) == [second, first])
        #expect(runs.map(\.status) == [.interrupted, .ok])
        #expect(runs[1].counts == counts && runs[1].kind == .scan && runs[0].silos == ["a", "b"])
        #expect(try store.runs(limit: 1).map(\.id) == [second])
    }

    @Test("one scan at a time: a second opening of the catalogue cannot take the lock until it is dropped", arguments: Backend.all)
    func scanLock(backend: Backend) throws {
        let tree = try TestTree()
        let store = try backend.open(tree), other = try backend.open(tree)
        var lock: ScanLock? = try store.lockForScan()
        #expect(throws: (any Error).self) { _ = try other.lockForScan() }
        withExtendedLifetime(lock) {}
        lock = nil
        let taken = try other.lockForScan()
        withExtendedLifetime(taken) {}
    }

    @Test("settings are remembered, replaced and forgotten", arguments: Backend.all)
    func settings(backend: Backend) throws {
        let tree = try TestTree()
        let store = try backend.open(tree)
        #expect(try store.setting("k") == nil)
        try store.setSetting("k", "one")
        try store.setSetting("k", "two")
        #expect(try backend.open(tree).setting("k") == "two")
        try store.setSetting("k", nil)
        #expect(try store.setting("k") == nil)
    }
}

@Suite("Catalogue contract: scan sink, folder index, content streams")
struct ScanContractTests {
    @Test("what a scan writes, the folder index gives back: counts, folder listings, hard links per host", arguments: Backend.all)
    func folderIndex(backend: Backend) throws {
        let tree = try TestTree()
        try tree.write("a/x.txt", "x")
        try tree.write("a/sub/y.txt", "yy")
        try tree.hardlink("a/sub/z.txt", to: "a/sub/y.txt")
        let store = try backend.open(tree)
        let result = try scan(store, [tree.silo("a")])
        #expect(result.counts.files == 3)
        let silo = try #require(try store.silos().first)
        #expect(try store.fileCounts() == [silo.id: 3])
        let reader = try store.makeFolderReader()
        let root = try reader.entries(siloID: silo.id, dir: RelativePath(""), withHashes: true)
        #expect(root.map { String(decoding: $0.name, as: UTF8.self) } == ["x.txt"])
        #expect(root.first?.stat.size == 1 && root.first?.hasHash == true)
        let sub = try reader.entries(siloID: silo.id, dir: RelativePath("sub"), withHashes: false)
        #expect(Set(sub.map { String(decoding: $0.name, as: UTF8.self) }) == ["y.txt", "z.txt"])
        let link = try #require(sub.first)
        #expect(try store.storedHash(linkedTo: link.stat, host: silo.host) == SHA256Hasher.digest(Array("yy".utf8)))
        #expect(try store.storedHash(linkedTo: link.stat, host: HostIdentity(id: "elsewhere", name: "elsewhere")) == nil)
    }

    @Test("files gone from a folder are dropped at the end of the walk and counted missing", arguments: Backend.all)
    func finishWalk(backend: Backend) throws {
        let tree = try TestTree()
        try tree.write("a/keep.txt", "k")
        try tree.write("a/old/gone.txt", "g")
        let store = try backend.open(tree)
        try scan(store, [tree.silo("a")])
        try tree.remove("a/old")
        let again = try scan(store, [tree.silo("a")])
        #expect(again.counts.filesMissing == 1)
        #expect(try store.fileCounts().values.sorted() == [1])
    }

    @Test("content streams: duplicate groups largest reclaimable first, the analysis, size groups and hash prefixes", arguments: Backend.all)
    func contentStreams(backend: Backend) throws {
        let tree = try TestTree()
        let big = bytes(9_000, seed: 1), small = bytes(2_000, seed: 2)
        try tree.write("a/big.bin", big)
        try tree.write("b/big-copy.bin", big)
        try tree.write("b/small.bin", small)
        try tree.write("b/small-2.bin", small)
        try tree.write("b/small-3.bin", small)
        try tree.write("a/unique.bin", bytes(2_000, seed: 3))
        let store = try backend.open(tree)
        try scan(store, [tree.silo("a"), tree.silo("b", priority: 2)])
        var order: [(Int64, Int)] = []
        try store.forEachDuplicateGroup(DuplicateQuery()) { g in order.append((g.size, g.physicalCopies)); return true }
        // 9,000 reclaimable (big) before 4,000 (small ×3).
        #expect(order.map(\.0) == [9_000, 2_000] && order.map(\.1) == [2, 3])
        let analysis = try store.analyse(DuplicateQuery(), top: 1)
        #expect(analysis.summary.reclaimableBytes == 13_000)
        #expect(analysis.summary.duplicateGroups == 2 && analysis.summary.files == 6)
        #expect(analysis.largestGroups.map(\.size) == [9_000])
        #expect(analysis.overlap.contains { $0.a == "a" && $0.b == "b" && $0.bytes == 9_000 })
        var sizes: [Int64] = []
        try store.forEachSizeGroup { group in sizes.append(group[0].stat.size); return true }
        #expect(sizes == [2_000, 9_000])
        let digest = try SHA256Hasher.digest(big)
        #expect(try store.contents(withPrefix: String(digest.hex.prefix(10)), limit: 2) == [digest])
    }
}

@Suite("Catalogue contract: assets and findings")
struct AssetAndFindingContractTests {
    @Test("the unified catalogue: one record per content, stored by a rebuild, the same from a read-only pass", arguments: Backend.all)
    func assets(backend: Backend) throws {
        let tree = try TestTree()
        try tree.write("a/one.txt", "same")
        try tree.write("b/two.txt", "same")
        try tree.write("b/three.txt", "other")
        let store = try backend.open(tree)
        try scan(store, [tree.silo("a"), tree.silo("b", priority: 2)])
        var rebuilt: [ReconciledAsset] = []
        let summary = try Reconciliation.run(store: store) { rebuilt.append($0) }
        #expect(summary.assets == 2 && rebuilt.count == 2)
        #expect(rebuilt.map(\.copies.count).sorted() == [1, 2])
        var read: [ReconciledAsset] = []
        _ = try Reconciliation.run(store: store, record: false) { read.append($0) }
        #expect(read.map(\.sha256) == rebuilt.map(\.sha256))
        #expect(try store.unhashedFiles().isEmpty && store.sidecarFiles().isEmpty)
    }

    @Test("a rebuild hands its records over after the commit: while the caller is slow, another connection can write",
          arguments: Backend.all)
    func rebuildFreesTheWriter(backend: Backend) throws {
        let tree = try TestTree()
        try tree.write("a/one.txt", "one")
        try tree.write("a/two.txt", "two")
        let store = try backend.open(tree)
        try scan(store, [tree.silo("a")])
        let other = try backend.open(tree)
        var writes: [Bool] = []
        var pending: [DispatchSemaphore] = []
        let summary = try Reconciliation.run(store: store) { _ in
            // A command blocked on its output (a pipe nobody reads): another process's write
            // must go through meanwhile, not wait for the command.
            let done = DispatchSemaphore(value: 0)
            let key = "contract.during-stream.\(writes.count)"
            Thread.detachNewThread {
                try? other.setSetting(key, "written")
                done.signal()
            }
            let wrote = done.wait(timeout: .now() + 1) == .success
            writes.append(wrote)
            if !wrote { pending.append(done) }
        }
        for done in pending { done.wait() }
        #expect(summary.assets == 2)
        #expect(writes == [true, true], "a write waited for the caller's output")
        #expect(try store.setting("contract.during-stream.0") == "written")
    }

    @Test("findings: a missing file stays open across checks and closes when accepted", arguments: Backend.all)
    func findings(backend: Backend) throws {
        let tree = try TestTree()
        try tree.write("s/a.bin", bytes(100, seed: 1))
        try tree.write("s/b.bin", bytes(100, seed: 2))
        let store = try backend.open(tree)
        let host = HostIdentity(id: "contract-host", name: "contract-host")
        try scan(store, [tree.silo("s")], host: host)
        try tree.remove("s/b.bin")
        let first = try CheckEngine(store: store, host: host).check()
        #expect(first.findings.map(\.kind) == [.missing])
        #expect(try store.lastCheck()?.findings.map(\.kind) == [.missing])
        #expect(try store.openFindings(silos: []).map(\.path) == [RelativePath("b.bin")])
        #expect(try CheckEngine(store: store, host: host).check().open.count == 1)
        let accepted = try store.acceptFindings([FindingSelector(silo: "s", path: RelativePath("b.bin"))], by: "auditor", reason: "retired")
        #expect(accepted.map(\.path) == [RelativePath("b.bin")])
        #expect(try store.openFindings(silos: []).isEmpty)
        #expect(try store.closedFindings(limit: 5).first?.closedBy == "auditor")
    }
}
