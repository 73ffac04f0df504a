import Foundation
import SiloMergeCore
import GRDB

extension SQLiteCatalogue {
    /// The covered silos and the SQL list of their ids.
    func scope(_ db: Database, _ query: DuplicateQuery) throws -> (ids: String, silos: [Silo]) {
        let all = try Self.fetchSilos(db)
        var chosen = all
        if !query.silos.isEmpty {
            chosen = try query.silos.map { name in
                guard let silo = all.first(where: { $0.name == name }) else { throw CatalogueError.unknownSilo(name) }
                return silo
            }
        }
        return (chosen.isEmpty ? "NULL" : chosen.map { String($0.id) }.joined(separator: ","), chosen)
    }

    /// Streams the content index in (sha256, size) order and calls `body` once per content
    /// that passes the query's filters.
    func forEachContent(_ db: Database, _ query: DuplicateQuery, ids: String,
                        _ body: (SHA256Digest, Int64, [ContentCopy]) throws -> Void) throws {
        let hosts = HostOrdinals(try Self.fetchSilos(db))
        let minimum = max(query.minimumSize, query.includeEmpty ? 0 : 1)
        // The covering content index, unless a first scan's bulk load has it dropped for now
        // (`deferIndexes`): a reader then sorts what is loaded so far instead of failing with
        // "no such index".
        let indexed = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'file_content')") ?? false
        let s = RawStatement(try db.makeStatement(sql: """
            SELECT sha256, size, silo_id, dev, ino FROM file \(indexed ? "INDEXED BY file_content" : "")
            WHERE sha256 IS NOT NULL AND silo_id IN (\(ids)) AND size >= \(minimum)
            ORDER BY sha256, size
            """), db)
        defer { s.reset() }
        var current: (SHA256Digest, Int64)?
        var rows: [ContentCopy] = []
        while try s.step("read the content index") {
            guard let sha = s.digest(0) else { continue }
            let size = s.int64(1)
            if current == nil || current!.0 != sha || current!.1 != size {
                if let c = current { try body(c.0, c.1, rows) }
                current = (sha, size)
                rows.removeAll(keepingCapacity: true)
            }
            let silo = s.int64(2)
            rows.append(ContentCopy(silo: silo, physical: hosts.physical(silo: silo, FileID(device: UInt64(bitPattern: s.int64(3)),
                                                                                      inode: UInt64(bitPattern: s.int64(4))))))
        }
        if let c = current { try body(c.0, c.1, rows) }
    }

    public func analyse(_ query: DuplicateQuery, top: Int) throws -> Analysis {
        try wrap("analyse duplicates") {
            try pool.read { db in
                let (ids, silos) = try scope(db, query)
                var fold = DuplicateFold(silos: silos, top: top)
                for row in try Row.fetchAll(db, sql: """
                    SELECT silo_id, count(*), coalesce(sum(size), 0), coalesce(sum(sha256 IS NULL), 0)
                    FROM file WHERE silo_id IN (\(ids)) GROUP BY silo_id
                    """) {
                    fold.addTotals(silo: row[0], files: row[1], bytes: row[2], unhashed: row[3])
                }
                let links = try Row.fetchOne(db, sql: """
                    SELECT coalesce(sum(n - 1), 0), coalesce(sum(size * (n - 1)), 0) FROM (
                        SELECT f.size, count(*) AS n FROM file f JOIN silo s ON s.id = f.silo_id
                        WHERE f.nlink > 1 AND f.silo_id IN (\(ids)) GROUP BY s.host, f.dev, f.ino)
                    """)!
                fold.setHardLinks(extraPaths: links[0], extraBytes: links[1])
                try forEachContent(db, query, ids: ids) { sha, size, rows in fold.add(sha: sha, size: size, copies: rows) }
                return try fold.finish { sha, size in try groupFiles(db, sha: sha, size: size, ids: ids) }
            }
        }
    }

    /// The copies of one content, by silo priority, silo name, then path.
    func groupFiles(_ db: Database, sha: SHA256Digest, size: Int64, ids: String) throws -> [GroupFile] {
        let s = RawStatement(try db.cachedStatement(sql: """
            SELECT s.name, s.priority, s.root, f.path, f.dev, f.ino, f.nlink, f.mtime_ns
            FROM file f JOIN silo s ON s.id = f.silo_id
            WHERE f.sha256 = ?1 AND f.size = ?2 AND f.silo_id IN (\(ids))
            ORDER BY s.priority, s.name, f.path
            """), db)
        defer { s.reset() }
        s.bind(1, text: sha.hex)
        s.bind(2, size)
        var files: [GroupFile] = []
        while try s.step("read a duplicate group") {
            files.append(GroupFile(silo: String(decoding: s.bytes(0), as: UTF8.self), siloPriority: Int(s.int64(1)),
                                   siloRoot: FilePath(bytes: s.bytes(2)), path: RelativePath(bytes: s.bytes(3)),
                                   device: UInt64(bitPattern: s.int64(4)), inode: UInt64(bitPattern: s.int64(5)),
                                   linkCount: UInt64(s.int64(6)), mtimeNs: s.int64(7)))
        }
        return files
    }

    public func forEachDuplicateGroup(_ query: DuplicateQuery, _ body: (DuplicateGroup) throws -> Bool) throws {
        try wrap("list duplicate groups") {
            try pool.read { db in
                let (ids, _) = try scope(db, query)
                // Groups first (a compact list: 44 bytes per group), sorted; then their files.
                var groups: [(sha: SHA256Digest, size: Int64, copies: Int32)] = []
                try forEachContent(db, query, ids: ids) { sha, size, rows in
                    let copies = DuplicateFold.physicalCopies(rows)
                    if copies > 1 { groups.append((sha, size, Int32(copies))) }
                }
                groups.sort {
                    let a = Int64($0.copies - 1) * $0.size, b = Int64($1.copies - 1) * $1.size
                    return a != b ? a > b : $0.sha < $1.sha
                }
                for g in groups {
                    let group = DuplicateGroup(sha256: g.sha, size: g.size,
                                               files: try groupFiles(db, sha: g.sha, size: g.size, ids: ids),
                                               physicalCopies: Int(g.copies))
                    if try !body(group) { return }
                }
            }
        }
    }
}
