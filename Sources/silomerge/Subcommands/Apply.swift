import ArgumentParser
import Foundation
import SiloMergeCore
import SiloMergeSQLite

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Carry out a plan safely; run it again to resume after a crash or a full disk.",
        usage: "silomerge apply <plan.json> [<options>]",
        discussion: """
            Checks the plan against the catalogue it was made from (each silo's name,
            root, device and inode; the target and the quarantine folder outside every
            silo), then validates the whole plan before touching anything: every root
            (the target, the quarantine folder, each silo) is opened from / without
            following symbolic links and must be the folder the plan recorded;
            destinations stay inside the target with no symlinked folder on the way; no
            two operations on one name; sources unchanged. Then per operation: checks
            the source still matches the plan, writes to a temporary name beside the
            destination, fsyncs, verifies the SHA-256 of what was written, and renames
            into place without ever overwriting; a destination that already holds the
            content counts as done. Duplicates are acted on only after their canonical
            copy is verified in the target. Every step is journalled (fsynced) in
            PLAN.journal: after a crash, a kill or a full disk, run the same command
            again; `silomerge undo PLAN` reverses what was done.

            One apply, undo or verify of a plan at a time: the plan's journal is locked
            (PLAN.journal-lock), and so is the catalogue, as for a scan. A second one is
            refused at once, naming the process that holds the lock. Each apply is
            recorded in the catalogue: `silomerge history` lists it, and what each
            operation did to which file goes into the catalogue's merge ledger, so the
            next check reports the files the plan took as merged, not missing.

            Exit codes: 0 all done; 1 some operations were refused (the source changed,
            the destination holds other content) or failed; 2 stopped (full disk, plan
            refused, locked by another process, catalogue missing); 130/143 stopped by
            Ctrl-C/SIGTERM after the operation under way (recorded as interrupted; run
            the same command again to resume).

            Examples:
              silomerge apply plan.json --dry-run
              silomerge apply plan.json
            """
    )

    @Argument(help: ArgumentHelp("The plan file.", valueName: "plan.json"))
    var plan: String

    @Flag(name: .customLong("dry-run"), help: "Validate and say what would be done; write nothing.")
    var dryRun = false

    @Option(name: .customLong("journal"), help: ArgumentHelp("The journal (default: PLAN.journal).", valueName: "file"))
    var journal: String?

    @Option(name: .customLong("catalog"), help: ArgumentHelp("The catalogue the plan was made from (default: the one the plan names).", valueName: "path"))
    var catalog: String?

    @Flag(name: [.customShort("q"), .customLong("quiet")], help: "No progress line and no list of operations.")
    var quiet = false

    func run() throws {
        let planPath = Posix.absolute(FilePath(self.plan))
        let plan = try PlanFile.read(FilePath(self.plan))
        let journalPath = Posix.absolute(FilePath(journal ?? self.plan + ".journal"))
        let line = ApplyProgressLine(enabled: !quiet)
        let applier = try Applier(plan: plan, journal: journalPath,
                                  progress: line.enabled ? { @Sendable p in line.update(p) } : nil)
        try applier.lock(purpose: "\(dryRun ? "apply --dry-run" : "apply") \(planPath.display)", shared: dryRun)

        // The catalogue the plan was made from: its silos decide what the plan may touch.
        let catalogue: SQLiteCatalogue
        switch PlanCatalogue.open(plan, override: catalog) {
        case .success(let c): catalogue = c
        case .failure(let why):
            throw CLIError.fatal("the plan cannot be checked against its catalogue: \(why); pass --catalog with the catalogue it was made from (apply refuses a plan it cannot check)")
        }
        let problems = PlanValidator.catalogueProblems(in: plan, catalogued: try catalogue.silos(), catalogue: catalogue.location.display)
        if !problems.isEmpty { throw ApplyError.invalidPlan(problems) }
        var scanLock: ScanLock? = nil
        var log: PlanRunLog? = nil
        if !dryRun {
            // Ctrl-C or SIGTERM: finish the operation under way, record the run interrupted,
            // and say how to resume (a second signal, or 10 s more, stops at once: the
            // journal makes that safe too).
            applier.interruption = Signals.interruptible(stopping: "after the operation under way")
            scanLock = try catalogue.lockForScan(purpose: "apply \(planPath.display)")
            log = try PlanRunLog(catalogue: catalogue, kind: .apply, plan: plan, planPath: planPath, journal: journalPath)
        }
        defer { withExtendedLifetime(scanLock) {} }

        let report: ApplyReport
        do {
            defer { line.clear() }
            try applier.validate()
            // The ledger learns the plan before anything is done, and what was done from the
            // journal at the end, whatever the end: a check then knows which files the plan
            // took away (merged, not missing). A run killed midway is read from the journal
            // by the next scan or check.
            if let log { try MergeLedgerLog.record(catalogue, plan: plan, planPath: planPath, journal: journalPath, runID: log.runID) }
            defer { if let log { MergeLedgerLog.sync(catalogue, plan: plan, journal: journalPath, runID: log.runID) } }
            report = try applier.apply(dryRun: dryRun)
        } catch {
            log?.finish(status: .failed, outcome: "stopped", error: error)
            throw error
        }
        log?.record.done = report.done.count
        log?.record.skipped = report.skipped.count
        log?.record.refused = report.refused.count
        log?.record.failed = report.failed.count
        log?.record.bytesWritten = report.bytesWritten
        if case .interrupted = report.stoppedBy {
            log?.finish(status: .interrupted, outcome: "interrupted", error: report.stoppedBy)
        } else if report.stoppedBy != nil {
            log?.finish(status: .failed, outcome: "stopped", error: report.stoppedBy)
        } else {
            log?.finish(status: report.isComplete ? .ok : .warnings, outcome: report.isComplete ? "complete" : "incomplete", error: nil)
        }

        let verb = dryRun ? "would do" : "done"
        if !quiet || !report.isComplete {
            if dryRun { for o in report.done { print("  would \(o.summary)") } }
            print("\(dryRun ? "Dry run" : "Applied") \(self.plan): \(report.done.count) \(verb), \(report.skipped.count) already done, "
                  + "\(report.refused.count) refused, \(report.failed.count) failed, of \(report.operationsTotal).")
            print(ApplyText.totals(plan, report))
        }
        for o in report.refused { Stderr.write("silomerge: warning: refused \(o.summary): \(o.detail)\n") }
        for o in report.failed { Stderr.write("silomerge: error: failed \(o.summary): \(o.detail)\n") }
        if case .interrupted(let signal) = report.stoppedBy {
            Stderr.write("silomerge: stopped: \(report.stoppedBy!)\nRun `silomerge apply \(self.plan)` again to resume, or `silomerge undo \(self.plan)` to reverse what was done.\n")
            throw ExitCode(128 + signal)
        }
        if let stop = report.stoppedBy {
            Stderr.write("silomerge: error: stopped: \(stop)\nNothing partial is left visible; free space and run `silomerge apply \(self.plan)` again to resume.\n")
            throw ExitCode(ExitStatus.fatal)
        }
        if !report.refused.isEmpty || !report.failed.isEmpty { throw ExitCode(ExitStatus.skippedFiles) }
        if !dryRun && !quiet { print("Verify the tree: silomerge verify \(self.plan); undo: silomerge undo \(self.plan)") }
    }
}

struct Undo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reverse what `apply` did, from its journal (after a full or a partial apply).",
        usage: "silomerge undo <plan.json> [<options>]",
        discussion: """
            Created files are removed only if they are unchanged since apply wrote them;
            moved and quarantined files go back where they were; duplicates replaced by
            hard links are restored; folders apply made are removed when empty. Files
            changed since are left, and listed (exit 1). Roots are opened as apply opens
            them (from /, without following links, checked against the identities the
            plan and the journal recorded).

            Undo needs only the plan and its journal: it works when the catalogue is
            gone (and is then not recorded in the history). With the catalogue, it locks
            it as a scan does and is listed by `silomerge history`; what it reverses is
            no longer merged in the catalogue's ledger. The plan's journal is locked: an
            apply or another undo of the plan running is refused at once.

            Exit codes: 0 everything reversed; 1 some files were left (changed since
            apply) or could not be restored; 2 could not run (no journal, locked,
            another plan's journal); 130/143 stopped by Ctrl-C/SIGTERM after the
            operation under way (run it again to finish).
            """
    )

    @Argument(help: ArgumentHelp("The plan file.", valueName: "plan.json"))
    var plan: String

    @Option(name: .customLong("journal"), help: ArgumentHelp("The journal (default: PLAN.journal).", valueName: "file"))
    var journal: String?

    @Option(name: .customLong("catalog"), help: ArgumentHelp("The catalogue to record the undo in (default: the one the plan names, when it exists).", valueName: "path"))
    var catalog: String?

    @Flag(name: [.customShort("q"), .customLong("quiet")], help: "No progress line.")
    var quiet = false

    func run() throws {
        let planPath = Posix.absolute(FilePath(self.plan))
        let plan = try PlanFile.read(FilePath(self.plan))
        let journalPath = Posix.absolute(FilePath(journal ?? self.plan + ".journal"))
        let line = ApplyProgressLine(enabled: !quiet)
        let applier = try Applier(plan: plan, journal: journalPath,
                                  progress: line.enabled ? { @Sendable p in line.update(p) } : nil)
        try applier.lock(purpose: "undo \(planPath.display)")

        var catalogue: SQLiteCatalogue? = nil
        switch PlanCatalogue.open(plan, override: catalog) {
        case .success(let c): catalogue = c
        case .failure(let why):
            if catalog != nil { throw CLIError.fatal("--catalog: \(why)") }
            Stderr.write("silomerge: note: \(why): undo goes on without it (it needs only the plan and its journal), but is not recorded in the history\n")
        }
        let scanLock = try catalogue?.lockForScan(purpose: "undo \(planPath.display)")
        defer { withExtendedLifetime(scanLock) {} }
        var log = try catalogue.map { try PlanRunLog(catalogue: $0, kind: .undo, plan: plan, planPath: planPath, journal: journalPath) }
        applier.interruption = Signals.interruptible(stopping: "after the operation under way")

        let r: UndoReport
        do {
            defer { line.clear() }
            // What undo reverses is no longer merged: the ledger follows the journal.
            if let catalogue, let log {
                try MergeLedgerLog.record(catalogue, plan: plan, planPath: planPath, journal: journalPath, runID: log.runID)
            }
            defer { if let catalogue, let log { MergeLedgerLog.sync(catalogue, plan: plan, journal: journalPath, runID: log.runID) } }
            r = try applier.undo()
        } catch {
            log?.finish(status: .failed, outcome: "stopped", error: error)
            throw error
        }
        log?.record.done = r.undone.count
        log?.record.skipped = r.skipped.count
        log?.record.refused = r.left.count
        log?.record.failed = r.failed.count
        if case .interrupted = r.stoppedBy {
            log?.finish(status: .interrupted, outcome: "interrupted", error: r.stoppedBy)
        } else if r.stoppedBy != nil {
            log?.finish(status: .failed, outcome: "stopped", error: r.stoppedBy)
        } else {
            log?.finish(status: r.isComplete ? .ok : .warnings, outcome: r.isComplete ? "complete" : "incomplete", error: nil)
        }

        print("Undid \(self.plan): \(Format.plural(r.undone.count, "operation")) reversed, \(r.skipped.count) with nothing to undo, "
              + "\(r.left.count) left in place, \(r.failed.count) failed; \(Format.plural(r.removedDirectories, "folder")) removed.")
        for o in r.left { Stderr.write("silomerge: warning: left \(o.summary): \(o.detail)\n") }
        for o in r.failed { Stderr.write("silomerge: error: \(o.summary): \(o.detail)\n") }
        for d in r.leftDirectories.prefix(20) { Stderr.write("silomerge: note: folder left: \(d)\n") }
        if case .interrupted(let signal) = r.stoppedBy {
            Stderr.write("silomerge: stopped: \(r.stoppedBy!)\nRun `silomerge undo \(self.plan)` again to finish reversing.\n")
            throw ExitCode(128 + signal)
        }
        if let stop = r.stoppedBy { Stderr.write("silomerge: error: stopped: \(stop)\n"); throw ExitCode(ExitStatus.fatal) }
        if !r.left.isEmpty || !r.failed.isEmpty { throw ExitCode(ExitStatus.skippedFiles) }
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a merged tree against its plan: every destination present with its SHA-256, nothing unexpected.",
        usage: "silomerge verify <plan.json> [<options>]\n       silomerge verify --bagit <bag> [--format text|json]",
        discussion: """
            BagIt's "complete and valid" for a tree built by `silomerge apply`: every
            file the plan put in the target exists (not as a symlink) and holds the
            content the plan names, and the target holds no other file (the quarantine
            folder and SiloMerge's temporary names aside). The target is opened as apply
            opens it (from /, without following links; refused when it is not the folder
            the plan and the journal recorded) and walked folder by folder, so trees
            deeper than PATH_MAX verify too. It does not need the catalogue. It waits
            for no one: while an apply or undo of the plan runs, it is refused at once.

            --bagit DIR validates a BagIt bag instead (RFC 8493, as the Library of
            Congress `bagit` validator does): complete (bagit.txt and data/ present,
            every file a manifest names exists, every payload file is in every payload
            manifest, Payload-Oxum matches) and valid (every checksum of every manifest
            and tag manifest matches; md5, sha1, sha256, sha512...). Any bag, not only
            those `silomerge export --format bagit --plan` makes.

            Exit codes: 0 complete and valid; 3 files missing or unexpected; 4 a file's
            content differs (corruption); 2 could not run.
            """
    )

    @Argument(help: ArgumentHelp("The plan file.", valueName: "plan.json"))
    var plan: String?

    @Option(name: .customLong("bagit"), help: ArgumentHelp("Validate this BagIt bag instead of a plan's tree.", valueName: "bag"))
    var bagit: String?

    @Option(name: .customLong("journal"), help: ArgumentHelp("The plan's journal (default: PLAN.journal).", valueName: "file"))
    var journal: String?

    @Option(name: .customLong("format"), help: "text or json.")
    var format: Check.Style = .text

    func validate() throws {
        if (plan == nil) == (bagit == nil) { throw ValidationError("give a plan, or --bagit with a bag folder (not both)") }
        if bagit != nil && journal != nil { throw ValidationError("--journal goes with a plan, not with --bagit") }
    }

    func run() throws {
        if let bagit { return try verifyBag(bagit) }
        let planFile = self.plan!
        let planPath = Posix.absolute(FilePath(planFile))
        let plan = try PlanFile.read(FilePath(planFile))
        let journalPath = Posix.absolute(FilePath(journal ?? planFile + ".journal"))
        let lock = try PlanLock(journal: journalPath, purpose: "verify \(planPath.display)", shared: true)
        defer { withExtendedLifetime(lock) {} }
        let r = try PlanVerifier.verify(plan, journal: journalPath)
        switch format {
        case .json:
            print(try JSONOutput.string(VerifyJSON(target: plan.targetRoot, report: r)))
        case .text:
            let state = r.problems.isEmpty ? "complete and valid" : [r.isComplete ? nil : "INCOMPLETE", r.isValid ? nil : "INVALID",
                                                                     r.hasUnexpected ? "unexpected files" : nil].compactMap { $0 }.joined(separator: ", ")
            print("Verified \(plan.targetRoot.display) against \(planFile): \(r.verifiedFiles) of \(Format.plural(r.expectedFiles, "file")) hold their content "
                  + "(\(Format.bytes(r.bytesRead)) read): \(state).")
            for p in r.problems.prefix(100) {
                var line = "  \(Format.pad(p.kind.rawValue, 11)) \(p.path.display)"
                if let e = p.expected, let f = p.found { line += "  (expected \(e.prefix(12))…, found \(f.prefix(12))…)" }
                if let d = p.detail { line += "  \(d)" }
                print(line)
            }
            if r.problems.count > 100 { print("  … \(r.problems.count - 100) more (--format json)") }
        }
        if !r.isValid { throw ExitCode(ExitStatus.corruption) }
        if !r.isComplete || r.hasUnexpected { throw ExitCode(ExitStatus.changes) }
    }

    func verifyBag(_ folder: String) throws {
        let line = ProgressLine(quiet: format == .json)
        let r: BagReport
        do {
            defer { line.clear() }
            r = try BagItValidator.validate(FilePath(folder), progress: line.isEnabled ? { @Sendable done, total in line.show("checking \(done)/\(total)") } : nil)
        } catch let e as BagItValidator.Failure {
            throw CLIError.fatal("\(e)")
        }
        switch format {
        case .json:
            print(try JSONOutput.string(BagJSON(bag: folder, report: r)))
        case .text:
            let state = r.isValid ? "complete and valid" : r.isComplete ? "complete, INVALID" : "INCOMPLETE"
            print("Bag \(folder) (BagIt \(r.version ?? "?"), \(r.algorithms.joined(separator: ", "))): \(Format.plural(r.payloadFiles, "payload file")), "
                  + "\(Format.bytes(r.payloadBytes)); \(Format.plural(r.checksumsVerified, "checksum")) match (\(Format.bytes(r.bytesRead)) read): \(state).")
            for p in r.problems.prefix(100) { print("  \(Format.pad(p.kind.rawValue, 11)) \(p.path)  \(p.detail)") }
            if r.problems.count > 100 { print("  … \(r.problems.count - 100) more (--format json)") }
        }
        if !r.isComplete { throw ExitCode(ExitStatus.changes) }
        if !r.isValid { throw ExitCode(ExitStatus.corruption) }
    }
}

/// The catalogue a plan names (or `--catalog`), opened only when it exists.
enum PlanCatalogue {
    static func open(_ plan: MergePlan, override: String?) -> Result<SQLiteCatalogue, PlanCatalogueUnavailable> {
        let path = override ?? plan.catalogue
        let location: CatalogueLocation
        do { location = try CatalogueLocation.parse(path) } catch {
            return .failure(PlanCatalogueUnavailable(text: "\(error)"))
        }
        if case .file = location.kind, !FileManager.default.fileExists(atPath: path) {
            return .failure(PlanCatalogueUnavailable(text: "the catalogue \(path) does not exist"))
        }
        do { return .success(try CatalogueFactory.open(path, access: .readWrite)) } catch {
            return .failure(PlanCatalogueUnavailable(text: "the catalogue \(location.display) cannot be used: \(error)"))
        }
    }
}

struct PlanCatalogueUnavailable: Error, CustomStringConvertible {
    var text: String
    var description: String { text }
}

/// The catalogue's merge ledger (see `SQLiteCatalogue.recordMerge`), from apply and undo.
enum MergeLedgerLog {
    static func record(_ catalogue: SQLiteCatalogue, plan: MergePlan, planPath: FilePath, journal: FilePath, runID: Int64) throws {
        try catalogue.recordMerge(plan: plan, planSHA256: try PlanFile.digest(plan), planPath: planPath, journal: journal, runID: runID)
    }

    /// Reads the journal into the ledger. Failing is a warning: the next scan or check reads
    /// the journal again.
    static func sync(_ catalogue: SQLiteCatalogue, plan: MergePlan, journal: FilePath, runID: Int64) {
        do {
            guard let j = try MergeJournal.read(journal) else { return }
            try catalogue.syncMerge(planSHA256: try PlanFile.digest(plan), journal: j, runID: runID)
        } catch {
            Stderr.write("silomerge: warning: could not record in the catalogue what the plan did (the next scan or check reads the journal again): \(error)\n")
        }
    }
}

/// An apply or undo recorded in the catalogue as a run (kind `apply`/`undo`), so `history`
/// lists it. A run killed midway stays `running` until the next command that locks the
/// catalogue marks it `interrupted`, as for scans.
struct PlanRunLog {
    let catalogue: SQLiteCatalogue
    let runID: Int64
    var record: PlanRunRecord

    struct Options: Encodable { var plan: String; var journal: String }

    init(catalogue: SQLiteCatalogue, kind: RunKind, plan: MergePlan, planPath: FilePath, journal: FilePath) throws {
        self.catalogue = catalogue
        let options = String(decoding: try JSONEncoder.sortedKeys.encode(Options(plan: planPath.display, journal: journal.display)), as: UTF8.self)
        runID = try catalogue.beginRun(kind: kind, hashMode: "none", options: options, silos: plan.silos.map(\.name))
        record = PlanRunRecord(plan: planPath.display, planSHA256: (try? PlanFile.digest(plan)) ?? "", journal: journal.display,
                               operations: plan.operations.count)
        try catalogue.recordPlanRun(runID, record, outcome: nil)
    }

    /// Records the end. Failing to record it is a warning: the work itself is done (and journalled).
    func finish(status: RunStatus, outcome: String, error: (any Error)?) {
        var counts = RunCounts()
        counts.files = record.operations
        counts.bytes = record.bytesWritten
        counts.warnings = record.refused
        counts.errors = record.failed
        do {
            try catalogue.recordPlanRun(runID, record, outcome: outcome)
            try catalogue.finishRun(runID, status: status, counts: counts, errorMessage: error.map { "\($0)" })
        } catch {
            Stderr.write("silomerge: warning: could not record the run in the catalogue: \(error)\n")
        }
    }
}

extension JSONEncoder {
    static var sortedKeys: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}
