import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A silo root opened for walking.
struct WalkRoot: Sendable {
    let index: Int
    let silo: Silo
    /// The real (symlink-free) absolute path of the root.
    let realRoot: FilePath
    let rootFD: Int32
    let rootID: FileID
    let rules: FilterRules
}

/// A regular file found in a folder.
struct ListedFile: Sendable {
    let name: [UInt8]
    let stat: FileStat
}

/// One folder, listed completely.
struct DirectoryListing: Sendable {
    let root: Int
    let dir: RelativePath
    /// Regular files that pass the silo's rules, sorted by name bytes.
    var files: [ListedFile]
    /// Regular files skipped by the rules (so their catalogue rows leave scope, not "vanish").
    var excludedNames: Set<[UInt8]>
    /// Every entry the folder holds, whatever its kind (0: the folder is empty).
    var entries = 0
    /// What the folder holds that is not catalogued, and why (rules, links, special files…).
    var uncatalogued: [UncataloguedEntry] = []
}

/// What the walk reports, on walker threads.
protocol WalkVisitor: Sendable {
    /// Compares a listed folder with the catalogue; returns the files to read. `worker` is the
    /// thread's index (0..<threads): state kept per index is never touched by two threads at once.
    func visit(_ listing: DirectoryListing, worker: Int) -> [ReadJob]
    /// Reads (hashes) a batch of files found by `visit`.
    func read(_ jobs: [ReadJob], worker: Int)
    /// A folder could not be listed (its catalogue rows are kept as they are).
    func unreadable(root: Int, dir: RelativePath)
    /// A folder skipped by an exclude rule or because it is another silo's root.
    func excluded(root: Int, dir: RelativePath)
    /// A folder the walk found but could not list: recorded as an entry of its parent.
    func unlisted(root: Int, dir: RelativePath, _ entry: UncataloguedEntry)
}

/// Walks several silos at once on a fixed number of Dispatch worker threads, taking work from
/// one shared stack: folders to list, and batches of files to read that listing them produced.
/// The thread that lists a folder usually reads its new files next (they are on top of the
/// stack), so no file changes hands between threads unless another thread is idle and steals
/// it. Depth first: pending work stays proportional to the tree's breadth, not its size.
///
/// Never follows symlinks unless asked; never opens anything but folders (and, through the
/// visitor, regular files); never leaves a silo's root or walks into another silo's root.
final class Walker: Sendable {
    enum Work: Sendable {
        case directory(Job)
        case files([ReadJob])
    }

    /// Files per stealable batch, and bytes: small enough that an idle thread can help with a
    /// folder of large files, large enough that handing over costs nothing.
    static let batchFiles = 32
    static let batchBytes: Int64 = 16 << 20

    struct Job: Sendable {
        let root: Int
        let dir: RelativePath
        /// The folder's identity when its parent listed it; a different one at open time means
        /// it was swapped (for a symlink, say) during the walk.
        let expected: FileID?
        /// Identities of the folders above, to refuse loops through followed symlinks or bind mounts.
        let ancestors: [FileID]
        let viaSymlink: Bool
    }

    private struct State {
        var stack: [Work] = []
        var active = 0
        var done = false
    }

    let roots: [WalkRoot]
    let followSymlinks: Bool
    /// Folders that are roots of other silos: never walked from here.
    let otherSiloRoots: [FileID: String]
    /// Real paths of every silo root, for symlinks that lead into a silo.
    let siloRealRoots: [(name: String, path: FilePath)]
    /// The catalogue's own files, never catalogued: (folder identity, names).
    let catalogueFolder: FileID?
    let catalogueNames: Set<[UInt8]>
    let threads: Int
    let visitor: any WalkVisitor
    let diagnostics: DiagnosticCollector
    /// The run's counters: the walk adds folders, files, bytes and what it skipped.
    let counters: ScanCounters
    let cancelled: Atomic<Bool>
    /// `--profile`: where each worker adds its walk, stat and compare times (nil: not timed).
    let profile: ScanProfiler?

    private let state = Mutex(State())
    private let semaphore = DispatchSemaphore(value: 0)

    /// Asked before each folder or batch of files: true stops the walk (what is queued is dropped).
    private let stop: @Sendable () -> Bool

    init(roots: [WalkRoot], followSymlinks: Bool, otherSiloRoots: [FileID: String],
         siloRealRoots: [(name: String, path: FilePath)], catalogueFolder: FileID?, catalogueNames: Set<[UInt8]>,
         threads: Int, visitor: any WalkVisitor, diagnostics: DiagnosticCollector, counters: ScanCounters,
         stop: @escaping @Sendable () -> Bool = { false }, profile: ScanProfiler? = nil) {
        self.roots = roots; self.followSymlinks = followSymlinks; self.otherSiloRoots = otherSiloRoots
        self.siloRealRoots = siloRealRoots; self.catalogueFolder = catalogueFolder; self.catalogueNames = catalogueNames
        self.threads = max(1, threads); self.visitor = visitor; self.diagnostics = diagnostics
        self.counters = counters; self.cancelled = Atomic(false); self.stop = stop; self.profile = profile
    }

    func cancel() {
        cancelled.store(true, ordering: .relaxed)
    }

    /// Walks everything; returns when every folder has been listed (or the walk was cancelled).
    func run() {
        let initial = roots.map { Work.directory(Job(root: $0.index, dir: .root, expected: $0.rootID, ancestors: [$0.rootID], viaSymlink: false)) }
        guard !initial.isEmpty else { return }
        state.withLock { $0.stack = initial.reversed() }
        for _ in initial { semaphore.signal() }
        DispatchQueue.concurrentPerform(iterations: threads) { worker in
            while true {
                semaphore.wait()
                let work: Work? = state.withLock { s in
                    if s.done { return nil }
                    guard let work = s.stack.popLast() else { return nil }
                    s.active += 1
                    return work
                }
                guard let work else { return }
                var children: [Work] = []
                if stop() { cancel() }
                if !cancelled.load(ordering: .relaxed) {
                    switch work {
                    case .directory(let job): children = process(job, worker: worker)
                    case .files(let jobs): visitor.read(jobs, worker: worker)
                    }
                }
                let finished: Bool = state.withLock { s in
                    s.stack.append(contentsOf: children.reversed())
                    s.active -= 1
                    if s.active == 0 && s.stack.isEmpty { s.done = true; return true }
                    return false
                }
                for _ in children { semaphore.signal() }
                if finished {
                    for _ in 0..<threads { semaphore.signal() }
                    return
                }
            }
        }
    }

    /// Lists one folder; returns the sub-folders to walk and the files to read.
    private func process(_ job: Job, worker: Int) -> [Work] {
        // --profile: the folder's time is its walk, less each entry's lstat (stat) and the
        // comparison with the catalogue (compare; what the hasher does for it counts apart).
        let slot = profile?[worker]
        let started = slot != nil ? MonotonicClock.now() : 0
        var statNs: UInt64 = 0, statCount = 0, visitNs: UInt64 = 0
        defer {
            if let slot {
                let total = MonotonicClock.now() &- started
                slot.add(.stat, nanoseconds: statNs, count: statCount)
                slot.add(.walk, nanoseconds: total > statNs &+ visitNs ? total - statNs - visitNs : 0)
            }
        }
        let root = roots[job.root]
        var flags = O_RDONLY | O_DIRECTORY
        if !job.viaSymlink { flags |= O_NOFOLLOW }
        let fd: Int32
        switch Posix.openAt(root.rootFD, job.dir, flags: flags) {
        case .success(let f): fd = f
        case .failure(let e):
            if e.code == ENOENT {
                diagnostics.report(Diagnostic(.warning, .vanished, silo: root.silo.name, path: job.dir,
                                              message: "folder vanished during the scan"))
            } else {
                diagnostics.report(Diagnostic(.warning, .directoryUnreadable, silo: root.silo.name, path: job.dir,
                                              errno: e.code, message: "cannot open folder: \(e)"))
                visitor.unreadable(root: job.root, dir: job.dir)
                unlisted(job, root, "cannot open folder: \(e) (\(e.name))")
            }
            return []
        }
        guard let dir = fdopendir(fd) else {
            let code = errno
            close(fd)
            diagnostics.report(Diagnostic(.warning, .directoryUnreadable, silo: root.silo.name, path: job.dir,
                                          errno: code, message: "cannot list folder: \(Errno(code))"))
            visitor.unreadable(root: job.root, dir: job.dir)
            unlisted(job, root, "cannot list folder: \(Errno(code)) (\(Errno(code).name))")
            return []
        }
        defer { closedir(dir) }
        let dirFD = dirfd(dir)
        let selfID: FileID
        switch Posix.fstat(dirFD) {
        case .success(let st): selfID = st.fileID
        case .failure(let e):
            diagnostics.report(Diagnostic(.warning, .directoryUnreadable, silo: root.silo.name, path: job.dir,
                                          errno: e.code, message: "cannot stat folder: \(e)"))
            visitor.unreadable(root: job.root, dir: job.dir)
            unlisted(job, root, "cannot stat folder: \(e) (\(e.name))")
            return []
        }
        if let expected = job.expected, expected != selfID {
            diagnostics.report(Diagnostic(.warning, .changedDuringScan, silo: root.silo.name, path: job.dir,
                                          message: "folder was replaced during the scan; skipped"))
            visitor.unreadable(root: job.root, dir: job.dir)
            unlisted(job, root, "the folder was replaced during the scan; not listed")
            return []
        }
        let tally = counters[worker]
        tally.add { $0.directories += 1 }
        let inCatalogueFolder = catalogueFolder == selfID

        var listing = DirectoryListing(root: job.root, dir: job.dir, files: [], excludedNames: [])
        var children: [Job] = []
        defer { _ = children }
        var filesHere = 0
        var bytesHere: Int64 = 0
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 {
                    let code = errno
                    diagnostics.report(Diagnostic(.warning, .directoryUnreadable, silo: root.silo.name, path: job.dir,
                                                  errno: code, message: "listing the folder failed part way: \(Errno(code))"))
                    visitor.unreadable(root: job.root, dir: job.dir)
                    unlisted(job, root, "listing the folder failed part way: \(Errno(code)) (\(Errno(code).name))")
                    return []
                }
                break
            }
            // d_name is NUL-terminated: stat it in place, copy the name once.
            let (name, lstatResult) = withUnsafePointer(to: &entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: 256) { cName -> ([UInt8], Result<FileStat, Errno>) in
                    let length = strlen(cName)
                    let bytes = UnsafeRawPointer(cName).assumingMemoryBound(to: UInt8.self)
                    if length <= 2 && bytes[0] == 0x2E && (length == 1 || bytes[1] == 0x2E) { return ([], .failure(Errno(0))) }
                    let name = Array(UnsafeBufferPointer(start: bytes, count: length))
                    guard slot != nil else { return (name, Posix.lstat(at: dirFD, cName)) }
                    let before = MonotonicClock.now()
                    let result = Posix.lstat(at: dirFD, cName)
                    statNs &+= MonotonicClock.now() &- before; statCount += 1
                    return (name, result)
                }
            }
            if name.isEmpty { continue }   // "." or ".."
            listing.entries += 1
            let st: FileStat
            switch lstatResult {
            case .success(let s): st = s
            case .failure(let e):
                if e.code == ENOENT {
                    diagnostics.report(Diagnostic(.warning, .vanished, silo: root.silo.name, path: job.dir.appending(name),
                                                  message: "vanished during the scan"))
                } else {
                    diagnostics.report(Diagnostic(.warning, .unreadable, silo: root.silo.name, path: job.dir.appending(name),
                                                  errno: e.code, message: "cannot stat: \(e)"))
                    listing.uncatalogued.append(UncataloguedEntry(name: name, kind: .unknown, reason: .unreadable,
                                                                  detail: "cannot stat: \(e) (\(e.name))"))
                }
                continue
            }
            switch st.kind {
            case .directory:
                handleDirectory(job: job, root: root, dirFD: dirFD, parentDevice: selfID.device, name: name, stat: st,
                                viaSymlink: false, tally: tally, listing: &listing, children: &children)
            case .regular:
                if inCatalogueFolder && catalogueNames.contains(name) {
                    listing.uncatalogued.append(UncataloguedEntry(name: name, kind: .regular, reason: .catalogue,
                                                                  detail: "the catalogue's own file", size: st.size))
                    continue
                }
                if root.rules.skips(parent: job.dir, name: name, isDirectory: false) {
                    tally.add { $0.ignored += 1 }
                    listing.excludedNames.insert(name)
                    skipped(job, root, name, st, isDirectory: false, listing: &listing)
                    continue
                }
                listing.files.append(ListedFile(name: name, stat: st))
                filesHere += 1
                bytesHere += st.size
            case .symlink:
                guard followSymlinks else {
                    tally.add { $0.skippedSymlinks += 1 }
                    listing.uncatalogued.append(UncataloguedEntry(name: name, kind: .symlink, reason: .symlink,
                                                                  detail: "symbolic link, not followed (--follow-symlinks follows links)"))
                    continue
                }
                followLink(job: job, root: root, dirFD: dirFD, parentDevice: selfID.device, name: name, tally: tally, listing: &listing,
                           children: &children, filesHere: &filesHere, bytesHere: &bytesHere)
            default:
                skipSpecial(root: root, path: job.dir.appending(name), kind: st.kind, tally: tally)
                listing.uncatalogued.append(UncataloguedEntry(name: name, kind: st.kind, reason: .specialFile,
                                                              detail: "\(st.kind.label): special files are never opened"))
            }
        }
        tally.add { $0.files += filesHere; $0.bytes += bytesHere }
        listing.files.sort { $0.name.lexicographicallyPrecedes($1.name) }
        let visitStart = slot != nil ? MonotonicClock.now() : 0
        let hasherBefore = slot?.hasherNanoseconds ?? 0
        let reads = visitor.visit(listing, worker: worker)
        if let slot {
            visitNs = MonotonicClock.now() &- visitStart
            let inner = slot.hasherNanoseconds &- hasherBefore
            slot.add(.compare, nanoseconds: visitNs > inner ? visitNs - inner : 0)
        }
        var work = children.map(Work.directory)
        // Files last, so they are popped first: this thread reads what it just listed.
        var batch: [ReadJob] = []
        var batchBytes: Int64 = 0
        for read in reads {
            batch.append(read)
            batchBytes += read.expected.size
            if batch.count >= Walker.batchFiles || batchBytes >= Walker.batchBytes {
                work.append(.files(batch)); batch = []; batchBytes = 0
            }
        }
        if !batch.isEmpty { work.append(.files(batch)) }
        return work
    }

    /// Records an entry the rules skip, with the rule.
    private func skipped(_ job: Job, _ root: WalkRoot, _ name: [UInt8], _ st: FileStat, isDirectory: Bool, asLink: Bool = false,
                         listing: inout DirectoryListing) {
        let (reason, detail) = root.rules.skipReason(parent: job.dir, name: name, isDirectory: isDirectory) ?? (.excluded, "skipped by a rule")
        listing.uncatalogued.append(UncataloguedEntry(name: name, kind: asLink ? .symlink : st.kind, reason: reason, detail: detail,
                                                      size: isDirectory ? nil : st.size))
    }

    /// A folder that could not be listed: an entry of its parent (the silo root itself aside).
    private func unlisted(_ job: Job, _ root: WalkRoot, _ detail: String) {
        guard !job.dir.isRoot else { return }
        visitor.unlisted(root: job.root, dir: job.dir.parent,
                         UncataloguedEntry(name: Array(job.dir.lastComponent), kind: job.viaSymlink ? .symlink : .directory,
                                           reason: .unreadable, detail: detail))
    }

    private func skipSpecial(root: WalkRoot, path: RelativePath, kind: FileKind, tally: ScanCounters.Slot) {
        tally.add { $0.skippedSpecial += 1 }
        diagnostics.report(Diagnostic(.warning, .specialFile, silo: root.silo.name, path: path,
                                      message: "skipped \(kind.label): special files are never opened"))
    }

    private func handleDirectory(job: Job, root: WalkRoot, dirFD: Int32, parentDevice: UInt64, name: [UInt8], stat: FileStat,
                                 viaSymlink: Bool, tally: ScanCounters.Slot, listing: inout DirectoryListing, children: inout [Job]) {
        let path = job.dir.appending(name)
        if root.rules.skips(parent: job.dir, name: name, isDirectory: true) {
            tally.add { $0.ignored += 1 }
            visitor.excluded(root: job.root, dir: path)
            skipped(job, root, name, stat, isDirectory: true, asLink: viaSymlink, listing: &listing)
            return
        }
        // A mount point: another file system starts here.
        if stat.device != parentDevice {
            if root.silo.oneFileSystem && stat.device != root.rootID.device {
                tally.add { $0.ignored += 1 }
                diagnostics.report(Diagnostic(.note, .otherFileSystem, silo: root.silo.name, path: path,
                                              message: "is on another file system (a mount point): not walked (--one-file-system)"))
                listing.uncatalogued.append(UncataloguedEntry(name: name, kind: viaSymlink ? .symlink : .directory, reason: .excluded,
                                                              detail: "another file system (--one-file-system)"))
                visitor.excluded(root: job.root, dir: path)
                return
            }
            if let type = pseudoFileSystem(dirFD: dirFD, name: name, follow: viaSymlink, device: stat.device) {
                tally.add { $0.ignored += 1 }
                diagnostics.report(Diagnostic(.note, .pseudoFileSystem, silo: root.silo.name, path: path,
                                              message: "is a \(type) file system (the kernel's view of itself, not files): never walked"))
                listing.uncatalogued.append(UncataloguedEntry(name: name, kind: viaSymlink ? .symlink : .directory, reason: .excluded,
                                                              detail: "a \(type) file system: never walked"))
                visitor.excluded(root: job.root, dir: path)
                return
            }
        }
        if let other = otherSiloRoots[stat.fileID], stat.fileID != root.rootID {
            _ = other   // announced once by the engine before the walk
            visitor.excluded(root: job.root, dir: path)
            return
        }
        if job.ancestors.contains(stat.fileID) {
            diagnostics.report(Diagnostic(.note, .symlinkLoop, silo: root.silo.name, path: path,
                                          message: "leads back to a folder above it; not walked again"))
            listing.uncatalogued.append(UncataloguedEntry(name: name, kind: viaSymlink ? .symlink : .directory,
                                                          reason: viaSymlink ? .symlink : .unreadable,
                                                          detail: "leads back to a folder above it; not walked again"))
            return
        }
        children.append(Job(root: job.root, dir: path, expected: stat.fileID, ancestors: job.ancestors + [stat.fileID],
                            viaSymlink: viaSymlink || job.viaSymlink))
    }

    /// The pseudo file system (proc, sysfs...) the folder `name` in `dirFD` is on, if any.
    private func pseudoFileSystem(dirFD: Int32, name: [UInt8], follow: Bool, device: UInt64) -> String? {
        let flags = O_RDONLY | O_DIRECTORY | O_NONBLOCK | (follow ? 0 : O_NOFOLLOW)
        guard case .success(let fd) = Posix.openAt(dirFD, RelativePath(bytes: name), flags: flags) else { return nil }
        defer { close(fd) }
        return PseudoFileSystems.name(fd: fd, device: device)
    }

    private func followLink(job: Job, root: WalkRoot, dirFD: Int32, parentDevice: UInt64, name: [UInt8], tally: ScanCounters.Slot,
                            listing: inout DirectoryListing,
                            children: inout [Job], filesHere: inout Int, bytesHere: inout Int64) {
        let path = job.dir.appending(name)
        let target = RelativePath(bytes: name).withCString { Posix.stat(at: dirFD, $0) }
        guard case .success(let st) = target else {
            let loop: Bool
            if case .failure(let e) = target, e.code == ELOOP { loop = true } else { loop = false }
            let what = loop ? "symbolic link loop; not followed" : "symbolic link to nothing; skipped"
            diagnostics.report(Diagnostic(.note, loop ? .symlinkLoop : .symlinkDangling, silo: root.silo.name, path: path, message: what))
            listing.uncatalogued.append(UncataloguedEntry(name: name, kind: .symlink, reason: .symlink, detail: what))
            return
        }
        switch st.kind {
        case .directory:
            // A link into a silo (this one or another) would catalogue files twice: those are
            // catalogued where they really are.
            if case .success(let real) = Posix.realPath(root.realRoot.appending(path)),
               let owner = siloRealRoots.first(where: { $0.path.contains(real) }) {
                diagnostics.report(Diagnostic(.note, .symlinkIntoSilo, silo: root.silo.name, path: path,
                                              message: "links into silo '\(owner.name)'; its files are catalogued there"))
                listing.uncatalogued.append(UncataloguedEntry(name: name, kind: .symlink, reason: .symlink,
                                                              detail: "links into silo '\(owner.name)'; its files are catalogued there"))
                return
            }
            handleDirectory(job: job, root: root, dirFD: dirFD, parentDevice: parentDevice, name: name, stat: st, viaSymlink: true,
                            tally: tally, listing: &listing, children: &children)
        case .regular:
            if root.rules.skips(parent: job.dir, name: name, isDirectory: false) {
                tally.add { $0.ignored += 1 }
                listing.excludedNames.insert(name)
                skipped(job, root, name, st, isDirectory: false, asLink: true, listing: &listing)
                return
            }
            listing.files.append(ListedFile(name: name, stat: st))
            filesHere += 1
            bytesHere += st.size
        default:
            skipSpecial(root: root, path: path, kind: st.kind, tally: tally)
            listing.uncatalogued.append(UncataloguedEntry(name: name, kind: .symlink, reason: .specialFile,
                                                          detail: "symbolic link to a \(st.kind.label): special files are never opened"))
        }
    }
}
