import Foundation
import Testing
import SiloMergeCore
import SiloMergeSQLite
#if canImport(Glibc)
import Glibc
#endif

/// `é` as one code point (NFC) and as `e` + a combining acute accent (NFD): two different
/// names on Linux, one and the same name to Swift's `String ==`.
let nfcName: [UInt8] = [0xC3, 0xA9] + Array(".txt".utf8)
let nfdName: [UInt8] = [0x65, 0xCC, 0x81] + Array(".txt".utf8)

@Suite("silomerge plan and apply: names that differ only by Unicode form, end to end")
struct UnicodeFormCLITests {
    /// Silo a holds two different files named NFC `é.txt` and NFD `é.txt` in one folder; silo b
    /// holds a copy of each, crossed, under the same two names. Every --duplicates mode, with
    /// --method move: plan, apply, verify, undo.
    @Test("NFC and NFD names in one folder: every --duplicates mode plans, applies, verifies and undoes",
          arguments: ["keep", "remove", "quarantine", "hardlink"])
    func nfcAndNFD(mode: String) throws {
        let ws = try Workspace("nfc\(mode)")
        let first = Array("the first content\n".utf8), second = Array("the second content, longer\n".utf8)
        RawTree.write(ws.url.path, Array("a/photos/".utf8) + nfcName, first)
        RawTree.write(ws.url.path, Array("a/photos/".utf8) + nfdName, second)
        RawTree.write(ws.url.path, Array("b/dup/".utf8) + nfcName, second)
        RawTree.write(ws.url.path, Array("b/dup/".utf8) + nfdName, first)
        let before = RawTree.list(ws.url.path + "/a").merging(RawTree.list(ws.url.path + "/b").map { (Array("b/".utf8) + $0.key, $0.value) }) { a, _ in a }
        #expect(before.values.filter { $0.kind == .file }.count == 4)

        let scan = try ws.run("scan", "a", "b")
        #expect(scan.status == 0, "\(scan.stderr)")
        let plan = try ws.run("plan", "--target", "dam", "-o", "plan.json", "--method", "move", "--duplicates", mode)
        #expect(plan.status == 0, "\(mode): \(plan.stderr)")
        let applied = try ws.run("apply", "plan.json")
        #expect(applied.status == 0, "\(mode): \(applied.stderr)")
        let verify = try ws.run("verify", "plan.json")
        #expect(verify.status == 0, "\(mode): \(verify.out)")

        // Both contents are in the target; both canonical names left silo a.
        let target = RawTree.list(ws.url.path + "/dam", foldersToo: false, stopAt: [Array(".silomerge-quarantine".utf8)])
        #expect(Set(target.values.filter { $0.kind == .file }.map(\.data)) == [first, second], "\(mode): \(target.keys.map(RawTree.show))")
        let a = RawTree.list(ws.url.path + "/a", foldersToo: false)
        #expect(a.isEmpty, "\(mode): left in a: \(a.keys.map(RawTree.show))")
        let b = RawTree.list(ws.url.path + "/b", foldersToo: false)
        let quarantine = RawTree.list(ws.url.path + "/dam/.silomerge-quarantine", foldersToo: false)
        switch mode {
        case "remove":
            #expect(b.isEmpty)
        case "quarantine":
            #expect(b.isEmpty)
            #expect(quarantine[Array("b/dup/".utf8) + nfcName]?.data == second)
            #expect(quarantine[Array("b/dup/".utf8) + nfdName]?.data == first)
        default:   // keep, hardlink: both names still there with their own content
            #expect(b[Array("dup/".utf8) + nfcName]?.data == second)
            #expect(b[Array("dup/".utf8) + nfdName]?.data == first)
        }

        let undo = try ws.run("undo", "plan.json")
        #expect(undo.status == 0, "\(mode): \(undo.stderr)")
        let after = RawTree.list(ws.url.path + "/a").merging(RawTree.list(ws.url.path + "/b").map { (Array("b/".utf8) + $0.key, $0.value) }) { a, _ in a }
        #expect(after == before, "\(mode): undo did not restore the silos byte for byte")
        #expect(RawTree.list(ws.url.path + "/dam", foldersToo: false).isEmpty)
    }
}

/// Sets the mtime of every file below `root` (symlinks aside).
func setAllMtimes(_ root: URL, to date: Date) throws {
    let e = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])!
    for case let url as URL in e where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
        try FileManager.default.setAttributes([.modificationDate: date], ofItemAtPath: url.path)
    }
}

@Suite("File dates are never creation dates, end to end")
struct FileDatesCLITests {
    /// Every file of the Fixtures gets the mtime 1999-12-31: a date no metadata in them holds.
    /// No export, sidecar or manifest may then call 1999-12-31 a creation date; it appears as
    /// `file_modified` only, and the plan says which contents it placed by it.
    @Test("no mtime is ever exported as a creation date (exports, plan sidecars, import manifests); plans say what they placed by mtime")
    func mtimeIsNeverACreationDate() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        let stamp = Date(timeIntervalSince1970: 946_641_600)   // 1999-12-31T12:00:00Z
        for silo in ["marketing", "hr", "training"] { try setAllMtimes(ws.url.appendingPathComponent(silo), to: stamp) }
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        try FileManager.default.createDirectory(at: ws.url.appendingPathComponent("out"), withIntermediateDirectories: true)
        for format in ["jsonl", "csv", "exiftool", "xmp"] {
            let r = try ws.run("export", "--format", format, "-o", format == "xmp" ? "out/xmp" : "out/export.\(format)")
            #expect(r.status == 0, "\(format): \(r.stderr)")
        }
        // JSON Lines: date_created only from metadata; every record has its file_modified.
        let lines = try String(contentsOf: ws.url.appendingPathComponent("out/export.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        var withoutDate = 0
        for line in lines {
            let fields = line["fields"] as! [String: [String: Any]]
            if let date = fields["date_created"] {
                #expect(!"\(date["value"] ?? "")".hasPrefix("1999-12-31"), "\(line["sha256"]!): \(date)")
                #expect((date["sources"] as! [[String: Any]]).allSatisfy { ($0["origin"] as? String) != "filesystem" })
            } else {
                withoutDate += 1
            }
            #expect(line["file_modified"] as? String == "1999-12-31T12:00:00.000Z", "\(line["sha256"]!)")
        }
        #expect(withoutDate > 0)
        // CSV: the date_created column never holds it; file_modified does.
        let csv = try String(contentsOf: ws.url.appendingPathComponent("out/export.csv"), encoding: .utf8)
        let header = csv.split(separator: "\r\n")[0].split(separator: ",").map(String.init)
        let dateColumn = try #require(header.firstIndex(of: "date_created"))
        let modifiedColumn = try #require(header.firstIndex(of: "file_modified"))
        #expect(modifiedColumn > dateColumn)
        #expect(modifiedColumn == header.count - 1)
        #expect(csv.components(separatedBy: "1999-12-31").count - 1 == lines.count, "one file_modified per row, nothing else")
        #expect(csv.components(separatedBy: ",1999-12-31T12:00:00.000Z\r\n").count - 1 == lines.count)
        // ExifTool JSON and XMP: never.
        #expect(!(try String(contentsOf: ws.url.appendingPathComponent("out/export.exiftool"), encoding: .utf8)).contains("1999-12-31"))
        for name in try FileManager.default.contentsOfDirectory(atPath: ws.url.appendingPathComponent("out/xmp").path) {
            #expect(!(try String(contentsOf: ws.url.appendingPathComponent("out/xmp/" + name), encoding: .utf8)).contains("1999-12-31"), "\(name)")
        }

        // A plan with generated sidecars and import manifests.
        let made = try ws.run("plan", "--target", "dam", "-o", "plan.json", "--allow-conflicts", "--sidecars", "--import-manifest")
        #expect(made.status == 0, "\(made.stderr)")
        let plan = try json(try [UInt8](Data(contentsOf: ws.url.appendingPathComponent("plan.json")))) as! [String: Any]
        let ops = plan["operations"] as! [[String: Any]]
        for op in ops where op["content"] != nil {
            let content = op["content"] as! String
            if (op["destination"] as! String).hasSuffix(".csv") {
                // The manifest's date_created column is empty for them; file_modified is there.
                let rows = content.split(separator: "\r\n")
                let cols = rows[0].split(separator: ",").map(String.init)
                #expect(cols.contains("file_modified"))
                #expect(content.components(separatedBy: ",1999-12-31T12:00:00.000Z").count - 1 == rows.count - 1, "file_modified only")
            } else {
                #expect(!content.contains("1999-12-31"), "\(op["destination"]!): a file date written as a date")
            }
        }
        // Transfers placed by mtime say so, and the summary counts them.
        let transfers = ops.filter { ($0["kind"] as? String) == "copy" }
        let byMtime = transfers.filter { ($0["reason"] as! String).contains("no capture date; file modified 1999-12-31") }
        #expect(byMtime.count == withoutDate)
        #expect(byMtime.allSatisfy { ($0["destination"] as! String).hasPrefix("1999/12/") && ($0["date_source"] as? String) == "file_modified" })
        #expect(transfers.filter { ($0["date_source"] as? String) == "date_created" }.count == transfers.count - withoutDate)
        let show = try ws.run("plan", "show", "plan.json")
        #expect(show.out.contains("\(withoutDate) placed by their file modification time (no capture date)"), "\(show.out)")
    }
}

/// The Fixtures plus one of each thing a merge can leave behind: a symbolic link, exiftool's
/// `*_original` backup, a FIFO, a `.git/` folder, a file an exclude rule skips.
func leftoverWorkspace(_ label: String) throws -> Workspace {
    let ws = try Workspace(label)
    try ws.copyFixtures()
    try FileManager.default.createSymbolicLink(atPath: ws.url.appendingPathComponent("marketing/link-to-logo.png").path,
                                               withDestinationPath: "logo.png")
    try FileManager.default.copyItem(at: ws.url.appendingPathComponent("hr/logo.png"),
                                     to: ws.url.appendingPathComponent("hr/logo.png_original"))
    #expect(mkfifo(ws.url.appendingPathComponent("training/pipe").path, 0o644) == 0)
    try ws.write("marketing/.git/config", "[core]\n")
    try ws.write("hr/drafts/notes.tmp", "draft\n")
    return ws
}

/// Every entry of the silos, as "silo/path" bytes: files, links, FIFOs, and the folders named
/// in `wholeFolders` (not entered).
func siloEntries(_ ws: Workspace, wholeFolders: Set<[UInt8]> = []) -> Set<[UInt8]> {
    var out: Set<[UInt8]> = []
    for silo in ["marketing", "hr", "training"] {
        let prefix = Array(silo.utf8) + [0x2F]
        let stop = Set(wholeFolders.filter { $0.starts(with: prefix) }.map { Array($0.dropFirst(prefix.count)) })
        for (path, entry) in RawTree.list(ws.url.path + "/" + silo, foldersToo: false, stopAt: stop) where entry.kind != .folder || stop.contains(path) {
            out.insert(prefix + path)
        }
    }
    return out
}

func silosSnapshot(_ ws: Workspace) -> [[UInt8]: RawEntry] {
    var out: [[UInt8]: RawEntry] = [:]
    for silo in ["marketing", "hr", "training"] {
        for (path, entry) in RawTree.list(ws.url.path + "/" + silo) { out[Array(silo.utf8) + [0x2F] + path] = entry }
    }
    return out
}

struct LeftBehindEntry: Hashable {
    var key: [UInt8]
    var kind: String
    var reason: String
    var detail: String
}

/// `plan show --format json`: the summary and the entries left behind.
func planReport(_ ws: Workspace, _ plan: String = "plan.json") throws -> (summary: [String: Any], entries: [LeftBehindEntry]) {
    let r = try ws.run("plan", "show", plan, "--format", "json")
    #expect(r.status == 0, "\(r.stderr)")
    let object = try json(r.stdout) as! [String: Any]
    let entries = (object["left_behind"] as! [[String: Any]]).map { e -> LeftBehindEntry in
        let path = (e["path_b64"] as? String).map { Array(Data(base64Encoded: $0)!) } ?? Array((e["path"] as! String).utf8)
        return LeftBehindEntry(key: Array((e["silo"] as! String).utf8) + [0x2F] + path, kind: e["kind"] as! String,
                               reason: e["reason"] as! String, detail: e["detail"] as! String)
    }
    return (object["summary"] as! [String: Any], entries)
}

@Suite("What a merge leaves behind: every entry of the silos accounted for, end to end")
struct LeftBehindCLITests {
    @Test("a move-apply leaves in the silos exactly what the plan lists as left behind; sidecars travel; empty files are planned; undo restores all",
          arguments: ["remove", "quarantine", "keep", "hardlink"])
    func moveLeavesExactlyLeftBehind(mode: String) throws {
        let ws = try leftoverWorkspace("left\(mode)")
        let scan = try ws.run("scan", "--config", "silomerge.yml", "--exclude", "*.tmp")
        #expect(scan.status == 1 && scan.stderr.contains("training:pipe"), "the FIFO is a warning: \(scan.stderr)")
        let before = silosSnapshot(ws)
        let made = try ws.run("plan", "--target", "dam", "-o", "plan.json", "--allow-conflicts", "--method", "move", "--duplicates", mode)
        #expect(made.status == 0, "\(made.stderr)")
        let (summary, entries) = try planReport(ws)
        let byKey = Dictionary(entries.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byKey.count == entries.count, "an entry is listed twice")
        // The counts are the entries'.
        let counts = summary["left_behind"] as! [String: Any]
        #expect(counts["entries"] as? Int == entries.count)
        let byReason = counts["by_reason"] as! [String: Int]
        #expect(byReason.values.reduce(0, +) == entries.count)
        for (reason, n) in byReason { #expect(entries.filter { $0.reason == reason }.count == n, "\(reason)") }

        func reason(_ path: String) -> String? { byKey[Array(path.utf8)]?.reason }
        #expect(reason("marketing/link-to-logo.png") == "symlink")
        #expect(reason("hr/logo.png_original") == "ignored")
        #expect(reason("training/pipe") == "special-file" && byKey[Array("training/pipe".utf8)]?.kind == "fifo")
        #expect(reason("marketing/.git") == "ignored" && byKey[Array("marketing/.git".utf8)]?.kind == "directory")
        #expect(reason("hr/drafts/notes.tmp") == "excluded")
        for junk in ["hr/staff-photos/offsite-2023/Thumbs.db", "marketing/.DS_Store", "training/.DS_Store",
                     "marketing/campaigns/2023/summer-launch/._hero.jpg"] { #expect(reason(junk) == "ignored", "\(junk)") }
        // Sidecars of duplicates stay; the canonical copy's sidecar travels; empty files are planned.
        for sidecar in ["hr/staff-photos/offsite-2023/team_offsite.xmp", "training/module-01/images/intro-hero.jpg.xmp",
                        "training/module-01/images/intro-hero.xmp"] { #expect(reason(sidecar) == "sidecar-of-duplicate", "\(sidecar)") }
        #expect(reason("marketing/campaigns/2023/summer-launch/teaser.xmp") == nil)
        #expect(reason("hr/notes/empty.txt") == nil)
        switch mode {
        case "keep":
            #expect(reason("training/module-01/notes/todo.txt") == "duplicate-kept")
            #expect(reason("hr/staff-photos/offsite-2023/team_offsite.jpg") == "duplicate-kept")
        case "hardlink":
            #expect(reason("training/module-01/notes/todo.txt") == "linked-duplicate")
        default:
            #expect(reason("training/module-01/notes/todo.txt") == nil)
            #expect(reason("hr/staff-photos/offsite-2023/team_offsite.jpg") == nil)
        }
        let show = try ws.run("plan", "show", "plan.json")
        #expect(show.out.contains("Left behind: after apply the silos still hold \(entries.count) entries"), "\(show.out)")
        #expect(show.out.contains("hr:drafts/notes.tmp: exclude rule: *.tmp"))

        let applied = try ws.run("apply", "plan.json")
        #expect(applied.status == 0, "\(applied.stderr)")
        // What the silos hold now is exactly what the plan said it would leave.
        let now = siloEntries(ws, wholeFolders: Set(entries.filter { $0.kind == "directory" }.map(\.key)))
        let listed = Set(entries.map(\.key))
        #expect(now.subtracting(listed).isEmpty, "left but not listed: \(now.subtracting(listed).map(RawTree.show))")
        #expect(listed.subtracting(now).isEmpty, "listed but gone: \(listed.subtracting(now).map(RawTree.show))")
        // The teaser's sidecar is beside the teaser in the target, byte for byte.
        let plan = try json([UInt8](Data(contentsOf: ws.url.appendingPathComponent("plan.json")))) as! [String: Any]
        let ops = plan["operations"] as! [[String: Any]]
        let teaser = try #require(ops.first { (($0["source"] as? [String: Any])?["path"] as? String) == "campaigns/2023/summer-launch/teaser.mp4" })
        let sidecarOp = try #require(ops.first { ($0["kind"] as? String) == "sidecar-move" })
        #expect(sidecarOp["canonical_op"] as? Int == teaser["id"] as? Int)
        let teaserDest = teaser["destination"] as! String
        let sidecarDest = sidecarOp["destination"] as! String
        #expect(sidecarDest == String(teaserDest.dropLast(".mp4".count)) + ".xmp")
        #expect(before[Array("marketing/campaigns/2023/summer-launch/teaser.xmp".utf8)]?.data
                == [UInt8](try Data(contentsOf: ws.url.appendingPathComponent("dam/" + sidecarDest))))
        // The empty content is in the target once.
        #expect(ops.contains { ($0["kind"] as? String) == "move" && (($0["source"] as? [String: Any])?["size"] as? Int) == 0 })
        // The summary says what was moved (by links on one file system: no data written) and freed.
        #expect(applied.out.contains("Moved 181 KiB (21 files and 1 sidecar)"), "\(applied.out)")
        #expect(applied.out.contains("Data written: 0 B (moves and hard links on one file system write none)"), "\(applied.out)")
        #expect(applied.out.contains("; freed in the silos: "), "\(applied.out)")

        let verify = try ws.run("verify", "plan.json")
        #expect(verify.status == 0, "\(verify.out)")
        let undo = try ws.run("undo", "plan.json")
        #expect(undo.status == 0, "\(undo.stderr)")
        let after = silosSnapshot(ws)
        #expect(after == before, "undo: \(Set(after.keys).symmetricDifference(before.keys).map(RawTree.show)) \(after.filter { before[$0.key] != $0.value }.keys.map(RawTree.show))")
    }

    @Test("--method copy --no-sidecars: sources stay (copied), original sidecars stay (not carried); the silos hold exactly that; a /1 plan is refused")
    func copyWithoutSidecars() throws {
        let ws = try leftoverWorkspace("copynosidecars")
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 1)   // the FIFO
        let both = try ws.run("plan", "--target", "dam", "-o", "plan.json", "--allow-conflicts", "--sidecars", "--no-sidecars")
        #expect(both.status == 64 && both.stderr.contains("--no-sidecars"))
        let made = try ws.run("plan", "--target", "dam", "-o", "plan.json", "--allow-conflicts", "--no-sidecars", "--duplicates", "remove")
        #expect(made.status == 0, "\(made.stderr)")
        let (_, entries) = try planReport(ws)
        let byKey = Dictionary(entries.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byKey[Array("marketing/campaigns/2023/summer-launch/teaser.xmp".utf8)]?.reason == "sidecar-not-carried")
        #expect(byKey[Array("marketing/campaigns/2023/summer-launch/teaser.mp4".utf8)]?.reason == "copied")
        #expect(byKey[Array("hr/notes/empty.txt".utf8)]?.reason == "copied")
        let plan = try json([UInt8](Data(contentsOf: ws.url.appendingPathComponent("plan.json")))) as! [String: Any]
        #expect(!(plan["operations"] as! [[String: Any]]).contains { ($0["kind"] as! String).hasPrefix("sidecar-") })
        // A plan from before schema 2 is refused by every command, saying what to do; nothing is written.
        let text = try String(contentsOf: ws.url.appendingPathComponent("plan.json"), encoding: .utf8)
        try text.replacingOccurrences(of: "\"silomerge-plan/3\"", with: "\"silomerge-plan/1\"")
            .write(to: ws.url.appendingPathComponent("old.json"), atomically: true, encoding: .utf8)
        for command in [["apply", "old.json"], ["plan", "show", "old.json"], ["verify", "old.json"], ["undo", "old.json"]] {
            let r = try silomerge(command, in: ws.url)
            #expect(r.status == 64, "\(command)")
            #expect(r.stderr.contains("made by an older SiloMerge: run `silomerge plan` again"), "\(command): \(r.stderr)")
        }
        #expect(!ws.exists("dam"))
        #expect(try ws.run("apply", "plan.json", "-q").status == 0)
        let now = siloEntries(ws, wholeFolders: Set(entries.filter { $0.kind == "directory" }.map(\.key)))
        #expect(now == Set(entries.map(\.key)), "\(now.symmetricDifference(Set(entries.map(\.key))).map(RawTree.show))")
    }

    @Test("a catalogue whose silos were last scanned before scans recorded what they pass over: the plan says so")
    func staleRecord() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        let fresh = try ws.run("plan", "--target", "dam", "-o", "plan.json", "--allow-conflicts")
        #expect(fresh.status == 0 && !fresh.stderr.contains("older SiloMerge"), "\(fresh.stderr)")
        // As the v6-plan migration leaves an older catalogue: its runs predate the record.
        try SQLiteCatalogue(path: ws.url.appendingPathComponent("silomerge.sqlite").path).setSetting("uncatalogued.since_run", "1")
        let stale = try ws.run("plan", "--target", "dam", "-o", "plan.json", "--allow-conflicts")
        #expect(stale.status == 0)
        #expect(stale.stderr.contains("marketing, hr, training: last scanned by an older SiloMerge"), "\(stale.stderr)")
        #expect(try ws.run("scan").status == 0)
        #expect(!(try ws.run("plan", "--target", "dam", "-o", "plan.json", "--allow-conflicts")).stderr.contains("older SiloMerge"))
    }

    @Test("files an audit (--hash dupes) never hashed are left behind as unhashed, not silently dropped")
    func unhashedAfterAudit() throws {
        let ws = try leftoverWorkspace("unhashed")
        #expect(try ws.run("audit", "--config", "silomerge.yml").status == 1)   // the FIFO
        let made = try ws.run("plan", "--target", "dam", "-o", "plan.json", "--allow-conflicts", "--method", "move", "--duplicates", "remove")
        #expect(made.status == 0, "\(made.stderr)")
        #expect(made.stderr.contains("no full hash"), "\(made.stderr)")
        let (summary, entries) = try planReport(ws)
        let unhashed = entries.filter { $0.reason == "unhashed" }
        #expect(unhashed.count > 10)
        #expect(unhashed.allSatisfy { $0.detail.contains("--hash full") })
        #expect(((summary["left_behind"] as! [String: Any])["by_reason"] as! [String: Int])["unhashed"] == unhashed.count)
        #expect(try ws.run("apply", "plan.json", "-q").status == 0)
        let now = siloEntries(ws, wholeFolders: Set(entries.filter { $0.kind == "directory" }.map(\.key)))
        #expect(now == Set(entries.map(\.key)), "\(now.symmetricDifference(Set(entries.map(\.key))).map(RawTree.show))")
    }
}

@Suite("silomerge plan --rule, end to end")
struct PlanRuleCLITests {
    @Test("--rule from the command line decides the canonical copy, in order; repeated or comma-separated; unknown rules are refused")
    func rules() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        // The hero photo is in marketing (priority 1), hr and training; make hr's copy the oldest.
        for (path, year) in [("marketing/campaigns/2023/summer-launch/hero.jpg", 2023.0), ("hr/staff-photos/offsite-2023/team_offsite.jpg", 2019.0),
                             ("training/module-01/images/intro-hero.jpg", 2021.0)] {
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: (year - 1970) * 365.25 * 86_400)],
                                                  ofItemAtPath: ws.url.appendingPathComponent(path).path)
        }
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        func canonical(_ args: [String]) throws -> (path: String, reason: String) {
            let r = try silomerge(["plan", "--target", "dam", "-o", "plan.json", "--allow-conflicts", "--layout", "{silo}/{path}"] + args, in: ws.url)
            #expect(r.status == 0, "\(args): \(r.stderr)")
            let plan = try json([UInt8](Data(contentsOf: ws.url.appendingPathComponent("plan.json")))) as! [String: Any]
            let op = (plan["operations"] as! [[String: Any]]).first {
                ($0["kind"] as? String) == "copy" && ($0["source"] as? [String: Any])?["sha256"] as? String == "9508fa571338009b8034da3a99da5ee648c1b84749024a0fbb049a0bc07332ea"
            }
            let source = op?["source"] as? [String: Any]
            return ("\(source?["silo"] ?? "?"):\(source?["path"] ?? "?")", op?["reason"] as? String ?? "")
        }
        let byDefault = try canonical([])
        #expect(byDefault.path == "marketing:campaigns/2023/summer-launch/hero.jpg")
        #expect(byDefault.reason.contains("marketing has priority 1"))
        let oldest = try canonical(["--rule", "oldest-mtime", "--rule", "silo-priority"])
        #expect(oldest.path == "hr:staff-photos/offsite-2023/team_offsite.jpg", "\(oldest)")
        #expect(oldest.reason.contains("oldest copy (2019-"), "\(oldest.reason)")
        let listed = try canonical(["--rule", "preferred-path:module-01/**,silo-priority"])
        #expect(listed.path == "training:module-01/images/intro-hero.jpg", "\(listed)")
        #expect(listed.reason.contains("path matches preferred 'module-01/**'"))
        let plan = try json([UInt8](Data(contentsOf: ws.url.appendingPathComponent("plan.json")))) as! [String: Any]
        #expect((plan["settings"] as! [String: Any])["canonical_rules"] as? [String] == ["preferred-path:module-01/**", "silo-priority"])
        let bad = try ws.run("plan", "--target", "dam", "-o", "bad.json", "--allow-conflicts", "--rule", "biggest-first")
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("unknown canonical rule 'biggest-first'") && bad.stderr.contains("oldest-mtime"), "\(bad.stderr)")
        #expect(!ws.exists("bad.json"))
    }
}
