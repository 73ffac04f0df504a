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

/// The SHA-256 of hard-linked files read this scan (or stored in the catalogue): another name
/// for one of them is not read again.
final class HardLinkHashes: Sendable {
    private let cache = Mutex<[FileID: SHA256Digest]>([:])
    private let index: any FolderIndex
    private let host: HostIdentity?

    init(index: any FolderIndex, host: HostIdentity?) { self.index = index; self.host = host }

    func hash(of stat: FileStat) -> SHA256Digest? {
        if let cached = cache.withLock({ $0[stat.fileID] }) { return cached }
        return (try? index.storedHash(linkedTo: stat, host: host)) ?? nil
    }

    func remember(_ digest: SHA256Digest, of stat: FileStat) {
        cache.withLock { $0[stat.fileID] = digest }
    }
}

/// The read stage: hashes (and inspects) the files the folder diff queued, one hashing
/// context per worker, each device read by as many workers at once as `DeviceGate` allows;
/// records the outcome, or why a file could not be read.
final class ReadStage: Sendable {
    let roots: [WalkRoot]
    let options: ScanOptions
    let hashers: PerWorker<FileHasher>
    let gate: DeviceGate
    /// Test seam: a returned errno makes the read of (silo, path) fail with it.
    let beforeRead: (@Sendable (String, RelativePath) -> Int32?)?
    let writes: WriteBuffer
    let counters: ScanCounters
    let known: KnownTally
    let links: HardLinkHashes
    let control: ScanControl
    let report: FileReporter

    init(roots: [WalkRoot], options: ScanOptions, hashers: PerWorker<FileHasher>, gate: DeviceGate,
         beforeRead: (@Sendable (String, RelativePath) -> Int32?)?, writes: WriteBuffer, counters: ScanCounters,
         known: KnownTally, links: HardLinkHashes, control: ScanControl, report: FileReporter) {
        self.roots = roots; self.options = options; self.hashers = hashers; self.gate = gate; self.beforeRead = beforeRead
        self.writes = writes; self.counters = counters; self.known = known; self.links = links; self.control = control
        self.report = report
    }

    func read(_ jobs: [ReadJob], worker: Int) {
        let hasher = hashers[worker]
        let tally = counters[worker]
        // A folder's files, in the order the disk holds them on a spinning disk (or as asked).
        let jobs = jobs.isEmpty ? jobs : gate.ordered(jobs, device: jobs[0].expected.device, stat: \.expected) { job in
            Posix.openForOrdering(rootFD: roots[job.root].rootFD, path: job.path)
        }
        for job in jobs where !control.failed {
            gate.withDevice(job.expected.device) { perform(job, hasher: hasher, tally: tally) }
        }
    }

    /// Reads one file and records what came of it.
    private func perform(_ job: ReadJob, hasher: FileHasher, tally: ScanCounters.Slot) {
        let root = roots[job.root]
        let siloName = root.silo.name
        // digest is nil for a metadata-only read.
        var outcome: Result<(SHA256Digest?, FileStat, ContentInfo?), ReadFailure>
        if let code = beforeRead?(siloName, job.path) {
            outcome = .failure(code == ENOENT ? .vanished : .unreadable(Errno(code), during: "open"))
        } else {
            switch job.kind {
            case .full:
                outcome = hasher.hashFull(rootFD: root.rootFD, path: job.path, followSymlinks: options.followSymlinks,
                                          inspect: job.inspect, scanForXMP: options.scanForXMP) {
                    let n = Int64($0)
                    tally.add { $0.bytesHashed += n }
                }.map { ($0.digest, $0.stat, $0.content) }
            case .metadata:
                outcome = hasher.inspect(rootFD: root.rootFD, path: job.path, followSymlinks: options.followSymlinks,
                                         scanForXMP: options.scanForXMP)
                    .map { (nil, $0.0, $0.1) }
            }
        }
        if job.kind == .full { tally.add { $0.filesHashed += 1 } }
        if case .success(let (digest, _, content?)) = outcome {
            for problem in content.problems {
                report(.note, .metadata, root, job.path, "metadata: \(problem)")
            }
            recordFingerprint(content.fingerprint, of: digest, root: root, path: job.path)
        }

        switch (outcome, job.completion) {
        case (.success(let (digest, stat, content)), .store(var row, let replacing)):
            // A new or changed file: record what was actually read.
            if let expected = job.known, let digest {
                if digest != expected.sha256 {
                    known.differing.withLock { $0.append(job.path) }
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
                if stat.linkCount > 1 { links.remember(digest, of: stat) }
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
            describe(failure, job: job, root: root, tally: tally)
        }
    }

    /// Records an image's perceptual hash with its content; a picture the decoders refused is
    /// a reported skip (a note: the file is catalogued and hashed all the same).
    private func recordFingerprint(_ fingerprint: Result<ImageFingerprint, ImageFingerprintFailure>?, of digest: SHA256Digest?,
                                   root: WalkRoot, path: RelativePath) {
        guard let fingerprint else { return }
        if case .failure(let why) = fingerprint {
            report(.note, .metadata, root, path, "no perceptual hash (not found by duplicates --similar): \(why)")
        }
        if let digest { writes.add(.fingerprint(sha256: digest, fingerprint)) }
    }

    /// Reports a file that could not be read, and records what the catalogue should say of it.
    func describe(_ failure: ReadFailure, job: ReadJob, root: WalkRoot, tally: ScanCounters.Slot) {
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
                    tally.add { $0.filesMissing += 1 }
                }
            case .update(let id, let previous):
                writes.add(.remove(StoredEntry(id: id, name: name, stat: job.expected, hasHash: previous != nil, sha256: previous),
                                   siloID: root.silo.id, dir: dir, reason: .missing))
                tally.add { $0.filesMissing += 1 }
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
}
