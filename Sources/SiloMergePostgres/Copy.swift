import Dispatch
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// Writes rows for `COPY ... FROM STDIN` in PostgreSQL's text format, on the calling thread.
///
/// The text format (PostgreSQL's `COPY` documentation, "Text Format"): columns separated by a
/// tab, rows ended by a newline, `\N` for NULL; in a value, backslash, tab, newline and carriage
/// return are written `\\`, `\t`, `\n`, `\r`. A `bytea` value is its hex form `\x0a1b...`, whose
/// backslash is itself escaped (`\\x0a1b`), so every byte, UTF-8 or not, goes through exactly.
/// A `text` value is UTF-8 (a Swift `String` always is); NUL cannot be stored in PostgreSQL
/// text and is refused here, before the server would.
///
/// Call one value method per column, then `endRow()`.
public struct CopyTextWriter {
    /// Rows ended so far.
    public private(set) var rows = 0
    let columns: [String]
    let table: String
    var buffer: ByteBuffer
    var column = 0
    let send: (ByteBuffer) throws -> Void
    /// A chunk is sent when it reaches this size.
    static let chunkBytes = 256 * 1024

    init(table: String, columns: [String], send: @escaping (ByteBuffer) throws -> Void) {
        self.table = table; self.columns = columns; self.send = send
        buffer = ByteBufferAllocator().buffer(capacity: Self.chunkBytes + 4096)
    }

    private mutating func separate() throws(PostgresClientError) {
        if column >= columns.count {
            throw PostgresClientError(.client, "COPY into \(table): row \(rows + 1) has more values than the \(columns.count) columns (\(columns.joined(separator: ", ")))")
        }
        if column > 0 { buffer.writeInteger(UInt8(ascii: "\t")) }
        column += 1
    }

    public mutating func null() throws(PostgresClientError) {
        try separate()
        buffer.writeStaticString("\\N")
    }

    public mutating func int(_ value: some BinaryInteger) throws(PostgresClientError) {
        try separate()
        guard let value = Int64(exactly: value) else {
            buffer.writeString(String(value))
            return
        }
        // Digits written in place: `String(value)` through a generic BinaryInteger took the
        // slow, allocating description path for every one of a file row's dozen integers.
        var magnitude = value.magnitude
        var digits = 1
        var limit: UInt64 = 10
        while digits < 20 && magnitude >= limit { digits += 1; limit &*= 10 }
        let width = digits + (value < 0 ? 1 : 0)
        buffer.reserveCapacity(minimumWritableBytes: width)
        let start = buffer.writerIndex
        buffer.withUnsafeMutableWritableBytes { out in
            if value < 0 { out[0] = UInt8(ascii: "-") }
            var i = width - 1
            repeat {
                out[i] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                i -= 1
            } while magnitude > 0
        }
        buffer.moveWriterIndex(to: start + width)
    }

    public mutating func bool(_ value: Bool) throws(PostgresClientError) {
        try separate()
        buffer.writeInteger(UInt8(ascii: value ? "t" : "f"))
    }

    /// A `bytea` value: every byte as it is.
    public mutating func bytes(_ value: some Collection<UInt8>) throws(PostgresClientError) {
        try separate()
        buffer.writeStaticString("\\\\x")
        let digits: StaticString = "0123456789abcdef"
        let start = buffer.writerIndex
        buffer.reserveCapacity(minimumWritableBytes: value.count * 2)
        let written = buffer.withUnsafeMutableWritableBytes { out -> Int in
            digits.withUTF8Buffer { hex in
                var i = 0
                for b in value {
                    out[i] = hex[Int(b >> 4)]
                    out[i + 1] = hex[Int(b & 0x0f)]
                    i += 2
                }
                return i
            }
        }
        buffer.moveWriterIndex(to: start + written)
    }

    /// A `text` value.
    public mutating func text(_ value: String) throws(PostgresClientError) {
        try separate()
        var escaped = false
        for b in value.utf8 {
            switch b {
            case 0:
                throw PostgresClientError(.client, "COPY into \(table): column \(columns[column - 1]) of row \(rows + 1) contains a NUL character, which PostgreSQL text cannot hold")
            case UInt8(ascii: "\\"), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                escaped = true
            default: continue
            }
        }
        if !escaped { buffer.writeString(value); return }
        for b in value.utf8 {
            switch b {
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
            case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
            case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
            default: buffer.writeInteger(b)
            }
        }
    }

    /// Ends the row: every column must have had its value.
    public mutating func endRow() throws {
        guard column == columns.count else {
            throw PostgresClientError(.client, "COPY into \(table): row \(rows + 1) has \(column) values for \(columns.count) columns (\(columns.joined(separator: ", ")))")
        }
        buffer.writeInteger(UInt8(ascii: "\n"))
        column = 0
        rows += 1
        if buffer.readableBytes >= Self.chunkBytes { try flush() }
    }

    mutating func flush() throws {
        guard buffer.readableBytes > 0 else { return }
        try send(buffer)
        buffer = ByteBufferAllocator().buffer(capacity: Self.chunkBytes + 4096)
    }
}

/// Raised in the producer when the COPY stopped on the server's side (its error is reported).
struct CopyConsumerStopped: Error {}

extension Wire {
    /// A simple SQL identifier (PostgresNIO puts table and column names in double quotes as given).
    static func checkIdentifier(_ name: String, what: String) throws(PostgresClientError) {
        let bytes = Array(name.utf8)
        let ok = !bytes.isEmpty && bytes.count <= 63 && bytes.enumerated().allSatisfy { i, b in
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
                || b == UInt8(ascii: "_") || (i > 0 && b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
        }
        if !ok { throw PostgresClientError(.client, "COPY: \(what) \"\(name)\" is not a plain SQL identifier (letters, digits, _)") }
    }

    func copyIn(table: String, columns: [String], _ produce: (inout CopyTextWriter) throws -> Void) throws -> Int {
        try Self.checkIdentifier(table, what: "table")
        for column in columns { try Self.checkIdentifier(column, what: "column") }
        guard !columns.isEmpty else { throw PostgresClientError(.client, "COPY into \(table): no columns named") }
        Bridge.assertNotOnEventLoop()

        let handoff = ChunkHandoff<ByteBuffer>(capacity: 4)
        let outcome = Mutex<Result<Void, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let connection = self.connection, logger = self.logger
        Task(executorPreference: Bridge.executor) {
            let result: Result<Void, any Error>
            do {
                try await connection.copyFrom(table: table, columns: columns, format: .text(.init()), logger: logger) { writer in
                    while let chunk = try await handoff.next() { try await writer.write(chunk) }
                }
                result = .success(())
            } catch {
                result = .failure(error)
            }
            outcome.withLock { $0 = result }
            handoff.consumerEnded()
            done.signal()
        }

        var writer = CopyTextWriter(table: table, columns: columns) { chunk in
            if !handoff.put(chunk) { throw CopyConsumerStopped() }
        }
        var producerError: (any Error)?
        // If the connection closes, PostgresNIO may never finish the COPY: stop waiting for it.
        whileInFlight(onClose: { error in
            outcome.withLock { if $0 == nil { $0 = .failure(error) } }
            handoff.consumerEnded()
            done.signal()
        }) {
            do {
                try produce(&writer)
                guard writer.column == 0 else {
                    throw PostgresClientError(.client, "COPY into \(table): the last row was not ended (endRow())")
                }
                try writer.flush()
            } catch {
                producerError = error
            }
            handoff.finish(error: producerError.map { _ in CopyConsumerStopped() })
            done.wait()
        }
        if let producerError, !(producerError is CopyConsumerStopped) { throw producerError }
        let result = outcome.withLock { $0! }
        switch result {
        case .success:
            return writer.rows
        case .failure(let error):
            throw QueryFailure.describe(error, sql: "COPY \(table) (\(columns.joined(separator: ", "))) FROM STDIN", settings: settings)
        }
    }
}
