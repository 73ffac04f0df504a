#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The lock of a plan's journal: one apply or undo of a plan at a time, and no dry run or
/// verify while one runs. Without it, `apply --method move` and `undo` of one plan running
/// together each undo the other's work (a content can end up in neither the silo nor the
/// target), and two applies interleave in one journal that a later undo then misreads.
///
/// The lock is an advisory `flock` on `<journal>-lock`, in the journal's folder with its
/// symbolic links resolved, so every path to one journal shares it. It is held until this value
/// is dropped (or the process ends: a killed process holds nothing). A second process is
/// refused at once, with the pid and the command holding it.
public final class PlanLock: Sendable {
    public let path: FilePath
    private let fd: Int32

    /// Exclusive for what writes (apply, undo); `shared` for what only reads (a dry run,
    /// verify): readers may share it, never with a writer. A reader whose journal folder cannot
    /// hold a lock file (read-only, or missing) goes on without one: nothing can write a journal
    /// there either. A lock file that is a symbolic link is refused, never followed.
    public init(journal: FilePath, purpose: String, shared: Bool = false) throws(ApplyError) {
        let path = Self.lockPath(forJournal: journal)
        self.path = path
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
    }

    deinit { if fd >= 0 { ExclusiveLock.release(fd) } }

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
