#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The one way SiloMerge reads a small text file a person hands it (a configuration, a
/// resolutions file): every failure names the file and says why, in words (never a Foundation
/// error domain and number).
///
/// - A folder, a socket or a device is refused before anything is read (reading `/dev/zero`
///   would never end). A FIFO or a pipe (`--resolutions <(…)`) is read: it is opened without
///   blocking, so one with no writer reads as empty instead of hanging.
/// - At most `limit` bytes: a larger file is refused, so memory stays bounded.
/// - The text must be UTF-8; a UTF-8 byte-order mark is dropped.
public enum InputFile {
    /// Why a file could not be read. `description` is "FILE: reason".
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var file: String
        public var reason: String
        public var description: String { "\(file): \(reason)" }
    }

    public static func readText(_ path: String, limit: Int) throws(Failure) -> String {
        var bytes = try readBytes(path, limit: limit)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        guard let text = String(validatingUTF8Bytes: bytes) else {
            let offset = firstInvalidUTF8(bytes)
            throw Failure(file: path, reason: "is not UTF-8 text (the byte at offset \(offset) is not UTF-8); save it as UTF-8")
        }
        return text
    }

    /// The file's bytes, at most `limit` of them (see the type's notes).
    public static func readBytes(_ path: String, limit: Int) throws(Failure) -> [UInt8] {
        func fail(_ reason: String) -> Failure { Failure(file: path, reason: reason) }
        guard !path.isEmpty else { throw fail("no file named (an empty path)") }
        let fd: Int32
        switch Posix.openPath(FilePath(path), flags: O_RDONLY | O_NONBLOCK | O_NOCTTY) {
        case .success(let f): fd = f
        case .failure(let e): throw fail(reason(opening: e))
        }
        defer { close(fd) }
        let st: FileStat
        switch Posix.fstat(fd) {
        case .success(let s): st = s
        case .failure(let e): throw fail("cannot be examined: \(e) (\(e.name))")
        }
        switch st.kind {
        case .regular:
            if st.size > Int64(limit) {
                throw fail("is \(Format.bytes(st.size)), more than the \(Format.bytes(Int64(limit))) such a file may hold")
            }
        case .fifo:
            // Opened without blocking (no writer: no hang); read it blocking from now on.
            let flags = fcntl(fd, F_GETFL)
            if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
        case .directory:
            throw fail("is a folder, not a file")
        default:
            throw fail("is a \(st.kind.label), not a file")
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw fail("cannot be read: \(Errno(code)) (\(Errno(code).name))")
            }
            if n == 0 { break }
            bytes.append(contentsOf: buffer[..<n])
            if bytes.count > limit {
                throw fail("holds more than the \(Format.bytes(Int64(limit))) such a file may hold")
            }
        }
        return bytes
    }

    /// Writes `bytes` to `path` whole or not at all: into a temporary file beside it, fsynced,
    /// then renamed over it. Failures name the file and the reason (errno), never a Foundation
    /// error domain.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], fs: any FileOps = RealFileOps()) throws(Failure) {
        do {
            try AtomicFile.write(FilePath(path), bytes, fs: fs)
        } catch let e as AtomicFile.Failure {
            let reason: String
            switch e.step {
            case .destination, .create: reason = e.reason + (e.errno.map { e.errno?.code == ENOENT ? "" : ": \($0) (\($0.name))" } ?? "")
            default: reason = e.isNoSpace ? "cannot be written: the disk is full (\(e.errno!.name))" : "\(e.reason): \(e.errno.map { "\($0) (\($0.name))" } ?? "")"
            }
            throw Failure(file: path, reason: reason)
        } catch {
            throw Failure(file: path, reason: "cannot be written: \(error)")
        }
    }


    package static func reason(opening e: Errno) -> String {
        switch e.code {
        case ENOENT: "no such file"
        case EACCES, EPERM: "permission denied (\(e.name))"
        case ENOTDIR: "a folder on its path is not a folder (\(e.name))"
        case ELOOP: "too many symbolic links on its path (\(e.name))"
        case ENAMETOOLONG: "the name is too long (\(e.name))"
        default: "cannot be opened: \(e) (\(e.name))"
        }
    }

    /// The offset of the first byte that breaks UTF-8 (for the message).
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int {
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .emptyInput, .error: return offset
            }
        }
    }
}
