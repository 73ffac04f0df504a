#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// An advisory lock (`flock`) on a small lock file that says who holds it: "pid 4242 (apply
/// /srv/plans/plan.json) since 2026-11-21T19:04:05.123Z". Taken without waiting: a second
/// process is refused at once, with that text. The lock goes with the process (a killed one
/// holds nothing); the file stays (removing it would let two processes lock two files of one
/// name) and holds no data.
package enum ExclusiveLock {
    package enum Failure: Error {
        case cannotOpen(Errno)
        /// Another process holds it: what the lock file says about it.
        case held(String)
    }

    /// Takes the lock; returns the descriptor holding it (give it to `release`). With
    /// `shared`, several holders may share it (readers), but none while a writer holds it.
    package static func take(_ path: String, purpose: String, shared: Bool = false) throws(Failure) -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw .cannotOpen(Errno(errno)) }
        if flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0 {
            let code = errno
            var buffer = [UInt8](repeating: 0, count: 512)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            close(fd)
            guard code == EWOULDBLOCK || code == EAGAIN else { throw .cannotOpen(Errno(code)) }
            let text = String(decoding: buffer.prefix(max(0, n)), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw .held(text.isEmpty ? "another process" : text)
        }
        let note = "pid \(getpid()) (\(purpose)) since \(Timestamp.string(Date()))\n"
        _ = ftruncate(fd, 0)
        _ = note.withCString { pwrite(fd, $0, strlen($0), 0) }
        return fd
    }

    package static func release(_ fd: Int32) {
        _ = flock(fd, LOCK_UN)
        close(fd)
    }
}
