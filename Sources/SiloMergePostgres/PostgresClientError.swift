/// Everything that can go wrong talking to PostgreSQL, said as what, where and why.
///
/// `description` is the sentence a person reads: it names the server by its display URL
/// (never the password), what SiloMerge was doing, and the server's own words with their
/// SQLSTATE when the server refused.
public struct PostgresClientError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// The URL, an environment variable or a setting cannot be used.
        case invalidSettings = "invalid-settings"
        /// Nothing listens at the address (connection refused, no socket file).
        case connectionRefused = "connection-refused"
        /// The server did not answer within connect_timeout.
        case timeout
        /// The host name does not resolve.
        case unknownHost = "unknown-host"
        /// The server rejected the user or password.
        case authenticationFailed = "authentication-failed"
        /// The database named in the URL does not exist.
        case databaseMissing = "database-missing"
        /// The server accepts this connection only over TLS, and sslmode said no.
        case tlsRequired = "tls-required"
        /// sslmode asked for TLS and the server does not offer it.
        case tlsUnavailable = "tls-unavailable"
        /// The TLS handshake or the certificate check failed.
        case tlsFailed = "tls-failed"
        /// The server answered a statement with an error (see `sqlState`).
        case server
        /// The connection broke or was closed.
        case connectionLost = "connection-lost"
        /// An advisory lock is held by another session.
        case lockHeld = "lock-held"
        /// The database was migrated by a newer SiloMerge.
        case schemaTooNew = "schema-too-new"
        /// The client misbehaved (a bug, or a reply it did not understand).
        case client
    }

    public var kind: Kind
    /// The whole sentence.
    public var message: String
    /// The server's SQLSTATE, when the server refused.
    public var sqlState: String?
    /// The server's primary message, when the server refused.
    public var serverMessage: String?
    public var detail: String?
    public var hint: String?
    /// The server, as `postgresql://user@host:port/db`, when known.
    public var server: String?

    public init(_ kind: Kind, _ message: String, sqlState: String? = nil, serverMessage: String? = nil,
                detail: String? = nil, hint: String? = nil, server: String? = nil) {
        self.kind = kind; self.message = message; self.sqlState = sqlState; self.serverMessage = serverMessage
        self.detail = detail; self.hint = hint; self.server = server
    }

    public var description: String {
        var text = message
        if let detail, !detail.isEmpty { text += " (\(detail))" }
        if let hint, !hint.isEmpty { text += "; hint: \(hint)" }
        return text
    }
}
