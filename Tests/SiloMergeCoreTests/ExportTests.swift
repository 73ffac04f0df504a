import Foundation
import Testing
@testable import SiloMergeCore
#if canImport(FoundationXML)
import FoundationXML
#endif
import SiloMergeTestSupport

@Suite("Export: jsonl, csv, exiftool, xmp, bagit")
struct ExportTests {
    // MARK: Assets built by hand

    static let shaA = SHA256Digest(hex: String(repeating: "a1", count: 32))!
    static let shaB = SHA256Digest(hex: String(repeating: "b2", count: 32))!
    static let shaC = SHA256Digest(hex: String(repeating: "0c", count: 32))!
    static let caption = "Caption with </x:xmpmeta> & <b>bold</b> \"quoted\"\nsecond line"
    static let latin1Name: [UInt8] = Array("hr/caf".utf8) + [0xE9] + Array(".jpg".utf8)
    /// 2023-06-14T18:30:00.123456789Z
    static let mtime: Int64 = 1_686_767_400_123_456_789

    static func copy(_ silo: String, _ priority: Int, _ path: RelativePath, root: String = "/srv", size: Int64 = 1000) -> AssetCopy {
        AssetCopy(silo: silo, siloPriority: priority, path: path, size: size, mtimeNs: mtime, uid: 1000, gid: 1000,
                  device: 1, inode: UInt64(path.bytes.count), absolutePath: FilePath(bytes: Array("\(root)/\(silo)/".utf8) + path.bytes))
    }

    static func field(_ f: UnifiedField, _ v: FieldValue?, _ status: FieldStatus = .agreed, rule: DecisionRule = .policy(.priority),
                      sources: [FieldSource]? = nil) -> ReconciledField {
        let src = sources ?? [FieldSource(silo: "marketing", path: RelativePath("campaigns/hero.jpg"), origin: .xmp,
                                          tag: "XMP-dc:\(f.rawValue)", raw: v?.display ?? "", value: v ?? .text(""))]
        return ReconciledField(field: f, value: v, status: status, rule: rule, sources: src)
    }

    /// A: a JPEG in two silos (one path not UTF-8), every descriptive field, rights in conflict.
    static func assetA(copies: [AssetCopy]? = nil) -> ReconciledAsset {
        let rightsSources = [
            FieldSource(silo: "marketing", path: RelativePath("campaigns/hero.jpg"), origin: .xmp, tag: "XMP-dc:rights",
                        raw: "© Northwind", value: .text("© Northwind")),
            FieldSource(silo: "hr", path: RelativePath(bytes: latin1Name), origin: .iptc, tag: "IPTC:CopyrightNotice",
                        raw: "CC-BY", value: .text("CC-BY")),
        ]
        return ReconciledAsset(
            sha256: shaA, size: 1000, format: .jpeg, width: 640, height: 480, imageSHA256: shaC,
            copies: copies ?? [copy("marketing", 1, RelativePath("campaigns/hero.jpg")), copy("hr", 2, RelativePath(bytes: latin1Name))],
            fields: [
                field(.title, .text("Summer launch")),
                field(.description, .text(caption)),
                field(.keywords, .list(["beach", "summer", "=SUM(A1)"]), .resolved, rule: .policy(.union)),
                field(.creator, .list(["Ana Ribeiro", "Bo Li"])),
                field(.rights, nil, .conflict, rule: .policy(.conflict), sources: rightsSources),
                field(.dateCreated, .date("2023-06-14T18:30:00+01:00")),
                field(.city, .text("Sydney")),
                field(.country, .text("Australia")),
                field(.gps, .gps(latitude: -33.8688, longitude: 151.2093)),
                field(.rating, .integer(4)),
                field(.make, .text("Canon")),
            ])
    }

    /// B: a formula in the title, a negative rating, a path with a newline and a percent sign.
    static func assetB() -> ReconciledAsset {
        ReconciledAsset(
            sha256: shaB, size: 20, format: .png, width: 10, height: 10,
            copies: [copy("training", 3, RelativePath("odd\nname 100%.png"), size: 20)],
            fields: [
                field(.title, .text("=cmd|' /C calc'!A0")),
                field(.description, .text("-2+3 \u{1}bell\u{FFFE}")),
                field(.rating, .integer(-1)),
                field(.dateCreated, .date("14/06/2023")),
            ])
    }

    /// C: nothing descriptive (a PDF with only a make), no dimensions.
    static func assetC() -> ReconciledAsset {
        ReconciledAsset(sha256: shaC, size: 5, format: .pdf, copies: [copy("hr", 2, RelativePath("policies/a.pdf"), size: 5)],
                        fields: [field(.make, .text("Acme"))])
    }

    static var assets: [ReconciledAsset] { [assetA(), assetB(), assetC()] }

    // MARK: Helpers

    @discardableResult
    static func export(_ format: ExportFormat, _ assets: [ReconciledAsset], to destination: ExportDestination,
                       options: ExportOptions = ExportOptions()) throws -> ExportSummary {
        let writer = try ExportWriter(format: format, destination: destination, options: options)
        for a in assets { try writer.write(a) }
        return try writer.finish()
    }

    static func exportFile(_ format: ExportFormat, _ assets: [ReconciledAsset], in tree: TestTree, name: String? = nil) throws -> (Data, ExportSummary) {
        let url = tree.url(name ?? "out.\(format.rawValue)")
        let summary = try export(format, assets, to: .file(FilePath(url.path)))
        return (try Data(contentsOf: url), summary)
    }

    /// RFC 4180 records (CRLF between records, quotes doubled inside quoted fields).
    static func parseCSV(_ text: String) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var fieldText = ""
        var quoted = false
        let scalars = Array(text.unicodeScalars)
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            if quoted {
                if c == "\"" {
                    if i + 1 < scalars.count && scalars[i + 1] == "\"" { fieldText += "\""; i += 1 } else { quoted = false }
                } else { fieldText.unicodeScalars.append(c) }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                record.append(fieldText); fieldText = ""
            } else if c == "\r" && i + 1 < scalars.count && scalars[i + 1] == "\n" {
                record.append(fieldText); fieldText = ""
                records.append(record); record = []
                i += 1
            } else {
                fieldText.unicodeScalars.append(c)
            }
            i += 1
        }
        if !fieldText.isEmpty || !record.isEmpty { record.append(fieldText); records.append(record) }
        return records
    }

    /// Collects the text of XML elements by qualified name; `rdf:li` texts go to their property.
    final class XMLCollector: NSObject, XMLParserDelegate {
        var stack: [String] = []
        var text = ""
        var values: [String: [String]] = [:]
        var elements: [String] = []

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            stack.append(name); elements.append(name); text = ""
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            stack.removeLast()
            if name == "rdf:li", stack.count >= 2 {
                values[stack[stack.count - 2], default: []].append(text)
            } else if ["photoshop:DateCreated", "photoshop:City", "photoshop:State", "photoshop:Country",
                        "exif:GPSLatitude", "exif:GPSLongitude", "xmp:Rating"].contains(name) {
                values[name, default: []].append(text)
            }
            text = ""
        }
    }

    static func parseXML(_ data: Data) -> (ok: Bool, collector: XMLCollector) {
        let collector = XMLCollector()
        let parser = XMLParser(data: data)
        parser.shouldResolveExternalEntities = false
        parser.delegate = collector
        return (parser.parse(), collector)
    }

    static let exiftoolPath = "/usr/bin/exiftool"
    static var hasExifTool: Bool { FileManager.default.isExecutableFile(atPath: exiftoolPath) }

    /// Runs exiftool; returns its standard output, failing the test on a non-zero status.
    static func exiftool(_ arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: exiftoolPath)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "exiftool \(arguments): \(errors)")
        return data
    }

    // MARK: jsonl

    @Test("jsonl: one object per line, values in their JSON shapes, exact bytes of non-UTF-8 paths")
    func jsonl() throws {
        let tree = try TestTree()
        let (data, summary) = try Self.exportFile(.jsonl, Self.assets, in: tree)
        #expect(summary.assets == 3 && summary.copies == 4 && summary.records == 3 && summary.skippedTotal == 0)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.hasSuffix("}\n"))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == 3)
        let objects = try lines.map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }

        let a = objects[0]
        #expect(a["sha256"] as? String == Self.shaA.hex)
        #expect(a["size"] as? Int == 1000 && a["format"] as? String == "jpeg")
        #expect(a["width"] as? Int == 640 && a["height"] as? Int == 480)
        #expect(a["image_sha256"] as? String == Self.shaC.hex)
        let copies = try #require(a["copies"] as? [[String: Any]])
        #expect(copies.map { $0["silo"] as? String } == ["marketing", "hr"])
        #expect(copies[0]["path"] as? String == "campaigns/hero.jpg" && copies[0]["path_b64"] == nil)
        #expect(copies[0]["mtime"] as? String == "2023-06-14T18:30:00.123Z")
        #expect((copies[0]["mtime_ns"] as? NSNumber)?.int64Value == Self.mtime)
        // The oldest copy's mtime, under its own name (never a creation date).
        #expect(a["file_modified"] as? String == "2023-06-14T18:30:00.123Z")
        #expect(copies[1]["path"] as? String == "hr/caf\\xE9.jpg")
        let b64 = try #require(copies[1]["path_b64"] as? String)
        #expect(Data(base64Encoded: b64).map([UInt8].init) == Self.latin1Name)

        let fields = try #require(a["fields"] as? [String: [String: Any]])
        #expect(Set(fields.keys) == ["title", "description", "keywords", "creator", "rights", "date_created", "city",
                                     "country", "gps", "rating", "make"])
        #expect(fields["title"]?["value"] as? String == "Summer launch")
        #expect(fields["title"]?["status"] as? String == "agreed" && fields["title"]?["rule"] as? String == "priority")
        #expect(fields["description"]?["value"] as? String == Self.caption)
        #expect(fields["keywords"]?["value"] as? [String] == ["beach", "summer", "=SUM(A1)"])
        #expect(fields["keywords"]?["rule"] as? String == "union")
        #expect(fields["rating"]?["value"] as? Int == 4)
        #expect(fields["date_created"]?["value"] as? String == "2023-06-14T18:30:00+01:00")
        let gps = try #require(fields["gps"]?["value"] as? [String: Double])
        #expect(gps == ["latitude": -33.8688, "longitude": 151.2093])
        let rights = try #require(fields["rights"])
        #expect(rights["value"] is NSNull && rights["status"] as? String == "conflict")
        let sources = try #require(rights["sources"] as? [[String: Any]])
        #expect(sources.map { $0["value"] as? String } == ["© Northwind", "CC-BY"])
        #expect(sources[0]["origin"] as? String == "xmp" && sources[0]["tag"] as? String == "XMP-dc:rights")
        #expect(sources[1]["raw"] as? String == "CC-BY" && Data(base64Encoded: sources[1]["path_b64"] as? String ?? "").map([UInt8].init) == Self.latin1Name)

        let b = objects[1]
        #expect((b["copies"] as? [[String: Any]])?.first?["path"] as? String == "odd\nname 100%.png")
        let c = objects[2]
        #expect(c["width"] == nil && c["height"] == nil && c["image_sha256"] == nil)
        #expect(Array((c["fields"] as? [String: Any] ?? [:]).keys) == ["make"])
    }

    // MARK: csv

    @Test("csv: BOM, CRLF, quoted newlines, formulas neutralised, parses back")
    func csv() throws {
        let tree = try TestTree()
        let (data, summary) = try Self.exportFile(.csv, Self.assets, in: tree)
        #expect(summary.records == 3)
        let bytes = [UInt8](data)
        #expect(Array(bytes.prefix(3)) == [0xEF, 0xBB, 0xBF])
        #expect(bytes.suffix(2) == [0x0D, 0x0A])
        // Every LF outside a quoted cell ends a record with CRLF; the caption's LF stays inside quotes.
        let text = String(decoding: bytes.dropFirst(3), as: UTF8.self)
        #expect(text.hasPrefix(ExportWriter.csvColumns.joined(separator: ",") + "\r\n"))
        #expect(text.contains("\"Caption with </x:xmpmeta> & <b>bold</b> \"\"quoted\"\"\nsecond line\""))

        let records = Self.parseCSV(text)
        #expect(records.count == 4)
        #expect(records.allSatisfy { $0.count == 25 })
        let header = records[0]
        func row(_ i: Int) -> [String: String] { Dictionary(uniqueKeysWithValues: zip(header, records[i])) }
        let a = row(1), b = row(2), c = row(3)
        #expect(a["sha256"] == Self.shaA.hex && a["size"] == "1000" && a["format"] == "jpeg")
        #expect(a["width"] == "640" && a["height"] == "480" && a["copies"] == "2")
        #expect(a["canonical_silo"] == "marketing" && a["canonical_path"] == "campaigns/hero.jpg")
        #expect(a["all_paths"] == "marketing:campaigns/hero.jpg | hr:hr/caf\\xE9.jpg")
        #expect(a["title"] == "Summer launch" && a["description"] == Self.caption)
        #expect(a["keywords"] == "beach; summer; =SUM(A1)")
        #expect(a["creator"] == "Ana Ribeiro; Bo Li")
        #expect(a["rights"] == "" && a["conflicts"] == "rights")
        #expect(a["date_created"] == "2023-06-14T18:30:00+01:00" && a["city"] == "Sydney" && a["country"] == "Australia")
        // Numbers the exporter formats itself are not prefixed, even when negative.
        #expect(a["gps"] == "-33.8688, 151.2093")
        #expect(a["rating"] == "4" && a["make"] == "Canon" && a["state"] == "")
        #expect(a["file_modified"] == "2023-06-14T18:30:00.123Z" && c["file_modified"] == "2023-06-14T18:30:00.123Z")
        #expect(b["title"] == "'=cmd|' /C calc'!A0")
        #expect(b["description"] == "'-2+3 \u{1}bell\u{FFFE}")
        #expect(b["rating"] == "-1")
        #expect(b["canonical_path"] == "odd\nname 100%.png")
        #expect(c["width"] == "" && c["height"] == "" && c["title"] == "" && c["conflicts"] == "")

        #expect(CSV.encode(.text("@SUM(1)")) == "'@SUM(1)")
        #expect(CSV.encode(.text("+1")) == "'+1")
        #expect(CSV.encode(.text("\tx")) == "'\tx")
        #expect(CSV.encode(.text("\rx")) == "\"'\rx\"")
        #expect(CSV.encode(.text("\nx")) == "\"'\nx\"")
        #expect(CSV.encode(.text("\u{FF1D}1+1")) == "'\u{FF1D}1+1")       // full-width =
        #expect(CSV.encode(.text("a=b")) == "a=b")
        #expect(CSV.encode(.number(-1)) == "-1")
        #expect(CSV.encode(.formatted("-33.8688, 151.2093")) == "\"-33.8688, 151.2093\"")
        #expect(CSV.encode(.formatted("-1+cmd|' /C calc'!A0")) == "'-1+cmd|' /C calc'!A0")
    }

    // MARK: xmp

    @Test("xmp: one sidecar per asset, escaped, parsed by XMLParser and by SiloMerge's own reader")
    func xmp() throws {
        let tree = try TestTree()
        let folder = tree.url("sidecars/nested")
        let summary = try Self.export(.xmp, Self.assets, to: .directory(FilePath(folder.path)))
        #expect(summary.records == 2)
        #expect(summary.skipped == [.fieldInConflict: 1, .valueNotWritable: 1, .nothingToWrite: 1])
        #expect(summary.skipExamples.contains { $0.reason == .fieldInConflict && $0.field == .rights && $0.sha256 == Self.shaA })
        #expect(summary.skipExamples.contains { $0.reason == .valueNotWritable && $0.field == .dateCreated && $0.sha256 == Self.shaB })
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(names == ["a1a1a1a1a1a1a1a1.xmp", "b2b2b2b2b2b2b2b2.xmp"])

        let dataA = try Data(contentsOf: folder.appendingPathComponent("a1a1a1a1a1a1a1a1.xmp"))
        #expect(dataA == Data(ExportWriter.xmpPacket(for: Self.assetA()).utf8))
        let text = String(decoding: dataA, as: UTF8.self)
        #expect(text.hasPrefix("<?xpacket begin=\"\u{FEFF}\""))
        #expect(text.contains("&lt;/x:xmpmeta&gt; &amp; &lt;b&gt;"))
        #expect(text.components(separatedBy: "</x:xmpmeta>").count == 2)
        let (ok, xml) = Self.parseXML(dataA)
        #expect(ok)
        #expect(xml.values["dc:title"] == ["Summer launch"])
        #expect(xml.values["dc:description"] == [Self.caption])
        #expect(xml.values["dc:subject"] == ["beach", "summer", "=SUM(A1)"])
        #expect(xml.values["dc:creator"] == ["Ana Ribeiro", "Bo Li"])
        #expect(xml.values["dc:rights"] == nil)
        #expect(xml.values["photoshop:DateCreated"] == ["2023-06-14T18:30:00+01:00"])
        #expect(xml.values["photoshop:City"] == ["Sydney"] && xml.values["photoshop:Country"] == ["Australia"])
        #expect(xml.values["exif:GPSLatitude"] == ["33,52.128S"] && xml.values["exif:GPSLongitude"] == ["151,12.558E"])
        #expect(xml.values["xmp:Rating"] == ["4"])
        #expect(xml.elements.contains("rdf:Alt") && xml.elements.contains("rdf:Bag") && xml.elements.contains("rdf:Seq"))
        #expect(!xml.elements.contains("tiff:Make"))

        // SiloMerge's own XMP reader gets the same values back.
        let read = MetadataReader.readSidecar([UInt8](dataA))
        #expect(read.problems.isEmpty)
        func value(_ f: UnifiedField) -> FieldValue? { read.values.first { $0.field == f }?.value }
        #expect(value(.description) == .text(Self.caption))
        #expect(value(.keywords) == .list(["beach", "summer", "=SUM(A1)"]))
        #expect(value(.rating) == .integer(4))
        let gps = try #require(value(.gps)?.gps)
        #expect(abs(gps.latitude + 33.8688) < 1e-7 && abs(gps.longitude - 151.2093) < 1e-7)

        // B: forbidden control characters dropped, the date that is not ISO left out.
        let dataB = try Data(contentsOf: folder.appendingPathComponent("b2b2b2b2b2b2b2b2.xmp"))
        let (okB, xmlB) = Self.parseXML(dataB)
        #expect(okB)
        #expect(xmlB.values["dc:description"] == ["-2+3 bell"])
        #expect(xmlB.values["xmp:Rating"] == ["-1"] && xmlB.values["photoshop:DateCreated"] == nil)
        #expect(!String(decoding: dataB, as: UTF8.self).contains("\u{1}"))
    }

    @Test("xmp: an identical sidecar is left alone, a different one is an error unless replacing is asked for")
    func xmpExisting() throws {
        let tree = try TestTree()
        let folder = FilePath(tree.url("out").path)
        let file = tree.url("out/a1a1a1a1a1a1a1a1.xmp")
        try Self.export(.xmp, [Self.assetA()], to: .directory(folder))
        let before = try FileManager.default.attributesOfItem(atPath: file.path)[.systemFileNumber] as? Int
        let again = try Self.export(.xmp, [Self.assetA()], to: .directory(folder))
        #expect(again.records == 0 && again.unchanged == 1)
        #expect(try FileManager.default.attributesOfItem(atPath: file.path)[.systemFileNumber] as? Int == before)

        try Data("someone else's sidecar".utf8).write(to: file)
        let writer = try ExportWriter(format: .xmp, destination: .directory(folder))
        let error = #expect(throws: ExportError.self) { try writer.write(Self.assetA()) }
        #expect(error?.kind == .exists)
        #expect(error?.path?.string == file.path)
        #expect(error?.description.contains("a1a1a1a1a1a1a1a1.xmp: a different file is already there") == true)
        #expect(try String(contentsOf: file, encoding: .utf8) == "someone else's sidecar")
        try writer.write(Self.assetB())   // the writer goes on with the next asset
        #expect(try writer.finish().records == 1)

        let replaced = try Self.export(.xmp, [Self.assetA()], to: .directory(folder),
                                       options: ExportOptions(replaceDifferentSidecars: true))
        #expect(replaced.records == 1)
        #expect(try Data(contentsOf: file) == Data(ExportWriter.xmpPacket(for: Self.assetA()).utf8))
        // No temporary files left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.string!).sorted()
                == ["a1a1a1a1a1a1a1a1.xmp", "b2b2b2b2b2b2b2b2.xmp"])

        // A folder that cannot be created: a file is in the way.
        try tree.write("blocked", "x")
        let blocked = #expect(throws: ExportError.self) {
            try ExportWriter(format: .xmp, destination: .directory(FilePath(tree.url("blocked/sub").path)))
        }
        #expect(blocked?.errno == ENOTDIR)
    }

    @Test("xmp: GPS coordinates in XMP's degrees and decimal minutes")
    func xmpCoordinates() {
        #expect(ExportWriter.xmpCoordinate(-33.8688, latitude: true) == "33,52.128S")
        #expect(ExportWriter.xmpCoordinate(151.2093, latitude: false) == "151,12.558E")
        #expect(ExportWriter.xmpCoordinate(-0.5, latitude: false) == "0,30.0W")
        #expect(ExportWriter.xmpCoordinate(0, latitude: true) == "0,0.0N")
        // 59.9999999' rounds up to the next degree, not to "10,60.0N".
        #expect(ExportWriter.xmpCoordinate(10.999_999_999_9, latitude: true) == "11,0.0N")
        #expect(abs((GPSParser.xmpCoordinate("33,52.128S", isLatitude: true) ?? 0) + 33.8688) < 1e-9)
    }

    // MARK: bagit

    @Test("bagit: one sorted line per copy, CR LF and % percent-encoded, non-UTF-8 paths left out")
    func bagit() throws {
        let tree = try TestTree()
        let (data, summary) = try Self.exportFile(.bagit, Self.assets.reversed(), in: tree)
        #expect(summary.records == 3 && summary.skipped == [.pathNotUTF8: 1])
        #expect(summary.skipExamples.first?.path?.bytes == Self.latin1Name && summary.skipExamples.first?.silo == "hr")
        let text = String(decoding: data, as: UTF8.self)
        #expect(text == """
            \(Self.shaC.hex)  data/hr/policies/a.pdf
            \(Self.shaA.hex)  data/marketing/campaigns/hero.jpg
            \(Self.shaB.hex)  data/training/odd%0Aname 100%25.png

            """)
        #expect(ExportWriter.bagitPath("a\r\nb%c") == "a%0D%0Ab%25c")
    }

    @Test("bagit: a manifest larger than memory's share is sorted through temporary runs")
    func bagitRuns() throws {
        let tree = try TestTree()
        var assets: [ReconciledAsset] = []
        for i in 0..<50 {
            var digestBytes = [UInt8](repeating: 0, count: 32)
            digestBytes[0] = UInt8((i * 37) % 256); digestBytes[31] = UInt8(i)
            let sha = digestBytes.withUnsafeBytes { SHA256Digest(bytes: $0) }
            assets.append(ReconciledAsset(sha256: sha, size: 1, format: .other,
                                          copies: [Self.copy("z", 1, RelativePath("f\(i)")), Self.copy("a", 2, RelativePath("g\(i)"))],
                                          fields: []))
        }
        let writer = try ExportWriter(format: .bagit, destination: .file(FilePath(tree.url("m.txt").path)))
        writer.manifestRunLimit = 7
        for a in assets { try writer.write(a) }
        let summary = try writer.finish()
        #expect(summary.records == 100)
        let lines = try String(contentsOf: tree.url("m.txt"), encoding: .utf8).split(separator: "\n").map(String.init)
        let expected = assets.flatMap { ExportWriter.bagitLines(for: $0) }.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        #expect(lines == expected)
        #expect(try FileManager.default.contentsOfDirectory(atPath: tree.path) == ["m.txt"])
    }

    // MARK: exiftool

    @Test("exiftool: one object per copy, descriptive tags only, conflicts and non-UTF-8 paths left out")
    func exiftoolJSON() throws {
        let tree = try TestTree()
        let (data, summary) = try Self.exportFile(.exiftool, Self.assets, in: tree)
        #expect(summary.records == 2)
        #expect(summary.skipped == [.pathNotUTF8: 1, .fieldInConflict: 1, .valueNotWritable: 1, .nothingToWrite: 1])
        let objects = try #require(JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(objects.map { $0["SourceFile"] as? String } == ["/srv/marketing/campaigns/hero.jpg", "/srv/training/odd\nname 100%.png"])
        let a = objects[0]
        #expect(Set(a.keys) == ["SourceFile", "XMP-dc:Title", "XMP-dc:Description", "XMP-dc:Subject", "XMP-dc:Creator",
                                "XMP-photoshop:DateCreated", "XMP-photoshop:City", "XMP-photoshop:Country",
                                "XMP-exif:GPSLatitude", "XMP-exif:GPSLongitude", "XMP-xmp:Rating"])
        #expect(a["XMP-dc:Subject"] as? [String] == ["beach", "summer", "=SUM(A1)"])
        #expect(a["XMP-exif:GPSLatitude"] as? Double == -33.8688 && a["XMP-xmp:Rating"] as? Int == 4)
        #expect(objects[1]["XMP-xmp:Rating"] as? Int == -1 && objects[1]["XMP-photoshop:DateCreated"] == nil)

        let empty = try Self.exportFile(.exiftool, [Self.assetC()], in: tree, name: "empty.json")
        #expect(empty.0 == Data("[]\n".utf8))
    }

    @Test("exiftool applies the JSON to a real JPEG and reads the XMP sidecar")
    func exiftoolRoundTrip() throws {
        // CI installs exiftool (.ci/run): a missing tool fails the test instead of skipping it.
        try #require(ExportTests.hasExifTool, "exiftool is not installed: apt-get install libimage-exiftool-perl (.ci/run does)")
        let tree = try TestTree()
        let photos = tree.url("photos")
        try FileManager.default.createDirectory(at: photos, withIntermediateDirectories: true)
        let source = fixturesURL.appendingPathComponent("training/module-01/images/intro-hero.jpg")
        try FileManager.default.copyItem(at: source, to: photos.appendingPathComponent("hero.jpg"))
        try FileManager.default.copyItem(at: source, to: photos.appendingPathComponent("b64.jpg"))
        let heroPath = photos.appendingPathComponent("hero.jpg").path
        let before = try #require(JSONSerialization.jsonObject(with: Self.exiftool(["-j", "-G1", heroPath])) as? [[String: Any]])
        let originalRights = try #require(before.first?["XMP-dc:Rights"] as? String)

        func onlyCopy(_ path: String) -> AssetCopy {
            var c = Self.copy("silo", 1, RelativePath("x.jpg"))
            c = AssetCopy(silo: c.silo, siloPriority: 1, path: c.path, size: c.size, mtimeNs: c.mtimeNs, uid: 0, gid: 0,
                          device: 0, inode: 0, absolutePath: FilePath(path))
            return c
        }
        let hero = Self.assetA(copies: [onlyCopy(heroPath)])
        var b64 = Self.assetC()
        b64.copies = [onlyCopy(photos.appendingPathComponent("b64.jpg").path)]
        b64.fields = [Self.field(.title, .text("base64:SGVsbG8=")), Self.field(.keywords, .list(["base64:AA==", "plain"]))]
        let json = tree.url("export.json")
        try Self.export(.exiftool, [hero, b64], to: .file(FilePath(json.path)))
        _ = try Self.exiftool(["-j=\(json.path)", "-overwrite_original", photos.path])

        let after = try #require(JSONSerialization.jsonObject(with: Self.exiftool(["-j", "-G1", "-n", heroPath])) as? [[String: Any]])
        let h = try #require(after.first)
        #expect(h["XMP-dc:Title"] as? String == "Summer launch")
        #expect(h["XMP-dc:Description"] as? String == Self.caption)
        #expect(h["XMP-dc:Subject"] as? [String] == ["beach", "summer", "=SUM(A1)"])
        #expect(h["XMP-dc:Creator"] as? [String] == ["Ana Ribeiro", "Bo Li"])
        #expect((h["XMP-exif:GPSLatitude"] as? Double).map { abs($0 + 33.8688) < 1e-6 } == true)
        #expect((h["XMP-exif:GPSLongitude"] as? Double).map { abs($0 - 151.2093) < 1e-6 } == true)
        #expect(h["XMP-xmp:Rating"] as? Int == 4)
        #expect(h["XMP-photoshop:City"] as? String == "Sydney")
        #expect((h["XMP-photoshop:DateCreated"] as? String)?.hasPrefix("2023:06:14 18:30:00") == true)
        // rights were in conflict: the file keeps what it had.
        #expect(h["XMP-dc:Rights"] as? String == originalRights)

        let b = try #require((JSONSerialization.jsonObject(with: Self.exiftool(["-j", "-G1", photos.appendingPathComponent("b64.jpg").path])) as? [[String: Any]])?.first)
        #expect(b["XMP-dc:Title"] as? String == "base64:SGVsbG8=")
        #expect(b["XMP-dc:Subject"] as? [String] == ["base64:AA==", "plain"])

        // The XMP sidecar, read by exiftool.
        let folder = tree.url("xmp")
        try Self.export(.xmp, [hero], to: .directory(FilePath(folder.path)))
        let sidecar = folder.appendingPathComponent(ExportWriter.xmpFileName(for: hero)).path
        let x = try #require((JSONSerialization.jsonObject(with: Self.exiftool(["-j", "-G1", "-n", sidecar])) as? [[String: Any]])?.first)
        #expect(x["XMP-dc:Title"] as? String == "Summer launch")
        #expect(x["XMP-dc:Description"] as? String == Self.caption)
        #expect(x["XMP-dc:Subject"] as? [String] == ["beach", "summer", "=SUM(A1)"])
        #expect(x["XMP-dc:Creator"] as? [String] == ["Ana Ribeiro", "Bo Li"])
        #expect((x["XMP-exif:GPSLatitude"] as? Double).map { abs($0 + 33.8688) < 1e-6 } == true)
        #expect((x["XMP-exif:GPSLongitude"] as? Double).map { abs($0 - 151.2093) < 1e-6 } == true)
        #expect(x["XMP-xmp:Rating"] as? Int == 4)
        #expect(x["XMP-photoshop:Country"] as? String == "Australia")
        #expect(x["XMP-dc:Rights"] == nil)
        let warnings = x.keys.filter { $0.hasSuffix(":Warning") || $0.hasSuffix(":Error") }
        #expect(warnings.isEmpty, "\(warnings.map { "\($0)=\(x[$0]!)" })")
    }

    // MARK: determinism and the writer's contract

    @Test("Every format: two runs give byte-identical output")
    func determinism() throws {
        let tree = try TestTree()
        for format in ExportFormat.allCases where !format.writesFolder {
            let first = try Self.exportFile(format, Self.assets, in: tree, name: "1.\(format.rawValue)").0
            let second = try Self.exportFile(format, Self.assets, in: tree, name: "2.\(format.rawValue)").0
            #expect(!first.isEmpty && first == second, "\(format)")
        }
        try Self.export(.xmp, Self.assets, to: .directory(FilePath(tree.url("x1").path)))
        try Self.export(.xmp, Self.assets, to: .directory(FilePath(tree.url("x2").path)))
        let names = try FileManager.default.contentsOfDirectory(atPath: tree.url("x1").path).sorted()
        #expect(names == (try FileManager.default.contentsOfDirectory(atPath: tree.url("x2").path).sorted()))
        for name in names {
            #expect(try Data(contentsOf: tree.url("x1/\(name)")) == Data(contentsOf: tree.url("x2/\(name)")))
        }
    }

    @Test("Writer: nothing under the destination name until finish, writing to a file descriptor, misuse is an error")
    func writerContract() throws {
        let tree = try TestTree()
        let target = tree.url("out.jsonl")
        try tree.write("out.jsonl", "previous")
        do {
            let writer = try ExportWriter(format: .jsonl, destination: .file(FilePath(target.path)))
            try writer.write(Self.assetA())
            #expect(try String(contentsOf: target, encoding: .utf8) == "previous")
            // dropped without finish: the old file stays, the temporary one is removed
        }
        #expect(try String(contentsOf: target, encoding: .utf8) == "previous")
        #expect(try FileManager.default.contentsOfDirectory(atPath: tree.path) == ["out.jsonl"])

        // A file descriptor (as standard output would be).
        let fdURL = tree.url("fd.csv")
        #expect(FileManager.default.createFile(atPath: fdURL.path, contents: nil))
        let handle = try FileHandle(forWritingTo: fdURL)
        let writer = try ExportWriter(format: .csv, destination: .fileDescriptor(handle.fileDescriptor))
        try writer.write(Self.assetB())
        try writer.finish()
        try handle.close()
        #expect(try Data(contentsOf: fdURL) == Self.exportFile(.csv, [Self.assetB()], in: tree, name: "ref.csv").0)

        let finished = #expect(throws: ExportError.self) { try writer.write(Self.assetA()) }
        #expect(finished?.kind == .state)
        #expect(throws: ExportError.self) { try ExportWriter(format: .xmp, destination: .file(FilePath(target.path))) }
        let folderError = #expect(throws: ExportError.self) { try ExportWriter(format: .jsonl, destination: .file(FilePath(tree.path))) }
        #expect(folderError?.kind == .destination)
        let missing = #expect(throws: ExportError.self) {
            try ExportWriter(format: .jsonl, destination: .file(FilePath(tree.url("no/such/folder/x.jsonl").path)))
        }
        #expect(missing?.errno == ENOENT && missing?.description.contains("(ENOENT)") == true)

        // A write error (a closed descriptor) fails the writer for good.
        let broken = try ExportWriter(format: .jsonl, destination: .fileDescriptor(-1))
        try broken.write(Self.assetA())   // buffered
        let writeError = #expect(throws: ExportError.self) { try broken.finish() }
        #expect(writeError?.kind == .write && writeError?.errno == EBADF)
        #expect(throws: ExportError.self) { try broken.write(Self.assetA()) }
    }

    @Test("Summary: counts and a readable description")
    func summary() throws {
        let tree = try TestTree()
        let (_, summary) = try Self.exportFile(.exiftool, Self.assets, in: tree)
        #expect(summary.assets == 3 && summary.copies == 4)
        #expect(summary.description == "exiftool: 3 assets, 4 copies, 2 records written; left out: 1 copies whose path is not UTF-8, "
                + "1 fields in conflict, 1 values the format cannot carry, 1 assets with nothing to write")
    }
}
