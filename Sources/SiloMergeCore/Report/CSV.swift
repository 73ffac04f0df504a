import Foundation

/// The one CSV writer of SiloMerge: every CSV output (`export --format csv`, `duplicates
/// --format csv`, the DAM import manifest of `plan --import-manifest`) builds its rows here,
/// so quoting and formula neutralising cannot differ between them.
///
/// - RFC 4180: a cell holding a comma, a double quote, CR or LF is quoted, quotes doubled;
///   rows end with CRLF.
/// - Formula injection: a text cell (anything that came from a file name, metadata, a manifest
///   or a person) that starts with `=`, `+`, `-`, `@`, TAB, CR or LF — or their full-width
///   forms, which some spreadsheets read the same way — gets a leading `'`, so a spreadsheet
///   shows it as text and never runs it (OWASP's advice). Numbers SiloMerge formats itself
///   (`.number`) are written as they are: a negative latitude carries no formula.
public enum CSV {
    /// One cell of a row.
    public struct Cell: Sendable, Hashable {
        public let text: String
        /// Text from outside SiloMerge: neutralised.
        let isData: Bool

        /// Text that came from a file, metadata, a manifest or a person.
        public static func text(_ s: String) -> Cell { Cell(text: s, isData: true) }
        /// An integer SiloMerge counted or measured.
        public static func number<N: BinaryInteger>(_ n: N) -> Cell { Cell(text: String(n), isData: false) }
        /// Numbers SiloMerge formatted itself ("38.7139, -9.1394"): digits, signs, points,
        /// commas and spaces only; anything else is treated as text.
        public static func formatted(_ s: String) -> Cell {
            let plain = s.unicodeScalars.allSatisfy { "0123456789+-.,eE ".unicodeScalars.contains($0) }
            return Cell(text: s, isData: !plain)
        }
        /// A hash, an enum name or a header: SiloMerge's own words (still neutralised if they
        /// ever started with a trigger, which none does).
        public static func own(_ s: String) -> Cell { Cell(text: s, isData: true) }
        public static let empty = Cell(text: "", isData: false)
    }

    /// What spreadsheets need to read UTF-8 as UTF-8 (written first by the outputs meant for them).
    public static let byteOrderMark = "\u{FEFF}"

    /// One row, with its CRLF.
    public static func row(_ cells: [Cell]) -> String {
        cells.map(encode).joined(separator: ",") + "\r\n"
    }

    /// A header row.
    public static func header(_ names: [String]) -> String { row(names.map(Cell.own)) }

    /// The cell as written: neutralised if it is data that a spreadsheet would run, then quoted.
    static func encode(_ cell: Cell) -> String {
        quote(cell.isData ? neutralized(cell.text) : cell.text)
    }

    /// Characters that make a spreadsheet read a cell as a formula when they come first.
    static let formulaTriggers: Set<Unicode.Scalar> = ["=", "+", "-", "@", "\t", "\r", "\n", "\u{FF1D}", "\u{FF0B}", "\u{FF0D}", "\u{FF20}"]

    /// Whether `text` would be changed by neutralising.
    public static func needsNeutralizing(_ text: String) -> Bool {
        text.unicodeScalars.first.map(formulaTriggers.contains) ?? false
    }

    /// `text` with a leading `'` when a spreadsheet would otherwise read it as a formula.
    public static func neutralized(_ text: String) -> String {
        needsNeutralizing(text) ? "'" + text : text
    }

    /// RFC 4180 quoting.
    static func quote(_ s: String) -> String {
        if s.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return s
    }
}
