/// An image content that may be the master or a derivative of another: one per distinct content
/// (copies with the same SHA-256 are already one asset), with what decides the master.
public struct DerivativeCandidate<ID: Hashable & Comparable & Sendable>: Sendable {
    public var id: ID
    public var hash: PerceptualHash
    /// Displayed width and height (after the EXIF orientation).
    public var width: Int
    public var height: Int
    /// How many unified fields the content has a value for (more is richer).
    public var metadataRichness: Int
    /// The best (lowest) priority of the silos holding a copy, as in silomerge.yml.
    public var siloPriority: Int
    /// When the photo was taken, if its metadata says: two images taken at different moments
    /// are two shots (a burst), never one photo and its derivative.
    public var captureTime: CaptureTime?

    public init(id: ID, hash: PerceptualHash, width: Int, height: Int, metadataRichness: Int, siloPriority: Int,
                captureTime: CaptureTime? = nil) {
        self.id = id
        self.hash = hash
        self.width = width
        self.height = height
        self.metadataRichness = metadataRichness
        self.siloPriority = siloPriority
        self.captureTime = captureTime
    }

    public var pixels: Int64 { Int64(width) * Int64(height) }
}

/// A master and the images within the distance threshold of it.
public struct DerivativeGroup<ID: Hashable & Comparable & Sendable>: Sendable {
    public struct Member: Sendable {
        public var candidate: DerivativeCandidate<ID>
        /// Hamming distance from the master's hash (from its turned or mirrored hash, when
        /// `transform` is not 0).
        public var distance: Int
        /// How the derivative shows the master: 0 as is, else a turn or mirror
        /// (`PerceptualHash.dihedralName`).
        public var transform: Int
    }
    public var master: DerivativeCandidate<ID>
    /// Closest first (then in master order).
    public var derivatives: [Member]
    /// Why the master was chosen over the best of the others: "most pixels", "richest
    /// metadata", "silo priority", or "first by id" when all three tie.
    public var reason: DerivativeGrouping.Reason
}

/// Groups images that are the same photo at another size, quality, format, crop or orientation.
///
/// A pure function over candidates, deterministic whatever their order: candidates are taken in
/// master order (most pixels, then richest metadata, then best silo priority, then id); each
/// one not yet in a group becomes a master and takes, closest first, every candidate not yet in
/// a group whose hash is within `maxDistance` bits of its own (or of one of its turned and
/// mirrored hashes, with `turnsAndMirrors`) and whose capture time does not differ from the
/// group's. Every derivative is thus within the threshold of its master, and groups never chain
/// (A near B near C does not put A with a distant C, as single-linkage clustering would: a
/// burst of photos drifting frame by frame stays apart). Neighbours come from a
/// `HammingIndex`, eight lookups a master at most, never from comparing all pairs. Candidates
/// with no derivative form no group.
///
/// Two more rules keep unrelated pictures apart when their hashes happen to meet (found on
/// public test suites, where a 5 × 5 icon's hash equalled a 12-megapixel photo's turned hash):
/// - an image smaller than `minimumSide` pixels on a side is never compared: a hash of a
///   32 × 32 resampling of fewer pixels than that describes the resampling, not a picture;
/// - a derivative has its master's shape: its width-to-height ratio (turned a quarter when
///   the match is through a turned or transposed hash) is within `maxAspectChange` of the
///   master's. A resized, recompressed or converted copy keeps the ratio exactly, a crop of
///   up to 5 % of a side changes it by at most 5 %.
public enum DerivativeGrouping {
    /// The threshold measured by tools/similar/measure-accuracy.py (see README, "Similar
    /// images"): the largest distance at which precision (bursts apart) stays at or above 0.99
    /// on the measurement set. With the sign-bit hash and its turned and mirrored variants:
    /// 1.0 up to 12 bits, 0.987 at 13; recall 0.998 at 12 (every derivative grouped with its
    /// original), 0.986 at 10, where 2 of 60 crops of up to 5 % were missed.
    public static let defaultMaxDistance = 12
    /// The smallest width and height an image must have to be compared.
    public static let minimumSide = 32
    /// The largest factor between a master's and a derivative's width-to-height ratios.
    public static let maxAspectChange = 1.10

    /// Whether an image of this size is compared at all (`minimumSide`).
    public static func comparable(width: Int, height: Int) -> Bool { min(width, height) >= minimumSide }

    /// Whether `d` has the shape of `master` seen through the dihedral `transform`
    /// (`PerceptualHash.dihedralVariants` index: 4...7 swap the axes).
    static func sameShape<ID>(_ master: DerivativeCandidate<ID>, _ d: DerivativeCandidate<ID>, transform: Int) -> Bool {
        let (w, h) = transform & 4 != 0 ? (d.height, d.width) : (d.width, d.height)
        // (W / H) / (w / h), without dividing by zero (both are comparable, so non-zero).
        let ratio = (Double(master.width) * Double(h)) / (Double(master.height) * Double(w))
        return max(ratio, 1 / ratio) <= maxAspectChange
    }

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

    /// - Parameters:
    ///   - maxDistance: the largest Hamming distance from a master (inclusive).
    ///   - turnsAndMirrors: also match the master's seven turned and mirrored hashes (only
    ///     meaningful for the sign-bit pHash SiloMergeImaging computes).
    ///   - separateCaptureTimes: never group two images whose capture times differ.
    public static func group<ID>(_ candidates: [DerivativeCandidate<ID>], maxDistance: Int = defaultMaxDistance,
                                 turnsAndMirrors: Bool = true, separateCaptureTimes: Bool = true) -> [DerivativeGroup<ID>] {
        precondition((0...64).contains(maxDistance), "a Hamming distance is 0...64")
        let ordered = candidates.filter { comparable(width: $0.width, height: $0.height) }.sorted(by: prefers)
        let index = HammingIndex(ordered.map(\.hash))
        var taken = [Bool](repeating: false, count: ordered.count)
        var groups: [DerivativeGroup<ID>] = []
        for i in ordered.indices where !taken[i] {
            taken[i] = true
            // The closest of the master's variants for each neighbour.
            var best: [Int: (distance: Int, transform: Int)] = [:]
            let variants = turnsAndMirrors ? ordered[i].hash.dihedralVariants : [ordered[i].hash]
            for (k, variant) in variants.enumerated() {
                for n in index.neighbours(of: variant, within: maxDistance)
                    where !taken[n.index] && sameShape(ordered[i], ordered[n.index], transform: k) {
                    if let seen = best[n.index], seen.distance <= n.distance { continue }
                    best[n.index] = (n.distance, k)
                }
            }
            // Closest first; at equal distance, master order (positions are in master order).
            let near = best.sorted { $0.value.distance != $1.value.distance ? $0.value.distance < $1.value.distance : $0.key < $1.key }
            var time = ordered[i].captureTime
            var members: [DerivativeGroup<ID>.Member] = []
            for (position, match) in near {
                let candidate = ordered[position]
                if separateCaptureTimes, let t = time, let c = candidate.captureTime, t.differs(from: c) { continue }
                if time == nil { time = candidate.captureTime }
                taken[position] = true
                members.append(.init(candidate: candidate, distance: match.distance, transform: match.transform))
            }
            guard !members.isEmpty else { continue }
            let runnerUp = members.map(\.candidate).min(by: prefers)!
            groups.append(DerivativeGroup(master: ordered[i], derivatives: members, reason: reason(ordered[i], over: runnerUp)))
        }
        return groups
    }
}
