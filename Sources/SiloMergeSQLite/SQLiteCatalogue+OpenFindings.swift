import Foundation
import SiloMergeCore
import GRDB

/// Open findings (`open_finding`): corrupted and missing files stay open until restored,
/// moved, accepted or their silo removed. See `OpenFinding`.
extension SQLiteCatalogue {
    /// One run at a time holds this catalogue (`lockForScan` takes it whole, whatever silos a
    /// scan names), so no other settlement can run meanwhile: `body` runs as it is.
    public func whileSettling<R>(_ body: () throws -> R) throws -> R { try body() }

    public func unsettledRuns() throws -> [(id: Int64, writing: Bool)] {
        try wrap("read which runs' findings are not settled") {
            try pool.read { db in
                // A run still `running` here is one of this process's (`lockForScan` marks
                // those of killed processes interrupted).
                try Row.fetchAll(db, sql: """
                    SELECT id, status = 'running' FROM run
                    WHERE kind IN ('scan', 'audit', 'check') AND id NOT IN (SELECT run_id FROM settled_run)
                    ORDER BY id
                    """).map { (id: $0[0], writing: $0[1]) }
            }
        }
    }

    public func filesAtOpenFindings() throws -> [OpenFindingFold.FileAtPath] {
        try wrap("read the files at open findings") {
            try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT o.id, f.size, f.mtime_ns, f.sha256 FROM open_finding o
                    JOIN file f ON f.silo_id = o.silo_id AND f.dir = o.dir AND f.name = o.name
                    WHERE o.closed_at IS NULL ORDER BY o.id
                    """).map { row in
                    OpenFindingFold.FileAtPath(openFindingID: row[0], state: Finding.State(
                        size: row[1], mtimeNs: row[2], sha256: (row[3] as String?).flatMap(SHA256Digest.init(hex:))))
                }
            }
        }
    }

    public func openFindingsTakenByPlans() throws -> [OpenFindingFold.TakenByPlan] {
        try wrap("read the merge ledger for open findings") {
            try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT o.id, p.plan, m.effect, m.op FROM open_finding o
                    JOIN merge_op m ON m.silo_id = o.silo_id AND m.dir = o.dir AND m.name = o.name
                    JOIN merge_plan p ON p.plan_sha256 = m.plan_sha256
                    WHERE o.closed_at IS NULL AND m.op IS NOT NULL AND m.state IN ('done', 'taking')
                      AND m.effect IN ('moved', 'removed', 'quarantined') AND m.sha256 = o.verified_sha256
                    ORDER BY m.id
                    """).map { row in
                    OpenFindingFold.TakenByPlan(openFindingID: row[0], plan: row[1], effect: row[2], operation: row[3])
                }
            }
        }
    }

    public func applyFindingTransitions(_ transitions: [OpenFindingTransition], runID: Int64) throws {
        try wrap("keep findings open") {
            try pool.write { db in
                let now = Timestamp.string(Date())
                for t in transitions {
                    switch t {
                    case let .open(kind, silo, path, verified, seen, detail, openedAt):
                        try db.execute(sql: """
                            INSERT INTO open_finding (kind, silo_id, silo, dir, name, verified_size, verified_mtime_ns, verified_sha256,
                                                      seen_size, seen_mtime_ns, seen_sha256, opened_run, opened_at, last_run, detail)
                            VALUES (?, (SELECT id FROM silo WHERE name = ?), ?, CAST(? AS TEXT), CAST(? AS TEXT), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """, arguments: [kind.rawValue, silo, silo, Self.textArgument(path.parent.bytes), Self.textArgument(Array(path.lastComponent)),
                                             verified?.size, verified?.mtimeNs, verified?.sha256?.hex, seen?.size, seen?.mtimeNs,
                                             seen?.sha256?.hex, runID, Timestamp.string(openedAt), runID, detail])
                    case let .sawAgain(id, seen, detail):
                        try db.execute(sql: """
                            UPDATE open_finding SET seen_size = ?, seen_mtime_ns = ?, seen_sha256 = ?, last_run = ?,
                                detail = coalesce(?, detail) WHERE id = ? AND closed_at IS NULL
                            """, arguments: [seen?.size, seen?.mtimeNs, seen?.sha256?.hex, runID, detail, id])
                    case let .follow(id, silo, path, detail):
                        try db.execute(sql: """
                            UPDATE open_finding SET silo_id = (SELECT id FROM silo WHERE name = ?), silo = ?, dir = CAST(? AS TEXT),
                                name = CAST(? AS TEXT), last_run = ?, detail = ? WHERE id = ? AND closed_at IS NULL
                            """, arguments: [silo, silo, Self.textArgument(path.parent.bytes), Self.textArgument(Array(path.lastComponent)),
                                             runID, detail, id])
                    case let .close(id, resolution, detail):
                        try db.execute(sql: """
                            UPDATE open_finding SET closed_run = ?, closed_at = ?, resolution = ?, closed_detail = ?, last_run = ?
                            WHERE id = ? AND closed_at IS NULL
                            """, arguments: [runID, now, resolution.rawValue, detail, runID, id])
                    case let .stillOpen(id):
                        try db.execute(sql: "UPDATE open_finding SET last_run = ? WHERE id = ? AND closed_at IS NULL",
                                       arguments: [runID, id])
                    }
                }
                // Noted settled, once: a second settlement of the run is refused (rolled back).
                try db.execute(sql: "INSERT OR IGNORE INTO settled_run (run_id) VALUES (?)", arguments: [runID])
                if db.changesCount == 0 {
                    throw CatalogueError.failed(catalogue: path, operation: "settle the findings of run \(runID)",
                                                reason: "they were settled already; settling them again would open its findings twice")
                }
            }
        }
    }

    static func fetchOpenFindings(_ db: Database, where condition: String, arguments: StatementArguments,
                                  suffix: String = "ORDER BY id") throws -> [OpenFinding] {
        try Row.fetchAll(db, sql: """
            SELECT id, kind, silo, CAST(dir AS BLOB), CAST(name AS BLOB), verified_size, verified_mtime_ns, verified_sha256,
                   seen_size, seen_mtime_ns, seen_sha256, opened_run, opened_at, last_run, detail, closed_run, closed_at,
                   resolution, closed_by, closed_detail
            FROM open_finding WHERE \(condition) \(suffix)
            """, arguments: arguments).map { r in
            func digest(_ i: Int) -> SHA256Digest? { (r[i] as String?).flatMap(SHA256Digest.init(hex:)) }
            let seenGone = (r[8] as Int64?) == nil && (r[10] as String?) == nil
            return OpenFinding(
                id: r[0], kind: OpenFinding.Kind(rawValue: r[1]) ?? .corrupted, silo: r[2],
                path: RelativePath(bytes: SQLiteCatalogue.bytes(r[3])).appending(SQLiteCatalogue.bytes(r[4])),
                verified: Finding.State(size: r[5], mtimeNs: r[6], sha256: digest(7)),
                seen: seenGone ? nil : Finding.State(size: r[8], mtimeNs: r[9], sha256: digest(10)),
                openedRun: r[11], openedAt: Timestamp.date(r[12]) ?? Date(timeIntervalSince1970: 0), lastRun: r[13], detail: r[14],
                closedRun: r[15], closedAt: (r[16] as String?).flatMap(Timestamp.date),
                resolution: (r[17] as String?).flatMap(OpenFinding.Resolution.init(rawValue:)), closedBy: r[18], closedDetail: r[19])
        }
    }

    public func openFindings(silos: [String]) throws -> [OpenFinding] {
        try wrap("list open findings") {
            try pool.read { db in
                try Self.fetchOpenFindings(db, where: "closed_at IS NULL", arguments: [],
                                           suffix: "ORDER BY kind = 'missing', silo, dir, name")
                    .filter { silos.isEmpty || silos.contains($0.silo) }
            }
        }
    }

    /// Files with a `corrupted` finding still open, of these silos (all when empty), each with
    /// up to three catalogued files holding its verified content: what `plan` refuses to plan.
    public func unverifiedCopies(silos: [String] = []) throws -> [UnverifiedCopy] {
        try wrap("list files with corruption still open") {
            try pool.read { db in
                let open = try Self.fetchOpenFindings(db, where: "closed_at IS NULL AND kind = 'corrupted'", arguments: [],
                                                      suffix: "ORDER BY silo, dir, name")
                    .filter { silos.isEmpty || silos.contains($0.silo) }
                return try open.map { f in
                    var good: [String] = []
                    if let sha = f.verified.sha256 {
                        good = try Row.fetchAll(db, sql: """
                            SELECT s.name, CAST(f.dir AS BLOB), CAST(f.name AS BLOB) FROM file f JOIN silo s ON s.id = f.silo_id
                            WHERE f.sha256 = ? ORDER BY s.priority, s.name, f.dir, f.name LIMIT 3
                            """, arguments: [sha.hex]).map { r in
                            "\(r[0] as String):\(RelativePath(bytes: SQLiteCatalogue.bytes(r[1])).appending(SQLiteCatalogue.bytes(r[2])).display)"
                        }
                    }
                    return UnverifiedCopy(silo: f.silo, path: f.path, verifiedSHA256: f.verified.sha256,
                                          currentSHA256: f.seen?.sha256, openedAt: f.openedAt, openedRun: f.openedRun, goodCopies: good)
                }
            }
        }
    }

    public func closedFindings(limit: Int) throws -> [OpenFinding] {
        try wrap("list closed findings") {
            try pool.read { db in
                try Self.fetchOpenFindings(db, where: "closed_at IS NOT NULL", arguments: [],
                                           suffix: "ORDER BY closed_at DESC, id DESC LIMIT \(max(0, limit))")
            }
        }
    }

    public func closeAccepted(_ closing: [(id: Int64, detail: String)], by user: String, at time: Date) throws -> Set<Int64> {
        try wrap("accept findings") {
            try pool.write { db in
                var closed = Set<Int64>()
                for (id, detail) in closing {
                    try db.execute(sql: """
                        UPDATE open_finding SET closed_at = ?, resolution = 'accepted', closed_by = ?, closed_detail = ?
                        WHERE id = ? AND closed_at IS NULL
                        """, arguments: [Timestamp.string(time), user, detail, id])
                    if db.changesCount > 0 { closed.insert(id) }
                }
                return closed
            }
        }
    }
}
