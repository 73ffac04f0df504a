import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension ExportWriter {
    // MARK: csv

    /// The CSV columns, in order.
    public static let csvColumns = [
        "sha256", "size", "format", "width", "height", "copies", "canonical_silo", "canonical_path", "all_paths",
        "title", "description", "keywords", "creator", "rights", "date_created", "city", "state", "country", "gps",
        "rating", "make", "model", "orientation", "conflicts", "file_modified",
    ]

    /// The header row, with its CRLF.
    public static var csvHeader: String { CSV.header(csvColumns) }

    /// The row of one asset, with its CRLF (through `CSV`, the one CSV writer).
    public static func csvRow(for asset: ReconciledAsset) -> String {
        let fields = orderedFields(asset)
        func value(_ f: UnifiedField) -> FieldValue? {
            guard let field = fields.first(where: { $0.field == f }), field.status != .conflict else { return nil }
            return field.value
        }
        func text(_ f: UnifiedField) -> CSV.Cell { .text(value(f)?.display ?? "") }
        /// A number the exporter formats itself: never prefixed; anything else is metadata text.
        func number(_ f: UnifiedField) -> CSV.Cell {
            guard let v = value(f) else { return .empty }
            switch v {
            case .integer(let n): return .number(n)
            case .gps: return .formatted(v.display)
            default: return .text(v.display)
            }
        }
        func pathText(_ p: RelativePath) -> String { p.string ?? p.display }
        let canonical = asset.copies.first
        let width = asset.width ?? value(.width)?.integer
        let height = asset.height ?? value(.height)?.integer
        var cells: [CSV.Cell] = [
            .own(asset.sha256.hex), .number(asset.size), .own(asset.format.rawValue),
            width.map { .number($0) } ?? .empty, height.map { .number($0) } ?? .empty, .number(asset.physicalCopies),
            .text(canonical?.silo ?? ""), .text(canonical.map { pathText($0.path) } ?? ""),
            .text(asset.copies.map { "\($0.silo):\(pathText($0.path))" }.joined(separator: " | ")),
        ]
        for f: UnifiedField in [.title, .description, .keywords, .creator, .rights, .dateCreated, .city, .state, .country] {
            cells.append(text(f))
        }
        cells.append(number(.gps))
        cells.append(number(.rating))
        cells.append(text(.make))
        cells.append(text(.model))
        cells.append(number(.orientation))
        cells.append(.own(fields.filter { $0.status == .conflict }.map(\.field.rawValue).joined(separator: "; ")))
        cells.append(.own(asset.fileModifiedNs.map { Timestamp.string(nanoseconds: $0) } ?? ""))
        return CSV.row(cells)
    }
}

struct CSVFormatWriter: ExportFormatWriter {
    func begin(_ sink: ExportSink) throws {
        try sink.output?.write(CSV.byteOrderMark)
        try sink.write(ExportWriter.csvHeader)
    }

    func write(_ asset: ReconciledAsset, to sink: ExportSink, summary: inout ExportSummary) throws {
        try sink.write(ExportWriter.csvRow(for: asset))
        summary.records += 1
    }
}
