import Foundation
import Testing

// `plan --derivatives keep-master` end to end. The images are made by ImageMagick (a real
// producer) from a synthetic "photo" (a blurred plasma fractal), its capture time written by
// exiftool: the master in the archive; a resized copy, a recompressed copy (twice: an exact
// copy of the resized one in a third silo) and a WebP in other silos; a burst frame (a small
// patch changed, and another SubSecTimeOriginal); a distinct photo.

/// archive: the master, a burst frame, a distinct photo; web: resized and recompressed;
/// social: a WebP and an exact copy of the resized one.
private func makeSilos(_ ws: Workspace) throws {
    try #require(commandExists("convert") && commandExists("exiftool"), "ImageMagick and exiftool are needed (.ci/run installs them)")
    for d in ["archive", "web", "social"] {
        try FileManager.default.createDirectory(at: ws.url.appendingPathComponent(d), withIntermediateDirectories: true)
    }
    func convert(_ a: String...) throws { try runTool("convert", a, in: ws.url) }
    try convert("-seed", "3", "-size", "800x600", "plasma:fractal", "-blur", "0x2", "-quality", "92", "archive/photo.jpg")
    try runTool("exiftool", ["-q", "-overwrite_original", "-DateTimeOriginal=2024:05:01 10:00:00", "-SubSecTimeOriginal=15", "archive/photo.jpg"], in: ws.url)
    try convert("archive/photo.jpg", "-fill", "white", "-draw", "rectangle 600,80 640,120", "-quality", "92", "archive/burst.jpg")
    try runTool("exiftool", ["-q", "-overwrite_original", "-SubSecTimeOriginal=25", "archive/burst.jpg"], in: ws.url)
    try convert("-seed", "9", "-size", "800x600", "plasma:fractal", "-blur", "0x2", "-quality", "92", "archive/other.jpg")
    try convert("archive/photo.jpg", "-resize", "50%", "-quality", "85", "web/photo-small.jpg")
    try convert("archive/photo.jpg", "-quality", "55", "web/photo-recompressed.jpg")
    try convert("archive/photo.jpg", "-resize", "40%", "-quality", "75", "social/photo.webp")
    try FileManager.default.copyItem(at: ws.url.appendingPathComponent("web/photo-small.jpg"),
                                     to: ws.url.appendingPathComponent("social/copy-of-small.jpg"))
}

private let derivatives = ["web/photo-small.jpg", "web/photo-recompressed.jpg", "social/photo.webp", "social/copy-of-small.jpg"]
private let outside: Set<String> = ["c.db", "c.db-wal", "c.db-shm", "c.db-lock", "plan.json", "plan.json.journal", "plan.json.journal-lock",
                                    "all.json", "dam"]

private func operations(_ ws: Workspace, _ plan: String) throws -> [[String: Any]] {
    let doc = try #require(try json([UInt8](Data(contentsOf: ws.url.appendingPathComponent(plan)))) as? [String: Any])
    return try #require(doc["operations"] as? [[String: Any]])
}

@Suite("plan --derivatives keep-master, end to end")
struct DerivativesCLITests {
    @Test("the master goes to the target, every derivative copy to quarantine byte for byte; burst and distinct photo stay; undo restores all")
    func keepMaster() throws {
        let ws = try Workspace()
        try makeSilos(ws)
        #expect(try ws.run("scan", "-q", "--similar-images", "--catalog", "c.db", "archive=archive", "web=web", "social=social").status == 0)
        let silos = regularFiles(ws.url, skipping: outside)

        let made = try ws.run("plan", "--catalog", "c.db", "--target", "dam", "--derivatives", "keep-master", "-o", "plan.json")
        #expect(made.status == 0, "\(made.stderr)")
        #expect(made.out.contains("4 files of 3 derivative contents"), "\(made.out)")
        let doc = try #require(try json([UInt8](Data(contentsOf: ws.url.appendingPathComponent("plan.json")))) as? [String: Any])
        #expect((doc["settings"] as? [String: Any])?["derivatives"] as? String == "keep-master")
        let ops = try operations(ws, "plan.json")
        let moved = ops.filter { $0["derivative_of"] != nil }
        func source(_ op: [String: Any]) -> String {
            let s = op["source"] as! [String: Any]
            return "\(s["silo"]!)/\(s["path"]!)"
        }
        #expect(Set(moved.map(source)) == Set(derivatives), "\(moved.map(source))")
        let master = try #require(ops.first { ($0["kind"] as? String) == "copy" && source($0) == "archive/photo.jpg" })
        for op in moved {
            #expect(op["kind"] as? String == "quarantine-duplicate")
            #expect(op["canonical_op"] as? Int == master["id"] as? Int)
            let reason = op["reason"] as? String ?? ""
            #expect(reason.contains("derivative of archive:photo.jpg (the master, 800×600 jpeg"), "\(reason)")
            #expect(reason.contains("perceptual distance"), "\(reason)")
            let of = try #require(op["derivative_of"] as? [String: Any])
            #expect(of["master_width"] as? Int == 800 && of["master_height"] as? Int == 600)
        }
        let webp = try #require(moved.first { source($0) == "social/photo.webp" })
        #expect((webp["reason"] as? String ?? "").contains("320×240 webp"), "\(webp)")
        // The burst frame and the distinct photo are carried like any content.
        let copied = Set(ops.filter { ($0["kind"] as? String) == "copy" }.map(source))
        #expect(copied == ["archive/photo.jpg", "archive/burst.jpg", "archive/other.jpg"], "\(copied)")

        let show = try ws.run("plan", "show", "plan.json")
        #expect(show.out.contains("Derivatives (--derivatives keep-master): 4 files of 3 derivative contents"), "\(show.out)")
        #expect(show.out.contains("derivatives of 1 master kept in the target"), "\(show.out)")
        let showJSON = try #require(try json(try ws.run("plan", "show", "plan.json", "--format", "json").stdout) as? [String: Any])
        let summary = try #require((showJSON["summary"] as? [String: Any])?["derivatives"] as? [String: Any])
        let bytes = try derivatives.reduce(0) { $0 + (try Data(contentsOf: ws.url.appendingPathComponent($1)).count) }
        #expect(summary["files"] as? Int == 4 && summary["contents"] as? Int == 3 && summary["masters"] as? Int == 1
                && summary["bytes"] as? Int == bytes, "\(summary)")

        // Verify before apply: no target and no journal, said as such.
        let early = try ws.run("verify", "plan.json")
        #expect(early.status == 2 && early.stderr.contains("the plan has not been applied here: no journal at "), "\(early.stderr)")
        // The dry run says what each move is: a derivative, its size, distance and master's size.
        let dry = try ws.run("apply", "plan.json", "--dry-run")
        #expect(dry.status == 0 && dry.out.contains("web/photo-small.jpg  (a 400×300 derivative, ") && dry.out.contains(" bits from its 800×600 master)"),
                "\(dry.out)")
        let applied = try ws.run("apply", "plan.json")
        #expect(applied.status == 0, "\(applied.stderr)\(applied.out)")
        #expect(applied.out.contains("4 derivatives quarantined"), "\(applied.out)")
        let target = regularFiles(ws.url.appendingPathComponent("dam"), skipping: [".silomerge-quarantine"])
        #expect(Set(target.values) == Set(["archive/photo.jpg", "archive/burst.jpg", "archive/other.jpg"].map { silos[$0]! }))
        #expect(target.count == 3, "\(target.keys.sorted())")
        let quarantine = regularFiles(ws.url.appendingPathComponent("dam/.silomerge-quarantine"))
        #expect(quarantine.count == 4, "\(quarantine.keys.sorted())")
        for d in derivatives {
            #expect(quarantine[d] == silos[d], "\(d) is in quarantine, byte for byte")
            #expect(!ws.exists(d), "\(d) left its silo")
        }
        #expect(ws.exists("archive/photo.jpg") && ws.exists("archive/burst.jpg") && ws.exists("archive/other.jpg"))
        let verify = try ws.run("verify", "plan.json")
        #expect(verify.status == 0 && verify.out.contains("complete and valid"), "\(verify.out)\(verify.stderr)")
        #expect(verify.out.contains("Derivatives in quarantine (--derivatives keep-master): 4 of 4 files hold their content."), "\(verify.out)")
        let verifyJSON = try #require(try json(try ws.run("verify", "--format", "json", "plan.json").stdout) as? [String: Any])
        #expect(verifyJSON["quarantined_derivatives"] as? [String: Int] == ["files": 4, "verified": 4], "\(verifyJSON)")
        // A quarantined derivative is the only copy of its content: verify checks it too.
        let held = ws.url.appendingPathComponent("dam/.silomerge-quarantine/social/photo.webp")
        var rotten = try Data(contentsOf: held)
        rotten[rotten.count / 2] ^= 0xFF
        try rotten.write(to: held)
        let bad = try ws.run("verify", "plan.json")
        #expect(bad.status != 0 && bad.out.contains("mismatch") && bad.out.contains("derivative quarantined by operation"), "\(bad.out)")
        try silos["social/photo.webp"]!.write(to: held)

        let undo = try ws.run("undo", "plan.json")
        #expect(undo.status == 0, "\(undo.stderr)")
        #expect(regularFiles(ws.url, skipping: outside) == silos, "undo restores every file byte for byte")
        #expect(regularFiles(ws.url.appendingPathComponent("dam")).isEmpty)
    }

    @Test("a derivative edited between plan and apply is refused, not moved: the plan when its mtime tells, the operation when only its bytes do")
    func editedDerivativeIsRefused() throws {
        let ws = try Workspace()
        try makeSilos(ws)
        #expect(try ws.run("scan", "-q", "--similar-images", "--catalog", "c.db", "archive=archive", "web=web", "social=social").status == 0)
        #expect(try ws.run("plan", "--catalog", "c.db", "--target", "dam", "--derivatives", "keep-master", "-o", "plan.json").status == 0)
        // The same size, new bytes.
        let url = ws.url.appendingPathComponent("social/photo.webp")
        try runTool("cp", ["-p", "social/photo.webp", "reference"], in: ws.url)   // its mtime, to the nanosecond
        var edited = try Data(contentsOf: url)
        edited[edited.count / 2] ^= 0xFF
        try edited.write(to: url)
        let refused = try ws.run("apply", "plan.json")
        #expect(refused.status != 0 && refused.stderr.contains("social:photo.webp: the source changed since the plan was made"),
                "\(refused.stderr)\(refused.out)")
        #expect(!ws.exists("dam"), "nothing written")
        // Its mtime put back: only its bytes differ, which apply hashes before moving it.
        try runTool("touch", ["-m", "-r", "reference", "social/photo.webp"], in: ws.url)
        let applied = try ws.run("apply", "plan.json")
        #expect(applied.status != 0, "\(applied.out)")
        #expect((applied.stderr + applied.out).contains("refused quarantine-duplicate social:photo.webp")
                && (applied.stderr + applied.out).contains("its content has SHA-256"), "\(applied.stderr)\(applied.out)")
        #expect(try Data(contentsOf: url) == edited, "the edited derivative stays, as it is")
        #expect(!ws.exists("dam/.silomerge-quarantine/social/photo.webp"))
        for d in derivatives where d != "social/photo.webp" {
            #expect(ws.exists("dam/.silomerge-quarantine/\(d)") && !ws.exists(d), "\(d)")
        }
        #expect(try ws.run("undo", "plan.json").status == 0)
        #expect(derivatives.allSatisfy { ws.exists($0) })
    }

    @Test("keep-all (the default) writes today's plan, byte for byte")
    func keepAllIsTodaysPlan() throws {
        let ws = try Workspace()
        try makeSilos(ws)
        #expect(try ws.run("scan", "-q", "--similar-images", "--catalog", "c.db", "archive=archive", "web=web", "social=social").status == 0)
        #expect(try ws.run("plan", "--catalog", "c.db", "--target", "dam", "--duplicates", "quarantine", "-o", "plan.json").status == 0)
        #expect(try ws.run("plan", "--catalog", "c.db", "--target", "dam", "--duplicates", "quarantine", "--derivatives", "keep-all",
                           "-o", "all.json").status == 0)
        let today = try Data(contentsOf: ws.url.appendingPathComponent("plan.json"))
        #expect(today == (try Data(contentsOf: ws.url.appendingPathComponent("all.json"))))
        let text = String(decoding: today, as: UTF8.self)
        #expect(!text.contains("derivative"), "nothing of the option in a keep-all plan")
        // Every content is carried; the exact copy of the resized one is the only duplicate.
        let ops = try operations(ws, "plan.json")
        #expect(ops.filter { ($0["kind"] as? String) == "copy" }.count == 6)
        #expect(ops.filter { ($0["kind"] as? String) == "quarantine-duplicate" }.count == 1)
    }

    @Test("without perceptual hashes keep-master refuses, naming the silos; a silo without them is warned about; --in-place refuses it")
    func noPerceptualHashes() throws {
        let ws = try Workspace()
        try makeSilos(ws)
        #expect(try ws.run("scan", "-q", "--catalog", "c.db", "archive=archive", "web=web").status == 0)
        let refused = try ws.run("plan", "--catalog", "c.db", "--target", "dam", "--derivatives", "keep-master", "-o", "plan.json")
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("archive, web") && refused.stderr.contains("scan with --similar-images"), "\(refused.stderr)")
        #expect(!ws.exists("plan.json"))
        // social scanned with perceptual hashes, the others not: a plan, and a warning naming the silos without.
        #expect(try ws.run("scan", "-q", "--similar-images", "--catalog", "c.db", "social=social").status == 0)
        let warned = try ws.run("plan", "--catalog", "c.db", "--target", "dam", "--derivatives", "keep-master", "-o", "plan.json")
        #expect(warned.status == 0, "\(warned.stderr)")
        // web's resized photo is social's copy: one content, one hash, so only archive lacks them.
        #expect(warned.stderr.contains("archive holds no perceptual hash") && warned.stderr.contains("scan with --similar-images"),
                "\(warned.stderr)")
        let inPlace = try ws.run("plan", "--catalog", "c.db", "--in-place", "--derivatives", "keep-master", "-o", "dedup.json")
        #expect(inPlace.status != 0 && inPlace.stderr.contains("--derivatives keep-master cannot go with it"), "\(inPlace.stderr)")
    }
}
