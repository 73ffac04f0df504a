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
            guard code == EWOULDBLOCK || code == EAGAIN else { close(fd); throw .cannotOpen(Errno(code)) }
            let text = holderNote(fd)
            close(fd)
            throw .held(text)
        }
        writeNote(fd, purpose: purpose)
        return fd
    }

    /// Says in a lock file just taken who holds it, for `holderNote`.
    static func writeNote(_ fd: Int32, purpose: String) {
        let note = "pid \(getpid()) (\(purpose)) since \(Timestamp.string(Date()))\n"
        _ = ftruncate(fd, 0)
        _ = note.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    /// What a held lock file says about its holder. A holder that has just taken the lock may
    /// not have written its note yet: an empty file is read again for up to 50 ms.
    ///
    /// The note goes into messages on a terminal, and anyone who may write in the catalogue's
    /// folder can write it: control characters (an escape sequence) come out escaped, and a
    /// note is cut at 200 characters.
    static func holderNote(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 512)
        for attempt in 0..<6 {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            let text = String(decoding: buffer.prefix(max(0, n)), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty { return TextDecoding.printable(text, limit: 200) }
            if attempt < 5 { usleep(10_000) }
        }
        return "another process"
    }

    package static func release(_ fd: Int32) {
        _ = flock(fd, LOCK_UN)
        close(fd)
    }
}

/// A lock held only for a short step that other processes should wait for rather than be
/// refused by: creating or upgrading a catalogue's schema. Another process opening the same
/// catalogue at that moment waits (up to `timeout`) and then sees the finished catalogue,
/// instead of a half-made one.
///
/// The lock file exists only while the lock is held: the holder removes it before it lets go.
/// A process that opened the file before it was removed finds, once it gets the lock, that the
/// name no longer leads to the file it locked, and starts again; so two processes never hold
/// locks on two files of one name. A process killed while holding it leaves the file behind,
/// unlocked (the kernel drops the lock), and the next taker uses it.
package enum TransientLock {
    package struct Held {
        let fd: Int32
        let path: String
        let exclusive: Bool

        /// Lets go: the exclusive holder removes the file first (see above).
        package func release() {
            if exclusive { _ = unlink(path) }
            _ = flock(fd, LOCK_UN)
            close(fd)
        }
    }

    /// Takes the lock at `path`, waiting up to `timeout` for another holder. Exclusive takers
    /// create the file; shared ones (readers, which must not write) take nothing when it does
    /// not exist, because then nobody holds it: the answer is nil.
    ///
    /// A wait longer than `noticeAfter` is told once to `onWait`, with what the lock file says
    /// about its holder, so that a command is not silent for minutes.
    package static func take(_ path: String, purpose: String, exclusive: Bool, timeout: Duration,
                             noticeAfter: Duration = .seconds(2),
                             onWait: ((String) -> Void)? = nil) throws(ExclusiveLock.Failure) -> Held? {
        let start = ContinuousClock.now
        let deadline = start.advanced(by: timeout)
        var told = onWait == nil
        while true {
            let fd = exclusive ? open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
                               : open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            if fd < 0 {
                let code = errno
                if !exclusive && code == ENOENT { return nil }
                throw .cannotOpen(Errno(code))
            }
            while flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
                let code = errno
                guard code == EWOULDBLOCK || code == EAGAIN || code == EINTR else {
                    close(fd)
                    throw .cannotOpen(Errno(code))
                }
                let now = ContinuousClock.now
                if now >= deadline {
                    let text = ExclusiveLock.holderNote(fd)
                    close(fd)
                    throw .held(text)
                }
                if !told && now - start >= noticeAfter {
                    told = true
                    onWait?(ExclusiveLock.holderNote(fd))
                }
                usleep(20_000)
            }
            // Locked; but is it still the file the name leads to?
            var locked = stat(), named = stat()
            if fstat(fd, &locked) == 0, lstat(path, &named) == 0,
               locked.st_dev == named.st_dev, locked.st_ino == named.st_ino {
                if exclusive { ExclusiveLock.writeNote(fd, purpose: purpose) }
                return Held(fd: fd, path: path, exclusive: exclusive)
            }
            _ = flock(fd, LOCK_UN)
            close(fd)
            if !exclusive && lstat(path, &named) != 0 { return nil }
        }
    }
}
