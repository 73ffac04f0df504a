import Foundation
import Testing

/// RFC 4180 records (quoted cells may hold commas, quotes and line breaks).
func parseCSV(_ text: String) -> [[String]] {
    var records: [[String]] = []
    var record: [String] = []
    var cell = ""
    var quoted = false
    var scalars = Array(text.unicodeScalars)[...]
    if scalars.first == "\u{FEFF}" { scalars = scalars.dropFirst() }
    var i = scalars.startIndex
    while i < scalars.endIndex {
        let c = scalars[i]
        if quoted {
            if c == "\"" {
                if i + 1 < scalars.endIndex && scalars[i + 1] == "\"" { cell.unicodeScalars.append("\""); i += 1 } else { quoted = false }
            } else { cell.unicodeScalars.append(c) }
        } else if c == "\"" && cell.isEmpty {
            quoted = true
        } else if c == "," {
            record.append(cell); cell = ""
        } else if c == "\r" && i + 1 < scalars.endIndex && scalars[i + 1] == "\n" {
            record.append(cell); records.append(record); record = []; cell = ""; i += 1
        } else {
            cell.unicodeScalars.append(c)
        }
        i += 1
    }
    if !cell.isEmpty || !record.isEmpty { record.append(cell); records.append(record) }
    return records
}

/// The first character of a cell that makes a spreadsheet run it.
private let triggers: Set<Unicode.Scalar> = ["=", "+", "-", "@", "\t", "\r", "\n", "\u{FF1D}", "\u{FF0B}", "\u{FF0D}", "\u{FF20}"]

/// Cells (outside the columns listed as numbers) that a spreadsheet would run as formulas.
private func dangerous(_ records: [[String]], numeric: Set<String>) -> [String] {
    guard let header = records.first else { return [] }
    var out: [String] = []
    for record in records.dropFirst() {
        for (name, cell) in zip(header, record) where !numeric.contains(name) {
            if let first = cell.unicodeScalars.first, triggers.contains(first) { out.append("\(name): \(cell)") }
        }
    }
    return out
}

@Suite("CSV outputs: one writer, formula injection neutralised in every one")
struct CSVInjectionCLITests {
    /// Names and metadata a spreadsheet would run, in the Fixtures.
    static let hostileNames = ["=HYPERLINK(\"http:\\\\evil\",\"x\").jpg", "+SUM(1,2).jpg", "@cmd.jpg", "-2+3.jpg", "\u{FF1D}1+1.jpg"]

    func workspace() throws -> Workspace {
        let ws = try Workspace()
        try ws.copyFixtures()
        let hero = try Data(contentsOf: ws.url.appendingPathComponent("marketing/campaigns/2023/summer-launch/hero.jpg"))
        for (i, name) in Self.hostileNames.enumerated() {
            // Each a duplicate of hero (so duplicates lists it), in a silo of its own order.
            let silo = ["marketing", "hr", "training"][i % 3]
            try hero.write(to: ws.url.appendingPathComponent("\(silo)/\(name)"))
        }
        // A sidecar whose title and keywords are formulas.
        try ws.write("hr/@cmd.jpg.xmp", """
            <x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
            <rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">
            <dc:title><rdf:Alt><rdf:li xml:lang="x-default">=cmd|' /C calc'!A0</rdf:li></rdf:Alt></dc:title>
            <dc:subject><rdf:Bag><rdf:li>+1+1</rdf:li><rdf:li>@SUM(A1)</rdf:li></rdf:Bag></dc:subject>
            </rdf:Description></rdf:RDF></x:xmpmeta>
            """)
        let scan = try ws.run("scan", "--config", "silomerge.yml")
        #expect(scan.status == 0, "\(scan.stderr)")
        return ws
    }

    @Test("duplicates --format csv: hostile names neutralised; path_b64 carries the exact name of every neutralised path")
    func duplicates() throws {
        let ws = try workspace()
        let r = try ws.run("duplicates", "--format", "csv")
        #expect(r.status == 0)
        let records = parseCSV(r.out)
        let numeric: Set = ["group", "size", "physical_copies", "reclaimable_bytes", "inode", "device", "links"]
        #expect(dangerous(records, numeric: numeric).isEmpty, "\(dangerous(records, numeric: numeric))")
        let header = records[0]
        let rows = records.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
        for name in Self.hostileNames {
            let row = try #require(rows.first { $0["path"] == "'" + name }, "\(name) missing from \(rows.map { $0["path"] ?? "" })")
            #expect(Data(base64Encoded: row["path_b64"] ?? "").map { String(decoding: $0, as: UTF8.self) } == name)
        }
        // A name that needs nothing keeps an empty path_b64.
        #expect(rows.first { $0["path"] == "campaigns/2023/summer-launch/hero.jpg" }?["path_b64"] == "")
    }

    @Test("export --format csv: names and metadata neutralised, numbers left alone")
    func export() throws {
        let ws = try workspace()
        let r = try ws.run("export", "--format", "csv", "-o", "catalogue.csv")
        #expect(r.status == 0, "\(r.stderr)")
        let text = try String(contentsOf: ws.url.appendingPathComponent("catalogue.csv"), encoding: .utf8)
        let records = parseCSV(text)
        #expect(dangerous(records, numeric: ["size", "width", "height", "copies", "gps", "rating", "orientation"]).isEmpty,
                "\(dangerous(records, numeric: []))")
        #expect(text.contains("'=cmd|' /C calc'!A0"))
        #expect(text.contains("'+1+1; @SUM(A1)") || text.contains("'@SUM(A1)"), "keywords: \(text)")
    }

    @Test("plan --import-manifest: the manifest apply writes into the target is neutralised too")
    func importManifest() throws {
        let ws = try workspace()
        let plan = try ws.run("plan", "--target", "merged", "-o", "plan.json", "--layout", "{name}", "--import-manifest", "--allow-conflicts")
        #expect(plan.status == 0, "\(plan.stderr)")
        let apply = try ws.run("apply", "plan.json", "-q")
        #expect(apply.status == 0, "\(apply.stderr)")
        let text = try String(contentsOf: ws.url.appendingPathComponent("merged/silomerge-manifest.csv"), encoding: .utf8)
        let records = parseCSV(text)
        #expect(records.first?.first == "path")
        #expect(records.count > 10)
        #expect(dangerous(records, numeric: ["size"]).isEmpty, "\(dangerous(records, numeric: ["size"]))")
        #expect(records.contains { $0[4] == "'=cmd|' /C calc'!A0" }, "the sidecar's title")
    }

    @Test("No output quotes CSV but through the one writer")
    func oneWriter() throws {
        let sources = fixturesURL.deletingLastPathComponent().appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(atPath: sources.path)!.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }
        var offenders: [String] = []
        for file in files where !file.hasSuffix("Report/CSV.swift") {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            // A hand-made CSV row (cells joined by commas, ended by CRLF), or quotes doubled.
            if text.contains("joined(separator: \",\") + \"\\r\\n\"") || text.contains("with: \"\\\"\\\"\"") {
                offenders.append(file)
            }
        }
        #expect(offenders.isEmpty, "CSV written outside Report/CSV.swift: \(offenders)")
    }
}
