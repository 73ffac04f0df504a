#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// libpq's `sslmode`, from weakest to strongest.
public enum SSLMode: String, Sendable, CaseIterable, Equatable {
    /// Never TLS.
    case disable
    /// Plain first; TLS only when the server insists.
    case allow
    /// TLS when the server offers it, plain otherwise; the certificate is not checked.
    case prefer
    /// TLS or fail; the certificate is not checked (unless a root certificate file exists, then
    /// as `verify-ca`, as libpq does).
    case require
    /// TLS, and the server's certificate must chain to `sslrootcert`.
    case verifyCA = "verify-ca"
    /// As `verify-ca`, and the certificate must name the host.
    case verifyFull = "verify-full"
}

/// Where the server is.
public enum PostgresEndpoint: Sendable, Equatable {
    case tcp(host: String, port: Int)
    /// A Unix-domain socket: `directory/.s.PGSQL.port`, libpq's naming.
    case unixSocket(directory: String, port: Int)

    public var port: Int {
        switch self { case .tcp(_, let port), .unixSocket(_, let port): port }
    }

    /// The socket file for `.unixSocket`.
    public var socketPath: String? {
        if case .unixSocket(let directory, let port) = self {
            return (directory.hasSuffix("/") ? directory : directory + "/") + ".s.PGSQL.\(port)"
        }
        return nil
    }
}

/// Where a password came from (for messages: "password retrieved from file ...").
public enum PasswordSource: Sendable, Equatable {
    case none
    case url
    case environment
    case passwordFile(String)
}

/// Everything needed to open a session: the URL, the environment and the password file
/// resolved with libpq's precedence (URL, then `PG*` environment variables, then libpq's
/// defaults). `password` is never part of `display` or `description`.
public struct ConnectionSettings: Sendable, Equatable, CustomStringConvertible {
    public var endpoint: PostgresEndpoint
    public var user: String
    public var password: String?
    public var passwordSource: PasswordSource
    public var database: String
    public var sslMode: SSLMode
    /// `sslrootcert`: a PEM file of trusted roots, or `system` for the system's trust store.
    public var sslRootCert: String?
    /// Whether `sslRootCert` was given (URL or PGSSLROOTCERT) rather than found at
    /// `~/.postgresql/root.crt`.
    public var sslRootCertGiven: Bool
    public var sslMinProtocolVersion: String?
    public var sslMaxProtocolVersion: String?
    /// `connect_timeout`; nil waits without a limit (libpq: 0 or negative).
    public var connectTimeoutSeconds: Int?
    /// `application_name` or `fallback_application_name` given by the user: SiloMerge appends it
    /// to its own `silomerge <host> <pid>`.
    public var applicationLabel: String?
    /// `options` (e.g. `-c statement_timeout=0`), sent at startup.
    public var options: String?
    /// Things the user should know (an ignored password file), never a password.
    public var warnings: [String]

    /// `connect_timeout` when neither the URL nor PGCONNECT_TIMEOUT sets one. libpq waits without
    /// a limit; a nightly job must not hang on a black-holed address, so SiloMerge stops at 30 s.
    public static let defaultConnectTimeoutSeconds = 30

    /// `postgresql://user@host:5432/db`, or `postgresql://user@:5432/db?host=/socket/folder` for a
    /// Unix socket: a URL that libpq reads back to the same server. Never the password.
    public var display: String {
        var text = "postgresql://" + Self.encode(user, keep: Self.unreservedBytes) + "@"
        switch endpoint {
        case .tcp(let host, let port):
            text += host.contains(":") ? "[\(host)]" : Self.encode(host, keep: Self.unreservedBytes)
            text += ":\(port)/" + Self.encode(database, keep: Self.unreservedBytes)
        case .unixSocket(let directory, let port):
            text += ":\(port)/" + Self.encode(database, keep: Self.unreservedBytes)
            text += "?host=" + Self.encode(directory, keep: Self.unreservedBytes.union([UInt8(ascii: "/")]))
        }
        return text
    }

    public var description: String { display }

    private static let unreservedBytes: Set<UInt8> = Set(
        Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8))

    private static func encode(_ text: String, keep: Set<UInt8>) -> String {
        var out = ""
        for b in text.utf8 {
            if keep.contains(b) { out.unicodeScalars.append(Unicode.Scalar(b)) }
            else {
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(b >> 4)], hex[Int(b & 15)]], as: UTF8.self)
            }
        }
        return out
    }
}

extension ConnectionSettings: CustomReflectable {
    /// `dump()` and debuggers see every field but the password.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "endpoint": endpoint, "user": user, "password": password == nil ? "(none)" : "(hidden)",
            "passwordSource": passwordSource, "database": database, "sslMode": sslMode, "sslRootCert": sslRootCert as Any,
            "connectTimeoutSeconds": connectTimeoutSeconds as Any, "applicationLabel": applicationLabel as Any,
            "options": options as Any, "warnings": warnings,
        ])
    }
}

/// Resolves connection settings the way libpq does, with every outside input injectable so each
/// rule can be tested.
public struct ConnectionResolver: Sendable {
    /// The environment (`PGHOST`, `PGPASSWORD`, ...).
    public var environment: [String: String]
    /// The home folder, for `~/.pgpass` and `~/.postgresql/root.crt`; nil when there is none.
    public var homeDirectory: String?
    /// The operating-system user name: libpq's default for `user` (and so for `dbname`).
    public var osUserName: String?
    /// Whether a path exists (socket discovery, root certificate).
    public var fileExists: @Sendable (String) -> Bool
    /// Socket folders tried in order when no host is given (libpq's DEFAULT_PGSOCKET_DIR: Debian
    /// and Ubuntu build it as /var/run/postgresql, upstream as /tmp). The first one holding the
    /// port's socket is used; with none, the first.
    public var defaultSocketDirectories: [String]

    public init(environment: [String: String], homeDirectory: String?, osUserName: String?,
                fileExists: @escaping @Sendable (String) -> Bool,
                defaultSocketDirectories: [String] = ["/var/run/postgresql", "/tmp"]) {
        self.environment = environment; self.homeDirectory = homeDirectory; self.osUserName = osUserName
        self.fileExists = fileExists; self.defaultSocketDirectories = defaultSocketDirectories
    }

    /// The resolver for this process: its environment, `HOME` (or the password database), its user.
    public static func current() -> ConnectionResolver {
        var environment: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        let pw = getpwuid(geteuid())
        var home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 }
        if home == nil, let pw, let dir = pw.pointee.pw_dir { home = String(cString: dir) }
        let user = pw.flatMap { $0.pointee.pw_name }.map { String(cString: $0) }
        return ConnectionResolver(environment: environment, homeDirectory: home, osUserName: user,
                                  fileExists: { access($0, F_OK) == 0 })
    }

    /// Settings for a connection URI (`postgresql://...`), with the environment and defaults filling
    /// what the URI leaves out, and the password file consulted when no password is given.
    public func resolve(uri: String) throws(PostgresClientError) -> ConnectionSettings {
        try resolve(ConnectionParameters.parse(uri: uri))
    }

    /// Settings for keyword/value parameters (from a URI or built by hand).
    public func resolve(_ given: ConnectionParameters) throws(PostgresClientError) -> ConnectionSettings {
        var values = given.values
        var fromEnvironment: [String: String] = [:]   // keyword -> variable name, for messages
        for (keyword, variable) in LibpqKeyword.environment where values[keyword] == nil {
            if let value = environment[variable] {
                values[keyword] = value
                fromEnvironment[keyword] = variable
            }
        }
        // PGREQUIRESSL=1 (deprecated) when neither sslmode nor PGSSLMODE is set.
        if values["sslmode"] == nil, let requireSSL = environment["PGREQUIRESSL"], requireSSL.hasPrefix("1") {
            values["sslmode"] = "require"
            fromEnvironment["sslmode"] = "PGREQUIRESSL"
        }
        func origin(_ keyword: String) -> String {
            if let variable = fromEnvironment[keyword] { return "\(variable) (environment)" }
            return "\(keyword) (connection URL)"
        }
        func invalid(_ text: String) -> PostgresClientError { PostgresClientError(.invalidSettings, text) }

        // What cannot be honoured is refused, naming where it came from.
        for keyword in values.keys.sorted() {
            guard let rule = LibpqKeyword.unsupported[keyword], let value = values[keyword], !value.isEmpty else { continue }
            if !rule.harmless.contains(value) {
                let shown = keyword == "sslpassword" ? "…" : value
                throw invalid("SiloMerge cannot honour \(origin(keyword)) = \"\(shown)\": \(rule.why)")
            }
        }

        // Port: libpq's integer rules (surrounding white space allowed), 1...65535.
        var port = 5432
        if let text = values["port"], !text.isEmpty {
            guard let n = Self.parseInteger(text), (1...65535).contains(n) else {
                throw invalid("invalid port \"\(text)\" in \(origin("port")): a number from 1 to 65535 is needed")
            }
            port = n
        }
        let portText = values["port"].flatMap { $0.isEmpty ? nil : $0 } ?? "5432"

        // Host: a leading '/' is a socket folder; nothing means the default socket folder.
        let endpoint: PostgresEndpoint
        var atDefaultSocket = false
        let host = values["host"] ?? ""
        if host.isEmpty {
            let socketFile = ".s.PGSQL.\(port)"
            let directory = defaultSocketDirectories.first { fileExists(($0.hasSuffix("/") ? $0 : $0 + "/") + socketFile) }
                ?? defaultSocketDirectories.first ?? "/tmp"
            endpoint = .unixSocket(directory: directory, port: port)
            atDefaultSocket = true
        } else if host.hasPrefix("/") {
            endpoint = .unixSocket(directory: host, port: port)
            atDefaultSocket = defaultSocketDirectories.contains(host)
        } else if host.hasPrefix("@") {
            throw invalid("\(origin("host")) names an abstract Unix socket (\"\(host)\"), which SiloMerge cannot reach; give a socket folder or a host name")
        } else {
            endpoint = .tcp(host: host, port: port)
        }

        // User: libpq falls back to the operating-system user; dbname falls back to the user.
        guard let user = values["user"].flatMap({ $0.isEmpty ? nil : $0 }) ?? osUserName, !user.isEmpty else {
            throw invalid("no database user: give one in the URL (postgresql://USER@host/db) or in PGUSER")
        }
        let database = values["dbname"].flatMap { $0.isEmpty ? nil : $0 } ?? user

        // sslmode (libpq: sslrootcert=system without sslmode means verify-full).
        let rootCertGiven = values["sslrootcert"].flatMap { $0.isEmpty ? nil : $0 }
        var sslMode = SSLMode.prefer
        if let text = values["sslmode"], !text.isEmpty {
            guard let mode = SSLMode(rawValue: text) else {
                throw invalid("invalid sslmode \"\(text)\" in \(origin("sslmode")): use one of disable, allow, prefer, require, verify-ca, verify-full")
            }
            sslMode = mode
        } else if rootCertGiven == "system" {
            sslMode = .verifyFull
        }
        if rootCertGiven == "system", sslMode != .verifyFull {
            // libpq: "weak sslmode ... may not be used with sslrootcert=system".
            throw invalid("sslrootcert=system needs sslmode=verify-full (it is \(sslMode.rawValue)): the system's roots trust any host they have a certificate for")
        }
        var rootCert = rootCertGiven
        if rootCert == nil, let homeDirectory {
            let path = (homeDirectory.hasSuffix("/") ? homeDirectory : homeDirectory + "/") + ".postgresql/root.crt"
            if fileExists(path) { rootCert = path }
            else if sslMode == .verifyCA || sslMode == .verifyFull, case .tcp = endpoint {
                throw invalid("sslmode=\(sslMode.rawValue) needs the server's root certificate, and \"\(path)\" does not exist: give sslrootcert=FILE, use sslrootcert=system for the system's trusted roots, or weaken sslmode")
            }
        }
        if (sslMode == .verifyCA || sslMode == .verifyFull), rootCert == nil, case .tcp = endpoint {
            throw invalid("sslmode=\(sslMode.rawValue) needs the server's root certificate: give sslrootcert=FILE or sslrootcert=system")
        }
        if let rootCert, rootCert != "system", sslMode != .disable, case .tcp = endpoint, !fileExists(rootCert) {
            throw invalid("the root certificate file \"\(rootCert)\" (\(origin("sslrootcert"))) does not exist")
        }
        for keyword in ["ssl_min_protocol_version", "ssl_max_protocol_version"] {
            if let text = values[keyword], !text.isEmpty, TLSVersion(text) == nil {
                throw invalid("invalid \(origin(keyword)) \"\(text)\": use TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3")
            }
        }
        if let min = values["ssl_min_protocol_version"].flatMap(TLSVersion.init),
           let max = values["ssl_max_protocol_version"].flatMap(TLSVersion.init), min > max {
            throw invalid("ssl_min_protocol_version (\(min)) is above ssl_max_protocol_version (\(max))")
        }

        // connect_timeout: seconds; 0 or negative waits without a limit; 1 means 2 (libpq).
        var timeout: Int? = ConnectionSettings.defaultConnectTimeoutSeconds
        if let text = values["connect_timeout"], !text.isEmpty {
            guard let n = Self.parseInteger(text) else {
                throw invalid("invalid connect_timeout \"\(text)\" in \(origin("connect_timeout")): a whole number of seconds is needed")
            }
            timeout = n <= 0 ? nil : Swift.max(n, 2)
        }

        // Password: URL or PGPASSWORD, else the password file.
        var password = values["password"].flatMap { $0.isEmpty ? nil : $0 }
        var source: PasswordSource = password == nil ? .none : (fromEnvironment["password"] != nil ? .environment : .url)
        var warnings: [String] = []
        if password == nil {
            var passfile = values["passfile"].flatMap { $0.isEmpty ? nil : $0 }
            if passfile == nil, let homeDirectory {
                passfile = (homeDirectory.hasSuffix("/") ? homeDirectory : homeDirectory + "/") + ".pgpass"
            }
            if let passfile {
                let hostForFile: String
                switch endpoint {
                case .tcp(let name, _): hostForFile = name
                case .unixSocket(let directory, _): hostForFile = atDefaultSocket ? "localhost" : directory
                }
                let found = PasswordFile.lookup(path: passfile, host: hostForFile, port: portText,
                                                database: database, user: user)
                warnings += found.warnings
                if let p = found.password, !p.isEmpty { password = p; source = .passwordFile(passfile) }
            }
        }

        let label = values["application_name"].flatMap { $0.isEmpty ? nil : $0 }
            ?? values["fallback_application_name"].flatMap { $0.isEmpty ? nil : $0 }
        return ConnectionSettings(
            endpoint: endpoint, user: user, password: password, passwordSource: source, database: database,
            sslMode: sslMode, sslRootCert: rootCert, sslRootCertGiven: rootCertGiven != nil,
            sslMinProtocolVersion: values["ssl_min_protocol_version"].flatMap { $0.isEmpty ? nil : $0 },
            sslMaxProtocolVersion: values["ssl_max_protocol_version"].flatMap { $0.isEmpty ? nil : $0 },
            connectTimeoutSeconds: timeout, applicationLabel: label,
            options: values["options"].flatMap { $0.isEmpty ? nil : $0 }, warnings: warnings)
    }

    /// libpq's `pqParseIntParam`: an optionally signed decimal with white space around it.
    static func parseInteger(_ text: String) -> Int? {
        let trimmed = text.drop { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\u{0B}" || $0 == "\u{0C}" }
        var end = trimmed.endIndex
        while end > trimmed.startIndex {
            let before = trimmed.index(before: end)
            if " \t\n\r\u{0B}\u{0C}".contains(trimmed[before]) { end = before } else { break }
        }
        guard let n = Int32(trimmed[..<end]) else { return nil }
        return Int(n)
    }
}

/// A TLS protocol version as libpq spells it (`TLSv1.2`).
enum TLSVersion: Int, Comparable, CustomStringConvertible {
    case v1_0 = 10, v1_1 = 11, v1_2 = 12, v1_3 = 13

    init?(_ text: String) {
        switch text.lowercased() {
        case "tlsv1": self = .v1_0
        case "tlsv1.1": self = .v1_1
        case "tlsv1.2": self = .v1_2
        case "tlsv1.3": self = .v1_3
        default: return nil
        }
    }

    static func < (a: TLSVersion, b: TLSVersion) -> Bool { a.rawValue < b.rawValue }

    var description: String {
        switch self { case .v1_0: "TLSv1"; case .v1_1: "TLSv1.1"; case .v1_2: "TLSv1.2"; case .v1_3: "TLSv1.3" }
    }
}
