import ArgumentParser
import Foundation
import SiloMergeCore

extension DuplicateAction: ExpressibleByArgument {}
extension TransferMethod: ExpressibleByArgument {}

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Plan a merge of the silos into one tree (written to a file to review; nothing is touched).",
        subcommands: [Create.self, Show.self],
        defaultSubcommand: Create.self
    )

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Write a merge plan: one canonical copy per distinct content, its destination, and what happens to the others.",
            discussion: """
                Reconciles first (see `silomerge reconcile --help`), then for every distinct
                content chooses the canonical copy by the ordered --rule list, places it by
                the --layout template, and decides what happens to the other copies
                (--duplicates). Every choice carries its reason (`silomerge plan show
                plan.json`). The plan is versioned JSON; the same catalogue and settings give
                byte-identical plans.

                Rules (first decides, later ones break ties): silo-priority, richest-metadata,
                oldest-mtime, shortest-path, preferred-path:GLOB. Default:
                silo-priority,richest-metadata,oldest-mtime,shortest-path.

                Layout tokens: {silo} {path} {year} {month} (date_created, else mtime) {name}
                {stem} {ext} {sha256:8} {creator} {keyword}. Default {year}/{month}/{name}.
                Names are made safe for every common file system; names that differ only by
                case or Unicode normalisation count as the same; two contents on one name are
                renamed deterministically and listed.

                Duplicates (copies that are not canonical): keep (default: sources untouched),
                hardlink (replaced by a link to the canonical copy in the target), remove,
                quarantine (moved under --quarantine, keeping silo/path). Hard links to one
                inode are never taken for independent copies; every content keeps a verified
                copy.

                The plan refuses while metadata conflicts are unresolved (silomerge
                conflicts), unless --allow-conflicts, which lists them in the plan.

                Examples:
                  silomerge plan --target /srv/dam -o plan.json
                  silomerge plan --target /srv/dam --layout '{silo}/{path}' --method hardlink \\
                    -o plan.json
                  silomerge plan --target /srv/dam --duplicates quarantine --sidecars \\
                    -o plan.json
                """
        )

        @Option(name: .customLong("target"), help: ArgumentHelp("The folder the merged tree is built in.", valueName: "dir"))
        var target: String

        @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("The plan file to write.", valueName: "file"))
        var output: String

        @Option(name: .customLong("layout"), help: ArgumentHelp("Where each content goes, relative to --target.", valueName: "template"))
        var layout = PlanSettings.defaultLayout

        @Option(name: .customLong("rule"), parsing: .upToNextOption, help: ArgumentHelp(
            "Canonical-copy rules, in order (repeat or list): silo-priority richest-metadata oldest-mtime shortest-path preferred-path:GLOB.",
            valueName: "rule"))
        var rules: [String] = []

        @Option(name: .customLong("duplicates"), help: "What happens to non-canonical copies: keep, hardlink, remove or quarantine.")
        var duplicates: DuplicateAction = .keep

        @Option(name: .customLong("quarantine"), help: ArgumentHelp("Where quarantined duplicates go (default: TARGET/.silomerge-quarantine).", valueName: "dir"))
        var quarantine: String?

        @Option(name: .customLong("method"), help: "How the canonical copy reaches the target: copy, hardlink, reflink or move.")
        var method: TransferMethod = .copy

        @Flag(name: .customLong("hardlink-fallback-copy"), help: "With --method hardlink: copy files on another file system instead of refusing.")
        var hardlinkFallback = false

        @Flag(name: .customLong("sidecars"), help: "Write the reconciled metadata beside each destination as an XMP sidecar.")
        var sidecars = false

        @Flag(name: .customLong("import-manifest"), help: "Write DAM import manifests at the target root: silomerge-manifest.csv and silomerge-exiftool.json (for exiftool -j=).")
        var importManifest = false

        @Flag(name: .customLong("allow-conflicts"), help: "Plan despite unresolved metadata conflicts (listed in the plan).")
        var allowConflicts = false

        @OptionGroup var options: ReconcileOptions
        @OptionGroup var catalogOptions: CatalogOptions

        func run() throws {
            let config = try options.loadConfig()
            let catalogue = try catalogOptions.open(config: config, access: .readWrite)
            var assets: [ReconciledAsset] = []
            let reconciled = try options.run(catalogue, config: config) { assets.append($0) }
            let runs = try catalogue.runs(limit: nil)
            guard let lastScan = runs.first(where: { $0.status == .ok || $0.status == .warnings }) else {
                throw CLIError.usage("the catalogue has no finished scan: run silomerge scan first")
            }
            let unhashed = reconciled.unhashedFiles
            if unhashed > 0 {
                Stderr.write("silomerge: warning: \(Format.count(unhashed)) catalogued files have no full hash (an audit with --hash dupes?) and are left out of the plan: run silomerge scan first\n")
            }
            let rules = try rules.flatMap { $0.split(separator: ",").map(String.init) }.map { text -> CanonicalRule in
                do { return try CanonicalRule(parsing: text) } catch { throw CLIError.usage("--rule: \(error)") }
            }
            let absoluteTarget = Posix.absolute(FilePath(target))
            let settings = PlanSettings(targetRoot: absoluteTarget, layout: layout,
                                        canonicalRules: rules.isEmpty ? CanonicalRule.defaults : rules,
                                        duplicates: duplicates, quarantineRoot: quarantine.map { Posix.absolute(FilePath($0)) },
                                        transfer: method, hardlinkFallbackToCopy: hardlinkFallback, writeSidecars: sidecars,
                                        writeManifest: importManifest, allowConflicts: allowConflicts)
            let silos = try catalogue.silos().map { PlanSilo(name: $0.name, root: $0.root, priority: $0.priority) }
            // The plan's time is the scan's, so the same catalogue and settings give the same bytes.
            let input = PlanInput(assets: assets, silos: silos, catalogueIdentity: Posix.absolute(FilePath(catalogue.location)).display,
                                  scanRunID: lastScan.id, createdAt: lastScan.finishedAt ?? lastScan.startedAt)
            let plan = try Planner(settings: settings).plan(input)
            try PlanFile.write(plan, to: FilePath(output))
            let s = PlanSummary.of(plan)
            print("Wrote \(output): \(Format.plural(s.operations, "operation")) for \(Format.plural(s.contents, "distinct content")), "
                  + "\(Format.bytes(s.bytesWritten)) to write into \(s.targetRoot)"
                  + (s.bytesFreed > 0 ? ", \(Format.bytes(s.bytesFreed)) freed in the silos" : "")
                  + (s.collisions > 0 ? ", \(Format.plural(s.collisions, "name collision")) resolved" : "") + ".")
            print("Review it: silomerge plan show \(output); then silomerge apply \(output) --dry-run")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Summarise a plan: operations, bytes, collisions, conflicts, what stays untouched; --operations lists each with its reason.")

        @Argument(help: ArgumentHelp("The plan file.", valueName: "plan.json"))
        var plan: String

        @Flag(name: .customLong("operations"), help: "List every operation with its reason.")
        var operations = false

        func run() throws {
            let plan = try PlanFile.read(FilePath(plan))
            print(PlanText.summary(plan))
            if operations {
                for op in plan.operations { print(PlanText.operation(op)) }
            }
        }
    }
}

enum PlanText {
    static func operation(_ op: PlanOperation) -> String {
        let source = op.source.map { "\($0.silo):\($0.path.display)" } ?? "(generated)"
        let dest = op.destination.map { " → \($0.display)" } ?? ""
        return "\(Format.pad(String(op.id), 6, right: true))  \(Format.pad(op.kind.rawValue, 20)) \(source)\(dest)\n        \(op.reason)"
    }

    static func summary(_ plan: MergePlan) -> String {
        let s = PlanSummary.of(plan)
        var out = "Plan \(s.schema), made by SiloMerge \(s.toolVersion) from \(s.catalogue) (scan run \(s.scanRunID), \(s.createdAt))\n"
        out += "Target: \(s.targetRoot)   layout \(s.layout)   method \(s.transfer.rawValue)   duplicates \(s.duplicates.rawValue)\n"
        if let q = s.quarantineRoot { out += "Quarantine: \(q)\n" }
        out += "Canonical copy chosen by: \(s.canonicalRules.joined(separator: ", "))\n\n"
        out += "\(Format.plural(s.operations, "operation")) for \(Format.plural(s.contents, "distinct content")):\n"
        for (kind, total) in s.kindsInOrder {
            out += "  \(Format.pad(kind.rawValue, 22))\(Format.pad(Format.count(total.operations), 8, right: true))  \(Format.bytes(total.bytes))\n"
        }
        out += "Bytes written into the target: \(Format.bytes(s.bytesWritten)); freed in the silos: \(Format.bytes(s.bytesFreed))\n"
        out += "Untouched: \(Format.plural(s.untouched.files, "file")) (\(Format.bytes(s.untouched.bytes)))"
        if !s.untouched.byReason.isEmpty {
            out += ": " + s.untouched.byReason.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        }
        out += "\n"
        if !plan.collisions.isEmpty {
            out += "\n\(plan.collisions.count) name collision\(plan.collisions.count == 1 ? "" : "s") (resolved):\n"
            for c in plan.collisions.prefix(20) {
                out += "  \(c.destination): \(c.reason)\n"
                for e in c.entries { out += "      \(e.destination)  ← \(e.sha256.prefix(12))…\n" }
            }
            if plan.collisions.count > 20 { out += "  … \(plan.collisions.count - 20) more (silomerge plan show --operations)\n" }
        }
        if !plan.conflicts.isEmpty {
            out += "\n\(plan.conflicts.count) unresolved metadata conflict\(plan.conflicts.count == 1 ? "" : "s") (planned with --allow-conflicts):\n"
            for c in plan.conflicts.prefix(20) { out += "  \(c.asset) \(c.field): \(c.values.joined(separator: " | "))\n" }
        }
        return out
    }
}

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Carry out a plan safely; run it again to resume after a crash or a full disk.",
        discussion: """
            Validates the whole plan before touching anything (destinations inside the
            target, no symlinked folders on the way, no two operations on one name,
            sources inside their silos). Then per operation: checks the source still
            matches the plan, writes to a temporary name beside the destination, fsyncs,
            verifies the SHA-256 of what was written, and renames into place without ever
            overwriting; a destination that already holds the content counts as done.
            Duplicates are acted on only after their canonical copy is verified in the
            target. Every step is journalled (fsynced) in PLAN.journal: after a crash, a
            kill or a full disk, run the same command again; `silomerge undo PLAN`
            reverses what was done.

            Exit codes: 0 all done; 1 some operations were refused (the source changed,
            the destination holds other content) or failed; 2 stopped (full disk, unusable
            plan).

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

    @Flag(name: [.customShort("q"), .customLong("quiet")], help: "No progress line and no list of operations.")
    var quiet = false

    func run() throws {
        let plan = try PlanFile.read(FilePath(self.plan))
        let line = ApplyProgressLine(enabled: !quiet)
        let applier = try Applier(plan: plan, journal: FilePath(journal ?? self.plan + ".journal"),
                                  progress: line.enabled ? { @Sendable p in line.update(p) } : nil)
        let report: ApplyReport
        do {
            defer { line.clear() }
            try applier.validate()
            report = try applier.apply(dryRun: dryRun)
        }
        let verb = dryRun ? "would do" : "done"
        if !quiet || !report.isComplete {
            if dryRun { for o in report.done { print("  would \(o.summary)") } }
            print("\(dryRun ? "Dry run" : "Applied") \(self.plan): \(report.done.count) \(verb), \(report.skipped.count) already done, "
                  + "\(report.refused.count) refused, \(report.failed.count) failed, of \(report.operationsTotal); "
                  + "\(Format.bytes(report.bytesWritten)) written.")
        }
        for o in report.refused { Stderr.write("silomerge: warning: refused \(o.summary): \(o.detail)\n") }
        for o in report.failed { Stderr.write("silomerge: error: failed \(o.summary): \(o.detail)\n") }
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
        discussion: """
            Created files are removed only if they are unchanged since apply wrote them;
            moved and quarantined files go back where they were; duplicates replaced by
            hard links are restored. Files changed since are left, and listed.
            """
    )

    @Argument(help: ArgumentHelp("The plan file.", valueName: "plan.json"))
    var plan: String

    @Option(name: .customLong("journal"), help: ArgumentHelp("The journal (default: PLAN.journal).", valueName: "file"))
    var journal: String?

    func run() throws {
        let plan = try PlanFile.read(FilePath(self.plan))
        let applier = try Applier(plan: plan, journal: FilePath(journal ?? self.plan + ".journal"))
        let r = try applier.undo()
        print("Undid \(self.plan): \(Format.plural(r.undone.count, "operation")) reversed, \(r.skipped.count) with nothing to undo, "
              + "\(r.left.count) left in place, \(r.failed.count) failed; \(Format.plural(r.removedDirectories, "folder")) removed.")
        for o in r.left { Stderr.write("silomerge: warning: left \(o.summary): \(o.detail)\n") }
        for o in r.failed { Stderr.write("silomerge: error: \(o.summary): \(o.detail)\n") }
        for d in r.leftDirectories.prefix(20) { Stderr.write("silomerge: note: folder left (not empty): \(d)\n") }
        if let stop = r.stoppedBy { Stderr.write("silomerge: error: stopped: \(stop)\n"); throw ExitCode(ExitStatus.fatal) }
        if !r.left.isEmpty || !r.failed.isEmpty { throw ExitCode(ExitStatus.skippedFiles) }
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a merged tree against its plan: every destination present with its SHA-256, nothing unexpected.",
        discussion: """
            BagIt's "complete and valid" for a tree built by `silomerge apply`: every file
            the plan put in the target exists (not as a symlink) and holds the content the
            plan names, and the target holds no other file (the quarantine folder and
            SiloMerge's temporary names aside). Exit codes: 0 complete and valid; 3 files
            missing or unexpected; 4 a file's content differs (corruption); 2 could not
            run.
            """
    )

    @Argument(help: ArgumentHelp("The plan file.", valueName: "plan.json"))
    var plan: String

    @Option(name: .customLong("format"), help: "text or json.")
    var format: Check.Style = .text

    func run() throws {
        let plan = try PlanFile.read(FilePath(self.plan))
        let r = try PlanVerifier.verify(plan)
        switch format {
        case .json:
            print(try JSONOutput.string(VerifyJSON(target: plan.targetRoot, report: r)))
        case .text:
            let state = r.problems.isEmpty ? "complete and valid" : [r.isComplete ? nil : "INCOMPLETE", r.isValid ? nil : "INVALID",
                                                                     r.hasUnexpected ? "unexpected files" : nil].compactMap { $0 }.joined(separator: ", ")
            print("Verified \(plan.targetRoot.display) against \(self.plan): \(r.verifiedFiles) of \(Format.plural(r.expectedFiles, "file")) hold their content "
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
}

/// A progress line for apply: operations, bytes, ETA.
final class ApplyProgressLine: Sendable {
    let enabled: Bool
    private let started = Date()
    private let last = Locked<Date>(.distantPast)
    init(enabled: Bool) { self.enabled = enabled && Terminal.isTTY(STDERR_FILENO) }

    func update(_ p: ApplyProgress) {
        guard enabled else { return }
        let now = Date()
        guard last.withLock({ l -> Bool in if now.timeIntervalSince(l) < 0.2 { return false }; l = now; return true }) else { return }
        let elapsed = now.timeIntervalSince(started)
        var eta = ""
        if p.bytesDone > 0, p.bytesTotal > p.bytesDone {
            eta = " · ETA " + Format.duration(elapsed * Double(p.bytesTotal - p.bytesDone) / Double(p.bytesDone))
        }
        Stderr.write("\r\u{1B}[2K  \(p.operationsDone)/\(Format.plural(p.operationsTotal, "operation")) · \(Format.bytes(p.bytesDone)) of \(Format.bytes(p.bytesTotal))\(eta)")
    }

    func clear() { if enabled { Stderr.write("\r\u{1B}[2K") } }
}
