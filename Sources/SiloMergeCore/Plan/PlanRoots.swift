#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The roots a plan names — the target, the quarantine folder, each silo — pinned by device and
/// inode when the plan is made, and opened again by apply, undo and verify from `/`, one level
/// at a time, without following symbolic links.
///
/// Why: a path is looked up again every time it is used, so a symbolic link swapped in at the
/// target, above it, or at a silo root after the plan was reviewed would send every write (or
/// removal) somewhere the plan never named. Opening each root once this way, checking it is the
/// folder the plan recorded, and doing everything else relative to that descriptor closes that.
/// Paths of the plan are recorded with their links resolved, so a root that legitimately sits
/// below a link (`/var` on macOS, say) is recorded where it really is.
public enum PlanRoots {
    /// Why a root could not be opened.
    public enum OpenFailure: Error, Sendable, Hashable {
        /// A level on the way is a symbolic link.
        case symlink(FilePath)
        /// A level on the way is not a folder.
        case notFolder(FilePath)
        /// A level on the way does not exist.
        case missing(FilePath)
        case io(FilePath, Errno)
    }

    /// Opens the existing folder `path` (absolute) from `/`, one level at a time with
    /// `O_NOFOLLOW`. Returns its descriptor (the caller closes it).
    public static func openFolder(_ path: FilePath, fs: any FileOps = RealFileOps()) throws(OpenFailure) -> Int32 {
        var current: Int32
        do { current = try fs.open(AT_FDCWD, [0x2F], flags: O_RDONLY | O_DIRECTORY, mode: 0) } catch {
            throw .io(FilePath("/"), (error as? Errno) ?? Errno(EIO))
        }
        var prefix: [UInt8] = []
        for part in path.bytes.split(separator: 0x2F, omittingEmptySubsequences: true) {
            let name = Array(part)
            prefix += [0x2F] + name
            do {
                let next = try fs.open(current, name, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW, mode: 0)
                fs.close(current)
                current = next
            } catch {
                let code = (error as? Errno)?.code ?? EIO
                let kind = try? fs.lstat(current, name).kind
                fs.close(current)
                let here = FilePath(bytes: prefix)
                if kind == .symlink { throw .symlink(here) }
                if code == ENOENT { throw .missing(here) }
                if code == ENOTDIR || code == ELOOP || (kind != nil && kind != .directory) { throw .notFolder(here) }
                throw .io(here, Errno(code))
            }
        }
        return current
    }

    /// Apply, undo, verify: opens a folder the plan pinned (a root's anchor, a silo root) from
    /// `/` without following links and checks its device and inode. `missing` makes the error
    /// for a level that is gone (default: `rootChanged`).
    public static func openPinned(_ anchor: RootAnchor, what: String, fs: any FileOps = RealFileOps(),
                                  missing: ((FilePath) -> ApplyError)? = nil) throws(ApplyError) -> Int32 {
        let fd: Int32
        do { fd = try openFolder(anchor.path, fs: fs) } catch {
            switch error {
            case .symlink(let p):
                throw .unsafePath(path: p.display, detail: "is a symbolic link: \(what) (\(anchor.path.display)) is reached from / without following links, and this was no link when the plan was made; nothing was done through it")
            case .notFolder(let p):
                throw .unsafePath(path: p.display, detail: "is not a folder (on the way to \(what), \(anchor.path.display))")
            case .missing(let p):
                if let missing { throw missing(p) }
                throw .rootChanged(path: anchor.path.display, detail: "\(p.display) is gone (it existed when the plan was made: unmounted?)")
            case .io(let p, let e):
                throw .io(path: p.display, operation: "open", errno: e)
            }
        }
        let st: FileStat
        do { st = try fs.fstat(fd) } catch {
            fs.close(fd)
            throw .io(path: anchor.path.display, operation: "stat", errno: (error as? Errno) ?? Errno(EIO))
        }
        guard st.fileID == anchor.identity else {
            fs.close(fd)
            throw .rootChanged(path: anchor.path.display, detail: "is not the folder the plan was made with (device \(st.device) inode \(st.inode), the plan recorded device \(anchor.device) inode \(anchor.inode)): it was replaced since; plan again if this is intended")
        }
        return fd
    }

    /// Opens the folders `levels` below `fd`, one at a time without following links. nil when
    /// one is missing. Returns a new descriptor (the caller closes it; `fd` stays open).
    public static func openLevels(_ fd: Int32, _ levels: [[UInt8]], base: FilePath, fs: any FileOps = RealFileOps()) throws(ApplyError) -> Int32? {
        var current: Int32
        do { current = try fs.open(fd, [0x2E], flags: O_RDONLY | O_DIRECTORY, mode: 0) } catch {
            throw .io(path: base.display, operation: "open", errno: (error as? Errno) ?? Errno(EIO))
        }
        var path = base
        for level in levels {
            path = path.appending(RelativePath(bytes: level))
            do {
                let next = try fs.open(current, level, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW, mode: 0)
                fs.close(current)
                current = next
            } catch {
                let code = (error as? Errno)?.code ?? EIO
                let kind = try? fs.lstat(current, level).kind
                fs.close(current)
                if kind == .symlink { throw .unsafePath(path: path.display, detail: "is a symbolic link; every folder on the way must be a real folder (links are never followed)") }
                if code == ENOENT { return nil }
                if code == ENOTDIR || code == ELOOP { throw .unsafePath(path: path.display, detail: "is not a folder") }
                throw .io(path: path.display, operation: "open folder", errno: Errno(code))
            }
        }
        return current
    }

    /// Plan time: the absolute form of `path` (the target or the quarantine folder) with the
    /// symbolic links of its existing part resolved, and its anchor: the folder itself if it
    /// exists, else its nearest existing parent, with its device and inode.
    public static func anchor(_ path: FilePath, what: String) throws(PlanError) -> (root: FilePath, anchor: RootAnchor) {
        let absolute = lexicallyNormal(Posix.absolute(path))
        let parts = absolute.bytes.split(separator: 0x2F, omittingEmptySubsequences: true).map { Array($0) }
        var existing = parts.count
        while existing > 0 {
            let prefix = FilePath(bytes: parts[0..<existing].flatMap { [0x2F] + $0 })
            if case .success(let st) = Posix.stat(prefix) {
                guard st.kind == .directory else {
                    throw .invalidSettings("\(what) \(absolute.display): \(prefix.display) is not a folder")
                }
                break
            }
            existing -= 1
        }
        let prefix = FilePath(bytes: existing == 0 ? [0x2F] : parts[0..<existing].flatMap { [0x2F] + $0 })
        let real: FilePath
        switch Posix.realPath(prefix) {
        case .success(let r): real = r
        case .failure(let e): throw .io(path: prefix.display, errno: e, operation: "resolve \(what)")
        }
        var root = real
        for part in parts[existing...] { root = root.appending(RelativePath(bytes: part)) }
        let fd: Int32
        do { fd = try openFolder(real) } catch {
            throw .invalidSettings("\(what) \(absolute.display): \(describe(error)) (it changed while the plan was made?)")
        }
        defer { close(fd) }
        guard case .success(let st) = Posix.fstat(fd) else { throw .io(path: real.display, errno: Errno(errno), operation: "stat") }
        return (root, RootAnchor(path: real, device: st.device, inode: st.inode))
    }

    /// Plan time: the silo with its root's device and inode, opened without following links.
    /// Refused when the root is no longer the folder the catalogue recorded at the last scan.
    /// The catalogued silos as a plan pins them, and the host planning (nil while no silo
    /// records one). Silos of this host are identified on disk now; silos on other hosts
    /// cannot be opened here, so their roots are pinned as the scan on their host recorded
    /// them, and checked there by apply.
    static func silos(_ catalogued: [Silo], plannedOn host: HostIdentity?) throws -> (HostIdentity?, [PlanSilo]) {
        let here = catalogued.contains { $0.host != nil } ? try host ?? HostIdentity.local() : nil
        let silos = try catalogued.map { silo throws -> PlanSilo in
            guard let here, let host = silo.host, host.id != here.id else {
                var s = try identify(silo)
                s.host = silo.host
                return s
            }
            guard let identity = silo.rootIdentity else {
                throw PlanError.invalidSettings("silo '\(silo.name)' is on host \(host), and its last scan recorded no identity for its root: scan it again there, then plan again")
            }
            return PlanSilo(name: silo.name, root: silo.root, priority: silo.priority, identity: identity, host: host)
        }
        return (here, silos)
    }

    public static func identify(_ silo: Silo) throws(PlanError) -> PlanSilo {
        let fd: Int32
        do { fd = try openFolder(silo.root) } catch {
            switch error {
            case .missing: throw .invalidSettings("silo '\(silo.name)': its root \(silo.root.display) is gone (unmounted?); mount it, or forget the silo: silomerge silos remove \(silo.name)")
            default: throw .invalidSettings("silo '\(silo.name)': its root \(silo.root.display) cannot be opened as scanned: \(describe(error)); scan again")
            }
        }
        defer { close(fd) }
        guard case .success(let st) = Posix.fstat(fd) else { throw .io(path: silo.root.display, errno: Errno(errno), operation: "stat") }
        if let recorded = silo.rootIdentity, recorded != st.fileID {
            throw .invalidSettings("silo '\(silo.name)': its root \(silo.root.display) is not the folder that was scanned (device \(st.device) inode \(st.inode), the catalogue recorded device \(recorded.device) inode \(recorded.inode)): it was replaced; scan again")
        }
        return PlanSilo(name: silo.name, root: silo.root, priority: silo.priority, identity: st.fileID)
    }

    /// "/srv/a is a symbolic link", for messages.
    public static func describe(_ failure: OpenFailure) -> String {
        switch failure {
        case .symlink(let p): "\(p.display) is a symbolic link"
        case .notFolder(let p): "\(p.display) is not a folder"
        case .missing(let p): "\(p.display) does not exist"
        case .io(let p, let e): "\(p.display): \(e) (\(e.name))"
        }
    }

    /// `.` components dropped, `..` taking the previous component away (the part that matters
    /// does not exist yet, so no link can sit there; the existing part is resolved afterwards).
    static func lexicallyNormal(_ path: FilePath) -> FilePath {
        var out: [[UInt8]] = []
        for part in path.bytes.split(separator: 0x2F, omittingEmptySubsequences: true) {
            if part.elementsEqual([0x2E]) { continue }
            if part.elementsEqual([0x2E, 0x2E]) { if !out.isEmpty { out.removeLast() }; continue }
            out.append(Array(part))
        }
        return FilePath(bytes: out.isEmpty ? [0x2F] : out.flatMap { [0x2F] + $0 })
    }
}
