import ArgumentParser
import Foundation
import SiloMergeCore

extension DuplicateAction: ExpressibleByArgument {}
extension TransferMethod: ExpressibleByArgument {}
extension DerivativeAction: ExpressibleByArgument {}

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
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
                plan.json`). The plan is versioned JSON; the same catalogue and settings
                give byte-identical plans.

                Rules (first decides, later ones break ties): silo-priority,
                richest-metadata, oldest-mtime, shortest-path, preferred-path:GLOB. Default:
                silo-priority,richest-metadata,oldest-mtime,shortest-path.

                Layout tokens: {silo} {path} {year} {month} {day} {name} {stem} {ext}
                {sha256:8} {creator} {keyword} {format}. Default {year}/{month}/{name}.
                Dates come from the metadata's date_created; a content no metadata dates is
                placed by its file's mtime, and the plan says so on its operation and in its
                summary (the mtime is never written anywhere as a date). Names are made safe
                for every common file system; names that differ only by case or Unicode
                normalisation count as the same; two contents on one name are renamed
                deterministically and listed.

                Duplicates (copies that are not canonical): keep (default: sources
                untouched), hardlink (replaced by a link to the canonical copy in the
                target), remove, quarantine (moved under --quarantine, keeping silo/path).
                Hard links to one inode are never taken for independent copies; every
                content keeps a verified copy. Zero-length files are planned like any
                content (the empty content is one).

                Original XMP sidecars (photo.jpg.xmp, photo.xmp) travel beside their
                canonical copy by default, by the same method, verified and journalled like
                it; a sidecar several files share is copied beside each. --no-sidecars
                leaves them in the silos; --sidecars also writes the reconciled metadata as
                one more sidecar.

                --keep-folders: of each group of duplicate folders (silomerge duplicates
                --folders), one folder is kept whole, its tree as in its silo, under
                Folders/<silo>/<path> in the target; the canonical rules choose which (the
                folder whose copies they choose most often). Its files are not placed by
                the layout; the group's other folders and loose copies are duplicates as
                usual. A layout or --quarantine that puts anything under Folders/ is
                refused.

                --derivatives keep-master: of each group of similar images (silomerge
                duplicates --similar: the same photo at another size, quality, format, crop
                or orientation; needs silomerge scan --similar-images), the master is
                planned as usual, and every copy of each derivative is moved to the
                quarantine folder (whatever --duplicates says) once the master is verified
                in the target; each operation names its master, the distance and both sizes
                in pixels. A derivative is planned as usual instead, the plan saying why,
                when its master is not carried by the plan, when it lies in a folder kept
                whole (--keep-folders), or when a copy of it is on another host than the
                master's canonical copy. Bursts (other capture times) are never
                derivatives. Nothing is deleted: apply verifies each derivative's bytes
                before moving it, and undo puts it back. Default keep-all. Not with
                --in-place.

                Everything the silos will still hold after apply is listed in the plan with
                why (left_behind: copied sources, kept duplicates, sidecars of duplicates,
                junk and excluded files, links, files without a full hash…): silomerge plan
                show.

                The plan refuses while metadata conflicts are unresolved (silomerge
                conflicts), unless --allow-conflicts, which lists them in the plan. It also
                refuses (exit 4) while a file of the silos has corruption still open
                (silomerge check lists it): its current content is rot, not the content to
                merge. Restore the file from a good copy (the message names where the
                verified content is) and check, or accept its state (silomerge check
                --accept SILO:PATH), then plan again.

                In-place deduplication (--in-place, no --target): each duplicate group keeps
                its canonical copy (same --rule list) where it is, and every other copy is,
                by --method: reflink (default: shares the canonical copy's blocks with
                FIDEDUPERANGE, which the kernel applies only to identical bytes; each name
                keeps its own file, mode and times; btrfs, XFS, bcachefs, OCFS2), hardlink
                (becomes a link to the canonical copy), quarantine (moved under --quarantine
                DIR, default ./silomerge-quarantine) or remove. Where a file system cannot
                share blocks (ext4, tmpfs), the plan is refused, saying so: choose another
                method. Copies on another file system than their canonical copy cannot be
                reflinked or hard-linked: they stay, listed with why. The plan is
                silomerge-plan/4; apply, verify and undo work as for a merge, re-checking
                (and, but for reflinks, re-hashing) both files before each operation; undo
                gives every name an independent file back. silomerge audit says what each
                method would reclaim.

                Examples:
                  silomerge plan --target /srv/dam -o plan.json
                  silomerge plan --target /srv/dam --layout '{silo}/{path}' --method hardlink \\
                    -o plan.json
                  silomerge plan --target /srv/dam --duplicates quarantine --sidecars \\
                    -o plan.json
                  silomerge plan --target /srv/dam --method move --duplicates remove \\
                    -o plan.json
                  silomerge plan --target /srv/dam --rule oldest-mtime,silo-priority \\
                    -o plan.json
                  silomerge plan --target /srv/dam --derivatives keep-master -o plan.json
                  silomerge plan --in-place --method hardlink -o dedup.json
                """
        )

        @Option(name: .customLong("target"), help: ArgumentHelp("The folder the merged tree is built in (not with --in-place).", valueName: "dir"))
        var target: String?

        @Flag(name: .customLong("in-place"), help: "Deduplicate inside the silos, with no target tree: see In-place deduplication below.")
        var inPlace = false

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

        @Option(name: .customLong("quarantine"), help: ArgumentHelp("Where quarantined duplicates go (default: TARGET/.silomerge-quarantine; with --in-place: ./silomerge-quarantine).", valueName: "dir"))
        var quarantine: String?

        @Option(name: .customLong("method"), help: "How the canonical copy reaches the target: copy (default), hardlink, reflink or move. With --in-place, what becomes of each duplicate: reflink (default), hardlink, quarantine or remove.")
        var method: String?

        @Flag(name: .customLong("hardlink-fallback-copy"), help: "With --method hardlink: copy files on another file system instead of refusing.")
        var hardlinkFallback = false

        @Flag(name: .customLong("sidecars"), help: "Also write the reconciled metadata beside each destination as an XMP sidecar (original sidecars travel anyway).")
        var sidecars = false

        @Flag(name: .customLong("no-sidecars"), help: "Leave the original XMP sidecars in the silos (listed as left behind) instead of carrying them beside their files.")
        var noSidecars = false

        @Flag(name: .customLong("import-manifest"), help: "Write DAM import manifests at the target root: silomerge-manifest.csv and silomerge-exiftool.json (for exiftool -j=).")
        var importManifest = false

        @Flag(name: .customLong("keep-folders"), help: "Keep one folder of each duplicate-folder group whole under Folders/<silo>/<path> in the target instead of placing its files by --layout.")
        var keepFolders = false

        @Option(name: .customLong("derivatives"), help: ArgumentHelp(
            "The same photo at another size or quality: keep-master moves the derivatives to quarantine and keeps the master (needs scan --similar-images).",
            valueName: "keep-all|keep-master"))
        var derivatives: DerivativeAction = .keepAll

        @Flag(name: .customLong("allow-conflicts"), help: "Plan despite unresolved metadata conflicts (listed in the plan).")
        var allowConflicts = false

        @OptionGroup var options: ReconcileOptions
        @OptionGroup var catalogOptions: CatalogOptions
        @OptionGroup var hostOption: HostOption

        func validate() throws {
            try validateInPlace()
            if sidecars && noSidecars {
                throw ValidationError("--sidecars (also write the reconciled sidecar) and --no-sidecars (leave the originals) cannot go together")
            }
        }

        func run() throws {
            let config = try options.loadConfig()
            let catalogue = try catalogOptions.open(config: config, access: .readWrite)
            let rules = try rules.flatMap { $0.split(separator: ",").map(String.init) }.map { text -> CanonicalRule in
                do { return try CanonicalRule(parsing: text) } catch { throw CLIError.usage("--rule: \(error)") }
            }
            if inPlace { return try runInPlace(catalogue: catalogue, config: config, rules: rules) }
            guard let target else { throw CLIError.usage("--target is required (or --in-place)") }
            let method = try transferMethod()
            var request = PlanRequest(target: FilePath(target), layout: layout, canonicalRules: rules, duplicates: duplicates,
                                      quarantine: quarantine.map { FilePath($0) }, transfer: method,
                                      hardlinkFallbackToCopy: hardlinkFallback, carrySidecars: !noSidecars, writeSidecars: sidecars,
                                      writeManifest: importManifest, allowConflicts: allowConflicts, reconcile: options.request(config))
            request.host = try hostOption.identity()
            request.settings.keepFolders = keepFolders
            request.settings.derivatives = derivatives
            let plan: MergePlan
            do {
                plan = try PlanWorkflow.plan(store: catalogue, request) { warning in
                    switch warning {
                    case .unhashedFiles(let unhashed):
                        Stderr.write("silomerge: warning: \(Format.count(unhashed)) catalogued files have no full hash (an audit with --hash dupes?): the plan leaves them in the silos (listed in plan show); run silomerge scan --hash full to plan them\n")
                    case .scannedByOlderVersion(let stale):
                        Stderr.write("silomerge: warning: \(stale.joined(separator: ", ")): last scanned by an older SiloMerge, which kept no record of what it passed over (junk, excluded files, links): the plan cannot list those as left behind; run silomerge scan first\n")
                    case .noPerceptualHashes(let silos):
                        Stderr.write("silomerge: warning: --derivatives keep-master: \(silos.joined(separator: ", ")) hold\(silos.count == 1 ? "s" : "") no perceptual hash (not scanned with --similar-images, or no image in \(silos.count == 1 ? "it" : "them")): derivatives there cannot be found and are kept; scan with --similar-images to find them\n")
                    }
                }
            } catch let e as PlanWorkflow.Failure {
                throw CLIError.usage("\(e)")
            }
            try PlanFile.write(plan, to: FilePath(output))
            let s = PlanSummary.of(plan)
            print("Wrote \(output): \(Format.plural(s.operations, "operation")) for \(Format.plural(s.contents, "distinct content")), "
                  + "\(Format.bytes(s.bytesWritten)) to write into \(s.targetRoot)"
                  + (s.bytesFreed > 0 ? ", \(Format.bytes(s.bytesFreed)) freed in the silos" : "")
                  + (s.collisions > 0 ? ", \(Format.plural(s.collisions, "name collision")) resolved" : "") + "; "
                  + "\(Format.plural(s.leftBehind.entries, "entry", "entries")) stay in the silos (\(Format.count(s.leftBehind.onlyInSilos)) of them only there).")
            if let d = s.derivatives {
                print(PlanText.derivatives(d))
            }
            print("Review it: silomerge plan show \(output); then silomerge apply \(output) --dry-run")
            if plan.hosts.count > 1 {
                print("It spans \(plan.hosts.count) hosts (\(plan.hosts.map(\.description).joined(separator: ", "))): run apply on each, with its --host; each does the operations whose sources it holds.")
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Summarise a plan: its roots, operations, bytes, collisions, conflicts, and everything the silos will still hold, with why.",
            usage: "silomerge plan show <plan.json> [<options>]",
            discussion: """
                Prints every root the plan names (the target, the quarantine folder, each
                silo) with the device and inode it was pinned to, and checks them against
                the catalogue the plan was made from (or --catalog): a plan whose roots do
                not match it (edited by hand, or the silos moved since) is flagged, and the
                command exits 1.

                The text then lists the operations by kind, then what the silos still hold
                once the plan is applied (left behind), by reason: first what exists only in
                the silos (junk, excluded files, sidecars of duplicates, files without a
                full hash…), each entry with its reason and detail; then what is also in the
                target (copied sources, kept duplicates). --operations lists every operation
                with its reason.

                --format json prints {"summary", "left_behind", "collisions", "conflicts"}
                (and "operations" with --operations): summary.left_behind has the counts by
                reason, left_behind every entry (silo, path, kind, size, reason, detail).

                Examples:
                  silomerge plan show plan.json
                  silomerge plan show plan.json --format json |
                    jq '.left_behind[] | select(.reason == "ignored")'
                """)

        @Argument(help: ArgumentHelp("The plan file.", valueName: "plan.json"))
        var plan: String

        @Flag(name: .customLong("operations"), help: "List every operation with its reason.")
        var operations = false

        @Option(name: .customLong("catalog"), help: ArgumentHelp("The catalogue to check the plan's roots against (default: the one the plan names).", valueName: "path"))
        var catalog: String?

        @Option(name: .customLong("format"), help: "text or json.")
        var format: Check.Style = .text

        func run() throws {
            let plan = try PlanFile.read(FilePath(plan))
            var mismatch = false
            var rootsLine = ""
            var problems: [PlanProblem] = []
            switch PlanCatalogue.open(plan, override: catalog) {
            case .success(let catalogue):
                problems = PlanValidator.catalogueProblems(in: plan, catalogued: try catalogue.silos(), catalogue: catalogue.location.display)
                mismatch = !problems.isEmpty
                rootsLine = problems.isEmpty ? "Roots checked against the catalogue \(catalogue.location): they match."
                    : "THE PLAN DOES NOT MATCH ITS CATALOGUE \(catalogue.location) (apply will refuse it):"
            case .failure(let why):
                rootsLine = "Roots not checked: \(why)"
            }
            switch format {
            case .json:
                let bytes = try PlanReport(plan, operations: operations).json()
                FileHandle.standardOutput.write(Data(bytes))
                for p in problems { Stderr.write("silomerge: error: \(p)\n") }
            case .text:
                print(PlanText.summary(plan), terminator: "")
                print(rootsLine)
                for p in problems { print("  \(p)") }
                if operations {
                    print("")
                    for op in plan.operations { print(PlanText.operation(op)) }
                }
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

    /// "Derivatives (--derivatives keep-master): 3 files of 3 contents (1.2 MiB) go to
    /// quarantine, derivatives of 1 master kept in the target".
    static func derivatives(_ d: PlanSummary.DerivativeSummary) -> String {
        guard d.files > 0 else {
            return "Derivatives (--derivatives keep-master): none goes to quarantine (no derivative whose master the plan carries)"
        }
        return "Derivatives (--derivatives keep-master): \(Format.plural(d.files, "file")) of \(Format.plural(d.contents, "derivative content"))"
            + " (\(Format.bytes(d.bytes))) go\(d.files == 1 ? "es" : "") to quarantine, derivatives of \(Format.plural(d.masters, "master")) kept in the target"
    }

    static func operation(_ op: PlanOperation) -> String {
        let source = op.source.map { "\($0.silo):\($0.path.display)" } ?? "(generated)"
        let dest = op.destination.map { " → \($0.display)" } ?? ""
        return "\(Format.pad(String(op.id), 6, right: true))  \(Format.pad(op.kind.rawValue, 20)) \(source)\(dest)\n        \(op.reason)"
    }

    /// What the silos still hold after apply: what exists only there, entry by entry (the
    /// first 50 per reason), then what is also in the target, counted.
    static func leftBehind(_ plan: MergePlan, _ s: LeftBehindSummary) -> String {
        var out = "\nLeft behind: after apply the silos still hold \(Format.count(s.entries)) entr\(s.entries == 1 ? "y" : "ies") (\(Format.bytes(s.bytes)))"
        if s.entries == 0 { return out + ": nothing.\n" }
        out += ", \(Format.count(s.onlyInSilos)) of them only there:\n"
        for (reason, count) in s.reasonsInOrder where !reason.isInTarget {
            out += "  \(Format.pad(Format.count(count), 7, right: true))  \(reason.label) [\(reason.rawValue)]\n"
            let entries = plan.leftBehind.filter { $0.reason == reason }
            for e in entries.prefix(50) {
                let kind = e.kind == .directory ? " (folder)" : e.kind == .regular ? "" : " (\(e.kind.label))"
                out += "             \(e.display)\(kind): \(e.detail)\n"
            }
            if entries.count > 50 { out += "             … \(entries.count - 50) more (plan show --format json)\n" }
        }
        if s.inTarget > 0 {
            out += "  and \(Format.count(s.inTarget)) whose content is also in the target:\n"
            for (reason, count) in s.reasonsInOrder where reason.isInTarget {
                out += "  \(Format.pad(Format.count(count), 7, right: true))  \(reason.label) [\(reason.rawValue)]\n"
            }
        }
        return out
    }

    static func summary(_ plan: MergePlan) -> String {
        let s = PlanSummary.of(plan)
        var out = "Plan \(s.schema), made by SiloMerge \(s.toolVersion) from \(s.catalogue) (scan run \(s.scanRunID), \(s.createdAt))\n"
        if let inPlace = plan.inPlace {
            out += PlanInPlaceText.header(plan, inPlace)
            out += "Canonical copy chosen by: \(s.canonicalRules.joined(separator: ", "))\n"
            out += "Roots (opened without following links, and refused when not these folders):\n"
        } else {
        out += "Layout \(s.layout)   method \(s.transfer.rawValue)   duplicates \(s.duplicates.rawValue)\n"
        if plan.settings.keepFolders {
            out += "Duplicate folders: one of each group kept whole under Folders/<silo>/<path> (--keep-folders)\n"
        }
        if let d = s.derivatives { out += PlanText.derivatives(d) + "\n" }
        out += "Canonical copy chosen by: \(s.canonicalRules.joined(separator: ", "))   "
            + "original sidecars: \(s.carrySidecars ? "carried beside their files" : "left in the silos (--no-sidecars)")\n"
        out += "Roots (opened without following links, and refused when not these folders):\n"
        out += "  target      \(plan.targetRoot.display)  \(anchorText(plan.targetAnchor, plan.targetRoot))\n"
        }
        if plan.usesQuarantine {
            out += "  quarantine  \(plan.quarantineRoot.display)  \(anchorText(plan.quarantineAnchor, plan.quarantineRoot))\n"
        }
        let width = max(10, (plan.silos.map(\.name.count).max() ?? 0) + 1)
        for silo in plan.silos {
            let id = silo.identity.map { "device \($0.device) inode \($0.inode)" } ?? "NO IDENTITY RECORDED (apply refuses it)"
            out += "  silo \(Format.pad(silo.name, width)) \(silo.root.display)  \(id)\(silo.host.map { "  on host \($0)" } ?? "")\n"
        }
        out += "\n"
        out += "\(Format.plural(s.operations, "operation")) for \(Format.plural(s.contents, "distinct content")):\n"
        for (kind, total) in s.kindsInOrder {
            out += "  \(Format.pad(kind.rawValue, 22))\(Format.pad(Format.count(total.operations), 8, right: true))  \(Format.bytes(total.bytes))\n"
        }
        // In place there is no target, and the header says what is reclaimed.
        if plan.inPlace == nil {
            out += "Bytes written into the target: \(Format.bytes(s.bytesWritten)); freed in the silos: \(Format.bytes(s.bytesFreed))\n"
        }
        if s.placedByFileModified > 0 {
            out += "Dates: \(Format.count(s.placedByFileModified)) placed by their file modification time (no capture date), "
                + "the others by their metadata's date_created; a file's mtime is never written as a date\n"
        }
        // In place, an empty left-behind list says nothing: no copy stays for want of a way to act on it.
        if plan.inPlace == nil || s.leftBehind.entries > 0 { out += leftBehind(plan, s.leftBehind) }
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

enum ApplyText {
    /// "the plan's 12 operations are on host b (7) and host c (5)".
    static func elsewhere(_ others: [OtherHostShare]) -> String {
        let total = others.reduce(0) { $0 + $1.operations }
        let list = others.map { "host \($0.host) (\(Format.count($0.operations)))" }.joined(separator: ", ")
        return "the plan's \(Format.plural(total, "operation")) \(total == 1 ? "is" : "are") on \(list.isEmpty ? "other hosts" : list)"
    }

    /// What the operations done in this run did, each kind by its own verb: "Moved 1.8 GiB
    /// (1,234 files and 56 sidecars); removed 12 duplicates (40 MiB). Data written: 2.7 MiB
    /// (moves and links on one file system write none); freed in the silos: 1.84 GiB."
    static func totals(_ plan: MergePlan, _ report: ApplyReport) -> String {
        var count: [OperationKind: Int] = [:]
        var bytes: [OperationKind: Int64] = [:]
        var freedFiles: Set<HostFileID> = []
        var freed: Int64 = 0
        var derivatives = 0
        var derivativeBytes: Int64 = 0
        for o in report.done {
            guard let op = plan.operation(o.op) else { continue }
            if op.derivativeOf != nil {
                derivatives += 1; derivativeBytes += op.size
            } else {
                count[op.kind, default: 0] += 1
                bytes[op.kind, default: 0] += op.size
            }
            if op.kind.isDestructive, let s = op.source, freedFiles.insert(plan.physicalFile(s)).inserted { freed += s.size }
        }
        func n(_ k: OperationKind) -> Int { count[k] ?? 0 }
        func b(_ ks: OperationKind...) -> Int64 { ks.reduce(0) { $0 + (bytes[$1] ?? 0) } }
        func files(_ content: OperationKind, _ sidecar: OperationKind) -> String {
            let parts = [n(content) > 0 ? "\(Format.count(n(content))) file\(n(content) == 1 ? "" : "s")" : nil,
                         n(sidecar) > 0 ? "\(Format.count(n(sidecar))) sidecar\(n(sidecar) == 1 ? "" : "s")" : nil].compactMap { $0 }
            return parts.joined(separator: " and ")
        }
        let would = report.dryRun
        var parts: [String] = []
        for (content, sidecar, verb, future) in [(OperationKind.move, OperationKind.sidecarMove, "moved", "would move"),
                                                 (.copy, .sidecarCopy, "copied", "would copy"), (.reflink, .sidecarReflink, "cloned", "would clone"),
                                                 (.hardlink, .sidecarHardlink, "hard-linked", "would hard-link")]
        where n(content) + n(sidecar) > 0 {
            parts.append("\(would ? future : verb) \(Format.bytes(b(content, sidecar))) (\(files(content, sidecar)))")
        }
        if n(.xmpSidecar) + n(.importManifest) > 0 {
            parts.append("\(would ? "would write" : "wrote") \(Format.count(n(.xmpSidecar) + n(.importManifest))) generated files (\(Format.bytes(b(.xmpSidecar, .importManifest))))")
        }
        for (kind, verb) in [(OperationKind.removeDuplicate, "removed"), (.quarantineDuplicate, "quarantined"),
                             (.linkDuplicate, "replaced by hard links")] where n(kind) > 0 {
            parts.append("\(Format.count(n(kind))) duplicate\(n(kind) == 1 ? "" : "s") \(would ? "would be " : "")\(verb) (\(Format.bytes(b(kind))))")
        }
        if derivatives > 0 {
            parts.append("\(Format.count(derivatives)) derivative\(derivatives == 1 ? "" : "s") \(would ? "would be " : "")quarantined (\(Format.bytes(derivativeBytes)))")
        }
        var out = parts.isEmpty ? "Nothing \(would ? "would be" : "was") done in this run." : parts.joined(separator: "; ").prefix(1).uppercased() + parts.joined(separator: "; ").dropFirst() + "."
        if !would {
            out += " Data written: \(Format.bytes(report.bytesWritten)) (moves and hard links on one file system write none)"
            out += "; freed in the silos: \(Format.bytes(freed))."
        } else {
            out += " Freed in the silos: \(Format.bytes(freed))."
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
        Stderr.write("\r\u{1B}[2K  \(p.operationsDone)/\(Format.plural(p.operationsTotal, "operation")) · \(Format.bytes(p.bytesDone)) of \(Format.bytes(p.bytesTotal))\(eta)")
    }

    func clear() { if enabled { Stderr.write("\r\u{1B}[2K") } }
}
