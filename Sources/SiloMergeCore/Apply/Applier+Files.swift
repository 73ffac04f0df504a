#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Opening folders without following symlinks, temporary files, hashing.
extension Applier {
    static let directoryFlags: Int32 = O_RDONLY | O_DIRECTORY | O_NOFOLLOW

    static func join(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] { a.isEmpty ? b : a + [0x2F] + b }

    func targetDisplay(_ rel: [UInt8]) -> String { scope.targetRoot.appending(RelativePath(bytes: rel)).display }
    func quarantineDisplay(_ rel: [UInt8]) -> String { scope.quarantineRoot.appending(RelativePath(bytes: rel)).display }

    /// Which root of the plan.
    enum PlanRoot: String {
        case target, quarantine
        var what: String { self == .target ? "the target" : "the quarantine folder" }
    }

    /// Opens the target or the quarantine folder: its anchor from `/` without following links
    /// (checked by device and inode against the plan), then the levels below it, made when
    /// `create` is set (each journalled first). A root this plan's journal saw before must still
    /// be that folder. nil when a level is missing and `create` is off.
    func openPlanRoot(_ which: PlanRoot, create: Bool) throws -> Int32? {
        let root = which == .target ? scope.targetRoot : scope.quarantineRoot
        guard let anchor = which == .target ? scope.targetAnchor : scope.quarantineAnchor else {
            throw ApplyError.invalidPlan([PlanProblem(path: root.display, reason: "the plan records no identity for \(which.what) (made by an older SiloMerge, or edited): run silomerge plan again")])
        }
        guard let levels = anchor.levels(to: root) else {
            throw ApplyError.invalidPlan([PlanProblem(path: anchor.path.display, reason: "the anchor of \(which.what) is not \(root.display) nor one of its parents")])
        }
        let anchorFD = try openAnchor(anchor, what: which.what)
        defer { fs.close(anchorFD) }
        guard let fd = try openDirectory(anchorFD, levels, create: create, root: which == .target ? .targetAnchor : .quarantineAnchor,
                                         display: { anchor.path.appending(RelativePath(bytes: $0)).display }) else { return nil }
        let st: FileStat
        do { st = try fs.fstat(fd) } catch let e as Errno {
            fs.close(fd)
            throw ApplyError.io(path: root.display, operation: "stat", errno: e)
        }
        if let seen = state.roots[which.rawValue] {
            guard seen == st.fileID else {
                fs.close(fd)
                throw ApplyError.rootChanged(path: root.display, detail: "is not the folder this plan's journal recorded (device \(st.device) inode \(st.inode), recorded device \(seen.device) inode \(seen.inode)): it was replaced since; nothing is done through it")
            }
        } else if journal != nil {
            var r = JournalRecord(event: "root")
            r.root = which.rawValue
            r.stat = JournalStat(st)
            do { try record(r) } catch { fs.close(fd); throw error }
        }
        return fd
    }

    /// Opens a folder the plan pinned (a root's anchor, a silo root): from `/`, one level at a
    /// time without following links, then checks its device and inode.
    func openAnchor(_ anchor: RootAnchor, what: String, missing: ((FilePath) -> ApplyError)? = nil) throws -> Int32 {
        try PlanRoots.openPinned(anchor, what: what, fs: fs, missing: missing)
    }

    /// The quarantine root, opened (and created) on first use.
    func quarantineRootFD(create: Bool) throws -> Int32? {
        if quarantineFD >= 0 { return quarantineFD }
        guard let fd = try openPlanRoot(.quarantine, create: create) else { return nil }
        quarantineFD = fd
        return fd
    }

    /// The target root, opened (and created) on first use.
    func targetRootFD(create: Bool) throws -> Int32? {
        if targetFD >= 0 { return targetFD }
        guard let fd = try openPlanRoot(.target, create: create) else { return nil }
        targetFD = fd
        return fd
    }

    /// Opens the folder `components` below `rootFD`, one level at a time with `O_NOFOLLOW`, so
    /// a symbolic link anywhere on the way is refused instead of followed. With `create`, makes
    /// the missing levels (0755), journaling each before it is made. Returns a new descriptor
    /// (the caller closes it), or nil when a level is missing and `create` is off.
    func openDirectory(_ rootFD: Int32, _ components: [[UInt8]], create: Bool, root: CreatedDirectory.Root,
                       display: ([UInt8]) -> String) throws -> Int32? {
        var current = try sys(display([]), "open") { try fs.open(rootFD, [0x2E], flags: O_RDONLY | O_DIRECTORY, mode: 0) }
        var prefix: [UInt8] = []
        for part in components {
            prefix = Self.join(prefix, part)
            let next: Int32
            do {
                next = try fs.open(current, part, flags: Self.directoryFlags, mode: 0)
            } catch let e as Errno {
                if e.code == ENOENT && create {
                    var r = JournalRecord(event: "mkdir")
                    r.root = root.rawValue
                    r.setPath(prefix)
                    do {
                        try record(r)
                        do { try fs.mkdir(current, part, mode: 0o755) } catch let m as Errno where m.code == EEXIST {}
                        try sys(display(prefix), "fsync") { try fs.fsync(current) }
                        next = try fs.open(current, part, flags: Self.directoryFlags, mode: 0)
                    } catch let m as Errno {
                        fs.close(current)
                        throw directoryError(m, display(prefix), parent: nil, name: part)
                    } catch {
                        fs.close(current)
                        throw error
                    }
                } else {
                    let err = directoryError(e, display(prefix), parent: current, name: part)
                    fs.close(current)
                    if e.code == ENOENT { return nil }
                    throw err
                }
            }
            fs.close(current)
            current = next
        }
        return current
    }

    func directoryError(_ e: Errno, _ path: String, parent: Int32?, name: [UInt8]) -> ApplyError {
        if e.code == ELOOP || e.code == ENOTDIR || e.code == EMLINK {
            if let parent, let st = try? fs.lstat(parent, name), st.kind == .symlink {
                return .unsafePath(path: path, detail: "is a symbolic link; every folder on the way must be a real folder (links are never followed)")
            }
            return .unsafePath(path: path, detail: "is not a folder")
        }
        if e.code == ENOSPC || e.code == EDQUOT { return noSpace(path, e, fileBytes: 0) }
        return .io(path: path, operation: "open folder", errno: e)
    }

    /// The silo root, opened once per run: from `/` without following links, and checked
    /// against the device and inode the plan recorded.
    func siloFD(_ root: FilePath) throws -> Int32 {
        if let fd = siloFDs[root] { return fd }
        guard let silo = plan.silos.first(where: { $0.root == root }) else {
            throw ApplyError.invalidPlan([PlanProblem(path: root.display, reason: "no silo of the plan has this root")])
        }
        guard let identity = silo.identity else {
            throw ApplyError.invalidPlan([PlanProblem(path: root.display, reason: "the plan records no device and inode for silo '\(silo.name)''s root (made by an older SiloMerge, or edited): run silomerge plan again")])
        }
        let fd = try openAnchor(RootAnchor(path: root, device: identity.device, inode: identity.inode), what: "silo '\(silo.name)''s root",
                                missing: { _ in ApplyError.sourceChanged(path: root.display, detail: "the silo root is gone (unmounted?)") })
        siloFDs[root] = fd
        return fd
    }

    /// The folder holding a source (opened without following links) and its name.
    func openSourceParent(_ s: PlanSource) throws -> (dir: Int32, name: [UInt8]) {
        try openSiloParent(s.siloRoot, s.path, display: s.display)
    }

    func openSiloParent(_ siloRoot: FilePath, _ path: RelativePath, display: String) throws -> (dir: Int32, name: [UInt8]) {
        let root = try siloFD(siloRoot)
        let parts = path.components.map { Array($0) }
        guard let name = parts.last else { throw ApplyError.unsafePath(path: display, detail: "empty source path") }
        let show: ([UInt8]) -> String = { siloRoot.appending(RelativePath(bytes: $0)).display }
        guard let dir = try openDirectory(root, Array(parts.dropLast()), create: false, root: .target, display: show) else {
            throw ApplyError.sourceChanged(path: display, detail: "its folder is gone")
        }
        return (dir, name)
    }

    /// Opens the folder of a destination in the target (creating it when asked) and its name.
    func openTargetParent(_ dest: RelativePath, create: Bool) throws -> (dir: Int32, name: [UInt8])? {
        let parts = dest.components.map { Array($0) }
        guard let name = parts.last else { throw ApplyError.unsafePath(path: scope.targetRoot.display, detail: "empty destination") }
        guard targetFD >= 0 || !create else { return nil }
        guard let root = try targetRootFD(create: false) else { return nil }
        guard let dir = try openDirectory(root, Array(parts.dropLast()), create: create, root: .target,
                                          display: { self.targetDisplay($0) }) else { return nil }
        return (dir, name)
    }

    func openQuarantineParent(_ dest: RelativePath, create: Bool) throws -> (dir: Int32, name: [UInt8])? {
        let parts = dest.components.map { Array($0) }
        guard let name = parts.last else { throw ApplyError.unsafePath(path: scope.quarantineRoot.display, detail: "empty destination") }
        guard let root = try quarantineRootFD(create: create) else { return nil }
        guard let dir = try openDirectory(root, Array(parts.dropLast()), create: create, root: .quarantine,
                                          display: { self.quarantineDisplay($0) }) else { return nil }
        return (dir, name)
    }

    // MARK: temporary files

    func temporaryName(_ op: Int, undo: Bool = false) -> [UInt8] {
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return Array("\(Self.temporaryPrefix)\(op)-\(undo ? "u" : "")\(random)".utf8)
    }

    /// Removes the temporary files an interrupted run of `op` may have left, in every folder
    /// the operation writes in. Only names the applier makes are touched.
    func cleanTemporaryFiles(_ op: PlanOperation) throws {
        let prefix = Array("\(Self.temporaryPrefix)\(op.id)-".utf8)
        var dirs: [Int32] = []
        defer { for d in dirs { fs.close(d) } }
        if op.kind.writesTarget, let d = op.destination, let (dir, _) = try? openTargetParent(d, create: false) { dirs.append(dir) }
        if op.kind == .quarantineDuplicate, let d = op.destination, let (dir, _) = try? openQuarantineParent(d, create: false) { dirs.append(dir) }
        if let s = op.source, op.kind.isDestructive, let (dir, _) = try? openSourceParent(s) { dirs.append(dir) }
        for dir in dirs {
            let names = (try? fs.list(dir)) ?? []
            var removed = false
            for n in names where n.starts(with: prefix) {
                try bestEffort { try fs.unlink(dir, n, directory: false) }
                removed = true
            }
            if removed { try bestEffort { try fs.fsync(dir) } }
        }
    }

    /// The same for many operations at once, listing each folder once (undo: every operation
    /// it may reverse; a large plan has many operations per folder).
    func cleanTemporaryFiles(_ ops: [PlanOperation]) throws {
        let ids = Set(ops.map(\.id))
        var seen: Set<[UInt8]> = []
        let prefix = Array(Self.temporaryPrefix.utf8)
        for op in ops {
            var dirs: [(key: [UInt8], open: () throws -> Int32?)] = []
            if op.kind.writesTarget, let d = op.destination {
                dirs.append(([0x74] + d.parent.bytes, { try self.openTargetParent(d, create: false)?.dir }))
            }
            if op.kind == .quarantineDuplicate, let d = op.destination {
                dirs.append(([0x71] + d.parent.bytes, { try self.openQuarantineParent(d, create: false)?.dir }))
            }
            if let s = op.source, op.kind.isDestructive {
                dirs.append(([0x73] + s.siloRoot.bytes + [0] + s.path.parent.bytes, { try self.openSourceParent(s).dir }))
            }
            for (key, open) in dirs where seen.insert(key).inserted {
                guard let dir = try? open() else { continue }
                defer { fs.close(dir) }
                var removed = false
                for name in (try? fs.list(dir)) ?? [] where name.starts(with: prefix) {
                    // .silomerge-tmp-<op>-<random>
                    let rest = name.dropFirst(prefix.count)
                    guard let dash = rest.firstIndex(of: 0x2D), let id = Int(String(decoding: rest[..<dash], as: UTF8.self)),
                          ids.contains(id) else { continue }
                    try bestEffort { try fs.unlink(dir, Array(name), directory: false) }
                    removed = true
                }
                if removed { try bestEffort { try fs.fsync(dir) } }
            }
        }
    }

    // MARK: hashing and writing

    /// SHA-256 of an open file from its start; also the bytes read.
    func hash(_ fd: Int32, _ display: @autoclosure () -> String) throws -> (SHA256Digest, Int64) {
        do { try hasher.reset() } catch { throw ApplyError.io(path: display(), operation: "hash", errno: Errno(EIO)) }
        var offset: Int64 = 0
        while true {
            let n = try sys(display(), "read") { try fs.pread(fd, into: buffer, offset: offset) }
            if n == 0 { break }
            do { try hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) } catch {
                throw ApplyError.io(path: display(), operation: "hash", errno: Errno(EIO))
            }
            offset += Int64(n)
        }
        do { return (try hasher.finalize(), offset) } catch {
            throw ApplyError.io(path: display(), operation: "hash", errno: Errno(EIO))
        }
    }

    /// Opens a file (never following a link) and hashes it.
    func hashFile(_ dir: Int32, _ name: [UInt8], _ display: @autoclosure () -> String) throws -> (SHA256Digest, FileStat) {
        let fd = try sys(display(), "open") { try fs.open(dir, name, flags: O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, mode: 0) }
        defer { fs.close(fd) }
        let st = try sys(display(), "stat") { try fs.fstat(fd) }
        guard st.kind == .regular else { throw ApplyError.sourceChanged(path: display(), detail: "is now a \(st.kind.label)") }
        return (try hash(fd, display()).0, st)
    }

    func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, _ display: @autoclosure () -> String, fileBytes: Int64) throws {
        var offset = 0
        while offset < bytes.count {
            let n = try sys(display(), "write", fileBytes: fileBytes) { try fs.write(fd, UnsafeRawBufferPointer(rebasing: bytes[offset...])) }
            if n <= 0 { throw ApplyError.io(path: display(), operation: "write", errno: Errno(EIO)) }
            offset += n
        }
    }

    /// What a temporary file is made from.
    enum TemporarySource {
        /// An open source file, read (and hashed as it is read) from its start.
        case file(Int32, reflink: Bool)
        case bytes([UInt8])
    }

    /// Writes a new hidden temporary file in `dir`: from a source (hashed as it is read: it
    /// must have the planned SHA-256) or from bytes; sets its mode and mtime; fsyncs it; drops it
    /// from the cache and reads it back to verify the SHA-256. Returns its name. On any failure
    /// the temporary file is removed, so nothing partial is left.
    func writeTemporary(op: Int, undo: Bool = false, in dir: Int32, destination: String, from source: TemporarySource,
                        sha256: String, size: Int64, mode: UInt32?, mtimeNs: Int64?,
                        owner: (uid: UInt32, gid: UInt32)? = nil, sourceDisplay: String) throws -> [UInt8] {
        var name: [UInt8] = []
        var fd: Int32 = -1
        for _ in 0..<16 {
            name = temporaryName(op, undo: undo)
            do {
                fd = try fs.open(dir, name, flags: O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600)
                break
            } catch let e as Errno where e.code == EEXIST {
                continue
            } catch let e as Errno {
                if e.code == ENOSPC || e.code == EDQUOT { throw noSpace(destination, e, fileBytes: size) }
                throw ApplyError.io(path: destination, operation: "create a temporary file", errno: e)
            }
        }
        if fd < 0 { throw ApplyError.io(path: destination, operation: "create a temporary file", errno: Errno(EEXIST)) }
        do {
            var cloned = false
            switch source {
            case .file(let src, let reflink):
                if reflink {
                    do {
                        try fs.clone(from: src, to: fd)
                        cloned = true
                    } catch let e as Errno {
                        if e.code == ENOSPC || e.code == EDQUOT { throw noSpace(destination, e, fileBytes: size) }
                        // Any other refusal (no reflink support, another file system): copy instead.
                    }
                }
                if !cloned {
                    do { try hasher.reset() } catch { throw ApplyError.io(path: sourceDisplay, operation: "hash", errno: Errno(EIO)) }
                    var total: Int64 = 0
                    while true {
                        let n = try sys(sourceDisplay, "read") { try fs.read(src, into: buffer) }
                        if n == 0 { break }
                        let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
                        do { try hasher.update(chunk) } catch { throw ApplyError.io(path: sourceDisplay, operation: "hash", errno: Errno(EIO)) }
                        try writeAll(fd, chunk, destination, fileBytes: size)
                        total += Int64(n)
                        progress.bytesDone += Int64(n)
                        notify(progress)
                    }
                    let digest: SHA256Digest
                    do { digest = try hasher.finalize() } catch { throw ApplyError.io(path: sourceDisplay, operation: "hash", errno: Errno(EIO)) }
                    if total != size {
                        throw ApplyError.sourceChanged(path: sourceDisplay, detail: "\(total) bytes read, the plan says \(size)")
                    }
                    if digest.hex != sha256.lowercased() {
                        throw ApplyError.sourceChanged(path: sourceDisplay, detail: "its content has SHA-256 \(digest.hex.prefix(16))…, the plan says \(sha256.prefix(16))…")
                    }
                    let after = try sys(sourceDisplay, "stat") { try fs.fstat(src) }
                    if after.size != size { throw ApplyError.sourceChanged(path: sourceDisplay, detail: "it changed while being copied") }
                }
            case .bytes(let bytes):
                try bytes.withUnsafeBytes { try writeAll(fd, $0, destination, fileBytes: size) }
            }
            if let mode { try sys(destination, "chmod") { try fs.setMode(fd, mode & 0o7777) } }
            if let owner {
                // Only root may give a file away; others keep their own ownership.
                do { try fs.setOwner(fd, uid: owner.uid, gid: owner.gid) } catch is Errno {}
            }
            if let mtimeNs { try sys(destination, "set mtime") { try fs.setTimes(fd, mtimeNs: mtimeNs) } }
            try sys(destination, "fsync", fileBytes: size) { try fs.fsync(fd) }
            fs.dropCache(fd)
            let (readBack, length) = try hash(fd, destination)
            guard readBack.hex == sha256.lowercased(), length == size else {
                if cloned {
                    throw ApplyError.sourceChanged(path: sourceDisplay, detail: "its content has SHA-256 \(readBack.hex.prefix(16))…, the plan says \(sha256.prefix(16))…")
                }
                throw ApplyError.verifyFailed(path: destination, expected: sha256, found: readBack.hex)
            }
            bytesWritten += size
            fs.close(fd)
            return name
        } catch {
            fs.close(fd)
            try bestEffort { try fs.unlink(dir, name, directory: false) }
            throw error
        }
    }

    /// Journals that a temporary file is about to be put in place; removes it if that fails.
    func announcePlacing(_ op: Int, temp: [UInt8], in dir: Int32) throws {
        do { try record(JournalRecord(event: "placing", op: op)) } catch {
            try bestEffort { try fs.unlink(dir, temp, directory: false) }
            throw error
        }
    }

    /// Renames a verified temporary file to `name` without replacing anything. Returns false
    /// (after removing the temporary file) when `name` appeared meanwhile with the same
    /// content; throws `destinationExists` when it holds other content.
    func place(_ temp: [UInt8], as name: [UInt8], in dir: Int32, sha256: String, display: String) throws -> Bool {
        do {
            try fs.rename(dir, temp, dir, name, noReplace: true)
            return true
        } catch let e as Errno {
            guard e.code == EEXIST else {
                try bestEffort { try fs.unlink(dir, temp, directory: false) }
                throw ApplyError.io(path: display, operation: "rename into place", errno: e)
            }
        }
        defer { try? bestEffort { try fs.unlink(dir, temp, directory: false) } }
        let (digest, st) = try hashFile(dir, name, display)
        if digest.hex == sha256.lowercased() && st.kind == .regular { return false }
        throw ApplyError.destinationExists(path: display, detail: "SHA-256 \(digest.hex.prefix(16))…, the plan writes \(sha256.prefix(16))…")
    }
}
