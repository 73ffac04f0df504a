import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("silomerge plan, apply, undo, verify, end to end")
struct PlanApplyCLITests {
    @Test("plan refuses conflicts; plan, show, dry run, apply, verify, undo on Fixtures; plans are byte-identical")
    func fullCycle() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        let silos = regularFiles(ws.url, skipping: ["silomerge.sqlite", "silomerge.sqlite-wal", "silomerge.sqlite-shm", "silomerge.sqlite-lock"])

        let refused = try ws.run("plan", "--target", "dam", "-o", "plan.json")
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("conflict"), "\(refused.stderr)")
        #expect(!ws.exists("plan.json"))

        let made = try ws.run("plan", "--target", "dam", "-o", "plan.json", "--allow-conflicts", "--duplicates", "quarantine")
        #expect(made.status == 0, "\(made.stderr)")
        let first = try Data(contentsOf: ws.url.appendingPathComponent("plan.json"))
        #expect(try ws.run("plan", "--target", "dam", "-o", "plan2.json", "--allow-conflicts", "--duplicates", "quarantine").status == 0)
        #expect(try Data(contentsOf: ws.url.appendingPathComponent("plan2.json")) == first, "the same catalogue and settings give the same bytes")

        let plan = try json([UInt8](first)) as! [String: Any]
        #expect(plan["schema"] as? String == "silomerge-plan/3")
        let ops = plan["operations"] as! [[String: Any]]
        // 21 contents (the empty one included), 7 duplicates, and the one original sidecar of a canonical copy.
        #expect(ops.filter { ($0["kind"] as? String) == "copy" }.count == 21)
        #expect(ops.filter { ($0["kind"] as? String) == "quarantine-duplicate" }.count == 7)
        #expect(ops.filter { ($0["kind"] as? String) == "sidecar-copy" }.count == 1)

        let show = try ws.run("plan", "show", "plan.json")
        #expect(show.status == 0)
        #expect(show.out.contains("quarantine-duplicate"))
        #expect(show.out.contains("3 unresolved metadata conflicts"))

        let dry = try ws.run("apply", "plan.json", "--dry-run")
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(!ws.exists("dam"))
        #expect(regularFiles(ws.url, skipping: ["silomerge.sqlite", "silomerge.sqlite-wal", "silomerge.sqlite-shm", "silomerge.sqlite-lock", "plan.json.journal-lock", "plan.json", "plan2.json"]).count == silos.count)

        let applied = try ws.run("apply", "plan.json")
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(applied.out.contains("29 done"), "\(applied.out)")
        #expect(applied.out.contains("Copied 181 KiB (21 files and 1 sidecar); 7 duplicates quarantined"), "\(applied.out)")
        let verify = try ws.run("verify", "plan.json")
        #expect(verify.status == 0, "\(verify.out)")
        #expect(verify.out.contains("complete and valid"))
        // Every content is in the target exactly once; quarantined duplicates keep silo/path.
        let target = regularFiles(ws.url.appendingPathComponent("dam"), skipping: [".silomerge-quarantine"])
        #expect(target.count == 22)
        #expect(ws.exists("dam/.silomerge-quarantine/hr/staff-photos/offsite-2023/team_offsite.jpg"))
        #expect(!ws.exists("hr/staff-photos/offsite-2023/team_offsite.jpg"))

        let undo = try ws.run("undo", "plan.json")
        #expect(undo.status == 0, "\(undo.stderr)")
        let after = regularFiles(ws.url, skipping: ["silomerge.sqlite", "silomerge.sqlite-wal", "silomerge.sqlite-shm", "silomerge.sqlite-lock", "plan.json.journal-lock", "plan.json", "plan2.json", "plan.json.journal", "dam"])
        #expect(after == silos, "undo restores every source byte for byte")
        #expect(regularFiles(ws.url.appendingPathComponent("dam")).isEmpty)
    }

    @Test("Hostile plans are refused before anything is written")
    func hostilePlans() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        #expect(try ws.run("plan", "--target", "dam", "-o", "plan.json", "--allow-conflicts").status == 0)
        let original = try String(contentsOf: ws.url.appendingPathComponent("plan.json"), encoding: .utf8)
        var object = try JSONSerialization.jsonObject(with: Data(original.utf8)) as! [String: Any]
        var ops = object["operations"] as! [[String: Any]]
        let cases: [(String, ([[String: Any]]) -> [[String: Any]])] = [
            ("traversal", { ops in var o = ops; o[0]["destination"] = "../escaped.jpg"; return o }),
            ("absolute", { ops in var o = ops; o[0]["destination"] = "/tmp/escaped.jpg"; return o }),
            ("two on one", { ops in var o = ops; o[1]["destination"] = o[0]["destination"]; return o }),
            ("tampered hash", { ops in
                var o = ops; var s = o[0]["source"] as! [String: Any]; s["sha256"] = "not-a-hash"; o[0]["source"] = s; return o }),
        ]
        for (label, edit) in cases {
            object["operations"] = edit(ops)
            try JSONSerialization.data(withJSONObject: object).write(to: ws.url.appendingPathComponent("bad.json"))
            let r = try ws.run("apply", "bad.json")
            #expect(r.status != 0, "\(label)")
            #expect(r.stderr.contains("silomerge: error"), "\(label): \(r.stderr)")
            #expect(!ws.exists("dam"), "\(label): something was written")
            #expect(!ws.exists("../escaped.jpg") && !FileManager.default.fileExists(atPath: "/tmp/escaped.jpg"), "\(label)")
        }
        ops = object["operations"] as! [[String: Any]]
        // A symlinked folder swapped into the target: refused, nothing written through it.
        try FileManager.default.createDirectory(at: ws.url.appendingPathComponent("elsewhere"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: ws.url.appendingPathComponent("dam"), withIntermediateDirectories: true)
        let firstDir = (original.range(of: #""destination":"(\d{4})/"#, options: .regularExpression)).map { String(original[$0].dropFirst(15).prefix(4)) } ?? "2023"
        try FileManager.default.createSymbolicLink(atPath: ws.url.appendingPathComponent("dam/\(firstDir)").path,
                                                   withDestinationPath: ws.url.appendingPathComponent("elsewhere").path)
        let sym = try ws.run("apply", "plan.json")
        #expect(sym.status != 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: ws.url.appendingPathComponent("elsewhere").path).isEmpty)
        // A changed source: the whole plan is refused, nothing written.
        try FileManager.default.removeItem(at: ws.url.appendingPathComponent("dam"))
        let src = ws.url.appendingPathComponent("hr/logo.png")
        var bytes = [UInt8](try Data(contentsOf: src)); bytes[10] ^= 1
        try Data(bytes).write(to: src)
        let changed = try ws.run("apply", "plan.json")
        #expect(changed.status == 2, "\(changed.stderr)")
        #expect(changed.stderr.contains("the source changed since the plan was made"), "\(changed.stderr)")
        #expect(changed.stderr.contains("hr:logo.png"))
        #expect(!ws.exists("dam"))
    }

    @Test("SIGKILL at 24 random points: resuming reaches the intended tree; undo after a partial apply restores the silos")
    func crashLoop() throws {
        let ws = try Workspace()
        // Sixty files of 256 KiB in two silos, a third duplicated: apply takes long enough to be killed midway.
        var state: UInt64 = 42
        for i in 0..<60 {
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
            // Some files have an XMP sidecar: it moves with them (sidecar-move), resumed and undone alike.
            if i % 6 == 0 {
                try ws.write("a/d\(i % 5)/f\(i).bin.xmp", """
                    <x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
                    <rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title><rdf:Alt><rdf:li xml:lang="x-default">File \(i)</rdf:li></rdf:Alt></dc:title></rdf:Description>
                    </rdf:RDF></x:xmpmeta>
                    """)
            }
        }
        #expect(try ws.run("scan", "a", "b").status == 0)
        #expect(try ws.run("plan", "--target", "dam", "-o", "plan.json", "--method", "move", "--duplicates", "quarantine",
                           "--layout", "{silo}/{path}").status == 0)
        let sources = regularFiles(ws.url, skipping: ["silomerge.sqlite", "silomerge.sqlite-wal", "silomerge.sqlite-shm", "silomerge.sqlite-lock", "plan.json.journal-lock", "plan.json", "dam"])
        #expect(sources.count == 90)
        let plan = try json([UInt8](Data(contentsOf: ws.url.appendingPathComponent("plan.json")))) as! [String: Any]
        #expect((plan["operations"] as! [[String: Any]]).filter { ($0["kind"] as? String) == "sidecar-move" }.count == 10)

        // How long a whole apply takes, to spread the kills over it.
        let t0 = Date()
        #expect(try ws.run("apply", "plan.json", "-q").status == 0)
        let full = max(0.05, Date().timeIntervalSince(t0))
        #expect(try ws.run("undo", "plan.json").status == 0)
        var rng = SystemRandomNumberGenerator()
        var killedMidway = 0
        for round in 0..<24 {
            let p = Process()
            p.executableURL = productsDirectory.appendingPathComponent("silomerge")
            p.arguments = ["apply", "plan.json", "-q"]
            p.currentDirectoryURL = ws.url
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(UInt32(Double.random(in: 0.02...1.0, using: &rng) * full * 1_000_000))
            if p.isRunning { kill(p.processIdentifier, SIGKILL); killedMidway += 1 }
            p.waitUntilExit()
            if round % 2 == 0 {
                // Resume to the end: the intended tree, nothing temporary visible.
                let resumed = try ws.run("apply", "plan.json", "-q")
                #expect(resumed.status == 0, "round \(round): \(resumed.stderr)")
                let verify = try ws.run("verify", "plan.json")
                #expect(verify.status == 0, "round \(round): \(verify.out)")
                let names = regularFiles(ws.url.appendingPathComponent("dam")).keys
                #expect(!names.contains { $0.split(separator: "/").last!.hasPrefix(".silomerge-tmp") }, "round \(round): a temporary file is visible")
            }
            // Undo (after a full or a partial apply) restores every source byte for byte.
            let undo = try ws.run("undo", "plan.json")
            #expect(undo.status == 0, "round \(round): \(undo.stderr)")
            let now = regularFiles(ws.url, skipping: ["silomerge.sqlite", "silomerge.sqlite-wal", "silomerge.sqlite-shm", "silomerge.sqlite-lock", "plan.json.journal-lock", "plan.json", "plan.json.journal", "dam"])
            #expect(now == sources, "round \(round): the silos differ after undo")
            #expect(regularFiles(ws.url.appendingPathComponent("dam")).isEmpty, "round \(round): files left in the target")
        }
        #expect(killedMidway >= 12, "only \(killedMidway) of 24 runs were killed before they finished")
    }
}
