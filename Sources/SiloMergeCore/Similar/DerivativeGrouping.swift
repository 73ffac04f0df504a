/// An image content that may be the master or a derivative of another: one per distinct content
/// (copies with the same SHA-256 are already one asset), with what decides the master.
public struct DerivativeCandidate<ID: Hashable & Comparable & Sendable>: Sendable {
    public var id: ID
    public var hash: PerceptualHash
    /// Displayed width × height.
    public var pixels: Int64
    /// How many unified fields the content has a value for (more is richer).
    public var metadataRichness: Int
    /// The best (lowest) priority of the silos holding a copy, as in silomerge.yml.
    public var siloPriority: Int

    public init(id: ID, hash: PerceptualHash, pixels: Int64, metadataRichness: Int, siloPriority: Int) {
        self.id = id
        self.hash = hash
        self.pixels = pixels
        self.metadataRichness = metadataRichness
        self.siloPriority = siloPriority
    }
}

/// A master and the images within the distance threshold of it.
public struct DerivativeGroup<ID: Hashable & Comparable & Sendable>: Sendable {
    public struct Member: Sendable {
        public var candidate: DerivativeCandidate<ID>
        /// Hamming distance from the master's hash.
        public var distance: Int
    }
    public var master: DerivativeCandidate<ID>
    /// Closest first (then in master order).
    public var derivatives: [Member]
    /// Why the master was chosen over the best of the others: "most pixels", "richest
    /// metadata", "silo priority", or "first by id" when all three tie.
    public var reason: DerivativeGrouping.Reason
}

/// Groups images that are the same photo at another size, quality, format or crop.
///
/// A pure function over candidates, deterministic whatever their order: candidates are taken in
/// master order (most pixels, then richest metadata, then best silo priority, then id); each
/// one not yet in a group becomes a master and takes every candidate not yet in a group whose
/// hash is within `maxDistance` bits of its own. Every derivative is thus within the threshold
/// of its master, and groups never chain (A near B near C does not put A with a distant C, as
/// single-linkage clustering would: a burst of photos drifting frame by frame stays apart).
/// Neighbours come from a `HammingIndex`, not from comparing all pairs. Candidates with no
/// derivative form no group.
public enum DerivativeGrouping {
    /// The threshold measured by tools/similar/measure-accuracy.py (see README, "Similar
    /// images"): the largest distance at which precision stays at or above 0.99 on the
    /// measurement set.
    public static let defaultMaxDistance = 10

    public enum Reason: String, Sendable, Codable {
        case mostPixels = "most pixels"
        case richestMetadata = "richest metadata"
        case siloPriority = "silo priority"
        case firstByID = "first by id"
    }

    /// True when `a` is a better master than `b`.
    public static func prefers<ID>(_ a: DerivativeCandidate<ID>, _ b: DerivativeCandidate<ID>) -> Bool {
        if a.pixels != b.pixels { return a.pixels > b.pixels }
        if a.metadataRichness != b.metadataRichness { return a.metadataRichness > b.metadataRichness }
        if a.siloPriority != b.siloPriority { return a.siloPriority < b.siloPriority }
        return a.id < b.id
    }

    static func reason<ID>(_ master: DerivativeCandidate<ID>, over other: DerivativeCandidate<ID>) -> Reason {
        if master.pixels != other.pixels { return .mostPixels }
        if master.metadataRichness != other.metadataRichness { return .richestMetadata }
        if master.siloPriority != other.siloPriority { return .siloPriority }
        return .firstByID
    }

    public static func group<ID>(_ candidates: [DerivativeCandidate<ID>], maxDistance: Int = defaultMaxDistance) -> [DerivativeGroup<ID>] {
        precondition((0...64).contains(maxDistance), "a Hamming distance is 0...64")
        let ordered = candidates.sorted(by: prefers)
        let index = HammingIndex(ordered.map(\.hash))
        var taken = [Bool](repeating: false, count: ordered.count)
        var groups: [DerivativeGroup<ID>] = []
        for i in ordered.indices where !taken[i] {
            taken[i] = true
            var members: [(position: Int, distance: Int)] = []
            for n in index.neighbours(of: ordered[i].hash, within: maxDistance) where !taken[n.index] {
                taken[n.index] = true
                members.append((n.index, n.distance))
            }
            guard !members.isEmpty else { continue }
            // Closest first; at equal distance, master order (positions are in master order).
            members.sort { $0.distance != $1.distance ? $0.distance < $1.distance : $0.position < $1.position }
            let runnerUp = members.map(\.position).min()!
            groups.append(DerivativeGroup(
                master: ordered[i],
                derivatives: members.map { .init(candidate: ordered[$0.position], distance: $0.distance) },
                reason: reason(ordered[i], over: ordered[runnerUp])))
        }
        return groups
    }
}
