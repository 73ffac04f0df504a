import Foundation
import SiloMergeCore
import SiloMergePostgres
import SiloMergeSQLite
import SiloMergeTestSupport

/// A catalogue backend under contract: how to open a fresh, empty catalogue for a test, and
/// the same catalogue again (a second connection, as a second process would have).
///
/// Every suite here runs once per backend in `Backend.all`, through the store protocols only
/// (no SQL, no `pool`): what one backend passes, another must pass unchanged.
struct Backend: Sendable, CustomStringConvertible {
    let name: String
    /// Opens the catalogue of `tree` (created when missing).
    let open: @Sendable (TestTree) throws -> any CatalogueStore
    var description: String { name }

    static let sqlite = Backend(name: "SQLite") { try SQLiteCatalogue(path: $0.catalogue) }

    /// The PostgreSQL catalogue of the test cluster (`SILOMERGE_TEST_PG`): each TestTree gets a
    /// schema of its own, named after the tree, so tests run in parallel on one database and a
    /// second `open` of one tree is the same catalogue.
    static let postgres = Backend(name: "PostgreSQL") { tree in
        try PostgresCatalogue(url: try TestCatalogues.postgresURL(for: tree), access: .create)
    }

    /// The backends to test: SQLite always, PostgreSQL when `SILOMERGE_TEST_PG` names a server
    /// (`.ci/run` starts one; without it those cases are not run, and the PostgreSQL suites say so).
    static var all: [Backend] {
        var list: [Backend] = [.sqlite]
        if TestCatalogues.postgresServer != nil { list.append(.postgres) }
        return list
    }
}
