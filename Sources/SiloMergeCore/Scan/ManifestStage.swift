import Foundation

/// The manifest stage, after the walk: each scanned silo's CSV manifest (`silos.yml`
/// `manifest:`), matched with the catalogued files by the store.
struct ManifestStage: Sendable {
    let roots: [WalkRoot]
    let options: ScanOptions
    let runID: Int64
    let sink: any ScanSink
    let diagnostics: DiagnosticCollector
    let control: ScanControl

    /// Reads each scanned silo's CSV manifest (after the walk, so its rows can be matched with
    /// the catalogued files), streamed in bounded memory. A manifest unchanged since it was last
    /// read (same identity and mapping) of a silo where no file appeared or went is not read
    /// again (unless --rehash). Rows naming no file and rows without a usable path are each
    /// reported once per manifest: a count and the first few rows.
    func run() {
        for root in roots {
            guard let definition = root.silo.manifest else { continue }
            let file = definition.file.string ?? definition.file.display
            let silo = root.silo.name
            do {
                let identity = try ManifestReader.identity(definition)
                if !options.rehash, try sink.manifestIsCurrent(siloID: root.silo.id, runID: runID, identity: identity) { continue }
                let outcome = try sink.applyManifest(siloID: root.silo.id, runID: runID, identity: identity) { body in
                    try ManifestReader.read(definition, body)
                }
                let summary = outcome.summary
                if summary.encoding != "UTF-8" {
                    diagnostics.report(Diagnostic(.note, .manifest, silo: silo, path: nil,
                        message: "manifest \(file) is not UTF-8: read as \(summary.encoding)"))
                }
                if summary.skipped > 0 {
                    let sample = summary.skippedSample.map { "row \($0.row): \($0.reason)" }.joined(separator: "; ")
                    diagnostics.report(Diagnostic(.warning, .manifest, silo: silo, path: nil,
                        message: "manifest \(file): \(Format.count(summary.skipped)) \(summary.skipped == 1 ? "row was" : "rows were") skipped (\(sample)\(summary.skipped > summary.skippedSample.count ? "; …" : ""))"))
                }
                if outcome.unmatched > 0 {
                    // A note, not a warning: the scan itself is complete; the manifest is stale.
                    let sample = outcome.unmatchedSample.map { "row \($0.number): \($0.path.display)" }.joined(separator: "; ")
                    let more = outcome.unmatched > outcome.unmatchedSample.count ? "; … (the first \(outcome.unmatchedSample.count) shown)" : ""
                    diagnostics.report(Diagnostic(.note, .manifest, silo: silo, path: outcome.unmatched == 1 ? outcome.unmatchedSample.first?.path : nil,
                        message: "manifest \(file): \(Format.count(outcome.unmatched)) of \(Format.count(summary.rows)) \(summary.rows == 1 ? "row names" : "rows name") no catalogued file of silo '\(silo)' (\(sample)\(more))"))
                }
            } catch let error as ManifestError {
                diagnostics.report(Diagnostic(.error, .manifest, silo: silo, path: nil, message: error.description))
            } catch {
                control.fail(error)
            }
        }
    }
}
