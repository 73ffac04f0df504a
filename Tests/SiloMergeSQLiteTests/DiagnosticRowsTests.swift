import Foundation
import GRDB
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

/// Diagnostics are bound through SQLite's C API (`RawStatement`): every column must hold what
/// the diagnostic says, its type too — a path that is not UTF-8 as TEXT with its own bytes, an
/// absent silo, path or errno as NULL, a message with NUL and non-ASCII whole.
@Suite("Diagnostic rows")
struct DiagnosticRowsTests {
    @Test("each field stored exactly: texts as their bytes, absent ones as NULL, errno as an integer")
    func storedExactly() throws {
        let tree = try TestTree()
        let store = try SQLiteCatalogue(path: tree.catalogue)
        _ = try store.registerSilos([tree.silo("s")])
        let run = try store.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["s"])
        let badName: [UInt8] = Array("dir/caf".utf8) + [0xE9] + Array(".jpg".utf8)
        let diagnostics = [
            Diagnostic(.warning, .unreadable, silo: "s", path: RelativePath(bytes: badName), errno: EACCES,
                       message: "cannot read it: Permission denied \u{0} caf\u{E9} 😀"),
            Diagnostic(.note, .metadata, silo: nil, path: nil, errno: nil, message: ""),
        ]
        try store.record(diagnostics, runID: run)
        let rows = try store.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT run_id, severity, code, silo, typeof(silo), CAST(path AS BLOB), typeof(path), errno, typeof(errno),
                       CAST(message AS BLOB), typeof(message), length(CAST(message AS BLOB)) FROM diagnostic ORDER BY id
                """)
        }
        #expect(rows.count == 2)
        let first = rows[0], second = rows[1]
        #expect(first[0] as Int64 == run)
        #expect(first[1] as String == "warning" && first[2] as String == "unreadable")
        #expect(first[3] as String == "s" && first[4] as String == "text")
        #expect((first[5] as Data?).map([UInt8].init) == badName && first[6] as String == "text")
        #expect(first[7] as Int64 == Int64(EACCES) && first[8] as String == "integer")
        #expect((first[9] as Data?).map([UInt8].init) == Array(diagnostics[0].message.utf8) && first[10] as String == "text")
        #expect(second[1] as String == "note" && second[2] as String == "metadata")
        #expect(second[4] as String == "null" && second[6] as String == "null" && second[8] as String == "null")
        #expect(second[10] as String == "text" && second[11] as Int64 == 0)
    }

    @Test("text read from files that holds U+0000 is stored whole, not cut at the NUL (a rule's detail)")
    func textWithNULStoredWhole() throws {
        let tree = try TestTree()
        let store = try SQLiteCatalogue(path: tree.catalogue)
        let silo = try #require(try store.registerSilos([tree.silo("s")]).first)
        let run = try store.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["s"])
        try store.beginWalk(runID: run)
        let detail = "rule *\u{0}.tmp caf\u{E9}"
        try store.apply([.uncatalogued(siloID: silo.id, dir: .root,
                                       [UncataloguedEntry(name: Array("q".utf8), kind: .regular, reason: .excluded, detail: detail)],
                                       replace: true)], runID: run)
        let stored = try store.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT CAST(detail AS BLOB), typeof(detail) FROM uncatalogued")
        }
        let row = try #require(stored)
        #expect((row[0] as Data?).map([UInt8].init) == Array(detail.utf8))
        #expect(row[1] as String == "text")
    }
}
