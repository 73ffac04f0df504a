#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSiloMergeShims
import Foundation

/// The file-system calls the applier makes, behind a protocol so tests can inject faults (a
/// full disk at the Nth write, a crash at step N). Every failure is thrown as `Errno`; any
/// other error (a simulated crash) passes through the applier untouched.
///
/// Names are the bytes of one entry relative to a directory descriptor (or a whole path for
/// `AT_FDCWD`). Nothing here follows a final symlink unless asked.
public protocol FileOps: Sendable {
    func open(_ dirFD: Int32, _ path: [UInt8], flags: Int32, mode: UInt32) throws -> Int32
    func close(_ fd: Int32)
    func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) throws -> Int
    /// May write less than asked (the caller loops).
    func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws -> Int
    func fsync(_ fd: Int32) throws
    func fstat(_ fd: Int32) throws -> FileStat
    /// `fstatat` without following a final symlink.
    func lstat(_ dirFD: Int32, _ name: [UInt8]) throws -> FileStat
    func mkdir(_ dirFD: Int32, _ name: [UInt8], mode: UInt32) throws
    /// `renameat`; with `noReplace`, fails with EEXIST rather than replace an existing name.
    func rename(_ fromDir: Int32, _ from: [UInt8], _ toDir: Int32, _ to: [UInt8], noReplace: Bool) throws
    /// `linkat` (never replaces: EEXIST).
    func link(_ fromDir: Int32, _ from: [UInt8], _ toDir: Int32, _ to: [UInt8]) throws
    func unlink(_ dirFD: Int32, _ name: [UInt8], directory: Bool) throws
    /// Sets the modification time (the access time is set to the same).
    func setTimes(_ fd: Int32, mtimeNs: Int64) throws
    func setMode(_ fd: Int32, _ mode: UInt32) throws
    func setOwner(_ fd: Int32, uid: UInt32, gid: UInt32) throws
    /// Makes `destination` share `source`'s blocks (FICLONE). EOPNOTSUPP, EXDEV, EINVAL…
    /// when the file system cannot.
    func clone(from source: Int32, to destination: Int32) throws
    /// The names in a directory (without `.` and `..`).
    func list(_ dirFD: Int32) throws -> [[UInt8]]
    /// Bytes free for an unprivileged user on the file system of `fd`, if known.
    func availableBytes(_ fd: Int32) -> Int64?
    /// Drops the file's cached pages, so the next read comes from the disk (best effort).
    func dropCache(_ fd: Int32)
}

/// The real calls.
public struct RealFileOps: FileOps {
    public init() {}

    @inline(__always)
    func check(_ r: Int32) throws { if r != 0 { throw Errno(errno) } }

    static func cString<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
        (bytes + [0]).withUnsafeBufferPointer { b in b.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) } }
    }

    public func open(_ dirFD: Int32, _ path: [UInt8], flags: Int32, mode: UInt32) throws -> Int32 {
        let fd = Self.cString(path) { p in Posix.retryingEINTR { openat(dirFD, p, flags | O_CLOEXEC, mode_t(mode)) } }
        if fd < 0 { throw Errno(errno) }
        return fd
    }

    public func close(_ fd: Int32) { _ = systemClose(fd) }

    public func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = systemRead(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno != EINTR { throw Errno(errno) }
        }
    }

    public func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) throws -> Int {
        while true {
            let n = systemPread(fd, buffer.baseAddress, buffer.count, off_t(offset))
            if n >= 0 { return n }
            if errno != EINTR { throw Errno(errno) }
        }
    }

    public func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws -> Int {
        while true {
            let n = systemWrite(fd, bytes.baseAddress, bytes.count)
            if n >= 0 { return n }
            if errno != EINTR { throw Errno(errno) }
        }
    }

    public func fsync(_ fd: Int32) throws { try check(Posix.retryingEINTR { systemFsync(fd) }) }

    public func fstat(_ fd: Int32) throws -> FileStat {
        switch Posix.fstat(fd) {
        case .success(let s): return s
        case .failure(let e): throw e
        }
    }

    public func lstat(_ dirFD: Int32, _ name: [UInt8]) throws -> FileStat {
        let r = Self.cString(name) { Posix.lstat(at: dirFD, $0) }
        switch r {
        case .success(let s): return s
        case .failure(let e): throw e
        }
    }

    public func mkdir(_ dirFD: Int32, _ name: [UInt8], mode: UInt32) throws {
        try check(Self.cString(name) { mkdirat(dirFD, $0, mode_t(mode)) })
    }

    public func rename(_ fromDir: Int32, _ from: [UInt8], _ toDir: Int32, _ to: [UInt8], noReplace: Bool) throws {
        if !noReplace {
            try check(Self.cString(from) { f in Self.cString(to) { t in renameat(fromDir, f, toDir, t) } })
            return
        }
        let r = Self.cString(from) { f in Self.cString(to) { t in silomerge_rename_noreplace(fromDir, f, toDir, t) } }
        if r == 0 { return }
        let code = errno
        // Kernels and file systems without RENAME_NOREPLACE say EINVAL, ENOSYS or ENOTSUP:
        // fall back below.
        if code != EINVAL && code != ENOSYS && code != ENOTSUP && code != EOPNOTSUPP { throw Errno(code) }
        // Portable: link the new name (never replaces), then drop the old one.
        try link(fromDir, from, toDir, to)
        try unlink(fromDir, from, directory: false)
    }

    public func link(_ fromDir: Int32, _ from: [UInt8], _ toDir: Int32, _ to: [UInt8]) throws {
        try check(Self.cString(from) { f in Self.cString(to) { t in linkat(fromDir, f, toDir, t, 0) } })
    }

    public func unlink(_ dirFD: Int32, _ name: [UInt8], directory: Bool) throws {
        try check(Self.cString(name) { unlinkat(dirFD, $0, directory ? AT_REMOVEDIR : 0) })
    }

    public func setTimes(_ fd: Int32, mtimeNs: Int64) throws {
        let (sec, nsec) = Timestamp.split(nanoseconds: mtimeNs)
        let ts = timespec(tv_sec: time_t(sec), tv_nsec: Int(nsec))
        var times = [ts, ts]
        try check(futimens(fd, &times))
    }

    public func setMode(_ fd: Int32, _ mode: UInt32) throws { try check(fchmod(fd, mode_t(mode))) }

    public func setOwner(_ fd: Int32, uid: UInt32, gid: UInt32) throws { try check(fchown(fd, uid_t(uid), gid_t(gid))) }

    public func clone(from source: Int32, to destination: Int32) throws {
        try check(silomerge_clone(source, destination))
    }

    public func list(_ dirFD: Int32) throws -> [[UInt8]] {
        let copy = dup(dirFD)
        if copy < 0 { throw Errno(errno) }
        guard let dir = fdopendir(copy) else { let e = errno; _ = systemClose(copy); throw Errno(e) }
        defer { closedir(dir) }
        rewinddir(dir)
        var out: [[UInt8]] = []
        while let entry = readdir(dir) {
            let name: [UInt8] = withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                let bytes = raw.bindMemory(to: UInt8.self)
                return Array(bytes.prefix(while: { $0 != 0 }))
            }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            out.append(name)
        }
        return out
    }

    public func availableBytes(_ fd: Int32) -> Int64? {
        var s = statvfs()
        guard fstatvfs(fd, &s) == 0 else { return nil }
        return Int64(s.f_bavail) * Int64(s.f_frsize)
    }

    public func dropCache(_ fd: Int32) {
        #if os(Linux)
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        #endif
    }
}

#if canImport(Darwin)
@inline(__always) func systemClose(_ fd: Int32) -> Int32 { Darwin.close(fd) }
@inline(__always) func systemRead(_ fd: Int32, _ p: UnsafeMutableRawPointer?, _ n: Int) -> Int { Darwin.read(fd, p, n) }
@inline(__always) func systemPread(_ fd: Int32, _ p: UnsafeMutableRawPointer?, _ n: Int, _ o: off_t) -> Int { Darwin.pread(fd, p, n, o) }
@inline(__always) func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer?, _ n: Int) -> Int { Darwin.write(fd, p, n) }
@inline(__always) func systemFsync(_ fd: Int32) -> Int32 { Darwin.fsync(fd) }
#else
@inline(__always) func systemClose(_ fd: Int32) -> Int32 { Glibc.close(fd) }
@inline(__always) func systemRead(_ fd: Int32, _ p: UnsafeMutableRawPointer?, _ n: Int) -> Int { Glibc.read(fd, p, n) }
@inline(__always) func systemPread(_ fd: Int32, _ p: UnsafeMutableRawPointer?, _ n: Int, _ o: off_t) -> Int { Glibc.pread(fd, p, n, o) }
@inline(__always) func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer?, _ n: Int) -> Int { Glibc.write(fd, p, n) }
@inline(__always) func systemFsync(_ fd: Int32) -> Int32 { Glibc.fsync(fd) }
#endif
