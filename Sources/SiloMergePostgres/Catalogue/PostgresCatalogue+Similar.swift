import Foundation
import PostgresNIO
import SiloMergeCore

// MARK: - SimilarImageSource

extension PostgresCatalogue {
    public func similarImageFiles(siloIDs: [Int64]?) throws -> [SimilarImageFile] {
        if let siloIDs, siloIDs.isEmpty { return [] }
        return try wrap("read the perceptual hashes of images") {
            try readers.with { session in
                let all = siloIDs == nil
                let ids = siloIDs ?? []
                return try session.query("""
                    SELECT f.id, f.silo_id, f.dir, f.name, f.size, f.sha256, p.phash, p.width, p.height, p.decoder,
                           -- the fields of its rows, and of its header facts that no row gives (see HeaderFacts)
                           (SELECT count(DISTINCT m.field) FROM metadata m WHERE m.file_id = f.id)
                           + (CASE WHEN hf.present AND NOT EXISTS (SELECT 1 FROM metadata m WHERE m.file_id = f.id AND m.field = 'format')
                                   THEN 1 ELSE 0 END)
                           + (CASE WHEN hf.present AND hf.dimensions
                                        AND NOT EXISTS (SELECT 1 FROM metadata m WHERE m.file_id = f.id AND m.field = 'width')
                                   THEN 1 ELSE 0 END)
                           + (CASE WHEN hf.present AND hf.dimensions
                                        AND NOT EXISTS (SELECT 1 FROM metadata m WHERE m.file_id = f.id AND m.field = 'height')
                                   THEN 1 ELSE 0 END),
                           (SELECT m.value FROM metadata m WHERE m.file_id = f.id AND m.field = 'date_created'
                            ORDER BY m.source IS NOT NULL, m.preferred DESC LIMIT 1)
                    FROM file f JOIN image_phash p ON p.sha256 = f.sha256
                    CROSS JOIN LATERAL (SELECT
                        f.metadata_read > 0 AND f.format IS NOT NULL
                            AND (f.format <> 'other' OR EXISTS (SELECT 1 FROM metadata o WHERE o.file_id = f.id AND o.source IS NULL)) AS present,
                        f.dimensions_group IS NOT NULL AND f.width IS NOT NULL AND f.height IS NOT NULL AS dimensions) hf
                    WHERE p.phash IS NOT NULL AND (\(all) OR f.silo_id = ANY(\(ids)))
                    ORDER BY f.silo_id, f.dir, f.name
                    """, as: (Int64, Int64, ByteBuffer, ByteBuffer, Int64, ByteBuffer, Int64, Int64, Int64, String, Int64, String?).self).compactMap { r in
                    guard let sha = SHA256Digest(bytea: r.5) else { return nil }
                    return SimilarImageFile(
                        fileID: r.0, siloID: r.1, path: RelativePath(bytes: r.2.allBytes).appending(r.3.allBytes), size: r.4,
                        sha256: sha,
                        fingerprint: ImageFingerprint(hash: PerceptualHash(bits: UInt64(bitPattern: r.6)), width: Int(r.7),
                                                      height: Int(r.8), decoder: r.9),
                        metadataFields: Int(r.10), dateCreated: r.11)
                }
            }
        }
    }
}
