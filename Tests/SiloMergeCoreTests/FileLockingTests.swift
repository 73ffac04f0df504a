import Foundation
import Synchronization
import Testing
@testable import SiloMergeCore
import SiloMergeTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A lock this process has let go of must not look held by "another silomerge" because another
/// thread is spawning a process at that moment: the child shares every open file description
/// (`O_CLOEXEC` ones too) until it executes its program, and a `flock` lives as long as its
/// open file description. CI once failed on it: an in-process apply, resumed right after a
/// simulated crash, was refused as "being deduplicated in place by another silomerge" while
/// the end-to-end tests spawned `silomerge` from other threads. Every holder must therefore
/// unlock (`LOCK_UN`, which acts on the shared description) before it closes.
@Suite("File locks: a child spawned by another thread is not another holder")
struct FileLockingTests {
    /// Spawns `/bin/true` from `threads` threads until `body` returns; `body` starts once 20
    /// processes have been spawned, and is given the count so far.
    func whileSpawning<R>(threads: Int = 4, _ body: (borrowing Atomic<Int>) throws -> R) rethrows -> R {
        let stop = Atomic<Bool>(false)
        let spawned = Atomic<Int>(0)
        let group = DispatchGroup()
        for _ in 0..<threads {
            DispatchQueue.global().async(group: group) {
                let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
                defer { free(argv[0]) }
                while !stop.load(ordering: .relaxed) {
                    var pid: pid_t = 0
                    if posix_spawn(&pid, "/bin/true", nil, nil, argv, environ) == 0 {
                        var status: Int32 = 0
                        _ = waitpid(pid, &status, 0)
                        spawned.add(1, ordering: .relaxed)
                    }
                }
            }
        }
        defer {
            stop.store(true, ordering: .relaxed)
            group.wait()
        }
        while spawned.load(ordering: .relaxed) < 20 { usleep(1000) }
        return try body(spawned)
    }

    /// `ExclusiveLock` (catalogue scan lock, plan lock, journal lock) has always unlocked first;
    /// this keeps it so.
    @Test("Taken and released while other threads spawn 300 processes: never refused")
    func releasedLockNotHeldByChildren() throws {
        let tree = try TestTree()
        let path = tree.root.appendingPathComponent("catalogue.db-lock").path
        let refused = whileSpawning { spawned -> [String] in
            var refused: [String] = []
            var i = 0
            // At least 300 rounds, and on while fewer than 300 processes were spawned.
            while i < 300 || spawned.load(ordering: .relaxed) < 300 {
                defer { i += 1 }
                do {
                    let fd = try ExclusiveLock.take(path, purpose: "round \(i)")
                    ExclusiveLock.release(fd)
                } catch {
                    refused.append("round \(i): \(error)")
                }
            }
            return refused
        }
        #expect(refused.isEmpty, "\(refused.count) refusals, first: \(refused.first ?? "")")
    }

    @Test("In-place apply and undo, again and again in one process, while other threads spawn 300 processes: never refused as busy")
    func inPlaceRunsNotHeldByChildren() throws {
        let f = try standardFixture()
        let before = f.silosSnapshot
        let problems = try whileSpawning { spawned -> [String] in
            var problems: [String] = []
            var round = 0
            while round < 4 || spawned.load(ordering: .relaxed) < 300, round < 200 {
                defer { round += 1 }
                // Undo gives each name a file of its own again: plan afresh each round.
                let plan = try f.inPlacePlan(.hardlink)
                do {
                    let applied = try Applier(plan: plan, journal: f.journal).apply()
                    if !applied.isComplete { problems.append("round \(round): apply \(applied.refused) \(applied.failed)") }
                    let undone = try Applier(plan: plan, journal: f.journal).undo()
                    if !undone.isComplete { problems.append("round \(round): undo \(undone.left) \(undone.failed)") }
                } catch {
                    problems.append("round \(round): \(error)")
                }
                try? FileManager.default.removeItem(atPath: f.journal.string!)
            }
            return problems
        }
        #expect(problems.isEmpty, "\(problems.count) problems, first: \(problems.first ?? "")")
        #expect(f.silosSnapshot == before)
    }
}
