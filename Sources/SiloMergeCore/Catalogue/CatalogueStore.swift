import Foundation

// The catalogue behind small protocols, one per concern, so the stages and the reports do not
// depend on SQLite, and a second backend (the shared PostgreSQL catalogue of issue #13, written
// by scanners on many hosts) is an implementation, not a fork. Each protocol can be implemented
// and tested alone (see Tests/CatalogueContractTests); `CatalogueStore` composes them.
//
// Implementations are used from many threads at once: walkers read folder listings while
// hashing workers write results. Nothing here names a backend's mechanism (temporary tables,
// index hints, transactions): writes come in batches, streams are ordered and read in bounded
// memory, and a file's identity is (host, device, inode) (see `PhysicalFileID`).

/// Takes the catalogue for one scan, check or apply at a time.
public protocol ScanLocking: AnyObject, Sendable {
    /// Takes the catalogue for one scan at a time; released when the lock is dropped. Runs a
    /// killed process left `running` are marked `interrupted`.
    func lockForScan() throws -> ScanLock
    /// `lockForScan`, saying what holds it ("apply plan.json"): a command refused because of
    /// it names the process holding it.
    func lockForScan(purpose: String) throws -> ScanLock
    /// Takes the catalogue for a scan or check of these silos only: a backend shared by many
    /// hosts lets scans of other silos run meanwhile (the SQLite catalogue, with one writer,
    /// takes the whole catalogue). A second scan of one of these silos is refused at once,
    /// naming the holder.
    func lockForScan(silos: [String], purpose: String) throws -> ScanLock
    /// True while a scan, check or apply holds the catalogue. Reads only: a run still
    /// `running` when this is false was killed.
    func isScanning() -> Bool
}

/// The silos: names, roots, priorities, rules and hosts.
public protocol SiloRegistry: AnyObject, Sendable {
    func silos() throws -> [Silo]
    /// Adds or updates silos by name (root, priority, rules, host) and returns them as stored.
    func registerSilos(_ definitions: [SiloDefinition]) throws -> [Silo]
    func removeSilo(named name: String) throws
}

/// The record of every scan, check, apply and undo.
public protocol RunLog: AnyObject, Sendable {
    func beginRun(kind: RunKind, hashMode: String, options: String, silos: [String]) throws -> Int64
    func finishRun(_ id: Int64, status: RunStatus, counts: RunCounts, errorMessage: String?) throws
    /// Records a run that is still `running` as `interrupted` (nothing when it already ended).
    func markInterrupted(_ id: Int64, counts: RunCounts, reason: String) throws
    func runs(limit: Int?) throws -> [RunRecord]
}

/// Where a scan writes: batches of changes, diagnostics, manifests.
public protocol ScanSink: AnyObject, Sendable {
    /// Drops secondary indexes for a bulk load (a first scan); `restoreIndexes` builds them
    /// again. A store without such indexes does nothing.
    func deferIndexes() throws
    func restoreIndexes() throws
    /// Applies one batch of changes in one transaction.
    func apply(_ writes: [CatalogueWrite], runID: Int64) throws
    func record(_ diagnostics: [Diagnostic], runID: Int64) throws
    /// Replaces a silo's manifest values with the rows `read` streams (in one transaction,
    /// in bounded memory), records drift against the values before, and remembers `identity`.
    func applyManifest(siloID: Int64, runID: Int64, identity: ManifestIdentity,
                       read: ((ManifestRow) throws -> Void) throws -> ManifestSummary) throws -> ManifestOutcome
    /// True when the silo's manifest was last read with this identity and no file of the silo
    /// appeared or went in run `runID` (its rows would match the same files): no need to read it.
    func manifestIsCurrent(siloID: Int64, runID: Int64, identity: ManifestIdentity) throws -> Bool
    /// Gives every empty file of these silos the SHA-256 of nothing, without reading it.
    func fillEmptyHashes(siloIDs: [Int64]) throws -> Int
    /// Records whole image hashes computed after the walk.
    func setImageHashes(_ hashes: [(fileID: Int64, digest: SHA256Digest)]) throws
}

/// What the walker compares each folder with, and what it learns about the folders it saw.
public protocol FolderIndex: AnyObject, Sendable {
    /// How many files the catalogue holds per silo id.
    func fileCounts() throws -> [Int64: Int]
    /// Prepares per-run scratch state (the folders visited).
    func beginWalk(runID: Int64) throws
    /// A reader owned by one thread (walkers each get one).
    func makeFolderReader() throws -> any FolderReader
    /// The stored hash of another hard link to the same, unchanged inode of `host` (nil: the
    /// silos catalogued before hosts were recorded), if one is catalogued.
    func storedHash(linkedTo stat: FileStat, host: HostIdentity?) throws -> SHA256Digest?
    /// The folders of these silos the current walk could not read, and those it left out by
    /// the silos' rules (as the walk reported them with its writes).
    func walkBoundaries(siloIDs: [Int64]) throws -> (unreadable: [SiloFolder], excluded: [SiloFolder])
    /// Calls `body` with each folder of these silos that holds catalogued files or uncatalogued
    /// entries and that the current walk did not list, in any order. What is gone among them,
    /// `VanishedFolderFold` decides (`finishWalk` is the pass).
    func forEachUnlistedFolder(siloIDs: [Int64], _ body: (SiloFolder) throws -> Void) throws
    /// Drops the files of these folders, recording each as a change of the folder's kind
    /// (missing or excluded), and their uncatalogued entries, in one transaction; returns how
    /// many files went each way.
    func dropVanishedFolders(_ folders: [VanishedFolder], runID: Int64) throws -> (missing: Int, excluded: Int)
    /// Silo ids that have sidecars recorded (folders of other silos need no sidecar lookup).
    func silosWithSidecars() throws -> Set<Int64>
    /// Silo ids that have uncatalogued entries recorded.
    func silosWithUncatalogued() throws -> Set<Int64>
    /// The `fraction` of hashed files of these silos least recently read, with their hashes.
    func leastRecentlyVerified(siloIDs: [Int64], fraction: Double) throws -> [Int64: SHA256Digest]
}

/// Ordered streams over the catalogued contents.
public protocol ContentStreams: AnyObject, Sendable {
    /// Calls `body` with each group of catalogued files that share a size and are held by two
    /// or more physical files, in size order, streamed (on a connection of its own, so results
    /// can be written meanwhile) until it returns false.
    func forEachSizeGroup(_ body: ([CandidateFile]) throws -> Bool) throws
    /// Totals, per-silo figures, the silo × silo overlap and the `top` largest groups, in one
    /// ordered pass over the catalogue's content index.
    func analyse(_ query: DuplicateQuery, top: Int) throws -> Analysis
    /// Calls `body` for each duplicate group, largest reclaimable first, until it returns false.
    func forEachDuplicateGroup(_ query: DuplicateQuery, _ body: (DuplicateGroup) throws -> Bool) throws
    /// Catalogued contents whose SHA-256 hex starts with `prefix`, at most `limit`.
    func contents(withPrefix prefix: String, limit: Int) throws -> [SHA256Digest]
    /// Files and bytes per format (from magic bytes; "unknown" when metadata was not read).
    func formatTotals() throws -> [(format: String, files: Int, bytes: Int64)]
    /// Files with the same image data and different bytes, per image (silos: all when empty),
    /// counting only files of at least `minimumSize` bytes.
    func sameImageGroups(silos: [String], minimumSize: Int64) throws -> [SameImageGroup]
    /// Files of these silos whose whole image hash is not known and that may show the same
    /// picture as another file: the same image-data prefix as a file with other bytes.
    func imageHashCandidates(siloIDs: [Int64]) throws -> [ImageHashCandidate]
    /// Calls `body` once per folder of these silos (every silo when empty) that holds
    /// catalogued files, with the size and SHA-256 (nil: not hashed) of each file directly in
    /// it: all of a folder's files in one call, silo by silo, folders in any order. Streamed:
    /// memory holds one folder's files at a time. `DuplicateFolders` folds it into folder
    /// identities.
    func forEachFolderContents(siloIDs: [Int64], _ body: (FolderContents) throws -> Void) throws
}

/// The files catalogued directly in one folder, as `forEachFolderContents` gives them.
public struct FolderContents: Sendable {
    public struct File: Sendable, Hashable {
        /// nil when the file has no full hash (`--hash dupes` leaves unique sizes alone).
        public var sha256: SHA256Digest?
        public var size: Int64
        public init(sha256: SHA256Digest?, size: Int64) { self.sha256 = sha256; self.size = size }
    }
    public var siloID: Int64
    /// The folder, relative to the silo root (`.root` for the root itself).
    public var dir: RelativePath
    public var files: [File]
    public init(siloID: Int64, dir: RelativePath, files: [File]) { self.siloID = siloID; self.dir = dir; self.files = files }
}

/// The unified catalogue (reconciled records) and what a plan accounts for besides it.
public protocol AssetStore: AnyObject, Sendable {
    /// Replaces the unified catalogue in one transaction: `transform` turns each distinct
    /// content's sources into its record, which is stored. Only after the commit are the
    /// records handed to `each` (the very records stored, kept meanwhile in a `RecordSpool`):
    /// however long `each` takes (a slow pipe), the writer is free for scans and other
    /// commands. `unhashed` counts the catalogued files left out because they have no full hash.
    func rebuildAssets(runID: Int64, transform: (AssetSources) throws -> ReconciledAsset,
                       each: (ReconciledAsset) throws -> Void) throws -> (assets: Int, conflicts: Int, unhashed: Int)
    /// The same pass without storing anything: for commands that only read.
    func reconcileAssets(transform: (AssetSources) throws -> ReconciledAsset,
                         each: (ReconciledAsset) throws -> Void) throws -> (assets: Int, conflicts: Int, unhashed: Int)
    /// Every XMP sidecar, with the file it belongs to.
    func sidecarFiles() throws -> [SidecarFileRecord]
    /// Catalogued files without a full hash (not in the unified catalogue), with the last
    /// problem reading them, if one was reported.
    func unhashedFiles() throws -> [UnhashedFileRecord]
    /// What the scans saw in the silos and did not catalogue.
    func uncatalogued() throws -> [UncataloguedRecord]
}

/// What checks found, and the findings kept open until resolved. The store answers queries and
/// writes; what a finding is, and what stays open, `FindingFold` and `OpenFindingFold` decide
/// (`FindingSettlement` is the pass over a store).
public protocol FindingStore: AnyObject, Sendable {
    /// Calls `body` with each change run `runID` recorded, in the order recorded.
    func forEachChange(runID: Int64, _ body: (FindingFold.Change) throws -> Void) throws
    /// Calls `body` with each file run `runID` saw first, by silo priority, silo and path.
    /// For `.alerts` a store may leave out the files that cannot matter to open findings or
    /// moves: all of them when the run lost no file and nothing is open; otherwise those that
    /// hold neither the content of a file the run lost (a `missing` change) nor the verified
    /// content of an open finding, and are not at an open finding's path.
    func forEachNewFile(runID: Int64, scope: FindingScope, _ body: (FindingFold.NewFile) throws -> Void) throws
    /// What the merge ledger says of run `runID`'s changes and new files.
    func mergeNotes(runID: Int64) throws -> FindingFold.MergeNotes
    /// Calls `body` with each of these contents, in the order given, and every catalogued file
    /// holding it, by silo priority, silo and path (in one read: a check after a large import
    /// asks for many).
    func forEachCopies(of contents: [SHA256Digest], _ body: (SHA256Digest, [FindingFold.Copy]) throws -> Void) throws
    /// The files catalogued at the paths of the open findings.
    func filesAtOpenFindings() throws -> [OpenFindingFold.FileAtPath]
    /// The merge ledger's operations (done, or under way when the apply stopped) that moved,
    /// removed or quarantined the file at an open finding's path holding the content it
    /// verified, in ledger order.
    func openFindingsTakenByPlans() throws -> [OpenFindingFold.TakenByPlan]
    /// Runs `body` while no other settlement of this catalogue runs, in any process on any
    /// host: the open findings a settlement reads stay as it read them until it has written
    /// what it decided (two settlements at once would open one finding twice). Waits for the
    /// settlement under way, if any.
    func whileSettling<R>(_ body: () throws -> R) throws -> R
    /// The scans, audits and checks whose findings are not settled yet, in run order, each
    /// with whether it may still be writing: running (or stopping after an interruption) in
    /// a process that is alive. Such a run is not settled by another, half-way: it settles
    /// its own when it ends, or the first settlement after its process died does.
    func unsettledRuns() throws -> [(id: Int64, writing: Bool)]
    /// Writes what settling run `runID`'s findings did to the open findings, in order, and
    /// notes the run settled, in one transaction. A transition for a finding closed meanwhile
    /// (accepted while the run ran) leaves it closed. A run settled already is refused, and
    /// nothing is written: its alerts would be opened twice.
    func applyFindingTransitions(_ transitions: [OpenFindingTransition], runID: Int64) throws
    func recordFindings(_ findings: [Finding], outcome: CheckOutcome, runID: Int64) throws
    /// The latest finished check, its outcome and findings.
    func lastCheck() throws -> (run: RunRecord, outcome: CheckOutcome?, findings: [Finding])?
    /// Before `settleFindings`: brings the merge ledger (what applied plans did to which
    /// file) in step with the journals of the plans it records, so a file a plan took away is
    /// `merged`, not missing, even when the apply was killed before recording its end. Returns
    /// what could not be read, in words.
    func syncMerges(runID: Int64) throws -> [String]
    /// The findings still open, of these silos (all when empty), corrupted first.
    func openFindings(silos: [String]) throws -> [OpenFinding]
    /// The most recently closed findings, newest first.
    func closedFindings(limit: Int) throws -> [OpenFinding]
    /// Closes these open findings as accepted by `user` at `time`, each with its closing
    /// detail, in one transaction; returns the ids it closed (one closed meanwhile stays as it
    /// was). Which findings and what detail, `acceptFindings` decides.
    func closeAccepted(_ closing: [(id: Int64, detail: String)], by user: String, at time: Date) throws -> Set<Int64>
}

/// The merge ledger: what each applied plan did to which catalogued file, kept in step with
/// the plan's journal, and what each apply or undo run did with which plan. Scans and checks
/// read the ledger to tell a file a plan took away (`merged`) from one that went missing.
public protocol MergeLedger: AnyObject, Sendable {
    /// Records a plan about to be applied (or undone): its operations, each with its source as
    /// the plan saw it. A plan already recorded (a resumed apply) keeps its rows.
    func recordMerge(plan: MergePlan, planSHA256: String, planPath: FilePath, journal: FilePath, runID: Int64) throws
    /// Brings the ledger in step with what the plan's journal says was done (or undone).
    func syncMerge(planSHA256: String, journal: MergeJournal, runID: Int64) throws
    /// Records what an apply or undo run did so far (at its start and again at its end), and
    /// its outcome (`complete`, `incomplete`, `interrupted`, `stopped`; nil while it runs).
    func recordPlanRun(_ runID: Int64, _ record: PlanRunRecord, outcome: String?) throws
    /// The plan details of these runs (those that are apply or undo runs).
    func planRuns(_ runIDs: [Int64]) throws -> [Int64: PlanRunRecord]
    /// The destinations (in the target) whose content's format, dimensions and embedded
    /// metadata the ledger holds, read by the current readers: adoption takes those as it takes
    /// the SHA-256, without reading the files.
    func mergeContentKnown(planSHA256: String) throws -> Set<RelativePath>
    /// Gives the files of an adopted silo whose metadata was not read the content facts the
    /// ledger holds for what the plan placed there (same path, same SHA-256). Returns how many.
    func adoptMergeContent(planSHA256: String, silo: String) throws -> Int
    /// Records that a silo is the target of an applied plan (adopted with `silos add --from-plan`).
    func markAdopted(silo: String, planSHA256: String) throws
}

/// Small named values the catalogue remembers (reconcile policies, the resolutions file).
public protocol SettingsStore: AnyObject, Sendable {
    func setting(_ key: String) throws -> String?
    func setSetting(_ key: String, _ value: String?) throws
}

/// A whole catalogue: every concern, and where it lives. `SQLiteCatalogue` (one file) and
/// `PostgresCatalogue` (a shared server) implement it.
public protocol CatalogueStore: ScanLocking, SiloRegistry, RunLog, ScanSink, FolderIndex, ContentStreams, AssetStore,
    FindingStore, SettingsStore, MergeLedger, UnverifiedCopySource, SimilarImageSource {
    /// Where the catalogue lives (for messages, a plan's identity, and the files a scan must
    /// never catalogue).
    var location: CatalogueLocation { get }
}

extension ContentStreams {
    /// Same-image groups of every size.
    public func sameImageGroups(silos: [String]) throws -> [SameImageGroup] { try sameImageGroups(silos: silos, minimumSize: 0) }
}

extension ScanLocking {
    /// One writer: a scan of some silos takes the whole catalogue.
    public func lockForScan(silos: [String], purpose: String) throws -> ScanLock { try lockForScan(purpose: purpose) }
}

extension FindingStore {
    /// A store without a merge ledger has nothing to bring in step.
    public func syncMerges(runID: Int64) throws -> [String] { [] }
}

/// Held while a scan runs; releases the catalogue when dropped.
public final class ScanLock: Sendable {
    private let release: @Sendable () -> Void
    public init(release: @escaping @Sendable () -> Void) { self.release = release }
    deinit { release() }
}

/// Files whose image data is the same while their bytes differ: the same picture saved with
/// different embedded metadata. Keeping the wrong copy loses the richer metadata.
public struct SameImageGroup: Sendable, Hashable {
    public struct Member: Sendable, Hashable {
        public var silo: String
        public var siloPriority: Int
        public var path: RelativePath
        /// nil when the file was not hashed (`--hash dupes` leaves files of unique size alone).
        public var sha256: SHA256Digest?
        public var size: Int64
        package init(silo: String, siloPriority: Int, path: RelativePath, sha256: SHA256Digest? = nil, size: Int64) {
            self.silo = silo
            self.siloPriority = siloPriority
            self.path = path
            self.sha256 = sha256
            self.size = size
        }
    }
    public var imageSHA256: SHA256Digest
    public var format: MediaFormat
    public var files: [Member]
    /// Fields whose embedded values differ between the files.
    public var fieldsThatDiffer: [UnifiedField]
    package init(imageSHA256: SHA256Digest, format: MediaFormat, files: [Member], fieldsThatDiffer: [UnifiedField]) {
        self.imageSHA256 = imageSHA256
        self.format = format
        self.files = files
        self.fieldsThatDiffer = fieldsThatDiffer
    }
}

/// What recording a manifest found.
public struct ManifestOutcome: Sendable {
    public var summary = ManifestSummary(rows: 0, size: 0, mtimeNs: 0, sha256: SHA256Digest(hex: String(repeating: "0", count: 64))!)
    /// Rows naming a catalogued file.
    public var matched = 0
    /// Rows naming no catalogued file: how many, and the first `ManifestReader.sampleLimit`.
    public var unmatched = 0
    public var unmatchedSample: [ManifestRow] = []
    /// Files whose manifest values changed (recorded as `metadata` changes).
    public var drifted = 0
    public init() {}
}

/// How `--hash dupes` tells same-size files apart before reading them whole.
public struct PartialHashSpec: Sendable, Hashable, Codable {
    /// Bytes read from each end of a file.
    public var block = 4096
    /// Files up to this size are read whole at once: two small reads cost as much as one.
    public var wholeFileLimit = 16 * 1024
    public init() {}
}


/// Looks up the files catalogued in one folder. Not thread-safe: one per walker thread.
public protocol FolderReader: AnyObject {
    /// The files catalogued directly inside one folder of a silo, with their stored hashes
    /// when `withHashes` (otherwise only whether there is one).
    func entries(siloID: Int64, dir: RelativePath, withHashes: Bool) throws -> [StoredEntry]
    /// The sidecars recorded in one folder.
    func sidecars(siloID: Int64, dir: RelativePath) throws -> [StoredSidecar]
}
