import Foundation
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

/// The scan completes the image hash of pictures sharing a prefix by hashing one of them whole
/// and comparing the others with it byte for byte (`ImageDataHash.sameImageData`). These tests
/// hold the comparison to the hash's own definition: the layout a hash records locates exactly
/// the bytes it hashed, and one byte of image data that differs — first, middle or last — is
/// never "the same picture".
@Suite("Image hash: compared with a reference instead of hashed twice")
struct ImageDataCompareTests {
    /// Every fixture file of a format that has an image hash, with that format.
    static func pictures() throws -> [(String, MediaFormat)] {
        var out: [(String, MediaFormat)] = []
        let root = Fixture.root
        guard let e = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return [] }
        for case let url as URL in e {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), !isDir.boolValue else { continue }
            let relative = String(url.path.dropFirst(root.path.count + 1))
            let format = try FormatSniffer.sniff(DataByteSource(try Fixture.bytes(relative)))
            if ImageDataHash.supports(format) { out.append((relative, format)) }
        }
        return out.sorted { $0.0 < $1.0 }
    }

    /// The bytes a layout locates, in order.
    static func located(_ bytes: [UInt8], _ layout: ImageDataHash.Layout) -> [UInt8] {
        layout.pieces.flatMap { bytes[Int($0.offset)..<Int($0.offset + $0.count)] }
    }

    static func same(_ copy: [UInt8], _ format: MediaFormat, as reference: [UInt8], _ layout: ImageDataHash.Layout) -> Bool {
        // A copy whose structure no longer parses is not the same either (the scan then hashes
        // it, and gets no image hash): only `true` would be a claim.
        (try? ImageDataHash.sameImageData(DataByteSource(copy), format: format, as: DataByteSource(reference), layout: layout)) == true
    }

    @Test("every fixture picture: the recorded layout locates exactly the bytes its image hash covers")
    func layoutsLocateTheHashedBytes() throws {
        let pictures = try Self.pictures()
        #expect(pictures.count >= 30, "\(pictures.count) fixture pictures")
        var formats: Set<MediaFormat> = []
        for (file, format) in pictures {
            let bytes = try Fixture.bytes(file)
            guard let whole = try? ImageDataHash.compute(DataByteSource(bytes), format: format) else { continue }
            let r = try #require(try ImageDataHash.computeRecording(DataByteSource(bytes), format: format), "\(file)")
            #expect(r.digest == whole, "\(file)")
            let layout = try #require(r.layout, "\(file)")
            let data = Self.located(bytes, layout)
            #expect(Int64(data.count) == layout.total, "\(file)")
            #expect(try SHA256Hasher.digest(data) == whole, "\(file): the layout does not locate the hashed bytes")
            #expect(Self.same(bytes, format, as: bytes, layout), "\(file) is not the same as itself")
            formats.insert(format)
        }
        #expect(formats.isSuperset(of: [.jpeg, .png, .tiff, .webp, .heic, .avif, .mp4, .mov, .cr3]), "\(formats)")
    }

    @Test("a copy whose image data differs in its first, a middle or its last byte is never the same picture")
    func oneByteDiffers() throws {
        let files: [(String, MediaFormat)] = [
            ("media/large-photo.jpg", .jpeg), ("marketing/about/org-chart.png", .png),
            ("marketing/print/2023/poster-proof.tif", .tiff), ("media/clip.mp4", .mp4),
            ("media/phone-photo.heic", .heic), ("media/grid.heic", .heic),
        ]
        for (file, format) in files {
            let bytes = try Fixture.bytes(file)
            let r = try #require(try ImageDataHash.computeRecording(DataByteSource(bytes), format: format), "\(file)")
            let layout = try #require(r.layout)
            // File offsets of the image data, in hash order.
            let offsets = layout.pieces.flatMap { Array(Int($0.offset)..<Int($0.offset + $0.count)) }
            // A byte whose change keeps a JPEG's structure (no 0xFF made or unmade, no stuffed
            // 0x00 after 0xFF): the walk then feeds the same bytes but that one.
            func changeable(_ o: Int) -> Bool {
                format != .jpeg || (bytes[o] != 0xFF && bytes[o] != 0xFE && bytes[o - 1] != 0xFF && bytes[o] != 0x00)
            }
            let first = try #require(offsets.first(where: changeable))
            let last = try #require(offsets.last(where: changeable))
            let middle = try #require(offsets[(offsets.count / 2)...].first(where: changeable))
            for o in [first, middle, last] {
                var copy = bytes
                copy[o] ^= 0x01
                let copyHash = try ImageDataHash.compute(DataByteSource(copy), format: format)
                #expect(copyHash != nil && copyHash != r.digest, "\(file) @\(o)")
                #expect(!Self.same(copy, format, as: bytes, layout), "\(file): a change at offset \(o) compared as the same")
                // And the other way round: the changed copy as the reference.
                let c = try #require(try ImageDataHash.computeRecording(DataByteSource(copy), format: format)?.layout)
                #expect(!Self.same(bytes, format, as: copy, c), "\(file): the original compared as the changed copy at \(o)")
            }
        }
    }

    @Test("image data that is longer or shorter than the reference's, or a reference that shrank, is not the same")
    func lengthsMustAgree() throws {
        let bytes = try Fixture.bytes("media/large-photo.jpg")
        let layout = try #require(try ImageDataHash.computeRecording(DataByteSource(bytes), format: .jpeg)?.layout)
        // The reference's layout one byte short (its image data a prefix of the copy's).
        var short = layout
        short.pieces[short.pieces.count - 1].count -= 1
        short.total -= 1
        #expect(!Self.same(bytes, .jpeg, as: bytes, short))
        // One byte longer: the reference has a byte the copy has not.
        var long = layout
        long.pieces.append(.init(offset: 0, count: 1))
        long.total += 1
        #expect(!Self.same(bytes, .jpeg, as: bytes, long))
        // The reference file cut short since its layout was recorded.
        let cut = Array(bytes.prefix(bytes.count / 2))
        #expect(!Self.same(bytes, .jpeg, as: cut, layout))
        // An empty layout is no picture.
        #expect(!Self.same(bytes, .jpeg, as: bytes, ImageDataHash.Layout()))
        // A format without an image hash.
        #expect(!Self.same(bytes, .gif, as: bytes, layout))
    }

    @Test("scan: a recaptioned copy gets the original's image hash, a copy differing in the last byte of its scan data its own")
    func scanComparesByteForByte() throws {
        let photo = try Fixture.bytes("media/large-photo.jpg")
        let layout = try #require(try ImageDataHash.computeRecording(DataByteSource(photo), format: .jpeg)?.layout)
        // The last byte of image data before EOI that can change without changing the structure.
        let end = Int(layout.pieces.last!.offset + layout.pieces.last!.count)
        let o = try #require((0..<end).reversed().first { photo[$0] != 0xFF && photo[$0] != 0xFE && photo[$0] != 0x00 && photo[$0 - 1] != 0xFF })
        #expect(end - o < 16)
        var late = photo
        late[o] ^= 0x01

        let tree = try TestTree()
        try tree.write("photos/large-photo.jpg", photo)
        try tree.write("photos/large-photo-recaptioned.jpg", try Fixture.bytes("media/large-photo-recaptioned.jpg"))
        try tree.write("photos/large-photo-late.jpg", late)
        // A byte-identical copy of the changed one (one content, two names).
        try tree.write("photos/copy/large-photo-late.jpg", late)
        let (result, store) = try scan(tree, [tree.silo("photos")])
        #expect(result.status == .ok)
        var full: [String: String?] = [:], prefix: [String: String?] = [:]
        for f in try probe(store).files() { full[f.path] = f.imageSHA256; prefix[f.path] = f.imagePrefix }
        // All four share the prefix, so all are completed; whichever content was hashed whole,
        // the others were compared with it.
        #expect(Set(prefix.values).count == 1)
        let expected = try #require(try ImageDataHash.compute(DataByteSource(photo), format: .jpeg))
        let expectedLate = try #require(try ImageDataHash.compute(DataByteSource(late), format: .jpeg))
        #expect(expected != expectedLate)
        #expect(full["large-photo.jpg"] == expected.hex)
        #expect(full["large-photo-recaptioned.jpg"] == expected.hex)
        #expect(full["large-photo-late.jpg"] == expectedLate.hex)
        #expect(full["copy/large-photo-late.jpg"] == expectedLate.hex)
        let groups = try store.sameImageGroups(silos: [])
        #expect(groups.map { $0.files.map(\.path.display).sorted() } == [["large-photo-recaptioned.jpg", "large-photo.jpg"]])
    }
}
