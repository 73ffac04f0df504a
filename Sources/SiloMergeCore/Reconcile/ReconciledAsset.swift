import Foundation

/// How a reconciled field came to its value.
public enum FieldStatus: String, Sendable, Codable, Hashable {
    /// Every source that has the field gives the same value (after normalisation).
    case agreed
    /// Sources differ; the field's policy (or a person's resolution) chose the value.
    case resolved
    /// Sources differ and the policy does not choose: left for a person (`silomerge conflicts`).
    case conflict
}

/// What decided a reconciled value: a policy, or a person's resolution. A value only ever comes
/// from metadata (or a person): a file's mtime is never made into a date (see
/// `ReconciledAsset.fileModifiedNs`).
public enum DecisionRule: Sendable, Codable, Hashable, CustomStringConvertible {
    case policy(ReconcilePolicy)
    case manual
    /// A rule of the configuration (`ReconcileRule.label`: "rule 2: prefer silo legal").
    case rule(String)

    public var description: String {
        switch self {
        case .policy(let p): p.rawValue
        case .manual: "manual"
        case .rule(let label): label
        }
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        switch text {
        case "manual": self = .manual
        case let t where t.hasPrefix("rule "): self = .rule(t)
        default:
            guard let p = ReconcilePolicy(rawValue: text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown rule \(text)"))
            }
            self = .policy(p)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// One value of one field, where it came from.
public struct FieldSource: Sendable, Codable, Hashable {
    public var silo: String
    public var path: RelativePath
    /// sidecar, xmp, iptc, exif, png, pdf, header, manifest, filesystem.
    public var origin: MetadataOrigin
    /// The exact tag or column: "XMP-dc:rights", "IPTC:CopyrightNotice", "manifest:Usage Rights".
    public var tag: String
    /// The value as found, before normalisation.
    public var raw: String
    /// The normalised value.
    public var value: FieldValue
    /// The time of the source (the file's, sidecar's or manifest's mtime), for `newest` / `oldest`.
    public var timeNs: Int64?
    /// Set when the value is not this content's own but another content's of its group of
    /// similar images (`reconcile: derivatives: merge`): which content, and what it is to this
    /// one. nil: the value is the content's own (one of its copies, sidecars or manifest rows).
    public var otherContent: OtherContent?

    public init(silo: String, path: RelativePath, origin: MetadataOrigin, tag: String, raw: String, value: FieldValue,
                timeNs: Int64? = nil, otherContent: OtherContent? = nil) {
        self.silo = silo; self.path = path; self.origin = origin; self.tag = tag; self.raw = raw
        self.value = value; self.timeNs = timeNs; self.otherContent = otherContent
    }
}

/// Where a pooled value of a derivative group came from: another content of the group.
public struct OtherContent: Sendable, Codable, Hashable {
    /// What the other content is to the one reconciled.
    public enum Relation: String, Sendable, Codable, Hashable {
        /// The group's master (the reconciled content is one of its derivatives).
        case master
        /// A derivative of the reconciled content (which is the group's master).
        case derivative
        /// Another derivative of the same master.
        case sibling
    }
    public var sha256: SHA256Digest
    public var relation: Relation

    public init(sha256: SHA256Digest, relation: Relation) { self.sha256 = sha256; self.relation = relation }

    /// "the group's master 1a2b3c4d5e6f": how listings name it.
    public var description: String {
        let id = String(sha256.hex.prefix(12))
        switch relation {
        case .master: return "the similar-image group's master \(id)"
        case .derivative: return "a derivative \(id) of this image"
        case .sibling: return "another derivative \(id) of the same master"
        }
    }
}

/// A field of a distinct content after reconciliation across its copies.
public struct ReconciledField: Sendable, Codable, Hashable {
    public var field: UnifiedField
    /// nil for a conflict (or an `agree` field whose sources differ).
    public var value: FieldValue?
    public var status: FieldStatus
    public var rule: DecisionRule
    /// Every source value considered, best first (silo priority, then sidecar, embedded, manifest).
    public var sources: [FieldSource]

    public init(field: UnifiedField, value: FieldValue?, status: FieldStatus, rule: DecisionRule, sources: [FieldSource]) {
        self.field = field; self.value = value; self.status = status; self.rule = rule; self.sources = sources
    }
}

/// One copy of a distinct content.
public struct AssetCopy: Sendable, Codable, Hashable {
    public var silo: String
    public var siloPriority: Int
    public var path: RelativePath
    public var size: Int64
    public var mtimeNs: Int64
    public var uid: UInt32
    public var gid: UInt32
    public var device: UInt64
    public var inode: UInt64
    /// The absolute path of the copy.
    public var absolutePath: FilePath
    /// The id of the host the copy's silo is on (nil: a silo catalogued before hosts were
    /// recorded, on the catalogue's one host). Device and inode numbers mean something on one
    /// host only: the physical file is (host, device, inode).
    public var host: String?

    public init(silo: String, siloPriority: Int, path: RelativePath, size: Int64, mtimeNs: Int64, uid: UInt32, gid: UInt32,
                device: UInt64, inode: UInt64, absolutePath: FilePath, host: String? = nil) {
        self.silo = silo; self.siloPriority = siloPriority; self.path = path; self.size = size; self.mtimeNs = mtimeNs
        self.uid = uid; self.gid = gid; self.device = device; self.inode = inode; self.absolutePath = absolutePath
        self.host = host
    }

    /// The physical file: two copies with the same one are hard links (names of one file).
    public var physicalFile: HostFileID { HostFileID(host: host, file: FileID(device: device, inode: inode)) }
}

/// A file's physical identity in a plan or an asset: the host it is on (its id; nil for the
/// catalogue's one host of silos from before hosts were recorded) and its device and inode
/// there. Equal device and inode numbers on two hosts are two different files.
public struct HostFileID: Hashable, Sendable {
    public var host: String?
    public var file: FileID
    public init(host: String?, file: FileID) { self.host = host; self.file = file }
}

/// One distinct content (a SHA-256) with every copy and one reconciled set of fields: a record
/// of the unified catalogue.
public struct ReconciledAsset: Sendable, Codable, Hashable {
    public var sha256: SHA256Digest
    public var size: Int64
    public var format: MediaFormat
    public var width: Int?
    public var height: Int?
    /// SHA-256 of the image data alone (JPEG, PNG, TIFF), shared by copies that differ only
    /// in embedded metadata.
    public var imageSHA256: SHA256Digest?
    /// Copies in silo priority order, then path.
    public var copies: [AssetCopy]
    /// One entry per field some source has, in `UnifiedField` order.
    public var fields: [ReconciledField]

    public init(sha256: SHA256Digest, size: Int64, format: MediaFormat, width: Int? = nil, height: Int? = nil,
                imageSHA256: SHA256Digest? = nil, copies: [AssetCopy], fields: [ReconciledField]) {
        self.sha256 = sha256; self.size = size; self.format = format; self.width = width; self.height = height
        self.imageSHA256 = imageSHA256; self.copies = copies; self.fields = fields
    }

    public func field(_ f: UnifiedField) -> ReconciledField? { fields.first { $0.field == f } }

    /// The short id people use in resolutions files and reports: the first 12 hex digits.
    public var shortID: String { String(sha256.hex.prefix(12)) }

    /// The oldest mtime of its copies (nanoseconds since 1970): when the file system last saw
    /// the content written. A file-system time, exported as `file_modified`, never as a
    /// creation or capture date (copying a file gives it a new mtime).
    public var fileModifiedNs: Int64? { copies.map(\.mtimeNs).min() }

    /// Physical copies: distinct files (device and inode). Hard links to one file are one copy
    /// under several names.
    public var physicalCopies: Int { Set(copies.map(\.physicalFile)).count }
}

extension SHA256Digest: Codable {
    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let d = SHA256Digest(hex: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a SHA-256: \(text)"))
        }
        self = d
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(hex)
    }
}

extension FilePath: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self.init(s) } else { self.init(bytes: try c.decode([UInt8].self)) }
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if let s = string { try c.encode(s) } else { try c.encode(bytes) }
    }
}
