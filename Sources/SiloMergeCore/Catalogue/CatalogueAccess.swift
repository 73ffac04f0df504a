import Foundation

/// How a command uses the catalogue.
public enum CatalogueAccess: Sendable, Equatable {
    /// Reads only: never creates, migrates or writes the file (no WAL switch, no index, no
    /// row). A catalogue written by an older SiloMerge is refused, not upgraded.
    case readOnly
    /// Reads and writes an existing catalogue, upgrading its schema when it is older.
    case readWrite
    /// As `readWrite`, creating the catalogue when the file is missing (or empty).
    case create
}
