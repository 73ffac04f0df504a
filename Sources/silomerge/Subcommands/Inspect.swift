import ArgumentParser
import Foundation
import SiloMergeCore

struct Inspect: ParsableCommand {
    enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case text, json, jsonl }

    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what SiloMerge reads from files: format, dimensions, every metadata value and where it came from.",
        discussion: """
            Reads each FILE with the reader a scan uses and shows what the scan would catalogue;
            nothing is written, no catalogue is needed. A FOLDER is walked depth first, names in
            byte order; symbolic links inside it are not followed (a link named on the command
            line is).

            For each file: the format (from the magic bytes, never the name), the pixel
            dimensions, the SHA-256 of the image data alone (the same picture with other
            metadata has the same one), then every value found for each unified field: title,
            description, keywords, creator, rights, date_created, city, state, country, gps,
            rating, make, model, width, height, orientation. The first value of a field is the
            one the file's own reconciliation chooses (EXIF, then IPTC or XMP as the IPTC digest
            decides, then PNG text, PDF, container and document metadata); the lines under it
            are the other values the file holds for that field. Each value names its tag (for
            example XMP-dc:title, IPTC:ObjectName, EXIF:DateTimeOriginal) and, when it differs
            from the normalised value, the raw text as found. Notes name blocks that could not
            be read and why; the rest of the file is still read.

            --format json prints a JSON array with one object per file; --format jsonl prints
            one object per line (for large folders and for tools). Each object has path
            (path_b64 too when the name is not UTF-8), size, format, width, height,
            image_sha256, fields (the chosen value per field: value, origin, tag, raw), values
            (every value: field, value, origin, tag, raw, chosen) and notes (block, reason). A
            path that cannot be read has an error object instead (kind: missing, unreadable or
            skipped; errno; message). Values are strings, lists of strings, numbers, ISO 8601
            dates, or {"latitude","longitude"} in decimal degrees.

            Exit codes: 0 every path was read; 1 some paths were missing, unreadable or
            skipped (FIFOs, devices, links inside folders); 64 bad command line.

            Examples:
              silomerge inspect photo.jpg
              silomerge inspect --format json clip.mov report.pdf
              silomerge inspect --format jsonl /srv/marketing > marketing-metadata.jsonl
              tools/compare-exiftool /srv/marketing     # agreement with ExifTool
            """
    )

    @Argument(help: ArgumentHelp("Files and folders to read.", valueName: "path"))
    var paths: [String]

    @Option(name: .customLong("format"), help: "text (for people), json (one array) or jsonl (one object per line).")
    var format: OutputFormat = .text

    @Flag(name: .customLong("scan-for-xmp"), help: ArgumentHelp(
        "Also search files whose structure holds no XMP for an XMP packet, as scan --scan-for-xmp and ExifTool's -scanForXMP do."))
    var scanForXMP = false

    func validate() throws {
        if paths.isEmpty { throw ValidationError("name at least one file or folder") }
    }

    func run() throws {
        let out = FDSink(fd: STDOUT_FILENO)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var problems = 0
        var count = 0
        if format == .json { out.write("[") }
        FileInspector.inspect(paths.map { FilePath($0) }, scanForXMP: scanForXMP) { record in
            if record.failure != nil { problems += 1 }
            switch format {
            case .text:
                if count > 0 { out.write("\n") }
                out.write(InspectText.render(record))
            case .json, .jsonl:
                // Each record is encoded whole by JSONEncoder; only the array's brackets and
                // commas are written here, so a folder of any size streams in constant memory.
                if format == .json { out.write(count == 0 ? "\n" : ",\n") }
                let data = (try? encoder.encode(record)) ?? Data("{}".utf8)
                out.write(bytes: [UInt8](data))
                if format == .jsonl { out.write("\n") }
            }
            count += 1
            if count % 64 == 0 { out.flush() }
        }
        if format == .json { out.write(count == 0 ? "]\n" : "\n]\n") }
        out.flush()
        if problems > 0 {
            Stderr.write("silomerge: warning: \(problems) of \(count) path\(count == 1 ? "" : "s") could not be read (see the error\(format == .text ? " lines" : " objects"))\n")
            throw ExitCode(ExitStatus.skippedFiles)
        }
    }
}

/// The text form of an inspected file.
enum InspectText {
    static let labelWidth = 14
    static let valueWidth = 46

    static func render(_ r: InspectedFile) -> String {
        var out = r.path.display + "\n"
        if let failure = r.failure {
            out += line("error", failure.message)
            return out
        }
        var summary = r.format?.rawValue ?? "?"
        if let w = r.width, let h = r.height { summary += ", \(w) × \(h)" }
        if let size = r.size { summary += ", \(Format.bytes(size))" }
        out += line("format", summary)
        if let hash = r.imageSHA256 { out += line("image data", "sha256 \(hash.hex)") }
        let byField = Dictionary(grouping: r.values.filter { $0.field != .format }, by: \.field)
        for field in UnifiedField.allCases {
            guard let values = byField[field], !values.isEmpty else { continue }
            // The chosen value first, then the others in the order they were read.
            let ordered = values.filter(\.chosen) + values.filter { !$0.chosen }
            for (i, v) in ordered.enumerated() {
                let shown = clean(v.value.display)
                var source = "\(v.tag) [\(v.origin.rawValue)]"
                if clean(v.raw) != shown, !v.raw.isEmpty { source += "  raw \"\(clean(v.raw))\"" }
                let label = i == 0 ? field.rawValue : ""
                let prefix = i == 0 ? "" : "  also "
                out += line(label, pad(prefix + shown) + "  " + source)
            }
        }
        if r.values.allSatisfy({ $0.field == .format || $0.origin == .header }) {
            out += line("metadata", "none found")
        }
        for (i, n) in r.notes.enumerated() {
            out += line(i == 0 ? "notes" : "", clean("\(n.block): \(n.reason)"))
        }
        return out
    }

    private static func line(_ label: String, _ text: String) -> String {
        "  " + label.padding(toLength: labelWidth, withPad: " ", startingAt: 0) + text + "\n"
    }

    private static func pad(_ s: String) -> String {
        s.count >= valueWidth ? s : s + String(repeating: " ", count: valueWidth - s.count)
    }

    /// Control characters (newlines in a caption, say) written as escapes, so one value stays
    /// on one line.
    static func clean(_ s: String) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                    out += String(format: "\\u{%X}", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
