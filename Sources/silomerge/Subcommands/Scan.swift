import ArgumentParser
import Foundation
import SiloMergeCore
import SiloMergeImaging

struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Catalogue silos: walk them in parallel, hash their files, record the run.",
        discussion: """
            Silos are folders given as NAME=PATH (a bare PATH is named after its folder),
            or listed in --config. With neither, every silo already in the catalogue is
            scanned again with the rules it was last scanned with.

            A rescan reads only files whose device, inode, size, mtime or ctime changed;
            the others keep their stored hash (--rehash reads everything again and reports
            content that changed behind an unchanged size and mtime).

            --hash full (the default) gives every file a SHA-256: the catalogue is a
            fixity record. Each file's embedded metadata (EXIF, IPTC, XMP, PNG text, PDF)
            is read while it is hashed, its XMP sidecars (name.ext.xmp, name.xmp) are
            attached to it, and the silo's CSV manifest (--config) is matched with the
            files; --no-metadata skips this. With --similar-images, JPEG, PNG, WebP,
            TIFF and HEIC images are also decoded from the bytes read for the hash, for a
            perceptual hash that duplicates --similar groups resized and re-encoded
            copies by; an image that does not decode is a note. --hash dupes reads only
            what finding duplicates needs: files whose size no other file has are never
            opened.

            Examples:
              silomerge scan marketing=/srv/marketing hr=/srv/hr
              silomerge scan --config silomerge.yml --catalog /var/lib/silomerge/cat.sqlite
              silomerge scan                      # rescan every catalogued silo
              silomerge scan --rehash --jobs 2    # full fixity check, gently
            """
    )

    @Argument(help: ArgumentHelp("Silos as NAME=PATH or PATH.", valueName: "silo"))
    var silos: [String] = []

    @Option(name: .customLong("hash"), help: "full: hash every file; dupes: only what finding duplicates needs.")
    var hashMode: HashMode = .full

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(
        "Read embedded metadata, XMP sidecars and manifests (default: yes with --hash full, no with --hash dupes). Sidecars are attached to their assets either way."))
    var metadata: Bool?

    @OptionGroup var flags: ScanFlags
    @OptionGroup var catalogOptions: CatalogOptions

    func options() -> ScanOptions {
        var o = flags.options(hashMode: hashMode, kind: .scan)
        o.metadata = metadata
        return o
    }

    func validate() throws {
        if flags.similarImages && (hashMode != .full || metadata == false) {
            throw ValidationError("--similar-images decodes images while --hash full reads them with their metadata: drop --hash dupes / --no-metadata or --similar-images")
        }
    }

    func run() throws {
        let config = try flags.loadConfig()
        var definitions = try flags.silos(arguments: silos, config: config)
        // Check the silos before creating a catalogue, so a typo leaves nothing behind.
        if !definitions.isEmpty { _ = try ScanEngine.validate(definitions, options: options()) }
        let catalogue = try catalogOptions.open(config: config, access: .create)
        // The configuration's policies are remembered whichever command reads it.
        if let policies = config?.reconcile { try Reconciliation.remember(policies: policies, rules: config?.reconcileRules ?? [],
                                                                         derivatives: config?.reconcileDerivatives ?? .separate, in: catalogue) }
        if definitions.isEmpty {
            definitions = try catalogue.silos().map(\.definition)
            if definitions.isEmpty { throw CatalogueError.empty(path: catalogue.location.display) }
        }
        definitions = flags.applyingSiloFlags(definitions)
        let result = try ScanRunner.run(catalogue: catalogue, silos: definitions,
                                        options: options(), flags: flags)
        if !flags.quiet {
            let c = result.counts
            var line = "Scanned \(result.silos.count) silo\(result.silos.count == 1 ? "" : "s"): \(Format.plural(c.files, "file")), \(Format.bytes(c.bytes)) in \(Format.duration(result.elapsed))"
            line += " · new \(Format.count(c.filesNew)), changed \(Format.count(c.filesChanged)), gone \(Format.count(c.filesMissing))"
            line += " · read \(Format.plural(c.filesHashed, "file")) (\(Format.bytes(c.bytesHashed))), reused \(Format.plural(c.hashesReused, "hash"))"
            print(line)
            print("Catalogue: \(catalogue.location) (run \(result.runID)). Next: silomerge duplicates --catalog \(catalogue.location)")
        }
        DiagnosticPrinter.print(result, catalog: catalogue.location.display, quiet: flags.quiet)
        OpenFindingsPrinter.print(result, quiet: flags.quiet)
        ProfileTable.print(result.profile, runID: result.runID)
        if result.status == .warnings || OpenFindingsPrinter.corruptionOpen(result) { throw ExitCode(ExitStatus.skippedFiles) }
    }
}

/// Runs a scan with the progress line.
enum ScanRunner {
    static func run(catalogue: any CatalogueStore, silos: [SiloDefinition], options: ScanOptions, flags: ScanFlags) throws -> ScanResult {
        let line = ProgressLine(quiet: flags.quiet || flags.verbose)
        let engine = ScanEngine(store: catalogue, interruption: Signals.interruptible(), host: try flags.hostOption.identity(),
                                profile: flags.profiling,
                                fingerprinter: flags.similarImages ? ImageFingerprinter.forScan() : nil)
        defer { line.clear() }
        var handler: ScanEngine.ProgressHandler?
        if line.isEnabled { handler = { @Sendable progress in line.update(progress) } }
        if flags.verbose {
            let last = Locked<ScanProgress.Phase?>(nil)
            handler = { @Sendable p in
                let changed = last.withLock { l -> Bool in defer { l = p.phase }; return l != p.phase }
                if changed {
                    Stderr.write(String(format: "silomerge: %7.3f s  %@ (%@ files walked, %@ read, %@)\n", p.elapsed, p.phase.rawValue,
                                        Format.count(p.filesWalked), Format.count(p.filesRead), Format.bytes(p.bytesRead)))
                }
            }
        }
        return try engine.scan(silos, options: options, progress: handler)
    }
}

/// What a scan or an audit says about open findings (see `OpenFinding`): a scan keeps them
/// open as a check does, so it says so rather than letting a missed report become the baseline.
enum OpenFindingsPrinter {
    static func corruptionOpen(_ result: ScanResult) -> Bool {
        result.openFindings.contains { $0.kind == .corrupted }
    }

    static func print(_ result: ScanResult, quiet: Bool, limit: Int = 20) {
        let now = Date()
        for f in result.findings where f.kind == .restored || (f.kind == .moved && (f.detail ?? "").contains("was missing")) {
            guard !quiet else { break }
            let where_ = f.kind == .moved ? "\(f.oldSilo ?? f.silo):\(f.oldPath?.display ?? "") is at \(f.silo):\(f.path.display)" : "\(f.silo):\(f.path.display)"
            Stderr.write("silomerge: note: \(where_): \(f.detail ?? f.kind.rawValue); finding closed\n")
        }
        let merged = result.findings.filter { $0.kind == .merged && $0.old != nil }
        if !merged.isEmpty && !quiet {
            Stderr.write("silomerge: note: \(Format.count(merged.count)) file\(merged.count == 1 ? " is" : "s are") gone because an applied plan moved, removed or quarantined \(merged.count == 1 ? "it" : "them") (merged, not missing; e.g. \(merged[0].silo):\(merged[0].path.display): \(merged[0].detail ?? "merged")): silomerge check lists them\n")
        }
        let corrupted = result.openFindings.filter { $0.kind == .corrupted }
        for f in corrupted.prefix(limit) {
            Stderr.write("silomerge: warning: \(f.silo):\(f.path.display): corrupted since \(CheckText.since(f, now: now)), still open: "
                         + "verified \(CheckText.short(f.verified.sha256)), reads \(f.seen.map { CheckText.short($0.sha256) } ?? "nothing (gone)")"
                         + "; restore it from a good copy, or accept it: silomerge check --accept \(f.silo):\(f.path.display)\n")
        }
        if corrupted.count > limit {
            Stderr.write("silomerge: warning: … and \(corrupted.count - limit) more corrupted files still open: silomerge check lists them\n")
        }
        let missing = result.openFindings.filter { $0.kind == .missing }
        if !missing.isEmpty && !quiet {
            Stderr.write("silomerge: note: \(Format.count(missing.count)) missing file\(missing.count == 1 ? " is" : "s are") still open (oldest since \(CheckText.since(missing.min { $0.openedAt < $1.openedAt }!, now: now))): silomerge check lists them; silomerge check --accept SILO:PATH closes one\n")
        }
    }
}
