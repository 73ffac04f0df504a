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

    init(roots: [WalkRoot], options: ScanOptions, silos: [Silo], streams: any ContentStreams, sink: any ScanSink,
         writes: WriteBuffer, counters: ScanCounters, progress: ScanProgressState, control: ScanControl) {
        self.roots = roots; self.options = options; self.silos = silos; self.streams = streams; self.sink = sink
        self.writes = writes; self.counters = counters; self.progress = progress; self.control = control
    }

    /// The whole image hash of each picture that another file with other bytes may share (the
    /// same image-data prefix; see `ImageHashing`). The walk hashed only the first 64 KiB of
    /// every picture's image data, so a silo of photos is not hashed twice; here the few files
    /// that can be "the same picture, different metadata" are read again, each content once.
    /// A file that changed or vanished since the walk keeps no image hash (the next scan reads it).
    func run() throws {
        writes.flush()
        try control.checkFatal()
        let candidates = try streams.imageHashCandidates(siloIDs: silos.map(\.id))
        guard !candidates.isEmpty else { return }
        progress.setPhase(.hashing)
        let rootIndex = Dictionary(uniqueKeysWithValues: roots.map { ($0.silo.id, $0.index) })
        var byContent: [String: [ImageHashCandidate]] = [:]
        for c in candidates { byContent[c.sha256?.hex ?? "file:\(c.fileID)", default: []].append(c) }
        let groups = Array(byContent.values)
        let results = Mutex<[(fileID: Int64, digest: SHA256Digest)]>([])
        let workers = max(1, min(options.jobs, groups.count))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var i = worker
            let tally = counters[worker]
            while i < groups.count, !control.failed {
                let group = groups[i]
                for c in group {
                    guard let r = rootIndex[c.siloID], let digest = imageHash(c, rootFD: roots[r].rootFD, tally: tally) else { continue }
                    results.withLock { $0 += group.map { (fileID: $0.fileID, digest: digest) } }
                    break
                }
                i += workers
            }
        }
        try sink.setImageHashes(results.withLock { $0 })
    }

    private func imageHash(_ c: ImageHashCandidate, rootFD: Int32, tally: ScanCounters.Slot) -> SHA256Digest? {
        var flags = O_RDONLY | O_NONBLOCK | O_NOCTTY
        if !options.followSymlinks { flags |= O_NOFOLLOW }
        guard case .success(let fd) = Posix.openAt(rootFD, c.path, flags: flags) else { return nil }
        defer { close(fd) }
        guard case .success(let st) = Posix.fstat(fd), st.kind == .regular, st.size == c.size, st.mtimeNs == c.mtimeNs else { return nil }
        let digest = try? ImageDataHash.compute(FileByteSource(fd: fd, size: st.size), format: c.format)
        tally.add { $0.bytesHashed += st.size }
        return digest ?? nil
    }
}
