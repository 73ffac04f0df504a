import Foundation
import Testing

/// Edits a CSV as a spreadsheet user would, with Python's csv module: `script` gets `rows`
/// (a list of dicts) and the header, and the result is saved with `delimiter`.
private func editSheet(_ path: URL, delimiter: String = ",", _ script: String) throws {
    let program = """
        import csv, sys
        path = sys.argv[1]
        with open(path, newline='', encoding='utf-8-sig') as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames
            rows = list(reader)
        \(script.split(separator: "\n").joined(separator: "\n"))
        with open(path, 'w', newline='', encoding='utf-8') as f:
            w = csv.DictWriter(f, fieldnames=header, delimiter='\(delimiter)')
            w.writeheader()
            w.writerows(rows)
        """
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", program, path.path]
    try p.run()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0)
}

@Suite("conflicts --format csv and --resolutions FILE.csv: deciding in a spreadsheet")
struct ConflictSheetCLITests {
    @Test("a CSV round trip of decisions on the Fixtures settles every conflict, and every export carries the values chosen")
    func roundTrip() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "-q", "--config", "silomerge.yml").status == 0)
        let listed = try ws.run("conflicts", "--config", "silomerge.yml", "--format", "json")
        #expect(listed.status == 3)
        let conflicts = (try json(listed.stdout) as! [String: Any])["conflicts"] as! [[String: Any]]
        #expect(conflicts.count >= 3, "Fixtures hold at least truth.json's 3 conflicts")

        let sheet = try ws.run("conflicts", "--config", "silomerge.yml", "--format", "csv")
        #expect(sheet.status == 3)
        let csv = ws.url.appendingPathComponent("decisions.csv")
        try Data(sheet.stdout).write(to: csv)
        #expect(sheet.stdout.starts(with: [0xEF, 0xBB, 0xBF]), "a BOM, for spreadsheets")
        // Every row: the first value, except gps, which gets a value of our own.
        try editSheet(csv, """
            for r in rows:
                if r['field'] == 'gps':
                    r['custom_value'] = '48.8584, 2.2945'
                else:
                    r['decision'] = '1'
            """)
        let settled = try ws.run("conflicts", "--config", "silomerge.yml", "--resolutions", "decisions.csv")
        #expect(settled.status == 0, "\(settled.out)\(settled.stderr)")
        #expect(settled.out.contains("No conflicts"), "\(settled.out)")

        // What was chosen is what the export carries.
        let export = try ws.run("export", "--config", "silomerge.yml", "--format", "jsonl")
        #expect(export.status == 0, "\(export.stderr)")
        let lines = String(decoding: export.stdout, as: UTF8.self).split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        for c in conflicts {
            let sha = c["sha256"] as! String, field = c["field"] as! String
            let asset = lines.first { $0["sha256"] as? String == sha }!
            let entry = (asset["fields"] as! [String: Any])[field] as! [String: Any]
            #expect(entry["status"] as? String == "resolved", "\(sha) \(field): \(entry)")
            if field == "gps" {
                let v = entry["value"] as? [String: Any]
                #expect((v?["latitude"] as? Double).map { abs($0 - 48.8584) < 1e-9 } == true, "\(entry)")
            } else {
                let first = ((c["values"] as! [[String: Any]])[0]["value"])
                let sorted: (Any?) -> Data = { v in (try? JSONSerialization.data(withJSONObject: [v ?? NSNull()], options: [.sortedKeys])) ?? Data() }
                #expect(sorted(entry["value"]) == sorted(first), "\(sha) \(field)")
            }
        }
    }

    @Test("a sheet saved with ; as separator reads the same; bad decisions name the file and row; a formula-looking value comes back without its guard")
    func checks() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "-q", "--config", "silomerge.yml").status == 0)
        let csv = ws.url.appendingPathComponent("d.csv")
        try Data(try ws.run("conflicts", "--config", "silomerge.yml", "--format", "csv").stdout).write(to: csv)
        let pristine = try Data(contentsOf: csv)

        // Semicolons, as a spreadsheet in many locales saves.
        try editSheet(csv, delimiter: ";", "rows[0]['decision'] = '2'")
        var r = try ws.run("conflicts", "--config", "silomerge.yml", "--resolutions", "d.csv", "--format", "json")
        #expect(r.status == 3, "the other conflicts remain: \(r.stderr)")
        let left = ((try json(r.stdout) as! [String: Any])["conflicts"] as! [[String: Any]]).count
        try pristine.write(to: csv)
        r = try ws.run("conflicts", "--config", "silomerge.yml", "--resolutions", "d.csv", "--format", "json")
        #expect(((try json(r.stdout) as! [String: Any])["conflicts"] as! [[String: Any]]).count == left + 1)

        // A decision that is not offered, both columns, a value out of range, an unknown asset.
        for (edit, message) in [("rows[0]['decision'] = '9'", "d.csv: row 2: decision '9' is not one of the values offered"),
                                ("rows[0]['decision'] = '1'; rows[0]['custom_value'] = 'x'", "row 2: give a decision"),
                                ("rows[0]['asset'] = 'deadbeefdeadbeef'; rows[0]['decision'] = '1'", "row 2: no content in the catalogue has a SHA-256 starting with deadbeefdeadbeef"),
                                ("rows[0]['field'] = 'rating'; rows[0]['custom_value'] = '7'", "row 2: rating: expected a whole number from -1 (rejected) to 5")] {
            try pristine.write(to: csv)
            try editSheet(csv, edit)
            let bad = try ws.run("conflicts", "--config", "silomerge.yml", "--resolutions", "d.csv")
            #expect(bad.status == 64, "\(edit): \(bad.stderr)")
            #expect(bad.stderr.contains(message), "\(edit): \(bad.stderr)")
        }

        // A custom value a spreadsheet would run ("=1+1" written by a person) is text; a value
        // the writer guarded with ' comes back without it.
        try pristine.write(to: csv)
        try editSheet(csv, """
            for r in rows:
                if r['field'] == 'rights':
                    r['custom_value'] = '=HYPERLINK("x")'
                    break
            """)
        r = try ws.run("conflicts", "--config", "silomerge.yml", "--resolutions", "d.csv", "--format", "json")
        #expect(r.status == 3 || r.status == 0, "\(r.stderr)")
        let export = String(decoding: try ws.run("export", "--config", "silomerge.yml", "--resolutions", "d.csv", "--format", "jsonl").stdout, as: UTF8.self)
        #expect(export.contains("\"value\":\"=HYPERLINK(\\\"x\\\")\""), "\(export.prefix(400))")
    }

    @Test("conflicts summarise by field and by silo pair (JSON and table), agreeing with the list itself")
    func digest() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "-q", "--config", "silomerge.yml").status == 0)
        let r = try ws.run("conflicts", "--config", "silomerge.yml", "--format", "json")
        let doc = try json(r.stdout) as! [String: Any]
        let conflicts = doc["conflicts"] as! [[String: Any]]
        var perField: [String: Int] = [:]
        for c in conflicts { perField[c["field"] as! String, default: 0] += 1 }
        #expect(doc["by_field"] as? [String: Int] == perField)
        // Every pair named disagrees in at least as many conflicts as it says, counted here from the values.
        for pair in doc["by_silo_pair"] as! [[String: Any]] {
            let silos = pair["silos"] as! [String]
            let counted = conflicts.filter { c in
                let groups = (c["values"] as! [[String: Any]]).map { Set(($0["sources"] as! [[String: Any]]).map { $0["silo"] as! String }) }
                return groups.indices.contains { i in groups.indices.contains { j in j > i &&
                    ((groups[i].contains(silos[0]) && groups[j].contains(silos[1])) || (groups[i].contains(silos[1]) && groups[j].contains(silos[0]))) } }
            }.count
            #expect(pair["conflicts"] as? Int == counted, "\(silos)")
        }
        #expect(!(doc["by_silo_pair"] as! [[String: Any]]).isEmpty)
        let table = try ws.run("conflicts", "--config", "silomerge.yml")
        #expect(table.out.contains("BY FIELD: rights 2, gps 1"), "\(table.out)")
        #expect(table.out.contains("BY SILO PAIR"), "\(table.out)")
    }
}

@Suite("reconcile: rules: decisions for classes of conflicts, scoped by silo, path and format")
struct ReconcileRulesCLITests {
    func config(_ ws: Workspace, rules: String) throws {
        let base = try String(contentsOf: ws.url.appendingPathComponent("silomerge.yml"), encoding: .utf8)
        try ws.write("rules.yml", base + "  rules:\n" + rules)
    }

    func exported(_ ws: Workspace) throws -> [[String: Any]] {
        let r = try ws.run("export", "--format", "jsonl")
        #expect(r.status == 0, "\(r.stderr)")
        return String(decoding: r.stdout, as: UTF8.self).split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    @Test("prefer a kind of source or a silo: the class is settled with the rule named; out of scope, nothing changes; a bad rule is refused with its line")
    func rules() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "-q", "--config", "silomerge.yml").status == 0)
        let before = (try json(try ws.run("conflicts", "--format", "json").stdout) as! [String: Any])["conflicts"] as! [[String: Any]]
        #expect(before.count >= 3)

        // Out of scope (no asset has a copy in that silo): nothing changes.
        try config(ws, rules: "    - field: rights\n      prefer: sidecar\n      silo: legal\n")
        var r = try ws.run("conflicts", "--config", "rules.yml", "--format", "json")
        #expect(((try json(r.stdout) as! [String: Any])["conflicts"] as! [[String: Any]]).count == before.count)

        // Rights: trust the sidecars; gps: trust what is embedded in the files.
        try config(ws, rules: "    - field: rights\n      prefer: sidecar\n    - field: gps\n      prefer: [embedded, sidecar]\n")
        r = try ws.run("conflicts", "--config", "rules.yml", "--format", "json")
        let after = (try json(r.stdout) as! [String: Any])["conflicts"] as! [[String: Any]]
        #expect(after.count < before.count, "\(after.map { $0["field"] ?? "" })")
        // Every conflict settled by a rule took a value from a source the rule prefers.
        for asset in try exported(ws) {
            for (name, entry) in asset["fields"] as! [String: [String: Any]] {
                guard let rule = entry["rule"] as? String, rule.hasPrefix("rule ") else { continue }
                #expect(["rights", "gps"].contains(name), "\(name): \(rule)")
                let sources = entry["sources"] as! [[String: Any]]
                let wanted = name == "rights" ? ["sidecar"] : ["xmp", "exif", "iptc", "quicktime"]
                // Values compared as canonical JSON (a dictionary's description has no fixed key order).
                func canonical(_ v: Any?) -> String {
                    guard let v, JSONSerialization.isValidJSONObject([v]) else { return "nil" }
                    return String(decoding: try! JSONSerialization.data(withJSONObject: [v], options: [.sortedKeys]), as: UTF8.self)
                }
                let matching = sources.filter { wanted.contains($0["origin"] as! String) }.map { canonical($0["value"]) }
                #expect(matching.contains(canonical(entry["value"])), "\(name): \(entry["value"] ?? "") not from \(wanted)")
                #expect(entry["status"] as? String == "resolved")
                #expect(rule == (name == "rights" ? "rule 1: prefer sidecar" : "rule 2: prefer embedded, then sidecar"), "\(rule)")
            }
        }
        // Remembered like the policies: a later run without --config keeps them.
        r = try ws.run("conflicts", "--format", "json")
        #expect(((try json(r.stdout) as! [String: Any])["conflicts"] as! [[String: Any]]).count == after.count)

        // A rule naming an unknown preference is refused with the file and line.
        try config(ws, rules: "    - field: rights\n      prefer: the boss\n")
        r = try ws.run("conflicts", "--config", "rules.yml")
        #expect(r.status == 64, "\(r.stderr)")
        #expect(r.stderr.contains("rules.yml:") && r.stderr.contains("'the boss' is not a preference"), "\(r.stderr)")
    }
}
