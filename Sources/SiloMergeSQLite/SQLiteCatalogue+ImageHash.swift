import Foundation
import SiloMergeCore
import GRDB

extension SQLiteCatalogue {
    public func imageHashCandidates(siloIDs: [Int64]) throws -> [ImageHashCandidate] {
        guard !siloIDs.isEmpty else { return [] }
        let ids = siloIDs.map(String.init).joined(separator: ",")
        return try wrap("find pictures that may be saved twice") {
            // On the writer's connection, in a read (deferred) transaction: the scan just wrote
            // these rows through it, so its schema and pages are in memory. A reader connection
            // would be opened for this one query, parse the schema and read every page of the
            // file table and its prefix index back from the WAL: most of this stage's cost
            // (8 M instructions on 526 photos, against the query's 2 M).
            try pool.writeWithoutTransaction { db in
                var found: [ImageHashCandidate] = []
                try db.inTransaction(.deferred) {
                    found = try Self.imageHashCandidates(db, ids: ids)
                    return .commit
                }
                return found
            }
        }
    }

    private static func imageHashCandidates(_ db: Database, ids: String) throws -> [ImageHashCandidate] {
        // 1. A prefix shared by files with other bytes (any silo: a copy elsewhere counts).
        // 2. Catalogues from before image_prefix existed: a picture of the same format and
        //    size as one whose whole hash an older scan stored. Asked only when there are
        //    such files: SQLite evaluates that test for every candidate row, which made
        //    the query four times slower on a catalogue that has none.
        // "Other bytes": two SHA-256 in the group, or a file not hashed (its own content).
        let hasLegacy = try Bool.fetchOne(db, sql: """
            SELECT EXISTS (SELECT 1 FROM file WHERE image_sha256 IS NOT NULL AND image_prefix IS NULL)
            """) ?? false
        let columns = "f.id, f.silo_id, CAST(f.dir AS BLOB), CAST(f.name AS BLOB), f.size, f.mtime_ns, f.format, f.sha256, f.image_prefix"
        let rows: [Row]
        if hasLegacy {
            rows = try Row.fetchAll(db, sql: """
                WITH shared AS (
                    SELECT image_prefix FROM file WHERE image_prefix IS NOT NULL
                    GROUP BY image_prefix HAVING count(DISTINCT coalesce(sha256, size || ':' || id)) > 1
                ), legacy AS (
                    SELECT DISTINCT format, width, height FROM file
                    WHERE image_prefix IS NULL AND image_sha256 IS NOT NULL
                )
                SELECT \(columns)
                FROM file f
                WHERE f.silo_id IN (\(ids)) AND f.image_sha256 IS NULL AND f.image_prefix IS NOT NULL
                  AND (f.image_prefix IN (SELECT image_prefix FROM shared)
                       OR EXISTS (SELECT 1 FROM legacy l WHERE l.format = f.format AND l.width IS f.width AND l.height IS f.height))
                ORDER BY f.sha256, f.id
                """)
        } else {
            // The same prefixes without reading every picture's row: a prefix held once (nearly
            // all) is told from the prefix index alone; only those held more than once have
            // their files' contents compared (two contents, or a file not hashed: its own).
            // Then their files, found through the index. A third of the instructions of the
            // form above on 526 photos, where that query was most of this stage.
            rows = try Row.fetchAll(db, sql: """
                WITH repeated AS (
                    SELECT image_prefix FROM file WHERE image_prefix IS NOT NULL
                    GROUP BY image_prefix HAVING count(*) > 1
                ), shared AS (
                    SELECT g.image_prefix FROM repeated r CROSS JOIN file g ON g.image_prefix = r.image_prefix
                    GROUP BY g.image_prefix HAVING count(g.sha256) < count(*) OR min(g.sha256) <> max(g.sha256)
                )
                SELECT \(columns)
                FROM shared s CROSS JOIN file f ON f.image_prefix = s.image_prefix
                WHERE f.silo_id IN (\(ids)) AND f.image_sha256 IS NULL
                ORDER BY f.sha256, f.id
                """)
        }
        return rows.map { r in
            ImageHashCandidate(fileID: r[0], siloID: r[1],
                               path: RelativePath(bytes: SQLiteCatalogue.bytes(r[2])).appending(SQLiteCatalogue.bytes(r[3])),
                               size: r[4], mtimeNs: r[5], format: MediaFormat(rawValue: r[6] ?? "") ?? .other,
                               sha256: (r[7] as String?).flatMap(SHA256Digest.init(hex:)),
                               imagePrefix: (r[8] as String?).flatMap(SHA256Digest.init(hex:)))
        }
    }

    public func setImageHashes(_ hashes: [(fileID: Int64, digest: SHA256Digest)]) throws {
        guard !hashes.isEmpty else { return }
        try wrap("record image hashes") {
            try pool.write { db in
                let update = try db.cachedStatement(sql: "UPDATE file SET image_sha256 = ? WHERE id = ?")
                for h in hashes { try update.execute(arguments: [h.digest.hex, h.fileID]) }
            }
        }
    }
}
