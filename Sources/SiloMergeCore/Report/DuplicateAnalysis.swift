import Foundation

/// One catalogued copy of a content, as a content stream gives it: its silo and its physical
/// identity (host, device, inode).
public struct ContentCopy: Sendable, Hashable {
    public var silo: Int64
    public var physical: PhysicalFileID
    public init(silo: Int64, physical: PhysicalFileID) { self.silo = silo; self.physical = physical }
}

/// The duplicate analysis as a fold over the content stream: a store gives each content
/// (SHA-256 and size) with its copies, in content order; this decides what is a duplicate,
/// what is reclaimable inside a silo and across silos, the silo × silo overlap and the largest
/// groups. No store decides any of it, so every backend reports the same figures.
public struct DuplicateFold: Sendable {
    public let silos: [Silo]
    public let top: Int
    private let index: [Int64: Int]
    public private(set) var summary = DuplicateSummary()
    public private(set) var statistics: [SiloStatistics]
    private var pairBytes: [[Int64]]
    private var pairContents: [[Int]]
    /// The `top` largest groups by reclaimable bytes, largest first.
    public private(set) var largest: [(sha: SHA256Digest, size: Int64, copies: Int)] = []

    /// `silos`: the silos covered, in report order.
    public init(silos: [Silo], top: Int) {
        self.silos = silos
        self.top = top
        index = Dictionary(uniqueKeysWithValues: silos.enumerated().map { ($1.id, $0) })
        statistics = silos.map { SiloStatistics(silo: $0.name, priority: $0.priority, files: 0, bytes: 0,
                                                duplicateBytesInside: 0, sharedBytes: 0, sharedFiles: 0) }
        pairBytes = [[Int64]](repeating: [Int64](repeating: 0, count: silos.count), count: silos.count)
        pairContents = [[Int]](repeating: [Int](repeating: 0, count: silos.count), count: silos.count)
    }

    /// The physical copies of one content: its hard links (one inode of one host) count once.
    public static func physicalCopies(_ copies: [ContentCopy]) -> Int { Set(copies.map(\.physical)).count }

    /// Files, bytes and unhashed files of one silo (from the store's totals).
    public mutating func addTotals(silo: Int64, files: Int, bytes: Int64, unhashed: Int) {
        guard let i = index[silo] else { return }
        statistics[i].files = files; statistics[i].bytes = bytes
        summary.files += files; summary.bytes += bytes; summary.unhashedFiles += unhashed
    }

    /// Hard links among the covered files: paths beyond the first of each physical file, and
    /// the bytes they repeat.
    public mutating func setHardLinks(extraPaths: Int, extraBytes: Int64) {
        summary.hardLinkedFiles = extraPaths
        summary.physicalBytes = summary.bytes - extraBytes
    }

    /// One content with all its covered copies.
    public mutating func add(sha: SHA256Digest, size: Int64, copies rows: [ContentCopy]) {
        var inodes = Set<PhysicalFileID>()
        var perSilo: [Int: (files: Int, inodes: Set<PhysicalFileID>)] = [:]
        for r in rows {
            inodes.insert(r.physical)
            guard let i = index[r.silo] else { continue }
            perSilo[i, default: (0, [])].files += 1
            perSilo[i]!.inodes.insert(r.physical)
        }
        let copies = inodes.count
        if copies > 1 {
            // One copy per silo holding the content is what "across" frees (hard links shared
            // by two silos can make that fewer); the rest is inside.
            let across = min(copies, perSilo.count) - 1
            summary.reclaimableAcrossSilos += Int64(across) * size
            summary.reclaimableInsideSilos += Int64(copies - 1 - across) * size
            summary.duplicateGroups += 1
            summary.duplicateFiles += rows.count
            summary.redundantCopies += copies - 1
            summary.reclaimableBytes += Int64(copies - 1) * size
            if top > 0 {
                let reclaim = Int64(copies - 1) * size
                if largest.count < top || reclaim > Int64(largest.last!.copies - 1) * largest.last!.size {
                    largest.append((sha, size, copies))
                    largest.sort { Int64($0.copies - 1) * $0.size > Int64($1.copies - 1) * $1.size }
                    if largest.count > top { largest.removeLast() }
                }
            }
        }
        for (i, entry) in perSilo where entry.inodes.count > 1 {
            statistics[i].duplicateBytesInside += Int64(entry.inodes.count - 1) * size
            pairBytes[i][i] += Int64(entry.inodes.count - 1) * size
            pairContents[i][i] += 1
        }
        if perSilo.count > 1 {
            summary.crossSiloContents += 1
            summary.crossSiloBytes += size
            let present = perSilo.keys.sorted()
            for i in present {
                statistics[i].sharedBytes += size
                statistics[i].sharedFiles += perSilo[i]!.files
            }
            for (n, a) in present.enumerated() {
                for b in present[(n + 1)...] { pairBytes[a][b] += size; pairContents[a][b] += 1 }
            }
        }
    }

    /// The silo × silo overlap (a silo with itself: duplicates inside it), pairs with shared
    /// contents only.
    public var overlap: [SiloOverlap] {
        var out: [SiloOverlap] = []
        for a in silos.indices {
            for b in a..<silos.count where pairContents[a][b] > 0 {
                out.append(SiloOverlap(a: silos[a].name, b: silos[b].name, bytes: pairBytes[a][b], contents: pairContents[a][b]))
            }
        }
        return out
    }

    /// The analysis, with the files of each of the largest groups from `files`.
    public func finish(files: (SHA256Digest, Int64) throws -> [GroupFile]) rethrows -> Analysis {
        let groups = try largest.map { g in
            DuplicateGroup(sha256: g.sha, size: g.size, files: try files(g.sha, g.size), physicalCopies: g.copies)
        }
        return Analysis(summary: summary, silos: statistics, overlap: overlap, largestGroups: groups)
    }
}
