import Foundation
import SiloMergeCore
import SiloMergeTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

// What ScanSink and FolderIndex promise beyond what CatalogueContractTests.swift pins: names
// that are not UTF-8, the order of folder listings, batches that touch one file twice, streams
// longer than one fetch, manifests longer than one look-up, what a second session sees, and two
// scanners writing into one catalogue at once.

private let host = HostIdentity(id: "contract-host", name: "contract-host")

@discardableResult
private func scanInto(_ store: any CatalogueStore, _ silos: [SiloDefinition], mode: HashMode = .full,
                      hooks: ScanEngine.TestHooks? = nil, as scanner: HostIdentity = host) throws -> ScanResult {
    var options = ScanOptions()
    options.hashMode = mode
    return try ScanEngine(store: store, testHooks: hooks, host: scanner).scan(silos, options: options)
}

private func names(_ entries: [StoredEntry]) -> [[UInt8]] { entries.map(\.name) }

/// A file row for a batch written by hand (no file on disk needed).
private func row(_ silo: Int64, _ dir: String, _ name: String, size: Int64 = 10, inode: UInt64, sha: SHA256Digest? = nil) -> FileRow {
    let stat = FileStat(size: size, mtimeNs: 1_700_000_000_000_000_000, ctimeNs: 1_700_000_000_000_000_000, device: 42, inode: inode,
                        linkCount: 1, mode: 0o100644, uid: 1000, gid: 1000)
    return FileRow(siloID: silo, dir: RelativePath(dir), name: Array(name.utf8), stat: stat, sha256: sha, hashedAt: sha == nil ? nil : Date())
}

/// Makes a folder whose name is raw bytes (possibly not UTF-8) inside `parent`.
private func mkdirRaw(_ tree: TestTree, parent: String, name: [UInt8]) {
    let path = Array(tree.url(parent).path.utf8) + [0x2F] + name + [0]
    let made = path.withUnsafeBufferPointer { p in p.withMemoryRebound(to: CChar.self) { mkdir($0.baseAddress!, 0o755) } }
    precondition(made == 0, "mkdir failed: \(errno)")
}

@Suite("Catalogue contract: scan batches, folder readers, manifests, concurrent scanners")
struct ScanSinkContractTests {
    @Test("names and folders that are not UTF-8 come back byte for byte, and vanish by their exact bytes", arguments: Backend.all)
    func nonUTF8Names(backend: Backend) throws {
        let tree = try TestTree()
        let latin1: [UInt8] = Array("caf".utf8) + [0xE9] + Array(".txt".utf8)          // "café" in Latin-1
        let folder: [UInt8] = [0xFF, 0xFE, 0x20, 0x64]                                   // not UTF-8 at all
        try tree.writeRaw(folder: "a", name: latin1, Array("latin".utf8))
        try tree.write("a/plain.txt", "plain")
        mkdirRaw(tree, parent: "a", name: folder)
        let raw = String(decoding: Array(tree.url("a").path.utf8), as: UTF8.self)
        // A file inside the non-UTF-8 folder (written through its raw path).
        let inside = Array(raw.utf8) + [0x2F] + folder + [0x2F] + Array("in.bin".utf8) + [0]
        let fd = inside.withUnsafeBufferPointer { p in p.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT, 0o644) } }
        #expect(fd >= 0)
        _ = Array("inside".utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)

        let store = try backend.open(tree)
        let result = try scanInto(store, [tree.silo("a")])
        #expect(result.counts.files == 3)
        let silo = try #require(try store.silos().first)
        let reader = try store.makeFolderReader()
        let root = try reader.entries(siloID: silo.id, dir: .root, withHashes: true)
        #expect(names(root).contains(latin1))
        let cafe = try #require(root.first { $0.name == latin1 })
        #expect(cafe.sha256 == (try SHA256Hasher.digest(Array("latin".utf8))) && cafe.stat.size == 5)
        let odd = try reader.entries(siloID: silo.id, dir: RelativePath(bytes: folder), withHashes: true)
        #expect(names(odd) == [Array("in.bin".utf8)])
        #expect(odd.first?.sha256 == (try SHA256Hasher.digest(Array("inside".utf8))))
        // The folder goes: its file is missing, found by the folder's exact bytes.
        let rmPath = Array(raw.utf8) + [0x2F] + folder + [0x2F] + Array("in.bin".utf8) + [0]
        _ = rmPath.withUnsafeBufferPointer { p in p.withMemoryRebound(to: CChar.self) { unlink($0.baseAddress!) } }
        let dirPath = Array(raw.utf8) + [0x2F] + folder + [0]
        _ = dirPath.withUnsafeBufferPointer { p in p.withMemoryRebound(to: CChar.self) { rmdir($0.baseAddress!) } }
        let again = try scanInto(store, [tree.silo("a")])
        #expect(again.counts.filesMissing == 1)
        #expect(try store.fileCounts()[silo.id] == 2)
        #expect(try reader.entries(siloID: silo.id, dir: RelativePath(bytes: folder), withHashes: false).isEmpty)
    }

    @Test("a folder's entries come in byte order of their names, whatever the backend's collation", arguments: Backend.all)
    func folderListingOrder(backend: Backend) throws {
        let tree = try TestTree()
        for name in ["b.txt", "B.txt", "a.txt", "\u{E9}.txt", "_x.txt", "a b.txt"] { try tree.write("s/" + name, name) }
        try tree.writeRaw(folder: "s", name: [0x7A, 0xFF], Array("z".utf8))
        let store = try backend.open(tree)
        try scanInto(store, [tree.silo("s")])
        let silo = try #require(try store.silos().first)
        let listed = names(try store.makeFolderReader().entries(siloID: silo.id, dir: .root, withHashes: false))
        let expected: [[UInt8]] = [Array("B.txt".utf8), Array("_x.txt".utf8), Array("a b.txt".utf8), Array("a.txt".utf8),
                                   Array("b.txt".utf8), [0x7A, 0xFF], Array("\u{E9}.txt".utf8)]
        #expect(listed == expected)
    }

    @Test("a batch that touches one file twice leaves what writing it write by write leaves", arguments: Backend.all)
    func batchTouchingOneFileTwice(backend: Backend) throws {
        let tree = try TestTree()
        let store = try backend.open(tree)
        let silo = try #require(try store.registerSilos([tree.silo("s")]).first)
        let run = try store.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["s"])
        try store.beginWalk(runID: run)   // (SQLite prepares the walk's tables there)
        let one = try SHA256Hasher.digest(Array("one".utf8)), two = try SHA256Hasher.digest(Array("two".utf8))
        try store.apply([.upsert(row(silo.id, "", "p.txt", inode: 1), replacing: nil),
                         .upsert(row(silo.id, "d", "q.txt", inode: 2, sha: one), replacing: nil)], runID: run)
        let reader = try store.makeFolderReader()
        let p = try #require(try reader.entries(siloID: silo.id, dir: .root, withHashes: true).first)
        let q = try #require(try reader.entries(siloID: silo.id, dir: RelativePath("d"), withHashes: true).first)
        #expect(p.hasHash == false && q.sha256 == one)
        // One batch: p hashed, then hashed again (the second hash wins); q removed, then a new
        // q at the same path; metadata of p, then p's sidecars.
        var content = ContentInfo(format: .jpeg, width: 4, height: 3)
        content.values = [SourcedValue(field: .title, value: .text("T"), origin: .exif, tag: "EXIF:ImageDescription", raw: "T")]
        content.preferred = [true]
        let sidecarStat = FileStat(size: 9, mtimeNs: 5, ctimeNs: 5, device: 42, inode: 9, linkCount: 1, mode: 0o100644, uid: 0, gid: 0)
        let sidecar = SidecarRecord(name: Array("p.txt.xmp".utf8), stat: sidecarStat, form: .nameWithExtension, used: true,
                                    sha256: one, values: [SourcedValue(field: .title, value: .text("S"), origin: .sidecar,
                                                                       tag: "XMP-dc:title", raw: "S")])
        try store.apply([.hashed(id: p.id, sha256: one, previous: nil),
                         .hashed(id: p.id, sha256: two, previous: nil),
                         .remove(q, siloID: silo.id, dir: RelativePath("d"), reason: .missing),
                         .upsert(row(silo.id, "d", "q.txt", size: 3, inode: 3, sha: two), replacing: nil),
                         .content(id: p.id, content, mtimeNs: 1),
                         .sidecars(fileID: p.id, siloID: silo.id, dir: .root, [sidecar])], runID: run)
        let p2 = try #require(try reader.entries(siloID: silo.id, dir: .root, withHashes: true).first)
        #expect(p2.id == p.id && p2.sha256 == two && p2.metadataRead)
        let q2 = try #require(try reader.entries(siloID: silo.id, dir: RelativePath("d"), withHashes: true).first)
        #expect(q2.sha256 == two && q2.stat.size == 3 && q2.stat.inode == 3)
        let sidecars = try reader.sidecars(siloID: silo.id, dir: .root)
        #expect(sidecars.map(\.name) == [Array("p.txt.xmp".utf8)] && sidecars.first?.assetName == Array("p.txt".utf8))
        #expect(sidecars.first?.valuesRead == true && sidecars.first?.hashed == true)
        // Asked right after the folder's files (as walkers do), the same sidecars.
        _ = try reader.entries(siloID: silo.id, dir: .root, withHashes: false)
        let afterEntries = try reader.sidecars(siloID: silo.id, dir: .root)
        #expect(afterEntries.map(\.name) == sidecars.map(\.name) && afterEntries.map(\.assetName) == sidecars.map(\.assetName))
        #expect(afterEntries.map(\.stat) == sidecars.map(\.stat) && afterEntries.map(\.used) == sidecars.map(\.used)
                && afterEntries.map(\.valuesRead) == sidecars.map(\.valuesRead) && afterEntries.map(\.hashed) == sidecars.map(\.hashed))
        #expect(try reader.sidecars(siloID: silo.id, dir: RelativePath("d")).isEmpty)
        #expect(try store.fileCounts()[silo.id] == 2)
        #expect(try store.silosWithSidecars() == [silo.id])
    }

    @Test("text read from a file that holds U+0000 (a metadata value, a rule's detail, a message) does not fail its batch",
          arguments: Backend.all)
    func nulInText(backend: Backend) throws {
        let tree = try TestTree()
        let store = try backend.open(tree)
        let silo = try #require(try store.registerSilos([tree.silo("s")]).first)
        let run = try store.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["s"])
        try store.beginWalk(runID: run)
        var content = ContentInfo(format: .jpeg)
        content.values = [SourcedValue(field: .title, value: .text("a\u{0}b"), origin: .exif, tag: "EXIF:Image\u{0}Description",
                                       raw: "a\u{0}b")]
        content.preferred = [true]
        var file = row(silo.id, "", "p.jpg", inode: 1)
        file.content = content
        try store.apply([.upsert(file, replacing: nil),
                         .uncatalogued(siloID: silo.id, dir: .root, [UncataloguedEntry(name: Array("q".utf8), kind: .regular,
                                                                                        reason: .excluded, detail: "rule *\u{0}")],
                                       replace: true)], runID: run)
        try store.record([Diagnostic(.warning, .metadata, silo: "s", path: RelativePath("p.jpg"), message: "bad \u{0} block")], runID: run)
        let stored = try #require(try store.makeFolderReader().entries(siloID: silo.id, dir: .root, withHashes: false).first)
        #expect(stored.metadataRead)
        #expect(try store.silosWithUncatalogued() == [silo.id])
    }

    @Test("a batch's changes are recorded in the order written, each from the row as it was", arguments: Backend.all)
    func changesInWriteOrder(backend: Backend) throws {
        let tree = try TestTree()
        let store = try backend.open(tree)
        let silo = try #require(try store.registerSilos([tree.silo("s")]).first)
        let first = try store.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["s"])
        try store.beginWalk(runID: first)   // (SQLite prepares the walk's tables there)
        let one = try SHA256Hasher.digest(Array("one".utf8)), two = try SHA256Hasher.digest(Array("two".utf8))
        try store.apply((1...4).map { .upsert(row(silo.id, "", "f\($0)", inode: UInt64($0), sha: one), replacing: nil) }, runID: first)
        let entries = try store.makeFolderReader().entries(siloID: silo.id, dir: .root, withHashes: true)
        #expect(names(entries) == (1...4).map { Array("f\($0)".utf8) })
        let run = try store.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["s"])
        try store.beginWalk(runID: run)   // (SQLite prepares the walk's tables there)
        // Written: f3 gone, f1 replaced, f4's content changed behind its mtime, f2 excluded.
        try store.apply([.remove(entries[2], siloID: silo.id, dir: .root, reason: .missing),
                         .upsert(row(silo.id, "", "f1", size: 99, inode: 11, sha: two), replacing: entries[0]),
                         .hashed(id: entries[3].id, sha256: two, previous: one),
                         .remove(entries[1], siloID: silo.id, dir: .root, reason: .excluded)], runID: run)
        var changes: [FindingFold.Change] = []
        try store.forEachChange(runID: run) { changes.append($0) }
        try #require(changes.count == 4, "\(changes.map(\.kind))")
        #expect(changes.map(\.kind) == [.missing, .changed, .content, .excluded])
        #expect(changes.map(\.path.display) == ["f3", "f1", "f4", "f2"])
        #expect(changes[1].old.size == 10 && changes[1].new.size == 99 && changes[1].old.sha256 == one && changes[1].new.sha256 == two)
        #expect(changes[2].old.sha256 == one && changes[2].new.sha256 == two && changes[2].new.size == 10)
        #expect(changes[0].new.size == nil && changes[0].old.sha256 == one)
    }

    @Test("unlisted folders stream past one fetch: a batch of 12,000 new files in 12,000 folders", arguments: Backend.all)
    func longStreams(backend: Backend) throws {
        let tree = try TestTree()
        let store = try backend.open(tree)
        let silo = try #require(try store.registerSilos([tree.silo("s")]).first)
        let run = try store.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["s"])
        try store.beginWalk(runID: run)   // (SQLite prepares the walk's tables there)
        let count = 12_000
        try store.apply((0..<count).map { .upsert(row(silo.id, "d\($0)", "f", inode: UInt64($0 + 1)), replacing: nil) }, runID: run)
        #expect(try store.fileCounts() == [silo.id: count])
        try store.beginWalk(runID: run)
        try store.apply([.visitedDirectory(siloID: silo.id, dir: RelativePath("d7"))], runID: run)
        var seen = Set<RelativePath>()
        var calls = 0
        try store.forEachUnlistedFolder(siloIDs: [silo.id]) { seen.insert($0.dir); calls += 1 }
        #expect(calls == count - 1 && seen.count == count - 1 && !seen.contains(RelativePath("d7")))
        let dropped = try store.dropVanishedFolders(seen.sorted().map { VanishedFolder(folder: SiloFolder(siloID: silo.id, dir: $0), kind: .missing) },
                                                    runID: run)
        #expect(dropped.missing == count - 1 && dropped.excluded == 0)
        #expect(try store.fileCounts() == [silo.id: 1])
    }

    @Test("what another session sees: a folder reader sees each batch once it is applied, and walk state is per session",
          arguments: Backend.all)
    func twoSessions(backend: Backend) throws {
        let tree = try TestTree()
        let store = try backend.open(tree), other = try backend.open(tree)
        let silo = try #require(try store.registerSilos([tree.silo("s")]).first)
        let run = try store.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["s"])
        try store.beginWalk(runID: run)   // (SQLite prepares the walk's tables there)
        let mine = try store.makeFolderReader(), theirs = try other.makeFolderReader()
        #expect(try theirs.entries(siloID: silo.id, dir: .root, withHashes: false).isEmpty)
        try store.apply([.upsert(row(silo.id, "", "a", inode: 1), replacing: nil), .upsert(row(silo.id, "sub", "b", inode: 2), replacing: nil)],
                        runID: run)
        #expect(names(try theirs.entries(siloID: silo.id, dir: .root, withHashes: false)) == [Array("a".utf8)])
        #expect(names(try mine.entries(siloID: silo.id, dir: RelativePath("sub"), withHashes: false)) == [Array("b".utf8)])
        #expect(try other.fileCounts() == [silo.id: 2])
        // Each opening walks on its own: the other's walk neither sees nor clears this one's folders.
        try store.beginWalk(runID: run)
        try store.apply([.visitedDirectory(siloID: silo.id, dir: .root)], runID: run)
        try other.beginWalk(runID: run)
        var unlisted: [String] = []
        try store.forEachUnlistedFolder(siloIDs: [silo.id]) { unlisted.append($0.dir.display) }
        #expect(unlisted == ["sub"])
        var theirUnlisted: [String] = []
        try other.forEachUnlistedFolder(siloIDs: [silo.id]) { theirUnlisted.append($0.dir.display) }
        #expect(theirUnlisted.sorted() == ["", "sub"])
    }

    @Test("empty files get the empty hash; the least recently verified files are chosen first", arguments: Backend.all)
    func emptyHashesAndVerification(backend: Backend) throws {
        let tree = try TestTree()
        try tree.write("s/empty-1", "")
        try tree.write("s/empty-2", "")
        try tree.write("s/unique.bin", bytes(50, seed: 1))
        let store = try backend.open(tree)
        try scanInto(store, [tree.silo("s")], mode: .dupes)
        let silo = try #require(try store.silos().first)
        let entries = try store.makeFolderReader().entries(siloID: silo.id, dir: .root, withHashes: true)
        #expect(entries.filter { $0.stat.size == 0 }.allSatisfy { $0.sha256 == SHA256Digest.empty })
        #expect(entries.first { $0.stat.size == 50 }?.hasHash == false)
        #expect(try store.fillEmptyHashes(siloIDs: [silo.id]) == 0)   // done already
        // A full scan hashes the last one; four files hashed at three moments.
        try tree.write("s/later.bin", bytes(60, seed: 2))
        try scanInto(store, [tree.silo("s")])
        let byName = Dictionary(uniqueKeysWithValues: try store.makeFolderReader().entries(siloID: silo.id, dir: .root, withHashes: true)
            .map { (String(decoding: $0.name, as: UTF8.self), $0) })
        // Empty files are never verified; of the two others, the one hashed first.
        let chosen = try store.leastRecentlyVerified(siloIDs: [silo.id], fraction: 0.5)
        #expect(chosen.count == 1)
        let all = try store.leastRecentlyVerified(siloIDs: [silo.id], fraction: 1)
        #expect(Set(all.keys) == [byName["unique.bin"]!.id, byName["later.bin"]!.id])
        #expect(all[byName["later.bin"]!.id] == (try SHA256Hasher.digest(bytes(60, seed: 2))))
        #expect(try store.leastRecentlyVerified(siloIDs: [silo.id], fraction: 0).isEmpty)
    }

    @Test("a manifest longer than one look-up: matched and unmatched rows counted, the first unmatched named, re-read only when changed",
          arguments: Backend.all)
    func longManifest(backend: Backend) throws {
        let tree = try TestTree()
        for i in 0..<300 { try tree.write("s/f\(i).txt", "file \(i)") }
        var csv = "File,Title\n"
        for i in 0..<2_600 { csv += (i % 8 == 0 && i / 8 < 300 ? "f\(i / 8).txt" : "ghost-\(i).txt") + ",Title \(i)\n" }
        try tree.write("m.csv", csv)
        var silo = tree.silo("s")
        silo.manifest = ManifestDefinition(file: FilePath(tree.url("m.csv").path), pathColumn: "File",
                                           columns: [.init(column: "Title", field: .title, split: nil)])
        let store = try backend.open(tree)
        var options = ScanOptions()
        options.readMetadata = true
        let first = try ScanEngine(store: store, host: host).scan([silo], options: options)
        let notes = first.diagnostics.filter { $0.code == .manifest }
        #expect(notes.count == 1)
        let note = try #require(notes.first?.message)
        #expect(note.contains("2,300 of 2,600 rows"), "\(note)")
        #expect(note.contains("row 2: ghost-1.txt; row 3: ghost-2.txt"), "\(note)")
        // Unchanged, and no file came or went: not read again.
        let second = try ScanEngine(store: store, host: host).scan([silo], options: options)
        #expect(second.diagnostics.filter { $0.code == .manifest }.isEmpty)
        // One title changed: read again, the drift recorded against that one file.
        try tree.write("m.csv", csv.replacingOccurrences(of: "f1.txt,Title 8\n", with: "f1.txt,Title eight\n"))
        let third = try ScanEngine(store: store, host: host).scan([silo], options: options)
        #expect(third.diagnostics.filter { $0.code == .manifest }.count == 1)
        var drift: [FindingFold.Change] = []
        try store.forEachChange(runID: third.runID) { drift.append($0) }
        #expect(drift.map(\.kind) == [.metadata] && drift.map(\.path.display) == ["f1.txt"])
        #expect(drift.first?.detail == "manifest m.csv: title")
    }

    @Test("two scanners of different silos write into one catalogue at once, and both succeed",
          .enabled(if: TestCatalogues.postgresServer != nil, "\(TestCatalogues.postgresSkipReason)"))
    func concurrentScanners() throws {
        let tree = try TestTree()
        let perSilo = 1_500
        for silo in ["east", "west"] {
            for i in 0..<perSilo {
                // Every folder of either silo has the same relative paths; a third of the
                // contents are shared across the silos.
                try tree.write("\(silo)/d\(i % 30)/f\(i).bin", i % 3 == 0 ? "shared \(i)" : "\(silo) \(i)")
            }
        }
        let stores = [try Backend.postgres.open(tree), try Backend.postgres.open(tree)]
        let definitions = ["east": tree.silo("east"), "west": tree.silo("west")]
        // Both scans are inside their walk before either goes on: their batches interleave.
        let arrived = DispatchSemaphore(value: 0), go = DispatchSemaphore(value: 0)
        let gate = Locked(Set<String>())
        let hooks = ScanEngine.TestHooks(beforeRead: { silo, _ in
            let firstTime = gate.withLock { $0.insert(silo).inserted }
            if firstTime {
                arrived.signal()
                _ = go.wait(timeout: .now() + 30)
            }
            return nil
        })
        let results = Locked<[String: Result<ScanResult, ScanFailure>]>([:])
        let group = DispatchGroup()
        for (i, name) in ["east", "west"].enumerated() {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                let scanner = HostIdentity(id: "host-\(name)", name: "host-\(name)")
                let outcome: Result<ScanResult, ScanFailure>
                do { outcome = .success(try scanInto(stores[i], [definitions[name]!], hooks: hooks, as: scanner)) } catch {
                    outcome = .failure(ScanFailure(text: "\(error)"))
                }
                results.withLock { $0[name] = outcome }
            }
        }
        #expect(arrived.wait(timeout: .now() + 60) == .success && arrived.wait(timeout: .now() + 60) == .success,
                "both scans reach their first read")
        go.signal(); go.signal()
        #expect(group.wait(timeout: .now() + 300) == .success, "both scans end")
        for name in ["east", "west"] {
            let result = try #require(results.withLock { $0[name] })
            switch result {
            case .success(let r): #expect(r.counts.files == perSilo && r.status == .ok, "\(name)")
            case .failure(let error): Issue.record("\(name) failed: \(error.text)")
            }
        }
        let silos = try stores[0].silos()
        #expect(silos.map(\.name) == ["east", "west"])
        #expect(try stores[1].fileCounts() == Dictionary(uniqueKeysWithValues: silos.map { ($0.id, perSilo) }))
        #expect(silos.map { $0.host?.id } == ["host-east", "host-west"])
        // Each silo's files, in its own folders, with their hashes.
        let reader = try stores[0].makeFolderReader()
        for silo in silos {
            let listed = try reader.entries(siloID: silo.id, dir: RelativePath("d0"), withHashes: true)
            #expect(listed.count == perSilo / 30 && listed.allSatisfy { $0.sha256 != nil })
        }
        // A rescan of both, at once again, finds nothing changed.
        let again = Locked<[Int]>([])
        let second = DispatchGroup()
        for (i, name) in ["east", "west"].enumerated() {
            second.enter()
            Thread.detachNewThread {
                defer { second.leave() }
                let scanner = HostIdentity(id: "host-\(name)", name: "host-\(name)")
                if let r = try? scanInto(stores[i], [definitions[name]!], as: scanner) {
                    again.withLock { $0.append(r.counts.filesNew + r.counts.filesChanged + r.counts.filesMissing) }
                }
            }
        }
        #expect(second.wait(timeout: .now() + 300) == .success)
        #expect(again.withLock { $0 } == [0, 0])
    }
}

private struct ScanFailure: Error, Sendable { let text: String }

@Suite("Catalogue contract: metadata drift of sidecars reads the same on every backend")
struct SidecarDriftContractTests {
    /// Scans a photo with both sidecar forms, then edits, adds and removes sidecars, checking
    /// after each step; returns each check's finding details.
    static func details(_ backend: Backend) throws -> [[String]] {
        let tree = try TestTree("drift-\(backend.name)")
        let photo = [UInt8](try Data(contentsOf: fixturesURL.appendingPathComponent("marketing/campaigns/2023/summer-launch/hero.jpg")))
        try tree.write("s/photo.jpg", photo)
        try tree.write("s/photo.jpg.xmp", xmpPacket(title: "Exact", keywords: ["x"]))
        try tree.write("s/photo.xmp", xmpPacket(title: "Stem", keywords: ["y"]))
        let store = try backend.open(tree)
        try ScanEngine(store: store).scan([tree.silo("s")], options: ScanOptions())
        var out: [[String]] = []
        func check() throws { out.append(try CheckEngine(store: store).check().findings.compactMap(\.detail)) }
        try tree.write("s/photo.jpg.xmp", xmpPacket(title: "Exact, edited", keywords: ["x"]))
        try check()
        try tree.write("s/photo.xmp", xmpPacket(title: "Stem", keywords: ["y", "z"]))
        try check()
        try tree.remove("s/photo.jpg.xmp")                   // the overridden one takes over
        try check()
        try tree.write("s/photo.jpg.xmp", xmpPacket(title: "Back", keywords: ["x"], creator: "Ann"))
        try check()
        return out
    }

    @Test("edited, overridden, removed and added sidecars: the same words on SQLite and PostgreSQL")
    func sameWords() throws {
        let all = try Backend.all.map { ($0.name, try Self.details($0)) }
        let sqlite = try #require(all.first).1
        #expect(sqlite[0] == ["sidecar photo.jpg.xmp: title"])
        #expect(sqlite[1] == ["sidecar photo.xmp (not used: photo.jpg.xmp takes precedence): keywords"])
        #expect(sqlite[2].count == 1 && sqlite[2][0].contains("sidecar removed (photo.jpg.xmp)") && sqlite[2][0].contains("sidecar photo.xmp"),
                "\(sqlite[2])")
        #expect(sqlite[3].count == 1 && sqlite[3][0].hasPrefix("sidecar added (photo.jpg.xmp)"), "\(sqlite[3])")
        for (name, details) in all.dropFirst() {
            #expect(details == sqlite, "\(name) words it otherwise than SQLite")
        }
    }
}
