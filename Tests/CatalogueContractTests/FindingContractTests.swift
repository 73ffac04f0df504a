import Foundation
import SiloMergeCore
import Synchronization
import SiloMergeTestSupport
import Testing

/// Scans `silos` into `store` as one host.
@discardableResult
private func scanInto(_ store: any CatalogueStore, _ silos: [SiloDefinition], kind: RunKind = .scan) throws -> ScanResult {
    var options = ScanOptions()
    options.hashMode = .full
    options.kind = kind
    return try ScanEngine(store: store, host: HostIdentity(id: "contract-host", name: "contract-host")).scan(silos, options: options)
}

/// Writes, as run `runID`'s, that the file `name` at the root of `silo` is gone: what a scan
/// of that silo writes when it finds the file missing.
private func recordGone(_ store: any CatalogueStore, silo: Silo, _ name: String, runID: Int64) throws {
    let reader = try store.makeFolderReader()
    let entry = try #require(try reader.entries(siloID: silo.id, dir: .root, withHashes: true).first { $0.name == Array(name.utf8) })
    try store.apply([.remove(entry, siloID: silo.id, dir: .root, reason: .missing)], runID: runID)
}

private func openPaths(_ store: any CatalogueStore) throws -> [String] {
    try store.openFindings(silos: []).map { "\($0.kind.rawValue) \($0.silo):\($0.path.display)" }
}

private func unsettled(_ store: any CatalogueStore) throws -> [Int64: Bool] {
    Dictionary(uniqueKeysWithValues: try store.unsettledRuns().map { ($0.id, $0.writing) })
}

@Suite("Catalogue contract: settling findings of runs that overlap, open findings, checks, plan runs")
struct FindingContractTests {
    /// Two silos, three files each, scanned (and settled) once.
    private func twoSilos(_ backend: Backend) throws -> (TestTree, any CatalogueStore, a: Silo, b: Silo) {
        let tree = try TestTree()
        for (i, name) in ["a/lost.bin", "a/keep.bin", "b/gone.bin", "b/more.bin", "b/keep.bin"].enumerated() {
            try tree.write(name, bytes(100 + i, seed: UInt64(i + 1)))
        }
        let store = try backend.open(tree)
        try scanInto(store, [tree.silo("a"), tree.silo("b")])
        let silos = try store.silos()
        return (tree, store, try #require(silos.first { $0.name == "a" }), try #require(silos.first { $0.name == "b" }))
    }

    @Test("runs of two silos interleave: a run still writing is not settled by the other, settles its own, and every alert is opened once",
          arguments: Backend.all)
    func interleavedRuns(backend: Backend) throws {
        let (tree, store, a, b) = try twoSilos(backend)
        defer { withExtendedLifetime(tree) {} }
        #expect(try store.unsettledRuns().isEmpty)
        // Run 5 (silo b) has found one file gone and is still walking when run 6 (silo a) ends.
        let five = try store.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["b"])
        try recordGone(store, silo: b, "gone.bin", runID: five)
        let six = try store.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["a"])
        try recordGone(store, silo: a, "lost.bin", runID: six)
        #expect(try unsettled(store) == [five: true, six: true])
        let sixFound = try store.settleFindings(runID: six, scope: .alerts)
        #expect(sixFound.map { "\($0.kind.rawValue) \($0.silo):\($0.path.display)" } == ["missing a:lost.bin"])
        // Run 5 was left alone: not settled half-way (its alert is not opened yet), still pending.
        #expect(try openPaths(store) == ["missing a:lost.bin"])
        #expect(try unsettled(store) == [five: true])
        try store.finishRun(six, status: .ok, counts: RunCounts(), errorMessage: nil)
        // Run 5 goes on writing after run 6 settled, then settles its own: all of it, once.
        try recordGone(store, silo: b, "more.bin", runID: five)
        let fiveFound = try store.settleFindings(runID: five, scope: .alerts)
        try store.finishRun(five, status: .ok, counts: RunCounts(), errorMessage: nil)
        #expect(fiveFound.map { "\($0.kind.rawValue) \($0.silo):\($0.path.display)" } == ["missing b:gone.bin", "missing b:more.bin"])
        #expect(fiveFound.allSatisfy { $0.detail == nil }, "run 5's alerts are news, not 'still open' from an earlier settlement")
        #expect(try openPaths(store) == ["missing a:lost.bin", "missing b:gone.bin", "missing b:more.bin"])
        let opened = try store.openFindings(silos: [])
        #expect(opened.map(\.openedRun) == [six, five, five])
        #expect(try store.unsettledRuns().isEmpty)
        // A run is settled once: a second settlement is refused, and changes nothing.
        #expect(throws: CatalogueError.self) { try store.applyFindingTransitions([], runID: five) }
        #expect(throws: CatalogueError.self) { _ = try store.settleFindings(runID: five, scope: .alerts) }
        #expect(try store.openFindings(silos: []) == opened)
    }

    @Test("a run that stopped without settling (interrupted) is settled whole by the next settlement, then never again",
          arguments: Backend.all)
    func stoppedRunSettledByTheNext(backend: Backend) throws {
        let (tree, store, a, b) = try twoSilos(backend)
        defer { withExtendedLifetime(tree) {} }
        let five = try store.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["b"])
        try recordGone(store, silo: b, "gone.bin", runID: five)
        let six = try store.beginRun(kind: .check, hashMode: "full", options: "{}", silos: ["a"])
        _ = try store.settleFindings(runID: six, scope: .all)
        try store.finishRun(six, status: .ok, counts: RunCounts(), errorMessage: nil)
        // Run 5 writes more after run 6 settled, then is interrupted: it records its end
        // without settling (as ScanEngine does on SIGINT).
        try recordGone(store, silo: b, "more.bin", runID: five)
        try store.markInterrupted(five, counts: RunCounts(), reason: "interrupted by SIGINT")
        try store.finishRun(five, status: .interrupted, counts: RunCounts(), errorMessage: "interrupted by SIGINT")
        #expect(try unsettled(store) == [five: false])
        #expect(try openPaths(store).isEmpty)
        // The next run (of the other silo) settles run 5, whole, without reporting it as its own.
        let seven = try store.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["a"])
        try recordGone(store, silo: a, "lost.bin", runID: seven)
        let found = try store.settleFindings(runID: seven, scope: .alerts)
        try store.finishRun(seven, status: .ok, counts: RunCounts(), errorMessage: nil)
        #expect(found.map { "\($0.kind.rawValue) \($0.silo):\($0.path.display)" } == ["missing a:lost.bin"])
        #expect(try openPaths(store) == ["missing a:lost.bin", "missing b:gone.bin", "missing b:more.bin"])
        #expect(try store.openFindings(silos: ["b"]).map(\.openedRun) == [five, five])
        #expect(try store.unsettledRuns().isEmpty)
        // The settlement after that finds nothing left to settle: nothing is opened twice.
        let eight = try store.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["a"])
        _ = try store.settleFindings(runID: eight, scope: .alerts)
        try store.finishRun(eight, status: .ok, counts: RunCounts(), errorMessage: nil)
        #expect(try openPaths(store) == ["missing a:lost.bin", "missing b:gone.bin", "missing b:more.bin"])
    }

    @Test("PostgreSQL: settlements take turns across hosts; the run two hosts find pending is settled once, its alerts opened once",
          .enabled(if: TestCatalogues.postgresServer != nil), arguments: [Backend.postgres])
    func concurrentSettlements(backend: Backend) throws {
        // Settlements take turns, across connections: the second waits until the first is done.
        let turns = try TestTree("settlementTurns")
        let first = try backend.open(turns), second = try backend.open(turns)
        let order = Mutex<[String]>([])
        let waiting = DispatchGroup()
        try first.whileSettling {
            order.withLock { $0.append("first in") }
            DispatchQueue.global().async(group: waiting) {
                do { try second.whileSettling { order.withLock { $0.append("second in") } } } catch {
                    order.withLock { $0.append("\(error)") }
                }
            }
            Thread.sleep(forTimeInterval: 0.5)
            order.withLock { $0.append("first out") }
        }
        waiting.wait()
        #expect(order.withLock { $0 } == ["first in", "first out", "second in"])
        for attempt in 1...3 {
            let tree = try TestTree("concurrentSettlements\(attempt)")
            for (i, name) in ["a/x.bin", "b/y.bin", "c/gone.bin", "c/more.bin"].enumerated() {
                try tree.write(name, bytes(100 + i, seed: UInt64(i + 1)))
            }
            // Two hosts: two processes' catalogues, each with its own sessions.
            let one = try backend.open(tree), two = try backend.open(tree)
            try scanInto(one, [tree.silo("a"), tree.silo("b"), tree.silo("c")])
            let c = try #require(try one.silos().first { $0.name == "c" })
            // A run of silo c that will stop without settling.
            let killed = try one.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["c"])
            try recordGone(one, silo: c, "gone.bin", runID: killed)
            try recordGone(one, silo: c, "more.bin", runID: killed)
            // Interrupted, it goes on writing until it has stopped: the other host sees it so.
            try one.markInterrupted(killed, counts: RunCounts(), reason: "interrupted by SIGTERM")
            #expect(try unsettled(two) == [killed: true])
            try one.finishRun(killed, status: .interrupted, counts: RunCounts(), errorMessage: "interrupted by SIGTERM")
            // The other host sees it stopped, and both hosts' runs as writing.
            let runA = try one.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["a"])
            let runB = try two.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["b"])
            #expect(try unsettled(two) == [killed: false, runA: true, runB: true])
            let outcomes = Mutex<[String]>([])
            let start = DispatchSemaphore(value: 0)
            let group = DispatchGroup()
            for (store, run) in [(one, runA), (two, runB)] {
                DispatchQueue.global().async(group: group) {
                    start.wait()
                    let outcome: String
                    do { outcome = "settled \(try store.settleFindings(runID: run, scope: .alerts).count)" } catch { outcome = "\(error)" }
                    outcomes.withLock { $0.append(outcome) }
                }
            }
            start.signal(); start.signal()
            group.wait()
            #expect(outcomes.withLock { $0 } == ["settled 0", "settled 0"], "attempt \(attempt)")
            #expect(try openPaths(one) == ["missing c:gone.bin", "missing c:more.bin"], "attempt \(attempt)")
            #expect(try one.unsettledRuns().isEmpty)
            try one.finishRun(runA, status: .ok, counts: RunCounts(), errorMessage: nil)
            try two.finishRun(runB, status: .ok, counts: RunCounts(), errorMessage: nil)
            #expect(try one.unsettledRuns().isEmpty)
        }
    }

    @Test("open findings keep paths that are not UTF-8 exact, and list corrupted first, then by silo and path byte by byte",
          arguments: Backend.all)
    func openFindingsOrderAndBytes(backend: Backend) throws {
        let tree = try TestTree()
        let store = try backend.open(tree)
        _ = try store.registerSilos([tree.silo("alpha"), tree.silo("Zeta", priority: 2)])
        let run = try store.beginRun(kind: .check, hashMode: "full", options: "{}", silos: ["alpha", "Zeta"])
        // Latin-1 "dét/café.jpg".
        let latin1 = RelativePath(bytes: [0x64, 0xE9, 0x74, 0x2F, 0x63, 0x61, 0x66, 0xE9, 0x2E, 0x6A, 0x70, 0x67])
        let verified = Finding.State(size: 9, mtimeNs: 1_700_000_000_123_456_789, sha256: try SHA256Hasher.digest(bytes(9, seed: 9)))
        let seen = Finding.State(size: 9, mtimeNs: 1_700_000_000_123_456_789, sha256: try SHA256Hasher.digest(bytes(9, seed: 10)))
        let at = Date(timeIntervalSince1970: 1_700_000_000)
        try store.applyFindingTransitions([
            .open(kind: .missing, silo: "alpha", path: RelativePath("z.bin"), verified: verified, seen: nil, detail: nil, openedAt: at),
            .open(kind: .missing, silo: "Zeta", path: RelativePath("b.bin"), verified: verified, seen: nil, detail: nil, openedAt: at),
            .open(kind: .corrupted, silo: "alpha", path: latin1, verified: verified, seen: seen, detail: "rot", openedAt: at),
            .open(kind: .missing, silo: "alpha", path: RelativePath("\u{e9}.bin"), verified: verified, seen: nil, detail: nil, openedAt: at),
            .open(kind: .corrupted, silo: "Zeta", path: RelativePath("a\tb\nc\\d.bin"), verified: Finding.State(size: nil, mtimeNs: nil, sha256: nil),
                  seen: nil, detail: "tab, newline and backslash", openedAt: at),
        ], runID: run)
        let open = try store.openFindings(silos: [])
        // Byte order: "Zeta" (Z is 0x5A) before "alpha"; "z.bin" before "é.bin" (0xC3).
        #expect(open.map { "\($0.kind.rawValue) \($0.silo):\($0.path.display)" } == [
            "corrupted Zeta:a\\tb\\nc\\\\d.bin", "corrupted alpha:\(latin1.display)",
            "missing Zeta:b.bin", "missing alpha:z.bin", "missing alpha:\u{e9}.bin",
        ])
        let rot = try #require(open.first { $0.silo == "alpha" && $0.kind == .corrupted })
        #expect(rot.path.bytes == latin1.bytes && rot.verified == verified && rot.seen == seen && rot.detail == "rot")
        #expect(rot.openedAt == at && rot.openedRun == run && rot.lastRun == run && rot.closedAt == nil)
        #expect(open.first?.verified == Finding.State(size: nil, mtimeNs: nil, sha256: nil) && open.first?.seen == nil)
        #expect(try store.openFindings(silos: ["Zeta"]).map(\.path) == [RelativePath("a\tb\nc\\d.bin"), RelativePath("b.bin")])
        // The corrupted ones are what a plan refuses, with no good copy catalogued.
        let unverified = try store.unverifiedCopies(silos: ["alpha"])
        #expect(unverified.map(\.path) == [latin1] && unverified.first?.goodCopies == [])
        #expect(unverified.first?.verifiedSHA256 == verified.sha256 && unverified.first?.currentSHA256 == seen.sha256)
        // Following a move to another name that is not UTF-8, then closing: still exact.
        let next = try store.beginRun(kind: .check, hashMode: "full", options: "{}", silos: ["alpha"])
        let moved = RelativePath(bytes: [0x6E, 0x65, 0x77, 0x2F, 0xFF, 0xFE])
        try store.applyFindingTransitions([
            .follow(id: rot.id, silo: "Zeta", path: moved, detail: "moved"),
            .sawAgain(id: rot.id, seen: nil, detail: nil),
            .close(id: rot.id, resolution: .accepted, detail: "fine"),
            .follow(id: rot.id, silo: "alpha", path: RelativePath("never"), detail: "after closing"),
        ], runID: next)
        let closed = try #require(try store.closedFindings(limit: 1).first)
        #expect(closed.id == rot.id && closed.silo == "Zeta" && closed.path.bytes == moved.bytes && closed.detail == "moved")
        #expect(closed.seen == nil && closed.closedRun == next && closed.lastRun == next && closed.resolution == .accepted)
        #expect(closed.closedDetail == "fine" && closed.verified == verified)
    }

    @Test("a check's findings round-trip through recordFindings and lastCheck: every field, in order, names that are not UTF-8 exact",
          arguments: Backend.all)
    func lastCheckRoundTrip(backend: Backend) throws {
        let tree = try TestTree()
        let store = try backend.open(tree)
        #expect(try store.lastCheck() == nil)
        let odd = RelativePath(bytes: [0x64, 0x2F, 0xFF, 0x0A, 0x09, 0x5C])
        let s1 = try SHA256Hasher.digest(bytes(3, seed: 1)), s2 = try SHA256Hasher.digest(bytes(3, seed: 2))
        let findings = [
            Finding(kind: .moved, silo: "s", path: odd, oldSilo: "t", oldPath: RelativePath(bytes: [0xE9]),
                    old: Finding.State(size: 5_000_000_000, mtimeNs: -1, sha256: s1),
                    new: Finding.State(size: 5_000_000_000, mtimeNs: 1_700_000_000_000_000_001, sha256: s1), detail: "moved across silos"),
            Finding(kind: .corrupted, silo: "s", path: RelativePath("a.bin"), old: Finding.State(size: 3, mtimeNs: 4, sha256: s1),
                    new: Finding.State(size: 3, mtimeNs: 4, sha256: s2), detail: "content changed, size and mtime did not"),
            Finding(kind: .new, silo: "s", path: RelativePath("b.bin"), new: Finding.State(size: nil, mtimeNs: nil, sha256: nil)),
        ]
        let run = try store.beginRun(kind: .check, hashMode: "full", options: "{}", silos: ["s"])
        try store.recordFindings(findings, outcome: .corrupted, runID: run)
        // A check still running is not the last check.
        #expect(try store.lastCheck() == nil)
        try store.finishRun(run, status: .warnings, counts: RunCounts(), errorMessage: nil)
        let last = try #require(try store.lastCheck())
        #expect(last.run.id == run && last.outcome == .corrupted)
        // What is recorded as absent comes back absent, per field (old: nil reads as no values).
        var expected = findings
        expected[2].old = Finding.State(size: nil, mtimeNs: nil, sha256: nil)
        #expect(last.findings == expected)
        #expect(try store.runs(limit: 1).first?.outcome == CheckOutcome.corrupted.rawValue)
        // A later check with nothing found is the last one, with no findings.
        let later = try store.beginRun(kind: .check, hashMode: "full", options: "{}", silos: ["s"])
        try store.recordFindings([], outcome: .unchanged, runID: later)
        try store.finishRun(later, status: .ok, counts: RunCounts(), errorMessage: nil)
        let again = try #require(try store.lastCheck())
        #expect(again.run.id == later && again.outcome == .unchanged && again.findings.isEmpty)
    }

    @Test("plan runs: recorded at the start, brought up to date at the end with their outcome, read back by run id", arguments: Backend.all)
    func planRunRecords(backend: Backend) throws {
        let tree = try TestTree()
        let store = try backend.open(tree)
        let apply = try store.beginRun(kind: .apply, hashMode: "full", options: "{}", silos: [])
        var record = PlanRunRecord(plan: "/plans/p\u{e9}.json", planSHA256: String(repeating: "ab", count: 32),
                                   journal: "/plans/p.json.journal", operations: 12)
        try store.recordPlanRun(apply, record, outcome: nil)
        #expect(try store.planRuns([apply]) == [apply: record])
        record.done = 7; record.skipped = 2; record.refused = 1; record.failed = 2; record.bytesWritten = 6_000_000_000
        var changed = record
        changed.plan = "/elsewhere.json"   // kept as first recorded: the run's plan does not change
        try store.recordPlanRun(apply, changed, outcome: "incomplete")
        let undo = try store.beginRun(kind: .undo, hashMode: "full", options: "{}", silos: [])
        let undone = PlanRunRecord(plan: "/plans/p.json", planSHA256: record.planSHA256, journal: record.journal, operations: 12)
        try store.recordPlanRun(undo, undone, outcome: "complete")
        let scan = try store.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["s"])
        #expect(try store.planRuns([apply, undo, scan, 999]) == [apply: record, undo: undone])
        #expect(try store.planRuns([]).isEmpty)
        let outcomes = Dictionary(uniqueKeysWithValues: try store.runs(limit: nil).map { ($0.id, $0.outcome) })
        #expect(outcomes[apply] == "incomplete" && outcomes[undo] == "complete" && outcomes[scan] == .some(nil))
    }

    @Test("the copies of many contents: each content asked for, in the order given, its files in report order, none for unknown ones",
          arguments: Backend.all)
    func copiesOfManyContents(backend: Backend) throws {
        let tree = try TestTree()
        try tree.write("b/one.bin", bytes(50, seed: 1))
        try tree.write("a/one.bin", bytes(50, seed: 1))
        try tree.write("a/sub/one.bin", bytes(50, seed: 1))
        try tree.write("b/two.bin", bytes(60, seed: 2))
        let store = try backend.open(tree)
        try scanInto(store, [tree.silo("b", priority: 1), tree.silo("a", priority: 2)])
        let one = try SHA256Hasher.digest(bytes(50, seed: 1)), two = try SHA256Hasher.digest(bytes(60, seed: 2))
        // More contents than one query takes, the known ones among unknown ones and at the end.
        var asked: [SHA256Digest] = []
        for i in 0..<4_500 { asked.append(try SHA256Hasher.digest(Array("unknown \(i)".utf8))) }
        asked.insert(two, at: 10)
        asked.insert(one, at: 2_100)
        asked.append(one)
        var seen: [(SHA256Digest, [String])] = []
        try store.forEachCopies(of: asked) { sha, copies in seen.append((sha, copies.map { "\($0.silo):\($0.path.display)" })) }
        #expect(seen.map(\.0) == asked)
        let found = seen.enumerated().filter { !$0.element.1.isEmpty }
        #expect(found.map(\.offset) == [10, 2_100, asked.count - 1])
        let copiesOfOne = ["b:one.bin", "a:one.bin", "a:sub/one.bin"]
        #expect(found.map(\.element.1) == [["b:two.bin"], copiesOfOne, copiesOfOne])
    }

    @Test("the merge ledger: what a plan moved or removed is merged, not missing, a sidecar it left is a file of its own, what undo put back is not new",
          arguments: Backend.all)
    func mergeLedger(backend: Backend) throws {
        let tree = try TestTree()
        let xmp = """
            <x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
            <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
            <dc:title><rdf:Alt><rdf:li xml:lang="x-default">One</rdf:li></rdf:Alt></dc:title></rdf:Description></rdf:RDF></x:xmpmeta>
            """
        try tree.write("a/2019/one.txt", "one")
        try tree.write("a/2019/one.xmp", xmp)
        try tree.write("b/copy-of-one.txt", "one")
        try tree.write("b/three.txt", "three")
        // Not empty once the plan took its files (a silo's folder found empty is refused).
        try tree.mkdir("b/kept")
        let store = try backend.open(tree)
        let silos = [tree.silo("a", priority: 2), tree.silo("b")]
        try scanInto(store, silos)
        let plan = try PlanWorkflow.plan(store: store, PlanRequest(target: FilePath(tree.url("target").path), duplicates: .remove,
                                                                    transfer: .move, carrySidecars: false))
        let planPath = FilePath(tree.url("plan.json").path)
        try PlanFile.write(plan, to: planPath)
        let request = PlanRunRequest(plan: try PlanFile.read(planPath), planPath: planPath, journal: FilePath(planPath.string! + ".journal"))
        let applied = try ApplyWorkflow.apply(request, dryRun: false, catalogue: { store })
        #expect(applied.isComplete)
        let applyRun = try #require(try store.runs(limit: nil).first { $0.kind == .apply })
        #expect(try store.planRuns([applyRun.id])[applyRun.id]?.done == applied.done.count)
        // The next check: every file the plan took is merged (naming the plan), nothing is
        // missing, nothing stays open; the sidecar the plan left is merged as left behind.
        let after = try scanInto(store, silos, kind: .check)
        let described = after.findings.map { "\($0.kind.rawValue) \($0.silo):\($0.path.display)" }
        #expect(described == ["merged a:2019/one.txt", "merged a:2019/one.xmp", "merged b:copy-of-one.txt", "merged b:three.txt"])
        #expect(after.findings.allSatisfy { $0.detail?.contains("plan \(planPath.display)") == true }, "\(after.findings.map(\.detail))")
        #expect(after.findings.first { $0.path == RelativePath("2019/one.xmp") }?.detail?.contains("left behind") == true)
        #expect(try store.openFindings(silos: []).isEmpty && store.openFindingsTakenByPlans().isEmpty)
        // Undo puts the files back: the check after it finds them back, not new.
        let undone = try ApplyWorkflow.undo(request, catalogue: { store })
        #expect(undone.isComplete)
        let back = try scanInto(store, silos, kind: .check)
        #expect(!back.findings.contains { $0.kind == .new && $0.path != RelativePath("2019/one.xmp") },
                "\(back.findings.map { "\($0.kind.rawValue) \($0.silo):\($0.path.display)" })")
        #expect(!back.findings.contains { $0.kind == .missing || $0.kind == .corrupted })
        #expect(try store.openFindings(silos: []).isEmpty)
    }
}
