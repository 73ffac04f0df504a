import Foundation

/// A catalogue that knows which copies hold content other than the one last verified
/// (corruption still open): a plan must not take their rot for their content.
public protocol UnverifiedCopySource: AnyObject, Sendable {
    func unverifiedCopies(silos: [String]) throws -> [UnverifiedCopy]
}

/// What `silomerge plan create` is asked for: the plan's settings with the target and
/// quarantine folders as given (the workflow makes them absolute and anchors them), and how to
/// reconcile first.
public struct PlanRequest: Sendable {
    public var settings: PlanSettings
    public var reconcile: ReconcileRequest
    /// The host the plan is made on (`--host`; nil: this machine's id). Its silos' roots are
    /// opened and pinned now; those of other hosts are pinned as their last scan recorded them.
    public var host: HostIdentity?

    public init(target: FilePath, layout: String = PlanSettings.defaultLayout, canonicalRules: [CanonicalRule] = CanonicalRule.defaults,
                duplicates: DuplicateAction = .keep, quarantine: FilePath? = nil, transfer: TransferMethod = .copy,
                hardlinkFallbackToCopy: Bool = false, carrySidecars: Bool = true, writeSidecars: Bool = false,
                writeManifest: Bool = false, allowConflicts: Bool = false, reconcile: ReconcileRequest = ReconcileRequest()) {
        settings = PlanSettings(targetRoot: target, layout: layout, canonicalRules: canonicalRules, duplicates: duplicates,
                                quarantineRoot: quarantine, transfer: transfer, hardlinkFallbackToCopy: hardlinkFallbackToCopy,
                                carrySidecars: carrySidecars, writeSidecars: writeSidecars, writeManifest: writeManifest,
                                allowConflicts: allowConflicts)
        self.reconcile = reconcile
    }
}

/// Reconcile, then plan: from the catalogue as it is now to a `MergePlan` (not yet written).
public enum PlanWorkflow {
    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// No scan has finished: there is nothing to plan from.
        case noFinishedScan
        /// `--derivatives keep-master`, and no silo holds a perceptual hash: it would find no
        /// derivative, and the plan would keep every one of them.
        case noPerceptualHashes(silos: [String])

        public var description: String {
            switch self {
            case .noFinishedScan: "the catalogue has no finished scan: run silomerge scan first"
            case .noPerceptualHashes(let silos):
                "--derivatives keep-master: no silo holds a perceptual hash (\(silos.joined(separator: ", "))), so no derivative can be found "
                    + "and the plan would keep them all: scan with --similar-images first (silomerge scan --similar-images), then plan again"
            }
        }
    }

    /// What the plan cannot cover, worth a word before it is reviewed.
    public enum Warning: Sendable, Hashable {
        /// Catalogued files without a full hash (an audit with `--hash dupes`): left in the silos.
        case unhashedFiles(Int)
        /// Silos last scanned by a version that kept no record of what it passed over.
        case scannedByOlderVersion(silos: [String])
        /// `--derivatives keep-master`: silos holding no perceptual hash (not scanned with
        /// `--similar-images`, or no image in them): their derivatives cannot be found.
        case noPerceptualHashes(silos: [String])
    }

    /// The plan for `request`; `warn` hears what it cannot cover as soon as that is known.
    public static func plan(store: any CatalogueStore & UnverifiedCopySource, _ request: PlanRequest,
                            warn: (Warning) -> Void = { _ in }) throws -> MergePlan {
        var assets: [ReconciledAsset] = []
        let reconciled = try ReconcileWorkflow.run(store: store, request.reconcile) { assets.append($0) }
        let runs = try store.runs(limit: nil)
        guard let lastScan = runs.first(where: { $0.status == .ok || $0.status == .warnings }) else { throw Failure.noFinishedScan }
        if reconciled.unhashedFiles > 0 { warn(.unhashedFiles(reconciled.unhashedFiles)) }
        // Every root is pinned by device and inode (its nearest existing parent for a
        // folder apply will make), with its links resolved: apply, undo and verify refuse
        // a root that is not that folder any more.
        var settings = request.settings
        let targetAnchor: RootAnchor
        (settings.targetRoot, targetAnchor) = try PlanRoots.anchor(request.settings.targetRoot, what: "the target")
        settings.quarantineRoot = try request.settings.quarantineRoot.map { try PlanRoots.anchor($0, what: "the quarantine folder").root }
        if settings.canonicalRules.isEmpty { settings.canonicalRules = CanonicalRule.defaults }
        let quarantineAnchor = try PlanRoots.anchor(settings.effectiveQuarantineRoot, what: "the quarantine folder").anchor
        let catalogued = try store.silos()
        // Silos on other hosts cannot be opened here: their roots are pinned as the scan on
        // their host recorded them, and checked there by apply.
        let (here, silos) = try PlanRoots.silos(catalogued, plannedOn: request.host)
        // A catalogue upgraded from a version that did not record what scans pass over.
        if let since = try store.setting("uncatalogued.since_run").flatMap({ Int64($0) }) {
            let stale = catalogued.filter { ($0.lastRunID ?? 0) <= since }.map(\.name)
            if !stale.isEmpty { warn(.scannedByOlderVersion(silos: stale)) }
        }
        // The plan's time is the scan's, so the same catalogue and settings give the same bytes.
        var input = PlanInput(assets: assets, silos: silos, catalogueIdentity: store.location.id,
                              scanRunID: lastScan.id, createdAt: lastScan.finishedAt ?? lastScan.startedAt,
                              targetAnchor: targetAnchor, quarantineAnchor: quarantineAnchor,
                              sidecars: try store.sidecarFiles(), unhashed: try store.unhashedFiles(),
                              uncatalogued: try store.uncatalogued())
        // Files whose content is not the one last verified (corruption still open) refuse
        // the plan: their rot would be taken for their content.
        input.unverified = try store.unverifiedCopies(silos: catalogued.map(\.name))
        input.plannedOn = here
        // --keep-folders: the duplicate folders, from the same catalogue (KeptFolders).
        if settings.keepFolders { input.folderGroups = try DuplicateFolders.find(in: store, silos: []).groups }
        // --derivatives keep-master: the similar images, from the perceptual hashes the scans stored.
        if settings.derivatives == .keepMaster {
            let files = try store.similarImageFiles(siloIDs: nil)
            let hashed = Set(files.map(\.siloID))
            let without = catalogued.filter { !hashed.contains($0.id) }.map(\.name)
            if !catalogued.isEmpty, without.count == catalogued.count { throw Failure.noPerceptualHashes(silos: without) }
            if !without.isEmpty { warn(.noPerceptualHashes(silos: without)) }
            input.derivativeGroups = SimilarImages.find(files, silos: catalogued).groups
        }
        return try Planner(settings: settings).plan(input)
    }
}
