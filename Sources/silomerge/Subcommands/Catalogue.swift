import ArgumentParser
import Foundation
import SiloMergeCore

struct CatalogueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalogue",
        abstract: "Merge catalogue shards into one catalogue, or copy a whole catalogue to another backend.",
        discussion: """
            A host that cannot reach the shared catalogue scans into a catalogue of
            its own (a shard: --catalog shard.sqlite --host NAME); later, shards
            are merged into the shared one:

              silomerge catalogue merge --into postgresql://dam@db/silos a.sqlite b.sqlite

            and a whole catalogue moves from one backend to another:

              silomerge catalogue copy silomerge.sqlite postgresql://dam@db/silos
            """,
        subcommands: [Merge.self, Copy.self],
        aliases: ["catalog"]
    )

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "merge",
            abstract: "Merge shards (catalogues scanned on their own) into one catalogue.",
            usage: "silomerge catalogue merge --into <dest> <shard> ...",
            discussion: """
                Each SHARD (an SQLite catalogue, or a postgresql:// URL) is merged into
                DEST (created when missing; SQLite or PostgreSQL) in one transaction of
                DEST: a merge that fails or is killed leaves DEST as it was. Shards are
                only read. What is merged:

                - runs (scans, checks, applies), with their changes, diagnostics and
                  findings; DEST remembers which runs of which shard it holds, so
                  merging a shard twice changes nothing, and a shard scanned again
                  later brings only its new runs;
                - silos, by name, with their host and root; a silo's files (with
                  their metadata, sidecars, manifest values and what the scan did
                  not catalogue) and its open findings are the shard's when the
                  shard's last run of it is newer than DEST's, else left alone;
                - the merge ledger of plans applied on the shard's host.

                The unified catalogue is not merged: run `silomerge reconcile` on
                DEST afterwards (reconcile policies and the resolutions file stay
                DEST's). `duplicates`, `silos` and `history` on DEST then show what
                a direct scan of every shard's silos into DEST would (and `export`,
                once reconciled).

                A silo is one folder on one host. A silo two shards (or a shard and
                DEST itself) hold with another root or on another host is refused,
                naming both, and nothing is merged (exit 64): rename it in one shard
                (scan it under another name there). A shard being scanned right now
                is refused (exit 2); DEST is held as a scan holds it meanwhile.

                Progress goes to standard error (-q: none); a summary per shard and
                in all to standard output. Exit codes: 0 merged; 2 failed (DEST
                unchanged by the shard that failed, shards merged before it stay
                merged); 64 refused before anything was written.

                Examples:
                  silomerge catalogue merge --into silomerge.sqlite nas.sqlite studio.sqlite
                  silomerge catalogue merge --into "$SILOMERGE_CATALOG" /mnt/usb/site3.sqlite
                """)

        @Option(name: .customLong("into"), help: ArgumentHelp(
            "The catalogue to merge into: an SQLite file (created when missing) or a postgresql:// URL.",
            valueName: "dest"))
        var into: String

        @Argument(help: ArgumentHelp("The shards: SQLite catalogues (or postgresql:// URLs), only read.", valueName: "shard"))
        var shards: [String] = []

        @Flag(name: [.customShort("q"), .customLong("quiet")], help: "No progress and no summary; only warnings and errors.")
        var quiet = false

        func validate() throws {
            if shards.isEmpty { throw ValidationError("name at least one shard to merge into \(into)") }
        }

        func run() throws {
            // Open every shard first, and refuse what cannot be merged before writing anything
            // (DEST is not even created when the shards disagree).
            let destID = try CatalogueLocation.parse(into).id
            var opened: [(store: any CatalogueStore, transfer: any CatalogueTransfer, origin: ShardIdentity)] = []
            var seen: Set<String> = []
            for text in shards {
                let store = try openSource(text, role: "shard")
                let shard = try transferable(store)
                if shard.location.id == destID { throw TransferError.sameCatalogue(store.location.display) }
                if store.isScanning() { throw TransferError.busy(store.location.display) }
                guard let origin = try shard.shardIdentity() else {
                    if !quiet { Stderr.write("silomerge: \(store.location.display) records no run: nothing to merge from it\n") }
                    continue
                }
                guard seen.insert(origin.id).inserted else {
                    if !quiet { Stderr.write("silomerge: \(store.location.display) is a shard named before (a copy of it): merged once\n") }
                    continue
                }
                opened.append((store, shard, origin))
            }
            let claims = try opened.map { ($0.origin.label, try $0.transfer.leadingRecords(before: .file).filter { $0.table == .silo }) }
            try ShardMerge.checkClaims(destination: [], shards: [], label: into, claims: claims)
            let destination = try CatalogueFactory.open(into, access: .create)
            let dest = try transferable(destination)
            if let same = opened.first(where: { $0.transfer.location.id == dest.location.id }) {
                throw TransferError.sameCatalogue(same.store.location.display)
            }
            let destSilos = try dest.leadingRecords(before: .file).filter { $0.table == .silo }
            let destShards = try dest.withTransferTransaction { try $0.shardSilos() }
            try ShardMerge.checkClaims(destination: destSilos, shards: destShards, label: destination.location.display, claims: claims)
            let names = Set(try opened.flatMap { try $0.store.silos().map(\.name) }).sorted()
            let lock = try destination.lockForScan(silos: names, purpose: "catalogue merge")
            defer { withExtendedLifetime(lock) {} }

            let progress = ProgressLine(quiet: quiet)
            var total = TransferSummary()
            for shard in opened {
                if !quiet && !progress.isEnabled { Stderr.write("merging \(shard.origin.label) into \(destination.location.display)…\n") }
                let summary = try ShardMerge(shard: shard.transfer, origin: shard.origin).merge(into: dest) { s in
                    progress.show("merging \(shard.origin.label): \(Format.plural(s.runs, "run")), \(Format.plural(s.files, "file")), \(Format.count(s.rows)) rows")
                }
                progress.clear()
                total = total + summary
                if !quiet { print("\(shard.origin.label): " + Self.describe(summary)) }
            }
            if !quiet {
                if opened.count > 1 { print("In all: " + Self.describe(total)) }
                if total.runs > 0 || total.silosAdded + total.silosUpdated > 0 {
                    print("Merged into \(destination.location.display). Run `silomerge reconcile` on it to rebuild the unified catalogue.")
                } else {
                    print("Nothing new: \(destination.location.display) already holds everything these shards recorded.")
                }
            }
        }

        static func describe(_ s: TransferSummary) -> String {
            var parts = ["\(Format.plural(s.runs, "run")) merged (\(Format.count(s.runsAlreadyMerged)) already there)",
                         "silos: \(Format.count(s.silosAdded)) added, \(Format.count(s.silosUpdated)) updated, \(Format.count(s.silosUnchanged)) already current",
                         Format.plural(s.files, "file")]
            if s.metadataValues > 0 { parts.append(Format.plural(s.metadataValues, "metadata value")) }
            if s.sidecars > 0 { parts.append(Format.plural(s.sidecars, "sidecar")) }
            if s.changes > 0 { parts.append(Format.plural(s.changes, "change")) }
            if s.diagnostics > 0 { parts.append(Format.plural(s.diagnostics, "diagnostic")) }
            parts.append(Format.plural(s.findings, "finding"))
            if s.openFindings > 0 { parts.append(Format.plural(s.openFindings, "open finding")) }
            if s.plans > 0 { parts.append(Format.plural(s.plans, "applied plan")) }
            return parts.joined(separator: ", ")
        }
    }

    struct Copy: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "copy",
            abstract: "Copy a whole catalogue into another (SQLite to PostgreSQL, or back).",
            usage: "silomerge catalogue copy <src> <dest>",
            discussion: """
                Copies every run, silo, file, metadata value, finding, the merge ledger,
                the unified catalogue and the settings of SRC into DEST, ids and all, in
                one transaction of DEST: a copy that fails or is killed leaves DEST as
                it was. SRC is only read, and must not be being scanned meanwhile.

                DEST is created when missing. It must be empty, or an earlier copy of
                SRC (every run it holds, SRC holds with the same id and start): it is
                then brought up to date, so copying twice is copying once. Any other
                DEST is refused (exit 64); to bring another catalogue's runs into one
                that is in use, use `silomerge catalogue merge`.

                Examples:
                  silomerge catalogue copy silomerge.sqlite postgresql://dam@db/silos
                  silomerge catalogue copy postgresql://dam@db/silos backup.sqlite
                """)

        @Argument(help: ArgumentHelp("The catalogue to copy (only read).", valueName: "src"))
        var source: String

        @Argument(help: ArgumentHelp("Where to copy it: a new or empty catalogue, or an earlier copy of SRC.", valueName: "dest"))
        var destination: String

        @Flag(name: [.customShort("q"), .customLong("quiet")], help: "No progress and no summary; only warnings and errors.")
        var quiet = false

        func run() throws {
            let sourceStore = try openSource(source, role: "catalogue to copy")
            let src = try transferable(sourceStore)
            if sourceStore.isScanning() { throw TransferError.busy(sourceStore.location.display) }
            let destStore = try CatalogueFactory.open(destination, access: .create)
            let dest = try transferable(destStore)
            if src.location.id == dest.location.id { throw TransferError.sameCatalogue(src.location.display) }
            let lock = try destStore.lockForScan(purpose: "catalogue copy")
            defer { withExtendedLifetime(lock) {} }
            let progress = ProgressLine(quiet: quiet)
            if !quiet && !progress.isEnabled { Stderr.write("copying \(src.location.display) into \(dest.location.display)…\n") }
            let s = try CatalogueCopy.copy(from: src, to: dest) { s in
                progress.show("copying: \(Format.plural(s.runs, "run")), \(Format.plural(s.files, "file")), \(Format.count(s.rows)) rows")
            }
            progress.clear()
            guard !quiet else { return }
            print("Copied \(src.location.display) into \(dest.location.display): \(Format.plural(s.runs, "run")), "
                  + "\(Format.plural(s.silosAdded, "silo")), \(Format.plural(s.files, "file")), "
                  + "\(Format.plural(s.metadataValues, "metadata value")), \(Format.plural(s.findings, "finding")), "
                  + "\(Format.plural(s.openFindings, "open finding")), \(Format.count(s.otherRows)) other rows.")
        }
    }
}

/// The catalogue as a transfer source or destination, or a clear refusal.
private func transferable(_ store: any CatalogueStore) throws -> any CatalogueTransfer {
    guard let t = store as? any CatalogueTransfer else { throw TransferError.unsupported(store.location.display) }
    return t
}

/// Opens a catalogue that `catalogue merge` or `copy` reads from. One that does not exist is
/// named as what it was given for: the open's own advice (run a scan first, or pass --catalog)
/// is for the commands that create a catalogue, not for these.
private func openSource(_ text: String, role: String) throws -> any CatalogueStore {
    do {
        return try CatalogueFactory.open(text, access: .readOnly)
    } catch CatalogueError.missing(let path, let what) {
        throw CatalogueError.cannotOpen(path: path, reason: "\(what): the \(role) must be a catalogue that exists (an SQLite file a scan wrote, or a postgresql:// URL)")
    }
}
