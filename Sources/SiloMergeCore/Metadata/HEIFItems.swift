/// HEIF / AVIF items (ISO/IEC 23008-12): the top-level `meta` box lists items (`iinf`), where
/// their bytes are (`iloc`, in the file or in `idat`), their properties (`iprp/ipco` + `ipma`),
/// the references between them (`iref`) and which one is the picture (`pitm`).
struct HEIFItems {
    struct Extent { var offset: Int64; var length: Int64 }
    /// The primary picture's data ranges (`primaryImageRanges`), or why there are none.
    typealias PrimaryRanges = Result<[Extent], MetadataProblem>
    struct Item {
        var id: UInt32
        var type: [UInt8] = []
        var contentType: String = ""
        /// 0: offsets in the file; 1: offsets in `idat`; 2: in another item (not supported).
        var construction: UInt8 = 0
        var extents: [Extent] = []
    }

    var primary: UInt32?
    var items: [UInt32: Item] = [:]
    /// Item → its derivation inputs (`dimg`), in order.
    var derivedFrom: [UInt32: [UInt32]] = [:]
    /// Item → properties (`ipco` entries, in association order).
    var properties: [UInt32: [Int]] = [:]
    var spatialExtents: [Int: (Int, Int)] = [:]
    /// Where `idat` data starts in the file.
    var idat: (start: Int64, end: Int64)?
    var problems: [String] = []

    static let maxItems = 100_000

    /// Parses the `meta` box's children. Problems are collected; whatever parsed is kept.
    static func parse(_ source: any ByteSource, meta: BMFFReader.Box, boxes: (Int64, Int64) throws -> [BMFFReader.Box]) throws -> HEIFItems {
        var h = HEIFItems()
        // `meta` is a full box: 4 bytes of version and flags before its children.
        for b in try boxes(meta.dataStart + 4, meta.end) {
            switch b.name {
            case "pitm":
                guard let d = try source.exact(at: b.dataStart, count: min(Int(b.dataSize), 8)), d.count >= 6 else { continue }
                h.primary = d[0] == 0 ? UInt32(d.u16(at: 4, bigEndian: true)!) : d.u32(at: 4, bigEndian: true)
            case "iinf":
                try h.readItemInfo(source, b, boxes: boxes)
            case "iloc":
                try h.readLocations(source, b)
            case "iprp":
                for p in try boxes(b.dataStart, b.end) {
                    if p.is("ipco") { try h.readPropertyContainer(source, p, boxes: boxes) }
                    else if p.is("ipma") { try h.readAssociations(source, p) }
                }
            case "iref":
                try h.readReferences(source, b)
            case "idat":
                h.idat = (b.dataStart, b.end)
            default:
                break
            }
        }
        return h
    }

    /// The ids of items of `type` (for `mime`, with this content type), in id order.
    func items(ofType type: StaticString, contentType: String? = nil) -> [Item] {
        items.values.filter { $0.type.count == type.utf8CodeUnitCount && $0.type.hasBytes(type) && (contentType == nil || $0.contentType.lowercased() == contentType) }
            .sorted { $0.id < $1.id }
    }

    /// The primary item's `ispe` size.
    var primarySize: (Int, Int)? {
        guard let primary, let props = properties[primary] else { return nil }
        for index in props { if let s = spatialExtents[index] { return s } }
        return nil
    }

    /// The byte ranges (in the file) of an item's data, or nil with a reason.
    func ranges(of item: Item, fileSize: Int64) -> Result<[Extent], MetadataProblem> {
        var out: [Extent] = []
        for e in item.extents {
            var offset = e.offset
            var end: Int64
            switch item.construction {
            case 0:
                guard let x = offset.checkedAdd(e.length) else { return .failure(problem("item \(item.id) extent overflows")) }
                end = x
                guard end <= fileSize, offset >= 0 else {
                    return .failure(problem("item \(item.id) lies at \(offset)+\(e.length), past the end of the file"))
                }
            case 1:
                guard let idat else { return .failure(problem("item \(item.id) is in an idat box the file does not have")) }
                guard let start = idat.start.checkedAdd(offset), let x = start.checkedAdd(e.length), x <= idat.end else {
                    return .failure(problem("item \(item.id) lies past the end of its idat box"))
                }
                offset = start
                end = x
            default:
                return .failure(problem("item \(item.id) is built from other items (construction method \(item.construction)); not read"))
            }
            // Length 0 means "to the end of the file".
            if e.length == 0 { end = fileSize }
            out.append(Extent(offset: offset, length: end - offset))
        }
        return .success(out)
    }

    /// An item's data read whole, within the block limit.
    func data(of item: Item, _ source: any ByteSource) throws -> Result<[UInt8], MetadataProblem> {
        switch ranges(of: item, fileSize: source.size) {
        case .failure(let p): return .failure(p)
        case .success(let extents):
            var out: [UInt8] = []
            for e in extents {
                guard Int64(out.count) + e.length <= Int64(MetadataLimits.maxBlock) else {
                    return .failure(problem("item \(item.id) is larger than the \(MetadataLimits.maxBlock)-byte limit"))
                }
                guard let d = try source.exact(at: e.offset, count: Int(e.length)) else {
                    return .failure(problem("item \(item.id) is truncated"))
                }
                out += d
            }
            return .success(out)
        }
    }

    private func problem(_ reason: String) -> MetadataProblem { MetadataProblem(block: "HEIF", reason: reason) }

    // MARK: - Boxes

    private mutating func readItemInfo(_ source: any ByteSource, _ b: BMFFReader.Box, boxes: (Int64, Int64) throws -> [BMFFReader.Box]) throws {
        guard let head = try source.exact(at: b.dataStart, count: min(Int(b.dataSize), 8)), head.count >= 6 else { return }
        let childrenStart = b.dataStart + (head[0] == 0 ? 6 : 8)
        for infe in try boxes(childrenStart, b.end) where infe.is("infe") {
            guard items.count < Self.maxItems else { problems.append("more than \(Self.maxItems) items"); return }
            guard infe.dataSize <= 64 * 1024, let d = try source.exact(at: infe.dataStart, count: Int(infe.dataSize)) else { continue }
            var r = ByteReader(d)
            guard let version = r.u8(), r.skip(3), version >= 2 else { continue }   // versions 0/1 predate item types
            guard let id = version == 2 ? r.u16().map(UInt32.init) : r.u32(), r.skip(2), let type = r.bytes(4) else { continue }
            var item = items[id] ?? Item(id: id)
            item.type = Array(type)
            _ = r.cString(limit: 4096)   // item_name
            if item.type.count == 4 && item.type.hasBytes("mime"), let ct = r.cString(limit: 4096) ?? Optional(r.rest()) {
                item.contentType = String(decoding: ct, as: UTF8.self).metadataTrimmed
            }
            items[id] = item
        }
    }

    private mutating func readLocations(_ source: any ByteSource, _ b: BMFFReader.Box) throws {
        guard b.dataSize <= Int64(MetadataLimits.maxBlock), let d = try source.exact(at: b.dataStart, count: Int(b.dataSize)) else {
            problems.append("the iloc box cannot be read")
            return
        }
        var r = ByteReader(d)
        guard let version = r.u8(), r.skip(3), let sizes = r.u8(), let sizes2 = r.u8() else { return }
        let offsetSize = Int(sizes >> 4), lengthSize = Int(sizes & 15), baseOffsetSize = Int(sizes2 >> 4)
        let indexSize = version == 1 || version == 2 ? Int(sizes2 & 15) : 0
        guard [0, 4, 8].contains(offsetSize), [0, 4, 8].contains(lengthSize), [0, 4, 8].contains(baseOffsetSize),
              [0, 4, 8].contains(indexSize) else {
            problems.append("iloc field sizes \(offsetSize)/\(lengthSize)/\(baseOffsetSize)/\(indexSize) are not 0, 4 or 8")
            return
        }
        func value(_ n: Int) -> UInt64? {
            switch n {
            case 0: return 0
            case 4: return r.u32().map(UInt64.init)
            default: return r.u64()
            }
        }
        guard let count = version < 2 ? r.u16().map(UInt32.init) : r.u32() else { return }
        for _ in 0..<min(Int(count), Self.maxItems) {
            guard let id = version < 2 ? r.u16().map(UInt32.init) : r.u32() else { problems.append("iloc is truncated"); return }
            var construction: UInt8 = 0
            if version == 1 || version == 2 {
                guard let cm = r.u16() else { return }
                construction = UInt8(cm & 15)
            }
            guard r.skip(2), let base = value(baseOffsetSize), let extentCount = r.u16() else { problems.append("iloc is truncated"); return }
            var item = items[id] ?? Item(id: id)
            item.construction = construction
            item.extents = []
            for _ in 0..<Int(extentCount) {
                if indexSize > 0 { guard value(indexSize) != nil else { return } }
                guard let off = value(offsetSize), let len = value(lengthSize) else { problems.append("iloc is truncated"); return }
                guard base <= UInt64(Int64.max), off <= UInt64(Int64.max) - base, len <= UInt64(Int64.max) else {
                    problems.append("item \(id) has an extent beyond any file size")
                    break
                }
                if item.extents.count < 4096 { item.extents.append(Extent(offset: Int64(base + off), length: Int64(len))) }
            }
            items[id] = item
        }
    }

    private mutating func readPropertyContainer(_ source: any ByteSource, _ b: BMFFReader.Box, boxes: (Int64, Int64) throws -> [BMFFReader.Box]) throws {
        for (i, p) in try boxes(b.dataStart, b.end).enumerated() where p.is("ispe") {
            if let d = try source.exact(at: p.dataStart, count: 12), let w = d.u32(at: 4, bigEndian: true), let h = d.u32(at: 8, bigEndian: true),
               w > 0, h > 0, w < 1 << 30, h < 1 << 30 {
                spatialExtents[i + 1] = (Int(w), Int(h))
            }
        }
    }

    private mutating func readAssociations(_ source: any ByteSource, _ b: BMFFReader.Box) throws {
        guard b.dataSize <= Int64(MetadataLimits.maxBlock), let d = try source.exact(at: b.dataStart, count: Int(b.dataSize)) else { return }
        var r = ByteReader(d)
        guard let version = r.u8(), let f1 = r.u8(), let f2 = r.u8(), let f3 = r.u8(), let count = r.u32() else { return }
        let flags = UInt32(f1) << 16 | UInt32(f2) << 8 | UInt32(f3)
        for _ in 0..<min(Int(count), Self.maxItems) {
            guard let id = version < 1 ? r.u16().map(UInt32.init) : r.u32(), let n = r.u8() else { return }
            var list: [Int] = []
            for _ in 0..<Int(n) {
                if flags & 1 != 0 { guard let v = r.u16() else { return }; list.append(Int(v & 0x7FFF)) }
                else { guard let v = r.u8() else { return }; list.append(Int(v & 0x7F)) }
            }
            properties[id, default: []] += list
        }
    }

    private mutating func readReferences(_ source: any ByteSource, _ b: BMFFReader.Box) throws {
        guard b.dataSize <= Int64(MetadataLimits.maxBlock), let d = try source.exact(at: b.dataStart, count: Int(b.dataSize)) else { return }
        var r = ByteReader(d)
        guard let version = r.u8(), r.skip(3) else { return }
        var boxes = 0
        while r.remaining >= 8, boxes < Self.maxItems {
            boxes += 1
            let start = r.offset
            guard let size = r.u32(), let type = r.bytes(4), size >= 8, Int(size) <= r.remaining + 8 else { return }
            let end = start + Int(size)
            if Array(type) == asciiBytes("dimg"), let from = version == 0 ? r.u16().map(UInt32.init) : r.u32(), let n = r.u16() {
                var to: [UInt32] = []
                for _ in 0..<Int(n) {
                    guard r.offset < end, let t = version == 0 ? r.u16().map(UInt32.init) : r.u32() else { break }
                    to.append(t)
                }
                derivedFrom[from] = to
            }
            r.seek(to: end)
        }
    }
}

extension HEIFItems {
    /// Reads the HEIF items of a top-level `meta` into the collector: the primary item's size,
    /// the Exif item, the XMP item.
    static func read(_ c: MetadataCollector, meta: BMFFReader.Box, state: inout BMFFReader.State) throws {
        let h = try parse(c.source, meta: meta) { try BMFFReader.boxes(c, from: $0, to: $1) }
        // The image hash reads the first top-level `meta`'s primary picture: kept for it.
        if c.heifPrimary == nil { c.heifPrimary = h.primaryImageRanges(fileSize: c.source.size) }
        for p in h.problems { c.problem("HEIF", p) }
        if let (w, hgt) = h.primarySize { c.setDimensions(w, hgt, tag: "HEIF") }
        for item in h.items(ofType: "Exif").prefix(1) {
            switch try h.data(of: item, c.source) {
            case .failure(let p): c.addProblems([p])
            case .success(let d):
                // A 4-byte offset to the TIFF header (after "Exif\0\0", usually 6), then the data.
                guard let skip = d.u32(at: 0, bigEndian: true), Int(skip) <= d.count - 4 else {
                    c.problem("HEIF", "the Exif item's header offset points past its data")
                    continue
                }
                var tiff = Array(d[(4 + Int(skip))...])
                if tiff.hasBytes(JPEGReader.exifHeader) { tiff.removeFirst(6) }
                c.addEXIF(tiff)
            }
        }
        if !c.foundXMP, let item = h.items(ofType: "mime", contentType: "application/rdf+xml").first {
            switch try h.data(of: item, c.source) {
            case .failure(let p): c.addProblems([p])
            case .success(let d): c.addXMP(d, block: "XMP")
            }
        }
    }

    /// The file ranges of the primary picture's coded data: the primary item, then, for a
    /// derived picture (a grid, an overlay), the items it is derived from, in reference order.
    func primaryImageRanges(fileSize: Int64) -> PrimaryRanges {
        guard let primary, let item = items[primary] else { return .failure(problem("no primary item")) }
        var out: [Extent] = []
        switch ranges(of: item, fileSize: fileSize) {
        case .failure(let p): return .failure(p)
        case .success(let r): out += r
        }
        for id in (derivedFrom[primary] ?? []).prefix(Self.maxItems) {
            guard let tile = items[id] else { return .failure(problem("item \(primary) is derived from item \(id), which is not listed")) }
            switch ranges(of: tile, fileSize: fileSize) {
            case .failure(let p): return .failure(p)
            case .success(let r): out += r
            }
        }
        return .success(out)
    }
}

// MARK: - Image hash of ISO BMFF files

extension ImageDataHash {
    /// HEIC/HEIF and AVIF: the coded data of the primary picture — the primary item's bytes
    /// then, for a derived picture (a grid of tiles, an overlay), the bytes of each item it is
    /// derived from, in the order `iref/dimg` lists them. Exif, XMP, thumbnails and every box
    /// outside the items' data are left out, so rewriting the metadata (which moves the data
    /// about in the file) keeps the hash.
    /// `primary`: those ranges as the metadata reader already parsed them from the same file
    /// (`MetadataCollector.heifPrimary`), else they are parsed here.
    static func heif(_ s: some ByteSource, _ h: Counting, primary: HEIFItems.PrimaryRanges? = nil) throws {
        let ranges: HEIFItems.PrimaryRanges
        if let primary {
            ranges = primary
        } else {
            let c = MetadataCollector(source: s)
            let top = try BMFFReader.boxes(c, from: 0, to: s.size)
            guard let meta = top.first(where: { $0.is("meta") }) else {
                throw MetadataProblem(block: "HEIF", reason: "no top-level meta box")
            }
            let items = try HEIFItems.parse(s, meta: meta) { try BMFFReader.boxes(c, from: $0, to: $1) }
            ranges = items.primaryImageRanges(fileSize: s.size)
        }
        switch ranges {
        case .failure(let p): throw p
        case .success(let extents):
            // No bytes is no picture: an empty hash would make every such file "the same image".
            guard extents.contains(where: { $0.length > 0 }) else {
                throw MetadataProblem(block: "HEIF", reason: "the primary item has no data")
            }
            for e in extents { try hashBytes(s, h, e.offset, e.length, "HEIF") }
        }
    }

    /// MP4, MOV, 3GP, CR3: the media data — the payload of every top-level `mdat` box, in file
    /// order. Metadata lives in `moov` (and `uuid` boxes), which editing tools rewrite; the
    /// samples they leave alone.
    static func mediaData(_ s: some ByteSource, _ h: Counting) throws {
        let c = MetadataCollector(source: s)
        let mdats = try BMFFReader.boxes(c, from: 0, to: s.size).filter { $0.is("mdat") }
        // No media bytes (a reference movie, an empty mdat) is no picture: an empty hash would
        // make every such file "the same image".
        guard mdats.contains(where: { $0.dataSize > 0 }) else { throw MetadataProblem(block: "BMFF", reason: "no media data (no mdat box, or an empty one)") }
        if let p = c.problems.first { throw p }
        for m in mdats { try hashBytes(s, h, m.dataStart, m.dataSize, "BMFF") }
    }

    /// Hashes `count` bytes at `offset` in 1 MiB reads; throws when the file is shorter.
    static func hashBytes(_ s: some ByteSource, _ h: Counting, _ offset: Int64, _ count: Int64, _ what: String) throws {
        guard let end = offset.checkedAdd(count), end <= s.size, offset >= 0 else {
            throw MetadataProblem(block: what, reason: "data at offset \(offset) (+\(count) bytes) runs past the end of the file")
        }
        var pos = offset
        while pos < end {
            let n = h.worthReading(Int(min(Int64(1 << 20), end - pos)))
            let bytes = try s.read(at: pos, count: n)
            guard bytes.count == n else { throw MetadataProblem(block: what, reason: "short read at offset \(pos)") }
            try h.update(bytes, at: pos)
            pos += Int64(n)
        }
    }
}
