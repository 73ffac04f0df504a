import CZlib
import Foundation
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

/// Broken and hostile files: every case must finish quickly, never trap, and say what was wrong.
@Suite("Metadata: hostile input")
struct MetadataHostileInputTests {
    static func read(_ bytes: [UInt8]) -> EmbeddedMetadata { MetadataReader.read(DataByteSource(bytes)) }

    static func be16(_ v: Int) -> [UInt8] { [UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    /// A JPEG around one APP segment.
    static func jpeg(app marker: UInt8, payload: [UInt8]) -> [UInt8] {
        [0xFF, 0xD8, 0xFF, marker] + be16(payload.count + 2) + payload
            + [0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x10, 0x00, 0x20, 0x01, 0x01, 0x11, 0x00]
            + [0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, 0x12, 0x34, 0xFF, 0xD9]
    }

    /// A big-endian TIFF block with the given IFD0 entries (tag, type, count, value/offset) and
    /// extra bytes after the IFD.
    static func tiff(_ entries: [(UInt16, UInt16, UInt32, UInt32)], ifdOffset: UInt32 = 8, tail: [UInt8] = []) -> [UInt8] {
        var b: [UInt8] = Array("MM".utf8) + [0, 42] + be32(ifdOffset)
        b += be16(entries.count)
        for e in entries { b += be16(Int(e.0)) + be16(Int(e.1)) + be32(e.2) + be32(e.3) }
        b += be32(0)
        return b + tail
    }

    @Test("truncated at every offset: no crash, problems reported, values a subset of the full read",
          .timeLimit(.minutes(2)),
          arguments: ["marketing/about/org-chart.png", "hr/records/badge-template.tif",
                      "marketing/campaigns/2023/summer-launch/hero.jpg"])
    func truncatedEverywhere(_ file: String) throws {
        let bytes = try Fixture.bytes(file)
        let full = Self.read(bytes)
        #expect(full.problems.isEmpty)
        let fullValues = Set(full.values.filter { $0.origin != .header })
        let sos = bytes.indexOfBytes([0xFF, 0xDA]) ?? bytes.count
        for n in 0..<bytes.count {
            let m = Self.read(Array(bytes[0..<n]))
            let values = Set(m.values.filter { $0.origin != .header })
            #expect(values.isSubset(of: fullValues), "\(file) cut at \(n): \(values.subtracting(fullValues))")
            switch full.format {
            case .png:
                if n >= 8 { #expect(!m.problems.isEmpty, "\(file) cut at \(n)") }
            case .jpeg:
                if n >= 3 && n < sos + 2 { #expect(!m.problems.isEmpty, "\(file) cut at \(n)") }
            default:
                if n >= 4 && values.count < fullValues.count { #expect(!m.problems.isEmpty, "\(file) cut at \(n)") }
            }
        }
    }

    @Test("truncations of the other formats never trap", .timeLimit(.minutes(2)),
          arguments: ["marketing/social/2023/summer-teaser.webp", "training/module-01/images/loading-spinner.gif",
                      "marketing/campaigns/2023/summer-launch/teaser.mp4", "marketing/brochures/2023/product-brochure.pdf",
                      "training/module-03/reference/glossary-poster.jpg", "training/module-02/images/product-overview.jpg"])
    func truncatedOthers(_ file: String) throws {
        let bytes = try Fixture.bytes(file)
        let fullValues = Set(Self.read(bytes).values.filter { $0.origin != .header })
        let step = max(1, bytes.count / 1500)
        for n in stride(from: 0, to: bytes.count, by: step) {
            let values = Set(Self.read(Array(bytes[0..<n])).values.filter { $0.origin != .header })
            #expect(values.isSubset(of: fullValues), "\(file) cut at \(n)")
        }
    }

    @Test("huge length fields are refused without allocating")
    func hugeLengths() {
        // JPEG APP1 claiming 65535 bytes in a short file.
        var j: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF] + Array("Exif".utf8) + [0, 0]
        #expect(Self.read(j).problems.contains { $0.reason.contains("past the end of the file") })
        // PNG chunk lengths 0x7FFFFFFF and 0xFFFFFFFF.
        for length: UInt32 in [0x7FFF_FFFF, 0xFFFF_FFFF] {
            let p = PNGReader.signature + Self.be32(13) + Array("IHDR".utf8) + Self.be32(1) + Self.be32(1) + [8, 2, 0, 0, 0] + [0, 0, 0, 0]
                + Self.be32(length) + Array("tEXt".utf8) + Array("Title\0x".utf8)
            let m = Self.read(p)
            #expect(m.width == 1)
            #expect(!m.problems.isEmpty)
        }
        // IPTC dataset with a 4-byte extended length of 0xFFFFFFFF.
        let iim: [UInt8] = [0x1C, 2, 5, 0x80, 0x04, 0xFF, 0xFF, 0xFF, 0xFF, 0x41]
        let irb = Array("8BIM".utf8) + [0x04, 0x04, 0, 0] + Self.be32(UInt32(iim.count)) + iim
        j = Self.jpeg(app: 0xED, payload: Array("Photoshop 3.0\0".utf8) + irb)
        #expect(Self.read(j).problems.contains { $0.block == "IPTC" })
        // A Photoshop resource claiming 4 GiB.
        let bad = Array("8BIM".utf8) + [0x04, 0x04, 0, 0] + Self.be32(0xFFFF_FFFF) + [1, 2, 3]
        #expect(Self.read(Self.jpeg(app: 0xED, payload: Array("Photoshop 3.0\0".utf8) + bad)).problems.contains { $0.block == "Photoshop" })
        // EXIF: an IFD claiming 65535 entries; a DOUBLE value whose count × 8 overflows 32 bits.
        let exif = Self.tiff([(0x010E, 12, 0xFFFF_FFFF, 8), (0x010F, 2, 0x4000_0000, 8)])
        var counted = exif
        counted[8] = 0xFF; counted[9] = 0xFF
        for block in [exif, counted] {
            let m = Self.read(Self.jpeg(app: 0xE1, payload: Array("Exif\0\0".utf8) + block))
            #expect(!m.problems.isEmpty)
            #expect(m.values.allSatisfy { $0.origin == .header })
        }
        // BMFF box with a 64-bit size of 2^62, WebP chunk of 0xFFFFFFFF bytes.
        let mp4 = Self.be32(16) + Array("ftypisom".utf8) + Self.be32(0) + Self.be32(1) + Array("uuid".utf8) + [0x40, 0, 0, 0, 0, 0, 0, 0]
        #expect(Self.read(mp4).problems.contains { $0.block == "BMFF" })
        let webp = Array("RIFF".utf8) + [0xFF, 0xFF, 0xFF, 0x7F] + Array("WEBPXMP ".utf8) + [0xFF, 0xFF, 0xFF, 0xFF] + [0x3C]
        #expect(Self.read(webp).problems.contains { $0.block == "WebP" })
        // Extended XMP claiming 4 GiB.
        let ext = Array("http://ns.adobe.com/xmp/extension/\0".utf8) + Array(repeating: UInt8(ascii: "A"), count: 32)
            + Self.be32(0xFFFF_FFF0) + Self.be32(0) + Array("<x/>".utf8)
        #expect(Self.read(Self.jpeg(app: 0xE1, payload: ext)).problems.contains { $0.reason.contains("limit") })
    }

    @Test("offsets pointing outside the block")
    func offsetsOutside() {
        // IFD0 at 0x4f2a in a tiny EXIF block.
        let far = Self.tiff([], ifdOffset: 0x4F2A)
        let m = Self.read(Self.jpeg(app: 0xE1, payload: Array("Exif\0\0".utf8) + far))
        #expect(m.problems.contains { $0.block == "EXIF" && $0.reason == "IFD0 offset 0x4f2a points past the end of the EXIF block" })
        // A string value whose offset lies past the block; an ExifIFD pointer past it.
        let value = Self.tiff([(0x010E, 2, 40, 0x1000), (0x8769, 4, 1, 0xFFFF_FF00)])
        let v = Self.read(Self.jpeg(app: 0xE1, payload: Array("Exif\0\0".utf8) + value))
        #expect(v.problems.contains { $0.reason.contains("(ImageDescription, tag 0x10e)") && $0.reason.contains("past the end") })
        #expect(v.problems.contains { $0.reason.contains("ExifIFD offset") })
        // The same in a TIFF file: problems name the file.
        let t = Self.read(Self.tiff([(0x0100, 3, 1, 0x0010_0000), (0x02BC, 7, 100, 0x7FFF_FFFF)]))
        #expect(t.format == .tiff)
        #expect(t.problems.contains { $0.block == "TIFF" && $0.reason.contains("past the end of the file") })
        // ImageDataHash: a strip past the end of the file is an error.
        let strip = Self.tiff([(0x0111, 4, 1, 0x7FFF_0000), (0x0117, 4, 1, 100)])
        #expect(throws: MetadataProblem.self) { try ImageDataHash.compute(DataByteSource(strip), format: .tiff) }
    }

    @Test("IFD loops are detected")
    func ifdLoop() {
        // ExifIFD pointer back to IFD0; GPS IFD pointing at itself via ExifIFD.
        let loop = Self.tiff([(0x010F, 2, 4, 0x4142_4300), (0x8769, 4, 1, 8), (0x8825, 4, 1, 8)])
        let m = Self.read(Self.jpeg(app: 0xE1, payload: Array("Exif\0\0".utf8) + loop))
        #expect(m.problems.contains { $0.reason.contains("IFD loop") })
        #expect(m.first(.make, from: .exif)?.value == .text("ABC"))
        let t = Self.read(loop)
        #expect(t.problems.contains { $0.reason.contains("IFD loop") })
    }

    static func deflate(_ input: [UInt8]) -> [UInt8] {
        var length = compressBound(uLong(input.count))
        var out = [UInt8](repeating: 0, count: Int(length))
        let status = compress2(&out, &length, input, uLong(input.count), 9)
        precondition(status == Z_OK)
        return Array(out[0..<Int(length)])
    }

    @Test("zTXt and iTXt bombs stop at the 16 MiB cap", .timeLimit(.minutes(3)))
    func zlibBomb() throws {
        let bomb = Self.deflate([UInt8](repeating: 0x41, count: 40 * 1024 * 1024))
        #expect(bomb.count < 100_000)
        var png = try Fixture.bytes("marketing/logo.png")
        let iend = png.count - 12
        let ztxt = Array("Title".utf8) + [0, 0] + bomb
        let itxt = Array("Description".utf8) + [0, 1, 0, 0, 0] + bomb
        var chunks: [UInt8] = []
        for (type, data) in [("zTXt", ztxt), ("iTXt", itxt)] {
            chunks += Self.be32(UInt32(data.count)) + Array(type.utf8) + data + [0, 0, 0, 0]
        }
        png.insert(contentsOf: chunks, at: iend)
        let start = Date()
        let m = Self.read(png)
        // The first bomb spends the file's whole inflate budget; the second is not inflated.
        #expect(m.problems.filter { $0.reason.contains("inflates to more than") }.count == 1)
        #expect(m.problems.contains { $0.reason.contains("iTXt 'Description' and later compressed blocks not read") })
        #expect(m.first(.title, from: .png) == nil)
        #expect(m.width == 120)
        #expect(Date().timeIntervalSince(start) < 5)
        // A corrupt compressed stream is a problem too.
        var broken = try Fixture.bytes("marketing/logo.png")
        let bad = Array("Title".utf8) + [0, 0] + [0x78, 0x9C, 0xFF, 0xFF, 0xFF]
        broken.insert(contentsOf: Self.be32(UInt32(bad.count)) + Array("zTXt".utf8) + bad + [0, 0, 0, 0], at: broken.count - 12)
        #expect(Self.read(broken).problems.contains { $0.reason.contains("cannot be decompressed") })
    }

    @Test("text chunks no field reads are skipped unread: not decompressed, no note, no inflate budget spent")
    func unreadTextChunksSkipped() throws {
        var png = try Fixture.bytes("marketing/logo.png")
        let broken: [UInt8] = [0x78, 0x9C, 0xFF, 0xFF, 0xFF]
        var chunks: [UInt8] = []
        func add(_ type: String, _ data: [UInt8]) { chunks += Self.be32(UInt32(data.count)) + Array(type.utf8) + data + [0, 0, 0, 0] }
        // Damaged chunks of keywords nothing reads (as a thumbnailer and ImageMagick write them),
        add("zTXt", Array("Software".utf8) + [0, 0] + broken)
        add("zTXt", Array("Thumb::URI".utf8) + [0, 7] + broken)                       // an unknown method
        add("iTXt", Array("Comment".utf8) + [0, 1, 0, 0, 0] + broken)
        add("zTXt", Array("Raw profile type icc".utf8) + [0, 0] + broken)
        // a 40 MiB bomb under one (it would spend the file's whole inflate budget),
        add("zTXt", Array("Comment".utf8) + [0, 0] + Self.deflate([UInt8](repeating: 0x41, count: 40 * 1024 * 1024)))
        // then what is read: a Title, a damaged Description and a damaged raw EXIF profile.
        add("zTXt", Array("Title".utf8) + [0, 0] + Self.deflate(Array("Harbour at dawn".utf8)))
        add("zTXt", Array("Description".utf8) + [0, 0] + broken)
        add("zTXt", Array("Raw profile type exif".utf8) + [0, 0] + broken)
        png.insert(contentsOf: chunks, at: png.count - 12)
        let m = Self.read(png)
        #expect(m.first(.title, from: .png)?.value == .text("Harbour at dawn"))
        let notes = m.problems.map(\.reason)
        #expect(notes.filter { $0.contains("cannot be decompressed") }.count == 2, "\(notes)")
        #expect(notes.contains { $0.contains("'Description' cannot be decompressed") })
        #expect(notes.contains { $0.contains("'Raw profile type exif' cannot be decompressed") })
        #expect(!notes.contains { $0.contains("Software") || $0.contains("Thumb") || $0.contains("Comment") || $0.contains("icc") })
        #expect(!notes.contains { $0.contains("inflates to more than") })
        #expect(PNGReader.readsText(keywordHead: Array("XML:com.adobe.xmp".utf8) + [0], type: "iTXt"))
        #expect(!PNGReader.readsText(keywordHead: Array("XML:com.adobe.xmp".utf8) + [0], type: "zTXt"))
        #expect(PNGReader.readsText(keywordHead: Array("Creation Time".utf8) + [0], type: "tEXt"))
        #expect(PNGReader.readsText(keywordHead: [UInt8](repeating: 0x41, count: 80), type: "tEXt"))   // unterminated: read, to say so
    }

    /// A PNG holding `count` zTXt chunks with `keyword`, each inflating to `inflated` bytes of
    /// distinct text (issue #10 item 5: 1,000 Title chunks in a 1 MB file took 92 s, 1.1 GB and
    /// a 2.1 GB catalogue).
    static func textBomb(count: Int, keyword: String = "Title", inflated: Int) throws -> [UInt8] {
        var png = try Fixture.bytes("marketing/logo.png")
        let iend = png.count - 12
        var chunks: [UInt8] = []
        for i in 0..<count {
            let text = Array("\(i) ".utf8) + [UInt8](repeating: 0x41 + UInt8(i % 26), count: inflated)
            let data = Array(keyword.utf8) + [0, 0] + Self.deflate(text)
            chunks += Self.be32(UInt32(data.count)) + Array("zTXt".utf8) + data + [0, 0, 0, 0]
        }
        png.insert(contentsOf: chunks, at: iend)
        return png
    }

    @Test("1,000 zTXt Title chunks: bounded time, values and stored bytes; the caps are notes", .timeLimit(.minutes(3)))
    func manyTextChunks() throws {
        let png = try Self.textBomb(count: 1000, inflated: 64 * 1024)
        let start = Date()
        let m = Self.read(png)
        #expect(Date().timeIntervalSince(start) < 10)
        #expect(m.width == 120)
        let titles = m.values(for: .title)
        #expect(titles.count == MetadataLimits.maxValuesPerField)
        #expect(titles.first?.value.text?.hasPrefix("0 AAAA") == true)
        let stored = m.values.reduce(0) { $0 + $1.value.json.utf8.count + $1.raw.utf8.count }
        #expect(stored <= MetadataLimits.maxStoredBytesPerFile)
        #expect(m.problems.contains { $0.reason.contains("more than 16 values for title") })
        #expect(m.problems.count <= MetadataLimits.maxProblems)
    }

    @Test("per-file caps hold for every format: values per field, list items, value size")
    func capsEveryFormat() throws {
        // An XMP sidecar with 5,000 keywords and a 2 MiB description.
        let items = (0..<5000).map { "<rdf:li>k\($0)</rdf:li>" }.joined()
        let long = String(repeating: "d", count: 2 * 1024 * 1024)
        let xmp = "<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>"
            + "<rdf:Description rdf:about='' xmlns:dc='http://purl.org/dc/elements/1.1/' dc:description='\(long)'>"
            + "<dc:subject><rdf:Bag>\(items)</rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>"
        let m = Self.read(Array(xmp.utf8))
        #expect(m.first(.keywords, from: .sidecar)?.value.list?.count == MetadataLimits.maxListItems)
        #expect(m.values(for: .description).isEmpty)
        #expect(m.problems.contains { $0.reason.contains("holds 5000 items; only the first 2000 are kept") })
        #expect(m.problems.contains { $0.reason.contains("larger than the 1048576-byte limit") })
        // A PNG with 40 XMP packets: 16 are parsed, then a note.
        let packet = Array("XML:com.adobe.xmp\0\0\0\0\0<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'><rdf:Description xmlns:dc='http://purl.org/dc/elements/1.1/' dc:title='t'/></rdf:RDF></x:xmpmeta>".utf8)
        var png = try Fixture.bytes("marketing/logo.png")
        for _ in 0..<40 { png.insert(contentsOf: Self.be32(UInt32(packet.count)) + Array("iTXt".utf8) + packet + [0, 0, 0, 0], at: png.count - 12) }
        let p = Self.read(png)
        #expect(p.values(for: .title).filter { $0.origin == .xmp }.count == MetadataLimits.maxValuesPerField)
        #expect(p.problems.contains { $0.reason.contains("more than 16 XMP packets") })
    }

    @Test("a TIFF of 64 SubIFDs of 8,000 entries each: the entry budget stops it, with a note", .timeLimit(.minutes(3)))
    func tiffEntryBudget() throws {
        let subs = 64, perIFD = 8000
        let ifdSize = 2 + perIFD * 12 + 4
        let first = UInt32(8 + 2 + 12 + 4 + subs * 4)
        var b: [UInt8] = Array("MM".utf8) + [0, 42] + Self.be32(8)
        b += Self.be16(1) + Self.be16(0x014A) + Self.be16(4) + Self.be32(UInt32(subs)) + Self.be32(8 + 2 + 12 + 4) + Self.be32(0)
        for i in 0..<subs { b += Self.be32(first + UInt32(i * ifdSize)) }
        for _ in 0..<subs {
            b += Self.be16(perIFD)
            for k in 0..<perIFD { b += Self.be16(0x8000 + k) + Self.be16(3) + Self.be32(1) + Self.be32(0) }
            b += Self.be32(0)
        }
        let start = Date()
        let m = Self.read(b)
        #expect(m.problems.contains { $0.reason.contains("more than 500000 IFD entries in all") })
        _ = try? ImageDataHash.compute(DataByteSource(b), format: .tiff)
        #expect(Date().timeIntervalSince(start) < 20)
    }

    @Test("BigTIFF strip offsets and counts beyond Int64 (LONG8): a problem, not a trap (found by the fuzzer)")
    func bigTIFFHugeOffsets() throws {
        func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8((v >> (8 * $0)) & 0xFF) } }
        for (offset, count) in [(UInt64(1) << 63, UInt64(16)), (UInt64(32), UInt64(1) << 63)] {
            var b: [UInt8] = Array("II".utf8) + le16(43) + le16(8) + le16(0) + le64(16)
            b += le64(2)
            b += le16(0x0111) + le16(16) + le64(1) + le64(offset)
            b += le16(0x0117) + le16(16) + le64(1) + le64(count)
            b += le64(0)
            #expect(throws: MetadataProblem.self) { try ImageDataHash.compute(DataByteSource(b), format: .tiff) }
            #expect(Self.read(b).format == .tiff)
        }
    }

    @Test("EPS comments with numbers out of range, unterminated blocks and junk: no trap, no value")
    func epsJunk() {
        let eps = "%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 1e300 5\n%ImageData: -5 99999999999999999999\n%%Title: (unclosed\n%%+ more\n%%CreationDate: (not a date)\n%begin_xml_packet: 10\n<?xpacket begin=\n"
        let m = Self.read(Array(eps.utf8))
        #expect(m.format == .eps)
        #expect(m.width == nil)
        #expect(m.first(.title, from: .postscript)?.value == .text("(unclosed more"))
        #expect(m.values(for: .dateCreated).isEmpty)
        #expect(m.problems.contains { $0.reason.contains("CreationDate '(not a date)' is not a date") || $0.reason.contains("CreationDate 'not a date'") })
    }

    @Test("an unreadable file descriptor gives an I/O problem, not a crash")
    func ioError() {
        let m = MetadataReader.read(FileByteSource(fd: -1, size: 1000))
        #expect(m.format == .other)
        #expect(m.problems.contains { $0.block == "I/O" })
    }

    /// SplitMix64: a small, seeded, deterministic generator.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Offsets of fields that look like lengths: JPEG segment lengths, PNG chunk lengths,
    /// RIFF/BMFF sizes, TIFF counts — mutated preferentially.
    static func lengthFields(_ b: [UInt8]) -> [Int] {
        var out: [Int] = []
        var i = 0
        while i + 4 < b.count {
            if b[i] == 0xFF, (0xC0...0xFE).contains(b[i + 1]) { out.append(i + 2) }
            i += 1
        }
        for type in ["IHDR", "tEXt", "zTXt", "iTXt", "IDAT", "uuid", "moov", "trak", "tkhd", "udta", "XMP ", "VP8X", "VP8 ", "8BIM"] {
            var from = 0
            while let k = b.indexOfBytes(Array(type.utf8), from: from) {
                out.append(max(0, k - 4)); out.append(k + 4)
                from = k + 1
            }
        }
        return out
    }

    @Test("seeded mutations of every fixture: no trap, no hang", .timeLimit(.minutes(2)))
    func mutations() throws {
        var rng = SplitMix64(state: 0x5110_4E26)
        let files = try Fixture.assets().filter { !$0.hasSuffix(".txt") && !$0.hasSuffix(".bin") }
        var runs = 0
        let start = Date()
        for file in files {
            let original = try Fixture.bytes(file)
            guard original.count > 16 else { continue }
            let lengths = Self.lengthFields(original)
            let format = Self.read(original).format
            for _ in 0..<200 {
                var b = original
                switch rng.next() % 4 {
                case 0:   // random byte flips
                    for _ in 0..<(1 + Int(rng.next() % 8)) { b[Int(rng.next() % UInt64(b.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1) }
                case 1:   // truncation
                    b.removeLast(Int(rng.next() % UInt64(b.count)))
                case 2:   // length-field corruption
                    if let at = lengths.randomElement(using: &rng), at + 4 <= b.count {
                        let v: [UInt8] = [[0xFF, 0xFF, 0xFF, 0xFF], [0, 0, 0, 0], [0x7F, 0xFF, 0xFF, 0xF0], [0, 0, 0, 1],
                                          [0x80, 0, 0, 0]].randomElement(using: &rng)!
                        let width = rng.next() % 2 == 0 ? 2 : 4
                        for k in 0..<width { b[at + k] = v[k] }
                    }
                default:  // a block duplicated or removed
                    let a = Int(rng.next() % UInt64(b.count)), n = Int(rng.next() % 512)
                    let range = a..<min(b.count, a + n)
                    if rng.next() % 2 == 0 { b.removeSubrange(range) } else { b.insert(contentsOf: b[range], at: a) }
                }
                let m = Self.read(b)
                _ = MetadataReader.reconcileInFile(m)
                _ = try? ImageDataHash.compute(DataByteSource(b), format: format)
                #expect(m.problems.count <= 64)
                runs += 1
            }
        }
        #expect(runs >= 3000)
        #expect(Date().timeIntervalSince(start) < 60)
    }
}
