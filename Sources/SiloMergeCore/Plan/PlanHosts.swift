import Foundation

/// Plans across hosts (schema /3).
///
/// Why the silos carry the host and the operations do not: every operation that reads a file
/// already names its silo (and the validator ties its source to that silo's root), so the
/// silo's host is the operation's host. One `host` per silo says it once, where a host per
/// operation would repeat it on every line of a million-line plan and could contradict the
/// silo it names. The operations without a source follow a rule instead of a field: a
/// generated XMP sidecar goes with its canonical copy's transfer (it lands beside it); the
/// import manifests go with the plan's first transfer (the host that writes into the target
/// first), or with the first silo's host when nothing is transferred.
extension MergePlan {
    /// Whether the plan's silos record their hosts (a /3 plan made from a catalogue with hosts).
    public var recordsHosts: Bool { silos.contains { $0.host != nil } }

    /// The hosts of the plan's silos, each once, in the plan's silo order.
    public var hosts: [HostIdentity] {
        var seen: Set<String> = []
        return silos.compactMap(\.host).filter { seen.insert($0.id).inserted }
    }

    /// The host that applies `op` (nil: the plan records no hosts; whoever applies it).
    public func host(of op: PlanOperation) -> HostIdentity? {
        guard recordsHosts else { return nil }
        if let s = op.source { return silos.first { $0.name.exactBytes == s.silo.exactBytes }?.host }
        if let c = op.canonicalOp, c != op.id, let canonical = operation(c), canonical.source != nil { return host(of: canonical) }
        if let first = operations.first(where: { $0.kind.isTransfer && $0.source != nil }) { return host(of: first) }
        return silos.first?.host
    }

    /// The operations `host` applies, by id (every one when the plan records no hosts).
    public func operationIDs(on host: HostIdentity) -> Set<Int> {
        guard recordsHosts else { return Set(operations.map(\.id)) }
        return Set(operations.filter { self.host(of: $0)?.id == host.id }.map(\.id))
    }

    /// The physical file of a source: its silo's host, its device and inode.
    public func physicalFile(_ s: PlanSource) -> HostFileID {
        HostFileID(host: silos.first { $0.name.exactBytes == s.silo.exactBytes }?.host?.id, file: s.fileID)
    }

    /// The journal of `host` for the plan at `planPath`: `PLAN.journal` for a plan with one
    /// host (or none recorded), `PLAN.journal.HOST` for a plan across hosts, so hosts sharing
    /// the plan's folder (a shared mount) never write one file. A host id that is not a plain
    /// file name (letters, digits, `.`, `_`, `-`) is named by its SHA-256 instead.
    public func defaultJournal(planPath: FilePath, host: HostIdentity) -> FilePath {
        let base = FilePath(bytes: planPath.bytes + Array(".journal".utf8))
        guard hosts.count > 1 else { return base }
        return FilePath(bytes: base.bytes + [0x2E] + Array(Self.fileNameComponent(host.id).utf8))
    }

    static func fileNameComponent(_ id: String) -> String {
        let plain = !id.isEmpty && id.utf8.count <= 128 && !id.hasPrefix(".")
            && id.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "." || $0 == "_" || $0 == "-" }
        if plain { return id }
        return "h-" + String(((try? SHA256Hasher.digest(Array(id.utf8)).hex) ?? "unknown").prefix(32))
    }
}

/// What one host does of a plan, and where: the operations whose sources it holds, and the
/// target and quarantine folders as this host reaches them.
///
/// The roots are the plan's, pinned by the device and inode the plan recorded, on the host the
/// plan was made on. Elsewhere the same path is another mount (another device number), and a
/// shared mount may be at another path (`--target`): there the roots are pinned when this host
/// first opens them (refused when a symbolic link is on the way), and this host's journal
/// records them, so its later runs, undo and verify refuse a root that changed since.
public struct PlanScope: Sendable {
    /// This host (nil: the plan records no hosts, and every operation is done here).
    public var host: HostIdentity?
    /// The operations done here, by id.
    public var operations: Set<Int>
    public var targetRoot: FilePath
    public var targetAnchor: RootAnchor?
    public var quarantineRoot: FilePath
    public var quarantineAnchor: RootAnchor?

    public init(host: HostIdentity?, operations: Set<Int>, targetRoot: FilePath, targetAnchor: RootAnchor?,
                quarantineRoot: FilePath, quarantineAnchor: RootAnchor?) {
        self.host = host; self.operations = operations; self.targetRoot = targetRoot; self.targetAnchor = targetAnchor
        self.quarantineRoot = quarantineRoot; self.quarantineAnchor = quarantineAnchor
    }

    /// Every operation, the plan's roots (a plan without hosts, or a test).
    public static func whole(_ plan: MergePlan) -> PlanScope {
        PlanScope(host: nil, operations: Set(plan.operations.map(\.id)), targetRoot: plan.targetRoot, targetAnchor: plan.targetAnchor,
                  quarantineRoot: plan.quarantineRoot, quarantineAnchor: plan.quarantineAnchor)
    }

    /// What `host` does of `plan`, with `target` instead of the plan's target when given (a
    /// shared mount at another path, or a per-host target). The quarantine folder follows the
    /// target when the plan keeps it in the target (the default).
    public static func on(_ host: HostIdentity, of plan: MergePlan, target: FilePath? = nil) throws(PlanError) -> PlanScope {
        var scope = whole(plan)
        scope.host = plan.recordsHosts ? host : nil
        scope.operations = plan.operationIDs(on: host)
        let plannedHere = plan.plannedOn == nil || plan.plannedOn?.id == host.id
        guard target != nil || !plannedHere else { return scope }
        let quarantineInTarget = plan.settings.quarantineRoot == nil
        if let target, target.bytes.first != 0x2F {
            throw .invalidSettings("--target must be an absolute path: \(target.display)")
        }
        let pinned = try pinHere(target ?? plan.targetRoot, what: "the target")
        scope.targetRoot = pinned.root
        scope.targetAnchor = pinned.anchor
        if quarantineInTarget {
            scope.quarantineRoot = scope.targetRoot.appending(RelativePath(PlanSettings.defaultQuarantineFolder))
        }
        if plan.usesQuarantine {
            let q = try pinHere(scope.quarantineRoot, what: "the quarantine folder")
            scope.quarantineRoot = q.root
            scope.quarantineAnchor = q.anchor
        }
        return scope
    }

    /// The folder's anchor as this host sees it now. Refused when its existing part goes through
    /// a symbolic link: the plan pinned the folder on another host, so here it is taken only as
    /// named, never through a link.
    ///
    /// The anchor is the folder's parent (or its nearest existing parent), never the folder
    /// itself, so the first apply (before the folder exists) and a later undo or verify (after)
    /// pin the same folder, and the folders the apply made are found again below it.
    static func pinHere(_ path: FilePath, what: String) throws(PlanError) -> (root: FilePath, anchor: RootAnchor) {
        let normal = PlanRoots.lexicallyNormal(path)
        guard normal.bytes != [0x2F] else { throw .invalidSettings("\(what) cannot be /") }
        let slash = normal.bytes.lastIndex(of: 0x2F) ?? 0
        let parentPath = FilePath(bytes: slash == 0 ? [0x2F] : Array(normal.bytes[..<slash]))
        let (parent, anchor) = try PlanRoots.anchor(parentPath, what: what)
        let root = parent.appending(RelativePath(bytes: normal.lastComponent))
        guard root == normal else {
            throw .invalidSettings("\(what) \(normal.display) is reached through a symbolic link on this host (it is \(root.display)): name the folder itself (--target \(root.display))")
        }
        return (root, anchor)
    }

    /// Whether `op` is done here.
    public func contains(_ op: PlanOperation) -> Bool { operations.contains(op.id) }

    /// The operations done elsewhere, counted by host, in the plan's host order.
    public func elsewhere(in plan: MergePlan) -> [(host: HostIdentity, operations: Int)] {
        var counts: [String: Int] = [:]
        for op in plan.operations where !operations.contains(op.id) {
            if let h = plan.host(of: op) { counts[h.id, default: 0] += 1 }
        }
        return plan.hosts.compactMap { h in counts[h.id].map { (h, $0) } }
    }
}
