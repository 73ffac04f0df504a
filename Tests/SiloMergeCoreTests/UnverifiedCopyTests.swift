import Foundation
import Testing
@testable import SiloMergeCore
import SiloMergeTestSupport

@Suite("Plan: a copy whose content is not the one last verified is never planned")
struct UnverifiedCopyTests {
    /// hr holds the copy every rule prefers (priority 1 after marketing is left out, oldest,
    /// shortest path); its content no longer reads as the one last verified.
    static let asset = P.asset(5, [
        P.copy("marketing", "campaigns/2023/logo-final-v2.png", mtime: "2023-06-20T10:00:00Z", inode: 51),
        P.copy("hr", "logo.png", mtime: "2019-03-02T08:00:00Z", inode: 52),
    ])

    static func rotten(_ silo: String, _ path: String) -> UnverifiedCopy {
        UnverifiedCopy(silo: silo, path: RelativePath(path), verifiedSHA256: P.sha(99), currentSHA256: P.sha(5),
                       openedAt: Date(timeIntervalSince1970: 1_700_000_000), openedRun: 4)
    }

    @Test("The canonical-copy choice passes over an unverified copy whatever the rules prefer, and says so")
    func chooserPassesOver() throws {
        let chooser = try CanonicalChooser(rules: CanonicalRule.defaults)
        #expect(chooser.choose(Self.asset)?.copy.silo == "marketing", "the rules alone take marketing (priority 1)")
        let suspect = Self.rotten("marketing", "campaigns/2023/logo-final-v2.png")
        let choice = try #require(chooser.choose(Self.asset, unverified: [suspect.key]))
        #expect(choice.copy.silo == "hr")
        #expect(choice.reason.contains("marketing:campaigns/2023/logo-final-v2.png passed over"), "\(choice.reason)")
        // By oldest mtime the rules take hr: with hr unverified, marketing.
        let byAge = try CanonicalChooser(rules: [.oldestMtime])
        #expect(byAge.choose(Self.asset)?.copy.silo == "hr")
        #expect(byAge.choose(Self.asset, unverified: [Self.rotten("hr", "logo.png").key])?.copy.silo == "marketing")
        // No verified copy left: nothing is chosen.
        #expect(chooser.choose(Self.asset, unverified: [suspect.key, Self.rotten("hr", "logo.png").key]) == nil)
    }

    @Test("The planner refuses while any copy is unverified, naming each with where the verified content is")
    func plannerRefuses() throws {
        var input = P.input([Self.asset])
        var suspect = Self.rotten("hr", "logo.png")
        suspect.goodCopies = ["training:backup/logo.png"]
        input.unverified = [suspect]
        #expect(throws: PlanError.self) { try Planner(settings: P.settings()).plan(input) }
        do {
            _ = try Planner(settings: P.settings()).plan(input)
        } catch {
            guard case .openCorruption(let copies) = error else { Issue.record("refused for another reason: \(error)"); return }
            #expect(copies == [suspect])
            #expect(error.description.contains("hr:logo.png"))
            #expect(error.description.contains("training:backup/logo.png"))
            #expect(error.description.contains("silomerge check --accept"))
        }
        input.unverified = []
        #expect(try Planner(settings: P.settings()).plan(input).operations.count == 1)
    }
}
