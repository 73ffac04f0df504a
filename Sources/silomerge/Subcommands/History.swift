import ArgumentParser
import Foundation
import SiloMergeCore

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List past scans, audits and checks recorded in the catalogue.",
        usage: "silomerge history [<options>]")

    @Option(name: .customLong("limit"), help: "How many runs, newest first.")
    var limit = 20

    @Option(name: .customLong("format"), help: "table or json.")
    var format: HistoryFormat = .table

    @OptionGroup var configOption: ConfigOption
    @OptionGroup var catalogOptions: CatalogOptions

    enum HistoryFormat: String, ExpressibleByArgument, CaseIterable { case table, json }

    func run() throws {
        let catalogue = try catalogOptions.open(config: try configOption.load(), access: .readOnly)
        let runs = try catalogue.runs(limit: limit)
        switch format {
        case .json:
            print(try JSONOutput.string(runs.map(RunJSON.init)))
        case .table:
            if runs.isEmpty { print("No runs recorded in \(catalogue.location)."); return }
            print(Format.pad("RUN", 6) + Format.pad("KIND", 7) + Format.pad("STARTED (UTC)", 21) + Format.pad("TOOK", 8)
                  + Format.pad("STATUS", 18) + Format.pad("FILES", 10, right: true) + Format.pad("NEW", 8, right: true)
                  + Format.pad("CHANGED", 9, right: true) + Format.pad("GONE", 8, right: true) + "  SILOS")
            for r in runs {
                let took = r.finishedAt.map { Format.duration($0.timeIntervalSince(r.startedAt)) } ?? "-"
                let started = String(Timestamp.string(r.startedAt).prefix(19)).replacingOccurrences(of: "T", with: " ")
                print(Format.pad(String(r.id), 6) + Format.pad(r.kind.rawValue, 7) + Format.pad(started, 21)
                      + Format.pad(took, 8) + Format.pad(r.status.rawValue + (r.outcome.map { r.kind == .check ? " " + $0 : "" } ?? ""), 18)
                      + Format.pad(Format.count(r.counts.files), 10, right: true)
                      + Format.pad(Format.count(r.counts.filesNew), 8, right: true)
                      + Format.pad(Format.count(r.counts.filesChanged), 9, right: true)
                      + Format.pad(Format.count(r.counts.filesMissing), 8, right: true)
                      + "  " + r.silos.joined(separator: ","))
            }
        }
    }
}
