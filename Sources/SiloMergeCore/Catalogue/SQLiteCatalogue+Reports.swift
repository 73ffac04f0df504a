import Foundation
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

    /// One content (sha256 and size) with its copies, as the content index lists them.
    struct ContentRow { var silo: Int64; var inode: PhysicalFileID }

    /// Streams the content index in (sha256, size) order and calls `body` once per content
    /// that passes the query's filters.
    func forEachContent(_ db: Database, _ query: DuplicateQuery, ids: String,
                        _ body: (SHA256Digest, Int64, [ContentRow]) throws -> Void) throws {
        let hosts = HostOrdinals(try Self.fetchSilos(db))
        let minimum = max(query.minimumSize, query.includeEmpty ? 0 : 1)
        let s = RawStatement(try db.makeStatement(sql: """
            SELECT sha256, size, silo_id, dev, ino FROM file INDEXED BY file_content
            WHERE sha256 IS NOT NULL AND silo_id IN (\(ids)) AND size >= \(minimum)
            ORDER BY sha256, size
            """), db)
        defer { s.reset() }
        var current: (SHA256Digest, Int64)?
        var rows: [ContentRow] = []
        while try s.step("read the content index") {
            guard let sha = s.digest(0) else { continue }
            let size = s.int64(1)
            if current == nil || current!.0 != sha || current!.1 != size {
                if let c = current { try body(c.0, c.1, rows) }
                current = (sha, size)
                rows.removeAll(keepingCapacity: true)
            }
            let silo = s.int64(2)
            rows.append(ContentRow(silo: silo, inode: hosts.physical(silo: silo, FileID(device: UInt64(bitPattern: s.int64(3)),
                                                                                      inode: UInt64(bitPattern: s.int64(4))))))
        }
        if let c = current { try body(c.0, c.1, rows) }
    }

    public func analyse(_ query: DuplicateQuery, top: Int) throws -> Analysis {
        try wrap("analyse duplicates") {
            try pool.read { db in
                let (ids, silos) = try scope(db, query)
                let index = Dictionary(uniqueKeysWithValues: silos.enumerated().map { ($1.id, $0) })
                var summary = DuplicateSummary()
                var stats = silos.map { SiloStatistics(silo: $0.name, priority: $0.priority, files: 0, bytes: 0,
                                                       duplicateBytesInside: 0, sharedBytes: 0, sharedFiles: 0) }
                var pairBytes = [[Int64]](repeating: [Int64](repeating: 0, count: silos.count), count: silos.count)
                var pairContents = [[Int]](repeating: [Int](repeating: 0, count: silos.count), count: silos.count)
                var largest: [(sha: SHA256Digest, size: Int64, copies: Int)] = []

                for row in try Row.fetchAll(db, sql: """
                    SELECT silo_id, count(*), coalesce(sum(size), 0), coalesce(sum(sha256 IS NULL), 0)
                    FROM file WHERE silo_id IN (\(ids)) GROUP BY silo_id
                    """) {
                    guard let i = index[row[0]] else { continue }
                    stats[i].files = row[1]; stats[i].bytes = row[2]
                    summary.files += row[1] as Int; summary.bytes += row[2] as Int64; summary.unhashedFiles += row[3] as Int
                }
                let links = try Row.fetchOne(db, sql: """
                    SELECT coalesce(sum(n - 1), 0), coalesce(sum(size * (n - 1)), 0) FROM (
                        SELECT f.size, count(*) AS n FROM file f JOIN silo s ON s.id = f.silo_id
                        WHERE f.nlink > 1 AND f.silo_id IN (\(ids)) GROUP BY s.host, f.dev, f.ino)
                    """)!
                summary.hardLinkedFiles = links[0]
                summary.physicalBytes = summary.bytes - (links[1] as Int64)

                try forEachContent(db, query, ids: ids) { sha, size, rows in
                    var inodes = Set<PhysicalFileID>()
                    var perSilo: [Int: (files: Int, inodes: Set<PhysicalFileID>)] = [:]
                    for r in rows {
                        inodes.insert(r.inode)
                        guard let i = index[r.silo] else { continue }
                        perSilo[i, default: (0, [])].files += 1
                        perSilo[i]!.inodes.insert(r.inode)
                    }
                    let copies = inodes.count
                    if copies > 1 {
                        // One copy per silo holding the content is what "across" frees (hard
                        // links shared by two silos can make that fewer); the rest is inside.
                        let across = min(copies, perSilo.count) - 1
                        summary.reclaimableAcrossSilos += Int64(across) * size
                        summary.reclaimableInsideSilos += Int64(copies - 1 - across) * size
                        summary.duplicateGroups += 1
                        summary.duplicateFiles += rows.count
                        summary.redundantCopies += copies - 1
                        summary.reclaimableBytes += Int64(copies - 1) * size
                        if top > 0 {
                            let reclaim = Int64(copies - 1) * size
                            if largest.count < top || reclaim > Int64(largest.last!.copies - 1) * largest.last!.size {
                                largest.append((sha, size, copies))
                                largest.sort { Int64($0.copies - 1) * $0.size > Int64($1.copies - 1) * $1.size }
                                if largest.count > top { largest.removeLast() }
                            }
                        }
                    }
                    for (i, entry) in perSilo where entry.inodes.count > 1 {
                        stats[i].duplicateBytesInside += Int64(entry.inodes.count - 1) * size
                        pairBytes[i][i] += Int64(entry.inodes.count - 1) * size
                        pairContents[i][i] += 1
                    }
                    if perSilo.count > 1 {
                        summary.crossSiloContents += 1
                        summary.crossSiloBytes += size
                        let present = perSilo.keys.sorted()
                        for i in present {
                            stats[i].sharedBytes += size
                            stats[i].sharedFiles += perSilo[i]!.files
                        }
                        for (n, a) in present.enumerated() {
                            for b in present[(n + 1)...] { pairBytes[a][b] += size; pairContents[a][b] += 1 }
                        }
                    }
                }

                var overlap: [SiloOverlap] = []
                for a in silos.indices {
                    for b in a..<silos.count where pairContents[a][b] > 0 {
                        overlap.append(SiloOverlap(a: silos[a].name, b: silos[b].name, bytes: pairBytes[a][b],
                                                   contents: pairContents[a][b]))
                    }
                }
                let groups = try largest.map { g in
                    DuplicateGroup(sha256: g.sha, size: g.size, files: try groupFiles(db, sha: g.sha, size: g.size, ids: ids),
                                   physicalCopies: g.copies)
                }
                return Analysis(summary: summary, silos: stats, overlap: overlap, largestGroups: groups)
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
                    let copies = Set(rows.map(\.inode)).count
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
