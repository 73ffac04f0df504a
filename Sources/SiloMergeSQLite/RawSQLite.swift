import Foundation
import SiloMergeCore
import GRDB
import GRDBSQLite

/// SQLite's "copy the bound bytes now" destructor.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
/// SQLite's "the bytes stay put, use them where they are" destructor (SQLITE_STATIC).
private let inPlace = unsafeBitCast(0, to: sqlite3_destructor_type.self)

/// A prepared statement driven through SQLite's C API, for the per-file hot paths where GRDB's
/// argument boxing would cost more than the insert itself. Texts are bound and read as exact
/// bytes, so names that are not valid UTF-8 are stored byte for byte as TEXT.
struct RawStatement {
    let handle: OpaquePointer
    let connection: OpaquePointer
    /// Keeps GRDB's statement (and so the SQLite handle) alive while this is used.
    private let owner: Statement?

    init(_ statement: Statement, _ db: Database) {
        handle = statement.sqliteStatement
        connection = db.sqliteConnection!
        owner = statement
    }

    init(handle: OpaquePointer, connection: OpaquePointer) {
        self.handle = handle; self.connection = connection; owner = nil
    }

    func bind(_ index: Int32, _ value: Int64) { sqlite3_bind_int64(handle, index, value) }
    func bind(_ index: Int32, _ value: Int) { sqlite3_bind_int64(handle, index, Int64(value)) }
    func bindNull(_ index: Int32) { sqlite3_bind_null(handle, index) }

    func bind(_ index: Int32, text bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { b in
            // A non-nil pointer even for "": SQLite binds NULL for a nil pointer.
            let base = b.baseAddress.map { UnsafeRawPointer($0) } ?? UnsafeRawPointer(bitPattern: 1)!
            sqlite3_bind_text(handle, index, base.assumingMemoryBound(to: CChar.self), Int32(b.count), transient)
        }
    }

    /// Binds `count` bytes at `base` as TEXT without copying them: they must stay where they
    /// are, unchanged, until the statement is reset and its bindings cleared (`run` does both).
    func bindInPlace(_ index: Int32, _ base: UnsafeRawPointer, count: Int) {
        sqlite3_bind_text(handle, index, base.assumingMemoryBound(to: CChar.self), Int32(count), inPlace)
    }

    /// Binds the text's exact UTF-8 bytes. (Not as a C string, which stops at the first NUL:
    /// text read from files — a manifest cell, a rule's detail — may hold U+0000, and SQLite
    /// stores it whole.)
    func bind(_ index: Int32, text: String?) {
        guard var text else { bindNull(index); return }
        text.withUTF8 { b in
            // A non-nil pointer even for "": SQLite binds NULL for a nil pointer.
            let base = b.baseAddress.map { UnsafeRawPointer($0) } ?? UnsafeRawPointer(bitPattern: 1)!
            sqlite3_bind_text(handle, index, base.assumingMemoryBound(to: CChar.self), Int32(b.count), transient)
        }
    }

    func bind(_ index: Int32, _ digest: SHA256Digest?) { bind(index, text: digest?.hex) }

    /// Runs the statement to completion (for writes), then resets it.
    func run(_ what: @autoclosure () -> String) throws {
        defer { sqlite3_reset(handle); sqlite3_clear_bindings(handle) }
        let code = sqlite3_step(handle)
        guard code == SQLITE_DONE || code == SQLITE_ROW else { throw error(code, what()) }
    }

    /// Steps once: true when a row is available.
    func step(_ what: @autoclosure () -> String) throws -> Bool {
        let code = sqlite3_step(handle)
        if code == SQLITE_ROW { return true }
        if code == SQLITE_DONE { return false }
        throw error(code, what())
    }

    func reset() { sqlite3_reset(handle); sqlite3_clear_bindings(handle) }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    func bytes(_ column: Int32) -> [UInt8] {
        guard let pointer = sqlite3_column_text(handle, column) else { return [] }
        let count = Int(sqlite3_column_bytes(handle, column))
        return Array(UnsafeBufferPointer(start: pointer, count: count))
    }

    func text(_ column: Int32) -> String { String(decoding: bytes(column), as: UTF8.self) }

    /// True when the column's bytes are `bytes` (compared in place: nothing allocated).
    func column(_ column: Int32, equals bytes: [UInt8]) -> Bool {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count == bytes.count else { return false }
        guard count > 0, let pointer = sqlite3_column_text(handle, column) else { return count == 0 }
        return bytes.withUnsafeBufferPointer { memcmp($0.baseAddress!, pointer, count) == 0 }
    }

    func digest(_ column: Int32) -> SHA256Digest? {
        guard let pointer = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return SHA256Digest(hexBytes: UnsafeRawBufferPointer(start: pointer, count: count))
    }

    func error(_ code: Int32, _ what: String) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code),
                      message: "\(what): " + String(cString: sqlite3_errmsg(connection)))
    }
}

/// Reads the files catalogued in one folder, on its own SQLite connection: each walker thread
/// owns one, so folder lookups run in parallel and pay no locking or transaction bookkeeping.
final class SQLiteFolderReader: FolderReader {
    private var connection: OpaquePointer?
    private var statement: OpaquePointer?
    private var sidecarStatement: OpaquePointer?

    init(path: String) throws {
        var db: OpaquePointer?
        let code = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil)
        guard code == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "error \(code)"
            if let db { sqlite3_close_v2(db) }
            throw CatalogueError.cannotOpen(path: path, reason: message)
        }
        connection = db
        sqlite3_busy_timeout(db, 30_000)
        sqlite3_exec(db, "PRAGMA query_only = 1", nil, nil, nil)
        sqlite3_exec(db, "PRAGMA cache_size = -4096", nil, nil, nil)   // 4 MiB: it reads one folder at a time
        let sql = """
            SELECT id, name, size, mtime_ns, ctime_ns, dev, ino, sha256 IS NOT NULL, iif(?3, sha256, NULL), metadata_read
            FROM file WHERE silo_id = ?1 AND dir = ?2
            """
        let sidecarSQL = """
            SELECT f.name, s.name, s.size, s.mtime_ns, s.ctime_ns, s.dev, s.ino, s.sha256 IS NOT NULL, s.used, s.fields IS NOT NULL
            FROM sidecar s JOIN file f ON f.id = s.file_id WHERE s.silo_id = ?1 AND s.dir = ?2
            """
        guard sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK,
              sqlite3_prepare_v3(db, sidecarSQL, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &sidecarStatement, nil) == SQLITE_OK else {
            let message = String(cString: sqlite3_errmsg(db))
            sqlite3_close_v2(db)
            connection = nil
            throw CatalogueError.failed(catalogue: path, operation: "prepare a folder lookup", reason: message)
        }
    }

    deinit {
        if let statement { sqlite3_finalize(statement) }
        if let sidecarStatement { sqlite3_finalize(sidecarStatement) }
        if let connection { sqlite3_close_v2(connection) }
    }

    func sidecars(siloID: Int64, dir: RelativePath) throws -> [StoredSidecar] {
        let s = RawStatement(handle: sidecarStatement!, connection: connection!)
        defer { s.reset() }
        s.bind(1, siloID)
        s.bind(2, text: dir.bytes)
        var out: [StoredSidecar] = []
        while try s.step("read a folder's sidecars") {
            let stat = FileStat(size: s.int64(2), mtimeNs: s.int64(3), ctimeNs: s.int64(4),
                                device: UInt64(bitPattern: s.int64(5)), inode: UInt64(bitPattern: s.int64(6)),
                                linkCount: 0, mode: 0, uid: 0, gid: 0)
            out.append(StoredSidecar(assetName: s.bytes(0), name: s.bytes(1), stat: stat, hashed: s.int64(7) != 0,
                                     valuesRead: s.int64(9) != 0, used: s.int64(8) != 0))
        }
        return out
    }

    func entries(siloID: Int64, dir: RelativePath, withHashes: Bool) throws -> [StoredEntry] {
        let s = RawStatement(handle: statement!, connection: connection!)
        defer { s.reset() }
        s.bind(1, siloID)
        s.bind(2, text: dir.bytes)
        s.bind(3, withHashes ? 1 : 0)
        var out: [StoredEntry] = []
        while try s.step("read a folder's entries") {
            let stat = FileStat(size: s.int64(2), mtimeNs: s.int64(3), ctimeNs: s.int64(4),
                                device: UInt64(bitPattern: s.int64(5)), inode: UInt64(bitPattern: s.int64(6)),
                                linkCount: 0, mode: 0, uid: 0, gid: 0)
            out.append(StoredEntry(id: s.int64(0), name: s.bytes(1), stat: stat, hasHash: s.int64(7) != 0,
                                   sha256: withHashes ? s.digest(8) : nil,
                                   metadataRead: s.int64(9) >= Int64(MetadataReader.version)))
        }
        return out
    }
}

/// A connection of its own, for long reads that must not hold GRDB's writer (streaming a
/// query while the scan's writer thread records results). Used by one thread.
final class RawConnection {
    private var connection: OpaquePointer?
    private var statements: [OpaquePointer] = []

    init(path: String) throws {
        var db: OpaquePointer?
        let code = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil)
        guard code == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "error \(code)"
            if let db { sqlite3_close_v2(db) }
            throw CatalogueError.cannotOpen(path: path, reason: message)
        }
        connection = db
        sqlite3_busy_timeout(db, 30_000)
        sqlite3_exec(db, "PRAGMA cache_size = -4096", nil, nil, nil)
    }

    deinit {
        for s in statements { sqlite3_finalize(s) }
        if let connection { sqlite3_close_v2(connection) }
    }

    func prepare(_ sql: String) throws -> RawStatement {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(connection, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw DatabaseError(resultCode: .SQLITE_ERROR, message: String(cString: sqlite3_errmsg(connection)), sql: sql)
        }
        statements.append(statement)
        return RawStatement(handle: statement, connection: connection!)
    }
}
