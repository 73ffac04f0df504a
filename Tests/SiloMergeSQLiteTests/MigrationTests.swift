import Foundation
import GRDB
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

// Catalogues from older schemas, built with the migrator up to a named version and filled with
// SQL as that version's SiloMerge left them, then opened by today's: these test the SQLite
// backend's migrations (moved here from the core suites whose behaviour they concern).

/// Scans `silos` as `host` into the tree's catalogue.
@discardableResult
private func scan(_ tree: TestTree, _ silos: [SiloDefinition], host: HostIdentity?, mode: HashMode = .full) throws -> (ScanResult, SQLiteCatalogue) {
    let store = try SQLiteCatalogue(path: tree.catalogue)
    var options = ScanOptions()
    options.hashMode = mode
    return (try ScanEngine(store: store, host: host).scan(silos, options: options), store)
}

@Suite("SQLite migrations: an older catalogue migrates in place")
struct MigrationTests {
    @Test("Migrating an older catalogue reopens corruption its last check reported and the file still holds")
    func migrationReopensCorruption() throws {
        let tree = try TestTree()
        let queue = try DatabaseQueue(path: tree.catalogue)
        try CatalogueSchema.migrator().migrate(queue, upTo: "v3-check")
        let good = String(repeating: "a", count: 64), rotten = String(repeating: "b", count: 64)
        try queue.write { db in
            try db.execute(sql: """
                INSERT INTO silo (id, name, root, priority, added_at) VALUES (1, 's', '/nowhere', 1, '2026-01-01T00:00:00.000Z');
                INSERT INTO run (id, kind, status, started_at, tool_version, host, hash_mode, options, silos, outcome)
                    VALUES (1, 'check', 'ok', '2026-01-02T00:00:00.000Z', '0', 'h', 'full', '{}', '["s"]', 'corrupted');
                INSERT INTO file (id, silo_id, dir, name, size, mtime_ns, ctime_ns, dev, ino, nlink, mode, uid, gid, first_seen_run, sha256)
                    VALUES (1, 1, 'd', 'rotten.bin', 10, 1, 1, 1, 1, 1, 33188, 0, 0, 1, ?),
                           (2, 1, 'd', 'fixed.bin', 10, 1, 1, 1, 2, 1, 33188, 0, 0, 1, ?);
                INSERT INTO finding (run_id, kind, silo, path, old_size, old_mtime_ns, old_sha256, new_size, new_mtime_ns, new_sha256)
                    VALUES (1, 'corrupted', 's', 'd/rotten.bin', 10, 1, ?, 10, 1, ?),
                           (1, 'corrupted', 's', 'd/fixed.bin', 10, 1, ?, 10, 1, ?);
                """, arguments: [rotten, good, good, rotten, good, rotten])
        }
        let store = try SQLiteCatalogue(path: tree.catalogue)
        let open = try store.openFindings(silos: [])
        #expect(open.map(\.path) == [RelativePath("d/rotten.bin")])
        #expect(open.first?.verified.sha256?.hex == good)
        #expect(open.first?.openedRun == 1)
    }

    @Test("Migrating an older catalogue keeps only the latest read of a lone .xmp's piled-up rows")
    func migrationCleansPiledUpRows() throws {
        let tree = try TestTree()
        let queue = try DatabaseQueue(path: tree.catalogue)
        try CatalogueSchema.migrator().migrate(queue, upTo: "v3-check")
        try queue.write { db in
            try db.execute(sql: """
                INSERT INTO silo (id, name, root, priority, added_at) VALUES (1, 's', '/nowhere', 1, '2026-01-01T00:00:00.000Z');
                INSERT INTO run (id, kind, status, started_at, tool_version, host, hash_mode, options, silos)
                    VALUES (1, 'scan', 'ok', '2026-01-01T00:00:00.000Z', '0', 'h', 'full', '{}', '["s"]');
                INSERT INTO file (id, silo_id, dir, name, size, mtime_ns, ctime_ns, dev, ino, nlink, mode, uid, gid, first_seen_run, format, metadata_read)
                    VALUES (1, 1, '', 'lone.xmp', 10, 1, 1, 1, 1, 1, 33188, 0, 0, 1, 'xmp', 1),
                           (2, 1, '', 'photo.jpg', 10, 1, 1, 1, 2, 1, 33188, 0, 0, 1, 'jpeg', 1);
                INSERT INTO metadata (file_id, field, origin, tag, value, raw) VALUES
                    (1, 'title', 'sidecar', 'XMP-dc:Title', '"Old 1"', 'Old 1'),
                    (1, 'title', 'sidecar', 'XMP-dc:Title', '"Old 2"', 'Old 2'),
                    (1, 'format', 'header', 'File:FileType', '"xmp"', 'xmp'),
                    (1, 'title', 'sidecar', 'XMP-dc:Title', '"Now"', 'Now');
                INSERT INTO metadata (file_id, field, origin, tag, value, raw, source) VALUES
                    (2, 'title', 'sidecar', 'XMP-dc:Title', '"Sidecar"', 'Sidecar', 'photo.jpg.xmp');
                """)
        }
        let store = try SQLiteCatalogue(path: tree.catalogue)
        let titles = try store.pool.read { db in try String.fetchAll(db, sql: "SELECT value FROM metadata WHERE field = 'title' ORDER BY file_id, rowid") }
        #expect(titles == ["\"Now\"", "\"Sidecar\""])
    }

    @Test("a catalogue from before hosts migrates in place: its silos have no host until the first scan claims them all for its host")
    func migratesAndClaims() throws {
        let tree = try TestTree()
        try tree.write("a/x.txt", "x")
        try tree.write("b/y.txt", "y")
        do {
            let pool = try DatabasePool(path: tree.catalogue)
            try CatalogueSchema.migrator().migrate(pool, upTo: "v8-merges")
            try pool.write { db in
                for (i, name) in ["a", "b"].enumerated() {
                    try db.execute(sql: "INSERT INTO silo (name, root, priority, added_at) VALUES (?, ?, ?, '2026-01-01T00:00:00.000Z')",
                                   arguments: [name, tree.url(name).path, i + 1])
                }
            }
        }
        let store = try SQLiteCatalogue(path: tree.catalogue, create: false)
        #expect(try store.silos().map(\.host) == [nil, nil])
        // Before any claim, the unclaimed silos are one host: hard links among them collapse.
        #expect(HostOrdinals(try store.silos()).host(ofSilo: try store.silos()[0].id)
                == HostOrdinals(try store.silos()).host(ofSilo: try store.silos()[1].id))
        // A scan of one silo claims both: the catalogue's files were all on this host.
        let here = try HostIdentity.local()
        _ = try scan(tree, [tree.silo("a")], host: nil)
        #expect(try store.silos().map(\.host) == [here, here])
        #expect(throws: ScanError.self) { try scan(tree, [tree.silo("b", priority: 2)], host: HostIdentity(id: "beta", name: "beta")) }
    }

    @Test("a catalogue made before root identities migrates in place: no identity until the next scan records it")
    func olderCatalogue() throws {
        let tree = try TestTree()
        try tree.write("a/x.txt", "x")
        let path = tree.catalogue
        do {
            let pool = try DatabasePool(path: path)
            try CatalogueSchema.migrator().migrate(pool, upTo: "v3-check")
            try pool.write { db in
                try db.execute(sql: "INSERT INTO silo (name, root, priority, added_at) VALUES ('a', ?, 1, '2026-01-01T00:00:00.000Z')",
                               arguments: [tree.url("a").path])
            }
        }
        let store = try SQLiteCatalogue(path: path, create: false)
        let before = try #require(try store.silos().first)
        #expect(before.rootIdentity == nil)
        // A plan of it pins the root from the disk (nothing to compare with yet).
        #expect(try PlanRoots.identify(before).identity != nil)
        _ = try scan(tree, [tree.silo("a")])
        let after = try #require(try SQLiteCatalogue(path: path, create: false).silos().first)
        guard case .success(let st) = Posix.stat(FilePath(tree.url("a").path)) else { Issue.record("stat"); return }
        #expect(after.rootIdentity == st.fileID)
        #expect(try store.planRuns([1]).isEmpty)
    }
}
