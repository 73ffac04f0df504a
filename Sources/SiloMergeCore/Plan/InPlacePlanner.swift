import Foundation

/// How an in-place plan (`silomerge plan --in-place`) deduplicates: what becomes of each copy
/// that is not canonical. Nothing is written outside the silos except into the quarantine
/// folder (`quarantine` only).
public enum InPlaceMethod: String, Sendable, Hashable, Codable, CaseIterable {
    /// Shares the canonical copy's blocks (FIDEDUPERANGE): each name keeps its own file, inode,
    /// mode and times; the kernel compares the bytes itself and refuses ranges that differ, so
    /// a file edited after the scan is never lost. btrfs, XFS (reflink=1), bcachefs, OCFS2.
    case reflink
    /// Replaced by a hard link to the canonical copy (one file under two names from then on:
    /// a later edit through one name shows through the other).
    case hardlink
    /// Moved into the quarantine folder, keeping silo/path.
    case quarantine
    /// Deleted (only when asked for by name).
    case remove

    /// Needs the copy on the canonical copy's file system.
    public var needsSameFileSystem: Bool { self == .reflink || self == .hardlink }

    var operationKind: OperationKind {
        switch self {
        case .reflink: .reflinkDuplicate
        case .hardlink: .linkDuplicate
        case .quarantine: .quarantineDuplicate
        case .remove: .removeDuplicate
        }
    }
}

/// What marks a /4 plan as in place (`in_place` in the plan file).
public struct InPlaceSettings: Sendable, Hashable, Codable {
    public var method: InPlaceMethod
    /// Bytes the silos no longer hold once the plan is applied (each physical file once).
    public var reclaimBytes: Int64
    /// Duplicate groups with at least one copy the method cannot reach (another file system
    /// than the canonical copy's, or another host): each is listed in `left_behind`.
    public var groupsWithUnreachableCopies: Int

    public init(method: InPlaceMethod, reclaimBytes: Int64 = 0, groupsWithUnreachableCopies: Int = 0) {
        self.method = method; self.reclaimBytes = reclaimBytes; self.groupsWithUnreachableCopies = groupsWithUnreachableCopies
    }

    enum CodingKeys: String, CodingKey {
        case method, reclaimBytes = "reclaim_bytes", groupsWithUnreachableCopies = "groups_with_unreachable_copies"
    }
}

/// In-place deduplication: for each content with several copies in the catalogue, the
/// canonical copy (chosen by the same rules as a merge, `CanonicalChooser`) stays where it is,
/// and each other copy gets one operation. There is no target tree.
///
/// Like `Planner`, it reads nothing from disk and never prints.
public struct InPlacePlanner: Sendable {
    public let method: InPlaceMethod
    public let quarantineRoot: FilePath
    let chooser: CanonicalChooser
    let rules: [CanonicalRule]

    public init(method: InPlaceMethod, quarantineRoot: FilePath, canonicalRules: [CanonicalRule] = CanonicalRule.defaults) throws(PlanError) {
        self.method = method
        self.quarantineRoot = quarantineRoot
        rules = canonicalRules.isEmpty ? CanonicalRule.defaults : canonicalRules
        chooser = try CanonicalChooser(rules: rules)
        try Planner.checkAbsolute(quarantineRoot, "the quarantine folder")
    }

    public func plan(_ input: PlanInput) throws(PlanError) -> MergePlan {
        var silos: [[UInt8]: PlanSilo] = [:]
        for s in input.silos {
            guard silos[s.name.exactBytes] == nil else { throw .invalidSettings("silo '\(s.name)' is listed twice") }
            silos[s.name.exactBytes] = s
            if method == .quarantine, s.root.contains(quarantineRoot) || quarantineRoot.contains(s.root) {
                throw .invalidSettings("the quarantine folder \(quarantineRoot.display) overlaps silo '\(s.name)' (\(s.root.display)); give --quarantine a folder outside every silo")
            }
        }
        if !input.unverified.isEmpty { throw .openCorruption(input.unverified) }
        let hosted = input.silos.contains { $0.host != nil }

        // One record per content (a content given twice: all its copies), in SHA-256 order.
        var bySHA: [SHA256Digest: ReconciledAsset] = [:]
        for a in input.assets where !a.copies.isEmpty {
            if var known = bySHA[a.sha256] {
                known.copies = Array(Set(known.copies + a.copies))
                bySHA[a.sha256] = known
            } else {
                bySHA[a.sha256] = a
            }
        }
        var operations: [PlanOperation] = []
        var leftBehind: [LeftBehind] = []
        var reclaimed: Set<HostFileID> = []
        var reclaimBytes: Int64 = 0
        var unreachableGroups = 0
        for sha in bySHA.keys.sorted() {
            var asset = bySHA[sha]!
            for c in asset.copies where silos[c.silo.exactBytes] == nil { throw .unknownSilo(name: c.silo, asset: asset.shortID) }
            for i in asset.copies.indices { asset.copies[i].host = silos[asset.copies[i].silo.exactBytes]?.host?.id }
            asset.copies.sort(by: CanonicalChooser.stableOrder)
            guard asset.copies.count > 1, let choice = chooser.choose(asset) else { continue }
            let canonical = choice.copy
            let label = "\(canonical.silo):\(canonical.path.display)"
            let canonicalSource = Planner.source(canonical, asset: asset, silos: silos)
            var unreachable = false
            // The operation that already acts on each physical file (reflink: once per file).
            var acting: [HostFileID: Int] = [:]
            for copy in asset.copies where copy != canonical {
                func stays(_ reason: LeftBehindReason, _ detail: String) {
                    leftBehind.append(LeftBehind(silo: copy.silo, path: copy.path, size: copy.size, reason: reason, detail: detail))
                }
                if copy.physicalFile == canonical.physicalFile {
                    stays(.hardLink, "another name (hard link) of \(label), the canonical copy: one file already, nothing to reclaim")
                    continue
                }
                if copy.host != canonical.host {
                    unreachable = true
                    stays(.duplicateKept, "duplicate of \(label), kept: it is on host \(copy.host ?? "?"), the canonical copy on host \(canonical.host ?? "?")")
                    continue
                }
                if method.needsSameFileSystem, copy.device != canonical.device {
                    unreachable = true
                    stays(.duplicateKept, "duplicate of \(label), kept: it is on another file system (device \(copy.device)) than the canonical copy (device \(canonical.device)), and a \(method == .reflink ? "reflink" : "hard link") cannot cross file systems; plan --in-place --method quarantine or remove to reclaim it")
                    continue
                }
                if method == .reflink, let other = acting[copy.physicalFile] {
                    stays(.hardLink, "another name (hard link) of a duplicate of \(label) that operation \(other) clones: one file, cloned once")
                    continue
                }
                let id = operations.count + 1
                acting[copy.physicalFile] = acting[copy.physicalFile] ?? id
                let what: String
                switch method {
                case .reflink: what = "made to share the canonical copy's blocks (FIDEDUPERANGE: the kernel compares the bytes first); its name, inode, mode and times stay"
                case .hardlink: what = "replaced by a hard link to the canonical copy (its mode, owner and times become the canonical copy's; undo restores them)"
                case .quarantine: what = "moved to the quarantine folder"
                case .remove: what = "removed"
                }
                var reason = "duplicate of \(label) (canonical: \(choice.reason)); \(what)"
                let sameFileNames = asset.copies.filter { $0 != canonical && $0.physicalFile == copy.physicalFile }.count
                if sameFileNames > 1 && method != .reflink { reason += "; one of \(sameFileNames) names of one file, each acted on" }
                let destination = method == .quarantine
                    ? RelativePath(NameSanitizer.component(copy.silo)).appending(copy.path.bytes) : nil
                operations.append(PlanOperation(id: id, kind: method.operationKind,
                                                source: Planner.source(copy, asset: asset, silos: silos),
                                                destination: destination, reason: reason, canonical: canonicalSource))
                // Space comes back when the last name of a file goes (remove, quarantine, hard
                // link) or its blocks are shared (reflink: once per file).
                if reclaimed.insert(copy.physicalFile).inserted { reclaimBytes += copy.size }
            }
            if unreachable { unreachableGroups += 1 }
        }
        // A file's other names outside the plan keep its blocks: reclaimed only when every
        // name is acted on. The planner knows only the catalogued names, so this is the bound.

        let plan = MergePlan(
            schema: MergePlan.inPlaceSchema,
            createdAt: Timestamp.string(input.createdAt), catalogue: input.catalogueIdentity, scanRunID: input.scanRunID,
            targetRoot: quarantineRoot, quarantineRoot: quarantineRoot,
            targetAnchor: input.quarantineAnchor, quarantineAnchor: input.quarantineAnchor,
            settings: PlanSettings(targetRoot: quarantineRoot, canonicalRules: rules,
                                   duplicates: method == .quarantine ? .quarantine : method == .remove ? .remove : method == .hardlink ? .hardlink : .keep,
                                   quarantineRoot: quarantineRoot),
            silos: input.silos.sorted { $0.priority != $1.priority ? $0.priority < $1.priority : $0.name < $1.name },
            operations: operations,
            leftBehind: Planner.sortedLeftBehind(leftBehind + Planner.leftOut(input)),
            plannedOn: hosted ? input.plannedOn : nil)
        var out = plan
        out.inPlace = InPlaceSettings(method: method, reclaimBytes: reclaimBytes, groupsWithUnreachableCopies: unreachableGroups)
        let problems = PlanValidator.problems(in: out)
        guard problems.isEmpty else { throw .invalidPlan(problems) }
        return out
    }
}

/// The checks an in-place plan adds (see `PlanValidator`): it is /4 and the only /4 kind; each
/// operation is a duplicate action naming its canonical copy, of the same content, another
/// file; no canonical copy is itself taken away; reflinks and hard links stay on one file
/// system.
public enum InPlaceValidator {
    public static func problems(in plan: MergePlan) -> [PlanProblem] {
        var problems: [PlanProblem] = []
        func add(_ op: Int?, _ path: String?, _ reason: String) { problems.append(PlanProblem(op: op, path: path, reason: reason)) }
        guard let inPlace = plan.inPlace else {
            if plan.schema == MergePlan.inPlaceSchema { add(nil, nil, "a \(plan.schema) plan without in_place: only in-place plans are /4") }
            for op in plan.operations where op.kind == .reflinkDuplicate || op.canonical != nil {
                add(op.id, op.source?.display, "\(op.kind.rawValue) with a canonical copy in its silo belongs to in-place plans only")
            }
            return problems
        }
        if plan.schema != MergePlan.inPlaceSchema { add(nil, nil, "an in-place plan must be \(MergePlan.inPlaceSchema), not \(plan.schema)") }
        var canonicalNames: Set<[UInt8]> = []
        var canonicalFiles: Set<HostFileID> = []
        for op in plan.operations {
            if let c = op.canonical {
                canonicalNames.insert(c.silo.exactBytes + [0] + c.path.bytes)
                canonicalFiles.insert(plan.physicalFile(c))
            }
        }
        let silos = Dictionary(plan.silos.map { ($0.name.exactBytes, $0) }, uniquingKeysWith: { a, _ in a })
        for op in plan.operations {
            guard op.kind.isDuplicateAction, op.kind == inPlace.method.operationKind else {
                add(op.id, op.source?.display, "\(op.kind.rawValue) in an in-place plan by \(inPlace.method.rawValue) (only \(inPlace.method.operationKind.rawValue) belongs here)")
                continue
            }
            if op.canonicalOp != nil { add(op.id, op.source?.display, "an in-place operation names its canonical copy, not a canonical operation") }
            guard let s = op.source, let c = op.canonical else {
                add(op.id, op.source?.display, "\(op.kind.rawValue) needs its source and its canonical copy")
                continue
            }
            if let silo = silos[c.silo.exactBytes] {
                if silo.root != c.siloRoot { add(op.id, c.display, "the canonical copy's silo root is not silo '\(c.silo)''s root") }
            } else {
                add(op.id, c.display, "the canonical copy is in silo '\(c.silo)', which the plan does not list")
            }
            if let why = PlanValidator.relativePathProblem(c.path) { add(op.id, c.display, "canonical copy path: \(why)") }
            if SHA256Digest(hex: c.sha256) == nil || c.sha256.lowercased() != s.sha256.lowercased() {
                add(op.id, s.display, "its canonical copy \(c.display) is of another content (\(c.sha256.prefix(12)) ≠ \(s.sha256.prefix(12)))")
            }
            if c.size != s.size { add(op.id, s.display, "its canonical copy has \(c.size) bytes, it has \(s.size)") }
            if plan.physicalFile(c) == plan.physicalFile(s) {
                add(op.id, s.display, "this is a hard link to the canonical copy's own file, not a separate copy")
            }
            if canonicalNames.contains(s.silo.exactBytes + [0] + s.path.bytes) || canonicalFiles.contains(plan.physicalFile(s)) {
                add(op.id, s.display, "this is (a name of) a canonical copy another operation keeps: the content would lose its copy")
            }
            if inPlace.method.needsSameFileSystem, c.device != s.device {
                add(op.id, s.display, "on device \(s.device), its canonical copy on \(c.device): a \(inPlace.method == .reflink ? "reflink" : "hard link") cannot cross file systems")
            }
            if let hs = silos[s.silo.exactBytes]?.host?.id, let hc = silos[c.silo.exactBytes]?.host?.id, hs != hc {
                add(op.id, s.display, "on host \(hs), its canonical copy on host \(hc)")
            }
            if (op.destination != nil) != (inPlace.method == .quarantine) {
                add(op.id, s.display, inPlace.method == .quarantine ? "quarantine-duplicate needs a destination" : "\(op.kind.rawValue) takes no destination")
            }
        }
        return problems
    }
}
