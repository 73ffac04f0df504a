import Foundation
import GRDB
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

@Suite("RunCounts: one counters struct, stored whole")
struct RunCountsTests {
    /// The columns of v1-scan, in order: what a catalogue from before v11 holds.
    static let oldColumns = ["files", "bytes", "directories", "files_new", "files_changed", "files_unchanged",
                             "files_missing", "files_excluded", "files_hashed", "bytes_hashed", "hashes_reused",
                             "skipped_special", "skipped_symlinks", "ignored", "warnings", "errors"]

    @Test("every field is stored under its snake_case name; unknown keys are ignored, missing ones read as 0")
    func storedJSON() throws {
        var c = RunCounts()
        c.filesHashed = 3; c.bytesHashed = 6_000_000_000; c.skippedSymlinks = 2
        let object = try JSONDecoder().decode([String: Int64].self, from: Data(c.storedJSON.utf8))
        #expect(Set(object.keys) == Set(Self.oldColumns))
        #expect(object["files_hashed"] == 3 && object["bytes_hashed"] == 6_000_000_000 && object["skipped_symlinks"] == 2)
        #expect(RunCounts(storedJSON: c.storedJSON) == c)
        // A later version's counter, and an earlier version's missing one.
        let read = RunCounts(storedJSON: #"{"files_hashed": 3, "bytes_hashed": 6000000000, "skipped_symlinks": 2, "some_future_counter": 9}"#)
        #expect(read == c)
        #expect(RunCounts(storedJSON: nil) == RunCounts())
        #expect(RunCounts(storedJSON: "not json") == RunCounts())
    }

    @Test("per-worker counts sum field by field")
    func sum() {
        var a = RunCounts(), b = RunCounts()
        a.files = 2; a.bytes = 10; a.errors = 1
        b.files = 3; b.bytesHashed = 7; b.errors = 4
        let total = RunCounts.sum([a, b, RunCounts()])
        var expected = RunCounts()
        expected.files = 5; expected.bytes = 10; expected.bytesHashed = 7; expected.errors = 5
        #expect(total == expected)
    }

    @Test("a catalogue from before v11 keeps every run's counts, the rows that refer to its runs, and its SQL columns")
    func migratesOldCounts() throws {
        let tree = try TestTree()
        do {
            let pool = try DatabasePool(path: tree.catalogue)
            try CatalogueSchema.migrator().migrate(pool, upTo: "v10-hosts")
            try pool.write { db in
                let columns = Self.oldColumns.joined(separator: ", ")
                let placeholders = Self.oldColumns.map { _ in "?" }.joined(separator: ", ")
                let values: [Int64] = Self.oldColumns.indices.map { Int64($0 + 1) * 1_000_003 }
                try db.execute(sql: """
                    INSERT INTO run (id, kind, status, started_at, finished_at, tool_version, host, hash_mode, options, silos,
                                     \(columns), error_message, outcome)
                    VALUES (41, 'check', 'warnings', '2026-01-01T00:00:00.000Z', '2026-01-01T00:01:00.000Z', '0.9', 'h',
                            'full', '{}', '["a"]', \(placeholders), 'boom', 'changed')
                    """, arguments: StatementArguments(values))
                try db.execute(sql: """
                    INSERT INTO diagnostic (run_id, severity, code, message) VALUES (41, 'warning', 'other', 'kept')
                    """)
            }
        }
        let store = try SQLiteCatalogue(path: tree.catalogue, create: false)
        let run = try #require(try store.runs(limit: nil).first)
        #expect(run.id == 41 && run.kind == .check && run.status == .warnings && run.outcome == "changed"
                && run.errorMessage == "boom" && run.silos == ["a"] && run.finishedAt != nil)
        let names = RunCounts().fields.map(\.name)
        #expect(names.map(RunCounts.storedName) == Self.oldColumns)
        #expect(run.counts.fields.map(\.value) == Self.oldColumns.indices.map { Int64($0 + 1) * 1_000_003 })
        // The old columns still read, for sqlite3 users and scripts; the rows that refer to the run are kept.
        let (hashed, errors, message, broken) = try store.pool.read { db in
            (try Int64.fetchOne(db, sql: "SELECT files_hashed FROM run WHERE id = 41"),
             try Int64.fetchOne(db, sql: "SELECT errors FROM run WHERE id = 41"),
             try String.fetchOne(db, sql: "SELECT message FROM diagnostic WHERE run_id = 41"),
             try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").count)
        }
        #expect(hashed == 9 * 1_000_003 && errors == 16 * 1_000_003)
        #expect(message == "kept" && broken == 0)
        // A run recorded after the migration reads back through both.
        var counts = RunCounts()
        counts.skippedSpecial = 4; counts.bytesHashed = 5_000_000_001
        let next = try store.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["a"])
        #expect(next == 42)
        try store.finishRun(next, status: .ok, counts: counts, errorMessage: nil)
        #expect(try store.runs(limit: 1).first?.counts == counts)
        let (bytesHashed, special, files) = try store.pool.read { db in
            (try Int64.fetchOne(db, sql: "SELECT bytes_hashed FROM run WHERE id = 42"),
             try Int64.fetchOne(db, sql: "SELECT skipped_special FROM run WHERE id = 42"),
             try Int64.fetchOne(db, sql: "SELECT files FROM run WHERE id = 42"))
        }
        #expect(bytesHashed == 5_000_000_001 && special == 4 && files == 0)
    }
}
