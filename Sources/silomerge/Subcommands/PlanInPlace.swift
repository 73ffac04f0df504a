import ArgumentParser
import Foundation
import SiloMergeCore

extension InPlaceMethod: ExpressibleByArgument {}

/// `silomerge plan --in-place`: deduplication inside the silos (see `InPlacePlanner`).
extension Plan.Create {
    /// The merge's --method (copy by default).
    func transferMethod() throws -> TransferMethod {
        guard let method else { return .copy }
        guard let m = TransferMethod(rawValue: method) else {
            throw CLIError.usage("--method '\(method)': a merge takes copy, hardlink, reflink or move (quarantine and remove are for --in-place)")
        }
        return m
    }

    func validateInPlace() throws {
        guard inPlace else { return }
        var clashing: [String] = []
        if target != nil { clashing.append("--target") }
        if layout != PlanSettings.defaultLayout { clashing.append("--layout") }
        if duplicates != .keep { clashing.append("--duplicates (use --method)") }
        if hardlinkFallback { clashing.append("--hardlink-fallback-copy") }
        if sidecars { clashing.append("--sidecars") }
        if importManifest { clashing.append("--import-manifest") }
        if keepFolders { clashing.append("--keep-folders (in place, every folder stays where it is)") }
        if !clashing.isEmpty {
            throw ValidationError("--in-place builds no target tree: \(clashing.joined(separator: ", ")) cannot go with it")
        }
        if derivatives == .keepMaster {
            // An in-place plan acts only on byte-identical copies (a kernel-verified reflink, a
            // hard link, a removal or quarantine beside a canonical copy of the same bytes): a
            // derivative is another content, and its master would stay in a silo, not be
            // verified in a target.
            throw ValidationError("--in-place acts only on byte-identical copies; --derivatives keep-master cannot go with it: quarantine derivatives with a merge plan (--target DIR --derivatives keep-master)")
        }
        if let method, InPlaceMethod(rawValue: method) == nil {
            throw ValidationError("--in-place --method '\(method)': choose reflink, hardlink, quarantine or remove")
        }
        if quarantine != nil && method != InPlaceMethod.quarantine.rawValue {
            throw ValidationError("--quarantine goes with --in-place --method quarantine only")
        }
    }

    func runInPlace(catalogue: any CatalogueStore, config: SiloMergeConfiguration?, rules: [CanonicalRule]) throws {
        var request = InPlaceRequest(method: method.flatMap(InPlaceMethod.init(rawValue:)),
                                     quarantine: quarantine.map { FilePath($0) }, canonicalRules: rules,
                                     reconcile: options.request(config))
        request.host = try hostOption.identity()
        let plan: MergePlan
        do {
            plan = try InPlaceWorkflow.plan(store: catalogue, request) { warning in
                if case .unhashedFiles(let unhashed) = warning {
                    Stderr.write("silomerge: warning: \(Format.count(unhashed)) catalogued files have no full hash (an audit with --hash dupes?): their duplicates cannot be known; run silomerge scan --hash full first\n")
                }
            }
        } catch let e as PlanWorkflow.Failure {
            throw CLIError.usage("\(e)")
        } catch let e as PlanError {
            if case .invalidSettings(let text) = e { throw CLIError.usage(text) }
            throw e
        }
        try PlanFile.write(plan, to: FilePath(output))
        let info = plan.inPlace!
        let groups = Set(plan.operations.compactMap { $0.canonical?.sha256 }).count
        var line = "Wrote \(output) (in place, by \(info.method.rawValue)): \(Format.plural(plan.operations.count, "operation")) "
        line += "on the duplicates of \(Format.plural(groups, "content")), \(Format.bytes(info.reclaimBytes)) to reclaim"
        if info.method == .quarantine { line += " (moved to \(plan.quarantineRoot.display))" }
        print(line + ".")
        if info.groupsWithUnreachableCopies > 0 {
            print("\(Format.plural(info.groupsWithUnreachableCopies, "content")) keep copies the method cannot reach (another file system or host than the canonical copy): each is listed with why in plan show.")
        }
        print("Review it: silomerge plan show \(output); then silomerge apply \(output) --dry-run")
    }
}

/// `plan show` of an in-place plan: what it does instead of a layout and a target.
enum PlanInPlaceText {
    static func header(_ plan: MergePlan, _ inPlace: InPlaceSettings) -> String {
        let groups = Set(plan.operations.compactMap { $0.canonical?.sha256 }).count
        var out = "In place, by \(inPlace.method.rawValue): no target tree; \(Format.plural(plan.operations.count, "duplicate")) "
            + "of \(Format.plural(groups, "content")) acted on beside their canonical copies, \(Format.bytes(inPlace.reclaimBytes)) to reclaim\n"
        if inPlace.groupsWithUnreachableCopies > 0 {
            out += "\(Format.plural(inPlace.groupsWithUnreachableCopies, "content")) keep copies the method cannot reach (another file system or host): listed below as left behind\n"
        }
        return out
    }
}
