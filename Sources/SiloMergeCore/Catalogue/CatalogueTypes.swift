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
    /// Walk only the root's file system (`--one-file-system`, like `find -xdev`): folders that
    /// are mount points of other file systems are skipped.
    public var oneFileSystem: Bool

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
    public var oneFileSystem = false

    public init(id: Int64, name: String, root: FilePath, priority: Int, lastRunID: Int64?,
                includes: [String] = [], excludes: [String] = [], manifest: ManifestDefinition? = nil,
                oneFileSystem: Bool = false) {
        self.id = id; self.name = name; self.root = root; self.priority = priority; self.lastRunID = lastRunID
        self.includes = includes; self.excludes = excludes; self.manifest = manifest; self.oneFileSystem = oneFileSystem
    }

    public var definition: SiloDefinition {
        SiloDefinition(name: name, root: root, priority: priority, includes: includes, excludes: excludes, manifest: manifest,
                       oneFileSystem: oneFileSystem)
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

/// The counters a run records.
public struct RunCounts: Sendable, Hashable, Codable {
    public var files = 0
    public var bytes: Int64 = 0
    public var directories = 0
    public var filesNew = 0
    public var filesChanged = 0
    public var filesUnchanged = 0
    public var filesMissing = 0
    public var filesExcluded = 0
    public var filesHashed = 0
    public var bytesHashed: Int64 = 0
    public var hashesReused = 0
    public var skippedSpecial = 0
    public var skippedSymlinks = 0
    public var ignored = 0
    public var warnings = 0
    public var errors = 0
    public init() {}
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
    /// Whether the embedded metadata of the current content was read.
    public var metadataRead: Bool = false
    /// The stored hash itself, only when asked for (`--rehash` compares with it); changes
    /// record the old hash from the catalogue row itself.
    public var sha256: SHA256Digest?

    public init(id: Int64, name: [UInt8], stat: FileStat, hasHash: Bool, sha256: SHA256Digest? = nil, metadataRead: Bool = false) {
        self.id = id; self.name = name; self.stat = stat; self.hasHash = hasHash; self.sha256 = sha256
        self.metadataRead = metadataRead
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
}

/// An XMP sidecar as the scan found it.
public struct SidecarRecord: Sendable {
    public var name: [UInt8]
    public var stat: FileStat
    public var form: SidecarForm
    /// False for a `name.xmp` overridden by a `name.ext.xmp` of the same asset.
    public var used: Bool
    /// nil when its content was not read (metadata reading is off).
    public var sha256: SHA256Digest?
    public var values: [SourcedValue]

    public init(name: [UInt8], stat: FileStat, form: SidecarForm, used: Bool, sha256: SHA256Digest?, values: [SourcedValue]) {
        self.name = name; self.stat = stat; self.form = form; self.used = used; self.sha256 = sha256; self.values = values
    }
}

/// A sidecar as the catalogue holds it, for comparing with a fresh listing.
public struct StoredSidecar: Sendable {
    /// The asset's name in the same folder.
    public var assetName: [UInt8]
    public var name: [UInt8]
    public var stat: FileStat
    /// Whether its content was read.
    public var read: Bool
    public var used: Bool
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
}
