#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// What the journal keeps of a file: enough to tell it is still the one written or taken.
public struct JournalStat: Sendable, Hashable, Codable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    public var mtimeNs: Int64
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32

    init(_ s: FileStat) {
        device = s.device; inode = s.inode; size = s.size; mtimeNs = s.mtimeNs; mode = s.mode; uid = s.uid; gid = s.gid
    }

    /// Same file, unchanged: device, inode, size and mtime.
    func matches(_ s: FileStat) -> Bool {
        device == s.device && inode == s.inode && size == s.size && mtimeNs == s.mtimeNs
    }

    enum CodingKeys: String, CodingKey { case device, inode, size, mtimeNs = "mtime_ns", mode, uid, gid }
}

/// One line of the journal.
///
/// Events, in the order an operation writes them:
/// - `plan`: the first line: the SHA-256 of the plan the journal belongs to;
/// - `begin`: an operation starts;
/// - `mkdir`: a folder is about to be created (`root`: target, quarantine or absolute; `path`);
/// - `placing`: a verified temporary file is about to be renamed (or linked) into place;
/// - `placed`: the destination is in place, with its identity (`stat`) and whether this run
///   created it (`created`: false when it already held the content);
/// - `taking`: a source is about to be unlinked, replaced by a link, or moved to quarantine,
///   with its identity before (`stat`), so undo can restore mode, owner and mtime;
/// - `done`: the operation finished (`stat`: the resulting file, if any; `via_copy`);
/// - `failed`, `refused`: with `detail`;
/// - `undone`: undo reversed the operation; `left`: undo left a changed file in place;
/// - `rmdir`: undo removed a folder the apply created;
/// - `root`: the target (`root`: target) or the quarantine folder (quarantine) was opened, with
///   its identity (`stat`): later runs refuse a root that is not that folder any more. Without
///   `stat`: undo removed the root itself (a later apply makes it again).
///
/// `mkdir` and `rmdir` paths are relative to their `root`: `target`, `quarantine` (the roots
/// themselves), or `target-anchor`, `quarantine-anchor` (the existing folder each root was
/// pinned to when the plan was made: the levels apply made to reach the root).
///
/// Intent events (`mkdir`, `placing`, `taking`) are fsynced before the action they announce,
/// so after a crash the journal always knows of everything that may have happened.
struct JournalRecord: Codable, Sendable {
    var event: String
    var op: Int?
    var plan: String?
    var schema: String?
    var root: String?
    var path: String?
    var pathB64: String?
    var stat: JournalStat?
    var created: Bool?
    var viaCopy: Bool?
    var detail: String?
    var time: String?

    init(event: String, op: Int? = nil) { self.event = event; self.op = op }

    enum CodingKeys: String, CodingKey {
        case event, op, plan, schema, root, path, pathB64 = "path_b64", stat, created, viaCopy = "via_copy", detail, time
    }

    var pathBytes: [UInt8]? {
        if let b = pathB64, let d = Data(base64Encoded: b) { return Array(d) }
        return path.map { Array($0.utf8) }
    }

    mutating func setPath(_ bytes: [UInt8]) {
        if let s = String(validatingUTF8Bytes: bytes) { path = s; pathB64 = nil } else {
            path = PathDisplay.escape(bytes); pathB64 = Data(bytes).base64EncodedString()
        }
    }
}

/// A folder the apply created (to be removed by undo when empty).
struct CreatedDirectory: Hashable, Sendable {
    enum Root: String, Sendable {
        case target, quarantine
        case targetAnchor = "target-anchor", quarantineAnchor = "quarantine-anchor"
    }
    var root: Root
    var path: [UInt8]
}

/// The state of each operation, as the journal tells it.
struct OperationRecord: Sendable {
    var begun = false
    var placing = false
    var placed: JournalStat?
    var created = false
    var taking: JournalStat?
    var done: JournalRecord?
    /// The last run of it ended `refused` or `failed` (with its `detail`), and none began since.
    var stopped: JournalRecord?
    var undone = false
    /// The source's identity before an apply that was later undone (other names of the same
    /// file are restored as links to each other).
    var previousTaking: JournalStat?
    /// Any event at all (something may need undoing or cleaning).
    var touched: Bool { begun || placing || placed != nil || taking != nil || done != nil }
}

struct JournalState: Sendable {
    static let schema = "silomerge-journal/1"

    var planDigest: String?
    var ops: [Int: OperationRecord] = [:]
    var directories: [CreatedDirectory] = []
    /// Lines that could not be read (a torn last line after a crash).
    var tornLines = 0
    var endsWithNewline = true
    var isEmpty = true
    /// The journal file exists (possibly empty: a crash as it was created).
    var exists = false
    /// The identity of each root ("target", "quarantine") when a run opened it.
    var roots: [String: FileID] = [:]

    mutating func apply(_ r: JournalRecord) {
        isEmpty = false
        switch r.event {
        case "plan":
            if planDigest == nil { planDigest = r.plan }
        case "mkdir":
            if let root = r.root.flatMap(CreatedDirectory.Root.init(rawValue:)), let p = r.pathBytes {
                let d = CreatedDirectory(root: root, path: p)
                if !directories.contains(d) { directories.append(d) }
            }
        case "rmdir":
            if let root = r.root.flatMap(CreatedDirectory.Root.init(rawValue:)), let p = r.pathBytes {
                directories.removeAll { $0 == CreatedDirectory(root: root, path: p) }
            }
        case "root":
            if let root = r.root {
                if let st = r.stat { roots[root] = FileID(device: st.device, inode: st.inode) } else { roots[root] = nil }
            }
        default:
            guard let id = r.op else { return }
            var o = ops[id] ?? OperationRecord()
            switch r.event {
            case "begin": o.begun = true; o.undone = false; o.stopped = nil
            case "placing": o.placing = true
            case "placed": o.placed = r.stat; o.created = r.created ?? true
            case "taking": if o.taking == nil { o.taking = r.stat }
            case "done": o.done = r; o.stopped = nil
            case "refused", "failed": o.stopped = r
            case "undone":
                let before = o.taking ?? o.previousTaking
                o = OperationRecord()
                o.undone = true
                o.previousTaking = before
            default: break
            }
            ops[id] = o
        }
    }

    /// Parses a journal's bytes. Lines that are not valid JSON records are counted and skipped:
    /// only a crash mid-write makes them, and an intent line that was torn announced an action
    /// that was never taken (actions wait for the fsynced line).
    static func parse(_ bytes: [UInt8]) -> JournalState {
        var state = JournalState()
        state.endsWithNewline = bytes.isEmpty || bytes.last == 0x0A
        let decoder = JSONDecoder()
        for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: true) {
            if let r = try? decoder.decode(JournalRecord.self, from: Data(line)) { state.apply(r) } else { state.tornLines += 1 }
        }
        return state
    }
}

/// Appends records to the journal: one JSON line each, fsynced before returning.
final class JournalWriter {
    let fs: any FileOps
    let path: FilePath
    let fd: Int32
    /// The file does not end with a newline (a torn line): the next record starts a new line.
    var needsNewline: Bool
    let encoder: JSONEncoder

    init(fs: any FileOps, path: FilePath, endsWithNewline: Bool) throws {
        self.fs = fs
        self.path = path
        let existed = (try? fs.lstat(AT_FDCWD, path.bytes)) != nil
        do {
            fd = try fs.open(AT_FDCWD, path.bytes, flags: O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, mode: 0o644)
        } catch let e as Errno {
            throw ApplyError.journal(path: path.display, reason: "cannot open for writing: \(e) (\(e.name))")
        }
        needsNewline = !endsWithNewline
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if !existed {
            // Make the new journal's name durable too.
            let parent = FilePath(bytes: Array(path.bytes[..<(path.bytes.lastIndex(of: 0x2F) ?? 0)]))
            if let dir = try? fs.open(AT_FDCWD, parent.bytes.isEmpty ? [0x2F] : parent.bytes, flags: O_RDONLY | O_DIRECTORY, mode: 0) {
                defer { fs.close(dir) }
                do { try fs.fsync(dir) } catch is Errno {}
            }
        }
    }

    deinit { fs.close(fd) }

    func append(_ record: JournalRecord) throws {
        var r = record
        if r.time == nil { r.time = Timestamp.string(Date()) }
        var line = (try? encoder.encode(r)).map(Array.init) ?? []
        line.append(0x0A)
        if needsNewline { line.insert(0x0A, at: 0) }
        do {
            var offset = 0
            while offset < line.count {
                let n = try line.withUnsafeBytes { raw in try fs.write(fd, UnsafeRawBufferPointer(rebasing: raw[offset...])) }
                if n <= 0 { throw Errno(EIO) }
                offset += n
                needsNewline = true
            }
            needsNewline = false
            try fs.fsync(fd)
        } catch let e as Errno {
            needsNewline = true
            if e.code == ENOSPC || e.code == EDQUOT {
                throw ApplyError.journal(path: path.display, reason: "the disk is full (\(e.name)); free some space and run again: finished operations are kept")
            }
            throw ApplyError.journal(path: path.display, reason: "write failed: \(e) (\(e.name))")
        }
    }

    /// Reads the journal at `path` (an empty state when there is none).
    static func read(fs: any FileOps, path: FilePath) throws -> JournalState {
        let fd: Int32
        do {
            fd = try fs.open(AT_FDCWD, path.bytes, flags: O_RDONLY | O_NOFOLLOW, mode: 0)
        } catch let e as Errno {
            if e.code == ENOENT { return JournalState() }
            throw ApplyError.journal(path: path.display, reason: "cannot read: \(e) (\(e.name))")
        }
        defer { fs.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n: Int
            do { n = try chunk.withUnsafeMutableBytes { try fs.read(fd, into: $0) } } catch let e as Errno {
                throw ApplyError.journal(path: path.display, reason: "cannot read: \(e) (\(e.name))")
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
        }
        var state = JournalState.parse(bytes)
        state.exists = true
        return state
    }
}
