import Foundation
import PostgresNIO
import SiloMergePostgres

/// Catalogues for tests on a PostgreSQL server: the test cluster of `tools/pg-test-cluster.sh`,
/// named by `SILOMERGE_TEST_PG` (`.ci/run` starts it and sets the variable).
public enum TestCatalogues {
    /// The test server's URL, when one is configured.
    public static var postgresServer: String? {
        guard let url = ProcessInfo.processInfo.environment["SILOMERGE_TEST_PG"], !url.isEmpty else { return nil }
        return url
    }

    /// Why PostgreSQL cases are not run, for test output.
    public static let postgresSkipReason = "SILOMERGE_TEST_PG is not set: run `eval \"$(bash tools/pg-test-cluster.sh start)\"` first (.ci/run does)"

    /// A resolver that ignores the developer's own PG* variables and ~/.pgpass.
    static let resolver = ConnectionResolver(environment: [:], homeDirectory: nil, osUserName: "silomerge",
                                             fileExists: { access($0, F_OK) == 0 })

    /// The schema a tree's catalogue lives in: named after the tree's folder, so opening the
    /// tree's catalogue again reaches the same one.
    public static func schema(for tree: TestTree) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in tree.path.utf8 { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return "t_" + String(hash, radix: 16)
    }

    /// A URL of the test server whose search_path is the tree's own schema (created here when
    /// missing).
    public static func postgresURL(for tree: TestTree) throws -> String {
        try postgresURL(schema: schema(for: tree))
    }

    /// A URL of the test server whose search_path is `schema` (created here when missing).
    public static func postgresURL(schema: String) throws -> String {
        guard let server = postgresServer else { throw TestCatalogueError(text: postgresSkipReason) }
        let admin = try PostgresSession.connect(try resolver.resolve(uri: server))
        defer { admin.close() }
        try admin.execute(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(schema)"))
        return server + (server.contains("?") ? "&" : "?") + "options=-csearch_path%3D" + schema
    }
}

public struct TestCatalogueError: Error, CustomStringConvertible {
    public let text: String
    public var description: String { text }
}
