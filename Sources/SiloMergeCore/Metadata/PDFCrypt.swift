import COpenSSL

/// The PDF standard security handler (ISO 32000-2 §7.6.4), for files encrypted with an empty
/// user password — what "no copying / no printing" PDFs are — so that their document
/// information and XMP can be read as any viewer reads them. Revisions 2–4 (RC4 40–128 bit,
/// AES-128) and 5–6 (AES-256). A file that needs a password, or another handler, gets nil.
struct PDFCrypt {
    enum Cipher { case identity, rc4, aes128, aes256 }

    let key: [UInt8]
    let revision: Int
    let strings: Cipher
    let streams: Cipher
    let encryptMetadata: Bool

    static let padding: [UInt8] = [
        0x28, 0xBF, 0x4E, 0x5E, 0x4E, 0x75, 0x8A, 0x41, 0x64, 0x00, 0x4E, 0x56, 0xFF, 0xFA, 0x01, 0x08,
        0x2E, 0x2E, 0x00, 0xB6, 0xD0, 0x68, 0x3E, 0x80, 0x2F, 0x0C, 0xA9, 0xFE, 0x64, 0x53, 0x69, 0x7A,
    ]

    enum Failure: Error, CustomStringConvertible {
        case unsupported(String)
        case needsPassword
        var description: String {
            switch self {
            case .unsupported(let what): "encrypted with \(what), which SiloMerge does not read"
            case .needsPassword: "encrypted with a user password; its metadata cannot be read without it"
            }
        }
    }

    /// The key for an empty user password, from the /Encrypt dictionary and the first /ID string.
    static func make(_ e: [String: PDFValue], id: [UInt8]) -> Result<PDFCrypt, Failure> {
        guard e["Filter"] == .name("Standard") else { return .failure(.unsupported("a security handler other than /Standard")) }
        func int(_ k: String) -> Int? { if case .number(let n)? = e[k], n.magnitude < 1e9 { return Int(n) }; return nil }
        func bytes(_ k: String) -> [UInt8]? { if case .string(let b)? = e[k] { return b }; return nil }
        guard let v = int("V"), let r = int("R"), let o = bytes("O"), let u = bytes("U"), let p = int("P") else {
            return .failure(.unsupported("an incomplete /Encrypt dictionary"))
        }
        let encryptMetadata = e["EncryptMetadata"] != .bool(false)
        // Which cipher strings and streams use (V4/V5: named crypt filters).
        var stringCipher: Cipher = .rc4, streamCipher: Cipher = .rc4
        if v >= 4 {
            var filters: [String: Cipher] = ["Identity": .identity]
            if case .dictionary(let cf)? = e["CF"] {
                for (name, value) in cf {
                    guard case .dictionary(let f) = value else { continue }
                    switch f["CFM"] {
                    case .name("V2")?: filters[name] = .rc4
                    case .name("AESV2")?: filters[name] = .aes128
                    case .name("AESV3")?: filters[name] = .aes256
                    case .name("None")?: filters[name] = .identity
                    default: break
                    }
                }
            }
            func pick(_ key: String) -> Cipher? {
                if case .name(let n)? = e[key] { return filters[n] }
                return .identity
            }
            guard let s = pick("StrF"), let t = pick("StmF") else { return .failure(.unsupported("an unknown crypt filter")) }
            stringCipher = s; streamCipher = t
        } else if v != 1 && v != 2 {
            return .failure(.unsupported("/V \(v)"))
        }
        if r >= 5 {
            guard let ue = bytes("UE"), u.count >= 48, ue.count >= 32 else { return .failure(.unsupported("an incomplete AES-256 dictionary")) }
            let check = r == 5 ? sha(256, Array(u[32..<40])) : hash6([], salt: Array(u[32..<40]))
            guard let check, check == Array(u[0..<32]) else { return .failure(.needsPassword) }
            let inter = r == 5 ? sha(256, Array(u[40..<48])) : hash6([], salt: Array(u[40..<48]))
            guard let inter, let key = aes(decrypt: true, bits: 256, key: inter, iv: [UInt8](repeating: 0, count: 16), Array(ue[0..<32]), padding: false),
                  key.count == 32 else { return .failure(.unsupported("an unreadable /UE key")) }
            return .success(PDFCrypt(key: key, revision: r, strings: stringCipher, streams: streamCipher, encryptMetadata: encryptMetadata))
        }
        guard (2...4).contains(r), o.count >= 32, u.count >= 16 else { return .failure(.unsupported("revision \(r)")) }
        let length = r == 2 ? 5 : max(5, min(16, (int("Length") ?? 40) / 8))
        var input = padding + Array(o[0..<32])
        let pBits = UInt32(bitPattern: Int32(truncatingIfNeeded: p))
        input += [UInt8(pBits & 0xFF), UInt8((pBits >> 8) & 0xFF), UInt8((pBits >> 16) & 0xFF), UInt8(pBits >> 24)]
        input += id
        if r >= 4, !encryptMetadata { input += [0xFF, 0xFF, 0xFF, 0xFF] }
        guard var h = MD5.digest(input) else { return .failure(.unsupported("MD5, which this OpenSSL does not offer")) }
        if r >= 3 { for _ in 0..<50 { guard let n = MD5.digest(h.prefix(length)) else { return .failure(.needsPassword) }; h = n } }
        let key = Array(h.prefix(length))
        // Is the user password empty? (Algorithms 4 and 5.)
        if r == 2 {
            guard RC4.apply(key, padding) == Array(u.prefix(32)) else { return .failure(.needsPassword) }
        } else {
            guard var x = MD5.digest(padding + id) else { return .failure(.needsPassword) }
            x = RC4.apply(key, x)
            for i in 1...19 { x = RC4.apply(key.map { $0 ^ UInt8(i) }, x) }
            guard x == Array(u.prefix(16)) else { return .failure(.needsPassword) }
        }
        return .success(PDFCrypt(key: key, revision: r, strings: stringCipher, streams: streamCipher, encryptMetadata: encryptMetadata))
    }

    func decrypt(_ data: [UInt8], object: PDFObjectID, stream: Bool) -> [UInt8]? {
        let cipher = stream ? streams : strings
        switch cipher {
        case .identity:
            return data
        case .aes256:
            return PDFCrypt.aesWithIV(key, bits: 256, data)
        case .rc4, .aes128:
            let n = UInt32(truncatingIfNeeded: object.number), g = UInt32(truncatingIfNeeded: object.generation)
            var input = key + [UInt8(n & 0xFF), UInt8((n >> 8) & 0xFF), UInt8((n >> 16) & 0xFF), UInt8(g & 0xFF), UInt8((g >> 8) & 0xFF)]
            if cipher == .aes128 { input += asciiBytes("sAlT") }
            guard let digest = MD5.digest(input) else { return nil }
            let objectKey = Array(digest.prefix(min(key.count + 5, 16)))
            return cipher == .rc4 ? RC4.apply(objectKey, data) : PDFCrypt.aesWithIV(objectKey, bits: 128, data)
        }
    }

    /// AES-CBC with the IV in the first 16 bytes and PKCS#7 padding.
    static func aesWithIV(_ key: [UInt8], bits: Int, _ data: [UInt8]) -> [UInt8]? {
        guard data.count >= 32, data.count % 16 == 0 else { return data.count == 16 ? [] : nil }
        return aes(decrypt: true, bits: bits, key: key, iv: Array(data[0..<16]), Array(data[16...]), padding: true)
    }

    /// Revision 6's hash (ISO 32000-2 Algorithm 2.B) for the user password (no user data).
    static func hash6(_ password: [UInt8], salt: [UInt8]) -> [UInt8]? {
        guard var k = sha(256, password + salt) else { return nil }
        var round = 0
        while true {
            let k1 = Array([[UInt8]](repeating: password + k, count: 64).joined())
            guard let e = aes(decrypt: false, bits: 128, key: Array(k[0..<16]), iv: Array(k[16..<32]), k1, padding: false) else { return nil }
            let mod = e.prefix(16).reduce(0) { $0 + Int($1) } % 3
            guard let next = sha([256, 384, 512][mod], e) else { return nil }
            k = next
            round += 1
            if round >= 64, Int(e.last!) <= round - 32 { break }
            if round > 10_000 { return nil }
        }
        return Array(k[0..<32])
    }

    static func sha(_ bits: Int, _ data: [UInt8]) -> [UInt8]? {
        let md: OpaquePointer? = bits == 256 ? EVP_sha256() : bits == 384 ? EVP_sha384() : EVP_sha512()
        guard let md, let ctx = EVP_MD_CTX_new() else { return nil }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestInit_ex(ctx, md, nil) == 1 else { return nil }
        let ok = data.withUnsafeBytes { $0.count == 0 || EVP_DigestUpdate(ctx, $0.baseAddress, $0.count) == 1 }
        guard ok else { return nil }
        var out = [UInt8](repeating: 0, count: 64)
        var n: UInt32 = 0
        guard EVP_DigestFinal_ex(ctx, &out, &n) == 1 else { return nil }
        return Array(out.prefix(Int(n)))
    }

    static func aes(decrypt: Bool, bits: Int, key: [UInt8], iv: [UInt8], _ data: [UInt8], padding: Bool) -> [UInt8]? {
        guard key.count == bits / 8, iv.count == 16, let ctx = EVP_CIPHER_CTX_new() else { return nil }
        defer { EVP_CIPHER_CTX_free(ctx) }
        let cipher = bits == 128 ? EVP_aes_128_cbc() : EVP_aes_256_cbc()
        let initOK = decrypt ? EVP_DecryptInit_ex(ctx, cipher, nil, key, iv) : EVP_EncryptInit_ex(ctx, cipher, nil, key, iv)
        guard initOK == 1 else { return nil }
        EVP_CIPHER_CTX_set_padding(ctx, padding ? 1 : 0)
        var out = [UInt8](repeating: 0, count: data.count + 32)
        var n: Int32 = 0, m: Int32 = 0
        let ok = out.withUnsafeMutableBufferPointer { o in
            data.withUnsafeBufferPointer { d in
                (decrypt ? EVP_DecryptUpdate(ctx, o.baseAddress, &n, d.baseAddress, Int32(d.count))
                         : EVP_EncryptUpdate(ctx, o.baseAddress, &n, d.baseAddress, Int32(d.count))) == 1
            }
        }
        guard ok else { return nil }
        let fin = out.withUnsafeMutableBufferPointer { o in
            decrypt ? EVP_DecryptFinal_ex(ctx, o.baseAddress! + Int(n), &m) : EVP_EncryptFinal_ex(ctx, o.baseAddress! + Int(n), &m)
        }
        guard fin == 1 else { return nil }
        return Array(out.prefix(Int(n + m)))
    }
}

/// RC4, which PDF revisions 2–4 use (OpenSSL 3 keeps it in the legacy provider only).
enum RC4 {
    static func apply(_ key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        guard !key.isEmpty else { return data }
        var s = [UInt8](0...255)
        var j = 0
        for i in 0..<256 {
            j = (j + Int(s[i]) + Int(key[i % key.count])) & 255
            s.swapAt(i, j)
        }
        var out = data
        var i = 0
        j = 0
        for k in 0..<out.count {
            i = (i + 1) & 255
            j = (j + Int(s[i])) & 255
            s.swapAt(i, j)
            out[k] ^= s[(Int(s[i]) + Int(s[j])) & 255]
        }
        return out
    }
}
