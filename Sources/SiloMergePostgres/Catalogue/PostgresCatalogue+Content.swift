import Foundation
import PostgresNIO
import SiloMergeCore

// The content streams (duplicates, audit, `--hash dupes`, image hashes, formats) and the
// unified catalogue, on PostgreSQL. Each reproduces what SQLiteCatalogue returns, in the same
// order, so every command prints the same thing on both backends:
//
// - Orders that SQLite takes from its BINARY collation are memcmp orders here too: folders,
//   names and digests are `bytea`, and text that orders (silo names, formats) says
//   `COLLATE "C"`, whatever collation the database was created with. A file's `path` (SQLite's
//   generated column, `dir/name` compared as one string) is `pathSQL`. NULLs come first, as in
//   SQLite (PostgreSQL puts them last unless told).
// - Reads run on a reader session, never the writer: a scan's hashing workers (or another
//   process) write meanwhile. Reads made of several queries run in one read-only REPEATABLE
//   READ transaction (`readSnapshot`): one snapshot, as SQLite's read transaction.
// - Streams are cursors (`PostgresSession.stream`), and the server does the filtering that the
//   fold would otherwise do on the client: the analysis is given only contents with two or more
//   files (a content held once adds nothing to any figure of `DuplicateFold`), duplicate groups
//   come already sorted with their files, size groups only when two physical files share a size.

/// Thrown inside a stream's body to stop reading (the consumer returned false).
private struct StopStream: Error {}

extension PostgresCatalogue {
    /// SQLite's `file.path`: `dir || '/' || name`, or `name` at the silo root, as bytes.
    static func pathSQL(_ f: String) -> String {
        "(CASE WHEN \(f).dir = ''::bytea THEN \(f).name ELSE \(f).dir || '/'::bytea || \(f).name END)"
    }

    /// Runs `body` in a read-only transaction with one snapshot for all its queries, on a reader
    /// session (the writer stays free).
    func readSnapshot<R>(_ body: (PostgresTransaction) throws -> R) throws -> R {
        try readers.with { session in
            try session.withTransaction { tx in
                try tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                try Self.tuneForWholeResults(tx)
                return try body(tx)
            }
        }
    }

    /// For this transaction: plan cursors for reading every row (the default, 10 %, favours
    /// plans that start fast and finish slow, such as a merge join over a whole index read in
    /// random order), and give sorts and hashes enough memory to stay off the disk on a
    /// catalogue of millions of files (the server's, not the client's).
    static func tuneForWholeResults(_ tx: PostgresTransaction) throws {
        try tx.execute("SET LOCAL cursor_tuple_fraction = 1")
        try tx.execute("SET LOCAL work_mem = '64MB'")
    }

    /// Decodes a streamed row, saying which query it came from when a column does not read.
    func decode<each T: PostgresDecodable>(_ row: PostgresRow, _ types: (repeat each T).Type, _ sql: String)
        throws(PostgresClientError) -> (repeat each T) {
        try writer.wire.decode(row, as: types, sql: sql)
    }

    /// The covered silos of a query (all when it names none) and their ids.
    func scope(_ all: [Silo], _ query: DuplicateQuery) throws -> (ids: [Int64], silos: [Silo]) {
        var chosen = all
        if !query.silos.isEmpty {
            chosen = try query.silos.map { name in
                guard let silo = all.first(where: { $0.name == name }) else { throw CatalogueError.unknownSilo(name) }
                return silo
            }
        }
        return (chosen.map(\.id), chosen)
    }
}

// MARK: - ContentStreams

extension PostgresCatalogue {
    public func forEachSizeGroup(_ body: ([CandidateFile]) throws -> Bool) throws {
        try wrap("list files sharing a size") {
            try readers.with { session in
                // The sizes two physical files (host, device, inode) share, found in one grouped
                // pass; then their files, in the order of SQLite's size index.
                let sql = """
                    SELECT f.size, f.id, f.silo_id, f.dir, f.name, f.mtime_ns, f.ctime_ns, f.dev, f.ino, f.nlink, f.mode,
                           f.uid, f.gid, f.sha256
                    FROM file f
                    WHERE f.size IN (
                        SELECT g.size FROM file g JOIN silo s ON s.id = g.silo_id
                        WHERE g.size > 0
                        GROUP BY g.size
                        HAVING min(g.dev) <> max(g.dev) OR min(g.ino) <> max(g.ino)
                            OR min(coalesce(s.host, '') COLLATE "C") <> max(coalesce(s.host, '') COLLATE "C"))
                    ORDER BY f.size, f.dev, f.ino, f.silo_id, f.id
                    """
                var group: [CandidateFile] = []
                func emit() throws {
                    defer { group.removeAll(keepingCapacity: true) }
                    guard group.count > 1 else { return }
                    if try !body(group) { throw StopStream() }
                }
                func add(_ row: PostgresRow) throws {
                    let (size, id, silo, dir, name, mtime, ctime, dev, ino, nlink, mode, uid, gid, sha) =
                        try decode(row, (Int64, Int64, Int64, ByteBuffer, ByteBuffer, Int64, Int64, Int64, Int64, Int64, Int64,
                                         Int64, Int64, ByteBuffer?).self, sql)
                    if let first = group.first, first.stat.size != size { try emit() }
                    let stat = FileStat(size: size, mtimeNs: mtime, ctimeNs: ctime,
                                        device: UInt64(bitPattern: dev), inode: UInt64(bitPattern: ino),
                                        linkCount: UInt64(nlink), mode: UInt32(truncatingIfNeeded: mode),
                                        uid: UInt32(truncatingIfNeeded: uid), gid: UInt32(truncatingIfNeeded: gid))
                    group.append(CandidateFile(fileID: id, siloID: silo, path: RelativePath(bytes: dir.allBytes).appending(name.allBytes),
                                               stat: stat, sha256: SHA256Digest(bytea: sha)))
                }
                do {
                    // A transaction of its own (a cursor needs one), read-committed: the stream
                    // reads the catalogue as it was when it started, while the scan writes.
                    try session.withTransaction { tx in
                        try Self.tuneForWholeResults(tx)
                        try tx.stream(PostgresQuery(unsafeSQL: sql), add)
                    }
                    try emit()
                } catch is StopStream {}
            }
        }
    }

    public func analyse(_ query: DuplicateQuery, top: Int) throws -> Analysis {
        try wrap("analyse duplicates") {
            try readSnapshot { tx in
                let all = try fetchSilos(writerOrReader: tx)
                let (ids, silos) = try scope(all, query)
                var fold = DuplicateFold(silos: silos, top: top)
                for (silo, files, bytes, unhashed) in try tx.query("""
                    SELECT silo_id, count(*), coalesce(sum(size), 0)::bigint, count(*) FILTER (WHERE sha256 IS NULL)
                    FROM file WHERE silo_id = ANY(\(ids)) GROUP BY silo_id
                    """, as: (Int64, Int64, Int64, Int64).self) {
                    fold.addTotals(silo: silo, files: Int(files), bytes: bytes, unhashed: Int(unhashed))
                }
                // Hard links: paths beyond the first of each physical file (one inode of one host).
                let links = try tx.query("""
                    SELECT coalesce(sum(n - 1), 0)::bigint, coalesce(sum(size * (n - 1)), 0)::bigint FROM (
                        SELECT max(f.size) AS size, count(*) AS n FROM file f JOIN silo s ON s.id = f.silo_id
                        WHERE f.nlink > 1 AND f.silo_id = ANY(\(ids)) GROUP BY s.host, f.dev, f.ino) t
                    """, as: (Int64, Int64).self).first ?? (Int64(0), Int64(0))
                fold.setHardLinks(extraPaths: Int(links.0), extraBytes: links.1)
                try forEachContent(tx, query, ids: ids, hosts: HostOrdinals(all)) { sha, size, rows in
                    fold.add(sha: sha, size: size, copies: rows)
                }
                return try fold.finish { sha, size in try groupFiles(tx, sha: sha, size: size, ids: ids) }
            }
        }
    }

    /// Streams the covered contents held by two or more files, in (sha256, size) order, each
    /// with its copies. A content with one file adds nothing to the analysis, so the server
    /// leaves those out: on a catalogue of mostly unique files the stream is a fraction of it.
    func forEachContent(_ tx: PostgresTransaction, _ query: DuplicateQuery, ids: [Int64], hosts: HostOrdinals,
                        _ body: (SHA256Digest, Int64, [ContentCopy]) throws -> Void) throws {
        let minimum = max(query.minimumSize, query.includeEmpty ? 0 : 1)
        let query: PostgresQuery = """
            SELECT sha256, size, silo_id, dev, ino FROM (
                SELECT sha256, size, silo_id, dev, ino, count(*) OVER (PARTITION BY sha256, size) AS n
                FROM file WHERE sha256 IS NOT NULL AND silo_id = ANY(\(ids)) AND size >= \(minimum)) c
            WHERE n > 1
            ORDER BY sha256, size
            """
        var current: (sha: SHA256Digest, size: Int64)?
        var rows: [ContentCopy] = []
        try tx.stream(query) { row in
            let (shaBytes, size, silo, dev, ino) = try decode(row, (ByteBuffer, Int64, Int64, Int64, Int64).self, query.sql)
            guard let sha = SHA256Digest(bytea: shaBytes) else { return }
            if current == nil || current!.sha != sha || current!.size != size {
                if let c = current { try body(c.sha, c.size, rows) }
                current = (sha, size)
                rows.removeAll(keepingCapacity: true)
            }
            rows.append(ContentCopy(silo: silo, physical: hosts.physical(silo: silo, FileID(device: UInt64(bitPattern: dev),
                                                                                          inode: UInt64(bitPattern: ino)))))
        }
        if let c = current { try body(c.sha, c.size, rows) }
    }

    static let groupFileColumns = "s.name, s.priority, s.root, f.dir, f.name, f.dev, f.ino, f.nlink, f.mtime_ns"
    static let groupFileOrder = "s.priority, s.name COLLATE \"C\", \(pathSQL("f"))"

    typealias GroupFileColumns = (String, Int64, ByteBuffer, ByteBuffer, ByteBuffer, Int64, Int64, Int64, Int64)

    /// A duplicate group's file from the columns `groupFileColumns`.
    static func groupFile(_ c: GroupFileColumns) -> GroupFile {
        GroupFile(silo: c.0, siloPriority: Int(c.1), siloRoot: FilePath(bytes: c.2.allBytes),
                  path: RelativePath(bytes: c.3.allBytes).appending(c.4.allBytes),
                  device: UInt64(bitPattern: c.5), inode: UInt64(bitPattern: c.6), linkCount: UInt64(c.7), mtimeNs: c.8)
    }

    /// The copies of one content, by silo priority, silo name, then path.
    func groupFiles(_ tx: PostgresTransaction, sha: SHA256Digest, size: Int64, ids: [Int64]) throws -> [GroupFile] {
        let query: PostgresQuery = """
            SELECT \(unescaped: Self.groupFileColumns)
            FROM file f JOIN silo s ON s.id = f.silo_id
            WHERE f.sha256 = \(sha.bytea) AND f.size = \(size) AND f.silo_id = ANY(\(ids))
            ORDER BY \(unescaped: Self.groupFileOrder)
            """
        return try tx.query(query, as: GroupFileColumns.self).map(Self.groupFile)
    }

    public func forEachDuplicateGroup(_ query: DuplicateQuery, _ body: (DuplicateGroup) throws -> Bool) throws {
        try wrap("list duplicate groups") {
            try readSnapshot { tx in
                let (ids, _) = try scope(try fetchSilos(writerOrReader: tx), query)
                let minimum = max(query.minimumSize, query.includeEmpty ? 0 : 1)
                // The server finds the groups (contents held by two or more physical files: one
                // inode of one host, as HostOrdinals keys them), sorts them largest reclaimable
                // first, then by digest, and gives each group's files in report order: one
                // ordered stream, the client holds one group at a time.
                let sql: PostgresQuery = """
                    WITH c AS (
                        SELECT sha256, size, silo_id, dev, ino, count(*) OVER (PARTITION BY sha256, size) AS n
                        FROM file WHERE sha256 IS NOT NULL AND silo_id = ANY(\(ids)) AND size >= \(minimum)
                    ), g AS (
                        SELECT c.sha256, c.size, count(DISTINCT (coalesce(s.host, ''), c.dev, c.ino)) AS copies
                        FROM c JOIN silo s ON s.id = c.silo_id
                        WHERE c.n > 1
                        GROUP BY c.sha256, c.size
                    )
                    SELECT g.sha256, g.size, g.copies, \(unescaped: Self.groupFileColumns)
                    FROM g
                    JOIN file f ON f.sha256 = g.sha256 AND f.size = g.size AND f.silo_id = ANY(\(ids))
                    JOIN silo s ON s.id = f.silo_id
                    WHERE g.copies > 1
                    ORDER BY (g.copies - 1) * g.size DESC, g.sha256, g.size, \(unescaped: Self.groupFileOrder)
                    """
                var current: DuplicateGroup?
                do {
                    try tx.stream(sql) { row in
                        let (shaBytes, size, copies, silo, priority, root, dir, name, dev, ino, nlink, mtime) =
                            try decode(row, (ByteBuffer, Int64, Int64, String, Int64, ByteBuffer, ByteBuffer, ByteBuffer, Int64, Int64,
                                             Int64, Int64).self, sql.sql)
                        guard let sha = SHA256Digest(bytea: shaBytes) else { return }
                        let file = Self.groupFile((silo, priority, root, dir, name, dev, ino, nlink, mtime))
                        if let c = current, c.sha256 != sha || c.size != size {
                            current = nil
                            if try !body(c) { throw StopStream() }
                        }
                        if current == nil { current = DuplicateGroup(sha256: sha, size: size, files: [], physicalCopies: Int(copies)) }
                        current!.files.append(file)
                    }
                    if let c = current { _ = try body(c) }
                } catch is StopStream {}
            }
        }
    }

    public func contents(withPrefix prefix: String, limit: Int) throws -> [SHA256Digest] {
        let clean = String(prefix.lowercased().filter(\.isHexDigit))
        // Digests are 32 bytes: those starting with `clean` lie between it padded with 0s and
        // padded with fs (a prefix longer than a digest names none).
        guard clean.count <= 64, limit != 0,
              let low = SHA256Digest(hex: clean + String(repeating: "0", count: 64 - clean.count)),
              let high = SHA256Digest(hex: clean + String(repeating: "f", count: 64 - clean.count)) else { return [] }
        let cap: Int64? = limit < 0 ? nil : Int64(limit)
        return try wrap("look up a content") {
            try readers.with { session in
                try session.query("""
                    SELECT DISTINCT sha256 FROM file WHERE sha256 BETWEEN \(low.bytea) AND \(high.bytea)
                    ORDER BY sha256 LIMIT \(cap)
                    """, as: ByteBuffer.self).compactMap { SHA256Digest(bytea: $0) }
            }
        }
    }

    public func formatTotals() throws -> [(format: String, files: Int, bytes: Int64)] {
        try wrap("count formats") {
            try readers.with { session in
                try session.query("""
                    SELECT coalesce(format, 'unknown') COLLATE "C" AS f, count(*), coalesce(sum(size), 0)::bigint
                    FROM file GROUP BY 1 ORDER BY 3 DESC, 1
                    """, as: (String, Int64, Int64).self).map { ($0.0, Int($0.1), $0.2) }
            }
        }
    }

    public func sameImageGroups(silos names: [String], minimumSize: Int64) throws -> [SameImageGroup] {
        try wrap("find images saved with different metadata") {
            try readSnapshot { tx in
                let silos = try fetchSilos(writerOrReader: tx).filter { names.isEmpty || names.contains($0.name) }
                let ids = silos.map(\.id)
                let byID = Dictionary(uniqueKeysWithValues: silos.map { ($0.id, $0) })
                // Copies of one content count once; a file without a hash (--hash dupes) is a
                // content of its own.
                let rows = try tx.query("""
                    SELECT f.id, f.image_sha256, f.sha256, f.size, f.format, f.silo_id, f.dir, f.name,
                           f.metadata_read, f.width, f.height, f.dimensions_group, f.mtime_ns
                    FROM file f
                    WHERE f.silo_id = ANY(\(ids)) AND f.size >= \(minimumSize) AND f.image_sha256 IN (
                        SELECT image_sha256 FROM file
                        WHERE image_sha256 IS NOT NULL AND silo_id = ANY(\(ids)) AND size >= \(minimumSize)
                        GROUP BY image_sha256 HAVING count(DISTINCT coalesce(sha256, int8send(id))) > 1)
                    ORDER BY f.image_sha256, f.sha256 NULLS FIRST, f.id
                    """, as: (Int64, ByteBuffer, ByteBuffer?, Int64, String?, Int64, ByteBuffer, ByteBuffer, Int64?, Int64?, Int64?, String?, Int64).self)
                // Each file's preferred embedded values, the first of each field (in the order
                // they were recorded), as comparison keys.
                var values: [Int64: [UnifiedField: String]] = [:]
                // The header facts first, as their rows were (a picture's format is known).
                for r in rows {
                    for v in HeaderFacts.values(metadataRead: (r.8 ?? 0) > 0, format: r.4.flatMap(MediaFormat.init(rawValue:)),
                                                width: r.9.map(Int.init), height: r.10.map(Int.init), group: r.11, mtimeNs: r.12,
                                                hasOwnValues: false) {
                        values[r.0, default: [:]][v.field] = v.value.comparisonKey
                    }
                }
                if !rows.isEmpty {
                    for (id, name, json) in try tx.query("""
                        SELECT file_id, field, value FROM metadata WHERE file_id = ANY(\(rows.map(\.0))) AND preferred = 1
                        ORDER BY file_id, id
                        """, as: (Int64, String, String).self) {
                        guard let f = UnifiedField(rawValue: name), values[id]?[f] == nil,
                              let value = FieldValue.fromJSON(json, field: f) else { continue }
                        values[id, default: [:]][f] = value.comparisonKey
                    }
                }
                var groups: [SameImageGroup] = []
                var i = 0
                while i < rows.count {
                    let image = rows[i].1
                    var members: [(Int64, SameImageGroup.Member)] = []
                    while i < rows.count, rows[i].1 == image {
                        let r = rows[i]
                        if let silo = byID[r.5] {
                            members.append((r.0, SameImageGroup.Member(silo: silo.name, siloPriority: silo.priority,
                                                                       path: RelativePath(bytes: r.6.allBytes).appending(r.7.allBytes),
                                                                       sha256: SHA256Digest(bytea: r.2), size: r.3)))
                        }
                        i += 1
                    }
                    guard let imageSHA = SHA256Digest(bytea: image),
                          Set(members.map { $0.1.sha256?.hex ?? "\($0.0)" }).count > 1 else { continue }
                    var differ: [UnifiedField] = []
                    for f in UnifiedField.allCases {
                        let seen = Set(members.map { values[$0.0]?[f] ?? "" })
                        if seen.count > 1 { differ.append(f) }
                    }
                    let format = MediaFormat(rawValue: rows[i - 1].4 ?? "") ?? .other
                    groups.append(SameImageGroup(imageSHA256: imageSHA, format: format,
                        files: members.map(\.1).sorted { ($0.siloPriority, $0.silo, $0.path) < ($1.siloPriority, $1.silo, $1.path) },
                        fieldsThatDiffer: differ))
                }
                return groups.sorted { ($0.files.count, $0.files.first?.size ?? 0) > ($1.files.count, $1.files.first?.size ?? 0) }
            }
        }
    }

    public func imageHashCandidates(siloIDs: [Int64]) throws -> [ImageHashCandidate] {
        guard !siloIDs.isEmpty else { return [] }
        return try wrap("find pictures that may be saved twice") {
            try readers.with { session in
                // 1. A prefix shared by files with other bytes (any silo: a copy elsewhere counts).
                // 2. Catalogues from before image_prefix existed: a picture of the same format and
                //    size as one whose whole hash an older scan stored.
                try session.query("""
                    WITH shared AS (
                        SELECT image_prefix FROM file WHERE image_prefix IS NOT NULL
                        GROUP BY image_prefix HAVING count(DISTINCT coalesce(sha256, int8send(id))) > 1
                    ), legacy AS (
                        SELECT DISTINCT format, width, height FROM file
                        WHERE image_prefix IS NULL AND image_sha256 IS NOT NULL
                    )
                    SELECT f.id, f.silo_id, f.dir, f.name, f.size, f.mtime_ns, f.format, f.sha256, f.image_prefix
                    FROM file f
                    WHERE f.silo_id = ANY(\(siloIDs)) AND f.image_sha256 IS NULL AND f.image_prefix IS NOT NULL
                      AND (f.image_prefix IN (SELECT image_prefix FROM shared)
                           OR EXISTS (SELECT 1 FROM legacy l WHERE l.format = f.format
                                      AND l.width IS NOT DISTINCT FROM f.width AND l.height IS NOT DISTINCT FROM f.height))
                    ORDER BY f.sha256 NULLS FIRST, f.id
                    """, as: (Int64, Int64, ByteBuffer, ByteBuffer, Int64, Int64, String?, ByteBuffer?, ByteBuffer?).self).map { r in
                    ImageHashCandidate(fileID: r.0, siloID: r.1, path: RelativePath(bytes: r.2.allBytes).appending(r.3.allBytes),
                                       size: r.4, mtimeNs: r.5, format: MediaFormat(rawValue: r.6 ?? "") ?? .other,
                                       sha256: SHA256Digest(bytea: r.7), imagePrefix: SHA256Digest(bytea: r.8))
                }
            }
        }
    }
}

// MARK: - AssetStore

extension PostgresCatalogue {
    /// Streams every distinct content (hashed; the empty content is one content too) with its
    /// copies and their values, in SHA-256 order (copies in silo priority, silo, path order).
    /// One cursor over the files in content-index order, each with its metadata rows in the
    /// order they were recorded.
    func forEachAssetSources(_ tx: PostgresTransaction, silos: [Silo], _ body: (AssetSources) throws -> Void) throws {
        let byID = Dictionary(uniqueKeysWithValues: silos.map { ($0.id, $0) })
        let query: PostgresQuery = """
            SELECT f.id, f.sha256, f.size, f.mtime_ns, f.uid, f.gid, f.dev, f.ino, f.silo_id, f.dir, f.name, f.format,
                   f.width, f.height, f.image_sha256, f.metadata_read, f.dimensions_group,
                   m.field, m.origin, m.tag, m.value, m.raw, m.source, m.source_mtime_ns, m.preferred
            FROM file f
            LEFT JOIN LATERAL (SELECT * FROM metadata WHERE metadata.file_id = f.id) m ON true
            WHERE f.sha256 IS NOT NULL
            ORDER BY f.sha256, f.size, f.silo_id, f.dev, f.ino, f.id, m.id
            """
        var current: AssetSources?
        var fileID: Int64 = -1
        // The header facts of the file being read, given first among its values once all its
        // rows are in (whether it holds values of its own decides a format of 'other').
        var facts: (read: Bool, format: MediaFormat?, width: Int?, height: Int?, group: String?, mtimeNs: Int64)?
        func finishFile() {
            guard let f = facts, current != nil, let n = current?.copies.indices.last else { return }
            facts = nil
            let values = HeaderFacts.values(metadataRead: f.read, format: f.format, width: f.width, height: f.height, group: f.group,
                                            mtimeNs: f.mtimeNs, hasOwnValues: current!.copies[n].values.contains { $0.source == nil })
            HeaderFacts.insert(values, into: &current!.copies[n].values)
        }
        func flush() throws {
            finishFile()
            guard var c = current else { return }
            c.copies.sort { ($0.copy.siloPriority, $0.copy.silo, $0.copy.path) < ($1.copy.siloPriority, $1.copy.silo, $1.copy.path) }
            current = nil
            try body(c)
        }
        try tx.stream(query) { row in
            let (id, shaBytes, size, mtime, uid, gid, dev, ino, siloID, dir, name, format, width, height, image, metadataRead, group,
                 fieldName, originName, tag, json, raw, source, sourceTime, preferred) =
                try decode(row, (Int64, ByteBuffer, Int64, Int64, Int64, Int64, Int64, Int64, Int64, ByteBuffer, ByteBuffer, String?,
                                 Int64?, Int64?, ByteBuffer?, Int64?, String?,
                                 String?, String?, String?, String?, String?, ByteBuffer?, Int64?, Int64?).self, query.sql)
            guard let sha = SHA256Digest(bytea: shaBytes), let silo = byID[siloID] else { return }
            if id != fileID {
                finishFile()
                fileID = id
                if current?.sha256 != sha {
                    try flush()
                    current = AssetSources(sha256: sha, size: size, format: format.flatMap(MediaFormat.init(rawValue:)) ?? .other,
                                           width: width.map(Int.init), height: height.map(Int.init),
                                           imageSHA256: SHA256Digest(bytea: image), copies: [])
                }
                let path = RelativePath(bytes: dir.allBytes).appending(name.allBytes)
                let copy = AssetCopy(silo: silo.name, siloPriority: silo.priority, path: path, size: size, mtimeNs: mtime,
                                     uid: UInt32(truncatingIfNeeded: uid), gid: UInt32(truncatingIfNeeded: gid),
                                     device: UInt64(bitPattern: dev), inode: UInt64(bitPattern: ino),
                                     absolutePath: silo.root.appending(path), host: silo.host?.id)
                current!.copies.append(AssetSources.Copy(copy: copy, values: []))
                facts = ((metadataRead ?? 0) > 0, format.flatMap(MediaFormat.init(rawValue:)), width.map(Int.init), height.map(Int.init),
                         group, mtime)
            }
            guard let fieldName, let originName, let tag, let json, let raw,
                  let field = UnifiedField(rawValue: fieldName), let origin = MetadataOrigin(rawValue: originName),
                  let value = FieldValue.fromJSON(json, field: field) else { return }
            let n = current!.copies.count - 1
            current!.copies[n].values.append(StoredValue(field: field, origin: origin, tag: tag, value: value, raw: raw,
                                                         source: source.map { String(decoding: $0.allBytes, as: UTF8.self) },
                                                         timeNs: sourceTime, preferred: (preferred ?? 0) != 0))
        }
        try flush()
    }

    /// Reconciles and stores the unified catalogue. The sources are read from one snapshot on a
    /// reader session; each record is reconciled once, written to a staging table by COPY on
    /// the writer (in its transaction) and spooled; then `asset` and `asset_field` are replaced
    /// set-wise from the staging table, committed, and only then are the spooled records handed
    /// to `each` — the very records stored (`asset_field` keeps coordinates to 7 decimals and
    /// dates as plain strings: reading it back would change outputs), while the writer is free.
    public func rebuildAssets(runID: Int64, transform: (AssetSources) throws -> ReconciledAsset,
                              each: (ReconciledAsset) throws -> Void) throws -> (assets: Int, conflicts: Int, unhashed: Int) {
        try wrap("reconcile the catalogue") {
            let spool = try RecordSpool<ReconciledAsset>()
            let counts = try readSnapshot { source in
                let silos = try fetchSilos(writerOrReader: source)
                return try writer.withTransaction { tx in
                    try tx.execute("""
                        CREATE TEMP TABLE asset_stage (
                            sha256 bytea NOT NULL, size bigint, format text, width bigint, height bigint, image_sha256 bytea,
                            copies bigint, conflicts bigint,
                            field text, value text, status text, rule text, sources text
                        ) ON COMMIT DROP
                        """)
                    let encoder = JSONEncoder.sorted
                    var assets = 0, conflicts = 0
                    // One row per asset (field NULL), then one per reconciled field.
                    try tx.copyIn(table: "asset_stage", columns: ["sha256", "size", "format", "width", "height", "image_sha256",
                                                                   "copies", "conflicts", "field", "value", "status", "rule", "sources"]) { out in
                        try forEachAssetSources(source, silos: silos) { sources in
                            let reconciled = try transform(sources)
                            try spool.append(reconciled)
                            let n = reconciled.fields.filter { $0.status == .conflict }.count
                            let sha = reconciled.sha256.bytes
                            try out.bytes(sha); try out.int(reconciled.size); try out.text(reconciled.format.rawValue)
                            if let w = reconciled.width { try out.int(w) } else { try out.null() }
                            if let h = reconciled.height { try out.int(h) } else { try out.null() }
                            if let image = reconciled.imageSHA256 { try out.bytes(image.bytes) } else { try out.null() }
                            try out.int(reconciled.physicalCopies); try out.int(n)
                            for _ in 0..<5 { try out.null() }
                            try out.endRow()
                            for f in reconciled.fields {
                                try out.bytes(sha)
                                for _ in 0..<7 { try out.null() }
                                try out.text(f.field.rawValue)
                                if let value = f.value?.json { try out.text(value) } else { try out.null() }
                                try out.text(f.status.rawValue); try out.text(f.rule.description)
                                try out.text(String(decoding: try encoder.encode(f.sources), as: UTF8.self))
                                try out.endRow()
                            }
                            assets += 1
                            conflicts += n
                        }
                    }
                    // TRUNCATE, not DELETE: no row-by-row work on a large catalogue; its lock
                    // also makes a second rebuild (another process) wait for this one's commit.
                    try tx.execute("TRUNCATE asset_field, asset")
                    try tx.execute("""
                        INSERT INTO asset (sha256, size, format, width, height, image_sha256, copies, conflicts, reconciled_run)
                        SELECT sha256, size, format, width, height, image_sha256, copies, conflicts, \(runID)
                        FROM asset_stage WHERE field IS NULL
                        """)
                    try tx.execute("""
                        INSERT INTO asset_field (sha256, field, value, status, rule, sources)
                        SELECT sha256, field, value, status, rule, sources FROM asset_stage WHERE field IS NOT NULL
                        """)
                    let unhashed = try source.query("SELECT count(*) FROM file WHERE sha256 IS NULL", as: Int64.self).first ?? 0
                    return (assets, conflicts, Int(unhashed))
                }
            }
            try spool.forEach(each)
            return counts
        }
    }

    public func reconcileAssets(transform: (AssetSources) throws -> ReconciledAsset,
                                each: (ReconciledAsset) throws -> Void) throws -> (assets: Int, conflicts: Int, unhashed: Int) {
        try wrap("reconcile the catalogue") {
            try readSnapshot { tx in
                var assets = 0, conflicts = 0
                try forEachAssetSources(tx, silos: try fetchSilos(writerOrReader: tx)) { sources in
                    let reconciled = try transform(sources)
                    assets += 1
                    conflicts += reconciled.fields.filter { $0.status == .conflict }.count
                    try each(reconciled)
                }
                let unhashed = try tx.query("SELECT count(*) FROM file WHERE sha256 IS NULL", as: Int64.self).first ?? 0
                return (assets, conflicts, Int(unhashed))
            }
        }
    }

    public func sidecarFiles() throws -> [SidecarFileRecord] {
        try wrap("read the sidecars") {
            try readSnapshot { tx in
                let names = Dictionary(uniqueKeysWithValues: try fetchSilos(writerOrReader: tx).map { ($0.id, $0.name) })
                return try tx.query("""
                    SELECT sc.silo_id, sc.dir, sc.name, f.name, sc.size, sc.mtime_ns, sc.dev, sc.ino, sc.sha256, sc.form, sc.used
                    FROM sidecar sc JOIN file f ON f.id = sc.file_id
                    ORDER BY sc.silo_id, sc.dir, sc.name, f.name
                    """, as: (Int64, ByteBuffer, ByteBuffer, ByteBuffer, Int64, Int64, Int64, Int64, ByteBuffer?, String, Int64).self)
                    .compactMap { r -> SidecarFileRecord? in
                        guard let silo = names[r.0] else { return nil }
                        let dir = RelativePath(bytes: r.1.allBytes)
                        return SidecarFileRecord(silo: silo, path: dir.appending(r.2.allBytes), assetPath: dir.appending(r.3.allBytes),
                                                 size: r.4, mtimeNs: r.5, device: UInt64(bitPattern: r.6), inode: UInt64(bitPattern: r.7),
                                                 sha256: SHA256Digest(bytea: r.8), form: SidecarForm(rawValue: r.9) ?? .name, used: r.10 != 0)
                    }
            }
        }
    }

    public func unhashedFiles() throws -> [UnhashedFileRecord] {
        try wrap("read the files without a hash") {
            try readSnapshot { tx in
                let names = Dictionary(uniqueKeysWithValues: try fetchSilos(writerOrReader: tx).map { ($0.id, $0.name) })
                let rows = try tx.query("""
                    SELECT silo_id, dir, name, size FROM file WHERE sha256 IS NULL ORDER BY silo_id, dir, name
                    """, as: (Int64, ByteBuffer, ByteBuffer, Int64).self)
                guard !rows.isEmpty else { return [] }
                // The last problem reported reading each (one pass over those diagnostics).
                var problems: [[UInt8]: String] = [:]
                for (silo, path, message) in try tx.query("""
                    SELECT silo, path, message FROM diagnostic
                    WHERE code IN ('unreadable', 'changed-while-reading', 'vanished') AND path IS NOT NULL ORDER BY id
                    """, as: (String?, ByteBuffer, String).self) {
                    problems[(silo ?? "").exactBytes + [0] + path.allBytes] = message
                }
                return rows.compactMap { r -> UnhashedFileRecord? in
                    guard let silo = names[r.0] else { return nil }
                    let path = RelativePath(bytes: r.1.allBytes).appending(r.2.allBytes)
                    return UnhashedFileRecord(silo: silo, path: path, size: r.3, problem: problems[silo.exactBytes + [0] + path.bytes])
                }
            }
        }
    }

    public func uncatalogued() throws -> [UncataloguedRecord] {
        try wrap("read what the scans passed over") {
            try readSnapshot { tx in
                let names = Dictionary(uniqueKeysWithValues: try fetchSilos(writerOrReader: tx).map { ($0.id, $0.name) })
                return try tx.query("""
                    SELECT silo_id, dir, name, kind, reason, detail, size FROM uncatalogued ORDER BY silo_id, dir, name
                    """, as: (Int64, ByteBuffer, ByteBuffer, String, String, String, Int64?).self).compactMap { r -> UncataloguedRecord? in
                    guard let silo = names[r.0] else { return nil }
                    return UncataloguedRecord(silo: silo, path: RelativePath(bytes: r.1.allBytes).appending(r.2.allBytes),
                                              kind: FileKind(rawValue: r.3) ?? .unknown,
                                              reason: UncataloguedReason(rawValue: r.4) ?? .excluded, detail: r.5, size: r.6)
                }
            }
        }
    }
}
