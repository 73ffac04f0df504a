import Foundation

/// Checks a plan's structure and its safety invariant without touching the disk. Used by the
/// planner on its own output and by the applier on any plan it is given (a hand-edited one
/// included). The applier adds the checks that need the file system.
public enum PlanValidator {
    /// Every problem found (empty: the plan is valid).
    public static func problems(in plan: MergePlan) -> [PlanProblem] {
        structuralProblems(in: plan) + invariantProblems(in: plan) + hostProblems(in: plan) + InPlaceValidator.problems(in: plan)
    }

    /// Plans across hosts: every silo names its host when one does; a duplicate is acted on
    /// only by the host that carries its canonical copy (it waits for that copy to be verified
    /// in the target, which only that host's journal knows, and an undo there must not leave the
    /// content with no copy); the other names of a moved file are on its host.
    public static func hostProblems(in plan: MergePlan) -> [PlanProblem] {
        guard plan.recordsHosts else { return [] }
        var problems: [PlanProblem] = []
        for s in plan.silos where s.host == nil {
            problems.append(PlanProblem(path: s.root.display, reason: "silo '\(s.name)' names no host while other silos of the plan do"))
        }
        for s in plan.silos {
            if let h = s.host, (try? HostIdentity.named(h.id)) == nil || h.name.isEmpty {
                problems.append(PlanProblem(path: s.root.display, reason: "silo '\(s.name)': '\(h.id)' is not a host id"))
            }
        }
        let hostOfSilo = Dictionary(plan.silos.map { ($0.name.exactBytes, $0.host?.id) }, uniquingKeysWith: { a, _ in a })
        for op in plan.operations {
            guard let source = op.source else { continue }
            let here = hostOfSilo[source.silo.exactBytes] ?? nil
            if op.kind.isDuplicateAction || op.kind.isSidecarTransfer, let c = op.canonicalOp, let canonical = plan.operation(c),
               let cs = canonical.source, let there = hostOfSilo[cs.silo.exactBytes] ?? nil, let here, here != there {
                problems.append(PlanProblem(op: op.id, path: source.display,
                                            reason: "it is on host \(here), its canonical operation \(c) on host \(there): a host acts only on the duplicates and sidecars of copies it carries itself"))
            }
            for link in op.hardLinks where (hostOfSilo[link.silo.exactBytes] ?? nil) != here {
                problems.append(PlanProblem(op: op.id, path: "\(link.silo):\(link.path.display)",
                                            reason: "a hard link of the source on another host: a file's names are all on one host"))
            }
        }
        return problems
    }

    /// The invariant: every distinct content keeps at least one verified copy.
    ///
    /// - A duplicate action (link, remove, quarantine) names the transfer operation of its
    ///   canonical copy; that operation must exist, come earlier, bring the same content into the
    ///   target, and be of a file that is not the duplicate itself. The applier runs the action
    ///   only after that transfer is done and verified, so the content always has its copy in
    ///   the target before any other copy goes.
    /// - Hard links to one file (device and inode) are one copy: a duplicate action on a name of
    ///   the canonical copy's own file is refused, as is acting twice on one name.
    public static func invariantProblems(in plan: MergePlan) -> [PlanProblem] {
        var problems: [PlanProblem] = []
        var index: [Int: Int] = [:]
        for (i, op) in plan.operations.enumerated() where index[op.id] == nil { index[op.id] = i }
        // "silo\0path" as exact bytes → op id of a destructive op. Never a `String` key: Swift
        // compares strings after Unicode normalisation, and NFC `é.txt` and NFD `é.txt` are two
        // different files in one folder.
        var actedOn: [[UInt8]: Int] = [:]
        for (i, op) in plan.operations.enumerated() {
            guard op.kind.isDestructive, let source = op.source else { continue }
            let nameKey = source.silo.exactBytes + [0] + source.path.bytes
            if let other = actedOn[nameKey] {
                problems.append(PlanProblem(op: op.id, path: source.display,
                                            reason: "operation \(other) already removes or moves this file; a file can be taken away only once"))
            } else {
                actedOn[nameKey] = op.id
            }
            guard op.kind.isDuplicateAction, plan.inPlace == nil else { continue }
            guard let canonicalID = op.canonicalOp else {
                problems.append(PlanProblem(op: op.id, path: source.display,
                                            reason: "\(op.kind.rawValue) names no canonical operation: nothing guarantees the content keeps a copy"))
                continue
            }
            guard let ci = index[canonicalID] else {
                problems.append(PlanProblem(op: op.id, path: source.display,
                                            reason: "its canonical operation \(canonicalID) is not in the plan: the content would lose this copy with no verified copy kept"))
                continue
            }
            let canonical = plan.operations[ci]
            guard ci < i else {
                problems.append(PlanProblem(op: op.id, path: source.display,
                                            reason: "its canonical operation \(canonicalID) comes after it; the canonical copy must be verified first"))
                continue
            }
            guard canonical.kind.isTransfer, let cs = canonical.source, canonical.destination != nil else {
                problems.append(PlanProblem(op: op.id, path: source.display,
                                            reason: "its canonical operation \(canonicalID) (\(canonical.kind.rawValue)) does not bring the content into the target"))
                continue
            }
            if let master = op.derivativeOf {
                // A derivative (--derivatives keep-master) follows its master's transfer: another
                // content, the one the operation names.
                if cs.sha256.lowercased() != master.sha256.lowercased() {
                    problems.append(PlanProblem(op: op.id, path: source.display,
                                                reason: "its canonical operation \(canonicalID) is not of the master it names (\(cs.sha256.prefix(12)) ≠ \(master.sha256.prefix(12)))"))
                } else if source.sha256.lowercased() == master.sha256.lowercased() {
                    problems.append(PlanProblem(op: op.id, path: source.display,
                                                reason: "it names its own content as its master: a copy of the master is a duplicate, not a derivative"))
                }
            } else if cs.sha256.lowercased() != source.sha256.lowercased() {
                problems.append(PlanProblem(op: op.id, path: source.display,
                                            reason: "its canonical operation \(canonicalID) is of another content (\(cs.sha256.prefix(12)) ≠ \(source.sha256.prefix(12)))"))
            }
            if plan.physicalFile(cs) == plan.physicalFile(source) {
                problems.append(PlanProblem(op: op.id, path: source.display,
                                            reason: "this is a hard link to the canonical copy's own file (device \(source.device), inode \(source.inode)), not a separate copy; it cannot be \(op.kind == .linkDuplicate ? "relinked" : "removed")"))
            } else if cs.silo.exactBytes == source.silo.exactBytes && cs.path == source.path {
                problems.append(PlanProblem(op: op.id, path: source.display, reason: "this is the canonical copy itself"))
            }
        }
        return problems
    }

    /// Schema, paths, hashes, references and destinations.
    public static func structuralProblems(in plan: MergePlan) -> [PlanProblem] {
        var problems: [PlanProblem] = []
        func add(_ op: Int?, _ path: String?, _ reason: String) { problems.append(PlanProblem(op: op, path: path, reason: reason)) }

        if !MergePlan.readableSchemas.contains(plan.schema) {
            add(nil, nil, "unsupported schema '\(plan.schema)' (expected \(MergePlan.currentSchema))")
        } else if plan.schema == "silomerge-plan/2", plan.recordsHosts || plan.plannedOn != nil {
            add(nil, nil, "a \(plan.schema) plan records no hosts; this one does (edited?)")
        }
        for (what, root) in [("target", plan.targetRoot), ("quarantine folder", plan.quarantineRoot)] {
            if root.bytes.first != 0x2F { add(nil, root.display, "the \(what) is not an absolute path") }
            if root.bytes.contains(0) { add(nil, root.display, "the \(what) holds a NUL byte") }
            if RelativePath(bytes: root.bytes).components.contains(where: { $0.elementsEqual("..".utf8) }) {
                add(nil, root.display, "the \(what) holds a '..' component")
            }
        }
        if plan.settings.targetRoot != plan.targetRoot {
            add(nil, plan.targetRoot.display, "the target differs from the one in the settings (\(plan.settings.targetRoot.display))")
        }
        var silos: [[UInt8]: PlanSilo] = [:]
        for s in plan.silos {
            if silos[s.name.exactBytes] != nil { add(nil, nil, "silo '\(s.name)' is listed twice") }
            silos[s.name.exactBytes] = s
            if s.root.bytes.first != 0x2F || s.root.bytes.contains(0) { add(nil, s.root.display, "silo '\(s.name)': the root is not a clean absolute path") }
            // An in-place plan has no target tree (its target_root is its quarantine folder).
            if plan.inPlace == nil, s.root.contains(plan.targetRoot) || plan.targetRoot.contains(s.root) {
                add(nil, s.root.display, "silo '\(s.name)' overlaps the target \(plan.targetRoot.display)")
            }
            if plan.usesQuarantine, s.root.contains(plan.quarantineRoot) || plan.quarantineRoot.contains(s.root) {
                add(nil, s.root.display, "silo '\(s.name)' overlaps the quarantine folder \(plan.quarantineRoot.display)")
            }
        }
        for (what, root, anchor) in [("target", plan.targetRoot, plan.targetAnchor), ("quarantine folder", plan.quarantineRoot, plan.quarantineAnchor)] {
            if let anchor, anchor.levels(to: root) == nil {
                add(nil, anchor.path.display, "the \(what)'s anchor is neither the \(what) \(root.display) nor one of its parents")
            }
        }
        var quarantineInTarget: [UInt8]? = nil
        if plan.inPlace == nil, plan.targetRoot.contains(plan.quarantineRoot) {
            let rest = Array(plan.quarantineRoot.bytes.dropFirst(plan.targetRoot.bytes.count).drop(while: { $0 == 0x2F }))
            if rest.isEmpty {
                add(nil, plan.quarantineRoot.display, "the quarantine folder is the target itself")
            } else {
                quarantineInTarget = NameSanitizer.collisionKey(path: RelativePath(bytes: rest))
            }
        }

        var ids: Set<Int> = []
        var lastID = Int.min
        var targetKeys: [[UInt8]: Int] = [:]
        var targetDirectories: [[UInt8]: Int] = [:]
        var quarantineKeys: [[UInt8]: Int] = [:]
        for op in plan.operations {
            let id = op.id
            if !ids.insert(id).inserted { add(id, nil, "the id is used twice") }
            if id <= lastID { add(id, nil, "operations are not in increasing id order") }
            lastID = max(lastID, id)

            // What each kind needs.
            if op.kind.carriesFile || op.kind.isDuplicateAction {
                if op.source == nil { add(id, nil, "\(op.kind.rawValue) needs a source") }
            } else if op.source != nil {
                add(id, nil, "\(op.kind.rawValue) takes no source")
            }
            if op.kind.writesTarget || op.kind == .quarantineDuplicate {
                if op.destination == nil { add(id, nil, "\(op.kind.rawValue) needs a destination") }
            } else if op.destination != nil {
                add(id, op.destination?.display, "\(op.kind.rawValue) takes no destination")
            }
            if op.kind.isGenerated {
                if let text = op.content, let sha = op.contentSHA256 {
                    if SHA256Digest(hex: sha) == nil {
                        add(id, op.destination?.display, "content_sha256 is not a SHA-256: '\(sha)'")
                    } else if (try? SHA256Hasher.digest(Array(text.utf8)))?.hex != sha.lowercased() {
                        add(id, op.destination?.display, "the content does not match its content_sha256 (edited?)")
                    }
                } else {
                    add(id, op.destination?.display, "\(op.kind.rawValue) needs content and content_sha256")
                }
                if let c = op.canonicalOp, plan.operation(c)?.kind.isTransfer != true {
                    add(id, op.destination?.display, "canonical operation \(c) is not a transfer in this plan")
                }
            }
            if op.fallbackToCopy && op.kind.method != .hardlink { add(id, nil, "fallback_to_copy only applies to hardlink") }
            if let d = op.derivativeOf {
                // Only ever moved to quarantine, and only in a plan that asked for it.
                if op.kind != .quarantineDuplicate || plan.inPlace != nil {
                    add(id, op.source?.display, "derivative_of is only for the quarantine-duplicate operations of a merge plan")
                } else if plan.settings.derivatives != .keepMaster {
                    add(id, op.source?.display, "derivative_of in a plan not made with --derivatives keep-master (edited?)")
                }
                if SHA256Digest(hex: d.sha256) == nil { add(id, op.source?.display, "derivative_of.sha256 is not a SHA-256: '\(d.sha256)'") }
            }
            if op.kind.isSidecarTransfer { sidecarProblems(op, in: plan).forEach { add(id, op.source?.display, $0) } }
            for link in op.hardLinks {
                if silos[link.silo.exactBytes] == nil { add(id, nil, "hard link in silo '\(link.silo)', which the plan does not list") }
                if let why = relativePathProblem(link.path, limitComponents: false) { add(id, "\(link.silo):\(link.path.display)", "hard link path: \(why)") }
            }

            // The source: inside its silo, as the plan lists it.
            if let s = op.source {
                if let silo = silos[s.silo.exactBytes] {
                    if silo.root != s.siloRoot {
                        add(id, s.display, "the silo root \(s.siloRoot.display) is not silo '\(s.silo)''s root \(silo.root.display)")
                    }
                } else {
                    add(id, s.display, "silo '\(s.silo)' is not listed in the plan")
                }
                // Sources are as the file system named them: only their structure is checked.
                if let why = relativePathProblem(s.path, limitComponents: false) { add(id, s.display, "source path: \(why)") }
                if SHA256Digest(hex: s.sha256) == nil { add(id, s.display, "sha256 is not a SHA-256: '\(s.sha256)'") }
                if s.size < 0 { add(id, s.display, "negative size") }
            }

            // The destination: relative, clean, inside its root, unique.
            if let d = op.destination {
                if let why = relativePathProblem(d) { add(id, d.display, "destination: \(why)") }
                if !op.kind.writesTarget, d.components.contains(where: { $0.starts(with: ".silomerge-tmp-".utf8) }) {
                    add(id, d.display, "destination: names starting with .silomerge-tmp- are the applier's temporary files")
                }
                if op.kind.writesTarget {
                    let key = NameSanitizer.collisionKey(path: d)
                    if let other = targetKeys[key] {
                        add(id, d.display, "operation \(other) writes the same destination (names are compared after Unicode normalisation and case folding)")
                    } else {
                        targetKeys[key] = id
                    }
                    if let q = quarantineInTarget, key == q || key.starts(with: q + [0x2F]) {
                        add(id, d.display, "destination is inside the quarantine folder")
                    }
                    if d.components.contains(where: { $0.starts(with: ".silomerge-".utf8) }) {
                        add(id, d.display, "destination: names starting with .silomerge- are kept for the tool")
                    }
                    var prefix: [UInt8] = []
                    for part in d.components.dropLast() {
                        prefix += (prefix.isEmpty ? [] : [0x2F]) + Array(part)
                        let k = NameSanitizer.collisionKey(path: RelativePath(bytes: prefix))
                        if targetDirectories[k] == nil { targetDirectories[k] = id }
                    }
                } else {
                    if let other = quarantineKeys[d.bytes] {
                        add(id, d.display, "operation \(other) quarantines to the same place")
                    } else {
                        quarantineKeys[d.bytes] = id
                    }
                }
            }
        }
        // A file where another operation needs a folder.
        for (key, id) in targetKeys.sorted(by: { $0.value < $1.value }) {
            if let other = targetDirectories[key] {
                add(id, plan.operation(id)?.destination?.display, "operation \(other) needs a folder of this name")
            }
        }
        return problems
    }

    /// The plan's roots against the catalogue it was made from: every silo the plan names is
    /// catalogued under that name with that root (and, when the catalogue recorded it, the same
    /// device and inode), and the target and the quarantine folder overlap no catalogued silo
    /// (the rules `silomerge plan` applies). A hand-edited plan that re-roots a silo or puts the
    /// quarantine inside one is refused here.
    public static func catalogueProblems(in plan: MergePlan, catalogued: [Silo], catalogue: String) -> [PlanProblem] {
        var problems: [PlanProblem] = []
        func add(_ path: String?, _ reason: String) { problems.append(PlanProblem(path: path, reason: reason)) }
        let byName = Dictionary(catalogued.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for s in plan.silos {
            guard let c = byName[s.name] else {
                add(s.root.display, "silo '\(s.name)' is not in the catalogue \(catalogue)")
                continue
            }
            // The host a /3 plan gives each silo is the one the catalogue knows: an operation
            // moved to another host (by editing its silo's host) is refused here.
            if plan.recordsHosts, s.host?.id != c.host?.id {
                add(s.root.display, "silo '\(s.name)': the plan puts it on host \(s.host.map { "\($0)" } ?? "(none)"), the catalogue \(catalogue) on \(c.host.map { "host \($0)" } ?? "no host") (the plan was edited, or the silo was scanned on another host since): plan again")
                continue
            }
            if c.root != s.root {
                add(s.root.display, "silo '\(s.name)': the plan gives its root as \(s.root.display), the catalogue \(catalogue) as \(c.root.display) (the plan was edited, or the silo moved since): plan again")
            } else if let recorded = c.rootIdentity, let mine = s.identity, recorded != mine {
                add(s.root.display, "silo '\(s.name)': the plan recorded its root as device \(mine.device) inode \(mine.inode), the catalogue as device \(recorded.device) inode \(recorded.inode) (the folder was replaced since it was scanned): scan and plan again")
            }
        }
        // The plan's own target, adopted as a silo once applied (silos add --from-plan), is
        // that plan's to resume or undo; any other silo overlapping it is refused.
        let digest = catalogued.contains { $0.adoptedPlan != nil } ? (try? PlanFile.digest(plan)) : nil
        for c in catalogued {
            if let digest, c.adoptedPlan == digest, c.root == plan.targetRoot { continue }
            if c.root.contains(plan.targetRoot) || plan.targetRoot.contains(c.root) {
                add(plan.targetRoot.display, "the target overlaps silo '\(c.name)' (\(c.root.display)); the merged tree must be outside every silo")
            }
            if plan.usesQuarantine, c.root.contains(plan.quarantineRoot) || plan.quarantineRoot.contains(c.root) {
                add(plan.quarantineRoot.display, "the quarantine folder overlaps silo '\(c.name)' (\(c.root.display)); it must be outside every silo")
            }
        }
        return problems
    }

    /// A host's own target (`--target`), or the plan's target as this host reaches it, is held
    /// to the plan's rules: outside every silo of this host (and of a catalogue without hosts),
    /// and so is the quarantine folder.
    public static func scopeProblems(_ scope: PlanScope, plan: MergePlan, catalogued: [Silo]) -> [PlanProblem] {
        guard scope.targetRoot != plan.targetRoot || scope.quarantineRoot != plan.quarantineRoot else { return [] }
        var problems: [PlanProblem] = []
        for c in catalogued where scope.host == nil || c.host == nil || c.host?.id == scope.host?.id {
            if c.root.contains(scope.targetRoot) || scope.targetRoot.contains(c.root) {
                problems.append(PlanProblem(path: scope.targetRoot.display, reason: "the target overlaps silo '\(c.name)' (\(c.root.display)); the merged tree must be outside every silo"))
            }
            if plan.usesQuarantine, c.root.contains(scope.quarantineRoot) || scope.quarantineRoot.contains(c.root) {
                problems.append(PlanProblem(path: scope.quarantineRoot.display, reason: "the quarantine folder overlaps silo '\(c.name)' (\(c.root.display)); it must be outside every silo"))
            }
        }
        return problems
    }

    /// An original sidecar travels beside its file, nowhere else: it names the content transfer
    /// of that file, which comes earlier; it is a `.xmp` file of the same silo folder as that
    /// file, and lands in the same target folder as it.
    static func sidecarProblems(_ op: PlanOperation, in plan: MergePlan) -> [String] {
        guard let cid = op.canonicalOp else { return ["\(op.kind.rawValue) names no canonical operation (the file it belongs beside)"] }
        guard let c = plan.operation(cid), c.kind.isTransfer, let cs = c.source, let cd = c.destination else {
            return ["its canonical operation \(cid) is not a content transfer in this plan"]
        }
        var out: [String] = []
        if cid >= op.id { out.append("its canonical operation \(cid) comes after it; the file must be in place first") }
        if let s = op.source {
            if !SidecarPlan.isXMP(Array(s.path.lastComponent)) { out.append("a sidecar operation carries .xmp files only") }
            if s.silo.exactBytes != cs.silo.exactBytes || s.path.parent != cs.path.parent {
                out.append("the sidecar is not in the folder of its file \(cs.display)")
            }
        }
        if let d = op.destination, NameSanitizer.collisionKey(path: d.parent) != NameSanitizer.collisionKey(path: cd.parent) {
            out.append("the sidecar does not land beside its file \(cd.display)")
        }
        return out
    }

    /// Why a relative path is unsafe, or nil: empty, absolute, `//`, `.` or `..` components,
    /// NUL bytes, components over 255 bytes.
    public static func relativePathProblem(_ path: RelativePath, limitComponents: Bool = true) -> String? {
        let b = path.bytes
        if b.isEmpty { return "empty path" }
        if b.first == 0x2F { return "absolute path" }
        if b.contains(0) { return "holds a NUL byte" }
        let parts = b.split(separator: 0x2F, omittingEmptySubsequences: false)
        for part in parts {
            if part.isEmpty { return "empty component (// or a trailing /)" }
            if part.elementsEqual([0x2E]) || part.elementsEqual([0x2E, 0x2E]) { return "'.' or '..' component" }
            if limitComponents && part.count > NameSanitizer.maxComponentBytes { return "a component is longer than 255 bytes" }
        }
        return nil
    }
}
