import Foundation
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

@Suite("--profile: where a scan's time went, by stage")
struct ScanProfileTests {
    /// Forty files of 256 KiB in two silos, a few folders deep.
    func makeSilos(_ tree: TestTree) throws -> [SiloDefinition] {
        for i in 0..<40 {
            try tree.write("\(i % 2 == 0 ? "a" : "b")/d\(i % 5)/f\(i).bin", bytes(256 * 1024, seed: UInt64(i + 1)))
        }
        return [tree.silo("a", priority: 1), tree.silo("b", priority: 2)]
    }

    func profiledScan(_ tree: TestTree, _ silos: [SiloDefinition], mode: HashMode = .full,
                      hooks: ScanEngine.TestHooks? = nil) throws -> ScanResult {
        let store = try SQLiteCatalogue(path: tree.catalogue)
        var options = ScanOptions()
        options.hashMode = mode
        options.jobs = 2
        return try ScanEngine(store: store, testHooks: hooks, profile: true).scan(silos, options: options)
    }

    @Test("Every stage a full scan goes through is measured, and the reads are the scan's reads")
    func fullScan() throws {
        let tree = try TestTree()
        let silos = try makeSilos(tree)
        let result = try profiledScan(tree, silos)
        let p = try #require(result.profile)
        #expect(p.workers == 2)
        #expect(p.stages.map(\.stage) == ScanProfile.Stage.allCases)
        #expect(p[.read].count == result.counts.filesHashed)
        #expect(p[.read].bytes + p[.imageHash].bytes == result.counts.bytesHashed)
        #expect(p[.read].bytes == 40 * 256 * 1024)
        #expect(p[.open].count >= 40)
        #expect(p[.stat].count == 40 + 10)        // 40 files and 10 folders, listed
        #expect(p[.walk].count == 2 + 10)         // the two roots and their folders
        for stage: ScanProfile.Stage in [.walk, .stat, .open, .read, .hash] {
            #expect(p[stage].threadSeconds > 0, "\(stage)")
        }
        #expect(p[.catalogueWrite].count >= 40)
        // Stage times are thread-seconds: at most every worker busy the whole run.
        #expect(p.workerSeconds <= Double(p.workers) * p.wallSeconds * 1.05 + 0.01)
        #expect(p.wallSeconds > 0 && p.userSeconds + p.systemSeconds > 0)
        #expect(!p.verdict.isEmpty)
    }

    @Test("Without --profile nothing is collected")
    func off() throws {
        let tree = try TestTree()
        let (result, _) = try scan(tree, try makeSilos(tree))
        #expect(result.profile == nil)
        #expect(result.counts.filesHashed == 40)
    }

    @Test("--hash dupes: the quick reads and the comparison of copies are reads too")
    func dupes() throws {
        let tree = try TestTree()
        var silos = try makeSilos(tree)
        try tree.write("b/copy.bin", bytes(256 * 1024, seed: 1))   // a copy of a/d0/f0.bin
        silos = [tree.silo("a", priority: 1), tree.silo("b", priority: 2)]
        let result = try profiledScan(tree, silos, mode: .dupes)
        let p = try #require(result.profile)
        #expect(p[.read].bytes == result.counts.bytesHashed)
        #expect(p[.read].bytes >= 2 * 256 * 1024)
        #expect(p[.hash].threadSeconds > 0)
    }

    @Test("A slow catalogue writer: the catalogue stage dominates, and the verdict names it")
    func slowCatalogue() throws {
        let tree = try TestTree()
        let silos = try makeSilos(tree)
        let batches = Locked(0)
        // Each batch the writer applies takes 0.4 s more.
        let hooks = ScanEngine.TestHooks(beforeApply: { _ in
            batches.withLock { $0 += 1 }
            usleep(400_000)
        })
        let result = try profiledScan(tree, silos, hooks: hooks)
        let p = try #require(result.profile)
        let slept = Double(batches.value) * 0.4
        #expect(batches.value >= 1)
        #expect(p[.catalogueWrite].threadSeconds >= slept * 0.95)
        #expect(p[.catalogueWait].threadSeconds > 0)
        for stage in ScanProfile.Stage.workerStages {
            #expect(p[.catalogueWrite].threadSeconds > p[stage].threadSeconds, "\(stage)")
        }
        #expect(p[.catalogueWrite].threadSeconds / p.wallSeconds >= 0.5)
        #expect(p.verdict.contains("the catalogue is the limit"), "\(p.verdict)")
    }

    @Test("The verdict follows the figures: reading, hashing, listing")
    func verdicts() {
        func profile(_ seconds: [ScanProfile.Stage: Double], bytes: Int64 = 0, wall: Double = 10, cpu: Double = 20) -> ScanProfile {
            ScanProfile(wallSeconds: wall, userSeconds: cpu * 0.75, systemSeconds: cpu * 0.25, workers: 2,
                        stages: ScanProfile.Stage.allCases.map {
                            .init(stage: $0, threadSeconds: seconds[$0] ?? 0, count: 1, bytes: $0 == .read ? bytes : 0)
                        })
        }
        let reading = profile([.read: 14.2, .hash: 4, .walk: 1.8], bytes: 540_000_000)
        #expect(reading.verdict.hasPrefix("reading took 71 % of the workers' time at "), "\(reading.verdict)")
        #expect(reading.verdict.contains("the storage is the limit"))
        #expect(reading.verdict.contains(Format.bytes(38_028_169) + "/s"), "\(reading.verdict)")
        let hashing = profile([.read: 3, .hash: 15, .walk: 1])
        #expect(hashing.verdict == "hashing took 79 % of the workers' time: CPU-bound", "\(hashing.verdict)")
        // Stage times are elapsed: with little CPU time behind them, the threads were waiting.
        let starved = profile([.read: 3, .hash: 15, .walk: 1], cpu: 4)
        #expect(starved.verdict.hasSuffix("; the process used 4.00 CPU-seconds for 19.00 thread-seconds in its stages: "
                                          + "its threads mostly waited (for the storage, or for a CPU on a busy machine)"),
                "\(starved.verdict)")
        let listing = profile([.walk: 2, .stat: 9, .read: 1], wall: 8)
        #expect(listing.verdict.hasPrefix("stat-ing entries took 75 %"), "\(listing.verdict)")
        #expect(listing.verdict.contains("the workers were busy for 75 % of the run") == false)
        let idle = profile([.read: 1, .hash: 1], wall: 10)
        #expect(idle.verdict.contains("the workers were busy for 10 % of the run"), "\(idle.verdict)")
        // A writer busy most of the run that nobody waited for is not the limit.
        let writer = profile([.read: 10, .hash: 5, .catalogueWrite: 9])
        #expect(!writer.verdict.contains("the catalogue is the limit"))
        let tiny = profile([.metadata: 0.011, .read: 0.001], wall: 0.08, cpu: 0.04)
        #expect(tiny.verdict == "the workers spent 0.01 thread-seconds in their stages: too little to tell what limits a run",
                "\(tiny.verdict)")
        let behind = profile([.read: 2, .hash: 1, .catalogueWrite: 9, .catalogueWait: 6])
        #expect(behind.verdict.hasPrefix("the catalogue writer was busy for 90 % of the run and threads waited 6.00 thread-seconds"),
                "\(behind.verdict)")
    }
}
