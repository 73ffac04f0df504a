import Foundation
import Testing
@testable import SiloMergeCore
import SiloMergeTestSupport

@Suite("Metadata: values, sniffing and byte sources")
struct MetadataParsingUnitTests {
    @Test("dates are normalised to ISO 8601 at the source's precision", arguments: [
        ("2023", "2023"), ("2023-06", "2023-06"), ("2023-06-14", "2023-06-14"),
        ("2023-06-14T18:30", "2023-06-14T18:30"), ("2023-06-14T18:30:00", "2023-06-14T18:30:00"),
        ("2023-06-14T18:30:00.25+01:00", "2023-06-14T18:30:00.25+01:00"), ("2023-06-14T18:30:00Z", "2023-06-14T18:30:00Z"),
        ("2023:06:14 18:32:07", "2023-06-14T18:32:07"), ("2023-06-14 18:32:07+0100", "2023-06-14T18:32:07+01:00"),
        ("Thu, 01 Jun 2023 09:00:00 GMT", "2023-06-01T09:00:00Z"), ("1 Jun 2023 09:00:00 +0200", "2023-06-01T09:00:00+02:00"),
        ("01 Jun 2023", "2023-06-01"),
    ])
    func dates(_ input: String, _ expected: String) {
        #expect(DateNormalizer.iso(input) == expected)
    }

    @Test("things that are not dates", arguments: ["", "soon", "2023-13-01", "2023-06-14T25:00", "2023-06-14Tfoo",
                                                    "32 Jun 2023", "2023-06-14T18:30:00+99:00"])
    func notDates(_ input: String) {
        #expect(DateNormalizer.iso(input) == nil)
    }

    @Test("EXIF, IPTC and PDF date pieces")
    func datePieces() {
        #expect(DateNormalizer.exif("2023:06:14 18:32:07", subSeconds: "042", offset: "+01:00") == "2023-06-14T18:32:07.042+01:00")
        #expect(DateNormalizer.exif("2023:06:14 18:32:07", subSeconds: nil, offset: nil) == "2023-06-14T18:32:07")
        #expect(DateNormalizer.exif("0000:00:00 00:00:00", subSeconds: nil, offset: nil) == nil)
        #expect(DateNormalizer.iptc(date: "20230614", time: "183207+0100") == "2023-06-14T18:32:07+01:00")
        #expect(DateNormalizer.iptc(date: "20230614", time: nil) == "2023-06-14")
        #expect(DateNormalizer.iptc(date: "20230600", time: nil) == "2023-06")
        #expect(DateNormalizer.iptc(date: "2023061", time: nil) == nil)
        #expect(DateNormalizer.pdf("D:20230530140000+01'00'") == "2023-05-30T14:00:00+01:00")
        #expect(DateNormalizer.pdf("D:20230530") == "2023-05-30")
        #expect(DateNormalizer.pdf("D:202305301400Z") == "2023-05-30T14:00:00Z")
        #expect(DateNormalizer.pdf("yesterday") == nil)
    }

    @Test("XMP GPS coordinates")
    func gps() {
        #expect(GPSParser.xmpCoordinate("51,30.5N", isLatitude: true) == 51 + 30.5 / 60)
        #expect(GPSParser.xmpCoordinate("51,30,30S", isLatitude: true) == -(51 + 30.0 / 60 + 30.0 / 3600))
        #expect(GPSParser.xmpCoordinate("9,8.364W", isLatitude: false)! < 0)
        #expect(GPSParser.xmpCoordinate("-9.1394", isLatitude: false) == -9.1394)
        #expect(GPSParser.xmpCoordinate("91,0N", isLatitude: true) == nil)
        #expect(GPSParser.xmpCoordinate("10,0E", isLatitude: true) == nil)
        #expect(GPSParser.xmpCoordinate("x,yN", isLatitude: true) == nil)
    }

    @Test("MWG semicolon-space lists in EXIF:Artist")
    func mwgList() {
        #expect(MWGStringList.split("Ana Ribeiro") == ["Ana Ribeiro"])
        #expect(MWGStringList.split("Ana; Jo") == ["Ana", "Jo"])
        #expect(MWGStringList.split("\"Smith; John\"; Jo") == ["Smith; John", "Jo"])
        #expect(MWGStringList.split("\"\"\"Quoted\"\"\"; x") == ["\"Quoted\"", "x"])
    }

    @Test("strings: UTF-8 when valid, else Latin-1; NULs cut")
    func strings() {
        #expect(TextDecoding.utf8OrLatin1([0xC2, 0xA9, 0x20, 0x41]) == "© A")
        #expect(TextDecoding.utf8OrLatin1([0xA9, 0x20, 0x41]) == "© A")
        #expect(Array(TextDecoding.cutAtNUL([0x41, 0, 0x42])) == [0x41])
        #expect(PDFValue.decodeText([0xFE, 0xFF, 0, 0x41, 0x20, 0xAC]) == "A€")
        #expect(PDFValue.decodeText([0x92, 0x41]) == "™A")
    }

    @Test("format sniffing uses magic bytes only")
    func sniffing() throws {
        func f(_ b: [UInt8]) -> MediaFormat { FormatSniffer.sniff(head: b, source: DataByteSource(b)) }
        #expect(f([0xFF, 0xD8, 0xFF, 0xE0]) == .jpeg)
        #expect(f(Array("II*\0".utf8)) == .tiff)
        #expect(f(Array("MM".utf8) + [0, 42]) == .tiff)
        #expect(f(Array("GIF87a".utf8)) == .gif)
        #expect(f(Array("RIFF\0\0\0\0WEBPVP8 ".utf8)) == .webp)
        #expect(f(Array("RIFF\0\0\0\0WAVEfmt ".utf8)) == .wav)
        #expect(f(Array("RIFF\0\0\0\0XYZWfmt ".utf8)) == .other)
        #expect(f([0, 0, 0, 20] + Array("ftypqt  ".utf8)) == .mov)
        #expect(f([0, 0, 0, 24] + Array("ftypheic".utf8)) == .heic)
        #expect(f([0, 0, 0, 24] + Array("ftypmif1".utf8)) == .heic)
        #expect(f([0, 0, 0, 24] + Array("ftypM4V ".utf8)) == .mp4)
        #expect(f([0, 0, 0, 24] + Array("ftypxxxx\0\0\0\0mp42".utf8)) == .mp4)
        #expect(f(Array("%PDF-1.7".utf8)) == .pdf)
        #expect(f([0xEF, 0xBB, 0xBF] + Array("  <x:xmpmeta xmlns:x='adobe:ns:meta/'>".utf8)) == .xmp)
        #expect(f(Array("<?xml version='1.0'?>\n<rdf:RDF>".utf8)) == .xmp)
        #expect(f(Array("<?xml version='1.0'?>\n<html>".utf8)) == .other)
        #expect(f(Array("hello".utf8)) == .other)
        #expect(f([]) == .other)
        // Names never matter: the AppleDouble "._hero.jpg" is not a JPEG.
        let appleDouble = try Fixture.bytes("marketing/campaigns/2023/summer-launch/._hero.jpg")
        #expect(MetadataReader.read(DataByteSource(appleDouble)).format == .other)
    }

    @Test("FileByteSource reads like DataByteSource, and only the metadata of a big file")
    func fileByteSource() throws {
        // hero.jpg with 8 MiB of extra entropy-coded data: metadata must not read the pixels.
        let hero = try Fixture.bytes("marketing/campaigns/2023/summer-launch/hero.jpg")
        let sos = try #require(hero.indexOfBytes([0xFF, 0xDA]))
        var big = hero
        big.insert(contentsOf: [UInt8](repeating: 0x55, count: 8 << 20), at: sos + 14)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("silomerge-meta-\(getpid()).jpg").path
        try Data(big).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let source = FileByteSource(fd: fd, size: Int64(big.count))
        let viaFile = MetadataReader.read(source)
        #expect(viaFile == MetadataReader.read(DataByteSource(hero)))
        #expect(source.readCalls <= 4)
        #expect(source.bytesRead <= 128 * 1024)
        // Reads past the end are short, and the cache serves repeated reads.
        let s2 = FileByteSource(fd: fd, size: Int64(big.count))
        #expect(try s2.read(at: Int64(big.count) - 3, count: 10).count == 3)
        #expect(try s2.read(at: Int64(big.count), count: 10).isEmpty)
        #expect(try s2.read(at: -1, count: 10).isEmpty)
        #expect(try s2.read(at: 100, count: 50) == Array(big[100..<150]))
        #expect(try s2.read(at: 120, count: 50) == Array(big[120..<170]))
        #expect(try s2.read(at: 1 << 20, count: 200_000) == Array(big[(1 << 20)..<((1 << 20) + 200_000)]))
        // ImageDataHash reads everything, and agrees with the in-memory hash.
        #expect(try ImageDataHash.compute(FileByteSource(fd: fd, size: Int64(big.count)), format: .jpeg)
                == ImageDataHash.compute(DataByteSource(big), format: .jpeg))
    }

    @Test("concurrent reads on many threads agree with serial ones")
    func concurrentReads() async throws {
        let files = try Fixture.assets()
        let inputs = try files.map { try Fixture.bytes($0) }
        let serial = inputs.map { MetadataReader.read(DataByteSource($0)) }
        await withTaskGroup(of: (Int, EmbeddedMetadata).self) { group in
            for _ in 0..<4 {
                for (i, bytes) in inputs.enumerated() {
                    group.addTask { (i, MetadataReader.read(DataByteSource(bytes))) }
                }
            }
            for await (i, m) in group { #expect(m == serial[i], "\(files[i])") }
        }
    }

    @Test("a PNG with a huge IDAT: only the chunk headers are read")
    func pngSkipsPixels() throws {
        var png = try Fixture.bytes("marketing/about/org-chart.png")
        let idat = try #require(png.indexOfBytes(Array("IDAT".utf8))) - 4
        let filler = [UInt8](repeating: 0, count: 4 << 20)
        png.insert(contentsOf: [0x00, 0x40, 0x00, 0x00] + Array("IDAT".utf8) + filler + [0, 0, 0, 0], at: idat)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("silomerge-meta-\(getpid()).png").path
        try Data(png).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let source = FileByteSource(fd: fd, size: Int64(png.count))
        let m = MetadataReader.read(source)
        #expect(m.problems.isEmpty)
        #expect(m.first(.title, from: .png) != nil)
        #expect(source.bytesRead <= 256 * 1024)
    }

    @Test("a PNG of many 32 KiB IDAT chunks (as ImageMagick writes them): the walk does not copy the pixels")
    func pngManyIDATs() throws {
        var png = try Fixture.bytes("marketing/about/org-chart.png")
        let idat = try #require(png.indexOfBytes(Array("IDAT".utf8))) - 4
        var chunks: [UInt8] = []
        for _ in 0..<200 { chunks += [0x00, 0x00, 0x80, 0x00] + Array("IDAT".utf8) + [UInt8](repeating: 0, count: 32 << 10) + [0, 0, 0, 0] }
        png.insert(contentsOf: chunks, at: idat)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("silomerge-idats-\(getpid()).png").path
        try Data(png).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let source = FileByteSource(fd: fd, size: Int64(png.count))
        let m = MetadataReader.read(source)
        #expect(m == MetadataReader.read(DataByteSource(png)))
        #expect(m.first(.title, from: .png) != nil)
        // 6.4 MiB of image data; each chunk header costs at most one 4 KiB read.
        #expect(source.bytesRead <= 1 << 20, "\(source.bytesRead) bytes read")
    }
}
