import Dispatch
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// How synchronous code (SiloMerge's core runs on Dispatch worker threads and `throws`, no
/// `async`) waits for PostgresNIO, which answers with event-loop futures and, for COPY, with
/// `async` functions.
///
/// - Futures are waited for with `.wait()`, which is only safe off the event loops: waiting on
///   an event-loop thread would block the very thread that must complete the future. Every
///   wait checks it first and stops with a clear message (a programming error, never data).
/// - `async` work (COPY) runs in a `Task` whose executor preference is a serial Dispatch queue
///   of its own, not Swift's cooperative pool: the calling thread blocks on a semaphore, and the
///   task never needs a cooperative thread that blocked callers (tests run there) may all hold.
enum Bridge {
    /// The one event-loop group every session shares (NIO's process-wide singleton: one thread
    /// a core, started on first use, never shut down).
    static var eventLoopGroup: MultiThreadedEventLoopGroup { MultiThreadedEventLoopGroup.singleton }

    /// Whether the calling thread is a SwiftNIO event loop's.
    static var onEventLoop: Bool { MultiThreadedEventLoopGroup.currentEventLoop != nil }

    /// Stops when called on an event-loop thread, where waiting would deadlock.
    static func assertNotOnEventLoop(_ what: StaticString = #function) {
        precondition(!onEventLoop, "SiloMergePostgres: \(what) blocks and must not be called on a SwiftNIO event-loop thread")
    }

    /// Waits for `future` off the event loops.
    static func wait<T: Sendable>(_ future: EventLoopFuture<T>) throws -> T {
        assertNotOnEventLoop()
        return try future.wait()
    }

    static let executor = QueueTaskExecutor(label: "silomerge.postgres.bridge")
}

/// A task executor that runs jobs on a serial Dispatch queue (which libdispatch backs with an
/// overcommitting thread, so it makes progress however many other threads are blocked).
final class QueueTaskExecutor: TaskExecutor {
    private let queue: DispatchQueue

    init(label: String) { queue = DispatchQueue(label: label) }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// Hands chunks from one producer thread to one `async` consumer, with at most `capacity`
/// waiting: the producer blocks when the consumer falls behind, so memory stays bounded.
final class ChunkHandoff<Chunk: Sendable>: @unchecked Sendable {
    // @unchecked: every stored property is read and written only while `condition` is locked.
    private let condition = NSCondition()
    private let capacity: Int
    private var queue: [Chunk] = []
    private var finished = false
    private var producerError: (any Error)?
    private var consumerGone = false
    private var waiting: CheckedContinuation<Chunk?, any Error>?

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Producer: passes a chunk, waiting while `capacity` are queued. Returns false when the
    /// consumer has stopped (it failed; its error is what to report).
    func put(_ chunk: Chunk) -> Bool {
        condition.lock()
        while queue.count >= capacity && !consumerGone { condition.wait() }
        if consumerGone { condition.unlock(); return false }
        if let waiter = waiting {
            waiting = nil
            condition.unlock()
            waiter.resume(returning: chunk)
        } else {
            queue.append(chunk)
            condition.unlock()
        }
        return true
    }

    /// Producer: no more chunks (`error` nil), or stop with `error`.
    func finish(error: (any Error)? = nil) {
        condition.lock()
        finished = true
        producerError = error
        let waiter = waiting
        waiting = nil
        condition.unlock()
        if let error { waiter?.resume(throwing: error) } else { waiter?.resume(returning: nil) }
    }

    /// Consumer: the next chunk, nil at the end; throws the producer's error.
    func next() async throws -> Chunk? {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Chunk?, any Error>) in
            condition.lock()
            if !queue.isEmpty {
                let chunk = queue.removeFirst()
                condition.signal()
                condition.unlock()
                continuation.resume(returning: chunk)
            } else if finished {
                let error = producerError
                condition.unlock()
                if let error { continuation.resume(throwing: error) } else { continuation.resume(returning: nil) }
            } else {
                waiting = continuation
                condition.unlock()
            }
        }
    }

    /// Consumer: stopped (done or failed); wakes a blocked producer.
    func consumerEnded() {
        condition.lock()
        consumerGone = true
        queue.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}
