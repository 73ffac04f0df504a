import Foundation

/// CSV import sheets in the shape each DAM documents for its bulk metadata import, one row per
/// file of the merged tree (so `--plan` is needed: the paths are relative to the plan's target,
/// and the files and their metadata travel together). Every sheet goes through the one CSV
/// writer (RFC 4180 quoting, formula neutralising).
///
/// - `aem` — Adobe Experience Manager Assets, *bulk metadata import*: `assetPath` first (the
///   asset's repository path, `--dam-root` + the path in the target), typed headers
///   (`dc:title {{String}}`, `dc:subject {{String: MULTI}}`, `xmp:CreateDate {{Date}}`), lists
///   joined with `|` (AEM's default multi-value delimiter), UTF-8 without BOM.
///   https://experienceleague.adobe.com/docs/experience-manager-cloud-service/content/assets/manage/metadata-import-export.html
/// - `resourcespace` — ResourceSpace *CSV Upload* plugin: UTF-8 **without** BOM, a header row of
///   field names (`Original filename` to match the files, `Title`, `Caption`, `Keywords`,
///   `Credit`, `Copyright`, `Date`, `Country`…), dates as `YYYY-MM-DD HH:MM`, keywords joined with
///   `, `. https://www.resourcespace.com/knowledge-base/user/plugin-csv-upload
/// - `canto` — Canto *Metadata Import*: `File Name` as the very first column (the exact file
///   name), then `Description`, `Keywords`, `Author`, `Copyright`…; several values in one cell
///   always separated with `;`.
///   https://cantodam.freshdesk.com/en/support/solutions/articles/9000138196-metadata-import
/// - `bynder` — Bynder media import sheet: the documented leading columns in their order
///   (`Asset Name`, `Asset Description`, `Brand`, `Date Created`, `Copyright`, `Tags` comma-
///   separated without trailing spaces, `Path to Assets`, `Archived`); `Brand` is the portal's
///   and is left empty to fill in.
///   https://support.bynder.com/hc/en-us/articles/360013931899-Import-Assets-via-Professional-Services
/// - `generic` — every reconciled field under its SiloMerge name, `path` first, UTF-8 with BOM
///   and CRLF (the shape of `--format csv`, one row per merged file).
public enum DAMProfile: String, Sendable, CaseIterable, Codable {
    case generic, aem, resourcespace, canto, bynder

    /// The values one row is made of.
    public struct Row: Sendable {
        public var path: RelativePath
        public var asset: ReconciledAsset
        public var title: String?, description: String?, rights: String?
        public var keywords: [String] = [], creator: [String] = []
        public var dateCreated: String?
        public var city: String?, state: String?, country: String?
        public var gps: (latitude: Double, longitude: Double)?
        public var rating: Int?
    }

    /// A column: its header and how a row fills it (`.own` cells are never neutralised).
    struct Column {
        var header: String
        var cell: (Row) -> CSV.Cell
    }

    /// The byte-order mark and line end the DAM expects.
    var byteOrderMark: Bool { self == .generic }

    func columns(damRoot: String) -> [Column] {
        func text(_ f: @escaping (Row) -> String?) -> (Row) -> CSV.Cell { { r in f(r).map(CSV.Cell.text) ?? .empty } }
        func list(_ f: @escaping (Row) -> [String], _ separator: String) -> (Row) -> CSV.Cell {
            { r in let l = f(r); return l.isEmpty ? .empty : .text(l.joined(separator: separator)) }
        }
        let fileName: (Row) -> CSV.Cell = { r in .text(String(decoding: r.path.lastComponent, as: UTF8.self)) }
        let path: (Row) -> CSV.Cell = { r in .text(r.path.display) }
        switch self {
        case .aem:
            let root = damRoot.hasSuffix("/") ? String(damRoot.dropLast()) : damRoot
            return [
                Column(header: "assetPath", cell: { r in .text(root + "/" + r.path.display) }),
                Column(header: "dc:title {{String}}", cell: text(\.title)),
                Column(header: "dc:description {{String}}", cell: text(\.description)),
                Column(header: "dc:subject {{String: MULTI}}", cell: list(\.keywords, "|")),
                Column(header: "dc:creator {{String: MULTI}}", cell: list(\.creator, "|")),
                Column(header: "dc:rights {{String}}", cell: text(\.rights)),
                Column(header: "xmp:CreateDate {{Date}}", cell: text(\.dateCreated)),
                Column(header: "photoshop:City {{String}}", cell: text(\.city)),
                Column(header: "photoshop:State {{String}}", cell: text(\.state)),
                Column(header: "photoshop:Country {{String}}", cell: text(\.country)),
                Column(header: "xmp:Rating {{Long}}", cell: { r in r.rating.map(CSV.Cell.number) ?? .empty }),
            ]
        case .resourcespace:
            return [
                Column(header: "Original filename", cell: fileName),
                Column(header: "Title", cell: text(\.title)),
                Column(header: "Caption", cell: text(\.description)),
                Column(header: "Keywords", cell: list(\.keywords, ", ")),
                Column(header: "Credit", cell: list(\.creator, ", ")),
                Column(header: "Copyright", cell: text(\.rights)),
                Column(header: "Date", cell: text { $0.dateCreated.flatMap(Self.resourceSpaceDate) }),
                Column(header: "City", cell: text(\.city)),
                Column(header: "State", cell: text(\.state)),
                Column(header: "Country", cell: text(\.country)),
                Column(header: "Path", cell: path),
            ]
        case .canto:
            return [
                Column(header: "File Name", cell: fileName),
                Column(header: "Description", cell: text { $0.description ?? $0.title }),
                Column(header: "Keywords", cell: list(\.keywords, ";")),
                Column(header: "Author", cell: list(\.creator, ";")),
                Column(header: "Copyright", cell: text(\.rights)),
                Column(header: "Path", cell: path),
            ]
        case .bynder:
            return [
                Column(header: "Asset Name", cell: text { $0.title ?? String(decoding: $0.path.lastComponent, as: UTF8.self) }),
                Column(header: "Asset Description", cell: text(\.description)),
                Column(header: "Brand", cell: { _ in .empty }),
                Column(header: "Date Created", cell: text { $0.dateCreated.map { String($0.prefix(10)) } }),
                Column(header: "Copyright", cell: text(\.rights)),
                Column(header: "Tags", cell: list({ $0.keywords.map { $0.trimmingCharacters(in: .whitespaces) } }, ",")),
                Column(header: "Path to Assets", cell: path),
                Column(header: "Archived", cell: { _ in .number(0) }),
            ]
        case .generic:
            return [
                Column(header: "path", cell: path),
                Column(header: "sha256", cell: { .own($0.asset.sha256.hex) }),
                Column(header: "title", cell: text(\.title)),
                Column(header: "description", cell: text(\.description)),
                Column(header: "keywords", cell: list(\.keywords, "; ")),
                Column(header: "creator", cell: list(\.creator, "; ")),
                Column(header: "rights", cell: text(\.rights)),
                Column(header: "date_created", cell: text(\.dateCreated)),
                Column(header: "city", cell: text(\.city)),
                Column(header: "state", cell: text(\.state)),
                Column(header: "country", cell: text(\.country)),
                Column(header: "gps", cell: { r in r.gps.map { .formatted("\($0.latitude), \($0.longitude)") } ?? .empty }),
                Column(header: "rating", cell: { r in r.rating.map(CSV.Cell.number) ?? .empty }),
            ]
        }
    }

    /// "2023-06-14T18:32:07+01:00" → "2023-06-14 18:32"; a date without a time stays "2023-06-14".
    static func resourceSpaceDate(_ iso: String) -> String? {
        let b = Array(iso.utf8)
        guard b.count >= 10 else { return nil }
        if b.count >= 16, b[10] == UInt8(ascii: "T") {
            return String(decoding: b[0..<10], as: UTF8.self) + " " + String(decoding: b[11..<16], as: UTF8.self)
        }
        return String(decoding: b[0..<10], as: UTF8.self)
    }
}

/// `--format csv --profile NAME --plan PLAN`: one row per merged file, in the DAM's shape.
final class DAMProfileWriter: ExportFormatWriter {
    let profile: DAMProfile
    let columns: [DAMProfile.Column]

    init(profile: DAMProfile, damRoot: String) {
        self.profile = profile
        columns = profile.columns(damRoot: damRoot)
    }

    func begin(_ sink: ExportSink) throws {
        if profile.byteOrderMark { try sink.output?.write(CSV.byteOrderMark) }
        try sink.write(CSV.header(columns.map(\.header)))
    }

    func write(_ asset: ReconciledAsset, to sink: ExportSink, summary: inout ExportSummary) throws {
        let places = sink.options.placements?[asset.sha256] ?? []
        guard !places.isEmpty else { return }
        let (d, skips) = ExportWriter.descriptive(asset)
        skips.forEach { summary.record($0) }
        for place in places {
            var row = DAMProfile.Row(path: place, asset: asset)
            row.title = d.title; row.description = d.description; row.rights = d.rights
            row.keywords = d.subject; row.creator = d.creator; row.dateCreated = d.dateCreated
            row.city = d.city; row.state = d.state; row.country = d.country; row.gps = d.gps; row.rating = d.rating
            try sink.write(CSV.row(columns.map { $0.cell(row) }))
            summary.records += 1
        }
    }
}
