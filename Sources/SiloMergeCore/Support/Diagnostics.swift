import Foundation
import Synchronization

/// A problem with one file or folder that did not stop the work: reported at the end, stored
/// in the catalogue, never silently dropped.
public struct Diagnostic: Sendable, Hashable, Codable {
    public enum Severity: String, Sendable, Codable, Comparable {
        /// Worth knowing, nothing was lost (a symlink not followed into another silo, say).
        case note
        /// A file was skipped or could not be read: the result is incomplete for it.
        case warning
        /// Something is wrong with the data itself (content changed without its size or mtime).
        case error

        private var rank: Int { switch self { case .note: 0; case .warning: 1; case .error: 2 } }
        public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
    }

    /// A stable, machine-readable reason.
    public enum Code: String, Sendable, Codable {
        case vanished            // listed by the walk, gone when opened or stat'ed
        case unreadable          // open/read failed (EACCES, EIO, ...)
        case specialFile = "special-file"          // FIFO, socket, device: counted, never opened
        case symlinkLoop = "symlink-loop"
        case symlinkDangling = "symlink-dangling"
        case symlinkIntoSilo = "symlink-into-silo" // followed link leading into a silo: catalogued there
        case otherFileSystem = "other-file-system" // a mount point, not walked with --one-file-system
        case pseudoFileSystem = "pseudo-file-system" // proc, sysfs, devtmpfs, cgroup...: never walked
        case directoryUnreadable = "directory-unreadable"
        case changedDuringScan = "changed-during-scan"
        case changedWhileReading = "changed-while-reading"
        case nestedSilo = "nested-silo"
        case contentChanged = "content-changed"   // hash differs while size and mtime do not: possible corruption
        case metadata                             // a metadata block could not be parsed
        case manifest                             // a manifest row could not be used
        case sidecar                              // a .xmp left as a file of its own although its name pairs it with assets
        case mergeDiffers = "merge-differs"       // a file of an adopted target is not what the plan's apply placed and verified
        case other
    }

    public var severity: Severity
    public var code: Code
    /// The silo the path belongs to, when there is one.
    public var silo: String?
    /// The path inside the silo (or an absolute path when `silo` is nil).
    public var path: RelativePath?
    /// The errno that caused it, when one did.
    public var errno: Int32?
    /// A sentence for a person.
    public var message: String

    public init(_ severity: Severity, _ code: Code, silo: String?, path: RelativePath?, errno: Int32? = nil,
                message: String) {
        self.severity = severity; self.code = code; self.silo = silo; self.path = path
        self.errno = errno; self.message = message
    }

    /// "marketing:2021/a.jpg: cannot read: Permission denied (EACCES)".
    public var formatted: String {
        var where_ = silo ?? ""
        if let path { where_ += (silo == nil ? "" : ":") + path.display }
        var text = where_.isEmpty ? message : "\(where_): \(message)"
        if let errno { text += " (\(Errno(errno).name))" }
        return text
    }
}

extension RelativePath: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self.init(s) }
        else { self.init(bytes: try c.decode([UInt8].self)) }
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if let s = string { try c.encode(s) } else { try c.encode(bytes) }
    }
}

/// Collects diagnostics from many threads. Keeps the first `limit` in memory (all of them go
/// to the catalogue through `sink`), and counts every one by severity.
public final class DiagnosticCollector: Sendable {
    private struct State {
        var kept: [Diagnostic] = []
        var counts: [Diagnostic.Severity: Int] = [:]
        var byCode: [Diagnostic.Code: Int] = [:]
    }
    private let state = Mutex(State())
    private let limit: Int
    private let sink: (@Sendable (Diagnostic) -> Void)?

    public init(limit: Int = 10_000, sink: (@Sendable (Diagnostic) -> Void)? = nil) {
        self.limit = limit
        self.sink = sink
    }

    public func report(_ d: Diagnostic) {
        state.withLock { s in
            if s.kept.count < limit { s.kept.append(d) }
            s.counts[d.severity, default: 0] += 1
            s.byCode[d.code, default: 0] += 1
        }
        sink?(d)
    }

    public var diagnostics: [Diagnostic] { state.withLock { $0.kept } }
    public func count(_ severity: Diagnostic.Severity) -> Int { state.withLock { $0.counts[severity] ?? 0 } }
    public func count(code: Diagnostic.Code) -> Int { state.withLock { $0.byCode[code] ?? 0 } }
    public var total: Int { state.withLock { $0.counts.values.reduce(0, +) } }
}

/// A value behind a `Mutex`, in a class so that closures can share it (a `Mutex` itself cannot
/// be copied into a closure).
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    public init(_ value: Value) { mutex = Mutex(value) }
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        try mutex.withLock { try body(&$0) }
    }
    public var value: Value { mutex.withLock { $0 } }
}
