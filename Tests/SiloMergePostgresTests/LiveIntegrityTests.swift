import Foundation
import PostgresNIO
import Testing
@testable import SiloMergePostgres

/// Schema version 2 keeps the references file → silo, metadata → file and sidecar → file with
/// statement-level triggers instead of foreign keys (PostgresSchema+Integrity.swift). These
/// tests hold the triggers to what the foreign keys did: refuse orphans (inserted one by one,
/// by COPY or by changing a reference), delete children with their parents, keep a parent's
/// id while it is named, lock parents against a concurrent delete, and upgrade a version-1
/// catalogue with its rows.
@Suite("Catalogue references without foreign keys (live server)", .enabled(if: LivePG.available, LivePG.skipReason))
struct LiveIntegrityTests {
    /// A catalogue schema at the newest version in a scratch schema, with two silos, a file in
    /// each, and metadata and a sidecar for the first file.
    static func catalogue(migrations: [PostgresMigration] = PostgresSchema.migrations) throws -> Scratch {
        let scratch = try Scratch()
        var migrator = try PostgresMigrator(migrations)
        migrator.lock = AdvisoryLockKey("schema-\(scratch.schema)")
        try migrator.migrate(scratch.admin, appliedBy: "test")
        for statement in [
            """
            INSERT INTO silo (id, name, root, priority, added_at) VALUES
                (1, 'a', '\\x2f61', 1, '2026-12-03T00:00:00.000Z'), (2, 'b', '\\x2f62', 2, '2026-12-03T00:00:00.000Z')
            """,
            """
            INSERT INTO run (id, kind, status, started_at, tool_version, host, hash_mode, options, silos)
                VALUES (1, 'scan', 'ok', '2026-12-03T00:00:00.000Z', 't', 'h', 'full', '{}', '[]')
            """,
            """
            INSERT INTO file (id, silo_id, dir, name, size, mtime_ns, ctime_ns, dev, ino, nlink, mode, uid, gid, first_seen_run)
                VALUES (10, 1, '', 'x.jpg', 1, 1, 1, 1, 10, 1, 33188, 0, 0, 1), (20, 2, '', 'y.jpg', 1, 1, 1, 1, 20, 1, 33188, 0, 0, 1)
            """,
            "INSERT INTO metadata (file_id, field, origin, tag, value, raw) VALUES (10, 'title', 'xmp', 'dc:title', '\"T\"', 'T')",
            """
            INSERT INTO sidecar (file_id, silo_id, dir, name, size, mtime_ns, ctime_ns, dev, ino, form, used)
                VALUES (10, 1, '', 'x.xmp', 1, 1, 1, 1, 11, 'name', 1)
            """,
        ] {
            try scratch.admin.execute(PostgresQueryText.raw(statement))
        }
        return scratch
    }

    static func count(_ s: PostgresSession, _ sql: String) throws -> Int {
        try s.query(PostgresQueryText.raw(sql), as: Int.self).first ?? -1
    }

    static func violation(_ body: () throws -> Void) -> PostgresClientError? {
        caught(body) as? PostgresClientError
    }

    @Test("a row naming no parent is refused, whole statement and all, with the table, column and value")
    func orphansRefused() throws {
        let scratch = try Self.catalogue()
        let s = scratch.admin
        let insert = try #require(Self.violation {
            try s.execute(PostgresQueryText.raw("""
                INSERT INTO file (silo_id, dir, name, size, mtime_ns, ctime_ns, dev, ino, nlink, mode, uid, gid, first_seen_run)
                VALUES (1, '', 'ok.jpg', 1, 1, 1, 1, 30, 1, 33188, 0, 0, 1), (99, '', 'orphan.jpg', 1, 1, 1, 1, 31, 1, 33188, 0, 0, 1)
                """))
        })
        #expect(insert.sqlState == "23503")
        #expect(insert.message.contains("file.silo_id = 99"), "\(insert.message)")
        #expect(try Self.count(s, "SELECT count(*)::int FROM file") == 2, "the good row of the statement is not kept either")

        // COPY, as a scan writes: one bad row fails the whole COPY.
        let copy = try #require(Self.violation {
            _ = try s.copyIn(table: "metadata", columns: ["file_id", "field", "origin", "tag", "value", "raw"]) { w in
                for id in [10, 20, 77] {
                    try w.int(id); try w.text("title"); try w.text("xmp"); try w.text("dc:title"); try w.text("\"t\""); try w.text("t")
                    try w.endRow()
                }
            }
        })
        #expect(copy.sqlState == "23503")
        #expect(copy.message.contains("metadata.file_id = 77"), "\(copy.message)")
        #expect(try Self.count(s, "SELECT count(*)::int FROM metadata") == 1)

        let sidecar = try #require(Self.violation {
            try s.execute(PostgresQueryText.raw("""
                INSERT INTO sidecar (file_id, silo_id, dir, name, size, mtime_ns, ctime_ns, dev, ino, form, used)
                VALUES (55, 1, '', 'z.xmp', 1, 1, 1, 1, 12, 'name', 1)
                """))
        })
        #expect(sidecar.sqlState == "23503")

        // Changing a reference to nothing is refused; to another parent is allowed.
        let moved = try #require(Self.violation { try s.execute(PostgresQueryText.raw("UPDATE file SET silo_id = 98 WHERE id = 10")) })
        #expect(moved.sqlState == "23503")
        #expect(moved.message.contains("file.silo_id = 98"), "\(moved.message)")
        try s.execute(PostgresQueryText.raw("UPDATE file SET silo_id = 2 WHERE id = 10"))
        #expect(try Self.count(s, "SELECT silo_id::int FROM file WHERE id = 10") == 2)
        // Other updates never run the check (it fires only when the reference changes).
        try s.execute(PostgresQueryText.raw("UPDATE file SET size = 5"))
    }

    @Test("the checks read the catalogue's own tables whatever the session's search_path holds first")
    func searchPathCannotRedirect() throws {
        let scratch = try Self.catalogue()
        let s = scratch.admin
        let shadow = scratch.schema + "_shadow"
        try s.execute(PostgresQueryText.raw("CREATE SCHEMA \(shadow)"))
        defer { _ = try? s.execute(PostgresQueryText.raw("DROP SCHEMA \(shadow) CASCADE")) }
        try s.execute(PostgresQueryText.raw("CREATE TABLE \(shadow).silo (id bigint PRIMARY KEY)"))
        try s.execute(PostgresQueryText.raw("INSERT INTO \(shadow).silo VALUES (99)"))
        try s.execute(PostgresQueryText.raw("SET search_path TO \(shadow), \(scratch.schema)"))
        let orphan = try #require(Self.violation {
            try s.execute(PostgresQueryText.raw("""
                INSERT INTO \(scratch.schema).file (silo_id, dir, name, size, mtime_ns, ctime_ns, dev, ino, nlink, mode, uid, gid, first_seen_run)
                VALUES (99, '', 'o.jpg', 1, 1, 1, 1, 31, 1, 33188, 0, 0, 1)
                """))
        })
        #expect(orphan.sqlState == "23503", "\(orphan.message)")
        // And a delete cascades into the catalogue's own files, not into a shadow's.
        try s.execute(PostgresQueryText.raw("CREATE TABLE \(shadow).file (id bigint, silo_id bigint)"))
        try s.execute(PostgresQueryText.raw("INSERT INTO \(shadow).file VALUES (1, 1)"))
        try s.execute(PostgresQueryText.raw("DELETE FROM \(scratch.schema).silo WHERE id = 1"))
        #expect(try Self.count(s, "SELECT count(*)::int FROM \(scratch.schema).file WHERE silo_id = 1") == 0)
        #expect(try Self.count(s, "SELECT count(*)::int FROM \(shadow).file") == 1)
    }

    @Test("deleting parents deletes their children in the same statement; a named parent keeps its id")
    func cascades() throws {
        let scratch = try Self.catalogue()
        let s = scratch.admin
        try s.execute(PostgresQueryText.raw("DELETE FROM file WHERE id = 20"))
        #expect(try Self.count(s, "SELECT count(*)::int FROM file") == 1)
        #expect(try Self.count(s, "SELECT count(*)::int FROM metadata") == 1, "file 10's metadata stays")

        let renumber = try #require(Self.violation { try s.execute(PostgresQueryText.raw("UPDATE silo SET id = 7 WHERE id = 1")) })
        #expect(renumber.sqlState == "23503")
        try s.execute(PostgresQueryText.raw("UPDATE silo SET id = 8 WHERE id = 2"))   // names nothing now

        // Silo → files → their metadata and sidecars, all in one statement.
        try s.execute(PostgresQueryText.raw("DELETE FROM silo WHERE id = 1"))
        #expect(try Self.count(s, "SELECT count(*)::int FROM file") == 0)
        #expect(try Self.count(s, "SELECT count(*)::int FROM metadata") == 0)
        #expect(try Self.count(s, "SELECT count(*)::int FROM sidecar") == 0)
        #expect(try Self.count(s, "SELECT count(*)::int FROM silo") == 1)
    }

    @Test("a parent named by an uncommitted insert cannot be deleted under it (it waits, as with a foreign key)")
    func concurrentDelete() throws {
        let scratch = try Self.catalogue()
        let writer = try scratch.session()
        let remover = try scratch.session()
        defer { writer.close(); remover.close() }
        try writer.execute("BEGIN")
        try writer.execute(PostgresQueryText.raw("""
            INSERT INTO file (id, silo_id, dir, name, size, mtime_ns, ctime_ns, dev, ino, nlink, mode, uid, gid, first_seen_run)
            VALUES (30, 2, '', 'new.jpg', 1, 1, 1, 1, 30, 1, 33188, 0, 0, 1)
            """))
        // The silo is locked FOR KEY SHARE by the insert: a delete waits (and here times out).
        try remover.execute("SET lock_timeout = '300ms'")
        let blocked = try #require(Self.violation { try remover.execute(PostgresQueryText.raw("DELETE FROM silo WHERE id = 2")) })
        #expect(blocked.sqlState == "55P03", "\(blocked.message)")
        try writer.execute("COMMIT")
        // Once committed, the delete sees the new file and takes it along.
        try remover.execute(PostgresQueryText.raw("DELETE FROM silo WHERE id = 2"))
        #expect(try Self.count(remover, "SELECT count(*)::int FROM file WHERE silo_id = 2") == 0)
        #expect(try Self.count(remover, "SELECT count(*)::int FROM file") == 1)
    }

    @Test("a version-1 catalogue is upgraded with its rows: references by triggers, narrow indexes")
    func upgradeFromVersionOne() throws {
        let first = try #require(PostgresSchema.migrations.first { $0.version == 1 })
        let scratch = try Self.catalogue(migrations: [first])
        let s = scratch.admin
        #expect(try Self.count(s, "SELECT count(*)::int FROM pg_constraint WHERE conname = 'file_silo_id_fkey'") == 1)
        var migrator = try PostgresSchema.migrator()
        migrator.lock = AdvisoryLockKey("schema-\(scratch.schema)")
        #expect(try migrator.migrate(s, appliedBy: "test").applied == [2, 3, 4])
        #expect(try Self.count(s, """
            SELECT count(*)::int FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
            WHERE n.nspname = current_schema() AND c.contype = 'f' AND c.conname IN ('file_silo_id_fkey', 'metadata_file_id_fkey', 'sidecar_file_id_fkey')
            """) == 0)
        #expect(try Self.count(s, "SELECT count(*)::int FROM file") == 2)
        #expect(try Self.count(s, "SELECT count(*)::int FROM metadata") == 1)
        // The content and size indexes are keyed by digest and size alone.
        let indexes = try s.query(PostgresQueryText.raw("""
            SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname IN ('file_content', 'file_size')
            ORDER BY indexname
            """), as: (String, String).self)
        #expect(indexes.map(\.0) == ["file_content", "file_size"])
        #expect(indexes.first?.1.hasSuffix("(sha256) WHERE (sha256 IS NOT NULL)") == true, "\(indexes)")
        #expect(indexes.last?.1.hasSuffix("(size)") == true, "\(indexes)")
        let orphan = try #require(Self.violation {
            try s.execute(PostgresQueryText.raw("INSERT INTO metadata (file_id, field, origin, tag, value, raw) VALUES (4, 'x', 'x', 'x', 'x', 'x')"))
        })
        #expect(orphan.sqlState == "23503")
        try s.execute(PostgresQueryText.raw("DELETE FROM silo"))
        #expect(try Self.count(s, "SELECT count(*)::int FROM metadata") + Self.count(s, "SELECT count(*)::int FROM sidecar") == 0)
    }

    @Test("a version-3 catalogue is upgraded to 4: header rows its files' columns give back become columns, others stay rows")
    func upgradeFromVersionThree() throws {
        let scratch = try Self.catalogue(migrations: PostgresSchema.migrations.filter { $0.version <= 3 })
        let s = scratch.admin
        // As version 3 wrote them: x.jpg read (jpeg 40x30 from a TIFF's IFD0, header rows
        // first, then an EXIF row); y.jpg read as 'other' with nothing of its own (no row);
        // z.png whose header width row disagrees with its column (no SiloMerge wrote one: kept).
        for statement in [
            "UPDATE file SET format = 'jpeg', width = 40, height = 30, metadata_read = 4 WHERE id = 10",
            "UPDATE file SET format = 'other', metadata_read = 4 WHERE id = 20",
            """
            INSERT INTO file (id, silo_id, dir, name, size, mtime_ns, ctime_ns, dev, ino, nlink, mode, uid, gid, first_seen_run,
                              format, width, height, metadata_read)
                VALUES (30, 1, '', 'z.png', 1, 1, 1, 1, 30, 1, 33188, 0, 0, 1, 'png', 8, 6, 4)
            """,
            "DELETE FROM metadata",
            """
            INSERT INTO metadata (file_id, field, origin, tag, value, raw, source, source_mtime_ns, preferred) VALUES
                (10, 'format', 'header', 'File:FileType', '"jpeg"', 'jpeg', NULL, 1, 1),
                (10, 'width', 'header', 'IFD0:ImageWidth', '40', '40', NULL, 1, 1),
                (10, 'height', 'header', 'IFD0:ImageHeight', '30', '30', NULL, 1, 1),
                (10, 'make', 'exif', 'EXIF:Make', '"Canon"', 'Canon', NULL, 1, 1),
                (30, 'format', 'header', 'File:FileType', '"png"', 'png', NULL, 1, 1),
                (30, 'width', 'header', 'PNG:ImageWidth', '9', '9', NULL, 1, 1),
                (30, 'height', 'header', 'PNG:ImageHeight', '6', '6', NULL, 1, 1)
            """,
        ] {
            try s.execute(PostgresQueryText.raw(statement))
        }
        var migrator = try PostgresSchema.migrator()
        migrator.lock = AdvisoryLockKey("schema-\(scratch.schema)")
        #expect(try migrator.migrate(s, appliedBy: "test").applied == [4])
        let groups = try s.query(PostgresQueryText.raw("SELECT id, dimensions_group FROM file ORDER BY id"), as: (Int64, String?).self)
        #expect(groups.map(\.0) == [10, 20, 30] && groups.map(\.1) == ["IFD0", nil, "PNG"])
        let rows = try s.query(PostgresQueryText.raw("SELECT file_id, field, tag FROM metadata ORDER BY id"), as: (Int64, String, String).self)
        // x.jpg keeps its EXIF row; z.png's width row disagrees with its column and stays (its
        // format and height rows, which agree, go).
        #expect(rows.map { "\($0.0) \($0.1) \($0.2)" } == ["10 make EXIF:Make", "30 width PNG:ImageWidth"])
    }

    @Test("a version-2 catalogue is upgraded to 3 with its rows: an empty table of perceptual hashes")
    func upgradeFromVersionTwo() throws {
        let scratch = try Self.catalogue(migrations: PostgresSchema.migrations.filter { $0.version <= 2 })
        let s = scratch.admin
        var migrator = try PostgresSchema.migrator()
        migrator.lock = AdvisoryLockKey("schema-\(scratch.schema)")
        #expect(try migrator.migrate(s, appliedBy: "test").applied == [3, 4])
        #expect(try Self.count(s, "SELECT count(*)::int FROM file") == 2)
        #expect(try Self.count(s, "SELECT count(*)::int FROM metadata") == 1)
        #expect(try Self.count(s, "SELECT count(*)::int FROM image_phash") == 0)
        try s.execute(PostgresQueryText.raw("INSERT INTO image_phash (sha256, phash, width, height, decoder) VALUES ('\\x00', -1, 2, 3, 'jpeg')"))
        #expect(try Self.count(s, "SELECT count(*)::int FROM image_phash WHERE phash = -1") == 1)
    }
}
