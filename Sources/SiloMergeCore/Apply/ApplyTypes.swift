import Foundation

/// Errors of the apply (and undo) stage. Each names the path, and the errno or the reason.
public enum ApplyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The plan (or the file system under it) fails validation: nothing was written.
    case invalidPlan([PlanProblem])
    /// The journal cannot be read or written.
    case journal(path: String, reason: String)
    /// The journal belongs to another plan.
    case journalMismatch(path: String, journalPlan: String, thisPlan: String)
    /// No journal to undo from.
    case noJournal(path: String)
    /// The disk (or quota) is full.
    case noSpace(path: String, errno: Errno, fileBytes: Int64, remainingBytes: Int64, remainingOperations: Int, available: Int64?)
    /// A file-system call failed.
    case io(path: String, operation: String, errno: Errno)
    /// The source is not what the plan says any more (size, mtime, inode or content).
    case sourceChanged(path: String, detail: String)
    /// The destination exists with other content: nothing is ever overwritten.
    case destinationExists(path: String, detail: String)
    /// A symbolic link or something else than a folder where the plan needs a folder.
    case unsafePath(path: String, detail: String)
    /// A hard link (or a rename) cannot cross file systems.
    case crossDevice(path: String, detail: String)
    /// What was written does not read back with the planned SHA-256.
    case verifyFailed(path: String, expected: String, found: String)
    /// The canonical copy of a duplicate is not (or no longer) verified in the target.
    case canonicalNotReady(op: Int, canonical: Int, detail: String)
    /// Undo: a file changed after apply wrote it (or what it needs to restore a file is gone):
    /// it is left as it is.
    case changedSinceApply(path: String, detail: String)
    /// A root of the plan (the target, the quarantine folder, a silo root, or the folder one of
    /// them was pinned to) is not the folder the plan (or its journal) recorded: replaced, or gone.
    case rootChanged(path: String, detail: String)
    /// Another process is using the plan's journal (or the catalogue): what its lock file says.
    case locked(path: String, holder: String)
    /// An in-place apply or undo of another plan acts in this silo now (see `lockSilosInPlace`).
    case siloBusy(silo: String, root: String, holder: String)
    /// SIGINT or SIGTERM asked the run to stop; it stopped between two operations.
    case interrupted(signal: Int32)

    public var description: String {
        switch self {
        case .invalidPlan(let problems):
            var s = "the plan was refused before anything was written (\(problems.count) problem\(problems.count == 1 ? "" : "s")):"
            for p in problems.prefix(50) { s += "\n  " + p.description }
            if problems.count > 50 { s += "\n  … and \(problems.count - 50) more" }
            return s
        case .journal(let path, let reason):
            return "journal \(path): \(reason)"
        case .journalMismatch(let path, let journalPlan, let thisPlan):
            return "the journal \(path) belongs to another plan (\(journalPlan.prefix(12)), this one is \(thisPlan.prefix(12))); use that plan, or another journal"
        case .noJournal(let path):
            return "no journal at \(path): nothing was applied with it, so there is nothing to undo"
        case .noSpace(let path, let errno, let fileBytes, let remainingBytes, let remainingOperations, let available):
            var s = "\(errno.code == EDQUOT ? "disk quota exceeded" : "no space left on the device") writing \(path) (\(Format.bytes(fileBytes)) for this file"
            s += "; \(Format.bytes(remainingBytes)) still to write in \(remainingOperations) operation\(remainingOperations == 1 ? "" : "s")"
            if let available { s += "; \(Format.bytes(available)) free" }
            s += "). Nothing partial was left; free some space and run apply again: finished operations are kept."
            return s
        case .io(let path, let operation, let errno):
            return "\(path): \(operation) failed: \(errno) (\(errno.name))"
        case .sourceChanged(let path, let detail):
            return "\(path): the source changed since the plan was made (\(detail)); scan and plan again"
        case .destinationExists(let path, let detail):
            return "\(path): already exists with other content (\(detail)); it was not overwritten"
        case .unsafePath(let path, let detail):
            return "\(path): \(detail)"
        case .crossDevice(let path, let detail):
            return "\(path): \(detail)"
        case .verifyFailed(let path, let expected, let found):
            return "\(path): what was written reads back as \(found.prefix(16))…, not \(expected.prefix(16))…; the file was not put in place"
        case .canonicalNotReady(let op, let canonical, let detail):
            return "operation \(op) waits for its canonical copy (operation \(canonical)): \(detail)"
        case .changedSinceApply(let path, let detail):
            return "\(path): \(detail)"
        case .rootChanged(let path, let detail):
            return "\(path): \(detail)"
        case .locked(let path, let holder):
            return "the plan's journal \(path) is in use by another silomerge (\(holder)); wait for it to finish (one apply, undo or verify of a plan at a time)"
        case .siloBusy(let silo, let root, let holder):
            return "silo '\(silo)' (\(root)) is being deduplicated in place by another silomerge (\(holder)): two in-place plans acting in one silo at once could each take away the copy the other keeps; wait for it to finish, then apply again (each copy is checked again then)"
        case .interrupted(let signal):
            return "interrupted by \(Interruption.name(of: signal)) between two operations (each one finished or not started, nothing partial left visible)"
        }
    }

    /// Errors that stop the whole run (the next operation would fail the same way).
    public var stopsRun: Bool {
        switch self {
        case .noSpace, .journal, .journalMismatch, .noJournal, .invalidPlan, .locked, .siloBusy, .interrupted: true
        case .io(_, _, let e): e.code == EIO || e.code == EROFS || e.code == ENOSPC || e.code == EDQUOT
        default: false
        }
    }
}

/// How far an apply (or undo) is.
public struct ApplyProgress: Sendable, Hashable {
    public var operationsDone: Int
    public var operationsTotal: Int
    public var bytesDone: Int64
    public var bytesTotal: Int64
    /// The operation under way, and its destination or source (display form).
    public var currentOperation: Int?
    public var currentPath: String?
}

public typealias ApplyProgressHandler = @Sendable (ApplyProgress) -> Void

/// What happened to one operation.
public struct OperationOutcome: Sendable, Hashable, CustomStringConvertible {
    public var op: Int
    public var kind: OperationKind
    /// "copy marketing:a.jpg → 2023/06/a.jpg".
    public var summary: String
    /// Why it was skipped, refused or failed; what was done ("created", "already present").
    public var detail: String
    public var error: ApplyError?

    public init(op: Int, kind: OperationKind, summary: String, detail: String, error: ApplyError? = nil) {
        self.op = op; self.kind = kind; self.summary = summary; self.detail = detail; self.error = error
    }

    public var description: String { "operation \(op): \(summary): \(detail)" }
}

/// The result of `Applier.apply`.
public struct ApplyReport: Sendable, Hashable {
    public var dryRun: Bool
    /// Done in this run (with `dryRun`: would be done).
    public var done: [OperationOutcome] = []
    /// Already done: by an earlier run (the journal says so), or the destination already held the content.
    public var skipped: [OperationOutcome] = []
    /// Not done because the plan no longer matches the disk (a changed source, an occupied
    /// destination, a canonical copy that is not in place): the rest went on.
    public var refused: [OperationOutcome] = []
    /// Failed with an I/O error.
    public var failed: [OperationOutcome] = []
    /// Why the run stopped before the end (a full disk), if it did.
    public var stoppedBy: ApplyError?
    public var bytesWritten: Int64 = 0
    /// This host's operations (every operation of a plan without hosts).
    public var operationsTotal: Int = 0
    /// The operations of the plan that other hosts apply, counted by host: not done here, and
    /// no failure of this run.
    public var onOtherHosts: [OtherHostShare] = []

    public init(dryRun: Bool) { self.dryRun = dryRun }

    /// Every operation of the plan is done (now or before).
    public var isComplete: Bool {
        stoppedBy == nil && refused.isEmpty && failed.isEmpty && done.count + skipped.count == operationsTotal
    }
}

/// The operations of a plan that another host applies.
public struct OtherHostShare: Sendable, Hashable {
    public var host: HostIdentity
    public var operations: Int
    public init(host: HostIdentity, operations: Int) { self.host = host; self.operations = operations }
}

/// The result of `Applier.undo`.
public struct UndoReport: Sendable, Hashable {
    /// Operations reversed.
    public var undone: [OperationOutcome] = []
    /// Operations with nothing to reverse (never started, or already undone).
    public var skipped: [OperationOutcome] = []
    /// Files left in place because they changed after apply (or could not be restored): with why.
    public var left: [OperationOutcome] = []
    public var failed: [OperationOutcome] = []
    /// Folders the apply created and undo removed; folders left because they are not empty.
    public var removedDirectories: Int = 0
    public var leftDirectories: [String] = []
    /// Folders this host's apply made that hold files other hosts of the plan placed (a
    /// shared target): left where they are, and no failure.
    public var sharedDirectories: [String] = []
    /// The operations of the plan other hosts apply (and undo), counted by host.
    public var onOtherHosts: [OtherHostShare] = []
    public var stoppedBy: ApplyError?

    public init() {}

    public var isComplete: Bool { stoppedBy == nil && left.isEmpty && failed.isEmpty && leftDirectories.isEmpty }
}
