import Foundation
import SiloMergeCore
import GRDB
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The catalogue in one SQLite file (WAL mode), through GRDB.
///
/// Walkers read folder listings on GRDB's reader connections while one writer applies batches;
/// scratch tables of a run (`visited`, `stage_job`, ...) are TEMP tables on the writer
/// connection, so they vanish with the process and never reach the file.
public final class SQLiteCatalogue: CatalogueStore {
    /// The catalogue file with its side files (see `sideSuffixes`).
    public let location: CatalogueLocation
    /// The catalogue file's path as given.
    public let path: String
    let pool: DatabasePool

    /// The files SQLite (and the scan lock) keep beside a catalogue file: a scan of a silo
    /// that holds the catalogue never catalogues them.
    public static let sideSuffixes = ["-wal", "-shm", "-journal", "-lock", openLockSuffix]

    /// The lock held while a process creates the catalogue or brings its schema up to date
    /// (`<catalogue>-open-lock`, there only while held; see `TransientLock`).
    static let openLockSuffix = "-open-lock"

    /// How long opening waits for another process creating or upgrading the same catalogue.
    /// Upgrading a catalogue of millions of files can take minutes.
    public static let openLockTimeout: Duration = .seconds(600)

    /// Whether this connection may write (see `CatalogueAccess`).
    public let access: CatalogueAccess

    /// Whether files keep their header facts in their columns (`v15-header-facts`), not as
    /// metadata rows: false only for an older catalogue opened read-only, whose rows are read
    /// as they are (see `HeaderFacts`). Asked inside each read transaction, not once at open:
    /// another process may upgrade the catalogue while a reader has it open.
    static func headerFactsInColumns(_ db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM pragma_table_info('file') WHERE name = 'dimensions_group')") ?? false
    }

    /// Opens (creating when `create` is true) the catalogue at `path` and brings its schema up
    /// to date. Refuses files written by a newer SiloMerge.
    public convenience init(path: String, create: Bool = true) throws {
        try self.init(path: path, access: create ? .create : .readWrite)
    }

    /// Opens the catalogue at `path` for `access`. What the file is (missing, empty, somebody
    /// else's database, a catalogue of a newer or an older SiloMerge) is decided before anything
    /// writes to it; a foreign file is refused byte for byte untouched, and `.readOnly` never
    /// writes at all.
    ///
    /// `onWait` is told, once, when opening has waited more than two seconds for another
    /// process creating or upgrading the same catalogue (it may wait up to
    /// `openLockTimeout`), with what that process's lock says about it ("pid 123 (opening the
    /// catalogue) since …").
    public init(path: String, access: CatalogueAccess, onWait: ((_ holder: String) -> Void)? = nil) throws {
        self.location = .file(path, sideSuffixes: Self.sideSuffixes)
        self.path = path
        self.access = access
        // Deciding what the file is and bringing its schema up to date is one step for other
        // processes: two scans started at once on a new catalogue must not both create it, nor
        // one judge the other's half-made file. Readers wait for it too, and create nothing.
        let openLock: TransientLock.Held?
        let openLockPath = Self.besideRealFile(path, suffix: Self.openLockSuffix)
        do {
            openLock = try TransientLock.take(openLockPath, purpose: "opening the catalogue", exclusive: access != .readOnly,
                                              timeout: Self.openLockTimeout, onWait: onWait)
        } catch {
            switch error {
            case .held(let holder): throw CatalogueError.locked(path: path, holder: holder)
            case .cannotOpen(let code) where [EACCES, EPERM, EROFS, ENOENT, ENOTDIR].contains(code.code):
                // A folder that is missing, or that nobody may write in: no process can create
                // or upgrade the catalogue there either, so there is nothing to wait for; opening
                // the catalogue itself says what is wrong, about the catalogue's own path.
                openLock = nil
            case .cannotOpen(let code) where code.code == ELOOP:
                throw CatalogueError.cannotOpen(path: openLockPath, reason: "it is a symbolic link, and a lock file is never followed "
                                                + "(someone else made it; remove it once no silomerge is running)")
            case .cannotOpen(let code): throw CatalogueError.cannotOpen(path: openLockPath, reason: "\(code)")
            }
        }
        defer { openLock?.release() }
        let migrator = CatalogueSchema.migrator()
        switch (try CatalogueFile.inspect(path, known: Set(migrator.migrations)), access) {
        case (.missing, .create), (.empty, .create):
            break
        case (.missing, _):
            throw CatalogueError.missing(path: path, what: "no such file")
        case (.empty, _):
            throw CatalogueError.notACatalogue(path: path, reason: "it is empty (no scan has recorded anything in it); run `silomerge scan` first")
        case (.foreign(let reason), _):
            throw CatalogueError.notACatalogue(path: path, reason: reason)
        case (.newer(let unknown), _):
            throw CatalogueError.newerSchema(path: path, unknown: unknown)
        case (.catalogue(let applied), .readOnly):
            let pending = migrator.migrations.filter { !applied.contains($0) && !CatalogueSchema.optionalForReading.contains($0) }
            if !pending.isEmpty { throw CatalogueError.olderSchema(path: path, missing: pending) }
        case (.catalogue, _):
            break
        }
        var config = Configuration()
        config.label = "silomerge-catalogue"
        config.busyMode = .timeout(30)
        config.maximumReaderCount = 8
        config.readonly = access == .readOnly
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA temp_store = FILE")
            try db.execute(sql: "PRAGMA cache_size = -16384")   // at most 16 MiB per connection
            guard !db.configuration.readonly else { return }
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Checkpoint (copy the WAL back into the file, with an fsync) every 64 MiB rather
            // than every 4 MiB: a scan writes in large transactions.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 16384")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
        } catch {
            throw CatalogueError.wrap(error, path: path, "open")
        }
        guard access != .readOnly else { return }
        do {
            try migrator.migrate(pool)
            try pool.write { db in
                for sql in CatalogueSchema.bulkIndexes { try db.execute(sql: sql) }
            }
        } catch {
            throw CatalogueError.wrap(error, path: path, "open")
        }
    }

    func wrap<T>(_ operation: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw CatalogueError.wrap(error, path: path, operation) }
    }

    // MARK: - Exclusive use for scans

    /// Takes the catalogue for one scan at a time (an advisory lock on `<catalogue>-lock`),
    /// then marks runs left `running` by a killed process as `interrupted`.
    public func lockForScan() throws -> ScanLock { try lockForScan(purpose: "scan") }

    /// The lock file: beside the catalogue's real file, whatever path (a symbolic link to the
    /// file or to a folder above it) named the catalogue, so every path to one catalogue
    /// shares one lock. SQLite itself resolves links the same way for its `-wal` file.
    public var lockPath: String { Self.besideRealFile(path, suffix: "-lock") }

    /// `name + suffix` beside the real file `name` leads to, or when it does not exist yet,
    /// in the real folder it would be made in: every path to one catalogue, existing or about
    /// to be created, names one side file.
    static func besideRealFile(_ name: String, suffix: String) -> String {
        if case .success(let real) = Posix.realPath(FilePath(name)), let text = real.string { return text + suffix }
        let slash = name.lastIndex(of: "/")
        let folder = slash.map { $0 == name.startIndex ? "/" : String(name[..<$0]) } ?? "."
        let last = slash.map { String(name[name.index(after: $0)...]) } ?? name
        guard !last.isEmpty, case .success(let real) = Posix.realPath(FilePath(folder)), let text = real.string else {
            return name + suffix
        }
        return (text.hasSuffix("/") ? text : text + "/") + last + suffix
    }

    /// `lockForScan`, saying in the lock file what holds it ("apply plan.json"): a command
    /// refused because of it names the process holding it.
    public func lockForScan(purpose: String) throws -> ScanLock {
        let fd: Int32
        do { fd = try ExclusiveLock.take(lockPath, purpose: purpose) } catch let e as ExclusiveLock.Failure {
            switch e {
            case .cannotOpen(let errno): throw CatalogueError.cannotOpen(path: lockPath, reason: "\(errno)")
            case .held(let holder): throw CatalogueError.locked(path: path, holder: holder)
            }
        }
        try wrap("mark interrupted runs") {
            try pool.write { db in
                try db.execute(sql: "UPDATE run SET status = 'interrupted' WHERE status = 'running'")
            }
        }
        return ScanLock { ExclusiveLock.release(fd) }
    }

    /// True while a scan, check or audit holds the catalogue (its scan lock is taken). Reads
    /// only: a run still `running` when this is false was killed.
    public func isScanning() -> Bool {
        let fd = open(lockPath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            _ = flock(fd, LOCK_UN)
            return false
        }
        return true
    }

    // MARK: - Silos

    public func silos() throws -> [Silo] {
        try wrap("list silos") {
            try pool.read { db in try Self.fetchSilos(db) }
        }
    }

    static func fetchSilos(_ db: Database) throws -> [Silo] {
        try Row.fetchAll(db, sql: """
            SELECT id, name, CAST(root AS BLOB) AS root, priority, includes, excludes, last_run_id, manifest, root_dev, root_ino,
                   one_file_system, adopted_plan, host, host_name
            FROM silo ORDER BY priority, name
            """).map { row in
            var silo = Silo(id: row["id"], name: row["name"], root: FilePath(bytes: [UInt8](row["root"] as Data? ?? Data())),
                            priority: row["priority"], lastRunID: row["last_run_id"])
            if let dev: Int64 = row["root_dev"], let ino: Int64 = row["root_ino"] {
                silo.rootIdentity = FileID(device: UInt64(bitPattern: dev), inode: UInt64(bitPattern: ino))
            }
            silo.oneFileSystem = (row["one_file_system"] as Int64?) == 1
            silo.adoptedPlan = row["adopted_plan"]
            if let host: String = row["host"] { silo.host = HostIdentity(id: host, name: row["host_name"] ?? host) }
            silo.includes = decodeList(row["includes"])
            silo.excludes = decodeList(row["excludes"])
            if let json: String = row["manifest"] {
                // A mapping that cannot be read is said, never dropped (the manifest would
                // silently stop being read).
                do { silo.manifest = try JSONDecoder().decode(ManifestDefinition.self, from: Data(json.utf8)) } catch {
                    throw CatalogueError.failed(catalogue: "silo \(silo.name)", operation: "read its manifest mapping",
                                                reason: "\(error); scan it again with --config to store it anew")
                }
            }
            return silo
        }
    }

    static func decodeList(_ json: String?) -> [String] {
        guard let json, let data = json.data(using: .utf8),
              let list = try? JSONDecoder().decode([String].self, from: data) else { return [] }
        return list
    }

    static func encodeList(_ list: [String]) -> String {
        (try? String(decoding: JSONEncoder().encode(list), as: UTF8.self)) ?? "[]"
    }

    public func registerSilos(_ definitions: [SiloDefinition]) throws -> [Silo] {
        try wrap("register silos") {
            try pool.write { db in
                // A catalogue from before hosts held one host's files: the first host to scan
                // into it claims every silo not yet claimed.
                if let host = definitions.lazy.compactMap(\.host).first {
                    try db.execute(sql: "UPDATE silo SET host = ?, host_name = ? WHERE host IS NULL", arguments: [host.id, host.name])
                }
                let existing = try Self.fetchSilos(db)
                for def in definitions {
                    if let other = existing.first(where: { $0.root == def.root && $0.name != def.name }),
                       !definitions.contains(where: { $0.name == other.name }) {
                        throw CatalogueError.siloRootTaken(root: def.root.display, existing: other.name, requested: def.name)
                    }
                    let manifest = def.manifest.flatMap { try? String(decoding: JSONEncoder.sorted.encode($0), as: UTF8.self) }
                    let dev = def.rootIdentity.map { Int64(bitPattern: $0.device) }
                    let ino = def.rootIdentity.map { Int64(bitPattern: $0.inode) }
                    try db.execute(sql: """
                        INSERT INTO silo (name, root, priority, includes, excludes, manifest, added_at, root_dev, root_ino, one_file_system,
                                          host, host_name)
                        VALUES (?, CAST(? AS TEXT), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT(name) DO UPDATE SET root = excluded.root, priority = excluded.priority,
                            includes = excluded.includes, excludes = excluded.excludes, manifest = excluded.manifest,
                            root_dev = excluded.root_dev, root_ino = excluded.root_ino, one_file_system = excluded.one_file_system,
                            host = coalesce(excluded.host, host), host_name = coalesce(excluded.host_name, host_name)
                        """, arguments: [def.name, Self.textArgument(def.root.bytes), def.priority,
                                         Self.encodeList(def.includes), Self.encodeList(def.excludes), manifest,
                                         Timestamp.string(Date()), dev, ino, def.oneFileSystem ? 1 : 0,
                                         def.host?.id, def.host?.name])
                }
                let all = try Self.fetchSilos(db)
                return definitions.compactMap { d in all.first { $0.name == d.name } }
            }
        }
    }

    public func removeSilo(named name: String) throws {
        try wrap("remove silo") {
            try pool.write { db in
                guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM silo WHERE name = ?", arguments: [name]) else {
                    throw CatalogueError.unknownSilo(name)
                }
                try db.execute(sql: "DELETE FROM file WHERE silo_id = ?", arguments: [id])
                try db.execute(sql: "DELETE FROM uncatalogued WHERE silo_id = ?", arguments: [id])
                // Its open findings are closed (recorded, not deleted): nobody will check it again.
                try db.execute(sql: """
                    UPDATE open_finding SET closed_at = ?, resolution = 'silo-removed', closed_by = ?,
                        closed_detail = 'the silo was removed from the catalogue (silomerge silos remove)'
                    WHERE silo_id = ? AND closed_at IS NULL
                    """, arguments: [Timestamp.string(Date()), UserNames.current, id])
                try db.execute(sql: "UPDATE open_finding SET silo_id = NULL WHERE silo_id = ?", arguments: [id])
                try db.execute(sql: "DELETE FROM silo WHERE id = ?", arguments: [id])
            }
        }
    }

    // MARK: - Runs

    public func beginRun(kind: RunKind, hashMode: String, options: String, silos: [String]) throws -> Int64 {
        try wrap("record the run") {
            try pool.write { db in
                try db.execute(sql: """
                    INSERT INTO run (kind, status, started_at, tool_version, host, hash_mode, options, silos)
                    VALUES (?, 'running', ?, ?, ?, ?, ?, ?)
                    """, arguments: [kind.rawValue, Timestamp.string(Date()), SiloMergeVersion.string,
                                     ProcessInfo.processInfo.hostName, hashMode, options, Self.encodeList(silos)])
                return db.lastInsertedRowID
            }
        }
    }

    public func finishRun(_ id: Int64, status: RunStatus, counts c: RunCounts, errorMessage: String?) throws {
        try wrap("record the end of the run") {
            try pool.write { db in
                // The counts whole, as one JSON value (v11-run-counts): no field is named here.
                try db.execute(sql: "UPDATE run SET status = ?, finished_at = ?, counts = ?, error_message = ? WHERE id = ?",
                               arguments: [status.rawValue, Timestamp.string(Date()), c.storedJSON, errorMessage, id])
                if status == .ok || status == .warnings {
                    let names = try String.fetchOne(db, sql: "SELECT silos FROM run WHERE id = ?", arguments: [id])
                    for name in Self.decodeList(names) {
                        try db.execute(sql: "UPDATE silo SET last_run_id = ? WHERE name = ?", arguments: [id, name])
                    }
                }
            }
        }
    }

    public func markInterrupted(_ id: Int64, counts c: RunCounts, reason: String) throws {
        try wrap("record the run as interrupted") {
            try pool.write { db in
                try db.execute(sql: """
                    UPDATE run SET status = 'interrupted', finished_at = ?, counts = ?, error_message = ?
                    WHERE id = ? AND status = 'running'
                    """, arguments: [Timestamp.string(Date()), c.storedJSON, reason, id])
            }
        }
    }

    public func runs(limit: Int?) throws -> [RunRecord] {
        try wrap("list runs") {
            try pool.read { db in
                let rows = try Row.fetchAll(db, sql: "SELECT * FROM run ORDER BY id DESC LIMIT ?", arguments: [limit ?? -1])
                return rows.map { row in
                    let c = RunCounts(storedJSON: row["counts"])
                    let finished: String? = row["finished_at"]
                    var record = RunRecord(id: row["id"], kind: RunKind(rawValue: row["kind"]) ?? .scan,
                                     status: RunStatus(rawValue: row["status"]) ?? .failed,
                                     startedAt: Timestamp.date(row["started_at"]) ?? Date(timeIntervalSince1970: 0),
                                     finishedAt: finished.flatMap(Timestamp.date), toolVersion: row["tool_version"],
                                     host: row["host"], hashMode: row["hash_mode"], options: row["options"],
                                     silos: Self.decodeList(row["silos"]), counts: c, errorMessage: row["error_message"])
                    record.outcome = row["outcome"]
                    return record
                }
            }
        }
    }

    // MARK: - Helpers

    /// A path or name as an SQL argument: a Swift string when it is valid UTF-8, else the raw
    /// bytes (the SQL casts them to TEXT, which keeps them byte for byte).
    static func textArgument(_ bytes: [UInt8]) -> (any DatabaseValueConvertible) {
        if let s = String(validatingUTF8Bytes: bytes) { return s }
        return Data(bytes)
    }

    static func bytes(_ value: DatabaseValue) -> [UInt8] {
        switch value.storage {
        case .blob(let data): return [UInt8](data)
        case .string(let s): return Array(s.utf8)
        default: return []
        }
    }
}
