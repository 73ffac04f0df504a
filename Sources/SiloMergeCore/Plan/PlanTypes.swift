import Foundation

// MARK: - Input and settings

/// A silo as the planner sees it.
public struct PlanSilo: Sendable, Hashable, Codable {
    public var name: String
    /// The silo's root folder (absolute).
    public var root: FilePath
    /// 1 is the most important.
    public var priority: Int
    /// The root folder's device and inode when the plan was made: apply, undo and verify open
    /// the root without following links and refuse it when it is not this folder any more.
    public var identity: FileID?
    /// The host whose folder the silo is (/3 plans): its operations are applied there, and
    /// only there. nil in a /2 plan (made before plans knew hosts): the host applying it.
    public var host: HostIdentity?

    public init(name: String, root: FilePath, priority: Int, identity: FileID? = nil, host: HostIdentity? = nil) {
        self.name = name; self.root = root; self.priority = priority; self.identity = identity; self.host = host
    }

    enum CodingKeys: String, CodingKey { case name, root, rootB64 = "root_b64", priority, device, inode, host }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        root = FilePath(bytes: try c.decodePath(.root, b64: .rootB64))
        priority = try c.decode(Int.self, forKey: .priority)
        if let device = try c.decodeIfPresent(UInt64.self, forKey: .device), let inode = try c.decodeIfPresent(UInt64.self, forKey: .inode) {
            identity = FileID(device: device, inode: inode)
        }
        host = try c.decodeIfPresent(HostIdentity.self, forKey: .host)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encodePath(root.bytes, .root, b64: .rootB64)
        try c.encode(priority, forKey: .priority)
        try c.encodeIfPresent(identity?.device, forKey: .device)
        try c.encodeIfPresent(identity?.inode, forKey: .inode)
        try c.encodeIfPresent(host, forKey: .host)
    }
}

/// Where a root of the plan (the target, the quarantine folder) is pinned: the folder itself
/// when it existed as the plan was made, else its nearest existing parent, by device and inode.
///
/// Why the parent and not a refusal: a merge usually goes into a folder that does not exist
/// yet. Its nearest existing parent is what decides where it will be made; apply opens that
/// parent from `/` one level at a time without following links, checks its device and inode,
/// then makes the missing levels below it itself (journalled, so undo removes them). A
/// symbolic link swapped in at any level, or the parent replaced by another folder, is refused.
public struct RootAnchor: Sendable, Hashable, Codable {
    /// An existing folder (absolute, symbolic links resolved) when the plan was made.
    public var path: FilePath
    public var device: UInt64
    public var inode: UInt64

    public init(path: FilePath, device: UInt64, inode: UInt64) {
        self.path = path; self.device = device; self.inode = inode
    }

    public var identity: FileID { FileID(device: device, inode: inode) }

    /// The components of `root` below the anchor (empty: the anchor is the root), or nil when
    /// the anchor is not `root` or one of its parents.
    public func levels(to root: FilePath) -> [[UInt8]]? {
        guard path.contains(root) else { return nil }
        let rest = root.bytes.dropFirst(path.bytes.count)
        return rest.split(separator: 0x2F, omittingEmptySubsequences: true).map { Array($0) }
    }

    enum CodingKeys: String, CodingKey { case path, pathB64 = "path_b64", device, inode }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = FilePath(bytes: try c.decodePath(.path, b64: .pathB64))
        device = try c.decode(UInt64.self, forKey: .device)
        inode = try c.decode(UInt64.self, forKey: .inode)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodePath(path.bytes, .path, b64: .pathB64)
        try c.encode(device, forKey: .device)
        try c.encode(inode, forKey: .inode)
    }
}

/// Everything the planner reads: the unified catalogue's records and where they came from.
public struct PlanInput: Sendable {
    public var assets: [ReconciledAsset]
    public var silos: [PlanSilo]
    /// What identifies the catalogue (its path, or a UUID the catalogue keeps).
    public var catalogueIdentity: String
    /// The scan run the assets reflect.
    public var scanRunID: Int64
    /// Written into the plan as its creation time (given, not read from the clock, so the same
    /// input gives the same bytes).
    public var createdAt: Date
    /// Where the target and the quarantine folder are pinned (see `PlanRoots`); the planner
    /// reads no disk, so these come with the input.
    public var targetAnchor: RootAnchor?
    public var quarantineAnchor: RootAnchor?
    /// The silos' XMP sidecars, each with the file it belongs to: the canonical copy's travel
    /// beside it (unless `PlanSettings.carrySidecars` is off); the others stay, listed.
    public var sidecars: [SidecarFileRecord]
    /// Catalogued files with no full hash: in no asset, so left behind, each with why.
    public var unhashed: [UnhashedFileRecord]
    /// What the scans saw in the silos and did not catalogue: left behind, each with why.
    public var uncatalogued: [UncataloguedRecord]
    /// Copies whose content is not the one last verified (an open `corrupted` finding): the
    /// planner refuses while there is one, and never takes one as a canonical copy.
    public var unverified: [UnverifiedCopy] = []
    /// The host the plan is made on (whose view of the target and quarantine folders the
    /// anchors are): recorded in a plan whose silos have hosts.
    public var plannedOn: HostIdentity?
    /// With `PlanSettings.keepFolders`: the duplicate-folder groups of the catalogue
    /// (`DuplicateFolders.groups`), one folder of each kept whole.
    public var folderGroups: [DuplicateFolderGroup] = []
    /// With `PlanSettings.derivatives` keep-master: the catalogue's groups of similar images
    /// (`SimilarImages.groups`), each master with its derivatives.
    public var derivativeGroups: [SimilarImages.Group] = []

    public init(assets: [ReconciledAsset], silos: [PlanSilo], catalogueIdentity: String, scanRunID: Int64,
                createdAt: Date, targetAnchor: RootAnchor? = nil, quarantineAnchor: RootAnchor? = nil,
                sidecars: [SidecarFileRecord] = [], unhashed: [UnhashedFileRecord] = [],
                uncatalogued: [UncataloguedRecord] = []) {
        self.assets = assets; self.silos = silos; self.catalogueIdentity = catalogueIdentity
        self.scanRunID = scanRunID; self.createdAt = createdAt
        self.targetAnchor = targetAnchor; self.quarantineAnchor = quarantineAnchor
        self.sidecars = sidecars; self.unhashed = unhashed; self.uncatalogued = uncatalogued
    }
}

/// A catalogued file whose current content is not the content last verified at its path: a
/// `corrupted` finding still open (see `OpenFinding`). Its catalogued SHA-256 is the rotten
/// content: a plan would carry rot into the target, and could count it as a copy of something.
public struct UnverifiedCopy: Sendable, Hashable {
    public var silo: String
    public var path: RelativePath
    /// The content to restore (what was verified), and what the file reads as now.
    public var verifiedSHA256: SHA256Digest?
    public var currentSHA256: SHA256Digest?
    public var openedAt: Date
    public var openedRun: Int64
    /// Catalogued files holding the verified content ("silo:path"): where to restore it from.
    public var goodCopies: [String]

    public init(silo: String, path: RelativePath, verifiedSHA256: SHA256Digest?, currentSHA256: SHA256Digest?,
                openedAt: Date, openedRun: Int64, goodCopies: [String] = []) {
        self.silo = silo; self.path = path; self.verifiedSHA256 = verifiedSHA256; self.currentSHA256 = currentSHA256
        self.openedAt = openedAt; self.openedRun = openedRun; self.goodCopies = goodCopies
    }

    var key: [UInt8] { silo.exactBytes + [0] + path.bytes }
}

/// A rule that chooses the canonical copy of a content. Rules are applied in order: each keeps
/// the candidates that are best by it, and the next rule decides among those.
public enum CanonicalRule: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The copy in the silo with the best (lowest) priority number.
    case siloPriority
    /// The copy that contributed most reconciled fields (its own embedded data, sidecar or
    /// manifest row): the one a person curated.
    case richestMetadata
    /// The copy with the oldest mtime: usually the original, the others copies of it.
    case oldestMtime
    /// The copy with the shortest path inside its silo.
    case shortestPath
    /// Copies whose path inside the silo matches this glob (see `Glob`).
    case preferredPath(String)

    public static let defaults: [CanonicalRule] = [.siloPriority, .richestMetadata, .oldestMtime, .shortestPath]

    /// "silo-priority", "richest-metadata", "oldest-mtime", "shortest-path", "preferred-path:GLOB".
    public var description: String {
        switch self {
        case .siloPriority: "silo-priority"
        case .richestMetadata: "richest-metadata"
        case .oldestMtime: "oldest-mtime"
        case .shortestPath: "shortest-path"
        case .preferredPath(let glob): "preferred-path:\(glob)"
        }
    }

    /// Parses the forms `description` writes (also `preferred-path=GLOB`).
    public init(parsing text: String) throws(PlanError) {
        switch text {
        case "silo-priority": self = .siloPriority
        case "richest-metadata": self = .richestMetadata
        case "oldest-mtime": self = .oldestMtime
        case "shortest-path": self = .shortestPath
        default:
            for prefix in ["preferred-path:", "preferred-path="] where text.hasPrefix(prefix) {
                let glob = String(text.dropFirst(prefix.count))
                do { _ = try Glob(glob) } catch {
                    throw PlanError.invalidSettings("canonical rule '\(text)': \(error)")
                }
                self = .preferredPath(glob)
                return
            }
            throw PlanError.invalidSettings(
                "unknown canonical rule '\(text)' (known: silo-priority, richest-metadata, oldest-mtime, shortest-path, preferred-path:GLOB)")
        }
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try CanonicalRule(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// What happens to a copy that is not canonical.
public enum DuplicateAction: String, Sendable, Hashable, Codable, CaseIterable {
    /// Left where it is, untouched.
    case keep
    /// Replaced by a hard link to the canonical copy in the target (same file system needed).
    case hardlink
    /// Deleted, once the canonical copy is verified in the target.
    case remove
    /// Moved into the quarantine folder (keeping silo/path), once the canonical copy is verified.
    case quarantine
}

/// What becomes of the derivatives of a photo (the same photo at another size, quality,
/// format, crop or orientation: `SimilarImages`) in a merge plan.
public enum DerivativeAction: String, Sendable, Hashable, Codable, CaseIterable {
    /// Every content is planned as any other (the default: the plan is what it was before).
    case keepAll = "keep-all"
    /// The master is planned as usual; every copy of each derivative goes to the quarantine
    /// folder once the master is verified in the target (see `DerivativePlan`).
    case keepMaster = "keep-master"
}

/// How the canonical copy gets into the target.
public enum TransferMethod: String, Sendable, Hashable, Codable, CaseIterable {
    case copy, hardlink, reflink, move
}

/// What the user asked for. Encoded into the plan as given.
public struct PlanSettings: Sendable, Hashable, Codable {
    /// The folder the merged tree is built in (absolute).
    public var targetRoot: FilePath
    /// Where each canonical copy goes, relative to the target root. See `LayoutTemplate`.
    public var layout: String
    public var canonicalRules: [CanonicalRule]
    public var duplicates: DuplicateAction
    /// Where quarantined duplicates go (absolute). nil: `<target>/.silomerge-quarantine`.
    public var quarantineRoot: FilePath?
    public var transfer: TransferMethod
    /// With `transfer: hardlink`, copy instead when a source is on another file system than the
    /// target (otherwise such a plan is refused before anything is written).
    public var hardlinkFallbackToCopy: Bool
    /// Carry each canonical copy's original XMP sidecars beside it into the target (default).
    /// Off (`--no-sidecars`): they stay in the silos, listed as left behind.
    public var carrySidecars: Bool
    /// Also write the reconciled metadata beside each destination as an XMP sidecar.
    public var writeSidecars: Bool
    /// Write a DAM import manifest (CSV) at the target root.
    public var writeManifest: Bool
    /// Plan even while some fields are in conflict (they are listed in the plan).
    public var allowConflicts: Bool
    /// `--keep-folders`: one folder of each duplicate-folder group is kept whole under
    /// `Folders/<silo>/<path>` in the target instead of its files being placed by the layout
    /// (see `KeptFolders`). Written to the plan only when on.
    public var keepFolders = false
    /// `--derivatives`: keep-all (default), or keep-master, which quarantines the derivatives
    /// of each photo whose master the plan carries (see `DerivativePlan`). Written to the plan
    /// only when keep-master, so a default plan is byte for byte what it was.
    public var derivatives: DerivativeAction = .keepAll

    /// The default layout: a date tree with the original names.
    ///
    /// Why `{year}/{month}/{name}`: the point of merging is to leave the departmental structure
    /// behind, and the date an asset was created is the key that means the same thing in every
    /// silo, and that a DAM and a person browsing both understand. It comes from the metadata;
    /// a content no metadata dates is filed by its file's mtime, and the plan says so on the
    /// operation and in its summary (the mtime is a place to put it, never its date). The original name is kept so people still recognise
    /// their files; the few names that meet in one month are renamed deterministically and
    /// listed. `{silo}/{path}` would reproduce the silos (and their duplicated structure) in
    /// one place instead of merging them.
    public static let defaultLayout = "{year}/{month}/{name}"

    public init(targetRoot: FilePath, layout: String = PlanSettings.defaultLayout,
                canonicalRules: [CanonicalRule] = CanonicalRule.defaults, duplicates: DuplicateAction = .keep,
                quarantineRoot: FilePath? = nil, transfer: TransferMethod = .copy, hardlinkFallbackToCopy: Bool = false,
                carrySidecars: Bool = true, writeSidecars: Bool = false, writeManifest: Bool = false, allowConflicts: Bool = false) {
        self.targetRoot = targetRoot; self.layout = layout; self.canonicalRules = canonicalRules
        self.duplicates = duplicates; self.quarantineRoot = quarantineRoot; self.transfer = transfer
        self.hardlinkFallbackToCopy = hardlinkFallbackToCopy; self.carrySidecars = carrySidecars; self.writeSidecars = writeSidecars
        self.writeManifest = writeManifest; self.allowConflicts = allowConflicts
    }

    /// The quarantine folder the plan uses.
    public var effectiveQuarantineRoot: FilePath {
        quarantineRoot ?? targetRoot.appending(RelativePath(PlanSettings.defaultQuarantineFolder))
    }

    public static let defaultQuarantineFolder = ".silomerge-quarantine"

    enum CodingKeys: String, CodingKey {
        case targetRoot = "target_root", targetRootB64 = "target_root_b64", layout
        case canonicalRules = "canonical_rules", duplicates
        case quarantineRoot = "quarantine_root", quarantineRootB64 = "quarantine_root_b64"
        case transfer, hardlinkFallbackToCopy = "hardlink_fallback_to_copy", carrySidecars = "carry_sidecars"
        case writeSidecars = "write_sidecars"
        case writeManifest = "write_manifest", allowConflicts = "allow_conflicts"
        case keepFolders = "keep_folders"
        case derivatives
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        targetRoot = FilePath(bytes: try c.decodePath(.targetRoot, b64: .targetRootB64))
        layout = try c.decode(String.self, forKey: .layout)
        canonicalRules = try c.decode([CanonicalRule].self, forKey: .canonicalRules)
        duplicates = try c.decode(DuplicateAction.self, forKey: .duplicates)
        quarantineRoot = try c.decodePathIfPresent(.quarantineRoot, b64: .quarantineRootB64).map { FilePath(bytes: $0) }
        transfer = try c.decode(TransferMethod.self, forKey: .transfer)
        hardlinkFallbackToCopy = try c.decodeIfPresent(Bool.self, forKey: .hardlinkFallbackToCopy) ?? false
        carrySidecars = try c.decode(Bool.self, forKey: .carrySidecars)
        writeSidecars = try c.decodeIfPresent(Bool.self, forKey: .writeSidecars) ?? false
        writeManifest = try c.decodeIfPresent(Bool.self, forKey: .writeManifest) ?? false
        allowConflicts = try c.decodeIfPresent(Bool.self, forKey: .allowConflicts) ?? false
        keepFolders = try c.decodeIfPresent(Bool.self, forKey: .keepFolders) ?? false
        derivatives = try c.decodeIfPresent(DerivativeAction.self, forKey: .derivatives) ?? .keepAll
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodePath(targetRoot.bytes, .targetRoot, b64: .targetRootB64)
        try c.encode(layout, forKey: .layout)
        try c.encode(canonicalRules, forKey: .canonicalRules)
        try c.encode(duplicates, forKey: .duplicates)
        if let q = quarantineRoot { try c.encodePath(q.bytes, .quarantineRoot, b64: .quarantineRootB64) }
        try c.encode(transfer, forKey: .transfer)
        try c.encode(hardlinkFallbackToCopy, forKey: .hardlinkFallbackToCopy)
        try c.encode(carrySidecars, forKey: .carrySidecars)
        try c.encode(writeSidecars, forKey: .writeSidecars)
        try c.encode(writeManifest, forKey: .writeManifest)
        try c.encode(allowConflicts, forKey: .allowConflicts)
        if keepFolders { try c.encode(keepFolders, forKey: .keepFolders) }
        if derivatives != .keepAll { try c.encode(derivatives, forKey: .derivatives) }
    }
}

// MARK: - The plan

/// What an operation does.
public enum OperationKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// The canonical copy into the target: copied, hard-linked, cloned, or moved.
    case copy, hardlink, reflink, move
    /// An original XMP sidecar of a canonical copy, brought beside it in the target the same
    /// ways (a sidecar several files share is copied beside each and stays).
    case sidecarCopy = "sidecar-copy", sidecarHardlink = "sidecar-hardlink", sidecarReflink = "sidecar-reflink"
    case sidecarMove = "sidecar-move"
    /// A generated XMP sidecar beside a destination.
    case xmpSidecar = "xmp-sidecar"
    /// A generated DAM import manifest (CSV) at the target root.
    case importManifest = "import-manifest"
    /// A duplicate replaced by a hard link to the canonical copy in the target.
    case linkDuplicate = "link-duplicate"
    /// A duplicate deleted.
    case removeDuplicate = "remove-duplicate"
    /// A duplicate moved into the quarantine folder.
    case quarantineDuplicate = "quarantine-duplicate"
    /// In place (/4 plans): a duplicate made to share its canonical copy's blocks
    /// (FIDEDUPERANGE, which the kernel applies only to identical bytes). Its name, inode and
    /// bytes stay; only the storage is shared.
    case reflinkDuplicate = "reflink-duplicate"

    /// Brings a content into the target from a source file.
    public var isTransfer: Bool { self == .copy || self == .hardlink || self == .reflink || self == .move }
    /// Brings an original sidecar beside its canonical copy in the target.
    public var isSidecarTransfer: Bool {
        self == .sidecarCopy || self == .sidecarHardlink || self == .sidecarReflink || self == .sidecarMove
    }
    /// Brings a file of a silo into the target (a content or a sidecar), verified.
    public var carriesFile: Bool { isTransfer || isSidecarTransfer }
    /// How a file-carrying operation brings it: copy, hard link, clone or move.
    public var method: TransferMethod? {
        switch self {
        case .copy, .sidecarCopy: .copy
        case .hardlink, .sidecarHardlink: .hardlink
        case .reflink, .sidecarReflink: .reflink
        case .move, .sidecarMove: .move
        default: nil
        }
    }
    /// Writes generated bytes (`content`) into the target.
    public var isGenerated: Bool { self == .xmpSidecar || self == .importManifest }
    /// Acts on a copy that is not canonical (after the canonical one is verified).
    public var isDuplicateAction: Bool {
        self == .linkDuplicate || self == .removeDuplicate || self == .quarantineDuplicate || self == .reflinkDuplicate
    }
    /// Writes a file under the target root.
    public var writesTarget: Bool { carriesFile || isGenerated }
    /// Takes a source file away from where it is (its name, at least).
    public var isDestructive: Bool { method == .move || isDuplicateAction }
    /// Waits for its canonical operation to be done (and verified) first.
    public var followsCanonical: Bool { isDuplicateAction || isSidecarTransfer || self == .xmpSidecar }

    /// The sidecar kind that carries a file the way `method` carries contents.
    public static func sidecar(_ method: TransferMethod) -> OperationKind {
        switch method {
        case .copy: .sidecarCopy
        case .hardlink: .sidecarHardlink
        case .reflink: .sidecarReflink
        case .move: .sidecarMove
        }
    }
}

/// A file in a silo an operation reads or acts on, as the catalogue saw it.
public struct PlanSource: Sendable, Hashable, Codable {
    public var silo: String
    public var siloRoot: FilePath
    public var path: RelativePath
    public var size: Int64
    public var mtimeNs: Int64
    public var device: UInt64
    public var inode: UInt64
    /// The content (lower-case hex).
    public var sha256: String

    public init(silo: String, siloRoot: FilePath, path: RelativePath, size: Int64, mtimeNs: Int64, device: UInt64,
                inode: UInt64, sha256: String) {
        self.silo = silo; self.siloRoot = siloRoot; self.path = path; self.size = size; self.mtimeNs = mtimeNs
        self.device = device; self.inode = inode; self.sha256 = sha256
    }

    public var fileID: FileID { FileID(device: device, inode: inode) }
    /// "marketing:campaigns/hero.jpg".
    public var display: String { "\(silo):\(path.display)" }

    enum CodingKeys: String, CodingKey {
        case silo, siloRoot = "silo_root", siloRootB64 = "silo_root_b64", path, pathB64 = "path_b64", size
        case mtimeNs = "mtime_ns", device, inode, sha256
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        silo = try c.decode(String.self, forKey: .silo)
        siloRoot = FilePath(bytes: try c.decodePath(.siloRoot, b64: .siloRootB64))
        path = RelativePath(bytes: try c.decodePath(.path, b64: .pathB64))
        size = try c.decode(Int64.self, forKey: .size)
        mtimeNs = try c.decode(Int64.self, forKey: .mtimeNs)
        device = try c.decode(UInt64.self, forKey: .device)
        inode = try c.decode(UInt64.self, forKey: .inode)
        sha256 = try c.decode(String.self, forKey: .sha256)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(silo, forKey: .silo)
        try c.encodePath(siloRoot.bytes, .siloRoot, b64: .siloRootB64)
        try c.encodePath(path.bytes, .path, b64: .pathB64)
        try c.encode(size, forKey: .size)
        try c.encode(mtimeNs, forKey: .mtimeNs)
        try c.encode(device, forKey: .device)
        try c.encode(inode, forKey: .inode)
        try c.encode(sha256, forKey: .sha256)
    }
}

/// A file name in a silo.
public struct SiloName: Sendable, Hashable, Codable {
    public var silo: String
    public var path: RelativePath

    public init(silo: String, path: RelativePath) { self.silo = silo; self.path = path }

    enum CodingKeys: String, CodingKey { case silo, path, pathB64 = "path_b64" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        silo = try c.decode(String.self, forKey: .silo)
        path = RelativePath(bytes: try c.decodePath(.path, b64: .pathB64))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(silo, forKey: .silo)
        try c.encodePath(path.bytes, .path, b64: .pathB64)
    }
}

/// Where a transfer's date tokens (`{year}`, `{month}`, `{day}`) came from.
public enum PlanDateSource: String, Sendable, Hashable, Codable {
    /// The reconciled metadata's `date_created`.
    case dateCreated = "date_created"
    /// No metadata dates the content: the canonical copy's mtime placed it (and nothing more:
    /// it is never written anywhere as a date).
    case fileModified = "file_modified"
}

/// One step of a plan.
public struct PlanOperation: Sendable, Hashable, Codable {
    /// 1, 2, 3... in the order the operations run.
    public var id: Int
    public var kind: OperationKind
    /// The file read or acted on (transfers and duplicate actions).
    public var source: PlanSource?
    /// Where the result goes: relative to the target root for transfers and generated files,
    /// relative to the quarantine root for `quarantine-duplicate`; nil for the others.
    public var destination: RelativePath?
    /// For duplicate actions and sidecars: the transfer operation of the canonical copy, which
    /// must be done (and verified) first.
    public var canonicalOp: Int?
    /// For generated files: their text.
    public var content: String?
    /// For generated files: the SHA-256 of `content` as UTF-8.
    public var contentSHA256: String?
    /// With `hardlink`: copy when the source is on another file system than the target.
    public var fallbackToCopy: Bool
    /// With `move`: the other names (hard links) of the source's file, which stay where they
    /// are; undo links a moved-away name back to one of them, so the file is one file again.
    public var hardLinks: [SiloName]
    /// Transfers placed by a layout with date tokens: where the date came from — the metadata's
    /// `date_created`, or (no capture date) the file's mtime, which is only ever a place.
    public var dateSource: PlanDateSource?
    /// Why: a sentence for a person.
    public var reason: String
    /// In-place plans (/4): the canonical copy in its silo, which the duplicate (`source`) is
    /// linked or cloned to, or kept instead of. Apply checks it as it checks a source.
    public var canonical: PlanSource?
    /// `--derivatives keep-master`: this quarantine-duplicate moves a derivative of another
    /// content (its master), whose transfer is `canonicalOp`. Written only then.
    public var derivativeOf: PlanDerivativeOf?

    public init(id: Int, kind: OperationKind, source: PlanSource? = nil, destination: RelativePath? = nil,
                canonicalOp: Int? = nil, content: String? = nil, contentSHA256: String? = nil,
                fallbackToCopy: Bool = false, hardLinks: [SiloName] = [], dateSource: PlanDateSource? = nil, reason: String,
                canonical: PlanSource? = nil, derivativeOf: PlanDerivativeOf? = nil) {
        self.id = id; self.kind = kind; self.source = source; self.destination = destination
        self.canonicalOp = canonicalOp; self.content = content; self.contentSHA256 = contentSHA256
        self.fallbackToCopy = fallbackToCopy; self.hardLinks = hardLinks; self.dateSource = dateSource; self.reason = reason
        self.canonical = canonical; self.derivativeOf = derivativeOf
    }

    /// The content this operation writes or acts on.
    public var sha256: String? { source?.sha256 ?? contentSHA256 }
    /// The number of bytes this operation writes or acts on.
    public var size: Int64 { source?.size ?? Int64(content?.utf8.count ?? 0) }

    enum CodingKeys: String, CodingKey {
        case id, kind, source, destination, destinationB64 = "destination_b64", canonicalOp = "canonical_op"
        case content, contentSHA256 = "content_sha256", fallbackToCopy = "fallback_to_copy", hardLinks = "hard_links"
        case dateSource = "date_source", reason, canonical, derivativeOf = "derivative_of"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int.self, forKey: .id)
        kind = try c.decode(OperationKind.self, forKey: .kind)
        source = try c.decodeIfPresent(PlanSource.self, forKey: .source)
        destination = try c.decodePathIfPresent(.destination, b64: .destinationB64).map { RelativePath(bytes: $0) }
        canonicalOp = try c.decodeIfPresent(Int.self, forKey: .canonicalOp)
        content = try c.decodeIfPresent(String.self, forKey: .content)
        contentSHA256 = try c.decodeIfPresent(String.self, forKey: .contentSHA256)
        fallbackToCopy = try c.decodeIfPresent(Bool.self, forKey: .fallbackToCopy) ?? false
        hardLinks = try c.decodeIfPresent([SiloName].self, forKey: .hardLinks) ?? []
        dateSource = try c.decodeIfPresent(PlanDateSource.self, forKey: .dateSource)
        reason = try c.decodeIfPresent(String.self, forKey: .reason) ?? ""
        canonical = try c.decodeIfPresent(PlanSource.self, forKey: .canonical)
        derivativeOf = try c.decodeIfPresent(PlanDerivativeOf.self, forKey: .derivativeOf)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(kind, forKey: .kind)
        try c.encodeIfPresent(source, forKey: .source)
        if let d = destination { try c.encodePath(d.bytes, .destination, b64: .destinationB64) }
        try c.encodeIfPresent(canonicalOp, forKey: .canonicalOp)
        try c.encodeIfPresent(content, forKey: .content)
        try c.encodeIfPresent(contentSHA256, forKey: .contentSHA256)
        if fallbackToCopy { try c.encode(true, forKey: .fallbackToCopy) }
        if !hardLinks.isEmpty { try c.encode(hardLinks, forKey: .hardLinks) }
        try c.encodeIfPresent(dateSource, forKey: .dateSource)
        try c.encode(reason, forKey: .reason)
        try c.encodeIfPresent(canonical, forKey: .canonical)
        try c.encodeIfPresent(derivativeOf, forKey: .derivativeOf)
    }

    /// "copy marketing:a/b.jpg → 2023/06/b.jpg".
    public var display: String {
        var s = kind.rawValue
        if let src = source { s += " " + src.display }
        if let d = destination { s += (source == nil ? " " : " → ") + d.display }
        return s
    }
}

/// Two or more contents that the layout put on one destination (the same name after Unicode
/// normalisation and case folding), and where each went instead.
public struct PlanCollision: Sendable, Hashable, Codable {
    public struct Entry: Sendable, Hashable, Codable {
        public var sha256: String
        /// "marketing:a/b.jpg": the canonical copy.
        public var source: String
        /// Where it goes.
        public var destination: String
        public init(sha256: String, source: String, destination: String) {
            self.sha256 = sha256; self.source = source; self.destination = destination
        }
    }
    /// The contested destination.
    public var destination: String
    /// In the order decided (by SHA-256): the first keeps the name.
    public var entries: [Entry]
    public var reason: String

    public init(destination: String, entries: [Entry], reason: String) {
        self.destination = destination; self.entries = entries; self.reason = reason
    }
}

/// A field left in conflict by reconciliation.
public struct PlanConflict: Sendable, Hashable, Codable {
    public var sha256: String
    /// The canonical copy, "silo:path".
    public var asset: String
    public var field: String
    /// Each differing value with its source: "CC-BY (marketing:a.jpg, xmp)".
    public var values: [String]

    public init(sha256: String, asset: String, field: String, values: [String]) {
        self.sha256 = sha256; self.asset = asset; self.field = field; self.values = values
    }
}

/// Why an entry of a silo is still there after the plan is applied.
public enum LeftBehindReason: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// A canonical copy (or its sidecar) copied, cloned or hard-linked into the target: the
    /// source stays (`--method copy|reflink|hardlink`).
    case copied
    /// A duplicate replaced by a hard link to its copy in the target (`--duplicates hardlink`).
    case linkedDuplicate = "linked-duplicate"
    /// A duplicate left as it is (`--duplicates keep`).
    case duplicateKept = "duplicate-kept"
    /// Another name (hard link) of a file the plan carries: one file, not a separate copy.
    case hardLink = "hard-link"
    /// A sidecar several files share (`name.xmp` of `name.jpg` and `name.png`): copied beside
    /// each file in the target, the original stays.
    case sidecarShared = "sidecar-shared"
    /// The XMP sidecar of a duplicate: stays beside it (its values are reconciled into the asset).
    case sidecarOfDuplicate = "sidecar-of-duplicate"
    /// The original sidecar of a canonical copy, not carried (`--no-sidecars`).
    case sidecarNotCarried = "sidecar-not-carried"
    /// A sidecar the last scan did not hash (metadata not read): it cannot be carried verified.
    case sidecarNotHashed = "sidecar-not-hashed"
    /// The sidecar of a file the plan does not carry (no full hash).
    case sidecarOfUnplanned = "sidecar-of-unplanned"
    /// A catalogued file with no full hash (a unique size under `--hash dupes`): not planned.
    case unhashed
    /// A file (or folder) the last scan could not read: not planned.
    case unreadable
    /// Junk on the default ignore list (`.DS_Store`, `Thumbs.db`, `*_original`…).
    case ignored
    /// Matched an exclude rule (or is the sidecar of an excluded file).
    case excluded
    /// No include rule matched it.
    case notIncluded = "not-included"
    /// A symbolic link (never followed by a merge).
    case symlink
    /// A FIFO, socket or device.
    case specialFile = "special-file"
    /// The catalogue's own file.
    case catalogue

    public static func < (a: Self, b: Self) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }

    /// Whether what it holds is also in the target after apply (the same content, or a link to
    /// it): such entries can go with the silo; the others exist only there.
    public var isInTarget: Bool {
        switch self {
        case .copied, .linkedDuplicate, .duplicateKept, .hardLink, .sidecarShared: true
        default: false
        }
    }

    /// A phrase for plan show: "duplicates kept (--duplicates keep)".
    public var label: String {
        switch self {
        case .copied: "sources copied or linked into the target (the source stays)"
        case .linkedDuplicate: "duplicates replaced by a hard link to the target's copy"
        case .duplicateKept: "duplicates kept (--duplicates keep)"
        case .hardLink: "other names (hard links) of files the plan carries"
        case .sidecarShared: "sidecars shared by several files (copied beside each; the original stays)"
        case .sidecarOfDuplicate: "sidecars of duplicates (their values are reconciled into the asset)"
        case .sidecarNotCarried: "original sidecars not carried (--no-sidecars)"
        case .sidecarNotHashed: "sidecars not read by the last scan (scan with metadata to carry them)"
        case .sidecarOfUnplanned: "sidecars of files the plan does not carry"
        case .unhashed: "files without a full hash (scan with --hash full to plan them)"
        case .unreadable: "entries the last scan could not read"
        case .ignored: "junk on the default ignore list"
        case .excluded: "entries an exclude rule skips"
        case .notIncluded: "files no include rule matches"
        case .symlink: "symbolic links"
        case .specialFile: "FIFOs, sockets and devices"
        case .catalogue: "the catalogue's own files"
        }
    }

    init(_ r: UncataloguedReason) {
        switch r {
        case .ignored: self = .ignored
        case .excluded: self = .excluded
        case .notIncluded: self = .notIncluded
        case .symlink: self = .symlink
        case .specialFile: self = .specialFile
        case .catalogue: self = .catalogue
        case .unreadable: self = .unreadable
        }
    }
}

/// An entry a silo still holds after the plan is applied, and why.
public struct LeftBehind: Sendable, Hashable, Codable {
    public var silo: String
    public var path: RelativePath
    /// regular, directory (a folder left whole: an excluded `.git/`), symlink, fifo…
    public var kind: FileKind
    /// nil for folders, links and special files.
    public var size: Int64?
    public var reason: LeftBehindReason
    /// A sentence: the rule, the canonical copy, the operation that carries its content.
    public var detail: String

    public init(silo: String, path: RelativePath, kind: FileKind = .regular, size: Int64?, reason: LeftBehindReason, detail: String) {
        self.silo = silo; self.path = path; self.kind = kind; self.size = size; self.reason = reason; self.detail = detail
    }

    public var display: String { "\(silo):\(path.display)" }

    enum CodingKeys: String, CodingKey { case silo, path, pathB64 = "path_b64", kind, size, reason, detail }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        silo = try c.decode(String.self, forKey: .silo)
        path = RelativePath(bytes: try c.decodePath(.path, b64: .pathB64))
        kind = try c.decode(FileKind.self, forKey: .kind)
        size = try c.decodeIfPresent(Int64.self, forKey: .size)
        reason = try c.decode(LeftBehindReason.self, forKey: .reason)
        detail = try c.decode(String.self, forKey: .detail)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(silo, forKey: .silo)
        try c.encodePath(path.bytes, .path, b64: .pathB64)
        try c.encode(kind, forKey: .kind)
        try c.encodeIfPresent(size, forKey: .size)
        try c.encode(reason, forKey: .reason)
        try c.encode(detail, forKey: .detail)
    }
}

/// A merge plan: what `silomerge plan` writes and `silomerge apply` carries out.
public struct MergePlan: Sendable, Hashable, Codable {
    /// /2: each root's identity (`target_anchor`, `quarantine_anchor`, each silo's device and
    /// inode), which apply, undo and verify check before they touch anything; original sidecars
    /// carried (`sidecar-*` operations, `carry_sidecars`), `left_behind` (every entry the silos
    /// still hold after apply, with why), `date_source`.
    ///
    /// /3: hosts. Each silo records the host whose folder it is (`host`: id and name), and an
    /// operation is that of its source's silo's host (see `host(of:)`); `planned_on` is the
    /// host the plan was made on, whose view of the target and quarantine folders the anchors
    /// are. A /2 plan is still read: it is one host's, the host applying it.
    public static let currentSchema = "silomerge-plan/3"
    /// /4: /3 plus in-place deduplication (`in_place`: no target tree; `reflink-duplicate`
    /// operations; each duplicate action names its `canonical` copy in its silo). Only
    /// in-place plans are written as /4, so a merge plan still reads in a /3-only SiloMerge,
    /// and that one refuses an in-place plan by its schema instead of misreading it.
    public static let inPlaceSchema = "silomerge-plan/4"
    /// The schemas this SiloMerge reads.
    public static let readableSchemas: Set<String> = ["silomerge-plan/2", currentSchema, inPlaceSchema]

    public var schema: String
    public var toolVersion: String
    /// ISO 8601 UTC.
    public var createdAt: String
    public var catalogue: String
    public var scanRunID: Int64
    public var targetRoot: FilePath
    public var quarantineRoot: FilePath
    /// Where the target and the quarantine folder are pinned (see `RootAnchor`).
    public var targetAnchor: RootAnchor?
    public var quarantineAnchor: RootAnchor?
    public var settings: PlanSettings
    public var silos: [PlanSilo]
    public var operations: [PlanOperation]
    public var collisions: [PlanCollision]
    public var conflicts: [PlanConflict]
    /// Every entry the silos still hold once the plan is applied, with why (sorted by silo and
    /// path): what a merge leaves behind, so nothing goes unaccounted for.
    public var leftBehind: [LeftBehind]
    /// /3: the host the plan was made on (its anchors are that host's view of the target and
    /// the quarantine folder). nil in a /2 plan.
    public var plannedOn: HostIdentity?
    /// /4: an in-place plan (see `InPlaceSettings`); nil for a merge.
    public var inPlace: InPlaceSettings?

    public init(schema: String = MergePlan.currentSchema, toolVersion: String = SiloMergeVersion.string,
                createdAt: String, catalogue: String, scanRunID: Int64, targetRoot: FilePath, quarantineRoot: FilePath,
                targetAnchor: RootAnchor? = nil, quarantineAnchor: RootAnchor? = nil,
                settings: PlanSettings, silos: [PlanSilo], operations: [PlanOperation], collisions: [PlanCollision] = [],
                conflicts: [PlanConflict] = [], leftBehind: [LeftBehind] = [], plannedOn: HostIdentity? = nil) {
        self.schema = schema; self.toolVersion = toolVersion; self.createdAt = createdAt; self.catalogue = catalogue
        self.scanRunID = scanRunID; self.targetRoot = targetRoot; self.quarantineRoot = quarantineRoot
        self.targetAnchor = targetAnchor; self.quarantineAnchor = quarantineAnchor
        self.settings = settings; self.silos = silos; self.operations = operations; self.collisions = collisions
        self.conflicts = conflicts; self.leftBehind = leftBehind; self.plannedOn = plannedOn
    }

    /// Whether the plan moves anything into the quarantine folder.
    public var usesQuarantine: Bool {
        settings.duplicates == .quarantine || operations.contains { $0.kind == .quarantineDuplicate }
    }

    public func operation(_ id: Int) -> PlanOperation? {
        // Ids are 1...n in order in every plan the planner writes; hand-edited ones are searched.
        if id >= 1, id <= operations.count, operations[id - 1].id == id { return operations[id - 1] }
        return operations.first { $0.id == id }
    }

    enum CodingKeys: String, CodingKey {
        case schema, toolVersion = "tool_version", createdAt = "created_at", catalogue, scanRunID = "scan_run_id"
        case targetRoot = "target_root", targetRootB64 = "target_root_b64"
        case quarantineRoot = "quarantine_root", quarantineRootB64 = "quarantine_root_b64"
        case targetAnchor = "target_anchor", quarantineAnchor = "quarantine_anchor"
        case settings, silos, operations, collisions, conflicts, leftBehind = "left_behind", plannedOn = "planned_on"
        case inPlace = "in_place"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schema = try c.decode(String.self, forKey: .schema)
        guard MergePlan.readableSchemas.contains(schema) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [CodingKeys.schema],
                                                    debugDescription: "unsupported plan schema '\(schema)'"))
        }
        toolVersion = try c.decode(String.self, forKey: .toolVersion)
        createdAt = try c.decode(String.self, forKey: .createdAt)
        catalogue = try c.decode(String.self, forKey: .catalogue)
        scanRunID = try c.decode(Int64.self, forKey: .scanRunID)
        targetRoot = FilePath(bytes: try c.decodePath(.targetRoot, b64: .targetRootB64))
        quarantineRoot = FilePath(bytes: try c.decodePath(.quarantineRoot, b64: .quarantineRootB64))
        targetAnchor = try c.decodeIfPresent(RootAnchor.self, forKey: .targetAnchor)
        quarantineAnchor = try c.decodeIfPresent(RootAnchor.self, forKey: .quarantineAnchor)
        settings = try c.decode(PlanSettings.self, forKey: .settings)
        silos = try c.decode([PlanSilo].self, forKey: .silos)
        operations = try c.decode([PlanOperation].self, forKey: .operations)
        collisions = try c.decodeIfPresent([PlanCollision].self, forKey: .collisions) ?? []
        conflicts = try c.decodeIfPresent([PlanConflict].self, forKey: .conflicts) ?? []
        leftBehind = try c.decode([LeftBehind].self, forKey: .leftBehind)
        plannedOn = try c.decodeIfPresent(HostIdentity.self, forKey: .plannedOn)
        inPlace = try c.decodeIfPresent(InPlaceSettings.self, forKey: .inPlace)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schema, forKey: .schema)
        try c.encode(toolVersion, forKey: .toolVersion)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(catalogue, forKey: .catalogue)
        try c.encode(scanRunID, forKey: .scanRunID)
        try c.encodePath(targetRoot.bytes, .targetRoot, b64: .targetRootB64)
        try c.encodePath(quarantineRoot.bytes, .quarantineRoot, b64: .quarantineRootB64)
        try c.encodeIfPresent(targetAnchor, forKey: .targetAnchor)
        try c.encodeIfPresent(quarantineAnchor, forKey: .quarantineAnchor)
        try c.encode(settings, forKey: .settings)
        try c.encode(silos, forKey: .silos)
        try c.encode(operations, forKey: .operations)
        try c.encode(collisions, forKey: .collisions)
        try c.encode(conflicts, forKey: .conflicts)
        try c.encode(leftBehind, forKey: .leftBehind)
        try c.encodeIfPresent(plannedOn, forKey: .plannedOn)
        try c.encodeIfPresent(inPlace, forKey: .inPlace)
    }
}

// MARK: - Errors

/// One thing wrong with a plan (or with the file system under it), found by validation.
public struct PlanProblem: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The operation concerned, if one.
    public var op: Int?
    /// The path concerned (display form), if one.
    public var path: String?
    public var reason: String

    public init(op: Int? = nil, path: String? = nil, reason: String) {
        self.op = op; self.path = path; self.reason = reason
    }

    public var description: String {
        var s = ""
        if let op { s += "operation \(op): " }
        if let path { s += "\(path): " }
        return s + reason
    }
}

/// Errors of the planning stage.
public enum PlanError: Error, Sendable, Hashable, CustomStringConvertible {
    case invalidSettings(String)
    case unknownTemplateToken(token: String, template: String)
    case malformedTemplate(template: String, reason: String)
    /// Fields in conflict, and `allowConflicts` is off.
    case unresolvedConflicts([PlanConflict])
    case unknownSilo(name: String, asset: String)
    /// The plan breaks a rule (the planner checks its own output too).
    case invalidPlan([PlanProblem])
    case unsupportedSchema(found: String)
    /// Files with corruption still open in the silos the plan covers: planning would treat
    /// their rotten content as theirs.
    case openCorruption([UnverifiedCopy])
    case cannotDecode(path: String?, reason: String)
    case cannotEncode(reason: String)
    case io(path: String, errno: Errno, operation: String)

    public var description: String {
        switch self {
        case .invalidSettings(let s):
            return "invalid plan settings: \(s)"
        case .unknownTemplateToken(let token, let template):
            return "unknown token {\(token)} in layout '\(template)' (known: \(LayoutTemplate.knownTokens))"
        case .malformedTemplate(let template, let reason):
            return "layout '\(template)': \(reason)"
        case .unresolvedConflicts(let conflicts):
            let contents = Set(conflicts.map(\.sha256)).count
            var s = "\(conflicts.count) field\(conflicts.count == 1 ? "" : "s") of \(contents) content\(contents == 1 ? "" : "s") are in conflict; resolve them first, or plan with --allow-conflicts to list them in the plan:"
            for c in conflicts.prefix(20) { s += "\n  \(c.asset) \(c.field): \(c.values.joined(separator: " | "))" }
            if conflicts.count > 20 { s += "\n  … and \(conflicts.count - 20) more" }
            return s
        case .unknownSilo(let name, let asset):
            return "content \(asset) has a copy in silo '\(name)', which the plan input does not list"
        case .invalidPlan(let problems):
            var s = "the plan is not valid (\(problems.count) problem\(problems.count == 1 ? "" : "s")):"
            for p in problems.prefix(50) { s += "\n  " + p.description }
            if problems.count > 50 { s += "\n  … and \(problems.count - 50) more" }
            return s
        case .openCorruption(let copies):
            var s = "\(copies.count) file\(copies.count == 1 ? " has" : "s have") corruption still open (content changed behind an unchanged size and mtime): a plan would take \(copies.count == 1 ? "its" : "their") current, rotten content for the real one, carry it into the target, and could act on the good copies as its duplicates. Nothing was planned. Restore or accept each first:"
            for c in copies.prefix(50) {
                s += "\n  \(c.silo):\(c.path.display)  corrupted since \(Timestamp.string(c.openedAt).prefix(10)) (run \(c.openedRun)): verified \(c.verifiedSHA256.map { String($0.hex.prefix(12)) + "…" } ?? "?"), reads \(c.currentSHA256.map { String($0.hex.prefix(12)) + "…" } ?? "nothing")"
                s += c.goodCopies.isEmpty ? "; no catalogued copy holds the verified content (restore it from a backup)"
                                          : "; the verified content is at \(c.goodCopies.prefix(3).joined(separator: ", "))"
            }
            if copies.count > 50 { s += "\n  … and \(copies.count - 50) more (silomerge check lists them)" }
            s += "\nRestore: copy the good content back over the file (keeping its name), then run silomerge check (it reports it restored). Accept: silomerge check --accept SILO:PATH (its current content becomes the baseline), or --accept-all. Then plan again."
            return s
        case .unsupportedSchema(let found):
            let number = { (s: String) in s.hasPrefix("silomerge-plan/") ? Int(s.dropFirst("silomerge-plan/".count)) : nil }
            let readable = MergePlan.readableSchemas.sorted().joined(separator: " and ")
            if let old = number(found), let current = number(MergePlan.currentSchema), old < current {
                return "this plan (\(found)) was made by an older SiloMerge: run `silomerge plan` again (this silomerge reads \(readable): plans now record each root's identity, carry sidecars and list what they leave behind)"
            }
            return "unsupported plan schema '\(found)' (this silomerge reads \(readable)); make the plan again with this version"
        case .cannotDecode(let path, let reason):
            return "cannot read the plan\(path.map { " " + $0 } ?? ""): \(reason)"
        case .cannotEncode(let reason):
            return "cannot write the plan: \(reason)"
        case .io(let path, let errno, let operation):
            return "\(path): \(operation) failed: \(errno) (\(errno.name))"
        }
    }
}

// MARK: - Byte paths in JSON

extension KeyedEncodingContainer {
    /// Writes `key: "exact text"` when the bytes are UTF-8, else `key: "display form"` and
    /// `key_b64: "exact bytes, base64"`, as the duplicate reports do.
    mutating func encodePath(_ bytes: [UInt8], _ key: Key, b64: Key) throws {
        if let s = String(validatingUTF8Bytes: bytes) {
            try encode(s, forKey: key)
        } else {
            try encode(PathDisplay.escape(bytes), forKey: key)
            try encode(Data(bytes).base64EncodedString(), forKey: b64)
        }
    }
}

extension KeyedDecodingContainer {
    func decodePath(_ key: Key, b64: Key) throws -> [UInt8] {
        if let encoded = try decodeIfPresent(String.self, forKey: b64) {
            guard let data = Data(base64Encoded: encoded) else {
                throw DecodingError.dataCorruptedError(forKey: b64, in: self, debugDescription: "not base64")
            }
            return Array(data)
        }
        return Array(try decode(String.self, forKey: key).utf8)
    }

    func decodePathIfPresent(_ key: Key, b64: Key) throws -> [UInt8]? {
        if contains(b64) || contains(key) { return try decodePath(key, b64: b64) }
        return nil
    }
}
