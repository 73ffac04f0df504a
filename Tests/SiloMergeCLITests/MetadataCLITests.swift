import Foundation
import Testing

@Suite("silomerge metadata commands, end to end")
struct MetadataCLITests {
    @Test("scan --config, then conflicts (json and table) lists exactly the planted conflicts")
    func conflictsJSON() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        let scan = try ws.run("scan", "--config", "silomerge.yml")
        #expect(scan.status == 0, "manifest rows naming missing files are notes: \(scan.stderr)")
        #expect(scan.stderr.contains("campaigns/2022/winter-sale/banner.jpg"))
        #expect(scan.stderr.contains("module-04/images/process-diagram.png"))
        let r = try ws.run("conflicts", "--config", "silomerge.yml", "--format", "json")
        #expect(r.status == 3, "conflicts remain: \(r.stderr)")
        let object = try json(r.stdout) as! [String: Any]
        let conflicts = object["conflicts"] as! [[String: Any]]
        let found = conflicts.map { c -> String in
            let first = (c["copies"] as! [[String: Any]])[0]
            return "\(first["silo"]!)/\(first["path"]!) \(c["field"]!)"
        }.sorted()
        let planted = (try truth()["expected_conflicts"] as! [[String: Any]]).map { "\($0["asset_file"]!) \($0["field"]!)" }.sorted()
        #expect(found == planted)
        let rights = try #require(conflicts.first { ($0["field"] as? String) == "rights" && (($0["copies"] as! [[String: Any]]).count == 3) })
        let values = rights["values"] as! [[String: Any]]
        #expect(values.count == 3)
        #expect(values.contains { ($0["sources"] as! [[String: Any]]).contains { ($0["origin"] as? String) == "sidecar" && ($0["silo"] as? String) == "hr" } })
        let table = try ws.run("conflicts")
        #expect(table.status == 3)
        #expect(table.out.contains("rights (policy conflict)"))
        #expect(table.out.contains("gps (policy agree)"))
        #expect(table.out.contains("3 conflicts in 3 of"))
    }

    @Test("conflicts --template, edited, settles conflicts; a bad resolutions file exits 64 naming the line")
    func resolutionsRoundTrip() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        _ = try ws.run("scan", "--config", "silomerge.yml")
        let template = try ws.run("conflicts", "--config", "silomerge.yml", "--template")
        #expect(template.status == 0)
        // Unedited, the template decides nothing.
        try ws.write("decisions.yml", template.out)
        let untouched = try ws.run("conflicts", "--resolutions", "decisions.yml", "--format", "json")
        #expect(((try json(untouched.stdout) as! [String: Any])["summary"] as! [String: Any])["conflicts"] as? Int == 3)
        // Uncomment the first value offered for every field.
        var seen = Set<String>()
        var current = ""
        let edited = template.out.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            if !line.hasPrefix(" ") && line.hasSuffix(":") { current = String(line) }
            guard line.hasPrefix("  # "), !line.hasPrefix("  # from "), let colon = line.firstIndex(of: ":") else { return String(line) }
            let field = current + line[line.index(line.startIndex, offsetBy: 4)..<colon]
            return seen.insert(field).inserted ? "  " + line.dropFirst(4) : String(line)
        }.joined(separator: "\n")
        try ws.write("decisions.yml", edited)
        let settled = try ws.run("conflicts", "--resolutions", "decisions.yml")
        #expect(settled.status == 0, "\(settled.stderr)")
        #expect(settled.out.contains("No conflicts"), "\(settled.out)")
        let reconcile = try ws.run("reconcile")
        #expect(reconcile.out.contains("3 by your resolutions"), "\(reconcile.out)")
        #expect(reconcile.out.contains("0 conflicts"))

        try ws.write("bad.yml", "ffffffffffff:\n  rights: nobody\n")
        let bad = try ws.run("conflicts", "--resolutions", "bad.yml")
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("bad.yml:1:"), "\(bad.stderr)")
        #expect(bad.stderr.contains("no content in the catalogue"))
    }

    @Test("duplicates shows same-image groups with the fields that differ")
    func sameImage() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        _ = try ws.run("scan", "--config", "silomerge.yml")
        let r = try ws.run("duplicates", "--format", "json")
        let object = try json(r.stdout) as! [String: Any]
        let groups = object["same_image_groups"] as! [[String: Any]]
        let expected = try truth()["same_image_groups"] as! [[String: Any]]
        #expect(groups.count == expected.count)
        for e in expected {
            let files = Set(e["files"] as! [String])
            let g = try #require(groups.first { Set(($0["files"] as! [[String: Any]]).map { "\($0["silo"]!)/\($0["path"]!)" }) == files })
            #expect(Set(g["fields_differ"] as! [String]) == Set(e["fields_differ"] as! [String]))
        }
        let table = try ws.run("duplicates")
        #expect(table.out.contains("Same image, different metadata (3 groups)"))
        // An audit without --metadata reads no metadata and shows no such groups.
        let ws2 = try Workspace()
        try ws2.copyFixtures()
        let audit = try ws2.run("audit", "marketing", "hr", "training")
        #expect(!audit.out.contains("SAME IMAGE"))
        let withMeta = try ws2.run("audit", "--metadata", "marketing", "hr", "training")
        #expect(withMeta.out.contains("SAME IMAGE, DIFFERENT METADATA"), "\(withMeta.out)")
    }
}

@Suite("silomerge export, end to end")
struct ExportCLITests {
    @Test("export writes every format for the Fixtures; the silos are left untouched")
    func exportAll() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        _ = try ws.run("scan", "--config", "silomerge.yml")
        let before = try ws.run("duplicates", "--format", "json").stdout

        let noFolder = try ws.run("export", "--format", "jsonl", "-o", "out/catalogue.jsonl")
        #expect(noFolder.status == 2)
        #expect(noFolder.stderr.hasPrefix("silomerge: error: out/catalogue.jsonl: "), "\(noFolder.stderr)")
        try FileManager.default.createDirectory(at: ws.url.appendingPathComponent("out"), withIntermediateDirectories: true)
        let jsonl = try ws.run("export", "--format", "jsonl", "-o", "out/catalogue.jsonl")
        #expect(jsonl.status == 0, "\(jsonl.stderr)")
        #expect(jsonl.stderr.contains("3 fields are in conflict"))
        let lines = try String(contentsOf: ws.url.appendingPathComponent("out/catalogue.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        // One record per distinct content of the silos, the empty one included (truth's file
        // index, sidecars and junk aside).
        let index = try truth()["file_index"] as! [String: [String: Any]]
        let contents = Set(index.values.filter { ($0["kind"] as? String) == "asset" }.map { $0["sha256"] as! String })
        #expect(Set(lines.map { $0["sha256"] as! String }) == contents)
        let hero = try #require(lines.first { ($0["copies"] as! [[String: Any]]).contains { ($0["path"] as? String) == "campaigns/2023/summer-launch/hero.jpg" } })
        let fields = hero["fields"] as! [String: [String: Any]]
        #expect(fields["rights"]?["status"] as? String == "conflict")
        #expect(fields["title"]?["value"] as? String == "Summer Offsite 2023")
        #expect((hero["copies"] as! [Any]).count == 3)
        // Who owns each copy: the uid, and the account name where the machine knows it.
        let owners = (hero["copies"] as! [[String: Any]])
        #expect(owners.allSatisfy { $0["uid"] as? Int == Int(getuid()) })
        #expect(owners.allSatisfy { $0["owner"] is String || $0["owner"] is NSNull })

        let csv = try ws.run("export", "--format", "csv", "-o", "out/catalogue.csv")
        #expect(csv.status == 0)
        let csvBytes = [UInt8](try Data(contentsOf: ws.url.appendingPathComponent("out/catalogue.csv")))
        #expect(Array(csvBytes.prefix(3)) == [0xEF, 0xBB, 0xBF])
        #expect(String(decoding: csvBytes, as: UTF8.self).hasSuffix("\r\n"))

        let exif = try ws.run("export", "--format", "exiftool", "-o", "out/tags.json")
        #expect(exif.status == 0)
        let objects = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.url.appendingPathComponent("out/tags.json"))) as! [[String: Any]]
        #expect(!objects.isEmpty)
        for o in objects {
            let source = try #require(o["SourceFile"] as? String)
            #expect(FileManager.default.fileExists(atPath: source), "\(source)")
            #expect(o["XMP-dc:Rights"] == nil || !(source.contains("hero.jpg") || source.contains("team_offsite.jpg")), "a conflicting field was exported")
        }

        let xmp = try ws.run("export", "--format", "xmp", "-o", "out/sidecars")
        #expect(xmp.status == 0)
        // A sidecar per content with a descriptive value to write (file dates are none).
        let descriptive = ["title", "description", "keywords", "creator", "rights", "date_created", "city", "state", "country", "gps", "rating"]
        let described = lines.filter { line in
            let fields = line["fields"] as! [String: [String: Any]]
            return descriptive.contains { fields[$0].map { !($0["value"] is NSNull) } ?? false }
        }.count
        #expect(described > 0 && described < contents.count)
        #expect(try FileManager.default.contentsOfDirectory(atPath: ws.url.appendingPathComponent("out/sidecars").path).count == described)
        let again = try ws.run("export", "--format", "xmp", "-o", "out/sidecars")
        #expect(again.status == 0)
        #expect(again.out.contains("(\(described) unchanged)"), "\(again.out)")

        let bag = try ws.run("export", "--format", "bagit")
        #expect(bag.status == 0)
        let bagLines = bag.out.split(separator: "\n")
        #expect(bagLines.allSatisfy { $0.count > 70 && $0.dropFirst(64).hasPrefix("  data/") })
        #expect(bagLines.contains { $0.hasSuffix("data/hr/staff-photos/offsite-2023/team_offsite.jpg") })
        // Zero-length files are content too: a BagIt manifest lists every file of the bag.
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        #expect(bagLines.contains { $0 == "\(empty)  data/hr/notes/empty.txt" })
        #expect(bagLines.contains { $0 == "\(empty)  data/training/module-01/notes/todo.txt" })
        let csvText = String(decoding: csvBytes, as: UTF8.self)
        #expect(csvText.contains("\r\n\(empty),0,"), "the empty content has its CSV row")
        let exifText = try String(contentsOf: ws.url.appendingPathComponent("out/tags.json"), encoding: .utf8)
        #expect(!exifText.contains("empty.txt"), "nothing to write into an empty file")

        let missing = try ws.run("export", "--format", "xmp")
        #expect(missing.status == 64)
        // Exporting changed nothing in the catalogue's view of the silos.
        #expect(try ws.run("duplicates", "--format", "json").stdout == before)
    }
    /// A standalone XMP file with a title.
    static func lonePacket(_ title: String) -> String {
        """
        <x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
        <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
        <dc:title><rdf:Alt><rdf:li xml:lang="x-default">\(title)</rdf:li></rdf:Alt></dc:title>
        <dc:creator><rdf:Seq><rdf:li>Ann Example</rdf:li></rdf:Seq></dc:creator>
        <dc:subject><rdf:Bag><rdf:li>archive</rdf:li><rdf:li>notes</rdf:li></rdf:Bag></dc:subject>
        </rdf:Description></rdf:RDF></x:xmpmeta>
        """
    }

    @Test("A lone .xmp edited and rescanned five times: one value per field, the latest, exported as such, no conflict with itself")
    func loneXMPRescans() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        try ws.write("hr/notes/lone.xmp", Self.lonePacket("Version 0"))
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        for round in 1...5 {
            try ws.write("hr/notes/lone.xmp", Self.lonePacket("Version \(round)"))
            let r = try ws.run("scan", "--config", "silomerge.yml", "-q")
            #expect(r.status == 0, "\(r.stderr)")
        }
        let export = try ws.run("export", "--format", "jsonl")
        #expect(export.status == 0, "\(export.stderr)")
        let records = export.out.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let lone = try #require(records.first { (($0["copies"] as! [[String: Any]]).contains { ($0["path"] as? String) == "notes/lone.xmp" }) })
        let fields = lone["fields"] as! [String: [String: Any]]
        for (name, expected) in [("title", "Version 5" as Any), ("creator", ["Ann Example"] as Any), ("keywords", ["archive", "notes"] as Any)] {
            let field = try #require(fields[name], "\(name)")
            #expect("\(field["value"]!)" == "\(expected)", "\(name): \(field)")
            #expect(field["status"] as? String == "agreed", "\(name): \(field)")
            #expect((field["sources"] as! [Any]).count == 1, "\(name): every rescan added another copy of its value: \(field)")
        }
        let csv = try ws.run("export", "--format", "csv")
        #expect(csv.out.contains("Version 5"))
        #expect(!csv.out.contains("Version 4"))
    }

    @Test("An asset with both sidecar forms: editing either is metadata drift naming that sidecar (exit 3), not \"nothing changed\"")
    func driftWithBothSidecarForms() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        #expect(try ws.run("check").status == 0)
        let folder = "training/module-01/images/"
        func edit(_ name: String, _ from: String, _ to: String) throws {
            let url = ws.url.appendingPathComponent(folder + name)
            try String(contentsOf: url, encoding: .utf8).replacingOccurrences(of: from, with: to).write(to: url, atomically: false, encoding: .utf8)
        }
        func drift(_ r: CommandResult) throws -> [String] {
            ((try json(r.stdout) as! [String: Any])["findings"] as! [[String: Any]])
                .filter { ($0["kind"] as? String) == "metadata-drift" && ($0["path"] as? String) == "module-01/images/intro-hero.jpg" }
                .compactMap { $0["detail"] as? String }
        }
        try edit("intro-hero.jpg.xmp", "Module 1 - Welcome hero", "Module 1 - Welcome, edited")
        let exact = try ws.run("check", "--format", "json")
        #expect(exact.status == 3, "\(exact.stderr)")
        #expect(try drift(exact) == ["sidecar intro-hero.jpg.xmp: title"])
        try edit("intro-hero.xmp", "<rdf:li>legacy</rdf:li>", "<rdf:li>legacy</rdf:li><rdf:li>archived</rdf:li>")
        let stem = try ws.run("check", "--format", "json")
        #expect(stem.status == 3, "\(stem.stderr)")
        #expect(try drift(stem) == ["sidecar intro-hero.xmp (not used: intro-hero.jpg.xmp takes precedence): keywords"])
        #expect(try ws.run("check").status == 0)
        // The catalogue took the used sidecar's new title as a source, and never the overridden one's keywords.
        let export = try ws.run("export", "--format", "jsonl")
        let record = try #require(export.out.split(separator: "\n").first { $0.contains("module-01/images/intro-hero.jpg") })
        #expect(record.contains("Module 1 - Welcome, edited"))
        #expect(!record.contains("archived"))
        #expect(!record.contains("legacy"))
    }
    @Test("A name.xmp beside name.jpg and name.png is attached to neither (a note names both); an SVG with XMP reads as an SVG")
    func ambiguousSidecarAndSVG() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        let fm = FileManager.default
        let u = { (p: String) in ws.url.appendingPathComponent(p) }
        try fm.copyItem(at: u("marketing/logo.png"), to: u("marketing/brochures/2023/product-brochure.png"))
        try fm.copyItem(at: u("hr/staff-photos/offsite-2023/team_offsite.xmp"), to: u("marketing/brochures/2023/product-brochure.xmp"))
        try ws.write("marketing/brand/mark.svg", """
            <?xml version="1.0" encoding="utf-8"?>
            <!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
            <svg version="1.1" xmlns="http://www.w3.org/2000/svg" xmlns:x="adobe:ns:meta/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" width="64" height="32">
            <metadata><x:xmpmeta><rdf:RDF><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
            <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Brand mark</rdf:li></rdf:Alt></dc:title>
            </rdf:Description></rdf:RDF></x:xmpmeta></metadata><rect width="64" height="32"/></svg>
            """)
        let scan = try ws.run("scan", "--config", "silomerge.yml")
        #expect(scan.status == 0, "\(scan.stderr)")
        #expect(scan.stderr.contains("marketing:brochures/2023/product-brochure.xmp: could be the XMP sidecar of product-brochure.pdf, product-brochure.png: attached to none"), "\(scan.stderr)")
        #expect(!scan.stderr.contains("mark.svg"), "\(scan.stderr)")
        let export = try ws.run("export", "--format", "jsonl")
        let records = export.out.split(separator: "\n").map(String.init)
        func record(_ path: String) throws -> String { try #require(records.first { $0.contains("\"path\":\"\(path)\"") }, "\(path)") }
        // The HR sidecar's values stay with the .xmp itself.
        #expect(try !record("brochures/2023/product-brochure.pdf").contains("For internal HR use only"))
        #expect(try !record("brochures/2023/product-brochure.png").contains("For internal HR use only"))
        #expect(try record("brochures/2023/product-brochure.xmp").contains("For internal HR use only"))
        let mark = try JSONSerialization.jsonObject(with: Data(try record("brand/mark.svg").utf8)) as! [String: Any]
        #expect(mark["format"] as? String == "svg")
        #expect(mark["width"] as? Int == 64 && mark["height"] as? Int == 32)
        #expect((mark["fields"] as? [String: [String: Any]])?["title"]?["value"] as? String == "Brand mark")
    }
}
