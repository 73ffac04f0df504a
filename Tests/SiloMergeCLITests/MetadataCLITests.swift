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
        #expect(r.status == 0, "\(r.stderr)")
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
