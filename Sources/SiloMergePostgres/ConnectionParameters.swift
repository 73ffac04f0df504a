/// The raw keyword/value pairs of a PostgreSQL connection, as libpq names them (`host`, `port`,
/// `dbname`, `user`, `password`, `sslmode`, ...), before defaults are applied.
///
/// Parsed from a `postgresql://` or `postgres://` URI with libpq's rules (libpq's
/// `conninfo_uri_parse_options`):
///
///     postgresql://[user[:password]@][host][:port][/dbname][?keyword=value&...]
///
/// - every part is optional and percent-decoded (`%00` is refused);
/// - the user part runs up to the first `@` that comes before any `/`;
/// - a host in square brackets is an IPv6 address (`[::1]`);
/// - a host that decodes to an absolute path (`%2Fvar%2Frun%2Fpostgresql`) is a Unix-socket folder;
/// - query parameters override the parts before them (`postgresql:///db?host=/tmp&port=5433`);
/// - `ssl=true` means `sslmode=require` and `requiressl=1|0` means `sslmode=require|prefer`
///   (libpq's compatibility spellings); a keyword libpq does not know is refused.
///
/// Several hosts (`host1,host2`) are refused: the catalogue needs one server.
public struct ConnectionParameters: Sendable, Equatable {
    /// Values by libpq keyword. An empty value is kept (libpq: it hides the environment variable).
    public private(set) var values: [String: String] = [:]

    public init(_ values: [String: String] = [:]) { self.values = values }

    public subscript(keyword: String) -> String? {
        get { values[keyword] }
        set { values[keyword] = newValue }
    }

    /// Whether `text` is a connection URI this parser reads (`postgresql://` or `postgres://`).
    public static func isURI(_ text: String) -> Bool {
        text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
    }

    /// Parses a connection URI. Errors quote the URI with its password removed.
    public static func parse(uri: String) throws(PostgresClientError) -> ConnectionParameters {
        let shown = redacted(uri)
        func fail(_ why: String) -> PostgresClientError {
            PostgresClientError(.invalidSettings, "cannot read the connection URI \(shown): \(why)")
        }
        let bytes = Array(uri.utf8)
        let prefixLength: Int
        if uri.hasPrefix("postgresql://") { prefixLength = 13 }
        else if uri.hasPrefix("postgres://") { prefixLength = 11 }
        else { throw fail("it must start with postgresql:// or postgres://") }

        var params = ConnectionParameters()
        func store(_ keyword: String, _ raw: ArraySlice<UInt8>) throws(PostgresClientError) {
            params.values[keyword] = try decode(raw, part: keyword, shown: shown)
        }

        var p = prefixLength
        // Credentials: look ahead for '@' before the first '/'.
        var q = p
        while q < bytes.count, bytes[q] != UInt8(ascii: "@"), bytes[q] != UInt8(ascii: "/") { q += 1 }
        if q < bytes.count, bytes[q] == UInt8(ascii: "@") {
            var userEnd = p
            while bytes[userEnd] != UInt8(ascii: ":"), bytes[userEnd] != UInt8(ascii: "@") { userEnd += 1 }
            if userEnd > p { try store("user", bytes[p..<userEnd]) }
            if bytes[userEnd] == UInt8(ascii: ":") {
                // libpq takes the password up to the '@' found above.
                let passwordStart = userEnd + 1
                if q > passwordStart { try store("password", bytes[passwordStart..<q]) }
            }
            p = q + 1
        }

        // Host (IPv6 in brackets, or up to ':', '/', '?'), then an optional port.
        var hostBytes: ArraySlice<UInt8> = []
        var terminator: UInt8? = nil
        if p < bytes.count, bytes[p] == UInt8(ascii: "[") {
            let start = p + 1
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "]") { end += 1 }
            if end == bytes.count { throw fail("no \"]\" closes the IPv6 address") }
            if end == start { throw fail("the IPv6 address in [] is empty") }
            hostBytes = bytes[start..<end]
            p = end + 1
            if p < bytes.count, !":/?,".utf8.contains(bytes[p]) {
                throw fail("unexpected \"\(Character(Unicode.Scalar(bytes[p])))\" after the IPv6 address (expected \":\" or \"/\")")
            }
        } else {
            let start = p
            while p < bytes.count, !":/?,".utf8.contains(bytes[p]) { p += 1 }
            hostBytes = bytes[start..<p]
        }
        terminator = p < bytes.count ? bytes[p] : nil
        var portBytes: ArraySlice<UInt8> = []
        if terminator == UInt8(ascii: ":") {
            let start = p + 1
            p = start
            while p < bytes.count, !"/?,".utf8.contains(bytes[p]) { p += 1 }
            portBytes = bytes[start..<p]
            terminator = p < bytes.count ? bytes[p] : nil
        }
        if terminator == UInt8(ascii: ",") {
            throw fail("it names several hosts; SiloMerge connects to one server (name one host)")
        }
        if !hostBytes.isEmpty { try store("host", hostBytes) }
        if !portBytes.isEmpty { try store("port", portBytes) }

        // Database name, up to '?'.
        if terminator == UInt8(ascii: "/") {
            let start = p + 1
            p = start
            while p < bytes.count, bytes[p] != UInt8(ascii: "?") { p += 1 }
            if p > start { try store("dbname", bytes[start..<p]) }
            terminator = p < bytes.count ? bytes[p] : nil
        }

        // Query parameters.
        if terminator == UInt8(ascii: "?") {
            p += 1
            while p < bytes.count {
                let start = p
                var equals: Int? = nil
                while p < bytes.count, bytes[p] != UInt8(ascii: "&") {
                    if bytes[p] == UInt8(ascii: "=") {
                        if equals != nil {
                            throw fail("a second \"=\" in the query parameter \"\(redactedParameter(bytes[start..<p]))\"")
                        }
                        equals = p
                    }
                    p += 1
                }
                guard let equals else {
                    throw fail("the query parameter \"\(String(decoding: bytes[start..<p], as: UTF8.self))\" has no \"=\"")
                }
                var keyword = try decode(bytes[start..<equals], part: "query parameter name", shown: shown)
                var value = try decode(bytes[(equals + 1)..<p], part: keyword, shown: shown)
                if p < bytes.count { p += 1 }  // skip '&'
                // libpq's compatibility spellings.
                if keyword == "ssl" && value == "true" { keyword = "sslmode"; value = "require" }
                if keyword == "requiressl" { keyword = "sslmode"; value = value.hasPrefix("1") ? "require" : "prefer" }
                guard LibpqKeyword.all.contains(keyword) else {
                    throw fail("unknown query parameter \"\(keyword)\" (libpq does not define it)")
                }
                params.values[keyword] = value
            }
        }
        return params
    }

    /// Percent-decodes one part of a URI (libpq's `conninfo_uri_decode`): `%xy` with two hex
    /// digits; `%00` and a stray `%` are refused; the result must be UTF-8.
    static func decode(_ raw: ArraySlice<UInt8>, part: String, shown: String) throws(PostgresClientError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = raw.startIndex
        while i < raw.endIndex {
            let b = raw[i]
            if b != UInt8(ascii: "%") { out.append(b); i += 1; continue }
            guard raw.distance(from: i, to: raw.endIndex) >= 3,
                  let hi = hexValue(raw[i + 1]), let lo = hexValue(raw[i + 2]) else {
                let what = part == "password" ? "the password" : "\"\(part)\""
                throw PostgresClientError(.invalidSettings,
                    "cannot read the connection URI \(shown): a \"%\" in \(what) is not followed by two hex digits")
            }
            let value = hi << 4 | lo
            if value == 0 {
                let what = part == "password" ? "the password" : "\"\(part)\""
                throw PostgresClientError(.invalidSettings, "cannot read the connection URI \(shown): %00 in \(what) is not allowed")
            }
            out.append(value)
            i += 3
        }
        guard let text = String(validating: out, as: UTF8.self) else {
            let what = part == "password" ? "the password" : "\"\(part)\""
            throw PostgresClientError(.invalidSettings,
                "cannot read the connection URI \(shown): \(what) is not valid UTF-8 once percent-decoded")
        }
        return text
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func redactedParameter(_ raw: ArraySlice<UInt8>) -> String {
        let text = String(decoding: raw, as: UTF8.self)
        if text.hasPrefix("password=") { return "password=…" }
        return text
    }

    /// The URI with its password (in the user part or as `password=`) replaced by `…`, for messages.
    public static func redacted(_ uri: String) -> String {
        var bytes = Array(uri.utf8)
        let prefixLength = uri.hasPrefix("postgresql://") ? 13 : uri.hasPrefix("postgres://") ? 11 : 0
        if prefixLength > 0 {
            var q = prefixLength
            while q < bytes.count, bytes[q] != UInt8(ascii: "@"), bytes[q] != UInt8(ascii: "/") { q += 1 }
            if q < bytes.count, bytes[q] == UInt8(ascii: "@"),
               let colon = bytes[prefixLength..<q].firstIndex(of: UInt8(ascii: ":")) {
                bytes.replaceSubrange((colon + 1)..<q, with: Array("…".utf8))
            }
        }
        // password=... in the query (any position).
        if let question = bytes.firstIndex(of: UInt8(ascii: "?")) {
            var p = question + 1
            while p < bytes.count {
                var end = p
                while end < bytes.count, bytes[end] != UInt8(ascii: "&") { end += 1 }
                let pair = bytes[p..<end]
                if pair.starts(with: Array("password=".utf8)) {
                    let valueStart = p + 9
                    bytes.replaceSubrange(valueStart..<end, with: Array("…".utf8))
                    end = valueStart + 3
                }
                p = end + 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// libpq's connection keywords (PostgreSQL 17), and what SiloMerge does with each.
enum LibpqKeyword {
    /// Every keyword libpq defines: anything else in a URI is an error, as in libpq.
    static let all: Set<String> = [
        "service", "user", "password", "passfile", "channel_binding", "connect_timeout", "dbname", "host",
        "hostaddr", "port", "client_encoding", "options", "application_name", "fallback_application_name",
        "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
        "sslmode", "sslnegotiation", "sslcompression", "sslcert", "sslkey", "sslcertmode", "sslpassword",
        "sslrootcert", "sslcrl", "sslcrldir", "sslsni", "requirepeer", "require_auth",
        "ssl_min_protocol_version", "ssl_max_protocol_version", "gssencmode", "krbsrvname", "gsslib",
        "gssdelegation", "replication", "target_session_attrs", "load_balance_hosts",
    ]

    /// The environment variable libpq reads for a keyword, in the order SiloMerge looks them up.
    static let environment: [(keyword: String, variable: String)] = [
        ("service", "PGSERVICE"), ("user", "PGUSER"), ("password", "PGPASSWORD"), ("passfile", "PGPASSFILE"),
        ("channel_binding", "PGCHANNELBINDING"), ("connect_timeout", "PGCONNECT_TIMEOUT"),
        ("dbname", "PGDATABASE"), ("host", "PGHOST"), ("hostaddr", "PGHOSTADDR"), ("port", "PGPORT"),
        ("client_encoding", "PGCLIENTENCODING"), ("options", "PGOPTIONS"), ("application_name", "PGAPPNAME"),
        ("sslmode", "PGSSLMODE"), ("sslnegotiation", "PGSSLNEGOTIATION"), ("sslcompression", "PGSSLCOMPRESSION"),
        ("sslcert", "PGSSLCERT"), ("sslkey", "PGSSLKEY"), ("sslcertmode", "PGSSLCERTMODE"),
        ("sslrootcert", "PGSSLROOTCERT"), ("sslcrl", "PGSSLCRL"), ("sslcrldir", "PGSSLCRLDIR"),
        ("sslsni", "PGSSLSNI"), ("requirepeer", "PGREQUIREPEER"), ("require_auth", "PGREQUIREAUTH"),
        ("ssl_min_protocol_version", "PGSSLMINPROTOCOLVERSION"),
        ("ssl_max_protocol_version", "PGSSLMAXPROTOCOLVERSION"), ("gssencmode", "PGGSSENCMODE"),
        ("krbsrvname", "PGKRBSRVNAME"), ("gsslib", "PGGSSLIB"), ("gssdelegation", "PGGSSDELEGATION"),
        ("target_session_attrs", "PGTARGETSESSIONATTRS"), ("load_balance_hosts", "PGLOADBALANCEHOSTS"),
    ]

    /// Keywords SiloMerge cannot honour, with the values that mean "nothing to do" (libpq's
    /// defaults or equivalents) and why any other value is refused.
    static let unsupported: [String: (harmless: Set<String>, why: String)] = [
        "service": ([], "service files (pg_service.conf) are not read; put the settings in the URL"),
        "hostaddr": ([], "give the address as host"),
        "channel_binding": (["disable", "prefer"], "channel binding cannot be required by SiloMerge's PostgreSQL client"),
        "client_encoding": (["UTF8", "utf8", "UTF-8", "utf-8", "auto"], "SiloMerge always talks UTF-8 to the server"),
        "keepalives": ([], "TCP keepalive settings are not available in SiloMerge's PostgreSQL client"),
        "keepalives_idle": ([], "TCP keepalive settings are not available in SiloMerge's PostgreSQL client"),
        "keepalives_interval": ([], "TCP keepalive settings are not available in SiloMerge's PostgreSQL client"),
        "keepalives_count": ([], "TCP keepalive settings are not available in SiloMerge's PostgreSQL client"),
        "tcp_user_timeout": ([], "TCP timeouts other than connect_timeout are not available"),
        "sslnegotiation": (["postgres"], "only the standard TLS negotiation (sslnegotiation=postgres) is available"),
        "sslcompression": (["0"], "TLS compression is not available (and is insecure)"),
        "sslcert": ([], "client certificates are not supported yet; authenticate with a password"),
        "sslkey": ([], "client certificates are not supported yet; authenticate with a password"),
        "sslpassword": ([], "client certificates are not supported yet; authenticate with a password"),
        "sslcertmode": (["disable", "allow"], "client certificates are not supported yet"),
        "sslcrl": ([], "certificate revocation lists are not supported"),
        "sslcrldir": ([], "certificate revocation lists are not supported"),
        "sslsni": (["1"], "server name indication cannot be turned off"),
        "requirepeer": ([], "peer-credential checks are not supported"),
        "require_auth": ([], "restricting authentication methods is not supported"),
        "gssencmode": (["disable", "prefer"], "GSSAPI encryption is not supported"),
        "krbsrvname": ([], "Kerberos/GSSAPI authentication is not supported"),
        "gsslib": ([], "Kerberos/GSSAPI authentication is not supported"),
        "gssdelegation": (["0"], "Kerberos/GSSAPI authentication is not supported"),
        "replication": ([], "replication connections are not what a catalogue needs"),
        "target_session_attrs": (["any"], "SiloMerge connects to one server and does not check its role"),
        "load_balance_hosts": (["disable"], "SiloMerge connects to one server"),
    ]
}
