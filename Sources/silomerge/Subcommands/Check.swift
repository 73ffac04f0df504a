import ArgumentParser
import Foundation
import SiloMergeCore

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rescan the catalogued silos and report what changed since the last scan (for cron).",
        usage: "silomerge check [<silo> ...] [<options>]",
        discussion: """
            Rescans every catalogued silo (or those named) incrementally: files whose
            device, inode, size, mtime and ctime are unchanged are not read. Then reports,
            per file:

              new             a file not catalogued before
              missing         gone, and its content did not turn up elsewhere
              modified        size or mtime changed and the content differs
              moved           the same content at a new path, the old path gone (also
                              across silos)
              corrupted       content changed behind an unchanged size and mtime (bit rot);
                              found by --rehash or --verify-fraction
              new-duplicate   content that now has more physical copies than before
              duplicate-gone  content that had several copies and now has fewer
              metadata-drift  a sidecar's or manifest's values changed for an unchanged
                              file

            --verify-fraction 0.1 re-reads the tenth of the files least recently verified,
            so ten nightly runs read everything once. The check is recorded in the
            catalogue (silomerge history) with its findings (table `finding`).

            Exit codes: 0 nothing changed; 1 nothing changed, but some files could not be
            read; 3 changes found; 4 corruption found; 2 the check could not run; 64 bad
            command line.

            Examples:
              silomerge check                            # after a scan, e.g. nightly
              silomerge check -q --verify-fraction 0.1   # silent unless something changed
              silomerge check --format json > check.json
              silomerge check --rehash marketing         # full fixity check of one silo
            """
    )

    enum Style: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Argument(help: ArgumentHelp("Only these catalogued silos (default: all).", valueName: "silo"))
    var silos: [String] = []

    @Option(name: .customLong("format"), help: "text or json.")
    var format: Style = .text

    @Option(name: .customLong("verify-fraction"), help: ArgumentHelp(
        "Also re-read this fraction (0 to 1) of the unchanged files, least recently verified first, and compare their content.",
        valueName: "f"))
    var verifyFraction: Double = 0

    @Flag(name: .customLong("rehash"), help: "Re-read every file (a full fixity check).")
    var rehash = false

    @Option(name: .customLong("jobs"), help: ArgumentHelp("Files read at once (default: one per core, 2 to 8).", valueName: "n"))
    var jobs: Int?

    @Flag(inversion: .prefixedNo, help: "Read metadata of new and changed files, sidecars and manifests (metadata drift needs it).")
    var metadata = true

    @Flag(name: [.customShort("q"), .customLong("quiet")], help: "Print nothing unless something changed (or went wrong).")
    var quiet = false

    @Option(name: .customLong("limit"), help: ArgumentHelp("Text format: list at most this many findings.", valueName: "n"))
    var limit = 50

    @OptionGroup var configOption: ConfigOption
    @OptionGroup var catalogOptions: CatalogOptions

    func validate() throws {
        if !(0...1).contains(verifyFraction) { throw ValidationError("--verify-fraction must be between 0 and 1 (0.1 = a tenth of the files)") }
        if let jobs, jobs < 1 || jobs > 256 { throw ValidationError("--jobs must be between 1 and 256") }
        if limit < 0 { throw ValidationError("--limit must be 0 or more") }
    }

    func run() throws {
        let config = try configOption.load()
        let catalogue = try catalogOptions.open(config: config, access: .readWrite)
        if let policies = config?.reconcile { try Reconciliation.remember(policies: policies, in: catalogue) }
        var options = CheckOptions()
        options.scan.rehash = rehash
        options.scan.verifyFraction = verifyFraction
        options.scan.readMetadata = metadata
        if let jobs { options.scan.jobs = jobs }
        let line = ProgressLine(quiet: quiet || format == .json)
        var handler: ScanEngine.ProgressHandler?
        if line.isEnabled { handler = { @Sendable progress in line.update(progress) } }
        let result: CheckResult
        do {
            defer { line.clear() }
            result = try CheckEngine(store: catalogue).check(silos: silos, options: options, progress: handler)
        }
        let warnings = result.scan.counts.warnings + result.scan.counts.errors
        let out = FDSink(fd: STDOUT_FILENO)
        switch format {
        case .json:
            out.write(try CheckText.json(result))
        case .text:
            if !(quiet && result.outcome == .unchanged) { out.write(CheckText.text(result, limit: limit, catalog: catalogue.location)) }
        }
        out.flush()
        // Warnings (unreadable files) only; the findings were the report.
        DiagnosticPrinter.print(result.scan, catalog: catalogue.location, quiet: true)
        switch result.outcome {
        case .corrupted: throw ExitCode(ExitStatus.corruption)
        case .changed: throw ExitCode(ExitStatus.changes)
        case .unchanged: if warnings > 0 { throw ExitCode(ExitStatus.skippedFiles) }
        }
    }
}

enum CheckText {
    static func text(_ r: CheckResult, limit: Int, catalog: String) -> String {
        let c = r.scan.counts
        var out = "Check of \(r.scan.silos.count) silo\(r.scan.silos.count == 1 ? "" : "s") (\(Format.plural(c.files, "file")), \(Format.bytes(c.bytes))) in \(Format.duration(r.scan.elapsed)): "
        switch r.outcome {
        case .unchanged: out += "nothing changed"
        case .changed: out += "changes found"
        case .corrupted: out += "CORRUPTION FOUND"
        }
        out += " · read \(Format.plural(c.filesHashed, "file")) (\(Format.bytes(c.bytesHashed))) (run \(r.scan.runID))\n"
        let counts = r.counts
        if !counts.isEmpty {
            out += Finding.Kind.allCases.compactMap { k in counts[k].map { "\(Format.count($0)) \(k.rawValue)" } }.joined(separator: " · ") + "\n\n"
        }
        for f in r.findings.prefix(limit) {
            var line = "  \(Format.pad(f.kind.rawValue, 15)) \(f.silo):\(f.path.display)"
            if f.kind == .moved, let op = f.oldPath { line += "  ← \(f.oldSilo ?? f.silo):\(op.display)" }
            if f.kind == .modified || f.kind == .corrupted, let o = f.old, let n = f.new {
                line += "  (\(o.sha256.map { String($0.hex.prefix(12)) } ?? "?")… → \(n.sha256.map { String($0.hex.prefix(12)) + "…" } ?? "not read")"
                if o.size != n.size, let os = o.size, let ns = n.size { line += ", \(Format.bytes(os)) → \(Format.bytes(ns))" }
                line += ")"
            }
            if let d = f.detail { line += "  \(d)" }
            out += line + "\n"
        }
        if r.findings.count > limit {
            out += "  … \(Format.count(r.findings.count - limit)) more: silomerge check --format json, or sqlite3 \(catalog) \"SELECT * FROM finding WHERE run_id = \(r.scan.runID)\"\n"
        }
        return out
    }

    /// The designed shape of `JSONOutput` (`CheckJSON`).
    static func json(_ r: CheckResult) throws -> String {
        try JSONOutput.string(CheckJSON(r)) + "\n"
    }
}
