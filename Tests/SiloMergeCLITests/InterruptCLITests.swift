import Foundation
import GRDB
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Starts `silomerge` in the background, with stderr in a file, for tests that signal it.
private final class Background {
    let process = Process()
    let errURL: URL

    init(_ arguments: [String], in directory: URL) throws {
        process.executableURL = productsDirectory.appendingPathComponent("silomerge")
        process.arguments = arguments
        process.currentDirectoryURL = directory
        errURL = directory.appendingPathComponent(".stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: errURL)
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var stderr: String { (try? String(contentsOf: errURL, encoding: .utf8)) ?? "" }

    /// Waits until stderr holds `text` (true) or the process ends or time runs out (false).
    func wait(for text: String, timeout: TimeInterval = 60) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if stderr.contains(text) { return true }
            if !process.isRunning { return stderr.contains(text) }
            usleep(2_000)
        }
        return false
    }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for the exit; returns its status (or records a hang and kills it).
    func finish(timeout: TimeInterval = 60) -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            Issue.record("silomerge did not stop within \(timeout) s of the signal")
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

@Suite("SIGINT and SIGTERM during long runs, end to end")
struct InterruptCLITests {
    /// A tree large enough that a scan is still walking when it is stopped: 60 folders of 80
    /// files of 16 KiB (75 MiB).
    func bigTree(_ ws: Workspace) throws {
        for d in 0..<60 {
            let folder = ws.url.appendingPathComponent("big/dept-\(d)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for f in 0..<80 {
                var bytes = [UInt8](repeating: UInt8(truncatingIfNeeded: d), count: 16 * 1024)
                withUnsafeBytes(of: (d * 1000 + f)) { bytes.replaceSubrange(0..<$0.count, with: $0) }
                try Data(bytes).write(to: folder.appendingPathComponent("file-\(f).bin"))
            }
        }
    }

    func history(_ ws: Workspace) throws -> [[String: Any]] {
        (try json(try ws.run("history", "--format", "json").stdout) as! [String: Any])["runs"] as! [[String: Any]]
    }

    @Test("Ctrl-C during a scan: exit 130, the run is interrupted in history, nothing is marked missing, the next scan finishes")
    func sigintDuringScan() throws {
        let ws = try Workspace()
        try bigTree(ws)
        let scan = try Background(["scan", "--verbose", "--jobs", "1", "big"], in: ws.url)
        // Stopped as soon as it starts walking, so the signal lands mid-way, however fast the machine.
        #expect(scan.wait(for: "walking"), "\(scan.stderr)")
        scan.signal(SIGSTOP)
        scan.signal(SIGINT)
        scan.signal(SIGCONT)
        let status = scan.finish()
        #expect(status == 130, "\(scan.stderr)")
        #expect(scan.stderr.contains("interrupted by SIGINT"), "\(scan.stderr)")
        let runs = try history(ws)
        #expect(runs.first?["status"] as? String == "interrupted")
        #expect(runs.first?["finished_at"] is String)
        #expect((runs.first?["files"] as? Int ?? 0) < 4800, "the scan was stopped mid-way: \(runs.first ?? [:])")
        #expect(try ws.run("history").out.contains("interrupted"))

        // The catalogue is consistent: the next scan catalogues everything, finds nothing gone.
        let again = try ws.run("scan", "big")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.out.contains("gone 0"), "\(again.out)")
        let check = try ws.run("check", "--format", "json")
        #expect(check.status == 0, "\(check.stderr)")
        #expect((((try json(check.stdout) as! [String: Any])["scan"] as? [String: Any])?["files"] as? Int) == 4800)
    }

    @Test("SIGTERM during a check: exit 143, recorded as interrupted; a process killed outright shows as interrupted too")
    func sigtermDuringCheck() throws {
        let ws = try Workspace()
        try bigTree(ws)
        #expect(try ws.run("scan", "-q", "big").status == 0)
        let lockFile = ws.url.appendingPathComponent("silomerge.sqlite-lock")
        /// Stops `p` once it holds the catalogue's scan lock (its signal handlers are in place by then).
        func stopWhenScanning(_ p: Background) -> Bool {
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline && p.process.isRunning {
                if ((try? String(contentsOf: lockFile, encoding: .utf8)) ?? "").contains("pid \(p.process.processIdentifier) ") {
                    p.signal(SIGSTOP)
                    return true
                }
                usleep(1_000)
            }
            return false
        }
        let check = try Background(["check", "--rehash", "--jobs", "1"], in: ws.url)
        #expect(stopWhenScanning(check))
        check.signal(SIGTERM)
        check.signal(SIGCONT)
        #expect(check.finish() == 143, "\(check.stderr)")
        #expect(check.stderr.contains("interrupted by SIGTERM"), "\(check.stderr)")
        let afterTerm = try history(ws)
        #expect(afterTerm.first?["kind"] as? String == "check")
        #expect(afterTerm.first?["status"] as? String == "interrupted")

        // SIGKILL cannot be caught: history still tells the dead run apart from one in progress.
        let killed = try Background(["check", "--rehash", "--jobs", "1"], in: ws.url)
        #expect(stopWhenScanning(killed))
        // Let it run in short steps until its run is recorded, then kill it.
        // (Read without a lock or a write: the stopped process may be inside a transaction.)
        var config = Configuration()
        config.readonly = true
        let reader = try DatabaseQueue(path: ws.url.appendingPathComponent("silomerge.sqlite").path, configuration: config)
        var recorded = false
        for _ in 0..<2000 where !recorded {
            recorded = try reader.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM run") } == afterTerm.count + 1
            if !recorded { killed.signal(SIGCONT); usleep(2_000); killed.signal(SIGSTOP) }
        }
        #expect(recorded)
        #expect(try reader.read { db in try String.fetchOne(db, sql: "SELECT status FROM run ORDER BY id DESC LIMIT 1") } == "running")
        killed.signal(SIGKILL)
        _ = killed.finish()
        let afterKill = try history(ws)
        #expect(afterKill.count == afterTerm.count + 1)
        #expect(afterKill.first?["status"] as? String == "interrupted")
        #expect(try ws.run("check").status == 0, "nothing was lost or marked missing")
    }

    /// Stops `p` (SIGSTOP) once its journal records `count` finished operations of `event`.
    fileprivate func stopAfter(_ p: Background, journal: URL, event: String, count: Int) -> Bool {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && p.process.isRunning {
            let text = (try? String(contentsOf: journal, encoding: .utf8)) ?? ""
            if text.components(separatedBy: "\"event\":\"\(event)\"").count - 1 >= count {
                p.signal(SIGSTOP)
                return true
            }
            usleep(500)
        }
        return false
    }

    func temporaryNames(under url: URL) -> [String] {
        let walker = FileManager.default.enumerator(atPath: url.path)
        var found: [String] = []
        while let name = walker?.nextObject() as? String {
            if (name as NSString).lastPathComponent.hasPrefix(".silomerge-tmp-") { found.append(name) }
        }
        return found
    }

    @Test("Ctrl-C during apply and SIGTERM during undo: each stops after the operation under way, exits 130/143, is interrupted in history, and running it again finishes")
    func interruptedApplyAndUndo() throws {
        let ws = try Workspace()
        for d in 0..<20 {
            let folder = ws.url.appendingPathComponent("big/dept-\(d)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for f in 0..<30 {
                try Data("file \(f) of folder \(d)\n".utf8 + [UInt8](repeating: UInt8(f), count: 4096)).write(to: folder.appendingPathComponent("f\(f).bin"))
            }
        }
        #expect(try ws.run("scan", "-q", "big").status == 0)
        let made = try ws.run("plan", "--target", "dam", "-o", "plan.json", "--method", "move")
        #expect(made.status == 0, "\(made.stderr)")
        let journal = ws.url.appendingPathComponent("plan.json.journal")

        let apply = try Background(["apply", "plan.json"], in: ws.url)
        #expect(stopAfter(apply, journal: journal, event: "done", count: 5))
        apply.signal(SIGINT)
        apply.signal(SIGCONT)
        #expect(apply.finish() == 130, "\(apply.stderr)")
        #expect(apply.stderr.contains("interrupted by SIGINT"), "\(apply.stderr)")
        #expect(apply.stderr.contains("again to resume"), "\(apply.stderr)")
        let doneAfterStop = ((try? String(contentsOf: journal, encoding: .utf8)) ?? "").components(separatedBy: "\"event\":\"done\"").count - 1
        #expect(doneAfterStop < 600, "stopped mid-way")
        // Every operation begun was finished: a begin without its done would be a partial one.
        let begun = ((try? String(contentsOf: journal, encoding: .utf8)) ?? "").components(separatedBy: "\"event\":\"begin\"").count - 1
        #expect(begun == doneAfterStop)
        #expect(temporaryNames(under: ws.url.appendingPathComponent("dam")).isEmpty)
        var runs = try history(ws)
        #expect(runs.first?["kind"] as? String == "apply")
        #expect(runs.first?["status"] as? String == "interrupted", "\(runs.first ?? [:])")

        let resumed = try ws.run("apply", "-q", "plan.json")
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try ws.run("verify", "plan.json").status == 0)

        let undo = try Background(["undo", "plan.json"], in: ws.url)
        #expect(stopAfter(undo, journal: journal, event: "undone", count: 5))
        undo.signal(SIGTERM)
        undo.signal(SIGCONT)
        #expect(undo.finish() == 143, "\(undo.stderr)")
        #expect(undo.stderr.contains("interrupted by SIGTERM"), "\(undo.stderr)")
        runs = try history(ws)
        #expect(runs.first?["kind"] as? String == "undo")
        #expect(runs.first?["status"] as? String == "interrupted", "\(runs.first ?? [:])")
        let finished = try ws.run("undo", "-q", "plan.json")
        #expect(finished.status == 0, "\(finished.stderr)")
        // Every file is back, byte for byte.
        for d in 0..<20 {
            for f in 0..<30 {
                let url = ws.url.appendingPathComponent("big/dept-\(d)/f\(f).bin")
                #expect((try? Data(contentsOf: url)) == Data("file \(f) of folder \(d)\n".utf8 + [UInt8](repeating: UInt8(f), count: 4096)), "\(url.path)")
            }
        }
        #expect(try ws.run("check").status == 0)
    }
}
