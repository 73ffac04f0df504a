#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// libpq's password file (`~/.pgpass`, or `PGPASSFILE`, or `passfile=`), read by libpq's rules
/// (`passwordFromFile` in fe-connect.c):
///
/// - one entry a line, `hostname:port:database:username:password`; a line starting with `#` is a
///   comment; a trailing CR/LF is dropped;
/// - each of the first four fields is a literal or `*` (matches anything); the first matching
///   line wins;
/// - `\:` and `\\` escape a colon and a backslash in any field, the password included;
/// - `localhost` matches a TCP connection to `localhost` and a Unix-socket connection to the
///   default socket folder (libpq passes the host as `localhost` then);
/// - a file that does not exist is ignored silently; one that is not a plain file, or that the
///   group or others may read, write or search (mode & 077), is ignored with a warning, as libpq
///   does. (Windows has no such check; SiloMerge runs on Linux and macOS.)
public enum PasswordFile {
    /// What a lookup found.
    public struct Lookup: Sendable, Equatable {
        public var password: String?
        /// Warnings to show (ignored file), never containing a password.
        public var warnings: [String]
    }

    /// Looks `host`, `port`, `database`, `user` up in the file at `path`.
    public static func lookup(path: String, host: String, port: String, database: String, user: String) -> Lookup {
        guard !database.isEmpty, !user.isEmpty else { return Lookup(password: nil, warnings: []) }
        var st = stat()
        guard stat(path, &st) == 0 else { return Lookup(password: nil, warnings: []) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            return Lookup(password: nil, warnings: ["password file \"\(path)\" is not a plain file: ignored"])
        }
        if st.st_mode & 0o077 != 0 {
            return Lookup(password: nil, warnings: [
                "password file \"\(path)\" has group or world access; permissions should be u=rw (0600) or less: ignored",
            ])
        }
        guard let contents = readAll(path) else { return Lookup(password: nil, warnings: []) }
        return Lookup(password: match(contents: contents, host: host, port: port, database: database, user: user),
                      warnings: [])
    }

    /// The password of the first line of `contents` that matches, de-escaped; nil when none does.
    public static func match(contents: [UInt8], host: String, port: String, database: String, user: String) -> String? {
        let tokens = [Array(host.utf8), Array(port.utf8), Array(database.utf8), Array(user.utf8)]
        for rawLine in contents.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            var line = rawLine
            while let last = line.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { line = line.dropLast() }
            if line.isEmpty || line.first == UInt8(ascii: "#") { continue }
            var rest: ArraySlice<UInt8>? = line
            for token in tokens {
                guard let r = rest else { break }
                rest = matchField(r, token)
            }
            guard let passwordField = rest else { continue }
            // De-escape the password up to the first unescaped ':' (or the end of the line).
            var password: [UInt8] = []
            var i = passwordField.startIndex
            while i < passwordField.endIndex, passwordField[i] != UInt8(ascii: ":") {
                if passwordField[i] == UInt8(ascii: "\\"), i + 1 < passwordField.endIndex { i += 1 }
                password.append(passwordField[i])
                i += 1
            }
            return String(decoding: password, as: UTF8.self)
        }
        return nil
    }

    /// libpq's `pwdfMatchesString`: when the field at the start of `line` matches `token`,
    /// returns what follows the field's ':'; nil otherwise.
    static func matchField(_ line: ArraySlice<UInt8>, _ token: [UInt8]) -> ArraySlice<UInt8>? {
        let colon = UInt8(ascii: ":"), backslash = UInt8(ascii: "\\")
        var i = line.startIndex
        if line.count >= 2, line[i] == UInt8(ascii: "*"), line[i + 1] == colon { return line[(i + 2)...] }
        var t = 0
        while i < line.endIndex {
            var escaped = false
            if line[i] == backslash {
                i += 1
                escaped = true
                if i == line.endIndex { return nil }
            }
            if line[i] == colon, t == token.count, !escaped { return line[(i + 1)...] }
            if t == token.count { return nil }
            if line[i] == token[t] { i += 1; t += 1 } else { return nil }
        }
        return nil
    }

    private static func readAll(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { break }
            out.append(contentsOf: buffer[0..<n])
            if out.count > 16 << 20 { return nil }  // not a password file; do not read a huge one
        }
        return out
    }
}
