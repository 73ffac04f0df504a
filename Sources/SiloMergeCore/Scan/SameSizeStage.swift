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

    /// `--hash dupes`: groups of same-size files are read side by side, a group per worker.
    /// First the quick hash of each file's ends sorts a group into smaller ones; then files
    /// still alike are compared whole, and each duplicated content is hashed once (see
    /// `FileHasher.classify`). A file whose size or ends no other file shares is never hashed.
    func run() throws {
        let rootIndex = Dictionary(uniqueKeysWithValues: roots.map { ($0.silo.id, $0.index) })
        let groups = BoundedQueue<[CandidateFile]>(capacity: 64)
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
                    return groups.push(group) && !control.failed
                }
            } catch {
                streamError.withLock { $0 = error }
            }
        }
        producer.name = "silomerge-size-groups"
        producer.start()
        DispatchQueue.concurrentPerform(iterations: max(1, options.jobs)) { worker in
            while let group = groups.pop() {
                if control.failed { continue }
                compare(group, rootIndex: rootIndex, hasher: hashers[worker], tally: counters[worker])
            }
        }
        if let error = streamError.value { throw error }
        writes.flush()
        try control.checkFatal()
    }

    private func compare(_ group: [CandidateFile], rootIndex: [Int64: Int], hasher: FileHasher, tally: ScanCounters.Slot) {
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
        let onBytes: (Int) -> Void = { n in tally.add { $0.bytesHashed += Int64(n) } }
        func record(_ member: GroupMember, _ outcome: GroupOutcome) {
            switch outcome {
            case .unique:
                break
            case .digest(let digest):
                if member.known == digest { tally.add { $0.hashesReused += 1 }; return }
                let before = previous[member.fileID] ?? nil
                if let before, before != digest {
                    report(.error, .contentChanged, roots[rootOf[member.fileID]!], member.path,
                           "content changed although size and mtime did not (was \(before.hex.prefix(12))…, now \(digest.hex.prefix(12))…): possible corruption")
                }
                writes.add(.hashed(id: member.fileID, sha256: digest, previous: before))
            case .failed(let failure):
                let job = ReadJob(root: rootOf[member.fileID]!, path: member.path, expected: member.stat, kind: .full,
                                  completion: .update(id: member.fileID, previous: previous[member.fileID] ?? nil))
                reader.describe(failure, job: job, root: roots[job.root], tally: tally)
            }
        }
        if let hook = reader.beforeRead {
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
                tally.add { $0.filesHashed += 1 }
                for link in byInode[m.stat.fileID] ?? [m] { record(link, outcome) }
            }
        }
    }
}
