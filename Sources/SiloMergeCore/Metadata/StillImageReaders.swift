/// Photoshop PSD and PSB: the header's dimensions, then the image resource section (IPTC
/// 0x0404, EXIF 0x0422, XMP 0x0424, the IPTC digest 0x0425). Layer and image data are never read.
enum PSDReader {
    static func read(_ c: MetadataCollector) throws {
        let src = c.source
        guard let h = try src.exact(at: 0, count: 26) else {
            c.problem("PSD", "the header is truncated")
            return
        }
        let version = h.u16(at: 4, bigEndian: true)!
        let height = Int(h.u32(at: 14, bigEndian: true)!), width = Int(h.u32(at: 18, bigEndian: true)!)
        let limit = version == 2 ? 300_000 : 30_000
        if width > 0, height > 0, width <= limit, height <= limit {
            c.setDimensions(width, height, tag: "Photoshop")
        } else {
            c.problem("PSD", "the header's size \(width) × \(height) is not valid for \(version == 2 ? "PSB" : "PSD")")
        }
        // Color mode data: a 4-byte length and its data (the same in PSB).
        guard let cm = try src.exact(at: 26, count: 4) else {
            c.problem("PSD", "the color mode data section is truncated")
            return
        }
        let resourcesAt = 30 + Int64(cm.u32(at: 0, bigEndian: true)!)
        guard let rl = try src.exact(at: resourcesAt, count: 4) else {
            c.problem("PSD", "the image resource section at offset \(resourcesAt) is past the end of the file")
            return
        }
        let length = Int(rl.u32(at: 0, bigEndian: true)!)
        guard length <= MetadataLimits.maxBlock else {
            c.problem("PSD", "the image resource section is \(length) bytes, more than the \(MetadataLimits.maxBlock)-byte limit; not read")
            return
        }
        guard let resources = try src.exact(at: resourcesAt + 4, count: length) else {
            c.problem("PSD", "the image resource section (\(length) bytes at offset \(resourcesAt + 4)) runs past the end of the file")
            return
        }
        c.addPhotoshop(resources)
    }
}

/// PostScript, EPS and PostScript-based Illustrator files (a PDF-based .ai is read as PDF):
/// the DSC comments (%%Title, %%Author, %%Copyright, %%Subject, %%Keywords, %%CreationDate,
/// %%BoundingBox, %ImageData), Photoshop's %BeginPhotoshop resources (IPTC) and the XMP
/// packet (%begin_xml_packet, or a bare <?xpacket line), line by line as ExifTool's ProcessPS
/// reads them, through the first `headWindow` bytes of the PostScript; an XMP packet further on
/// is found by the bounded packet scan of the file's end. The DOS EPS binary header is followed
/// to its PostScript section.
enum EPSReader {
    static let headWindow = 4 * 1024 * 1024

    private static let fields: [String: (UnifiedField, String)] = [
        "Title": (.title, "Title"), "Author": (.creator, "Author"), "Copyright": (.rights, "Copyright"),
        "Subject": (.description, "Subject"), "Keywords": (.keywords, "Keywords"), "CreationDate": (.dateCreated, "CreateDate"),
    ]

    static func read(_ c: MetadataCollector) throws {
        let src = c.source
        var start: Int64 = 0
        var end = src.size
        if let dos = try src.exact(at: 0, count: 12), dos.hasBytes([0xC5, 0xD0, 0xD3, 0xC6]) {
            start = Int64(dos.u32(at: 4, bigEndian: false)!)
            end = min(src.size, start + Int64(dos.u32(at: 8, bigEndian: false)!))
            guard let magic = try src.exact(at: start, count: 4), magic == asciiBytes("%!PS") else {
                c.problem("EPS", "the DOS EPS header points to offset \(start), where no PostScript starts")
                return
            }
        }
        let bytes = try src.read(at: start, count: Int(min(Int64(headWindow), end - start)))
        var seen: Set<String> = []
        var imageData: (Int, Int)?, boundingBox: (Int, Int)?
        var mode: (kind: String, end: [UInt8])?
        var buffer: [UInt8] = []
        var lines = Lines(bytes)
        while true {
            // Outside a block only comment lines (%) and a bare packet (<?xpacket) can matter:
            // the PostScript program and its image data (most of the bytes) are skipped without
            // copying a line.
            if mode == nil { lines.skipLines { $0 != UInt8(ascii: "%") && $0 != UInt8(ascii: "<") } }
            guard let line = lines.next() else { break }
            if let m = mode {
                if m.kind == "XMP-bare" {
                    buffer += line + [0x0A]
                    if line.indexOfBytes(asciiBytes("<?xpacket end")) != nil { c.addXMP(buffer, block: "XMP"); mode = nil }
                } else if lowercased(line).starts(with: m.end) {
                    if m.kind == "XMP" { c.addXMP(buffer, block: "XMP") } else if m.kind == "Photoshop" { c.addPhotoshop(buffer) }
                    mode = nil
                } else if m.kind == "XMP" {
                    buffer += line + [0x0A]
                } else {
                    buffer += hexBytes(line)
                }
                if buffer.count > MetadataLimits.maxBlock {
                    c.problem("EPS", "a \(m.kind) block is larger than \(MetadataLimits.maxBlock) bytes; not read")
                    mode = nil; buffer = []
                }
                continue
            }
            let lower = lowercased(line)
            if lower.starts(with: asciiBytes("%begin_xml_packet")) || lower.starts(with: asciiBytes("%%begin_xml_packet")) {
                mode = ("XMP", lower.starts(with: asciiBytes("%%")) ? asciiBytes("%%end_xml_packet") : asciiBytes("%end_xml_packet"))
                buffer = []
                continue
            }
            if lower.starts(with: asciiBytes("%beginphotoshop")) || lower.starts(with: asciiBytes("%%beginphotoshop")) {
                mode = ("Photoshop", lower.starts(with: asciiBytes("%%")) ? asciiBytes("%%endphotoshop") : asciiBytes("%endphotoshop"))
                buffer = []
                continue
            }
            if line.starts(with: asciiBytes("<?xpacket begin")) {
                buffer = line + [0x0A]
                if line.indexOfBytes(asciiBytes("<?xpacket end")) != nil { c.addXMP(buffer, block: "XMP") } else { mode = ("XMP-bare", []) }
                continue
            }
            guard line.starts(with: asciiBytes("%")), let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let percents = line.prefix(while: { $0 == UInt8(ascii: "%") }).count
            let name = String(decoding: line[percents..<colon], as: UTF8.self)
            var value = Array(line[(colon + 1)...])
            while value.first == 0x20 || value.first == 0x09 { value.removeFirst() }
            if name == "ImageData", imageData == nil {
                let n = String(decoding: value, as: UTF8.self).split(separator: " ").prefix(2).compactMap { Int($0) }
                if n.count == 2, n[0] > 0, n[1] > 0 { imageData = (n[0], n[1]) }
                continue
            }
            guard percents == 2 else { continue }
            // "%%+ " continuation lines.
            while let next = lines.peek(), next.starts(with: asciiBytes("%%+")) {
                value += Array(next.dropFirst(3))
                _ = lines.next()
            }
            if name == "BoundingBox", boundingBox == nil {
                let n = String(decoding: value, as: UTF8.self).split(separator: " ").prefix(4).compactMap { Double($0) }
                if n.count == 4, n.allSatisfy({ $0.isFinite && abs($0) < 1e9 }), n[2] > n[0], n[3] > n[1] {
                    boundingBox = (Int(n[2] - n[0]), Int(n[3] - n[1]))
                }
                continue
            }
            guard let (field, tagName) = fields[name], seen.insert(name).inserted else { continue }
            let text = decodeComment(value)
            let trimmed = text.metadataTrimmed
            guard !trimmed.isEmpty else { continue }
            let tag = "PostScript:" + tagName
            switch field {
            case .creator:
                c.values.append(SourcedValue(field: field, value: .list([trimmed]), origin: .postscript, tag: tag, raw: text))
            case .keywords:
                let items = trimmed.split(whereSeparator: { $0 == "," || $0 == ";" }).map { String($0).metadataTrimmed }.filter { !$0.isEmpty }
                if !items.isEmpty { c.values.append(SourcedValue(field: field, value: .list(items), origin: .postscript, tag: tag, raw: text)) }
            case .dateCreated:
                if let iso = DateNormalizer.iso(trimmed) ?? DateNormalizer.pdf(trimmed) {
                    c.values.append(SourcedValue(field: field, value: .date(iso), origin: .postscript, tag: tag, raw: text))
                } else {
                    c.problem("EPS", "CreationDate '\(TextDecoding.printable(trimmed, limit: 40))' is not a date; ignored")
                }
            default:
                c.values.append(SourcedValue(field: field, value: .text(trimmed), origin: .postscript, tag: tag, raw: text))
            }
        }
        if let (w, h) = imageData ?? boundingBox { c.setDimensions(w, h, tag: "PostScript") }
        if !c.foundXMP, let packet = try XPacketScanner.lastPacket(in: src, whole: start == 0 ? bytes : nil) {
            c.addXMP(packet, block: "XMP")
        }
    }

    /// A DSC value: a parenthesised PostScript string loses its brackets and escapes
    /// (\n, \ooo, \( ...); anything else is taken as it is.
    static func decodeComment(_ v: [UInt8]) -> String {
        var value = v
        while let last = value.last, last == 0x20 || last == 0x09 { value.removeLast() }
        guard value.first == UInt8(ascii: "("), value.last == UInt8(ascii: ")"), value.count >= 2 else {
            return TextDecoding.utf8OrWindows1252(value)
        }
        var out: [UInt8] = []
        var i = 1
        let end = value.count - 1
        while i < end {
            let b = value[i]
            guard b == UInt8(ascii: "\\"), i + 1 < end else { out.append(b); i += 1; continue }
            let n = value[i + 1]
            switch n {
            case UInt8(ascii: "n"): out.append(0x0A); i += 2
            case UInt8(ascii: "r"): out.append(0x0D); i += 2
            case UInt8(ascii: "t"): out.append(0x09); i += 2
            case UInt8(ascii: "b"), UInt8(ascii: "f"): i += 2
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var k = i + 1, code = 0
                while k < end, k < i + 4, (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(value[k]) {
                    code = code * 8 + Int(value[k] - 0x30); k += 1
                }
                out.append(UInt8(code & 0xFF)); i = k
            default: out.append(n); i += 2
            }
        }
        return TextDecoding.utf8OrWindows1252(out)
    }

    private static func lowercased(_ line: [UInt8]) -> [UInt8] {
        line.prefix(40).map { ($0 >= 0x41 && $0 <= 0x5A) ? $0 + 32 : $0 }
    }

    private static func hexBytes(_ line: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var high: UInt8?
        for ch in line {
            let nibble: UInt8
            switch ch {
            case 0x30...0x39: nibble = ch - 0x30
            case 0x61...0x66: nibble = ch - 0x61 + 10
            case 0x41...0x46: nibble = ch - 0x41 + 10
            default: continue
            }
            if let h = high { out.append(h << 4 | nibble); high = nil } else { high = nibble }
        }
        return out
    }

    /// Lines split at LF, CR or CR LF.
    struct Lines {
        let bytes: [UInt8]
        var index = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        func peek() -> ArraySlice<UInt8>? {
            var copy = self
            return copy.next().map { $0[...] }
        }

        mutating func next() -> [UInt8]? {
            guard index < bytes.count else { return nil }
            let end = lineEnd(from: index)
            let line = Array(bytes[index..<end])
            index = afterTerminator(end)
            return line
        }

        /// Skips, without copying them, the lines whose first byte `skip` says to skip (an
        /// empty line's first byte is its terminator).
        mutating func skipLines(_ skip: (UInt8) -> Bool) {
            while index < bytes.count, skip(bytes[index]) {
                index = afterTerminator(lineEnd(from: index))
            }
        }

        /// The index of the CR or LF that ends the line starting at `start` (the count at the end).
        private func lineEnd(from start: Int) -> Int {
            bytes.withUnsafeBufferPointer { b in
                var end = start
                while end < b.count, b[end] != 0x0A, b[end] != 0x0D { end += 1 }
                return end
            }
        }

        /// Past a line's terminator: CR LF counts as one.
        private func afterTerminator(_ end: Int) -> Int {
            if end < bytes.count, bytes[end] == 0x0D, end + 1 < bytes.count, bytes[end + 1] == 0x0A { return end + 2 }
            return end + 1
        }
    }
}

/// Windows and OS/2 bitmaps: the dimensions from the DIB header (a negative height, a
/// top-down bitmap, counts as its absolute value, as in ExifTool).
enum BMPReader {
    /// "BM", then a DIB header of 12 to 256 bytes (the known sizes are 12, 16, 40, 52, 56, 64,
    /// 108 and 124; ExifTool reads others too).
    static func looksLikeBMP(_ h: [UInt8]) -> Bool {
        guard h.count >= 18, h.hasBytes(asciiBytes("BM")), let size = h.u32(at: 14, bigEndian: false) else { return false }
        return size >= 12 && size <= 256
    }

    static func read(_ c: MetadataCollector) throws {
        guard let h = try c.source.exact(at: 0, count: 26) else {
            c.problem("BMP", "the bitmap header is truncated")
            return
        }
        let size = h.u32(at: 14, bigEndian: false)!
        let width: Int, height: Int
        if size == 12 {
            width = Int(h.u16(at: 18, bigEndian: false)!); height = Int(h.u16(at: 20, bigEndian: false)!)
        } else {
            width = Int(Int32(bitPattern: h.u32(at: 18, bigEndian: false)!))
            height = abs(Int(Int32(bitPattern: h.u32(at: 22, bigEndian: false)!)))
        }
        guard width > 0, height > 0 else {
            c.problem("BMP", "the bitmap header gives a size of \(width) × \(height)")
            return
        }
        c.setDimensions(width, height, tag: "File")
    }
}

/// Windows icons and cursors: the first image's size from the directory (0 stands for 256),
/// as ExifTool reports it.
enum ICOReader {
    static func looksLikeICO(_ h: [UInt8]) -> Bool {
        guard h.count >= 22, h[0] == 0, h[1] == 0, h[2] == 1 || h[2] == 2, h[3] == 0,
              let count = h.u16(at: 4, bigEndian: false), count >= 1 else { return false }
        // The first entry: reserved byte 0, and a data offset past the directory.
        guard h[9] == 0 || h[9] == 0xFF, let offset = h.u32(at: 18, bigEndian: false) else { return false }
        return offset >= 6 + 16 * UInt32(count)
    }

    static func read(_ c: MetadataCollector) throws {
        guard let h = try c.source.exact(at: 0, count: 22) else {
            c.problem("ICO", "the icon directory is truncated")
            return
        }
        let w = h[6] == 0 ? 256 : Int(h[6]), height = h[7] == 0 ? 256 : Int(h[7])
        c.setDimensions(w, height, tag: "File")
    }
}
