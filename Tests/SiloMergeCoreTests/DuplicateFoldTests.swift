import Foundation
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

/// The duplicate analysis folds over an in-memory content stream: no catalogue involved.
@Suite("Duplicate analysis as a fold over ordered content rows")
struct DuplicateFoldTests {
    let silos = [Silo(id: 10, name: "a", root: FilePath("/a"), priority: 1, lastRunID: nil),
                 Silo(id: 20, name: "b", root: FilePath("/b"), priority: 2, lastRunID: nil),
                 Silo(id: 30, name: "c", root: FilePath("/c"), priority: 3, lastRunID: nil)]

    func copy(_ silo: Int64, _ inode: UInt64, host: Int32 = 0, device: UInt64 = 1) -> ContentCopy {
        ContentCopy(silo: silo, physical: PhysicalFileID(host: host, file: FileID(device: device, inode: inode)))
    }
    func digest(_ n: UInt8) -> SHA256Digest { SHA256Digest(hex: String(repeating: String(format: "%02x", n), count: 32))! }

    @Test("reclaimable bytes split inside and across silos; hard links are one copy; per host they are not")
    func reclaimable() {
        var fold = DuplicateFold(silos: silos, top: 10)
        // Content 1 (100 bytes): twice in a, once in b → 2 redundant: 1 across, 1 inside a.
        fold.add(sha: digest(1), size: 100, copies: [copy(10, 1), copy(10, 2), copy(20, 3)])
        // Content 2 (50 bytes): one inode linked from a and b → no duplicate.
        fold.add(sha: digest(2), size: 50, copies: [copy(10, 4), copy(20, 4)])
        // Content 3 (70 bytes): the same device and inode on two hosts → two files.
        fold.add(sha: digest(3), size: 70, copies: [copy(10, 5, host: 0), copy(30, 5, host: 1)])
        // Content 4 (999 bytes): unique.
        fold.add(sha: digest(4), size: 999, copies: [copy(20, 6)])
        let s = fold.summary
        #expect(s.duplicateGroups == 2)
        #expect(s.reclaimableBytes == 200 + 70)
        #expect(s.reclaimableAcrossSilos == 100 + 70 && s.reclaimableInsideSilos == 100)
        #expect(s.redundantCopies == 3 && s.duplicateFiles == 5)
        #expect(s.crossSiloContents == 3 && s.crossSiloBytes == 100 + 50 + 70)
        #expect(DuplicateFold.physicalCopies([copy(10, 4), copy(20, 4)]) == 1)
        #expect(DuplicateFold.physicalCopies([copy(10, 5, host: 0), copy(30, 5, host: 1)]) == 2)
        #expect(fold.statistics.map(\.duplicateBytesInside) == [100, 0, 0])
        #expect(fold.statistics.map(\.sharedFiles) == [4, 2, 1])
        #expect(fold.overlap == [SiloOverlap(a: "a", b: "a", bytes: 100, contents: 1),
                                 SiloOverlap(a: "a", b: "b", bytes: 150, contents: 2),
                                 SiloOverlap(a: "a", b: "c", bytes: 70, contents: 1)])
    }

    @Test("the largest groups: by reclaimable bytes, at most top, with their files from the store")
    func largest() throws {
        var fold = DuplicateFold(silos: silos, top: 2)
        fold.add(sha: digest(1), size: 10, copies: [copy(10, 1), copy(20, 2), copy(30, 3)])   // 20 reclaimable
        fold.add(sha: digest(2), size: 500, copies: [copy(10, 4), copy(20, 5)])              // 500
        fold.add(sha: digest(3), size: 30, copies: [copy(10, 6), copy(20, 7)])               // 30
        var asked: [SHA256Digest] = []
        let analysis = fold.finish { sha, _ in asked.append(sha); return [] }
        #expect(analysis.largestGroups.map(\.sha256) == [digest(2), digest(3)])
        #expect(analysis.largestGroups.map(\.physicalCopies) == [2, 2])
        #expect(asked == [digest(2), digest(3)])
        #expect(DuplicateFold(silos: silos, top: 0).finish { _, _ in [] }.largestGroups.isEmpty)
    }

    @Test("totals and hard links: physical bytes count each physical file once; silos outside the query are ignored")
    func totals() {
        var fold = DuplicateFold(silos: Array(silos.prefix(2)), top: 0)
        fold.addTotals(silo: 10, files: 3, bytes: 300, unhashed: 1)
        fold.addTotals(silo: 20, files: 2, bytes: 50, unhashed: 0)
        fold.addTotals(silo: 30, files: 9, bytes: 9_000, unhashed: 9)
        fold.setHardLinks(extraPaths: 1, extraBytes: 25)
        #expect(fold.summary.files == 5 && fold.summary.bytes == 350 && fold.summary.unhashedFiles == 1)
        #expect(fold.summary.hardLinkedFiles == 1 && fold.summary.physicalBytes == 325)
        #expect(fold.statistics.map(\.files) == [3, 2])
    }
}
