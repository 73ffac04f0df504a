import Foundation

/// Writes the duplicate groups of a catalogue in the formats `silomerge duplicates` offers.
/// Every format streams: groups are read from the catalogue one at a time.
public struct DuplicateReport {
    public enum Style: String, CaseIterable, Sendable {
        case table, json, csv, fdupes
    }

    public let store: any CatalogueStore
    public let query: DuplicateQuery
    /// Show at most this many groups (nil: all). Summaries always cover everything.
    public let limit: Int?
    /// Duplicate folders to report first (`--folders`); nil: files only.
    public let folders: DuplicateFolders?
    /// List the file groups that lie inside duplicate folders too (`--expand`).
    public let expand: Bool

    public init(store: any CatalogueStore, query: DuplicateQuery, limit: Int? = nil, folders: DuplicateFolders? = nil, expand: Bool = false) {
        self.store = store; self.query = query; self.limit = limit; self.folders = folders; self.expand = expand
    }

    /// The file groups a folder group already reports (left out unless `expand`): how many,
    /// and whether every group was looked at (a listing stopped by `limit` was not).
    private final class Hidden {
        var count = 0
        var complete = true
    }

    public func write(_ style: Style, to sink: ReportSink) throws {
        switch style {
        case .table: try writeTable(to: sink)
        case .json: try writeJSON(to: sink)
        case .csv: try writeCSV(to: sink)
        case .fdupes: try writeFdupes(to: sink)
        }
    }

    @discardableResult
    private func groups(_ body: (Int, DuplicateGroup) throws -> Void) throws -> Hidden {
        var index = 0
        let hidden = Hidden()
        let folders = expand ? nil : self.folders
        try store.forEachDuplicateGroup(query) { group in
            if let folders, folders.explains(group) { hidden.count += 1; return true }
            if let limit, index >= limit { hidden.complete = false; return false }
            index += 1
            try body(index, group)
            return true
        }
        return hidden
    }

    /// The line saying which file groups the folder groups stand for.
    private func hiddenLine(_ hidden: Hidden) -> String? {
        guard hidden.count > 0 else { return nil }
        let count = hidden.complete ? Format.plural(hidden.count, "group") + " of files" : "Groups of files"
        return "\(count) lie inside duplicate folders and are listed as those folders (--expand lists them).\n"
    }

    /// `{"groups":[…],"same_image_groups":[…],"summary":{…}}`, each group encoded as it is read
    /// (the designed shapes of `JSONOutput`).
    public func writeJSON(to sink: ReportSink) throws {
        let encoder = JSONOutput.encoder()
        if let folders {
            sink.write("{\"folder_groups\":[")
            for (i, g) in folders.groups.prefix(limit ?? folders.groups.count).enumerated() {
                sink.write(i == 0 ? "\n" : ",\n")
                sink.write(bytes: [UInt8](try encoder.encode(DuplicateFolderGroup.JSON(g: g))))
            }
            sink.write("\n],")
            if folders.relationsComputed {
                sink.write("\"folder_relations\":[")
                for (i, r) in folders.relations.prefix(limit ?? folders.relations.count).enumerated() {
                    sink.write(i == 0 ? "\n" : ",\n")
                    sink.write(bytes: [UInt8](try encoder.encode(FolderRelation.JSON(r: r))))
                }
                sink.write("\n],")
            }
            sink.write("\"groups\":[")
        } else {
            sink.write("{\"groups\":[")
        }
        var first = true
        let hidden = try groups { _, g in
            sink.write(first ? "\n" : ",\n")
            first = false
            sink.write(bytes: [UInt8](try encoder.encode(DuplicateGroup.JSON(g: g))))
        }
        let s = try store.analyse(query, top: 0).summary
        let images = try store.sameImageGroups(silos: query.silos, minimumSize: query.minimumSize)
        sink.write("\n],\"same_image_groups\":[")
        for (i, g) in images.enumerated() {
            sink.write(i == 0 ? "\n" : ",\n")
            sink.write(bytes: [UInt8](try encoder.encode(SameImageGroup.JSON(g: g))))
        }
        sink.write("\n],\"summary\":")
        sink.write(bytes: [UInt8](try encoder.encode(DuplicateSummary.JSON(s: s, sameImageGroups: images.count))))
        if let folders {
            sink.write(",\"folders\":")
            sink.write(bytes: [UInt8](try encoder.encode(DuplicateFolders.SummaryJSON(d: folders, fileGroupsInside: hidden.complete ? hidden.count : nil))))
        }
        sink.write("}\n")
    }

    /// One row per file, through `CSV` (the one CSV writer: a name a spreadsheet would run as a
    /// formula gets a leading `'`). `path_b64` carries the exact bytes whenever `path` is not
    /// the exact name: a name that is not UTF-8, or one that was neutralised.
    public func writeCSV(to sink: ReportSink) throws {
        sink.write(CSV.header(["group", "sha256", "size", "physical_copies", "reclaimable_bytes", "silo", "path", "path_b64",
                               "inode", "device", "links"]))
        try groups { index, g in
            for f in g.files {
                let text = f.path.string
                let exact = text.map { !CSV.needsNeutralizing($0) } ?? false
                sink.write(CSV.row([.number(index), .own(g.sha256.hex), .number(g.size), .number(g.physicalCopies),
                                    .number(g.reclaimableBytes), .text(f.silo), .text(text ?? f.path.display),
                                    exact ? .empty : .own(Data(f.path.bytes).base64EncodedString()),
                                    .number(f.inode), .number(f.device), .number(f.linkCount)]))
            }
        }
    }

    /// fdupes' format: absolute paths, one per line, a blank line after each group. Paths are
    /// written as raw bytes, exactly as the file system has them.
    public func writeFdupes(to sink: ReportSink) throws {
        try groups { _, g in
            for f in g.files {
                sink.write(bytes: f.absolutePath.bytes + [0x0A])
            }
            sink.write("\n")
        }
    }

    public func writeTable(to sink: ReportSink) throws {
        if let folders {
            sink.write("DUPLICATE FOLDERS: the same files at the same places below, whatever their names\n\n")
            folders.writeText(to: sink, limit: limit)
            if folders.relationsComputed, !folders.relations.isEmpty {
                sink.write("\nPARTIAL COPIES: every file of the second folder has a copy in the first (subset),\n"
                           + "or the two share 90% of the larger's bytes (overlap)\n\n")
                let shown = folders.relations.prefix(limit ?? folders.relations.count)
                for (i, r) in shown.enumerated() { r.writeText(index: i + 1, to: sink, indent: "    ") }
                if folders.relations.count > shown.count {
                    sink.write("… \(Format.count(folders.relations.count - shown.count)) more partial copies.\n")
                }
            }
            sink.write("\nDUPLICATE FILES\n\n")
        }
        var shown = 0
        let hidden = try groups { index, g in
            shown += 1
            let links = g.files.count - g.physicalCopies
            var head = "#\(index)  \(Format.bytes(g.reclaimableBytes)) reclaimable · \(Format.plural(g.physicalCopies, "copy")) of \(Format.bytes(g.size))"
            if links > 0 { head += " (+\(links) hard link\(links == 1 ? "" : "s"))" }
            head += " · sha256 \(g.sha256.hex.prefix(16))…"
            sink.write(head + "\n")
            let width = min(20, g.files.map(\.silo.count).max() ?? 0)
            var inodeCount: [FileID: Int] = [:]
            for f in g.files { inodeCount[FileID(device: f.device, inode: f.inode), default: 0] += 1 }
            for f in g.files {
                var line = "    \(Format.pad(f.silo, width))  \(f.path.display)"
                if inodeCount[FileID(device: f.device, inode: f.inode), default: 0] > 1 {
                    line += "  [hard link, inode \(f.inode)]"
                }
                sink.write(line + "\n")
            }
            sink.write("\n")
        }
        let s = try store.analyse(query, top: 0).summary
        if let line = hiddenLine(hidden) { sink.write(line) }
        if shown == 0, hidden.count > 0 {
            sink.write("No other duplicates among \(Format.plural(s.files, "file")) (\(Format.bytes(s.bytes))).\n")
        } else if shown == 0 {
            sink.write("No duplicates among \(Format.plural(s.files, "file")) (\(Format.bytes(s.bytes))).\n")
        } else {
            if let limit, s.duplicateGroups > limit {
                sink.write("… \(Format.count(s.duplicateGroups - limit)) more groups (--limit shows more).\n\n")
            }
            sink.write("\(Format.plural(s.duplicateGroups, "duplicate group")) · \(Format.plural(s.duplicateFiles, "file")) · "
                       + "\(Format.bytes(s.reclaimableBytes)) reclaimable (\(Format.percent(s.reclaimableBytes, of: s.bytes)) of "
                       + "\(Format.bytes(s.bytes)) in \(Format.plural(s.files, "file")))\n")
        }
        let images = try store.sameImageGroups(silos: query.silos, minimumSize: query.minimumSize)
        if !images.isEmpty {
            sink.write("\nSame image, different metadata (\(images.count) group\(images.count == 1 ? "" : "s")): the picture is identical, the files are not.\n")
            sink.write("Keep the copy with the metadata you want, or merge it first (silomerge reconcile).\n\n")
            for g in images {
                sink.write("\(g.format.rawValue.uppercased()) image \(g.imageSHA256.hex.prefix(16))… · \(Format.plural(g.files.count, "file")) · fields that differ: "
                           + (g.fieldsThatDiffer.isEmpty ? "none embedded (sidecars or manifests may differ)" : g.fieldsThatDiffer.map(\.rawValue).joined(separator: ", ")) + "\n")
                let width = min(20, g.files.map(\.silo.count).max() ?? 0)
                for f in g.files {
                    sink.write("    \(Format.pad(f.silo, width))  \(f.path.display)  (\(Format.bytes(f.size)), \(f.sha256.map { "sha256 \($0.hex.prefix(12))…" } ?? "not hashed"))\n")
                }
                sink.write("\n")
            }
        }
        if s.unhashedFiles > 0 {
            sink.write("\(Format.plural(s.unhashedFiles, "file")) have no hash: no other file shares their size or their first and last bytes (or they could not be read).\n")
        }
    }
}
