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

/// v15-header-facts: a file's header facts (format, width, height) leave the metadata table for
/// the file's columns (`HeaderFacts`). What the catalogue gives back must not change: read
/// as it is before the upgrade (read-only), read after it, and copied out of the older
/// catalogue into a new one.
@Suite("SQLite migrations: header facts")
struct HeaderFactsMigrationTests {
    /// Every copy's values, by path, as the reconciliation reads them.
    static func values(_ store: SQLiteCatalogue) throws -> [String: [StoredValue]] {
        var out: [String: [StoredValue]] = [:]
        try store.pool.read { db in
            try store.forEachAssetSources(db, silos: try SQLiteCatalogue.fetchSilos(db)) { sources in
                for c in sources.copies { out[c.copy.path.display] = c.values }
            }
        }
        return out
    }

    /// A v14 catalogue (before v15-header-facts) with one silo, one scan run, and `rows`.
    static func v14Catalogue(_ tree: TestTree, _ rows: String) throws {
        let queue = try DatabaseQueue(path: tree.catalogue)
        try CatalogueSchema.migrator().migrate(queue, upTo: "v14-phash")
        try queue.write { db in
            try db.execute(sql: """
                INSERT INTO silo (id, name, root, priority, added_at) VALUES (1, 's', '/nowhere', 1, '2026-01-01T00:00:00.000Z');
                INSERT INTO run (id, kind, status, started_at, tool_version, host, hash_mode, options, silos)
                    VALUES (1, 'scan', 'ok', '2026-01-01T00:00:00.000Z', '0', 'h', 'full', '{}', '["s"]');
                """ + rows)
        }
        try queue.close()
    }

    @Test("a v14 catalogue's header rows become columns: values read the same before the upgrade, after it, and in a copy")
    func headerRowsBecomeColumns() throws {
        let tree = try TestTree()
        func digest(_ c: Character) -> String { String(repeating: c, count: 64) }
        // As v14's scans left them: header rows first among a file's own rows (a re-read puts
        // them after its sidecar's rows), each chosen, with the file's mtime.
        try Self.v14Catalogue(tree, """
                INSERT INTO file (id, silo_id, dir, name, size, mtime_ns, ctime_ns, dev, ino, nlink, mode, uid, gid, first_seen_run,
                                  sha256, format, width, height, metadata_read) VALUES
                    (1, 1, '', 'x.tif', 10, 77, 1, 1, 1, 1, 33188, 0, 0, 1, '\(digest("a"))', 'tiff', 40, 30, 4),
                    (2, 1, '', 'y.bin', 11, 78, 1, 1, 2, 1, 33188, 0, 0, 1, '\(digest("b"))', 'other', NULL, NULL, 4),
                    (3, 1, '', 'z.xmp', 12, 79, 1, 1, 3, 1, 33188, 0, 0, 1, '\(digest("c"))', 'other', NULL, NULL, 4),
                    (4, 1, '', 'w.png', 13, 80, 1, 1, 4, 1, 33188, 0, 0, 1, '\(digest("d"))', 'png', 8, 6, 4),
                    (5, 1, '', 'v.jpg', 14, 81, 1, 1, 5, 1, 33188, 0, 0, 1, '\(digest("e"))', 'jpeg', 20, 10, 0);
                INSERT INTO metadata (file_id, field, origin, tag, value, raw, source, source_mtime_ns, preferred) VALUES
                    (1, 'title', 'sidecar', 'XMP-dc:title', '"Side"', 'Side', 'x.tif.xmp', 5, 0),
                    (1, 'format', 'header', 'File:FileType', '"tiff"', 'tiff', NULL, 77, 1),
                    (1, 'width', 'header', 'IFD0:ImageWidth', '40', '40', NULL, 77, 1),
                    (1, 'height', 'header', 'IFD0:ImageHeight', '30', '30', NULL, 77, 1),
                    (1, 'width', 'exif', 'EXIF:ExifImageWidth', '40', '40', NULL, 77, 0),
                    (1, 'make', 'exif', 'EXIF:Make', '"Canon"', 'Canon', NULL, 77, 1),
                    (3, 'format', 'header', 'File:FileType', '"other"', 'other', NULL, 79, 1),
                    (3, 'title', 'xmp', 'XMP-dc:title', '"T"', 'T', NULL, 79, 1),
                    (4, 'format', 'header', 'File:FileType', '"png"', 'png', NULL, 80, 1),
                    (4, 'width', 'header', 'PNG:ImageWidth', '8', '8', NULL, 80, 1),
                    (4, 'height', 'header', 'PNG:ImageHeight', '6', '6', NULL, 80, 1);
                """)
        let before = try Self.values(SQLiteCatalogue(path: tree.catalogue, access: .readOnly))
        #expect(before["x.tif"]?.count == 6 && before["y.bin"] == [] && before["z.xmp"]?.count == 2 && before["w.png"]?.count == 3)
        #expect(before["v.jpg"] == [])   // its metadata not read: no header facts

        // A copy made from the older catalogue, opened only to be read.
        let copyPath = tree.root.appendingPathComponent("copy.sqlite").path
        let copy = try SQLiteCatalogue(path: copyPath, access: .create)
        _ = try CatalogueCopy.copy(from: SQLiteCatalogue(path: tree.catalogue, access: .readOnly), to: copy)
        #expect(try Self.values(copy) == before)

        // The upgrade, in place, while a reader opened before it still has the catalogue open:
        // that reader reads the upgraded catalogue the same (it asks, per read, where the
        // header facts are).
        let reader = try SQLiteCatalogue(path: tree.catalogue, access: .readOnly)
        #expect(try Self.values(reader) == before)
        let store = try SQLiteCatalogue(path: tree.catalogue)
        #expect(try Self.values(store) == before)
        #expect(try Self.values(reader) == before)
        for catalogue in [store, copy] {
            let rows = try catalogue.pool.read { db in
                try Row.fetchAll(db, sql: "SELECT file_id, field, origin FROM metadata ORDER BY rowid").map { "\($0[0] as Int64) \($0[1] as String) \($0[2] as String)" }
            }
            #expect(rows == ["1 title sidecar", "1 width exif", "1 make exif", "3 title xmp"])
            let groups = try catalogue.pool.read { db in
                try Row.fetchAll(db, sql: "SELECT name, dimensions_group FROM file ORDER BY id").map { "\($0[0] as String)=\(($0[1] as String?) ?? "-")" }
            }
            #expect(groups == ["x.tif=IFD0", "y.bin=-", "z.xmp=-", "w.png=PNG", "v.jpg=-"])
        }
    }

    @Test("a v14 merge ledger: header rows become merge_op columns, the same upgraded in place and copied from it read-only")
    func mergeLedgerHeaderRows() throws {
        let tree = try TestTree()
        func digest(_ c: Character) -> String { String(repeating: c, count: 64) }
        // As a v14 apply recorded them (op 1: a TIFF with a sidecar-free title; op 2: a PNG
        // whose width row disagrees with its column; op 3: a file of no format; op 4: metadata
        // not read; a sidecar left behind, op NULL).
        try Self.v14Catalogue(tree, """
                INSERT INTO merge_plan (plan_sha256, plan, journal, target_root, quarantine_root, recorded_run)
                    VALUES ('\(digest("p"))', '/plans/p.json', '/plans/p.json.journal', '/dam', '/dam/.q', 1);
                INSERT INTO merge_op (plan_sha256, op, kind, effect, silo_id, silo, dir, name, size, sha256,
                                      dest_root, dest_dir, dest_name, state, format, width, height, metadata_read) VALUES
                    ('\(digest("p"))', 1, 'copy', 'copied', 1, 's', '', 'x.tif', 10, '\(digest("a"))', 'target', '', 'x.tif', 'done', 'tiff', 40, 30, 4),
                    ('\(digest("p"))', 2, 'copy', 'copied', 1, 's', '', 'w.png', 13, '\(digest("d"))', 'target', '', 'w.png', 'done', 'png', 8, 6, 4),
                    ('\(digest("p"))', 3, 'copy', 'copied', 1, 's', '', 'y.bin', 11, '\(digest("b"))', 'target', '', 'y.bin', 'done', 'other', NULL, NULL, 4),
                    ('\(digest("p"))', 4, 'copy', 'copied', 1, 's', '', 'v.jpg', 14, '\(digest("e"))', 'target', '', 'v.jpg', 'done', 'jpeg', 20, 10, 0);
                INSERT INTO merge_op (plan_sha256, op, follows_op, kind, effect, silo_id, silo, dir, name, state)
                    VALUES ('\(digest("p"))', NULL, 1, 'left', 'left', 1, 's', '', 'x.xmp', 'done');
                INSERT INTO merge_metadata (plan_sha256, op, field, origin, tag, value, raw, preferred) VALUES
                    ('\(digest("p"))', 1, 'format', 'header', 'File:FileType', '"tiff"', 'tiff', 1),
                    ('\(digest("p"))', 1, 'width', 'header', 'IFD0:ImageWidth', '40', '40', 1),
                    ('\(digest("p"))', 1, 'height', 'header', 'IFD0:ImageHeight', '30', '30', 1),
                    ('\(digest("p"))', 1, 'title', 'xmp', 'XMP-dc:title', '"T"', 'T', 1),
                    ('\(digest("p"))', 2, 'format', 'header', 'File:FileType', '"png"', 'png', 1),
                    ('\(digest("p"))', 2, 'width', 'header', 'PNG:ImageWidth', '9', '9', 1),
                    ('\(digest("p"))', 2, 'height', 'header', 'PNG:ImageHeight', '6', '6', 1),
                    ('\(digest("p"))', 3, 'title', 'xmp', 'XMP-dc:title', '"B"', 'B', 1);
                """)
        func ledger(_ catalogue: SQLiteCatalogue) throws -> [String] {
            try catalogue.pool.read { db in
                try Row.fetchAll(db, sql: "SELECT op, name, dimensions_group FROM merge_op ORDER BY id").map {
                    "op \(($0[0] as Int64?).map(String.init) ?? "-") \($0[1] as String) \(($0[2] as String?) ?? "-")"
                } + Row.fetchAll(db, sql: "SELECT op, field, origin, tag, raw FROM merge_metadata ORDER BY op, rowid").map {
                    "\($0[0] as Int64) \($0[1] as String) \($0[2] as String) \($0[3] as String) \($0[4] as String)"
                }
            }
        }
        let expected = [
            "op 1 x.tif IFD0", "op 2 w.png PNG", "op 3 y.bin -", "op 4 v.jpg -", "op - x.xmp -",
            // Header rows the columns give back are gone; the PNG's width row that disagrees stays.
            "1 title xmp XMP-dc:title T", "2 width header PNG:ImageWidth 9", "3 title xmp XMP-dc:title B",
        ]
        // Copied out of the v14 catalogue opened only to be read (a shard merged, a copy)...
        let copy = try SQLiteCatalogue(path: tree.root.appendingPathComponent("copy.sqlite").path, access: .create)
        _ = try CatalogueCopy.copy(from: SQLiteCatalogue(path: tree.catalogue, access: .readOnly), to: copy)
        #expect(try ledger(copy) == expected)
        // ... and upgraded in place: the same ledger.
        #expect(try ledger(SQLiteCatalogue(path: tree.catalogue)) == expected)
    }

    @Test("a header row its file's columns do not give back exactly stays a row: nothing is lost")
    func disagreeingHeaderRowStays() throws {
        let tree = try TestTree()
        try Self.v14Catalogue(tree, """
                INSERT INTO file (id, silo_id, dir, name, size, mtime_ns, ctime_ns, dev, ino, nlink, mode, uid, gid, first_seen_run,
                                  sha256, format, width, height, metadata_read)
                    VALUES (1, 1, '', 'w.png', 13, 80, 1, 1, 4, 1, 33188, 0, 0, 1, '\(String(repeating: "d", count: 64))', 'png', 8, 6, 4);
                INSERT INTO metadata (file_id, field, origin, tag, value, raw, source, source_mtime_ns, preferred) VALUES
                    (1, 'format', 'header', 'File:FileType', '"png"', 'png', NULL, 80, 1),
                    (1, 'width', 'header', 'PNG:ImageWidth', '9', '9', NULL, 80, 1),
                    (1, 'height', 'header', 'PNG:ImageHeight', '6', '6', NULL, 80, 1);
                """)
        let store = try SQLiteCatalogue(path: tree.catalogue)
        let rows = try store.pool.read { db in try Row.fetchAll(db, sql: "SELECT field, raw FROM metadata").map { "\($0[0] as String)=\($0[1] as String)" } }
        #expect(rows == ["width=9"])
        let values = try #require(try HeaderFactsMigrationTests.values(store)["w.png"])
        #expect(values.filter { $0.field == .width }.map(\.raw) == ["8", "9"])
    }
}
