import Foundation
import PostgresNIO
import SiloMergeCore
import SiloMergePostgres
import SiloMergeTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

// The content streams (ContentStreams) and the unified catalogue (AssetStore) beyond what
// CatalogueContractTests pins: orders (ties, byte order of names and paths), the figures of the
// analysis, hosts in physical identity, names that are not UTF-8, early stops, a write while a
// stream runs, and (PostgreSQL) that streams are cursors and that both backends answer alike.

private let hostA = HostIdentity(id: "host-a", name: "host-a")
private let hostB = HostIdentity(id: "host-b", name: "host-b")

/// Scans `silos` into `store` as `host`.
@discardableResult
private func scanInto(_ store: any CatalogueStore, _ silos: [SiloDefinition], mode: HashMode = .full, metadata: Bool? = nil,
                      host: HostIdentity = hostA) throws -> ScanResult {
    var options = ScanOptions()
    options.hashMode = mode
    options.metadata = metadata
    return try ScanEngine(store: store, host: host).scan(silos, options: options)
}

private func allGroups(_ store: any CatalogueStore, _ query: DuplicateQuery = DuplicateQuery()) throws -> [DuplicateGroup] {
    var out: [DuplicateGroup] = []
    try store.forEachDuplicateGroup(query) { out.append($0); return true }
    return out
}

private func allSizeGroups(_ store: any CatalogueStore) throws -> [[CandidateFile]] {
    var out: [[CandidateFile]] = []
    try store.forEachSizeGroup { out.append($0); return true }
    return out
}

/// "silo/path" of a group's files, in the order given.
private func listed(_ group: DuplicateGroup) -> [String] { group.files.map { "\($0.silo)/\($0.path.display)" } }

/// Runs `body` on another thread; true when it finished within `seconds` (a write that waits
/// for a stream to end would not).
private func finishes(within seconds: Double, _ body: @escaping @Sendable () -> Void) -> Bool {
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread { body(); done.signal() }
    return done.wait(timeout: .now() + seconds) == .success
}

@Suite("Catalogue contract: content streams and the unified catalogue, in depth")
struct ContentContractTests {
    @Test("duplicate groups: largest reclaimable first, ties by digest; files by silo priority, silo name and path in byte order",
          arguments: Backend.all)
    func duplicateGroupOrder(backend: Backend) throws {
        let tree = try TestTree()
        let x = bytes(3_000, seed: 11), y = bytes(1_500, seed: 12), z = bytes(1_000, seed: 13), h = bytes(2_000, seed: 14)
        // Paths that order differently as one string ("a-c/x" < "a/b": '-' < '/') than as
        // (folder, name) ("a" < "a-c"); silo names whose byte order ("B" < "a") is not a
        // dictionary's.
        try tree.write("a/a/b.bin", x)
        try tree.write("a/a-c/x.bin", x)
        try tree.write("B/x.bin", x)
        try tree.write("c/y1.bin", y)
        try tree.write("c/y2.bin", y)
        try tree.write("a/a.bin", y)
        try tree.write("B/z1.bin", z)
        try tree.write("B/z2.bin", z)
        try tree.write("a/z.bin", z)
        try tree.write("c/z.bin", z)
        try tree.write("a/h.bin", h)
        try tree.hardlink("a/h-link.bin", to: "a/h.bin")
        try tree.write("a/u.bin", bytes(700, seed: 15))
        let store = try backend.open(tree)
        try scanInto(store, [tree.silo("a", priority: 1), tree.silo("B", priority: 1), tree.silo("c", priority: 0)])

        let groups = try allGroups(store)
        let (sx, sy, sz) = (try SHA256Hasher.digest(x), try SHA256Hasher.digest(y), try SHA256Hasher.digest(z))
        // x frees 6,000 bytes; y and z free 3,000 each: the smaller digest first. The hard-linked
        // pair is one physical file: no group.
        #expect(groups.map(\.sha256) == [sx] + [sy, sz].sorted())
        #expect(groups.map(\.reclaimableBytes) == [6_000, 3_000, 3_000])
        let byContent = Dictionary(uniqueKeysWithValues: groups.map { ($0.sha256, $0) })
        #expect(listed(try #require(byContent[sx])) == ["B/x.bin", "a/a-c/x.bin", "a/a/b.bin"])
        #expect(listed(try #require(byContent[sy])) == ["c/y1.bin", "c/y2.bin", "a/a.bin"])
        #expect(listed(try #require(byContent[sz])) == ["c/z.bin", "B/z1.bin", "B/z2.bin", "a/z.bin"])
        #expect(byContent[sx]?.physicalCopies == 3 && byContent[sy]?.physicalCopies == 3 && byContent[sz]?.physicalCopies == 4)
        let root = FilePath(tree.url("B").path)
        #expect(byContent[sx]?.files.first?.siloRoot == root && byContent[sx]?.files.first?.absolutePath == root.appending(RelativePath("x.bin")))

        // One silo: only what it holds twice.
        let inA = try allGroups(store, DuplicateQuery(silos: ["a"]))
        #expect(inA.map(listed) == [["a/a-c/x.bin", "a/a/b.bin"]])
        #expect(throws: (any Error).self) { try allGroups(store, DuplicateQuery(silos: ["nobody"])) }

        // Stopping after the first group ends the stream.
        var calls = 0
        try store.forEachDuplicateGroup(DuplicateQuery()) { _ in calls += 1; return false }
        #expect(calls == 1)

        // The analysis' largest groups are the same groups, their files in the same order.
        let analysis = try store.analyse(DuplicateQuery(), top: 1)
        #expect(analysis.largestGroups == [byContent[sx]!])
    }

    @Test("the analysis: totals, hard links, inside and across silos, per silo and the overlap; scoped by silos, sizes, empty files",
          arguments: Backend.all)
    func analysisFigures(backend: Backend) throws {
        let tree = try TestTree()
        let p = bytes(100, seed: 21), q = bytes(200, seed: 22), r = bytes(300, seed: 23)
        try tree.write("s1/p.bin", p)
        try tree.write("s1/p2.bin", p)
        try tree.write("s1/q.bin", q)
        try tree.hardlink("s1/q-link.bin", to: "s1/q.bin")
        try tree.write("s1/e.txt", "")
        try tree.write("s1/e2.txt", "")
        try tree.write("s2/p.bin", p)
        try tree.write("s2/r.bin", r)
        let store = try backend.open(tree)
        try scanInto(store, [tree.silo("s1", priority: 1), tree.silo("s2", priority: 2)])

        let a = try store.analyse(DuplicateQuery(), top: 5)
        var s = DuplicateSummary(files: 8, bytes: 1_000, physicalBytes: 800, unhashedFiles: 0, duplicateGroups: 1, duplicateFiles: 3,
                                 redundantCopies: 2, reclaimableBytes: 200, hardLinkedFiles: 1)
        s.crossSiloContents = 1; s.crossSiloBytes = 100; s.reclaimableInsideSilos = 100; s.reclaimableAcrossSilos = 100
        #expect(a.summary == s)
        // silo: files, bytes, inside, shared bytes, shared files
        #expect(a.silos.map { "\($0.silo): \($0.priority) \($0.files) \($0.bytes) \($0.duplicateBytesInside) \($0.sharedBytes) \($0.sharedFiles)" }
                == ["s1: 1 6 600 100 100 2", "s2: 2 2 400 0 100 1"])
        #expect(a.overlap.map { "\($0.a)×\($0.b): \($0.bytes) \($0.contents)" } == ["s1×s1: 100 1", "s1×s2: 100 1"])
        #expect(a.largestGroups.map(listed) == [["s1/p.bin", "s1/p2.bin", "s2/p.bin"]])

        // Empty files are one content of size 0: a group that frees nothing.
        let withEmpty = try store.analyse(DuplicateQuery(includeEmpty: true), top: 5)
        #expect(withEmpty.summary.duplicateGroups == 2 && withEmpty.summary.duplicateFiles == 5
                && withEmpty.summary.redundantCopies == 3 && withEmpty.summary.reclaimableBytes == 200)
        #expect(try allGroups(store, DuplicateQuery(includeEmpty: true)).map(\.size) == [100, 0])
        // Bigger than 150 bytes: q (one physical file) and r only.
        let big = try store.analyse(DuplicateQuery(minimumSize: 150), top: 5)
        #expect(big.summary.duplicateGroups == 0 && big.summary.files == 8 && big.largestGroups.isEmpty && big.overlap.isEmpty)
        let second = try store.analyse(DuplicateQuery(silos: ["s2"]), top: 5)
        #expect(second.summary.files == 2 && second.summary.bytes == 400 && second.summary.duplicateGroups == 0)
        #expect(second.silos.map(\.silo) == ["s2"] && second.overlap.isEmpty)
        #expect(throws: (any Error).self) { try store.analyse(DuplicateQuery(silos: ["nobody"]), top: 1) }
    }

    @Test("a physical file is (host, device, inode): one inode seen from two hosts is two copies, from one host one",
          arguments: Backend.all)
    func hostsInPhysicalIdentity(backend: Backend) throws {
        let tree = try TestTree()
        let content = bytes(4_000, seed: 31)
        try tree.write("one/x.bin", content)
        try tree.write("two/placeholder.txt", "p")
        try tree.hardlink("two/x-link.bin", to: "one/x.bin")
        let store = try backend.open(tree)
        try scanInto(store, [tree.silo("one")], host: hostA)
        try scanInto(store, [tree.silo("two")], host: hostB)
        // The same (device, inode) numbers on two hosts are two files.
        #expect(try allSizeGroups(store).map { $0.map(\.path.display).sorted() } == [["x-link.bin", "x.bin"]])
        #expect(try allGroups(store).map(\.physicalCopies) == [2])
        let a = try store.analyse(DuplicateQuery(), top: 1)
        #expect(a.summary.hardLinkedFiles == 0 && a.summary.reclaimableBytes == 4_000)

        // Both silos on one host: one physical file, nothing to reclaim, one extra hard link.
        let tree2 = try TestTree()
        try tree2.write("one/x.bin", content)
        try tree2.write("two/placeholder.txt", "p")
        try tree2.hardlink("two/x-link.bin", to: "one/x.bin")
        let same = try backend.open(tree2)
        try scanInto(same, [tree2.silo("one"), tree2.silo("two")], host: hostA)
        #expect(try allSizeGroups(same).isEmpty)
        #expect(try allGroups(same).isEmpty)
        let b = try same.analyse(DuplicateQuery(), top: 1)
        #expect(b.summary.hardLinkedFiles == 1 && b.summary.reclaimableBytes == 0 && b.summary.crossSiloContents == 1)
    }

    @Test("size groups: sizes two physical files share, in size order, with their stats; stopping ends it; the writer stays free",
          arguments: Backend.all)
    func sizeGroups(backend: Backend) throws {
        let tree = try TestTree()
        try tree.write("s/a.bin", bytes(100, seed: 41))
        try tree.write("s/b.bin", bytes(100, seed: 42))
        try tree.write("s/c.bin", bytes(200, seed: 43))
        try tree.hardlink("s/c-link.bin", to: "s/c.bin")
        try tree.write("s/d.bin", bytes(300, seed: 44))
        try tree.write("s/sub/e.bin", bytes(300, seed: 44))
        try tree.write("s/f.bin", bytes(400, seed: 45))
        try tree.write("s/empty1", "")
        try tree.write("s/empty2", "")
        let store = try backend.open(tree)
        try scanInto(store, [tree.silo("s")])
        let silo = try #require(try store.silos().first)
        let groups = try allSizeGroups(store)
        #expect(groups.map { $0.map(\.stat.size) } == [[100, 100], [300, 300]])
        #expect(groups.map { Set($0.map(\.path.display)) } == [["a.bin", "b.bin"], ["d.bin", "sub/e.bin"]])
        let d = try #require(groups.last?.first { $0.path == RelativePath("d.bin") })
        let attributes = try FileManager.default.attributesOfItem(atPath: tree.url("s/d.bin").path)
        let dSHA = try SHA256Hasher.digest(bytes(300, seed: 44))
        #expect(d.siloID == silo.id && d.sha256 == dSHA)
        #expect(d.stat.inode == (attributes[.systemFileNumber] as? NSNumber)?.uint64Value && d.stat.linkCount == 1)
        #expect(Set(groups.flatMap { $0.map(\.fileID) }).count == 4)

        // The scan's hashing workers write while the stream runs: a write through the same
        // catalogue, from another thread, must go through while the consumer holds a group.
        var calls = 0
        var wrote = false
        try store.forEachSizeGroup { _ in
            calls += 1
            wrote = finishes(within: 10) { try? store.setSetting("contract.size-stream", "written") }
            return false
        }
        #expect(calls == 1 && wrote)
        #expect(try store.setting("contract.size-stream") == "written")
    }

    @Test("names that are not UTF-8 come back byte for byte from every stream and list", arguments: Backend.all)
    func nonUTF8Names(backend: Backend) throws {
        let tree = try TestTree()
        let folder: [UInt8] = Array("d".utf8) + [0xE9]          // "d\xE9": Latin-1, not UTF-8
        let name: [UInt8] = Array("f".utf8) + [0xFF] + Array(".bin".utf8)
        let content = bytes(1_234, seed: 51)
        try tree.mkdir("s")
        // s/d\xE9/f\xFF.bin and s/f\xFF.bin hold one content; s/d\xE9/\xFFonly.bin a size of its own.
        let folderPath = Array(tree.url("s").path.utf8) + [0x2F] + folder
        #expect(folderPath.withUnsafeBufferPointer { p in
            (p.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer { Glibc.mkdir($0.baseAddress!, 0o755) }
        } == 0)
        try tree.writeRaw(folder: "s", name: name, content)
        try writeRaw(path: folderPath + [0x2F] + name, content)
        let lonely: [UInt8] = [0xFF] + Array("only.bin".utf8)
        try writeRaw(path: folderPath + [0x2F] + lonely, bytes(77, seed: 52))
        // A FIFO with such a name: seen, not catalogued.
        let fifoName: [UInt8] = Array("pipe".utf8) + [0xE9]
        #expect((folderPath + [0x2F] + fifoName).withUnsafeBufferPointer { p in
            (p.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer { mkfifo($0.baseAddress!, 0o644) }
        } == 0)
        let store = try backend.open(tree)
        var options = ScanOptions()
        options.hashMode = .dupes
        try ScanEngine(store: store, host: hostA).scan([tree.silo("s")], options: options)

        let inFolder = RelativePath(bytes: folder).appending(name)
        let atRoot = RelativePath(bytes: name)
        let groups = try allGroups(store)
        #expect(groups.map { $0.files.map(\.path) } == [[inFolder, atRoot].sorted { a, b in
            // SQLite's path order: bytes of the whole path.
            a.bytes.lexicographicallyPrecedes(b.bytes)
        }])
        #expect(groups.first?.files.contains { $0.absolutePath.bytes == Array(tree.url("s").path.utf8) + [0x2F] + inFolder.bytes } == true)
        #expect(Set(try allSizeGroups(store).flatMap { $0.map(\.path) }) == [inFolder, atRoot])
        #expect(try store.unhashedFiles().map(\.path) == [RelativePath(bytes: folder).appending(lonely)])
        let passedOver = try store.uncatalogued()
        #expect(passedOver.map(\.path) == [RelativePath(bytes: folder).appending(fifoName)] && passedOver.first?.kind == .fifo)
        var assets: [ReconciledAsset] = []
        try Reconciliation.run(store: store) { assets.append($0) }
        #expect(assets.flatMap { $0.copies.map(\.path) }.sorted() == [inFolder, atRoot].sorted())
        #expect(assets.flatMap { $0.copies.map(\.absolutePath.bytes) }.contains(Array(tree.url("s").path.utf8) + [0x2F] + inFolder.bytes))
    }

    @Test("content look-up by digest prefix: any case, odd lengths, limits; formats by bytes then name", arguments: Backend.all)
    func prefixesAndFormats(backend: Backend) throws {
        let tree = try TestTree()
        var digests: [SHA256Digest] = []
        for i in 0..<40 {
            let content = bytes(50 + i, seed: UInt64(60 + i))
            try tree.write("s/f\(i).bin", content)
            digests.append(try SHA256Hasher.digest(content))
        }
        try tree.write("s/copy.bin", bytes(50, seed: 60))
        let store = try backend.open(tree)
        try scanInto(store, [tree.silo("s")], metadata: false)
        let sorted = digests.sorted()
        #expect(try store.contents(withPrefix: "", limit: 100) == sorted)
        #expect(try store.contents(withPrefix: "", limit: 3) == Array(sorted.prefix(3)))
        let target = digests[7]
        for length in [1, 2, 3, 7, 64] {
            let prefix = String(target.hex.prefix(length))
            let expected = sorted.filter { $0.hex.hasPrefix(prefix) }
            #expect(try store.contents(withPrefix: prefix.uppercased(), limit: 100) == expected, "prefix \(prefix)")
            #expect(try store.contents(withPrefix: " " + prefix + "…", limit: 100) == expected, "prefix \(prefix) with noise")
        }
        #expect(try store.contents(withPrefix: target.hex + "0", limit: 5).isEmpty)
        let totals = try store.formatTotals()
        #expect(totals.map(\.format) == ["unknown"] && totals.first?.files == 41)
        #expect(totals.first?.bytes == Int64((0..<40).reduce(0) { $0 + 50 + $1 } + 50))
    }

    @Test("unhashed files name the last problem reading them; sidecars and what was passed over list in path order",
          arguments: Backend.all)
    func plansAccountFor(backend: Backend) throws {
        let tree = try TestTree()
        try tree.write("s/b/unique-1.bin", bytes(11, seed: 71))
        try tree.write("s/a/unique-2.bin", bytes(12, seed: 72))
        try tree.write("s/a/pair-1.bin", bytes(13, seed: 73))
        try tree.write("s/a/pair-2.bin", bytes(13, seed: 73))
        try tree.symlink("s/a/link", to: "pair-1.bin")
        try tree.fifo("s/b/pipe")
        let store = try backend.open(tree)
        try scanInto(store, [tree.silo("s")], mode: .dupes)
        #expect(try store.unhashedFiles().map(\.path.display) == ["a/unique-2.bin", "b/unique-1.bin"])
        #expect(try store.unhashedFiles().allSatisfy { $0.problem == nil && $0.silo == "s" })
        #expect(try store.uncatalogued().map(\.path.display) == ["a/link", "b/pipe"])
        #expect(try store.uncatalogued().map(\.kind) == [.symlink, .fifo])
        let a = try store.analyse(DuplicateQuery(), top: 1)
        #expect(a.summary.unhashedFiles == 2)
        var assets: [ReconciledAsset] = []
        let summary = try Reconciliation.run(store: store) { assets.append($0) }
        #expect(summary.unhashedFiles == 2 && assets.count == 1)
    }

    @Test("the bundled fixtures: same-image groups, sidecars and reconciled records as the truth file says", arguments: Backend.all)
    func fixtures(backend: Backend) throws {
        let (tree, config) = try fixtureTree()
        let store = try backend.open(tree)
        try ScanEngine(store: store, host: hostA).scan(config.silos, options: ScanOptions())
        let groups = try store.sameImageGroups(silos: [])
        let members: [Set<String>] = groups.map { g in Set(g.files.map { "\($0.silo)/\($0.path.display)" }) }
        let jpegs: Set<String> = ["hr/onboarding/welcome-pack/our-products.jpg", "marketing/products/widget-pro/widget-front.jpg",
                                  "training/module-02/images/product-overview.jpg"]
        #expect(members.contains(jpegs))
        #expect(groups.count == 3)
        #expect(groups.allSatisfy { g in g.files == g.files.sorted { ($0.siloPriority, $0.silo, $0.path) < ($1.siloPriority, $1.silo, $1.path) } })
        let jpeg = try #require(groups.first { $0.format == .jpeg })
        #expect(Set(jpeg.fieldsThatDiffer).isSuperset(of: [.title, .description, .keywords, .creator, .rights]))
        #expect(!(try store.sidecarFiles()).isEmpty)
        var assets: [ReconciledAsset] = []
        try Reconciliation.run(store: store, policies: config.reconcile) { assets.append($0) }
        #expect(assets.map(\.sha256) == assets.map(\.sha256).sorted())
        #expect(assets.allSatisfy { a in a.copies == a.copies.sorted { ($0.siloPriority, $0.silo, $0.path) < ($1.siloPriority, $1.silo, $1.path) } })
    }
}

// MARK: - PostgreSQL: both backends alike, cursors

@Suite("Catalogue contract: PostgreSQL answers as SQLite does, and streams through cursors",
       .enabled(if: TestCatalogues.postgresServer != nil, Comment(rawValue: TestCatalogues.postgresSkipReason)))
struct ContentPostgresTests {
    @Test("one tree scanned into both backends: every content stream and list is the same, value for value")
    func sameAnswers() throws {
        let (tree, config) = try fixtureTree()
        // Beside the fixtures: names that are not UTF-8, hard links, empty files, ties.
        try tree.writeRaw(folder: "hr/raw", name: [0x66, 0xE9, 0x2E, 0x6A, 0x70, 0x67], bytes(5_000, seed: 81))
        try tree.writeRaw(folder: "marketing/raw", name: [0xFF, 0x2E, 0x6A, 0x70, 0x67], bytes(5_000, seed: 81))
        try tree.write("hr/ties/one.bin", bytes(600, seed: 82))
        try tree.write("marketing/ties/one.bin", bytes(600, seed: 82))
        try tree.write("hr/ties/two.bin", bytes(600, seed: 83))
        try tree.write("training/ties/two.bin", bytes(600, seed: 83))
        try tree.hardlink("hr/ties/two-link.bin", to: "hr/ties/two.bin")
        try tree.write("hr/ties/empty", "")
        try tree.write("training/ties/empty", "")
        let sqlite = try Backend.sqlite.open(tree)
        let postgres = try Backend.postgres.open(tree)
        for (mode, label) in [(HashMode.dupes, "--hash dupes"), (.full, "--hash full")] {
            var options = ScanOptions()
            options.hashMode = mode
            options.metadata = true
            try ScanEngine(store: sqlite, host: hostA).scan(config.silos, options: options)
            try ScanEngine(store: postgres, host: hostA).scan(config.silos, options: options)
            try expectSame(sqlite, postgres, policies: config.reconcile, label)
        }
    }

    private func expectSame(_ a: any CatalogueStore, _ b: any CatalogueStore, policies: [UnifiedField: ReconcilePolicy]?,
                            _ label: String) throws {
        for query in [DuplicateQuery(), DuplicateQuery(includeEmpty: true), DuplicateQuery(silos: ["training", "hr"], minimumSize: 500)] {
            let x = try a.analyse(query, top: 4), y = try b.analyse(query, top: 4)
            #expect(x.summary == y.summary, "\(label): summary of \(query)")
            #expect(x.silos == y.silos && x.overlap == y.overlap, "\(label): silos and overlap of \(query)")
            #expect(x.largestGroups == y.largestGroups, "\(label): largest groups of \(query)")
            #expect(try allGroups(a, query) == allGroups(b, query), "\(label): duplicate groups of \(query)")
        }
        func sizes(_ store: any CatalogueStore) throws -> [[String]] {
            try allSizeGroups(store).map { $0.map { "\($0.siloID) \($0.path.display) \($0.stat) \($0.sha256?.hex ?? "-")" } }
        }
        #expect(try sizes(a) == sizes(b), "\(label): size groups")
        #expect(try a.contents(withPrefix: "", limit: 1_000) == b.contents(withPrefix: "", limit: 1_000), "\(label): contents")
        #expect(try a.contents(withPrefix: "a", limit: 3) == b.contents(withPrefix: "a", limit: 3), "\(label): contents a…")
        #expect(try a.formatTotals().map { "\($0)" } == b.formatTotals().map { "\($0)" }, "\(label): formats")
        #expect(try a.sameImageGroups(silos: []) == b.sameImageGroups(silos: []), "\(label): same-image groups")
        #expect(try a.sameImageGroups(silos: ["marketing"], minimumSize: 1_000) == b.sameImageGroups(silos: ["marketing"], minimumSize: 1_000))
        let ids = try a.silos().map(\.id)
        #expect(try a.silos().map(\.id) == b.silos().map(\.id))
        func candidates(_ store: any CatalogueStore) throws -> [String] {
            try store.imageHashCandidates(siloIDs: ids).map { "\($0.siloID) \($0.path.display) \($0.size) \($0.mtimeNs) \($0.format) \($0.sha256?.hex ?? "-")" }
        }
        #expect(try candidates(a) == candidates(b), "\(label): image-hash candidates")
        #expect(try a.sidecarFiles() == b.sidecarFiles(), "\(label): sidecars")
        #expect(try a.unhashedFiles() == b.unhashedFiles(), "\(label): unhashed files")
        #expect(try a.uncatalogued() == b.uncatalogued(), "\(label): uncatalogued")
        var x: [ReconciledAsset] = [], y: [ReconciledAsset] = []
        let sx = try Reconciliation.run(store: a, policies: policies) { x.append($0) }
        let sy = try Reconciliation.run(store: b, policies: policies) { y.append($0) }
        #expect(sx.assets == sy.assets && sx.conflicts == sy.conflicts && sx.unhashedFiles == sy.unhashedFiles, "\(label): reconcile summary")
        #expect(x == y, "\(label): reconciled records")
        var readX: [ReconciledAsset] = [], readY: [ReconciledAsset] = []
        _ = try Reconciliation.run(store: a, record: false) { readX.append($0) }
        _ = try Reconciliation.run(store: b, record: false) { readY.append($0) }
        #expect(readX == readY && readY == y, "\(label): read-only reconciliation")
    }

    @Test("streams are cursors: the first group arrives while the rest is still on the server; a stream sees one snapshot")
    func cursors() throws {
        let tree = try TestTree()
        try tree.mkdir("s")
        let store = try Backend.postgres.open(tree)
        let silo = try #require(try store.registerSilos([tree.silo("s")]).first)
        // 30,000 contents held twice (60,000 files), written by SQL: more than a cursor's batch.
        let groups = 30_000
        let admin = try session(for: tree)
        defer { admin.close() }
        try admin.execute("""
            INSERT INTO file (silo_id, dir, name, size, mtime_ns, ctime_ns, dev, ino, nlink, mode, uid, gid, sha256, first_seen_run)
            SELECT \(silo.id), convert_to('gen', 'UTF8'), convert_to('f' || i, 'UTF8'), 1000 + i / 2, 0, 0, 1, 1000000 + i, 1, 33188, 0, 0,
                   sha256(int8send((i / 2)::bigint)), 1
            FROM generate_series(0, \(groups * 2 - 1)) i
            """)
        let application = ClientIdentity.current().applicationName(label: nil)
        var seen = 0
        var fetching: Int64 = -1
        var previous = Int64.max
        var ordered = true
        try store.forEachDuplicateGroup(DuplicateQuery()) { group in
            if seen == 0 {
                // Meanwhile: a session of this process is in the middle of a cursor, and a new
                // duplicate written now is not in this stream.
                fetching = (try? admin.query("""
                    SELECT count(*) FROM pg_stat_activity WHERE application_name = \(application)
                      AND state = 'idle in transaction' AND query LIKE 'FETCH FORWARD % FROM silomerge_cursor_%'
                    """, as: Int64.self).first) ?? -1
                _ = try? admin.execute("""
                    INSERT INTO file (silo_id, dir, name, size, mtime_ns, ctime_ns, dev, ino, nlink, mode, uid, gid, sha256, first_seen_run)
                    SELECT \(silo.id), convert_to('late', 'UTF8'), convert_to('f' || i, 'UTF8'), 999999, 0, 0, 1, 9000000 + i, 1, 33188, 0, 0,
                           sha256('late'::bytea), 1
                    FROM generate_series(1, 2) i
                    """)
            }
            ordered = ordered && group.reclaimableBytes <= previous
            previous = group.reclaimableBytes
            seen += 1
            return true
        }
        #expect(fetching >= 1, "no session of this process was reading through a cursor")
        #expect(seen == groups && ordered)
        #expect(try allGroups(store).count == groups + 1)
        var sizeGroups = 0
        try store.forEachSizeGroup { _ in sizeGroups += 1; return true }
        #expect(sizeGroups == groups + 1)
        let analysis = try store.analyse(DuplicateQuery(), top: 3)
        #expect(analysis.summary.duplicateGroups == groups + 1 && analysis.largestGroups.first?.size == 999_999)
    }
}

// MARK: - Helpers

/// A copy of the bundled fixtures and their configuration.
private func fixtureTree(_ label: String = #function) throws -> (TestTree, SiloMergeConfiguration) {
    let tree = try TestTree(label)
    for item in try FileManager.default.contentsOfDirectory(atPath: fixturesURL.path) {
        try FileManager.default.copyItem(at: fixturesURL.appendingPathComponent(item), to: tree.url(item))
    }
    return (tree, try SiloMergeConfiguration.load(path: tree.url("silomerge.yml").path))
}

/// A session on the tree's PostgreSQL schema, for writing rows directly.
private func session(for tree: TestTree) throws -> PostgresSession {
    let resolver = ConnectionResolver(environment: [:], homeDirectory: nil, osUserName: "silomerge", fileExists: { access($0, F_OK) == 0 })
    return try PostgresSession.connect(try resolver.resolve(uri: try TestCatalogues.postgresURL(for: tree)))
}

/// Writes a file at an absolute path given as bytes.
private func writeRaw(path: [UInt8], _ content: [UInt8]) throws {
    let fd = (path.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer { open($0.baseAddress!, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
    guard fd >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: PathDisplay.escape(path)]) }
    defer { close(fd) }
    _ = content.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
}

/// A file's header facts (its format, and the width and height its structure gives, with the
/// group of their tag) are kept in its columns, not as metadata rows (`HeaderFacts`): what the
/// catalogue gives back as a copy's values must be what the readers gave, in the same place.
@Suite("Catalogue contract: header facts")
struct HeaderFactsContractTests {
    @Test("each copy's values start with the header facts its file's readers gave, and hold them once",
          arguments: Backend.all)
    func headerFactsGivenBack(backend: Backend) throws {
        let tree = try TestTree()
        // Real files of many formats (a JPEG's frame header, a TIFF's IFD0, a raw's SubIFD,
        // PNG, GIF, WebP, PSD, EPS, BMP, ICO, HEIC), a text file and an empty one (format
        // 'other': no format value), and a standalone .xmp file (format 'other' with values
        // of its own: its format value is kept).
        let fixtures = fixturesURL.appendingPathComponent("metadata")
        var names: [String] = []
        for case let url as URL in FileManager.default.enumerator(at: fixtures, includingPropertiesForKeys: nil)!
        where !url.hasDirectoryPath && url.pathExtension != "json" {
            let name = url.path.dropFirst(fixtures.path.count + 1).replacingOccurrences(of: "/", with: "-")
            try tree.write("s/\(name)", Array(try Data(contentsOf: url)))
            names.append(name)
        }
        try tree.write("s/a.heic", Array(try Data(contentsOf: fixturesURL.appendingPathComponent("similar/a.heic"))))
        try tree.write("s/empty.txt", [])
        names += ["a.heic", "empty.txt"]
        #expect(names.count > 30)
        let store = try backend.open(tree)
        try scanInto(store, [tree.silo("s")], metadata: true)

        var seen: [String: [StoredValue]] = [:]
        let run = try #require(try store.runs(limit: 1).first?.id)
        _ = try store.rebuildAssets(runID: run, transform: { sources in
            for c in sources.copies { seen[c.copy.path.display] = c.values }
            return Reconciler().reconcile(sources)
        }, each: { _ in })
        #expect(seen.count == names.count)
        var withDimensions = 0, groups: Set<String> = []
        for name in names {
            let path = tree.url("s/\(name)").path
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            let info = bytes.withUnsafeBytes { ContentInspector.inspect(bytes: $0) }
            let mtime = try Posix.stat(FilePath(path)).get().mtimeNs
            let header = info.values.filter { $0.origin == .header }
            let hasOwn = info.values.contains { $0.origin != .header }
            // As the rows were: none for a file of format 'other' that holds nothing else.
            let expected = info.format == .other && !hasOwn ? [] : header.map {
                StoredValue(field: $0.field, origin: .header, tag: $0.tag, value: $0.value, raw: $0.raw, timeNs: mtime, preferred: true)
            }
            let values = try #require(seen[name], "\(name)")
            #expect(Array(values.prefix(expected.count)) == expected, "\(name)")
            #expect(values.filter { $0.origin == .header }.count == expected.count, "\(name)")
            if expected.count == 3 {
                withDimensions += 1
                groups.insert(String(expected[1].tag.prefix { $0 != ":" }))
            }
        }
        // The tags' groups differ by reader; each must come back as read.
        #expect(withDimensions > 20)
        #expect(groups.isSuperset(of: ["File", "IFD0", "PNG", "GIF", "RIFF", "HEIF"]), "\(groups.sorted())")
    }
}
