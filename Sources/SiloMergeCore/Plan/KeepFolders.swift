import Foundation

/// `plan --keep-folders`: one folder of each duplicate-folder group (`DuplicateFolders`) is
/// kept whole in the target, its tree as it is in its silo, instead of its files being
/// scattered by the layout template.
///
/// - **Which folder.** The canonical rules decide, as for files: for every content with copies
///   in two or more folders of the group, the rules choose among those copies; the folder whose
///   copies win most often is kept (ties: silo priority, silo name, path). With the default
///   rules that is the folder of the highest-priority silo.
/// - **Where.** Under `Folders/<silo>/<path of the folder in its silo>/` in the target (a whole
///   silo copied: `Folders/<silo>/`), every name made safe like the layout's. `Folders/` is the
///   kept folders' own: a plan whose layout puts anything under it is refused, and so is a
///   quarantine folder there.
/// - **What.** Every file below the kept folder that the plan carries lands at its place
///   below it; a content the folder holds twice is carried twice (each name from its own
///   file), a second name of one file (a hard link) once. A kept folder inside another kept
///   folder is already carried by it. Copies elsewhere (the group's other folders, loose
///   copies) are duplicates of the kept copy, as usual. Placements are ordinary transfers:
///   validated, journalled, verified and undone like any other.
struct KeptFolders {
    /// The top folder in the target that holds the kept folders.
    static let root = "Folders"

    struct Kept {
        var folder: FolderRef
        /// Where it lands, relative to the target.
        var destination: [String]
        var reason: String
    }

    /// Kept folders, outermost only, in group order.
    private(set) var kept: [Kept] = []
    /// Kept folder index by silo (exact bytes), then folder path.
    private var bySilo: [[UInt8]: [RelativePath: Int]] = [:]

    /// Chooses the kept folder of each group among `groups` (folders of silos the plan does
    /// not name are left out; a group left with one folder keeps nothing).
    init(groups: [DuplicateFolderGroup], assets: [ReconciledAsset], silos: [[UInt8]: PlanSilo],
         chooser: CanonicalChooser, unverified: Set<[UInt8]>) {
        // Each group's folders, by silo and path.
        var members: [[UInt8]: [RelativePath: [(group: Int, member: Int)]]] = [:]
        var folders: [[FolderRef]] = []
        for (g, group) in groups.enumerated() {
            let inPlan = group.folders.filter { silos[$0.silo.exactBytes] != nil }
            folders.append(inPlan)
            guard inPlan.count > 1 else { continue }
            for (m, f) in inPlan.enumerated() { members[f.silo.exactBytes, default: [:]][f.path, default: []].append((g, m)) }
        }
        // Votes: per group, per content with copies in two or more of its folders, the folder
        // of the copy the rules choose among those.
        var votes = folders.map { [Int](repeating: 0, count: $0.count) }
        var example = folders.map { [String?](repeating: nil, count: $0.count) }
        var within: [Int: [(member: Int, copy: AssetCopy)]] = [:]
        for asset in assets {
            within.removeAll(keepingCapacity: true)
            for copy in asset.copies {
                guard let folders = members[copy.silo.exactBytes] else { continue }
                var p = copy.path
                while !p.isRoot {
                    p = p.parent
                    for hit in folders[p] ?? [] { within[hit.group, default: []].append((hit.member, copy)) }
                }
            }
            for (g, hits) in within where Set(hits.map(\.member)).count > 1 {
                var restricted = asset
                restricted.copies = hits.map(\.copy)
                guard let choice = chooser.choose(restricted, unverified: unverified),
                      let winner = hits.first(where: { $0.copy == choice.copy }) else { continue }
                votes[g][winner.member] += 1
                if example[g][winner.member] == nil { example[g][winner.member] = choice.reason }
            }
        }
        var chosen: [Kept] = []
        for (g, list) in folders.enumerated() where list.count > 1 {
            let total = votes[g].reduce(0, +)
            guard total > 0 else { continue }
            // Most votes; ties go to the first in the group's order (priority, silo, path).
            var best = 0
            for m in list.indices where votes[g][m] > votes[g][best] { best = m }
            let f = list[best]
            let others = list.enumerated().filter { $0.offset != best }.map { "\($0.element.silo):\($0.element.display)/" }
            let why = "the canonical rules choose its copy for \(votes[g][best]) of \(Format.plural(total, "content"))"
                + (example[g][best].map { " (\($0))" } ?? "")
            chosen.append(Kept(folder: f, destination: Self.destination(f),
                               reason: "kept whole (--keep-folders) as the copy of \(others.joined(separator: ", ")): \(why)"))
        }
        // Outermost only: a kept folder inside another kept folder of its silo is carried by it.
        var keptPaths: [[UInt8]: Set<RelativePath>] = [:]
        for k in chosen { keptPaths[k.folder.silo.exactBytes, default: []].insert(k.folder.path) }
        for k in chosen {
            let paths = keptPaths[k.folder.silo.exactBytes]!
            var p = k.folder.path
            var inside = false
            while !p.isRoot {
                p = p.parent
                if paths.contains(p) { inside = true; break }
            }
            guard !inside else { continue }
            bySilo[k.folder.silo.exactBytes, default: [:]][k.folder.path] = kept.count
            kept.append(k)
        }
    }

    var isEmpty: Bool { kept.isEmpty }

    /// `Folders/<silo>/<path>`, each name made safe.
    static func destination(_ f: FolderRef) -> [String] {
        [root, NameSanitizer.component(f.silo)] + f.path.components.map { NameSanitizer.component(NameSanitizer.text(fromBytes: $0)) }
    }

    /// The kept folder a copy lies in, and its destination (nil: placed by the layout).
    func placement(of copy: AssetCopy) -> (kept: Kept, destination: [String])? {
        guard let folders = bySilo[copy.silo.exactBytes] else { return nil }
        var p = copy.path
        var below: [String] = [NameSanitizer.component(NameSanitizer.text(fromBytes: copy.path.lastComponent))]
        while !p.isRoot {
            p = p.parent
            if let i = folders[p] { return (kept[i], kept[i].destination + below.reversed()) }
            if !p.isRoot { below.append(NameSanitizer.component(NameSanitizer.text(fromBytes: p.lastComponent))) }
        }
        return nil
    }

    struct Placement {
        var copy: AssetCopy
        var folder: FolderRef
        var destination: [String]
        var reason: String
        var extra: Bool
    }

    /// Where a content's copies in kept folders go (empty: the layout places it). The first is
    /// its canonical copy (the rules choose among the kept copies); the others are more names
    /// of it in kept folders, one per physical file (a hard link of a placed file is not
    /// carried twice).
    func placements(of asset: ReconciledAsset, chooser: CanonicalChooser, unverified: Set<[UInt8]>) -> [Placement] {
        var inKept: [(copy: AssetCopy, kept: Kept, destination: [String])] = []
        for c in asset.copies.sorted(by: CanonicalChooser.stableOrder) {
            if let p = placement(of: c) { inKept.append((c, p.kept, p.destination)) }
        }
        guard !inKept.isEmpty else { return [] }
        var restricted = asset
        restricted.copies = inKept.map(\.copy)
        guard let choice = chooser.choose(restricted, unverified: unverified),
              let first = inKept.firstIndex(where: { $0.copy == choice.copy }) else { return [] }
        inKept.insert(inKept.remove(at: first), at: 0)
        var files: Set<HostFileID> = []
        var out: [Placement] = []
        for (n, k) in inKept.enumerated() where files.insert(k.copy.physicalFile).inserted {
            let at = "in \(k.kept.folder.silo):\(k.kept.folder.display)/, \(k.kept.reason)"
            let reason = n == 0
                ? (inKept.count > 1 ? "\(at); among its copies there: \(choice.reason)" : at)
                : "\(at); another copy of a content the kept folders hold more than once, carried from its own file to its own place"
            out.append(Placement(copy: k.copy, folder: k.kept.folder, destination: k.destination, reason: reason, extra: n > 0))
        }
        return out
    }

    /// Refuses a plan whose layout or quarantine folder would put anything under `Folders/`.
    static func checkReserved(_ placed: [Planner.Placed], quarantineInTarget: [String]?) throws(PlanError) {
        let key = NameTable.key([root])
        if let q = quarantineInTarget, let first = q.first, NameTable.key([first]) == key {
            throw .invalidSettings("--keep-folders keeps folders under \(root)/ in the target; the quarantine folder is there too (\(q.joined(separator: "/"))): choose another --quarantine")
        }
        let clashing = placed.filter { $0.keptFolder == nil && $0.wanted.count > 1 && NameTable.key([$0.wanted[0]]) == key }
        if let first = clashing.first {
            throw .invalidSettings("--keep-folders keeps folders under \(root)/ in the target, and the layout places \(Format.plural(clashing.count, "file")) there too (e.g. \(first.canonical.silo):\(first.canonical.path.display) → \(first.wanted.joined(separator: "/"))): use a layout whose first level is not '\(root)'")
        }
    }
}
