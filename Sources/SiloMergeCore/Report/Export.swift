import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The writers behind `silomerge export --format jsonl|csv|exiftool|xmp|bagit`.
//
// They take the unified catalogue one `ReconciledAsset` at a time (`ExportWriter.write(_:)`),
// so memory does not grow with the catalogue, and they never print: a single-file format goes
// to a file (written under a temporary name and renamed into place by `finish()`) or to a file
// descriptor (standard output); `xmp` writes one sidecar per asset into a folder. Failures
// throw `ExportError`; what could not be exported is counted in `ExportSummary`.
//
// Output is deterministic: the same assets in the same order give byte-identical output (keys
// in a fixed order, fields in `UnifiedField` order, copies in the order the catalogue gives,
// no time stamps or versions in the output; the BagIt manifest is sorted whatever the order).
//
// Decisions on edge cases:
// - jsonl: a path that is not valid UTF-8 is written in its display form (`\xNN` escapes) with
//   its exact bytes in `path_b64`. `width`, `height` and `image_sha256` are left out when
//   unknown; a field in conflict has `"value": null`.
// - csv: UTF-8 with a BOM, CRLF, RFC 4180 quoting (embedded newlines kept inside quotes). Any
//   cell taken from metadata, a path or a silo name that starts with = + - @ TAB or CR gets a
//   leading apostrophe. Cells the exporter formats itself from numbers (size, width, height,
//   copies, rating, orientation, gps "lat, lon") are never prefixed: a negative latitude or
//   a rating of -1 carries no formula. Paths that are not UTF-8 appear in display form.
//   A field in conflict is left empty and named in `conflicts`.
// - exiftool / xmp: only the descriptive fields (title, description, keywords, creator,
//   rights, date created, city, state, country, GPS, rating). Left out, and counted: fields in
//   conflict, values the target cannot carry (a date that is not ISO 8601, coordinates out of
//   range, a rating outside -1...5, text that is empty once characters XML 1.0 forbids are
//   dropped), assets with nothing left to write, and (exiftool) copies whose absolute path is
//   not valid UTF-8. A string exiftool would decode as base64 (it starts with "base64:") is
//   itself written base64-encoded, so exiftool stores the text unchanged.
// - xmp: `<first 16 hex digits of the SHA-256>.xmp`; an existing file with the same bytes is
//   left alone (`unchanged`), one with other bytes is an error unless
//   `ExportOptions.replaceDifferentSidecars`. Files are written under a temporary name and
//   linked or renamed into place (never a half-written sidecar under the final name).
// - bagit: RFC 8493 requires UTF-8 manifests, and percent-encoding only CR, LF and "%". A
//   copy whose path is not valid UTF-8 cannot be named there (encoding its invalid bytes as
//   %XX would name a file no validator finds), so it is left out and counted.

// MARK: - Public types

/// The export formats.
public enum ExportFormat: String, Sendable, Codable, CaseIterable {
    /// One JSON object per asset and line.
    case jsonl
    /// One spreadsheet row per asset (a DAM importer's CSV).
    case csv
    /// A JSON array for `exiftool -j=FILE`: one object per copy.
    case exiftool
    /// One XMP sidecar per asset, in a folder.
    case xmp
    /// The lines of a BagIt `manifest-sha256.txt`: one per copy.
    case bagit

    /// True for the format that writes a folder rather than one file.
    public var writesFolder: Bool { self == .xmp }
}

/// Where an export goes.
public enum ExportDestination: Sendable, Hashable {
    /// A file, replaced by `finish()` (written under a temporary name in the same folder first).
    case file(FilePath)
    /// An open file descriptor (standard output, say); never closed by the writer.
    case fileDescriptor(Int32)
    /// A folder (created when missing), for `xmp`.
    case directory(FilePath)

    public static let standardOutput = ExportDestination.fileDescriptor(1)
}

public struct ExportOptions: Sendable, Hashable {
    /// xmp: replace an existing sidecar whose bytes differ (otherwise an error).
    public var replaceDifferentSidecars: Bool

    public init(replaceDifferentSidecars: Bool = false) {
        self.replaceDifferentSidecars = replaceDifferentSidecars
    }
}

/// An export that could not be written.
public struct ExportError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// The destination does not suit the format (a folder for a single-file format...).
        case destination
        /// A file or folder could not be opened or created.
        case open
        case write
        case read
        case rename
        /// A sidecar with other content is already there.
        case exists
        /// `write` or `finish` after `finish`, or after an earlier write failed.
        case state
    }

    public var kind: Kind
    /// The file or folder concerned (nil for a file descriptor).
    public var path: FilePath?
    /// The errno of the failed call, when there was one.
    public var errno: Int32?
    /// A sentence for a person.
    public var reason: String

    public init(_ kind: Kind, path: FilePath?, errno: Int32? = nil, reason: String) {
        self.kind = kind; self.path = path; self.errno = errno; self.reason = reason
    }

    /// "/srv/out/ab12.xmp: cannot create the file: Permission denied (EACCES)".
    public var description: String {
        var text = path.map { "\($0.display): " } ?? ""
        text += reason
        if let errno { text += ": \(Errno(errno).description) (\(Errno(errno).name))" }
        return text
    }
}

/// Why something was left out of an export.
public enum ExportSkipReason: String, Sendable, Codable, CaseIterable, Comparable {
    /// A copy whose path is not valid UTF-8 (exiftool, bagit). Counted per copy.
    case pathNotUTF8 = "path-not-utf8"
    /// A field in conflict, not written (exiftool, xmp). Counted per asset and field.
    case fieldInConflict = "field-in-conflict"
    /// A field whose value the format cannot carry (exiftool, xmp). Counted per asset and field.
    case valueNotWritable = "value-not-writable"
    /// An asset with no descriptive field left to write (exiftool, xmp). Counted per asset.
    case nothingToWrite = "nothing-to-write"

    public static func < (a: Self, b: Self) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }

    /// "copies whose path is not UTF-8", for summaries.
    public var label: String {
        switch self {
        case .pathNotUTF8: "copies whose path is not UTF-8"
        case .fieldInConflict: "fields in conflict"
        case .valueNotWritable: "values the format cannot carry"
        case .nothingToWrite: "assets with nothing to write"
        }
    }
}

/// One thing left out of an export.
public struct ExportSkip: Sendable, Hashable {
    public var reason: ExportSkipReason
    public var sha256: SHA256Digest
    public var silo: String?
    public var path: RelativePath?
    public var field: UnifiedField?

    public init(reason: ExportSkipReason, sha256: SHA256Digest, silo: String? = nil, path: RelativePath? = nil,
                field: UnifiedField? = nil) {
        self.reason = reason; self.sha256 = sha256; self.silo = silo; self.path = path; self.field = field
    }
}

/// What an export wrote and left out.
public struct ExportSummary: Sendable, Hashable, CustomStringConvertible {
    public var format: ExportFormat
    /// Assets given to the writer.
    public var assets = 0
    /// Copies of those assets.
    public var copies = 0
    /// Lines (jsonl, bagit), rows (csv, without the header), objects (exiftool) or sidecars
    /// created or replaced (xmp) written.
    public var records = 0
    /// xmp: sidecars already there with the same bytes, left alone.
    public var unchanged = 0
    /// How many things were left out, by reason (see each reason for its unit).
    public var skipped: [ExportSkipReason: Int] = [:]
    /// The first `exampleLimit` things left out, in the order met.
    public var skipExamples: [ExportSkip] = []
    public static let exampleLimit = 100

    public init(format: ExportFormat) { self.format = format }

    public var skippedTotal: Int { skipped.values.reduce(0, +) }

    mutating func record(_ skip: ExportSkip) {
        skipped[skip.reason, default: 0] += 1
        if skipExamples.count < Self.exampleLimit { skipExamples.append(skip) }
    }

    /// "csv: 3 assets, 5 copies, 3 records written; left out: 1 copies whose path is not UTF-8".
    public var description: String {
        var text = "\(format.rawValue): \(Format.plural(assets, "asset")), \(Format.plural(copies, "copy")), "
            + "\(Format.plural(records, "record")) written"
        if unchanged > 0 { text += ", \(Format.count(unchanged)) unchanged" }
        let left = skipped.keys.sorted().map { "\(Format.count(skipped[$0]!)) \($0.label)" }
        if !left.isEmpty { text += "; left out: " + left.joined(separator: ", ") }
        return text
    }
}

// MARK: - The writer

/// Writes the unified catalogue in one export format, one asset at a time.
///
/// ```swift
/// let writer = try ExportWriter(format: .jsonl, destination: .file(FilePath("/tmp/catalogue.jsonl")))
/// for asset in assets { try writer.write(asset) }
/// let summary = try writer.finish()
/// ```
/// A writer dropped without `finish()` removes its temporary files and leaves an existing
/// destination file as it was.
public final class ExportWriter {
    public let format: ExportFormat
    public let destination: ExportDestination
    public let options: ExportOptions
    /// What was written so far.
    public private(set) var summary: ExportSummary

    private enum State { case open, failed, finished }
    private var state = State.open
    private var output: ExportOutput?
    private var folder: FilePath?
    private var manifest: ManifestSorter?
    private var exiftoolObjects = 0
    /// Every file the export writes goes through it (tests inject faults).
    let fileSystem: any FileOps
    /// bagit: lines sorted in memory before spilling a sorted run to a temporary file.
    var manifestRunLimit = 200_000 { didSet { manifest?.runLimit = manifestRunLimit } }

    public init(format: ExportFormat, destination: ExportDestination, options: ExportOptions = ExportOptions(),
                fileSystem: any FileOps = RealFileOps()) throws {
        self.format = format; self.destination = destination; self.options = options
        self.fileSystem = fileSystem
        self.summary = ExportSummary(format: format)
        switch (format.writesFolder, destination) {
        case (true, .directory(let dir)):
            try ExportFileOps.makeDirectories(dir)
            folder = dir
        case (true, .file(let p)):
            throw ExportError(.destination, path: p, reason: "the xmp format writes one sidecar per asset: give a folder")
        case (true, .fileDescriptor):
            throw ExportError(.destination, path: nil, reason: "the xmp format writes one sidecar per asset: give a folder")
        case (false, .directory(let dir)):
            throw ExportError(.destination, path: dir, reason: "the \(format.rawValue) format writes one file: give a file, not a folder")
        case (false, .file(let p)):
            output = try ExportOutput(file: p, fs: fileSystem)
        case (false, .fileDescriptor(let fd)):
            output = ExportOutput(fd: fd)
        }
        switch format {
        case .csv:
            try output?.write(CSV.byteOrderMark)
            try output?.write(Self.csvHeader)
        case .bagit:
            var parent = FilePath(NSTemporaryDirectory())
            if case .file(let p) = destination { parent = ExportFileOps.parent(of: p) }
            manifest = ManifestSorter(tempParent: parent, runLimit: manifestRunLimit)
        default: break
        }
    }

    deinit {
        output?.abandon()
        manifest?.cleanup()
    }

    /// Writes one asset.
    public func write(_ asset: ReconciledAsset) throws {
        switch state {
        case .open: break
        case .failed: throw ExportError(.state, path: nil, reason: "an earlier write failed; the export is incomplete")
        case .finished: throw ExportError(.state, path: nil, reason: "the export is already finished")
        }
        summary.assets += 1
        summary.copies += asset.copies.count
        switch format {
        case .jsonl:
            try stream { try $0.write(Self.jsonLine(for: asset) + "\n") }
            summary.records += 1
        case .csv:
            try stream { try $0.write(Self.csvRow(for: asset)) }
            summary.records += 1
        case .exiftool:
            let rendered = Self.renderExifTool(asset)
            rendered.skips.forEach { summary.record($0) }
            try stream { out in
                for object in rendered.records {
                    try out.write((exiftoolObjects == 0 ? "[\n" : ",\n") + object)
                    exiftoolObjects += 1
                }
            }
            summary.records += rendered.records.count
        case .xmp:
            let rendered = Self.renderXMP(asset)
            rendered.skips.forEach { summary.record($0) }
            guard let packet = rendered.records.first, let folder else { return }
            let created = try writeSidecar(Array(packet.utf8), named: Self.xmpFileName(for: asset), in: folder)
            if created { summary.records += 1 } else { summary.unchanged += 1 }
        case .bagit:
            let rendered = Self.renderBagIt(asset)
            rendered.skips.forEach { summary.record($0) }
            try stream { _ in for line in rendered.records { try manifest?.add(Array(line.utf8)) } }
            summary.records += rendered.records.count
        }
    }

    /// Completes the output (closing brackets, sorting the manifest, renaming the file into
    /// place) and returns the summary. Nothing is visible under the destination name before.
    @discardableResult
    public func finish() throws -> ExportSummary {
        switch state {
        case .open: break
        case .failed: throw ExportError(.state, path: nil, reason: "an earlier write failed; the export is incomplete")
        case .finished: throw ExportError(.state, path: nil, reason: "the export is already finished")
        }
        try stream { out in
            if format == .exiftool { try out.write(exiftoolObjects == 0 ? "[]\n" : "\n]\n") }
            if let manifest { try manifest.drain(into: out); manifest.cleanup() }
            try out.commit()
        }
        state = .finished
        return summary
    }

    /// Runs a write to the stream output; a failure leaves the writer failed.
    private func stream(_ body: (ExportOutput) throws -> Void) throws {
        guard let output else { return }
        do { try body(output) } catch {
            state = .failed
            throw error
        }
    }

    /// Writes a sidecar; true when it was created or replaced, false when an identical one was there.
    private func writeSidecar(_ bytes: [UInt8], named name: String, in folder: FilePath) throws -> Bool {
        let target = folder.appending(RelativePath(name))
        var replace = false
        switch try ExportFileOps.compare(target, with: bytes) {
        case .identical: return false
        case .different:
            guard options.replaceDifferentSidecars else {
                throw ExportError(.exists, path: target, reason: "a different file is already there; not overwritten")
            }
            replace = true
        case .missing: break
        }
        do {
            if try AtomicFile.write(target, bytes, fs: fileSystem, placement: replace ? .replace : .keepExisting) { return true }
        } catch let e as AtomicFile.Failure {
            throw ExportError(e)
        }
        // The name was taken meanwhile (never clobbered): the same sidecar, or another one.
        if try ExportFileOps.compare(target, with: bytes) == .identical { return false }
        throw ExportError(.exists, path: target, reason: "a different file is already there; not overwritten")
    }
}

// MARK: - Records

extension ExportWriter {
    /// Records of one asset and what was left out.
    struct Rendered {
        var records: [String] = []
        var skips: [ExportSkip] = []
    }

    /// One field per `UnifiedField`, in `UnifiedField` order (the first when a field repeats).
    static func orderedFields(_ asset: ReconciledAsset) -> [ReconciledField] {
        var seen = Set<UnifiedField>()
        return asset.fields.filter { seen.insert($0.field).inserted }.sorted { $0.field < $1.field }
    }

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

    // MARK: exiftool

    /// The objects of one asset for `exiftool -j=FILE` (one per copy whose path is UTF-8).
    public static func exiftoolObjects(for asset: ReconciledAsset) -> [String] { renderExifTool(asset).records }

    /// A JSON string exiftool stores as given: one starting with "base64:" is what exiftool
    /// decodes, so such a text is itself written base64-encoded.
    static func exiftoolString(_ s: String) -> String {
        if s.lowercased().hasPrefix("base64:") { return Encode.json("base64:" + Data(s.utf8).base64EncodedString()) }
        return Encode.json(s)
    }

    static func renderExifTool(_ asset: ReconciledAsset) -> Rendered {
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
        for copy in asset.copies {
            guard let file = copy.absolutePath.string else {
                out.skips.append(ExportSkip(reason: .pathNotUTF8, sha256: asset.sha256, silo: copy.silo, path: copy.path))
                continue
            }
            out.records.append("{\"SourceFile\":\(Encode.json(file))\(tags)}")
        }
        return out
    }

    // MARK: xmp

    /// The sidecar's file name: the first 16 hex digits of the SHA-256, ".xmp".
    public static func xmpFileName(for asset: ReconciledAsset) -> String { String(asset.sha256.hex.prefix(16)) + ".xmp" }

    /// A complete XMP packet with the asset's descriptive fields (those in conflict or that XMP
    /// cannot carry are left out).
    public static func xmpPacket(for asset: ReconciledAsset) -> String {
        packet(descriptive(asset).0)
    }

    static func renderXMP(_ asset: ReconciledAsset) -> Rendered {
        let (d, skips) = descriptive(asset)
        var out = Rendered(skips: skips)
        if d.isEmpty { out.skips.append(ExportSkip(reason: .nothingToWrite, sha256: asset.sha256)) }
        else { out.records = [packet(d)] }
        return out
    }

    static func packet(_ d: Descriptive) -> String {
        var body = ""
        func alt(_ name: String, _ v: String?) {
            guard let v else { return }
            body += "   <\(name)>\n    <rdf:Alt>\n     <rdf:li xml:lang=\"x-default\">\(xmlEscape(v))</rdf:li>\n    </rdf:Alt>\n   </\(name)>\n"
        }
        func container(_ name: String, _ kind: String, _ items: [String]) {
            guard !items.isEmpty else { return }
            body += "   <\(name)>\n    <rdf:\(kind)>\n"
            for item in items { body += "     <rdf:li>\(xmlEscape(item))</rdf:li>\n" }
            body += "    </rdf:\(kind)>\n   </\(name)>\n"
        }
        func simple(_ name: String, _ v: String?) {
            guard let v else { return }
            body += "   <\(name)>\(xmlEscape(v))</\(name)>\n"
        }
        alt("dc:title", d.title)
        alt("dc:description", d.description)
        container("dc:subject", "Bag", d.subject)
        container("dc:creator", "Seq", d.creator)
        alt("dc:rights", d.rights)
        simple("photoshop:DateCreated", d.dateCreated)
        simple("photoshop:City", d.city)
        simple("photoshop:State", d.state)
        simple("photoshop:Country", d.country)
        if let g = d.gps {
            simple("exif:GPSLatitude", xmpCoordinate(g.latitude, latitude: true))
            simple("exif:GPSLongitude", xmpCoordinate(g.longitude, latitude: false))
        }
        simple("xmp:Rating", d.rating.map(String.init))
        // No tool version in the packet: re-exporting after an upgrade must find the same bytes.
        return "<?xpacket begin=\"\u{FEFF}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
            + "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\" x:xmptk=\"SiloMerge\">\n"
            + " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
            + "  <rdf:Description rdf:about=\"\"\n"
            + "    xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n"
            + "    xmlns:photoshop=\"http://ns.adobe.com/photoshop/1.0/\"\n"
            + "    xmlns:exif=\"http://ns.adobe.com/exif/1.0/\"\n"
            + "    xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\">\n"
            + body
            + "  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end=\"w\"?>\n"
    }

    /// XML text for an XMP packet: `Encode.xml`, characters XML 1.0 forbids dropped.
    public static func xmlEscape(_ s: String) -> String { Encode.xml(s, invalid: .drop) }

    /// XMP's GPSCoordinate "DDD,MM.mmmmmmk": degrees, decimal minutes (to a millionth of a
    /// minute, about 2 mm, trailing zeros dropped) and N/S or E/W.
    public static func xmpCoordinate(_ value: Double, latitude: Bool) -> String {
        let ref = latitude ? (value < 0 ? "S" : "N") : (value < 0 ? "W" : "E")
        let micro = Int64((abs(value) * 60_000_000).rounded())
        let degrees = micro / 60_000_000
        let rest = micro % 60_000_000
        var fraction = String(rest % 1_000_000)
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.count > 1 && fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(degrees),\(rest / 1_000_000).\(fraction)\(ref)"
    }

    // MARK: bagit

    /// The manifest lines of one asset (one per copy whose path is UTF-8), sorted.
    public static func bagitLines(for asset: ReconciledAsset) -> [String] { renderBagIt(asset).records }

    /// RFC 8493 §2.1.3: CR, LF and "%" in a manifest path are percent-encoded.
    public static func bagitPath(_ s: String) -> String {
        guard s.contains(where: { $0 == "%" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { return s }
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "%": out += "%25"
            case "\r": out += "%0D"
            case "\n": out += "%0A"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func renderBagIt(_ asset: ReconciledAsset) -> Rendered {
        var out = Rendered()
        for copy in asset.copies {
            guard let path = copy.path.string else {
                out.skips.append(ExportSkip(reason: .pathNotUTF8, sha256: asset.sha256, silo: copy.silo, path: copy.path))
                continue
            }
            out.records.append("\(asset.sha256.hex)  \(bagitPath("data/\(copy.silo)/\(path)"))")
        }
        out.records.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        return out
    }
}

// MARK: - Output

/// A buffered writer to a file descriptor. For a file, writes go to a temporary file in the
/// same folder that `commit()` renames over the destination.
final class ExportOutput {
    /// A file: written through `AtomicFile` (nothing under the final name before `commit`).
    private let file: AtomicFile?
    /// A descriptor (standard output, a pipe).
    private let fd: Int32
    let target: FilePath?
    private var buffer: [UInt8] = []

    init(fd: Int32) { self.fd = fd; file = nil; target = nil }

    init(file path: FilePath, fs: any FileOps) throws {
        do { file = try AtomicFile(path, fs: fs) } catch let e as AtomicFile.Failure { throw ExportError(e) }
        fd = -1
        target = path
    }

    func write(_ text: String) throws { try write(bytes: Array(text.utf8)) }

    func write(bytes: [UInt8]) throws {
        if let file {
            do { try file.write(bytes) } catch let e as AtomicFile.Failure { throw ExportError(e) }
            return
        }
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 16 { try flush() }
    }

    func flush() throws {
        if let file {
            do { try file.flush() } catch let e as AtomicFile.Failure { throw ExportError(e) }
            return
        }
        var offset = 0
        while offset < buffer.count {
            let n = buffer[offset...].withUnsafeBytes { exportWrite(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw ExportError(.write, path: nil, errno: code, reason: "cannot write the output (file descriptor \(fd))")
            }
            offset += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes; a file is then synced and put in place whole.
    func commit() throws {
        guard let file else { return try flush() }
        do { try file.commit(.replace) } catch let e as AtomicFile.Failure { throw ExportError(e) }
    }

    /// Removes the temporary file of an unfinished output.
    func abandon() { file?.abandon() }
}

extension ExportError {
    /// An `AtomicFile` failure, in the export's terms.
    init(_ e: AtomicFile.Failure) {
        let kind: Kind = switch e.step {
        case .destination: .destination
        case .create: .open
        case .write, .sync, .close: .write
        case .place: .rename
        }
        self.init(kind, path: e.path, errno: e.isNoSpace ? nil : e.errno.map(\.code), reason: e.reason)
    }
}

/// Sorts manifest lines in bounded memory: `runLimit` lines are sorted in memory, larger
/// inputs are spilled as sorted runs to a temporary folder and merged at the end.
final class ManifestSorter {
    var runLimit: Int
    let tempParent: FilePath
    private var chunk: [[UInt8]] = []
    private var folder: FilePath?
    private var runs: [FilePath] = []

    init(tempParent: FilePath, runLimit: Int) { self.tempParent = tempParent; self.runLimit = max(1, runLimit) }

    var spilledRuns: Int { runs.count }

    func add(_ line: [UInt8]) throws {
        chunk.append(line)
        if chunk.count >= runLimit { try spill() }
    }

    private func sortChunk() { chunk.sort { $0.lexicographicallyPrecedes($1) } }

    private func spill() throws {
        sortChunk()
        if folder == nil {
            var template = tempParent.bytes + Array("/.silomerge-manifest-XXXXXX".utf8) + [0]
            let made = template.withUnsafeMutableBufferPointer { p in
                p.withMemoryRebound(to: CChar.self) { mkdtemp($0.baseAddress!) }
            }
            guard made != nil else {
                throw ExportError(.open, path: tempParent, errno: errno, reason: "cannot create a temporary folder to sort the manifest")
            }
            folder = FilePath(bytes: Array(template.dropLast()))
        }
        let run = folder!.appending(RelativePath("run-\(runs.count)"))
        let fd = run.withCString { open($0, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) }
        guard fd >= 0 else { throw ExportError(.open, path: run, errno: errno, reason: "cannot create a temporary file to sort the manifest") }
        runs.append(run)
        defer { close(fd) }
        let out = ExportOutput(fd: fd)
        for line in chunk { try out.write(bytes: line + [0x0A]) }
        try out.flush()
        chunk.removeAll(keepingCapacity: true)
    }

    /// Writes every line, sorted, each ending in LF.
    func drain(into out: ExportOutput) throws {
        if runs.isEmpty {
            sortChunk()
            for line in chunk { try out.write(bytes: line + [0x0A]) }
            chunk = []
            return
        }
        if !chunk.isEmpty { try spill() }
        let readers = try runs.map { try LineReader($0) }
        var heads = try readers.map { try $0.next() }
        while true {
            var best: Int?
            for (i, head) in heads.enumerated() {
                guard let head else { continue }
                if let b = best, !head.lexicographicallyPrecedes(heads[b]!) { continue }
                best = i
            }
            guard let b = best else { break }
            try out.write(bytes: heads[b]! + [0x0A])
            heads[b] = try readers[b].next()
        }
    }

    func cleanup() {
        for run in runs { _ = run.withCString { unlink($0) } }
        runs = []
        if let folder { _ = folder.withCString { rmdir($0) } }
        folder = nil
    }
}

/// Reads LF-terminated lines from a file.
final class LineReader {
    private let fd: Int32
    private let path: FilePath
    private var buffer: [UInt8] = []
    private var position = 0
    private var atEnd = false

    init(_ path: FilePath) throws {
        self.path = path
        fd = path.withCString { open($0, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw ExportError(.open, path: path, errno: errno, reason: "cannot open a temporary file") }
    }

    deinit { close(fd) }

    func next() throws -> [UInt8]? {
        while true {
            if let lf = buffer[position...].firstIndex(of: 0x0A) {
                let line = Array(buffer[position..<lf])
                position = lf + 1
                return line
            }
            if atEnd {
                guard position < buffer.count else { return nil }
                let line = Array(buffer[position...])
                position = buffer.count
                return line
            }
            buffer.removeFirst(position)
            position = 0
            var block = [UInt8](repeating: 0, count: 1 << 16)
            let n = block.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ExportError(.read, path: path, errno: errno, reason: "cannot read a temporary file")
            }
            if n == 0 { atEnd = true } else { buffer.append(contentsOf: block[0..<n]) }
        }
    }
}

/// File operations on byte paths, with errors as `ExportError`.
enum ExportFileOps {
    enum Comparison { case missing, identical, different }

    static func parent(of path: FilePath) -> FilePath {
        guard let slash = path.bytes.lastIndex(of: 0x2F) else { return FilePath(".") }
        return slash == 0 ? FilePath("/") : FilePath(bytes: Array(path.bytes[..<slash]))
    }

    /// `mkdir -p`.
    static func makeDirectories(_ path: FilePath) throws {
        let bytes = path.bytes
        var ends = bytes.indices.filter { $0 > 0 && bytes[$0] == 0x2F }
        ends.append(bytes.count)
        for end in ends where end > 0 && bytes[end - 1] != 0x2F {
            let prefix = FilePath(bytes: Array(bytes[..<end]))
            if prefix.withCString({ mkdir($0, 0o755) }) != 0 {
                let code = errno
                if code == EEXIST { continue }
                throw ExportError(.open, path: prefix, errno: code, reason: "cannot create the folder")
            }
        }
        switch Posix.stat(path) {
        case .success(let st) where st.kind == .directory: return
        case .success: throw ExportError(.destination, path: path, errno: ENOTDIR, reason: "is not a folder")
        case .failure(let e): throw ExportError(.open, path: path, errno: e.code, reason: "cannot use the folder")
        }
    }

    /// Compares a file's bytes with `bytes` (a symbolic link or other non-regular file is "different").
    static func compare(_ path: FilePath, with bytes: [UInt8]) throws -> Comparison {
        let fd = path.withCString { open($0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK) }
        if fd < 0 {
            let code = errno
            if code == ENOENT { return .missing }
            if code == ELOOP { return .different }
            throw ExportError(.read, path: path, errno: code, reason: "cannot read the existing file")
        }
        defer { close(fd) }
        guard case .success(let st) = Posix.fstat(fd), st.kind == .regular, st.size == Int64(bytes.count) else { return .different }
        var existing = [UInt8](repeating: 0, count: bytes.count + 1)
        var count = 0
        while count < existing.count {
            let n = existing[count...].withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ExportError(.read, path: path, errno: errno, reason: "cannot read the existing file")
            }
            if n == 0 { break }
            count += n
        }
        return count == bytes.count && existing[..<count].elementsEqual(bytes) ? .identical : .different
    }
}

#if canImport(Glibc)
@inline(__always) private func exportWrite(_ fd: Int32, _ p: UnsafeRawPointer?, _ n: Int) -> Int { Glibc.write(fd, p, n) }
#elseif canImport(Musl)
@inline(__always) private func exportWrite(_ fd: Int32, _ p: UnsafeRawPointer?, _ n: Int) -> Int { Musl.write(fd, p, n) }
#elseif canImport(Darwin)
@inline(__always) private func exportWrite(_ fd: Int32, _ p: UnsafeRawPointer?, _ n: Int) -> Int { Darwin.write(fd, p, n) }
#endif
