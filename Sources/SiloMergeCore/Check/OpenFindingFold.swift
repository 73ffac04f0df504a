import Foundation

/// What a store does to its open findings after a run: the rules of `OpenFinding` decide,
/// the store writes (`FindingStore.applyFindingTransitions`, in one transaction).
public enum OpenFindingTransition: Sendable, Hashable {
    /// A new open finding, opened by the run (`openedAt`: when the run started).
    case open(kind: OpenFinding.Kind, silo: String, path: RelativePath, verified: Finding.State?, seen: Finding.State?,
              detail: String?, openedAt: Date)
    /// Seen again, still open: what is at its path now (nil: nothing), and its detail replaced
    /// when `detail` is not nil.
    case sawAgain(id: Int64, seen: Finding.State?, detail: String?)
    /// The file it is about was moved: the finding follows it to `silo:path`.
    case follow(id: Int64, silo: String, path: RelativePath, detail: String)
    /// Closed by the run, with how it was resolved.
    case close(id: Int64, resolution: OpenFinding.Resolution, detail: String?)
    /// Still open after a run that read its silo (its last run is the run).
    case stillOpen(id: Int64)
}

/// Open findings taken into account, for one run: a changed file that reads as the content an
/// open finding verified is `restored`; a new file holding a missing file's content is `moved`
/// from it; corrupted and missing files open findings (or update the one already open at their
/// path); a missing file the merge ledger says a reviewed plan took is `merged`. Pure: fed the
/// run's findings (`FindingFold`) and what the store knows of the open findings, it returns
/// the run's findings and the transitions for the store to write.
public struct OpenFindingFold: Sendable {
    /// The file catalogued today at an open finding's path.
    public struct FileAtPath: Sendable, Hashable {
        public var openFindingID: Int64
        public var state: Finding.State
        public init(openFindingID: Int64, state: Finding.State) { self.openFindingID = openFindingID; self.state = state }
    }

    /// A merge-ledger operation of a reviewed plan that took the file at an open finding's
    /// path, holding the content it verified (done, or under way when the apply stopped).
    public struct TakenByPlan: Sendable, Hashable {
        public var openFindingID: Int64
        /// The plan's name (as the ledger records it).
        public var plan: String
        /// moved, removed or quarantined.
        public var effect: String
        public var operation: Int64
        public init(openFindingID: Int64, plan: String, effect: String, operation: Int64) {
            self.openFindingID = openFindingID; self.plan = plan; self.effect = effect; self.operation = operation
        }
    }

    private struct Key: Hashable {
        var silo: String
        var path: [UInt8]
    }

    public let runID: Int64
    /// When the run started (what a finding it opens records as opened).
    public let runStarted: Date
    /// The silos the run read: what is still open there was seen again.
    public let runSilos: [String]
    private var open: [Key: OpenFinding] = [:]
    /// Where each finding open before the run was (it is still open when `open` holds it there).
    private var keyByID: [Int64: Key] = [:]
    /// Open missing files by the content they held, oldest first (a new file holding it closes one).
    private var missingBySHA: [SHA256Digest: [OpenFinding]] = [:]
    public private(set) var transitions: [OpenFindingTransition] = []

    /// `openFindings`: every finding open before the run, in any order.
    public init(runID: Int64, runStarted: Date, runSilos: [String], openFindings: [OpenFinding]) {
        self.runID = runID; self.runStarted = runStarted; self.runSilos = runSilos
        for f in openFindings.sorted(by: { $0.id < $1.id }) {
            open[Key(silo: f.silo, path: f.path.bytes)] = f
            keyByID[f.id] = Key(silo: f.silo, path: f.path.bytes)
            if f.kind == .missing, let sha = f.verified.sha256 { missingBySHA[sha, default: []].append(f) }
        }
    }

    private static func since(_ o: OpenFinding) -> String {
        "\(o.kind.rawValue) since run \(o.openedRun) (\(Timestamp.string(o.openedAt).prefix(10)))"
    }

    /// The finding, if it is still open where it was (not closed, nor moved, by this run).
    private func isOpen(_ id: Int64) -> OpenFinding? {
        guard let key = keyByID[id], let o = open[key], o.id == id else { return nil }
        return o
    }

    private mutating func close(_ o: OpenFinding, _ resolution: OpenFinding.Resolution, detail: String?) {
        transitions.append(.close(id: o.id, resolution: resolution, detail: detail))
        open[Key(silo: o.silo, path: o.path.bytes)] = nil
    }

    /// Why an open finding accepted by a person is closed: a corrupted file's current content
    /// becomes the baseline; a missing file is no longer expected.
    public static func acceptanceDetail(_ f: OpenFinding, reason: String?) -> String {
        (f.kind == .corrupted ? "its current content is the new baseline" : "no longer expected")
            + (reason.map { "; reason: \($0)" } ?? "")
    }

    /// The path reads as what the open finding verified.
    private static func restores(_ o: OpenFinding, _ state: Finding.State?) -> Bool {
        guard let verified = o.verified.sha256 else {
            // Never hashed (--hash dupes): a file back at the path is all that can be told.
            return state != nil
        }
        return state?.sha256 == verified
    }

    private mutating func restored(_ o: OpenFinding, at f: Finding) -> Finding {
        let what = o.verified.sha256 == nil ? "is back (its content was never hashed, so it cannot be verified)"
                                            : "reads as its verified content again"
        close(o, .restored, detail: nil)
        return Finding(kind: .restored, silo: f.silo, path: f.path, old: o.seen ?? f.old, new: f.new,
                       detail: "\(what); was \(Self.since(o))")
    }

    /// The run's findings (`FindingFold`), then what the store knows of the open findings'
    /// paths: the files catalogued there now, and the ledger's operations that took them.
    /// Returns the run's findings, sorted; `transitions` holds what to write.
    public mutating func settle(_ raw: [Finding], filesAtPaths: [FileAtPath], takenByPlans: [TakenByPlan]) -> [Finding] {
        var out: [Finding] = []
        for f in raw {
            let key = Key(silo: f.silo, path: f.path.bytes)
            switch f.kind {
            case .corrupted, .modified:
                if let o = open[key] {
                    if Self.restores(o, f.new) {
                        out.append(restored(o, at: f))
                    } else {
                        transitions.append(.sawAgain(id: o.id, seen: f.new, detail: nil))
                        var f = f
                        f.detail = (f.detail.map { $0 + "; " } ?? "") + "still open: \(Self.since(o))"
                        out.append(f)
                    }
                } else {
                    if f.kind == .corrupted {
                        transitions.append(.open(kind: .corrupted, silo: f.silo, path: f.path, verified: f.old, seen: f.new,
                                                 detail: f.detail, openedAt: runStarted))
                    }
                    out.append(f)
                }
            case .new:
                if let o = open[key] {
                    if Self.restores(o, f.new) {
                        out.append(restored(o, at: f))
                    } else {
                        transitions.append(.sawAgain(id: o.id, seen: f.new, detail: nil))
                        out.append(f)
                    }
                } else if let sha = f.new?.sha256, sha != .empty,
                          let o = missingBySHA[sha]?.first(where: { open[Key(silo: $0.silo, path: $0.path.bytes)]?.id == $0.id }) {
                    close(o, .moved, detail: "found at \(f.silo):\(f.path.display)")
                    out.append(Finding(kind: .moved, silo: f.silo, path: f.path, oldSilo: o.silo, oldPath: o.path, old: o.verified,
                                       new: f.new, detail: "was \(Self.since(o))" + (o.silo == f.silo ? "" : "; moved across silos")))
                } else {
                    out.append(f)
                }
            case .moved:
                if let o = open[key], Self.restores(o, f.new) {
                    out.append(restored(o, at: f))
                } else if let oldSilo = f.oldSilo, let oldPath = f.oldPath, let o = open[Key(silo: oldSilo, path: oldPath.bytes)] {
                    // The file an open finding is about was moved: the finding follows it.
                    transitions.append(.follow(id: o.id, silo: f.silo, path: f.path,
                                               detail: (o.detail.map { $0 + "; " } ?? "") + "moved from \(oldSilo):\(oldPath.display)"))
                    open[Key(silo: oldSilo, path: oldPath.bytes)] = nil
                    var f = f
                    f.detail = (f.detail.map { $0 + "; " } ?? "") + "still open: \(Self.since(o))"
                    out.append(f)
                } else {
                    out.append(f)
                }
            case .missing:
                if let o = open[key] {
                    transitions.append(.sawAgain(id: o.id, seen: nil,
                                                 detail: o.kind == .missing ? nil : (o.detail.map { $0 + "; " } ?? "") + "now gone"))
                    var f = f
                    f.detail = "still open: \(Self.since(o))"
                    out.append(f)
                } else {
                    transitions.append(.open(kind: .missing, silo: f.silo, path: f.path, verified: f.old, seen: nil, detail: nil,
                                             openedAt: runStarted))
                    out.append(f)
                }
            default:
                out.append(f)
            }
        }
        // An open finding whose path holds the verified content again, without this run having
        // found the change (it was restored by a run that ended early): closed all the same.
        for file in filesAtPaths {
            guard let o = isOpen(file.openFindingID), let verified = o.verified.sha256, file.state.sha256 == verified else { continue }
            out.append(restored(o, at: Finding(kind: .restored, silo: o.silo, path: o.path, old: o.seen, new: file.state)))
        }
        // A missing file that a reviewed plan took, learnt by the merge ledger after the finding
        // was opened (the plan applied by an older SiloMerge and applied again to record it, or
        // a journal read late): not missing, merged; closed, and said once.
        for taken in takenByPlans {
            guard let o = isOpen(taken.openFindingID), o.kind == .missing, o.verified.sha256 != nil else { continue }
            let detail = "\(taken.effect) by the apply of plan \(taken.plan) (operation \(taken.operation)); was \(Self.since(o))"
            close(o, .merged, detail: detail)
            out.append(Finding(kind: .merged, silo: o.silo, path: o.path, old: o.verified, detail: detail))
        }
        // Still open after this run, in the silos it read: seen again.
        for o in open.values.sorted(by: { $0.id < $1.id }) where runSilos.contains(o.silo) {
            transitions.append(.stillOpen(id: o.id))
        }
        return FindingFold.sorted(out)
    }
}
