import Foundation
import PostgresNIO
import SiloMergeCore

// MARK: - FindingStore

extension PostgresCatalogue {
    public func forEachChange(runID: Int64, _ body: (FindingFold.Change) throws -> Void) throws { throw unimplemented() }
    public func forEachNewFile(runID: Int64, scope: FindingScope, _ body: (FindingFold.NewFile) throws -> Void) throws { throw unimplemented() }
    public func mergeNotes(runID: Int64) throws -> FindingFold.MergeNotes { throw unimplemented() }
    public func forEachCopies(of contents: [SHA256Digest], _ body: (SHA256Digest, [FindingFold.Copy]) throws -> Void) throws { throw unimplemented() }
    public func filesAtOpenFindings() throws -> [OpenFindingFold.FileAtPath] { throw unimplemented() }
    public func openFindingsTakenByPlans() throws -> [OpenFindingFold.TakenByPlan] { throw unimplemented() }
    public func settledThrough() throws -> Int64 { throw unimplemented() }
    public func applyFindingTransitions(_ transitions: [OpenFindingTransition], runID: Int64) throws { throw unimplemented() }
    public func recordFindings(_ findings: [Finding], outcome: CheckOutcome, runID: Int64) throws { throw unimplemented() }
    public func lastCheck() throws -> (run: RunRecord, outcome: CheckOutcome?, findings: [Finding])? { throw unimplemented() }
    public func syncMerges(runID: Int64) throws -> [String] { throw unimplemented() }
    public func openFindings(silos: [String]) throws -> [OpenFinding] { throw unimplemented() }
    public func closedFindings(limit: Int) throws -> [OpenFinding] { throw unimplemented() }
    public func closeAccepted(_ closing: [(id: Int64, detail: String)], by user: String, at time: Date) throws -> Set<Int64> { throw unimplemented() }
}

// MARK: - MergeLedger

extension PostgresCatalogue {
    public func recordMerge(plan: MergePlan, planSHA256: String, planPath: FilePath, journal: FilePath, runID: Int64) throws { throw unimplemented() }
    public func syncMerge(planSHA256: String, journal: MergeJournal, runID: Int64) throws { throw unimplemented() }
    public func recordPlanRun(_ runID: Int64, _ record: PlanRunRecord, outcome: String?) throws { throw unimplemented() }
    public func planRuns(_ runIDs: [Int64]) throws -> [Int64: PlanRunRecord] { throw unimplemented() }
    public func mergeContentKnown(planSHA256: String) throws -> Set<RelativePath> { throw unimplemented() }
    public func adoptMergeContent(planSHA256: String, silo: String) throws -> Int { throw unimplemented() }
    public func markAdopted(silo: String, planSHA256: String) throws { throw unimplemented() }
}

// MARK: - UnverifiedCopySource

extension PostgresCatalogue {
    public func unverifiedCopies(silos: [String]) throws -> [UnverifiedCopy] { throw unimplemented() }
}
