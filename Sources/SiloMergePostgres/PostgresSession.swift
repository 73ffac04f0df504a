import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization

/// Who is connected: the `application_name` every session sets is `silomerge <host> <pid>`
/// (then the user's own application_name, if any), so that another session can say who holds
/// a lock.
public struct ClientIdentity: Sendable, Equatable {
    /// The host's name as SiloMerge knows it (`--host NAME`, or the machine's host name).
    public var host: String
    public var pid: Int32

    public init(host: String, pid: Int32) {
        self.host = host; self.pid = pid
    }

    /// This process on this machine.
    public static func current() -> ClientIdentity {
        var buffer = [CChar](repeating: 0, count: 256)
        let name = gethostname(&buffer, buffer.count) == 0
            ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "unknown-host"
        return ClientIdentity(host: name.isEmpty ? "unknown-host" : name, pid: getpid())
    }

    /// `silomerge <host> <pid>[ <label>]`, white space in the host replaced so it parses back.
    /// PostgreSQL keeps 63 bytes of it.
    public func applicationName(label: String?) -> String {
        let host = String(self.host.map { $0.isWhitespace ? "_" : $0 })
        var name = "silomerge \(host) \(pid)"
        if let label, !label.isEmpty { name += " \(label)" }
        return name
    }

    /// The identity in an `application_name` written by `applicationName(label:)`, when it is one.
    public static func parse(applicationName: String) -> ClientIdentity? {
        let parts = applicationName.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[0] == "silomerge", let pid = Int32(parts[2]) else { return nil }
        return ClientIdentity(host: String(parts[1]), pid: pid)
    }
}

/// One connection to PostgreSQL for synchronous code (Dispatch worker threads): every call
/// blocks until the server has answered, and throws `PostgresClientError`.
///
/// A session is safe to share between threads: calls are serialised, and a transaction holds
/// the session for its whole length (other threads wait). Inside `withTransaction`, use the
/// `PostgresTransaction` handed to the closure, never the session itself (that would wait for
/// the transaction to end, forever).
///
/// Never call it on a SwiftNIO event-loop thread: it stops with a message there.
public final class PostgresSession: Sendable {
    public let settings: ConnectionSettings
    public let identity: ClientIdentity
    /// The server process serving this session (`pg_backend_pid()`).
    public let backendPID: Int32
    /// `server_version_num`, e.g. 150018.
    public let serverVersion: Int
    /// Whether the connection uses TLS.
    public let usesTLS: Bool

    let wire: Wire
    private let gate = Mutex<Bool>(false)   // true once closed

    /// Connects, authenticates, and identifies itself as `silomerge <host> <pid>`.
    public static func connect(_ settings: ConnectionSettings,
                               identity: ClientIdentity = .current()) throws(PostgresClientError) -> PostgresSession {
        Bridge.assertNotOnEventLoop()
        let plan = try TLSPlan.make(for: settings)
        let logger = Logger(label: "silomerge.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

        func configuration(_ tls: PostgresConnection.Configuration.TLS) -> PostgresConnection.Configuration {
            var configuration: PostgresConnection.Configuration
            switch settings.endpoint {
            case .tcp(let host, let port):
                configuration = .init(host: host, port: port, username: settings.user, password: settings.password,
                                      database: settings.database, tls: tls)
                configuration.options.tlsServerName = plan.serverName
            case .unixSocket:
                configuration = .init(unixSocketPath: settings.endpoint.socketPath!, username: settings.user,
                                      password: settings.password, database: settings.database)
            }
            let seconds = settings.connectTimeoutSeconds ?? 365 * 24 * 3600
            configuration.options.connectTimeout = .seconds(Int64(seconds))
            var startup = [("application_name", identity.applicationName(label: settings.applicationLabel)),
                           ("client_encoding", "UTF8")]
            if let options = settings.options { startup.append(("options", options)) }
            configuration.options.additionalStartupParameters = startup
            return configuration
        }
        func attempt(_ tls: PostgresConnection.Configuration.TLS) throws(PostgresClientError) -> PostgresConnection {
            let future = PostgresConnection.connect(on: Bridge.eventLoopGroup.next(), configuration: configuration(tls),
                                                    id: nextConnectionID(), logger: logger)
            do {
                return try Bridge.wait(future)
            } catch {
                throw ConnectFailure.describe(error, settings: settings, triedTLS: tls.isAllowed)
            }
        }

        let connection: PostgresConnection
        do {
            connection = try attempt(plan.first)
        } catch let error where error.kind == .tlsRequired && plan.retry != nil {
            // sslmode=allow: the server wants TLS; try again with it, as libpq does.
            connection = try attempt(plan.retry!)
        }
        let wire = Wire(connection: connection, settings: settings, logger: logger)
        do throws(PostgresClientError) {
            let rows = try wire.rows("SELECT pg_backend_pid(), current_setting('server_version_num')::int, COALESCE((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)")
            guard let row = rows.first else {
                throw PostgresClientError(.client, "PostgreSQL at \(settings.display) did not say who it is", server: settings.display)
            }
            let (pid, version, ssl) = try wire.decode(row, as: (Int32, Int32, Bool).self, sql: "pg_backend_pid()")
            return PostgresSession(settings: settings, identity: identity, backendPID: pid,
                                   serverVersion: Int(version), usesTLS: ssl, wire: wire)
        } catch {
            try? Bridge.wait(connection.close())
            throw error
        }
    }

    private init(settings: ConnectionSettings, identity: ClientIdentity, backendPID: Int32, serverVersion: Int,
                 usesTLS: Bool, wire: Wire) {
        self.settings = settings; self.identity = identity; self.backendPID = backendPID
        self.serverVersion = serverVersion; self.usesTLS = usesTLS; self.wire = wire
    }

    deinit {
        if !wire.connection.isClosed { wire.connection.close().whenComplete { _ in } }
    }

    /// Closes the connection, releasing every session-level advisory lock it holds before it
    /// returns. The server drops a session's locks only when its backend process ends, a moment
    /// after the socket closes: a process that opened the catalogue right after this one
    /// closed it found the catalogue "in use by another silomerge" (seen in the contract tests
    /// under load). `pg_advisory_unlock_all()` first, answered before the connection goes,
    /// leaves no such window; should it fail (a connection already broken), the server still
    /// releases them when the session ends.
    public func close() {
        let wasOpen = gate.withLock { closed in
            defer { closed = true }
            return !closed
        }
        guard wasOpen, !wire.connection.isClosed else { return }
        // No other call can be using `wire`: `held` runs bodies under the gate, and the gate
        // now says closed.
        _ = try? wire.execute("SELECT pg_advisory_unlock_all()")
        try? Bridge.wait(wire.connection.close())
    }

    /// Runs `body` with the session held, failing if it was closed.
    private func held<R>(_ body: (Wire) throws -> R) throws -> R {
        var result: Result<R, any Error>!
        gate.withLock { closed in
            if closed {
                result = .failure(PostgresClientError(.connectionLost, "the session with \(settings.display) was closed",
                                                server: settings.display))
            } else {
                result = Result { try body(wire) }
            }
        }
        return try result.get()
    }

    /// Runs a statement; returns the number of rows it affected when the server says (INSERT,
    /// UPDATE, DELETE, COPY, ...).
    @discardableResult
    public func execute(_ query: PostgresQuery) throws(PostgresClientError) -> Int? {
        try typed { try held { try $0.execute(query) } }
    }

    /// Runs a query and returns all its rows (use `stream` when there may be many).
    public func query(_ query: PostgresQuery) throws(PostgresClientError) -> [PostgresRow] {
        try typed { try held { try $0.rows(query) } }
    }

    /// Runs a query and decodes every row as `types`.
    public func query<each T: PostgresDecodable>(_ query: PostgresQuery, as types: (repeat each T).Type)
        throws(PostgresClientError) -> [(repeat each T)] {
        try typed {
            try held { wire in try wire.rows(query).map { try wire.decode($0, as: types, sql: query.sql) } }
        }
    }

    /// Runs a query and decodes the one column of every row as `type`.
    public func query<T: PostgresDecodable>(_ query: PostgresQuery, as type: T.Type) throws(PostgresClientError) -> [T] {
        try typed {
            try held { wire in try wire.rows(query).map { try wire.decode($0, as: (T).self, sql: query.sql) } }
        }
    }

    /// Hands every row of `query` to `body`, `batchSize` rows at a time through a server-side
    /// cursor, so memory stays bounded whatever the result's size. Runs in a transaction of its
    /// own (a cursor needs one), which is read-committed and rolled back if anything throws.
    public func stream(_ query: PostgresQuery, batchSize: Int = 10_000, _ body: (PostgresRow) throws -> Void) throws {
        try held { wire in
            try wire.transaction { try wire.stream(query, batchSize: batchSize, body) }
        }
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws (its
    /// error is rethrown as it is). The session is held for the whole transaction.
    public func withTransaction<R>(_ body: (PostgresTransaction) throws -> R) throws -> R {
        try held { wire in try wire.transaction { try body(PostgresTransaction(wire: wire)) } }
    }

    /// `COPY table (columns) FROM STDIN` in text format: `rows` writes the rows through the
    /// writer on the calling thread while earlier chunks are already on their way, so memory
    /// stays bounded. Returns the number of rows copied. A `rows` that throws aborts the COPY
    /// (nothing of it stays) and its error is rethrown.
    @discardableResult
    public func copyIn(table: String, columns: [String], _ rows: (inout CopyTextWriter) throws -> Void) throws -> Int {
        try held { wire in try wire.copyIn(table: table, columns: columns, rows) }
    }

    func typed<R>(_ body: () throws -> R) throws(PostgresClientError) -> R {
        do { return try body() } catch let error as PostgresClientError { throw error } catch {
            throw PostgresClientError(.client, "\(error)", server: settings.display)
        }
    }
}

/// The session inside `withTransaction`: the same operations, within the transaction. Do not
/// keep it past the closure.
public struct PostgresTransaction {
    let wire: Wire

    public var settings: ConnectionSettings { wire.settings }

    @discardableResult
    public func execute(_ query: PostgresQuery) throws(PostgresClientError) -> Int? {
        try wire.typed { try wire.execute(query) }
    }

    public func query(_ query: PostgresQuery) throws(PostgresClientError) -> [PostgresRow] {
        try wire.typed { try wire.rows(query) }
    }

    public func query<each T: PostgresDecodable>(_ query: PostgresQuery, as types: (repeat each T).Type)
        throws(PostgresClientError) -> [(repeat each T)] {
        try wire.typed { try wire.rows(query).map { try wire.decode($0, as: types, sql: query.sql) } }
    }

    public func query<T: PostgresDecodable>(_ query: PostgresQuery, as type: T.Type) throws(PostgresClientError) -> [T] {
        try wire.typed { try wire.rows(query).map { try wire.decode($0, as: (T).self, sql: query.sql) } }
    }

    /// As `PostgresSession.stream`, inside this transaction.
    public func stream(_ query: PostgresQuery, batchSize: Int = 10_000, _ body: (PostgresRow) throws -> Void) throws {
        try wire.stream(query, batchSize: batchSize, body)
    }

    @discardableResult
    public func copyIn(table: String, columns: [String], _ rows: (inout CopyTextWriter) throws -> Void) throws -> Int {
        try wire.copyIn(table: table, columns: columns, rows)
    }
}

private let connectionCounter = Atomic<Int>(0)
private func nextConnectionID() -> Int { connectionCounter.wrappingAdd(1, ordering: .relaxed).newValue }

/// The connection and what every operation needs to report errors. Used with the session held.
final class Wire: Sendable {
    let connection: PostgresConnection
    let settings: ConnectionSettings
    let logger: Logger
    private let cursors = Atomic<Int>(0)
    /// How to end the wait in progress when the connection closes. PostgresNIO leaves a
    /// request written to a connection that has just closed without an answer, which would
    /// block the waiting thread for ever; the session is serialised, so one slot is enough.
    private let inFlight = Mutex<(@Sendable (any Error) -> Void)?>(nil)

    init(connection: PostgresConnection, settings: ConnectionSettings, logger: Logger) {
        self.connection = connection; self.settings = settings; self.logger = logger
        connection.closeFuture.whenComplete { [weak self] _ in
            guard let self else { return }
            let end = self.inFlight.withLock { $0 }
            end?(self.lost())
        }
    }

    func lost() -> PostgresClientError {
        PostgresClientError(.connectionLost, "the connection to PostgreSQL at \(settings.display) was closed", server: settings.display)
    }

    /// Waits for `future`, or fails as soon as the connection closes.
    func wait<T: Sendable>(_ future: EventLoopFuture<T>) throws -> T {
        let promise = future.eventLoop.makePromise(of: T.self)
        inFlight.withLock { $0 = { promise.fail($0) } }
        defer { inFlight.withLock { $0 = nil } }
        future.cascade(to: promise)
        if connection.isClosed { promise.fail(lost()) }
        return try Bridge.wait(promise.futureResult)
    }

    /// For COPY: `end` is called if the connection closes while it runs.
    func whileInFlight<R>(onClose end: @escaping @Sendable (any Error) -> Void, _ body: () throws -> R) rethrows -> R {
        inFlight.withLock { $0 = end }
        defer { inFlight.withLock { $0 = nil } }
        if connection.isClosed { end(lost()) }
        return try body()
    }

    func typed<R>(_ body: () throws -> R) throws(PostgresClientError) -> R {
        do { return try body() } catch let error as PostgresClientError { throw error } catch {
            throw PostgresClientError(.client, "\(error)", server: settings.display)
        }
    }

    @discardableResult
    func execute(_ query: PostgresQuery) throws(PostgresClientError) -> Int? {
        do {
            let result = try wait(connection.query(query, logger: logger))
            return result.metadata.rows
        } catch {
            throw QueryFailure.describe(error, sql: query.sql, settings: settings)
        }
    }

    func rows(_ query: PostgresQuery) throws(PostgresClientError) -> [PostgresRow] {
        do {
            return try wait(connection.query(query, logger: logger)).rows
        } catch {
            throw QueryFailure.describe(error, sql: query.sql, settings: settings)
        }
    }

    func decode<each T: PostgresDecodable>(_ row: PostgresRow, as types: (repeat each T).Type, sql: String)
        throws(PostgresClientError) -> (repeat each T) {
        do {
            return try row.decode(types)
        } catch let error as PostgresDecodingError {
            throw PostgresClientError(.client,
                "cannot read a row of \(QueryFailure.excerpt(sql)) from \(settings.display): column \(error.columnIndex + 1) (\(error.columnName)) is \(error.postgresType)\(error.postgresData == nil ? " NULL" : ""), read as \(error.targetType) (\(error.code))",
                server: settings.display)
        } catch {
            throw PostgresClientError(.client, "cannot read a row of \(QueryFailure.excerpt(sql)) from \(settings.display): \(error)",
                                server: settings.display)
        }
    }

    /// BEGIN, body, COMMIT; ROLLBACK when body throws (body's error wins over a failed ROLLBACK).
    func transaction<R>(_ body: () throws -> R) throws -> R {
        try execute("BEGIN")
        let value: R
        do {
            value = try body()
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
        try execute("COMMIT")
        return value
    }

    /// DECLARE a cursor, FETCH `batchSize` rows at a time, CLOSE it. Must run in a transaction.
    func stream(_ query: PostgresQuery, batchSize: Int, _ body: (PostgresRow) throws -> Void) throws {
        let name = "silomerge_cursor_\(cursors.wrappingAdd(1, ordering: .relaxed).newValue)"
        var declare = query
        declare.sql = "DECLARE \(name) NO SCROLL CURSOR FOR " + query.sql
        do {
            _ = try wait(connection.query(declare, logger: logger))
        } catch {
            throw QueryFailure.describe(error, sql: query.sql, settings: settings)
        }
        let fetch = PostgresQuery(unsafeSQL: "FETCH FORWARD \(max(1, batchSize)) FROM \(name)")
        while true {
            let batch: [PostgresRow]
            do {
                batch = try wait(connection.query(fetch, logger: logger)).rows
            } catch {
                throw QueryFailure.describe(error, sql: query.sql, settings: settings)
            }
            if batch.isEmpty { break }
            for row in batch { try body(row) }
            if batch.count < batchSize { break }
        }
        try execute(PostgresQuery(unsafeSQL: "CLOSE \(name)"))
    }
}
