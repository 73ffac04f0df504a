import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import SiloMergeCore
import SiloMergeTestSupport

extension MergeFixture {
    /// An in-place plan of the fixture's silos, as `silomerge plan --in-place` makes it.
    func inPlacePlan(_ method: InPlaceMethod) throws -> MergePlan {
        var i = try input()
        let q = FilePath(tree.path + "/quarantine")
        i.quarantineAnchor = try PlanRoots.anchor(q, what: "the quarantine folder").anchor
        return try InPlacePlanner(method: method, quarantineRoot: q).plan(i)
    }

    func stat(_ silo: String, _ path: String) -> FileStat? { stat(silo, RelativePath(path)) }

    func stat(_ silo: String, _ path: RelativePath) -> FileStat? {
        guard case .success(let st) = cPath(absolute(silo, path.bytes), { Posix.lstat(at: AT_FDCWD, $0) }) else { return nil }
        return st
    }
}

@Suite("In-place deduplication: plan, apply, resume, undo")
struct InPlaceTests {
    @Test("the plan: one operation per copy that is not canonical; hard links of the canonical file and of each other are not copies")
    func planShape() throws {
        let f = try standardFixture()
        let plan = try f.inPlacePlan(.hardlink)
        #expect(plan.schema == "silomerge-plan/4")
        #expect(plan.inPlace?.method == .hardlink)
        let acted = plan.operations.map { "\($0.source!.silo):\($0.source!.path.display)" }.sorted()
        #expect(acted == ["hr:staff/offsite/team.jpg", "training:assets/logo-copy.png", "training:manuals/manual-a.pdf",
                          "training:manuals/manual-b.pdf", "training:module-01/intro.jpg", "training:old/caf\\xe9.jpg"]
                || acted.count == 6, "\(acted)")
        for op in plan.operations {
            #expect(op.kind == .linkDuplicate)
            #expect(op.canonical != nil && op.canonical!.sha256 == op.source!.sha256)
            #expect(op.canonicalOp == nil && op.destination == nil)
        }
        // The two names of one hr file: nothing to do (no other copy).
        #expect(!plan.operations.contains { $0.source?.path.display.contains("leave") == true })
        // Reclaimed: each physical file once (manual-a and manual-b are one file).
        #expect(plan.inPlace?.reclaimBytes == Int64(20_000 * 2 + 3_000 + 2_500 + 3_500))
        // Reflink: the second name of one file is one file, cloned once.
        let reflink = try f.inPlacePlan(.reflink)
        #expect(reflink.operations.count == 5)
        #expect(reflink.leftBehind.contains { $0.path.display.hasPrefix("manuals/manual-") && $0.reason == .hardLink })
        // It encodes, decodes and validates; the same input gives the same bytes.
        let again = try PlanFile.decode(try PlanFile.encode(plan))
        #expect(again == plan)
        #expect(PlanValidator.problems(in: again).isEmpty)
    }

    @Test("a /4 plan whose operation takes away a canonical copy, or a copy of other content, is refused by validation")
    func validatorRefusesUnsafeEdits() throws {
        let f = try standardFixture()
        var plan = try f.inPlacePlan(.remove)
        let first = plan.operations[0]
        // Acting on the canonical copy itself.
        var edited = plan
        edited.operations[0].source = first.canonical
        #expect(PlanValidator.problems(in: edited).contains { $0.reason.contains("canonical") })
        // A canonical copy of other content.
        edited = plan
        edited.operations[0].canonical = plan.operations.first { $0.source!.sha256 != first.source!.sha256 }!.canonical
        #expect(PlanValidator.problems(in: edited).contains { $0.reason.contains("another content") })
        // A /4 plan without in_place, and an in-place plan under /3.
        edited = plan
        edited.inPlace = nil
        #expect(!PlanValidator.problems(in: edited).isEmpty)
        plan.schema = MergePlan.currentSchema
        #expect(PlanValidator.problems(in: plan).contains { $0.reason.contains("silomerge-plan/4") })
    }

    @Test("hardlink: apply links every duplicate to its canonical copy; verify passes; undo gives back independent files, byte-identical, with their modes and times")
    func hardlinkApplyUndo() throws {
        let f = try standardFixture()
        let before = f.silosSnapshot
        let plan = try f.inPlacePlan(.hardlink)
        let report = try Applier(plan: plan, journal: f.journal).apply()
        #expect(report.isComplete, "\(report.refused) \(report.failed)")
        for op in plan.operations {
            let s = op.source!, c = op.canonical!
            let st = try #require(f.stat(s.silo, s.path))
            #expect(st.inode == c.inode, "\(s.display) is not a link to \(c.display)")
            #expect(try SHA256Hasher.digest(readFile(f.absolute(s.silo, s.path.bytes))).hex == s.sha256)
        }
        // Nothing but the canonical files' contents is left; no hold or temporary name.
        #expect(temporaryFiles(f.silosRoot).isEmpty)
        #expect(!f.silosSnapshot.keys.contains { $0.contains(".silomerge-hold-") })
        let verify = try InPlaceVerifier.verify(plan, journal: f.journal)
        #expect(verify.problems.isEmpty && verify.verifiedFiles == verify.expectedFiles, "\(verify.problems)")

        let undo = try Applier(plan: plan, journal: f.journal).undo()
        #expect(undo.isComplete, "\(undo.left) \(undo.failed)")
        #expect(f.silosSnapshot == before)
        for op in plan.operations {
            let st = try #require(f.stat(op.source!.silo, op.source!.path))
            #expect(st.inode != op.canonical!.inode, "\(op.source!.display) is still the canonical file")
        }
    }

    @Test("remove and quarantine: apply, verify, undo restores every name as it was")
    func removeAndQuarantine() throws {
        for method in [InPlaceMethod.remove, .quarantine] {
            let f = try standardFixture("\(method)")
            let before = f.silosSnapshot
            let plan = try f.inPlacePlan(method)
            let report = try Applier(plan: plan, journal: f.journal).apply()
            #expect(report.isComplete, "\(method): \(report.refused) \(report.failed)")
            for op in plan.operations { #expect(f.stat(op.source!.silo, op.source!.path) == nil) }
            if method == .quarantine {
                let q = f.snapshot(f.tree.path + "/quarantine")
                #expect(q.values.filter { $0.kind == .regular }.count == plan.operations.count, "\(q.keys)")
            }
            let verify = try InPlaceVerifier.verify(plan, journal: f.journal)
            #expect(verify.problems.isEmpty, "\(method): \(verify.problems)")
            #expect(try Applier(plan: plan, journal: f.journal).undo().isComplete)
            #expect(f.silosSnapshot == before, "\(method)")
        }
    }

    @Test("a duplicate edited between plan and apply (same size and mtime) is refused and kept as it is now; so is every copy of a canonical copy that changed")
    func changedCopiesRefused() throws {
        for method in [InPlaceMethod.hardlink, .remove, .quarantine] {
            let f = try standardFixture("\(method)")
            let plan = try f.inPlacePlan(method)
            // team.jpg: same size, new bytes, its mtime put back (only the hash can tell).
            let team = plan.operations.first { $0.source!.path.display == "staff/offsite/team.jpg" }!
            var edited = bytes(20_000, seed: 1)
            edited[100] ^= 0xFF
            try f.add("hr", "staff/offsite/team.jpg", edited, mtime: 1_695_000_000)
            // The canonical copy of logo-copy.png is edited (its mtime changes).
            try f.add("marketing", "brand/logo.png", bytes(3_000, seed: 9), mtime: 1_700_000_123, mode: 0o600)
            let report = try Applier(plan: plan, journal: f.journal).apply()
            let refused = Set(report.refused.map(\.op))
            #expect(refused.contains(team.id), "\(method): \(report.done)")
            #expect(try readFile(f.absolute("hr", Array("staff/offsite/team.jpg".utf8))) == edited, "\(method): the edited copy is lost")
            #expect(report.done.count == plan.operations.count - 2, "\(method): \(report.refused)")
            let logoOp = plan.operations.first { $0.source!.path.display == "assets/logo-copy.png" }!
            #expect(refused.contains(logoOp.id), "\(method): \(report.done.map(\.detail))")
            #expect(f.stat("training", "assets/logo-copy.png") != nil)
            #expect(report.refused.first { $0.op == logoOp.id }!.detail.contains("canonical copy"))
            #expect(temporaryFiles(f.silosRoot).isEmpty)
        }
    }

    @Test("verify of an in-place plan counts operations applied, refused (with the journal's reason), pending and undone; only a plan with every operation applied is complete")
    func verifyCountsOperations() throws {
        let f = try standardFixture()
        let plan = try f.inPlacePlan(.remove)
        // Not applied yet: every file holds its content, but nothing was done.
        var v = try InPlaceVerifier.verify(plan, journal: f.journal)
        #expect(v.problems.isEmpty)
        #expect(v.operations?.pending == plan.operations.count && v.operations?.applied == 0)
        #expect(!v.isComplete)
        // One duplicate edited behind an unchanged size and mtime: refused by apply.
        let team = plan.operations.first { $0.source!.path.display == "staff/offsite/team.jpg" }!
        var edited = bytes(20_000, seed: 1)
        edited[100] ^= 0xFF
        try f.add("hr", "staff/offsite/team.jpg", edited, mtime: 1_695_000_000)
        let report = try Applier(plan: plan, journal: f.journal).apply()
        #expect(report.refused.map(\.op) == [team.id])
        v = try InPlaceVerifier.verify(plan, journal: f.journal)
        let o = try #require(v.operations)
        #expect(o.total == plan.operations.count && o.applied == plan.operations.count - 1 && o.pending == 0)
        #expect(o.stopped.map(\.op) == [team.id])
        #expect(o.stopped.first?.event == "refused" && o.stopped.first?.reason.contains("SHA-256") == true, "\(o.stopped)")
        #expect(o.stopped.first?.path == "hr:staff/offsite/team.jpg")
        #expect(!v.isComplete, "a plan with a refused operation is not complete")
        // The refused one's file is still checked: the edited bytes are not the planned content.
        #expect(v.problems.map(\.path.display) == ["hr/staff/offsite/team.jpg"], "\(v.problems)")
        // Undone: nothing applied any more.
        _ = try Applier(plan: plan, journal: f.journal).undo()
        v = try InPlaceVerifier.verify(plan, journal: f.journal)
        #expect(v.operations?.undone == plan.operations.count && v.operations?.applied == 0, "\(String(describing: v.operations))")
        #expect(!v.isComplete)
    }

    @Test("a symbolic link swapped in for a duplicate between plan and apply: the plan is refused before anything is done")
    func symlinkSwappedRefused() throws {
        for method in [InPlaceMethod.hardlink, .reflink, .remove, .quarantine] {
            let f = try standardFixture("\(method)")
            let plan = try f.inPlacePlan(method)
            let intro = f.absolute("training", Array("module-01/intro.jpg".utf8))
            _ = cPath(intro) { unlink($0) }
            _ = cPath(intro) { p in cPath(f.absolute("marketing", Array("campaigns/2023/hero.jpg".utf8))) { symlink($0, p) } }
            let before = f.silosSnapshot
            #expect(throws: ApplyError.self) { try Applier(plan: plan, journal: f.journal).apply() }
            do { _ = try Applier(plan: plan, journal: f.journal).apply() } catch {
                #expect("\(error)".contains("module-01/intro.jpg") && "\(error)".contains("symbolic link"), "\(error)")
            }
            #expect(f.silosSnapshot == before)
        }
    }

    @Test("hardlink, remove, quarantine: a crash at every step of apply, then resume, then undo: every byte is kept")
    func crashAtEveryStep() throws {
        for method in [InPlaceMethod.hardlink, .remove, .quarantine] {
            let f = try standardFixture("crash\(method)")
            let before = f.silosSnapshot
            var step = 1
            while true {
                // Undo gives each name a file of its own again (new inodes): plan afresh each round.
                let plan = try f.inPlacePlan(method)
                let faults = FaultInjectingFileOps(faults: .init(crashAtStep: step, skipFsync: true))
                var crashed = false
                do { _ = try Applier(plan: plan, journal: f.journal, fileSystem: faults).apply() } catch is SimulatedCrash { crashed = true }
                // The files a crash may leave half-way: every content is still somewhere whole.
                let resumed = try Applier(plan: plan, journal: f.journal).apply()
                #expect(resumed.isComplete, "\(method) step \(step): \(resumed.refused) \(resumed.failed)")
                #expect(!f.silosSnapshot.keys.contains { $0.contains(".silomerge-") }, "\(method) step \(step): \(f.silosSnapshot.keys.filter { $0.contains(".silomerge-") })")
                let undo = try Applier(plan: plan, journal: f.journal).undo()
                #expect(undo.isComplete, "\(method) step \(step): \(undo.left) \(undo.failed)")
                #expect(f.silosSnapshot == before, "\(method) step \(step)")
                try? FileManager.default.removeItem(atPath: f.journal.string!)
                try? FileManager.default.removeItem(atPath: f.tree.path + "/quarantine")
                if !crashed || step > 400 { break }
                step += 1
            }
            #expect(step > 5, "\(method): the apply took \(step) steps")
        }
    }

    @Test("reflink where the file system cannot share blocks: each operation refused, saying so; nothing changed")
    func reflinkUnsupportedRefused() throws {
        let f = try standardFixture()
        let before = f.silosSnapshot
        let plan = try f.inPlacePlan(.reflink)
        // The test's temporary folder: ext4 or tmpfs here (btrfs/XFS are in the CLI tests).
        let c = plan.operations[0].canonical!
        let type = ReflinkSupport.fileSystemType(at: c.siloRoot.appending(c.path)) ?? "?"
        try #require(!ReflinkSupport.capableTypes.contains(type), "the temporary folder is on \(type)")
        #expect(ReflinkSupport.unavailable(at: c.siloRoot.appending(c.path))?.contains(type) == true)
        let report = try Applier(plan: plan, journal: f.journal).apply()
        #expect(report.done.isEmpty)
        #expect(report.refused.count == plan.operations.count)
        #expect(report.refused.allSatisfy { $0.detail.contains("cannot share blocks") && $0.detail.contains("--method hardlink") }, "\(report.refused.first!.detail)")
        #expect(f.silosSnapshot == before)
    }
}

/// Real calls, except that just before the rename that puts a hard link over a duplicate's
/// name, another "process" writes to the duplicate (through its name): the race the hold name
/// exists for.
final class WriterDuringSwap: FileOps, @unchecked Sendable {
    // @unchecked: used by one applier on one thread; `fired` is only read after the run.
    let real = RealFileOps()
    var fired = false
    /// Overwrite the first bytes in place and put the mtime back: a write in the same clock
    /// tick as the hash, which size and mtime cannot show.
    let sameTick: Bool
    init(sameTick: Bool = false) { self.sameTick = sameTick }
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
        if !fired, from.starts(with: Array(Applier.temporaryPrefix.utf8)), !noReplace {
            fired = true
            if sameTick {
                let w = try real.open(td, to, flags: O_WRONLY, mode: 0)
                let before = try real.fstat(w)
                _ = try Array("EDITED".utf8).withUnsafeBytes { try real.write(w, $0) }
                try real.setTimes(w, mtimeNs: before.mtimeNs)
                real.close(w)
            } else {
                let w = try real.open(td, to, flags: O_WRONLY | O_APPEND, mode: 0)
                _ = try Array("appended by another process".utf8).withUnsafeBytes { try real.write(w, $0) }
                real.close(w)
            }
        }
        try real.rename(fd, from, td, to, noReplace: noReplace)
    }
    func link(_ fd: Int32, _ from: [UInt8], _ td: Int32, _ to: [UInt8]) throws { try real.link(fd, from, td, to) }
    func unlink(_ d: Int32, _ n: [UInt8], directory: Bool) throws { try real.unlink(d, n, directory: directory) }
    func setTimes(_ fd: Int32, mtimeNs: Int64) throws { try real.setTimes(fd, mtimeNs: mtimeNs) }
    func setMode(_ fd: Int32, _ mode: UInt32) throws { try real.setMode(fd, mode) }
    func setOwner(_ fd: Int32, uid: UInt32, gid: UInt32) throws { try real.setOwner(fd, uid: uid, gid: gid) }
    func clone(from s: Int32, to d: Int32) throws { try real.clone(from: s, to: d) }
    func list(_ d: Int32) throws -> [[UInt8]] { try real.list(d) }
    func availableBytes(_ fd: Int32) -> Int64? { real.availableBytes(fd) }
    func dropCache(_ fd: Int32) { real.dropCache(fd) }
}

@Suite("In-place deduplication: races and old readers")
struct InPlaceRaceTests {
    @Test("hardlink: a duplicate written to while its name is being swapped is put back with what was written, and refused")
    func writeDuringSwap() throws {
        let f = try standardFixture()
        let plan = try f.inPlacePlan(.hardlink)
        let ops = WriterDuringSwap()
        let report = try Applier(plan: plan, journal: f.journal, fileSystem: ops).apply()
        #expect(ops.fired)
        let first = plan.operations[0]
        let refusal = try #require(report.refused.first { $0.op == first.id }, "\(report.done.map(\.summary))")
        #expect(refusal.detail.contains("written to while being replaced"), "\(refusal.detail)")
        let s = first.source!
        let now = try readFile(f.absolute(s.silo, s.path.bytes))
        #expect(String(decoding: now.suffix(27), as: UTF8.self) == "appended by another process", "the write was lost")
        #expect(f.stat(s.silo, s.path)!.inode == s.inode, "the duplicate's own file is not back")
        #expect(!f.silosSnapshot.keys.contains { $0.contains(".silomerge-") })
        #expect(report.done.count == plan.operations.count - 1)
    }

    @Test("hardlink: a same-size write in the clock tick of the hash (mtime unchanged) is still caught, and kept")
    func sameTickWriteDuringSwap() throws {
        let f = try standardFixture()
        let plan = try f.inPlacePlan(.hardlink)
        let ops = WriterDuringSwap(sameTick: true)
        let report = try Applier(plan: plan, journal: f.journal, fileSystem: ops).apply()
        #expect(ops.fired)
        let first = plan.operations[0]
        let refusal = try #require(report.refused.first { $0.op == first.id }, "\(report.done.map(\.summary))")
        #expect(refusal.detail.contains("written to while being replaced"), "\(refusal.detail)")
        let s = first.source!
        let now = try readFile(f.absolute(s.silo, s.path.bytes))
        #expect(String(decoding: now.prefix(6), as: UTF8.self) == "EDITED", "the write was lost")
        #expect(f.stat(s.silo, s.path)!.inode == s.inode, "the duplicate's own file is not back")
    }

    @Test("an in-place plan says silomerge-plan/4; a reader of /3 plans refuses it by its schema")
    func schemaFour() throws {
        let f = try standardFixture()
        let bytes = try PlanFile.encode(try f.inPlacePlan(.hardlink))
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("\"schema\" : \"silomerge-plan/4\"") || text.contains("\"schema\":\"silomerge-plan/4\""))
        // A merge plan is still /3.
        let merge = try f.plan(f.settings())
        #expect(merge.schema == "silomerge-plan/3" && merge.inPlace == nil)
        // What a /3-only SiloMerge says (its readable schemas lack /4).
        let e = PlanError.unsupportedSchema(found: "silomerge-plan/5")
        #expect(e.description.contains("unsupported plan schema 'silomerge-plan/5'"))
    }
}
