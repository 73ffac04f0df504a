import ArgumentParser
import Foundation
import SiloMergeCore

extension ExportFormat: ExpressibleByArgument {}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the unified catalogue: one record per distinct content, with its copies and reconciled fields.",
        usage: "silomerge export --format <format> [<options>]",
        discussion: """
            Reconciles first (see `silomerge reconcile --help`; --config and
            --resolutions apply), then streams every distinct content (the empty one
            included) to the chosen format. Dates come from metadata only: a file's
            mtime is file_modified, never a creation date.

              jsonl     one JSON object per line: sha256, size, format, width, height,
                        image_sha256, file_modified, copies [{silo, path (+path_b64),
                        size, mtime, mtime_ns, uid, owner}], fields {name: {value,
                        status, rule, sources [{silo, path, origin, tag, raw, value}]}}
              csv       a flat sheet for spreadsheets and DAM importers: UTF-8 with BOM,
                        CRLF, one row per content, lists joined by "; ", cells that
                        would run as spreadsheet formulas prefixed with '
              exiftool  a JSON file `exiftool -j=FILE` applies to every copy (SourceFile
                        is the copy's absolute path, in the silo); fields in conflict
                        are left out. To write metadata into files, use the plan's
                        silomerge-exiftool.json on the merged tree (plan
                        --import-manifest), never on the silos
              xmp       an XMP sidecar per content (<first 16 hex of sha256>.xmp) into
                        a folder
            --profile aem|resourcespace|canto|bynder|generic (with --format csv --plan)
            writes the import sheet that DAM documents: its columns, list separators,
            date format and encoding, one row per merged file (see the README). With
            --plan PLAN, exiftool and xmp name the files as they sit in the merged tree:
            SourceFile is relative to the target (apply it from there: cd TARGET &&
            exiftool -j=tags.json -overwrite_original -r .), and xmp writes PATH.xmp at
            each file's place, as DAMs and Lightroom pair them.
              bagit     with --plan PLAN -o DIR: a complete BagIt 1.0 bag (RFC 8493) of
                        the tree the plan built: data/ holds every file the plan put
                        in the target (copied and verified, or --payload hardlink),
                        manifest-sha256.txt comes from the plan's hashes, with
                        bagit.txt, bag-info.txt (Payload-Oxum, Bagging-Date) and
                        tagmanifest-sha256.txt; check it with `silomerge verify
                        --bagit DIR`. Without --plan: only a manifest-sha256.txt of
                        the silos' copies ("<sha256>  data/<silo>/<path>")

            -o names the file (or, for xmp, the folder); without it, the record formats
            go to standard output. Files are written under a temporary name and renamed
            into place when complete, so an interrupted export never leaves half a file.

            Examples:
              silomerge export --format jsonl -o catalogue.jsonl
              silomerge export --format csv -o dam-import.csv --resolutions decisions.yml
              silomerge export --format exiftool -o tags.json
              # after plan --import-manifest, apply and verify:
              exiftool -j=/srv/dam/silomerge-exiftool.json -overwrite_original -r /srv/dam
              silomerge export --format xmp -o sidecars/
              # after apply: the merged tree as a bag for the archive
              silomerge export --format bagit --plan plan.json -o /archive/bag-2026-12
              silomerge verify --bagit /archive/bag-2026-12
            """
    )

    @Option(name: .customLong("format"), help: "jsonl, csv, exiftool, xmp or bagit.")
    var format: ExportFormat

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp(
        "The file to write (a folder for --format xmp). Default: standard output.", valueName: "path"))
    var output: String?

    @Option(name: .customLong("plan"), help: ArgumentHelp(
        "--format bagit: bag the tree this plan built (after apply) into the folder -o names.", valueName: "plan.json"))
    var plan: String?

    @Option(name: .customLong("payload"), help: ArgumentHelp(
        "With --plan: copy (read, verify, write; default) or hardlink (same file system, nothing read).", valueName: "copy|hardlink"))
    var payload: BagPayload = .copy

    @Option(name: .customLong("profile"), help: ArgumentHelp(
        "--format csv with --plan: a DAM's import sheet (generic, aem, resourcespace, canto, bynder).", valueName: "dam"))
    var profile: DAMProfile?

    @Option(name: .customLong("dam-root"), help: ArgumentHelp(
        "--profile aem: the repository folder the merged tree goes to (default /content/dam/silomerge).", valueName: "path"))
    var damRoot = "/content/dam/silomerge"

    @Flag(name: .customLong("replace"), help: "--format xmp: replace sidecars in the folder that differ (default: refuse).")
    var replace = false

    @OptionGroup var options: ReconcileOptions
    @OptionGroup var catalogOptions: CatalogOptions

    func validate() throws {
        if profile != nil && format != .csv { throw ValidationError("--profile goes with --format csv") }
        if profile != nil && plan == nil {
            throw ValidationError("--profile names the files as they sit in the merged tree: give the plan with --plan")
        }
        if plan != nil && !(format == .bagit || format == .exiftool || format == .xmp || (format == .csv && profile != nil)) {
            throw ValidationError("--plan goes with --format bagit, exiftool or xmp (the files as they sit in the merged tree)")
        }
        if plan != nil && format == .bagit && (output == nil || output == "-") { throw ValidationError("--format bagit --plan writes a bag folder: give it with -o") }
        if format.writesFolder && output == nil { throw ValidationError("--format xmp writes a sidecar per content: give the folder with -o") }
    }

    func run() throws {
        if let plan, format == .bagit { return try bag(plan) }
        let config = try options.loadConfig()
        let catalogue = try catalogOptions.open(config: config, access: .readWrite)
        let destination: ExportDestination
        if format.writesFolder { destination = .directory(FilePath(output!)) }
        else if let output, output != "-" { destination = .file(FilePath(output)) }
        else { destination = .standardOutput }
        var exportOptions = ExportOptions(replaceDifferentSidecars: replace)
        if plan != nil { exportOptions.profile = profile; exportOptions.damRoot = damRoot }
        let outcome: ExportWorkflow.Outcome
        do {
            outcome = try ExportWorkflow.run(store: catalogue, ExportRequest(format: format, destination: destination, options: exportOptions,
                                                                             plan: plan, reconcile: options.request(config)))
        } catch let e as ExportWorkflow.Failure {
            throw CLIError.fatal("--plan \(e)")
        }
        let (summary, reconciled) = (outcome.export, outcome.reconciled)
        if let output, output != "-" {
            print("Exported \(Format.plural(summary.assets, "distinct content")) (\(Format.plural(summary.copies, "copy"))) as \(format.rawValue) to \(output)"
                  + (summary.unchanged > 0 ? " (\(Format.count(summary.unchanged)) unchanged)" : "") + ".")
        }
        if reconciled.conflicts > 0 {
            Stderr.write("silomerge: note: \(Format.count(reconciled.conflicts)) field\(reconciled.conflicts == 1 ? " is" : "s are") in conflict and exported without a value: silomerge conflicts\n")
        }
        // Fields in conflict were said above; other skips are worth a warning.
        let skipped = summary.skipped.filter { $0.key != .fieldInConflict }
        if !skipped.isEmpty {
            let parts = skipped.sorted { $0.key.label < $1.key.label }.map { "\(Format.count($0.value)) \($0.key.label)" }
            Stderr.write("silomerge: warning: skipped \(parts.joined(separator: ", "))\n")
            for s in summary.skipExamples.filter({ $0.reason != .fieldInConflict }).prefix(10) {
                Stderr.write("silomerge:   \(s.silo ?? "")\(s.path.map { ":" + $0.display } ?? "") \(s.field?.rawValue ?? "") (\(s.reason.label))\n")
            }
        }
    }

    /// The merged tree of a plan as a BagIt bag.
    func bag(_ planFile: String) throws {
        let planPath = Posix.absolute(FilePath(planFile))
        let plan = try PlanFile.read(FilePath(planFile))
        let journal = Posix.absolute(FilePath(planFile + ".journal"))
        // Nothing may change the tree while it is bagged: share the plan's lock with verify.
        let lock = try PlanLock(journal: journal, purpose: "export --format bagit \(planPath.display)", shared: true)
        defer { withExtendedLifetime(lock) {} }
        let line = ProgressLine(quiet: false)
        let summary: BagSummary
        do {
            defer { line.clear() }
            summary = try BagItBagger.bag(plan: plan, journal: FileManager.default.fileExists(atPath: journal.string ?? "") ? journal : nil,
                                          into: Posix.absolute(FilePath(output!)), payload: payload,
                                          progress: line.isEnabled ? { @Sendable done, total in line.show("bagging \(done)/\(total)") } : nil)
        } catch let e as BagItBagger.Failure {
            throw CLIError.fatal("\(e)")
        }
        print("Bagged \(plan.targetRoot.display) into \(output!): \(Format.plural(summary.files, "file")), \(Format.bytes(summary.bytes))"
              + (payload == .copy ? " (copied and verified)" : " (hard-linked)") + "; check it with: silomerge verify --bagit \(output!)")
        if !summary.leftOut.isEmpty {
            Stderr.write("silomerge: warning: \(Format.plural(summary.leftOut.count, "file")) of the tree left out of the bag: a BagIt manifest holds only UTF-8 names\n")
            for p in summary.leftOut.prefix(10) { Stderr.write("silomerge:   \(p.display)\n") }
            throw ExitCode(ExitStatus.skippedFiles)
        }
    }
}

extension BagPayload: ExpressibleByArgument {}

extension DAMProfile: ExpressibleByArgument {}
