import Foundation
import Testing
import SiloMergeCore
@testable import SiloMergeImaging

#if canImport(Glibc)
import Glibc
#endif

/// Damaged, truncated and lying images: every one is a value (an image or an error), never a
/// crash, a hang or an allocation the header dictates.
@Suite("Hostile images")
struct HostileImageTests {
    static let all = ImageDecoderTests.files.map(\.0)

    @Test func truncatedJPEGIsRefusedNotHashedAsGrey() throws {
        let bytes = try fixture("a.jpg")
        for fraction in [0.3, 0.5, 0.8, 0.97] {
            let cut = Array(bytes.prefix(Int(Double(bytes.count) * fraction)))
            guard case .failure(.corrupt(let why)) = decode(cut) else {
                Issue.record("a.jpg cut at \(fraction) was not refused as corrupt")
                continue
            }
            #expect(why.contains("Premature end") || why.contains("premature end"), "\(why)")
        }
        // Missing only its end marker, it is whole: decoded.
        #expect((try? decode(Array(bytes.dropLast(2))).get()) != nil)
    }

    @Test(arguments: all)
    func everyTruncationIsAValue(_ name: String) throws {
        let bytes = try fixture(name)
        let step = max(1, bytes.count / 97)
        for n in Swift.stride(from: 0, to: bytes.count, by: step) {
            switch decode(Array(bytes.prefix(n))) {
            case .success(let image):
                #expect(image.preview.pixels.count == image.preview.width * image.preview.height)
            case .failure(let error):
                #expect(!error.description.isEmpty)
            }
        }
    }

    /// A seeded mutation fuzzer: byte flips, overwritten runs, inserted and deleted bytes,
    /// interesting values (0, 0xFF, 0x7F, 0x80) in headers. Replay with the printed seed.
    @Test(arguments: all)
    func seededMutationsAreValues(_ name: String) throws {
        let original = try fixture(name)
        var limits = ImageLimits()
        limits.maxDecoderMemory = 64 << 20
        var decoded = 0
        for seed in 0..<150 {
            var rng = Mutator(state: UInt64(seed) &* 0x1000_0001 ^ UInt64(name.utf8.count))
            var bytes = original
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                guard !bytes.isEmpty else { break }
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<6, using: &rng) {
                case 0: bytes[at] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
                case 1: bytes[at] = [0, 0xFF, 0x7F, 0x80, 1][Int.random(in: 0..<5, using: &rng)]
                case 2: // a header byte (the first 64 hold the sizes and marker lengths)
                    bytes[Int.random(in: 0..<min(64, bytes.count), using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                case 3: bytes.insert(contentsOf: (0..<Int.random(in: 1...16, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: at)
                case 4: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...64, using: &rng)))
                default: // overwrite a run
                    let n = min(bytes.count - at, Int.random(in: 1...32, using: &rng))
                    for i in 0..<n { bytes[at + i] = UInt8.random(in: 0...255, using: &rng) }
                }
            }
            let started = ContinuousClock.now
            switch decode(bytes, limits: limits) {
            case .success(let image):
                decoded += 1
                #expect(image.preview.width <= ImageDecoder.previewSide && image.preview.height <= ImageDecoder.previewSide)
                _ = PerceptualHasher.pHash(image.preview)
            case .failure(let error):
                #expect(!error.description.isEmpty, "seed \(seed)")
            }
            #expect(ContinuousClock.now - started < .seconds(20), "\(name) seed \(seed) took too long")
        }
        // Most single-byte damage in pixel data still decodes; the check is that nothing crashed.
        _ = decoded
    }

    @Test func headerClaimingHugeDimensionsIsRefusedBeforeDecoding() throws {
        // JPEG: SOF0 height and width set to 65500 (4.3 gigapixels).
        var jpeg = try fixture("a.jpg")
        let sof = try #require((0..<jpeg.count - 9).first { jpeg[$0] == 0xFF && (jpeg[$0 + 1] == 0xC0 || jpeg[$0 + 1] == 0xC2) })
        jpeg[sof + 5] = 0xFF; jpeg[sof + 6] = 0xDC; jpeg[sof + 7] = 0xFF; jpeg[sof + 8] = 0xDC
        guard case .failure(.tooLarge(let why)) = decode(jpeg) else { Issue.record("huge JPEG not refused"); return }
        #expect(why.contains("megapixels"))

        // PNG: IHDR width 100000, CRC recomputed so libpng reads it.
        var png = try fixture("a-pillow.png")
        png.replaceSubrange(16..<20, with: [0x00, 0x01, 0x86, 0xA0])
        let crc = crc32(png[12..<29])
        png.replaceSubrange(29..<33, with: [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)])
        guard case .failure(.tooLarge(let pwhy)) = decode(png) else { Issue.record("huge PNG not refused: \(decode(png))"); return }
        #expect(pwhy.contains("100000x96"))
    }

    @Test(arguments: all)
    func pixelLimitRefusesEveryFormat(_ name: String) throws {
        var limits = ImageLimits()
        limits.maxPixels = 1_000
        guard case .failure(.tooLarge) = decode(try fixture(name), limits: limits) else {
            Issue.record("\(name) decoded over a 1000-pixel limit")
            return
        }
    }

    @Test func memoryLimitStopsFullFrameDecodesOnly() throws {
        var limits = ImageLimits()
        limits.maxDecoderMemory = 64 << 10
        // A progressive JPEG keeps every coefficient of the image: refused under 64 KiB ...
        guard case .failure(.tooLarge(let why)) = decode(try fixture("a-progressive.jpg"), limits: limits) else {
            Issue.record("progressive JPEG decoded under a 64 KiB limit")
            return
        }
        #expect(why.contains("memory limit"))
        // ... a baseline one streams rows: decoded.
        #expect((try? decode(try fixture("a.jpg"), limits: limits).get()) != nil)
        // libtiff's strip, libwebp's lossless frame and libheif's frame are counted too.
        limits.maxDecoderMemory = 1 << 10
        for name in ["a-lzw.tif", "a-lossless.webp", "a.heic"] {
            guard case .failure(.tooLarge) = decode(try fixture(name), limits: limits) else {
                Issue.record("\(name) decoded under a 1 KiB limit")
                continue
            }
        }
    }

    @Test func progressiveScanLimit() throws {
        var limits = ImageLimits()
        limits.maxProgressiveScans = 2
        guard case .failure(.tooLarge(let why)) = decode(try fixture("a-progressive.jpg"), limits: limits) else {
            Issue.record("scan limit not enforced")
            return
        }
        #expect(why.contains("progressive JPEG of more than 2 scans"))
    }

    @Test func notAnImage() throws {
        guard case .failure(.unsupported) = decode(Array("GIF89a....".utf8)) else { Issue.record("GIF accepted"); return }
        guard case .failure(.unsupported) = decode([]) else { Issue.record("empty accepted"); return }
        guard case .failure(.corrupt) = decode([0xFF, 0xD8, 0xFF]) else { Issue.record("3-byte JPEG accepted"); return }
        // A PNG signature over JPEG data: refused by libpng as what it is not.
        let jpeg = try fixture("a.jpg")
        guard case .failure(.corrupt) = decode(jpeg, format: .png) else { Issue.record("JPEG decoded as PNG"); return }
        var limits = ImageLimits()
        limits.maxFileBytes = 1000
        guard case .failure(.tooLarge) = decode(jpeg, limits: limits) else { Issue.record("file size limit"); return }
    }

    @Test func fifoAndDirectoryAreRefusedWithoutBlocking() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let fifo = dir.appendingPathComponent("pipe.jpg").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let fd = open(fifo, O_RDONLY | O_NONBLOCK)
        #expect(fd >= 0)
        defer { close(fd) }
        #expect(throws: ImageDecodeError.unsupported("not a regular file")) { try ImageDecoder.decode(fd: fd) }
        let dfd = open(dir.path, O_RDONLY | O_DIRECTORY)
        defer { close(dfd) }
        #expect(throws: ImageDecodeError.unsupported("not a regular file")) { try ImageDecoder.decode(fd: dfd) }
    }

    @Test func fingerprinterSpeaksCoreTerms() throws {
        let fingerprinter = ImageFingerprinter()
        let bytes = try fixture("a.heic")
        let heic = bytes.withUnsafeBytes { fingerprinter.fingerprint(bytes: $0, format: .heic) }
        let print = try heic.get()
        #expect(print.decoder == "heif" && print.width == 160 && print.height == 120 && print.pixels == 19_200)
        let gif = bytes.withUnsafeBytes { fingerprinter.fingerprint(bytes: $0, format: .gif) }
        #expect(gif == .failure(.unsupported("gif images are not decoded")))
        let path = similarFixtures.appendingPathComponent("a.jpg").path
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        let fromFile = try fingerprinter.fingerprint(fd: fd, format: .jpeg).get()
        #expect(fromFile.hash == (try pHash("a.jpg")) && fromFile.width == 320)
        let truncated = Array(try fixture("a.jpg").prefix(3000))
        guard case .failure(.corrupt) = truncated.withUnsafeBytes({ fingerprinter.fingerprint(bytes: $0, format: nil) }) else {
            Issue.record("truncated JPEG fingerprinted")
            return
        }
    }
}

/// CRC-32 as PNG computes it.
func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}
