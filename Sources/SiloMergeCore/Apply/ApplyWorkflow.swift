import Foundation

/// A plan to apply, undo or verify: the plan, and the absolute paths of its file and journal.
public struct PlanRunRequest: Sendable {
    public var plan: MergePlan
    /// The plan file (absolute): recorded in the run log and named by the locks.
    public var planPath: FilePath
    /// The plan's journal (absolute; by default `PLAN.journal`, or `PLAN.journal.HOST` for a
    /// plan across hosts: see `MergePlan.defaultJournal`).
    public var journal: FilePath
    /// What this host does of the plan (nil: every operation, at the plan's roots).
    public var scope: PlanScope?

    public init(plan: MergePlan, planPath: FilePath, journal: FilePath, scope: PlanScope? = nil) {
        self.plan = plan; self.planPath = planPath; self.journal = journal; self.scope = scope
    }

    /// This host's share of the plan.
    public var effectiveScope: PlanScope { scope ?? PlanScope.whole(plan) }

    /// The silos whose files this host's operations read.
    var silosHere: [String] {
        let scope = effectiveScope
        guard scope.host != nil else { return plan.silos.map(\.name) }
        return plan.silos.filter { $0.host?.id == scope.host?.id }.map(\.name)
    }
}

/// A catalogue an apply or undo is checked against and recorded in.
public typealias PlanRunCatalogue = CatalogueStore & MergeLedger

/// Apply, undo and verify of a plan, with their locks and their records in the catalogue: the
/// plan's lock (one apply, undo or verify of a plan at a time), the catalogue's scan lock, the
/// run in the run log (so `history` lists it) and the merge ledger (so the next check reports
/// the files the plan took as merged, not missing). What the command line adds: opening the
/// catalogue (a backend), the signal handlers, and the words.
public enum ApplyWorkflow {
    /// What went wrong in recording, not in the work (which is done and journalled).
    public enum Warning: Sendable, CustomStringConvertible {
        /// The ledger could not learn from the journal what the plan did; the next scan or
        /// check reads the journal again.
        case ledgerNotSynced(String)
        /// The end of the run could not be recorded in the run log.
        case runNotRecorded(String)

        public var description: String {
            switch self {
            case .ledgerNotSynced(let why):
                "could not record in the catalogue what the plan did (the next scan or check reads the journal again): \(why)"
            case .runNotRecorded(let why): "could not record the run in the catalogue: \(why)"
            }
        }
    }

    /// How the command line takes part: progress, the stop signals, warnings.
    public struct Hooks {
        public var progress: ApplyProgressHandler?
        /// Installs the stop request (SIGINT/SIGTERM), called once the run is about to write.
        public var interruptible: () -> Interruption?
        public var warn: (Warning) -> Void

        public init(progress: ApplyProgressHandler? = nil, interruptible: @escaping () -> Interruption? = { nil },
                    warn: @escaping (Warning) -> Void = { _ in }) {
            self.progress = progress; self.interruptible = interruptible; self.warn = warn
        }
    }

    /// Applies (or, `dryRun`, validates and lists) the plan. `catalogue` opens the catalogue the
    /// plan was made from once the plan's lock is held; it must say why when it cannot (apply
    /// refuses a plan it cannot check). A plan that does not match that catalogue's silos is
    /// refused (`ApplyError.invalidPlan`) before anything is touched. A stop (full disk, a
    /// signal) is in the report's `stoppedBy`; the run is recorded however it ends.
    public static func apply(_ request: PlanRunRequest, dryRun: Bool, catalogue open: () throws -> any PlanRunCatalogue,
                             hooks: Hooks = Hooks()) throws -> ApplyReport {
        let plan = request.plan
        let scope = request.effectiveScope
        // A host with nothing to do in the plan writes nothing: no journal, no lock, no run.
        if scope.operations.isEmpty, scope.host != nil {
            var report = ApplyReport(dryRun: dryRun)
            report.onOtherHosts = scope.elsewhere(in: plan).map { OtherHostShare(host: $0.host, operations: $0.operations) }
            return report
        }
        let applier = try Applier(plan: plan, journal: request.journal, progress: hooks.progress, scope: scope)
        try applier.lock(purpose: "\(dryRun ? "apply --dry-run" : "apply") \(request.planPath.display)", shared: dryRun)

        // The catalogue the plan was made from: its silos decide what the plan may touch.
        let catalogue = try open()
        let catalogued = try catalogue.silos()
        var problems = PlanValidator.catalogueProblems(in: plan, catalogued: catalogued, catalogue: catalogue.location.display)
        problems += PlanValidator.scopeProblems(scope, plan: plan, catalogued: catalogued)
        if !problems.isEmpty { throw ApplyError.invalidPlan(problems) }
        var scanLock: ScanLock? = nil
        var log: PlanRunLog? = nil
        if !dryRun {
            applier.interruption = hooks.interruptible()
            // The silos this host's operations touch (the whole catalogue when it is SQLite).
            scanLock = try catalogue.lockForScan(silos: request.silosHere, purpose: "apply \(request.planPath.display)")
            log = try PlanRunLog(catalogue: catalogue, kind: .apply, request)
        }
        defer { withExtendedLifetime(scanLock) {} }

        let report: ApplyReport
        do {
            try applier.validate()
            // The ledger learns the plan before anything is done, and what was done from the
            // journal at the end, whatever the end: a check then knows which files the plan
            // took away (merged, not missing). A run killed midway is read from the journal
            // by the next scan or check.
            if let log { try recordInLedger(catalogue, request, runID: log.runID) }
            defer { if let log { syncLedger(catalogue, request, runID: log.runID, warn: hooks.warn) } }
            report = try applier.apply(dryRun: dryRun)
        } catch {
            log?.finish(status: .failed, outcome: "stopped", error: error, warn: hooks.warn)
            throw error
        }
        log?.record.done = report.done.count
        log?.record.skipped = report.skipped.count
        log?.record.refused = report.refused.count
        log?.record.failed = report.failed.count
        log?.record.bytesWritten = report.bytesWritten
        log?.finish(stoppedBy: report.stoppedBy, complete: report.isComplete, warn: hooks.warn)
        return report
    }

    /// Reverses what apply did, from the plan's journal. Undo needs only the plan and its
    /// journal: `catalogue` returns nil when there is none (the undo is then not recorded).
    public static func undo(_ request: PlanRunRequest, catalogue open: () throws -> (any PlanRunCatalogue)?,
                            hooks: Hooks = Hooks()) throws -> UndoReport {
        let scope = request.effectiveScope
        if scope.operations.isEmpty, scope.host != nil {
            var report = UndoReport()
            report.onOtherHosts = scope.elsewhere(in: request.plan).map { OtherHostShare(host: $0.host, operations: $0.operations) }
            return report
        }
        let applier = try Applier(plan: request.plan, journal: request.journal, progress: hooks.progress, scope: scope)
        try applier.lock(purpose: "undo \(request.planPath.display)")

        let catalogue = try open()
        let scanLock = try catalogue?.lockForScan(silos: request.silosHere, purpose: "undo \(request.planPath.display)")
        defer { withExtendedLifetime(scanLock) {} }
        var log = try catalogue.map { try PlanRunLog(catalogue: $0, kind: .undo, request) }
        applier.interruption = hooks.interruptible()

        let r: UndoReport
        do {
            // What undo reverses is no longer merged: the ledger follows the journal.
            if let catalogue, let log { try recordInLedger(catalogue, request, runID: log.runID) }
            defer { if let catalogue, let log { syncLedger(catalogue, request, runID: log.runID, warn: hooks.warn) } }
            r = try applier.undo()
        } catch {
            log?.finish(status: .failed, outcome: "stopped", error: error, warn: hooks.warn)
            throw error
        }
        log?.record.done = r.undone.count
        log?.record.skipped = r.skipped.count
        log?.record.refused = r.left.count
        log?.record.failed = r.failed.count
        log?.finish(stoppedBy: r.stoppedBy, complete: r.isComplete, warn: hooks.warn)
        return r
    }

    /// Checks the merged tree against the plan, holding the plan's lock shared (refused at
    /// once while an apply or undo of the plan runs). Needs no catalogue.
    public static func verify(_ request: PlanRunRequest) throws -> VerifyReport {
        let lock = try PlanLock(journal: request.journal, purpose: "verify \(request.planPath.display)", shared: true)
        defer { withExtendedLifetime(lock) {} }
        return try PlanVerifier.verify(request.plan, journal: request.journal, scope: request.effectiveScope)
    }

    // MARK: - The merge ledger

    static func recordInLedger(_ catalogue: any MergeLedger, _ request: PlanRunRequest, runID: Int64) throws {
        try catalogue.recordMerge(plan: request.plan, planSHA256: try PlanFile.digest(request.plan), planPath: request.planPath,
                                  journal: request.journal, runID: runID)
    }

    /// Reads the journal into the ledger. Failing is a warning: the next scan or check reads
    /// the journal again.
    static func syncLedger(_ catalogue: any MergeLedger, _ request: PlanRunRequest, runID: Int64, warn: (Warning) -> Void) {
        do {
            guard let j = try MergeJournal.read(request.journal) else { return }
            try catalogue.syncMerge(planSHA256: try PlanFile.digest(request.plan), journal: j, runID: runID)
        } catch {
            warn(.ledgerNotSynced("\(error)"))
        }
    }
}

/// An apply or undo recorded in the catalogue as a run (kind `apply`/`undo`), so `history`
/// lists it. A run killed midway stays `running` until the next command that locks the
/// catalogue marks it `interrupted`, as for scans.
struct PlanRunLog {
    let catalogue: any RunLog & MergeLedger
    let runID: Int64
    var record: PlanRunRecord

    struct Options: Encodable { var plan: String; var journal: String }

    init(catalogue: any RunLog & MergeLedger, kind: RunKind, _ request: PlanRunRequest) throws {
        self.catalogue = catalogue
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let options = String(decoding: try encoder.encode(Options(plan: request.planPath.display, journal: request.journal.display)),
                             as: UTF8.self)
        runID = try catalogue.beginRun(kind: kind, hashMode: "none", options: options, silos: request.silosHere)
        record = PlanRunRecord(plan: request.planPath.display, planSHA256: (try? PlanFile.digest(request.plan)) ?? "",
                               journal: request.journal.display, operations: request.effectiveScope.operations.count)
        try catalogue.recordPlanRun(runID, record, outcome: nil)
    }

    /// Records the end from how the run stopped (if it did) and whether it did everything.
    func finish(stoppedBy: ApplyError?, complete: Bool, warn: (ApplyWorkflow.Warning) -> Void) {
        if case .interrupted = stoppedBy {
            finish(status: .interrupted, outcome: "interrupted", error: stoppedBy, warn: warn)
        } else if stoppedBy != nil {
            finish(status: .failed, outcome: "stopped", error: stoppedBy, warn: warn)
        } else {
            finish(status: complete ? .ok : .warnings, outcome: complete ? "complete" : "incomplete", error: nil, warn: warn)
        }
    }

    /// Records the end. Failing to record it is a warning: the work itself is done (and journalled).
    func finish(status: RunStatus, outcome: String, error: (any Error)?, warn: (ApplyWorkflow.Warning) -> Void) {
        var counts = RunCounts()
        counts.files = record.operations
        counts.bytes = record.bytesWritten
        counts.warnings = record.refused
        counts.errors = record.failed
        do {
            try catalogue.recordPlanRun(runID, record, outcome: outcome)
            try catalogue.finishRun(runID, status: status, counts: counts, errorMessage: error.map { "\($0)" })
        } catch {
            warn(.runNotRecorded("\(error)"))
        }
    }
}
