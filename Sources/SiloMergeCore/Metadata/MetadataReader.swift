/// Reads embedded metadata from any supported file, through a `ByteSource`.
///
///     let source = FileByteSource(fd: fd, size: stat.size)   // the caller keeps and closes fd
///     let metadata = MetadataReader.read(source)             // a few small reads for an image
///     let fields = MetadataReader.reconcileInFile(metadata)  // one value per field (MWG)
///
/// `read` may run on many threads at once, each with its own source: it keeps no shared
/// mutable state. It never throws or traps on a broken file; I/O errors and malformed blocks
/// come back as `problems`, with whatever could still be read.
public enum MetadataReader {
    /// What the readers know how to read, as a number stored with each file's metadata
    /// (`file.metadata_read`): a rescan reads the metadata of a file again, even unchanged,
    /// when it was read by an older version, so formats and fields added since reach the
    /// catalogue without a full rehash. 1: the first readers; 2: TIFF-based raw, BigTIFF,
    /// PSD, EPS, BMP, ICO, ImageMagick PNG profiles, ExifTool's image data hash.
    /// 3: HEIC/AVIF, QuickTime/MP4/3GP, CR3, JPEG 2000/XL, Office/ODF, PDF XMP streams, audio;
    /// image hashes of HEIF and video; the image-data prefix (`file.image_prefix`).
    /// 4: the prefix covers 4 KiB of image data, not 64 KiB (prefixes of the two sizes never
    /// match, so every picture's prefix is taken again).
    /// 5: PCX and Netpbm dimensions; damaged TIFF directories read as ExifTool reads them
    /// (`TIFFParser.screen`).
    public static let version = 5

    /// Sniffs the format from magic bytes (never the extension) and reads every embedded block.
    /// Never throws and never traps: whatever cannot be read becomes a `MetadataProblem`.
    public static func read(_ source: some ByteSource) -> EmbeddedMetadata {
        read(source, options: MetadataReadOptions())
    }

    /// `read`, with options. Each format is read from its structure (headers, segments, boxes,
    /// chunks, a zip's directory), touching only the blocks that hold metadata; a file of a
    /// format SiloMerge does not know is not read at all unless `options.scanForXMP`.
    public static func read(_ source: some ByteSource, options: MetadataReadOptions) -> EmbeddedMetadata {
        read(source, options: options, head: nil)
    }

    /// `read`, given the file's first 64 bytes when the caller has them already (they are
    /// what the sniff reads).
    static func read(_ source: some ByteSource, options: MetadataReadOptions, head: [UInt8]?) -> EmbeddedMetadata {
        readKeepingStructure(source, options: options, head: head).metadata
    }

    /// `read`, and what the image hash can take from the structure it parsed (see
    /// `MetadataCollector.heifPrimary`).
    static func readKeepingStructure(_ source: some ByteSource, options: MetadataReadOptions, head: [UInt8]?)
        -> (metadata: EmbeddedMetadata, heifPrimary: HEIFItems.PrimaryRanges?) {
        let c = MetadataCollector(source: source)
        do {
            c.format = try head.map { FormatSniffer.sniff(head: $0, source: source) } ?? FormatSniffer.sniff(source)
            switch c.format {
            case .jpeg: try JPEGReader.read(c)
            case .png: try PNGReader.read(c)
            case .tiff, .dng, .nef, .cr2, .arw, .orf, .rw2, .pef, .iiq: try readTIFF(c)
            case .gif: try GIFReader.read(c)
            case .webp: try WebPReader.read(c)
            case .mp4, .mov, .heic, .avif, .cr3: try BMFFReader.read(c)
            case .jp2, .jxl: try JP2Reader.read(c)
            case .docx, .xlsx, .pptx, .odt, .ods, .odp, .zip: try ZipReader.read(c)
            case .mp3, .ogg, .flac, .wav, .avi: try AudioReaders.read(c)
            case .pdf: try PDFReader.read(c)
            case .svg: try SVGReader.read(c)
            case .xmp: try readStandaloneXMP(c)
            case .psd: try PSDReader.read(c)
            case .eps: try EPSReader.read(c)
            case .bmp: try BMPReader.read(c)
            case .ico: try ICOReader.read(c)
            case .pcx: try PCXReader.read(c)
            case .pnm: try NetpbmReader.read(c)
            case .other: break
            }
            // ExifTool's -scanForXMP: every file whose structure gave no XMP is searched for a
            // packet (bounded to the first and last `MetadataLimits.scanWindow` bytes).
            if options.scanForXMP, !c.foundXMP { try scanForXMP(c) }
        } catch {
            c.problem("I/O", "read failed: \(error)")
        }
        return (c.finish(), c.heifPrimary)
    }

    /// Reads an XMP sidecar file's bytes (origin `.sidecar`).
    public static func readSidecar(_ bytes: [UInt8]) -> (values: [SourcedValue], problems: [MetadataProblem]) {
        let r = XMPParser.parse(bytes, origin: .sidecar, block: "XMP sidecar")
        return (r.values, r.problems)
    }

    /// Metadata Working Group reconciliation inside one file: one value per field, with the
    /// origin it came from. See `InFileReconciler` for the exact rules.
    public static func reconcileInFile(_ metadata: EmbeddedMetadata) -> [UnifiedField: SourcedValue] {
        InFileReconciler.reconcile(metadata)
    }

    // MARK: - Formats without a reader of their own

    /// TIFF, BigTIFF and the TIFF-based raw formats: the format is refined from the header,
    /// DNGVersion and Make once IFD0 is read.
    static func readTIFF(_ c: MetadataCollector) throws {
        let r = EXIFReader.read(c.source, tiffFile: true)
        if let raw = r.rawFormat { c.format = raw }
        c.values += r.values
        c.addProblems(r.problems)
        c.setDimensions(r.imageWidth, r.imageHeight, tag: r.dimensionIFD)
        if let xmp = r.xmp { c.addXMP(xmp, block: "XMP") }
        if let ps = r.photoshop {
            c.addPhotoshop(ps)
        } else if let iim = r.iptc {
            var problems: [MetadataProblem] = []
            c.values += IPTCReader.values(iim, problems: &problems)
            c.addProblems(problems)
        }
    }

    static func readStandaloneXMP(_ c: MetadataCollector) throws {
        guard c.source.size <= Int64(MetadataLimits.maxBlock) else {
            c.problem("XMP", "the XMP file is \(c.source.size) bytes, more than the \(MetadataLimits.maxBlock)-byte limit")
            return
        }
        let bytes = try c.source.read(at: 0, count: Int(c.source.size))
        c.addXMP(bytes, block: "XMP", origin: .sidecar)
    }

    /// The fallback for formats without a container walk: the last `<?xpacket begin … end`
    /// packet in the first and last `MetadataLimits.scanWindow` bytes.
    static func scanForXMP(_ c: MetadataCollector) throws {
        if let packet = try XPacketScanner.lastPacket(in: c.source) {
            c.addXMP(packet, block: "XMP")
        }
    }
}

/// How `MetadataReader.read` reads a file.
public struct MetadataReadOptions: Sendable, Hashable {
    /// Also search files for an XMP packet (`<?xpacket begin`) when their structure gave none,
    /// as ExifTool's -scanForXMP does: the only way to find XMP in a format SiloMerge does not
    /// parse, at the cost of reading up to 2 MiB of every such file. Off by default.
    public var scanForXMP = false
    public init(scanForXMP: Bool = false) { self.scanForXMP = scanForXMP }
}

/// Collects what the format readers find. One per `read`; not shared across threads.
///
/// Every file, whatever its format, is held to the same per-file caps (`MetadataLimits`):
/// compressed blocks inflate to at most `maxInflatedPerFile` bytes in all, at most
/// `maxXMPPackets` XMP packets are parsed, and `finish` keeps at most `maxValuesPerField`
/// values per field, `maxListItems` items per list, values of at most `maxValueBytes` and
/// `maxStoredBytesPerFile` bytes in all. Reaching a cap is a note on the file, never a stall.
final class MetadataCollector {
    let source: any ByteSource
    var format: MediaFormat = .other
    var width: Int?, height: Int?
    var dimensionTag = "File"
    var values: [SourcedValue] = []
    var problems: [MetadataProblem] = []
    var iptcDigest: IPTCDigestState = .absent
    var foundXMP = false
    /// The primary picture's data ranges of a HEIF/AVIF file's first top-level `meta` box, as
    /// its metadata reader parsed them, for the image hash (`ImageDataHash.prefix(_:format:bytes:heifPrimary:)`),
    /// which would otherwise parse the same items again.
    var heifPrimary: HEIFItems.PrimaryRanges?
    /// Bytes inflated so far for this file (PNG text, PDF streams, ...).
    private(set) var inflatedBytes = 0
    private var xmpPackets = 0
    private var reportedCaps: Set<String> = []

    init(source: any ByteSource) { self.source = source }

    /// False once `field` already has as many values as the file may keep: a reader can skip
    /// decoding more (`finish` would drop them), with a note.
    func wants(_ field: UnifiedField, block: String) -> Bool {
        var n = 0
        for v in values where v.field == field { n += 1 }
        guard n >= MetadataLimits.maxValuesPerField else { return true }
        noteOnce("metadata", "field \(field.rawValue)", "more than \(MetadataLimits.maxValuesPerField) values for \(field.rawValue) in one file; the rest are ignored")
        return false
    }

    /// A note given once per file for each block and key (a cap reached, a repair made).
    func noteOnce(_ block: String, _ key: String, _ reason: String) {
        guard reportedCaps.insert(block + "\u{1F}" + key).inserted else { return }
        problem(block, reason)
    }

    /// zlib-inflates a block within what is left of the file's inflate budget.
    func inflate(_ bytes: ArraySlice<UInt8>, block: String, what: String) -> [UInt8]? {
        let left = MetadataLimits.maxInflatedPerFile - inflatedBytes
        guard left > 0 else {
            noteOnce(block, "inflate", "\(what) and later compressed blocks not read: the file already inflated to \(MetadataLimits.maxInflatedPerFile) bytes, the per-file limit")
            return nil
        }
        switch Inflate.zlib(bytes, limit: min(MetadataLimits.maxBlock, left)) {
        case .success(let out):
            inflatedBytes += out.count
            return out
        case .failure(.tooLarge(let limit)):
            inflatedBytes += limit
            if limit < MetadataLimits.maxBlock {
                noteOnce(block, "inflate", "\(what) and later compressed blocks not read: the file inflates to more than \(MetadataLimits.maxInflatedPerFile) bytes, the per-file limit")
            } else {
                problem(block, "\(what) inflates to more than \(limit) bytes; refused")
            }
        case .failure(.corrupt(let why)):
            problem(block, "\(what) cannot be decompressed: \(why)")
        }
        return nil
    }

    func problem(_ block: String, _ reason: String) {
        if problems.count < MetadataLimits.maxProblems { problems.append(MetadataProblem(block: block, reason: reason)) }
    }

    func addProblems(_ list: [MetadataProblem]) {
        for p in list { problem(p.block, p.reason) }
    }

    func setDimensions(_ w: Int?, _ h: Int?, tag: String) {
        guard width == nil, height == nil, let w, let h, w > 0, h > 0 else { return }
        width = w; height = h; dimensionTag = tag
    }

    /// Parses an XMP packet and keeps its values. Returns the extended-XMP GUID it names.
    @discardableResult
    func addXMP<C: Collection>(_ bytes: C, block: String, origin: MetadataOrigin = .xmp) -> String? where C.Element == UInt8 {
        foundXMP = true
        xmpPackets += 1
        guard xmpPackets <= MetadataLimits.maxXMPPackets else {
            noteOnce(block, "packets", "more than \(MetadataLimits.maxXMPPackets) XMP packets; the rest are not read")
            return nil
        }
        let r = XMPParser.parse(bytes, origin: origin, block: block)
        values += r.values
        addProblems(r.problems)
        return r.extendedGUID
    }

    /// A Photoshop image resource block: IPTC records and the IPTC digest, and the EXIF and
    /// XMP resources PSD files keep there.
    func addPhotoshop(_ bytes: [UInt8]) {
        var problems: [MetadataProblem] = []
        let res = IPTCReader.resources(bytes, problems: &problems)
        if let iim = res.iim {
            values += IPTCReader.values(iim, problems: &problems)
        }
        iptcDigest = IPTCReader.digestState(res)
        addProblems(problems)
        if let exif = res.exif { addEXIF(exif.hasBytes(JPEGReader.exifHeader) ? Array(exif[6...]) : exif) }
        if let xmp = res.xmp, !foundXMP { addXMP(xmp, block: "XMP") }
    }

    func addEXIF(_ bytes: [UInt8]) {
        let r = EXIFReader.read(DataByteSource(bytes))
        values += r.values
        addProblems(r.problems)
    }

    /// An EXIF block read where it lies in `source` (`count` bytes at `offset`), as
    /// `addEXIF(_:)` reads a copy of those bytes.
    func addEXIF(in source: any ByteSource, at offset: Int64, count: Int) {
        let r = EXIFReader.read(source, base: offset, length: Int64(count))
        values += r.values
        addProblems(r.problems)
    }

    /// The values as stored: control characters removed, invalid dates turned into notes, and
    /// the per-file caps applied. Checked where they lie in `vs` (taken out of `values`, so
    /// uniquely held) and kept ones moved forward over the dropped: no value is copied (a copy
    /// retains each of its strings, and releases them again when dropped).
    private func checkedValues(_ vs: inout [SourcedValue]) {
        var perField = [Int](repeating: 0, count: UnifiedField.allCases.count)
        var stored = 0
        var kept = 0
        for i in vs.indices {
            let tag = vs[i].tag
            // Only a problem needs it: worked out then, not for every value.
            var block: String { tag.split(separator: ":").first.map(String.init) ?? "metadata" }
            vs[i].raw = TextDecoding.withoutControlCharacters(vs[i].raw)
            switch vs[i].value {
            case .text(let s):
                let t = TextDecoding.withoutControlCharacters(s).metadataTrimmed
                guard !t.isEmpty else { continue }
                if vs[i].field.kind == .date {
                    problem(block, "\(tag) '\(TextDecoding.printable(s, limit: 40))' is not a date; ignored")
                    continue
                }
                vs[i].value = .text(t)
            case .list(let items):
                var cleaned = items.map { TextDecoding.withoutControlCharacters($0).metadataTrimmed }.filter { !$0.isEmpty }
                guard !cleaned.isEmpty else { continue }
                if cleaned.count > MetadataLimits.maxListItems {
                    noteOnce(block, "items \(tag)", "\(tag) holds \(cleaned.count) items; only the first \(MetadataLimits.maxListItems) are kept")
                    cleaned.removeLast(cleaned.count - MetadataLimits.maxListItems)
                }
                vs[i].value = .list(cleaned)
            case .date(let d):
                guard DateNormalizer.isValidISO(d) else {
                    problem(block, "\(tag) '\(TextDecoding.printable(d, limit: 40))' is not a date; ignored")
                    continue
                }
            default:
                break
            }
            let jsonBytes = vs[i].value.jsonLength   // counted, not encoded: the costly part
            let rawBytes = vs[i].raw.utf8.count
            let valueBytes = max(jsonBytes, rawBytes)
            guard valueBytes <= MetadataLimits.maxValueBytes else {
                problem(block, "\(tag): a \(valueBytes)-byte value is larger than the \(MetadataLimits.maxValueBytes)-byte limit; ignored")
                continue
            }
            let size = jsonBytes + rawBytes
            let field = vs[i].field
            let n = perField[field.index]
            guard n < MetadataLimits.maxValuesPerField else {
                noteOnce("metadata", "field \(field.rawValue)", "more than \(MetadataLimits.maxValuesPerField) values for \(field.rawValue) in one file; the rest are ignored")
                continue
            }
            guard stored + size <= MetadataLimits.maxStoredBytesPerFile else {
                noteOnce("metadata", "stored", "the file's metadata values exceed \(MetadataLimits.maxStoredBytesPerFile) bytes; the rest are ignored")
                continue
            }
            perField[field.index] = n + 1
            stored += size
            if kept != i { vs.swapAt(kept, i) }
            kept += 1
        }
        vs.removeSubrange(kept...)
    }

    func finish() -> EmbeddedMetadata {
        var all = values
        values = []
        checkedValues(&all)
        // The header facts: the catalogue keeps them in the file's columns and gives them back
        // with these very tags (`HeaderFacts`). Put in front of the file's own values.
        var header: [SourcedValue] = [SourcedValue(field: .format, value: .text(format.rawValue), origin: .header,
                                                   tag: HeaderFacts.formatTag, raw: format.rawValue)]
        if let width, let height {
            header.append(SourcedValue(field: .width, value: .integer(width), origin: .header,
                                       tag: HeaderFacts.widthTag(dimensionTag), raw: String(width)))
            header.append(SourcedValue(field: .height, value: .integer(height), origin: .header,
                                       tag: HeaderFacts.heightTag(dimensionTag), raw: String(height)))
        }
        all.insert(contentsOf: header, at: 0)
        return EmbeddedMetadata(format: format, width: width, height: height, values: all,
                                iptcDigest: iptcDigest, problems: problems)
    }
}

/// Format detection from the first bytes of a file.
enum FormatSniffer {
    static func sniff(_ source: any ByteSource) throws -> MediaFormat {
        let head = try source.read(at: 0, count: 64)
        return sniff(head: head, source: source)
    }

    /// Atoms that start a QuickTime file older than `ftyp`.
    private static let quickTimeAtoms: [[UInt8]] = ["moov", "mdat", "wide", "free", "skip", "pnot"].map { Array($0.utf8) }

    static func sniff(head h: [UInt8], source: (any ByteSource)? = nil) -> MediaFormat {
        // Most of a department's files are of no format read here (the benchmark corpus: random
        // bytes): one look at the first byte and at the box type at 4 settles them, instead of
        // every test below (about 3,000 instructions a file).
        if !mayBeKnown(h) { return .other }
        return sniffWithoutGate(head: h, source: source)
    }

    /// Every test, in order (`sniff` without its first look at the first byte).
    static func sniffWithoutGate(head h: [UInt8], source: (any ByteSource)?) -> MediaFormat {
        if h.hasBytes([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if h.hasBytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if h.hasBytes("GIF87a") || h.hasBytes("GIF89a") { return .gif }
        if isTIFF(h) { return .tiff }
        if h.hasBytes("8BPS"), let v = h.u16(at: 4, bigEndian: true), v == 1 || v == 2 { return .psd }
        if h.hasBytes("%!PS") || h.hasBytes([0xC5, 0xD0, 0xD3, 0xC6]) { return .eps }
        if BMPReader.looksLikeBMP(h) { return .bmp }
        if ICOReader.looksLikeICO(h) { return .ico }
        if h.hasBytes("RIFF"), h.hasBytes("WEBP", at: 8) { return .webp }
        if h.hasBytes("ftyp", at: 4) { return bmffBrand(h) }
        // QuickTime files older than ftyp (before 2001) start with one of these atoms.
        if h.count >= 8, Self.quickTimeAtoms.contains(where: { h.hasBytes($0, at: 4) }),
           let size = h.u32(at: 0, bigEndian: true), size == 1 || size >= 8 {
            return .mov
        }
        if h.hasBytes("%PDF-") { return .pdf }
        if PCXReader.looksLikePCX(h, source: source) { return .pcx }
        if NetpbmReader.looksLikeNetpbm(h, source: source) { return .pnm }
        if let f = AudioReaders.sniff(h, source: source) ?? JP2Reader.sniff(h) ?? ZipReader.sniff(h) { return f }
        return xmlFormat(h, source: source) ?? .other
    }

    /// False only when no test in `sniff(head:source:)` can match: the first byte starts none
    /// of the magic numbers (nor a BOM, white space or `<` before XML), and bytes 4–7 are not
    /// `ftyp` or one of the old QuickTime atoms. (`FormatSnifferGateTests` checks it against
    /// the full sniff.)
    static func mayBeKnown(_ h: [UInt8]) -> Bool {
        guard let first = h.first else { return true }
        if firstBytes[Int(first)] { return true }
        guard h.count >= 8 else { return false }
        return h.hasBytes("ftyp", at: 4) || quickTimeAtoms.contains { h.hasBytes($0, at: 4) }
    }

    /// The first bytes a format sniffed here may start with: JPEG, JPEG 2000 and JPEG XL
    /// codestreams, MPEG audio frames (0xFF); PNG (0x89); GIF (G); TIFF, BigTIFF, ORF, RW2 and
    /// ID3 (I, M); PSD (8); EPS and PDF (%, and 0xC5 for DOS EPS); BMP (B); ICO, and the JPEG 2000
    /// and JPEG XL signature boxes (0x00); WebP, WAV, AVI (R); Ogg (O); FLAC (f); zip and Netpbm
    /// (P); PCX (0x0A, also white space); XML: a BOM (0xEF), white space or `<`.
    private static let firstBytes: [Bool] = {
        var table = [Bool](repeating: false, count: 256)
        for b: UInt8 in [0xFF, 0x89, 0xC5, 0x00, 0xEF, 0x20, 0x09, 0x0A, 0x0D] { table[Int(b)] = true }
        for c in "GIM8%BROfP<".utf8 { table[Int(c)] = true }
        return table
    }()

    /// An XML document by its first element: `svg` (an SVG image, whatever XMP it holds), or an
    /// XMP packet (`<?xpacket begin`, `x:xmpmeta`, `x:xapmeta`, `rdf:RDF`).
    static func xmlFormat(_ h: [UInt8], source: (any ByteSource)?) -> MediaFormat? {
        guard looksLikeXMP(h, source: source) || looksLikeSVG(h) else { return nil }
        let head = (try? source?.read(at: 0, count: 64 << 10)) ?? h
        guard let root = XMLHead.root(head) else {
            // An XMP packet cut short (or whose prolog does not end in the first 64 KiB).
            return looksLikeXMP(h, source: nil) ? .xmp : nil
        }
        switch root.local {
        case "svg": return .svg
        case "xmpmeta", "xapmeta", "RDF": return .xmp
        default: return nil
        }
    }

    /// Text that may be an SVG: `<svg`, or an XML declaration, comment or DOCTYPE first.
    static func looksLikeSVG(_ h: [UInt8]) -> Bool {
        var i = h.hasBytes([0xEF, 0xBB, 0xBF]) ? 3 : 0
        while i < h.count, h[i] == 0x20 || h[i] == 0x09 || h[i] == 0x0A || h[i] == 0x0D { i += 1 }
        // (Literals compared in place: this runs for every file of no known format.)
        guard i < h.count, h[i] == UInt8(ascii: "<") else { return false }
        return h.hasBytes("<svg", at: i) || h.hasBytes("<?xml", at: i) || h.hasBytes("<!--", at: i) || h.hasBytes("<!DOCTYPE svg", at: i)
    }

    /// Classic TIFF, BigTIFF, and the raw variants with their own magic numbers (Olympus ORF
    /// "IIRO"/"IIRS"/"MMOR", Panasonic RW2 "IIU").
    static func isTIFF(_ h: [UInt8]) -> Bool {
        tiffMagic.contains { h.hasBytes($0) }
    }
    private static let tiffMagic: [[UInt8]] = [
        [0x49, 0x49, 0x2A, 0x00], [0x49, 0x49, 0x2B, 0x00], asciiBytes("IIRO"), asciiBytes("IIRS"), [0x49, 0x49, 0x55, 0x00],
        [0x4D, 0x4D, 0x00, 0x2A], [0x4D, 0x4D, 0x00, 0x2B], asciiBytes("MMOR"),
    ]

    /// ISO BMFF: from the major and compatible brands. A specific brand (CR3, QuickTime, AVIF,
    /// HEIC) wins over the generic ones (mif1, isom...), whichever list it is in.
    static func bmffBrand(_ h: [UInt8]) -> MediaFormat {
        var brands: [String] = []
        if h.count >= 12 { brands.append(String(decoding: h[8..<12], as: UTF8.self)) }
        let size = Int(h.u32(at: 0, bigEndian: true) ?? 0)
        var i = 16
        while i + 4 <= min(size, h.count), brands.count < 64 {
            brands.append(String(decoding: h[i..<(i + 4)], as: UTF8.self))
            i += 4
        }
        let set = Set(brands)
        if set.contains("crx ") { return .cr3 }
        if brands.first == "qt  " { return .mov }
        if !set.isDisjoint(with: ["avif", "avis"]) { return .avif }
        if !set.isDisjoint(with: ["heic", "heix", "heim", "heis", "hevc", "hevx"]) { return .heic }
        if !set.isDisjoint(with: ["mif1", "msf1"]) { return .heic }
        let mp4: Set<String> = ["mp41", "mp42", "isom", "iso2", "iso3", "iso4", "iso5", "iso6", "avc1", "M4V ", "M4VP",
                                "M4A ", "M4B ", "f4v ", "dash", "mp71", "3gp4", "3gp5", "3gp6", "3gp7", "3g2a", "3ge6", "3gg6",
                                "MSNV", "XAVC", "NDAS", "mmp4", "CAEP"]
        if !set.isDisjoint(with: mp4) { return .mp4 }
        if set.contains("qt  ") { return .mov }
        return .other
    }

    /// Text starting (after a BOM and whitespace) with `<?xpacket`, `<x:xmpmeta`, `<rdf:RDF`,
    /// or an XML declaration followed by one of those within the first 4 KiB.
    static func looksLikeXMP(_ h: [UInt8], source: (any ByteSource)?) -> Bool {
        var i = 0
        if h.hasBytes([0xEF, 0xBB, 0xBF]) { i = 3 }
        while i < h.count, h[i] == 0x20 || h[i] == 0x09 || h[i] == 0x0A || h[i] == 0x0D { i += 1 }
        guard i < h.count, h[i] == UInt8(ascii: "<") else { return false }
        if h.hasBytes("<?xpacket", at: i) || h.hasBytes("<x:xmpmeta", at: i) || h.hasBytes("<x:xapmeta", at: i)
            || h.hasBytes("<rdf:RDF", at: i) {
            return true
        }
        guard h.hasBytes("<?xml", at: i), let source,
              let more = try? source.read(at: 0, count: 4096) else { return false }
        return more.indexOfBytes(asciiBytes("<x:xmpmeta")) != nil || more.indexOfBytes(asciiBytes("<rdf:RDF")) != nil
            || more.indexOfBytes(asciiBytes("<?xpacket")) != nil
    }
}

/// Finds `<?xpacket begin … <?xpacket end…?>` packets by scanning bytes.
enum XPacketScanner {
    static let begin = asciiBytes("<?xpacket begin")
    static let end = asciiBytes("<?xpacket end")

    /// The last complete packet in the last window of the file, else in the first window.
    static func lastPacket(in source: any ByteSource) throws -> [UInt8]? {
        let window = Int64(MetadataLimits.scanWindow)
        let tailStart = max(0, source.size - window)
        let tail = try source.read(at: tailStart, count: Int(min(window, source.size)))
        if let p = lastPacket(in: tail) { return p }
        guard tailStart > 0 else { return nil }
        let head = try source.read(at: 0, count: Int(min(window, source.size)))
        return lastPacket(in: head)
    }

    /// The last packet inside `bytes` (begin through the `?>` of its end marker).
    static func lastPacket(in bytes: [UInt8]) -> [UInt8]? {
        packets(in: bytes).last.map { Array(bytes[$0]) }
    }

    /// Every complete packet's byte range, in order.
    static func packets(in bytes: [UInt8]) -> [Range<Int>] {
        packets(in: bytes[...])
    }

    /// The same over a slice; the ranges are in the slice's indices.
    static func packets(in bytes: ArraySlice<UInt8>) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var from = bytes.startIndex
        while let b = bytes.indexOfBytes(begin, from: from) {
            guard let e = bytes.indexOfBytes(end, from: b + begin.count),
                  let close = bytes.indexOfBytes(asciiBytes("?>"), from: e) else { break }
            out.append(b..<(close + 2))
            from = close + 2
        }
        return out
    }
}
