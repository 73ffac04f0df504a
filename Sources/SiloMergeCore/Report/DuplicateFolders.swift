import Foundation

/// One folder of a silo, as folder reports name it.
public struct FolderRef: Sendable, Hashable {
    public var silo: String
    public var siloPriority: Int
    /// Relative to the silo root (`.root`: the silo root itself).
    public var path: RelativePath
    public init(silo: String, siloPriority: Int, path: RelativePath) {
        self.silo = silo; self.siloPriority = siloPriority; self.path = path
    }
    /// The path as a person reads it ("." for the silo root).
    public var display: String { path.isRoot ? "." : path.display }
}

/// Folders whose whole content (every file below them, at the same places relative to each
/// other, whatever the names) is the same: copies of one folder.
public struct DuplicateFolderGroup: Sendable, Hashable {
    /// The folder identity every folder of the group has (see `DuplicateFolders`).
    public var hash: SHA256Digest
    /// Files and bytes below each folder of the group (one copy).
    public var files: Int
    public var bytes: Int64
    /// Ordered by silo priority, then silo name, then path.
    public var folders: [FolderRef]
    /// Bytes freed by keeping one of the folders.
    public var reclaimableBytes: Int64 { Int64(max(0, folders.count - 1)) * bytes }
    public init(hash: SHA256Digest, files: Int, bytes: Int64, folders: [FolderRef]) {
        self.hash = hash; self.files = files; self.bytes = bytes; self.folders = folders
    }
}

/// A folder holding files that have no full hash: it, and every folder above it, cannot be
/// compared (equality is never guessed).
public struct UnhashedFolder: Sendable, Hashable {
    public var folder: FolderRef
    /// Files directly in the folder without a full hash.
    public var unhashedFiles: Int
}

/// Duplicate folders, found from the catalogue without reading a file.
///
/// A folder's identity is a Merkle hash: SHA-256 over the digest of its own files (their
/// (SHA-256, size) pairs, sorted: names do not count) and the identities of its subfolders
/// (sorted). Two folders with the same identity hold the same files at the same places
/// relative to each other, whatever the names of files and folders. Only catalogued files
/// count: empty subfolders, symlinks and files the silo's rules exclude do not.
///
/// - A folder holding a file without a full hash (`--hash dupes` leaves files of unique size
///   unhashed; an unreadable file) is not comparable, nor is any folder above it.
/// - Folders holding no bytes (nothing, or only empty files) are never duplicates.
/// - A group whose every folder lies inside a folder of another group is nested: the outer
///   group reports it (`nestedGroups` counts them).
///
/// Memory: one record per folder (not per file), and one folder's files at a time.
public struct DuplicateFolders: Sendable {
    /// Largest bytes first, then most copies, then identity.
    public var groups: [DuplicateFolderGroup]
    /// Groups left out because they lie inside the folders of a reported group.
    public var nestedGroups: Int
    /// Folders looked at (those holding files, and the folders above them).
    public var folders: Int
    /// Folders that could not be compared, and the files without a hash that made them so.
    public var notComparableFolders: Int
    public var unhashedFiles: Int
    /// The folders holding the most files without a hash (at most `exampleLimit`).
    public var unhashedExamples: [UnhashedFolder]
    public static let exampleLimit = 10
    /// Partial copies (subsets, and pairs sharing most of their bytes), when asked for.
    public var relations: [FolderRelation] = []
    public var relationsComputed = false

    /// The folder of a reported group at each (silo, path), with its group's index.
    private var reported: [String: [RelativePath: Int]]

    public init(groups: [DuplicateFolderGroup] = [], nestedGroups: Int = 0, folders: Int = 0, notComparableFolders: Int = 0,
                unhashedFiles: Int = 0, unhashedExamples: [UnhashedFolder] = []) {
        self.groups = groups; self.nestedGroups = nestedGroups; self.folders = folders
        self.notComparableFolders = notComparableFolders; self.unhashedFiles = unhashedFiles
        self.unhashedExamples = unhashedExamples
        reported = [:]
        for (i, g) in groups.enumerated() {
            for f in g.folders { reported[f.silo, default: [:]][f.path] = i }
        }
    }

    /// The duplicate folders of these silos (every silo when empty), from one stream of the
    /// catalogue (`forEachFolderContents`).
    /// With `relations`, also the partial copies (`FolderRelations`), from one more pass over
    /// the duplicate groups.
    public static func find(in store: any CatalogueStore, silos names: [String], relations: Bool = false) throws -> DuplicateFolders {
        let all = try store.silos()
        let chosen = try names.isEmpty ? all : names.map { name in
            guard let silo = all.first(where: { $0.name == name }) else { throw CatalogueError.unknownSilo(name) }
            return silo
        }
        var fold = try FolderFold(silos: chosen)
        try store.forEachFolderContents(siloIDs: chosen.map(\.id)) { try fold.add($0) }
        var result = try fold.finish()
        if relations {
            result.relations = try FolderRelations.find(in: store, silos: chosen, fold: fold)
            result.relationsComputed = true
        }
        return result
    }

    /// True when a duplicate group of files is what a reported folder group already says:
    /// each of its files lies inside a different folder of one group (the nearest such folder
    /// above it), one file in each of that group's folders. A group with two copies inside one
    /// folder, or a copy outside the folders, says more and is not explained.
    public func explains(_ group: DuplicateGroup) -> Bool {
        guard !reported.isEmpty else { return false }
        var groupIndex: Int?
        var used = Set<FolderKey>()
        for f in group.files {
            guard let folders = reported[f.silo] else { return false }
            var p = f.path
            var hit: (path: RelativePath, group: Int)?
            while !p.isRoot {
                p = p.parent
                if let g = folders[p] { hit = (p, g); break }
            }
            guard let hit else { return false }
            if let groupIndex, groupIndex != hit.group { return false }
            groupIndex = hit.group
            guard used.insert(FolderKey(silo: f.silo, path: hit.path)).inserted else { return false }
        }
        guard let groupIndex else { return false }
        return used.count == groups[groupIndex].folders.count
    }

    private struct FolderKey: Hashable { var silo: String; var path: RelativePath }
}

/// Why a folder stream could not be folded.
public struct FolderStreamError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// Folds `forEachFolderContents` into folder identities and groups (see `DuplicateFolders`).
/// One record per folder; each folder's files are digested as they come.
public struct FolderFold {
    struct Key: Hashable { var silo: Int64; var path: RelativePath }
    struct Node {
        var silo: Int64
        var path: RelativePath
        var depth: Int
        /// Digest of the folder's own files (sorted (SHA-256, size) pairs).
        var own: SHA256Digest
        var listed = false
        var ownFiles = 0
        var ownBytes: Int64 = 0
        var ownUnhashed = 0
    }

    let silos: [Int64: Silo]
    private(set) var nodes: [Node] = []
    private(set) var index: [Key: Int] = [:]
    /// After `finish`: each folder's parent (-1 at a silo root), identity (nil: not
    /// comparable), files and bytes below it. `FolderRelations` reads them.
    var parentOf: [Int] = []
    var hashOf: [SHA256Digest?] = []
    var filesOf: [Int] = []
    var bytesOf: [Int64] = []
    private let hasher: SHA256Hasher
    private let emptyOwn: SHA256Digest
    private static let ownTag = Array("silomerge-folder-files/1\0".utf8)
    private static let folderTag = Array("silomerge-folder/1\0".utf8)

    public init(silos: [Silo]) throws {
        self.silos = Dictionary(silos.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        hasher = try SHA256Hasher()
        try hasher.reset()
        try hasher.update(Self.ownTag)
        emptyOwn = try hasher.finalize()
    }

    /// Adds one folder's own files. A folder given twice is refused (the stream's contract).
    public mutating func add(_ contents: FolderContents) throws {
        guard let silo = silos[contents.siloID] else { return }
        let key = Key(silo: contents.siloID, path: contents.dir)
        let files = contents.files.sorted { a, b in
            switch (a.sha256, b.sha256) {
            case let (x?, y?): return x != y ? x < y : a.size < b.size
            case (nil, _?): return true
            case (_?, nil): return false
            case (nil, nil): return a.size < b.size
            }
        }
        try hasher.reset()
        try hasher.update(Self.ownTag)
        var bytes: Int64 = 0
        var unhashed = 0
        var entry = [UInt8](repeating: 0, count: 40)
        for f in files {
            bytes += f.size
            guard let sha = f.sha256 else { unhashed += 1; continue }
            for (i, word) in [sha.w0, sha.w1, sha.w2, sha.w3, UInt64(bitPattern: f.size)].enumerated() {
                for k in 0..<8 { entry[i * 8 + k] = UInt8(truncatingIfNeeded: word >> (56 - 8 * k)) }
            }
            try hasher.update(entry)
        }
        let own = try hasher.finalize()
        let i = try node(key)
        if nodes[i].listed {
            throw FolderStreamError(description: "the catalogue listed folder '\(contents.dir.display)' of silo \(silo.name) twice")
        }
        nodes[i].listed = true
        nodes[i].own = own
        nodes[i].ownFiles = files.count
        nodes[i].ownBytes = bytes
        nodes[i].ownUnhashed = unhashed
    }

    /// The node at `key`, made (with every folder above it) when new.
    private mutating func node(_ key: Key) throws -> Int {
        if let i = index[key] { return i }
        let i = nodes.count
        nodes.append(Node(silo: key.silo, path: key.path, depth: key.path.isRoot ? 0 : key.path.components.count, own: emptyOwn))
        index[key] = i
        if !key.path.isRoot { _ = try node(Key(silo: key.silo, path: key.path.parent)) }
        return i
    }

    /// Computes every folder's identity, deepest first, and groups them.
    public mutating func finish() throws -> DuplicateFolders {
        let order = nodes.indices.sorted { nodes[$0].depth > nodes[$1].depth }
        var parent = [Int](repeating: -1, count: nodes.count)
        for i in nodes.indices where !nodes[i].path.isRoot {
            parent[i] = index[Key(silo: nodes[i].silo, path: nodes[i].path.parent)] ?? -1
        }
        var hash = [SHA256Digest?](repeating: nil, count: nodes.count)
        var files = [Int](repeating: 0, count: nodes.count)
        var bytes = [Int64](repeating: 0, count: nodes.count)
        var unhashed = [Int](repeating: 0, count: nodes.count)
        var childHashes: [Int: [SHA256Digest]] = [:]
        for i in order {
            let n = nodes[i]
            files[i] += n.ownFiles
            bytes[i] += n.ownBytes
            unhashed[i] += n.ownUnhashed
            let children = childHashes.removeValue(forKey: i) ?? []
            if unhashed[i] == 0 {
                try hasher.reset()
                try hasher.update(Self.folderTag)
                try hasher.update(n.own.bytes)
                for c in children.sorted() { try hasher.update(c.bytes) }
                hash[i] = try hasher.finalize()
            }
            let p = parent[i]
            if p >= 0 {
                files[p] += files[i]
                bytes[p] += bytes[i]
                unhashed[p] += unhashed[i]
                if let h = hash[i] { childHashes[p, default: []].append(h) }
            }
        }

        var byHash: [SHA256Digest: [Int]] = [:]
        for i in nodes.indices where bytes[i] > 0 {
            if let h = hash[i] { byHash[h, default: []].append(i) }
        }
        var inGroup = Set<Int>()
        for (_, members) in byHash where members.count > 1 { inGroup.formUnion(members) }
        func insideAnother(_ i: Int) -> Bool {
            var p = parent[i]
            while p >= 0 {
                if inGroup.contains(p) { return true }
                p = parent[p]
            }
            return false
        }
        var groups: [DuplicateFolderGroup] = []
        var nested = 0
        for (h, members) in byHash where members.count > 1 {
            if members.allSatisfy(insideAnother) { nested += 1; continue }
            let folders = members.map { i -> FolderRef in
                let s = silos[nodes[i].silo]!
                return FolderRef(silo: s.name, siloPriority: s.priority, path: nodes[i].path)
            }.sorted { a, b in
                if a.siloPriority != b.siloPriority { return a.siloPriority < b.siloPriority }
                if a.silo != b.silo { return Array(a.silo.utf8).lexicographicallyPrecedes(Array(b.silo.utf8)) }
                return a.path < b.path
            }
            groups.append(DuplicateFolderGroup(hash: h, files: files[members[0]], bytes: bytes[members[0]], folders: folders))
        }
        groups.sort { a, b in
            if a.bytes != b.bytes { return a.bytes > b.bytes }
            if a.folders.count != b.folders.count { return a.folders.count > b.folders.count }
            return a.hash < b.hash
        }
        let examples = nodes.indices.filter { nodes[$0].ownUnhashed > 0 }
            .sorted { a, b in
                if nodes[a].ownUnhashed != nodes[b].ownUnhashed { return nodes[a].ownUnhashed > nodes[b].ownUnhashed }
                if nodes[a].silo != nodes[b].silo { return nodes[a].silo < nodes[b].silo }
                return nodes[a].path < nodes[b].path
            }
            .prefix(DuplicateFolders.exampleLimit)
            .map { i in
                let s = silos[nodes[i].silo]!
                return UnhashedFolder(folder: FolderRef(silo: s.name, siloPriority: s.priority, path: nodes[i].path),
                                      unhashedFiles: nodes[i].ownUnhashed)
            }
        parentOf = parent; hashOf = hash; filesOf = files; bytesOf = bytes
        return DuplicateFolders(groups: groups, nestedGroups: nested, folders: nodes.count,
                                notComparableFolders: hash.indices.filter { hash[$0] == nil }.count,
                                unhashedFiles: nodes.reduce(0) { $0 + $1.ownUnhashed }, unhashedExamples: Array(examples))
    }
}

// MARK: - Output

extension DuplicateFolderGroup {
    /// `{"hash","files","bytes","copies","reclaimable_bytes","folders":[{"silo","path"(,"path_b64")}]}`;
    /// the silo root's path is "".
    struct JSON: Encodable {
        let g: DuplicateFolderGroup
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(g.hash.hex, "hash"); try c.put(g.files, "files"); try c.put(g.bytes, "bytes")
            try c.put(g.folders.count, "copies"); try c.put(g.reclaimableBytes, "reclaimable_bytes")
            try c.put(g.folders.map(Folder.init), "folders")
        }
    }

    struct Folder: Encodable {
        let f: FolderRef
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(f.silo, "silo"); try c.encodePath(f.path)
        }
    }
}

extension DuplicateFolders {
    /// `{"groups","nested_groups","folders","not_comparable_folders","files_without_hash",
    /// "file_groups_inside","unhashed_examples":[{"silo","path","files_without_hash"}]}`.
    /// `fileGroupsInside` is nil when not known (a listing stopped by --limit).
    struct SummaryJSON: Encodable {
        let d: DuplicateFolders
        let fileGroupsInside: Int?
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(d.groups.count, "groups"); try c.put(d.nestedGroups, "nested_groups"); try c.put(d.folders, "folders")
            try c.put(d.notComparableFolders, "not_comparable_folders"); try c.put(d.unhashedFiles, "files_without_hash")
            try c.encodeOrNull(fileGroupsInside, "file_groups_inside")
            try c.put(d.unhashedExamples.map(Example.init), "unhashed_examples")
        }
    }

    struct Example: Encodable {
        let u: UnhashedFolder
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(u.folder.silo, "silo"); try c.encodePath(u.folder.path); try c.put(u.unhashedFiles, "files_without_hash")
        }
    }

    /// The groups as `duplicates --folders` and `audit` print them: at most `limit` groups, each
    /// with at most `foldersShown` folders; then what could not be compared.
    public func writeText(to sink: ReportSink, limit: Int? = nil, foldersShown: Int = .max, indent: String = "    ") {
        let shown = groups.prefix(limit ?? groups.count)
        for (i, g) in shown.enumerated() {
            sink.write("\(Format.pad("#\(i + 1)", 4)) \(Format.bytes(g.reclaimableBytes)) reclaimable · \(g.folders.count) copies of "
                       + "\(Format.plural(g.files, "file")), \(Format.bytes(g.bytes)) · hash \(g.hash.hex.prefix(16))…\n")
            let width = min(20, g.folders.map(\.silo.count).max() ?? 0)
            for f in g.folders.prefix(foldersShown) { sink.write("\(indent)\(Format.pad(f.silo, width))  \(f.display)/\n") }
            if g.folders.count > foldersShown { sink.write("\(indent)… and \(g.folders.count - foldersShown) more\n") }
        }
        if groups.count > shown.count { sink.write("… \(Format.count(groups.count - shown.count)) more folder groups.\n") }
        if groups.isEmpty { sink.write("No duplicate folders among \(Format.plural(folders, "folder")).\n") }
        if nestedGroups > 0 {
            sink.write("Inside the folders above: \(Format.plural(nestedGroups, "more folder group")) (not listed).\n")
        }
        if notComparableFolders > 0 {
            // With --hash dupes a file is left unhashed when no other file shares its size (or its
            // first and last bytes): its folder has no copy, unless the file is a hard link or
            // could not be read. Said, not assumed.
            sink.write("Folders not compared: \(Format.count(notComparableFolders)), above \(Format.plural(unhashedFiles, "file"))"
                       + " that have no SHA-256\n(no other file shares their size, or they are hard links or unreadable:\n"
                       + "silomerge scan --hash full hashes them). Most in:\n")
            let examples = unhashedExamples.prefix(5)
            let width = min(20, examples.map(\.folder.silo.count).max() ?? 0)
            for u in examples {
                sink.write("\(indent)\(Format.pad(u.folder.silo, width))  \(u.folder.display)/  (\(Format.plural(u.unhashedFiles, "file")))\n")
            }
        }
    }
}
