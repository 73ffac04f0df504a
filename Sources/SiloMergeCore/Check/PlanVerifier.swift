import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `silomerge verify` found in a merged tree: BagIt's "complete" (every expected file is
/// there) and "valid" (each holds its expected content), plus what the tree holds that the plan
/// never put there.
public struct VerifyReport: Sendable {
    public struct Problem: Sendable, Hashable {
        public enum Kind: String, Sendable { case missing, mismatch, unreadable, unexpected }
        public var kind: Kind
        public var path: RelativePath
        public var expected: String?
        public var found: String?
        public var detail: String?
    }
    /// What the journal says of an in-place plan's operations (nil for a merge plan, whose
    /// operations show as files in the target).
    public struct Operations: Sendable, Hashable {
        public struct Stopped: Sendable, Hashable {
            public var op: Int
            /// `silo:path` of the duplicate.
            public var path: String
            /// `refused` (the disk was not as planned) or `failed` (an error).
            public var event: String
            public var reason: String
        }
        public var total = 0
        public var applied = 0
        /// Never run, or interrupted: `apply` again does them.
        public var pending = 0
        /// Reversed by `undo`.
        public var undone = 0
        /// Refused or failed, with the journal's reason, in plan order.
        public var stopped: [Stopped] = []
        public var isComplete: Bool { applied == total }
    }
    public var expectedFiles = 0
    public var verifiedFiles = 0
    public var bytesRead: Int64 = 0
    public var problems: [Problem] = []
    /// Derivatives a keep-master plan moved to quarantine (done by the journal), and those
    /// found there with their content: the only copy of theirs the plan leaves.
    public var quarantinedDerivatives = 0
    public var verifiedDerivatives = 0
    public var operations: Operations?
    /// Every file there, and (in place) every operation applied.
    public var isComplete: Bool {
        !problems.contains { $0.kind == .missing || $0.kind == .unreadable } && operations?.isComplete != false
    }
    public var isValid: Bool { !problems.contains { $0.kind == .mismatch } }
    public var hasUnexpected: Bool { problems.contains { $0.kind == .unexpected } }
}

/// Checks a target tree against the plan that built it: every destination exists (not as a
/// symlink) with its expected SHA-256, and nothing else is there (the quarantine folder, the
/// journal and SiloMerge's own temporary names aside).
///
/// The target is opened the way apply opens it: its anchor from `/` without following links,
/// checked against the device and inode the plan recorded (and the identity the journal
/// recorded, when there is one), then the levels below. The tree is walked with descriptors
/// relative to each folder, never full paths, so a tree deeper than PATH_MAX verifies like any
/// other; at most two folders are open at once (the walk climbs back with `..`, checking each
/// folder is still the one it left).
public enum PlanVerifier {
    ///
    /// `scope`: what one host of a plan across hosts checks (see `PlanScope`): the files its own
    /// operations put in its target; files other hosts' operations place there (a shared
    /// target) are theirs to verify, and not unexpected here.
    public static func verify(_ plan: MergePlan, journal: FilePath? = nil, scope: PlanScope? = nil,
                              progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> VerifyReport {
        var report = VerifyReport()
        let scope = scope ?? PlanScope.whole(plan)
        let expected = plan.targetFiles(of: scope.operations).mapValues(\.sha256)
        let otherHosts = Set(plan.targetFiles.keys).subtracting(expected.keys)
        report.expectedFiles = expected.count
        let targetRoot = scope.targetRoot
        let rootFD = try openTarget(plan, scope: scope, journal: journal)
        var fd = rootFD
        defer { close(fd) }

        // The quarantine folder, when it lies in the target, is not part of the tree.
        var quarantine: RelativePath? = nil
        if targetRoot.contains(scope.quarantineRoot), scope.quarantineRoot != targetRoot {
            quarantine = RelativePath(bytes: Array(scope.quarantineRoot.bytes.dropFirst(targetRoot.bytes.count).drop(while: { $0 == 0x2F })))
        }
        let hasher = try FileHasher()
        let fs: any FileOps = RealFileOps()
        var seen: Set<RelativePath> = []
        var done = 0

        func listing(_ dir: Int32, _ path: RelativePath) throws -> Frame {
            try Frame(dir, path, fs: fs, display: targetRoot.appending(path).display)
        }

        var stack = [try listing(fd, .root)]
        while !stack.isEmpty {
            let top = stack.count - 1
            guard stack[top].next < stack[top].names.count else {
                stack.removeLast()
                guard let parent = stack.last else { break }
                // Back up one level, and make sure it is the folder we came down from.
                let up: Int32
                do { up = try fs.open(fd, [0x2E, 0x2E], flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW, mode: 0) } catch let e as Errno {
                    throw ApplyError.io(path: targetRoot.appending(parent.path).display, operation: "open", errno: e)
                }
                close(fd)
                fd = up
                guard (try? fs.fstat(fd).fileID) == parent.id else {
                    throw ApplyError.rootChanged(path: targetRoot.appending(parent.path).display,
                                                 detail: "was moved while it was verified; run verify again")
                }
                continue
            }
            let name = stack[top].names[stack[top].next]
            stack[top].next += 1
            let path = stack[top].path.appending(name)
            if name.starts(with: Array(".silomerge-".utf8)) { continue }   // temporary names, the quarantine folder
            if let quarantine, path == quarantine { continue }
            guard let st = try? fs.lstat(fd, name) else {
                if expected[path] != nil { seen.insert(path); report.problems.append(.init(kind: .missing, path: path, expected: expected[path])) }
                continue
            }
            if st.kind == .directory {
                let child: Int32
                do { child = try fs.open(fd, name, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW, mode: 0) } catch {
                    report.problems.append(.init(kind: .unreadable, path: path, detail: "folder cannot be opened: \(error)"))
                    continue
                }
                let frame: Frame
                do { frame = try listing(child, path) } catch {
                    close(child)
                    report.problems.append(.init(kind: .unreadable, path: path, detail: "\(error)"))
                    continue
                }
                close(fd)
                fd = child
                stack.append(frame)
                continue
            }
            guard let sha = expected[path] else {
                if otherHosts.contains(path) { continue }
                report.problems.append(.init(kind: .unexpected, path: path))
                continue
            }
            seen.insert(path)
            done += 1
            progress?(done, expected.count)
            switch hasher.hashFull(rootFD: fd, path: RelativePath(bytes: name), followSymlinks: false) {
            case .success(let (digest, stat)):
                report.bytesRead += stat.size
                if digest.hex == sha { report.verifiedFiles += 1 }
                else { report.problems.append(.init(kind: .mismatch, path: path, expected: sha, found: digest.hex)) }
            case .failure(.vanished):
                report.problems.append(.init(kind: .missing, path: path, expected: sha))
            case .failure(.notRegular(let kind)):
                report.problems.append(.init(kind: .unreadable, path: path, expected: sha, detail: "is a \(kind.label)"))
            case .failure(.unreadable(let e, _)):
                report.problems.append(.init(kind: .unreadable, path: path, expected: sha, detail: "\(e)"))
            case .failure(.changedWhileReading):
                report.problems.append(.init(kind: .unreadable, path: path, expected: sha, detail: "changed while it was read"))
            }
        }
        for (path, sha) in expected where !seen.contains(path) {
            report.problems.append(.init(kind: .missing, path: path, expected: sha))
        }
        try verifyQuarantinedDerivatives(plan, scope: scope, journal: journal, hasher: hasher, fs: fs, into: &report)
        report.problems.sort { ($0.kind.rawValue, $0.path) < ($1.kind.rawValue, $1.path) }
        return report
    }

    /// `--derivatives keep-master`: a derivative moved to quarantine holds the only copy of its
    /// content the plan leaves, so each one the journal says is done must be in the quarantine
    /// folder with its content. The folder is opened as apply opens it (pinned, then level by
    /// level without following links), and so is each folder below it.
    static func verifyQuarantinedDerivatives(_ plan: MergePlan, scope: PlanScope, journal: FilePath?, hasher: FileHasher,
                                             fs: any FileOps, into report: inout VerifyReport) throws {
        let mine = plan.operations.filter { $0.derivativeOf != nil && scope.operations.contains($0.id) && $0.destination != nil }
        guard let journal, !mine.isEmpty, let j = try MergeJournal.read(journal) else { return }
        let moved = mine.filter { j.ops[$0.id]?.state == .done }
        guard !moved.isEmpty else { return }
        report.quarantinedDerivatives = moved.count
        let root = scope.quarantineRoot
        func problem(_ kind: VerifyReport.Problem.Kind, _ op: PlanOperation, found: String? = nil, _ detail: String) {
            report.problems.append(.init(kind: kind, path: op.destination!, expected: op.source?.sha256, found: found,
                                         detail: "derivative quarantined by operation \(op.id) (\(op.source?.display ?? "?")), in the quarantine folder \(root.display): \(detail)"))
        }
        var rootFD: Int32 = -1
        do {
            if let anchor = scope.quarantineAnchor, let levels = anchor.levels(to: root) {
                let anchorFD = try PlanRoots.openPinned(anchor, what: "the quarantine folder")
                defer { close(anchorFD) }
                rootFD = try PlanRoots.openLevels(anchorFD, levels, base: anchor.path) ?? -1
            }
        } catch {
            for op in moved { problem(.unreadable, op, "\(error)") }
            return
        }
        guard rootFD >= 0 else {
            for op in moved { problem(.missing, op, "the quarantine folder is gone") }
            return
        }
        defer { close(rootFD) }
        for op in moved {
            let dest = op.destination!
            let parts = dest.components.map { Array($0) }
            var dir = rootFD
            var opened: [Int32] = []
            defer { for fd in opened { close(fd) } }
            var reachable = true
            for part in parts.dropLast() {
                guard let next = try? fs.open(dir, part, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW, mode: 0) else { reachable = false; break }
                opened.append(next)
                dir = next
            }
            guard reachable, let name = parts.last else { problem(.missing, op, "its folder is gone (or is not a folder)"); continue }
            switch hasher.hashFull(rootFD: dir, path: RelativePath(bytes: name), followSymlinks: false) {
            case .success(let (digest, stat)):
                report.bytesRead += stat.size
                if digest.hex == op.source?.sha256.lowercased() { report.verifiedDerivatives += 1 }
                else { problem(.mismatch, op, found: digest.hex, "its content changed in quarantine") }
            case .failure(.vanished):
                problem(.missing, op, "it is gone")
            case .failure(.notRegular(let kind)):
                problem(.unreadable, op, "is a \(kind.label)")
            case .failure(.unreadable(let e, _)):
                problem(.unreadable, op, "\(e)")
            case .failure(.changedWhileReading):
                problem(.unreadable, op, "changed while it was read")
            }
        }
    }

    /// A folder of the walk: its sorted names, the next to look at, its identity.
    struct Frame {
        var names: [[UInt8]]
        var next = 0
        var path: RelativePath
        var id: FileID

        init(_ dir: Int32, _ path: RelativePath, fs: any FileOps, display: String) throws {
            do {
                names = try fs.list(dir).sorted { $0.lexicographicallyPrecedes($1) }
                id = try fs.fstat(dir).fileID
            } catch let e as Errno {
                throw ApplyError.io(path: display, operation: "list", errno: e)
            }
            self.path = path
        }
    }

    /// The target, opened as apply opens it (see the type's documentation).
    static func openTarget(_ plan: MergePlan, scope: PlanScope, journal: FilePath?) throws -> Int32 {
        let targetRoot = scope.targetRoot
        guard let anchor = scope.targetAnchor, let levels = anchor.levels(to: targetRoot) else {
            throw ApplyError.invalidPlan([PlanProblem(path: targetRoot.display, reason: "the plan records no identity for the target (made by an older SiloMerge, or edited): run silomerge plan again")])
        }
        let anchorFD = try PlanRoots.openPinned(anchor, what: "the target")
        defer { close(anchorFD) }
        guard let fd = try PlanRoots.openLevels(anchorFD, levels, base: anchor.path) else {
            // No target and no journal: the plan was never applied here, which is worth saying.
            var st = stat()
            let applied = journal.map { j in j.withCString { lstat($0, &st) } == 0 } ?? false
            let operation = applied ? "open the target"
                : "open the target (the plan has not been applied here: no journal\(journal.map { " at \($0.display)" } ?? ""); run silomerge apply first)"
            throw ApplyError.io(path: targetRoot.display, operation: operation, errno: Errno(ENOENT))
        }
        if let journal, let seen = try JournalWriter.read(fs: RealFileOps(), path: journal).roots[Applier.PlanRoot.target.rawValue] {
            let id = (try? RealFileOps().fstat(fd).fileID)
            guard id == seen else {
                close(fd)
                throw ApplyError.rootChanged(path: targetRoot.display, detail: "is not the folder apply built (its journal recorded device \(seen.device) inode \(seen.inode)): it was replaced since")
            }
        }
        return fd
    }
}

extension MergePlan {
    /// What the merged tree holds by the plan: every destination an operation writes (a content,
    /// an original sidecar, a generated file) with its SHA-256 (lowercase hex) and size. `verify`
    /// checks a tree against it; the bag of a merged tree is made from it.
    public var targetFiles: [RelativePath: (sha256: String, size: Int64)] { targetFiles(of: nil) }

    /// `targetFiles` of these operations only (nil: all).
    public func targetFiles(of ids: Set<Int>?) -> [RelativePath: (sha256: String, size: Int64)] {
        var out: [RelativePath: (sha256: String, size: Int64)] = [:]
        for op in operations where op.kind.writesTarget && (ids?.contains(op.id) ?? true) {
            guard let dest = op.destination, let sha = op.kind.isGenerated ? op.contentSHA256 : op.source?.sha256 else { continue }
            out[dest] = (sha.lowercased(), op.size)
        }
        return out
    }
}
