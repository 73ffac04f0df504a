import ArgumentParser
import Foundation
import SiloMergeCore

extension DuplicateReport.Style: ExpressibleByArgument {}

struct Duplicates: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duplicates",
        abstract: "List duplicate groups from the catalogue (no scanning).",
        usage: "silomerge duplicates [<options>]",
        discussion: """
            A group is content held by two or more physical files (distinct device and
            inode). Groups come largest reclaimable first; inside a group, copies are
            ordered by silo priority, then path. Hard links appear in their group but
            never count as reclaimable.

            Formats:
              table   for people (the default)
              json    {"groups":[{"sha256","size","files":[{"silo","path",...}]}],
                       "same_image_groups":[...],"summary":{...}}; a name that is not
                      UTF-8 has a display "path" and its exact bytes in "path_b64"
              csv     one row per file, with the group number
              fdupes  absolute paths, a blank line between groups (as fdupes prints)

            With --folders, folders come first: folders holding the same files at the
            same places below them, whatever the names of files and folders, found from
            the catalogue's hashes (nothing is read again). A group inside another
            group's folders is listed once, as the outer folders; a group of files lying
            in the folders of one folder group, one copy in each, is left to the folder
            group (--expand lists it too). A folder holding a file without a SHA-256
            (--hash dupes leaves files of unique size unhashed) cannot be compared, nor
            can the folders above it: they are counted, never guessed equal. Then
            partial copies: a folder whose files all have a copy in a larger one (a
            subset, holding at least half of its bytes), or two folders sharing 90% of
            the larger's bytes (an overlap). JSON adds "folder_groups":[{"hash","files",
            "bytes","copies","reclaimable_bytes","folders":[{"silo","path"}]}],
            "folder_relations":[{"kind","a","b","shared_files","shared_bytes",
            "shared_percent"}] and "folders":{...} after the summary.

            With --similar, the same photo at another size, quality, format, crop or
            orientation instead: images whose perceptual hashes (computed by scan
            --similar-images from JPEG, PNG, WebP, TIFF and HEIC files) lie within
            --max-distance bits. Each group's master has the most pixels, then the
            richest metadata, then the best silo priority. JSON:
            {"similar_image_groups":[{"master":{"silo","path",
            "width","height","format","size","copies","metadata_fields"},"reason",
            "derivatives":[{...,"distance","transform"}]}],"summary":{...}}.

            Examples:
              silomerge duplicates
              silomerge duplicates --similar --format json
              silomerge duplicates --folders --limit 10
              silomerge duplicates --format json --silo marketing --silo hr > dupes.json
              silomerge duplicates --min-size 1M --limit 20
            """
    )

    @Option(name: .customLong("format"), help: "table, json, csv or fdupes.")
    var format: DuplicateReport.Style = .table

    @Option(name: .customLong("silo"), help: ArgumentHelp("Only these silos (repeatable).", valueName: "name"))
    var silos: [String] = []

    @Flag(name: .customLong("include-empty"), help: "Group zero-length files too.")
    var includeEmpty = false

    @Option(name: .customLong("min-size"), help: ArgumentHelp("Ignore files smaller than this (bytes, or with K, M, G).", valueName: "size"))
    var minSize: String?

    @Option(name: .customLong("limit"), help: ArgumentHelp("Show at most this many groups.", valueName: "n"))
    var limit: Int?

    @Flag(name: .customLong("folders"), help: "List duplicate folders first (table and json).")
    var folders = false

    @Flag(name: .customLong("expand"), help: "With --folders, also list the file groups inside duplicate folders.")
    var expand = false

    @Flag(name: .customLong("similar"), help: "List similar images (resized, recompressed, converted) instead.")
    var similar = false

    @Option(name: .customLong("max-distance"),
            help: ArgumentHelp("With --similar, the largest Hamming distance from a master (0-64, default \(DerivativeGrouping.defaultMaxDistance)).",
                               valueName: "bits"))
    var maxDistance: Int?

    @OptionGroup var configOption: ConfigOption
    @OptionGroup var catalogOptions: CatalogOptions

    func validate() throws {
        if let minSize, ByteSize.parse(minSize) == nil { throw ValidationError("--min-size: '\(minSize)' is not a size (examples: 4096, 512K, 1M)") }
        if let limit, limit < 1 { throw ValidationError("--limit must be 1 or more") }
        if folders, format == .csv || format == .fdupes {
            throw ValidationError("--folders lists folders, which --format \(format.rawValue) has no place for: use table or json")
        }
        if expand, !folders { throw ValidationError("--expand goes with --folders (it lists the file groups inside duplicate folders)") }
        try validateSimilar()
    }

    /// `--similar`'s own checks: it lists images, not file groups.
    func validateSimilar() throws {
        if let maxDistance, !similar { throw ValidationError("--max-distance goes with --similar (\(maxDistance) bits)") }
        if let maxDistance, !(0...64).contains(maxDistance) { throw ValidationError("--max-distance is 0 to 64 bits, not \(maxDistance)") }
        guard similar else { return }
        if format == .csv || format == .fdupes {
            throw ValidationError("--similar lists images with their sizes and distances, which --format \(format.rawValue) has no place for: use table or json")
        }
        if folders { throw ValidationError("--similar and --folders are separate listings: give one") }
    }

    /// `--similar`: the derivative groups from the catalogue's perceptual hashes.
    func runSimilar(_ catalogue: any CatalogueStore, out: FDSink) throws {
        let known = try catalogue.silos()
        if let missing = silos.first(where: { name in !known.contains { $0.name == name } }) {
            throw ValidationError("no silo named '\(missing)' in the catalogue")
        }
        let found = try SimilarImages.find(in: catalogue, silos: known, only: silos,
                                           threshold: maxDistance ?? DerivativeGrouping.defaultMaxDistance)
        if format == .json { try found.writeJSON(to: out, limit: limit) } else { found.writeTable(to: out, limit: limit) }
        if found.images == 0 {
            FileHandle.standardError.write(Data("silomerge: note: no perceptual hashes in the catalogue for these silos: scan them with --similar-images (it decodes every image once)\n".utf8))
        }
    }

    func run() throws {
        let catalogue = try catalogOptions.open(config: try configOption.load(), access: .readOnly)
        let query = DuplicateQuery(silos: silos, includeEmpty: includeEmpty, minimumSize: minSize.flatMap(ByteSize.parse) ?? 0)
        let out = FDSink(fd: STDOUT_FILENO)
        if similar {
            try runSimilar(catalogue, out: out)
            out.flush()
            return
        }
        let found = folders ? try DuplicateFolders.find(in: catalogue, silos: silos, relations: true) : nil
        try DuplicateReport(store: catalogue, query: query, limit: limit, folders: found, expand: expand).write(format, to: out)
        out.flush()
    }
}

enum ByteSize {
    /// "4096", "512K", "1.5M", "2G", "1TiB".
    static func parse(_ text: String) -> Int64? {
        var t = text.trimmingCharacters(in: .whitespaces).uppercased()
        for suffix in ["IB", "B"] where t.hasSuffix(suffix) && t.count > suffix.count { t.removeLast(suffix.count); break }
        let multipliers: [Character: Double] = ["K": 1024, "M": 1_048_576, "G": 1_073_741_824, "T": 1_099_511_627_776]
        var multiplier = 1.0
        if let last = t.last, let m = multipliers[last] { multiplier = m; t.removeLast() }
        guard let value = Double(t), value >= 0 else { return nil }
        return Int64(value * multiplier)
    }
}
