import CSV
import Foundation

/// A row of a departmental manifest that names a file.
public struct ManifestRow: Sendable {
    /// 1 is the first row after the header.
    public var number: Int
    /// The file it names, relative to the silo root.
    public var path: RelativePath
    public var values: [SourcedValue]
}

/// What reading a manifest found besides its rows.
public struct ManifestSummary: Sendable {
    public var rows: Int
    public var size: Int64
    public var mtimeNs: Int64
    public var sha256: SHA256Digest
    /// Rows skipped, with the reason (no path, a path leaving the silo).
    public var skipped: [(row: Int, reason: String)]
    /// How the bytes were decoded: "UTF-8", or what a department's spreadsheet wrote instead
    /// ("UTF-16LE", "UTF-16BE", "Windows-1252" for files that are not valid UTF-8).
    public var encoding: String = "UTF-8"
}

/// A manifest that cannot be used at all.
public struct ManifestError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var reason: String
    public var description: String { "manifest \(file): \(reason)" }
}

/// Reads a department's CSV export (CSV.swift: quotes, embedded newlines, a BOM, CRLF) and
/// maps its columns to unified fields as the configuration says.
public enum ManifestReader {
    /// Calls `body` for each row naming a file, in order.
    public static func read(_ definition: ManifestDefinition, _ body: (ManifestRow) throws -> Void) throws -> ManifestSummary {
        let path = definition.file.string ?? definition.file.display
        let stat: FileStat
        switch Posix.stat(definition.file) {
        case .success(let s): stat = s
        case .failure(let e): throw ManifestError(file: path, reason: "cannot open: \(e) (\(e.name))")
        }
        guard stat.kind == .regular else { throw ManifestError(file: path, reason: "is a \(stat.kind.label), not a CSV file") }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ManifestError(file: path, reason: "cannot read: \((error as NSError).localizedDescription)")
        }
        let digest = try data.withUnsafeBytes { raw -> SHA256Digest in
            let h = try SHA256Hasher()
            try h.update(raw)
            return try h.finalize()
        }
        guard let delimiter = definition.delimiter.unicodeScalars.first else {
            throw ManifestError(file: path, reason: "no delimiter")
        }
        let (utf8, encoding) = try decode(data, file: path)
        let reader: CSVReader
        do {
            reader = try CSVReader(stream: InputStream(data: utf8), hasHeaderRow: true, trimFields: false, delimiter: delimiter)
        } catch {
            throw ManifestError(file: path, reason: "not readable as CSV: \(error)")
        }
        guard let header = reader.headerRow?.map({ $0.trimmingCharacters(in: .whitespaces) }) else {
            throw ManifestError(file: path, reason: "has no header row")
        }
        guard let pathIndex = header.firstIndex(of: definition.pathColumn) else {
            throw ManifestError(file: path, reason: "has no column '\(definition.pathColumn)' (path_column); its columns are: \(header.joined(separator: ", "))")
        }
        var columns: [(index: Int, column: ManifestDefinition.Column)] = []
        for column in definition.columns {
            guard let i = header.firstIndex(of: column.column) else {
                throw ManifestError(file: path, reason: "has no column '\(column.column)'; its columns are: \(header.joined(separator: ", "))")
            }
            columns.append((i, column))
        }
        var count = 0
        var skipped: [(Int, String)] = []
        while let row = reader.next() {
            count += 1
            guard pathIndex < row.count else { skipped.append((count, "too few columns")); continue }
            guard let relative = normalize(row[pathIndex]) else {
                skipped.append((count, row[pathIndex].isEmpty ? "no path" : "the path '\(row[pathIndex])' leaves the silo"))
                continue
            }
            var values: [SourcedValue] = []
            for (index, column) in columns where index < row.count {
                if let v = value(row[index], column: column) { values.append(v) }
            }
            try body(ManifestRow(number: count, path: relative, values: values))
        }
        if let error = reader.error {
            throw ManifestError(file: path, reason: "stopped at row \(count + 1): \(error)")
        }
        var summary = ManifestSummary(rows: count, size: stat.size, mtimeNs: stat.mtimeNs, sha256: digest, skipped: skipped)
        summary.encoding = encoding
        return summary
    }

    /// The manifest as UTF-8. Spreadsheets export "Unicode text" as UTF-16 with a byte-order
    /// mark, and Excel on Windows writes "CSV" in Windows-1252: both are converted (and said),
    /// rather than refused or read as garbage.
    static func decode(_ data: Data, file: String) throws -> (Data, String) {
        let bytes = [UInt8](data.prefix(3))
        if bytes.count >= 2, (bytes[0] == 0xFF && bytes[1] == 0xFE) || (bytes[0] == 0xFE && bytes[1] == 0xFF) {
            let little = bytes[0] == 0xFF
            guard let text = String(data: data.dropFirst(2), encoding: little ? .utf16LittleEndian : .utf16BigEndian) else {
                throw ManifestError(file: file, reason: "starts with a UTF-16 byte-order mark but is not valid UTF-16")
            }
            return (Data(text.utf8), little ? "UTF-16LE" : "UTF-16BE")
        }
        if String(validatingUTF8Bytes: data) != nil { return (data, "UTF-8") }
        guard let text = String(data: data, encoding: .windowsCP1252) else {
            throw ManifestError(file: file, reason: "is neither UTF-8, UTF-16 nor Windows-1252 text")
        }
        return (Data(text.utf8), "Windows-1252")
    }

    /// A path as departments write it (`./a/b.jpg`, `a\b.jpg`, `/a/b.jpg`) relative to the silo
    /// root; nil when empty or when it would leave the silo (`..`).
    static func normalize(_ text: String) -> RelativePath? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "\\", with: "/")
        var parts: [Substring] = []
        for part in trimmed.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { return nil }
            parts.append(part)
        }
        guard !parts.isEmpty else { return nil }
        return RelativePath(parts.joined(separator: "/"))
    }

    static func value(_ cell: String, column: ManifestDefinition.Column) -> SourcedValue? {
        let text = cell.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return nil }
        let tag = "manifest:\(column.column)"
        let value: FieldValue
        switch column.field.kind {
        case .list:
            let items = column.split.map { sep in text.components(separatedBy: sep) } ?? [text]
            var seen = Set<String>()
            let cleaned = items.map { FieldValue.normalize($0) }.filter { !$0.isEmpty && seen.insert($0.lowercased()).inserted }
            guard !cleaned.isEmpty else { return nil }
            value = .list(cleaned)
        case .date:
            value = .date(DateNormalizer.iso(text) ?? text)
        case .integer:
            guard let n = Int(text) else { return nil }
            value = .integer(n)
        case .gps:
            guard let gps = FieldValue.from(object: text, field: .gps) else { return nil }
            value = gps
        case .text:
            value = .text(FieldValue.normalize(text))
        }
        return SourcedValue(field: column.field, value: value, origin: .manifest, tag: tag, raw: cell)
    }
}
