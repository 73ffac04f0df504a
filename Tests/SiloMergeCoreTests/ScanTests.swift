import Foundation
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
#if canImport(Glibc)
import Glibc
#endif
import SiloMergeTestSupport

@Suite("Scanning silos into the catalogue")
struct ScanTests {
    /// Three silos: one content in all three under other names, one pair with equal size but
    /// different bytes, one pair equal at both ends and different in the middle, unique files.
    func makeSilos(_ tree: TestTree) throws -> (shared: [UInt8], silos: [SiloDefinition]) {
        let shared = bytes(70_000, seed: 42)
        try tree.write("marketing/2021/launch/hero.jpg", shared)
        try tree.write("hr/staff/team-photo.jpg", shared)
        try tree.write("training/module1/intro.jpg", shared)
        try tree.write("marketing/same-size-a.bin", bytes(5000, seed: 1))
        try tree.write("hr/same-size-b.bin", bytes(5000, seed: 2))
        let head = bytes(4096, seed: 10), tail = bytes(4096, seed: 11)
        try tree.write("marketing/ends-a.bin", head + bytes(40_000, seed: 12) + tail)
        try tree.write("training/ends-b.bin", head + bytes(40_000, seed: 13) + tail)
        try tree.write("hr/unique.txt", "only here")
        return (shared, [tree.silo("marketing", priority: 1), tree.silo("hr", priority: 2), tree.silo("training", priority: 3)])
    }

    @Test("Both hash modes find the same groups; near misses are not duplicates", arguments: [HashMode.full, .dupes])
    func findsDuplicates(mode: HashMode) throws {
        let tree = try TestTree()
        let (shared, silos) = try makeSilos(tree)
        let (result, store) = try scan(tree, silos, mode: mode)
        #expect(result.status == .ok)
        #expect(result.counts.files == 8)
        let found = try groups(store)
        #expect(found == [["hr/staff/team-photo.jpg", "marketing/2021/launch/hero.jpg", "training/module1/intro.jpg"]])
        var first: DuplicateGroup?
        try store.forEachDuplicateGroup(DuplicateQuery()) { first = $0; return false }
        #expect(first?.sha256.hex == (try sha(shared)))
        // Copies come in silo priority order.
        #expect(first?.files.map(\.silo) == ["marketing", "hr", "training"])
        #expect(first?.reclaimableBytes == Int64(2 * shared.count))
    }

    @Test("--hash dupes never reads a file whose size is unique")
    func dupesModeSkipsUniqueSizes() throws {
        let tree = try TestTree()
        let (_, silos) = try makeSilos(tree)
        let read = Locked<[String]>([])
        let hooks = ScanEngine.TestHooks(beforeRead: { silo, path in
            read.withLock { $0.append("\(silo)/\(path.display)") }
            return nil
        })
        let (_, store) = try scan(tree, silos, mode: .dupes, hooks: hooks)
        #expect(!read.value.contains("hr/unique.txt"))
        #expect(read.value.contains("marketing/2021/launch/hero.jpg"))
        #expect(read.value.contains("marketing/ends-a.bin") && read.value.contains("training/ends-b.bin"))
        // Only the duplicated content got a hash: same-size files that differ (at the ends, or
        // only in the middle) were told apart without one.
        let summary = try store.analyse(DuplicateQuery(), top: 0).summary
        #expect(summary.unhashedFiles == 5)
        let hashed = try probe(store).files().filter { $0.sha256 != nil }.map(\.path)
        #expect(hashed == ["2021/launch/hero.jpg", "module1/intro.jpg", "staff/team-photo.jpg"])
    }

    @Test("A rescan reads only what changed, notices new, changed and vanished files")
    func incrementalRescan() throws {
        let tree = try TestTree()
        let (_, silos) = try makeSilos(tree)
        let (first, store) = try scan(tree, silos)
        #expect(first.counts.filesHashed == 8)
        #expect(first.counts.filesNew == 8)

        let reads = Locked<[String]>([])
        let hooks = ScanEngine.TestHooks(beforeRead: { silo, path in reads.withLock { $0.append("\(silo)/\(path.display)") }; return nil })
        let (unchanged, _) = try scan(tree, silos, hooks: hooks)
        #expect(reads.value.isEmpty)
        #expect(unchanged.counts.filesUnchanged == 8)
        #expect(unchanged.counts.hashesReused == 8)
        #expect(unchanged.counts.filesHashed == 0)

        try tree.write("hr/unique.txt", "changed content")
        try tree.remove("training/module1/intro.jpg")
        try tree.write("hr/new.txt", "a new file")
        try tree.remove("marketing/2021")   // a whole folder vanishes
        let (changes, _) = try scan(tree, silos, hooks: hooks)
        #expect(Set(reads.value) == ["hr/unique.txt", "hr/new.txt"])
        #expect(changes.counts.filesChanged == 1)
        #expect(changes.counts.filesNew == 1)
        #expect(changes.counts.filesMissing == 2)
        #expect(try groups(store).isEmpty)

        reads.withLock { $0 = [] }
        let (again, _) = try scan(tree, silos, configure: { $0.rehash = true }, hooks: hooks)
        #expect(reads.value.count == again.counts.files)
    }

    @Test("--rehash reports content that changed behind an unchanged size and mtime")
    func rehashFindsCorruption() throws {
        let tree = try TestTree()
        try tree.write("a/file.bin", bytes(10_000, seed: 5))
        tree.setMtime("a/file.bin", seconds: 1_600_000_000)
        let silo = tree.silo("a")
        let (_, store) = try scan(tree, [silo])
        // Flip a byte in place, then put the mtime back. ctime still moves, so the rescan reads
        // the file as changed; --rehash on an untouched identity is what finds silent rot, and
        // is exercised by forging the stored hash instead.
        try probe(store).change(filesNamed: nil, FileRowChange(sha256: String(repeating: "0", count: 64)))
        let (result, _) = try scan(tree, [silo], configure: { $0.rehash = true })
        #expect(result.status == .warnings)
        #expect(result.diagnostics.contains { $0.code == .contentChanged && $0.severity == .error })
        let kinds = try probe(store).changeKinds(runID: nil)
        #expect(kinds == ["content"])
    }

    @Test("Hard links are one physical copy: shown, never reclaimable")
    func hardLinks() throws {
        let tree = try TestTree()
        try tree.write("a/original.jpg", bytes(9000, seed: 1))
        try tree.hardlink("a/link.jpg", to: "a/original.jpg")
        try tree.write("b/copy.jpg", bytes(9000, seed: 1))
        for mode in [HashMode.full, .dupes] {
            let (_, store) = try scan(tree, [tree.silo("a"), tree.silo("b", priority: 2)], mode: mode)
            var all: [DuplicateGroup] = []
            try store.forEachDuplicateGroup(DuplicateQuery()) { all.append($0); return true }
            #expect(all.count == 1)
            #expect(all.first?.files.count == 3)
            #expect(all.first?.physicalCopies == 2)
            #expect(all.first?.reclaimableBytes == 9000)
            let summary = try store.analyse(DuplicateQuery(), top: 0).summary
            #expect(summary.hardLinkedFiles == 1)
            #expect(summary.reclaimableBytes == 9000)
            try tree.removeCatalogue()
        }
        // Hard links alone are not a duplicate group at all.
        try tree.remove("b/copy.jpg")
        let (_, store) = try scan(tree, [tree.silo("a"), tree.silo("b", priority: 2)], mode: .dupes)
        #expect(try groups(store).isEmpty)
    }

    @Test("Symlinks are not followed; followed ones never loop or reach into a silo")
    func symlinks() throws {
        let tree = try TestTree()
        try tree.write("a/real.jpg", bytes(3000, seed: 1))
        try tree.mkdir("a/sub")
        try tree.write("outside/extra.jpg", bytes(3000, seed: 2))
        try tree.symlink("a/sub/up", to: "..")
        try tree.symlink("a/to-file", to: "real.jpg")
        try tree.symlink("a/dangling", to: "/nonexistent/target")
        try tree.symlink("a/to-outside", to: tree.url("outside").path)
        try tree.symlink("outside/again", to: tree.url("outside").path)
        let (plain, _) = try scan(tree, [tree.silo("a")])
        #expect(plain.counts.files == 1)
        #expect(plain.counts.skippedSymlinks == 4)

        try tree.removeCatalogue()
        let (followed, store) = try scan(tree, [tree.silo("a")], configure: { $0.followSymlinks = true })
        // real.jpg, to-file (the same inode: a second path, not a second copy), outside/extra.jpg
        #expect(followed.counts.files == 3)
        #expect(followed.diagnostics.contains { $0.code == .symlinkDangling })
        #expect(followed.diagnostics.contains { $0.code == .symlinkIntoSilo && $0.path == RelativePath("sub/up") })
        #expect(followed.diagnostics.contains { $0.code == .symlinkLoop && $0.path == RelativePath("to-outside/again") })
        #expect(try groups(store).isEmpty)
    }

    @Test("FIFOs are counted as skipped and never opened; the scan finishes")
    func fifo() throws {
        let tree = try TestTree()
        try tree.write("a/file.txt", "hello")
        try tree.fifo("a/pipe")
        let (result, _) = try scan(tree, [tree.silo("a")])
        #expect(result.counts.skippedSpecial == 1)
        #expect(result.counts.files == 1)
        #expect(result.status == .warnings)
        #expect(result.diagnostics.contains { $0.code == .specialFile && $0.path == RelativePath("pipe") })
    }

    @Test("Names that are not UTF-8, or hold a newline, are catalogued byte for byte")
    func oddNames() throws {
        let tree = try TestTree()
        let latin1 = Array("caf".utf8) + [0xE9] + Array("-latin1.jpg".utf8)
        try tree.writeRaw(folder: "a", name: latin1, bytes(2000, seed: 1))
        try tree.write("a/line\nbreak.jpg", bytes(2000, seed: 1))
        try tree.write("b/normal.jpg", bytes(2000, seed: 1))
        let (result, store) = try scan(tree, [tree.silo("a"), tree.silo("b", priority: 2)])
        #expect(result.counts.files == 3)
        var group: DuplicateGroup?
        try store.forEachDuplicateGroup(DuplicateQuery()) { group = $0; return false }
        let paths = group?.files.map(\.path.bytes) ?? []
        #expect(paths.contains(latin1))
        #expect(paths.contains(Array("line\nbreak.jpg".utf8)))
        // A rescan finds the odd names unchanged (the stored bytes compare equal).
        let (again, _) = try scan(tree, [tree.silo("a"), tree.silo("b", priority: 2)])
        #expect(again.counts.filesUnchanged == 3)
        #expect(again.counts.filesNew == 0)
    }

    @Test("A file deleted between the walk and the read is reported and the scan goes on",
          arguments: [HashMode.full, .dupes])
    func vanishedBeforeRead(mode: HashMode) throws {
        let tree = try TestTree()
        try tree.write("a/doomed.bin", bytes(8000, seed: 1))
        try tree.write("a/kept.bin", bytes(8000, seed: 1))
        try tree.write("b/kept.bin", bytes(8000, seed: 1))
        let doomed = tree.url("a/doomed.bin")
        let hooks = ScanEngine.TestHooks(beforeRead: { _, path in
            if path == RelativePath("doomed.bin") { try? FileManager.default.removeItem(at: doomed) }
            return nil
        })
        let (result, store) = try scan(tree, [tree.silo("a"), tree.silo("b", priority: 2)], mode: mode, hooks: hooks)
        #expect(result.status == .warnings)
        #expect(result.diagnostics.contains { $0.code == .vanished && $0.path == RelativePath("doomed.bin") })
        #expect(try groups(store) == [["a/kept.bin", "b/kept.bin"]])
        let count = try probe(store).files().count
        #expect(count == 2)
    }

    @Test("A file that cannot be read is reported with its reason and stays catalogued")
    func unreadable() throws {
        let tree = try TestTree()
        try tree.write("a/locked.bin", bytes(8000, seed: 1))
        try tree.write("a/other.bin", bytes(8000, seed: 2))
        // CI runs as root, where chmod cannot make a file unreadable: the read fails through the seam.
        let hooks = ScanEngine.TestHooks(beforeRead: { _, path in path == RelativePath("locked.bin") ? EACCES : nil })
        let (result, store) = try scan(tree, [tree.silo("a")], hooks: hooks)
        let d = result.diagnostics.first { $0.code == .unreadable }
        #expect(d?.errno == EACCES)
        #expect(d?.formatted.contains("locked.bin") == true)
        #expect(d?.formatted.contains("EACCES") == true)
        let hashed = try probe(store).files().filter { $0.sha256 != nil }.count
        let total = try probe(store).files().count
        #expect(total == 2)
        #expect(hashed == 1)
        // The next scan tries again.
        let (again, _) = try scan(tree, [tree.silo("a")])
        #expect(again.counts.filesHashed == 1)
        #expect(again.status == .ok)
    }

    @Test("Junk is skipped by default; excludes and includes filter the rest")
    func filters() throws {
        let tree = try TestTree()
        try tree.write("a/.DS_Store", "junk")
        try tree.write("a/Thumbs.db", "junk")
        try tree.write("a/._photo.jpg", "junk")
        try tree.write("a/.git/config", "junk")
        try tree.write("a/photo.jpg", "photo")
        try tree.write("a/draft.tmp", "tmp")
        try tree.write("a/drafts/layout.psd", "psd")
        let (defaults, _) = try scan(tree, [tree.silo("a")])
        #expect(defaults.counts.files == 3)
        try tree.removeCatalogue()
        let (all, _) = try scan(tree, [tree.silo("a")], configure: { $0.useDefaultIgnores = false })
        #expect(all.counts.files == 7)
        try tree.removeCatalogue()
        var silo = tree.silo("a")
        silo.excludes = ["*.tmp", "drafts/"]
        let (excluded, _) = try scan(tree, [silo])
        #expect(excluded.counts.files == 1)
        // Excluding later takes files out of scope without calling them vanished.
        try tree.removeCatalogue()
        _ = try scan(tree, [tree.silo("a")])
        let (narrowed, _) = try scan(tree, [silo])
        #expect(narrowed.counts.filesExcluded == 2)
        #expect(narrowed.counts.filesMissing == 0)
        try tree.removeCatalogue()
        var only = tree.silo("a")
        only.includes = ["*.jpg"]
        let (included, _) = try scan(tree, [only])
        #expect(included.counts.files == 1)
    }

    @Test("What a scan passes over is recorded with why: junk, exiftool backups, rules, sidecars of excluded files, links, FIFOs")
    func uncataloguedRecorded() throws {
        let tree = try TestTree()
        try tree.write("a/photo.jpg", bytes(3000, seed: 1))
        try tree.write("a/photo.jpg_original", bytes(3000, seed: 2))       // exiftool's backup
        try tree.write("a/Thumbs.db", "junk")
        try tree.write("a/.git/config", "[core]")
        try tree.write("a/drafts/b.tmp", "draft")
        try tree.write("a/layers/c.psd", bytes(500, seed: 3))
        try tree.write("a/layers/c.psd.xmp", "<x:xmpmeta/>")                 // the sidecar of an excluded file
        try tree.symlink("a/link.jpg", to: tree.url("a/photo.jpg").path)
        try tree.fifo("a/pipe")
        var silo = tree.silo("a")
        silo.excludes = ["*.tmp", "*.psd"]
        let (_, store) = try scan(tree, [silo])
        func recorded() throws -> [String: UncataloguedRecord] {
            Dictionary(uniqueKeysWithValues: try store.uncatalogued().map { ("\($0.silo)/\($0.path.display)", $0) })
        }
        var rows = try recorded()
        #expect(Set(rows.keys) == ["a/photo.jpg_original", "a/Thumbs.db", "a/.git", "a/drafts/b.tmp", "a/layers/c.psd",
                                   "a/layers/c.psd.xmp", "a/link.jpg", "a/pipe"])
        #expect(rows["a/photo.jpg_original"]?.reason == .ignored && rows["a/photo.jpg_original"]?.detail.contains("*_original") == true)
        #expect(rows["a/photo.jpg_original"]?.size == 3000)
        #expect(rows["a/Thumbs.db"]?.reason == .ignored)
        #expect(rows["a/.git"]?.reason == .ignored && rows["a/.git"]?.kind == .directory)
        #expect(rows["a/drafts/b.tmp"]?.reason == .excluded && rows["a/drafts/b.tmp"]?.detail == "exclude rule: *.tmp")
        #expect(rows["a/layers/c.psd.xmp"]?.reason == .excluded && rows["a/layers/c.psd.xmp"]?.detail.contains("sidecar") == true)
        #expect(rows["a/link.jpg"]?.reason == .symlink && rows["a/link.jpg"]?.kind == .symlink)
        #expect(rows["a/pipe"]?.reason == .specialFile && rows["a/pipe"]?.kind == .fifo)
        // Only photo.jpg is catalogued: the sidecar of an excluded file is not an asset.
        let files = try probe(store).files().map(\.path)
        #expect(files == ["photo.jpg"])

        // Rows follow the folders: a junk file removed, a folder removed, a rule dropped.
        try tree.remove("a/Thumbs.db")
        try tree.remove("a/drafts")
        silo.excludes = ["*.psd"]
        _ = try ScanEngine(store: store).scan([silo], options: ScanOptions())
        rows = try recorded()
        #expect(rows["a/Thumbs.db"] == nil && rows["a/drafts/b.tmp"] == nil)
        #expect(rows["a/photo.jpg_original"] != nil && rows["a/pipe"] != nil)
        // An include rule: what it leaves out is said.
        var only = tree.silo("a")
        only.includes = ["*.jpg"]
        _ = try ScanEngine(store: store).scan([only], options: ScanOptions())
        rows = try recorded()
        #expect(rows["a/layers/c.psd"]?.reason == .notIncluded && rows["a/layers/c.psd.xmp"]?.reason == .notIncluded)
        // --no-default-ignores catalogues junk: its rows go.
        var options = ScanOptions()
        options.useDefaultIgnores = false
        _ = try ScanEngine(store: store).scan([tree.silo("a")], options: options)
        rows = try recorded()
        #expect(rows["a/photo.jpg_original"] == nil && rows["a/.git"] == nil)
        #expect(Set(rows.keys) == ["a/link.jpg", "a/pipe"])
    }

    @Test("Files without a full hash are listed for plans, with the last problem reading them")
    func unhashedFilesListed() throws {
        let tree = try TestTree()
        try tree.write("a/unique.bin", bytes(1234, seed: 1))
        try tree.write("a/x.bin", bytes(500, seed: 2))
        try tree.write("b/y.bin", bytes(500, seed: 2))
        let (result, store) = try scan(tree, [tree.silo("a"), tree.silo("b", priority: 2)], mode: .dupes)
        var unhashed = try store.unhashedFiles()
        #expect(unhashed.map { "\($0.silo)/\($0.path.display)" } == ["a/unique.bin"])
        #expect(unhashed.first?.problem == nil && unhashed.first?.size == 1234)
        // A read that failed is named (the last such diagnostic for that file).
        try store.record([Diagnostic(.warning, .unreadable, silo: "a", path: RelativePath("unique.bin"), errno: 13,
                                     message: "cannot read it: Permission denied")], runID: result.runID)
        unhashed = try store.unhashedFiles()
        #expect(unhashed.first?.problem == "cannot read it: Permission denied")
    }

    @Test("Zero-length files are not grouped unless asked")
    func emptyFiles() throws {
        let tree = try TestTree()
        try tree.write("a/empty1", [])
        try tree.write("b/empty2", [])
        for mode in [HashMode.full, .dupes] {
            let (_, store) = try scan(tree, [tree.silo("a"), tree.silo("b", priority: 2)], mode: mode)
            #expect(try groups(store).isEmpty)
            #expect(try groups(store, DuplicateQuery(includeEmpty: true)) == [["a/empty1", "b/empty2"]])
            try tree.removeCatalogue()
        }
    }

    @Test("The same folder twice is refused; a silo inside another is catalogued once")
    func overlappingSilos() throws {
        let tree = try TestTree()
        try tree.write("all/marketing/logo.png", bytes(3000, seed: 1))
        try tree.write("all/other.txt", "x")
        try tree.symlink("alias", to: tree.url("all").path)
        #expect(throws: ScanError.self) {
            try scan(tree, [tree.silo("all"), SiloDefinition(name: "again", root: FilePath(tree.url("alias").path), priority: 2)])
        }
        let inner = SiloDefinition(name: "marketing", root: FilePath(tree.url("all/marketing").path), priority: 2)
        let (result, store) = try scan(tree, [tree.silo("all"), inner])
        #expect(result.counts.files == 2)
        #expect(result.diagnostics.contains { $0.code == .nestedSilo })
        #expect(try groups(store).isEmpty)
        let stats = try store.analyse(DuplicateQuery(), top: 0).silos
        #expect(stats.first { $0.silo == "all" }?.files == 1)
        #expect(stats.first { $0.silo == "marketing" }?.files == 1)
        // The same folder under a new name in a later scan is refused too.
        #expect(throws: CatalogueError.self) {
            try scan(tree, [SiloDefinition(name: "renamed", root: FilePath(tree.url("all").path), priority: 1)])
        }
    }

    @Test("An emptied silo root (an unmounted share) does not mark its files missing")
    func emptyRootGuard() throws {
        let tree = try TestTree()
        try tree.write("share/a.txt", "a")
        try tree.write("share/sub/b.txt", "b")
        let (_, store) = try scan(tree, [tree.silo("share")])
        try tree.remove("share")
        try tree.mkdir("share")
        let (result, _) = try scan(tree, [tree.silo("share")])
        #expect(result.counts.filesMissing == 0)
        #expect(result.diagnostics.contains { $0.severity == .error && $0.message.contains("is it mounted") })
        let count = try probe(store).files().count
        #expect(count == 2)
    }

    @Test("Silo names and roots are checked before anything is written")
    func validation() throws {
        let tree = try TestTree()
        try tree.mkdir("a")
        try tree.write("file.txt", "x")
        #expect(throws: ScanError.self) { try scan(tree, []) }
        #expect(throws: ScanError.self) { try scan(tree, [SiloDefinition(name: "bad/name", root: FilePath(tree.url("a").path), priority: 1)]) }
        #expect(throws: ScanError.self) { try scan(tree, [tree.silo("a"), tree.silo("a")]) }
        #expect(throws: ScanError.self) { try scan(tree, [SiloDefinition(name: "gone", root: FilePath(tree.url("nope").path), priority: 1)]) }
        #expect(throws: ScanError.self) { try scan(tree, [SiloDefinition(name: "f", root: FilePath(tree.url("file.txt").path), priority: 1)]) }
        var bad = tree.silo("a")
        bad.excludes = ["[oops"]
        #expect(throws: ScanError.self) { try scan(tree, [bad]) }
    }

    @Test("Runs are recorded with their options and counts")
    func runsRecorded() throws {
        let tree = try TestTree()
        try tree.write("a/x.txt", "x")
        let (result, store) = try scan(tree, [tree.silo("a")])
        let runs = try store.runs(limit: nil)
        #expect(runs.count == 1)
        #expect(runs[0].id == result.runID)
        #expect(runs[0].status == .ok)
        #expect(runs[0].counts.files == 1)
        #expect(runs[0].silos == ["a"])
        #expect(runs[0].options.contains("\"hash_mode\":\"full\""))
        #expect(runs[0].options.contains("\"follow_symlinks\":false"))
        #expect(runs[0].finishedAt != nil)
    }

    @Test("A scan holds the catalogue: a second scan at the same time is refused")
    func lock() throws {
        let tree = try TestTree()
        try tree.write("a/x.txt", "x")
        let store = try SQLiteCatalogue(path: tree.catalogue)
        let lock = try store.lockForScan()
        #expect(throws: CatalogueError.self) { try scan(tree, [tree.silo("a")]) }
        withExtendedLifetime(lock) {}
    }
}
