/// What was reclaimable when a run ended, kept per run for the report's trends (a run's own
/// counts hold files and bytes, not what duplicates cost). `audit` records the figure its
/// analysis already has; `check` measures it over the silos it checked with the same analysis,
/// listing no group. Kept as the setting
/// `trend.reclaimable.<run id>`, so no schema change is needed and older catalogues simply
/// have no figure for their earlier runs.
public enum RunTrends {
    static func key(_ runID: Int64) -> String { "trend.reclaimable.\(runID)" }

    public static func record(reclaimable: Int64, runID: Int64, in store: any CatalogueStore) throws {
        try store.setSetting(key(runID), String(reclaimable))
    }

    public static func reclaimable(runID: Int64, in store: any CatalogueStore) throws -> Int64? {
        try store.setting(key(runID)).flatMap { Int64($0) }
    }

    /// The reclaimable bytes of `query`'s duplicate groups: per group, (physical copies − 1) × size,
    /// from one ordered pass over the content index (the analysis `audit` makes, without listing a
    /// single group).
    public static func measure(_ query: DuplicateQuery, in store: any CatalogueStore) throws -> Int64 {
        try store.analyse(query, top: 0).summary.reclaimableBytes
    }
}
