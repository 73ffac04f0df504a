import Foundation
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
#if canImport(Glibc)
import Glibc
#endif
import SiloMergeTestSupport

// MARK: - Fixture

/// Silos of real files in a temporary folder, the plan input made from them (as the catalogue
/// would give it), and a target and journal beside them.
final class MergeFixture {
    let tree: TestTree
    private(set) var silos: [PlanSilo] = []
    /// Every file added: silo and exact path.
    private(set) var files: [(silo: String, path: [UInt8])] = []
    /// Reconciled fields per content (hex).
    var fields: [String: [ReconciledField]] = [:]

    /// Where the silos are: inside the tree, or (`silosOn`) in a folder on another file system.
    let silosRoot: String
    private let ownsSilosRoot: Bool

    init(_ label: String = #function, silosOn base: String? = nil) throws {
        tree = try TestTree(label)
        if let base {
            silosRoot = base + "/silomerge-silos-\(UUID().uuidString.prefix(8))"
            ownsSilosRoot = true
            try FileManager.default.createDirectory(atPath: silosRoot, withIntermediateDirectories: true)
        } else {
            silosRoot = tree.path + "/silos"
            ownsSilosRoot = false
            try tree.mkdir("silos")
        }
    }

    deinit {
        // Byte by byte: FileManager cannot always remove names that are not UTF-8.
        removeTree(Array(tree.path.utf8))
        if ownsSilosRoot { removeTree(Array(silosRoot.utf8)) }
    }

    var root: [UInt8] { Array(tree.path.utf8) }
    var target: FilePath { FilePath(tree.path + "/target") }
    var journal: FilePath { FilePath(tree.path + "/apply.journal") }

    func siloRoot(_ name: String) -> FilePath { FilePath(silosRoot + "/" + name) }

    func addSilo(_ name: String, priority: Int) throws {
        try FileManager.default.createDirectory(atPath: silosRoot + "/" + name, withIntermediateDirectories: true)
        silos.append(PlanSilo(name: name, root: siloRoot(name), priority: priority))
    }

    /// Writes a file (folders made as needed) with a given mtime (seconds) and mode.
    func add(_ silo: String, _ path: [UInt8], _ content: [UInt8], mtime: Int = 1_600_000_000, mode: mode_t = 0o644) throws {
        let full = siloRoot(silo).bytes + [0x2F] + path
        var prefix: [UInt8] = []
        for part in full.split(separator: 0x2F).dropLast() {
            prefix += [0x2F] + part
            _ = cPath(prefix) { Glibc.mkdir($0, 0o755) }
        }
        let fd = cPath(full) { Glibc.open($0, O_WRONLY | O_CREAT | O_TRUNC, mode) }
        precondition(fd >= 0, "create failed: \(errno)")
        _ = content.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        fchmod(fd, mode)
        var times = [timespec(tv_sec: mtime, tv_nsec: 123_456_789), timespec(tv_sec: mtime, tv_nsec: 123_456_789)]
        futimens(fd, &times)
        close(fd)
        files.append((silo, path))
    }

    func add(_ silo: String, _ path: String, _ content: [UInt8], mtime: Int = 1_600_000_000, mode: mode_t = 0o644) throws {
        try add(silo, Array(path.utf8), content, mtime: mtime, mode: mode)
    }

    /// A second name for an existing file (a hard link).
    func hardlink(_ silo: String, _ path: String, to otherSilo: String, _ otherPath: String) throws {
        let from = siloRoot(otherSilo).bytes + [0x2F] + Array(otherPath.utf8)
        let to = siloRoot(silo).bytes + [0x2F] + Array(path.utf8)
        var prefix: [UInt8] = []
        for part in to.split(separator: 0x2F).dropLast() { prefix += [0x2F] + part; _ = cPath(prefix) { Glibc.mkdir($0, 0o755) } }
        let r = cPath(from) { f in cPath(to) { t in Glibc.link(f, t) } }
        precondition(r == 0, "link failed: \(errno)")
        files.append((silo, Array(path.utf8)))
    }

    func absolute(_ silo: String, _ path: [UInt8]) -> [UInt8] { siloRoot(silo).bytes + [0x2F] + path }

    /// The plan input: every file stat-ed and hashed, grouped by content.
    func input(createdAt: Date = Date(timeIntervalSince1970: 1_700_000_000)) throws -> PlanInput {
        var byContent: [SHA256Digest: (size: Int64, copies: [AssetCopy])] = [:]
        for f in files {
            let abs = absolute(f.silo, f.path)
            let st = try cPath(abs) { p -> FileStat in
                switch Posix.lstat(at: AT_FDCWD, p) { case .success(let s): return s; case .failure(let e): throw e }
            }
            let digest = try SHA256Hasher.digest(try readFile(abs))
            let silo = silos.first { $0.name == f.silo }!
            let copy = AssetCopy(silo: f.silo, siloPriority: silo.priority, path: RelativePath(bytes: f.path), size: st.size,
                                 mtimeNs: st.mtimeNs, uid: st.uid, gid: st.gid, device: st.device, inode: st.inode,
                                 absolutePath: FilePath(bytes: abs))
            byContent[digest, default: (st.size, [])].copies.append(copy)
        }
        let assets = byContent.map { sha, v in
            ReconciledAsset(sha256: sha, size: v.size, format: .jpeg, copies: v.copies, fields: fields[sha.hex] ?? [])
        }
        // Each silo root pinned by device and inode, as `silomerge plan` records it.
        let pinned = try silos.map { s -> PlanSilo in
            var s = s
            guard case .success(let st) = Posix.stat(s.root) else { throw Errno(errno) }
            s.identity = st.fileID
            return s
        }
        return PlanInput(assets: assets, silos: pinned, catalogueIdentity: "test-catalogue", scanRunID: 7, createdAt: createdAt)
    }

    func settings(layout: String = "{silo}/{path}", transfer: TransferMethod = .copy, duplicates: DuplicateAction = .keep,
                  sidecars: Bool = false, manifest: Bool = false) -> PlanSettings {
        PlanSettings(targetRoot: target, layout: layout, duplicates: duplicates, transfer: transfer,
                     writeSidecars: sidecars, writeManifest: manifest)
    }

    /// The plan, its roots pinned as `silomerge plan` pins them.
    func plan(_ settings: PlanSettings) throws -> MergePlan {
        var i = try input()
        i.targetAnchor = try PlanRoots.anchor(settings.targetRoot, what: "the target").anchor
        i.quarantineAnchor = try PlanRoots.anchor(settings.effectiveQuarantineRoot, what: "the quarantine folder").anchor
        return try Planner(settings: settings).plan(i)
    }

    /// A full listing of the silos (and target, quarantine) with content hashes, modes, mtimes.
    func snapshot(_ path: String) -> [String: TreeEntry] { TreeEntry.list(Array(path.utf8)) }
    var silosSnapshot: [String: TreeEntry] { snapshot(silosRoot) }
}

/// One entry of a recursive listing.
struct TreeEntry: Hashable, CustomStringConvertible {
    var kind: FileKind
    var size: Int64
    var mode: UInt32
    var mtimeNs: Int64
    var links: UInt64
    var sha256: String?
    var linkTarget: String?

    var description: String {
        "\(kind.rawValue) \(String(mode, radix: 8)) \(size)B mtime=\(mtimeNs) links=\(links) \(sha256?.prefix(12) ?? "") \(linkTarget ?? "")"
    }

    /// Every entry below `root` by escaped relative path. Folders carry no size, mtime or links
    /// (they change as entries come and go); files carry everything.
    static func list(_ root: [UInt8]) -> [String: TreeEntry] {
        var out: [String: TreeEntry] = [:]
        func walk(_ dir: [UInt8], _ rel: [UInt8]) {
            guard let d = cPath(dir, { opendir($0) }) else { return }
            defer { closedir(d) }
            while let e = readdir(d) {
                let name: [UInt8] = withUnsafeBytes(of: &e.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
                if name == [0x2E] || name == [0x2E, 0x2E] { continue }
                let full = dir + [0x2F] + name
                let r = rel.isEmpty ? name : rel + [0x2F] + name
                guard case .success(let st) = cPath(full, { Posix.lstat(at: AT_FDCWD, $0) }) else { continue }
                let key = PathDisplay.escape(r)
                switch st.kind {
                case .directory:
                    out[key] = TreeEntry(kind: .directory, size: 0, mode: st.mode & 0o7777, mtimeNs: 0, links: 0)
                    walk(full, r)
                case .regular:
                    let sha = (try? readFile(full)).flatMap { try? SHA256Hasher.digest($0).hex }
                    out[key] = TreeEntry(kind: .regular, size: st.size, mode: st.mode & 0o7777, mtimeNs: st.mtimeNs,
                                         links: st.linkCount, sha256: sha)
                case .symlink:
                    var buf = [CChar](repeating: 0, count: 4096)
                    let n = cPath(full) { readlink($0, &buf, buf.count) }
                    out[key] = TreeEntry(kind: .symlink, size: 0, mode: 0, mtimeNs: 0, links: 0,
                                         linkTarget: String(decoding: buf.prefix(max(0, n)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
                default:
                    out[key] = TreeEntry(kind: st.kind, size: 0, mode: 0, mtimeNs: 0, links: 0)
                }
            }
        }
        walk(root, [])
        return out
    }
}

func cPath<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
    try (bytes + [0]).withUnsafeBufferPointer { b in try b.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) } }
}

/// Removes a folder and everything in it (names as bytes, links not followed).
func removeTree(_ path: [UInt8]) {
    guard case .success(let st) = cPath(path, { Posix.lstat(at: AT_FDCWD, $0) }) else { return }
    if st.kind == .directory {
        if let d = cPath(path, { opendir($0) }) {
            var names: [[UInt8]] = []
            while let e = readdir(d) {
                let name: [UInt8] = withUnsafeBytes(of: &e.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
                if name != [0x2E] && name != [0x2E, 0x2E] { names.append(name) }
            }
            closedir(d)
            for n in names { removeTree(path + [0x2F] + n) }
        }
        _ = cPath(path) { rmdir($0) }
    } else {
        _ = cPath(path) { unlink($0) }
    }
}

func readFile(_ path: [UInt8]) throws -> [UInt8] {
    let fd = cPath(path) { Glibc.open($0, O_RDONLY) }
    if fd < 0 { throw Errno(errno) }
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return out
}

func exists(_ path: [UInt8]) -> Bool {
    if case .success = cPath(path, { Posix.lstat(at: AT_FDCWD, $0) }) { return true }
    return false
}

func exists(_ path: String) -> Bool { exists(Array(path.utf8)) }

func inode(_ path: [UInt8]) -> UInt64? {
    if case .success(let st) = cPath(path, { Posix.lstat(at: AT_FDCWD, $0) }) { return st.inode }
    return nil
}

/// Names of the applier's temporary files anywhere below `root`.
func temporaryFiles(_ root: String) -> [String] {
    TreeEntry.list(Array(root.utf8)).keys.filter { $0.split(separator: "/").last?.hasPrefix(".silomerge-tmp-") == true }.sorted()
}

/// The standard test silos: three silos, a content in three copies, one in two, a single one,
/// two names of one file that are its only copies, a non-UTF-8 name with a duplicate, a
/// read-only file, and nested folders.
func standardFixture(_ label: String = #function, silosOn: String? = nil) throws -> MergeFixture {
    let f = try MergeFixture(label, silosOn: silosOn)
    try f.addSilo("marketing", priority: 1)
    try f.addSilo("hr", priority: 2)
    try f.addSilo("training", priority: 3)
    let hero = bytes(20_000, seed: 1)
    try f.add("marketing", "campaigns/2023/hero.jpg", hero, mtime: 1_690_000_000)
    try f.add("hr", "staff/offsite/team.jpg", hero, mtime: 1_695_000_000)
    try f.add("training", "module-01/intro.jpg", hero, mtime: 1_600_000_000)
    let logo = bytes(3_000, seed: 2)
    try f.add("marketing", "brand/logo.png", logo, mode: 0o600)
    try f.add("training", "assets/logo-copy.png", logo, mode: 0o640)
    try f.add("training", "docs/handbook.pdf", bytes(5_000, seed: 3), mode: 0o444)
    // Two names of one file in hr, and no other copy.
    try f.add("hr", "policies/leave.pdf", bytes(4_000, seed: 4))
    try f.hardlink("hr", "archive/leave-2022.pdf", to: "hr", "policies/leave.pdf")
    // A Latin-1 name (not UTF-8) with a copy in marketing.
    let latin1: [UInt8] = Array("old/caf".utf8) + [0xE9] + Array(".jpg".utf8)
    let cafe = bytes(2_500, seed: 5)
    try f.add("training", latin1, cafe, mtime: 1_500_000_000)
    try f.add("marketing", "misc/cafe.jpg", cafe)
    // A duplicate that is one file under two names (both acted on, restored as one file).
    let manual = bytes(3_500, seed: 6)
    try f.add("marketing", "docs/manual.pdf", manual, mtime: 1_400_000_000)
    try f.add("training", "manuals/manual-a.pdf", manual, mtime: 1_450_000_000, mode: 0o664)
    try f.hardlink("training", "manuals/manual-b.pdf", to: "training", "manuals/manual-a.pdf")
    return f
}

// MARK: - Tests

@Suite("Apply: transfers, duplicate actions, undo")
struct ApplyTests {
    /// Applies a plan and checks the result against what the plan says, then undoes it and
    /// checks the silos are exactly as before.
    static func applyAndUndo(transfer: TransferMethod, duplicates: DuplicateAction) throws {
        let f = try standardFixture("\(transfer)\(duplicates)")
        let before = f.silosSnapshot
        let plan = try f.plan(f.settings(transfer: transfer, duplicates: duplicates))
        let report = try Applier(plan: plan, journal: f.journal).apply()
        #expect(report.isComplete, "\(report.refused) \(report.failed) \(String(describing: report.stoppedBy))")
        #expect(report.done.count == plan.operations.count)

        // Every transfer's destination holds its content, with the source's mode and mtime.
        let after = f.silosSnapshot
        let target = f.snapshot(f.target.string!)
        let quarantine = f.snapshot(plan.quarantineRoot.string!)
        for op in plan.operations where op.kind.isTransfer {
            let s = op.source!
            let dest = try #require(target[op.destination!.display], "\(op.display)")
            #expect(dest.sha256 == s.sha256)
            #expect(dest.mtimeNs == s.mtimeNs)
            let src = before[s.silo + "/" + s.path.display]!
            #expect(dest.mode == src.mode)
            let sourceKey = s.silo + "/" + s.path.display
            if transfer == .move {
                #expect(after[sourceKey] == nil, "moved source still there: \(sourceKey)")
            } else {
                #expect(after[sourceKey]?.sha256 == s.sha256)
                #expect(after[sourceKey]?.mtimeNs == src.mtimeNs)
            }
            if transfer == .hardlink {
                #expect(inode(f.target.bytes + [0x2F] + op.destination!.bytes) == inode(s.siloRoot.bytes + [0x2F] + s.path.bytes))
            }
        }
        // Only the files the plan names as duplicates were touched.
        let dupOps = plan.operations.filter { $0.kind.isDuplicateAction }
        #expect(dupOps.isEmpty == (duplicates == .keep))
        for op in dupOps {
            let s = op.source!
            let key = s.silo + "/" + s.path.display
            switch duplicates {
            case .remove: #expect(after[key] == nil)
            case .quarantine:
                #expect(after[key] == nil)
                #expect(quarantine[op.destination!.display]?.sha256 == s.sha256)
                #expect(quarantine[op.destination!.display]?.mtimeNs == s.mtimeNs)
            case .hardlink:
                #expect(after[key]?.sha256 == s.sha256)
                let canonical = plan.operation(op.canonicalOp!)!
                #expect(inode(f.target.bytes + [0x2F] + canonical.destination!.bytes) == inode(s.siloRoot.bytes + [0x2F] + s.path.bytes))
            case .keep: break
            }
        }
        // The hard-linked pair in hr is one file: it keeps at least one name whatever the action.
        #expect(after["hr/policies/leave.pdf"] != nil || after["hr/archive/leave-2022.pdf"] != nil)
        #expect(target.keys.allSatisfy { !$0.contains(".silomerge-tmp-") })
        #expect(temporaryFiles(f.silosRoot).isEmpty)

        // Every content keeps a verified copy in the target.
        let targetHashes = Set(target.values.compactMap(\.sha256))
        for entry in before.values where entry.kind == .regular { #expect(targetHashes.contains(entry.sha256!)) }

        // Undo: the silos exactly as before, the target and quarantine gone.
        let undo = try Applier(plan: plan, journal: f.journal).undo()
        #expect(undo.isComplete, "\(undo.left) \(undo.failed) \(undo.leftDirectories)")
        #expect(f.silosSnapshot == before, "\(diff(before, f.silosSnapshot))")
        #expect(!exists(f.target.string!))
        #expect(!exists(plan.quarantineRoot.string!))
    }

    @Test("copy with every duplicate action, then undo", arguments: DuplicateAction.allCases)
    func copy(_ duplicates: DuplicateAction) throws { try Self.applyAndUndo(transfer: .copy, duplicates: duplicates) }

    @Test("hard link with every duplicate action, then undo", arguments: DuplicateAction.allCases)
    func hardlink(_ duplicates: DuplicateAction) throws { try Self.applyAndUndo(transfer: .hardlink, duplicates: duplicates) }

    @Test("reflink (or copy) with every duplicate action, then undo", arguments: DuplicateAction.allCases)
    func reflink(_ duplicates: DuplicateAction) throws { try Self.applyAndUndo(transfer: .reflink, duplicates: duplicates) }

    @Test("move with every duplicate action, then undo", arguments: DuplicateAction.allCases)
    func move(_ duplicates: DuplicateAction) throws { try Self.applyAndUndo(transfer: .move, duplicates: duplicates) }

    @Test("the resulting tree is exactly the plan's, with sidecars and manifest; a second apply skips everything")
    func exactTreeAndIdempotence() throws {
        let f = try standardFixture()
        let plan = try f.plan(f.settings(layout: "{year}/{month}/{name}", sidecars: true, manifest: true))
        var seen: [ApplyProgress] = []
        let box = ProgressBox()
        let report = try Applier(plan: plan, journal: f.journal, progress: { box.add($0) }).apply()
        seen = box.all
        #expect(report.isComplete)
        let target = f.snapshot(f.target.string!)
        let expectedFiles = Set(plan.operations.compactMap { $0.kind.writesTarget ? $0.destination!.display : nil })
        #expect(Set(target.filter { $0.value.kind == .regular }.keys) == expectedFiles)
        for op in plan.operations where op.kind.isGenerated {
            #expect(target[op.destination!.display]?.sha256 == op.contentSHA256)
        }
        #expect(expectedFiles.contains("silomerge-manifest.csv"))
        #expect(expectedFiles.contains("2023/07/hero.xmp"))
        #expect(seen.last?.operationsDone == plan.operations.count)
        #expect(seen.last?.bytesDone == seen.last?.bytesTotal)

        let again = try Applier(plan: plan, journal: f.journal).apply()
        #expect(again.done.isEmpty)
        #expect(again.skipped.count == plan.operations.count)
        #expect(f.snapshot(f.target.string!) == target)
    }

    @Test("dry run writes nothing, not even the journal")
    func dryRun() throws {
        let f = try standardFixture()
        let before = f.silosSnapshot
        let plan = try f.plan(f.settings(transfer: .move, duplicates: .remove))
        let report = try Applier(plan: plan, journal: f.journal).apply(dryRun: true)
        #expect(report.dryRun)
        #expect(report.done.count == plan.operations.count)
        #expect(report.done.contains { $0.detail.contains("would remove") })
        #expect(!exists(f.target.string!))
        #expect(!exists(f.journal.string!))
        #expect(f.silosSnapshot == before)
    }

    @Test("a destination holding other content is never overwritten; one holding the same content counts as done")
    func occupiedDestinations() throws {
        let f = try standardFixture()
        let plan = try f.plan(f.settings(duplicates: .remove))
        let ops = plan.operations.filter { $0.kind == .copy }
        let same = ops[0], other = ops[1]
        let sameBytes = try readFile(same.source!.siloRoot.bytes + [0x2F] + same.source!.path.bytes)
        try f.tree.write("target/" + same.destination!.display, sameBytes)
        let otherBytes = try readFile(other.source!.siloRoot.bytes + [0x2F] + other.source!.path.bytes)
        var changed = otherBytes
        changed[0] ^= 0xFF
        try f.tree.write("target/" + other.destination!.display, changed)
        let report = try Applier(plan: plan, journal: f.journal).apply()
        #expect(report.skipped.contains { $0.op == same.id && $0.detail.contains("already held") })
        let refusal = try #require(report.refused.first { $0.op == other.id })
        #expect(refusal.detail.contains("not overwritten"))
        #expect(try readFile(Array((f.target.string! + "/" + other.destination!.display).utf8)) == changed)
        // The duplicates of the refused content wait for it: nothing of that content is removed.
        for op in plan.operations where op.canonicalOp == other.id {
            #expect(report.refused.contains { $0.op == op.id })
            #expect(exists(op.source!.siloRoot.bytes + [0x2F] + op.source!.path.bytes))
        }
        // Undo removes only what apply created: the pre-existing files stay.
        _ = try Applier(plan: plan, journal: f.journal).undo()
        #expect(try readFile(Array((f.target.string! + "/" + same.destination!.display).utf8)) == sameBytes)
        #expect(try readFile(Array((f.target.string! + "/" + other.destination!.display).utf8)) == changed)
    }

    @Test("undo leaves a file changed after apply, and says so")
    func undoLeavesChangedFiles() throws {
        let f = try standardFixture()
        let plan = try f.plan(f.settings())
        _ = try Applier(plan: plan, journal: f.journal).apply()
        let edited = plan.operations[0]
        let path = f.target.string! + "/" + edited.destination!.display
        try Data("edited by a person".utf8).write(to: URL(fileURLWithPath: path))
        let undo = try Applier(plan: plan, journal: f.journal).undo()
        #expect(undo.left.map(\.op) == [edited.id])
        #expect(undo.left[0].detail.contains("changed since apply"))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "edited by a person")
        let remaining = f.snapshot(f.target.string!).filter { $0.value.kind == .regular }
        #expect(remaining.keys.sorted() == [edited.destination!.display])
        #expect(!undo.leftDirectories.isEmpty)
    }

    @Test("a torn last journal line (a crash mid-write) is tolerated")
    func tornJournal() throws {
        let f = try standardFixture()
        let plan = try f.plan(f.settings(duplicates: .quarantine))
        _ = try Applier(plan: plan, journal: f.journal).apply()
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: f.journal.string!))
        handle.seekToEndOfFile()
        handle.write(Data("{\"event\":\"begin\",\"op\":".utf8))
        try handle.close()
        let again = try Applier(plan: plan, journal: f.journal).apply()
        #expect(again.skipped.count == plan.operations.count)
        let undo = try Applier(plan: plan, journal: f.journal).undo()
        #expect(undo.isComplete)
        // Every line but the torn one is valid JSON, and the torn one was closed by a newline.
        let lines = try String(contentsOfFile: f.journal.string!, encoding: .utf8).split(separator: "\n")
        #expect(lines.filter { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) == nil }.count == 1)
    }

    @Test("a journal of another plan is refused")
    func journalOfAnotherPlan() throws {
        let f = try standardFixture()
        let plan = try f.plan(f.settings())
        _ = try Applier(plan: plan, journal: f.journal).apply()
        let other = try f.plan(f.settings(layout: "{name}"))
        let error = #expect(throws: ApplyError.self) { try Applier(plan: other, journal: f.journal).apply() }
        guard case .journalMismatch = error else { Issue.record("wrong error \(String(describing: error))"); return }
        #expect(!exists(f.target.string! + "/" + other.operations[0].destination!.display), "the other plan wrote")
    }
}

/// Collects progress reports from the (Sendable) callback.
final class ProgressBox: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [ApplyProgress] = []
    func add(_ p: ApplyProgress) { lock.lock(); items.append(p); lock.unlock() }
    var all: [ApplyProgress] { lock.lock(); defer { lock.unlock() }; return items }
}

func diff(_ a: [String: TreeEntry], _ b: [String: TreeEntry]) -> String {
    var out: [String] = []
    for k in Set(a.keys).union(b.keys).sorted() where a[k] != b[k] {
        out.append("\(k): \(a[k]?.description ?? "absent") → \(b[k]?.description ?? "absent")")
    }
    return out.joined(separator: "\n")
}

// MARK: - Hostile plans

@Suite("Apply: hostile plans are refused before anything is written")
struct ApplyHostilePlanTests {
    /// Applies `plan` and expects it refused as a whole, naming `text`, with nothing written:
    /// no target, no journal, silos unchanged, and `outside` (if given) still empty.
    static func expectRefused(_ f: MergeFixture, _ plan: MergePlan, _ text: String, outside: String? = nil,
                              sourceLocation: SourceLocation = #_sourceLocation) throws {
        let silos = f.silosSnapshot
        let target = f.snapshot(f.target.string!)
        do {
            let r = try Applier(plan: plan, journal: f.journal).apply()
            Issue.record("a hostile plan was applied: \(r.done.count) operations done", sourceLocation: sourceLocation)
        } catch let e as ApplyError {
            guard case .invalidPlan(let problems) = e else {
                Issue.record("wrong error: \(e)", sourceLocation: sourceLocation)
                return
            }
            #expect(problems.contains { $0.description.contains(text) }, "\(problems)", sourceLocation: sourceLocation)
            #expect(e.description.contains(text), sourceLocation: sourceLocation)
        }
        #expect(f.snapshot(f.target.string!) == target, sourceLocation: sourceLocation)
        #expect(!exists(f.journal.string!), sourceLocation: sourceLocation)
        #expect(f.silosSnapshot == silos, sourceLocation: sourceLocation)
        if let outside { #expect(TreeEntry.list(Array(outside.utf8)).isEmpty, sourceLocation: sourceLocation) }
    }

    static func fixtureAndPlan(_ label: String = #function, duplicates: DuplicateAction = .remove) throws -> (MergeFixture, MergePlan) {
        let f = try standardFixture(label)
        return (f, try f.plan(f.settings(duplicates: duplicates)))
    }

    @Test("a destination with '..' escaping the target")
    func traversal() throws {
        let (f, plan) = try Self.fixtureAndPlan()
        for evil in ["../escape.jpg", "marketing/../../escape.jpg", "./x.jpg", "a//b.jpg", "a/b/"] {
            var p = plan
            p.operations[0].destination = RelativePath(evil)
            try Self.expectRefused(f, p, "destination:")
        }
        #expect(!exists(f.tree.path + "/escape.jpg"))
    }

    @Test("an absolute destination, or one holding a NUL byte")
    func absoluteDestination() throws {
        let (f, plan) = try Self.fixtureAndPlan()
        var p = plan
        p.operations[0].destination = RelativePath(f.tree.path + "/evil.jpg")
        try Self.expectRefused(f, p, "absolute path")
        p = plan
        p.operations[0].destination = RelativePath(bytes: Array("a".utf8) + [0] + Array("b.jpg".utf8))
        try Self.expectRefused(f, p, "NUL")
        #expect(!exists(f.tree.path + "/evil.jpg"))
    }

    @Test("a symbolic link swapped into the target on the way to a destination")
    func symlinkInTarget() throws {
        let (f, plan) = try Self.fixtureAndPlan()
        try f.tree.mkdir("outside")
        try f.tree.mkdir("target")
        // The layout is {silo}/{path}: every marketing file goes through target/marketing.
        try f.tree.symlink("target/marketing", to: f.tree.path + "/outside")
        try Self.expectRefused(f, plan, "is a symbolic link", outside: f.tree.path + "/outside")
        // Deeper down too.
        try f.tree.remove("target/marketing")
        try f.tree.mkdir("target/marketing")
        try f.tree.symlink("target/marketing/campaigns", to: f.tree.path + "/outside")
        try Self.expectRefused(f, plan, "is a symbolic link", outside: f.tree.path + "/outside")
    }

    @Test("a symlink swapped in after validation makes that operation fail, writing nothing through it")
    func symlinkAfterValidation() throws {
        let f = try standardFixture()
        let plan = try f.plan(f.settings())
        try f.tree.mkdir("outside")
        // Swap the link in when the first operation starts (after validation).
        let swapped = SwapOnce {
            try? FileManager.default.createDirectory(atPath: f.target.string!, withIntermediateDirectories: true)
            try? f.tree.symlink("target/training", to: f.tree.path + "/outside")
        }
        let report = try Applier(plan: plan, journal: f.journal, progress: { _ in swapped.run() }).apply()
        let training = plan.operations.filter { $0.destination!.display.hasPrefix("training/") }
        #expect(!training.isEmpty)
        for op in training {
            #expect(report.refused.contains { $0.op == op.id && $0.detail.contains("symbolic link") })
        }
        #expect(TreeEntry.list(Array((f.tree.path + "/outside").utf8)).isEmpty)
    }

    @Test("two operations writing one destination, also when the names differ only by case or normalisation")
    func twoOperationsOneDestination() throws {
        let (f, plan) = try Self.fixtureAndPlan()
        var p = plan
        p.operations[1].destination = p.operations[0].destination
        try Self.expectRefused(f, p, "writes the same destination")
        p = plan
        p.operations[1].destination = RelativePath(p.operations[0].destination!.display.uppercased())
        try Self.expectRefused(f, p, "writes the same destination")
        p = plan
        p.operations[0].destination = RelativePath("x/caf\u{E9}.jpg")
        p.operations[1].destination = RelativePath("x/cafe\u{301}.jpg")
        try Self.expectRefused(f, p, "writes the same destination")
        // A file where another operation needs a folder.
        p = plan
        p.operations[0].destination = RelativePath("x")
        p.operations[1].destination = RelativePath("x/y.jpg")
        try Self.expectRefused(f, p, "needs a folder of this name")
    }

    @Test("a hash that is not a SHA-256 is refused; a wrong one stops that content, writing nothing of it")
    func tamperedHash() throws {
        let (f, plan) = try Self.fixtureAndPlan()
        var p = plan
        p.operations[0].source!.sha256 = "not-a-hash"
        try Self.expectRefused(f, p, "is not a SHA-256")

        // A valid but wrong hash on a transfer and on its duplicates (edited consistently, so
        // the plan's own checks pass): the content read does not match, nothing is written for
        // it and its duplicates are not removed.
        p = plan
        let victim = p.operations.first { op in op.kind == .copy && p.operations.contains { $0.canonicalOp == op.id } }!
        let wrong = String(repeating: "ab", count: 32)
        for i in p.operations.indices where p.operations[i].id == victim.id || p.operations[i].canonicalOp == victim.id {
            p.operations[i].source!.sha256 = wrong
        }
        // validate(hashSources:) finds it before anything is written.
        #expect(throws: ApplyError.self) { try Applier(plan: p, journal: f.journal).validate(hashSources: true) }
        #expect(!exists(f.target.string!))

        let silos = f.silosSnapshot
        let report = try Applier(plan: p, journal: f.journal).apply()
        let refused = try #require(report.refused.first { $0.op == victim.id })
        #expect(refused.detail.contains("the plan says abababab"))
        #expect(!exists(f.target.bytes + [0x2F] + victim.destination!.bytes))
        for op in p.operations where op.canonicalOp == victim.id {
            #expect(report.refused.contains { $0.op == op.id })
            #expect(f.silosSnapshot[op.source!.silo + "/" + op.source!.path.display] == silos[op.source!.silo + "/" + op.source!.path.display])
        }
        #expect(temporaryFiles(f.target.string!).isEmpty)
    }

    @Test("a source changed since the plan")
    func changedSource() throws {
        let (f, plan) = try Self.fixtureAndPlan()
        let op = plan.operations[0]
        let path = op.source!.siloRoot.string! + "/" + op.source!.path.display
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        handle.seekToEndOfFile()
        handle.write(Data([1, 2, 3]))
        try handle.close()
        try Self.expectRefused(f, plan, "the source changed since the plan was made")
        // Same size, other mtime.
        let (g, plan2) = try Self.fixtureAndPlan("changedSource2")
        let op2 = plan2.operations[0]
        g.tree.setMtime(String((op2.source!.siloRoot.string! + "/" + op2.source!.path.display).dropFirst(g.tree.path.count + 1)), seconds: 1_234_567_890)
        try Self.expectRefused(g, plan2, "mtime")
        // Replaced by another file (another inode).
        let (h, plan3) = try Self.fixtureAndPlan("changedSource3")
        let op3 = plan3.operations[0]
        let p3 = op3.source!.siloRoot.string! + "/" + op3.source!.path.display
        let content = try readFile(Array(p3.utf8))
        try FileManager.default.removeItem(atPath: p3)
        try Data(content).write(to: URL(fileURLWithPath: p3))
        try Self.expectRefused(h, plan3, "inode")
    }

    @Test("sources outside their silo: '..', another root, a symlinked folder in the silo")
    func sourcesOutsideSilos() throws {
        let (f, plan) = try Self.fixtureAndPlan()
        var p = plan
        p.operations[0].source!.path = RelativePath("../hr/staff/offsite/team.jpg")
        try Self.expectRefused(f, p, "source path: '.' or '..' component")
        p = plan
        p.operations[0].source!.siloRoot = FilePath("/etc")
        try Self.expectRefused(f, p, "is not silo")
        p = plan
        p.operations[0].source!.silo = "finance"
        try Self.expectRefused(f, p, "is not listed in the plan")
        // A folder inside a silo replaced by a link to a copy of it elsewhere.
        #expect(plan.operations.contains { $0.source!.silo == "hr" && $0.source!.path.display.hasPrefix("staff/") })
        try FileManager.default.moveItem(atPath: f.silosRoot + "/hr/staff", toPath: f.tree.path + "/elsewhere-staff")
        try FileManager.default.createSymbolicLink(atPath: f.silosRoot + "/hr/staff", withDestinationPath: f.tree.path + "/elsewhere-staff")
        try Self.expectRefused(f, plan, "is a symbolic link")
    }

    @Test("a hand-edited plan that would remove the last copy of a content")
    func lastCopy() throws {
        let (f, plan) = try Self.fixtureAndPlan()
        let victim = plan.operations.first { op in op.kind == .copy && plan.operations.contains { $0.canonicalOp == op.id } }!
        var p = plan
        p.operations.removeAll { $0.id == victim.id }
        try Self.expectRefused(f, p, "is not in the plan")
        // The canonical copy itself turned into a removal.
        p = plan
        p.operations.append(PlanOperation(id: p.operations.last!.id + 1, kind: .removeDuplicate, source: victim.source,
                                          canonicalOp: victim.id, reason: "edited"))
        try Self.expectRefused(f, p, "hard link to the canonical copy's own file")
    }
}

/// Runs a closure once (from the Sendable progress callback).
final class SwapOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    private let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
    func run() {
        lock.lock(); defer { lock.unlock() }
        if !done { done = true; body() }
    }
}

// MARK: - Crashes and full disks

@Suite("Apply: crashes at every step and full disks")
struct ApplyCrashTests {
    struct Reference {
        var target: [String: TreeEntry]
        var quarantine: [String: TreeEntry]
        var silos: [String: TreeEntry]
    }

    static func reference(_ transfer: TransferMethod, _ duplicates: DuplicateAction, sidecars: Bool) throws -> Reference {
        let f = try standardFixture("reference")
        let plan = try f.plan(f.settings(layout: "{year}/{month}/{name}", transfer: transfer, duplicates: duplicates, sidecars: sidecars))
        let r = try Applier(plan: plan, journal: f.journal).apply()
        #expect(r.isComplete)
        return Reference(target: withoutWriteTimes(f.snapshot(f.target.string!)), quarantine: f.snapshot(plan.quarantineRoot.string!),
                         silos: f.silosSnapshot)
    }

    /// Generated files (sidecars, the manifest) are stamped with the time they are written.
    static func withoutWriteTimes(_ listing: [String: TreeEntry]) -> [String: TreeEntry] {
        listing.mapValues { $0 }.reduce(into: [:]) { out, item in
            var e = item.value
            if item.key.hasSuffix(".xmp") || item.key.hasSuffix(".csv") { e.mtimeNs = 0 }
            out[item.key] = e
        }
    }

    static func check(_ f: MergeFixture, _ plan: MergePlan, _ ref: Reference, _ label: String,
                      sourceLocation: SourceLocation = #_sourceLocation) {
        let target = withoutWriteTimes(f.snapshot(f.target.string!))
        #expect(target == ref.target, "\(label): \(diff(ref.target, target))", sourceLocation: sourceLocation)
        let quarantine = f.snapshot(plan.quarantineRoot.string!)
        #expect(quarantine == ref.quarantine, "\(label): \(diff(ref.quarantine, quarantine))", sourceLocation: sourceLocation)
        let silos = f.silosSnapshot
        #expect(silos == ref.silos, "\(label): \(diff(ref.silos, silos))", sourceLocation: sourceLocation)
        #expect(temporaryFiles(f.tree.path).isEmpty && temporaryFiles(f.silosRoot).isEmpty, "\(label): temporary files left",
                sourceLocation: sourceLocation)
    }

    /// The real file layer without fsync, for the runs that follow a simulated crash (hundreds
    /// of them: fsync is what makes them slow, and a crash that is simulated loses nothing).
    static var fast: FaultInjectingFileOps { FaultInjectingFileOps(faults: .init(skipFsync: true)) }

    static let configurations: [(TransferMethod, DuplicateAction)] = [(.copy, .remove), (.move, .quarantine), (.reflink, .hardlink)]

    @Test("a crash at every step, then resume: the intended tree, sources intact, no temporary file; then undo",
          arguments: configurations)
    func crashThenResume(_ transfer: TransferMethod, _ duplicates: DuplicateAction) throws {
        let ref = try Self.reference(transfer, duplicates, sidecars: true)
        var step = 1
        while step < 5_000 {
            let f = try standardFixture("crash\(step)")
            let original = f.silosSnapshot
            let plan = try f.plan(f.settings(layout: "{year}/{month}/{name}", transfer: transfer, duplicates: duplicates, sidecars: true))
            let faults = FaultInjectingFileOps(faults: .init(crashAtStep: step, skipFsync: true))
            var crashed = false
            do { _ = try Applier(plan: plan, journal: f.journal, fileSystem: faults).apply() } catch is SimulatedCrash { crashed = true }
            faults.closeAll()
            if !crashed { break }
            let resumed = try Applier(plan: plan, journal: f.journal, fileSystem: Self.fast).apply()
            #expect(resumed.isComplete, "step \(step): \(resumed.refused) \(resumed.failed) \(String(describing: resumed.stoppedBy))")
            Self.check(f, plan, ref, "step \(step)")
            let undo = try Applier(plan: plan, journal: f.journal, fileSystem: Self.fast).undo()
            #expect(undo.isComplete, "step \(step): \(undo.left) \(undo.failed) \(undo.leftDirectories)")
            #expect(f.silosSnapshot == original, "step \(step): \(diff(original, f.silosSnapshot))")
            #expect(!exists(f.target.string!), "step \(step)")
            step += 1
        }
        #expect(step > 20, "only \(step - 1) steps")
    }

    @Test("a crash at every step, then undo straight away: the original silos, nothing left", arguments: configurations)
    func crashThenUndo(_ transfer: TransferMethod, _ duplicates: DuplicateAction) throws {
        var step = 1
        while step < 5_000 {
            let f = try standardFixture("undo\(step)")
            let original = f.silosSnapshot
            let plan = try f.plan(f.settings(layout: "{year}/{month}/{name}", transfer: transfer, duplicates: duplicates))
            let faults = FaultInjectingFileOps(faults: .init(crashAtStep: step, skipFsync: true))
            var crashed = false
            do { _ = try Applier(plan: plan, journal: f.journal, fileSystem: faults).apply() } catch is SimulatedCrash { crashed = true }
            faults.closeAll()
            if !crashed { break }
            if exists(f.journal.string!) {
                let undo = try Applier(plan: plan, journal: f.journal, fileSystem: Self.fast).undo()

                #expect(undo.isComplete, "step \(step): \(undo.left) \(undo.failed) \(undo.leftDirectories)")
            }
            #expect(f.silosSnapshot == original, "step \(step): \(diff(original, f.silosSnapshot))")
            #expect(!exists(f.target.string!), "step \(step)")
            #expect(!exists(plan.quarantineRoot.string!), "step \(step)")
            #expect(temporaryFiles(f.silosRoot).isEmpty, "step \(step)")
            step += 1
        }
        #expect(step > 20)
    }

    @Test("a crash at every step of undo, then undo again: the original silos")
    func crashDuringUndo() throws {
        var step = 1
        while step < 5_000 {
            let f = try standardFixture("undocrash\(step)")
            let original = f.silosSnapshot
            let plan = try f.plan(f.settings(transfer: .move, duplicates: .hardlink))
            _ = try Applier(plan: plan, journal: f.journal, fileSystem: Self.fast).apply()
            let faults = FaultInjectingFileOps(faults: .init(crashAtStep: step, skipFsync: true))
            var crashed = false
            do { _ = try Applier(plan: plan, journal: f.journal, fileSystem: faults).undo() } catch is SimulatedCrash { crashed = true }
            faults.closeAll()
            if !crashed { break }
            let undo = try Applier(plan: plan, journal: f.journal, fileSystem: Self.fast).undo()
            #expect(undo.isComplete, "step \(step): \(undo.left) \(undo.failed) \(undo.leftDirectories)")
            #expect(f.silosSnapshot == original, "step \(step): \(diff(original, f.silosSnapshot))")
            #expect(!exists(f.target.string!), "step \(step)")
            step += 1
        }
        #expect(step > 20)
    }

    @Test("a full disk at the Nth write stops cleanly with the file and the space needed; nothing partial; resume or undo")
    func diskFull() throws {
        let ref = try Self.reference(.copy, .quarantine, sidecars: false)
        var n = 1
        var sawData = false
        while n < 1_000 {
            let f = try standardFixture("full\(n)")
            let original = f.silosSnapshot
            let plan = try f.plan(f.settings(layout: "{year}/{month}/{name}", duplicates: .quarantine))
            let faults = FaultInjectingFileOps(faults: .init(failWrites: (n, ENOSPC, true), availableBytes: 4096))
            var stop: ApplyError? = nil
            do {
                let r = try Applier(plan: plan, journal: f.journal, fileSystem: faults).apply()
                stop = r.stoppedBy
                if stop == nil { #expect(r.isComplete); break }
                #expect(!r.isComplete)
            } catch let e as ApplyError { stop = e }
            faults.closeAll()
            let error = try #require(stop)
            #expect(error.description.contains("space") || error.description.contains("full"), "\(error)")
            if case .noSpace(let path, _, let fileBytes, _, _, let available) = error {
                sawData = true
                let op = plan.operations.first { $0.destination.map { path.hasSuffix($0.display) } ?? false }
                #expect(op != nil, "\(path) is no destination")
                #expect(fileBytes == op?.size)
                #expect(available == 4096)
                #expect(error.description.contains(path))
            }
            // Nothing partial: no temporary file, every file in the target complete.
            #expect(temporaryFiles(f.tree.path).isEmpty, "write \(n)")
            let target = Self.withoutWriteTimes(f.snapshot(f.target.string!))
            for (key, entry) in target where entry.kind == .regular {
                #expect(ref.target[key] == entry, "write \(n): \(key) partial or wrong")
            }
            if n % 2 == 0 {
                // Space is freed: run again.
                let resumed = try Applier(plan: plan, journal: f.journal).apply()
                #expect(resumed.isComplete, "write \(n)")
                Self.check(f, plan, ref, "write \(n)")
            } else if exists(f.journal.string!) {
                let undo = try Applier(plan: plan, journal: f.journal).undo()
                #expect(undo.isComplete, "write \(n): \(undo.left) \(undo.failed) \(undo.leftDirectories)")
                #expect(f.silosSnapshot == original, "write \(n)")
                #expect(!exists(f.target.string!), "write \(n)")
            }
            n += 1
        }
        #expect(sawData)
        #expect(n > 10)
    }
}

// MARK: - Across file systems

let otherFileSystem: String? = {
    guard case .success(let shm) = Posix.stat(FilePath("/dev/shm")),
          case .success(let tmp) = Posix.stat(FilePath(FileManager.default.temporaryDirectory.path)),
          shm.device != tmp.device, access("/dev/shm", W_OK) == 0 else { return nil }
    return "/dev/shm"
}()

@Suite("Apply: silos on another file system than the target", .enabled(if: otherFileSystem != nil))
struct ApplyCrossDeviceTests {
    @Test("hard links cannot cross file systems: refused before anything is written, unless the copy fallback is on")
    func hardlinkAcross() throws {
        let f = try standardFixture(silosOn: otherFileSystem)
        var settings = f.settings(transfer: .hardlink)
        let plan = try f.plan(settings)
        try ApplyHostilePlanTests.expectRefused(f, plan, "a hard link cannot cross file systems")
        settings.hardlinkFallbackToCopy = true
        let fallback = try f.plan(settings)
        let report = try Applier(plan: fallback, journal: f.journal).apply()
        #expect(report.isComplete)
        #expect(report.done.allSatisfy { $0.detail.contains("another file system") })
        _ = try Applier(plan: fallback, journal: f.journal).undo()
        #expect(!exists(f.target.string!))
    }

    @Test("duplicates cannot become hard links across file systems")
    func linkDuplicatesAcross() throws {
        let f = try standardFixture(silosOn: otherFileSystem)
        let plan = try f.plan(f.settings(duplicates: .hardlink))
        try ApplyHostilePlanTests.expectRefused(f, plan, "cannot be replaced by a hard link")
    }

    @Test("move and quarantine across file systems copy, verify and remove; undo restores exactly",
          arguments: [DuplicateAction.quarantine, .remove, .keep])
    func moveAcross(_ duplicates: DuplicateAction) throws {
        let f = try standardFixture("across\(duplicates)", silosOn: otherFileSystem)
        let before = f.silosSnapshot
        let plan = try f.plan(f.settings(transfer: .move, duplicates: duplicates))
        let report = try Applier(plan: plan, journal: f.journal).apply()
        #expect(report.isComplete, "\(report.refused) \(report.failed)")
        let target = f.snapshot(f.target.string!)
        for op in plan.operations where op.kind == .move {
            #expect(target[op.destination!.display]?.sha256 == op.source!.sha256)
            #expect(target[op.destination!.display]?.mtimeNs == op.source!.mtimeNs)
            #expect(f.silosSnapshot[op.source!.silo + "/" + op.source!.path.display] == nil)
        }
        if duplicates == .quarantine {
            #expect(report.done.contains { $0.detail.contains("copied to quarantine") })
        }
        let undo = try Applier(plan: plan, journal: f.journal).undo()
        #expect(undo.isComplete, "\(undo.left) \(undo.failed)")
        #expect(f.silosSnapshot == before, "\(diff(before, f.silosSnapshot))")
        #expect(!exists(f.target.string!))
    }

    @Test("a crash at every step of a move across file systems, then resume, then undo")
    func crashAcross() throws {
        var step = 1
        var reference: [String: TreeEntry]? = nil
        while step < 5_000 {
            let f = try standardFixture("acrosscrash\(step)", silosOn: otherFileSystem)
            let original = f.silosSnapshot
            let plan = try f.plan(f.settings(transfer: .move, duplicates: .quarantine))
            if reference == nil {
                let g = try standardFixture("acrossref", silosOn: otherFileSystem)
                _ = try Applier(plan: try g.plan(g.settings(transfer: .move, duplicates: .quarantine)), journal: g.journal).apply()
                reference = g.snapshot(g.target.string!)
            }
            let faults = FaultInjectingFileOps(faults: .init(crashAtStep: step, skipFsync: true))
            var crashed = false
            do { _ = try Applier(plan: plan, journal: f.journal, fileSystem: faults).apply() } catch is SimulatedCrash { crashed = true }
            faults.closeAll()
            if !crashed { break }
            let resumed = try Applier(plan: plan, journal: f.journal).apply()
            #expect(resumed.isComplete, "step \(step): \(resumed.refused) \(resumed.failed)")
            #expect(f.snapshot(f.target.string!) == reference!, "step \(step)")
            #expect(temporaryFiles(f.tree.path).isEmpty && temporaryFiles(f.silosRoot).isEmpty, "step \(step)")
            let undo = try Applier(plan: plan, journal: f.journal).undo()
            #expect(undo.isComplete, "step \(step): \(undo.left) \(undo.failed)")
            #expect(f.silosSnapshot == original, "step \(step): \(diff(original, f.silosSnapshot))")
            step += 1
        }
        #expect(step > 20)
    }
}
