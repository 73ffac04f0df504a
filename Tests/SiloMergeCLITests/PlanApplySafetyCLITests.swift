import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What the tool keeps beside the silos in a workspace: catalogue, plans, journals, their locks.
private let bookkeeping: Set<String> = ["silomerge.sqlite", "silomerge.sqlite-wal", "silomerge.sqlite-shm", "silomerge.sqlite-lock",
                                        "plan.json", "plan.json.journal", "plan.json.journal-lock", "other.journal",
                                        "other.journal-lock", "link.sqlite", "edited.json", "old.json", "dam"]

/// Two silos `a` and `b` of 256 KiB files (a third of them copied into `b`), scanned.
private func bigSilos(_ ws: Workspace, files count: Int = 60) throws {
    var state: UInt64 = 42
    for i in 0..<count {
        var data = [UInt8](repeating: 0, count: 256 * 1024)
        for j in stride(from: 0, to: data.count, by: 8) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            withUnsafeBytes(of: state) { for k in 0..<8 { data[j + k] = $0[k] } }
        }
        try FileManager.default.createDirectory(at: ws.url.appendingPathComponent("a/d\(i % 5)"), withIntermediateDirectories: true)
        try Data(data).write(to: ws.url.appendingPathComponent("a/d\(i % 5)/f\(i).bin"))
        if i % 3 == 0 {
            try FileManager.default.createDirectory(at: ws.url.appendingPathComponent("b/copies"), withIntermediateDirectories: true)
            try Data(data).write(to: ws.url.appendingPathComponent("b/copies/copy\(i).bin"))
        }
    }
    #expect(try ws.run("scan", "a", "b").status == 0)
}

/// Starts `silomerge arguments` in the workspace without waiting (output discarded).
private func start(_ ws: Workspace, _ arguments: [String]) throws -> Process {
    let p = Process()
    p.executableURL = productsDirectory.appendingPathComponent("silomerge")
    p.arguments = arguments
    p.currentDirectoryURL = ws.url
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    p.standardInput = FileHandle.nullDevice
    try p.run()
    return p
}

/// Edits the plan's JSON and writes it as `name`.
private func edit(_ ws: Workspace, _ name: String, _ change: (inout [String: Any]) -> Void) throws {
    var plan = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.url.appendingPathComponent("plan.json"))) as! [String: Any]
    change(&plan)
    try JSONSerialization.data(withJSONObject: plan).write(to: ws.url.appendingPathComponent(name))
}

private func identity(_ path: String) -> (UInt64, UInt64) {
    var st = stat()
    precondition(lstat(path, &st) == 0)
    return (UInt64(st.st_dev), UInt64(st.st_ino))
}

@Suite("silomerge apply, undo, verify: locks, pinned roots, the catalogue, history and exit codes, end to end")
struct PlanApplySafetyCLITests {
    @Test("apply --method move frozen midway: undo, a second apply, an apply with another journal and a scan through a link to the catalogue are refused at once, naming its pid; nothing is lost")
    func concurrentRuns() throws {
        let ws = try Workspace()
        try bigSilos(ws)
        #expect(try ws.run("plan", "--target", "dam", "-o", "plan.json", "--method", "move", "--duplicates", "quarantine",
                           "--layout", "{silo}/{path}").status == 0)
        try FileManager.default.createSymbolicLink(atPath: ws.url.appendingPathComponent("link.sqlite").path, withDestinationPath: "silomerge.sqlite")
        let sources = regularFiles(ws.url, skipping: bookkeeping)
        #expect(sources.count == 80)

        // Freeze the apply (SIGSTOP) once it has finished an operation: it holds its locks.
        var frozen: Process? = nil
        for _ in 0..<5 where frozen == nil {
            let apply = try start(ws, ["apply", "plan.json", "-q"])
            let journal = ws.url.appendingPathComponent("plan.json.journal")
            let deadline = Date().addingTimeInterval(60)
            while apply.isRunning && Date() < deadline {
                if let text = try? String(contentsOf: journal, encoding: .utf8), text.contains("\"event\":\"done\"") { break }
                usleep(500)
            }
            kill(apply.processIdentifier, SIGSTOP)
            if apply.isRunning {
                frozen = apply
            } else {
                // Finished before it could be frozen: start again from the silos.
                kill(apply.processIdentifier, SIGCONT)
                apply.waitUntilExit()
                #expect(try ws.run("undo", "plan.json").status == 0)
            }
        }
        let apply = try #require(frozen, "the apply always finished before it could be frozen")
        let pid = apply.processIdentifier

        let undo = try ws.run("undo", "plan.json")
        let second = try ws.run("apply", "plan.json")
        let otherJournal = try ws.run("apply", "plan.json", "--journal", "other.journal")
        let dryRun = try ws.run("apply", "plan.json", "--dry-run")
        let verify = try ws.run("verify", "plan.json")
        let scan = try ws.run("scan", "--catalog", "link.sqlite")
        kill(pid, SIGCONT)
        apply.waitUntilExit()

        for (label, r) in [("undo", undo), ("apply", second), ("dry run", dryRun), ("verify", verify)] {
            #expect(r.status == 2, "\(label): \(r.stderr)")
            #expect(r.stderr.contains("plan.json.journal is in use by another silomerge (pid \(pid) (apply "), "\(label): \(r.stderr)")
        }
        // Another journal for the same plan: the catalogue is held (the plan touches its silos).
        #expect(otherJournal.status == 2, "\(otherJournal.stderr)")
        #expect(otherJournal.stderr.contains("is in use by another silomerge (pid \(pid) (apply "), "\(otherJournal.stderr)")
        #expect(!ws.exists("other.journal"))
        // A scan through a symbolic link to the catalogue finds it held too.
        #expect(scan.status == 2, "\(scan.stderr)")
        #expect(scan.stderr.contains("pid \(pid)"), "\(scan.stderr)")

        #expect(apply.terminationStatus == 0)
        #expect(try ws.run("verify", "plan.json").status == 0)
        let undone = try ws.run("undo", "plan.json")
        #expect(undone.status == 0, "\(undone.stderr)")
        #expect(regularFiles(ws.url, skipping: bookkeeping) == sources, "a content was lost or changed")
        #expect(regularFiles(ws.url.appendingPathComponent("dam")).isEmpty)
    }

    @Test("a target, the folder above it, or a silo root swapped for a symbolic link after planning: apply, verify and undo refuse, writing and removing nothing through it")
    func symlinkedRoots() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        try FileManager.default.createDirectory(at: ws.url.appendingPathComponent("out"), withIntermediateDirectories: true)
        let made = try ws.run("plan", "--target", "out/dam", "-o", "plan.json", "--allow-conflicts", "--duplicates", "remove")
        #expect(made.status == 0, "\(made.stderr)")
        let show = try ws.run("plan", "show", "plan.json")
        #expect(show.out.contains("target      \(ws.url.resolvingSymlinksInPath().path)/out/dam  to be made in \(ws.url.resolvingSymlinksInPath().path)/out (device"), "\(show.out)")
        #expect(show.out.contains("silo hr"), "\(show.out)")
        let elsewhere = ws.url.appendingPathComponent("elsewhere")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)

        // The target itself, then the folder above it.
        try FileManager.default.createSymbolicLink(at: ws.url.appendingPathComponent("out/dam"), withDestinationURL: elsewhere)
        var r = try ws.run("apply", "plan.json")
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("out/dam: is a symbolic link"), "\(r.stderr)")
        try FileManager.default.removeItem(at: ws.url.appendingPathComponent("out/dam"))
        try FileManager.default.moveItem(at: ws.url.appendingPathComponent("out"), to: ws.url.appendingPathComponent("out-real"))
        try FileManager.default.createSymbolicLink(at: ws.url.appendingPathComponent("out"), withDestinationURL: elsewhere)
        r = try ws.run("apply", "plan.json")
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("/out: is a symbolic link"), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere.path).isEmpty)
        #expect(!ws.exists("plan.json.journal"))
        try FileManager.default.removeItem(at: ws.url.appendingPathComponent("out"))
        try FileManager.default.moveItem(at: ws.url.appendingPathComponent("out-real"), to: ws.url.appendingPathComponent("out"))

        // A silo root swapped for a link to a hard-linked copy of it (cp -al): every source
        // still "matches" by inode; --duplicates remove would delete names in the copy.
        let hr = ws.url.appendingPathComponent("hr")
        try FileManager.default.moveItem(at: hr, to: ws.url.appendingPathComponent("hr-real"))
        let cp = Process()
        cp.executableURL = URL(fileURLWithPath: "/bin/cp")
        cp.arguments = ["-al", ws.url.appendingPathComponent("hr-real").path, ws.url.appendingPathComponent("hr-copy").path]
        try cp.run(); cp.waitUntilExit()
        let copy = regularFiles(ws.url.appendingPathComponent("hr-copy"))
        #expect(!copy.isEmpty)
        try FileManager.default.createSymbolicLink(at: hr, withDestinationURL: ws.url.appendingPathComponent("hr-copy"))
        r = try ws.run("apply", "plan.json")
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("/hr: is a symbolic link"), "\(r.stderr)")
        #expect(regularFiles(ws.url.appendingPathComponent("hr-copy")) == copy)
        try FileManager.default.removeItem(at: hr)
        try FileManager.default.moveItem(at: ws.url.appendingPathComponent("hr-real"), to: hr)

        // Applied for real; then the target swapped: verify and undo refuse it.
        let before = regularFiles(ws.url, skipping: bookkeeping.union(["out", "hr-copy", "elsewhere"]))
        r = try ws.run("apply", "plan.json")
        #expect(r.status == 0, "\(r.stderr)")
        try FileManager.default.moveItem(at: ws.url.appendingPathComponent("out/dam"), to: ws.url.appendingPathComponent("dam-real"))
        try FileManager.default.createSymbolicLink(at: ws.url.appendingPathComponent("out/dam"), withDestinationURL: ws.url.appendingPathComponent("dam-real"))
        let merged = regularFiles(ws.url.appendingPathComponent("dam-real"))
        r = try ws.run("verify", "plan.json")
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("is a symbolic link"), "\(r.stderr)")
        r = try ws.run("undo", "plan.json")
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("is a symbolic link"), "\(r.stderr)")
        #expect(regularFiles(ws.url.appendingPathComponent("dam-real")) == merged)
        try FileManager.default.removeItem(at: ws.url.appendingPathComponent("out/dam"))
        try FileManager.default.moveItem(at: ws.url.appendingPathComponent("dam-real"), to: ws.url.appendingPathComponent("out/dam"))
        #expect(try ws.run("verify", "plan.json").status == 0)
        r = try ws.run("undo", "plan.json")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(regularFiles(ws.url, skipping: bookkeeping.union(["out", "hr-copy", "elsewhere"])) == before)
    }

    @Test("a hand-edited plan that re-roots a silo, or puts the quarantine in a silo, is refused against the catalogue; plan show prints the roots and flags it")
    func tamperedPlans() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        #expect(try ws.run("plan", "--target", "dam", "-o", "plan.json", "--allow-conflicts", "--duplicates", "remove").status == 0)
        let honest = try ws.run("plan", "show", "plan.json", "--operations")
        #expect(honest.status == 0)
        #expect(honest.out.contains("they match"), "\(honest.out)")

        // hr re-rooted to a copy of it, consistently (root, every source's silo_root, device, inode).
        let real = ws.url.resolvingSymlinksInPath().path
        try FileManager.default.copyItem(at: ws.url.appendingPathComponent("hr"), to: ws.url.appendingPathComponent("hr-copy"))
        let copy = regularFiles(ws.url.appendingPathComponent("hr-copy"))
        let (dev, ino) = identity(real + "/hr-copy")
        try edit(ws, "edited.json") { plan in
            plan["silos"] = (plan["silos"] as! [[String: Any]]).map { s in
                guard s["name"] as? String == "hr" else { return s }
                var s = s; s["root"] = real + "/hr-copy"; s["device"] = dev; s["inode"] = ino; return s
            }
            plan["operations"] = (plan["operations"] as! [[String: Any]]).map { op in
                guard var src = op["source"] as? [String: Any], src["silo"] as? String == "hr" else { return op }
                var op = op; src["silo_root"] = real + "/hr-copy"; op["source"] = src; return op
            }
        }
        let show = try ws.run("plan", "show", "edited.json", "--operations")
        #expect(show.status == 1)
        #expect(show.out.contains("silo hr         \(real)/hr-copy"), "\(show.out)")
        #expect(show.out.contains("THE PLAN DOES NOT MATCH ITS CATALOGUE"), "\(show.out)")
        #expect(show.out.contains("the catalogue \(real)/silomerge.sqlite as \(real)/hr"), "\(show.out)")
        var r = try ws.run("apply", "edited.json")
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("silo 'hr': the plan gives its root as \(real)/hr-copy"), "\(r.stderr)")
        #expect(regularFiles(ws.url.appendingPathComponent("hr-copy")) == copy)
        #expect(!ws.exists("dam") && !ws.exists("edited.json.journal"))

        // The quarantine moved into a silo.
        try edit(ws, "edited.json") { plan in
            var settings = plan["settings"] as! [String: Any]
            settings["duplicates"] = "quarantine"
            settings["quarantine_root"] = real + "/training/q"
            plan["settings"] = settings
            plan["quarantine_root"] = real + "/training/q"
        }
        r = try ws.run("apply", "edited.json")
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("overlaps the quarantine folder") || r.stderr.contains("the quarantine folder overlaps silo 'training'"), "\(r.stderr)")
        #expect(!ws.exists("training/q") && !ws.exists("dam"))

        // A plan of the older schema is refused with what to do.
        try edit(ws, "old.json") { plan in plan["schema"] = "silomerge-plan/1" }
        r = try ws.run("apply", "old.json")
        #expect(r.status == 64, "\(r.stderr)")
        #expect(r.stderr.contains("made by an older SiloMerge: run `silomerge plan` again"), "\(r.stderr)")

        // Without its catalogue, apply refuses; undo goes on (nothing to undo here) and says so.
        try FileManager.default.moveItem(at: ws.url.appendingPathComponent("silomerge.sqlite"), to: ws.url.appendingPathComponent("aside.sqlite"))
        r = try ws.run("apply", "plan.json")
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("cannot be checked against its catalogue"), "\(r.stderr)")
        #expect(!ws.exists("dam"))
        r = try ws.run("apply", "plan.json", "--catalog", "aside.sqlite")
        #expect(r.status == 0, "\(r.stderr)")
        try FileManager.default.removeItem(at: ws.url.appendingPathComponent("aside.sqlite"))
        r = try ws.run("undo", "plan.json")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("undo goes on without it"), "\(r.stderr)")
        #expect(regularFiles(ws.url.appendingPathComponent("dam")).isEmpty)
    }

    @Test("verify exits 3 for a missing or an unexpected file and 4 for changed content; undo exits 1 when it leaves a changed file")
    func exitCodes() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        #expect(try ws.run("plan", "--target", "dam", "-o", "plan.json", "--allow-conflicts").status == 0)
        #expect(try ws.run("apply", "plan.json", "-q").status == 0)
        let plan = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.url.appendingPathComponent("plan.json"))) as! [String: Any]
        let first = ((plan["operations"] as! [[String: Any]])[0]["destination"] as! String)
        let placed = ws.url.appendingPathComponent("dam/" + first)
        let original = try Data(contentsOf: placed)

        try FileManager.default.moveItem(at: placed, to: ws.url.appendingPathComponent("aside"))
        var r = try ws.run("verify", "plan.json")
        #expect(r.status == 3, "\(r.out)")
        #expect(r.out.contains("missing     \(first)"), "\(r.out)")
        try FileManager.default.moveItem(at: ws.url.appendingPathComponent("aside"), to: placed)
        try ws.write("dam/stray.txt", "not from the plan")
        r = try ws.run("verify", "plan.json", "--format", "json")
        #expect(r.status == 3, "\(r.out)")
        let report = try json(r.stdout) as! [String: Any]
        #expect(report["unexpected"] as? Bool == true && report["complete"] as? Bool == true)
        #expect((report["problems"] as! [[String: Any]]).map { $0["path"] as? String } == ["stray.txt"])
        try FileManager.default.removeItem(at: ws.url.appendingPathComponent("dam/stray.txt"))
        var flipped = [UInt8](original); flipped[flipped.count / 2] ^= 1
        try Data(flipped).write(to: placed)
        r = try ws.run("verify", "plan.json")
        #expect(r.status == 4, "\(r.out)")
        #expect(r.out.contains("mismatch    \(first)"), "\(r.out)")

        r = try ws.run("undo", "plan.json")
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("left copy") && r.stderr.contains("changed since apply"), "\(r.stderr)")
        #expect(try Data(contentsOf: placed) == Data(flipped), "undo removed a file changed after apply")
    }

    @Test("--quarantine from the command line: refused inside a silo (exit 64), used and shown elsewhere")
    func quarantineOption() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        var r = try ws.run("plan", "--target", "dam", "-o", "plan.json", "--allow-conflicts", "--duplicates", "quarantine", "--quarantine", "hr/held")
        #expect(r.status == 64, "\(r.stderr)")
        #expect(r.stderr.contains("overlaps silo 'hr'"), "\(r.stderr)")
        #expect(!ws.exists("plan.json"))
        r = try ws.run("plan", "--target", "dam", "-o", "plan.json", "--allow-conflicts", "--duplicates", "quarantine", "--quarantine", "held")
        #expect(r.status == 0, "\(r.stderr)")
        let real = ws.url.resolvingSymlinksInPath().path
        r = try ws.run("plan", "show", "plan.json")
        #expect(r.out.contains("quarantine  \(real)/held  to be made in \(real) (device"), "\(r.out)")
        #expect(try ws.run("apply", "plan.json", "-q").status == 0)
        #expect(ws.exists("held/hr/staff-photos/offsite-2023/team_offsite.jpg"))
        #expect(!ws.exists("hr/staff-photos/offsite-2023/team_offsite.jpg"))
        #expect(!ws.exists("dam/.silomerge-quarantine"))
        #expect(try ws.run("verify", "plan.json").status == 0)
        #expect(try ws.run("undo", "plan.json").status == 0)
        #expect(ws.exists("hr/staff-photos/offsite-2023/team_offsite.jpg"))
        #expect(!ws.exists("held"), "undo removes the quarantine folder it made")
    }

    @Test("apply and undo are in history (an apply killed midway shows as interrupted); undo shows a progress line on a terminal")
    func historyAndProgress() throws {
        let ws = try Workspace()
        try bigSilos(ws, files: 30)
        #expect(try ws.run("plan", "--target", "dam", "-o", "plan.json", "--layout", "{silo}/{path}").status == 0)
        // Killed midway: left 'running' by the dead process, marked 'interrupted' by the next apply.
        let killed = try start(ws, ["apply", "plan.json", "-q"])
        let journal = ws.url.appendingPathComponent("plan.json.journal")
        let deadline = Date().addingTimeInterval(60)
        while killed.isRunning && Date() < deadline {
            if let text = try? String(contentsOf: journal, encoding: .utf8), text.contains("\"event\":\"done\"") { break }
            usleep(500)
        }
        kill(killed.processIdentifier, SIGKILL)
        killed.waitUntilExit()
        #expect(try ws.run("apply", "plan.json", "-q").status == 0)

        // Undo on a terminal (through script(1)) draws the same progress line apply does.
        let tty = Process()
        tty.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        tty.arguments = ["-qec", "\(productsDirectory.appendingPathComponent("silomerge").path) undo plan.json", "/dev/null"]
        tty.currentDirectoryURL = ws.url
        let out = ws.url.appendingPathComponent(".tty-out")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        let handle = try FileHandle(forWritingTo: out)
        tty.standardOutput = handle
        tty.standardError = handle
        tty.standardInput = FileHandle.nullDevice
        try tty.run()
        tty.waitUntilExit()
        try handle.close()
        let screen = String(decoding: try Data(contentsOf: out), as: UTF8.self)
        try FileManager.default.removeItem(at: out)
        #expect(tty.terminationStatus == 0, "\(screen)")
        #expect(screen.contains("/30 operations · "), "no progress line: \(screen)")

        let table = try ws.run("history")
        #expect(table.status == 0)
        // The runs, then (after a blank line) the findings still open.
        let rows = table.out.components(separatedBy: "\n\n")[0].split(separator: "\n").map(String.init)
        #expect(rows.count == 5, "\(table.out)")
        #expect(table.out.contains("No finding is open."), "\(table.out)")
        #expect(rows[1].contains("undo") && rows[1].contains("ok") && rows[1].contains("30 reversed, 0 left, 0 failed"), "\(table.out)")
        #expect(rows[2].contains("apply") && rows[2].contains("ok") && rows[2].contains("already done"), "\(table.out)")
        #expect(rows[3].contains("apply") && rows[3].contains("interrupted"), "\(table.out)")
        let history = try json(try ws.run("history", "--format", "json").stdout) as! [String: Any]
        let list = try #require(history["runs"] as? [[String: Any]])
        #expect(list.map { $0["kind"] as? String } == ["undo", "apply", "apply", "scan"])
        #expect(list.map { $0["status"] as? String } == ["ok", "ok", "interrupted", "ok"])
        let applied = try #require(list[1]["plan"] as? [String: Any])
        #expect(applied["operations"] as? Int == 30)
        #expect((applied["done"] as? Int ?? 0) + (applied["skipped"] as? Int ?? 0) == 30)
        #expect((applied["path"] as? String)?.hasSuffix("/plan.json") == true)
        #expect(list[0]["outcome"] as? String == "complete")
    }
}
