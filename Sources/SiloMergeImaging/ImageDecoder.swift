import CSiloMergeImaging
import SiloMergeCore

/// The image formats the decoders read.
public enum ImageFormat: String, Sendable, Codable, CaseIterable {
    case jpeg, png, webp, tiff, heif

    /// From the magic bytes; nil for anything else.
    public static func sniff(_ head: UnsafeRawBufferPointer) -> ImageFormat? {
        func starts(_ bytes: [UInt8], at offset: Int = 0) -> Bool {
            head.count >= offset + bytes.count && bytes.indices.allSatisfy { head[offset + $0] == bytes[$0] }
        }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { return .webp }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        // ISO base media: an ftyp box whose major or compatible brands say HEIF or AVIF.
        if starts(Array("ftyp".utf8), at: 4), head.count >= 16 {
            let size = Int(head[0]) << 24 | Int(head[1]) << 16 | Int(head[2]) << 8 | Int(head[3])
            let brands: Set<String> = ["heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs", "mif1", "msf1", "avif", "avis"]
            var offset = 8
            while offset + 4 <= min(max(size, 16), head.count) {
                if offset != 12, let brand = String(bytes: (0..<4).map { head[offset + $0] }, encoding: .ascii), brands.contains(brand) {
                    return .heif
                }
                offset += 4
            }
        }
        return nil
    }

    /// The decoder for a format core's sniffer named; nil when none reads it.
    public init?(_ format: MediaFormat) {
        switch format {
        case .jpeg: self = .jpeg
        case .png: self = .png
        case .webp: self = .webp
        case .tiff: self = .tiff
        case .heic: self = .heif
        default: return nil
        }
    }
}

/// What one decode may cost. The defaults admit any camera's photo (a 150-megapixel medium
/// format frame, a 16-bit TIFF with 64-row strips) and refuse what only a hostile or broken file
/// declares. Each is checked against the file's header before decoding.
public struct ImageLimits: Sendable, Hashable {
    /// Files larger than this are not read into memory for decoding.
    public var maxFileBytes: Int = 256 << 20
    public var maxWidth: Int = 65_535
    public var maxHeight: Int = 65_535
    public var maxPixels: Int64 = 200_000_000
    /// What a decoder may allocate for one image (see `smi_limits`).
    public var maxDecoderMemory: Int64 = 512 << 20
    /// Scans of a progressive JPEG (libjpeg-turbo's own limit for TurboJPEG is 500).
    public var maxProgressiveScans: Int = 500

    public init() {}
}

/// Why an image was not decoded.
public enum ImageDecodeError: Error, Sendable, Hashable, CustomStringConvertible {
    case unsupported(String)
    case tooLarge(String)
    case corrupt(String)
    case outOfMemory(String)
    case unreadable(String)

    public var description: String {
        switch self {
        case .unsupported(let why): "not supported: \(why)"
        case .tooLarge(let why): "too large: \(why)"
        case .corrupt(let why): "cannot be decoded: \(why)"
        case .outOfMemory(let why): "out of memory: \(why)"
        case .unreadable(let why): "cannot be read: \(why)"
        }
    }

    /// The same, in core's terms.
    public var failure: ImageFingerprintFailure {
        switch self {
        case .unsupported(let why): .unsupported(why)
        case .tooLarge(let why): .tooLarge(why)
        case .corrupt(let why): .corrupt(why)
        case .outOfMemory(let why): .tooLarge(why)
        case .unreadable(let why): .unreadable(why)
        }
    }
}

/// A small greyscale picture of an image, in display orientation.
public struct GreyImage: Sendable, Hashable {
    public var width: Int
    public var height: Int
    /// Row-major, one byte a pixel.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && pixels.count == width * height)
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public subscript(x: Int, y: Int) -> UInt8 { pixels[y * width + x] }

    /// The image turned to display orientation by an EXIF orientation (1...8; anything else is 1).
    public func oriented(_ orientation: Int) -> GreyImage {
        guard (2...8).contains(orientation) else { return self }
        let w = width, h = height
        let transposed = orientation >= 5
        let ow = transposed ? h : w, oh = transposed ? w : h
        var out = [UInt8](repeating: 0, count: w * h)
        for y in 0..<oh {
            for x in 0..<ow {
                let (sx, sy): (Int, Int) = switch orientation {
                case 2: (w - 1 - x, y)              // mirrored horizontally
                case 3: (w - 1 - x, h - 1 - y)      // rotated 180°
                case 4: (x, h - 1 - y)              // mirrored vertically
                case 5: (y, x)                      // transposed
                case 6: (y, h - 1 - x)              // rotate 90° clockwise to display
                case 7: (w - 1 - y, h - 1 - x)      // transversed
                default: (w - 1 - y, x)             // 8: rotate 90° counter-clockwise to display
                }
                out[y * ow + x] = pixels[sy * w + sx]
            }
        }
        return GreyImage(width: ow, height: oh, pixels: out)
    }
}

/// A decoded image: its preview and what was learnt on the way.
public struct DecodedImage: Sendable, Hashable {
    public var format: ImageFormat
    /// The preview, in display orientation.
    public var preview: GreyImage
    /// The displayed size of the full image.
    public var width: Int
    public var height: Int
    /// The EXIF (or TIFF) orientation that was applied, 1 when none.
    public var orientation: Int
    public var hasAlpha: Bool
    /// The size the library decoded at before the box filter (a JPEG: after DCT scaling).
    public var decodedWidth: Int
    public var decodedHeight: Int
}

/// Decodes images held in memory into small greyscale previews, through libjpeg-turbo, libpng,
/// libwebp, libtiff and libheif (see `CSiloMergeImaging`). Stateless and thread-safe: each call
/// has its own library state, so scan workers may decode in parallel.
public enum ImageDecoder {
    /// The preview side a perceptual hash needs (32 × 32 after a second area resampling, with
    /// room to spare so the box filter's uneven cells average out).
    public static let previewSide = 64

    /// Decodes `bytes` (`format` nil: sniffed from the magic bytes).
    public static func decode(_ bytes: UnsafeRawBufferPointer, format: ImageFormat? = nil,
                              limits: ImageLimits = ImageLimits(), previewSide: Int = previewSide) throws(ImageDecodeError) -> DecodedImage {
        guard let format = format ?? ImageFormat.sniff(bytes) else {
            throw .unsupported("not a JPEG, PNG, WebP, TIFF or HEIF file")
        }
        guard bytes.count <= limits.maxFileBytes else {
            throw .tooLarge("\(bytes.count) bytes is over the limit of \(limits.maxFileBytes)")
        }
        guard let base = bytes.baseAddress, bytes.count > 0 else { throw .corrupt("the file is empty") }
        precondition(previewSide > 0 && previewSide <= 4096)
        if format == .heif && smi_heif_can_decode_hevc() == 0 && smi_heif_can_decode_av1() == 0 {
            throw .unsupported("HEIF: this libheif has neither an HEVC nor an AV1 decoder")
        }
        var cLimits = smi_limits(
            max_width: UInt32(clamping: limits.maxWidth), max_height: UInt32(clamping: limits.maxHeight),
            max_pixels: UInt64(clamping: limits.maxPixels), max_memory: UInt64(clamping: limits.maxDecoderMemory),
            max_scans: UInt32(clamping: limits.maxProgressiveScans))
        var pixels = [UInt8](repeating: 0, count: previewSide * previewSide)
        var exif = [UInt8](repeating: 0, count: 65_536)
        var out = smi_preview()
        let data = base.assumingMemoryBound(to: UInt8.self)
        let status = pixels.withUnsafeMutableBufferPointer { px in
            exif.withUnsafeMutableBufferPointer { ex in
                out.max_w = UInt32(previewSide)
                out.max_h = UInt32(previewSide)
                out.pixels = px.baseAddress
                out.exif = ex.baseAddress
                out.exif_cap = ex.count
                return switch format {
                case .jpeg: smi_decode_jpeg(data, bytes.count, &cLimits, &out)
                case .png: smi_decode_png(data, bytes.count, &cLimits, &out)
                case .webp: smi_decode_webp(data, bytes.count, &cLimits, &out)
                case .tiff: smi_decode_tiff(data, bytes.count, &cLimits, &out)
                case .heif: smi_decode_heif(data, bytes.count, &cLimits, &out)
                }
            }
        }
        let message = withUnsafeBytes(of: out.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        switch status {
        case SMI_OK: break
        case SMI_TOO_LARGE: throw .tooLarge(message)
        case SMI_UNSUPPORTED: throw .unsupported(message)
        case SMI_NO_MEMORY: throw .outOfMemory(message)
        default: throw .corrupt(message.isEmpty ? "\(format.rawValue) decoder failed" : message)
        }
        let w = Int(out.w), h = Int(out.h)
        guard w > 0, h > 0 else { throw .corrupt("the decoder produced no pixels") }
        var orientation = Int(out.orientation)
        if orientation == 0 {
            orientation = ExifOrientation.read(exif.prefix(out.exif_len)) ?? 1
        }
        let preview = GreyImage(width: w, height: h, pixels: Array(pixels.prefix(w * h))).oriented(orientation)
        let transposed = orientation >= 5
        return DecodedImage(
            format: format, preview: preview,
            width: Int(transposed ? out.height : out.width), height: Int(transposed ? out.width : out.height),
            orientation: orientation, hasAlpha: out.has_alpha != 0,
            decodedWidth: Int(out.decoded_w), decodedHeight: Int(out.decoded_h))
    }

    /// Reads an open file (from offset 0, with `pread`, at most `limits.maxFileBytes`) and
    /// decodes it. The descriptor stays the caller's. A FIFO or a device is refused before any
    /// read, so the call never blocks on one.
    public static func decode(fd: Int32, format: ImageFormat? = nil, limits: ImageLimits = ImageLimits(),
                              previewSide: Int = previewSide) throws(ImageDecodeError) -> DecodedImage {
        let bytes = try FileBytes.read(fd: fd, limit: limits.maxFileBytes)
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(ImageDecodeError) in try decode(raw, format: format, limits: limits, previewSide: previewSide) }
        }
        return try result.get()
    }

    /// The versions of the libraries linked, and whether libheif can decode HEIC and AVIF.
    public static var libraries: [String: String] {
        [
            "libjpeg": "API \(smi_jpeg_lib_version())",
            "libpng": String(cString: smi_png_version()),
            "libwebp": { let v = smi_webp_decoder_version(); return "\(v >> 16).\((v >> 8) & 0xff).\(v & 0xff)" }(),
            "libtiff": String(String(cString: smi_tiff_version()).prefix(while: { $0 != "\n" })),
            "libheif": String(cString: smi_heif_version())
                + (smi_heif_can_decode_hevc() != 0 ? ", HEVC" : ", no HEVC decoder")
                + (smi_heif_can_decode_av1() != 0 ? ", AV1" : ", no AV1 decoder"),
        ]
    }
}
