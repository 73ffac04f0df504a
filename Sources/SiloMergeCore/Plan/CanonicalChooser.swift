import Foundation

/// Chooses the canonical copy of a content by an ordered list of rules, and says why.
///
/// Each rule keeps the candidates that are best by it; the next rule decides among those. The
/// reason names every rule that narrowed the choice ("marketing has priority 1; only copy with
/// keywords"). When every rule ties, the copy first by silo name then path bytes wins, so the
/// choice never depends on the order the catalogue returned the copies in.
struct CanonicalChooser {
    let rules: [CanonicalRule]
    let globs: [String: Glob]

    init(rules: [CanonicalRule]) throws(PlanError) {
        self.rules = rules
        var globs: [String: Glob] = [:]
        for case .preferredPath(let pattern) in rules {
            do { globs[pattern] = try Glob(pattern) } catch {
                throw .invalidSettings("preferred-path glob '\(pattern)': \(error)")
            }
        }
        self.globs = globs
        guard !rules.isEmpty else { throw .invalidSettings("no canonical rule given") }
    }

    struct Choice {
        var copy: AssetCopy
        var reason: String
    }

    /// `unverified`: copies (`UnverifiedCopy.key`) whose content is not the one last verified:
    /// never chosen, whatever the rules say (nil when no other copy is left).
    func choose(_ asset: ReconciledAsset, unverified: Set<[UInt8]> = []) -> Choice? {
        // A deterministic starting order: silo priority, silo name, path bytes.
        var candidates = asset.copies.sorted(by: Self.stableOrder)
        var passedOver: [String] = []
        if !unverified.isEmpty {
            let suspect = candidates.filter { unverified.contains($0.silo.exactBytes + [0] + $0.path.bytes) }
            candidates.removeAll { unverified.contains($0.silo.exactBytes + [0] + $0.path.bytes) }
            passedOver = suspect.map { "\($0.silo):\($0.path.display) passed over (its content is not the one last verified)" }
        }
        guard let only = candidates.first else { return nil }
        if candidates.count == 1 {
            return Choice(copy: only, reason: (passedOver + ["only copy" + (passedOver.isEmpty ? "" : " left")]).joined(separator: "; "))
        }
        // Copies that are one physical file (hard links) have the same mtime and content; they
        // still compete on silo, path and metadata, since the one chosen is the name read from.
        let physical = Set(candidates.map(\.physicalFile)).count
        var reasons: [String] = []
        for rule in rules where candidates.count > 1 {
            let scored = candidates.map { (copy: $0, score: score($0, rule, asset)) }
            let best = scored.map(\.score).min()!
            let kept = scored.filter { $0.score == best }.map(\.copy)
            guard kept.count < candidates.count else { continue }
            let dropped = candidates.filter { c in !kept.contains(c) }
            reasons.append(explain(rule, kept: kept, dropped: dropped, asset: asset))
            candidates = kept
        }
        if candidates.count > 1 {
            reasons.append(physical == 1 ? "all copies are one file (hard links); first by silo and path"
                                         : "rules tie; first by silo name and path")
        }
        return Choice(copy: candidates[0], reason: (passedOver + reasons).joined(separator: "; "))
    }

    static func stableOrder(_ a: AssetCopy, _ b: AssetCopy) -> Bool {
        if a.siloPriority != b.siloPriority { return a.siloPriority < b.siloPriority }
        if !a.silo.utf8.elementsEqual(b.silo.utf8) { return a.silo.utf8.lexicographicallyPrecedes(b.silo.utf8) }
        return a.path < b.path
    }

    /// Lower is better.
    func score(_ copy: AssetCopy, _ rule: CanonicalRule, _ asset: ReconciledAsset) -> Int64 {
        switch rule {
        case .siloPriority: Int64(copy.siloPriority)
        case .richestMetadata: -Int64(Self.fields(of: copy, in: asset).count)
        case .oldestMtime: copy.mtimeNs
        case .shortestPath: Int64(copy.path.bytes.count)
        case .preferredPath(let pattern): globs[pattern]!.matches(path: copy.path, isDirectory: false) ? 0 : 1
        }
    }

    func explain(_ rule: CanonicalRule, kept: [AssetCopy], dropped: [AssetCopy], asset: ReconciledAsset) -> String {
        let winner = kept[0]
        switch rule {
        case .siloPriority:
            return "\(winner.silo) has priority \(winner.siloPriority)"
        case .richestMetadata:
            let mine = Self.fields(of: winner, in: asset)
            let others = dropped.reduce(into: Set<UnifiedField>()) { $0.formUnion(Self.fields(of: $1, in: asset)) }
            let unique = mine.subtracting(others).sorted().map { $0.rawValue.replacingOccurrences(of: "_", with: " ") }
            if !unique.isEmpty {
                let names = unique.count == 1 ? unique[0] : unique.dropLast().joined(separator: ", ") + " and " + unique.last!
                return kept.count == 1 ? "only copy with \(names)" : "copies with \(names) preferred"
            }
            let most = dropped.map { Self.fields(of: $0, in: asset).count }.max() ?? 0
            return "richest metadata (\(Format.plural(mine.count, "field")), others \(most))"
        case .oldestMtime:
            let (y, m, d) = AssetDate.utcDay(nanoseconds: winner.mtimeNs)
            let sameDay = dropped.contains { AssetDate.utcDay(nanoseconds: $0.mtimeNs) == (y, m, d) }
            let when = sameDay ? Timestamp.string(nanoseconds: winner.mtimeNs) : "\(y)-\(m)-\(d)"
            return kept.count == 1 ? "oldest copy (\(when))" : "oldest copies (\(when))"
        case .shortestPath:
            return "shortest path (\(winner.path.display))"
        case .preferredPath(let pattern):
            return "path matches preferred '\(pattern)'"
        }
    }

    /// The reconciled fields this copy contributed a value to: a source in its silo with its
    /// path, or its sidecar (`name.xmp`, `name.ext.xmp` beside it). File-system facts and header
    /// values (every copy has the same) do not count.
    static func fields(of copy: AssetCopy, in asset: ReconciledAsset) -> Set<UnifiedField> {
        var out: Set<UnifiedField> = []
        for field in asset.fields {
            for source in field.sources where source.origin != .filesystem && source.origin != .header {
                if source.silo.exactBytes == copy.silo.exactBytes && belongs(source.path, to: copy.path) { out.insert(field.field); break }
            }
        }
        return out
    }

    static func belongs(_ sourcePath: RelativePath, to copyPath: RelativePath) -> Bool {
        if sourcePath == copyPath { return true }
        guard sourcePath.parent == copyPath.parent else { return false }
        let name = Array(copyPath.lastComponent)
        let other = Array(sourcePath.lastComponent)
        let lower = other.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 32 : $0 }
        guard lower.count > 4, Array(lower.suffix(4)) == Array(".xmp".utf8) else { return false }
        let base = Array(other.dropLast(4))
        if base == name { return true }                                  // photo.jpg.xmp
        if let dot = name.lastIndex(of: 0x2E), dot > 0, Array(name[..<dot]) == base { return true }   // photo.xmp
        return false
    }
}
