import ArgumentParser
import Foundation
import SiloMergeCore

extension ExportFormat: ExpressibleByArgument {}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the unified catalogue: one record per distinct content, with its copies and reconciled fields.",
        usage: "silomerge export --format <format> [<options>]",
        discussion: """
            Reconciles first (see `silomerge reconcile --help`; --config and --resolutions
            apply), then streams every distinct content (the empty one included) to the
            chosen format. Dates come from metadata only: a file's mtime is file_modified,
            never a creation date.

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
              bagit     a BagIt manifest-sha256.txt: "<sha256>  data/<silo>/<path>" per
                        copy

            -o names the file (or, for xmp, the folder); without it, the record formats go
            to standard output. Files are written under a temporary name and renamed into
            place when complete, so an interrupted export never leaves half a file.

            Examples:
              silomerge export --format jsonl -o catalogue.jsonl
              silomerge export --format csv -o dam-import.csv --resolutions decisions.yml
              silomerge export --format exiftool -o tags.json
              # after plan --import-manifest, apply and verify:
              exiftool -j=/srv/dam/silomerge-exiftool.json -overwrite_original -r /srv/dam
              silomerge export --format xmp -o sidecars/
            """
    )

    @Option(name: .customLong("format"), help: "jsonl, csv, exiftool, xmp or bagit.")
    var format: ExportFormat

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp(
        "The file to write (a folder for --format xmp). Default: standard output.", valueName: "path"))
    var output: String?

    @Flag(name: .customLong("replace"), help: "--format xmp: replace sidecars in the folder that differ (default: refuse).")
    var replace = false

    @OptionGroup var options: ReconcileOptions
    @OptionGroup var catalogOptions: CatalogOptions

    func validate() throws {
        if format.writesFolder && output == nil { throw ValidationError("--format xmp writes a sidecar per content: give the folder with -o") }
    }

    func run() throws {
        let config = try options.loadConfig()
        let catalogue = try catalogOptions.open(config: config, access: .readWrite)
        let destination: ExportDestination
        if format.writesFolder { destination = .directory(FilePath(output!)) }
        else if let output, output != "-" { destination = .file(FilePath(output)) }
        else { destination = .standardOutput }
        var exportOptions = ExportOptions()
        exportOptions.replaceDifferentSidecars = replace
        let writer = try ExportWriter(format: format, destination: destination, options: exportOptions)
        let reconciled = try options.run(catalogue, config: config) { try writer.write($0) }
        let summary = try writer.finish()
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
}
