import Dispatch
import Foundation
import Synchronization

/// What progress shows beyond the run's counts: the phase, what is queued for reading, and
/// whether the walk is over. Snapshots are handed to the progress callback at each phase
/// change and, while a scan runs, five times a second.
final class ScanProgressState: Sendable {
    let handler: ScanEngine.ProgressHandler?
    private let counters: ScanCounters
    private let phase = Mutex<ScanProgress.Phase>(.walking)
    private let filesQueued = Atomic<Int>(0)
    private let bytesQueued = Atomic<Int64>(0)
    private let walkFinished = Atomic<Bool>(false)
    let started = Date()

    init(handler: ScanEngine.ProgressHandler?, counters: ScanCounters) {
        self.handler = handler; self.counters = counters
    }

    func setPhase(_ p: ScanProgress.Phase) {
        phase.withLock { $0 = p }
        handler?(snapshot())
    }

    /// Files (and their bytes) queued for reading.
    func queued(files: Int, bytes: Int64) {
        filesQueued.add(files, ordering: .relaxed)
        bytesQueued.add(bytes, ordering: .relaxed)
    }

    func finishWalk() { walkFinished.store(true, ordering: .relaxed) }

    func snapshot() -> ScanProgress {
        ScanProgress(phase: phase.withLock { $0 }, counts: counters.snapshot(),
                     filesToRead: filesQueued.load(ordering: .relaxed), bytesToRead: bytesQueued.load(ordering: .relaxed),
                     walkFinished: walkFinished.load(ordering: .relaxed), elapsed: Date().timeIntervalSince(started))
    }

    /// Calls the handler with a snapshot every 200 ms until the returned timer is cancelled.
    func startTicker() -> (any DispatchSourceTimer)? {
        guard let handler else { return nil }
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))
        timer.schedule(deadline: .now() + .milliseconds(200), repeating: .milliseconds(200))
        timer.setEventHandler { [weak self] in
            guard let self else { return }
            handler(self.snapshot())
        }
        timer.resume()
        return timer
    }
}
