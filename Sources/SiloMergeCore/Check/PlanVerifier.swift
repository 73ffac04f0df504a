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
    public var expectedFiles = 0
    public var verifiedFiles = 0
    public var bytesRead: Int64 = 0
    public var problems: [Problem] = []
    public var isComplete: Bool { !problems.contains { $0.kind == .missing || $0.kind == .unreadable } }
    public var isValid: Bool { !problems.contains { $0.kind == .mismatch } }
    public var hasUnexpected: Bool { problems.contains { $0.kind == .unexpected } }
}

/// Checks a target tree against the plan that built it: every destination exists (not as a
/// symlink) with its expected SHA-256, and nothing else is there (the quarantine folder, the
/// journal and SiloMerge's own temporary names aside).
public enum PlanVerifier {
    public static func verify(_ plan: MergePlan, progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> VerifyReport {
        var report = VerifyReport()
        var expected: [RelativePath: String] = [:]
        for op in plan.operations where op.kind.writesTarget {
            guard let dest = op.destination else { continue }
            if let sha = op.kind.isGenerated ? op.contentSHA256 : op.source?.sha256 { expected[dest] = sha }
        }
        report.expectedFiles = expected.count
        guard case .success(let rootFD) = Posix.openPath(plan.targetRoot, flags: O_RDONLY | O_DIRECTORY) else {
            throw ApplyError.io(path: plan.targetRoot.display, operation: "open the target", errno: Errno(errno))
        }
        defer { close(rootFD) }
        let hasher = try FileHasher()
        var done = 0
        for (path, sha) in expected.sorted(by: { $0.key < $1.key }) {
            done += 1
            progress?(done, expected.count)
            switch hasher.hashFull(rootFD: rootFD, path: path, followSymlinks: false) {
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
        // Everything else in the tree.
        let quarantine = plan.quarantineRoot
        var stack: [RelativePath] = [.root]
        while let dir = stack.popLast() {
            let url = URL(fileURLWithPath: plan.targetRoot.appending(dir).string ?? plan.targetRoot.appending(dir).display)
            if plan.targetRoot.appending(dir) == quarantine { continue }
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: url.path) else { continue }
            for name in names.sorted() {
                let child = dir.appending(Array(name.utf8))
                if child.isRoot { continue }
                if name.hasPrefix(".silomerge-") { continue }   // temporary names, the quarantine folder
                var isDir: ObjCBool = false
                let full = plan.targetRoot.appending(child)
                if full == quarantine { continue }
                if let s = full.string, FileManager.default.fileExists(atPath: s, isDirectory: &isDir), isDir.boolValue,
                   (try? FileManager.default.destinationOfSymbolicLink(atPath: s)) == nil {
                    stack.append(child)
                } else if expected[child] == nil {
                    report.problems.append(.init(kind: .unexpected, path: child))
                }
            }
        }
        report.problems.sort { ($0.kind.rawValue, $0.path) < ($1.kind.rawValue, $1.path) }
        return report
    }
}
