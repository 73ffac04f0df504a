import Foundation
import Synchronization
import Testing
@testable import SiloMergeCore

/// The queue between the size-group stream and the `--hash dupes` workers: what it holds, plus
/// what the workers hold, is what that stage costs in memory.
@Suite("Weighted queue: groups in flight bounded by their files")
struct WeightedQueueTests {
    final class Payload: Sendable { let n: Int; init(_ n: Int) { self.n = n } }

    @Test("a push waits while the weight in flight would pass the limit, until a consumer finishes")
    func boundsWeightInFlight() async throws {
        let queue = WeightedQueue<Int>(weightLimit: 10, minimumInFlight: 1)
        #expect(queue.push(1, weight: 6))
        let pushed = Mutex<Bool>(false)
        let thread = Thread {
            queue.push(2, weight: 6)
            pushed.withLock { $0 = true }
        }
        thread.start()
        // Popping does not release the weight: the element is still being worked on.
        let first = try #require(queue.pop())
        #expect(first.element == 1 && first.weight == 6)
        try await Task.sleep(for: .milliseconds(200))
        let early = pushed.withLock { $0 }
        #expect(!early)
        queue.finished(weight: first.weight)
        for _ in 0..<200 where !pushed.withLock { $0 } { try await Task.sleep(for: .milliseconds(10)) }
        let late = pushed.withLock { $0 }
        #expect(late)
        #expect(queue.pop()?.element == 2)
        queue.close()
        #expect(queue.pop() == nil)
    }

    @Test("waitForRoom holds a producer back until an element like the last would be taken")
    func waitForRoomHoldsTheProducer() async throws {
        let queue = WeightedQueue<Int>(weightLimit: 10, minimumInFlight: 1)
        #expect(queue.push(1, weight: 6))
        let through = Mutex<Bool>(false)
        let thread = Thread {
            queue.waitForRoom(weight: 6)
            through.withLock { $0 = true }
        }
        thread.start()
        let item = try #require(queue.pop())
        try await Task.sleep(for: .milliseconds(200))
        let early = through.withLock { $0 }
        #expect(!early)
        queue.finished(weight: item.weight)
        for _ in 0..<200 where !through.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
        let late = through.withLock { $0 }
        #expect(late)
        queue.close()
    }

    @Test("an element heavier than the limit is taken while fewer than the minimum are in flight")
    func heavyElementsStillFlow() {
        let queue = WeightedQueue<Int>(weightLimit: 10, minimumInFlight: 2)
        // Two heavy groups: one per worker, neither waits.
        #expect(queue.push(1, weight: 100))
        #expect(queue.push(2, weight: 100))
        #expect(queue.pop()?.element == 1)
        #expect(queue.pop()?.element == 2)
        queue.finished(weight: 100)
        queue.finished(weight: 100)
        queue.close()
        // Closed: a push is refused instead of waiting forever.
        #expect(!queue.push(3, weight: 1))
    }

    @Test("a popped element is not kept alive by the queue")
    func poppedElementIsReleased() throws {
        let queue = WeightedQueue<Payload>(weightLimit: 1_000, minimumInFlight: 2)
        weak var watched: Payload?
        do {
            let payload = Payload(1)
            watched = payload
            queue.push(payload, weight: 1)
            queue.push(Payload(2), weight: 1)
        }
        do {
            let item = try #require(queue.pop())
            #expect(item.element.n == 1)
        }
        // The second element is still queued, so the queue's storage is not reset: the popped
        // slot itself must have let go.
        #expect(watched == nil)
        queue.close()
    }
}
