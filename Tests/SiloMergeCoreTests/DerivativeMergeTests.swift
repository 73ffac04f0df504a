import Foundation
import Testing
@testable import SiloMergeCore
import SiloMergeTestSupport

/// A master in the archive and two derivatives in marketing (the web copy without metadata, a
/// recompressed copy with its own rights), and a photo in no group, built by hand.
private enum D {
    static func sha(_ text: String) -> SHA256Digest { try! SHA256Hasher.digest(Array(text.utf8)) }
    static let master = sha("master"), web = sha("web"), recompressed = sha("recompressed"), alone = sha("alone")

    static func value(_ f: UnifiedField, _ v: FieldValue, _ origin: MetadataOrigin = .xmp) -> StoredValue {
        StoredValue(field: f, origin: origin, tag: "test:\(f.rawValue)", value: v, raw: v.display, preferred: true)
    }

    static func sources(_ sha: SHA256Digest, _ silo: String, _ priority: Int, _ path: String, width: Int,
                        _ values: [StoredValue], inode: UInt64) -> AssetSources {
        let copy = AssetCopy(silo: silo, siloPriority: priority, path: RelativePath(path), size: 10, mtimeNs: 1, uid: 0, gid: 0,
                             device: 1, inode: inode, absolutePath: FilePath("/srv/\(silo)/\(path)"))
        return AssetSources(sha256: sha, size: 10, format: .jpeg, width: width, height: width * 3 / 4,
                            copies: [AssetSources.Copy(copy: copy, values: values)])
    }

    static let masterSources = sources(master, "archive", 1, "photo.jpg", width: 800, [
        value(.title, .text("Harbour")), value(.description, .text("Harbour at dawn")), value(.creator, .list(["Ana Ruiz"])),
        value(.rights, .text("© Archive")), value(.orientation, .integer(1), .exif), value(.make, .text("Nikon"), .exif),
    ], inode: 1)
    static let webSources = sources(web, "marketing", 2, "photo-web.jpg", width: 400, [
        value(.orientation, .integer(6), .exif),
    ], inode: 2)
    static let recompressedSources = sources(recompressed, "marketing", 2, "photo-q55.jpg", width: 800, [
        value(.title, .text("Banner")), value(.rights, .text("© Marketing")),
    ], inode: 3)
    static let aloneSources = sources(alone, "archive", 1, "other.jpg", width: 800, [value(.description, .text("Lighthouse"))], inode: 4)

    static func image(_ sha: SHA256Digest, _ silo: String, _ path: String) -> SimilarImages.Image {
        SimilarImages.Image(silo: silo, siloPriority: 1, path: RelativePath(path), size: 10, width: 1, height: 1, format: "jpeg",
                            copies: 1, metadataFields: 1, sha256: sha)
    }

    /// The group as `SimilarImages.find` gives it, every member's sources collected.
    static func merge(collect: [AssetSources] = [masterSources, webSources, recompressedSources, aloneSources]) -> DerivativeMerge {
        let group = SimilarImages.Group(master: image(master, "archive", "photo.jpg"), reason: "most pixels", derivatives: [
            .init(image: image(web, "marketing", "photo-web.jpg"), distance: 2, transform: "as is"),
            .init(image: image(recompressed, "marketing", "photo-q55.jpg"), distance: 1, transform: "as is"),
        ])
        var m = DerivativeMerge(SimilarImages(groups: [group], images: 4, threshold: 12))
        for s in collect { m.collect(s) }
        return m
    }
}

@Suite("Reconcile: a group of similar images as one asset (derivatives: merge)")
struct DerivativeMergeTests {
    @Test("a derivative gets its master's asset-level values, marked as the master's; file-level fields stay its own")
    func derivativeGetsTheMastersValues() throws {
        let r = D.merge().reconcile(D.webSources, with: Reconciler())
        let description = try #require(r.field(.description))
        #expect(description.value == .text("Harbour at dawn") && description.status == .agreed)
        #expect(description.sources.map(\.silo) == ["archive"] && description.sources.map(\.path.display) == ["photo.jpg"])
        #expect(description.sources.first?.otherContent == OtherContent(sha256: D.master, relation: .master))
        #expect(r.field(.creator)?.value == .list(["Ana Ruiz"]) && r.field(.make)?.value == .text("Nikon"))
        #expect(DerivativeMerge.onlyFromOthers(description))
        // Its own orientation (turned by EXIF), width and height, copies and content.
        #expect(r.field(.orientation)?.value == .integer(6) && r.field(.orientation)?.sources.allSatisfy { $0.otherContent == nil } == true)
        #expect(r.width == 400 && r.field(.width)?.value == .integer(400) && r.field(.width)?.sources.first?.path.display == "photo-web.jpg")
        #expect(r.sha256 == D.web && r.copies.map(\.path.display) == ["photo-web.jpg"])
        // Without the merge: nothing of the master's.
        #expect(Reconciler().reconcile(D.webSources).field(.description) == nil)
    }

    @Test("a differing value is a conflict on every content of the group, each source named; a policy decides as for copies")
    func differingValues() throws {
        let merge = D.merge()
        let web = merge.reconcile(D.webSources, with: Reconciler())
        let rights = try #require(web.field(.rights))
        #expect(rights.status == .conflict && rights.value == nil)
        #expect(rights.sources.map(\.otherContent?.relation) == [.master, .sibling])
        let master = merge.reconcile(D.masterSources, with: Reconciler())
        #expect(master.field(.rights)?.status == .conflict)
        #expect(master.field(.rights)?.sources.map(\.otherContent?.relation) == [nil, .derivative])
        // title: priority, over the group in silo priority order: the archive's, on every content.
        let recompressed = merge.reconcile(D.recompressedSources, with: Reconciler())
        #expect(recompressed.field(.title)?.value == .text("Harbour") && recompressed.field(.title)?.status == .resolved)
        #expect(recompressed.field(.title)?.sources.first { $0.raw == "Banner" }?.otherContent == nil)
        #expect(master.field(.title)?.value == .text("Harbour") && web.field(.title)?.value == .text("Harbour"))
        // A rule applies to the group as to copies.
        let rule = ReconcileRule(fields: [.rights], prefer: [.silo("marketing")], number: 1)
        #expect(merge.reconcile(D.masterSources, with: Reconciler(rules: [rule])).field(.rights)?.value == .text("© Marketing"))
    }

    @Test("a resolution for any content of the group settles the field for all; the content's own comes first")
    func resolutions() throws {
        var resolutions = Resolutions(values: [D.master: [.rights: .text("© Settled")]])
        var reconciler = Reconciler(resolutions: resolutions)
        let merge = D.merge()
        for s in [D.masterSources, D.webSources, D.recompressedSources] {
            let f = merge.reconcile(s, with: reconciler).field(.rights)
            #expect(f?.value == .text("© Settled") && f?.rule == .manual, "\(s.copies[0].copy.path)")
        }
        resolutions.values[D.web] = [.rights: .text("© Web only")]
        reconciler = Reconciler(resolutions: resolutions)
        #expect(merge.reconcile(D.webSources, with: reconciler).field(.rights)?.value == .text("© Web only"))
    }

    @Test("contents in no group, and groups whose sources were not collected, are reconciled as before")
    func othersUnchanged() {
        let merge = D.merge()
        #expect(merge.reconcile(D.aloneSources, with: Reconciler()) == Reconciler().reconcile(D.aloneSources))
        #expect(merge.grouped == [D.master, D.web, D.recompressed])
        let empty = D.merge(collect: [D.webSources])
        #expect(empty.reconcile(D.webSources, with: Reconciler()) == Reconciler().reconcile(D.webSources))
    }

    @Test("configuration: derivatives is merge or separate (the default); anything else names the line and the choices")
    func configuration() throws {
        func parse(_ yaml: String) throws -> SiloMergeConfiguration {
            try SiloMergeConfiguration.parse(yaml, source: "test.yml", relativeTo: FilePath("/base"))
        }
        let silos = "silos:\n  - name: a\n    path: a\n"
        #expect(try parse(silos + "reconcile:\n  derivatives: merge\n").reconcileDerivatives == .merge)
        #expect(try parse(silos + "reconcile:\n  title: priority\n").reconcileDerivatives == .separate)
        #expect(try parse(silos).reconcileDerivatives == .separate)
        do {
            _ = try parse(silos + "reconcile:\n  derivatives: sometimes\n")
            Issue.record("accepted")
        } catch let error as ConfigError {
            #expect(error.line == 5 && error.message.contains("unknown value 'sometimes' (choices: separate, merge)"), "\(error)")
        }
    }
}
