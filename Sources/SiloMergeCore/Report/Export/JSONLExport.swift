import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension ExportWriter {
    // MARK: jsonl

    /// The JSON object of one asset, on one line (without the newline).
    public static func jsonLine(for asset: ReconciledAsset) -> String {
        var out = "{\"sha256\":\(Encode.json(asset.sha256.hex)),\"size\":\(asset.size),\"format\":\(Encode.json(asset.format.rawValue))"
        if let w = asset.width { out += ",\"width\":\(w)" }
        if let h = asset.height { out += ",\"height\":\(h)" }
        if let image = asset.imageSHA256 { out += ",\"image_sha256\":\(Encode.json(image.hex))" }
        // The file system's time, under its own name: never a creation date.
        if let modified = asset.fileModifiedNs { out += ",\"file_modified\":\(Encode.json(Timestamp.string(nanoseconds: modified)))" }
        out += ",\"copies\":["
        for (i, copy) in asset.copies.enumerated() {
            if i > 0 { out += "," }
            out += "{\"silo\":\(Encode.json(copy.silo)),\(Encode.jsonPath("path", copy.path.bytes)),\"size\":\(copy.size),"
            out += "\"mtime\":\(Encode.json(Timestamp.string(nanoseconds: copy.mtimeNs))),\"mtime_ns\":\(copy.mtimeNs),"
            out += "\"uid\":\(copy.uid),\"owner\":\(UserNames.name(of: copy.uid).map(Encode.json) ?? "null")}"
        }
        out += "],\"fields\":{"
        for (i, field) in orderedFields(asset).enumerated() {
            if i > 0 { out += "," }
            let value = field.status == .conflict ? nil : field.value
            out += "\(Encode.json(field.field.rawValue)):{\"value\":\(value?.json ?? "null"),"
            out += "\"status\":\(Encode.json(field.status.rawValue)),\"rule\":\(Encode.json(field.rule.description)),\"sources\":["
            for (k, s) in field.sources.enumerated() {
                if k > 0 { out += "," }
                out += "{\"silo\":\(Encode.json(s.silo)),\(Encode.jsonPath("path", s.path.bytes)),"
                out += "\"origin\":\(Encode.json(s.origin.rawValue)),\"tag\":\(Encode.json(s.tag)),"
                out += "\"raw\":\(Encode.json(s.raw)),\"value\":\(s.value.json)}"
            }
            out += "]}"
        }
        return out + "}}"
    }
}

struct JSONLFormatWriter: ExportFormatWriter {
    func write(_ asset: ReconciledAsset, to sink: ExportSink, summary: inout ExportSummary) throws {
        try sink.write(ExportWriter.jsonLine(for: asset) + "\n")
        summary.records += 1
    }
}
