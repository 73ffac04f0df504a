import Foundation
import Testing

/// Runs the Library of Congress `bagit` validator (`python3 -m bagit --validate`); its exit
/// status and output. The validator is the reference: a test fails, not skips, without it.
private func bagitValidator(_ bag: URL, fast: Bool = false) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-m", "bagit", "--validate"] + (fast ? ["--fast"] : []) + [bag.path]
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Makes a bag of `folder` in place with the `bagit` package (sha256 and sha512 manifests).
private func bagitMake(_ folder: URL) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-m", "bagit", "--sha256", "--sha512", "--quiet", folder.path]
    try p.run()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0)
}

@Suite("BagIt: a real bag of the merged tree, checked by silomerge verify --bagit and by the bagit validator")
struct BagItCLITests {
    /// Fixtures scanned, planned and applied into `dam`.
    func applied() throws -> Workspace {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "-q", "--config", "silomerge.yml").status == 0)
        let plan = try ws.run("plan", "--target", "dam", "-o", "plan.json", "--allow-conflicts", "--import-manifest")
        #expect(plan.status == 0, "\(plan.stderr)")
        let apply = try ws.run("apply", "-q", "plan.json")
        #expect(apply.status == 0, "\(apply.stderr)")
        return ws
    }

    /// Every regular file below `url`, relative path → bytes.
    func tree(_ url: URL) -> [String: Data] {
        var out: [String: Data] = [:]
        let walker = FileManager.default.enumerator(at: url, includingPropertiesForKeys: [.isRegularFileKey])
        while let item = walker?.nextObject() as? URL {
            guard (try? item.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            out[String(item.path.dropFirst(url.path.count + 1))] = try? Data(contentsOf: item)
        }
        return out
    }

    @Test("export --format bagit --plan: every file of the merged tree under data/, Payload-Oxum, manifests; valid for verify --bagit and for the bagit validator; copy and hardlink")
    func bagOfMergedTree() throws {
        let ws = try applied()
        let dam = tree(ws.url.appendingPathComponent("dam").resolvingSymlinksInPath())
        #expect(dam.count > 10)

        let made = try ws.run("export", "--format", "bagit", "--plan", "plan.json", "-o", "bag")
        #expect(made.status == 0, "\(made.stderr)")
        #expect(made.out.contains("Bagged") && made.out.contains("copied and verified"), "\(made.out)")
        let bag = ws.url.appendingPathComponent("bag")
        // The payload is the merged tree, byte for byte, nothing more.
        #expect(tree(bag.appendingPathComponent("data")) == dam)
        let info = try String(contentsOf: bag.appendingPathComponent("bag-info.txt"), encoding: .utf8)
        let bytes = dam.values.reduce(0) { $0 + $1.count }
        #expect(info.contains("Payload-Oxum: \(bytes).\(dam.count)\n"), "\(info)")
        #expect(info.contains("Bagging-Date: "))
        #expect(try String(contentsOf: bag.appendingPathComponent("bagit.txt"), encoding: .utf8)
                == "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
        #expect(!ws.exists("bag/../.bag.silomerge-tmp-\(0)"))

        let ours = try ws.run("verify", "--bagit", "bag")
        #expect(ours.status == 0, "\(ours.out)\(ours.stderr)")
        #expect(ours.out.contains("complete and valid"), "\(ours.out)")
        let reference = try bagitValidator(bag)
        #expect(reference.status == 0, "\(reference.output)")
        #expect(reference.output.contains("is valid"), "\(reference.output)")

        // Hard links: the same files, nothing read.
        let linked = try ws.run("export", "--format", "bagit", "--plan", "plan.json", "--payload", "hardlink", "-o", "linked")
        #expect(linked.status == 0, "\(linked.stderr)")
        let some = try #require(dam.keys.sorted().first, "an empty tree")
        let a = try FileManager.default.attributesOfItem(atPath: ws.url.appendingPathComponent("dam/" + some).path)[.systemFileNumber] as? Int
        let b = try FileManager.default.attributesOfItem(atPath: ws.url.appendingPathComponent("linked/data/" + some).path)[.systemFileNumber] as? Int
        #expect(a != nil && a == b)
        #expect(try bagitValidator(ws.url.appendingPathComponent("linked")).status == 0)
        #expect(try ws.run("verify", "--bagit", "linked", "--format", "json").status == 0)
    }

    @Test("a damaged bag: changed byte → exit 4 (invalid), extra or missing payload file or wrong Payload-Oxum → exit 3 (incomplete), as the bagit validator sees it")
    func damagedBags() throws {
        let ws = try applied()
        #expect(try ws.run("export", "--format", "bagit", "--plan", "plan.json", "-o", "bag").status == 0)
        let bag = ws.url.appendingPathComponent("bag")
        let files = tree(bag.appendingPathComponent("data")).keys.sorted()
        let victim = bag.appendingPathComponent("data/" + files.first { (tree(bag.appendingPathComponent("data"))[$0]?.count ?? 0) > 10 }!)

        // One byte changed: invalid.
        var bytes = try Data(contentsOf: victim)
        let original = bytes
        bytes[5] ^= 0x01
        try bytes.write(to: victim)
        var r = try ws.run("verify", "--bagit", "bag", "--format", "json")
        #expect(r.status == 4, "\(r.out)")
        let report = try json(r.stdout) as! [String: Any]
        #expect(report["complete"] as? Bool == true && report["valid"] as? Bool == false)
        #expect(((report["problems"] as? [[String: Any]])?.first?["kind"] as? String) == "mismatch")
        #expect(try bagitValidator(bag).status != 0)
        try original.write(to: victim)
        #expect(try ws.run("verify", "--bagit", "bag").status == 0)

        // A payload file no manifest names: incomplete.
        try Data("stray".utf8).write(to: bag.appendingPathComponent("data/stray.txt"))
        r = try ws.run("verify", "--bagit", "bag")
        #expect(r.status == 3, "\(r.out)")
        #expect(r.out.contains("unlisted") && r.out.contains("data/stray.txt"), "\(r.out)")
        #expect(try bagitValidator(bag).status != 0)
        try FileManager.default.removeItem(at: bag.appendingPathComponent("data/stray.txt"))

        // A named file gone: incomplete (and Payload-Oxum no longer matches).
        try FileManager.default.moveItem(at: victim, to: ws.url.appendingPathComponent("aside"))
        r = try ws.run("verify", "--bagit", "bag")
        #expect(r.status == 3, "\(r.out)")
        #expect(r.out.contains("missing") && r.out.contains("oxum"), "\(r.out)")
        #expect(try bagitValidator(bag).status != 0)
        try FileManager.default.moveItem(at: ws.url.appendingPathComponent("aside"), to: victim)

        // A symbolic link in the payload is not a payload file, and is never followed.
        try FileManager.default.createSymbolicLink(atPath: bag.appendingPathComponent("data/evil").path, withDestinationPath: "/etc/passwd")
        r = try ws.run("verify", "--bagit", "bag")
        #expect(r.status == 3, "\(r.out)")
        #expect(r.out.contains("data/evil  is a symbolic link, not a file"), "\(r.out)")
        #expect(!r.out.contains("oxum"), "the link's target was not counted: \(r.out)")
        try FileManager.default.removeItem(at: bag.appendingPathComponent("data/evil"))

        // A manifest line that escapes the bag is refused, never opened.
        let manifest = bag.appendingPathComponent("manifest-sha256.txt")
        let honest = try Data(contentsOf: manifest)
        try (honest + Data("\(String(repeating: "0", count: 64))  data/../../../etc/passwd\n".utf8)).write(to: manifest)
        r = try ws.run("verify", "--bagit", "bag")
        #expect(r.status == 3, "\(r.out)")
        #expect(r.out.contains("malformed") && r.out.contains("outside the bag"), "\(r.out)")
        try honest.write(to: manifest)
        #expect(try ws.run("verify", "--bagit", "bag").status == 0)
    }

    @Test("verify --bagit reads bags made by the bagit package (sha256 and sha512 manifests) and finds what it finds")
    func bagsMadeByTheReference() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        let folder = ws.url.appendingPathComponent("marketing")
        try bagitMake(folder)
        var r = try ws.run("verify", "--bagit", "marketing")
        #expect(r.status == 0, "\(r.out)\(r.stderr)")
        #expect(r.out.contains("sha256, sha512") && r.out.contains("complete and valid"), "\(r.out)")
        let victim = try #require(tree(folder.appendingPathComponent("data")).filter { $0.value.count > 10 }.keys.sorted().first, "no payload (was the bag made?)")
        var bytes = try Data(contentsOf: folder.appendingPathComponent("data/" + victim))
        bytes[7] ^= 0x20   // same size: Payload-Oxum still matches, the checksums do not
        try bytes.write(to: folder.appendingPathComponent("data/" + victim))
        r = try ws.run("verify", "--bagit", "marketing")
        #expect(r.status == 4, "\(r.out)")
        #expect(r.out.components(separatedBy: "mismatch").count - 1 == 2, "one per algorithm: \(r.out)")
        #expect(try bagitValidator(folder).status != 0)
    }

    @Test("bagging refuses a tree that is not what the plan made, a folder that is not empty, and leaves no half bag")
    func refusals() throws {
        let ws = try applied()
        try ws.write("full/keep.txt", "mine")
        var r = try ws.run("export", "--format", "bagit", "--plan", "plan.json", "-o", "full")
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("exists and is not empty"), "\(r.stderr)")
        #expect(try String(contentsOf: ws.url.appendingPathComponent("full/keep.txt"), encoding: .utf8) == "mine")

        // A merged file edited after apply: the copy reads it, finds another hash, and stops.
        let dam = ws.url.appendingPathComponent("dam")
        let victim = try #require(tree(dam).filter { $0.value.count > 10 }.keys.sorted().first, "an empty tree")
        var bytes = try Data(contentsOf: dam.appendingPathComponent(victim))
        bytes[3] ^= 0xFF
        try bytes.write(to: dam.appendingPathComponent(victim))
        r = try ws.run("export", "--format", "bagit", "--plan", "plan.json", "-o", "bag")
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains(victim) && r.stderr.contains("run silomerge verify"), "\(r.stderr)")
        #expect(!ws.exists("bag"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: ws.url.path).filter { $0.contains("silomerge-tmp") }
        #expect(leftovers.isEmpty, "\(leftovers)")

        // Usage errors.
        r = try ws.run("export", "--format", "jsonl", "--plan", "plan.json", "-o", "x")
        #expect(r.status == 64, "\(r.stderr)")
        r = try ws.run("verify", "plan.json", "--bagit", "bag")
        #expect(r.status == 64, "\(r.stderr)")
    }
}

@Suite("export --plan: ExifTool JSON and XMP sidecars named as the files sit in the merged tree")
struct PlanRelativeExportCLITests {
    @Test("exiftool --plan: SourceFile relative to the target, every one a merged file; exiftool run in the target writes them; xmp --plan: PATH.xmp beside each")
    func relativeToTarget() throws {
        let ws = try BagItCLITests().applied()
        let made = try ws.run("export", "--format", "exiftool", "--plan", "plan.json", "-o", "tags.json")
        #expect(made.status == 0, "\(made.stderr)")
        let objects = try json(Array(try Data(contentsOf: ws.url.appendingPathComponent("tags.json")))) as! [[String: Any]]
        #expect(objects.count > 5)
        let dam = ws.url.appendingPathComponent("dam")
        for o in objects {
            let file = o["SourceFile"] as! String
            #expect(!file.hasPrefix("/") && !file.contains(".."), "\(file)")
            #expect(FileManager.default.fileExists(atPath: dam.appendingPathComponent(file).path), "\(file) is not in the merged tree")
            // Never a silo's file, whatever folder exiftool is run from.
            for silo in ["hr", "marketing", "training"] {
                #expect(!FileManager.default.fileExists(atPath: ws.url.appendingPathComponent(silo).appendingPathComponent(file).path))
            }
        }
        // Applied from inside the target, as the README says, it writes the merged copies.
        let titled = objects.first { $0["XMP-dc:Title"] != nil && ($0["SourceFile"] as! String).hasSuffix(".jpg") }!
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["exiftool", "-q", "-q", "-j=\(ws.url.appendingPathComponent("tags.json").path)", "-overwrite_original", "-r", "."]
        p.currentDirectoryURL = dam
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        let read = Process()
        read.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        read.arguments = ["exiftool", "-s3", "-XMP-dc:Title", dam.appendingPathComponent(titled["SourceFile"] as! String).path]
        let pipe = Pipe()
        read.standardOutput = pipe
        try read.run()
        let title = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        read.waitUntilExit()
        #expect(title.trimmingCharacters(in: .whitespacesAndNewlines) == titled["XMP-dc:Title"] as? String)

        let xmp = try ws.run("export", "--format", "xmp", "--plan", "plan.json", "-o", "xmp")
        #expect(xmp.status == 0, "\(xmp.stderr)")
        let sidecars = BagItCLITests().tree(ws.url.appendingPathComponent("xmp"))
        #expect(sidecars.count > 5)
        for (name, bytes) in sidecars {
            #expect(name.hasSuffix(".xmp"))
            #expect(FileManager.default.fileExists(atPath: dam.appendingPathComponent(String(name.dropLast(4))).path), "\(name) pairs with no merged file")
            #expect(String(decoding: bytes, as: UTF8.self).contains("<x:xmpmeta"))
        }

        // A plan from another catalogue is refused, saying why.
        #expect(try ws.run("scan", "-q", "--catalog", "other.sqlite", "mk=marketing").status == 0)
        let other = try ws.run("export", "--format", "exiftool", "--plan", "plan.json", "--catalog", "other.sqlite", "-o", "x.json")
        #expect(other.status == 2, "\(other.stderr)")
        #expect(other.stderr.contains("was not made from this catalogue") && other.stderr.contains("is not in the catalogue"), "\(other.stderr)")
        #expect(!other.stderr.contains("Optional("), "\(other.stderr)")
        #expect(!ws.exists("x.json"))
    }
}

@Suite("export --format csv --profile: DAM import sheets of the merged tree")
struct DAMProfileCLITests {
    /// RFC 4180 rows of a sheet (BOM removed), through Python's csv module.
    func rows(_ url: URL) throws -> [[String]] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import csv,json,sys; print(json.dumps(list(csv.reader(open(sys.argv[1], newline='', encoding='utf-8-sig')))))", url.path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return try JSONSerialization.jsonObject(with: data) as! [[String]]
    }

    @Test("each profile: the DAM's first column and headers, its list separator, date form and BOM rule; one row per merged file, paths relative to the target")
    func profiles() throws {
        let ws = try BagItCLITests().applied()
        let jsonl = String(decoding: try ws.run("export", "--config", "silomerge.yml", "--format", "jsonl").stdout, as: UTF8.self)
        let assets = jsonl.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        // An asset with several keywords shows each DAM's list separator.
        let listed = assets.first { ((($0["fields"] as? [String: Any])?["keywords"] as? [String: Any])?["value"] as? [String])?.count ?? 0 >= 2 }
        let keywords = (((listed?["fields"] as? [String: Any])?["keywords"] as? [String: Any])?["value"] as? [String]) ?? []
        #expect(keywords.count >= 2, "Fixtures hold an asset with two keywords or more")
        let plan = try json(Array(try Data(contentsOf: ws.url.appendingPathComponent("plan.json")))) as! [String: Any]
        let placed = Set((plan["operations"] as! [[String: Any]]).filter { ["copy", "move", "hardlink", "reflink"].contains($0["kind"] as? String ?? "") }
            .compactMap { $0["destination"] as? String })

        let expected: [(String, [String], String, Bool)] = [
            ("aem", ["assetPath", "dc:title {{String}}", "dc:description {{String}}", "dc:subject {{String: MULTI}}"], "|", false),
            ("resourcespace", ["Original filename", "Title", "Caption", "Keywords"], ", ", false),
            ("canto", ["File Name", "Description", "Keywords"], ";", false),
            ("bynder", ["Asset Name", "Asset Description", "Brand", "Date Created", "Copyright", "Tags", "Path to Assets", "Archived"], ",", false),
            ("generic", ["path", "sha256", "title", "description", "keywords"], "; ", true),
        ]
        for (profile, header, separator, bom) in expected {
            let r = try ws.run("export", "--config", "silomerge.yml", "--format", "csv", "--profile", profile, "--plan", "plan.json", "-o", "\(profile).csv")
            #expect(r.status == 0, "\(profile): \(r.stderr)")
            let url = ws.url.appendingPathComponent("\(profile).csv")
            let bytes = try Data(contentsOf: url)
            #expect(bytes.starts(with: [0xEF, 0xBB, 0xBF]) == bom, "\(profile): BOM")
            let sheet = try rows(url)
            #expect(Array(sheet[0].prefix(header.count)) == header, "\(profile): \(sheet[0])")
            #expect(sheet.count - 1 == placed.count, "\(profile): one row per merged file")
            let joined = keywords.joined(separator: separator)
            #expect(sheet.contains { $0.contains(joined) }, "\(profile): keywords joined with '\(separator)'")
            for row in sheet.dropFirst() {
                switch profile {
                case "aem": #expect(row[0].hasPrefix("/content/dam/silomerge/") && placed.contains(String(row[0].dropFirst(23))), "\(row[0])")
                case "resourcespace", "canto": #expect(placed.contains { ($0 as NSString).lastPathComponent == row[0] }, "\(row[0])")
                case "generic": #expect(placed.contains(row[0]), "\(row[0])")
                default: #expect(placed.contains(row[6]), "\(row[6])")
                }
            }
        }
        let bad = try ws.run("export", "--format", "csv", "--profile", "aem", "-o", "x.csv")
        #expect(bad.status == 64 && bad.stderr.contains("--plan"), "\(bad.stderr)")
    }
}
