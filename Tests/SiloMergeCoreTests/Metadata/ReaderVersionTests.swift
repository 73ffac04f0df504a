import Foundation
import GRDB
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

@Suite("Metadata: rescans after a reader upgrade")
struct MetadataReaderVersionTests {
    @Test("a file whose metadata an older reader read is read again by the next scan, without a rehash; then left alone")
    func olderReaderReadAgain() throws {
        let tree = try TestTree()
        try tree.write("s/DSC_0001.NEF", try MetadataFixture.bytes("raw/nikon-like.nef"))
        try tree.write("s/plain.txt", "nothing to read")
        let (first, store) = try scan(tree, [tree.silo("s")])
        #expect(first.status == .ok)
        func row() throws -> Row? {
            try store.pool.read { db in try Row.fetchOne(db, sql: "SELECT format, width, height, metadata_read, image_sha256 FROM file WHERE name = 'DSC_0001.NEF'") }
        }
        #expect(try row()?["format"] as String? == "nef")
        #expect(try row()?["width"] as Int? == 64)
        #expect(try row()?["metadata_read"] as Int? == MetadataReader.version)
        // What version 1 of the readers left: a NEF taken for a TIFF the size of its thumbnail,
        // no EXIF values, no image hash.
        try store.pool.write { db in
            try db.execute(sql: "UPDATE file SET metadata_read = 1, format = 'tiff', width = 16, height = 12, image_sha256 = NULL")
            try db.execute(sql: "DELETE FROM metadata WHERE origin = 'exif'")
        }
        let read = Locked<[String]>([])
        let hooks = ScanEngine.TestHooks(beforeRead: { _, path in read.withLock { $0.append(path.display) }; return nil })
        let (second, _) = try scan(tree, [tree.silo("s")], hooks: hooks)
        #expect(second.counts.filesHashed == 0)
        #expect(second.counts.filesUnchanged == 2)
        #expect(read.value.sorted() == ["DSC_0001.NEF", "plain.txt"])
        #expect(try row()?["format"] as String? == "nef")
        #expect(try row()?["width"] as Int? == 64 && (try row()?["height"] as Int?) == 48)
        #expect((try row()?["image_sha256"] as String?)?.count == 64)
        #expect(try row()?["metadata_read"] as Int? == MetadataReader.version)
        let exif = try store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM metadata WHERE origin = 'exif'") }
        #expect((exif ?? 0) >= 3)
        // Read by the current reader: the next scan opens nothing.
        read.withLock { $0.removeAll() }
        _ = try scan(tree, [tree.silo("s")], hooks: hooks)
        #expect(read.value.isEmpty)
    }
}
