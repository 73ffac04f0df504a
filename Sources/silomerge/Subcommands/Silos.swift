import ArgumentParser
import Foundation
import SiloMergeCore
import SiloMergeImaging

struct Silos: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "silos",
        abstract: "List the silos in the catalogue, add one (a merged tree among them), or remove one.",
        subcommands: [List.self, Add.self, Remove.self],
        defaultSubcommand: List.self
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List catalogued silos with their root, priority and size.")
        @OptionGroup var configOption: ConfigOption
        @OptionGroup var catalogOptions: CatalogOptions

        func run() throws {
            let catalogue = try catalogOptions.open(config: try configOption.load(), access: .readOnly)
            let silos = try catalogue.silos()
            if silos.isEmpty { print("No silos in \(catalogue.location) yet."); return }
            let stats = try catalogue.analyse(DuplicateQuery(), top: 0).silos
            let width = max(8, silos.map(\.name.count).max()! + 2)
            // Silos of another host say which: they are scanned there.
            let here = try? HostIdentity.local()
            print(Format.pad("SILO", width) + Format.pad("PRIO", 6, right: true) + Format.pad("FILES", 10, right: true)
                  + Format.pad("SIZE", 12, right: true) + "  ROOT")
            for silo in silos {
                let s = stats.first { $0.silo == silo.name }
                print(Format.pad(silo.name, width) + Format.pad(String(silo.priority), 6, right: true)
                      + Format.pad(Format.count(s?.files ?? 0), 10, right: true)
                      + Format.pad(Format.bytes(s?.bytes ?? 0), 12, right: true) + "  " + silo.root.display
                      + (silo.adoptedPlan.map { "  (merged tree, adopted from plan \($0.prefix(12)))" } ?? "")
                      + (silo.host.flatMap { $0.id == here?.id ? nil : "  (on host \($0))" } ?? ""))
            }
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Add a silo and scan it; with --from-plan, adopt a merged tree without hashing what apply verified.",
            discussion: """
                Without --from-plan, catalogues a new folder as `silomerge scan NAME=PATH`
                would, refusing a name another folder has. Run again, it finishes an addition
                that was interrupted (Ctrl-C): files already catalogued are not read again.

                With --from-plan PLAN, PATH must be the plan's target, the folder the apply
                wrote (checked by path and by device and inode). The plan and its journal give
                the SHA-256 the apply verified for every file it placed there, and the identity
                (device, inode, size, mtime) it left each one with: a file still so identified
                is catalogued with that SHA-256 without being read; any other file is read
                (hashed) as a scan reads it, and one whose content is not what the apply
                verified is a warning (exit 1). A file taken so also gets the format,
                dimensions and embedded metadata the catalogue read from its source before the
                merge, so it is not even opened (files whose metadata the catalogue did not
                have are read for it alone; --no-metadata reads nothing). Carried sidecars are
                read for their values. The quarantine folder, when inside the target, is left
                out. The catalogue is the plan's, unless --catalog. The run is recorded in
                `silomerge history` (files_hashed counts what had to be read). Afterwards a
                check of the new silo is an ordinary unchanged check, and if the plan is
                undone, the files the undo takes back out of it are reported as merged, not
                missing.

                Examples:
                  silomerge silos add archive=/mnt/archive
                  silomerge silos add dam=/srv/dam --from-plan plan.json
                  silomerge silos add dam=/srv/dam --from-plan plan.json --priority 1
                """)

        @Argument(help: ArgumentHelp("The silo: NAME=PATH.", valueName: "name=path"))
        var silo: String

        @Option(name: .customLong("from-plan"), help: ArgumentHelp(
            "The applied plan whose target PATH is: what its apply verified is not read again.", valueName: "plan.json"))
        var fromPlan: String?

        @Option(name: .customLong("journal"), help: ArgumentHelp("With --from-plan: the plan's journal (default: PLAN.journal).", valueName: "file"))
        var journal: String?

        @Option(name: .customLong("priority"), help: ArgumentHelp("1 is the most important (default: after every catalogued silo).", valueName: "n"))
        var priority: Int?

        @Option(name: .customLong("exclude"), help: ArgumentHelp("Skip files and folders matching a glob (repeatable).", valueName: "glob"))
        var excludes: [String] = []

        @Flag(inversion: .prefixedNo, help: "Read the metadata of the files (embedded, sidecars).")
        var metadata = true

        @Option(name: .customLong("jobs"), help: ArgumentHelp("Files read at once (default: one per core, 2 to 8).", valueName: "n"))
        var jobs: Int?

        @Flag(name: .customLong("similar-images"), help: "Also store perceptual hashes of images, as scan --similar-images does.")
        var similarImages = false

        @Flag(name: [.customShort("q"), .customLong("quiet")], help: "No progress line and no summary; only warnings and errors.")
        var quiet = false

        @OptionGroup var catalogOptions: CatalogOptions

        @OptionGroup var hostOption: HostOption

        func validate() throws {
            if let jobs, jobs < 1 || jobs > 256 { throw ValidationError("--jobs must be between 1 and 256") }
            if similarImages && !metadata {
                throw ValidationError("--similar-images decodes images while their metadata is read: drop --no-metadata or --similar-images")
            }
            if let priority, priority < 1 { throw ValidationError("--priority must be 1 or more") }
            if journal != nil && fromPlan == nil { throw ValidationError("--journal goes with --from-plan") }
            guard let eq = silo.firstIndex(of: "="), eq != silo.startIndex, silo.index(after: eq) != silo.endIndex,
                  !silo[..<eq].contains("/") else {
                throw ValidationError("give the silo as NAME=PATH (e.g. dam=/srv/dam)")
            }
        }

        func run() throws {
            let eq = silo.firstIndex(of: "=")!
            let name = String(silo[..<eq]), path = FilePath(String(silo[silo.index(after: eq)...]))
            try ScanEngine.validateName(name)
            var plan: MergePlan? = nil
            var planLock: PlanLock? = nil
            var journalPath: FilePath? = nil
            if let fromPlan {
                let read = try PlanFile.read(FilePath(fromPlan))
                plan = read
                // A plan across hosts: this host's journal (what this host placed in its target).
                let here = read.recordsHosts ? try hostOption.identity() ?? HostIdentity.local() : nil
                let j = Posix.absolute(journal.map { FilePath($0) }
                                       ?? here.map { read.defaultJournal(planPath: FilePath(fromPlan), host: $0) }
                                       ?? FilePath(fromPlan + ".journal"))
                journalPath = j
                // No apply or undo of the plan while its target is adopted.
                planLock = try PlanLock(journal: j, purpose: "silos add --from-plan \(Posix.absolute(FilePath(fromPlan)).display)", shared: true)
            }
            defer { withExtendedLifetime(planLock) {} }
            let catalogue = try CatalogueFactory.open(catalogOptions.catalog ?? plan?.catalogue ?? CatalogOptions.environmentDefault ?? "silomerge.sqlite", access: plan == nil ? .create : .readWrite)
            let catalogued = try catalogue.silos()
            let priority = self.priority ?? ((catalogued.map(\.priority).max() ?? 0) + 1)

            var definition = SiloDefinition(name: name, root: path, priority: priority, excludes: excludes)
            var prepared: MergeAdoption.Prepared? = nil
            if let plan, let journalPath {
                var p = try MergeAdoption.prepare(name: name, path: path, priority: priority, plan: plan, journalPath: journalPath,
                                                  catalogued: catalogued)
                definition = p.silo
                definition.excludes += excludes
                // What the catalogue knew of each content carried (format, embedded metadata),
                // kept by the ledger when the apply began: taken too, so those files are not
                // opened at all.
                if metadata {
                    for path in try catalogue.mergeContentKnown(planSHA256: p.planSHA256) { p.known.files[path]?.contentKnown = true }
                }
                prepared = p
            } else if let s = catalogued.first(where: { $0.name == name }),
                      (try? Posix.realPath(Posix.absolute(path)).get()) != s.root {
                throw AdoptionError.nameTaken(name: name, root: s.root.display)
            }
            var options = ScanOptions()
            options.hashMode = .full
            options.readMetadata = metadata
            if let jobs { options.jobs = jobs }
            let line = ProgressLine(quiet: quiet)
            var handler: ScanEngine.ProgressHandler?
            if line.isEnabled { handler = { @Sendable progress in line.update(progress) } }
            let result: ScanResult
            do {
                defer { line.clear() }
                result = try ScanEngine(store: catalogue, interruption: Signals.interruptible(), host: try hostOption.identity(),
                                        fingerprinter: similarImages ? ImageFingerprinter.forScan() : nil)
                    .scan([definition], options: options, known: prepared?.known, progress: handler)
            }
            var contentTaken = 0
            if let plan, let prepared, let fromPlan, let journalPath {
                if metadata { contentTaken = try catalogue.adoptMergeContent(planSHA256: prepared.planSHA256, silo: name) }
                try catalogue.markAdopted(silo: name, planSHA256: prepared.planSHA256)
                // The ledger knows the plan (applied with another catalogue, or none) and what it did.
                try catalogue.recordMerge(plan: plan, planSHA256: prepared.planSHA256, planPath: Posix.absolute(FilePath(fromPlan)),
                                          journal: journalPath, runID: result.runID)
                try catalogue.syncMerge(planSHA256: prepared.planSHA256, journal: prepared.journal, runID: result.runID)
            }
            let c = result.counts
            if !quiet {
                var text = "Added silo '\(name)' (\(definition.root.display)) to \(catalogue.location): \(Format.count(c.files)) files, \(Format.bytes(c.bytes)) in \(Format.duration(result.elapsed)) (run \(result.runID)).\n"
                if let prepared, let fromPlan {
                    text += "From plan \(fromPlan): \(Format.count(result.knownTaken)) of the \(Format.count(prepared.known.files.count)) files its apply placed taken with the SHA-256 it verified, not read again"
                    text += result.knownRead > 0 ? "; \(Format.count(result.knownRead)) not as the apply left them, read" : ""
                    text += result.knownDiffering.isEmpty ? ".\n" : ", \(Format.count(result.knownDiffering.count)) of them NOT THE CONTENT THE APPLY VERIFIED (see the warnings).\n"
                    if metadata {
                        text += "Metadata: \(Format.count(contentTaken)) taken from what the catalogue read before the merge (those files were not opened); the others read from their metadata blocks.\n"
                    }
                    let earlier = result.knownSeen - result.knownTaken - result.knownRead
                    if earlier > 0 {
                        text += "\(Format.count(earlier)) already catalogued in this silo by an earlier run (unchanged, not read).\n"
                    }
                    let missing = prepared.known.files.count - result.knownSeen
                    if missing > 0 {
                        text += "\(Format.count(missing)) file\(missing == 1 ? "" : "s") the apply placed \(missing == 1 ? "is" : "are") no longer in the target (silomerge verify \(fromPlan) lists them).\n"
                    }
                }
                text += "Hashed \(Format.count(c.filesHashed)) file\(c.filesHashed == 1 ? "" : "s") (\(Format.bytes(c.bytesHashed))). Next: silomerge check \(name)\n"
                FileHandle.standardOutput.write(Data(text.utf8))
            }
            DiagnosticPrinter.print(result, catalog: catalogue.location.display, quiet: quiet)
            if result.status == .warnings { throw ExitCode(ExitStatus.skippedFiles) }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove",
            abstract: "Forget a silo and everything catalogued in it (its files are not touched).")
        @Argument(help: "The silo's name.") var name: String
        @OptionGroup var configOption: ConfigOption
        @OptionGroup var catalogOptions: CatalogOptions

        func run() throws {
            let catalogue = try catalogOptions.open(config: try configOption.load(), access: .readWrite)
            let lock = try catalogue.lockForScan()
            let open = try catalogue.openFindings(silos: [name])
            try catalogue.removeSilo(named: name)
            withExtendedLifetime(lock) {}
            print("Removed silo '\(name)' from \(catalogue.location); no file was touched.")
            if !open.isEmpty {
                print("Its \(open.count) open finding\(open.count == 1 ? " was" : "s were") closed as silo-removed, by \(UserNames.current) (silomerge history lists them).")
            }
        }
    }
}
