import Foundation
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
        func row() throws -> ProbedFile? { try probe(store).files().first { $0.name == "DSC_0001.NEF" } }
        #expect(try row()?.format == "nef")
        #expect(try row()?.width == 64)
        #expect(try row()?.metadataRead == MetadataReader.version)
        // What version 1 of the readers left: a NEF taken for a TIFF the size of its thumbnail,
        // no EXIF values, no image hash.
        try probe(store).change(filesNamed: nil, FileRowChange(format: "tiff", width: 16, height: 12, metadataRead: 1,
                                                               imageSHA256: .some(nil)))
        try probe(store).deleteMetadata(origin: "exif")
        let read = Locked<[String]>([])
        let hooks = ScanEngine.TestHooks(beforeRead: { _, path in read.withLock { $0.append(path.display) }; return nil })
        let (second, _) = try scan(tree, [tree.silo("s")], hooks: hooks)
        #expect(second.counts.filesHashed == 0)
        #expect(second.counts.filesUnchanged == 2)
        #expect(read.value.sorted() == ["DSC_0001.NEF", "plain.txt"])
        #expect(try row()?.format == "nef")
        #expect(try row()?.width == 64 && (try row()?.height) == 48)
        // Its image-data prefix is taken (the whole image hash only where another file shares it).
        #expect((try row()?.imagePrefix)?.count == 64)
        #expect(try row()?.metadataRead == MetadataReader.version)
        let exif = try probe(store).metadata().filter { $0.origin == "exif" }.count
        #expect(exif >= 3)
        // Read by the current reader: the next scan opens nothing.
        read.withLock { $0.removeAll() }
        _ = try scan(tree, [tree.silo("s")], hooks: hooks)
        #expect(read.value.isEmpty)
    }
}
