import Foundation

/// What `silomerge plan --in-place` would reclaim, per method (the IN-PLACE DEDUPLICATION
/// section of `audit`), from the catalogue's duplicate groups.
///
/// The canonical copy of a group is its first file by silo priority, then silo and path (the
/// first rule of the default `--rule` list; audit takes no `--rule`, and the configuration
/// file holds none). A plan with other rules may keep another copy: that changes the figures
/// only for groups whose copies lie on several file systems (`groupsOnSeveralFileSystems`),
/// which the text and the JSON say. Each physical file counts once; names of the canonical
/// copy's own file (hard links) reclaim nothing and are counted apart.
public struct InPlaceReclaim: Sendable, Hashable, Codable {
    /// Copies (physical files) on their canonical copy's file system, and their bytes: what a
    /// hard link reclaims, and a reflink where the file system can share blocks.
    public var sameFileSystemFiles = 0
    public var sameFileSystemBytes: Int64 = 0
    /// Of those, on file systems that can share blocks (btrfs, XFS, bcachefs, OCFS2).
    public var reflinkableFiles = 0
    public var reflinkableBytes: Int64 = 0
    /// Copies on another file system than their canonical copy: only quarantine or remove.
    public var otherFileSystemFiles = 0
    public var otherFileSystemBytes: Int64 = 0
    /// Names that already are the canonical copy's file (hard links): nothing to do.
    public var alreadyLinkedNames = 0
    /// File system types (with devices) holding duplicates that cannot share blocks.
    public var reflinkUnavailable: [String] = []
    /// Groups with copies on more than one file system: the only ones whose figures depend on
    /// which copy the plan keeps (here: the first by silo priority).
    public var groupsOnSeveralFileSystems = 0
    /// How the canonical copy is assumed to be chosen, for the reader.
    public static let canonicalAssumption = "each group's first copy by silo priority (then silo and path): the default --rule list's first rule"

    public init() {}

    /// Every duplicate group of `query` in the catalogue.
    public init(store: any CatalogueStore, query: DuplicateQuery) throws {
        // By device, probed once through a file on it (this host's silos: another host's
        // files cannot be looked at here, and count as not known to share blocks).
        var cache: [UInt64: (ok: Bool, type: String)] = [:]
        try store.forEachDuplicateGroup(query) { g in
            self.add(g) { f in
                if let known = cache[f.device] { return known.ok }
                let type = ReflinkSupport.fileSystemType(at: f.absolutePath) ?? "unknown"
                let probe = (ReflinkSupport.capableTypes.contains(type), type)
                cache[f.device] = probe
                return probe.0
            }
            return true
        }
        reflinkUnavailable = cache.filter { !$0.value.ok }.keys.sorted().map { d in "\(cache[d]!.type) (device \(d))" }
    }

    mutating func add(_ g: DuplicateGroup, reflinkable: (GroupFile) -> Bool) {
        guard let canonical = g.files.first, g.size > 0 else { return }
        var seen: Set<FileID> = [FileID(device: canonical.device, inode: canonical.inode)]
        if g.files.contains(where: { $0.device != canonical.device }) { groupsOnSeveralFileSystems += 1 }
        for f in g.files.dropFirst() {
            let id = FileID(device: f.device, inode: f.inode)
            if id == FileID(device: canonical.device, inode: canonical.inode) { alreadyLinkedNames += 1; continue }
            guard seen.insert(id).inserted else { continue }
            if f.device == canonical.device {
                sameFileSystemFiles += 1; sameFileSystemBytes += g.size
                if reflinkable(f) { reflinkableFiles += 1; reflinkableBytes += g.size }
            } else {
                otherFileSystemFiles += 1; otherFileSystemBytes += g.size
            }
        }
    }

    /// Bytes the method would reclaim.
    public func bytes(_ method: InPlaceMethod) -> Int64 {
        switch method {
        case .reflink: reflinkableBytes
        case .hardlink: sameFileSystemBytes
        case .quarantine, .remove: sameFileSystemBytes + otherFileSystemBytes
        }
    }

    public func files(_ method: InPlaceMethod) -> Int {
        switch method {
        case .reflink: reflinkableFiles
        case .hardlink: sameFileSystemFiles
        case .quarantine, .remove: sameFileSystemFiles + otherFileSystemFiles
        }
    }

    /// The audit section's lines.
    public func writeText(to sink: ReportSink) {
        guard files(.remove) > 0 || alreadyLinkedNames > 0 else { return }
        sink.write("\nIN-PLACE DEDUPLICATION: what silomerge plan --in-place would reclaim, by --method\n")
        sink.write("  (canonical copy assumed: \(Self.canonicalAssumption))\n")
        let notes: [InPlaceMethod: String] = [
            .reflink: reflinkUnavailable.isEmpty ? "blocks shared; every name keeps its own file"
                : "not on \(reflinkUnavailable.joined(separator: ", ")): no block sharing there",
            .hardlink: "copies on their canonical copy's file system become links to it",
            .quarantine: "moved out of the silos (the quarantine folder holds them)",
            .remove: "deleted",
        ]
        for m in InPlaceMethod.allCases {
            sink.write("  \(Format.pad(m.rawValue, 12))\(Format.pad(Format.bytes(bytes(m)), 12, right: true)) in \(Format.plural(files(m), "file"))  (\(notes[m]!))\n")
        }
        if otherFileSystemFiles > 0 {
            sink.write("  \(Format.plural(otherFileSystemFiles, "copy")) (\(Format.bytes(otherFileSystemBytes))) on another file system than their canonical copy: no reflink or hard link can reach them\n")
        }
        if groupsOnSeveralFileSystems > 0 {
            sink.write("  \(Format.plural(groupsOnSeveralFileSystems, "group")) with copies on several file systems: a plan with other --rule lists may keep another copy of \(groupsOnSeveralFileSystems == 1 ? "it" : "those"), and reclaim otherwise\n")
        }
        if alreadyLinkedNames > 0 {
            sink.write("  \(Format.plural(alreadyLinkedNames, "name")) already hard links of their canonical copy: nothing to reclaim\n")
        }
    }

    /// `in_place` in `audit --format json`: per method, bytes and files; and the rest.
    struct JSON: Encodable {
        let r: InPlaceReclaim
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            for m in InPlaceMethod.allCases {
                try c.put(["bytes": r.bytes(m), "files": Int64(r.files(m))], m.rawValue)
            }
            try c.put(r.otherFileSystemBytes, "other_file_system_bytes")
            try c.put(r.otherFileSystemFiles, "other_file_system_files")
            try c.put(r.alreadyLinkedNames, "already_linked_names")
            try c.put(r.reflinkUnavailable, "reflink_unavailable")
            try c.put(InPlaceReclaim.canonicalAssumption, "canonical_copy")
            try c.put(r.groupsOnSeveralFileSystems, "groups_on_several_file_systems")
        }
    }
}
