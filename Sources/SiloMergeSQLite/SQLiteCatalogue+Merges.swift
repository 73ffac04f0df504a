import Foundation
import SiloMergeCore
import GRDB

/// The merge ledger (`merge_plan`, `merge_op`): what each applied plan did to which catalogued
/// file, kept in step with the plan's journal. Scans and checks read it to tell a file a plan
/// moved, removed or quarantined (`merged`) from one that went missing, and to take files an
/// undo put back as present again.
extension SQLiteCatalogue {
    /// Records a plan about to be applied: its operations, each with its source as the plan saw
    /// it and where its content goes, and the sidecars that stay in the silos while their file
    /// is taken away. A plan already recorded (a resumed apply) keeps its rows; its plan and
    /// journal paths are brought up to date.
    public func recordMerge(plan: MergePlan, planSHA256: String, planPath: FilePath, journal: FilePath, runID: Int64) throws {
        try wrap("record the plan in the merge ledger") {
            try pool.write { db in
                let known = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM merge_plan WHERE plan_sha256 = ?)",
                                              arguments: [planSHA256]) ?? false
                try db.execute(sql: """
                    INSERT INTO merge_plan (plan_sha256, plan, journal, target_root, quarantine_root, recorded_run)
                    VALUES (?, ?, ?, CAST(? AS TEXT), CAST(? AS TEXT), ?)
                    ON CONFLICT(plan_sha256) DO UPDATE SET plan = excluded.plan, journal = excluded.journal
                    """, arguments: [planSHA256, planPath.display, journal.display, Self.textArgument(plan.targetRoot.bytes),
                                     Self.textArgument(plan.quarantineRoot.bytes), runID])
                if known { return }
                var siloIDs: [String: Int64] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT name, id FROM silo") { siloIDs[row[0]] = row[1] }
                let insert = try db.makeStatement(sql: """
                    INSERT INTO merge_op (plan_sha256, op, follows_op, kind, effect, silo_id, silo, dir, name, size, mtime_ns,
                                          dev, ino, sha256, dest_root, dest_dir, dest_name, note)
                    VALUES (?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT), CAST(? AS TEXT), ?, ?, ?, ?, ?, ?, CAST(? AS TEXT), CAST(? AS TEXT), ?)
                    """)
                let sidecars = try db.makeStatement(sql: """
                    SELECT CAST(sc.dir AS BLOB), CAST(sc.name AS BLOB), sc.size, sc.mtime_ns, sc.dev, sc.ino, sc.sha256
                    FROM sidecar sc JOIN file f ON f.id = sc.file_id
                    WHERE f.silo_id = ? AND f.dir = CAST(? AS TEXT) AND f.name = CAST(? AS TEXT)
                    """)
                // Sidecars the plan itself carries are not left behind.
                var carried = Set<[UInt8]>()
                for op in plan.operations where op.kind.isSidecarTransfer && op.kind.method == .move {
                    if let s = op.source { carried.insert(s.silo.exactBytes + [0] + s.path.bytes) }
                }
                for op in plan.operations {
                    var dest: (root: String, path: RelativePath)?
                    if op.kind.writesTarget, let d = op.destination { dest = ("target", d) }
                    if op.kind == .quarantineDuplicate, let d = op.destination { dest = ("quarantine", d) }
                    if op.kind == .removeDuplicate || op.kind == .linkDuplicate,
                       let c = op.canonicalOp.flatMap(plan.operation), let d = c.destination { dest = ("target", d) }
                    let s = op.source
                    let siloID = s.flatMap { siloIDs[$0.silo] }
                    let effect = MergeJournal.effect(of: op.kind)
                    try insert.execute(arguments: [
                        planSHA256, op.id, nil, op.kind.rawValue, effect, siloID, s?.silo,
                        s.map { Self.textArgument($0.path.parent.bytes) }, s.map { Self.textArgument(Array($0.path.lastComponent)) },
                        s?.size, s?.mtimeNs, s.map { Int64(bitPattern: $0.device) }, s.map { Int64(bitPattern: $0.inode) },
                        s?.sha256.lowercased() ?? op.contentSHA256?.lowercased(), dest?.root,
                        dest.map { Self.textArgument($0.path.parent.bytes) }, dest.map { Self.textArgument(Array($0.path.lastComponent)) },
                        nil])
                    // The sidecars of a file taken from its silo stay there, files of their own
                    // from then on: recorded so the next check knows them (left behind by the plan).
                    guard let s, let siloID, effect == "moved" || effect == "removed" || effect == "quarantined",
                          !op.kind.isSidecarTransfer else { continue }
                    let rows = try Row.fetchAll(sidecars, arguments: [siloID, Self.textArgument(s.path.parent.bytes),
                                                                      Self.textArgument(Array(s.path.lastComponent))])
                    for r in rows {
                        let dir = Self.bytes(r[0]), name = Self.bytes(r[1])
                        let path = RelativePath(bytes: dir).appending(name)
                        guard !carried.contains(s.silo.exactBytes + [0] + path.bytes) else { continue }
                        let verb = effect == "moved" ? "moved into the target" : effect == "removed" ? "removed as a duplicate" : "quarantined"
                        try insert.execute(arguments: [
                            planSHA256, nil, op.id, "left-sidecar", "left", siloID, s.silo, Self.textArgument(dir), Self.textArgument(name),
                            r[2] as Int64?, r[3] as Int64?, r[4] as Int64?, r[5] as Int64?, r[6] as String?, nil, nil, nil,
                            "the sidecar of \(s.display), which the plan \(verb) (operation \(op.id))"])
                    }
                }
                // What each carried content holds (format, dimensions, image hash and its prefix, embedded
                // metadata), as the catalogue knows it now: an adopted target takes it from here.
                try db.execute(sql: """
                    UPDATE merge_op SET (format, width, height, image_sha256, image_prefix, metadata_read, dimensions_group) =
                        (SELECT f.format, f.width, f.height, f.image_sha256, f.image_prefix, f.metadata_read, f.dimensions_group FROM file f
                         WHERE f.silo_id = merge_op.silo_id AND f.dir = merge_op.dir AND f.name = merge_op.name AND f.sha256 = merge_op.sha256)
                    WHERE plan_sha256 = ? AND op IS NOT NULL AND effect IN ('moved', 'copied') AND kind NOT LIKE 'sidecar-%'
                    """, arguments: [planSHA256])
                try db.execute(sql: """
                    INSERT INTO merge_metadata (plan_sha256, op, field, origin, tag, value, raw, preferred)
                    SELECT m.plan_sha256, m.op, md.field, md.origin, md.tag, md.value, md.raw, md.preferred
                    FROM merge_op m
                    JOIN file f ON f.silo_id = m.silo_id AND f.dir = m.dir AND f.name = m.name AND f.sha256 = m.sha256
                    JOIN metadata md ON md.file_id = f.id AND md.source IS NULL
                    WHERE m.plan_sha256 = ? AND m.op IS NOT NULL AND m.metadata_read IS NOT NULL AND m.metadata_read > 0
                    """, arguments: [planSHA256])
            }
        }
    }

    /// The destinations (in the target) whose content's format, dimensions and embedded
    /// metadata the ledger holds, read by the current readers: adoption takes those as it takes
    /// the SHA-256, without reading the files.
    public func mergeContentKnown(planSHA256: String) throws -> Set<RelativePath> {
        try wrap("read the merge ledger") {
            try pool.read { db in
                Set(try Row.fetchAll(db, sql: """
                    SELECT CAST(dest_dir AS BLOB), CAST(dest_name AS BLOB) FROM merge_op
                    WHERE plan_sha256 = ? AND op IS NOT NULL AND dest_root = 'target' AND metadata_read = ?
                    """, arguments: [planSHA256, MetadataReader.version]).map {
                    RelativePath(bytes: Self.bytes($0[0])).appending(Self.bytes($0[1]))
                })
            }
        }
    }

    /// Gives the files of an adopted silo whose metadata was not read the content facts the
    /// ledger holds for what the plan placed there (same path, same SHA-256). Returns how many.
    public func adoptMergeContent(planSHA256: String, silo: String) throws -> Int {
        try wrap("take the merged files' metadata from the ledger") {
            try pool.write { db in
                guard let siloID = try Int64.fetchOne(db, sql: "SELECT id FROM silo WHERE name = ?", arguments: [silo]) else { return 0 }
                let match = """
                    m.plan_sha256 = ?1 AND m.op IS NOT NULL AND m.dest_root = 'target' AND m.dest_dir = f.dir
                    AND m.dest_name = f.name AND m.sha256 = f.sha256 AND m.metadata_read = ?3
                    """
                try db.execute(sql: """
                    CREATE TEMP TABLE IF NOT EXISTS adopt_facts (file_id INTEGER PRIMARY KEY, op INTEGER NOT NULL);
                    DELETE FROM adopt_facts;
                    """)
                try db.execute(sql: """
                    INSERT OR IGNORE INTO adopt_facts (file_id, op)
                    SELECT f.id, m.op FROM file f JOIN merge_op m ON \(match)
                    WHERE f.silo_id = ?2 AND f.metadata_read = 0
                    """, arguments: [planSHA256, siloID, MetadataReader.version])
                try db.execute(sql: "DELETE FROM metadata WHERE source IS NULL AND file_id IN (SELECT file_id FROM adopt_facts)")
                try db.execute(sql: """
                    INSERT INTO metadata (file_id, field, origin, tag, value, raw, source, source_mtime_ns, preferred)
                    SELECT a.file_id, md.field, md.origin, md.tag, md.value, md.raw, NULL, f.mtime_ns, md.preferred
                    FROM adopt_facts a JOIN file f ON f.id = a.file_id
                    JOIN merge_metadata md ON md.plan_sha256 = ? AND md.op = a.op
                    """, arguments: [planSHA256])
                try db.execute(sql: """
                    UPDATE file SET (format, width, height, image_sha256, image_prefix, metadata_read, dimensions_group) =
                        (SELECT m.format, m.width, m.height, m.image_sha256, m.image_prefix, m.metadata_read, m.dimensions_group FROM adopt_facts a
                         JOIN merge_op m ON m.plan_sha256 = ? AND m.op = a.op WHERE a.file_id = file.id)
                    WHERE id IN (SELECT file_id FROM adopt_facts)
                    """, arguments: [planSHA256])
                return try Int.fetchOne(db, sql: "SELECT count(*) FROM adopt_facts") ?? 0
            }
        }
    }

    /// Brings the ledger of a recorded plan in step with what its journal says.
    public func syncMerge(planSHA256: String, journal: MergeJournal, runID: Int64) throws {
        try wrap("update the merge ledger") {
            try pool.write { db in try Self.syncMerge(db, planSHA256: planSHA256, journal: journal, runID: runID) }
        }
    }

    static func syncMerge(_ db: Database, planSHA256: String, journal: MergeJournal, runID: Int64) throws {
        let update = try db.makeStatement(sql: """
            UPDATE merge_op SET state = ?, state_run = ?, placed_dev = ?, placed_ino = ?, placed_size = ?, placed_mtime_ns = ?
            WHERE plan_sha256 = ? AND op = ? AND (state IS NOT ? OR placed_ino IS NOT ?)
            """)
        for (id, o) in journal.ops {
            let r = o.result
            try update.execute(arguments: [o.state.rawValue, runID, r.map { Int64(bitPattern: $0.device) },
                                           r.map { Int64(bitPattern: $0.inode) }, r?.size, r?.mtimeNs, planSHA256, id,
                                           o.state.rawValue, r.map { Int64(bitPattern: $0.inode) }])
        }
        // A sidecar left behind shares the fate of the operation that took its file.
        try db.execute(sql: """
            UPDATE merge_op SET state = (SELECT f.state FROM merge_op f WHERE f.plan_sha256 = merge_op.plan_sha256 AND f.op = merge_op.follows_op),
                                state_run = ?
            WHERE plan_sha256 = ? AND op IS NULL
              AND state IS NOT (SELECT f.state FROM merge_op f WHERE f.plan_sha256 = merge_op.plan_sha256 AND f.op = merge_op.follows_op)
            """, arguments: [runID, planSHA256])
        try db.execute(sql: "UPDATE merge_plan SET synced_run = ?, journal_size = ? WHERE plan_sha256 = ?",
                       arguments: [runID, journal.size, planSHA256])
    }

    /// Reads again the journal of every recorded plan that has grown since it was last read
    /// (an apply or undo that ended before recording what it did). Returns what could not be
    /// read, in words; the ledger keeps what it knew of those.
    public func syncMerges(runID: Int64) throws -> [String] {
        let plans = try wrap("read the merge ledger") {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT plan_sha256, plan, journal, journal_size FROM merge_plan").map {
                    (sha: $0[0] as String, plan: $0[1] as String, journal: $0[2] as String, size: $0[3] as Int64?)
                }
            }
        }
        var notes: [String] = []
        for p in plans {
            let journal: MergeJournal?
            do { journal = try MergeJournal.read(FilePath(p.journal)) } catch {
                notes.append("the journal \(p.journal) of plan \(p.plan) cannot be read (\(error)): what it did since it was last read is not known")
                continue
            }
            guard let journal, journal.size != p.size else { continue }
            guard journal.planDigest == nil || journal.planDigest == p.sha else {
                notes.append("the journal \(p.journal) now belongs to another plan than \(p.plan): the merge ledger keeps what it knew of that plan")
                continue
            }
            try syncMerge(planSHA256: p.sha, journal: journal, runID: runID)
        }
        return notes
    }

    /// Records that a silo is the target of an applied plan (adopted with `silos add --from-plan`).
    public func markAdopted(silo: String, planSHA256: String) throws {
        try wrap("record the adopted silo") {
            try pool.write { db in
                try db.execute(sql: "UPDATE silo SET adopted_plan = ? WHERE name = ?", arguments: [planSHA256, silo])
            }
        }
    }

    /// What the ledger says of a run's vanished and new files (see `FindingFold.MergeNotes`).
    static func mergeNotes(_ db: Database, runID: Int64) throws -> FindingFold.MergeNotes {
        var notes = FindingFold.MergeNotes()
        guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM merge_op)") ?? false else { return notes }
        func place(_ root: [UInt8], _ dir: [UInt8], _ name: [UInt8]) -> String {
            FilePath(bytes: root).appending(RelativePath(bytes: dir).appending(name)).display
        }
        // Sources the apply took away: moved, removed or quarantined (the operation done, or
        // under way when the apply stopped).
        for r in try Row.fetchAll(db, sql: """
            SELECT c.id, m.effect, m.op, m.state, p.plan, m.dest_root, CAST(m.dest_dir AS BLOB), CAST(m.dest_name AS BLOB),
                   CAST(p.target_root AS BLOB), CAST(p.quarantine_root AS BLOB)
            FROM change c
            JOIN merge_op m ON m.silo_id = c.silo_id AND m.dir = c.dir AND m.name = c.name
            JOIN merge_plan p ON p.plan_sha256 = m.plan_sha256
            WHERE c.run_id = ? AND c.kind = 'missing' AND m.op IS NOT NULL AND m.state IN ('done', 'taking')
              AND m.effect IN ('moved', 'removed', 'quarantined')
              AND (m.sha256 = c.old_sha256 OR (m.dev = c.old_dev AND m.ino = c.old_ino))
            ORDER BY m.id
            """, arguments: [runID]) {
            let id: Int64 = r[0]
            let effect: String = r[1], op: Int64 = r[2], state: String = r[3], plan: String = r[4]
            let root = (r[5] as String?) == "quarantine" ? bytes(r[9]) : bytes(r[8])
            let at = place(root, bytes(r[6]), bytes(r[7]))
            notes.gone[id] = FindingFold.MergeNotes.takenByApply(effect: effect, plan: plan, op: op, at: at, stopped: state == "taking")
        }
        // In a silo adopted from a plan's target: files the plan's undo took away again.
        for r in try Row.fetchAll(db, sql: """
            SELECT c.id, m.op, m.effect, p.plan, m.silo, CAST(m.dir AS BLOB), CAST(m.name AS BLOB)
            FROM change c JOIN silo s ON s.id = c.silo_id
            JOIN merge_op m ON m.plan_sha256 = s.adopted_plan AND m.dest_root = 'target' AND m.dest_dir = c.dir AND m.dest_name = c.name
            JOIN merge_plan p ON p.plan_sha256 = m.plan_sha256
            WHERE c.run_id = ? AND c.kind = 'missing' AND m.op IS NOT NULL AND m.state = 'undone'
              AND m.effect IN ('moved', 'copied', 'written')
            """, arguments: [runID]) {
            let id: Int64 = r[0], op: Int64 = r[1], effect: String = r[2], plan: String = r[3]
            let silo: String? = r[4]
            let source = effect == "moved" ? silo.map { ($0, RelativePath(bytes: bytes(r[5])).appending(bytes(r[6]))) } : nil
            notes.gone[id] = FindingFold.MergeNotes.takenByUndo(plan: plan, op: op, movedBackTo: source)
        }
        // Files an undo put back where they were: present again, as before the merge.
        for r in try Row.fetchAll(db, sql: """
            SELECT f.id FROM file f
            JOIN merge_op m ON m.silo_id = f.silo_id AND m.dir = f.dir AND m.name = f.name
            WHERE f.first_seen_run = ? AND m.op IS NOT NULL AND m.state = 'undone'
              AND m.effect IN ('moved', 'removed', 'quarantined') AND m.sha256 = f.sha256
            """, arguments: [runID]) {
            notes.back.insert(r[0])
        }
        // Sidecars that stayed while their file was taken: files of their own now.
        for r in try Row.fetchAll(db, sql: """
            SELECT f.id, m.note, p.plan FROM file f
            JOIN merge_op m ON m.silo_id = f.silo_id AND m.dir = f.dir AND m.name = f.name
            JOIN merge_plan p ON p.plan_sha256 = m.plan_sha256
            WHERE f.first_seen_run = ? AND m.op IS NULL AND m.state IN ('done', 'taking')
              AND (m.sha256 IS NULL OR f.sha256 IS NULL OR m.sha256 = f.sha256)
            """, arguments: [runID]) {
            notes.left[r[0]] = FindingFold.MergeNotes.leftBehind(plan: r[2], note: r[1])
        }
        return notes
    }
}
