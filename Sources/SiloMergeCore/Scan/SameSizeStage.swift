import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `--hash dupes` stage, after the walk recorded every file: groups of files of one size
/// (the store streams them, `ContentStreams.forEachSizeGroup`) are read side by side, a group
/// per worker. Of the groups, only those with a file of this scan still to hash are read.
final class SameSizeStage: Sendable {
    let roots: [WalkRoot]
    let options: ScanOptions
    let streams: any ContentStreams
    let hashers: PerWorker<FileHasher>
    /// Where a failed read is described and recorded, as for a read of the walk.
    let reader: ReadStage
    let writes: WriteBuffer
    let counters: ScanCounters
    let progress: ScanProgressState
    let control: ScanControl
    let report: FileReporter

    init(roots: [WalkRoot], options: ScanOptions, streams: any ContentStreams, hashers: PerWorker<FileHasher>,
         reader: ReadStage, writes: WriteBuffer, counters: ScanCounters, progress: ScanProgressState,
         control: ScanControl, report: FileReporter) {
        self.roots = roots; self.options = options; self.streams = streams; self.hashers = hashers; self.reader = reader
        self.writes = writes; self.counters = counters; self.progress = progress; self.control = control
        self.report = report
    }

    /// Files of same-size groups queued or being compared at once. Every group in flight is held
    /// in memory (its files' paths and details), so this bounds the stage's memory whatever the
    /// catalogue's size; a group larger than this is still taken while fewer groups than
    /// workers are in flight, so a tree where every file has one of a few sizes keeps every
    /// worker busy with at most one such group each.
    static let filesInFlight = 32_768

    /// `--hash dupes`: groups of same-size files are read side by side, a group per worker.
    /// First the quick hash of each file's ends sorts a group into smaller ones; then files
    /// still alike are compared whole, and each duplicated content is hashed once (see
    /// `FileHasher.classify`). A file whose size or ends no other file shares is never hashed.
    func run() throws {
        let rootIndex = Dictionary(uniqueKeysWithValues: roots.map { ($0.silo.id, $0.index) })
        let workers = max(1, options.jobs)
        let groups = WeightedQueue<[CandidateFile]>(weightLimit: Self.filesInFlight, minimumInFlight: workers)
        let streamError = Locked<(any Error)?>(nil)
        let producer = Thread { [self] in
            defer { groups.close() }
            do {
                try streams.forEachSizeGroup { group in
                    // Only groups with a file of this scan that is not hashed yet (or, with
                    // --rehash, any file of this scan) need reading.
                    guard group.contains(where: { rootIndex[$0.siloID] != nil && ($0.sha256 == nil || options.rehash) }) else {
                        return !control.failed
                    }
                    progress.queued(files: group.count, bytes: group.reduce(0) { $0 + $1.stat.size })
                    guard groups.push(group, weight: group.count) else { return false }
                    // The store builds the next group when this returns: not before the queue
                    // could take one like this, or a group being built would add to those in
                    // flight (on a tree where every file has one of a few sizes, a third group
                    // of tens of thousands of files).
                    groups.waitForRoom(weight: group.count)
                    return !control.failed
                }
            } catch {
                streamError.withLock { $0 = error }
            }
        }
        producer.name = "silomerge-size-groups"
        producer.start()
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            while let item = groups.pop() {
                defer { groups.finished(weight: item.weight) }
                if control.failed { continue }
                compare(item.element, rootIndex: rootIndex, hasher: hashers[worker], tally: counters[worker])
            }
        }
        if let error = streamError.value { throw error }
        writes.flush()
        try control.checkFatal()
    }

    /// Compares one same-size group. A file costs its `CandidateFile` and a few indices: its
    /// `GroupMember` is made when it is read, and there is no dictionary or array per file,
    /// so a group of a hundred thousand files stays small.
    private func compare(_ group: [CandidateFile], rootIndex: [Int64: Int], hasher: FileHasher,
                         tally: ScanCounters.Slot) {
        // Files of silos not scanned now cannot be read (their roots are not open): files that
        // might equal one of them are hashed, to be compared by hash. -1: not readable here.
        var rootOf = [Int32](repeating: -1, count: group.count)
        var outside = false
        var live: [Int] = []
        live.reserveCapacity(group.count)
        for (k, file) in group.enumerated() {
            guard let i = rootIndex[file.siloID] else {
                // Hashed or not, it may equal a file here: hash these, so that whichever
                // silo is scanned later can tell.
                outside = true
                continue
            }
            rootOf[k] = Int32(i)
            live.append(k)
        }
        func member(_ k: Int) -> GroupMember {
            let file = group[k], root = roots[Int(rootOf[k])]
            return GroupMember(fileID: file.fileID, rootFD: root.rootFD, silo: root.silo.name, path: file.path, stat: file.stat,
                               known: options.rehash ? nil : file.sha256, follow: options.followSymlinks)
        }
        let onBytes: (Int) -> Void = { n in tally.add { $0.bytesHashed += Int64(n) } }
        func record(_ k: Int, _ outcome: GroupOutcome) {
            let member = member(k)
            let root = roots[Int(rootOf[k])]
            switch outcome {
            case .unique:
                break
            case .digest(let digest):
                if member.known == digest { tally.add { $0.hashesReused += 1 }; return }
                let before = group[k].sha256
                if let before, before != digest {
                    report(.error, .contentChanged, root, member.path,
                           "content changed although size and mtime did not (was \(before.hex.prefix(12))…, now \(digest.hex.prefix(12))…): possible corruption")
                }
                writes.add(.hashed(id: member.fileID, sha256: digest, previous: before))
            case .failed(let failure):
                let job = ReadJob(root: root.index, path: member.path, expected: member.stat, kind: .full,
                                  completion: .update(id: member.fileID, previous: group[k].sha256))
                reader.describe(failure, job: job, root: root, tally: tally)
            }
        }
        if let hook = reader.beforeRead {
            live = live.filter { k in
                guard let code = hook(roots[Int(rootOf[k])].silo.name, group[k].path) else { return true }
                record(k, .failed(code == ENOENT ? .vanished : .unreadable(Errno(code), during: "open")))
                return false
            }
        }
        // Physical copies: hard links to one inode are read once. `order` lists the files by
        // inode; each run of one inode is read through its first file.
        let order = live.sorted { group[$0].stat.fileID < group[$1].stat.fileID }
        var runs: [Range<Int>] = []
        var start = 0
        for p in order.indices where p == order.count - 1 || group[order[p]].stat.fileID != group[order[p + 1]].stat.fileID {
            runs.append(start..<(p + 1))
            start = p + 1
        }
        // Classes of possibly equal content, as lists of runs.
        var classes: [ArraySlice<Int>] = []
        var classRuns: [Int] = []
        if outside || live.count < 2 {
            classRuns = Array(runs.indices)
            classes = [classRuns[...]]
        } else {
            // Split by the quick hash of both ends (the whole file when it is small): sorted by
            // it, each class is a stretch of equal hashes.
            var keyed: [(hash: UInt64, run: Int)] = []
            keyed.reserveCapacity(runs.count)
            // On a spinning disk, read the ends of the files in the order the disk holds them.
            let gate = reader.gate
            let device = group[order[0]].stat.device
            let readOrder = gate.ordered(Array(runs.indices), device: device, stat: { group[order[runs[$0].lowerBound]].stat }) {
                let m = member(order[runs[$0].lowerBound])
                return Posix.openForOrdering(rootFD: m.rootFD, path: m.path)
            }
            for r in readOrder {
                let quick = gate.withDevice(group[order[runs[r].lowerBound]].stat.device) {
                    hasher.quick(member(order[runs[r].lowerBound]), spec: options.partial, onBytes: onBytes)
                }
                switch quick {
                case .success(let (h, _)): keyed.append((h, r))
                case .failure(let f):
                    for p in runs[r] { record(order[p], .failed(f)) }
                }
            }
            keyed.sort { ($0.hash, $0.run) < ($1.hash, $1.run) }
            classRuns = keyed.map(\.run)
            var from = 0
            for i in keyed.indices where i == keyed.count - 1 || keyed[i].hash != keyed[i + 1].hash {
                classes.append(classRuns[from...i])
                from = i + 1
            }
        }
        for runsOfClass in classes {
            let outcomes: [GroupOutcome]
            if runsOfClass.count < 2 && !outside {
                // Alone after the quick hash: unique, unless a hard-linked sibling makes it
                // worth nothing to know either.
                outcomes = [GroupOutcome](repeating: .unique, count: runsOfClass.count)
            } else {
                let candidates = runsOfClass.map { member(order[runs[$0].lowerBound]) }
                // A spinning disk is read by as many workers at once as a folder's files are.
                outcomes = reader.gate.withDevice(candidates[0].stat.device) {
                    hasher.classify(candidates, hashSingles: outside, onBytes: onBytes)
                }
            }
            for (r, outcome) in zip(runsOfClass, outcomes) {
                tally.add { $0.filesHashed += 1 }
                for p in runs[r] { record(order[p], outcome) }
            }
        }
    }
}
