import ArgumentParser
import Foundation
import SiloMergeCore

/// The exit codes, as the README documents them.
enum ExitStatus {
    /// Done, nothing to report.
    static let success: Int32 = 0
    /// Done, but some files were skipped or could not be read (see the warnings).
    static let skippedFiles: Int32 = 1
    /// Could not do the job: the catalogue or a silo could not be used, the disk is full...
    static let fatal: Int32 = 2
    /// `check`: changes found since the last scan; `conflicts`: conflicts remain; `verify`:
    /// files missing or unexpected.
    static let changes: Int32 = 3
    /// `check`: content changed behind an unchanged size and mtime (found now, or still open).
    static let corruption: Int32 = 4
    /// Stopped by SIGINT (Ctrl-C): 128 + 2, as shells report it.
    static let interrupted: Int32 = 130
    /// Stopped by SIGTERM: 128 + 15.
    static let terminated: Int32 = 143
    /// The command line or the configuration file is wrong.
    static let usage: Int32 = 64
}

/// A CLI-level error with its exit code.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var code: Int32
    var description: String { message }
    static func usage(_ message: String) -> CLIError { CLIError(message: message, code: ExitStatus.usage) }
    static func fatal(_ message: String) -> CLIError { CLIError(message: message, code: ExitStatus.fatal) }
}

enum ErrorReporting {
    /// The exit code for an error thrown by the core, or nil when ArgumentParser should handle it.
    static func exitCode(for error: any Error) -> Int32? {
        switch error {
        case let e as CLIError: e.code
        case let e as ScanError:
            if case .interrupted(let signal) = e { 128 + signal } else { e.isUsageError ? ExitStatus.usage : ExitStatus.fatal }
        case is ConfigError, is ReconcileError, is CatalogueLocationError, is HostIdentityError: ExitStatus.usage
        case let e as CatalogueError:
            if case .unknownSilo = e { ExitStatus.usage } else if case .siloRootTaken = e { ExitStatus.usage } else { ExitStatus.fatal }
        case let e as TransferError:
            switch e {
            case .conflictingClaim, .destinationNotEmpty, .sameCatalogue, .diverged: ExitStatus.usage
            case .busy, .dangling, .unsupported: ExitStatus.fatal
            }
        case is HashError, is ExportError, is ManifestError, is ApplyError: ExitStatus.fatal
        case let e as PlanError:
            // Rot still open is what exit 4 means everywhere: restore or accept, then plan again.
            if case .openCorruption = e { ExitStatus.corruption } else { ExitStatus.usage }
        case let e as AdoptionError: e.isUsageError ? ExitStatus.usage : ExitStatus.fatal
        case let e as CheckError:
            switch e {
            case .unknownSilo, .nothingOpen: ExitStatus.usage
            case .nothingCatalogued: ExitStatus.fatal
            }
        default: nil
        }
    }

    static func report(_ error: any Error) {
        if case .interrupted = error as? ScanError {
            Stderr.write("silomerge: \(error)\n")
            return
        }
        Stderr.write("silomerge: error: \(error)\n")
    }
}
