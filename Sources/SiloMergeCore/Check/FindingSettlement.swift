import Foundation

/// The pass over a store that works out what a run found and keeps findings open: the store
/// answers queries and writes transitions; `FindingFold` and `OpenFindingFold` decide.
public enum FindingSettlement {
    /// What run `runID` found, from its changes and new files, before open findings are taken
    /// into account.
    public static func rawFindings(runID: Int64, scope: FindingScope, in store: some FindingStore & SiloRegistry) throws -> [Finding] {
        var fold = FindingFold(runID: runID, scope: scope, merges: try store.mergeNotes(runID: runID))
        try store.forEachChange(runID: runID) { fold.add($0) }
        try store.forEachNewFile(runID: runID, scope: scope) { fold.add($0) }
        let hosts = scope == .all ? HostOrdinals(try store.silos()) : HostOrdinals([])
        return try fold.findings(hosts: hosts) { contents, body in try store.forEachCopies(of: contents, body) }
    }

    /// After a run's writes, before it is recorded finished: works out what it found
    /// (`scope`), keeps corrupted and missing files open and closes the open findings it
    /// resolved (see `OpenFinding`), for it and for other runs that ended without doing so
    /// (killed, interrupted, failed). Each run's transitions are written in one transaction,
    /// with the note that it is settled. Returns run `runID`'s findings.
    ///
    /// Runs of different silos may run at once (a catalogue shared by many hosts), so:
    /// - settlements take turns (`whileSettling`): each reads the open findings and writes
    ///   what it decided before the next one reads them, so none is opened twice;
    /// - each run is noted settled on its own (no watermark): a run still writing is left
    ///   alone, neither settled half-way nor skipped, and settles its own when it ends (or,
    ///   if its process dies, the first settlement after that does); a run is settled once.
    /// The open findings then end as if the runs had run one after the other, in the order
    /// they were settled: each run writes only its own silos, which no other run writes
    /// meanwhile (per-silo scan locks).
    public static func settle(runID: Int64, scope: FindingScope,
                              in store: some FindingStore & SiloRegistry & RunLog) throws -> [Finding] {
        try store.whileSettling {
            let runs = Dictionary(try store.runs(limit: nil).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            // Other runs that ended before settling theirs: what they found is not forgotten,
            // only not reported as this run's. Then this run, in its place in run order.
            var order = try store.unsettledRuns().filter { !$0.writing && $0.id != runID }.map(\.id)
            order.append(runID)
            order.sort()
            var found: [Finding] = []
            for id in order {
                let run = runs[id]
                let findings = try settle(id, started: run?.startedAt ?? Date(), silos: run?.silos ?? [],
                                          scope: id == runID ? scope : .alerts, in: store)
                if id == runID { found = findings }
            }
            return found
        }
    }

    private static func settle(_ runID: Int64, started: Date, silos: [String], scope: FindingScope,
                               in store: some FindingStore & SiloRegistry & RunLog) throws -> [Finding] {
        let raw = try rawFindings(runID: runID, scope: scope, in: store)
        var fold = OpenFindingFold(runID: runID, runStarted: started, runSilos: silos, openFindings: try store.openFindings(silos: []))
        let out = fold.settle(raw, filesAtPaths: try store.filesAtOpenFindings(),
                              takenByPlans: try store.openFindingsTakenByPlans())
        try store.applyFindingTransitions(fold.transitions, runID: runID)
        return out
    }
}

extension CatalogueStore {
    /// What a check run found, from its changes and new files (see `FindingSettlement`).
    public func findings(runID: Int64) throws -> [Finding] {
        try FindingSettlement.rawFindings(runID: runID, scope: .all, in: self)
    }

    /// See `FindingSettlement.settle`.
    public func settleFindings(runID: Int64, scope: FindingScope) throws -> [Finding] {
        try FindingSettlement.settle(runID: runID, scope: scope, in: self)
    }
}

extension FindingStore {
    /// Closes the open findings the selectors match, as accepted by `user` (see
    /// `OpenFindingFold.acceptanceDetail`); returns them, oldest first.
    public func acceptFindings(_ selectors: [FindingSelector], by user: String, reason: String?) throws -> [OpenFinding] {
        let chosen = try openFindings(silos: []).filter { f in selectors.contains { $0.matches(f) } }.sorted { $0.id < $1.id }
        guard !chosen.isEmpty else { return [] }
        let now = Date()
        let closed = try closeAccepted(chosen.map { ($0.id, OpenFindingFold.acceptanceDetail($0, reason: reason)) }, by: user, at: now)
        return chosen.filter { closed.contains($0.id) }.map { f in
            var f = f
            f.closedAt = now; f.resolution = .accepted; f.closedBy = user
            return f
        }
    }
}
