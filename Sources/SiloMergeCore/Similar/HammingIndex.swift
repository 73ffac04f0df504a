/// Finds the hashes within a Hamming radius of a query without comparing it with every hash:
/// multi-index hashing (Norouzi, Punjani and Fleet, "Fast Search in Hamming Space with Multi-Index
/// Hashing", CVPR 2012).
///
/// Each 64-bit hash is cut into four 16-bit chunks, and each chunk position has a table from
/// chunk value to the hashes that have it. Two hashes at most `r` bits apart differ, by the
/// pigeonhole principle, in at most `r / 4` bits (rounded down) of at least one chunk; so a
/// query looks up, in each table, every chunk value within `r / 4` bits of its own (137 values
/// for r = 8...11) and checks the full distance of what it finds. Each hash is reported once:
/// from the first table where its chunk is that close. When the enumeration would cost more
/// than reading every hash (a large radius, a small index), the query reads every hash instead.
///
/// Memory: 1 MiB of bucket offsets plus 24 bytes a hash. Built once, immutable, `Sendable`.
public struct HammingIndex: Sendable {
    public let hashes: [PerceptualHash]
    /// For chunk position t, the ids whose chunk t is v are ids[t][start[t][v] ..< start[t][v + 1]].
    private let start: [[Int32]]
    private let ids: [[Int32]]

    public init(_ hashes: [PerceptualHash]) {
        precondition(hashes.count < Int(Int32.max), "an index holds fewer than 2^31 hashes")
        self.hashes = hashes
        var start: [[Int32]] = []
        var ids: [[Int32]] = []
        for t in 0..<4 {
            // Counting sort of the ids by chunk value (compressed sparse rows).
            var counts = [Int32](repeating: 0, count: 65_537)
            for h in hashes { counts[Int(Self.chunk(h.bits, t)) + 1] += 1 }
            for v in 0..<65_536 { counts[v + 1] += counts[v] }
            var fill = counts
            var column = [Int32](repeating: 0, count: hashes.count)
            for (i, h) in hashes.enumerated() {
                let v = Int(Self.chunk(h.bits, t))
                column[Int(fill[v])] = Int32(i)
                fill[v] += 1
            }
            start.append(counts)
            ids.append(column)
        }
        self.start = start
        self.ids = ids
    }

    public var count: Int { hashes.count }

    @inline(__always)
    static func chunk(_ bits: UInt64, _ t: Int) -> UInt16 { UInt16(truncatingIfNeeded: bits >> (16 * UInt64(t))) }

    /// Every hash within `radius` bits of `query` (0...64), as (position in `hashes`, distance),
    /// in position order.
    public func neighbours(of query: PerceptualHash, within radius: Int) -> [(index: Int, distance: Int)] {
        precondition((0...64).contains(radius), "a Hamming radius is 0...64")
        var found: [(index: Int, distance: Int)] = []
        let k = radius / 4
        let masks = Self.masks.prefix(Self.masksUpTo[k])
        if masks.count * 4 >= hashes.count {
            for (i, h) in hashes.enumerated() {
                let d = h.distance(to: query)
                if d <= radius { found.append((i, d)) }
            }
            return found
        }
        for t in 0..<4 {
            let q = Self.chunk(query.bits, t)
            let start = self.start[t], ids = self.ids[t]
            for mask in masks {
                let v = Int(q ^ mask)
                var j = Int(start[v])
                let end = Int(start[v + 1])
                while j < end {
                    let i = Int(ids[j])
                    j += 1
                    let bits = hashes[i].bits
                    // Reported by an earlier table already?
                    var earlier = false
                    for s in 0..<t where (Self.chunk(bits, s) ^ Self.chunk(query.bits, s)).nonzeroBitCount <= k {
                        earlier = true
                        break
                    }
                    if earlier { continue }
                    let d = (bits ^ query.bits).nonzeroBitCount
                    if d <= radius { found.append((i, d)) }
                }
            }
        }
        found.sort { $0.index < $1.index }
        return found
    }

    /// Every 16-bit mask, ordered by the number of bits set; masksUpTo[k] is how many have at most k.
    static let masks: [UInt16] = (0...16).flatMap { k in (0...UInt16.max).filter { $0.nonzeroBitCount == k } }
    static let masksUpTo: [Int] = (0...16).map { k in (0...UInt16.max).count(where: { $0.nonzeroBitCount <= k }) }
}
