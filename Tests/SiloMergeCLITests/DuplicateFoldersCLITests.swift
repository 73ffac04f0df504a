import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

// `duplicates --folders` and audit's DUPLICATE FOLDERS section on generated trees, checked
// against a brute-force answer computed here from the files on disk: each folder's content
// written out in full (its files' bytes and its subfolders' contents, sorted, names left out),
// so the check shares nothing with the catalogue's Merkle hashes.

/// Deterministic bytes (xorshift), so a tree is the same on every run.
private func content(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed &* 0x9E3779B97F4A7C15 | 1
    return (0..<count).map { _ in
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return UInt8(truncatingIfNeeded: state)
    }
}

/// The duplicate-folder groups of these silos, by brute force: "silo:path" sets (root ""),
/// outer groups only (a group whose every folder lies inside a folder of some group is left
/// out), folders with no bytes below them never grouped, folders with no files ignored.
private func bruteForceGroups(_ root: URL, silos: [String]) -> Set<Set<String>> {
    var signature: [String: String] = [:]     // "silo:path" → full content description
    var bytesBelow: [String: Int] = [:]
    for silo in silos {
        let entries = RawTree.list(root.appendingPathComponent(silo).path)
        var folders: Set<[UInt8]> = [[]]
        for (path, e) in entries where e.kind == .folder { folders.insert(path) }
        func parent(_ p: [UInt8]) -> [UInt8] { p.lastIndex(of: 0x2F).map { Array(p[..<$0]) } ?? [] }
        func describe(_ folder: [UInt8]) -> (String, Int, Int)? {   // (signature, files, bytes) or nil when no file below
            var parts: [String] = []
            var files = 0, bytes = 0
            for (path, e) in entries where parent(path) == folder && path != folder {
                if e.kind == .file {
                    parts.append("f" + Data(e.data).base64EncodedString())
                    files += 1; bytes += e.data.count
                } else if e.kind == .folder, let (sig, f, b) = describe(path) {
                    parts.append("d" + sig)
                    files += f; bytes += b
                }
            }
            return files == 0 ? nil : ("(" + parts.sorted().joined(separator: ",") + ")", files, bytes)
        }
        for folder in folders {
            guard let (sig, _, bytes) = describe(folder) else { continue }
            let key = "\(silo):\(RawTree.show(folder))"
            signature[key] = sig
            bytesBelow[key] = bytes
        }
    }
    var bySignature: [String: Set<String>] = [:]
    for (key, sig) in signature where bytesBelow[key]! > 0 { bySignature[sig, default: []].insert(key) }
    let groups = bySignature.values.filter { $0.count > 1 }
    let inGroups = groups.reduce(into: Set<String>()) { $0.formUnion($1) }
    func insideAnother(_ key: String) -> Bool {
        let (silo, path) = (String(key.prefix { $0 != ":" }), String(key.drop { $0 != ":" }.dropFirst()))
        var p = path
        while !p.isEmpty {
            p = p.lastIndex(of: "/").map { String(p[..<$0]) } ?? ""
            if inGroups.contains("\(silo):\(p)") { return true }
        }
        return false
    }
    return Set(groups.filter { !$0.allSatisfy(insideAnother) })
}

/// The `folder_groups` of `duplicates --folders --format json`, as "silo:path" sets.
private func reportedGroups(_ object: [String: Any]) -> Set<Set<String>> {
    Set((object["folder_groups"] as! [[String: Any]]).map { g in
        Set((g["folders"] as! [[String: Any]]).map { f -> String in
            let path: String
            if let b64 = f["path_b64"] as? String { path = RawTree.show(Array(Data(base64Encoded: b64)!)) } else { path = f["path"] as! String }
            return "\(f["silo"] as! String):\(path)"
        })
    })
}

/// Three silos: a project folder copied whole into another silo with its files renamed, copied
/// again inside its own silo, copied with one byte changed, copied under a name that is not
/// UTF-8 (the changed copy has no refs/, so refs/ and refs/img are groups only inside the
/// whole copies: nested); the raw folder copied alone; folders of empty files; an empty
/// subfolder.
private func makeTree(_ ws: Workspace) throws {
    let root = ws.url.path
    let project: [(String, [UInt8])] = [
        ("brief.pdf", content(9_000, seed: 1)), ("cover.jpg", content(7_000, seed: 2)),
        ("raw/IMG_0001.CR2", content(12_000, seed: 3)), ("raw/IMG_0002.CR2", content(12_001, seed: 4)),
        ("raw/dupe-inside.CR2", content(12_000, seed: 3)),   // the same bytes as IMG_0001, in the same folder
        ("notes/todo.txt", content(300, seed: 5)),
        ("refs/img/logo.svg", content(800, seed: 6)),
    ]
    func place(_ silo: String, _ folder: [UInt8], rename: Bool, change: String? = nil) {
        for (i, (name, data)) in project.enumerated() where change == nil || !name.hasPrefix("refs/") {
            var bytes = data
            if name == change { bytes[0] ^= 0xFF }
            let target: String
            if rename {
                let parts = name.split(separator: "/")
                target = (parts.dropLast().map(String.init) + ["renamed-\(i).bin"]).joined(separator: "/")
            } else { target = name }
            RawTree.write(root, Array("\(silo)/".utf8) + folder + Array("/\(target)".utf8), bytes)
        }
    }
    place("design", Array("projects/alpha".utf8), rename: false)
    place("marketing", Array("from design/alpha copy".utf8), rename: true)
    place("design", Array("backup/alpha-2019".utf8), rename: false)
    place("archive", Array("alpha-edited".utf8), rename: false, change: "raw/IMG_0002.CR2")
    place("archive", Array("caf".utf8) + [0xE9, 0x2F] + Array("alpha".utf8), rename: true)   // "caf\xE9/alpha"
    // Only the raw folder, copied alone: nested in the whole copies, and also outside them.
    for (name, data) in project where name.hasPrefix("raw/") {
        RawTree.write(root, Array("archive/raw-only/\(name.dropFirst(4))".utf8), data)
    }
    // Folders of empty files are not duplicates of each other; an empty subfolder does not count.
    RawTree.write(root, Array("design/empty-a/one.txt".utf8), [])
    RawTree.write(root, Array("marketing/empty-b/two.txt".utf8), [])
    try FileManager.default.createDirectory(at: ws.url.appendingPathComponent("marketing/from design/alpha copy/notes/drafts"),
                                            withIntermediateDirectories: true)
    // Unique files elsewhere (design/projects and marketing/from design hold more than their
    // copy; design/backup and archive/caf\xE9 hold only theirs: they are copies of each other).
    RawTree.write(root, Array("design/projects/budget.xlsx".utf8), content(2_222, seed: 7))
    RawTree.write(root, Array("marketing/from design/readme.txt".utf8), content(333, seed: 8))
    RawTree.write(root, Array("design/solo.bin".utf8), content(4_444, seed: 9))
    RawTree.write(root, Array("marketing/solo.bin".utf8), content(5_555, seed: 10))
}

@Suite("duplicates --folders and audit's duplicate folders, end to end")
struct DuplicateFoldersCLITests {
    @Test("folder groups equal a brute-force answer from the files on disk; JSON shape; names that are not UTF-8")
    func bruteForce() throws {
        let ws = try Workspace()
        try makeTree(ws)
        #expect(try ws.run("scan", "-q", "--hash", "full", "design=design", "marketing=marketing", "archive=archive").status == 0)
        let r = try ws.run("duplicates", "--folders", "--format", "json")
        #expect(r.status == 0, "\(r.stderr)")
        let object = try json(r.stdout) as! [String: Any]
        let expected = bruteForceGroups(ws.url, silos: ["design", "marketing", "archive"])
        #expect(reportedGroups(object) == expected)
        // What the brute force says, spelled out: the whole copies are one group (the edited one
        // is not in it); raw/ has a copy outside them (raw-only; the edited raw/ differs) and
        // notes/ one in the edited copy, so each is a group of its own; refs/ is not. The two
        // folders that hold nothing but a whole copy are copies of each other.
        #expect(expected == [["design:backup", "archive:caf\\xE9"],
                             ["design:projects/alpha", "design:backup/alpha-2019", "marketing:from design/alpha copy",
                              "archive:caf\\xE9/alpha"],
                             ["design:projects/alpha/raw", "design:backup/alpha-2019/raw", "marketing:from design/alpha copy/raw",
                              "archive:caf\\xE9/alpha/raw", "archive:raw-only"],
                             ["design:projects/alpha/notes", "design:backup/alpha-2019/notes", "marketing:from design/alpha copy/notes",
                              "archive:caf\\xE9/alpha/notes", "archive:alpha-edited/notes"]])

        let groups = object["folder_groups"] as! [[String: Any]]
        let first = groups[0]
        #expect(first["files"] as? Int == 7 && first["bytes"] as? Int == 53_101 && first["copies"] as? Int == 4)
        #expect(first["reclaimable_bytes"] as? Int == 3 * 53_101)
        #expect((first["hash"] as? String)?.count == 64)
        let raw = (first["folders"] as! [[String: Any]]).first { $0["silo"] as? String == "archive" }!
        #expect(raw["path"] as? String == "caf\\xE9/alpha" && raw["path_b64"] as? String == Data(Array("caf".utf8) + [0xE9] + Array("/alpha".utf8)).base64EncodedString())
        // Largest bytes first.
        let sizes = groups.map { $0["bytes"] as! Int }
        #expect(sizes == sizes.sorted(by: >))
        let folders = object["folders"] as! [String: Any]
        #expect(folders["groups"] as? Int == groups.count)
        #expect(folders["nested_groups"] as? Int == 2)   // refs/ and refs/img/, inside the whole copies only
        #expect(folders["not_comparable_folders"] as? Int == 0)
        #expect(object["groups"] is [Any] && object["summary"] is [String: Any])

        // The table says the same.
        let table = try ws.run("duplicates", "--folders")
        #expect(table.status == 0)
        #expect(table.out.contains("DUPLICATE FOLDERS"))
        #expect(table.out.contains("4 copies of 7 files"))
        #expect(table.out.contains("from design/alpha copy/"))
        #expect(table.out.contains("caf\\xE9/alpha/"))
        #expect(!table.out.contains("alpha-edited/\n"))
        // Without --folders, nothing changes.
        let plain = try json(try ws.run("duplicates", "--format", "json").stdout) as! [String: Any]
        #expect(plain["folder_groups"] == nil)
    }

    @Test("file groups inside duplicate folders are reported once, as the folder; --expand lists them again")
    func expand() throws {
        let ws = try Workspace()
        try makeTree(ws)
        #expect(try ws.run("scan", "-q", "--hash", "full", "design=design", "marketing=marketing", "archive=archive").status == 0)
        func groups(_ args: String...) throws -> [[String]] {
            let object = try json(try silomerge(["duplicates", "--format", "json"] + args, in: ws.url).stdout) as! [String: Any]
            return (object["groups"] as! [[String: Any]]).map { ($0["files"] as! [[String: Any]]).map { "\($0["silo"]!):\($0["path"]!)" } }
        }
        let all = try groups()
        let folded = try groups("--folders")
        let expanded = try groups("--folders", "--expand")
        #expect(expanded == all)
        // Over all three silos: logo.svg lies one in each whole copy (refs/ is nested in them),
        // IMG_0002 one in each raw/ of the raw group, todo.txt one in each notes/ of the notes
        // group: folded away. brief and cover have a copy in the edited folder (in no group);
        // IMG_0001 two in each raw/: listed.
        #expect(all.count == 6)
        func names(_ g: [[String]]) -> Set<String> { Set(g.map { String($0.first!.split(separator: "/").last!) }) }
        #expect(names(folded) == ["brief.pdf", "cover.jpg", "IMG_0001.CR2"])
        let scoped = try groups("--silo", "design", "--silo", "marketing")
        let scopedFolded = try groups("--silo", "design", "--silo", "marketing", "--folders")
        // In design + marketing: brief, cover, todo, IMG_0002, logo lie one per whole copy:
        // folded away. IMG_0001 has two copies in each raw folder: listed (the folder group does
        // not say that). The empty files are not grouped.
        #expect(scoped.count == 6)
        #expect(scopedFolded.count == 1)
        #expect(scopedFolded.first?.contains { $0.hasSuffix("raw/dupe-inside.CR2") } == true)
        let table = try ws.run("duplicates", "--folders", "--silo", "design", "--silo", "marketing")
        #expect(table.out.contains("5 groups of files lie inside duplicate folders"))
        let scopedJSON = try json(try ws.run("duplicates", "--folders", "--format", "json", "--silo", "design", "--silo", "marketing").stdout) as! [String: Any]
        #expect((scopedJSON["folders"] as! [String: Any])["file_groups_inside"] as? Int == 5)

        // Refused clearly.
        let csv = try ws.run("duplicates", "--folders", "--format", "csv")
        #expect(csv.status != 0 && csv.stderr.contains("--folders"))
        let lonely = try ws.run("duplicates", "--expand")
        #expect(lonely.status != 0 && lonely.stderr.contains("--expand goes with --folders"))
    }

    @Test("a folder holding a file without a hash is not comparable: said, never guessed equal")
    func notComparable() throws {
        let ws = try Workspace()
        let root = ws.url.path
        // A hard-linked copy: with --hash dupes, one inode is one physical file and is not
        // hashed, so the folders cannot be compared; with --hash full they can.
        RawTree.write(root, Array("a/shoot/one.jpg".utf8), content(6_000, seed: 21))
        RawTree.write(root, Array("a/shoot/two.jpg".utf8), content(6_500, seed: 22))
        RawTree.write(root, Array("a/solo.bin".utf8), content(100, seed: 23))
        RawTree.write(root, Array("b/solo.bin".utf8), content(200, seed: 24))
        try FileManager.default.createDirectory(at: ws.url.appendingPathComponent("b/linked"), withIntermediateDirectories: true)
        for name in ["one.jpg", "two.jpg"] {
            #expect(link(ws.url.appendingPathComponent("a/shoot/\(name)").path, ws.url.appendingPathComponent("b/linked/\(name)").path) == 0)
        }
        #expect(try ws.run("scan", "-q", "--hash", "dupes", "a=a", "b=b").status == 0)
        let dupes = try json(try ws.run("duplicates", "--folders", "--format", "json").stdout) as! [String: Any]
        #expect(reportedGroups(dupes).isEmpty)
        let summary = dupes["folders"] as! [String: Any]
        #expect(summary["not_comparable_folders"] as? Int == 4)   // a/shoot, a, b/linked, b
        #expect(summary["files_without_hash"] as? Int == 6)
        let table = try ws.run("duplicates", "--folders")
        #expect(table.out.contains("Folders not compared: 4, above 6 files that have no SHA-256"))
        #expect(table.out.contains("silomerge scan --hash full"))

        #expect(try ws.run("scan", "-q", "--hash", "full", "a=a", "b=b").status == 0)
        let full = try json(try ws.run("duplicates", "--folders", "--format", "json").stdout) as! [String: Any]
        #expect(reportedGroups(full) == [["a:shoot", "b:linked"]])
        #expect(reportedGroups(full) == bruteForceGroups(ws.url, silos: ["a", "b"]))
    }

    @Test("audit: a DUPLICATE FOLDERS section with file counts; groups inside left out unless --expand; JSON")
    func audit() throws {
        let ws = try Workspace()
        try makeTree(ws)
        let r = try ws.run("audit", "design", "marketing")
        #expect(r.status == 0, "\(r.stderr)")
        let text = r.out
        let section = try #require(text.range(of: "DUPLICATE FOLDERS"))
        let after = String(text[section.upperBound...])
        #expect(after.contains("3 copies of 7 files"))
        #expect(after.contains("projects/alpha/") && after.contains("backup/alpha-2019/") && after.contains("from design/alpha copy/"))
        let largest = String(text[try #require(text.range(of: "LARGEST DUPLICATE GROUPS"))!.lowerBound...])
        #expect(largest.contains("--expand lists them"))
        #expect(!largest.contains("brief.pdf"))
        #expect(largest.contains("dupe-inside.CR2"))
        let expanded = try ws.run("audit", "--no-scan", "--expand", "design", "marketing").out
        #expect(expanded.contains("brief.pdf"))
        let object = try json(try ws.run("audit", "--no-scan", "--format", "json", "design", "marketing").stdout) as! [String: Any]
        let groups = object["folder_groups"] as! [[String: Any]]
        #expect(groups.first?["files"] as? Int == 7 && groups.first?["copies"] as? Int == 3)
        #expect(object["folders"] is [String: Any])
    }
}

@Suite("duplicates --folders: partial copies (subsets and overlaps), end to end")
struct PartialCopiesCLITests {
    @Test("a half-finished copy is a subset, an edited copy an overlap, with their numbers; a few shared files are neither")
    func partialCopies() throws {
        let ws = try Workspace()
        let root = ws.url.path
        let top = (0..<10).map { content(10_000, seed: 100 + UInt64($0)) }
        let sel = (0..<3).map { content(1_000, seed: 200 + UInt64($0)) }
        for (i, data) in top.enumerated() { RawTree.write(root, Array("a/shoot/IMG_\(i).jpg".utf8), data) }
        for (i, data) in sel.enumerated() { RawTree.write(root, Array("a/shoot/sel/pick-\(i).jpg".utf8), data) }
        // Interrupted after six files, names changed: a subset holding 58% of the bytes.
        for (i, data) in top.prefix(6).enumerated() { RawTree.write(root, Array("b/shoot (half)/copy-\(i).jpg".utf8), data) }
        // Everything, with the last photo retouched: 93,000 of 103,000 bytes in common.
        for (i, data) in top.enumerated() {
            var bytes = data
            if i == 9 { bytes[5_000] ^= 0x01 }
            RawTree.write(root, Array("b/shoot (edited)/IMG_\(i).jpg".utf8), bytes)
        }
        for (i, data) in sel.enumerated() { RawTree.write(root, Array("b/shoot (edited)/sel/pick-\(i).jpg".utf8), data) }
        // Two photos only (20% of the shoot): duplicate files, not a partial copy.
        for (i, data) in top.suffix(2).enumerated() { RawTree.write(root, Array("b/few/\(i).jpg".utf8), data) }
        #expect(try ws.run("scan", "-q", "--hash", "full", "a=a", "b=b").status == 0)

        let r = try ws.run("duplicates", "--folders", "--format", "json")
        #expect(r.status == 0, "\(r.stderr)")
        let object = try json(r.stdout) as! [String: Any]
        func side(_ s: Any?) -> String {
            let d = s as! [String: Any]
            return "\(d["silo"]!):\(d["path"]!) \(d["files"]!) \(d["bytes"]!)"
        }
        let relations = (object["folder_relations"] as! [[String: Any]]).map {
            "\($0["kind"]!) \(side($0["a"])) ⊇ \(side($0["b"])) shared \($0["shared_files"]!) \($0["shared_bytes"]!) \($0["shared_percent"]!)%"
        }
        // Silo b holds a copy of every file of silo a (IMG_9 unretouched in few/): true, and
        // reported besides the folders (another kind, the other way round).
        #expect(relations == [
            "subset b: 21 183000 ⊇ a: 13 103000 shared 13 103000 56.3%",
            "overlap a:shoot 13 103000 ⊇ b:shoot (edited) 13 103000 shared 12 93000 90.3%",
            "subset a:shoot 13 103000 ⊇ b:shoot (half) 6 60000 shared 6 60000 58.3%",
            "subset b:shoot (edited) 13 103000 ⊇ b:shoot (half) 6 60000 shared 6 60000 58.3%",
        ])
        // sel/ is an exact copy inside the edited one: a folder group, not a relation.
        #expect(reportedGroups(object) == [["a:shoot/sel", "b:shoot (edited)/sel"]])

        let table = try ws.run("duplicates", "--folders").out
        #expect(table.contains("PARTIAL COPIES"))
        #expect(table.contains("subset · 6 of 13 files · 58% of the bytes"))
        #expect(table.contains("overlap · 12 files in common · 90% of the larger's bytes"))
        #expect(!table.contains("few/  ("))
    }
}

@Suite("report --html: the duplicate folders section")
struct DuplicateFoldersHTMLTests {
    @Test("the page lists folder groups with copies, files and bytes; hostile and non-UTF-8 folder names are escaped")
    func htmlSection() throws {
        let ws = try Workspace()
        let root = ws.url.path
        let hostile = "<script>alert(1)</script>"
        for (i, size) in [4_000, 5_000, 6_000].enumerated() {
            RawTree.write(root, Array("a/\(hostile)/f\(i).bin".utf8), content(size, seed: 300 + UInt64(i)))
            RawTree.write(root, Array("b/caf".utf8) + [0xE9] + Array("/copy-\(i).bin".utf8), content(size, seed: 300 + UInt64(i)))
        }
        RawTree.write(root, Array("a/other.bin".utf8), content(700, seed: 310))
        RawTree.write(root, Array("b/other.bin".utf8), content(900, seed: 311))
        #expect(try ws.run("scan", "-q", "a=a", "b=b").status == 0)
        let r = try ws.run("report", "--html", "page.html")
        #expect(r.status == 0, "\(r.stderr)")
        let page = try String(contentsOf: ws.url.appendingPathComponent("page.html"), encoding: .utf8)
        let start = try #require(page.range(of: "id=\"folders\""))
        let section = String(page[start.lowerBound...].prefix(6_000))
        #expect(section.contains("Duplicate folders"))
        #expect(section.contains("&lt;script&gt;alert(1)&lt;/script&gt;/"))
        #expect(section.contains("caf\\xE9/"))
        #expect(section.contains("14.6 KiB"))          // 15,000 bytes a copy, and reclaimable
        #expect(!page.contains(hostile))
        #expect(page.contains("href=\"#folders\""))
    }
}
