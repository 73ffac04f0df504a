import Foundation
import SiloMergeTestSupport
import Testing

// `scan` computes perceptual hashes of the images it reads; `duplicates --similar` and audit's
// SIMILAR IMAGES section group the same photo at other sizes, qualities, formats and
// orientations. The images are made here by ImageMagick (a real producer), from two distinct
// synthetic "photos" (plasma fractals of different seeds, blurred like a lens would).

@Suite("Similar images end to end")
struct SimilarImagesCLITests {
    /// Runs ImageMagick's convert in `dir`.
    private func convert(_ arguments: [String], in dir: URL) throws { try runTool("convert", arguments, in: dir) }

    /// archive: two originals; web: derivatives of both, made by ImageMagick, and a truncated JPEG.
    private func makeSilos(_ ws: Workspace) throws {
        try #require(commandExists("convert"), "ImageMagick's convert is needed (.ci/run installs imagemagick)")
        for d in ["archive", "web"] {
            try FileManager.default.createDirectory(at: ws.url.appendingPathComponent(d), withIntermediateDirectories: true)
        }
        try convert(["-seed", "3", "-size", "800x600", "plasma:fractal", "-blur", "0x2", "-quality", "92", "archive/photo.jpg"], in: ws.url)
        try convert(["-seed", "9", "-size", "800x600", "plasma:fractal", "-blur", "0x2", "-quality", "92", "archive/other.jpg"], in: ws.url)
        try convert(["archive/photo.jpg", "-resize", "50%", "-quality", "60", "web/photo-small.jpg"], in: ws.url)
        try convert(["archive/photo.jpg", "-resize", "40%", "-quality", "75", "web/photo.webp"], in: ws.url)
        try convert(["archive/photo.jpg", "-resize", "60%", "web/photo.png"], in: ws.url)
        try convert(["archive/photo.jpg", "-resize", "70%", "-compress", "LZW", "web/photo.tif"], in: ws.url)
        try convert(["archive/photo.jpg", "-resize", "30%", "-rotate", "90", "web/photo-turned.jpg"], in: ws.url)
        try convert(["archive/other.jpg", "-resize", "25%", "-quality", "80", "web/other-thumb.jpg"], in: ws.url)
        // A JPEG cut off after its first 3 KB: a reported skip, never a crash.
        let whole = try Data(contentsOf: ws.url.appendingPathComponent("archive/photo.jpg"))
        try whole.prefix(3000).write(to: ws.url.appendingPathComponent("web/cut.jpg"))
    }

    @Test("perceptual hashing is opt-in: a plain scan decodes no image, and it is refused where it would hash nothing")
    func similarImagesIsOptIn() throws {
        let ws = try Workspace()
        try makeSilos(ws)
        let plain = try ws.run("scan", "--catalog", "c.db", "archive=archive", "web=web")
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(!plain.stderr.contains("no perceptual hash"), "\(plain.stderr)")
        let none = try ws.run("duplicates", "--catalog", "c.db", "--similar", "--format", "json")
        #expect(none.status == 0 && none.stderr.contains("scan them with --similar-images"), "\(none.stderr)")
        let doc = try #require(try json(none.stdout) as? [String: Any])
        #expect((doc["similar_image_groups"] as? [Any])?.isEmpty == true, "\(none.stdout)")
        for args in [["scan", "--similar-images", "--hash", "dupes", "archive=archive"],
                     ["scan", "--similar-images", "--no-metadata", "archive=archive"],
                     ["audit", "--similar-images", "archive=archive"]] {
            let refused = try silomerge(args + ["--catalog", "d.db"], in: ws.url, timeout: 120)
            #expect(refused.status == 64 && refused.stderr.contains("--similar-images"), "\(args): \(refused.stderr)")
        }
    }

    @Test func derivativesAreGroupedUnderTheirOriginalAndCorruptImagesAreSkipped() throws {
        let ws = try Workspace()
        try makeSilos(ws)
        let scan = try ws.run("scan", "--similar-images", "--catalog", "c.db", "archive=archive", "web=web")
        #expect(scan.status == 0, "\(scan.stderr)")
        #expect(scan.stderr.contains("web:cut.jpg: no perceptual hash"), "\(scan.stderr)")

        let result = try ws.run("duplicates", "--catalog", "c.db", "--similar", "--format", "json")
        #expect(result.status == 0, "\(result.stderr)")
        let doc = try #require(try json(result.stdout) as? [String: Any])
        let groups = try #require(doc["similar_image_groups"] as? [[String: Any]])
        func name(_ image: [String: Any]) -> String { "\(image["silo"]!):\(image["path"]!)" }
        var found: [String: Set<String>] = [:]
        for g in groups {
            let master = try #require(g["master"] as? [String: Any])
            let derivatives = try #require(g["derivatives"] as? [[String: Any]])
            found[name(master)] = Set(derivatives.map(name))
            for d in derivatives {
                #expect((d["distance"] as? Int ?? 99) <= 10)
                #expect((d["width"] as? Int ?? 0) < (master["width"] as? Int ?? 0) || (d["height"] as? Int ?? 0) < (master["height"] as? Int ?? 0)
                        || name(d) == "web:photo-turned.jpg")
            }
        }
        #expect(found == ["archive:photo.jpg": ["web:photo-small.jpg", "web:photo.webp", "web:photo.png", "web:photo.tif", "web:photo-turned.jpg"],
                          "archive:other.jpg": ["web:other-thumb.jpg"]])
        let photo = try #require(groups.first { name($0["master"] as! [String: Any]) == "archive:photo.jpg" })
        let master = photo["master"] as! [String: Any]
        #expect(master["width"] as? Int == 800 && master["height"] as? Int == 600 && master["format"] as? String == "jpeg")
        #expect(photo["reason"] as? String == "most pixels")
        let derivatives = photo["derivatives"] as! [[String: Any]]
        let webp = try #require(derivatives.first { name($0) == "web:photo.webp" })
        #expect(webp["width"] as? Int == 320 && webp["height"] as? Int == 240 && webp["format"] as? String == "webp")
        let size = try FileManager.default.attributesOfItem(atPath: ws.url.appendingPathComponent("web/photo.webp").path)[.size] as? Int
        #expect(webp["size"] as? Int == size)
        let turned = try #require(derivatives.first { name($0) == "web:photo-turned.jpg" })
        #expect((turned["transform"] as? String ?? "").contains("turned 90°"))
        let summary = try #require(doc["summary"] as? [String: Any])
        #expect(summary["groups"] as? Int == 2 && summary["derivatives"] as? Int == 6 && summary["images"] as? Int == 8)

        // The table says the same for people.
        let table = try ws.run("duplicates", "--catalog", "c.db", "--similar")
        #expect(table.out.contains("archive:photo.jpg  800×600 jpeg"), "\(table.out)")
        #expect(table.out.contains("web:photo-turned.jpg") && table.out.contains("turned 90°"))
        #expect(table.out.contains("2 groups of similar images among 8 images"), "\(table.out)")

        // A tighter threshold is the user's to choose; csv has no place for images.
        #expect(try ws.run("duplicates", "--catalog", "c.db", "--similar", "--format", "csv").status != 0)
        #expect(try ws.run("duplicates", "--catalog", "c.db", "--max-distance", "4").status != 0)
    }

    @Test("shards merged (into SQLite, and into PostgreSQL when the test server runs) and copied keep their perceptual hashes: duplicates --similar gives the groups a direct scan gives",
          arguments: ["sqlite", "postgresql"])
    func similarGroupsSurviveMergeAndCopy(backend: String) throws {
        if backend == "postgresql" && TestCatalogues.postgresServer == nil { return }
        let ws = try Workspace()
        try makeSilos(ws)
        // Each silo scanned by its own host into a shard; the same silos scanned directly.
        for (silo, host) in [("archive", "nas"), ("web", "studio")] {
            let r = try ws.run("scan", "--similar-images", "-q", "--host", host, "--catalog", "\(silo).db", "\(silo)=\(silo)")
            #expect(r.status <= 1, "\(r.stderr)")
        }
        #expect(try ws.run("scan", "--similar-images", "-q", "--catalog", "direct.db", "archive=archive", "web=web").status <= 1)
        let expected = try ws.run("duplicates", "--catalog", "direct.db", "--similar", "--format", "json")
        let groups = try #require((try json(expected.stdout) as? [String: Any])?["similar_image_groups"] as? [Any])
        #expect(groups.count == 2, "\(expected.out)")

        let into = backend == "sqlite" ? "merged.db"
            : try TestCatalogues.postgresURL(schema: "e2e_similar_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased())
        for _ in 0..<2 {   // twice is once
            let merge = try ws.run("catalogue", "merge", "-q", "--into", into, "archive.db", "web.db")
            #expect(merge.status == 0, "\(merge.stderr)")
            let merged = try ws.run("duplicates", "--catalog", into, "--similar", "--format", "json")
            #expect(merged.status == 0 && merged.stdout == expected.stdout, "\(merged.out)\n---\n\(expected.out)")
        }
        // And across backends: a copy of the merged catalogue.
        let copy = try ws.run("catalogue", "copy", "-q", into, "copy.db")
        #expect(copy.status == 0, "\(copy.stderr)")
        #expect(try ws.run("duplicates", "--catalog", "copy.db", "--similar", "--format", "json").stdout == expected.stdout)
    }

    @Test func rescansDoNotDecodeAgainAndAuditShowsTheSection() throws {
        let ws = try Workspace()
        try makeSilos(ws)
        #expect(try ws.run("scan", "--similar-images", "--catalog", "c.db", "archive=archive", "web=web").status == 0)
        // Nothing changed: nothing is read, so nothing is decoded (the corrupt file's note would say so).
        let again = try ws.run("scan", "--similar-images", "--catalog", "c.db", "archive=archive", "web=web")
        #expect(again.status == 0)
        #expect(!again.stderr.contains("perceptual hash"), "\(again.stderr)")
        #expect(again.out.contains("read 0 files"), "\(again.out)")
        let audit = try ws.run("audit", "--no-scan", "--catalog", "c.db")
        #expect(audit.status == 0, "\(audit.stderr)")
        let section = try #require(audit.out.range(of: "SIMILAR IMAGES").map { String(audit.out[$0.lowerBound...]) })
        #expect(section.contains("archive:photo.jpg  800×600 jpeg"), "\(section)")
        #expect(section.contains("2 groups of similar images"), "\(section)")
        // The same group from the table, still there after the rescan.
        let table = try ws.run("duplicates", "--catalog", "c.db", "--similar")
        #expect(table.out.contains("web:photo.webp  320×240 webp"), "\(table.out)")
    }

    /// Runs exiftool in `dir`.
    private func exiftool(_ arguments: [String], in dir: URL) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["exiftool", "-q", "-overwrite_original"] + arguments
        p.currentDirectoryURL = dir
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "exiftool \(arguments.joined(separator: " "))")
    }

    @Test func burstFramesTakenAtOtherMomentsStayApart() throws {
        let ws = try Workspace()
        try #require(commandExists("convert") && commandExists("exiftool"), "ImageMagick and exiftool are needed (.ci/run installs them)")
        for d in ["camera", "web"] {
            try FileManager.default.createDirectory(at: ws.url.appendingPathComponent(d), withIntermediateDirectories: true)
        }
        // Two frames of a burst a tenth of a second apart: the second differs by a small
        // patch, as a bird's wing would (a few bits of hash apart), and by its capture time.
        try convert(["-seed", "5", "-size", "800x600", "plasma:fractal", "-blur", "0x2", "-quality", "92", "camera/frame1.jpg"], in: ws.url)
        try convert(["camera/frame1.jpg", "-fill", "white", "-draw", "rectangle 600,80 640,120", "-quality", "92", "camera/frame2.jpg"], in: ws.url)
        try exiftool(["-DateTimeOriginal=2024:05:01 10:00:00", "-SubSecTimeOriginal=15", "camera/frame1.jpg"], in: ws.url)
        try exiftool(["-DateTimeOriginal=2024:05:01 10:00:00", "-SubSecTimeOriginal=25", "camera/frame2.jpg"], in: ws.url)
        // The web copy of the first frame lost its metadata in the export.
        try convert(["camera/frame1.jpg", "-strip", "-resize", "50%", "-quality", "70", "web/frame1-web.jpg"], in: ws.url)
        #expect(try ws.run("scan", "--similar-images", "--catalog", "c.db", "camera=camera", "web=web").status == 0)

        let result = try ws.run("duplicates", "--catalog", "c.db", "--similar", "--format", "json")
        let doc = try #require(try json(result.stdout) as? [String: Any])
        let groups = try #require(doc["similar_image_groups"] as? [[String: Any]])
        let members = groups.map { g in
            Set([(g["master"] as! [String: Any])["path"] as! String] + (g["derivatives"] as! [[String: Any]]).map { $0["path"] as! String })
        }
        // The frames look alike (within the threshold of each other), yet are never one photo.
        #expect(members.count == 1, "\(members)")
        #expect(!members.contains { $0.isSuperset(of: ["frame1.jpg", "frame2.jpg"]) }, "\(members)")
        #expect(members.first?.contains("frame1-web.jpg") == true, "\(members)")
        // Without capture times (stripped from both frames by a careless export), they would be grouped.
        try exiftool(["-all=", "camera/frame1.jpg", "camera/frame2.jpg"], in: ws.url)
        #expect(try ws.run("scan", "--similar-images", "--catalog", "c.db", "camera=camera", "web=web").status == 0)
        let again = try #require(try json(try ws.run("duplicates", "--catalog", "c.db", "--similar", "--format", "json").stdout) as? [String: Any])
        let merged = try #require(again["similar_image_groups"] as? [[String: Any]])
        #expect(merged.count == 1 && (merged.first?["derivatives"] as? [Any])?.count == 2, "\(merged)")
    }

    /// Found on public test suites (PngSuite, ImageTestSuite): a 5 × 5 icon's hash equalled a
    /// 12-megapixel photo's turned hash, and uniform pictures of any size hashed alike.
    @Test("icons, flat pictures and other shapes are never a photo's derivatives")
    func iconsFlatPicturesAndOtherShapesStayApart() throws {
        let ws = try Workspace()
        try makeSilos(ws)
        try FileManager.default.createDirectory(at: ws.url.appendingPathComponent("odd"), withIntermediateDirectories: true)
        // The photo as an icon, 8 × 6 pixels: its hash describes a resampling, not the photo.
        try convert(["archive/photo.jpg", "-resize", "8x6!", "odd/icon.png"], in: ws.url)
        // Two blank pages of one grey at two sizes: their hashes are rounding noise, alike.
        try convert(["-size", "800x600", "xc:#7f7f7f", "odd/blank-large.png"], in: ws.url)
        try convert(["-size", "400x300", "xc:#7f7f7f", "-quality", "90", "odd/blank-small.jpg"], in: ws.url)
        let scan = try ws.run("scan", "--similar-images", "--catalog", "c.db", "archive=archive", "web=web", "odd=odd")
        #expect(scan.status == 0, "\(scan.stderr)")
        #expect(scan.stderr.contains("odd:blank-large.png: no perceptual hash (not found by duplicates --similar): too uniform to compare"),
                "\(scan.stderr)")
        let result = try ws.run("duplicates", "--catalog", "c.db", "--similar", "--format", "json")
        let doc = try #require(try json(result.stdout) as? [String: Any])
        let groups = try #require(doc["similar_image_groups"] as? [[String: Any]])
        let named = groups.flatMap { g in
            [g["master"] as! [String: Any]] + (g["derivatives"] as! [[String: Any]])
        }.map { "\($0["silo"]!):\($0["path"]!)" }
        #expect(!named.contains { $0.hasPrefix("odd:") }, "\(named)")
        #expect(groups.count == 2, "\(groups)")
        let summary = try #require(doc["summary"] as? [String: Any])
        #expect(summary["too_small"] as? Int == 1 && summary["images"] as? Int == 8, "\(summary)")
        let table = try ws.run("duplicates", "--catalog", "c.db", "--similar")
        #expect(table.out.contains("1 image under 32 pixels on a side not compared"), "\(table.out)")
    }
}
