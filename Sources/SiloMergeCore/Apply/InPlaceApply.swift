#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSiloMergeShims
import Foundation

/// Apply and undo of in-place plans (/4, `MergePlan.inPlace`): each duplicate is acted on
/// beside its canonical copy in the silos; there is no target tree.
///
/// Before each operation both files are checked against the plan (size, mtime, device and
/// inode; a symbolic link swapped in is refused by `O_NOFOLLOW`), and for hard link, remove and
/// quarantine both are hashed again: nothing is acted on that is not, byte for byte, the
/// content the plan was made for. A reflink needs no hash: the kernel compares the bytes
/// itself (FIDEDUPERANGE) and shares nothing that differs.
extension Applier {
    /// The name a hard-link or remove operation keeps the duplicate's own file under, beside
    /// it, until the operation is committed: never a `temporaryPrefix` name (those are removed
    /// on resume).
    static let holdPrefix = ".silomerge-hold-"
    func holdName(_ op: Int) -> [UInt8] { Array("\(Self.holdPrefix)\(op)".utf8) }

    /// Takes an exclusive advisory lock (`flock`, without waiting) on the root folder of every
    /// silo `ops` act in, held as long as the run keeps its silo roots open (`closeAll`; a
    /// killed process holds nothing). The plan's own lock is per journal: without this, two
    /// in-place plans that keep opposite copies of one content (made with other canonical
    /// rules) and run at once would each check the copy it keeps, then each take away the
    /// other's: the content lost. Nothing is written into the silo for it.
    func lockSilosInPlace(_ ops: [PlanOperation]) throws {
        var silos: [FilePath: String] = [:]
        for op in ops {
            for s in [op.source, op.canonical].compactMap({ $0 }) { silos[s.siloRoot] = "\(s.silo)" }
        }
        for (root, silo) in silos.sorted(by: { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }) {
            let fd = try siloFD(root)
            guard flock(fd, LOCK_EX | LOCK_NB) != 0 else { continue }
            let code = errno
            guard code == EWOULDBLOCK || code == EAGAIN else {
                throw ApplyError.io(path: root.display, operation: "lock the silo root", errno: Errno(code))
            }
            throw busy(fd, silo, root)
        }
        // Each folder above a silo root, shared: a plan whose silo root is one of them (another
        // catalogue may hold the same files under a wider silo) locks it exclusively, so the two
        // exclude each other as well; plans in unrelated silos share them.
        var above: [[UInt8]: String] = [:]
        for (root, silo) in silos {
            var p = root.bytes
            while let slash = p.lastIndex(of: 0x2F), p != [0x2F] {
                p = slash == 0 ? [0x2F] : Array(p[..<slash])
                if silos[FilePath(bytes: p)] == nil, above[p] == nil { above[p] = silo }
            }
        }
        for (p, silo) in above.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            // A folder above that cannot be opened (no permission) is not locked: the silo roots are.
            guard let fd = try? fs.open(AT_FDCWD, p, flags: O_RDONLY | O_DIRECTORY | O_CLOEXEC, mode: 0) else { continue }
            siloLockFDs.append(fd)
            guard flock(fd, LOCK_SH | LOCK_NB) != 0 else { continue }
            let code = errno
            guard code == EWOULDBLOCK || code == EAGAIN else { continue }
            throw busy(fd, silo, FilePath(bytes: p))
        }
    }

    private func busy(_ fd: Int32, _ silo: String, _ root: FilePath) -> ApplyError {
        let inode = (try? fs.fstat(fd))?.inode ?? 0
        let holder = PlanLock.flockHolder(inode: inode).map { "pid \($0)" } ?? "another apply or undo"
        return ApplyError.siloBusy(silo: silo, root: root.display, holder: holder)
    }

    func performInPlace(_ op: PlanOperation) throws -> Performed {
        switch op.kind {
        case .linkDuplicate: return try linkInPlace(op)
        case .reflinkDuplicate: return try reflinkInPlace(op)
        case .removeDuplicate: return try removeInPlace(op)
        // The canonical copy comes from `canonicalInSilo` (through `canonicalInTarget`).
        case .quarantineDuplicate: return try quarantineDuplicate(op)
        default: throw ApplyError.invalidPlan([PlanProblem(op: op.id, reason: "\(op.kind.rawValue) in an in-place plan")])
        }
    }

    /// The canonical copy of an in-place operation, in its silo, still the file the plan names
    /// (size, mtime, device, inode) and, with `hash`, still its content. The caller closes `dir`.
    func canonicalInSilo(_ op: PlanOperation, hash: Bool) throws -> (dir: Int32, name: [UInt8], stat: JournalStat, source: PlanSource) {
        guard let c = op.canonical else {
            throw ApplyError.invalidPlan([PlanProblem(op: op.id, reason: "no canonical copy")])
        }
        let (dir, name) = try openSourceParent(c)
        do {
            let (fd, st) = try openSource(dir, name, c)
            defer { fs.close(fd) }
            if hash {
                let (digest, _) = try self.hash(fd, c.display)
                guard digest.hex == c.sha256.lowercased() else {
                    throw ApplyError.sourceChanged(path: c.display, detail: "the canonical copy's content has SHA-256 \(digest.hex.prefix(16))…, the plan says \(c.sha256.prefix(16))…")
                }
            }
            return (dir, name, JournalStat(st), c)
        } catch let e as ApplyError {
            fs.close(dir)
            if case .sourceChanged(_, let detail) = e {
                throw ApplyError.sourceChanged(path: c.display, detail: "the canonical copy: \(detail)")
            }
            throw e
        }
    }

    // MARK: hard link

    /// The duplicate's name is replaced by a hard link to the canonical copy, atomically; its
    /// own file is kept under a hold name beside it until that is done, then checked (a write
    /// to it while it was being replaced puts it back) and only then let go.
    func linkInPlace(_ op: PlanOperation) throws -> Performed {
        guard let s = op.source else { throw ApplyError.invalidPlan([PlanProblem(op: op.id, reason: "no source")]) }
        let (dir, name) = try openSourceParent(s)
        defer { fs.close(dir) }
        let hold = holdName(op.id)
        let canonical: (dir: Int32, name: [UInt8], stat: JournalStat, source: PlanSource)
        do {
            canonical = try canonicalInSilo(op, hash: false)
        } catch let e as ApplyError {
            // An interrupted swap whose canonical copy changed (or went) since: the duplicate's
            // name must not keep showing that file, its own hidden under the hold name.
            guard let back = try putHeldFileBack(op, dir: dir, name: name, hold: hold) else { throw e }
            throw ApplyError.sourceChanged(path: s.display, detail: "\(e); \(back)")
        }
        defer { fs.close(canonical.dir) }
        let canonicalID = FileID(device: canonical.stat.device, inode: canonical.stat.inode)

        // An interrupted run: the journal announced the swap (`taking`); the disk says how far.
        if let taking = state.ops[op.id]?.taking {
            let current = try lstatIfPresent(dir, name, s.display)
            if let held = try lstatIfPresent(dir, hold, s.display) {
                guard held.device == taking.device, held.inode == taking.inode else {
                    throw ApplyError.destinationExists(path: s.display, detail: "\(String(decoding: hold, as: UTF8.self)) beside it is not the file this operation held; left alone")
                }
                if current?.fileID == canonicalID {
                    // Swapped; the held file is let go only while unchanged.
                    guard taking.matches(held) else {
                        try sys(s.display, "rename") { try fs.rename(dir, hold, dir, name, noReplace: false) }
                        try sys(s.display, "fsync folder") { try fs.fsync(dir) }
                        throw ApplyError.sourceChanged(path: s.display, detail: "it was written to while being replaced; its own file is back in place")
                    }
                    return try commitLink(op, s, dir: dir, name: name, hold: hold)
                }
                // Not swapped: drop the hold name (the file keeps its own), and start again.
                if current?.fileID == held.fileID {
                    try sys(s.display, "unlink") { try fs.unlink(dir, hold, directory: false) }
                } else if current == nil {
                    try sys(s.display, "rename") { try fs.rename(dir, hold, dir, name, noReplace: true) }
                }
                try sys(s.display, "fsync folder") { try fs.fsync(dir) }
            } else if current?.fileID == canonicalID {
                return Performed(detail: "replaced by a hard link to the canonical copy", stat: current.map(JournalStat.init))
            }
        }

        guard let current = try lstatIfPresent(dir, name, s.display) else {
            throw ApplyError.sourceChanged(path: s.display, detail: "it is gone")
        }
        if current.fileID == canonicalID {
            return Performed(detail: "already a hard link to the canonical copy", stat: JournalStat(current))
        }
        let (fd, st) = try openSource(dir, name, s)
        defer { fs.close(fd) }
        guard st.device == canonical.stat.device else {
            throw ApplyError.crossDevice(path: s.display, detail: "cannot be replaced by a hard link to \(canonical.source.display): another file system (device \(st.device), canonical on \(canonical.stat.device))")
        }
        let (digest, _) = try hash(fd, s.display)
        guard digest.hex == s.sha256.lowercased() else {
            throw ApplyError.sourceChanged(path: s.display, detail: "its content has SHA-256 \(digest.hex.prefix(16))…, the plan says \(s.sha256.prefix(16))…")
        }
        // The canonical copy too: a link makes its bytes this name's.
        let verified = try canonicalInSilo(op, hash: true)
        fs.close(verified.dir)

        var r = JournalRecord(event: "taking", op: op.id)
        r.stat = JournalStat(st)
        try record(r)
        do {
            try fs.link(dir, name, dir, hold)
        } catch let e as Errno {
            if e.code == EEXIST { throw ApplyError.destinationExists(path: s.display, detail: "\(String(decoding: hold, as: UTF8.self)) already exists beside it") }
            throw ApplyError.io(path: s.display, operation: "hard link (hold)", errno: e)
        }
        guard let held = try lstatIfPresent(dir, hold, s.display), held.fileID == st.fileID else {
            try bestEffort { try fs.unlink(dir, hold, directory: false) }
            throw ApplyError.sourceChanged(path: s.display, detail: "the name changed file while being replaced; left alone")
        }
        let temp = temporaryName(op.id)
        do {
            try fs.link(canonical.dir, canonical.name, dir, temp)
        } catch let e as Errno {
            try bestEffort { try fs.unlink(dir, hold, directory: false) }
            if e.code == EXDEV { throw ApplyError.crossDevice(path: s.display, detail: "a hard link cannot cross file systems") }
            if e.code == EMLINK { throw ApplyError.io(path: s.display, operation: "hard link (the canonical copy has the most links its file system allows)", errno: e) }
            throw ApplyError.io(path: s.display, operation: "hard link", errno: e)
        }
        guard let linked = try lstatIfPresent(dir, temp, s.display), linked.fileID == canonicalID, canonical.stat.matches(linked) else {
            try bestEffort { try fs.unlink(dir, temp, directory: false) }
            try bestEffort { try fs.unlink(dir, hold, directory: false) }
            throw ApplyError.sourceChanged(path: canonical.source.display, detail: "the canonical copy changed while linking; nothing was replaced")
        }
        try record(JournalRecord(event: "placing", op: op.id))
        do {
            // Atomic: the name is the duplicate or the canonical copy, never missing.
            try fs.rename(dir, temp, dir, name, noReplace: false)
        } catch let e as Errno {
            try bestEffort { try fs.unlink(dir, temp, directory: false) }
            try bestEffort { try fs.unlink(dir, hold, directory: false) }
            throw ApplyError.io(path: s.display, operation: "rename", errno: e)
        }
        // Written to between the hash and the swap? Then it goes back, unchanged. Size and mtime
        // catch most writes, but mtime moves in the kernel's clock ticks: a write in the tick
        // of the hash leaves it as it was. The held file cannot be opened by its name any more,
        // so its bytes, read again, are the proof.
        let after = try sys(s.display, "stat") { try fs.fstat(fd) }
        var written = after.size != st.size || after.mtimeNs != st.mtimeNs
        if !written {
            let (again, _) = try hash(fd, s.display)
            written = again.hex != s.sha256.lowercased()
        }
        if written {
            try sys(s.display, "rename") { try fs.rename(dir, hold, dir, name, noReplace: false) }
            try sys(s.display, "fsync folder") { try fs.fsync(dir) }
            throw ApplyError.sourceChanged(path: s.display, detail: "it was written to while being replaced; its own file is back in place")
        }
        return try commitLink(op, s, dir: dir, name: name, hold: hold)
    }

    /// Resume of a hard link whose canonical copy cannot be used any more: the file the
    /// interrupted run held (the duplicate's own) goes back under its name, replacing only the
    /// link to the canonical copy's file the run put there. What was done, or nil when there
    /// was nothing held.
    func putHeldFileBack(_ op: PlanOperation, dir: Int32, name: [UInt8], hold: [UInt8]) throws -> String? {
        guard let s = op.source, let c = op.canonical, let taking = state.ops[op.id]?.taking,
              let held = try lstatIfPresent(dir, hold, s.display), held.device == taking.device, held.inode == taking.inode else { return nil }
        let current = try lstatIfPresent(dir, name, s.display)
        if current?.fileID == held.fileID {
            try sys(s.display, "unlink") { try fs.unlink(dir, hold, directory: false) }
        } else if current == nil || current?.fileID == c.fileID {
            try sys(s.display, "rename") { try fs.rename(dir, hold, dir, name, noReplace: current == nil) }
        } else {
            return "its own file is kept beside it as \(String(decoding: hold, as: UTF8.self)) (its name now holds another file, left alone)"
        }
        try sys(s.display, "fsync folder") { try fs.fsync(dir) }
        return "the interrupted hard link was taken back: its own file is under its name again"
    }

    func commitLink(_ op: PlanOperation, _ s: PlanSource, dir: Int32, name: [UInt8], hold: [UInt8]) throws -> Performed {
        try sys(s.display, "fsync folder") { try fs.fsync(dir) }
        try sys(s.display, "unlink") { try fs.unlink(dir, hold, directory: false) }
        try sys(s.display, "fsync folder") { try fs.fsync(dir) }
        let now = try sys(s.display, "stat") { try fs.lstat(dir, name) }
        return Performed(detail: "replaced by a hard link to the canonical copy (both verified)", stat: JournalStat(now))
    }

    // MARK: remove

    /// The duplicate is first held: renamed to a hold name beside it (journalled as `taking`),
    /// hashed there, and only then is the canonical copy checked (identity and content) and
    /// the hold name let go. Another program that takes the canonical copy away before that
    /// check finds the duplicate held, and it goes back under its name (refused). One that
    /// takes it in the instant between the check and the unlink is caught by a look at the
    /// canonical copy afterwards: the duplicate's bytes, still open, are written back under
    /// its name (verified), and the operation is refused. Both names are never gone at once.
    func removeInPlace(_ op: PlanOperation) throws -> Performed {
        guard let s = op.source else { throw ApplyError.invalidPlan([PlanProblem(op: op.id, reason: "no source")]) }
        let (dir, name) = try openSourceParent(s)
        defer { fs.close(dir) }
        let hold = holdName(op.id)
        let holdShown = String(decoding: hold, as: UTF8.self)

        // An interrupted run: the journal announced the hold (`taking`); the disk says how far.
        if let taking = state.ops[op.id]?.taking {
            let current = try lstatIfPresent(dir, name, s.display)
            if let held = try lstatIfPresent(dir, hold, s.display) {
                guard held.device == taking.device, held.inode == taking.inode else {
                    throw ApplyError.destinationExists(path: s.display, detail: "\(holdShown) beside it is not the file this operation held; left alone")
                }
                // Held, not let go: it goes back under its name, and the operation starts again.
                guard current == nil else {
                    throw ApplyError.destinationExists(path: s.display, detail: "its name holds another file now; the duplicate's own file is kept beside it as \(holdShown)")
                }
                try sys(s.display, "rename") { try fs.rename(dir, hold, dir, name, noReplace: true) }
                try sys(s.display, "fsync folder") { try fs.fsync(dir) }
            } else if current == nil {
                // Let go by the interrupted run, after its check of the canonical copy. Still there?
                do {
                    let c = try canonicalInSilo(op, hash: false)
                    fs.close(c.dir)
                } catch let e as ApplyError {
                    throw ApplyError.sourceChanged(path: s.display, detail: "an interrupted run removed it after checking its canonical copy, which is not as planned now: \(e)")
                }
                return Performed(detail: "removed (its content verified, then the canonical copy verified)")
            }
        }

        guard let current = try lstatIfPresent(dir, name, s.display) else {
            throw ApplyError.sourceChanged(path: s.display, detail: "it is gone")
        }
        try checkIdentity(current, s)
        if let c = op.canonical, current.fileID == c.fileID {
            throw ApplyError.sourceChanged(path: s.display, detail: "it is a hard link to the canonical copy's own file, not a separate copy; left alone")
        }
        var r = JournalRecord(event: "taking", op: op.id)
        r.stat = JournalStat(current)
        try record(r)
        do {
            try fs.rename(dir, name, dir, hold, noReplace: true)
        } catch let e as Errno {
            if e.code == EEXIST { throw ApplyError.destinationExists(path: s.display, detail: "\(holdShown) already exists beside it") }
            throw ApplyError.io(path: s.display, operation: "rename (hold)", errno: e)
        }
        try sys(s.display, "fsync folder") { try fs.fsync(dir) }
        /// Puts the held file back under its name and throws `reason` with what was done.
        func putBack(_ reason: String) throws -> Never {
            do {
                try fs.rename(dir, hold, dir, name, noReplace: true)
                try sys(s.display, "fsync folder") { try fs.fsync(dir) }
            } catch let e as Errno {
                throw ApplyError.sourceChanged(path: s.display, detail: "\(reason); it could not go back under its name (\(e.name)): it is kept beside it as \(holdShown)")
            }
            throw ApplyError.sourceChanged(path: s.display, detail: "\(reason); it is back under its name, as it was")
        }
        let fd: Int32
        let st: FileStat
        do {
            (fd, st) = try openSource(dir, hold, s)
        } catch let e as ApplyError {
            try putBack("it changed as it was held (\(e))")
        }
        defer { fs.close(fd) }
        let (digest, _) = try hash(fd, s.display)
        guard digest.hex == s.sha256.lowercased() else {
            try putBack("its content has SHA-256 \(digest.hex.prefix(16))…, the plan says \(s.sha256.prefix(16))…")
        }
        // Now, with the duplicate held, the copy that is kept: the file the plan names, its content.
        let canonical: (dir: Int32, name: [UInt8], stat: JournalStat, source: PlanSource)
        do {
            canonical = try canonicalInSilo(op, hash: true)
        } catch let e as ApplyError {
            try putBack("\(e)")
        }
        defer { fs.close(canonical.dir) }
        guard st.fileID != FileID(device: canonical.stat.device, inode: canonical.stat.inode) else {
            try putBack("it is a hard link to the canonical copy's own file, not a separate copy")
        }
        try sys(s.display, "unlink") { try fs.unlink(dir, hold, directory: false) }
        try sys(s.display, "fsync folder") { try fs.fsync(dir) }
        // Taken away in the instant between the check and the unlink? The duplicate's bytes are
        // still open here: they go back under its name.
        let after = try lstatIfPresent(canonical.dir, canonical.name, canonical.source.display)
        if let after, after.kind == .regular, canonical.stat.matches(after) {
            return Performed(detail: "removed (its content verified, then the canonical copy verified)")
        }
        let temp = try writeTemporary(op: op.id, in: dir, destination: s.display, from: .file(fd, reflink: false),
                                      sha256: s.sha256, size: st.size, mode: st.mode & 0o7777, mtimeNs: st.mtimeNs,
                                      owner: (st.uid, st.gid), sourceDisplay: s.display)
        let gone = "the canonical copy \(canonical.source.display) changed or went as the duplicate was removed"
        do {
            try fs.rename(dir, temp, dir, name, noReplace: true)
        } catch let e as Errno {
            // A new file under its name meanwhile (or the rename failed): the bytes stay beside
            // it under the hold name (a temporary name would be cleaned up), never over it.
            try sys(s.display, "rename") { try fs.rename(dir, temp, dir, hold, noReplace: true) }
            try sys(s.display, "fsync folder") { try fs.fsync(dir) }
            let why = e.code == EEXIST ? "its name holding another file now" : "its name could not be given back (\(e.name))"
            throw ApplyError.sourceChanged(path: s.display, detail: "\(gone): its bytes were written back (verified) beside it as \(holdShown), \(why)")
        }
        try sys(s.display, "fsync folder") { try fs.fsync(dir) }
        throw ApplyError.sourceChanged(path: s.display, detail: "\(gone): its bytes were written back under its name (verified; a new file with its mode, owner and times)")
    }

    // MARK: reflink

    /// The largest range one FIDEDUPERANGE call is asked for (btrfs caps a call at 16 MiB).
    static let dedupeChunk: Int64 = 16 << 20

    func reflinkInPlace(_ op: PlanOperation) throws -> Performed {
        guard let s = op.source else { throw ApplyError.invalidPlan([PlanProblem(op: op.id, reason: "no source")]) }
        let canonical = try canonicalInSilo(op, hash: false)
        defer { fs.close(canonical.dir) }
        let (dir, name) = try openSourceParent(s)
        defer { fs.close(dir) }
        let (fd, st) = try openSource(dir, name, s)
        defer { fs.close(fd) }
        if st.fileID == FileID(device: canonical.stat.device, inode: canonical.stat.inode) {
            return Performed(detail: "already a hard link to the canonical copy", stat: JournalStat(st))
        }
        guard st.device == canonical.stat.device else {
            throw ApplyError.crossDevice(path: s.display, detail: "cannot share blocks with \(canonical.source.display): another file system (device \(st.device), canonical on \(canonical.stat.device))")
        }
        let (cfd, cst) = try openSource(canonical.dir, canonical.name, canonical.source)
        defer { fs.close(cfd) }
        var r = JournalRecord(event: "taking", op: op.id)
        r.stat = JournalStat(st)
        try record(r)
        var offset: Int64 = 0
        while offset < st.size {
            let length = min(Self.dedupeChunk, st.size - offset)
            var differs: Int32 = 0
            let n = silomerge_dedupe_range(cfd, offset, length, fd, offset, &differs)
            if n < 0 {
                let e = Errno(errno)
                switch e.code {
                case EOPNOTSUPP, ENOTTY, EINVAL, ENOSYS, EXDEV:
                    throw ApplyError.crossDevice(path: s.display, detail: "the file system cannot share blocks (FIDEDUPERANGE: \(e.name)): reflink is unavailable here; nothing was changed. Plan again with --in-place --method hardlink or quarantine")
                case EPERM, EACCES:
                    throw ApplyError.io(path: s.display, operation: "share blocks (FIDEDUPERANGE needs write access to the file, or to own it)", errno: e)
                default:
                    throw ApplyError.io(path: s.display, operation: "share blocks (FIDEDUPERANGE)", errno: e)
                }
            }
            if differs != 0 {
                throw ApplyError.sourceChanged(path: s.display, detail: "the kernel found its bytes at offset \(offset) differ from the canonical copy's: it changed since the scan; nothing from there on was shared, and its bytes are as they were")
            }
            guard n > 0 else {
                throw ApplyError.io(path: s.display, operation: "share blocks (FIDEDUPERANGE shared nothing at offset \(offset))", errno: Errno(EIO))
            }
            offset += n
        }
        // Sharing blocks changes neither file; both must still be what the plan named.
        let after = try sys(s.display, "stat") { try fs.fstat(fd) }
        try checkIdentity(after, s)
        try checkIdentity(try sys(canonical.source.display, "stat") { try fs.fstat(cfd) }, canonical.source)
        _ = cst
        return Performed(detail: "shares the canonical copy's blocks (the kernel compared every byte)", stat: JournalStat(after))
    }

    /// Undo of a reflink: the name becomes a file with blocks of its own again (a verified
    /// copy of its bytes, with its mode, owner and times), replacing the shared one atomically.
    func reverseReflinkInPlace(_ op: PlanOperation, _ rec: OperationRecord) throws -> String {
        guard let s = op.source, let taking = rec.taking else { return "nothing was shared" }
        let (dir, name) = try openSourceParent(s)
        defer { fs.close(dir) }
        guard let cur = try lstatIfPresent(dir, name, s.display) else {
            throw ApplyError.changedSinceApply(path: s.display, detail: "it is gone since apply; nothing to restore it from here")
        }
        guard cur.kind == .regular, cur.device == taking.device, cur.inode == taking.inode, cur.size == taking.size,
              cur.mtimeNs == taking.mtimeNs else {
            throw ApplyError.changedSinceApply(path: s.display, detail: "changed since apply (another file, or written to); left in place")
        }
        try restore(op, from: (dir, name, s.display), to: (dir, name, s.display), sha256: s.sha256, like: taking, replace: true)
        return "a file with blocks of its own again (same bytes, mode, owner and times)"
    }
}

/// `silomerge verify` of an in-place plan: what each operation left is checked in the silos.
public enum InPlaceVerifier {
    public static func verify(_ plan: MergePlan, journal: FilePath?) throws -> VerifyReport {
        var report = VerifyReport()
        let fs = RealFileOps()
        let state = try journal.map { try JournalWriter.read(fs: fs, path: $0) } ?? JournalState()
        guard let hasher = try? SHA256Hasher() else { return report }
        func label(_ s: PlanSource) -> RelativePath { RelativePath(NameSanitizer.component(s.silo)).appending(s.path.bytes) }
        func look(_ root: FilePath, _ path: RelativePath) -> (stat: FileStat?, sha: String?) {
            let full = root.appending(path)
            guard let st = try? fs.lstat(AT_FDCWD, full.bytes) else { return (nil, nil) }
            guard st.kind == .regular, let fd = try? fs.open(AT_FDCWD, full.bytes, flags: O_RDONLY | O_NOFOLLOW, mode: 0) else { return (st, nil) }
            defer { fs.close(fd) }
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            guard (try? hasher.reset()) != nil else { return (st, nil) }
            while true {
                guard let n = try? buffer.withUnsafeMutableBytes({ try fs.read(fd, into: $0) }) else { return (st, nil) }
                if n == 0 { break }
                guard (try? buffer.withUnsafeBytes({ try hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) })) != nil else { return (st, nil) }
                report.bytesRead += Int64(n)
            }
            return (st, (try? hasher.finalize())?.hex)
        }
        var checkedCanonical: Set<[UInt8]> = []
        var tally = VerifyReport.Operations()
        for op in plan.operations {
            guard let s = op.source, let c = op.canonical else { continue }
            tally.total += 1
            let rec = state.ops[op.id]
            if rec?.done != nil {
                tally.applied += 1
            } else if let stopped = rec?.stopped {
                tally.stopped.append(.init(op: op.id, path: s.display, event: stopped.event, reason: stopped.detail ?? "no reason recorded"))
            } else if rec?.undone == true {
                tally.undone += 1
            } else {
                tally.pending += 1
            }
            if checkedCanonical.insert(c.silo.exactBytes + [0] + c.path.bytes).inserted {
                report.expectedFiles += 1
                let (st, sha) = look(c.siloRoot, c.path)
                if st == nil {
                    report.problems.append(.init(kind: .missing, path: label(c), expected: c.sha256, detail: "the canonical copy is gone"))
                } else if sha != c.sha256.lowercased() {
                    report.problems.append(.init(kind: sha == nil ? .unreadable : .mismatch, path: label(c), expected: c.sha256, found: sha))
                } else { report.verifiedFiles += 1 }
            }
            let done = state.ops[op.id]?.done != nil
            report.expectedFiles += 1
            if done && op.kind == .removeDuplicate {
                if (try? fs.lstat(AT_FDCWD, s.siloRoot.appending(s.path).bytes)) != nil {
                    report.problems.append(.init(kind: .unexpected, path: label(s), detail: "removed by apply, there again"))
                } else { report.verifiedFiles += 1 }
                continue
            }
            let (root, path) = done && op.kind == .quarantineDuplicate ? (plan.quarantineRoot, op.destination ?? s.path) : (s.siloRoot, s.path)
            let (st, sha) = look(root, path)
            let shown = done && op.kind == .quarantineDuplicate ? RelativePath("quarantine").appending(path.bytes) : label(s)
            if st == nil {
                report.problems.append(.init(kind: .missing, path: shown, expected: s.sha256, detail: done ? "apply left it here" : "the duplicate (not acted on) is gone"))
            } else if sha != s.sha256.lowercased() {
                report.problems.append(.init(kind: sha == nil ? .unreadable : .mismatch, path: shown, expected: s.sha256, found: sha))
            } else if done && op.kind == .linkDuplicate, let st, st.fileID != c.fileID {
                report.problems.append(.init(kind: .mismatch, path: shown, expected: s.sha256, found: sha, detail: "no longer a hard link to the canonical copy \(c.display)"))
            } else { report.verifiedFiles += 1 }
        }
        report.operations = tally
        return report
    }
}
