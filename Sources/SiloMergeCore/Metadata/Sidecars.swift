/// How an XMP sidecar is named after its asset.
public enum SidecarForm: String, Sendable, Codable, Hashable {
    /// `photo.jpg.xmp`: names one asset exactly. Wins when both forms exist.
    case nameWithExtension = "name.ext.xmp"
    /// `photo.xmp`: the asset named `photo.<ext>`, when that names one file (see `SidecarPlan`).
    case name = "name.xmp"
}

/// Which files of a folder are XMP sidecars, and of which assets.
///
/// The conventions of the tools that write sidecars:
///
/// - `photo.jpg.xmp` (darktable, digiKam's default, ExifTool's `%f.%e.xmp`) names its asset
///   exactly: it belongs to `photo.jpg`.
/// - `photo.xmp` (Lightroom, Camera Raw and Bridge, which write it for raw files they cannot
///   write into; digiKam's "name.xmp" option; ExifTool's `%f.xmp`) belongs to the one file
///   named `photo.<ext>` beside it. When several are (`photo.jpg` and `photo.png`), nothing
///   says which one it describes: it is attached to none, catalogued as a file of its own, and
///   a note names the candidates. The one exception is Lightroom's raw + JPEG pair
///   (`IMG_1.CR2`, `IMG_1.JPG`, `IMG_1.xmp`): Lightroom writes `name.xmp` only for the raw file
///   (it writes into JPEGs), so the sidecar is the raw file's when exactly one candidate is raw.
/// - When an asset has both forms, `photo.jpg.xmp` is the one used; `photo.xmp` is still
///   attached (and read, so its drift is found) but never reconciled.
/// - A `.xmp` file that is not an XMP packet (an SVG image saved as `.xmp`, anything else) is
///   not a sidecar: it is a file of its own. So is a `.xmp` with no asset beside it.
/// - A sidecar of an asset the silo's rules exclude is excluded with it.
public struct SidecarPlan: Sendable {
    public struct Attachment: Sendable, Hashable {
        public var name: [UInt8]
        public var form: SidecarForm
        /// False for a `name.xmp` that a `name.ext.xmp` of the same asset overrides.
        public var used: Bool
    }

    /// A `.xmp` file left as a file of its own although its name pairs it with assets.
    public struct Unattached: Sendable, Hashable {
        public enum Reason: Sendable, Hashable {
            /// Several files share its stem and none is the raw file of a raw + JPEG pair.
            case ambiguous
            /// Its content is not an XMP packet (`kind` says what it is, when known).
            case notXMP(kind: String?)
        }
        public var name: [UInt8]
        /// The files its name pairs it with, sorted.
        public var candidates: [[UInt8]]
        public var reason: Reason
    }

    /// What a `.xmp` file's first bytes say it is.
    public enum Content: Sendable, Hashable {
        case xmp
        /// Not an XMP packet: an SVG image, other XML, not XML at all.
        case other(kind: String?)
        /// Could not be read: paired by its name, as its reader will say.
        case unknown
    }

    /// Sidecars per asset name, `name.ext.xmp` first.
    public private(set) var attachments: [[UInt8]: [Attachment]] = [:]
    /// Every file that is a sidecar (of an included asset).
    public private(set) var sidecars: Set<[UInt8]> = []
    /// Sidecars of excluded assets: skipped like their asset.
    public private(set) var excludedSidecars: Set<[UInt8]> = []
    /// `.xmp` files whose name pairs them with assets but that are files of their own.
    public private(set) var unattached: [Unattached] = []

    static let suffix = Array(".xmp".utf8)

    static func isXMP(_ name: [UInt8]) -> Bool {
        guard name.count > suffix.count else { return false }
        return zip(name.suffix(suffix.count), suffix).allSatisfy { a, b in a | 0x20 == b }
    }

    /// The name without its last extension (`photo.jpg` → `photo`); nil when there is none.
    static func stem(_ name: [UInt8]) -> ArraySlice<UInt8>? {
        guard let dot = name.lastIndex(of: 0x2E), dot > 0 else { return nil }
        return name[..<dot]
    }

    /// Raw formats Lightroom and Camera Raw keep their metadata beside, in `name.xmp`
    /// (Adobe's list of supported raw extensions; DNG can hold it inside but may not).
    static let rawExtensions: Set<String> = [
        "3fr", "ari", "arw", "bay", "braw", "cap", "cr2", "cr3", "crw", "data", "dcr", "dcs", "dng", "drf", "eip",
        "erf", "fff", "gpr", "iiq", "k25", "kdc", "mdc", "mef", "mos", "mrw", "nef", "nrw", "obm", "orf", "pef",
        "ptx", "pxn", "r3d", "raf", "raw", "rw2", "rwl", "rwz", "sr2", "srf", "srw", "x3f",
    ]

    static func isRaw(_ name: [UInt8]) -> Bool {
        guard let dot = name.lastIndex(of: 0x2E) else { return false }
        return rawExtensions.contains(String(decoding: name[(dot + 1)...], as: UTF8.self).lowercased())
    }

    /// `files`: the regular files the rules keep; `excluded`: those they skip. `content` reads
    /// a `.xmp` file's first bytes; it is asked only about files whose name pairs them with an
    /// asset (a folder without `.xmp` files costs nothing).
    public init(files: [[UInt8]], excluded: Set<[UInt8]>, content: ([UInt8]) -> Content = { _ in .xmp }) {
        guard files.contains(where: SidecarPlan.isXMP) || excluded.contains(where: SidecarPlan.isXMP) else { return }
        let all = Set(files).union(excluded)
        var byStem: [ArraySlice<UInt8>: [[UInt8]]] = [:]
        for name in all where !SidecarPlan.isXMP(name) {
            if let s = SidecarPlan.stem(name) { byStem[s, default: []].append(name) }
        }
        for name in all.sorted(by: { $0.lexicographicallyPrecedes($1) }) where SidecarPlan.isXMP(name) {
            let base = Array(name.dropLast(SidecarPlan.suffix.count))
            var owners: [[UInt8]] = []
            var form = SidecarForm.name
            if all.contains(base) && !SidecarPlan.isXMP(base) {
                owners = [base]
                form = .nameWithExtension
            } else if let candidates = byStem[base[...]] {
                owners = candidates.sorted { $0.lexicographicallyPrecedes($1) }
            }
            guard !owners.isEmpty else { continue }   // standalone XMP: an asset of its own
            if case .other(let kind) = content(name) {
                unattached.append(Unattached(name: name, candidates: owners, reason: .notXMP(kind: kind)))
                continue
            }
            if owners.count > 1 {
                let raw = owners.filter(SidecarPlan.isRaw)
                guard raw.count == 1 else {
                    unattached.append(Unattached(name: name, candidates: owners, reason: .ambiguous))
                    continue
                }
                owners = raw
            }
            let included = owners.filter { !excluded.contains($0) }
            if included.isEmpty {
                excludedSidecars.insert(name)
                continue
            }
            sidecars.insert(name)
            for owner in included {
                attachments[owner, default: []].append(Attachment(name: name, form: form, used: true))
            }
        }
        for (owner, list) in attachments {
            let hasExact = list.contains { $0.form == .nameWithExtension }
            attachments[owner] = list.map { a in
                var a = a
                if hasExact && a.form == .name { a.used = false }
                return a
            }.sorted { ($0.form == .nameWithExtension ? 0 : 1, $0.name.count) < ($1.form == .nameWithExtension ? 0 : 1, $1.name.count) }
        }
    }

    /// What the first bytes of a `.xmp` file are: an XMP packet when its first element (after
    /// a byte-order mark, white space, processing instructions such as `<?xpacket begin?>` and
    /// `<?xml?>`, and comments) is `x:xmpmeta`, `x:xapmeta` or `rdf:RDF`, under any prefix.
    public static func classify(head: [UInt8]) -> Content {
        guard let root = XMLHead.root(head) else { return .other(kind: nil) }
        switch root.local {
        case "xmpmeta", "xapmeta", "RDF": return root.doctype == nil ? .xmp : .other(kind: "an XML document with a DOCTYPE")
        case "svg": return .other(kind: "an SVG image")
        default: return .other(kind: "an XML document whose root is <\(root.name)>")
        }
    }
}
