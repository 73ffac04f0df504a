#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Undo: the journal read backwards. Created files are removed only while unchanged (same
/// inode, size, mtime and SHA-256 as written); moved sources, removed and relinked duplicates
/// and quarantined files are restored with their mode, owner (when permitted) and mtime;
/// folders the apply created are removed when empty. Each reversal is journaled, so an
/// interrupted undo can be run again.
extension Applier {
    public func undo() throws -> UndoReport {
        try withPlanLock(shared: false, purpose: "undo") { try undoLocked() }
    }

    func undoLocked() throws -> UndoReport {
        var report = UndoReport()
        state = try loadJournal()
        defer { closeAll() }
        if !state.exists { throw ApplyError.noJournal(path: journalPath.display) }
        // A journal left empty by a crash as it was created: nothing was done.
        if state.isEmpty { return report }
        let problems = PlanValidator.structuralProblems(in: plan)
        if !problems.isEmpty { throw ApplyError.invalidPlan(problems) }
        journal = try JournalWriter(fs: fs, path: journalPath, endsWithNewline: state.endsWithNewline)

        let touched = myOperations.filter { state.ops[$0.id]?.touched == true }
        // The roots first, each opened once as apply opens them: nothing is undone through a
        // root that is not the folder the plan and the journal recorded (a target or a silo
        // root swapped for a symbolic link stops the undo here, before anything changes).
        if plan.inPlace == nil { _ = try targetRootFD(create: false) }
        if touched.contains(where: { $0.kind == .quarantineDuplicate }) { _ = try quarantineRootFD(create: false) }
        for silo in plan.silos where touched.contains(where: { $0.source?.silo == silo.name }) { _ = try siloFD(silo.root) }
        if plan.inPlace != nil { try lockSilosInPlace(touched.filter { state.ops[$0.id]?.undone != true }) }
        // Temporary files of interrupted operations (of the apply, or of an earlier undo).
        try cleanTemporaryFiles(touched)
        operationsByOriginalFile = [:]
        for op in myOperations {
            guard let s = op.source else { continue }
            var files: Set<FileID> = [s.fileID]
            if let t = state.ops[op.id]?.taking ?? state.ops[op.id]?.previousTaking { files.insert(FileID(device: t.device, inode: t.inode)) }
            for f in files { operationsByOriginalFile[f, default: []].append(op.id) }
        }
        progress = ApplyProgress(operationsDone: 0, operationsTotal: touched.count, bytesDone: 0,
                                 bytesTotal: touched.reduce(0) { $0 + $1.size })
        for op in myOperations.reversed() {
            if let signal = interruption?.signal {
                report.stoppedBy = .interrupted(signal: signal)
                break
            }
            guard let rec = state.ops[op.id], rec.touched else {
                report.skipped.append(outcome(op, state.ops[op.id]?.undone == true ? "already undone" : "never started"))
                continue
            }
            progress.currentOperation = op.id
            progress.currentPath = (op.destination ?? op.source?.path)?.display
            notify(progress)
            do {
                let detail = try reverse(op, rec)
                var r = JournalRecord(event: "undone", op: op.id)
                r.detail = detail
                try record(r)
                report.undone.append(outcome(op, detail))
            } catch let e as ApplyError {
                var r = JournalRecord(event: "left", op: op.id)
                r.detail = e.description
                try bestEffort { try record(r) }
                if e.stopsRun {
                    report.stoppedBy = e
                    report.failed.append(outcome(op, e.description, e))
                    break
                }
                switch e {
                case .changedSinceApply, .sourceChanged, .destinationExists, .canonicalNotReady, .unsafePath, .rootChanged:
                    report.left.append(outcome(op, e.description, e))
                default:
                    report.failed.append(outcome(op, e.description, e))
                }
            }
            progress.operationsDone += 1
            progress.bytesDone += op.size
            notify(progress)
        }
        if report.stoppedBy == nil { try removeCreatedDirectories(&report) }
        return report
    }

    func removeCreatedDirectories(_ report: inout UndoReport) throws {
        for d in state.directories.reversed() {
            let base: FilePath
            let rootFD: Int32?
            var ownedRoot: Int32? = nil
            var isRootItself: PlanRoot? = nil
            do {
                switch d.root {
                case .target:
                    base = scope.targetRoot
                    rootFD = try targetRootFD(create: false)
                case .quarantine:
                    base = scope.quarantineRoot
                    rootFD = try quarantineRootFD(create: false)
                case .targetAnchor, .quarantineAnchor:
                    let which: PlanRoot = d.root == .targetAnchor ? .target : .quarantine
                    let root = which == .target ? scope.targetRoot : scope.quarantineRoot
                    guard let anchor = which == .target ? scope.targetAnchor : scope.quarantineAnchor else {
                        report.leftDirectories.append("\(root.display): the plan records no anchor for \(which.what)")
                        continue
                    }
                    base = anchor.path
                    if let levels = anchor.levels(to: root), levels.flatMap({ [0x2F] + $0 }).dropFirst().elementsEqual(d.path) {
                        isRootItself = which
                    }
                    let fd = try openAnchor(anchor, what: which.what)
                    ownedRoot = fd
                    rootFD = fd
                }
            } catch let e as ApplyError {
                let root = d.root == .target || d.root == .targetAnchor ? scope.targetRoot : scope.quarantineRoot
                report.leftDirectories.append("\(root.display): \(e)")
                continue
            }
            defer { if let ownedRoot { fs.close(ownedRoot) } }
            let display = base.appending(RelativePath(bytes: d.path)).display
            let parts = RelativePath(bytes: d.path).components.map { Array($0) }
            guard let rootFD, let name = parts.last,
                  let parent = try? openDirectory(rootFD, Array(parts.dropLast()), create: false, root: d.root,
                                                  display: { base.appending(RelativePath(bytes: $0)).display })
            else {
                try recordRmdir(d, isRootItself)
                continue
            }
            defer { fs.close(parent) }
            do {
                try fs.unlink(parent, name, directory: true)
                try fs.fsync(parent)
                report.removedDirectories += 1
                try recordRmdir(d, isRootItself)
            } catch let e as Errno {
                if e.code == ENOENT {
                    try recordRmdir(d, isRootItself)
                } else if e.code == ENOTEMPTY || e.code == EEXIST {
                    if holdsOtherHostsFiles(d) {
                        report.sharedDirectories.append(display)
                    } else {
                        report.leftDirectories.append("\(display): not empty")
                    }
                } else {
                    report.leftDirectories.append("\(display): \(e) (\(e.name))")
                }
            }
        }
    }

    /// Whether a folder this host's apply made is also where other hosts' operations of the
    /// plan put files (a target shared by several hosts): left, and not a failure of this undo.
    func holdsOtherHostsFiles(_ d: CreatedDirectory) -> Bool {
        guard scope.host != nil else { return false }
        let others = plan.operations.filter { !scope.operations.contains($0.id) && $0.kind.writesTarget }
        switch d.root {
        case .target:
            let prefix = d.path + [0x2F]
            return others.contains { $0.destination.map { $0.bytes.starts(with: prefix) } ?? false }
        case .targetAnchor: return !others.isEmpty
        case .quarantine, .quarantineAnchor:
            return plan.operations.contains { !scope.operations.contains($0.id) && $0.kind == .quarantineDuplicate }
        }
    }

    /// Journals a removed folder; when it was a root itself, forgets that root's identity (a
    /// later apply makes a new one) and closes it.
    func recordRmdir(_ d: CreatedDirectory, _ rootItself: PlanRoot?) throws {
        var r = JournalRecord(event: "rmdir")
        r.root = d.root.rawValue
        r.setPath(d.path)
        try record(r)
        guard let rootItself else { return }
        var forget = JournalRecord(event: "root")
        forget.root = rootItself.rawValue
        try record(forget)
        if rootItself == .quarantine, quarantineFD >= 0 { fs.close(quarantineFD); quarantineFD = -1 }
        if rootItself == .target, targetFD >= 0 { fs.close(targetFD); targetFD = -1 }
    }

    /// Reverses one operation, looking at what the journal says was done and what the disk
    /// holds now. Returns what was done; throws `changedSinceApply` for what is left alone.
    func reverse(_ op: PlanOperation, _ rec: OperationRecord) throws -> String {
        switch op.kind {
        case .copy, .hardlink, .reflink, .move, .sidecarCopy, .sidecarHardlink, .sidecarReflink, .sidecarMove, .xmpSidecar, .importManifest:
            return try reverseWrite(op, rec)
        case .removeDuplicate:
            return try reverseRemove(op, rec)
        case .linkDuplicate:
            return try reverseLink(op, rec)
        case .quarantineDuplicate:
            return try reverseQuarantine(op, rec)
        case .reflinkDuplicate:
            return try reverseReflinkInPlace(op, rec)
        }
    }

    func reverseWrite(_ op: PlanOperation, _ rec: OperationRecord) throws -> String {
        guard let dest = op.destination, let sha = op.sha256 else { return "nothing to undo" }
        let destDisplay = targetDisplay(dest.bytes)
        var placed = rec.placed ?? rec.done?.stat
        var created = rec.placed != nil ? rec.created : (rec.done?.created ?? rec.placing)
        var notes: [String] = []
        if placed == nil, rec.placing, let (ddir, dname) = try openTargetParent(dest, create: false) {
            // Interrupted between the rename into place and the journal saying so: the file
            // there with the planned content is the one this apply put there.
            defer { fs.close(ddir) }
            if let cur = try lstatIfPresent(ddir, dname, destDisplay), cur.kind == .regular,
               try hashFile(ddir, dname, destDisplay).0.hex == sha.lowercased() {
                placed = JournalStat(cur)
                created = true
            }
        }

        // A moved source comes back first, copied from the target (which must be unchanged).
        if op.kind.method == .move, let taking = rec.taking, let s = op.source {
            let (sdir, sname) = try openSourceParent(s)
            defer { fs.close(sdir) }
            if try lstatIfPresent(sdir, sname, s.display) == nil {
                guard let placed, let (ddir, dname) = try openTargetParent(dest, create: false) else {
                    throw ApplyError.changedSinceApply(path: s.display, detail: "cannot be restored: its copy \(destDisplay) is gone")
                }
                defer { fs.close(ddir) }
                guard let cur = try lstatIfPresent(ddir, dname, destDisplay), placed.matches(cur) else {
                    throw ApplyError.changedSinceApply(path: s.display, detail: "cannot be restored: its copy \(destDisplay) changed or is gone")
                }
                if cur.device == taking.device && cur.inode == taking.inode {
                    // Moved by linking: link it back, the very same file.
                    let (digest, _) = try hashFile(ddir, dname, destDisplay)
                    guard digest.hex == s.sha256.lowercased() else {
                        throw ApplyError.changedSinceApply(path: s.display, detail: "cannot be restored: the content of \(destDisplay) changed")
                    }
                    try sys(s.display, "link back") { try fs.link(ddir, dname, sdir, sname) }
                    try sys(s.display, "fsync folder") { try fs.fsync(sdir) }
                } else {
                    try restore(op, from: (ddir, dname, destDisplay), to: (sdir, sname, s.display), sha256: s.sha256, like: taking)
                }
                notes.append("source restored")
            }
        }

        guard let placed else { return (["nothing was put in place"] + notes).joined(separator: "; ") }
        guard created else { return (["the destination held this content before apply: left"] + notes).joined(separator: "; ") }
        guard let (ddir, dname) = try openTargetParent(dest, create: false) else {
            return (["the destination is already gone"] + notes).joined(separator: "; ")
        }
        defer { fs.close(ddir) }
        guard let cur = try lstatIfPresent(ddir, dname, destDisplay) else {
            return (["the destination is already gone"] + notes).joined(separator: "; ")
        }
        guard placed.matches(cur) else {
            throw ApplyError.changedSinceApply(path: destDisplay, detail: "changed since apply wrote it (size, mtime or inode); left in place")
        }
        let (digest, _) = try hashFile(ddir, dname, destDisplay)
        guard digest.hex == sha.lowercased() else {
            throw ApplyError.changedSinceApply(path: destDisplay, detail: "its content changed since apply wrote it; left in place")
        }
        try sys(destDisplay, "unlink") { try fs.unlink(ddir, dname, directory: false) }
        try sys(destDisplay, "fsync folder") { try fs.fsync(ddir) }
        return (["removed \(dest.display)"] + notes).joined(separator: "; ")
    }

    /// The canonical copy of a duplicate action, in the target, unchanged since apply: its
    /// folder (the caller closes it) and name.
    func canonicalForRestore(_ op: PlanOperation) throws -> (dir: Int32, name: [UInt8], display: String, stat: JournalStat) {
        if plan.inPlace != nil {
            do {
                let c = try canonicalInSilo(op, hash: false)
                return (c.dir, c.name, c.source.display, c.stat)
            } catch let e as ApplyError {
                throw ApplyError.changedSinceApply(path: op.source?.display ?? "?", detail: "cannot be restored: \(e)")
            }
        }
        guard let cid = op.canonicalOp, let c = plan.operation(cid), let dest = c.destination,
              let crec = state.ops[cid], let placed = crec.placed ?? crec.done?.stat else {
            throw ApplyError.changedSinceApply(path: op.source?.display ?? "?", detail: "cannot be restored: the journal has no canonical copy for it")
        }
        let display = targetDisplay(dest.bytes)
        guard let (dir, name) = try openTargetParent(dest, create: false) else {
            throw ApplyError.changedSinceApply(path: op.source?.display ?? "?", detail: "cannot be restored: the canonical copy \(display) is gone")
        }
        guard let cur = try lstatIfPresent(dir, name, display), placed.matches(cur) else {
            fs.close(dir)
            throw ApplyError.changedSinceApply(path: op.source?.display ?? "?", detail: "cannot be restored: the canonical copy \(display) changed or is gone")
        }
        return (dir, name, display, placed)
    }

    /// Writes a copy of `from` (which must have `sha256`) at `to` with the taken file's mode,
    /// owner and mtime, verified, without replacing anything (or replacing, with `replace`).
    func restore(_ op: PlanOperation, from: (dir: Int32, name: [UInt8], display: String),
                 to: (dir: Int32, name: [UInt8], display: String), sha256: String, like taken: JournalStat,
                 replace: Bool = false) throws {
        let original = FileID(device: taken.device, inode: taken.inode)
        // Another name of the same file is already back (or never left): link to it, so the
        // names are one file again as before. Candidates: names of the plan that were the same
        // file before apply (restored ones have its mode, mtime and content), and a moved
        // file's untouched hard links.
        var excluded: Set<FileID> = []
        if let cid = op.canonicalOp, let c = state.ops[cid], let t = c.placed ?? c.done?.stat {
            excluded.insert(FileID(device: t.device, inode: t.inode))
        }
        // In place: the canonical copy's own file is never what a duplicate is restored as.
        if let c = op.canonical { excluded.insert(c.fileID) }
        var candidates: [(root: FilePath, path: RelativePath, accept: (FileStat) -> Bool)] = []
        for otherID in operationsByOriginalFile[original] ?? [] where otherID != op.id {
            guard let other = plan.operation(otherID), let os = other.source else { continue }
            let r = state.ops[other.id]
            let wasSame = (r?.taking ?? r?.previousTaking).map { $0.device == taken.device && $0.inode == taken.inode } ?? false
            guard wasSame || os.fileID == original else { continue }
            candidates.append((os.siloRoot, os.path, { st in
                !excluded.contains(st.fileID) && st.size == taken.size && st.mtimeNs == taken.mtimeNs
                    && st.mode & 0o7777 == taken.mode & 0o7777
            }))
        }
        if op.kind.method == .move {
            for link in op.hardLinks {
                if let silo = plan.silos.first(where: { $0.name.exactBytes == link.silo.exactBytes }) {
                    candidates.append((silo.root, link.path, { $0.fileID == original }))
                }
            }
        }
        for c in candidates {
            if try relink(op, from: c, size: taken.size, sha256: sha256, to: to, replace: replace) { return }
        }
        let fd = try sys(from.display, "open") { try fs.open(from.dir, from.name, flags: O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, mode: 0) }
        defer { fs.close(fd) }
        let temp = try writeTemporary(op: op.id, undo: true, in: to.dir, destination: to.display,
                                      from: .file(fd, reflink: false), sha256: sha256, size: taken.size,
                                      mode: taken.mode & 0o7777, mtimeNs: taken.mtimeNs, owner: (taken.uid, taken.gid),
                                      sourceDisplay: from.display)
        if replace {
            do { try fs.rename(to.dir, temp, to.dir, to.name, noReplace: false) } catch let e as Errno {
                try bestEffort { try fs.unlink(to.dir, temp, directory: false) }
                throw ApplyError.io(path: to.display, operation: "rename", errno: e)
            }
        } else {
            _ = try place(temp, as: to.name, in: to.dir, sha256: sha256, display: to.display)
        }
        try sys(to.display, "fsync folder") { try fs.fsync(to.dir) }
    }

    /// Makes `to` a hard link to the candidate name when that still is the expected file with
    /// the expected content. False when it is not (then the caller copies).
    func relink(_ op: PlanOperation, from c: (root: FilePath, path: RelativePath, accept: (FileStat) -> Bool), size: Int64,
                sha256: String, to: (dir: Int32, name: [UInt8], display: String), replace: Bool) throws -> Bool {
        let display = c.root.appending(c.path).display
        guard let (dir, name) = try? openSiloParent(c.root, c.path, display: display) else { return false }
        defer { fs.close(dir) }
        guard let st = try lstatIfPresent(dir, name, display), st.kind == .regular, st.size == size, c.accept(st) else { return false }
        if let mine = try lstatIfPresent(to.dir, to.name, to.display), mine.fileID == st.fileID { return false }
        let (digest, _) = try hashFile(dir, name, display)
        guard digest.hex == sha256.lowercased() else { return false }
        if replace {
            let temp = temporaryName(op.id, undo: true)
            try sys(to.display, "hard link") { try fs.link(dir, name, to.dir, temp) }
            do { try fs.rename(to.dir, temp, to.dir, to.name, noReplace: false) } catch let e as Errno {
                try bestEffort { try fs.unlink(to.dir, temp, directory: false) }
                throw ApplyError.io(path: to.display, operation: "rename", errno: e)
            }
        } else {
            try sys(to.display, "hard link") { try fs.link(dir, name, to.dir, to.name) }
        }
        try sys(to.display, "fsync folder") { try fs.fsync(to.dir) }
        return true
    }

    func reverseRemove(_ op: PlanOperation, _ rec: OperationRecord) throws -> String {
        guard let s = op.source, let taking = rec.taking else { return "nothing was removed" }
        let (dir, name) = try openSourceParent(s)
        defer { fs.close(dir) }
        // In place: an apply interrupted while it held the duplicate (see `removeInPlace`).
        let hold = holdName(op.id)
        if plan.inPlace != nil, let held = try lstatIfPresent(dir, hold, s.display),
           held.device == taking.device, held.inode == taking.inode {
            guard try lstatIfPresent(dir, name, s.display) == nil else {
                throw ApplyError.changedSinceApply(path: s.display, detail: "its name holds another file; its own file is kept beside it as \(String(decoding: hold, as: UTF8.self))")
            }
            try sys(s.display, "rename") { try fs.rename(dir, hold, dir, name, noReplace: true) }
            try sys(s.display, "fsync folder") { try fs.fsync(dir) }
            return "its own file (held by an interrupted apply) is back under its name"
        }
        if try lstatIfPresent(dir, name, s.display) != nil { return "the duplicate is in place" }
        let c = try canonicalForRestore(op)
        defer { fs.close(c.dir) }
        try restore(op, from: (c.dir, c.name, c.display), to: (dir, name, s.display), sha256: s.sha256, like: taking)
        return "restored from the canonical copy"
    }

    func reverseLink(_ op: PlanOperation, _ rec: OperationRecord) throws -> String {
        guard let s = op.source, let taking = rec.taking else { return "nothing was replaced" }
        let (dir, name) = try openSourceParent(s)
        defer { fs.close(dir) }
        // In place: an apply interrupted while it held the duplicate's own file (see
        // `linkInPlace`): that very file goes back under its name, the hold name goes.
        let hold = holdName(op.id)
        if plan.inPlace != nil, let held = try lstatIfPresent(dir, hold, s.display),
           held.device == taking.device, held.inode == taking.inode {
            let cur = try lstatIfPresent(dir, name, s.display)
            if cur?.fileID == held.fileID {
                try sys(s.display, "unlink") { try fs.unlink(dir, hold, directory: false) }
            } else if cur == nil || cur?.fileID == op.canonical?.fileID {
                try sys(s.display, "rename") { try fs.rename(dir, hold, dir, name, noReplace: cur == nil) }
            } else {
                throw ApplyError.changedSinceApply(path: s.display, detail: "its name holds another file; its own file is kept beside it as \(String(decoding: hold, as: UTF8.self))")
            }
            try sys(s.display, "fsync folder") { try fs.fsync(dir) }
            return "its own file (held by an interrupted apply) is back under its name"
        }
        guard let cur = try lstatIfPresent(dir, name, s.display) else {
            let c = try canonicalForRestore(op)
            defer { fs.close(c.dir) }
            try restore(op, from: (c.dir, c.name, c.display), to: (dir, name, s.display), sha256: s.sha256, like: taking)
            return "restored from the canonical copy"
        }
        if cur.device == taking.device && cur.inode == taking.inode { return "the duplicate is still its own file" }
        let c = try canonicalForRestore(op)
        defer { fs.close(c.dir) }
        guard cur.device == c.stat.device && cur.inode == c.stat.inode else {
            // Restored by an interrupted undo (its own file, as it was)?
            if cur.kind == .regular, cur.size == taking.size, cur.mtimeNs == taking.mtimeNs,
               cur.mode & 0o7777 == taking.mode & 0o7777, try hashFile(dir, name, s.display).0.hex == s.sha256.lowercased() {
                return "its own file again"
            }
            throw ApplyError.changedSinceApply(path: s.display, detail: "is no longer the link apply made; left in place")
        }
        // The name is a link to the canonical copy: give it back its own file, atomically.
        try restore(op, from: (dir, name, s.display), to: (dir, name, s.display), sha256: s.sha256, like: taking, replace: true)
        return "made its own file again"
    }

    func reverseQuarantine(_ op: PlanOperation, _ rec: OperationRecord) throws -> String {
        guard let s = op.source, let qdest = op.destination, let taking = rec.taking else { return "nothing was quarantined" }
        let (dir, name) = try openSourceParent(s)
        defer { fs.close(dir) }
        let qDisplay = quarantineDisplay(qdest.bytes)
        let q = try openQuarantineParent(qdest, create: false)
        defer { if let q { fs.close(q.dir) } }
        let inQuarantine = try q.flatMap { try lstatIfPresent($0.dir, $0.name, qDisplay) }
        if let cur = try lstatIfPresent(dir, name, s.display) {
            let isTaken = cur.device == taking.device && cur.inode == taking.inode
            // Never taken, or copied across file systems before the source went: drop our copy.
            if isTaken, let q, inQuarantine != nil, rec.placing {
                let (digest, _) = try hashFile(q.dir, q.name, qDisplay)
                if digest.hex == s.sha256.lowercased() {
                    try sys(qDisplay, "unlink") { try fs.unlink(q.dir, q.name, directory: false) }
                    try sys(qDisplay, "fsync folder") { try fs.fsync(q.dir) }
                    return "the duplicate was still in place; its quarantine copy removed"
                }
            }
            guard !isTaken, let q, inQuarantine != nil else { return "the duplicate is in place" }
            // Copied back by an interrupted undo (its bytes, mode and mtime): only our copy is left to drop.
            if cur.kind == .regular, cur.size == taking.size, cur.mtimeNs == taking.mtimeNs, cur.mode & 0o7777 == taking.mode & 0o7777,
               try hashFile(dir, name, s.display).0.hex == s.sha256.lowercased(), try hashFile(q.dir, q.name, qDisplay).0.hex == s.sha256.lowercased() {
                try sys(qDisplay, "unlink") { try fs.unlink(q.dir, q.name, directory: false) }
                try sys(qDisplay, "fsync folder") { try fs.fsync(q.dir) }
                return "copied back from quarantine"
            }
            // Another file at its name since apply: neither is touched, and the quarantined
            // file is not forgotten.
            throw ApplyError.changedSinceApply(path: s.display, detail: "another file is at its name since apply (left in place); its quarantined file is kept at \(qDisplay)")
        }
        guard let q, let qstat = inQuarantine else {
            throw ApplyError.changedSinceApply(path: s.display, detail: "cannot be restored: \(qDisplay) is gone")
        }
        if qstat.device == taking.device && qstat.inode == taking.inode {
            do {
                try fs.rename(q.dir, q.name, dir, name, noReplace: true)
            } catch let e as Errno {
                throw ApplyError.io(path: s.display, operation: "rename back from quarantine", errno: e)
            }
            try sys(s.display, "fsync folder") { try fs.fsync(dir) }
            try sys(qDisplay, "fsync folder") { try fs.fsync(q.dir) }
            return "moved back from quarantine"
        }
        try restore(op, from: (q.dir, q.name, qDisplay), to: (dir, name, s.display), sha256: s.sha256, like: taking)
        try sys(qDisplay, "unlink") { try fs.unlink(q.dir, q.name, directory: false) }
        try sys(qDisplay, "fsync folder") { try fs.fsync(q.dir) }
        return "copied back from quarantine"
    }
}
