import Foundation
import Testing
@testable import SiloMergeCore
import SiloMergeTestSupport

/// The IFD reader keeps a directory as one sorted array of plain entries and reads one small
/// integer in place: these tests hold it to what the dictionary and the array-per-value
/// reading it replaced gave, on directories written both ways round.
@Suite("Metadata: TIFF directories read without an allocation per entry")
struct TIFFDirectoryTests {
    /// A TIFF header and one IFD holding `entries` (tag, type, count, 4 value bytes as stored),
    /// in the order given, in either byte order.
    static func tiff(bigEndian: Bool, _ entries: [(UInt16, UInt16, UInt32, [UInt8])]) -> [UInt8] {
        func u16(_ v: UInt16) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: UInt32) -> [UInt8] {
            let le = [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)]
            return bigEndian ? le.reversed() : le
        }
        var out: [UInt8] = bigEndian ? [0x4D, 0x4D] : [0x49, 0x49]
        out += u16(42) + u32(8) + u16(UInt16(entries.count))
        for (tag, type, count, value) in entries { out += u16(tag) + u16(type) + u32(count) + value }
        return out + u32(0)
    }

    @Test("tags out of order and repeated: each is found, and the first of a repeated tag wins", arguments: [false, true])
    func unsortedAndRepeated(bigEndian: Bool) throws {
        func short(_ v: UInt16) -> [UInt8] { (bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)]) + [0, 0] }
        let bytes = Self.tiff(bigEndian: bigEndian, [
            (0x0112, 3, 1, short(6)), (0x0100, 3, 1, short(640)), (0x0112, 3, 1, short(8)), (0x0101, 3, 1, short(480)),
        ])
        let p = TIFFParser(source: DataByteSource(bytes), block: "TIFF")
        let ifd0 = try #require(try p.header())
        let ifd = try #require(try p.ifd(at: ifd0, name: "IFD0"))
        #expect(ifd.entries.map(\.tag) == [0x0100, 0x0101, 0x0112])
        #expect(try p.integer(ifd[0x0112], name: "Orientation") == 6)
        #expect(try p.integer(ifd[0x0100], name: "ImageWidth") == 640)
        #expect(try p.integer(ifd[0x0101], name: "ImageLength") == 480)
        #expect(ifd[0x0110] == nil && ifd[0x0001] == nil && ifd[0xFFFF] == nil)
    }

    @Test("a damaged directory of 65535 entries, out of order and repeated: the first of each tag, in tag order", arguments: [false, true])
    func largestUnsortedDirectory(bigEndian: Bool) throws {
        // Tags from a small generator (many repeats, no order); each entry's LONG value is its
        // position, so the entry kept for a tag shows which of its copies won.
        var state: UInt32 = 0x2545_F491
        var entries: [(UInt16, UInt16, UInt32, [UInt8])] = []
        var firstPosition: [UInt16: UInt32] = [:]
        for i in 0..<UInt32(65_535) {
            state ^= state << 13; state ^= state >> 17; state ^= state << 5
            let tag = i == 65_534 ? 0xFFFF : UInt16(state % 20_000) * 3
            let v = [UInt8(i >> 24), UInt8(i >> 16 & 0xFF), UInt8(i >> 8 & 0xFF), UInt8(i & 0xFF)]
            entries.append((tag, 4, 1, bigEndian ? v : v.reversed()))
            if firstPosition[tag] == nil { firstPosition[tag] = i }
        }
        let p = TIFFParser(source: DataByteSource(Self.tiff(bigEndian: bigEndian, entries)), block: "TIFF")
        let ifd0 = try #require(try p.header())
        let ifd = try #require(try p.ifd(at: ifd0, name: "IFD0"))
        #expect(ifd.entries.map(\.tag) == firstPosition.keys.sorted())
        for e in ifd.entries {
            #expect(try p.integer(e, name: "t") == UInt64(firstPosition[e.tag]!), "tag \(e.tag)")
        }
        // The last position (65534) is kept: its tag occurs only there.
        #expect(try p.integer(ifd[0xFFFF], name: "t") == 65_534)
    }

    @Test("one inline integer read in place equals the general reading, for every integer type and both byte orders", arguments: [false, true])
    func inlineIntegers(bigEndian: Bool) throws {
        // BYTE, SHORT, LONG, IFD (read in place), and SBYTE, SSHORT, SLONG, a RATIONAL-sized
        // value out of line, and two SHORTs (read the general way).
        let values: [(UInt16, UInt16, UInt32, [UInt8])] = [
            (1, 1, 1, [0xFE, 9, 9, 9]), (2, 3, 1, [0xAB, 0xCD, 9, 9]), (3, 4, 1, [0xDE, 0xAD, 0xBE, 0xEF]),
            (4, 13, 1, [0, 0, 0x12, 0x34]), (5, 6, 1, [0xFF, 0, 0, 0]), (6, 8, 1, [0xFF, 0xFE, 0, 0]),
            (7, 9, 1, [0, 0, 0, 7]), (8, 3, 2, [0, 3, 0, 4]),
        ]
        let bytes = Self.tiff(bigEndian: bigEndian, values)
        let p = TIFFParser(source: DataByteSource(bytes), block: "TIFF")
        let ifd0 = try #require(try p.header())
        let ifd = try #require(try p.ifd(at: ifd0, name: "IFD0"))
        for (tag, _, _, _) in values {
            let e = try #require(ifd[tag])
            let general = try p.integers(e, name: "t\(tag)", limit: 64)?.first
            #expect(try p.integer(e, name: "t\(tag)") == general, "tag \(tag)")
        }
        // The values themselves, as the byte order reads them.
        #expect(try p.integer(ifd[1], name: "") == 0xFE)
        #expect(try p.integer(ifd[2], name: "") == (bigEndian ? 0xABCD : 0xCDAB))
        #expect(try p.integer(ifd[3], name: "") == (bigEndian ? 0xDEAD_BEEF : 0xEFBE_ADDE))
        #expect(try p.integer(ifd[4], name: "") == (bigEndian ? 0x1234 : 0x3412_0000))
        // A negative SBYTE is no integer (with a problem), as before.
        #expect(try p.integer(ifd[5], name: "") == nil)
        #expect(try p.integer(ifd[8], name: "") == (bigEndian ? 3 : 0x300))
        // The inline bytes are the stored bytes, in file order.
        #expect(ifd[3]?.inline == [0xDE, 0xAD, 0xBE, 0xEF])
        #expect(ifd[1]?.inline == [0xFE])
    }
}
