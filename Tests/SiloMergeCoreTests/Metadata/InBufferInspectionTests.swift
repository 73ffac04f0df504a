import Foundation
import Testing
@testable import SiloMergeCore
#if canImport(Glibc)
import Glibc
#endif
import SiloMergeTestSupport

/// A file the hashing pass reads in one chunk has its metadata read from that chunk in memory
/// (`BorrowedByteSource`), a larger one through the file (`FileByteSource`, its head and PNG
/// chunk record): both must give exactly what reading the file afresh gives.
@Suite("Metadata read from the hashing buffer")
struct InBufferInspectionTests {
    func inspectAfresh(_ path: String) throws -> ContentInfo {
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        var st = stat()
        try #require(fstat(fd, &st) == 0)
        return ContentInspector.inspect(fd: fd, size: Int64(st.st_size), imageHashing: .prefix)
    }

    @Test func sameContentInTheBufferAndThroughTheFile() throws {
        let files = Fixture.files()
        #expect(files.count > 50)
        // Each fixture as it is, and with 300 KiB of other bytes after it (trailing data, which
        // every reader meets in real files): with a 1 MiB buffer both are read in one chunk and
        // inspected in memory; with the smallest, 128 KiB, the longer one is read in several
        // chunks and inspected through the file.
        let tree = try TestTree()
        let root = open(tree.path, O_RDONLY | O_DIRECTORY)
        try #require(root >= 0)
        defer { close(root) }
        let trailer = (0..<(300 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        let big = try FileHasher(bufferSize: 1 << 20), small = try FileHasher(bufferSize: 128 * 1024)
        var inBuffer = 0, throughFile = 0
        for (i, name) in files.enumerated() {
            let original = try [UInt8](Data(contentsOf: Fixture.root.appendingPathComponent(name)))
            for (variant, bytes) in [("as is", original), ("with a trailer", original + trailer)] {
                let copy = "f\(i)"
                _ = try tree.write(copy, bytes)
                let expected = try inspectAfresh(tree.url(copy).path)
                for hasher in [big, small] {
                    let result = hasher.hashFull(rootFD: root, path: RelativePath(copy), inspect: true)
                    guard case .success(let r) = result else { Issue.record("\(name): \(result)"); continue }
                    #expect(r.content == expected, "\(name) \(variant), buffer \(hasher.buffer.count)")
                    if r.stat.size <= Int64(hasher.buffer.count) { inBuffer += 1 } else { throughFile += 1 }
                }
            }
        }
        // Both paths were taken, on files of every format the fixtures hold.
        #expect(inBuffer > 100)
        #expect(throughFile > 50)
    }

    @Test func borrowedBytesReadLikeAnArray() throws {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try bytes.withUnsafeBytes { raw in
            let a = BorrowedByteSource(raw), b = DataByteSource(bytes)
            #expect(a.size == b.size)
            for (offset, count) in [(0, 10), (995, 10), (1000, 1), (-1, 4), (10, 0), (0, 5000), (999, 1)] as [(Int64, Int)] {
                #expect(try a.read(at: offset, count: count) == b.read(at: offset, count: count), "\(offset) \(count)")
                let lent = try a.withBytes(at: offset, count: count) { Array($0) }
                #expect(lent == (try b.read(at: offset, count: count)))
                // Both share their bounds logic, so also against the array itself: the bytes from
                // `offset`, at most `count`, none for a negative offset, an empty count or past
                // the end.
                let expected = offset < 0 || count <= 0 || offset >= Int64(bytes.count)
                    ? [] : Array(bytes[Int(offset)..<min(Int(offset) + count, bytes.count)])
                #expect(lent == expected, "\(offset) \(count)")
            }
        }
    }
}
