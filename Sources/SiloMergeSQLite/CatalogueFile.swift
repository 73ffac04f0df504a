import Foundation
import SiloMergeCore
import GRDB
import GRDBSQLite
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a file given as the catalogue is, decided before anything writes to it: SQLite opens
/// files lazily and GRDB switches them to WAL on open, so a foreign database would be changed
/// by the mere attempt.
enum CatalogueFile: Equatable {
    case missing
    /// Zero bytes, or an SQLite database without a single table.
    case empty
    /// A SiloMerge catalogue, with the migrations it has.
    case catalogue(applied: Set<String>)
    /// Somebody else's file.
    case foreign(reason: String)
    /// A catalogue with migrations this SiloMerge does not know.
    case newer(unknown: [String])

    /// SiloMerge's `PRAGMA application_id` ("SLMG"), set by the `v7-input` migration.
    static let applicationID: Int32 = 0x534C_4D47

    /// Looks at `path` without changing it: the file header first, then, for SQLite files, the
    /// schema through a read-only connection that creates no `-wal` or `-shm` beside it.
    static func inspect(_ given: String, known: Set<String>) throws -> CatalogueFile {
        // SQLite names the `-wal` after the file a symbolic link leads to: look there too.
        let path: String
        if case .success(let real) = Posix.realPath(FilePath(given)), let s = real.string { path = s } else { path = given }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        if fd < 0 {
            let e = Errno(errno)
            if e.code == ENOENT { return .missing }
            throw CatalogueError.cannotOpen(path: path, reason: InputFile.reason(opening: e))
        }
        defer { close(fd) }
        let st: FileStat
        switch Posix.fstat(fd) {
        case .success(let s): st = s
        case .failure(let e): throw CatalogueError.cannotOpen(path: path, reason: "\(e) (\(e.name))")
        }
        switch st.kind {
        case .regular: break
        case .directory: throw CatalogueError.cannotOpen(path: path, reason: "it is a folder; name the catalogue file inside it (--catalog FOLDER/silomerge.sqlite)")
        default: throw CatalogueError.notACatalogue(path: path, reason: "it is a \(st.kind.label), not a file")
        }
        if st.size == 0 {
            // A catalogue in WAL mode whose first pages were never checkpointed is all in its
            // `-wal`: empty only when that is empty too.
            guard case .success(let wal) = Posix.stat(FilePath(path + "-wal")), wal.size > 0 else { return .empty }
            return try classify(try readSchema(path), path: given, known: known)
        }
        var header = [UInt8](repeating: 0, count: 100)
        let n = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 100, 0) }
        let magic = Array("SQLite format 3".utf8) + [0]
        guard n == 100, header.starts(with: magic) else {
            return .foreign(reason: "it is not an SQLite database")
        }
        let appID = Int32(bitPattern: UInt32(header[68]) << 24 | UInt32(header[69]) << 16 | UInt32(header[70]) << 8 | UInt32(header[71]))
        if appID != 0 && appID != applicationID {
            return .foreign(reason: String(format: "it belongs to another application (SQLite application_id 0x%08X)", UInt32(bitPattern: appID)))
        }
        return try classify(try readSchema(path), path: given, known: known)
    }

    static func classify(_ schema: (tables: Set<String>, migrations: Set<String>), path: String, known: Set<String>) throws -> CatalogueFile {
        if schema.tables.isEmpty { return .empty }
        guard schema.tables.contains("grdb_migrations") else {
            return .foreign(reason: "it holds other tables (\(schema.tables.sorted().prefix(3).joined(separator: ", ")))")
        }
        let ours = schema.migrations.intersection(known)
        guard ours.contains("v1-scan"), ["silo", "file", "run"].allSatisfy(schema.tables.contains) else {
            return .foreign(reason: "it is another program's database (tables \(schema.tables.sorted().prefix(3).joined(separator: ", ")))")
        }
        let unknown = schema.migrations.subtracting(known)
        if !unknown.isEmpty { return .newer(unknown: unknown.sorted()) }
        return .catalogue(applied: schema.migrations)
    }

    /// The table names and applied GRDB migrations, read through SQLite's C API. A database
    /// whose `-wal` is absent is complete in its main file: it is opened `immutable`, which
    /// takes no lock and creates no `-wal` or `-shm`. One with a `-wal` is in use; it is opened
    /// read-only, which reads the `-wal` as well.
    static func readSchema(_ path: String) throws -> (tables: Set<String>, migrations: Set<String>) {
        let absolute = Posix.absolute(FilePath(path)).string ?? path
        let inUse = access(absolute + "-wal", F_OK) == 0
        var uri = "file:" + percentEncoded(absolute)
        if !inUse { uri += "?immutable=1" }
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX
        let code = sqlite3_open_v2(uri, &db, flags, nil)
        defer { sqlite3_close_v2(db) }
        guard code == SQLITE_OK, let db else {
            throw CatalogueError.cannotOpen(path: path, reason: db.map { String(cString: sqlite3_errmsg($0)) } ?? "SQLite error \(code)")
        }
        sqlite3_busy_timeout(db, 10_000)
        func strings(_ sql: String) throws -> [String] {
            var statement: OpaquePointer?
            guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
                let message = String(cString: sqlite3_errmsg(db))
                if sqlite3_errcode(db) == SQLITE_NOTADB { throw CatalogueError.notACatalogue(path: path, reason: "it is not an SQLite database") }
                throw CatalogueError.cannotOpen(path: path, reason: message)
            }
            defer { sqlite3_finalize(statement) }
            var out: [String] = []
            while true {
                let step = sqlite3_step(statement)
                if step == SQLITE_DONE { break }
                guard step == SQLITE_ROW else {
                    if step == SQLITE_NOTADB || step == SQLITE_CORRUPT {
                        throw CatalogueError.notACatalogue(path: path, reason: "it is not a readable SQLite database (\(String(cString: sqlite3_errmsg(db))))")
                    }
                    throw CatalogueError.cannotOpen(path: path, reason: String(cString: sqlite3_errmsg(db)))
                }
                if let text = sqlite3_column_text(statement, 0) { out.append(String(cString: text)) }
            }
            return out
        }
        let tables = Set(try strings("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"))
        let migrations = tables.contains("grdb_migrations") ? Set(try strings("SELECT identifier FROM grdb_migrations")) : []
        return (tables, migrations)
    }

    /// A path as the path part of an SQLite `file:` URI.
    static func percentEncoded(_ path: String) -> String {
        var out = ""
        for byte in path.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "/"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}

extension CatalogueError {
    /// Wraps a GRDB/SQLite error with what was being done.
    static func wrap(_ error: any Error, path: String, _ operation: String) -> CatalogueError {
        if let e = error as? CatalogueError { return e }
        if let db = error as? DatabaseError {
            if db.resultCode == .SQLITE_NOTADB { return .notACatalogue(path: path, reason: "not an SQLite database") }
            if db.resultCode == .SQLITE_CANTOPEN { return .cannotOpen(path: path, reason: db.message ?? "\(db.resultCode)") }
            if db.resultCode == .SQLITE_FULL { return .failed(catalogue: path, operation: operation, reason: "the disk is full") }
            return .failed(catalogue: path, operation: operation, reason: db.message ?? "\(db.resultCode)")
        }
        return .failed(catalogue: path, operation: operation, reason: "\(error)")
    }
}
