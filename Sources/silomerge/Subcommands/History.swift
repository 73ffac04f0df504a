import ArgumentParser
import Foundation
import SiloMergeCore

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "List past scans, audits, checks, applies and undos recorded in the catalogue, and the findings still open.",
        usage: "silomerge history [<options>]",
        discussion: """
            Runs come newest first: kind, start (UTC), duration, status (a
            check's, apply's or undo's outcome beside it), files, and how many
            were new, changed and gone (for apply and undo: the plan's
            operations done, skipped, refused and failed). A run stopped by
            SIGINT or SIGTERM, or left `running` by a process that was killed,
            is shown as `interrupted`.

            Below them: every finding still open (corrupted and missing
            files, kept open until restored or accepted: see silomerge check
            --help) with its age, and the findings closed most recently, with
            how, when and by whom.

            --format json gives {"runs":[…],"open_findings":[…],
            "closed_findings":[…]}.
            """)

    @Option(name: .customLong("limit"), help: "How many runs, newest first.")
    var limit = 20

    @Option(name: .customLong("format"), help: "table or json.")
    var format: HistoryFormat = .table

    @OptionGroup var configOption: ConfigOption
    @OptionGroup var catalogOptions: CatalogOptions

    enum HistoryFormat: String, ExpressibleByArgument, CaseIterable { case table, json }

    struct RunItem: Encodable {
        var id: Int64, kind: String, status: String, started_at: String, finished_at: String?, tool_version: String, host: String
        var hash_mode: String, silos: [String], files: Int, bytes: Int64, new: Int, changed: Int, missing: Int, hashed: Int
        var bytes_hashed: Int64, warnings: Int, errors: Int, outcome: String?
        /// Apply and undo: the plan and what was done with it.
        var plan: PlanItem?
    }
    struct PlanItem: Encodable {
        var path: String, journal: String, sha256: String, operations: Int, done: Int, skipped: Int, refused: Int, failed: Int
        var bytes_written: Int64
        init(_ p: PlanRunRecord) {
            path = p.plan; journal = p.journal; sha256 = p.planSHA256; operations = p.operations; done = p.done
            skipped = p.skipped; refused = p.refused; failed = p.failed; bytes_written = p.bytesWritten
        }
    }
    struct FindingItem: Encodable {
        var kind: String, silo: String, path: String, path_b64: String?, since: String, age_seconds: Int, opened_run: Int64
        var last_run: Int64, verified_sha256: String?, seen_sha256: String?, detail: String?
        var closed_at: String?, resolution: String?, closed_by: String?, closed_run: Int64?, closed_detail: String?
        init(_ f: OpenFinding, now: Date) {
            kind = f.kind.rawValue; silo = f.silo
            if let s = String(validatingUTF8Bytes: f.path.bytes) { path = s; path_b64 = nil }
            else { path = f.path.display; path_b64 = Data(f.path.bytes).base64EncodedString() }
            since = Timestamp.string(f.openedAt); age_seconds = Int(f.age(at: now).rounded()); opened_run = f.openedRun
            last_run = f.lastRun; verified_sha256 = f.verified.sha256?.hex; seen_sha256 = f.seen?.sha256?.hex; detail = f.detail
            closed_at = f.closedAt.map(Timestamp.string); resolution = f.resolution?.rawValue; closed_by = f.closedBy
            closed_run = f.closedRun; closed_detail = f.closedDetail
        }
    }
    struct Report: Encodable {
        var runs: [RunItem]
        var open_findings: [FindingItem]
        var closed_findings: [FindingItem]
    }

    func run() throws {
        let catalogue = try catalogOptions.open(config: try configOption.load(), access: .readOnly)
        let recorded = try catalogue.runs(limit: limit)
        let plans = try catalogue.planRuns(recorded.filter { $0.kind == .apply || $0.kind == .undo }.map(\.id))
        // A run still `running` with nobody holding the catalogue's scan lock was killed.
        let scanning = catalogue.isScanning()
        let runs = recorded.map { r -> RunRecord in
            var r = r
            if r.status == .running && !scanning { r.status = .interrupted }
            return r
        }
        let open = try catalogue.openFindings(silos: [])
        let closed = try catalogue.closedFindings(limit: 10)
        let now = Date()
        switch format {
        case .json:
            let items = runs.map { r in
                let c = r.counts
                return RunItem(id: r.id, kind: r.kind.rawValue, status: r.status.rawValue, started_at: Timestamp.string(r.startedAt),
                               finished_at: r.finishedAt.map(Timestamp.string), tool_version: r.toolVersion, host: r.host,
                               hash_mode: r.hashMode, silos: r.silos, files: c.files, bytes: c.bytes, new: c.filesNew,
                               changed: c.filesChanged, missing: c.filesMissing, hashed: c.filesHashed, bytes_hashed: c.bytesHashed,
                               warnings: c.warnings, errors: c.errors, outcome: r.outcome,
                               plan: plans[r.id].map(PlanItem.init))
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(Report(runs: items, open_findings: open.map { FindingItem($0, now: now) },
                                                 closed_findings: closed.map { FindingItem($0, now: now) }))
            print(String(decoding: data, as: UTF8.self))
        case .table:
            if runs.isEmpty { print("No runs recorded in \(catalogue.location)."); return }
            print(Format.pad("RUN", 6) + Format.pad("KIND", 7) + Format.pad("STARTED (UTC)", 21) + Format.pad("TOOK", 8)
                  + Format.pad("STATUS", 18) + Format.pad("FILES", 10, right: true) + Format.pad("NEW", 8, right: true)
                  + Format.pad("CHANGED", 9, right: true) + Format.pad("GONE", 8, right: true) + "  SILOS")
            for r in runs {
                let took = r.finishedAt.map { Format.duration($0.timeIntervalSince(r.startedAt)) } ?? "-"
                let started = String(Timestamp.string(r.startedAt).prefix(19)).replacingOccurrences(of: "T", with: " ")
                if let p = plans[r.id] {
                    // Apply and undo: operations, and what became of them.
                    let what = r.kind == .undo
                        ? "\(p.done) reversed, \(p.refused) left, \(p.failed) failed"
                        : "\(p.done) done, \(p.skipped) already done, \(p.refused) refused, \(p.failed) failed"
                    print(Format.pad(String(r.id), 6) + Format.pad(r.kind.rawValue, 7) + Format.pad(started, 21)
                          + Format.pad(took, 8) + Format.pad(r.status.rawValue, 18)
                          + Format.pad(Format.count(p.operations) + " ops", 10, right: true)
                          + "  \(p.plan): \(what)")
                    continue
                }
                print(Format.pad(String(r.id), 6) + Format.pad(r.kind.rawValue, 7) + Format.pad(started, 21)
                      + Format.pad(took, 8) + Format.pad(r.status.rawValue + (r.outcome.map { r.kind == .check ? " " + $0 : "" } ?? ""), 18)
                      + Format.pad(Format.count(r.counts.files), 10, right: true)
                      + Format.pad(Format.count(r.counts.filesNew), 8, right: true)
                      + Format.pad(Format.count(r.counts.filesChanged), 9, right: true)
                      + Format.pad(Format.count(r.counts.filesMissing), 8, right: true)
                      + "  " + r.silos.joined(separator: ","))
            }
            print("")
            if open.isEmpty {
                print("No finding is open.")
            } else {
                print("OPEN FINDINGS (\(open.count)): listed by every check until restored or accepted (silomerge check --accept SILO:PATH)")
                for f in open {
                    print("  " + Format.pad(f.kind.rawValue, 10) + " \(f.silo):\(f.path.display)  since \(CheckText.since(f, now: now)), last seen open by run \(f.lastRun)")
                }
            }
            if !closed.isEmpty {
                print("")
                print("RECENTLY CLOSED")
                for f in closed {
                    let when = f.closedAt.map { String(Timestamp.string($0).prefix(16)).replacingOccurrences(of: "T", with: " ") } ?? "?"
                    var line = "  " + Format.pad(f.kind.rawValue, 10) + " \(f.silo):\(f.path.display)  \(f.resolution?.rawValue ?? "closed") \(when)"
                    if let run = f.closedRun { line += " (run \(run))" }
                    if let by = f.closedBy { line += " by \(by)" }
                    line += " after \(Format.age(f.age(at: now)))"
                    if let d = f.closedDetail { line += ": \(d)" }
                    print(line)
                }
            }
        }
    }
}
