#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutex with two condition variables ("not empty", "not full"), for the bounded queues
/// between walkers, readers and the catalogue writer. `Synchronization.Mutex` has no condition
/// variables; waking only the side that can make progress avoids the thundering herd a single
/// condition with broadcasts causes.
///
/// `@unchecked Sendable`: the pthread objects are heap-allocated once, never moved, and are
/// designed to be used from many threads; callers keep their own state under `withLock`.
final class ConditionLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let conditions: UnsafeMutablePointer<pthread_cond_t>

    enum Condition: Int { case notEmpty = 0, notFull = 1 }

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        conditions = .allocate(capacity: 2)
        conditions.initialize(repeating: pthread_cond_t(), count: 2)
        pthread_cond_init(conditions, nil)
        pthread_cond_init(conditions + 1, nil)
    }

    deinit {
        pthread_cond_destroy(conditions)
        pthread_cond_destroy(conditions + 1)
        conditions.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }

    /// Waits on a condition; the lock must be held.
    func wait(_ c: Condition) { pthread_cond_wait(conditions + c.rawValue, mutex) }
    func signal(_ c: Condition) { pthread_cond_signal(conditions + c.rawValue) }
    func broadcast(_ c: Condition) { pthread_cond_broadcast(conditions + c.rawValue) }

    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A blocking FIFO bounded by the weight of its elements (e.g. the files of a same-size group),
/// counting an element from `push` until its consumer calls `finished`, so that what is queued
/// and what is being worked on together stay under `weightLimit`. An element heavier than the
/// limit is still admitted while fewer than `minimumInFlight` elements are in flight: the
/// consumers never starve, and memory stays bounded by the limit or by that many of the
/// heaviest elements.
///
/// `@unchecked Sendable`: `items`, `closed`, `inFlightWeight` and `inFlightCount` are only
/// touched while `lock` is held.
final class WeightedQueue<Element: Sendable>: @unchecked Sendable {
    private let lock = ConditionLock()
    /// Popped slots are emptied at once: the queue must not keep a popped element alive.
    private var items: [(element: Element, weight: Int)?] = []
    private var head = 0
    private var closed = false
    private var inFlightWeight = 0
    private var inFlightCount = 0
    private let weightLimit: Int
    private let minimumInFlight: Int

    init(weightLimit: Int, minimumInFlight: Int) {
        self.weightLimit = max(1, weightLimit)
        self.minimumInFlight = max(1, minimumInFlight)
    }

    /// Adds an element, waiting while the queue is full; returns false once it is closed.
    @discardableResult
    func push(_ element: Element, weight: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        while !closed && inFlightCount >= minimumInFlight && inFlightWeight + weight > weightLimit {
            lock.wait(.notFull)
        }
        if closed { return false }
        items.append((element, weight))
        inFlightWeight += weight
        inFlightCount += 1
        lock.signal(.notEmpty)
        return true
    }

    /// Waits until an element of `weight` would be taken at once (or the queue is closed):
    /// lets a producer hold off making its next element while the queue could not take it.
    func waitForRoom(weight: Int) {
        lock.lock()
        defer { lock.unlock() }
        while !closed && inFlightCount >= minimumInFlight && inFlightWeight + weight > weightLimit {
            lock.wait(.notFull)
        }
    }

    /// The next element and its weight, waiting for one; nil once closed and empty. The
    /// element counts against the limit until `finished(weight:)`.
    func pop() -> (element: Element, weight: Int)? {
        lock.lock()
        defer { lock.unlock() }
        while head == items.count && !closed { lock.wait(.notEmpty) }
        if head == items.count { return nil }
        let item = items[head]!
        items[head] = nil
        head += 1
        if head == items.count { items.removeAll(keepingCapacity: true); head = 0 }
        return item
    }

    /// A popped element's work is done: its weight no longer counts.
    func finished(weight: Int) {
        lock.lock()
        inFlightWeight -= weight
        inFlightCount -= 1
        lock.broadcast(.notFull)
        lock.unlock()
    }

    func close() {
        lock.lock()
        closed = true
        lock.broadcast(.notEmpty)
        lock.broadcast(.notFull)
        lock.unlock()
    }
}
