#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A hash of the image data alone, so that copies differing only in embedded metadata match.
///
/// The definition is ExifTool's ImageDataHash (`exiftool -ImageDataHash -api
/// ImageHashType=SHA256`), so the digests are the same numbers ExifTool prints, except where
/// noted:
///
/// - JPEG: from the first SOS marker to EOI, the bytes ExifTool hashes: each scan's SOS marker,
///   header and entropy-coded data (with its stuffed bytes and restart markers), up to the
///   marker that ends the scan. Segments (APPn, COM, DQT, DHT, SOF...) are left out. A
///   progressive JPEG's scans are each hashed the way ExifTool reads them (the run after a
///   scan's last stuffed byte or restart marker is not part of ExifTool's digest, nor ours).
/// - PNG: the data of every IDAT chunk (JNG: JDAT, JDAA), and, unlike ExifTool (which hashes
///   only IDAT, the default image), every APNG frame's fdAT: ancillary chunks (gAMA, sRGB,
///   pHYs, text, time...) never count, so a copy stripped by `exiftool -all=` hashes alike.
/// - TIFF, DNG, NEF, CR2: every IFD's strips or tiles (and JpgFromRaw / OtherImage blocks),
///   every page of a multi-page TIFF, each IFD's SubIFDs before the IFD itself, as ExifTool
///   orders them; reduced-resolution JPEG previews (Compression 7 with a SubfileType other
///   than 0) and a CR2's IFD0 preview are left out. RW2: from RawDataOffset to the end of the
///   file. BigTIFF, which ExifTool does not hash, follows the TIFF rule. ORF, ARW, PEF and IIQ
///   are not hashed (see `supports`).
/// - WebP: the data of the VP8, VP8L, ALPH, ANIM and ANMF chunks (every frame), with their
///   padding byte.
/// - HEIC/HEIF, AVIF: the primary picture's coded data (see `heif`). ExifTool hashes no
///   HEIF image data; this is SiloMerge's own definition.
/// - MP4, MOV, 3GP, CR3: the media data, every top-level `mdat` payload (see `mediaData`), as
///   ExifTool's ImageDataHash does for QuickTime-based files.
///
/// A file whose image data holds nothing gives nil, as ExifTool stores no digest then.
public enum ImageDataHash {
    /// SHA-256 over the image data only; nil for formats without an image hash (and for a
    /// file whose image data is empty).
    ///
    /// Throws a `MetadataProblem` when the structure is broken (a segment, chunk or strip past
    /// the end of the file, a JPEG without EOI), or the source's error on an I/O failure.
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
        let sha = try SHA256Hasher()
        sha.budget = bytes
        let hasher = Counting(sha)
        do {
            switch format {
            case .jpeg: try jpeg(source, hasher)
            case .png: try png(source, hasher)
            case .webp: try webp(source, hasher)
            case .tiff, .dng, .nef, .cr2, .rw2: try tiff(source, hasher, format: format)
            case .heic, .avif: try heif(source, hasher)
            case .mp4, .mov, .cr3: try mediaData(source, hasher)
            default: return nil
            }
        } catch is SHA256Hasher.BudgetSpent {
            return (try sha.finalize(), false)
        }
        guard hasher.count > 0 else { return nil }
        return (try sha.finalize(), true)
    }

    /// The formats `compute` hashes. Raw formats whose image data ExifTool finds through
    /// maker-specific structures not read here (ORF, ARW, PEF, IIQ) get no image hash rather than
    /// one that could cover only a preview.
    public static func supports(_ format: MediaFormat) -> Bool {
        switch format {
        case .jpeg, .png, .webp, .tiff, .dng, .nef, .cr2, .rw2, .heic, .avif, .mp4, .mov, .cr3: true
        default: false
        }
    }

    /// A hasher that counts what it was fed.
    final class Counting {
        let hasher: SHA256Hasher
        private(set) var count = 0
        init(_ hasher: SHA256Hasher) { self.hasher = hasher }
        /// How many of the next `n` bytes are worth reading: all of them without a budget,
        /// else what the budget still takes plus one byte (the byte that tells "there is more"
        /// and ends a prefix). A 64 KiB prefix of a 1 MiB HEIF item or a video's media data
        /// then reads 64 KiB, not the whole extent.
        func worthReading(_ n: Int) -> Int {
            guard let left = hasher.budget else { return n }
            return Int(min(Int64(n), left + 1))
        }
        func update(_ bytes: [UInt8]) throws { try hasher.update(bytes); count += bytes.count }
        func update(_ bytes: ArraySlice<UInt8>) throws {
            try bytes.withUnsafeBytes { try hasher.update($0) }
            count += bytes.count
        }
    }

    private static let chunk = 64 * 1024

    /// Hashes `count` bytes at `offset`, in chunks; throws when the file is shorter.
    private static func hashRange(_ s: some ByteSource, _ h: Counting, _ offset: Int64, _ count: Int64, _ what: String) throws {
        guard offset >= 0, count >= 0, let end = offset.checkedAdd(count), end <= s.size else {
            throw MetadataProblem(block: what, reason: "image data at offset \(offset) (+\(count) bytes) runs past the end of the file")
        }
        var pos = offset
        while pos < end {
            let n = h.worthReading(Int(min(Int64(chunk), end - pos)))
            let bytes = try s.read(at: pos, count: n)
            guard bytes.count == n else { throw MetadataProblem(block: what, reason: "short read at offset \(pos)") }
            try h.update(bytes)
            pos += Int64(n)
        }
    }

    // MARK: JPEG

    /// Markers ExifTool reads without a length word (ExifTool's %markerLenBytes): stuffing,
    /// TEM, RSTn, SOI, EOI, SOS, and the JPEG 2000 codestream markers.
    private static func lengthless(_ m: UInt8) -> Bool {
        m == 0x00 || m == 0x01 || (0xD0...0xDA).contains(m) || (0x30...0x3F).contains(m) || m == 0x4F || m == 0x92 || m == 0x93
    }

    /// The longest run of bytes without 0xFF kept while deciding whether it is hashed.
    private static let maxRun = 64 * 1024 * 1024

    /// ExifTool's JPEG walk (Image::ExifTool::ProcessJPEG), token by token: the bytes up to
    /// the next 0xFF, the fill bytes, then a marker; a marker with a length is followed by its
    /// segment. The run of bytes before a marker without a length is hashed (with "FF" and
    /// the previous marker in front) when the previous marker is SOS, a stuffed 0x00 or RSTn.
    private static func jpeg(_ s: some ByteSource, _ h: Counting) throws {
        guard let soi = try s.exact(at: 0, count: 2), soi == [0xFF, 0xD8] else {
            throw MetadataProblem(block: "JPEG", reason: "no SOI marker")
        }
        var reader = SequentialReader(source: s, at: 2)
        var current: UInt8?
        var tokens = 0
        while true {
            if current == 0xD9 { return }      // EOI
            if current == 0x93 { return }      // a JPEG 2000 codestream's SOD: not ours
            tokens += 1
            let hashing = current.map { $0 == 0x00 || $0 == 0xDA || (0xD0...0xD7).contains($0) } ?? false
            // The bytes up to the next 0xFF (kept only when they may be hashed).
            guard let run = try reader.readUntilFF(keep: hashing, limit: maxRun) else {
                throw MetadataProblem(block: "JPEG", reason: "the file ends at offset \(reader.position) before EOI")
            }
            // Fill: more 0xFF bytes, then the marker.
            var extraFF = 0
            var marker: UInt8 = 0xFF
            while true {
                guard let b = try reader.byte() else {
                    throw MetadataProblem(block: "JPEG", reason: "the file ends at offset \(reader.position) before EOI")
                }
                if b != 0xFF { marker = b; break }
                extraFF += 1
            }
            if !lengthless(marker) {
                guard let l = try reader.bytes(2), let length = l.u16(at: 0, bigEndian: true), length >= 2 else {
                    throw MetadataProblem(block: "JPEG", reason: "marker \(hexString(marker)) before offset \(reader.position) has an invalid length")
                }
                guard try reader.skip(Int64(length) - 2) else {
                    throw MetadataProblem(block: "JPEG", reason: "segment \(hexString(marker)) runs past the end of the file")
                }
            } else if hashing, let current {
                try h.update([0xFF, current])
                try h.update(run)
                if extraFF > 0 { try h.update([UInt8](repeating: 0xFF, count: extraFF)) }
            }
            current = marker
        }
    }

    /// Reads a file front to back through a 64 KiB buffer.
    struct SequentialReader<S: ByteSource> {
        let source: S
        private(set) var position: Int64
        private var buffer: [UInt8] = []
        private var index = 0
        private var run: [UInt8] = []
        private var chunk = 8 * 1024

        init(source: S, at offset: Int64) { self.source = source; self.position = offset }

        private mutating func fill() throws -> Bool {
            if index < buffer.count { return true }
            buffer = try source.read(at: position, count: chunk)
            // 8 KiB first (a prefix needs the segments up to SOS and 4 KiB of scan data),
            // doubling to 64 KiB for a walk through a whole picture.
            chunk = min(chunk * 2, 64 * 1024)
            index = 0
            return !buffer.isEmpty
        }

        mutating func byte() throws -> UInt8? {
            guard try fill() else { return nil }
            defer { index += 1; position += 1 }
            return buffer[index]
        }

        mutating func bytes(_ n: Int) throws -> [UInt8]? {
            var out: [UInt8] = []
            for _ in 0..<n {
                guard let b = try byte() else { return nil }
                out.append(b)
            }
            return out
        }

        /// Skips `n` bytes; false when the file ends first.
        mutating func skip(_ n: Int64) throws -> Bool {
            guard n >= 0, let target = position.checkedAdd(n), target <= source.size else { return false }
            let inBuffer = Int64(buffer.count - index)
            if n <= inBuffer { index += Int(n) } else { buffer = []; index = 0 }
            position = target
            return true
        }

        /// The bytes before the next 0xFF (which is consumed); nil at the end of the file.
        /// The bytes are collected only when `keep` (else an empty array comes back).
        mutating func readUntilFF(keep: Bool, limit: Int) throws -> [UInt8]? {
            // One buffer reused for every run (a 64 KiB prefix of scan data is hundreds of
            // runs between stuffed 0xFF00 bytes): no allocation per run once it has grown.
            run.removeAll(keepingCapacity: true)
            while true {
                guard try fill() else { return nil }
                let slice = buffer[index...]
                // memchr (vectorised in libc): the walk looks at every byte of the scan data.
                let found: Int? = buffer.withUnsafeBytes { raw in
                    memchr(raw.baseAddress! + index, 0xFF, raw.count - index).map { UnsafeRawPointer($0) - raw.baseAddress! }
                }
                if let ff = found {
                    if keep { run += buffer[index..<ff] }
                    position += Int64(ff - index + 1)
                    index = ff + 1
                    return run
                }
                if keep {
                    run += slice
                    guard run.count <= limit else {
                        throw MetadataProblem(block: "JPEG", reason: "more than \(limit) bytes of scan data without a marker")
                    }
                }
                position += Int64(slice.count)
                index = buffer.count
            }
        }
    }

    // MARK: PNG

    /// PNG IDAT, JNG JDAT and JDAA (ExifTool), and APNG fdAT (every frame).
    private static let pngImageChunks: Set<String> = ["IDAT", "JDAT", "JDAA", "fdAT"]

    private static func png(_ s: some ByteSource, _ h: Counting) throws {
        guard let sig = try s.exact(at: 0, count: 8), sig == PNGReader.signature else {
            throw MetadataProblem(block: "PNG", reason: "no PNG signature")
        }
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
            if pngImageChunks.contains(type) {
                try hashRange(s, h, pos + 8, length, "PNG")
            }
            if type == "IEND" { return }
            pos += 12 + length
        }
    }

    // MARK: WebP

    private static let webpImageChunks: Set<String> = ["VP8 ", "VP8L", "ALPH", "ANIM", "ANMF"]

    private static func webp(_ s: some ByteSource, _ h: Counting) throws {
        guard let header = try s.exact(at: 0, count: 12), header.hasBytes(asciiBytes("RIFF")),
              header.hasBytes(asciiBytes("WEBP"), at: 8) else {
            throw MetadataProblem(block: "WebP", reason: "no RIFF WEBP header")
        }
        let riffEnd = min(s.size, 8 + Int64(header.u32(at: 4, bigEndian: false)!))
        var pos: Int64 = 12
        var chunks = 0
        while pos + 8 <= riffEnd {
            chunks += 1
            guard chunks <= MetadataLimits.maxSegments * 10 else { throw MetadataProblem(block: "WebP", reason: "too many chunks") }
            guard let head = try s.exact(at: pos, count: 8) else { break }
            let type = String(decoding: head[0..<4], as: UTF8.self)
            let length = Int64(head.u32(at: 4, bigEndian: false)!)
            let padded = length + (length & 1)
            guard pos + 8 + length <= s.size else {
                throw MetadataProblem(block: "WebP", reason: "chunk at offset \(pos) runs past the end of the file")
            }
            if webpImageChunks.contains(type) {
                // ExifTool hashes the padding byte too (when the file has it).
                try hashRange(s, h, pos + 8, min(padded, s.size - pos - 8), "WebP")
            }
            pos += 8 + padded
        }
    }

    // MARK: TIFF

    /// Every IFD's image data in ExifTool's processing order (each IFD of the main chain after
    /// the SubIFDs it points to), with ExifTool's rules for which offsets are image data.
    private static func tiff(_ s: some ByteSource, _ h: Counting, format: MediaFormat) throws {
        let p = TIFFParser(source: s, block: "TIFF")
        guard let ifd0Offset = try p.header() else {
            throw p.problems.first ?? MetadataProblem(block: "TIFF", reason: "no TIFF header")
        }
        var walker = TIFFHashWalker(parser: p, format: p.kind == .cr2 ? .cr2 : format)
        var offset = ifd0Offset
        var page = 0
        while offset != 0 {
            guard page < EXIFReader.maxPages else { break }
            guard let ifd = try p.ifd(at: offset, name: "IFD\(page)") else {
                if page == 0 { throw p.problems.first ?? MetadataProblem(block: "TIFF", reason: "no IFD0") }
                break
            }
            try walker.process(ifd)
            page += 1
            offset = ifd.next
        }
        for (o, c) in walker.ranges {
            guard o <= UInt64(s.size), c <= UInt64(s.size) else {
                throw MetadataProblem(block: "TIFF", reason: "image data at offset \(o) (+\(c) bytes) runs past the end of the file")
            }
            try hashRange(s, h, Int64(o), Int64(c), "TIFF")
        }
    }

    /// Decides, IFD by IFD, which offsets are image data (Image::ExifTool::Exif, the
    /// `IsImageData` tags and their conditions).
    private struct TIFFHashWalker {
        let parser: TIFFParser
        let format: MediaFormat
        /// ExifTool's $$self{Compression} and $$self{SubfileType}: the last values seen, in
        /// processing order (they carry over to an IFD that lacks the tag).
        var compression: UInt64?
        var subfileType: UInt64?
        var ranges: [(UInt64, UInt64)] = []
        private var visitedSub: Set<UInt64> = []

        init(parser: TIFFParser, format: MediaFormat) { self.parser = parser; self.format = format }

        mutating func process(_ ifd: TIFFIFD) throws {
            var own: [(UInt16, [(UInt64, UInt64)])] = []
            // A Panasonic RW2's IFD0 (ExifTool's PanasonicRaw table): the raw data runs from
            // RawDataOffset to the end of the file; its strip tags are not image data.
            if format == .rw2 && ifd.name == "IFD0" {
                if let o = try parser.integer(ifd[0x0118], name: "RawDataOffset"), o < UInt64(parser.source.size) {
                    ranges.append((o, UInt64(parser.source.size) - o))
                }
                return
            }
            for tag in ifd.entries.keys.sorted() {
                let e = ifd.entries[tag]!
                switch tag {
                case 0x00FE: subfileType = try parser.integer(e, name: "\(ifd.name) SubfileType")
                case 0x0103: compression = try parser.integer(e, name: "\(ifd.name) Compression")
                case 0x0111:
                    if stripsAreImageData(ifd.name) { own.append((tag, try pairs(ifd, tag, 0x0117))) }
                case 0x0144:
                    own.append((tag, try pairs(ifd, tag, 0x0145)))
                case 0x0201:
                    if jpegIsImageData(ifd.name) { own.append((tag, try pairs(ifd, tag, 0x0202))) }
                case 0x014A:
                    guard let subs = try parser.integers(e, name: "\(ifd.name) SubIFDs", limit: 64) else { break }
                    for (i, o) in subs.enumerated() where visitedSub.insert(o).inserted {
                        let name = ifd.name == "IFD0" ? (i == 0 ? "SubIFD" : "SubIFD\(i)") : "\(ifd.name)-SubIFD\(i)"
                        if let sub = try parser.ifd(at: o, name: name) { try process(sub) }
                    }
                default:
                    break
                }
            }
            // ExifTool hashes an IFD's offsets by tag ID (as strings: 273 < 324 < 513).
            for (_, list) in own.sorted(by: { String($0.0) < String($1.0) }) { ranges += list }
        }

        private func stripsAreImageData(_ dir: String) -> Bool {
            if compression == 34892 || compression == 52546 { return true }     // DNG lossy JPEG, JPEG XL
            let cr2IFD0 = format == .cr2 && dir == "IFD0"
            let reducedJPEG = (format == .tiff || format == .dng) && compression == 7 && subfileType != 0
            if !cr2IFD0 && !reducedJPEG { return true }
            if format == .cr2 { return false }
            return dir == "SubIFD2"                                           // JpgFromRaw
        }

        private func jpegIsImageData(_ dir: String) -> Bool {
            if dir == "IFD1" { return false }                                 // thumbnail
            if dir == "IFD0" && (format == .arw) { return false }             // preview
            return true                                                       // JpgFromRaw, OtherImage
        }

        private func pairs(_ ifd: TIFFIFD, _ offsetsTag: UInt16, _ countsTag: UInt16) throws -> [(UInt64, UInt64)] {
            guard let oe = ifd[offsetsTag], let ce = ifd[countsTag],
                  let offsets = try parser.integers(oe, name: "\(ifd.name) image data offsets"),
                  let counts = try parser.integers(ce, name: "\(ifd.name) image data byte counts") else { return [] }
            return zip(offsets, counts).filter { $0.1 > 0 }.map { ($0.0, $0.1) }
        }
    }
}
