import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension ExportWriter {
    // MARK: exiftool

    /// The objects of one asset for `exiftool -j=FILE` (one per copy whose path is UTF-8).
    public static func exiftoolObjects(for asset: ReconciledAsset) -> [String] { renderExifTool(asset).records }

    /// A JSON string exiftool stores as given: one starting with "base64:" is what exiftool
    /// decodes, so such a text is itself written base64-encoded.
    static func exiftoolString(_ s: String) -> String {
        if s.lowercased().hasPrefix("base64:") { return Encode.json("base64:" + Data(s.utf8).base64EncodedString()) }
        return Encode.json(s)
    }

    static func renderExifTool(_ asset: ReconciledAsset, placements: [SHA256Digest: [RelativePath]]? = nil) -> Rendered {
        let (d, fieldSkips) = descriptive(asset)
        var out = Rendered(skips: fieldSkips)
        guard !d.isEmpty else {
            out.skips.append(ExportSkip(reason: .nothingToWrite, sha256: asset.sha256))
            return out
        }
        var tags = ""
        func add(_ tag: String, _ json: String) { tags += ",\(Encode.json(tag)):\(json)" }
        func list(_ items: [String]) -> String { "[" + items.map(exiftoolString).joined(separator: ",") + "]" }
        if let v = d.title { add("XMP-dc:Title", exiftoolString(v)) }
        if let v = d.description { add("XMP-dc:Description", exiftoolString(v)) }
        if !d.subject.isEmpty { add("XMP-dc:Subject", list(d.subject)) }
        if !d.creator.isEmpty { add("XMP-dc:Creator", list(d.creator)) }
        if let v = d.rights { add("XMP-dc:Rights", exiftoolString(v)) }
        if let v = d.dateCreated { add("XMP-photoshop:DateCreated", Encode.json(v)) }
        if let v = d.city { add("XMP-photoshop:City", exiftoolString(v)) }
        if let v = d.state { add("XMP-photoshop:State", exiftoolString(v)) }
        if let v = d.country { add("XMP-photoshop:Country", exiftoolString(v)) }
        if let g = d.gps {
            // Signed decimal degrees: exiftool sets the N/S, E/W reference from the sign.
            add("XMP-exif:GPSLatitude", FieldValue.degrees(g.latitude))
            add("XMP-exif:GPSLongitude", FieldValue.degrees(g.longitude))
        }
        if let v = d.rating { add("XMP-xmp:Rating", String(v)) }
        if let placements {
            // After a plan: the merged copies, relative to the target (run exiftool there).
            for place in placements[asset.sha256] ?? [] {
                guard let file = place.string else {
                    out.skips.append(ExportSkip(reason: .pathNotUTF8, sha256: asset.sha256, path: place))
                    continue
                }
                out.records.append("{\"SourceFile\":\(Encode.json(file))\(tags)}")
            }
            return out
        }
        for copy in asset.copies {
            guard let file = copy.absolutePath.string else {
                out.skips.append(ExportSkip(reason: .pathNotUTF8, sha256: asset.sha256, silo: copy.silo, path: copy.path))
                continue
            }
            out.records.append("{\"SourceFile\":\(Encode.json(file))\(tags)}")
        }
        return out
    }
}

/// A JSON array of objects, one per copy: `[` before the first, `]` after the last.
struct ExifToolFormatWriter: ExportFormatWriter {
    private var objects = 0

    mutating func write(_ asset: ReconciledAsset, to sink: ExportSink, summary: inout ExportSummary) throws {
        let rendered = ExportWriter.renderExifTool(asset, placements: sink.options.placements)
        rendered.skips.forEach { summary.record($0) }
        for object in rendered.records {
            try sink.write((objects == 0 ? "[\n" : ",\n") + object)
            objects += 1
        }
        summary.records += rendered.records.count
    }

    func finish(_ sink: ExportSink) throws { try sink.write(objects == 0 ? "[]\n" : "\n]\n") }
}
