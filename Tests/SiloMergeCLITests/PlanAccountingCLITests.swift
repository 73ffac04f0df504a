import Foundation
import Testing
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
