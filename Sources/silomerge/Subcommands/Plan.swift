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
                content chooses the canonical copy by the ordered --rule list, places it by the
                --layout template, and decides what happens to the other copies (--duplicates).
                Every choice carries its reason (`silomerge plan show plan.json`). The plan is
                versioned JSON; the same catalogue and settings give byte-identical plans.

                Rules (first decides, later ones break ties): silo-priority, richest-metadata,
                oldest-mtime, shortest-path, preferred-path:GLOB. Default:
                silo-priority,richest-metadata,oldest-mtime,shortest-path.

                Layout tokens: {silo} {path} {year} {month} (date_created, else mtime) {name}
                {stem} {ext} {sha256:8} {creator} {keyword}. Default {year}/{month}/{name}.
                Names are made safe for every common file system; names that differ only by case
                or Unicode normalisation count as the same; two contents on one name are renamed
                deterministically and listed.

                Duplicates (copies that are not canonical): keep (default: sources untouched),
                hardlink (replaced by a link to the canonical copy in the target), remove,
                quarantine (moved under --quarantine, keeping silo/path). Hard links to one
                inode are never taken for independent copies; every content keeps a verified copy.

                The plan refuses while metadata conflicts are unresolved (silomerge conflicts),
                unless --allow-conflicts, which lists them in the plan.

                Examples:
                  silomerge plan --target /srv/dam -o plan.json
                  silomerge plan --target /srv/dam --layout '{silo}/{path}' --method hardlink -o plan.json
                  silomerge plan --target /srv/dam --duplicates quarantine --sidecars -o plan.json
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
            let catalogue = try catalogOptions.open(config: config, create: false)
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
            // Every root is pinned by device and inode (its nearest existing parent for a
            // folder apply will make), with its links resolved: apply, undo and verify refuse
            // a root that is not that folder any more.
            let (targetRoot, targetAnchor) = try PlanRoots.anchor(FilePath(target), what: "the target")
            let quarantineRoot = try quarantine.map { try PlanRoots.anchor(FilePath($0), what: "the quarantine folder").root }
            let settings = PlanSettings(targetRoot: targetRoot, layout: layout,
                                        canonicalRules: rules.isEmpty ? CanonicalRule.defaults : rules,
                                        duplicates: duplicates, quarantineRoot: quarantineRoot,
                                        transfer: method, hardlinkFallbackToCopy: hardlinkFallback, writeSidecars: sidecars,
                                        writeManifest: importManifest, allowConflicts: allowConflicts)
            let quarantineAnchor = try PlanRoots.anchor(settings.effectiveQuarantineRoot, what: "the quarantine folder").anchor
            let silos = try catalogue.silos().map { try PlanRoots.identify($0) }
            // The plan's time is the scan's, so the same catalogue and settings give the same bytes.
            let input = PlanInput(assets: assets, silos: silos, catalogueIdentity: Posix.absolute(FilePath(catalogue.location)).display,
                                  scanRunID: lastScan.id, createdAt: lastScan.finishedAt ?? lastScan.startedAt,
                                  targetAnchor: targetAnchor, quarantineAnchor: quarantineAnchor)
            let plan = try Planner(settings: settings).plan(input)
            try PlanFile.write(plan, to: FilePath(output))
            let s = PlanSummary.of(plan)
            print("Wrote \(output): \(Format.count(s.operations)) operations for \(Format.count(s.contents)) distinct contents, "
                  + "\(Format.bytes(s.bytesWritten)) to write into \(s.targetRoot)"
                  + (s.bytesFreed > 0 ? ", \(Format.bytes(s.bytesFreed)) freed in the silos" : "")
                  + (s.collisions > 0 ? ", \(s.collisions) name collisions resolved" : "") + ".")
            print("Review it: silomerge plan show \(output); then silomerge apply \(output) --dry-run")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Summarise a plan: its roots, operations, bytes, collisions, conflicts, what stays untouched; --operations lists each with its reason.",
            discussion: """
                Prints every root the plan names (the target, the quarantine folder, each silo)
                with the device and inode it was pinned to, and checks them against the
                catalogue the plan was made from (or --catalog): a plan whose roots do not match
                it (edited by hand, or the silos moved since) is flagged, and the command exits 1.
                """)

        @Argument(help: ArgumentHelp("The plan file.", valueName: "plan.json"))
        var plan: String

        @Flag(name: .customLong("operations"), help: "List every operation with its reason.")
        var operations = false

        @Option(name: .customLong("catalog"), help: ArgumentHelp("The catalogue to check the plan's roots against (default: the one the plan names).", valueName: "path"))
        var catalog: String?

        func run() throws {
            let plan = try PlanFile.read(FilePath(plan))
            print(PlanText.summary(plan))
            var mismatch = false
            switch PlanCatalogue.open(plan, override: catalog) {
            case .success(let catalogue):
                let problems = PlanValidator.catalogueProblems(in: plan, catalogued: try catalogue.silos(), catalogue: catalogue.location)
                if problems.isEmpty {
                    print("Roots checked against the catalogue \(catalogue.location): they match.")
                } else {
                    mismatch = true
                    print("THE PLAN DOES NOT MATCH ITS CATALOGUE \(catalogue.location) (apply will refuse it):")
                    for p in problems { print("  \(p)") }
                }
            case .failure(let why):
                print("Roots not checked: \(why)")
            }
            if operations {
                print("")
                for op in plan.operations { print(PlanText.operation(op)) }
            }
            if mismatch { throw ExitCode(ExitStatus.skippedFiles) }
        }
    }
}

enum PlanText {
    /// "device 2049 inode 12" or "to be made in /srv (device 2049 inode 12)".
    static func anchorText(_ anchor: RootAnchor?, _ root: FilePath) -> String {
        guard let anchor else { return "NO IDENTITY RECORDED (apply refuses it)" }
        if anchor.path == root { return "device \(anchor.device) inode \(anchor.inode)" }
        return "to be made in \(anchor.path.display) (device \(anchor.device) inode \(anchor.inode))"
    }

    static func operation(_ op: PlanOperation) -> String {
        let source = op.source.map { "\($0.silo):\($0.path.display)" } ?? "(generated)"
        let dest = op.destination.map { " → \($0.display)" } ?? ""
        return "\(Format.pad(String(op.id), 6, right: true))  \(Format.pad(op.kind.rawValue, 20)) \(source)\(dest)\n        \(op.reason)"
    }

    static func summary(_ plan: MergePlan) -> String {
        let s = PlanSummary.of(plan)
        var out = "Plan \(s.schema), made by SiloMerge \(s.toolVersion) from \(s.catalogue) (scan run \(s.scanRunID), \(s.createdAt))\n"
        out += "Layout \(s.layout)   method \(s.transfer.rawValue)   duplicates \(s.duplicates.rawValue)\n"
        out += "Canonical copy chosen by: \(s.canonicalRules.joined(separator: ", "))\n"
        out += "Roots (opened without following links, and refused when not these folders):\n"
        out += "  target      \(plan.targetRoot.display)  \(anchorText(plan.targetAnchor, plan.targetRoot))\n"
        if plan.usesQuarantine {
            out += "  quarantine  \(plan.quarantineRoot.display)  \(anchorText(plan.quarantineAnchor, plan.quarantineRoot))\n"
        }
        let width = max(10, (plan.silos.map(\.name.count).max() ?? 0) + 1)
        for silo in plan.silos {
            let id = silo.identity.map { "device \($0.device) inode \($0.inode)" } ?? "NO IDENTITY RECORDED (apply refuses it)"
            out += "  silo \(Format.pad(silo.name, width)) \(silo.root.display)  \(id)\n"
        }
        out += "\n"
        out += "\(Format.count(s.operations)) operations for \(Format.count(s.contents)) distinct contents:\n"
        for (kind, total) in s.kindsInOrder {
            out += "  \(Format.pad(kind.rawValue, 22))\(Format.pad(Format.count(total.operations), 8, right: true))  \(Format.bytes(total.bytes))\n"
        }
        out += "Bytes written into the target: \(Format.bytes(s.bytesWritten)); freed in the silos: \(Format.bytes(s.bytesFreed))\n"
        out += "Untouched: \(Format.count(s.untouched.files)) files (\(Format.bytes(s.untouched.bytes)))"
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
        Stderr.write("\r\u{1B}[2K  \(p.operationsDone)/\(p.operationsTotal) operations · \(Format.bytes(p.bytesDone)) of \(Format.bytes(p.bytesTotal))\(eta)")
    }

    func clear() { if enabled { Stderr.write("\r\u{1B}[2K") } }
}
