/// How an XMP sidecar is named after its asset.
public enum SidecarForm: String, Sendable, Codable, Hashable {
    /// `photo.jpg.xmp`: names one asset exactly. Wins when both forms exist.
    case nameWithExtension = "name.ext.xmp"
    /// `photo.xmp`: belongs to every asset whose name without extension is `photo`.
    case name = "name.xmp"
}

/// Which files of a folder are XMP sidecars, and of which assets.
///
/// `photo.jpg.xmp` belongs to `photo.jpg`; `photo.xmp` to every asset named `photo.<ext>`
/// (Lightroom and Bridge write it for raw files). When an asset has both, `photo.jpg.xmp` is
/// the one used. A `.xmp` file with no such asset is an asset itself (standalone XMP). A
/// sidecar of an asset the silo's rules exclude is excluded with it.
public struct SidecarPlan: Sendable {
    public struct Attachment: Sendable, Hashable {
        public var name: [UInt8]
        public var form: SidecarForm
        /// False for a `name.xmp` that a `name.ext.xmp` of the same asset overrides.
        public var used: Bool
    }

    /// Sidecars per asset name, `name.ext.xmp` first.
    public private(set) var attachments: [[UInt8]: [Attachment]] = [:]
    /// Every file that is a sidecar (of an included asset).
    public private(set) var sidecars: Set<[UInt8]> = []
    /// Sidecars of excluded assets: skipped like their asset.
    public private(set) var excludedSidecars: Set<[UInt8]> = []

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

    /// `files`: the regular files the rules keep; `excluded`: those they skip.
    public init(files: [[UInt8]], excluded: Set<[UInt8]>) {
        guard files.contains(where: SidecarPlan.isXMP) || excluded.contains(where: SidecarPlan.isXMP) else { return }
        let all = Set(files).union(excluded)
        var byStem: [ArraySlice<UInt8>: [[UInt8]]] = [:]
        for name in all where !SidecarPlan.isXMP(name) {
            if let s = SidecarPlan.stem(name) { byStem[s, default: []].append(name) }
        }
        for name in all where SidecarPlan.isXMP(name) {
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
}
