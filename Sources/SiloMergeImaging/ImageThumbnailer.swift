import CSiloMergeImaging
import SiloMergeCore

/// Core's `ImageThumbnailing`, for the HTML report's *Similar images*: the image decoded with the
/// scan's decoders (libjpeg-turbo scaled in the DCT, libpng, libwebp, libtiff, libheif, under the
/// same limits), turned to its EXIF orientation, averaged down to at most `maxSide` pixels on
/// its long side with its proportions kept, and encoded as a greyscale baseline JPEG by libjpeg,
/// at the best quality from 80 down to 30 that fits `maxBytes`. Stateless.
public struct ImageThumbnailer: ImageThumbnailing {
    public var maxSide: Int
    public var maxBytes: Int
    public var limits: ImageLimits

    /// The report's: 96 pixels, 8 KB, files of up to 128 MiB (read whole, one at a time).
    public init(maxSide: Int = 96, maxBytes: Int = 8192, limits: ImageLimits = ImageThumbnailer.reportLimits) {
        precondition(maxSide >= 8 && maxSide <= 1024 && maxBytes >= 512)
        self.maxSide = maxSide
        self.maxBytes = maxBytes
        self.limits = limits
    }

    public static var reportLimits: ImageLimits {
        var limits = ImageLimits()
        limits.maxFileBytes = 128 << 20
        return limits
    }

    public func thumbnail(fd: Int32) -> Result<ImageThumbnail, ImageFingerprintFailure> {
        do {
            // The decoder's box filter fits each axis on its own; decoding at twice the side and
            // resampling here to the displayed proportions keeps the picture's shape.
            let image = try ImageDecoder.decode(fd: fd, limits: limits, previewSide: 2 * maxSide)
            return thumbnail(of: image)
        } catch {
            return .failure(error.failure)
        }
    }

    /// The thumbnail of an image already decoded (with a preview of at least `maxSide`).
    public func thumbnail(of image: DecodedImage) -> Result<ImageThumbnail, ImageFingerprintFailure> {
        let (w, h) = Self.fit(width: image.width, height: image.height, side: maxSide)
        let grey = PerceptualHasher.resample(image.preview, width: w, height: h).map { UInt8(clamping: Int($0.rounded())) }
        var out = [UInt8](repeating: 0, count: maxBytes)
        var message = [CChar](repeating: 0, count: 256)
        var last = ""
        for quality in stride(from: 80, through: 30, by: -10) {
            var length = 0
            let status = grey.withUnsafeBufferPointer { px in
                out.withUnsafeMutableBufferPointer { o in
                    message.withUnsafeMutableBufferPointer { m in
                        smi_encode_jpeg_grey(px.baseAddress, UInt32(w), UInt32(h), Int32(quality), o.baseAddress, o.count, &length, m.baseAddress)
                    }
                }
            }
            last = String(decoding: message.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if status == SMI_OK {
                return .success(ImageThumbnail(mediaType: "image/jpeg", bytes: Array(out.prefix(length)), width: w, height: h))
            }
            if status != SMI_TOO_LARGE { return .failure(.corrupt("cannot encode the thumbnail: \(last)")) }
        }
        return .failure(.tooLarge("the thumbnail does not fit \(maxBytes) bytes (\(last))"))
    }

    /// The largest size within `side` × `side` with the proportions of width × height (each at least 1).
    static func fit(width: Int, height: Int, side: Int) -> (Int, Int) {
        guard width > 0, height > 0 else { return (side, side) }
        if width >= height {
            let w = min(side, width)
            return (w, max(1, Int((Double(height) * Double(w) / Double(width)).rounded())))
        }
        let h = min(side, height)
        return (max(1, Int((Double(width) * Double(h) / Double(height)).rounded())), h)
    }
}
