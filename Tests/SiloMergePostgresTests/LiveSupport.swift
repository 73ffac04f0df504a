import Foundation
import Testing
@testable import SiloMergePostgres

/// The live server the PostgreSQL tests use: `SILOMERGE_TEST_PG` (a superuser URL on loopback),
/// set by `.ci/run` after `tools/pg-test-cluster.sh start`. Without it these suites are skipped
/// and say why in the test output.
enum LivePG {
    static let url = ProcessInfo.processInfo.environment["SILOMERGE_TEST_PG"]
    /// The CA that signed the test server's certificate (tools/pg-test-cluster.sh).
    static let caFile = ProcessInfo.processInfo.environment["SILOMERGE_TEST_PG_CA"]

    static var available: Bool { url != nil }
    static var tlsAvailable: Bool { url != nil && caFile != nil }

    /// Skip reason shown by `swift test` when the variable is unset.
    static let skipReason: Comment = "SILOMERGE_TEST_PG is not set: run `eval \"$(bash tools/pg-test-cluster.sh start)\"` first (.ci/run does)"
    static let tlsSkipReason: Comment = "SILOMERGE_TEST_PG or SILOMERGE_TEST_PG_CA is not set: the TLS and password tests need the cluster of tools/pg-test-cluster.sh"

    /// A resolver that ignores the developer's own PG* variables and ~/.pgpass.
    static let resolver = ConnectionResolver(environment: [:], homeDirectory: nil, osUserName: "silomerge",
                                             fileExists: { access($0, F_OK) == 0 })

    static func settings(_ adjust: (inout ConnectionParameters) -> Void = { _ in }) throws -> ConnectionSettings {
        var parameters = try ConnectionParameters.parse(uri: try #require(url))
        adjust(&parameters)
        return try resolver.resolve(parameters)
    }

    /// Host and port of the test server.
    static func hostAndPort() throws -> (String, Int) {
        let s = try settings()
        guard case .tcp(let host, let port) = s.endpoint else { throw PostgresClientError(.client, "SILOMERGE_TEST_PG must name a TCP host") }
        return (host, port)
    }

    static func connect(identity: ClientIdentity = .current(), _ adjust: (inout ConnectionParameters) -> Void = { _ in }) throws -> PostgresSession {
        try PostgresSession.connect(try settings(adjust), identity: identity)
    }
}

/// A schema of its own for one test (dropped at the end), and a session whose search_path
/// points at it, so tests can run in parallel on one database.
final class Scratch {
    let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
    let admin: PostgresSession

    init() throws {
        admin = try LivePG.connect()
        try admin.execute(PostgresQueryText.raw("CREATE SCHEMA \(schema)"))
        try admin.execute(PostgresQueryText.raw("SET search_path TO \(schema)"))
    }

    /// Another session in the same schema.
    func session(identity: ClientIdentity = .current()) throws -> PostgresSession {
        let session = try LivePG.connect(identity: identity)
        try session.execute(PostgresQueryText.raw("SET search_path TO \(schema)"))
        return session
    }

    deinit {
        _ = try? admin.execute(PostgresQueryText.raw("DROP SCHEMA \(schema) CASCADE"))
        admin.close()
    }
}

/// A login role made for one test (dropped at the end).
///
/// It connects through its group's CONNECT privilege, which tools/pg-test-cluster.sh grants
/// once. Granting per role would update the database's one pg_database row from parallel
/// tests, and PostgreSQL fails the second of two such updates ("tuple concurrently
/// updated"); the privilege would also stop `DROP ROLE` at the end.
final class TemporaryRole {
    let name = "r_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
    let password = "pw-" + UUID().uuidString
    private let admin: PostgresSession

    init(memberOf group: String) throws {
        admin = try LivePG.connect()
        try admin.execute(PostgresQueryText.raw("CREATE ROLE \(name) LOGIN PASSWORD '\(password)' IN ROLE \(group)"))
    }

    deinit {
        _ = try? admin.execute(PostgresQueryText.raw("DROP ROLE IF EXISTS \(name)"))
        admin.close()
    }
}

import PostgresNIO

enum PostgresQueryText {
    static func raw(_ sql: String) -> PostgresQuery { PostgresQuery(unsafeSQL: sql) }
}

/// The error `body` throws, or nil.
func caught<T>(_ body: () throws -> T) -> (any Error)? {
    do { _ = try body(); return nil } catch { return error }
}
