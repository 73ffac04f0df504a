import Foundation
import Testing
@testable import SiloMergeCore

/// A JPEG's EXIF segment is parsed where it lies in the file (no copy), so the TIFF parser's
/// source goes on past the block: it must read exactly what it reads from a copy of the block
/// alone, whatever the block's length, never a byte past its end.
@Suite("Metadata: EXIF read in place reads as a copy of its block")
struct InPlaceEXIFTests {
    /// The EXIF blocks (after "Exif\0\0") of every JPEG in Fixtures/, written by exiftool,
    /// ImageMagick and Python.
    static func exifBlocks() throws -> [(name: String, block: [UInt8])] {
        var out: [(String, [UInt8])] = []
        for item in Fixture.files(extensions: ["jpg", "jpeg"]) {
            let bytes = try Fixture.bytes(item)
            var pos = 2
            while pos + 4 <= bytes.count, bytes[pos] == 0xFF {
                let marker = bytes[pos + 1]
                if marker == 0xDA || marker == 0xD9 { break }
                let length = Int(bytes[pos + 2]) << 8 | Int(bytes[pos + 3])
                guard length >= 2, pos + 2 + length <= bytes.count else { break }
                let data = Array(bytes[(pos + 4)..<(pos + 2 + length)])
                if marker == 0xE1, data.starts(with: Array("Exif".utf8) + [0, 0]) { out.append((item, Array(data[6...]))) }
                pos += 2 + length
            }
        }
        return out.sorted { $0.0 < $1.0 }
    }

    @Test("every prefix of every fixture's EXIF block: in place, with other bytes after it, reads as the prefix alone")
    func prefixesAgree() throws {
        let blocks = try Self.exifBlocks()
        #expect(blocks.count >= 5, "\(blocks.map(\.name))")
        // What follows the block in the file: bytes that parse as plausible IFD counts and
        // offsets, the worst case for a read that runs past the end.
        let after = [UInt8](repeating: 0x01, count: 4096)
        var compared = 0
        for (name, block) in blocks {
            var lengths = Set(stride(from: 0, through: min(block.count, 600), by: 1))
            lengths.formUnion(stride(from: 600, through: block.count, by: 97))
            lengths.insert(block.count)
            for length in lengths.sorted() {
                let alone = EXIFReader.read(DataByteSource(Array(block.prefix(length))))
                let inPlace = EXIFReader.read(DataByteSource([0xFF, 0xD8] + block.prefix(length) + after), base: 2, length: Int64(length))
                #expect(inPlace.values == alone.values, "\(name) cut to \(length)")
                #expect(inPlace.problems == alone.problems, "\(name) cut to \(length): \(inPlace.problems) vs \(alone.problems)")
                compared += 1
            }
        }
        #expect(compared > 1000)
    }

    @Test("a JPEG's metadata is the same read from memory, through a file source lent its first KiB, and from a copy")
    func jpegReadersAgree() throws {
        // The whole reader over each fixture JPEG: from memory (the hashing buffer) and from a
        // file source lent only its first 1 KiB, the rest read with pread.
        var files = 0
        for item in Fixture.files(extensions: ["jpg"]) {
            let url = Fixture.url(item)
            let bytes = try [UInt8](Data(contentsOf: url))
            let memory = bytes.withUnsafeBytes { MetadataReader.read(BorrowedByteSource($0)) }
            let fd = open(url.path, O_RDONLY)
            try #require(fd >= 0)
            defer { close(fd) }
            let head = Array(bytes.prefix(1024))
            let file = head.withUnsafeBytes { MetadataReader.read(FileByteSource(fd: fd, size: Int64(bytes.count), lending: $0)) }
            #expect(memory == file, "\(item)")
            #expect(memory == MetadataReader.read(DataByteSource(bytes)), "\(item)")
            files += 1
        }
        #expect(files >= 5)
    }
}
