import Foundation

/// One metadata value of one file, as the catalogue holds it.
public struct StoredValue: Sendable, Hashable {
    public var field: UnifiedField
    public var origin: MetadataOrigin
    public var tag: String
    public var value: FieldValue
    public var raw: String
    /// The sidecar's path or the manifest's file, when the value came from one.
    public var source: String?
    /// The time of the source (file, sidecar or manifest mtime).
    public var timeNs: Int64?
    /// For embedded values: chosen by the file's own MWG reconciliation.
    public var preferred: Bool

    public init(field: UnifiedField, origin: MetadataOrigin, tag: String, value: FieldValue, raw: String,
                source: String? = nil, timeNs: Int64? = nil, preferred: Bool = false) {
        self.field = field; self.origin = origin; self.tag = tag; self.value = value; self.raw = raw
        self.source = source; self.timeNs = timeNs; self.preferred = preferred
    }
}

/// Everything the catalogue knows about one distinct content: each copy with its values.
public struct AssetSources: Sendable {
    public struct Copy: Sendable {
        public var copy: AssetCopy
        public var values: [StoredValue]
        public init(copy: AssetCopy, values: [StoredValue]) { self.copy = copy; self.values = values }
    }
    public var sha256: SHA256Digest
    public var size: Int64
    public var format: MediaFormat
    public var width: Int?
    public var height: Int?
    public var imageSHA256: SHA256Digest?
    /// In silo priority order, then path.
    public var copies: [Copy]

    public init(sha256: SHA256Digest, size: Int64, format: MediaFormat, width: Int? = nil, height: Int? = nil,
                imageSHA256: SHA256Digest? = nil, copies: [Copy]) {
        self.sha256 = sha256; self.size = size; self.format = format; self.width = width; self.height = height
        self.imageSHA256 = imageSHA256; self.copies = copies
    }
}

/// The policy of each field: the defaults, overridden by the configuration's `reconcile:`.
public struct ReconcilePolicies: Sendable, Hashable, Codable {
    public var byField: [UnifiedField: ReconcilePolicy]

    public static let defaults: [UnifiedField: ReconcilePolicy] = [
        .keywords: .union, .creator: .union,
        .title: .priority, .description: .longest,
        .rights: .conflict, .gps: .agree, .dateCreated: .oldest,
    ]

    public init(_ overrides: [UnifiedField: ReconcilePolicy] = [:]) {
        byField = ReconcilePolicies.defaults.merging(overrides) { _, new in new }
    }

    /// `priority` for every field not named.
    public func policy(for field: UnifiedField) -> ReconcilePolicy { byField[field] ?? .priority }

    /// As stored in the catalogue (`setting` reconcile.policies): `{"date_created":"oldest",…}`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(Dictionary(uniqueKeysWithValues: byField.map { ($0.key.rawValue, $0.value.rawValue) }))
    }

    /// Reads `{"field":"policy",…}`, and the shape older versions stored
    /// (`{"byField":["field","policy",…]}`), so remembered policies survive an upgrade.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        var pairs: [(String, String)] = []
        if let map = try? c.decode([String: String].self) {
            pairs = map.map { ($0.key, $0.value) }
        } else {
            struct Old: Decodable { var byField: [String] }
            let flat = try c.decode(Old.self).byField
            guard flat.count % 2 == 0 else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "an odd list of fields and policies")
            }
            pairs = stride(from: 0, to: flat.count, by: 2).map { (flat[$0], flat[$0 + 1]) }
        }
        var byField: [UnifiedField: ReconcilePolicy] = [:]
        for (f, p) in pairs {
            guard let field = UnifiedField(rawValue: f), let policy = ReconcilePolicy(rawValue: p) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "unknown field or policy '\(f): \(p)'")
            }
            byField[field] = policy
        }
        self.byField = byField
    }
}

/// Decides one value per field for a distinct content, from the values of all its copies.
///
/// For each copy, the candidates are its XMP sidecar's values, then the values its own
/// embedded metadata settled on (EXIF, IPTC and XMP reconciled in the Metadata Working
/// Group's order), then its silo's manifest row. Candidates are ordered by silo priority, then
/// that order. When they all agree (after normalisation: white space, Unicode NFC, lists as
/// case-insensitive sets, coordinates to ~10 cm) the field is `agreed`; when they differ the
/// field's policy decides (`resolved`) or declines (`conflict`). A person's resolution wins over
/// both (`manual`). A field no source has is absent: in particular a file's mtime never stands
/// in for `date_created` (it is the time the file was last written or copied, not when the
/// picture was taken; exports carry it as `file_modified`).
public struct Reconciler: Sendable {
    public var policies: ReconcilePolicies
    public var resolutions: Resolutions
    /// Decisions for classes of conflicts, tried before the field's policy.
    public var rules: [ReconcileRule]

    public init(policies: ReconcilePolicies = ReconcilePolicies(), resolutions: Resolutions = Resolutions(), rules: [ReconcileRule] = []) {
        self.policies = policies; self.resolutions = resolutions; self.rules = rules
    }

    static let originRank: [MetadataOrigin: Int] = [
        .sidecar: 0, .xmp: 1, .iptc: 1, .exif: 1, .png: 1, .pdf: 1, .postscript: 1, .header: 1, .manifest: 2, .filesystem: 3,
        .quicktime: 1, .document: 1, .audio: 1,
    ]

    /// The candidate values of one field, best first.
    static func candidates(_ field: UnifiedField, in sources: AssetSources) -> [FieldSource] {
        var out: [(rank: (Int, Int), source: FieldSource)] = []
        for (copyIndex, c) in sources.copies.enumerated() {
            for v in c.values where v.field == field {
                // Embedded values the file's own reconciliation passed over are not candidates.
                if v.origin != .sidecar && v.origin != .manifest && !v.preferred { continue }
                let source = FieldSource(silo: c.copy.silo, path: c.copy.path, origin: v.origin, tag: v.tag, raw: v.raw,
                                         value: v.value, timeNs: v.timeNs ?? c.copy.mtimeNs)
                out.append(((copyIndex, originRank[v.origin] ?? 9), source))
            }
        }
        return out.enumerated().sorted { a, b in
            (a.element.rank.0, a.element.rank.1, a.offset) < (b.element.rank.0, b.element.rank.1, b.offset)
        }.map(\.element.source)
    }

    public func reconcile(_ sources: AssetSources) -> ReconciledAsset { reconcile(sources, alsoResolvedAs: []) }

    /// `alsoResolvedAs`: other contents whose resolutions apply when `sources` has none of its
    /// own for a field (the rest of a group of similar images reconciled as one asset).
    func reconcile(_ sources: AssetSources, alsoResolvedAs others: [SHA256Digest]) -> ReconciledAsset {
        var fields: [ReconciledField] = []
        for field in UnifiedField.allCases {
            var candidates = Reconciler.candidates(field, in: sources)
            if candidates.isEmpty {
                switch field {
                case .format:
                    // The tag the reader gives the format: a file of no known format has no
                    // header fact for it (see `HeaderFacts.values`), and says the same.
                    candidates = [FieldSource(silo: sources.copies.first?.copy.silo ?? "", path: sources.copies.first?.copy.path ?? .root,
                                              origin: .header, tag: HeaderFacts.formatTag, raw: sources.format.rawValue,
                                              value: .text(sources.format.rawValue))]
                case .width, .height:
                    guard let n = field == .width ? sources.width : sources.height, let first = sources.copies.first else { break }
                    candidates = [FieldSource(silo: first.copy.silo, path: first.copy.path, origin: .header,
                                              tag: field == .width ? "ImageWidth" : "ImageHeight", raw: String(n), value: .integer(n))]
                default: break
                }
            }
            if let manual = resolutions.value(for: sources.sha256, field: field)
                ?? others.lazy.compactMap({ resolutions.value(for: $0, field: field) }).first {
                fields.append(ReconciledField(field: field, value: manual, status: .resolved, rule: .manual, sources: candidates))
                continue
            }
            if candidates.isEmpty { continue }
            fields.append(decide(field, candidates, sources))
        }
        return ReconciledAsset(sha256: sources.sha256, size: sources.size, format: sources.format, width: sources.width,
                               height: sources.height, imageSHA256: sources.imageSHA256,
                               copies: sources.copies.map(\.copy), fields: fields)
    }

    func decide(_ field: UnifiedField, _ candidates: [FieldSource], _ sources: AssetSources? = nil) -> ReconciledField {
        let policy = policies.policy(for: field)
        let keys = Set(candidates.map(\.value.comparisonKey))
        if keys.count == 1 {
            return ReconciledField(field: field, value: candidates[0].value, status: .agreed, rule: .policy(policy), sources: candidates)
        }
        // A rule for this class of conflict: keep the values it prefers, then decide among them.
        if let sources {
            let copies = sources.copies.map(\.copy)
            for rule in rules where rule.applies(to: field, copies: copies, format: sources.format) {
                guard let kept = rule.kept(candidates) else { continue }
                let among = decide(field, kept, nil)
                guard let value = among.value else { continue }
                return ReconciledField(field: field, value: value, status: .resolved, rule: .rule(rule.label), sources: candidates)
            }
        }
        let value: FieldValue?
        switch policy {
        case .union:
            var seen = Set<String>()
            var items: [String] = []
            for c in candidates {
                let list: [String]
                switch c.value {
                case .list(let l): list = l
                default: list = [c.value.display]
                }
                for item in list {
                    let normal = FieldValue.normalize(item)
                    guard !normal.isEmpty, seen.insert(normal.lowercased()).inserted else { continue }
                    items.append(normal)
                }
            }
            value = .list(items)
        case .priority:
            value = candidates[0].value
        case .newest:
            value = candidates.enumerated().max { a, b in
                ((a.element.timeNs ?? .min), -a.offset) < ((b.element.timeNs ?? .min), -b.offset)
            }?.element.value
        case .oldest:
            value = candidates.enumerated().min { a, b in
                ((a.element.timeNs ?? .max), a.offset) < ((b.element.timeNs ?? .max), b.offset)
            }?.element.value
        case .longest:
            value = candidates.enumerated().max { a, b in
                (FieldValue.normalize(a.element.value.display).count, -a.offset)
                    < (FieldValue.normalize(b.element.value.display).count, -b.offset)
            }?.element.value
        case .agree, .conflict:
            value = nil
        }
        return ReconciledField(field: field, value: value, status: value == nil ? .conflict : .resolved,
                               rule: .policy(policy), sources: candidates)
    }
}

/// What a person decided for conflicts: per asset and field, the value to keep. Read from a
/// YAML file (`silomerge conflicts --template` writes one to start from):
///
///     9508fa571338:            # the asset's SHA-256, or a unique prefix of 8+ hex digits
///       rights: "© 2023 Northwind Traders. All rights reserved."
///       gps: [38.7139, -9.1394]
public struct Resolutions: Sendable, Hashable {
    public var values: [SHA256Digest: [UnifiedField: FieldValue]]
    public var file: String?

    public init(values: [SHA256Digest: [UnifiedField: FieldValue]] = [:], file: String? = nil) {
        self.values = values; self.file = file
    }

    public func value(for sha: SHA256Digest, field: UnifiedField) -> FieldValue? { values[sha]?[field] }
    public var count: Int { values.values.reduce(0) { $0 + $1.count } }
}

/// Errors of the reconcile stage: a resolutions file that cannot be used.
public struct ReconcileError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var line: Int?
    public var reason: String
    public init(file: String, line: Int? = nil, reason: String) { self.file = file; self.line = line; self.reason = reason }
    public var description: String { line.map { "\(file):\($0): \(reason)" } ?? "\(file): \(reason)" }
}
