import SiloMergeCore

/// Core's `ImageFingerprinting`, implemented with the decoders and the pHash. Stateless.
public struct ImageFingerprinter: ImageFingerprinting {
    public var limits: ImageLimits

    public init(limits: ImageLimits = ImageLimits()) { self.limits = limits }

    /// For the scan: files up to 64 MiB (a 12-megapixel JPEG is 3-8 MB, an uncompressed
    /// 24-megapixel TIFF 72 MB), so each reading thread holds at most that.
    public static func forScan() -> ImageFingerprinter {
        var limits = ImageLimits()
        limits.maxFileBytes = 64 << 20
        return ImageFingerprinter(limits: limits)
    }

    public func decodes(_ format: MediaFormat) -> Bool { ImageFormat(format) != nil }

    public var maxFileBytes: Int64 { Int64(limits.maxFileBytes) }

    public func fingerprint(bytes: UnsafeRawBufferPointer, format: MediaFormat?) -> Result<ImageFingerprint, ImageFingerprintFailure> {
        let imageFormat: ImageFormat?
        if let format {
            guard let f = ImageFormat(format) else { return .failure(.unsupported("\(format.rawValue) images are not decoded")) }
            imageFormat = f
        } else {
            imageFormat = nil
        }
        do {
            return Self.fingerprint(try ImageDecoder.decode(bytes, format: imageFormat, limits: limits))
        } catch {
            return .failure(error.failure)
        }
    }

    public func fingerprint(fd: Int32, format: MediaFormat?) -> Result<ImageFingerprint, ImageFingerprintFailure> {
        if let format, ImageFormat(format) == nil { return .failure(.unsupported("\(format.rawValue) images are not decoded")) }
        do {
            return Self.fingerprint(try ImageDecoder.decode(fd: fd, format: format.flatMap(ImageFormat.init), limits: limits))
        } catch {
            return .failure(error.failure)
        }
    }

    /// The image's fingerprint, or `.featureless` when it is (nearly) one flat tone: its hash
    /// would be rounding noise, alike for every flat image (see `PerceptualHasher.checkedPHash`).
    public static func fingerprint(_ image: DecodedImage) -> Result<ImageFingerprint, ImageFingerprintFailure> {
        PerceptualHasher.checkedPHash(image.preview).map {
            ImageFingerprint(hash: $0, width: image.width, height: image.height, decoder: image.format.rawValue)
        }
    }
}
