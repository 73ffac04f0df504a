import Foundation
import Testing

// `reconcile: derivatives: merge`: a group of similar images (a master and its resized,
// recompressed copies, as `duplicates --similar` groups them) is one asset for what the photo
// is. The images are made here by ImageMagick and tagged by exiftool (real producers): an
// archive original with caption, creator and rights; a resized copy in marketing stripped of
// its metadata (and an exact copy of it); a recompressed copy with its own title and rights; a
// burst frame taken a second later; a distinct photo.

@Suite("Derivative groups reconciled as one asset end to end")
struct DerivativeMergeCLITests {
    private func makeSilos(_ ws: Workspace) throws {
        try #require(commandExists("convert") && commandExists("exiftool"), "ImageMagick and exiftool are needed (.ci/run installs them)")
        for d in ["archive", "marketing"] {
            try FileManager.default.createDirectory(at: ws.url.appendingPathComponent(d), withIntermediateDirectories: true)
        }
        let convert = { (args: [String]) in try runTool("convert", args, in: ws.url) }
        let exiftool = { (args: [String]) in try runTool("exiftool", ["-q", "-overwrite_original"] + args, in: ws.url) }
        try convert(["-seed", "3", "-size", "800x600", "plasma:fractal", "-blur", "0x2", "-quality", "92", "archive/photo.jpg"])
        try convert(["-seed", "9", "-size", "800x600", "plasma:fractal", "-blur", "0x2", "-quality", "92", "archive/other.jpg"])
        // The burst frame: the same scene a second later, a patch changed (a bird's wing).
        try convert(["archive/photo.jpg", "-strip", "-fill", "white", "-draw", "rectangle 600,80 640,120", "-quality", "92",
                     "archive/frame2.jpg"])
        // The web copy and the recompressed copy lost every tag in their exports.
        try convert(["archive/photo.jpg", "-strip", "-resize", "50%", "-quality", "70", "marketing/photo-web.jpg"])
        try convert(["archive/photo.jpg", "-strip", "-quality", "55", "marketing/photo-recompressed.jpg"])
        try FileManager.default.copyItem(at: ws.url.appendingPathComponent("marketing/photo-web.jpg"),
                                         to: ws.url.appendingPathComponent("marketing/photo-web-copy.jpg"))
        try exiftool(["-XMP-dc:Title=Harbour", "-XMP-dc:Description=Harbour at dawn", "-IPTC:Caption-Abstract=Harbour at dawn",
                      "-XMP-dc:Creator=Ana Ruiz", "-IPTC:By-line=Ana Ruiz",
                      "-XMP-dc:Rights=© 2024 Northwind Archive", "-IPTC:CopyrightNotice=© 2024 Northwind Archive",
                      "-DateTimeOriginal=2024:05:01 10:00:00", "-Make=Nikon", "-Model=D850", "archive/photo.jpg"])
        try exiftool(["-DateTimeOriginal=2024:05:01 10:00:01", "-XMP-dc:Title=Harbour, frame 2", "archive/frame2.jpg"])
        try exiftool(["-XMP-dc:Description=Lighthouse", "-DateTimeOriginal=2024:06:02 12:00:00", "archive/other.jpg"])
        try exiftool(["-XMP-dc:Title=Harbour web banner", "-XMP-dc:Rights=© 2024 Marketing", "marketing/photo-recompressed.jpg"])
        try ws.write("silomerge.yml", """
            catalog: c.db
            silos:
              - name: archive
                path: archive
              - name: marketing
                path: marketing
            reconcile:
              derivatives: merge

            """)
    }

    /// Each exported record by the path of its first copy ("silo:path").
    private func export(_ ws: Workspace) throws -> [String: [String: Any]] {
        let result = try ws.run("export", "--format", "jsonl", "--catalog", "c.db")
        #expect(result.status == 0, "\(result.stderr)")
        var out: [String: [String: Any]] = [:]
        for line in result.out.split(separator: "\n") {
            let record = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            for copy in record["copies"] as? [[String: Any]] ?? [] {
                out["\(copy["silo"]!):\(copy["path"]!)"] = record
            }
        }
        return out
    }

    private func field(_ record: [String: Any]?, _ name: String) -> [String: Any]? {
        (record?["fields"] as? [String: Any])?[name] as? [String: Any]
    }

    private func sources(_ record: [String: Any]?, _ name: String) -> [[String: Any]] {
        field(record, name)?["sources"] as? [[String: Any]] ?? []
    }

    @Test func theWebCopyGetsTheArchiveCaptionWithItsSourceAndSeparateLeavesItEmpty() throws {
        let ws = try Workspace()
        try makeSilos(ws)
        let scan = try ws.run("scan", "--similar-images", "--config", "silomerge.yml")
        #expect(scan.status == 0, "\(scan.stderr)")
        let reconcile = try ws.run("reconcile", "--config", "silomerge.yml")
        #expect(reconcile.status == 0, "\(reconcile.stderr)")
        // The group: the master, the web copy (two exact copies: one content) and the recompressed copy.
        #expect(reconcile.out.contains("Derivatives merged: 1 group of similar images (3 contents)"), "\(reconcile.out)")
        #expect(!reconcile.out.contains("Warning"), "\(reconcile.out)")

        // export reconciles again, from the remembered setting (no --config): the same result.
        let records = try export(ws)
        let master = try #require(records["archive:photo.jpg"])
        let masterSHA = try #require(master["sha256"] as? String)
        let web = try #require(records["marketing:photo-web.jpg"])
        #expect(web["sha256"] as? String == records["marketing:photo-web-copy.jpg"]?["sha256"] as? String)
        #expect((web["copies"] as? [Any])?.count == 2, "exact copies stay one content")
        // The caption, creator, rights and capture time of the archive, each naming where it came from.
        for (name, value) in [("description", "Harbour at dawn" as Any), ("creator", ["Ana Ruiz"] as Any),
                              ("date_created", "2024-05-01T10:00:00" as Any), ("make", "Nikon" as Any)] {
            let f = try #require(field(web, name), "\(name) in \(web)")
            #expect("\(f["value"] ?? "nil")" == "\(value)", "\(name): \(f)")
            let s = sources(web, name)
            #expect(!s.isEmpty && s.allSatisfy { $0["silo"] as? String == "archive" && $0["path"] as? String == "photo.jpg" }, "\(name): \(s)")
            for source in s {
                let other = try #require(source["other_content"] as? [String: Any], "\(name): \(source)")
                #expect(other["relation"] as? String == "master" && other["sha256"] as? String == masterSHA, "\(other)")
            }
        }
        // What the file is stays its own.
        #expect(web["width"] as? Int == 400 && web["height"] as? Int == 300, "\(web)")
        #expect(master["width"] as? Int == 800 && master["height"] as? Int == 600)
        // Rights differ between the archive and the recompressed copy: a conflict on each content
        // of the group, with both sources, the other content named.
        let rights = sources(web, "rights")
        #expect(field(web, "rights")?["status"] as? String == "conflict", "\(String(describing: field(web, "rights")))")
        #expect(Set(rights.map { "\($0["silo"]!):\($0["path"]!)" }) == ["archive:photo.jpg", "marketing:photo-recompressed.jpg"], "\(rights)")
        #expect(rights.first { $0["path"] as? String == "photo-recompressed.jpg" }?["other_content"]
            .flatMap { ($0 as? [String: Any])?["relation"] as? String } == "sibling", "\(rights)")
        let masterRights = sources(master, "rights")
        #expect(masterRights.first { $0["path"] as? String == "photo.jpg" }?["other_content"] == nil, "its own value: \(masterRights)")
        #expect(masterRights.first { $0["path"] as? String == "photo-recompressed.jpg" }?["other_content"]
            .flatMap { ($0 as? [String: Any])?["relation"] as? String } == "derivative", "\(masterRights)")
        // The recompressed copy's own title differs: settled by the title's policy (priority:
        // archive is listed first) as for copies, its own value still among the sources.
        let recompressed = try #require(records["marketing:photo-recompressed.jpg"])
        #expect(field(recompressed, "title")?["value"] as? String == "Harbour", "\(String(describing: field(recompressed, "title")))")
        #expect(field(recompressed, "title")?["status"] as? String == "resolved")
        let own = sources(recompressed, "title").first { $0["path"] as? String == "photo-recompressed.jpg" }
        #expect(own?["raw"] as? String == "Harbour web banner" && own?["other_content"] == nil, "\(String(describing: own))")
        #expect(recompressed["width"] as? Int == 800)
        // The burst frame and the distinct photo: nothing pooled.
        let frame = try #require(records["archive:frame2.jpg"])
        #expect(field(frame, "description") == nil && field(frame, "title")?["value"] as? String == "Harbour, frame 2", "\(frame)")
        let other = try #require(records["archive:other.jpg"])
        #expect(field(other, "description")?["value"] as? String == "Lighthouse")
        for record in [frame, other] {
            for (_, f) in record["fields"] as? [String: Any] ?? [:] {
                #expect(((f as? [String: Any])?["sources"] as? [[String: Any]] ?? []).allSatisfy { $0["other_content"] == nil }, "\(record)")
            }
        }

        // conflicts lists the rights conflict with where each value came from, other content said.
        let conflicts = try ws.run("conflicts", "--catalog", "c.db")
        #expect(conflicts.status == 3, "\(conflicts.stderr)")
        #expect(conflicts.out.contains("from archive:photo.jpg [xmp XMP-dc:rights], from the similar-image group's master \(masterSHA.prefix(12))")
                && conflicts.out.contains("from marketing:photo-recompressed.jpg [xmp XMP-dc:rights], from a derivative"),
                "\(conflicts.out)")
        // One resolution, given for the master, settles the group's field on every content.
        try ws.write("decisions.yml", "\(masterSHA.prefix(16)):\n  rights: \"© 2024 Northwind Archive\"\n")
        let settled = try ws.run("conflicts", "--catalog", "c.db", "--resolutions", "decisions.yml")
        #expect(settled.status == 0, "\(settled.out)\(settled.stderr)")
        #expect(field(try export(ws)["marketing:photo-web.jpg"], "rights")?["value"] as? String == "© 2024 Northwind Archive")

        // separate: the web copy has no caption of its own, so none.
        let separate = try ws.run("reconcile", "--catalog", "c.db", "--derivatives", "separate")
        #expect(separate.status == 0 && !separate.out.contains("Derivatives merged"), "\(separate.out)")
        let apart = try export(ws)
        #expect(field(apart["marketing:photo-web.jpg"], "description") == nil, "\(String(describing: apart["marketing:photo-web.jpg"]))")
        #expect(field(apart["marketing:photo-recompressed.jpg"], "title")?["value"] as? String == "Harbour web banner")
        #expect(apart["marketing:photo-web.jpg"]?["width"] as? Int == 400)
    }

    @Test("report --html --config reconciles in the configuration's derivatives mode, not always apart")
    func reportTakesTheConfigurationsDerivativesMode() throws {
        let ws = try Workspace()
        try makeSilos(ws)
        #expect(try ws.run("scan", "--similar-images", "--config", "silomerge.yml").status == 0)
        let merged = try ws.run("report", "--html", "merged.html", "--config", "silomerge.yml")
        #expect(merged.status == 0, "\(merged.stderr)")
        let config = try String(contentsOf: ws.url.appendingPathComponent("silomerge.yml"), encoding: .utf8)
        try ws.write("apart.yml", config.replacingOccurrences(of: "derivatives: merge", with: "derivatives: separate"))
        let apart = try ws.run("report", "--html", "apart.html", "--config", "apart.yml")
        #expect(apart.status == 0, "\(apart.stderr)")
        let mergedPage = try String(contentsOf: ws.url.appendingPathComponent("merged.html"), encoding: .utf8)
        let apartPage = try String(contentsOf: ws.url.appendingPathComponent("apart.html"), encoding: .utf8)
        // Merged, the group's contents disagree on rights (the archive's and marketing's), a
        // conflict the page lists; apart, each content has its own value and none disagrees.
        #expect(apart.out.contains(", 0 conflicts."), "\(apart.out)")
        #expect(!merged.out.contains(", 0 conflicts.") && merged.out.contains(" conflicts."), "\(merged.out)")
        #expect(mergedPage.contains("© 2024 Marketing") && !apartPage.contains("© 2024 Marketing"))
    }

    @Test func mergeWithoutPerceptualHashesSaysSoAndUnknownValuesAreRefused() throws {
        let ws = try Workspace()
        try makeSilos(ws)
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        let reconcile = try ws.run("reconcile", "--config", "silomerge.yml")
        #expect(reconcile.status == 0, "\(reconcile.stderr)")
        #expect(reconcile.out.contains("Derivatives merged: 0 groups"), "\(reconcile.out)")
        #expect(reconcile.out.contains("Warning: derivatives: merge is set, but no silo (archive, marketing) holds perceptual hashes"), "\(reconcile.out)")
        #expect(reconcile.out.contains("--similar-images"), "\(reconcile.out)")
        #expect(field(try export(ws)["marketing:photo-web.jpg"], "description") == nil)

        let config = try String(contentsOf: ws.url.appendingPathComponent("silomerge.yml"), encoding: .utf8)
        try ws.write("silomerge.yml", config.replacingOccurrences(of: "derivatives: merge", with: "derivatives: sometimes"))
        let refused = try ws.run("reconcile", "--config", "silomerge.yml")
        #expect(refused.status == 64, "\(refused.out)\(refused.stderr)")
        #expect(refused.stderr.contains("silomerge.yml:8") && refused.stderr.contains("reconcile.derivatives: unknown value 'sometimes' (choices: separate, merge)"),
                "\(refused.stderr)")
        let option = try ws.run("reconcile", "--catalog", "c.db", "--derivatives", "always")
        #expect(option.status == 64, "\(option.stderr)")
    }
}
