import Foundation
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
#if canImport(Glibc)
import Glibc
#endif
import SiloMergeTestSupport

// MARK: - Locks

@Suite("Apply: one apply, undo or verify of a plan at a time; one catalogue lock whatever the path")
struct ApplyLockTests {
    /// Holds `body` inside the progress callback of a running apply: the moment another
    /// process (here, another applier) would start while this one works.
    static func whileApplying(_ f: MergeFixture, _ plan: MergePlan, _ body: @escaping @Sendable () -> Void) throws -> ApplyReport {
        let once = SwapOnce(body)
        return try Applier(plan: plan, journal: f.journal, progress: { p in if p.operationsDone >= 1 { once.run() } }).apply()
    }

    @Test("an undo, a second apply and a dry run of a plan being applied are refused at once, naming the pid holding it")
    func secondRunRefused() throws {
        let f = try standardFixture()
        let plan = try f.plan(f.settings(transfer: .move, duplicates: .quarantine))
        let before = f.silosSnapshot
        let results = Locked<[String: String]>([:])
        let journal = f.journal
        let report = try Self.whileApplying(f, plan) {
            for (label, run) in [("undo", { _ = try Applier(plan: plan, journal: journal).undo() }),
                                 ("apply", { _ = try Applier(plan: plan, journal: journal).apply() }),
                                 ("dry run", { _ = try Applier(plan: plan, journal: journal).apply(dryRun: true) })] as [(String, () throws -> Void)] {
                do { try run(); results.withLock { $0[label] = "ran" } } catch { results.withLock { $0[label] = "\(error)" } }
            }
        }
        #expect(report.isComplete)
        for label in ["undo", "apply", "dry run"] {
            let text = results.withLock { $0[label] } ?? "not run"
            #expect(text.contains("is in use by another silomerge (pid \(getpid()) (apply)"), "\(label): \(text)")
        }
        // The apply was not disturbed: undo now restores every source.
        let undo = try Applier(plan: plan, journal: f.journal).undo()
        #expect(undo.isComplete, "\(undo.left) \(undo.failed)")
        #expect(f.silosSnapshot == before, "\(diff(before, f.silosSnapshot))")
    }

    @Test("a hard link to the journal (another name, another folder, another -lock file) is refused while apply or undo holds the journal")
    func lockThroughHardLink() throws {
        let f = try standardFixture()
        let plan = try f.plan(f.settings(transfer: .move, duplicates: .quarantine))
        let before = f.silosSnapshot
        let elsewhere = f.tree.path + "/elsewhere"
        #expect(mkdir(elsewhere, 0o755) == 0)
        let linked = FilePath(elsewhere + "/hard.journal")
        #expect(PlanLock.lockPath(forJournal: linked) != PlanLock.lockPath(forJournal: f.journal))
        // The journal did not exist when apply started: it is locked as soon as apply made it.
        let results = Locked<[String]>([])
        let journal = f.journal
        let report = try Self.whileApplying(f, plan) {
            #expect(link(journal.string!, linked.string!) == 0)
            for run in [{ _ = try Applier(plan: plan, journal: linked).undo() },
                        { _ = try Applier(plan: plan, journal: linked).apply() },
                        { _ = try Applier(plan: plan, journal: linked).apply(dryRun: true) }] as [() throws -> Void] {
                do { try run(); results.withLock { $0.append("ran") } } catch { results.withLock { $0.append("\(error)") } }
            }
        }
        #expect(report.isComplete)
        for text in results.withLock({ $0 }) {
            #expect(text.contains("in use by another silomerge") && text.contains("hard link"), "\(text)")
        }
        #expect(results.withLock { $0.count } == 3)
        // The journal existed already: an undo holding it keeps out an apply through the link.
        do {
            let holder = try PlanLock(journal: f.journal, purpose: "undo")
            defer { withExtendedLifetime(holder) {} }
            do {
                _ = try Applier(plan: plan, journal: linked).apply()
                Issue.record("an apply through a hard link to a held journal ran")
            } catch {
                #expect("\(error)".contains("hard link"), "\(error)")
            }
        }
        let undo = try Applier(plan: plan, journal: f.journal).undo()
        #expect(undo.isComplete, "\(undo.left) \(undo.failed)")
        #expect(f.silosSnapshot == before, "\(diff(before, f.silosSnapshot))")
    }

    @Test("the plan's lock is the journal's folder resolved: a symlinked path to the same journal is refused too")
    func lockThroughAnotherPath() throws {
        let f = try standardFixture()
        let plan = try f.plan(f.settings())
        try f.tree.symlink("link", to: f.tree.path)
        let other = FilePath(f.tree.path + "/link/apply.journal")
        #expect(PlanLock.lockPath(forJournal: other) == PlanLock.lockPath(forJournal: f.journal))
        let results = Locked<String>("")
        _ = try Self.whileApplying(f, plan) {
            do { _ = try Applier(plan: plan, journal: other).undo(); results.withLock { $0 = "ran" } } catch {
                results.withLock { $0 = "\(error)" }
            }
        }
        #expect(results.withLock { $0 }.contains("in use by another silomerge"), "\(results.withLock { $0 })")
    }

    @Test("readers share the lock, a writer waits for no one: refused while a reader holds it; released at the end")
    func sharedAndExclusive() throws {
        let f = try standardFixture()
        let plan = try f.plan(f.settings())
        do {
            let reader = try PlanLock(journal: f.journal, purpose: "verify", shared: true)
            let second = try PlanLock(journal: f.journal, purpose: "verify", shared: true)
            do {
                _ = try Applier(plan: plan, journal: f.journal).apply()
                Issue.record("applied while a verify held the plan")
            } catch let e as ApplyError {
                guard case .locked(_, let holder) = e else { Issue.record("wrong error \(e)"); return }
                #expect(holder.contains("(verify)"))
            }
            #expect(!exists(f.target.string!))
            withExtendedLifetime((reader, second)) {}
        }
        #expect(try Applier(plan: plan, journal: f.journal).apply().isComplete)
        // Every call released it: another applier takes it at once.
        #expect(try Applier(plan: plan, journal: f.journal).undo().isComplete)
    }

    @Test("a symbolic link to the catalogue shares its scan lock (it used to lock '<link>-lock', a different file)")
    func catalogueLockThroughSymlink() throws {
        let tree = try TestTree()
        try tree.write("a/x.txt", "x")
        let (_, store) = try scan(tree, [tree.silo("a")])
        try tree.symlink("link.sqlite", to: tree.catalogue)
        try tree.mkdir("elsewhere")
        try tree.symlink("elsewhere/up", to: tree.path)
        let held = try store.lockForScan(purpose: "apply plan.json")
        for path in [tree.url("link.sqlite").path, tree.url("elsewhere/up/catalogue.sqlite").path] {
            let other = try SQLiteCatalogue(path: path, create: false)
            #expect(other.lockPath == store.lockPath)
            do {
                _ = try other.lockForScan()
                Issue.record("\(path): took the lock a scan holds")
            } catch let e as CatalogueError {
                #expect("\(e)".contains("pid \(getpid()) (apply plan.json)"), "\(e)")
            }
        }
        withExtendedLifetime(held) {}
    }
}

// MARK: - Roots

/// A fixture whose plan targets `tree/out/dam` (folders that do not exist yet: the anchor is
/// the tree itself).
private func outFixture(_ label: String = #function, duplicates: DuplicateAction = .remove, transfer: TransferMethod = .copy,
                        quarantine: FilePath? = nil) throws -> (MergeFixture, MergePlan) {
    let f = try standardFixture(label)
    var settings = f.settings(transfer: transfer, duplicates: duplicates)
    settings.targetRoot = FilePath(f.tree.path + "/out/dam")
    settings.quarantineRoot = quarantine
    return (f, try f.plan(settings))
}

/// Expects `apply` refused as a whole with `text`, nothing written anywhere (no journal).
private func expectRootRefused(_ f: MergeFixture, _ plan: MergePlan, _ text: String, untouched: [String],
                               sourceLocation: SourceLocation = #_sourceLocation) {
    let silos = f.silosSnapshot
    let watched = untouched.map { ($0, TreeEntry.list(Array($0.utf8))) }
    do {
        let r = try Applier(plan: plan, journal: f.journal).apply()
        Issue.record("applied: \(r.done.count) done", sourceLocation: sourceLocation)
    } catch {
        #expect("\(error)".contains(text), "\(error)", sourceLocation: sourceLocation)
    }
    #expect(!exists(f.journal.string!), "a journal was written", sourceLocation: sourceLocation)
    #expect(f.silosSnapshot == silos, sourceLocation: sourceLocation)
    for (path, before) in watched {
        #expect(TreeEntry.list(Array(path.utf8)) == before, "\(path) changed", sourceLocation: sourceLocation)
    }
}

@Suite("Apply: every root is opened from / without following links and must be the folder the plan recorded")
struct ApplyRootTests {
    @Test("the target made a symbolic link after planning: refused, nothing written where it points")
    func targetSymlinked() throws {
        let (f, plan) = try outFixture()
        #expect(plan.targetAnchor?.path == FilePath(f.tree.path))
        try f.tree.mkdir("elsewhere")
        try f.tree.mkdir("out")
        try f.tree.symlink("out/dam", to: f.tree.path + "/elsewhere")
        expectRootRefused(f, plan, "is a symbolic link", untouched: [f.tree.path + "/elsewhere"])
        #expect(TreeEntry.list(Array((f.tree.path + "/elsewhere").utf8)).isEmpty)
    }

    @Test("a symbolic link one level above the target, and above its anchor: refused")
    func symlinkAbove() throws {
        let (f, plan) = try outFixture()
        try f.tree.mkdir("elsewhere")
        try f.tree.symlink("out", to: f.tree.path + "/elsewhere")
        expectRootRefused(f, plan, "is a symbolic link", untouched: [f.tree.path + "/elsewhere"])
        #expect(TreeEntry.list(Array((f.tree.path + "/elsewhere").utf8)).isEmpty)

        // A target that existed at plan time is its own anchor: the folder above it swapped.
        let g = try standardFixture("symlinkAbove2")
        try g.tree.mkdir("out/dam")
        var settings = g.settings()
        settings.targetRoot = FilePath(g.tree.path + "/out/dam")
        let plan2 = try g.plan(settings)
        #expect(plan2.targetAnchor?.path == settings.targetRoot)
        try FileManager.default.moveItem(atPath: g.tree.path + "/out", toPath: g.tree.path + "/real-out")
        try g.tree.symlink("out", to: g.tree.path + "/real-out")
        expectRootRefused(g, plan2, "is a symbolic link", untouched: [g.tree.path + "/real-out"])
    }

    @Test("the anchor replaced by another real folder: refused by its device and inode")
    func anchorReplaced() throws {
        let f = try standardFixture()
        try f.tree.mkdir("out")
        var settings = f.settings()
        settings.targetRoot = FilePath(f.tree.path + "/out/dam")
        let plan = try f.plan(settings)
        #expect(plan.targetAnchor?.path == FilePath(f.tree.path + "/out"))
        try FileManager.default.moveItem(atPath: f.tree.path + "/out", toPath: f.tree.path + "/old-out")
        try f.tree.mkdir("out")
        expectRootRefused(f, plan, "is not the folder the plan was made with", untouched: [f.tree.path + "/out"])
    }

    @Test("a silo root swapped for a symlink to a hard-linked copy: --duplicates remove deletes no name there")
    func siloRootSymlinked() throws {
        let (f, plan) = try outFixture(duplicates: .remove)
        #expect(plan.operations.contains { $0.kind == .removeDuplicate && $0.source?.silo == "hr" })
        let hr = f.silosRoot + "/hr"
        let copy = f.tree.path + "/hr-copy"
        // cp -al: the same files (same inodes, so every source still "matches"), other names.
        try FileManager.default.moveItem(atPath: hr, toPath: f.tree.path + "/hr-real")
        try linkTree(from: f.tree.path + "/hr-real", to: copy)
        try FileManager.default.createSymbolicLink(atPath: hr, withDestinationPath: copy)
        expectRootRefused(f, plan, "is a symbolic link", untouched: [copy])
        #expect(!exists(f.tree.path + "/out"))
    }

    @Test("the quarantine folder (existing at plan time) swapped for a symbolic link: refused")
    func quarantineSymlinked() throws {
        let f = try standardFixture()
        try f.tree.mkdir("quarantine")
        var settings = f.settings(duplicates: .quarantine)
        settings.quarantineRoot = FilePath(f.tree.path + "/quarantine")
        let plan = try f.plan(settings)
        #expect(plan.quarantineAnchor?.path == FilePath(f.tree.path + "/quarantine"))
        try f.tree.remove("quarantine")
        try f.tree.mkdir("elsewhere")
        try f.tree.symlink("quarantine", to: f.tree.path + "/elsewhere")
        expectRootRefused(f, plan, "is a symbolic link", untouched: [f.tree.path + "/elsewhere"])
    }

    @Test("a target apply made, swapped for another folder between runs: resume and undo refuse it")
    func targetSwappedBetweenRuns() throws {
        let (f, plan) = try outFixture(duplicates: .keep)
        // A partial apply: stopped after a few operations (a simulated crash).
        let faults = FaultInjectingFileOps(faults: .init(crashAtStep: 40, skipFsync: true))
        do { _ = try Applier(plan: plan, journal: f.journal, fileSystem: faults).apply(); Issue.record("did not crash") } catch is SimulatedCrash {}
        faults.closeAll()
        let made = TreeEntry.list(Array((f.tree.path + "/out/dam").utf8))
        #expect(!made.isEmpty)
        try FileManager.default.moveItem(atPath: f.tree.path + "/out/dam", toPath: f.tree.path + "/dam-aside")
        try f.tree.mkdir("out/dam")
        #expect(throws: ApplyError.self) { try Applier(plan: plan, journal: f.journal).apply() }
        do { _ = try Applier(plan: plan, journal: f.journal).undo(); Issue.record("undid through another folder") } catch {
            #expect("\(error)".contains("is not the folder this plan's journal recorded"), "\(error)")
        }
        #expect(TreeEntry.list(Array((f.tree.path + "/dam-aside").utf8)) == made)
        // Put back, the undo goes through.
        try f.tree.remove("out/dam")
        try FileManager.default.moveItem(atPath: f.tree.path + "/dam-aside", toPath: f.tree.path + "/out/dam")
        #expect(try Applier(plan: plan, journal: f.journal).undo().isComplete)
        #expect(!exists(f.tree.path + "/out"), "undo removes the levels apply made above the target too")
    }

    @Test("undo and verify follow the same rule: a symlinked target after apply is refused, nothing removed through it")
    func undoAndVerifyRefuseSymlinks() throws {
        let (f, plan) = try outFixture(duplicates: .quarantine, transfer: .move)
        let before = f.silosSnapshot
        #expect(try Applier(plan: plan, journal: f.journal).apply().isComplete)
        #expect(try PlanVerifier.verify(plan, journal: f.journal).problems.isEmpty)
        try FileManager.default.moveItem(atPath: f.tree.path + "/out", toPath: f.tree.path + "/out-real")
        try f.tree.symlink("out", to: f.tree.path + "/out-real")
        let merged = TreeEntry.list(Array((f.tree.path + "/out-real").utf8))
        do { _ = try Applier(plan: plan, journal: f.journal).undo(); Issue.record("undid through a symlink") } catch {
            #expect("\(error)".contains("is a symbolic link"), "\(error)")
        }
        do { _ = try PlanVerifier.verify(plan, journal: f.journal); Issue.record("verified through a symlink") } catch {
            #expect("\(error)".contains("is a symbolic link"), "\(error)")
        }
        #expect(TreeEntry.list(Array((f.tree.path + "/out-real").utf8)) == merged)
        try f.tree.remove("out")
        try FileManager.default.moveItem(atPath: f.tree.path + "/out-real", toPath: f.tree.path + "/out")
        #expect(try Applier(plan: plan, journal: f.journal).undo().isComplete)
        #expect(f.silosSnapshot == before)
    }

    @Test("a plan without root identities (edited, or older) is refused before anything is written")
    func missingIdentities() throws {
        let (f, plan) = try outFixture()
        var p = plan
        p.targetAnchor = nil
        expectRootRefused(f, p, "records no identity for the target", untouched: [])
        p = plan
        p.silos[0].identity = nil
        expectRootRefused(f, p, "records no device and inode for silo '\(p.silos[0].name)'", untouched: [])
        p = plan
        p.silos[1].identity = FileID(device: p.silos[1].identity!.device, inode: p.silos[1].identity!.inode + 1)
        expectRootRefused(f, p, "is not the folder the plan was made with", untouched: [])
    }

    @Test("planning pins the nearest existing folder, links resolved; the levels below are made by apply and removed by undo")
    func anchorAtPlanTime() throws {
        let tree = try TestTree()
        try tree.mkdir("real/base")
        try tree.symlink("link", to: tree.path + "/real")
        let (root, anchor) = try PlanRoots.anchor(FilePath(tree.path + "/link/base/./x/../new/dam"), what: "the target")
        #expect(root == FilePath(tree.path + "/real/base/new/dam"))
        #expect(anchor.path == FilePath(tree.path + "/real/base"))
        #expect(anchor.levels(to: root) == [Array("new".utf8), Array("dam".utf8)])
        guard case .success(let st) = Posix.stat(FilePath(tree.path + "/real/base")) else { Issue.record("stat"); return }
        #expect(anchor.identity == st.fileID)
        try tree.write("real/file", "x")
        #expect(throws: PlanError.self) { try PlanRoots.anchor(FilePath(tree.path + "/real/file/dam"), what: "the target") }
    }
}

/// `cp -al`: the same files under new names in a new tree.
private func linkTree(from: String, to: String) throws {
    try FileManager.default.createDirectory(atPath: to, withIntermediateDirectories: true)
    for name in try FileManager.default.contentsOfDirectory(atPath: from) {
        let a = from + "/" + name, b = to + "/" + name
        var isDir: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: a, isDirectory: &isDir)
        if isDir.boolValue { try linkTree(from: a, to: b) } else { try FileManager.default.linkItem(atPath: a, toPath: b) }
    }
}

// MARK: - Trees deeper than PATH_MAX

@Suite("Apply: trees deeper than PATH_MAX apply, verify and undo")
struct ApplyDeepTreeTests {
    /// Makes `levels` folders of 200-byte names under `root` (relative to descriptors: the
    /// whole path is longer than PATH_MAX) and writes `content` at the bottom. Returns the
    /// relative path of the file.
    static func deepFile(under root: String, levels: Int, content: [UInt8]) throws -> [UInt8] {
        var fd = open(root, O_RDONLY | O_DIRECTORY)
        precondition(fd >= 0)
        var rel: [UInt8] = []
        for i in 0..<levels {
            let name = Array(String(format: "level%03d-", i).utf8) + [UInt8](repeating: 0x61, count: 190)
            _ = cPath(name) { mkdirat(fd, $0, 0o755) }
            let next = cPath(name) { openat(fd, $0, O_RDONLY | O_DIRECTORY) }
            precondition(next >= 0, "openat \(errno)")
            close(fd)
            fd = next
            rel += (rel.isEmpty ? [] : [0x2F]) + name
        }
        let file = cPath(Array("bottom.bin".utf8)) { openat(fd, $0, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
        precondition(file >= 0)
        _ = content.withUnsafeBytes { Glibc.write(file, $0.baseAddress, $0.count) }
        close(file)
        close(fd)
        return rel + Array("/bottom.bin".utf8)
    }

    @Test("a 4,400-byte folder path: apply places it, verify finds it complete and valid (no false 'unexpected'), undo removes it")
    func deepTree() throws {
        let f = try MergeFixture()
        try f.addSilo("deep", priority: 1)
        try f.add("deep", "top.txt", Array("top".utf8))
        let content = bytes(5_000, seed: 9)
        let rel = try Self.deepFile(under: f.siloRoot("deep").string!, levels: 22, content: content)
        #expect(rel.count > Int(PATH_MAX))
        // The plan input by hand (the fixture stats whole paths, which cannot reach this one).
        var input = try f.input()
        let sha = try SHA256Hasher.digest(content)
        let dir = try #require(rel.lastIndex(of: 0x2F))
        let rootFD = open(f.siloRoot("deep").string!, O_RDONLY | O_DIRECTORY)
        defer { close(rootFD) }
        guard case .success(let parentFD) = Posix.openAt(rootFD, RelativePath(bytes: Array(rel[..<dir])), flags: O_RDONLY | O_DIRECTORY),
              case .success(let st) = cPath(Array("bottom.bin".utf8), { Posix.lstat(at: parentFD, $0) }) else {
            Issue.record("cannot stat the deep file"); return
        }
        close(parentFD)
        input.assets.append(ReconciledAsset(sha256: sha, size: st.size, format: .other, copies: [
            AssetCopy(silo: "deep", siloPriority: 1, path: RelativePath(bytes: rel), size: st.size, mtimeNs: st.mtimeNs, uid: st.uid,
                      gid: st.gid, device: st.device, inode: st.inode, absolutePath: FilePath(bytes: f.siloRoot("deep").bytes + [0x2F] + rel)),
        ], fields: []))
        let settings = f.settings(layout: "{silo}/{path}")
        input.targetAnchor = try PlanRoots.anchor(settings.targetRoot, what: "the target").anchor
        input.quarantineAnchor = try PlanRoots.anchor(settings.effectiveQuarantineRoot, what: "the quarantine folder").anchor
        let plan = try Planner(settings: settings).plan(input)
        #expect(plan.operations.contains { ($0.destination?.bytes.count ?? 0) > Int(PATH_MAX) })

        let report = try Applier(plan: plan, journal: f.journal).apply()
        #expect(report.isComplete, "\(report.refused) \(report.failed)")
        let verified = try PlanVerifier.verify(plan, journal: f.journal)
        #expect(verified.problems.isEmpty, "\(verified.problems)")
        #expect(verified.verifiedFiles == 2)
        // A stray file at the bottom is found there too.
        let targetFD = open(f.target.string!, O_RDONLY | O_DIRECTORY)
        guard case .success(let bottom) = Posix.openAt(targetFD, RelativePath(bytes: Array("deep/".utf8) + Array(rel[..<dir])), flags: O_RDONLY | O_DIRECTORY) else {
            Issue.record("cannot open the deep target folder"); return
        }
        close(targetFD)
        let stray = cPath(Array("stray.txt".utf8)) { openat(bottom, $0, O_WRONLY | O_CREAT, 0o644) }
        close(stray)
        let withStray = try PlanVerifier.verify(plan, journal: f.journal)
        #expect(withStray.problems.map(\.kind) == [.unexpected])
        #expect(withStray.problems.first?.path.bytes.suffix(9) == Array("stray.txt".utf8))
        _ = cPath(Array("stray.txt".utf8)) { unlinkat(bottom, $0, 0) }
        close(bottom)

        let undo = try Applier(plan: plan, journal: f.journal).undo()
        #expect(undo.isComplete, "\(undo.left) \(undo.failed) \(undo.leftDirectories)")
        #expect(!exists(f.target.string!))
    }
}

// MARK: - The plan against its catalogue

@Suite("Plan: a plan's roots are checked against its catalogue; the quarantine never lies in a silo")
struct PlanRootCheckTests {
    static func silo(_ id: Int64, _ name: String, _ root: String, identity: FileID? = nil) -> Silo {
        var s = Silo(id: id, name: name, root: FilePath(root), priority: Int(id), lastRunID: nil)
        s.rootIdentity = identity
        return s
    }

    static func plan(duplicates: DuplicateAction = .quarantine) throws -> MergePlan {
        let f = try standardFixture("catalogueCheck")
        return try f.plan(f.settings(duplicates: duplicates))
    }

    static func catalogued(_ plan: MergePlan) -> [Silo] {
        plan.silos.enumerated().map { i, s in silo(Int64(i + 1), s.name, s.root.string!, identity: s.identity) }
    }

    @Test("an honest plan matches its catalogue")
    func honest() throws {
        let plan = try Self.plan()
        #expect(PlanValidator.catalogueProblems(in: plan, catalogued: Self.catalogued(plan), catalogue: "c").isEmpty)
    }

    @Test("a silo re-rooted by hand, one the catalogue does not have, one whose folder was replaced since the scan")
    func rerooted() throws {
        let plan = try Self.plan()
        var edited = plan
        edited.silos[1].root = FilePath("/srv/elsewhere")
        for i in edited.operations.indices where edited.operations[i].source?.silo == edited.silos[1].name {
            edited.operations[i].source!.siloRoot = edited.silos[1].root
        }
        // Consistent in itself: the plan's own checks pass...
        #expect(PlanValidator.structuralProblems(in: edited).isEmpty)
        // ...its catalogue does not.
        let problems = PlanValidator.catalogueProblems(in: edited, catalogued: Self.catalogued(plan), catalogue: "c")
        #expect(problems.contains { $0.reason.contains("the plan gives its root as /srv/elsewhere") }, "\(problems)")

        var cat = Self.catalogued(plan)
        cat.removeLast()
        #expect(PlanValidator.catalogueProblems(in: plan, catalogued: cat, catalogue: "c").contains { $0.reason.contains("is not in the catalogue") })
        cat = Self.catalogued(plan)
        cat[0].rootIdentity = FileID(device: 1, inode: 2)
        #expect(PlanValidator.catalogueProblems(in: plan, catalogued: cat, catalogue: "c").contains { $0.reason.contains("the folder was replaced") })
    }

    @Test("the quarantine (or the target) put inside a silo, even one the plan does not list")
    func quarantineInsideSilo() throws {
        let plan = try Self.plan()
        var edited = plan
        edited.quarantineRoot = plan.silos[0].root.appending(RelativePath("q"))
        edited.settings.quarantineRoot = edited.quarantineRoot
        // The rule `plan --quarantine` applies, now also in the plan's own checks.
        #expect(PlanValidator.structuralProblems(in: edited).contains { $0.reason.contains("overlaps the quarantine folder") })
        #expect(PlanValidator.catalogueProblems(in: edited, catalogued: Self.catalogued(plan), catalogue: "c")
            .contains { $0.reason.contains("the quarantine folder overlaps silo") })
        // A catalogued silo the plan leaves out still may not hold the target.
        let extra = Self.catalogued(plan) + [Self.silo(9, "finance", plan.targetRoot.string! + "/finance")]
        #expect(PlanValidator.catalogueProblems(in: plan, catalogued: extra, catalogue: "c").contains { $0.reason.contains("the target overlaps silo 'finance'") })
        // Without quarantining, the quarantine folder is not used and not checked.
        let keep = try Self.plan(duplicates: .keep)
        var k = keep
        k.quarantineRoot = keep.silos[0].root.appending(RelativePath("q"))
        #expect(PlanValidator.catalogueProblems(in: k, catalogued: Self.catalogued(keep), catalogue: "c").isEmpty)
    }
}

// MARK: - Lock files (older catalogues: SiloMergeSQLiteTests/MigrationTests)

@Suite("Apply: lock files are never followed")
struct ApplyLockFileTests {
    @Test("a lock file swapped for a symbolic link is refused, and the file it points at is not truncated")
    func symlinkedLockFiles() throws {
        let f = try standardFixture()
        let plan = try f.plan(f.settings())
        try f.tree.write("precious.txt", "do not truncate me")
        try f.tree.symlink("apply.journal-lock", to: f.tree.path + "/precious.txt")
        let error = #expect(throws: ApplyError.self) { try Applier(plan: plan, journal: f.journal).apply() }
        #expect("\(String(describing: error))".contains("cannot make its lock file"), "\(String(describing: error))")
        #expect(try String(contentsOfFile: f.tree.path + "/precious.txt", encoding: .utf8) == "do not truncate me")
        #expect(!exists(f.target.string!))

        let tree = try TestTree("catalogueLockLink")
        try tree.write("a/x.txt", "x")
        let (_, store) = try scan(tree, [tree.silo("a")])
        try tree.write("precious.txt", "do not truncate me either")
        try tree.remove("catalogue.sqlite-lock")
        try tree.symlink("catalogue.sqlite-lock", to: tree.path + "/precious.txt")
        #expect(throws: CatalogueError.self) { try store.lockForScan() }
        #expect(try String(contentsOfFile: tree.path + "/precious.txt", encoding: .utf8) == "do not truncate me either")
    }
}
