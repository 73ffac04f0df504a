import Foundation

/// The counters a run records: defined here once. The scan's stages add to it (one copy per
/// worker thread, see `ScanCounters`), progress snapshots it, the run log stores it whole (a
/// backend keeps it as one JSON value, `storedJSON`, keyed by the snake_case field names), and
/// `history` renders it. Adding a counter is one line here, plus where it is counted and shown:
/// no store, migration or snapshot code names the fields one by one.
///
/// Every field is an integer (`Int` or `Int64`) that starts at 0 and is only ever added to.
public struct RunCounts: Sendable, Hashable, Codable {
    public var files = 0
    public var bytes: Int64 = 0
    public var directories = 0
    public var filesNew = 0
    public var filesChanged = 0
    public var filesUnchanged = 0
    public var filesMissing = 0
    public var filesExcluded = 0
    public var filesHashed = 0
    public var bytesHashed: Int64 = 0
    public var hashesReused = 0
    public var skippedSpecial = 0
    public var skippedSymlinks = 0
    public var ignored = 0
    public var warnings = 0
    public var errors = 0
    public init() {}
}

extension RunCounts {
    /// Each field by its Swift name, in declaration order.
    package var fields: [(name: String, value: Int64)] {
        Mirror(reflecting: self).children.map { child in
            let value: Int64 = switch child.value {
            case let v as Int: Int64(v)
            case let v as Int64: v
            default: preconditionFailure("RunCounts.\(child.label ?? "?") is not an integer")
            }
            return (child.label ?? "", value)
        }
    }

    /// Counts whose fields take the given values (by Swift name); fields not named stay 0.
    package init(fields values: [String: Int64]) {
        var defaults = Dictionary(uniqueKeysWithValues: RunCounts().fields.map { ($0.name, $0.value) })
        for (name, value) in values where defaults[name] != nil { defaults[name] = value }
        // Through the synthesised Decodable: no field is named here.
        let data = try! JSONSerialization.data(withJSONObject: defaults)
        self = try! JSONDecoder().decode(RunCounts.self, from: data)
    }

    /// Every field is an 8-byte integer, and there is nothing else: checked once (`fields`
    /// traps on a field that is not an integer).
    private static let isWords = MemoryLayout<RunCounts>.size == RunCounts().fields.count * 8
        && MemoryLayout<RunCounts>.alignment == 8

    /// Adds `rhs` field by field. As every field is an 8-byte integer, the two values are added
    /// word by word through their raw bytes: no field is named, and it costs a few additions
    /// (it runs once per folder the walk lists).
    package static func += (lhs: inout RunCounts, rhs: RunCounts) {
        precondition(isWords, "every field of RunCounts must be an Int or an Int64")
        withUnsafeMutableBytes(of: &lhs) { l in
            withUnsafeBytes(of: rhs) { r in
                for offset in stride(from: 0, to: l.count, by: 8) {
                    let sum = l.load(fromByteOffset: offset, as: Int64.self) &+ r.load(fromByteOffset: offset, as: Int64.self)
                    l.storeBytes(of: sum, toByteOffset: offset, as: Int64.self)
                }
            }
        }
    }

    /// The field-by-field sum (per-worker counts into the run's).
    package static func sum(_ parts: some Sequence<RunCounts>) -> RunCounts {
        var total = RunCounts()
        for part in parts { total += part }
        return total
    }

    /// The counts as a backend stores them: one JSON object whose keys are the snake_case
    /// field names (`files_hashed`), like every other JSON SiloMerge writes, in a stable order.
    package var storedJSON: String {
        let object = Dictionary(uniqueKeysWithValues: fields.map { (Self.storedName($0.name), $0.value) })
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// Counts read back from `storedJSON`. A key it does not know (a later version's counter)
    /// is ignored and a counter it lacks (an older run's) is 0: a run log never fails to read.
    package init(storedJSON json: String?) {
        guard let data = json?.data(using: .utf8),
              let object = try? JSONDecoder().decode([String: Int64].self, from: data) else { self.init(); return }
        var values: [String: Int64] = [:]
        for (name, _) in RunCounts().fields {
            if let n = object[Self.storedName(name)] { values[name] = n }
        }
        self.init(fields: values)
    }

    /// `filesHashed` → `files_hashed` (what `JSONEncoder.KeyEncodingStrategy.convertToSnakeCase` does).
    package static func storedName(_ name: String) -> String {
        var out = ""
        for c in name {
            if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
        }
        return out
    }
}
