import Foundation
import Testing
@testable import SiloMergeCore

/// The JPEG image-data walk holds a token's bytes in its read buffer until the next marker
/// says whether they are hashed (copying them only when a refill would drop them). Tokens are
/// placed here across every buffer boundary (the reader reads 8, 16, 32, then 64 KiB at a
/// time) and the result checked against ExifTool's definition written out plainly: for one
/// baseline scan, every byte from the SOS marker (its header too) up to the last 0xFF before
/// EOI: stuffed bytes, restart markers and fill bytes included.
@Suite("JPEG image-data walk: held tokens across buffer refills")
struct JPEGScanWalkTests {
    /// A JPEG: SOI, an APP1 of `appSize` bytes, SOS with its header, `scan` as the entropy-coded
    /// data, then fill bytes and EOI. Returns it and where the SOS marker's 0xFF is.
    static func jpeg(appSize: Int, scan: [UInt8], fillBeforeEOI: Int) -> (bytes: [UInt8], sosAt: Int) {
        var b: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE1, UInt8((appSize + 2) >> 8), UInt8((appSize + 2) & 0xFF)]
        b += [UInt8](repeating: 0x41, count: appSize)
        let sosAt = b.count
        b += [0xFF, 0xDA, 0x00, 0x0C, 0x03, 0x01, 0x00, 0x02, 0x11, 0x03, 0x11, 0x00, 0x3F, 0x00]
        b += scan
        b += [UInt8](repeating: 0xFF, count: fillBeforeEOI)
        b += [0xFF, 0xD9]
        return (b, sosAt)
    }

    /// Entropy-coded data: random bytes whose every 0xFF is stuffed (FF 00), sometimes with
    /// fill bytes first, with restart markers (FF D0–D7) now and then.
    static func scan(length: Int, using g: inout some RandomNumberGenerator) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(length + 16)
        var rst: UInt8 = 0xD0
        while out.count < length {
            let r = Int.random(in: 0..<1000, using: &g)
            if r < 4 {
                out += [UInt8](repeating: 0xFF, count: Int.random(in: 1...3, using: &g)) + [rst]
                rst = rst == 0xD7 ? 0xD0 : rst + 1
            } else if r < 12 {
                out += [UInt8](repeating: 0xFF, count: Int.random(in: 1...4, using: &g)) + [0x00]
            } else {
                out.append(UInt8.random(in: 0...0xFE, using: &g))
            }
        }
        return out
    }

    @Test("random scans, tokens at every alignment to the refills: ExifTool's bytes, in place or copied")
    func heldTokensHashExactly() throws {
        var g = SystemRandomNumberGenerator()
        // Buffer boundaries fall 2 + 8 KiB, + 16, + 32, + 64... into the file.
        for round in 0..<120 {
            let length = round < 40 ? Int.random(in: 0...600, using: &g) : Int.random(in: 1_000...200_000, using: &g)
            let (bytes, sosAt) = Self.jpeg(appSize: Int.random(in: 0...9_000, using: &g),
                                               scan: Self.scan(length: length, using: &g),
                                               fillBeforeEOI: round % 3)
            // ExifTool: from the SOS marker up to the last 0xFF before EOI (FF D9 ends the file).
            let sha = try SHA256Hasher()
            try bytes[sosAt..<(bytes.count - 2)].withUnsafeBytes { try sha.update($0) }
            let expected = try sha.finalize()
            #expect(try ImageDataHash.compute(DataByteSource(bytes), format: .jpeg) == expected, "round \(round), \(bytes.count) bytes")
            // The layout recorded while hashing locates exactly those bytes.
            let recorded = try #require(try ImageDataHash.computeRecording(DataByteSource(bytes), format: .jpeg))
            #expect(recorded.digest == expected)
            if let layout = recorded.layout {
                #expect(layout.pieces == [ImageDataHash.Layout.Piece(offset: Int64(sosAt), count: Int64(bytes.count - 2 - sosAt))])
            }
            // The same walks over the file lent in memory (a file that came whole in the hashing
            // read), which read it in place rather than through the buffer: the same digests,
            // and the same refusal of a file cut before its EOI.
            let cut = Array(bytes.dropLast(1 + round % 7))
            let copied = try ImageDataHash.prefix(DataByteSource(bytes), format: .jpeg, bytes: ImageHashing.prefixBytes)
            try bytes.withUnsafeBytes { raw in
                let lent = BorrowedByteSource(raw)
                #expect(lent.contiguousBytes?.count == bytes.count)
                #expect(try ImageDataHash.compute(lent, format: .jpeg) == expected, "lent, round \(round)")
                let prefix = try ImageDataHash.prefix(lent, format: .jpeg, bytes: ImageHashing.prefixBytes)
                #expect(prefix?.digest == copied?.digest && prefix?.complete == copied?.complete, "lent prefix, round \(round)")
            }
            #expect(throws: MetadataProblem.self) { try ImageDataHash.compute(DataByteSource(cut), format: .jpeg) }
            try cut.withUnsafeBytes { raw in
                #expect(throws: MetadataProblem.self) { try ImageDataHash.compute(BorrowedByteSource(raw), format: .jpeg) }
            }
        }
    }
}
