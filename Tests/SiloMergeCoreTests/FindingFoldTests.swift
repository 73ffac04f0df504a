import Foundation
import Testing
@testable import SiloMergeCore

/// The rules of a check, fed plain values: no catalogue involved. What a store gives back (a
/// run's changes, its new files, the merge ledger's notes, the copies of a content, the open
/// findings) goes in; findings and open-finding transitions come out.
@Suite("Check findings as folds over a run's changes and new files")
struct FindingFoldTests {
    func digest(_ n: UInt8) -> SHA256Digest { SHA256Digest(hex: String(repeating: String(format: "%02x", n), count: 32))! }
    func state(_ sha: UInt8?, size: Int64 = 100, mtime: Int64 = 1_000) -> Finding.State {
        Finding.State(size: size, mtimeNs: mtime, sha256: sha.map(digest))
    }
    func missing(_ id: Int64, _ silo: String, _ path: String, _ sha: UInt8, siloID: Int64 = 1, inode: UInt64 = 9) -> FindingFold.Change {
        FindingFold.Change(id: id, kind: .missing, siloID: siloID, silo: silo, path: RelativePath(path), old: state(sha),
                           oldInode: FileID(device: 1, inode: inode))
    }
    func newFile(_ id: Int64, _ silo: String, _ path: String, _ sha: UInt8, siloID: Int64 = 1, inode: UInt64) -> FindingFold.NewFile {
        FindingFold.NewFile(id: id, siloID: siloID, silo: silo, path: RelativePath(path), state: state(sha),
                            inode: FileID(device: 1, inode: inode))
    }
    /// Fails the test if asked: `.alerts` never looks at copies.
    func noCopies(_ contents: [SHA256Digest], _ body: (SHA256Digest, [FindingFold.Copy]) throws -> Void) throws {
        Issue.record("copies of \(contents.count) contents asked for")
    }
    let silos = [Silo(id: 1, name: "a", root: FilePath("/a"), priority: 1, lastRunID: nil),
                 Silo(id: 2, name: "b", root: FilePath("/b"), priority: 2, lastRunID: nil)]

    @Test("a vanished file whose content turned up elsewhere is one move, to the path with its name first; the rest are new")
    func movePairedByContent() throws {
        var fold = FindingFold(runID: 5, scope: .alerts, merges: .init())
        fold.add(missing(1, "a", "x/photo.jpg", 7))
        fold.add(newFile(10, "a", "y/copy.jpg", 7, inode: 20))
        fold.add(newFile(11, "b", "z/photo.jpg", 7, siloID: 2, inode: 21))
        let found = try fold.findings(hosts: HostOrdinals(silos), copies: noCopies)
        #expect(found.map(\.kind) == [.new, .moved])
        let move = try #require(found.first { $0.kind == .moved })
        #expect(move.silo == "b" && move.path == RelativePath("z/photo.jpg"))
        #expect(move.oldSilo == "a" && move.oldPath == RelativePath("x/photo.jpg"))
        #expect(move.detail == "moved across silos")
        #expect(found.first { $0.kind == .new }?.path == RelativePath("y/copy.jpg"))
        // Empty content is never a move: every empty file holds it.
        var empty = FindingFold(runID: 5, scope: .alerts, merges: .init())
        empty.add(FindingFold.Change(id: 1, kind: .missing, siloID: 1, silo: "a", path: RelativePath("e"),
                                     old: Finding.State(size: 0, mtimeNs: 1, sha256: .empty)))
        empty.add(FindingFold.NewFile(id: 2, siloID: 1, silo: "a", path: RelativePath("f"),
                                      state: Finding.State(size: 0, mtimeNs: 1, sha256: .empty), inode: FileID(device: 1, inode: 3)))
        #expect(try empty.findings(hosts: HostOrdinals(silos), copies: noCopies).map(\.kind) == [.new, .missing])
    }

    @Test("content that changed behind the same size and mtime is corruption; other changes are modifications")
    func corruptionAndModification() throws {
        var fold = FindingFold(runID: 5, scope: .alerts, merges: .init())
        fold.add(FindingFold.Change(id: 1, kind: .changed, siloID: 1, silo: "a", path: RelativePath("rot"), old: state(1), new: state(2)))
        fold.add(FindingFold.Change(id: 2, kind: .changed, siloID: 1, silo: "a", path: RelativePath("edit"), old: state(1),
                                    new: state(3, size: 101)))
        fold.add(FindingFold.Change(id: 3, kind: .changed, siloID: 1, silo: "a", path: RelativePath("unread"), old: state(1),
                                    new: state(nil, mtime: 2_000)))
        fold.add(FindingFold.Change(id: 4, kind: .content, siloID: 1, silo: "a", path: RelativePath("verified"), old: state(4),
                                    new: state(5)))
        fold.add(FindingFold.Change(id: 5, kind: .changed, siloID: 1, silo: "a", path: RelativePath("touched"), old: state(6),
                                    new: state(6, mtime: 3_000)))
        fold.add(FindingFold.Change(id: 7, kind: .changed, siloID: 1, silo: "a", path: RelativePath("saved"), old: state(1),
                                    new: state(8, mtime: 2_000)))
        fold.add(FindingFold.Change(id: 6, kind: .metadata, siloID: 1, silo: "a", path: RelativePath("drift"), old: state(7),
                                    new: state(7), detail: "manifest: Title"))
        let found = try fold.findings(hosts: HostOrdinals(silos), copies: noCopies)
        #expect(found.map(\.kind) == [.modified, .modified, .modified, .corrupted, .corrupted, .metadataDrift])
        #expect(found.filter { $0.kind == .corrupted }.map(\.path) == [RelativePath("rot"), RelativePath("verified")])
        #expect(found.first { $0.path == RelativePath("unread") }?.detail == "not read: see the warnings")
        #expect(found.first { $0.kind == .metadataDrift }?.detail == "manifest: Title")
    }

    @Test("what a reviewed plan did is merged: not missing, not a move, not new; an undo's return is no news")
    func mergeNotes() throws {
        let notes = FindingFold.MergeNotes(gone: [1: "moved by the apply of plan p"], back: [11], left: [12: "left behind"])
        var fold = FindingFold(runID: 5, scope: .alerts, merges: notes)
        fold.add(missing(1, "a", "x/photo.jpg", 7))
        fold.add(newFile(10, "a", "y/photo.jpg", 7, inode: 20))
        fold.add(newFile(11, "a", "back.jpg", 8, inode: 21))
        fold.add(newFile(12, "a", "photo.xmp", 9, inode: 22))
        let found = try fold.findings(hosts: HostOrdinals(silos), copies: noCopies)
        #expect(found.map(\.kind) == [.new, .merged, .merged])
        #expect(found.first { $0.kind == .new }?.path == RelativePath("y/photo.jpg"))
        #expect(Set(found.filter { $0.kind == .merged }.compactMap(\.detail)) == ["moved by the apply of plan p", "left behind"])
    }

    @Test("new and gone duplicates count physical copies per host: a hard link is one copy, the same inode on two hosts two")
    func duplicatesPerHost() throws {
        var hosted = silos
        hosted[0].host = HostIdentity(id: "h1", name: "one")
        hosted[1].host = HostIdentity(id: "h2", name: "two")
        let old = FindingFold.Copy(siloID: 1, silo: "a", path: RelativePath("old.jpg"), inode: FileID(device: 1, inode: 20), firstSeenRun: 1)
        // Run 5 sees a file in b with the device and inode of a's file, on another host: a second copy.
        var fold = FindingFold(runID: 5, scope: .all, merges: .init())
        fold.add(newFile(30, "b", "new.jpg", 7, siloID: 2, inode: 20))
        let arrived = FindingFold.Copy(siloID: 2, silo: "b", path: RelativePath("new.jpg"), inode: FileID(device: 1, inode: 20), firstSeenRun: 5)
        var asked: [SHA256Digest] = []
        let found = try fold.findings(hosts: HostOrdinals(hosted)) { contents, body in
            asked += contents
            for c in contents { try body(c, [old, arrived]) }
        }
        #expect(asked == [digest(7)])
        #expect(found.map(\.kind) == [.new, .newDuplicate])
        let dup = try #require(found.last)
        #expect(dup.silo == "b" && dup.path == RelativePath("new.jpg") && dup.detail == "2 copies (was 1)")
        // The same file seen on one host: a hard link, no new copy.
        let sameHost = try fold.findings(hosts: HostOrdinals(silos)) { contents, body in for c in contents { try body(c, [old, arrived]) } }
        #expect(sameHost.map(\.kind) == [.new])
        // Run 6 loses b's copy: two copies became one.
        var gone = FindingFold(runID: 6, scope: .all, merges: .init())
        gone.add(missing(40, "b", "new.jpg", 7, siloID: 2, inode: 20))
        let after = try gone.findings(hosts: HostOrdinals(hosted)) { contents, body in for c in contents { try body(c, [old]) } }
        #expect(after.map(\.kind) == [.missing, .duplicateGone])
        #expect(after.last?.detail == "1 copy (was 2)" && after.last?.path == RelativePath("new.jpg"))
    }

    func openFinding(_ id: Int64, _ kind: OpenFinding.Kind, _ silo: String, _ path: String, verified: UInt8?,
                     seen: Finding.State? = nil, detail: String? = nil) -> OpenFinding {
        OpenFinding(id: id, kind: kind, silo: silo, path: RelativePath(path), verified: state(verified), seen: seen, openedRun: 3,
                    openedAt: Date(timeIntervalSince1970: 1_700_000_000), lastRun: 3, detail: detail)
    }
    let started = Date(timeIntervalSince1970: 1_700_100_000)

    @Test("a corrupted file opens a finding; read again still rotten, it stays open and says since when")
    func corruptionKeptOpen() throws {
        let rot = Finding(kind: .corrupted, silo: "a", path: RelativePath("rot"), old: state(1), new: state(2),
                          detail: "content changed, size and mtime did not")
        var first = OpenFindingFold(runID: 3, runStarted: started, runSilos: ["a"], openFindings: [])
        #expect(first.settle([rot], filesAtPaths: [], takenByPlans: []) == [rot])
        #expect(first.transitions == [.open(kind: .corrupted, silo: "a", path: RelativePath("rot"), verified: state(1), seen: state(2),
                                            detail: rot.detail, openedAt: started)])
        // The next run reads other bytes, still not the verified ones: seen again, still open.
        let open = openFinding(7, .corrupted, "a", "rot", verified: 1, seen: state(2))
        let again = Finding(kind: .modified, silo: "a", path: RelativePath("rot"), old: state(2), new: state(3, size: 5))
        var second = OpenFindingFold(runID: 4, runStarted: started, runSilos: ["a"], openFindings: [open])
        let found = second.settle([again], filesAtPaths: [], takenByPlans: [])
        #expect(found.map(\.kind) == [.modified])
        #expect(found[0].detail == "still open: corrupted since run 3 (2023-11-14)")
        #expect(second.transitions == [.sawAgain(id: 7, seen: state(3, size: 5), detail: nil), .stillOpen(id: 7)])
        // A run that did not read silo a leaves it alone.
        var other = OpenFindingFold(runID: 5, runStarted: started, runSilos: ["b"], openFindings: [open])
        #expect(other.settle([], filesAtPaths: [], takenByPlans: []).isEmpty && other.transitions.isEmpty)
    }

    @Test("a finding closes when its file comes back: at its path (restored), elsewhere (moved), in place after an early end")
    func closedWhenBack() throws {
        let gone = openFinding(7, .missing, "a", "x/photo.jpg", verified: 7)
        // Back at its path.
        var back = OpenFindingFold(runID: 4, runStarted: started, runSilos: ["a"], openFindings: [gone])
        let restored = back.settle([Finding(kind: .new, silo: "a", path: RelativePath("x/photo.jpg"), new: state(7))],
                                   filesAtPaths: [], takenByPlans: [])
        #expect(restored.map(\.kind) == [.restored])
        #expect(restored[0].detail == "reads as its verified content again; was missing since run 3 (2023-11-14)")
        #expect(back.transitions == [.close(id: 7, resolution: .restored, detail: nil)])
        // Its content at another path: moved from it.
        var moved = OpenFindingFold(runID: 4, runStarted: started, runSilos: ["a"], openFindings: [gone])
        let found = moved.settle([Finding(kind: .new, silo: "b", path: RelativePath("photo.jpg"), new: state(7))],
                                 filesAtPaths: [], takenByPlans: [])
        #expect(found.map(\.kind) == [.moved] && found[0].oldPath == RelativePath("x/photo.jpg"))
        #expect(found[0].detail == "was missing since run 3 (2023-11-14); moved across silos")
        #expect(moved.transitions == [.close(id: 7, resolution: .moved, detail: "found at b:photo.jpg")])
        // Other bytes at its path: seen, still open.
        var wrong = OpenFindingFold(runID: 4, runStarted: started, runSilos: ["a"], openFindings: [gone])
        _ = wrong.settle([Finding(kind: .new, silo: "a", path: RelativePath("x/photo.jpg"), new: state(8))], filesAtPaths: [], takenByPlans: [])
        #expect(wrong.transitions == [.sawAgain(id: 7, seen: state(8), detail: nil), .stillOpen(id: 7)])
        // Restored by a run that ended early: the catalogue holds the verified content there.
        var late = OpenFindingFold(runID: 4, runStarted: started, runSilos: ["a"], openFindings: [gone])
        let closed = late.settle([], filesAtPaths: [.init(openFindingID: 7, state: state(8)), .init(openFindingID: 7, state: state(7))],
                                 takenByPlans: [])
        #expect(closed.map(\.kind) == [.restored] && late.transitions == [.close(id: 7, resolution: .restored, detail: nil)])
    }

    @Test("a missing file the ledger says a plan took is merged once; a moved file takes its open finding along")
    func mergedAndFollowed() throws {
        let gone = openFinding(7, .missing, "a", "x/photo.jpg", verified: 7)
        let rot = openFinding(8, .corrupted, "a", "rot", verified: 1, seen: state(2), detail: "content changed")
        var fold = OpenFindingFold(runID: 4, runStarted: started, runSilos: ["a"], openFindings: [rot, gone])
        let moveOfRot = Finding(kind: .moved, silo: "a", path: RelativePath("new/rot"), oldSilo: "a", oldPath: RelativePath("rot"),
                                old: state(2), new: state(2))
        let taken = OpenFindingFold.TakenByPlan(openFindingID: 7, plan: "p.json", effect: "removed", operation: 3)
        let found = fold.settle([moveOfRot], filesAtPaths: [], takenByPlans: [taken, taken])
        #expect(found.map(\.kind) == [.moved, .merged])
        #expect(found[0].detail == "still open: corrupted since run 3 (2023-11-14)")
        #expect(found[1].detail == "removed by the apply of plan p.json (operation 3); was missing since run 3 (2023-11-14)")
        #expect(fold.transitions == [
            .follow(id: 8, silo: "a", path: RelativePath("new/rot"), detail: "content changed; moved from a:rot"),
            .close(id: 7, resolution: .merged, detail: found[1].detail),
        ])
    }

    @Test("an accepted corrupted file's content is the new baseline; an accepted missing file is no longer expected")
    func acceptance() {
        #expect(OpenFindingFold.acceptanceDetail(openFinding(1, .corrupted, "a", "rot", verified: 1), reason: "re-saved")
                == "its current content is the new baseline; reason: re-saved")
        #expect(OpenFindingFold.acceptanceDetail(openFinding(2, .missing, "a", "gone", verified: 1), reason: nil) == "no longer expected")
    }
}
