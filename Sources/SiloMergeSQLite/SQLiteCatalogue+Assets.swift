import Foundation
import SiloMergeCore
import GRDB

extension SQLiteCatalogue {
    public func setting(_ key: String) throws -> String? {
        try wrap("read a setting") { try pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = ?", arguments: [key]) } }
    }

    public func setSetting(_ key: String, _ value: String?) throws {
        try wrap("store a setting") {
            try pool.write { db in
                if let value {
                    try db.execute(sql: "INSERT INTO setting (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                                   arguments: [key, value])
                } else {
                    try db.execute(sql: "DELETE FROM setting WHERE key = ?", arguments: [key])
                }
            }
        }
    }

    public func leastRecentlyVerified(siloIDs: [Int64], fraction: Double) throws -> [Int64: SHA256Digest] {
        guard fraction > 0, !siloIDs.isEmpty else { return [:] }
        let ids = siloIDs.map(String.init).joined(separator: ",")
        return try wrap("choose files to verify") {
            try pool.read { db in
                let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM file WHERE silo_id IN (\(ids)) AND sha256 IS NOT NULL AND size > 0") ?? 0
                let limit = Int((Double(total) * min(1, fraction)).rounded(.up))
                var out: [Int64: SHA256Digest] = [:]
                for row in try Row.fetchAll(db, sql: """
                    SELECT id, sha256 FROM file WHERE silo_id IN (\(ids)) AND sha256 IS NOT NULL AND size > 0
                    ORDER BY hashed_at, id LIMIT ?
                    """, arguments: [limit]) {
                    if let sha = SHA256Digest(hex: row[1]) { out[row[0]] = sha }
                }
                return out
            }
        }
    }

    public func formatTotals() throws -> [(format: String, files: Int, bytes: Int64)] {
        try wrap("count formats") {
            try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT coalesce(format, 'unknown'), count(*), coalesce(sum(size), 0) FROM file GROUP BY 1 ORDER BY 3 DESC, 1
                    """).map { ($0[0], $0[1], $0[2]) }
            }
        }
    }

    public func contents(withPrefix prefix: String, limit: Int) throws -> [SHA256Digest] {
        let clean = prefix.lowercased().filter(\.isHexDigit)
        return try wrap("look up a content") {
            try pool.read { db in
                try String.fetchAll(db, sql: """
                    SELECT DISTINCT sha256 FROM file WHERE sha256 >= ? AND sha256 < ? ORDER BY sha256 LIMIT ?
                    """, arguments: [clean, clean + "g", limit]).compactMap { SHA256Digest(hex: $0) }
            }
        }
    }

    /// Streams every distinct content (hashed; the empty content is one content too) with its
    /// copies and their values, in SHA-256 order.
    func forEachAssetSources(_ db: Database, silos: [Silo], _ body: (AssetSources) throws -> Void) throws {
        let byID = Dictionary(uniqueKeysWithValues: silos.map { ($0.id, $0) })
        let headerFactsInColumns = try Self.headerFactsInColumns(db)
        let files = RawStatement(try db.makeStatement(sql: """
            SELECT id, sha256, size, mtime_ns, uid, gid, dev, ino, silo_id, dir, name, format, width, height, image_sha256,
                   metadata_read, \(headerFactsInColumns ? "dimensions_group" : "NULL")
            FROM file WHERE sha256 IS NOT NULL
            ORDER BY sha256
            """), db)
        defer { files.reset() }
        let values = RawStatement(try db.makeStatement(sql: """
            SELECT field, origin, tag, value, raw, source, source_mtime_ns, preferred FROM metadata WHERE file_id = ?1 ORDER BY rowid
            """), db)
        var current: AssetSources?
        func flush() throws {
            guard var c = current else { return }
            c.copies.sort { ($0.copy.siloPriority, $0.copy.silo, $0.copy.path) < ($1.copy.siloPriority, $1.copy.silo, $1.copy.path) }
            try body(c)
            current = nil
        }
        while try files.step("read the catalogue's contents") {
            guard let sha = files.digest(1), let silo = byID[files.int64(8)] else { continue }
            if current?.sha256 != sha {
                try flush()
                let format = files.isNull(11) ? MediaFormat.other : (MediaFormat(rawValue: String(decoding: files.bytes(11), as: UTF8.self)) ?? .other)
                current = AssetSources(sha256: sha, size: files.int64(2), format: format,
                                       width: files.isNull(12) ? nil : Int(files.int64(12)),
                                       height: files.isNull(13) ? nil : Int(files.int64(13)),
                                       imageSHA256: files.digest(14), copies: [])
            }
            let path = RelativePath(bytes: files.bytes(9)).appending(files.bytes(10))
            let copy = AssetCopy(silo: silo.name, siloPriority: silo.priority, path: path, size: files.int64(2),
                                 mtimeNs: files.int64(3), uid: UInt32(truncatingIfNeeded: files.int64(4)),
                                 gid: UInt32(truncatingIfNeeded: files.int64(5)),
                                 device: UInt64(bitPattern: files.int64(6)), inode: UInt64(bitPattern: files.int64(7)),
                                 absolutePath: silo.root.appending(path), host: silo.host?.id)
            var stored: [StoredValue] = []
            values.bind(1, files.int64(0))
            while try values.step("read a file's metadata") {
                guard let field = UnifiedField(rawValue: String(decoding: values.bytes(0), as: UTF8.self)),
                      let origin = MetadataOrigin(rawValue: String(decoding: values.bytes(1), as: UTF8.self)),
                      let value = FieldValue.fromJSON(String(decoding: values.bytes(3), as: UTF8.self), field: field) else { continue }
                stored.append(StoredValue(field: field, origin: origin, tag: String(decoding: values.bytes(2), as: UTF8.self),
                                          value: value, raw: String(decoding: values.bytes(4), as: UTF8.self),
                                          source: values.isNull(5) ? nil : String(decoding: values.bytes(5), as: UTF8.self),
                                          timeNs: values.isNull(6) ? nil : values.int64(6), preferred: values.int64(7) != 0))
            }
            values.reset()
            if headerFactsInColumns {
                let facts = HeaderFacts.values(
                    metadataRead: files.int64(15) > 0,
                    format: files.isNull(11) ? nil : MediaFormat(rawValue: String(decoding: files.bytes(11), as: UTF8.self)),
                    width: files.isNull(12) ? nil : Int(files.int64(12)), height: files.isNull(13) ? nil : Int(files.int64(13)),
                    group: files.isNull(16) ? nil : String(decoding: files.bytes(16), as: UTF8.self),
                    mtimeNs: files.int64(3), hasOwnValues: stored.contains { $0.source == nil })
                HeaderFacts.insert(facts, into: &stored)
            }
            current!.copies.append(AssetSources.Copy(copy: copy, values: stored))
        }
        try flush()
    }

    /// Reconciles and stores the unified catalogue in one write transaction that runs nothing of
    /// the caller's but `transform`, commits, and only then hands the records to `each`, from a
    /// snapshot taken at the commit: a command streaming them to a slow pipe or a full disk
    /// holds no lock a scan or another command needs, and still sees exactly what it stored.
    ///
    /// The records handed over are made again by `transform` from that snapshot's sources (the
    /// same sources, so the same records), not read back from `asset_field`: that column keeps
    /// coordinates to 7 decimals and dates as plain strings, and the outputs must not change
    /// by a digit. It costs a second pass of reconciling; memory stays one content at a time.
    public func rebuildAssets(runID: Int64, transform: (AssetSources) throws -> ReconciledAsset,
                              each: (ReconciledAsset) throws -> Void) throws -> (assets: Int, conflicts: Int, unhashed: Int) {
        try wrap("reconcile the catalogue") {
            // Each record is reconciled once, stored, and spooled to an unnamed temporary file;
            // the command gets them from the spool after the commit, so a slow reader (a
            // pipe nobody reads) never holds the catalogue's writer, and nothing is reconciled
            // twice (reading asset_field back would round coordinates and lose date kinds).
            let spool = try RecordSpool<ReconciledAsset>()
            let counts = try pool.write { db in
                try storeAssets(db, runID: runID) { sources in
                    let record = try transform(sources)
                    try spool.append(record)
                    return record
                }
            }
            try spool.forEach(each)
            return counts
        }
    }

    public func reconcileAssets(transform: (AssetSources) throws -> ReconciledAsset,
                                each: (ReconciledAsset) throws -> Void) throws -> (assets: Int, conflicts: Int, unhashed: Int) {
        try wrap("reconcile the catalogue") {
            try pool.read { db in
                var assets = 0, conflicts = 0
                try forEachAssetSources(db, silos: try Self.fetchSilos(db)) { sources in
                    let reconciled = try transform(sources)
                    assets += 1
                    conflicts += reconciled.fields.filter { $0.status == .conflict }.count
                    try each(reconciled)
                }
                let unhashed = try Int.fetchOne(db, sql: "SELECT count(*) FROM file WHERE sha256 IS NULL") ?? 0
                return (assets, conflicts, unhashed)
            }
        }
    }

    /// Replaces `asset` and `asset_field` with the records `transform` makes (inside the
    /// caller's write transaction).
    private func storeAssets(_ db: Database, runID: Int64,
                             transform: (AssetSources) throws -> ReconciledAsset) throws -> (assets: Int, conflicts: Int, unhashed: Int) {
        let silos = try Self.fetchSilos(db)
        try db.execute(sql: "DELETE FROM asset_field; DELETE FROM asset;")
        let asset = RawStatement(try db.cachedStatement(sql: """
            INSERT INTO asset (sha256, size, format, width, height, image_sha256, copies, conflicts, reconciled_run)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
            """), db)
        let field = RawStatement(try db.cachedStatement(sql: """
            INSERT INTO asset_field (sha256, field, value, status, rule, sources) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            """), db)
        let encoder = JSONEncoder.sorted
        var assets = 0, conflicts = 0
        try forEachAssetSources(db, silos: silos) { sources in
            let reconciled = try transform(sources)
            let n = reconciled.fields.filter { $0.status == .conflict }.count
            asset.bind(1, reconciled.sha256); asset.bind(2, reconciled.size); asset.bind(3, text: reconciled.format.rawValue)
            if let w = reconciled.width { asset.bind(4, w) } else { asset.bindNull(4) }
            if let h = reconciled.height { asset.bind(5, h) } else { asset.bindNull(5) }
            asset.bind(6, reconciled.imageSHA256); asset.bind(7, reconciled.physicalCopies); asset.bind(8, n)
            asset.bind(9, runID)
            try asset.run("record an asset")
            for f in reconciled.fields {
                field.bind(1, reconciled.sha256); field.bind(2, text: f.field.rawValue); field.bind(3, text: f.value?.json)
                field.bind(4, text: f.status.rawValue); field.bind(5, text: f.rule.description)
                field.bind(6, text: String(decoding: try encoder.encode(f.sources), as: UTF8.self))
                try field.run("record an asset's field")
            }
            assets += 1
            conflicts += n
        }
        let unhashed = try Int.fetchOne(db, sql: "SELECT count(*) FROM file WHERE sha256 IS NULL") ?? 0
        return (assets, conflicts, unhashed)
    }

    public func sameImageGroups(silos names: [String], minimumSize: Int64) throws -> [SameImageGroup] {
        try wrap("find images saved with different metadata") {
            try pool.read { db in
                let silos = try Self.fetchSilos(db).filter { names.isEmpty || names.contains($0.name) }
                let ids = silos.isEmpty ? "NULL" : silos.map { String($0.id) }.joined(separator: ",")
                let byID = Dictionary(uniqueKeysWithValues: silos.map { ($0.id, $0) })
                let headerFactsInColumns = try Self.headerFactsInColumns(db)
                let rows = try Row.fetchAll(db, sql: """
                    SELECT f.id, f.image_sha256, f.sha256, f.size, f.format, f.silo_id, CAST(f.dir AS BLOB), CAST(f.name AS BLOB),
                           f.metadata_read, f.width, f.height, \(headerFactsInColumns ? "f.dimensions_group" : "NULL"), f.mtime_ns
                    FROM file f
                    WHERE f.silo_id IN (\(ids)) AND f.size >= ?1 AND f.image_sha256 IN (
                        SELECT image_sha256 FROM file WHERE image_sha256 IS NOT NULL AND silo_id IN (\(ids)) AND size >= ?1
                        GROUP BY image_sha256 HAVING count(DISTINCT coalesce(sha256, size || ':' || id)) > 1)
                    ORDER BY f.image_sha256, f.sha256
                    """, arguments: [minimumSize])
                var groups: [SameImageGroup] = []
                var values: [Int64: [UnifiedField: String]] = [:]
                for row in rows {
                    let id: Int64 = row[0]
                    var map: [UnifiedField: String] = [:]
                    // The header facts first, as their rows were (a picture's format is known).
                    if headerFactsInColumns {
                        for v in HeaderFacts.values(metadataRead: (row[8] as Int64? ?? 0) > 0, format: (row[4] as String?).flatMap(MediaFormat.init(rawValue:)),
                                                    width: row[9], height: row[10], group: row[11], mtimeNs: row[12], hasOwnValues: false) {
                            map[v.field] = v.value.comparisonKey
                        }
                    }
                    for v in try Row.fetchAll(db, sql: """
                        SELECT field, value FROM metadata WHERE file_id = ? AND preferred = 1 ORDER BY rowid
                        """, arguments: [id]) {
                        guard let f = UnifiedField(rawValue: v[0]), map[f] == nil,
                              let value = FieldValue.fromJSON(v[1], field: f) else { continue }
                        map[f] = value.comparisonKey
                    }
                    values[id] = map
                }
                var i = 0
                while i < rows.count {
                    let image: String = rows[i][1]
                    var members: [(Int64, SameImageGroup.Member)] = []
                    while i < rows.count, rows[i][1] as String == image {
                        let r = rows[i]
                        if let silo = byID[r[5]] {
                            let sha = (r[2] as String?).flatMap { SHA256Digest(hex: $0) }
                            let path = RelativePath(bytes: SQLiteCatalogue.bytes(r[6])).appending(SQLiteCatalogue.bytes(r[7]))
                            members.append((r[0], SameImageGroup.Member(silo: silo.name, siloPriority: silo.priority, path: path,
                                                                        sha256: sha, size: r[3])))
                        }
                        i += 1
                    }
                    // Copies of one content are one file here; files of unique size have no hash (--hash dupes).
                    guard let imageSHA = SHA256Digest(hex: image),
                          Set(members.map { $0.1.sha256?.hex ?? "\($0.0)" }).count > 1 else { continue }
                    var differ: [UnifiedField] = []
                    for f in UnifiedField.allCases {
                        let seen = Set(members.map { values[$0.0]?[f] ?? "" })
                        if seen.count > 1 { differ.append(f) }
                    }
                    let format = MediaFormat(rawValue: rows[i - 1][4] ?? "") ?? .other
                    groups.append(SameImageGroup(imageSHA256: imageSHA, format: format,
                        files: members.map(\.1).sorted { ($0.siloPriority, $0.silo, $0.path) < ($1.siloPriority, $1.silo, $1.path) },
                        fieldsThatDiffer: differ))
                }
                return groups.sorted { ($0.files.count, $0.files.first?.size ?? 0) > ($1.files.count, $1.files.first?.size ?? 0) }
            }
        }
    }
}

// MARK: - What a plan accounts for besides the unified catalogue

extension SQLiteCatalogue {
    public func sidecarFiles() throws -> [SidecarFileRecord] {
        try wrap("read the sidecars") {
            try pool.read { db in
                let names = Dictionary(uniqueKeysWithValues: try Self.fetchSilos(db).map { ($0.id, $0.name) })
                return try Row.fetchAll(db, sql: """
                    SELECT sc.silo_id, CAST(sc.dir AS BLOB), CAST(sc.name AS BLOB), CAST(f.name AS BLOB), sc.size, sc.mtime_ns,
                           sc.dev, sc.ino, sc.sha256, sc.form, sc.used
                    FROM sidecar sc JOIN file f ON f.id = sc.file_id
                    ORDER BY sc.silo_id, sc.dir, sc.name, f.name
                    """).compactMap { r -> SidecarFileRecord? in
                    guard let silo = names[r[0]] else { return nil }
                    let dir = RelativePath(bytes: Self.bytes(r[1]))
                    return SidecarFileRecord(silo: silo, path: dir.appending(Self.bytes(r[2])), assetPath: dir.appending(Self.bytes(r[3])),
                                             size: r[4], mtimeNs: r[5], device: UInt64(bitPattern: r[6]), inode: UInt64(bitPattern: r[7]),
                                             sha256: (r[8] as String?).flatMap(SHA256Digest.init(hex:)),
                                             form: SidecarForm(rawValue: r[9]) ?? .name, used: (r[10] as Int) != 0)
                }
            }
        }
    }

    public func unhashedFiles() throws -> [UnhashedFileRecord] {
        try wrap("read the files without a hash") {
            try pool.read { db in
                let names = Dictionary(uniqueKeysWithValues: try Self.fetchSilos(db).map { ($0.id, $0.name) })
                let rows = try Row.fetchAll(db, sql: """
                    SELECT silo_id, CAST(dir AS BLOB), CAST(name AS BLOB), size FROM file WHERE sha256 IS NULL ORDER BY silo_id, dir, name
                    """)
                guard !rows.isEmpty else { return [] }
                // The last problem reported reading each (one pass over those diagnostics).
                var problems: [[UInt8]: String] = [:]
                for d in try Row.fetchAll(db, sql: """
                    SELECT silo, CAST(path AS BLOB), message FROM diagnostic
                    WHERE code IN ('unreadable', 'changed-while-reading', 'vanished') AND path IS NOT NULL ORDER BY id
                    """) {
                    problems[((d[0] as String?) ?? "").exactBytes + [0] + Self.bytes(d[1])] = d[2]
                }
                return rows.compactMap { r -> UnhashedFileRecord? in
                    guard let silo = names[r[0]] else { return nil }
                    let path = RelativePath(bytes: Self.bytes(r[1])).appending(Self.bytes(r[2]))
                    return UnhashedFileRecord(silo: silo, path: path, size: r[3], problem: problems[silo.exactBytes + [0] + path.bytes])
                }
            }
        }
    }

    public func uncatalogued() throws -> [UncataloguedRecord] {
        try wrap("read what the scans passed over") {
            try pool.read { db in
                let names = Dictionary(uniqueKeysWithValues: try Self.fetchSilos(db).map { ($0.id, $0.name) })
                return try Row.fetchAll(db, sql: """
                    SELECT silo_id, CAST(dir AS BLOB), CAST(name AS BLOB), kind, reason, detail, size FROM uncatalogued
                    ORDER BY silo_id, dir, name
                    """).compactMap { r -> UncataloguedRecord? in
                    guard let silo = names[r[0]] else { return nil }
                    return UncataloguedRecord(silo: silo, path: RelativePath(bytes: Self.bytes(r[1])).appending(Self.bytes(r[2])),
                                              kind: FileKind(rawValue: r[3]) ?? .unknown,
                                              reason: UncataloguedReason(rawValue: r[4]) ?? .excluded, detail: r[5], size: r[6])
                }
            }
        }
    }
}
