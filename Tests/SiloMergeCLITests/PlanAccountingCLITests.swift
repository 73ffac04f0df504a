import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `é` as one code point (NFC) and as `e` + a combining acute accent (NFD): two different
/// names on Linux, one and the same name to Swift's `String ==`.
let nfcName: [UInt8] = [0xC3, 0xA9] + Array(".txt".utf8)
let nfdName: [UInt8] = [0x65, 0xCC, 0x81] + Array(".txt".utf8)

@Suite("silomerge plan and apply: names that differ only by Unicode form, end to end")
struct UnicodeFormCLITests {
    /// Silo a holds two different files named NFC `é.txt` and NFD `é.txt` in one folder; silo b
    /// holds a copy of each, crossed, under the same two names. Every --duplicates mode, with
    /// --method move: plan, apply, verify, undo.
    @Test("NFC and NFD names in one folder: every --duplicates mode plans, applies, verifies and undoes",
          arguments: ["keep", "remove", "quarantine", "hardlink"])
    func nfcAndNFD(mode: String) throws {
        let ws = try Workspace("nfc\(mode)")
        let first = Array("the first content\n".utf8), second = Array("the second content, longer\n".utf8)
        RawTree.write(ws.url.path, Array("a/photos/".utf8) + nfcName, first)
        RawTree.write(ws.url.path, Array("a/photos/".utf8) + nfdName, second)
        RawTree.write(ws.url.path, Array("b/dup/".utf8) + nfcName, second)
        RawTree.write(ws.url.path, Array("b/dup/".utf8) + nfdName, first)
        let before = RawTree.list(ws.url.path + "/a").merging(RawTree.list(ws.url.path + "/b").map { (Array("b/".utf8) + $0.key, $0.value) }) { a, _ in a }
        #expect(before.values.filter { $0.kind == .file }.count == 4)

        let scan = try ws.run("scan", "a", "b")
        #expect(scan.status == 0, "\(scan.stderr)")
        let plan = try ws.run("plan", "--target", "dam", "-o", "plan.json", "--method", "move", "--duplicates", mode)
        #expect(plan.status == 0, "\(mode): \(plan.stderr)")
        let applied = try ws.run("apply", "plan.json")
        #expect(applied.status == 0, "\(mode): \(applied.stderr)")
        let verify = try ws.run("verify", "plan.json")
        #expect(verify.status == 0, "\(mode): \(verify.out)")

        // Both contents are in the target; both canonical names left silo a.
        let target = RawTree.list(ws.url.path + "/dam", foldersToo: false, stopAt: [Array(".silomerge-quarantine".utf8)])
        #expect(Set(target.values.filter { $0.kind == .file }.map(\.data)) == [first, second], "\(mode): \(target.keys.map(RawTree.show))")
        let a = RawTree.list(ws.url.path + "/a", foldersToo: false)
        #expect(a.isEmpty, "\(mode): left in a: \(a.keys.map(RawTree.show))")
        let b = RawTree.list(ws.url.path + "/b", foldersToo: false)
        let quarantine = RawTree.list(ws.url.path + "/dam/.silomerge-quarantine", foldersToo: false)
        switch mode {
        case "remove":
            #expect(b.isEmpty)
        case "quarantine":
            #expect(b.isEmpty)
            #expect(quarantine[Array("b/dup/".utf8) + nfcName]?.data == second)
            #expect(quarantine[Array("b/dup/".utf8) + nfdName]?.data == first)
        default:   // keep, hardlink: both names still there with their own content
            #expect(b[Array("dup/".utf8) + nfcName]?.data == second)
            #expect(b[Array("dup/".utf8) + nfdName]?.data == first)
        }

        let undo = try ws.run("undo", "plan.json")
        #expect(undo.status == 0, "\(mode): \(undo.stderr)")
        let after = RawTree.list(ws.url.path + "/a").merging(RawTree.list(ws.url.path + "/b").map { (Array("b/".utf8) + $0.key, $0.value) }) { a, _ in a }
        #expect(after == before, "\(mode): undo did not restore the silos byte for byte")
        #expect(RawTree.list(ws.url.path + "/dam", foldersToo: false).isEmpty)
    }
}
