import Dispatch
import Foundation
import PostgresNIO
import Testing
@testable import SiloMergePostgres

@Suite("COPY, advisory locks and migrations (live server)", .enabled(if: LivePG.available, LivePG.skipReason))
struct LiveCopyAndLockTests {
    /// Names that are not UTF-8, and text full of what the COPY format must escape.
    static let awkwardNames: [[UInt8]] = [
        [],
        Array((0...255).map(UInt8.init)),
        [0x66, 0x6f, 0xff, 0xfe, 0x2f, 0x62],                 // "fo\xff\xfe/b"
        Array("tab\there\nnew\\line\r.jpg".utf8),
        Array("\\.".utf8),                                    // COPY's end-of-data marker
        Array("\\N".utf8),                                    // COPY's NULL
        [0x5c],
    ]
    static let awkwardTexts = ["plain", "tab\there", "new\nline", "back\\slash", "cr\rlf\r\n", "\\.", "\\N", "ünï 😀", ""]

    @Test("COPY text round-trips every byte of bytea and every awkward character of text")
    func copyRoundTrip() throws {
        let scratch = try Scratch()
        let s = scratch.admin
        try s.execute("CREATE TABLE f (id bigint, name bytea, note text)")
        var expected: [(Int64, [UInt8], String?)] = []
        var id: Int64 = 0
        for name in Self.awkwardNames {
            for text in Self.awkwardTexts + [nil] as [String?] {
                id += 1
                expected.append((id, name, text))
            }
        }
        let copied = try s.copyIn(table: "f", columns: ["id", "name", "note"]) { w in
            for (id, name, note) in expected {
                try w.int(id); try w.bytes(name)
                if let note { try w.text(note) } else { try w.null() }
                try w.endRow()
            }
        }
        #expect(copied == expected.count)
        let rows = try s.query("SELECT id, name, note FROM f ORDER BY id", as: (Int64, ByteBuffer, String?).self)
        #expect(rows.count == expected.count)
        for (row, want) in zip(rows, expected) {
            #expect(row.0 == want.0)
            #expect(Array(row.1.readableBytesView) == want.1, "row \(want.0)")
            #expect(row.2 == want.2, "row \(want.0)")
        }
    }

    @Test("a large COPY streams in chunks; a COPY is all or nothing")
    func copyLargeAndAtomic() throws {
        let scratch = try Scratch()
        let s = scratch.admin
        try s.execute("CREATE TABLE f (id bigint NOT NULL, name bytea, note text)")
        let n = 200_000
        let copied = try s.copyIn(table: "f", columns: ["id", "name", "note"]) { w in
            for i in 0..<n {
                try w.int(i); try w.bytes([UInt8(i & 0xff), 0xff, 0x00]); try w.text("file-\(i)"); try w.endRow()
            }
        }
        #expect(copied == n)
        #expect(try s.query("SELECT count(*), sum(id)::bigint FROM f", as: (Int64, Int64).self).first! == (Int64(n), Int64(n * (n - 1) / 2)))

        // The producer throws half-way: nothing of that COPY stays, its error comes back as it was.
        struct Interrupted: Error {}
        let producerError = caught {
            try s.copyIn(table: "f", columns: ["id", "name", "note"]) { w in
                for i in 0..<100_000 {
                    if i == 60_000 { throw Interrupted() }
                    try w.int(i); try w.null(); try w.null(); try w.endRow()
                }
            }
        }
        #expect(producerError is Interrupted)
        #expect(try s.query("SELECT count(*) FROM f", as: Int64.self) == [Int64(n)])

        // The server refuses a row (NOT NULL): a typed error with the SQLSTATE, nothing kept,
        // and the session still works.
        let serverError = try #require(caught {
            try s.copyIn(table: "f", columns: ["id", "name", "note"]) { w in
                for i in 0..<50_000 {
                    if i == 40_000 { try w.null() } else { try w.int(i) }
                    try w.null(); try w.null(); try w.endRow()
                }
            }
        } as? PostgresClientError)
        #expect(serverError.sqlState == "23502", "\(serverError)")
        #expect(serverError.message.contains("COPY f (id, name, note) FROM STDIN"))
        #expect(try s.query("SELECT count(*) FROM f", as: Int64.self) == [Int64(n)])

        // Inside a transaction that rolls back, a COPY goes too.
        _ = caught {
            try s.withTransaction { tx in
                try tx.copyIn(table: "f", columns: ["id"]) { w in try w.int(-1); try w.endRow() }
                #expect(try tx.query("SELECT count(*) FROM f", as: Int64.self) == [Int64(n + 1)])
                throw CancelTransaction()
            }
        }
        #expect(try s.query("SELECT count(*) FROM f", as: Int64.self) == [Int64(n)])
    }

    @Test("COPY refuses names that are not plain identifiers")
    func copyIdentifiers() throws {
        let s = try LivePG.connect()
        defer { s.close() }
        let error = caught { try s.copyIn(table: "f\" ; DROP TABLE x; --", columns: ["id"]) { _ in } }
        #expect((error as? PostgresClientError)?.message.contains("not a plain SQL identifier") == true)
        #expect((caught { try s.copyIn(table: "f", columns: []) { _ in } } as? PostgresClientError)?.message.contains("no columns") == true)
    }

    @Test("an advisory lock is exclusive, names its holder's host and pid, and goes with the holder's session")
    func advisoryLocks() throws {
        let key = AdvisoryLockKey("scan:test-\(UUID().uuidString)")
        let first = try LivePG.connect(identity: ClientIdentity(host: "host-a", pid: 4242))
        let second = try LivePG.connect(identity: ClientIdentity(host: "host-b", pid: 777))
        defer { second.close() }
        #expect(try first.tryAdvisoryLock(key) == .acquired)
        // Session-level locks stack within their session.
        #expect(try first.tryAdvisoryLock(key) == .acquired)
        #expect(try first.advisoryUnlock(key))

        guard case .held(let holder?) = try second.tryAdvisoryLock(key) else {
            Issue.record("the second session got the lock")
            return
        }
        #expect(holder.client == ClientIdentity(host: "host-a", pid: 4242))
        #expect(holder.backendPID == first.backendPID)
        #expect(holder.clientAddress == "127.0.0.1")
        let error = try #require(caught { try second.advisoryLock(key, purpose: "a scan of silo \"marketing\"") } as? PostgresClientError)
        #expect(error.kind == .lockHeld)
        #expect(error.message.contains("a scan of silo \"marketing\" is already under way"))
        #expect(error.message.contains("held by SiloMerge on host host-a, pid 4242"))
        #expect(error.message.contains(second.settings.display))

        // Released: the other session gets it.
        #expect(try first.advisoryUnlock(key))
        #expect(try first.advisoryUnlock(key) == false)
        #expect(try second.tryAdvisoryLock(key) == .acquired)
        #expect(try second.advisoryUnlock(key))

        // A holder that closes its session has let go when close() returns (no wait for the
        // server's backend to exit: the next process to open the catalogue must find it free).
        #expect(try first.tryAdvisoryLock(key) == .acquired)
        #expect(try first.tryAdvisoryLock(key) == .acquired)   // held twice: all of it goes
        first.close()
        #expect(try second.tryAdvisoryLock(key) == .acquired)
        #expect(try second.advisoryLockHolder(key)?.backendPID == second.backendPID)
        #expect(try second.advisoryUnlock(key))

        // A holder whose session ends without a word (here its server process is killed, as
        // when a client dies and the server notices) lets go as soon as the server notices.
        let third = try LivePG.connect(identity: ClientIdentity(host: "host-c", pid: 9))
        defer { third.close() }
        #expect(try third.tryAdvisoryLock(key) == .acquired)
        #expect(try second.query("SELECT pg_terminate_backend(\(third.backendPID))", as: Bool.self).first == true)
        var freed = false
        for _ in 0..<100 where !freed {
            freed = try second.tryAdvisoryLock(key) == .acquired
            if !freed { Thread.sleep(forTimeInterval: 0.05) }
        }
        #expect(freed)
    }

    static let firstMigration = PostgresMigration(version: 1, name: "first table", statements: [
        "CREATE TABLE silos (id bigint PRIMARY KEY, name text NOT NULL)",
    ])

    @Test("migrations apply once, are recorded, and a newer database is refused untouched")
    func migrations() throws {
        let scratch = try Scratch()
        let s = scratch.admin
        var migrator = try PostgresMigrator([Self.firstMigration])
        migrator.lock = AdvisoryLockKey("schema-\(scratch.schema)")
        #expect(try migrator.currentVersion(s) == 0)
        let first = try migrator.migrate(s, appliedBy: "test")
        #expect(first == MigrationReport(from: 0, to: 1, applied: [1]))
        #expect(try s.query("SELECT version, name, applied_by FROM silomerge_schema", as: (Int32, String, String).self).map { "\($0.0) \($0.1) \($0.2)" }
                == ["1 first table test"])
        #expect(try s.query("SELECT count(*) FROM silos", as: Int64.self) == [0])
        #expect(try migrator.migrate(s, appliedBy: "test") == MigrationReport(from: 1, to: 1, applied: []))

        // A second migration later.
        var second = try PostgresMigrator([Self.firstMigration, PostgresMigration(version: 2, name: "more", statements: [
            "ALTER TABLE silos ADD COLUMN host text",
        ])])
        second.lock = migrator.lock
        #expect(try second.migrate(s, appliedBy: "test").applied == [2])

        // The older SiloMerge (knows only 1) refuses the database, reading or migrating.
        let tooNew = try #require(caught { try migrator.migrate(s, appliedBy: "old") } as? PostgresClientError)
        #expect(tooNew.kind == .schemaTooNew)
        #expect(tooNew.message.contains("schema version 2, made by a newer SiloMerge (this one knows up to 1)"))
        #expect((caught { try migrator.currentVersion(s) } as? PostgresClientError)?.kind == .schemaTooNew)
        #expect(try s.query("SELECT count(*) FROM silomerge_schema", as: Int64.self) == [2])
    }

    @Test("a failing migration keeps nothing of itself or of the migrations before it in the same run")
    func failingMigration() throws {
        let scratch = try Scratch()
        let s = scratch.admin
        var migrator = try PostgresMigrator([Self.firstMigration, PostgresMigration(version: 2, name: "broken", statements: [
            "CREATE TABLE extra (id int)", "ALTER TABLE nosuch ADD COLUMN x int",
        ])])
        migrator.lock = AdvisoryLockKey("schema-\(scratch.schema)")
        let error = try #require(caught { try migrator.migrate(s, appliedBy: "test") } as? PostgresClientError)
        #expect(error.message.contains("migration 2 \"broken\""))
        #expect(error.sqlState == "42P01")
        #expect(try s.query("SELECT to_regclass('silos') IS NULL AND to_regclass('extra') IS NULL AND to_regclass('silomerge_schema') IS NULL", as: Bool.self) == [true])
        #expect(throws: PostgresClientError.self) { try PostgresMigrator([Self.firstMigration, Self.firstMigration]) }
    }

    @Test("two first-time migrations at once: one applies, the other waits and finds nothing to do")
    func concurrentMigrations() throws {
        let scratch = try Scratch()
        var migrator = try PostgresMigrator([PostgresMigration(version: 1, name: "slow", statements: [
            "CREATE TABLE silos (id bigint PRIMARY KEY)", "SELECT pg_sleep(0.5)",
        ])])
        migrator.lock = AdvisoryLockKey("schema-\(scratch.schema)")
        let shared = migrator
        let sessions = try (0..<3).map { _ in try scratch.session() }
        defer { sessions.forEach { $0.close() } }
        let reports = Mutex<[Result<MigrationReport, PostgresClientError>]>([])
        DispatchQueue.concurrentPerform(iterations: sessions.count) { i in
            let result = Result { () throws(PostgresClientError) in try shared.migrate(sessions[i], appliedBy: "scanner \(i)") }
            reports.withLock { $0.append(result) }
        }
        let done = try reports.withLock { $0 }.map { try $0.get() }
        #expect(done.filter { $0.applied == [1] }.count == 1)
        #expect(done.filter { $0.applied.isEmpty }.count == sessions.count - 1)
        #expect(try scratch.admin.query("SELECT count(*) FROM silomerge_schema", as: Int64.self) == [1])
    }

    @Test("a migration waiting for another beyond lock_timeout says so")
    func migrationLockTimeout() throws {
        let scratch = try Scratch()
        var migrator = try PostgresMigrator([Self.firstMigration])
        migrator.lock = AdvisoryLockKey("schema-\(scratch.schema)")
        migrator.lockTimeoutSeconds = 1
        let holder = try scratch.session()
        defer { holder.close() }
        #expect(try holder.tryAdvisoryLock(migrator.lock) == .acquired)
        let error = try #require(caught { try migrator.migrate(scratch.admin, appliedBy: "test") } as? PostgresClientError)
        #expect(error.kind == .lockHeld)
        #expect(error.message.contains("being migrated by another process"))
        #expect(try scratch.admin.query("SELECT to_regclass('silomerge_schema') IS NULL", as: Bool.self) == [true])
    }
}

import Synchronization
