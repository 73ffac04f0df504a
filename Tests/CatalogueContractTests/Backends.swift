import Foundation
import SiloMergeCore
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

    /// The backends to test: SQLite always. The PostgreSQL catalogue (issue #13) adds one line
    /// here, `if ProcessInfo.processInfo.environment["SILOMERGE_TEST_PG"] != nil { list.append(.postgres) }`,
    /// with a factory that gives each TestTree a database of its own.
    static var all: [Backend] {
        let list: [Backend] = [.sqlite]
        return list
    }
}
