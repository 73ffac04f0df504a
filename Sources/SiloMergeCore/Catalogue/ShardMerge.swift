import Foundation

/// Merges a shard (a catalogue a host scanned into on its own) into a destination catalogue,
/// in one transaction of the destination, losslessly and idempotently:
///
/// - **Runs** are merged once each: the destination remembers every (shard, shard run) it holds
///   (`shard_run`), so merging a shard again brings only the runs it recorded since. Their
///   changes, diagnostics, findings and plan records come with them.
/// - **Silos** are matched by name. A silo the destination holds with another root or on another
///   host (from another shard, or scanned into it directly) is refused, naming both claims;
///   nothing is merged then.
/// - **Files** are each silo's current state: a silo's files (with their sidecars, metadata
///   values, manifest and uncatalogued entries) and the open findings the shard keeps on them
///   replace the destination's when the shard's last run of that silo started after the
///   destination's last run of it, and are left alone otherwise.
/// - **The merge ledger** (plans applied on the shard's host) is merged per plan: a plan the
///   destination does not know, or whose ledger the shard synced in a run merged now.
/// - **Perceptual hashes** (`image_phash`, one per image content) are added for the contents
///   the destination has none for (or only a failed decode of).
/// - **The unified catalogue** (`asset`) is not merged: `silomerge reconcile` rebuilds it over
///   every silo. Settings (reconcile policies, the resolutions file) stay the destination's.
public struct ShardMerge {
    public let shard: any CatalogueTransfer
    public let origin: ShardIdentity

    public init(shard: any CatalogueTransfer, origin: ShardIdentity) {
        self.shard = shard
        self.origin = origin
    }

    /// Merges the shard into `destination` (see the type); `progress` is called now and then
    /// with what was written so far.
    public func merge(into destination: any CatalogueTransfer,
                      progress: @escaping (TransferSummary) -> Void = { _ in }) throws -> TransferSummary {
        guard shard.location.id != destination.location.id else { throw TransferError.sameCatalogue(shard.location.display) }
        return try destination.withTransferTransaction { writer in
            let state = try MergeState(origin: origin, writer: writer, progress: progress)
            try shard.exportRecords { try state.take($0) }
            try state.finish()
            return state.summary
        }
    }

    /// Refuses shards that claim one silo differently (another root, another host) from one
    /// another or from the destination, before anything is written: `claims` holds each
    /// shard's label and silo rows; `destination` the destination's silo rows, `shards` its
    /// `shard_silo` rows (who brought each), `label` what names it.
    public static func checkClaims(destination: [TransferRecord], shards: [TransferRecord], label destLabel: String,
                                   claims: [(label: String, silos: [TransferRecord])]) throws {
        var first: [String: (label: String, silo: TransferRecord)] = [:]
        var broughtBy: [Int64: String] = [:]
        for row in shards { if let id = row["silo_id"].integer { broughtBy[id] = row["shard"].text } }
        for silo in destination {
            guard let name = silo["name"].text else { continue }
            let holder = silo["id"].integer.flatMap { broughtBy[$0] }.map { "shard \($0) (merged into \(destLabel))" }
                ?? "\(destLabel) (scanned into it directly)"
            first[name] = (holder, silo)
        }
        for (label, silos) in claims {
            for silo in silos {
                guard let name = silo["name"].text else { continue }
                if let held = first[name] {
                    if let (a, b) = differs(held.silo, silo) {
                        throw TransferError.conflictingClaim(silo: name, holder: held.label, held: a,
                                                             claimant: "shard \(label)", claimed: b)
                    }
                } else {
                    first[name] = ("shard \(label)", silo)
                }
            }
        }
    }

    /// How two rows of one silo differ in what makes it that silo (root, host), in words; nil
    /// when they are the same silo.
    static func differs(_ a: TransferRecord, _ b: TransferRecord) -> (String, String)? {
        if a["root"] == b["root"] && a["host"] == b["host"] { return nil }
        return (describe(a), describe(b))
    }

    static func describe(_ silo: TransferRecord) -> String {
        let root = FilePath(bytes: silo["root"].bytes ?? []).display
        let host = silo["host_name"].text ?? silo["host"].text
        return "\(root) on host \(host ?? "(not recorded)")"
    }
}

/// The state of one shard's merge, fed the shard's records in transfer order.
private final class MergeState {
    let origin: ShardIdentity
    let w: any TransferWriter
    let progress: (TransferSummary) -> Void
    var summary = TransferSummary()
    private var lastReported = 0

    /// Shard run id → destination run id (every run of the shard, merged now or before).
    var runs: [Int64: Int64] = [:]
    /// Shard run id → its start, as the shard says.
    var runStarts: [Int64: String] = [:]
    /// Shard runs merged now.
    var newRuns: Set<Int64> = []
    /// Runs merged from this shard before: shard run id → (destination id, start then).
    let merged: [Int64: (run: Int64, started: String)]
    /// Shard silo id → destination silo id.
    var silos: [Int64: Int64] = [:]
    /// Shard silo ids whose state (files...) the shard's replaces.
    var replacing: Set<Int64> = []
    /// Shard file id → destination file id, for the files merged now.
    var files: [Int64: Int64] = [:]
    var currentFile: (shard: Int64, dest: Int64?)? = nil
    /// Plans whose ledger is merged now.
    var plans: Set<String> = []
    let destRunStarts: [Int64: String]
    /// Silos the destination has from which shard.
    let siloShards: [Int64: String]

    init(origin: ShardIdentity, writer: any TransferWriter, progress: @escaping (TransferSummary) -> Void) throws {
        self.origin = origin
        self.w = writer
        self.progress = progress
        var merged: [Int64: (run: Int64, started: String)] = [:]
        for row in try writer.shardRuns() where row["shard_id"].text == origin.id {
            if let id = row["shard_run_id"].integer, let run = row["run_id"].integer {
                merged[id] = (run, row["shard_started_at"].text ?? "")
            }
        }
        self.merged = merged
        var siloShards: [Int64: String] = [:]
        for row in try writer.shardSilos() {
            if let silo = row["silo_id"].integer { siloShards[silo] = row["shard"].text ?? row["shard_id"].text ?? "?" }
        }
        self.siloShards = siloShards
        destRunStarts = try writer.runStarts()
    }

    func take(_ r: TransferRecord) throws {
        switch r.table {
        case .setting:
            return   // settings are the destination's own
        case .run: try takeRun(r)
        case .silo: try takeSilo(r)
        case .file:
            currentFile = nil
            guard let silo = r["silo_id"].integer, replacing.contains(silo), let id = r["id"].integer else { return }
            let dest = try insertRemapped(r)
            currentFile = (id, dest)
            if let dest, id >= 0 { files[id] = dest }
            summary.files += 1
        case .sidecar, .metadata:
            // Right after their file: merged with it, or not at all.
            guard let file = r["file_id"].integer, let current = currentFile, current.shard == file, current.dest != nil else { return }
            try insertRemapped(r)
            if r.table == .sidecar { summary.sidecars += 1 } else { summary.metadataValues += 1 }
        case .manifest, .uncatalogued:
            guard let silo = r["silo_id"].integer, replacing.contains(silo) else { return }
            try insertRemapped(r)
            summary.otherRows += 1
        case .settledRun:
            // A run the shard settled (its findings reported and kept open there) is settled
            // here too: a check of the destination must not settle it a second time.
            guard let run = r["run_id"].integer, newRuns.contains(run) else { return }
            try insertRemapped(r)
        case .change, .diagnostic, .finding, .planRun:
            guard let run = r["run_id"].integer, newRuns.contains(run) else { return }
            // A change of a silo removed since is left with its silo (see `remap`).
            if try insertRemapped(r) == nil, r.table == .change { return }
            switch r.table {
            case .change: summary.changes += 1
            case .diagnostic: summary.diagnostics += 1
            case .finding: summary.findings += 1
            default: summary.otherRows += 1
            }
        case .openFinding:
            try takeOpenFinding(r)
        case .mergePlan:
            guard let sha = r["plan_sha256"].text else { return }
            let touched = [r["recorded_run"].integer, r["synced_run"].integer].contains { $0.map(newRuns.contains) ?? false }
            if try w.hasMergePlan(sha) {
                guard touched else { return }
                try w.deleteMergePlan(sha)
            }
            try insertRemapped(r)
            plans.insert(sha)
            summary.plans += 1
        case .mergeOp, .mergeMetadata:
            guard let sha = r["plan_sha256"].text, plans.contains(sha) else { return }
            try insertRemapped(r)
            summary.otherRows += 1
        case .imagePhash:
            // Keyed by content, not by silo or run: whatever silo's file the shard decoded it
            // for, the destination's copies of that content are the same image.
            if try w.mergeImageHash(r) { summary.otherRows += 1 }
        case .asset, .assetField, .shardRun, .shardSilo:
            // The unified catalogue is rebuilt by `reconcile`; what the shard merged from
            // shards of its own is its business: its runs are merged as its own.
            return
        }
        if summary.rows - lastReported >= 10_000 {
            lastReported = summary.rows
            progress(summary)
        }
    }

    private func takeRun(_ r: TransferRecord) throws {
        guard let id = r["id"].integer, let started = r["started_at"].text else { return }
        runStarts[id] = started
        if let before = merged[id] {
            guard before.started == started else {
                throw TransferError.diverged(shard: origin.label, run: id, merged: before.started, now: started)
            }
            runs[id] = before.run
            summary.runsAlreadyMerged += 1
            return
        }
        var row = r
        // The shard is not being written (checked before): a run it still says is running was
        // killed, as the shard itself will say the next time it is scanned.
        if row["status"].text == "running" {
            row["status"] = .text("interrupted")
            if row["error_message"].isNull { row["error_message"] = .text("the run was killed (found running when its shard was merged)") }
        }
        guard let dest = try w.insert(row, keepKey: false) else { return }
        runs[id] = dest
        newRuns.insert(id)
        try w.insert(TransferRecord(table: .shardRun, values: [.text(origin.id), .integer(id), .text(started), .integer(dest),
                                                              .text(origin.label)]), keepKey: true)
        summary.runs += 1
    }

    private func takeSilo(_ r: TransferRecord) throws {
        guard let id = r["id"].integer, let name = r["name"].text else { return }
        let lastStart = r["last_run_id"].integer.flatMap { runStarts[$0] }
        if let (held, heldLastStart) = try w.silo(named: name) {
            guard let destID = held["id"].integer else { return }
            if let (a, b) = ShardMerge.differs(held, r) {
                let holder = siloShards[destID].map { "shard \($0)" } ?? "the catalogue (scanned into it directly)"
                throw TransferError.conflictingClaim(silo: name, holder: holder, held: a, claimant: "shard \(origin.label)", claimed: b)
            }
            silos[id] = destID
            if siloShards[destID] == nil {
                try w.insert(TransferRecord(table: .shardSilo, values: [.text(origin.id), .integer(destID), .text(origin.label)]),
                             keepKey: true)
            }
            // Newer than what the destination holds of the silo: the shard's state wins.
            guard let lastStart, lastStart > (heldLastStart ?? "") else {
                summary.silosUnchanged += 1
                return
            }
            guard let row = try remap(r) else { return }
            try w.updateSilo(id: destID, with: row)
            try w.clearSiloState(siloID: destID)
            replacing.insert(id)
            summary.silosUpdated += 1
        } else {
            guard let destID = try insertRemapped(r) else { return }
            silos[id] = destID
            try w.insert(TransferRecord(table: .shardSilo, values: [.text(origin.id), .integer(destID), .text(origin.label)]),
                         keepKey: true)
            replacing.insert(id)
            summary.silosAdded += 1
        }
    }

    private var openCleared: Set<Int64> = []

    private func takeOpenFinding(_ r: TransferRecord) throws {
        guard let silo = r["silo_id"].integer else {
            // Of a silo the shard no longer has: kept as history when opened by a run merged now.
            guard let opened = r["opened_run"].integer, newRuns.contains(opened) else { return }
            try insertRemapped(r)
            summary.openFindings += 1
            return
        }
        guard replacing.contains(silo), let dest = silos[silo] else { return }
        if !openCleared.contains(dest) {
            // The shard's open findings of this silo replace those merged from it before; those
            // opened by runs into the destination itself stay.
            try w.deleteOpenFindings(siloID: dest, openedBy: Array(runs.values))
            openCleared.insert(dest)
        }
        try insertRemapped(r)
        summary.openFindings += 1
    }

    /// The row with its references turned into the destination's ids.
    private var skippedRows = 0

    private func remap(_ r: TransferRecord) throws -> TransferRecord? {
        var out = r
        for (i, column) in r.table.columns.enumerated() {
            guard case .integer(let v) = r.values[i] else { continue }
            switch column.kind {
            case .silo:
                // A silo the shard removed since (`silos remove`) leaves history behind: its
                // ledger rows keep the silo's name only, as they do there.
                guard let m = silos[v] else {
                    if r.table == .change { skippedRows += 1; return nil }
                    out.values[i] = .null
                    continue
                }
                out.values[i] = .integer(m)
            case .run:
                guard let m = runs[v] else { throw TransferError.dangling(source: origin.label, table: r.table.name, column: column.name, value: v) }
                out.values[i] = .integer(m)
            case .file:
                // A change's file may since have gone (and another taken its path).
                out.values[i] = files[v].map { .integer($0) } ?? .null
            default:
                continue
            }
        }
        return out
    }

    @discardableResult
    private func insertRemapped(_ r: TransferRecord) throws -> Int64? {
        guard let row = try remap(r) else { return nil }
        return try w.insert(row, keepKey: false)
    }

    func finish() throws {
        progress(summary)
    }
}

/// Copies a whole catalogue into another (of the same backend or not), ids and all, in one
/// transaction of the destination. The destination must be empty, or an earlier copy of the
/// same catalogue (every run it holds the source holds with the same id and start): it is then
/// brought up to date, so a copy run twice is a copy run once. The source is only read.
public enum CatalogueCopy {
    public static func copy(from source: any CatalogueTransfer, to destination: any CatalogueTransfer,
                            progress: (TransferSummary) -> Void = { _ in }) throws -> TransferSummary {
        guard source.location.id != destination.location.id else { throw TransferError.sameCatalogue(source.location.display) }
        var sourceStarts: [Int64: String] = [:]
        for r in try source.leadingRecords(before: .silo) where r.table == .run {
            if let id = r["id"].integer, let s = r["started_at"].text { sourceStarts[id] = s }
        }
        return try destination.withTransferTransaction { w in
            let held = try w.runSummary()
            if held.runs > 0 || held.silos > 0 {
                let starts = try w.runStarts()
                if held.runs == 0 {
                    throw TransferError.destinationNotEmpty(destination: destination.location.display, source: source.location.display,
                                                            reason: "it holds \(held.silos) silo(s) and no run")
                }
                if let (id, start) = starts.sorted(by: { $0.key < $1.key }).first(where: { sourceStarts[$0.key] != $0.value }) {
                    throw TransferError.destinationNotEmpty(destination: destination.location.display, source: source.location.display,
                                                            reason: "its run \(id) (started \(start)) is not the source's")
                }
            }
            // Also what a new catalogue starts with (the settings its schema wrote).
            try w.deleteAll()
            var summary = TransferSummary()
            var last = 0
            try source.exportRecords { r in
                try w.insert(r, keepKey: true)
                switch r.table {
                case .run: summary.runs += 1
                case .silo: summary.silosAdded += 1
                case .file: summary.files += 1
                case .metadata: summary.metadataValues += 1
                case .sidecar: summary.sidecars += 1
                case .change: summary.changes += 1
                case .diagnostic: summary.diagnostics += 1
                case .finding: summary.findings += 1
                case .openFinding: summary.openFindings += 1
                case .mergePlan: summary.plans += 1
                default: summary.otherRows += 1
                }
                if summary.rows - last >= 10_000 {
                    last = summary.rows
                    progress(summary)
                }
            }
            try w.keysInsertedExplicitly()
            progress(summary)
            return summary
        }
    }
}
