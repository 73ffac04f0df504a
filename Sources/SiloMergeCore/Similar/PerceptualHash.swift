/// A 64-bit perceptual hash of an image: two images that look alike have hashes a small Hamming
/// distance apart, whatever their size, encoding or format. Computed by SiloMergeImaging (a DCT
/// pHash of the displayed image); compared and grouped here, where no image library is linked.
public struct PerceptualHash: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var bits: UInt64

    public init(bits: UInt64) { self.bits = bits }

    /// Parses 16 hexadecimal digits (either case), as `description` prints them.
    public init?(hex: String) {
        guard hex.utf8.count == 16, let value = UInt64(hex, radix: 16) else { return nil }
        bits = value
    }

    /// The number of bits that differ (0...64).
    @inlinable
    public func distance(to other: PerceptualHash) -> Int { (bits ^ other.bits).nonzeroBitCount }

    /// 16 lower-case hexadecimal digits.
    public var description: String {
        let hex = String(bits, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    public static func < (a: PerceptualHash, b: PerceptualHash) -> Bool { a.bits < b.bits }
}

extension PerceptualHash: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let hash = PerceptualHash(hex: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "a perceptual hash is 16 hexadecimal digits, not '\(text)'"))
        }
        self = hash
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// What SiloMerge keeps of an image for finding its derivatives: its perceptual hash and the
/// size it is displayed at (after its EXIF orientation), which decides the group's master.
public struct ImageFingerprint: Hashable, Sendable, Codable {
    public var hash: PerceptualHash
    /// Displayed width and height (a portrait photo stored landscape with orientation 6 is
    /// taller than wide here).
    public var width: Int
    public var height: Int
    /// The decoder that read it ("jpeg", "png", "webp", "tiff", "heif").
    public var decoder: String

    public init(hash: PerceptualHash, width: Int, height: Int, decoder: String) {
        self.hash = hash
        self.width = width
        self.height = height
        self.decoder = decoder
    }

    public var pixels: Int64 { Int64(width) * Int64(height) }
}

/// Why an image has no fingerprint. Each is a reported skip, never a scan failure: the file is
/// still catalogued and hashed with SHA-256.
public enum ImageFingerprintFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// Not an image format the decoders read (GIF, BMP, camera raw, SVG, PDF, ...), or a kind
    /// of one they do not (an animated WebP, a HEIC when libheif has no HEVC decoder).
    case unsupported(String)
    /// Over a limit (file size, dimensions, pixels, decoder memory, progressive scans).
    case tooLarge(String)
    /// The library refused the data: truncated, damaged, not what its magic bytes claim.
    case corrupt(String)
    /// The file could not be read (errno's words).
    case unreadable(String)
    /// Decoded, but (nearly) one flat tone: no detail a perceptual hash could tell apart.
    case featureless(String)

    public var description: String {
        switch self {
        case .unsupported(let why): "not supported: \(why)"
        case .tooLarge(let why): "too large: \(why)"
        case .corrupt(let why): "cannot be decoded: \(why)"
        case .unreadable(let why): "cannot be read: \(why)"
        case .featureless(let why): "too uniform to compare: \(why)"
        }
    }
}

/// What the scan's read stage calls for each image it reads: SiloMergeImaging's
/// `ImageFingerprinter` implements it, and the command line hands one to `ScanEngine`, so core
/// links no image library (as the catalogue backends implement the store protocols).
public protocol ImageFingerprinting: Sendable {
    /// Whether the decoders read this format at all: the scan keeps in memory, while hashing
    /// it, only a file of such a format.
    func decodes(_ format: MediaFormat) -> Bool
    /// The largest file the scan keeps in memory for a fingerprint (per reading thread); a
    /// larger image is a reported skip ("too large"), never a second read.
    var maxFileBytes: Int64 { get }
    /// The fingerprint of an image whose bytes are in memory (the buffer the scan reads for
    /// SHA-256, when the file fits the limit). `format` is what the scan's sniffer said; nil
    /// lets the decoder sniff.
    func fingerprint(bytes: UnsafeRawBufferPointer, format: MediaFormat?) -> Result<ImageFingerprint, ImageFingerprintFailure>
    /// The fingerprint of an open file, read from offset 0 with `pread` (never past `limit`
    /// bytes); the descriptor stays the caller's.
    func fingerprint(fd: Int32, format: MediaFormat?) -> Result<ImageFingerprint, ImageFingerprintFailure>
}

extension PerceptualHash {
    /// The eight symmetries of a rectangle (the EXIF orientations' transforms: turns by quarters,
    /// mirrors, and their combinations), applied to a **sign-bit** DCT hash (SiloMergeImaging's
    /// `PerceptualHasher.pHashSigns`): bit 63 - k holds the sign of coefficient k = 8u + v, at
    /// vertical frequency u + 1 and horizontal frequency v + 1. Transposing the image transposes
    /// the coefficients; mirroring it left to right negates the odd horizontal frequencies, top
    /// to bottom the odd vertical ones. So the hash of a turned or mirrored image is a
    /// permutation and an inversion of bits of the original's, computed here without the image.
    ///
    /// Index i = 4·transpose + 2·mirror left-right + mirror top-bottom (applied in that order);
    /// index 0 is the hash itself. Not meaningful for a median-threshold or a difference hash.
    public var dihedralVariants: [PerceptualHash] {
        let transposed = Self.transpose(bits)
        return (0..<8).map { i in
            var b = i & 4 != 0 ? transposed : bits
            if i & 2 != 0 { b ^= Self.oddHorizontal }
            if i & 1 != 0 { b ^= Self.oddVertical }
            return PerceptualHash(bits: b)
        }
    }

    /// What the variant at `index` does to the image, in words.
    public static func dihedralName(_ index: Int) -> String {
        ["as is", "mirrored top to bottom", "mirrored left to right", "turned 180°",
         "transposed", "turned 90° counter-clockwise", "turned 90° clockwise", "transversed"][index & 7]
    }

    static func transpose(_ bits: UInt64) -> UInt64 {
        var out: UInt64 = 0
        for k in 0..<64 where bits & (1 << UInt64(63 - k)) != 0 {
            let (u, v) = k.quotientAndRemainder(dividingBy: 8)
            out |= 1 << UInt64(63 - (v * 8 + u))
        }
        return out
    }

    /// Bits of coefficients whose horizontal frequency v + 1 is odd (v even), and vertical.
    static let oddHorizontal: UInt64 = (0..<64).reduce(0) { $1 % 8 % 2 == 0 ? $0 | 1 << UInt64(63 - $1) : $0 }
    static let oddVertical: UInt64 = (0..<64).reduce(0) { $1 / 8 % 2 == 0 ? $0 | 1 << UInt64(63 - $1) : $0 }
}
