import Foundation
import Testing
import SiloMergeCore
@testable import SiloMergeImaging

/// Fixtures/similar, made by tools/similar/make-similar-fixtures.sh.
let similarFixtures = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/similar")

func fixture(_ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: similarFixtures.appendingPathComponent(name)))
}

func decode(_ bytes: [UInt8], format: ImageFormat? = nil, limits: ImageLimits = ImageLimits()) -> Result<DecodedImage, ImageDecodeError> {
    bytes.withUnsafeBytes { raw in
        Result { () throws(ImageDecodeError) in try ImageDecoder.decode(raw, format: format, limits: limits) }
    }
}

func pHash(_ name: String) throws -> PerceptualHash {
    PerceptualHasher.pHash(try decode(fixture(name)).get().preview)
}

/// A seeded generator (SplitMix64), so a failing mutation can be replayed.
struct Mutator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Image decoders on files from real producers")
struct ImageDecoderTests {
    /// name, decoder, displayed width and height, orientation applied.
    static let files: [(String, ImageFormat, Int, Int, Int)] = [
        ("a.jpg", .jpeg, 320, 240, 1), ("b.jpg", .jpeg, 320, 240, 1), ("a-half.jpg", .jpeg, 160, 120, 1),
        ("a-progressive.jpg", .jpeg, 320, 240, 1), ("a-grey.jpg", .jpeg, 320, 240, 1), ("a-cmyk.jpg", .jpeg, 320, 240, 1),
        ("a-crop.jpg", .jpeg, 306, 230, 1), ("a-stored-rot270-orient6.jpg", .jpeg, 320, 240, 6), ("a-tag6.jpg", .jpeg, 240, 320, 6),
        ("a-adam7.png", .png, 128, 96, 1), ("a-16bit.png", .png, 96, 72, 1), ("a-alpha.png", .png, 96, 72, 1),
        ("a-palette.png", .png, 160, 120, 1), ("a-pillow.png", .png, 128, 96, 1),
        ("a-lossy.webp", .webp, 240, 180, 1), ("a-lossless.webp", .webp, 128, 96, 1),
        ("a-lzw.tif", .tiff, 128, 96, 1), ("a-tiled.tif", .tiff, 160, 120, 1), ("a-jpeg.tif", .tiff, 160, 120, 1),
        ("a.heic", .heif, 160, 120, 1),
    ]

    @Test(arguments: files.map(\.0))
    func decodesWithSizeOrientationAndPreview(_ name: String) throws {
        let (_, format, width, height, orientation) = Self.files.first { $0.0 == name }!
        let bytes = try fixture(name)
        let image = try decode(bytes).get()
        #expect(bytes.withUnsafeBytes { ImageFormat.sniff($0) } == format)
        #expect(image.format == format)
        #expect(image.width == width && image.height == height)
        #expect(image.orientation == orientation)
        #expect(image.preview.width == min(width, ImageDecoder.previewSide))
        #expect(image.preview.height == min(height, ImageDecoder.previewSide))
        // A preview of a photo is not flat (a decoder that returned zeros would be).
        let values = Set(image.preview.pixels)
        #expect(values.count > 20, "\(name): \(values.count) grey levels")
        #expect(image.hasAlpha == (name == "a-alpha.png"))
    }

    @Test func jpegIsDecodedDCTScaled() throws {
        // 320 x 240 for a 64 x 64 preview: 1/2 is the smallest scale that keeps 64 rows.
        let image = try decode(fixture("a.jpg")).get()
        #expect(image.decodedWidth == 160 && image.decodedHeight == 120)
        let half = try decode(fixture("a-half.jpg")).get()
        #expect(half.decodedWidth == 160 && half.decodedHeight == 120)
    }

    @Test func everyDerivativeIsNearTheOriginalAndTheOtherSceneIsFar() throws {
        let original = try pHash("a.jpg")
        for (name, _, _, _, _) in Self.files where name.hasPrefix("a") && name != "a-tag6.jpg" {
            let d = try pHash(name).distance(to: original)
            #expect(d <= DerivativeGrouping.defaultMaxDistance, "\(name) is \(d) bits from a.jpg")
        }
        #expect(try pHash("b.jpg").distance(to: original) > 20)
        // Shown a quarter turn round, it is another picture to the plain hash.
        #expect(try pHash("a-tag6.jpg").distance(to: original) > 20)
    }

    @Test func storedRotatedWithCompensatingOrientationHashesAsTheOriginal() throws {
        let original = try decode(fixture("a.jpg")).get()
        let stored = try decode(fixture("a-stored-rot270-orient6.jpg")).get()
        #expect(stored.orientation == 6)
        #expect(PerceptualHasher.pHash(stored.preview).distance(to: PerceptualHasher.pHash(original.preview)) <= 2)
    }

    @Test func turnedCopyIsFoundThroughTheSignHashVariants() throws {
        let original = PerceptualHasher.pHash(try decode(fixture("a.jpg")).get().preview)
        let turned = PerceptualHasher.pHash(try decode(fixture("a-tag6.jpg")).get().preview)
        #expect(turned.distance(to: original) > 20)
        // Orientation 6 shows the stored picture turned 90° clockwise: variant 6.
        #expect(original.dihedralVariants[6].distance(to: turned) <= 3)
        #expect(original.dihedralVariants.map { $0.distance(to: turned) }.min() == original.dihedralVariants[6].distance(to: turned))
    }

    @Test("a flat or nearly flat picture has no hash: its coefficients' signs would be rounding noise")
    func featurelessPicturesAreRefused() throws {
        func image(_ w: Int, _ h: Int, _ pixel: (Int, Int) -> Int) -> GreyImage {
            GreyImage(width: w, height: h, pixels: (0..<h).flatMap { y in (0..<w).map { x in UInt8(clamping: pixel(x, y)) } })
        }
        // One grey, a grey with a pixel-sized speck, and a left-to-right ramp (a pure
        // horizontal gradient lies in the first column of the DCT, which the hash leaves out).
        for (name, flat) in [("grey", image(640, 480) { _, _ in 127 }),
                             ("speck", image(640, 480) { x, y in x == 300 && y == 200 ? 255 : 127 }),
                             ("ramp", image(640, 480) { x, _ in x * 255 / 639 })] {
            guard case .failure(.featureless) = PerceptualHasher.checkedPHash(flat) else {
                Issue.record("\(name) was given a hash"); continue
            }
        }
        // A real photo of the fixtures, and a picture with a faint but real pattern, have one.
        let photo = try decode(fixture("a.jpg")).get().preview
        #expect((try? PerceptualHasher.checkedPHash(photo).get()) == PerceptualHasher.pHash(photo))
        // A faint blob off the centre, at most 10 grey levels above its background.
        let faint = image(640, 480) { x, y in
            120 + Int(10 * exp(-Double((x - 200) * (x - 200) + (y - 150) * (y - 150)) / (2 * 80 * 80)))
        }
        #expect((try? PerceptualHasher.checkedPHash(faint).get()) != nil)
        // And the fingerprinter says why, in the words a scan reports.
        let grey = ImageFingerprinter.fingerprint(DecodedImage(format: .png, preview: image(80, 60) { _, _ in 127 }, width: 640, height: 480,
                                                               orientation: 1, hasAlpha: false, decodedWidth: 80, decodedHeight: 60))
        guard case .failure(let why) = grey else { Issue.record("a grey picture was fingerprinted"); return }
        #expect(why.description.hasPrefix("too uniform to compare: 0 of its 64 low frequencies"), "\(why)")
    }

    @Test func librariesAreReported() {
        let libraries = ImageDecoder.libraries
        #expect(Set(libraries.keys) == ["libjpeg", "libpng", "libwebp", "libtiff", "libheif"])
        #expect(libraries["libheif"]!.contains("HEVC"))
    }
}

@Suite("Orientation and the hashes")
struct OrientationTests {
    /// 3 x 2:  a b c
    ///         d e f
    let image = GreyImage(width: 3, height: 2, pixels: [1, 2, 3, 4, 5, 6])

    @Test func everyExifOrientationTurnsTheStoredPixelsToDisplay() {
        // What a viewer shows for each orientation of the stored pixels above (EXIF 2.32, 4.6.4).
        let expected: [Int: (Int, Int, [UInt8])] = [
            1: (3, 2, [1, 2, 3, 4, 5, 6]),
            2: (3, 2, [3, 2, 1, 6, 5, 4]),
            3: (3, 2, [6, 5, 4, 3, 2, 1]),
            4: (3, 2, [4, 5, 6, 1, 2, 3]),
            5: (2, 3, [1, 4, 2, 5, 3, 6]),
            6: (2, 3, [4, 1, 5, 2, 6, 3]),
            7: (2, 3, [6, 3, 5, 2, 4, 1]),
            8: (2, 3, [3, 6, 2, 5, 1, 4]),
        ]
        for (o, (w, h, px)) in expected {
            let shown = image.oriented(o)
            #expect(shown.width == w && shown.height == h && shown.pixels == px, "orientation \(o)")
        }
        #expect(image.oriented(0) == image && image.oriented(9) == image)
    }

    @Test func exifOrientationParser() {
        // II*\0, IFD0 at 8 with one entry: 0x0112 SHORT 1 = 6.
        let little: [UInt8] = [0x49, 0x49, 0x2A, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0]
        #expect(ExifOrientation.read(little) == 6)
        let big: [UInt8] = [0x4D, 0x4D, 0, 0x2A, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0]
        #expect(ExifOrientation.read(big) == 8)
        var bad = little
        bad[18] = 9
        #expect(ExifOrientation.read(bad) == nil)           // out of range
        #expect(ExifOrientation.read(little.prefix(15)) == nil)  // entry cut short
        #expect(ExifOrientation.read([0x49, 0x49, 0x2A, 0, 0xFF, 0xFF, 0xFF, 0x7F]) == nil)  // IFD past the end
        #expect(ExifOrientation.read([]) == nil)
    }

    @Test func signHashVariantsAreTheHashesOfTheTurnedImages() throws {
        let preview = try decode(fixture("a.jpg")).get().preview
        let variants = PerceptualHasher.pHash(preview).dihedralVariants
        // Variant i = transpose (4), then mirror left-right (2), then top-bottom (1).
        func transform(_ g: GreyImage, _ i: Int) -> GreyImage {
            var out = i & 4 != 0 ? g.oriented(5) : g
            if i & 2 != 0 { out = out.oriented(2) }
            if i & 1 != 0 { out = out.oriented(4) }
            return out
        }
        for i in 0..<8 {
            let direct = PerceptualHasher.pHash(transform(preview, i))
            // Exact but for coefficients within rounding of zero.
            #expect(direct.distance(to: variants[i]) <= 1, "variant \(i) (\(PerceptualHash.dihedralName(i)))")
        }
        // The names match the EXIF orientations they undo.
        #expect(PerceptualHasher.pHash(preview.oriented(6)).distance(to: variants[6]) <= 1)
        #expect(PerceptualHasher.pHash(preview.oriented(8)).distance(to: variants[5]) <= 1)
        #expect(PerceptualHasher.pHash(preview.oriented(3)).distance(to: variants[3]) <= 1)
    }

    @Test func hashesIgnoreBrightnessAndContrast() throws {
        let preview = try decode(fixture("a.jpg")).get().preview
        let brighter = GreyImage(width: preview.width, height: preview.height,
                                 pixels: preview.pixels.map { UInt8(min(255, Int($0) * 3 / 4 + 50)) })
        #expect(PerceptualHasher.pHashMedian(brighter).distance(to: PerceptualHasher.pHashMedian(preview)) <= 2)
        #expect(PerceptualHasher.pHash(brighter).distance(to: PerceptualHasher.pHash(preview)) <= 2)
        #expect(PerceptualHasher.dHash(brighter).distance(to: PerceptualHasher.dHash(preview)) <= 3)
    }

    @Test func resamplingAveragesAreas() {
        let g = GreyImage(width: 4, height: 2, pixels: [0, 100, 200, 40, 10, 110, 210, 50])
        #expect(PerceptualHasher.resample(g, width: 2, height: 1) == [55, 125])
        // Enlarging repeats pixels.
        let one = GreyImage(width: 1, height: 1, pixels: [7])
        #expect(PerceptualHasher.resample(one, width: 3, height: 2) == [7, 7, 7, 7, 7, 7])
    }
}
