import Foundation
import Testing
@testable import SiloMergeCore
import SiloMergeTestSupport

/// A SHORT entry, and an ASCII one (out of line when longer than four bytes).
private func short(_ tag: UInt16, _ v: UInt16) -> DamagedTIFFTests.Entry { (tag, 3, 1, .inline([UInt8(v & 0xFF), UInt8(v >> 8)])) }
private func text(_ tag: UInt16, _ s: String) -> DamagedTIFFTests.Entry {
    let b = Array(s.utf8) + [0]
    return (tag, 2, UInt32(b.count), b.count <= 4 ? .inline(b) : .data(b))
}

/// A damaged TIFF directory is read as ExifTool reads it (Exif.pm, ProcessExif): what comes
/// before the damage is kept, and what ExifTool gives up on is not read either, so a mutated
/// or truncated file yields the values the reference reader shows and no others.
@Suite("Metadata: damaged TIFF directories read as ExifTool reads them")
struct DamagedTIFFTests {
    enum Value {
        /// At most four bytes, in the entry.
        case inline([UInt8])
        /// Out of line, in the file's data area after the directories.
        case data([UInt8])
        /// Out of line at this offset, whatever lies there.
        case at(UInt32)
    }
    typealias Entry = (tag: UInt16, type: UInt16, count: UInt32, value: Value)

    /// A little-endian TIFF: IFD0 at offset 8 holding `entries` in the order given, then IFD1
    /// (when given), then the out-of-line values.
    static func tiff(_ entries: [Entry], ifd1: [Entry] = []) -> [UInt8] {
        func u16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)] }
        let ifd1At = 8 + 2 + 12 * entries.count + 4
        let dataAt = UInt32(ifd1.isEmpty ? ifd1At : ifd1At + 2 + 12 * ifd1.count + 4)
        var data: [UInt8] = []
        func directory(_ list: [Entry], next: UInt32) -> [UInt8] {
            var out = u16(UInt16(list.count))
            for e in list {
                out += u16(e.tag) + u16(e.type) + u32(e.count)
                switch e.value {
                case .inline(let b): out += b + [UInt8](repeating: 0, count: 4 - b.count)
                case .data(let b):
                    out += u32(dataAt + UInt32(data.count))
                    data += b
                case .at(let offset): out += u32(offset)
                }
            }
            return out + u32(next)
        }
        let first = directory(entries, next: ifd1.isEmpty ? 0 : UInt32(ifd1At))
        let second = ifd1.isEmpty ? [] : directory(ifd1, next: 0)
        return [0x49, 0x49, 42, 0] + u32(8) + first + second + data
    }

    /// IFD0: width, height, a Make whose value lies past the end of the file, orientation 6,
    /// an Artist; IFD1: a thumbnail's width.
    static let damagedMake: [UInt8] = tiff([
        short(0x0100, 640), short(0x0101, 480), (0x010F, 2, 6, .at(0x00FF_FF00)), short(0x0112, 6), text(0x013B, "Ann Author"),
    ], ifd1: [short(0x0100, 160)])

    static func ifd0(_ bytes: [UInt8], block: String) throws -> (TIFFParser, TIFFIFD) {
        let p = TIFFParser(source: DataByteSource(bytes), block: block)
        let offset = try #require(try p.header())
        return (p, try #require(try p.ifd(at: offset, name: "IFD0")))
    }

    @Test("in a TIFF file, a value past the end of the file ends its directory there, and the IFDs chained after it")
    func pastTheEndOfTheFile() throws {
        let (p, ifd) = try Self.ifd0(Self.damagedMake, block: "TIFF")
        #expect(ifd.entries.map(\.tag) == [0x0100, 0x0101])
        #expect(ifd.next == 0, "IFD1 is not followed")
        #expect(p.problems.contains { $0.reason.contains("IFD0 entry 2 (Make, tag 0x10f)") && $0.reason.contains("the rest of IFD0 is not read") },
                "\(p.problems)")
        let m = MetadataReader.read(DataByteSource(Self.damagedMake))
        #expect(m.format == .tiff && m.width == 640 && m.height == 480)
        #expect(!m.values.contains { $0.field == .orientation || $0.field == .creator || $0.field == .make }, "\(m.values)")
    }

    @Test("in an EXIF block held whole, the same entry is skipped alone and the directory goes on")
    func pastTheEndOfABlock() throws {
        let (p, ifd) = try Self.ifd0(Self.damagedMake, block: "EXIF")
        #expect(ifd.entries.map(\.tag) == [0x0100, 0x0101, 0x0112, 0x013B])
        #expect(ifd.next != 0)
        #expect(try p.integer(ifd[0x0112], name: "Orientation") == 6)
        #expect(try p.string(ifd[0x013B], name: "Artist") == "Ann Author")
        #expect(p.problems.contains { $0.reason.contains("IFD0 entry 2 (Make, tag 0x10f): value offset 0xffff00 (+6 bytes) points past the end of the EXIF block; skipped") })
    }

    @Test("a value of more than 10 MiB past the end: skipped for a tag ExifTool does not know or holds for binary data, the end of the directory for one it reads")
    func largeValuePastTheEnd() throws {
        // Unknown; Model; JPEGTables (binary to ExifTool); DNG's UniqueCameraModel (text).
        for (tag, ends) in [(UInt16(0x3D16), false), (0x0110, true), (0x015B, false), (0xC614, true)] {
            let bytes = Self.tiff([short(0x0100, 640), (tag, 4, 3_000_000, .at(0x55)), short(0x0112, 6)])
            let (p, ifd) = try Self.ifd0(bytes, block: "TIFF")
            #expect(ifd.entries.map(\.tag) == (ends ? [0x0100] : [0x0100, 0x0112]), "tag \(tag)")
            #expect(p.problems.count == 1, "\(p.problems)")
        }
        // Such a skip is no damage: eleven of them do not end the directory (ExifTool gives no
        // warning for them either).
        var entries: [Entry] = [short(0x0100, 640)]
        for i in 0..<11 { entries.append((UInt16(0x3D00 + i), 4, 3_000_000, .at(0x55))) }
        entries.append(short(0x0112, 6))
        let (_, ifd) = try Self.ifd0(Self.tiff(entries), block: "TIFF")
        #expect(ifd.entries.map(\.tag) == [0x0100, 0x0112])
    }

    @Test("an EXIF block with another magic number than 42 is read, with a note; a TIFF file with one is not")
    func exifMagic() throws {
        var bytes = Self.tiff([short(0x0100, 640), short(0x0112, 6)])
        bytes[2] = 0x4A; bytes[3] = 0x13
        let (p, ifd) = try Self.ifd0(bytes, block: "EXIF")
        #expect(try p.integer(ifd[0x0112], name: "Orientation") == 6)
        #expect(p.problems.contains { $0.reason.contains("magic number is 4938, not 42; read as classic TIFF") }, "\(p.problems)")
        let file = TIFFParser(source: DataByteSource(bytes), block: "TIFF")
        #expect(try file.header() == nil)
    }

    @Test("a text tag stored as integers reads as their numbers, as ExifTool shows them; as a rational it is no text")
    func textAsIntegers() throws {
        let bytes = Self.tiff([(0x010E, 4, 1, .inline([0xF7, 0x48, 0, 0])), (0x013B, 8, 2, .inline([0xFF, 0xFF, 7, 0])),
                               (0x8298, 5, 1, .data([1, 0, 0, 0, 2, 0, 0, 0]))])
        let (p, ifd) = try Self.ifd0(bytes, block: "TIFF")
        #expect(try p.string(ifd[0x010E], name: "ImageDescription") == "18679")
        #expect(try p.string(ifd[0x013B], name: "Artist") == "-1 7")
        #expect(try p.string(ifd[0x8298], name: "Copyright") == nil)
        #expect(p.problems.map(\.reason) == ["Copyright: expected text, found type 5"])
        let m = MetadataReader.read(DataByteSource(bytes))
        #expect(m.values.contains { $0.field == .description && $0.value == .text("18679") })
    }

    @Test("an unknown type in the first entry makes the whole directory garbage; later, only that entry is skipped")
    func unknownTypes() throws {
        let first = Self.tiff([(0x00FE, 99, 1, .inline([0, 0, 0, 0])), short(0x0100, 640), short(0x0112, 6)], ifd1: [short(0x0100, 1)])
        let (p1, ifd1) = try Self.ifd0(first, block: "TIFF")
        #expect(ifd1.entries.isEmpty && ifd1.next == 0)
        #expect(p1.problems.contains { $0.reason.contains("IFD0 entry 0 (SubfileType, tag 0xfe): unknown type 99; the directory is damaged") })

        let later = Self.tiff([short(0x0100, 640), short(0x0101, 480), (0x0103, 99, 1, .inline([1, 0, 0, 0])), short(0x0112, 6)])
        let (p2, ifd2) = try Self.ifd0(later, block: "TIFF")
        #expect(ifd2.entries.map(\.tag) == [0x0100, 0x0101, 0x0112])
        #expect(p2.problems.contains { $0.reason.contains("IFD0 entry 2 (Compression, tag 0x103): unknown type 99; skipped") })

        // Exif 3.0's UTF-8 type (129) is a known type, first entry or not.
        let utf8 = Self.tiff([(0x013B, 129, 7, .data(Array("Zoë A\0".utf8))), short(0x0112, 6)])
        let (p4, ifd4) = try Self.ifd0(utf8, block: "TIFF")
        #expect(ifd4.entries.map(\.tag) == [0x0112, 0x013B] && p4.problems.isEmpty, "\(p4.problems)")
        #expect(try p4.string(ifd4[0x013B], name: "Artist") == "Zoë A")

        // Type 0: a directory padded with zeros. Skipped without a note, as ExifTool does.
        let padded = Self.tiff([short(0x0100, 640), short(0x0101, 480), (0, 0, 0, .inline([])), short(0x0112, 6)])
        let (p3, ifd3) = try Self.ifd0(padded, block: "TIFF")
        #expect(ifd3.entries.map(\.tag) == [0x0100, 0x0101, 0x0112])
        #expect(p3.problems.isEmpty, "\(p3.problems)")
    }

    @Test("a value said to lie in the TIFF header or in the directory itself is skipped")
    func suspiciousOffsets() throws {
        let bytes = Self.tiff([short(0x0100, 640), (0x010F, 2, 6, .at(2)), (0x0110, 2, 6, .at(12)), short(0x0112, 6),
                               text(0x013B, "Ann Author")])
        let (p, ifd) = try Self.ifd0(bytes, block: "TIFF")
        #expect(ifd.entries.map(\.tag) == [0x0100, 0x0112, 0x013B])
        #expect(p.problems.filter { $0.reason.contains("lies in the TIFF header or the directory itself") }.count == 2)
        #expect(try p.string(ifd[0x013B], name: "Artist") == "Ann Author")
    }

    @Test("after more than ten damaged entries the rest of the directory is not read", arguments: [10, 11])
    func tooManyDamaged(damaged: Int) throws {
        var entries: [Entry] = [short(0x0100, 640)]
        for i in 0..<damaged { entries.append((UInt16(0x0200 + i), 50, 1, .inline([0, 0, 0, 0]))) }
        entries.append(short(0x0112, 6))
        let (p, ifd) = try Self.ifd0(Self.tiff(entries), block: "TIFF")
        if damaged <= 10 {
            #expect(ifd.entries.map(\.tag) == [0x0100, 0x0112])
        } else {
            #expect(ifd.entries.map(\.tag) == [0x0100])
            #expect(p.problems.contains { $0.reason.contains("more than 10 damaged entries") })
        }
    }

    @Test("a TIFF written by ImageMagick and exiftool, its description moved past the end: SiloMerge and ExifTool keep the same tags")
    func realFileAgainstExifTool() throws {
        var bytes = try MetadataFixture.bytes("tiff/multipage.tif")
        // IFD0's ImageDescription (an out-of-line text) now points past the end of the file, as
        // in the mutated files of public image test suites.
        let ifd0 = Int(UInt32(bytes[4]) | UInt32(bytes[5]) << 8 | UInt32(bytes[6]) << 16 | UInt32(bytes[7]) << 24)
        let count = Int(bytes[ifd0]) | Int(bytes[ifd0 + 1]) << 8
        let entry = try #require((0..<count).map { ifd0 + 2 + 12 * $0 }.first { bytes[$0] == 0x0E && bytes[$0 + 1] == 0x01 })
        let past = UInt32(bytes.count + 100)
        for k in 0..<4 { bytes[entry + 8 + k] = UInt8(past >> (8 * UInt32(k)) & 0xFF) }

        let intact = MetadataReader.read(DataByteSource(try MetadataFixture.bytes("tiff/multipage.tif")))
        #expect(intact.values.contains { $0.tag == "EXIF:Artist" } && intact.values.contains { $0.tag == "EXIF:Orientation" })
        let m = MetadataReader.read(DataByteSource(bytes))
        let fields = Set(m.values.map(\.field))
        #expect(m.width == 18 && m.height == 12)
        #expect(fields.isDisjoint(with: [.description, .orientation, .creator, .keywords]),
                "nothing after the damaged entry: no description, orientation, artist, XMP; \(m.values)")

        // ExifTool on the same bytes: the IFD0 tags before the damaged entry, nothing after it,
        // and no second page.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("damaged-tiff-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("damaged.tif")
        try Data(bytes).write(to: file)
        let data = try toolOutput("exiftool", ["-j", "-G1", "-n", "-a", file.path]).output
        let records = try #require(try? JSONSerialization.jsonObject(with: data) as? [[String: Any]],
                                   "exiftool is needed (.ci/run installs it)")
        let record = try #require(records.first)
        let keys = Set(record.keys)
        #expect(keys.contains("IFD0:ImageWidth") && keys.contains("IFD0:Compression"))
        for gone in ["IFD0:ImageDescription", "IFD0:Orientation", "IFD0:Artist", "XMP-dc:Subject", "IFD1:ImageWidth"] {
            #expect(!keys.contains(gone), "ExifTool read \(gone)")
        }
        #expect((record["ExifTool:Warning"] as? String)?.contains("Error reading value for IFD0 entry 7") == true, "\(record)")
    }
}
