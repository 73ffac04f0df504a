import Foundation
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

/// A copy of the bundled Fixtures, scanned with their configuration (manifests, policies):
/// conflicts, sidecars and duplicates across three silos.
private final class FixtureSilos {
    let tree: TestTree
    let store: SQLiteCatalogue
    let config: SiloMergeConfiguration

    init(_ label: String = #function, mode: HashMode = .full) throws {
        tree = try TestTree(label)
        for item in try FileManager.default.contentsOfDirectory(atPath: Fixture.root.path) {
            try FileManager.default.copyItem(at: Fixture.url(item), to: tree.url(item))
        }
        config = try SiloMergeConfiguration.load(path: tree.url("silomerge.yml").path)
        store = try SQLiteCatalogue(path: tree.catalogue)
        var options = ScanOptions()
        options.hashMode = mode
        _ = try ScanEngine(store: store).scan(config.silos, options: options)
    }

    var request: ReconcileRequest { ReconcileRequest(configuration: config) }
}

@Suite("Workflows: reconcile, conflicts, export and plan in core, on a real catalogue")
struct WorkflowTests {
    @Test("reconcile: every field counted once by how it was settled; the unified catalogue is stored")
    func reconcileTally() throws {
        let fx = try FixtureSilos()
        let (tally, summary) = try ReconcileWorkflow.tally(store: fx.store, fx.request)
        var fields = 0, conflicts = 0
        try Reconciliation.run(store: fx.store, record: false) { a in
            fields += a.fields.count
            conflicts += a.fields.filter { $0.status == .conflict }.count
        }
        #expect(summary.assets > 0 && tally.conflicts == summary.conflicts && tally.conflicts == conflicts && conflicts > 0)
        #expect(tally.agreed + tally.resolvedByPolicy + tally.resolvedByPerson + tally.conflicts == fields)
        #expect(tally.resolvedByPerson == 0)
        // The policies of the configuration are remembered for the next command.
        #expect(try Reconciliation.storedPolicies(in: fx.store) == ReconcilePolicies(fx.config.reconcile ?? [:]))
    }

    @Test("conflicts: the template lists each conflict; with one value per field uncommented it settles them all")
    func conflictsTemplateRoundTrip() throws {
        let fx = try FixtureSilos()
        let (found, summary) = try ReconcileWorkflow.conflicts(store: fx.store, fx.request)
        #expect(!found.isEmpty && found.allSatisfy { $0.fields.contains { $0.status == .conflict } })
        let template = ConflictSheet.template(found)
        for a in found { #expect(template.contains("\n\(a.shortID):\n")) }
        // A person keeps the first value offered for every field.
        var lines: [String] = []
        var settled = Set<String>()
        var asset = ""
        for line in template.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if !line.hasPrefix(" ") && line.hasSuffix(":") && !line.hasPrefix("#") { asset = line }
            if line.hasPrefix("  # ") && !line.hasPrefix("  # from "), let field = line.dropFirst(4).split(separator: ":").first,
               settled.insert(asset + field).inserted {
                lines.append("  " + line.dropFirst(4))
            } else {
                lines.append(line)
            }
        }
        let file = try fx.tree.write("decisions.yml", lines.joined(separator: "\n"))
        var request = fx.request
        request.resolutionsFile = file.path
        let after = try ReconcileWorkflow.conflicts(store: fx.store, request)
        #expect(after.assets.isEmpty && after.summary.conflicts == 0)
        #expect(after.summary.resolutions == summary.conflicts)
    }

    @Test("export: every stored record written to the file, one line each; a plan of another catalogue is refused")
    func export() throws {
        let fx = try FixtureSilos()
        let out = FilePath(fx.tree.url("catalogue.jsonl").path)
        let outcome = try ExportWorkflow.run(store: fx.store, ExportRequest(format: .jsonl, destination: .file(out), reconcile: fx.request))
        var expected: [String] = []
        try Reconciliation.run(store: fx.store, record: false) { expected.append(try ExportWriter.jsonLine(for: $0)) }
        let written = try String(contentsOfFile: out.string!, encoding: .utf8)
        #expect(written == expected.joined(separator: "\n") + "\n")
        #expect(outcome.export.assets == expected.count && outcome.reconciled.assets == expected.count)
        #expect(outcome.reconciled.conflicts > 0)

        // A plan made from another catalogue would name files this one does not know.
        let other = try FixtureSilos("export-other")
        var plan = PlanRequest(target: FilePath(other.tree.url("target").path), reconcile: other.request)
        plan.settings.allowConflicts = true
        let made = try PlanWorkflow.plan(store: other.store, plan)
        let planFile = FilePath(fx.tree.url("other-plan.json").path)
        try PlanFile.write(made, to: planFile)
        let refused = FilePath(fx.tree.url("refused.csv").path)
        #expect(throws: ExportWorkflow.Failure.self) {
            try ExportWorkflow.run(store: fx.store, ExportRequest(format: .exiftool, destination: .file(refused), plan: planFile.string!,
                                                                  reconcile: fx.request))
        }
        #expect(!FileManager.default.fileExists(atPath: refused.string!))
    }

    @Test("plan: conflicts refuse it unless allowed; the same catalogue gives the same plan; no finished scan is a typed error")
    func plan() throws {
        let fx = try FixtureSilos()
        let target = FilePath(fx.tree.url("merged").path)
        #expect(throws: PlanError.self) { try PlanWorkflow.plan(store: fx.store, PlanRequest(target: target, reconcile: fx.request)) }
        var request = PlanRequest(target: target, reconcile: fx.request)
        request.settings.allowConflicts = true
        var warnings: [PlanWorkflow.Warning] = []
        let plan = try PlanWorkflow.plan(store: fx.store, request) { warnings.append($0) }
        #expect(warnings.isEmpty)
        let summary = PlanSummary.of(plan)
        let assets = try Reconciliation.run(store: fx.store, record: false).assets
        #expect(summary.contents > 0 && summary.contents <= assets && summary.operations >= summary.contents)
        #expect(plan.catalogue == fx.store.location.id)
        // The same catalogue and settings give the same plan.
        #expect(try PlanWorkflow.plan(store: fx.store, request) == plan)

        let empty = try TestTree()
        let store = try SQLiteCatalogue(path: empty.catalogue)
        #expect(throws: PlanWorkflow.Failure.noFinishedScan) {
            try PlanWorkflow.plan(store: store, PlanRequest(target: FilePath(empty.url("merged").path)))
        }
    }

    @Test("plan: files an audit left unhashed are a warning the caller hears, and stay out of the plan")
    func planWarnsOfUnhashed() throws {
        let fx = try FixtureSilos(mode: .dupes)
        var request = PlanRequest(target: FilePath(fx.tree.url("merged").path), reconcile: fx.request)
        request.settings.allowConflicts = true
        var warnings: [PlanWorkflow.Warning] = []
        _ = try PlanWorkflow.plan(store: fx.store, request) { warnings.append($0) }
        let unhashed = try fx.store.unhashedFiles().count
        #expect(unhashed > 0 && warnings == [.unhashedFiles(unhashed)])
    }
}
