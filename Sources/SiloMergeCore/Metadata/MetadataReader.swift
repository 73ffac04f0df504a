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
    /// Sniffs the format from magic bytes (never the extension) and reads every embedded block.
    /// Never throws and never traps: whatever cannot be read becomes a `MetadataProblem`.
    public static func read(_ source: some ByteSource) -> EmbeddedMetadata {
        read(source, options: MetadataReadOptions())
    }

    /// `read`, with options. Each format is read from its structure (headers, segments, boxes,
    /// chunks, a zip's directory), touching only the blocks that hold metadata; a file of a
    /// format SiloMerge does not know is not read at all unless `options.scanForXMP`.
    public static func read(_ source: some ByteSource, options: MetadataReadOptions) -> EmbeddedMetadata {
        let c = MetadataCollector(source: source)
        do {
            c.format = try FormatSniffer.sniff(source)
            switch c.format {
            case .jpeg: try JPEGReader.read(c)
            case .png: try PNGReader.read(c)
            case .tiff: try readTIFF(c)
            case .gif: try GIFReader.read(c)
            case .webp: try WebPReader.read(c)
            case .mp4, .mov, .heic, .avif, .cr3: try BMFFReader.read(c)
            case .jp2, .jxl: try JP2Reader.read(c)
            case .docx, .xlsx, .pptx, .odt, .ods, .odp, .zip: try ZipReader.read(c)
            case .mp3, .ogg, .flac, .wav, .avi: try AudioReaders.read(c)
            case .pdf: try PDFReader.read(c)
            case .xmp: try readStandaloneXMP(c)
            case .other: break
            }
            // ExifTool's -scanForXMP: every file whose structure gave no XMP is searched for a
            // packet (bounded to the first and last `MetadataLimits.scanWindow` bytes).
            if options.scanForXMP, !c.foundXMP { try scanForXMP(c) }
        } catch {
            c.problem("I/O", "read failed: \(error)")
        }
        return c.finish()
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

    static func readTIFF(_ c: MetadataCollector) throws {
        let r = EXIFReader.read(c.source, tiffFile: true)
        c.values += r.values
        c.addProblems(r.problems)
        c.setDimensions(r.imageWidth, r.imageHeight, tag: "IFD0")
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
final class MetadataCollector {
    let source: any ByteSource
    var format: MediaFormat = .other
    var width: Int?, height: Int?
    var dimensionTag = "File"
    var values: [SourcedValue] = []
    var problems: [MetadataProblem] = []
    var iptcDigest: IPTCDigestState = .absent
    var foundXMP = false

    init(source: any ByteSource) { self.source = source }

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
        let r = XMPParser.parse(bytes, origin: origin, block: block)
        values += r.values
        addProblems(r.problems)
        return r.extendedGUID
    }

    /// A Photoshop image resource block: IPTC records and the IPTC digest.
    func addPhotoshop(_ bytes: [UInt8]) {
        var problems: [MetadataProblem] = []
        let res = IPTCReader.resources(bytes, problems: &problems)
        if let iim = res.iim {
            values += IPTCReader.values(iim, problems: &problems)
        }
        iptcDigest = IPTCReader.digestState(res)
        addProblems(problems)
    }

    func addEXIF(_ bytes: [UInt8]) {
        let r = EXIFReader.read(DataByteSource(bytes))
        values += r.values
        addProblems(r.problems)
    }

    func finish() -> EmbeddedMetadata {
        var all: [SourcedValue] = [SourcedValue(field: .format, value: .text(format.rawValue), origin: .header,
                                                tag: "File:FileType", raw: format.rawValue)]
        if let width, let height {
            all.append(SourcedValue(field: .width, value: .integer(width), origin: .header,
                                    tag: "\(dimensionTag):ImageWidth", raw: "\(width)"))
            all.append(SourcedValue(field: .height, value: .integer(height), origin: .header,
                                    tag: "\(dimensionTag):ImageHeight", raw: "\(height)"))
        }
        return EmbeddedMetadata(format: format, width: width, height: height, values: all + values,
                                iptcDigest: iptcDigest, problems: problems)
    }
}

/// Format detection from the first bytes of a file.
enum FormatSniffer {
    static func sniff(_ source: any ByteSource) throws -> MediaFormat {
        let head = try source.read(at: 0, count: 64)
        return sniff(head: head, source: source)
    }

    static func sniff(head h: [UInt8], source: (any ByteSource)? = nil) -> MediaFormat {
        if h.hasBytes([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if h.hasBytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if h.hasBytes(asciiBytes("GIF87a")) || h.hasBytes(asciiBytes("GIF89a")) { return .gif }
        if h.hasBytes([0x49, 0x49, 0x2A, 0x00]) || h.hasBytes([0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        if h.hasBytes(asciiBytes("RIFF")), h.hasBytes(asciiBytes("WEBP"), at: 8) { return .webp }
        if h.hasBytes(asciiBytes("ftyp"), at: 4) { return bmffBrand(h) }
        // QuickTime files older than ftyp (before 2001) start with one of these atoms.
        if h.count >= 8, ["moov", "mdat", "wide", "free", "skip", "pnot"].contains(where: { h.hasBytes(Array($0.utf8), at: 4) }),
           let size = h.u32(at: 0, bigEndian: true), size == 1 || size >= 8 {
            return .mov
        }
        if h.hasBytes(asciiBytes("%PDF-")) { return .pdf }
        if let f = AudioReaders.sniff(h, source: source) ?? JP2Reader.sniff(h) ?? ZipReader.sniff(h) { return f }
        if looksLikeXMP(h, source: source) { return .xmp }
        return .other
    }

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
        for start in ["<?xpacket", "<x:xmpmeta", "<x:xapmeta", "<rdf:RDF"] where h.hasBytes(Array(start.utf8), at: i) {
            return true
        }
        guard h.hasBytes(asciiBytes("<?xml"), at: i), let source,
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
        var out: [Range<Int>] = []
        var from = 0
        while let b = bytes.indexOfBytes(begin, from: from) {
            guard let e = bytes.indexOfBytes(end, from: b + begin.count),
                  let close = bytes.indexOfBytes(asciiBytes("?>"), from: e) else { break }
            out.append(b..<(close + 2))
            from = close + 2
        }
        return out
    }
}
