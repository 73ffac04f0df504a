import Foundation
import SiloMergeCore
import GRDB

// The SQLite side of catalogue transfers (see CatalogueTransfer.swift in the core): rows out of
// one read snapshot, rows in inside one write transaction.

extension SQLiteCatalogue: CatalogueTransfer {
    public func exportRecords(_ body: (TransferRecord) throws -> Void) throws {
        // What `body` throws (a destination's refusal, an early stop) goes through as it is;
        // only this catalogue's own failures are said as such.
        do {
            try pool.read { db in
                let headerFactsInColumns = try Self.headerFactsInColumns(db)
                for table in TransferTable.allCases {
                    switch table {
                    case .sidecar, .metadata: continue   // with their files
                    case .file: try Self.exportFiles(db, headerFactsInColumns: headerFactsInColumns, body)
                    default:
                        guard try db.tableExists(table.name) else { continue }
                        let cursor = try Row.fetchCursor(db, sql: Self.selectSQL(table, headerFactsInColumns: headerFactsInColumns))
                        while let row = try cursor.next() { try body(try Self.record(table, row)) }
                    }
                }
            }
        } catch let error as DatabaseError {
            throw CatalogueError.wrap(error, path: path, "read the catalogue for a transfer")
        }
    }

    public func withTransferTransaction<R>(_ body: (any TransferWriter) throws -> R) throws -> R {
        do {
            return try pool.write { db in try body(SQLiteTransferWriter(db: db)) }
        } catch let error as DatabaseError {
            throw CatalogueError.wrap(error, path: path, "write the transferred rows")
        }
    }

    /// Files by id, each followed by its sidecars and metadata values (three ordered cursors
    /// read side by side).
    static func exportFiles(_ db: Database, headerFactsInColumns: Bool, _ body: (TransferRecord) throws -> Void) throws {
        let files = try Row.fetchCursor(db, sql: selectSQL(.file, headerFactsInColumns: headerFactsInColumns))
        let sidecars = PeekCursor(try Row.fetchCursor(db, sql: selectSQL(.sidecar)), table: .sidecar)
        let metadata = PeekCursor(try Row.fetchCursor(db, sql: selectSQL(.metadata, headerFactsInColumns: headerFactsInColumns)), table: .metadata)
        while let row = try files.next() {
            let file = try record(.file, row)
            try body(file)
            let id = file["id"].integer ?? 0
            for peek in [sidecars, metadata] {
                while let next = try peek.peek(), let owner = next["file_id"].integer, owner <= id {
                    peek.consume()
                    if owner == id { try body(next) }   // rows of no file (foreign keys off) are left out
                }
            }
        }
    }

    /// `headerFactsInColumns` false: a catalogue from before `v15-header-facts` (opened
    /// read-only), whose rows are given as a newer one holds them: each file's (and merge
    /// operation's) dimensions group taken from its header width row, and the header rows its
    /// columns give back left out, as the migration does.
    static func selectSQL(_ table: TransferTable, headerFactsInColumns: Bool = true) -> String {
        let columns = table.columns.map { c -> String in
            if c.name == "dimensions_group" && !headerFactsInColumns {
                let group = table == .file ? Self.legacyGroup("metadata", "file_id = file.id AND h.source IS NULL")
                    : Self.legacyGroup("merge_metadata", "plan_sha256 = merge_op.plan_sha256 AND h.op = merge_op.op")
                return "CASE WHEN width IS NOT NULL AND height IS NOT NULL AND metadata_read > 0 THEN \(group) END AS dimensions_group"
            }
            return c.kind == .bytes ? "CAST(\(c.name) AS BLOB)" : c.name
        }
        let order = table == .metadata ? "file_id, rowid" : table.orderBy
        var filter = ""
        if !headerFactsInColumns && table == .metadata {
            filter = "WHERE NOT (source IS NULL AND " + legacyHeaderRow(
                "metadata", owner: "file f WHERE f.id = metadata.file_id",
                group: legacyGroup("metadata", "file_id = f.id AND h.source IS NULL")) + ")"
        } else if !headerFactsInColumns && table == .mergeMetadata {
            filter = "WHERE NOT " + legacyHeaderRow(
                "merge_metadata", owner: "merge_op f WHERE f.plan_sha256 = merge_metadata.plan_sha256 AND f.op = merge_metadata.op",
                group: legacyGroup("merge_metadata", "plan_sha256 = f.plan_sha256 AND h.op = f.op"))
        }
        return "SELECT \(columns.joined(separator: ", ")) FROM \(table.name) \(filter) ORDER BY \(order)"
    }

    /// The group of the first header width row of `table` (alias h) that `owner` selects.
    private static func legacyGroup(_ table: String, _ owner: String) -> String {
        """
        (SELECT substr(h.tag, 1, instr(h.tag, ':') - 1) FROM \(table) h WHERE h.\(owner) AND h.origin = 'header'
         AND h.field = 'width' AND instr(h.tag, ':') > 1 ORDER BY h.rowid LIMIT 1)
        """
    }

    /// Whether the row of `table` is a header row that its owner's columns (alias f) give back.
    private static func legacyHeaderRow(_ table: String, owner: String, group: String) -> String {
        """
        (\(table).origin = 'header' AND \(table).preferred = 1 AND EXISTS (SELECT 1 FROM \(owner) AND f.metadata_read > 0 AND (
            (\(table).field = 'format' AND \(table).tag = 'File:FileType' AND \(table).raw = f.format
             AND \(table).value = json_quote(f.format))
         OR (\(table).field = 'width' AND f.height IS NOT NULL AND \(table).tag = \(group) || ':ImageWidth'
             AND \(table).raw = CAST(f.width AS TEXT) AND \(table).value = CAST(f.width AS TEXT))
         OR (\(table).field = 'height' AND f.width IS NOT NULL AND \(table).tag = \(group) || ':ImageHeight'
             AND \(table).raw = CAST(f.height AS TEXT) AND \(table).value = CAST(f.height AS TEXT)))))
        """
    }

    static func record(_ table: TransferTable, _ row: Row) throws -> TransferRecord {
        var values: [TransferValue] = []
        values.reserveCapacity(table.columns.count)
        for (i, column) in table.columns.enumerated() {
            let value = row[i] as DatabaseValue
            switch (column.kind, value.storage) {
            case (_, .null): values.append(.null)
            case (.bytes, _): values.append(.bytes(bytes(value)))
            case (.text, .string(let s)): values.append(.text(s))
            case (.text, .blob(let d)): values.append(.text(String(decoding: d, as: UTF8.self)))
            case (.digest, .string(let s)):
                guard let d = SHA256Digest(hex: s) else {
                    throw CatalogueError.failed(catalogue: table.name, operation: "read \(column.name)",
                                                reason: "'\(s)' is not a SHA-256")
                }
                values.append(.digest(d))
            case (_, .int64(let v)): values.append(.integer(v))
            case (.text, .double(let v)): values.append(.text(String(v)))
            default:
                throw CatalogueError.failed(catalogue: table.name, operation: "read \(column.name)",
                                            reason: "unexpected value \(value)")
            }
        }
        return TransferRecord(table: table, values: values)
    }

    static func argument(_ value: TransferValue) -> (any DatabaseValueConvertible)? {
        switch value {
        case .null: nil
        case .integer(let v): v
        case .text(let s): s
        case .bytes(let b): textArgument(b)
        case .digest(let d): d.hex
        }
    }
}

/// A cursor whose next row can be looked at before it is taken.
private final class PeekCursor {
    let cursor: RowCursor
    let table: TransferTable
    var pending: TransferRecord?
    var done = false
    init(_ cursor: RowCursor, table: TransferTable) {
        self.cursor = cursor
        self.table = table
    }
    func peek() throws -> TransferRecord? {
        if pending == nil, !done {
            if let row = try cursor.next() { pending = try SQLiteCatalogue.record(table, row) } else { done = true }
        }
        return pending
    }
    func consume() { pending = nil }
}

/// The writer of one transfer transaction.
final class SQLiteTransferWriter: TransferWriter {
    let db: Database
    init(db: Database) { self.db = db }

    func insert(_ record: TransferRecord, keepKey: Bool) throws -> Int64? {
        let table = record.table
        var names: [String] = [], marks: [String] = [], args: [(any DatabaseValueConvertible)?] = []
        var key: Int64? = nil
        for (i, column) in table.columns.enumerated() {
            if column.kind == .key {
                key = record.values[i].integer
                if !keepKey { continue }
            }
            names.append(column.name)
            marks.append(column.kind == .bytes ? "CAST(? AS TEXT)" : "?")
            args.append(SQLiteCatalogue.argument(record.values[i]))
        }
        let statement = try db.cachedStatement(sql: "INSERT INTO \(table.name) (\(names.joined(separator: ", "))) VALUES (\(marks.joined(separator: ", ")))")
        try statement.execute(arguments: StatementArguments(args))
        guard table.columns.contains(where: { $0.kind == .key }) else { return nil }
        return keepKey ? key : db.lastInsertedRowID
    }

    func updateSilo(id: Int64, with record: TransferRecord) throws {
        var sets: [String] = [], args: [(any DatabaseValueConvertible)?] = []
        for (i, column) in record.table.columns.enumerated() where !["id", "name", "added_at"].contains(column.name) {
            sets.append("\(column.name) = " + (column.kind == .bytes ? "CAST(? AS TEXT)" : "?"))
            args.append(SQLiteCatalogue.argument(record.values[i]))
        }
        args.append(id)
        try db.execute(sql: "UPDATE silo SET \(sets.joined(separator: ", ")) WHERE id = ?", arguments: StatementArguments(args))
    }

    func silo(named name: String) throws -> (record: TransferRecord, lastRunStartedAt: String?)? {
        let columns = TransferTable.silo.columns.map { c in c.kind == .bytes ? "CAST(s.\(c.name) AS BLOB)" : "s.\(c.name)" }
        guard let row = try Row.fetchOne(db, sql: """
            SELECT \(columns.joined(separator: ", ")), r.started_at FROM silo s LEFT JOIN run r ON r.id = s.last_run_id
            WHERE s.name = ?
            """, arguments: [name]) else { return nil }
        let started: String? = row[TransferTable.silo.columns.count]
        return (try SQLiteCatalogue.record(.silo, row), started)
    }

    func clearSiloState(siloID: Int64) throws {
        for table in ["file", "manifest", "uncatalogued"] {
            try db.execute(sql: "DELETE FROM \(table) WHERE silo_id = ?", arguments: [siloID])
        }
    }

    func deleteOpenFindings(siloID: Int64, openedBy runs: [Int64]) throws {
        guard !runs.isEmpty else { return }
        try db.execute(sql: "DELETE FROM open_finding WHERE silo_id = ? AND opened_run IN (SELECT value FROM json_each(?))",
                       arguments: [siloID, "[" + runs.map(String.init).joined(separator: ",") + "]"])
    }

    func hasMergePlan(_ sha256: String) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT 1 FROM merge_plan WHERE plan_sha256 = ?", arguments: [sha256]) ?? false
    }

    func deleteMergePlan(_ sha256: String) throws {
        for table in ["merge_metadata", "merge_op", "merge_plan"] {
            try db.execute(sql: "DELETE FROM \(table) WHERE plan_sha256 = ?", arguments: [sha256])
        }
    }

    func mergeImageHash(_ record: TransferRecord) throws -> Bool {
        let names = TransferTable.imagePhash.columns.map(\.name)
        try db.execute(sql: """
            INSERT INTO image_phash (\(names.joined(separator: ", "))) VALUES (\(names.map { _ in "?" }.joined(separator: ", ")))
            ON CONFLICT (sha256) DO UPDATE SET phash = excluded.phash, width = excluded.width, height = excluded.height,
                decoder = excluded.decoder, error = excluded.error
            WHERE image_phash.phash IS NULL AND excluded.phash IS NOT NULL
            """, arguments: StatementArguments(record.values.map(SQLiteCatalogue.argument)))
        return db.changesCount > 0
    }

    func shardRuns() throws -> [TransferRecord] {
        try Row.fetchAll(db, sql: SQLiteCatalogue.selectSQL(.shardRun)).map { try SQLiteCatalogue.record(.shardRun, $0) }
    }

    func shardSilos() throws -> [TransferRecord] {
        try Row.fetchAll(db, sql: SQLiteCatalogue.selectSQL(.shardSilo)).map { try SQLiteCatalogue.record(.shardSilo, $0) }
    }

    func runSummary() throws -> (maxID: Int64, runs: Int, silos: Int) {
        let row = try Row.fetchOne(db, sql: "SELECT coalesce(max(id), 0), count(*), (SELECT count(*) FROM silo) FROM run")!
        return (row[0], row[1], row[2])
    }

    func runStarts() throws -> [Int64: String] {
        var out: [Int64: String] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT id, started_at FROM run") { out[row[0]] = row[1] }
        return out
    }

    func setting(_ key: String) throws -> String? {
        try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = ?", arguments: [key])
    }

    func setSetting(_ key: String, _ value: String) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO setting (key, value) VALUES (?, ?)", arguments: [key, value])
    }

    func deleteAll() throws {
        for table in TransferTable.allCases.reversed() {
            try db.execute(sql: "DELETE FROM \(table.name)")
        }
    }

    func keysInsertedExplicitly() throws {}
}
