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
            // A wait for another process creating or upgrading the catalogue can last
            // minutes: said once, whatever -q says, so that a cron job does not look hung.
            return try SQLiteCatalogue(path: text, access: access) { holder in
                let limit = Format.age(Double(SQLiteCatalogue.openLockTimeout.components.seconds))
                Stderr.write("silomerge: waiting for another silomerge to finish creating or upgrading the catalogue \(text) "
                             + "(its lock says: \(holder)); giving up after \(limit)…\n")
            }
        case .postgres:
            return try PostgresCatalogue(url: text, access: access, identity: .current())
        }
    }
}
