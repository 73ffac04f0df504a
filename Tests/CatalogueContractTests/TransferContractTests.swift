import Foundation
import Testing
import SiloMergeCore
import SiloMergePostgres
import SiloMergeSQLite
import SiloMergeTestSupport

/// Catalogue transfers between backends (`silomerge catalogue copy` and `merge`): what one
/// backend exports, another imports row for row.
@Suite("Catalogue transfer across backends")
struct TransferContractTests {
    func rows(_ c: any CatalogueTransfer) throws -> [TransferRecord] {
        var out: [TransferRecord] = []
        try c.exportRecords { out.append($0) }
        return out
    }

    @Test("SQLite → PostgreSQL → SQLite: every row comes back as it was, names that are not UTF-8 and digests included",
          .enabled(if: TestCatalogues.postgresServer != nil, "\(TestCatalogues.postgresSkipReason)"))
    func roundTripThroughPostgres() throws {
        let tree = try TestTree()
        try tree.write("a/photo.jpg", bytes(3000, seed: 7))
        try tree.write("b/copy.jpg", bytes(3000, seed: 7))
        try tree.writeRaw(folder: "b", name: [0x63, 0x61, 0x66, 0xE9], Array("latin-1 name".utf8))
        let (_, source) = try scan(tree, [tree.silo("a"), tree.silo("b", priority: 2)])
        let pg = try PostgresCatalogue(url: try TestCatalogues.postgresURL(for: tree), access: .create)
        _ = try CatalogueCopy.copy(from: source, to: pg)
        let back = try SQLiteCatalogue(path: tree.url("back.sqlite").path, access: .create)
        _ = try CatalogueCopy.copy(from: pg, to: back)
        let original = try rows(source), copied = try rows(pg), returned = try rows(back)
        #expect(copied == original)
        #expect(returned == original)
        #expect(original.contains { $0.table == .file && $0["name"] == .bytes([0x63, 0x61, 0x66, 0xE9]) })
        // Copied again: the same.
        _ = try CatalogueCopy.copy(from: source, to: pg)
        #expect(try rows(pg) == original)
    }
}
