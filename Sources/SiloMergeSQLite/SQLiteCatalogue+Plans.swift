import Foundation
import SiloMergeCore
import GRDB

/// Apply and undo runs: the `run` row (kind `apply` or `undo`) says when and how it ended, the
/// `plan_run` row what it did with which plan.
extension SQLiteCatalogue {
    /// Records what an apply or undo run did so far (called at its start and again at its end),
    /// and its outcome: `complete`, `incomplete` (some operations refused, failed or left) or
    /// `stopped` (a full disk, a refused plan).
    public func recordPlanRun(_ runID: Int64, _ r: PlanRunRecord, outcome: String?) throws {
        try wrap("record the plan run") {
            try pool.write { db in
                try db.execute(sql: """
                    INSERT INTO plan_run (run_id, plan, plan_sha256, journal, operations, done, skipped, refused, failed, bytes_written)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(run_id) DO UPDATE SET done = excluded.done, skipped = excluded.skipped,
                        refused = excluded.refused, failed = excluded.failed, bytes_written = excluded.bytes_written
                    """, arguments: [runID, r.plan, r.planSHA256, r.journal, r.operations, r.done, r.skipped, r.refused,
                                     r.failed, r.bytesWritten])
                try db.execute(sql: "UPDATE run SET outcome = ? WHERE id = ?", arguments: [outcome, runID])
            }
        }
    }

    /// The plan details of these runs (those that are apply or undo runs).
    public func planRuns(_ runIDs: [Int64]) throws -> [Int64: PlanRunRecord] {
        guard !runIDs.isEmpty else { return [:] }
        return try wrap("list plan runs") {
            try pool.read { db in
                let marks = Array(repeating: "?", count: runIDs.count).joined(separator: ",")
                let rows = try Row.fetchAll(db, sql: "SELECT * FROM plan_run WHERE run_id IN (\(marks))",
                                            arguments: StatementArguments(runIDs))
                var out: [Int64: PlanRunRecord] = [:]
                for row in rows {
                    var r = PlanRunRecord(plan: row["plan"], planSHA256: row["plan_sha256"], journal: row["journal"],
                                          operations: row["operations"])
                    r.done = row["done"]; r.skipped = row["skipped"]; r.refused = row["refused"]; r.failed = row["failed"]
                    r.bytesWritten = row["bytes_written"]
                    out[row["run_id"]] = r
                }
                return out
            }
        }
    }
}
