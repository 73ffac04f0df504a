import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("silomerge, end to end")
struct CLITests {
    @Test("README's first command: audit of the bundled Fixtures")
    func auditFixtures() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        let r = try ws.run("audit", "marketing", "hr", "training")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.isEmpty, "\(r.stderr)")
        let planted = try truth()["duplicate_groups"] as! [[String: Any]]
        let reclaim = planted.reduce(0) { $0 + (($1["files"] as! [String]).count - 1) * ($1["size"] as! Int) }
        #expect(r.out.contains("SiloMerge audit: 3 silos"))
        #expect(r.out.contains("in \(planted.count) duplicate groups"))
        #expect(r.out.contains(String(format: "RECLAIMABLE: %.1f KiB", Double(reclaim) / 1024)), "\(r.out)")
        #expect(r.out.contains("OVERLAP"))
        #expect(r.out.contains("LARGEST DUPLICATE GROUPS"))
        #expect(r.out.contains("campaigns/2023/summer-launch/hero.jpg"))
        #expect(ws.exists("silomerge.sqlite"))
        // Nothing in the silos was touched, and the junk was not catalogued.
        let files = try JSONSerialization.jsonObject(with: Data(try ws.run("duplicates", "--format", "json").stdout)) as! [String: Any]
        // XMP sidecars are attached to their assets, not catalogued as files.
        let sidecars = Set((try truth()["sidecars"] as! [String: [String]]).values.flatMap { $0 }).count
        #expect((files["summary"] as! [String: Any])["files"] as? Int == (try truth()["files"] as! Int) - (try truth()["ignored_junk"] as! [Any]).count - sidecars)
    }

    @Test("audit --no-scan reports the catalogue as the scan left it, reads nothing, records nothing, and refuses what would read")
    func auditNoScan() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        let scanned = try ws.run("audit", "-q", "marketing", "hr", "training")
        #expect(scanned.status == 0, "\(scanned.stderr)")
        let runs = try ws.run("history", "--format", "json").out
        // The silos change on disk; --no-scan does not see it (it reads the catalogue only).
        try FileManager.default.removeItem(at: ws.url.appendingPathComponent("marketing/campaigns/2023/summer-launch/hero.jpg"))
        let report = try ws.run("audit", "-q", "--no-scan")
        #expect(report.status == 0, "\(report.stderr)")
        #expect(report.stderr.isEmpty, "\(report.stderr)")
        // The same report, less what only a scan knows (its time, what it left uncompared).
        let scanLines = scanned.out.split(separator: "\n")
            .filter { !$0.hasPrefix("Not compared:") }
            .map { $0.replacingOccurrences(of: #" \(scanned in [^)]*\)"#, with: "", options: .regularExpression) }
        #expect(report.out.split(separator: "\n").map(String.init) == scanLines, "\(report.out)\n---\n\(scanned.out)")
        #expect(report.out.contains("campaigns/2023/summer-launch/hero.jpg"))
        #expect(try ws.run("history", "--format", "json").out == runs, "--no-scan records no run")
        // Named silos only; JSON as the scanning audit writes it.
        let two = try json(try ws.run("audit", "--no-scan", "--format", "json", "marketing", "hr").stdout) as! [String: Any]
        #expect(((two["silos"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String } == ["marketing", "hr"], "\(two)")
        // Refusals: folders, options that read files, unknown silos, no catalogue.
        for (arguments, words) in [(["marketing=/srv/m"], "not folders"), (["--metadata"], "--metadata reads files"),
                                   (["--rehash"], "--rehash reads files"), (["nosuch"], "no silo named 'nosuch'")] {
            let r = try silomerge(["audit", "--no-scan"] + arguments, in: ws.url)
            #expect(r.status == 64, "\(arguments): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(words), "\(arguments): \(r.stderr)")
        }
        let none = try ws.run("audit", "--no-scan", "--catalog", "none.sqlite")
        #expect(none.status != 0 && none.stderr.contains("none.sqlite"), "\(none.stderr)")
        #expect(!ws.exists("none.sqlite"))
    }

    @Test("duplicates --format json gives exactly the planted groups")
    func duplicatesJSON() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        let r = try ws.run("duplicates", "--format", "json")
        #expect(r.status == 0)
        let object = try json(r.stdout) as! [String: Any]
        let found = (object["groups"] as! [[String: Any]]).map { g in
            (g["files"] as! [[String: Any]]).map { "\($0["silo"]!)/\($0["path"]!)" }.sorted()
        }.sorted { $0[0] < $1[0] }
        let planted = (try truth()["duplicate_groups"] as! [[String: Any]]).map { ($0["files"] as! [String]).sorted() }
            .sorted { $0[0] < $1[0] }
        #expect(found == planted)
        let summary = object["summary"] as! [String: Any]
        #expect(summary["duplicate_groups"] as? Int == planted.count)
        #expect(summary["duplicate_files"] as? Int == planted.reduce(0) { $0 + $1.count })
    }

    @Test("duplicates: table, csv and fdupes formats")
    func duplicatesFormats() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        _ = try ws.run("scan", "--config", "silomerge.yml")
        let table = try ws.run("duplicates")
        #expect(table.status == 0)
        #expect(table.out.contains("reclaimable"))
        #expect(table.out.contains("marketing  campaigns/2023/summer-launch/hero.jpg"))
        #expect(table.out.contains("4 duplicate groups"))
        let csv = try ws.run("duplicates", "--format", "csv")
        let lines = csv.out.split(separator: "\r\n")
        #expect(lines.first == "group,sha256,size,physical_copies,reclaimable_bytes,silo,path,path_b64,inode,device,links")
        #expect(lines.count == 1 + 10)
        let fdupes = try ws.run("duplicates", "--format", "fdupes")
        let blocks = fdupes.out.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(blocks.count == 4)
        #expect(blocks.allSatisfy { $0.split(separator: "\n").allSatisfy { $0.hasPrefix("/") } })
        let limited = try ws.run("duplicates", "--limit", "1")
        #expect(limited.out.contains("3 more groups"))
    }

    @Test("The same duplicate groups as jdupes -r, hard links aside")
    func sameAsJdupes() throws {
        // CI installs jdupes (.ci/run): a missing tool fails the test instead of skipping it.
        try #require(commandExists("jdupes"), "jdupes is not installed: apt-get install jdupes (.ci/run does)")
        let ws = try Workspace()
        try ws.copyFixtures()
        // jdupes knows no sidecars or junk: compare on the assets it would see too.
        for junk in try truth()["ignored_junk"] as! [String] { try FileManager.default.removeItem(at: ws.url.appendingPathComponent(junk)) }
        _ = try ws.run("audit", "-q", "marketing", "hr", "training")
        let ours = (try json(try ws.run("duplicates", "--format", "json").stdout) as! [String: Any])["groups"] as! [[String: Any]]
        let oursSets = Set(ours.map { g in Set((g["files"] as! [[String: Any]]).map { "\($0["silo"]!)/\($0["path"]!)" }) })
        let jdupes = Process()
        jdupes.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        jdupes.arguments = ["jdupes", "-r", "-q", "marketing", "hr", "training"]
        jdupes.currentDirectoryURL = ws.url
        let pipe = Pipe()
        jdupes.standardOutput = pipe
        try jdupes.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        jdupes.waitUntilExit()
        let theirs = Set(output.components(separatedBy: "\n\n").map { block in
            Set(block.split(separator: "\n").map(String.init))
        }.filter { !$0.isEmpty })
        #expect(oursSets == theirs)
    }

    @Test("Exit code 1 and a warning when files are skipped; the summary still prints")
    func skippedFilesExitCode() throws {
        let ws = try Workspace()
        try ws.write("a/file.txt", "hello")
        #expect(mkfifo(ws.url.appendingPathComponent("a/pipe").path, 0o644) == 0)
        let r = try ws.run("scan", "a", timeout: 60)
        #expect(r.status == 1)
        #expect(r.stderr.contains("warning: a:pipe: skipped FIFO"))
        #expect(r.out.contains("Scanned 1 silo: 1 file, "))
    }

    @Test("Usage errors exit 64 and say what is wrong", arguments: [
        (["scan", "--jobs", "0", "a"], "--jobs must be between 1 and 256"),
        (["scan", "--hash", "sometimes", "a"], "sometimes"),
        (["scan", "--frobnicate"], "frobnicate"),
        (["scan", "x=a", "x=b"], "given twice"),
        (["scan", "--exclude", "[oops", "a"], "closing ']'"),
        (["audit"], "name the folders to audit"),
        (["duplicates", "--min-size", "lots"], "is not a size"),
        (["scan", "--config", "bad.yml"], "bad.yml:3:"),
        (["scan", "a", "again=a"], "the same folder"),
    ])
    func usageErrors(arguments: [String], message: String) throws {
        let ws = try Workspace()
        try ws.write("a/file.txt", "x")
        try ws.write("b/file.txt", "y")
        try ws.write("bad.yml", "silos:\n  - name: a\n    pth: a\n")
        let r = try silomerge(arguments, in: ws.url)
        #expect(r.status == 64, "\(arguments): \(r.status) \(r.stderr)")
        #expect(r.stderr.contains(message), "\(r.stderr)")
    }

    @Test("Fatal errors exit 2 with the path and the reason")
    func fatalErrors() throws {
        let ws = try Workspace()
        let missing = try ws.run("scan", "gone=does-not-exist")
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("silo 'gone': cannot open"))
        #expect(missing.stderr.contains("No such file or directory"))
        let noCatalogue = try ws.run("duplicates")
        #expect(noCatalogue.status == 2)
        #expect(noCatalogue.stderr.contains("silomerge.sqlite"))
        #expect(!ws.exists("silomerge.sqlite"))
        try ws.write("a/x.txt", "x")
        try ws.write("notdb.sqlite", String(repeating: "not a database ", count: 20))
        let foreign = try ws.run("scan", "--catalog", "notdb.sqlite", "a")
        #expect(foreign.status == 2)
        #expect(foreign.stderr.contains("not a SiloMerge catalogue"))
    }

    @Test("A name that is not UTF-8 survives the whole trip, exact in path_b64")
    func nonUTF8EndToEnd() throws {
        let ws = try Workspace()
        try ws.write("b/cafe.jpg", "same bytes")
        try FileManager.default.createDirectory(at: ws.url.appendingPathComponent("a"), withIntermediateDirectories: true)
        let name: [UInt8] = Array("caf".utf8) + [0xE9] + Array(".jpg".utf8)
        let full = Array(ws.url.appendingPathComponent("a").path.utf8) + [0x2F] + name + [0]
        let fd = full.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT, 0o644) } }
        _ = "same bytes".withCString { Glibc.write(fd, $0, 10) }
        close(fd)
        #expect(try ws.run("scan", "a", "b").status == 0)
        let object = try json(try ws.run("duplicates", "--format", "json").stdout) as! [String: Any]
        let files = ((object["groups"] as! [[String: Any]])[0]["files"] as! [[String: Any]])
        let odd = try #require(files.first { $0["path_b64"] != nil })
        #expect(Data(base64Encoded: odd["path_b64"] as! String).map { [UInt8]($0) } == name)
        let fdupes = try ws.run("duplicates", "--format", "fdupes")
        #expect(fdupes.stdout.split(separator: 0x0A).contains { $0.suffix(name.count).elementsEqual(name) })
    }

    @Test("A rescan reads nothing new; --quiet prints nothing; no progress when stderr is not a terminal")
    func rescanAndQuiet() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        let first = try ws.run("scan", "--config", "silomerge.yml")
        #expect(first.status == 0)
        // Only notes (the manifests name two files that do not exist): no progress, no warnings.
        #expect(first.stderr.split(separator: "\n").allSatisfy { $0.hasPrefix("silomerge: note: ") }, "progress or noise on stderr: \(first.stderr)")
        #expect(first.stderr.contains("banner.jpg"))
        let again = try ws.run("scan")
        #expect(again.status == 0)
        #expect(again.out.contains("read 0 files"), "\(again.out)")
        #expect(again.out.contains("changed 0, gone 0"))
        let quiet = try ws.run("scan", "-q")
        #expect(quiet.status == 0)
        #expect(quiet.stdout.isEmpty)
        #expect(quiet.stderr.isEmpty)
    }

    @Test("silos and history show what the catalogue holds")
    func silosAndHistory() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        _ = try ws.run("audit", "-q", "marketing", "hr", "training")
        _ = try ws.run("scan", "-q")
        let silos = try ws.run("silos")
        #expect(silos.status == 0)
        #expect(silos.out.contains("marketing"))
        #expect(silos.out.contains(ws.url.resolvingSymlinksInPath().appendingPathComponent("training").path))
        let history = try ws.run("history")
        #expect(history.out.contains("audit"))
        #expect(history.out.contains("scan"))
        let report = try json(try ws.run("history", "--format", "json").stdout) as! [String: Any]
        let runs = report["runs"] as! [[String: Any]]
        #expect((report["open_findings"] as? [Any])?.isEmpty == true)
        #expect(runs.map { $0["kind"] as! String } == ["scan", "audit"])
        #expect(runs.allSatisfy { $0["status"] as? String == "ok" })
        let removed = try ws.run("silos", "remove", "hr")
        #expect(removed.status == 0)
        #expect(!(try ws.run("silos").out.contains("hr ")))
        #expect(ws.exists("hr/logo.png"))
    }

    @Test("--help teaches: examples, the default ignore list, exit codes")
    func help() throws {
        let ws = try Workspace()
        let scanHelp = try ws.run("scan", "--help")
        #expect(scanHelp.status == 0)
        #expect(scanHelp.out.contains(".DS_Store"))
        #expect(scanHelp.out.contains("Thumbs.db"))
        #expect(scanHelp.out.contains("--hash"))
        #expect(scanHelp.out.contains("Examples:"))
        let top = try ws.run("--help")
        #expect(top.out.contains("Exit codes"))
        #expect(try ws.run("--version").out.contains("0."))
    }
}
