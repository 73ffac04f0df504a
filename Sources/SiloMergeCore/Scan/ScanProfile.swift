import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a scan's time went, by stage (`scan --profile`, `SILOMERGE_TRACE=1`): collected while
/// the scan runs when `ScanEngine` is asked to, and returned in `ScanResult.profile`.
///
/// Stage times are thread-seconds: the time every thread spent in the stage, summed, so a
/// stage that kept 4 workers busy for 2 s counts 8 s. The workers' stages (walk to image
/// hashing) add up to at most `workers × wall`; the catalogue writer is one thread of its own.
public struct ScanProfile: Sendable, Codable, Equatable {
    public enum Stage: String, Sendable, Codable, CaseIterable {
        /// Opening and listing folders (everything of a folder's listing but the stat of each entry).
        case walk
        /// `lstat` of each entry a folder lists.
        case stat
        /// Comparing each listed folder with the catalogue's (catalogue lookups), sidecars aside.
        case compare
        /// Opening files to read them (`openat` and `fstat`).
        case open
        /// Reading file content (`read`/`pread`): the bytes hashed or compared.
        case read
        /// SHA-256 (and, with `--hash dupes`, the quick hash and the byte comparison).
        case hash
        /// Reading and parsing metadata: embedded (beyond the first chunk the hash read), sidecars.
        case metadata
        /// Hashing the image data of pictures (the same picture saved with other metadata), and
        /// decoding images for their perceptual hash.
        case imageHash = "image_hash"
        /// The catalogue writer thread applying batches of writes.
        case catalogueWrite = "catalogue_write"
        /// Threads waiting for the catalogue writer: its queue was full, or a flush waited for it.
        case catalogueWait = "catalogue_wait"

        /// The stages the scan's worker threads spend their time in.
        public static let workerStages: [Stage] = [.walk, .stat, .compare, .open, .read, .hash, .metadata, .imageHash]
    }

    /// One stage's figures.
    public struct Figure: Sendable, Codable, Equatable {
        public var stage: Stage
        /// Time spent in the stage, summed over threads.
        public var threadSeconds: Double
        /// How many times: folders (walk, compare), entries (stat), files (open, read, hash,
        /// metadata, image hash), writes (catalogue write), waits (catalogue wait).
        public var count: Int
        /// Bytes read (read, image hash); 0 elsewhere.
        public var bytes: Int64

        public init(stage: Stage, threadSeconds: Double, count: Int, bytes: Int64 = 0) {
            self.stage = stage; self.threadSeconds = threadSeconds; self.count = count; self.bytes = bytes
        }

        enum CodingKeys: String, CodingKey {
            case stage, threadSeconds = "thread_seconds", count, bytes
        }
    }

    /// Elapsed time of the run (monotonic clock).
    public var wallSeconds: Double
    /// CPU time of the process during the run (`getrusage`), user and system.
    public var userSeconds: Double
    public var systemSeconds: Double
    /// Worker threads (`--jobs`).
    public var workers: Int
    /// Every stage, in `Stage.allCases` order.
    public var stages: [Figure]
    /// One line the user can act on, derived from the figures (`ScanProfile.verdict`).
    public var verdict: String

    public init(wallSeconds: Double, userSeconds: Double, systemSeconds: Double, workers: Int, stages: [Figure]) {
        self.wallSeconds = wallSeconds; self.userSeconds = userSeconds; self.systemSeconds = systemSeconds
        self.workers = workers; self.stages = stages
        self.verdict = ""
        self.verdict = Self.verdict(self)
    }

    enum CodingKeys: String, CodingKey {
        case wallSeconds = "wall_seconds", userSeconds = "user_seconds", systemSeconds = "system_seconds"
        case workers, stages, verdict
    }

    public subscript(stage: Stage) -> Figure {
        stages.first { $0.stage == stage } ?? Figure(stage: stage, threadSeconds: 0, count: 0)
    }

    /// Thread-seconds the workers spent in their stages.
    public var workerSeconds: Double { Stage.workerStages.reduce(0) { $0 + self[$1].threadSeconds } }

    /// The read rate in bytes per second of reading time (per thread reading), nil without reads.
    public var readRate: Double? {
        let r = self[.read]
        guard r.threadSeconds > 0, r.bytes > 0 else { return nil }
        return Double(r.bytes) / r.threadSeconds
    }

    /// What limited the run, as far as the figures say.
    ///
    /// - The catalogue writer busy for half the run or more, with threads waiting for it: the
    ///   catalogue.
    /// - Else the stage that took the most of the workers' time, with its share (and the read
    ///   rate when it is reading).
    public static func verdict(_ p: ScanProfile) -> String {
        let wall = max(p.wallSeconds, 1e-9)
        let write = p[.catalogueWrite].threadSeconds
        let wait = p[.catalogueWait].threadSeconds
        let busy = p.workerSeconds
        let writerShare = write / wall
        if writerShare >= 0.5 && wait > 0 && wait >= 0.25 * busy {
            return "the catalogue writer was busy for \(percent(writerShare)) of the run and threads waited "
                + "\(seconds(wait)) thread-seconds for it: the catalogue is the limit"
        }
        // Under a twentieth of a thread-second, a few milliseconds of noise decide the order.
        guard busy >= 0.05 else {
            return "the workers spent \(seconds(busy)) thread-seconds in their stages: too little to tell what limits a run"
        }
        let top = Stage.workerStages.max { p[$0].threadSeconds < p[$1].threadSeconds }!
        let share = percent(p[top].threadSeconds / busy)
        var line: String
        switch top {
        case .read:
            let rate = p.readRate.map { " at \(Self.rate($0)) per reading thread" } ?? ""
            line = "reading took \(share) of the workers' time\(rate): the storage is the limit"
        case .hash:
            line = "hashing took \(share) of the workers' time: CPU-bound"
        case .metadata:
            line = "reading metadata took \(share) of the workers' time: metadata parsing is the limit (--no-metadata skips it)"
        case .imageHash:
            line = "hashing image data took \(share) of the workers' time: CPU-bound"
        case .walk:
            line = "listing folders took \(share) of the workers' time: the file system's directory reads are the limit"
        case .stat:
            line = "stat-ing entries took \(share) of the workers' time: the file system's metadata lookups are the limit"
        case .open:
            line = "opening files took \(share) of the workers' time: the file system's per-file latency is the limit"
        case .compare:
            line = "comparing folders with the catalogue took \(share) of the workers' time: catalogue lookups are the limit"
        case .catalogueWrite, .catalogueWait:
            line = ""
        }
        if writerShare >= 0.25 && wait > 0 {
            line += "; the catalogue writer was busy for \(percent(writerShare)) of the run"
        }
        let used = busy / (Double(max(1, p.workers)) * wall)
        if used < 0.5 {
            line += "; the workers were busy for \(percent(used)) of the run"
        }
        // Stage times are elapsed time: a thread waiting for the disk, or for a CPU on a busy
        // machine, counts as busy. The process's CPU time tells how much was work.
        let cpu = p.userSeconds + p.systemSeconds
        if busy >= 0.05 && cpu < 0.5 * busy {
            line += "; the process used \(seconds(cpu)) CPU-seconds for \(seconds(busy)) thread-seconds in its stages: "
                + "its threads mostly waited (for the storage, or for a CPU on a busy machine)"
        }
        return line
    }

    public static func percent(_ f: Double) -> String { "\(Int((min(max(f, 0), 10) * 100).rounded())) %" }
    public static func seconds(_ s: Double) -> String { String(format: "%.2f", s) }
    public static func rate(_ bytesPerSecond: Double) -> String {
        let mb = bytesPerSecond / 1_000_000
        _ = mb; return Format.bytes(Int64(bytesPerSecond.rounded())) + "/s"
    }
}

/// The monotonic clock the profile is measured with, in nanoseconds.
enum MonotonicClock {
    @inline(__always)
    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

/// One worker's stage accumulators: nanoseconds, counts and bytes per stage.
///
/// `@unchecked Sendable`: slot `i` is only ever written by the thread running the
/// `DispatchQueue.concurrentPerform` iteration with index `i` (as `PerWorker`; no index runs
/// on two threads at once, and one phase's workers have all returned before the next phase's
/// start), and it is read only by `ScanProfiler.finish`, after every worker has returned.
/// No lock, no atomic read-modify-write on the hot path.
final class ProfileSlot: @unchecked Sendable {
    private static let stages = ScanProfile.Stage.allCases.count
    private let cells: UnsafeMutablePointer<UInt64>

    init() {
        cells = .allocate(capacity: 3 * Self.stages)
        cells.initialize(repeating: 0, count: 3 * Self.stages)
    }

    deinit { cells.deallocate() }

    @inline(__always)
    private static func index(_ s: ScanProfile.Stage) -> Int {
        switch s {
        case .walk: 0
        case .stat: 1
        case .compare: 2
        case .open: 3
        case .read: 4
        case .hash: 5
        case .metadata: 6
        case .imageHash: 7
        case .catalogueWrite: 8
        case .catalogueWait: 9
        }
    }

    /// Adds `nanoseconds` (and `count`, `bytes`) to `stage`.
    @inline(__always)
    func add(_ stage: ScanProfile.Stage, nanoseconds: UInt64, count: Int = 1, bytes: Int = 0) {
        let i = Self.index(stage)
        cells[i] &+= nanoseconds
        cells[Self.stages + i] &+= UInt64(truncatingIfNeeded: count)
        cells[2 * Self.stages + i] &+= UInt64(truncatingIfNeeded: bytes)
    }

    /// Adds the time since `start` to `stage`; returns now (the start of what follows).
    @inline(__always) @discardableResult
    func add(_ stage: ScanProfile.Stage, since start: UInt64, count: Int = 1, bytes: Int = 0) -> UInt64 {
        let now = MonotonicClock.now()
        add(stage, nanoseconds: now &- start, count: count, bytes: bytes)
        return now
    }

    func nanoseconds(_ stage: ScanProfile.Stage) -> UInt64 { cells[Self.index(stage)] }
    func count(_ stage: ScanProfile.Stage) -> UInt64 { cells[Self.stages + Self.index(stage)] }
    func bytes(_ stage: ScanProfile.Stage) -> UInt64 { cells[2 * Self.stages + Self.index(stage)] }

    /// Nanoseconds of the stages a hasher adds to (to tell them from the stage around them).
    var hasherNanoseconds: UInt64 {
        nanoseconds(.open) &+ nanoseconds(.read) &+ nanoseconds(.hash) &+ nanoseconds(.metadata)
    }
}

/// The catalogue writer's side of the profile: written by the writer thread and by whoever
/// waits for it (any thread), so relaxed atomics; touched once per batch or per wait.
final class WriterProfile: Sendable {
    let writeNanoseconds = Atomic<UInt64>(0)
    let writes = Atomic<UInt64>(0)
    let waitNanoseconds = Atomic<UInt64>(0)
    let waits = Atomic<UInt64>(0)

    func wrote(_ count: Int, since start: UInt64) {
        writeNanoseconds.wrappingAdd(MonotonicClock.now() &- start, ordering: .relaxed)
        writes.wrappingAdd(UInt64(count), ordering: .relaxed)
    }

    func waited(since start: UInt64) {
        waitNanoseconds.wrappingAdd(MonotonicClock.now() &- start, ordering: .relaxed)
        waits.wrappingAdd(1, ordering: .relaxed)
    }
}

/// Collects a scan's profile: a slot per worker, the writer's figures, the run's clocks.
final class ScanProfiler: Sendable {
    let slots: [ProfileSlot]
    let writer = WriterProfile()
    let workers: Int
    private let started: UInt64
    private let startUsage: (user: Double, system: Double)

    init(workers: Int) {
        self.workers = max(1, workers)
        self.slots = (0..<self.workers).map { _ in ProfileSlot() }
        self.started = MonotonicClock.now()
        self.startUsage = Self.usage()
    }

    subscript(worker: Int) -> ProfileSlot { slots[worker] }

    /// The process's user and system CPU seconds so far.
    static func usage() -> (user: Double, system: Double) {
        var u = rusage()
        #if canImport(Glibc)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        #else
        getrusage(RUSAGE_SELF, &u)
        #endif
        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1_000_000 }
        return (s(u.ru_utime), s(u.ru_stime))
    }

    /// The profile of the run so far. Call once every worker has returned.
    func finish() -> ScanProfile {
        let wall = Double(MonotonicClock.now() &- started) / 1e9
        let end = Self.usage()
        var figures: [ScanProfile.Figure] = []
        for stage in ScanProfile.Stage.allCases {
            var ns: UInt64 = 0, count: UInt64 = 0, bytes: UInt64 = 0
            for slot in slots {
                ns &+= slot.nanoseconds(stage); count &+= slot.count(stage); bytes &+= slot.bytes(stage)
            }
            switch stage {
            case .catalogueWrite:
                ns &+= writer.writeNanoseconds.load(ordering: .relaxed); count &+= writer.writes.load(ordering: .relaxed)
            case .catalogueWait:
                ns &+= writer.waitNanoseconds.load(ordering: .relaxed); count &+= writer.waits.load(ordering: .relaxed)
            default: break
            }
            figures.append(ScanProfile.Figure(stage: stage, threadSeconds: Double(ns) / 1e9, count: Int(count),
                                              bytes: Int64(bytes)))
        }
        return ScanProfile(wallSeconds: wall, userSeconds: max(0, end.user - startUsage.user),
                           systemSeconds: max(0, end.system - startUsage.system), workers: workers, stages: figures)
    }
}
