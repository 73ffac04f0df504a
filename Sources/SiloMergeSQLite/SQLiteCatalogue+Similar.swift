import Foundation
import SiloMergeCore
import GRDB

// MARK: - SimilarImageSource

extension SQLiteCatalogue {
    /// How many fields file `f` has values for: its rows' fields, and its header facts' (see
    /// `HeaderFacts`) that no row gives.
    static let fieldCountWithHeaderFacts: String = {
        let facts = """
            f.metadata_read > 0 AND f.format IS NOT NULL
            AND (f.format <> 'other' OR EXISTS (SELECT 1 FROM metadata o WHERE o.file_id = f.id AND o.source IS NULL))
            """
        let dimensions = "f.dimensions_group IS NOT NULL AND f.width IS NOT NULL AND f.height IS NOT NULL"
        func absent(_ field: String) -> String { "NOT EXISTS (SELECT 1 FROM metadata m WHERE m.file_id = f.id AND m.field = '\(field)')" }
        return """
            ((SELECT count(DISTINCT m.field) FROM metadata m WHERE m.file_id = f.id)
             + CASE WHEN \(facts) AND \(absent("format")) THEN 1 ELSE 0 END
             + CASE WHEN \(facts) AND \(dimensions) AND \(absent("width")) THEN 1 ELSE 0 END
             + CASE WHEN \(facts) AND \(dimensions) AND \(absent("height")) THEN 1 ELSE 0 END)
            """
    }()

    public func similarImageFiles(siloIDs: [Int64]?) throws -> [SimilarImageFile] {
        if let siloIDs, siloIDs.isEmpty { return [] }
        return try wrap("read the perceptual hashes of images") {
            try pool.read { db in
                // A catalogue opened read-only from before v14-phash has no perceptual hashes.
                guard try db.tableExists("image_phash") else { return [] }
                let headerFactsInColumns = try Self.headerFactsInColumns(db)
                let filter = siloIDs.map { "AND f.silo_id IN (\($0.map(String.init).joined(separator: ",")))" } ?? ""
                let rows = try Row.fetchAll(db, sql: """
                    SELECT f.id, f.silo_id, CAST(f.dir AS BLOB), CAST(f.name AS BLOB), f.size, f.sha256,
                           p.phash, p.width, p.height, p.decoder,
                           \(headerFactsInColumns ? Self.fieldCountWithHeaderFacts : "(SELECT count(DISTINCT m.field) FROM metadata m WHERE m.file_id = f.id)"),
                           (SELECT m.value FROM metadata m WHERE m.file_id = f.id AND m.field = 'date_created'
                            ORDER BY m.source IS NOT NULL, m.preferred DESC LIMIT 1)
                    FROM file f JOIN image_phash p ON p.sha256 = f.sha256
                    WHERE p.phash IS NOT NULL \(filter)
                    ORDER BY f.silo_id, f.dir, f.name
                    """)
                return rows.compactMap { r -> SimilarImageFile? in
                    guard let sha = (r[5] as String?).flatMap(SHA256Digest.init(hex:)) else { return nil }
                    let bits: Int64 = r[6]
                    return SimilarImageFile(
                        fileID: r[0], siloID: r[1],
                        path: RelativePath(bytes: SQLiteCatalogue.bytes(r[2])).appending(SQLiteCatalogue.bytes(r[3])),
                        size: r[4], sha256: sha,
                        fingerprint: ImageFingerprint(hash: PerceptualHash(bits: UInt64(bitPattern: bits)), width: r[7],
                                                      height: r[8], decoder: r[9] ?? "image"),
                        metadataFields: r[10], dateCreated: r[11])
                }
            }
        }
    }
}
