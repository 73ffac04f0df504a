import Foundation
import Testing
@testable import SiloMergeCore
#if canImport(Glibc)
import Glibc
#endif

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

    deinit { if ownsSilosRoot { try? FileManager.default.removeItem(atPath: silosRoot) } }

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
        return PlanInput(assets: assets, silos: silos, catalogueIdentity: "test-catalogue", scanRunID: 7, createdAt: createdAt)
    }

    func settings(layout: String = "{silo}/{path}", transfer: TransferMethod = .copy, duplicates: DuplicateAction = .keep,
                  sidecars: Bool = false, manifest: Bool = false) -> PlanSettings {
        PlanSettings(targetRoot: target, layout: layout, duplicates: duplicates, transfer: transfer,
                     writeSidecars: sidecars, writeManifest: manifest)
    }

    func plan(_ settings: PlanSettings) throws -> MergePlan { try Planner(settings: settings).plan(try input()) }

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
        #expect(throws: ApplyError.self) { try Applier(plan: other, journal: f.journal).apply() }
        do { _ = try Applier(plan: other, journal: f.journal).apply() } catch let e as ApplyError {
            guard case .journalMismatch = e else { Issue.record("wrong error \(e)"); return }
        }
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
