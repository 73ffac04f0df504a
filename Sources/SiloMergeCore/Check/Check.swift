import Foundation

/// What a consistency check found, file by file.
public struct Finding: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// A file not catalogued before.
        case new
        /// A catalogued file that is gone (and whose content did not turn up elsewhere).
        case missing
        /// Size or mtime changed and the content differs.
        case modified
        /// The same content at a new path while the old path is gone (also across silos).
        case moved
        /// Gone from its silo because the apply of a reviewed plan moved, removed or quarantined
        /// it (or, in a silo adopted from a plan's target, because the plan's undo took it back);
        /// the detail names the plan and where the content lives now. Not a change to alert on:
        /// no finding is opened for it and it does not make a check exit 3.
        case merged
        /// The content changed while size and mtime did not: bit rot, or tampering.
        case corrupted
        /// A file an open finding was about (corrupted, missing) reads as its verified content again.
        case restored
        /// Content that now has more physical copies than before.
        case newDuplicate = "new-duplicate"
        /// Content that had two or more copies and now has fewer.
        case duplicateGone = "duplicate-gone"
        /// A sidecar's or a manifest's values for an unchanged file changed.
        case metadataDrift = "metadata-drift"
    }

    public struct State: Sendable, Hashable, Codable {
        public var size: Int64?
        public var mtimeNs: Int64?
        public var sha256: SHA256Digest?
        public init(size: Int64?, mtimeNs: Int64?, sha256: SHA256Digest?) {
            self.size = size; self.mtimeNs = mtimeNs; self.sha256 = sha256
        }
    }

    public var kind: Kind
    public var silo: String
    public var path: RelativePath
    /// For a move: where it was.
    public var oldSilo: String?
    public var oldPath: RelativePath?
    public var old: State?
    public var new: State?
    /// Drift: the source and fields; duplicates: the copy counts.
    public var detail: String?

    public init(kind: Kind, silo: String, path: RelativePath, oldSilo: String? = nil, oldPath: RelativePath? = nil,
                old: State? = nil, new: State? = nil, detail: String? = nil) {
        self.kind = kind; self.silo = silo; self.path = path; self.oldSilo = oldSilo; self.oldPath = oldPath
        self.old = old; self.new = new; self.detail = detail
    }
}

/// How a check ended, for people and for exit codes.
public enum CheckOutcome: String, Sendable, Codable {
    /// Nothing changed since the last scan (files a reviewed plan merged away aside: they are
    /// reported as `merged`, not as changes).
    case unchanged
    /// Files were added, changed, moved or removed, or metadata drifted.
    case changed
    /// Some content changed behind an unchanged size and mtime.
    case corrupted
}

public struct CheckOptions: Sendable {
    public var scan = ScanOptions()
    /// Collect where the check's time went (`CheckResult.scan.profile`; `--profile`).
    public var profile = false
    public init() {
        scan.kind = .check
        scan.hashMode = .full
    }
}

public struct CheckResult: Sendable {
    public var scan: ScanResult
    /// What this check found (a `restored` file included).
    public var findings: [Finding]
    public var outcome: CheckOutcome
    /// Every finding still open in the checked silos, those this check opened included.
    public var open: [OpenFinding] { scan.openFindings }
    public var counts: [Finding.Kind: Int] {
        var c: [Finding.Kind: Int] = [:]
        for f in findings { c[f.kind, default: 0] += 1 }
        return c
    }
}

/// Errors of the check stage.
public enum CheckError: Error, CustomStringConvertible, Sendable {
    case nothingCatalogued(String)
    case unknownSilo(String)
    /// `--accept` named nothing that is open.
    case nothingOpen(String)

    public var description: String {
        switch self {
        case .nothingCatalogued(let path):
            "the catalogue \(path) holds no silos yet: a check compares with a previous scan (silomerge scan NAME=PATH … first)"
        case .unknownSilo(let name):
            "no silo named '\(name)' in the catalogue (silomerge silos lists them)"
        case .nothingOpen(let what):
            "no open finding at \(what): silomerge check lists the open ones (SILO:PATH, or a path inside a silo)"
        }
    }
}

/// `silomerge check`: an incremental rescan of the catalogued silos, compared with the last
/// scan. Unchanged files are not read, except the `verifyFraction` least recently verified
/// (or all with `--rehash`), whose content is compared with the stored hash.
public struct CheckEngine {
    public let store: any CatalogueStore
    /// Set by the caller (on SIGINT/SIGTERM) to stop the check and record it interrupted.
    public let interruption: Interruption?
    /// The host the silos are on (`--host`); nil: this machine.
    public let host: HostIdentity?
    public init(store: any CatalogueStore, interruption: Interruption? = nil, host: HostIdentity? = nil) {
        self.store = store; self.interruption = interruption; self.host = host
    }

    public func check(silos names: [String] = [], options: CheckOptions = CheckOptions(),
                      progress: ScanEngine.ProgressHandler? = nil) throws -> CheckResult {
        let all = try store.silos()
        guard !all.isEmpty else { throw CheckError.nothingCatalogued(store.location.display) }
        let chosen = try names.isEmpty ? all : names.map { n in
            guard let s = all.first(where: { $0.name == n }) else { throw CheckError.unknownSilo(n) }
            return s
        }
        var scanOptions = options.scan
        scanOptions.kind = .check
        scanOptions.hashMode = .full
        let result = try ScanEngine(store: store, interruption: interruption, host: host, profile: options.profile).scan(chosen.map(\.definition), options: scanOptions,
                                                                                 progress: progress)
        let findings = result.findings
        // Open findings count every night until resolved: corruption still open is exit 4,
        // a missing file still open exit 3, whatever this run read. What a reviewed plan's
        // apply did (merged) is reported, and is no change to alert on.
        let changes = findings.filter { $0.kind != .merged }
        let outcome: CheckOutcome
        if changes.contains(where: { $0.kind == .corrupted }) || result.openFindings.contains(where: { $0.kind == .corrupted }) {
            outcome = .corrupted
        } else if !changes.isEmpty || !result.openFindings.isEmpty {
            outcome = .changed
        } else {
            outcome = .unchanged
        }
        try store.recordFindings(findings, outcome: outcome, runID: result.runID)
        return CheckResult(scan: result, findings: findings, outcome: outcome)
    }
}
