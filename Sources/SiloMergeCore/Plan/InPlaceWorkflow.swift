#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Whether a file system can share blocks between files (FIDEDUPERANGE), by its type as the
/// kernel reports it for a file on it (`fstatfs`; by path, not by device number: btrfs gives
/// each subvolume a device number of its own). Only a guide for planning: apply asks the
/// kernel itself, which has the last word (XFS made with reflink=0 refuses).
public enum ReflinkSupport {
    /// Types that implement FIDEDUPERANGE.
    public static let capableTypes: Set<String> = ["btrfs", "xfs", "bcachefs", "ocfs2"]

    #if os(Linux)
    /// `statfs.f_type` magic numbers (linux/magic.h) of common file systems.
    static let names: [Int64: String] = [
        0x9123_683E: "btrfs", 0x5846_5342: "xfs", 0xCA45_1A4E: "bcachefs", 0x7461_636F: "ocfs2",
        0xEF53: "ext4", 0x0102_1994: "tmpfs", 0x794C_7630: "overlayfs", 0x2FC1_2FC1: "zfs", 0x6969: "nfs",
        0x4D44: "vfat", 0x5346_544E: "ntfs", 0x6573_5546: "fuse", 0xF2F5_2010: "f2fs",
        0x0102_1997: "9p", 0xFF53_4D42: "cifs", 0x2011_BAB0: "exfat",
    ]
    #endif

    /// The type of the file system the file or folder at `path` is on ("ext4", "tmpfs"…), if known.
    public static func fileSystemType(at path: FilePath) -> String? {
        #if os(Linux)
        let fd = RealFileOps.cString(path.bytes) { open($0, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY) }
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let type = PseudoFileSystems.fileSystemType(fd) else { return nil }
        return names[type] ?? "type 0x\(String(type, radix: 16))"
        #else
        return nil
        #endif
    }

    /// nil when reflinks are possible where `path` is, else why not (a sentence).
    public static func unavailable(at path: FilePath) -> String? {
        #if os(Linux)
        guard let type = fileSystemType(at: path) else { return "the file system of \(path.display) cannot be read" }
        return capableTypes.contains(type) ? nil : "\(type) cannot share blocks between files (reflinks need btrfs, XFS, bcachefs or OCFS2)"
        #else
        return "reflinks (FIDEDUPERANGE) are a Linux feature; this platform is not supported"
        #endif
    }
}

/// What `silomerge plan --in-place` is asked for.
public struct InPlaceRequest: Sendable {
    /// nil: reflink where every copy's file system can, otherwise a refusal naming the others.
    public var method: InPlaceMethod?
    /// Where `quarantine` moves duplicates (default: `./silomerge-quarantine`).
    public var quarantine: FilePath?
    public var canonicalRules: [CanonicalRule]
    public var reconcile: ReconcileRequest
    public var host: HostIdentity?

    public init(method: InPlaceMethod? = nil, quarantine: FilePath? = nil, canonicalRules: [CanonicalRule] = CanonicalRule.defaults,
                reconcile: ReconcileRequest = ReconcileRequest(), host: HostIdentity? = nil) {
        self.method = method; self.quarantine = quarantine; self.canonicalRules = canonicalRules
        self.reconcile = reconcile; self.host = host
    }
}

public enum InPlaceWorkflow {
    public static let defaultQuarantineFolder = "silomerge-quarantine"

    /// The in-place plan for `request`: reconciles (for the canonical-copy rules that read
    /// metadata), pins the silo roots and the quarantine folder, checks reflinks are possible.
    public static func plan(store: any CatalogueStore & UnverifiedCopySource, _ request: InPlaceRequest,
                            warn: (PlanWorkflow.Warning) -> Void = { _ in }) throws -> MergePlan {
        var assets: [ReconciledAsset] = []
        let reconciled = try ReconcileWorkflow.run(store: store, request.reconcile) { a in
            if a.copies.count > 1 { assets.append(a) }
        }
        let runs = try store.runs(limit: nil)
        guard let lastScan = runs.first(where: { $0.status == .ok || $0.status == .warnings }) else { throw PlanWorkflow.Failure.noFinishedScan }
        if reconciled.unhashedFiles > 0 { warn(.unhashedFiles(reconciled.unhashedFiles)) }
        let wanted = request.quarantine ?? FilePath(defaultQuarantineFolder)
        let (quarantineRoot, quarantineAnchor) = try PlanRoots.anchor(wanted, what: "the quarantine folder")
        let catalogued = try store.silos()
        let (here, silos) = try PlanRoots.silos(catalogued, plannedOn: request.host)
        var input = PlanInput(assets: assets, silos: silos, catalogueIdentity: store.location.id,
                              scanRunID: lastScan.id, createdAt: lastScan.finishedAt ?? lastScan.startedAt,
                              quarantineAnchor: quarantineAnchor, unhashed: try store.unhashedFiles())
        input.unverified = try store.unverifiedCopies(silos: catalogued.map(\.name))
        input.plannedOn = here

        let method = try request.method ?? defaultMethod(assets: assets, silos: silos, host: here)
        let plan = try InPlacePlanner(method: method, quarantineRoot: quarantineRoot, canonicalRules: request.canonicalRules).plan(input)
        if method == .reflink { try checkReflinks(plan, host: here) }
        return plan
    }

    /// Reflink when every file system holding a duplicate group (on this host) can; otherwise
    /// a refusal that says which cannot and what to choose instead. Never a silent fallback:
    /// hard links change what a later edit does, quarantine and remove take names away.
    static func defaultMethod(assets: [ReconciledAsset], silos: [PlanSilo], host: HostIdentity?) throws(PlanError) -> InPlaceMethod {
        var devices: [UInt64: FilePath] = [:]
        let local = Set(silos.filter { host == nil || $0.host == nil || $0.host?.id == host?.id }.map(\.name))
        for a in assets where a.copies.count > 1 { for c in a.copies where local.contains(c.silo) { devices[c.device] = devices[c.device] ?? c.absolutePath } }
        let refusals = devices.keys.sorted().compactMap { d in ReflinkSupport.unavailable(at: devices[d]!).map { (d, $0) } }
        if refusals.isEmpty { return .reflink }
        throw .invalidSettings(noReflinkMessage(refusals, asked: false))
    }

    static func checkReflinks(_ plan: MergePlan, host: HostIdentity?) throws(PlanError) {
        let hostOf = Dictionary(plan.silos.map { ($0.name.exactBytes, $0.host?.id) }, uniquingKeysWith: { a, _ in a })
        var devices: [UInt64: FilePath] = [:]
        for op in plan.operations {
            guard let c = op.canonical else { continue }
            // Another host's file systems are that host's to judge (its apply asks its kernel).
            if let host, let h = hostOf[c.silo.exactBytes] ?? nil, h != host.id { continue }
            devices[c.device] = devices[c.device] ?? c.siloRoot.appending(c.path)
        }
        let refusals = devices.keys.sorted().compactMap { d in ReflinkSupport.unavailable(at: devices[d]!).map { (d, $0) } }
        if !refusals.isEmpty { throw .invalidSettings(noReflinkMessage(refusals, asked: true)) }
    }

    static func noReflinkMessage(_ refusals: [(UInt64, String)], asked: Bool) -> String {
        var s = asked ? "--method reflink is not possible here: " : "in-place deduplication by reflink (the default) is not possible here: "
        s += refusals.map { "device \($0.0): \($0.1)" }.joined(separator: "; ")
        s += ". Nothing was planned. Choose another method: --method hardlink (one file under several names: an edit through one name shows through all), --method quarantine (duplicates moved under --quarantine DIR), or --method remove (duplicates deleted)"
        return s
    }
}
