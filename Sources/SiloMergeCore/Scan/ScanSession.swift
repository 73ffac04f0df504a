import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file to read, and what to do with the result.
struct ReadJob: Sendable {
    enum Kind: Sendable {
        /// Hash the whole file (and inspect its metadata when `inspect`).
        case full
        /// Only its metadata: the hash is known, or not wanted (`--hash dupes`).
        case metadata
    }
    enum Completion: Sendable {
        /// A new or changed file found by the walk: written to the catalogue with its hash.
        case store(FileRow, replacing: StoredEntry?)
        /// A catalogued file whose identity has not changed.
        case update(id: Int64, previous: SHA256Digest?)
    }
    let root: Int
    let path: RelativePath
    let expected: FileStat
    let kind: Kind
    var inspect = false
    let completion: Completion
    /// A file of known content (see `KnownFile`) that is not as recorded: the content it
    /// should hold, and why it is read.
    var known: (sha256: SHA256Digest, why: String)? = nil
}

/// Collects catalogue writes from many threads and applies them on one writer thread, so
/// walkers and readers never wait for SQLite. The writer takes everything pending each time
/// it is free: when SQLite is the slower side, transactions grow and each page of the
/// catalogue is written once for many files instead of once per file. Producers wait only
/// when `maxPending` writes are queued, which keeps memory bounded.
///
/// `@unchecked Sendable`: `pending`, `writing` and `stopped` are only touched while `lock` is held.
final class WriteBuffer: @unchecked Sendable {
    private let lock = ConditionLock()
    private var pending: [CatalogueWrite] = []
    private var writing = false
    private var stopped = false
    private let store: any CatalogueStore
    private let runID: Int64
    private let minimumBatch: Int
    private let maxPending: Int
    private let onError: @Sendable (any Error) -> Void
    private let done = DispatchSemaphore(value: 0)

    init(store: any CatalogueStore, runID: Int64, minimumBatch: Int = 512, maxPending: Int = 20_000,
         onError: @escaping @Sendable (any Error) -> Void) {
        self.store = store; self.runID = runID; self.minimumBatch = minimumBatch; self.maxPending = maxPending
        self.onError = onError
        let thread = Thread { [self] in writerLoop() }
        thread.name = "silomerge-catalogue-writer"
        thread.start()
    }

    func add(_ write: CatalogueWrite) {
        lock.lock()
        while pending.count >= maxPending && !stopped { lock.wait(.notFull) }
        pending.append(write)
        if pending.count == minimumBatch { lock.signal(.notEmpty) }
        lock.unlock()
    }

    /// Returns once everything added so far is in the catalogue.
    func flush() {
        lock.lock()
        flushRequests += 1
        lock.signal(.notEmpty)
        while !pending.isEmpty || writing { lock.wait(.notFull) }
        flushRequests -= 1
        lock.unlock()
    }

    /// Flushes, then stops the writer thread (once; later calls return at once).
    func close() {
        flush()
        lock.lock()
        if stopped { lock.unlock(); return }
        stopped = true
        lock.broadcast(.notEmpty)
        lock.broadcast(.notFull)
        lock.unlock()
        done.wait()
    }

    private var flushRequests = 0

    private func writerLoop() {
        while true {
            lock.lock()
            // Wait for a worthwhile batch, unless somebody is waiting for a flush.
            while !stopped && (pending.isEmpty || (pending.count < minimumBatch && flushRequests == 0)) {
                lock.wait(.notEmpty)
            }
            if pending.isEmpty && stopped { lock.unlock(); done.signal(); return }
            var batch = pending
            pending = []
            writing = true
            lock.broadcast(.notFull)
            lock.unlock()
            // Hash results for files already catalogued, in row order: neighbouring rows share pages.
            if batch.contains(where: { if case .hashed = $0 { true } else { false } }) {
                var others: [CatalogueWrite] = []
                var hashed: [(Int64, CatalogueWrite)] = []
                for w in batch {
                    if case .hashed(let id, _, _) = w { hashed.append((id, w)) } else { others.append(w) }
                }
                hashed.sort { $0.0 < $1.0 }
                batch = others + hashed.map(\.1)
            }
            do { try store.apply(batch, runID: runID) } catch { onError(error) }
            lock.lock()
            writing = false
            lock.broadcast(.notFull)
            lock.unlock()
        }
    }
}

/// One object per worker thread (folder readers, file hashers).
///
/// `@unchecked Sendable`: element `i` is only ever used by the `DispatchQueue.concurrentPerform`
/// iteration with index `i`, and no index runs on two threads at once.
final class PerWorker<Element>: @unchecked Sendable {
    private let elements: [Element]
    init(_ elements: [Element]) { self.elements = elements }
    subscript(worker: Int) -> Element { elements[worker] }
}

/// One scan in progress. Created by `ScanEngine.scan`, used once.
final class ScanSession: WalkVisitor, Sendable {
    let store: any CatalogueStore
    let runID: Int64
    let silos: [Silo]
    let options: ScanOptions
    let roots: [WalkRoot]
    let progressHandler: ScanEngine.ProgressHandler?
    let hooks: ScanEngine.TestHooks?
    let interruption: Interruption?
    let everySilo: [Silo]
    let cataloguedCounts: [Int64: Int]
    let readers: PerWorker<any FolderReader>
    let hashers: PerWorker<FileHasher>
    let gate: DeviceGate

    let diagnostics: DiagnosticCollector
    let walkCounters = WalkCounters()
    let filesNew = Atomic<Int>(0)
    let filesChanged = Atomic<Int>(0)
    let filesUnchanged = Atomic<Int>(0)
    let filesMissing = Atomic<Int>(0)
    let filesExcluded = Atomic<Int>(0)
    let hashesReused = Atomic<Int>(0)
    let filesRead = Atomic<Int>(0)
    let bytesRead = Atomic<Int64>(0)
    let filesQueued = Atomic<Int>(0)
    let bytesQueued = Atomic<Int64>(0)
    let walkFinished = Atomic<Bool>(false)
    let phase = Mutex<ScanProgress.Phase>(.walking)
    let perSilo: Mutex<[SiloScanSummary]>
    /// Silos whose walk may not conclude that files vanished (root unreadable, or suspiciously empty).
    let inconclusive = Mutex<Set<Int>>([])
    let fatal = Locked<String?>(nil)
    let linkCache = Mutex<[FileID: SHA256Digest]>([:])
    let pendingDiagnostics = Locked<[Diagnostic]>([])
    /// Silos with sidecars in the catalogue: only their folders need a sidecar lookup.
    let silosWithSidecars: Set<Int64>
    /// Silos with uncatalogued entries recorded: only their folders need those rows replaced
    /// when they hold none now.
    let silosWithUncatalogued: Set<Int64>
    /// Unchanged files to read again this run (`verifyFraction`), with their stored hashes.
    let verify: [Int64: SHA256Digest]
    let filesVerified = Atomic<Int>(0)
    /// Files whose content is known without reading (`ScanEngine.scan(_:options:known:)`).
    let known: KnownContents?
    let knownTaken = Atomic<Int>(0)
    let knownRead = Atomic<Int>(0)
    let knownSeen = Atomic<Int>(0)
    let knownDiffering = Locked<[RelativePath]>([])
    let metadataRead = Atomic<Int>(0)
    let sidecarsRead = Atomic<Int>(0)
    let started = Date()
    private let writesBox = Mutex<WriteBuffer?>(nil)

    var writes: WriteBuffer { writesBox.withLock { $0! } }

    init(store: any CatalogueStore, runID: Int64, silos: [Silo], everySilo: [Silo], options: ScanOptions,
         progress: ScanEngine.ProgressHandler?, hooks: ScanEngine.TestHooks?, interruption: Interruption? = nil,
         known: KnownContents? = nil) throws {
        self.store = store; self.runID = runID; self.silos = silos; self.options = options
        self.known = known
        self.progressHandler = progress; self.hooks = hooks; self.everySilo = everySilo
        self.interruption = interruption
        self.cataloguedCounts = try store.fileCounts()
        self.silosWithSidecars = try store.silosWithSidecars()
        self.silosWithUncatalogued = try store.silosWithUncatalogued()
        self.verify = options.rehash ? [:] : try store.leastRecentlyVerified(siloIDs: silos.map(\.id), fraction: options.verifyFraction)
        let threads = max(1, options.jobs)
        self.readers = PerWorker(try (0..<threads).map { _ in try store.makeFolderReader() })
        do {
            self.hashers = PerWorker(try (0..<threads).map { _ in try FileHasher() })
        } catch {
            throw ScanError.hasherUnavailable("\(error)")
        }
        self.gate = DeviceGate(rotationalReaders: options.rotationalJobs)
        self.perSilo = Mutex(silos.map { SiloScanSummary(name: $0.name, root: $0.root, files: 0, bytes: 0, directories: 0) })
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
        let pending = pendingDiagnostics
        let storeRef = store
        let fatalRef = fatal
        self.diagnostics = DiagnosticCollector(limit: 10_000) { d in
            let batch: [Diagnostic]? = pending.withLock { p in
                p.append(d)
                guard p.count >= 500 else { return nil }
                defer { p = [] }
                return p
            }
            if let batch {
                do { try storeRef.record(batch, runID: runID) } catch {
                    fatalRef.withLock { if $0 == nil { $0 = "\(error)" } }
                }
            }
        }
        let buffer = WriteBuffer(store: store, runID: runID) { [fatal] error in
            fatal.withLock { if $0 == nil { $0 = "\(error)" } }
        }
        writesBox.withLock { $0 = buffer }
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
        let ticker = startTicker()
        defer { ticker?.cancel() }

        setPhase(.walking)
        let (catalogueDir, catalogueNames) = catalogueFolder()
        let walker = Walker(
            roots: roots, followSymlinks: options.followSymlinks, otherSiloRoots: otherSiloRoots(),
            siloRealRoots: everySilo.map { ($0.name, $0.root) }, catalogueFolder: catalogueDir,
            catalogueNames: catalogueNames, threads: max(1, options.jobs), visitor: self,
            diagnostics: diagnostics, counters: walkCounters, stop: { [interruption] in interruption?.isRequested == true })
        walker.run()
        walkFinished.store(true, ordering: .relaxed)
        writes.flush()
        try checkFatal()
        // An interrupted walk did not see every folder: nothing may be concluded missing.
        try checkInterrupted()

        let concluded = silos.indices.filter { i in !inconclusive.withLock { $0.contains(i) } }.map { silos[$0].id }
        let (missing, excluded) = try store.finishWalk(runID: runID, siloIDs: concluded)
        filesMissing.add(missing, ordering: .relaxed)
        filesExcluded.add(excluded, ordering: .relaxed)
        if options.readMetadata { readManifests() }
        hooks?.afterWalk?()

        if options.hashMode == .dupes {
            _ = try store.fillEmptyHashes(siloIDs: silos.map(\.id))
            setPhase(.hashing)
            try compareSameSizeFiles()
            try checkInterrupted()
        }
        if options.readMetadata { try completeImageHashes() }
        setPhase(.finishing)
        writes.close()
        if bulk { try store.restoreIndexes() }
        flushDiagnostics()
        try checkFatal()
        setPhase(.done)

        let counts = currentCounts()
        let status: RunStatus = (counts.warnings + counts.errors) > 0 ? .warnings : .ok
        var result = ScanResult(runID: runID, status: status, counts: counts, silos: perSilo.withLock { $0 },
                                diagnostics: diagnostics.diagnostics, diagnosticCount: diagnostics.total,
                                elapsed: Date().timeIntervalSince(started))
        result.knownTaken = knownTaken.load(ordering: .relaxed)
        result.knownRead = knownRead.load(ordering: .relaxed)
        result.knownSeen = knownSeen.load(ordering: .relaxed)
        result.knownDiffering = knownDiffering.value.sorted()
        return result
    }

    /// Reads each scanned silo's CSV manifest (after the walk, so its rows can be matched with
    /// the catalogued files), streamed in bounded memory. A manifest unchanged since it was last
    /// read (same identity and mapping) of a silo where no file appeared or went is not read
    /// again (unless --rehash). Rows naming no file and rows without a usable path are each
    /// reported once per manifest: a count and the first few rows.
    private func readManifests() {
        for root in roots {
            guard let definition = root.silo.manifest else { continue }
            let file = definition.file.string ?? definition.file.display
            let silo = root.silo.name
            do {
                let identity = try ManifestReader.identity(definition)
                if !options.rehash, try store.manifestIsCurrent(siloID: root.silo.id, runID: runID, identity: identity) { continue }
                let outcome = try store.applyManifest(siloID: root.silo.id, runID: runID, identity: identity) { body in
                    try ManifestReader.read(definition, body)
                }
                let summary = outcome.summary
                if summary.encoding != "UTF-8" {
                    diagnostics.report(Diagnostic(.note, .manifest, silo: silo, path: nil,
                        message: "manifest \(file) is not UTF-8: read as \(summary.encoding)"))
                }
                if summary.skipped > 0 {
                    let sample = summary.skippedSample.map { "row \($0.row): \($0.reason)" }.joined(separator: "; ")
                    diagnostics.report(Diagnostic(.warning, .manifest, silo: silo, path: nil,
                        message: "manifest \(file): \(Format.count(summary.skipped)) \(summary.skipped == 1 ? "row was" : "rows were") skipped (\(sample)\(summary.skipped > summary.skippedSample.count ? "; …" : ""))"))
                }
                if outcome.unmatched > 0 {
                    // A note, not a warning: the scan itself is complete; the manifest is stale.
                    let sample = outcome.unmatchedSample.map { "row \($0.number): \($0.path.display)" }.joined(separator: "; ")
                    let more = outcome.unmatched > outcome.unmatchedSample.count ? "; … (the first \(outcome.unmatchedSample.count) shown)" : ""
                    diagnostics.report(Diagnostic(.note, .manifest, silo: silo, path: outcome.unmatched == 1 ? outcome.unmatchedSample.first?.path : nil,
                        message: "manifest \(file): \(Format.count(outcome.unmatched)) of \(Format.count(summary.rows)) \(summary.rows == 1 ? "row names" : "rows name") no catalogued file of silo '\(silo)' (\(sample)\(more))"))
                }
            } catch let error as ManifestError {
                diagnostics.report(Diagnostic(.error, .manifest, silo: silo, path: nil, message: error.description))
            } catch {
                fail(error)
            }
        }
    }

    func currentCounts() -> RunCounts {
        var c = RunCounts()
        c.files = walkCounters.files.load(ordering: .relaxed)
        c.bytes = walkCounters.bytes.load(ordering: .relaxed)
        c.directories = walkCounters.directories.load(ordering: .relaxed)
        c.filesNew = filesNew.load(ordering: .relaxed)
        c.filesChanged = filesChanged.load(ordering: .relaxed)
        c.filesUnchanged = filesUnchanged.load(ordering: .relaxed)
        c.filesMissing = filesMissing.load(ordering: .relaxed)
        c.filesExcluded = filesExcluded.load(ordering: .relaxed)
        c.filesHashed = filesRead.load(ordering: .relaxed)
        c.bytesHashed = bytesRead.load(ordering: .relaxed)
        c.hashesReused = hashesReused.load(ordering: .relaxed)
        c.skippedSpecial = walkCounters.special.load(ordering: .relaxed)
        c.skippedSymlinks = walkCounters.symlinks.load(ordering: .relaxed)
        c.ignored = walkCounters.ignored.load(ordering: .relaxed)
        c.warnings = diagnostics.count(.warning)
        c.errors = diagnostics.count(.error)
        return c
    }

    private func checkFatal() throws {
        if let message = fatal.withLock({ $0 }) { throw ScanError.aborted(message) }
    }

    private func checkInterrupted() throws {
        if let signal = interruption?.signal { throw ScanError.interrupted(signal: signal) }
    }

    private func fail(_ error: any Error) {
        fatal.withLock { if $0 == nil { $0 = "\(error)" } }
    }

    /// Stop working: a fatal error, or a request to stop.
    private var failed: Bool { fatal.withLock { $0 != nil } || interruption?.isRequested == true }

    // MARK: - Readers

    /// `--hash dupes`: groups of same-size files are read side by side, a group per worker.
    /// First the quick hash of each file's ends sorts a group into smaller ones; then files
    /// still alike are compared whole, and each duplicated content is hashed once (see
    /// `FileHasher.classify`). A file whose size or ends no other file shares is never hashed.
    private func compareSameSizeFiles() throws {
        let rootIndex = Dictionary(uniqueKeysWithValues: roots.map { ($0.silo.id, $0.index) })
        let groups = BoundedQueue<[CandidateFile]>(capacity: 64)
        let streamError = Locked<(any Error)?>(nil)
        let producer = Thread { [self] in
            defer { groups.close() }
            do {
                try store.forEachSizeGroup { group in
                    // Only groups with a file of this scan that is not hashed yet (or, with
                    // --rehash, any file of this scan) need reading.
                    guard group.contains(where: { rootIndex[$0.siloID] != nil && ($0.sha256 == nil || options.rehash) }) else {
                        return !failed
                    }
                    filesQueued.add(group.count, ordering: .relaxed)
                    bytesQueued.add(group.reduce(0) { $0 + $1.stat.size }, ordering: .relaxed)
                    return groups.push(group) && !failed
                }
            } catch {
                streamError.withLock { $0 = error }
            }
        }
        producer.name = "silomerge-size-groups"
        producer.start()
        DispatchQueue.concurrentPerform(iterations: max(1, options.jobs)) { worker in
            while let group = groups.pop() {
                if failed { continue }
                compare(group, rootIndex: rootIndex, hasher: hashers[worker])
            }
        }
        if let error = streamError.value { throw error }
        writes.flush()
        try checkFatal()
    }

    /// The whole image hash of each picture that another file with other bytes may share (the
    /// same image-data prefix; see `ImageHashing`). The walk hashed only the first 64 KiB of
    /// every picture's image data, so a silo of photos is not hashed twice; here the few files
    /// that can be "the same picture, different metadata" are read again, each content once.
    /// A file that changed or vanished since the walk keeps no image hash (the next scan reads it).
    private func completeImageHashes() throws {
        writes.flush()
        try checkFatal()
        let candidates = try store.imageHashCandidates(siloIDs: silos.map(\.id))
        guard !candidates.isEmpty else { return }
        setPhase(.hashing)
        let rootIndex = Dictionary(uniqueKeysWithValues: roots.map { ($0.silo.id, $0.index) })
        var byContent: [String: [ImageHashCandidate]] = [:]
        for c in candidates { byContent[c.sha256?.hex ?? "file:\(c.fileID)", default: []].append(c) }
        let groups = Array(byContent.values)
        let results = Mutex<[(fileID: Int64, digest: SHA256Digest)]>([])
        let workers = max(1, min(options.jobs, groups.count))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var i = worker
            while i < groups.count, !failed {
                let group = groups[i]
                for c in group {
                    guard let r = rootIndex[c.siloID], let digest = imageHash(c, rootFD: roots[r].rootFD) else { continue }
                    results.withLock { $0 += group.map { (fileID: $0.fileID, digest: digest) } }
                    break
                }
                i += workers
            }
        }
        try store.setImageHashes(results.withLock { $0 })
    }

    private func imageHash(_ c: ImageHashCandidate, rootFD: Int32) -> SHA256Digest? {
        var flags = O_RDONLY | O_NONBLOCK | O_NOCTTY
        if !options.followSymlinks { flags |= O_NOFOLLOW }
        guard case .success(let fd) = Posix.openAt(rootFD, c.path, flags: flags) else { return nil }
        defer { close(fd) }
        guard case .success(let st) = Posix.fstat(fd), st.kind == .regular, st.size == c.size, st.mtimeNs == c.mtimeNs else { return nil }
        let digest = try? ImageDataHash.compute(FileByteSource(fd: fd, size: st.size), format: c.format)
        bytesRead.add(st.size, ordering: .relaxed)
        return digest ?? nil
    }

    private func compare(_ group: [CandidateFile], rootIndex: [Int64: Int], hasher: FileHasher) {
        // Files of silos not scanned now cannot be read (their roots are not open): files that
        // might equal one of them are hashed, to be compared by hash.
        var readable: [GroupMember] = []
        var rootOf: [Int64: Int] = [:]
        var outside = false
        for file in group {
            guard let i = rootIndex[file.siloID] else {
                // Hashed or not, it may equal a file here: hash these, so that whichever
                // silo is scanned later can tell.
                outside = true
                continue
            }
            rootOf[file.fileID] = i
            readable.append(GroupMember(fileID: file.fileID, rootFD: roots[i].rootFD, silo: roots[i].silo.name,
                                        path: file.path, stat: file.stat, known: options.rehash ? nil : file.sha256,
                                        follow: options.followSymlinks))
        }
        let previous = Dictionary(uniqueKeysWithValues: group.map { ($0.fileID, $0.sha256) })
        let onBytes: (Int) -> Void = { self.bytesRead.add(Int64($0), ordering: .relaxed) }
        func record(_ member: GroupMember, _ outcome: GroupOutcome) {
            switch outcome {
            case .unique:
                break
            case .digest(let digest):
                if member.known == digest { hashesReused.add(1, ordering: .relaxed); return }
                let before = previous[member.fileID] ?? nil
                if let before, before != digest {
                    report(.error, .contentChanged, roots[rootOf[member.fileID]!], member.path,
                           "content changed although size and mtime did not (was \(before.hex.prefix(12))…, now \(digest.hex.prefix(12))…): possible corruption")
                }
                writes.add(.hashed(id: member.fileID, sha256: digest, previous: before))
            case .failed(let failure):
                let job = ReadJob(root: rootOf[member.fileID]!, path: member.path, expected: member.stat, kind: .full,
                                  completion: .update(id: member.fileID, previous: previous[member.fileID] ?? nil))
                describe(failure, job: job, root: roots[job.root])
            }
        }
        if let hook = hooks?.beforeRead {
            readable = readable.filter { m in
                guard let code = hook(m.silo, m.path) else { return true }
                record(m, .failed(code == ENOENT ? .vanished : .unreadable(Errno(code), during: "open")))
                return false
            }
        }
        // Physical copies: hard links to one inode are read once.
        var byInode: [FileID: [GroupMember]] = [:]
        for m in readable { byInode[m.stat.fileID, default: []].append(m) }
        let representatives = byInode.values.map { $0[0] }
        var classes: [[GroupMember]]
        if outside || readable.count < 2 {
            classes = [representatives]
        } else {
            // Split by the quick hash of both ends (the whole file when it is small).
            var split: [UInt64: [GroupMember]] = [:]
            for m in representatives {
                switch hasher.quick(m, spec: options.partial, onBytes: onBytes) {
                case .success(let (h, _)): split[h, default: []].append(m)
                case .failure(let f):
                    for link in byInode[m.stat.fileID] ?? [] { record(link, .failed(f)) }
                }
            }
            classes = Array(split.values)
        }
        for candidates in classes {
            let outcomes: [GroupOutcome]
            if candidates.count < 2 && !outside {
                // Alone after the quick hash: unique, unless a hard-linked sibling makes it
                // worth nothing to know either.
                outcomes = candidates.map { _ in .unique }
            } else {
                outcomes = hasher.classify(candidates, hashSingles: outside, onBytes: onBytes)
            }
            for (m, outcome) in zip(candidates, outcomes) {
                filesRead.add(1, ordering: .relaxed)
                for link in byInode[m.stat.fileID] ?? [m] { record(link, outcome) }
            }
        }
    }

    func read(_ jobs: [ReadJob], worker: Int) {
        let hasher = hashers[worker]
        for job in jobs where !failed {
            gate.withDevice(job.expected.device) { perform(job, hasher: hasher) }
        }
    }

    /// Reads one file and records what came of it.
    private func perform(_ job: ReadJob, hasher: FileHasher) {
        let root = roots[job.root]
        let siloName = root.silo.name
        // digest is nil for a metadata-only read.
        var outcome: Result<(SHA256Digest?, FileStat, ContentInfo?), ReadFailure>
        if let code = hooks?.beforeRead?(siloName, job.path) {
            outcome = .failure(code == ENOENT ? .vanished : .unreadable(Errno(code), during: "open"))
        } else {
            switch job.kind {
            case .full:
                outcome = hasher.hashFull(rootFD: root.rootFD, path: job.path, followSymlinks: options.followSymlinks,
                                          inspect: job.inspect, scanForXMP: options.scanForXMP) {
                    self.bytesRead.add(Int64($0), ordering: .relaxed)
                }.map { ($0.digest, $0.stat, $0.content) }
            case .metadata:
                outcome = hasher.inspect(rootFD: root.rootFD, path: job.path, followSymlinks: options.followSymlinks,
                                         scanForXMP: options.scanForXMP)
                    .map { (nil, $0.0, $0.1) }
            }
        }
        if job.kind == .full { filesRead.add(1, ordering: .relaxed) }
        if case .success(let (_, _, content?)) = outcome {
            metadataRead.add(1, ordering: .relaxed)
            for problem in content.problems {
                report(.note, .metadata, root, job.path, "metadata: \(problem)")
            }
        }

        switch (outcome, job.completion) {
        case (.success(let (digest, stat, content)), .store(var row, let replacing)):
            // A new or changed file: record what was actually read.
            if let expected = job.known, let digest {
                if digest != expected.sha256 {
                    knownDiffering.withLock { $0.append(job.path) }
                    report(.warning, .mergeDiffers, root, job.path,
                           "not the content the plan's apply placed and verified here (SHA-256 \(expected.sha256.hex.prefix(12))…, now \(digest.hex.prefix(12))…): \(expected.why); catalogued as it is now")
                } else {
                    report(.note, .mergeDiffers, root, job.path, "read: \(expected.why), and the content is the one the apply verified")
                }
            }
            if digest == nil, row.sha256 != nil, !stat.sameIdentity(as: job.expected) {
                // A hash taken without reading (a hard link's, a known file's) is only good for
                // the file as listed: this one changed since.
                row.sha256 = nil; row.hashedAt = nil
                report(.warning, .changedDuringScan, root, job.path, "changed since it was listed; it will be read again on the next scan")
            }
            row.stat = stat
            if let digest {
                row.sha256 = digest
                row.hashedAt = Date()
                if stat.linkCount > 1 { linkCache.withLock { $0[stat.fileID] = digest } }
            }
            row.content = content
            writes.add(.upsert(row, replacing: replacing))

        case (.success(let (digest, stat, content)), .update(let id, let previous)):
            guard stat.sameIdentity(as: job.expected) else {
                report(.warning, .changedDuringScan, root, job.path,
                       "changed since it was listed; it will be read again on the next scan")
                return
            }
            if let digest {
                if let previous, digest != previous {
                    report(.error, .contentChanged, root, job.path,
                           "content changed although size and mtime did not (was \(previous.hex.prefix(12))…, now \(digest.hex.prefix(12))…): possible corruption")
                }
                writes.add(.hashed(id: id, sha256: digest, previous: previous))
            }
            if let content { writes.add(.content(id: id, content, mtimeNs: stat.mtimeNs)) }

        case (.failure(let failure), _):
            describe(failure, job: job, root: root)
        }
    }

    private func describe(_ failure: ReadFailure, job: ReadJob, root: WalkRoot) {
        let dir = job.path.parent
        let name = Array(job.path.lastComponent)
        switch failure {
        case .vanished, .notRegular:
            if case .notRegular(let kind) = failure {
                report(.warning, .specialFile, root, job.path, "is now a \(kind.label); skipped without opening it")
            } else {
                report(.warning, .vanished, root, job.path, "vanished before it could be read")
            }
            switch job.completion {
            case .store(_, let replacing):
                if let replacing {
                    writes.add(.remove(replacing, siloID: root.silo.id, dir: dir, reason: .missing))
                    filesMissing.add(1, ordering: .relaxed)
                }
            case .update(let id, let previous):
                writes.add(.remove(StoredEntry(id: id, name: name, stat: job.expected, hasHash: previous != nil, sha256: previous),
                                   siloID: root.silo.id, dir: dir, reason: .missing))
                filesMissing.add(1, ordering: .relaxed)
            }
        case .unreadable(let e, let during):
            report(.warning, .unreadable, root, job.path, "cannot \(during == "read" ? "read" : "open") it: \(e)", errno: e.code)
            if case .store(let row, let replacing) = job.completion {
                // It exists: catalogue it without a hash, so it is not taken for gone.
                writes.add(.upsert(row, replacing: replacing))
            }
        case .changedWhileReading:
            report(.warning, .changedWhileReading, root, job.path,
                   "changed while it was being read; not hashed this time")
            if case .store(let row, let replacing) = job.completion {
                writes.add(.upsert(row, replacing: replacing))
            }
        }
    }

    private func report(_ severity: Diagnostic.Severity, _ code: Diagnostic.Code, _ root: WalkRoot, _ path: RelativePath,
                        _ message: String, errno: Int32? = nil) {
        diagnostics.report(Diagnostic(severity, code, silo: root.silo.name, path: path, errno: errno, message: message))
    }

    // MARK: - Walk visitor

    func visit(_ listing: DirectoryListing, worker: Int) -> [ReadJob] {
        guard !failed else { return [] }
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
        do {
            stored = try readers[worker].entries(siloID: siloID, dir: listing.dir, withHashes: options.rehash)
                .sorted { $0.name.lexicographicallyPrecedes($1.name) }
            if hasXMP || silosWithSidecars.contains(siloID) {
                for sc in try readers[worker].sidecars(siloID: siloID, dir: listing.dir) {
                    storedSidecars[sc.assetName, default: []].append(sc)
                }
            }
        } catch {
            fail(error)
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
            return sidecarContent(root: root, path: listing.dir.appending(name))
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
        if let k = known, k.silo == root.silo.name {
            let seen = listing.files.reduce(0) { $0 + (k.files[listing.dir.appending($1.name)] != nil ? 1 : 0) }
            if seen > 0 { knownSeen.add(seen, ordering: .relaxed) }
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
            return attached.compactMap { a in readSidecar(a, root: root, dir: listing.dir, stat: statsByName[a.name], hasher: hashers[worker]) }
        }
        var reads: [ReadJob] = []
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
                handleExisting(files[i], stored[j], sidecars: sidecars, root: root, dir: listing.dir, reads: &reads)
                i += 1; j += 1
            case -1:
                filesNew.add(1, ordering: .relaxed)
                let sidecars = sidecarUpdate(for: files[i].name, forceRead: true)
                handleNew(files[i], replacing: nil, sidecars: sidecars, root: root, dir: listing.dir, reads: &reads)
                i += 1
            default:
                let name = stored[j].name
                let reason: ChangeKind = listing.excludedNames.contains(name) || plan.sidecars.contains(name)
                    || plan.excludedSidecars.contains(name) ? .excluded : .missing
                if reason == .missing { filesMissing.add(1, ordering: .relaxed) } else { filesExcluded.add(1, ordering: .relaxed) }
                writes.add(.remove(stored[j], siloID: siloID, dir: listing.dir, reason: reason))
                j += 1
            }
        }
        writes.add(.visitedDirectory(siloID: siloID, dir: listing.dir))
        for r in reads where r.kind == .full {
            filesQueued.add(1, ordering: .relaxed)
            bytesQueued.add(r.expected.size, ordering: .relaxed)
        }
        return reads
    }

    /// Whether a sidecar is read: for its values (metadata on; overridden sidecars too, so their
    /// drift is found — their values are kept per sidecar and never reconciled), and with
    /// `--hash full` for its SHA-256 alone, so a plan can carry it verified.
    private func readsSidecar(_ a: SidecarPlan.Attachment) -> Bool {
        options.readMetadata || options.hashMode == .full
    }

    /// What a `.xmp` file beside an asset holds, from its first 4 KiB (see `SidecarPlan`).
    private func sidecarContent(root: WalkRoot, path: RelativePath) -> SidecarPlan.Content {
        let flags = O_RDONLY | O_NONBLOCK | (options.followSymlinks ? 0 : O_NOFOLLOW)
        guard case .success(let fd) = Posix.openAt(root.rootFD, path, flags: flags) else { return .unknown }
        defer { close(fd) }
        guard case .success(let st) = Posix.fstat(fd), st.kind == .regular else { return .unknown }
        var head = [UInt8](repeating: 0, count: 4096)
        let got = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard got >= 0 else { return .unknown }
        return SidecarPlan.classify(head: Array(head.prefix(got)))
    }

    /// Reads an XMP sidecar (never more than 16 MiB); a sidecar that cannot be read is
    /// recorded without values and reported.
    private func readSidecar(_ a: SidecarPlan.Attachment, root: WalkRoot, dir: RelativePath, stat: FileStat?,
                             hasher: FileHasher) -> SidecarRecord? {
        guard let stat else { return nil }
        let path = dir.appending(a.name)
        guard readsSidecar(a) else {
            return SidecarRecord(name: a.name, stat: stat, form: a.form, used: a.used, sha256: nil, values: [])
        }
        // A sidecar the apply of a plan placed and verified: its hash is known; it is read
        // only for its values (metadata on), or when it is not as the apply left it.
        let recorded = known.flatMap { $0.silo == root.silo.name ? $0.files[path] : nil }
        if let recorded, recorded.matches(stat), !options.readMetadata {
            knownTaken.add(1, ordering: .relaxed)
            return SidecarRecord(name: a.name, stat: stat, form: a.form, used: a.used, sha256: recorded.sha256, values: [], valuesRead: false)
        }
        switch hasher.readSmall(rootFD: root.rootFD, path: path, limit: 16 << 20) {
        case .success(let (bytes, st, digest)):
            sidecarsRead.add(1, ordering: .relaxed)
            if let recorded {
                if recorded.matches(st) { knownTaken.add(1, ordering: .relaxed) } else { knownRead.add(1, ordering: .relaxed) }
                if digest != recorded.sha256 {
                    knownDiffering.withLock { $0.append(path) }
                    report(.warning, .mergeDiffers, root, path,
                           "sidecar: not the content the plan's apply placed and verified here (SHA-256 \(recorded.sha256.hex.prefix(12))…, now \(digest.hex.prefix(12))…): \(recorded.differences(from: st)) since \(recorded.origin) placed it; catalogued as it is now")
                }
            }
            guard options.readMetadata else {
                return SidecarRecord(name: a.name, stat: st, form: a.form, used: a.used, sha256: digest, values: [], valuesRead: false)
            }
            let (values, problems) = MetadataReader.readSidecar(bytes)
            for p in problems { report(.note, .metadata, root, path, "sidecar: \(p)") }
            return SidecarRecord(name: a.name, stat: st, form: a.form, used: a.used, sha256: digest, values: values)
        case .failure(let failure):
            switch failure {
            case .vanished: report(.warning, .vanished, root, path, "sidecar vanished before it could be read")
            case .notRegular(let kind): report(.warning, .specialFile, root, path, "sidecar is a \(kind.label); skipped")
            case .unreadable(let e, _):
                report(.warning, .unreadable, root, path, e.code == EFBIG ? "sidecar larger than 16 MiB; not read" : "cannot read sidecar: \(e)", errno: e.code)
            case .changedWhileReading: report(.warning, .changedWhileReading, root, path, "sidecar changed while it was read")
            }
            return SidecarRecord(name: a.name, stat: stat, form: a.form, used: a.used, sha256: nil, values: [])
        }
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
                                dir: RelativePath, reads: inout [ReadJob]) {
        guard file.stat.sameIdentity(as: stored.stat) else {
            filesChanged.add(1, ordering: .relaxed)
            // The row is rewritten: its sidecars go with it (an empty list clears them).
            handleNew(file, replacing: stored, sidecars: sidecars, root: root, dir: dir, reads: &reads)
            return
        }
        filesUnchanged.add(1, ordering: .relaxed)
        let path = dir.appending(file.name)
        let wantsMetadata = options.readMetadata && (!stored.metadataRead || options.rehash) && file.stat.size > 0
        if let expected = verify[stored.id], file.stat.size > 0 {
            filesVerified.add(1, ordering: .relaxed)
            reads.append(ReadJob(root: root.index, path: path, expected: file.stat, kind: .full, inspect: wantsMetadata,
                                 completion: .update(id: stored.id, previous: expected)))
        } else if options.hashMode == .full && (!stored.hasHash || options.rehash) && file.stat.size > 0 {
            reads.append(ReadJob(root: root.index, path: path, expected: file.stat, kind: .full, inspect: wantsMetadata,
                                 completion: .update(id: stored.id, previous: stored.sha256)))
        } else {
            if stored.hasHash { hashesReused.add(1, ordering: .relaxed) }
            if wantsMetadata {
                reads.append(ReadJob(root: root.index, path: path, expected: file.stat, kind: .metadata, inspect: true,
                                     completion: .update(id: stored.id, previous: nil)))
            }
        }
    }

    private func handleNew(_ file: ListedFile, replacing: StoredEntry?, sidecars: [SidecarRecord]?, root: WalkRoot,
                           dir: RelativePath, reads: inout [ReadJob]) {
        var row = FileRow(siloID: root.silo.id, dir: dir, name: file.name, stat: file.stat)
        row.sidecars = sidecars
        let path = dir.appending(file.name)
        if file.stat.size == 0 {
            if let k = known, k.silo == root.silo.name, let recorded = k.files[path] {
                // Nothing to read either way; an empty file where the apply placed content is flagged.
                if recorded.matches(file.stat) { knownTaken.add(1, ordering: .relaxed) } else { knownRead.add(1, ordering: .relaxed) }
                if recorded.sha256 != .empty {
                    knownDiffering.withLock { $0.append(path) }
                    report(.warning, .mergeDiffers, root, path,
                           "not the content the plan's apply placed and verified here (SHA-256 \(recorded.sha256.hex.prefix(12))…): it is empty now (\(recorded.differences(from: file.stat)) since \(recorded.origin) placed it); catalogued as it is now")
                }
            }
            row.sha256 = .empty; row.hashedAt = Date()
            if options.readMetadata { row.content = ContentInfo(format: .other) }
            writes.add(.upsert(row, replacing: replacing))
            return
        }
        if let k = known, k.silo == root.silo.name, let recorded = k.files[path] {
            guard recorded.matches(file.stat) else {
                // Not as the apply left it: read, and compared with what it verified.
                knownRead.add(1, ordering: .relaxed)
                var job = ReadJob(root: root.index, path: path, expected: file.stat, kind: .full, inspect: options.readMetadata,
                                  completion: .store(row, replacing: replacing))
                job.known = (recorded.sha256, "\(recorded.differences(from: file.stat)) since \(recorded.origin) placed it")
                reads.append(job)
                return
            }
            // As the apply placed and verified it: its SHA-256 is known, nothing is hashed.
            row.sha256 = recorded.sha256; row.hashedAt = Date()
            knownTaken.add(1, ordering: .relaxed)
            hashesReused.add(1, ordering: .relaxed)
            if options.readMetadata && !recorded.contentKnown {
                reads.append(ReadJob(root: root.index, path: path, expected: file.stat, kind: .metadata, inspect: true,
                                     completion: .store(row, replacing: replacing)))
            } else {
                writes.add(.upsert(row, replacing: replacing))
            }
            return
        }
        if file.stat.linkCount > 1, let known = knownLinkHash(file.stat) {
            row.sha256 = known; row.hashedAt = Date()
            hashesReused.add(1, ordering: .relaxed)
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

    private func knownLinkHash(_ stat: FileStat) -> SHA256Digest? {
        if let cached = linkCache.withLock({ $0[stat.fileID] }) { return cached }
        return (try? store.storedHash(linkedTo: stat, host: silos.first?.host)) ?? nil
    }

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

    // MARK: - Progress and diagnostics

    private func setPhase(_ p: ScanProgress.Phase) {
        phase.withLock { $0 = p }
        progressHandler?(snapshot())
    }

    func snapshot() -> ScanProgress {
        ScanProgress(phase: phase.withLock { $0 }, directories: walkCounters.directories.load(ordering: .relaxed),
                     filesWalked: walkCounters.files.load(ordering: .relaxed),
                     bytesWalked: walkCounters.bytes.load(ordering: .relaxed),
                     filesToRead: filesQueued.load(ordering: .relaxed), bytesToRead: bytesQueued.load(ordering: .relaxed),
                     filesRead: filesRead.load(ordering: .relaxed), bytesRead: bytesRead.load(ordering: .relaxed),
                     walkFinished: walkFinished.load(ordering: .relaxed),
                     elapsed: Date().timeIntervalSince(started))
    }

    private func startTicker() -> (any DispatchSourceTimer)? {
        guard let handler = progressHandler else { return nil }
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))
        timer.schedule(deadline: .now() + .milliseconds(200), repeating: .milliseconds(200))
        timer.setEventHandler { [weak self] in
            guard let self else { return }
            handler(self.snapshot())
        }
        timer.resume()
        return timer
    }

    private func flushDiagnostics() {
        let rest = pendingDiagnostics.withLock { p -> [Diagnostic] in defer { p = [] }; return p }
        do { try store.record(rest, runID: runID) } catch { fail(error) }
    }
}
