import Foundation

/// What `silomerge export` is asked for (all formats but a bag of a plan's tree, which is
/// `BagItBagger`).
public struct ExportRequest: Sendable {
    public var format: ExportFormat
    public var destination: ExportDestination
    /// replace, profile, DAM root; `placements` is filled from `plan`.
    public var options: ExportOptions
    /// A plan made from this catalogue: name the files as they sit in its merged tree.
    public var plan: String?
    public var reconcile: ReconcileRequest

    public init(format: ExportFormat, destination: ExportDestination, options: ExportOptions = ExportOptions(),
                plan: String? = nil, reconcile: ReconcileRequest = ReconcileRequest()) {
        self.format = format; self.destination = destination; self.options = options
        self.plan = plan; self.reconcile = reconcile
    }
}

/// Reconcile, then export: the unified catalogue streamed into one writer, a record at a time.
public enum ExportWorkflow {
    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// The plan names silos that are not this catalogue's (at most three problems kept).
        case planFromAnotherCatalogue(plan: String, problems: [PlanProblem])

        public var description: String {
            switch self {
            case .planFromAnotherCatalogue(let plan, let problems):
                "\(plan) was not made from this catalogue: " + problems.map(\.description).joined(separator: "; ")
            }
        }
    }

    /// What was written, and what the reconciliation found (conflicts are exported without a value).
    public struct Outcome: Sendable {
        public var export: ExportSummary
        public var reconciled: ReconcileSummary
    }

    public static func run(store: any CatalogueStore, _ request: ExportRequest,
                           fileSystem: any FileOps = RealFileOps()) throws -> Outcome {
        var options = request.options
        if let planFile = request.plan {
            // Paths relative to the plan's target: the export travels with the merged tree and
            // can never name a silo's original. The plan must come from this catalogue.
            let plan = try PlanFile.read(FilePath(planFile))
            let problems = PlanValidator.catalogueProblems(in: plan, catalogued: try store.silos(), catalogue: store.location.display)
            if !problems.isEmpty { throw Failure.planFromAnotherCatalogue(plan: planFile, problems: Array(problems.prefix(3))) }
            options.placements = ExportOptions.placements(of: plan)
        }
        let writer = try ExportWriter(format: request.format, destination: request.destination, options: options,
                                      fileSystem: fileSystem)
        let reconciled = try ReconcileWorkflow.run(store: store, request.reconcile) { try writer.write($0) }
        return Outcome(export: try writer.finish(), reconciled: reconciled)
    }
}
