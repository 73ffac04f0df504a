import Foundation
import SiloMergeCore
import GRDB

/// Open findings (`open_finding`): corrupted and missing files stay open until restored,
/// moved, accepted or their silo removed. See `OpenFinding`.
extension SQLiteCatalogue {
    private struct Key: Hashable {
        var silo: String
        var path: [UInt8]
    }

    static let settledKey = "findings.settled_through"

    public func settleFindings(runID: Int64, scope: FindingScope) throws -> [Finding] {
        try wrap("keep findings open") {
            try pool.write { db in
                let through = Int64(try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = ?", arguments: [Self.settledKey]) ?? "") ?? 0
                // Runs that ended before settling theirs (killed, interrupted, failed): what they
                // found is not forgotten, only not reported as this run's.
                let earlier = try Int64.fetchAll(db, sql: """
                    SELECT id FROM run WHERE id > ? AND id < ? AND kind IN ('scan', 'audit', 'check') ORDER BY id
                    """, arguments: [through, runID])
                for run in earlier { _ = try Self.settle(db, runID: run, scope: .alerts) }
                let out = try Self.settle(db, runID: runID, scope: scope)
                try db.execute(sql: "INSERT OR REPLACE INTO setting (key, value) VALUES (?, ?)", arguments: [Self.settledKey, String(runID)])
                return out
            }
        }
    }

    /// One run's findings, with open findings taken into account: a changed file that reads as
    /// the content an open finding verified is `restored`; a new file holding a missing file's
    /// content is `moved` from it; corrupted and missing files open findings (or update the one
    /// already open at their path).
    static func settle(_ db: Database, runID: Int64, scope: FindingScope) throws -> [Finding] {
        let raw = try rawFindings(db, runID: runID, scope: scope)
        let runStarted = try String.fetchOne(db, sql: "SELECT started_at FROM run WHERE id = ?", arguments: [runID])
            ?? Timestamp.string(Date())
        var open: [Key: OpenFinding] = [:]
        /// Open missing files by the content they held, oldest first (a new file holding it closes one).
        var missingBySHA: [SHA256Digest: [OpenFinding]] = [:]
        for f in try fetchOpenFindings(db, where: "closed_at IS NULL", arguments: []) {
            open[Key(silo: f.silo, path: f.path.bytes)] = f
            if f.kind == .missing, let sha = f.verified.sha256 { missingBySHA[sha, default: []].append(f) }
        }
        var siloIDs: [String: Int64] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT name, id FROM silo") { siloIDs[row[0]] = row[1] }

        func since(_ o: OpenFinding) -> String { "\(o.kind.rawValue) since run \(o.openedRun) (\(Timestamp.string(o.openedAt).prefix(10)))" }
        func close(_ o: OpenFinding, _ resolution: OpenFinding.Resolution, detail: String?) throws {
            try db.execute(sql: """
                UPDATE open_finding SET closed_run = ?, closed_at = ?, resolution = ?, closed_detail = ?, last_run = ? WHERE id = ?
                """, arguments: [runID, Timestamp.string(Date()), resolution.rawValue, detail, runID, o.id])
            open[Key(silo: o.silo, path: o.path.bytes)] = nil
        }
        func saw(_ o: OpenFinding, _ state: Finding.State?, detail: String? = nil) throws {
            try db.execute(sql: """
                UPDATE open_finding SET seen_size = ?, seen_mtime_ns = ?, seen_sha256 = ?, last_run = ?, detail = coalesce(?, detail) WHERE id = ?
                """, arguments: [state?.size, state?.mtimeNs, state?.sha256?.hex, runID, detail, o.id])
        }
        func openNew(_ kind: OpenFinding.Kind, silo: String, path: RelativePath, verified: Finding.State?, seen: Finding.State?,
                     detail: String?) throws {
            try db.execute(sql: """
                INSERT INTO open_finding (kind, silo_id, silo, dir, name, verified_size, verified_mtime_ns, verified_sha256,
                                          seen_size, seen_mtime_ns, seen_sha256, opened_run, opened_at, last_run, detail)
                VALUES (?, ?, ?, CAST(? AS TEXT), CAST(? AS TEXT), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [kind.rawValue, siloIDs[silo], silo, textArgument(path.parent.bytes), textArgument(Array(path.lastComponent)),
                                 verified?.size, verified?.mtimeNs, verified?.sha256?.hex, seen?.size, seen?.mtimeNs, seen?.sha256?.hex,
                                 runID, runStarted, runID, detail])
        }
        /// The path reads as what the open finding verified.
        func restores(_ o: OpenFinding, _ state: Finding.State?) -> Bool {
            guard let verified = o.verified.sha256 else {
                // Never hashed (--hash dupes): a file back at the path is all that can be told.
                return state != nil
            }
            return state?.sha256 == verified
        }
        func restored(_ o: OpenFinding, at f: Finding) throws -> Finding {
            let what = o.verified.sha256 == nil ? "is back (its content was never hashed, so it cannot be verified)"
                                                : "reads as its verified content again"
            try close(o, .restored, detail: nil)
            return Finding(kind: .restored, silo: f.silo, path: f.path, old: o.seen ?? f.old, new: f.new,
                           detail: "\(what); was \(since(o))")
        }

        var out: [Finding] = []
        for f in raw {
            let key = Key(silo: f.silo, path: f.path.bytes)
            switch f.kind {
            case .corrupted, .modified:
                if let o = open[key] {
                    if restores(o, f.new) {
                        out.append(try restored(o, at: f))
                    } else {
                        try saw(o, f.new)
                        var f = f
                        f.detail = (f.detail.map { $0 + "; " } ?? "") + "still open: \(since(o))"
                        out.append(f)
                    }
                } else {
                    if f.kind == .corrupted {
                        try openNew(.corrupted, silo: f.silo, path: f.path, verified: f.old, seen: f.new, detail: f.detail)
                    }
                    out.append(f)
                }
            case .new:
                if let o = open[key] {
                    if restores(o, f.new) {
                        out.append(try restored(o, at: f))
                    } else {
                        try saw(o, f.new)
                        out.append(f)
                    }
                } else if let sha = f.new?.sha256, sha != .empty,
                          let o = missingBySHA[sha]?.first(where: { open[Key(silo: $0.silo, path: $0.path.bytes)]?.id == $0.id }) {
                    try close(o, .moved, detail: "found at \(f.silo):\(f.path.display)")
                    out.append(Finding(kind: .moved, silo: f.silo, path: f.path, oldSilo: o.silo, oldPath: o.path, old: o.verified,
                                       new: f.new, detail: "was \(since(o))" + (o.silo == f.silo ? "" : "; moved across silos")))
                } else {
                    out.append(f)
                }
            case .moved:
                if let o = open[key], restores(o, f.new) {
                    out.append(try restored(o, at: f))
                } else if let oldSilo = f.oldSilo, let oldPath = f.oldPath, let o = open[Key(silo: oldSilo, path: oldPath.bytes)] {
                    // The file an open finding is about was moved: the finding follows it.
                    try db.execute(sql: """
                        UPDATE open_finding SET silo_id = ?, silo = ?, dir = CAST(? AS TEXT), name = CAST(? AS TEXT), last_run = ?,
                            detail = ? WHERE id = ?
                        """, arguments: [siloIDs[f.silo], f.silo, textArgument(f.path.parent.bytes), textArgument(Array(f.path.lastComponent)),
                                         runID, (o.detail.map { $0 + "; " } ?? "") + "moved from \(oldSilo):\(oldPath.display)", o.id])
                    open[Key(silo: oldSilo, path: oldPath.bytes)] = nil
                    var f = f
                    f.detail = (f.detail.map { $0 + "; " } ?? "") + "still open: \(since(o))"
                    out.append(f)
                } else {
                    out.append(f)
                }
            case .missing:
                if let o = open[key] {
                    try saw(o, nil, detail: o.kind == .missing ? nil : (o.detail.map { $0 + "; " } ?? "") + "now gone")
                    var f = f
                    f.detail = "still open: \(since(o))"
                    out.append(f)
                } else {
                    try openNew(.missing, silo: f.silo, path: f.path, verified: f.old, seen: nil, detail: nil)
                    out.append(f)
                }
            default:
                out.append(f)
            }
        }
        // An open finding whose path holds the verified content again, without this run having
        // found the change (it was restored by a run that ended early): closed all the same.
        let back = try Row.fetchAll(db, sql: """
            SELECT o.id, f.size, f.mtime_ns, f.sha256 FROM open_finding o
            JOIN file f ON f.silo_id = o.silo_id AND f.dir = o.dir AND f.name = o.name
            WHERE o.closed_at IS NULL AND o.verified_sha256 IS NOT NULL AND f.sha256 = o.verified_sha256
            """)
        for row in back {
            guard let o = open.values.first(where: { $0.id == (row[0] as Int64) }) else { continue }
            let state = Finding.State(size: row[1], mtimeNs: row[2], sha256: (row[3] as String?).flatMap(SHA256Digest.init(hex:)))
            out.append(try restored(o, at: Finding(kind: .restored, silo: o.silo, path: o.path, old: o.seen, new: state)))
        }
        // A missing file that a reviewed plan took, learnt by the merge ledger after the finding
        // was opened (the plan applied by an older SiloMerge and applied again to record it, or
        // a journal read late): not missing, merged; closed, and said once.
        let mergedAway = try Row.fetchAll(db, sql: """
            SELECT o.id, p.plan, m.effect, m.op FROM open_finding o
            JOIN merge_op m ON m.silo_id = o.silo_id AND m.dir = o.dir AND m.name = o.name
            JOIN merge_plan p ON p.plan_sha256 = m.plan_sha256
            WHERE o.closed_at IS NULL AND o.kind = 'missing' AND m.op IS NOT NULL AND m.state IN ('done', 'taking')
              AND m.effect IN ('moved', 'removed', 'quarantined') AND m.sha256 = o.verified_sha256
            ORDER BY m.id
            """)
        for row in mergedAway {
            guard let o = open.values.first(where: { $0.id == (row[0] as Int64) }) else { continue }
            let detail = "\(row[2] as String) by the apply of plan \(row[1] as String) (operation \(row[3] as Int64)); was \(since(o))"
            try close(o, .merged, detail: detail)
            out.append(Finding(kind: .merged, silo: o.silo, path: o.path, old: o.verified, detail: detail))
        }
        // Still open after this run, in the silos it read: seen again.
        let silos = SQLiteCatalogue.decodeList(try String.fetchOne(db, sql: "SELECT silos FROM run WHERE id = ?", arguments: [runID]))
        for o in open.values where silos.contains(o.silo) {
            try db.execute(sql: "UPDATE open_finding SET last_run = ? WHERE id = ?", arguments: [runID, o.id])
        }
        let order = Dictionary(uniqueKeysWithValues: Finding.Kind.allCases.enumerated().map { ($1, $0) })
        return out.sorted { (order[$0.kind]!, $0.silo, $0.path) < (order[$1.kind]!, $1.silo, $1.path) }
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

    public func acceptFindings(_ selectors: [FindingSelector], by user: String, reason: String?) throws -> [OpenFinding] {
        try wrap("accept findings") {
            try pool.write { db in
                let chosen = try Self.fetchOpenFindings(db, where: "closed_at IS NULL", arguments: [])
                    .filter { f in selectors.contains { $0.matches(f) } }
                let now = Date()
                for f in chosen {
                    let detail = (f.kind == .corrupted ? "its current content is the new baseline" : "no longer expected")
                        + (reason.map { "; reason: \($0)" } ?? "")
                    try db.execute(sql: """
                        UPDATE open_finding SET closed_at = ?, resolution = 'accepted', closed_by = ?, closed_detail = ? WHERE id = ?
                        """, arguments: [Timestamp.string(now), user, detail, f.id])
                }
                return chosen.map { f in
                    var f = f
                    f.closedAt = now; f.resolution = .accepted; f.closedBy = user
                    return f
                }
            }
        }
    }
}
