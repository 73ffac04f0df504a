import Foundation
import Testing

@Suite("silomerge report --html, end to end")
struct ReportCLITests {
    @Test("The Fixtures page: figures, groups, same-image groups, conflicts, the check; self-contained; hostile names escaped")
    func fixturesPage() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        // A hostile name and a hostile caption (in the manifest) must render as text.
        let hostile = "<img src=x onerror=alert(1)>.jpg"
        try FileManager.default.copyItem(at: ws.url.appendingPathComponent("hr/logo.png"),
                                         to: ws.url.appendingPathComponent("marketing/\(hostile)"))
        let manifest = ws.url.appendingPathComponent("manifests/marketing.csv")
        var csv = try String(contentsOf: manifest, encoding: .utf8)
        csv += "\"\(hostile)\",\"</script><script>alert(2)</script>\",,,Evil rights\r\n"
        try csv.write(to: manifest, atomically: false, encoding: .utf8)
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        try FileManager.default.removeItem(at: ws.url.appendingPathComponent("training/module-01/handouts/northwind-overview.pdf"))
        #expect(try ws.run("check").status == 3)

        let r = try ws.run("report", "--html", "audit.html")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.out.contains("Wrote audit.html: 3 silos"))
        let page = try String(contentsOf: ws.url.appendingPathComponent("audit.html"), encoding: .utf8)
        // Figures: the planted duplicate groups and their copies.
        for group in try truth()["duplicate_groups"] as! [[String: Any]] {
            let files = group["files"] as! [String]
            if files.contains(where: { $0.hasSuffix(".pdf") }) { continue }   // the PDF's second copy was deleted before the check
            for file in files {
                #expect(page.contains(String(file.split(separator: "/", maxSplits: 1)[1])), "\(file)")
            }
        }
        #expect(page.contains("Same image, different metadata"))
        #expect(page.contains("widget-front.jpg"))
        // The hero's rights conflict: its asset, its field, and each disagreeing value with its source.
        #expect(page.contains("<td class=\"sha\" data-label=\"Asset\"><code class=\"hash\">9508fa571338</code></td><td class=\"sha\" data-label=\"Field\"><strong>rights</strong></td>"))
        #expect(page.contains("<span class=\"value\">© 2023 Northwind Traders. All rights reserved.</span><span class=\"from\"><span class=\"silo\">marketing</span> <code class=\"path\">campaigns/2023/summer-launch/hero.jpg</code> <span class=\"origin\">exif</span></span>"))
        #expect(page.contains("<span class=\"value\">For internal HR use only. Contact hr@northwind.example before external use.</span><span class=\"from\"><span class=\"silo\">hr</span> <code class=\"path\">staff-photos/offsite-2023/team_offsite.jpg</code>"))
        #expect(page.contains("missing"))   // the check's finding
        #expect(page.contains("northwind-overview.pdf"))
        // Escaped, never live.
        #expect(!page.contains("<img src=x"))
        #expect(page.contains("&lt;img src=x onerror=alert(1)&gt;.jpg"))
        #expect(!page.contains("<script>alert(2)"))
        #expect(page.components(separatedBy: "<script").count == 2, "exactly one script element, the page's own")
        // Self-contained: nothing fetched from anywhere.
        for forbidden in ["http://", "https://", "<link", "@import", "url("] {
            #expect(!page.contains(forbidden), "\(forbidden)")
        }
        // No element loads anything: every `src=` in the page is inside escaped text.
        #expect(page.range(of: #"<[a-zA-Z][^>]*\ssrc\s*="#, options: .regularExpression) == nil)
        let missing = try ws.run("report", "--html", "no-such-folder/audit.html")
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no-such-folder/audit.html"))
        #expect(!FileManager.default.fileExists(atPath: ws.url.appendingPathComponent("no-such-folder").path))
    }
}

@Suite("report: the section for management")
struct ReportManagementCLITests {
    @Test("trends per run, reclaimable by type and age, conflicts by field and silo pair, decisions, and with --plan the plan's operations and what stays behind")
    func management() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "-q", "--config", "silomerge.yml").status == 0)
        _ = try ws.run("check", "-q")
        let made = try ws.run("plan", "--target", "dam", "-o", "plan.json", "--allow-conflicts")
        #expect(made.status == 0, "\(made.stderr)")
        var r = try ws.run("report", "--html", "r.html", "--plan", "plan.json")
        #expect(r.status == 0, "\(r.stderr)")
        let page = try String(contentsOf: ws.url.appendingPathComponent("r.html"), encoding: .utf8)
        #expect(page.contains("id=\"management\""))
        // Two finished runs (the scan and the check): two trend rows.
        let trends = page.components(separatedBy: "id=\"t-trends\"")[1].components(separatedBy: "</table>")[0]
        #expect(trends.components(separatedBy: "<tr").count - 2 == 2, "\(trends.prefix(300))")
        // Conflicts by field, as `conflicts --format json` counts them.
        let doc = try json(try ws.run("conflicts", "--format", "json").stdout) as! [String: Any]
        let fields = page.components(separatedBy: "id=\"t-conflict-fields\"")[1].components(separatedBy: "</table>")[0]
        for (field, count) in doc["by_field"] as! [String: Int] {
            #expect(fields.contains(">\(field)<") && fields.contains(">\(count)<"), "\(field) \(count)")
        }
        // The plan: each operation kind with its count, as plan.json holds them.
        let plan = try json(Array(try Data(contentsOf: ws.url.appendingPathComponent("plan.json")))) as! [String: Any]
        var kinds: [String: Int] = [:]
        for op in plan["operations"] as! [[String: Any]] { kinds[op["kind"] as! String, default: 0] += 1 }
        let ops = page.components(separatedBy: "id=\"t-plan-ops\"")[1].components(separatedBy: "</table>")[0]
        for (kind, count) in kinds { #expect(ops.contains(">\(kind)<") && ops.contains(">\(count)<"), "\(kind) \(count)") }
        #expect(page.contains("left behind in the silos"))
        // Reclaimable by type: the jpeg duplicates are there.
        #expect(page.contains("Reclaimable bytes by file type"))
        // A file gone: the next check's row counts the finding, and it stays open afterwards.
        let victim = (try FileManager.default.subpathsOfDirectory(atPath: ws.url.appendingPathComponent("hr").path)).first { $0.hasSuffix(".pdf") || $0.hasSuffix(".png") }!
        try FileManager.default.removeItem(at: ws.url.appendingPathComponent("hr/" + victim))
        let checked = try ws.run("check", "--format", "json")
        #expect(checked.status == 3, "\(checked.stderr)")
        let found = ((try json(checked.stdout) as! [String: Any])["findings"] as! [Any]).count
        #expect(try ws.run("report", "--html", "r3.html").status == 0)
        let later = try String(contentsOf: ws.url.appendingPathComponent("r3.html"), encoding: .utf8)
        let rows = later.components(separatedBy: "id=\"t-trends\"")[1].components(separatedBy: "</table>")[0].components(separatedBy: "<tr")
        #expect(rows[0].contains("Open findings") || rows[1].contains("Open findings"))
        // Newest first: the check that found it.
        let newest = rows[2]
        #expect(newest.contains("<td>check</td>"), "\(newest)")
        // … its findings, then the one still open (the last two columns).
        #expect(newest.contains("<td class=\"num\" data-sort=\"\(found)\">\(found)</td><td class=\"num\" data-sort=\"1\">1</td></tr>"), "\(newest)")

        // Audits and checks record what was reclaimable when they ended: the trend shows it.
        let audit = try ws.run("audit", "--config", "silomerge.yml", "--format", "json")
        let reclaimable = ((try json(audit.stdout) as! [String: Any])["summary"] as! [String: Any])["reclaimable_bytes"] as! Int
        #expect(reclaimable > 0)
        _ = try ws.run("check", "-q")
        #expect(try ws.run("report", "--html", "r4.html").status == 0)
        let latest = try String(contentsOf: ws.url.appendingPathComponent("r4.html"), encoding: .utf8)
        let trendRows = latest.components(separatedBy: "id=\"t-trends\"")[1].components(separatedBy: "</table>")[0].components(separatedBy: "<tr")
        #expect(trendRows[2].contains("<td>check</td>") && trendRows[2].contains("data-sort=\"\(reclaimable)\""), "\(trendRows[2])")
        #expect(trendRows[3].contains("<td>audit</td>") && trendRows[3].contains("data-sort=\"\(reclaimable)\""), "\(trendRows[3])")
        #expect(trendRows.last!.contains("data-sort=\"-1\""), "the first scan recorded no figure: \(trendRows.last!)")

        // Without a plan, no plan part.
        r = try ws.run("report", "--html", "r2.html")
        #expect(r.status == 0)
        #expect(!(try String(contentsOf: ws.url.appendingPathComponent("r2.html"), encoding: .utf8)).contains("The merge plan"))
    }
}
