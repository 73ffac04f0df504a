import Foundation
import Testing
import SiloMergeCore
@testable import SiloMergeImaging

#if canImport(Glibc)
import Glibc
#endif

/// The report's thumbnails: decoded back with the same decoders, they are the photo, small,
/// in its display shape, and within their byte bound.
@Suite("Thumbnails for the HTML report")
struct ThumbnailTests {
    private func thumbnail(_ name: String, _ t: ImageThumbnailer = ImageThumbnailer()) throws -> Result<ImageThumbnail, ImageFingerprintFailure> {
        let fd = open(similarFixtures.appendingPathComponent(name).path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        return t.thumbnail(fd: fd)
    }

    @Test(arguments: ["a.jpg", "a-tag6.jpg", "a-lossy.webp", "a-lzw.tif", "a-alpha.png", "a.heic"])
    func thumbnailDecodesBackAsThePhoto(_ name: String) throws {
        let t = try thumbnail(name).get()
        #expect(t.mediaType == "image/jpeg" && t.bytes.count <= 8192)
        #expect(t.dataURI.hasPrefix("data:image/jpeg;base64,"))
        let back = try decode(t.bytes).get()
        #expect(back.format == .jpeg && back.width == t.width && back.height == t.height)
        let original = try decode(fixture(name)).get()
        // The long side is 96 and the proportions are the displayed image's (a-tag6 is portrait).
        #expect(max(t.width, t.height) == 96)
        #expect((t.width > t.height) == (original.width > original.height))
        // The same picture: its perceptual hash is near the original's.
        let distance = PerceptualHasher.pHash(back.preview).distance(to: PerceptualHasher.pHash(original.preview))
        #expect(distance <= 6, "\(name): distance \(distance)")
    }

    @Test func aThumbnailThatCannotFitItsBoundIsRefusedNotTruncated() throws {
        guard case .failure(let why) = try thumbnail("a.jpg", ImageThumbnailer(maxSide: 1024, maxBytes: 600)) else {
            Issue.record("a 1024-pixel thumbnail fitted in 600 bytes"); return
        }
        #expect("\(why)".contains("does not fit 600 bytes"))
    }

    @Test func aFileThatIsNoImageGetsAReasonNotACrash() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("t15-not-an-image-\(getpid()).jpg")
        try Data(repeating: 0, count: 5000).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let fd = open(url.path, O_RDONLY)
        defer { close(fd) }
        guard case .failure(let why) = ImageThumbnailer().thumbnail(fd: fd) else { Issue.record("decoded zeros"); return }
        #expect("\(why)".hasPrefix("not supported"))
    }
}
