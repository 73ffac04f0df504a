import PostgresNIO

/// One step of a PostgreSQL catalogue's schema. Versions are whole numbers, applied in
/// increasing order, each at most once; a shipped migration is never edited, only followed.
public struct PostgresMigration: Sendable {
    public let version: Int
    public let name: String
    let apply: @Sendable (PostgresTransaction) throws -> Void

    /// A migration made of SQL statements, run in order.
    public init(version: Int, name: String, statements: [String]) {
        self.version = version; self.name = name
        apply = { transaction in
            for statement in statements { try transaction.execute(PostgresQuery(unsafeSQL: statement)) }
        }
    }

    /// A migration that runs code (e.g. to move data).
    public init(version: Int, name: String, apply: @escaping @Sendable (PostgresTransaction) throws -> Void) {
        self.version = version; self.name = name; self.apply = apply
    }
}

/// What `PostgresMigrator.migrate` did.
public struct MigrationReport: Sendable, Equatable {
    /// The version the database had before (0: never migrated).
    public var from: Int
    /// The version it has now.
    public var to: Int
    /// The versions this call applied (empty: nothing to do, or another process did them).
    public var applied: [Int]
}

/// Brings a database's schema to the newest migration SiloMerge knows, the way the SQLite
/// catalogue's GRDB migrations do, with what a shared server adds:
///
/// - the applied versions are rows of `silomerge_schema` (version, name, applied_at, applied_by);
/// - everything runs in one transaction: the migrations apply together or not at all
///   (PostgreSQL's DDL is transactional);
/// - the transaction first takes a transaction-level advisory lock, so two first-time scanners
///   do not race: the second waits (up to `lockTimeoutSeconds`) and then finds nothing to do;
/// - a database whose newest version is above the newest known one was migrated by a newer
///   SiloMerge: it is refused, untouched (`.schemaTooNew`), before anything is written.
public struct PostgresMigrator: Sendable {
    public let migrations: [PostgresMigration]
    /// The lock taken while migrating (one name for every SiloMerge on the database).
    public var lock = AdvisoryLockKey("schema")
    /// How long to wait for another process's migration to finish.
    public var lockTimeoutSeconds = 300

    public init(_ migrations: [PostgresMigration]) throws(PostgresClientError) {
        var seen = Set<Int>()
        for migration in migrations {
            guard migration.version > 0, seen.insert(migration.version).inserted else {
                throw PostgresClientError(.client, "migration versions must be positive and distinct (\(migration.version) \"\(migration.name)\")")
            }
        }
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    public var newestKnownVersion: Int { migrations.last?.version ?? 0 }

    static let createTable = """
        CREATE TABLE IF NOT EXISTS silomerge_schema (
            version integer PRIMARY KEY,
            name text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now(),
            applied_by text NOT NULL
        )
        """

    /// The database's newest applied version (0 when it was never migrated), without changing
    /// anything; throws `.schemaTooNew` when it is above the newest known one.
    public func currentVersion(_ session: PostgresSession) throws(PostgresClientError) -> Int {
        let exists = try session.query("SELECT to_regclass('silomerge_schema') IS NOT NULL", as: Bool.self).first ?? false
        guard exists else { return 0 }
        let version = try session.query("SELECT COALESCE(max(version), 0) FROM silomerge_schema", as: Int.self).first ?? 0
        try refuseNewer(version, session.settings)
        return version
    }

    /// Applies what is missing; `appliedBy` is recorded with each version (e.g. "silomerge 1.4 on host h").
    @discardableResult
    public func migrate(_ session: PostgresSession, appliedBy: String) throws(PostgresClientError) -> MigrationReport {
        do {
            return try session.withTransaction { transaction in
                try transaction.execute(PostgresQuery(unsafeSQL: "SET LOCAL lock_timeout = '\(max(1, lockTimeoutSeconds))s'"))
                do {
                    try transaction.execute("SELECT pg_advisory_xact_lock(\(lock.key))")
                } catch let error as PostgresClientError where error.sqlState == "55P03" {
                    throw PostgresClientError(.lockHeld,
                        "the schema of \(session.settings.display) is being migrated by another process and it did not finish within \(lockTimeoutSeconds) s (\(lock))",
                        server: session.settings.display)
                }
                try transaction.execute(PostgresQuery(unsafeSQL: Self.createTable))
                let from = try transaction.query("SELECT COALESCE(max(version), 0) FROM silomerge_schema", as: Int.self).first ?? 0
                try refuseNewer(from, session.settings)
                let versions: [Int] = try transaction.query("SELECT version FROM silomerge_schema", as: Int.self)
                let done = Set(versions)
                var applied: [Int] = []
                for migration in migrations where !done.contains(migration.version) {
                    do {
                        try migration.apply(transaction)
                    } catch let error as PostgresClientError {
                        var error = error
                        error.message = "migration \(migration.version) \"\(migration.name)\" of \(session.settings.display) failed, nothing of it was kept: " + error.message
                        throw error
                    }
                    try transaction.execute("""
                        INSERT INTO silomerge_schema (version, name, applied_by) VALUES (\(migration.version), \(migration.name), \(appliedBy))
                        """)
                    applied.append(migration.version)
                }
                return MigrationReport(from: from, to: max(from, newestKnownVersion), applied: applied)
            }
        } catch let error as PostgresClientError {
            throw error
        } catch {
            throw PostgresClientError(.client, "migrating \(session.settings.display) failed: \(error)", server: session.settings.display)
        }
    }

    private func refuseNewer(_ version: Int, _ settings: ConnectionSettings) throws(PostgresClientError) {
        if version > newestKnownVersion {
            throw PostgresClientError(.schemaTooNew,
                "the catalogue at \(settings.display) has schema version \(version), made by a newer SiloMerge (this one knows up to \(newestKnownVersion)): upgrade SiloMerge on this host",
                server: settings.display)
        }
    }
}
