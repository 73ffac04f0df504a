import Foundation
import GRDB
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
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

        // After the change was recorded: nothing new, but the missing file stays open (exit 3,
        // not silent) until it is accepted; then silent again.
        let again = try ws.run("check", "-q")
        #expect(again.status == 3)
        #expect(again.out.contains("nothing changed, 1 finding still open"), "\(again.out)")
        #expect(again.out.contains("training:module-01/handouts/northwind-overview.pdf"))
        let accepted = try ws.run("check", "--accept", "training:module-01/handouts/northwind-overview.pdf")
        #expect(accepted.status == 0, "\(accepted.stderr)")
        let quiet = try ws.run("check", "-q")
        #expect(quiet.status == 0)
        #expect(quiet.stdout.isEmpty)
    }

    /// Flips one byte of `path` and sets its mtime back: size and mtime as catalogued, the
    /// ctime moved (as bit rot repaired by a careless copy, or tampering, would leave it).
    static func flipByte(_ ws: Workspace, _ path: String, at offset: Int = 100) throws {
        let target = ws.url.appendingPathComponent(path)
        let before = mtime(target)
        var bytes = [UInt8](try Data(contentsOf: target))
        bytes[offset] ^= 0xFF
        try Data(bytes).write(to: target)
        restoreMtime(target, before)
    }

    /// Makes the catalogue's stored hash of a file differ from its bytes, without touching the
    /// file: what rot that even the ctime hides looks like (only a re-read finds it).
    static func hideRot(_ ws: Workspace, silo: String, path: String) throws {
        let store = try SQLiteCatalogue(path: ws.url.appendingPathComponent("silomerge.sqlite").path)
        let name = String(path.split(separator: "/").last!)
        try store.pool.write { db in
            try db.execute(sql: "UPDATE file SET sha256 = ? WHERE name = ? AND silo_id = (SELECT id FROM silo WHERE name = ?)",
                           arguments: [String(repeating: "ab", count: 32), name, silo])
        }
    }

    static let logoSHA = "caf027c4a1b3fe1b678b702dce03ea40c581f93040f106578425ae791aac1d9c"

    @Test("Bit rot stays open: found (exit 4), listed with its age by every later check, a scan and missed runs in between, until restored (exit 3, then 0)")
    func corruptionStaysOpenUntilRestored() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        try Self.flipByte(ws, "hr/logo.png")

        let first = try ws.run("check", "--format", "json")
        #expect(first.status == 4, "\(first.stderr)")
        let rot = try #require(try findings(first).first { ($0["kind"] as? String) == "corrupted" })
        #expect(rot["path"] as? String == "logo.png")
        let old = rot["old"] as! [String: Any], new = rot["new"] as! [String: Any]
        #expect(old["size"] as? Int == new["size"] as? Int)
        #expect(old["mtime_ns"] as? Int == new["mtime_ns"] as? Int)
        #expect(old["sha256"] as? String == Self.logoSHA)
        #expect(old["sha256"] as? String != new["sha256"] as? String)
        let firstRun = (try json(first.stdout) as! [String: Any])["run_id"] as! Int

        // The cron mail was missed: later checks (that read nothing), a scan and a quiet check
        // in between still report it, each with exit 4.
        Thread.sleep(forTimeInterval: 1.1)
        let second = try ws.run("check", "--format", "json")
        #expect(second.status == 4, "the corruption was forgotten after one report")
        let report = try json(second.stdout) as! [String: Any]
        #expect(report["outcome"] as? String == "corrupted")
        #expect(try findings(second).isEmpty, "nothing new was found tonight")
        let open = try #require((report["open_findings"] as? [[String: Any]])?.first)
        #expect(open["kind"] as? String == "corrupted")
        #expect(open["silo"] as? String == "hr" && open["path"] as? String == "logo.png")
        #expect(open["opened_run"] as? Int == firstRun)
        #expect((open["age_seconds"] as? Int ?? 0) >= 1)
        #expect((open["verified"] as? [String: Any])?["sha256"] as? String == Self.logoSHA)
        #expect((report["open_counts"] as? [String: Int])?["corrupted"] == 1)

        let scan = try ws.run("scan", "-q")
        #expect(scan.status == 1, "a scan does not make rot the baseline either")
        #expect(scan.stderr.contains("hr:logo.png: corrupted since"), "\(scan.stderr)")
        #expect(scan.stderr.contains("silomerge check --accept hr:logo.png"))
        let quiet = try ws.run("check", "-q")
        #expect(quiet.status == 4)
        #expect(quiet.out.contains("CORRUPTION STILL OPEN"), "\(quiet.out)")
        #expect(quiet.out.contains("hr:logo.png  since "), "\(quiet.out)")
        #expect(quiet.out.contains("run \(firstRun))"))
        let history = try ws.run("history")
        #expect(history.out.contains("OPEN FINDINGS (1)"), "\(history.out)")
        #expect(history.out.contains("corrupted  hr:logo.png  since"))
        #expect(try ws.run("report", "--html", "report.html").status == 0)
        let html = try String(contentsOf: ws.url.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.contains("Open findings"))
        #expect(html.contains("logo.png") && html.contains("run \(firstRun)"))

        // Restored from a good copy (the same bytes again): closed as restored, exit 3 once, then 0.
        try Self.flipByte(ws, "hr/logo.png")
        let restored = try ws.run("check", "--format", "json")
        #expect(restored.status == 3, "\(restored.stderr)")
        let back = try #require(try findings(restored).first)
        #expect(back["kind"] as? String == "restored")
        #expect((back["new"] as? [String: Any])?["sha256"] as? String == Self.logoSHA)
        #expect((back["detail"] as? String)?.contains("was corrupted since run \(firstRun)") == true)
        #expect(((try json(restored.stdout) as! [String: Any])["open_findings"] as? [Any])?.isEmpty == true)
        #expect(try ws.run("check").status == 0)
        let closed = try json(try ws.run("history", "--format", "json").stdout) as! [String: Any]
        #expect((closed["closed_findings"] as? [[String: Any]])?.first?["resolution"] as? String == "restored")
    }

    @Test("check --rehash finds rot that even the ctime hides (the re-read path), and keeps it open")
    func rehashFindsHiddenRot() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        try Self.hideRot(ws, silo: "hr", path: "logo.png")
        #expect(try ws.run("check").status == 0, "a plain check does not re-read an unchanged file")
        let r = try ws.run("check", "--rehash", "--format", "json")
        #expect(r.status == 4, "\(r.stderr)")
        let rot = try #require(try findings(r).first)
        #expect(rot["kind"] as? String == "corrupted" && rot["path"] as? String == "logo.png")
        #expect((rot["new"] as? [String: Any])?["sha256"] as? String == Self.logoSHA)
        #expect(((try json(r.stdout) as! [String: Any])["scan"] as! [String: Any])["files_read"] as? Int == 26)
        #expect(try ws.run("check", "--rehash").status == 4, "still open after a second full re-read")
    }

    @Test("check --verify-fraction finds rot that even the ctime hides")
    func verifyFractionFindsHiddenRot() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        try Self.hideRot(ws, silo: "marketing", path: "logo.png")
        let r = try ws.run("check", "--verify-fraction", "1", "--format", "json")
        #expect(r.status == 4, "\(r.stderr)")
        #expect(try findings(r).map { "\($0["kind"]!) \($0["silo"]!)/\($0["path"]!)" } == ["corrupted marketing/logo.png"])
        #expect(try ws.run("check").status == 4)
    }

    @Test("scan --rehash that reads rotten content opens the same finding: the next check exits 4")
    func scanRehashKeepsRotOpen() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        try Self.hideRot(ws, silo: "hr", path: "logo.png")
        let scan = try ws.run("scan", "--rehash")
        #expect(scan.status == 1, "\(scan.stderr)")
        #expect(scan.stderr.contains("possible corruption"))
        #expect(scan.stderr.contains("hr:logo.png: corrupted since"))
        let check = try ws.run("check", "--format", "json")
        #expect(check.status == 4, "the scan made the rot its baseline")
        let open = (try json(check.stdout) as! [String: Any])["open_findings"] as! [[String: Any]]
        #expect(open.map { "\($0["silo"]!)/\($0["path"]!)" } == ["hr/logo.png"])
    }

    @Test("--accept closes a finding, recorded with the user and the time; accepting nothing open is an error")
    func acceptIsRecorded() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        try Self.flipByte(ws, "hr/logo.png")
        try FileManager.default.removeItem(at: ws.url.appendingPathComponent("marketing/analytics/raw/web-events-2023-q2.bin"))
        #expect(try ws.run("check").status == 4)
        let nothing = try ws.run("check", "--accept", "hr:policies/2023/remote-work-policy.txt")
        #expect(nothing.status == 64)
        #expect(nothing.stderr.contains("no open finding at hr:policies/2023/remote-work-policy.txt"), "\(nothing.stderr)")
        let outside = try ws.run("check", "--accept", "/etc/passwd")
        #expect(outside.status == 64)
        // A path in the file system, relative to the current folder, names the finding too.
        let accepted = try ws.run("check", "--accept", "hr/logo.png", "--reason", "re-exported on purpose")
        #expect(accepted.status == 0, "\(accepted.stderr)")
        let user = String(cString: getpwuid(geteuid())!.pointee.pw_name)
        #expect(accepted.out.contains("Accepted 1 open finding as \(user)"), "\(accepted.out)")
        #expect(accepted.out.contains("corrupted  hr:logo.png"))
        // The missing file still keeps the check at 3; the accepted content is the new baseline.
        let after = try ws.run("check", "--format", "json")
        #expect(after.status == 3)
        #expect(((try json(after.stdout) as! [String: Any])["open_findings"] as! [[String: Any]]).map { $0["kind"] as! String } == ["missing"])
        #expect(try ws.run("check", "--accept-all", "marketing").status == 0)
        #expect(try ws.run("check").status == 0)
        let history = try json(try ws.run("history", "--format", "json").stdout) as! [String: Any]
        let closed = history["closed_findings"] as! [[String: Any]]
        let logo = try #require(closed.first { ($0["path"] as? String) == "logo.png" })
        #expect(logo["resolution"] as? String == "accepted")
        #expect((logo["closed_by"] as? String)?.hasPrefix(user) == true)
        #expect((logo["closed_detail"] as? String)?.contains("re-exported on purpose") == true)
        let when = try #require(logo["closed_at"] as? String)
        #expect(abs((Timestamp.date(when) ?? .distantPast).timeIntervalSinceNow) < 300)
        #expect(try ws.run("history").out.contains("accepted"))
    }

    @Test("A missing file stays open (exit 3) until it is back (restored) or its content turns up elsewhere (moved)")
    func missingStaysOpen() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        let fm = FileManager.default
        let u = { (p: String) in ws.url.appendingPathComponent(p) }
        try fm.moveItem(at: u("hr/policies/2023/remote-work-policy.txt"), to: u("policy-kept-aside.txt"))
        try fm.moveItem(at: u("hr/records/badge-template.tif"), to: u("badge-kept-aside.tif"))
        #expect(try ws.run("check").status == 3)
        let still = try ws.run("check", "--format", "json")
        #expect(still.status == 3)
        #expect(((try json(still.stdout) as! [String: Any])["open_counts"] as? [String: Int])?["missing"] == 2)
        // One comes back where it was, the other turns up under another name.
        try fm.moveItem(at: u("policy-kept-aside.txt"), to: u("hr/policies/2023/remote-work-policy.txt"))
        try fm.moveItem(at: u("badge-kept-aside.tif"), to: u("hr/records/archive-badge.tif"))
        let back = try ws.run("check", "--format", "json")
        #expect(back.status == 3)
        let found = try findings(back)
        #expect(found.contains { ($0["kind"] as? String) == "restored" && ($0["path"] as? String) == "policies/2023/remote-work-policy.txt" })
        #expect(found.contains { ($0["kind"] as? String) == "moved" && ($0["path"] as? String) == "records/archive-badge.tif"
                                 && ($0["old_path"] as? String) == "records/badge-template.tif" })
        #expect(!found.contains { ($0["kind"] as? String) == "new" })
        #expect(try ws.run("check").status == 0)
    }

    @Test("Removing a silo closes its open findings, recorded")
    func removingSiloClosesFindings() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        try Self.flipByte(ws, "hr/logo.png")
        #expect(try ws.run("check").status == 4)
        let removed = try ws.run("silos", "remove", "hr")
        #expect(removed.status == 0)
        #expect(removed.out.contains("Its 1 open finding was closed as silo-removed"), "\(removed.out)")
        #expect(try ws.run("check").status == 0)
        let history = try json(try ws.run("history", "--format", "json").stdout) as! [String: Any]
        #expect((history["closed_findings"] as? [[String: Any]])?.first?["resolution"] as? String == "silo-removed")
    }

    @Test("Exit 1: nothing changed, but a file could not be read (a FIFO appeared: skipped, never opened)")
    func exitOneOnWarnings() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        #expect(mkfifo(ws.url.appendingPathComponent("hr/notes/pipe").path, 0o644) == 0)
        let r = try ws.run("check", "-q")
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.contains("hr:notes/pipe"), "\(r.stderr)")
    }

    @Test("--limit N lists N findings and says how many more")
    func limit() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        for i in 0..<5 { try ws.write("hr/notes/new-\(i).txt", "note \(i)") }
        let r = try ws.run("check", "--limit", "2")
        #expect(r.status == 3)
        let lines = r.out.split(separator: "\n").filter { $0.hasPrefix("  new ") }
        #expect(lines.count == 2, "\(r.out)")
        #expect(r.out.contains("… 3 more: silomerge check --format json"), "\(r.out)")
        let all = try ws.run("check", "--limit", "0")
        #expect(all.status == 0)
        #expect(try ws.run("check", "--limit", "-1").status == 64)
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
