import Foundation
import Testing

@Suite("tools/compare-exiftool")
struct CompareExifToolTests {
    static let tool = fixturesURL.deletingLastPathComponent().appendingPathComponent("tools/compare-exiftool").path

    /// Saved outputs of both tools for made-up files, each planting one matching rule.
    static var silomerge: [[String: Any]] { [
        ["path": "d/utc.jpg", "format": "jpeg", "fields": [
            "date_created": ["value": "2023-06-14T18:32:07+01:00"],
            "keywords": ["value": ["Beach", "sun", "sea"]],
            "gps": ["value": ["latitude": 38.7223, "longitude": -9.1393]],
            "title": ["value": "A  title "],
            "orientation": ["value": 6],
            "width": ["value": 64], "height": ["value": 48],
            "city": ["value": "Lisbon"],
        ]],
        ["path": "d/local.jpg", "format": "jpeg", "fields": [
            "date_created": ["value": "2023-06-14T18:32:07"],
            "gps": ["value": ["latitude": 38.722302, "longitude": -9.1393]],
            "title": ["value": "a title"],
            "creator": ["value": ["Ann; Bo"]],
        ]],
        ["path": "d/video.mp4", "format": "mp4", "fields": [
            "date_created": ["value": "2022-05-06T07:08:09Z"],
            "gps": ["value": ["latitude": 48.8584, "longitude": 2.2945]],
        ]],
        ["path": "d/drawing.eps", "format": "eps", "fields": ["date_created": ["value": "2002-09-04"]]],
        ["path": "d/itxt.png", "format": "png", "fields": ["title": ["value": "PngSuite"]]],
        ["path": "d/only-silomerge.bin", "format": "other", "fields": [:]],
        ["path": "d/broken.pdf", "format": "pdf", "fields": ["title": ["value": "Recovered"]]],
        ["path": "d/error.jpg", "error": ["kind": "unreadable", "message": "cannot open"]],
        ["path": "d/legacy.tif", "format": "tiff", "fields": [
            "description": ["value": "Written by Photoshop¨ 4.0"],
            "rights": ["value": "ABC 2023"],
            "creator": ["value": ["Mßtteo Della Torre", "Émile Zola"]],
        ]],
    ] }
    static var exiftool: [[String: Any]] { [
        ["SourceFile": "d/utc.jpg", "File:FileType": "JPEG", "ExifTool:ExifToolVersion": 12.57,
         "MWG:DateTimeOriginal": "2023:06:14 17:32:07Z",            // the same instant
         "MWG:Keywords": ["sea", "beach", "Sun", "sun"],             // a set, case-insensitive
         "Composite:GPSLatitude": 38.7223004, "Composite:GPSLongitude": -9.1393,   // within 1e-6
         "XMP-dc:Title": "A title",                                  // white space
         "MWG:Orientation": 6, "Composite:ImageSize": "64 48",
         "MWG:Copyright": "© someone"],                              // missing in SiloMerge
        ["SourceFile": "d/local.jpg", "File:FileType": "JPEG",
         "MWG:DateTimeOriginal": "2023:06:14 18:32:07+05:00",        // one side has no zone: local times
         "Composite:GPSLatitude": 38.7223, "Composite:GPSLongitude": -9.1393,      // 2.0e-6 apart: differ
         "XMP-dc:Title": "A title",                                  // case differs: differ
         "MWG:Creator": ["Bo", "Ann"]],
        ["SourceFile": "d/video.mp4", "File:FileType": "MP4",
         "ItemList:ContentCreateDate": "0000:00:00 00:00:00",        // a zero date is no value
         "QuickTime:CreateDate": "2022:05:06 07:08:09",
         "Keys:GPSCoordinates": "48.8584 2.2945 35"],
        // %%Creator is the application, not the author: no creator for either tool.
        // A DSC %%CreationDate written without separators is the same day.
        ["SourceFile": "d/drawing.eps", "File:FileType": "EPS", "PostScript:Creator": "Adobe Illustrator(R) 16.0",
         "PostScript:CreateDate": 20020904],
        // A PNG iTXt title in Finnish only: ExifTool names it PNG:Title-fi.
        ["SourceFile": "d/itxt.png", "File:FileType": "PNG", "PNG:Title-fi": "PngSuite"],
        ["SourceFile": "d/only-exiftool.txt", "File:FileType": "TXT"],
        // ExifTool gave up on this one: no reference reading, so it is left out and counted apart.
        ["SourceFile": "d/broken.pdf", "File:FileType": "PDF", "ExifTool:Warning": "Invalid xref table"],
        // A legacy-charset byte ExifTool's JSON shows as '?': it stands for one non-ASCII character only.
        ["SourceFile": "d/legacy.tif", "File:FileType": "TIFF",
         "MWG:Description": "Written by Photoshop? 4.0",            // agree
         "MWG:Copyright": "AB? 2023",                                // 'C' is ASCII: differ
         "MWG:Creator": ["M?tteo Della Torre", "?mile Zola"]],       // the same rule in a list: agree
    ] }

    func run(_ extra: [String]) throws -> (Int32, String, Any?) {
        let ws = try Workspace()
        let sm = try Self.silomerge.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
        try ws.write("sm.jsonl", sm.joined(separator: "\n") + "\n")
        try ws.write("et.json", String(decoding: try JSONSerialization.data(withJSONObject: Self.exiftool), as: UTF8.self))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Self.tool, "--silomerge-json", "sm.jsonl", "--exiftool-json", "et.json"] + extra
        p.currentDirectoryURL = ws.url
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        return (p.terminationStatus, text, extra.contains("-") ? try JSONSerialization.jsonObject(with: data) : nil)
    }

    @Test("dates, GPS, keyword sets, white space, zero dates, language variants and legacy bytes are matched as --help defines", .enabled(if: commandExists("python3")))
    func matchingRules() throws {
        let (status, _, object) = try run(["--json", "-"])
        #expect(status == 0)
        let summary = try #require(object as? [String: Any])
        let fields = summary["fields"] as! [String: [String: Int]]
        func counts(_ f: String) -> [Int] { ["agree", "differ", "missing", "extra"].map { fields[f]![$0]! } }
        #expect(counts("date_created") == [4, 0, 0, 0])
        #expect(counts("keywords") == [1, 0, 0, 0])
        #expect(counts("gps") == [2, 1, 0, 0])
        #expect(counts("title") == [2, 1, 0, 0])
        #expect(counts("creator") == [2, 0, 0, 0])
        #expect(counts("rights") == [0, 1, 1, 0])
        #expect(counts("description") == [1, 0, 0, 0])
        #expect(counts("city") == [0, 0, 0, 1])
        #expect(counts("orientation") == [1, 0, 0, 0])
        #expect(counts("width") == [1, 0, 0, 0] && counts("height") == [1, 0, 0, 0])
        let total = summary["total"] as! [String: Any]
        #expect(total["values"] as? Int == 20 && total["agree"] as? Int == 15)
        let files = summary["files"] as! [String: Int]
        #expect(files == ["both": 7, "only_silomerge": 1, "only_exiftool": 1])
        let unreadable = summary["exiftool_unreadable"] as! [String: Any]
        #expect(unreadable["files"] as? Int == 1 && unreadable["silomerge_values"] as? Int == 1)
    }

    @Test("text report: examples of disagreements, per-format lines, and --min-agreement as the exit code", .enabled(if: commandExists("python3")))
    func textReport() throws {
        let (status, text, _) = try run(["--show-differences", "2", "--min-agreement", "80"])
        #expect(status == 1, "75.0 % is below 80 %")
        #expect(text.contains("Overall agreement: 75.0 % of 20 values"), "\(text)")
        #expect(text.contains("gps: differ (1 in all)"))
        #expect(text.contains("d/local.jpg [JPEG]"))
        #expect(text.contains("rights: missing (1 in all)"))
        #expect(text.range(of: #"JPEG\s+2\s+13"#, options: .regularExpression) != nil, "\(text)")
        let help = Process()
        help.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        help.arguments = ["python3", Self.tool, "--help"]
        let out = Pipe()
        help.standardOutput = out
        try help.run()
        let h = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        help.waitUntilExit()
        for needle in ["--show-differences", "1e-6", "case-insensitive sets", "MWG:DateTimeOriginal", "Exit codes"] {
            #expect(h.contains(needle), "\(needle)")
        }
    }
}

@Suite("silomerge inspect against ExifTool on Fixtures/media")
struct MediaAgreementTests {
    /// Every value ExifTool 12.57 reads from the container, document and audio fixtures
    /// (recorded in Fixtures/media/exiftool.json) is read by SiloMerge too, and nothing more.
    /// The only disagreements are ExifTool's: it keeps one of several ODF meta:keyword
    /// elements, and decodes RIFF INFO text as Latin-1 where ffmpeg wrote UTF-8.
    @Test("agreement with ExifTool on every media fixture", .enabled(if: commandExists("python3")))
    func agreement() throws {
        let ws = try Workspace()
        let media = fixturesURL.appendingPathComponent("media")
        for item in try FileManager.default.contentsOfDirectory(atPath: media.path) {
            try FileManager.default.copyItem(at: media.appendingPathComponent(item), to: ws.url.appendingPathComponent(item))
        }
        let inspect = try ws.run("inspect", "--format", "jsonl", ".")
        #expect(inspect.status == 0, "\(inspect.stderr)")
        try Data(inspect.stdout).write(to: ws.url.appendingPathComponent("sm.jsonl"))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", CompareExifToolTests.tool, "--silomerge-json", "sm.jsonl", "--exiftool-json", "exiftool.json",
                       "--show-differences", "20", "--json", "-"]
        p.currentDirectoryURL = ws.url
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let summary = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let total = summary["total"] as! [String: Any]
        #expect(total["missing"] as? Int == 0 && total["extra"] as? Int == 0, "\(total)")
        let examples = summary["examples"] as! [String: [String: [[String: Any]]]]
        let differ = examples.flatMap { field, kinds in (kinds["differ"] ?? []).map { "\(field) \($0["path"]!)" } }.sorted()
        #expect(differ == ["keywords budget.ods", "keywords deck.odp", "keywords report.odt", "rights intro.avi", "rights jingle.wav"])
        #expect((total["values"] as? Int ?? 0) > 180)
    }
}
