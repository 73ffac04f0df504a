import Foundation

// Moving catalogue contents between catalogues, whatever their backends (issue #13 item 4): a
// host that cannot reach the shared catalogue scans into a catalogue of its own (a *shard*), and
// `silomerge catalogue merge` brings shards into one; `silomerge catalogue copy` moves a whole
// catalogue from one backend to another.
//
// A backend does two things only: it streams its rows out (`exportRecords`), and inside one
// transaction of its own it offers a few primitives (`TransferWriter`). What rows mean (which
// run is new, whose files win, which silo claim conflicts, how ids map) is decided here, once,
// for every backend (`ShardMerge`, `CatalogueCopy`).
//
// The rows travel as `TransferRecord`s: a table and its values in the order of
// `TransferTable.columns`, each column with a kind saying what it holds (a path's exact bytes,
// a SHA-256, a reference to a run, a silo or a file). One description of the logical tables
// drives the export, the import and the id remapping of both backends: a column added to a
// table is one line here, not a struct, an encoder and a decoder per backend.

/// One value of a transferred row.
public enum TransferValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case text(String)
    /// Exact bytes: a path or a name that need not be UTF-8.
    case bytes([UInt8])
    case digest(SHA256Digest)

    public var integer: Int64? { if case .integer(let v) = self { v } else { nil } }
    public var text: String? { if case .text(let v) = self { v } else { nil } }
    public var bytes: [UInt8]? { if case .bytes(let v) = self { v } else { nil } }
    public var isNull: Bool { self == .null }
}

/// What a column holds; references are remapped when rows move between catalogues.
public enum TransferColumnKind: Sendable, Hashable {
    /// The row's own id: kept by a copy, assigned anew by a merge.
    case key
    case integer
    case text
    /// A path or a name, byte for byte (SQLite: TEXT holding the bytes; PostgreSQL: bytea).
    case bytes
    /// A SHA-256 (SQLite: hex text; PostgreSQL: 32 bytes of bytea).
    case digest
    /// A boolean (SQLite: 0 or 1; PostgreSQL: boolean); travels as 0 or 1.
    case flag
    /// References to a silo, a run or a file of the same catalogue.
    case silo, run, file
}

public struct TransferColumn: Sendable, Hashable {
    public let name: String
    public let kind: TransferColumnKind
    init(_ name: String, _ kind: TransferColumnKind) {
        self.name = name
        self.kind = kind
    }
}

/// The catalogue's logical tables, in the order they are transferred: every table after those
/// its rows refer to. The unified catalogue (`asset`, `asset_field`) is transferred by a copy
/// only: a merge leaves it to `silomerge reconcile` to rebuild over every silo.
public enum TransferTable: String, CaseIterable, Sendable {
    case setting, run
    /// Runs whose findings are settled (FindingSettlement): a settled run is never settled again.
    case settledRun = "settled_run"
    case silo, file, sidecar, metadata, manifest, uncatalogued, change, diagnostic, finding
    case planRun = "plan_run"
    case openFinding = "open_finding"
    case mergePlan = "merge_plan"
    case mergeOp = "merge_op"
    case mergeMetadata = "merge_metadata"
    case asset
    case assetField = "asset_field"
    /// The perceptual hash of each image content (SQLite v14-phash, PostgreSQL schema 3),
    /// keyed by the content's SHA-256: carried by a copy and by a merge (what `duplicates
    /// --similar` groups by). A catalogue from before it has none to give.
    case imagePhash = "image_phash"
    /// What a catalogue merged from shards remembers (see `ShardMerge`).
    case shardRun = "shard_run"
    case shardSilo = "shard_silo"

    public var name: String { rawValue }

    /// How a backend orders the rows of a table when it streams them (`file`: by id, with each
    /// file's sidecars and metadata right after it).
    public var orderBy: String {
        switch self {
        case .setting: "key"
        case .metadata: "file_id"
        case .sidecar: "file_id, id"
        case .manifest, .uncatalogued: "silo_id"
        case .planRun, .settledRun: "run_id"
        case .mergePlan: "recorded_run, plan_sha256"
        case .mergeMetadata: "plan_sha256, op"
        case .asset, .imagePhash: "sha256"
        case .assetField: "sha256, field"
        case .shardRun: "shard_id, shard_run_id"
        case .shardSilo: "shard_id, silo_id"
        default: "id"
        }
    }

    public var columns: [TransferColumn] {
        func c(_ name: String, _ kind: TransferColumnKind) -> TransferColumn { TransferColumn(name, kind) }
        switch self {
        case .setting:
            return [c("key", .text), c("value", .text)]
        case .run:
            return [c("id", .key), c("kind", .text), c("status", .text), c("started_at", .text), c("finished_at", .text),
                    c("tool_version", .text), c("host", .text), c("hash_mode", .text), c("options", .text),
                    c("silos", .text), c("counts", .text), c("error_message", .text), c("outcome", .text)]
        case .silo:
            return [c("id", .key), c("name", .text), c("root", .bytes), c("priority", .integer), c("includes", .text),
                    c("excludes", .text), c("added_at", .text), c("last_run_id", .run), c("manifest", .text),
                    c("root_dev", .integer), c("root_ino", .integer), c("one_file_system", .flag),
                    c("adopted_plan", .text), c("host", .text), c("host_name", .text)]
        case .file:
            return [c("id", .key), c("silo_id", .silo), c("dir", .bytes), c("name", .bytes), c("size", .integer),
                    c("mtime_ns", .integer), c("ctime_ns", .integer), c("dev", .integer), c("ino", .integer),
                    c("nlink", .integer), c("mode", .integer), c("uid", .integer), c("gid", .integer),
                    c("sha256", .digest), c("hashed_at", .text), c("first_seen_run", .run), c("changed_run", .run),
                    c("format", .text), c("width", .integer), c("height", .integer), c("image_sha256", .digest),
                    c("metadata_read", .integer), c("image_prefix", .digest), c("dimensions_group", .text)]
        case .sidecar:
            return [c("id", .key), c("file_id", .file), c("silo_id", .silo), c("dir", .bytes), c("name", .bytes),
                    c("size", .integer), c("mtime_ns", .integer), c("ctime_ns", .integer), c("dev", .integer),
                    c("ino", .integer), c("sha256", .digest), c("form", .text), c("used", .integer), c("fields", .text)]
        case .metadata:
            return [c("file_id", .file), c("field", .text), c("origin", .text), c("tag", .text), c("value", .text),
                    c("raw", .text), c("source", .bytes), c("source_mtime_ns", .integer), c("preferred", .integer)]
        case .manifest:
            return [c("silo_id", .silo), c("path", .bytes), c("size", .integer), c("mtime_ns", .integer),
                    c("sha256", .digest), c("rows", .integer), c("matched", .integer), c("read_run", .run),
                    c("ctime_ns", .integer), c("dev", .integer), c("ino", .integer), c("definition", .text),
                    c("unmatched", .integer), c("skipped", .integer)]
        case .uncatalogued:
            return [c("silo_id", .silo), c("dir", .bytes), c("name", .bytes), c("kind", .text), c("reason", .text),
                    c("detail", .text), c("size", .integer)]
        case .change:
            return [c("id", .key), c("run_id", .run), c("kind", .text), c("silo_id", .silo), c("dir", .bytes),
                    c("name", .bytes), c("file_id", .file), c("old_size", .integer), c("old_mtime_ns", .integer),
                    c("old_dev", .integer), c("old_ino", .integer), c("old_sha256", .digest), c("new_size", .integer),
                    c("new_mtime_ns", .integer), c("new_sha256", .digest), c("detail", .text)]
        case .diagnostic:
            return [c("id", .key), c("run_id", .run), c("severity", .text), c("code", .text), c("silo", .text),
                    c("path", .bytes), c("errno", .integer), c("message", .text)]
        case .finding:
            return [c("id", .key), c("run_id", .run), c("kind", .text), c("silo", .text), c("path", .bytes),
                    c("old_silo", .text), c("old_path", .bytes), c("old_size", .integer), c("old_mtime_ns", .integer),
                    c("old_sha256", .digest), c("new_size", .integer), c("new_mtime_ns", .integer),
                    c("new_sha256", .digest), c("detail", .text)]
        case .settledRun:
            return [c("run_id", .run)]
        case .planRun:
            return [c("run_id", .run), c("plan", .text), c("plan_sha256", .text), c("journal", .text),
                    c("operations", .integer), c("done", .integer), c("skipped", .integer), c("refused", .integer),
                    c("failed", .integer), c("bytes_written", .integer)]
        case .openFinding:
            return [c("id", .key), c("kind", .text), c("silo_id", .silo), c("silo", .text), c("dir", .bytes),
                    c("name", .bytes), c("verified_size", .integer), c("verified_mtime_ns", .integer),
                    c("verified_sha256", .digest), c("seen_size", .integer), c("seen_mtime_ns", .integer),
                    c("seen_sha256", .digest), c("opened_run", .run), c("opened_at", .text), c("last_run", .run),
                    c("detail", .text), c("closed_run", .run), c("closed_at", .text), c("resolution", .text),
                    c("closed_by", .text), c("closed_detail", .text)]
        case .mergePlan:
            return [c("plan_sha256", .text), c("plan", .text), c("journal", .text), c("target_root", .bytes),
                    c("quarantine_root", .bytes), c("recorded_run", .run), c("synced_run", .run),
                    c("journal_size", .integer)]
        case .mergeOp:
            return [c("id", .key), c("plan_sha256", .text), c("op", .integer), c("follows_op", .integer),
                    c("kind", .text), c("effect", .text), c("silo_id", .silo), c("silo", .text), c("dir", .bytes),
                    c("name", .bytes), c("size", .integer), c("mtime_ns", .integer), c("dev", .integer),
                    c("ino", .integer), c("sha256", .digest), c("dest_root", .text), c("dest_dir", .bytes),
                    c("dest_name", .bytes), c("note", .text), c("state", .text), c("state_run", .run),
                    c("placed_dev", .integer), c("placed_ino", .integer), c("placed_size", .integer),
                    c("placed_mtime_ns", .integer), c("format", .text), c("width", .integer), c("height", .integer),
                    c("image_sha256", .digest), c("metadata_read", .integer), c("image_prefix", .digest),
                    c("dimensions_group", .text)]
        case .mergeMetadata:
            return [c("plan_sha256", .text), c("op", .integer), c("field", .text), c("origin", .text),
                    c("tag", .text), c("value", .text), c("raw", .text), c("preferred", .integer)]
        case .asset:
            return [c("sha256", .digest), c("size", .integer), c("format", .text), c("width", .integer),
                    c("height", .integer), c("image_sha256", .digest), c("copies", .integer),
                    c("conflicts", .integer), c("reconciled_run", .run)]
        case .assetField:
            return [c("sha256", .digest), c("field", .text), c("value", .text), c("status", .text),
                    c("rule", .text), c("sources", .text)]
        case .imagePhash:
            return [c("sha256", .digest), c("phash", .integer), c("width", .integer), c("height", .integer),
                    c("decoder", .text), c("error", .text)]
        case .shardRun:
            return [c("shard_id", .text), c("shard_run_id", .integer), c("shard_started_at", .text),
                    c("run_id", .run), c("shard", .text)]
        case .shardSilo:
            return [c("shard_id", .text), c("silo_id", .silo), c("shard", .text)]
        }
    }

    /// The position of `column` in `columns`.
    public func index(of column: String) -> Int {
        guard let i = columns.firstIndex(where: { $0.name == column }) else {
            preconditionFailure("no column \(column) in the transferred table \(name)")
        }
        return i
    }
}

/// One row of one table, its values in the order of `table.columns`.
public struct TransferRecord: Sendable, Hashable {
    public let table: TransferTable
    public var values: [TransferValue]

    public init(table: TransferTable, values: [TransferValue]) {
        precondition(values.count == table.columns.count, "a \(table.name) row has \(table.columns.count) values")
        self.table = table
        self.values = values
    }

    public subscript(column: String) -> TransferValue {
        get { values[table.index(of: column)] }
        set { values[table.index(of: column)] = newValue }
    }
}

/// Which catalogue a merged shard is, whatever path or URL names it: the first run it recorded
/// (its id, start, host and tool). A copy of a shard file is the same shard; two shards that
/// are not copies of one another never share a first run.
public struct ShardIdentity: Sendable, Hashable {
    public let id: String
    /// For messages: the path or URL the shard was named by.
    public let label: String
    public init(id: String, label: String) {
        self.id = id
        self.label = label
    }

    /// The identity of the catalogue whose first run (lowest id) is `first`.
    public static func of(firstRun first: TransferRecord, label: String) -> ShardIdentity {
        let parts = ["id", "started_at", "host", "tool_version", "kind"].map { column -> String in
            switch first[column] {
            case .integer(let v): String(v)
            case .text(let t): t
            default: ""
            }
        }
        let digest = (try? SHA256Hasher.digest(Array(parts.joined(separator: "\u{1f}").utf8)))?.hex ?? parts.joined(separator: "/")
        return ShardIdentity(id: String(digest.prefix(32)), label: label)
    }
}

/// A catalogue whose contents can be streamed out and brought in (see `ShardMerge`,
/// `CatalogueCopy`).
public protocol CatalogueTransfer: AnyObject, Sendable {
    /// Where the catalogue lives.
    var location: CatalogueLocation { get }
    /// Calls `body` with every row of every `TransferTable` the catalogue holds, table by table
    /// in `TransferTable.allCases` order, except that each file is followed at once by its
    /// sidecars and its metadata values (so a reader needs nothing but the current file to
    /// place them). Read from one snapshot, in bounded memory.
    func exportRecords(_ body: (TransferRecord) throws -> Void) throws
    /// Runs `body` with a writer inside one transaction: committed when `body` returns, rolled
    /// back entirely when it throws (or the process dies).
    func withTransferTransaction<R>(_ body: (any TransferWriter) throws -> R) throws -> R
}

/// A destination's primitives inside its transfer transaction. Rows are already remapped:
/// references name the destination's ids.
public protocol TransferWriter: AnyObject {
    /// Inserts a row; with `keepKey` false its `key` column is left for the catalogue to assign.
    /// Returns the row's key (nil for a table without one).
    @discardableResult
    func insert(_ record: TransferRecord, keepKey: Bool) throws -> Int64?
    /// Replaces every column of silo `id` but its id, name and when it was added.
    func updateSilo(id: Int64, with record: TransferRecord) throws
    /// The silo named `name`, as stored, with the start of its last run.
    func silo(named name: String) throws -> (record: TransferRecord, lastRunStartedAt: String?)?
    /// Drops what a silo's scans hold of its current state: its files (with their sidecars and
    /// metadata), its manifest and its uncatalogued entries.
    func clearSiloState(siloID: Int64) throws
    /// Deletes the open findings of a silo opened by one of these runs.
    func deleteOpenFindings(siloID: Int64, openedBy runs: [Int64]) throws
    /// Whether the merge ledger records this plan.
    func hasMergePlan(_ sha256: String) throws -> Bool
    /// Deletes a plan's ledger rows (its operations and their metadata with it).
    func deleteMergePlan(_ sha256: String) throws
    /// Adds the perceptual hash of a content (an `image_phash` row) unless the catalogue has
    /// one for it already; one whose decoders failed (no hash) gives way to one with a hash.
    /// Whether the row was written.
    func mergeImageHash(_ record: TransferRecord) throws -> Bool
    /// The rows of `shard_run` and `shard_silo`.
    func shardRuns() throws -> [TransferRecord]
    func shardSilos() throws -> [TransferRecord]
    /// The highest run id (0 for none), and how many runs and silos there are.
    func runSummary() throws -> (maxID: Int64, runs: Int, silos: Int)
    /// Every run's id and start.
    func runStarts() throws -> [Int64: String]
    func setting(_ key: String) throws -> String?
    func setSetting(_ key: String, _ value: String) throws
    /// Empties every transferred table (a copy over an earlier copy of the same catalogue).
    func deleteAll() throws
    /// After rows were inserted with their keys kept: lets the catalogue go on assigning keys
    /// after the highest (PostgreSQL identity sequences).
    func keysInsertedExplicitly() throws
}

/// Why a merge or a copy was refused.
public enum TransferError: Error, CustomStringConvertible, Sendable {
    /// A silo claimed by two shards (or by a shard and a host scanning into the destination)
    /// with another root or on another host.
    case conflictingClaim(silo: String, holder: String, held: String, claimant: String, claimed: String)
    /// The shard's runs are not those merged from it before (another catalogue that began with
    /// the same first run, and went on differently).
    case diverged(shard: String, run: Int64, merged: String, now: String)
    case sameCatalogue(String)
    /// A scan is still writing into the source.
    case busy(String)
    case destinationNotEmpty(destination: String, source: String, reason: String)
    case dangling(source: String, table: String, column: String, value: Int64)
    case unsupported(String)

    public var description: String {
        switch self {
        case .conflictingClaim(let silo, let holder, let held, let claimant, let claimed):
            "silo '\(silo)' is claimed twice: \(holder) holds it as \(held), \(claimant) claims it as \(claimed); "
                + "a silo is one folder on one host (rename one of them: scan it under another name in its shard)"
        case .diverged(let shard, let run, let merged, let now):
            "shard \(shard): its run \(run) started at \(now), but the run merged from it before as run \(run) started at \(merged); "
                + "it is not the shard merged before (a copy that went on differently?); nothing was merged"
        case .sameCatalogue(let c):
            "\(c) is both the source and the destination"
        case .busy(let c):
            "\(c) is being written by a silomerge scan, check or apply right now; merge or copy it when that has finished"
        case .destinationNotEmpty(let destination, let source, let reason):
            "\(destination) is not empty and is not an earlier copy of \(source) (\(reason)); copy into a new catalogue, or use `silomerge catalogue merge`"
        case .dangling(let source, let table, let column, let value):
            "\(source): a \(table) row refers to \(column) \(value), which it does not hold; the catalogue is damaged, nothing was transferred"
        case .unsupported(let c):
            "\(c) cannot be merged or copied yet (its backend does not support transfers)"
        }
    }
}

/// What a merge or a copy brought, and what was already there.
public struct TransferSummary: Sendable, Hashable {
    public var runs = 0
    public var runsAlreadyMerged = 0
    public var silosAdded = 0
    public var silosUpdated = 0
    public var silosUnchanged = 0
    public var files = 0
    public var metadataValues = 0
    public var sidecars = 0
    public var changes = 0
    public var diagnostics = 0
    public var findings = 0
    public var openFindings = 0
    public var plans = 0
    /// Rows of other tables (settings, manifests, uncatalogued entries, ledger rows, assets...).
    public var otherRows = 0
    public init() {}

    public static func + (a: TransferSummary, b: TransferSummary) -> TransferSummary {
        var s = a
        s.runs += b.runs; s.runsAlreadyMerged += b.runsAlreadyMerged; s.silosAdded += b.silosAdded
        s.silosUpdated += b.silosUpdated; s.silosUnchanged += b.silosUnchanged; s.files += b.files
        s.metadataValues += b.metadataValues; s.sidecars += b.sidecars; s.changes += b.changes
        s.diagnostics += b.diagnostics; s.findings += b.findings; s.openFindings += b.openFindings
        s.plans += b.plans; s.otherRows += b.otherRows
        return s
    }

    /// Rows written, for progress.
    public var rows: Int {
        runs + silosAdded + silosUpdated + files + metadataValues + sidecars + changes + diagnostics + findings
            + openFindings + plans + otherRows
    }
}

/// Ends an export early (with the record that was looked for, if any).
struct TransferStop: Error {
    var record: TransferRecord?
}

extension CatalogueTransfer {
    /// The first run this catalogue recorded (nil when it recorded none), as its identity.
    public func shardIdentity() throws -> ShardIdentity? {
        do {
            try exportRecords { record in
                if record.table == .run { throw TransferStop(record: record) }
                if record.table != .setting { throw TransferStop(record: nil) }
            }
        } catch let stop as TransferStop {
            return stop.record.map { ShardIdentity.of(firstRun: $0, label: location.display) }
        }
        return nil
    }

    /// The rows of the tables before `stop` in transfer order (settings, runs, silos: small),
    /// without reading the rest.
    public func leadingRecords(before stop: TransferTable) throws -> [TransferRecord] {
        var out: [TransferRecord] = []
        do {
            try exportRecords { record in
                if record.table == stop { throw TransferStop() }
                out.append(record)
            }
        } catch is TransferStop {}
        return out
    }
}
