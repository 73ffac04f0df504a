import Foundation
import GRDB

extension SQLiteCatalogue {
    public func beginWalk(runID: Int64) throws {
        try wrap("prepare the walk") {
            try pool.write { db in
                try db.execute(sql: """
                    CREATE TEMP TABLE IF NOT EXISTS visited (silo_id INTEGER NOT NULL, dir TEXT NOT NULL, PRIMARY KEY (silo_id, dir)) WITHOUT ROWID;
                    CREATE TEMP TABLE IF NOT EXISTS kept_dir (silo_id INTEGER NOT NULL, dir TEXT NOT NULL, PRIMARY KEY (silo_id, dir)) WITHOUT ROWID;
                    CREATE TEMP TABLE IF NOT EXISTS excluded_dir (silo_id INTEGER NOT NULL, dir TEXT NOT NULL, PRIMARY KEY (silo_id, dir)) WITHOUT ROWID;
                    DELETE FROM visited; DELETE FROM kept_dir; DELETE FROM excluded_dir;
                    """)
            }
        }
    }

    public func deferIndexes() throws {
        try wrap("drop indexes for loading") {
            try pool.write { db in
                for name in CatalogueSchema.bulkIndexNames { try db.execute(sql: "DROP INDEX IF EXISTS \(name)") }
            }
        }
    }

    public func restoreIndexes() throws {
        try wrap("build indexes") {
            try pool.write { db in
                for sql in CatalogueSchema.bulkIndexes { try db.execute(sql: sql) }
            }
        }
    }

    public func fileCounts() throws -> [Int64: Int] {
        try wrap("count files") {
            try pool.read { db in
                var out: [Int64: Int] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT silo_id, count(*) FROM file GROUP BY silo_id") {
                    out[row[0]] = row[1]
                }
                return out
            }
        }
    }

    public func storedEntries(siloID: Int64, dir: RelativePath) throws -> [StoredEntry] {
        try makeFolderReader().entries(siloID: siloID, dir: dir)
    }

    public func makeFolderReader() throws -> any FolderReader {
        try SQLiteFolderReader(path: location)
    }

    public func storedHash(linkedTo stat: FileStat) throws -> SHA256Digest? {
        try wrap("look up a hard link") {
            try pool.read { db in
                let statement = try db.cachedStatement(sql: """
                    SELECT sha256 FROM file WHERE dev = ? AND ino = ? AND nlink > 1 AND size = ?
                      AND mtime_ns = ? AND ctime_ns = ? AND sha256 IS NOT NULL LIMIT 1
                    """)
                let hex = try String.fetchOne(statement, arguments: [
                    Int64(bitPattern: stat.device), Int64(bitPattern: stat.inode), stat.size, stat.mtimeNs, stat.ctimeNs])
                return hex.flatMap(SHA256Digest.init(hex:))
            }
        }
    }

    public func apply(_ writes: [CatalogueWrite], runID: Int64) throws {
        guard !writes.isEmpty else { return }
        try wrap("write scan results") {
            try pool.write { db in
                let now = Timestamp.string(Date())
                let update = RawStatement(try db.cachedStatement(sql: """
                    UPDATE file SET size = ?1, mtime_ns = ?2, ctime_ns = ?3, dev = ?4, ino = ?5, nlink = ?6, mode = ?7,
                        uid = ?8, gid = ?9, sha256 = ?10, partial_sha256 = ?11, hashed_at = ?12, changed_run = ?13
                    WHERE id = ?14
                    """), db)
                let insert = RawStatement(try db.cachedStatement(sql: """
                    INSERT INTO file (size, mtime_ns, ctime_ns, dev, ino, nlink, mode, uid, gid, sha256,
                                      partial_sha256, hashed_at, first_seen_run, silo_id, dir, name)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
                    """), db)
                let hashed = RawStatement(try db.cachedStatement(sql: """
                    UPDATE file SET sha256 = coalesce(?1, sha256), partial_sha256 = coalesce(?2, partial_sha256),
                        hashed_at = CASE WHEN ?1 IS NULL THEN hashed_at ELSE ?3 END
                    WHERE id = ?4
                    """), db)
                let contentChange = RawStatement(try db.cachedStatement(sql: """
                    INSERT INTO change (run_id, kind, silo_id, dir, name, file_id, old_size, old_mtime_ns,
                                        old_dev, old_ino, old_sha256, new_size, new_mtime_ns, new_sha256)
                    SELECT ?1, 'content', silo_id, dir, name, id, size, mtime_ns, dev, ino, ?2, size, mtime_ns, ?3
                    FROM file WHERE id = ?4
                    """), db)
                let change = RawStatement(try db.cachedStatement(sql: """
                    INSERT INTO change (run_id, kind, silo_id, dir, name, file_id, old_size, old_mtime_ns, old_dev, old_ino,
                                        old_sha256, new_size, new_mtime_ns, new_sha256)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                    """), db)
                let delete = RawStatement(try db.cachedStatement(sql: "DELETE FROM file WHERE id = ?1"), db)
                let visited = RawStatement(try db.cachedStatement(sql: "INSERT OR IGNORE INTO visited (silo_id, dir) VALUES (?1, ?2)"), db)
                let kept = RawStatement(try db.cachedStatement(sql: "INSERT OR IGNORE INTO kept_dir (silo_id, dir) VALUES (?1, ?2)"), db)
                let excluded = RawStatement(try db.cachedStatement(sql: "INSERT OR IGNORE INTO excluded_dir (silo_id, dir) VALUES (?1, ?2)"), db)

                func bindStat(_ s: RawStatement, _ st: FileStat) {
                    s.bind(1, st.size); s.bind(2, st.mtimeNs); s.bind(3, st.ctimeNs)
                    s.bind(4, Int64(bitPattern: st.device)); s.bind(5, Int64(bitPattern: st.inode))
                    s.bind(6, Int64(st.linkCount)); s.bind(7, Int64(st.mode)); s.bind(8, Int64(st.uid)); s.bind(9, Int64(st.gid))
                }
                func recordChange(_ kind: ChangeKind, siloID: Int64, dir: RelativePath, name: [UInt8], fileID: Int64?,
                                  old: FileStat?, oldSHA: SHA256Digest?, new: FileStat?, newSHA: SHA256Digest?) throws {
                    change.bind(1, runID); change.bind(2, text: kind.rawValue); change.bind(3, siloID)
                    change.bind(4, text: dir.bytes); change.bind(5, text: name)
                    if let fileID { change.bind(6, fileID) }
                    if let old {
                        change.bind(7, old.size); change.bind(8, old.mtimeNs)
                        change.bind(9, Int64(bitPattern: old.device)); change.bind(10, Int64(bitPattern: old.inode))
                    }
                    change.bind(11, oldSHA)
                    if let new { change.bind(12, new.size); change.bind(13, new.mtimeNs) }
                    change.bind(14, newSHA)
                    try change.run("record a change")
                }

                for write in writes {
                    switch write {
                    case .upsert(let row, let replacing):
                        let hashedAt = row.hashedAt == nil ? nil : now
                        if let old = replacing {
                            bindStat(update, row.stat)
                            update.bind(10, row.sha256); update.bind(11, row.partial); update.bind(12, text: hashedAt)
                            update.bind(13, runID); update.bind(14, old.id)
                            try update.run("update a file")
                            try recordChange(.changed, siloID: row.siloID, dir: row.dir, name: row.name, fileID: old.id,
                                             old: old.stat, oldSHA: old.sha256, new: row.stat, newSHA: row.sha256)
                        } else {
                            bindStat(insert, row.stat)
                            insert.bind(10, row.sha256); insert.bind(11, row.partial); insert.bind(12, text: hashedAt)
                            insert.bind(13, runID); insert.bind(14, row.siloID)
                            insert.bind(15, text: row.dir.bytes); insert.bind(16, text: row.name)
                            try insert.run("add a file")
                        }
                    case .hashed(let id, let sha, let partial, let previous):
                        hashed.bind(1, sha); hashed.bind(2, partial); hashed.bind(3, text: now); hashed.bind(4, id)
                        try hashed.run("record a hash")
                        if let sha, let previous, sha != previous {
                            contentChange.bind(1, runID); contentChange.bind(2, previous); contentChange.bind(3, sha)
                            contentChange.bind(4, id)
                            try contentChange.run("record a content change")
                        }
                    case .remove(let old, let siloID, let dir, let reason):
                        try recordChange(reason, siloID: siloID, dir: dir, name: old.name, fileID: old.id,
                                         old: old.stat, oldSHA: old.sha256, new: nil, newSHA: nil)
                        delete.bind(1, old.id)
                        try delete.run("forget a file")
                    case .visitedDirectory(let siloID, let dir):
                        visited.bind(1, siloID); visited.bind(2, text: dir.bytes)
                        try visited.run("note a folder")
                    case .unreadableDirectory(let siloID, let dir):
                        kept.bind(1, siloID); kept.bind(2, text: dir.bytes)
                        try kept.run("note a folder")
                    case .excludedDirectory(let siloID, let dir):
                        excluded.bind(1, siloID); excluded.bind(2, text: dir.bytes)
                        try excluded.run("note a folder")
                    }
                }
            }
        }
    }

    public func record(_ diagnostics: [Diagnostic], runID: Int64) throws {
        guard !diagnostics.isEmpty else { return }
        try wrap("record diagnostics") {
            try pool.write { db in
                let statement = try db.cachedStatement(sql: """
                    INSERT INTO diagnostic (run_id, severity, code, silo, path, errno, message)
                    VALUES (?, ?, ?, ?, CAST(? AS TEXT), ?, ?)
                    """)
                for d in diagnostics {
                    try statement.execute(arguments: [runID, d.severity.rawValue, d.code.rawValue, d.silo,
                                                      d.path.map { Self.textArgument($0.bytes) }, d.errno, d.message])
                }
            }
        }
    }

    public func finishWalk(runID: Int64, siloIDs: [Int64]) throws -> (missing: Int, excluded: Int) {
        guard !siloIDs.isEmpty else { return (0, 0) }
        return try wrap("find vanished folders") {
            try pool.write { db in
                let ids = siloIDs.map(String.init).joined(separator: ",")
                // Rows in folders the walk did not list, except below folders it could not read
                // (their content is unknown, not gone). Below an excluded folder: out of scope.
                try db.execute(sql: """
                    CREATE TEMP TABLE IF NOT EXISTS doomed (id INTEGER PRIMARY KEY, kind TEXT NOT NULL);
                    DELETE FROM doomed;
                    INSERT INTO doomed (id, kind)
                    SELECT f.id,
                        CASE WHEN EXISTS (SELECT 1 FROM excluded_dir e WHERE e.silo_id = f.silo_id
                                 AND (f.dir = e.dir OR (f.dir >= e.dir || '/' AND f.dir < e.dir || '0')))
                             THEN 'excluded' ELSE 'missing' END
                    FROM file f
                    WHERE f.silo_id IN (\(ids))
                      AND NOT EXISTS (SELECT 1 FROM visited v WHERE v.silo_id = f.silo_id AND v.dir = f.dir)
                      AND NOT EXISTS (SELECT 1 FROM kept_dir k WHERE k.silo_id = f.silo_id
                                 AND (k.dir = '' OR f.dir = k.dir OR (f.dir >= k.dir || '/' AND f.dir < k.dir || '0')));
                    INSERT INTO change (run_id, kind, silo_id, dir, name, file_id, old_size, old_mtime_ns, old_dev,
                                        old_ino, old_sha256)
                    SELECT \(runID), d.kind, f.silo_id, f.dir, f.name, f.id, f.size, f.mtime_ns, f.dev, f.ino, f.sha256
                    FROM doomed d JOIN file f ON f.id = d.id;
                    DELETE FROM file WHERE id IN (SELECT id FROM doomed);
                    """)
                let missing = try Int.fetchOne(db, sql: "SELECT count(*) FROM doomed WHERE kind = 'missing'") ?? 0
                let excluded = try Int.fetchOne(db, sql: "SELECT count(*) FROM doomed WHERE kind = 'excluded'") ?? 0
                return (missing, excluded)
            }
        }
    }

    // MARK: - Stages of --hash dupes

    public func fillEmptyHashes(siloIDs: [Int64]) throws -> Int {
        guard !siloIDs.isEmpty else { return 0 }
        return try wrap("record empty files") {
            try pool.write { db in
                let ids = siloIDs.map(String.init).joined(separator: ",")
                try db.execute(sql: """
                    UPDATE file SET sha256 = ?, partial_sha256 = ?, hashed_at = ?
                    WHERE silo_id IN (\(ids)) AND size = 0 AND sha256 IS NULL
                    """, arguments: [SHA256Digest.empty.hex, SHA256Digest.empty.hex, Timestamp.string(Date())])
                return db.changesCount
            }
        }
    }

    public func prepareStage(_ stage: ReadStage, siloIDs: [Int64], rehash: Bool) throws -> StagePlan {
        let scope = Set(siloIDs)
        return try wrap("select files to read") {
            try pool.write { db in
                try db.execute(sql: """
                    CREATE TEMP TABLE IF NOT EXISTS stage_job (dev INTEGER NOT NULL, ino INTEGER NOT NULL,
                        file_id INTEGER NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (dev, ino)) WITHOUT ROWID;
                    DELETE FROM stage_job;
                    """)
                try db.execute(sql: CatalogueSchema.bulkIndexes[1])   // the size index, if a bulk load dropped it
                let spec: PartialHashSpec
                switch stage { case .partial(let p): spec = p; case .full(let p): spec = p }
                let whole = max(spec.wholeFileLimit, 2 * spec.block)
                if case .partial = stage {
                    // Small files are read whole by the partial stage: their partial hash is
                    // their full hash, known already when they were hashed before.
                    try db.execute(sql: """
                        UPDATE file SET partial_sha256 = sha256
                        WHERE partial_sha256 IS NULL AND sha256 IS NOT NULL AND size <= ?
                        """, arguments: [whole])
                }
                let insert = RawStatement(try db.cachedStatement(sql: """
                    INSERT OR IGNORE INTO stage_job (dev, ino, file_id, size) VALUES (?1, ?2, ?3, ?4)
                    """), db)
                // One pass in (size, partial hash) order: groups are decided in memory one size
                // at a time, so memory does not grow with the catalogue. The partial stage needs
                // only the size index; the full stage also reads the partial hashes, of the
                // sizes the partial stage kept.
                if case .partial = stage {
                    try db.execute(sql: """
                        CREATE TEMP TABLE IF NOT EXISTS cand_size (size INTEGER PRIMARY KEY);
                        DELETE FROM cand_size;
                        INSERT INTO cand_size (size)
                        SELECT size FROM file INDEXED BY file_size WHERE size > 0
                        GROUP BY size HAVING count(DISTINCT dev || ':' || ino) > 1;
                        """)
                }
                let rows = RawStatement(try db.cachedStatement(sql: """
                    SELECT f.size, f.partial_sha256, f.dev, f.ino, f.silo_id, f.id FROM cand_size c
                    JOIN file f INDEXED BY file_size ON f.size = c.size
                    ORDER BY f.size, f.partial_sha256
                    """), db)
                defer { rows.reset() }
                struct Entry { var partial: SHA256Digest?; var inode: FileID; var silo: Int64; var id: Int64 }
                var group: [Entry] = []
                var groupSize: Int64 = -1
                func emit(_ row: Entry, size: Int64) throws {
                    insert.bind(1, Int64(bitPattern: row.inode.device)); insert.bind(2, Int64(bitPattern: row.inode.inode))
                    insert.bind(3, row.id); insert.bind(4, size)
                    try insert.run("queue a file")
                }
                func decide() throws {
                    defer { group.removeAll(keepingCapacity: true) }
                    guard group.count > 1, Set(group.map(\.inode)).count > 1 else { return }
                    switch stage {
                    case .partial:
                        for row in group where scope.contains(row.silo) && (row.partial == nil || rehash) {
                            try emit(row, size: groupSize)
                        }
                    case .full:
                        // A file whose partial hash is unknown (its silo was not scanned now)
                        // keeps its whole size group in play.
                        if group.contains(where: { $0.partial == nil }) {
                            for row in group where scope.contains(row.silo) { try emit(row, size: groupSize) }
                            return
                        }
                        var start = 0
                        while start < group.count {
                            var end = start + 1
                            while end < group.count && group[end].partial == group[start].partial { end += 1 }
                            let slice = group[start..<end]
                            if Set(slice.map(\.inode)).count > 1 {
                                for row in slice where scope.contains(row.silo) { try emit(row, size: groupSize) }
                            }
                            start = end
                        }
                    }
                }
                while try rows.step("read the size index") {
                    let size = rows.int64(0)
                    if size != groupSize { try decide(); groupSize = size }
                    group.append(Entry(partial: rows.digest(1),
                                     inode: FileID(device: UInt64(bitPattern: rows.int64(2)), inode: UInt64(bitPattern: rows.int64(3))),
                                     silo: rows.int64(4), id: rows.int64(5)))
                }
                try decide()
                if case .full = stage, !rehash {
                    // Files already hashed need no reading.
                    try db.execute(sql: """
                        DELETE FROM stage_job WHERE file_id IN (SELECT j.file_id FROM stage_job j JOIN file f ON f.id = j.file_id
                                                                 WHERE f.sha256 IS NOT NULL)
                        """)
                }
                let total = try Row.fetchOne(db, sql: "SELECT count(*), coalesce(sum(size), 0) FROM stage_job")!
                var bytes: Int64 = total[1]
                if case .partial = stage {
                    bytes = try Int64.fetchOne(db, sql: """
                        SELECT coalesce(sum(CASE WHEN size <= ? THEN size ELSE ? END), 0) FROM stage_job
                        """, arguments: [whole, 2 * spec.block]) ?? 0
                }
                let devices = try Int64.fetchAll(db, sql: "SELECT DISTINCT dev FROM stage_job ORDER BY dev")
                return StagePlan(files: total[0], bytes: bytes, devices: devices.map { UInt64(bitPattern: $0) })
            }
        }
    }

    public func stageJobs(device: UInt64, afterInode: UInt64?, limit: Int) throws -> [HashJob] {
        try wrap("read the list of files to hash") {
            // The job table lives on the writer connection (TEMP), so it is read there.
            try pool.write { db in
                // Two statements, so that each is a plain range scan of the job table's key.
                let columns = """
                    SELECT f.id, f.silo_id, f.dir, f.name, f.size, f.mtime_ns, f.ctime_ns,
                           f.dev, f.ino, f.nlink, f.mode, f.uid, f.gid, f.sha256
                    FROM stage_job j JOIN file f ON f.id = j.file_id
                    """
                let s = afterInode == nil
                    ? RawStatement(try db.cachedStatement(sql: columns + " WHERE j.dev = ?1 ORDER BY j.ino LIMIT ?3"), db)
                    : RawStatement(try db.cachedStatement(sql: columns + " WHERE j.dev = ?1 AND j.ino > ?2 ORDER BY j.ino LIMIT ?3"), db)
                defer { s.reset() }
                s.bind(1, Int64(bitPattern: device))
                if let afterInode { s.bind(2, Int64(bitPattern: afterInode)) }
                s.bind(3, limit)
                var jobs: [HashJob] = []
                jobs.reserveCapacity(limit)
                while try s.step("read the list of files to hash") {
                    let stat = FileStat(size: s.int64(4), mtimeNs: s.int64(5), ctimeNs: s.int64(6),
                                        device: UInt64(bitPattern: s.int64(7)), inode: UInt64(bitPattern: s.int64(8)),
                                        linkCount: UInt64(s.int64(9)), mode: UInt32(truncatingIfNeeded: s.int64(10)),
                                        uid: UInt32(truncatingIfNeeded: s.int64(11)), gid: UInt32(truncatingIfNeeded: s.int64(12)))
                    let dir = RelativePath(bytes: s.bytes(2))
                    jobs.append(HashJob(fileID: s.int64(0), siloID: s.int64(1), path: dir.appending(s.bytes(3)),
                                        stat: stat, previous: s.digest(13)))
                }
                return jobs
            }
        }
    }
}
