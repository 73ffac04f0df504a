import ArgumentParser
import Foundation
import SiloMergeCore

extension DerivativeMode: ExpressibleByArgument {}

/// What every command that reconciles first shares: policies and resolutions.
struct ReconcileOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: ArgumentHelp(
        "A silomerge.yml whose `reconcile:` section sets the policy per field (kept in the catalogue for later runs).",
        valueName: "file"))
    var config: String?

    @Option(name: .customLong("resolutions"), help: ArgumentHelp(
        "A YAML file of your decisions per asset and field (see `conflicts --template`); remembered for later runs. \"\" forgets it.",
        valueName: "file"))
    var resolutions: String?

    func loadConfig() throws -> SiloMergeConfiguration? {
        try config.map { try SiloMergeConfiguration.load(path: $0) }
    }

    func request(_ config: SiloMergeConfiguration?) -> ReconcileRequest {
        ReconcileRequest(configuration: config, resolutionsFile: resolutions)
    }
}

struct Reconcile: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Reconcile metadata across copies into the unified catalogue (one record per distinct content).",
        usage: "silomerge reconcile [<options>]",
        discussion: """
            For every distinct content, each field gets one value from the values of all
            its copies: their XMP sidecars first, then what their embedded EXIF/IPTC/XMP
            settled on (in the Metadata Working Group's order), then their silo's
            manifest; copies in silo priority order. Values that agree (after
            normalising white space, Unicode and case of list items) are `agreed`;
            values that differ are settled by the field's policy (`resolved`) or left as
            a `conflict`:

              union     keywords, creator: every value, de-duplicated case-insensitively
              priority  title and fields not named: the highest-priority silo's value
              longest   description: the longest text (a truncated caption loses)
              oldest    date_created: the value from the oldest source (newest also exists)
              agree     gps: only when every copy agrees, else a conflict
              conflict  rights: never merged silently

            Change them in --config under `reconcile:` (field: policy). Settle conflicts
            with a resolutions file (--resolutions; start one with `silomerge conflicts
            --template`). The result is stored in the catalogue's asset and asset_field
            tables; conflicts, export and plan run this first, so it is rarely needed on
            its own.

            Similar images (`reconcile: derivatives: merge`, or --derivatives merge): the
            contents of a group that `duplicates --similar` shows (a master and its
            resized, recompressed, converted copies; never two shots of a burst) are one
            asset for what the photo is: title, description, keywords, creator, rights,
            date_created, city, state, country, gps, rating, make and model are decided
            over the values of every content of the group, each value naming the other
            content it came from. width, height, orientation and format stay each file's.
            It needs perceptual hashes: scan with --similar-images.

            Examples:
              silomerge reconcile --config silomerge.yml
              silomerge reconcile --resolutions decisions.yml
              silomerge reconcile --derivatives merge
            """
    )

    @Option(name: .customLong("derivatives"), help: ArgumentHelp(
        "merge: a group of similar images is one asset for its metadata; separate: each content alone (the default). "
            + "Overrides `reconcile: derivatives:`; remembered for later runs.",
        valueName: "merge|separate"))
    var derivatives: DerivativeMode?

    @OptionGroup var options: ReconcileOptions
    @OptionGroup var catalogOptions: CatalogOptions

    func run() throws {
        let config = try options.loadConfig()
        let catalogue = try catalogOptions.open(config: config, access: .readWrite)
        var request = options.request(config)
        request.derivatives = derivatives
        let (tally, summary) = try ReconcileWorkflow.tally(store: catalogue, request)
        print("Reconciled \(Format.plural(summary.assets, "distinct content")): \(Format.plural(tally.agreed, "field")) agreed, "
              + "\(Format.count(tally.resolvedByPolicy)) resolved by policy, \(Format.count(tally.resolvedByPerson)) by your resolutions, "
              + "\(Format.count(summary.conflicts)) conflict\(summary.conflicts == 1 ? "" : "s").")
        if let file = summary.resolutionsFile { print("Resolutions: \(file) (\(Format.plural(summary.resolutions, "decision")))") }
        if let d = summary.derivatives { print(DerivativeText.summary(d)) }
        if summary.conflicts > 0 { print("Next: silomerge conflicts --catalog \(catalogue.location)") }
    }
}

struct Conflicts: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conflicts",
        abstract: "List metadata fields whose copies disagree and no policy settles.",
        usage: "silomerge conflicts [<options>]",
        discussion: """
            Reconciles first (see `silomerge reconcile --help`), then lists each
            conflict: the asset (the first 12 hex digits of its SHA-256), the field, and
            every value with where it came from (silo, path, origin, tag).

            To settle them, write a resolutions file and pass it to any command that
            reconciles:

              silomerge conflicts --template > decisions.yml   # values commented out
              $EDITOR decisions.yml                            # uncomment what to keep
              silomerge conflicts --resolutions decisions.yml  # checks it; lists the rest

            Or in a spreadsheet: --format csv writes one row per asset and field with
            the competing values side by side (value_1, sources_1, value_2, ...); put
            the number of the value to keep in `decision`, or your own value in
            `custom_value`, save as CSV (UTF-8; "," or ";" separated) and pass it back:

              silomerge conflicts --format csv > decisions.csv
              silomerge conflicts --resolutions decisions.csv

            The sheet is checked like a YAML file (the field's type and range, the asset
            known), each error naming the row; rows left empty stay in conflict.

            Exit codes: 0 no conflict remains; 3 conflicts remain (listed); 64 a bad
            resolutions file or configuration. --template exits 0.

            Formats: table (default) or json:
              {"conflicts":[{"sha256","field","policy","copies":[{"silo","path"}],
                "values":[{"value","sources":[{"silo","path","origin","tag","raw"}]}]}],
               "summary":{"assets","conflicts","assets_with_conflicts"}}
            """
    )

    enum Style: String, ExpressibleByArgument, CaseIterable { case table, json, csv }

    @Option(name: .customLong("format"), help: "table, json or csv (a sheet to decide in, read back by --resolutions FILE.csv).")
    var format: Style = .table

    @Flag(name: .customLong("template"), help: "Print a resolutions file to edit instead of the list.")
    var template = false

    @OptionGroup var options: ReconcileOptions
    @OptionGroup var catalogOptions: CatalogOptions

    func run() throws {
        let config = try options.loadConfig()
        let catalogue = try catalogOptions.open(config: config, access: .readWrite)
        let (found, summary) = try ReconcileWorkflow.conflicts(store: catalogue, options.request(config))
        let out = FDSink(fd: STDOUT_FILENO)
        defer { out.flush() }
        if template {
            out.write(ConflictSheet.template(found))
            return
        }
        switch format {
        case .json: out.write(try ConflictText.json(found, summary: summary))
        case .table: out.write(ConflictText.table(found, summary: summary))
        case .csv: out.write(ConflictSheet.write(found))
        }
        // Scripts can tell: 3 while a person still has something to decide.
        if summary.conflicts > 0 { out.flush(); throw ExitCode(ExitStatus.changes) }
    }
}

/// The conflict listings.
enum ConflictText {
    /// Values of one conflicting field, grouped by value, each with its sources.
    static func grouped(_ f: ReconciledField) -> [(value: FieldValue, sources: [FieldSource])] { ConflictsJSON.grouped(f) }

    static func describe(_ s: FieldSource) -> String { ConflictSheet.describe(s) }

    static func table(_ assets: [ReconciledAsset], summary: ReconcileSummary) -> String {
        guard !assets.isEmpty else {
            return "No conflicts among \(Format.plural(summary.assets, "distinct content")).\n"
        }
        var out = ""
        for a in assets {
            let first = a.copies.first.map { "\($0.silo):\($0.path.display)" } ?? "?"
            // Physical copies: hard links to one file are one copy under several names.
            out += "\(a.shortID)  \(a.format.rawValue), \(Format.bytes(a.size)), \(a.physicalCopies) cop\(a.physicalCopies == 1 ? "y" : "ies"): \(first)"
            out += a.copies.count > 1 ? " and \(a.copies.count - 1) more\n" : "\n"
            for f in a.fields where f.status == .conflict {
                out += "  \(f.field.rawValue) (policy \(f.rule)):\n"
                for (value, sources) in grouped(f) {
                    out += "    \(Encode.json(value.display))\n"
                    for s in sources { out += "        from \(describe(s))\n" }
                }
            }
            out += "\n"
        }
        // Classes of conflicts, so a person can settle them by rule (reconcile: in --config).
        let digest = ConflictDigest(assets)
        out += "BY FIELD: " + digest.byField.map { "\($0.field.rawValue) \(Format.count($0.conflicts))" }.joined(separator: ", ") + "\n"
        out += "BY SILO PAIR (which silos disagree, on what):\n"
        for p in digest.bySiloPair.prefix(10) {
            let who = p.silos[0] == p.silos[1] ? "\(p.silos[0]) (within itself)" : p.silos.joined(separator: " × ")
            let on = p.fields.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { "\($0.key.rawValue) \($0.value)" }
            out += "  \(Format.pad(who, 32)) \(Format.plural(p.conflicts, "conflict")): \(on.joined(separator: ", "))\n"
        }
        if digest.bySiloPair.count > 10 { out += "  … \(digest.bySiloPair.count - 10) more pairs (--format json)\n" }
        out += "\n"
        let count = summary.conflicts
        out += "\(Format.count(count)) conflict\(count == 1 ? "" : "s") in \(Format.count(assets.count)) of \(Format.plural(summary.assets, "distinct content")). "
        out += "Settle them: silomerge conflicts --template > decisions.yml, edit, then --resolutions decisions.yml\n"
        return out
    }

    static func json(_ assets: [ReconciledAsset], summary: ReconcileSummary) throws -> String {
        try JSONOutput.string(ConflictsJSON(assets: assets, summary: summary)) + "\n"
    }
}

/// What `reconcile` says of `reconcile: derivatives: merge`.
enum DerivativeText {
    static func summary(_ d: DerivativeMergeSummary) -> String {
        var out = "Derivatives merged: \(Format.plural(d.groups, "group")) of similar images (\(Format.plural(d.contents, "content"))) "
            + "reconciled as one asset each; \(Format.plural(d.fieldsFromOtherContents, "field")) "
            + "filled only from another content of the group."
        if !d.silosWithoutHashes.isEmpty {
            let n = d.silosWithoutHashes.count
            let which = n == d.silos ? "no silo (\(d.silosWithoutHashes.joined(separator: ", "))) holds perceptual hashes"
                : "silo\(n == 1 ? "" : "s") \(d.silosWithoutHashes.joined(separator: ", ")) hold\(n == 1 ? "s" : "") no perceptual hashes"
            out += "\nWarning: derivatives: merge is set, but \(which): their images cannot be grouped "
                + "and are reconciled alone. Scan with --similar-images (and --rehash for files already catalogued)."
        }
        return out
    }
}
