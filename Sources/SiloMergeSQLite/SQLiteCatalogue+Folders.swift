import Foundation
import SiloMergeCore
import GRDB

extension SQLiteCatalogue {
    /// One ordered pass over `file` by (silo, folder): the unique index on (silo_id, dir, name)
    /// gives the order, so a folder's files come together and only one folder is held at a time.
    public func forEachFolderContents(siloIDs: [Int64], _ body: (FolderContents) throws -> Void) throws {
        try wrap("list the files of each folder") {
            try pool.read { db in
                let scope = siloIDs.isEmpty ? "" : "WHERE silo_id IN (\(siloIDs.map(String.init).joined(separator: ",")))"
                let s = RawStatement(try db.makeStatement(sql: """
                    SELECT silo_id, dir, size, sha256 FROM file \(scope) ORDER BY silo_id, dir
                    """), db)
                defer { s.reset() }
                var current: FolderContents?
                while try s.step("read the files of each folder") {
                    let silo = s.int64(0)
                    let dir = s.bytes(1)
                    if let c = current, c.siloID != silo || c.dir.bytes != dir {
                        try body(c)
                        current = nil
                    }
                    if current == nil { current = FolderContents(siloID: silo, dir: RelativePath(bytes: dir), files: []) }
                    current!.files.append(FolderContents.File(sha256: s.digest(3), size: s.int64(2)))
                }
                if let c = current { try body(c) }
            }
        }
    }
}
