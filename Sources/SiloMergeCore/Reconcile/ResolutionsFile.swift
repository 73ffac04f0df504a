import Foundation
import Yams

extension Resolutions {
    /// Reads and validates a resolutions file. `lookup` returns the catalogued contents whose
    /// SHA-256 starts with a prefix (at most two are needed to call a prefix ambiguous).
    /// Every problem is an error with its line: an unknown or ambiguous asset, an unknown
    /// field, a value of the wrong kind.
    public static func load(path: String, lookup: (String) throws -> [SHA256Digest]) throws -> Resolutions {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ReconcileError(file: path, reason: "cannot read: \((error as NSError).localizedDescription)")
        }
        return try parse(text, file: path, lookup: lookup)
    }

    public static func parse(_ text: String, file: String, lookup: (String) throws -> [SHA256Digest]) throws -> Resolutions {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw ReconcileError(file: file, reason: "not valid YAML: \(error)")
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
                guard let object = plain(valueNode), let value = FieldValue.from(object: object, field: field) else {
                    throw fail(valueNode, "\(field.rawValue): \(expectation(field))")
                }
                if out.values[sha]?[field] != nil { throw fail(fieldNode, "\(id): \(field.rawValue) is given twice") }
                out.values[sha, default: [:]][field] = value
            }
        }
        return out
    }

    static func expectation(_ field: UnifiedField) -> String {
        switch field.kind {
        case .text: "expected a text"
        case .list: "expected a list of texts ([a, b]) or one text with ; between items"
        case .integer: "expected a whole number"
        case .gps: "expected [latitude, longitude] in decimal degrees"
        case .date: "expected a date such as 2023-06-14 or 2023-06-14T18:32:07+01:00"
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
