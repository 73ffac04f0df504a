import Foundation
import Yams

/// Conflicts as a spreadsheet and back: `silomerge conflicts --format csv` writes one row per
/// asset and field in conflict, with the competing values side by side; a person fills in the
/// `decision` column (the number of the value to keep) or `custom_value` (a value of their
/// own), and `--resolutions FILE.csv` reads it back with the same checks as a YAML resolutions
/// file (the field's type and range, the asset known and unambiguous), each error naming the
/// file and the row.
///
/// The sheet is UTF-8 with a BOM and CRLF (what spreadsheets open cleanly), written through the
/// one CSV writer, so cells that would run as formulas are neutralised with a leading `'`;
/// reading strips that apostrophe again. Files saved with `;` as the separator (spreadsheets in
/// many locales do) are read too.
public enum ConflictSheet {
    public static let leadingColumns = ["asset", "field", "decision", "custom_value"]

    /// The sheet for `assets` (those with fields in conflict).
    public static func write(_ assets: [ReconciledAsset]) -> String {
        var rows: [(ReconciledAsset, ReconciledField, [(FieldValue, [FieldSource])])] = []
        for a in assets {
            for f in a.fields where f.status == .conflict { rows.append((a, f, ConflictsJSON.grouped(f))) }
        }
        let width = rows.map(\.2.count).max() ?? 2
        var header = leadingColumns
        for i in 1...max(width, 1) { header += ["value_\(i)", "sources_\(i)"] }
        header += ["copies"]
        var out = CSV.byteOrderMark + CSV.header(header)
        for (asset, field, values) in rows {
            var cells: [CSV.Cell] = [.own(asset.sha256.hex), .own(field.field.rawValue), .empty, .empty]
            for i in 0..<max(width, 1) {
                if i < values.count {
                    cells.append(.text(cellText(values[i].0)))
                    cells.append(.text(values[i].1.map { "\($0.silo):\($0.path.display) [\($0.origin.rawValue) \($0.tag)]" }.joined(separator: "; ")))
                } else {
                    cells += [.empty, .empty]
                }
            }
            cells.append(.text(asset.copies.map { "\($0.silo):\($0.path.display)" }.joined(separator: "; ")))
            out += CSV.row(cells)
        }
        return out
    }

    /// A value as one cell: lists joined with "; ", GPS as "latitude, longitude".
    static func cellText(_ v: FieldValue) -> String {
        switch v {
        case .text(let s), .date(let s): return s
        case .list(let l): return l.joined(separator: "; ")
        case .integer(let i): return String(i)
        case .gps(let lat, let lon): return "\(lat), \(lon)"
        }
    }

    /// Reads a filled-in sheet into resolutions.
    public static func parse(_ bytes: [UInt8], file: String, lookup: (String) throws -> [SHA256Digest]) throws -> Resolutions {
        func fail(_ row: Int?, _ reason: String) -> ReconcileError {
            ReconcileError(file: file, line: nil, reason: (row.map { "row \($0): " } ?? "") + reason)
        }
        var data = bytes
        if data.starts(with: [0xEF, 0xBB, 0xBF]) { data.removeFirst(3) }
        guard String(validatingUTF8Bytes: data) != nil else {
            throw fail(nil, "is not UTF-8: save it as \"CSV UTF-8\"")
        }
        let firstLine = data.prefix { $0 != 0x0A && $0 != 0x0D }
        let delimiter: UInt8 = firstLine.contains(0x2C) ? 0x2C : firstLine.contains(0x3B) ? 0x3B : 0x2C
        var records: [[String]] = []
        var splitter = RecordSplitter(delimiter: delimiter, maximumRecord: 16 << 20)
        do {
            let emit: ([[UInt8]]) throws -> Void = { r in records.append(r.map { String(decoding: $0, as: UTF8.self) }) }
            try splitter.feed(data, emit)
            try splitter.finish(emit)
        } catch {
            throw fail(records.count + 1, "a record is longer than 16 MiB (an unclosed quote?)")
        }
        guard let header = records.first?.map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) else { return Resolutions(file: file) }
        func column(_ name: String) -> Int? { header.firstIndex(of: name) }
        guard let assetColumn = column("asset"), let fieldColumn = column("field"), let decisionColumn = column("decision") else {
            throw fail(1, "the header must name the columns asset, field and decision (see `silomerge conflicts --format csv`)")
        }
        let customColumn = column("custom_value")
        var valueColumns: [Int: Int] = [:]
        for (index, name) in header.enumerated() where name.hasPrefix("value_") {
            if let n = Int(name.dropFirst(6)), n >= 1 { valueColumns[n] = index }
        }

        var out = Resolutions(file: file)
        for (index, record) in records.enumerated().dropFirst() {
            let row = index + 1
            func cell(_ i: Int?) -> String {
                guard let i, i < record.count else { return "" }
                return unneutralized(record[i])
            }
            let decision = cell(decisionColumn).trimmingCharacters(in: .whitespaces)
            let custom = cell(customColumn)
            if decision.isEmpty && custom.trimmingCharacters(in: .whitespaces).isEmpty { continue }   // still undecided
            if !decision.isEmpty && !custom.trimmingCharacters(in: .whitespaces).isEmpty {
                throw fail(row, "give a decision (the number of a value) or a custom_value, not both")
            }
            let id = cell(assetColumn).trimmingCharacters(in: .whitespaces).lowercased()
            guard id.count >= 8, id.count <= 64, id.allSatisfy({ $0.isHexDigit }) else {
                throw fail(row, "'\(cell(assetColumn))' is not an asset id: give its SHA-256 or at least its first 8 hex digits")
            }
            let matches = try lookup(id)
            guard let sha = matches.first else { throw fail(row, "no content in the catalogue has a SHA-256 starting with \(id)") }
            guard matches.count == 1 else { throw fail(row, "\(id) is ambiguous: give more digits") }
            let name = cell(fieldColumn).trimmingCharacters(in: .whitespaces)
            guard let field = UnifiedField(rawValue: name) else {
                throw fail(row, "unknown field '\(name)' (fields: \(UnifiedField.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            let text: String
            if !decision.isEmpty {
                guard let n = Int(decision), let at = valueColumns[n], !cell(at).isEmpty else {
                    let offered = valueColumns.keys.sorted().filter { !cell(valueColumns[$0]).isEmpty }
                    throw fail(row, "decision '\(decision)' is not one of the values offered (\(offered.map(String.init).joined(separator: ", ")))")
                }
                text = cell(at)
            } else {
                text = custom
            }
            let value: FieldValue
            switch Resolutions.resolution(node(text, field: field), field: field) {
            case .success(let v): value = v
            case .failure(let problem): throw fail(row, "\(field.rawValue): \(problem.reason)")
            }
            if out.values[sha]?[field] != nil { throw fail(row, "\(id): \(field.rawValue) is decided twice") }
            out.values[sha, default: [:]][field] = value
        }
        return out
    }

    /// A cell without the `'` the CSV writer put before what a spreadsheet would run.
    static func unneutralized(_ s: String) -> String {
        guard s.hasPrefix("'"), CSV.needsNeutralizing(String(s.dropFirst())) else { return s }
        return String(s.dropFirst())
    }

    /// The cell as the YAML node the resolutions checks take: numbers plain for integer
    /// fields, "latitude, longitude" as a pair, everything else a quoted text.
    static func node(_ text: String, field: UnifiedField) -> Node {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        switch field.kind {
        case .integer:
            return .scalar(Node.Scalar(trimmed, .implicit, .plain))
        case .gps:
            let parts = trimmed.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { return .scalar(Node.Scalar(trimmed, .implicit, .doubleQuoted)) }
            let items: [Node] = parts.map { Node.scalar(Node.Scalar($0, .implicit, .plain)) }
            return .sequence(Node.Sequence(items))
        default:
            return .scalar(Node.Scalar(text, .implicit, .doubleQuoted))
        }
    }
}

// MARK: - The YAML resolutions template

extension ConflictSheet {
    /// Where a value came from, for people: "silo:path [origin tag]".
    public static func describe(_ s: FieldSource) -> String {
        "\(s.silo):\(s.path.display) [\(s.origin.rawValue) \(s.tag)]" + (s.otherContent.map { ", from \($0.description)" } ?? "")
    }

    /// A YAML resolutions file (`silomerge conflicts --template`): every conflict of `assets`
    /// with its values commented out, read back by `Resolutions.load` once a person has
    /// uncommented the value to keep.
    public static func template(_ assets: [ReconciledAsset]) -> String {
        var out = """
            # SiloMerge resolutions: for each asset (first hex digits of its SHA-256) and field,
            # the value to keep. Uncomment one value per field (delete the leading "# "), or
            # write your own. Fields left commented stay in conflict.
            # Use it with: silomerge conflicts --resolutions THIS_FILE (or reconcile, export, plan)

            """
        if assets.isEmpty { out += "# No conflicts.\n{}\n"; return out }
        for a in assets {
            out += "\n# " + a.copies.map { "\($0.silo):\($0.path.display)" }.joined(separator: ", ") + "\n"
            out += "\(a.shortID):\n"
            for f in a.fields where f.status == .conflict {
                for (value, sources) in ConflictsJSON.grouped(f) {
                    out += "  # from " + sources.map(describe).joined(separator: "; ") + "\n"
                    out += "  # \(f.field.rawValue): \(yaml(value))\n"
                }
            }
        }
        return out
    }

    /// A value as YAML the resolutions reader takes back.
    static func yaml(_ value: FieldValue) -> String {
        switch value {
        case .text(let s), .date(let s): return Encode.json(s)   // JSON strings are valid YAML
        case .list(let l): return "[" + l.map(Encode.json).joined(separator: ", ") + "]"
        case .integer(let i): return String(i)
        case .gps(let lat, let lon): return "[\(lat), \(lon)]"
        }
    }
}
