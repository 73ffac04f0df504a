import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The image-hash stage, once every file is recorded: completes the image hash of the few
/// pictures that may be "the same picture, different metadata" (see `run`).
final class ImageHashStage: Sendable {
    let roots: [WalkRoot]
    let options: ScanOptions
    let silos: [Silo]
    let streams: any ContentStreams
    let sink: any ScanSink
    let writes: WriteBuffer
    let counters: ScanCounters
    let progress: ScanProgressState
    let control: ScanControl
    /// `--profile`: each worker's image-hashing time (nil: not timed).
    let profile: ScanProfiler?

    init(roots: [WalkRoot], options: ScanOptions, silos: [Silo], streams: any ContentStreams, sink: any ScanSink,
         writes: WriteBuffer, counters: ScanCounters, progress: ScanProgressState, control: ScanControl,
         profile: ScanProfiler? = nil) {
        self.roots = roots; self.options = options; self.silos = silos; self.streams = streams; self.sink = sink
        self.writes = writes; self.counters = counters; self.progress = progress; self.control = control
        self.profile = profile
    }

    /// The whole image hash of each picture that another file with other bytes may share (the
    /// same image-data prefix; see `ImageHashing`). The walk hashed only the first 4 KiB of
    /// every picture's image data, so a silo of photos is not hashed twice; here the few files
    /// that can be "the same picture, different metadata" are read again, each content once.
    ///
    /// Of the contents that share a prefix, one is hashed whole (noting where its image data
    /// lies); each of the others is compared with it byte for byte, reading both in step, and
    /// given the same image hash only when every byte of the image data agrees. One that
    /// differs is hashed on its own. A recaptioned photo and its original then cost one
    /// SHA-256 of the image data and a comparison, not two SHA-256.
    ///
    /// A file that changed or vanished since the walk keeps no image hash (the next scan reads it).
    func run() throws {
        writes.flush()
        try control.checkFatal()
        let candidates = try streams.imageHashCandidates(siloIDs: silos.map(\.id))
        guard !candidates.isEmpty else { return }
        progress.setPhase(.hashing)
        let rootIndex = Dictionary(uniqueKeysWithValues: roots.map { ($0.silo.id, $0.index) })
        // Names of one content (read once), grouped by prefix, in the catalogue's order.
        var contentKeys: [String] = [], byContent: [String: [ImageHashCandidate]] = [:]
        for c in candidates {
            let key = c.sha256?.hex ?? "file:\(c.fileID)"
            if byContent[key] == nil { contentKeys.append(key) }
            byContent[key, default: []].append(c)
        }
        var prefixKeys: [String] = [], byPrefix: [String: [[ImageHashCandidate]]] = [:]
        for key in contentKeys {
            let names = byContent[key]!
            let prefix = names[0].imagePrefix?.hex ?? "content:\(key)"
            if byPrefix[prefix] == nil { prefixKeys.append(prefix) }
            byPrefix[prefix, default: []].append(names)
        }
        let groups = prefixKeys.map { byPrefix[$0]! }
        let results = Mutex<[(fileID: Int64, digest: SHA256Digest)]>([])

        // 1. The first content of each group that can be read is hashed whole: the reference.
        let references = Mutex<[Int: Reference]>([:])
        forEach(groups.count) { g, tally in
            for (index, names) in groups[g].enumerated() {
                for c in names {
                    guard let r = rootIndex[c.siloID], let (digest, layout) = imageHash(c, rootFD: roots[r].rootFD, tally: tally) else { continue }
                    results.withLock { $0 += names.map { (fileID: $0.fileID, digest: digest) } }
                    references.withLock { $0[g] = Reference(candidate: c, rootFD: roots[r].rootFD, content: index, digest: digest, layout: layout) }
                    return
                }
            }
        }
        // 2. Every later content of the group: compared with the reference, else hashed.
        let found = references.withLock { $0 }
        let rest: [(names: [ImageHashCandidate], reference: Reference)] = found.sorted(by: { $0.key < $1.key }).flatMap { g, reference in
            groups[g].dropFirst(reference.content + 1).map { (names: $0, reference: reference) }
        }
        forEach(rest.count) { i, tally in
            let (names, reference) = rest[i]
            for c in names {
                guard let r = rootIndex[c.siloID],
                      let digest = imageHash(c, rootFD: roots[r].rootFD, tally: tally, against: reference) else { continue }
                results.withLock { $0 += names.map { (fileID: $0.fileID, digest: digest) } }
                return
            }
        }
        try sink.setImageHashes(results.withLock { $0 })
    }

    /// A picture hashed whole, that others sharing its prefix are compared with.
    private struct Reference: Sendable {
        let candidate: ImageHashCandidate
        let rootFD: Int32
        /// Its content's place in its group.
        let content: Int
        let digest: SHA256Digest
        /// Where its image data lies (nil: in too many pieces to keep; the others are hashed).
        let layout: ImageDataHash.Layout?
    }

    /// Runs `body(i, tally)` for i in 0..<count on up to `options.jobs` workers.
    private func forEach(_ count: Int, _ body: @Sendable (Int, ScanCounters.Slot) -> Void) {
        guard count > 0 else { return }
        let workers = max(1, min(options.jobs, count))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var i = worker
            let tally = counters[worker]
            let slot = profile?[worker]
            while i < count, !control.failed {
                if let slot {
                    // Its reads and hashing together, with the bytes the run's counts say it read.
                    let started = MonotonicClock.now(), before = tally.value.bytesHashed
                    body(i, tally)
                    slot.add(.imageHash, since: started, bytes: Int(tally.value.bytesHashed - before))
                } else {
                    body(i, tally)
                }
                i += workers
            }
        }
    }

    /// Opens a candidate as the walk saw it (same size and mtime), else nil.
    private func open(_ c: ImageHashCandidate, rootFD: Int32) -> (fd: Int32, size: Int64)? {
        var flags = O_RDONLY | O_NONBLOCK | O_NOCTTY
        if !options.followSymlinks { flags |= O_NOFOLLOW }
        guard case .success(let fd) = Posix.openAt(rootFD, c.path, flags: flags) else { return nil }
        guard case .success(let st) = Posix.fstat(fd), st.kind == .regular, st.size == c.size, st.mtimeNs == c.mtimeNs else {
            close(fd)
            return nil
        }
        return (fd, st.size)
    }

    /// The whole image hash of a candidate and where its image data lies.
    private func imageHash(_ c: ImageHashCandidate, rootFD: Int32, tally: ScanCounters.Slot) -> (SHA256Digest, ImageDataHash.Layout?)? {
        guard let (fd, size) = open(c, rootFD: rootFD) else { return nil }
        defer { close(fd) }
        let result = try? ImageDataHash.computeRecording(FileByteSource(fd: fd, size: size), format: c.format)
        tally.add { $0.bytesHashed += size }
        return result.flatMap { $0 }.map { ($0.digest, $0.layout) }
    }

    /// The reference's image hash when the candidate's image data is the reference's byte for
    /// byte, else the candidate's own.
    private func imageHash(_ c: ImageHashCandidate, rootFD: Int32, tally: ScanCounters.Slot, against reference: Reference) -> SHA256Digest? {
        guard let (fd, size) = open(c, rootFD: rootFD) else { return nil }
        defer { close(fd) }
        tally.add { $0.bytesHashed += size }
        if let layout = reference.layout, let (refFD, refSize) = open(reference.candidate, rootFD: reference.rootFD) {
            defer { close(refFD) }
            let same = try? ImageDataHash.sameImageData(FileByteSource(fd: fd, size: size), format: c.format,
                                                        as: FileByteSource(fd: refFD, size: refSize), layout: layout)
            if same == true { return reference.digest }
        }
        return (try? ImageDataHash.compute(FileByteSource(fd: fd, size: size), format: c.format)) ?? nil
    }
}
