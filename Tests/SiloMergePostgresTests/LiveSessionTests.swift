import Dispatch
import Foundation
import PostgresNIO
import Synchronization
import Testing
@testable import SiloMergePostgres

// Runs against the server in SILOMERGE_TEST_PG; skipped (with the reason shown) without it.
@Suite("PostgreSQL session (live server)", .enabled(if: LivePG.available, LivePG.skipReason))
struct LiveSessionTests {
    @Test("connects, says who it is in application_name, and reports the server")
    func identity() throws {
        let session = try LivePG.connect(identity: ClientIdentity(host: "host-a", pid: 4242)) {
            $0["application_name"] = "nightly"
        }
        defer { session.close() }
        #expect(session.serverVersion >= 90_000)
        #expect(session.backendPID > 0)
        #expect(session.usesTLS == false)   // SILOMERGE_TEST_PG has sslmode=disable
        let rows = try session.query("SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()", as: String.self)
        #expect(rows == ["silomerge host-a 4242 nightly"])
        let encoding = try session.query("SHOW client_encoding", as: String.self)
        #expect(encoding == ["UTF8"])
    }

    @Test("binds, decoded rows, affected-row counts")
    func queries() throws {
        let scratch = try Scratch()
        let s = scratch.admin
        try s.execute("CREATE TABLE t (id bigint PRIMARY KEY, name bytea NOT NULL, note text)")
        let name: [UInt8] = [0x66, 0xff, 0x00, 0x0a]
        let inserted = try s.execute("INSERT INTO t VALUES (\(1), \(ByteBuffer(bytes: name)), \("é\ttab")), (\(2), \(ByteBuffer(bytes: [])), \(String?.none))")
        #expect(inserted == 2)
        let rows = try s.query("SELECT id, name, note FROM t WHERE id >= \(1) ORDER BY id", as: (Int64, ByteBuffer, String?).self)
        #expect(rows.count == 2)
        #expect(rows[0].0 == 1 && Array(rows[0].1.readableBytesView) == name && rows[0].2 == "é\ttab")
        #expect(rows[1].0 == 2 && rows[1].1.readableBytes == 0 && rows[1].2 == nil)
        #expect(try s.execute("UPDATE t SET note = 'x'") == 2)
        #expect(try s.execute("DELETE FROM t WHERE id = \(2)") == 1)
    }

    @Test("a refused statement is a typed error: SQLSTATE, the server's message, the display URL, never the password")
    func serverErrors() throws {
        let scratch = try Scratch()
        try scratch.admin.execute("CREATE TABLE u (id int PRIMARY KEY)")
        try scratch.admin.execute("INSERT INTO u VALUES (1)")
        let error = try #require(caught { try scratch.admin.execute("INSERT INTO u VALUES (1)") } as? PostgresClientError)
        #expect(error.kind == .server)
        #expect(error.sqlState == "23505")
        #expect(error.serverMessage?.contains("duplicate key") == true)
        #expect(error.message.contains(scratch.admin.settings.display))
        #expect(error.message.contains("`INSERT INTO u VALUES (1)`"))
        #expect(error.message.contains("[SQLSTATE 23505]"))
        let syntax = try #require(caught { try scratch.admin.execute("SELEC 1") } as? PostgresClientError)
        #expect(syntax.sqlState == "42601")
        // The session is usable after an error.
        #expect(try scratch.admin.query("SELECT 1", as: Int32.self) == [1])
    }

    @Test("withTransaction commits on return, rolls back on throw and rethrows the error as it was")
    func transactions() throws {
        let scratch = try Scratch()
        let s = scratch.admin
        try s.execute("CREATE TABLE t (id int)")
        let n = try s.withTransaction { tx in
            try tx.execute("INSERT INTO t VALUES (1), (2)")
            return try tx.query("SELECT count(*) FROM t", as: Int64.self)[0]
        }
        #expect(n == 2)
        struct Stop: Error, Equatable {}
        let error = caught {
            try s.withTransaction { tx in
                try tx.execute("INSERT INTO t VALUES (3)")
                throw Stop()
            }
        }
        #expect(error as? Stop == Stop())
        #expect(try s.query("SELECT count(*) FROM t", as: Int64.self) == [2])
        // A server error inside rolls back too, and the session is not left in a transaction.
        let failed = caught { try s.withTransaction { tx in try tx.execute("INSERT INTO t VALUES (4)"); try tx.execute("SELECT 1/0") } }
        #expect((failed as? PostgresClientError)?.sqlState == "22012")
        #expect(try s.query("SELECT count(*) FROM t", as: Int64.self) == [2])
        // Not left inside a transaction: what it writes next is committed, another session sees it.
        try s.execute("INSERT INTO t VALUES (9)")
        let other = try scratch.session()
        defer { other.close() }
        #expect(try other.query("SELECT count(*) FROM t", as: Int64.self) == [3])
    }

    @Test("stream hands every row over in order through a cursor, with binds, batch by batch")
    func streaming() throws {
        let scratch = try Scratch()
        let s = scratch.admin
        try s.execute("CREATE TABLE big AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 25000) g")
        var seen = 0, last: Int64 = 0
        try s.stream("SELECT id, h FROM big WHERE id > \(Int64(0)) ORDER BY id", batchSize: 1000) { row in
            let (id, h) = try row.decode((Int64, String).self)
            #expect(id == last + 1)
            #expect(h.count == 32)
            last = id; seen += 1
        }
        #expect(seen == 25000)
        // An empty result, and a result smaller than a batch.
        var none = 0
        try s.stream("SELECT id FROM big WHERE id < 0") { _ in none += 1 }
        #expect(none == 0)
        var few = 0
        try s.stream("SELECT id FROM big WHERE id <= 10", batchSize: 1000) { _ in few += 1 }
        #expect(few == 10)
        // The body's error stops the stream, is rethrown, and leaves the session usable.
        struct Enough: Error {}
        var taken = 0
        let error = caught { try s.stream("SELECT id FROM big", batchSize: 100) { _ in taken += 1; if taken == 150 { throw Enough() } } }
        #expect(error is Enough)
        #expect(taken == 150)
        #expect(try s.query("SELECT count(*) FROM big", as: Int64.self) == [25000])
        // Inside a transaction, it sees the transaction's own writes.
        try s.withTransaction { tx in
            try tx.execute("DELETE FROM big WHERE id > 100")
            var inside = 0
            try tx.stream("SELECT id FROM big", batchSize: 7) { _ in inside += 1 }
            #expect(inside == 100)
            throw CancelTransaction()
        } catching: { _ in }
        #expect(try s.query("SELECT count(*) FROM big", as: Int64.self) == [25000])
    }

    @Test("a session is shared safely by threads; a transaction holds it")
    func threads() throws {
        let scratch = try Scratch()
        let s = scratch.admin
        try s.execute("CREATE TABLE c (id int)")
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            do {
                try s.withTransaction { tx in
                    try tx.execute("INSERT INTO c VALUES (\(Int32(i)))")
                    let inside = try tx.query("SELECT count(*) FROM c WHERE id = \(Int32(i))", as: Int64.self)
                    if inside != [1] { throw PostgresClientError(.client, "saw \(inside)") }
                }
                _ = try s.query("SELECT 1", as: Int32.self)
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 } == [])
        #expect(try s.query("SELECT count(*) FROM c", as: Int64.self) == [8])
    }

    @Test("a connection the server ends is reported as lost, naming the server")
    func connectionLost() throws {
        let victim = try LivePG.connect()
        let admin = try LivePG.connect()
        defer { admin.close() }
        try admin.execute("SELECT pg_terminate_backend(\(victim.backendPID))")
        Thread.sleep(forTimeInterval: 0.2)
        let error = try #require(caught { try victim.query("SELECT 1", as: Int32.self) } as? PostgresClientError)
        #expect(error.kind == .connectionLost || error.sqlState == "57P01", "\(error)")
        #expect(error.message.contains(victim.settings.display))
        victim.close()
        let closed = try #require(caught { try victim.execute("SELECT 1") } as? PostgresClientError)
        #expect(closed.kind == .connectionLost)
    }
}

struct CancelTransaction: Error {}

extension PostgresSession {
    /// withTransaction whose error is handed to `catching` (for tests that roll back on purpose).
    func withTransaction(_ body: (PostgresTransaction) throws -> Void, catching: (any Error) -> Void) throws {
        do { try withTransaction(body) } catch is CancelTransaction { catching(CancelTransaction()) }
    }
}
