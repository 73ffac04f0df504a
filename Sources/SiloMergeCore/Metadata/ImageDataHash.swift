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
        try prefix(source, format: format, bytes: bytes, heifPrimary: nil)
    }

    /// `prefix`, with a HEIF/AVIF file's primary picture ranges as its metadata reader parsed
    /// them (nil: parsed here).
    static func prefix(_ source: some ByteSource, format: MediaFormat, bytes: Int64?,
                       heifPrimary: HEIFItems.PrimaryRanges?) throws
        -> (digest: SHA256Digest, complete: Bool)? {
        let sha = try SHA256Hasher()
        sha.budget = bytes
        let hasher = Counting(sha)
        do {
            guard try walk(source, format: format, hasher, heifPrimary: heifPrimary) else { return nil }
        } catch is SHA256Hasher.BudgetSpent {
            return (try sha.finalize(), false)
        }
        guard hasher.count > 0 else { return nil }
        return (try sha.finalize(), true)
    }

    /// `compute`, and where the image data lies in the file (nil when it is in more than
    /// `Layout.maxPieces` pieces), so another file's image data can be compared with it
    /// (`sameImageData`).
    public static func computeRecording(_ source: some ByteSource, format: MediaFormat) throws
        -> (digest: SHA256Digest, layout: Layout?)? {
        let sha = try SHA256Hasher()
        let hasher = Counting(.record(sha))
        guard try walk(source, format: format, hasher), hasher.count > 0 else { return nil }
        return (try sha.finalize(), hasher.layout)
    }

    /// Whether `source`'s image data (as `compute` defines it) is, byte for byte, the image
    /// data that `layout` locates in `reference` — then both have the same image hash, and
    /// `source`'s need not be computed. Reads the two in step and stops at the first byte that
    /// differs, so pictures that merely share a prefix cost little more than that prefix.
    ///
    /// False for a format without an image hash, for empty image data, and when `reference`
    /// ends early (it changed since `layout` was recorded). Throws what `compute` throws on
    /// `source`, and the errors of reading `reference`.
    public static func sameImageData(_ source: some ByteSource, format: MediaFormat, as reference: some ByteSource,
                                     layout: Layout) throws -> Bool {
        guard layout.total > 0 else { return false }
        let comparer = ImageDataComparer(reference: reference, layout: layout)
        let sink = Counting(.compare(comparer))
        do {
            guard try walk(source, format: format, sink) else { return false }
        } catch is ImageDataComparer.Differs {
            return false
        }
        return comparer.atEnd && Int64(sink.count) == layout.total
    }

    /// Feeds `format`'s image data to `h`; false for a format without an image hash.
    private static func walk(_ source: some ByteSource, format: MediaFormat, _ h: Counting,
                             heifPrimary: HEIFItems.PrimaryRanges? = nil) throws -> Bool {
        switch format {
        case .jpeg: try jpeg(source, h)
        case .png: try png(source, h)
        case .webp: try webp(source, h)
        case .tiff, .dng, .nef, .cr2, .rw2: try tiff(source, h, format: format)
        case .heic, .avif: try heif(source, h, primary: heifPrimary)
        case .mp4, .mov, .cr3: try mediaData(source, h)
        default: return false
        }
        return true
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

    /// Where the image data fed to a `Counting` came from: one range of the file per piece,
    /// consecutive ranges joined (a JPEG's scan data is one piece, a TIFF's contiguous strips
    /// another).
    public struct Layout: Sendable, Hashable {
        public struct Piece: Sendable, Hashable {
            public var offset: Int64
            public var count: Int64
        }
        public internal(set) var pieces: [Piece] = []
        /// Bytes of image data in all (the sum of the pieces).
        public internal(set) var total: Int64 = 0
        /// More pieces than this and the layout is not kept (`computeRecording` gives none):
        /// it bounds the memory of a layout whatever the file holds.
        static let maxPieces = 4096
    }

    /// What a `Counting` does with the image data it is fed.
    enum Mode {
        /// SHA-256 it (the digest; `prefix` and `compute`).
        case hash(SHA256Hasher)
        /// SHA-256 it and note where each byte came from (`computeRecording`).
        case record(SHA256Hasher)
        /// Compare it, byte for byte, with another file's image data (`sameImageData`).
        case compare(ImageDataComparer)
    }

    /// A sink for the image data that counts what it was fed.
    final class Counting {
        let mode: Mode
        private(set) var count = 0
        /// The image data's layout, while recording (nil once it has too many pieces).
        private(set) var layout: Layout? = Layout()
        init(_ hasher: SHA256Hasher) { self.mode = .hash(hasher) }
        init(_ mode: Mode) { self.mode = mode }
        /// How many of the next `n` bytes are worth reading: all of them without a budget,
        /// else what the budget still takes plus one byte (the byte that tells "there is more"
        /// and ends a prefix). A 64 KiB prefix of a 1 MiB HEIF item or a video's media data
        /// then reads 64 KiB, not the whole extent.
        func worthReading(_ n: Int) -> Int {
            guard case .hash(let hasher) = mode, let left = hasher.budget else { return n }
            return Int(min(Int64(n), left + 1))
        }
        /// Feeds `bytes`, which are the file's bytes at `offset` (the layout depends on it).
        func update(_ bytes: [UInt8], at offset: Int64) throws {
            try bytes.withUnsafeBytes { try update($0, at: offset) }
        }
        func update(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
            guard bytes.count > 0 else { return }
            switch mode {
            case .hash(let hasher):
                try hasher.update(bytes)
            case .record(let hasher):
                try hasher.update(bytes)
                if var l = layout {
                    layout = nil   // not copied on write
                    if let last = l.pieces.last, last.offset + last.count == offset {
                        l.pieces[l.pieces.count - 1].count += Int64(bytes.count)
                    } else {
                        l.pieces.append(Layout.Piece(offset: offset, count: Int64(bytes.count)))
                    }
                    l.total += Int64(bytes.count)
                    layout = l.pieces.count <= Layout.maxPieces ? l : nil
                }
            case .compare(let comparer):
                try comparer.compare(bytes)
            }
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
            // Hashed where the source holds the bytes (its cached window, or its reused buffer
            // for a 64 KiB read): no array per chunk.
            try s.withBytes(at: pos, count: n) { bytes in
                guard bytes.count == n else { throw MetadataProblem(block: what, reason: "short read at offset \(pos)") }
                try h.update(bytes, at: pos)
            }
            pos += Int64(n)
        }
    }

    /// A chunk type's four bytes as one number (big-endian), to test without a String.
    static func fourCC(_ s: StaticString) -> UInt32 {
        var v: UInt32 = 0
        for k in 0..<4 { v = v << 8 | UInt32(s.utf8Start[k]) }
        return v
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
        var currentAt: Int64 = 0    // where the byte `current` is in the file
        var tokens = 0
        while true {
            if current == 0xD9 { return }      // EOI
            if current == 0x93 { return }      // a JPEG 2000 codestream's SOD: not ours
            tokens += 1
            let hashing = current.map { $0 == 0x00 || $0 == 0xDA || (0xD0...0xD7).contains($0) } ?? false
            let runStart = reader.position
            // A token that may be hashed is held where it lies in the reader's buffer (copied
            // only if a refill would drop it) until its marker says whether it is. With a stuffed
            // byte or RSTn the "FF" and marker byte in front are the file's two bytes just
            // before the run, so the token is one range of the file, fed in one piece; after
            // SOS its header lies between, and the pair is fed on its own.
            var heldFrom = runStart
            if hashing {
                if currentAt + 1 == runStart, reader.hold(back: 2) { heldFrom = runStart - 2 } else { _ = reader.hold(back: 0) }
            }
            // The bytes up to the next 0xFF.
            guard try reader.skipToFF(limit: hashing ? maxRun : nil) else {
                throw MetadataProblem(block: "JPEG", reason: "the file ends at offset \(reader.position) before EOI")
            }
            // Fill: more 0xFF bytes, then the marker.
            var marker: UInt8 = 0xFF
            var markerAt: Int64 = 0
            while true {
                guard let b = try reader.byte() else {
                    throw MetadataProblem(block: "JPEG", reason: "the file ends at offset \(reader.position) before EOI")
                }
                if b != 0xFF { marker = b; markerAt = reader.position - 1; break }
            }
            if !lengthless(marker) {
                reader.release()
                guard let hi = try reader.byte(), let lo = try reader.byte(), case let length = UInt16(hi) << 8 | UInt16(lo), length >= 2 else {
                    throw MetadataProblem(block: "JPEG", reason: "marker \(hexString(marker)) before offset \(reader.position) has an invalid length")
                }
                guard try reader.skip(Int64(length) - 2) else {
                    throw MetadataProblem(block: "JPEG", reason: "segment \(hexString(marker)) runs past the end of the file")
                }
            } else if hashing, let current {
                // The file's bytes from the 0xFF before `current` on: the marker byte, the run
                // right after it, and the fill bytes (0xFF) right after the run, up to the last
                // 0xFF before the next marker — one range of the file (see `Layout`).
                if heldFrom == runStart {
                    var pair: (UInt8, UInt8) = (0xFF, current)
                    try withUnsafeBytes(of: &pair) { try h.update($0, at: currentAt - 1) }
                }
                try reader.withHeld(upTo: markerAt - 1) { try h.update($0, at: heldFrom) }
                reader.release()
            } else {
                reader.release()
            }
            current = marker
            currentAt = markerAt
        }
    }

    /// Reads a file front to back through a 64 KiB buffer.
    struct SequentialReader<S: ByteSource> {
        let source: S
        private(set) var position: Int64
        /// The bytes read last are `buffer[0..<end]` (the array is reused and may be longer).
        private var buffer: [UInt8] = []
        private var end = 0
        private var index = 0
        private var chunk = 8 * 1024
        /// Where the held bytes start in `buffer` (nil: none held), and those of them a refill
        /// has already taken out of it.
        private var held: Int?
        private var spilled: [UInt8] = []
        private var spillLimit: Int?

        /// The whole file, when the source lends it in memory (`ByteSource.contiguousBytes`):
        /// then it is the buffer, read in place — no copy, and no refill ever — and `index`
        /// is the file offset. Or only the file's first bytes (`contiguousPrefix`, the hashing
        /// pass's first chunk): read in place the same way until they run out, then the
        /// reader goes on through `buffer` (`memoryIsWhole` false).
        private var memory: UnsafeRawBufferPointer?
        private let memoryIsWhole: Bool

        init(source: S, at offset: Int64) {
            self.source = source; self.position = offset
            if let whole = source.contiguousBytes {
                memory = whole
                memoryIsWhole = true
            } else {
                memory = source.contiguousPrefix
                memoryIsWhole = false
            }
            if let memory {
                end = memory.count
                index = Int(min(max(0, offset), Int64(memory.count)))
            }
        }

        /// The bytes the reader reads from: the lent file, or the buffer.
        private func withStorage<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
            if let memory { return try body(memory) }
            return try buffer.withUnsafeBytes(body)
        }

        private mutating func fill() throws -> Bool {
            if index < end { return true }
            if let prefix = memory {
                if memoryIsWhole { return false }   // the whole file was there: it has ended
                // The lent first bytes are used up: on through the buffer, from `position`.
                if let from = held { spilled.append(contentsOf: prefix[from..<end]); held = 0 }
                memory = nil
                end = 0
                index = 0
            }
            if let from = held {
                // Held bytes outlive the buffer: copied out before it is refilled (a token
                // that crosses a refill; most lie within one buffer and are never copied).
                spilled.append(contentsOf: buffer[from..<end])
                held = 0
                if let spillLimit, spilled.count > spillLimit {
                    throw MetadataProblem(block: "JPEG", reason: "more than \(spillLimit) bytes of scan data without a marker")
                }
            }
            // Into the same array every time (no allocation per refill once it has grown; a
            // file is read straight into it).
            end = try source.load(into: &buffer, at: position, count: chunk)
            // 8 KiB first (a prefix needs the segments up to SOS and 4 KiB of scan data),
            // doubling to 64 KiB for a walk through a whole picture.
            chunk = min(chunk * 2, 64 * 1024)
            index = 0
            return end > 0
        }

        mutating func byte() throws -> UInt8? {
            guard try fill() else { return nil }
            defer { index += 1; position += 1 }
            if let memory { return memory[index] }
            return buffer[index]
        }

        /// Skips `n` bytes; false when the file ends first. Nothing is held across a skip.
        mutating func skip(_ n: Int64) throws -> Bool {
            guard n >= 0, let target = position.checkedAdd(n), target <= source.size else { return false }
            let inBuffer = Int64(end - index)
            if n <= inBuffer {
                index += Int(n)
            } else {
                // (Never with the whole file in `memory`: it ends at the file's end.)
                end = 0; index = 0
                if !memoryIsWhole { memory = nil }
            }
            position = target
            return true
        }

        /// Holds the bytes from `back` bytes before the current position on, until `release`:
        /// false (and nothing held) when those earlier bytes are no longer in the buffer.
        mutating func hold(back: Int) -> Bool {
            guard index >= back else { return false }
            held = index - back
            spilled.removeAll(keepingCapacity: true)
            return true
        }

        mutating func release() { held = nil }

        /// The held bytes up to file offset `end` (at most the current position), in one
        /// buffer: in place when no refill came between, else the copied part and the rest.
        func withHeld<R>(upTo end: Int64, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
            let from = held!
            let count = Int(end - position) + index - from   // bytes of the buffer from `from` up to `end`
            if spilled.isEmpty {
                return try withStorage { try body(UnsafeRawBufferPointer(rebasing: $0[from..<(from + count)])) }
            }
            // The end may even lie in the copied part (a refill right after the last fill byte).
            if count < 0 { return try spilled.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<(spilled.count + count)])) } }
            var all = spilled
            all.append(contentsOf: buffer[from..<(from + count)])
            return try all.withUnsafeBytes { try body($0) }
        }

        /// Moves past the next 0xFF (consumed); false at the end of the file. `limit`: when
        /// bytes are held, the most that may be (else the JPEG is refused as broken).
        mutating func skipToFF(limit: Int?) throws -> Bool {
            spillLimit = limit
            while true {
                guard try fill() else { return false }
                // memchr (vectorised in libc): the walk looks at every byte of the scan data.
                // The closure captures copies, not `self`: capturing the reader made the
                // compiler box it once this loop was inlined into the JPEG walk, and every
                // access to the box was then checked at run time (3 calls to the runtime a
                // token, 494,000 on the benchmark's media corpus).
                let from = index, upTo = end
                let found: Int? = withStorage { raw in
                    memchr(raw.baseAddress! + from, 0xFF, upTo - from).map { UnsafeRawPointer($0) - raw.baseAddress! }
                }
                if let ff = found {
                    position += Int64(ff - index + 1)
                    index = ff + 1
                    return true
                }
                position += Int64(end - index)
                index = end
            }
        }
    }

    // MARK: PNG

    /// PNG IDAT, JNG JDAT and JDAA (ExifTool), and APNG fdAT (every frame).
    /// PNG (and JNG, APNG) chunks that hold image data, by type as a big-endian UInt32.
    static let pngImageChunks: Set<UInt32> = [fourCC("IDAT"), fourCC("JDAT"), fourCC("JDAA"), fourCC("fdAT")]
    private static let iend = fourCC("IEND")

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
            // The chunk header read in place: its length and its type as one number.
            guard let (length, type) = try s.withExact(at: pos, count: 8, { head in
                head.map { (Int64(UInt32(bigEndianBytes: $0, at: 0)), UInt32(bigEndianBytes: $0, at: 4)) }
            }) else {
                throw MetadataProblem(block: "PNG", reason: "the file ends at offset \(pos) before IEND")
            }
            guard length <= Int64(Int32.max), pos + 12 + length <= s.size else {
                throw MetadataProblem(block: "PNG", reason: "chunk at offset \(pos) runs past the end of the file")
            }
            if pngImageChunks.contains(type) {
                try hashRange(s, h, pos + 8, length, "PNG")
            }
            if type == iend { return }
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
            // Each page's data is hashed before the next page is read: the ranges come in the
            // order they are hashed, so a prefix (`prefix`'s budget) is complete without
            // reading the directories of the pages after it.
            for (o, c) in walker.ranges {
                guard o <= UInt64(s.size), c <= UInt64(s.size) else {
                    throw MetadataProblem(block: "TIFF", reason: "image data at offset \(o) (+\(c) bytes) runs past the end of the file")
                }
                try hashRange(s, h, Int64(o), Int64(c), "TIFF")
            }
            walker.ranges.removeAll(keepingCapacity: true)
            page += 1
            offset = ifd.next
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
            for e in ifd.entries {
                let tag = e.tag
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
            // ExifTool hashes an IFD's offsets by tag ID as strings: "273" < "324" < "513", the
            // numeric order too, which `own` is already in (a directory's entries are sorted by
            // tag, one per tag).
            for (_, list) in own { ranges += list }
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

/// Compares image data fed to it, in order, with another file's image data as a `Layout`
/// locates it, reading that file in step (a buffer of at most `window` bytes).
final class ImageDataComparer {
    struct Differs: Error {}
    private let reference: any ByteSource
    private let pieces: [ImageDataHash.Layout.Piece]
    private var piece = 0
    /// Bytes of `pieces[piece]` already loaded into `buffer`.
    private var loaded: Int64 = 0
    private var buffer: [UInt8] = []
    private var used = 0
    static let window = 256 * 1024

    init(reference: some ByteSource, layout: ImageDataHash.Layout) {
        self.reference = reference
        self.pieces = layout.pieces
    }

    /// Every piece loaded and compared.
    var atEnd: Bool { piece == pieces.count && used == buffer.count }

    /// Throws `Differs` at the first byte that is not the reference's next byte, or when the
    /// reference's image data is shorter.
    func compare(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            if used == buffer.count { try load() }
            let n = min(bytes.count - done, buffer.count - used)
            let same = buffer.withUnsafeBytes { memcmp($0.baseAddress! + used, bytes.baseAddress! + done, n) == 0 }
            guard same else { throw Differs() }
            used += n
            done += n
        }
    }

    /// The next bytes of the reference's image data into `buffer`.
    private func load() throws {
        guard piece < pieces.count else { throw Differs() }
        let p = pieces[piece]
        let n = Int(min(Int64(Self.window), p.count - loaded))
        // Into the same array every time: a new 256 KiB array per load was a fresh mapping
        // (glibc maps blocks that large), faulted in page by page and unmapped again.
        buffer.removeAll(keepingCapacity: true)
        try reference.withBytes(at: p.offset + loaded, count: n) { buffer.append(contentsOf: $0) }
        // A reference that shrank (or changed) since its layout was recorded: not the same.
        guard buffer.count == n, n > 0 else { throw Differs() }
        used = 0
        loaded += Int64(n)
        if loaded == p.count { piece += 1; loaded = 0 }
    }
}
