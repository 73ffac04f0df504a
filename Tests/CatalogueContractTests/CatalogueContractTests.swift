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

    @Test("the run log keeps every counter of RunCounts whole, through finishRun and markInterrupted", arguments: Backend.all)
    func runCountsRoundTrip(backend: Backend) throws {
        let tree = try TestTree()
        let store = try backend.open(tree)
        // Every field, whatever fields there are, with a value of its own (bytes beyond 32 bits):
        // a counter the store drops, swaps or truncates fails here.
        let names = RunCounts().fields.map(\.name)
        #expect(names.count >= 16 && Set(names).count == names.count)
        let values = Dictionary(uniqueKeysWithValues: names.enumerated().map { i, name in
            (name, Int64(i + 1) * 1_000_003 + (name.lowercased().contains("bytes") ? 5_000_000_000 : 0))
        })
        let counts = RunCounts(fields: values)
        #expect(counts.fields.map(\.value) == names.map { values[$0]! })
        let finished = try store.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["a"])
        try store.finishRun(finished, status: .warnings, counts: counts, errorMessage: nil)
        var doubled = counts
        doubled = RunCounts.sum([counts, counts])
        let interrupted = try store.beginRun(kind: .check, hashMode: "dupes", options: "{}", silos: ["a"])
        try store.markInterrupted(interrupted, counts: doubled, reason: "interrupted by SIGTERM")
        let runs = try store.runs(limit: nil)
        #expect(runs.map(\.id) == [interrupted, finished])
        #expect(runs[1].counts == counts)
        #expect(runs[1].counts.fields.map(\.value) == names.map { values[$0]! })
        #expect(runs[0].counts == doubled)
        #expect(runs[0].counts.fields.map(\.value) == names.map { 2 * values[$0]! })
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

    @Test("vanished folders: the folders a walk did not list, its boundaries, and dropping what the fold decided", arguments: Backend.all)
    func vanishedFolders(backend: Backend) throws {
        let tree = try TestTree()
        try tree.write("a/keep/k.txt", "k")
        try tree.write("a/gone/g.txt", "g")
        try tree.write("a/gone/h.txt", "h")
        try tree.write("a/out/o.txt", "o")
        try tree.write("a/locked/l.txt", "l")
        let store = try backend.open(tree)
        try scan(store, [tree.silo("a")])
        let silo = try #require(try store.silos().first)
        // A walk by hand: the root and keep/ listed, locked/ unreadable, out/ excluded.
        let run = try store.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["a"])
        try store.beginWalk(runID: run)
        try store.apply([.visitedDirectory(siloID: silo.id, dir: .root), .visitedDirectory(siloID: silo.id, dir: RelativePath("keep")),
                         .unreadableDirectory(siloID: silo.id, dir: RelativePath("locked")),
                         .excludedDirectory(siloID: silo.id, dir: RelativePath("out"))], runID: run)
        let boundaries = try store.walkBoundaries(siloIDs: [silo.id])
        #expect(boundaries.unreadable == [SiloFolder(siloID: silo.id, dir: RelativePath("locked"))])
        #expect(boundaries.excluded == [SiloFolder(siloID: silo.id, dir: RelativePath("out"))])
        var unlisted: [String] = []
        try store.forEachUnlistedFolder(siloIDs: [silo.id]) { unlisted.append($0.dir.display) }
        #expect(unlisted.sorted() == ["gone", "locked", "out"])
        let dropped = try store.dropVanishedFolders([VanishedFolder(folder: SiloFolder(siloID: silo.id, dir: RelativePath("gone")), kind: .missing),
                                                     VanishedFolder(folder: SiloFolder(siloID: silo.id, dir: RelativePath("out")), kind: .excluded)],
                                                    runID: run)
        #expect(dropped.missing == 2 && dropped.excluded == 1)
        #expect(try store.fileCounts()[silo.id] == 2)
        var changes: [FindingFold.Change] = []
        try store.forEachChange(runID: run) { changes.append($0) }
        #expect(changes.map(\.kind).sorted { $0.rawValue < $1.rawValue } == [.excluded, .missing, .missing])
        #expect(Set(changes.map(\.path.display)) == ["gone/g.txt", "gone/h.txt", "out/o.txt"])
        #expect(changes.allSatisfy { $0.old.sha256 != nil && $0.oldInode != nil })
        // The whole pass (`finishWalk`) over what is left: only locked/ is unlisted, and it is kept.
        let again = try store.finishWalk(runID: run, siloIDs: [silo.id])
        #expect(again.missing == 0 && again.excluded == 0)
        #expect(try store.fileCounts()[silo.id] == 2)
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

    @Test("findings' queries: a run's changes in order, its new files (pre-filtered for alerts), the copies of a content", arguments: Backend.all)
    func findingQueries(backend: Backend) throws {
        let tree = try TestTree()
        try tree.write("s/keep.bin", bytes(100, seed: 1))
        try tree.write("s/gone.bin", bytes(100, seed: 2))
        try tree.write("s/rot.bin", bytes(100, seed: 3))
        let store = try backend.open(tree)
        let host = HostIdentity(id: "contract-host", name: "contract-host")
        let first = try scan(store, [tree.silo("s")], host: host)
        var firstNew: [String] = []
        try store.forEachNewFile(runID: first.runID, scope: .all) { firstNew.append($0.path.display) }
        #expect(firstNew == ["gone.bin", "keep.bin", "rot.bin"])
        // Nothing vanished and nothing is open: no new file can matter to alerts.
        var alerts = 0
        try store.forEachNewFile(runID: first.runID, scope: .alerts) { _ in alerts += 1 }
        #expect(alerts == 0)
        // Run 2: gone.bin moves to moved/gone.bin, a copy of keep.bin arrives.
        try tree.mkdir("s/moved")
        try FileManager.default.moveItem(at: tree.url("s/gone.bin"), to: tree.url("s/moved/gone.bin"))
        try tree.write("s/copy.bin", bytes(100, seed: 1))
        let second = try scan(store, [tree.silo("s")], host: host)
        var changes: [FindingFold.Change] = []
        try store.forEachChange(runID: second.runID) { changes.append($0) }
        #expect(changes.map(\.kind) == [.missing] && changes.map(\.path) == [RelativePath("gone.bin")])
        let goneSHA = try #require(changes.first?.old.sha256)
        #expect(changes.first?.silo == "s" && changes.first?.oldInode != nil && changes.first?.currentInode == nil)
        var newPaths: [String] = []
        try store.forEachNewFile(runID: second.runID, scope: .all) { newPaths.append($0.path.display) }
        #expect(newPaths == ["copy.bin", "moved/gone.bin"])
        // For alerts: only the file holding the lost content.
        var alertPaths: [String] = []
        try store.forEachNewFile(runID: second.runID, scope: .alerts) { alertPaths.append($0.path.display) }
        #expect(alertPaths == ["moved/gone.bin"])
        let keepSHA = try SHA256Hasher.digest(bytes(100, seed: 1))
        var byContent: [(SHA256Digest, [FindingFold.Copy])] = []
        try store.forEachCopies(of: [keepSHA, goneSHA]) { byContent.append(($0, $1)) }
        #expect(byContent.map(\.0) == [keepSHA, goneSHA])
        #expect(byContent.last?.1.map(\.path) == [RelativePath("moved/gone.bin")])
        let copies = byContent[0].1
        #expect(copies.map(\.path) == [RelativePath("copy.bin"), RelativePath("keep.bin")])
        #expect(copies.map(\.firstSeenRun) == [second.runID, first.runID] && copies.allSatisfy { $0.inode != nil })
        #expect(try store.mergeNotes(runID: second.runID).isEmpty)
        #expect(try store.openFindingsTakenByPlans().isEmpty)
        #expect(try store.unsettledRuns().isEmpty)
    }

    @Test("open-finding transitions are written in order, with the run noted settled; a closed finding stays closed", arguments: Backend.all)
    func findingTransitions(backend: Backend) throws {
        let tree = try TestTree()
        try tree.write("s/a.bin", bytes(100, seed: 1))
        let store = try backend.open(tree)
        let host = HostIdentity(id: "contract-host", name: "contract-host")
        try scan(store, [tree.silo("s")], host: host)
        let run = try store.beginRun(kind: .check, hashMode: "full", options: "{}", silos: ["s"])
        let sha = try SHA256Hasher.digest(bytes(100, seed: 1))
        let verified = Finding.State(size: 100, mtimeNs: 5, sha256: sha)
        let started = Date(timeIntervalSince1970: 1_700_000_000)
        try store.applyFindingTransitions([
            .open(kind: .corrupted, silo: "s", path: RelativePath("a.bin"), verified: verified, seen: nil, detail: "rot", openedAt: started),
            .open(kind: .missing, silo: "s", path: RelativePath("d/b.bin"), verified: verified, seen: nil, detail: nil, openedAt: started),
        ], runID: run)
        #expect(try store.unsettledRuns().map(\.id) == [], "run \(run) is noted settled")
        let open = try store.openFindings(silos: [])
        #expect(open.map(\.kind) == [.corrupted, .missing] && open.allSatisfy { $0.openedRun == run && $0.openedAt == started })
        let rot = open[0], gone = open[1]
        #expect(rot.verified == verified && rot.detail == "rot")
        // The file at the corrupted one's path holds its verified content.
        #expect(try store.filesAtOpenFindings().map(\.openFindingID) == [rot.id])
        #expect(try store.filesAtOpenFindings().first?.state.sha256 == sha)
        let next = try store.beginRun(kind: .check, hashMode: "full", options: "{}", silos: ["s"])
        let seen = Finding.State(size: 1, mtimeNs: 2, sha256: nil)
        try store.applyFindingTransitions([
            .sawAgain(id: rot.id, seen: seen, detail: nil),
            .follow(id: gone.id, silo: "s", path: RelativePath("e/b.bin"), detail: "moved from s:d/b.bin"),
            .close(id: rot.id, resolution: .restored, detail: nil),
            .sawAgain(id: rot.id, seen: nil, detail: "after closing"),
            .stillOpen(id: gone.id),
        ], runID: next)
        let still = try store.openFindings(silos: [])
        #expect(still.map(\.path) == [RelativePath("e/b.bin")] && still[0].lastRun == next && still[0].detail == "moved from s:d/b.bin")
        let closed = try #require(try store.closedFindings(limit: 5).first)
        #expect(closed.id == rot.id && closed.resolution == .restored && closed.closedRun == next)
        #expect(closed.seen == seen && closed.detail == "rot")
        #expect(try store.unsettledRuns().map(\.id) == [], "runs \(run) and \(next) are noted settled")
        // Accepting: only what is still open is closed, with its detail and who closed it.
        let at = Date(timeIntervalSince1970: 1_700_000_500)
        #expect(try store.closeAccepted([(id: rot.id, detail: "late"), (id: gone.id, detail: "no longer expected")], by: "auditor", at: at)
                == [gone.id])
        #expect(try store.openFindings(silos: []).isEmpty)
        let accepted = try #require(try store.closedFindings(limit: 5).first { $0.id == gone.id })
        #expect(accepted.resolution == .accepted && accepted.closedBy == "auditor" && accepted.closedAt == at
                && accepted.closedDetail == "no longer expected")
        #expect(try store.closedFindings(limit: 5).first { $0.id == rot.id }?.resolution == .restored)
    }
}
