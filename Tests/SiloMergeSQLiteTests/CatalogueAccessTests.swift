import Foundation
import GRDB
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

@Suite("What a file given as the catalogue is, decided before writing to it")
struct CatalogueFileTests {
    func digest(_ path: String) throws -> String { try sha([UInt8](Data(contentsOf: URL(fileURLWithPath: path)))) }
    func companions(_ path: String) -> [String] {
        ["-wal", "-shm", "-journal"].filter { FileManager.default.fileExists(atPath: path + $0) }
    }

    @Test("Somebody else's SQLite file (rollback or WAL mode) is refused byte for byte untouched, whatever the access",
          arguments: [false, true])
    func foreign(wal: Bool) throws {
        let tree = try TestTree()
        let path = tree.url("invoices.sqlite").path
        do {
            let queue = try DatabaseQueue(path: path)
            try queue.writeWithoutTransaction { db in
                if wal { try db.execute(sql: "PRAGMA journal_mode = WAL") }
                try db.execute(sql: "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5)")
            }
        }
        #expect(companions(path).isEmpty)
        let before = try digest(path)
        for access in [CatalogueAccess.readOnly, .readWrite, .create] {
            do {
                _ = try SQLiteCatalogue(path: path, access: access)
                Issue.record("opened a foreign database for \(access)")
            } catch let error as CatalogueError {
                #expect("\(error)" == "\(path) is not a SiloMerge catalogue: it holds other tables (invoices)")
            }
            #expect(try digest(path) == before, "\(access) changed the file")
            #expect(companions(path).isEmpty, "\(access) left \(companions(path))")
        }
    }

    @Test("Text, an empty file and a folder: refused or created as the access says")
    func otherFiles() throws {
        let tree = try TestTree()
        try tree.write("notes.sqlite", "not a database but long enough to hold a header of a hundred bytes, one would think, surely")
        #expect(throws: CatalogueError.self) { try SQLiteCatalogue(path: tree.url("notes.sqlite").path, access: .create) }
        try tree.write("empty.sqlite", "")
        for access in [CatalogueAccess.readOnly, .readWrite] {
            #expect(throws: CatalogueError.self) { try SQLiteCatalogue(path: tree.url("empty.sqlite").path, access: access) }
            #expect(try Data(contentsOf: tree.url("empty.sqlite")).isEmpty)
        }
        _ = try SQLiteCatalogue(path: tree.url("empty.sqlite").path, access: .create)
        #expect(try CatalogueFile.inspect(tree.url("empty.sqlite").path, known: Set(CatalogueSchema.migrator().migrations)) != .empty)
        try tree.mkdir("dir.sqlite")
        do {
            _ = try SQLiteCatalogue(path: tree.url("dir.sqlite").path, access: .create)
            Issue.record("opened a folder")
        } catch let error as CatalogueError {
            #expect("\(error)".contains("it is a folder"))
        }
        #expect(throws: CatalogueError.self) { try SQLiteCatalogue(path: tree.url("missing.sqlite").path, access: .readOnly) }
        #expect(!FileManager.default.fileExists(atPath: tree.url("missing.sqlite").path))
    }

    @Test("An older catalogue: a read-only open refuses it untouched; a writing open upgrades it in place")
    func olderCatalogue() throws {
        let tree = try TestTree()
        let path = tree.catalogue
        do {
            let queue = try DatabaseQueue(path: path)
            try CatalogueSchema.migrator().migrate(queue, upTo: "v3-check")
        }
        let before = try digest(path)
        do {
            _ = try SQLiteCatalogue(path: path, access: .readOnly)
            Issue.record("a read-only open accepted an older catalogue")
        } catch let error as CatalogueError {
            #expect("\(error)".contains("older SiloMerge"))
            #expect("\(error)".contains("run `silomerge scan` to upgrade it"))
        }
        #expect(try digest(path) == before)
        #expect(companions(path).isEmpty)
        let store = try SQLiteCatalogue(path: path, access: .readWrite)
        let (appID, applied) = try store.pool.read { db in
            (try Int32.fetchOne(db, sql: "PRAGMA application_id"), try CatalogueSchema.migrator().appliedIdentifiers(db))
        }
        #expect(appID == CatalogueFile.applicationID)
        #expect(applied.contains("v7-input"))
        _ = try SQLiteCatalogue(path: path, access: .readOnly)
    }

    @Test("A read-only catalogue cannot be written, even by mistake")
    func readOnlyRefusesWrites() throws {
        let tree = try TestTree()
        try tree.write("a/x.txt", "x")
        _ = try scan(tree, [tree.silo("a")])
        let store = try SQLiteCatalogue(path: tree.catalogue, access: .readOnly)
        #expect(try store.silos().map(\.name) == ["a"])
        #expect(throws: CatalogueError.self) { try store.setSetting("x", "y") }
    }
}
