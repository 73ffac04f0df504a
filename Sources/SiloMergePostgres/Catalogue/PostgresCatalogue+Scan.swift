import Foundation
import PostgresNIO
import SiloMergeCore

// MARK: - ScanSink

extension PostgresCatalogue {
    public func deferIndexes() throws { throw unimplemented() }
    public func restoreIndexes() throws { throw unimplemented() }
    public func apply(_ writes: [CatalogueWrite], runID: Int64) throws { throw unimplemented() }
    public func record(_ diagnostics: [Diagnostic], runID: Int64) throws { throw unimplemented() }
    public func applyManifest(siloID: Int64, runID: Int64, identity: ManifestIdentity, read: ((ManifestRow) throws -> Void) throws -> ManifestSummary) throws -> ManifestOutcome { throw unimplemented() }
    public func manifestIsCurrent(siloID: Int64, runID: Int64, identity: ManifestIdentity) throws -> Bool { throw unimplemented() }
    public func fillEmptyHashes(siloIDs: [Int64]) throws -> Int { throw unimplemented() }
    public func setImageHashes(_ hashes: [(fileID: Int64, digest: SHA256Digest)]) throws { throw unimplemented() }
}

// MARK: - FolderIndex

extension PostgresCatalogue {
    public func fileCounts() throws -> [Int64: Int] { throw unimplemented() }
    public func beginWalk(runID: Int64) throws { throw unimplemented() }
    public func makeFolderReader() throws -> any FolderReader { throw unimplemented() }
    public func storedHash(linkedTo stat: FileStat, host: HostIdentity?) throws -> SHA256Digest? { throw unimplemented() }
    public func walkBoundaries(siloIDs: [Int64]) throws -> (unreadable: [SiloFolder], excluded: [SiloFolder]) { throw unimplemented() }
    public func forEachUnlistedFolder(siloIDs: [Int64], _ body: (SiloFolder) throws -> Void) throws { throw unimplemented() }
    public func dropVanishedFolders(_ folders: [VanishedFolder], runID: Int64) throws -> (missing: Int, excluded: Int) { throw unimplemented() }
    public func silosWithSidecars() throws -> Set<Int64> { throw unimplemented() }
    public func silosWithUncatalogued() throws -> Set<Int64> { throw unimplemented() }
    public func leastRecentlyVerified(siloIDs: [Int64], fraction: Double) throws -> [Int64: SHA256Digest] { throw unimplemented() }
}
