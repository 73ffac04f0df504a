import ArgumentParser
import Foundation
import SiloMergeCore
import SiloMergeSQLite

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
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

            A plan across hosts (its silos scanned on several machines): each host
            applies the operations whose sources it holds (--host NAME as for its scans,
            else the machine id), and lists the others as not applied here, which are no
            failure: the exit status is that of this host's operations. Each host has
            its own journal, PLAN.journal.HOST. --target DIR is this host's target when
            it is not the plan's (a shared mount at another path, a target per host). A
            host with no silo in the plan has nothing to do: it says so, exits 0 and
            writes nothing.

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

    @OptionGroup var hosts: PlanHostOptions

    func run() throws {
        let request = try PlanRunRequest.fromArguments(plan: self.plan, journal: journal, hosts: hosts)
        let line = ApplyProgressLine(enabled: !quiet)
        let report: ApplyReport
        do {
            defer { line.clear() }
            report = try ApplyWorkflow.apply(request, dryRun: dryRun, catalogue: {
                switch PlanCatalogue.open(request.plan, override: catalog) {
                case .success(let c): return c
                case .failure(let why):
                    throw CLIError.fatal("the plan cannot be checked against its catalogue: \(why); pass --catalog with the catalogue it was made from (apply refuses a plan it cannot check)")
                }
            }, hooks: .commandLine(line))
        }
        let plan = request.plan
        let here = request.effectiveScope.host
        if let here, report.operationsTotal == 0 {
            print("Nothing to do on host \(here): \(ApplyText.elsewhere(report.onOtherHosts)). Nothing was written.")
            return
        }

        let verb = dryRun ? "would do" : "done"
        if !quiet || !report.isComplete {
            if dryRun {
                // A derivative's move says what it is (`--derivatives keep-master`): not a copy of the master's bytes.
                let derivatives = Dictionary(plan.operations.compactMap { op in op.derivativeOf.map { (op.id, $0) } }, uniquingKeysWith: { a, _ in a })
                for o in report.done {
                    let what = derivatives[o.op].map { "  (a \($0.width)×\($0.height) derivative, \($0.distance) bits from its \($0.masterWidth)×\($0.masterHeight) master)" } ?? ""
                    print("  would \(o.summary)\(what)")
                }
            }
            print("\(dryRun ? "Dry run" : "Applied") \(self.plan)\(here.map { " on host \($0)" } ?? ""): \(report.done.count) \(verb), \(report.skipped.count) already done, "
                  + "\(report.refused.count) refused, \(report.failed.count) failed, of \(report.operationsTotal)"
                  + (here == nil ? "." : " (this host's)."))
            print(ApplyText.totals(plan, report))
        }
        for o in report.onOtherHosts {
            print("  on host \(o.host): \(Format.plural(o.operations, "operation")), not applied here (apply the plan there)")
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
        if !dryRun && !quiet {
            let flags = (hosts.host.host.map { " --host \($0)" } ?? "") + (hosts.target.map { " --target \($0)" } ?? "")
            print("Verify the tree: silomerge verify \(self.plan)\(flags); undo: silomerge undo \(self.plan)\(flags)")
        }
    }
}

struct Undo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "undo",
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

            A plan across hosts: this host's operations only (--host NAME, else the
            machine id), from its journal PLAN.journal.HOST; --target DIR as given to
            apply.
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

    @OptionGroup var hosts: PlanHostOptions

    func run() throws {
        let request = try PlanRunRequest.fromArguments(plan: self.plan, journal: journal, hosts: hosts)
        let line = ApplyProgressLine(enabled: !quiet)
        let r: UndoReport
        do {
            defer { line.clear() }
            r = try ApplyWorkflow.undo(request, catalogue: {
                switch PlanCatalogue.open(request.plan, override: catalog) {
                case .success(let c): return c
                case .failure(let why):
                    if catalog != nil { throw CLIError.fatal("--catalog: \(why)") }
                    Stderr.write("silomerge: note: \(why): undo goes on without it (it needs only the plan and its journal), but is not recorded in the history\n")
                    return nil
                }
            }, hooks: .commandLine(line))
        }

        let here = request.effectiveScope.host
        if let here, request.effectiveScope.operations.isEmpty {
            print("Nothing to undo on host \(here): \(ApplyText.elsewhere(r.onOtherHosts)). Nothing was written.")
            return
        }
        print("Undid \(self.plan)\(here.map { " on host \($0)" } ?? ""): \(Format.plural(r.undone.count, "operation")) reversed, \(r.skipped.count) with nothing to undo, "
              + "\(r.left.count) left in place, \(r.failed.count) failed; \(Format.plural(r.removedDirectories, "folder")) removed.")
        for d in r.sharedDirectories.prefix(20) { print("  folder kept: \(d) (it holds what other hosts of the plan placed)") }
        for o in request.effectiveScope.elsewhere(in: request.plan) {
            print("  on host \(o.host): \(Format.plural(o.operations, "operation")), not undone here (undo the plan there)")
        }
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
        commandName: "verify",
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

            A plan across hosts: the files this host's operations put in the target
            (--host NAME, else the machine id; --target DIR as given to apply); files
            other hosts placed there are not unexpected.

            An in-place plan (plan --in-place) has no target: the silos are checked
            (each canonical copy, and what each operation left), and the operations
            are counted as the journal records them: applied, refused (each with its
            reason), pending (not run yet, or interrupted) and undone. It is complete
            only when every operation was applied.

            Exit codes: 0 complete and valid; 3 files missing or unexpected (in place:
            operations refused, pending or undone); 4 a file's content differs
            (corruption); 2 could not run.
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

    @OptionGroup var hosts: PlanHostOptions

    func validate() throws {
        if (plan == nil) == (bagit == nil) { throw ValidationError("give a plan, or --bagit with a bag folder (not both)") }
        if bagit != nil && (journal != nil || hosts.host.host != nil || hosts.target != nil) {
            throw ValidationError("--journal, --host and --target go with a plan, not with --bagit")
        }
    }

    func run() throws {
        if let bagit { return try verifyBag(bagit) }
        let planFile = self.plan!
        let request = try PlanRunRequest.fromArguments(plan: planFile, journal: journal, hosts: hosts)
        let plan = request.plan
        let scope = request.effectiveScope
        if let here = scope.host, scope.operations.isEmpty {
            let others = scope.elsewhere(in: plan).map { OtherHostShare(host: $0.host, operations: $0.operations) }
            print("Nothing to verify on host \(here): \(ApplyText.elsewhere(others)).")
            return
        }
        let r = try ApplyWorkflow.verify(request)
        switch format {
        case .json:
            // In place, there is no target: the quarantine folder, for plans that move copies there.
            let target: FilePath? = plan.inPlace.map { $0.method == .quarantine ? scope.targetRoot : nil } ?? scope.targetRoot
            print(try JSONOutput.string(VerifyJSON(target: target, report: r, method: plan.inPlace?.method.rawValue)))
        case .text:
            let ok = r.problems.isEmpty && r.isComplete
            let state = ok ? "complete and valid" : [r.isComplete ? nil : "INCOMPLETE", r.isValid ? nil : "INVALID",
                                                     r.hasUnexpected ? "unexpected files" : nil].compactMap { $0 }.joined(separator: ", ")
            let what: String
            if let inPlace = plan.inPlace {
                what = "the silos\(inPlace.method == .quarantine ? " and \(scope.targetRoot.display)" : "") (in place, --method \(inPlace.method.rawValue))"
            } else {
                what = scope.targetRoot.display
            }
            var counts = ""
            if let o = r.operations {
                let parts = ["\(o.applied) applied", o.stopped.isEmpty ? nil : "\(o.stopped.count) refused",
                             o.pending == 0 ? nil : "\(o.pending) pending", o.undone == 0 ? nil : "\(o.undone) undone"]
                counts = "; \(Format.plural(o.total, "operation")): \(parts.compactMap { $0 }.joined(separator: ", "))"
            }
            print("Verified \(what) against \(planFile)\(scope.host.map { " (host \($0)'s operations)" } ?? ""): \(r.verifiedFiles) of \(Format.plural(r.expectedFiles, "file")) hold their content "
                  + "(\(Format.bytes(r.bytesRead)) read)\(counts): \(state).")
            if let o = r.operations {
                for s in o.stopped.prefix(100) { print("  \(Format.pad(s.event, 11)) op \(s.op) \(s.path)  \(s.reason)") }
                if o.stopped.count > 100 { print("  … \(o.stopped.count - 100) more refused (--format json)") }
                if o.pending > 0 { print("  \(Format.plural(o.pending, "operation")) not applied yet (or interrupted): run `silomerge apply \(planFile)` to do them") }
                if o.undone > 0 { print("  \(Format.plural(o.undone, "operation")) reversed by undo") }
            }
            if r.quarantinedDerivatives > 0 {
                print("Derivatives in quarantine (--derivatives keep-master): \(r.verifiedDerivatives) of \(Format.plural(r.quarantinedDerivatives, "file")) hold their content.")
            }
            for o in scope.elsewhere(in: plan) {
                print("  on host \(o.host): \(Format.plural(o.operations, "operation")), not verified here (verify the plan there)")
            }
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
    static func open(_ plan: MergePlan, override: String?) -> Result<any CatalogueStore, PlanCatalogueUnavailable> {
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

/// `--host` and `--target` of apply, undo and verify: which host this is, and where its target is.
struct PlanHostOptions: ParsableArguments {
    @OptionGroup var host: HostOption

    @Option(name: .customLong("target"), help: ArgumentHelp(
        "This host's target, when it is not the plan's (a shared mount at another path, or a target per host).",
        valueName: "dir"))
    var target: String?
}

extension PlanRunRequest {
    /// The plan read from `plan`, made absolute with its journal: `journal`, else this host's
    /// (`PLAN.journal`, or `PLAN.journal.HOST` for a plan across hosts). A plan whose silos
    /// record hosts is this host's share of it (`--host`, else the machine id).
    static func fromArguments(plan: String, journal: String?, hosts: PlanHostOptions) throws -> PlanRunRequest {
        let read = try PlanFile.read(FilePath(plan))
        var journalPath = FilePath(journal ?? plan + ".journal")
        var scope: PlanScope? = nil
        if read.recordsHosts || hosts.target != nil {
            let here = try hosts.host.identity() ?? HostIdentity.local()
            do {
                scope = try PlanScope.on(here, of: read, target: hosts.target.map { Posix.absolute(FilePath($0)) })
            } catch {
                throw CLIError.fatal("\(hosts.target != nil ? "--target: " : "")\(error)")
            }
            if journal == nil { journalPath = read.defaultJournal(planPath: FilePath(plan), host: here) }
        }
        return PlanRunRequest(plan: read, planPath: Posix.absolute(FilePath(plan)), journal: Posix.absolute(journalPath), scope: scope)
    }
}

extension ApplyWorkflow.Hooks {
    /// The progress line, Ctrl-C/SIGTERM (finish the operation under way, record the run
    /// interrupted, say how to resume; a second signal, or 10 s more, stops at once: the
    /// journal makes that safe too), and warnings on stderr (on a line of their own).
    static func commandLine(_ line: ApplyProgressLine) -> ApplyWorkflow.Hooks {
        ApplyWorkflow.Hooks(progress: line.enabled ? { @Sendable p in line.update(p) } : nil,
                            interruptible: { Signals.interruptible(stopping: "after the operation under way") },
                            warn: { line.clear(); Stderr.write("silomerge: warning: \($0)\n") })
    }
}
