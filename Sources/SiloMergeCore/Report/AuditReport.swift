import Foundation

/// The ten-second summary `silomerge audit` prints: per silo, across silos, what can be reclaimed.
public struct AuditReport: Sendable {
    public var silos: [SiloStatistics]
    public var overlap: [SiloOverlap]
    public var summary: DuplicateSummary
    public var largestGroups: [DuplicateGroup]
    public var scan: ScanResult?
    /// The same picture in files that differ only in their embedded metadata (known once
    /// metadata was read: `audit --metadata` or a full scan).
    public var sameImageGroups: [SameImageGroup] = []
    /// Duplicate folders (the DUPLICATE FOLDERS section).
    public var duplicateFolders = DuplicateFolders()
    /// File groups left out of `largestGroups` because a folder group reports them (counted
    /// while the `top` groups were gathered: there may be more below them).
    public var fileGroupsInFolders = 0
    /// How many folder groups to list (`top`, at least 5 when there are groups).
    public var topFolders = 0

    /// Gathers the figures for the silos in `query` from the catalogue. Unless `expand`, a
    /// group of files that a duplicate-folder group already reports (`DuplicateFolders.explains`)
    /// is not among the largest groups.
    public init(store: any CatalogueStore, query: DuplicateQuery, top: Int, scan: ScanResult? = nil, expand: Bool = false) throws {
        let analysis = try store.analyse(query, top: top)
        silos = analysis.silos
        overlap = analysis.overlap
        summary = analysis.summary
        largestGroups = analysis.largestGroups
        self.scan = scan
        sameImageGroups = try store.sameImageGroups(silos: query.silos, minimumSize: query.minimumSize)
        duplicateFolders = try DuplicateFolders.find(in: store, silos: query.silos)
        topFolders = max(top, 5)
        if !expand, !duplicateFolders.groups.isEmpty, top > 0 {
            var kept: [DuplicateGroup] = []
            var hidden = 0
            let folders = duplicateFolders
            try store.forEachDuplicateGroup(query) { g in
                if folders.explains(g) { hidden += 1; return true }
                kept.append(g)
                return kept.count < top
            }
            largestGroups = kept
            fileGroupsInFolders = hidden
        }
    }

    /// Bytes shared between two silos (or duplicated inside one when `a == b`).
    public func overlap(_ a: String, _ b: String) -> Int64 {
        overlap.first { ($0.a == a && $0.b == b) || ($0.a == b && $0.b == a) }?.bytes ?? 0
    }

    /// Bytes of content held by two or more silos, each content counted once.
    public var crossSiloBytes: Int64 { summary.crossSiloBytes }

    public func writeText(to sink: ReportSink, width: Int = 100) {
        let names = silos.map(\.silo)
        let totalFiles = silos.reduce(0) { $0 + $1.files }
        let totalBytes = silos.reduce(Int64(0)) { $0 + $1.bytes }
        var head = "SiloMerge audit: \(silos.count) silo\(silos.count == 1 ? "" : "s"), \(Format.plural(totalFiles, "file")), \(Format.bytes(totalBytes))"
        if let scan { head += " (scanned in \(Format.duration(scan.elapsed)))" }
        sink.write(head + "\n\n")

        let nameWidth = max(10, min(24, (names.map(\.count).max() ?? 4) + 2))
        sink.write(Format.pad("SILO", nameWidth) + Format.pad("FILES", 10, right: true) + Format.pad("SIZE", 12, right: true)
                   + Format.pad("DUPLICATED INSIDE", 20, right: true) + Format.pad("ALSO IN OTHER SILOS", 24, right: true) + "\n")
        for s in silos {
            let shared = s.sharedBytes > 0 ? "\(Format.bytes(s.sharedBytes)) (\(Format.plural(s.sharedFiles, "file")))" : "-"
            sink.write(Format.pad(s.silo, nameWidth) + Format.pad(Format.count(s.files), 10, right: true)
                       + Format.pad(Format.bytes(s.bytes), 12, right: true)
                       + Format.pad(s.duplicateBytesInside > 0 ? Format.bytes(s.duplicateBytesInside) : "-", 20, right: true)
                       + Format.pad(shared, 24, right: true) + "\n")
        }

        if silos.count > 1 {
            sink.write("\nOVERLAP: bytes of identical content held by both silos ([inside] the silo itself)\n")
            let column = max(12, min(16, (names.map(\.count).max() ?? 4) + 2))
            sink.write(Format.pad("", nameWidth) + names.map { Format.pad($0, column, right: true) }.joined() + "\n")
            for a in names {
                var line = Format.pad(a, nameWidth)
                for b in names {
                    let bytes = overlap(a, b)
                    let text = a == b ? "[\(bytes > 0 ? Format.bytes(bytes) : "-")]" : (bytes > 0 ? Format.bytes(bytes) : "-")
                    line += Format.pad(text, column, right: true)
                }
                sink.write(line + "\n")
            }
        }

        sink.write("\nRECLAIMABLE: \(Format.bytes(summary.reclaimableBytes)) (\(Format.percent(summary.reclaimableBytes, of: summary.bytes)) of \(Format.bytes(summary.bytes)))"
                   + " in \(Format.plural(summary.duplicateGroups, "duplicate group")), \(Format.plural(summary.redundantCopies, "redundant copy"))\n")
        // The two parts add up to the total: inside silos, then across them.
        sink.write("  inside silos: \(Format.bytes(summary.reclaimableInsideSilos)) · across silos: \(Format.bytes(summary.reclaimableAcrossSilos))"
                   + " (\(Format.plural(summary.crossSiloContents, "content")) held by several silos)\n")
        if summary.hardLinkedFiles > 0 {
            sink.write("  \(Format.plural(summary.hardLinkedFiles, "path")) are hard links to a file already counted: they take no extra space and are not reclaimable\n")
        }

        if !duplicateFolders.groups.isEmpty || duplicateFolders.notComparableFolders > 0 {
            sink.write("\nDUPLICATE FOLDERS: the same files at the same places below, whatever their names\n")
            duplicateFolders.writeText(to: sink, limit: topFolders, foldersShown: 6, indent: "      ")
        }

        if largestGroups.isEmpty, fileGroupsInFolders > 0 {
            sink.write("\nLARGEST DUPLICATE GROUPS: all lie inside the duplicate folders above (--expand lists them)\n")
        }
        if !largestGroups.isEmpty {
            sink.write("\nLARGEST DUPLICATE GROUPS\n")
            if fileGroupsInFolders > 0 {
                sink.write("(groups inside the duplicate folders above are left out: --expand lists them)\n")
            }
            for (i, g) in largestGroups.enumerated() {
                sink.write("\(Format.pad("\(i + 1).", 4))\(Format.bytes(g.reclaimableBytes)) reclaimable · \(Format.plural(g.physicalCopies, "copy")) of \(Format.bytes(g.size)) · \(g.silos.joined(separator: ", "))\n")
                let shown = g.files.prefix(6)
                for f in shown {
                    sink.write("      \(Format.pad(f.silo, nameWidth))\(f.path.display)\n")
                }
                if g.files.count > shown.count { sink.write("      … and \(g.files.count - shown.count) more\n") }
            }
        }

        if !sameImageGroups.isEmpty {
            sink.write("\nSAME IMAGE, DIFFERENT METADATA: identical pictures in files that are not identical\n")
            for (i, g) in sameImageGroups.prefix(max(largestGroups.count, 5)).enumerated() {
                sink.write("\(Format.pad("\(i + 1).", 4))\(g.format.rawValue.uppercased()) · \(Format.plural(g.files.count, "file")) · differ in: "
                           + (g.fieldsThatDiffer.isEmpty ? "sidecars or manifests only" : g.fieldsThatDiffer.map(\.rawValue).joined(separator: ", ")) + "\n")
                for f in g.files.prefix(6) { sink.write("      \(Format.pad(f.silo, nameWidth))\(f.path.display)\n") }
                if g.files.count > 6 { sink.write("      … and \(g.files.count - 6) more\n") }
            }
            if sameImageGroups.count > max(largestGroups.count, 5) {
                sink.write("      … \(sameImageGroups.count - max(largestGroups.count, 5)) more groups: silomerge duplicates\n")
            }
        }

        if let scan {
            var skipped: [String] = []
            let c = scan.counts
            if c.skippedSymlinks > 0 { skipped.append("\(Format.count(c.skippedSymlinks)) symlinks not followed") }
            if c.ignored > 0 { skipped.append("\(Format.count(c.ignored)) ignored by rules") }
            if c.skippedSpecial > 0 { skipped.append("\(Format.count(c.skippedSpecial)) special files") }
            if summary.unhashedFiles > 0 { skipped.append("\(Format.plural(summary.unhashedFiles, "file")) not hashed (no other file shares their size, or their first and last bytes)") }
            if !skipped.isEmpty { sink.write("\nNot compared: " + skipped.joined(separator: " · ") + "\n") }
        }
    }

    /// `{"silos","overlap","summary","largest_groups","same_image_groups","folder_groups","folders"}`
    /// (`JSONOutput`).
    public func writeJSON(to sink: ReportSink) throws {
        sink.write(try JSONOutput.string(JSON(r: self)) + "\n")
    }
}
