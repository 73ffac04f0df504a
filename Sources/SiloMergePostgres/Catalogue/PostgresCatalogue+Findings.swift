import Foundation
import PostgresNIO
import SiloMergeCore

// What checks found, the findings kept open, and the merge ledger, on PostgreSQL: the same
// queries and writes as the SQLite catalogue's (SQLiteCatalogue+Check, +OpenFindings, +Merges,
// +Plans), in the same orders. Text that SQLite orders (silo names, times) is ordered with
// COLLATE "C" here: byte by byte, as SQLite's BINARY collation, whatever the database's locale.
// Reads go through a reader session (streams through a cursor), so a slow caller never holds
// up the writer; every write is one transaction on the writer, bulk rows through COPY into a
// staging table of the writer's session (`findings_stage_*`, emptied at commit).

// MARK: - Values

extension PostgresCatalogue {
    static func relativePath(_ dir: ByteBuffer, _ name: ByteBuffer) -> RelativePath {
        RelativePath(bytes: dir.allBytes).appending(name.allBytes)
    }

    static func fileID(_ dev: Int64?, _ ino: Int64?) -> FileID? {
        guard let dev, let ino else { return nil }
        return FileID(device: UInt64(bitPattern: dev), inode: UInt64(bitPattern: ino))
    }

    static func findingState(_ size: Int64?, _ mtime: Int64?, _ sha: ByteBuffer?) -> Finding.State {
        Finding.State(size: size, mtimeNs: mtime, sha256: SHA256Digest(bytea: sha))
    }

    /// Decodes a streamed row; a column of another type than expected says where.
    func decodeRow<each T: PostgresDecodable>(_ row: PostgresRow, as types: (repeat each T).Type, reading what: String)
        throws(PostgresClientError) -> (repeat each T) {
        do { return try row.decode(types) } catch {
            throw PostgresClientError(.client, "cannot read \(what) from \(location.display): \(error)", server: settings.display)
        }
    }

    /// The hex a plan names a content by, as the 32 bytes the ledger holds (nil when it is not
    /// a SHA-256: it then matches no file, as in SQLite).
    static func digest(hex: String?) -> ByteBuffer? {
        hex.flatMap { SHA256Digest(hex: $0.lowercased()) }?.bytea
    }
}

extension CopyTextWriter {
    fileprivate mutating func nullableInt(_ value: Int64?) throws(PostgresClientError) {
        if let value { try int(value) } else { try null() }
    }

    fileprivate mutating func nullableText(_ value: String?) throws(PostgresClientError) {
        if let value { try text(value) } else { try null() }
    }

    fileprivate mutating func nullableBytes(_ value: [UInt8]?) throws(PostgresClientError) {
        if let value { try bytes(value) } else { try null() }
    }

    fileprivate mutating func state(_ s: Finding.State?) throws(PostgresClientError) {
        try nullableInt(s?.size)
        try nullableInt(s?.mtimeNs)
        try nullableBytes(s?.sha256?.bytes)
    }
}

// MARK: - FindingStore

extension PostgresCatalogue {
    public func forEachChange(runID: Int64, _ body: (FindingFold.Change) throws -> Void) throws {
        try wrap("read the run's changes") {
            try readers.with { session in
                try session.stream("""
                    SELECT c.kind, s.name, c.dir, c.name, c.old_size, c.old_mtime_ns, c.old_dev, c.old_ino, c.old_sha256,
                           c.new_size, c.new_mtime_ns, c.new_sha256, c.detail, f.dev, f.ino, c.id, c.silo_id
                    FROM change c JOIN silo s ON s.id = c.silo_id LEFT JOIN file f ON f.id = c.file_id
                    WHERE c.run_id = \(runID) ORDER BY c.id
                    """) { row in
                    let (kind, silo, dir, name, oldSize, oldMtime, oldDev, oldIno, oldSHA, newSize, newMtime, newSHA, detail,
                         dev, ino, id, siloID) = try decodeRow(row, as: (String, String, ByteBuffer, ByteBuffer, Int64?, Int64?,
                                                                          Int64?, Int64?, ByteBuffer?, Int64?, Int64?, ByteBuffer?,
                                                                          String?, Int64?, Int64?, Int64, Int64).self,
                                                              reading: "the run's changes")
                    guard let kind = FindingFold.Change.Kind(rawValue: kind) else { return }
                    try body(FindingFold.Change(
                        id: id, kind: kind, siloID: siloID, silo: silo, path: Self.relativePath(dir, name),
                        old: Self.findingState(oldSize, oldMtime, oldSHA), oldInode: Self.fileID(oldDev, oldIno),
                        new: Self.findingState(newSize, newMtime, newSHA), currentInode: Self.fileID(dev, ino), detail: detail))
                }
            }
        }
    }

    public func forEachNewFile(runID: Int64, scope: FindingScope, _ body: (FindingFold.NewFile) throws -> Void) throws {
        try wrap("read the run's new files") {
            try readers.with { session in
                let query: PostgresQuery
                if scope == .alerts {
                    // Nothing vanished this run and nothing is open: no new file can matter to alerts.
                    let matters = try session.query("""
                        SELECT EXISTS (SELECT 1 FROM change WHERE run_id = \(runID) AND kind = 'missing')
                            OR EXISTS (SELECT 1 FROM open_finding WHERE closed_at IS NULL)
                        """, as: Bool.self).first ?? true
                    if !matters { return }
                    // Only the new files that may pair with a vanished one (same content) or
                    // close an open finding (same content, or same path): a first scan of a
                    // million files does not send them all.
                    query = """
                        SELECT s.name, f.dir, f.name, f.size, f.mtime_ns, f.sha256, f.dev, f.ino, f.id, f.silo_id
                        FROM file f JOIN silo s ON s.id = f.silo_id
                        WHERE f.first_seen_run = \(runID)
                          AND (f.sha256 IN (SELECT old_sha256 FROM change
                                            WHERE run_id = \(runID) AND kind = 'missing' AND old_sha256 IS NOT NULL)
                               OR f.sha256 IN (SELECT verified_sha256 FROM open_finding
                                               WHERE closed_at IS NULL AND verified_sha256 IS NOT NULL)
                               OR EXISTS (SELECT 1 FROM open_finding o WHERE o.closed_at IS NULL AND o.silo_id = f.silo_id
                                          AND o.dir = f.dir AND o.name = f.name))
                        ORDER BY s.priority, s.name COLLATE "C", f.dir, f.name
                        """
                } else {
                    query = """
                        SELECT s.name, f.dir, f.name, f.size, f.mtime_ns, f.sha256, f.dev, f.ino, f.id, f.silo_id
                        FROM file f JOIN silo s ON s.id = f.silo_id WHERE f.first_seen_run = \(runID)
                        ORDER BY s.priority, s.name COLLATE "C", f.dir, f.name
                        """
                }
                try session.stream(query) { row in
                    let (silo, dir, name, size, mtime, sha, dev, ino, id, siloID) = try decodeRow(row,
                        as: (String, ByteBuffer, ByteBuffer, Int64, Int64, ByteBuffer?, Int64, Int64, Int64, Int64).self,
                        reading: "the run's new files")
                    try body(FindingFold.NewFile(
                        id: id, siloID: siloID, silo: silo, path: Self.relativePath(dir, name),
                        state: Self.findingState(size, mtime, sha),
                        inode: FileID(device: UInt64(bitPattern: dev), inode: UInt64(bitPattern: ino))))
                }
            }
        }
    }

    public func mergeNotes(runID: Int64) throws -> FindingFold.MergeNotes {
        try wrap("read the merge ledger") {
            try readers.with { session in
                try session.withTransaction { tx in
                    // One snapshot for the four reads, as SQLite's one read transaction.
                    try tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    return try Self.mergeNotes(tx, runID: runID)
                }
            }
        }
    }

    /// What the ledger says of a run's vanished and new files (see `FindingFold.MergeNotes`).
    static func mergeNotes(_ tx: PostgresTransaction, runID: Int64) throws -> FindingFold.MergeNotes {
        var notes = FindingFold.MergeNotes()
        guard try tx.query("SELECT EXISTS (SELECT 1 FROM merge_op)", as: Bool.self).first == true else { return notes }
        func place(_ root: ByteBuffer, _ dir: ByteBuffer?, _ name: ByteBuffer?) -> String {
            FilePath(bytes: root.allBytes).appending(RelativePath(bytes: dir?.allBytes ?? []).appending(name?.allBytes ?? [])).display
        }
        // Sources the apply took away: moved, removed or quarantined (the operation done, or
        // under way when the apply stopped).
        for (id, effect, op, state, plan, destRoot, destDir, destName, targetRoot, quarantineRoot) in try tx.query("""
            SELECT c.id, m.effect, m.op, m.state, p.plan, m.dest_root, m.dest_dir, m.dest_name, p.target_root, p.quarantine_root
            FROM change c
            JOIN merge_op m ON m.silo_id = c.silo_id AND m.dir = c.dir AND m.name = c.name
            JOIN merge_plan p ON p.plan_sha256 = m.plan_sha256
            WHERE c.run_id = \(runID) AND c.kind = 'missing' AND m.op IS NOT NULL AND m.state IN ('done', 'taking')
              AND m.effect IN ('moved', 'removed', 'quarantined')
              AND (m.sha256 = c.old_sha256 OR (m.dev = c.old_dev AND m.ino = c.old_ino))
            ORDER BY m.id
            """, as: (Int64, String, Int64, String, String, String?, ByteBuffer?, ByteBuffer?, ByteBuffer, ByteBuffer).self) {
            let at = place(destRoot == "quarantine" ? quarantineRoot : targetRoot, destDir, destName)
            notes.gone[id] = FindingFold.MergeNotes.takenByApply(effect: effect, plan: plan, op: op, at: at, stopped: state == "taking")
        }
        // In a silo adopted from a plan's target: files the plan's undo took away again.
        for (id, op, effect, plan, silo, dir, name) in try tx.query("""
            SELECT c.id, m.op, m.effect, p.plan, m.silo, m.dir, m.name
            FROM change c JOIN silo s ON s.id = c.silo_id
            JOIN merge_op m ON m.plan_sha256 = s.adopted_plan AND m.dest_root = 'target' AND m.dest_dir = c.dir AND m.dest_name = c.name
            JOIN merge_plan p ON p.plan_sha256 = m.plan_sha256
            WHERE c.run_id = \(runID) AND c.kind = 'missing' AND m.op IS NOT NULL AND m.state = 'undone'
              AND m.effect IN ('moved', 'copied', 'written')
            ORDER BY m.id
            """, as: (Int64, Int64, String, String, String?, ByteBuffer?, ByteBuffer?).self) {
            let source = effect == "moved" ? silo.map { ($0, RelativePath(bytes: dir?.allBytes ?? []).appending(name?.allBytes ?? [])) } : nil
            notes.gone[id] = FindingFold.MergeNotes.takenByUndo(plan: plan, op: op, movedBackTo: source)
        }
        // Files an undo put back where they were: present again, as before the merge.
        for id in try tx.query("""
            SELECT f.id FROM file f
            JOIN merge_op m ON m.silo_id = f.silo_id AND m.dir = f.dir AND m.name = f.name
            WHERE f.first_seen_run = \(runID) AND m.op IS NOT NULL AND m.state = 'undone'
              AND m.effect IN ('moved', 'removed', 'quarantined') AND m.sha256 = f.sha256
            """, as: Int64.self) {
            notes.back.insert(id)
        }
        // Sidecars that stayed while their file was taken: files of their own now.
        for (id, note, plan) in try tx.query("""
            SELECT f.id, m.note, p.plan FROM file f
            JOIN merge_op m ON m.silo_id = f.silo_id AND m.dir = f.dir AND m.name = f.name
            JOIN merge_plan p ON p.plan_sha256 = m.plan_sha256
            WHERE f.first_seen_run = \(runID) AND m.op IS NULL AND m.state IN ('done', 'taking')
              AND (m.sha256 IS NULL OR f.sha256 IS NULL OR m.sha256 = f.sha256)
            ORDER BY m.id
            """, as: (Int64, String?, String).self) {
            notes.left[id] = FindingFold.MergeNotes.leftBehind(plan: plan, note: note)
        }
        return notes
    }

    public func forEachCopies(of contents: [SHA256Digest], _ body: (SHA256Digest, [FindingFold.Copy]) throws -> Void) throws {
        guard !contents.isEmpty else { return }
        // Many contents at once (a check after a large import asks for many), in slices: one
        // query per slice, the copies of each content in report order.
        let slice = 2_000
        var start = 0
        while start < contents.count {
            let part = Array(contents[start..<min(start + slice, contents.count)])
            var copies = Array(repeating: [FindingFold.Copy](), count: part.count)
            try wrap("list the copies of a content") {
                try readers.with { session in
                    try session.stream("""
                        SELECT c.ord, s.name, f.dir, f.name, f.dev, f.ino, f.first_seen_run, f.silo_id
                        FROM unnest(\(part.map(\.bytea))::bytea[]) WITH ORDINALITY AS c(sha, ord)
                        JOIN file f ON f.sha256 = c.sha JOIN silo s ON s.id = f.silo_id
                        ORDER BY c.ord, s.priority, s.name COLLATE "C", f.dir, f.name
                        """) { row in
                        let (ord, silo, dir, name, dev, ino, firstSeen, siloID) = try decodeRow(row,
                            as: (Int64, String, ByteBuffer, ByteBuffer, Int64, Int64, Int64, Int64).self,
                            reading: "the copies of a content")
                        copies[Int(ord) - 1].append(FindingFold.Copy(siloID: siloID, silo: silo, path: Self.relativePath(dir, name),
                                                                     inode: Self.fileID(dev, ino), firstSeenRun: firstSeen))
                    }
                }
            }
            for (content, rows) in zip(part, copies) { try body(content, rows) }
            start += slice
        }
    }

    public func filesAtOpenFindings() throws -> [OpenFindingFold.FileAtPath] {
        try wrap("read the files at open findings") {
            try readers.with { session in
                try session.query("""
                    SELECT o.id, f.size, f.mtime_ns, f.sha256 FROM open_finding o
                    JOIN file f ON f.silo_id = o.silo_id AND f.dir = o.dir AND f.name = o.name
                    WHERE o.closed_at IS NULL ORDER BY o.id
                    """, as: (Int64, Int64, Int64, ByteBuffer?).self).map { id, size, mtime, sha in
                    OpenFindingFold.FileAtPath(openFindingID: id, state: Self.findingState(size, mtime, sha))
                }
            }
        }
    }

    public func openFindingsTakenByPlans() throws -> [OpenFindingFold.TakenByPlan] {
        try wrap("read the merge ledger for open findings") {
            try readers.with { session in
                try session.query("""
                    SELECT o.id, p.plan, m.effect, m.op FROM open_finding o
                    JOIN merge_op m ON m.silo_id = o.silo_id AND m.dir = o.dir AND m.name = o.name
                    JOIN merge_plan p ON p.plan_sha256 = m.plan_sha256
                    WHERE o.closed_at IS NULL AND m.op IS NOT NULL AND m.state IN ('done', 'taking')
                      AND m.effect IN ('moved', 'removed', 'quarantined') AND m.sha256 = o.verified_sha256
                    ORDER BY m.id
                    """, as: (Int64, String, String, Int64).self).map { id, plan, effect, op in
                    OpenFindingFold.TakenByPlan(openFindingID: id, plan: plan, effect: effect, operation: op)
                }
            }
        }
    }

    // MARK: Settling, run by run

    /// Settlements take turns on a session-level advisory lock (`settle`), held on a session of
    /// its own for the whole settlement (reads, decisions, writes): the server lets it go if
    /// this process dies. A settlement under way elsewhere is waited for; it takes seconds.
    public func whileSettling<R>(_ body: () throws -> R) throws -> R {
        let key = lockKey("settle")
        let session = try wrap("wait for the settlement of findings under way") { () throws -> PostgresSession in
            let session = try readers.take()
            // Another settlement takes seconds; one that holds the lock for ten minutes is stuck
            // (a process stopped with SIGSTOP, a hung client): say so rather than wait for ever.
            do {
                try session.execute("SET lock_timeout = '600s'")
                defer { _ = try? session.execute("RESET lock_timeout") }
                try session.execute("SELECT pg_advisory_lock(\(key.key))")
            } catch {
                if (error as? PostgresClientError)?.sqlState == "55P03" {
                    let holder = try? session.advisoryLockHolder(key)
                    session.close()
                    throw PostgresClientError(.lockHeld,
                        "another process has been settling findings for 10 minutes (\(holder.map { "\($0)" } ?? "a session that has since gone")); this run's findings stay unsettled and the next run settles them",
                        server: settings.display)
                }
                session.close()
                throw error
            }
            return session
        }
        let result = Result<R, any Error>(catching: { try body() })
        // Let go of the lock before the session is used again (or closed, when that fails:
        // the server then lets it go).
        if (try? session.advisoryUnlock(key)) == true { readers.give(session) } else { session.close() }
        return try result.get()
    }

    /// A run may still be writing while its run lock (`run:ID`, held from `beginRun` to
    /// `finishRun`) is held, or while it says `running` and the session that began it is
    /// connected (between its INSERT and taking its lock). An interrupted run keeps its lock
    /// until its process has stopped writing; a killed one lost both.
    public func unsettledRuns() throws -> [(id: Int64, writing: Bool)] {
        try wrap("read which runs' findings are not settled") {
            try readers.with { session in
                let runs = try session.query("""
                    SELECT r.id, r.status = 'running' AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.backend_pid)
                    FROM run r
                    WHERE r.kind IN ('scan', 'audit', 'check') AND NOT EXISTS (SELECT 1 FROM settled_run s WHERE s.run_id = r.id)
                    ORDER BY r.id
                    """, as: (Int64, Bool).self)
                guard !runs.isEmpty else { return [] }
                // A bigint advisory key is seen in pg_locks as classid (high 32 bits), objid
                // (low 32 bits), objsubid 1.
                let keys = runs.map { UInt64(bitPattern: lockKey("run:\($0.0)").key) }
                let locked = Set(try session.query("""
                    SELECT k.id FROM unnest(\(runs.map { $0.0 })::bigint[], \(keys.map { Int64($0 >> 32) })::bigint[],
                                            \(keys.map { Int64($0 & 0xffff_ffff) })::bigint[]) AS k(id, high, low)
                    WHERE EXISTS (SELECT 1 FROM pg_locks l
                                  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                                    AND l.classid::bigint = k.high AND l.objid::bigint = k.low
                                    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
                    """, as: Int64.self))
                return runs.map { (id: $0.0, writing: $0.1 || locked.contains($0.0)) }
            }
        }
    }

    public func applyFindingTransitions(_ transitions: [OpenFindingTransition], runID: Int64) throws {
        // What the transitions do to each finding open before the run, folded in order: each
        // applies only while the finding is open (`closed_at IS NULL` when the transaction
        // writes, so one accepted meanwhile stays closed), and a close ends the chain. Then
        // one set-wise UPDATE writes them all.
        struct Update {
            var seen: Finding.State?? = .none
            var detail: String?
            var follow: (silo: String, path: RelativePath)?
            var close: (resolution: OpenFinding.Resolution, detail: String?)?
        }
        var updates: [Int64: Update] = [:]
        var order: [Int64] = []
        var opens: [OpenFindingTransition] = []
        func update(_ id: Int64, _ change: (inout Update) -> Void) {
            if updates[id] == nil { order.append(id) }
            var u = updates[id] ?? Update()
            guard u.close == nil else { return }
            change(&u)
            updates[id] = u
        }
        for t in transitions {
            switch t {
            case .open: opens.append(t)
            case let .sawAgain(id, seen, detail):
                update(id) { u in
                    u.seen = .some(seen)
                    if let detail { u.detail = detail }
                }
            case let .follow(id, silo, path, detail):
                update(id) { u in
                    u.follow = (silo, path)
                    u.detail = detail
                }
            case let .close(id, resolution, detail):
                update(id) { u in u.close = (resolution, detail) }
            case let .stillOpen(id):
                update(id) { _ in }
            }
        }
        let now = Timestamp.string(Date())
        try wrap("keep findings open") {
            try writer.withTransaction { tx in
                // Noted settled, once: a second settlement of the run is refused (rolled back).
                let noted = try tx.query("""
                    INSERT INTO settled_run (run_id) VALUES (\(runID)) ON CONFLICT DO NOTHING RETURNING run_id
                    """, as: Int64.self)
                if noted.isEmpty {
                    throw CatalogueError.failed(catalogue: location.display, operation: "settle the findings of run \(runID)",
                                                reason: "they were settled already; settling them again would open its findings twice")
                }
                if !opens.isEmpty {
                    try tx.execute("""
                        CREATE TEMP TABLE IF NOT EXISTS findings_stage_open (
                            seq bigint, kind text, silo text, dir bytea, name bytea, verified_size bigint, verified_mtime_ns bigint,
                            verified_sha256 bytea, seen_size bigint, seen_mtime_ns bigint, seen_sha256 bytea, opened_at text,
                            detail text
                        ) ON COMMIT DELETE ROWS
                        """)
                    try tx.copyIn(table: "findings_stage_open", columns: [
                        "seq", "kind", "silo", "dir", "name", "verified_size", "verified_mtime_ns", "verified_sha256",
                        "seen_size", "seen_mtime_ns", "seen_sha256", "opened_at", "detail",
                    ]) { w in
                        for (seq, t) in opens.enumerated() {
                            guard case let .open(kind, silo, path, verified, seen, detail, openedAt) = t else { continue }
                            try w.int(seq)
                            try w.text(kind.rawValue)
                            try w.text(silo)
                            try w.bytes(path.parent.bytes)
                            try w.bytes(path.lastComponent)
                            try w.state(verified)
                            try w.state(seen)
                            try w.text(Timestamp.string(openedAt))
                            try w.nullableText(detail)
                            try w.endRow()
                        }
                    }
                    try tx.execute("""
                        INSERT INTO open_finding (kind, silo_id, silo, dir, name, verified_size, verified_mtime_ns, verified_sha256,
                                                  seen_size, seen_mtime_ns, seen_sha256, opened_run, opened_at, last_run, detail)
                        SELECT st.kind, s.id, st.silo, st.dir, st.name, st.verified_size, st.verified_mtime_ns, st.verified_sha256,
                               st.seen_size, st.seen_mtime_ns, st.seen_sha256, \(runID), st.opened_at, \(runID), st.detail
                        FROM findings_stage_open st LEFT JOIN silo s ON s.name = st.silo
                        ORDER BY st.seq
                        """)
                }
                if !order.isEmpty {
                    try tx.execute("""
                        CREATE TEMP TABLE IF NOT EXISTS findings_stage_update (
                            id bigint, set_seen boolean, seen_size bigint, seen_mtime_ns bigint, seen_sha256 bytea, detail text,
                            follow boolean, silo text, dir bytea, name bytea, close boolean, resolution text, closed_detail text
                        ) ON COMMIT DELETE ROWS
                        """)
                    try tx.copyIn(table: "findings_stage_update", columns: [
                        "id", "set_seen", "seen_size", "seen_mtime_ns", "seen_sha256", "detail",
                        "follow", "silo", "dir", "name", "close", "resolution", "closed_detail",
                    ]) { w in
                        for id in order {
                            guard let u = updates[id] else { continue }
                            try w.int(id)
                            if case .some(let seen) = u.seen {
                                try w.bool(true)
                                try w.state(seen)
                            } else {
                                try w.bool(false)
                                try w.null(); try w.null(); try w.null()
                            }
                            try w.nullableText(u.detail)
                            try w.bool(u.follow != nil)
                            try w.nullableText(u.follow?.silo)
                            try w.nullableBytes(u.follow?.path.parent.bytes)
                            try w.nullableBytes(u.follow.map { Array($0.path.lastComponent) })
                            try w.bool(u.close != nil)
                            try w.nullableText(u.close?.resolution.rawValue)
                            try w.nullableText(u.close?.detail)
                            try w.endRow()
                        }
                    }
                    try tx.execute("""
                        UPDATE open_finding o SET
                            seen_size = CASE WHEN u.set_seen THEN u.seen_size ELSE o.seen_size END,
                            seen_mtime_ns = CASE WHEN u.set_seen THEN u.seen_mtime_ns ELSE o.seen_mtime_ns END,
                            seen_sha256 = CASE WHEN u.set_seen THEN u.seen_sha256 ELSE o.seen_sha256 END,
                            detail = coalesce(u.detail, o.detail),
                            silo_id = CASE WHEN u.follow THEN (SELECT s.id FROM silo s WHERE s.name = u.silo) ELSE o.silo_id END,
                            silo = CASE WHEN u.follow THEN u.silo ELSE o.silo END,
                            dir = CASE WHEN u.follow THEN u.dir ELSE o.dir END,
                            name = CASE WHEN u.follow THEN u.name ELSE o.name END,
                            closed_run = CASE WHEN u.close THEN \(runID) ELSE o.closed_run END,
                            closed_at = CASE WHEN u.close THEN \(now) ELSE o.closed_at END,
                            resolution = CASE WHEN u.close THEN u.resolution ELSE o.resolution END,
                            closed_detail = CASE WHEN u.close THEN u.closed_detail ELSE o.closed_detail END,
                            last_run = \(runID)
                        FROM findings_stage_update u
                        WHERE o.id = u.id AND o.closed_at IS NULL
                        """)
                }
            }
        }
    }

    public func recordFindings(_ findings: [Finding], outcome: CheckOutcome, runID: Int64) throws {
        try wrap("record the check's findings") {
            try writer.withTransaction { tx in
                if !findings.isEmpty {
                    try tx.copyIn(table: "finding", columns: [
                        "run_id", "kind", "silo", "path", "old_silo", "old_path", "old_size", "old_mtime_ns", "old_sha256",
                        "new_size", "new_mtime_ns", "new_sha256", "detail",
                    ]) { w in
                        for f in findings {
                            try w.int(runID)
                            try w.text(f.kind.rawValue)
                            try w.text(f.silo)
                            try w.bytes(f.path.bytes)
                            try w.nullableText(f.oldSilo)
                            try w.nullableBytes(f.oldPath?.bytes)
                            try w.state(f.old)
                            try w.state(f.new)
                            try w.nullableText(f.detail)
                            try w.endRow()
                        }
                    }
                }
                try tx.execute("UPDATE run SET outcome = \(outcome.rawValue) WHERE id = \(runID)")
            }
        }
    }

    public func lastCheck() throws -> (run: RunRecord, outcome: CheckOutcome?, findings: [Finding])? {
        guard let run = try runs(limit: nil).first(where: { $0.kind == .check && $0.status != .running }) else { return nil }
        return try wrap("read the last check") {
            try readers.with { session in
                try session.withTransaction { tx in
                    let outcome = try tx.query("SELECT outcome FROM run WHERE id = \(run.id)", as: String?.self).first?
                        .flatMap(CheckOutcome.init)
                    var findings: [Finding] = []
                    try tx.stream("""
                        SELECT kind, silo, path, old_silo, old_path, old_size, old_mtime_ns, old_sha256,
                               new_size, new_mtime_ns, new_sha256, detail FROM finding WHERE run_id = \(run.id) ORDER BY id
                        """) { row in
                        let (kind, silo, path, oldSilo, oldPath, oldSize, oldMtime, oldSHA, newSize, newMtime, newSHA, detail) =
                            try decodeRow(row, as: (String, String, ByteBuffer, String?, ByteBuffer?, Int64?, Int64?, ByteBuffer?,
                                                    Int64?, Int64?, ByteBuffer?, String?).self, reading: "the last check's findings")
                        guard let kind = Finding.Kind(rawValue: kind) else { return }
                        findings.append(Finding(kind: kind, silo: silo, path: RelativePath(bytes: path.allBytes), oldSilo: oldSilo,
                                                oldPath: oldPath.map { RelativePath(bytes: $0.allBytes) },
                                                old: Self.findingState(oldSize, oldMtime, oldSHA),
                                                new: Self.findingState(newSize, newMtime, newSHA), detail: detail))
                    }
                    return (run, outcome, findings)
                }
            }
        }
    }

    public func syncMerges(runID: Int64) throws -> [String] {
        let plans = try wrap("read the merge ledger") {
            try readers.with { session in
                try session.query("SELECT plan_sha256, plan, journal, journal_size FROM merge_plan ORDER BY recorded_run, plan_sha256 COLLATE \"C\"",
                                  as: (String, String, String, Int64?).self)
            }
        }
        var notes: [String] = []
        for (sha, plan, path, size) in plans {
            let journal: MergeJournal?
            do { journal = try MergeJournal.read(FilePath(path)) } catch {
                notes.append("the journal \(path) of plan \(plan) cannot be read (\(error)): what it did since it was last read is not known")
                continue
            }
            guard let journal, journal.size != size else { continue }
            guard journal.planDigest == nil || journal.planDigest == sha else {
                notes.append("the journal \(path) now belongs to another plan than \(plan): the merge ledger keeps what it knew of that plan")
                continue
            }
            try syncMerge(planSHA256: sha, journal: journal, runID: runID)
        }
        return notes
    }

    /// Findings still open (`closed_at IS NULL`) or closed, as `OpenFinding`s, in `order`.
    func fetchOpenFindings(_ session: PostgresSession, closed: Bool, kind: OpenFinding.Kind? = nil,
                           order: String, limit: Int? = nil) throws -> [OpenFinding] {
        let rows = try session.query("""
            SELECT id, kind, silo, dir, name, verified_size, verified_mtime_ns, verified_sha256,
                   seen_size, seen_mtime_ns, seen_sha256, opened_run, opened_at, last_run, detail, closed_run, closed_at,
                   resolution, closed_by, closed_detail
            FROM open_finding
            WHERE (closed_at IS NOT NULL) = \(closed) AND (\(kind?.rawValue)::text IS NULL OR kind = \(kind?.rawValue))
            ORDER BY \(unescaped: order) LIMIT \(Int64(limit ?? Int(Int32.max)))
            """)
        return try rows.map { row in
            let (id, kind, silo, dir, name, vSize, vMtime, vSHA, sSize, sMtime, sSHA, openedRun, openedAt, lastRun, detail,
                 closedRun, closedAt, resolution, closedBy, closedDetail) = try decodeRow(row,
                as: (Int64, String, String, ByteBuffer, ByteBuffer, Int64?, Int64?, ByteBuffer?, Int64?, Int64?, ByteBuffer?,
                     Int64, String, Int64, String?, Int64?, String?, String?, String?, String?).self, reading: "the open findings")
            let seenGone = sSize == nil && sSHA == nil
            return OpenFinding(
                id: id, kind: OpenFinding.Kind(rawValue: kind) ?? .corrupted, silo: silo, path: Self.relativePath(dir, name),
                verified: Self.findingState(vSize, vMtime, vSHA),
                seen: seenGone ? nil : Self.findingState(sSize, sMtime, sSHA),
                openedRun: openedRun, openedAt: Timestamp.date(openedAt) ?? Date(timeIntervalSince1970: 0), lastRun: lastRun,
                detail: detail, closedRun: closedRun, closedAt: closedAt.flatMap(Timestamp.date),
                resolution: resolution.flatMap(OpenFinding.Resolution.init(rawValue:)), closedBy: closedBy, closedDetail: closedDetail)
        }
    }

    public func openFindings(silos: [String]) throws -> [OpenFinding] {
        try wrap("list open findings") {
            try readers.with { session in
                try fetchOpenFindings(session, closed: false, order: "kind = 'missing', silo COLLATE \"C\", dir, name")
                    .filter { silos.isEmpty || silos.contains($0.silo) }
            }
        }
    }

    public func closedFindings(limit: Int) throws -> [OpenFinding] {
        try wrap("list closed findings") {
            try readers.with { session in
                try fetchOpenFindings(session, closed: true, order: "closed_at COLLATE \"C\" DESC, id DESC", limit: max(0, limit))
            }
        }
    }

    public func closeAccepted(_ closing: [(id: Int64, detail: String)], by user: String, at time: Date) throws -> Set<Int64> {
        // One id named twice: the first detail, as when they are closed one after the other.
        var seen = Set<Int64>()
        let first = closing.filter { seen.insert($0.id).inserted }
        guard !first.isEmpty else { return [] }
        return try wrap("accept findings") {
            try writer.withTransaction { tx in
                Set(try tx.query("""
                    UPDATE open_finding o SET closed_at = \(Timestamp.string(time)), resolution = 'accepted', closed_by = \(user),
                        closed_detail = c.detail
                    FROM unnest(\(first.map { $0.id })::bigint[], \(first.map { $0.detail })::text[]) AS c(id, detail)
                    WHERE o.id = c.id AND o.closed_at IS NULL
                    RETURNING o.id
                    """, as: Int64.self))
            }
        }
    }
}

// MARK: - MergeLedger

extension PostgresCatalogue {
    public func recordMerge(plan: MergePlan, planSHA256: String, planPath: FilePath, journal: FilePath, runID: Int64) throws {
        try wrap("record the plan in the merge ledger") {
            try writer.withTransaction { tx in
                let known = try tx.query("SELECT EXISTS (SELECT 1 FROM merge_plan WHERE plan_sha256 = \(planSHA256))",
                                         as: Bool.self).first ?? false
                try tx.execute("""
                    INSERT INTO merge_plan (plan_sha256, plan, journal, target_root, quarantine_root, recorded_run)
                    VALUES (\(planSHA256), \(planPath.display), \(journal.display), \(ByteBuffer(bytes: plan.targetRoot.bytes)),
                            \(ByteBuffer(bytes: plan.quarantineRoot.bytes)), \(runID))
                    ON CONFLICT (plan_sha256) DO UPDATE SET plan = excluded.plan, journal = excluded.journal
                    """)
                if known { return }
                // The operations, in plan order, each with its source as the plan saw it and
                // where its content goes; whether it takes its file from its silo (its
                // sidecars then stay behind), and whether it carries a sidecar away itself.
                try tx.execute("""
                    CREATE TEMP TABLE IF NOT EXISTS findings_stage_merge_op (
                        op bigint, kind text, effect text, silo text, dir bytea, name bytea, size bigint, mtime_ns bigint,
                        dev bigint, ino bigint, sha256 bytea, dest_root text, dest_dir bytea, dest_name bytea,
                        takes_file boolean, carried boolean, left_note text
                    ) ON COMMIT DELETE ROWS
                    """)
                try tx.copyIn(table: "findings_stage_merge_op", columns: [
                    "op", "kind", "effect", "silo", "dir", "name", "size", "mtime_ns", "dev", "ino", "sha256",
                    "dest_root", "dest_dir", "dest_name", "takes_file", "carried", "left_note",
                ]) { w in
                    for op in plan.operations {
                        var dest: (root: String, path: RelativePath)?
                        if op.kind.writesTarget, let d = op.destination { dest = ("target", d) }
                        if op.kind == .quarantineDuplicate, let d = op.destination { dest = ("quarantine", d) }
                        if op.kind == .removeDuplicate || op.kind == .linkDuplicate,
                           let c = op.canonicalOp.flatMap(plan.operation), let d = c.destination { dest = ("target", d) }
                        let s = op.source
                        let effect = MergeJournal.effect(of: op.kind)
                        let takes = s != nil && ["moved", "removed", "quarantined"].contains(effect) && !op.kind.isSidecarTransfer
                        let verb = effect == "moved" ? "moved into the target" : effect == "removed" ? "removed as a duplicate" : "quarantined"
                        try w.int(op.id)
                        try w.text(op.kind.rawValue)
                        try w.text(effect)
                        try w.nullableText(s?.silo)
                        try w.nullableBytes(s?.path.parent.bytes)
                        try w.nullableBytes(s.map { Array($0.path.lastComponent) })
                        try w.nullableInt(s?.size)
                        try w.nullableInt(s?.mtimeNs)
                        try w.nullableInt(s.map { Int64(bitPattern: $0.device) })
                        try w.nullableInt(s.map { Int64(bitPattern: $0.inode) })
                        try w.nullableBytes(Self.digest(hex: s?.sha256 ?? op.contentSHA256)?.allBytes)
                        try w.nullableText(dest?.root)
                        try w.nullableBytes(dest?.path.parent.bytes)
                        try w.nullableBytes(dest.map { Array($0.path.lastComponent) })
                        try w.bool(takes)
                        try w.bool(s != nil && op.kind.isSidecarTransfer && op.kind.method == .move)
                        try w.nullableText(takes ? "the sidecar of \(s!.display), which the plan \(verb) (operation \(op.id))" : nil)
                        try w.endRow()
                    }
                }
                try tx.execute("""
                    INSERT INTO merge_op (plan_sha256, op, follows_op, kind, effect, silo_id, silo, dir, name, size, mtime_ns,
                                          dev, ino, sha256, dest_root, dest_dir, dest_name, note)
                    SELECT \(planSHA256), st.op, NULL, st.kind, st.effect, s.id, st.silo, st.dir, st.name, st.size, st.mtime_ns,
                           st.dev, st.ino, st.sha256, st.dest_root, st.dest_dir, st.dest_name, NULL
                    FROM findings_stage_merge_op st LEFT JOIN silo s ON s.name = st.silo
                    ORDER BY st.op
                    """)
                // The sidecars of a file taken from its silo stay there, files of their own
                // from then on: recorded so the next check knows them (left behind by the
                // plan), unless the plan carries them away itself.
                try tx.execute("""
                    INSERT INTO merge_op (plan_sha256, op, follows_op, kind, effect, silo_id, silo, dir, name, size, mtime_ns,
                                          dev, ino, sha256, dest_root, dest_dir, dest_name, note)
                    SELECT \(planSHA256), NULL, st.op, 'left-sidecar', 'left', s.id, st.silo, sc.dir, sc.name, sc.size, sc.mtime_ns,
                           sc.dev, sc.ino, sc.sha256, NULL, NULL, NULL, st.left_note
                    FROM findings_stage_merge_op st
                    JOIN silo s ON s.name = st.silo
                    JOIN file f ON f.silo_id = s.id AND f.dir = st.dir AND f.name = st.name
                    JOIN sidecar sc ON sc.file_id = f.id
                    WHERE st.takes_file
                      AND NOT EXISTS (SELECT 1 FROM findings_stage_merge_op c
                                      WHERE c.carried AND c.silo = st.silo AND c.dir = sc.dir AND c.name = sc.name)
                    ORDER BY st.op, sc.id
                    """)
                // What each carried content holds (format, dimensions, image hash and its
                // prefix, embedded metadata), as the catalogue knows it now: an adopted target
                // takes it from here.
                try tx.execute("""
                    UPDATE merge_op m SET format = f.format, width = f.width, height = f.height, image_sha256 = f.image_sha256,
                        image_prefix = f.image_prefix, metadata_read = f.metadata_read, dimensions_group = f.dimensions_group
                    FROM file f
                    WHERE m.plan_sha256 = \(planSHA256) AND m.op IS NOT NULL AND m.effect IN ('moved', 'copied')
                      AND m.kind NOT LIKE 'sidecar-%'
                      AND f.silo_id = m.silo_id AND f.dir = m.dir AND f.name = m.name AND f.sha256 = m.sha256
                    """)
                try tx.execute("""
                    INSERT INTO merge_metadata (plan_sha256, op, field, origin, tag, value, raw, preferred)
                    SELECT m.plan_sha256, m.op, md.field, md.origin, md.tag, md.value, md.raw, md.preferred
                    FROM merge_op m
                    JOIN file f ON f.silo_id = m.silo_id AND f.dir = m.dir AND f.name = m.name AND f.sha256 = m.sha256
                    JOIN metadata md ON md.file_id = f.id AND md.source IS NULL
                    WHERE m.plan_sha256 = \(planSHA256) AND m.op IS NOT NULL AND m.metadata_read IS NOT NULL AND m.metadata_read > 0
                    """)
            }
        }
    }

    public func mergeContentKnown(planSHA256: String) throws -> Set<RelativePath> {
        try wrap("read the merge ledger") {
            try readers.with { session in
                Set(try session.query("""
                    SELECT dest_dir, dest_name FROM merge_op
                    WHERE plan_sha256 = \(planSHA256) AND op IS NOT NULL AND dest_root = 'target'
                      AND metadata_read = \(Int64(MetadataReader.version))
                    """, as: (ByteBuffer, ByteBuffer).self).map { Self.relativePath($0, $1) })
            }
        }
    }

    public func adoptMergeContent(planSHA256: String, silo: String) throws -> Int {
        try wrap("take the merged files' metadata from the ledger") {
            try writer.withTransaction { tx in
                guard let siloID = try tx.query("SELECT id FROM silo WHERE name = \(silo)", as: Int64.self).first else { return 0 }
                try tx.execute("""
                    CREATE TEMP TABLE IF NOT EXISTS findings_adopt_facts (file_id bigint PRIMARY KEY, op bigint NOT NULL)
                    ON COMMIT DELETE ROWS
                    """)
                try tx.execute("""
                    INSERT INTO findings_adopt_facts (file_id, op)
                    SELECT DISTINCT ON (f.id) f.id, m.op FROM file f
                    JOIN merge_op m ON m.plan_sha256 = \(planSHA256) AND m.op IS NOT NULL AND m.dest_root = 'target'
                        AND m.dest_dir = f.dir AND m.dest_name = f.name AND m.sha256 = f.sha256
                        AND m.metadata_read = \(Int64(MetadataReader.version))
                    WHERE f.silo_id = \(siloID) AND f.metadata_read = 0
                    ORDER BY f.id, m.id
                    """)
                try tx.execute("DELETE FROM metadata md USING findings_adopt_facts a WHERE md.source IS NULL AND md.file_id = a.file_id")
                try tx.execute("""
                    INSERT INTO metadata (file_id, field, origin, tag, value, raw, source, source_mtime_ns, preferred)
                    SELECT a.file_id, md.field, md.origin, md.tag, md.value, md.raw, NULL, f.mtime_ns, md.preferred
                    FROM findings_adopt_facts a JOIN file f ON f.id = a.file_id
                    JOIN merge_metadata md ON md.plan_sha256 = \(planSHA256) AND md.op = a.op
                    """)
                try tx.execute("""
                    UPDATE file f SET format = m.format, width = m.width, height = m.height, image_sha256 = m.image_sha256,
                        image_prefix = m.image_prefix, metadata_read = m.metadata_read, dimensions_group = m.dimensions_group
                    FROM findings_adopt_facts a JOIN merge_op m ON m.plan_sha256 = \(planSHA256) AND m.op = a.op
                    WHERE f.id = a.file_id
                    """)
                return Int(try tx.query("SELECT count(*) FROM findings_adopt_facts", as: Int64.self).first ?? 0)
            }
        }
    }

    public func syncMerge(planSHA256: String, journal: MergeJournal, runID: Int64) throws {
        try wrap("update the merge ledger") {
            try writer.withTransaction { tx in
                if !journal.ops.isEmpty {
                    try tx.execute("""
                        CREATE TEMP TABLE IF NOT EXISTS findings_stage_journal (
                            op bigint, state text, placed_dev bigint, placed_ino bigint, placed_size bigint, placed_mtime_ns bigint
                        ) ON COMMIT DELETE ROWS
                        """)
                    try tx.copyIn(table: "findings_stage_journal",
                                  columns: ["op", "state", "placed_dev", "placed_ino", "placed_size", "placed_mtime_ns"]) { w in
                        for (id, o) in journal.ops.sorted(by: { $0.key < $1.key }) {
                            let r = o.result
                            try w.int(id)
                            try w.text(o.state.rawValue)
                            try w.nullableInt(r.map { Int64(bitPattern: $0.device) })
                            try w.nullableInt(r.map { Int64(bitPattern: $0.inode) })
                            try w.nullableInt(r?.size)
                            try w.nullableInt(r?.mtimeNs)
                            try w.endRow()
                        }
                    }
                    try tx.execute("""
                        UPDATE merge_op m SET state = j.state, state_run = \(runID), placed_dev = j.placed_dev, placed_ino = j.placed_ino,
                            placed_size = j.placed_size, placed_mtime_ns = j.placed_mtime_ns
                        FROM findings_stage_journal j
                        WHERE m.plan_sha256 = \(planSHA256) AND m.op = j.op
                          AND (m.state IS DISTINCT FROM j.state OR m.placed_ino IS DISTINCT FROM j.placed_ino)
                        """)
                }
                // A sidecar left behind shares the fate of the operation that took its file.
                try tx.execute("""
                    UPDATE merge_op m SET state = f.state, state_run = \(runID)
                    FROM merge_op f
                    WHERE m.plan_sha256 = \(planSHA256) AND m.op IS NULL AND f.plan_sha256 = m.plan_sha256 AND f.op = m.follows_op
                      AND m.state IS DISTINCT FROM f.state
                    """)
                try tx.execute("""
                    UPDATE merge_plan SET synced_run = \(runID), journal_size = \(journal.size) WHERE plan_sha256 = \(planSHA256)
                    """)
            }
        }
    }

    public func recordPlanRun(_ runID: Int64, _ r: PlanRunRecord, outcome: String?) throws {
        try wrap("record the plan run") {
            try writer.withTransaction { tx in
                try tx.execute("""
                    INSERT INTO plan_run (run_id, plan, plan_sha256, journal, operations, done, skipped, refused, failed, bytes_written)
                    VALUES (\(runID), \(r.plan), \(r.planSHA256), \(r.journal), \(Int64(r.operations)), \(Int64(r.done)),
                            \(Int64(r.skipped)), \(Int64(r.refused)), \(Int64(r.failed)), \(Int64(r.bytesWritten)))
                    ON CONFLICT (run_id) DO UPDATE SET done = excluded.done, skipped = excluded.skipped,
                        refused = excluded.refused, failed = excluded.failed, bytes_written = excluded.bytes_written
                    """)
                try tx.execute("UPDATE run SET outcome = \(outcome) WHERE id = \(runID)")
            }
        }
    }

    public func planRuns(_ runIDs: [Int64]) throws -> [Int64: PlanRunRecord] {
        guard !runIDs.isEmpty else { return [:] }
        return try wrap("list plan runs") {
            try readers.with { session in
                var out: [Int64: PlanRunRecord] = [:]
                for (id, plan, sha, journal, operations, done, skipped, refused, failed, written) in try session.query("""
                    SELECT run_id, plan, plan_sha256, journal, operations, done, skipped, refused, failed, bytes_written
                    FROM plan_run WHERE run_id = ANY(\(runIDs)::bigint[])
                    """, as: (Int64, String, String, String, Int64, Int64, Int64, Int64, Int64, Int64).self) {
                    var r = PlanRunRecord(plan: plan, planSHA256: sha, journal: journal, operations: Int(operations))
                    r.done = Int(done); r.skipped = Int(skipped); r.refused = Int(refused); r.failed = Int(failed)
                    r.bytesWritten = written
                    out[id] = r
                }
                return out
            }
        }
    }

    public func markAdopted(silo: String, planSHA256: String) throws {
        try wrap("record the adopted silo") {
            try writer.execute("UPDATE silo SET adopted_plan = \(planSHA256) WHERE name = \(silo)")
        }
    }
}

// MARK: - UnverifiedCopySource

extension PostgresCatalogue {
    /// Files with a `corrupted` finding still open, of these silos (all when empty), each with
    /// up to three catalogued files holding its verified content: what `plan` refuses to plan.
    public func unverifiedCopies(silos: [String]) throws -> [UnverifiedCopy] {
        try wrap("list files with corruption still open") {
            try readers.with { session in
                let open = try fetchOpenFindings(session, closed: false, kind: .corrupted, order: "silo COLLATE \"C\", dir, name")
                    .filter { silos.isEmpty || silos.contains($0.silo) }
                guard !open.isEmpty else { return [] }
                var good: [Int64: [String]] = [:]
                for (id, silo, dir, name) in try session.query("""
                    SELECT o.id, g.silo, g.dir, g.name FROM open_finding o
                    CROSS JOIN LATERAL (
                        SELECT s.name AS silo, f.dir, f.name, s.priority FROM file f JOIN silo s ON s.id = f.silo_id
                        WHERE f.sha256 = o.verified_sha256
                        ORDER BY s.priority, s.name COLLATE "C", f.dir, f.name LIMIT 3) g
                    WHERE o.id = ANY(\(open.map(\.id))::bigint[])
                    ORDER BY o.id, g.priority, g.silo COLLATE "C", g.dir, g.name
                    """, as: (Int64, String, ByteBuffer, ByteBuffer).self) {
                    good[id, default: []].append("\(silo):\(Self.relativePath(dir, name).display)")
                }
                return open.map { f in
                    UnverifiedCopy(silo: f.silo, path: f.path, verifiedSHA256: f.verified.sha256, currentSHA256: f.seen?.sha256,
                                   openedAt: f.openedAt, openedRun: f.openedRun, goodCopies: good[f.id] ?? [])
                }
            }
        }
    }
}
