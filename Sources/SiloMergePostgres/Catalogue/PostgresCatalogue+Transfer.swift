import Foundation
import PostgresNIO
import SiloMergeCore

// The PostgreSQL side of catalogue transfers (see CatalogueTransfer.swift in the core): rows
// out of one REPEATABLE READ snapshot, rows in inside one transaction of the writer session.
// Paths and digests are bytea here, booleans boolean: `TransferColumnKind` says which.
//
// Rows are inserted one statement each (a shard is one host's silos; COPY into staging tables
// is the next step when shards of millions of files are merged into PostgreSQL).

extension PostgresCatalogue: CatalogueTransfer {
    public func exportRecords(_ body: (TransferRecord) throws -> Void) throws {
        do {
            try writer.withTransaction { tx in
                try tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                let existing = Set(try tx.query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()", as: String.self))
                for table in TransferTable.allCases where existing.contains(table.name) {
                    switch table {
                    case .sidecar, .metadata: continue   // with their files
                    case .file: try Self.exportFiles(tx, body)
                    default:
                        try tx.stream(PostgresQuery(unsafeSQL: Self.selectSQL(table, where: nil))) { row in
                            try body(try Self.record(table, row))
                        }
                    }
                }
            }
        } catch let error as PostgresClientError {
            throw CatalogueError.failed(catalogue: location.display, operation: "read the catalogue for a transfer", reason: error.message)
        }
    }

    public func withTransferTransaction<R>(_ body: (any TransferWriter) throws -> R) throws -> R {
        do {
            return try writer.withTransaction { tx in try body(PostgresTransferWriter(tx: tx)) }
        } catch let error as PostgresClientError {
            throw CatalogueError.failed(catalogue: location.display, operation: "write the transferred rows", reason: error.message)
        }
    }

    /// Files by id, a batch at a time, each followed by its sidecars and metadata values.
    static func exportFiles(_ tx: PostgresTransaction, _ body: (TransferRecord) throws -> Void) throws {
        var last: Int64 = Int64.min
        while true {
            let files = try tx.query(PostgresQuery(unsafeSQL: selectSQL(.file, where: "id > \(last)") + " LIMIT 5000"))
                .map { try record(.file, $0) }
            guard let first = files.first?["id"].integer, let end = files.last?["id"].integer else { return }
            var sidecars: [Int64: [TransferRecord]] = [:], metadata: [Int64: [TransferRecord]] = [:]
            for row in try tx.query(PostgresQuery(unsafeSQL: selectSQL(.sidecar, where: "file_id BETWEEN \(first) AND \(end)"))) {
                let r = try record(.sidecar, row)
                sidecars[r["file_id"].integer ?? 0, default: []].append(r)
            }
            for row in try tx.query(PostgresQuery(unsafeSQL: selectSQL(.metadata, where: "file_id BETWEEN \(first) AND \(end)"))) {
                let r = try record(.metadata, row)
                metadata[r["file_id"].integer ?? 0, default: []].append(r)
            }
            for file in files {
                try body(file)
                let id = file["id"].integer ?? 0
                for r in sidecars[id] ?? [] { try body(r) }
                for r in metadata[id] ?? [] { try body(r) }
            }
            last = end
        }
    }

    static func selectSQL(_ table: TransferTable, where condition: String?) -> String {
        let columns = table.columns.map { c -> String in
            switch c.kind {
            case .key, .integer, .silo, .run, .file: "\(c.name)::bigint"
            default: c.name
            }
        }
        return "SELECT \(columns.joined(separator: ", ")) FROM \(table.name)"
            // A file's metadata values in the order they were written (their id), as SQLite's rowid.
            + (condition.map { " WHERE \($0)" } ?? "") + " ORDER BY \(table == .metadata ? "file_id, id" : table.orderBy)"
    }

    static func record(_ table: TransferTable, _ row: PostgresRow) throws -> TransferRecord {
        let cells = row.makeRandomAccess()
        var values: [TransferValue] = []
        values.reserveCapacity(table.columns.count)
        for (i, column) in table.columns.enumerated() {
            let cell = cells[i]
            switch column.kind {
            case .key, .integer, .silo, .run, .file:
                values.append(try cell.decode(Int64?.self).map { .integer($0) } ?? .null)
            case .flag:
                values.append(try cell.decode(Bool?.self).map { .integer($0 ? 1 : 0) } ?? .null)
            case .text:
                values.append(try cell.decode(String?.self).map { .text($0) } ?? .null)
            case .bytes:
                values.append(try cell.decode(ByteBuffer?.self).map { .bytes($0.allBytes) } ?? .null)
            case .digest:
                guard let buffer = try cell.decode(ByteBuffer?.self) else { values.append(.null); continue }
                guard let digest = SHA256Digest(bytea: buffer) else {
                    throw CatalogueError.failed(catalogue: table.name, operation: "read \(column.name)",
                                                reason: "\(buffer.readableBytes) bytes are not a SHA-256")
                }
                values.append(.digest(digest))
            }
        }
        return TransferRecord(table: table, values: values)
    }

    static func bind(_ value: TransferValue, as kind: TransferColumnKind, into bindings: inout PostgresBindings) throws {
        switch (value, kind) {
        case (.null, _): bindings.appendNull()
        case (.integer(let v), .flag): try bindings.append(v != 0)
        case (.integer(let v), _): try bindings.append(v)
        case (.text(let s), _): try bindings.append(s)
        case (.bytes(let b), _): try bindings.append(ByteBuffer(bytes: b))
        case (.digest(let d), _): try bindings.append(d.bytea)
        }
    }
}

/// The writer of one transfer transaction.
final class PostgresTransferWriter: TransferWriter {
    let tx: PostgresTransaction
    init(tx: PostgresTransaction) { self.tx = tx }

    func insert(_ record: TransferRecord, keepKey: Bool) throws -> Int64? {
        let table = record.table
        var names: [String] = [], marks: [String] = []
        var bindings = PostgresBindings()
        var key: Int64? = nil
        let hasKey = table.columns.contains { $0.kind == .key }
        for (i, column) in table.columns.enumerated() {
            if column.kind == .key {
                key = record.values[i].integer
                if !keepKey { continue }
            }
            names.append(column.name)
            marks.append("$\(marks.count + 1)")
            try PostgresCatalogue.bind(record.values[i], as: column.kind, into: &bindings)
        }
        var sql = "INSERT INTO \(table.name) (\(names.joined(separator: ", "))) VALUES (\(marks.joined(separator: ", ")))"
        if hasKey && !keepKey { sql += " RETURNING id" }
        let rows = try tx.query(PostgresQuery(unsafeSQL: sql, binds: bindings))
        guard hasKey else { return nil }
        if keepKey { return key }
        return try rows.first?.makeRandomAccess()[0].decode(Int64.self)
    }

    func updateSilo(id: Int64, with record: TransferRecord) throws {
        var sets: [String] = []
        var bindings = PostgresBindings()
        for (i, column) in record.table.columns.enumerated() where !["id", "name", "added_at"].contains(column.name) {
            sets.append("\(column.name) = $\(sets.count + 1)")
            try PostgresCatalogue.bind(record.values[i], as: column.kind, into: &bindings)
        }
        try bindings.append(id)
        try tx.execute(PostgresQuery(unsafeSQL: "UPDATE silo SET \(sets.joined(separator: ", ")) WHERE id = $\(sets.count + 1)",
                                     binds: bindings))
    }

    func silo(named name: String) throws -> (record: TransferRecord, lastRunStartedAt: String?)? {
        let columns = TransferTable.silo.columns.map { c in
            [.key, .integer, .silo, .run, .file].contains(c.kind) ? "s.\(c.name)::bigint" : "s.\(c.name)"
        }
        var bindings = PostgresBindings()
        try bindings.append(name)
        guard let row = try tx.query(PostgresQuery(unsafeSQL: """
            SELECT \(columns.joined(separator: ", ")), r.started_at FROM silo s LEFT JOIN run r ON r.id = s.last_run_id
            WHERE s.name = $1
            """, binds: bindings)).first else { return nil }
        let started = try row.makeRandomAccess()[TransferTable.silo.columns.count].decode(String?.self)
        return (try PostgresCatalogue.record(.silo, row), started)
    }

    func clearSiloState(siloID: Int64) throws {
        for table in ["file", "manifest", "uncatalogued"] {
            try tx.execute(PostgresQuery(unsafeSQL: "DELETE FROM \(table) WHERE silo_id = \(siloID)"))
        }
    }

    func deleteOpenFindings(siloID: Int64, openedBy runs: [Int64]) throws {
        guard !runs.isEmpty else { return }
        try tx.execute(PostgresQuery(unsafeSQL: """
            DELETE FROM open_finding WHERE silo_id = \(siloID) AND opened_run IN (\(runs.map(String.init).joined(separator: ",")))
            """))
    }

    func hasMergePlan(_ sha256: String) throws -> Bool {
        var bindings = PostgresBindings()
        try bindings.append(sha256)
        return try !tx.query(PostgresQuery(unsafeSQL: "SELECT 1 FROM merge_plan WHERE plan_sha256 = $1", binds: bindings)).isEmpty
    }

    func deleteMergePlan(_ sha256: String) throws {
        for table in ["merge_metadata", "merge_op", "merge_plan"] {
            var bindings = PostgresBindings()
            try bindings.append(sha256)
            try tx.execute(PostgresQuery(unsafeSQL: "DELETE FROM \(table) WHERE plan_sha256 = $1", binds: bindings))
        }
    }

    func mergeImageHash(_ record: TransferRecord) throws -> Bool {
        let columns = TransferTable.imagePhash.columns
        var bindings = PostgresBindings()
        for (i, column) in columns.enumerated() { try PostgresCatalogue.bind(record.values[i], as: column.kind, into: &bindings) }
        let rows = try tx.query(PostgresQuery(unsafeSQL: """
            INSERT INTO image_phash (\(columns.map(\.name).joined(separator: ", ")))
            VALUES (\(columns.indices.map { "$\($0 + 1)" }.joined(separator: ", ")))
            ON CONFLICT (sha256) DO UPDATE SET phash = excluded.phash, width = excluded.width, height = excluded.height,
                decoder = excluded.decoder, error = excluded.error
            WHERE image_phash.phash IS NULL AND excluded.phash IS NOT NULL
            RETURNING 1
            """, binds: bindings))
        return !rows.isEmpty
    }

    func shardRuns() throws -> [TransferRecord] {
        try tx.query(PostgresQuery(unsafeSQL: PostgresCatalogue.selectSQL(.shardRun, where: nil))).map { try PostgresCatalogue.record(.shardRun, $0) }
    }

    func shardSilos() throws -> [TransferRecord] {
        try tx.query(PostgresQuery(unsafeSQL: PostgresCatalogue.selectSQL(.shardSilo, where: nil))).map { try PostgresCatalogue.record(.shardSilo, $0) }
    }

    func runSummary() throws -> (maxID: Int64, runs: Int, silos: Int) {
        let rows = try tx.query("SELECT coalesce(max(id), 0)::bigint, count(*)::bigint, (SELECT count(*) FROM silo)::bigint FROM run",
                                as: (Int64, Int64, Int64).self)
        guard let (maxID, runs, silos) = rows.first else { return (0, 0, 0) }
        return (maxID, Int(runs), Int(silos))
    }

    func runStarts() throws -> [Int64: String] {
        var out: [Int64: String] = [:]
        for (id, started) in try tx.query("SELECT id::bigint, started_at FROM run", as: (Int64, String).self) { out[id] = started }
        return out
    }

    func setting(_ key: String) throws -> String? {
        var bindings = PostgresBindings()
        try bindings.append(key)
        return try tx.query(PostgresQuery(unsafeSQL: "SELECT value FROM setting WHERE key = $1", binds: bindings)).first
            .map { try $0.makeRandomAccess()[0].decode(String.self) }
    }

    func setSetting(_ key: String, _ value: String) throws {
        var bindings = PostgresBindings()
        try bindings.append(key)
        try bindings.append(value)
        try tx.execute(PostgresQuery(unsafeSQL: """
            INSERT INTO setting (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value
            """, binds: bindings))
    }

    /// The transferred tables this catalogue has (the shard tables come with a later migration).
    func existingTables() throws -> Set<String> {
        Set(try tx.query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()", as: String.self))
    }

    func deleteAll() throws {
        let existing = try existingTables()
        for table in TransferTable.allCases.reversed() where existing.contains(table.name) {
            try tx.execute(PostgresQuery(unsafeSQL: "DELETE FROM \(table.name)"))
        }
    }

    func keysInsertedExplicitly() throws {
        let existing = try existingTables()
        for table in TransferTable.allCases where existing.contains(table.name) && table.columns.contains(where: { $0.kind == .key }) {
            try tx.execute(PostgresQuery(unsafeSQL: """
                SELECT setval(pg_get_serial_sequence('\(table.name)', 'id'), coalesce(max(id), 0) + 1, false) FROM \(table.name)
                """))
        }
    }
}
