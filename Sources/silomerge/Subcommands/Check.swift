import ArgumentParser
import Foundation
import SiloMergeCore
import SiloMergeSQLite

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Rescan the catalogued silos and report what changed since the last scan (for cron).",
        usage: "silomerge check [<silo> ...] [<options>]",
        discussion: """
            Rescans every catalogued silo (or those named) incrementally: files
            whose device, inode, size, mtime and ctime are unchanged are not
            read. Then reports, per file:

              new             a file not catalogued before
              missing         gone, and its content did not turn up elsewhere
              modified        size or mtime changed, and the content differs
              moved           the same content at a new path, the old one gone
                              (also across silos)
              merged          gone because a reviewed plan's apply moved, removed
                              or quarantined it (the plan and where the
                              content is now in the detail); no finding is
                              opened for it and it is no change (exit 0)
              corrupted       content changed behind an unchanged size and
                              mtime (bit rot), found when the file is re-read:
                              --rehash, --verify-fraction, or a changed ctime
              restored        a corrupted or missing file reads as its
                              verified content again
              new-duplicate   content that now has more physical copies
              duplicate-gone  content that had several copies and has fewer
              metadata-drift  a sidecar's or manifest's values changed for an
                              unchanged file

            Corrupted and missing files stay OPEN: every later check lists
            them with their age (and exits 4, resp. 3) until the file reads as
            its verified content again (restored), a missing file's content
            turns up elsewhere (moved), or you accept the new state with
            --accept SILO:PATH or --accept-all (recorded with your name and
            the time; --accept runs no check). One missed cron mail never
            makes rot the baseline.

            --verify-fraction 0.1 re-reads the tenth of the files least
            recently verified, so ten nightly runs read everything once. The
            check is recorded in the catalogue (silomerge history) with its
            findings (table `finding`; open ones in `open_finding`).

            Exit codes: 0 nothing changed and nothing open; 1 the same, but
            some files could not be read; 3 changes found, or missing files
            still open; 4 corruption found or still open; 2 the check could
            not run; 64 bad command line; 130/143 interrupted by SIGINT or
            SIGTERM (recorded as interrupted, nothing lost).

            Examples:
              silomerge check                            # nightly, after a scan
              silomerge check -q --verify-fraction 0.1   # silent unless news
              silomerge check --format json > check.json
              silomerge check --rehash marketing         # full fixity check
              silomerge check --accept hr:logo.png --reason "re-exported"
              silomerge check --accept-all marketing     # all open in a silo
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

    @Flag(name: [.customShort("q"), .customLong("quiet")], help: "Print nothing unless something changed or is still open (or went wrong).")
    var quiet = false

    @Flag(name: .customLong("profile"), help: ArgumentHelp(
        "At the end, print on stderr where the time went, by stage, and what limited the check (JSON: a profile object). SILOMERGE_TRACE=1 in the environment does the same."))
    var profile = false

    @Option(name: .customLong("limit"), help: ArgumentHelp("Text format: list at most this many findings (and as many open ones).", valueName: "n"))
    var limit = 50

    @Option(name: .customLong("accept"), help: ArgumentHelp(
        "Close the open findings at this path, taking its current state as the new baseline (repeatable; no check is run).",
        discussion: "SILO:PATH as the findings print it, or a path to the file (or a folder: everything open below it) inside a silo.",
        valueName: "silo:path"))
    var accept: [String] = []

    @Flag(name: .customLong("accept-all"), help: "Close every open finding (of the silos named, or all); no check is run.")
    var acceptAll = false

    @Option(name: .customLong("reason"), help: ArgumentHelp("With --accept: why, recorded with the acceptance.", valueName: "text"))
    var reason: String?

    @OptionGroup var configOption: ConfigOption

    @OptionGroup var catalogOptions: CatalogOptions

    @OptionGroup var hostOption: HostOption

    func validate() throws {
        if !(0...1).contains(verifyFraction) { throw ValidationError("--verify-fraction must be between 0 and 1 (0.1 = a tenth of the files)") }
        if let jobs, jobs < 1 || jobs > 256 { throw ValidationError("--jobs must be between 1 and 256") }
        if limit < 0 { throw ValidationError("--limit must be 0 or more") }
        if reason != nil && accept.isEmpty && !acceptAll { throw ValidationError("--reason goes with --accept or --accept-all") }
        if (!accept.isEmpty || acceptAll) && (rehash || verifyFraction > 0) {
            throw ValidationError("--accept and --accept-all run no check: give --rehash or --verify-fraction on a check of their own")
        }
    }

    func run() throws {
        let config = try configOption.load()
        let catalogue = try catalogOptions.open(config: config, access: .readWrite)
        if !accept.isEmpty || acceptAll {
            try runAccept(catalogue)
            return
        }
        if let policies = config?.reconcile { try Reconciliation.remember(policies: policies, rules: config?.reconcileRules ?? [],
                                                                         derivatives: config?.reconcileDerivatives ?? .separate, in: catalogue) }
        var options = CheckOptions()
        options.scan.rehash = rehash
        options.scan.verifyFraction = verifyFraction
        options.scan.readMetadata = metadata
        if let jobs { options.scan.jobs = jobs }
        options.profile = ProfileTable.wanted(flag: profile)
        let line = ProgressLine(quiet: quiet || format == .json)
        var handler: ScanEngine.ProgressHandler?
        if line.isEnabled { handler = { @Sendable progress in line.update(progress) } }
        let result: CheckResult
        do {
            defer { line.clear() }
            result = try CheckEngine(store: catalogue, interruption: Signals.interruptible(), host: try hostOption.identity())
                .check(silos: silos, options: options, progress: handler)
        }
        // What was reclaimable when this check ended, for the report's trends.
        if let reclaimable = try? RunTrends.measure(DuplicateQuery(silos: result.scan.silos.map(\.name)), in: catalogue) {
            try? RunTrends.record(reclaimable: reclaimable, runID: result.scan.runID, in: catalogue)
        }
        let warnings = result.scan.counts.warnings + result.scan.counts.errors
        let out = FDSink(fd: STDOUT_FILENO)
        switch format {
        case .json:
            out.write(try CheckText.json(result))
        case .text:
            if !(quiet && result.outcome == .unchanged) { out.write(CheckText.text(result, limit: limit, catalog: catalogue.location.display)) }
        }
        out.flush()
        // Warnings (unreadable files) only; the findings were the report.
        DiagnosticPrinter.print(result.scan, catalog: catalogue.location.display, quiet: true)
        ProfileTable.print(result.scan.profile, runID: result.scan.runID)
        switch result.outcome {
        case .corrupted: throw ExitCode(ExitStatus.corruption)
        case .changed: throw ExitCode(ExitStatus.changes)
        case .unchanged: if warnings > 0 { throw ExitCode(ExitStatus.skippedFiles) }
        }
    }

    /// `--accept`, `--accept-all`: closes open findings, recorded with who and when.
    private func runAccept(_ catalogue: any CatalogueStore) throws {
        let known = try catalogue.silos()
        for name in silos where !known.contains(where: { $0.name == name }) { throw CheckError.unknownSilo(name) }
        var selectors: [FindingSelector] = try accept.map { try selector($0, silos: known) }
        if acceptAll {
            selectors += (silos.isEmpty ? known.map(\.name) : silos).map { FindingSelector(silo: $0, path: .root) }
            // Findings of silos removed since were closed with them; any other silo name is kept.
            if silos.isEmpty {
                selectors += Set(try catalogue.openFindings(silos: []).map(\.silo)).map { FindingSelector(silo: $0, path: .root) }
            }
        }
        let lock = try catalogue.lockForScan()
        defer { withExtendedLifetime(lock) {} }
        let user = UserNames.current
        let accepted = try catalogue.acceptFindings(selectors, by: user, reason: reason)
        guard !accepted.isEmpty else {
            throw CheckError.nothingOpen(acceptAll ? (silos.isEmpty ? "any silo" : silos.joined(separator: ", ")) : accept.joined(separator: ", "))
        }
        let out = FDSink(fd: STDOUT_FILENO)
        out.write("Accepted \(accepted.count) open finding\(accepted.count == 1 ? "" : "s") as \(user), \(Timestamp.string(Date()).prefix(19).replacingOccurrences(of: "T", with: " ")) UTC"
                  + (reason.map { " (\($0))" } ?? "") + ":\n")
        for f in accepted {
            let what = f.kind == .corrupted ? "its current content is the new baseline" : "no longer expected"
            out.write("  \(Format.pad(f.kind.rawValue, 10)) \(f.silo):\(f.path.display)  open since \(CheckText.since(f))  → \(what)\n")
        }
        out.flush()
    }

    /// `SILO:PATH`, or a path in the file system inside a catalogued silo.
    private func selector(_ text: String, silos: [Silo]) throws -> FindingSelector {
        func relative(_ s: Substring) -> RelativePath {
            var bytes = Array(s.utf8)
            while bytes.first == 0x2F { bytes.removeFirst() }
            while bytes.last == 0x2F { bytes.removeLast() }
            return RelativePath(bytes: bytes)
        }
        if let colon = text.firstIndex(of: ":"), silos.contains(where: { $0.name == text[..<colon] }) {
            return FindingSelector(silo: String(text[..<colon]), path: relative(text[text.index(after: colon)...]))
        }
        // A path: made absolute, with the symlinks of its existing part resolved (silo roots
        // are stored resolved); the file itself may be gone.
        var absolute = Posix.absolute(FilePath(text))
        var tail: [[UInt8]] = []
        while true {
            if case .success(let real) = Posix.realPath(absolute) { absolute = real; break }
            let bytes = absolute.bytes
            guard let slash = bytes.lastIndex(of: 0x2F), slash > 0 else { break }
            tail.insert(Array(bytes[(slash + 1)...]), at: 0)
            absolute = FilePath(bytes: Array(bytes[..<slash]))
        }
        let full = tail.reduce(absolute.bytes) { $0 + [0x2F] + $1 }
        for silo in silos.sorted(by: { $0.root.bytes.count > $1.root.bytes.count }) {
            let root = silo.root.bytes
            if full == root { return FindingSelector(silo: silo.name, path: .root) }
            if full.starts(with: root + [0x2F]) {
                return FindingSelector(silo: silo.name, path: RelativePath(bytes: Array(full[(root.count + 1)...])))
            }
        }
        throw CLIError.usage("--accept \(text): neither SILO:PATH (silomerge silos lists the silos) nor a path inside a catalogued silo")
    }
}

/// `check --format json`, from Codable types.
struct CheckReport: Encodable {
    struct State: Encodable {
        var size: Int64?
        var mtime: String?
        var mtime_ns: Int64?
        var sha256: String?
        init?(_ s: Finding.State?) {
            guard let s else { return nil }
            size = s.size
            mtime = s.mtimeNs.map { Timestamp.string(nanoseconds: $0) }
            mtime_ns = s.mtimeNs
            sha256 = s.sha256?.hex
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(size, forKey: .size); try c.encode(mtime, forKey: .mtime)
            try c.encode(mtime_ns, forKey: .mtime_ns); try c.encode(sha256, forKey: .sha256)
        }
        enum Key: String, CodingKey { case size, mtime, mtime_ns, sha256 }
    }
    /// A path as JSON: the exact name when it is UTF-8, else a display form and `KEY_b64`.
    static func encodePath(_ bytes: [UInt8], _ key: String, into c: inout KeyedEncodingContainer<AnyKey>) throws {
        if let s = String(validatingUTF8Bytes: bytes) {
            try c.encode(s, forKey: AnyKey(key))
        } else {
            try c.encode(PathDisplay.escape(bytes), forKey: AnyKey(key))
            try c.encode(Data(bytes).base64EncodedString(), forKey: AnyKey(key + "_b64"))
        }
    }
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
    struct Item: Encodable {
        var finding: Finding
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: AnyKey.self)
            try c.encode(finding.kind.rawValue, forKey: AnyKey("kind"))
            try c.encode(finding.silo, forKey: AnyKey("silo"))
            try CheckReport.encodePath(finding.path.bytes, "path", into: &c)
            if let os = finding.oldSilo { try c.encode(os, forKey: AnyKey("old_silo")) }
            if let op = finding.oldPath { try CheckReport.encodePath(op.bytes, "old_path", into: &c) }
            try c.encode(State(finding.old), forKey: AnyKey("old"))
            try c.encode(State(finding.new), forKey: AnyKey("new"))
            try c.encode(finding.detail, forKey: AnyKey("detail"))
        }
    }
    struct Open: Encodable {
        var open: OpenFinding
        var now: Date
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: AnyKey.self)
            try c.encode(open.kind.rawValue, forKey: AnyKey("kind"))
            try c.encode(open.silo, forKey: AnyKey("silo"))
            try CheckReport.encodePath(open.path.bytes, "path", into: &c)
            try c.encode(Timestamp.string(open.openedAt), forKey: AnyKey("since"))
            try c.encode(Int(open.age(at: now).rounded()), forKey: AnyKey("age_seconds"))
            try c.encode(open.openedRun, forKey: AnyKey("opened_run"))
            try c.encode(open.lastRun, forKey: AnyKey("last_run"))
            try c.encode(State(open.verified), forKey: AnyKey("verified"))
            try c.encode(State(open.seen), forKey: AnyKey("seen"))
            try c.encode(open.detail, forKey: AnyKey("detail"))
        }
    }
    struct Scan: Encodable {
        var files: Int, bytes: Int64, files_read: Int, bytes_read: Int64, warnings: Int, errors: Int, seconds: Double
    }

    var result: CheckResult
    var now = Date()

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: AnyKey.self)
        let counts = result.scan.counts
        try c.encode(result.scan.runID, forKey: AnyKey("run_id"))
        try c.encode(result.outcome.rawValue, forKey: AnyKey("outcome"))
        try c.encode(SiloMergeVersion.string, forKey: AnyKey("tool_version"))
        try c.encode(result.scan.silos.map(\.name), forKey: AnyKey("silos"))
        try c.encode(Scan(files: counts.files, bytes: counts.bytes, files_read: counts.filesHashed, bytes_read: counts.bytesHashed,
                          warnings: counts.warnings, errors: counts.errors, seconds: (result.scan.elapsed * 1000).rounded() / 1000),
                     forKey: AnyKey("scan"))
        var kinds = c.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey("counts"))
        for k in Finding.Kind.allCases { try kinds.encode(result.counts[k] ?? 0, forKey: AnyKey(k.rawValue)) }
        var open = c.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey("open_counts"))
        for k in OpenFinding.Kind.allCases { try open.encode(result.open.filter { $0.kind == k }.count, forKey: AnyKey(k.rawValue)) }
        try c.encode(result.findings.map(Item.init), forKey: AnyKey("findings"))
        try c.encode(result.open.map { Open(open: $0, now: now) }, forKey: AnyKey("open_findings"))
        // Only when asked (`check --profile`): where the check's time went.
        if let profile = result.scan.profile { try c.encode(profile, forKey: AnyKey("profile")) }
    }
}

enum CheckText {
    /// "2026-11-21 02:30 (3 d 4 h, run 5)".
    static func since(_ f: OpenFinding, now: Date = Date()) -> String {
        "\(Timestamp.string(f.openedAt).prefix(16).replacingOccurrences(of: "T", with: " ")) (\(Format.age(f.age(at: now))), run \(f.openedRun))"
    }

    static func short(_ sha: SHA256Digest?) -> String { sha.map { String($0.hex.prefix(12)) + "…" } ?? "?" }

    static func text(_ r: CheckResult, limit: Int, catalog: String) -> String {
        let c = r.scan.counts
        var out = "Check of \(r.scan.silos.count) silo\(r.scan.silos.count == 1 ? "" : "s") (\(Format.plural(c.files, "file")), \(Format.bytes(c.bytes))) in \(Format.duration(r.scan.elapsed)): "
        let earlier = r.open.filter { $0.openedRun != r.scan.runID }
        switch r.outcome {
        case .unchanged:
            let merged = r.findings.filter { $0.kind == .merged }.count
            out += merged == 0 ? "nothing changed" : "nothing changed but what applied plans did (\(Format.count(merged)) merged)"
        case .changed: out += r.findings.isEmpty ? "nothing changed, \(earlier.count) finding\(earlier.count == 1 ? "" : "s") still open" : "changes found"
        case .corrupted: out += r.findings.contains { $0.kind == .corrupted } ? "CORRUPTION FOUND" : "CORRUPTION STILL OPEN"
        }
        out += " · read \(Format.plural(c.filesHashed, "file")) (\(Format.bytes(c.bytesHashed))) (run \(r.scan.runID))\n"
        let counts = r.counts
        if !counts.isEmpty {
            out += Finding.Kind.allCases.compactMap { k in counts[k].map { "\(Format.count($0)) \(k.rawValue)" } }.joined(separator: " · ") + "\n\n"
        }
        for f in r.findings.prefix(limit) {
            var line = "  \(Format.pad(f.kind.rawValue, 15)) \(f.silo):\(f.path.display)"
            if f.kind == .moved, let op = f.oldPath { line += "  ← \(f.oldSilo ?? f.silo):\(op.display)" }
            if f.kind == .modified || f.kind == .corrupted || f.kind == .restored, let o = f.old, let n = f.new {
                line += "  (\(short(o.sha256)) → \(n.sha256.map { String($0.hex.prefix(12)) + "…" } ?? "not read")"
                if o.size != n.size, let os = o.size, let ns = n.size { line += ", \(Format.bytes(os)) → \(Format.bytes(ns))" }
                line += ")"
            }
            if let d = f.detail { line += "  \(d)" }
            if (f.kind == .corrupted || f.kind == .missing) && !(f.detail ?? "").contains("still open") {
                line += "  [stays open until restored or accepted]"
            }
            out += line + "\n"
        }
        if r.findings.count > limit {
            out += "  … \(Format.count(r.findings.count - limit)) more: silomerge check --format json, or sqlite3 \(catalog) \"SELECT * FROM finding WHERE run_id = \(r.scan.runID)\"\n"
        }
        if !earlier.isEmpty {
            if !r.findings.isEmpty { out += "\n" }
            out += "Still open from earlier runs (\(earlier.count)): restore the file, or accept its state (silomerge check --accept SILO:PATH)\n"
            for f in earlier.prefix(limit) {
                var line = "  \(Format.pad(f.kind.rawValue, 15)) \(f.silo):\(f.path.display)  since \(since(f))"
                line += "  verified \(short(f.verified.sha256))"
                line += f.seen.map { ", reads \(short($0.sha256))" } ?? ", gone"
                if let d = f.detail { line += "  \(d)" }
                out += line + "\n"
            }
            if earlier.count > limit {
                out += "  … \(Format.count(earlier.count - limit)) more: silomerge check --format json (open_findings), or silomerge history\n"
            }
        }
        return out
    }

    static func json(_ r: CheckResult) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(CheckReport(result: r))) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
