import Foundation

/// A silo as the user defines it (command line or configuration file).
public struct SiloDefinition: Sendable, Hashable {
    public var name: String
    /// The folder, as given (made absolute, symlinks not resolved).
    public var root: FilePath
    /// 1 is the most important. Decides the order of copies in reports and, later, which copy
    /// of a content is kept as canonical.
    public var priority: Int
    /// Glob patterns (see `Glob`) a file must match to be catalogued; empty means all.
    public var includes: [String]
    /// Glob patterns of files and folders to skip, on top of the default ignore list.
    public var excludes: [String]
    /// The department's CSV manifest, if it has one.
    public var manifest: ManifestDefinition?
    /// The root folder's device and inode, once the scan has opened it (recorded in the
    /// catalogue so a plan can be checked against the folder that was scanned).
    public var rootIdentity: FileID?
    /// Walk only the root's file system (`--one-file-system`, like `find -xdev`): folders that
    /// are mount points of other file systems are skipped.
    public var oneFileSystem: Bool
    /// The host whose folder `root` is (set by the scan; nil leaves the catalogued one).
    public var host: HostIdentity?

    public init(name: String, root: FilePath, priority: Int, includes: [String] = [], excludes: [String] = [],
                manifest: ManifestDefinition? = nil, oneFileSystem: Bool = false) {
        self.name = name; self.root = root; self.priority = priority
        self.includes = includes; self.excludes = excludes; self.manifest = manifest; self.oneFileSystem = oneFileSystem
    }
}

/// A silo as the catalogue knows it.
public struct Silo: Sendable, Hashable, Identifiable {
    public var id: Int64
    public var name: String
    public var root: FilePath
    public var priority: Int
    public var lastRunID: Int64?
    /// The include and exclude globs and the manifest the silo was last scanned with.
    public var includes: [String] = []
    public var excludes: [String] = []
    public var manifest: ManifestDefinition?
    /// The root folder's device and inode when it was last scanned (nil: scanned by a
    /// SiloMerge that did not record them).
    public var rootIdentity: FileID?
    public var oneFileSystem = false
    /// The plan (the SHA-256 its journal names) whose target this silo is, when it was adopted
    /// with `silomerge silos add NAME=TARGET --from-plan PLAN`.
    public var adoptedPlan: String?
    /// The host whose files the silo holds (nil: catalogued before hosts were recorded, and not
    /// scanned since; its files are on the catalogue's one host).
    public var host: HostIdentity?

    public init(id: Int64, name: String, root: FilePath, priority: Int, lastRunID: Int64?,
                includes: [String] = [], excludes: [String] = [], manifest: ManifestDefinition? = nil,
                oneFileSystem: Bool = false) {
        self.id = id; self.name = name; self.root = root; self.priority = priority; self.lastRunID = lastRunID
        self.includes = includes; self.excludes = excludes; self.manifest = manifest; self.oneFileSystem = oneFileSystem
    }

    public var definition: SiloDefinition {
        var d = SiloDefinition(name: name, root: root, priority: priority, includes: includes, excludes: excludes, manifest: manifest,
                               oneFileSystem: oneFileSystem)
        d.host = host
        return d
    }
}

/// How much of each file a scan reads.
public enum HashMode: String, Sendable, Codable, CaseIterable {
    /// Every file gets a full SHA-256: the catalogue is a fixity record.
    case full
    /// Only what finding duplicates needs: sizes first, then a partial hash of the first and
    /// last blocks of same-size files, then a full hash of files still grouped.
    case dupes
}

/// The kind of recorded run.
public enum RunKind: String, Sendable, Codable {
    case scan, audit, check
    /// `silomerge apply` and `silomerge undo` of a plan (details in `PlanRunRecord`).
    case apply, undo
}

/// What an apply or undo run did with its plan (the catalogue's `plan_run` table).
public struct PlanRunRecord: Sendable, Hashable {
    /// The plan file and journal, as given on the command line (made absolute).
    public var plan: String
    public var planSHA256: String
    public var journal: String
    /// Operations in the plan.
    public var operations: Int
    /// Apply: done in this run; undo: reversed.
    public var done = 0
    /// Apply: already done before; undo: nothing to reverse.
    public var skipped = 0
    /// Apply: refused (the disk no longer matches the plan); undo: left in place (changed since apply).
    public var refused = 0
    public var failed = 0
    public var bytesWritten: Int64 = 0

    public init(plan: String, planSHA256: String, journal: String, operations: Int) {
        self.plan = plan; self.planSHA256 = planSHA256; self.journal = journal; self.operations = operations
    }
}

/// How a run ended.
public enum RunStatus: String, Sendable, Codable {
    case running
    /// Finished; every file was read as asked.
    case ok
    /// Finished, but some files were skipped or could not be read (see the diagnostics).
    case warnings
    /// Stopped by an error before the end.
    case failed
    /// Never finished (the process was killed or crashed); found when the catalogue was next opened.
    case interrupted
}

/// One recorded run, as `history` lists it.
public struct RunRecord: Sendable, Hashable {
    public var id: Int64
    public var kind: RunKind
    public var status: RunStatus
    public var startedAt: Date
    public var finishedAt: Date?
    public var toolVersion: String
    public var host: String
    public var hashMode: String
    public var options: String
    public var silos: [String]
    public var counts: RunCounts
    public var errorMessage: String?
    /// For checks: unchanged, changed or corrupted.
    public var outcome: String? = nil
    package init(id: Int64, kind: RunKind, status: RunStatus, startedAt: Date, finishedAt: Date? = nil, toolVersion: String, host: String, hashMode: String, options: String, silos: [String], counts: RunCounts, errorMessage: String? = nil, outcome: String? = nil) {
        self.id = id
        self.kind = kind
        self.status = status
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.toolVersion = toolVersion
        self.host = host
        self.hashMode = hashMode
        self.options = options
        self.silos = silos
        self.counts = counts
        self.errorMessage = errorMessage
        self.outcome = outcome
    }
}

/// What the catalogue holds about one file in a folder, for comparing with a fresh `lstat`.
public struct StoredEntry: Sendable {
    public var id: Int64
    public var name: [UInt8]
    /// Size, times, device and inode: what decides whether the file changed. (Link count,
    /// mode and owner are not read back: any change to them moves the ctime.)
    public var stat: FileStat
    /// Whether a hash is stored.
    public var hasHash: Bool
    /// Whether the embedded metadata of the current content was read, by the current
    /// `MetadataReader.version` (an older reader's values are read again).
    public var metadataRead: Bool = false
    /// The stored hash itself, only when asked for (`--rehash` compares with it); changes
    /// record the old hash from the catalogue row itself.
    public var sha256: SHA256Digest?

    public init(id: Int64, name: [UInt8], stat: FileStat, hasHash: Bool, sha256: SHA256Digest? = nil, metadataRead: Bool = false) {
        self.id = id; self.name = name; self.stat = stat; self.hasHash = hasHash; self.sha256 = sha256
        self.metadataRead = metadataRead
    }
}

/// Why a scan saw an entry in a silo and did not catalogue it.
public enum UncataloguedReason: String, Sendable, Codable, CaseIterable {
    /// Matched the default ignore list (junk: `.DS_Store`, `Thumbs.db`, `*_original`…).
    case ignored
    /// Matched an exclude rule (or is the XMP sidecar of an excluded file).
    case excluded
    /// A file no include rule matches.
    case notIncluded = "not-included"
    /// A symbolic link: not followed, or followed into a loop, nothing, or a silo.
    case symlink
    /// A FIFO, socket or device: never opened.
    case specialFile = "special-file"
    /// The catalogue's own file.
    case catalogue
    /// Could not be stat-ed, or a folder that could not be listed.
    case unreadable
}

/// An entry a scan saw and did not catalogue.
public struct UncataloguedEntry: Sendable, Hashable {
    public var name: [UInt8]
    public var kind: FileKind
    public var reason: UncataloguedReason
    /// The rule that matched, or what was seen ("not followed", "leads back to a folder above it").
    public var detail: String
    public var size: Int64?

    public init(name: [UInt8], kind: FileKind, reason: UncataloguedReason, detail: String, size: Int64? = nil) {
        self.name = name; self.kind = kind; self.reason = reason; self.detail = detail; self.size = size
    }
}

/// An entry of a silo the catalogue holds no file row for, as the last scan saw it.
public struct UncataloguedRecord: Sendable, Hashable {
    public var silo: String
    public var path: RelativePath
    public var kind: FileKind
    public var reason: UncataloguedReason
    public var detail: String
    public var size: Int64?

    public init(silo: String, path: RelativePath, kind: FileKind, reason: UncataloguedReason, detail: String, size: Int64?) {
        self.silo = silo; self.path = path; self.kind = kind; self.reason = reason; self.detail = detail; self.size = size
    }
}

/// An XMP sidecar as recorded, with the file it belongs to (one row per file: a `name.xmp`
/// shared by `name.jpg` and `name.png` comes twice).
public struct SidecarFileRecord: Sendable, Hashable {
    public var silo: String
    /// The sidecar's path in the silo.
    public var path: RelativePath
    /// The file it belongs to (same folder).
    public var assetPath: RelativePath
    public var size: Int64
    public var mtimeNs: Int64
    public var device: UInt64
    public var inode: UInt64
    /// nil when its content was not read (a scan with --hash dupes and no metadata).
    public var sha256: SHA256Digest?
    public var form: SidecarForm
    /// False for a `name.xmp` a `name.ext.xmp` overrides.
    public var used: Bool

    public init(silo: String, path: RelativePath, assetPath: RelativePath, size: Int64, mtimeNs: Int64, device: UInt64,
                inode: UInt64, sha256: SHA256Digest?, form: SidecarForm, used: Bool) {
        self.silo = silo; self.path = path; self.assetPath = assetPath; self.size = size; self.mtimeNs = mtimeNs
        self.device = device; self.inode = inode; self.sha256 = sha256; self.form = form; self.used = used
    }
}

/// A catalogued file without a full hash.
public struct UnhashedFileRecord: Sendable, Hashable {
    public var silo: String
    public var path: RelativePath
    public var size: Int64
    /// Why it could not be read at the last scan that tried ("cannot read it: Permission
    /// denied"), or nil when it simply was not read (a unique size under --hash dupes).
    public var problem: String?

    public init(silo: String, path: RelativePath, size: Int64, problem: String?) {
        self.silo = silo; self.path = path; self.size = size; self.problem = problem
    }
}

/// A change the scanner writes to the catalogue. Batched: one transaction per batch.
public enum CatalogueWrite: Sendable {
    /// A new file (or, with `replacing`, a file whose identity changed: that row is updated in
    /// place and its old state recorded as a change).
    case upsert(FileRow, replacing: StoredEntry?)
    /// A hash computed for a file already in the catalogue; when `previous` is given and
    /// differs, the content changed without its size or mtime changing.
    case hashed(id: Int64, sha256: SHA256Digest, previous: SHA256Digest?)
    /// A file that is gone (or now excluded): the row is deleted, the old state kept as a change.
    case remove(StoredEntry, siloID: Int64, dir: RelativePath, reason: ChangeKind)
    /// A folder the walk listed completely; used at the end to find folders that vanished.
    case visitedDirectory(siloID: Int64, dir: RelativePath)
    /// A folder that could not be listed: what the catalogue holds under it is kept as is.
    case unreadableDirectory(siloID: Int64, dir: RelativePath)
    /// A folder skipped by an exclude rule: what the catalogue holds under it leaves scope.
    case excludedDirectory(siloID: Int64, dir: RelativePath)
    /// The metadata of a catalogued file's current content.
    case content(id: Int64, ContentInfo, mtimeNs: Int64)
    /// A catalogued file's XMP sidecars (replacing what was recorded).
    case sidecars(fileID: Int64, siloID: Int64, dir: RelativePath, [SidecarRecord])
    /// What a folder holds that is not catalogued; `replace` drops what was recorded for the
    /// folder first (a complete listing), otherwise the entries are added (a child folder
    /// that could not be listed).
    case uncatalogued(siloID: Int64, dir: RelativePath, [UncataloguedEntry], replace: Bool)
    /// The perceptual hash of an image content (or why it has none), kept per SHA-256: every
    /// copy of the content shares it, and a content already recorded keeps its first record.
    case fingerprint(sha256: SHA256Digest, Result<ImageFingerprint, ImageFingerprintFailure>)
}

/// An XMP sidecar as the scan found it.
public struct SidecarRecord: Sendable {
    public var name: [UInt8]
    public var stat: FileStat
    public var form: SidecarForm
    /// False for a `name.xmp` overridden by a `name.ext.xmp` of the same asset.
    public var used: Bool
    /// nil when its content was not read.
    public var sha256: SHA256Digest?
    public var values: [SourcedValue]
    /// Whether `values` are what the sidecar holds (false when it was read for its hash alone,
    /// with metadata reading off): a later scan with metadata reads it again.
    public var valuesRead: Bool

    public init(name: [UInt8], stat: FileStat, form: SidecarForm, used: Bool, sha256: SHA256Digest?, values: [SourcedValue],
                valuesRead: Bool? = nil) {
        self.name = name; self.stat = stat; self.form = form; self.used = used; self.sha256 = sha256; self.values = values
        self.valuesRead = valuesRead ?? (sha256 != nil)
    }
}

/// A sidecar as the catalogue holds it, for comparing with a fresh listing.
public struct StoredSidecar: Sendable {
    /// The asset's name in the same folder.
    public var assetName: [UInt8]
    public var name: [UInt8]
    public var stat: FileStat
    /// Whether its SHA-256 is recorded.
    public var hashed: Bool
    /// Whether its values were read (with metadata reading on).
    public var valuesRead: Bool
    public var used: Bool
    package init(assetName: [UInt8], name: [UInt8], stat: FileStat, hashed: Bool, valuesRead: Bool, used: Bool) {
        self.assetName = assetName
        self.name = name
        self.stat = stat
        self.hashed = hashed
        self.valuesRead = valuesRead
        self.used = used
    }
}

/// A row to insert or update.
public struct FileRow: Sendable {
    public var siloID: Int64
    public var dir: RelativePath
    public var name: [UInt8]
    public var stat: FileStat
    public var sha256: SHA256Digest?
    public var hashedAt: Date?
    /// The content's metadata, when it was read (nil: not read; a changed file loses the old).
    public var content: ContentInfo?
    /// Its sidecars (nil: leave as recorded).
    public var sidecars: [SidecarRecord]?

    public init(siloID: Int64, dir: RelativePath, name: [UInt8], stat: FileStat,
                sha256: SHA256Digest? = nil, hashedAt: Date? = nil) {
        self.siloID = siloID; self.dir = dir; self.name = name; self.stat = stat
        self.sha256 = sha256; self.hashedAt = hashedAt
    }

    public var path: RelativePath { dir.appending(name) }
}

/// Why a catalogue row changed, as recorded in the `change` table.
public enum ChangeKind: String, Sendable, Codable {
    /// Size, mtime, ctime, device or inode differ from the last scan.
    case changed
    /// Not there any more.
    case missing
    /// Still there, but now excluded by the silo's rules.
    case excluded
    /// Read again, the content differs although size and mtime do not: possible corruption.
    case content
}

/// A catalogued file of a same-size group, for `--hash dupes`.
public struct CandidateFile: Sendable {
    public var fileID: Int64
    public var siloID: Int64
    public var path: RelativePath
    public var stat: FileStat
    public var sha256: SHA256Digest?
    package init(fileID: Int64, siloID: Int64, path: RelativePath, stat: FileStat, sha256: SHA256Digest? = nil) {
        self.fileID = fileID
        self.siloID = siloID
        self.path = path
        self.stat = stat
        self.sha256 = sha256
    }
}

/// A file's physical identity: the host it is on and its device and inode there. Device and
/// inode numbers are unique on one host only: two silos on two hosts can hold different files
/// with the same numbers. `host` is a small ordinal, one per host (see `HostOrdinals`).
public struct PhysicalFileID: Hashable, Sendable {
    public var host: Int32
    public var file: FileID
    public init(host: Int32, file: FileID) { self.host = host; self.file = file }
}

/// One small number per host of a catalogue's silos, by silo id, so streams of (silo, device,
/// inode) rows key files by `PhysicalFileID` without carrying host ids. Silos from before hosts
/// were recorded (no host) share one ordinal: their files were all on one host.
public struct HostOrdinals: Sendable {
    private var bySilo: [Int64: Int32] = [:]
    public init(_ silos: [Silo]) {
        var ordinals: [String: Int32] = [:]
        for silo in silos {
            let key = silo.host?.id ?? ""
            let ordinal = ordinals[key] ?? Int32(ordinals.count)
            ordinals[key] = ordinal
            bySilo[silo.id] = ordinal
        }
    }
    /// The host ordinal of a silo (an unknown silo gets -1: a host of its own).
    public func host(ofSilo id: Int64) -> Int32 { bySilo[id] ?? -1 }
    public func physical(silo: Int64, _ file: FileID) -> PhysicalFileID { PhysicalFileID(host: host(ofSilo: silo), file: file) }
}

/// A file whose whole image hash a scan computes after the walk: another file with other bytes
/// has the same image-data prefix, so the two may show the same picture.
public struct ImageHashCandidate: Sendable, Hashable {
    public var fileID: Int64
    public var siloID: Int64
    public var path: RelativePath
    public var size: Int64
    public var mtimeNs: Int64
    public var format: MediaFormat
    /// nil for a file `--hash dupes` did not hash.
    public var sha256: SHA256Digest?
    /// The SHA-256 of the first `ImageHashing.prefixBytes` of its image data: the files that
    /// share it are compared with one another rather than each hashed whole. nil when not known
    /// (then the file is hashed).
    public var imagePrefix: SHA256Digest?
    package init(fileID: Int64, siloID: Int64, path: RelativePath, size: Int64, mtimeNs: Int64, format: MediaFormat, sha256: SHA256Digest? = nil,
                 imagePrefix: SHA256Digest? = nil) {
        self.imagePrefix = imagePrefix
        self.fileID = fileID
        self.siloID = siloID
        self.path = path
        self.size = size
        self.mtimeNs = mtimeNs
        self.format = format
        self.sha256 = sha256
    }
}
