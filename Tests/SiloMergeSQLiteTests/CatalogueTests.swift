import Foundation
import GRDB
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

@Suite("The SQLite catalogue")
struct CatalogueTests {
    @Test("A new catalogue has the documented tables; reopening keeps the data")
    func schema() throws {
        let tree = try TestTree()
        try tree.write("a/x.txt", "x")
        _ = try scan(tree, [tree.silo("a")])
        let store = try SQLiteCatalogue(path: tree.catalogue, create: false)
        let tables = try store.pool.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        }
        for t in ["change", "diagnostic", "file", "run", "silo"] { #expect(tables.contains(t)) }
        let path = try store.pool.read { db in try String.fetchOne(db, sql: "SELECT path FROM file") }
        #expect(path == "x.txt")
        #expect(try store.silos().map(\.name) == ["a"])
    }

    @Test("Reports refuse to create an empty catalogue")
    func missingCatalogue() throws {
        let tree = try TestTree()
        #expect(throws: CatalogueError.self) { try SQLiteCatalogue(path: tree.catalogue, create: false) }
        #expect(!FileManager.default.fileExists(atPath: tree.catalogue))
    }

    @Test("Somebody else's SQLite file, or not SQLite at all, is refused")
    func foreignFiles() throws {
        let tree = try TestTree()
        try tree.write("text.sqlite", "this is not a database, just text that is long enough to look like a header")
        #expect(throws: CatalogueError.self) { try SQLiteCatalogue(path: tree.url("text.sqlite").path) }
        let other = tree.url("other.sqlite").path
        let queue = try DatabaseQueue(path: other)
        try queue.write { db in try db.execute(sql: "CREATE TABLE invoices (id INTEGER PRIMARY KEY)") }
        do {
            _ = try SQLiteCatalogue(path: other)
            Issue.record("opened a foreign database")
        } catch let error as CatalogueError {
            #expect("\(error)".contains("not a SiloMerge catalogue"))
        }
    }

    @Test("A catalogue from a newer SiloMerge is refused, not damaged")
    func newerSchema() throws {
        let tree = try TestTree()
        _ = try SQLiteCatalogue(path: tree.catalogue)
        let queue = try DatabaseQueue(path: tree.catalogue)
        try queue.write { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-future')") }
        do {
            _ = try SQLiteCatalogue(path: tree.catalogue)
            Issue.record("opened a newer catalogue")
        } catch let error as CatalogueError {
            #expect("\(error)".contains("newer SiloMerge"))
        }
    }

    @Test("A catalogue made before v6-plan migrates in place: its scans are known to predate the record of what they passed over")
    func migratesFromV3() throws {
        let tree = try TestTree()
        try tree.write("a/photo.jpg", bytes(1000, seed: 1))
        try tree.write("a/Thumbs.db", "junk")
        let queue = try DatabaseQueue(path: tree.catalogue)
        try CatalogueSchema.migrator().migrate(queue, upTo: "v3-check")
        try queue.write { db in
            try db.execute(sql: """
                INSERT INTO run (kind, status, started_at, tool_version, host, hash_mode, options, silos)
                VALUES ('scan', 'ok', '2026-01-01T00:00:00.000Z', '0.0.9', 'old', 'full', '{}', '[]')
                """)
        }
        let store = try SQLiteCatalogue(path: tree.catalogue)
        #expect(try store.setting("uncatalogued.since_run") == "1")
        #expect(try store.uncatalogued().isEmpty)
        let (result, _) = try scan(tree, [tree.silo("a")])
        #expect(result.runID > 1)
        #expect(try store.uncatalogued().map(\.path) == [RelativePath("Thumbs.db")])
        #expect(try store.silos().allSatisfy { ($0.lastRunID ?? 0) > 1 })
        // Removing the silo forgets what was recorded for it.
        try store.removeSilo(named: "a")
        #expect(try store.uncatalogued().isEmpty)
    }

    @Test("A catalogue made before v8-merges migrates in place: an empty merge ledger, its silos adopted from no plan, rescans unchanged")
    func migratesFromV6() throws {
        let tree = try TestTree()
        try tree.write("a/photo.jpg", bytes(1000, seed: 1))
        let queue = try DatabaseQueue(path: tree.catalogue)
        try CatalogueSchema.migrator().migrate(queue, upTo: "v6-plan")
        try queue.close()
        _ = try scan(tree, [tree.silo("a")])
        let store = try SQLiteCatalogue(path: tree.catalogue)
        #expect(try store.silos().map(\.adoptedPlan) == [nil])
        #expect(try store.syncMerges(runID: 1).isEmpty)
        #expect(try store.mergeContentKnown(planSHA256: "0").isEmpty)
        let (again, _) = try scan(tree, [tree.silo("a")])
        #expect(again.counts.filesUnchanged == 1)
        #expect(again.findings.isEmpty)
        let reader = try DatabaseQueue(path: tree.catalogue)
        #expect(try reader.read { db in try db.tableExists("merge_op") && db.tableExists("merge_plan") && db.tableExists("merge_metadata") })
        #expect(try reader.read { db in try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations") }.contains("v8-merges"))
    }

    @Test("A catalogue made before v14-phash migrates in place: its files kept, a table of perceptual hashes added")
    func migratesFromV13() throws {
        let tree = try TestTree()
        try tree.write("a/photo.jpg", bytes(1000, seed: 1))
        let queue = try DatabaseQueue(path: tree.catalogue)
        try CatalogueSchema.migrator().migrate(queue, upTo: "v13-shards")
        try queue.close()
        _ = try scan(tree, [tree.silo("a")])
        let reader = try DatabaseQueue(path: tree.catalogue)
        #expect(try reader.read { db in try db.tableExists("image_phash") })
        #expect(try reader.read { db in try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations") }.contains("v14-phash"))
        try reader.close()
        let (again, store) = try scan(tree, [tree.silo("a")])
        #expect(again.counts.filesUnchanged == 1)
        #expect(try store.similarImageFiles(siloIDs: nil).isEmpty)
    }

    @Test("A run killed half way is marked interrupted by the next scan")
    func interruptedRuns() throws {
        let tree = try TestTree()
        try tree.write("a/x.txt", "x")
        let store = try SQLiteCatalogue(path: tree.catalogue)
        let id = try store.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["a"])
        _ = try scan(tree, [tree.silo("a")])
        let runs = try store.runs(limit: nil)
        #expect(runs.first { $0.id == id }?.status == .interrupted)
        #expect(runs.first?.status == .ok)
    }

    @Test("Removing a silo forgets its files and nothing else")
    func removeSilo() throws {
        let tree = try TestTree()
        try tree.write("a/x.txt", "same")
        try tree.write("b/y.txt", "same")
        let (_, store) = try scan(tree, [tree.silo("a"), tree.silo("b", priority: 2)])
        #expect(try groups(store).count == 1)
        try store.removeSilo(named: "b")
        #expect(try store.silos().map(\.name) == ["a"])
        #expect(try groups(store).isEmpty)
        #expect(throws: CatalogueError.self) { try store.removeSilo(named: "b") }
        #expect(FileManager.default.fileExists(atPath: tree.url("b/y.txt").path))
    }

    @Test("A bare rescan of a moved silo follows it by name and compares relative paths")
    func movedSilo() throws {
        let tree = try TestTree()
        try tree.write("old/x.txt", "x")
        _ = try scan(tree, [SiloDefinition(name: "m", root: FilePath(tree.url("old").path), priority: 1)])
        try FileManager.default.moveItem(at: tree.url("old"), to: tree.url("new"))
        let (result, store) = try scan(tree, [SiloDefinition(name: "m", root: FilePath(tree.url("new").path), priority: 1)])
        #expect(result.counts.filesUnchanged == 1)
        #expect(try store.silos().first?.root.string == tree.url("new").resolvingSymlinksInPath().path)
    }
}
