import Foundation
import PostgresNIO
import SiloMergeCore
import Synchronization

/// The catalogue in a PostgreSQL database, shared by scanners on many hosts (issue #13).
///
/// - One *writer* session applies every write (calls are serialised on it, as SQLite's one
///   writer is) and holds the session-level advisory locks of the scans this process runs; the
///   server releases them if the process dies.
/// - Readers (walkers' folder look-ups, streams that must not hold up the writer) take a session
///   of their own from `readers`.
/// - A catalogue is a database and a schema: `?options=-csearch_path%3Dname` in the URL selects
///   a schema, so one database can hold several catalogues (the contract tests use one each).
///   Advisory-lock names carry the database and schema for that reason.
public final class PostgresCatalogue: CatalogueStore {
    public let location: CatalogueLocation
    public let settings: ConnectionSettings
    public let access: CatalogueAccess
    /// Who this process is (`silomerge <host> <pid>` in `application_name`).
    public let identity: ClientIdentity
    /// `database/schema`: prefixes every advisory-lock name.
    public let catalogueKey: String
    let writer: PostgresSession
    let readers: SessionPool

    /// Opens the catalogue at `url` (a libpq URL; `PGPASSWORD`, `~/.pgpass`, `PGSSLMODE`... fill
    /// what it leaves out) for `access`.
    public convenience init(url: String, access: CatalogueAccess, identity: ClientIdentity = .current(),
                            resolver: ConnectionResolver = .current()) throws {
        let settings: ConnectionSettings
        do { settings = try resolver.resolve(uri: url) } catch {
            throw CatalogueError.cannotOpen(path: CatalogueLocation.server(url: url, id: url).display, reason: error.message)
        }
        try self.init(settings: settings, url: url, access: access, identity: identity)
    }

    /// Opens the catalogue with resolved settings. What the database holds (no catalogue, an
    /// older or a newer one) is decided before anything writes to it; `.readOnly` never writes.
    public init(settings: ConnectionSettings, url: String, access: CatalogueAccess,
                identity: ClientIdentity = .current()) throws {
        self.settings = settings
        self.access = access
        self.identity = identity
        let opened = try Self.open(settings: settings, url: url, access: access, identity: identity)
        writer = opened.session
        catalogueKey = opened.key
        location = opened.location
        let readOnly = access == .readOnly
        readers = SessionPool { () throws(PostgresClientError) -> PostgresSession in
            let reader = try PostgresSession.connect(settings, identity: identity)
            if readOnly { try reader.execute("SET default_transaction_read_only = on") }
            return reader
        }
    }

    private static func open(settings: ConnectionSettings, url: String, access: CatalogueAccess, identity: ClientIdentity)
        throws -> (session: PostgresSession, key: String, location: CatalogueLocation) {
        let shown = CatalogueLocation.server(url: url, id: url).display
        let session: PostgresSession
        do { session = try PostgresSession.connect(settings, identity: identity) } catch {
            throw CatalogueError.cannotOpen(path: shown, reason: error.message)
        }
        do {
            let rows = try session.query("SELECT current_database(), current_schema()", as: (String, String?).self)
            guard let (database, schema) = rows.first else {
                throw CatalogueError.cannotOpen(path: shown, reason: "the server did not name the current database")
            }
            guard let schema else {
                throw CatalogueError.cannotOpen(path: shown, reason:
                    "no schema of the search_path exists in database \(database) (create it, or fix options=-csearch_path=... in the URL)")
            }
            // The id is a URL that opens this catalogue again (a plan records it): the server's
            // normalised URL, with the schema when it is not the default. Never a password.
            var id = settings.display
            if schema != "public" {
                let encoded = schema.utf8.map { b -> String in
                    (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x5f
                        ? String(UnicodeScalar(b)) : String(format: "%%%02X", b)
                }.joined()
                id += (id.contains("?") ? "&" : "?") + "options=-csearch_path%3D" + encoded
            }
            let migrator = try PostgresSchema.migrator()
            let version = try migrator.currentVersion(session)
            let missing = "no SiloMerge catalogue in database \(database), schema \(schema)"
            switch access {
            case .readOnly:
                guard version > 0 else { throw CatalogueError.missing(path: shown, what: missing) }
                if version < migrator.newestKnownVersion {
                    throw CatalogueError.olderSchema(path: shown, missing: migrator.migrations.filter { $0.version > version }.map { "\($0.version)-\($0.name)" })
                }
                try session.execute("SET default_transaction_read_only = on")
            case .readWrite:
                guard version > 0 else { throw CatalogueError.missing(path: shown, what: missing) }
                try migrator.migrate(session, appliedBy: "silomerge \(SiloMergeVersion.string) on \(identity.host)")
            case .create:
                try migrator.migrate(session, appliedBy: "silomerge \(SiloMergeVersion.string) on \(identity.host)")
            }
            return (session, "\(database)/\(schema)", .server(url: url, id: id))
        } catch let error as PostgresClientError {
            session.close()
            if error.kind == .schemaTooNew { throw CatalogueError.newerSchema(path: shown, unknown: [error.message]) }
            throw CatalogueError.cannotOpen(path: shown, reason: error.message)
        } catch {
            session.close()
            throw error
        }
    }

    deinit {
        readers.closeAll()
        writer.close()
    }

    /// An advisory-lock key of this catalogue (`database/schema:name`).
    func lockKey(_ name: String) -> AdvisoryLockKey { AdvisoryLockKey("\(catalogueKey):\(name)") }

    /// Runs `body`, turning what the server or the connection said into a `CatalogueError`
    /// that names the catalogue and the operation.
    func wrap<T>(_ operation: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as PostgresClientError {
            throw CatalogueError.failed(catalogue: location.display, operation: operation, reason: error.message)
        }
    }

    /// Not written yet: the issue #13 work in progress. Never shipped in a command.
    func unimplemented(_ what: String = #function) -> CatalogueError {
        CatalogueError.failed(catalogue: location.display, operation: what, reason: "not implemented for PostgreSQL yet")
    }
}

/// Sessions for readers, made on demand and kept for reuse (closed with the catalogue). A
/// session that broke is dropped, not returned.
final class SessionPool: Sendable {
    private let make: @Sendable () throws(PostgresClientError) -> PostgresSession
    private let idle = Mutex<[PostgresSession]>([])

    init(make: @escaping @Sendable () throws(PostgresClientError) -> PostgresSession) { self.make = make }

    /// Runs `body` with a session no other caller uses meanwhile.
    func with<R>(_ body: (PostgresSession) throws -> R) throws -> R {
        let session = try idle.withLock { $0.popLast() } ?? make()
        do {
            let value = try body(session)
            idle.withLock { $0.append(session) }
            return value
        } catch let error as PostgresClientError where error.kind == .connectionLost {
            session.close()
            throw error
        } catch {
            idle.withLock { $0.append(session) }
            throw error
        }
    }

    /// A session of the caller's own, to keep (a walker's folder reader); close it when done.
    func take() throws(PostgresClientError) -> PostgresSession {
        if let session = idle.withLock({ $0.popLast() }) { return session }
        return try make()
    }

    func give(_ session: PostgresSession) { idle.withLock { $0.append(session) } }

    func closeAll() {
        for session in idle.withLock({ list -> [PostgresSession] in defer { list = [] }; return list }) { session.close() }
    }
}

// MARK: - Values between Swift and PostgreSQL

extension SHA256Digest {
    /// The 32 bytes a `bytea` column holds.
    var bytea: ByteBuffer { ByteBuffer(bytes: bytes) }

    /// A digest from a `bytea` column (nil when it is not 32 bytes).
    init?(bytea: ByteBuffer?) {
        guard let bytea, bytea.readableBytes == 32, let bytes = bytea.getBytes(at: bytea.readerIndex, length: 32) else { return nil }
        self = bytes.withUnsafeBytes { SHA256Digest(bytes: $0) }
    }
}

extension ByteBuffer {
    /// Every readable byte.
    var allBytes: [UInt8] { getBytes(at: readerIndex, length: readableBytes) ?? [] }
}
