import Foundation

/// Two folders that are not copies of each other but nearly: what a half-finished copy, or a
/// copy someone kept working in, looks like.
public struct FolderRelation: Sendable, Hashable {
    public enum Kind: String, Sendable {
        /// Every file of `b` has a copy in `a`, `a` holds more, and `b` holds at least
        /// `FolderRelations.minimumSubsetShare` of `a`'s bytes.
        case subset
        /// `a` and `b` share at least `FolderRelations.minimumShare` of the larger one's bytes.
        case overlap
    }
    public struct Side: Sendable, Hashable {
        public var folder: FolderRef
        public var files: Int
        public var bytes: Int64
    }
    public var kind: Kind
    /// The larger folder (by bytes, then files).
    public var a: Side
    public var b: Side
    /// Files of `b` with a copy in `a` (a content counted as often as both hold it), and bytes.
    public var sharedFiles: Int
    public var sharedBytes: Int64
    /// `sharedBytes` over the larger folder's bytes.
    public var sharedFraction: Double { a.bytes > 0 ? Double(sharedBytes) / Double(a.bytes) : 0 }
}

/// Finds `FolderRelation`s without comparing every pair of folders: candidate pairs come from
/// the duplicate groups (only folders that share a content can be related), climbing from the
/// copies of a content the same number of levels on each side (a copy keeps the layout below
/// the folder copied, so the folder copied and its copy are the same distance above each copied
/// file). Shared bytes per pair are summed as the groups stream by; a pair is kept when one
/// holds all of the other (a subset) or when they share `minimumShare` of the larger's bytes.
///
/// A content held by more than `copyLimit` files does not add to any pair (it would add
/// pairs by the square of its copies): the shared figures are then lower bounds, so a relation
/// may be missed, never claimed wrongly. A pair whose parents are exact copies, or are related
/// the same way (same kind, the larger inside the larger), is left to the parents; pairs of exact copies are `DuplicateFolders` groups; a
/// folder of fewer than `minimumFiles` files, or holding less than `minimumSubsetShare` of the
/// other's bytes, is not reported as a subset (a few files found elsewhere are duplicate
/// files, not a partial copy).
enum FolderRelations {
    static let minimumShare = 0.9
    /// A subset holding less of the larger folder than this is a few duplicate files that
    /// happen to lie together, not a partial copy.
    static let minimumSubsetShare = 0.5
    static let copyLimit = 64
    static let minimumFiles = 2

    private struct Pair: Hashable { var x: Int32; var y: Int32 }
    private struct Shared { var files: Int32 = 0; var bytes: Int64 = 0 }

    static func find(in store: any CatalogueStore, silos: [Silo], fold: FolderFold) throws -> [FolderRelation] {
        let ids = Dictionary(silos.map { ($0.name, $0.id) }, uniquingKeysWith: { a, _ in a })
        let parent = fold.parentOf
        let depth = fold.nodes.map(\.depth)
        var shared: [Pair: Shared] = [:]
        /// True when one of two folders of one silo lies inside the other.
        func nested(_ a: Int, _ b: Int) -> Bool {
            guard fold.nodes[a].silo == fold.nodes[b].silo else { return false }
            var (deep, shallow) = depth[a] >= depth[b] ? (a, b) : (b, a)
            while depth[deep] > depth[shallow], parent[deep] >= 0 { deep = parent[deep] }
            return deep == shallow
        }
        var level: [Int] = []
        var counts: [Int: Int] = [:]
        try store.forEachDuplicateGroup(DuplicateQuery(silos: silos.map(\.name))) { group in
            guard group.files.count <= copyLimit else { return true }
            level.removeAll(keepingCapacity: true)
            for f in group.files {
                guard let id = ids[f.silo], let i = fold.index[FolderFold.Key(silo: id, path: f.path.parent)] else { continue }
                level.append(i)
            }
            while level.count > 1 {
                counts.removeAll(keepingCapacity: true)
                for i in level { counts[i, default: 0] += 1 }
                if counts.count < 2 { break }
                let keys = counts.keys.sorted()
                for (p, x) in keys.enumerated() {
                    for y in keys[(p + 1)...] where !nested(x, y) {
                        let n = min(counts[x]!, counts[y]!)
                        shared[Pair(x: Int32(x), y: Int32(y)), default: Shared()].files += Int32(n)
                        shared[Pair(x: Int32(x), y: Int32(y)), default: Shared()].bytes += Int64(n) * group.size
                    }
                }
                level = level.compactMap { parent[$0] >= 0 ? parent[$0] : nil }
            }
            return true
        }

        func exact(_ x: Int, _ y: Int) -> Bool { fold.hashOf[x] != nil && fold.hashOf[x] == fold.hashOf[y] }
        func kind(_ pair: Pair, _ s: Shared) -> FolderRelation.Kind? {
            let (x, y) = (Int(pair.x), Int(pair.y))
            guard !exact(x, y) else { return nil }
            let (bx, by) = (fold.bytesOf[x], fold.bytesOf[y])
            guard bx > 0, by > 0 else { return nil }
            let (small, large) = (bx, fold.filesOf[x]) < (by, fold.filesOf[y]) ? (x, y) : (y, x)
            if Int(s.files) == fold.filesOf[small], s.bytes == fold.bytesOf[small], fold.filesOf[small] < fold.filesOf[large],
               fold.filesOf[small] >= minimumFiles, Double(s.bytes) >= minimumSubsetShare * Double(fold.bytesOf[large]) {
                return .subset
            }
            if Double(s.bytes) >= minimumShare * Double(max(bx, by)) { return .overlap }
            return nil
        }
        /// Each related pair's kind, and its larger folder.
        var related: [Pair: (kind: FolderRelation.Kind, larger: Int)] = [:]
        for (pair, s) in shared {
            guard let k = kind(pair, s) else { continue }
            let (x, y) = (Int(pair.x), Int(pair.y))
            related[pair] = (k, (fold.bytesOf[x], fold.filesOf[x]) >= (fold.bytesOf[y], fold.filesOf[y]) ? x : y)
        }
        func ref(_ i: Int) -> FolderRelation.Side {
            let s = fold.silos[fold.nodes[i].silo]!
            return FolderRelation.Side(folder: FolderRef(silo: s.name, siloPriority: s.priority, path: fold.nodes[i].path),
                                       files: fold.filesOf[i], bytes: fold.bytesOf[i])
        }
        var out: [FolderRelation] = []
        for (pair, relation) in related {
            let (x, y) = (Int(pair.x), Int(pair.y))
            let (px, py) = (parent[x], parent[y])
            // Left to the parents when they are copies, or related the same way round (this
            // pair is then part of the parents' partial copy). A parent relation of another
            // kind or direction (a silo that holds everything of another) does not hide it.
            if px >= 0, py >= 0, px != py {
                if exact(px, py) { continue }
                if let up = related[Pair(x: Int32(min(px, py)), y: Int32(max(px, py)))], up.kind == relation.kind,
                   up.larger == parent[relation.larger] {
                    continue
                }
            }
            let s = shared[pair]!
            let (a, b) = relation.larger == x ? (x, y) : (y, x)
            out.append(FolderRelation(kind: relation.kind, a: ref(a), b: ref(b), sharedFiles: Int(s.files), sharedBytes: s.bytes))
        }
        out.sort { l, r in
            if l.sharedBytes != r.sharedBytes { return l.sharedBytes > r.sharedBytes }
            if l.a.folder.silo != r.a.folder.silo { return l.a.folder.silo < r.a.folder.silo }
            if l.a.folder.path != r.a.folder.path { return l.a.folder.path < r.a.folder.path }
            if l.b.folder.silo != r.b.folder.silo { return l.b.folder.silo < r.b.folder.silo }
            return l.b.folder.path < r.b.folder.path
        }
        return out
    }
}

// MARK: - Output

extension FolderRelation {
    /// `{"kind","a":{"silo","path","files","bytes"},"b":{…},"shared_files","shared_bytes","shared_percent"}`.
    struct JSON: Encodable {
        let r: FolderRelation
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(r.kind.rawValue, "kind"); try c.put(SideJSON(s: r.a), "a"); try c.put(SideJSON(s: r.b), "b")
            try c.put(r.sharedFiles, "shared_files"); try c.put(r.sharedBytes, "shared_bytes")
            try c.put((r.sharedFraction * 1000).rounded() / 10, "shared_percent")
        }
    }

    struct SideJSON: Encodable {
        let s: Side
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(s.folder.silo, "silo"); try c.encodePath(s.folder.path); try c.put(s.files, "files"); try c.put(s.bytes, "bytes")
        }
    }

    /// Two or three lines for a table.
    func writeText(index: Int, to sink: ReportSink, indent: String) {
        let percent = Format.percent(sharedBytes, of: a.bytes)
        switch kind {
        case .subset:
            sink.write("\(Format.pad("#\(index)", 4)) subset · \(Format.count(b.files)) of \(Format.plural(a.files, "file")) · \(percent) of the bytes\n")
        case .overlap:
            sink.write("\(Format.pad("#\(index)", 4)) overlap · \(Format.plural(sharedFiles, "file")) in common · \(percent) of the larger's bytes\n")
        }
        let width = min(20, max(a.folder.silo.count, b.folder.silo.count))
        for s in [a, b] {
            sink.write("\(indent)\(Format.pad(s.folder.silo, width))  \(s.folder.display)/  (\(Format.plural(s.files, "file")), \(Format.bytes(s.bytes)))\n")
        }
    }
}
