import Foundation

/// Which part of the catalogue a report covers.
public struct DuplicateQuery: Sendable, Hashable {
    /// Silo names to cover; empty means every silo in the catalogue.
    public var silos: [String]
    /// Group zero-length files too (they are all "identical", which is rarely news).
    public var includeEmpty: Bool
    /// Ignore files smaller than this many bytes.
    public var minimumSize: Int64

    public init(silos: [String] = [], includeEmpty: Bool = false, minimumSize: Int64 = 0) {
        self.silos = silos; self.includeEmpty = includeEmpty; self.minimumSize = minimumSize
    }
}

/// One copy in a duplicate group.
public struct GroupFile: Sendable, Hashable {
    public var silo: String
    public var siloPriority: Int
    public var siloRoot: FilePath
    public var path: RelativePath
    public var device: UInt64
    public var inode: UInt64
    public var linkCount: UInt64
    public var mtimeNs: Int64

    public var absolutePath: FilePath { siloRoot.appending(path) }
    package init(silo: String, siloPriority: Int, siloRoot: FilePath, path: RelativePath, device: UInt64, inode: UInt64, linkCount: UInt64, mtimeNs: Int64) {
        self.silo = silo
        self.siloPriority = siloPriority
        self.siloRoot = siloRoot
        self.path = path
        self.device = device
        self.inode = inode
        self.linkCount = linkCount
        self.mtimeNs = mtimeNs
    }
}

/// Files with the same SHA-256 held by at least two different inodes.
public struct DuplicateGroup: Sendable, Hashable {
    public var sha256: SHA256Digest
    public var size: Int64
    /// Ordered by silo priority, then silo name, then path.
    public var files: [GroupFile]
    /// Distinct (device, inode) pairs: physical copies. Hard links share one.
    public var physicalCopies: Int
    /// Bytes freed by keeping one physical copy: `(physicalCopies - 1) × size`.
    public var reclaimableBytes: Int64 { Int64(max(0, physicalCopies - 1)) * size }
    /// Names of the silos holding a copy.
    public var silos: [String] {
        var seen: [String] = []
        for f in files where !seen.contains(f.silo) { seen.append(f.silo) }
        return seen
    }
    package init(sha256: SHA256Digest, size: Int64, files: [GroupFile], physicalCopies: Int) {
        self.sha256 = sha256
        self.size = size
        self.files = files
        self.physicalCopies = physicalCopies
    }
}

/// Totals over the covered files.
public struct DuplicateSummary: Sendable, Hashable, Codable {
    /// Catalogued files (paths) covered.
    public var files: Int
    /// Their total size, counting each path (a hard link counts again).
    public var bytes: Int64
    /// Size counting each physical file (device, inode) once.
    public var physicalBytes: Int64
    /// Files not hashed (by `--hash dupes`, files whose size no other file has).
    public var unhashedFiles: Int
    public var duplicateGroups: Int
    /// Paths that belong to a duplicate group (every copy, the one to keep included).
    public var duplicateFiles: Int
    /// Physical copies beyond the first in each group.
    public var redundantCopies: Int
    public var reclaimableBytes: Int64
    /// Paths that are extra hard links to an inode already counted.
    public var hardLinkedFiles: Int
    /// Distinct contents held by two or more silos, and their bytes (each content once).
    public var crossSiloContents: Int = 0
    public var crossSiloBytes: Int64 = 0
    /// `reclaimableBytes` split in two that add up to it: what keeping one copy per silo would
    /// free (duplicates inside silos), and what keeping one silo's copy would free on top
    /// (copies across silos).
    public var reclaimableInsideSilos: Int64 = 0
    public var reclaimableAcrossSilos: Int64 = 0

    public init(files: Int = 0, bytes: Int64 = 0, physicalBytes: Int64 = 0, unhashedFiles: Int = 0,
                duplicateGroups: Int = 0, duplicateFiles: Int = 0, redundantCopies: Int = 0,
                reclaimableBytes: Int64 = 0, hardLinkedFiles: Int = 0) {
        self.files = files; self.bytes = bytes; self.physicalBytes = physicalBytes
        self.unhashedFiles = unhashedFiles; self.duplicateGroups = duplicateGroups
        self.duplicateFiles = duplicateFiles; self.redundantCopies = redundantCopies
        self.reclaimableBytes = reclaimableBytes; self.hardLinkedFiles = hardLinkedFiles
    }
}

/// Per-silo figures for `audit`.
public struct SiloStatistics: Sendable, Hashable, Codable {
    public var silo: String
    public var priority: Int
    public var files: Int
    public var bytes: Int64
    /// Bytes freed by keeping one copy of each content *inside* this silo.
    public var duplicateBytesInside: Int64
    /// Bytes of this silo's distinct contents that another covered silo also holds.
    public var sharedBytes: Int64
    /// Files this silo holds whose content another silo also holds.
    public var sharedFiles: Int
}

/// Bytes of distinct content two silos both hold (`a == b`: duplicated bytes inside `a`).
public struct SiloOverlap: Sendable, Hashable, Codable {
    public var a: String
    public var b: String
    public var bytes: Int64
    public var contents: Int
}

/// What `analyse` computes.
public struct Analysis: Sendable {
    public var summary: DuplicateSummary
    public var silos: [SiloStatistics]
    public var overlap: [SiloOverlap]
    public var largestGroups: [DuplicateGroup]
}
