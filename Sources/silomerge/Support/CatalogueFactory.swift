import Foundation
import SiloMergeCore
import SiloMergeSQLite

/// The one place the CLI turns a catalogue location into a backend: a path opens the SQLite
/// catalogue file; a `postgresql://` URL names a shared catalogue this build cannot open yet
/// (issue #13 adds it here).
enum CatalogueFactory {
    static func open(_ text: String, access: CatalogueAccess) throws -> SQLiteCatalogue {
        let location = try CatalogueLocation.parse(text)
        switch location.kind {
        case .file:
            return try SQLiteCatalogue(path: text, access: access)
        case .postgres:
            throw CatalogueLocationError(text: location.display, reason:
                "a catalogue on a PostgreSQL server is not built into this SiloMerge yet; give the path of a catalogue file")
        }
    }
}
