import Foundation
import Testing
@testable import SiloMergeCore
import SiloMergeTestSupport

/// Every fixture asset read with `MetadataReader`, compared with what exiftool 12.57 recorded in
/// Fixtures/expected/exiftool.json (`-n`, numeric values), tag by tag, in both directions: every
/// value exiftool reports for the mapped tags must be read, and nothing else.
@Suite("Metadata: fixtures against exiftool")
struct MetadataExifToolComparisonTests {
    /// exiftool's tag → SiloMerge's tag and the kind of value.
    enum Kind { case text, list, integer, exifDate, isoFromExifTool, utcFromExifTool }
    static let mapping: [String: (String, Kind)] = [
        "IFD0:ImageDescription": ("EXIF:ImageDescription", .text),
        "IFD0:Make": ("EXIF:Make", .text),
        "IFD0:Model": ("EXIF:Model", .text),
        "IFD0:Orientation": ("EXIF:Orientation", .integer),
        "IFD0:Artist": ("EXIF:Artist", .list),
        "IFD0:Copyright": ("EXIF:Copyright", .text),
        "ExifIFD:ExifImageWidth": ("EXIF:ExifImageWidth", .integer),
        "ExifIFD:ExifImageHeight": ("EXIF:ExifImageHeight", .integer),
        "ExifIFD:DateTimeOriginal": ("EXIF:DateTimeOriginal", .exifDate),
        "IPTC:ObjectName": ("IPTC:ObjectName", .text),
        "IPTC:Caption-Abstract": ("IPTC:Caption-Abstract", .text),
        "IPTC:Keywords": ("IPTC:Keywords", .list),
        "IPTC:By-line": ("IPTC:By-line", .list),
        "IPTC:CopyrightNotice": ("IPTC:CopyrightNotice", .text),
        "IPTC:City": ("IPTC:City", .text),
        "IPTC:Province-State": ("IPTC:Province-State", .text),
        "IPTC:Country-PrimaryLocationName": ("IPTC:Country-PrimaryLocationName", .text),
        "XMP-dc:Title": ("XMP-dc:title", .text),
        "XMP-dc:Description": ("XMP-dc:description", .text),
        "XMP-dc:Subject": ("XMP-dc:subject", .list),
        "XMP-dc:Creator": ("XMP-dc:creator", .list),
        "XMP-dc:Rights": ("XMP-dc:rights", .text),
        "XMP-photoshop:City": ("XMP-photoshop:City", .text),
        "XMP-photoshop:State": ("XMP-photoshop:State", .text),
        "XMP-photoshop:Country": ("XMP-photoshop:Country", .text),
        "XMP-photoshop:DateCreated": ("XMP-photoshop:DateCreated", .isoFromExifTool),
        "XMP-xmp:CreateDate": ("XMP-xmp:CreateDate", .isoFromExifTool),
        "XMP-xmp:Rating": ("XMP-xmp:Rating", .integer),
        "XMP-tiff:Make": ("XMP-tiff:Make", .text),
        "XMP-tiff:Model": ("XMP-tiff:Model", .text),
        "PNG:Title": ("PNG:Title", .text),
        "PNG:Author": ("PNG:Author", .list),
        "PNG:Description": ("PNG:Description", .text),
        "PNG:Copyright": ("PNG:Copyright", .text),
        "PNG:CreationTime": ("PNG:CreationTime", .isoFromExifTool),
        "PDF:Title": ("PDF:Title", .text),
        "PDF:Author": ("PDF:Author", .list),
        "PDF:Subject": ("PDF:Subject", .text),
        "PDF:Keywords": ("PDF:Keywords", .list),
        "PDF:CreateDate": ("PDF:CreateDate", .isoFromExifTool),
        // QuickTime times are UTC; exiftool shows them without a zone.
        "QuickTime:CreateDate": ("QuickTime:CreateDate", .utcFromExifTool),
    ]

    static let dimensionKeys: [(String, String)] = [
        ("File:ImageWidth", "File:ImageHeight"), ("PNG:ImageWidth", "PNG:ImageHeight"),
        ("GIF:ImageWidth", "GIF:ImageHeight"), ("RIFF:ImageWidth", "RIFF:ImageHeight"),
        ("IFD0:ImageWidth", "IFD0:ImageHeight"), ("Track1:ImageWidth", "Track1:ImageHeight"),
    ]

    static func format(_ record: [String: Any]) -> MediaFormat {
        switch record["File:FileType"] as? String {
        case "JPEG": .jpeg
        case "PNG": .png
        case "TIFF": .tiff
        case "GIF": .gif
        case "PDF": .pdf
        case "MP4": .mp4
        case "MOV": .mov
        case "HEIC": .heic
        case "WEBP", "Extended WEBP": .webp
        case "XMP": .xmp
        default: .other
        }
    }

    /// "2023:06:14 18:32:07.042+01:00" → "2023-06-14T18:32:07.042+01:00".
    static func iso(_ exiftool: String) -> String {
        var chars = Array(exiftool)
        var colons = 0
        for i in chars.indices {
            if chars[i] == ":" && colons < 2 { chars[i] = "-"; colons += 1 }
            else if chars[i] == " " { chars[i] = "T"; break }
        }
        return String(chars)
    }

    static func strings(_ v: Any) -> [String] {
        if let a = v as? [Any] { return a.map { "\($0)" } }
        return ["\(v)"]
    }

    /// The values exiftool reports, as SiloMerge tags and normalised values.
    static func expected(_ r: [String: Any]) -> [String: FieldValue] {
        var out: [String: FieldValue] = [:]
        for (key, value) in r {
            guard let (tag, kind) = mapping[key] else { continue }
            switch kind {
            case .text: out[tag] = .text("\(value)")
            case .list: out[tag] = .list(strings(value))
            case .integer: out[tag] = .integer((value as? NSNumber)?.intValue ?? -1)
            case .isoFromExifTool: out[tag] = .date(iso("\(value)"))
            case .utcFromExifTool:
                if "\(value)".hasPrefix("0000") { continue }   // exiftool's "no date"
                out[tag] = .date(iso("\(value)") + "Z")
            case .exifDate:
                var d = iso("\(value)")
                if let sub = r["ExifIFD:SubSecTimeOriginal"] { d += ".\(sub)" }
                if let off = r["ExifIFD:OffsetTimeOriginal"] as? String { d += off }
                out[tag] = .date(d)
            }
        }
        if let date = r["IPTC:DateCreated"] as? String {
            var d = iso(date)
            if let time = r["IPTC:TimeCreated"] as? String { d += "T" + time }
            out["IPTC:DateCreated"] = .date(d)
        }
        if let lat = (r["GPS:GPSLatitude"] as? NSNumber)?.doubleValue,
           let lon = (r["GPS:GPSLongitude"] as? NSNumber)?.doubleValue {
            let la = (r["GPS:GPSLatitudeRef"] as? String) == "S" ? -lat : lat
            let lo = (r["GPS:GPSLongitudeRef"] as? String) == "W" ? -lon : lon
            out["EXIF:GPSLatitude/GPSLongitude"] = .gps(latitude: la, longitude: lo)
        }
        if let lat = (r["XMP-exif:GPSLatitude"] as? NSNumber)?.doubleValue,
           let lon = (r["XMP-exif:GPSLongitude"] as? NSNumber)?.doubleValue {
            out["XMP-exif:GPSLatitude/GPSLongitude"] = .gps(latitude: lat, longitude: lon)
        }
        // TIFF files: SiloMerge reports IFD0 ImageWidth/ImageLength as EXIF pixel dimensions
        // when there is no ExifImageWidth/Height.
        if format(r) == .tiff {
            if r["ExifIFD:ExifImageWidth"] == nil, let w = r["IFD0:ImageWidth"] as? NSNumber { out["EXIF:ImageWidth"] = .integer(w.intValue) }
            if r["ExifIFD:ExifImageHeight"] == nil, let h = r["IFD0:ImageHeight"] as? NSNumber { out["EXIF:ImageLength"] = .integer(h.intValue) }
        }
        return out
    }

    static func same(_ a: FieldValue, _ b: FieldValue) -> Bool {
        if case .gps(let la, let lo) = a, case .gps(let lb, let ob) = b {
            return abs(la - lb) < 1e-6 && abs(lo - ob) < 1e-6
        }
        return a == b
    }

    @Test("every fixture asset matches exiftool: format, dimensions, EXIF, IPTC, XMP, PNG, PDF values")
    func everyAssetMatchesExifTool() throws {
        let records = try Fixture.exiftool()
        let assets = try Fixture.assets()
        #expect(assets.count >= 20)
        var comparisons = 0
        var formatsCompared: Set<MediaFormat> = []
        var tagsCompared: Set<String> = []
        for asset in assets {
            let record = try #require(records[asset], "no exiftool record for \(asset)")
            let m = try Fixture.read(asset)
            // Format, from the magic bytes.
            #expect(m.format == Self.format(record), "\(asset): format")
            comparisons += 1
            // Pixel dimensions from the image header.
            for (wk, hk) in Self.dimensionKeys {
                guard let w = record[wk] as? NSNumber, let h = record[hk] as? NSNumber else { continue }
                #expect(m.width == w.intValue, "\(asset): \(wk)")
                #expect(m.height == h.intValue, "\(asset): \(hk)")
                comparisons += 2
                break
            }
            // Every mapped value, both ways.
            let expected = Self.expected(record)
            var actual: [String: FieldValue] = [:]
            for v in m.values where v.origin != .header {
                #expect(actual[v.tag] == nil, "\(asset): \(v.tag) reported twice")
                actual[v.tag] = v.value
            }
            for (tag, value) in expected {
                guard let mine = actual[tag] else {
                    Issue.record("\(asset): \(tag) = \(value) not read")
                    continue
                }
                #expect(Self.same(mine, value), "\(asset): \(tag): read \(mine), exiftool says \(value)")
                comparisons += 1
                formatsCompared.insert(m.format)
                tagsCompared.insert(tag)
            }
            for (tag, value) in actual where expected[tag] == nil {
                Issue.record("\(asset): read \(tag) = \(value), which exiftool does not report")
            }
            // The IPTC digest state agrees with exiftool's CurrentIPTCDigest vs IPTCDigest.
            if let stored = record["Photoshop:IPTCDigest"] as? String {
                let current = record["File:CurrentIPTCDigest"] as? String
                #expect(m.iptcDigest == (stored == current ? .matches : .stale), "\(asset): IPTC digest")
            } else {
                #expect(m.iptcDigest == .absent, "\(asset): IPTC digest")
            }
            comparisons += 1
            #expect(m.problems.isEmpty, "\(asset): unexpected problems \(m.problems)")
        }
        #expect(comparisons >= 40)
        #expect(formatsCompared.isSuperset(of: [.jpeg, .png, .tiff, .webp, .gif, .pdf, .mp4]), "\(formatsCompared)")
        for tag in ["EXIF:GPSLatitude/GPSLongitude", "IPTC:DateCreated", "EXIF:DateTimeOriginal", "PNG:CreationTime",
                    "PDF:Keywords", "XMP-exif:GPSLatitude/GPSLongitude", "XMP-xmp:Rating", "IPTC:Keywords"] {
            #expect(tagsCompared.contains(tag), "\(tag) never compared")
        }
    }

    @Test("both TIFF byte orders are read")
    func tiffByteOrders() throws {
        let truth = try Fixture.truth()
        let orders = try #require(truth["tiff_byte_order"] as? [String: String])
        #expect(Set(orders.values) == ["II", "MM"])
        for (file, order) in orders {
            let bytes = try Fixture.bytes(file)
            #expect(String(decoding: bytes[0..<2], as: UTF8.self) == order)
            let m = MetadataReader.read(DataByteSource(bytes))
            #expect(m.format == .tiff)
            #expect(m.first(.description, from: .exif) != nil, "\(file)")
            #expect(m.first(.creator, from: .exif) != nil, "\(file)")
            #expect(m.first(.rights, from: .exif) != nil, "\(file)")
            #expect(m.first(.title, from: .xmp) != nil, "\(file): XMP in tag 700")
        }
    }

    @Test("the extended XMP JPEG: the ~70 KB description is reassembled from its chunks")
    func extendedXMP() throws {
        let truth = try Fixture.truth()
        let info = try #require(truth["extended_xmp"] as? [String: String])
        let file = try #require(info["file"])
        let m = try Fixture.read(file)
        let description = try #require(m.first(.description, from: .xmp)?.value.text)
        #expect(description.utf8.count > 60_000)
        #expect(description.hasPrefix("Northwind glossary. 0001."))
        let records = try Fixture.exiftool()
        #expect(description == records[file]?["XMP-dc:Description"] as? String)
        // The standard packet's own values are still there.
        #expect(m.first(.title, from: .xmp)?.value == .text("Northwind Glossary Poster"))
        #expect(m.problems.isEmpty)
    }

    @Test("the MP4 XMP comes from the top-level uuid box truth.json names")
    func mp4UUIDBox() throws {
        let truth = try Fixture.truth()
        let info = try #require(truth["mp4_xmp_uuid_box"] as? [String: Any])
        let files = try #require(info["files"] as? [String])
        let offset = try #require(info["offset"] as? Int)
        for file in files {
            var bytes = try Fixture.bytes(file)
            #expect(MetadataReader.read(DataByteSource(bytes)).first(.gps, from: .xmp) != nil)
            // Break the box's UUID: the structure no longer holds XMP, and the file is not
            // searched for a packet unless asked (scan --scan-for-xmp).
            bytes[offset + 8] ^= 0xFF
            #expect(MetadataReader.read(DataByteSource(bytes)).first(.title, from: .xmp) == nil)
            let m = MetadataReader.read(DataByteSource(bytes), options: MetadataReadOptions(scanForXMP: true))
            #expect(m.first(.title, from: .xmp)?.value == .text("Summer launch teaser"))
        }
    }
}
