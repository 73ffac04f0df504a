#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A hash of the image data alone, so that copies differing only in embedded metadata match.
public enum ImageDataHash {
    /// SHA-256 over the image data only, metadata left out, so copies differing only in embedded
    /// metadata match. nil for formats without support.
    ///
    /// - JPEG: every marker segment (marker, length and data) and the entropy-coded data except
    ///   APPn (FFE0–FFEF) and COM (FFFE), from SOI through EOI (bytes after EOI ignored).
    /// - PNG: the signature, then every chunk's type and data (lengths and CRCs excluded) except
    ///   tEXt, zTXt, iTXt, eXIf and tIME, through IEND.
    /// - TIFF: IFD0's image-structure tags (width, height, bits per sample, compression,
    ///   photometric, samples per pixel, planar config, predictor) as numbers, whatever the
    ///   byte order, then the bytes of its strips or tiles, in order.
    ///
    /// - HEIC/HEIF, AVIF: the primary picture's coded data (see `heif`).
    /// - MP4, MOV, 3GP, CR3: the media data, every top-level `mdat` payload (see `mediaData`).
    ///
    /// Throws a `MetadataProblem` when the structure is broken (a segment or strip past the end
    /// of the file), or the source's error on an I/O failure.
    public static func compute(_ source: some ByteSource, format: MediaFormat) throws -> SHA256Digest? {
        try prefix(source, format: format, bytes: nil)?.digest
    }

    /// The SHA-256 of the first `bytes` bytes of the image data as `compute` defines it (of all
    /// of it when it is shorter, or when `bytes` is nil), and whether that was all of it: then
    /// `digest` equals `compute`'s. Stops reading once `bytes` are hashed. The scan keeps this
    /// prefix digest for every picture and computes the whole image hash only for files whose
    /// prefix another file with other bytes shares — the only ones that can show the same
    /// picture — so reading metadata never hashes every picture twice.
    public static func prefix(_ source: some ByteSource, format: MediaFormat, bytes: Int64?) throws
        -> (digest: SHA256Digest, complete: Bool)? {
        let hasher = try SHA256Hasher()
        hasher.budget = bytes
        do {
            guard try hash(source, format: format, hasher) else { return nil }
        } catch is SHA256Hasher.BudgetSpent {
            return (try hasher.finalize(), false)
        }
        return (try hasher.finalize(), true)
    }

    /// Feeds the image data of `format` to `hasher`; false for formats without an image hash.
    private static func hash(_ source: some ByteSource, format: MediaFormat, _ hasher: SHA256Hasher) throws -> Bool {
        switch format {
        case .jpeg: try jpeg(source, hasher)
        case .png: try png(source, hasher)
        case .tiff: try tiff(source, hasher)
        case .heic, .avif: try heif(source, hasher)
        case .mp4, .mov, .cr3: try mediaData(source, hasher)
        default: return false
        }
        return true
    }

    private static let chunk = 64 * 1024

    /// Hashes `count` bytes at `offset`, in chunks; throws when the file is shorter.
    private static func hashRange(_ s: some ByteSource, _ h: SHA256Hasher, _ offset: Int64, _ count: Int64, _ what: String) throws {
        guard let end = offset.checkedAdd(count), end <= s.size else {
            throw MetadataProblem(block: what, reason: "data at offset \(offset) (+\(count) bytes) runs past the end of the file")
        }
        var pos = offset
        while pos < end {
            let n = Int(min(Int64(chunk), end - pos))
            let bytes = try s.read(at: pos, count: n)
            guard bytes.count == n else { throw MetadataProblem(block: what, reason: "short read at offset \(pos)") }
            try h.update(bytes)
            pos += Int64(n)
        }
    }

    // MARK: JPEG

    private static func jpeg(_ s: some ByteSource, _ h: SHA256Hasher) throws {
        guard let soi = try s.exact(at: 0, count: 2), soi == [0xFF, 0xD8] else {
            throw MetadataProblem(block: "JPEG", reason: "no SOI marker")
        }
        try h.update(soi)
        var pos: Int64 = 2
        while true {
            guard let m = try s.exact(at: pos, count: 2) else {
                throw MetadataProblem(block: "JPEG", reason: "the file ends at offset \(pos) before EOI")
            }
            guard m[0] == 0xFF else {
                throw MetadataProblem(block: "JPEG", reason: "expected a marker at offset \(pos), found \(hexString(m[0]))")
            }
            let marker = m[1]
            if marker == 0xFF { pos += 1; continue }
            if marker == 0xD9 { try h.update(m); return }
            if marker == 0x01 || (0xD0...0xD7).contains(marker) || marker == 0xD8 { try h.update(m); pos += 2; continue }
            guard let l = try s.exact(at: pos + 2, count: 2), let length = l.u16(at: 0, bigEndian: true), length >= 2 else {
                throw MetadataProblem(block: "JPEG", reason: "marker \(hexString(marker)) at offset \(pos) has an invalid length")
            }
            let isMetadata = (0xE0...0xEF).contains(marker) || marker == 0xFE
            if !isMetadata { try hashRange(s, h, pos, Int64(length) + 2, "JPEG") }
            else if pos + 2 + Int64(length) > s.size {
                throw MetadataProblem(block: "JPEG", reason: "segment at offset \(pos) runs past the end of the file")
            }
            pos += 2 + Int64(length)
            if marker == 0xDA { pos = try entropyCoded(s, h, from: pos) }
        }
    }

    /// Hashes entropy-coded data up to the next marker that is not a stuffed 0xFF00 or a
    /// restart marker; returns the marker's offset (or the end of the file).
    private static func entropyCoded(_ s: some ByteSource, _ h: SHA256Hasher, from start: Int64) throws -> Int64 {
        var pos = start
        while true {
            let bytes = try s.read(at: pos, count: chunk)
            if bytes.isEmpty { return pos }
            // memchr finds each 0xFF (vectorised in libc); the bytes are hashed in place.
            let marker: Int? = bytes.withUnsafeBytes { raw -> Int? in
                let base = raw.baseAddress!
                var i = 0
                while i + 1 < raw.count, let hit = memchr(base + i, 0xFF, raw.count - 1 - i) {
                    let at = UnsafeRawPointer(hit) - base
                    let n = raw[at + 1]
                    if n != 0x00 && n != 0xFF && !(0xD0...0xD7).contains(n) { return at }
                    i = at + 1
                }
                return nil
            }
            if let marker {
                try bytes.withUnsafeBytes { try h.update(UnsafeRawBufferPointer(rebasing: $0[0..<marker])) }
                return pos + Int64(marker)
            }
            // The last byte may be the 0xFF of a marker split across reads: keep it for the
            // next read, unless this was the end of the file.
            let atEnd = pos + Int64(bytes.count) >= s.size
            let consumed = atEnd ? bytes.count : bytes.count - 1
            try bytes.withUnsafeBytes { try h.update(UnsafeRawBufferPointer(rebasing: $0[0..<consumed])) }
            pos += Int64(consumed)
            if atEnd { return pos }
        }
    }

    // MARK: PNG

    private static let pngExcluded: Set<String> = ["tEXt", "zTXt", "iTXt", "eXIf", "tIME"]

    private static func png(_ s: some ByteSource, _ h: SHA256Hasher) throws {
        guard let sig = try s.exact(at: 0, count: 8), sig == PNGReader.signature else {
            throw MetadataProblem(block: "PNG", reason: "no PNG signature")
        }
        try h.update(sig)
        var pos: Int64 = 8
        var chunks = 0
        while true {
            chunks += 1
            guard chunks <= MetadataLimits.maxSegments * 10 else {
                throw MetadataProblem(block: "PNG", reason: "too many chunks")
            }
            guard let head = try s.exact(at: pos, count: 8) else {
                throw MetadataProblem(block: "PNG", reason: "the file ends at offset \(pos) before IEND")
            }
            let length = Int64(head.u32(at: 0, bigEndian: true)!)
            let type = String(decoding: head[4..<8], as: UTF8.self)
            guard length <= Int64(Int32.max), pos + 12 + length <= s.size else {
                throw MetadataProblem(block: "PNG", reason: "chunk at offset \(pos) runs past the end of the file")
            }
            if !pngExcluded.contains(type) {
                try h.update(Array(head[4..<8]))
                try hashRange(s, h, pos + 8, length, "PNG")
            }
            if type == "IEND" { return }
            pos += 12 + length
        }
    }

    // MARK: TIFF

    private static func tiff(_ s: some ByteSource, _ h: SHA256Hasher) throws {
        let p = TIFFParser(source: s, block: "TIFF")
        guard let ifd0Offset = try p.header(), let ifd0 = try p.ifd(at: ifd0Offset, name: "IFD0") else {
            throw p.problems.first ?? MetadataProblem(block: "TIFF", reason: "no IFD0")
        }
        // width, height, bits per sample, compression, photometric, samples per pixel,
        // planar configuration, predictor.
        for tag: UInt16 in [0x0100, 0x0101, 0x0102, 0x0103, 0x0106, 0x0115, 0x011C, 0x013D] {
            var record: [UInt8] = [UInt8(tag >> 8), UInt8(tag & 0xFF)]
            let values = try ifd0[tag].flatMap { try p.integers($0, name: "tag \(hexString(tag))", limit: 64) } ?? []
            record += be32(UInt32(values.count))
            for v in values { record += be32(v) }
            try h.update(record)
        }
        let (offsetsTag, countsTag): (UInt16, UInt16) = ifd0[0x0144] != nil ? (0x0144, 0x0145) : (0x0111, 0x0117)
        guard let oe = ifd0[offsetsTag], let ce = ifd0[countsTag],
              let offsets = try p.integers(oe, name: "strip/tile offsets"), let counts = try p.integers(ce, name: "strip/tile byte counts"),
              offsets.count == counts.count else {
            throw p.problems.first ?? MetadataProblem(block: "TIFF", reason: "IFD0 has no usable strip or tile offsets and byte counts")
        }
        for (o, c) in zip(offsets, counts) {
            try hashRange(s, h, Int64(o), Int64(c), "TIFF")
        }
    }

    private static func be32(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }
}
