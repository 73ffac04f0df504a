import Foundation

/// Turns the unified catalogue into a merge plan: one canonical copy per content, its place in
/// the target, an action per other copy, and a reason for each choice.
///
/// Planning reads nothing from disk and never prints. The same input and settings give the
/// same plan, whatever order the assets and copies come in.
public struct Planner: Sendable {
    public let settings: PlanSettings
    let template: LayoutTemplate
    let chooser: CanonicalChooser

    public init(settings: PlanSettings) throws(PlanError) {
        self.settings = settings
        template = try LayoutTemplate(settings.layout)
        chooser = try CanonicalChooser(rules: settings.canonicalRules)
        try Self.checkAbsolute(settings.targetRoot, "the target")
        if let q = settings.quarantineRoot { try Self.checkAbsolute(q, "the quarantine folder") }
    }

    static func checkAbsolute(_ path: FilePath, _ what: String) throws(PlanError) {
        guard path.bytes.first == 0x2F else { throw .invalidSettings("\(what) must be an absolute path: \(path.display)") }
        guard !path.bytes.contains(0) else { throw .invalidSettings("\(what) holds a NUL byte: \(path.display)") }
    }

    /// One content's decisions before operations are numbered.
    struct Placed {
        var asset: ReconciledAsset
        var canonical: AssetCopy
        var choiceReason: String
        var dateOrigin: String
        var dateSource: PlanDateSource
        /// The destination the layout gave, then the one after collisions.
        var wanted: [String]
        var final: [String]
        var renamedBecause: String?
        var sidecar: [String]?
        /// Placed in a kept folder (`--keep-folders`, see `KeptFolders`), not by the layout.
        var keptFolder: FolderRef? = nil
        /// Another copy of a content already placed, carried to its own place in a kept folder
        /// that holds the content more than once (no duplicate actions of its own).
        var extra = false
    }

    public func plan(_ input: PlanInput) throws(PlanError) -> MergePlan {
        // Silos by name.
        var silos: [[UInt8]: PlanSilo] = [:]     // by exact name bytes (see `String.exactBytes`)
        for s in input.silos {
            guard silos[s.name.exactBytes] == nil else { throw .invalidSettings("silo '\(s.name)' is listed twice") }
            silos[s.name.exactBytes] = s
        }
        let quarantineRoot = settings.effectiveQuarantineRoot
        for s in input.silos {
            if s.root.contains(settings.targetRoot) || settings.targetRoot.contains(s.root) {
                throw .invalidSettings("the target \(settings.targetRoot.display) overlaps silo '\(s.name)' (\(s.root.display)); the merged tree must be outside every silo")
            }
            if settings.duplicates == .quarantine || settings.derivatives == .keepMaster,
               s.root.contains(quarantineRoot) || quarantineRoot.contains(s.root) {
                throw .invalidSettings("the quarantine folder \(quarantineRoot.display) overlaps silo '\(s.name)' (\(s.root.display))")
            }
        }

        // Rot is never planned: a file whose content is not the one last verified (corruption
        // still open) would be carried as it reads now, and counted as a copy of that.
        if !input.unverified.isEmpty { throw .openCorruption(input.unverified) }
        let unverified = Set(input.unverified.map(\.key))

        // One asset per content, in SHA-256 order. A content given twice is merged: all copies,
        // and the fields of the record with most of them (ties: the one whose first copy sorts
        // first), so the input order never matters.
        var bySHA: [SHA256Digest: [ReconciledAsset]] = [:]
        for a in input.assets where !a.copies.isEmpty { bySHA[a.sha256, default: []].append(a) }
        let assets: [ReconciledAsset] = bySHA.values.map { records in
            guard records.count > 1 else { return records[0] }
            let first: (ReconciledAsset) -> AssetCopy = { $0.copies.min(by: CanonicalChooser.stableOrder)! }
            var base = records.min { a, b in
                a.fields.count != b.fields.count ? a.fields.count > b.fields.count : CanonicalChooser.stableOrder(first(a), first(b))
            }!
            base.copies = Array(Set(records.flatMap(\.copies))).sorted(by: CanonicalChooser.stableOrder)
            return base
        }.sorted { $0.sha256 < $1.sha256 }
        for a in assets {
            for c in a.copies where silos[c.silo.exactBytes] == nil { throw .unknownSilo(name: c.silo, asset: a.shortID) }
        }
        // Each copy is on its silo's host: a physical file is (host, device, inode), so equal
        // device and inode numbers on two hosts are two files, never hard links of one.
        let hostedAssets = assets.map { a in
            var a = a
            for i in a.copies.indices { a.copies[i].host = silos[a.copies[i].silo.exactBytes]?.host?.id }
            return a
        }
        let hosted = input.silos.contains { $0.host != nil }
        if hosted, let bare = input.silos.first(where: { $0.host == nil }) {
            throw .invalidSettings("silo '\(bare.name)' records no host while other silos do (catalogued before hosts were recorded): scan it again on the machine it is on, then plan again")
        }
        return try plan(input, assets: hostedAssets, hosted: hosted, unverified: unverified, silos: silos, quarantineRoot: quarantineRoot)
    }

    func plan(_ input: PlanInput, assets: [ReconciledAsset], hosted: Bool, unverified: Set<[UInt8]>,
              silos: [[UInt8]: PlanSilo], quarantineRoot: FilePath) throws(PlanError) -> MergePlan {

        // Conflicts.
        let conflicts = Self.conflicts(assets)
        if !conflicts.isEmpty && !settings.allowConflicts { throw .unresolvedConflicts(conflicts) }

        // Canonical copies and wanted destinations.
        var placed: [Placed] = []
        let keptFolders = settings.keepFolders
            ? KeptFolders(groups: input.folderGroups, assets: assets, silos: silos, chooser: chooser, unverified: unverified) : nil
        for asset in assets {
            guard let choice = chooser.choose(asset, unverified: unverified) else {
                if !asset.copies.isEmpty { throw .openCorruption(input.unverified) }
                continue
            }
            let date = AssetDate(asset: asset, mtimeNs: choice.copy.mtimeNs)
            if let keptFolders, !keptFolders.isEmpty {
                let kept = keptFolders.placements(of: asset, chooser: chooser, unverified: unverified)
                if !kept.isEmpty {
                    for k in kept {
                        placed.append(Placed(asset: asset, canonical: k.copy, choiceReason: k.reason, dateOrigin: date.origin,
                                             dateSource: date.source, wanted: k.destination, final: k.destination,
                                             keptFolder: k.folder, extra: k.extra))
                    }
                    continue
                }
            }
            let values = LayoutTemplate.Values(
                silo: choice.copy.silo, path: choice.copy.path, sha256: asset.sha256.hex,
                year: date.year, month: date.month, day: date.day,
                creator: Self.first(asset, .creator), keyword: Self.first(asset, .keywords),
                format: asset.format.rawValue)
            let wanted = template.render(values)
            placed.append(Placed(asset: asset, canonical: choice.copy, choiceReason: choice.reason,
                                 dateOrigin: date.origin, dateSource: date.source, wanted: wanted, final: wanted))
        }

        // --derivatives keep-master: the derivatives the rules let go leave the placements.
        var derivatives: [DerivativePlan.Quarantined] = []
        if settings.derivatives == .keepMaster {
            derivatives = DerivativePlan(groups: input.derivativeGroups, assets: assets).apply(to: &placed)
        }

        if let keptFolders, !keptFolders.isEmpty {
            try KeptFolders.checkReserved(placed, quarantineInTarget: Self.relative(quarantineRoot, in: settings.targetRoot))
        }

        // Collisions.
        var names = NameTable()
        if let inside = Self.relative(quarantineRoot, in: settings.targetRoot) {
            names.reserveDirectory(inside)
        }
        let collisions = names.assign(&placed)

        // Original sidecars beside their files, then generated sidecars, then the manifest
        // (files keep their names; what is generated gives way).
        var leftBehind: [LeftBehind] = []
        var unplanned: [[UInt8]: String] = [:]
        for d in derivatives {
            for c in d.asset.copies {
                unplanned[c.silo.exactBytes + [0] + c.path.bytes] = "a derivative of \(d.link.masterImage.silo):\(d.link.masterImage.path.display) moved to the quarantine folder (--derivatives keep-master)"
            }
        }
        let carried = carrySidecars(input.sidecars, placed: placed, silos: silos, names: &names, leftBehind: &leftBehind,
                                    unplanned: unplanned)
        if settings.writeSidecars {
            for i in placed.indices where placed[i].asset.format != .xmp {
                placed[i].sidecar = names.claimSidecar(for: placed[i].final, sha: placed[i].asset.sha256.hex)
            }
        }
        var manifestDestination: [String]? = nil
        var exiftoolDestination: [String]? = nil
        if settings.writeManifest {
            manifestDestination = names.claimManifest()
            exiftoolDestination = names.claimExifToolManifest()
        }

        // Operations: transfers by destination, then sidecars, the manifest, duplicate actions.
        var transfers: [(placedIndex: Int, op: PlanOperation, key: [UInt8])] = []
        for (i, p) in placed.enumerated() {
            let dest = RelativePath(p.final.joined(separator: "/"))
            var reason = "canonical copy: \(p.choiceReason)"
            if template.usesDate && p.keptFolder == nil { reason += "; \(p.dateOrigin)" }
            if let why = p.renamedBecause { reason += "; \(why)" }
            if settings.transfer == .move { reason += "; moved out of its silo once verified in the target" }
            let canonicalFile = p.canonical.physicalFile
            let links = settings.transfer != .move ? [] : p.asset.copies
                .filter { $0 != p.canonical && $0.physicalFile == canonicalFile }
                .sorted(by: CanonicalChooser.stableOrder)
                .map { SiloName(silo: $0.silo, path: $0.path) }
            let op = PlanOperation(id: 0, kind: OperationKind(rawValue: settings.transfer.rawValue)!,
                                   source: Self.source(p.canonical, asset: p.asset, silos: silos),
                                   destination: dest,
                                   fallbackToCopy: settings.transfer == .hardlink && settings.hardlinkFallbackToCopy,
                                   hardLinks: links, dateSource: template.usesDate && p.keptFolder == nil ? p.dateSource : nil, reason: reason)
            transfers.append((i, op, dest.bytes))
        }
        transfers.sort { $0.key.lexicographicallyPrecedes($1.key) }

        var operations: [PlanOperation] = []
        var transferID: [Int: Int] = [:]       // placed index → op id
        for t in transfers {
            var op = t.op
            op.id = operations.count + 1
            transferID[t.placedIndex] = op.id
            operations.append(op)
        }
        for c in carried.sorted(by: { $0.destination.bytes.lexicographicallyPrecedes($1.destination.bytes) }) {
            operations.append(PlanOperation(id: operations.count + 1, kind: c.kind, source: c.source, destination: c.destination,
                                            canonicalOp: transferID[c.placedIndex],
                                            fallbackToCopy: c.kind == .sidecarHardlink && settings.hardlinkFallbackToCopy,
                                            reason: c.reason))
        }
        if settings.writeSidecars {
            let sidecarOrder = placed.indices.filter { placed[$0].sidecar != nil }
                .sorted { placed[$0].sidecar!.joined(separator: "/").utf8.lexicographicallyPrecedes(placed[$1].sidecar!.joined(separator: "/").utf8) }
            for i in sidecarOrder {
                let p = placed[i]
                let text = PlanSidecars.xmpPacket(for: p.asset)
                operations.append(PlanOperation(
                    id: operations.count + 1, kind: .xmpSidecar, destination: RelativePath(p.sidecar!.joined(separator: "/")),
                    canonicalOp: transferID[i], content: text, contentSHA256: Self.sha(text),
                    reason: "reconciled metadata of \(p.final.joined(separator: "/")) (\(p.asset.fields.filter { $0.value != nil && $0.status != .conflict }.count) fields)"))
            }
        }
        if let m = manifestDestination {
            let rows = transfers.map { t in
                (destination: placed[t.placedIndex].final.joined(separator: "/"), asset: placed[t.placedIndex].asset,
                 source: "\(placed[t.placedIndex].canonical.silo):\(placed[t.placedIndex].canonical.path.display)",
                 mtimeNs: placed[t.placedIndex].canonical.mtimeNs)
            }
            let text = PlanSidecars.manifest(rows: rows)
            operations.append(PlanOperation(id: operations.count + 1, kind: .importManifest,
                                            destination: RelativePath(m.joined(separator: "/")),
                                            content: text, contentSHA256: Self.sha(text),
                                            reason: "DAM import manifest: one row per file in the target (\(Format.plural(rows.count, "row")))"))
        }
        if let m = exiftoolDestination {
            // The same reconciled fields as ExifTool JSON, `SourceFile` naming each file in the
            // target: `exiftool -j=silomerge-exiftool.json TARGET` writes them into the files.
            var records: [String] = []
            for t in transfers {
                var asset = placed[t.placedIndex].asset
                let dest = RelativePath(placed[t.placedIndex].final.joined(separator: "/"))
                guard var copy = asset.copies.first else { continue }
                copy.absolutePath = settings.targetRoot.appending(dest)
                asset.copies = [copy]
                records += ExportWriter.exiftoolObjects(for: asset)
            }
            let text = "[" + records.map { "\n" + $0 }.joined(separator: ",") + (records.isEmpty ? "]\n" : "\n]\n")
            operations.append(PlanOperation(id: operations.count + 1, kind: .importManifest,
                                            destination: RelativePath(m.joined(separator: "/")),
                                            content: text, contentSHA256: Self.sha(text),
                                            reason: "ExifTool JSON of the reconciled metadata for the target (\(Format.plural(records.count, "file"))): exiftool -j=FILE TARGET"))
        }

        // Duplicate actions, and what the silos keep.
        var duplicates: [(op: PlanOperation, silo: String, path: RelativePath)] = []
        // The copies each content has placed (more than one in a kept folder that holds it twice).
        var placedCopies: [SHA256Digest: [AssetCopy]] = [:]
        for p in placed { placedCopies[p.asset.sha256, default: []].append(p.canonical) }
        for (i, p) in placed.enumerated() {
            let canonicalID = p.canonical.physicalFile
            let destination = p.final.joined(separator: "/")
            let canonicalLabel = "\(p.canonical.silo):\(p.canonical.path.display)"
            func stays(_ copy: AssetCopy, _ reason: LeftBehindReason, _ detail: String) {
                leftBehind.append(LeftBehind(silo: copy.silo, path: copy.path, size: copy.size, reason: reason, detail: detail))
            }
            switch settings.transfer {
            case .move: break
            case .copy: stays(p.canonical, .copied, "copied into the target as \(destination) (--method copy); the source stays")
            case .reflink: stays(p.canonical, .copied, "cloned into the target as \(destination) (--method reflink); the source stays")
            case .hardlink: stays(p.canonical, .copied, "hard-linked into the target as \(destination) (--method hardlink): one file under two names")
            }
            guard !p.extra else { continue }
            let carried = placedCopies[p.asset.sha256] ?? [p.canonical]
            let carriedFiles = Set(carried.map(\.physicalFile))
            let others = p.asset.copies.filter { !carried.contains($0) }.sorted(by: CanonicalChooser.stableOrder)
            let namesPerFile = Dictionary(grouping: others, by: \.physicalFile).mapValues(\.count)
            for copy in others {
                let id = copy.physicalFile
                if id == canonicalID || carriedFiles.contains(id) {
                    stays(copy, .hardLink, "another name (hard link) of \(canonicalLabel), which is \(settings.transfer == .move ? "moved" : "carried") to \(destination): one file, not a separate copy")
                    continue
                }
                // A duplicate on another host than its canonical copy is kept: acting on it
                // would wait on another host's apply, which this one can neither see nor hold
                // back (an undo there would leave the content with no copy).
                if settings.duplicates != .keep, copy.host != p.canonical.host {
                    let there = silos[copy.silo.exactBytes]?.host.map { "\($0)" } ?? "?"
                    let canonicalHost = silos[p.canonical.silo.exactBytes]?.host.map { "\($0)" } ?? "?"
                    stays(copy, .duplicateKept, "duplicate of \(canonicalLabel) (→ \(destination)), kept: it is on host \(there), its canonical copy on host \(canonicalHost); a host acts only on duplicates of copies it carries itself")
                    continue
                }
                let kind: OperationKind
                let what: String
                switch settings.duplicates {
                case .keep:
                    stays(copy, .duplicateKept, "duplicate of \(canonicalLabel) (→ \(destination)), kept (--duplicates keep)")
                    continue
                case .hardlink:
                    kind = .linkDuplicate; what = "replaced by a hard link to the canonical copy in the target"
                    stays(copy, .linkedDuplicate, "duplicate of \(canonicalLabel): replaced by a hard link to \(destination) in the target")
                case .remove: kind = .removeDuplicate; what = "removed"
                case .quarantine: kind = .quarantineDuplicate; what = "moved to the quarantine folder"
                }
                var reason = "duplicate of \(canonicalLabel) (canonical, → \(destination)); \(what) once the canonical copy is verified in the target"
                if let n = namesPerFile[id], n > 1 { reason += "; one of \(n) names of one file, each acted on" }
                var quarantined: RelativePath? = nil
                if kind == .quarantineDuplicate {
                    quarantined = RelativePath(NameSanitizer.component(copy.silo)).appending(copy.path.bytes)
                }
                let op = PlanOperation(id: 0, kind: kind, source: Self.source(copy, asset: p.asset, silos: silos),
                                       destination: quarantined, canonicalOp: transferID[i], reason: reason)
                duplicates.append((op, copy.silo, copy.path))
            }
        }
        // Every copy of each quarantined derivative, following its master's transfer.
        var masterIndex: [SHA256Digest: Int] = [:]
        for (i, p) in placed.enumerated() where !p.extra && masterIndex[p.asset.sha256] == nil { masterIndex[p.asset.sha256] = i }
        for d in derivatives {
            guard let m = masterIndex[d.master], let masterOp = transferID[m] else {
                // Never: a derivative leaves the placements only while its master stays.
                throw .invalidPlan([PlanProblem(path: d.asset.shortID, reason: "a derivative taken out of the plan has no master transfer")])
            }
            for op in DerivativePlan.operations(d, masterOp: masterOp, masterCopy: placed[m].canonical,
                                                masterDestination: placed[m].final.joined(separator: "/"), silos: silos) {
                duplicates.append((op, op.source!.silo, op.source!.path))
            }
        }
        duplicates.sort { a, b in
            !a.silo.utf8.elementsEqual(b.silo.utf8) ? a.silo.utf8.lexicographicallyPrecedes(b.silo.utf8) : a.path < b.path
        }
        for d in duplicates {
            var op = d.op
            op.id = operations.count + 1
            operations.append(op)
        }

        let plan = MergePlan(
            createdAt: Timestamp.string(input.createdAt), catalogue: input.catalogueIdentity, scanRunID: input.scanRunID,
            targetRoot: settings.targetRoot, quarantineRoot: quarantineRoot,
            targetAnchor: input.targetAnchor, quarantineAnchor: input.quarantineAnchor, settings: settings,
            silos: input.silos.sorted { $0.priority != $1.priority ? $0.priority < $1.priority : $0.name < $1.name },
            operations: operations, collisions: collisions, conflicts: settings.allowConflicts ? conflicts : [],
            leftBehind: Self.sortedLeftBehind(leftBehind + Self.leftOut(input)), plannedOn: hosted ? input.plannedOn : nil)
        let problems = PlanValidator.problems(in: plan)
        guard problems.isEmpty else { throw .invalidPlan(problems) }
        return plan
    }

    // MARK: what stays in the silos

    /// Catalogued files without a hash and what the scans did not catalogue: left behind.
    static func leftOut(_ input: PlanInput) -> [LeftBehind] {
        var out: [LeftBehind] = []
        for u in input.unhashed {
            if let problem = u.problem {
                out.append(LeftBehind(silo: u.silo, path: u.path, size: u.size, reason: .unreadable,
                                      detail: "the last scan could not read it (\(problem)): it has no hash, so it is not planned"))
            } else {
                out.append(LeftBehind(silo: u.silo, path: u.path, size: u.size, reason: .unhashed,
                                      detail: "no full hash (catalogued with --hash dupes, which never reads a file whose size nothing else has): not planned; scan with --hash full to plan it"))
            }
        }
        for u in input.uncatalogued {
            out.append(LeftBehind(silo: u.silo, path: u.path, kind: u.kind, size: u.size, reason: LeftBehindReason(u.reason), detail: u.detail))
        }
        return out
    }

    /// By silo, then path bytes; one entry per name (the first reason given wins).
    static func sortedLeftBehind(_ entries: [LeftBehind]) -> [LeftBehind] {
        var seen: Set<[UInt8]> = []
        return entries.filter { seen.insert($0.silo.exactBytes + [0] + $0.path.bytes).inserted }.sorted { a, b in
            !a.silo.utf8.elementsEqual(b.silo.utf8) ? a.silo.utf8.lexicographicallyPrecedes(b.silo.utf8) : a.path < b.path
        }
    }

    /// An original sidecar brought beside its canonical copy.
    struct CarriedSidecar {
        var placedIndex: Int
        var kind: OperationKind
        var source: PlanSource
        var destination: RelativePath
        var reason: String
    }

    /// Original XMP sidecars: those of a canonical copy travel beside it (by the transfer
    /// method; a sidecar several files share is copied beside each and stays); the others stay,
    /// each listed with why. Names beside the destination keep the sidecar's association:
    /// `name.ext.xmp` stays `<destination name>.xmp`, `name.xmp` becomes `<destination stem>.xmp`
    /// unless another file of that folder shares the stem, then `<destination name>.xmp`.
    func carrySidecars(_ records: [SidecarFileRecord], placed: [Placed], silos: [[UInt8]: PlanSilo], names: inout NameTable,
                       leftBehind: inout [LeftBehind], unplanned: [[UInt8]: String] = [:]) -> [CarriedSidecar] {
        guard !records.isEmpty else { return [] }
        func key(_ silo: String, _ path: RelativePath) -> [UInt8] { silo.exactBytes + [0] + path.bytes }
        // Every copy the plan knows: which content it is, and whether it is the canonical one.
        var copies: [[UInt8]: (index: Int, canonical: Bool)] = [:]
        for (i, p) in placed.enumerated() {
            // A content placed more than once (a kept folder holding it twice): each placed copy
            // is canonical for its own sidecars.
            for c in p.asset.copies where c == p.canonical || copies[key(c.silo, c.path)] == nil {
                copies[key(c.silo, c.path)] = (i, c == p.canonical)
            }
        }
        // Stems shared by several files in one target folder: `stem.xmp` would belong to each.
        var stems: [[UInt8]: Int] = [:]
        for p in placed {
            let (stem, _) = NameSanitizer.splitExtension(p.final.last!)
            stems[NameTable.key(Array(p.final.dropLast()) + [stem]), default: 0] += 1
        }
        var bySidecar: [[UInt8]: [SidecarFileRecord]] = [:]
        for r in records { bySidecar[key(r.silo, r.path), default: []].append(r) }
        var out: [CarriedSidecar] = []
        for k in bySidecar.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let rows = bySidecar[k]!.sorted { $0.assetPath < $1.assetPath }
            let r = rows[0]
            let owners = rows.compactMap { copies[key($0.silo, $0.assetPath)] }
            let canonical = Array(Set(owners.filter(\.canonical).map(\.index))).sorted()
            let ownerNames = rows.map { String(decoding: $0.assetPath.lastComponent, as: UTF8.self) }.joined(separator: ", ")
            func stays(_ reason: LeftBehindReason, _ detail: String) {
                leftBehind.append(LeftBehind(silo: r.silo, path: r.path, size: r.size, reason: reason, detail: detail))
            }
            guard !canonical.isEmpty else {
                if let o = owners.first {
                    let p = placed[o.index]
                    stays(.sidecarOfDuplicate, "XMP sidecar of \(ownerNames), a duplicate of \(p.canonical.silo):\(p.canonical.path.display) (→ \(p.final.joined(separator: "/"))); stays beside it")
                } else if let why = rows.lazy.compactMap({ unplanned[key($0.silo, $0.assetPath)] }).first {
                    stays(.sidecarOfUnplanned, "XMP sidecar of \(ownerNames), \(why); stays in the silo")
                } else {
                    stays(.sidecarOfUnplanned, "XMP sidecar of \(ownerNames), which the plan does not carry (no full hash)")
                }
                continue
            }
            let firstOwner = placed[canonical[0]]
            let ownerLabel = "\(firstOwner.canonical.silo):\(firstOwner.canonical.path.display)"
            guard settings.carrySidecars else {
                stays(.sidecarNotCarried, "original XMP sidecar of \(ownerLabel), not carried (--no-sidecars)")
                continue
            }
            guard let sha = r.sha256 else {
                stays(.sidecarNotHashed, "original XMP sidecar of \(ownerLabel); the last scan did not read it (metadata off), so it cannot be carried verified: scan with metadata, then plan again")
                continue
            }
            let shared = rows.count > 1
            let kind: OperationKind = shared ? .sidecarCopy : .sidecar(settings.transfer)
            var placedAt: [String] = []
            for index in canonical {
                let p = placed[index]
                let folder = Array(p.final.dropLast())
                let name = p.final.last!
                let (stem, _) = NameSanitizer.splitExtension(name)
                let stemShared = (stems[NameTable.key(folder + [stem])] ?? 0) > 1
                let exact = NameSanitizer.component(NameTable.suffixed(name + ".xmp", ""))
                let byStem = NameSanitizer.component(NameTable.suffixed(stem + ".xmp", ""))
                let natural = r.form == .nameWithExtension || stemShared ? [exact, byStem] : [byStem, exact]
                let candidates = natural + [NameSanitizer.component(NameTable.suffixed(stem + ".xmp", "-" + String(sha.hex.prefix(8)))),
                                            NameSanitizer.component(NameTable.suffixed(stem + ".xmp", "-" + sha.hex))]
                guard let chosen = names.claim(candidates.map { folder + [$0] }) else {
                    stays(.sidecarNotCarried, "original XMP sidecar of \(ownerLabel): no free name beside \(p.final.joined(separator: "/"))")
                    continue
                }
                let destination = chosen.joined(separator: "/")
                var reason = "original XMP sidecar (\(r.form.rawValue)) of \(p.canonical.silo):\(p.canonical.path.display), beside it at \(p.final.joined(separator: "/"))"
                if chosen.last! != natural[0] { reason += "; named \(chosen.last!) (\(natural[0]) is taken)" }
                if shared {
                    reason += "; it belongs to \(rows.count) files (\(ownerNames)): copied beside each, the original stays"
                } else if kind == .sidecarMove {
                    reason += "; moved out of its silo once verified in the target"
                }
                let source = PlanSource(silo: r.silo, siloRoot: silos[r.silo.exactBytes]!.root, path: r.path, size: r.size,
                                        mtimeNs: r.mtimeNs, device: r.device, inode: r.inode, sha256: sha.hex)
                out.append(CarriedSidecar(placedIndex: index, kind: kind, source: source, destination: RelativePath(destination), reason: reason))
                placedAt.append(destination)
            }
            guard !placedAt.isEmpty else { continue }
            if shared {
                stays(.sidecarShared, "XMP sidecar of \(ownerNames): copied beside each file the plan carries (\(placedAt.joined(separator: ", "))); the original stays for the others")
            } else if kind != .sidecarMove {
                stays(.copied, "original XMP sidecar of \(ownerLabel), carried into the target as \(placedAt[0]) (--method \(settings.transfer.rawValue)); the source stays")
            }
        }
        return out
    }

    // MARK: helpers

    static func source(_ copy: AssetCopy, asset: ReconciledAsset, silos: [[UInt8]: PlanSilo]) -> PlanSource {
        PlanSource(silo: copy.silo, siloRoot: silos[copy.silo.exactBytes]!.root, path: copy.path, size: copy.size,
                   mtimeNs: copy.mtimeNs, device: copy.device, inode: copy.inode, sha256: asset.sha256.hex)
    }

    static func first(_ asset: ReconciledAsset, _ field: UnifiedField) -> String? {
        guard let f = asset.field(field), f.status != .conflict, let v = f.value else { return nil }
        return v.list?.first ?? v.text
    }

    static func sha(_ text: String) -> String {
        (try? SHA256Hasher.digest(Array(text.utf8)).hex) ?? ""
    }

    static func relative(_ inner: FilePath, in outer: FilePath) -> [String]? {
        guard outer.contains(inner), inner.bytes.count > outer.bytes.count else { return nil }
        var rest = Array(inner.bytes.dropFirst(outer.bytes.count))
        while rest.first == 0x2F { rest.removeFirst() }
        return RelativePath(bytes: rest).components.map { NameSanitizer.text(fromBytes: $0) }
    }

    static func conflicts(_ assets: [ReconciledAsset]) -> [PlanConflict] {
        var out: [PlanConflict] = []
        for a in assets {
            let first = a.copies.sorted(by: CanonicalChooser.stableOrder).first
            let label = first.map { "\($0.silo):\($0.path.display)" } ?? a.shortID
            for f in a.fields where f.status == .conflict {
                var values: [String] = []
                for s in f.sources {
                    let v = "\(PlanSidecars.display(s.value)) (\(s.silo):\(s.path.display), \(s.origin.rawValue))"
                    if !values.contains(v) { values.append(v) }
                }
                out.append(PlanConflict(sha256: a.sha256.hex, asset: label, field: f.field.rawValue, values: values))
            }
        }
        return out
    }
}

/// The names taken in the target, compared as a case-insensitive, normalising file system would.
struct NameTable {
    /// Keys of files, and of folders (every proper prefix of a destination).
    var files: Set<[UInt8]> = []
    var directories: Set<[UInt8]> = []
    /// The spelling of each folder, by key: the first content (by SHA-256) to use a folder
    /// decides how it is spelt, so `Photos/` and `photos/` become one folder everywhere.
    var spelling: [[UInt8]: String] = [:]

    static func key(_ components: [String]) -> [UInt8] { NameSanitizer.collisionKey(components.joined(separator: "/")) }

    mutating func reserveDirectory(_ components: [String]) {
        for n in 1...max(1, components.count) where n <= components.count {
            directories.insert(Self.key(Array(components.prefix(n))))
        }
    }

    /// Folders spelt consistently, then files assigned in SHA-256 order: in each group of
    /// contents that want one name, the first by SHA-256 keeps it, the others get
    /// `-<sha256:8>` before the extension (longer if that is taken too).
    mutating func assign(_ placed: inout [Planner.Placed]) -> [PlanCollision] {
        for i in placed.indices {
            var spelled: [String] = []
            let parts = placed[i].final
            for level in parts.dropLast() {
                let k = Self.key(spelled + [level])
                if let s = spelling[k] { spelled.append(s) } else { spelling[k] = level; spelled.append(level) }
            }
            spelled.append(parts.last!)
            placed[i].final = spelled
            placed[i].wanted = spelled
            reserveDirectory(Array(spelled.dropLast()))
        }
        var groups: [[UInt8]: [Int]] = [:]
        for i in placed.indices { groups[Self.key(placed[i].final), default: []].append(i) }
        // Keys in a fixed order; members in SHA-256 order (placed is sorted by SHA-256).
        let keys = groups.keys.sorted { $0.lexicographicallyPrecedes($1) }
        var losers: [(index: Int, key: [UInt8])] = []
        for k in keys {
            let members = groups[k]!
            if directories.contains(k) {
                losers += members.map { ($0, k) }
            } else {
                files.insert(k)
                losers += members.dropFirst().map { ($0, k) }
            }
        }
        var renamed: [[UInt8]: [Int]] = [:]
        for (index, k) in losers.sorted(by: { placed[$0.index].asset.sha256 < placed[$1.index].asset.sha256 }) {
            let sha = placed[index].asset.sha256.hex
            let parts = placed[index].final
            var chosen = parts
            for length in [8, 16, 64] {
                let name = NameSanitizer.component(NameTable.suffixed(parts.last!, "-" + String(sha.prefix(length))))
                chosen = Array(parts.dropLast()) + [name]
                if !files.contains(Self.key(chosen)) && !directories.contains(Self.key(chosen)) { break }
            }
            files.insert(Self.key(chosen))
            placed[index].final = chosen
            renamed[k, default: []].append(index)
        }
        var out: [PlanCollision] = []
        for k in keys where renamed[k] != nil {
            let members = groups[k]!
            let isDir = directories.contains(k)
            let entries = members.map { i in
                PlanCollision.Entry(sha256: placed[i].asset.sha256.hex,
                                    source: "\(placed[i].canonical.silo):\(placed[i].canonical.path.display)",
                                    destination: placed[i].final.joined(separator: "/"))
            }
            let contested = placed[members[0]].wanted.joined(separator: "/")
            let reason = isDir
                ? "the name is a folder in the target; every file wanting it gets -<sha256:8>"
                : "\(Format.plural(members.count, "content")) want this name (names are compared after Unicode normalisation and case folding); the first by SHA-256 keeps it, the others get -<sha256:8>"
            for i in members where placed[i].final != placed[i].wanted {
                placed[i].renamedBecause = "renamed from \(contested): another content has that name"
            }
            out.append(PlanCollision(destination: contested, entries: entries, reason: reason))
        }
        return out
    }

    /// `name` with `suffix` before its extension, shortened to fit in 255 bytes.
    static func suffixed(_ name: String, _ suffix: String) -> String {
        let (stem, ext) = NameSanitizer.splitExtension(name)
        let keepExt = ext.utf8.count <= NameSanitizer.maxKeptExtensionBytes ? ext : ""
        let body = keepExt.isEmpty ? name : stem
        let room = NameSanitizer.maxComponentBytes - suffix.utf8.count - keepExt.utf8.count
        let head = body.utf8.count <= room ? body : NameSanitizer.shorten(body, to: room)
        return head + suffix + keepExt
    }

    mutating func claim(_ candidates: [[String]]) -> [String]? {
        for c in candidates {
            let k = Self.key(c)
            if !files.contains(k) && !directories.contains(k) { files.insert(k); return c }
        }
        return nil
    }

    /// `stem.xmp` (Adobe's convention); `name.ext.xmp` when that is taken (another format of
    /// the same stem); `stem-<sha8>.xmp` last.
    mutating func claimSidecar(for destination: [String], sha: String) -> [String]? {
        let folder = Array(destination.dropLast())
        let name = destination.last!
        let (stem, _) = NameSanitizer.splitExtension(name)
        let candidates = [
            NameSanitizer.component(NameTable.suffixed(stem + ".xmp", "")),
            NameSanitizer.component(NameTable.suffixed(name + ".xmp", "")),
            NameSanitizer.component(NameTable.suffixed(stem + ".xmp", "-" + String(sha.prefix(8)))),
            NameSanitizer.component(NameTable.suffixed(stem + ".xmp", "-" + sha)),
        ]
        return claim(candidates.map { folder + [$0] })
    }

    mutating func claimManifest() -> [String]? {
        claim((1...99).map { $0 == 1 ? ["silomerge-manifest.csv"] : ["silomerge-manifest-\($0).csv"] })
    }

    mutating func claimExifToolManifest() -> [String]? {
        claim((1...99).map { $0 == 1 ? ["silomerge-exiftool.json"] : ["silomerge-exiftool-\($0).json"] })
    }
}
