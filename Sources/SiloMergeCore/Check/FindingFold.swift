import Foundation

/// What a run found, worked out from what its store gives back: the changes it recorded (in
/// change order), the files it saw for the first time, what the merge ledger says of both,
/// and (for a check) the catalogued copies of each content the run touched. This decides what
/// a finding is: a move paired by content, corruption behind an unchanged size and mtime, new
/// and gone duplicates per host, metadata drift, files a reviewed plan merged away. No store
/// decides any of it, so every backend finds the same (see `OpenFindingFold` for what stays
/// open, and `FindingSettlement` for the whole pass over a store).
///
/// Memory: the fold keeps the run's changes and new files (a store may pre-filter the new
/// files for `.alerts`, see `FindingStore.forEachNewFile`); copies are asked for one content
/// at a time.
public struct FindingFold: Sendable {
    /// A change a run recorded.
    public struct Change: Sendable, Hashable {
        public enum Kind: String, Sendable, Hashable, CaseIterable {
            case changed, missing, excluded, content
            /// A sidecar's or a manifest's values for an unchanged file changed.
            case metadata
        }
        /// The store's id of the change (merge notes name changes by it).
        public var id: Int64
        public var kind: Kind
        public var siloID: Int64
        public var silo: String
        public var path: RelativePath
        public var old: Finding.State
        /// The file's device and inode before the change.
        public var oldInode: FileID?
        public var new: Finding.State
        /// The file's device and inode now (nil: it is gone).
        public var currentInode: FileID?
        public var detail: String?
        public init(id: Int64, kind: Kind, siloID: Int64, silo: String, path: RelativePath, old: Finding.State,
                    oldInode: FileID? = nil, new: Finding.State = Finding.State(size: nil, mtimeNs: nil, sha256: nil),
                    currentInode: FileID? = nil, detail: String? = nil) {
            self.id = id; self.kind = kind; self.siloID = siloID; self.silo = silo; self.path = path; self.old = old
            self.oldInode = oldInode; self.new = new; self.currentInode = currentInode; self.detail = detail
        }
    }

    /// A file first seen in the run.
    public struct NewFile: Sendable, Hashable {
        /// The store's id of the file (merge notes name files by it).
        public var id: Int64
        public var siloID: Int64
        public var silo: String
        public var path: RelativePath
        public var state: Finding.State
        public var inode: FileID
        public init(id: Int64, siloID: Int64, silo: String, path: RelativePath, state: Finding.State, inode: FileID) {
            self.id = id; self.siloID = siloID; self.silo = silo; self.path = path; self.state = state; self.inode = inode
        }
    }

    /// What the merge ledger says of a run's vanished and new files: vanished files a reviewed
    /// plan merged away (by change id, with a sentence naming the plan and where the content
    /// lives), new files an undo put back where they were (by file id), and sidecars a plan
    /// left behind that are files of their own now (by file id, with a sentence).
    public struct MergeNotes: Sendable, Hashable {
        public var gone: [Int64: String]
        public var back: Set<Int64>
        public var left: [Int64: String]
        public init(gone: [Int64: String] = [:], back: Set<Int64> = [], left: [Int64: String] = [:]) {
            self.gone = gone; self.back = back; self.left = left
        }
        public var isEmpty: Bool { gone.isEmpty && back.isEmpty && left.isEmpty }

        // The words of each note, one place for every backend: a store only finds the rows.

        /// A source an apply moved, removed or quarantined (`effect`), its content now `at`;
        /// `stopped`: the apply stopped at this operation.
        package static func takenByApply(effect: String, plan: String, op: Int64, at: String, stopped: Bool) -> String {
            var text: String
            switch effect {
            case "moved": text = "moved by the apply of plan \(plan) (operation \(op)) to \(at)"
            case "removed": text = "removed as a duplicate by the apply of plan \(plan) (operation \(op)): its content is at \(at)"
            default: text = "quarantined by the apply of plan \(plan) (operation \(op)) to \(at)"
            }
            if stopped { text += "; that apply stopped at this operation: run it again to finish" }
            return text
        }

        /// A file of an adopted target that the plan's undo took away: back at `source` (a
        /// moved file's silo and path), or removed.
        package static func takenByUndo(plan: String, op: Int64, movedBackTo source: (silo: String, path: RelativePath)?) -> String {
            if let source {
                return "taken back by the undo of plan \(plan) (operation \(op)): it is at \(source.silo):\(source.path.display) again"
            }
            return "removed by the undo of plan \(plan) (operation \(op)), which had put it here"
        }

        /// A sidecar the apply left behind when it took its file.
        package static func leftBehind(plan: String, note: String?) -> String {
            "left behind by the apply of plan \(plan): \(note ?? "a sidecar"); a file of its own now (the plan listed it in left_behind)"
        }
    }

    /// A catalogued file holding a content (for new and gone duplicates).
    public struct Copy: Sendable, Hashable {
        public var siloID: Int64
        public var silo: String
        public var path: RelativePath
        /// nil when the store has no device and inode for it.
        public var inode: FileID?
        /// The run that first saw it.
        public var firstSeenRun: Int64
        public init(siloID: Int64, silo: String, path: RelativePath, inode: FileID?, firstSeenRun: Int64) {
            self.siloID = siloID; self.silo = silo; self.path = path; self.inode = inode; self.firstSeenRun = firstSeenRun
        }
    }

    public let runID: Int64
    public let scope: FindingScope
    public let merges: MergeNotes
    private var changes: [Change] = []
    private var newFiles: [NewFile] = []

    public init(runID: Int64, scope: FindingScope, merges: MergeNotes) {
        self.runID = runID; self.scope = scope; self.merges = merges
    }

    /// The run's changes, in the order they were recorded.
    public mutating func add(_ change: Change) { changes.append(change) }
    /// The run's new files, in report order (silo priority, silo, path).
    public mutating func add(_ file: NewFile) { newFiles.append(file) }

    /// The order findings are reported in: by kind, silo, path.
    public static func sorted(_ findings: [Finding]) -> [Finding] {
        let order = Dictionary(uniqueKeysWithValues: Finding.Kind.allCases.enumerated().map { ($1, $0) })
        return findings.sorted { (order[$0.kind]!, $0.silo, $0.path) < (order[$1.kind]!, $1.silo, $1.path) }
    }

    /// Reads the catalogued files holding each of these contents: calls the second argument
    /// with each content, in the order given, and its files in report order.
    public typealias CopiesReader = ([SHA256Digest], (SHA256Digest, [Copy]) throws -> Void) throws -> Void

    /// The findings, sorted. For `.all`, `hosts` tells copies of one host from another's and
    /// `copies` reads the copies of the contents the run touched; `.alerts` asks for neither.
    public func findings(hosts: HostOrdinals, copies: CopiesReader) throws -> [Finding] {
        let merges = self.merges
        var out: [Finding] = []
        // Moves: a vanished file whose content turned up at a new path (same name first).
        // New files are indexed by content, so a night of many moves stays linear.
        var newBySHA: [SHA256Digest: [Int]] = [:]
        for (i, n) in newFiles.enumerated() where !merges.back.contains(n.id) {
            if let sha = n.state.sha256 { newBySHA[sha, default: []].append(i) }
        }
        var matchedNew = Set<Int>()
        var movedFrom = Set<Int>()
        for (ci, c) in changes.enumerated() where c.kind == .missing && merges.gone[c.id] == nil {
            guard let sha = c.old.sha256, sha != .empty, let indices = newBySHA[sha] else { continue }
            let candidates = indices.filter { !matchedNew.contains($0) }
            guard let pick = candidates.first(where: { newFiles[$0].path.lastComponent.elementsEqual(c.path.lastComponent) })
                ?? candidates.first
            else { continue }
            matchedNew.insert(pick)
            movedFrom.insert(ci)
            let n = newFiles[pick]
            out.append(Finding(kind: .moved, silo: n.silo, path: n.path, oldSilo: c.silo, oldPath: c.path, old: c.old, new: n.state,
                               detail: c.silo == n.silo ? nil : "moved across silos"))
        }
        for i in newFiles.indices where !matchedNew.contains(i) && !merges.back.contains(newFiles[i].id) {
            if let detail = merges.left[newFiles[i].id] {
                out.append(Finding(kind: .merged, silo: newFiles[i].silo, path: newFiles[i].path, new: newFiles[i].state, detail: detail))
            } else {
                out.append(Finding(kind: .new, silo: newFiles[i].silo, path: newFiles[i].path, new: newFiles[i].state))
            }
        }
        for (ci, c) in changes.enumerated() {
            if let detail = merges.gone[c.id] {
                out.append(Finding(kind: .merged, silo: c.silo, path: c.path, old: c.old, detail: detail))
                continue
            }
            switch c.kind {
            case .missing where !movedFrom.contains(ci):
                out.append(Finding(kind: .missing, silo: c.silo, path: c.path, old: c.old))
            case .changed where c.old.sha256 != nil && c.new.sha256 != nil && c.old.sha256 != c.new.sha256
                                && c.old.size == c.new.size && c.old.mtimeNs == c.new.mtimeNs:
                // Only the ctime (or inode) moved: the content changed behind the same size and mtime.
                out.append(Finding(kind: .corrupted, silo: c.silo, path: c.path, old: c.old, new: c.new,
                                   detail: "content changed, size and mtime did not"))
            case .changed where c.old.sha256 != c.new.sha256 || c.new.sha256 == nil:
                out.append(Finding(kind: .modified, silo: c.silo, path: c.path, old: c.old, new: c.new,
                                   detail: c.new.sha256 == nil ? "not read: see the warnings" : nil))
            case .content:
                out.append(Finding(kind: .corrupted, silo: c.silo, path: c.path, old: c.old, new: c.new,
                                   detail: "content changed, size and mtime did not"))
            case .metadata:
                out.append(Finding(kind: .metadataDrift, silo: c.silo, path: c.path, old: c.old, new: c.new, detail: c.detail))
            default:
                break
            }
        }
        if scope == .all { out += try duplicateFindings(hosts: hosts, copies: copies) }
        return Self.sorted(out)
    }

    /// Copies per content before and after, for the contents this run touched: the physical
    /// files (host, device, inode) that arrived and left, per content, gathered in one pass;
    /// then more copies than before is a new duplicate, fewer (of two or more) a gone one.
    private func duplicateFindings(hosts: HostOrdinals, copies: CopiesReader) throws -> [Finding] {
        var arrived: [SHA256Digest: [PhysicalFileID]] = [:]
        var left: [SHA256Digest: [PhysicalFileID]] = [:]
        var firstGone: [SHA256Digest: Change] = [:]
        var affected = Set<SHA256Digest>()
        for n in newFiles where !merges.back.contains(n.id) {
            guard let sha = n.state.sha256 else { continue }
            affected.insert(sha)
            arrived[sha, default: []].append(hosts.physical(silo: n.siloID, n.inode))
        }
        // Copies a plan took away (or an undo put back) are no news about duplicates: the plan
        // was reviewed, and said so.
        for c in changes where c.kind != .metadata && merges.gone[c.id] == nil {
            if let sha = c.old.sha256 {
                affected.insert(sha)
                if firstGone[sha] == nil { firstGone[sha] = c }
                if c.kind == .missing || c.kind == .changed || c.kind == .excluded, let id = c.oldInode {
                    left[sha, default: []].append(hosts.physical(silo: c.siloID, id))
                }
            }
            if let sha = c.new.sha256 {
                affected.insert(sha)
                if c.kind == .changed, let id = c.currentInode { arrived[sha, default: []].append(hosts.physical(silo: c.siloID, id)) }
            }
        }
        affected.remove(.empty)
        var out: [Finding] = []
        try copies(affected.sorted(by: { $0.hex < $1.hex })) { sha, rows in
            var after = Set<PhysicalFileID>()
            for r in rows { if let id = r.inode { after.insert(hosts.physical(silo: r.siloID, id)) } }
            var before = after.subtracting(arrived[sha] ?? [])
            before.formUnion(left[sha] ?? [])
            let state = Finding.State(size: nil, mtimeNs: nil, sha256: sha)
            if after.count > before.count && after.count >= 2, let newest = rows.first(where: { $0.firstSeenRun == runID }) ?? rows.first {
                out.append(Finding(kind: .newDuplicate, silo: newest.silo, path: newest.path, new: state,
                                   detail: "\(Format.plural(after.count, "copy")) (was \(before.count))"))
            } else if before.count >= 2 && after.count < before.count {
                let gone = firstGone[sha]
                out.append(Finding(kind: .duplicateGone, silo: gone?.silo ?? "", path: gone?.path ?? .root, old: state,
                                   detail: "\(after.count) cop\(after.count == 1 ? "y" : "ies") (was \(before.count))"))
            }
        }
        return out
    }
}
