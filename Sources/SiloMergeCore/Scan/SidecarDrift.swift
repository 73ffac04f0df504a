import Foundation

/// What a catalogue remembers of one of a file's sidecars, to tell at a rescan what drifted.
package struct RememberedSidecar: Sendable {
    package var name: [UInt8]
    /// nil when its content was never read.
    package var sha256: SHA256Digest?
    package var used: Bool
    /// Its values per field as recorded (`SidecarFields`); nil when the catalogue did not record
    /// them (catalogues from before per-sidecar fields, or a sidecar read for its hash alone).
    package var fields: [String: [String]]?

    package init(name: [UInt8], sha256: SHA256Digest?, used: Bool, fields: [String: [String]]?) {
        self.name = name; self.sha256 = sha256; self.used = used; self.fields = fields
    }
}

/// A sidecar's values per field as every catalogue stores them (`sidecar.fields`): each value's
/// JSON, sorted, in JSON with sorted keys, so that the same values are the same text on every
/// backend and a drift comparison is a comparison of sets.
package enum SidecarFields {
    package static func of(_ values: [SourcedValue]) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for v in values { out[v.field.rawValue, default: []].append(v.value.json) }
        return out.mapValues { $0.sorted() }
    }

    /// JSON with sorted keys, each list as given. Written out by hand with `Encode.json`: a
    /// JSONEncoder per sidecar cost more than parsing the sidecar (`perf`, a scan of 2,800
    /// sidecars); `decode` reads both this and what JSONEncoder wrote into older catalogues,
    /// and drift compares the decoded maps, never the text.
    package static func encode(_ fields: [String: [String]]) -> String {
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (i, key) in fields.keys.sorted().enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            append(key, fields[key]!, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    /// `encode(of(values))`, from the values' JSON already made (`json[i]` is
    /// `values[i].value.json`: a scan encodes each value once for its metadata row and its
    /// sidecar's fields), without the dictionary.
    package static func encode(_ values: [SourcedValue], json: [String]) -> String {
        precondition(values.count == json.count)
        // Fields in the order of their names (the keys' order in `encode`), each field's
        // values sorted, as `of` sorts them. Fields compare by a rank worked out once (not
        // their names, a String made and compared per comparison: most of this function's
        // cost in a scan of 2,800 sidecars); two values' JSON only within one field.
        let rank = nameRank
        let order = (0..<values.count).sorted { a, b in
            let ra = rank[values[a].field.index], rb = rank[values[b].field.index]
            return ra == rb ? json[a] < json[b] : ra < rb
        }
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(2 + json.reduce(0) { $0 + $1.utf8.count + 8 })
        var k = 0
        while k < order.count {
            let field = values[order[k]].field
            if k > 0 { out.append(UInt8(ascii: ",")) }
            Encode.appendJSON(field.rawValue, to: &out)
            out.append(UInt8(ascii: ":")); out.append(UInt8(ascii: "["))
            var first = true
            while k < order.count, values[order[k]].field == field {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                Encode.appendJSON(json[order[k]], to: &out)
                k += 1
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Each field's position among all fields sorted by name (`rawValue`), by `index`.
    private static let nameRank: [Int] = {
        var rank = [Int](repeating: 0, count: UnifiedField.allCases.count)
        for (r, field) in UnifiedField.allCases.sorted(by: { $0.rawValue < $1.rawValue }).enumerated() { rank[field.index] = r }
        return rank
    }()

    private static func append(_ key: String, _ list: [String], to out: inout [UInt8]) {
        Encode.appendJSON(key, to: &out)
        out.append(UInt8(ascii: ":")); out.append(UInt8(ascii: "["))
        for (k, value) in list.enumerated() {
            if k > 0 { out.append(UInt8(ascii: ",")) }
            Encode.appendJSON(value, to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    package static func decode(_ json: String) -> [String: [String]]? {
        try? JSONDecoder().decode([String: [String]].self, from: Data(json.utf8))
    }

    /// The fields whose values differ between two maps, sorted.
    package static func changed(_ old: [String: [String]], _ new: [String: [String]]) -> [String] {
        Set(old.keys).union(new.keys).filter { (old[$0] ?? []).sorted() != (new[$0] ?? []).sorted() }.sorted()
    }
}

/// The words of a `metadata` change recorded when a file's content is unchanged but its
/// sidecars are not, written once here for every backend (the change lists of two catalogues of
/// the same silos must read the same).
package enum SidecarDrift {
    /// Sidecar by sidecar: one used or overridden (a `name.xmp` beside a `name.ext.xmp`) whose
    /// values changed, one added, one removed; nil when nothing drifted. A sidecar whose values
    /// were not read on either side (metadata reading was off) cannot be compared and is not
    /// claimed to have drifted.
    ///
    /// - Parameter recordedValues: the values per field the catalogue holds for a used sidecar
    ///   whose fields it did not record, given the sidecar's path as its metadata rows name it.
    package static func detail(remembered old: [RememberedSidecar], now sidecars: [SidecarRecord], dir: RelativePath,
                               recordedValues: (String) throws -> [String: [String]]) rethrows -> String? {
        func label(_ name: [UInt8]) -> String { String(decoding: name, as: UTF8.self) }
        let winner = sidecars.first { $0.used && $0.form == .nameWithExtension }.map { label($0.name) }
        func described(_ sc: SidecarRecord) -> String {
            label(sc.name) + (sc.used ? "" : " (not used: \(winner ?? "another sidecar") takes precedence)")
        }
        var parts: [String] = []
        for sc in sidecars {
            let newFields = sc.valuesRead ? SidecarFields.of(sc.values) : nil
            guard let o = old.first(where: { $0.name == sc.name }) else {
                let fields = newFields.map { $0.keys.sorted() } ?? []
                parts.append("sidecar added (\(described(sc)))" + (fields.isEmpty ? "" : ": " + fields.joined(separator: ", ")))
                continue
            }
            guard let oldSHA = o.sha256, let newSHA = sc.sha256 else { continue }
            if oldSHA == newSHA && o.used == sc.used { continue }
            var oldFields = o.fields
            if oldFields == nil && o.used {
                let path = dir.appending(sc.name)
                oldFields = try recordedValues(path.string ?? path.display)
            }
            guard let oldFields, let newFields else { continue }
            let changed = SidecarFields.changed(oldFields, newFields)
            if !changed.isEmpty {
                parts.append("sidecar \(described(sc)): " + changed.joined(separator: ", "))
            } else if o.used != sc.used {
                parts.append("sidecar \(described(sc))" + (sc.used ? ": now used" : ""))
            }
        }
        for o in old where !sidecars.contains(where: { $0.name == o.name }) {
            let fields = (o.fields ?? [:]).keys.sorted()
            parts.append("sidecar removed (\(label(o.name)))" + (fields.isEmpty ? "" : ": " + fields.joined(separator: ", ")))
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }
}
