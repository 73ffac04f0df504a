import Foundation
import SiloMergeCore
import GRDB

extension SQLiteCatalogue {
    private struct ChangeRow {
        var id: Int64
        var kind: String
        var silo: String
        var path: RelativePath
        var old: Finding.State
        var oldInode: FileID?
        var new: Finding.State
        var currentInode: FileID?
        var detail: String?
    }

    private struct NewFile {
        var id: Int64
        var silo: String
        var path: RelativePath
        var state: Finding.State
        var inode: FileID
    }

    public func findings(runID: Int64) throws -> [Finding] {
        try wrap("compare with the last scan") {
            try pool.read { db in try Self.rawFindings(db, runID: runID, scope: .all) }
        }
    }

    /// What a run found, from its changes and its new files, before open findings are taken
    /// into account (see `settleFindings`).
    static func rawFindings(_ db: Database, runID: Int64, scope: FindingScope) throws -> [Finding] {
        func fileID(_ row: Row, _ dev: Int, _ ino: Int) -> FileID? {
            guard let d: Int64 = row[dev], let i: Int64 = row[ino] else { return nil }
            return FileID(device: UInt64(bitPattern: d), inode: UInt64(bitPattern: i))
        }
        let changes = try Row.fetchAll(db, sql: """
            SELECT c.kind, s.name, CAST(c.dir AS BLOB), CAST(c.name AS BLOB), c.old_size, c.old_mtime_ns, c.old_dev, c.old_ino,
                   c.old_sha256, c.new_size, c.new_mtime_ns, c.new_sha256, c.detail, f.dev, f.ino, c.id
            FROM change c JOIN silo s ON s.id = c.silo_id LEFT JOIN file f ON f.id = c.file_id
            WHERE c.run_id = ? ORDER BY c.id
            """, arguments: [runID]).map { r in
            ChangeRow(id: r[15], kind: r[0], silo: r[1],
                      path: RelativePath(bytes: SQLiteCatalogue.bytes(r[2])).appending(SQLiteCatalogue.bytes(r[3])),
                      old: Finding.State(size: r[4], mtimeNs: r[5], sha256: (r[8] as String?).flatMap { SHA256Digest(hex: $0) }),
                      oldInode: fileID(r, 6, 7),
                      new: Finding.State(size: r[9], mtimeNs: r[10], sha256: (r[11] as String?).flatMap { SHA256Digest(hex: $0) }),
                      currentInode: fileID(r, 13, 14), detail: r[12])
        }
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
        let skipNew = try scope == .alerts && !(Bool.fetchOne(db, sql: """
            SELECT EXISTS (SELECT 1 FROM change WHERE run_id = ? AND kind = 'missing')
                OR EXISTS (SELECT 1 FROM open_finding WHERE closed_at IS NULL)
            """, arguments: [runID]) ?? true)
        let newFiles = skipNew ? [] : try Row.fetchAll(db, sql: """
            SELECT s.name, CAST(f.dir AS BLOB), CAST(f.name AS BLOB), f.size, f.mtime_ns, f.sha256, f.dev, f.ino, f.id
            FROM file f JOIN silo s ON s.id = f.silo_id WHERE f.first_seen_run = ?1 \(alertsOnly)
            ORDER BY s.priority, s.name, f.dir, f.name
            """, arguments: [runID]).map { r in
            NewFile(id: r[8], silo: r[0], path: RelativePath(bytes: SQLiteCatalogue.bytes(r[1])).appending(SQLiteCatalogue.bytes(r[2])),
                    state: Finding.State(size: r[3], mtimeNs: r[4], sha256: (r[5] as String?).flatMap { SHA256Digest(hex: $0) }),
                    inode: fileID(r, 6, 7)!)
        }

        // What reviewed plans did: files an apply moved, removed or quarantined are `merged`,
        // not missing (and not moves to pair); files an undo put back are simply present again;
        // sidecars left behind when their file was taken are files of their own, as planned.
        let merges = try mergeNotes(db, runID: runID)
        var out: [Finding] = []
        // Moves: a vanished file whose content turned up at a new path (same name first).
        // New files are indexed by content, so a night of many moves stays linear.
        var newBySHA: [SHA256Digest: [Int]] = [:]
        for (i, n) in newFiles.enumerated() where !merges.back.contains(n.id) {
            if let sha = n.state.sha256 { newBySHA[sha, default: []].append(i) }
        }
        var matchedNew = Set<Int>()
        var movedFrom = Set<Int>()
        for (ci, c) in changes.enumerated() where c.kind == ChangeKind.missing.rawValue && merges.gone[c.id] == nil {
            guard let sha = c.old.sha256, sha != .empty, let indices = newBySHA[sha] else { continue }
            let candidates = indices.filter { !matchedNew.contains($0) }
            guard let pick = candidates.first(where: { newFiles[$0].path.lastComponent.elementsEqual(c.path.lastComponent) }) ?? candidates.first
            else { continue }
            matchedNew.insert(pick)
            movedFrom.insert(ci)
            let n = newFiles[pick]
            out.append(Finding(kind: .moved, silo: n.silo, path: n.path, oldSilo: c.silo, oldPath: c.path, old: c.old, new: n.state,
                               detail: c.silo == n.silo ? nil : "moved across silos"))
        }
        for i in newFiles.indices where !matchedNew.contains(i) && !merges.back.contains(newFiles[i].id) {
            if let detail = merges.left[newFiles[i].id] {
                out.append(Finding(kind: .merged, silo: newFiles[i].silo, path: newFiles[i].path, new: newFiles[i].state, detail: detail))
            } else {
                out.append(Finding(kind: .new, silo: newFiles[i].silo, path: newFiles[i].path, new: newFiles[i].state))
            }
        }
        for (ci, c) in changes.enumerated() {
            if let detail = merges.gone[c.id] {
                out.append(Finding(kind: .merged, silo: c.silo, path: c.path, old: c.old, detail: detail))
                continue
            }
            switch c.kind {
            case ChangeKind.missing.rawValue where !movedFrom.contains(ci):
                out.append(Finding(kind: .missing, silo: c.silo, path: c.path, old: c.old))
            case ChangeKind.changed.rawValue where c.old.sha256 != nil && c.new.sha256 != nil && c.old.sha256 != c.new.sha256
                                                    && c.old.size == c.new.size && c.old.mtimeNs == c.new.mtimeNs:
                // Only the ctime (or inode) moved: the content changed behind the same size and mtime.
                out.append(Finding(kind: .corrupted, silo: c.silo, path: c.path, old: c.old, new: c.new,
                                   detail: "content changed, size and mtime did not"))
            case ChangeKind.changed.rawValue where c.old.sha256 != c.new.sha256 || c.new.sha256 == nil:
                out.append(Finding(kind: .modified, silo: c.silo, path: c.path, old: c.old, new: c.new,
                                   detail: c.new.sha256 == nil ? "not read: see the warnings" : nil))
            case ChangeKind.content.rawValue:
                out.append(Finding(kind: .corrupted, silo: c.silo, path: c.path, old: c.old, new: c.new,
                                   detail: "content changed, size and mtime did not"))
            case "metadata":
                out.append(Finding(kind: .metadataDrift, silo: c.silo, path: c.path, old: c.old, new: c.new, detail: c.detail))
            default:
                break
            }
        }

        let order = Dictionary(uniqueKeysWithValues: Finding.Kind.allCases.enumerated().map { ($1, $0) })
        if scope == .alerts {
            return out.sorted { (order[$0.kind]!, $0.silo, $0.path) < (order[$1.kind]!, $1.silo, $1.path) }
        }
        // Copies per content before and after, for the contents this run touched: the
        // physical files (host, device, inode) that arrived and left, per content, gathered
        // in one pass.
        let silos = try fetchSilos(db)
        let hosts = HostOrdinals(silos)
        let siloIDs = Dictionary(silos.map { ($0.name, $0.id) }, uniquingKeysWith: { a, _ in a })
        func physical(_ silo: String, _ file: FileID) -> PhysicalFileID { hosts.physical(silo: siloIDs[silo] ?? -1, file) }
        var arrived: [SHA256Digest: [PhysicalFileID]] = [:]
        var left: [SHA256Digest: [PhysicalFileID]] = [:]
        var firstGone: [SHA256Digest: ChangeRow] = [:]
        var affected = Set<SHA256Digest>()
        for n in newFiles where !merges.back.contains(n.id) {
            guard let sha = n.state.sha256 else { continue }
            affected.insert(sha)
            arrived[sha, default: []].append(physical(n.silo, n.inode))
        }
        // Copies a plan took away (or an undo put back) are no news about duplicates: the plan
        // was reviewed, and said so.
        for c in changes where c.kind != "metadata" && merges.gone[c.id] == nil {
            if let sha = c.old.sha256 {
                affected.insert(sha)
                if firstGone[sha] == nil { firstGone[sha] = c }
                if c.kind == ChangeKind.missing.rawValue || c.kind == ChangeKind.changed.rawValue
                    || c.kind == ChangeKind.excluded.rawValue, let id = c.oldInode {
                    left[sha, default: []].append(physical(c.silo, id))
                }
            }
            if let sha = c.new.sha256 {
                affected.insert(sha)
                if c.kind == ChangeKind.changed.rawValue, let id = c.currentInode { arrived[sha, default: []].append(physical(c.silo, id)) }
            }
        }
        affected.remove(.empty)
        for sha in affected.sorted(by: { $0.hex < $1.hex }) {
            let rows = try Row.fetchAll(db, sql: """
                SELECT s.name, CAST(f.dir AS BLOB), CAST(f.name AS BLOB), f.dev, f.ino, f.first_seen_run
                FROM file f JOIN silo s ON s.id = f.silo_id WHERE f.sha256 = ? ORDER BY s.priority, s.name, f.dir, f.name
                """, arguments: [sha.hex])
            var after = Set<PhysicalFileID>()
            for r in rows { if let id = fileID(r, 3, 4) { after.insert(physical(r[0] as String, id)) } }
            var before = after.subtracting(arrived[sha] ?? [])
            before.formUnion(left[sha] ?? [])
            let state = Finding.State(size: nil, mtimeNs: nil, sha256: sha)
            if after.count > before.count && after.count >= 2 {
                let newest = rows.first { ($0[5] as Int64) == runID } ?? rows.first!
                out.append(Finding(kind: .newDuplicate, silo: newest[0],
                                   path: RelativePath(bytes: SQLiteCatalogue.bytes(newest[1])).appending(SQLiteCatalogue.bytes(newest[2])),
                                   new: state, detail: "\(Format.plural(after.count, "copy")) (was \(before.count))"))
            } else if before.count >= 2 && after.count < before.count {
                let gone = firstGone[sha]
                out.append(Finding(kind: .duplicateGone, silo: gone?.silo ?? "", path: gone?.path ?? .root, old: state,
                                   detail: "\(after.count) cop\(after.count == 1 ? "y" : "ies") (was \(before.count))"))
            }
        }
        return out.sorted { (order[$0.kind]!, $0.silo, $0.path) < (order[$1.kind]!, $1.silo, $1.path) }
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
