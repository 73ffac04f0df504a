import Foundation
import GRDB
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

/// A file's metadata rows are written several to an INSERT, their texts bound in place
/// (`MetadataRowWriter`): every row must still hold exactly what the value says, in order.
@Suite("Metadata rows")
struct MetadataRowsTests {
    /// Values of every kind, with texts that need escaping, NUL, non-ASCII and empty ones.
    static func values(_ n: Int, origin: MetadataOrigin) -> [SourcedValue] {
        (0..<n).map { i -> SourcedValue in
            let fields = UnifiedField.allCases
            let field = fields[i % fields.count]
            let value: FieldValue
            switch field.kind {
            case .text: value = .text(i % 5 == 0 ? "" : "t\(i) \"quoted\" \\ \u{0}\u{7F}\n\u{2028} caf\u{E9} 😀")
            case .list: value = .list(i % 4 == 0 ? [] : ["k\(i)", "a,b", "\u{1}", ""])
            case .integer: value = .integer(i * 1000 - 7)
            case .gps: value = .gps(latitude: -33.8568 + Double(i) / 1e7, longitude: 151.2153)
            case .date: value = .date("2024-02-29T12:00:0\(i % 10)+01:00")
            }
            return SourcedValue(field: field, value: value, origin: origin, tag: "Tag\(i):\u{E9}", raw: i % 3 == 0 ? "" : "raw \(i)\u{0}")
        }
    }

    @Test("embedded values and a sidecar's, 1 to 40 per file, are stored in order, byte for byte",
          arguments: [1, 2, MetadataRowWriter.rowsPerStatement, MetadataRowWriter.rowsPerStatement + 1, 40])
    func rowsInOrder(count: Int) throws {
        let tree = try TestTree()
        let store = try SQLiteCatalogue(path: tree.catalogue)
        let silo = try #require(try store.registerSilos([tree.silo("s")]).first)
        let run = try store.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["s"])
        try store.beginWalk(runID: run)
        let stat = FileStat(size: 10, mtimeNs: 1_700_000_000_000_000_001, ctimeNs: 1, device: 42, inode: 1, linkCount: 1,
                            mode: 0o100644, uid: 1000, gid: 1000)
        var file = FileRow(siloID: silo.id, dir: RelativePath("d"), name: Array("p.jpg".utf8), stat: stat, sha256: nil, hashedAt: nil)
        var content = ContentInfo(format: .jpeg, width: 4, height: 3)
        content.values = Self.values(count, origin: .exif)
        content.preferred = (0..<count).map { $0 % 2 == 1 }
        file.content = content
        let sidecarStat = FileStat(size: 9, mtimeNs: 5, ctimeNs: 5, device: 42, inode: 9, linkCount: 1, mode: 0o100644, uid: 0, gid: 0)
        let sidecarValues = Self.values(count, origin: .sidecar)
        file.sidecars = [SidecarRecord(name: Array("p.jpg.xmp".utf8), stat: sidecarStat, form: .nameWithExtension, used: true,
                                       sha256: try SHA256Hasher.digest([1]), values: sidecarValues)]
        try store.apply([.upsert(file, replacing: nil)], runID: run)
        // Again, as a rescan's metadata of the same file (the replace path), after the first.
        let id = try #require(try store.pool.read { db in try Int64.fetchOne(db, sql: "SELECT id FROM file") })
        var again = content
        again.values = Array(content.values.reversed())
        again.preferred = Array(content.preferred.reversed())
        try store.apply([.content(id: id, again, mtimeNs: 77)], runID: run)

        let rows = try store.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT field, origin, hex(tag), hex(value), hex(raw), source, source_mtime_ns, preferred, typeof(value), typeof(raw)
                FROM metadata WHERE file_id = ? ORDER BY rowid
                """, arguments: [id])
        }
        func expected(_ v: SourcedValue, preferred: Bool, source: String?, mtime: Int64) -> [String?] {
            // Texts as the hex of their exact bytes (NUL included).
            [v.field.rawValue, v.origin.rawValue, Self.hex(v.tag), Self.hex(v.value.json), Self.hex(v.raw), source, String(mtime),
             preferred ? "1" : "0", "text", "text"]
        }
        let want = zip(sidecarValues, [Bool](repeating: false, count: count)).map {
            expected($0, preferred: $1, source: "d/p.jpg.xmp", mtime: 5)
        } + zip(again.values, again.preferred).map { expected($0, preferred: $1, source: nil, mtime: 77) }
        let got: [[String?]] = rows.map { row in
            (0..<10).map { i -> String? in
                let v = row[i] as DatabaseValue
                if v.isNull { return nil }
                if let n = Int64.fromDatabaseValue(v) { return String(n) }
                return String.fromDatabaseValue(v)
            }
        }
        try #require(got.count == want.count, "\(got.count) rows, expected \(want.count)")
        for (g, w) in zip(got, want) { #expect(g == w) }
    }

    /// Rows are held until 16 are pending, whichever files they belong to: a batch that adds
    /// files, re-reads one, forgets one and replaces another's sidecars between them (also a
    /// file added and re-read, or added and forgotten, in one batch) must leave each file
    /// exactly its own rows, in order, and no row of a forgotten file.
    @Test("rows held across the files of one batch land with their own files, around re-reads and removals")
    func rowsAcrossFiles() throws {
        let tree = try TestTree()
        let store = try SQLiteCatalogue(path: tree.catalogue)
        let silo = try #require(try store.registerSilos([tree.silo("s")]).first)
        let run = try store.beginRun(kind: .scan, hashMode: "full", options: "{}", silos: ["s"])
        try store.beginWalk(runID: run)
        func stat(_ inode: UInt64) -> FileStat {
            FileStat(size: 10, mtimeNs: 1_000 + Int64(inode), ctimeNs: 1, device: 42, inode: inode, linkCount: 1,
                     mode: 0o100644, uid: 0, gid: 0)
        }
        func file(_ name: String, _ inode: UInt64, values n: Int, origin: MetadataOrigin = .exif) -> FileRow {
            var row = FileRow(siloID: silo.id, dir: RelativePath("d"), name: Array(name.utf8), stat: stat(inode), sha256: nil, hashedAt: nil)
            var content = ContentInfo(format: .jpeg, width: 4, height: 3)
            content.values = Array(Self.values(n + Int(inode), origin: origin).suffix(n))
            content.preferred = (0..<n).map { ($0 + Int(inode)) % 3 == 0 }
            row.content = content
            return row
        }
        // First batch: a, b, c (7, 20 and 3 rows), so the second can refer to them.
        let a = file("a.jpg", 1, values: 7), b = file("b.jpg", 2, values: 20), c = file("c.jpg", 3, values: 3)
        try store.apply([.upsert(a, replacing: nil), .upsert(b, replacing: nil), .upsert(c, replacing: nil)], runID: run)
        let ids = try store.pool.read { db in
            try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT CAST(name AS TEXT), id FROM file").map { ($0[0] as String, $0[1] as Int64) })
        }
        let aID = try #require(ids["a.jpg"]), bID = try #require(ids["b.jpg"]), cID = try #require(ids["c.jpg"])
        // Second batch: new files around a re-read of a, the removal of b and c's sidecar.
        let d = file("d.jpg", 4, values: 5), e = file("e.jpg", 5, values: 13), f = file("f.jpg", 6, values: 0)
        var reread = ContentInfo(format: .jpeg, width: 4, height: 3)
        reread.values = Self.values(9, origin: .xmp)
        reread.preferred = (0..<9).map { $0 % 2 == 0 }
        let sidecarValues = Self.values(4, origin: .sidecar)
        let sidecar = SidecarRecord(name: Array("c.jpg.xmp".utf8), stat: stat(9), form: .nameWithExtension, used: true,
                                    sha256: try SHA256Hasher.digest([9]), values: sidecarValues)
        try store.apply([
            .upsert(d, replacing: nil),
            .content(id: aID, reread, mtimeNs: 77),
            .upsert(e, replacing: nil),
            .remove(StoredEntry(id: bID, name: Array("b.jpg".utf8), stat: stat(2), hasHash: false), siloID: silo.id, dir: RelativePath("d"), reason: .missing),
            .sidecars(fileID: cID, siloID: silo.id, dir: RelativePath("d"), [sidecar]),
            .upsert(f, replacing: nil),
        ], runID: run)

        func rows(_ id: Int64) throws -> [[String?]] {
            try store.pool.read { db in
                try Row.fetchAll(db, sql: "SELECT field, origin, hex(tag), hex(value), hex(raw), source, source_mtime_ns, preferred FROM metadata WHERE file_id = ? ORDER BY rowid",
                                 arguments: [id]).map { row in
                    (0..<8).map { i -> String? in
                        let v = row[i] as DatabaseValue
                        if v.isNull { return nil }
                        if let n = Int64.fromDatabaseValue(v) { return String(n) }
                        return String.fromDatabaseValue(v)
                    }
                }
            }
        }
        func expected(_ values: [SourcedValue], _ preferred: [Bool]?, source: String? = nil, mtime: Int64) -> [[String?]] {
            values.enumerated().map { i, v in
                [v.field.rawValue, v.origin.rawValue, Self.hex(v.tag), Self.hex(v.value.json), Self.hex(v.raw), source, String(mtime),
                 (preferred?[i] ?? false) ? "1" : "0"]
            }
        }
        let ids2 = try store.pool.read { db in
            try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT CAST(name AS TEXT), id FROM file").map { ($0[0] as String, $0[1] as Int64) })
        }
        #expect(ids2["b.jpg"] == nil)
        #expect(try rows(aID) == expected(reread.values, reread.preferred, mtime: 77))
        #expect(try rows(bID).isEmpty)
        #expect(try rows(cID) == expected(c.content!.values, c.content!.preferred, mtime: c.stat.mtimeNs)
                + expected(sidecarValues, nil, source: "d/c.jpg.xmp", mtime: 9 + 1_000))
        for (row, name) in [(d, "d.jpg"), (e, "e.jpg"), (f, "f.jpg")] {
            let id = try #require(ids2[name])
            #expect(try rows(id) == expected(row.content!.values, row.content!.preferred, mtime: row.stat.mtimeNs), "\(name)")
        }
        func count() throws -> Int { try store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM metadata") ?? -1 } }
        #expect(try count() == 34)   // a 9, c 3 + 4, d 5, e 13

        // Third batch: a file re-read and a file forgotten in the very batch that added them,
        // while their first rows are still held. SQLite gives a new row the largest id plus one.
        let next = try #require(try store.pool.read { db in try Int64.fetchOne(db, sql: "SELECT max(id) FROM file") }) + 1
        let g = file("g.jpg", 7, values: 4), h = file("h.jpg", 8, values: 6)
        try store.apply([
            .upsert(g, replacing: nil),
            .content(id: next, reread, mtimeNs: 78),
            .upsert(h, replacing: nil),
            .remove(StoredEntry(id: next + 1, name: Array("h.jpg".utf8), stat: stat(8), hasHash: false), siloID: silo.id, dir: RelativePath("d"), reason: .missing),
        ], runID: run)
        let ids3 = try store.pool.read { db in
            try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT CAST(name AS TEXT), id FROM file").map { ($0[0] as String, $0[1] as Int64) })
        }
        #expect(ids3["g.jpg"] == next && ids3["h.jpg"] == nil)
        #expect(try rows(next) == expected(reread.values, reread.preferred, mtime: 78))
        #expect(try rows(next + 1).isEmpty)
        #expect(try count() == 43)   // and g 9
        let orphans = try store.pool.read { db in try Row.fetchAll(db, sql: "PRAGMA foreign_key_check(metadata)") }
        #expect(orphans.isEmpty)
    }

    static func hex(_ s: String) -> String { s.utf8.map { String(format: "%02X", $0) }.joined() }

    @Test("FieldValue.appendJSON writes exactly json's bytes")
    func appendJSON() {
        var out: [UInt8] = [0x41]
        for v in Self.values(40, origin: .xmp).map(\.value) + [.list([]), .list([""]), .text(""), .integer(.min), .gps(latitude: 0, longitude: -0.0)] {
            out.removeAll(keepingCapacity: true)
            v.appendJSON(to: &out)
            #expect(out == Array(v.json.utf8), "\(v)")
        }
    }
}
