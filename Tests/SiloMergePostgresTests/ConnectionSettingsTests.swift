import Foundation
import Testing
@testable import SiloMergePostgres

/// A resolver that sees only what a test gives it: no real environment, home or files.
func resolver(_ environment: [String: String] = [:], home: String? = nil, osUser: String? = "osuser",
              files: Set<String> = [], socketDirectories: [String] = ["/var/run/postgresql", "/tmp"]) -> ConnectionResolver {
    ConnectionResolver(environment: environment, homeDirectory: home, osUserName: osUser,
                       fileExists: { files.contains($0) }, defaultSocketDirectories: socketDirectories)
}

func parseError(_ uri: String) -> PostgresClientError? {
    do { _ = try ConnectionParameters.parse(uri: uri); return nil } catch { return error }
}

func resolveError(_ uri: String, _ r: ConnectionResolver = resolver()) -> PostgresClientError? {
    do { _ = try r.resolve(uri: uri); return nil } catch { return error }
}

@Suite("libpq connection URIs")
struct ConnectionURITests {
    @Test("every part of a full URI, both schemes")
    func fullURI() throws {
        for scheme in ["postgresql", "postgres"] {
            let p = try ConnectionParameters.parse(
                uri: "\(scheme)://alice:s3cret@db.example.org:6543/catalogue?sslmode=require&application_name=nightly&connect_timeout=7")
            #expect(p.values == ["user": "alice", "password": "s3cret", "host": "db.example.org", "port": "6543",
                                 "dbname": "catalogue", "sslmode": "require", "application_name": "nightly",
                                 "connect_timeout": "7"])
        }
    }

    @Test("each part is optional")
    func optionalParts() throws {
        #expect(try ConnectionParameters.parse(uri: "postgresql://").values == [:])
        #expect(try ConnectionParameters.parse(uri: "postgresql://localhost").values == ["host": "localhost"])
        #expect(try ConnectionParameters.parse(uri: "postgresql://localhost:5433").values == ["host": "localhost", "port": "5433"])
        #expect(try ConnectionParameters.parse(uri: "postgresql://localhost/mydb").values == ["host": "localhost", "dbname": "mydb"])
        #expect(try ConnectionParameters.parse(uri: "postgresql://user@localhost").values == ["user": "user", "host": "localhost"])
        #expect(try ConnectionParameters.parse(uri: "postgresql:///mydb").values == ["dbname": "mydb"])
        // An empty password is no password (libpq does not store it).
        #expect(try ConnectionParameters.parse(uri: "postgresql://user:@h").values == ["user": "user", "host": "h"])
        #expect(try ConnectionParameters.parse(uri: "postgresql://h/?sslmode=disable").values == ["host": "h", "sslmode": "disable"])
    }

    @Test("percent-decoding in every part; %2F hosts are socket folders")
    func percentDecoding() throws {
        let p = try ConnectionParameters.parse(
            uri: "postgresql://us%40er:p%3Ass%2Fw%C3%B6rd@%2Fvar%2Frun%2Fpostgresql/my%20db?options=-c%20synchronous_commit%3Doff")
        #expect(p["user"] == "us@er")
        #expect(p["password"] == "p:ss/wörd")
        #expect(p["host"] == "/var/run/postgresql")
        #expect(p["dbname"] == "my db")
        #expect(p["options"] == "-c synchronous_commit=off")
        let settings = try resolver().resolve(p)
        #expect(settings.endpoint == .unixSocket(directory: "/var/run/postgresql", port: 5432))
        // Lower-case hex works too.
        #expect(try ConnectionParameters.parse(uri: "postgresql://h/a%2fb").values["dbname"] == "a/b")
    }

    @Test("IPv6 addresses in brackets")
    func ipv6() throws {
        #expect(try ConnectionParameters.parse(uri: "postgresql://[::1]:5433/db").values == ["host": "::1", "port": "5433", "dbname": "db"])
        #expect(try ConnectionParameters.parse(uri: "postgresql://u@[2001:db8::1234]/db").values == ["user": "u", "host": "2001:db8::1234", "dbname": "db"])
        #expect(try ConnectionParameters.parse(uri: "postgresql://[::1]").values == ["host": "::1"])
        #expect(try ConnectionParameters.parse(uri: "postgresql://[::1]?sslmode=disable").values == ["host": "::1", "sslmode": "disable"])
        #expect(parseError("postgresql://[::1/db")?.message.contains("no \"]\"") == true)
        #expect(parseError("postgresql://[]/db")?.message.contains("empty") == true)
        #expect(parseError("postgresql://[::1]x/db")?.message.contains("unexpected \"x\"") == true)
        let settings = try resolver().resolve(uri: "postgresql://u@[::1]:5433/db")
        #expect(settings.endpoint == .tcp(host: "::1", port: 5433))
        #expect(settings.display == "postgresql://u@[::1]:5433/db")
    }

    @Test("query parameters override the parts before them")
    func parametersOverride() throws {
        let p = try ConnectionParameters.parse(uri: "postgresql://h1:1111/db1?host=/tmp&port=5433&dbname=db2&user=bob")
        #expect(p.values == ["host": "/tmp", "port": "5433", "dbname": "db2", "user": "bob"])
        let s = try resolver().resolve(p)
        #expect(s.endpoint == .unixSocket(directory: "/tmp", port: 5433))
        #expect(s.endpoint.socketPath == "/tmp/.s.PGSQL.5433")
    }

    @Test("libpq's compatibility spellings: ssl=true, requiressl")
    func compatibilitySpellings() throws {
        #expect(try ConnectionParameters.parse(uri: "postgresql://h?ssl=true")["sslmode"] == "require")
        #expect(try ConnectionParameters.parse(uri: "postgresql://h?requiressl=1")["sslmode"] == "require")
        #expect(try ConnectionParameters.parse(uri: "postgresql://h?requiressl=0")["sslmode"] == "prefer")
        // ssl=false is not a keyword libpq knows.
        #expect(parseError("postgresql://h?ssl=false")?.message.contains("unknown query parameter \"ssl\"") == true)
    }

    @Test("malformed URIs are refused with the reason")
    func malformed() {
        #expect(parseError("mysql://h/db")?.message.contains("must start with postgresql://") == true)
        #expect(parseError("postgresql://h/db?nosuch=1")?.message.contains("unknown query parameter \"nosuch\"") == true)
        #expect(parseError("postgresql://h/db?sslmode")?.message.contains("has no \"=\"") == true)
        #expect(parseError("postgresql://h/db?sslmode=a=b")?.message.contains("a second \"=\"") == true)
        #expect(parseError("postgresql://h/d%zzb")?.message.contains("not followed by two hex digits") == true)
        #expect(parseError("postgresql://h/db%4")?.message.contains("not followed by two hex digits") == true)
        #expect(parseError("postgresql://h/d%00b")?.message.contains("%00") == true)
        #expect(parseError("postgresql://h/d%ffb")?.message.contains("not valid UTF-8") == true)
        #expect(parseError("postgresql://h1,h2/db")?.message.contains("several hosts") == true)
        #expect(parseError("postgresql://h1:5432,h2:5433/db")?.message.contains("several hosts") == true)
        for error in [parseError("postgresql://h/db?nosuch=1")] { #expect(error?.kind == .invalidSettings) }
    }

    @Test("no message ever shows the password")
    func passwordNeverShown() throws {
        let secret = "Hunter2Secret"
        let bad = [
            "postgresql://alice:\(secret)@h/d%zz",
            "postgresql://alice:\(secret)@h/db?nosuch=1",
            "postgresql://alice:\(secret)@[::1/db",
            "postgresql://h/db?password=\(secret)&sslmode",
            "postgresql://h/db?password=\(secret)&bad=1",
            "postgresql://alice:\(secret)@h1,h2/db",
            "postgresql://h/db?password=\(secret)%zz",
        ]
        for uri in bad {
            let error = try #require(parseError(uri), "\(uri) should be refused")
            #expect(!error.description.contains(secret), "\(error)")
        }
        let resolveBad = [
            "postgresql://alice:\(secret)@h:99999/db",
            "postgresql://alice:\(secret)@h/db?sslmode=sometimes",
            "postgresql://alice:\(secret)@h/db?sslcert=/x",
            "postgresql://alice:\(secret)@h/db?sslpassword=\(secret)",
        ]
        for uri in resolveBad {
            let error = try #require(resolveError(uri), "\(uri) should be refused")
            #expect(!error.description.contains(secret), "\(error)")
        }
        let settings = try resolver().resolve(uri: "postgresql://alice:\(secret)@h/db")
        #expect(settings.password == secret)
        #expect(!settings.display.contains(secret))
        #expect(!"\(settings)".contains(secret))
        #expect(!String(reflecting: settings).contains(secret))
        var dumped = ""
        dump(settings, to: &dumped)
        #expect(!dumped.contains(secret))
        #expect(dumped.contains("(hidden)"))
        #expect(ConnectionParameters.redacted("postgresql://alice:\(secret)@h/db?password=\(secret)&x=1")
                == "postgresql://alice:…@h/db?password=…&x=1")
    }
}

@Suite("libpq environment, defaults and precedence")
struct ConnectionResolverTests {
    @Test("defaults: the socket folder holding the server, port 5432, the OS user, dbname = user, prefer")
    func defaults() throws {
        let s = try resolver(files: ["/tmp/.s.PGSQL.5432"]).resolve(uri: "postgresql://")
        #expect(s.endpoint == .unixSocket(directory: "/tmp", port: 5432))
        #expect(s.user == "osuser")
        #expect(s.database == "osuser")
        #expect(s.sslMode == .prefer)
        #expect(s.password == nil)
        #expect(s.connectTimeoutSeconds == ConnectionSettings.defaultConnectTimeoutSeconds)
        // No socket found anywhere: the first folder (where the error will point).
        let none = try resolver().resolve(uri: "postgresql:///db")
        #expect(none.endpoint == .unixSocket(directory: "/var/run/postgresql", port: 5432))
        #expect(none.display == "postgresql://osuser@:5432/db?host=/var/run/postgresql")
        // The socket's name follows the port.
        let p = try resolver(files: ["/var/run/postgresql/.s.PGSQL.6000"]).resolve(uri: "postgresql://:6000/db")
        #expect(p.endpoint.socketPath == "/var/run/postgresql/.s.PGSQL.6000")
    }

    @Test("PG* environment variables fill what the URI leaves out")
    func environment() throws {
        let env = ["PGHOST": "envhost", "PGPORT": "6000", "PGUSER": "envuser", "PGPASSWORD": "envpw",
                   "PGDATABASE": "envdb", "PGSSLMODE": "require", "PGCONNECT_TIMEOUT": "9", "PGAPPNAME": "cron"]
        let s = try resolver(env).resolve(uri: "postgresql://")
        #expect(s.endpoint == .tcp(host: "envhost", port: 6000))
        #expect(s.user == "envuser")
        #expect(s.password == "envpw")
        #expect(s.passwordSource == .environment)
        #expect(s.database == "envdb")
        #expect(s.sslMode == .require)
        #expect(s.connectTimeoutSeconds == 9)
        #expect(s.applicationLabel == "cron")
        // The URI wins over the environment.
        let u = try resolver(env).resolve(uri: "postgresql://urluser:urlpw@urlhost:7000/urldb?sslmode=disable&application_name=x")
        #expect(u.endpoint == .tcp(host: "urlhost", port: 7000))
        #expect(u.user == "urluser")
        #expect(u.password == "urlpw")
        #expect(u.passwordSource == .url)
        #expect(u.database == "urldb")
        #expect(u.sslMode == .disable)
        #expect(u.applicationLabel == "x")
        // An empty query value hides the variable (libpq): host= means the default socket.
        let e = try resolver(env).resolve(uri: "postgresql:///db?host=")
        #expect(e.endpoint == .unixSocket(directory: "/var/run/postgresql", port: 6000))
        // PGREQUIRESSL=1, the old spelling, when PGSSLMODE is not set.
        #expect(try resolver(["PGREQUIRESSL": "1"]).resolve(uri: "postgresql://h").sslMode == .require)
        #expect(try resolver(["PGREQUIRESSL": "1", "PGSSLMODE": "disable"]).resolve(uri: "postgresql://h").sslMode == .disable)
        // fallback_application_name is used when application_name is not given.
        #expect(try resolver().resolve(uri: "postgresql://h?fallback_application_name=fb").applicationLabel == "fb")
    }

    @Test("port and connect_timeout follow libpq's integer rules")
    func integers() throws {
        #expect(try resolver().resolve(uri: "postgresql://h/db?port=%205433%20").endpoint == .tcp(host: "h", port: 5433))
        for bad in ["0", "65536", "abc", "54x", "-1"] {
            let error = resolveError("postgresql://h/db?port=\(bad)")
            #expect(error?.kind == .invalidSettings)
            #expect(error?.message.contains("invalid port \"\(bad)\"") == true)
        }
        #expect(resolveError("postgresql://h:abc/db")?.message.contains("invalid port") == true)
        #expect(resolveError("postgresql://h", resolver(["PGPORT": "x"]))?.message.contains("PGPORT (environment)") == true)
        #expect(try resolver().resolve(uri: "postgresql://h?connect_timeout=1").connectTimeoutSeconds == 2)
        #expect(try resolver().resolve(uri: "postgresql://h?connect_timeout=15").connectTimeoutSeconds == 15)
        #expect(try resolver().resolve(uri: "postgresql://h?connect_timeout=0").connectTimeoutSeconds == nil)
        #expect(try resolver().resolve(uri: "postgresql://h?connect_timeout=-3").connectTimeoutSeconds == nil)
        #expect(resolveError("postgresql://h?connect_timeout=soon")?.message.contains("connect_timeout") == true)
    }

    @Test("sslmode values, root certificates, sslrootcert=system")
    func sslModes() throws {
        for mode in SSLMode.allCases where mode != .verifyCA && mode != .verifyFull {
            #expect(try resolver().resolve(uri: "postgresql://h?sslmode=\(mode.rawValue)").sslMode == mode)
        }
        #expect(resolveError("postgresql://h?sslmode=always")?.message.contains("invalid sslmode \"always\"") == true)
        // verify-* needs a root certificate: ~/.postgresql/root.crt, sslrootcert=FILE, or system.
        let missing = resolveError("postgresql://h?sslmode=verify-full", resolver(home: "/home/a"))
        #expect(missing?.message.contains("/home/a/.postgresql/root.crt\" does not exist") == true)
        let found = try resolver(home: "/home/a", files: ["/home/a/.postgresql/root.crt"]).resolve(uri: "postgresql://h?sslmode=verify-ca")
        #expect(found.sslRootCert == "/home/a/.postgresql/root.crt")
        #expect(found.sslRootCertGiven == false)
        let given = try resolver(files: ["/etc/ca.pem"]).resolve(uri: "postgresql://h?sslmode=verify-full&sslrootcert=/etc/ca.pem")
        #expect(given.sslRootCert == "/etc/ca.pem")
        #expect(resolveError("postgresql://h?sslmode=verify-full&sslrootcert=/nope.pem")?.message.contains("\"/nope.pem\"") == true)
        // require with a root certificate present verifies the chain (libpq: as verify-ca).
        let require = try resolver(home: "/home/a", files: ["/home/a/.postgresql/root.crt"]).resolve(uri: "postgresql://h?sslmode=require")
        #expect(require.sslRootCert == "/home/a/.postgresql/root.crt")
        // sslrootcert=system: verify-full by default, and only with it.
        #expect(try resolver().resolve(uri: "postgresql://h?sslrootcert=system").sslMode == .verifyFull)
        #expect(resolveError("postgresql://h?sslrootcert=system&sslmode=require")?.message.contains("needs sslmode=verify-full") == true)
        // PGSSLROOTCERT too.
        #expect(try resolver(["PGSSLROOTCERT": "/ca.pem"], files: ["/ca.pem"]).resolve(uri: "postgresql://h?sslmode=verify-ca").sslRootCert == "/ca.pem")
        // Protocol versions.
        #expect(resolveError("postgresql://h?ssl_min_protocol_version=SSLv3")?.message.contains("TLSv1.2") == true)
        #expect(resolveError("postgresql://h?ssl_min_protocol_version=TLSv1.3&ssl_max_protocol_version=TLSv1.2")?.message.contains("above") == true)
        // A Unix socket never uses TLS, so verify-* needs no certificate there.
        #expect(try resolver().resolve(uri: "postgresql:///db?host=/tmp&sslmode=verify-full").sslMode == .verifyFull)
    }

    @Test("what SiloMerge cannot honour is refused, naming where it came from")
    func unsupported() throws {
        #expect(resolveError("postgresql://h?sslcert=/c.pem")?.message.contains("sslcert (connection URL)") == true)
        #expect(resolveError("postgresql://h?hostaddr=10.0.0.1")?.message.contains("hostaddr") == true)
        #expect(resolveError("postgresql://h", resolver(["PGHOSTADDR": "10.0.0.1"]))?.message.contains("PGHOSTADDR (environment)") == true)
        #expect(resolveError("postgresql://h", resolver(["PGSERVICE": "prod"]))?.message.contains("PGSERVICE") == true)
        #expect(resolveError("postgresql://h?gssencmode=require")?.message.contains("GSSAPI") == true)
        #expect(resolveError("postgresql://h?target_session_attrs=read-write")?.kind == .invalidSettings)
        #expect(resolveError("postgresql://%40abstract/db")?.message.contains("abstract Unix socket") == true)
        // Values that change nothing are accepted.
        _ = try resolver().resolve(uri: "postgresql://h?gssencmode=prefer&target_session_attrs=any&sslcompression=0&client_encoding=UTF8&channel_binding=prefer")
    }

    @Test("the display URL names user, host, port and database, reads back the same, and never the password")
    func display() throws {
        let s = try resolver().resolve(uri: "postgresql://al%20ice:pw@db.example.org/cat%2Flogue")
        #expect(s.display == "postgresql://al%20ice@db.example.org:5432/cat%2Flogue")
        for uri in ["postgresql://al%20ice:pw@db.example.org/cat%2Flogue", "postgresql://u:pw@[::1]:6000/d",
                    "postgresql://u:pw@/d?host=/run/pg%20sock&port=7000", "postgresql://u@127.0.0.1/d"] {
            let settings = try resolver().resolve(uri: uri)
            let again = try resolver().resolve(uri: settings.display)
            #expect(again.endpoint == settings.endpoint, "\(uri)")
            #expect(again.user == settings.user)
            #expect(again.database == settings.database)
            #expect(!settings.display.contains("pw"))
        }
    }

    @Test("no user anywhere is a clear error")
    func noUser() {
        #expect(resolveError("postgresql://h/db", resolver(osUser: nil))?.message.contains("no database user") == true)
    }
}

@Suite("libpq password file (~/.pgpass)")
struct PasswordFileTests {
    func match(_ text: String, host: String = "db", port: String = "5432", database: String = "cat", user: String = "alice") -> String? {
        PasswordFile.match(contents: Array(text.utf8), host: host, port: port, database: database, user: user)
    }

    @Test("fields, wildcards, first match wins")
    func matching() {
        #expect(match("db:5432:cat:alice:pw1\n") == "pw1")
        #expect(match("other:5432:cat:alice:no\ndb:5432:cat:alice:yes\n") == "yes")
        #expect(match("*:*:*:alice:any\ndb:5432:cat:alice:late\n") == "any")
        #expect(match("db:*:cat:*:w") == "w")
        #expect(match("db:5433:cat:alice:no") == nil)
        #expect(match("db:5432:cat:bob:no") == nil)
        #expect(match("db:5432:cat:alice") == nil, "a line without a password field does not match")
        // '*' is a wildcard only as a whole field.
        #expect(match("d*:5432:cat:alice:no") == nil)
        #expect(match("*db:5432:cat:alice:no") == nil)
        // Field comparison is exact (case-sensitive).
        #expect(match("DB:5432:cat:alice:no") == nil)
    }

    @Test("comments, blank lines, CR/LF")
    func lines() {
        #expect(match("# db:5432:cat:alice:commented\n\ndb:5432:cat:alice:real\r\n") == "real")
        #expect(match("db:5432:cat:alice:crlf\r\n") == "crlf")
        #expect(match("db:5432:cat:alice:last-line-no-newline") == "last-line-no-newline")
    }

    @Test("\\: and \\\\ escapes in fields and in the password")
    func escapes() {
        #expect(match("db:5432:c\\:at:alice:pw", database: "c:at") == "pw")
        #expect(match("db:5432:c\\\\at:alice:pw", database: "c\\at") == "pw")
        #expect(match("db:5432:cat:alice:p\\:w\\\\d") == "p:w\\d")
        // The password ends at the first unescaped colon.
        #expect(match("db:5432:cat:alice:pw:extra") == "pw")
        // A literal '*' must be escaped to match only '*'.
        #expect(match("\\*:5432:cat:alice:star", host: "*") == "star")
        #expect(match("\\*:5432:cat:alice:star", host: "db") == nil)
    }

    func temporaryFile(_ text: String, mode: mode_t) throws -> String {
        let path = NSTemporaryDirectory() + "pgpass-\(UUID().uuidString)"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, mode)
        return path
    }

    @Test("a file others may read is ignored with a warning; 0600 is used; a missing file is silent")
    func permissions() throws {
        let open = try temporaryFile("db:5432:cat:alice:pw\n", mode: 0o644)
        defer { unlink(open) }
        let ignored = PasswordFile.lookup(path: open, host: "db", port: "5432", database: "cat", user: "alice")
        #expect(ignored.password == nil)
        #expect(ignored.warnings == ["password file \"\(open)\" has group or world access; permissions should be u=rw (0600) or less: ignored"])
        chmod(open, 0o640)
        #expect(PasswordFile.lookup(path: open, host: "db", port: "5432", database: "cat", user: "alice").password == nil)
        chmod(open, 0o600)
        let used = PasswordFile.lookup(path: open, host: "db", port: "5432", database: "cat", user: "alice")
        #expect(used.password == "pw")
        #expect(used.warnings.isEmpty)
        let missing = PasswordFile.lookup(path: open + ".none", host: "db", port: "5432", database: "cat", user: "alice")
        #expect(missing == PasswordFile.Lookup(password: nil, warnings: []))
        let folder = NSTemporaryDirectory() + "pgpass-dir-\(UUID().uuidString)"
        mkdir(folder, 0o700)
        defer { rmdir(folder) }
        #expect(PasswordFile.lookup(path: folder, host: "db", port: "5432", database: "cat", user: "alice").warnings.first?.contains("not a plain file") == true)
    }

    @Test("the resolver reads ~/.pgpass, PGPASSFILE or passfile= when no password is given; localhost matches the default socket")
    func throughResolver() throws {
        let home = NSTemporaryDirectory() + "home-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let pgpass = home + "/.pgpass"
        try Data("""
            localhost:5432:cat:alice:socketpw
            /srv/pg:5432:cat:alice:othersocketpw
            db.example.org:5432:*:alice:tcppw
            127.0.0.1:*:*:*:looppw

            """.utf8).write(to: URL(fileURLWithPath: pgpass))
        chmod(pgpass, 0o600)
        let r = ConnectionResolver(environment: [:], homeDirectory: home, osUserName: "alice", fileExists: { _ in false })
        let socket = try r.resolve(uri: "postgresql:///cat")
        #expect(socket.password == "socketpw")
        #expect(socket.passwordSource == .passwordFile(pgpass))
        #expect(try r.resolve(uri: "postgresql:///cat?host=/var/run/postgresql").password == "socketpw")
        #expect(try r.resolve(uri: "postgresql:///cat?host=/srv/pg").password == "othersocketpw")
        #expect(try r.resolve(uri: "postgresql://alice@db.example.org/anydb").password == "tcppw")
        #expect(try r.resolve(uri: "postgresql://bob@127.0.0.1:6000/x").password == "looppw")
        // A TCP connection to localhost matches "localhost" too.
        #expect(try r.resolve(uri: "postgresql://alice@localhost/cat").password == "socketpw")
        // A password given wins; an empty one is none.
        let given = try r.resolve(uri: "postgresql://alice:given@db.example.org/x")
        #expect(given.password == "given")
        #expect(given.passwordSource == .url)
        #expect(try r.resolve(uri: "postgresql://alice:@db.example.org/x").password == "tcppw")
        // PGPASSFILE and passfile= point elsewhere.
        let other = home + "/other"
        try Data("*:*:*:*:fromother\n".utf8).write(to: URL(fileURLWithPath: other))
        chmod(other, 0o600)
        let env = ConnectionResolver(environment: ["PGPASSFILE": other], homeDirectory: home, osUserName: "alice", fileExists: { _ in false })
        #expect(try env.resolve(uri: "postgresql://h/x").password == "fromother")
        #expect(try r.resolve(uri: "postgresql://h/x?passfile=\(other)").password == "fromother")
        // An unsafe file: no password, and the warning reaches the settings.
        chmod(pgpass, 0o644)
        let unsafe = try r.resolve(uri: "postgresql:///cat")
        #expect(unsafe.password == nil)
        #expect(unsafe.warnings.count == 1)
        #expect(unsafe.warnings.first?.contains("group or world access") == true)
    }
}

@Suite("COPY text encoding")
struct CopyTextEncodingTests {
    func encode(_ columns: [String], _ rows: (inout CopyTextWriter) throws -> Void) throws -> String {
        var sent: [UInt8] = []
        var writer = CopyTextWriter(table: "t", columns: columns) { sent += $0.readableBytesView }
        try rows(&writer)
        try writer.flush()
        return String(decoding: sent, as: UTF8.self)
    }

    @Test("bytea as escaped hex, every byte exact, UTF-8 or not")
    func bytea() throws {
        let text = try encode(["b"]) { w in try w.bytes([0x00, 0xff, 0x5c, 0x09, 0x0a, 0x0d, 0x2e]); try w.endRow() }
        #expect(text == "\\\\x00ff5c090a0d2e\n")
        let all = try encode(["b"]) { w in try w.bytes((0...255).map(UInt8.init)); try w.endRow() }
        #expect(all == "\\\\x" + (0...255).map { String(format: "%02x", $0) }.joined() + "\n")
        #expect(try encode(["b"]) { w in try w.bytes([]); try w.endRow() } == "\\\\x\n")
    }

    @Test("text escapes backslash, tab, newline, carriage return; NULL is \\N")
    func text() throws {
        let text = try encode(["i", "t", "n", "b"]) { w in
            try w.int(-42); try w.text("a\tb\nc\\d\re ü"); try w.null(); try w.bool(true); try w.endRow()
            try w.int(Int64.max); try w.text("\\."); try w.text("\\N"); try w.bool(false); try w.endRow()
        }
        #expect(text == "-42\ta\\tb\\nc\\\\d\\re ü\t\\N\tt\n9223372036854775807\t\\\\.\t\\\\N\tf\n")
    }

    @Test("integers are their decimal digits at every width, sign and type, as String(value) writes them")
    func integers() throws {
        var values: [Int64] = [0, 1, -1, 9, -9, Int64.max, Int64.min, Int64.min + 1]
        var power: Int64 = 1
        for _ in 0..<18 {
            power *= 10
            values += [power - 1, power, power + 1, -(power - 1), -power]
        }
        let text = try encode(["i"]) { w in
            for v in values { try w.int(v); try w.endRow() }
            try w.int(UInt64.max); try w.endRow()          // beyond Int64: the generic path
            try w.int(Int32.min); try w.endRow()
            try w.int(UInt8(200)); try w.endRow()
        }
        let expected = values.map(String.init) + [String(UInt64.max), String(Int32.min), "200"]
        #expect(text == expected.map { $0 + "\n" }.joined())
    }

    @Test("NUL in text and wrong column counts are refused")
    func refusals() throws {
        #expect(throws: PostgresClientError.self) { _ = try encode(["t"]) { w in try w.text("a\u{0}b"); try w.endRow() } }
        let few = #expect(throws: PostgresClientError.self) { _ = try encode(["a", "b"]) { w in try w.int(1); try w.endRow() } }
        #expect(few?.message.contains("1 values for 2 columns") == true)
        let many = #expect(throws: PostgresClientError.self) { _ = try encode(["a"]) { w in try w.int(1); try w.int(2) } }
        #expect(many?.message.contains("more values") == true)
    }
}

@Suite("advisory lock keys and client identity")
struct AdvisoryKeyTests {
    @Test("keys are FNV-1a 64 of \"silomerge:\" + name: pinned, so every host computes the same")
    func stableKeys() {
        // Pinned values (computed independently, in Python): changing them breaks every lock
        // between hosts running different SiloMerge versions.
        #expect(AdvisoryLockKey("schema").key == -8_317_336_509_079_905_323)
        #expect(AdvisoryLockKey("scan:marketing").key == -2_890_792_115_464_609_427)
        #expect(AdvisoryLockKey("scan:a").key != AdvisoryLockKey("scan:b").key)
        #expect(AdvisoryLockKey("scan:ü").key == fnv1a64("silomerge:scan:ü"))
    }

    @Test("application_name carries host and pid and parses back")
    func identity() {
        let id = ClientIdentity(host: "nas 01", pid: 4242)
        #expect(id.applicationName(label: nil) == "silomerge nas_01 4242")
        #expect(id.applicationName(label: "nightly") == "silomerge nas_01 4242 nightly")
        #expect(ClientIdentity.parse(applicationName: "silomerge nas_01 4242 nightly") == ClientIdentity(host: "nas_01", pid: 4242))
        #expect(ClientIdentity.parse(applicationName: "psql") == nil)
        #expect(ClientIdentity.parse(applicationName: "silomerge host") == nil)
    }
}

@Suite("blocking bridge")
struct BridgeTests {
    @Test("it knows an event-loop thread (where a blocking wait would deadlock) from others")
    func eventLoopDetection() throws {
        #expect(Bridge.onEventLoop == false)
        let onLoop = try Bridge.eventLoopGroup.next().submit { Bridge.onEventLoop }.wait()
        #expect(onLoop == true)
    }
}

/// An independent FNV-1a 64 for the pinned-key test.
func fnv1a64(_ text: String) -> Int64 {
    var hash: UInt64 = 14_695_981_039_346_656_037
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 1_099_511_628_211
    }
    return Int64(bitPattern: hash)
}
