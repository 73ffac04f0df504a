import SiloMergeCore
import GRDB

/// Writes `metadata` rows: up to `rowsPerStatement` rows per INSERT, their texts bound in
/// place from one byte buffer, rows of consecutive files sharing statements.
///
/// A row at a time, each value's texts copied by SQLite and its JSON made as a String, the
/// rows were about a quarter of the CPU that reading metadata adds to a scan of the public
/// photo collection (1,341 files, 5,909 rows; most files have 3 to 6): SQLite's per-statement
/// work (opening and closing the statement's savepoint for the foreign key, resetting,
/// clearing) was paid per value. A statement per file then still meant one statement per
/// file, and the INSERT of every row count from 1 to 16 prepared (the one of 16 rows has 144
/// parameters): rows are now held until 16 are pending, whichever files they belong to, so
/// a scan runs full statements and prepares two or three.
///
/// Rows go in in the order given, so their rowids keep the order the readers produced, as
/// `metadata(forFile:)` returns them. Rows are held, not written: `flush()` must run before
/// anything else in the transaction reads or deletes `metadata` rows, and before it ends.
struct MetadataRowWriter {
    /// A power of two: `flush` writes fewer rows as a sum of halvings of it.
    static let rowsPerStatement = 16
    private static let columns = 9

    private let db: Database
    /// `statements[n - 1]`: the INSERT of n rows, prepared when first needed.
    private var statements: [RawStatement?] = Array(repeating: nil, count: rowsPerStatement)
    /// The texts of the pending rows.
    private var bytes: [UInt8] = []
    private var rows: [PendingRow] = []

    /// Where a text lies in `bytes`.
    private struct Span { var start: Int; var count: Int }
    private struct PendingRow {
        var fileID: Int64
        var field: Span, origin: Span, tag: Span, value: Span, raw: Span
        var source: Span?
        var mtimeNs: Int64?
        var preferred: Bool
    }

    init(_ db: Database) { self.db = db }

    /// Adds `values` as rows of `fileID`, written once 16 rows are pending (or at `flush`).
    /// `json`, when given, holds each value's JSON (made once for a sidecar's fields too);
    /// `preferred` is parallel to `values` (a value past its end is not preferred). With
    /// `skippingHeader`, the header facts among `values` are left out: the file's columns hold
    /// them (see `ContentInfo.rowValues`, which this spares copying every other value).
    mutating func write(_ fileID: Int64, _ values: [SourcedValue], json: [String]?, preferred: [Bool]?,
                        source: String?, mtimeNs: Int64?, skippingHeader: Bool = false) throws {
        guard !values.isEmpty else { return }
        var sourceSpan = source.map { append($0) }
        // By index, reading each value in place (no copy of its strings).
        for i in values.indices where !(skippingHeader && values[i].origin == .header) {
            let field = append(values[i].field.rawValue), origin = append(values[i].origin.rawValue), tag = append(values[i].tag)
            let value: Span
            if let json { value = append(json[i]) } else {
                let at = bytes.count
                values[i].value.appendJSON(to: &bytes)
                value = Span(start: at, count: bytes.count - at)
            }
            let chosen = preferred.map { i < $0.count && $0[i] } ?? false
            rows.append(PendingRow(fileID: fileID, field: field, origin: origin, tag: tag, value: value, raw: append(values[i].raw),
                                   source: sourceSpan, mtimeNs: mtimeNs, preferred: chosen))
            if rows.count == Self.rowsPerStatement {
                try flush()
                sourceSpan = source.map { append($0) }   // the flush emptied the buffer it lay in
            }
        }
    }

    /// Writes the pending rows: 16 in one statement, fewer (a batch's last rows) through
    /// the statements of 8, 4, 2 and 1 rows that add up to them, so at most five INSERTs
    /// are ever prepared rather than sixteen.
    mutating func flush() throws {
        guard !rows.isEmpty else { return }
        var parts: [(statement: RawStatement, rows: Range<Int>)] = []
        var next = 0
        while next < rows.count {
            var size = Self.rowsPerStatement
            while size > rows.count - next { size /= 2 }
            parts.append((try statement(rows: size), next..<(next + size)))
            next += size
        }
        defer {
            rows.removeAll(keepingCapacity: true)
            bytes.removeAll(keepingCapacity: true)
        }
        // The buffer is not touched again until `run` has reset each statement and cleared
        // its bindings, so the pointers bound in place never outlive the bytes.
        try bytes.withUnsafeBytes { buffer in
            // A non-nil pointer even for no bytes at all: SQLite binds NULL for a nil pointer.
            let base = buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
            for (statement, range) in parts {
                func text(_ parameter: Int32, _ span: Span) { statement.bindInPlace(parameter, base + span.start, count: span.count) }
                for r in range {
                    let row = rows[r]
                    let p = Int32((r - range.lowerBound) * Self.columns)
                    statement.bind(p + 1, row.fileID)
                    text(p + 2, row.field)
                    text(p + 3, row.origin)
                    text(p + 4, row.tag)
                    text(p + 5, row.value)
                    text(p + 6, row.raw)
                    if let source = row.source { text(p + 7, source) } else { statement.bindNull(p + 7) }
                    if let mtimeNs = row.mtimeNs { statement.bind(p + 8, mtimeNs) } else { statement.bindNull(p + 8) }
                    statement.bind(p + 9, row.preferred ? 1 : 0)
                }
                try statement.run("record a metadata value")
            }
        }
    }

    private mutating func append(_ s: String) -> Span {
        let at = bytes.count
        bytes.append(contentsOf: s.utf8)
        return Span(start: at, count: bytes.count - at)
    }

    private mutating func statement(rows n: Int) throws -> RawStatement {
        if let s = statements[n - 1] { return s }
        let s = RawStatement(try db.cachedStatement(sql: Self.sql(rows: n)), db)
        statements[n - 1] = s
        return s
    }

    /// The INSERT of n rows (16, 8, 4, 2 or 1). The one of 16 rows, which nearly every
    /// statement is, is made once per process; the others when needed.
    private static func sql(rows n: Int) -> String { n == rowsPerStatement ? full : text(rows: n) }
    private static let full = text(rows: rowsPerStatement)
    private static func text(rows n: Int) -> String {
        let placeholders = (0..<n).map { r in
            "(" + (1...columns).map { "?\(r * columns + $0)" }.joined(separator: ", ") + ")"
        }.joined(separator: ", ")
        return """
            INSERT INTO metadata (file_id, field, origin, tag, value, raw, source, source_mtime_ns, preferred)
            VALUES \(placeholders)
            """
    }
}
