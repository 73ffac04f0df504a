import ArgumentParser
import Foundation
import SiloMergeCore
import SiloMergeImaging

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write the audit as one self-contained HTML page (charts, tables, conflicts, the latest check).",
        usage: "silomerge report --html <file> [<options>]",
        discussion: """
            From the catalogue (no scanning): summary figures, the silo × silo overlap
            heatmap, reclaimable bytes per silo, formats by bytes, the largest duplicate
            groups, similar images (the same photo at other sizes, from `scan
            --similar-images`, with small greyscale thumbnails made from the files now
            and embedded), the same image saved with different metadata, metadata
            conflicts with their sources, the latest check's findings, and a part for
            management (trends across runs, reclaimable space by type and age, conflicts
            by field and pair of silos, decisions taken; with --plan, what the merge
            plan does and what it leaves behind). One file, no network, no external
            assets: open it in any browser, e-mail it, print it, archive it. Tables sort
            and filter with a little inline script and read the same with scripts off;
            they stop at --rows, and the full data is in `silomerge export` and
            `duplicates --format json`.

            Examples:
              silomerge report --html audit.html
              silomerge audit --metadata marketing=/srv/mk hr=/srv/hr
              silomerge report --html audit.html
            """
    )

    @Option(name: .customLong("html"), help: ArgumentHelp("The page to write.", valueName: "file"))
    var html: String

    @Option(name: .customLong("rows"), help: ArgumentHelp("Rows per table at most (the rest is counted).", valueName: "n"))
    var rows = 200

    @Option(name: .customLong("plan"), help: ArgumentHelp("Add the merge plan's summary: what moves where, what is left behind.", valueName: "plan.json"))
    var plan: String?

    @OptionGroup var configOption: ConfigOption
    @OptionGroup var catalogOptions: CatalogOptions

    func validate() throws {
        if rows < 1 { throw ValidationError("--rows must be 1 or more") }
    }

    func run() throws {
        let config = try configOption.load()
        let catalogue = try catalogOptions.open(config: config, access: .readOnly)
        // A report only reads: the configuration's policies decide this page's conflicts but are
        // not stored.
        if let policies = config?.reconcile,
           try ReconcilePolicies(policies) != (Reconciliation.storedPolicies(in: catalogue) ?? ReconcilePolicies())
            || config?.reconcileDerivatives != Reconciliation.storedDerivatives(in: catalogue) {
            Stderr.write("silomerge: note: the reconcile policies of \(configOption.config ?? "") are used for this report but not stored "
                         + "(report only reads the catalogue); store them with: silomerge reconcile --config \(configOption.config ?? "")\n")
        }
        let data = try HTMLReportData.gather(store: catalogue, rowLimit: rows, policies: config?.reconcile, rules: config?.reconcileRules,
                                               derivatives: config?.reconcile != nil ? config?.reconcileDerivatives : nil,
                                               plan: try plan.map { try PlanFile.read(FilePath($0)) },
                                               thumbnailer: ImageThumbnailer())
        let page = HTMLReport.render(data, rowLimit: rows)
        // Written beside its final name, then renamed: a reader never sees half a page.
        do { try InputFile.writeAtomically(html, Array(page.utf8)) } catch {
            throw CLIError.fatal("\(error.file): cannot write the report: \(error.reason)")
        }
        let f = data.figures
        print("Wrote \(html): \(Format.plural(f.silos, "silo")), \(Format.plural(f.files, "file")), \(Format.plural(f.duplicateGroups, "duplicate group")), "
              + "\(Format.bytes(f.reclaimableBytes)) reclaimable, \(Format.plural(f.conflicts, "conflict"))"
              + (data.check.map { ", latest check \($0.totalFindings) findings" } ?? "") + ".")
    }
}
