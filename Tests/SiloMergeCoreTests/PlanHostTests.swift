import Foundation
import Testing
@testable import SiloMergeCore
import SiloMergeTestSupport

/// Plans across hosts, without a disk: marketing and hr on host a, training on host b.
@Suite("Plan across hosts: physical files per host, duplicates acted on by their canonical copy's host, each operation's host")
struct PlanHostTests {
    static let a = HostIdentity(id: "a", name: "nas-a")
    static let b = HostIdentity(id: "b", name: "nas-b")

    static func input(_ assets: [ReconciledAsset]) -> PlanInput {
        var i = P.input(assets)
        i.silos = P.silos.map { s in
            var s = s
            s.host = s.name == "training" ? b : a
            return s
        }
        i.plannedOn = a
        return i
    }

    static func plan(_ assets: [ReconciledAsset], _ settings: PlanSettings) throws -> MergePlan {
        try Planner(settings: settings).plan(input(assets))
    }

    @Test("equal device and inode on two hosts are two files; on one host, one file under two names")
    func physicalFilesPerHost() throws {
        // marketing (a) and training (b) share device 1 inode 7: two files. hr (a) shares
        // marketing's device and inode: a hard link of it.
        let asset = P.asset(1, [P.copy("marketing", "m.jpg", inode: 7), P.copy("hr", "h.jpg", inode: 7),
                                P.copy("training", "t.jpg", inode: 7)])
        let plan = try Self.plan([asset], P.settings(duplicates: .remove, transfer: .move))
        #expect(plan.schema == "silomerge-plan/3" && plan.plannedOn == Self.a)
        let move = try #require(plan.operations.first { $0.kind == .move })
        #expect(move.source?.silo == "marketing")
        #expect(move.hardLinks == [SiloName(silo: "hr", path: RelativePath("h.jpg"))])
        // training's copy is a separate copy on another host: kept, not removed, not a link.
        #expect(!plan.operations.contains { $0.source?.silo == "training" })
        let reasons = Dictionary(uniqueKeysWithValues: plan.leftBehind.map { ($0.silo, $0.reason) })
        #expect(reasons == ["hr": .hardLink, "training": .duplicateKept])
        #expect(plan.leftBehind.first { $0.silo == "training" }?.detail.contains("it is on host nas-b (b), its canonical copy on host nas-a (a)") == true)
        #expect(asset.physicalCopies == 1)   // no host on the copies: the catalogue's one host, one file
        var hosted = asset
        for i in hosted.copies.indices { hosted.copies[i].host = hosted.copies[i].silo == "training" ? "b" : "a" }
        #expect(hosted.physicalCopies == 2)
        #expect(PlanValidator.problems(in: plan).isEmpty)
    }

    @Test("a plan edited so that a duplicate is acted on from another host than its canonical copy is refused")
    func crossHostDuplicateRefused() throws {
        let asset = P.asset(2, [P.copy("marketing", "m.jpg", inode: 1), P.copy("hr", "h.jpg", inode: 2)])
        var plan = try Self.plan([asset], P.settings(duplicates: .remove))
        #expect(plan.operations.map(\.kind) == [.copy, .removeDuplicate])
        #expect(PlanValidator.problems(in: plan).isEmpty)
        plan.silos = plan.silos.map { s in var s = s; if s.name == "hr" { s.host = Self.b }; return s }
        let problems = PlanValidator.problems(in: plan)
        #expect(problems.contains { $0.op == 2 && $0.reason.contains("it is on host b, its canonical operation 1 on host a") }, "\(problems)")
        // A silo without a host among silos with hosts, and a /2 plan that records hosts.
        plan.silos[0].host = nil
        #expect(PlanValidator.problems(in: plan).contains { $0.reason.contains("names no host while other silos of the plan do") })
        plan.schema = "silomerge-plan/2"
        #expect(PlanValidator.problems(in: plan).contains { $0.reason.contains("a silomerge-plan/2 plan records no hosts") })
    }

    @Test("each operation's host: its source's silo's; a generated sidecar follows its file; the manifests the first transfer")
    func operationHosts() throws {
        let assets = [P.asset(3, [P.copy("training", "t.jpg", inode: 3)]), P.asset(4, [P.copy("hr", "h.jpg", inode: 4)])]
        var settings = P.settings()
        settings.writeSidecars = true
        settings.writeManifest = true
        let plan = try Self.plan(assets, settings)
        for op in plan.operations {
            let expected: String
            if let s = op.source { expected = s.silo == "training" ? "b" : "a" }
            else if op.kind == .xmpSidecar { expected = plan.host(of: plan.operation(op.canonicalOp!)!)!.id }
            else { expected = plan.host(of: plan.operations[0])!.id }
            #expect(plan.host(of: op)?.id == expected, "\(op.display)")
        }
        let onA = plan.operationIDs(on: Self.a), onB = plan.operationIDs(on: Self.b)
        #expect(onA.isDisjoint(with: onB) && onA.union(onB) == Set(plan.operations.map(\.id)))
        #expect(plan.operationIDs(on: HostIdentity(id: "c", name: "c")).isEmpty)
        // On the host it was made on, the plan's own roots.
        let scope = try PlanScope.on(Self.a, of: plan)
        #expect(scope.operations == onA && scope.targetRoot == plan.targetRoot && scope.targetAnchor == plan.targetAnchor)
        #expect(scope.elsewhere(in: plan).map(\.host) == [Self.b] && scope.elsewhere(in: plan).map(\.operations) == [onB.count])
        // A plan without hosts: every operation is every host's.
        let plain = try P.plan(assets, settings)
        #expect(plain.operationIDs(on: Self.b).count == plain.operations.count && plain.schema == MergePlan.currentSchema)
    }

    @Test("one journal per host beside a plan across hosts; a host id that is no file name is named by its SHA-256")
    func journals() throws {
        let plan = try Self.plan([P.asset(5, [P.copy("training", "t.jpg", inode: 5)]), P.asset(6, [P.copy("hr", "h.jpg", inode: 6)])],
                                 P.settings())
        let path = FilePath("/srv/plans/merge.json")
        #expect(plan.defaultJournal(planPath: path, host: Self.a) == FilePath("/srv/plans/merge.json.journal.a"))
        let odd = plan.defaultJournal(planPath: path, host: HostIdentity(id: "../x/y", name: "odd"))
        #expect(odd.display.hasPrefix("/srv/plans/merge.json.journal.h-") && !odd.display.dropFirst(11).contains("/"), "\(odd)")
        #expect(try P.plan([P.asset(5, [P.copy("hr", "h.jpg", inode: 5)])]).defaultJournal(planPath: path, host: Self.a)
                == FilePath("/srv/plans/merge.json.journal"))
    }
}
