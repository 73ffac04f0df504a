import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Sets a file's mtime back to what it was (as `touch -d` does), changing only its ctime.
private func restoreMtime(_ url: URL, _ mtime: timespec) {
    var times = [mtime, mtime]
    _ = utimensat(AT_FDCWD, url.path, &times, 0)
}

private func mtime(_ url: URL) -> timespec {
    var st = stat()
    _ = stat(url.path, &st)
    return st.st_mtim
}

@Suite("silomerge check, end to end")
struct CheckCLITests {
    func findings(_ r: CommandResult) throws -> [[String: Any]] {
        (try json(r.stdout) as! [String: Any])["findings"] as! [[String: Any]]
    }

    @Test("An unchanged tree: exit 0, silent with -q, nothing read")
    func unchanged() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        let quiet = try ws.run("check", "-q")
        #expect(quiet.status == 0, "\(quiet.stderr)")
        #expect(quiet.stdout.isEmpty)
        #expect(quiet.stderr.isEmpty)
        let r = try ws.run("check", "--format", "json")
        #expect(r.status == 0)
        let object = try json(r.stdout) as! [String: Any]
        #expect(object["outcome"] as? String == "unchanged")
        #expect((object["scan"] as! [String: Any])["files_read"] as? Int == 0)
        #expect(try findings(r).isEmpty)
        let history = try ws.run("history")
        #expect(history.out.contains("check"))
        #expect(history.out.contains("ok unchanged"))
    }

    @Test("Each kind of finding, planted on purpose, in the JSON and the exit code")
    func everyKind() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        let fm = FileManager.default
        let u = { (p: String) in ws.url.appendingPathComponent(p) }
        // new file, and a new copy of existing content (new duplicate)
        try Data("brand new".utf8).write(to: u("hr/new-note.txt"))
        try fm.copyItem(at: u("hr/records/badge-template.tif"), to: u("marketing/badge-copy.tif"))
        // moved across silos
        try fm.moveItem(at: u("marketing/about/org-chart.png"), to: u("training/org-chart-moved.png"))
        // missing (and a duplicate gone)
        try fm.removeItem(at: u("training/module-01/handouts/northwind-overview.pdf"))
        // modified
        let policy = try FileHandle(forWritingTo: u("hr/policies/2023/remote-work-policy.txt"))
        policy.seekToEndOfFile(); policy.write(Data("\nAmended.".utf8)); try policy.close()
        // metadata drift: a sidecar and a manifest
        let sidecar = u("hr/staff-photos/offsite-2023/team_offsite.xmp")
        try String(contentsOf: sidecar, encoding: .utf8).replacingOccurrences(of: "For internal HR use only", with: "HR only")
            .write(to: sidecar, atomically: false, encoding: .utf8)
        let manifest = u("manifests/training.csv")
        try String(contentsOf: manifest, encoding: .utf8).replacingOccurrences(of: "Internal training use only", with: "Training only")
            .write(to: manifest, atomically: false, encoding: .utf8)

        let r = try ws.run("check", "--format", "json")
        #expect(r.status == 3, "\(r.stderr)")
        let found = try findings(r)
        func has(_ kind: String, _ path: String, _ extra: ([String: Any]) -> Bool = { _ in true }) -> Bool {
            found.contains { ($0["kind"] as? String) == kind && "\($0["silo"]!)/\($0["path"]!)" == path && extra($0) }
        }
        #expect(has("new", "hr/new-note.txt"))
        #expect(has("new", "marketing/badge-copy.tif"))
        #expect(has("new-duplicate", "marketing/badge-copy.tif") { ($0["detail"] as? String) == "2 copies (was 1)" })
        #expect(has("moved", "training/org-chart-moved.png") { ($0["old_silo"] as? String) == "marketing" && ($0["old_path"] as? String) == "about/org-chart.png" })
        #expect(!has("missing", "marketing/about/org-chart.png"))
        #expect(has("missing", "training/module-01/handouts/northwind-overview.pdf") {
            (($0["old"] as? [String: Any])?["sha256"] as? String)?.hasPrefix("a7805c02") == true })
        #expect(has("duplicate-gone", "training/module-01/handouts/northwind-overview.pdf"))
        #expect(has("modified", "hr/policies/2023/remote-work-policy.txt") {
            (($0["old"] as? [String: Any])?["size"] as? Int) == 210 && (($0["new"] as? [String: Any])?["size"] as? Int) == 219 })
        #expect(has("metadata-drift", "hr/staff-photos/offsite-2023/team_offsite.jpg") { ($0["detail"] as? String)?.contains("rights") == true })
        #expect(has("metadata-drift", "training/module-01/images/intro-hero.jpg") { ($0["detail"] as? String)?.contains("manifest") == true })
        #expect(!found.contains { ($0["kind"] as? String) == "corrupted" })

        // Quiet, after the change was recorded: nothing new, silent again.
        let again = try ws.run("check", "-q")
        #expect(again.status == 0)
        #expect(again.stdout.isEmpty)
    }

    @Test("Bit rot: one byte flipped, size and mtime restored, found by --rehash and by --verify-fraction; exit 4")
    func corruption() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        let target = ws.url.appendingPathComponent("hr/logo.png")
        let before = mtime(target)
        var bytes = [UInt8](try Data(contentsOf: target))
        bytes[100] ^= 0xFF
        try Data(bytes).write(to: target)
        restoreMtime(target, before)

        let r = try ws.run("check", "--format", "json")
        #expect(r.status == 4, "\(r.stderr)")
        let found = try findings(r)
        let rot = try #require(found.first { ($0["kind"] as? String) == "corrupted" })
        #expect(rot["path"] as? String == "logo.png")
        let old = rot["old"] as! [String: Any], new = rot["new"] as! [String: Any]
        #expect(old["size"] as? Int == new["size"] as? Int)
        #expect(old["mtime_ns"] as? Int == new["mtime_ns"] as? Int)
        #expect(old["sha256"] as? String == "caf027c4a1b3fe1b678b702dce03ea40c581f93040f106578425ae791aac1d9c")
        #expect(old["sha256"] as? String != new["sha256"] as? String)
        let text = try ws.run("check")
        #expect(text.status == 0, "the corruption was recorded by the previous check")

    }

    @Test("--verify-fraction rotates: ten runs at 0.1 read every file once")
    func rotation() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        var read = 0
        for _ in 0..<10 {
            let r = try ws.run("check", "--format", "json", "--verify-fraction", "0.1")
            #expect(r.status == 0)
            read += ((try json(r.stdout) as! [String: Any])["scan"] as! [String: Any])["files_read"] as! Int
        }
        // 26 non-empty files: each run reads ceil(2.6) = 3, so ten runs cover all 26 at least once.
        #expect(read >= 26 && read <= 30, "\(read)")
        let bad = try ws.run("check", "--verify-fraction", "2")
        #expect(bad.status == 64)
        let empty = try Workspace()
        let none = try empty.run("check")
        #expect(none.status == 2)
        #expect(none.stderr.contains("error"), "\(none.stderr)")
    }
}
