import Foundation
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

/// Two silos with a duplicate across them, scanned into the tree's catalogue, and a plan made
/// from it (written beside them) into `tree/target`.
private final class PlannedSilos {
    let tree: TestTree
    let store: SQLiteCatalogue
    let request: PlanRunRequest

    init(_ label: String = #function) throws {
        tree = try TestTree(label)
        try tree.write("a/2019/one.txt", "one")
        try tree.write("a/2019/two.txt", "two")
        try tree.write("b/copy-of-one.txt", "one")
        try tree.write("b/three.txt", "three")
        (_, store) = try scan(tree, [tree.silo("a", priority: 2), tree.silo("b")])
        let plan = try PlanWorkflow.plan(store: store, PlanRequest(target: FilePath(tree.url("target").path)))
        let planPath = FilePath(tree.url("plan.json").path)
        try PlanFile.write(plan, to: planPath)
        request = PlanRunRequest(plan: try PlanFile.read(planPath), planPath: planPath, journal: FilePath(planPath.string! + ".journal"))
    }

    var target: String { tree.url("target").path }
    var targetFiles: [String] {
        (FileManager.default.enumerator(atPath: target)?.allObjects as? [String] ?? [])
            .filter { !$0.hasPrefix(".") && !isFolder(target + "/" + $0) }.sorted()
    }
    var silos: [String: String] {
        var out: [String: String] = [:]
        for silo in ["a", "b"] {
            for case let p as String in FileManager.default.enumerator(atPath: tree.url(silo).path)! where !isFolder(tree.url(silo).path + "/" + p) {
                out[silo + "/" + p] = try? String(contentsOfFile: tree.url(silo).path + "/" + p, encoding: .utf8)
            }
        }
        return out
    }
    private func isFolder(_ path: String) -> Bool {
        var folder: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &folder) && folder.boolValue
    }
}

@Suite("Apply workflow: apply, verify and undo a plan in core, on a real catalogue")
struct ApplyWorkflowTests {
    @Test("apply then verify then undo: the target is built and valid, both runs are recorded, undo leaves it as before")
    func applyVerifyUndo() throws {
        let fx = try PlannedSilos()
        let before = fx.silos
        var warnings: [ApplyWorkflow.Warning] = []
        let dry = try ApplyWorkflow.apply(fx.request, dryRun: true, catalogue: { fx.store })
        #expect(dry.done.count == fx.request.plan.operations.count && !FileManager.default.fileExists(atPath: fx.target))
        #expect(try fx.store.runs(limit: nil).filter { $0.kind == .apply }.isEmpty, "a dry run is not recorded")

        let report = try ApplyWorkflow.apply(fx.request, dryRun: false, catalogue: { fx.store },
                                             hooks: ApplyWorkflow.Hooks(warn: { warnings.append($0) }))
        #expect(report.isComplete && report.stoppedBy == nil && warnings.isEmpty, "\(warnings)")
        #expect(fx.targetFiles.count == 3, "\(fx.targetFiles)")      // one, two, three: the copy of one kept once
        #expect(fx.silos == before, "copying leaves the silos as they were")
        let applied = try #require(try fx.store.runs(limit: nil).first { $0.kind == .apply })
        #expect(applied.status == .ok)
        let recorded = try #require(try fx.store.planRuns([applied.id])[applied.id])
        #expect(recorded.done == report.done.count && recorded.operations == fx.request.plan.operations.count)
        #expect(recorded.plan == fx.request.planPath.display)

        let verified = try ApplyWorkflow.verify(fx.request)
        #expect(verified.problems.isEmpty && verified.verifiedFiles == 3 && verified.expectedFiles == 3)

        // The scan lock was released at the end: a scan can take the catalogue.
        withExtendedLifetime(try fx.store.lockForScan()) {}

        let undone = try ApplyWorkflow.undo(fx.request, catalogue: { fx.store })
        #expect(undone.isComplete && undone.undone.count == report.done.count)
        #expect(fx.targetFiles.isEmpty && fx.silos == before)
        let undoRun = try #require(try fx.store.runs(limit: nil).first { $0.kind == .undo })
        #expect(undoRun.status == .ok)
        // The target undo removed (apply made it) cannot be verified.
        #expect(throws: ApplyError.self) { try ApplyWorkflow.verify(fx.request) }
    }

    @Test("undo without a catalogue: reverses from the journal alone, and records nothing")
    func undoWithoutCatalogue() throws {
        let fx = try PlannedSilos()
        _ = try ApplyWorkflow.apply(fx.request, dryRun: false, catalogue: { fx.store })
        let runs = try fx.store.runs(limit: nil).count
        #expect(try ApplyWorkflow.undo(fx.request, catalogue: { nil }).isComplete)
        let after = try fx.store.runs(limit: nil).count
        #expect(fx.targetFiles.isEmpty && after == runs)
    }

    @Test("a plan made from another catalogue, or with a silo's root changed, is refused as a typed error; nothing written")
    func refusals() throws {
        let fx = try PlannedSilos()
        let other = try PlannedSilos("apply-workflow-other")
        var rerooted = fx.request
        rerooted.plan.silos[1].root = FilePath(other.tree.url("b").path)
        for request in [other.request, rerooted] {
            // Against this catalogue: the other plan names silos this catalogue holds elsewhere.
            let plan = request.plan
            let journal = FilePath(fx.tree.url("refused.journal").path)
            let r = PlanRunRequest(plan: plan, planPath: request.planPath, journal: journal)
            #expect(throws: ApplyError.self) { try ApplyWorkflow.apply(r, dryRun: false, catalogue: { fx.store }) }
            do {
                _ = try ApplyWorkflow.apply(r, dryRun: false, catalogue: { fx.store })
            } catch let e as ApplyError {
                guard case .invalidPlan(let problems) = e else { Issue.record("wrong refusal: \(e)"); continue }
                #expect(!problems.isEmpty)
            }
            #expect(!FileManager.default.fileExists(atPath: journal.string!))
            #expect(!FileManager.default.fileExists(atPath: other.target) && !FileManager.default.fileExists(atPath: fx.target))
        }
        #expect(try fx.store.runs(limit: nil).filter { $0.kind == .apply }.isEmpty, "a refused plan is not recorded as a run")
    }

    @Test("a catalogue that cannot be opened stops the apply with the opener's error, before anything is written")
    func catalogueUnavailable() throws {
        struct Missing: Error {}
        let fx = try PlannedSilos()
        #expect(throws: Missing.self) { try ApplyWorkflow.apply(fx.request, dryRun: false, catalogue: { throw Missing() }) }
        #expect(!FileManager.default.fileExists(atPath: fx.target) && !FileManager.default.fileExists(atPath: fx.request.journal.string!))
    }
}
