import Foundation
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

/// Scans `silos` as `host` into the tree's catalogue.
@discardableResult
private func scan(_ tree: TestTree, _ silos: [SiloDefinition], host: HostIdentity?, mode: HashMode = .full) throws -> (ScanResult, SQLiteCatalogue) {
    let store = try SQLiteCatalogue(path: tree.catalogue)
    var options = ScanOptions()
    options.hashMode = mode
    return (try ScanEngine(store: store, host: host).scan(silos, options: options), store)
}

@Suite("Host-aware identity: a file is (host, device, inode); every silo records its host")
struct HostIdentityTests {
    let alpha = HostIdentity(id: "alpha", name: "alpha")
    let beta = HostIdentity(id: "beta", name: "beta")

    @Test("this machine is its machine id (32 hex digits, lowercased); a missing or malformed file falls through to the host name")
    func local() throws {
        let tree = try TestTree()
        try tree.write("good", "3D1219C7C4C5404AAA1F6D2A48ADFDA4\n")
        try tree.write("uninitialized", "uninitialized\n")
        try tree.write("zeros", String(repeating: "0", count: 32))
        let good = try HostIdentity.local(machineIDFiles: [tree.url("missing").path, tree.url("good").path])
        #expect(good.id == "3d1219c7c4c5404aaa1f6d2a48adfda4")
        #expect(!good.name.isEmpty)
        let fallback = try HostIdentity.local(machineIDFiles: [tree.url("uninitialized").path, tree.url("zeros").path])
        #expect(fallback.id.hasPrefix("hostname:") && fallback.id == "hostname:" + fallback.name)
        // --host wins over everything, and is its own id.
        #expect(try HostIdentity.local(named: "nas-2", machineIDFiles: [tree.url("good").path]) == HostIdentity(id: "nas-2", name: "nas-2"))
    }

    @Test("--host refuses an empty name or a control character", arguments: ["", "a\nb", "tab\there", String(repeating: "x", count: 256)])
    func badNames(name: String) {
        #expect(throws: HostIdentityError.self) { try HostIdentity.named(name) }
    }

    @Test("a scan records its host with each silo; another host's scan of that silo is refused (usage error), nothing changed")
    func siloKeepsItsHost() throws {
        let tree = try TestTree()
        try tree.write("a/x.txt", "x")
        let (_, store) = try scan(tree, [tree.silo("a")], host: alpha)
        #expect(try store.silos().map(\.host) == [alpha])
        try tree.write("a/y.txt", "y")
        #expect {
            try scan(tree, [tree.silo("a")], host: beta)
        } throws: { error in
            guard case .otherHost(let silo, let host, let here) = error as? ScanError else { return false }
            return silo == "a" && host == alpha && here == beta && (error as! ScanError).isUsageError
                && "\(error)".contains("give --host alpha")
        }
        #expect(try store.runs(limit: nil).count == 1)
        // The same host again scans it.
        let (again, _) = try scan(tree, [tree.silo("a")], host: alpha)
        #expect(again.counts.filesNew == 1)
    }

    @Test("hard links seen from two hosts are two physical files: duplicates, physical bytes and --hash dupes count them per host")
    func perHostCollapsing() throws {
        let tree = try TestTree()
        let content = bytes(10_000, seed: 11)
        try tree.write("a/photo.jpg", content)
        try tree.mkdir("b")
        try tree.hardlink("b/photo.jpg", to: "a/photo.jpg")
        // One host: one physical file with two names; nothing to reclaim.
        do {
            let (_, store) = try scan(tree, [tree.silo("a"), tree.silo("b", priority: 2)], host: alpha)
            let analysis = try store.analyse(DuplicateQuery(), top: 5)
            #expect(analysis.summary.reclaimableBytes == 0)
            #expect(analysis.summary.hardLinkedFiles == 1)
            #expect(analysis.summary.physicalBytes == 10_000)
        }
        // Two hosts that happen to report the same device and inode: two files.
        try tree.removeCatalogue()
        _ = try scan(tree, [tree.silo("a")], host: alpha, mode: .dupes)
        let (second, _) = try scan(tree, [tree.silo("b", priority: 2)], host: beta, mode: .dupes)
        // --hash dupes: the two form a size group of two physical files, so each scan hashes
        // its own (a silo of another host cannot be read here).
        #expect(second.counts.filesHashed == 1)
        let (third, store) = try scan(tree, [tree.silo("a")], host: alpha, mode: .dupes)
        #expect(third.counts.filesHashed == 1)
        let analysis = try store.analyse(DuplicateQuery(), top: 5)
        #expect(analysis.summary.reclaimableBytes == 10_000)
        #expect(analysis.summary.hardLinkedFiles == 0)
        #expect(analysis.summary.physicalBytes == 20_000)
        #expect(analysis.largestGroups.map(\.physicalCopies) == [2])
        #expect(try groups(store) == [["a/photo.jpg", "b/photo.jpg"]])
    }

    @Test("check: a hard link that appears in another host's silo is a new duplicate there (two physical files)")
    func newDuplicateAcrossHosts() throws {
        let tree = try TestTree()
        try tree.write("a/photo.jpg", bytes(3_000, seed: 9))
        try tree.mkdir("b")
        try scan(tree, [tree.silo("a")], host: alpha)
        let (_, store) = try scan(tree, [tree.silo("b", priority: 2)], host: beta)
        try tree.hardlink("b/photo.jpg", to: "a/photo.jpg")
        let check = try CheckEngine(store: store, host: beta).check(silos: ["b"])
        #expect(check.findings.map(\.kind).contains(.new))
        #expect(check.findings.contains { $0.kind == .newDuplicate && $0.detail == "2 copies (was 1)" })
    }

    @Test("the hash of a hard link is taken from the catalogue only from a silo of the same host")
    func linkedHashPerHost() throws {
        let tree = try TestTree()
        try tree.write("a/doc.pdf", bytes(5_000, seed: 5))
        try tree.mkdir("b")
        try tree.mkdir("c")
        try tree.hardlink("b/doc.pdf", to: "a/doc.pdf")
        try tree.hardlink("c/doc.pdf", to: "a/doc.pdf")
        _ = try scan(tree, [tree.silo("a")], host: alpha)
        let (same, _) = try scan(tree, [tree.silo("b", priority: 2)], host: alpha)
        #expect(same.counts.hashesReused == 1 && same.counts.filesHashed == 0)
        let (other, _) = try scan(tree, [tree.silo("c", priority: 3)], host: beta)
        #expect(other.counts.hashesReused == 0 && other.counts.filesHashed == 1)
    }
}
