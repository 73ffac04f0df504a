import Foundation

/// Where a catalogue lives, as the user named it (`--catalog`, `catalog:` of a configuration, a
/// plan's `catalogue`), and what identifies it.
///
/// A path is a catalogue in one file (SQLite); a `postgresql://` (or `postgres://`) URL names a
/// shared catalogue on a server. The backend that opens a location fills in `sideFiles`: the
/// files besides the catalogue itself that belong to it (SQLite's `-wal`, `-shm`, `-journal`
/// and the scan lock), so that a scan of a silo holding the catalogue never catalogues them,
/// whatever backend wrote them.
public struct CatalogueLocation: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// A catalogue in a file, at this path (as given: relative paths stay relative).
        case file(FilePath)
        /// A catalogue on a PostgreSQL server, at this URL (as given, password removed).
        case postgres(url: String)
    }

    public let kind: Kind
    /// What identifies the catalogue, whoever names it: a file's absolute path, a server URL
    /// without its password. A plan records it; it never changes with the current folder.
    public let id: String
    /// For messages: the path or URL as given (a URL without its password).
    public let display: String
    /// For a file catalogue, every file it consists of (absolute: itself first, then its side
    /// files). Empty for a catalogue on a server.
    public let ownFiles: [FilePath]

    public var description: String { display }

    /// The file catalogue at `path`, with side files named by appending each of `sideSuffixes`
    /// to its name.
    public static func file(_ path: String, sideSuffixes: [String] = []) -> CatalogueLocation {
        let absolute = Posix.absolute(FilePath(path))
        let own = [absolute] + sideSuffixes.map { FilePath(bytes: absolute.bytes + Array($0.utf8)) }
        return CatalogueLocation(kind: .file(FilePath(path)), id: absolute.display, display: path, ownFiles: own)
    }

    /// A catalogue on a PostgreSQL server: `url` as given (its password removed here), `id` what
    /// identifies it whoever names it (the backend's normalised URL, with the schema when it is
    /// not the default).
    public static func server(url: String, id: String) -> CatalogueLocation {
        let shown = withoutPassword(url)
        return CatalogueLocation(kind: .postgres(url: shown), id: withoutPassword(id), display: shown, ownFiles: [])
    }

    /// Reads a location as the user wrote it: a `postgresql://` or `postgres://` URL, else a path.
    public static func parse(_ text: String) throws -> CatalogueLocation {
        let lower = text.lowercased()
        if lower.hasPrefix("postgresql://") || lower.hasPrefix("postgres://") {
            let shown = withoutPassword(text)
            return CatalogueLocation(kind: .postgres(url: shown), id: shown, display: shown, ownFiles: [])
        }
        guard !text.isEmpty else { throw CatalogueLocationError(text: text, reason: "the catalogue path is empty") }
        guard !text.utf8.contains(0) else { throw CatalogueLocationError(text: text, reason: "a path cannot hold a NUL byte") }
        if let colon = text.firstIndex(of: ":"), text[..<colon].allSatisfy({ $0.isLetter || $0 == "+" }),
           text[colon...].hasPrefix("://") {
            throw CatalogueLocationError(text: text, reason: "\(text[..<colon]):// is not a catalogue SiloMerge knows (a path to a catalogue file, or a postgresql:// URL)")
        }
        return .file(text)
    }

    /// The URL with the password of its user part (`user:password@`) removed, for messages and
    /// identity: a password never reaches a plan file or a log.
    static func withoutPassword(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { return url }
        let user = authority[..<at]
        guard let colon = user.firstIndex(of: ":") else { return url }
        return String(url[..<scheme.upperBound]) + user[..<colon] + url[at...]
    }
}

/// A catalogue location that names nothing SiloMerge can open.
public struct CatalogueLocationError: Error, CustomStringConvertible, Sendable {
    public let text: String
    public let reason: String
    public init(text: String, reason: String) { self.text = text; self.reason = reason }
    public var description: String { "cannot use the catalogue \(text.isEmpty ? "\"\"" : text): \(reason)" }
}
