#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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
/// reads them, through the first `headWindow` bytes of the PostScript; an XMP packet further on,
/// or in a DOS EPS's preview, is found by the bounded packet scan of the file's end (never for a
/// file whose every line was read). The DOS EPS binary header is followed to its PostScript
/// section.
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
        // Read through a window that slides over the first `headWindow` bytes (no copy of
        // them all): lines are slices of it, valid until the next line is asked for.
        let count = min(Int64(headWindow), end - start)
        var lines = Lines(src, from: start, count: count)
        var seen: Set<String> = []
        var imageData: (Int, Int)?, boundingBox: (Int, Int)?
        var mode: (kind: String, end: [UInt8])?
        var buffer: [UInt8] = []
        while true {
            // Outside a block only comment lines (%) and a bare packet (<?xpacket) can matter:
            // the PostScript program and its image data (most of the bytes) are skipped without
            // looking at each line.
            if mode == nil { try lines.skipToCommentOrPacket() }
            guard let line = try lines.next() else { break }
            if let m = mode {
                if m.kind == "XMP-bare" {
                    buffer += line
                    buffer.append(0x0A)
                    if line.indexOfBytes(XPacketScanner.end) != nil { c.addXMP(buffer, block: "XMP"); mode = nil }
                } else if startsIgnoringCase(line, m.end) {
                    if m.kind == "XMP" { c.addXMP(buffer, block: "XMP") } else if m.kind == "Photoshop" { c.addPhotoshop(buffer) }
                    mode = nil
                } else if m.kind == "XMP" {
                    buffer += line
                    buffer.append(0x0A)
                } else {
                    appendHex(line, to: &buffer)
                }
                if buffer.count > MetadataLimits.maxBlock {
                    c.problem("EPS", "a \(m.kind) block is larger than \(MetadataLimits.maxBlock) bytes; not read")
                    mode = nil; buffer = []
                }
                continue
            }
            if startsIgnoringCase(line, Self.beginXMP) || startsIgnoringCase(line, Self.beginXMP2) {
                mode = ("XMP", line.starts(with: Self.percent2) ? Self.endXMP2 : Self.endXMP)
                buffer = []
                continue
            }
            if startsIgnoringCase(line, Self.beginPhotoshop) || startsIgnoringCase(line, Self.beginPhotoshop2) {
                mode = ("Photoshop", line.starts(with: Self.percent2) ? Self.endPhotoshop2 : Self.endPhotoshop)
                buffer = []
                continue
            }
            if line.starts(with: XPacketScanner.begin) {
                buffer = Array(line)
                buffer.append(0x0A)
                if line.indexOfBytes(XPacketScanner.end) != nil { c.addXMP(buffer, block: "XMP") } else { mode = ("XMP-bare", []) }
                continue
            }
            guard line.first == UInt8(ascii: "%"), let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let percents = line.prefix(while: { $0 == UInt8(ascii: "%") }).count
            let nameBytes = line[(line.startIndex + percents)..<colon]
            // Only the comments read below are made into Strings: a PostScript prologue holds
            // hundreds of others (%%BeginResource: …, %AI5_…: …).
            let isImageData = imageData == nil && nameBytes.elementsEqual(Self.imageDataName)
            guard isImageData || (percents == 2 && Self.readNames.contains(where: { nameBytes.elementsEqual($0) })) else { continue }
            let name = String(decoding: nameBytes, as: UTF8.self)
            var value = Array(line[(colon + 1)...])
            while value.first == 0x20 || value.first == 0x09 { value.removeFirst() }
            if isImageData {
                let n = String(decoding: value, as: UTF8.self).split(separator: " ").prefix(2).compactMap { Int($0) }
                if n.count == 2, n[0] > 0, n[1] > 0 { imageData = (n[0], n[1]) }
                continue
            }
            // "%%+ " continuation lines.
            while let next = try lines.peek(), next.starts(with: Self.continuation) {
                value += next.dropFirst(3)
                _ = try lines.next()
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
        // The packet scan is for what the lines did not cover: PostScript past `headWindow`,
        // and a DOS EPS's preview sections. A file whose every line was read has had its
        // packets found where ExifTool finds them (at the start of a line); scanning it again
        // cost a twentieth of the CPU metadata adds to a scan of a public photo collection
        // (23 EPS files of 1,341: two fresh 1 MiB windows for each file over 1 MiB).
        let linesCoveredAll = start == 0 && end == src.size && count == end
        if !c.foundXMP, !linesCoveredAll, let packet = try XPacketScanner.lastPacket(in: src) {
            c.addXMP(packet, block: "XMP")
        }
    }

    /// The DSC comments `read` reads (%%Name:), and Photoshop's %ImageData: (read with any
    /// number of %, until one gives a size).
    private static let readNames: [[UInt8]] = (Array(fields.keys) + ["BoundingBox"]).map { Array($0.utf8) }
    private static let imageDataName = asciiBytes("ImageData")
    private static let beginXMP = asciiBytes("%begin_xml_packet"), beginXMP2 = asciiBytes("%%begin_xml_packet")
    private static let endXMP = asciiBytes("%end_xml_packet"), endXMP2 = asciiBytes("%%end_xml_packet")
    private static let beginPhotoshop = asciiBytes("%beginphotoshop"), beginPhotoshop2 = asciiBytes("%%beginphotoshop")
    private static let endPhotoshop = asciiBytes("%endphotoshop"), endPhotoshop2 = asciiBytes("%%endphotoshop")
    private static let percent2 = asciiBytes("%%"), continuation = asciiBytes("%%+")

    /// Whether `line` starts with `lower` (lower-case ASCII), ignoring the case of A-Z.
    private static func startsIgnoringCase(_ line: ArraySlice<UInt8>, _ lower: [UInt8]) -> Bool {
        guard line.count >= lower.count else { return false }
        var i = line.startIndex
        for b in lower {
            let ch = line[i]
            guard ((ch >= 0x41 && ch <= 0x5A) ? ch + 32 : ch) == b else { return false }
            i += 1
        }
        return true
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

    /// The hex digits of a line of a %BeginPhotoshop block, decoded onto `out` (anything else
    /// on the line is ignored; an odd digit at the end of the line is dropped).
    private static func appendHex(_ line: ArraySlice<UInt8>, to out: inout [UInt8]) {
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
    }

    /// The lines of `count` bytes of a source from `from` on, split at LF, CR or CR LF (the
    /// last line ends where the bytes end), read through a window of `chunk` bytes that slides
    /// along (a line longer than the window widens it): a 4 MiB PostScript header costs no
    /// 4 MiB array. A source that ends early (a file that shrank) ends the lines there.
    struct Lines {
        let source: any ByteSource
        /// The bytes' range in the source.
        let from: Int64, count: Int64
        /// Bytes `origin..<(origin + window.count)` of the range (offsets from `from`).
        private(set) var window: [UInt8] = []
        private var origin: Int64 = 0
        /// The start of the next line, in `window`.
        private var index = 0
        /// No more bytes after `window` (the range, or the source, ended).
        private var ended = false
        private let chunk: Int
        /// Cached searches for the bytes lines start or end with (see `Finder`).
        private var lf = Finder(0x0A), cr = Finder(0x0D)
        private var percent = Finder(UInt8(ascii: "%")), angle = Finder(UInt8(ascii: "<"))

        init(_ source: any ByteSource, from: Int64, count: Int64, chunk: Int = 64 * 1024) {
            self.source = source
            self.from = from
            self.count = max(0, count)
            self.chunk = max(1, chunk)
        }

        /// Drops the bytes before `index` (consumed lines) and appends the next chunk; false
        /// when there is no more.
        private mutating func more() throws -> Bool {
            guard !ended else { return false }
            let keep = min(index, window.count)
            if keep > 0 {
                window.removeSubrange(0..<keep)
                origin += Int64(keep)
                index -= keep
                lf.shift(keep); cr.shift(keep); percent.shift(keep); angle.shift(keep)
            }
            let at = origin + Int64(window.count)
            let n = Int(min(Int64(chunk), count - at))
            guard n > 0 else { ended = true; return false }
            let before = window.count
            try source.withBytes(at: from + at, count: n) { window.append(contentsOf: $0) }
            if window.count == before { ended = true; return false }   // the source ended early
            if window.count - before < n { ended = true }
            return true
        }

        /// The next line; nil after the last. The slice is valid until the next call.
        mutating func next() throws -> ArraySlice<UInt8>? {
            while index >= window.count { guard try more() else { return nil } }
            // The line's end (its CR or LF), with the byte after a CR in the window too, to
            // tell CR LF (one terminator) from CR alone.
            var end = 0
            var last = false
            while true {
                // (Again after `more`, which slides the window even when nothing more comes.)
                end = min(lf.find(in: window, from: index) ?? window.count, cr.find(in: window, from: index) ?? window.count)
                if last || (end < window.count && (window[end] == 0x0A || end + 1 < window.count)) { break }
                last = !(try more())
            }
            let line = window[index..<end]
            if end < window.count, window[end] == 0x0D, end + 1 < window.count, window[end + 1] == 0x0A {
                index = end + 2
            } else {
                index = min(end + 1, window.count)
            }
            return line
        }

        /// The next line, left to be read by `next`.
        mutating func peek() throws -> ArraySlice<UInt8>? {
            let at = origin + Int64(index)
            let line = try next()
            // `next` may have slid the window, but never past the line's start.
            index = Int(at - origin)
            return line
        }

        /// Skips the lines that start with neither "%" nor "<" (an empty line starts with its
        /// terminator): jumps from one "%" or "<" to the next, stopping at one that follows a
        /// CR or LF — the start of a line — so a megabyte of PostScript or hex image data is
        /// searched (memchr), not split into lines.
        mutating func skipToCommentOrPacket() throws {
            while index >= window.count { guard try more() else { return } }
            if window[index] == UInt8(ascii: "%") || window[index] == UInt8(ascii: "<") { return }
            var from = index + 1
            while true {
                let p = percent.find(in: window, from: from) ?? Int.max, a = angle.find(in: window, from: from) ?? Int.max
                let hit = min(p, a)
                if hit != Int.max {
                    // Every byte before `hit` exists (hit > index): a line starts there when the
                    // byte before it ends a line (CR, LF, or the LF of CR LF).
                    if window[hit - 1] == 0x0A || window[hit - 1] == 0x0D { index = hit; return }
                    from = hit + 1
                    continue
                }
                // None in the window: keep its last byte (is a line starting after it?) and
                // slide on.
                index = window.count - 1
                guard try more() else { index = window.count; return }
                from = index + 1
            }
        }
    }

    /// The next position of one byte at or after a point of a growing, sliding window: memchr,
    /// remembering how far it has searched, so lines ending in CR alone or LF alone (which the
    /// other byte's search would cross to the end of the window on every line) cost no more
    /// than one search of the window in all.
    struct Finder {
        let byte: UInt8
        /// No `byte` in `[from of the last search]..<at`; `at` is the hit, or the window's end.
        private var at = 0
        init(_ byte: UInt8) { self.byte = byte }

        mutating func shift(_ n: Int) { at = max(0, at - n) }

        mutating func find(in window: [UInt8], from: Int) -> Int? {
            if at < from { at = from }
            if at < window.count, window[at] == byte { return at }
            guard at < window.count else { return nil }
            at = window.withUnsafeBytes { raw in
                memchr(raw.baseAddress! + at, Int32(byte), raw.count - at).map { UnsafeRawPointer($0) - raw.baseAddress! }
            } ?? window.count
            return at < window.count ? at : nil
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

/// PC Paintbrush (PCX): the size from the header's window, as ExifTool reports it
/// (Xmax − Xmin + 1 by Ymax − Ymin + 1).
enum PCXReader {
    /// ExifTool's test: manufacturer 10, version 0 to 5, RLE encoding, 1, 2, 4 or 8 bits per
    /// pixel, and (at byte 68, past the 64 bytes a sniff has) a palette mode of 0 to 2.
    static func looksLikePCX(_ h: [UInt8], source: (any ByteSource)?) -> Bool {
        guard h.count >= 12, h[0] == 0x0A, h[1] <= 5, h[2] == 1, [1, 2, 4, 8].contains(h[3]) else { return false }
        // The whole 128-byte header must be there (ExifTool reads 80 bytes of it).
        guard let source, let b = try? source.exact(at: 68, count: 60) else { return false }
        return b[0] <= 2
    }

    static func read(_ c: MetadataCollector) throws {
        guard let h = try c.source.exact(at: 0, count: 12) else {
            c.problem("PCX", "the PCX header is truncated")
            return
        }
        let xMin = Int(h.u16(at: 4, bigEndian: false)!), yMin = Int(h.u16(at: 6, bigEndian: false)!)
        let xMax = Int(h.u16(at: 8, bigEndian: false)!), yMax = Int(h.u16(at: 10, bigEndian: false)!)
        guard xMax >= xMin, yMax >= yMin else {
            c.problem("PCX", "the PCX window \(xMin),\(yMin) to \(xMax),\(yMax) is empty")
            return
        }
        c.setDimensions(xMax - xMin + 1, yMax - yMin + 1, tag: "File")
    }
}

/// Netpbm images (PBM, PGM, PPM: magic P1 to P6): the width and height of the text header,
/// which may hold `#` comments anywhere before the raster.
enum NetpbmReader {
    /// Longest header read: comments may make it long, a picture's raster follows.
    static let maxHeader = 64 * 1024

    enum Header: Equatable {
        /// Width, height (and, but for PBM, a maximum value of 1 to 65535), each followed by
        /// white space or a comment.
        case complete(width: Int, height: Int)
        /// A header so far, cut short by the end of the bytes given.
        case incomplete
        /// Not a Netpbm header.
        case invalid
    }

    /// Parses the header at the start of `h`: "P1" to "P6", white space, then the numbers, with
    /// comments anywhere between them.
    static func header(_ h: [UInt8]) -> Header {
        guard h.count >= 3 else { return h.count == 0 || h[0] == UInt8(ascii: "P") ? .incomplete : .invalid }
        guard h[0] == UInt8(ascii: "P"), (UInt8(ascii: "1")...UInt8(ascii: "6")).contains(h[1]), isSpace(h[2]) else {
            return .invalid
        }
        let pbm = h[1] == UInt8(ascii: "1") || h[1] == UInt8(ascii: "4")
        var i = 2
        var numbers: [Int] = []
        while numbers.count < (pbm ? 2 : 3) {
            while i < h.count {
                if isSpace(h[i]) { i += 1 } else if h[i] == UInt8(ascii: "#") {
                    while i < h.count, h[i] != 0x0A, h[i] != 0x0D { i += 1 }
                } else { break }
            }
            guard i < h.count else { return .incomplete }
            var v = 0, digits = 0
            while i < h.count, isDigit(h[i]) {
                digits += 1
                guard digits <= 18 else { return .invalid }
                v = v * 10 + Int(h[i] - UInt8(ascii: "0")); i += 1
            }
            guard digits > 0 else { return .invalid }
            guard i < h.count else { return .incomplete }
            guard isSpace(h[i]) || h[i] == UInt8(ascii: "#") else { return .invalid }
            numbers.append(v)
        }
        if !pbm, !(1...65_535).contains(numbers[2]) { return .invalid }
        return .complete(width: numbers[0], height: numbers[1])
    }

    /// A whole header, from the sniff's first bytes or, when they end inside it, from up to
    /// 4 KiB of the file: text that merely starts like one ("P3 2023 budget review") is not
    /// taken for an image.
    static func looksLikeNetpbm(_ h: [UInt8], source: (any ByteSource)?) -> Bool {
        switch header(h) {
        case .complete: return true
        case .invalid: return false
        case .incomplete:
            guard let source, let more = try? source.read(at: 0, count: Int(min(4096, source.size))) else { return false }
            if case .complete = header(more) { return true }
            return false
        }
    }

    static func read(_ c: MetadataCollector) throws {
        let h = try c.source.read(at: 0, count: Int(min(Int64(maxHeader), c.source.size)))
        guard case let .complete(width, height) = header(h) else {
            c.problem("Netpbm", "the header does not give a width and height (and a maximum value of 1 to 65535) in its first \(h.count) bytes")
            return
        }
        guard width > 0, height > 0 else {
            c.problem("Netpbm", "the header gives a size of \(width) × \(height)")
            return
        }
        c.setDimensions(width, height, tag: "File")
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0B || b == 0x0C }
    private static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
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
