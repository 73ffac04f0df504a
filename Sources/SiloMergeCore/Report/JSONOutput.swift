import Foundation

/// The JSON SiloMerge prints, as Codable types with designed shapes: snake_case keys, values as
/// a person reads them (a field value is a string, a list of strings, a number or
/// `{"latitude","longitude"}`; never Swift's enum encoding), explicit nulls where a value is
/// unknown, keys sorted so the same input gives the same bytes, and no escaped slashes.
/// Outputs that stream (duplicate groups) encode each element with these types and write the
/// enclosing brackets themselves.
public enum JSONOutput {
    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    /// One value as compact JSON text.
    public static func string<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encoder().encode(value), as: UTF8.self)
    }
}

/// A path as JSON: `"path"` is the exact name when it is UTF-8; otherwise a display form
/// (`\xNN` for each byte that is not UTF-8) with the exact bytes in `"path_b64"`.
struct JSONKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension KeyedEncodingContainer where Key == JSONKey {
    mutating func encodePath(_ path: RelativePath, _ key: String = "path") throws {
        if let s = path.string {
            try encode(s, forKey: JSONKey(key))
        } else {
            try encode(path.display, forKey: JSONKey(key))
            try encode(Data(path.bytes).base64EncodedString(), forKey: JSONKey(key + "_b64"))
        }
    }

    /// Encodes `value`, or an explicit null.
    mutating func encodeOrNull<T: Encodable>(_ value: T?, _ key: String) throws {
        if let value { try encode(value, forKey: JSONKey(key)) } else { try encodeNil(forKey: JSONKey(key)) }
    }

    mutating func put<T: Encodable>(_ value: T, _ key: String) throws { try encode(value, forKey: JSONKey(key)) }
}

extension CodingUserInfoKey {
    /// Set to true for an encoding that must read back exactly (a `RecordSpool`): a date
    /// stays a date (`{"date":…}`) and coordinates keep every bit, where the designed shape
    /// writes a date as a plain string and coordinates to 7 decimals.
    public static let losslessValues = CodingUserInfoKey(rawValue: "silomerge.losslessValues")!
}

extension FieldValue {
    /// The designed shape: a string (text, date), a list of strings, a whole number, or
    /// `{"latitude":…,"longitude":…}` in decimal degrees (7 decimals at most). With
    /// `.losslessValues` in the encoder's userInfo, a date is `{"date":…}` and coordinates are
    /// written in full.
    public func encode(to encoder: any Encoder) throws {
        if encoder.userInfo[.losslessValues] as? Bool == true {
            switch self {
            case .date(let d):
                var c = encoder.container(keyedBy: JSONKey.self); try c.put(d, "date"); return
            case .gps(let lat, let lon):
                var c = encoder.container(keyedBy: JSONKey.self)
                try c.put(lat, "latitude"); try c.put(lon, "longitude"); return
            default: break
            }
        }
        switch self {
        case .text(let s), .date(let s):
            var c = encoder.singleValueContainer(); try c.encode(s)
        case .list(let l):
            var c = encoder.singleValueContainer(); try c.encode(l)
        case .integer(let i):
            var c = encoder.singleValueContainer(); try c.encode(i)
        case .gps(let lat, let lon):
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(Decimal(string: FieldValue.degrees(lat)) ?? Decimal(lat), "latitude")
            try c.put(Decimal(string: FieldValue.degrees(lon)) ?? Decimal(lon), "longitude")
        }
    }

    /// Reads the designed shape back. A string reads as text (a date is a string too: the
    /// field, known to the caller, tells them apart).
    public init(from decoder: any Decoder) throws {
        if decoder.userInfo[.losslessValues] as? Bool == true, let c = try? decoder.container(keyedBy: JSONKey.self),
           let d = try? c.decode(String.self, forKey: JSONKey("date")) {
            self = .date(d)
            return
        }
        if let c = try? decoder.container(keyedBy: JSONKey.self), let lat = try? c.decode(Double.self, forKey: JSONKey("latitude")) {
            self = .gps(latitude: lat, longitude: try c.decode(Double.self, forKey: JSONKey("longitude")))
            return
        }
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int.self) { self = .integer(i) }
        else if let l = try? c.decode([String].self) { self = .list(l) }
        else { self = .text(try c.decode(String.self)) }
    }
}

extension FieldSource {
    /// `{"silo","path"(,"path_b64"),"origin","tag","raw","value","time_ns"}`: what the
    /// catalogue's `asset_field.sources` holds.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.put(silo, "silo")
        try c.encodePath(path)
        try c.put(origin.rawValue, "origin")
        try c.put(tag, "tag")
        try c.put(raw, "raw")
        try c.put(value, "value")
        try c.encodeOrNull(timeNs, "time_ns")
        if let otherContent { try c.put(otherContent, "other_content") }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        let bytes = try c.decodeIfPresent(String.self, forKey: JSONKey("path_b64")).flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) }
        let path = try bytes.map { RelativePath(bytes: $0) } ?? RelativePath(c.decode(String.self, forKey: JSONKey("path")))
        self.init(silo: try c.decode(String.self, forKey: JSONKey("silo")), path: path,
                  origin: try c.decode(MetadataOrigin.self, forKey: JSONKey("origin")), tag: try c.decode(String.self, forKey: JSONKey("tag")),
                  raw: try c.decode(String.self, forKey: JSONKey("raw")), value: try c.decode(FieldValue.self, forKey: JSONKey("value")),
                  timeNs: try c.decodeIfPresent(Int64.self, forKey: JSONKey("time_ns")),
                  otherContent: try c.decodeIfPresent(OtherContent.self, forKey: JSONKey("other_content")))
    }
}

// MARK: - Duplicate groups, audit

extension DuplicateSummary {
    /// The summary as `duplicates` and `audit` print it.
    struct JSON: Encodable {
        let s: DuplicateSummary
        let sameImageGroups: Int
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(s.files, "files"); try c.put(s.bytes, "bytes"); try c.put(s.physicalBytes, "physical_bytes")
            try c.put(s.duplicateGroups, "duplicate_groups"); try c.put(s.duplicateFiles, "duplicate_files")
            try c.put(s.redundantCopies, "redundant_copies"); try c.put(s.reclaimableBytes, "reclaimable_bytes")
            try c.put(s.reclaimableInsideSilos, "reclaimable_inside_silos"); try c.put(s.reclaimableAcrossSilos, "reclaimable_across_silos")
            try c.put(s.crossSiloContents, "cross_silo_contents"); try c.put(s.crossSiloBytes, "cross_silo_bytes")
            try c.put(s.hardLinkedFiles, "hard_linked_files"); try c.put(s.unhashedFiles, "unhashed_files")
            try c.put(sameImageGroups, "same_image_groups")
        }
    }
}

extension DuplicateGroup {
    struct JSON: Encodable {
        let g: DuplicateGroup
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(g.sha256.hex, "sha256"); try c.put(g.size, "size"); try c.put(g.physicalCopies, "physical_copies")
            try c.put(g.reclaimableBytes, "reclaimable_bytes")
            try c.put(g.files.map(File.init), "files")
        }
    }

    struct File: Encodable {
        let f: GroupFile
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(f.silo, "silo"); try c.encodePath(f.path)
            try c.put(f.inode, "inode"); try c.put(f.device, "device"); try c.put(f.linkCount, "links")
        }
    }
}

extension SameImageGroup {
    struct JSON: Encodable {
        let g: SameImageGroup
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(g.imageSHA256.hex, "image_sha256"); try c.put(g.format.rawValue, "format")
            try c.put(g.fieldsThatDiffer.map(\.rawValue), "fields_differ")
            try c.put(g.files.map(MemberJSON.init), "files")
        }
    }

    struct MemberJSON: Encodable {
        let m: SameImageGroup.Member
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(m.silo, "silo"); try c.encodePath(m.path)
            try c.encodeOrNull(m.sha256?.hex, "sha256"); try c.put(m.size, "size")
        }
    }
}

extension AuditReport {
    struct JSON: Encodable {
        let r: AuditReport
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(r.silos.map(Silo.init), "silos")
            try c.put(r.overlap.map(Overlap.init), "overlap")
            try c.put(DuplicateSummary.JSON(s: r.summary, sameImageGroups: r.sameImageGroups.count), "summary")
            try c.put(r.largestGroups.map(DuplicateGroup.JSON.init), "largest_groups")
            try c.put(r.sameImageGroups.map(SameImageGroup.JSON.init), "same_image_groups")
            try c.put(r.duplicateFolders.groups.prefix(r.topFolders).map(DuplicateFolderGroup.JSON.init), "folder_groups")
            try c.put(r.duplicateFolders.relations.prefix(r.topFolders).map(FolderRelation.JSON.init), "folder_relations")
            try c.put(DuplicateFolders.SummaryJSON(d: r.duplicateFolders, fileGroupsInside: nil), "folders")
            try c.put(InPlaceReclaim.JSON(r: r.inPlace), "in_place")
            // Only when asked (`audit --profile`): where the scan's time went.
            if let profile = r.scan?.profile { try c.put(profile, "profile") }
        }
    }

    struct Silo: Encodable {
        let s: SiloStatistics
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(s.silo, "name"); try c.put(s.priority, "priority"); try c.put(s.files, "files"); try c.put(s.bytes, "bytes")
            try c.put(s.duplicateBytesInside, "duplicate_bytes_inside"); try c.put(s.sharedBytes, "shared_bytes")
            try c.put(s.sharedFiles, "shared_files")
        }
    }

    struct Overlap: Encodable {
        let o: SiloOverlap
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(o.a, "a"); try c.put(o.b, "b"); try c.put(o.bytes, "bytes"); try c.put(o.contents, "contents")
        }
    }
}

// MARK: - Conflicts, runs, verification

/// `conflicts --format json`.
public struct ConflictsJSON: Encodable {
    public let assets: [ReconciledAsset]
    public let summary: ReconcileSummary
    public init(assets: [ReconciledAsset], summary: ReconcileSummary) { self.assets = assets; self.summary = summary }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        var items: [Conflict] = []
        for a in assets {
            for f in a.fields where f.status == .conflict { items.append(Conflict(asset: a, field: f)) }
        }
        try c.put(items, "conflicts")
        try c.put(["assets": summary.assets, "conflicts": summary.conflicts, "assets_with_conflicts": assets.count], "summary")
        let digest = ConflictDigest(assets)
        try c.put(Dictionary(uniqueKeysWithValues: digest.byField.map { ($0.field.rawValue, $0.conflicts) }), "by_field")
        try c.put(digest.bySiloPair.map(PairJSON.init), "by_silo_pair")
    }

    struct PairJSON: Encodable {
        let pair: ConflictDigest.Pair
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(pair.silos, "silos"); try c.put(pair.conflicts, "conflicts")
            try c.put(Dictionary(uniqueKeysWithValues: pair.fields.map { ($0.key.rawValue, $0.value) }), "fields")
        }
    }

    /// Values of one conflicting field, grouped by value (after normalisation), each with its sources.
    public static func grouped(_ f: ReconciledField) -> [(value: FieldValue, sources: [FieldSource])] {
        var order: [String] = []
        var groups: [String: (FieldValue, [FieldSource])] = [:]
        for s in f.sources {
            let key = s.value.comparisonKey
            if groups[key] == nil { order.append(key); groups[key] = (s.value, []) }
            groups[key]!.1.append(s)
        }
        return order.map { (groups[$0]!.0, groups[$0]!.1) }
    }

    struct Conflict: Encodable {
        let asset: ReconciledAsset
        let field: ReconciledField
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(asset.sha256.hex, "sha256"); try c.put(field.field.rawValue, "field"); try c.put(field.rule.description, "policy")
            try c.put(asset.copies.map(Copy.init), "copies")
            try c.put(ConflictsJSON.grouped(field).map { Value(value: $0.value, sources: $0.sources) }, "values")
        }
    }

    struct Copy: Encodable {
        let copy: AssetCopy
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(copy.silo, "silo"); try c.encodePath(copy.path)
        }
    }

    struct Value: Encodable {
        let value: FieldValue
        let sources: [FieldSource]
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(value, "value")
            try c.put(sources.map(Source.init), "sources")
        }
    }

    struct Source: Encodable {
        let s: FieldSource
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(s.silo, "silo"); try c.encodePath(s.path); try c.put(s.origin.rawValue, "origin")
            try c.put(s.tag, "tag"); try c.put(s.raw, "raw")
            if let other = s.otherContent { try c.put(other, "other_content") }
        }
    }
}

/// `verify --format json`.
public struct VerifyJSON: Encodable {
    /// nil for an in-place plan without a quarantine folder.
    public let target: FilePath?
    public let report: VerifyReport
    /// The in-place method (`in_place` is written for in-place plans only).
    public let method: String?
    public init(target: FilePath?, report: VerifyReport, method: String? = nil) {
        self.target = target; self.report = report; self.method = method
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.encodeOrNull(target?.display, "target"); try c.put(report.expectedFiles, "expected_files")
        try c.put(report.verifiedFiles, "verified_files"); try c.put(report.bytesRead, "bytes_read")
        try c.put(report.isComplete, "complete"); try c.put(report.isValid, "valid"); try c.put(report.hasUnexpected, "unexpected")
        try c.put(report.problems.map(Problem.init), "problems")
        if let o = report.operations {
            try c.put(InPlace(method: method, o: o), "in_place")
        }
        if report.quarantinedDerivatives > 0 {
            // `--derivatives keep-master`: the only copies of their contents the plan leaves.
            try c.put(["files": report.quarantinedDerivatives, "verified": report.verifiedDerivatives], "quarantined_derivatives")
        }
    }

    struct InPlace: Encodable {
        let method: String?
        let o: VerifyReport.Operations
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.encodeOrNull(method, "method"); try c.put(o.total, "operations"); try c.put(o.applied, "applied")
            try c.put(o.stopped.count, "refused"); try c.put(o.pending, "pending"); try c.put(o.undone, "undone")
            try c.put(o.stopped.map(Stopped.init), "refusals")
        }
    }

    struct Stopped: Encodable {
        let s: VerifyReport.Operations.Stopped
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(s.op, "op"); try c.put(s.path, "path"); try c.put(s.event, "event"); try c.put(s.reason, "reason")
        }
    }

    struct Problem: Encodable {
        let p: VerifyReport.Problem
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(p.kind.rawValue, "kind"); try c.encodePath(p.path)
            try c.encodeOrNull(p.expected, "expected"); try c.encodeOrNull(p.found, "found"); try c.encodeOrNull(p.detail, "detail")
        }
    }
}

/// `silomerge verify --bagit DIR --format json`.
public struct BagJSON: Encodable {
    public let bag: String
    public let report: BagReport
    public init(bag: String, report: BagReport) { self.bag = bag; self.report = report }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.put(bag, "bag"); try c.encodeOrNull(report.version, "bagit_version"); try c.put(report.algorithms, "algorithms")
        try c.put(report.payloadFiles, "payload_files"); try c.put(report.payloadBytes, "payload_bytes")
        try c.put(report.checksumsVerified, "checksums_verified"); try c.put(report.bytesRead, "bytes_read")
        try c.put(report.isComplete, "complete"); try c.put(report.isValid, "valid")
        try c.put(report.problems.map(Problem.init), "problems")
    }

    struct Problem: Encodable {
        let p: BagReport.Problem
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(p.kind.rawValue, "kind"); try c.put(p.path, "path"); try c.put(p.detail, "detail")
        }
    }
}
