import Foundation

/// A folder of a silo, as the folder index names it.
public struct SiloFolder: Sendable, Hashable {
    public var siloID: Int64
    public var dir: RelativePath
    public init(siloID: Int64, dir: RelativePath) { self.siloID = siloID; self.dir = dir }
}

/// A catalogued folder a complete walk did not list, and why its files are gone.
public struct VanishedFolder: Sendable, Hashable {
    public var folder: SiloFolder
    /// `.missing` (gone from disk) or `.excluded` (at or below a folder the silo's rules now
    /// exclude: still there, out of scope).
    public var kind: ChangeKind
    public init(folder: SiloFolder, kind: ChangeKind) { self.folder = folder; self.kind = kind }
}

/// Folder-vanish detection after complete walks: which catalogued folders the walk did not list
/// are gone, which are now excluded, and which are unknown (at or below a folder the walk could
/// not read: their content is unknown, not gone, and stays catalogued). The store lists the
/// folders and drops what this decides (`FolderIndex.dropVanishedFolders`).
public struct VanishedFolderFold: Sendable {
    private let unreadable: Set<SiloFolder>
    private let excluded: Set<SiloFolder>
    public private(set) var vanished: [VanishedFolder] = []

    /// `unreadable`: folders the walk could not read; `excluded`: folders it left out by rule.
    public init(unreadable: [SiloFolder], excluded: [SiloFolder]) {
        self.unreadable = Set(unreadable)
        self.excluded = Set(excluded)
    }

    /// The folder and each folder above it, up to the silo root (`""`).
    private static func selfAndAncestors(_ dir: RelativePath) -> [RelativePath] {
        var out = [dir]
        var bytes = dir.bytes
        while let slash = bytes.lastIndex(of: 0x2F) {
            bytes.removeSubrange(slash...)
            out.append(RelativePath(bytes: bytes))
        }
        if !dir.bytes.isEmpty { out.append(.root) }
        return out
    }

    /// A catalogued folder the walk did not list (in any order).
    public mutating func add(_ folder: SiloFolder) {
        let lineage = Self.selfAndAncestors(folder.dir)
        // Below a folder that could not be read (the silo root included): unknown, kept.
        if lineage.contains(where: { unreadable.contains(SiloFolder(siloID: folder.siloID, dir: $0)) }) { return }
        // At or below a folder the rules exclude: out of scope. (The silo root is never
        // excluded by rule: a root noted excluded stands for itself only.)
        let isExcluded = lineage.contains { dir in
            (dir == folder.dir || !dir.bytes.isEmpty) && excluded.contains(SiloFolder(siloID: folder.siloID, dir: dir))
        }
        vanished.append(VanishedFolder(folder: folder, kind: isExcluded ? .excluded : .missing))
    }
}

extension FolderIndex {
    /// After complete walks of `siloIDs`: drops what lay in folders that are gone (or now
    /// excluded), recording each file as a change, and returns how many went each way.
    public func finishWalk(runID: Int64, siloIDs: [Int64]) throws -> (missing: Int, excluded: Int) {
        guard !siloIDs.isEmpty else { return (0, 0) }
        let boundaries = try walkBoundaries(siloIDs: siloIDs)
        var fold = VanishedFolderFold(unreadable: boundaries.unreadable, excluded: boundaries.excluded)
        try forEachUnlistedFolder(siloIDs: siloIDs) { fold.add($0) }
        return try dropVanishedFolders(fold.vanished, runID: runID)
    }
}
