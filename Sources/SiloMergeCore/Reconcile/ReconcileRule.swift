#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A decision for a whole class of conflicts, from the configuration's `reconcile: rules:`:
/// "for rights, trust the legal silo", "for creator, prefer the manifest", "for gps, prefer
/// embedded over sidecar" — optionally only for assets with a copy in one silo, under a path
/// glob, or of one format. Rules are tried in order when a field's values disagree; the first
/// preference of the first matching rule that some values meet keeps only those values. If
/// they agree, that is the value (`resolved`, rule `rule N: prefer …`); if they still
/// disagree, the field's policy decides among them (a `conflict` policy leaves the conflict).
///
/// ```yaml
/// reconcile:
///   rules:
///     - field: rights
///       prefer: silo legal
///     - fields: [creator, keywords]
///       prefer: manifest
///     - field: gps
///       prefer: [embedded, sidecar]
///       format: jpeg
///       path: "campaigns/*"
/// ```
public struct ReconcileRule: Sendable, Hashable, Codable {
    /// What a rule prefers: values from one silo, or from one kind of source.
    public enum Preference: Sendable, Hashable, Codable, CustomStringConvertible {
        case silo(String)
        /// `sidecar` (XMP sidecars), `embedded` (metadata inside the file), `manifest`.
        case origin(String)

        public static let origins = ["sidecar", "embedded", "manifest"]

        public init?(text: String) {
            let t = text.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("silo ") {
                let name = t.dropFirst(5).trimmingCharacters(in: .whitespaces)
                guard !name.isEmpty else { return nil }
                self = .silo(name)
            } else if Self.origins.contains(t) {
                self = .origin(t)
            } else {
                return nil
            }
        }

        public var description: String {
            switch self {
            case .silo(let s): "silo \(s)"
            case .origin(let o): o
            }
        }

        func matches(_ s: FieldSource) -> Bool {
            switch self {
            case .silo(let name): return s.silo == name
            case .origin("sidecar"): return s.origin == .sidecar
            case .origin("manifest"): return s.origin == .manifest
            case .origin("embedded"): return s.origin != .sidecar && s.origin != .manifest && s.origin != .filesystem
            case .origin: return false
            }
        }

        public init(from decoder: any Decoder) throws {
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let p = Preference(text: text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown preference \(text)"))
            }
            self = p
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(description)
        }
    }

    public var fields: [UnifiedField]
    public var prefer: [Preference]
    /// Scope: the asset has a copy in this silo.
    public var silo: String?
    /// Scope: some copy's path (relative to its silo) matches this glob (`*` crosses folders).
    public var path: String?
    /// Scope: the asset's format.
    public var format: String?
    /// Its place in the list, from 1.
    public var number: Int

    public init(fields: [UnifiedField], prefer: [Preference], silo: String? = nil, path: String? = nil, format: String? = nil, number: Int) {
        self.fields = fields; self.prefer = prefer; self.silo = silo; self.path = path; self.format = format; self.number = number
    }

    /// "rule 2: prefer silo legal".
    public var label: String { "rule \(number): prefer \(prefer.map(\.description).joined(separator: ", then "))" }

    func applies(to field: UnifiedField, copies: [AssetCopy], format assetFormat: MediaFormat) -> Bool {
        guard fields.contains(field) else { return false }
        if let silo, !copies.contains(where: { $0.silo == silo }) { return false }
        if let format, format.lowercased() != assetFormat.rawValue.lowercased() { return false }
        if let path {
            let hit = copies.contains { c in
                fnmatch(path, c.path.display, 0) == 0
            }
            if !hit { return false }
        }
        return true
    }

    /// The values the first preference that some values meet keeps, with that preference.
    func kept(_ candidates: [FieldSource]) -> [FieldSource]? {
        for p in prefer {
            let kept = candidates.filter(p.matches)
            if !kept.isEmpty { return kept }
        }
        return nil
    }
}
