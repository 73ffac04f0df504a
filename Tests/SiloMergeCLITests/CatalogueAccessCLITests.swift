import Foundation
import GRDB
import Synchronization
import SiloMergeCore
import Testing

/// SHA-256 of a file's bytes, or "absent".
private func digest(_ url: URL) throws -> String {
    guard FileManager.default.fileExists(atPath: url.path) else { return "absent" }
    return try SHA256Hasher.digest([UInt8](Data(contentsOf: url))).hex
}

/// The catalogue and its companions, as they are on disk.
private func state(_ ws: Workspace, _ name: String) throws -> [String: String] {
    var out: [String: String] = [:]
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let url = ws.url.appendingPathComponent(name + suffix)
        out[suffix.isEmpty ? "main" : suffix] = try digest(url)
    }
    return out
}

/// Every command that opens a catalogue, with the arguments it needs to get that far.
private let everyCommand: [[String]] = [
    ["duplicates"], ["duplicates", "--format", "json"], ["history"], ["silos"], ["silos", "list"],
    ["report", "--html", "report.html"], ["conflicts"], ["conflicts", "--template"], ["reconcile"],
    ["export", "--format", "csv", "-o", "out.csv"], ["plan", "--target", "merged", "-o", "plan.json"],
    ["check"], ["scan"], ["scan", "marketing"], ["audit", "marketing"], ["silos", "remove", "marketing"],
]

@Suite("Catalogue files: nothing is written before the file is known to be a catalogue; read-only commands never write")
struct CatalogueAccessCLITests {
    @Test("Every command leaves somebody else's SQLite file byte for byte as it was (rollback and WAL mode)",
          arguments: [false, true])
    func foreignFile(wal: Bool) throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        let foreign = ws.url.appendingPathComponent("other.sqlite")
        do {
            let queue = try DatabaseQueue(path: foreign.path)
            try queue.writeWithoutTransaction { db in
                if wal { try db.execute(sql: "PRAGMA journal_mode = WAL") }
                try db.execute(sql: "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5)")
            }
        }
        let before = try state(ws, "other.sqlite")
        #expect(before["-wal"] == "absent" && before["-shm"] == "absent")
        for command in everyCommand {
            let r = try silomerge(command + ["--catalog", "other.sqlite"], in: ws.url)
            #expect(r.status != 0, "\(command) accepted a foreign file")
            #expect(r.stderr.contains("other.sqlite is not a SiloMerge catalogue: it holds other tables (invoices)"), "\(command): \(r.stderr)")
            #expect(try state(ws, "other.sqlite") == before, "\(command) changed the foreign file or left companions")
        }
        #expect(!ws.exists("report.html") && !ws.exists("out.csv") && !ws.exists("plan.json") && !ws.exists("silomerge.sqlite"))
    }

    @Test("Scans started together on a catalogue that does not exist yet: one creates it, the others wait for that and then run or say the catalogue is in use")
    func concurrentFirstOpen() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        for round in 0..<4 {
            let name = "new\(round).sqlite"
            let results = Mutex<[CommandResult]>([])
            let folder = ws.url
            DispatchQueue.concurrentPerform(iterations: 3) { _ in
                if let r = try? silomerge(["scan", "-q", "--catalog", name, "m=marketing"], in: folder) {
                    results.withLock { $0.append(r) }
                }
            }
            let all = results.withLock { $0 }
            #expect(all.count == 3)
            #expect(all.contains { $0.status == 0 }, "round \(round): no scan succeeded")
            for r in all where r.status != 0 {
                #expect(r.status == 2 && r.stderr.contains("\(name) is in use by another silomerge (pid "),
                        "round \(round): \(r.status) \(r.stderr)")
            }
            let history = try ws.run("history", "--catalog", name)
            #expect(history.status == 0, "\(history.stderr)")
            #expect(!ws.exists(name + "-open-lock"), "round \(round): the open lock outlived the scans")
        }
    }

    @Test("A scan that waits for another process creating the catalogue says so once, naming it, then scans")
    func waitIsTold() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        // Another process holds the open lock (flock(1), as a creating silomerge would), its
        // note written as silomerge writes one.
        try ws.write("c.db-open-lock", "pid 4242 (opening the catalogue) since 2026-12-04T10:00:00Z\n")
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        // Long enough that a slow start (a loaded machine) still finds it held for over 2 s.
        holder.arguments = [ws.url.appendingPathComponent("c.db-open-lock").path, "sleep", "6"]
        try holder.run()
        defer { if holder.isRunning { holder.terminate() } }
        usleep(300_000)
        let start = Date()
        let r = try ws.run("scan", "-q", "--catalog", "c.db", "m=marketing")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Date().timeIntervalSince(start) >= 2, "the scan did not wait for the holder")
        let told = r.stderr.components(separatedBy: "\n").filter { $0.contains("waiting for another silomerge") }
        #expect(told == ["silomerge: waiting for another silomerge to finish creating or upgrading the catalogue c.db "
                         + "(its lock says: pid 4242 (opening the catalogue) since 2026-12-04T10:00:00Z); giving up after 10 min…"],
                "\(r.stderr)")
        #expect(ws.exists("c.db") && !ws.exists("c.db-open-lock"))
        holder.waitUntilExit()
    }

    @Test("A catalogue in a folder that does not exist, or under a file, is refused about the catalogue's own path; a planted link for its lock is refused")
    func missingFolder() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        try ws.write("plain", "not a folder")
        for (catalogue, reason) in [("missing/dir/c.db", "unable to open database file"), ("plain/c.db", "a folder on its path is not a folder")] {
            let r = try ws.run("scan", "-q", "--catalog", catalogue, "m=marketing")
            #expect(r.status == 2)
            #expect(r.stderr.contains("cannot open the catalogue \(catalogue): \(reason)"), "\(r.stderr)")
            #expect(!r.stderr.contains("-open-lock"), "\(r.stderr)")
        }
        #expect(!ws.exists("missing"))
        // A symbolic link where the open lock goes is never followed: its target is untouched
        // and no catalogue is made.
        try ws.write("victim", "precious")
        try FileManager.default.createSymbolicLink(atPath: ws.url.appendingPathComponent("c.db-open-lock").path, withDestinationPath: "victim")
        let r = try ws.run("scan", "-q", "--catalog", "c.db", "m=marketing")
        #expect(r.status == 2)
        #expect(r.stderr.contains("c.db-open-lock: it is a symbolic link, and a lock file is never followed"), "\(r.stderr)")
        #expect(try String(contentsOf: ws.url.appendingPathComponent("victim"), encoding: .utf8) == "precious")
        #expect(!ws.exists("c.db"))
    }

    @Test("duplicates, history, silos and report only read: the catalogue's bytes do not change")
    func readOnlyCommands() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        // The resolutions a person gave are used by report without being written again.
        let before = try state(ws, "silomerge.sqlite")
        for command: [String] in [["duplicates"], ["duplicates", "--format", "csv"], ["history"], ["history", "--format", "json"],
                                  ["silos"], ["report", "--html", "page.html"], ["report", "--config", "silomerge.yml", "--html", "page.html"]] {
            let r = try silomerge(command, in: ws.url)
            #expect(r.status == 0, "\(command): \(r.stderr)")
            let after = try state(ws, "silomerge.sqlite")
            #expect(after["main"] == before["main"], "\(command) wrote the catalogue")
            // A reader may leave an empty WAL; never one holding pages.
            let wal = ws.url.appendingPathComponent("silomerge.sqlite-wal")
            let walSize = (try? FileManager.default.attributesOfItem(atPath: wal.path)[.size] as? Int) ?? 0
            #expect(walSize == 0 || after["-wal"] == before["-wal"], "\(command) wrote to the WAL")
        }
        #expect(ws.exists("page.html"))
    }

    @Test("An older catalogue: read-only commands refuse it untouched and say how to upgrade; scan upgrades it in place")
    func olderCatalogue() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        // What the catalogue looked like before the v7-input migration.
        do {
            let queue = try DatabaseQueue(path: ws.url.appendingPathComponent("silomerge.sqlite").path)
            try queue.writeWithoutTransaction { db in
                try db.execute(sql: """
                    DELETE FROM grdb_migrations WHERE identifier = 'v7-input';
                    ALTER TABLE manifest DROP COLUMN ctime_ns; ALTER TABLE manifest DROP COLUMN dev;
                    ALTER TABLE manifest DROP COLUMN ino; ALTER TABLE manifest DROP COLUMN definition;
                    ALTER TABLE manifest DROP COLUMN unmatched; ALTER TABLE manifest DROP COLUMN skipped;
                    ALTER TABLE silo DROP COLUMN one_file_system;
                    PRAGMA application_id = 0;
                    """)
                try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            }
        }
        let before = try state(ws, "silomerge.sqlite")
        for command: [String] in [["duplicates"], ["history"], ["silos"], ["report", "--html", "page.html"]] {
            let r = try silomerge(command, in: ws.url)
            #expect(r.status == 2, "\(command): \(r.stderr)")
            #expect(r.stderr.contains("was written by an older SiloMerge"), "\(r.stderr)")
            #expect(r.stderr.contains("run `silomerge scan` to upgrade it"), "\(r.stderr)")
            #expect(try state(ws, "silomerge.sqlite")["main"] == before["main"])
        }
        let upgrade = try ws.run("scan")
        #expect(upgrade.status == 0, "\(upgrade.stderr)")
        let after = try ws.run("duplicates", "--format", "json")
        #expect(after.status == 0, "\(after.stderr)")
        #expect(((try json(after.stdout) as! [String: Any])["summary"] as! [String: Any])["duplicate_groups"] as? Int == 4)
    }

    @Test("--config names the catalogue for every command that opens one (its catalog:)")
    func configForEveryCommand() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        let config = try String(contentsOf: ws.url.appendingPathComponent("silomerge.yml"), encoding: .utf8)
        try ws.write("elsewhere.yml", "catalog: state/cat.sqlite\n" + config)
        try FileManager.default.createDirectory(at: ws.url.appendingPathComponent("state"), withIntermediateDirectories: true)
        #expect(try ws.run("scan", "--config", "elsewhere.yml").status == 0)
        for command: [String] in [["duplicates"], ["history"], ["silos"], ["silos", "list"], ["report", "--html", "r.html"],
                                  ["check"], ["conflicts"], ["reconcile"], ["export", "--format", "jsonl"]] {
            let r = try silomerge(command + ["--config", "elsewhere.yml"], in: ws.url)
            #expect(r.status == 0 || (command == ["conflicts"] && r.status == 3), "\(command): \(r.status) \(r.stderr)")
            #expect(!r.stderr.contains("silomerge.sqlite"), "\(command): \(r.stderr)")
        }
        #expect(!ws.exists("silomerge.sqlite"), "a command ignored the configuration's catalog:")
        let folder = try ws.run("history", "--config", "state")
        #expect(folder.status == 64)
        #expect(folder.stderr == "silomerge: error: state: is a folder, not a file\n", "\(folder.stderr)")
    }
}

@Suite("Settings and decisions are never forgotten silently")
struct RememberedSettingsCLITests {
    @Test("Policies of --config are stored by scan, audit and check, not only by the reconciling commands")
    func policiesStoredByScan() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        // rights by priority: the planted rights conflicts are settled by policy.
        let config = try String(contentsOf: ws.url.appendingPathComponent("silomerge.yml"), encoding: .utf8)
            .replacingOccurrences(of: "  rights: conflict", with: "  rights: priority")
        try ws.write("priority.yml", config)
        for scanner: [String] in [["scan", "--config", "priority.yml"], ["audit", "--metadata", "--config", "priority.yml"]] {
            try? FileManager.default.removeItem(at: ws.url.appendingPathComponent("silomerge.sqlite"))
            #expect(try silomerge(scanner, in: ws.url).status == 0)
            let conflicts = try ws.run("conflicts", "--format", "json")
            let fields = ((try json(conflicts.stdout) as! [String: Any])["conflicts"] as! [[String: Any]]).map { $0["field"] as! String }
            #expect(!fields.contains("rights"), "\(scanner) did not store the policies: \(fields)")
        }
        // check --config stores them too (back to the Fixtures' own: rights in conflict again).
        _ = try ws.run("check", "--config", "silomerge.yml")
        let again = try ws.run("conflicts", "--format", "json")
        #expect(((try json(again.stdout) as! [String: Any])["conflicts"] as! [[String: Any]]).contains { $0["field"] as? String == "rights" })
    }

    @Test("A remembered resolutions file that is gone is an error naming it; --resolutions \"\" forgets it")
    func rememberedResolutionsGone() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        _ = try ws.run("scan", "--config", "silomerge.yml")
        let template = try ws.run("conflicts", "--template")
        // Keep the first offered value of the first conflicting field.
        var done = false
        let edited = template.out.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            if !done, line.hasPrefix("  # "), !line.hasPrefix("  # from ") { done = true; return "  " + line.dropFirst(4) }
            return String(line)
        }.joined(separator: "\n")
        try ws.write("decisions.yml", edited)
        let settled = try ws.run("conflicts", "--resolutions", "decisions.yml", "--format", "json")
        let remaining = ((try json(settled.stdout) as! [String: Any])["summary"] as! [String: Any])["conflicts"] as! Int
        #expect(remaining == 2, "\(settled.stderr)")
        try FileManager.default.moveItem(at: ws.url.appendingPathComponent("decisions.yml"), to: ws.url.appendingPathComponent("moved.yml"))
        for command: [String] in [["conflicts"], ["export", "--format", "jsonl"], ["reconcile"], ["report", "--html", "r.html"]] {
            let r = try silomerge(command, in: ws.url)
            #expect(r.status == 64, "\(command): \(r.stderr)")
            #expect(r.stderr.contains(ws.url.appendingPathComponent("decisions.yml").path), "\(r.stderr)")
            #expect(r.stderr.contains("no such file"), "\(r.stderr)")
            #expect(r.stderr.contains("--resolutions \"\""), "\(r.stderr)")
        }
        let forget = try ws.run("conflicts", "--resolutions", "", "--format", "json")
        #expect(forget.status == 3, "\(forget.stderr)")
        #expect(((try json(forget.stdout) as! [String: Any])["summary"] as! [String: Any])["conflicts"] as? Int == 3)
        // Forgotten for good: the next run needs nothing.
        #expect(try ws.run("conflicts").status == 3)
    }

    @Test("A resolution an export could not write is refused with its file and line (exit 64), nothing reconciled")
    func invalidResolution() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        _ = try ws.run("scan", "--config", "silomerge.yml")
        try ws.write("bad.yml", "9508fa571338:\n  rating: 7\n")
        let r = try ws.run("export", "--format", "exiftool", "--resolutions", "bad.yml")
        #expect(r.status == 64)
        #expect(r.stderr.contains("bad.yml:2: rating: expected a whole number from -1 (rejected) to 5, found \"7\""), "\(r.stderr)")
        #expect(r.out.isEmpty)
        try ws.write("bad.yml", "9508fa571338:\n  date_created: yesterday\n")
        #expect(try ws.run("conflicts", "--resolutions", "bad.yml").stderr.contains("bad.yml:2: date_created: expected a date"))
    }

    @Test("Every command given a PostgreSQL catalogue it cannot reach fails (exit 2), naming the server without its password, writing nothing")
    func postgresURLUnreachable() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        let before = try FileManager.default.contentsOfDirectory(atPath: ws.url.path).sorted()
        for command in everyCommand {
            let r = try silomerge(command + ["--catalog", "postgresql://auditor:hunter2@127.0.0.1:1/silos"], in: ws.url)
            #expect(r.status == 2, "\(command): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains("cannot open the catalogue postgresql://auditor@127.0.0.1:1/silos: "), "\(command): \(r.stderr)")
            #expect(r.stderr.contains("127.0.0.1:1") && r.stderr.contains("refused"), "\(command): \(r.stderr)")
            #expect(!r.stderr.contains("hunter2") && !r.out.contains("hunter2"), "\(command) showed the password")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: ws.url.path).sorted() == before)
    }
}
