import Foundation

/// How a scan runs.
public struct ScanOptions: Sendable, Hashable, Codable {
    public var hashMode: HashMode = .full
    /// Read every file again, even those whose identity has not changed.
    public var rehash = false
    /// Threads that list folders and read files. Devices that report themselves as spinning
    /// disks are read by `rotationalJobs` threads at a time whatever this says.
    public var jobs: Int = ScanOptions.defaultJobs
    public var rotationalJobs = 1
    public var followSymlinks = false
    public var useDefaultIgnores = true
    /// Extra patterns for every silo, on top of each silo's own.
    public var excludes: [String] = []
    public var includes: [String] = []
    /// The partial hash of `--hash dupes`.
    public var partial = PartialHashSpec()
    /// What the run is recorded as.
    public var kind: RunKind = .scan
    /// Read embedded metadata, XMP sidecars and manifests: files are inspected while they are
    /// hashed (with `--hash dupes`, only their metadata blocks are read). nil: yes with
    /// `--hash full`, no with `--hash dupes` (which promises not to open files of unique size).
    public var metadata: Bool? = nil
    /// Also search every file whose structure holds no XMP for an XMP packet (ExifTool's
    /// -scanForXMP): finds XMP in formats SiloMerge does not parse, at the cost of reading up
    /// to a megabyte at each end of those files.
    public var scanForXMP = false
    /// Also re-read this fraction of the unchanged files, those least recently verified (by
    /// `hashed_at`), and compare with their stored hash: a rotating fixity check.
    public var verifyFraction: Double = 0
    public var readMetadata: Bool {
        get { metadata ?? (hashMode == .full) }
        set { metadata = newValue }
    }

    public init() {}

    /// One reader per core, at least 2 and at most 8: enough to keep SHA-256 busy on every core
    /// when the data is on an SSD or in the page cache. Spinning disks are protected separately
    /// (`rotationalJobs`), so this default does not make them seek between files.
    public static var defaultJobs: Int { min(8, max(2, ProcessInfo.processInfo.activeProcessorCount)) }
}

/// Errors that stop a scan before or while it runs.
public enum ScanError: Error, CustomStringConvertible, Sendable {
    case noSilos
    case invalidSiloName(String, reason: String)
    case duplicateSiloName(String)
    case rootUnavailable(silo: String, path: String, errno: Errno)
    /// The silo is catalogued as the folders of another host.
    case otherHost(silo: String, host: HostIdentity, here: HostIdentity)
    case rootNotDirectory(silo: String, path: String)
    case pseudoFileSystem(silo: String, path: String, type: String)
    case sameFolder(first: String, second: String, path: String)
    case invalidPattern(silo: String?, pattern: String, reason: String)
    case hasherUnavailable(String)
    case aborted(String)
    /// Stopped on request (SIGINT, SIGTERM): the run is recorded `interrupted`.
    case interrupted(signal: Int32)

    public var description: String {
        switch self {
        case .noSilos:
            "no silos to scan: name folders (silomerge scan marketing=/srv/marketing hr=/srv/hr) or give --config FILE"
        case .invalidSiloName(let name, let reason):
            "invalid silo name '\(name)': \(reason)"
        case .duplicateSiloName(let name):
            "the silo name '\(name)' is given twice; give each folder its own name (NAME=PATH)"
        case .rootUnavailable(let silo, let path, let errno):
            "silo '\(silo)': cannot open \(path): \(errno) (\(errno.name))"
        case .otherHost(let silo, let host, let here):
            "silo '\(silo)' is catalogued as a folder of host \(host), and this is host \(here): scan it on that host, or give --host \(host.id) if this is that machine under a new id"
        case .rootNotDirectory(let silo, let path):
            "silo '\(silo)': \(path) is not a folder"
        case .pseudoFileSystem(let silo, let path, let type):
            "silo '\(silo)': \(path) is on a \(type) file system, the kernel's view of itself, not files: SiloMerge never scans those"
        case .sameFolder(let first, let second, let path):
            "silos '\(first)' and '\(second)' are the same folder (\(path)); every file would be its own duplicate. Give the folder once."
        case .invalidPattern(let silo, let pattern, let reason):
            (silo.map { "silo '\($0)': " } ?? "") + "invalid pattern '\(pattern)': \(reason)"
        case .hasherUnavailable(let reason):
            "cannot start SHA-256 hashing: \(reason)"
        case .aborted(let reason):
            "scan stopped: \(reason)"
        case .interrupted(let signal):
            "interrupted by \(Interruption.name(of: signal)): the run is recorded as interrupted in `silomerge history`; what was read so far is kept, nothing was marked missing. Run the same command again to finish."
        }
    }

    /// Errors in what the user asked for (exit code 64), as opposed to failures while working.
    public var isUsageError: Bool {
        switch self {
        case .noSilos, .invalidSiloName, .duplicateSiloName, .sameFolder, .invalidPattern, .rootNotDirectory, .pseudoFileSystem,
             .otherHost: true
        default: false
        }
    }
}

/// A snapshot of a running scan, handed to the progress callback.
public struct ScanProgress: Sendable {
    public enum Phase: String, Sendable {
        /// Listing folders (and, with `--hash full`, reading new files as they are found).
        case walking
        /// `--hash dupes`: comparing files that share a size.
        case hashing
        case finishing
        case done
    }
    public var phase: Phase
    /// The run's counts so far (the walk's, the reads', and the warnings and errors).
    public var counts: RunCounts
    /// Files and bytes queued for reading so far (final once the walk is over).
    public var filesToRead: Int
    public var bytesToRead: Int64
    public var walkFinished: Bool
    public var elapsed: Double

    public var directories: Int { counts.directories }
    public var filesWalked: Int { counts.files }
    public var bytesWalked: Int64 { counts.bytes }
    public var filesRead: Int { counts.filesHashed }
    public var bytesRead: Int64 { counts.bytesHashed }
}

/// What one silo looked like in this scan.
public struct SiloScanSummary: Sendable, Hashable {
    public var name: String
    public var root: FilePath
    public var files: Int
    public var bytes: Int64
    public var directories: Int
}

/// The outcome of a scan.
public struct ScanResult: Sendable {
    public var runID: Int64
    public var status: RunStatus
    public var counts: RunCounts
    public var silos: [SiloScanSummary]
    /// The first diagnostics (all of them are in the catalogue's `diagnostic` table).
    public var diagnostics: [Diagnostic]
    public var diagnosticCount: Int
    public var elapsed: Double
    /// What the run found, as `CatalogueStore.settleFindings` works it out (a check: every
    /// kind; a scan or an audit: corrupted, missing, restored, and moves that close a finding).
    public var findings: [Finding] = []
    /// Findings still open in the scanned silos after the run (see `OpenFinding`).
    public var openFindings: [OpenFinding] = []
    /// With known contents (`ScanEngine.scan(_:options:known:)`): files whose SHA-256 was taken
    /// as recorded without reading them, files read because they were not as recorded, and of
    /// those, the ones whose content is not the recorded one (each also a warning).
    public var knownTaken = 0
    public var knownRead = 0
    /// Known files the walk found at all (taken, read, or catalogued by an earlier run).
    public var knownSeen = 0
    public var knownDiffering: [RelativePath] = []
    /// Where the run's time went, by stage: only when the engine was asked to profile
    /// (`ScanEngine(profile: true)`, `--profile`).
    public var profile: ScanProfile?
}
