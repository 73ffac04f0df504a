import SiloMergeCore
import GRDB

/// Writes a file's `metadata` rows: up to `rowsPerStatement` rows per INSERT, their texts
/// bound in place from one byte buffer.
///
/// A row at a time, each value's texts copied by SQLite and its JSON made as a String, the
/// rows were about a quarter of the CPU that reading metadata adds to a scan of the public
/// photo collection (1,341 files, 5,909 rows; most files have 3 to 6): SQLite's per-statement
/// work (opening and closing the statement's savepoint for the foreign key, resetting,
/// clearing) was paid per value. Rows go in in the order given, so their rowids keep the
/// order the readers produced, as `metadata(forFile:)` returns them.
struct MetadataRowWriter {
    static let rowsPerStatement = 16
    private static let columns = 9

    private let db: Database
    /// `statements[n - 1]`: the INSERT of n rows, prepared when first needed.
    private var statements: [RawStatement?] = Array(repeating: nil, count: rowsPerStatement)
    /// The texts of the rows being written, and where each parameter's bytes lie in it.
    private var bytes: [UInt8] = []
    private var texts: [(parameter: Int32, start: Int, count: Int)] = []

    init(_ db: Database) { self.db = db }

    /// Writes `values` as rows of `fileID`. `json`, when given, holds each value's JSON (made
    /// once for a sidecar's fields too); `preferred` is parallel to `values`.
    mutating func write(_ fileID: Int64, _ values: [SourcedValue], json: [String]?, preferred: [Bool]?,
                        source: String?, mtimeNs: Int64?) throws {
        var start = 0
        while start < values.count {
            let n = min(Self.rowsPerStatement, values.count - start)
            try write(fileID, values, json: json, preferred: preferred, rows: start..<(start + n), source: source, mtimeNs: mtimeNs)
            start += n
        }
    }

    private mutating func write(_ fileID: Int64, _ values: [SourcedValue], json: [String]?, preferred: [Bool]?,
                                rows: Range<Int>, source: String?, mtimeNs: Int64?) throws {
        let statement = try self.statement(rows: rows.count)
        bytes.removeAll(keepingCapacity: true)
        texts.removeAll(keepingCapacity: true)
        var sourceText: (start: Int, count: Int)?
        if let source { sourceText = append(source) }
        for (r, i) in rows.enumerated() {
            let v = values[i]
            let p = Int32(r * Self.columns)
            statement.bind(p + 1, fileID)
            text(p + 2, append(v.field.rawValue))
            text(p + 3, append(v.origin.rawValue))
            text(p + 4, append(v.tag))
            if let json { text(p + 5, append(json[i])) } else {
                let at = bytes.count
                v.value.appendJSON(to: &bytes)
                text(p + 5, (at, bytes.count - at))
            }
            text(p + 6, append(v.raw))
            if let sourceText { text(p + 7, sourceText) } else { statement.bindNull(p + 7) }
            if let mtimeNs { statement.bind(p + 8, mtimeNs) } else { statement.bindNull(p + 8) }
            statement.bind(p + 9, (preferred?[i] ?? false) ? 1 : 0)
        }
        // The buffer is not touched again until `run` has reset the statement and cleared
        // its bindings, so the pointers bound in place never outlive the bytes.
        try bytes.withUnsafeBytes { buffer in
            // A non-nil pointer even for no bytes at all: SQLite binds NULL for a nil pointer.
            let base = buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
            for t in texts { statement.bindInPlace(t.parameter, base + t.start, count: t.count) }
            try statement.run("record a metadata value")
        }
    }

    private mutating func append(_ s: String) -> (start: Int, count: Int) {
        let at = bytes.count
        bytes.append(contentsOf: s.utf8)
        return (at, bytes.count - at)
    }

    private mutating func text(_ parameter: Int32, _ span: (start: Int, count: Int)) {
        texts.append((parameter, span.start, span.count))
    }

    private mutating func statement(rows n: Int) throws -> RawStatement {
        if let s = statements[n - 1] { return s }
        let s = RawStatement(try db.cachedStatement(sql: Self.sql[n - 1]), db)
        statements[n - 1] = s
        return s
    }

    /// `sql[n - 1]`: the INSERT of n rows. Made once per process (a writer lives for one batch,
    /// and building the texts again cost more than preparing them: GRDB's cache has them).
    private static let sql: [String] = (1...rowsPerStatement).map { n in
        let placeholders = (0..<n).map { r in
            "(" + (1...columns).map { "?\(r * columns + $0)" }.joined(separator: ", ") + ")"
        }.joined(separator: ", ")
        return """
            INSERT INTO metadata (file_id, field, origin, tag, value, raw, source, source_mtime_ns, preferred)
            VALUES \(placeholders)
            """
    }
}
