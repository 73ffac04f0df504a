import Foundation

/// A finding that stays open until it is resolved: a file whose content changed behind an
/// unchanged size and mtime (`corrupted`), or that vanished (`missing`). Every later check
/// lists it, whatever it read that night, until
///
/// - its path reads as the verified content again (`restored`),
/// - a missing file's content turns up at another path (`moved`),
/// - a person accepts the new state (`silomerge check --accept`: `accepted`), or
/// - its silo is removed from the catalogue (`silo-removed`), or
/// - (a missing file) the merge ledger learns that a reviewed plan took it (`merged`).
///
/// Other findings (new, modified, moved, duplicates, metadata drift) are reported once: they
/// are ordinary work, and the catalogue takes the new state. A `scan` keeps findings open as a
/// check does: reading rotten content, or not finding a file, never makes it the baseline.
public struct OpenFinding: Sendable, Hashable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case corrupted, missing
    }

    public enum Resolution: String, Sendable, Codable {
        case restored, moved, accepted
        case siloRemoved = "silo-removed"
        /// A missing file the merge ledger learnt a reviewed plan took (see `Finding.Kind.merged`).
        case merged
    }

    public var id: Int64
    public var kind: Kind
    public var silo: String
    public var path: RelativePath
    /// What the file held when last verified (its hash is the content to restore).
    public var verified: Finding.State
    /// What was last read at the path (nil: nothing is there).
    public var seen: Finding.State?
    public var openedRun: Int64
    public var openedAt: Date
    /// The last run that saw it still open.
    public var lastRun: Int64
    public var detail: String?
    public var closedRun: Int64?
    public var closedAt: Date?
    public var resolution: Resolution?
    /// Who closed it, for `accepted` and `silo-removed`.
    public var closedBy: String?
    public var closedDetail: String?

    public var isOpen: Bool { closedAt == nil }

    /// How long it has been open (until it was closed, for closed ones).
    public func age(at now: Date = Date()) -> TimeInterval {
        max(0, (closedAt ?? now).timeIntervalSince(openedAt))
    }
    package init(id: Int64, kind: Kind, silo: String, path: RelativePath, verified: Finding.State, seen: Finding.State? = nil, openedRun: Int64, openedAt: Date, lastRun: Int64, detail: String? = nil, closedRun: Int64? = nil, closedAt: Date? = nil, resolution: Resolution? = nil, closedBy: String? = nil, closedDetail: String? = nil) {
        self.id = id
        self.kind = kind
        self.silo = silo
        self.path = path
        self.verified = verified
        self.seen = seen
        self.openedRun = openedRun
        self.openedAt = openedAt
        self.lastRun = lastRun
        self.detail = detail
        self.closedRun = closedRun
        self.closedAt = closedAt
        self.resolution = resolution
        self.closedBy = closedBy
        self.closedDetail = closedDetail
    }
}

/// Which of a run's findings `settleFindings` works out.
public enum FindingScope: Sendable {
    /// Every kind (a check).
    case all
    /// Only what keeps findings open or closes them: corrupted, missing, and the new, changed
    /// and moved files that may restore them (a scan or an audit: no per-content duplicate
    /// accounting on a first scan of a million files).
    case alerts
}

/// Which open findings `silomerge check --accept` closes.
public struct FindingSelector: Sendable, Hashable {
    public var silo: String
    /// The file, or a folder (every finding below it); the silo root when empty.
    public var path: RelativePath
    public init(silo: String, path: RelativePath) { self.silo = silo; self.path = path }

    package func matches(_ f: OpenFinding) -> Bool {
        guard f.silo == silo else { return false }
        if path.bytes.isEmpty || f.path == path { return true }
        let prefix = path.bytes + [0x2F]
        return f.path.bytes.starts(with: prefix)
    }
}
