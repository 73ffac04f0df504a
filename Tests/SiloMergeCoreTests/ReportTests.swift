import Foundation
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

@Suite("Duplicate and audit reports")
struct ReportTests {
    /// The bundled fixtures, scanned as the README's first command does.
    func fixtures() throws -> (TestTree, SQLiteCatalogue, [String: Any]) {
        let tree = try TestTree()
        for silo in ["marketing", "hr", "training"] {
            try FileManager.default.copyItem(at: fixturesURL.appendingPathComponent(silo), to: tree.url(silo))
        }
        let (_, store) = try scan(tree, [tree.silo("marketing"), tree.silo("hr", priority: 2), tree.silo("training", priority: 3)],
                                  mode: .dupes)
        let truth = try JSONSerialization.jsonObject(with: Data(contentsOf: fixturesURL.appendingPathComponent("truth.json"))) as! [String: Any]
        return (tree, store, truth)
    }

    @Test("Fixtures: the groups and reclaimable bytes are the planted ones")
    func fixtureGroups() throws {
        let (_, store, truth) = try fixtures()
        let planted = (truth["duplicate_groups"] as! [[String: Any]]).map { ($0["files"] as! [String]).sorted() }
            .sorted { $0[0] < $1[0] }
        #expect(try groups(store) == planted)
        let expectedReclaim = (truth["duplicate_groups"] as! [[String: Any]]).reduce(Int64(0)) {
            $0 + Int64(($1["files"] as! [String]).count - 1) * Int64($1["size"] as! Int)
        }
        let summary = try store.analyse(DuplicateQuery(), top: 0).summary
        #expect(summary.reclaimableBytes == expectedReclaim)
        #expect(summary.duplicateGroups == planted.count)
    }

    @Test("JSON: the documented shape, groups by reclaimable bytes, copies by priority then path")
    func json() throws {
        let (_, store, _) = try fixtures()
        let sink = StringSink()
        try DuplicateReport(store: store, query: DuplicateQuery()).write(.json, to: sink)
        let object = try JSONSerialization.jsonObject(with: Data(sink.data)) as! [String: Any]
        let groups = object["groups"] as! [[String: Any]]
        let reclaim = groups.map { ($0["reclaimable_bytes"] as! Int) }
        #expect(reclaim == reclaim.sorted(by: >))
        let first = groups[0]
        #expect((first["sha256"] as! String).count == 64)
        let files = first["files"] as! [[String: Any]]
        #expect(files.map { $0["silo"] as! String } == ["marketing", "hr", "training"])
        #expect(files.allSatisfy { $0["inode"] is Int && $0["path"] is String })
        let org = groups.first { ($0["files"] as! [[String: Any]]).contains { ($0["path"] as! String).hasSuffix("org-chart-2023.png") } }!
        let orgPaths = (org["files"] as! [[String: Any]]).map { "\($0["silo"]!)/\($0["path"]!)" }
        #expect(orgPaths == ["marketing/about/org-chart.png", "hr/onboarding/welcome-pack/org-chart.png", "hr/policies/2023/org-chart-2023.png"])
        let summary = object["summary"] as! [String: Any]
        for key in ["files", "bytes", "duplicate_groups", "duplicate_files", "reclaimable_bytes"] { #expect(summary[key] is Int) }
        #expect(summary["duplicate_groups"] as? Int == groups.count)
    }

    @Test("JSON and CSV carry names that are not UTF-8 exactly, in path_b64")
    func nonUTF8() throws {
        let tree = try TestTree()
        let name = Array("caf".utf8) + [0xE9] + Array(".jpg".utf8)
        try tree.writeRaw(folder: "a", name: name, bytes(3000, seed: 9))
        try tree.write("b/cafe.jpg", bytes(3000, seed: 9))
        let (_, store) = try scan(tree, [tree.silo("a"), tree.silo("b", priority: 2)])
        let sink = StringSink()
        try DuplicateReport(store: store, query: DuplicateQuery()).write(.json, to: sink)
        let object = try JSONSerialization.jsonObject(with: Data(sink.data)) as! [String: Any]
        let files = ((object["groups"] as! [[String: Any]])[0]["files"] as! [[String: Any]])
        let odd = files.first { $0["path_b64"] != nil }!
        #expect(odd["path"] as? String == "caf\\xE9.jpg")
        #expect(Data(base64Encoded: odd["path_b64"] as! String).map { [UInt8]($0) } == name)
        #expect(files.first { $0["silo"] as? String == "b" }?["path_b64"] == nil)
        let csv = StringSink()
        try DuplicateReport(store: store, query: DuplicateQuery()).write(.csv, to: csv)
        #expect(csv.text.contains(Data(name).base64EncodedString()))
        let fdupes = StringSink()
        try DuplicateReport(store: store, query: DuplicateQuery()).write(.fdupes, to: fdupes)
        #expect(fdupes.data.split(separator: 0x0A).contains { Array($0).suffix(name.count) == name[...] })
    }

    @Test("fdupes format: absolute paths, a blank line after each group")
    func fdupes() throws {
        let (tree, store, truth) = try fixtures()
        let sink = StringSink()
        try DuplicateReport(store: store, query: DuplicateQuery()).write(.fdupes, to: sink)
        let blocks = sink.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(blocks.count == (truth["duplicate_groups"] as! [Any]).count)
        let root = tree.root.resolvingSymlinksInPath().path
        #expect(blocks.allSatisfy { $0.split(separator: "\n").allSatisfy { $0.hasPrefix(root + "/") } })
    }

    @Test("Silo filter and minimum size narrow the report")
    func filters() throws {
        let (_, store, _) = try fixtures()
        #expect(try groups(store, DuplicateQuery(silos: ["marketing", "training"])).count == 3)
        #expect(try groups(store, DuplicateQuery(silos: ["hr"])) == [["hr/onboarding/welcome-pack/org-chart.png", "hr/policies/2023/org-chart-2023.png"]])
        #expect(try groups(store, DuplicateQuery(minimumSize: 6000)).count == 1)
        #expect(throws: CatalogueError.self) { try groups(store, DuplicateQuery(silos: ["nope"])) }
    }

    @Test("Audit figures: per silo, inside, across, and the overlap matrix")
    func audit() throws {
        let (_, store, _) = try fixtures()
        let report = try AuditReport(store: store, query: DuplicateQuery(), top: 3)
        let hr = try #require(report.silos.first { $0.silo == "hr" })
        #expect(hr.duplicateBytesInside == 1242)          // the org chart twice in hr
        #expect(report.overlap("hr", "hr") == 1242)
        #expect(report.overlap("marketing", "training") == 7695 + 5700 + 5800)
        #expect(report.overlap("marketing", "hr") == 7695 + 1242)
        #expect(report.overlap("hr", "training") == 7695)
        #expect(report.crossSiloBytes == 7695 + 5700 + 5800 + 1242)
        #expect(report.largestGroups.count == 3)
        #expect(report.largestGroups[0].size == 7695)
        // The RECLAIMABLE breakdown adds up to its total: 1,242 B inside hr (the org chart
        // twice), the rest across silos.
        let s = report.summary
        #expect(s.reclaimableInsideSilos == 1242)
        #expect(s.reclaimableInsideSilos + s.reclaimableAcrossSilos == s.reclaimableBytes)
        let text = StringSink()
        report.writeText(to: text)
        #expect(text.text.contains("RECLAIMABLE: \(Format.bytes(s.reclaimableBytes)) "))
        #expect(text.text.contains("  inside silos: \(Format.bytes(1242)) · across silos: \(Format.bytes(s.reclaimableAcrossSilos)) (4 contents held by several silos)\n"),
                "\(text.text)")
        #expect(text.text.contains("marketing"))
        let json = StringSink()
        try report.writeJSON(to: json)
        let object = try JSONSerialization.jsonObject(with: Data(json.data)) as! [String: Any]
        #expect((object["silos"] as! [Any]).count == 3)
        let summary = object["summary"] as! [String: Any]
        #expect(summary["reclaimable_inside_silos"] as? Int == 1242)
        let across = try #require(summary["reclaimable_across_silos"] as? Int)
        #expect(1242 + across == summary["reclaimable_bytes"] as? Int)
    }
}
