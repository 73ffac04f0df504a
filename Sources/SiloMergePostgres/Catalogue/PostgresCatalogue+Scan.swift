import Foundation
import PostgresNIO
import SiloMergeCore

// ScanSink and FolderIndex on PostgreSQL. The specification is the protocols' doc comments and
// the SQLite catalogue (SQLiteCatalogue+Scan.swift): the same rows, in the same order, in the
// same transactions. What differs is how they travel: a batch of writes goes to the server as a
// few COPY streams and set-wise statements (PostgresCatalogue+ScanBatch.swift), never a
// statement per file, and reads that must not wait for the writer (walkers' folder listings,
// hard-link look-ups) run on reader sessions of their own.
//
// Scratch state lives in TEMP tables of the writer session (`ScanScratch`): the folders the walk
// listed (`walk_visited`, `walk_kept`, `walk_excluded`, kept from `beginWalk` to the end of the
// walk) and the staging tables of a batch (emptied at every commit). Temporary tables are per
// session, so two scanners, in one process or on two hosts, never see each other's.

// MARK: - ScanSink

extension PostgresCatalogue {
    /// Nothing: on a catalogue shared by many hosts the secondary indexes of `file` serve every
    /// scanner at once (another host's hard-link look-ups, its duplicate streams), and dropping
    /// one takes an ACCESS EXCLUSIVE lock that would stall every other session using the table
    /// until this scan ends. A first load pays for index upkeep as it goes instead (measured in
    /// the report of issue #13: see `restoreIndexes`).
    public func deferIndexes() throws {}

    /// After a first scan loaded a silo: fresh planner statistics for the tables it filled, so
    /// the commands that follow (duplicates, reconcile) plan for the rows that are there now,
    /// not for the empty tables autovacuum last saw. ANALYZE takes no lock that writers wait on.
    ///
    /// It samples 3,000 rows a table (statistics target 10) instead of the server's default
    /// 30,000: what the catalogue's queries plan by (row counts, how many distinct hashes and
    /// sizes) is estimated well from that, and the default took 90 ms of a 0.9 s first scan of
    /// 40,000 files, against 13 ms. Autovacuum's own ANALYZE later uses the server's target.
    public func restoreIndexes() throws {
        try wrap("update the planner's statistics") {
            try writer.withTransaction { tx in
                try tx.execute("SET LOCAL default_statistics_target = 10")
                for table in ["file", "metadata", "sidecar"] {
                    try tx.execute(PostgresQuery(unsafeSQL: "ANALYZE \(table)"))
                }
            }
        }
    }

    public func apply(_ writes: [CatalogueWrite], runID: Int64) throws {
        guard !writes.isEmpty else { return }
        try wrap("write scan results") {
            let now = Timestamp.string(Date())
            try writer.withTransaction { tx in
                try ScanScratch.ensure(tx)
                let segments = ScanBatch.segments(of: writes)
                for (i, range) in segments.enumerated() {
                    if i > 0 { try ScanScratch.clearStaging(tx) }
                    try ScanBatch(writes: writes[range], runID: runID, now: now).apply(tx)
                }
            }
        }
    }

    public func record(_ diagnostics: [Diagnostic], runID: Int64) throws {
        guard !diagnostics.isEmpty else { return }
        try wrap("record diagnostics") {
            try writer.copyIn(table: "diagnostic", columns: ["run_id", "severity", "code", "silo", "path", "errno", "message"]) { w in
                for d in diagnostics {
                    try w.int(runID)
                    try w.text(d.severity.rawValue)
                    try w.text(d.code.rawValue)
                    try w.optionalText(d.silo)
                    try w.optionalBytes(d.path?.bytes)
                    try w.optionalInt(d.errno)
                    try w.storedText(d.message)
                    try w.endRow()
                }
            }
        }
    }

    public func manifestIsCurrent(siloID: Int64, runID: Int64, identity m: ManifestIdentity) throws -> Bool {
        try wrap("compare a manifest with the one last read") {
            try readers.with { session in
                guard let (path, size, mtime, ctime, dev, ino, definition) = try session.query("""
                    SELECT path, size, mtime_ns, ctime_ns, dev, ino, definition FROM manifest WHERE silo_id = \(siloID)
                    """, as: (ByteBuffer, Int64, Int64, Int64?, Int64?, Int64?, String?).self).first else { return false }
                guard path.allBytes == Array(m.path.utf8), size == m.size, mtime == m.mtimeNs, ctime == m.ctimeNs,
                      dev == Int64(bitPattern: m.device), ino == Int64(bitPattern: m.inode), definition == m.definition else { return false }
                // Rows match files by path: files that appeared or went this run may match differently.
                let moved = try session.query("""
                    SELECT EXISTS (SELECT 1 FROM file WHERE silo_id = \(siloID) AND first_seen_run = \(runID))
                        OR EXISTS (SELECT 1 FROM change WHERE run_id = \(runID) AND silo_id = \(siloID) AND kind IN ('missing', 'excluded'))
                    """, as: Bool.self).first ?? true
                return !moved
            }
        }
    }

    public func applyManifest(siloID: Int64, runID: Int64, identity: ManifestIdentity,
                              read: ((ManifestRow) throws -> Void) throws -> ManifestSummary) throws -> ManifestOutcome {
        // A manifest that cannot be read is the manifest's error, not the catalogue's: the
        // transaction is rolled back (the values read before stay) and the error goes up as is.
        do {
            return try writer.withTransaction { tx in
                try ManifestRecording(siloID: siloID, runID: runID, identity: identity).run(tx, read: read)
            }
        } catch let error as PostgresClientError {
            throw CatalogueError.failed(catalogue: location.display, operation: "record a manifest", reason: error.message)
        }
    }

    public func fillEmptyHashes(siloIDs: [Int64]) throws -> Int {
        guard !siloIDs.isEmpty else { return 0 }
        return try wrap("record empty files") {
            try writer.execute("""
                UPDATE file SET sha256 = \(SHA256Digest.empty.bytea), hashed_at = \(Timestamp.string(Date()))
                WHERE silo_id = ANY(\(siloIDs)) AND size = 0 AND sha256 IS NULL
                """) ?? 0
        }
    }

    public func setImageHashes(_ hashes: [(fileID: Int64, digest: SHA256Digest)]) throws {
        guard !hashes.isEmpty else { return }
        // One row per file: the last hash given wins, as when they are written one by one.
        var last: [Int64: Int] = [:]
        for (i, h) in hashes.enumerated() { last[h.fileID] = i }
        let kept = last.values.sorted()
        try wrap("record image hashes") {
            try writer.execute("""
                UPDATE file f SET image_sha256 = v.digest
                FROM unnest(\(kept.map { hashes[$0].fileID })::bigint[], \(kept.map { hashes[$0].digest.bytea })::bytea[]) AS v(id, digest)
                WHERE f.id = v.id
                """)
        }
    }
}

// MARK: - FolderIndex

extension PostgresCatalogue {
    public func fileCounts() throws -> [Int64: Int] {
        try wrap("count files") {
            try readers.with { session in
                var out: [Int64: Int] = [:]
                for (silo, count) in try session.query("SELECT silo_id, count(*) FROM file GROUP BY silo_id", as: (Int64, Int64).self) {
                    out[silo] = Int(count)
                }
                return out
            }
        }
    }

    public func beginWalk(runID: Int64) throws {
        try wrap("prepare the walk") {
            try writer.withTransaction { tx in
                try ScanScratch.ensure(tx)
                for table in ScanScratch.walkTables { try tx.execute(PostgresQuery(unsafeSQL: "DELETE FROM \(table)")) }
            }
        }
    }

    public func makeFolderReader() throws -> any FolderReader {
        let session: PostgresSession
        do { session = try readers.take() } catch {
            throw CatalogueError.cannotOpen(path: location.display, reason: error.message)
        }
        return PostgresFolderReader(session: session, pool: readers, catalogue: location.display)
    }

    public func storedHash(linkedTo stat: FileStat, host: HostIdentity?) throws -> SHA256Digest? {
        try wrap("look up a hard link") {
            try readers.with { session in
                // Only files of silos on the same host: device and inode numbers are per host.
                let found = try session.query("""
                    SELECT sha256 FROM file
                    WHERE dev = \(Int64(bitPattern: stat.device)) AND ino = \(Int64(bitPattern: stat.inode)) AND nlink > 1
                      AND size = \(stat.size) AND mtime_ns = \(stat.mtimeNs) AND ctime_ns = \(stat.ctimeNs) AND sha256 IS NOT NULL
                      AND silo_id IN (SELECT id FROM silo WHERE host IS NOT DISTINCT FROM \(host?.id)::text)
                    LIMIT 1
                    """, as: ByteBuffer.self).first
                return SHA256Digest(bytea: found)
            }
        }
    }

    // Folder-vanish detection: the walk's scratch tables are TEMP tables of the writer session,
    // so these read through it. What is gone, `VanishedFolderFold` decides (see `finishWalk`).

    public func walkBoundaries(siloIDs: [Int64]) throws -> (unreadable: [SiloFolder], excluded: [SiloFolder]) {
        guard !siloIDs.isEmpty else { return ([], []) }
        return try wrap("find vanished folders") {
            try writer.withTransaction { tx in
                try ScanScratch.ensure(tx)
                func folders(_ table: String) throws -> [SiloFolder] {
                    try tx.query("""
                        SELECT silo_id, dir FROM \(unescaped: table) WHERE silo_id = ANY(\(siloIDs)) ORDER BY silo_id, dir
                        """, as: (Int64, ByteBuffer).self).map { SiloFolder(siloID: $0.0, dir: RelativePath(bytes: $0.1.allBytes)) }
                }
                return (try folders("walk_kept"), try folders("walk_excluded"))
            }
        }
    }

    public func forEachUnlistedFolder(siloIDs: [Int64], _ body: (SiloFolder) throws -> Void) throws {
        guard !siloIDs.isEmpty else { return }
        try wrap("find vanished folders") {
            try writer.withTransaction { tx in
                try ScanScratch.ensure(tx)
                // Folders from the indexes (file's unique key, uncatalogued's primary key).
                try tx.stream("""
                    SELECT d.silo_id, d.dir
                    FROM (SELECT DISTINCT silo_id, dir FROM file WHERE silo_id = ANY(\(siloIDs))
                          UNION SELECT DISTINCT silo_id, dir FROM uncatalogued WHERE silo_id = ANY(\(siloIDs))) d
                    WHERE NOT EXISTS (SELECT 1 FROM walk_visited v WHERE v.silo_id = d.silo_id AND v.dir = d.dir)
                    """) { row in
                    let (silo, dir) = try row.decode((Int64, ByteBuffer).self)
                    try body(SiloFolder(siloID: silo, dir: RelativePath(bytes: dir.allBytes)))
                }
            }
        }
    }

    public func dropVanishedFolders(_ folders: [VanishedFolder], runID: Int64) throws -> (missing: Int, excluded: Int) {
        guard !folders.isEmpty else { return (0, 0) }
        let silos = folders.map(\.folder.siloID), dirs = folders.map { ByteBuffer(bytes: $0.folder.dir.bytes) }
        let kinds = folders.map(\.kind.rawValue)
        return try wrap("drop vanished folders") {
            try writer.withTransaction { tx in
                // Only the files of the folders that are gone are looked up, through file's unique key.
                let counts = try tx.query("""
                    WITH gone AS (
                        SELECT * FROM unnest(\(silos)::bigint[], \(dirs)::bytea[], \(kinds)::text[]) AS g(silo_id, dir, kind)
                    ), doomed AS (
                        SELECT f.id, g.kind FROM gone g JOIN file f ON f.silo_id = g.silo_id AND f.dir = g.dir
                    ), recorded AS (
                        INSERT INTO change (run_id, kind, silo_id, dir, name, file_id, old_size, old_mtime_ns, old_dev,
                                            old_ino, old_sha256)
                        SELECT \(runID), d.kind, f.silo_id, f.dir, f.name, f.id, f.size, f.mtime_ns, f.dev, f.ino, f.sha256
                        FROM doomed d JOIN file f ON f.id = d.id ORDER BY f.id
                        RETURNING kind
                    ), dropped AS (
                        DELETE FROM file WHERE id IN (SELECT id FROM doomed)
                    )
                    SELECT count(*) FILTER (WHERE kind = 'missing'), count(*) FILTER (WHERE kind = 'excluded') FROM recorded
                    """, as: (Int64, Int64).self).first ?? (Int64(0), Int64(0))
                try tx.execute("""
                    DELETE FROM uncatalogued u
                    USING unnest(\(silos)::bigint[], \(dirs)::bytea[]) AS g(silo_id, dir)
                    WHERE u.silo_id = g.silo_id AND u.dir = g.dir
                    """)
                return (Int(counts.0), Int(counts.1))
            }
        }
    }

    public func silosWithSidecars() throws -> Set<Int64> {
        try wrap("look for sidecars") {
            // One probe of sidecar_dir per silo, not a pass over every sidecar.
            try readers.with { session in
                Set(try session.query("SELECT id FROM silo s WHERE EXISTS (SELECT 1 FROM sidecar WHERE silo_id = s.id)", as: Int64.self))
            }
        }
    }

    public func silosWithUncatalogued() throws -> Set<Int64> {
        try wrap("look for uncatalogued entries") {
            try readers.with { session in
                Set(try session.query("SELECT id FROM silo s WHERE EXISTS (SELECT 1 FROM uncatalogued WHERE silo_id = s.id)", as: Int64.self))
            }
        }
    }

    public func leastRecentlyVerified(siloIDs: [Int64], fraction: Double) throws -> [Int64: SHA256Digest] {
        guard fraction > 0, !siloIDs.isEmpty else { return [:] }
        return try wrap("choose files to verify") {
            try readers.with { session in
                let total = try session.query("""
                    SELECT count(*) FROM file WHERE silo_id = ANY(\(siloIDs)) AND sha256 IS NOT NULL AND size > 0
                    """, as: Int64.self).first ?? 0
                let limit = Int64((Double(total) * min(1, fraction)).rounded(.up))
                var out: [Int64: SHA256Digest] = [:]
                // hashed_at is ISO 8601 text: byte order is time order.
                try session.stream("""
                    SELECT id, sha256 FROM file WHERE silo_id = ANY(\(siloIDs)) AND sha256 IS NOT NULL AND size > 0
                    ORDER BY hashed_at COLLATE "C", id LIMIT \(limit)
                    """) { row in
                    let (id, sha) = try row.decode((Int64, ByteBuffer).self)
                    if let digest = SHA256Digest(bytea: sha) { out[id] = digest }
                }
                return out
            }
        }
    }
}

// MARK: - Folder readers

/// Looks up the files catalogued in one folder, on a reader session of its own: each walker
/// thread owns one, so folder look-ups run in parallel and never wait for the writer. The
/// session goes back to the catalogue's pool when the reader is released (closed instead if it
/// broke).
final class PostgresFolderReader: FolderReader {
    private let session: PostgresSession
    private let pool: SessionPool
    private let catalogue: String
    private var broken = false

    init(session: PostgresSession, pool: SessionPool, catalogue: String) {
        self.session = session; self.pool = pool; self.catalogue = catalogue
    }

    deinit {
        if broken { session.close() } else { pool.give(session) }
    }

    private func reading<R>(_ operation: String, _ body: () throws -> R) throws -> R {
        do { return try body() } catch let error as PostgresClientError {
            if error.kind == .connectionLost { broken = true }
            throw CatalogueError.failed(catalogue: catalogue, operation: operation, reason: error.message)
        }
    }

    /// The sidecars of the folder `entries` listed last, read in the same statement: a walker
    /// asks for a folder's sidecars right after its files, and a round trip saved per folder is
    /// most of a rescan's time against a server.
    private var prefetched: (siloID: Int64, dir: RelativePath, sidecars: [StoredSidecar])?

    func entries(siloID: Int64, dir: RelativePath, withHashes: Bool) throws -> [StoredEntry] {
        prefetched = nil
        let folder = ByteBuffer(bytes: dir.bytes)
        return try reading("read a folder's entries") {
            // Files in name order (bytea orders byte by byte), as SQLite's unique index gives
            // them; then the folder's sidecars, in the order recorded.
            let rows = try session.query("""
                SELECT * FROM (
                SELECT 0 AS part, id, NULL::bytea AS asset, name, size, mtime_ns, ctime_ns, dev, ino, sha256 IS NOT NULL,
                       CASE WHEN \(withHashes) THEN sha256 END, metadata_read, false
                FROM file WHERE silo_id = \(siloID) AND dir = \(folder)
                UNION ALL
                SELECT 1, s.id, f.name, s.name, s.size, s.mtime_ns, s.ctime_ns, s.dev, s.ino, s.sha256 IS NOT NULL,
                       NULL, s.used, s.fields IS NOT NULL
                FROM sidecar s JOIN file f ON f.id = s.file_id WHERE s.silo_id = \(siloID) AND s.dir = \(folder)
                ) listing ORDER BY part, CASE WHEN part = 0 THEN name END, id
                """, as: (Int32, Int64, ByteBuffer?, ByteBuffer, Int64, Int64, Int64, Int64, Int64, Bool, ByteBuffer?, Int64, Bool).self)
            var entries: [StoredEntry] = [], sidecars: [StoredSidecar] = []
            for r in rows {
                let stat = FileStat(size: r.4, mtimeNs: r.5, ctimeNs: r.6, device: UInt64(bitPattern: r.7), inode: UInt64(bitPattern: r.8),
                                    linkCount: 0, mode: 0, uid: 0, gid: 0)
                if r.0 == 0 {
                    entries.append(StoredEntry(id: r.1, name: r.3.allBytes, stat: stat, hasHash: r.9,
                                               sha256: withHashes ? SHA256Digest(bytea: r.10) : nil,
                                               metadataRead: r.11 >= Int64(MetadataReader.version)))
                } else {
                    sidecars.append(StoredSidecar(assetName: r.2?.allBytes ?? [], name: r.3.allBytes, stat: stat, hashed: r.9,
                                                  valuesRead: r.12, used: r.11 != 0))
                }
            }
            prefetched = (siloID, dir, sidecars)
            return entries
        }
    }

    func sidecars(siloID: Int64, dir: RelativePath) throws -> [StoredSidecar] {
        if let p = prefetched, p.siloID == siloID, p.dir == dir {
            prefetched = nil
            return p.sidecars
        }
        return try reading("read a folder's sidecars") {
            try session.query("""
                SELECT f.name, s.name, s.size, s.mtime_ns, s.ctime_ns, s.dev, s.ino, s.sha256 IS NOT NULL, s.used <> 0,
                       s.fields IS NOT NULL
                FROM sidecar s JOIN file f ON f.id = s.file_id
                WHERE s.silo_id = \(siloID) AND s.dir = \(ByteBuffer(bytes: dir.bytes)) ORDER BY s.id
                """, as: (ByteBuffer, ByteBuffer, Int64, Int64, Int64, Int64, Int64, Bool, Bool, Bool).self).map { r in
                let stat = FileStat(size: r.2, mtimeNs: r.3, ctimeNs: r.4, device: UInt64(bitPattern: r.5), inode: UInt64(bitPattern: r.6),
                                    linkCount: 0, mode: 0, uid: 0, gid: 0)
                return StoredSidecar(assetName: r.0.allBytes, name: r.1.allBytes, stat: stat, hashed: r.7, valuesRead: r.9, used: r.8)
            }
        }
    }
}
