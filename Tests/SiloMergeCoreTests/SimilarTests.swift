import Foundation
import Testing
@testable import SiloMergeCore

/// A seeded generator (SplitMix64), so a failing case can be replayed.
fileprivate struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// `hash` with `count` distinct random bits flipped.
fileprivate func flip(_ hash: UInt64, bits count: Int, using rng: inout SeededRandom) -> UInt64 {
    var positions = Array(0..<64)
    positions.shuffle(using: &rng)
    return positions.prefix(count).reduce(hash) { $0 ^ (1 << UInt64($1)) }
}

fileprivate func bruteForce(_ hashes: [PerceptualHash], _ query: PerceptualHash, _ radius: Int) -> [Int] {
    hashes.indices.filter { hashes[$0].distance(to: query) <= radius }
}

@Suite("Perceptual hash values")
struct PerceptualHashValueTests {
    @Test func hexRoundTripAndCodable() throws {
        let h = PerceptualHash(bits: 0x00f0_1234_abcd_ef01)
        #expect(h.description == "00f01234abcdef01")
        #expect(PerceptualHash(hex: "00F01234ABCDEF01") == h)
        #expect(PerceptualHash(hex: "f01234abcdef01") == nil)      // 14 digits
        #expect(PerceptualHash(hex: "00f01234abcdef0g") == nil)
        let json = try JSONEncoder().encode([h])
        #expect(String(decoding: json, as: UTF8.self) == #"["00f01234abcdef01"]"#)
        #expect(try JSONDecoder().decode([PerceptualHash].self, from: json) == [h])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([PerceptualHash].self, from: Data(#"["xyz"]"#.utf8)) }
    }

    @Test func distanceCountsDifferingBits() {
        #expect(PerceptualHash(bits: 0).distance(to: PerceptualHash(bits: ~0)) == 64)
        #expect(PerceptualHash(bits: 0b1011).distance(to: PerceptualHash(bits: 0b0110)) == 3)
    }

    @Test func dihedralVariantsFormTheGroupOfTheRectangle() {
        var rng = SeededRandom(5)
        for _ in 0..<200 {
            let h = PerceptualHash(bits: rng.next())
            let v = h.dihedralVariants
            #expect(v.count == 8 && v[0] == h)
            // Each variant is an isometry: distances between two hashes are kept.
            let other = PerceptualHash(bits: rng.next())
            let w = other.dihedralVariants
            for i in 0..<8 { #expect(v[i].distance(to: w[i]) == h.distance(to: other)) }
            // Mirrors and the transpose undo themselves; a quarter turn four times is nothing.
            for i in [1, 2, 3, 4, 7] { #expect(v[i].dihedralVariants[i] == h) }
            let quarter = { (x: PerceptualHash) in x.dihedralVariants[6] }
            #expect(quarter(quarter(quarter(quarter(h)))) == h)
            #expect(quarter(quarter(h)) == v[3])
            #expect(quarter(v[5]) == h)   // clockwise after counter-clockwise
        }
    }
}

@Suite("Hamming index (multi-index hashing) against brute force")
struct HammingIndexTests {
    func check(_ hashes: [PerceptualHash], queries: [PerceptualHash], radii: [Int]) {
        let index = HammingIndex(hashes)
        for q in queries {
            for r in radii {
                let found = index.neighbours(of: q, within: r)
                #expect(found.map(\.index) == bruteForce(hashes, q, r), "query \(q) radius \(r)")
                #expect(found.allSatisfy { hashes[$0.index].distance(to: q) == $0.distance })
            }
        }
    }

    @Test func randomSetsEveryRadius() {
        var rng = SeededRandom(1)
        let hashes = (0..<20_000).map { _ in PerceptualHash(bits: rng.next()) }
        // Queries near members (so there is something to find) and random ones.
        var queries = (0..<40).map { _ in PerceptualHash(bits: flip(hashes[Int.random(in: 0..<hashes.count, using: &rng)].bits, bits: Int.random(in: 0...12, using: &rng), using: &rng)) }
        queries += (0..<10).map { _ in PerceptualHash(bits: rng.next()) }
        check(hashes, queries: queries, radii: [0, 1, 3, 4, 7, 8, 10, 12, 15, 16, 20, 31, 32, 64])
    }

    @Test func clusteredHashesLikeDerivatives() {
        // A few hundred "photos", each with derivatives a few bits away: many hits per query.
        var rng = SeededRandom(2)
        var hashes: [PerceptualHash] = []
        for _ in 0..<300 {
            let centre = rng.next()
            hashes.append(PerceptualHash(bits: centre))
            for _ in 0..<Int.random(in: 1...12, using: &rng) {
                hashes.append(PerceptualHash(bits: flip(centre, bits: Int.random(in: 0...14, using: &rng), using: &rng)))
            }
        }
        check(hashes, queries: Array(hashes.shuffled(using: &rng).prefix(60)), radii: [0, 2, 6, 10, 14])
    }

    @Test func adversarialSets() {
        var rng = SeededRandom(3)
        let q: UInt64 = 0x0123_4567_89ab_cdef
        var hashes: [PerceptualHash] = []
        // Every hash equal to the query (one bucket holds them all).
        hashes += Array(repeating: PerceptualHash(bits: q), count: 500)
        // All differing bits inside one 16-bit chunk (the pigeonhole's worst case), for each chunk.
        for chunk in 0..<4 {
            for k in 0...16 {
                let mask = (UInt64(1) << UInt64(k)) - 1
                hashes.append(PerceptualHash(bits: q ^ (mask << UInt64(16 * chunk))))
            }
        }
        // Differences spread evenly: exactly r/4 bits in each chunk, and r/4 + 1.
        for per in 0...4 {
            var m: UInt64 = 0
            for chunk in 0..<4 { m |= ((UInt64(1) << UInt64(per)) - 1) << UInt64(16 * chunk) }
            hashes.append(PerceptualHash(bits: q ^ m))
        }
        // At exactly r and r + 1 bits for every r, and the extremes.
        for r in 0...20 { hashes.append(PerceptualHash(bits: flip(q, bits: r, using: &rng))) }
        hashes += [PerceptualHash(bits: 0), PerceptualHash(bits: ~0), PerceptualHash(bits: ~q)]
        // Enough random hashes that the index (not the linear fallback) answers small radii.
        hashes += (0..<5_000).map { _ in PerceptualHash(bits: rng.next()) }
        hashes.shuffle(using: &rng)
        check(hashes, queries: [PerceptualHash(bits: q), PerceptualHash(bits: ~q), PerceptualHash(bits: 0)],
              radii: Array(0...24) + [40, 63, 64])
    }

    @Test func tinyAndEmptyIndexes() {
        check([], queries: [PerceptualHash(bits: 1)], radii: [0, 10])
        check([PerceptualHash(bits: 7)], queries: [PerceptualHash(bits: 7), PerceptualHash(bits: 0)], radii: [0, 2, 3, 64])
    }
}

@Suite("Derivative grouping")
struct DerivativeGroupingTests {
    typealias C = DerivativeCandidate<String>

    /// A square image `side` pixels wide (so more pixels is a larger side).
    func c(_ id: String, _ bits: UInt64, side: Int = 100, rich: Int = 0, priority: Int = 1) -> C {
        C(id: id, hash: PerceptualHash(bits: bits), width: side, height: side, metadataRichness: rich, siloPriority: priority)
    }

    @Test func masterIsMostPixelsThenRichestThenPriorityThenID() {
        let base: UInt64 = 0xF0F0_F0F0_0F0F_0F0F
        var groups = DerivativeGrouping.group([c("web", base ^ 1, side: 400), c("orig", base, side: 1200), c("thumb", base ^ 3, side: 100)])
        #expect(groups.count == 1)
        #expect(groups[0].master.id == "orig" && groups[0].reason == .mostPixels)
        #expect(groups[0].derivatives.map(\.candidate.id) == ["web", "thumb"])
        #expect(groups[0].derivatives.map(\.distance) == [1, 2])

        groups = DerivativeGrouping.group([c("plain", base, rich: 2), c("captioned", base ^ 1, rich: 9)])
        #expect(groups[0].master.id == "captioned" && groups[0].reason == .richestMetadata)

        groups = DerivativeGrouping.group([c("hr", base, priority: 2), c("archive", base ^ 1, priority: 1)])
        #expect(groups[0].master.id == "archive" && groups[0].reason == .siloPriority)

        groups = DerivativeGrouping.group([c("b", base), c("a", base)])
        #expect(groups[0].master.id == "a" && groups[0].reason == .firstByID)
    }

    @Test func thresholdIsInclusiveAndLonersFormNoGroup() {
        let groups = DerivativeGrouping.group([c("m", 0, side: 900), c("at", 0x3FF), c("past", 0x7FF << 20), c("alone", ~0)], maxDistance: 10)
        #expect(groups.count == 1)
        #expect(groups[0].derivatives.map(\.candidate.id) == ["at"])
    }

    @Test func groupsDoNotChain() {
        // a - b - c, each 8 bits from the next, a and c 16 apart: with threshold 10, c is not a's.
        let a: UInt64 = 0, b: UInt64 = 0xFF, cc: UInt64 = 0xFFFF
        let groups = DerivativeGrouping.group([c("a", a, side: 300), c("b", b, side: 200), c("c", cc, side: 100)], maxDistance: 10)
        #expect(groups.count == 1)
        #expect(groups[0].master.id == "a" && groups[0].derivatives.map(\.candidate.id) == ["b"])
        for g in groups { for d in g.derivatives { #expect(d.distance <= 10) } }
    }

    /// The same algorithm written the slow way: every pair compared, every variant.
    func naive(_ candidates: [C], _ t: Int, turns: Bool = true) -> [[String]] {
        let ordered = candidates.sorted(by: DerivativeGrouping.prefers)
        var taken = Set<Int>()
        var out: [[String]] = []
        for i in ordered.indices where !taken.contains(i) {
            taken.insert(i)
            let variants = turns ? ordered[i].hash.dihedralVariants : [ordered[i].hash]
            var near: [(Int, Int)] = []
            for j in ordered.indices where !taken.contains(j) {
                let d: Int = variants.map { $0.distance(to: ordered[j].hash) }.min()!
                if d <= t { near.append((j, d)) }
            }
            near.sort { (x: (Int, Int), y: (Int, Int)) -> Bool in x.1 != y.1 ? x.1 < y.1 : x.0 < y.0 }
            var time = ordered[i].captureTime
            var members: [Int] = []
            for (j, _) in near {
                if let a = time, let b = ordered[j].captureTime, a.differs(from: b) { continue }
                if time == nil { time = ordered[j].captureTime }
                members.append(j)
            }
            taken.formUnion(members)
            if !members.isEmpty { out.append([ordered[i].id] + members.map { ordered[$0].id }.sorted()) }
        }
        return out
    }

    @Test func matchesPairwiseGroupingAndIgnoresInputOrder() {
        var rng = SeededRandom(4)
        var candidates: [C] = []
        let times = ["2023-06-14T18:32:07.10", "2023-06-14T18:32:07.20", "2023-06-14T18:32:07", "2023-06-14T18:32:08"]
        for p in 0..<300 {
            let centre = rng.next()
            for d in 0..<Int.random(in: 1...5, using: &rng) {
                // Some derivatives turned or mirrored; some with capture times (a few of them bursts).
                var bits = flip(centre, bits: Int.random(in: 0...16, using: &rng), using: &rng)
                if Int.random(in: 0..<4, using: &rng) == 0 { bits = PerceptualHash(bits: bits).dihedralVariants[Int.random(in: 1..<8, using: &rng)].bits }
                var candidate = c("p\(p)-\(d)", bits, side: Int.random(in: 1...5, using: &rng) * 100,
                                  rich: Int.random(in: 0...3, using: &rng), priority: Int.random(in: 1...3, using: &rng))
                if Bool.random(using: &rng) { candidate.captureTime = CaptureTime(iso: times.randomElement(using: &rng)!) }
                candidates.append(candidate)
            }
        }
        for t in [0, 6, 10, 14] {
            let groups = DerivativeGrouping.group(candidates, maxDistance: t)
            let got = groups.map { [$0.master.id] + $0.derivatives.map(\.candidate.id).sorted() }
            #expect(got == naive(candidates, t), "threshold \(t)")
            let plain = DerivativeGrouping.group(candidates, maxDistance: t, turnsAndMirrors: false)
            #expect(plain.map { [$0.master.id] + $0.derivatives.map(\.candidate.id).sorted() } == naive(candidates, t, turns: false))
            let shuffled = DerivativeGrouping.group(candidates.shuffled(using: &rng), maxDistance: t)
            #expect(shuffled.map { [$0.master.id] + $0.derivatives.map(\.candidate.id).sorted() } == got)
        }
    }

    @Test func tinyImagesAndOtherShapesAreNeverDerivatives() {
        let hash: UInt64 = 0x0123_4567_89AB_CDEF
        func r(_ id: String, _ bits: UInt64, _ w: Int, _ h: Int) -> C {
            C(id: id, hash: PerceptualHash(bits: bits), width: w, height: h, metadataRichness: 0, siloPriority: 1)
        }
        let master = r("photo", hash, 4000, 3000)
        // Same hash, but 5 × 5 or 31 pixels high: never compared, whichever would be master.
        #expect(DerivativeGrouping.group([master, r("icon", hash, 5, 5), r("strip", hash, 400, 31)]).isEmpty)
        #expect(DerivativeGrouping.group([r("icon", hash, 5, 5), r("icon2", hash, 6, 6)]).isEmpty)
        // Resized (exact ratio) and cropped by 5 % of the width: derivatives. Square, or 4:3
        // standing upright without a turn: not.
        let groups = DerivativeGrouping.group([master, r("web", hash ^ 1, 800, 600), r("crop", hash ^ 2, 1140, 900),
                                               r("square", hash ^ 4, 900, 900), r("upright", hash ^ 8, 600, 800)])
        #expect(groups.count == 1)
        #expect(groups.first?.derivatives.map(\.candidate.id) == ["crop", "web"])
        // Upright through the turned hash is the photo turned: its shape fits once turned.
        let turned = r("turned", master.hash.dihedralVariants[6].bits, 600, 800)
        #expect(DerivativeGrouping.group([master, turned]).first?.derivatives.map(\.candidate.id) == ["turned"])
        #expect(DerivativeGrouping.comparable(width: 32, height: 32) && !DerivativeGrouping.comparable(width: 32, height: 31))
    }

    @Test func turnedAndMirroredCopiesAreFoundAndNamed() {
        let master = c("orig", 0x0123_4567_89AB_CDEF, side: 1000)
        let turned = c("turned", master.hash.dihedralVariants[6].bits ^ 0b11, side: 500)
        let groups = DerivativeGrouping.group([master, turned])
        #expect(groups.count == 1)
        #expect(groups[0].derivatives[0].transform == 6 && groups[0].derivatives[0].distance == 2)
        #expect(PerceptualHash.dihedralName(groups[0].derivatives[0].transform) == "turned 90° clockwise")
        #expect(DerivativeGrouping.group([master, turned], turnsAndMirrors: false).isEmpty)
    }

    @Test func burstsWithOtherCaptureTimesStayApart() {
        var a = c("frame1", 0xFFFF_0000_FFFF_0000, side: 100)
        var b = c("frame2", 0xFFFF_0000_FFFF_0001, side: 100)
        var web = c("frame1-web", 0xFFFF_0000_FFFF_0003, side: 50)
        a.captureTime = CaptureTime(iso: "2024-05-01T10:00:00.15")
        b.captureTime = CaptureTime(iso: "2024-05-01T10:00:00.25")
        web.captureTime = nil  // the export dropped the metadata
        var groups = DerivativeGrouping.group([a, b, web])
        // frame1 (first by id) takes the web copy; frame2 was taken at another moment.
        #expect(groups.count == 1 && groups[0].master.id == "frame1")
        #expect(groups[0].derivatives.map(\.candidate.id) == ["frame1-web"])
        groups = DerivativeGrouping.group([a, b, web], separateCaptureTimes: false)
        #expect(groups[0].derivatives.map(\.candidate.id) == ["frame2", "frame1-web"])
        // A master without a time takes the closest timed copy, then only copies of that moment.
        let untimed = c("big", 0xFFFF_0000_FFFF_0000, side: 1000)
        groups = DerivativeGrouping.group([untimed, a, b])
        #expect(groups.count == 1 && groups[0].derivatives.map(\.candidate.id) == ["frame1"])
    }
}

@Suite("Capture times")
struct CaptureTimeTests {
    @Test func parsesISODatesToTheSecondAndFraction() {
        let t = CaptureTime(iso: "2023-06-14T18:32:07.120+01:00")
        #expect(t?.seconds == 20230614183207 && t?.fraction == "12")
        #expect(CaptureTime(iso: "2023-06-14 18:32:07")?.fraction == nil)
        #expect(CaptureTime(iso: "2023-06-14") == nil)
        #expect(CaptureTime(iso: "2023-06-14T18:32") == nil)
        #expect(CaptureTime(iso: "2023-06-14T18:3x:07") == nil)
        #expect(CaptureTime(iso: "") == nil)
    }

    @Test func differsOnlyWhenKnownToDiffer() throws {
        let whole = try #require(CaptureTime(iso: "2023-06-14T18:32:07"))
        let a = try #require(CaptureTime(iso: "2023-06-14T18:32:07.1Z"))
        let a0 = try #require(CaptureTime(iso: "2023-06-14T18:32:07.100"))
        let b = try #require(CaptureTime(iso: "2023-06-14T18:32:07.2"))
        let later = try #require(CaptureTime(iso: "2023-06-14T18:32:08"))
        #expect(!a.differs(from: a0) && !a.differs(from: whole) && !whole.differs(from: b))
        #expect(a.differs(from: b) && whole.differs(from: later))
    }
}
