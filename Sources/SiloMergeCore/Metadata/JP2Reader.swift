/// JPEG 2000 (JP2/JPX boxes, or a bare J2K codestream) and JPEG XL (ISO BMFF-style container,
/// or a bare codestream). Only the boxes that hold metadata are read; the codestream is read
/// only for its size header.
///
/// - JP2: `jp2h/ihdr` (height, width), `uuid` boxes holding XMP (BE7ACFCB…), EXIF
///   ("JpgTiffExif->JP2") or IPTC (33C7A4D2…), `xml ` boxes holding an XMP packet. A bare
///   codestream: the SIZ marker segment's size less its offsets.
/// - JPEG XL: `Exif` (a 4-byte offset to the TIFF header, then EXIF), `xml ` (XMP), and the
///   size header at the start of the codestream (`jxlc`, or the first `jxlp`). Boxes compressed
///   with Brotli (`brob`) are noted, not read.
enum JP2Reader {
    static let jp2Signature: [UInt8] = [0, 0, 0, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A]
    static let jxlSignature: [UInt8] = [0, 0, 0, 0x0C, 0x4A, 0x58, 0x4C, 0x20, 0x0D, 0x0A, 0x87, 0x0A]
    static let exifUUID = asciiBytes("JpgTiffExif->JP2")
    static let iptcUUID: [UInt8] = [0x33, 0xC7, 0xA4, 0xD2, 0xB8, 0x1D, 0x47, 0x23, 0xA0, 0xBA, 0xF1, 0xA3, 0xE0, 0x97, 0xAD, 0x38]

    static func sniff(_ h: [UInt8]) -> MediaFormat? {
        if h.hasBytes(jp2Signature) || h.hasBytes([0xFF, 0x4F, 0xFF, 0x51]) { return .jp2 }
        if h.hasBytes(jxlSignature) || h.hasBytes([0xFF, 0x0A]) { return .jxl }
        return nil
    }

    static func read(_ c: MetadataCollector) throws {
        guard let head = try c.source.exact(at: 0, count: min(12, Int(c.source.size))) else { return }
        if head.hasBytes([0xFF, 0x4F]) { try j2kCodestream(c, at: 0); return }
        if head.hasBytes([0xFF, 0x0A]) { try jxlCodestream(c, at: 0, tag: "JXL"); return }
        let top = try BMFFReader.boxes(c, from: 0, to: c.source.size)
        var jxlCodestreamSeen = false
        // JPM (compound documents) hold pages, not one image: no single size.
        var compound = false
        for box in top where box.is("ftyp") {
            if let brand = try c.source.exact(at: box.dataStart, count: 4), brand == asciiBytes("jpm ") { compound = true }
        }
        for box in top {
            switch box.name {
            case "jp2h" where !compound:
                for b in try BMFFReader.boxes(c, from: box.dataStart, to: box.end) where b.is("ihdr") {
                    if let d = try c.source.exact(at: b.dataStart, count: 8) {
                        c.setDimensions(Int(d.u32(at: 4, bigEndian: true)!), Int(d.u32(at: 0, bigEndian: true)!), tag: "Jpeg2000")
                    }
                }
            case "jp2c":
                if c.width == nil, !compound { try j2kCodestream(c, at: box.dataStart) }
            case "uuid":
                try uuidBox(c, box)
            case "xml ", "XML ":
                try xmlBox(c, box)
            case "Exif":
                // JPEG XL: a 4-byte offset to the TIFF header, then the EXIF block.
                guard box.dataSize <= Int64(MetadataLimits.maxBlock), box.dataSize >= 4,
                      let d = try c.source.exact(at: box.dataStart, count: Int(box.dataSize)),
                      let skip = d.u32(at: 0, bigEndian: true), Int(skip) <= d.count - 4 else {
                    c.problem("JXL", "the Exif box cannot be read")
                    continue
                }
                var tiff = Array(d[(4 + Int(skip))...])
                if tiff.hasBytes(JPEGReader.exifHeader) { tiff.removeFirst(6) }
                c.addEXIF(tiff)
            case "jxlc":
                if !jxlCodestreamSeen { jxlCodestreamSeen = true; try jxlCodestream(c, at: box.dataStart, tag: "JXL") }
            case "jxlp":
                if !jxlCodestreamSeen { jxlCodestreamSeen = true; try jxlCodestream(c, at: box.dataStart + 4, tag: "JXL") }
            case "brob":
                if let inner = try c.source.exact(at: box.dataStart, count: 4), inner == asciiBytes("Exif") || inner == asciiBytes("xml ") {
                    c.problem("JXL", "the \(String(decoding: inner, as: UTF8.self)) box is Brotli-compressed; not read")
                }
            default:
                break
            }
        }
    }

    private static func uuidBox(_ c: MetadataCollector, _ box: BMFFReader.Box) throws {
        guard let id = try c.source.exact(at: box.dataStart, count: 16) else { return }
        let from = box.dataStart + 16
        let size = box.end - from
        guard size <= Int64(MetadataLimits.maxBlock) else {
            c.problem("JP2", "uuid box of \(size) bytes is larger than the \(MetadataLimits.maxBlock)-byte limit; skipped")
            return
        }
        if id == BMFFReader.xmpUUID {
            if !c.foundXMP { try BMFFReader.readXMP(c, from: from, to: box.end) }
        } else if id == exifUUID, let d = try c.source.exact(at: from, count: Int(size)) {
            c.addEXIF(d.hasBytes(JPEGReader.exifHeader) ? Array(d[6...]) : d)
        } else if id == iptcUUID, let d = try c.source.exact(at: from, count: Int(size)) {
            var problems: [MetadataProblem] = []
            c.values += IPTCReader.values(d, problems: &problems)
            c.addProblems(problems)
        }
    }

    /// An `xml ` box is XMP when it holds an x:xmpmeta or rdf:RDF element.
    private static func xmlBox(_ c: MetadataCollector, _ box: BMFFReader.Box) throws {
        guard !c.foundXMP, box.dataSize <= Int64(MetadataLimits.maxBlock),
              let d = try c.source.exact(at: box.dataStart, count: Int(box.dataSize)) else { return }
        if d.indexOfBytes(asciiBytes("<x:xmpmeta")) != nil || d.indexOfBytes(asciiBytes("<rdf:RDF")) != nil {
            c.addXMP(d, block: "XMP")
        }
    }

    /// J2K SIZ: FF4F FF51 Lsiz Rsiz Xsiz Ysiz XOsiz YOsiz (32-bit each after Rsiz).
    private static func j2kCodestream(_ c: MetadataCollector, at offset: Int64) throws {
        guard let d = try c.source.exact(at: offset, count: 24), d.hasBytes([0xFF, 0x4F, 0xFF, 0x51]) else {
            c.problem("JP2", "the codestream at offset \(offset) does not start with SOC and SIZ")
            return
        }
        let x = d.u32(at: 8, bigEndian: true)!, y = d.u32(at: 12, bigEndian: true)!
        let xo = d.u32(at: 16, bigEndian: true)!, yo = d.u32(at: 20, bigEndian: true)!
        guard x > xo, y > yo else { return }
        c.setDimensions(Int(x - xo), Int(y - yo), tag: "Jpeg2000")
    }

    /// The JPEG XL SizeHeader: bit-packed, least significant bit first, right after FF 0A.
    private static func jxlCodestream(_ c: MetadataCollector, at offset: Int64, tag: String) throws {
        guard let d = try c.source.exact(at: offset, count: min(16, Int(c.source.size - offset))), d.hasBytes([0xFF, 0x0A]) else {
            c.problem("JXL", "the codestream at offset \(offset) does not start with FF 0A")
            return
        }
        var bits = BitReader(Array(d[2...]))
        guard let (w, h) = jxlSize(&bits) else {
            c.problem("JXL", "the size header is truncated")
            return
        }
        c.setDimensions(w, h, tag: tag)
    }

    static func jxlSize(_ r: inout BitReader) -> (Int, Int)? {
        func u32(_ dist: [(Int, Int)]) -> Int? {
            guard let sel = r.bits(2) else { return nil }
            let (base, n) = dist[sel]
            guard let v = r.bits(n) else { return nil }
            return base + v
        }
        let sizes = [(1, 9), (1, 13), (1, 18), (1, 30)]
        guard let div8 = r.bits(1) else { return nil }
        let height: Int
        if div8 == 1 { guard let v = r.bits(5) else { return nil }; height = (v + 1) * 8 }
        else { guard let v = u32(sizes) else { return nil }; height = v }
        guard let ratio = r.bits(3) else { return nil }
        let width: Int
        switch ratio {
        case 0:
            if div8 == 1 { guard let v = r.bits(5) else { return nil }; width = (v + 1) * 8 }
            else { guard let v = u32(sizes) else { return nil }; width = v }
        case 1: width = height
        case 2: width = height * 12 / 10
        case 3: width = height * 4 / 3
        case 4: width = height * 3 / 2
        case 5: width = height * 16 / 9
        case 6: width = height * 5 / 4
        default: width = height * 2
        }
        return (width, height)
    }
}

/// Bits, least significant first, as JPEG XL packs them.
struct BitReader {
    let bytes: [UInt8]
    var position = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func bits(_ n: Int) -> Int? {
        guard n >= 0, n <= 32, position + n <= bytes.count * 8 else { return nil }
        var v = 0
        for i in 0..<n {
            let bit = Int(bytes[(position + i) >> 3] >> ((position + i) & 7)) & 1
            v |= bit << i
        }
        position += n
        return v
    }
}
