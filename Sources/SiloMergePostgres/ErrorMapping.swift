import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns what PostgresNIO throws while connecting into a `PostgresClientError` that says what, where
/// and why, naming the server by its display URL.
enum ConnectFailure {
    static func describe(_ error: any Error, settings: ConnectionSettings, triedTLS: Bool) -> PostgresClientError {
        let target = settings.display
        func make(_ kind: PostgresClientError.Kind, _ message: String, hint: String? = nil, server info: PSQLError.ServerInfo? = nil) -> PostgresClientError {
            PostgresClientError(kind, message, sqlState: info?[.sqlState], serverMessage: info?[.message],
                          detail: info?[.detail], hint: hint ?? info?[.hint], server: target)
        }
        if let error = error as? PostgresClientError { return error }
        guard let psql = error as? PSQLError else {
            return make(.client, "cannot connect to PostgreSQL at \(target): \(error)")
        }
        switch psql.code {
        case .server:
            let info = psql.serverInfo
            let state = info?[.sqlState] ?? ""
            let message = info?[.message] ?? "(no message)"
            switch state {
            case "28P01":
                var text = "PostgreSQL at \(target) rejected the password of user \"\(settings.user)\": \(message)"
                if case .passwordFile(let file) = settings.passwordSource { text += " (the password came from \"\(file)\")" }
                if settings.passwordSource == .environment { text += " (the password came from PGPASSWORD)" }
                return make(.authenticationFailed, text + " [SQLSTATE 28P01]", server: info)
            // pg_hba.conf refuses plain connections: "..., no encryption" (PostgreSQL 12 and
            // later), "..., SSL off" (before).
            case "28000" where (message.hasSuffix("no encryption") || message.hasSuffix("SSL off")) && !triedTLS:
                return make(.tlsRequired,
                            "PostgreSQL at \(target) accepts user \"\(settings.user)\" only over TLS, and sslmode=\(settings.sslMode.rawValue) does not use it: \(message) [SQLSTATE 28000]",
                            hint: "use sslmode=require (or verify-full with sslrootcert) in the URL or PGSSLMODE", server: info)
            case "28000":
                return make(.authenticationFailed,
                            "PostgreSQL at \(target) refused user \"\(settings.user)\": \(message) [SQLSTATE 28000]", server: info)
            case "3D000":
                return make(.databaseMissing,
                            "database \"\(settings.database)\" does not exist on PostgreSQL at \(target) [SQLSTATE 3D000]",
                            hint: "create it first (createdb \(settings.database)) or name another in the URL", server: info)
            default:
                return make(.server, "PostgreSQL at \(target) refused the connection: \(message) [SQLSTATE \(state)]", server: info)
            }
        case .sslUnsupported:
            return make(.tlsUnavailable,
                        "PostgreSQL at \(target) does not offer TLS, and sslmode=\(settings.sslMode.rawValue) requires it",
                        hint: "turn TLS on in the server (ssl = on), or use sslmode=prefer if plain connections are acceptable")
        case .authMechanismRequiresPassword:
            return make(.authenticationFailed,
                        "PostgreSQL at \(target) asks a password of user \"\(settings.user)\", and none was given",
                        hint: "put it in ~/.pgpass (mode 0600) or PGPASSFILE, or in PGPASSWORD")
        case .unsupportedAuthMechanism:
            return make(.authenticationFailed,
                        "PostgreSQL at \(target) asks user \"\(settings.user)\" for an authentication method SiloMerge does not support (\(psql))",
                        hint: "use scram-sha-256 or md5 for this user in pg_hba.conf")
        case .saslError:
            return make(.authenticationFailed,
                        "the SCRAM authentication of user \"\(settings.user)\" with PostgreSQL at \(target) failed: \(psql.underlying.map { "\($0)" } ?? "\(psql)")")
        default:
            break
        }
        // Transport: walk the underlying errors for the reason.
        var reasons: [any Error] = []
        var next: (any Error)? = psql.underlying
        while let e = next {
            reasons.append(e)
            if let inner = e as? PSQLError { next = inner.underlying } else { next = nil }
        }
        for reason in reasons {
            if let why = tlsReason(reason) {
                return make(.tlsFailed, "the TLS handshake with PostgreSQL at \(target) failed: \(why)",
                            hint: settings.sslMode == .verifyFull || settings.sslMode == .verifyCA
                                ? "check sslrootcert (\(settings.sslRootCert ?? "none")) and that the certificate names the host" : nil)
            }
            if case ChannelError.connectTimeout = reason {
                return make(.timeout, "PostgreSQL at \(target) did not answer within connect_timeout (\(settings.connectTimeoutSeconds.map { "\($0) s" } ?? "no limit"))")
            }
            if let connection = reason as? NIOConnectionError {
                if connection.connectionErrors.isEmpty, let dns = connection.dnsAError ?? connection.dnsAAAAError {
                    return make(.unknownHost, "cannot find the host of PostgreSQL at \(target): \(dns)")
                }
                if let errno = connection.connectionErrors.lazy.compactMap({ ($0.error as? IOError)?.errnoCode }).first {
                    return refused(errno, target: target, settings: settings)
                }
            }
            if reason is SocketAddressError.UnknownHost {
                return make(.unknownHost, "cannot find the host of PostgreSQL at \(target): \(reason)")
            }
            if let io = reason as? IOError {
                return refused(io.errnoCode, target: target, settings: settings)
            }
        }
        switch psql.code {
        case .serverClosedConnection, .uncleanShutdown, .clientClosedConnection:
            return make(.connectionLost, "PostgreSQL at \(target) closed the connection while it was being set up (\(psql.code))")
        default:
            return make(.client, "cannot connect to PostgreSQL at \(target): \(reasons.last.map { "\($0)" } ?? "\(psql.code)")")
        }
    }

    private static func refused(_ code: Int32, target: String, settings: ConnectionSettings) -> PostgresClientError {
        let name = String(cString: strerror(code))
        switch (code, settings.endpoint) {
        case (ENOENT, .unixSocket):
            return PostgresClientError(.connectionRefused,
                "no PostgreSQL server listens at \(target): the socket \"\(settings.endpoint.socketPath ?? "")\" does not exist",
                hint: "start the server, or give host= and port= for where it runs", server: target)
        case (ECONNREFUSED, _):
            return PostgresClientError(.connectionRefused, "no PostgreSQL server listens at \(target): connection refused",
                hint: "start the server, or check host and port", server: target)
        default:
            return PostgresClientError(.connectionRefused, "cannot reach PostgreSQL at \(target): \(name)", server: target)
        }
    }

    private static func tlsReason(_ error: any Error) -> String? {
        switch error {
        case let e as NIOSSLError: return "\(e)"
        case let e as BoringSSLError: return "\(e)"
        case let e as NIOSSLExtraError: return "\(e)"
        default: return nil
        }
    }
}

/// Turns what PostgresNIO throws for a statement into a `PostgresClientError`.
enum QueryFailure {
    static func describe(_ error: any Error, sql: String, settings: ConnectionSettings) -> PostgresClientError {
        let target = settings.display
        if let error = error as? PostgresClientError { return error }
        guard let psql = error as? PSQLError else {
            return PostgresClientError(.client, "\(excerpt(sql)) on \(target) failed: \(error)", server: target)
        }
        switch psql.code {
        case .server:
            let info = psql.serverInfo
            let state = info?[.sqlState] ?? "?????"
            return PostgresClientError(.server,
                                 "PostgreSQL at \(target) refused \(excerpt(sql)): \(info?[.message] ?? "(no message)") [SQLSTATE \(state)]",
                                 sqlState: info?[.sqlState], serverMessage: info?[.message], detail: info?[.detail],
                                 hint: info?[.hint], server: target)
        case .serverClosedConnection, .uncleanShutdown, .clientClosedConnection, .connectionError:
            return PostgresClientError(.connectionLost,
                                 "the connection to PostgreSQL at \(target) was lost during \(excerpt(sql))\(psql.underlying.map { ": \($0)" } ?? "")",
                                 server: target)
        default:
            return PostgresClientError(.client, "\(excerpt(sql)) on \(target) failed: \(psql.code)\(psql.underlying.map { ": \($0)" } ?? "")",
                                 server: target)
        }
    }

    /// The statement's first words, for a message: "`SELECT a, b FROM files WHERE …`".
    static func excerpt(_ sql: String) -> String {
        let flat = sql.split(whereSeparator: { $0 == "\n" || $0 == "\t" || $0 == " " }).joined(separator: " ")
        return "`" + (flat.count > 72 ? String(flat.prefix(72)) + " …" : flat) + "`"
    }
}
