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

    /// The JSON object of one asset, on one line (without the newline): a `JSONLRecord`.
    public static func jsonLine(for asset: ReconciledAsset) throws -> String {
        try OrderedJSONEncoder().encode(JSONLRecord(asset))
    }
}

/// One line of `export --format jsonl`, keys in this order: sha256, size, format, width,
/// height, image_sha256, file_modified (each of those three left out when unknown), copies
/// [{silo, path (+path_b64), size, mtime, mtime_ns, uid, owner}], fields {name: {value,
/// status, rule, sources [{silo, path (+path_b64), origin, tag, raw, value}]}}. A field in
/// conflict has `"value": null`; an owner no user name is known for is null.
public struct JSONLRecord: Encodable, Sendable {
    public var asset: ReconciledAsset

    public init(_ asset: ReconciledAsset) { self.asset = asset }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.put(asset.sha256.hex, "sha256")
        try c.put(asset.size, "size")
        try c.put(asset.format.rawValue, "format")
        if let w = asset.width { try c.put(w, "width") }
        if let h = asset.height { try c.put(h, "height") }
        if let image = asset.imageSHA256 { try c.put(image.hex, "image_sha256") }
        // The file system's time, under its own name: never a creation date.
        if let modified = asset.fileModifiedNs { try c.put(Timestamp.string(nanoseconds: modified), "file_modified") }
        try c.put(asset.copies.map(Copy.init), "copies")
        var fields = c.nestedContainer(keyedBy: JSONKey.self, forKey: JSONKey("fields"))
        for field in ExportWriter.orderedFields(asset) { try fields.put(Field(field), field.field.rawValue) }
    }

    struct Copy: Encodable {
        var copy: AssetCopy
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(copy.silo, "silo")
            try c.encodePath(copy.path)
            try c.put(copy.size, "size")
            try c.put(Timestamp.string(nanoseconds: copy.mtimeNs), "mtime")
            try c.put(copy.mtimeNs, "mtime_ns")
            try c.put(copy.uid, "uid")
            try c.encodeOrNull(UserNames.name(of: copy.uid), "owner")
        }
    }

    struct Field: Encodable {
        var field: ReconciledField
        init(_ field: ReconciledField) { self.field = field }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.encodeOrNull(field.status == .conflict ? nil : field.value.map(Value.init), "value")
            try c.put(field.status.rawValue, "status")
            try c.put(field.rule.description, "rule")
            try c.put(field.sources.map(Source.init), "sources")
        }
    }

    struct Source: Encodable {
        var source: FieldSource
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(source.silo, "silo")
            try c.encodePath(source.path)
            try c.put(source.origin.rawValue, "origin")
            try c.put(source.tag, "tag")
            try c.put(source.raw, "raw")
            try c.put(Value(source.value), "value")
            // A value pooled from another content of a group of similar images: never passed
            // off as this content's own.
            if let other = source.otherContent { try c.put(other, "other_content") }
        }
    }

    /// A value as `FieldValue.json` writes it: coordinates to 7 decimals, exactly.
    struct Value: Encodable {
        var value: FieldValue
        init(_ value: FieldValue) { self.value = value }
        func encode(to encoder: any Encoder) throws {
            if case .gps(let lat, let lon) = value {
                var c = encoder.container(keyedBy: JSONKey.self)
                try c.put(JSONNumberText(FieldValue.degrees(lat)), "latitude")
                try c.put(JSONNumberText(FieldValue.degrees(lon)), "longitude")
            } else {
                try value.encode(to: encoder)
            }
        }
    }
}

struct JSONLFormatWriter: ExportFormatWriter {
    func write(_ asset: ReconciledAsset, to sink: ExportSink, summary: inout ExportSummary) throws {
        try sink.write(try ExportWriter.jsonLine(for: asset) + "\n")
        summary.records += 1
    }
}
