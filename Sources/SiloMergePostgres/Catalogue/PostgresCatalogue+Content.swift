import Foundation
import PostgresNIO
import SiloMergeCore

// MARK: - ContentStreams

extension PostgresCatalogue {
    public func forEachSizeGroup(_ body: ([CandidateFile]) throws -> Bool) throws { throw unimplemented() }
    public func analyse(_ query: DuplicateQuery, top: Int) throws -> Analysis { throw unimplemented() }
    public func forEachDuplicateGroup(_ query: DuplicateQuery, _ body: (DuplicateGroup) throws -> Bool) throws { throw unimplemented() }
    public func contents(withPrefix prefix: String, limit: Int) throws -> [SHA256Digest] { throw unimplemented() }
    public func formatTotals() throws -> [(format: String, files: Int, bytes: Int64)] { throw unimplemented() }
    public func sameImageGroups(silos: [String], minimumSize: Int64) throws -> [SameImageGroup] { throw unimplemented() }
    public func imageHashCandidates(siloIDs: [Int64]) throws -> [ImageHashCandidate] { throw unimplemented() }
}

// MARK: - AssetStore

extension PostgresCatalogue {
    public func rebuildAssets(runID: Int64, transform: (AssetSources) throws -> ReconciledAsset, each: (ReconciledAsset) throws -> Void) throws -> (assets: Int, conflicts: Int, unhashed: Int) { throw unimplemented() }
    public func reconcileAssets(transform: (AssetSources) throws -> ReconciledAsset, each: (ReconciledAsset) throws -> Void) throws -> (assets: Int, conflicts: Int, unhashed: Int) { throw unimplemented() }
    public func sidecarFiles() throws -> [SidecarFileRecord] { throw unimplemented() }
    public func unhashedFiles() throws -> [UnhashedFileRecord] { throw unimplemented() }
    public func uncatalogued() throws -> [UncataloguedRecord] { throw unimplemented() }
}
