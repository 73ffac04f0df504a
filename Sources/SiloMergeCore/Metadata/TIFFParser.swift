/// One IFD entry: where its value is and how to read it. Nothing is read until asked.
///
/// A plain value (no reference-counted storage): a directory of entries is one allocation,
/// and an entry nobody asks for costs nothing more (measured: an array per inline value and a
/// dictionary per directory were a tenth of the metadata cost of a folder of camera files).
struct TIFFEntry {
    var tag: UInt16
    var type: UInt16
    var count: UInt64
    /// The value's bytes when they fit in the entry (4 bytes, 8 in a BigTIFF), in file order
    /// (byte i at bits 8i...); see `inline`.
    var inlineBytes: UInt64 = 0
    /// How many of `inlineBytes` hold the value; -1 when the value is elsewhere.
    var inlineCount: Int8 = -1
    /// Otherwise the value's offset inside the TIFF block.
    var offset: UInt64
    /// count × type size, or nil when that overflows or the type is unknown.
    var byteCount: Int?

    init(tag: UInt16, type: UInt16, count: UInt64, offset: UInt64, byteCount: Int?) {
        self.tag = tag; self.type = type; self.count = count; self.offset = offset; self.byteCount = byteCount
    }

    /// The value bytes when they fit in the entry.
    var inline: [UInt8]? {
        guard inlineCount >= 0 else { return nil }
        return (0..<Int(inlineCount)).map { UInt8(truncatingIfNeeded: inlineBytes >> (8 * UInt64($0))) }
    }
}

/// One image file directory, with the name ExifTool gives it ("IFD0", "ExifIFD", "SubIFD1"...).
struct TIFFIFD {
    var name: String
    var offset: UInt64
    /// Sorted by tag, one entry per tag (the first of duplicate tags).
    var entries: [TIFFEntry]
    /// The next IFD in the chain (0 when none).
    var next: UInt64
    subscript(tag: UInt16) -> TIFFEntry? {
        // Binary search: a directory holds up to 65,535 entries.
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid].tag < tag { lo = mid + 1 } else { hi = mid }
        }
        return lo < entries.count && entries[lo].tag == tag ? entries[lo] : nil
    }
}

/// The TIFF variants told apart by their header, as ExifTool's DoProcessTIFF does.
enum TIFFHeaderKind: Sendable, Equatable {
    /// Classic TIFF (magic 42) and the raw formats built on it (DNG, NEF, ARW, PEF...).
    case classic
    /// BigTIFF (magic 43): 8-byte offsets and counts, 20-byte entries.
    case bigTIFF
    /// Canon CR2: classic TIFF with "CR\x02\0" after the header.
    case cr2
    /// Olympus ORF: magic "RO" or "RS".
    case orf
    /// Panasonic RW2 / RWL / RAW: magic 0x55.
    case panasonic
    /// Phase One IIQ: classic TIFF with "IIII" after the header.
    case iiq
}

/// A bounds-checked reader of TIFF structure (EXIF blocks, TIFF and BigTIFF files, TIFF-based
/// raw files), both byte orders. Reads through a `ByteSource` so that a TIFF file is never
/// loaded whole: the IFDs and the few values asked for are read by offset.
///
/// Offsets inside a TIFF are relative to `base`, and nothing may lie past `base + length`.
/// Guards: IFD offsets visited twice (loops), entry counts that do not fit, count × size
/// overflow, value offsets outside the block.
///
/// Values are read whatever type the file stored them with, converted as ExifTool converts
/// them: every integer type (BYTE, SHORT, LONG, SBYTE, SSHORT, SLONG, IFD, and BigTIFF's LONG8,
/// SLONG8, IFD8), RATIONAL and SRATIONAL (0/0 is no value, n/0 infinite), FLOAT and DOUBLE;
/// text from ASCII, UNDEFINED, BYTE and Exif 3.0's UTF-8 type.
final class TIFFParser {
    let source: any ByteSource
    let base: Int64
    let length: Int64
    let block: String
    private(set) var bigEndian = true
    private(set) var kind: TIFFHeaderKind = .classic
    private(set) var problems: [MetadataProblem] = []
    private var visited: Set<UInt64> = []
    /// IFD entries read so far: IFDs may overlap (a chain of IFDs one byte apart), so loops are
    /// not the only way to make a small file cost a lot; the total is capped.
    private var entriesRead = 0
    static let maxEntries = 500_000

    var isBigTIFF: Bool { kind == .bigTIFF }
    /// Size of an offset, an inline value and the next-IFD pointer.
    private var wordSize: Int { isBigTIFF ? 8 : 4 }
    private var entrySize: Int { isBigTIFF ? 20 : 12 }

    init(source: any ByteSource, base: Int64 = 0, length: Int64? = nil, block: String) {
        self.source = source
        self.base = base
        self.length = max(0, min(length ?? (source.size - base), source.size - base))
        self.block = block
    }

    func problem(_ reason: String) {
        if problems.count < MetadataLimits.maxProblems { problems.append(MetadataProblem(block: block, reason: reason)) }
    }

    /// Reads the header; returns the offset of IFD0.
    func header() throws -> UInt64? {
        guard let h = try source.exact(at: base, count: min(16, Int(min(length, 16)))), h.count >= 8 else {
            problem("the TIFF header is truncated (\(length) bytes)")
            return nil
        }
        if h[0] == 0x49, h[1] == 0x49 { bigEndian = false }
        else if h[0] == 0x4D, h[1] == 0x4D { bigEndian = true }
        else {
            problem("unknown byte order mark \(hexString(h[0]))\(String(h[1], radix: 16))")
            return nil
        }
        let magic = h.u16(at: 2, bigEndian: bigEndian)!
        switch magic {
        case 42:
            kind = .classic
            if h.count >= 12, h.hasBytes(asciiBytes("CR"), at: 8), h[10] == 2 { kind = .cr2 }
            else if h.count >= 12, h.hasBytes(asciiBytes("IIII"), at: 8) { kind = .iiq }
        case 43:
            // BigTIFF: bytesize of offsets (8), a zero word, then the 8-byte IFD0 offset.
            guard h.count >= 16, h.u16(at: 4, bigEndian: bigEndian) == 8, h.u16(at: 6, bigEndian: bigEndian) == 0 else {
                problem("the BigTIFF header is invalid")
                return nil
            }
            kind = .bigTIFF
            return h.u64(at: 8, bigEndian: bigEndian)
        case 0x4F52, 0x5352:
            kind = .orf
        case 0x55:
            kind = .panasonic
        default:
            // In an EXIF block the byte order mark suffices, as for ExifTool ("Invalid magic
            // number in EXIF TIFF header", then read): cameras and editors have written other
            // numbers there. A file is a TIFF only with one of the magic numbers above.
            guard block != "TIFF" else {
                problem("the TIFF magic number is \(magic), not 42")
                return nil
            }
            problem("the TIFF magic number is \(magic), not 42; read as classic TIFF")
            kind = .classic
        }
        return UInt64(h.u32(at: 4, bigEndian: bigEndian)!)
    }

    static func typeSize(_ type: UInt16) -> Int? {
        switch type {
        case 1, 2, 6, 7, 129: return 1
        case 3, 8, 14: return 2
        case 4, 9, 11, 13: return 4
        case 5, 10, 12, 15, 16, 17, 18: return 8
        default: return nil
        }
    }

    /// The IFD at `offset`: its entries keyed by tag (the first of duplicate tags wins) and the
    /// offset of the next IFD.
    func ifd(at offset: UInt64, name: String) throws -> TIFFIFD? {
        guard offset >= 8, offset < UInt64(length) else {
            problem("\(name) offset \(hexString(offset)) points past the end of the \(blockNoun)")
            return nil
        }
        guard visited.insert(offset).inserted else {
            problem("\(name) offset \(hexString(offset)) was already read (IFD loop)")
            return nil
        }
        let countSize = isBigTIFF ? 8 : 2
        let start = Int64(offset)
        // Nothing is read past the block's end, though the source may go on (an EXIF segment
        // read in place in its JPEG): read as the block's bytes alone would read.
        let declared: UInt64? = start + Int64(countSize) > length ? nil : try source.withExact(at: base + start, count: countSize) { b in
            guard let b else { return nil }
            return isBigTIFF ? Self.load64(b, 0, bigEndian) : UInt64(Self.load16(b, 0, bigEndian))
        }
        guard let declared else {
            problem("\(name) at \(hexString(offset)) is truncated")
            return nil
        }
        let room = max(0, (length - start - Int64(countSize)) / Int64(entrySize))
        var count = Int(min(declared, UInt64(Int32.max)))
        if Int64(count) > room {
            // ExifTool rejects such a directory ("Bad IFD0 directory"): its entries cannot be
            // trusted.
            problem("\(name) declares \(declared) entries but only \(room) fit in the \(blockNoun); not read")
            return nil
        }
        if count > 65_535 {
            problem("\(name) declares \(declared) entries; only the first 65535 are read")
            count = 65_535
        }
        var next: UInt64 = 0
        guard entriesRead + count <= Self.maxEntries else {
            problem("more than \(Self.maxEntries) IFD entries in all; \(name) and the IFDs after it are not read")
            return nil
        }
        entriesRead += count
        guard count > 0 else { return TIFFIFD(name: name, offset: offset, entries: [], next: 0) }
        let tableEnd = start + Int64(countSize) + Int64(count * entrySize)
        // The entry table is read where it lies (the hashing buffer, the reader's cache): only
        // the entries kept are copied out.
        var abandoned = false
        let entries: [TIFFEntry]? = try source.withExact(at: base + start + Int64(countSize), count: count * entrySize) { raw in
            guard let raw else { return nil }
            let screened = screen(raw, count, name: name, directory: start..<tableEnd)
            abandoned = screened.abandoned
            return entryTable(raw, screened.limit, only: screened.kept)
        }
        guard let entries else {
            problem("\(name) entries are truncated")
            return nil
        }
        if !abandoned, tableEnd + Int64(wordSize) <= length {
            try source.withExact(at: base + tableEnd, count: wordSize) { n in
                guard let n else { return }
                next = isBigTIFF ? Self.load64(n, 0, bigEndian) : UInt64(Self.load32(n, 0, bigEndian))
            }
        }
        return TIFFIFD(name: name, offset: offset, entries: entries, next: next)
    }

    /// ExifTool's rules for a damaged directory (Exif.pm, ProcessExif), applied to a classic
    /// TIFF directory's entries in file order, so that a damaged IFD yields the values
    /// ExifTool reads from it and no others:
    ///
    /// - an entry of an unknown type is skipped, and when it is the first entry the whole
    ///   directory is taken for garbage and nothing of it is read (Exif 3.0's UTF-8 type, 129,
    ///   is a known type: ExifTool 12.57 calls it a bad format, later versions read it);
    /// - an entry whose value would be larger than 2 GiB is skipped;
    /// - an entry whose value lies outside the block is skipped in a block held whole (an
    ///   EXIF segment); in a TIFF file, where ExifTool reads such a value from the file and
    ///   fails, the directory is given up there: the entries before it are kept, the rest of
    ///   the directory and the IFDs chained after it are not read (a value past the end of
    ///   the file says the table is damaged from there on) — except for a value of more
    ///   than 10 MiB of a tag ExifTool does not know or holds for binary data, which it does
    ///   not try to read (its BINARY_DATA_LIMIT): skipped, and not counted as damage;
    /// - an entry whose value lies in the TIFF header or overlaps the directory itself is
    ///   skipped ("suspicious offset");
    /// - after more than ten such entries the rest of the directory is not read.
    ///
    /// Returns how many entries (in file order) are read, which of them are kept (nil: all of
    /// them, the common case, which allocates nothing), and whether the directory was given up
    /// (so its next-IFD pointer is not followed). BigTIFF directories are taken whole.
    private func screen(_ raw: UnsafeRawBufferPointer, _ count: Int, name: String, directory: Range<Int64>)
        -> (limit: Int, kept: [Int]?, abandoned: Bool) {
        guard !isBigTIFF else { return (count, nil, false) }
        let be = bigEndian, inFile = block == "TIFF"
        var kept: [Int]? = nil
        var damaged = 0
        func skip(_ i: Int, _ tag: UInt16, _ why: String) {
            if kept == nil { kept = Array(0..<i) }
            damaged += 1
            problem("\(name) entry \(i) (\(Self.label(tag))): \(why); skipped")
        }
        for i in 0..<count {
            if damaged > 10 {
                problem("\(name): more than 10 damaged entries; entries \(i) to \(count - 1) are not read")
                return (i, kept, true)
            }
            let p = i * 12
            let tag = Self.load16(raw, p, be), type = Self.load16(raw, p + 2, be)
            guard (1...13).contains(type) || type == 129 else {
                if i == 0 {
                    problem("\(name) entry 0 (\(Self.label(tag))): unknown type \(type); the directory is damaged and not read")
                    return (0, nil, true)
                }
                if type != 0 { skip(i, tag, "unknown type \(type)") }
                else { if kept == nil { kept = Array(0..<i) } }   // zero padding: skipped quietly, as ExifTool does
                continue
            }
            let n = UInt64(Self.load32(raw, p + 4, be))
            let size = n * UInt64(Self.typeSize(type)!)
            if size > 4 {
                guard size <= 0x7FFF_FFFF else {
                    skip(i, tag, "declares a \(size)-byte value")
                    continue
                }
                let offset = UInt64(Self.load32(raw, p + 8, be))
                if offset + size > UInt64(length) {
                    if inFile && size > 10 << 20 && !Self.isReadWhateverItsSize(tag) {
                        // ExifTool does not read a value this large of a tag it does not know or
                        // holds for binary data: no read, so no failure, no warning.
                        if kept == nil { kept = Array(0..<i) }
                        problem("\(name) entry \(i) (\(Self.label(tag))): \(size)-byte value past the end of the file; skipped")
                        continue
                    }
                    if inFile {
                        problem("\(name) entry \(i) (\(Self.label(tag))): value offset \(hexString(offset)) (+\(size) bytes) points past the end of the file; the rest of \(name) is not read")
                        return (i, kept, true)
                    }
                    skip(i, tag, "value offset \(hexString(offset)) (+\(size) bytes) points past the end of the \(blockNoun)")
                    continue
                }
                if offset < 8 || (Int64(offset) < directory.upperBound && Int64(offset + size) > directory.lowerBound) {
                    skip(i, tag, "value offset \(hexString(offset)) lies in the TIFF header or the directory itself")
                    continue
                }
            }
            kept?.append(i)
        }
        return (count, kept, false)
    }

    /// A tag for a note: its name when it is one the readers use, and its number.
    static func label(_ tag: UInt16) -> String {
        let name: String? = switch tag {
        case 0x00FE: "SubfileType"
        case 0x0100: "ImageWidth"
        case 0x0101: "ImageLength"
        case 0x0102: "BitsPerSample"
        case 0x0103: "Compression"
        case 0x010E: "ImageDescription"
        case 0x010F: "Make"
        case 0x0110: "Model"
        case 0x0111: "StripOffsets"
        case 0x0112: "Orientation"
        case 0x0117: "StripByteCounts"
        case 0x0132: "DateTime"
        case 0x013B: "Artist"
        case 0x0144: "TileOffsets"
        case 0x0145: "TileByteCounts"
        case 0x014A: "SubIFDs"
        case 0x02BC: "XMP"
        case 0x8298: "Copyright"
        case 0x83BB: "IPTC"
        case 0x8649: "Photoshop"
        case 0x8769: "ExifIFD pointer"
        case 0x8825: "GPSInfo pointer"
        case 0x9003: "DateTimeOriginal"
        case 0xA002: "ExifImageWidth"
        case 0xA003: "ExifImageHeight"
        default: nil
        }
        return name.map { "\($0), tag \(hexString(tag))" } ?? "tag \(hexString(tag))"
    }

    /// Tags whose value ExifTool reads whatever its size (see `screen`): those of the TIFF 6,
    /// EXIF and DNG standards it knows as text, numbers or blocks it parses (XMP, IPTC,
    /// Photoshop, ICC). Outside: tags it does not know, and those it holds for binary data
    /// (JPEGTables, ImageSourceData, DNG private data...), which it leaves unread above 10 MiB.
    /// An approximation of ExifTool's tag tables by ranges, exact for the tags SiloMerge reads.
    static func isReadWhateverItsSize(_ tag: UInt16) -> Bool {
        switch tag {
        case 0x015B, 0x935C, 0xC634: false   // JPEGTables, ImageSourceData, DNGPrivateData
        case 0x00FE...0x0214, 0x02BC, 0x4746, 0x8298, 0x83BB, 0x8649, 0x8769, 0x8773, 0x8825,
             0x9000...0x9291, 0xA000...0xA439, 0xC612...0xC7B5: true
        default: false
        }
    }

    /// The entries of a directory's raw table, one per tag, in tag order: of its first `count`
    /// entries, or of those at the positions `only` lists (ascending) when given.
    private func entryTable(_ raw: UnsafeRawBufferPointer, _ count: Int, only: [Int]? = nil) -> [TIFFEntry] {
        if let only { return entryTable(raw, only.count) { only[$0] } }
        return entryTable(raw, count) { $0 }
    }

    private func entryTable(_ raw: UnsafeRawBufferPointer, _ count: Int, at position: (Int) -> Int) -> [TIFFEntry] {
        var entries: [TIFFEntry] = []
        entries.reserveCapacity(count)   // one allocation, not a resize every few tags
        let be = bigEndian, size = entrySize
        // Tags in ascending order (the rule, and nearly every file) are taken as they stand.
        // Otherwise (out of order, or repeated) the directory keeps the first of each tag, in
        // tag order, as a lookup by tag always did; that order is found from the tags alone,
        // so only the entries kept are built: a damaged IFD of 65535 entries otherwise cost
        // more than reading the rest of the file.
        var sorted = true
        var previous = -1
        for i in 0..<count {
            let tag = Int(Self.load16(raw, position(i) * size, be))
            if tag <= previous { sorted = false; break }
            previous = tag
        }
        if sorted {
            for i in 0..<count { entries.append(entry(raw, position(i))) }
        } else if count <= 256 {
            // Sort keys of tag, then position (`count` is at most 65535: the low half holds it).
            var keys = [UInt32]()
            keys.reserveCapacity(count)
            for i in 0..<count {
                let at = position(i)
                keys.append(UInt32(Self.load16(raw, at * size, be)) << 16 | UInt32(at))
            }
            keys.sort()
            var lastTag = -1
            for k in keys where Int(k >> 16) != lastTag {
                lastTag = Int(k >> 16)
                entries.append(entry(raw, Int(k & 0xFFFF)))
            }
        } else {
            // Many entries: no sort at all. One pass marks each tag seen and notes where it
            // first occurs; the tags are then visited in order through the marks.
            var seen = [UInt64](repeating: 0, count: 1024)
            var first = [UInt16](unsafeUninitializedCapacity: 65_536) { _, n in n = 65_536 }
            for i in 0..<count {
                let at = position(i)
                let tag = Int(Self.load16(raw, at * size, be))
                let bit: UInt64 = 1 << UInt64(tag & 63)
                if seen[tag >> 6] & bit == 0 {
                    seen[tag >> 6] |= bit
                    first[tag] = UInt16(at)
                }
            }
            for w in 0..<seen.count where seen[w] != 0 {
                var bits = seen[w]
                while bits != 0 {
                    let tag = w << 6 | bits.trailingZeroBitCount
                    entries.append(entry(raw, Int(first[tag])))
                    bits &= bits - 1
                }
            }
        }
        return entries
    }

    @inline(__always) static func load16(_ b: UnsafeRawBufferPointer, _ i: Int, _ bigEndian: Bool) -> UInt16 {
        let v = b.loadUnaligned(fromByteOffset: i, as: UInt16.self)
        return bigEndian ? UInt16(bigEndian: v) : UInt16(littleEndian: v)
    }

    @inline(__always) static func load32(_ b: UnsafeRawBufferPointer, _ i: Int, _ bigEndian: Bool) -> UInt32 {
        let v = b.loadUnaligned(fromByteOffset: i, as: UInt32.self)
        return bigEndian ? UInt32(bigEndian: v) : UInt32(littleEndian: v)
    }

    @inline(__always) static func load64(_ b: UnsafeRawBufferPointer, _ i: Int, _ bigEndian: Bool) -> UInt64 {
        let v = b.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        return bigEndian ? UInt64(bigEndian: v) : UInt64(littleEndian: v)
    }

    /// Entry `i` of a directory's raw entry table.
    private func entry(_ raw: UnsafeRawBufferPointer, _ i: Int) -> TIFFEntry {
        let p = i * entrySize, be = bigEndian
        let tag = Self.load16(raw, p, be), type = Self.load16(raw, p + 2, be)
        let n = isBigTIFF ? Self.load64(raw, p + 4, be) : UInt64(Self.load32(raw, p + 4, be))
        let valueAt = p + (isBigTIFF ? 12 : 8)
        let valueOffset = isBigTIFF ? Self.load64(raw, valueAt, be) : UInt64(Self.load32(raw, valueAt, be))
        var size: Int?
        if let unit = Self.typeSize(type), n <= UInt64(Int32.max) { size = Int(n).checkedMul(unit) }
        var entry = TIFFEntry(tag: tag, type: type, count: n, offset: valueOffset, byteCount: size)
        if let size, size <= wordSize {
            var v: UInt64 = 0
            for k in 0..<size { v |= UInt64(raw[valueAt + k]) << (8 * UInt64(k)) }
            entry.inlineBytes = v
            entry.inlineCount = Int8(size)
        }
        return entry
    }

    private var blockNoun: String { block == "TIFF" ? "file" : "\(block) block" }

    /// The value bytes of an entry (at most `limit`), or nil with a problem when they lie
    /// outside the block.
    func data(_ e: TIFFEntry, name: @autoclosure () -> String, limit: Int = MetadataLimits.maxBlock) throws -> [UInt8]? {
        if let inline = e.inline { return inline }   // (an allocation only for values asked for)
        guard let size = e.byteCount else {
            problem("\(name()): value size overflows or has unknown type \(e.type)")
            return nil
        }
        guard size <= limit else {
            problem("\(name()): \(size)-byte value is larger than the \(limit)-byte limit")
            return nil
        }
        guard e.offset <= UInt64(Int64.max), let end = Int64(e.offset).checkedAdd(size), end <= length else {
            problem("\(name()): value offset \(hexString(e.offset)) (+\(size) bytes) points past the end of the \(blockNoun)")
            return nil
        }
        guard let bytes = try source.exact(at: base + Int64(e.offset), count: size, limit: limit) else {
            problem("\(name()): value is truncated")
            return nil
        }
        return bytes
    }

    /// The types a text is read from: BYTE, ASCII, UNDEFINED and Exif 3.0's UTF-8.
    static func isText(_ type: UInt16) -> Bool { type == 1 || type == 2 || type == 7 || type == 129 }

    static func isNumeric(_ type: UInt16) -> Bool {
        switch type {
        case 1, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 16, 17, 18: return true
        default: return false
        }
    }

    /// Every numeric value of an entry as a Double, whatever its type: NaN for a 0/0 rational
    /// (ExifTool's "undef"), ±infinity for n/0 ("inf"). nil, with a problem, for text types.
    func numbers(_ e: TIFFEntry, name: @autoclosure () -> String, limit: Int = 1 << 20) throws -> [Double]? {
        guard Self.isNumeric(e.type) else {
            problem("\(name()): expected a number, found type \(e.type)")
            return nil
        }
        guard e.count <= UInt64(limit) else {
            problem("\(name()): \(e.count) values, more than the limit of \(limit)")
            return nil
        }
        guard let d = try data(e, name: name()) else { return nil }
        let be = bigEndian
        var out: [Double] = []
        out.reserveCapacity(Int(e.count))
        for i in 0..<Int(e.count) {
            let v: Double?
            switch e.type {
            case 1: v = d.u8(at: i).map { Double($0) }
            case 6: v = d.u8(at: i).map { Double(Int8(bitPattern: $0)) }
            case 3: v = d.u16(at: i * 2, bigEndian: be).map { Double($0) }
            case 8: v = d.u16(at: i * 2, bigEndian: be).map { Double(Int16(bitPattern: $0)) }
            case 4, 13: v = d.u32(at: i * 4, bigEndian: be).map { Double($0) }
            case 9: v = d.u32(at: i * 4, bigEndian: be).map { Double(Int32(bitPattern: $0)) }
            case 11: v = d.u32(at: i * 4, bigEndian: be).map { Double(Float(bitPattern: $0)) }
            case 12: v = d.u64(at: i * 8, bigEndian: be).map { Double(bitPattern: $0) }
            case 16, 18: v = d.u64(at: i * 8, bigEndian: be).map { Double($0) }
            case 17: v = d.u64(at: i * 8, bigEndian: be).map { Double(Int64(bitPattern: $0)) }
            case 5, 10:
                guard let n = d.u32(at: i * 8, bigEndian: be), let q = d.u32(at: i * 8 + 4, bigEndian: be) else { v = nil; break }
                let (num, den) = e.type == 5 ? (Double(n), Double(q)) : (Double(Int32(bitPattern: n)), Double(Int32(bitPattern: q)))
                if den == 0 { v = num == 0 ? .nan : (num > 0 ? .infinity : -.infinity) } else { v = num / den }
            default: v = nil
            }
            guard let v else { break }
            out.append(v)
        }
        return out
    }

    /// Non-negative integral values (offsets, counts, dimensions, pointers) of any numeric type.
    /// A value that is negative, fractional or not finite makes the whole entry unusable.
    func integers(_ e: TIFFEntry, name: @autoclosure () -> String, limit: Int = 1 << 20) throws -> [UInt64]? {
        guard let values = try numbers(e, name: name(), limit: limit) else { return nil }
        var out: [UInt64] = []
        out.reserveCapacity(values.count)
        for v in values {
            guard v.isFinite, v >= 0, v == v.rounded(), v < 18_446_744_073_709_551_616 else {
                problem("\(name()): \(v) is not a whole number")
                return nil
            }
            out.append(UInt64(v))
        }
        return out
    }

    /// The first value of `integers`.
    func integer(_ e: TIFFEntry?, name: @autoclosure () -> String) throws -> UInt64? {
        guard let e else { return nil }
        // One unsigned value of at most 32 bits in the entry (pointers, dimensions, flags: most
        // of what is asked for): read it in place, with no array. Exactly what `integers` gives
        // (a whole number below 2^32 is exact as a Double).
        if e.count == 1, e.inlineCount >= 0 {
            let b = e.inlineBytes, be = bigEndian
            switch e.type {
            case 1 where e.inlineCount >= 1: return b & 0xFF
            case 3 where e.inlineCount >= 2:
                return be ? (b & 0xFF) << 8 | (b >> 8 & 0xFF) : b & 0xFFFF
            case 4 where e.inlineCount >= 4, 13 where e.inlineCount >= 4:
                return be ? UInt64(UInt32(truncatingIfNeeded: b).byteSwapped) : b & 0xFFFF_FFFF
            default: break
            }
        }
        return try integers(e, name: name(), limit: 64)?.first
    }

    /// An ASCII (or UNDEFINED / BYTE / UTF-8) string: cut at the first NUL, UTF-8 when valid
    /// else Windows-1252; control characters removed.
    func string(_ e: TIFFEntry?, name: @autoclosure () -> String) throws -> String? {
        guard let e else { return nil }
        guard Self.isText(e.type) else {
            // A text tag stored as integers (SHORT, LONG, SSHORT, SLONG): their decimal numbers,
            // as ExifTool shows them. Other types are no text.
            if [3, 4, 8, 9].contains(e.type), e.count <= 64, let v = try numbers(e, name: name(), limit: 64) {
                return v.map { String(Int64($0)) }.joined(separator: " ")   // (32 bits at most: exact)
            }
            problem("\(name()): expected text, found type \(e.type)")
            return nil
        }
        guard let d = try data(e, name: name(), limit: 1 << 20) else { return nil }
        return TextDecoding.utf8OrWindows1252(TextDecoding.cutAtNUL(d))
    }
}

/// The directories of one TIFF structure, in the order ExifTool processes them: each IFD of
/// the main chain, then the SubIFDs, ExifIFD and GPS IFD it points to.
struct TIFFDirectories {
    private(set) var ifds: [TIFFIFD] = []
    /// Each directory's place in the search order, worked out once by `walk` (`first` is asked
    /// for dozens of tags a file, and the order compares names).
    private var ranks: [Int?] = []
    /// How many IFDs the main chain holds (pages of a multi-page TIFF; IFD1 of an EXIF block
    /// is its thumbnail).
    var pages = 0

    func named(_ name: String) -> TIFFIFD? { ifds.first { $0.name == name } }

    /// Walks IFD0, its SubIFDs (0x014A), ExifIFD (0x8769) and GPS IFD (0x8825), then the next
    /// IFD in the chain, up to `maxPages` IFDs in the chain.
    static func walk(_ p: TIFFParser, from ifd0Offset: UInt64, maxPages: Int) throws -> TIFFDirectories {
        var out = TIFFDirectories()
        var offset = ifd0Offset
        var page = 0
        while offset != 0 {
            guard page < maxPages else {
                p.problem("more than \(maxPages) IFDs in the chain; the rest are not read")
                break
            }
            guard let ifd = try p.ifd(at: offset, name: "IFD\(page)") else { break }
            out.ifds.append(ifd)
            page += 1
            if let e = ifd[0x014A], let subs = try p.integers(e, name: "\(ifd.name) SubIFDs", limit: 64) {
                for (i, o) in subs.enumerated() {
                    let name = page == 1 ? (i == 0 ? "SubIFD" : "SubIFD\(i)") : "\(ifd.name) SubIFD\(i == 0 ? "" : "\(i)")"
                    if let sub = try p.ifd(at: o, name: name) { out.ifds.append(sub) }
                }
            }
            if let o = try p.integer(ifd[0x8769], name: "ExifIFD pointer"), let exif = try p.ifd(at: o, name: "ExifIFD") {
                out.ifds.append(exif)
            }
            if let o = try p.integer(ifd[0x8825], name: "GPS IFD pointer"), let gps = try p.ifd(at: o, name: "GPS") {
                out.ifds.append(gps)
            }
            offset = ifd.next
        }
        out.pages = page
        out.ranks = out.ifds.map(Self.searchRank)
        return out
    }

    /// The IFDs that hold EXIF main-table tags, searched in order: IFD0, ExifIFD, SubIFDs, then
    /// the later IFDs of the chain (IFD1, the thumbnail of an EXIF block, has the lowest
    /// priority, as in ExifTool).
    /// IFD0, then ExifIFD, then the SubIFDs, then the rest, GPS left out: where a tag is
    /// looked for (`first`). The rank of one directory in that order; nil for GPS.
    private static func searchRank(_ ifd: TIFFIFD) -> Int? {
        switch ifd.name {
        case "GPS": nil
        case "IFD0": 0
        case "ExifIFD": 1
        case let n where n.hasPrefix("SubIFD"): 2
        default: 3
        }
    }

    /// ExifTool's priority directory: the first IFD (in processing order) whose SubfileType is
    /// 0 (the full-resolution image) or whose OldSubfileType is 1.
    func priorityDirectory(_ p: TIFFParser) throws -> TIFFIFD? {
        for ifd in ifds where ifd.name != "ExifIFD" && ifd.name != "GPS" {
            if let t = ifd[0x00FE], let v = try p.integer(t, name: "\(ifd.name) SubfileType"), v == 0 { return ifd }
            if let t = ifd[0x00FF], let v = try p.integer(t, name: "\(ifd.name) OldSubfileType"), v == 1 { return ifd }
        }
        return nil
    }

    /// The first entry of `tag` in the priority directory (for the tags ExifTool gives priority
    /// 0 there), else in the search order.
    func first(_ tag: UInt16, priority: TIFFIFD? = nil) -> (TIFFIFD, TIFFEntry)? {
        if let priority, let e = priority[tag] { return (priority, e) }
        // In search order without building it: the walk asks for dozens of tags per file.
        var best: (rank: Int, index: Int, entry: TIFFEntry)?
        for i in ifds.indices {
            guard let rank = ranks[i], rank < (best?.rank ?? 4), let e = ifds[i][tag] else { continue }
            best = (rank, i, e)
            if rank == 0 { break }
        }
        return best.map { (ifds[$0.index], $0.entry) }
    }
}

/// The camera raw formats built on TIFF, told apart by header, DNGVersion and Make (never by
/// the file's name).
enum TIFFRawKind {
    static func format(_ p: TIFFParser, dirs: TIFFDirectories, make: String?) throws -> MediaFormat? {
        switch p.kind {
        case .cr2: return .cr2
        case .orf: return .orf
        case .panasonic: return .rw2
        case .iiq: return .iiq
        case .bigTIFF: return nil
        case .classic: break
        }
        if dirs.ifds.contains(where: { $0[0xC612] != nil }) { return .dng }
        // A raw sensor image: a CFA or LinearRaw photometric interpretation in any IFD, or
        // Sony's SR2Private pointer.
        var hasRaw = dirs.ifds.contains { $0[0xC634] != nil }
        for ifd in dirs.ifds where !hasRaw {
            if let v = try p.integer(ifd[0x0106], name: "\(ifd.name) PhotometricInterpretation"), v == 32803 || v == 34892 {
                hasRaw = true
            }
        }
        guard hasRaw else { return nil }
        let m = (make ?? "").uppercased()
        if m.hasPrefix("NIKON") { return .nef }
        if m.hasPrefix("SONY") { return .arw }
        if m.hasPrefix("PENTAX") || m.hasPrefix("RICOH") || m.hasPrefix("ASAHI") { return .pef }
        if m.hasPrefix("PHASE ONE") || m.hasPrefix("LEAF") { return .iiq }
        return nil
    }
}

/// EXIF (IFD0, ExifIFD, GPS IFD, SubIFDs, IFD1) to unified values.
enum EXIFReader {
    struct Result {
        var values: [SourcedValue] = []
        var problems: [MetadataProblem] = []
        /// TIFF files only: the main image's size (the full-resolution IFD of a raw file, else
        /// IFD0), the IFD it came from, the raw format when the file is one.
        var imageWidth: Int?, imageHeight: Int?
        var dimensionIFD = "IFD0"
        var rawFormat: MediaFormat?
        var isBigTIFF = false
        var pages = 0
        /// TIFF files only: the XMP packet in tag 700 and IPTC in 33723 / Photoshop IRB in 34377.
        var xmp: [UInt8]?
        var iptc: [UInt8]?
        var photoshop: [UInt8]?
    }

    /// The most IFDs of a TIFF file's main chain (pages) walked for metadata.
    static let maxPages = 4096

    /// Reads an EXIF block (TIFF structure starting at `base`). `tiffFile` also collects the
    /// XMP/IPTC tags TIFF files carry, the main image's size, and names problems after the file.
    static func read(_ source: any ByteSource, base: Int64 = 0, length: Int64? = nil, tiffFile: Bool = false) -> Result {
        let parser = TIFFParser(source: source, base: base, length: length, block: tiffFile ? "TIFF" : "EXIF")
        var result = Result()
        do {
            try readInto(&result, parser: parser, tiffFile: tiffFile)
        } catch {
            parser.problem("read failed: \(error)")
        }
        result.problems = parser.problems
        return result
    }

    private static func readInto(_ r: inout Result, parser p: TIFFParser, tiffFile: Bool) throws {
        guard let ifd0Offset = try p.header() else { return }
        r.isBigTIFF = p.isBigTIFF
        // An EXIF block needs IFD0, ExifIFD, GPS and IFD1; a TIFF file every page.
        let dirs = try TIFFDirectories.walk(p, from: ifd0Offset, maxPages: tiffFile ? maxPages : 2)
        guard dirs.named("IFD0") != nil else { return }
        r.pages = dirs.pages
        let priority = try dirs.priorityDirectory(p)
        func add(_ field: UnifiedField, _ value: FieldValue, _ tag: String, _ raw: String) {
            r.values.append(SourcedValue(field: field, value: value, origin: .exif, tag: "EXIF:" + tag, raw: raw))
        }
        func entry(_ tag: UInt16, usesPriority: Bool = false) -> TIFFEntry? {
            dirs.first(tag, priority: usesPriority ? priority : nil)?.1
        }
        func text(_ field: UnifiedField, _ tag: UInt16, _ name: String, usesPriority: Bool = false) throws {
            guard let s = try p.string(entry(tag, usesPriority: usesPriority), name: name) else { return }
            let t = s.metadataTrimmed
            if !t.isEmpty { add(field, .text(t), name, s) }
        }
        try text(.description, 0x010E, "ImageDescription", usesPriority: true)
        try text(.make, 0x010F, "Make")
        try text(.model, 0x0110, "Model")
        if let e = entry(0x0112, usesPriority: true), let values = try p.numbers(e, name: "Orientation", limit: 16), let o = values.first {
            if o.isFinite, o == o.rounded(), (1...8).contains(o) { add(.orientation, .integer(Int(o)), "Orientation", "\(Int(o))") }
            else { p.problem("Orientation \(o) is outside 1...8") }
        }
        if let artist = try p.string(entry(0x013B), name: "Artist") {
            let items = MWGStringList.split(artist).map(\.metadataTrimmed).filter { !$0.isEmpty }
            if !items.isEmpty { add(.creator, .list(items), "Artist", artist) }
        }
        if let e = entry(0x8298), TIFFParser.isText(e.type), let d = try p.data(e, name: "Copyright", limit: 1 << 20) {
            // "photographer NUL editor NUL": ExifTool joins the two with a newline.
            let parts = d.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false).prefix(2)
                .map { TextDecoding.utf8OrWindows1252($0).metadataTrimmed }.filter { !$0.isEmpty }
            if !parts.isEmpty {
                add(.rights, .text(parts.joined(separator: "\n")), "Copyright",
                    TextDecoding.utf8OrWindows1252(TextDecoding.cutAtNUL(d)))
            }
        }
        // Dimensions: ExifImageWidth/Height, or the TIFF ImageWidth/ImageLength of a TIFF file.
        if tiffFile {
            try mainImageSize(&r, parser: p, dirs: dirs, priority: priority)
        }
        if let ew = try p.integer(entry(0xA002), name: "ExifImageWidth"), ew > 0, ew <= UInt64(Int32.max) {
            add(.width, .integer(Int(ew)), "ExifImageWidth", "\(ew)")
        } else if tiffFile, let w = r.imageWidth {
            add(.width, .integer(w), "ImageWidth", "\(w)")
        }
        if let eh = try p.integer(entry(0xA003), name: "ExifImageHeight"), eh > 0, eh <= UInt64(Int32.max) {
            add(.height, .integer(Int(eh)), "ExifImageHeight", "\(eh)")
        } else if tiffFile, let h = r.imageHeight {
            add(.height, .integer(h), "ImageLength", "\(h)")
        }
        // DateTimeOriginal + SubSecTimeOriginal + OffsetTimeOriginal.
        if let dto = try p.string(entry(0x9003), name: "DateTimeOriginal") {
            let sub = try p.string(entry(0x9291), name: "SubSecTimeOriginal")
            let off = try p.string(entry(0x9011), name: "OffsetTimeOriginal")
            if let iso = DateNormalizer.exif(dto, subSeconds: sub, offset: off) {
                let raw = [dto, sub, off].compactMap { $0 }.joined(separator: " ")
                add(.dateCreated, .date(iso), "DateTimeOriginal", raw)
            } else if !DateNormalizer.isBlankEXIFDate(dto) {
                p.problem("DateTimeOriginal '\(TextDecoding.printable(dto, limit: 40))' is not a date; ignored")
            }
        }
        if let gps = dirs.named("GPS") { try gpsValue(gps, parser: p, add: add) }
        if tiffFile {
            let make = try p.string(entry(0x010F), name: "Make")
            r.rawFormat = try TIFFRawKind.format(p, dirs: dirs, make: make)
            let ifd0 = dirs.named("IFD0")!
            if let e = ifd0[0x02BC] { r.xmp = try p.data(e, name: "XMP (tag 700)") }
            if let e = ifd0[0x83BB] { r.iptc = try p.data(e, name: "IPTC-NAA (tag 33723)") }
            if let e = ifd0[0x8649] { r.photoshop = try p.data(e, name: "Photoshop (tag 34377)") }
        }
    }

    /// The main image's size as ExifTool's Composite:ImageSize gives it: the ImageWidth and
    /// ImageLength of the full-resolution IFD (SubfileType 0) when there is one, else of the
    /// first IFD that has them; ExifImageWidth/Height for CR2 and IIQ; the sensor borders of a
    /// Panasonic RW2.
    private static func mainImageSize(_ r: inout Result, parser p: TIFFParser, dirs: TIFFDirectories, priority: TIFFIFD?) throws {
        func dims(_ wTag: UInt16, _ hTag: UInt16, _ from: TIFFIFD) throws -> (Int, Int)? {
            guard let w = try p.integer(from[wTag], name: "\(from.name) ImageWidth"),
                  let h = try p.integer(from[hTag], name: "\(from.name) ImageLength"),
                  w > 0, h > 0, w <= UInt64(Int32.max), h <= UInt64(Int32.max) else { return nil }
            return (Int(w), Int(h))
        }
        switch p.kind {
        case .cr2, .iiq:
            if let exif = dirs.named("ExifIFD"), let (w, h) = try dims(0xA002, 0xA003, exif) {
                r.imageWidth = w; r.imageHeight = h; r.dimensionIFD = "ExifIFD"
                return
            }
        case .panasonic:
            // PanasonicRaw: SensorTopBorder 4, SensorLeftBorder 5, SensorBottomBorder 6,
            // SensorRightBorder 7.
            let ifd0 = dirs.named("IFD0")!
            if let top = try p.integer(ifd0[0x0004], name: "SensorTopBorder"),
               let left = try p.integer(ifd0[0x0005], name: "SensorLeftBorder"),
               let bottom = try p.integer(ifd0[0x0006], name: "SensorBottomBorder"),
               let right = try p.integer(ifd0[0x0007], name: "SensorRightBorder"),
               right > left, bottom > top, right - left <= UInt64(Int32.max), bottom - top <= UInt64(Int32.max) {
                r.imageWidth = Int(right - left); r.imageHeight = Int(bottom - top); r.dimensionIFD = "PanasonicRaw"
                return
            }
        default:
            break
        }
        if let priority, let (w, h) = try dims(0x0100, 0x0101, priority) {
            r.imageWidth = w; r.imageHeight = h; r.dimensionIFD = priority.name
            return
        }
        for ifd in dirs.ifds where ifd.name != "ExifIFD" && ifd.name != "GPS" {
            if let (w, h) = try dims(0x0100, 0x0101, ifd) {
                r.imageWidth = w; r.imageHeight = h; r.dimensionIFD = ifd.name
                return
            }
        }
    }

    /// GPSLatitude/GPSLongitude with their references, as ExifTool's Composite:GPSLatitude and
    /// GPSLongitude: both references are required; a coordinate holding a 0/0 or n/0 rational
    /// (cameras without a fix write 0/0) is no position.
    private static func gpsValue(_ gps: TIFFIFD, parser p: TIFFParser,
                                 add: (UnifiedField, FieldValue, String, String) -> Void) throws {
        guard let latE = gps[0x0002], let lonE = gps[0x0004] else { return }
        guard let latRef = try p.string(gps[0x0001], name: "GPSLatitudeRef")?.metadataTrimmed.uppercased(),
              let lonRef = try p.string(gps[0x0003], name: "GPSLongitudeRef")?.metadataTrimmed.uppercased() else {
            p.problem("GPS position without GPSLatitudeRef or GPSLongitudeRef (hemisphere unknown); ignored")
            return
        }
        guard let lat = try p.numbers(latE, name: "GPSLatitude", limit: 16),
              let lon = try p.numbers(lonE, name: "GPSLongitude", limit: 16) else { return }
        func degrees(_ parts: [Double], _ name: String) -> Double? {
            guard !parts.isEmpty else { p.problem("\(name) is empty"); return nil }
            let used = Array(parts.prefix(3))
            guard used.allSatisfy(\.isFinite) else {
                // 0/0 is how many cameras say "no fix": no value, and nothing wrong with the file.
                if used.contains(where: \.isInfinite) { p.problem("\(name) has a zero denominator; ignored") }
                return nil
            }
            return used[0] + ((used.count > 1 ? used[1] : 0) + (used.count > 2 ? used[2] : 0) / 60) / 60
        }
        guard var la = degrees(lat, "GPSLatitude"), var lo = degrees(lon, "GPSLongitude") else { return }
        if latRef.hasPrefix("S") { la = -la }
        if lonRef.hasPrefix("W") { lo = -lo }
        guard GPSParser.valid(la, true), GPSParser.valid(lo, false) else {
            p.problem("GPS position \(la), \(lo) is out of range; ignored")
            return
        }
        let raw = { (parts: [Double]) in parts.map { FieldValue.degrees($0) }.joined(separator: " ") }
        add(.gps, .gps(latitude: la, longitude: lo), "GPSLatitude/GPSLongitude",
            "\(raw(lat)) \(latRef), \(raw(lon)) \(lonRef)")
    }
}
