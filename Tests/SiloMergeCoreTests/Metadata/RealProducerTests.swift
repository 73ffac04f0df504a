import Foundation
import Testing
@testable import SiloMergeCore
#if canImport(Glibc)
import Glibc
#endif
import SiloMergeTestSupport

/// Fixtures/metadata: still images made by the real producers of each format
/// (tools/metadata-fixtures), and what ExifTool read from them (expected-exiftool.json).
enum MetadataFixture {
    static let root = Fixture.root.appendingPathComponent("metadata")

    static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: root.appendingPathComponent(relative)))
    }

    static func read(_ relative: String) throws -> EmbeddedMetadata {
        MetadataReader.read(DataByteSource(try bytes(relative)))
    }

    /// What a scan learns: values, the file's own choice per field, the image hash.
    static func inspect(_ relative: String) throws -> ContentInfo {
        let path = root.appendingPathComponent(relative).path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CocoaError(.fileReadNoPermission) }
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        return ContentInspector.inspect(fd: fd, size: Int64(st.st_size))
    }

    /// The file's own choice per field.
    static func fields(_ info: ContentInfo) -> [UnifiedField: FieldValue] {
        var out: [UnifiedField: FieldValue] = [:]
        for (v, chosen) in zip(info.values, info.preferred) where chosen { out[v.field] = v.value }
        if out[.width] == nil, let w = info.width { out[.width] = .integer(w) }
        if out[.height] == nil, let h = info.height { out[.height] = .integer(h) }
        return out
    }

    /// expected-exiftool.json: ExifTool's record per file.
    static func exiftool() throws -> [String: [String: Any]] {
        let data = try Data(contentsOf: root.appendingPathComponent("expected-exiftool.json"))
        let top = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let records = try #require(top["files"] as? [[String: Any]])
        var out: [String: [String: Any]] = [:]
        for r in records { if let f = r["SourceFile"] as? String { out[f] = r } }
        return out
    }
}

/// ExifTool's value for each unified field, as tools/compare-exiftool defines it: its MWG
/// composite where the MWG defines the field, else the first tag of a list that the file has.
enum ExifToolFields {
    static let sources: [UnifiedField: [String]] = [
        .title: ["XMP-dc:Title", "IPTC:ObjectName", "PNG:Title", "PostScript:Title"],
        .description: ["MWG:Description", "IFD0:ImageDescription", "ExifIFD:ImageDescription", "XMP-dc:Description",
                       "IPTC:Caption-Abstract", "PNG:Description", "PostScript:Subject"],
        .keywords: ["MWG:Keywords", "XMP-dc:Subject", "IPTC:Keywords", "PostScript:Keywords"],
        .creator: ["MWG:Creator", "IFD0:Artist", "XMP-dc:Creator", "IPTC:By-line", "PNG:Author", "PostScript:Author"],
        .rights: ["MWG:Copyright", "IFD0:Copyright", "XMP-dc:Rights", "IPTC:CopyrightNotice", "PNG:Copyright",
                  "PostScript:Copyright"],
        .dateCreated: ["MWG:DateTimeOriginal", "Composite:SubSecDateTimeOriginal", "ExifIFD:DateTimeOriginal",
                       "IFD0:DateTimeOriginal", "XMP-photoshop:DateCreated", "XMP-exif:DateTimeOriginal",
                       "XMP-xmp:CreateDate", "PNG:CreationTime"],
        .city: ["MWG:City", "XMP-photoshop:City", "IPTC:City"],
        .state: ["MWG:State", "XMP-photoshop:State", "IPTC:Province-State"],
        .country: ["MWG:Country", "XMP-photoshop:Country", "IPTC:Country-PrimaryLocationName"],
        .rating: ["MWG:Rating", "XMP-xmp:Rating"],
        .make: ["IFD0:Make", "ExifIFD:Make", "XMP-tiff:Make"],
        .model: ["IFD0:Model", "XMP-tiff:Model"],
        .orientation: ["MWG:Orientation", "IFD0:Orientation", "XMP-tiff:Orientation"],
    ]

    static func blank(_ v: Any) -> Bool {
        if let s = v as? String { return s.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
        if let a = v as? [Any] { return a.allSatisfy(blank) }
        return false
    }

    /// A language variant ("PNG:Title-es") when the plain tag is absent.
    static func variant(_ r: [String: Any], _ key: String) -> Any? {
        r.first { $0.key.hasPrefix(key + "-") && !blank($0.value) }?.value
    }

    static func value(_ field: UnifiedField, _ r: [String: Any]) -> Any? {
        switch field {
        case .gps:
            if let la = r["Composite:GPSLatitude"] as? NSNumber, let lo = r["Composite:GPSLongitude"] as? NSNumber {
                return [la.doubleValue, lo.doubleValue]
            }
            if let la = r["XMP-exif:GPSLatitude"] as? NSNumber, let lo = r["XMP-exif:GPSLongitude"] as? NSNumber {
                return [la.doubleValue, lo.doubleValue]
            }
            return nil
        case .width, .height:
            guard let size = r["Composite:ImageSize"] as? String else { return nil }
            let parts = size.split(separator: " ")
            guard parts.count >= 2 else { return nil }
            return Int(parts[field == .width ? 0 : 1])
        default:
            for key in sources[field] ?? [] {
                if let v = r[key], !blank(v) { return v }
            }
            if field == .title { return variant(r, "PNG:Title") ?? variant(r, "XMP-dc:Title") }
            return nil
        }
    }

    static func text(_ v: Any) -> String {
        let s: String
        if let a = v as? [Any] { s = a.map { "\($0)" }.joined(separator: ", ") } else { s = "\(v)" }
        return FieldValue.normalize(s)
    }

    /// "2023:06:14 18:32:07.04+01:00" and "2023-06-14T18:32:07.04+01:00" alike.
    static func date(_ s: String) -> String {
        var chars = Array(s.trimmingCharacters(in: .whitespaces))
        var colons = 0
        for i in chars.indices {
            if chars[i] == ":" && colons < 2 && i < 10 { chars[i] = "-"; colons += 1 }
            else if chars[i] == " " && i == 10 { chars[i] = "T" }
        }
        return String(chars)
    }

    /// Whether SiloMerge's value and ExifTool's are the same.
    static func same(_ field: UnifiedField, _ mine: FieldValue, _ theirs: Any) -> Bool {
        switch field {
        case .gps:
            guard case .gps(let la, let lo) = mine, let t = theirs as? [Double] else { return false }
            return abs(la - t[0]) < 1e-6 && abs(lo - t[1]) < 1e-6
        case .width, .height, .orientation, .rating:
            return mine.integer == (theirs as? Int ?? (theirs as? NSNumber)?.intValue)
        case .keywords, .creator:
            let items = (theirs as? [Any])?.map { "\($0)" } ?? ["\(theirs)"]
            return mine.comparisonKey == FieldValue.list(items).comparisonKey
        case .dateCreated:
            return mine.date == date("\(theirs)")
        default:
            return FieldValue.normalize(mine.display) == text(theirs)
        }
    }
}

@Suite("Metadata: files made by real producers, against ExifTool")
struct MetadataRealProducerTests {
    typealias F = MetadataFixture

    /// Where SiloMerge reads differently from ExifTool, on purpose: file → field → why.
    static let deviations: [String: [UnifiedField: String]] = [
        "jpeg/invalid-dates.jpg": [.dateCreated: "'2021:08:19 18:48:53A' is not a date: a note, never a value"],
        "png/invalid-date.png": [.dateCreated: "'31/02/2021 25:61' is not a date: a note, never a value"],
        "xmp/invalid-date.xmp": [.dateCreated: "'2021-02-30' is not a date: a note, never a value"],
        "jpeg/iptc-utf8-no-charset.jpg": [.description: "ExifTool decodes UTF-8 IPTC without CodedCharacterSet as Latin",
                                          .city: "ExifTool decodes UTF-8 IPTC without CodedCharacterSet as Latin"],
        "xmp/nodeid-parsetype.xmp": [.keywords: "ExifTool lists the blank node's rdf:type URI as a keyword"],
        "xmp/rdflib-nodeid.xmp": [.title: "ExifTool reads rdf:_1 as a tag of its own and the rdf:type URI as the title",
                                  .keywords: "ExifTool reads rdf:_N as tags of their own and the rdf:type URI as the keywords"],
        "xmp/rdflib-typed-nodes.xmp": [.title: "ExifTool reads no rdf:_N member", .keywords: "ExifTool reads no rdf:_N member"],
    ]

    @Test("every fixture agrees with ExifTool field by field, but for the listed deviations")
    func agreement() throws {
        let records = try F.exiftool()
        #expect(records.count >= 35)
        var agreed = 0
        var seenFormats: Set<MediaFormat> = []
        for (file, record) in records.sorted(by: { $0.key < $1.key }) {
            let info = try F.inspect(file)
            seenFormats.insert(info.format)
            let mine = F.fields(info)
            for field in UnifiedField.allCases where field != .format {
                let theirs = ExifToolFields.value(field, record)
                let deviation = Self.deviations[file]?[field]
                switch (mine[field], theirs) {
                case (nil, nil):
                    #expect(deviation == nil, "\(file) \(field): listed as a deviation but neither tool has a value")
                case (let m?, let t?):
                    let same = ExifToolFields.same(field, m, t)
                    if let deviation {
                        #expect(!same, "\(file) \(field): listed as a deviation (\(deviation)) but both read \(m)")
                    } else {
                        #expect(same, "\(file) \(field): SiloMerge \(m), ExifTool \(t)")
                        if same { agreed += 1 }
                    }
                case (let m?, nil):
                    #expect(deviation != nil, "\(file) \(field): SiloMerge \(m), ExifTool nothing")
                case (nil, let t?):
                    #expect(deviation != nil, "\(file) \(field): ExifTool \(t), SiloMerge nothing")
                }
            }
        }
        #expect(agreed >= 150)
        #expect(seenFormats.isSuperset(of: [.jpeg, .png, .tiff, .webp, .gif, .psd, .eps, .bmp, .ico, .nef, .dng, .xmp]))
    }

    @Test("the image hash is ExifTool's ImageDataHash (SHA-256) for every fixture ExifTool hashes")
    func imageHashIsExifTools() throws {
        var compared = 0
        for (file, record) in try F.exiftool() {
            guard let expected = record["File:ImageDataHash"] as? String else { continue }
            let info = try F.inspect(file)
            if file == "png/animated.png" {
                // Every APNG frame counts: ExifTool hashes only IDAT (the default image).
                #expect(info.imageSHA256 != nil && info.imageSHA256?.hex != expected)
                continue
            }
            #expect(info.imageSHA256?.hex == expected, "\(file): \(info.problems)")
            compared += 1
        }
        #expect(compared >= 20)
    }

    @Test("same picture, different metadata: a PNG and its `exiftool -all=` copy; a BigTIFF and the classic TIFF of its pages")
    func samePicture() throws {
        let a = try F.inspect("png/ancillary.png"), b = try F.inspect("png/ancillary-stripped.png")
        #expect(try SHA256Hasher.digest(try F.bytes("png/ancillary.png")) != SHA256Hasher.digest(try F.bytes("png/ancillary-stripped.png")))
        #expect(a.imageSHA256 != nil && a.imageSHA256 == b.imageSHA256)
        // The stripped copy lost gAMA/cHRM/pHYs... as well as the text: only IDAT counts.
        let original = try F.bytes("png/ancillary.png"), stripped = try F.bytes("png/ancillary-stripped.png")
        for chunk in ["tEXt", "iTXt", "pHYs"] {
            #expect(original.indexOfBytes(Array(chunk.utf8)) != nil && stripped.indexOfBytes(Array(chunk.utf8)) == nil, "\(chunk)")
        }
        let big = try F.inspect("tiff/bigtiff.tif")
        let classic = try #require(try F.exiftool()["tiff/bigtiff-as-classic.tif"]?["File:ImageDataHash"] as? String)
        #expect(big.imageSHA256?.hex == classic)
    }

    @Test("multi-page TIFF and animations: a change on the last page or frame changes the image hash")
    func everyPageCounts() throws {
        // The third page's strip: the last StripOffsets of the last IFD.
        let tiff = try F.bytes("tiff/multipage.tif")
        let original = try #require(try ImageDataHash.compute(DataByteSource(tiff), format: .tiff))
        let p = TIFFParser(source: DataByteSource(tiff), block: "TIFF")
        var offset = try #require(try p.header())
        var last: TIFFIFD?
        var pages = 0
        while offset != 0, let ifd = try p.ifd(at: offset, name: "IFD") { last = ifd; offset = ifd.next; pages += 1 }
        #expect(pages == 3)
        let stripEntry = try #require(last?[0x0111])
        let strip = try #require(try p.integers(stripEntry, name: "StripOffsets")?.last)
        var changed = tiff
        changed[Int(strip)] ^= 0x01
        #expect(try ImageDataHash.compute(DataByteSource(changed), format: .tiff) != original)

        // APNG: a byte of the second frame's fdAT.
        let apng = try F.bytes("png/animated.png")
        let fdat = try #require(apng.indexOfBytes(Array("fdAT".utf8)))
        var frame = apng
        frame[fdat + 4 + 4 + 10] ^= 0x01     // past the sequence number, inside the zlib data
        #expect(try ImageDataHash.compute(DataByteSource(frame), format: .png) != (try ImageDataHash.compute(DataByteSource(apng), format: .png)))

        // Animated WebP: the second ANMF frame.
        let webp = try F.bytes("webp/animated.webp")
        let firstFrame = try #require(webp.indexOfBytes(Array("ANMF".utf8)))
        let second = try #require(webp.indexOfBytes(Array("ANMF".utf8), from: firstFrame + 4))
        var w = webp
        w[second + 8 + 16 + 12] ^= 0x01
        #expect(try ImageDataHash.compute(DataByteSource(w), format: .webp) != (try ImageDataHash.compute(DataByteSource(webp), format: .webp)))
    }

    @Test("EXIF stored with signed types: orientation, the GPS IFD behind an SLONG pointer, SRATIONAL coordinates")
    func signedTypes() throws {
        let m = try F.read("jpeg/signed-types.jpg")
        #expect(m.first(.orientation, from: .exif)?.value == .integer(6))
        let gps = try #require(m.first(.gps, from: .exif)?.value.gps)
        #expect(abs(gps.latitude - 38.704) < 1e-9 && abs(gps.longitude + 9.14) < 1e-9)
        #expect(m.first(.dateCreated, from: .exif)?.value == .date("2022-05-06T07:08:09"))
        #expect(m.first(.width, from: .exif)?.value == .integer(24))
        #expect(m.first(.height, from: .exif)?.value == .integer(16))
        #expect(m.problems.isEmpty, "\(m.problems)")
    }

    @Test("GPS 0/0 rationals are no position (not 0,0 in the Gulf of Guinea)")
    func zeroOverZeroGPS() throws {
        let m = try F.read("jpeg/gps-zero-rationals.jpg")
        #expect(m.values(for: .gps).isEmpty)
        #expect(m.first(.make, from: .exif)?.value == .text("NoFix Cameras"))
        #expect(m.first(.orientation, from: .exif)?.value == .integer(1))
    }

    @Test("tags outside their usual IFD: ImageDescription and Make in the ExifIFD, DateTimeOriginal in IFD0")
    func tagsElsewhere() throws {
        let m = try F.read("jpeg/tags-elsewhere.jpg")
        #expect(m.first(.description, from: .exif)?.value == .text("Description in the ExifIFD"))
        #expect(m.first(.make, from: .exif)?.value == .text("Elsewhere Optics"))
        #expect(m.first(.dateCreated, from: .exif)?.value == .date("2019-03-04T05:06:07"))
    }

    @Test("EXIF over several APP1 segments is joined: the GPS IFD in a later segment is read")
    func multiSegmentEXIF() throws {
        let bytes = try F.bytes("jpeg/multi-segment-exif.jpg")
        var exifSegments = 0, i = bytes.startIndex
        while let at = bytes.indexOfBytes([0xFF, 0xE1], from: i) {
            if bytes.hasBytes(Array("Exif".utf8), at: at + 4) { exifSegments += 1 }
            i = at + 2
        }
        #expect(exifSegments >= 2)
        let m = MetadataReader.read(DataByteSource(bytes))
        let gps = try #require(m.first(.gps, from: .exif)?.value.gps)
        #expect(abs(gps.latitude - 38.7) < 1e-9 && abs(gps.longitude + 9.14) < 1e-9)
        #expect(m.first(.creator, from: .exif)?.value == .list(["Segment Two"]))
        #expect(m.problems.contains { $0.reason.contains("several APP1 segments") })
    }

    @Test("stray bytes between JPEG segments: resynchronised, every block and the image hash still read")
    func strayBytes() throws {
        let info = try F.inspect("jpeg/stray-bytes.jpg")
        let f = F.fields(info)
        #expect(f[.make] == .text("Stray Bytes Co"))
        #expect(f[.title] == .text("Stray title"))
        #expect(f[.keywords] == .list(["stray", "bytes"]))
        #expect(f[.creator] == .list(["Ann Stray"]))
        #expect(info.width == 32 && info.height == 24)
        #expect(info.imageSHA256 != nil)
        let notes = info.problems.filter { $0.reason.contains("skipped") }
        #expect(notes.count == 2, "\(info.problems)")
        #expect(notes.contains { $0.reason.contains("skipped 3 unknown bytes after the APP1 segment") })
        #expect(notes.contains { $0.reason.contains("skipped 4 unknown bytes after the DQT segment") })
    }

    @Test("bytes after <?xpacket end?>: the stale tail of an older packet is ignored (JPEG APP1, PNG iTXt)")
    func staleXMPTail() throws {
        let j = try F.read("jpeg/xmp-stale-tail.jpg")
        #expect(j.first(.title, from: .xmp)?.value == .text("Current title"))
        #expect(j.first(.keywords, from: .xmp)?.value == .list(["current", "keywords"]))
        #expect(j.problems.isEmpty, "\(j.problems)")
        let p = try F.read("png/xmp-stale-tail.png")
        #expect(p.first(.title, from: .xmp)?.value == .text("PNG current title"))
        #expect(p.first(.creator, from: .xmp)?.value == .list(["Cora Current"]))
        #expect(p.problems.isEmpty, "\(p.problems)")
    }

    @Test("IPTC without CodedCharacterSet: Windows-1252 when not UTF-8, UTF-8 when valid, never a control character")
    func iptcCharacterSets() throws {
        let cp = try F.read("jpeg/iptc-windows-1252.jpg")
        #expect(cp.first(.description, from: .iptc)?.value == .text("Café “déjà vu” – 5€ a ticket"))
        #expect(cp.first(.creator, from: .iptc)?.value == .list(["Zoë Œuvre"]))
        #expect(cp.first(.city, from: .iptc)?.value == .text("Málaga"))
        let u8 = try F.read("jpeg/iptc-utf8-no-charset.jpg")
        #expect(u8.first(.city, from: .iptc)?.value == .text("Zürich"))
        #expect(u8.first(.description, from: .iptc)?.value == .text("Grüße aus Zürich – 5 €"))
        for m in [cp, u8] {
            for v in m.values {
                let text = v.value.display + v.raw
                #expect(!text.unicodeScalars.contains { ($0.value < 0x20 && $0.value != 0x0A && $0.value != 0x09 && $0.value != 0x0D) || (0x7F...0x9F).contains($0.value) },
                        "\(v.tag): control character in \(text.debugDescription)")
            }
        }
    }

    @Test("invalid dates are notes, never values")
    func invalidDates() throws {
        let info = try F.inspect("jpeg/invalid-dates.jpg")
        #expect(!info.values.contains { $0.field == .dateCreated })
        #expect(info.problems.contains { $0.reason.contains("DateTimeOriginal '2021:08:19 18:48:53A' is not a date") })
        #expect(F.fields(info)[.title] == .text("Bad dates"))
        let png = try F.inspect("png/invalid-date.png")
        #expect(!png.values.contains { $0.field == .dateCreated })
        #expect(png.problems.contains { $0.reason.contains("CreationTime '31/02/2021 25:61' is not a date") })
        let xmp = try F.inspect("xmp/invalid-date.xmp")
        #expect(!xmp.values.contains { $0.field == .dateCreated })
        #expect(xmp.problems.contains { $0.reason.contains("XMP-photoshop:DateCreated '2021-02-30' is not a date") })
    }

    @Test("ImageMagick's 'Raw profile type exif|iptc|xmp' PNG chunks are decoded")
    func imageMagickProfiles() throws {
        let m = try F.read("png/imagemagick-profiles.png")
        for keyword in ["Raw profile type exif", "Raw profile type iptc", "Raw profile type xmp", "Raw profile type 8bim"] {
            #expect(try F.bytes("png/imagemagick-profiles.png").indexOfBytes(Array(keyword.utf8)) != nil, "\(keyword)")
        }
        #expect(m.first(.make, from: .exif)?.value == .text("Profile Camera"))
        #expect(m.first(.orientation, from: .exif)?.value == .integer(3))
        #expect(m.first(.dateCreated, from: .exif)?.value == .date("2020-02-02T10:11:12"))
        #expect(m.first(.keywords, from: .iptc)?.value == .list(["imagemagick", "profile"]))
        #expect(m.first(.city, from: .iptc)?.value == .text("Porto"))
        #expect(m.first(.title, from: .xmp)?.value == .text("Profiles in PNG"))
        #expect(m.first(.rights, from: .xmp)?.value == .text("(c) Profile Owner"))
        #expect(m.problems.isEmpty, "\(m.problems)")
    }

    @Test("PNG text keywords in any case and under ExifTool's names; Comment is not a description")
    func pngKeywords() throws {
        let m = try F.read("png/text-keywords.png")
        #expect(m.first(.creator, from: .png)?.value == .list(["Lower Case Author"]))
        #expect(m.first(.dateCreated, from: .png)?.value == .date("2023-06-14T18:30:00"))
        #expect(m.first(.rights, from: .png)?.value == .text("© 2023 Keyword Owner"))
        #expect(m.first(.title, from: .png)?.value == .text("Título en UTF-8"))
        #expect(m.values(for: .description).isEmpty)
    }

    @Test("BigTIFF: 8-byte offsets and 20-byte entries, both pages")
    func bigTIFF() throws {
        let info = try F.inspect("tiff/bigtiff.tif")
        let f = F.fields(info)
        #expect(info.format == .tiff)
        #expect(f[.description] == .text("BigTIFF description"))
        #expect(f[.creator] == .list(["Ada Lovelace"]))
        #expect(f[.rights] == .text("(c) 2024 Big Owner"))
        #expect(f[.make] == .text("Big Camera"))
        #expect(f[.orientation] == .integer(8))
        #expect(info.width == 16 && info.height == 12)
        #expect(info.problems.isEmpty, "\(info.problems)")
    }

    @Test("raw files: told apart without their names; the size is the full-resolution SubIFD's, not the thumbnail's")
    func rawFormats() throws {
        for (file, format) in [("raw/nikon-like.nef", MediaFormat.nef), ("raw/adobe-like.dng", .dng)] {
            let bytes = try F.bytes(file)
            let m = MetadataReader.read(DataByteSource(bytes))
            #expect(m.format == format, "\(file)")
            #expect(m.width == 64 && m.height == 48, "\(file): \(String(describing: m.width))x\(String(describing: m.height))")
            // IFD0 holds the 16x12 thumbnail.
            let p = TIFFParser(source: DataByteSource(bytes), block: "TIFF")
            let ifd0Offset = try #require(try p.header())
            let ifd0 = try #require(try p.ifd(at: ifd0Offset, name: "IFD0"))
            #expect(try p.integer(ifd0[0x0100], name: "w") == 16)
        }
        let dng = try F.read("raw/adobe-like.dng")
        #expect(dng.first(.title, from: .xmp)?.value == .text("Digital negative"))
        #expect(dng.first(.make, from: .exif)?.value == .text("Open Camera Co"))
        let nef = try F.read("raw/nikon-like.nef")
        #expect(nef.first(.dateCreated, from: .exif)?.value == .date("2004-07-01T10:00:00"))
    }

    @Test("PSD and PSB: dimensions, IPTC, EXIF and XMP image resources")
    func photoshop() throws {
        let psd = try F.read("psd/photoshop.psd")
        #expect(psd.format == .psd && psd.width == 26 && psd.height == 18)
        #expect(psd.first(.title, from: .iptc)?.value == .text("PSD object"))
        #expect(psd.first(.keywords, from: .iptc)?.value == .list(["psd", "resources"]))
        #expect(psd.first(.make, from: .exif)?.value == .text("Layered Inc"))
        #expect(psd.first(.dateCreated, from: .exif)?.value == .date("2018-08-08T08:08:08"))
        #expect(psd.first(.creator, from: .xmp)?.value == .list(["Pat Photoshop"]))
        #expect(psd.first(.city, from: .xmp)?.value == .text("Faro"))
        let psb = try F.read("psd/large-document.psb")
        #expect(psb.format == .psd && psb.width == 26 && psb.height == 18)
        #expect(psb.first(.title, from: .xmp)?.value == .text("Large document"))
    }

    @Test("EPS: DSC comments and the XMP packet, also behind a DOS EPS header")
    func eps() throws {
        for file in ["eps/pillow.eps", "eps/dos-tiff-preview.eps"] {
            let m = try F.read(file)
            #expect(m.format == .eps, "\(file)")
            #expect(m.width == 20 && m.height == 10, "\(file)")
            #expect(m.first(.title, from: .postscript)?.value == .text("EPS title"), "\(file)")
            #expect(m.first(.creator, from: .postscript)?.value == .list(["Ann Author"]), "\(file)")
            #expect(m.first(.rights, from: .postscript)?.value == .text("(c) Ann"), "\(file)")
            #expect(m.first(.keywords, from: .xmp)?.value == .list(["alpha", "beta"]), "\(file)")
            #expect(m.first(.description, from: .xmp)?.value == .text("XMP in EPS"), "\(file)")
            // %%Creator is the application that wrote the file, not its author.
            #expect(!m.values.contains { $0.raw.contains("PIL") }, "\(file)")
        }
    }

    @Test("GIF XMP application extension; BMP, ICO and CUR dimensions")
    func gifBMPICO() throws {
        let gif = try F.read("gif/xmp.gif")
        #expect(gif.first(.title, from: .xmp)?.value == .text("GIF title"))
        #expect(gif.first(.keywords, from: .xmp)?.value == .list(["gif"]))
        for file in ["bmp/v5.bmp", "bmp/v3.bmp", "bmp/os2.bmp"] {
            let m = try F.read(file)
            #expect(m.format == .bmp && m.width == 33 && m.height == 17, "\(file)")
        }
        let ico = try F.read("ico/two-sizes.ico")
        #expect(ico.format == .ico && ico.width == 48 && ico.height == 48)
        let cur = try F.read("ico/cursor.cur")
        #expect(cur.format == .ico && cur.width == 32 && cur.height == 32)
    }

    @Test("PCX and Netpbm (PBM, PGM, PPM, plain and binary, comments in the header) dimensions")
    func pcxNetpbm() throws {
        let pcx = try F.read("pcx/im.pcx")
        #expect(pcx.format == .pcx && pcx.width == 33 && pcx.height == 17)
        for file in ["pnm/raw.ppm", "pnm/ascii.pgm", "pnm/raw.pbm", "pnm/comments.ppm"] {
            let m = try F.read(file)
            #expect(m.format == .pnm && m.width == 33 && m.height == 17 && m.problems.isEmpty, "\(file): \(m.problems)")
        }
        // Text that merely starts like a Netpbm or PCX header is not taken for one: the whole
        // header must parse (and a PCX have its 128 bytes).
        let pcxLike = [UInt8]([0x0A, 5, 1, 8]) + [UInt8](repeating: 0, count: 66)
        for bytes in ["P1 is the first priority\n", "P3\n# notes\nsee below\n", "P1 2 apples\n", "P3 2023 budget review\n",
                      "P6 12 rue de la Paix\n", "P5 640 480 70000\n", "P6\n33 ", "\n\u{1}\u{1}\u{8} not a picture"].map({ Array($0.utf8) }) + [pcxLike] {
            #expect(MetadataReader.read(DataByteSource(bytes)).format == .other, "\(String(decoding: bytes, as: UTF8.self))")
        }
        // A header past the sniff's first 64 bytes (a long comment) is still found.
        let long = Array(("P2\n# " + String(repeating: "c", count: 200) + "\n33 17\n255\n0 0 0").utf8)
        let lm = MetadataReader.read(DataByteSource(long))
        #expect(lm.format == .pnm && lm.width == 33 && lm.height == 17)
        // A size of zero: a note, no dimensions.
        let zero = MetadataReader.read(DataByteSource(Array("P5 0 17 255\n".utf8)))
        #expect(zero.format == .pnm && zero.width == nil && zero.problems.contains { $0.reason.contains("size of 0 × 17") }, "\(zero.problems)")
    }

    @Test("XMP blank nodes: rdf:nodeID references, nodes typed as containers, rdf:_N members, parseType Resource")
    func rdfForms() throws {
        let m = try F.read("xmp/nodeid-parsetype.xmp")
        #expect(m.first(.keywords, from: .sidecar)?.value == .list(["gamma", "delta"]))
        #expect(m.first(.title, from: .sidecar)?.value == .text("Node title"))
        #expect(m.first(.city, from: .sidecar)?.value == .text("Lisbon"))
        #expect(m.first(.creator, from: .sidecar)?.value == .list(["Ann Qualified"]))
        for file in ["xmp/rdflib-nodeid.xmp", "xmp/rdflib-typed-nodes.xmp"] {
            let r = try F.read(file)
            #expect(r.first(.keywords, from: .sidecar)?.value == .list(["alpha", "beta"]), "\(file)")
            #expect(r.first(.title, from: .sidecar)?.value == .text("Blank node title"), "\(file)")
            #expect(r.problems.isEmpty, "\(file): \(r.problems)")
        }
    }
}
