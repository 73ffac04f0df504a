/// Conflicts by class, so a person decides classes rather than single conflicts: how many per
/// field, and which pairs of silos disagree most, on which fields. A conflict counts once for
/// each pair of silos that hold different values in it (a silo whose own sources disagree —
/// its sidecar against its embedded metadata, say — pairs with itself).
public struct ConflictDigest: Sendable, Hashable {
    public struct Pair: Sendable, Hashable {
        public var silos: [String]
        public var conflicts: Int
        public var fields: [UnifiedField: Int]
    }
    public var byField: [(field: UnifiedField, conflicts: Int)] = []
    public var bySiloPair: [Pair] = []

    public static func == (a: Self, b: Self) -> Bool {
        a.byField.map(\.field) == b.byField.map(\.field) && a.byField.map(\.conflicts) == b.byField.map(\.conflicts) && a.bySiloPair == b.bySiloPair
    }
    public func hash(into h: inout Hasher) { h.combine(bySiloPair) }

    public init(_ assets: [ReconciledAsset]) {
        var fields: [UnifiedField: Int] = [:]
        var pairs: [[String]: Pair] = [:]
        for a in assets {
            for f in a.fields where f.status == .conflict {
                fields[f.field, default: 0] += 1
                let groups = ConflictsJSON.grouped(f).map { Set($0.sources.map(\.silo)) }
                var seen: Set<[String]> = []
                for i in groups.indices {
                    for j in groups.indices where j > i {
                        for x in groups[i] {
                            for y in groups[j] {
                                let key = [x, y].sorted()
                                guard seen.insert(key).inserted else { continue }
                                pairs[key, default: Pair(silos: key, conflicts: 0, fields: [:])].conflicts += 1
                                pairs[key]!.fields[f.field, default: 0] += 1
                            }
                        }
                    }
                }
            }
        }
        byField = fields.map { ($0.key, $0.value) }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        bySiloPair = pairs.values.sorted { $0.conflicts != $1.conflicts ? $0.conflicts > $1.conflicts : $0.silos.lexicographicallyPrecedes($1.silos) }
    }
}
