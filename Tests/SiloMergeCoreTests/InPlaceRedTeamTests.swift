import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import SiloMergeCore
import SiloMergeTestSupport

/// Real calls; just before the first `unlink` (`link`, `rename`) of a name `match` accepts (by
/// default: one that is not SiloMerge's own), `hook` runs once: what another process does at
/// the worst moment, or a crash (`SimulatedCrash`).
final class HookFileOps: FileOps, @unchecked Sendable {
    // @unchecked: used by one applier on one thread; `fired` is only read after the run.
    let real = RealFileOps()
    var fired = false
    let on: String
    let match: ([UInt8]) -> Bool
    let hook: () throws -> Void
    init(on: String, match: @escaping ([UInt8]) -> Bool = { !$0.starts(with: Array(".silomerge-".utf8)) }, _ hook: @escaping () throws -> Void) {
        self.on = on; self.match = match; self.hook = hook
    }
    private func maybe(_ call: String, _ name: [UInt8]) throws {
        guard !fired, call == on, match(name) else { return }
        fired = true
        try hook()
    }
    func open(_ d: Int32, _ p: [UInt8], flags: Int32, mode: UInt32) throws -> Int32 { try real.open(d, p, flags: flags, mode: mode) }
    func close(_ fd: Int32) { real.close(fd) }
    func read(_ fd: Int32, into b: UnsafeMutableRawBufferPointer) throws -> Int { try real.read(fd, into: b) }
    func pread(_ fd: Int32, into b: UnsafeMutableRawBufferPointer, offset: Int64) throws -> Int { try real.pread(fd, into: b, offset: offset) }
    func write(_ fd: Int32, _ b: UnsafeRawBufferPointer) throws -> Int { try real.write(fd, b) }
    func fsync(_ fd: Int32) throws { try real.fsync(fd) }
    func fstat(_ fd: Int32) throws -> FileStat { try real.fstat(fd) }
    func lstat(_ d: Int32, _ n: [UInt8]) throws -> FileStat { try real.lstat(d, n) }
    func mkdir(_ d: Int32, _ n: [UInt8], mode: UInt32) throws { try real.mkdir(d, n, mode: mode) }
    func rename(_ fd: Int32, _ from: [UInt8], _ td: Int32, _ to: [UInt8], noReplace: Bool) throws {
        try maybe("rename", from)
        try real.rename(fd, from, td, to, noReplace: noReplace)
    }
    func link(_ fd: Int32, _ from: [UInt8], _ td: Int32, _ to: [UInt8]) throws {
        try maybe("link", from)
        try real.link(fd, from, td, to)
    }
    func unlink(_ d: Int32, _ n: [UInt8], directory: Bool) throws {
        try maybe("unlink", n)
        try real.unlink(d, n, directory: directory)
    }
    func setTimes(_ fd: Int32, mtimeNs: Int64) throws { try real.setTimes(fd, mtimeNs: mtimeNs) }
    func setMode(_ fd: Int32, _ mode: UInt32) throws { try real.setMode(fd, mode) }
    func setOwner(_ fd: Int32, uid: UInt32, gid: UInt32) throws { try real.setOwner(fd, uid: uid, gid: gid) }
    func clone(from s: Int32, to d: Int32) throws { try real.clone(from: s, to: d) }
    func list(_ d: Int32) throws -> [[UInt8]] { try real.list(d) }
    func availableBytes(_ fd: Int32) -> Int64? { real.availableBytes(fd) }
    func dropCache(_ fd: Int32) { real.dropCache(fd) }
}

extension MergePlan {
    /// The same deduplication the other way round: each group keeps one of its duplicates and
    /// takes away the copy this plan keeps (a plan made with other canonical rules). One
    /// operation per canonical copy; valid on its own.
    func reversed() -> MergePlan {
        var out = self
        var seen: Set<[UInt8]> = []
        out.operations = []
        for op in operations {
            guard let s = op.source, let c = op.canonical, seen.insert(c.silo.exactBytes + [0] + c.path.bytes).inserted else { continue }
            var r = op
            r.id = out.operations.count + 1
            r.source = c
            r.canonical = s
            if r.destination != nil { r.destination = RelativePath(NameSanitizer.component(c.silo)).appending(c.path.bytes) }
            out.operations.append(r)
        }
        return out
    }
}

@Suite("In-place deduplication: red team (another process at the worst moment)")
struct InPlaceRedTeamTests {
    /// Every content the plan names still has a copy: its duplicate or its canonical copy.
    static func isHold(_ name: [UInt8]) -> Bool { name.starts(with: Array(Applier.holdPrefix.utf8)) }
    static func isTheirs(_ name: [UInt8]) -> Bool { !name.starts(with: Array(".silomerge-".utf8)) }

    static func everyContentKept(_ f: MergeFixture, _ plan: MergePlan) -> [String] {
        plan.operations.compactMap { op in
            let s = op.source!, c = op.canonical!
            return f.stat(s.silo, s.path) == nil && f.stat(c.silo, c.path) == nil ? "\(s.display) and \(c.display) are both gone" : nil
        }
    }

    @Test("two in-place plans that keep opposite copies, applied at once: the second is refused while the first holds the silos; no content loses its last copy",
          arguments: [InPlaceMethod.remove, .quarantine])
    func oppositePlansAtOnce(method: InPlaceMethod) throws {
        let f = try standardFixture("opposite-\(method)")
        let plan = try f.inPlacePlan(method)
        let other = plan.reversed()
        #expect(other.operations.count >= 3)
        #expect(PlanValidator.problems(in: other).isEmpty, "\(PlanValidator.problems(in: other))")
        let otherJournal = FilePath(f.tree.path + "/other.journal")
        var otherError: ApplyError?
        var otherReport: ApplyReport?
        // Plan 1 has verified its first canonical copy and is about to take its duplicate away
        // (remove: let go of the held duplicate); plan 2 runs now, whole.
        let match: ([UInt8]) -> Bool = method == .remove ? { Self.isHold($0) } : { Self.isTheirs($0) }
        let ops = HookFileOps(on: method == .remove ? "unlink" : "rename", match: match) {
            do { otherReport = try Applier(plan: other, journal: otherJournal).apply() } catch let e as ApplyError { otherError = e }
        }
        let report = try Applier(plan: plan, journal: f.journal, fileSystem: ops).apply()
        #expect(ops.fired)
        #expect(Self.everyContentKept(f, plan).isEmpty, "\(Self.everyContentKept(f, plan))")
        #expect(otherReport == nil, "the second apply ran: \(otherReport.map { $0.done.map(\.summary) } ?? [])")
        guard case .siloBusy(let silo, _, _) = otherError else {
            Issue.record("the second apply was not refused as busy: \(String(describing: otherError))")
            return
        }
        #expect(!silo.isEmpty)
        #expect(otherError!.description.contains("another silomerge"), "\(otherError!.description)")
        #expect(report.isComplete, "\(report.refused) \(report.failed)")
        // The lock goes with the run: plan 2 may run now, and refuses each operation (its
        // canonical copies are gone); still nothing is lost.
        let after = try Applier(plan: other, journal: otherJournal).apply()
        #expect(after.done.isEmpty && after.refused.count == other.operations.count, "\(after.done.map(\.summary))")
        #expect(Self.everyContentKept(f, plan).isEmpty)
    }

    @Test("hardlink: killed after the swap, then the canonical copy edited: resume puts the duplicate's own file back under its name (no hold file left), and refuses")
    func crashAfterSwapThenCanonicalEdited() throws {
        let f = try standardFixture()
        let plan = try f.inPlacePlan(.hardlink)
        let op = plan.operations[0]
        let s = op.source!, c = op.canonical!
        // The crash: the name is the canonical copy's file now, its own file under the hold name.
        let ops = HookFileOps(on: "unlink", match: { $0.starts(with: Array(Applier.holdPrefix.utf8)) }) { throw SimulatedCrash(step: 0) }
        #expect(throws: SimulatedCrash.self) { _ = try Applier(plan: plan, journal: f.journal, fileSystem: ops).apply() }
        #expect(ops.fired)
        #expect(f.stat(s.silo, s.path)?.inode == c.inode)
        // The user edits the canonical copy (through its own name) before the resume.
        let cpath = f.absolute(c.silo, c.path.bytes)
        let fd = cPath(cpath) { Glibc.open($0, O_WRONLY | O_APPEND) }
        _ = Array("edited".utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)

        let report = try Applier(plan: plan, journal: f.journal).apply()
        let refusal = try #require(report.refused.first { $0.op == op.id } ?? report.failed.first { $0.op == op.id })
        #expect(refusal.detail.contains("canonical"), "\(refusal.detail)")
        // Its own file, its own bytes, under its own name; no hidden hold name.
        let now = try #require(f.stat(s.silo, s.path))
        #expect(now.inode == s.inode, "the duplicate's name still shows the canonical copy's edited file")
        #expect(try SHA256Hasher.digest(readFile(f.absolute(s.silo, s.path.bytes))).hex == s.sha256)
        #expect(!f.silosSnapshot.keys.contains { $0.contains(Applier.holdPrefix) }, "\(f.silosSnapshot.keys.filter { $0.contains(".silomerge") })")
        // And undo has nothing of this operation to restore: the name is as it was.
        let undo = try Applier(plan: plan, journal: f.journal).undo()
        #expect(undo.failed.isEmpty, "\(undo.failed)")
        #expect(f.stat(s.silo, s.path)?.inode == s.inode)
    }

    @Test("hardlink, remove, quarantine: a crash at every step of undo, then undo again: every name back as it was, nothing of SiloMerge's left")
    func crashAtEveryStepOfUndo() throws {
        for method in [InPlaceMethod.hardlink, .remove, .quarantine] {
            let f = try standardFixture("undo-crash\(method)")
            let before = f.silosSnapshot
            var step = 1
            while true {
                let plan = try f.inPlacePlan(method)
                let applied = try Applier(plan: plan, journal: f.journal).apply()
                #expect(applied.isComplete, "\(method) step \(step): \(applied.refused) \(applied.failed)")
                let faults = FaultInjectingFileOps(faults: .init(crashAtStep: step, skipFsync: true))
                var crashed = false
                do { _ = try Applier(plan: plan, journal: f.journal, fileSystem: faults).undo() } catch is SimulatedCrash { crashed = true }
                faults.closeAll()
                let undo = try Applier(plan: plan, journal: f.journal).undo()
                #expect(undo.isComplete, "\(method) step \(step): \(undo.left) \(undo.failed)")
                #expect(f.silosSnapshot == before, "\(method) step \(step)")
                #expect(!f.silosSnapshot.keys.contains { $0.contains(".silomerge-") }, "\(method) step \(step)")
                try? FileManager.default.removeItem(atPath: f.journal.string!)
                try? FileManager.default.removeItem(atPath: f.tree.path + "/quarantine")
                if !crashed || step > 400 { break }
                step += 1
            }
            #expect(step > 5, "\(method): the undo took \(step) steps")
        }
    }

    @Test("quarantine: a new file at a quarantined copy's name before undo: both kept, and undo says where the quarantined file is (not 'in place')")
    func undoQuarantineNameTakenAgain() throws {
        let f = try standardFixture()
        let plan = try f.inPlacePlan(.quarantine)
        #expect(try Applier(plan: plan, journal: f.journal).apply().isComplete)
        let op = plan.operations[0]
        let s = op.source!
        try f.add(s.silo, s.path.bytes, Array("a new file, written after apply".utf8))
        let undo = try Applier(plan: plan, journal: f.journal).undo()
        let left = try #require(undo.left.first { $0.op == op.id }, "undone as: \(undo.undone.first { $0.op == op.id }?.detail ?? "-")")
        #expect(left.detail.contains("quarantine") && left.detail.contains(op.destination!.display), "\(left.detail)")
        #expect(try readFile(f.absolute(s.silo, s.path.bytes)) == Array("a new file, written after apply".utf8))
        let quarantined = f.tree.path + "/quarantine/" + op.destination!.display
        #expect(try SHA256Hasher.digest(readFile(Array(quarantined.utf8))).hex == s.sha256)
        #expect(undo.undone.count == plan.operations.count - 1)
    }

    @Test("a second in-place plan whose one silo holds the first plan's silos (another catalogue, a wider root): refused while the first runs, nothing lost")
    func nestedSiloRoots() throws {
        let f = try standardFixture()
        let plan = try f.inPlacePlan(.remove)
        var other = plan.reversed()
        var st = stat()
        try #require(lstat(f.silosRoot, &st) == 0)
        let outer = FilePath(f.silosRoot)
        other.silos = [PlanSilo(name: "all", root: outer, priority: 1, identity: FileID(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)))]
        other.leftBehind = []
        for i in other.operations.indices {
            for keyPath in [\PlanOperation.source, \PlanOperation.canonical] {
                var x = other.operations[i][keyPath: keyPath]!
                x.path = RelativePath(NameSanitizer.component(x.silo)).appending(x.path.bytes)
                x.silo = "all"
                x.siloRoot = outer
                other.operations[i][keyPath: keyPath] = x
            }
        }
        #expect(PlanValidator.problems(in: other).isEmpty, "\(PlanValidator.problems(in: other))")
        var otherError: ApplyError?
        var otherReport: ApplyReport?
        let ops = HookFileOps(on: "unlink", match: { Self.isHold($0) }) {
            do { otherReport = try Applier(plan: other, journal: FilePath(f.tree.path + "/other.journal")).apply() } catch let e as ApplyError { otherError = e }
        }
        let report = try Applier(plan: plan, journal: f.journal, fileSystem: ops).apply()
        #expect(ops.fired)
        #expect(Self.everyContentKept(f, plan).isEmpty, "\(Self.everyContentKept(f, plan))")
        #expect(otherReport == nil, "the second apply ran: \(otherReport.map { $0.done.map(\.summary) } ?? [])")
        guard case .siloBusy = otherError else {
            Issue.record("the second apply was not refused as busy: \(String(describing: otherError))")
            return
        }
        #expect(report.isComplete, "\(report.refused) \(report.failed)")
    }

    @Test("remove: the canonical copy taken away in the instant before the duplicate is let go (after the check): the duplicate's bytes are written back under its name, and the operation refused; nothing lost")
    func removeCanonicalGoneAtTheUnlink() throws {
        let f = try standardFixture()
        let before = f.silosSnapshot
        let plan = try f.inPlacePlan(.remove)
        let op = plan.operations[0]
        let s = op.source!, c = op.canonical!
        // Another program deletes the canonical copy just before the duplicate's last name goes
        // (the hold name now; before the fix, the duplicate's own name).
        let ops = HookFileOps(on: "unlink", match: { _ in true }) {
            _ = cPath(f.absolute(c.silo, c.path.bytes)) { Glibc.unlink($0) }
        }
        let report = try Applier(plan: plan, journal: f.journal, fileSystem: ops).apply()
        #expect(ops.fired)
        #expect(f.stat(c.silo, c.path) == nil)
        let now = try #require(f.stat(s.silo, s.path), "\(s.display) and its canonical copy \(c.display) are both gone")
        #expect(try SHA256Hasher.digest(readFile(f.absolute(s.silo, s.path.bytes))).hex == s.sha256)
        // Its mode and mtime as they were.
        let was = before[s.silo + "/" + s.path.display]!
        #expect(now.mode & 0o7777 == was.mode & 0o7777 && now.mtimeNs == was.mtimeNs)
        let refusal = try #require(report.refused.first { $0.op == op.id }, "\(report.done.map(\.summary))")
        #expect(refusal.detail.contains("canonical copy") && refusal.detail.contains("written back"), "\(refusal.detail)")
        #expect(Self.everyContentKept(f, plan).isEmpty, "\(Self.everyContentKept(f, plan))")
        #expect(!f.silosSnapshot.keys.contains { $0.contains(".silomerge-") }, "\(f.silosSnapshot.keys.filter { $0.contains(".silomerge-") })")
    }

    @Test("remove: the canonical copy taken away as the duplicate is held (before the check): the duplicate goes back under its name, the same file, and the operation is refused")
    func removeCanonicalGoneAtTheCheck() throws {
        let f = try standardFixture()
        let plan = try f.inPlacePlan(.remove)
        let op = plan.operations[0]
        let s = op.source!, c = op.canonical!
        let ops = HookFileOps(on: "rename", match: { Self.isTheirs($0) }) {
            _ = cPath(f.absolute(c.silo, c.path.bytes)) { Glibc.unlink($0) }
        }
        let report = try Applier(plan: plan, journal: f.journal, fileSystem: ops).apply()
        #expect(ops.fired)
        let now = try #require(f.stat(s.silo, s.path), "\(s.display) and its canonical copy \(c.display) are both gone")
        #expect(now.inode == s.inode, "not the duplicate's own file")
        let refusal = try #require(report.refused.first { $0.op == op.id }, "\(report.done.map(\.summary))")
        #expect(refusal.detail.contains("canonical copy") && refusal.detail.contains("back under its name"), "\(refusal.detail)")
        #expect(Self.everyContentKept(f, plan).isEmpty, "\(Self.everyContentKept(f, plan))")
        #expect(!f.silosSnapshot.keys.contains { $0.contains(".silomerge-") })
        // Undo has nothing to restore for it: the name is as it was.
        let undo = try Applier(plan: plan, journal: f.journal).undo()
        #expect(undo.failed.isEmpty && undo.left.isEmpty, "\(undo.failed) \(undo.left)")
        #expect(f.stat(s.silo, s.path)?.inode == s.inode)
    }

    @Test("hardlink, remove: a crash at every step of apply, then undo straight away (no resume): every name back as it was, byte for byte, nothing of SiloMerge's left")
    func crashAtEveryStepThenUndo() throws {
        for method in [InPlaceMethod.hardlink, .remove] {
            let f = try standardFixture("crash-undo\(method)")
            let before = f.silosSnapshot
            var step = 1
            while true {
                let plan = try f.inPlacePlan(method)
                let faults = FaultInjectingFileOps(faults: .init(crashAtStep: step, skipFsync: true))
                var crashed = false
                do { _ = try Applier(plan: plan, journal: f.journal, fileSystem: faults).apply() } catch is SimulatedCrash { crashed = true }
                faults.closeAll()
                if (try? FileManager.default.attributesOfItem(atPath: f.journal.string!)) != nil {
                    let undo = try Applier(plan: plan, journal: f.journal).undo()
                    #expect(undo.isComplete, "\(method) step \(step): \(undo.left) \(undo.failed)")
                }
                #expect(f.silosSnapshot == before, "\(method) step \(step)")
                #expect(!f.silosSnapshot.keys.contains { $0.contains(".silomerge-") }, "\(method) step \(step): \(f.silosSnapshot.keys.filter { $0.contains(".silomerge-") })")
                try? FileManager.default.removeItem(atPath: f.journal.string!)
                if !crashed || step > 400 { break }
                step += 1
            }
            #expect(step > 5, "\(method): the apply took \(step) steps")
        }
    }
}
