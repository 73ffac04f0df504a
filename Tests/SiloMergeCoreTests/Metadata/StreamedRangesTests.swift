import Foundation
import Testing
@testable import SiloMergeCore
#if canImport(Glibc)
import Glibc
#endif
import SiloMergeTestSupport

/// The PNG chunk headers recorded during the hashing pass (`PNGChunkRecorder`) must be exactly
/// the file's bytes at their offsets, whatever the read sizes, and reading metadata through
/// them (`PrimedByteSource`) must give what reading the file gives, without reading it again.
@Suite struct StreamedRangesTests {
    static func record(_ bytes: [UInt8], pieces: Int) -> PNGChunkRecorder {
        var r = PNGChunkRecorder()
        bytes.withUnsafeBytes { all in
            var offset = 0
            while offset < all.count {
                let n = min(pieces, all.count - offset)
                r.feed(UnsafeRawBufferPointer(rebasing: all[offset..<(offset + n)]), at: Int64(offset))
                offset += n
            }
        }
        return r
    }

    /// The chunks of a PNG as a plain walk sees them: (offset, type, length).
    static func chunks(_ b: [UInt8]) -> [(Int, String, Int)] {
        var out: [(Int, String, Int)] = [], pos = 8
        while pos + 8 <= b.count {
            let length = Int(b.u32(at: pos, bigEndian: true)!)
            let type = String(decoding: b[(pos + 4)..<(pos + 8)], as: UTF8.self)
            out.append((pos, type, length))
            if type == "IEND" { break }
            pos += 12 + length
        }
        return out
    }

    /// A PNG of many IDAT chunks with text before and after the image data, as ImageMagick
    /// writes them (its `date:create` / `date:modify` follow the IDATs), plus every PNG fixture.
    static func pngs() throws -> [(String, [UInt8])] {
        var out: [(String, [UInt8])] = []
        let fixtures = ["metadata/png/imagemagick-profiles.png", "metadata/png/animated.png", "metadata/png/ancillary.png",
                        "metadata/png/xmp-stale-tail.png", "metadata/png/text-keywords.png", "similar/a-adam7.png",
                        "similar/a-16bit.png", "marketing/logo.png"]
        for f in fixtures { out.append((f, [UInt8](try Data(contentsOf: Fixture.root.appendingPathComponent(f))))) }
        let dir = try TestTree()
        let made = dir.url("plasma.png").path
        let tool = ["/usr/bin/magick", "/usr/bin/convert"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let magick = try #require(tool, "ImageMagick is needed to make a PNG of many IDAT chunks")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: magick)
        p.arguments = ["-size", "900x700", "-seed", "7", "plasma:", "-set", "comment", "harbour at dusk",
                       "-define", "png:compression-level=0", made]
        try p.run(); p.waitUntilExit()
        try #require(p.terminationStatus == 0)
        out.append(("plasma.png", [UInt8](try Data(contentsOf: URL(fileURLWithPath: made)))))
        return out
    }

    @Test func recordsEveryHeaderAndSmallChunkWhateverThePieces() throws {
        for (name, bytes) in try Self.pngs() {
            let walk = Self.chunks(bytes)
            for pieces in [1, 3, 8, 13, 4096, 65536, bytes.count] {
                let r = Self.record(bytes, pieces: pieces)
                #expect(r.ranges.count == walk.count, "\(name), pieces of \(pieces)")
                for (range, chunk) in zip(r.ranges, walk) {
                    #expect(range.offset == Int64(chunk.0), "\(name)")
                    let image = ["IDAT", "fdAT"].contains(chunk.1)
                    #expect(range.bytes.count == (image ? 8 : 12 + chunk.2), "\(name) \(chunk.1)")
                    #expect(range.bytes[...] == bytes[chunk.0..<(chunk.0 + range.bytes.count)], "\(name) \(chunk.1) bytes")
                }
            }
        }
    }

    @Test func metadataReadThroughTheRecordIsTheSameWithoutRereading() throws {
        let dir = try TestTree()
        for (name, bytes) in try Self.pngs() {
            let path = dir.url("f.png").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let fd = open(path, O_RDONLY)
            try #require(fd >= 0)
            defer { close(fd) }
            let plain = FileByteSource(fd: fd, size: Int64(bytes.count))
            let expected = MetadataReader.read(plain)
            let head = Array(bytes.prefix(65536))
            head.withUnsafeBytes { head in
                let file = FileByteSource(fd: fd, size: Int64(bytes.count), lending: head)
                let primed = PrimedByteSource(file, known: Self.record(bytes, pieces: 65536).ranges)
                let got = MetadataReader.read(primed)
                #expect(got == expected, "\(name)")
                #expect(file.readCalls == 0, "\(name): \(file.readCalls) reads of the file again")
                // The scan's whole path: inspect with the record gives what inspect without it gives.
                let a = ContentInspector.inspect(fd: fd, size: Int64(bytes.count), imageHashing: .prefix)
                let b = ContentInspector.inspect(fd: fd, size: Int64(bytes.count), imageHashing: .prefix,
                                                 head: head, known: Self.record(bytes, pieces: 65536).ranges)
                #expect(a == b, "\(name)")
            }
        }
    }

    /// Hostile chunk structures: recording stops, and the reader reads on from the file with
    /// the same result.
    @Test func hostileStructuresStopRecording() throws {
        var png = PNGReader.signature
        func chunk(_ type: String, _ data: [UInt8], length: UInt32? = nil) {
            let n = length ?? UInt32(data.count)
            png += [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + Array(type.utf8) + data + [0, 0, 0, 0]
        }
        chunk("IHDR", [0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0])
        // More zero-length chunks than are ever recorded, then a text chunk after them.
        for _ in 0..<(PNGChunkRecorder.maxChunks + 10) { chunk("zzZz", []) }
        chunk("tEXt", Array("Title\u{0}Late caption".utf8))
        chunk("IEND", [])
        let r = Self.record(png, pieces: 1 << 16)
        #expect(r.ranges.count == PNGChunkRecorder.maxChunks)
        let expected = MetadataReader.read(DataByteSource(png))
        #expect(expected.values.contains { $0.field == .title })
        let got = MetadataReader.read(PrimedByteSource(DataByteSource(png), known: r.ranges))
        #expect(got == expected)

        // A length no PNG can have: nothing past it is recorded.
        var bad = PNGReader.signature
        bad += [0xFF, 0xFF, 0xFF, 0xFF] + Array("IDAT".utf8) + [UInt8](repeating: 7, count: 64)
        #expect(Self.record(bad, pieces: 5).ranges.isEmpty)
    }

    /// Reads that straddle a recorded range and the file, or fall between ranges, or run past
    /// the end, are answered from the file exactly as without the record.
    @Test func readsOutsideTheRecordGoToTheFile() throws {
        let bytes = try #require(try Self.pngs().last?.1)
        let source = PrimedByteSource(DataByteSource(bytes), known: Self.record(bytes, pieces: 4096).ranges)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let offset = Int64.random(in: -4...Int64(bytes.count + 4), using: &rng)
            let count = Int.random(in: 0...70_000, using: &rng)
            let plain = try DataByteSource(bytes).read(at: offset, count: count)
            #expect(try source.read(at: offset, count: count) == plain)
            #expect(try source.withBytes(at: offset, count: count) { Array($0) } == plain)
        }
    }
}
