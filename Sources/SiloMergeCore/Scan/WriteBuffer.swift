import Dispatch
import Foundation

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
    private let store: any ScanSink
    private let runID: Int64
    private let minimumBatch: Int
    private let maxPending: Int
    private let onError: @Sendable (any Error) -> Void
    private let done = DispatchSemaphore(value: 0)
    /// `--profile`: the writer's time, and the time others waited for it (nil: not timed).
    private let profile: WriterProfile?
    /// Test seam: called before each batch is applied (`ScanEngine.TestHooks.beforeApply`).
    private let beforeApply: (@Sendable (Int) -> Void)?

    init(store: any ScanSink, runID: Int64, minimumBatch: Int = 512, maxPending: Int = 20_000,
         profile: WriterProfile? = nil, beforeApply: (@Sendable (Int) -> Void)? = nil,
         onError: @escaping @Sendable (any Error) -> Void) {
        self.store = store; self.runID = runID; self.minimumBatch = minimumBatch; self.maxPending = maxPending
        self.onError = onError; self.profile = profile
        self.beforeApply = beforeApply
        let thread = Thread { [self] in writerLoop() }
        thread.name = "silomerge-catalogue-writer"
        thread.start()
    }

    func add(_ write: CatalogueWrite) {
        lock.lock()
        if pending.count >= maxPending && !stopped {
            // The writer is behind: this thread waits for it.
            let started = profile != nil ? MonotonicClock.now() : 0
            while pending.count >= maxPending && !stopped { lock.wait(.notFull) }
            if let profile { profile.waited(since: started) }
        }
        pending.append(write)
        if pending.count == minimumBatch { lock.signal(.notEmpty) }
        lock.unlock()
    }

    /// Returns once everything added so far is in the catalogue.
    func flush() {
        lock.lock()
        flushRequests += 1
        lock.signal(.notEmpty)
        let started = profile != nil && (!pending.isEmpty || writing) ? MonotonicClock.now() : 0
        while !pending.isEmpty || writing { lock.wait(.notFull) }
        if started != 0, let profile { profile.waited(since: started) }
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
            let started = profile != nil ? MonotonicClock.now() : 0
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
            beforeApply?(batch.count)
            do { try store.apply(batch, runID: runID) } catch { onError(error) }
            if let profile { profile.wrote(batch.count, since: started) }
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
