import Foundation

/// Number formatting shared by every report.
public enum Format {
    /// "0 B", "512 B", "1.5 KiB", "3.2 GiB" (binary units, as `du -h` and `ls -lh` print).
    public static func bytes(_ n: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        if n < 1024 { return "\(n) B" }
        var value = Double(n)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return value >= 100 ? String(format: "%.0f %@", value, units[unit]) : String(format: "%.1f %@", value, units[unit])
    }

    /// 1234567 → "1,234,567".
    public static func count<I: BinaryInteger>(_ n: I) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// Seconds as "0.4 s", "12 s", "3:05", "1:02:03".
    public static func duration(_ seconds: Double) -> String {
        if seconds < 10 { return String(format: "%.1f s", max(0, seconds)) }
        if seconds < 60 { return String(format: "%.0f s", seconds) }
        let s = Int(seconds.rounded())
        if s < 3600 { return String(format: "%d:%02d", s / 60, s % 60) }
        return String(format: "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60)
    }

    /// How long something has been open, for people: "40 s", "12 min", "5 h 3 min", "3 d 4 h", "41 d".
    public static func age(_ seconds: Double) -> String {
        let s = Int(max(0, seconds).rounded())
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min" }
        if s < 86_400 { return s % 3600 / 60 == 0 ? "\(s / 3600) h" : "\(s / 3600) h \(s % 3600 / 60) min" }
        if s < 10 * 86_400 { return s % 86_400 / 3600 == 0 ? "\(s / 86_400) d" : "\(s / 86_400) d \(s % 86_400 / 3600) h" }
        return "\(s / 86_400) d"
    }

    /// "1 file", "2 files", "1,204 copies": a count with its noun, singular or plural. `plural`
    /// defaults to the noun with "s" (or "ies" for a consonant + "y").
    public static func plural<I: BinaryInteger>(_ n: I, _ noun: String, _ plural: String? = nil) -> String {
        "\(count(n)) \(n == 1 ? noun : (plural ?? pluralForm(noun)))"
    }

    static func pluralForm(_ noun: String) -> String {
        if noun.hasSuffix("y"), let before = noun.dropLast().last, !"aeiou".contains(before) { return noun.dropLast() + "ies" }
        if noun.hasSuffix("s") || noun.hasSuffix("x") || noun.hasSuffix("ch") || noun.hasSuffix("sh") { return noun + "es" }
        return noun + "s"
    }

    /// "12%" of a part in a whole (0 when the whole is 0).
    public static func percent(_ part: Int64, of whole: Int64) -> String {
        guard whole > 0 else { return "0%" }
        let p = Double(part) * 100 / Double(whole)
        return p > 0 && p < 1 ? "<1%" : String(format: "%.0f%%", p)
    }

    /// Pads (or truncates with "…") to a display width, counting characters.
    public static func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        var text = s
        if text.count > width && width > 1 { text = String(text.prefix(width - 1)) + "…" }
        let fill = String(repeating: " ", count: max(0, width - text.count))
        return right ? fill + text : text + fill
    }
}

/// Where a report writes its text: standard output in the CLI, a string in tests.
public protocol ReportSink: AnyObject {
    func write(_ text: String)
    func write(bytes: [UInt8])
}

/// Collects a report in memory.
public final class StringSink: ReportSink {
    public private(set) var data: [UInt8] = []
    public init() {}
    public func write(_ text: String) { data.append(contentsOf: text.utf8) }
    public func write(bytes: [UInt8]) { data.append(contentsOf: bytes) }
    public var text: String { String(decoding: data, as: UTF8.self) }
}

/// JSON text, written by hand so reports stream (no whole-document tree in memory)
/// and keys keep a stable order.
public enum Encode {
    /// What `xml` does with a character XML 1.0 forbids (C0 controls other than tab, LF and CR;
    /// U+FFFE, U+FFFF).
    public enum XMLInvalid: Sendable {
        /// Leaves it out (metadata values: an XMP packet carries the text, nothing else).
        case drop
        /// Shows U+FFFD in its place (a report: the reader sees that something was there).
        case replace
    }

    /// The one XML escaper, for text and attribute values (XMP packets, sidecars, the HTML
    /// report's attributes and SVG): `&`, `<`, `>`, `"`, CR as `&#xD;` (a parser would turn a raw
    /// one into LF), `'` as `&#39;` when `apostrophe` (an attribute that may be single-quoted),
    /// and characters XML 1.0 forbids dropped or replaced.
    public static func xml(_ s: String, invalid: XMLInvalid, apostrophe: Bool = false) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "\r": out += "&#xD;"
            case "'" where apostrophe: out += "&#39;"
            default:
                if isXMLChar(c) { out.unicodeScalars.append(c) } else if invalid == .replace { out += "\u{FFFD}" }
            }
        }
        return out
    }

    /// A character XML 1.0 allows.
    public static func isXMLChar(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09, 0x0A, 0x0D: true
        case 0..<0x20, 0xFFFE, 0xFFFF: false
        default: true
        }
    }

    /// A JSON string literal.
    public static func json(_ s: String) -> String {
        // Most text needs no escape: then it is the text in quotes, without a walk through its
        // scalars (every metadata value is encoded at least twice on its way to a catalogue).
        let length = jsonLength(s)
        if length == s.utf8.count + 2 { return "\"" + s + "\"" }
        var out: [UInt8] = []
        out.reserveCapacity(length)
        appendJSON(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `json(s)`'s bytes appended to `out`, for text built from many values (one String made
    /// at the end, not one per value).
    ///
    /// Escaped byte by byte (a scalar at a time cost ~400 instructions per character, and a
    /// sidecar's fields are JSON of JSON: every value has quotes to escape), the bytes between
    /// escapes appended a run at a time. The same text: `\"`, `\\`, `\n`, `\r`, `\t`,
    /// `\u00xx` for other controls and DEL, `\u2028`, `\u2029`.
    public static func appendJSON(_ s: String, to out: inout [UInt8]) {
        out.append(0x22)
        var s = s
        s.withUTF8 { utf8 in
            let hex: StaticString = "0123456789abcdef"
            var i = 0, run = 0
            while i < utf8.count {
                let b = utf8[i]
                // Bytes that are never escaped: the run goes on.
                if b >= 0x20 && b != 0x22 && b != 0x5C && b != 0x7F && b != 0xE2 {
                    i += 1
                    continue
                }
                if i > run { out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[run..<i])) }
                switch b {
                case 0x22, 0x5C: out.append(0x5C); out.append(b)
                case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
                case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
                case 0..<0x20, 0x7F:
                    out.append(0x5C); out.append(UInt8(ascii: "u")); out.append(0x30); out.append(0x30)
                    out.append(hex.utf8Start[Int(b >> 4)]); out.append(hex.utf8Start[Int(b & 15)])
                case 0xE2 where i + 2 < utf8.count && utf8[i + 1] == 0x80 && (utf8[i + 2] == 0xA8 || utf8[i + 2] == 0xA9):
                    out.append(0x5C); out.append(UInt8(ascii: "u")); out.append(UInt8(ascii: "2")); out.append(UInt8(ascii: "0"))
                    out.append(UInt8(ascii: "2")); out.append(utf8[i + 2] == 0xA8 ? UInt8(ascii: "8") : UInt8(ascii: "9"))
                    i += 2
                default: out.append(b)   // 0xE2 of another character
                }
                i += 1
                run = i
            }
            if i > run { out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[run..<i])) }
        }
        out.append(0x22)
    }

    /// `json(s).utf8.count`, counted over the UTF-8 without building the text: eight bytes at a
    /// time while they are plain ASCII (neither a control character, DEL, `"` nor `\`, nor
    /// the start of a multi-byte character), one at a time around the others.
    public static func jsonLength(_ s: String) -> Int {
        if let n = s.utf8.withContiguousStorageIfAvailable({ jsonLength(utf8: $0) }) { return n }
        return Array(s.utf8).withUnsafeBufferPointer { jsonLength(utf8: $0) }
    }

    private static func jsonLength(utf8: UnsafeBufferPointer<UInt8>) -> Int {
        var n = 2
        var p1: UInt8 = 0, p2: UInt8 = 0   // the two bytes before
        var i = 0
        let count = utf8.count
        while i < count {
            if i + 8 <= count {
                let w = UnsafeRawPointer(utf8.baseAddress! + i).loadUnaligned(as: UInt64.self)
                if !Self.mayNeedEscape(w) {
                    n += 8
                    i += 8
                    (p2, p1) = (0, 0)   // ASCII: neither can start U+2028's E2 80
                    continue
                }
            }
            let b = utf8[i]
            switch b {
            case 0x22, 0x5C, 0x0A, 0x0D, 0x09: n += 2
            case 0..<0x20, 0x7F: n += 6
            // The last byte of E2 80 A8 / E2 80 A9 (U+2028, U+2029), written as a six-byte
            // \u escape where its UTF-8 has three.
            case 0xA8...0xA9 where p1 == 0x80 && p2 == 0xE2: n += 4
            default: n += 1
            }
            (p2, p1) = (p1, b)
            i += 1
        }
        return n
    }

    /// Whether a word of eight bytes holds a byte that `jsonLength` must look at: one under
    /// 0x20, 0x22, 0x5C, 0x7F or one with its high bit set (a word with a high bit is looked
    /// at byte by byte anyway).
    @inline(__always) private static func mayNeedEscape(_ w: UInt64) -> Bool {
        if ByteWord.hasHighBit(w) { return true }
        return ByteWord.bytes(w, below: 0x20) | ByteWord.bytes(w, equalTo: 0x22) | ByteWord.bytes(w, equalTo: 0x5C)
            | ByteWord.bytes(w, equalTo: 0x7F) != 0
    }

    /// `"path": "..."` plus, for names that are not valid UTF-8, `"path_b64": "..."` with the exact bytes.
    public static func jsonPath(_ key: String, _ bytes: [UInt8]) -> String {
        if let s = String(validatingUTF8Bytes: bytes) { return "\(json(key)):\(json(s))" }
        return "\(json(key)):\(json(PathDisplay.escape(bytes))),\(json(key + "_b64")):\(json(Data(bytes).base64EncodedString()))"
    }

}
