#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The operations, each safe to run again after an interruption at any point: before acting,
/// each looks at what the journal announced and at what the disk holds.
extension Applier {
    struct Performed {
        var detail: String
        /// The result file (destination, quarantined file), if any.
        var stat: JournalStat?
        /// This run (or an interrupted earlier one) created the destination.
        var created: Bool = false
        /// The destination already held the content: nothing was written.
        var alreadyPresent: Bool = false
        var viaCopy: Bool = false
    }

    func perform(_ op: PlanOperation) throws -> Performed {
        if plan.inPlace != nil { return try performInPlace(op) }
        switch op.kind {
        case .copy, .hardlink, .reflink, .move, .sidecarCopy, .sidecarHardlink, .sidecarReflink, .sidecarMove: return try transfer(op)
        case .xmpSidecar, .importManifest: return try generate(op)
        case .removeDuplicate: return try removeDuplicate(op)
        case .linkDuplicate: return try linkDuplicate(op)
        case .quarantineDuplicate: return try quarantineDuplicate(op)
        case .reflinkDuplicate: throw ApplyError.invalidPlan([PlanProblem(op: op.id, reason: "reflink-duplicate belongs to in-place plans")])
        }
    }

    /// The source as the plan saw it, or `sourceChanged` saying what differs.
    func checkIdentity(_ st: FileStat, _ s: PlanSource) throws {
        guard st.kind == .regular else { throw ApplyError.sourceChanged(path: s.display, detail: "is now a \(st.kind.label)") }
        var diffs: [String] = []
        if st.size != s.size { diffs.append("size \(s.size) → \(st.size)") }
        if st.mtimeNs != s.mtimeNs { diffs.append("mtime \(Timestamp.string(nanoseconds: s.mtimeNs)) → \(Timestamp.string(nanoseconds: st.mtimeNs))") }
        if st.device != s.device || st.inode != s.inode { diffs.append("inode \(s.device):\(s.inode) → \(st.device):\(st.inode), another file") }
        if !diffs.isEmpty { throw ApplyError.sourceChanged(path: s.display, detail: diffs.joined(separator: ", ")) }
    }

    func openSource(_ dir: Int32, _ name: [UInt8], _ s: PlanSource) throws -> (Int32, FileStat) {
        let fd: Int32
        do {
            fd = try fs.open(dir, name, flags: O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, mode: 0)
        } catch let e as Errno {
            switch e.code {
            case ENOENT: throw ApplyError.sourceChanged(path: s.display, detail: "it is gone")
            case ELOOP: throw ApplyError.sourceChanged(path: s.display, detail: "it is now a symbolic link")
            default: throw ApplyError.io(path: s.display, operation: "open", errno: e)
            }
        }
        do {
            let st = try sys(s.display, "stat") { try fs.fstat(fd) }
            try checkIdentity(st, s)
            return (fd, st)
        } catch {
            fs.close(fd)
            throw error
        }
    }

    // MARK: transfers

    func transfer(_ op: PlanOperation) throws -> Performed {
        guard let s = op.source, let dest = op.destination else { throw ApplyError.invalidPlan([PlanProblem(op: op.id, reason: "incomplete operation")]) }
        let destDisplay = targetDisplay(dest.bytes)
        guard let (destDir, name) = try openTargetParent(dest, create: true) else {
            throw ApplyError.io(path: destDisplay, operation: "open the target", errno: Errno(ENOENT))
        }
        defer { fs.close(destDir) }
        let rec = state.ops[op.id]
        var created = false
        var alreadyPresent = false
        var viaCopy = false
        var placedStat: FileStat

        if let existing = try lstatIfPresent(destDir, name, destDisplay) {
            if let placed = rec?.placed, placed.matches(existing) {
                // Put in place (and verified) by an interrupted run.
                created = rec?.created ?? true
            } else {
                guard existing.kind == .regular else {
                    throw ApplyError.destinationExists(path: destDisplay, detail: "it is a \(existing.kind.label)")
                }
                guard existing.size == s.size else {
                    throw ApplyError.destinationExists(path: destDisplay, detail: "\(existing.size) bytes, the plan writes \(s.size)")
                }
                let (digest, _) = try hashFile(destDir, name, destDisplay)
                guard digest.hex == s.sha256.lowercased() else {
                    throw ApplyError.destinationExists(path: destDisplay, detail: "SHA-256 \(digest.hex.prefix(16))…, the plan writes \(s.sha256.prefix(16))…")
                }
                // The content is there: either an interrupted run renamed it into place just
                // before it could say so, or it was there before.
                created = rec?.placing == true
                alreadyPresent = !created
            }
            placedStat = existing
        } else {
            let (srcDir, srcName) = try openSourceParent(s)
            defer { fs.close(srcDir) }
            let (srcFD, srcStat) = try openSource(srcDir, srcName, s)
            defer { fs.close(srcFD) }
            var linked = false
            let method = op.kind.method
            if method == .hardlink || method == .move {
                // On one file system a move is a hard link, then the source name removed: no
                // data is copied, the file keeps its inode (and any other names it has), and
                // undo can link it back exactly.
                let destDevice = try sys(destDisplay, "stat") { try fs.fstat(destDir) }.device
                if destDevice == srcStat.device {
                    let (digest, _) = try hash(srcFD, s.display)
                    guard digest.hex == s.sha256.lowercased() else {
                        throw ApplyError.sourceChanged(path: s.display, detail: "its content has SHA-256 \(digest.hex.prefix(16))…, the plan says \(s.sha256.prefix(16))…")
                    }
                    try record(JournalRecord(event: "placing", op: op.id))
                    do {
                        try fs.link(srcDir, srcName, destDir, name)
                    } catch let e as Errno {
                        if e.code == EEXIST { throw ApplyError.destinationExists(path: destDisplay, detail: "appeared while applying") }
                        if e.code == ENOSPC || e.code == EDQUOT { throw noSpace(destDisplay, e, fileBytes: 0) }
                        throw ApplyError.io(path: destDisplay, operation: "hard link", errno: e)
                    }
                    linked = true
                    created = true
                } else if method == .hardlink && !op.fallbackToCopy {
                    throw ApplyError.crossDevice(path: destDisplay, detail: "a hard link cannot cross file systems (source on device \(srcStat.device), target on \(destDevice)); plan with the copy fallback, or another transfer method")
                } else {
                    viaCopy = true
                }
            }
            if !linked {
                let temp = try writeTemporary(op: op.id, in: destDir, destination: destDisplay,
                                              from: .file(srcFD, reflink: method == .reflink), sha256: s.sha256, size: s.size,
                                              mode: srcStat.mode & 0o777, mtimeNs: srcStat.mtimeNs, sourceDisplay: s.display)
                try announcePlacing(op.id, temp: temp, in: destDir)
                created = try place(temp, as: name, in: destDir, sha256: s.sha256, display: destDisplay)
                alreadyPresent = !created
            }
            try sys(destDisplay, "fsync folder") { try fs.fsync(destDir) }
            placedStat = try sys(destDisplay, "stat") { try fs.lstat(destDir, name) }
        }
        if rec?.placed == nil || rec?.placed?.matches(placedStat) != true {
            var r = JournalRecord(event: "placed", op: op.id)
            r.stat = JournalStat(placedStat)
            r.created = created
            try record(r)
        }

        var detail: String
        if alreadyPresent {
            detail = "the destination already held this content"
        } else if placedStat.device == s.device && placedStat.inode == s.inode {
            detail = "hard-linked (content verified)"
        } else if viaCopy {
            detail = "copied and verified (the source is on another file system)"
        } else {
            detail = op.kind.method == .reflink ? "cloned or copied, and verified" : "copied and verified"
        }
        if op.kind.method == .move {
            let (srcDir, srcName) = try openSourceParent(s)
            defer { fs.close(srcDir) }
            if let current = try lstatIfPresent(srcDir, srcName, s.display) {
                try checkIdentity(current, s)
                var r = JournalRecord(event: "taking", op: op.id)
                r.stat = JournalStat(current)
                try record(r)
                try sys(s.display, "unlink") { try fs.unlink(srcDir, srcName, directory: false) }
                try sys(s.display, "fsync folder") { try fs.fsync(srcDir) }
                detail += "; source removed"
            } else if state.ops[op.id]?.taking == nil {
                detail += "; the source had already gone"
            } else {
                detail += "; source removed"
            }
        }
        return Performed(detail: detail, stat: JournalStat(placedStat), created: created, alreadyPresent: alreadyPresent, viaCopy: viaCopy)
    }

    /// An XMP sidecar or the import manifest.
    func generate(_ op: PlanOperation) throws -> Performed {
        guard let dest = op.destination, let content = op.content, let sha = op.contentSHA256 else {
            throw ApplyError.invalidPlan([PlanProblem(op: op.id, reason: "incomplete operation")])
        }
        let bytes = Array(content.utf8)
        let destDisplay = targetDisplay(dest.bytes)
        guard let (dir, name) = try openTargetParent(dest, create: true) else {
            throw ApplyError.io(path: destDisplay, operation: "open the target", errno: Errno(ENOENT))
        }
        defer { fs.close(dir) }
        let rec = state.ops[op.id]
        var created = false
        var alreadyPresent = false
        let placedStat: FileStat
        if let existing = try lstatIfPresent(dir, name, destDisplay) {
            if let placed = rec?.placed, placed.matches(existing) {
                created = rec?.created ?? true
            } else {
                let (digest, st) = try hashFile(dir, name, destDisplay)
                guard st.kind == .regular, digest.hex == sha.lowercased() else {
                    throw ApplyError.destinationExists(path: destDisplay, detail: "SHA-256 \(digest.hex.prefix(16))…, the plan writes \(sha.prefix(16))…")
                }
                created = rec?.placing == true
                alreadyPresent = !created
            }
            placedStat = existing
        } else {
            let temp = try writeTemporary(op: op.id, in: dir, destination: destDisplay, from: .bytes(bytes), sha256: sha,
                                          size: Int64(bytes.count), mode: 0o644, mtimeNs: nil, sourceDisplay: destDisplay)
            try announcePlacing(op.id, temp: temp, in: dir)
            created = try place(temp, as: name, in: dir, sha256: sha, display: destDisplay)
            alreadyPresent = !created
            try sys(destDisplay, "fsync folder") { try fs.fsync(dir) }
            placedStat = try sys(destDisplay, "stat") { try fs.lstat(dir, name) }
        }
        if rec?.placed?.matches(placedStat) != true {
            var r = JournalRecord(event: "placed", op: op.id)
            r.stat = JournalStat(placedStat)
            r.created = created
            try record(r)
        }
        return Performed(detail: alreadyPresent ? "the destination already held this content" : "written and verified",
                         stat: JournalStat(placedStat), created: created, alreadyPresent: alreadyPresent)
    }

    // MARK: duplicates

    /// The canonical copy's destination, still as verified: its folder, name and identity.
    func canonicalInTarget(_ op: PlanOperation) throws -> (dir: Int32, name: [UInt8], stat: JournalStat, source: PlanSource) {
        if plan.inPlace != nil { return try canonicalInSilo(op, hash: true) }
        guard let cid = op.canonicalOp, let c = plan.operation(cid), let cs = c.source, let dest = c.destination else {
            throw ApplyError.canonicalNotReady(op: op.id, canonical: op.canonicalOp ?? 0, detail: "not in the plan")
        }
        guard let done = state.ops[cid]?.done, let placed = done.stat ?? state.ops[cid]?.placed else {
            throw ApplyError.canonicalNotReady(op: op.id, canonical: cid, detail: "it was not done")
        }
        guard let (dir, name) = try openTargetParent(dest, create: false) else {
            throw ApplyError.canonicalNotReady(op: op.id, canonical: cid, detail: "\(targetDisplay(dest.bytes)) is gone")
        }
        guard let st = try lstatIfPresent(dir, name, targetDisplay(dest.bytes)), placed.matches(st) else {
            fs.close(dir)
            throw ApplyError.canonicalNotReady(op: op.id, canonical: cid, detail: "\(targetDisplay(dest.bytes)) changed or is gone since it was verified")
        }
        return (dir, name, placed, cs)
    }

    /// Checks a duplicate before it is taken: the planned file, not a name of the canonical
    /// copy's own file, with the planned content.
    func checkDuplicate(_ op: PlanOperation, _ s: PlanSource, _ current: FileStat, canonical: JournalStat, canonicalSource: PlanSource,
                        dir: Int32, name: [UInt8]) throws {
        try checkIdentity(current, s)
        let id = current.fileID
        if id == canonicalSource.fileID || id == FileID(device: canonical.device, inode: canonical.inode) {
            throw ApplyError.sourceChanged(path: s.display, detail: "it is a hard link to the canonical copy's own file, not a separate copy; left alone")
        }
        let (digest, _) = try hashFile(dir, name, s.display)
        guard digest.hex == s.sha256.lowercased() else {
            throw ApplyError.sourceChanged(path: s.display, detail: "its content has SHA-256 \(digest.hex.prefix(16))…, the plan says \(s.sha256.prefix(16))…")
        }
    }

    func removeDuplicate(_ op: PlanOperation) throws -> Performed {
        guard let s = op.source else { throw ApplyError.invalidPlan([PlanProblem(op: op.id, reason: "no source")]) }
        let canonical = try canonicalInTarget(op)
        defer { fs.close(canonical.dir) }
        let (dir, name) = try openSourceParent(s)
        defer { fs.close(dir) }
        guard let current = try lstatIfPresent(dir, name, s.display) else {
            if state.ops[op.id]?.taking != nil { return Performed(detail: "removed") }
            throw ApplyError.sourceChanged(path: s.display, detail: "it is gone")
        }
        try checkDuplicate(op, s, current, canonical: canonical.stat, canonicalSource: canonical.source, dir: dir, name: name)
        var r = JournalRecord(event: "taking", op: op.id)
        r.stat = JournalStat(current)
        try record(r)
        try sys(s.display, "unlink") { try fs.unlink(dir, name, directory: false) }
        try sys(s.display, "fsync folder") { try fs.fsync(dir) }
        return Performed(detail: "removed (its content verified, the canonical copy verified in the target)")
    }

    func linkDuplicate(_ op: PlanOperation) throws -> Performed {
        guard let s = op.source else { throw ApplyError.invalidPlan([PlanProblem(op: op.id, reason: "no source")]) }
        let canonical = try canonicalInTarget(op)
        defer { fs.close(canonical.dir) }
        let (dir, name) = try openSourceParent(s)
        defer { fs.close(dir) }
        guard let current = try lstatIfPresent(dir, name, s.display) else {
            throw ApplyError.sourceChanged(path: s.display, detail: "it is gone")
        }
        if current.device == canonical.stat.device && current.inode == canonical.stat.inode {
            return Performed(detail: "already a hard link to the canonical copy", stat: JournalStat(current))
        }
        try checkDuplicate(op, s, current, canonical: canonical.stat, canonicalSource: canonical.source, dir: dir, name: name)
        guard current.device == canonical.stat.device else {
            throw ApplyError.crossDevice(path: s.display, detail: "cannot be replaced by a hard link to the target: it is on another file system (device \(current.device), target \(canonical.stat.device))")
        }
        var r = JournalRecord(event: "taking", op: op.id)
        r.stat = JournalStat(current)
        try record(r)
        let temp = temporaryName(op.id)
        do {
            try fs.link(canonical.dir, canonical.name, dir, temp)
        } catch let e as Errno {
            if e.code == EXDEV { throw ApplyError.crossDevice(path: s.display, detail: "a hard link cannot cross file systems") }
            if e.code == EMLINK { throw ApplyError.io(path: s.display, operation: "hard link (the canonical copy has the most links its file system allows)", errno: e) }
            throw ApplyError.io(path: s.display, operation: "hard link", errno: e)
        }
        do {
            // Atomically replaces the duplicate's name: it is never missing, even for a moment.
            try fs.rename(dir, temp, dir, name, noReplace: false)
        } catch let e as Errno {
            try bestEffort { try fs.unlink(dir, temp, directory: false) }
            throw ApplyError.io(path: s.display, operation: "rename", errno: e)
        }
        try sys(s.display, "fsync folder") { try fs.fsync(dir) }
        let after = try sys(s.display, "stat") { try fs.lstat(dir, name) }
        return Performed(detail: "replaced by a hard link to the canonical copy", stat: JournalStat(after))
    }

    func quarantineDuplicate(_ op: PlanOperation) throws -> Performed {
        guard let s = op.source, let qdest = op.destination else { throw ApplyError.invalidPlan([PlanProblem(op: op.id, reason: "incomplete operation")]) }
        let canonical = try canonicalInTarget(op)
        defer { fs.close(canonical.dir) }
        let (dir, name) = try openSourceParent(s)
        defer { fs.close(dir) }
        let qDisplay = quarantineDisplay(qdest.bytes)
        guard let (qdir, qname) = try openQuarantineParent(qdest, create: true) else {
            throw ApplyError.io(path: qDisplay, operation: "open the quarantine folder", errno: Errno(ENOENT))
        }
        defer { fs.close(qdir) }
        let taking = state.ops[op.id]?.taking
        let current = try lstatIfPresent(dir, name, s.display)
        let inQuarantine = try lstatIfPresent(qdir, qname, qDisplay)

        guard let current else {
            // Renamed (or copied and removed) by an interrupted run?
            if let taking, let q = inQuarantine, q.kind == .regular, q.size == taking.size {
                if q.device == taking.device && q.inode == taking.inode {
                    return Performed(detail: "moved to quarantine", stat: JournalStat(q))
                }
                let (digest, _) = try hashFile(qdir, qname, qDisplay)
                if digest.hex == s.sha256.lowercased() { return Performed(detail: "copied to quarantine", stat: JournalStat(q), viaCopy: true) }
            }
            throw ApplyError.sourceChanged(path: s.display, detail: "it is gone")
        }
        if let q = inQuarantine {
            // An interrupted copy across file systems may have finished its copy: then only the
            // source is left to remove. Anything else there is not ours.
            let (digest, _) = try hashFile(qdir, qname, qDisplay)
            guard taking != nil, state.ops[op.id]?.placing == true, digest.hex == s.sha256.lowercased() else {
                throw ApplyError.destinationExists(path: qDisplay, detail: "something is already quarantined under this name")
            }
            try checkIdentity(current, s)
            try sys(s.display, "unlink") { try fs.unlink(dir, name, directory: false) }
            try sys(s.display, "fsync folder") { try fs.fsync(dir) }
            return Performed(detail: "copied to quarantine (other file system)", stat: JournalStat(q), viaCopy: true)
        }
        try checkDuplicate(op, s, current, canonical: canonical.stat, canonicalSource: canonical.source, dir: dir, name: name)
        var r = JournalRecord(event: "taking", op: op.id)
        r.stat = JournalStat(current)
        try record(r)
        var viaCopy = false
        do {
            try fs.rename(dir, name, qdir, qname, noReplace: true)
        } catch let e as Errno {
            if e.code == EEXIST { throw ApplyError.destinationExists(path: qDisplay, detail: "appeared while applying") }
            guard e.code == EXDEV else { throw ApplyError.io(path: qDisplay, operation: "rename into quarantine", errno: e) }
            // Another file system: copy, verify, then remove the duplicate.
            let (srcFD, srcStat) = try openSource(dir, name, s)
            defer { fs.close(srcFD) }
            let temp = try writeTemporary(op: op.id, in: qdir, destination: qDisplay, from: .file(srcFD, reflink: false),
                                          sha256: s.sha256, size: s.size, mode: srcStat.mode & 0o7777, mtimeNs: srcStat.mtimeNs,
                                          owner: (srcStat.uid, srcStat.gid), sourceDisplay: s.display)
            try announcePlacing(op.id, temp: temp, in: qdir)
            guard try place(temp, as: qname, in: qdir, sha256: s.sha256, display: qDisplay) else {
                throw ApplyError.destinationExists(path: qDisplay, detail: "appeared while applying")
            }
            try sys(qDisplay, "fsync folder") { try fs.fsync(qdir) }
            try sys(s.display, "unlink") { try fs.unlink(dir, name, directory: false) }
            viaCopy = true
        }
        try sys(qDisplay, "fsync folder") { try fs.fsync(qdir) }
        try sys(s.display, "fsync folder") { try fs.fsync(dir) }
        let q = try sys(qDisplay, "stat") { try fs.lstat(qdir, qname) }
        return Performed(detail: viaCopy ? "copied to quarantine (other file system) and removed" : "moved to quarantine",
                         stat: JournalStat(q), viaCopy: viaCopy)
    }
}
