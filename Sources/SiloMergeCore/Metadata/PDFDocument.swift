/// Locates a PDF's objects: through classic cross-reference tables and cross-reference streams
/// (PDF 1.5+), following /Prev and /XRefStm, into object streams for the objects stored
/// compressed there; when the tables are broken, by searching the first and last megabyte for
/// "N G obj". Reads the last 64 KiB first and only the objects asked for.
final class PDFDocument {
    let source: any ByteSource
    private(set) var problems: [MetadataProblem] = []
    private(set) var trailer: [String: PDFValue] = [:]
    /// Objects stored in the file: their offset (-1 for free entries).
    private var offsets: [Int: Int64] = [:]
    /// Objects stored in object streams: the stream's number and the index inside it.
    private var compressed: [Int: (stream: Int, index: Int)] = [:]
    private var objectStreams: [Int: (pairs: [(number: Int, offset: Int)], data: [UInt8], first: Int)] = [:]
    private var tail: [UInt8] = []
    private var tailStart: Int64 = 0
    private var head: [UInt8]?
    private(set) var crypt: PDFCrypt?
    private var depth = 0

    /// True when the trailer names an /Encrypt dictionary, or when the trailer could not be
    /// read and the file mentions one: its strings are then never shown undecrypted.
    var isEncrypted: Bool { trailer["Encrypt"] != nil || encryptionSuspected }
    private var encryptionSuspected = false

    init(_ c: MetadataCollector) throws {
        source = c.source
        try loadTail(64 * 1024)
        try readCrossReferences()
        if trailer.isEmpty {
            try loadTail(MetadataLimits.scanWindow)
            findTrailerByScanning()
            if trailer["Encrypt"] == nil {
                if head == nil, tailStart > 0 { head = try source.read(at: 0, count: MetadataLimits.scanWindow) }
                let marker = asciiBytes("/Encrypt")
                encryptionSuspected = tail.indexOfBytes(marker) != nil || (head?.indexOfBytes(marker) != nil)
                if encryptionSuspected { problem("the file mentions /Encrypt but its trailer cannot be read; strings and streams are not read") }
            }
        }
        try setUpDecryption()
    }

    private func loadTail(_ window: Int) throws {
        let start = max(0, source.size - Int64(window))
        guard tail.isEmpty || start < tailStart else { return }
        tailStart = start
        tail = try source.read(at: tailStart, count: Int(source.size - tailStart))
    }

    private func problem(_ reason: String) {
        if problems.count < 16 { problems.append(MetadataProblem(block: "PDF", reason: reason)) }
    }

    // MARK: - Cross references

    private func readCrossReferences() throws {
        guard let sx = tail.lastIndexOfBytes(asciiBytes("startxref")) else {
            problem("no startxref near the end of the file")
            return
        }
        var lexer = PDFLexer(Array(tail[(sx + 9)...]))
        guard case .number(let first)? = lexer.value(), first >= 0, first < Double(source.size) else {
            problem("startxref does not give an offset inside the file")
            return
        }
        var queue: [Int64] = [Int64(first)]
        var seen: Set<Int64> = []
        while let offset = queue.first, seen.count <= 64 {
            queue.removeFirst()
            guard seen.insert(offset).inserted else { continue }
            let chunk = try source.read(at: offset, count: 256 * 1024)
            var dict: [String: PDFValue]
            if chunk.hasBytes(asciiBytes("xref")) {
                guard let d = readTable(chunk, at: offset) else { return }
                dict = d
            } else if let d = try readXRefStream(at: offset) {
                dict = d
            } else {
                if seen.count == 1 { problem("startxref points at neither a cross-reference table nor stream; searching instead") }
                return
            }
            for (k, v) in dict where trailer[k] == nil && !["Type", "W", "Index", "Filter", "DecodeParms", "Length", "Prev", "XRefStm"].contains(k) {
                trailer[k] = v
            }
            // A hybrid file's table points at a stream holding the objects the table omits.
            if case .number(let x)? = dict["XRefStm"], x >= 0, x < Double(source.size) { queue.insert(Int64(x), at: 0) }
            if case .number(let prev)? = dict["Prev"], prev >= 0, prev < Double(source.size) { queue.append(Int64(prev)) }
        }
    }

    /// A classic table: subsections of "start count" then count 20-byte entries; then the trailer.
    private func readTable(_ chunk: [UInt8], at offset: Int64) -> [String: PDFValue]? {
        var lexer = PDFLexer(Array(chunk[4...]))
        while true {
            lexer.skipWhitespace()
            if lexer.starts(with: "trailer") { lexer.advance(7); break }
            guard case .number(let s)? = lexer.value(), case .number(let n)? = lexer.value(),
                  s >= 0, n >= 0, n < 10_000_000, s < 10_000_000 else {
                problem("malformed cross-reference table at \(offset)")
                return nil
            }
            lexer.skipWhitespace()
            for i in 0..<Int(n) {
                // A table longer than the window read: keep what we have; objects not listed
                // are found by searching.
                guard let entry = lexer.take(20) else { return nil }
                let parts = String(decoding: entry, as: UTF8.self).split(separator: " ")
                guard parts.count >= 3, let off = Int64(parts[0]) else { continue }
                let number = Int(s) + i
                guard offsets[number] == nil, compressed[number] == nil else { continue }
                if parts[2].hasPrefix("n") { offsets[number] = off } else if parts[2].hasPrefix("f") { offsets[number] = -1 }
            }
        }
        guard case .dictionary(let dict)? = lexer.value() else {
            problem("no trailer dictionary after the cross-reference table at \(offset)")
            return nil
        }
        return dict
    }

    /// A cross-reference stream (/Type /XRef): binary entries of /W widths, /Index ranges.
    private func readXRefStream(at offset: Int64) throws -> [String: PDFValue]? {
        guard let (dict, raw) = try streamAt(offset), dict["Type"] == .name("XRef") else { return nil }
        guard case .array(let w)? = dict["W"], w.count == 3 else {
            problem("the cross-reference stream at \(offset) has no /W")
            return nil
        }
        let widths = w.map { v -> Int in if case .number(let n) = v, n >= 0, n <= 8 { return Int(n) }; return -1 }
        guard !widths.contains(-1) else { return nil }
        let data: [UInt8]
        switch decode(dict, raw) {
        case .success(let d): data = d
        case .failure(let why):
            problem("the cross-reference stream at \(offset) cannot be decoded: \(why)")
            return nil
        }
        var ranges: [(Int, Int)] = []
        if case .array(let index)? = dict["Index"] {
            var k = 0
            while k + 1 < index.count {
                if case .number(let a) = index[k], case .number(let b) = index[k + 1], a >= 0, b >= 0, a < 1e8, b < 1e8 { ranges.append((Int(a), Int(b))) }
                k += 2
            }
        } else if case .number(let size)? = dict["Size"], size >= 0, size < 1e8 {
            ranges = [(0, Int(size))]
        }
        let entry = widths.reduce(0, +)
        guard entry > 0 else { return dict }
        var pos = 0
        func field(_ n: Int, default d: Int) -> Int {
            guard n > 0 else { return d }
            var v = 0
            for k in 0..<n { v = v << 8 | Int(data[pos + k]) }
            pos += n
            return v
        }
        outer: for (start, count) in ranges {
            for i in 0..<count {
                guard pos + entry <= data.count else { break outer }
                let type = field(widths[0], default: 1), f2 = field(widths[1], default: 0), f3 = field(widths[2], default: 0)
                let number = start + i
                guard offsets[number] == nil, compressed[number] == nil else { continue }
                switch type {
                case 0: offsets[number] = -1
                case 1: offsets[number] = Int64(f2)
                case 2: compressed[number] = (f2, f3)
                default: break
                }
            }
        }
        return dict
    }

    /// For files whose cross references cannot be read: the last "trailer" dictionary, or the
    /// last /Root, /Info and /Encrypt references anywhere in the tail.
    private func findTrailerByScanning() {
        if let t = tail.lastIndexOfBytes(asciiBytes("trailer")) {
            var lexer = PDFLexer(Array(tail[(t + 7)...]))
            if case .dictionary(let d)? = lexer.value() { trailer = d; return }
        }
        for key in ["Root", "Info", "Encrypt"] {
            if let k = tail.lastIndexOfBytes(asciiBytes("/") + Array(key.utf8)) {
                var lexer = PDFLexer(Array(tail[(k + 1 + key.count)...]))
                if let v = lexer.value(), case .reference = v { trailer[key] = v }
            }
        }
        if let k = tail.lastIndexOfBytes(asciiBytes("/ID")) {
            var lexer = PDFLexer(Array(tail[(k + 3)...]))
            if let v = lexer.value(), case .array = v { trailer["ID"] = v }
        }
    }

    // MARK: - Encryption

    private func setUpDecryption() throws {
        guard let e = trailer["Encrypt"] else { return }
        var dict: [String: PDFValue]?
        if case .reference(let ref) = e { dict = try object(ref)?.dictionary } else { dict = e.dictionary }
        var id: [UInt8] = []
        if case .array(let ids)? = trailer["ID"], case .string(let first)? = ids.first { id = first }
        guard let dict else {
            problem("the file is encrypted and its /Encrypt dictionary cannot be read; strings and streams are not read")
            return
        }
        switch PDFCrypt.make(dict, id: id) {
        case .success(let c): crypt = c
        case .failure(let why): problem("the file is \(why); strings and streams are not read")
        }
    }

    /// A string of object `id` in clear text; nil when the file is encrypted and cannot be read.
    /// Strings inside object streams are not encrypted of their own.
    func decryptString(_ bytes: [UInt8], in id: PDFObjectID) -> [UInt8]? {
        guard isEncrypted else { return bytes }
        if compressed[id.number] != nil { return bytes }
        return crypt?.decrypt(bytes, object: id, stream: false)
    }

    // MARK: - Objects

    /// The object's value (the dictionary of a stream).
    func object(_ id: PDFObjectID) throws -> PDFValue? {
        if let (stream, index) = compressed[id.number] { return try compressedObject(id, stream: stream, index: index) }
        guard let (_, bytes, start) = try objectBytes(id) else { return nil }
        var lexer = PDFLexer(bytes, from: start)
        return lexer.value()
    }

    private func compressedObject(_ id: PDFObjectID, stream: Int, index: Int) throws -> PDFValue? {
        guard depth < 4 else { return nil }
        depth += 1
        defer { depth -= 1 }
        if objectStreams[stream] == nil {
            if objectStreams.count >= 8 { objectStreams.removeAll() }
            guard case .success(let data)? = try decodedStream(PDFObjectID(number: stream, generation: 0)),
                  let (dict, _) = try self.stream(PDFObjectID(number: stream, generation: 0)),
                  case .number(let n)? = dict["N"], case .number(let first)? = dict["First"],
                  n >= 0, n < 1e6, first >= 0, first < Double(data.count) else {
                problem("object stream \(stream) cannot be read")
                return nil
            }
            var lexer = PDFLexer(Array(data.prefix(Int(first))))
            var pairs: [(Int, Int)] = []
            for _ in 0..<Int(n) {
                guard case .number(let num)? = lexer.value(), case .number(let off)? = lexer.value(), off >= 0, off < 1e9, num >= 0, num < 1e9 else { break }
                pairs.append((Int(num), Int(off)))
            }
            objectStreams[stream] = (pairs.map { (number: $0.0, offset: $0.1) }, data, Int(first))
        }
        guard let s = objectStreams[stream] else { return nil }
        let pair = index < s.pairs.count && s.pairs[index].number == id.number ? s.pairs[index] : s.pairs.first { $0.number == id.number }
        guard let pair, s.first + pair.offset < s.data.count else { return nil }
        var lexer = PDFLexer(s.data, from: s.first + pair.offset)
        return lexer.value()
    }

    /// The dictionary and raw (still encoded, still encrypted) data of a stream object.
    func stream(_ id: PDFObjectID) throws -> ([String: PDFValue], [UInt8])? {
        guard compressed[id.number] == nil, let (offset, bytes, start) = try objectBytes(id) else { return nil }
        return try streamData(offset: offset, bytes: bytes, start: start, id: id)
    }

    /// A stream's data decrypted and decoded; nil when there is no such stream.
    func decodedStream(_ id: PDFObjectID) throws -> Result<[UInt8], PDFFailure>? {
        guard let (dict, raw) = try stream(id) else { return nil }
        var data = raw
        if isEncrypted, !(dict["Type"] == .name("Metadata") && crypt?.encryptMetadata == false) {
            guard let crypt else { return .failure(PDFFailure("the file is encrypted")) }
            guard let plain = crypt.decrypt(raw, object: id, stream: true) else { return .failure(PDFFailure("it cannot be decrypted")) }
            data = plain
        }
        return decode(dict, data)
    }

    /// The object at a known offset, read as a stream (cross-reference streams).
    private func streamAt(_ offset: Int64) throws -> ([String: PDFValue], [UInt8])? {
        let bytes = try source.read(at: offset, count: 64 * 1024)
        var lexer = PDFLexer(bytes)
        guard case .number(let n)? = lexer.value(), case .number(let g)? = lexer.value(), n >= 0, g >= 0 else { return nil }
        lexer.skipWhitespace()
        guard lexer.starts(with: "obj") else { return nil }
        lexer.advance(3)
        return try streamData(offset: offset, bytes: bytes, start: lexer.position, id: PDFObjectID(number: Int(n), generation: Int(g)))
    }

    private func streamData(offset: Int64, bytes: [UInt8], start: Int, id: PDFObjectID) throws -> ([String: PDFValue], [UInt8])? {
        var lexer = PDFLexer(bytes, from: start)
        guard case .dictionary(let dict)? = lexer.value() else { return nil }
        lexer.skipWhitespace()
        guard lexer.starts(with: "stream") else { return nil }
        lexer.advance(6)
        if lexer.peek == 0x0D { lexer.advance(1) }
        if lexer.peek == 0x0A { lexer.advance(1) }
        let dataStart = offset + Int64(lexer.position)
        var length: Int?
        if case .number(let l)? = dict["Length"], l >= 0, l <= Double(MetadataLimits.maxBlock) { length = Int(l) }
        if depth < 4, case .reference(let ref)? = dict["Length"] {
            depth += 1
            defer { depth -= 1 }
            if case .number(let l)? = try object(ref), l >= 0, l <= Double(MetadataLimits.maxBlock) { length = Int(l) }
        }
        if let length, let data = try source.exact(at: dataStart, count: length) {
            return (dict, data)
        }
        // Without a usable /Length: up to "endstream", within the block limit.
        let window = try source.read(at: dataStart, count: MetadataLimits.maxBlock)
        guard let e = window.indexOfBytes(asciiBytes("endstream")) else {
            problem("stream \(id.number) \(id.generation) has no endstream within the limit")
            return nil
        }
        var end = e
        while end > 0, window[end - 1] == 0x0A || window[end - 1] == 0x0D { end -= 1 }
        return (dict, Array(window[..<end]))
    }

    /// Applies the stream's filters: none, or FlateDecode (with PNG or TIFF predictors).
    func decode(_ dict: [String: PDFValue], _ data: [UInt8]) -> Result<[UInt8], PDFFailure> {
        var filters: [String] = []
        switch dict["Filter"] {
        case nil: break
        case .name(let n)?: filters = [n]
        case .array(let a)?: filters = a.compactMap { if case .name(let n) = $0 { return n }; return nil }
        default: return .failure(PDFFailure("an unreadable /Filter"))
        }
        var parms: [[String: PDFValue]] = []
        switch dict["DecodeParms"] {
        case .dictionary(let d)?: parms = [d]
        case .array(let a)?: parms = a.map { $0.dictionary ?? [:] }
        default: break
        }
        var out = data
        for (i, f) in filters.enumerated() {
            guard f == "FlateDecode" || f == "Fl" else { return .failure(PDFFailure("filter /\(f) is not supported")) }
            switch Inflate.zlib(out[...]) {
            case .success(let d): out = d
            case .failure(let why): return .failure(PDFFailure("\(why)"))
            }
            let p = i < parms.count ? parms[i] : [:]
            if case .number(let predictor)? = p["Predictor"], predictor >= 10 {
                var columns = 1
                if case .number(let c)? = p["Columns"], c >= 1, c <= 1_048_576 { columns = Int(c) }
                guard let d = PNGPredictor.undo(out, columns: columns) else { return .failure(PDFFailure("a malformed PNG predictor")) }
                out = d
            }
        }
        return .success(out)
    }

    /// Where an object starts, the bytes from there (64 KiB), and where its value starts in them.
    private func objectBytes(_ id: PDFObjectID) throws -> (Int64, [UInt8], Int)? {
        let header = Array("\(id.number) \(id.generation) obj".utf8)
        let window = 64 * 1024
        if let off = offsets[id.number], off >= 0, off < source.size {
            let bytes = try source.read(at: off, count: window)
            if let at = headerStart(bytes, header) { return (off, bytes, at) }
            problem("object \(id.number) is not at the offset the cross-reference table gives")
        }
        // Search the windows: the last definition wins (incremental updates append).
        try loadTail(MetadataLimits.scanWindow)
        if let i = lastDefinition(header, in: tail) {
            let off = tailStart + Int64(i)
            return (off, try source.read(at: off, count: window), header.count)
        }
        if head == nil, tailStart > 0 {
            head = try source.read(at: 0, count: MetadataLimits.scanWindow)
        }
        if let head, let i = lastDefinition(header, in: head) {
            return (Int64(i), try source.read(at: Int64(i), count: window), header.count)
        }
        return nil
    }

    /// "N G obj" at the start, allowing line breaks or several spaces between the parts.
    private func headerStart(_ bytes: [UInt8], _ header: [UInt8]) -> Int? {
        if bytes.hasBytes(header) { return header.count }
        var lexer = PDFLexer(Array(bytes.prefix(64)))
        guard case .number = lexer.value(), case .number = lexer.value() else { return nil }
        lexer.skipWhitespace()
        guard lexer.starts(with: "obj") else { return nil }
        let parts = String(decoding: header, as: UTF8.self).split(separator: " ")
        var check = PDFLexer(Array(bytes.prefix(64)))
        guard case .number(let n)? = check.value(), case .number(let g)? = check.value(),
              "\(Int(n))" == parts[0], "\(Int(g))" == parts[1] else { return nil }
        return lexer.position + 3
    }

    /// The last "N G obj" preceded by a delimiter (so "11 0 obj" does not match "1 0 obj").
    private func lastDefinition(_ header: [UInt8], in bytes: [UInt8]) -> Int? {
        var before = bytes.count
        while let i = bytes.lastIndexOfBytes(header, before: before) {
            if i == 0 || PDFLexer.isWhitespace(bytes[i - 1]) || PDFLexer.isDelimiter(bytes[i - 1]) { return i }
            before = i + header.count - 1
        }
        return nil
    }

    /// The fallback: the last `<?xpacket` packet in the tail (else the head) that is not inside
    /// a stream whose dictionary names a /Filter.
    func lastUncompressedPacket() throws -> [UInt8]? {
        try loadTail(MetadataLimits.scanWindow)
        if let p = lastPacket(in: tail) { return p }
        if head == nil, tailStart > 0 { head = try source.read(at: 0, count: MetadataLimits.scanWindow) }
        if let head, tailStart > 0 { return lastPacket(in: head) }
        return nil
    }

    private func lastPacket(in bytes: [UInt8]) -> [UInt8]? {
        // The last 64 packets at most: each check scans backwards, and a hostile file could
        // otherwise make that quadratic.
        for range in XPacketScanner.packets(in: bytes).suffix(64).reversed() {
            // The dictionary of the enclosing stream: between the last "obj" and "stream" before it.
            if let s = bytes.lastIndexOfBytes(asciiBytes("stream"), before: range.lowerBound),
               let o = bytes.lastIndexOfBytes(asciiBytes("obj"), before: s),
               bytes[o..<s].indexOfBytes(asciiBytes("/Filter")) != nil {
                continue
            }
            return Array(bytes[range])
        }
        return nil
    }
}

/// PNG predictors (PDF /Predictor 10–15): each row starts with its filter type byte.
enum PNGPredictor {
    static func undo(_ data: [UInt8], columns: Int) -> [UInt8]? {
        let row = columns + 1
        guard row > 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(data.count / row * columns)
        var previous = [UInt8](repeating: 0, count: columns)
        var i = 0
        while i + row <= data.count {
            let type = data[i]
            var current = Array(data[(i + 1)..<(i + row)])
            for k in 0..<columns {
                let left = k > 0 ? Int(current[k - 1]) : 0, up = Int(previous[k]), upLeft = k > 0 ? Int(previous[k - 1]) : 0
                let x = Int(current[k])
                switch type {
                case 0: break
                case 1: current[k] = UInt8((x + left) & 255)
                case 2: current[k] = UInt8((x + up) & 255)
                case 3: current[k] = UInt8((x + (left + up) / 2) & 255)
                case 4:
                    let p = left + up - upLeft
                    let pa = abs(p - left), pb = abs(p - up), pc = abs(p - upLeft)
                    let pred = pa <= pb && pa <= pc ? left : (pb <= pc ? up : upLeft)
                    current[k] = UInt8((x + pred) & 255)
                default: return nil
                }
            }
            out += current
            previous = current
            i += row
        }
        return out
    }
}

/// Why a stream could not be read, for notes.
struct PDFFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
