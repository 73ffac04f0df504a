/// Photoshop image resources (8BIM) and the IPTC IIM records inside them.
enum IPTCReader {
    struct Resources {
        /// Resource 0x0404: the IPTC IIM records.
        var iim: [UInt8]?
        /// Resource 0x0425: the MD5 of the IIM data when the XMP was last synchronised.
        var digest: [UInt8]?
        /// Resource 0x0422: an EXIF block (TIFF structure), as Photoshop stores it in PSD files.
        var exif: [UInt8]?
        /// Resource 0x0424: the XMP packet.
        var xmp: [UInt8]?
    }

    /// Walks Photoshop image resource blocks: signature "8BIM" (or the rarer "PHUT", "AgHg",
    /// "DCSR", "MeSa"), 2-byte id, even-padded Pascal name, 4-byte size, data padded to even.
    static func resources(_ bytes: [UInt8], problems: inout [MetadataProblem]) -> Resources {
        var out = Resources()
        var r = ByteReader(bytes)
        let signatures = [asciiBytes("8BIM"), asciiBytes("PHUT"), asciiBytes("AgHg"), asciiBytes("DCSR"), asciiBytes("MeSa")]
        while r.remaining >= 12 {
            guard signatures.contains(where: { r.starts(with: $0) }) else {
                problems.append(MetadataProblem(block: "Photoshop", reason: "unexpected bytes at resource offset \(r.offset); stopped"))
                break
            }
            r.skip(4)
            guard let id = r.u16(), let nameLength = r.u8() else { break }
            // The Pascal name with its length byte is padded to an even size.
            let padded = (Int(nameLength) + 1 + 1) & ~1
            guard r.skip(padded - 1), let size = r.u32() else {
                problems.append(MetadataProblem(block: "Photoshop", reason: "resource \(hexString(id)) header is truncated"))
                break
            }
            guard Int(size) <= r.remaining, let data = r.bytes(Int(size)) else {
                problems.append(MetadataProblem(block: "Photoshop",
                    reason: "resource \(hexString(id)) claims \(size) bytes but only \(r.remaining) remain"))
                break
            }
            if size % 2 == 1 { r.skip(1) }
            if id == 0x0404, out.iim == nil { out.iim = Array(data) }
            if id == 0x0425, out.digest == nil { out.digest = Array(data) }
            if id == 0x0422, out.exif == nil { out.exif = Array(data) }
            if id == 0x0424, out.xmp == nil { out.xmp = Array(data) }
        }
        return out
    }

    /// The digest state of the resources.
    static func digestState(_ res: Resources) -> IPTCDigestState {
        guard let stored = res.digest, stored.count == 16 else { return .absent }
        guard let current = MD5.digest(res.iim ?? []) else { return .absent }
        return current == stored ? .matches : .stale
    }

    private struct DataSet { var record: UInt8; var number: UInt8; var data: ArraySlice<UInt8> }

    /// Reads IIM datasets (0x1C, record, dataset, length — extended lengths included) and maps
    /// the application record (2) to unified values.
    static func values(_ bytes: [UInt8], problems: inout [MetadataProblem]) -> [SourcedValue] {
        var r = ByteReader(bytes)
        var sets: [DataSet] = []
        while r.remaining > 0 {
            // Padding NULs after the last record are common.
            if r.data[r.offset] == 0 { r.skip(1); continue }
            guard r.data[r.offset] == 0x1C else {
                problems.append(MetadataProblem(block: "IPTC", reason: "unexpected byte \(hexString(r.data[r.offset])) at offset \(r.offset); stopped"))
                break
            }
            guard r.remaining >= 5 else {
                problems.append(MetadataProblem(block: "IPTC", reason: "dataset header at offset \(r.offset) is truncated"))
                break
            }
            r.skip(1)
            let record = r.u8()!, number = r.u8()!
            var length = Int(r.u16()!)
            if length & 0x8000 != 0 {
                let n = length & 0x7FFF
                guard (1...4).contains(n), let lb = r.bytes(n) else {
                    problems.append(MetadataProblem(block: "IPTC", reason: "dataset \(record):\(number) has an invalid extended length"))
                    break
                }
                length = lb.reduce(0) { $0 << 8 | Int($1) }
            }
            guard length <= r.remaining, let data = r.bytes(length) else {
                problems.append(MetadataProblem(block: "IPTC",
                    reason: "dataset \(record):\(number) claims \(length) bytes but only \(r.remaining) remain"))
                break
            }
            sets.append(DataSet(record: record, number: number, data: data))
            if sets.count > 100_000 { break }
        }
        // CodedCharacterSet (1:90) "ESC % G" declares UTF-8. Without it, ExifTool's rule: UTF-8
        // when the bytes are valid UTF-8, else Windows-1252 (never ISO-8859-1, whose 0x80-0x9F
        // are control characters); control characters are never kept.
        let utf8 = sets.contains { $0.record == 1 && $0.number == 90 && Array($0.data) == [0x1B, 0x25, 0x47] }
        func decode(_ d: ArraySlice<UInt8>) -> String {
            let bytes = TextDecoding.cutAtNUL(d)
            if utf8, let s = String(validatingUTF8Bytes: bytes) { return TextDecoding.withoutControlCharacters(s) }
            return TextDecoding.utf8OrWindows1252(bytes)
        }
        var out: [SourcedValue] = []
        func text(_ number: UInt8, _ field: UnifiedField, _ tag: String) {
            guard let set = sets.first(where: { $0.record == 2 && $0.number == number }) else { return }
            let raw = decode(set.data)
            let t = raw.metadataTrimmed
            if !t.isEmpty { out.append(SourcedValue(field: field, value: .text(t), origin: .iptc, tag: "IPTC:" + tag, raw: raw)) }
        }
        func list(_ number: UInt8, _ field: UnifiedField, _ tag: String) {
            let raws = sets.filter { $0.record == 2 && $0.number == number }.map { decode($0.data) }
            let items = raws.map(\.metadataTrimmed).filter { !$0.isEmpty }
            if !items.isEmpty {
                out.append(SourcedValue(field: field, value: .list(items), origin: .iptc, tag: "IPTC:" + tag,
                                        raw: raws.joined(separator: "; ")))
            }
        }
        text(5, .title, "ObjectName")
        text(120, .description, "Caption-Abstract")
        list(25, .keywords, "Keywords")
        list(80, .creator, "By-line")
        text(116, .rights, "CopyrightNotice")
        if let dateSet = sets.first(where: { $0.record == 2 && $0.number == 55 }) {
            let date = decode(dateSet.data)
            let time = sets.first(where: { $0.record == 2 && $0.number == 60 }).map { decode($0.data) }
            if let iso = DateNormalizer.iptc(date: date, time: time) {
                out.append(SourcedValue(field: .dateCreated, value: .date(iso), origin: .iptc, tag: "IPTC:DateCreated",
                                        raw: [date, time].compactMap { $0 }.joined(separator: " ")))
            } else if !date.metadataTrimmed.isEmpty {
                problems.append(MetadataProblem(block: "IPTC", reason: "DateCreated '\(date.prefix(20))' is not CCYYMMDD"))
            }
        }
        text(90, .city, "City")
        text(95, .state, "Province-State")
        text(101, .country, "Country-PrimaryLocationName")
        return out
    }
}
