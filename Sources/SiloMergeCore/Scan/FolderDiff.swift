import Foundation
import Synchronization

/// The folder diff: each folder the walk lists is compared with what the catalogue holds for
/// it (`FolderIndex`, one `FolderReader` per worker), in name order. New and changed files are
/// queued for the read stage (or recorded at once when nothing needs reading), unchanged ones
/// are reused, vanished ones recorded missing; XMP sidecars are attached to their assets.
/// It is the walk's visitor: the walk hands it folders, and the batches of files it queued.
final class FolderDiff: WalkVisitor, Sendable {
    let roots: [WalkRoot]
    let options: ScanOptions
    let folders: PerWorker<any FolderReader>
    let hashers: PerWorker<FileHasher>
    /// Files catalogued per silo before this run (an empty root where files were is suspect).
    let cataloguedCounts: [Int64: Int]
    /// Silos with sidecars in the catalogue: only their folders need a sidecar lookup.
    let silosWithSidecars: Set<Int64>
    /// Silos with uncatalogued entries recorded: only their folders need those rows replaced
    /// when they hold none now.
    let silosWithUncatalogued: Set<Int64>
    /// Unchanged files to read again this run (`verifyFraction`), with their stored hashes.
    let verify: [Int64: SHA256Digest]
    let known: KnownTally
    let links: HardLinkHashes
    let sidecarReader: SidecarReader
    /// Reads what this stage queued.
    let reader: ReadStage
    let writes: WriteBuffer
    let counters: ScanCounters
    let progress: ScanProgressState
    let control: ScanControl
    let diagnostics: DiagnosticCollector
    let report: FileReporter

    /// What each silo looked like (its folders, files and bytes).
    let perSilo: Mutex<[SiloScanSummary]>
    /// Silos whose walk may not conclude that files vanished (root unreadable, or suspiciously empty).
    let inconclusive = Mutex<Set<Int>>([])

    init(roots: [WalkRoot], options: ScanOptions, folders: PerWorker<any FolderReader>, hashers: PerWorker<FileHasher>,
         cataloguedCounts: [Int64: Int], silosWithSidecars: Set<Int64>, silosWithUncatalogued: Set<Int64>,
         verify: [Int64: SHA256Digest], known: KnownTally, links: HardLinkHashes, reader: ReadStage, writes: WriteBuffer,
         counters: ScanCounters, progress: ScanProgressState, control: ScanControl, diagnostics: DiagnosticCollector) {
        self.roots = roots; self.options = options; self.folders = folders; self.hashers = hashers
        self.cataloguedCounts = cataloguedCounts; self.silosWithSidecars = silosWithSidecars
        self.silosWithUncatalogued = silosWithUncatalogued; self.verify = verify; self.known = known; self.links = links
        self.reader = reader; self.writes = writes; self.counters = counters; self.progress = progress
        self.control = control; self.diagnostics = diagnostics
        self.report = FileReporter(diagnostics: diagnostics)
        self.sidecarReader = SidecarReader(options: options, known: known, report: report)
        self.perSilo = Mutex(roots.map { SiloScanSummary(name: $0.silo.name, root: $0.silo.root, files: 0, bytes: 0, directories: 0) })
    }

    /// The batches of files this stage queued, read as the walk hands them back.
    func read(_ jobs: [ReadJob], worker: Int) { reader.read(jobs, worker: worker) }

    func visit(_ listing: DirectoryListing, worker: Int) -> [ReadJob] {
        guard !control.failed else { return [] }
        let root = roots[listing.root]
        let siloID = root.silo.id
        if listing.dir.isRoot && listing.entries == 0 && (cataloguedCounts[siloID] ?? 0) > 0 {
            // An empty root where files used to be is far more often an unmounted share than a
            // silo that was emptied: keep the catalogue as it is.
            inconclusive.withLock { _ = $0.insert(listing.root) }
            diagnostics.report(Diagnostic(.error, .directoryUnreadable, silo: root.silo.name, path: nil,
                message: "the silo's folder \(root.silo.root.display) is empty, but the catalogue holds \(cataloguedCounts[siloID] ?? 0) files for it: is it mounted? Nothing was marked missing (remove the silo with `silomerge silos remove \(root.silo.name)` if it really is empty)"))
            return []
        }
        let stored: [StoredEntry]
        var storedSidecars: [[UInt8]: [StoredSidecar]] = [:]
        let hasXMP = listing.files.contains { SidecarPlan.isXMP($0.name) }
        // A silo the catalogue holds no file of (its first scan) has nothing stored in any
        // folder, and no sidecar (they belong to files): no look-up per folder, which on a
        // catalogue across the network is a round trip each. The silo is locked for this scan.
        let nothingStored = (cataloguedCounts[siloID] ?? 0) == 0
        do {
            stored = nothingStored ? [] : try folders[worker].entries(siloID: siloID, dir: listing.dir, withHashes: options.rehash)
                .sorted { $0.name.lexicographicallyPrecedes($1.name) }
            if !nothingStored && (hasXMP || silosWithSidecars.contains(siloID)) {
                for sc in try folders[worker].sidecars(siloID: siloID, dir: listing.dir) {
                    storedSidecars[sc.assetName, default: []].append(sc)
                }
            }
        } catch {
            control.fail(error)
            return []
        }
        // XMP sidecars belong to their asset: they are taken out of the listing here. A .xmp
        // recorded as a sidecar whose identity has not changed is still one: only new or
        // changed ones are sniffed.
        let knownSidecars: [[UInt8]: FileStat] = hasXMP
            ? Dictionary(storedSidecars.values.joined().map { ($0.name, $0.stat) }, uniquingKeysWith: { a, _ in a }) : [:]
        let listedStats: [[UInt8]: FileStat] = hasXMP
            ? Dictionary(listing.files.filter { SidecarPlan.isXMP($0.name) }.map { ($0.name, $0.stat) }, uniquingKeysWith: { a, _ in a }) : [:]
        let plan = SidecarPlan(files: listing.files.map(\.name), excluded: listing.excludedNames) { name in
            if let known = knownSidecars[name], let now = listedStats[name], now.sameIdentity(as: known) { return .xmp }
            return sidecarReader.sidecarContent(root: root, path: listing.dir.appending(name))
        }
        for u in plan.unattached {
            let candidates = u.candidates.map { String(decoding: $0, as: UTF8.self) }
            let message: String
            switch u.reason {
            case .ambiguous:
                message = "could be the XMP sidecar of \(candidates.joined(separator: ", ")): attached to none, catalogued as a file of its own (name each sidecar after its file, e.g. \(candidates[0]).xmp)"
            case .notXMP(let kind):
                message = "is \(kind ?? "not an XMP packet"), not an XMP sidecar of \(candidates.joined(separator: ", ")): catalogued as a file of its own"
            }
            diagnostics.report(Diagnostic(.note, .sidecar, silo: root.silo.name, path: listing.dir.appending(u.name), message: message))
        }
        // The sidecars of excluded files are excluded with them, and recorded as passed over.
        let files = plan.sidecars.isEmpty && plan.excludedSidecars.isEmpty ? listing.files
            : listing.files.filter { !plan.sidecars.contains($0.name) && !plan.excludedSidecars.contains($0.name) }
        var uncatalogued = listing.uncatalogued
        for f in listing.files where plan.excludedSidecars.contains(f.name) {
            uncatalogued.append(UncataloguedEntry(name: f.name, kind: .regular, reason: .excluded,
                                                  detail: "XMP sidecar of an excluded file", size: f.stat.size))
        }
        if !uncatalogued.isEmpty || silosWithUncatalogued.contains(siloID) {
            writes.add(.uncatalogued(siloID: siloID, dir: listing.dir, uncatalogued, replace: true))
        }
        if let k = known.contents, k.silo == root.silo.name {
            let seen = listing.files.reduce(0) { $0 + (k.files[listing.dir.appending($1.name)] != nil ? 1 : 0) }
            if seen > 0 { known.seen.add(seen, ordering: .relaxed) }
        }
        perSilo.withLock { s in
            s[listing.root].directories += 1
            s[listing.root].files += listing.files.count
            s[listing.root].bytes += listing.files.reduce(0) { $0 + $1.stat.size }
        }
        let statsByName = plan.attachments.isEmpty ? [:] : Dictionary(listing.files.map { ($0.name, $0.stat) }, uniquingKeysWith: { a, _ in a })
        /// The sidecars to record for an asset, when they differ from what is recorded (nil: no change).
        func sidecarUpdate(for name: [UInt8], forceRead: Bool) -> [SidecarRecord]? {
            let attached = plan.attachments[name] ?? []
            let recorded = storedSidecars[name] ?? []
            if attached.isEmpty && recorded.isEmpty { return nil }
            let unchanged = !forceRead && attached.count == recorded.count && attached.allSatisfy { a in
                guard let r = recorded.first(where: { $0.name == a.name }), let st = statsByName[a.name] else { return false }
                return r.used == a.used && st.sameIdentity(as: r.stat)
                    && (r.valuesRead || !options.readMetadata) && (r.hashed || options.hashMode != .full)
            }
            if unchanged { return nil }
            return attached.compactMap { a in sidecarReader.readSidecar(a, root: root, dir: listing.dir, stat: statsByName[a.name], hasher: hashers[worker]) }
        }
        var reads: [ReadJob] = []
        // This folder's counts, added to the worker's once at the end.
        var tally = RunCounts()
        var i = 0, j = 0
        while i < files.count || j < stored.count {
            let order: Int
            if i == files.count { order = 1 }
            else if j == stored.count { order = -1 }
            else if files[i].name == stored[j].name { order = 0 }
            else { order = files[i].name.lexicographicallyPrecedes(stored[j].name) ? -1 : 1 }
            switch order {
            case 0:
                let changed = !files[i].stat.sameIdentity(as: stored[j].stat)
                let sidecars = sidecarUpdate(for: files[i].name, forceRead: options.rehash)
                if !changed, let sidecars {
                    writes.add(.sidecars(fileID: stored[j].id, siloID: siloID, dir: listing.dir, sidecars))
                }
                handleExisting(files[i], stored[j], sidecars: sidecars, root: root, dir: listing.dir, reads: &reads, tally: &tally)
                i += 1; j += 1
            case -1:
                tally.filesNew += 1
                let sidecars = sidecarUpdate(for: files[i].name, forceRead: true)
                handleNew(files[i], replacing: nil, sidecars: sidecars, root: root, dir: listing.dir, reads: &reads, tally: &tally)
                i += 1
            default:
                let name = stored[j].name
                let reason: ChangeKind = listing.excludedNames.contains(name) || plan.sidecars.contains(name)
                    || plan.excludedSidecars.contains(name) ? .excluded : .missing
                if reason == .missing { tally.filesMissing += 1 } else { tally.filesExcluded += 1 }
                writes.add(.remove(stored[j], siloID: siloID, dir: listing.dir, reason: reason))
                j += 1
            }
        }
        writes.add(.visitedDirectory(siloID: siloID, dir: listing.dir))
        counters[worker].add(tally)
        var queuedFiles = 0, queuedBytes: Int64 = 0
        for r in reads where r.kind == .full {
            queuedFiles += 1
            queuedBytes += r.expected.size
        }
        if queuedFiles > 0 { progress.queued(files: queuedFiles, bytes: queuedBytes) }
        return reads
    }

    func unreadable(root: Int, dir: RelativePath) {
        if dir.isRoot { inconclusive.withLock { _ = $0.insert(root) } }
        writes.add(.unreadableDirectory(siloID: roots[root].silo.id, dir: dir))
    }

    func excluded(root: Int, dir: RelativePath) {
        writes.add(.excludedDirectory(siloID: roots[root].silo.id, dir: dir))
    }

    func unlisted(root: Int, dir: RelativePath, _ entry: UncataloguedEntry) {
        writes.add(.uncatalogued(siloID: roots[root].silo.id, dir: dir, [entry], replace: false))
    }

    private func handleExisting(_ file: ListedFile, _ stored: StoredEntry, sidecars: [SidecarRecord]?, root: WalkRoot,
                                dir: RelativePath, reads: inout [ReadJob], tally: inout RunCounts) {
        guard file.stat.sameIdentity(as: stored.stat) else {
            tally.filesChanged += 1
            // The row is rewritten: its sidecars go with it (an empty list clears them).
            handleNew(file, replacing: stored, sidecars: sidecars, root: root, dir: dir, reads: &reads, tally: &tally)
            return
        }
        tally.filesUnchanged += 1
        let path = dir.appending(file.name)
        let wantsMetadata = options.readMetadata && (!stored.metadataRead || options.rehash) && file.stat.size > 0
        if let expected = verify[stored.id], file.stat.size > 0 {
            reads.append(ReadJob(root: root.index, path: path, expected: file.stat, kind: .full, inspect: wantsMetadata,
                                 completion: .update(id: stored.id, previous: expected)))
        } else if options.hashMode == .full && (!stored.hasHash || options.rehash) && file.stat.size > 0 {
            reads.append(ReadJob(root: root.index, path: path, expected: file.stat, kind: .full, inspect: wantsMetadata,
                                 completion: .update(id: stored.id, previous: stored.sha256)))
        } else {
            if stored.hasHash { tally.hashesReused += 1 }
            if wantsMetadata {
                reads.append(ReadJob(root: root.index, path: path, expected: file.stat, kind: .metadata, inspect: true,
                                     completion: .update(id: stored.id, previous: nil)))
            }
        }
    }

    private func handleNew(_ file: ListedFile, replacing: StoredEntry?, sidecars: [SidecarRecord]?, root: WalkRoot,
                           dir: RelativePath, reads: inout [ReadJob], tally: inout RunCounts) {
        var row = FileRow(siloID: root.silo.id, dir: dir, name: file.name, stat: file.stat)
        row.sidecars = sidecars
        let path = dir.appending(file.name)
        if file.stat.size == 0 {
            if let recorded = known.recorded(root, path) {
                // Nothing to read either way; an empty file where the apply placed content is flagged.
                if recorded.matches(file.stat) { known.taken.add(1, ordering: .relaxed) } else { known.read.add(1, ordering: .relaxed) }
                if recorded.sha256 != .empty {
                    known.differing.withLock { $0.append(path) }
                    report(.warning, .mergeDiffers, root, path,
                           "not the content the plan's apply placed and verified here (SHA-256 \(recorded.sha256.hex.prefix(12))…): it is empty now (\(recorded.differences(from: file.stat)) since \(recorded.origin) placed it); catalogued as it is now")
                }
            }
            row.sha256 = .empty; row.hashedAt = Date()
            if options.readMetadata { row.content = ContentInfo(format: .other) }
            writes.add(.upsert(row, replacing: replacing))
            return
        }
        if let recorded = known.recorded(root, path) {
            guard recorded.matches(file.stat) else {
                // Not as the apply left it: read, and compared with what it verified.
                known.read.add(1, ordering: .relaxed)
                var job = ReadJob(root: root.index, path: path, expected: file.stat, kind: .full, inspect: options.readMetadata,
                                  completion: .store(row, replacing: replacing))
                job.known = (recorded.sha256, "\(recorded.differences(from: file.stat)) since \(recorded.origin) placed it")
                reads.append(job)
                return
            }
            // As the apply placed and verified it: its SHA-256 is known, nothing is hashed.
            row.sha256 = recorded.sha256; row.hashedAt = Date()
            known.taken.add(1, ordering: .relaxed)
            tally.hashesReused += 1
            if options.readMetadata && !recorded.contentKnown {
                reads.append(ReadJob(root: root.index, path: path, expected: file.stat, kind: .metadata, inspect: true,
                                     completion: .store(row, replacing: replacing)))
            } else {
                writes.add(.upsert(row, replacing: replacing))
            }
            return
        }
        if file.stat.linkCount > 1, let linked = links.hash(of: file.stat) {
            row.sha256 = linked; row.hashedAt = Date()
            tally.hashesReused += 1
            if options.readMetadata {
                reads.append(ReadJob(root: root.index, path: path, expected: file.stat, kind: .metadata, inspect: true,
                                     completion: .store(row, replacing: replacing)))
            } else {
                writes.add(.upsert(row, replacing: replacing))
            }
            return
        }
        if options.hashMode == .full {
            reads.append(ReadJob(root: root.index, path: path, expected: file.stat, kind: .full, inspect: options.readMetadata,
                                 completion: .store(row, replacing: replacing)))
        } else if options.readMetadata {
            reads.append(ReadJob(root: root.index, path: path, expected: file.stat, kind: .metadata, inspect: true,
                                 completion: .store(row, replacing: replacing)))
        } else {
            writes.add(.upsert(row, replacing: replacing))
        }
    }
}
