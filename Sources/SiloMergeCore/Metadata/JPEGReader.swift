/// JPEG: walks the marker segments up to the first SOS, reading only the APP1 (EXIF, XMP,
/// extended XMP), APP13 (Photoshop/IPTC) and SOFn headers.
enum JPEGReader {
    static let exifHeader = asciiBytes("Exif") + [0, 0]
    static let xmpHeader = asciiBytes("http://ns.adobe.com/xap/1.0/") + [0]
    static let extendedXMPHeader = asciiBytes("http://ns.adobe.com/xmp/extension/") + [0]
    static let photoshopHeader = asciiBytes("Photoshop 3.0") + [0]

    /// Chunks of one extended XMP serialisation, keyed by GUID.
    private struct Extended {
        var fullLength: Int
        var chunks: [(offset: Int, data: ArraySlice<UInt8>)] = []
    }

    static func read(_ c: MetadataCollector) throws {
        let src = c.source
        var pos: Int64 = 2
        var segments = 0
        var standardXMP: [UInt8]?
        var extended: [String: Extended] = [:]
        var photoshop: [UInt8] = []
        var sawExif = false
        while true {
            segments += 1
            guard segments <= MetadataLimits.maxSegments else {
                c.problem("JPEG", "more than \(MetadataLimits.maxSegments) marker segments; stopped")
                break
            }
            guard let m = try src.exact(at: pos, count: 2) else {
                c.problem("JPEG", "the file ends at offset \(pos) before the image data (no SOS marker)")
                break
            }
            guard m[0] == 0xFF else {
                c.problem("JPEG", "expected a marker at offset \(pos), found \(hexString(m[0]))")
                break
            }
            let marker = m[1]
            if marker == 0xFF { pos += 1; continue }     // fill byte
            if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) { pos += 2; continue }
            if marker == 0xD9 || marker == 0xDA { break }  // EOI, or SOS: metadata comes before the scan
            guard let l = try src.exact(at: pos + 2, count: 2), let length = l.u16(at: 0, bigEndian: true), length >= 2 else {
                c.problem("JPEG", "marker \(hexString(marker)) at offset \(pos) has a truncated or invalid length")
                break
            }
            let dataStart = pos + 4
            let dataLength = Int(length) - 2
            guard let segmentEnd = dataStart.checkedAdd(dataLength), segmentEnd <= src.size else {
                c.problem("JPEG", "segment \(hexString(marker)) at offset \(pos) claims \(length) bytes, past the end of the file")
                break
            }
            switch marker {
            case 0xE1:
                let peek = try src.read(at: dataStart, count: min(dataLength, 64))
                if peek.hasBytes(exifHeader), !sawExif {
                    sawExif = true
                    if let d = try src.exact(at: dataStart, count: dataLength) { c.addEXIF(Array(d[6...])) }
                } else if peek.hasBytes(xmpHeader), standardXMP == nil {
                    if let d = try src.exact(at: dataStart, count: dataLength) { standardXMP = Array(d[xmpHeader.count...]) }
                } else if peek.hasBytes(extendedXMPHeader) {
                    if let d = try src.exact(at: dataStart, count: dataLength) {
                        addExtendedChunk(d, to: &extended, collector: c)
                    }
                }
            case 0xED:
                let peek = try src.read(at: dataStart, count: min(dataLength, photoshopHeader.count))
                if peek.hasBytes(photoshopHeader), let d = try src.exact(at: dataStart, count: dataLength) {
                    // An IRB larger than one segment continues in the next APP13 segments.
                    if photoshop.count + d.count <= MetadataLimits.maxBlock { photoshop += d[photoshopHeader.count...] }
                }
            case 0xC0...0xCF where marker != 0xC4 && marker != 0xC8 && marker != 0xCC:
                if let sof = try src.exact(at: dataStart, count: 5) {
                    let h = Int(sof.u16(at: 1, bigEndian: true)!), w = Int(sof.u16(at: 3, bigEndian: true)!)
                    c.setDimensions(w, h, tag: "File")
                }
            default:
                break
            }
            pos = segmentEnd
        }
        if !photoshop.isEmpty { c.addPhotoshop(photoshop) }
        guard let standardXMP else {
            if !extended.isEmpty { c.problem("XMP", "extended XMP without a standard XMP packet naming it; ignored") }
            return
        }
        let guid = c.addXMP(standardXMP, block: "XMP")
        if let guid {
            guard let ext = extended[guid] else {
                c.problem("XMP", "xmpNote:HasExtendedXMP names \(guid) but no extended XMP segment has that GUID")
                return
            }
            if let assembled = assemble(ext, guid: guid, collector: c) {
                c.addXMP(assembled, block: "Extended XMP")
            }
        } else if !extended.isEmpty {
            c.problem("XMP", "extended XMP segments present but the standard XMP has no xmpNote:HasExtendedXMP; ignored")
        }
    }

    /// "http://ns.adobe.com/xmp/extension/\0", 32-byte GUID, 4-byte full length, 4-byte offset, data.
    private static func addExtendedChunk(_ d: [UInt8], to extended: inout [String: Extended], collector c: MetadataCollector) {
        var r = ByteReader(d)
        r.skip(extendedXMPHeader.count)
        guard let guidBytes = r.bytes(32), let full = r.u32(), let offset = r.u32() else {
            c.problem("XMP", "an extended XMP segment is shorter than its header")
            return
        }
        let guid = String(decoding: guidBytes, as: UTF8.self)
        guard Int(full) <= MetadataLimits.maxBlock else {
            c.problem("XMP", "extended XMP \(guid) claims \(full) bytes, more than the \(MetadataLimits.maxBlock)-byte limit")
            return
        }
        var e = extended[guid] ?? Extended(fullLength: Int(full))
        guard e.fullLength == Int(full) else {
            c.problem("XMP", "extended XMP \(guid) chunks disagree on the full length")
            return
        }
        let data = r.rest()
        guard let end = Int(offset).checkedAdd(data.count), end <= e.fullLength else {
            c.problem("XMP", "extended XMP chunk at offset \(offset) runs past the declared length \(full)")
            return
        }
        e.chunks.append((Int(offset), data))
        extended[guid] = e
    }

    private static func assemble(_ e: Extended, guid: String, collector c: MetadataCollector) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: e.fullLength)
        var covered = [Bool](repeating: false, count: e.fullLength)
        for chunk in e.chunks {
            buffer.replaceSubrange(chunk.offset..<(chunk.offset + chunk.data.count), with: chunk.data)
            for i in chunk.offset..<(chunk.offset + chunk.data.count) { covered[i] = true }
        }
        if let gap = covered.firstIndex(of: false) {
            c.problem("XMP", "extended XMP \(guid) is incomplete (no data at offset \(gap) of \(e.fullLength)); ignored")
            return nil
        }
        // The GUID is the MD5 of the extended serialisation: a mismatch means it was edited
        // without updating the standard packet. Still used, but reported.
        if let md5 = MD5.digest(buffer), MD5.hex(md5).uppercased() != guid.uppercased() {
            c.problem("XMP", "extended XMP does not match its GUID \(guid) (MD5 \(MD5.hex(md5).uppercased()))")
        }
        return buffer
    }
}
