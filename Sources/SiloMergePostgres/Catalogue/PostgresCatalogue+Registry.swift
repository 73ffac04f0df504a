import Foundation
import PostgresNIO
import SiloMergeCore

// MARK: - ScanLocking
//
// Scans of different silos run at once, from any host; a scan of a silo, and anything that
// needs the whole catalogue, run one at a time. Three kinds of session-level advisory lock,
// each named in this catalogue (`lockKey`), held on a session of the lock's own, so that the
// server releases them when the process dies, however it dies:
// - `catalogue`: shared by every scan or check of some silos, exclusive for work on the whole
//   catalogue (an apply, an undo, `silos remove`, an `--accept`);
// - `silo:NAME`: exclusive, per silo scanned or checked;
// - `run:ID`: held by the writer session from `beginRun` to the run's end: a run still
//   `running` whose lock is free was killed, and is marked `interrupted`.

extension PostgresCatalogue {
    public func lockForScan() throws -> ScanLock { try takeLock(silos: nil, purpose: "scan") }
    public func lockForScan(purpose: String) throws -> ScanLock { try takeLock(silos: nil, purpose: purpose) }
    public func lockForScan(silos: [String], purpose: String) throws -> ScanLock { try takeLock(silos: silos, purpose: purpose) }

    /// True while any scan, check or apply holds the catalogue (shared or whole).
    public func isScanning() -> Bool {
        (try? writer.advisoryLockHolder(lockKey("catalogue"))) != nil
    }

    private func takeLock(silos: [String]?, purpose: String) throws -> ScanLock {
        let session: PostgresSession
        do { session = try PostgresSession.connect(settings, identity: identity) } catch {
            throw CatalogueError.cannotOpen(path: location.display, reason: error.message)
        }
        do {
            let whole = lockKey("catalogue")
            let taken = silos == nil
                ? try session.query("SELECT pg_try_advisory_lock(\(whole.key))", as: Bool.self).first == true
                : try session.query("SELECT pg_try_advisory_lock_shared(\(whole.key))", as: Bool.self).first == true
            if !taken {
                let holder = try session.advisoryLockHolder(whole)
                throw CatalogueError.locked(path: location.display, holder: silos == nil
                    ? "\(holder.map { "\($0)" } ?? "another session") holds it, and \(purpose) needs the whole catalogue"
                    : "\(holder.map { "\($0)" } ?? "another session") holds the whole catalogue")
            }
            for name in Set(silos ?? []).sorted() {
                let key = lockKey("silo:\(name)")
                if case .held(let holder) = try session.tryAdvisoryLock(key) {
                    throw CatalogueError.locked(path: location.display,
                        holder: "silo '\(name)' is being scanned by \(holder.map { "\($0)" } ?? "another session")")
                }
            }
            try markKilledRuns(from: session)
        } catch {
            session.close()
            if let error = error as? PostgresClientError {
                throw CatalogueError.failed(catalogue: location.display, operation: "lock the catalogue for \(purpose)", reason: error.message)
            }
            throw error
        }
        return ScanLock { session.close() }
    }

    /// Marks `interrupted` the runs still `running` whose run lock nobody holds: their process
    /// died (a run of this process holds its lock on the writer, another session than `probe`).
    private func markKilledRuns(from probe: PostgresSession) throws {
        let running = try writer.query("SELECT id FROM run WHERE status = 'running' ORDER BY id", as: Int64.self)
        for id in running {
            let key = lockKey("run:\(id)")
            guard try probe.query("SELECT pg_try_advisory_lock(\(key.key))", as: Bool.self).first == true else { continue }
            _ = try probe.advisoryUnlock(key)
            try writer.execute("""
                UPDATE run SET status = 'interrupted', finished_at = coalesce(finished_at, \(Timestamp.string(Date()))),
                    error_message = coalesce(error_message, 'the process running it ended without recording its end')
                WHERE id = \(id) AND status = 'running'
                """)
        }
    }
}

// MARK: - SiloRegistry

extension PostgresCatalogue {
    public func silos() throws -> [Silo] {
        try wrap("list silos") { try fetchSilos(writerOrReader: nil) }
    }

    static let siloColumns = """
        id, name, root, priority, includes, excludes, last_run_id, manifest, root_dev, root_ino,
        one_file_system, adopted_plan, host, host_name
        """

    func fetchSilos(writerOrReader transaction: PostgresTransaction?) throws -> [Silo] {
        // Names in byte order (COLLATE "C"), as SQLite orders them, whatever the database's locale.
        let sql: PostgresQuery = "SELECT \(unescaped: Self.siloColumns) FROM silo ORDER BY priority, name COLLATE \"C\""
        let rows = try transaction.map { try $0.query(sql) } ?? writer.query(sql)
        return try rows.map { row in
            let (id, name, root, priority, includes, excludes, lastRun, manifest, dev, ino, oneFS, adopted, host, hostName) =
                try row.decode((Int64, String, ByteBuffer, Int64, String, String, Int64?, String?, Int64?, Int64?,
                                Bool, String?, String?, String?).self)
            var silo = Silo(id: id, name: name, root: FilePath(bytes: root.allBytes), priority: Int(priority), lastRunID: lastRun)
            if let dev, let ino { silo.rootIdentity = FileID(device: UInt64(bitPattern: dev), inode: UInt64(bitPattern: ino)) }
            silo.oneFileSystem = oneFS
            silo.adoptedPlan = adopted
            if let host { silo.host = HostIdentity(id: host, name: hostName ?? host) }
            silo.includes = Self.decodeList(includes)
            silo.excludes = Self.decodeList(excludes)
            if let manifest {
                // A mapping that cannot be read is said, never dropped (the manifest would
                // silently stop being read).
                do { silo.manifest = try JSONDecoder().decode(ManifestDefinition.self, from: Data(manifest.utf8)) } catch {
                    throw CatalogueError.failed(catalogue: "silo \(silo.name)", operation: "read its manifest mapping",
                                                reason: "\(error); scan it again with --config to store it anew")
                }
            }
            return silo
        }
    }

    static func decodeList(_ json: String?) -> [String] {
        guard let json, let list = try? JSONDecoder().decode([String].self, from: Data(json.utf8)) else { return [] }
        return list
    }

    static func encodeList(_ list: [String]) -> String {
        (try? String(decoding: JSONEncoder().encode(list), as: UTF8.self)) ?? "[]"
    }

    public func registerSilos(_ definitions: [SiloDefinition]) throws -> [Silo] {
        try wrap("register silos") {
            try writer.withTransaction { tx in
                // Two scanners registering at once: one after the other.
                try tx.execute("SELECT pg_advisory_xact_lock(\(lockKey("register").key))")
                // A catalogue from before hosts held one host's files: the first host to scan
                // into it claims every silo not yet claimed.
                if let host = definitions.lazy.compactMap(\.host).first {
                    try tx.execute("UPDATE silo SET host = \(host.id), host_name = \(host.name) WHERE host IS NULL")
                }
                let existing = try fetchSilos(writerOrReader: tx)
                for def in definitions {
                    // One folder, two names: refused on one host (folders of one path on two hosts
                    // are two folders; a definition without a host may be either).
                    if let other = existing.first(where: { $0.root == def.root && $0.name != def.name
                                                           && ($0.host == nil || def.host == nil || $0.host?.id == def.host?.id) }),
                       !definitions.contains(where: { $0.name == other.name }) {
                        throw CatalogueError.siloRootTaken(root: def.root.display, existing: other.name, requested: def.name)
                    }
                    let manifest = def.manifest.flatMap { try? String(decoding: JSONEncoder.sorted.encode($0), as: UTF8.self) }
                    let dev = def.rootIdentity.map { Int64(bitPattern: $0.device) }
                    let ino = def.rootIdentity.map { Int64(bitPattern: $0.inode) }
                    try tx.execute("""
                        INSERT INTO silo (name, root, priority, includes, excludes, manifest, added_at, root_dev, root_ino,
                                          one_file_system, host, host_name)
                        VALUES (\(def.name), \(ByteBuffer(bytes: def.root.bytes)), \(Int64(def.priority)),
                                \(Self.encodeList(def.includes)), \(Self.encodeList(def.excludes)), \(manifest),
                                \(Timestamp.string(Date())), \(dev), \(ino), \(def.oneFileSystem), \(def.host?.id), \(def.host?.name))
                        ON CONFLICT (name) DO UPDATE SET root = excluded.root, priority = excluded.priority,
                            includes = excluded.includes, excludes = excluded.excludes, manifest = excluded.manifest,
                            root_dev = excluded.root_dev, root_ino = excluded.root_ino, one_file_system = excluded.one_file_system,
                            host = coalesce(excluded.host, silo.host), host_name = coalesce(excluded.host_name, silo.host_name)
                        """)
                }
                let all = try fetchSilos(writerOrReader: tx)
                return definitions.compactMap { d in all.first { $0.name == d.name } }
            }
        }
    }

    public func removeSilo(named name: String) throws {
        try wrap("remove silo") {
            try writer.withTransaction { tx in
                guard let id = try tx.query("SELECT id FROM silo WHERE name = \(name)", as: Int64.self).first else {
                    throw CatalogueError.unknownSilo(name)
                }
                try tx.execute("DELETE FROM file WHERE silo_id = \(id)")
                try tx.execute("DELETE FROM uncatalogued WHERE silo_id = \(id)")
                // Its open findings are closed (recorded, not deleted): nobody will check it again.
                try tx.execute("""
                    UPDATE open_finding SET closed_at = \(Timestamp.string(Date())), resolution = 'silo-removed',
                        closed_by = \(UserNames.current),
                        closed_detail = 'the silo was removed from the catalogue (silomerge silos remove)'
                    WHERE silo_id = \(id) AND closed_at IS NULL
                    """)
                try tx.execute("UPDATE open_finding SET silo_id = NULL WHERE silo_id = \(id)")
                try tx.execute("DELETE FROM silo WHERE id = \(id)")
            }
        }
    }
}

// MARK: - RunLog

extension PostgresCatalogue {
    public func beginRun(kind: RunKind, hashMode: String, options: String, silos: [String]) throws -> Int64 {
        try wrap("record the run") {
            // The row and its run lock together: the lock is taken (session-level, so it outlives
            // the transaction) before the row commits, so no other process ever sees the run
            // `running` without its lock held and takes it for a killed one (`markKilledRuns`).
            try writer.withTransaction { tx in
                let id = try tx.query("""
                    INSERT INTO run (kind, status, started_at, tool_version, host, hash_mode, options, silos, backend_pid)
                    VALUES (\(kind.rawValue), 'running', \(Timestamp.string(Date())), \(SiloMergeVersion.string), \(identity.host),
                            \(hashMode), \(options), \(Self.encodeList(silos)), pg_backend_pid())
                    RETURNING id
                    """, as: Int64.self).first ?? 0
                _ = try tx.query("SELECT pg_advisory_lock(\(lockKey("run:\(id)").key))")
                return id
            }
        }
    }

    public func finishRun(_ id: Int64, status: RunStatus, counts c: RunCounts, errorMessage: String?) throws {
        try wrap("record the end of the run") {
            try writer.withTransaction { tx in
                try tx.execute("""
                    UPDATE run SET status = \(status.rawValue), finished_at = \(Timestamp.string(Date())),
                        counts = \(c.storedJSON), error_message = \(errorMessage)
                    WHERE id = \(id)
                    """)
                if status == .ok || status == .warnings {
                    let names = try tx.query("SELECT silos FROM run WHERE id = \(id)", as: String.self).first
                    for name in Self.decodeList(names) {
                        try tx.execute("UPDATE silo SET last_run_id = \(id) WHERE name = \(name)")
                    }
                }
            }
            try releaseRunLock(id)
        }
    }

    public func markInterrupted(_ id: Int64, counts c: RunCounts, reason: String) throws {
        try wrap("record the run as interrupted") {
            try writer.execute("""
                UPDATE run SET status = 'interrupted', finished_at = \(Timestamp.string(Date())), counts = \(c.storedJSON),
                    error_message = \(reason)
                WHERE id = \(id) AND status = 'running'
                """)
        }
    }

    private func releaseRunLock(_ id: Int64) throws {
        let key = lockKey("run:\(id)")
        // Session-level locks stack: release every hold this session has.
        while try writer.advisoryUnlock(key) {}
    }

    public func runs(limit: Int?) throws -> [RunRecord] {
        try wrap("list runs") {
            let rows = try writer.query("""
                SELECT id, kind, status, started_at, finished_at, tool_version, host, hash_mode, options, silos, counts,
                       error_message, outcome
                FROM run ORDER BY id DESC LIMIT \(Int64(limit ?? Int(Int32.max)))
                """)
            return try rows.map { row in
                let (id, kind, status, started, finished, version, host, hashMode, options, silos, counts, message, outcome) =
                    try row.decode((Int64, String, String, String, String?, String, String, String, String, String, String,
                                    String?, String?).self)
                var record = RunRecord(id: id, kind: RunKind(rawValue: kind) ?? .scan, status: RunStatus(rawValue: status) ?? .failed,
                                       startedAt: Timestamp.date(started) ?? Date(timeIntervalSince1970: 0),
                                       finishedAt: finished.flatMap(Timestamp.date), toolVersion: version, host: host,
                                       hashMode: hashMode, options: options, silos: Self.decodeList(silos),
                                       counts: RunCounts(storedJSON: counts), errorMessage: message)
                record.outcome = outcome
                return record
            }
        }
    }
}

// MARK: - SettingsStore

extension PostgresCatalogue {
    public func setting(_ key: String) throws -> String? {
        try wrap("read a setting") { try writer.query("SELECT value FROM setting WHERE key = \(key)", as: String.self).first }
    }

    public func setSetting(_ key: String, _ value: String?) throws {
        try wrap("store a setting") {
            if let value {
                try writer.execute("""
                    INSERT INTO setting (key, value) VALUES (\(key), \(value))
                    ON CONFLICT (key) DO UPDATE SET value = excluded.value
                    """)
            } else {
                try writer.execute("DELETE FROM setting WHERE key = \(key)")
            }
        }
    }
}
