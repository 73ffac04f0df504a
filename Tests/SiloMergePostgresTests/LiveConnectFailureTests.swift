import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import SiloMergePostgres

/// What a person reads when connecting fails: refused, no socket, bad password, no database,
/// TLS required, certificate not trusted; each against the live test cluster.
@Suite("PostgreSQL connection failures (live server)", .enabled(if: LivePG.available, LivePG.skipReason))
struct LiveConnectFailureTests {
    func connectError(_ settings: ConnectionSettings) -> PostgresClientError? {
        do { let s = try PostgresSession.connect(settings); s.close(); return nil } catch { return error }
    }

    @Test("nothing listening on the port: connection refused, naming the server")
    func refused() throws {
        // A port that was free a moment ago: bind, note, close.
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).wait()
        let port = channel.localAddress!.port!
        try channel.close().wait()
        let settings = try LivePG.resolver.resolve(uri: "postgresql://silomerge:pw-never-shown@127.0.0.1:\(port)/silomerge?sslmode=disable")
        let error = try #require(connectError(settings))
        #expect(error.kind == .connectionRefused)
        #expect(error.message == "no PostgreSQL server listens at postgresql://silomerge@127.0.0.1:\(port)/silomerge: connection refused")
        #expect(!error.description.contains("pw-never-shown"))
    }

    @Test("no socket file in the socket folder")
    func noSocket() throws {
        let folder = NSTemporaryDirectory() + "nosock-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let settings = try LivePG.resolver.resolve(uri: "postgresql:///silomerge?host=\(folder)")
        let error = try #require(connectError(settings))
        #expect(error.kind == .connectionRefused)
        #expect(error.message.contains("the socket \"\(folder)/.s.PGSQL.5432\" does not exist"))
    }

    @Test("the test server's own socket works (Unix-domain sockets)",
          .enabled(if: ProcessInfo.processInfo.environment["SILOMERGE_TEST_PG_DIR"] != nil,
                   "SILOMERGE_TEST_PG_DIR (the cluster folder holding its socket) is not set"))
    func unixSocket() throws {
        let folder = try #require(ProcessInfo.processInfo.environment["SILOMERGE_TEST_PG_DIR"])
        let (_, port) = try LivePG.hostAndPort()
        let s = try PostgresSession.connect(try LivePG.resolver.resolve(uri: "postgresql://silomerge@:\(port)/silomerge?host=\(folder)"))
        defer { s.close() }
        #expect(try s.query("SELECT 1", as: Int32.self) == [1])
        #expect(s.usesTLS == false)
    }

    @Test("a database that does not exist")
    func databaseMissing() throws {
        let settings = try LivePG.settings { $0["dbname"] = "no_such_catalogue" }
        let error = try #require(connectError(settings))
        #expect(error.kind == .databaseMissing)
        #expect(error.sqlState == "3D000")
        #expect(error.message.contains("database \"no_such_catalogue\" does not exist on PostgreSQL at \(settings.display)"))
        #expect(error.description.contains("createdb no_such_catalogue"))
    }
}

@Suite("PostgreSQL passwords and TLS (live server)", .enabled(if: LivePG.tlsAvailable, LivePG.tlsSkipReason))
struct LiveAuthAndTLSTests {
    func connectError(_ settings: ConnectionSettings) -> PostgresClientError? {
        do { let s = try PostgresSession.connect(settings); s.close(); return nil } catch { return error }
    }

    @Test("a wrong password, a missing one, the right one from ~/.pgpass")
    func passwords() throws {
        let role = try TemporaryRole(memberOf: "silomerge_password")
        let (host, port) = try LivePG.hostAndPort()
        let base = "postgresql://\(role.name)@\(host):\(port)/silomerge?sslmode=disable"

        let wrong = try LivePG.resolver.resolve(uri: "postgresql://\(role.name):wrong-\(role.password)@\(host):\(port)/silomerge?sslmode=disable")
        let error = try #require(connectError(wrong))
        #expect(error.kind == .authenticationFailed)
        #expect(error.sqlState == "28P01")
        #expect(error.message.contains("rejected the password of user \"\(role.name)\""))
        #expect(!error.description.contains(role.password))

        let none = try #require(connectError(try LivePG.resolver.resolve(uri: base)))
        #expect(none.kind == .authenticationFailed)
        #expect(none.message.contains("asks a password of user \"\(role.name)\", and none was given"))

        // From a password file (mode 0600), and said so when it is wrong.
        let home = NSTemporaryDirectory() + "home-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let pgpass = home + "/.pgpass"
        try Data("\(host):\(port):silomerge:\(role.name):\(role.password)\n".utf8).write(to: URL(fileURLWithPath: pgpass))
        chmod(pgpass, 0o600)
        let fromFile = ConnectionResolver(environment: [:], homeDirectory: home, osUserName: "x", fileExists: { _ in false })
        let session = try PostgresSession.connect(try fromFile.resolve(uri: base))
        #expect(try session.query("SELECT current_user", as: String.self) == [role.name])
        session.close()

        try Data("\(host):\(port):silomerge:\(role.name):stale\n".utf8).write(to: URL(fileURLWithPath: pgpass))
        let stale = try #require(connectError(try fromFile.resolve(uri: base)))
        #expect(stale.kind == .authenticationFailed)
        #expect(stale.message.contains("(the password came from \"\(pgpass)\")"))

        // PGPASSWORD.
        let env = ConnectionResolver(environment: ["PGPASSWORD": role.password], homeDirectory: nil, osUserName: "x", fileExists: { _ in false })
        let viaEnv = try PostgresSession.connect(try env.resolve(uri: base))
        viaEnv.close()
    }

    @Test("a server that wants TLS: sslmode=disable is refused clearly; allow, prefer and require connect with TLS")
    func tlsRequired() throws {
        let role = try TemporaryRole(memberOf: "silomerge_tls_only")
        let (host, port) = try LivePG.hostAndPort()
        let uri = "postgresql://\(role.name):\(role.password)@\(host):\(port)/silomerge"
        let error = try #require(connectError(try LivePG.resolver.resolve(uri: uri + "?sslmode=disable")))
        #expect(error.kind == .tlsRequired)
        #expect(error.message.contains("accepts user \"\(role.name)\" only over TLS, and sslmode=disable does not use it"))
        #expect(error.description.contains("hint: use sslmode=require"))
        for mode in ["allow", "prefer", "require"] {
            let s = try PostgresSession.connect(try LivePG.resolver.resolve(uri: uri + "?sslmode=\(mode)"))
            #expect(s.usesTLS, "sslmode=\(mode)")
            s.close()
        }
    }

    @Test("verify-ca and verify-full check the certificate against sslrootcert and the host name")
    func verification() throws {
        let ca = try #require(LivePG.caFile)
        let (_, port) = try LivePG.hostAndPort()
        for host in ["localhost", "127.0.0.1"] {
            for mode in ["verify-ca", "verify-full"] {
                let s = try PostgresSession.connect(try LivePG.resolver.resolve(
                    uri: "postgresql://silomerge@\(host):\(port)/silomerge?sslmode=\(mode)&sslrootcert=\(ca)"))
                #expect(s.usesTLS)
                s.close()
            }
        }
        // The test CA is in no system trust store: the chain does not verify.
        let system = try LivePG.resolver.resolve(uri: "postgresql://silomerge@localhost:\(port)/silomerge?sslrootcert=system")
        let error = try #require(connectError(system))
        #expect(error.kind == .tlsFailed, "\(error)")
        #expect(error.message.contains("the TLS handshake with PostgreSQL at postgresql://silomerge@localhost:\(port)/silomerge failed"))
        // A root certificate that is not the server's CA (the server's own certificate is no CA).
        let server = (ca as NSString).deletingLastPathComponent + "/server.crt"
        if FileManager.default.fileExists(atPath: server) {
            let wrong = try LivePG.resolver.resolve(uri: "postgresql://silomerge@localhost:\(port)/silomerge?sslmode=verify-ca&sslrootcert=\(server)")
            #expect(connectError(wrong)?.kind == .tlsFailed)
        }
        // A root certificate file that is not a certificate.
        let junk = NSTemporaryDirectory() + "junk-\(UUID().uuidString).pem"
        try Data("not a certificate\n".utf8).write(to: URL(fileURLWithPath: junk))
        defer { unlink(junk) }
        let bad = try LivePG.resolver.resolve(uri: "postgresql://silomerge@localhost:\(port)/silomerge?sslmode=verify-ca&sslrootcert=\(junk)")
        let badError = try #require(connectError(bad))
        #expect(badError.kind == .invalidSettings || badError.kind == .tlsFailed, "\(badError)")
        #expect(badError.message.contains(junk) || badError.kind == .tlsFailed)
    }
}
