#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CSiloMergeShims
import Foundation

/// The kind of a directory entry, from `lstat`'s mode bits.
public enum FileKind: String, Sendable, Codable {
    case regular, directory, symlink, fifo, socket, characterDevice = "character-device"
    case blockDevice = "block-device", unknown

    public init(mode: UInt32) {
        switch mode & UInt32(S_IFMT) {
        case UInt32(S_IFREG): self = .regular
        case UInt32(S_IFDIR): self = .directory
        case UInt32(S_IFLNK): self = .symlink
        case UInt32(S_IFIFO): self = .fifo
        case UInt32(S_IFSOCK): self = .socket
        case UInt32(S_IFCHR): self = .characterDevice
        case UInt32(S_IFBLK): self = .blockDevice
        default: self = .unknown
        }
    }

    /// A name for messages ("FIFO", "socket", ...).
    public var label: String {
        switch self {
        case .regular: "regular file"
        case .directory: "directory"
        case .symlink: "symbolic link"
        case .fifo: "FIFO (named pipe)"
        case .socket: "socket"
        case .characterDevice: "character device"
        case .blockDevice: "block device"
        case .unknown: "file of unknown type"
        }
    }
}

/// A device and inode: the identity of one physical file on one file system.
public struct FileID: Hashable, Sendable, Comparable {
    public var device: UInt64
    public var inode: UInt64
    public init(device: UInt64, inode: UInt64) { self.device = device; self.inode = inode }
    public static func < (a: FileID, b: FileID) -> Bool { (a.device, a.inode) < (b.device, b.inode) }
}

/// What `lstat`/`fstat` say about a file, in the units the catalogue keeps.
public struct FileStat: Hashable, Sendable {
    public var size: Int64
    public var mtimeNs: Int64
    public var ctimeNs: Int64
    public var device: UInt64
    public var inode: UInt64
    public var linkCount: UInt64
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32

    public init(size: Int64, mtimeNs: Int64, ctimeNs: Int64, device: UInt64, inode: UInt64,
                linkCount: UInt64, mode: UInt32, uid: UInt32, gid: UInt32) {
        self.size = size; self.mtimeNs = mtimeNs; self.ctimeNs = ctimeNs
        self.device = device; self.inode = inode; self.linkCount = linkCount
        self.mode = mode; self.uid = uid; self.gid = gid
    }

    public init(_ st: stat) {
        #if canImport(Darwin)
        let mtime = Int64(st.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(st.st_mtimespec.tv_nsec)
        let ctime = Int64(st.st_ctimespec.tv_sec) * 1_000_000_000 + Int64(st.st_ctimespec.tv_nsec)
        #else
        let mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        let ctime = Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec)
        #endif
        self.init(size: Int64(st.st_size), mtimeNs: mtime, ctimeNs: ctime,
                  device: UInt64(truncatingIfNeeded: st.st_dev), inode: UInt64(truncatingIfNeeded: st.st_ino),
                  linkCount: UInt64(truncatingIfNeeded: st.st_nlink), mode: UInt32(truncatingIfNeeded: st.st_mode),
                  uid: UInt32(truncatingIfNeeded: st.st_uid), gid: UInt32(truncatingIfNeeded: st.st_gid))
    }

    public var kind: FileKind { FileKind(mode: mode) }
    public var fileID: FileID { FileID(device: device, inode: inode) }

    /// The identity an incremental rescan trusts: when these are unchanged the stored hash is reused.
    public func sameIdentity(as other: FileStat) -> Bool {
        device == other.device && inode == other.inode && size == other.size
            && mtimeNs == other.mtimeNs && ctimeNs == other.ctimeNs
    }
}

/// Thin, throwing wrappers over the POSIX calls the scanner needs. Every failure carries errno.
public enum Posix {
    public static func errorString(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// `fstatat` without following a final symlink.
    public static func lstat(at dirfd: Int32, _ name: UnsafePointer<CChar>) -> Result<FileStat, Errno> {
        var st = Glibc_stat()
        if fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 { return .failure(Errno(errno)) }
        return .success(FileStat(st))
    }

    /// `fstatat` following symlinks.
    public static func stat(at dirfd: Int32, _ name: UnsafePointer<CChar>) -> Result<FileStat, Errno> {
        var st = Glibc_stat()
        if fstatat(dirfd, name, &st, 0) != 0 { return .failure(Errno(errno)) }
        return .success(FileStat(st))
    }

    /// `stat` of a path (following symlinks).
    public static func stat(_ path: FilePath) -> Result<FileStat, Errno> {
        var st = Glibc_stat()
        if path.withCString({ statCall($0, &st) }) != 0 { return .failure(Errno(errno)) }
        return .success(FileStat(st))
    }

    public static func fstat(_ fd: Int32) -> Result<FileStat, Errno> {
        var st = Glibc_stat()
        if fstatCall(fd, &st) != 0 { return .failure(Errno(errno)) }
        return .success(FileStat(st))
    }

    /// `open` of an absolute or relative path.
    public static func openPath(_ path: FilePath, flags: Int32) -> Result<Int32, Errno> {
        let fd = path.withCString { p in retryingEINTR { systemOpen(p, flags | O_CLOEXEC) } }
        return fd >= 0 ? .success(fd) : .failure(Errno(errno))
    }

    /// `openat` of a path relative to `dirfd`. Intermediate components may be symlinks only if
    /// the kernel follows them (it does); the last one is not followed when `O_NOFOLLOW` is set.
    /// Paths longer than the kernel accepts in one call are opened component by component.
    public static func openAt(_ dirfd: Int32, _ path: RelativePath, flags: Int32) -> Result<Int32, Errno> {
        let fd = path.withCString { p in retryingEINTR { openat(dirfd, p, flags | O_CLOEXEC) } }
        if fd >= 0 { return .success(fd) }
        let code = errno
        guard code == ENAMETOOLONG else { return .failure(Errno(code)) }
        // Walk down one component at a time, each opened as a directory without following links.
        let parts = path.components
        var current = dirfd
        var owned = false
        defer { if owned { close(current) } }
        for (index, part) in parts.enumerated() {
            let last = index == parts.count - 1
            let componentFlags = last ? flags : (O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
            let next = RelativePath(bytes: Array(part)).withCString { p in
                retryingEINTR { openat(current, p, componentFlags | O_CLOEXEC) }
            }
            if next < 0 { return .failure(Errno(errno)) }
            if owned { close(current) }
            if last { owned = false; return .success(next) }
            current = next
            owned = true
        }
        return .failure(Errno(ENOENT))
    }

    /// Opens a file only to ask where it lies on the disk (`DiskOrder`): never blocking on a
    /// FIFO, never following a final symlink, never becoming a controlling terminal. nil when
    /// it cannot be opened (it is then read in its listing's place, and its read says why).
    public static func openForOrdering(rootFD: Int32, path: RelativePath) -> Int32? {
        if case .success(let fd) = openAt(rootFD, path, flags: O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW) { return fd }
        return nil
    }

    /// Retries a call that failed with EINTR.
    @inline(__always)
    public static func retryingEINTR(_ body: () -> Int32) -> Int32 {
        while true {
            let r = body()
            if r == -1 && errno == EINTR { continue }
            return r
        }
    }

    /// The real, absolute path of `path` (symlinks resolved), as bytes.
    public static func realPath(_ path: FilePath) -> Result<FilePath, Errno> {
        guard let resolved = path.withCString({ realpath($0, nil) }) else { return .failure(Errno(errno)) }
        defer { free(resolved) }
        let length = strlen(resolved)
        let bytes = resolved.withMemoryRebound(to: UInt8.self, capacity: length) {
            Array(UnsafeBufferPointer(start: $0, count: length))
        }
        return .success(FilePath(bytes: bytes))
    }

    /// The current working directory as bytes.
    public static func currentDirectory() -> FilePath {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return FilePath(".") }
        let length = strlen(buffer)
        return FilePath(bytes: buffer.prefix(length).map { UInt8(bitPattern: $0) })
    }

    /// Turns a path given by the user into an absolute one (without resolving symlinks).
    public static func absolute(_ path: FilePath) -> FilePath {
        if path.bytes.first == 0x2F { return path }
        let cwd = currentDirectory()
        if path.bytes == [UInt8(ascii: ".")] { return cwd }
        return FilePath(bytes: cwd.bytes + [0x2F] + path.bytes)
    }
}

#if canImport(Darwin)
@inline(__always) func systemOpen(_ p: UnsafePointer<CChar>, _ flags: Int32) -> Int32 { Darwin.open(p, flags) }
typealias Glibc_stat = Darwin.stat
@inline(__always) func fstatCall(_ fd: Int32, _ st: inout Darwin.stat) -> Int32 { Darwin.fstat(fd, &st) }
@inline(__always) func statCall(_ p: UnsafePointer<CChar>, _ st: inout Darwin.stat) -> Int32 { fstatat(AT_FDCWD, p, &st, 0) }
#else
@inline(__always) func systemOpen(_ p: UnsafePointer<CChar>, _ flags: Int32) -> Int32 { Glibc.open(p, flags) }
typealias Glibc_stat = Glibc.stat
@inline(__always) func fstatCall(_ fd: Int32, _ st: inout Glibc.stat) -> Int32 { Glibc.fstat(fd, &st) }
@inline(__always) func statCall(_ p: UnsafePointer<CChar>, _ st: inout Glibc.stat) -> Int32 { fstatat(AT_FDCWD, p, &st, 0) }
#endif

/// An errno value with its message.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: Int32
    public init(_ code: Int32) { self.code = code }
    public var description: String { Posix.errorString(code) }
    /// The symbolic name (ENOENT, EACCES...) for the common codes, for machine-readable output.
    public var name: String {
        switch code {
        case ENOENT: "ENOENT"
        case EACCES: "EACCES"
        case EPERM: "EPERM"
        case EIO: "EIO"
        case ENOTDIR: "ENOTDIR"
        case EISDIR: "EISDIR"
        case ELOOP: "ELOOP"
        case ENAMETOOLONG: "ENAMETOOLONG"
        case EMFILE: "EMFILE"
        case ENFILE: "ENFILE"
        case ENOSPC: "ENOSPC"
        case EXDEV: "EXDEV"
        case EEXIST: "EEXIST"
        case EBUSY: "EBUSY"
        case EROFS: "EROFS"
        case ESTALE: "ESTALE"
        case ENXIO: "ENXIO"
        case EWOULDBLOCK: "EAGAIN"
        default: "errno \(code)"
        }
    }
}

/// How the process's memory allocator is set up for runs over millions of files.
public enum MemoryTuning {
    /// glibc raises its mmap threshold each time a large block is freed (up to 32 MiB), so the
    /// large arrays of a million-file run (a same-size group's files, a batch of writes) end up
    /// in the heap, where freeing them does not give the memory back: a million-file audit
    /// peaked at 178 MiB instead of 124 MiB. A fixed threshold of 1 MiB keeps such blocks in
    /// their own mappings, returned to the system when freed.
    ///
    /// 1 MiB, not glibc's initial 128 KiB: reading metadata allocates blocks of a few hundred
    /// KiB (a packet's bytes, a window of a file), and each one mapped was zeroed page by page
    /// by the kernel as it was touched, then unmapped: a scan of a public photo collection
    /// (1,341 files) took 1,135 fewer page faults with 1 MiB. The million-file audit, scan and
    /// check peaked within 3 MiB of what they did with 128 KiB (GNU time, 1,000,000 files of 64
    /// B to 1 KiB).
    ///
    /// Fixing that threshold also fixes the trim threshold at its 128 KiB default: every time
    /// the free memory at the top of a heap passes 128 KiB it is given back, and taken again
    /// (page faults, zeroed pages) by the next file's buffers. Reading a file's metadata
    /// allocates and frees blocks of tens of KiB per file, so a scan with metadata churned
    /// pages through the kernel. 1 MiB of slack per heap (a few MiB in all: one heap per worker
    /// thread at most) stops that: a scan of a public photo collection (1,343 files) took
    /// 9,692 page faults instead of 10,878. Does nothing off glibc.
    public static func fixAllocatorThreshold() {
        _ = silomerge_fix_mmap_threshold(1 << 20)
        _ = silomerge_set_trim_threshold(1 << 20)
    }
}
