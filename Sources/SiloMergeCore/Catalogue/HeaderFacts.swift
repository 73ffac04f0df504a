// `HeaderFacts` itself and its tags are in Metadata/HeaderFactTags.swift (the metadata readers
// tag the facts with them, and build without the catalogue's types: the fuzz harness).
extension HeaderFacts {
    /// The header facts of a file whose metadata was read (`metadataRead`), as values.
    ///
    /// A file of no known format has no format value unless it holds values of its own
    /// (`hasOwnValues`: embedded values, rows whose `source` is NULL): its 'other' is in
    /// `file.format` already, and most files of a silo are such (`ContentInfo.rowValues`).
    /// Width and height come with the group they were read from; without one (nothing read
    /// them from the file's structure), none.
    public static func values(metadataRead: Bool, format: MediaFormat?, width: Int?, height: Int?, group: String?,
                              mtimeNs: Int64?, hasOwnValues: Bool) -> [StoredValue] {
        guard metadataRead, let format, format != .other || hasOwnValues else { return [] }
        var out = [StoredValue(field: .format, origin: .header, tag: formatTag, value: .text(format.rawValue),
                               raw: format.rawValue, timeNs: mtimeNs, preferred: true)]
        if let width, let height, let group {
            out.append(StoredValue(field: .width, origin: .header, tag: widthTag(group), value: .integer(width),
                                   raw: String(width), timeNs: mtimeNs, preferred: true))
            out.append(StoredValue(field: .height, origin: .header, tag: heightTag(group), value: .integer(height),
                                   raw: String(height), timeNs: mtimeNs, preferred: true))
        }
        return out
    }
}

extension HeaderFacts {
    /// Puts a file's header facts where its rows were: first among the file's own values
    /// (those of no sidecar or manifest), which a re-read of the file writes after its
    /// sidecars' rows; first of all when it has no other value of its own.
    public static func insert(_ facts: [StoredValue], into values: inout [StoredValue]) {
        guard !facts.isEmpty else { return }
        values.insert(contentsOf: facts, at: values.firstIndex { $0.source == nil } ?? 0)
    }
}

extension ContentInfo {
    /// The values worth a `metadata` row, and whether each was chosen in the file: all but the
    /// header facts, which the file's columns hold (see `HeaderFacts`).
    public var rowValues: (values: [SourcedValue], preferred: [Bool]) {
        guard values.contains(where: { $0.origin == .header }) else { return (values, preferred) }
        var kept: [SourcedValue] = [], chosen: [Bool] = []
        kept.reserveCapacity(values.count)
        chosen.reserveCapacity(values.count)
        for (i, v) in values.enumerated() where v.origin != .header {
            kept.append(v)
            chosen.append(i < preferred.count ? preferred[i] : false)
        }
        return (kept, chosen)
    }

    /// How many values `rowValues` gives, counted without building it (a batch sizes its
    /// writes before it makes them).
    public var rowValueCount: Int { values.reduce(0) { $1.origin == .header ? $0 : $0 + 1 } }

    /// The group of the tag the width and height were read from ("File", "IFD0", "Track"...),
    /// kept in `file.dimensions_group` (nil: no dimensions from the file's structure).
    public var dimensionsGroup: String? {
        guard width != nil, height != nil,
              let tag = values.first(where: { $0.origin == .header && $0.field == .width })?.tag,
              let colon = tag.firstIndex(of: ":") else { return nil }
        return String(tag[..<colon])
    }
}
