import Foundation
import SiloMergeCore
import SiloMergePostgres
import SiloMergeSQLite

/// The one place the CLI turns a catalogue location into a backend: a path opens the SQLite
/// catalogue file; a `postgresql://` (or `postgres://`) URL the shared catalogue on that server
/// (libpq conventions: `PGPASSWORD`, `~/.pgpass`, `PGSSLMODE`... fill what the URL leaves out).
enum CatalogueFactory {
    static func open(_ text: String, access: CatalogueAccess) throws -> any CatalogueStore {
        let location = try CatalogueLocation.parse(text)
        switch location.kind {
        case .file:
            return try SQLiteCatalogue(path: text, access: access)
        case .postgres:
            return try PostgresCatalogue(url: text, access: access, identity: .current())
        }
    }
}
