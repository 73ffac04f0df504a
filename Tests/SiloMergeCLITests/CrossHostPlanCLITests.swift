import Foundation
import Testing

/// Plans across hosts: two "hosts" simulated on one machine with `--host a` / `--host b`, each
/// scanning its own silo into one catalogue.
@Suite("Plans across hosts: each host applies, verifies and undoes the operations whose sources it holds")
struct CrossHostPlanCLITests {
    /// a1 (host a) and b1 (host b): a content only in each, a content in both, a duplicate
    /// inside a1.
    func twoHosts() throws -> Workspace {
        let ws = try Workspace()
        try ws.write("a1/photos/x.jpg", "only in a1")
        try ws.write("a1/copies/x-again.jpg", "only in a1")
        try ws.write("a1/shared.txt", "in both silos")
        try ws.write("b1/docs/y.txt", "only in b1")
        try ws.write("b1/shared.txt", "in both silos")
        #expect(try ws.run("scan", "a1", "--host", "a").status == 0)
        #expect(try ws.run("scan", "b1", "--host", "b").status == 0)
        return ws
    }

    func readJSON(_ ws: Workspace, _ name: String) throws -> [String: Any] {
        try json([UInt8](Data(contentsOf: ws.url.appendingPathComponent(name)))) as! [String: Any]
    }

    func writeJSON(_ ws: Workspace, _ name: String, _ object: [String: Any]) throws {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: ws.url.appendingPathComponent(name))
    }

    func text(_ ws: Workspace, _ path: String) -> String? {
        (try? String(contentsOf: ws.url.appendingPathComponent(path), encoding: .utf8))
    }

    @Test("apply, verify and undo with --host a / --host b: each does its own operations, lists the other's, keeps its own journal")
    func applyPerHost() throws {
        let ws = try twoHosts()
        let made = try ws.run("plan", "--target", "dam", "--layout", "{silo}/{path}", "--duplicates", "remove", "-o", "plan.json", "--host", "a")
        #expect(made.status == 0, "\(made.stderr)")
        let plan = try readJSON(ws, "plan.json")
        #expect(plan["schema"] as? String == "silomerge-plan/3")
        let silos = plan["silos"] as! [[String: Any]]
        let hostOf = Dictionary(uniqueKeysWithValues: silos.map { ($0["name"] as! String, ($0["host"] as? [String: Any])?["id"] as? String) })
        #expect(hostOf == ["a1": "a", "b1": "b"])
        #expect((plan["planned_on"] as? [String: Any])?["id"] as? String == "a")
        // The copy of the shared content on the other host than its canonical copy is kept, and
        // says why; the duplicate inside a1 is removed (by host a, after its canonical copy).
        let ops = plan["operations"] as! [[String: Any]]
        let removed = ops.filter { $0["kind"] as? String == "remove-duplicate" }.map { ($0["source"] as! [String: Any])["silo"] as! String }
        #expect(removed == ["a1"], "\(removed)")
        let kept = (plan["left_behind"] as! [[String: Any]]).filter { ($0["path"] as? String) == "shared.txt" && $0["reason"] as? String == "duplicate-kept" }
        #expect(kept.count == 1 && (kept.first?["detail"] as? String ?? "").contains("a host acts only on duplicates of copies it carries itself"), "\(kept)")

        // Host a: only its operations; b's are listed, not errors.
        let dry = try ws.run("apply", "plan.json", "--dry-run", "--host", "a")
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.out.contains("on host b: 1 operation, not applied here"), "\(dry.out)")
        #expect(!ws.exists("dam") && !ws.exists("plan.json.journal.a"))
        let a = try ws.run("apply", "plan.json", "--host", "a")
        #expect(a.status == 0, "\(a.stderr)")
        #expect(a.out.contains("Applied plan.json on host a: 3 done, 0 already done, 0 refused, 0 failed, of 3 (this host's)."), "\(a.out)")
        #expect(a.out.contains("on host b: 1 operation, not applied here"), "\(a.out)")
        #expect(text(ws, "dam/a1/photos/x.jpg") == "only in a1" && text(ws, "dam/a1/shared.txt") == "in both silos")
        #expect(!ws.exists("a1/copies/x-again.jpg"))                  // removed: its content is verified in the target
        #expect(!ws.exists("dam/b1") && text(ws, "b1/docs/y.txt") == "only in b1")
        #expect(ws.exists("plan.json.journal.a") && !ws.exists("plan.json.journal.b") && !ws.exists("plan.json.journal"))

        // Host b has not applied yet: its file is missing, host a's tree is complete.
        #expect(try ws.run("verify", "plan.json", "--host", "a").status == 0)
        let early = try ws.run("verify", "plan.json", "--host", "b")
        #expect(early.status == 3 && early.out.contains("missing") && early.out.contains("b1/docs/y.txt"), "\(early.out)")

        let b = try ws.run("apply", "plan.json", "--host", "b")
        #expect(b.status == 0, "\(b.stderr)")
        #expect(b.out.contains("on host a: 3 operations, not applied here"), "\(b.out)")
        #expect(text(ws, "dam/b1/docs/y.txt") == "only in b1" && ws.exists("plan.json.journal.b"))
        for host in ["a", "b"] {
            let v = try ws.run("verify", "plan.json", "--host", host)
            #expect(v.status == 0 && v.out.contains("complete and valid"), "\(host): \(v.out)")
        }
        // Applying again is a resume with nothing left: every operation of the host already done.
        let again = try ws.run("apply", "plan.json", "--host", "a")
        #expect(again.status == 0 && again.out.contains("0 done, 3 already done"), "\(again.out)")

        // A host with nothing in the plan says so, exits 0, and writes nothing.
        let c = try ws.run("apply", "plan.json", "--host", "c")
        #expect(c.status == 0, "\(c.stderr)")
        #expect(c.out.contains("Nothing to do on host c: the plan's 4 operations are on host a (3), host b (1). Nothing was written."), "\(c.out)")
        #expect(try ws.run("undo", "plan.json", "--host", "c").status == 0)
        #expect(try ws.run("verify", "plan.json", "--host", "c").status == 0)
        let written = try FileManager.default.contentsOfDirectory(atPath: ws.url.path).filter { $0.hasPrefix("plan.json.journal") }
        #expect(Set(written) == ["plan.json.journal.a", "plan.json.journal.a-lock", "plan.json.journal.b", "plan.json.journal.b-lock"], "\(written)")

        // Undo on host a reverses a's operations only, from a's journal; b's file stays, verified.
        let undo = try ws.run("undo", "plan.json", "--host", "a")
        #expect(undo.status == 0, "\(undo.stderr)")
        #expect(undo.out.contains("on host b: 1 operation, not undone here"), "\(undo.out)")
        #expect(text(ws, "a1/copies/x-again.jpg") == "only in a1")     // restored from the canonical copy
        #expect(!ws.exists("dam/a1") && text(ws, "dam/b1/docs/y.txt") == "only in b1")
        #expect(try ws.run("verify", "plan.json", "--host", "b").status == 0)
        #expect(text(ws, "b1/docs/y.txt") == "only in b1" && text(ws, "a1/photos/x.jpg") == "only in a1")
    }

    @Test("a plan edited to put a silo's operations on another host is refused; a /2 plan applies as the applying host's")
    func editedAndOlderPlans() throws {
        let ws = try twoHosts()
        #expect(try ws.run("plan", "--target", "dam", "--layout", "{silo}/{path}", "-o", "plan.json", "--host", "a").status == 0)
        var plan = try readJSON(ws, "plan.json")
        // b1's operations moved to host a by editing its silo's host.
        var silos = plan["silos"] as! [[String: Any]]
        for i in silos.indices where silos[i]["name"] as? String == "b1" { silos[i]["host"] = ["id": "a", "name": "a"] }
        plan["silos"] = silos
        try writeJSON(ws, "edited.json", plan)
        let r = try ws.run("apply", "edited.json", "--host", "a")
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("silo 'b1': the plan puts it on host a, the catalogue"), "\(r.stderr)")
        #expect(r.stderr.contains("on host b"), "\(r.stderr)")
        #expect(!ws.exists("dam") && !ws.exists("edited.json.journal") && !ws.exists("edited.json.journal.a"))
        // A host id that is no host id (a control character) is refused by the plan's own checks.
        silos = (try readJSON(ws, "plan.json"))["silos"] as! [[String: Any]]
        for i in silos.indices where silos[i]["name"] as? String == "b1" { silos[i]["host"] = ["id": "b\u{1}", "name": "b"] }
        plan["silos"] = silos
        try writeJSON(ws, "bad.json", plan)
        let bad = try ws.run("apply", "bad.json", "--host", "a")
        #expect(bad.status == 2 && !ws.exists("dam"), "\(bad.stderr)")

        // The same catalogue's plan as an older SiloMerge wrote it (/2: no hosts): one host's,
        // the one applying it, with the one journal PLAN.journal.
        var old = try readJSON(ws, "plan.json")
        old["schema"] = "silomerge-plan/2"
        old.removeValue(forKey: "planned_on")
        old["silos"] = (old["silos"] as! [[String: Any]]).map { var s = $0; s.removeValue(forKey: "host"); return s }
        try writeJSON(ws, "old.json", old)
        let applied = try ws.run("apply", "old.json")
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(text(ws, "dam/a1/photos/x.jpg") == "only in a1" && text(ws, "dam/b1/docs/y.txt") == "only in b1")
        #expect(ws.exists("old.json.journal") && !applied.out.contains("on host"))
        #expect(try ws.run("verify", "old.json").status == 0)
        #expect(try ws.run("undo", "old.json").status == 0)
        #expect(!ws.exists("dam/a1/photos/x.jpg"))
    }

    @Test("--target: a host writes its own target; its journal pins it, so verify and undo there need the same --target")
    func targetPerHost() throws {
        let ws = try twoHosts()
        #expect(try ws.run("plan", "--target", "dam", "--layout", "{silo}/{path}", "-o", "plan.json", "--host", "a").status == 0)
        // A --target inside a silo is refused as a plan's target would be; nothing is written.
        let inside = try ws.run("apply", "plan.json", "--host", "b", "--target", ws.url.appendingPathComponent("b1/merged").path)
        #expect(inside.status == 2 && inside.stderr.contains("the target overlaps silo 'b1'"), "\(inside.stderr)")
        #expect(!ws.exists("b1/merged") && !ws.exists("plan.json.journal.b"))
        let b = try ws.run("apply", "plan.json", "--host", "b", "--target", ws.url.appendingPathComponent("dam-b").path)
        #expect(b.status == 0, "\(b.stderr)")
        #expect(b.out.contains("--host b --target "), "\(b.out)")
        #expect(text(ws, "dam-b/b1/docs/y.txt") == "only in b1" && !ws.exists("dam") && !ws.exists("dam-b/a1"))
        let v = try ws.run("verify", "plan.json", "--host", "b", "--target", ws.url.appendingPathComponent("dam-b").path)
        #expect(v.status == 0 && v.out.contains("complete and valid") && v.out.contains("on host a: 2 operations, not verified here"), "\(v.out)")
        // Without --target, host b's journal names another folder than the plan's target: refused.
        try FileManager.default.createDirectory(at: ws.url.appendingPathComponent("dam"), withIntermediateDirectories: true)
        let wrong = try ws.run("verify", "plan.json", "--host", "b")
        #expect(wrong.status == 2 && wrong.stderr.contains("is not the folder apply built"), "\(wrong.stderr)")
        // A --target that is a symbolic link is refused: links are never followed to a root.
        try FileManager.default.createSymbolicLink(atPath: ws.url.appendingPathComponent("via").path, withDestinationPath: "dam-b")
        let link = try ws.run("verify", "plan.json", "--host", "b", "--target", ws.url.appendingPathComponent("via").path)
        #expect(link.status == 2 && link.stderr.contains("via: is a symbolic link"), "\(link.stderr)")
        let undo = try ws.run("undo", "plan.json", "--host", "b", "--target", ws.url.appendingPathComponent("dam-b").path)
        #expect(undo.status == 0, "\(undo.stderr)")
        #expect(!ws.exists("dam-b") && text(ws, "b1/docs/y.txt") == "only in b1")
    }

    @Test("two files with equal device and inode on two hosts are two files, not hard links of one")
    func equalInodesOnTwoHosts() throws {
        let ws = try Workspace()
        try ws.write("a1/one.txt", "the same bytes")
        try FileManager.default.createDirectory(at: ws.url.appendingPathComponent("b1"), withIntermediateDirectories: true)
        // One machine simulates two: a hard link makes b1's file carry a1's device and inode,
        // as two different files on two hosts can.
        #expect(link(ws.url.appendingPathComponent("a1/one.txt").path, ws.url.appendingPathComponent("b1/one.txt").path) == 0)
        #expect(try ws.run("scan", "a1", "--host", "a").status == 0)
        #expect(try ws.run("scan", "b1", "--host", "b").status == 0)
        let made = try ws.run("plan", "--target", "dam", "--method", "move", "-o", "plan.json", "--host", "a")
        #expect(made.status == 0, "\(made.stderr)")
        let plan = try readJSON(ws, "plan.json")
        let ops = plan["operations"] as! [[String: Any]]
        // Not "another name of the moved file": the move names no hard links on the other host,
        // and the other host's copy is a duplicate (kept), not a hard link.
        #expect(ops.count == 1 && ops[0]["hard_links"] == nil, "\(ops)")
        let left = (plan["left_behind"] as! [[String: Any]]).filter { ($0["path"] as? String) == "one.txt" }
        #expect(left.map { $0["reason"] as? String } == ["duplicate-kept"], "\(left)")
        let reason = ops[0]["reason"] as? String ?? ""
        #expect(!reason.contains("hard links"), "\(reason)")
    }
}
