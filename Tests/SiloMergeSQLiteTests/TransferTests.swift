import Foundation
import GRDB
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

@Suite("Catalogue transfer: the record stream, shard merges and copies")
struct TransferTests {
    /// Two silos with a shared content, a name that is not UTF-8, an XMP sidecar, and a check
    /// that found a file missing.
    func scanned(_ tree: TestTree) throws -> SQLiteCatalogue {
        try tree.write("a/photo.jpg", bytes(3000, seed: 7))
        try tree.write("a/photo.jpg.xmp", """
            <x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
            <rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title><rdf:Alt><rdf:li xml:lang="x-default">Hero</rdf:li></rdf:Alt></dc:title></rdf:Description>
            </rdf:RDF></x:xmpmeta>
            """)
        try tree.write("a/gone.txt", "soon gone")
        try tree.write("b/copy.jpg", bytes(3000, seed: 7))
        try tree.writeRaw(folder: "b", name: [0x63, 0x61, 0x66, 0xE9], Array("latin-1 name".utf8))
        let (_, store) = try scan(tree, [tree.silo("a"), tree.silo("b", priority: 2)])
        try tree.remove("a/gone.txt")
        _ = try scan(tree, [tree.silo("a"), tree.silo("b", priority: 2)])
        return store
    }

    func rowCount(_ store: SQLiteCatalogue, _ table: TransferTable) throws -> Int {
        try store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table.name)") ?? 0 }
    }

    @Test("the stream holds every row of every table, tables in dependency order, each file followed by its sidecars and metadata")
    func streamOrderAndCompleteness() throws {
        let tree = try TestTree()
        let store = try scanned(tree)
        var records: [TransferRecord] = []
        try store.exportRecords { records.append($0) }
        for table in TransferTable.allCases {
            #expect(records.filter { $0.table == table }.count == (try rowCount(store, table)), "\(table)")
        }
        // Tables come in transfer order (sidecars and metadata within the files).
        let order = records.map(\.table).map { [.sidecar, .metadata].contains($0) ? TransferTable.file : $0 }
        let ranks = order.map { TransferTable.allCases.firstIndex(of: $0)! }
        #expect(ranks == ranks.sorted())
        // Each sidecar and metadata value follows its own file.
        var current: Int64? = nil
        for r in records {
            if r.table == .file { current = r["id"].integer }
            if r.table == .sidecar || r.table == .metadata { #expect(r["file_id"].integer == current) }
        }
        #expect(records.contains { $0.table == .sidecar })
        #expect(records.contains { $0.table == .metadata })
        #expect(records.contains { $0.table == .change && $0["kind"].text == "missing" })
        // Paths as bytes, digests as digests.
        #expect(records.contains { $0.table == .file && $0["name"] == .bytes([0x63, 0x61, 0x66, 0xE9]) })
        let photo = records.first { $0.table == .file && $0["name"] == .bytes(Array("photo.jpg".utf8)) }
        #expect(photo?["sha256"] == .digest(try SHA256Hasher.digest(bytes(3000, seed: 7))))
    }

    @Test("a shard merged into an empty catalogue re-exports the same rows but ids; merged again, nothing changes")
    func mergeIsLosslessAndIdempotent() throws {
        let tree = try TestTree()
        let shard = try scanned(tree)
        let dest = try SQLiteCatalogue(path: tree.url("dest.sqlite").path, access: .create)
        let origin = try #require(try shard.shardIdentity())
        let first = try ShardMerge(shard: shard, origin: origin).merge(into: dest)
        #expect(first.runs == 2 && first.silosAdded == 2 && first.files == 3 && first.sidecars == 1)
        // Rows equal but for ids (a file gone from the shard left a gap in its ids, the
        // destination's have none).
        func rows(_ c: SQLiteCatalogue, _ tables: [TransferTable]) throws -> [TransferRecord] {
            var out: [TransferRecord] = []
            try c.exportRecords { r in
                guard tables.contains(r.table) else { return }
                var r = r
                for (i, column) in r.table.columns.enumerated() where [.key, .file].contains(column.kind) { r.values[i] = .null }
                out.append(r)
            }
            return out
        }
        let scanTables: [TransferTable] = [.run, .silo, .file, .sidecar, .metadata, .change, .diagnostic, .uncatalogued]
        #expect(try rows(dest, scanTables) == rows(shard, scanTables))
        #expect(try rowCount(dest, .shardRun) == 2 && rowCount(dest, .shardSilo) == 2)
        #expect(try groups(dest) == groups(shard))

        let again = try ShardMerge(shard: shard, origin: origin).merge(into: dest)
        #expect(again.runs == 0 && again.runsAlreadyMerged == 2 && again.files == 0 && again.silosUnchanged == 2)
        #expect(try rows(dest, scanTables + [.shardRun, .shardSilo]).count == rows(shard, scanTables).count + 4)
    }

    @Test("two shards claiming one silo with other roots are refused before anything is written, naming both")
    func conflictingClaims() throws {
        let tree = try TestTree()
        try tree.write("x/one.txt", "1")
        try tree.write("y/two.txt", "2")
        let a = try SQLiteCatalogue(path: tree.url("a.sqlite").path, access: .create)
        _ = try ScanEngine(store: a).scan([SiloDefinition(name: "s", root: FilePath(tree.url("x").path), priority: 1)], options: ScanOptions())
        let b = try SQLiteCatalogue(path: tree.url("b.sqlite").path, access: .create)
        _ = try ScanEngine(store: b).scan([SiloDefinition(name: "s", root: FilePath(tree.url("y").path), priority: 1)], options: ScanOptions())
        let silosOf = { (c: SQLiteCatalogue) in try c.leadingRecords(before: .file).filter { $0.table == .silo } }
        #expect(throws: TransferError.self) {
            try ShardMerge.checkClaims(destination: [], shards: [], label: "dest", claims: [("a", try silosOf(a)), ("b", try silosOf(b))])
        }
        // Merged one after the other, the second is refused in its transaction: the first stays.
        let dest = try SQLiteCatalogue(path: tree.url("dest.sqlite").path, access: .create)
        _ = try ShardMerge(shard: a, origin: try #require(try a.shardIdentity())).merge(into: dest)
        let error = #expect(throws: TransferError.self) {
            try ShardMerge(shard: b, origin: try #require(try b.shardIdentity())).merge(into: dest)
        }
        #expect(error.map { "\($0)" }?.contains("silo 's' is claimed twice: shard \(a.location.display) holds it as \(tree.url("x").path)") == true)
        #expect(try dest.runs(limit: nil).count == 1)
        #expect(try groups(dest).isEmpty && (try dest.silos().map(\.root.display)) == [tree.url("x").path])
    }

    @Test("a copy keeps every row and id; over an earlier copy it brings it up to date")
    func copy() throws {
        let tree = try TestTree()
        let src = try scanned(tree)
        let dest = try SQLiteCatalogue(path: tree.url("copy.sqlite").path, access: .create)
        _ = try CatalogueCopy.copy(from: src, to: dest)
        func all(_ c: SQLiteCatalogue) throws -> [TransferRecord] {
            var out: [TransferRecord] = []
            try c.exportRecords { out.append($0) }
            return out
        }
        #expect(try all(dest) == all(src))
        _ = try scan(tree, [tree.silo("a")])
        _ = try CatalogueCopy.copy(from: src, to: dest)
        #expect(try all(dest) == all(src))
    }
}
