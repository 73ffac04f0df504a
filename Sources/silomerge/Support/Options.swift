import ArgumentParser
import Foundation
import SiloMergeCore
import SiloMergeSQLite

extension HashMode: ExpressibleByArgument {}

/// `--catalog PATH`.
struct CatalogOptions: ParsableArguments {
    @Option(name: .customLong("catalog"), help: ArgumentHelp(
        "The catalogue: an SQLite file, or a postgresql://user@host:port/db URL for a catalogue shared by many hosts (default: the catalog: of --config, else $SILOMERGE_CATALOG, else silomerge.sqlite in the current folder).",
        valueName: "path|url"))
    var catalog: String?

    /// `--catalog`, else the configuration's `catalog:`, else `SILOMERGE_CATALOG`, else
    /// `silomerge.sqlite` in the current folder.
    func resolved(config: SiloMergeConfiguration? = nil) -> String {
        catalog ?? config?.catalog ?? Self.environmentDefault ?? "silomerge.sqlite"
    }

    /// `SILOMERGE_CATALOG`, when set and not empty.
    static var environmentDefault: String? {
        guard let value = ProcessInfo.processInfo.environment["SILOMERGE_CATALOG"], !value.isEmpty else { return nil }
        return value
    }

    /// Opens the catalogue: `.readOnly` for commands that only read (never created, migrated
    /// or written), `.readWrite` for those that must find one, `.create` for scans.
    func open(config: SiloMergeConfiguration? = nil, access: CatalogueAccess) throws -> any CatalogueStore {
        try CatalogueFactory.open(resolved(config: config), access: access)
    }
}

/// `--config FILE` for commands that need only the configuration's `catalog:` (and, when they
/// write the catalogue, store its `reconcile:` policies).
struct ConfigOption: ParsableArguments {
    @Option(name: .customLong("config"), help: ArgumentHelp(
        "A silomerge.yml; its catalog: names the catalogue.", valueName: "file"))
    var config: String?

    func load() throws -> SiloMergeConfiguration? {
        try config.map { try SiloMergeConfiguration.load(path: $0) }
    }
}

/// `--host NAME`, for the commands that scan: which machine the silos' folders are on.
struct HostOption: ParsableArguments {
    @Option(name: .customLong("host"), help: ArgumentHelp(
        "This machine's name in the catalogue (default: its machine id, /etc/machine-id). Device and inode numbers are per machine: a silo is scanned on the machine that catalogued it.",
        valueName: "name"))
    var host: String?

    func identity() throws -> HostIdentity? { try host.map { try HostIdentity.named($0) } }
}

/// What every scanning command shares.
struct ScanFlags: ParsableArguments {
    @OptionGroup var hostOption: HostOption

    @Option(name: .customLong("config"), help: ArgumentHelp(
        "A silomerge.yml naming the silos (name, path, priority, include/exclude globs, manifest).",
        valueName: "file"))
    var config: String?

    @Option(name: .customLong("jobs"), help: ArgumentHelp(
        "Files read at once (default: one per core, 2 to 8). Spinning disks are still read one file at a time.",
        valueName: "n"))
    var jobs: Int?

    @Option(name: .customLong("read-order"), help: ArgumentHelp(
        "Order files are read in: disk (where each starts on the device, FIEMAP; by inode where the file system does not say), listing (by name), or auto (default: disk on spinning disks, where a seek costs more than a small file).",
        valueName: "auto|disk|listing"))
    var readOrder: ReadOrder?

    @Flag(name: .customLong("follow-symlinks"), help: "Follow symbolic links (loops and links into a silo are detected and skipped).")
    var followSymlinks = false

    @Flag(name: [.customShort("x"), .customLong("one-file-system")], help: ArgumentHelp(
        "Do not walk into folders on another file system than the silo's root (mount points), like find -xdev and rsync -x. Remembered for rescans and checks."))
    var oneFileSystem = false

    @Flag(name: .customLong("no-default-ignores"), help: ArgumentHelp(
        "Catalogue junk files too. By default these are skipped: \(FilterRules.defaultIgnorePatterns.map { $0.replacingOccurrences(of: "\r", with: "\\r") }.joined(separator: " "))"))
    var noDefaultIgnores = false

    @Option(name: .customLong("exclude"), help: ArgumentHelp(
        "Skip files and folders matching a glob, in every silo (repeatable). `*.tmp` matches a name anywhere, `drafts/**` a path from the silo root, `cache/` folders only.",
        valueName: "glob"))
    var excludes: [String] = []

    @Option(name: .customLong("include"), help: ArgumentHelp(
        "Catalogue only files matching a glob (repeatable); folders are still walked.", valueName: "glob"))
    var includes: [String] = []

    @Flag(name: .customLong("rehash"), help: "Read every file again, even unchanged ones (a full fixity check).")
    var rehash = false

    @Flag(name: .customLong("scan-for-xmp"), help: ArgumentHelp(
        "Also search files whose structure holds no XMP (formats SiloMerge does not parse) for an XMP packet, as ExifTool's -scanForXMP does. Off by default: it reads up to a megabyte at each end of those files."))
    var scanForXMP = false

    @Flag(name: .customLong("similar-images"), help: ArgumentHelp(
        "Also decode JPEG, PNG, WebP, TIFF and HEIC images from the bytes read for their hash and store a perceptual hash, by which duplicates --similar finds resized and re-encoded copies. Needs --hash full with metadata. Off by default: it about doubles the CPU of scanning photos (some 15 ms per 12-megapixel JPEG)."))
    var similarImages = false

    @Flag(name: [.customShort("q"), .customLong("quiet")], help: "No progress line and no notes (scan: no summary line either; audit still prints its report); warnings and errors are still shown.")
    var quiet = false

    @Flag(name: .customLong("verbose"), help: "Print each phase of the scan with its elapsed time on stderr.")
    var verbose = false

    @Flag(name: .customLong("profile"), help: ArgumentHelp(
        "At the end, print on stderr where the time went, by stage (walk, stat, open, read, hash, metadata, catalogue), and what limited the run. SILOMERGE_TRACE=1 in the environment does the same."))
    var profile = false

    /// `--profile`, or `SILOMERGE_TRACE` set.
    var profiling: Bool { ProfileTable.wanted(flag: profile) }

    func validate() throws {
        if let jobs, jobs < 1 || jobs > 256 { throw ValidationError("--jobs must be between 1 and 256") }
    }

    func loadConfig() throws -> SiloMergeConfiguration? {
        try config.map { try SiloMergeConfiguration.load(path: $0) }
    }

    /// Silos from the command line (`NAME=PATH` or `PATH`) and the configuration file.
    func silos(arguments: [String], config: SiloMergeConfiguration?) throws -> [SiloDefinition] {
        var silos = config?.silos ?? []
        let base = silos.map(\.priority).max() ?? 0
        for (index, argument) in arguments.enumerated() {
            var name: String
            var path: String
            if let eq = argument.firstIndex(of: "="), !argument[..<eq].contains("/") {
                name = String(argument[..<eq])
                path = String(argument[argument.index(after: eq)...])
                guard !path.isEmpty else { throw CLIError.usage("'\(argument)': no folder after '='") }
            } else {
                path = argument
                var trimmed = argument
                while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
                name = trimmed == "." || trimmed == "/" || trimmed.isEmpty
                    ? (URL(fileURLWithPath: FileManager.default.currentDirectoryPath).standardizedFileURL.lastPathComponent)
                    : URL(fileURLWithPath: trimmed).lastPathComponent
                if name == ".." { name = URL(fileURLWithPath: trimmed).standardizedFileURL.lastPathComponent }
            }
            if silos.contains(where: { $0.name == name }) {
                throw CLIError.usage("the silo name '\(name)' is given twice; name the folders yourself: NAME=PATH")
            }
            silos.append(SiloDefinition(name: name, root: FilePath(path), priority: base + index + 1))
        }
        return silos
    }

    /// `definitions` with `--one-file-system` applied (when given; else as they are).
    func applyingSiloFlags(_ definitions: [SiloDefinition]) -> [SiloDefinition] {
        guard oneFileSystem else { return definitions }
        return definitions.map { var d = $0; d.oneFileSystem = true; return d }
    }

    func options(hashMode: HashMode, kind: RunKind) -> ScanOptions {
        var o = ScanOptions()
        o.hashMode = hashMode
        o.rehash = rehash
        o.scanForXMP = scanForXMP
        if let jobs { o.jobs = jobs }
        o.readOrder = readOrder
        o.followSymlinks = followSymlinks
        o.useDefaultIgnores = !noDefaultIgnores
        o.excludes = excludes
        o.includes = includes
        o.kind = kind
        return o
    }
}

/// Prints a scan's diagnostics on standard error: all errors, then warnings up to a limit.
enum DiagnosticPrinter {
    static func print(_ result: ScanResult, catalog: String, quiet: Bool = false, limit: Int = 50) {
        let shown = result.diagnostics.filter { $0.severity >= .warning }.sorted { $0.severity > $1.severity }
        for d in shown.prefix(limit) {
            Stderr.write("silomerge: \(d.severity == .error ? "error" : "warning"): \(d.formatted)\n")
        }
        let notes = quiet ? [] : result.diagnostics.filter { $0.severity == .note }
        for d in notes.prefix(10) { Stderr.write("silomerge: note: \(d.formatted)\n") }
        let total = quiet ? result.counts.warnings + result.counts.errors : result.diagnosticCount
        let hidden = total - min(shown.count, limit) - min(notes.count, 10)
        if hidden > 0 {
            Stderr.write("silomerge: … and \(Format.count(hidden)) more; all are in the catalogue: sqlite3 \(catalog) \"SELECT severity, code, silo, path, message FROM diagnostic WHERE run_id = \(result.runID)\"\n")
        }
    }
}

extension ReadOrder: ExpressibleByArgument {}
