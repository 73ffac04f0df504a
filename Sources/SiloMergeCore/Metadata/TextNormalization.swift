import Foundation

/// Decoding and normalising the strings, dates and coordinates the parsers find.
enum TextDecoding {
    /// UTF-8 when the bytes are valid UTF-8, else Latin-1 (every byte one scalar).
    static func utf8OrLatin1<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        if let s = String(validatingUTF8Bytes: bytes) { return s }
        return latin1(bytes)
    }

    /// UTF-8 when the bytes are valid UTF-8, else Windows-1252 (ExifTool's "Latin", a superset
    /// of ISO-8859-1 whose 0x80–0x9F are printable: €, ‚, “ …), with control characters removed.
    /// The decoding for legacy 8-bit metadata: IPTC without a CodedCharacterSet, EXIF ASCII.
    static func utf8OrWindows1252<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        if let s = String(validatingUTF8Bytes: bytes) { return withoutControlCharacters(s) }
        return windows1252(bytes)
    }

    /// Windows-1252: 0x80–0x9F through the code page's table; the five bytes it leaves
    /// undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) and every control character are dropped.
    static func windows1252<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var s = ""
        s.unicodeScalars.reserveCapacity(bytes.count)
        for b in bytes {
            let scalar: Unicode.Scalar?
            if b >= 0x80 && b <= 0x9F {
                let v = cp1252High[Int(b - 0x80)]
                scalar = v == 0 ? nil : Unicode.Scalar(v)
            } else {
                scalar = Unicode.Scalar(b)
            }
            if let scalar, !isControl(scalar) { s.unicodeScalars.append(scalar) }
        }
        return s
    }

    /// Windows-1252 0x80...0x9F (0 where undefined).
    private static let cp1252High: [UInt32] = [
        0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
        0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
    ]

    /// C0 controls other than tab, line feed and carriage return; DEL; C1 controls.
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        return (v < 0x20 && v != 0x09 && v != 0x0A && v != 0x0D) || (v >= 0x7F && v <= 0x9F)
    }

    /// The string without control characters (tab, line feed and carriage return kept).
    static func withoutControlCharacters(_ s: String) -> String {
        guard hasControlCharacters(s) else { return s }
        var out = ""
        out.unicodeScalars.append(contentsOf: s.unicodeScalars.filter { !isControl($0) })
        return out
    }

    /// Whether `s` holds a character `isControl` refuses: read as UTF-8 bytes, where each is
    /// one byte below 0x20 or 0x7F, or C2 80...C2 9F (U+0080...U+009F); the same answer as
    /// asking every Unicode scalar, without decoding them (every value read is checked).
    static func hasControlCharacters(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { u in
            var i = 0
            while i < u.count {
                let b = u[i]
                if b < 0x20 {
                    if b != 0x09 && b != 0x0A && b != 0x0D { return true }
                } else if b == 0x7F {
                    return true
                } else if b == 0xC2, i + 1 < u.count, u[i + 1] >= 0x80, u[i + 1] <= 0x9F {
                    return true
                }
                i += 1
            }
            return false
        }
    }

    /// A short form of a value for a message: control characters escaped, cut at `limit`
    /// characters.
    static func printable(_ s: String, limit: Int = 60) -> String {
        var out = ""
        for scalar in s.unicodeScalars.prefix(limit) {
            if isControl(scalar) || scalar.value == 0x0A || scalar.value == 0x0D || scalar.value == 0x09 {
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        if s.unicodeScalars.count > limit { out += "…" }
        return out
    }

    static func latin1<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
        var units: [UInt16] = []
        units.reserveCapacity(bytes.count)
        for b in bytes { units.append(UInt16(b)) }
        return String(decoding: units, as: UTF16.self)
    }

    /// Drops trailing NULs (and anything after the first NUL).
    static func cutAtNUL<C: Collection>(_ bytes: C) -> C.SubSequence where C.Element == UInt8 {
        if let nul = bytes.firstIndex(of: 0) { return bytes[bytes.startIndex..<nul] }
        return bytes[...]
    }

    /// UTF-16 with a byte-order mark (or big-endian without one) to a String.
    static func utf16(_ bytes: ArraySlice<UInt8>, bigEndian defaultBigEndian: Bool = true) -> String {
        var b = bytes
        var be = defaultBigEndian
        if b.count >= 2 {
            if b[b.startIndex] == 0xFE && b[b.startIndex + 1] == 0xFF { be = true; b = b.dropFirst(2) }
            else if b[b.startIndex] == 0xFF && b[b.startIndex + 1] == 0xFE { be = false; b = b.dropFirst(2) }
        }
        var units: [UInt16] = []
        units.reserveCapacity(b.count / 2)
        var i = b.startIndex
        while i + 1 < b.endIndex {
            let u = be ? UInt16(b[i]) << 8 | UInt16(b[i + 1]) : UInt16(b[i + 1]) << 8 | UInt16(b[i])
            units.append(u)
            i += 2
        }
        return String(decoding: units, as: UTF16.self)
    }
}

extension String {
    /// Whitespace and control characters trimmed from both ends.
    var metadataTrimmed: String {
        let scalars = unicodeScalars
        func isSpace(_ s: Unicode.Scalar) -> Bool {
            // ASCII answered without the Unicode property tables (0x21...0x7E are no spaces).
            if s.value < 0x80 { return s.value <= 0x20 || s.value == 0x7F }
            return s.value == 0xA0 || s.value == 0xFEFF || s.properties.isWhitespace
        }
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
              let last = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        // Nothing to trim (most values): the string itself, not a copy.
        if first == scalars.startIndex && scalars.index(after: last) == scalars.endIndex { return self }
        return String(scalars[first...last])
    }
}

/// Normalises the date forms found in metadata to ISO 8601, keeping the source's precision.
enum DateNormalizer {
    /// Accepts ISO 8601 ("2023-06-14", "2023-06-14T18:32:07.042+01:00", "...Z", a space for
    /// the T, "+0100" for "+01:00"), EXIF ("2023:06:14 18:32:07", optionally with a fraction and
    /// a zone) and RFC 1123 / RFC 822 ("Thu, 01 Jun 2023 09:00:00 GMT"). nil otherwise.
    static func iso(_ input: String) -> String? {
        let s = input.metadataTrimmed
        guard !s.isEmpty, s.utf8.count <= 64 else { return nil }
        if let r = isoOrExif(Array(s.utf8)) { return r }
        return rfc1123(s)
    }

    /// True when `d` is a date as the readers store it: ISO 8601 that `iso` gives back
    /// unchanged, with a day that exists in its month.
    static func isValidISO(_ d: String) -> Bool {
        guard let normal = iso(d), normal == d else { return false }
        return true
    }

    /// True for the forms EXIF uses for "no date": empty, blanks and colons, or all zeros.
    static func isBlankEXIFDate(_ s: String) -> Bool {
        s.unicodeScalars.allSatisfy { $0 == " " || $0 == ":" || $0 == "0" || $0 == "-" || $0 == "T" || $0.value < 0x20 }
    }

    /// EXIF DateTimeOriginal + SubSecTimeOriginal + OffsetTimeOriginal → one ISO date.
    static func exif(_ dateTime: String, subSeconds: String?, offset: String?) -> String? {
        guard var base = iso(dateTime) else { return nil }
        // An all-zero EXIF date means "unknown".
        if base.hasPrefix("0000") { return nil }
        if let sub = subSeconds?.metadataTrimmed, !sub.isEmpty, sub.allSatisfy(\.isASCIIDigit),
           base.count == 19 {
            base += "." + sub
        }
        if let off = offset?.metadataTrimmed, let zone = zoneSuffix(Array(off.utf8)), base.count >= 19,
           !base.hasSuffix("Z"), !hasZone(base) {
            base += zone
        }
        return base
    }

    /// IPTC DateCreated ("20230614") + TimeCreated ("183207+0100") → one ISO date.
    static func iptc(date: String, time: String?) -> String? {
        let d = Array(date.metadataTrimmed.utf8)
        guard d.count == 8, d.allSatisfy(isDigit) else { return nil }
        let y = number(d[0..<4]), m = number(d[4..<6]), day = number(d[6..<8])
        guard y > 0 else { return nil }
        // IPTC allows 00 for an unknown month or day.
        var out = String(format4(y))
        if m == 0 { return out }
        guard (1...12).contains(m) else { return nil }
        out += "-" + two(m)
        if day == 0 { return out }
        guard (1...31).contains(day) else { return nil }
        out += "-" + two(day)
        guard let time else { return out }
        let t = Array(time.metadataTrimmed.utf8)
        guard t.count >= 6, t[0..<6].allSatisfy(isDigit) else { return out }
        let hh = number(t[0..<2]), mm = number(t[2..<4]), ss = number(t[4..<6])
        guard hh < 24, mm < 60, ss <= 60 else { return out }
        out += "T" + two(hh) + ":" + two(mm) + ":" + two(ss)
        if t.count > 6, let zone = zoneSuffix(Array(t[6...])) { out += zone }
        return out
    }

    /// PDF dates: "D:20230530140000+01'00'" (every part after the year optional).
    static func pdf(_ input: String) -> String? {
        var b = Array(input.metadataTrimmed.utf8)
        if b.starts(with: Array("D:".utf8)) { b.removeFirst(2) }
        var digits = 0
        while digits < b.count && isDigit(b[digits]) { digits += 1 }
        guard digits >= 4, digits <= 14, digits % 2 == 0 else { return nil }
        let d = Array(b[0..<digits])
        var out = format4(number(d[0..<4]))
        let parts = stride(from: 4, to: digits, by: 2).map { number(d[$0..<($0 + 2)]) }
        let ranges: [ClosedRange<Int>] = [1...12, 1...31, 0...23, 0...59, 0...60]
        for (i, v) in parts.enumerated() {
            guard ranges[i].contains(v) else { return nil }
            switch i {
            case 0, 1: out += "-" + two(v)
            case 2: out += "T" + two(v)
            default: out += ":" + two(v)
            }
        }
        if parts.count == 4 { out += ":00" }
        var rest = Array(b[digits...])
        if parts.count >= 3, let first = rest.first {
            if first == UInt8(ascii: "Z") { out += "Z" }
            else if first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
                rest.removeAll { $0 == UInt8(ascii: "'") }
                if let zone = zoneSuffix(rest) { out += zone }
            }
        }
        return out
    }

    // MARK: - Internals

    /// Built as bytes, each part the digits it was read from: Strings appended a part at a
    /// time cost some 5,500 instructions a date (a tenth of reading a photo's EXIF).
    private static func isoOrExif(_ b: [UInt8]) -> String? {
        // Date part: YYYY[-MM[-DD]] or YYYY:MM:DD.
        guard b.count >= 4, b[0..<4].allSatisfy(isDigit) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(40)
        let year = number(b[0..<4])
        out.append(contentsOf: b[0..<4])
        var i = 4
        var dateParts = 1
        var month = 0
        while dateParts < 3, i < b.count, b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: ":") {
            guard i + 3 <= b.count, isDigit(b[i + 1]), isDigit(b[i + 2]) else { return nil }
            let v = number(b[(i + 1)..<(i + 3)])
            guard dateParts == 1 ? (1...12).contains(v) : (1...daysIn(month: month, year: year)).contains(v) else { return nil }
            if dateParts == 1 { month = v }
            out.append(UInt8(ascii: "-")); out.append(b[i + 1]); out.append(b[i + 2])
            i += 3
            dateParts += 1
        }
        if i == b.count { return String(decoding: out, as: UTF8.self) }
        guard dateParts == 3, b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: " ") else { return nil }
        i += 1
        // Time part: hh:mm[:ss[.fff]].
        guard i + 5 <= b.count, isDigit(b[i]), isDigit(b[i + 1]), b[i + 2] == UInt8(ascii: ":"),
              isDigit(b[i + 3]), isDigit(b[i + 4]) else { return nil }
        let hh = number(b[i..<(i + 2)]), mm = number(b[(i + 3)..<(i + 5)])
        guard hh <= 24, mm < 60 else { return nil }
        out.append(UInt8(ascii: "T")); out.append(contentsOf: b[i..<(i + 5)])
        i += 5
        if i < b.count, b[i] == UInt8(ascii: ":") {
            guard i + 3 <= b.count, isDigit(b[i + 1]), isDigit(b[i + 2]) else { return nil }
            let ss = number(b[(i + 1)..<(i + 3)])
            guard ss <= 60 else { return nil }
            out.append(contentsOf: b[i..<(i + 3)])
            i += 3
            if i < b.count, b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: ",") {
                var k = i + 1
                while k < b.count && isDigit(b[k]) { k += 1 }
                guard k > i + 1 else { return nil }
                out.append(UInt8(ascii: ".")); out.append(contentsOf: b[(i + 1)..<k])
                i = k
            }
        }
        if i < b.count {
            guard appendZone(b[i...], to: &out) else { return nil }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Days in a month (February by the Gregorian leap-year rule).
    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 4, 6, 9, 11: return 30
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        default: return 31
        }
    }

    private static func hasZone(_ s: String) -> Bool {
        // "...T18:32:07+01:00": a sign after the time part.
        guard let t = s.firstIndex(of: "T") else { return false }
        return s[t...].contains("+") || s[t...].contains("-")
    }

    /// "Z", "+01:00", "+0100", "-05", " GMT" → "Z" / "+01:00". nil when not a zone.
    static func zoneSuffix(_ b: [UInt8]) -> String? {
        var out: [UInt8] = []
        return appendZone(b[...], to: &out) ? String(decoding: out, as: UTF8.self) : nil
    }

    /// `zoneSuffix`'s bytes, appended to `out`; false (and nothing appended) when not a zone.
    private static func appendZone(_ b: ArraySlice<UInt8>, to out: inout [UInt8]) -> Bool {
        var z = b
        while z.first == UInt8(ascii: " ") { z = z.dropFirst() }
        if z.count == 1 && z.first == UInt8(ascii: "Z") { out.append(UInt8(ascii: "Z")); return true }
        guard let sign = z.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") else { return false }
        // The digits, colons left out: two or four of them.
        var d: (UInt8, UInt8, UInt8, UInt8) = (0x30, 0x30, 0x30, 0x30)
        var count = 0
        for c in z.dropFirst() where c != UInt8(ascii: ":") {
            guard isDigit(c), count < 4 else { return false }
            switch count {
            case 0: d.0 = c
            case 1: d.1 = c
            case 2: d.2 = c
            default: d.3 = c
            }
            count += 1
        }
        guard count == 2 || count == 4 else { return false }
        let hh = Int(d.0 - 0x30) * 10 + Int(d.1 - 0x30), mm = Int(d.2 - 0x30) * 10 + Int(d.3 - 0x30)
        guard hh <= 14, mm < 60 else { return false }
        out.append(sign); out.append(d.0); out.append(d.1); out.append(UInt8(ascii: ":")); out.append(d.2); out.append(d.3)
        return true
    }

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// "Thu, 01 Jun 2023 09:00:00 GMT", "1 Jun 2023 09:00 +0100", "01 Jun 2023".
    private static func rfc1123(_ s: String) -> String? {
        var words = s.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        if let first = words.first, first.count >= 3, first.allSatisfy(\.isLetter) { words.removeFirst() }
        guard words.count >= 3, let day = Int(words[0]), (1...31).contains(day),
              let month = months.firstIndex(of: String(words[1].lowercased().prefix(3))), words[1].count >= 3,
              let year = Int(words[2]), (1000...9999).contains(year) else { return nil }
        var out = format4(year) + "-" + two(month + 1) + "-" + two(day)
        guard words.count >= 4 else { return out }
        let t = words[3].split(separator: ":").map { Int($0) }
        guard t.count >= 2, t.count <= 3, t.allSatisfy({ $0 != nil }) else { return nil }
        let hh = t[0]!, mm = t[1]!, ss = t.count == 3 ? t[2]! : 0
        guard (0...23).contains(hh), (0...59).contains(mm), (0...60).contains(ss) else { return nil }
        out += "T" + two(hh) + ":" + two(mm) + ":" + two(ss)
        guard words.count >= 5 else { return out }
        let zone = words[4].uppercased()
        if zone == "GMT" || zone == "UT" || zone == "UTC" || zone == "Z" { return out + "Z" }
        if let z = zoneSuffix(Array(zone.utf8)) { return out + z }
        return out
    }

    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    private static func number<C: Collection>(_ d: C) -> Int where C.Element == UInt8 {
        d.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }

    private static func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
    private static func format4(_ v: Int) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// Coordinates in the forms XMP and EXIF use.
enum GPSParser {
    /// XMP GPSCoordinate: "51,30.5N", "51,30,30N", or a plain signed decimal.
    static func xmpCoordinate(_ input: String, isLatitude: Bool) -> Double? {
        let s = input.metadataTrimmed
        guard !s.isEmpty, s.count <= 64 else { return nil }
        var sign = 1.0
        var body = Substring(s)
        if let last = body.last, "NSEWnsew".contains(last) {
            let l = last.uppercased()
            if isLatitude ? !(l == "N" || l == "S") : !(l == "E" || l == "W") { return nil }
            if l == "S" || l == "W" { sign = -1 }
            body = body.dropLast()
        } else if let v = Double(body), v.isFinite {
            return valid(v, isLatitude) ? v : nil
        } else {
            return nil
        }
        let parts = body.split(separator: ",", omittingEmptySubsequences: false).map { Double(String($0).metadataTrimmed) }
        guard (1...3).contains(parts.count), parts.allSatisfy({ $0 != nil && $0! >= 0 && $0!.isFinite }) else { return nil }
        var value = parts[0]!
        if parts.count >= 2 { value += parts[1]! / 60 }
        if parts.count == 3 { value += parts[2]! / 3600 }
        value *= sign
        return valid(value, isLatitude) ? value : nil
    }

    static func valid(_ v: Double, _ isLatitude: Bool) -> Bool {
        v.isFinite && abs(v) <= (isLatitude ? 90 : 180)
    }
}

/// The MWG "semicolon-space" list form used to store several creators in EXIF:Artist:
/// items separated by "; ", an item holding "; " or starting with a quote is quoted with
/// doubled inner quotes.
enum MWGStringList {
    static func split(_ s: String) -> [String] {
        let pieces = s.components(separatedBy: "; ")
        var out: [String] = []
        var inQuotes = false
        for var piece in pieces {
            let continuing = inQuotes
            if !inQuotes, piece.hasPrefix("\"") { inQuotes = true; piece.removeFirst() }
            if inQuotes {
                // An odd number of trailing quotes closes the quoted item.
                let trailing = piece.reversed().prefix(while: { $0 == "\"" }).count
                if trailing % 2 == 1 { inQuotes = false; piece.removeLast() }
                piece = piece.replacingOccurrences(of: "\"\"", with: "\"")
            }
            if continuing, !out.isEmpty { out[out.count - 1] += "; " + piece } else { out.append(piece) }
        }
        return out
    }
}
