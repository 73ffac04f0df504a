import COpenSSL

/// A SHA-256 digest.
public struct SHA256Digest: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The 32 bytes, as four big-endian words so the value is a cheap, inline struct.
    public let w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    public init(bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == 32)
        func word(_ i: Int) -> UInt64 {
            var v: UInt64 = 0
            for k in 0..<8 { v = (v << 8) | UInt64(bytes[i * 8 + k]) }
            return v
        }
        w0 = word(0); w1 = word(1); w2 = word(2); w3 = word(3)
    }

    /// Parses 64 hexadecimal digits (either case).
    public init?(hex: String) {
        var hex = hex
        guard let parsed = hex.withUTF8({ SHA256Digest(hexBytes: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = parsed
    }

    /// Parses 64 hexadecimal digits from raw bytes (no allocation).
    public init?(hexBytes utf8: UnsafeRawBufferPointer) {
        guard utf8.count == 64 else { return nil }
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        for w in 0..<4 {
            var v: UInt64 = 0
            for k in 0..<16 {
                let c = utf8[w * 16 + k]
                let d: UInt8
                switch c {
                case 0x30...0x39: d = c - 0x30
                case 0x61...0x66: d = c - 0x61 + 10
                case 0x41...0x46: d = c - 0x41 + 10
                default: return nil
                }
                v = (v << 4) | UInt64(d)
            }
            switch w {
            case 0: words.0 = v
            case 1: words.1 = v
            case 2: words.2 = v
            default: words.3 = v
            }
        }
        w0 = words.0; w1 = words.1; w2 = words.2; w3 = words.3
    }

    /// Lower-case hexadecimal, as `sha256sum` prints it.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: 64)
        for (w, word) in [w0, w1, w2, w3].enumerated() {
            for k in 0..<16 {
                out[w * 16 + k] = digits[Int((word >> (60 - 4 * UInt64(k))) & 0xF)]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for word in [w0, w1, w2, w3] { for k in 0..<8 { out.append(UInt8((word >> (56 - 8 * UInt64(k))) & 0xFF)) } }
        return out
    }

    public var description: String { hex }

    public static func < (a: SHA256Digest, b: SHA256Digest) -> Bool { (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3) }

    /// SHA-256 of no bytes: every empty file has it, so it is never computed by reading.
    public static let empty = SHA256Digest(hex: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")!
}

/// An error from OpenSSL.
public struct HashError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { "OpenSSL SHA-256 failed: \(message)" }
}

/// The SHA-256 algorithm object, fetched from OpenSSL once per process (OpenSSL 3 otherwise
/// looks it up again on every `EVP_DigestInit_ex`, which costs more than hashing a small file).
///
/// `@unchecked Sendable` is safe: an `EVP_MD` is immutable once fetched and OpenSSL documents
/// algorithm objects as shareable between threads; only the per-worker `EVP_MD_CTX` is mutable,
/// and that is never shared.
private struct SharedAlgorithm: @unchecked Sendable {
    let pointer: OpaquePointer?
}

private let sha256Algorithm = SharedAlgorithm(pointer: EVP_MD_fetch(nil, "SHA256", nil) ?? EVP_sha256())

/// Incremental SHA-256 through OpenSSL's EVP interface.
///
/// Not thread-safe and not `Sendable`: each hashing worker owns one, created once and reset for
/// every file, so no context is allocated per file or per block.
public final class SHA256Hasher {
    private let context: OpaquePointer
    private let algorithm: OpaquePointer

    /// How many more bytes `update` takes; nil (the default) for no limit. Once the budget is
    /// spent, `update` hashes the bytes that still fit and throws `BudgetSpent`: the digest is
    /// then that of the first bytes only (see `ImageDataHash.prefix`).
    public var budget: Int64?

    /// Thrown by `update` when `budget` runs out.
    public struct BudgetSpent: Error {}

    public init() throws {
        guard let ctx = EVP_MD_CTX_new() else { throw HashError(message: "EVP_MD_CTX_new returned NULL") }
        guard let md = sha256Algorithm.pointer else {
            EVP_MD_CTX_free(ctx)
            throw HashError(message: "SHA256 is not available from this OpenSSL")
        }
        context = ctx
        algorithm = md
        try reset()
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Starts a new digest.
    public func reset() throws {
        guard EVP_DigestInit_ex(context, algorithm, nil) == 1 else {
            throw HashError(message: "EVP_DigestInit_ex failed")
        }
    }

    public func update(_ buffer: UnsafeRawBufferPointer) throws {
        guard buffer.count > 0 else { return }
        if let left = budget, Int64(buffer.count) > left {
            budget = 0
            if left > 0, EVP_DigestUpdate(context, buffer.baseAddress, Int(left)) != 1 {
                throw HashError(message: "EVP_DigestUpdate failed")
            }
            throw BudgetSpent()
        }
        if let left = budget { budget = left - Int64(buffer.count) }
        guard EVP_DigestUpdate(context, buffer.baseAddress, buffer.count) == 1 else {
            throw HashError(message: "EVP_DigestUpdate failed")
        }
    }

    public func update(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try update($0) }
    }

    /// Finishes the digest; call `reset()` before reusing the hasher.
    public func finalize() throws -> SHA256Digest {
        var out = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        var length: UInt32 = 0
        let ok = withUnsafeMutableBytes(of: &out) { raw in
            EVP_DigestFinal_ex(context, raw.baseAddress!.assumingMemoryBound(to: UInt8.self), &length)
        }
        guard ok == 1, length == 32 else { throw HashError(message: "EVP_DigestFinal_ex failed") }
        return withUnsafeBytes(of: &out) { SHA256Digest(bytes: $0) }
    }

    /// SHA-256 of a byte buffer in one call.
    public static func digest(_ bytes: [UInt8]) throws -> SHA256Digest {
        let h = try SHA256Hasher()
        try h.update(bytes)
        return try h.finalize()
    }
}
