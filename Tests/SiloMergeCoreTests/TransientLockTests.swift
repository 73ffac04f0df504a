import Foundation
import Synchronization
import Testing
@testable import SiloMergeCore
import SiloMergeTestSupport

@Suite("TransientLock: waited for, never two holders of one name, gone when released")
struct TransientLockTests {
    @Test("A second taker waits for the first and then holds a file the name leads to; the file goes with the last holder")
    func waitsAndRecreates() throws {
        let tree = try TestTree()
        let path = tree.root.appendingPathComponent("c.db-open-lock").path
        let first = try #require(try TransientLock.take(path, purpose: "first", exclusive: true, timeout: .seconds(5)))
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("(first)"))
        let order = Mutex<[String]>([])
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            let second = try? TransientLock.take(path, purpose: "second", exclusive: true, timeout: .seconds(20))
            order.withLock { $0.append(second == nil ? "second failed" : "second holds") }
            // The name leads to the file the second taker locked, and says who holds it.
            order.withLock { $0.append((try? String(contentsOfFile: path, encoding: .utf8))?.contains("(second)") == true ? "note" : "no note") }
            second?.release()
            done.signal()
        }
        usleep(200_000)
        order.withLock { $0.append("first releases") }
        first.release()
        #expect(done.wait(timeout: .now() + 30) == .success)
        #expect(order.withLock { $0 } == ["first releases", "second holds", "note"])
        #expect(!FileManager.default.fileExists(atPath: path), "the lock file outlived its last holder")
    }

    @Test("A held lock refuses after the timeout, naming its holder; a reader takes nothing when nobody holds it")
    func timeoutAndReaders() throws {
        let tree = try TestTree()
        let path = tree.root.appendingPathComponent("c.db-open-lock").path
        #expect(try TransientLock.take(path, purpose: "reader", exclusive: false, timeout: .seconds(1)) == nil)
        #expect(!FileManager.default.fileExists(atPath: path), "a reader created the lock file")
        let holder = try #require(try TransientLock.take(path, purpose: "upgrading", exclusive: true, timeout: .seconds(1)))
        let start = ContinuousClock.now
        do {
            _ = try TransientLock.take(path, purpose: "other", exclusive: true, timeout: .milliseconds(300))
            Issue.record("a second exclusive taker got a held lock")
        } catch {
            guard case .held(let text) = error else { Issue.record("\(error)"); return }
            #expect(text.contains("pid \(getpid()) (upgrading)"))
        }
        #expect(ContinuousClock.now - start >= .milliseconds(300))
        do {
            _ = try TransientLock.take(path, purpose: "reader", exclusive: false, timeout: .milliseconds(100))
            Issue.record("a reader got a lock held exclusively")
        } catch {
            guard case .held = error else { Issue.record("\(error)"); return }
        }
        holder.release()
        #expect(try TransientLock.take(path, purpose: "reader", exclusive: false, timeout: .seconds(1)) == nil)
    }

    @Test("A lock file left by a killed holder is taken over")
    func leftBehind() throws {
        let tree = try TestTree()
        let path = tree.root.appendingPathComponent("c.db-open-lock").path
        try Data("pid 1 (killed) since then\n".utf8).write(to: URL(fileURLWithPath: path))
        let held = try #require(try TransientLock.take(path, purpose: "next", exclusive: true, timeout: .seconds(1)))
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("(next)"))
        held.release()
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}

@Suite("TransientLock: a long wait is told once")
struct TransientLockNoticeTests {
    @Test("A taker that waits longer than noticeAfter is told once, with the holder's note; one that does not wait is never told")
    func noticeOnce() throws {
        let tree = try TestTree()
        let path = tree.root.appendingPathComponent("c.db-open-lock").path
        let told = Mutex<[String]>([])
        let quick = try #require(try TransientLock.take(path, purpose: "quick", exclusive: true, timeout: .seconds(5),
                                                        noticeAfter: .zero) { note in told.withLock { $0.append(note) } })
        #expect(told.withLock { $0 }.isEmpty, "a taker that did not wait was told it waits")
        quick.release()

        let holder = try #require(try TransientLock.take(path, purpose: "upgrading", exclusive: true, timeout: .seconds(5)))
        let waiting = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        // Its own thread (the global queue may be busy with other tests), and the holder lets
        // go only once the waiter was told: no race with the scheduler.
        let waiter = Thread {
            let second = try? TransientLock.take(path, purpose: "second", exclusive: true, timeout: .seconds(60),
                                                 noticeAfter: .milliseconds(100)) { note in
                told.withLock { $0.append(note) }
                waiting.signal()
            }
            second?.release()
            done.signal()
        }
        waiter.start()
        #expect(waiting.wait(timeout: .now() + 30) == .success, "the waiter was never told it waits")
        usleep(200_000)   // (still waiting: told once, not again)
        holder.release()
        #expect(done.wait(timeout: .now() + 30) == .success)
        let notes = told.withLock { $0 }
        #expect(notes.count == 1, "\(notes)")
        #expect(notes.first?.hasPrefix("pid \(getpid()) (upgrading) since ") == true, "\(notes)")
    }
}

@Suite("Lock notes: what a lock file says is shown, never obeyed")
struct LockNoteTests {
    @Test("A holder's note with an escape sequence and a line break comes out escaped, in the refusal and the wait notice")
    func hostileNote() throws {
        let tree = try TestTree()
        let path = tree.root.appendingPathComponent("c.db-open-lock").path
        try Data("pid 1 \u{1B}[2J\u{1B}]0;owned\u{07}\nrm -rf".utf8).write(to: URL(fileURLWithPath: path))
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        try #require(flock(fd, LOCK_EX | LOCK_NB) == 0)
        let told = Mutex<[String]>([])
        do {
            _ = try TransientLock.take(path, purpose: "next", exclusive: true, timeout: .milliseconds(300),
                                       noticeAfter: .milliseconds(50)) { note in told.withLock { $0.append(note) } }
            Issue.record("a held lock was taken")
        } catch {
            guard case .held(let text) = error else { Issue.record("\(error)"); return }
            for shown in [text] + told.withLock({ $0 }) {
                #expect(!shown.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, "\(shown.debugDescription)")
                #expect(shown == "pid 1 \\u{1b}[2J\\u{1b}]0;owned\\u{7}\\u{a}rm -rf", "\(shown.debugDescription)")
            }
            #expect(told.withLock { $0.count } == 1)
        }
    }
}
