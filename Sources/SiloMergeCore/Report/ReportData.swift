import Foundation

extension HTMLReportData {
    /// Everything the audit page shows, from the catalogue: figures, overlap, formats, the
    /// largest groups, same-image groups, conflicts (after reconciling with the stored
    /// policies and resolutions) and the latest check. Lists stop at `rowLimit`; totals count all.
    /// Only reads the catalogue: conflicts come from a reconciliation that stores nothing, with
    /// `policies` when given, else the stored ones. The similar images get thumbnails from
    /// `thumbnailer` (none when nil), which reads the silos' image files, and nothing else.
    public static func gather(store: any CatalogueStore, rowLimit: Int, now: Date = Date(),
                              policies: [UnifiedField: ReconcilePolicy]? = nil, rules: [ReconcileRule]? = nil,
                              derivatives: DerivativeMode? = nil, plan: MergePlan? = nil, thumbnailer: (any ImageThumbnailing)? = nil) throws -> HTMLReportData {
        let query = DuplicateQuery()
        let analysis = try store.analyse(query, top: rowLimit)
        let silos = try store.silos()

        // Per silo: what keeping the best-priority silo's copy of every group would free there.
        var reclaimable: [String: Int64] = [:]
        var duplicatedBytes: Int64 = 0
        var shares: [(ext: String, oldestNs: Int64, reclaimable: Int64)] = []
        try store.forEachDuplicateGroup(query) { g in
            let name = g.files.first.map { String(decoding: $0.path.lastComponent, as: UTF8.self) } ?? ""
            let ext = name.contains(".") ? (name.split(separator: ".").last.map { $0.lowercased() } ?? "") : "(none)"
            shares.append((ext.isEmpty ? "(none)" : ext, g.files.map(\.mtimeNs).min() ?? 0, g.reclaimableBytes))
            var seen = Set<FileID>()
            for f in g.files where seen.insert(FileID(device: f.device, inode: f.inode)).inserted {
                duplicatedBytes += g.size
                if seen.count > 1 { reclaimable[f.silo, default: 0] += g.size }
            }
            return true
        }

        var conflicts: [ConflictRow] = []
        var conflictCount = 0
        var management = Management()
        var conflicted: [ReconciledAsset] = []
        var ruleCounts: [String: Int] = [:]
        let summary = try Reconciliation.run(store: store, policies: policies, rules: rules, derivatives: derivatives,
                                                  record: false) { asset in
            for f in asset.fields {
                switch (f.status, f.rule) {
                case (.agreed, _): management.agreed += 1
                case (.resolved, .manual): management.byPerson += 1
                case (.resolved, .rule(let label)): management.byRule += 1; ruleCounts[label, default: 0] += 1
                case (.resolved, _): management.byPolicy += 1
                default: break
                }
            }
            if asset.fields.contains(where: { $0.status == .conflict }) { conflicted.append(asset) }
            for f in asset.fields where f.status == .conflict {
                conflictCount += 1
                guard conflicts.count < rowLimit else { continue }
                conflicts.append(ConflictRow(asset: asset.shortID, field: f.field.rawValue, sources: f.sources.map {
                    .init(silo: $0.silo, path: $0.path.display, origin: $0.origin.rawValue, value: $0.value.display)
                }))
            }
        }

        let images = try store.sameImageGroups(silos: [])
        let runs = try store.runs(limit: nil)
        (management.reclaimableByType, management.reclaimableByAge) = reclaimShares(shares, now: now)
        let digest = ConflictDigest(conflicted)
        management.conflictsByField = digest.byField.map { ($0.field.rawValue, $0.conflicts) }
        management.conflictsBySiloPair = digest.bySiloPair.map { p in
            Management.Pair(silos: p.silos[0] == p.silos[1] ? "\(p.silos[0]) (within itself)" : p.silos.joined(separator: " × "), conflicts: p.conflicts,
                            fields: p.fields.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", "))
        }
        management.rules = ruleCounts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        // Open findings at the end of each run: opened by then and not yet closed.
        let everFound = try store.openFindings(silos: []) + store.closedFindings(limit: 1_000_000)
        management.trends = try runs.filter { [.scan, .audit, .check].contains($0.kind) && $0.finishedAt != nil }.prefix(30).reversed().map { r in
            var t = Management.Trend(run: r.id, kind: r.kind.rawValue, at: r.finishedAt!, status: r.status.rawValue, files: r.counts.files, bytes: r.counts.bytes,
                                     new: r.counts.filesNew, changed: r.counts.filesChanged, gone: r.counts.filesMissing,
                                     findings: r.kind == .check ? try store.findings(runID: r.id).count : nil)
            t.reclaimable = try RunTrends.reclaimable(runID: r.id, in: store)
            t.openFindings = everFound.filter { $0.openedRun <= r.id && ($0.closedRun.map { $0 > r.id } ?? true) }.count
            return t
        }
        management.plan = plan.map(planSummary)
        let lastScan = runs.first { ($0.kind == .scan || $0.kind == .audit) && $0.finishedAt != nil }?.finishedAt
        var check: CheckSection?
        var lastCheck: Date?
        if let last = try store.lastCheck() {
            lastCheck = last.run.finishedAt ?? last.run.startedAt
            var counts: [Finding.Kind: Int] = [:]
            for f in last.findings { counts[f.kind, default: 0] += 1 }
            check = CheckSection(
                finishedAt: lastCheck!,
                countsByKind: Finding.Kind.allCases.compactMap { k in counts[k].map { .init(kind: k.rawValue, count: $0) } },
                findings: last.findings.prefix(rowLimit).map { f in
                    var detail = f.detail ?? ""
                    if f.kind == .moved, let op = f.oldPath { detail = "from \(f.oldSilo ?? f.silo):\(op.display)" + (detail.isEmpty ? "" : "; " + detail) }
                    return .init(kind: f.kind.rawValue, silo: f.silo, path: f.path.display, detail: detail)
                },
                totalFindings: last.findings.count)
        }

        let s = analysis.summary
        let figures = Figures(silos: silos.count, files: s.files, bytes: s.bytes, distinctContents: summary.assets,
                              duplicatedBytes: duplicatedBytes, reclaimableBytes: s.reclaimableBytes,
                              duplicateGroups: s.duplicateGroups, conflicts: conflictCount, lastScan: lastScan, lastCheck: lastCheck)
        let roots = Dictionary(uniqueKeysWithValues: silos.map { ($0.name, $0.root.display) })
        let open = try store.openFindings(silos: []).sorted { $0.openedAt < $1.openedAt }
        var report = HTMLReportData(
            title: "SiloMerge audit", generatedAt: now, toolVersion: SiloMergeVersion.string, catalogue: store.location.display,
            figures: figures,
            silos: analysis.silos.map { st in
                SiloRow(name: st.silo, root: roots[st.silo] ?? "", priority: st.priority, files: st.files, bytes: st.bytes,
                        duplicateBytesInside: st.duplicateBytesInside, sharedBytes: st.sharedBytes,
                        reclaimableBytes: reclaimable[st.silo] ?? 0)
            },
            overlap: analysis.overlap.map { OverlapCell(a: $0.a, b: $0.b, bytes: $0.bytes, contents: $0.contents) },
            formats: try store.formatTotals().map { FormatRow(format: $0.format, files: $0.files, bytes: $0.bytes) },
            largestGroups: analysis.largestGroups.map { g in
                var count: [FileID: Int] = [:]
                for f in g.files { count[FileID(device: f.device, inode: f.inode), default: 0] += 1 }
                return GroupRow(sha256: g.sha256.hex, size: g.size, reclaimableBytes: g.reclaimableBytes, copies: g.files.map { f in
                    .init(silo: f.silo, path: f.path.display, hardLinked: (count[FileID(device: f.device, inode: f.inode)] ?? 0) > 1)
                })
            },
            totalGroups: s.duplicateGroups,
            sameImageGroups: images.prefix(rowLimit).map { g in
                SameImageRow(imageSHA256: g.imageSHA256.hex,
                             copies: g.files.map { .init(silo: $0.silo, path: $0.path.display, sha256: $0.sha256?.hex ?? "not hashed") },
                             fieldsThatDiffer: g.fieldsThatDiffer.map(\.rawValue))
            },
            totalSameImageGroups: images.count,
            conflicts: conflicts, totalConflicts: conflictCount, check: check)
        report.openFindings = open.prefix(rowLimit).map { f in
            var detail = "verified " + (f.verified.sha256.map { String($0.hex.prefix(12)) + "…" } ?? "not hashed")
            detail += f.seen.map { ", reads " + ($0.sha256.map { String($0.hex.prefix(12)) + "…" } ?? "not read") } ?? ", gone"
            if let d = f.detail { detail += "; " + d }
            return .init(kind: f.kind.rawValue, silo: f.silo, path: f.path.display, since: f.openedAt, age: Format.age(f.age(at: now)),
                         openedRun: f.openedRun, detail: detail)
        }
        report.totalOpenFindings = open.count
        let folders = try DuplicateFolders.find(in: store, silos: [], relations: true)
        report.folderGroups = folders.groups.prefix(rowLimit).map { g in
            FolderGroupRow(files: g.files, bytes: g.bytes, reclaimableBytes: g.reclaimableBytes, hash: g.hash.hex,
                           folders: g.folders.map { ($0.silo, $0.display) })
        }
        report.totalFolderGroups = folders.groups.count
        report.folderRelations = folders.relations.prefix(rowLimit).map(FolderRelationRow.init)
        report.totalFolderRelations = folders.relations.count
        report.similar = try similarSection(store: store, silos: silos, rowLimit: rowLimit, thumbnailer: thumbnailer)
        report.management = management
        return report
    }
}
