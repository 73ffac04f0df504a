import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension ExportWriter {
    // MARK: descriptive fields (exiftool, xmp)

    /// The descriptive values of an asset, cleaned for XMP.
    struct Descriptive {
        var title: String?, description: String?, rights: String?
        var subject: [String] = [], creator: [String] = []
        var dateCreated: String?
        var city: String?, state: String?, country: String?
        var gps: (latitude: Double, longitude: Double)?
        var rating: Int?

        var isEmpty: Bool {
            title == nil && description == nil && rights == nil && subject.isEmpty && creator.isEmpty
                && dateCreated == nil && city == nil && state == nil && country == nil && gps == nil && rating == nil
        }
    }

    static let descriptiveFields: [UnifiedField] = [
        .title, .description, .keywords, .creator, .rights, .dateCreated, .city, .state, .country, .gps, .rating,
    ]

    static func descriptive(_ asset: ReconciledAsset) -> (Descriptive, [ExportSkip]) {
        var d = Descriptive()
        var skips: [ExportSkip] = []
        for field in orderedFields(asset) where descriptiveFields.contains(field.field) {
            func skip(_ r: ExportSkipReason) { skips.append(ExportSkip(reason: r, sha256: asset.sha256, field: field.field)) }
            guard field.status != .conflict, let value = field.value else { skip(.fieldInConflict); continue }
            func singleText() -> String? {
                let t = xmlClean(value.display)
                return t.isEmpty ? nil : t
            }
            var ok = true
            switch field.field {
            case .title: d.title = singleText(); ok = d.title != nil
            case .description: d.description = singleText(); ok = d.description != nil
            case .rights: d.rights = singleText(); ok = d.rights != nil
            case .city: d.city = singleText(); ok = d.city != nil
            case .state: d.state = singleText(); ok = d.state != nil
            case .country: d.country = singleText(); ok = d.country != nil
            case .keywords, .creator:
                let items = (value.list ?? [value.display]).map(xmlClean).filter { !$0.isEmpty }
                if field.field == .keywords { d.subject = items } else { d.creator = items }
                ok = !items.isEmpty
            case .dateCreated:
                if let s = value.date, isISODate(s) { d.dateCreated = s } else { ok = false }
            case .gps:
                if let g = value.gps, g.latitude.isFinite, g.longitude.isFinite, abs(g.latitude) <= 90, abs(g.longitude) <= 180 {
                    d.gps = g
                } else { ok = false }
            case .rating:
                if let n = value.integer, (-1...5).contains(n) { d.rating = n } else { ok = false }
            default: break
            }
            if !ok { skip(.valueNotWritable) }
        }
        return (d, skips)
    }

    /// Drops the characters XML 1.0 forbids (C0 controls but TAB, LF and CR; U+FFFE, U+FFFF).
    static func xmlClean(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { !Encode.isXMLChar($0) }) else { return s }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: s.unicodeScalars.filter(Encode.isXMLChar))
        return String(out)
    }

    /// "2023", "2023-06", "2023-06-14", "2023-06-14T18:30", "…:00", "…:00.25", each time with
    /// an optional "Z" or "±hh:mm": the ISO 8601 forms XMP dates allow.
    static func isISODate(_ s: String) -> Bool {
        let b = Array(s.utf8)
        var i = 0
        func digits(_ n: Int) -> Bool {
            guard i + n <= b.count, b[i..<(i + n)].allSatisfy({ (0x30...0x39).contains($0) }) else { return false }
            i += n
            return true
        }
        func take(_ c: Character) -> Bool {
            guard i < b.count, b[i] == c.asciiValue! else { return false }
            i += 1
            return true
        }
        guard digits(4) else { return false }
        if i == b.count { return true }
        guard take("-"), digits(2) else { return false }
        if i == b.count { return true }
        guard take("-"), digits(2) else { return false }
        if i == b.count { return true }
        guard take("T"), digits(2), take(":"), digits(2) else { return false }
        if take(":") {
            guard digits(2) else { return false }
            if take(".") {
                let start = i
                while i < b.count, (0x30...0x39).contains(b[i]) { i += 1 }
                guard i > start else { return false }
            }
        }
        if i == b.count || (take("Z") && i == b.count) { return i == b.count }
        guard take("+") || take("-"), digits(2), take(":"), digits(2) else { return false }
        return i == b.count
    }
}
