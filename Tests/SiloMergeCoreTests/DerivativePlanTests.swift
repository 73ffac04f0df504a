import Foundation
import Testing
@testable import SiloMergeCore
import SiloMergeTestSupport

/// `--derivatives keep-master` without a disk: a master in marketing; two derivatives in hr
/// (the first with a second copy in training); a distinct photo.
@Suite("Plan: --derivatives keep-master quarantines derivatives after their master, and keeps what it must")
struct DerivativePlanTests {
    static let master = P.asset(1, [P.copy("marketing", "photos/photo.jpg", inode: 1)])
    static let small = P.asset(2, [P.copy("hr", "web/photo-small.jpg", inode: 2), P.copy("training", "social/small.jpg", inode: 3)])
    static let webp = P.asset(3, [P.copy("hr", "web/photo.webp", inode: 4)])
    static let other = P.asset(4, [P.copy("hr", "web/other.jpg", inode: 5)])
    static let assets = [master, small, webp, other]

    static func image(_ silo: String, _ path: String, _ w: Int, _ h: Int, _ format: String = "jpeg") -> SimilarImages.Image {
        SimilarImages.Image(silo: silo, siloPriority: P.silos.first { $0.name == silo }!.priority, path: RelativePath(path), size: 100,
                            width: w, height: h, format: format, copies: 1, metadataFields: 0,
                            sha256: assets.first { $0.copies.contains { $0.silo == silo && $0.path == RelativePath(path) } }?.sha256 ?? P.sha(99))
    }

    static func group(master: SimilarImages.Image = image("marketing", "photos/photo.jpg", 800, 600)) -> SimilarImages.Group {
        SimilarImages.Group(master: master, reason: "most pixels", derivatives: [
            SimilarImages.Derivative(image: image("hr", "web/photo-small.jpg", 400, 300), distance: 2, transform: PerceptualHash.dihedralName(0)),
            SimilarImages.Derivative(image: image("hr", "web/photo.webp", 320, 240, "webp"), distance: 4, transform: PerceptualHash.dihedralName(0)),
        ])
    }

    static func settings(_ action: DerivativeAction = .keepMaster) -> PlanSettings {
        var s = P.settings()
        s.derivatives = action
        return s
    }

    static func plan(_ input: PlanInput, _ settings: PlanSettings = settings()) throws -> MergePlan {
        try Planner(settings: settings).plan(input)
    }

    static func input(_ groups: [SimilarImages.Group] = [group()]) -> PlanInput {
        var i = P.input(assets)
        i.derivativeGroups = groups
        return i
    }

    @Test("every copy of each derivative goes to quarantine after its master's transfer, naming it; the others are planned as usual")
    func keepMaster() throws {
        let plan = try Self.plan(Self.input())
        #expect(PlanValidator.problems(in: plan).isEmpty)
        let transfers = plan.operations.filter(\.kind.isTransfer)
        #expect(Set(transfers.compactMap { $0.source?.sha256 }) == [P.sha(1).hex, P.sha(4).hex])
        let masterOp = try #require(P.transfer(plan, 1))
        #expect(masterOp.reason.contains("the master of 2 derivatives, which go to quarantine"), "\(masterOp.reason)")
        let moved = plan.operations.filter { $0.derivativeOf != nil }
        #expect(Set(moved.map { "\($0.source!.silo):\($0.source!.path.display)" })
                == ["hr:web/photo-small.jpg", "training:social/small.jpg", "hr:web/photo.webp"])
        for op in moved {
            #expect(op.kind == .quarantineDuplicate && op.canonicalOp == masterOp.id && op.id > masterOp.id)
            #expect(op.derivativeOf?.sha256 == P.sha(1).hex && op.derivativeOf?.masterWidth == 800)
            #expect(op.destination == RelativePath(op.source!.silo).appending(op.source!.path.bytes))
            #expect(op.reason.contains("derivative of marketing:photos/photo.jpg (the master, 800×600 jpeg, → marketing/photos/photo.jpg)"), "\(op.reason)")
        }
        #expect(moved.first { $0.source?.path == RelativePath("web/photo.webp") }?.reason.contains("320×240 webp, perceptual distance 4 bits") == true)
        // Nothing of them is left behind: each copy has its one operation.
        #expect(!plan.leftBehind.contains { $0.path.display.contains("small") || $0.path.display.contains("webp") })
        let summary = try #require(PlanSummary.of(plan).derivatives)
        #expect(summary.files == 3 && summary.contents == 2 && summary.masters == 1 && summary.bytes == 300)
    }

    @Test("keep-all is the plan without the option, byte for byte; an older plan (no setting) reads as keep-all; keep-master round-trips")
    func keepAllAndEncoding() throws {
        let all = try Self.plan(Self.input(), Self.settings(.keepAll))
        let without = try Self.plan(Self.input([]), P.settings())
        #expect(try PlanFile.encode(all) == PlanFile.encode(without))
        #expect(all.operations.filter(\.kind.isTransfer).count == 4 && all.operations.allSatisfy { $0.derivativeOf == nil })
        #expect(!String(decoding: try PlanFile.encode(all), as: UTF8.self).contains("derivative"))
        #expect(try PlanFile.decode(try PlanFile.encode(all)).settings.derivatives == .keepAll)
        let master = try Self.plan(Self.input())
        let bytes = try PlanFile.encode(master)
        #expect(String(decoding: bytes, as: UTF8.self).contains("\"derivatives\" : \"keep-master\""))
        #expect(try PlanFile.decode(bytes) == master)
    }

    @Test("a derivative whose master the plan does not carry is planned as usual, and the plan says why")
    func masterNotCarried() throws {
        let plan = try Self.plan(Self.input([Self.group(master: Self.image("marketing", "photos/gone.jpg", 800, 600))]))
        #expect(plan.operations.allSatisfy { $0.derivativeOf == nil })
        for seed in [2, 3] {
            let op = try #require(P.transfer(plan, seed))
            #expect(op.reason.contains("planned as usual (--derivatives keep-master), as its master is not carried by this plan"), "\(op.reason)")
        }
        #expect(PlanSummary.of(plan).derivatives == PlanSummary.DerivativeSummary(contents: 0, files: 0, bytes: 0, masters: 0))
    }

    @Test("a derivative in a folder kept whole (--keep-folders) is kept")
    func keptFolder() throws {
        var input = Self.input()
        input.folderGroups = [DuplicateFolderGroup(hash: P.sha(99), files: 1, bytes: 100, folders: [
            FolderRef(silo: "hr", siloPriority: 2, path: RelativePath("web")),
            FolderRef(silo: "training", siloPriority: 3, path: RelativePath("social")),
        ])]
        var settings = Self.settings()
        settings.keepFolders = true
        let plan = try Self.plan(input, settings)
        #expect(plan.operations.allSatisfy { $0.derivativeOf == nil })
        for seed in [2, 3] {
            let op = try #require(P.transfer(plan, seed))
            #expect(op.destination?.display.hasPrefix("Folders/hr/web/") == true)
            #expect(op.reason.contains("as it lies in hr:web/, a folder kept whole (--keep-folders)"), "\(op.reason)")
        }
    }

    @Test("a derivative with a copy on another host than its master's canonical copy is kept; the other goes")
    func otherHost() throws {
        var input = PlanHostTests.input(Self.assets)
        input.derivativeGroups = [Self.group()]
        let plan = try Self.plan(input)
        #expect(PlanValidator.problems(in: plan).isEmpty)
        let small = try #require(P.transfer(plan, 2))
        #expect(small.reason.contains("as its copy training:social/small.jpg is on another host than the master's canonical copy"), "\(small.reason)")
        #expect(plan.operations.filter { $0.derivativeOf != nil }.map { $0.source!.path } == [RelativePath("web/photo.webp")])
    }

    @Test("an edited keep-master plan is refused: derivative_of without the setting, naming another master, or missing, or on a transfer")
    func validator() throws {
        let plan = try Self.plan(Self.input())
        let i = try #require(plan.operations.firstIndex { $0.derivativeOf != nil })
        var p = plan
        p.settings.derivatives = .keepAll
        #expect(PlanValidator.problems(in: p).contains { $0.reason.contains("not made with --derivatives keep-master") })
        p = plan
        p.operations[i].derivativeOf?.sha256 = P.sha(4).hex
        #expect(PlanValidator.problems(in: p).contains { $0.reason.contains("is not of the master it names") })
        p = plan
        let own = plan.operations[i].source!.sha256
        p.operations[i].derivativeOf?.sha256 = own
        #expect(!PlanValidator.problems(in: p).isEmpty)
        p = plan
        p.operations[i].derivativeOf = nil
        #expect(PlanValidator.problems(in: p).contains { $0.reason.contains("is of another content") })
        p = plan
        let t = try #require(p.operations.firstIndex { $0.kind.isTransfer })
        p.operations[t].derivativeOf = plan.operations[i].derivativeOf
        #expect(PlanValidator.problems(in: p).contains { $0.reason.contains("derivative_of is only for the quarantine-duplicate operations") })
    }

    @Test("a quarantined derivative's XMP sidecar stays in its silo, listed with why")
    func sidecarOfDerivative() throws {
        var input = Self.input()
        input.sidecars = [PlanSidecarCarryTests.sidecar("hr", "web/photo.webp.xmp", of: "web/photo.webp", form: .nameWithExtension, inode: 40)]
        let plan = try Self.plan(input)
        let left = try #require(plan.leftBehind.first { $0.path == RelativePath("web/photo.webp.xmp") })
        #expect(left.reason == .sidecarOfUnplanned)
        #expect(left.detail.contains("a derivative of marketing:photos/photo.jpg moved to the quarantine folder (--derivatives keep-master); stays in the silo"),
                "\(left.detail)")
        #expect(!plan.operations.contains { $0.source?.path == RelativePath("web/photo.webp.xmp") })
    }

    @Test("a quarantine folder inside a silo is refused with keep-master, whatever --duplicates says")
    func quarantineInsideSilo() throws {
        var settings = Self.settings()
        settings.quarantineRoot = FilePath("/srv/hr/quarantine")
        #expect(throws: PlanError.self) { try Self.plan(Self.input(), settings) }
        settings.derivatives = .keepAll
        _ = try Self.plan(Self.input(), settings)
    }
}
