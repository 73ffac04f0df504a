#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// What a plan's journal says of each operation: what the catalogue's merge ledger records, so
/// that scans and checks know which files a plan moved, removed or quarantined (`merged`, not
/// `missing`), and what `silomerge silos add --from-plan` takes as the content of each file the
/// apply placed and verified in the target.
///
/// The journal is the source of truth: an apply or undo killed before it could record its end
/// in the catalogue left every step it took in the journal (fsynced before the step).
public struct MergeJournal: Sendable {
    public enum OpState: String, Sendable, Hashable {
        /// Not started, or started without touching its source.
        case pending
        /// The source is being taken away (unlinked, replaced, quarantined): announced, and
        /// possibly done, by a run that ended before recording `done`.
        case taking
        case done
        /// Reversed by undo.
        case undone
    }

    public struct Op: Sendable, Hashable {
        public var state: OpState
        /// The file the operation left in the target (or the quarantine folder) as the journal
        /// recorded it: device, inode, size and mtime.
        public var result: JournalStat?
    }

    /// The plan the journal belongs to (its digest), nil for an empty journal.
    public var planDigest: String?
    public var ops: [Int: Op]
    /// The target's identity when an apply (or undo) last opened it.
    public var targetIdentity: FileID?
    /// The journal's size when read (the ledger reads it again when it has grown).
    public var size: Int64

    /// Reads the journal at `path`; nil when there is none.
    public static func read(_ path: FilePath) throws(ApplyError) -> MergeJournal? {
        let fs = RealFileOps()
        let size: Int64
        do { size = try fs.lstat(AT_FDCWD, path.bytes).size } catch let e as Errno {
            if e.code == ENOENT { return nil }
            throw .journal(path: path.display, reason: "cannot read: \(e) (\(e.name))")
        } catch {
            throw .journal(path: path.display, reason: "\(error)")
        }
        let state: JournalState
        do { state = try JournalWriter.read(fs: fs, path: path) } catch let e as ApplyError { throw e } catch {
            throw .journal(path: path.display, reason: "\(error)")
        }
        guard state.exists else { return nil }
        var ops: [Int: Op] = [:]
        for (id, r) in state.ops {
            if let done = r.done {
                ops[id] = Op(state: .done, result: done.stat ?? r.placed)
            } else if r.taking != nil {
                ops[id] = Op(state: .taking, result: r.placed)
            } else if r.undone {
                ops[id] = Op(state: .undone, result: nil)
            } else {
                ops[id] = Op(state: .pending, result: r.placed)
            }
        }
        return MergeJournal(planDigest: state.planDigest, ops: ops, targetIdentity: state.roots[Applier.PlanRoot.target.rawValue],
                            size: size)
    }

    /// What an operation did to its source file, for the ledger.
    public static func effect(of kind: OperationKind) -> String {
        switch kind {
        case .move, .sidecarMove: "moved"
        case .removeDuplicate: "removed"
        case .quarantineDuplicate: "quarantined"
        case .linkDuplicate: "linked"
        case .copy, .hardlink, .reflink, .sidecarCopy, .sidecarHardlink, .sidecarReflink: "copied"
        case .xmpSidecar, .importManifest: "written"
        }
    }

    /// The files an apply placed in the target, by their path in it, each with the identity
    /// the journal recorded and the SHA-256 the plan names (and the apply verified): what
    /// `silomerge silos add --from-plan` takes without reading them. Operations not done (or
    /// undone since) place nothing.
    public func placedFiles(of plan: MergePlan) -> [RelativePath: KnownFile] {
        var out: [RelativePath: KnownFile] = [:]
        for op in plan.operations where op.kind.writesTarget {
            guard let dest = op.destination, let sha = op.sha256.flatMap({ SHA256Digest(hex: $0.lowercased()) }),
                  let o = ops[op.id], o.state == .done, let st = o.result else { continue }
            out[dest] = KnownFile(device: st.device, inode: st.inode, size: st.size, mtimeNs: st.mtimeNs, sha256: sha,
                                  origin: "operation \(op.id) (\(op.kind.rawValue))")
        }
        return out
    }
}

/// A file whose content is known without reading it: the apply of a plan placed it and
/// verified its SHA-256. A scan takes that SHA-256 while the file's device, inode, size and mtime
/// are the ones recorded; a file that differs is read like any other.
public struct KnownFile: Sendable, Hashable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    public var mtimeNs: Int64
    public var sha256: SHA256Digest
    /// What recorded it, for messages ("operation 12 (move)").
    public var origin: String
    /// What the content holds besides its bytes (format, dimensions, embedded metadata) is
    /// known too (`SQLiteCatalogue.adoptMergeContent` fills it in after the scan): the file is
    /// not opened even for its metadata.
    public var contentKnown = false

    public init(device: UInt64, inode: UInt64, size: Int64, mtimeNs: Int64, sha256: SHA256Digest, origin: String) {
        self.device = device; self.inode = inode; self.size = size; self.mtimeNs = mtimeNs; self.sha256 = sha256
        self.origin = origin
    }

    /// The file `stat` describes is still the one recorded.
    public func matches(_ stat: FileStat) -> Bool {
        stat.device == device && stat.inode == inode && stat.size == size && stat.mtimeNs == mtimeNs
    }

    /// What differs, in words ("mtime 2026-… → 2026-…, inode 12 → 14").
    public func differences(from stat: FileStat) -> String {
        var d: [String] = []
        if stat.size != size { d.append("size \(size) → \(stat.size)") }
        if stat.mtimeNs != mtimeNs { d.append("mtime \(Timestamp.string(nanoseconds: mtimeNs)) → \(Timestamp.string(nanoseconds: stat.mtimeNs))") }
        if stat.device != device || stat.inode != inode { d.append("inode \(device):\(inode) → \(stat.device):\(stat.inode)") }
        return d.isEmpty ? "unchanged" : d.joined(separator: ", ")
    }
}

/// Files of one silo whose content a scan may take as known (see `KnownFile`), by path.
public struct KnownContents: Sendable {
    public var silo: String
    public var files: [RelativePath: KnownFile]
    public init(silo: String, files: [RelativePath: KnownFile]) { self.silo = silo; self.files = files }
}
