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
    /// After a plan: where each content sits in the merged tree, relative to the target. Then
    /// exiftool's `SourceFile` is that relative path (one object per placed file; copies the plan
    /// left in the silos are not named), and xmp writes `PATH.xmp` at the same relative place in
    /// its folder, the name DAMs and Lightroom pair with `PATH`.
    public var placements: [SHA256Digest: [RelativePath]]?
    /// csv: a DAM's import sheet (one row per placed file; needs `placements`).
    public var profile: DAMProfile?
    /// The `aem` profile's repository folder the merged tree is uploaded to.
    public var damRoot: String

    public init(replaceDifferentSidecars: Bool = false, placements: [SHA256Digest: [RelativePath]]? = nil,
                profile: DAMProfile? = nil, damRoot: String = "/content/dam/silomerge") {
        self.replaceDifferentSidecars = replaceDifferentSidecars
        self.placements = placements
        self.profile = profile
        self.damRoot = damRoot
    }

    /// Where each content of `plan` sits in its target: the destinations of the operations that
    /// put a silo's file there (transfers: not generated files, not carried sidecars).
    public static func placements(of plan: MergePlan) -> [SHA256Digest: [RelativePath]] {
        var out: [SHA256Digest: [RelativePath]] = [:]
        for op in plan.operations where op.kind.isTransfer {
            guard let dest = op.destination, let hex = op.source?.sha256, let sha = SHA256Digest(hex: hex) else { continue }
            out[sha, default: []].append(dest)
        }
        for k in out.keys { out[k]!.sort() }
        return out
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
