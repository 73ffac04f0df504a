import Foundation

/// What a reconcile pass did.
public struct ReconcileSummary: Sendable {
    public var assets: Int
    public var conflicts: Int
    /// Fields settled by the resolutions file.
    public var resolutions: Int
    public var resolutionsFile: String?
    /// Catalogued files without a full hash (an audit's `--hash dupes` leaves files of unique
    /// size unhashed): they are in no record.
    public var unhashedFiles: Int
    public var policies: ReconcilePolicies
}

/// Runs the reconciliation over the whole catalogue and stores the unified catalogue
/// (`asset`, `asset_field`). Later stages (conflicts, export, plan, report) run it first so
/// they always see the catalogue as it is now.
public enum Reconciliation {
    static let policiesKey = "reconcile.policies"
    static let resolutionsKey = "reconcile.resolutions"

    /// `policies`: from the configuration; nil uses (and keeps) the ones last given. 
    /// `resolutionsFile`: nil uses the one last given, if it still exists; "" forgets it.
    @discardableResult
    public static func run(store: any CatalogueStore, policies overrides: [UnifiedField: ReconcilePolicy]? = nil,
                           resolutionsFile: String? = nil,
                           each: (ReconciledAsset) throws -> Void = { _ in }) throws -> ReconcileSummary {
        let policies: ReconcilePolicies
        if let overrides {
            policies = ReconcilePolicies(overrides)
            try store.setSetting(policiesKey, String(decoding: try JSONEncoder.sorted.encode(policies), as: UTF8.self))
        } else if let json = try store.setting(policiesKey), let data = json.data(using: .utf8),
                  let stored = try? JSONDecoder().decode(ReconcilePolicies.self, from: data) {
            policies = stored
        } else {
            policies = ReconcilePolicies()
        }
        var path: String?
        if let resolutionsFile {
            if resolutionsFile.isEmpty {
                try store.setSetting(resolutionsKey, nil)
            } else {
                path = Posix.absolute(FilePath(resolutionsFile)).string ?? resolutionsFile
            }
        } else if let stored = try store.setting(resolutionsKey), FileManager.default.fileExists(atPath: stored) {
            path = stored
        }
        var resolutions = Resolutions()
        if let path {
            resolutions = try Resolutions.load(path: path) { try store.contents(withPrefix: $0, limit: 2) }
            if resolutionsFile != nil { try store.setSetting(resolutionsKey, path) }
        }
        let reconciler = Reconciler(policies: policies, resolutions: resolutions)
        let runID = try store.runs(limit: 1).first?.id ?? 0
        let (assets, conflicts, unhashed) = try store.rebuildAssets(runID: runID, transform: reconciler.reconcile, each: each)
        return ReconcileSummary(assets: assets, conflicts: conflicts, resolutions: resolutions.count,
                                resolutionsFile: path, unhashedFiles: unhashed, policies: policies)
    }
}
