import Foundation
import SiloMergeCore
import GRDB

extension SQLiteCatalogue {
    private static func fileID(_ row: Row, _ dev: Int, _ ino: Int) -> FileID? {
        guard let d: Int64 = row[dev], let i: Int64 = row[ino] else { return nil }
        return FileID(device: UInt64(bitPattern: d), inode: UInt64(bitPattern: i))
    }

    private static func state(_ row: Row, _ size: Int, _ mtime: Int, _ sha: Int) -> Finding.State {
        Finding.State(size: row[size], mtimeNs: row[mtime], sha256: (row[sha] as String?).flatMap { SHA256Digest(hex: $0) })
    }

    public func forEachChange(runID: Int64, _ body: (FindingFold.Change) throws -> Void) throws {
        try wrap("read the run's changes") {
            try pool.read { db in
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT c.kind, s.name, CAST(c.dir AS BLOB), CAST(c.name AS BLOB), c.old_size, c.old_mtime_ns, c.old_dev, c.old_ino,
                           c.old_sha256, c.new_size, c.new_mtime_ns, c.new_sha256, c.detail, f.dev, f.ino, c.id, c.silo_id
                    FROM change c JOIN silo s ON s.id = c.silo_id LEFT JOIN file f ON f.id = c.file_id
                    WHERE c.run_id = ? ORDER BY c.id
                    """, arguments: [runID])
                while let r = try rows.next() {
                    guard let kind = FindingFold.Change.Kind(rawValue: r[0]) else { continue }
                    try body(FindingFold.Change(
                        id: r[15], kind: kind, siloID: r[16], silo: r[1],
                        path: RelativePath(bytes: SQLiteCatalogue.bytes(r[2])).appending(SQLiteCatalogue.bytes(r[3])),
                        old: Self.state(r, 4, 5, 8), oldInode: Self.fileID(r, 6, 7), new: Self.state(r, 9, 10, 11),
                        currentInode: Self.fileID(r, 13, 14), detail: r[12]))
                }
            }
        }
    }

    public func forEachNewFile(runID: Int64, scope: FindingScope, _ body: (FindingFold.NewFile) throws -> Void) throws {
        try wrap("read the run's new files") {
            try pool.read { db in
                // For alerts, only the new files that may pair with a vanished one (same content)
                // or close an open finding (same content, or same path): a first scan of a
                // million files does not load them all.
                let alertsOnly = scope == .alerts ? """
                    AND (f.sha256 IN (SELECT old_sha256 FROM change WHERE run_id = ?1 AND kind = 'missing' AND old_sha256 IS NOT NULL)
                         OR f.sha256 IN (SELECT verified_sha256 FROM open_finding WHERE closed_at IS NULL AND verified_sha256 IS NOT NULL)
                         OR EXISTS (SELECT 1 FROM open_finding o WHERE o.closed_at IS NULL AND o.silo_id = f.silo_id
                                    AND o.dir = f.dir AND o.name = f.name))
                    """ : ""
                // Nothing vanished this run and nothing is open: no new file can matter to alerts.
                if scope == .alerts, !(try Bool.fetchOne(db, sql: """
                    SELECT EXISTS (SELECT 1 FROM change WHERE run_id = ? AND kind = 'missing')
                        OR EXISTS (SELECT 1 FROM open_finding WHERE closed_at IS NULL)
                    """, arguments: [runID]) ?? true) {
                    return
                }
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT s.name, CAST(f.dir AS BLOB), CAST(f.name AS BLOB), f.size, f.mtime_ns, f.sha256, f.dev, f.ino, f.id, f.silo_id
                    FROM file f JOIN silo s ON s.id = f.silo_id WHERE f.first_seen_run = ?1 \(alertsOnly)
                    ORDER BY s.priority, s.name, f.dir, f.name
                    """, arguments: [runID])
                while let r = try rows.next() {
                    guard let inode = Self.fileID(r, 6, 7) else { continue }
                    try body(FindingFold.NewFile(
                        id: r[8], siloID: r[9], silo: r[0],
                        path: RelativePath(bytes: SQLiteCatalogue.bytes(r[1])).appending(SQLiteCatalogue.bytes(r[2])),
                        state: Self.state(r, 3, 4, 5), inode: inode))
                }
            }
        }
    }

    public func mergeNotes(runID: Int64) throws -> FindingFold.MergeNotes {
        try wrap("read the merge ledger") {
            try pool.read { db in try Self.mergeNotes(db, runID: runID) }
        }
    }

    public func forEachCopies(of contents: [SHA256Digest], _ body: (SHA256Digest, [FindingFold.Copy]) throws -> Void) throws {
        guard !contents.isEmpty else { return }
        try wrap("list the copies of a content") {
            try pool.read { db in
                let statement = try db.makeStatement(sql: """
                    SELECT s.name, CAST(f.dir AS BLOB), CAST(f.name AS BLOB), f.dev, f.ino, f.first_seen_run, f.silo_id
                    FROM file f JOIN silo s ON s.id = f.silo_id WHERE f.sha256 = ? ORDER BY s.priority, s.name, f.dir, f.name
                    """)
                for content in contents {
                    let copies = try Row.fetchAll(statement, arguments: [content.hex]).map { r in
                        FindingFold.Copy(siloID: r[6], silo: r[0],
                                         path: RelativePath(bytes: SQLiteCatalogue.bytes(r[1])).appending(SQLiteCatalogue.bytes(r[2])),
                                         inode: Self.fileID(r, 3, 4), firstSeenRun: r[5])
                    }
                    try body(content, copies)
                }
            }
        }
    }

    public func recordFindings(_ findings: [Finding], outcome: CheckOutcome, runID: Int64) throws {
        try wrap("record the check's findings") {
            try pool.write { db in
                let insert = try db.makeStatement(sql: """
                    INSERT INTO finding (run_id, kind, silo, path, old_silo, old_path, old_size, old_mtime_ns, old_sha256,
                                         new_size, new_mtime_ns, new_sha256, detail)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                for f in findings {
                    try insert.execute(arguments: [runID, f.kind.rawValue, f.silo, SQLiteCatalogue.textArgument(f.path.bytes),
                                                   f.oldSilo, f.oldPath.map { SQLiteCatalogue.textArgument($0.bytes) },
                                                   f.old?.size, f.old?.mtimeNs, f.old?.sha256?.hex,
                                                   f.new?.size, f.new?.mtimeNs, f.new?.sha256?.hex, f.detail])
                }
                try db.execute(sql: "UPDATE run SET outcome = ? WHERE id = ?", arguments: [outcome.rawValue, runID])
            }
        }
    }

    public func lastCheck() throws -> (run: RunRecord, outcome: CheckOutcome?, findings: [Finding])? {
        guard let run = try runs(limit: nil).first(where: { $0.kind == .check && $0.status != .running }) else { return nil }
        return try wrap("read the last check") {
            try pool.read { db in
                let outcome = try String.fetchOne(db, sql: "SELECT outcome FROM run WHERE id = ?", arguments: [run.id]).flatMap(CheckOutcome.init)
                let findings = try Row.fetchAll(db, sql: """
                    SELECT kind, silo, CAST(path AS BLOB), old_silo, CAST(old_path AS BLOB), old_size, old_mtime_ns, old_sha256,
                           new_size, new_mtime_ns, new_sha256, detail FROM finding WHERE run_id = ? ORDER BY id
                    """, arguments: [run.id]).compactMap { r -> Finding? in
                    guard let kind = Finding.Kind(rawValue: r[0]) else { return nil }
                    let oldPath: RelativePath? = (r[4] as Data?).map { RelativePath(bytes: [UInt8]($0)) }
                    return Finding(kind: kind, silo: r[1], path: RelativePath(bytes: SQLiteCatalogue.bytes(r[2])),
                                   oldSilo: r[3], oldPath: oldPath,
                                   old: Finding.State(size: r[5], mtimeNs: r[6], sha256: (r[7] as String?).flatMap { SHA256Digest(hex: $0) }),
                                   new: Finding.State(size: r[8], mtimeNs: r[9], sha256: (r[10] as String?).flatMap { SHA256Digest(hex: $0) }),
                                   detail: r[11])
                }
                return (run, outcome, findings)
            }
        }
    }
}
