#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Carries out a merge plan safely, and undoes it.
///
/// - `validate()` checks the whole plan, and the disk under it, before anything is written.
/// - `apply()` runs the operations in order. Every file is written to a hidden temporary name
///   beside its destination, hashed as it is read from the source, fsynced, read back and
///   verified, then renamed into place without ever replacing a file; the folder is fsynced.
///   Duplicates are touched only after their canonical copy is verified in the target.
/// - An append-only journal (one fsynced JSON line per event) lets a run killed at any point
///   be resumed by applying again, and `undo()` reverse what was done.
///
/// Not thread-safe: one applier runs one plan at a time. It never prints; progress goes to the
/// callback, results to the report.
public final class Applier {
    public let plan: MergePlan
    public let journalPath: FilePath
    /// What this host does of the plan, and its roots as this host reaches them (see
    /// `PlanScope`): the operations of other hosts are neither checked nor done here.
    public let scope: PlanScope
    /// The plan's operations this host does, in order.
    let myOperations: [PlanOperation]
    let fs: any FileOps
    let progressHandler: ApplyProgressHandler?
    let planDigest: String

    var state = JournalState()
    var journal: JournalWriter?
    var targetFD: Int32 = -1
    var quarantineFD: Int32 = -1
    var siloFDs: [FilePath: Int32] = [:]
    /// Folders above the silo roots an in-place run holds a shared lock on (`lockSilosInPlace`).
    var siloLockFDs: [Int32] = []
    let buffer: UnsafeMutableRawBufferPointer
    let hasher: SHA256Hasher
    var progress = ApplyProgress(operationsDone: 0, operationsTotal: 0, bytesDone: 0, bytesTotal: 0)
    var bytesWritten: Int64 = 0
    /// A stop asked for by SIGINT/SIGTERM (set by the command line): apply and undo finish the
    /// operation under way, then stop with `stoppedBy = .interrupted`; a later run resumes.
    public var interruption: Interruption?
    /// Undo: the operations whose source was (before apply) each file, to restore the names
    /// of one file as links to each other. Built once per undo.
    var operationsByOriginalFile: [FileID: [Int]] = [:]

    public static let temporaryPrefix = ".silomerge-tmp-"
    static let bufferSize = 1 << 20

    public init(plan: MergePlan, journal: FilePath, fileSystem: any FileOps = RealFileOps(),
                progress: ApplyProgressHandler? = nil, scope: PlanScope? = nil) throws(ApplyError) {
        self.plan = plan
        let scope = scope ?? PlanScope.whole(plan)
        self.scope = scope
        myOperations = plan.operations.filter { scope.operations.contains($0.id) }
        self.journalPath = journal
        self.fs = fileSystem
        self.progressHandler = progress
        do { planDigest = try PlanFile.digest(plan) } catch {
            throw .journal(path: journal.display, reason: "cannot compute the plan's digest: \(error)")
        }
        do { hasher = try SHA256Hasher() } catch {
            throw .journal(path: journal.display, reason: "\(error)")
        }
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bufferSize, alignment: 4096)
    }

    public convenience init(plan: MergePlan, journalURL: URL, fileSystem: any FileOps = RealFileOps(),
                            progress: ApplyProgressHandler? = nil) throws(ApplyError) {
        try self.init(plan: plan, journal: FilePath(journalURL.path), fileSystem: fileSystem, progress: progress)
    }

    deinit {
        closeAll()
        buffer.deallocate()
    }

    // MARK: - The plan's lock

    /// The plan's lock, while this applier holds it.
    var heldLock: PlanLock?

    /// Takes the plan's lock (see `PlanLock`) until `releaseLock()` or the end of this applier:
    /// exclusive for what writes (apply, undo), `shared` for what only reads (a dry run,
    /// `validate`). `apply`, `undo` and `validate` take it themselves for their own duration
    /// when it is not held.
    public func lock(purpose: String, shared: Bool = false) throws(ApplyError) {
        guard heldLock == nil else { return }
        heldLock = try PlanLock(journal: journalPath, purpose: purpose, shared: shared)
    }

    public func releaseLock() { heldLock = nil }

    /// Runs `body` holding the plan's lock: the one already held, or one taken for this call.
    func withPlanLock<R>(shared: Bool, purpose: String, _ body: () throws -> R) throws -> R {
        if heldLock != nil { return try body() }
        try lock(purpose: purpose, shared: shared)
        defer { releaseLock() }
        return try body()
    }

    func closeAll() {
        if targetFD >= 0 { fs.close(targetFD); targetFD = -1 }
        if quarantineFD >= 0 { fs.close(quarantineFD); quarantineFD = -1 }
        // The silo roots and the folders above them may hold an in-place run's flock: unlocked
        // before they are closed. A close lets go only of the last descriptor of an open file
        // description, and a process spawned at that moment by another thread of this process
        // (a host embedding SiloMerge, the test runner) shares it until it executes its
        // program; the next apply would take the lock as held by another silomerge.
        for fd in siloFDs.values { _ = flock(fd, LOCK_UN); fs.close(fd) }
        siloFDs = [:]
        for fd in siloLockFDs { _ = flock(fd, LOCK_UN); fs.close(fd) }
        siloLockFDs = []
        journal = nil
    }

    // MARK: - Validation

    /// Checks the plan and the disk under it; throws `ApplyError.invalidPlan` listing every
    /// problem. Operations the journal records as done are not checked against their sources
    /// (a moved or removed source is gone by design). With `hashSources`, every source still to
    /// be read is hashed too (slow: it reads everything once more).
    public func validate(hashSources: Bool = false) throws {
        try withPlanLock(shared: true, purpose: "validate") { try validateLocked(hashSources: hashSources) }
    }

    func validateLocked(hashSources: Bool) throws {
        state = try loadJournal()
        defer { closeAll() }
        let problems = PlanValidator.problems(in: plan) + (try fileSystemProblems(hashSources: hashSources))
        if !problems.isEmpty { throw ApplyError.invalidPlan(problems) }
    }

    func loadJournal() throws -> JournalState {
        let s = try JournalWriter.read(fs: fs, path: journalPath)
        if let digest = s.planDigest, digest != planDigest {
            throw ApplyError.journalMismatch(path: journalPath.display, journalPlan: digest, thisPlan: planDigest)
        }
        return s
    }

    // MARK: - Apply

    /// Runs the plan (or, with `dryRun`, validates it and reports what would be done, writing
    /// nothing, not even the journal). Resumes from the journal: operations it records as done
    /// are skipped, temporary files of unfinished ones are removed and those are done again.
    ///
    /// Throws `ApplyError` when the plan is refused or the journal cannot be used; a run that
    /// stops midway (a full disk) returns its report with `stoppedBy` set.
    public func apply(dryRun: Bool = false) throws -> ApplyReport {
        try withPlanLock(shared: dryRun, purpose: dryRun ? "apply --dry-run" : "apply") { try applyLocked(dryRun: dryRun) }
    }

    func applyLocked(dryRun: Bool) throws -> ApplyReport {
        var report = ApplyReport(dryRun: dryRun)
        report.operationsTotal = myOperations.count
        report.onOtherHosts = scope.elsewhere(in: plan).map { OtherHostShare(host: $0.host, operations: $0.operations) }
        bytesWritten = 0
        state = try loadJournal()
        defer { closeAll() }
        let problems = PlanValidator.problems(in: plan) + (try fileSystemProblems(hashSources: false))
        if !problems.isEmpty { throw ApplyError.invalidPlan(problems) }

        progress = ApplyProgress(operationsDone: 0, operationsTotal: myOperations.count, bytesDone: 0,
                                 bytesTotal: myOperations.reduce(0) { $0 + $1.size })
        if dryRun { return dryRunReport(report) }
        if plan.inPlace != nil { try lockSilosInPlace(myOperations.filter { state.ops[$0.id]?.done == nil }) }

        journal = try JournalWriter(fs: fs, path: journalPath, endsWithNewline: state.endsWithNewline)
        // The journal exists now: lock its inode before writing to it, so a hard link made to it
        // from now on cannot start a second run (see `PlanLock`).
        try heldLock?.lockJournal(journalPath)
        if state.planDigest == nil {
            var header = JournalRecord(event: "plan")
            header.plan = planDigest
            header.schema = JournalState.schema
            header.detail = "\(Format.plural(myOperations.count, "operation"))\(scope.host.map { " on host \($0)" } ?? "") into \(scope.targetRoot.display)"
            try record(header)
        }
        let hasTarget = plan.inPlace == nil ? try targetRootFD(create: true) != nil : true
        guard hasTarget else {
            throw ApplyError.io(path: scope.targetRoot.display, operation: "make the target", errno: Errno(ENOENT))
        }

        for (index, op) in myOperations.enumerated() {
            if let signal = interruption?.signal {
                report.stoppedBy = .interrupted(signal: signal)
                break
            }
            progress.currentOperation = op.id
            progress.currentPath = (op.destination ?? op.source?.path)?.display
            notify(progress)
            defer {
                progress.operationsDone = index + 1
                notify(progress)
            }
            if state.ops[op.id]?.done != nil {
                report.skipped.append(outcome(op, "done by an earlier run"))
                progress.bytesDone += op.size
                continue
            }
            if let c = op.canonicalOp, op.kind.followsCanonical, state.ops[c]?.done == nil {
                let e = ApplyError.canonicalNotReady(op: op.id, canonical: c, detail: "it was not done")
                report.refused.append(outcome(op, e.description, e))
                progress.bytesDone += op.size
                continue
            }
            let bytesBefore = progress.bytesDone
            do {
                if state.ops[op.id]?.touched == true { try cleanTemporaryFiles(op) }
                try record(JournalRecord(event: "begin", op: op.id))
                let result = try perform(op)
                var done = JournalRecord(event: "done", op: op.id)
                done.stat = result.stat
                done.created = result.created
                done.viaCopy = result.viaCopy ? true : nil
                done.detail = result.detail
                try record(done)
                if result.alreadyPresent {
                    report.skipped.append(outcome(op, result.detail))
                } else {
                    report.done.append(outcome(op, result.detail))
                }
            } catch let e as ApplyError {
                // Whatever the operation had half made goes (a temporary file).
                try bestEffort { try cleanTemporaryFiles(op) }
                var failed = JournalRecord(event: Self.isRefusal(e) ? "refused" : "failed", op: op.id)
                failed.detail = e.description
                try bestEffort { try record(failed) }
                if e.stopsRun {
                    report.stoppedBy = e
                    report.failed.append(outcome(op, e.description, e))
                    break
                }
                if Self.isRefusal(e) {
                    report.refused.append(outcome(op, e.description, e))
                } else {
                    report.failed.append(outcome(op, e.description, e))
                }
            }
            progress.bytesDone = bytesBefore + op.size
        }
        report.bytesWritten = bytesWritten
        return report
    }

    static func isRefusal(_ e: ApplyError) -> Bool {
        switch e {
        case .sourceChanged, .destinationExists, .unsafePath, .crossDevice, .canonicalNotReady, .rootChanged: true
        default: false
        }
    }

    func outcome(_ op: PlanOperation, _ detail: String, _ error: ApplyError? = nil) -> OperationOutcome {
        OperationOutcome(op: op.id, kind: op.kind, summary: op.display, detail: detail, error: error)
    }

    func notify(_ p: ApplyProgress) { progressHandler?(p) }

    /// Runs `body`, ignoring the file-system and journal errors it throws (not a simulated crash).
    func bestEffort(_ body: () throws -> Void) throws {
        do { try body() } catch is ApplyError {} catch is Errno {}
    }

    func record(_ r: JournalRecord) throws {
        guard let journal else { return }
        try journal.append(r)
        state.apply(r)
    }

    func dryRunReport(_ base: ApplyReport) -> ApplyReport {
        var report = base
        for op in myOperations {
            if state.ops[op.id]?.done != nil {
                report.skipped.append(outcome(op, "done by an earlier run"))
            } else {
                let verb: String
                switch op.kind {
                case .copy: verb = "would copy"
                case .hardlink: verb = op.fallbackToCopy ? "would hard-link (or copy across file systems)" : "would hard-link"
                case .reflink: verb = "would clone (or copy where cloning is not supported)"
                case .move: verb = "would copy, verify, then remove the source"
                case .sidecarCopy: verb = "would copy the original sidecar beside its file"
                case .sidecarHardlink: verb = op.fallbackToCopy ? "would hard-link (or copy) the original sidecar beside its file" : "would hard-link the original sidecar beside its file"
                case .sidecarReflink: verb = "would clone (or copy) the original sidecar beside its file"
                case .sidecarMove: verb = "would move the original sidecar beside its file (copy, verify, remove)"
                case .xmpSidecar: verb = "would write the XMP sidecar"
                case .importManifest: verb = "would write the import manifest"
                case .linkDuplicate: verb = "would replace the duplicate by a hard link to the canonical copy"
                case .removeDuplicate: verb = "would remove the duplicate"
                case .quarantineDuplicate: verb = "would move the duplicate to quarantine"
                case .reflinkDuplicate: verb = "would share the canonical copy's blocks (FIDEDUPERANGE)"
                }
                report.done.append(outcome(op, verb))
            }
        }
        return report
    }

    // MARK: - Errors

    /// Turns an errno thrown by `body` into `ApplyError.io` (or `.noSpace`); other errors pass.
    func sys<R>(_ path: @autoclosure () -> String, _ operation: String, fileBytes: Int64 = 0,
                _ body: () throws -> R) throws -> R {
        do { return try body() } catch let e as Errno {
            if e.code == ENOSPC || e.code == EDQUOT { throw noSpace(path(), e, fileBytes: fileBytes) }
            throw ApplyError.io(path: path(), operation: operation, errno: e)
        }
    }

    func noSpace(_ path: String, _ e: Errno, fileBytes: Int64) -> ApplyError {
        let remainingOps = myOperations.filter { state.ops[$0.id]?.done == nil }
        let remaining = remainingOps.filter { ($0.kind.carriesFile && $0.kind.method != .hardlink) || $0.kind.isGenerated || $0.kind == .quarantineDuplicate }
            .reduce(Int64(0)) { $0 + $1.size }
        return .noSpace(path: path, errno: e, fileBytes: fileBytes, remainingBytes: remaining,
                        remainingOperations: remainingOps.count,
                        available: targetFD >= 0 ? fs.availableBytes(targetFD) : nil)
    }

    /// nil when the file does not exist.
    func lstatIfPresent(_ dir: Int32, _ name: [UInt8], _ display: @autoclosure () -> String) throws -> FileStat? {
        do { return try fs.lstat(dir, name) } catch let e as Errno {
            if e.code == ENOENT { return nil }
            throw ApplyError.io(path: display(), operation: "stat", errno: e)
        }
    }
}
