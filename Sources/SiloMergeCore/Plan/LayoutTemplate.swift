import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a canonical copy goes in the target, as a template of folder levels separated by `/`.
///
/// Tokens:
/// - `{silo}`: the name of the silo holding the canonical copy;
/// - `{path}`: its path inside the silo (folders and name; a folder level of its own);
/// - `{name}`, `{stem}`, `{ext}`: its file name, the name without its extension, the extension
///   without its dot (`hero.jpg` → `hero`, `jpg`);
/// - `{year}`, `{month}`, `{day}`: from the reconciled `date_created` (metadata only); when no
///   metadata dates the content, from its canonical copy's mtime (UTC), and the plan says so on
///   that operation (`date_source: file_modified`) and counts them in its summary;
/// - `{sha256}`, `{sha256:N}`: the content's SHA-256 (hex), or its first N digits (1–64);
/// - `{creator}`, `{keyword}`: the first creator, the first keyword (`unknown`, `untagged` when none);
/// - `{format}`: the format from the file's magic bytes (`jpeg`, `png`…).
///
/// Every value is sanitised as a name (see `NameSanitizer`); a `/` inside a value never makes
/// a folder. The last level must name the file (`{name}`, `{stem}`, `{path}` or `{sha256…}`).
public struct LayoutTemplate: Sendable, Hashable {
    public let text: String
    let levels: [[Piece]]

    enum Piece: Hashable, Sendable {
        case literal(String)
        case token(Token)
    }

    enum Token: Hashable, Sendable {
        case silo, path, name, stem, ext, year, month, day, creator, keyword, format
        case sha256(Int)
    }

    public static let knownTokens = "{silo} {path} {name} {stem} {ext} {year} {month} {day} {sha256} {sha256:N} {creator} {keyword} {format}"

    public init(_ text: String) throws(PlanError) {
        self.text = text
        guard !text.isEmpty else { throw .malformedTemplate(template: text, reason: "the layout is empty") }
        guard !text.hasPrefix("/") else {
            throw .malformedTemplate(template: text, reason: "the layout must be relative to the target (no leading /)")
        }
        var levels: [[Piece]] = [[]]
        var literal = ""
        var chars = text.makeIterator()
        func flush() { if !literal.isEmpty { levels[levels.count - 1].append(.literal(literal)); literal = "" } }
        while let c = chars.next() {
            switch c {
            case "{":
                flush()
                var name = ""
                var closed = false
                while let d = chars.next() {
                    if d == "}" { closed = true; break }
                    if d == "{" || d == "/" { break }
                    name.append(d)
                }
                guard closed else { throw .malformedTemplate(template: text, reason: "a '{' has no closing '}'") }
                levels[levels.count - 1].append(.token(try Self.token(name, template: text)))
            case "}":
                throw .malformedTemplate(template: text, reason: "a '}' has no opening '{'")
            case "/":
                flush()
                levels.append([])
            default:
                literal.append(c)
            }
        }
        flush()
        for level in levels {
            if level.isEmpty { throw .malformedTemplate(template: text, reason: "empty folder level (two '/' in a row, or a trailing '/')") }
            if level.contains(.token(.path)) && level.count != 1 {
                throw .malformedTemplate(template: text, reason: "{path} must be a folder level of its own, e.g. {silo}/{path}")
            }
            if level.count == 1, case .literal(let s) = level[0], s == "." || s == ".." {
                throw .malformedTemplate(template: text, reason: "'\(s)' is not allowed as a folder level")
            }
        }
        let namesFile = levels.last!.contains { piece in
            switch piece {
            case .token(.name), .token(.stem), .token(.path), .token(.sha256): true
            default: false
            }
        }
        guard namesFile else {
            throw .malformedTemplate(template: text, reason: "the last level must name the file: use {name}, {stem}, {path} or {sha256…} in it")
        }
        self.levels = levels
    }

    static func token(_ name: String, template: String) throws(PlanError) -> Token {
        switch name {
        case "silo": return .silo
        case "path": return .path
        case "name": return .name
        case "stem": return .stem
        case "ext": return .ext
        case "year": return .year
        case "month": return .month
        case "day": return .day
        case "creator": return .creator
        case "keyword": return .keyword
        case "format": return .format
        case "sha256": return .sha256(64)
        default:
            if name.hasPrefix("sha256:") {
                let n = name.dropFirst("sha256:".count)
                guard let count = Int(n), (1...64).contains(count) else {
                    throw .malformedTemplate(template: template, reason: "{\(name)}: the length must be 1 to 64")
                }
                return .sha256(count)
            }
            throw .unknownTemplateToken(token: name, template: template)
        }
    }

    /// True when the template uses a date token.
    var usesDate: Bool { levels.joined().contains { $0 == .token(.year) || $0 == .token(.month) || $0 == .token(.day) } }

    /// What a template is filled with.
    struct Values {
        var silo: String
        /// The path inside the silo (exact bytes).
        var path: RelativePath
        var sha256: String
        var year: String, month: String, day: String
        var creator: String?
        var keyword: String?
        var format: String
    }

    /// The destination: sanitised components, joined by `/`.
    func render(_ v: Values) -> [String] {
        let nameText = NameSanitizer.text(fromBytes: v.path.lastComponent)
        let (stem, dotExt) = NameSanitizer.splitExtension(nameText)
        let ext = dotExt.isEmpty ? "" : String(dotExt.dropFirst())
        var out: [String] = []
        for level in levels {
            if level == [.token(.path)] {
                for part in v.path.components {
                    out.append(NameSanitizer.component(NameSanitizer.text(fromBytes: part)))
                }
                continue
            }
            var s = ""
            for piece in level {
                switch piece {
                case .literal(let l): s += l
                case .token(let t):
                    switch t {
                    case .silo: s += v.silo
                    case .path: break
                    case .name: s += nameText
                    case .stem: s += stem
                    case .ext: s += ext
                    case .year: s += v.year
                    case .month: s += v.month
                    case .day: s += v.day
                    case .creator: s += v.creator.flatMap { $0.isEmpty ? nil : $0 } ?? "unknown"
                    case .keyword: s += v.keyword.flatMap { $0.isEmpty ? nil : $0 } ?? "untagged"
                    case .format: s += v.format
                    case .sha256(let n): s += String(v.sha256.prefix(n))
                    }
                }
            }
            out.append(NameSanitizer.component(s))
        }
        return out
    }
}

/// Year, month and day for the date tokens: from `date_created` when it holds a date, else
/// from the file's mtime (UTC) — which is only ever a place in the layout, said as such, never
/// a date given to the content.
struct AssetDate {
    var year: String, month: String, day: String
    var source: PlanDateSource
    /// "date_created 2023-06-14" or "no capture date; file modified 2019-03-02".
    var origin: String

    init(asset: ReconciledAsset, mtimeNs: Int64) {
        if let field = asset.field(.dateCreated), let value = field.value, field.status != .conflict,
           let text = value.date ?? value.text, let parsed = AssetDate.parse(text) {
            (year, month, day) = parsed
            source = .dateCreated
            origin = "date_created \(year)-\(month)-\(day)"
            return
        }
        let (y, m, d) = AssetDate.utcDay(nanoseconds: mtimeNs)
        year = y; month = m; day = d
        source = .fileModified
        let why = asset.field(.dateCreated)?.status == .conflict ? "date_created in conflict"
            : asset.field(.dateCreated) != nil ? "date_created is not a date" : "no capture date"
        origin = "\(why); file modified \(y)-\(m)-\(d)"
    }

    /// "2023-06-14…" → ("2023", "06", "14"); "2023-06" and "2023" are accepted ("01" fills in).
    static func parse(_ text: String) -> (String, String, String)? {
        let b = Array(text.utf8)
        func digits(_ r: Range<Int>) -> String? {
            guard r.upperBound <= b.count, b[r].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            return String(decoding: b[r], as: UTF8.self)
        }
        guard let y = digits(0..<4), y != "0000" else { return nil }
        var m = "01", d = "01"
        if b.count >= 7, b[4] == 0x2D || b[4] == 0x3A, let mm = digits(5..<7), let mi = Int(mm), (1...12).contains(mi) {
            m = mm
            if b.count >= 10, b[7] == b[4], let dd = digits(8..<10), let di = Int(dd), (1...31).contains(di) { d = dd }
        } else if b.count > 4 && b[4] != 0x54 {
            return nil
        }
        return (y, m, d)
    }

    static func utcDay(nanoseconds ns: Int64) -> (String, String, String) { Timestamp.utcDay(nanoseconds: ns) }
}
