import Foundation
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

/// The scan hashes the first 4 KiB of every picture's image data and completes the image hash
/// only where another file with other bytes shares that prefix: "the same picture, different
/// metadata" is still found, without hashing every picture twice.
@Suite("Scanning: image hashes completed only where a picture may be shared")
struct ImageHashScanTests {
    static func copy(_ names: [String], to tree: TestTree, silo: String) throws {
        for n in names { try tree.write("\(silo)/\(n)", try Fixture.bytes("media/" + n)) }
    }

    /// name → (image_prefix, image_sha256) as the catalogue holds them.
    static func imageColumns(_ store: SQLiteCatalogue) throws -> [String: (prefix: String?, full: String?)] {
        var out: [String: (prefix: String?, full: String?)] = [:]
        for f in try probe(store).files() { out[f.name] = (f.imagePrefix, f.imageSHA256) }
        return out
    }

    @Test("the same photo recaptioned is grouped; a retouch sharing the prefix is hashed and told apart; other pictures keep only their prefix")
    func deferredHashes() throws {
        let tree = try TestTree()
        try Self.copy(["large-photo.jpg", "large-photo-recaptioned.jpg", "large-photo-retouched.jpg", "phone-photo.heic",
                       "other-photo.heic"], to: tree, silo: "photos")
        let lonely = try TestTree()
        try Self.copy(["large-photo.jpg"], to: lonely, silo: "photos")

        let (result, store) = try scan(tree, [tree.silo("photos")])
        #expect(result.status == .ok)
        let cols = try Self.imageColumns(store)
        let photo = try #require(cols["large-photo.jpg"]), recaptioned = try #require(cols["large-photo-recaptioned.jpg"])
        let retouched = try #require(cols["large-photo-retouched.jpg"])
        // The fixture's point: the retouch changes only bytes past the first 64 KiB of image data
        // (so past the 4 KiB prefix too).
        #expect(photo.prefix != nil && photo.prefix == recaptioned.prefix && photo.prefix == retouched.prefix)
        // All three share the prefix with other bytes: all three are completed.
        let full = try ImageDataHash.compute(DataByteSource(try Fixture.bytes("media/large-photo.jpg")), format: .jpeg)
        #expect(photo.full == full?.hex && recaptioned.full == full?.hex)
        #expect(retouched.full != nil && retouched.full != photo.full)
        #expect(photo.prefix != photo.full)
        // Small files (up to 64 KiB): the whole image hash is known at once, beside the prefix.
        let heic = try #require(cols["phone-photo.heic"])
        let heicFull = try ImageDataHash.compute(DataByteSource(try Fixture.bytes("media/phone-photo.heic")), format: .heic)
        #expect(heic.prefix != nil && heicFull != nil && heic.full == heicFull?.hex)
        let groups = try store.sameImageGroups(silos: [])
        #expect(groups.map { $0.files.map(\.path.display).sorted() } == [["large-photo-recaptioned.jpg", "large-photo.jpg"]])

        // A picture no other file shares keeps its prefix only: it was not hashed twice.
        let (_, alone) = try scan(lonely, [lonely.silo("photos")])
        let only = try #require(try Self.imageColumns(alone)["large-photo.jpg"])
        #expect(only.prefix == photo.prefix && only.full == nil)
    }

    @Test("a copy in another silo is completed when that silo is scanned")
    func acrossSilos() throws {
        let tree = try TestTree()
        try Self.copy(["large-photo.jpg"], to: tree, silo: "marketing")
        try Self.copy(["large-photo-recaptioned.jpg"], to: tree, silo: "press")
        let marketing = tree.silo("marketing", priority: 1), press = tree.silo("press", priority: 2)
        let store = try SQLiteCatalogue(path: tree.catalogue)
        _ = try ScanEngine(store: store).scan([marketing], options: ScanOptions())
        #expect(try Self.imageColumns(store)["large-photo.jpg"]?.full == nil)
        // Scanning press alone completes its copy; marketing's waits for marketing's next scan.
        _ = try ScanEngine(store: store).scan([press], options: ScanOptions())
        #expect(try Self.imageColumns(store)["large-photo-recaptioned.jpg"]?.full != nil)
        #expect(try store.sameImageGroups(silos: []).isEmpty)
        _ = try ScanEngine(store: store).scan([marketing, press], options: ScanOptions())
        #expect(try store.sameImageGroups(silos: []).count == 1)
    }

    @Test("copies share a prefix but not other bytes: not completed, until a recaptioned picture joins them")
    func copiesAreOneContent() throws {
        let tree = try TestTree()
        try Self.copy(["large-photo.jpg"], to: tree, silo: "a")
        try Self.copy(["large-photo.jpg"], to: tree, silo: "b")
        try tree.write("b/again.jpg", try Fixture.bytes("media/large-photo.jpg"))
        let silos = [tree.silo("a", priority: 1), tree.silo("b", priority: 2)]
        let (_, store) = try scan(tree, silos)
        let files = try probe(store).files()
        #expect(files.count == 3 && Set(files.map(\.imagePrefix)).count == 1 && files.allSatisfy { $0.imageSHA256 == nil })
        // One file of other bytes with that prefix: every file of the group is completed.
        try Self.copy(["large-photo-recaptioned.jpg"], to: tree, silo: "b")
        _ = try scan(tree, silos)
        let full = try ImageDataHash.compute(DataByteSource(try Fixture.bytes("media/large-photo.jpg")), format: .jpeg)
        #expect(try probe(store).files().map(\.imageSHA256) == Array(repeating: full?.hex, count: 4))
    }

    @Test("a catalogue written before prefixes existed: new pictures of an old picture's size are completed")
    func legacyCatalogue() throws {
        let tree = try TestTree()
        try Self.copy(["large-photo.jpg"], to: tree, silo: "photos")
        let (_, store) = try scan(tree, [tree.silo("photos")])
        // What an older SiloMerge left: the whole hash, no prefix.
        let full = try #require(try ImageDataHash.compute(DataByteSource(try Fixture.bytes("media/large-photo.jpg")), format: .jpeg))
        try probe(store).change(filesNamed: nil, FileRowChange(imagePrefix: .some(nil), imageSHA256: full.hex))
        try Self.copy(["large-photo-recaptioned.jpg"], to: tree, silo: "photos")
        _ = try scan(tree, [tree.silo("photos")])
        #expect(try Self.imageColumns(store)["large-photo-recaptioned.jpg"]?.full == full.hex)
        #expect(try store.sameImageGroups(silos: []).count == 1)
    }
}
