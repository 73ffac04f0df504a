#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Thrown by `FaultInjectingFileOps` at the step it was told to crash at. Not an `Errno`: the
/// applier does not handle it, so it leaves exactly as a killed process would.
public struct SimulatedCrash: Error, Sendable, CustomStringConvertible {
    public let step: Int
    public var description: String { "simulated crash at step \(step)" }
}

/// A `FileOps` that passes calls to another one and injects faults, for tests:
///
/// - `crashAtStep`: the Nth *step* (a call that changes the disk: create, write, fsync, mkdir,
///   rename, link, unlink, chmod, chown, utimes, clone) throws `SimulatedCrash` instead, and
///   from then on every call does (the process is "dead": no clean-up happens). A write that
///   crashes writes the first half of its bytes first, like a torn write.
/// - `failWrites`: the Nth write (counting from 1) fails with this errno (ENOSPC, EDQUOT, EIO),
///   and with `persistent` so does every later write and fsync (a disk that stays full).
/// - `skipFsync`: fsync does nothing (still a step): crash loops run much faster, and a
///   simulated crash loses nothing an fsync would have kept anyway.
public final class FaultInjectingFileOps: FileOps {
    public struct Faults: Sendable {
        public var crashAtStep: Int?
        public var failWrites: (number: Int, errno: Int32, persistent: Bool)?
        public var skipFsync: Bool
        public var availableBytes: Int64?
        public init(crashAtStep: Int? = nil, failWrites: (number: Int, errno: Int32, persistent: Bool)? = nil,
                    skipFsync: Bool = false, availableBytes: Int64? = nil) {
            self.crashAtStep = crashAtStep; self.failWrites = failWrites; self.skipFsync = skipFsync
            self.availableBytes = availableBytes
        }
    }

    struct State {
        var steps = 0
        var writes = 0
        var crashed = false
        var diskFull = false
        var openFDs: Set<Int32> = []
    }

    let base: any FileOps
    public let faults: Faults
    private let state = Mutex(State())

    public init(base: any FileOps = RealFileOps(), faults: Faults) {
        self.base = base
        self.faults = faults
    }

    /// Steps taken so far.
    public var steps: Int { state.withLock { $0.steps } }
    public var writes: Int { state.withLock { $0.writes } }
    public var crashed: Bool { state.withLock { $0.crashed } }

    /// Closes every descriptor still open (a crashed run leaves them, as a killed process's
    /// would be closed by the kernel).
    public func closeAll() {
        let fds = state.withLock { s in let f = s.openFDs; s.openFDs = []; return f }
        for fd in fds { base.close(fd) }
    }

    enum Verdict { case proceed, crash(Int), dead }

    private func step() -> Verdict {
        state.withLock { s in
            if s.crashed { return .dead }
            s.steps += 1
            if let n = faults.crashAtStep, s.steps >= n { s.crashed = true; return .crash(s.steps) }
            return .proceed
        }
    }

    private func alive() throws {
        if state.withLock({ $0.crashed }) { throw SimulatedCrash(step: -1) }
    }

    private func mutate<R>(_ body: () throws -> R) throws -> R {
        switch step() {
        case .proceed: return try body()
        case .crash(let n): throw SimulatedCrash(step: n)
        case .dead: throw SimulatedCrash(step: -1)
        }
    }

    public func open(_ dirFD: Int32, _ path: [UInt8], flags: Int32, mode: UInt32) throws -> Int32 {
        let fd: Int32
        if flags & O_CREAT != 0 {
            fd = try mutate { try base.open(dirFD, path, flags: flags, mode: mode) }
        } else {
            try alive()
            fd = try base.open(dirFD, path, flags: flags, mode: mode)
        }
        state.withLock { _ = $0.openFDs.insert(fd) }
        return fd
    }

    public func close(_ fd: Int32) {
        state.withLock { _ = $0.openFDs.remove(fd) }
        base.close(fd)
    }

    public func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try alive(); return try base.read(fd, into: buffer)
    }

    public func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) throws -> Int {
        try alive(); return try base.pread(fd, into: buffer, offset: offset)
    }

    public func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws -> Int {
        let verdict = step()
        switch verdict {
        case .dead: throw SimulatedCrash(step: -1)
        case .crash(let n):
            // A torn write: half the bytes reach the file, then the process dies.
            if bytes.count > 1 { _ = try? base.write(fd, UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count / 2)])) }
            throw SimulatedCrash(step: n)
        case .proceed: break
        }
        let fail: Int32? = state.withLock { s in
            s.writes += 1
            guard let f = faults.failWrites else { return nil }
            if s.writes == f.number || (f.persistent && s.writes > f.number) { s.diskFull = f.persistent; return f.errno }
            return nil
        }
        if let code = fail {
            // A full disk often takes part of the write first.
            if bytes.count > 1 { _ = try? base.write(fd, UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count / 3)])) }
            throw Errno(code)
        }
        return try base.write(fd, bytes)
    }

    public func fsync(_ fd: Int32) throws {
        try mutate {
            if state.withLock({ $0.diskFull }), let f = faults.failWrites { throw Errno(f.errno) }
            if !faults.skipFsync { try base.fsync(fd) }
        }
    }

    public func fstat(_ fd: Int32) throws -> FileStat { try alive(); return try base.fstat(fd) }
    public func lstat(_ dirFD: Int32, _ name: [UInt8]) throws -> FileStat { try alive(); return try base.lstat(dirFD, name) }
    public func mkdir(_ dirFD: Int32, _ name: [UInt8], mode: UInt32) throws { try mutate { try base.mkdir(dirFD, name, mode: mode) } }
    public func rename(_ fromDir: Int32, _ from: [UInt8], _ toDir: Int32, _ to: [UInt8], noReplace: Bool) throws {
        try mutate { try base.rename(fromDir, from, toDir, to, noReplace: noReplace) }
    }
    public func link(_ fromDir: Int32, _ from: [UInt8], _ toDir: Int32, _ to: [UInt8]) throws {
        try mutate { try base.link(fromDir, from, toDir, to) }
    }
    public func unlink(_ dirFD: Int32, _ name: [UInt8], directory: Bool) throws {
        try mutate { try base.unlink(dirFD, name, directory: directory) }
    }
    public func setTimes(_ fd: Int32, mtimeNs: Int64) throws { try mutate { try base.setTimes(fd, mtimeNs: mtimeNs) } }
    public func setMode(_ fd: Int32, _ mode: UInt32) throws { try mutate { try base.setMode(fd, mode) } }
    public func setOwner(_ fd: Int32, uid: UInt32, gid: UInt32) throws { try mutate { try base.setOwner(fd, uid: uid, gid: gid) } }
    public func clone(from source: Int32, to destination: Int32) throws { try mutate { try base.clone(from: source, to: destination) } }
    public func list(_ dirFD: Int32) throws -> [[UInt8]] { try alive(); return try base.list(dirFD) }
    public func availableBytes(_ fd: Int32) -> Int64? { faults.availableBytes ?? base.availableBytes(fd) }
    public func dropCache(_ fd: Int32) { base.dropCache(fd) }
}
