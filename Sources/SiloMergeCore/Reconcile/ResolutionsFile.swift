import Foundation
import Yams

extension Resolutions {
    /// The largest resolutions file read (about a million decisions).
    public static let maximumFileSize = 64 << 20

    /// Reads and validates a resolutions file. `lookup` returns the catalogued contents whose
    /// SHA-256 starts with a prefix (at most two are needed to call a prefix ambiguous).
    /// Every problem is an error with its line: an unknown or ambiguous asset, an unknown
    /// field, a value of the wrong kind.
    public static func load(path: String, lookup: (String) throws -> [SHA256Digest]) throws -> Resolutions {
        // A sheet from `conflicts --format csv`, filled in.
        if path.lowercased().hasSuffix(".csv") {
            let bytes: [UInt8]
            do { bytes = try InputFile.readBytes(path, limit: maximumFileSize) } catch {
                throw ReconcileError(file: path, reason: error.reason)
            }
            return try ConflictSheet.parse(bytes, file: path, lookup: lookup)
        }
        let text: String
        do { text = try InputFile.readText(path, limit: maximumFileSize) } catch {
            throw ReconcileError(file: path, reason: error.reason)
        }
        return try parse(text, file: path, lookup: lookup)
    }

    public static func parse(_ text: String, file: String, lookup: (String) throws -> [SHA256Digest]) throws -> Resolutions {
        let root: Node?
        do { root = try YAMLInput.compose(text) } catch {
            throw ReconcileError(file: file, line: error.line, reason: error.message)
        }
        var out = Resolutions(file: file)
        guard let root else { return out }
        func fail(_ node: Node?, _ reason: String) -> ReconcileError {
            ReconcileError(file: file, line: node?.mark?.line, reason: reason)
        }
        guard case .mapping(let assets) = root else {
            throw fail(root, "expected a mapping of asset ids to fields (see `silomerge conflicts --template`)")
        }
        for (keyNode, fieldsNode) in assets {
            guard case .scalar(let key) = keyNode else { throw fail(keyNode, "an asset id must be a SHA-256 or a prefix of it") }
            let id = key.string.lowercased()
            guard id.count >= 8, id.count <= 64, id.allSatisfy({ $0.isHexDigit }) else {
                throw fail(keyNode, "'\(key.string)' is not an asset id: give its SHA-256 or at least its first 8 hex digits")
            }
            let matches = try lookup(id)
            guard let sha = matches.first else {
                throw fail(keyNode, "no content in the catalogue has a SHA-256 starting with \(id)")
            }
            guard matches.count == 1 else {
                throw fail(keyNode, "\(id) is ambiguous (\(matches.map { String($0.hex.prefix(16)) }.joined(separator: ", ")), …): give more digits")
            }
            if case .scalar(let empty) = fieldsNode, empty.string.isEmpty { continue }   // every value still commented out
            guard case .mapping(let fields) = fieldsNode else { throw fail(fieldsNode, "under \(id): expected field: value lines") }
            for (fieldNode, valueNode) in fields {
                guard case .scalar(let name) = fieldNode, let field = UnifiedField(rawValue: name.string) else {
                    throw fail(fieldNode, "unknown field '\(fieldNode.scalar?.string ?? "?")' (fields: \(UnifiedField.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                let value: FieldValue
                switch resolution(valueNode, field: field) {
                case .success(let v): value = v
                case .failure(let problem): throw fail(valueNode, "\(field.rawValue): \(problem.reason)")
                }
                if out.values[sha]?[field] != nil { throw fail(fieldNode, "\(id): \(field.rawValue) is given twice") }
                out.values[sha, default: [:]][field] = value
            }
        }
        return out
    }

    static func expectation(_ field: UnifiedField) -> String {
        switch field {
        case .rating: return "expected a whole number from -1 (rejected) to 5"
        case .orientation: return "expected a whole number from 1 to 8 (the EXIF orientation)"
        default: break
        }
        switch field.kind {
        case .text: return "expected a text"
        case .list: return "expected a list of texts ([a, b]) or one text with ; between items"
        case .integer: return "expected a whole number"
        case .gps: return "expected [latitude, longitude] in decimal degrees (latitude -90 to 90, longitude -180 to 180)"
        case .date: return "expected a date such as 2023-06-14 or 2023-06-14T18:32:07+01:00"
        }
    }

    /// Why a value cannot be a resolution.
    struct Problem: Error { var reason: String }

    /// Fields measured from the content itself: every copy of a content has the same, so they
    /// are never in conflict and are not a person's to decide.
    static let measuredFields: Set<UnifiedField> = [.width, .height, .format]

    /// A resolution checked against its field's type and range, so that what a person decides
    /// is exactly what every export writes (a value an export would have to drop is refused
    /// here, with its line, instead of silently losing the asset's real values later).
    static func resolution(_ node: Node, field: UnifiedField) -> Result<FieldValue, Problem> {
        func problem(_ found: String? = nil) -> Result<FieldValue, Problem> {
            .failure(Problem(reason: expectation(field) + (found.map { ", found \($0)" } ?? "")))
        }
        if measuredFields.contains(field) {
            return .failure(Problem(reason: "is measured from the content itself (every copy has the same); it cannot be resolved"))
        }
        guard let object = plain(node) else { return problem() }
        let shown: String = {
            if case .scalar(let s) = node { return Encode.json(s.string) }
            if case .mapping = node { return "a mapping" }
            return "a list"
        }()
        func clean(_ text: String) -> Result<String, Problem> {
            if let bad = text.unicodeScalars.first(where: { !Encode.isXMLChar($0) }) {
                return .failure(Problem(reason: "holds the control character U+\(String(format: "%04X", bad.value)), which no metadata format can store"))
            }
            if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                return .failure(Problem(reason: "is empty: give the value to keep, or leave the line commented out to keep the conflict"))
            }
            return .success(text)
        }
        switch field.kind {
        case .integer:
            let number: Int?
            if let n = object as? NSNumber, !(object is String) {
                let d = n.doubleValue
                number = d.rounded() == d && abs(d) < 1e15 ? Int(d) : nil
            } else if let s = object as? String {
                number = Int(s.trimmingCharacters(in: .whitespaces))
            } else {
                number = nil
            }
            guard let number else { return problem(shown) }
            let range: ClosedRange<Int> = field == .rating ? -1...5 : field == .orientation ? 1...8 : Int.min...Int.max
            guard range.contains(number) else { return problem(shown) }
            return .success(.integer(number))
        case .gps:
            guard let value = FieldValue.from(object: object, field: .gps), let g = value.gps,
                  g.latitude.isFinite, g.longitude.isFinite, abs(g.latitude) <= 90, abs(g.longitude) <= 180 else { return problem(shown) }
            return .success(value)
        case .date:
            guard let text = object as? String, let iso = DateNormalizer.iso(text), ExportWriter.isISODate(iso) else {
                return problem(shown)
            }
            return .success(.date(iso))
        case .list:
            guard let value = FieldValue.from(object: object, field: field), let items = value.list else { return problem(shown) }
            var cleaned: [String] = []
            for item in items {
                switch clean(item) {
                case .success(let c): cleaned.append(c)
                case .failure(let p): return .failure(Problem(reason: "an item " + p.reason))
                }
            }
            guard !cleaned.isEmpty else { return .failure(Problem(reason: "is an empty list: give the values to keep")) }
            return .success(.list(cleaned))
        case .text:
            guard let value = FieldValue.from(object: object, field: field), let text = value.text else { return problem(shown) }
            return clean(text).map { .text($0) }
        }
    }

    /// A YAML node as plain values: scalars stay text unless they are numbers (for GPS and
    /// integers, where `FieldValue.from` asks for numbers).
    static func plain(_ node: Node) -> Any? {
        switch node {
        case .scalar(let s):
            if s.style == .plain, let d = Double(s.string), s.string.contains(where: \.isNumber) {
                return s.string.contains(".") || s.string.contains("e") ? NSNumber(value: d) : (Int(s.string).map { NSNumber(value: $0) } ?? NSNumber(value: d))
            }
            return s.string
        case .sequence(let seq):
            var out: [Any] = []
            for n in seq { guard let v = plain(n) else { return nil }; out.append(v) }
            return out
        case .mapping(let m):
            var out: [String: Any] = [:]
            for (k, v) in m {
                guard case .scalar(let key) = k, let value = plain(v) else { return nil }
                out[key.string] = value
            }
            return out
        case .alias:
            return nil
        }
    }
}
