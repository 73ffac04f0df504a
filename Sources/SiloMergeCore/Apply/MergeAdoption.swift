import Foundation

/// Adopting a merged tree as a silo (`silomerge silos add NAME=TARGET --from-plan PLAN`): the
/// plan and its journal say what the apply placed in the target, with the SHA-256 it verified
/// and each file's identity (device, inode, size, mtime) as it left it. The scan of the new
/// silo takes those hashes without reading the files; a file that is not as recorded is read,
/// and one whose content differs is flagged.
public enum MergeAdoption {
    public struct Prepared: Sendable {
        /// The silo to scan: the target, without the quarantine folder when it lies inside it.
        public var silo: SiloDefinition
        public var known: KnownContents
        public var planSHA256: String
        public var journal: MergeJournal
    }

    /// Checks that `path` is the target of `plan` as its journal recorded it, that the journal
    /// records files placed there, and that `name` is free (or already names that folder: an
    /// interrupted adoption is finished by running it again); returns the silo and what is
    /// known of its files.
    public static func prepare(name: String, path: FilePath, priority: Int, plan: MergePlan, journalPath: FilePath,
                               catalogued: [Silo]) throws(AdoptionError) -> Prepared {
        let planSHA256: String
        do { planSHA256 = try PlanFile.digest(plan) } catch { throw .journal(journalPath.display, "\(error)") }
        let journal: MergeJournal
        do {
            guard let j = try MergeJournal.read(journalPath) else { throw AdoptionError.noJournal(journalPath.display) }
            journal = j
        } catch let e as AdoptionError { throw e } catch { throw .journal(journalPath.display, "\(error)") }
        if let digest = journal.planDigest, digest != planSHA256 {
            throw .journal(journalPath.display, "it belongs to another plan (\(digest.prefix(12)), this one is \(planSHA256.prefix(12)))")
        }
        // The folder given is the plan's target: the same path once links are resolved, and
        // the folder the apply opened (device and inode).
        let absolute = Posix.absolute(path)
        let real: FilePath
        switch Posix.realPath(absolute) {
        case .success(let r): real = r
        case .failure(let e): throw .notTheTarget(path: absolute.display, target: plan.targetRoot.display, why: "it cannot be opened: \(e) (\(e.name))")
        }
        // The name is free, or already this folder: adopting again finishes an adoption that
        // was interrupted (or takes a silo catalogued there before as the plan's target).
        if let s = catalogued.first(where: { $0.name == name }), s.root != real {
            throw .nameTaken(name: name, root: s.root.display)
        }
        if let s = catalogued.first(where: { $0.name == name }), let other = s.adoptedPlan, other != planSHA256 {
            throw .nameTaken(name: name, root: s.root.display + ", adopted from another plan (\(other.prefix(12)))")
        }
        guard real == plan.targetRoot else {
            throw .notTheTarget(path: absolute.display, target: plan.targetRoot.display, why: "it is \(real.display)")
        }
        guard case .success(let st) = Posix.stat(real), st.kind == .directory else {
            throw .notTheTarget(path: absolute.display, target: plan.targetRoot.display, why: "it is not a folder")
        }
        if let recorded = journal.targetIdentity, recorded != st.fileID {
            throw .notTheTarget(path: absolute.display, target: plan.targetRoot.display,
                                why: "it is not the folder the apply wrote (device \(recorded.device) inode \(recorded.inode), now device \(st.device) inode \(st.inode)): replaced since")
        }
        let placed = journal.placedFiles(of: plan)
        guard !placed.isEmpty else { throw .nothingApplied(plan: plan.targetRoot.display) }
        // The quarantine folder, when inside the target, holds duplicates set aside: not part of
        // the merged tree (verify leaves it out too), and neither are apply's temporary files.
        var excludes = ["\(Applier.temporaryPrefix)*"]
        if plan.targetRoot.contains(plan.quarantineRoot) && plan.targetRoot != plan.quarantineRoot {
            let rel = Array(plan.quarantineRoot.bytes.dropFirst(plan.targetRoot.bytes.count + (plan.targetRoot.bytes.last == 0x2F ? 0 : 1)))
            excludes.append("/" + globEscaped(String(decoding: rel, as: UTF8.self)) + "/")
        }
        var silo = SiloDefinition(name: name, root: real, priority: priority, excludes: excludes)
        silo.rootIdentity = st.fileID
        return Prepared(silo: silo, known: KnownContents(silo: name, files: placed), planSHA256: planSHA256, journal: journal)
    }

    /// `text` as a glob that matches only itself.
    static func globEscaped(_ text: String) -> String {
        var out = ""
        for c in text {
            if "*?[]\\!".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }
}

/// Why a merged tree cannot be adopted as a silo.
public enum AdoptionError: Error, Sendable, CustomStringConvertible {
    case nameTaken(name: String, root: String)
    case noJournal(String)
    case journal(String, String)
    case notTheTarget(path: String, target: String, why: String)
    case nothingApplied(plan: String)

    public var description: String {
        switch self {
        case .nameTaken(let name, let root):
            "a silo named '\(name)' is already catalogued (\(root)): choose another name, or remove it first (silomerge silos remove \(name))"
        case .noJournal(let path):
            "no journal at \(path): nothing was applied with it, so there is no merged tree to adopt (apply the plan first, or give --journal)"
        case .journal(let path, let why):
            "the journal \(path) cannot be used: \(why)"
        case .notTheTarget(let path, let target, let why):
            "\(path) is not the target of the plan (\(target)): \(why); give the plan's target"
        case .nothingApplied(let target):
            "the journal records no file placed in \(target) (nothing applied, or everything undone): apply the plan first, or add the folder without --from-plan"
        }
    }

    /// A mistake in the command line (exit 64), as opposed to a journal that cannot be used.
    public var isUsageError: Bool {
        switch self {
        case .nameTaken, .notTheTarget: true
        default: false
        }
    }
}
