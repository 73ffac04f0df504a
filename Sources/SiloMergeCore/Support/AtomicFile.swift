#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The one way SiloMerge writes a complete file that others read (a plan, an export, an XMP
/// sidecar, the HTML report): the bytes go to a hidden temporary name beside the destination
/// (created exclusively, never through a symbolic link), are fsynced, and the temporary file is
/// renamed onto the final name; the folder is then fsynced so the rename survives a power cut.
/// Whatever happens — an error, a full disk, a kill at any point — the final name holds either
/// what it held before or the whole new file, never part of it. A failure removes the temporary
/// file; a killed process leaves it (`.NAME.silomerge-tmp-PID-N`), never under the final name.
///
/// Every call goes through `FileOps`, so the tests that crash and fill the disk under `apply`
/// do the same here. Errors from the file system become `AtomicFile.Failure` (path, what was
/// being done, errno); anything else (a simulated crash) passes through untouched, as a killed
/// process would leave.
public final class AtomicFile {
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        public enum Step: String, Sendable { case destination, create, write, sync, close, place }
        /// The destination (for `create`, `write`, `sync`: the destination too; the temporary
        /// name is an implementation detail a user cannot act on).
        public var path: FilePath
        public var step: Step
        public var errno: Errno?
        public var reason: String
        public var description: String {
            "\(path.display): \(reason)" + (errno.map { $0.code == ENOSPC || $0.code == EDQUOT ? "" : ": \($0) (\($0.name))" } ?? "")
        }
        /// The disk (or the quota) is full.
        public var isNoSpace: Bool { errno?.code == ENOSPC || errno?.code == EDQUOT }
    }

    /// What `commit` does when the final name exists.
    public enum Placement: Sendable {
        /// Replace it (the old file stays whole until the rename).
        case replace
        /// Leave it: `commit` returns false and removes the temporary file.
        case keepExisting
    }

    public let destination: FilePath
    let fs: any FileOps
    let temporary: [UInt8]
    let folder: [UInt8]
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var finished = false

    static let bufferSize = 1 << 16

    /// Creates the temporary file beside `destination`.
    public init(_ destination: FilePath, fs: any FileOps = RealFileOps(), mode: UInt32 = 0o644) throws {
        self.destination = destination
        self.fs = fs
        let bytes = destination.bytes
        let slash = bytes.lastIndex(of: 0x2F)
        let name = Array(slash.map { bytes[($0 + 1)...] } ?? bytes[...])
        folder = slash.map { $0 == 0 ? [0x2F] : Array(bytes[..<$0]) } ?? [0x2E]
        guard !name.isEmpty, name != [0x2E], name != [0x2E, 0x2E] else {
            throw Failure(path: destination, step: .destination, errno: nil, reason: "is a folder; give a file name")
        }
        if case .success(let st) = Posix.stat(destination), st.kind == .directory {
            throw Failure(path: destination, step: .destination, errno: nil, reason: "is a folder; give a file name")
        }
        var attempt = 0
        while true {
            attempt += 1
            let candidate = folder + [0x2F, 0x2E] + name + Array(".silomerge-tmp-\(getpid())-\(attempt)".utf8)
            do {
                fd = try fs.open(AT_FDCWD, candidate, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: mode)
                temporary = candidate
                return
            } catch let e as Errno {
                if e.code == EEXIST && attempt < 1000 { continue }
                let folderText = FilePath(bytes: folder).display
                throw Failure(path: destination, step: .create, errno: e,
                              reason: e.code == ENOENT ? "its folder \(folderText) does not exist" : "cannot create a file in \(folderText)")
            }
        }
    }

    deinit { abandon() }

    public func write(_ text: String) throws { try write(Array(text.utf8)) }

    public func write(_ bytes: [UInt8]) throws {
        precondition(!finished, "AtomicFile written after commit or abandon")
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.bufferSize { try flush() }
    }

    /// Writes what is buffered to the temporary file.
    public func flush() throws {
        var offset = 0
        while offset < buffer.count {
            do {
                offset += try buffer[offset...].withUnsafeBytes { try fs.write(fd, $0) }
            } catch let e as Errno {
                if e.code == EINTR { continue }
                throw Failure(path: destination, step: .write, errno: e,
                              reason: e.code == ENOSPC || e.code == EDQUOT ? "cannot be written: the disk is full (\(e.name))" : "cannot be written")
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, syncs and closes the temporary file, then puts it under the final name and syncs
    /// the folder. Returns false when `placement` is `keepExisting` and the name was taken
    /// (nothing was changed; the temporary file is gone).
    @discardableResult
    public func commit(_ placement: Placement = .replace) throws -> Bool {
        precondition(!finished, "AtomicFile committed twice")
        do {
            try flush()
            do { try fs.fsync(fd) } catch let e as Errno {
                throw Failure(path: destination, step: .sync, errno: e,
                              reason: e.code == ENOSPC || e.code == EDQUOT ? "cannot be written: the disk is full (\(e.name))" : "cannot be synced to the disk")
            }
        } catch let failure as Failure {
            abandon()
            throw failure
        }
        finished = true
        fs.close(fd)
        do {
            try fs.rename(AT_FDCWD, temporary, AT_FDCWD, destination.bytes, noReplace: placement == .keepExisting)
        } catch let e as Errno {
            try? fs.unlink(AT_FDCWD, temporary, directory: false)
            if e.code == EEXIST && placement == .keepExisting { return false }
            throw Failure(path: destination, step: .place, errno: e, reason: "cannot move the finished file into place")
        }
        // The rename is durable once the folder is synced (best effort: some file systems
        // cannot sync a folder, and the file itself is complete either way).
        if let dir = try? fs.open(AT_FDCWD, folder, flags: O_RDONLY | O_DIRECTORY, mode: 0) {
            try? fs.fsync(dir)
            fs.close(dir)
        }
        return true
    }

    /// Closes and removes the temporary file (nothing happens to the destination).
    public func abandon() {
        guard !finished else { return }
        finished = true
        fs.close(fd)
        try? fs.unlink(AT_FDCWD, temporary, directory: false)
    }

    /// Writes `bytes` as a complete file at `destination`.
    @discardableResult
    public static func write(_ destination: FilePath, _ bytes: [UInt8], fs: any FileOps = RealFileOps(),
                             placement: Placement = .replace, mode: UInt32 = 0o644) throws -> Bool {
        let file = try AtomicFile(destination, fs: fs, mode: mode)
        do {
            try file.write(bytes)
            return try file.commit(placement)
        } catch {
            file.abandon()
            throw error
        }
    }
}
