import SiloMergeCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The 64-bit perceptual hashes measured for SiloMerge (tools/similar/measure-accuracy.py):
///
/// - **pHash**, the one SiloMerge uses: the DCT hash of pHash.org (Zauner 2010) with sign bits.
///   The image resampled to 32 × 32 grey by area averaging, its 2-D DCT-II, the 8 × 8
///   coefficients of the lowest frequencies after the first row and column (so neither the DC
///   term nor a purely horizontal or vertical gradient counts), one bit each: is it above zero.
///   Brightness and contrast changes, re-encoding and resizing move these coefficients little;
///   what changes the hash is structure. With sign bits (rather than pHash.org's median), a
///   turned or mirrored image's hash is a fixed permutation and inversion of bits of the
///   original's (`PerceptualHash.dihedralVariants`), so a copy shown turned is found from the
///   hash alone; measured as precise as the median version.
/// - **pHashMedian**: pHash.org's threshold, each bit "above the median of the 64".
/// - **dHash**: the image resampled to 9 × 8, one bit per horizontally adjacent pair: is the
///   right one brighter. Cheaper, and measured far less precise (see the README).
///
/// All take the preview in display orientation, so a photo stored rotated with an EXIF
/// orientation hashes as the same photo stored upright.
public enum PerceptualHasher {
    /// The DCT pHash with pHash.org's threshold: each bit set when its coefficient is above the
    /// median of the 64.
    public static func pHashMedian(_ image: GreyImage) -> PerceptualHash {
        let d = lowFrequencies(image)
        let sorted = d.sorted()
        let median = (sorted[31] + sorted[32]) / 2
        return bits(d) { $0 > median }
    }

    /// SiloMerge's pHash: each bit the sign of its DCT coefficient (above zero).
    public static func pHash(_ image: GreyImage) -> PerceptualHash {
        bits(lowFrequencies(image)) { $0 > 0 }
    }

    /// A coefficient this large is a wave of a quarter of a grey level (of 255) across the
    /// image: the DCT-II basis is not normalised, so a pattern A·cos·cos of amplitude A grey
    /// levels gives a coefficient of A · 16 · 16.
    static let quarterGreyLevel = 64.0
    /// The fewest coefficients of at least a quarter grey level for a hash to describe the
    /// image. Measured on 469 camera and phone photos of two public collections: all but the
    /// two blank ones have 9 or more (most have all 64); a faint blob 10 grey levels high has
    /// 13; a uniform picture has none, a lone speck or a pure ramp none either.
    static let minimumDetailedCoefficients = 8

    /// SiloMerge's pHash, refused for an image with too little detail to be told from another
    /// (`.featureless`): a flat or almost flat picture (a blank page, a solid-colour
    /// placeholder) has coefficients near zero, whose signs are rounding noise, the same noise
    /// for every such picture, so two unrelated blank images would look like one photo.
    public static func checkedPHash(_ image: GreyImage) -> Result<PerceptualHash, ImageFingerprintFailure> {
        let d = lowFrequencies(image)
        let detailed = d.reduce(0) { abs($1) >= quarterGreyLevel ? $0 + 1 : $0 }
        guard detailed >= minimumDetailedCoefficients else {
            return .failure(.featureless("\(detailed) of its 64 low frequencies vary by a quarter of a grey level or more (\(minimumDetailedCoefficients) needed)"))
        }
        return .success(bits(d) { $0 > 0 })
    }

    static func bits(_ d: [Double], _ set: (Double) -> Bool) -> PerceptualHash {
        var bits: UInt64 = 0
        for (k, c) in d.enumerated() where set(c) { bits |= 1 << UInt64(63 - k) }
        return PerceptualHash(bits: bits)
    }

    /// The 8 × 8 DCT-II coefficients of the 32 × 32 resampled image at vertical frequencies
    /// 1...8 (row) and horizontal frequencies 1...8 (column), row-major.
    public static func lowFrequencies(_ image: GreyImage) -> [Double] {
        let n = 32
        let x = resample(image, width: n, height: n)
        // Rows 1...8 of the DCT-II basis (the scale is the same for all of them: no effect on
        // the thresholds).
        var rows = [Double](repeating: 0, count: 8 * n)      // (8 × 32): basis[u][i]
        for u in 1...8 {
            for i in 0..<n { rows[(u - 1) * n + i] = cos(Double((2 * i + 1) * u) * .pi / Double(2 * n)) }
        }
        // t = B · X (8 × 32), then D = t · Bᵀ (8 × 8).
        var t = [Double](repeating: 0, count: 8 * n)
        for u in 0..<8 {
            for j in 0..<n {
                var s = 0.0
                for i in 0..<n { s += rows[u * n + i] * x[i * n + j] }
                t[u * n + j] = s
            }
        }
        var d = [Double](repeating: 0, count: 64)
        for u in 0..<8 {
            for v in 0..<8 {
                var s = 0.0
                for j in 0..<n { s += t[u * n + j] * rows[v * n + j] }
                d[u * 8 + v] = s
            }
        }
        return d
    }

    public static func dHash(_ image: GreyImage) -> PerceptualHash {
        let x = resample(image, width: 9, height: 8)
        var bits: UInt64 = 0
        for r in 0..<8 {
            for c in 0..<8 where x[r * 9 + c + 1] > x[r * 9 + c] { bits |= 1 << UInt64(63 - (r * 8 + c)) }
        }
        return PerceptualHash(bits: bits)
    }

    /// Area-weighted resampling to width × height (each output pixel the mean of the source
    /// area it covers, fractions of pixels weighted; an axis smaller than the output repeats).
    public static func resample(_ image: GreyImage, width: Int, height: Int) -> [Double] {
        let horizontal = weights(from: image.width, to: width)
        let vertical = weights(from: image.height, to: height)
        // Rows first: height(source) × width(out).
        var tmp = [Double](repeating: 0, count: image.height * width)
        for y in 0..<image.height {
            for (o, taps) in horizontal.enumerated() {
                var s = 0.0
                for (i, w) in taps { s += w * Double(image.pixels[y * image.width + i]) }
                tmp[y * width + o] = s
            }
        }
        var out = [Double](repeating: 0, count: width * height)
        for (o, taps) in vertical.enumerated() {
            for x in 0..<width {
                var s = 0.0
                for (i, w) in taps { s += w * tmp[i * width + x] }
                out[o * width + x] = s
            }
        }
        return out
    }

    /// For each output index, the source indices it covers and their weights (summing to 1).
    static func weights(from source: Int, to target: Int) -> [[(Int, Double)]] {
        let scale = Double(source) / Double(target)
        return (0..<target).map { o in
            let a = Double(o) * scale, b = Double(o + 1) * scale
            if scale <= 1 { return [(min(Int(a), source - 1), 1.0)] }
            var taps: [(Int, Double)] = []
            var i = Int(a)
            while Double(i) < b && i < source {
                let w = min(b, Double(i + 1)) - max(a, Double(i))
                if w > 1e-9 { taps.append((i, w / scale)) }
                i += 1
            }
            return taps
        }
    }
}
