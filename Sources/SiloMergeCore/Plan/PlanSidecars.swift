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
        var out = "path,sha256,size,format,title,description,keywords,creator,rights,date_created,source,file_modified\r\n"
        for row in rows {
            let a = row.asset
            func text(_ f: UnifiedField) -> String {
                guard let field = a.field(f), field.status != .conflict, let v = field.value else { return "" }
                return display(v)
            }
            let cells = [row.destination, a.sha256.hex, String(a.size), a.format.rawValue, text(.title), text(.description),
                         text(.keywords), text(.creator), text(.rights), text(.dateCreated), row.source,
                         ExportWriter.isoTime(nanoseconds: row.mtimeNs)]
            out += cells.map(Encode.csv).joined(separator: ",") + "\r\n"
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
