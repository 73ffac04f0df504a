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
    /// What `reconcile: derivatives: merge` did; nil when derivatives are reconciled separately.
    public var derivatives: DerivativeMergeSummary? = nil
}

/// Runs the reconciliation over the whole catalogue and stores the unified catalogue
/// (`asset`, `asset_field`). Later stages (conflicts, export, plan, report) run it first so
/// they always see the catalogue as it is now.
///
/// The catalogue remembers the policies and the resolutions file it was last given; nothing is
/// forgotten without a word: a remembered file that is gone is an error naming it (give it
/// again, or forget it with `--resolutions ""`), and stored policies that cannot be read are
/// an error too.
public enum Reconciliation {
    static let policiesKey = "reconcile.policies"
    static let resolutionsKey = "reconcile.resolutions"
    static let rulesKey = "reconcile.rules"
    static let derivativesKey = "reconcile.derivatives"

    /// `policies`: from the configuration; nil uses (and keeps) the ones last given.
    /// `resolutionsFile`: nil uses the one last given; "" forgets it.
    /// `record`: false for commands that only read (`report`): nothing is stored, neither the
    /// unified catalogue nor the settings.
    /// `derivatives`: `reconcile: derivatives:` of the configuration (or `reconcile
    /// --derivatives`); nil uses the one last given (with `policies` given, nil is `separate`).
    @discardableResult
    public static func run(store: any CatalogueStore, policies overrides: [UnifiedField: ReconcilePolicy]? = nil,
                           rules ruleOverrides: [ReconcileRule]? = nil, derivatives modeOverride: DerivativeMode? = nil,
                           resolutionsFile: String? = nil, record: Bool = true,
                           each: (ReconciledAsset) throws -> Void = { _ in }) throws -> ReconcileSummary {
        let policies: ReconcilePolicies
        let rules: [ReconcileRule]
        let mode: DerivativeMode
        if let overrides {
            policies = ReconcilePolicies(overrides)
            rules = ruleOverrides ?? []
            mode = modeOverride ?? .separate
            if record { try remember(policies: overrides, rules: rules, derivatives: mode, in: store) }
        } else {
            policies = try storedPolicies(in: store) ?? ReconcilePolicies()
            rules = try storedRules(in: store)
            if let modeOverride {
                mode = modeOverride
                if record { try rememberDerivatives(mode, in: store) }
            } else {
                mode = try storedDerivatives(in: store)
            }
        }
        var path: String?
        var remembered = false
        if let resolutionsFile {
            if resolutionsFile.isEmpty {
                if record { try store.setSetting(resolutionsKey, nil) }
            } else {
                path = Posix.absolute(FilePath(resolutionsFile)).string ?? resolutionsFile
            }
        } else if let stored = try store.setting(resolutionsKey) {
            path = stored
            remembered = true
        }
        var resolutions = Resolutions()
        if let path {
            do {
                resolutions = try Resolutions.load(path: path) { try store.contents(withPrefix: $0, limit: 2) }
            } catch let error as ReconcileError where remembered && error.line == nil {
                throw ReconcileError(file: path, reason: "the resolutions file remembered in the catalogue \(store.location) "
                    + "cannot be used (\(error.reason)): give it again with --resolutions FILE, or forget it with --resolutions \"\"")
            }
            if resolutionsFile != nil && record { try store.setSetting(resolutionsKey, path) }
        }
        let reconciler = Reconciler(policies: policies, resolutions: resolutions, rules: rules)
        // Groups of similar images reconciled as one asset: grouped from the catalogue's
        // perceptual hashes and their sources read first (no file is opened).
        var merge: DerivativeMerge?
        var mergeSummary: DerivativeMergeSummary?
        if mode == .merge { (merge, mergeSummary) = try DerivativeMerge.prepare(store: store) }
        var fromOthers = 0
        let transform: (AssetSources) throws -> ReconciledAsset = { sources in
            guard let merge else { return reconciler.reconcile(sources) }
            let record = merge.reconcile(sources, with: reconciler)
            fromOthers += record.fields.lazy.filter(DerivativeMerge.onlyFromOthers).count
            return record
        }
        let (assets, conflicts, unhashed): (Int, Int, Int)
        if record {
            let runID = try store.runs(limit: 1).first?.id ?? 0
            (assets, conflicts, unhashed) = try store.rebuildAssets(runID: runID, transform: transform, each: each)
        } else {
            (assets, conflicts, unhashed) = try store.reconcileAssets(transform: transform, each: each)
        }
        mergeSummary?.fieldsFromOtherContents = fromOthers
        return ReconcileSummary(assets: assets, conflicts: conflicts, resolutions: resolutions.count,
                                resolutionsFile: path, unhashedFiles: unhashed, policies: policies, derivatives: mergeSummary)
    }

    /// The derivative mode stored in the catalogue (`separate` when none was given).
    public static func storedDerivatives(in store: any CatalogueStore) throws -> DerivativeMode {
        guard let text = try store.setting(derivativesKey) else { return .separate }
        guard let mode = DerivativeMode(rawValue: text) else {
            throw ReconcileError(file: store.location.display, reason: "the derivative mode stored in the catalogue (setting \(derivativesKey)) "
                + "is '\(text)', not one of \(DerivativeMode.allCases.map(\.rawValue).joined(separator: ", ")); give it again with --config FILE")
        }
        return mode
    }

    /// Stores `reconcile: derivatives:` (nothing for the default, `separate`).
    public static func rememberDerivatives(_ mode: DerivativeMode, in store: any CatalogueStore) throws {
        let value: String? = mode == .separate ? nil : mode.rawValue
        if try store.setting(derivativesKey) != value { try store.setSetting(derivativesKey, value) }
    }

    /// Stores a configuration's policies (`reconcile:`) for later runs: every command that
    /// takes `--config` and writes the catalogue calls this.
    public static func remember(policies overrides: [UnifiedField: ReconcilePolicy], rules: [ReconcileRule] = [],
                                derivatives: DerivativeMode = .separate, in store: any CatalogueStore) throws {
        try rememberDerivatives(derivatives, in: store)
        let json = String(decoding: try JSONEncoder.sorted.encode(ReconcilePolicies(overrides)), as: UTF8.self)
        if try store.setting(policiesKey) != json { try store.setSetting(policiesKey, json) }
        let rulesJSON = rules.isEmpty ? nil : String(decoding: try JSONEncoder.sorted.encode(rules), as: UTF8.self)
        if try store.setting(rulesKey) != rulesJSON { try store.setSetting(rulesKey, rulesJSON) }
    }

    /// The rules stored in the catalogue (none when none were given).
    public static func storedRules(in store: any CatalogueStore) throws -> [ReconcileRule] {
        guard let json = try store.setting(rulesKey) else { return [] }
        do {
            return try JSONDecoder().decode([ReconcileRule].self, from: Data(json.utf8))
        } catch {
            throw ReconcileError(file: store.location.display, reason: "the reconcile rules stored in the catalogue (setting \(rulesKey)) "
                + "cannot be read: \(error); give them again with --config FILE")
        }
    }

    /// The policies stored in the catalogue, nil when none were ever given.
    public static func storedPolicies(in store: any CatalogueStore) throws -> ReconcilePolicies? {
        guard let json = try store.setting(policiesKey) else { return nil }
        do {
            return try JSONDecoder().decode(ReconcilePolicies.self, from: Data(json.utf8))
        } catch {
            throw ReconcileError(file: store.location.display, reason: "the reconcile policies stored in the catalogue (setting \(policiesKey)) "
                + "cannot be read: \(error); give them again with --config FILE")
        }
    }
}
