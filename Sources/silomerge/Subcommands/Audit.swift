import ArgumentParser
import Foundation
import SiloMergeCore

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Scan silos for duplicates and print how much is duplicated, where, and between whom.",
        discussion: """
            Scans with --hash dupes (files whose size is unique are never read), records
            the result in the catalogue, and prints per silo: files and bytes, bytes
            duplicated inside it and shared with other silos; the silo × silo overlap;
            what keeping one copy of everything would reclaim; the duplicate folders
            (folders holding the same files at the same places below them, whatever the
            names: the largest by bytes, with their file counts); and the largest
            duplicate groups. A group of files lying in the folders of one folder group,
            one copy in each, is left to the folder group unless --expand is given.

            Hard links are one physical copy: shown, never counted as reclaimable. -q
            hides the progress line and notes (as jdupes' -q), not the report.

            With --no-scan nothing is read: the report comes from the catalogue as the
            last scans left it, for the silos named (names, not paths) or for every
            silo, on whichever hosts scanned them. That is how one machine audits a
            shared catalogue that scanners on many hosts fill.

            Examples:
              silomerge audit Fixtures/marketing Fixtures/hr Fixtures/training
              silomerge audit --config silomerge.yml --top 20
              silomerge audit --format json mk=/srv/marketing hr=/srv/hr > audit.json
              silomerge audit --no-scan --catalog postgresql://dam@db/silos
            """
    )

    @Argument(help: ArgumentHelp("Silos as NAME=PATH or PATH.", valueName: "silo"))
    var silos: [String] = []

    @Option(name: .customLong("top"), help: "How many of the largest duplicate groups to list.")
    var top = 10

    @Option(name: .customLong("format"), help: "text or json.")
    var format: AuditFormat = .text

    @Flag(name: .customLong("include-empty"), help: "Count zero-length files as duplicates of each other.")
    var includeEmpty = false

    @Flag(name: .customLong("metadata"), help: "Also read metadata (embedded, sidecars, manifests): finds the same image saved with different metadata.")
    var metadata = false

    @Flag(name: .customLong("expand"), help: "List the file groups inside duplicate folders among the largest groups too.")
    var expand = false

    @Flag(name: .customLong("no-scan"), help: "Report from the catalogue without scanning: silos are named as in the catalogue (default: all of them).")
    var noScan = false

    @OptionGroup var flags: ScanFlags
    @OptionGroup var catalogOptions: CatalogOptions

    func options() -> ScanOptions {
        var o = flags.options(hashMode: .dupes, kind: .audit)
        if metadata { o.readMetadata = true }
        return o
    }

    enum AuditFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    func validate() throws {
        if top < 0 { throw ValidationError("--top must be 0 or more") }
        if flags.similarImages {
            throw ValidationError("--similar-images: audit reads no file of unique size, so it hashes few images; run silomerge scan --similar-images, then audit shows SIMILAR IMAGES")
        }
        if noScan {
            let reading = [("--metadata", metadata), ("--rehash", flags.rehash), ("--scan-for-xmp", flags.scanForXMP)]
            if let (flag, _) = reading.first(where: { $0.1 }) {
                throw ValidationError("\(flag) reads files, and --no-scan reads none: drop one of them")
            }
            if flags.profile {
                throw ValidationError("--profile times a scan, and --no-scan runs none: drop one of them")
            }
            if let path = silos.first(where: { $0.contains("=") || $0.contains("/") }) {
                throw ValidationError("--no-scan takes the names of catalogued silos, not folders ('\(path)'): see silomerge silos")
            }
        }
    }

    func run() throws {
        let config = try flags.loadConfig()
        if noScan { return try reportCatalogue(config: config) }
        let definitions = flags.applyingSiloFlags(try flags.silos(arguments: silos, config: config))
        guard !definitions.isEmpty else {
            throw CLIError.usage("name the folders to audit: silomerge audit marketing=/srv/marketing hr=/srv/hr (or --config FILE)")
        }
        _ = try ScanEngine.validate(definitions, options: options())
        let catalogue = try catalogOptions.open(config: config, access: .create)
        // The configuration's policies are remembered whichever command reads it.
        if let policies = config?.reconcile { try Reconciliation.remember(policies: policies, rules: config?.reconcileRules ?? [],
                                                                         derivatives: config?.reconcileDerivatives ?? .separate, in: catalogue) }
        let result = try ScanRunner.run(catalogue: catalogue, silos: definitions,
                                        options: options(), flags: flags)
        let query = DuplicateQuery(silos: result.silos.map(\.name), includeEmpty: includeEmpty)
        let report = try AuditReport(store: catalogue, query: query, top: top, scan: result, expand: expand)
        // Kept for the report's trends; failing to keep it is not worth failing the audit for.
        try? RunTrends.record(reclaimable: report.summary.reclaimableBytes, runID: result.runID, in: catalogue)
        try write(report, catalogue: "\(catalogue.location)",
                  similar: try similarImages(catalogue, names: result.silos.map(\.name)))
        DiagnosticPrinter.print(result, catalog: catalogue.location.display, quiet: flags.quiet)
        OpenFindingsPrinter.print(result, quiet: flags.quiet)
        ProfileTable.print(result.profile, runID: result.runID)
        if result.status == .warnings || OpenFindingsPrinter.corruptionOpen(result) { throw ExitCode(ExitStatus.skippedFiles) }
    }

    /// `--no-scan`: the report of the catalogue as it is, read-only (nothing is recorded).
    private func reportCatalogue(config: SiloMergeConfiguration?) throws {
        let catalogue = try catalogOptions.open(config: config, access: .readOnly)
        let names = silos.isEmpty ? (config?.silos.map(\.name) ?? []) : silos
        let report = try AuditReport(store: catalogue, query: DuplicateQuery(silos: names, includeEmpty: includeEmpty), top: top, expand: expand)
        try write(report, catalogue: "\(catalogue.location)", asLastScanned: true,
                  similar: try similarImages(catalogue, names: names))
    }

    /// The SIMILAR IMAGES section's groups (text only): from the perceptual hashes full scans
    /// recorded; audit's own scan (--hash dupes) reads no file of unique size, so it adds few.
    private func similarImages(_ catalogue: any CatalogueStore, names: [String]) throws -> SimilarImages? {
        guard format == .text else { return nil }
        let known = try catalogue.silos()
        return try SimilarImages.find(in: catalogue, silos: known, only: names.filter { n in known.contains { $0.name == n } })
    }

    /// SIMILAR IMAGES: the largest groups of the same photo at other sizes (`duplicates --similar`).
    private func writeSimilar(_ similar: SimilarImages, to out: FDSink) {
        out.write("\nSIMILAR IMAGES\n")
        guard similar.images > 0 else {
            out.write("No perceptual hashes in the catalogue for these silos: `silomerge scan --similar-images`\ncomputes them "
                      + "(audit reads no file of unique size, so most resized copies are not hashed here).\n")
            return
        }
        similar.writeTable(to: out, limit: top)
        out.write("Every group: silomerge duplicates --similar\n")
    }

    /// The report on stdout. It is what was asked for: -q hides progress and notes (as jdupes'
    /// -q), not it; only the closing pointer to `duplicates`.
    private func write(_ report: AuditReport, catalogue: String, asLastScanned: Bool = false, similar: SimilarImages? = nil) throws {
        let out = FDSink(fd: STDOUT_FILENO)
        switch format {
        case .text:
            report.writeText(to: out)
            if let similar { writeSimilar(similar, to: out) }
            if !flags.quiet {
                out.write("\nCatalogue: \(catalogue)\(asLastScanned ? ", as last scanned" : ""). Every group: silomerge duplicates --catalog \(catalogue)\n")
            }
        case .json:
            try report.writeJSON(to: out)
        }
        out.flush()
    }
}
