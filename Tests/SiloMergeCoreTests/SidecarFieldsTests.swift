import Foundation
import Testing
@testable import SiloMergeCore

/// `SidecarFields.encode` writes the catalogue's `sidecar.fields` column by hand (a JSONEncoder
/// per sidecar cost more than parsing it); what it writes must read back as the same map, and
/// mean the same as what JSONEncoder wrote into older catalogues.
@Suite struct SidecarFieldsTests {
    /// Values a sidecar really yields (each one is already a value's JSON), and text chosen to
    /// break a hand-made escaper: quotes, backslashes, slashes, every C0 control, DEL, the
    /// JavaScript line separators, combining marks, astral characters.
    static let awkward: [String] = {
        var out = ["\"Caf\\u00e9\"", "[\"a/b\",\"c\\\\d\"]", "{\"latitude\":48.8,\"longitude\":2.35}", "12",
                   "", " ", "tab\there", "line\nbreak\r\n", "quote \" and \\ backslash", "slash / and </script>",
                   "\u{7F}del", "sep\u{2028}and\u{2029}", "e\u{301}", "😀 astral 𝄞", "日本語のキャプション"]
        out.append(String((0..<0x20).map { Character(Unicode.Scalar($0)!) }))
        return out
    }()

    @Test("encode(values, json:) writes what encode(of(values)) writes: same keys in the same order, same sorted lists")
    func encodeFromValues() {
        var generator = SystemRandomNumberGenerator()
        let fields = UnifiedField.allCases
        for round in 0..<300 {
            var values: [SourcedValue] = []
            for _ in 0..<Int.random(in: 0...12, using: &generator) {
                let field = fields.randomElement(using: &generator)!
                let text = Self.awkward.randomElement(using: &generator)! + (Bool.random(using: &generator) ? "" : String(round))
                let value: FieldValue = switch Int.random(in: 0..<4, using: &generator) {
                case 0: .text(text)
                case 1: .list([text, Self.awkward.randomElement(using: &generator)!])
                case 2: .integer(Int.random(in: -5...5, using: &generator))
                default: .gps(latitude: Double.random(in: -90...90, using: &generator), longitude: 2.35)
                }
                values.append(SourcedValue(field: field, value: value, origin: .sidecar, tag: "XMP-dc:x", raw: text))
            }
            #expect(SidecarFields.encode(values, json: values.map(\.value.json)) == SidecarFields.encode(SidecarFields.of(values)))
        }
    }

    @Test("Encode.json escapes byte by byte exactly as it did scalar by scalar")
    func escapesExactly() {
        #expect(Encode.json("plain") == "\"plain\"")
        #expect(Encode.json("\"Caf\u{e9}\"") == "\"\\\"Caf\u{e9}\\\"\"")
        #expect(Encode.json("\u{0}\u{1f}\u{7f}\t\n\r\\/") == "\"\\u0000\\u001f\\u007f\\t\\n\\r\\\\/\"")
        #expect(Encode.json("\"\u{2027}\u{2028}\u{2029}\u{202A}😀") == "\"\\\"\u{2027}\\u2028\\u2029\u{202A}😀\"")
        for s in Self.awkward {
            #expect(Encode.json(s).utf8.count == Encode.jsonLength(s), "\(s.debugDescription)")
        }
    }

    @Test("Encode.appendJSON, runs of plain bytes at a time, writes what escaping scalar by scalar writes")
    func escapesLikeScalars() {
        func reference(_ s: String) -> String {
            var out = "\""
            for c in s.unicodeScalars {
                switch c {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case "\u{2028}": out += "\\u2028"
                case "\u{2029}": out += "\\u2029"
                default:
                    if c.value < 0x20 || c.value == 0x7F { out += String(format: "\\u%04x", c.value) } else { out.unicodeScalars.append(c) }
                }
            }
            return out + "\""
        }
        // Every escape, next to plain ASCII and to other characters whose UTF-8 starts like
        // U+2028's (E2 80 A7, E2 80 AA, E2 82 AC), at the start, middle and end of a value.
        let pieces = ["a", "bc", " ", "plain ASCII", "\u{e9}", "\"", "\\", "\n", "\r", "\t", "\r\n", "\u{0}", "\u{1}", "\u{1F}", "\u{7F}",
                      "\u{2027}", "\u{2028}", "\u{2029}", "\u{202A}", "\u{20AC}", "😀"]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3_000 {
            let s = (0..<Int.random(in: 0...24, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            var out: [UInt8] = [0x41]
            Encode.appendJSON(s, to: &out)
            #expect(String(decoding: out.dropFirst(), as: UTF8.self) == reference(s), "\(s.debugDescription)")
            #expect(Encode.json(s) == reference(s) && Encode.jsonLength(s) == reference(s).utf8.count, "\(s.debugDescription)")
        }
    }

    @Test func readsBackAsTheSameMap() throws {
        var fields: [String: [String]] = [:]
        for (i, key) in ["title", "keywords", "date_created", "gps", "creator", "rights"].enumerated() {
            fields[key] = Array(Self.awkward.dropFirst(i * 2).prefix(5)).sorted()
        }
        fields["empty_list"] = []
        let text = SidecarFields.encode(fields)
        #expect(SidecarFields.decode(text) == fields)
        // Valid JSON for any parser, not only for ours.
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: [String]]
        #expect(object == fields)
    }

    @Test func randomTextRoundTrips() {
        var rng = SystemRandomNumberGenerator()
        let pool: [Unicode.Scalar] = (0..<0x80).compactMap(Unicode.Scalar.init) + ["é", "\u{2028}", "\u{FEFF}", "😀", "\u{10FFFF}"]
        for _ in 0..<300 {
            var fields: [String: [String]] = [:]
            for f in 0..<Int.random(in: 0...4, using: &rng) {
                fields["field\(f)"] = (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                    var s = String.UnicodeScalarView()
                    for _ in 0..<Int.random(in: 0...12, using: &rng) { s.append(pool.randomElement(using: &rng)!) }
                    return String(s)
                }
            }
            #expect(SidecarFields.decode(SidecarFields.encode(fields)) == fields)
        }
    }

    /// Keys sorted, so the same values are the same text on every backend; and on plain text
    /// the same bytes JSONEncoder wrote, so a drift check between an older catalogue's row
    /// and a new one compares like with like.
    @Test func sortedAndAsJSONEncoderWroteThem() throws {
        let fields = ["title": ["\"Harbour at dusk\""], "creator": ["[\"A. Nakamura\",\"B. Ortiz\"]"],
                      "date_created": ["\"2019-06-01T18:20:00\""], "keywords": ["[\"boats\",\"harbour\",\"night\"]"]]
        let text = SidecarFields.encode(fields)
        #expect(text.hasPrefix("{\"creator\":"))
        let keys = ["creator", "date_created", "keywords", "title"].map { text.range(of: "\"\($0)\"")!.lowerBound }
        #expect(keys == keys.sorted())
        let legacy = String(decoding: try JSONEncoder.sorted.encode(fields), as: UTF8.self)
        #expect(text == legacy)
        #expect(SidecarFields.decode(legacy) == SidecarFields.decode(text))
    }
}

/// `FieldValue.fixed` replaces `String(format: "%.Nf")` on the hot path of every GPS value;
/// the digits a catalogue stores must not change.
@Suite struct FixedPointTests {
    @Test func sameDigitsAsStringFormat() {
        var rng = SystemRandomNumberGenerator()
        var values: [Double] = [0, -0.0, 1e-8, -1e-8, 0.00000005, 0.00000015, 0.00000025, 179.99999995, -179.99999995,
                                90, -90, 48.8583701, 2.2944813, 1e300, -1e300, .infinity, -.infinity, .nan, 123456789.123456789]
        for _ in 0..<50_000 { values.append(Double.random(in: -180...180, using: &rng)) }
        for _ in 0..<5_000 { values.append(Double(Int.random(in: -1_800_000_000...1_800_000_000, using: &rng)) / 1e7 + 5e-8) }
        for d in values {
            #expect(FieldValue.fixed(d, digits: 7) == String(format: "%.7f", d), "\(d)")
            #expect(FieldValue.fixed(d, digits: 6) == String(format: "%.6f", d), "\(d)")
            // Degrees as EXIF GPS raw values are shown: trailing zeros and point trimmed.
            var trimmed = String(format: "%.7f", d)
            while trimmed.hasSuffix("0") { trimmed.removeLast() }
            if trimmed.hasSuffix(".") { trimmed.removeLast() }
            #expect(FieldValue.degrees(d) == trimmed, "\(d)")
        }
        #expect(FieldValue.gps(latitude: 48.8583701, longitude: -2.29448).json == "{\"latitude\":48.8583701,\"longitude\":-2.29448}")
    }
}

/// `FieldValue.jsonLength` decides, for every value read, whether it fits the catalogue's
/// limits; it must count exactly what `json` writes.
@Suite struct JSONLengthTests {
    @Test func countsWhatJSONWrites() {
        var rng = SystemRandomNumberGenerator()
        let pool: [Unicode.Scalar] = (0..<0x80).compactMap(Unicode.Scalar.init)
            + ["é", "\u{2028}", "\u{2029}", "\u{2027}", "\u{20A8}", "\u{FEFF}", "😀", "\u{10FFFF}", "\u{80}", "\u{9F}"]
        func text() -> String {
            var s = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...16, using: &rng) { s.append(pool.randomElement(using: &rng)!) }
            return String(s)
        }
        for _ in 0..<20_000 {
            let values: [FieldValue] = [.text(text()), .date(text()), .list((0..<Int.random(in: 0...4, using: &rng)).map { _ in text() }),
                                        .integer(Int.random(in: Int.min...Int.max, using: &rng)),
                                        .gps(latitude: Double.random(in: -90...90, using: &rng), longitude: Double.random(in: -180...180, using: &rng))]
            for v in values { #expect(v.jsonLength == v.json.utf8.count, "\(v)") }
        }
        #expect(FieldValue.list([]).jsonLength == 2)
        #expect(FieldValue.text("a\u{2028}b").jsonLength == FieldValue.text("a\u{2028}b").json.utf8.count)
    }
}
