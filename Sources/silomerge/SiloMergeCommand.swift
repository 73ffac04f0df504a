import ArgumentParser
import Foundation
import SiloMergeCore

/// Every command names itself (`commandName:`): without it, ArgumentParser derives the name
/// from the type with `String(describing:)`, a dynamic cast that searches every protocol
/// conformance of this large binary, for each command, at every start: 5 of the 20 ms CPU of
/// `silomerge --version` (perf). A new command should name itself too.
@main
struct SiloMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "silomerge",
        abstract: "Find, reconcile and merge scattered digital-asset collections (\"silos\").",
        discussion: """
            Start with an audit of a few folders:

              silomerge audit marketing=/srv/mk hr=/srv/hr training=/srv/training

            It catalogues every file (SHA-256 through OpenSSL) into silomerge.sqlite
            and prints how much is duplicated, where, and between whom. Then:

              silomerge scan --config silomerge.yml   fixity scan with metadata
              silomerge duplicates --format json      every duplicate group
              silomerge conflicts                     metadata copies disagree on
              silomerge export --format csv -o x.csv  the unified catalogue
              silomerge report --html audit.html      one page for people
              silomerge plan --target /srv/dam -o p   plan a merge; then apply
              silomerge silos add dam=/srv/dam --from-plan p
                                                      adopt the merged tree as a silo
              silomerge check -q                      nightly: what changed
              silomerge history                       past scans and checks
              silomerge inspect photo.jpg             what SiloMerge reads from a file
              silomerge catalogue merge --into DEST shard.sqlite ...
                                                      merge hosts' own catalogues

            Exit codes: 0 done; 1 done, but some files were skipped or unreadable;
            2 failed; 3 check found changes (or missing files are still open),
            conflicts remain, verify found files missing or unexpected; 4
            corruption found (or still open); 64 bad command line,
            configuration or resolutions file; 130/143 stopped by
            SIGINT/SIGTERM (recorded as interrupted, nothing lost).
            """,
        version: SiloMergeVersion.string,
        subcommands: [Audit.self, Scan.self, Inspect.self, Duplicates.self, Reconcile.self, Conflicts.self, Export.self, Check.self, Report.self, Plan.self, Apply.self, Undo.self, Verify.self, Silos.self, History.self, CatalogueCommand.self]
    )

    static func main() {
        MemoryTuning.fixAllocatorThreshold()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch {
            if let code = ErrorReporting.exitCode(for: error) {
                ErrorReporting.report(error)
                Foundation.exit(code)
            }
            self.exit(withError: error)
        }
    }
}
