import Foundation

/// The generated files a plan can carry: an XMP sidecar per destination and a DAM import
/// manifest.
enum PlanSidecars {
    /// The XMP sidecar of a destination: the export's packet (`ExportWriter.xmpPacket`), so a
    /// plan's sidecars and `silomerge export --format xmp` write the same bytes. Fields in
    /// conflict are left out: a sidecar never states what people have not agreed on.
    static func xmpPacket(for asset: ReconciledAsset) -> String { ExportWriter.xmpPacket(for: asset) }

    /// One row per file in the target. `date_created` is the reconciled metadata's (empty when
    /// no metadata has one); `file_modified` the mtime the file keeps in the target (its
    /// canonical copy's), under its own name: a file date is never offered as a creation date.
    static func manifest(rows: [(destination: String, asset: ReconciledAsset, source: String, mtimeNs: Int64)]) -> String {
        // Through `CSV`, the one CSV writer: formula-like names and values are neutralised.
        var out = CSV.header(["path", "sha256", "size", "format", "title", "description", "keywords", "creator", "rights",
                              "date_created", "source", "file_modified"])
        for row in rows {
            let a = row.asset
            func text(_ f: UnifiedField) -> CSV.Cell {
                guard let field = a.field(f), field.status != .conflict, let v = field.value else { return .empty }
                return .text(display(v))
            }
            out += CSV.row([.text(row.destination), .own(a.sha256.hex), .number(a.size), .own(a.format.rawValue), text(.title),
                            text(.description), text(.keywords), text(.creator), text(.rights), text(.dateCreated), .text(row.source),
                            .own(Timestamp.string(nanoseconds: row.mtimeNs))])
        }
        return out
    }

    static func display(_ v: FieldValue) -> String {
        switch v {
        case .text(let s): s
        case .list(let l): l.joined(separator: "; ")
        case .integer(let i): String(i)
        case .gps(let lat, let lon): String(format: "%.6f, %.6f", lat, lon)
        case .date(let d): d
        }
    }
}
