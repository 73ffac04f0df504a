#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// The lock of a plan's journal: one apply or undo of a plan at a time, and no dry run or
/// verify while one runs. Without it, `apply --method move` and `undo` of one plan running
/// together each undo the other's work (a content can end up in neither the silo nor the
/// target), and two applies interleave in one journal that a later undo then misreads.
///
/// The lock is an advisory `flock` on `<journal>-lock`, in the journal's folder with its
/// symbolic links resolved, so every path to one journal shares it. It is held until this value
/// is dropped (or the process ends: a killed process holds nothing). A second process is
/// refused at once, with the pid and the command holding it.
///
/// The journal file itself is locked too, by its inode, as soon as it exists (at once when it
/// already does; by `lockJournal` right after apply creates it): a hard link to the journal is
/// another name in another folder, with another `-lock` file, but the same inode.
public final class PlanLock: Sendable {
    public let path: FilePath
    private let fd: Int32
    private let shared: Bool
    /// The journal's own descriptor holding the inode lock, once it is taken.
    private let journalFD = Mutex<Int32>(-1)

    /// Exclusive for what writes (apply, undo); `shared` for what only reads (a dry run,
    /// verify): readers may share it, never with a writer. A reader whose journal folder cannot
    /// hold a lock file (read-only, or missing) goes on without one: nothing can write a journal
    /// there either. A lock file that is a symbolic link is refused, never followed.
    public init(journal: FilePath, purpose: String, shared: Bool = false) throws(ApplyError) {
        let path = Self.lockPath(forJournal: journal)
        self.path = path
        self.shared = shared
        do {
            fd = try ExclusiveLock.take(path.string ?? path.display, purpose: purpose, shared: shared)
        } catch {
            switch error {
            case .held(let holder): throw .locked(path: journal.display, holder: holder)
            case .cannotOpen(let e):
                if shared && (e.code == EACCES || e.code == EROFS || e.code == EPERM || e.code == ENOENT) { fd = -1; return }
                throw .journal(path: journal.display, reason: "cannot make its lock file \(path.display): \(e) (\(e.name))")
            }
        }
        try lockJournal(journal)
    }

    deinit {
        let j = journalFD.withLock { $0 }
        if j >= 0 { ExclusiveLock.release(j) }
        if fd >= 0 { ExclusiveLock.release(fd) }
    }

    /// Locks the journal's inode (shared or exclusive, as the lock is) when the journal exists and
    /// is not locked yet by this lock. Another process holding it through another name (a hard
    /// link) is refused with its pid when /proc tells it.
    public func lockJournal(_ journal: FilePath) throws(ApplyError) {
        if journalFD.withLock({ $0 }) >= 0 { return }
        let j = open(journal.string ?? journal.display, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        // Absent: nothing to share yet (apply locks it right after making it); a symbolic link:
        // the journal is refused when it is opened.
        guard j >= 0 else { return }
        if flock(j, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0 {
            let code = errno
            var st = stat()
            let inode = fstat(j, &st) == 0 ? UInt64(st.st_ino) : 0
            close(j)
            guard code == EWOULDBLOCK || code == EAGAIN else {
                throw .journal(path: journal.display, reason: "cannot lock it: \(Errno(code)) (\(Errno(code).name))")
            }
            let holder = Self.flockHolder(inode: inode).map { "pid \($0), through another name of the same journal (a hard link)" }
                ?? "another process, through another name of the same journal (a hard link)"
            throw .locked(path: journal.display, holder: holder)
        }
        journalFD.withLock { $0 = j }
    }

    /// The pid holding a flock on `inode`, from /proc/locks (Linux), not this process.
    static func flockHolder(inode: UInt64) -> Int32? {
        guard inode != 0, let text = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            // "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234567 0 EOF"
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 6, f[1] == "FLOCK", let pid = Int32(f[4]), pid != getpid(),
                  let ino = f[5].split(separator: ":").last.flatMap({ UInt64($0) }), ino == inode else { continue }
            return pid
        }
        return nil
    }

    /// `<journal>-lock` in the journal's folder, links resolved.
    public static func lockPath(forJournal journal: FilePath) -> FilePath {
        let bytes = journal.bytes
        let slash = bytes.lastIndex(of: 0x2F)
        let name = Array(slash.map { bytes[($0 + 1)...] } ?? bytes[...])
        let folder = slash.map { $0 == 0 ? FilePath("/") : FilePath(bytes: Array(bytes[..<$0])) } ?? FilePath(".")
        let real = (try? Posix.realPath(folder).get()) ?? Posix.absolute(folder)
        return FilePath(bytes: (real.bytes.last == 0x2F ? real.bytes : real.bytes + [0x2F]) + name + Array("-lock".utf8))
    }
}
