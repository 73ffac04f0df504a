import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One scan in progress: the stages of the pipeline, and what they share. Created by
/// `ScanEngine.scan`, used once. `run()` reads as the pipeline does:
///
///     walk ─ FolderDiff (each folder against the catalogue's) ─ ReadStage (hash + inspect)
///          → finish the walk (missing files) → ManifestStage
///          → SameSizeStage (`--hash dupes`) → ImageHashStage → record (flush, counts)
///
/// Each stage is a type of its own in this folder, with explicit inputs; they share the
/// write buffer (`WriteBuffer`), the run's counters (`ScanCounters`), progress
/// (`ScanProgressState`) and whether to stop (`ScanControl`).
final class ScanSession: Sendable {
    let store: any CatalogueStore
    let runID: Int64
    let silos: [Silo]
    let options: ScanOptions
    let roots: [WalkRoot]
    let hooks: ScanEngine.TestHooks?
    let everySilo: [Silo]
    let cataloguedCounts: [Int64: Int]

    let diagnostics: DiagnosticCollector
    let counters: ScanCounters
    let progress: ScanProgressState
    let control: ScanControl
    let known: KnownTally
    let writes: WriteBuffer
    let pendingDiagnostics: Locked<[Diagnostic]>

    let reader: ReadStage
    let diff: FolderDiff
    let sameSize: SameSizeStage
    let imageHashes: ImageHashStage
    let manifests: ManifestStage
    /// `--profile`: where the run's time goes (nil: not profiling).
    let profiler: ScanProfiler?

    init(store: any CatalogueStore, runID: Int64, silos: [Silo], everySilo: [Silo], options: ScanOptions,
         progress: ScanEngine.ProgressHandler?, hooks: ScanEngine.TestHooks?, interruption: Interruption? = nil,
         known: KnownContents? = nil, profiler: ScanProfiler? = nil, fingerprinter: (any ImageFingerprinting)? = nil) throws {
        self.store = store; self.runID = runID; self.silos = silos; self.options = options
        self.hooks = hooks; self.everySilo = everySilo; self.profiler = profiler
        let control = ScanControl(interruption: interruption)
        self.control = control
        let knownTally = KnownTally(known)
        self.known = knownTally
        let cataloguedCounts = try store.fileCounts()
        self.cataloguedCounts = cataloguedCounts
        let silosWithSidecars = try store.silosWithSidecars()
        let silosWithUncatalogued = try store.silosWithUncatalogued()
        let verify = options.rehash ? [:] : try store.leastRecentlyVerified(siloIDs: silos.map(\.id), fraction: options.verifyFraction)
        let threads = max(1, options.jobs)
        let folders = PerWorker(try (0..<threads).map { _ in try store.makeFolderReader() })
        let hashers: PerWorker<FileHasher>
        do {
            hashers = PerWorker(try (0..<threads).map { _ in try FileHasher() })
        } catch {
            throw ScanError.hasherUnavailable("\(error)")
        }
        if let profiler {
            for worker in 0..<threads { hashers[worker].profile = profiler[worker] }
        }
        for worker in 0..<threads { hashers[worker].fingerprinter = fingerprinter }
        var roots: [WalkRoot] = []
        let extraExcludes = try options.excludes.map { try Glob($0) }
        let extraIncludes = try options.includes.map { try Glob($0) }
        for (index, silo) in silos.enumerated() {
            guard case .success(let fd) = Posix.openPath(silo.root, flags: O_RDONLY | O_DIRECTORY) else {
                for r in roots { close(r.rootFD) }
                throw ScanError.rootUnavailable(silo: silo.name, path: silo.root.display, errno: Errno(errno))
            }
            guard case .success(let st) = Posix.fstat(fd) else {
                close(fd)
                for r in roots { close(r.rootFD) }
                throw ScanError.rootUnavailable(silo: silo.name, path: silo.root.display, errno: Errno(errno))
            }
            let rules = FilterRules(excludes: try silo.excludes.map { try Glob($0) } + extraExcludes,
                                    includes: try silo.includes.map { try Glob($0) } + extraIncludes,
                                    useDefaultIgnores: options.useDefaultIgnores)
            roots.append(WalkRoot(index: index, silo: silo, realRoot: silo.root, rootFD: fd, rootID: st.fileID, rules: rules))
        }
        self.roots = roots
        // Every diagnostic goes to the catalogue (in batches); the first 10,000 also stay in memory.
        let pending = Locked<[Diagnostic]>([])
        self.pendingDiagnostics = pending
        let storeRef = store
        let diagnostics = DiagnosticCollector(limit: 10_000) { d in
            let batch: [Diagnostic]? = pending.withLock { p in
                p.append(d)
                guard p.count >= 500 else { return nil }
                defer { p = [] }
                return p
            }
            if let batch {
                do { try storeRef.record(batch, runID: runID) } catch { control.fail(error) }
            }
        }
        self.diagnostics = diagnostics
        let writes = WriteBuffer(store: store, runID: runID, profile: profiler?.writer,
                                 beforeApply: hooks?.beforeApply) { error in control.fail(error) }
        self.writes = writes
        let counters = ScanCounters(workers: threads, diagnostics: diagnostics)
        self.counters = counters
        let progressState = ScanProgressState(handler: progress, counters: counters)
        self.progress = progressState
        let report = FileReporter(diagnostics: diagnostics)

        // The stages, each given what it reads and writes.
        let links = HardLinkHashes(index: store, host: silos.first?.host)
        let reader = ReadStage(roots: roots, options: options, hashers: hashers,
                               gate: DeviceGate(rotationalReaders: options.rotationalJobs, readOrder: options.readOrder ?? .auto), beforeRead: hooks?.beforeRead,
                               writes: writes, counters: counters, known: knownTally, links: links, control: control,
                               report: report)
        self.reader = reader
        diff = FolderDiff(roots: roots, options: options, folders: folders, hashers: hashers, cataloguedCounts: cataloguedCounts,
                          silosWithSidecars: silosWithSidecars, silosWithUncatalogued: silosWithUncatalogued, verify: verify,
                          known: knownTally, links: links, reader: reader, writes: writes, counters: counters,
                          progress: progressState, control: control, diagnostics: diagnostics)
        sameSize = SameSizeStage(roots: roots, options: options, streams: store, hashers: hashers, reader: reader,
                                 writes: writes, counters: counters, progress: progressState, control: control, report: report)
        imageHashes = ImageHashStage(roots: roots, options: options, silos: silos, streams: store, sink: store,
                                     writes: writes, counters: counters, progress: progressState, control: control,
                                     profile: profiler)
        manifests = ManifestStage(roots: roots, options: options, runID: runID, sink: store, diagnostics: diagnostics,
                                  control: control)
    }

    deinit {
        for r in roots { close(r.rootFD) }
    }

    // MARK: - Running

    func run() throws -> ScanResult {
        defer { writes.close() }
        try store.beginWalk(runID: runID)
        // A first scan of these silos loads every file: build the covering indexes once at the
        // end rather than inserting into them file by file.
        let bulk = silos.allSatisfy { (cataloguedCounts[$0.id] ?? 0) == 0 }
            && cataloguedCounts.values.reduce(0, +) < 2_000_000
        if bulk { try store.deferIndexes() }
        announceNestedSilos()
        let ticker = progress.startTicker()
        defer { ticker?.cancel() }

        // Walk; each folder is diffed against the catalogue's, and what changed is read.
        try walk()
        // Files not seen are missing (or excluded), unless the walk could not conclude.
        try finishWalk()
        if options.readMetadata { manifests.run() }
        hooks?.afterWalk?()
        // `--hash dupes`: only files whose size another file shares are read.
        if options.hashMode == .dupes {
            _ = try store.fillEmptyHashes(siloIDs: silos.map(\.id))
            progress.setPhase(.hashing)
            try sameSize.run()
            try control.checkInterrupted()
        }
        if options.readMetadata { try imageHashes.run() }
        return try record(bulk: bulk)
    }

    /// Walks every silo: the walk lists folders, the folder diff compares each with the
    /// catalogue and queues reads, the read stage reads them on the same workers.
    private func walk() throws {
        progress.setPhase(.walking)
        let (catalogueDir, catalogueNames) = catalogueFolder()
        let walker = Walker(
            roots: roots, followSymlinks: options.followSymlinks, otherSiloRoots: otherSiloRoots(),
            siloRealRoots: everySilo.map { ($0.name, $0.root) }, catalogueFolder: catalogueDir,
            catalogueNames: catalogueNames, threads: max(1, options.jobs), visitor: diff,
            diagnostics: diagnostics, counters: counters, stop: { [control] in control.interruption?.isRequested == true },
            profile: profiler)
        walker.run()
        progress.finishWalk()
        writes.flush()
        try control.checkFatal()
        // An interrupted walk did not see every folder: nothing may be concluded missing.
        try control.checkInterrupted()
    }

    private func finishWalk() throws {
        let concluded = silos.indices.filter { i in !diff.inconclusive.withLock { $0.contains(i) } }.map { silos[$0].id }
        let (missing, excluded) = try store.finishWalk(runID: runID, siloIDs: concluded)
        counters.shared.add { $0.filesMissing += missing; $0.filesExcluded += excluded }
    }

    /// Everything written, the indexes back, the diagnostics recorded: the run's result.
    private func record(bulk: Bool) throws -> ScanResult {
        progress.setPhase(.finishing)
        writes.close()
        if bulk { try store.restoreIndexes() }
        flushDiagnostics()
        try control.checkFatal()
        progress.setPhase(.done)

        let counts = currentCounts()
        let status: RunStatus = (counts.warnings + counts.errors) > 0 ? .warnings : .ok
        var result = ScanResult(runID: runID, status: status, counts: counts, silos: diff.perSilo.withLock { $0 },
                                diagnostics: diagnostics.diagnostics, diagnosticCount: diagnostics.total,
                                elapsed: Date().timeIntervalSince(progress.started))
        result.knownTaken = known.taken.load(ordering: .relaxed)
        result.knownRead = known.read.load(ordering: .relaxed)
        result.knownSeen = known.seen.load(ordering: .relaxed)
        result.knownDiffering = known.differing.value.sorted()
        return result
    }

    /// The run's counts so far (also what an interrupted run is recorded with).
    func currentCounts() -> RunCounts { counters.snapshot() }

    // MARK: - Silos inside silos, and the catalogue's own files

    /// Roots of other silos that lie inside a silo being walked: skipped there, said once.
    private func otherSiloRoots() -> [FileID: String] {
        var out: [FileID: String] = [:]
        for silo in everySilo {
            if case .success(let st) = Posix.stat(silo.root) { out[st.fileID] = silo.name }
        }
        return out
    }

    private func announceNestedSilos() {
        for outer in roots {
            for inner in everySilo where inner.name != outer.silo.name && outer.realRoot.contains(inner.root) {
                diagnostics.report(Diagnostic(.note, .nestedSilo, silo: outer.silo.name, path: nil,
                    message: "silo '\(inner.name)' (\(inner.root.display)) lies inside this silo; its files are catalogued under '\(inner.name)' only"))
            }
        }
    }

    /// The folder and file names of the catalogue itself (its side files too, as its location
    /// names them), in case it sits inside a silo. A catalogue on a server has none.
    private func catalogueFolder() -> (FileID?, Set<[UInt8]>) {
        guard let file = store.location.ownFiles.first else { return (nil, []) }
        let parentBytes = file.bytes.lastIndex(of: 0x2F).map { Array(file.bytes[..<max($0, 1)]) } ?? [0x2F]
        guard case .success(let st) = Posix.stat(FilePath(bytes: parentBytes)) else { return (nil, []) }
        // Side files lie beside the catalogue file (its name with a suffix).
        return (st.fileID, Set(store.location.ownFiles.map(\.lastComponent)))
    }

    // MARK: - Diagnostics

    private func flushDiagnostics() {
        let rest = pendingDiagnostics.withLock { p -> [Diagnostic] in defer { p = [] }; return p }
        do { try store.record(rest, runID: runID) } catch { control.fail(error) }
    }
}
