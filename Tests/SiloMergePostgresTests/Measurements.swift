import Foundation
import NIOCore
import PostgresNIO
import Testing
@testable import SiloMergePostgres

/// Figures for the PostgreSQL layer, run on demand (they take a minute and load the machine):
///
///     eval "$(bash tools/pg-test-cluster.sh start)"
///     SILOMERGE_PG_MEASURE=1 swift test --filter PostgresMeasurements
///
/// They print rows/s for loading 1 M rows of (bigint, bytea, text) by COPY text (through
/// `PostgresSession.copyIn` and straight through PostgresNIO), COPY binary (PostgresNIO has no
/// binary COPY: it is reached here by a table-name trick that has no place in the product, only
/// to measure), and array-bound INSERT ... SELECT unnest(...); and the memory taken by
/// streaming 1 M rows through a cursor against reading them all at once.
@Suite("PostgresMeasurements", .serialized,
       .enabled(if: LivePG.available && ProcessInfo.processInfo.environment["SILOMERGE_PG_MEASURE"] != nil,
                "measurements run only with SILOMERGE_PG_MEASURE=1 and SILOMERGE_TEST_PG set"))
struct PostgresMeasurements {
    static let rows = 1_000_000

    /// A path-like name (about 40 bytes, some not UTF-8) and a SHA-256 in hex, for row `i`.
    static func row(_ i: Int) -> (Int64, [UInt8], String) {
        var name = Array("dept-\(i % 97)/2021/IMG_\(i).jpg".utf8)
        if i % 10 == 0 { name.append(0xff) }
        let sha = String(repeating: String(i, radix: 16), count: 64).prefix(64)
        return (Int64(i), name, String(sha))
    }

    static func table(_ s: PostgresSession, _ name: String) throws {
        try s.execute(PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS \(name)"))
        try s.execute(PostgresQuery(unsafeSQL: "CREATE UNLOGGED TABLE \(name) (id bigint, name bytea, sha text)"))
    }

    static func report(_ what: String, _ seconds: Double) {
        let rate = Double(rows) / seconds
        print("MEASURE \(what): \(rows) rows in \(String(format: "%.2f", seconds)) s = \(Int(rate)) rows/s")
    }

    static func time(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    @Test("COPY text vs binary vs unnest, 1 M rows")
    func copyFormats() async throws {
        let scratch = try Scratch()
        let s = scratch.admin
        let connection = s.wire.connection
        let logger = s.wire.logger
        for round in 1...2 {
            // 1. Text, through the synchronous session (encoder + handoff + PostgresNIO).
            try Self.table(s, "m_text")
            let text = try Self.time {
                try s.copyIn(table: "m_text", columns: ["id", "name", "sha"]) { w in
                    for i in 0..<Self.rows {
                        let (id, name, sha) = Self.row(i)
                        try w.int(id); try w.bytes(name); try w.text(sha); try w.endRow()
                    }
                }
            }
            Self.report("round \(round) COPY text via PostgresSession.copyIn", text)
            #expect(try s.query("SELECT count(*) FROM m_text", as: Int64.self) == [Int64(Self.rows)])

            // 2 and 3. The same rows encoded beforehand (text exactly as CopyTextWriter writes
            // them, and binary), then only sent and loaded, so the two formats are compared on
            // the wire and in the server, not on this debug build's encoding loops.
            var textChunks: [ByteBuffer] = []
            let textEncode = try Self.time {
                var writer = CopyTextWriter(table: "m", columns: ["id", "name", "sha"]) { textChunks.append($0) }
                for i in 0..<Self.rows {
                    let (id, name, sha) = Self.row(i)
                    try writer.int(id); try writer.bytes(name); try writer.text(sha); try writer.endRow()
                }
                try writer.flush()
            }
            var binaryChunks: [ByteBuffer] = []
            let binaryEncode = Self.time {
                var buffer = ByteBuffer()
                buffer.writeBytes(Array("PGCOPY\n".utf8) + [0xff, 0x0d, 0x0a, 0x00])
                buffer.writeInteger(Int32(0)); buffer.writeInteger(Int32(0))
                for i in 0..<Self.rows {
                    let (id, name, sha) = Self.row(i)
                    buffer.writeInteger(Int16(3))
                    buffer.writeInteger(Int32(8)); buffer.writeInteger(id)
                    buffer.writeInteger(Int32(name.count)); buffer.writeBytes(name)
                    buffer.writeInteger(Int32(sha.utf8.count)); buffer.writeString(sha)
                    if buffer.readableBytes > 256 * 1024 { binaryChunks.append(buffer); buffer = ByteBuffer() }
                }
                buffer.writeInteger(Int16(-1))
                binaryChunks.append(buffer)
            }
            let textBytes = textChunks.reduce(0) { $0 + $1.readableBytes }
            let binaryBytes = binaryChunks.reduce(0) { $0 + $1.readableBytes }
            print("MEASURE round \(round) encoding (debug build): text \(String(format: "%.2f", textEncode)) s, \(textBytes / 1_000_000) MB; binary \(String(format: "%.2f", binaryEncode)) s, \(binaryBytes / 1_000_000) MB")
            let schema = scratch.schema
            try Self.table(s, "m_text2")
            let sendText = DispatchTime.now().uptimeNanoseconds
            let chunksT = textChunks
            try await connection.copyFrom(table: "\(schema)\".\"m_text2", columns: ["id", "name", "sha"], logger: logger) { writer in
                for chunk in chunksT { try await writer.write(chunk) }
            }
            Self.report("round \(round) COPY text, pre-encoded, send + load", Double(DispatchTime.now().uptimeNanoseconds - sendText) / 1e9)
            try Self.table(s, "m_bin")
            let sendBinary = DispatchTime.now().uptimeNanoseconds
            let chunksB = binaryChunks
            try await connection.copyFrom(table: "\(schema)\".\"m_bin\" (id, name, sha) FROM STDIN WITH (FORMAT binary) --",
                                          logger: logger) { writer in
                for chunk in chunksB { try await writer.write(chunk) }
            }
            Self.report("round \(round) COPY binary, pre-encoded, send + load", Double(DispatchTime.now().uptimeNanoseconds - sendBinary) / 1e9)
            textChunks = []; binaryChunks = []
            #expect(try s.query("SELECT count(*) FROM m_bin b JOIN m_text2 t USING (id) JOIN m_text u USING (id) WHERE b.name = t.name AND b.sha = t.sha AND u.name = t.name AND u.sha = t.sha", as: Int64.self) == [Int64(Self.rows)])

            // 4. INSERT ... SELECT unnest of three arrays, 10 000 rows a statement.
            try Self.table(s, "m_unnest")
            let unnest = try Self.time {
                var i = 0
                while i < Self.rows {
                    let end = min(Self.rows, i + 10_000)
                    var ids: [Int64] = [], names: [ByteBuffer] = [], shas: [String] = []
                    for j in i..<end {
                        let (id, name, sha) = Self.row(j)
                        ids.append(id); names.append(ByteBuffer(bytes: name)); shas.append(sha)
                    }
                    try s.execute("INSERT INTO m_unnest SELECT * FROM unnest(\(ids)::bigint[], \(names)::bytea[], \(shas)::text[])")
                    i = end
                }
            }
            Self.report("round \(round) INSERT unnest(arrays) 10k/statement", unnest)
        }
    }

    static func residentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb * 1024
    }

    @Test("streaming 1 M rows through a cursor: memory stays flat")
    func streamingMemory() throws {
        let scratch = try Scratch()
        let s = scratch.admin
        try s.execute("CREATE UNLOGGED TABLE m AS SELECT g::bigint AS id, convert_to('dept/2021/IMG_' || g || '.jpg', 'UTF8') AS name, repeat(md5(g::text), 2) AS sha FROM generate_series(1, \(Self.rows)) g")
        for batch in [1_000, 10_000] {
            let before = Self.residentBytes()
            var peak = before, seen = 0, bytes = 0
            let seconds = try Self.time {
                try s.stream("SELECT id, name, sha FROM m ORDER BY id", batchSize: batch) { row in
                    let (_, name, sha) = try row.decode((Int64, ByteBuffer, String).self)
                    bytes += name.readableBytes + sha.utf8.count
                    seen += 1
                    if seen % 10_000 == 0 { peak = max(peak, Self.residentBytes()) }
                }
            }
            #expect(seen == Self.rows)
            print("MEASURE stream \(Self.rows) rows (\(bytes / 1_000_000) MB of values), FETCH \(batch): \(String(format: "%.2f", seconds)) s = \(Int(Double(Self.rows) / seconds)) rows/s, resident before \(before / 1_048_576) MiB, peak \(peak / 1_048_576) MiB (+\((peak - before) / 1_048_576) MiB)")
        }
        let before = Self.residentBytes()
        let all = try s.query("SELECT id, name, sha FROM m ORDER BY id")
        let after = Self.residentBytes()
        #expect(all.count == Self.rows)
        print("MEASURE query (all rows at once) \(Self.rows) rows: resident before \(before / 1_048_576) MiB, after \(after / 1_048_576) MiB (+\((after - before) / 1_048_576) MiB)")
    }
}
