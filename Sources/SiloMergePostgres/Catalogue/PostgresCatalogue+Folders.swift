import Foundation
import PostgresNIO
import SiloMergeCore

extension PostgresCatalogue {
    /// One cursor over `file` ordered by (silo, folder) in byte order (`dir` is `bytea`): a
    /// folder's files come together and the client holds one folder at a time.
    public func forEachFolderContents(siloIDs: [Int64], _ body: (FolderContents) throws -> Void) throws {
        try wrap("list the files of each folder") {
            try readSnapshot { tx in
                let ids = siloIDs.isEmpty ? try fetchSilos(writerOrReader: tx).map(\.id) : siloIDs
                let sql: PostgresQuery = """
                    SELECT silo_id, dir, size, sha256 FROM file WHERE silo_id = ANY(\(ids)) ORDER BY silo_id, dir
                    """
                var current: FolderContents?
                try tx.stream(sql) { row in
                    let (silo, dirBytes, size, sha) = try decode(row, (Int64, ByteBuffer, Int64, ByteBuffer?).self, sql.sql)
                    let dir = dirBytes.allBytes
                    if let c = current, c.siloID != silo || c.dir.bytes != dir {
                        try body(c)
                        current = nil
                    }
                    if current == nil { current = FolderContents(siloID: silo, dir: RelativePath(bytes: dir), files: []) }
                    current!.files.append(FolderContents.File(sha256: SHA256Digest(bytea: sha), size: size))
                }
                if let c = current { try body(c) }
            }
        }
    }
}
