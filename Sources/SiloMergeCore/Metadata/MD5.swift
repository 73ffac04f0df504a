import COpenSSL

/// MD5 through OpenSSL's EVP interface, for Photoshop's IPTC digest (resource 0x0425) and the
/// extended-XMP GUID. Not for security: both formats define their checksum as MD5.
enum MD5 {
    /// The 16-byte digest, or nil when this OpenSSL has no MD5 (a FIPS-only build, say).
    static func digest<C: Collection>(_ bytes: C) -> [UInt8]? where C.Element == UInt8 {
        guard let md = md5Algorithm.pointer, let ctx = EVP_MD_CTX_new() else { return nil }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestInit_ex(ctx, md, nil) == 1 else { return nil }
        let contiguous = Array(bytes)
        let ok = contiguous.withUnsafeBytes { raw -> Bool in
            raw.count == 0 || EVP_DigestUpdate(ctx, raw.baseAddress, raw.count) == 1
        }
        guard ok else { return nil }
        var out = [UInt8](repeating: 0, count: 16)
        var length: UInt32 = 0
        guard EVP_DigestFinal_ex(ctx, &out, &length) == 1, length == 16 else { return nil }
        return out
    }

    static func hex(_ digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in digest { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The MD5 algorithm object, fetched once per process.
///
/// `@unchecked Sendable` is safe: an `EVP_MD` is immutable once fetched and OpenSSL documents
/// fetched algorithm objects as shareable between threads; the mutable `EVP_MD_CTX` is created
/// per call and never shared.
private struct MD5Algorithm: @unchecked Sendable {
    let pointer: OpaquePointer?
}

private let md5Algorithm = MD5Algorithm(pointer: EVP_MD_fetch(nil, "MD5", nil))
