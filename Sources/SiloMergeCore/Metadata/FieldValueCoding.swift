import CSiloMergeShims
import Foundation

extension UnifiedField {
    /// The kind of value the field holds.
    public enum Kind: Sendable { case text, list, integer, gps, date }

    public var kind: Kind {
        switch self {
        case .keywords, .creator: .list
        case .width, .height, .orientation, .rating: .integer
        case .gps: .gps
        case .dateCreated: .date
        default: .text
        }
    }
}

extension FieldValue {
    /// The value as compact JSON: a string, a list of strings, a number, or
    /// `{"latitude":…,"longitude":…}`. What the catalogue's `value` columns hold.
    public var json: String {
        switch self {
        case .text(let s), .date(let s): return Encode.json(s)
        case .list:
            var out: [UInt8] = []
            appendJSON(to: &out)
            return String(decoding: out, as: UTF8.self)
        case .integer(let i): return String(i)
        case .gps(let lat, let lon): return "{\"latitude\":\(FieldValue.degrees(lat)),\"longitude\":\(FieldValue.degrees(lon))}"
        }
    }

    /// `json`'s bytes appended to `out`: for writers that put many values in one buffer (the
    /// SQLite catalogue binds a file's rows from one), with no String made per value.
    public func appendJSON(to out: inout [UInt8]) {
        switch self {
        case .text(let s), .date(let s): Encode.appendJSON(s, to: &out)
        case .list(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                Encode.appendJSON(item, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .integer, .gps: out.append(contentsOf: json.utf8)
        }
    }

    /// `json.utf8.count`, counted without building the text.
    public var jsonLength: Int {
        switch self {
        case .text(let s), .date(let s): return Encode.jsonLength(s)
        case .list(let items): return items.reduce(items.count + 1) { $0 + Encode.jsonLength($1) } + (items.isEmpty ? 1 : 0)
        case .integer, .gps: return json.utf8.count
        }
    }

    /// `fixed(d, digits: 7)` without trailing zeros (nor a trailing point): trimmed in the
    /// printed bytes, before the String is made.
    static func degrees(_ d: Double) -> String {
        func trimmed(_ text: UnsafeRawBufferPointer) -> String {
            var end = text.count
            if text.contains(UInt8(ascii: ".")) {
                while end > 0 && text[end - 1] == UInt8(ascii: "0") { end -= 1 }
                if end > 0 && text[end - 1] == UInt8(ascii: ".") { end -= 1 }
            }
            return String(decoding: UnsafeRawBufferPointer(rebasing: text[0..<end]), as: UTF8.self)
        }
        return printedFixed(d, digits: 7, trimmed) ?? Array(String(format: "%.7f", d).utf8).withUnsafeBytes(trimmed)
    }

    /// `String(format: "%.Nf", d)`, through C's snprintf: the same digits (it is the same
    /// printf), without Foundation's format-string machinery or Swift's va_list builder, which
    /// cost a GPS value more than the rest of reading its EXIF (`perf` and callgrind, public
    /// photos). A value too long for the buffer (never a coordinate) takes Foundation's path.
    static func fixed(_ d: Double, digits: Int) -> String {
        printedFixed(d, digits: digits) { String(decoding: $0, as: UTF8.self) } ?? String(format: "%.\(digits)f", d)
    }

    /// `body` of the bytes snprintf printed for `d` with `digits` decimals; nil when they are
    /// not only digits, sign and point (a C locale set by an embedding program could print a
    /// decimal comma) or do not fit.
    private static func printedFixed<R>(_ d: Double, digits: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer -> R? in
            let n = Int(silomerge_format_fixed(buffer.baseAddress!, 64, Int32(digits), d))
            guard n >= 0, n < 64 else { return nil }
            let text = UnsafeRawBufferPointer(start: buffer.baseAddress!, count: n)
            guard text.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x2E }) else { return nil }
            return body(text)
        }
    }

    /// Reads `json` back, as the field's kind.
    public static func fromJSON(_ text: String, field: UnifiedField) -> FieldValue? {
        guard let data = text.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else { return nil }
        return from(object: object, field: field)
    }

    /// From a decoded JSON or YAML value (a resolutions file), as the field's kind.
    public static func from(object: Any, field: UnifiedField) -> FieldValue? {
        switch field.kind {
        case .list:
            if let items = object as? [Any] { return .list(items.map { "\($0)" }) }
            if let s = object as? String { return .list(s.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }) }
            return nil
        case .integer:
            if let n = object as? Int { return .integer(n) }
            if let n = object as? NSNumber { return .integer(n.intValue) }
            if let s = object as? String, let n = Int(s.trimmingCharacters(in: .whitespaces)) { return .integer(n) }
            return nil
        case .gps:
            if let d = object as? [String: Any], let lat = (d["latitude"] as? NSNumber)?.doubleValue,
               let lon = (d["longitude"] as? NSNumber)?.doubleValue { return .gps(latitude: lat, longitude: lon) }
            if let a = object as? [Any], a.count == 2, let lat = (a[0] as? NSNumber)?.doubleValue ?? Double("\(a[0])"),
               let lon = (a[1] as? NSNumber)?.doubleValue ?? Double("\(a[1])") { return .gps(latitude: lat, longitude: lon) }
            if let s = object as? String {
                let parts = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2, let lat = Double(parts[0]), let lon = Double(parts[1]) { return .gps(latitude: lat, longitude: lon) }
            }
            return nil
        case .date:
            if let s = object as? String { return .date(s) }
            if let d = object as? Date { return .date(Timestamp.string(d)) }
            return nil
        case .text:
            if let s = object as? String { return .text(s) }
            if let n = object as? NSNumber { return .text(n.stringValue) }
            return nil
        }
    }

    /// A form for people: list items joined by "; ", coordinates as "lat, lon".
    public var display: String {
        switch self {
        case .text(let s), .date(let s): s
        case .list(let items): items.joined(separator: "; ")
        case .integer(let i): String(i)
        case .gps(let lat, let lon): "\(FieldValue.degrees(lat)), \(FieldValue.degrees(lon))"
        }
    }

    /// What two values must share to count as the same: text trimmed, runs of white space
    /// made one space, Unicode-normalised (NFC); list items compared as a case-insensitive
    /// set; coordinates to about ten centimetres; dates as written.
    public var comparisonKey: String {
        switch self {
        case .text(let s): return FieldValue.normalize(s)
        case .date(let s): return s.trimmingCharacters(in: .whitespaces)
        case .list(let items):
            return Set(items.map { FieldValue.normalize($0).lowercased() }).sorted().joined(separator: "\u{1F}")
        case .integer(let i): return String(i)
        case .gps(let lat, let lon): return FieldValue.fixed(lat, digits: 6) + "," + FieldValue.fixed(lon, digits: 6)
        }
    }

    /// Trims, collapses white space and applies Unicode NFC.
    public static func normalize(_ s: String) -> String {
        let collapsed = s.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        return collapsed.precomposedStringWithCanonicalMapping
    }
}
