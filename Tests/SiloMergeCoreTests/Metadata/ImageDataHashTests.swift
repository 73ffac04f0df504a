import Foundation
import Testing
@testable import SiloMergeCore
import SiloMergeTestSupport

@Suite("Metadata: image data hash")
struct MetadataImageDataHashTests {
    static func hash(_ bytes: [UInt8], _ format: MediaFormat) throws -> SHA256Digest? {
        try ImageDataHash.compute(DataByteSource(bytes), format: format)
    }

    static func groups() throws -> [(MediaFormat, [String])] {
        let groups = try #require(try Fixture.truth()["same_image_groups"] as? [[String: Any]])
        return groups.map { (MediaFormat(rawValue: $0["format"] as! String)!, $0["files"] as! [String]) }
    }

    @Test("copies in each same-image group hash alike; groups and other images differ")
    func sameImageGroups() throws {
        let groups = try Self.groups()
        #expect(Set(groups.map(\.0)) == [.jpeg, .png, .tiff])
        var seen: [SHA256Digest: String] = [:]
        for (format, files) in groups {
            #expect(files.count >= 2)
            var digests: Set<SHA256Digest> = []
            for f in files {
                let bytes = try Fixture.bytes(f)
                // Whole-file SHA-256 differs (different metadata)...
                #expect(try SHA256Hasher.digest(bytes) != SHA256Hasher.digest(try Fixture.bytes(files[0])) || f == files[0])
                // ...the image data hash does not.
                digests.insert(try #require(try Self.hash(bytes, format)))
            }
            #expect(digests.count == 1, "\(files)")
            let d = digests.first!
            #expect(seen[d] == nil, "\(files[0]) hashes like \(seen[d] ?? "")")
            seen[d] = files[0]
        }
        // Other images: every one different from the groups and from each other.
        let others = ["marketing/logo.png": MediaFormat.png, "hr/logo.png": .png,
                      "marketing/campaigns/2023/summer-launch/hero.jpg": .jpeg,
                      "training/module-03/reference/glossary-poster.jpg": .jpeg,
                      "hr/records/badge-template.tif": .tiff, "marketing/about/org-chart.png": .png]
        for (f, format) in others {
            let d = try #require(try Self.hash(try Fixture.bytes(f), format))
            #expect(seen[d] == nil, "\(f) hashes like \(seen[d] ?? "")")
            seen[d] = f
        }
    }

    @Test("byte-identical copies hash alike through FileByteSource too")
    func fileSourceAgrees() throws {
        let f = "marketing/products/widget-pro/widget-front.jpg"
        let fd = open(Fixture.url(f).path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let size = Int64(try Fixture.bytes(f).count)
        let viaFile = try ImageDataHash.compute(FileByteSource(fd: fd, size: size), format: .jpeg)
        #expect(viaFile == (try Self.hash(try Fixture.bytes(f), .jpeg)))
    }

    @Test("JPEG through a file source lent its first bytes (any length): the same hash, prefix and layout as in memory")
    func lentPrefixAgrees() throws {
        // Every JPEG of Fixtures/ (segments, stray bytes, restart markers, fill bytes), lent
        // prefixes ending anywhere, around the start of scan data in particular.
        let files = try Fixture.files(extensions: ["jpg"]).map { ($0, try Fixture.bytes($0)) }
        #expect(files.count >= 5)
        let tree = try TestTree()
        var compared = 0
        for (name, bytes) in files {
            let path = try tree.write("f.jpg", bytes).path
            let fd = open(path, O_RDONLY)
            try #require(fd >= 0)
            defer { close(fd) }
            let size = Int64(bytes.count)
            // Each outcome as text, a refusal (a JPEG without SOI, a truncated one) included.
            func outcomes(_ source: () -> some ByteSource) -> [String] {
                ["\(Result { try ImageDataHash.compute(source(), format: .jpeg) })",
                 "\(Result { try ImageDataHash.prefix(source(), format: .jpeg, bytes: 4096).map { "\($0.digest) \($0.complete)" } })",
                 "\(Result { try ImageDataHash.computeRecording(source(), format: .jpeg).map { "\($0.digest) \(String(describing: $0.layout))" } })"]
            }
            let expected = bytes.withUnsafeBytes { b in outcomes { BorrowedByteSource(b) } }
            let sos = bytes.indexOfBytes([0xFF, 0xDA]) ?? 0
            var lengths = Set([1, 2, 100, 4096, sos, sos + 1, sos + 2, sos + 3, sos + 20, sos + 4100, bytes.count - 2, bytes.count - 1, bytes.count])
            lengths.formUnion(stride(from: 0, to: bytes.count, by: max(1, bytes.count / 40)))
            for length in lengths.sorted() where length > 0 && length <= bytes.count {
                let head = Array(bytes.prefix(length))
                let got = head.withUnsafeBytes { head in outcomes { FileByteSource(fd: fd, size: size, lending: head) } }
                #expect(got == expected, "\(name) lent \(length)")
                compared += 1
            }
        }
        #expect(compared > 100)
    }

    @Test("JPEG: a flipped bit in the scan data changes the hash, one in the metadata does not")
    func jpegFlips() throws {
        let bytes = try Fixture.bytes("marketing/products/widget-pro/widget-front.jpg")
        let original = try #require(try Self.hash(bytes, .jpeg))
        let sos = try #require(bytes.indexOfBytes([0xFF, 0xDA]))
        var scan = bytes
        scan[sos + 40] ^= 0x01
        #expect(try Self.hash(scan, .jpeg) != original)
        var app1 = bytes
        let xmp = try #require(bytes.indexOfBytes(Array("Widget Pro, front view".utf8)))
        app1[xmp] ^= 0x20
        #expect(try Self.hash(app1, .jpeg) == original)
        // Trailing bytes after EOI are ignored.
        #expect(try Self.hash(bytes + [1, 2, 3], .jpeg) == original)
        // A truncated JPEG (no EOI) is an error, not a partial hash.
        #expect(throws: MetadataProblem.self) { try Self.hash(Array(bytes[0..<(sos + 100)]), .jpeg) }
    }

    @Test("PNG: text chunks are left out, pixel data is not")
    func pngFlips() throws {
        let bytes = try Fixture.bytes("marketing/about/org-chart.png")
        let original = try #require(try Self.hash(bytes, .png))
        var text = bytes
        let title = try #require(bytes.indexOfBytes(Array("Northwind org chart".utf8)))
        text[title] ^= 0x20
        #expect(try Self.hash(text, .png) == original)
        var idat = bytes
        let i = try #require(bytes.indexOfBytes(Array("IDAT".utf8)))
        idat[i + 10] ^= 0x01
        #expect(try Self.hash(idat, .png) != original)
    }

    @Test("TIFF: strip bytes and structure tags count, descriptive tags do not")
    func tiffFlips() throws {
        let bytes = try Fixture.bytes("marketing/print/2023/poster-proof.tif")
        let original = try #require(try Self.hash(bytes, .tiff))
        // StripOffsets is 3742 (exiftool.json): flip a strip byte.
        var strip = bytes
        strip[3742 + 100] ^= 0x01
        #expect(try Self.hash(strip, .tiff) != original)
        var description = bytes
        let d = try #require(bytes.indexOfBytes(Array("Summer launch poster".utf8)))
        description[d] ^= 0x20
        #expect(try Self.hash(description, .tiff) == original)
    }

    @Test("unsupported formats give nil")
    func unsupported() throws {
        #expect(try Self.hash(try Fixture.bytes("training/module-01/images/loading-spinner.gif"), .gif) == nil)
        #expect(try Self.hash([], .other) == nil)
    }

    /// A prefix digest reads the prefix, not the extent around it: a video's 1 MiB media-data
    /// reads and a HEIF item read whole made the prefix stage copy 60 MiB of a 1.4 GiB corpus.
    @Test("a prefix of a 4 MiB video's media data reads a few KiB, and equals the hash of those bytes")
    func prefixReadsOnlyThePrefix() throws {
        func box(_ type: String, _ payload: [UInt8]) -> [UInt8] {
            let n = UInt32(8 + payload.count)
            return [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + Array(type.utf8) + payload
        }
        var rng = SystemRandomNumberGenerator()
        let media = (0..<(4 << 20)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let file = box("ftyp", Array("isom".utf8) + [0, 0, 2, 0] + Array("isomiso2mp41".utf8)) + box("mdat", media)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("silomerge-prefix-\(getpid()).mp4").path
        try Data(file).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let source = FileByteSource(fd: fd, size: Int64(file.count))
        let r = try #require(try ImageDataHash.prefix(source, format: .mp4, bytes: 4096))
        #expect(!r.complete)
        let expected = try SHA256Hasher()
        try expected.update(Array(media.prefix(4096)))
        #expect(r.digest == (try expected.finalize()))
        // (One 64 KiB window of the byte source at most; the whole 1 MiB read before.)
        #expect(source.bytesRead <= 128 * 1024, "\(source.bytesRead) bytes read for a 4 KiB prefix")
        // The whole hash still covers every byte of the media data.
        let whole = try SHA256Hasher()
        try whole.update(media)
        #expect(try ImageDataHash.compute(source, format: .mp4) == (try whole.finalize()))
    }

    @Test("indexOfBytes (memmem) finds what the byte loop found, at the edges too")
    func indexOfBytesEdges() {
        let hay = Array("<?xpacket begin?>abc<?xpacket end='w'?>".utf8)
        #expect(hay.indexOfBytes(Array("<?xpacket".utf8)) == 0)
        #expect(hay.indexOfBytes(Array("<?xpacket".utf8), from: 1) == 20)
        #expect(hay.indexOfBytes(Array("'w'?>".utf8)) == hay.count - 5)
        #expect(hay.indexOfBytes(Array("?>".utf8), from: hay.count - 2) == hay.count - 2)
        #expect(hay.indexOfBytes(Array("?>".utf8), from: hay.count - 1) == nil)
        #expect(hay.indexOfBytes(Array("?>".utf8), from: hay.count + 5) == nil)
        #expect(hay.indexOfBytes([]) == nil)
        #expect(hay.indexOfBytes(hay + [0]) == nil)
        #expect(hay[5...].indexOfBytes(Array("abc".utf8)) == 17)
        #expect([UInt8]().indexOfBytes([1]) == nil)
    }
}
