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

    /// The most stray bytes skipped looking for the next marker after a segment.
    static let maxResync = 1 << 20

    /// Finds the next marker at or after `from`: returns its offset (the 0xFF) and how many
    /// stray bytes came first. A marker is 0xFF followed by a byte that is neither 0x00 (a
    /// stuffed byte) nor 0xFF (fill); fill bytes before a marker are not stray.
    static func nextMarker(_ src: any ByteSource, from: Int64) throws -> (offset: Int64, skipped: Int)? {
        var pos = from
        var skipped = 0
        while skipped <= maxResync {
            let chunk = try src.read(at: pos, count: 4096)
            guard chunk.count >= 2 else { return nil }
            var i = 0
            while i + 1 < chunk.count {
                if chunk[i] == 0xFF {
                    var k = i + 1
                    while k < chunk.count, chunk[k] == 0xFF { k += 1 }
                    if k == chunk.count { break }         // fill runs past this chunk: read on from i
                    if chunk[k] != 0x00 { return (pos + Int64(k - 1), skipped + i) }
                    i = k + 1
                    continue
                }
                i += 1
            }
            guard i > 0 else { return nil }
            pos += Int64(i)
            skipped += i
        }
        return nil
    }

    static func read(_ c: MetadataCollector) throws {
        let src = c.source
        var pos: Int64 = 2
        var segments = 0
        // The standard XMP packet and a lone EXIF segment are read where they lie (the hashing
        // pass's buffer, the reader's cache) when parsed at the end, not copied out first: the
        // EXIF segment holds the thumbnail too, up to 64 KiB a photo.
        var standardXMP: (offset: Int64, count: Int)?
        var extended: [String: Extended] = [:]
        var extendedBytes = 0
        var photoshop: [UInt8] = []
        /// EXIF joined from several APP1 segments; `exifSegment` while there is only one.
        var exif: [UInt8]?
        var exifSegment: (offset: Int64, count: Int)?
        var exifOpen = false   // the last segment was EXIF: an "Exif\0\0" APP1 without a TIFF header continues it
        var previous = "SOI"
        while true {
            segments += 1
            guard segments <= MetadataLimits.maxSegments else {
                c.problem("JPEG", "more than \(MetadataLimits.maxSegments) marker segments; stopped")
                break
            }
            // The marker and the length read in place, with no array per segment.
            guard let m = try src.withExact(at: pos, count: 2, { $0.map { ($0[0], $0[1]) } }) else {
                c.problem("JPEG", "the file ends at offset \(pos) before the image data (no SOS marker)")
                break
            }
            if m.0 != 0xFF || m.1 == 0x00 {
                // Stray bytes between segments: resynchronise on the next marker, as ExifTool
                // and libjpeg do.
                guard let (next, skipped) = try nextMarker(src, from: pos) else {
                    c.problem("JPEG", "expected a marker at offset \(pos), found \(hexString(m.0)) and no marker after it; stopped")
                    break
                }
                c.problem("JPEG", "skipped \(skipped) unknown bytes after the \(previous) segment (offset \(pos))")
                pos = next
                continue
            }
            let marker = m.1
            if marker == 0xFF { pos += 1; continue }     // fill byte
            if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) { pos += 2; continue }
            if marker == 0xD9 || marker == 0xDA { break }  // EOI, or SOS: metadata comes before the scan
            guard let length = try src.withExact(at: pos + 2, count: 2, { $0.map { UInt16($0[0]) << 8 | UInt16($0[1]) } }), length >= 2 else {
                c.problem("JPEG", "marker \(hexString(marker)) at offset \(pos) has a truncated or invalid length")
                break
            }
            let dataStart = pos + 4
            let dataLength = Int(length) - 2
            guard let segmentEnd = dataStart.checkedAdd(dataLength), segmentEnd <= src.size else {
                c.problem("JPEG", "segment \(hexString(marker)) at offset \(pos) claims \(length) bytes, past the end of the file")
                break
            }
            var continuesEXIF = false
            switch marker {
            case 0xE1:
                let peek = try src.read(at: dataStart, count: min(dataLength, 64))
                if let header = exifHeaderLength(peek) {
                    let tiffFollows = peek.count >= header + 4
                        && (peek.hasBytes([0x4D, 0x4D, 0x00, 0x2A], at: header) || peek.hasBytes([0x49, 0x49, 0x2A, 0x00], at: header))
                    if exif == nil && exifSegment == nil {
                        // From after its header; it lies within the file (checked above).
                        exifSegment = (dataStart + Int64(header), dataLength - header)
                        continuesEXIF = true
                    } else if exifOpen, !tiffFollows {
                        // Multi-segment EXIF (larger than one APP1): joined, as ExifTool does.
                        if exif == nil, let first = exifSegment {
                            exif = try src.exact(at: first.offset, count: first.count)
                            exifSegment = nil
                        }
                        if let d = try src.exact(at: dataStart + Int64(header), count: dataLength - header),
                           let joined = exif?.count, joined + d.count + header <= MetadataLimits.maxBlock {
                            exif! += d
                            continuesEXIF = true
                            c.noteOnce("EXIF", "multi-segment", "the EXIF spans several APP1 segments (joined)")
                        }
                    }
                } else if peek.hasBytes(xmpHeader), standardXMP == nil {
                    standardXMP = (dataStart + Int64(xmpHeader.count), dataLength - xmpHeader.count)
                } else if peek.hasBytes(extendedXMPHeader) {
                    if extendedBytes + dataLength > 2 * MetadataLimits.maxBlock {
                        c.noteOnce("XMP", "extended", "more than \(2 * MetadataLimits.maxBlock) bytes of extended XMP segments; the rest are not read")
                    } else if let d = try src.exact(at: dataStart, count: dataLength) {
                        extendedBytes += dataLength
                        addExtendedChunk(d, to: &extended, collector: c)
                    }
                }
            case 0xED:
                let peek = try src.read(at: dataStart, count: min(dataLength, photoshopHeader.count))
                if peek.hasBytes(photoshopHeader) {
                    // An IRB larger than one segment continues in the next APP13 segments.
                    try src.withExact(at: dataStart + Int64(photoshopHeader.count), count: dataLength - photoshopHeader.count) { d in
                        if let d, photoshop.count + d.count + photoshopHeader.count <= MetadataLimits.maxBlock { photoshop += d }
                    }
                }
            case 0xC0...0xCF where marker != 0xC4 && marker != 0xC8 && marker != 0xCC:
                if let sof = try src.exact(at: dataStart, count: 5) {
                    let h = Int(sof.u16(at: 1, bigEndian: true)!), w = Int(sof.u16(at: 3, bigEndian: true)!)
                    c.setDimensions(w, h, tag: "File")
                }
            default:
                break
            }
            exifOpen = continuesEXIF
            previous = markerName(marker)
            pos = segmentEnd
        }
        if let exif {
            c.addEXIF(exif)
        } else if let segment = exifSegment {
            c.addEXIF(in: src, at: segment.offset, count: segment.count)
        }
        if !photoshop.isEmpty { c.addPhotoshop(photoshop) }
        guard let packet = standardXMP else {
            if !extended.isEmpty { c.problem("XMP", "extended XMP without a standard XMP packet naming it; ignored") }
            return
        }
        let guid = try src.withExact(at: packet.offset, count: packet.count) { bytes in
            bytes.map { c.addXMP($0, block: "XMP") } ?? nil
        }
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

    /// "Exif\0", made once (not twice per APP1 segment and offset tried).
    private static let exifMagic = asciiBytes("Exif") + [0]

    /// The length of an EXIF APP1 header: "Exif\0\0" (or "Exif\0" and any byte, as some
    /// Kodak cameras write), after up to 4 bytes of garbage, as ExifTool accepts it. nil when
    /// the segment is not EXIF.
    static func exifHeaderLength(_ peek: [UInt8]) -> Int? {
        for garbage in 0...4 where peek.hasBytes(exifMagic, at: garbage) && peek.count > garbage + 5 {
            return garbage + 6
        }
        return nil
    }

    /// "APP1", "SOF0", "DQT"... for messages.
    static func markerName(_ m: UInt8) -> String {
        switch m {
        case 0xC4: return "DHT"
        case 0xCC: return "DAC"
        case 0xC0...0xCF: return "SOF\(m - 0xC0)"
        case 0xDB: return "DQT"
        case 0xDD: return "DRI"
        case 0xE0...0xEF: return "APP\(m - 0xE0)"
        case 0xFE: return "COM"
        default: return "marker \(hexString(m))"
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
        // Every byte must come from a chunk: the chunks in offset order, each starting at or
        // before the end of those before it (chunks may repeat or overlap).
        var covered = 0
        for chunk in e.chunks.sorted(by: { $0.offset < $1.offset }) {
            if chunk.offset > covered { break }
            covered = max(covered, chunk.offset + chunk.data.count)
        }
        if covered < e.fullLength {
            c.problem("XMP", "extended XMP \(guid) is incomplete (no data at offset \(covered) of \(e.fullLength)); ignored")
            return nil
        }
        // Covered whole, so the chunks (in the order read: a repeated range takes its last
        // copy) write every byte: no zeroing first (a depth map's is hundreds of KB).
        let buffer = [UInt8](unsafeUninitializedCapacity: e.fullLength) { out, count in
            for chunk in e.chunks {
                chunk.data.withUnsafeBufferPointer { data in
                    _ = UnsafeMutableBufferPointer(rebasing: out[chunk.offset..<(chunk.offset + data.count)]).initialize(from: data)
                }
            }
            count = e.fullLength
        }
        // The GUID is meant to be the MD5 of the whole; like ExifTool, it is not checked: it
        // would cost more than the SHA-256 of the photo (a phone's depth map or portrait
        // photo carries megabytes of extended XMP).
        return buffer
    }
}
