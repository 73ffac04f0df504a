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
        report.problems.sort { ($0.kind.rawValue, $0.path) < ($1.kind.rawValue, $1.path) }
        return report
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
            throw ApplyError.io(path: targetRoot.display, operation: "open the target", errno: Errno(ENOENT))
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
