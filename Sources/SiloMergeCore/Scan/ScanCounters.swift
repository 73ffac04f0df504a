import Synchronization

/// The run's `RunCounts` while a scan runs: one copy per worker thread and one for the threads
/// that are not workers (the coordinator, the size-group producer), each behind a lock of its
/// own. A worker adds to its own copy only, so no two workers ever wait for each other; the
/// lock is there for the readers of a snapshot (progress, 5 times a second, and the run
/// record), which sum the copies (`RunCounts.sum`, no field named).
///
/// Warnings and errors are not counted here: the diagnostics collector counts them as they
/// are reported, and a snapshot takes them from it.
final class ScanCounters: Sendable {
    /// One thread's counts.
    final class Slot: Sendable {
        private let counts = Mutex(RunCounts())
        /// Adds to this slot: `slot.add { $0.filesNew += 1 }`.
        @inline(__always)
        func add(_ body: (inout RunCounts) -> Void) {
            counts.withLock { body(&$0) }
        }
        /// Adds counts kept locally (a folder's, by the folder diff).
        func add(_ other: RunCounts) {
            counts.withLock { $0 += other }
        }
        var value: RunCounts { counts.withLock { $0 } }
    }

    private let slots: [Slot]
    private let diagnostics: DiagnosticCollector

    /// Slots for workers `0..<workers`, and `shared`.
    init(workers: Int, diagnostics: DiagnosticCollector) {
        self.slots = (0...max(1, workers)).map { _ in Slot() }
        self.diagnostics = diagnostics
    }

    /// The slot of worker `worker` (the `concurrentPerform` index): only that worker adds to it.
    subscript(worker: Int) -> Slot { slots[worker] }

    /// The slot of every thread that is not a worker.
    var shared: Slot { slots[slots.count - 1] }

    /// The run's counts so far.
    func snapshot() -> RunCounts {
        var counts = RunCounts.sum(slots.map(\.value))
        counts.warnings = diagnostics.count(.warning)
        counts.errors = diagnostics.count(.error)
        return counts
    }
}
