/// GIF: the logical screen descriptor for dimensions, then the blocks up to the trailer for the
/// "XMP DataXMP" application extension.
enum GIFReader {
    static let xmpApplication = asciiBytes("XMP DataXMP")

    static func read(_ c: MetadataCollector) throws {
        let src = c.source
        guard let lsd = try src.exact(at: 6, count: 7) else {
            c.problem("GIF", "the logical screen descriptor is truncated")
            return
        }
        c.setDimensions(Int(lsd.u16(at: 0, bigEndian: false)!), Int(lsd.u16(at: 2, bigEndian: false)!), tag: "GIF")
        var pos: Int64 = 13
        if lsd[4] & 0x80 != 0 { pos += 3 << (Int(lsd[4] & 7) + 1) }
        var blocks = 0
        while true {
            blocks += 1
            guard blocks <= MetadataLimits.maxSegments else {
                c.problem("GIF", "more than \(MetadataLimits.maxSegments) blocks; stopped")
                return
            }
            guard let introducer = try src.exact(at: pos, count: 1)?.first else {
                c.problem("GIF", "the file ends at offset \(pos) without a trailer")
                return
            }
            switch introducer {
            case 0x3B:
                return   // trailer
            case 0x21:
                guard let label = try src.exact(at: pos + 1, count: 1)?.first else {
                    c.problem("GIF", "extension at offset \(pos) is truncated")
                    return
                }
                pos += 2
                if label == 0xFF, let size = try src.exact(at: pos, count: 1)?.first, size == 11,
                   let app = try src.exact(at: pos + 1, count: 11), app == xmpApplication {
                    pos += 12
                    guard let (xmp, next) = try xmpData(src, from: pos) else {
                        c.problem("XMP", "the GIF XMP application extension has no magic trailer")
                        return
                    }
                    if !c.foundXMP { c.addXMP(xmp, block: "XMP") }
                    pos = next
                    continue
                }
                guard let next = try skipSubBlocks(src, from: pos) else {
                    c.problem("GIF", "extension sub-blocks run past the end of the file")
                    return
                }
                pos = next
            case 0x2C:
                guard let d = try src.exact(at: pos + 1, count: 9) else {
                    c.problem("GIF", "image descriptor at offset \(pos) is truncated")
                    return
                }
                pos += 10
                if d[8] & 0x80 != 0 { pos += 3 << (Int(d[8] & 7) + 1) }
                pos += 1   // LZW minimum code size
                guard let next = try skipSubBlocks(src, from: pos) else {
                    c.problem("GIF", "image data runs past the end of the file")
                    return
                }
                pos = next
            default:
                c.problem("GIF", "unknown block \(hexString(introducer)) at offset \(pos); stopped")
                return
            }
        }
    }

    /// Skips data sub-blocks (length byte + data) through the zero terminator.
    private static func skipSubBlocks(_ src: any ByteSource, from start: Int64) throws -> Int64? {
        var pos = start
        while true {
            guard let n = try src.exact(at: pos, count: 1)?.first else { return nil }
            pos += 1
            if n == 0 { return pos }
            pos += Int64(n)
            if pos > src.size { return nil }
        }
    }

    /// The XMP data runs until the 258-byte "magic trailer" (0x01, 0xFF … 0x00, then the block
    /// terminator 0x00) that makes it parse as sub-blocks. Returns the data and the offset after.
    private static func xmpData(_ src: any ByteSource, from start: Int64) throws -> ([UInt8], Int64)? {
        var trailer: [UInt8] = [0x01]
        for v in stride(from: 0xFF, through: 0, by: -1) { trailer.append(UInt8(v)) }
        trailer.append(0x00)
        var collected: [UInt8] = []
        var pos = start
        let chunk = 64 * 1024
        while collected.count <= MetadataLimits.maxBlock {
            let bytes = try src.read(at: pos, count: chunk)
            if bytes.isEmpty { return nil }
            let searchFrom = max(0, collected.count - trailer.count)
            collected += bytes
            pos += Int64(bytes.count)
            if let t = collected.indexOfBytes(trailer, from: searchFrom) {
                return (Array(collected[..<t]), start + Int64(t + trailer.count))
            }
        }
        return nil
    }
}

/// WebP (RIFF): VP8X canvas / VP8 / VP8L dimensions, "XMP " and "EXIF" chunks.
enum WebPReader {
    static func read(_ c: MetadataCollector) throws {
        let src = c.source
        guard let header = try src.exact(at: 0, count: 12) else {
            c.problem("WebP", "the RIFF header is truncated")
            return
        }
        let riffEnd = min(src.size, 8 + Int64(header.u32(at: 4, bigEndian: false)!))
        var pos: Int64 = 12
        var chunks = 0
        var canvas: (Int, Int)?, frame: (Int, Int)?
        while pos + 8 <= riffEnd {
            chunks += 1
            guard chunks <= MetadataLimits.maxSegments else { break }
            guard let h = try src.exact(at: pos, count: 8) else { break }
            let fourcc = String(decoding: h[0..<4], as: UTF8.self)
            let size = Int(h.u32(at: 4, bigEndian: false)!)
            let dataStart = pos + 8
            guard let end = dataStart.checkedAdd(size), end <= src.size else {
                c.problem("WebP", "chunk '\(PathDisplay.escape(Array(h[0..<4])))' at offset \(pos) claims \(size) bytes, past the end of the file")
                break
            }
            switch fourcc {
            case "VP8X":
                if let d = try src.exact(at: dataStart, count: 10) {
                    var r = ByteReader(d, bigEndian: false)
                    r.skip(4)
                    canvas = (Int(r.u24()!) + 1, Int(r.u24()!) + 1)
                }
            case "VP8 ":
                // Frame tag (3 bytes), start code 9D 01 2A, then 14-bit width and height.
                if frame == nil, let d = try src.exact(at: dataStart, count: 10), d[3] == 0x9D, d[4] == 0x01, d[5] == 0x2A {
                    frame = (Int(d.u16(at: 6, bigEndian: false)! & 0x3FFF), Int(d.u16(at: 8, bigEndian: false)! & 0x3FFF))
                }
            case "VP8L":
                // Signature 0x2F, then 14 bits width-1, 14 bits height-1.
                if frame == nil, let d = try src.exact(at: dataStart, count: 5), d[0] == 0x2F {
                    let bits = d.u32(at: 1, bigEndian: false)!
                    frame = (Int(bits & 0x3FFF) + 1, Int((bits >> 14) & 0x3FFF) + 1)
                }
            case "XMP ":
                if size > MetadataLimits.maxBlock {
                    c.problem("WebP", "XMP chunk of \(size) bytes is larger than the limit; skipped")
                } else if !c.foundXMP, let d = try src.exact(at: dataStart, count: size) {
                    c.addXMP(d, block: "XMP")
                }
            case "EXIF":
                if size <= MetadataLimits.maxBlock, let d = try src.exact(at: dataStart, count: size) {
                    c.addEXIF(d.hasBytes(JPEGReader.exifHeader) ? Array(d[6...]) : d)
                }
            default:
                break
            }
            pos = end + (Int64(size) & 1)
        }
        if let (w, h) = canvas ?? frame { c.setDimensions(w, h, tag: "RIFF") }
    }
}
