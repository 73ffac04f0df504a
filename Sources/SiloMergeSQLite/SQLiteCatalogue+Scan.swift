import Foundation
import SiloMergeCore
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

    public func silosWithSidecars() throws -> Set<Int64> {
        try wrap("look for sidecars") {
            try pool.read { db in Set(try Int64.fetchAll(db, sql: "SELECT DISTINCT silo_id FROM sidecar")) }
        }
    }

    public func silosWithUncatalogued() throws -> Set<Int64> {
        try wrap("look for uncatalogued entries") {
            try pool.read { db in Set(try Int64.fetchAll(db, sql: "SELECT DISTINCT silo_id FROM uncatalogued")) }
        }
    }

    public func manifestIsCurrent(siloID: Int64, runID: Int64, identity m: ManifestIdentity) throws -> Bool {
        try wrap("compare a manifest with the one last read") {
            try pool.read { db in
                guard let row = try Row.fetchOne(db, sql: """
                    SELECT path, size, mtime_ns, ctime_ns, dev, ino, definition FROM manifest WHERE silo_id = ?
                    """, arguments: [siloID]) else { return false }
                let path: String? = row[0], size: Int64? = row[1], mtime: Int64? = row[2], ctime: Int64? = row[3]
                let dev: Int64? = row[4], ino: Int64? = row[5], definition: String? = row[6]
                guard path == m.path, size == m.size, mtime == m.mtimeNs, ctime == m.ctimeNs,
                      dev == Int64(bitPattern: m.device), ino == Int64(bitPattern: m.inode), definition == m.definition else { return false }
                // Rows match files by path: files that appeared or went this run may match differently.
                let moved = try Bool.fetchOne(db, sql: """
                    SELECT EXISTS (SELECT 1 FROM file WHERE silo_id = ?1 AND first_seen_run = ?2)
                        OR EXISTS (SELECT 1 FROM change WHERE run_id = ?2 AND silo_id = ?1 AND kind IN ('missing', 'excluded'))
                    """, arguments: [siloID, runID]) ?? true
                return !moved
            }
        }
    }

    public func applyManifest(siloID: Int64, runID: Int64, identity: ManifestIdentity,
                              read: ((ManifestRow) throws -> Void) throws -> ManifestSummary) throws -> ManifestOutcome {
        // A manifest that cannot be read is the manifest's error, not the catalogue's: the
        // transaction is rolled back (the values read before stay) and the error goes up as is.
        do {
            return try recordManifest(siloID: siloID, runID: runID, identity: identity, read: read)
        } catch let error as ManifestError {
            throw error
        } catch {
            throw CatalogueError.wrap(error, path: path, "record a manifest")
        }
    }

    private func recordManifest(siloID: Int64, runID: Int64, identity: ManifestIdentity,
                                read: ((ManifestRow) throws -> Void) throws -> ManifestSummary) throws -> ManifestOutcome {
        do {
            return try pool.write { db in
                let readBefore = try Bool.fetchOne(db, sql: "SELECT count(*) > 0 FROM manifest WHERE silo_id = ?", arguments: [siloID]) ?? false
                // The new values wait in a scratch table (on disk, not in memory) until the
                // manifest has been read whole; drift is then one comparison in SQL.
                try db.execute(sql: """
                    CREATE TEMP TABLE IF NOT EXISTS manifest_new (
                        file_id INTEGER NOT NULL, field TEXT NOT NULL, tag TEXT NOT NULL, value TEXT NOT NULL, raw TEXT NOT NULL);
                    DELETE FROM temp.manifest_new;
                    """)
                let find = RawStatement(try db.cachedStatement(sql: "SELECT id FROM file WHERE silo_id = ?1 AND dir = ?2 AND name = ?3"), db)
                let insert = RawStatement(try db.cachedStatement(sql: """
                    INSERT INTO temp.manifest_new (file_id, field, tag, value, raw) VALUES (?1, ?2, ?3, ?4, ?5)
                    """), db)
                var outcome = ManifestOutcome()
                let summary = try read { row in
                    find.bind(1, siloID); find.bind(2, text: row.path.parent.bytes); find.bind(3, text: Array(row.path.lastComponent))
                    let id: Int64? = try find.step("find a manifest's file") ? find.int64(0) : nil
                    find.reset()
                    guard let id else {
                        outcome.unmatched += 1
                        if outcome.unmatchedSample.count < ManifestReader.sampleLimit { outcome.unmatchedSample.append(row) }
                        return
                    }
                    outcome.matched += 1
                    for v in row.values {
                        insert.bind(1, id); insert.bind(2, text: v.field.rawValue); insert.bind(3, text: v.tag)
                        insert.bind(4, text: v.value.json); insert.bind(5, text: v.raw)
                        try insert.run("record a manifest value")
                    }
                }
                outcome.summary = summary
                let source = identity.path
                let old = """
                    SELECT m.file_id, m.field, m.value FROM metadata m JOIN file f ON f.id = m.file_id
                    WHERE m.origin = 'manifest' AND f.silo_id = ?1
                    """
                if readBefore {
                    let name = identity.path.split(separator: "/").last.map(String.init) ?? identity.path
                    try db.execute(sql: """
                        INSERT INTO change (run_id, kind, silo_id, dir, name, file_id, old_size, old_mtime_ns, old_dev, old_ino,
                                            old_sha256, new_size, new_mtime_ns, new_sha256, detail)
                        SELECT ?2, 'metadata', f.silo_id, f.dir, f.name, f.id, f.size, f.mtime_ns, f.dev, f.ino, f.sha256,
                               f.size, f.mtime_ns, f.sha256, ?3 || d.fields
                        FROM (SELECT file_id, group_concat(field, ', ') AS fields FROM (
                                SELECT DISTINCT file_id, field FROM (
                                    SELECT * FROM (\(old) EXCEPT SELECT file_id, field, value FROM temp.manifest_new)
                                    UNION ALL
                                    SELECT * FROM (SELECT file_id, field, value FROM temp.manifest_new EXCEPT \(old)))
                                ORDER BY file_id, field)
                              GROUP BY file_id) d
                        JOIN file f ON f.id = d.file_id
                        WHERE f.first_seen_run <> ?2
                        """, arguments: [siloID, runID, "manifest \(name): "])
                    outcome.drifted = db.changesCount
                }
                try db.execute(sql: """
                    DELETE FROM metadata WHERE origin = 'manifest' AND file_id IN (SELECT id FROM file WHERE silo_id = ?);
                    INSERT INTO metadata (file_id, field, origin, tag, value, raw, source, source_mtime_ns, preferred)
                        SELECT file_id, field, 'manifest', tag, value, raw, ?, ?, 0 FROM temp.manifest_new ORDER BY rowid;
                    DELETE FROM temp.manifest_new;
                    """, arguments: [siloID, source, summary.mtimeNs])
                try db.execute(sql: """
                    INSERT INTO manifest (silo_id, path, size, mtime_ns, sha256, rows, matched, read_run, ctime_ns, dev, ino,
                                          definition, unmatched, skipped)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(silo_id) DO UPDATE SET path = excluded.path, size = excluded.size, mtime_ns = excluded.mtime_ns,
                        sha256 = excluded.sha256, rows = excluded.rows, matched = excluded.matched, read_run = excluded.read_run,
                        ctime_ns = excluded.ctime_ns, dev = excluded.dev, ino = excluded.ino, definition = excluded.definition,
                        unmatched = excluded.unmatched, skipped = excluded.skipped
                    """, arguments: [siloID, source, summary.size, summary.mtimeNs, summary.sha256.hex, summary.rows, outcome.matched,
                                     runID, identity.ctimeNs, Int64(bitPattern: identity.device), Int64(bitPattern: identity.inode),
                                     identity.definition, outcome.unmatched, summary.skipped])
                return outcome
            }
        }
    }

    /// A file's values from one origin (and source, when given), per field, sorted (for drift comparisons).
    static func valuesByField(_ db: Database, fileID: Int64, origin: String, source: String? = nil) throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        let rows = try source.map {
            try Row.fetchAll(db, sql: "SELECT field, value FROM metadata WHERE file_id = ? AND origin = ? AND source = ?", arguments: [fileID, origin, $0])
        } ?? Row.fetchAll(db, sql: "SELECT field, value FROM metadata WHERE file_id = ? AND origin = ?", arguments: [fileID, origin])
        for row in rows {
            out[row[0] as String, default: []].append(row[1])
        }
        return out.mapValues { $0.sorted() }
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

    public func makeFolderReader() throws -> any FolderReader {
        try SQLiteFolderReader(path: path)
    }

    public func storedHash(linkedTo stat: FileStat, host: HostIdentity?) throws -> SHA256Digest? {
        try wrap("look up a hard link") {
            try pool.read { db in
                // Only files of silos on the same host: device and inode numbers are per host.
                let statement = try db.cachedStatement(sql: """
                    SELECT sha256 FROM file WHERE dev = ? AND ino = ? AND nlink > 1 AND size = ?
                      AND mtime_ns = ? AND ctime_ns = ? AND sha256 IS NOT NULL
                      AND silo_id IN (SELECT id FROM silo WHERE host IS ?) LIMIT 1
                    """)
                let hex = try String.fetchOne(statement, arguments: [
                    Int64(bitPattern: stat.device), Int64(bitPattern: stat.inode), stat.size, stat.mtimeNs, stat.ctimeNs, host?.id])
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
                        uid = ?8, gid = ?9, sha256 = ?10, hashed_at = ?12, changed_run = ?13,
                        format = ?17, width = ?18, height = ?19, image_sha256 = ?20, metadata_read = ?21, image_prefix = ?22,
                        dimensions_group = ?23
                    WHERE id = ?14
                    """), db)
                let insert = RawStatement(try db.cachedStatement(sql: """
                    INSERT INTO file (size, mtime_ns, ctime_ns, dev, ino, nlink, mode, uid, gid, sha256,
                                      hashed_at, first_seen_run, silo_id, dir, name,
                                      format, width, height, image_sha256, metadata_read, image_prefix, dimensions_group)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)
                    """), db)
                let setContent = RawStatement(try db.cachedStatement(sql: """
                    UPDATE file SET format = ?17, width = ?18, height = ?19, image_sha256 = ?20, metadata_read = ?21, image_prefix = ?22,
                        dimensions_group = ?23
                    WHERE id = ?14
                    """), db)
                // Metadata rows are replaced per source, never added to: a file's own bytes
                // (embedded values, a standalone .xmp file's values: `source IS NULL`), its
                // sidecars (`source` = the sidecar's path) and its silo's manifest (`origin =
                // 'manifest'`, see applyManifest). Each reader deletes exactly its source's rows
                // before writing the new ones, so no source can pile up stale rows.
                let dropEmbedded = RawStatement(try db.cachedStatement(sql: """
                    DELETE FROM metadata WHERE file_id = ?1 AND \(MetadataSourceSQL.ownContent)
                    """), db)
                let dropSidecars = RawStatement(try db.cachedStatement(sql: "DELETE FROM sidecar WHERE file_id = ?1"), db)
                let dropSidecarValues = RawStatement(try db.cachedStatement(sql: "DELETE FROM metadata WHERE file_id = ?1 AND \(MetadataSourceSQL.sidecars)"), db)
                let insertSidecar = RawStatement(try db.cachedStatement(sql: """
                    INSERT INTO sidecar (file_id, silo_id, dir, name, size, mtime_ns, ctime_ns, dev, ino, sha256, form, used, fields)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                    """), db)
                var valueRows = MetadataRowWriter(db)

                func bindContent(_ s: RawStatement, _ c: ContentInfo?) {
                    if let c {
                        s.bind(17, text: c.format.rawValue)
                        if let w = c.width { s.bind(18, w) } else { s.bindNull(18) }
                        if let h = c.height { s.bind(19, h) } else { s.bindNull(19) }
                        s.bind(20, c.imageSHA256)
                        s.bind(21, MetadataReader.version)
                        s.bind(22, c.imagePrefixSHA256)
                        s.bind(23, text: c.dimensionsGroup)
                    } else {
                        s.bindNull(17); s.bindNull(18); s.bindNull(19); s.bindNull(20); s.bind(21, 0); s.bindNull(22); s.bindNull(23)
                    }
                }
                func writeValues(_ fileID: Int64, _ values: [SourcedValue], json: [String]? = nil, preferred: [Bool]?, source: String?,
                                 mtimeNs: Int64?) throws {
                    try valueRows.write(fileID, values, json: json, preferred: preferred, source: source, mtimeNs: mtimeNs)
                }
                /// A file's own values: `content.rowValues`, written from `content` itself.
                func writeContent(_ fileID: Int64, _ content: ContentInfo, mtimeNs: Int64) throws {
                    try valueRows.write(fileID, content.values, json: nil, preferred: content.preferred, source: nil,
                                        mtimeNs: mtimeNs, skippingHeader: true)
                }
                func replaceContent(_ fileID: Int64, _ content: ContentInfo?, mtimeNs: Int64) throws {
                    try valueRows.flush()   // held rows may be this file's
                    dropEmbedded.bind(1, fileID)
                    try dropEmbedded.run("forget old metadata")
                    if let content { try writeContent(fileID, content, mtimeNs: mtimeNs) }
                }
                let storedSidecars = RawStatement(try db.cachedStatement(sql: """
                    SELECT name, sha256, used, fields FROM sidecar WHERE file_id = ?1 ORDER BY name
                    """), db)
                let drift = RawStatement(try db.cachedStatement(sql: """
                    INSERT INTO change (run_id, kind, silo_id, dir, name, file_id, old_size, old_mtime_ns, old_dev, old_ino,
                                        old_sha256, new_size, new_mtime_ns, new_sha256, detail)
                    SELECT ?1, 'metadata', silo_id, dir, name, id, size, mtime_ns, dev, ino, sha256, size, mtime_ns, sha256, ?2
                    FROM file WHERE id = ?3
                    """), db)
                /// Metadata drift of a file whose content did not change, sidecar by sidecar:
                /// one used or overridden (a `name.xmp` beside a `name.ext.xmp`) whose values
                /// changed, one added, one removed. A sidecar not read on either side (metadata
                /// reading was off) cannot be compared and is not claimed to have drifted.
                func sidecarDrift(_ fileID: Int64, dir: RelativePath, _ sidecars: [SidecarRecord]) throws {
                    var old: [RememberedSidecar] = []
                    try valueRows.flush()   // the drift reads this file's rows
                    storedSidecars.bind(1, fileID)
                    while try storedSidecars.step("read a file's sidecars") {
                        let fields = storedSidecars.isNull(3) ? nil : SidecarFields.decode(storedSidecars.text(3))
                        old.append(RememberedSidecar(name: storedSidecars.bytes(0),
                                                     sha256: storedSidecars.isNull(1) ? nil : SHA256Digest(hex: storedSidecars.text(1)),
                                                     used: storedSidecars.int64(2) != 0, fields: fields))
                    }
                    storedSidecars.reset()
                    // Catalogues from before per-sidecar fields: a used sidecar's values are its metadata rows.
                    let detail = try SidecarDrift.detail(remembered: old, now: sidecars, dir: dir) { source in
                        try SQLiteCatalogue.valuesByField(db, fileID: fileID, origin: "sidecar", source: source)
                    }
                    guard let detail else { return }
                    drift.bind(1, runID); drift.bind(2, text: detail)
                    drift.bind(3, fileID)
                    try drift.run("record metadata drift")
                }
                /// `fresh`: the file row was inserted in this batch, so nothing of it is stored
                /// yet (its id may be a deleted file's, whose rows went with it: ON DELETE CASCADE).
                func replaceSidecars(_ fileID: Int64, siloID: Int64, dir: RelativePath, _ sidecars: [SidecarRecord], fresh: Bool = false) throws {
                    if !fresh {
                        try valueRows.flush()
                        dropSidecars.bind(1, fileID)
                        try dropSidecars.run("forget old sidecars")
                        dropSidecarValues.bind(1, fileID)
                        try dropSidecarValues.run("forget old sidecar metadata")
                    }
                    for sc in sidecars {
                        insertSidecar.bind(1, fileID); insertSidecar.bind(2, siloID); insertSidecar.bind(3, text: dir.bytes)
                        insertSidecar.bind(4, text: sc.name); insertSidecar.bind(5, sc.stat.size); insertSidecar.bind(6, sc.stat.mtimeNs)
                        insertSidecar.bind(7, sc.stat.ctimeNs); insertSidecar.bind(8, Int64(bitPattern: sc.stat.device))
                        insertSidecar.bind(9, Int64(bitPattern: sc.stat.inode)); insertSidecar.bind(10, sc.sha256)
                        insertSidecar.bind(11, text: sc.form.rawValue); insertSidecar.bind(12, sc.used ? 1 : 0)
                        // Each value's JSON made once, for the sidecar's fields and its rows.
                        let json = sc.valuesRead || sc.used ? sc.values.map(\.value.json) : []
                        if sc.valuesRead { insertSidecar.bind(13, text: SidecarFields.encode(sc.values, json: json)) }
                        else { insertSidecar.bindNull(13) }
                        try insertSidecar.run("record a sidecar")
                        if sc.used {
                            try writeValues(fileID, sc.values, json: json, preferred: nil,
                                            source: dir.appending(sc.name).string ?? dir.appending(sc.name).display, mtimeNs: sc.stat.mtimeNs)
                        }
                    }
                }
                let hashed = RawStatement(try db.cachedStatement(sql: """
                    UPDATE file SET sha256 = ?1, hashed_at = ?3 WHERE id = ?4
                    """), db)
                let fingerprint = RawStatement(try db.cachedStatement(sql: """
                    INSERT INTO image_phash (sha256, phash, width, height, decoder, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                    ON CONFLICT (sha256) DO NOTHING
                    """), db)
                let contentChange = RawStatement(try db.cachedStatement(sql: """
                    INSERT INTO change (run_id, kind, silo_id, dir, name, file_id, old_size, old_mtime_ns,
                                        old_dev, old_ino, old_sha256, new_size, new_mtime_ns, new_sha256)
                    SELECT ?1, 'content', silo_id, dir, name, id, size, mtime_ns, dev, ino, ?2, size, mtime_ns, ?3
                    FROM file WHERE id = ?4
                    """), db)
                // The old state comes from the row itself, just before it is updated or deleted.
                let change = RawStatement(try db.cachedStatement(sql: """
                    INSERT INTO change (run_id, kind, silo_id, dir, name, file_id, old_size, old_mtime_ns, old_dev, old_ino,
                                        old_sha256, new_size, new_mtime_ns, new_sha256)
                    SELECT ?1, ?2, silo_id, dir, name, id, size, mtime_ns, dev, ino, sha256, ?3, ?4, ?5
                    FROM file WHERE id = ?6
                    """), db)
                let delete = RawStatement(try db.cachedStatement(sql: "DELETE FROM file WHERE id = ?1"), db)
                let visited = RawStatement(try db.cachedStatement(sql: "INSERT OR IGNORE INTO visited (silo_id, dir) VALUES (?1, ?2)"), db)
                let kept = RawStatement(try db.cachedStatement(sql: "INSERT OR IGNORE INTO kept_dir (silo_id, dir) VALUES (?1, ?2)"), db)
                let excluded = RawStatement(try db.cachedStatement(sql: "INSERT OR IGNORE INTO excluded_dir (silo_id, dir) VALUES (?1, ?2)"), db)
                let dropUncatalogued = RawStatement(try db.cachedStatement(sql: "DELETE FROM uncatalogued WHERE silo_id = ?1 AND dir = ?2"), db)
                let addUncatalogued = RawStatement(try db.cachedStatement(sql: """
                    INSERT OR REPLACE INTO uncatalogued (silo_id, dir, name, kind, reason, detail, size) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                    """), db)

                func bindStat(_ s: RawStatement, _ st: FileStat) {
                    s.bind(1, st.size); s.bind(2, st.mtimeNs); s.bind(3, st.ctimeNs)
                    s.bind(4, Int64(bitPattern: st.device)); s.bind(5, Int64(bitPattern: st.inode))
                    s.bind(6, Int64(st.linkCount)); s.bind(7, Int64(st.mode)); s.bind(8, Int64(st.uid)); s.bind(9, Int64(st.gid))
                }
                func recordChange(_ kind: ChangeKind, fileID: Int64, new: FileStat?, newSHA: SHA256Digest?) throws {
                    change.bind(1, runID); change.bind(2, text: kind.rawValue)
                    if let new { change.bind(3, new.size); change.bind(4, new.mtimeNs) }
                    change.bind(5, newSHA)
                    change.bind(6, fileID)
                    try change.run("record a change")
                }

                for write in writes {
                    switch write {
                    case .upsert(let row, let replacing):
                        let hashedAt = row.hashedAt == nil ? nil : now
                        let fileID: Int64
                        if let old = replacing {
                            try recordChange(.changed, fileID: old.id, new: row.stat, newSHA: row.sha256)
                            bindStat(update, row.stat)
                            update.bind(10, row.sha256); update.bind(12, text: hashedAt)
                            update.bind(13, runID); update.bind(14, old.id)
                            bindContent(update, row.content)
                            try update.run("update a file")
                            fileID = old.id
                            try replaceContent(fileID, row.content, mtimeNs: row.stat.mtimeNs)
                        } else {
                            bindStat(insert, row.stat)
                            insert.bind(10, row.sha256); insert.bind(12, text: hashedAt)
                            insert.bind(13, runID); insert.bind(14, row.siloID)
                            insert.bind(15, text: row.dir.bytes); insert.bind(16, text: row.name)
                            bindContent(insert, row.content)
                            try insert.run("add a file")
                            fileID = db.lastInsertedRowID
                            if let content = row.content { try writeContent(fileID, content, mtimeNs: row.stat.mtimeNs) }
                        }
                        if let sidecars = row.sidecars {
                            try replaceSidecars(fileID, siloID: row.siloID, dir: row.dir, sidecars, fresh: replacing == nil)
                        }
                    case .hashed(let id, let sha, let previous):
                        hashed.bind(1, sha); hashed.bind(3, text: now); hashed.bind(4, id)
                        try hashed.run("record a hash")
                        if let previous, sha != previous {
                            contentChange.bind(1, runID); contentChange.bind(2, previous); contentChange.bind(3, sha)
                            contentChange.bind(4, id)
                            try contentChange.run("record a content change")
                        }
                    case .remove(let old, _, _, let reason):
                        try valueRows.flush()   // its rows go with it (ON DELETE CASCADE)
                        try recordChange(reason, fileID: old.id, new: nil, newSHA: nil)
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
                    case .content(let id, let content, let mtimeNs):
                        setContent.bind(14, id)
                        bindContent(setContent, content)
                        try setContent.run("record a file's metadata")
                        try replaceContent(id, content, mtimeNs: mtimeNs)
                    case .sidecars(let fileID, let siloID, let dir, let sidecars):
                        try sidecarDrift(fileID, dir: dir, sidecars)
                        try replaceSidecars(fileID, siloID: siloID, dir: dir, sidecars)
                    case .fingerprint(let sha, let result):
                        fingerprint.bind(1, sha)
                        switch result {
                        case .success(let f):
                            fingerprint.bind(2, Int64(bitPattern: f.hash.bits)); fingerprint.bind(3, f.width)
                            fingerprint.bind(4, f.height); fingerprint.bind(5, text: f.decoder); fingerprint.bindNull(6)
                        case .failure(let why):
                            for i in Int32(2)...5 { fingerprint.bindNull(i) }
                            fingerprint.bind(6, text: why.description)
                        }
                        try fingerprint.run("record a perceptual hash")
                    case .uncatalogued(let siloID, let dir, let entries, let replace):
                        if replace {
                            dropUncatalogued.bind(1, siloID); dropUncatalogued.bind(2, text: dir.bytes)
                            try dropUncatalogued.run("forget a folder's uncatalogued entries")
                        }
                        for e in entries {
                            addUncatalogued.bind(1, siloID); addUncatalogued.bind(2, text: dir.bytes); addUncatalogued.bind(3, text: e.name)
                            addUncatalogued.bind(4, text: e.kind.rawValue); addUncatalogued.bind(5, text: e.reason.rawValue)
                            addUncatalogued.bind(6, text: e.detail)
                            if let size = e.size { addUncatalogued.bind(7, size) } else { addUncatalogued.bindNull(7) }
                            try addUncatalogued.run("record an uncatalogued entry")
                        }
                    }
                }
                try valueRows.flush()
            }
        }
    }

    public func record(_ diagnostics: [Diagnostic], runID: Int64) throws {
        guard !diagnostics.isEmpty else { return }
        try wrap("record diagnostics") {
            try pool.write { db in
                // Bound through SQLite's C API: GRDB's boxed arguments cost about 20,000
                // instructions a row, and a scan of the public photo collection records a
                // note for every third file. Texts are bound as their exact bytes (a path that
                // is not UTF-8 too, as TEXT).
                let statement = RawStatement(try db.cachedStatement(sql: """
                    INSERT INTO diagnostic (run_id, severity, code, silo, path, errno, message)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                    """), db)
                for d in diagnostics {
                    statement.bind(1, runID)
                    statement.bind(2, text: d.severity.rawValue)
                    statement.bind(3, text: d.code.rawValue)
                    statement.bind(4, text: d.silo)
                    if let path = d.path { statement.bind(5, text: path.bytes) } else { statement.bindNull(5) }
                    if let errno = d.errno { statement.bind(6, Int64(errno)) } else { statement.bindNull(6) }
                    statement.bind(7, text: d.message)
                    try statement.run("record a diagnostic")
                }
            }
        }
    }

    // Folder-vanish detection: the walk's scratch tables (`visited`, `kept_dir`,
    // `excluded_dir`) are TEMP tables of the writer connection, so these read through it.
    // What is gone, `VanishedFolderFold` decides (see `FolderIndex.finishWalk`).

    public func walkBoundaries(siloIDs: [Int64]) throws -> (unreadable: [SiloFolder], excluded: [SiloFolder]) {
        guard !siloIDs.isEmpty else { return ([], []) }
        return try wrap("find vanished folders") {
            try pool.write { db in
                let ids = siloIDs.map(String.init).joined(separator: ",")
                func folders(_ table: String) throws -> [SiloFolder] {
                    try Row.fetchAll(db, sql: "SELECT silo_id, CAST(dir AS BLOB) FROM \(table) WHERE silo_id IN (\(ids))").map {
                        SiloFolder(siloID: $0[0], dir: RelativePath(bytes: SQLiteCatalogue.bytes($0[1])))
                    }
                }
                return (try folders("kept_dir"), try folders("excluded_dir"))
            }
        }
    }

    public func forEachUnlistedFolder(siloIDs: [Int64], _ body: (SiloFolder) throws -> Void) throws {
        guard !siloIDs.isEmpty else { return }
        try wrap("find vanished folders") {
            try pool.write { db in
                let ids = siloIDs.map(String.init).joined(separator: ",")
                // Folders from the index, without touching the table.
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT d.silo_id, CAST(d.dir AS BLOB)
                    FROM (SELECT DISTINCT silo_id, dir FROM file WHERE silo_id IN (\(ids))
                          UNION SELECT DISTINCT silo_id, dir FROM uncatalogued WHERE silo_id IN (\(ids))) d
                    WHERE NOT EXISTS (SELECT 1 FROM visited v WHERE v.silo_id = d.silo_id AND v.dir = d.dir)
                    """)
                while let r = try rows.next() {
                    try body(SiloFolder(siloID: r[0], dir: RelativePath(bytes: SQLiteCatalogue.bytes(r[1]))))
                }
            }
        }
    }

    public func dropVanishedFolders(_ folders: [VanishedFolder], runID: Int64) throws -> (missing: Int, excluded: Int) {
        guard !folders.isEmpty else { return (0, 0) }
        return try wrap("drop vanished folders") {
            try pool.write { db in
                // Only the files of the folders that are gone are looked up in the table.
                try db.execute(sql: """
                    CREATE TEMP TABLE IF NOT EXISTS doomed (id INTEGER PRIMARY KEY, kind TEXT NOT NULL);
                    DELETE FROM doomed;
                    CREATE TEMP TABLE IF NOT EXISTS gone_dir (silo_id INTEGER NOT NULL, dir TEXT NOT NULL, kind TEXT NOT NULL);
                    DELETE FROM gone_dir;
                    """)
                let insert = try db.makeStatement(sql: "INSERT INTO gone_dir (silo_id, dir, kind) VALUES (?, CAST(? AS TEXT), ?)")
                for f in folders {
                    try insert.execute(arguments: [f.folder.siloID, Self.textArgument(f.folder.dir.bytes), f.kind.rawValue])
                }
                try db.execute(sql: """
                    INSERT INTO doomed (id, kind)
                    SELECT f.id, g.kind FROM gone_dir g JOIN file f ON f.silo_id = g.silo_id AND f.dir = g.dir;
                    INSERT INTO change (run_id, kind, silo_id, dir, name, file_id, old_size, old_mtime_ns, old_dev,
                                        old_ino, old_sha256)
                    SELECT \(runID), d.kind, f.silo_id, f.dir, f.name, f.id, f.size, f.mtime_ns, f.dev, f.ino, f.sha256
                    FROM doomed d JOIN file f ON f.id = d.id;
                    DELETE FROM file WHERE id IN (SELECT id FROM doomed);
                    DELETE FROM uncatalogued WHERE EXISTS (SELECT 1 FROM gone_dir g
                        WHERE g.silo_id = uncatalogued.silo_id AND g.dir = uncatalogued.dir);
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
                    UPDATE file SET sha256 = ?, hashed_at = ?
                    WHERE silo_id IN (\(ids)) AND size = 0 AND sha256 IS NULL
                    """, arguments: [SHA256Digest.empty.hex, Timestamp.string(Date())])
                return db.changesCount
            }
        }
    }

    public func forEachSizeGroup(_ body: ([CandidateFile]) throws -> Bool) throws {
        try wrap("list files sharing a size") {
            try pool.write { db in try db.execute(sql: CatalogueSchema.bulkIndexes[1]) }   // the size index
            let hosts = HostOrdinals(try silos())
            let reader = try RawConnection(path: path)
            // One pass over the covering size index finds the sizes two inodes (of one host,
            // see PhysicalFileID) share; only their files are then looked up in the table.
            let sizes = try reader.prepare("""
                SELECT size, dev, ino, id, silo_id FROM file INDEXED BY file_size WHERE size > 0 ORDER BY size
                """)
            let details = try reader.prepare("""
                SELECT silo_id, dir, name, mtime_ns, ctime_ns, nlink, mode, uid, gid, sha256 FROM file WHERE id = ?1
                """)
            defer { sizes.reset() }
            var members: [(id: Int64, inode: FileID, host: Int32)] = []
            var size: Int64 = -1
            func emit() throws -> Bool {
                defer { members.removeAll(keepingCapacity: true) }
                guard members.count > 1, Set(members.map { PhysicalFileID(host: $0.host, file: $0.inode) }).count > 1 else { return true }
                var group: [CandidateFile] = []
                group.reserveCapacity(members.count)
                for m in members {
                    details.bind(1, m.id)
                    defer { details.reset() }
                    guard try details.step("look up a file") else { continue }
                    let stat = FileStat(size: size, mtimeNs: details.int64(3), ctimeNs: details.int64(4),
                                        device: m.inode.device, inode: m.inode.inode,
                                        linkCount: UInt64(details.int64(5)), mode: UInt32(truncatingIfNeeded: details.int64(6)),
                                        uid: UInt32(truncatingIfNeeded: details.int64(7)), gid: UInt32(truncatingIfNeeded: details.int64(8)))
                    group.append(CandidateFile(fileID: m.id, siloID: details.int64(0),
                                               path: RelativePath(bytes: details.bytes(1)).appending(details.bytes(2)),
                                               stat: stat, sha256: details.digest(9)))
                }
                return try body(group)
            }
            while try sizes.step("read the size index") {
                let rowSize = sizes.int64(0)
                if rowSize != size {
                    if try !emit() { return }
                    size = rowSize
                }
                members.append((sizes.int64(3), FileID(device: UInt64(bitPattern: sizes.int64(1)), inode: UInt64(bitPattern: sizes.int64(2))),
                                hosts.host(ofSilo: sizes.int64(4))))
            }
            _ = try emit()
        }
    }
}

/// Which rows of `metadata` belong to which source (see `apply`).
enum MetadataSourceSQL {
    /// The file's own bytes: embedded metadata, the header facts, a standalone .xmp file's values.
    static let ownContent = "source IS NULL"
    /// The file's XMP sidecars.
    static let sidecars = "origin = 'sidecar' AND source IS NOT NULL"
}
