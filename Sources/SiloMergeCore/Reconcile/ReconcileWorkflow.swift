import Foundation

/// What a command that reconciles first is given: the configuration (its `reconcile:` policies
/// and rules) and the resolutions file (nil: the one remembered; "": forget it).
public struct ReconcileRequest: Sendable {
    public var configuration: SiloMergeConfiguration?
    public var resolutionsFile: String?
    /// `reconcile --derivatives`: overrides the configuration's `reconcile: derivatives:` (and
    /// is remembered like it); nil: the configuration's, or the one last given.
    public var derivatives: DerivativeMode?

    public init(configuration: SiloMergeConfiguration? = nil, resolutionsFile: String? = nil, derivatives: DerivativeMode? = nil) {
        self.configuration = configuration; self.resolutionsFile = resolutionsFile; self.derivatives = derivatives
    }

    /// The mode to reconcile with: the override, else the configuration's when it has a
    /// `reconcile:` section, else nil (the one remembered).
    var derivativeMode: DerivativeMode? {
        derivatives ?? (configuration?.reconcile != nil ? configuration?.reconcileDerivatives : nil)
    }
}

/// Reconcile, then something: the workflows of `reconcile` and `conflicts`, for the CLI and any
/// other front end. Values in, values out; nothing printed.
public enum ReconcileWorkflow {
    /// Reconciles and stores the unified catalogue, handing each stored record to `each`.
    @discardableResult
    public static func run(store: any CatalogueStore, _ request: ReconcileRequest,
                           each: (ReconciledAsset) throws -> Void = { _ in }) throws -> ReconcileSummary {
        try Reconciliation.run(store: store, policies: request.configuration?.reconcile,
                               rules: request.configuration?.reconcileRules, derivatives: request.derivativeMode,
                               resolutionsFile: request.resolutionsFile, each: each)
    }

    /// What `silomerge reconcile` reports: fields by how they were settled.
    public struct Tally: Sendable, Hashable {
        public var agreed = 0
        /// Settled by a policy or a configuration rule.
        public var resolvedByPolicy = 0
        /// Settled by the resolutions file.
        public var resolvedByPerson = 0
        public var conflicts = 0
    }

    /// Reconciles and counts the fields of every record by how they were settled.
    public static func tally(store: any CatalogueStore, _ request: ReconcileRequest) throws -> (Tally, ReconcileSummary) {
        var tally = Tally()
        let summary = try run(store: store, request) { asset in
            for f in asset.fields {
                switch f.status {
                case .agreed: tally.agreed += 1
                case .conflict: tally.conflicts += 1
                case .resolved: if f.rule == .manual { tally.resolvedByPerson += 1 } else { tally.resolvedByPolicy += 1 }
                }
            }
        }
        return (tally, summary)
    }

    /// Reconciles and returns the records that still have a field in conflict (what
    /// `silomerge conflicts` lists, and its resolutions template and sheet are made of).
    public static func conflicts(store: any CatalogueStore, _ request: ReconcileRequest) throws
        -> (assets: [ReconciledAsset], summary: ReconcileSummary) {
        var found: [ReconciledAsset] = []
        let summary = try run(store: store, request) { asset in
            if asset.fields.contains(where: { $0.status == .conflict }) { found.append(asset) }
        }
        return (found, summary)
    }
}
