import Foundation

/// `reconcile: derivatives:` — whether a group of similar images (a master and its resized,
/// recompressed, converted, cropped or turned derivatives, as `duplicates --similar` groups
/// them) is reconciled as one asset for what the photo *is*, or each content on its own.
public enum DerivativeMode: String, Sendable, Codable, CaseIterable {
    /// Each distinct content is reconciled from its own copies only (the default).
    case separate
    /// The asset-level fields of every content of a group are reconciled over the pooled
    /// values of all the group's contents.
    case merge
}

/// What merging derivative groups did in one reconcile pass.
public struct DerivativeMergeSummary: Sendable, Hashable {
    public var mode: DerivativeMode
    /// Groups of similar images whose contents were reconciled together.
    public var groups: Int
    /// Contents in those groups (masters and derivatives).
    public var contents: Int
    /// Fields of a content whose every value came from another content of its group (a
    /// derivative without a caption that now has its master's).
    public var fieldsFromOtherContents: Int
    /// Silos (by name, in priority order) with catalogued files none of which has a perceptual
    /// hash: their images cannot be grouped (`scan --similar-images` computes the hashes).
    public var silosWithoutHashes: [String]
    /// Silos catalogued in all.
    public var silos: Int
}

/// Reconciles the contents of a group of similar images as one asset for metadata
/// (`reconcile: derivatives: merge`): the web-sized copy in marketing gets the caption and the
/// rights its original has in the archive.
///
/// Which fields are pooled, and why:
/// - *What the photo is* — `title`, `description`, `keywords`, `creator`, `rights`,
///   `date_created`, `city`, `state`, `country`, `gps`, `rating`, `make`, `model` — is the
///   same for a photo and its derivatives: who took it, when, where, with which camera, what it
///   shows, who owns it, how a person rated the picture. A derivative made by resizing or
///   re-encoding loses these (exports strip metadata) but never changes them. They are decided
///   over the values of every content of the group, with the same policies, rules and
///   resolutions as copies of one content, candidates in silo priority order across the whole
///   group; so every content of a group gets the same values, and a derivative whose own value
///   differs from its master's is a conflict (or settled by the policy) listing both.
/// - *What the file is* — `width`, `height`, `orientation` (how this file's pixels are
///   stored: a turned derivative has another), `format` — and the image hash stay each
///   content's own.
///
/// Every pooled value keeps its source: the silo and path it came from, and `otherContent`
/// (the master, a derivative or a sibling) when that is another content of the group, so it is
/// never passed off as the content's own. A resolution given for any content of the group
/// settles the field for the group (the content's own resolution first). Exact copies are one
/// content, as always.
///
/// Grouping is `SimilarImages.find` over the catalogue's perceptual hashes (a Hamming index,
/// never all pairs; bursts — different capture times — are never grouped); no file is read.
/// The grouped contents' sources are read from the catalogue in a first pass and kept in
/// memory (only those of contents in a group).
public struct DerivativeMerge: Sendable {
    /// The fields pooled across a group (see above); every other field stays the content's own.
    public static let assetLevelFields: Set<UnifiedField> = [
        .title, .description, .keywords, .creator, .rights, .dateCreated,
        .city, .state, .country, .gps, .rating, .make, .model,
    ]

    public struct Member: Sendable, Hashable {
        public var sha256: SHA256Digest
        public var isMaster: Bool
    }

    /// Each group: its master first, then its derivatives.
    public private(set) var groups: [[Member]]
    private var groupOf: [SHA256Digest: Int]
    /// The sources of every grouped content, as the catalogue holds them.
    private var sources: [SHA256Digest: AssetSources] = [:]

    /// From the groups `SimilarImages.find` made.
    public init(_ similar: SimilarImages) {
        groups = similar.groups.map { g in
            [Member(sha256: g.master.sha256, isMaster: true)] + g.derivatives.map { Member(sha256: $0.image.sha256, isMaster: false) }
        }
        var groupOf: [SHA256Digest: Int] = [:]
        for (i, g) in groups.enumerated() { for m in g { groupOf[m.sha256] = i } }
        self.groupOf = groupOf
    }

    /// Contents in a group.
    public var grouped: Set<SHA256Digest> { Set(groupOf.keys) }

    /// Keeps the sources of a grouped content (the pre-pass over the catalogue); others are
    /// ignored.
    public mutating func collect(_ s: AssetSources) {
        guard groupOf[s.sha256] != nil else { return }
        // Only what is pooled is needed of another content.
        var kept = s
        for i in kept.copies.indices {
            kept.copies[i].values.removeAll { !Self.assetLevelFields.contains($0.field) }
        }
        sources[s.sha256] = kept
    }

    /// The record of one content: `reconciler`'s own for a content in no group; for a grouped
    /// one, its file-level fields from its own copies and its asset-level fields over the group.
    public func reconcile(_ own: AssetSources, with reconciler: Reconciler) -> ReconciledAsset {
        let alone = reconciler.reconcile(own)
        guard let index = groupOf[own.sha256] else { return alone }
        let group = groups[index]
        let selfIsMaster = group.first?.sha256 == own.sha256
        // The other contents' copies, each (silo, path) remembered with what that content is.
        var relation: [String: OtherContent] = [:]
        var copies = own.copies
        var others: [SHA256Digest] = []
        for member in group where member.sha256 != own.sha256 {
            guard let theirs = sources[member.sha256] else { continue }
            others.append(member.sha256)
            let link = OtherContent(sha256: member.sha256,
                                    relation: member.isMaster ? .master : (selfIsMaster ? .derivative : .sibling))
            for c in theirs.copies {
                relation[Self.key(c.copy.silo, c.copy.path)] = link
                copies.append(c)
            }
        }
        guard !others.isEmpty else { return alone }
        // One asset: every copy of the group in silo priority order, as copies of one content are.
        copies.sort { ($0.copy.siloPriority, $0.copy.silo, $0.copy.path) < ($1.copy.siloPriority, $1.copy.silo, $1.copy.path) }
        var pooledSources = own
        pooledSources.copies = copies
        let pooled = reconciler.reconcile(pooledSources, alsoResolvedAs: others)
        var fields: [ReconciledField] = []
        for field in UnifiedField.allCases {
            guard Self.assetLevelFields.contains(field) else {
                if let f = alone.field(field) { fields.append(f) }
                continue
            }
            guard var f = pooled.field(field) else { continue }
            for i in f.sources.indices {
                f.sources[i].otherContent = relation[Self.key(f.sources[i].silo, f.sources[i].path)]
            }
            fields.append(f)
        }
        var record = alone
        record.fields = fields
        return record
    }

    private static func key(_ silo: String, _ path: RelativePath) -> String { silo + "\u{0}" + path.display }

    /// True when every source of `field` is another content's.
    public static func onlyFromOthers(_ field: ReconciledField) -> Bool {
        !field.sources.isEmpty && field.sources.allSatisfy { $0.otherContent != nil }
    }

    /// Groups the catalogue's similar images and reads the sources of the grouped contents
    /// (one pass over the catalogue, nothing stored). Also says which silos have no hashes.
    static func prepare(store: any CatalogueStore) throws -> (DerivativeMerge, DerivativeMergeSummary) {
        let silos = try store.silos()
        let files = try store.similarImageFiles(siloIDs: nil)
        let similar = SimilarImages.find(files, silos: silos)
        var merge = DerivativeMerge(similar)
        let hashed = Set(files.map(\.siloID))
        let counts = try store.fileCounts()
        let without = silos.filter { !hashed.contains($0.id) && (counts[$0.id] ?? 0) > 0 }
            .sorted { ($0.priority, $0.name) < ($1.priority, $1.name) }.map(\.name)
        if !merge.groups.isEmpty {
            let wanted = merge.grouped
            _ = try store.reconcileAssets(transform: { s in
                if wanted.contains(s.sha256) { merge.collect(s) }
                return ReconciledAsset(sha256: s.sha256, size: s.size, format: s.format, copies: [], fields: [])
            }, each: { _ in })
        }
        let summary = DerivativeMergeSummary(mode: .merge, groups: merge.groups.count,
                                             contents: merge.groups.reduce(0) { $0 + $1.count },
                                             fieldsFromOtherContents: 0, silosWithoutHashes: without, silos: silos.count)
        return (merge, summary)
    }
}
