import Foundation
import GRDB
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What the silos of a workspace hold (silo/path → bytes).
private func silos(_ ws: Workspace, _ names: [String] = ["marketing", "hr", "training"]) -> [String: Data] {
    var out: [String: Data] = [:]
    for n in names { for (k, v) in regularFiles(ws.url.appendingPathComponent(n)) { out["\(n)/\(k)"] = v } }
    return out
}

/// The catalogue, read only.
private func catalogue(_ ws: Workspace) throws -> DatabaseQueue {
    var config = Configuration()
    config.readonly = true
    return try DatabaseQueue(path: ws.url.appendingPathComponent("silomerge.sqlite").path, configuration: config)
}

/// The newest run, as `history --format json` shows it.
private func lastRun(_ ws: Workspace) throws -> [String: Any] {
    let r = try silomerge(["history", "--format", "json", "--limit", "1"], in: ws.url)
    return try #require(((try json(r.stdout) as! [String: Any])["runs"] as! [[String: Any]]).first)
}

private func checkJSON(_ ws: Workspace, _ extra: String...) throws -> (status: Int32, object: [String: Any], stderr: String) {
    let r = try silomerge(["check", "--format", "json"] + extra, in: ws.url)
    return (r.status, try json(r.stdout) as! [String: Any], r.stderr)
}

private func findings(_ o: [String: Any], _ kind: String) -> [[String: Any]] {
    (o["findings"] as! [[String: Any]]).filter { ($0["kind"] as? String) == kind }
}

private func count(_ o: [String: Any], _ kind: String) -> Int { (o["counts"] as! [String: Any])[kind] as? Int ?? -1 }

@Suite("After a merge the catalogue knows it: merged, not missing; undo; adopting the target, end to end")
struct MergedCLITests {
    /// Fixtures scanned and planned with `--method move` and these duplicates.
    func planned(_ duplicates: String = "remove", layout: String? = nil) throws -> Workspace {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        var args = ["plan", "--target", "dam", "-o", "plan.json", "--allow-conflicts", "--method", "move", "--duplicates", duplicates]
        if let layout { args += ["--layout", layout] }
        let made = try silomerge(args, in: ws.url)
        #expect(made.status == 0, "\(made.stderr)")
        return ws
    }

    func plan(_ ws: Workspace) throws -> [String: Any] {
        try json([UInt8](Data(contentsOf: ws.url.appendingPathComponent("plan.json")))) as! [String: Any]
    }

    @Test("A move-apply, then check: every file the plan took is merged (plan and destination in the detail), exit 0, nothing opened; the next check is unchanged")
    func moveApplyThenCheck() throws {
        let ws = try planned()
        let before = silos(ws)
        let ops = try plan(ws)["operations"] as! [[String: Any]]
        let taken = Set(ops.filter { ["move", "sidecar-move", "remove-duplicate"].contains($0["kind"] as? String) }
            .map { op -> String in let s = op["source"] as! [String: Any]; return "\(s["silo"]!)/\(s["path"]!)" })
        #expect(try ws.run("apply", "plan.json", "-q").status == 0)
        let after = silos(ws)
        let gone = Set(before.keys).subtracting(after.keys)
        #expect(gone == taken, "the apply took exactly what the plan names")

        let check = try checkJSON(ws)
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.object["outcome"] as? String == "unchanged")
        #expect(count(check.object, "missing") == 0)
        #expect(count(check.object, "duplicate-gone") == 0)
        #expect(count(check.object, "new") == 0)
        #expect((check.object["open_findings"] as! [Any]).isEmpty)
        #expect((check.object["open_counts"] as! [String: Any])["missing"] as? Int == 0)
        let merged = findings(check.object, "merged")
        // Every catalogued file that left (sidecars travel with their files, as sidecars)...
        let mergedGone = Set(merged.filter { $0["old"] is [String: Any] }.map { "\($0["silo"]!)/\($0["path"]!)" })
        #expect(mergedGone == Set(taken.filter { !$0.hasSuffix(".xmp") }))
        for f in merged where f["old"] is [String: Any] {
            let detail = f["detail"] as! String
            #expect(detail.contains(ws.url.appendingPathComponent("plan.json").path), "\(detail)")
            // ... names where its content is now, and it is there.
            let destination = try #require(detail.range(of: ws.url.appendingPathComponent("dam").path).map { String(detail[$0.lowerBound...]) })
            #expect(FileManager.default.fileExists(atPath: destination), "\(detail)")
        }
        // The sidecars of removed duplicates stay in the silos (the plan's left_behind): files
        // of their own now, said so, not "new".
        let leftBehind = Set((try plan(ws)["left_behind"] as! [[String: Any]])
            .filter { ($0["reason"] as? String) == "sidecar-of-duplicate" }.map { "\($0["silo"]!)/\($0["path"]!)" })
        #expect(!leftBehind.isEmpty)
        let mergedLeft = Set(merged.filter { !($0["old"] is [String: Any]) }.map { "\($0["silo"]!)/\($0["path"]!)" })
        #expect(mergedLeft == leftBehind)

        // The report shows them as news, not as a warning.
        #expect(try ws.run("report", "--html", "report.html").status == 0)
        let html = try String(contentsOf: ws.url.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.contains("<div class=\"card\"><div class=\"label\">merged</div>"))

        let quiet = try ws.run("check", "-q")
        #expect(quiet.status == 0)
        #expect(quiet.stdout.isEmpty, "\(quiet.out)")
        let again = try checkJSON(ws)
        #expect(again.status == 0)
        #expect((again.object["findings"] as! [Any]).isEmpty)
    }

    @Test("A scan after a move-apply says the files were merged, opens no missing finding, exits 0")
    func moveApplyThenScan() throws {
        let ws = try planned("quarantine")
        #expect(try ws.run("apply", "plan.json", "-q").status == 0)
        let scan = try ws.run("scan")
        #expect(scan.status == 0, "\(scan.stderr)")
        #expect(scan.stderr.contains("gone because an applied plan moved, removed or quarantined them"), "\(scan.stderr)")
        #expect(!scan.stderr.contains("missing file"), "\(scan.stderr)")
        #expect(try catalogue(ws).read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM open_finding") } == 0)
        #expect(try ws.run("check").status == 0)
    }

    @Test("A partial apply (some operations refused) then check: what was done is merged, what was not is still there, exit 0")
    func refusedOperationsThenCheck() throws {
        let ws = try planned("remove", layout: "{silo}/{path}")
        let ops = try plan(ws)["operations"] as! [[String: Any]]
        // Something else already at one destination, with the planned size and other bytes:
        // that move is refused during apply, and so are its duplicates; the rest goes on.
        let blocked = try #require(ops.first { ($0["kind"] as? String) == "move" && ($0["destination"] as? String) == "marketing/logo.png" })
        let blockedSource = blocked["source"] as! [String: Any]
        try FileManager.default.createDirectory(at: ws.url.appendingPathComponent("dam/marketing"), withIntermediateDirectories: true)
        try Data(repeating: 0x41, count: blockedSource["size"] as! Int).write(to: ws.url.appendingPathComponent("dam/marketing/logo.png"))
        let before = silos(ws)
        let applied = try ws.run("apply", "plan.json", "-q")
        #expect(applied.status == 1, "\(applied.stderr)")
        #expect(applied.stderr.contains("refused"), "\(applied.stderr)")
        #expect(ws.exists("marketing/logo.png"))
        let gone = Set(before.keys).subtracting(silos(ws).keys).filter { !$0.hasSuffix(".xmp") }
        #expect(gone.count > 10)

        let check = try checkJSON(ws)
        #expect(check.status == 0, "\(check.stderr)")
        #expect(count(check.object, "missing") == 0)
        #expect((check.object["open_findings"] as! [Any]).isEmpty)
        #expect(Set(findings(check.object, "merged").filter { $0["old"] is [String: Any] }.map { "\($0["silo"]!)/\($0["path"]!)" }) == gone)
        // Moving the obstacle away and applying again finishes it; the next check says so.
        try FileManager.default.removeItem(at: ws.url.appendingPathComponent("dam/marketing/logo.png"))
        #expect(try ws.run("apply", "plan.json", "-q").status == 0)
        let rest = try checkJSON(ws)
        #expect(rest.status == 0, "\(rest.stderr)")
        #expect(findings(rest.object, "merged").contains { ($0["path"] as? String) == "logo.png" && ($0["silo"] as? String) == "marketing" })
        #expect(count(rest.object, "missing") == 0)
    }

    @Test("An apply killed midway (SIGKILL), then check: what the journal says was done is merged, exit 0; resume, check, undo, check")
    func killedApplyThenCheck() throws {
        let ws = try Workspace()
        // Forty files of 256 KiB, a third with a copy in a second silo.
        var state: UInt64 = 7
        for i in 0..<40 {
            var data = [UInt8](repeating: 0, count: 256 * 1024)
            for j in stride(from: 0, to: data.count, by: 8) {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                withUnsafeBytes(of: state) { for k in 0..<8 { data[j + k] = $0[k] } }
            }
            try FileManager.default.createDirectory(at: ws.url.appendingPathComponent("a/d\(i % 4)"), withIntermediateDirectories: true)
            try Data(data).write(to: ws.url.appendingPathComponent("a/d\(i % 4)/f\(i).bin"))
            if i % 3 == 0 {
                try FileManager.default.createDirectory(at: ws.url.appendingPathComponent("b/copies"), withIntermediateDirectories: true)
                try Data(data).write(to: ws.url.appendingPathComponent("b/copies/c\(i).bin"))
            }
        }
        #expect(try ws.run("scan", "a", "b").status == 0)
        #expect(try ws.run("plan", "--target", "dam", "-o", "plan.json", "--method", "move", "--duplicates", "quarantine",
                           "--layout", "{silo}/{path}").status == 0)
        let before = silos(ws, ["a", "b"])

        // Run the apply in short steps until its journal records some operations done, then kill it.
        let p = Process()
        p.executableURL = productsDirectory.appendingPathComponent("silomerge")
        p.arguments = ["apply", "plan.json", "-q"]
        p.currentDirectoryURL = ws.url
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let journal = ws.url.appendingPathComponent("plan.json.journal")
        func done() -> Int {
            guard let text = try? String(contentsOf: journal, encoding: .utf8) else { return 0 }
            return text.components(separatedBy: "\"event\":\"done\"").count - 1
        }
        kill(p.processIdentifier, SIGSTOP)
        for _ in 0..<20_000 where done() < 8 && p.isRunning {
            kill(p.processIdentifier, SIGCONT); usleep(500); kill(p.processIdentifier, SIGSTOP)
        }
        let killedMidway = p.isRunning && done() >= 8 && done() < 53
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(killedMidway, "the apply was not killed midway (\(done()) operations done)")
        let gone = Set(before.keys).subtracting(silos(ws, ["a", "b"]).keys)
        #expect(!gone.isEmpty)

        // Nothing was recorded by the killed apply; the check reads its journal.
        let check = try checkJSON(ws)
        #expect(check.status == 0, "\(check.stderr)")
        #expect(count(check.object, "missing") == 0)
        #expect((check.object["open_findings"] as! [Any]).isEmpty)
        #expect(Set(findings(check.object, "merged").map { "\($0["silo"]!)/\($0["path"]!)" }) == gone)
        let history = (try json(try ws.run("history", "--format", "json").stdout) as! [String: Any])["runs"] as! [[String: Any]]
        #expect(history.contains { ($0["kind"] as? String) == "apply" && ($0["status"] as? String) == "interrupted" })

        // Resumed to the end: the rest is merged too; then undone: everything is back, and a
        // check finds nothing at all (no `new`, no duplicates), twice.
        #expect(try ws.run("apply", "plan.json", "-q").status == 0)
        let rest = try checkJSON(ws)
        #expect(rest.status == 0, "\(rest.stderr)")
        #expect(Set(findings(rest.object, "merged").map { "\($0["silo"]!)/\($0["path"]!)" }) == Set(before.keys).subtracting(gone))
        let undo = try ws.run("undo", "plan.json", "-q")
        #expect(undo.status == 0, "\(undo.stderr)")
        #expect(silos(ws, ["a", "b"]) == before)
        for round in 0..<2 {
            let back = try checkJSON(ws)
            #expect(back.status == 0, "round \(round): \(back.stderr)")
            #expect((back.object["findings"] as! [Any]).isEmpty, "round \(round): \(back.object["findings"]!)")
            #expect((back.object["open_findings"] as! [Any]).isEmpty)
        }
    }

    @Test("Missing findings opened before the ledger knew the plan (an older SiloMerge applied it) are closed as merged once it does")
    func missingOpenedBeforeTheLedger() throws {
        let ws = try planned("quarantine")
        #expect(try ws.run("apply", "plan.json", "-q").status == 0)
        // As an apply by a SiloMerge without the ledger leaves the catalogue.
        var config = Configuration()
        config.foreignKeysEnabled = true
        let db = try DatabaseQueue(path: ws.url.appendingPathComponent("silomerge.sqlite").path, configuration: config)
        try db.write { db in try db.execute(sql: "DELETE FROM merge_plan") }
        #expect(try db.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM merge_op") } == 0)
        try db.close()
        let missing = try checkJSON(ws)
        #expect(missing.status == 3)
        let opened = (missing.object["open_findings"] as! [[String: Any]]).count
        #expect(opened > 20)
        #expect(opened == count(missing.object, "missing"))

        // Applying the plan again (everything is done) records it: the open findings close.
        let again = try ws.run("apply", "plan.json", "-q")
        #expect(again.status == 0, "\(again.stderr)")
        let check = try checkJSON(ws)
        #expect(check.status == 0, "\(check.stderr)")
        #expect((check.object["open_findings"] as! [Any]).isEmpty)
        #expect(count(check.object, "merged") == opened)
        #expect(findings(check.object, "merged").allSatisfy { ($0["detail"] as! String).contains("was missing since run") })
        let closed = (try json(try ws.run("history", "--format", "json").stdout) as! [String: Any])["closed_findings"] as! [[String: Any]]
        #expect(closed.filter { ($0["resolution"] as? String) == "merged" }.count == min(opened, 10))
        #expect(try ws.run("check").status == 0)
    }

    @Test("Undo after a check reported the merge: the files are simply present again; undo before any check: unchanged")
    func undoThenCheck() throws {
        let ws = try planned()
        let before = silos(ws)
        #expect(try ws.run("apply", "plan.json", "-q").status == 0)
        #expect(try ws.run("check", "-q").status == 0)
        #expect(try ws.run("undo", "plan.json", "-q").status == 0)
        #expect(silos(ws) == before)
        let check = try checkJSON(ws)
        #expect(check.status == 0, "\(check.stderr)")
        #expect((check.object["findings"] as! [Any]).isEmpty, "\(check.object["findings"]!)")
        #expect((check.object["open_findings"] as! [Any]).isEmpty)
        #expect(try catalogue(ws).read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM merge_op WHERE state = 'done'")
        } == 0, "nothing stays merged that undo reversed")
        // A file that was merged away and put back, then deleted by hand, is missing again.
        try FileManager.default.removeItem(at: ws.url.appendingPathComponent("hr/logo.png"))
        let gone = try checkJSON(ws)
        #expect(gone.status == 3)
        #expect(findings(gone.object, "missing").contains { ($0["path"] as? String) == "logo.png" && ($0["silo"] as? String) == "hr" })
        #expect(count(gone.object, "merged") == 0)

        // Apply and undo with no check in between: the next check finds nothing.
        let ws2 = try planned("quarantine")
        #expect(try ws2.run("apply", "plan.json", "-q").status == 0)
        #expect(try ws2.run("undo", "plan.json", "-q").status == 0)
        let check2 = try checkJSON(ws2)
        #expect(check2.status == 0, "\(check2.stderr)")
        #expect((check2.object["findings"] as! [Any]).isEmpty, "\(check2.object["findings"]!)")
    }

    @Test("Adopting the target with --from-plan reads no file the apply verified (files_hashed 0); a check of it is then unchanged")
    func adoptWithoutReading() throws {
        let ws = try planned("quarantine")
        #expect(try ws.run("apply", "plan.json", "-q").status == 0)
        let placed = (try plan(ws)["operations"] as! [[String: Any]]).filter { $0["destination"] != nil && ($0["kind"] as? String) != "quarantine-duplicate" }
        let added = try ws.run("silos", "add", "merged=dam", "--from-plan", "plan.json")
        #expect(added.status == 0, "\(added.stderr)")
        #expect(added.out.contains("\(placed.count) of the \(placed.count) files its apply placed taken with the SHA-256 it verified"), "\(added.out)")
        let run = try lastRun(ws)
        #expect(run["kind"] as? String == "scan")
        #expect(run["hashed"] as? Int == 0)
        #expect(run["bytes_hashed"] as? Int == 0)
        // The contents (the sidecar aside: it is catalogued as a sidecar) are files of the new
        // silo, with the SHA-256 the plan names; the quarantine folder is not part of it.
        let catalogued = try catalogue(ws).read { db in
            try Row.fetchAll(db, sql: """
                SELECT f.path, f.sha256 FROM file f JOIN silo s ON s.id = f.silo_id WHERE s.name = 'merged'
                """).map { ($0[0] as String, $0[1] as String) }
        }
        let expected = placed.filter { !["sidecar-move"].contains($0["kind"] as? String) }
            .map { ($0["destination"] as! String, ($0["source"] as! [String: Any])["sha256"] as! String) }
        #expect(Dictionary(uniqueKeysWithValues: catalogued) == Dictionary(uniqueKeysWithValues: expected))
        #expect(!catalogued.contains { $0.0.hasPrefix(".silomerge-quarantine") })
        // What each content holds (format, dimensions, image hash and its prefix, embedded
        // metadata) is what the catalogue read from its source before the merge: taken, not read again.
        #expect(added.out.contains("Metadata: \(expected.count - 1) taken from what the catalogue read before the merge"), "\(added.out)")
        let facts = try catalogue(ws).read { db in
            try Row.fetchAll(db, sql: """
                SELECT f.sha256, f.format, f.width, f.height, f.image_sha256, f.image_prefix, f.metadata_read,
                       (SELECT group_concat(field || '=' || value, ';') FROM (SELECT field, value FROM metadata m
                        WHERE m.file_id = f.id AND m.source IS NULL ORDER BY field, origin, tag, value)) AS vals,
                       s.name = 'merged' AS adopted
                FROM file f JOIN silo s ON s.id = f.silo_id WHERE f.size > 0
                """).map { r -> (adopted: Bool, sha: String, facts: String) in
                (r["adopted"] as Bool, r["sha256"] as String,
                 "\(r["format"] as String? ?? "-") \(r["width"] as Int? ?? -1)x\(r["height"] as Int? ?? -1) \(r["image_sha256"] as String? ?? "-") \(r["image_prefix"] as String? ?? "-") v\(r["metadata_read"] as Int) \(r["vals"] as String? ?? "")")
            }
        }
        let sourceFacts = Dictionary(facts.filter { !$0.adopted }.map { ($0.sha, $0.facts) }, uniquingKeysWith: { a, _ in a })
        let adoptedFacts = facts.filter(\.adopted)
        #expect(adoptedFacts.count == expected.count - 1)
        #expect(adoptedFacts.contains { $0.facts.contains("title=") }, "embedded metadata came along")
        for a in adoptedFacts { #expect(a.facts == sourceFacts[a.sha], "\(a.sha): \(a.facts) vs \(sourceFacts[a.sha] ?? "nothing")") }
        #expect(try catalogue(ws).read { db in try String.fetchOne(db, sql: "SELECT adopted_plan FROM silo WHERE name = 'merged'") } != nil)

        let check = try checkJSON(ws, "merged")
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.object["outcome"] as? String == "unchanged")
        #expect((check.object["findings"] as! [Any]).isEmpty)
        #expect((check.object["scan"] as! [String: Any])["files_read"] as? Int == 0)
        // The plan still matches its catalogue (its target is its own adopted silo).
        #expect(try ws.run("plan", "show", "plan.json").status == 0)
        // Run again (as after an interruption): nothing to do, nothing read.
        let again = try ws.run("silos", "add", "merged=dam", "--from-plan", "plan.json")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.out.contains("\(placed.count) already catalogued in this silo by an earlier run"), "\(again.out)")
        #expect(!again.out.contains("no longer in the target"), "\(again.out)")
        #expect(again.out.contains("Hashed 0 files"), "\(again.out)")
        // A name another folder has, or a folder that is not the plan's target, is refused.
        let taken = try ws.run("silos", "add", "merged=hr", "--from-plan", "plan.json")
        #expect(taken.status == 64)
        #expect(taken.stderr.contains("a silo named 'merged' is already catalogued"), "\(taken.stderr)")
        let wrong = try ws.run("silos", "add", "other=hr", "--from-plan", "plan.json")
        #expect(wrong.status == 64)
        #expect(wrong.stderr.contains("is not the target of the plan"), "\(wrong.stderr)")
    }

    @Test("Adopting a target with a tampered file: that file alone is read, and flagged; undo afterwards is merged, not missing")
    func adoptTampered() throws {
        let ws = try planned("quarantine")
        #expect(try ws.run("apply", "plan.json", "-q").status == 0)
        let ops = try plan(ws)["operations"] as! [[String: Any]]
        let hero = try #require(ops.first { ($0["kind"] as? String) == "move" && ($0["destination"] as? String)?.hasSuffix("hero.jpg") == true })
        let heroPath = hero["destination"] as! String
        let handle = try FileHandle(forWritingTo: ws.url.appendingPathComponent("dam/\(heroPath)"))
        handle.seekToEndOfFile(); handle.write(Data("tampered".utf8)); try handle.close()

        let added = try ws.run("silos", "add", "merged=dam", "--from-plan", "plan.json")
        #expect(added.status == 1, "\(added.out)\(added.stderr)")
        #expect(added.stderr.contains("merged:\(heroPath): not the content the plan's apply placed and verified"), "\(added.stderr)")
        #expect(added.out.contains("NOT THE CONTENT THE APPLY VERIFIED"), "\(added.out)")
        let run = try lastRun(ws)
        #expect(run["hashed"] as? Int == 1, "only the tampered file is read")
        #expect((run["warnings"] as? Int ?? 0) >= 1)
        let stored = try catalogue(ws).read { db in
            try String.fetchOne(db, sql: "SELECT sha256 FROM file WHERE path = ?", arguments: [heroPath])
        }
        #expect(stored != (hero["source"] as! [String: Any])["sha256"] as? String, "catalogued as it is now")

        // The plan is undone: what it takes out of the adopted silo is merged, not missing.
        let undo = try ws.run("undo", "plan.json", "-q")
        #expect(undo.status == 1, "the tampered file is left in place")
        let check = try checkJSON(ws)
        #expect(check.status == 0, "\(check.stderr)")
        #expect(count(check.object, "missing") == 0)
        #expect((check.object["open_findings"] as! [Any]).isEmpty)
        let merged = findings(check.object, "merged").filter { ($0["silo"] as? String) == "merged" }
        // Every content the undo took back out of the target (the tampered one stays, changed
        // since apply; the carried sidecar was catalogued as a sidecar, not a file).
        #expect(merged.count == ops.filter { ($0["kind"] as? String) == "move" }.count - 1)
        #expect(merged.allSatisfy { ($0["detail"] as! String).contains("taken back by the undo of plan") })
    }
}
