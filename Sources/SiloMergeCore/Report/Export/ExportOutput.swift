import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Output

/// A buffered writer to a file descriptor. For a file, writes go to a temporary file in the
/// same folder that `commit()` renames over the destination.
final class ExportOutput {
    /// A file: written through `AtomicFile` (nothing under the final name before `commit`).
    private let file: AtomicFile?
    /// A descriptor (standard output, a pipe).
    private let fd: Int32
    let target: FilePath?
    private var buffer: [UInt8] = []

    init(fd: Int32) { self.fd = fd; file = nil; target = nil }

    init(file path: FilePath, fs: any FileOps) throws {
        do { file = try AtomicFile(path, fs: fs) } catch let e as AtomicFile.Failure { throw ExportError(e) }
        fd = -1
        target = path
    }

    func write(_ text: String) throws { try write(bytes: Array(text.utf8)) }

    func write(bytes: [UInt8]) throws {
        if let file {
            do { try file.write(bytes) } catch let e as AtomicFile.Failure { throw ExportError(e) }
            return
        }
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 16 { try flush() }
    }

    func flush() throws {
        if let file {
            do { try file.flush() } catch let e as AtomicFile.Failure { throw ExportError(e) }
            return
        }
        var offset = 0
        while offset < buffer.count {
            let n = buffer[offset...].withUnsafeBytes { exportWrite(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw ExportError(.write, path: nil, errno: code, reason: "cannot write the output (file descriptor \(fd))")
            }
            offset += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes; a file is then synced and put in place whole.
    func commit() throws {
        guard let file else { return try flush() }
        do { try file.commit(.replace) } catch let e as AtomicFile.Failure { throw ExportError(e) }
    }

    /// Removes the temporary file of an unfinished output.
    func abandon() { file?.abandon() }
}

extension ExportError {
    /// An `AtomicFile` failure, in the export's terms.
    init(_ e: AtomicFile.Failure) {
        let kind: Kind = switch e.step {
        case .destination: .destination
        case .create: .open
        case .write, .sync, .close: .write
        case .place: .rename
        }
        self.init(kind, path: e.path, errno: e.isNoSpace ? nil : e.errno.map(\.code), reason: e.reason)
    }
}

/// Sorts manifest lines in bounded memory: `runLimit` lines are sorted in memory, larger
/// inputs are spilled as sorted runs to a temporary folder and merged at the end.
final class ManifestSorter {
    var runLimit: Int
    let tempParent: FilePath
    private var chunk: [[UInt8]] = []
    private var folder: FilePath?
    private var runs: [FilePath] = []

    init(tempParent: FilePath, runLimit: Int) { self.tempParent = tempParent; self.runLimit = max(1, runLimit) }

    var spilledRuns: Int { runs.count }

    func add(_ line: [UInt8]) throws {
        chunk.append(line)
        if chunk.count >= runLimit { try spill() }
    }

    private func sortChunk() { chunk.sort { $0.lexicographicallyPrecedes($1) } }

    private func spill() throws {
        sortChunk()
        if folder == nil {
            var template = tempParent.bytes + Array("/.silomerge-manifest-XXXXXX".utf8) + [0]
            let made = template.withUnsafeMutableBufferPointer { p in
                p.withMemoryRebound(to: CChar.self) { mkdtemp($0.baseAddress!) }
            }
            guard made != nil else {
                throw ExportError(.open, path: tempParent, errno: errno, reason: "cannot create a temporary folder to sort the manifest")
            }
            folder = FilePath(bytes: Array(template.dropLast()))
        }
        let run = folder!.appending(RelativePath("run-\(runs.count)"))
        let fd = run.withCString { open($0, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) }
        guard fd >= 0 else { throw ExportError(.open, path: run, errno: errno, reason: "cannot create a temporary file to sort the manifest") }
        runs.append(run)
        defer { close(fd) }
        let out = ExportOutput(fd: fd)
        for line in chunk { try out.write(bytes: line + [0x0A]) }
        try out.flush()
        chunk.removeAll(keepingCapacity: true)
    }

    /// Writes every line, sorted, each ending in LF.
    func drain(into out: ExportOutput) throws {
        if runs.isEmpty {
            sortChunk()
            for line in chunk { try out.write(bytes: line + [0x0A]) }
            chunk = []
            return
        }
        if !chunk.isEmpty { try spill() }
        let readers = try runs.map { try LineReader($0) }
        var heads = try readers.map { try $0.next() }
        while true {
            var best: Int?
            for (i, head) in heads.enumerated() {
                guard let head else { continue }
                if let b = best, !head.lexicographicallyPrecedes(heads[b]!) { continue }
                best = i
            }
            guard let b = best else { break }
            try out.write(bytes: heads[b]! + [0x0A])
            heads[b] = try readers[b].next()
        }
    }

    func cleanup() {
        for run in runs { _ = run.withCString { unlink($0) } }
        runs = []
        if let folder { _ = folder.withCString { rmdir($0) } }
        folder = nil
    }
}

/// Reads LF-terminated lines from a file.
final class LineReader {
    private let fd: Int32
    private let path: FilePath
    private var buffer: [UInt8] = []
    private var position = 0
    private var atEnd = false

    init(_ path: FilePath) throws {
        self.path = path
        fd = path.withCString { open($0, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw ExportError(.open, path: path, errno: errno, reason: "cannot open a temporary file") }
    }

    deinit { close(fd) }

    func next() throws -> [UInt8]? {
        while true {
            if let lf = buffer[position...].firstIndex(of: 0x0A) {
                let line = Array(buffer[position..<lf])
                position = lf + 1
                return line
            }
            if atEnd {
                guard position < buffer.count else { return nil }
                let line = Array(buffer[position...])
                position = buffer.count
                return line
            }
            buffer.removeFirst(position)
            position = 0
            var block = [UInt8](repeating: 0, count: 1 << 16)
            let n = block.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ExportError(.read, path: path, errno: errno, reason: "cannot read a temporary file")
            }
            if n == 0 { atEnd = true } else { buffer.append(contentsOf: block[0..<n]) }
        }
    }
}

/// File operations on byte paths, with errors as `ExportError`.
enum ExportFileOps {
    enum Comparison { case missing, identical, different }

    static func parent(of path: FilePath) -> FilePath {
        guard let slash = path.bytes.lastIndex(of: 0x2F) else { return FilePath(".") }
        return slash == 0 ? FilePath("/") : FilePath(bytes: Array(path.bytes[..<slash]))
    }

    /// `mkdir -p`.
    static func makeDirectories(_ path: FilePath) throws {
        let bytes = path.bytes
        var ends = bytes.indices.filter { $0 > 0 && bytes[$0] == 0x2F }
        ends.append(bytes.count)
        for end in ends where end > 0 && bytes[end - 1] != 0x2F {
            let prefix = FilePath(bytes: Array(bytes[..<end]))
            if prefix.withCString({ mkdir($0, 0o755) }) != 0 {
                let code = errno
                if code == EEXIST { continue }
                throw ExportError(.open, path: prefix, errno: code, reason: "cannot create the folder")
            }
        }
        switch Posix.stat(path) {
        case .success(let st) where st.kind == .directory: return
        case .success: throw ExportError(.destination, path: path, errno: ENOTDIR, reason: "is not a folder")
        case .failure(let e): throw ExportError(.open, path: path, errno: e.code, reason: "cannot use the folder")
        }
    }

    /// Compares a file's bytes with `bytes` (a symbolic link or other non-regular file is "different").
    static func compare(_ path: FilePath, with bytes: [UInt8]) throws -> Comparison {
        let fd = path.withCString { open($0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK) }
        if fd < 0 {
            let code = errno
            if code == ENOENT { return .missing }
            if code == ELOOP { return .different }
            throw ExportError(.read, path: path, errno: code, reason: "cannot read the existing file")
        }
        defer { close(fd) }
        guard case .success(let st) = Posix.fstat(fd), st.kind == .regular, st.size == Int64(bytes.count) else { return .different }
        var existing = [UInt8](repeating: 0, count: bytes.count + 1)
        var count = 0
        while count < existing.count {
            let n = existing[count...].withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ExportError(.read, path: path, errno: errno, reason: "cannot read the existing file")
            }
            if n == 0 { break }
            count += n
        }
        return count == bytes.count && existing[..<count].elementsEqual(bytes) ? .identical : .different
    }
}

#if canImport(Glibc)
@inline(__always) private func exportWrite(_ fd: Int32, _ p: UnsafeRawPointer?, _ n: Int) -> Int { Glibc.write(fd, p, n) }
#elseif canImport(Musl)
@inline(__always) private func exportWrite(_ fd: Int32, _ p: UnsafeRawPointer?, _ n: Int) -> Int { Musl.write(fd, p, n) }
#elseif canImport(Darwin)
@inline(__always) private func exportWrite(_ fd: Int32, _ p: UnsafeRawPointer?, _ n: Int) -> Int { Darwin.write(fd, p, n) }
#endif
