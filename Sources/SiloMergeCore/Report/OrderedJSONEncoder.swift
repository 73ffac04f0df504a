import Foundation

/// Compact JSON from `Encodable` values with the keys in the order the value encodes them (a
/// designed order: `sha256` first, `fields` last), and strings escaped by `Encode.json` (control
/// characters, DEL, U+2028/2029 as `\uXXXX`; slashes as they are). `JSONEncoder` gives neither:
/// it reorders keys (or sorts them) and escapes differently, so lines a script or a diff
/// compares would change with the Foundation version. Numbers that must keep an exact written
/// form (coordinates to 7 decimals) are `JSONNumberText`.
///
/// Everything SiloMerge writes as JSON in its own key order goes through it: the `export
/// --format jsonl` line (`ExportWriter.jsonLine`). Outputs with sorted keys use `JSONOutput`.
public struct OrderedJSONEncoder: Sendable {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> String {
        let root = JSONSlot()
        try root.put(value, codingPath: [])
        var out = ""
        root.render(into: &out)
        return out
    }
}

/// A JSON number written exactly as `text` by `OrderedJSONEncoder` (any other encoder gets
/// it as a `Decimal`).
public struct JSONNumberText: Encodable, Sendable, Hashable {
    public var text: String
    public init(_ text: String) { self.text = text }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(Decimal(string: text) ?? 0)
    }
}

/// One JSON value being built.
private final class JSONSlot {
    enum Content { case empty, scalar(String), object([(String, JSONSlot)]), array([JSONSlot]) }
    var content = Content.empty

    func put<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws {
        switch value {
        case let n as JSONNumberText: content = .scalar(n.text)
        case let s as String: content = .scalar(Encode.json(s))
        case let b as Bool: content = .scalar(b ? "true" : "false")
        case let d as Double:
            guard d.isFinite else { throw JSONSlot.invalid(d, codingPath) }
            content = .scalar("\(d)")
        case let f as Float:
            guard f.isFinite else { throw JSONSlot.invalid(f, codingPath) }
            content = .scalar("\(f)")
        case let i as any BinaryInteger: content = .scalar("\(i)")
        case let d as Decimal: content = .scalar(d.description)
        default: try value.encode(to: JSONSlotEncoder(slot: self, codingPath: codingPath))
        }
    }

    static func invalid(_ value: Any, _ codingPath: [any CodingKey]) -> EncodingError {
        EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "JSON has no \(value)"))
    }

    func child(forKey key: String) -> JSONSlot {
        let slot = JSONSlot()
        if case .object(var entries) = content {
            content = .empty   // keep the array uniquely referenced while it grows
            if let i = entries.firstIndex(where: { $0.0 == key }) { entries[i].1 = slot } else { entries.append((key, slot)) }
            content = .object(entries)
        } else {
            content = .object([(key, slot)])
        }
        return slot
    }

    func appended() -> JSONSlot {
        let slot = JSONSlot()
        if case .array(var items) = content {
            content = .empty
            items.append(slot)
            content = .array(items)
        } else {
            content = .array([slot])
        }
        return slot
    }

    func makeObject() { if case .object = content {} else { content = .object([]) } }
    func makeArray() { if case .array = content {} else { content = .array([]) } }

    func render(into out: inout String) {
        switch content {
        case .empty: out += "null"
        case .scalar(let s): out += s
        case .object(let entries):
            out += "{"
            for (i, (key, slot)) in entries.enumerated() {
                if i > 0 { out += "," }
                out += Encode.json(key)
                out += ":"
                slot.render(into: &out)
            }
            out += "}"
        case .array(let items):
            out += "["
            for (i, slot) in items.enumerated() {
                if i > 0 { out += "," }
                slot.render(into: &out)
            }
            out += "]"
        }
    }
}

private struct JSONSlotEncoder: Encoder {
    let slot: JSONSlot
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        slot.makeObject()
        return KeyedEncodingContainer(JSONKeyedSlot<Key>(slot: slot, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        slot.makeArray()
        return JSONUnkeyedSlot(slot: slot, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { JSONSingleSlot(slot: slot, codingPath: codingPath) }
}

private struct JSONIndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String { "\(intValue ?? 0)" }
    init(_ i: Int) { intValue = i }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private struct JSONKeyedSlot<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let slot: JSONSlot
    var codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws { _ = slot.child(forKey: key.stringValue) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try put(value, key) }
    private func put<T: Encodable>(_ value: T, _ key: Key) throws {
        try slot.child(forKey: key.stringValue).put(value, codingPath: codingPath + [key])
    }
    mutating func encode(_ value: Bool, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: String, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try put(value, key) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let child = slot.child(forKey: key.stringValue)
        child.makeObject()
        return KeyedEncodingContainer(JSONKeyedSlot<NestedKey>(slot: child, codingPath: codingPath + [key]))
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = slot.child(forKey: key.stringValue)
        child.makeArray()
        return JSONUnkeyedSlot(slot: child, codingPath: codingPath + [key])
    }
    mutating func superEncoder() -> any Encoder { JSONSlotEncoder(slot: slot.child(forKey: "super"), codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        JSONSlotEncoder(slot: slot.child(forKey: key.stringValue), codingPath: codingPath + [key])
    }
}

private struct JSONUnkeyedSlot: UnkeyedEncodingContainer {
    let slot: JSONSlot
    var codingPath: [any CodingKey]
    var count: Int { if case .array(let items) = slot.content { items.count } else { 0 } }

    mutating func encodeNil() throws { _ = slot.appended() }
    mutating func encode<T: Encodable>(_ value: T) throws { try append(value) }
    private func append<T: Encodable>(_ value: T) throws {
        let key = JSONIndexKey(count)
        try slot.appended().put(value, codingPath: codingPath + [key])
    }
    mutating func encode(_ value: Bool) throws { try append(value) }
    mutating func encode(_ value: String) throws { try append(value) }
    mutating func encode(_ value: Double) throws { try append(value) }
    mutating func encode(_ value: Float) throws { try append(value) }
    mutating func encode(_ value: Int) throws { try append(value) }
    mutating func encode(_ value: Int8) throws { try append(value) }
    mutating func encode(_ value: Int16) throws { try append(value) }
    mutating func encode(_ value: Int32) throws { try append(value) }
    mutating func encode(_ value: Int64) throws { try append(value) }
    mutating func encode(_ value: UInt) throws { try append(value) }
    mutating func encode(_ value: UInt8) throws { try append(value) }
    mutating func encode(_ value: UInt16) throws { try append(value) }
    mutating func encode(_ value: UInt32) throws { try append(value) }
    mutating func encode(_ value: UInt64) throws { try append(value) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let key = JSONIndexKey(count)
        let child = slot.appended()
        child.makeObject()
        return KeyedEncodingContainer(JSONKeyedSlot<NestedKey>(slot: child, codingPath: codingPath + [key]))
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let key = JSONIndexKey(count)
        let child = slot.appended()
        child.makeArray()
        return JSONUnkeyedSlot(slot: child, codingPath: codingPath + [key])
    }
    mutating func superEncoder() -> any Encoder { JSONSlotEncoder(slot: slot.appended(), codingPath: codingPath) }
}

private struct JSONSingleSlot: SingleValueEncodingContainer {
    let slot: JSONSlot
    var codingPath: [any CodingKey]

    mutating func encodeNil() throws { slot.content = .scalar("null") }
    mutating func encode<T: Encodable>(_ value: T) throws { try slot.put(value, codingPath: codingPath) }
    mutating func encode(_ value: Bool) throws { try slot.put(value, codingPath: codingPath) }
    mutating func encode(_ value: String) throws { try slot.put(value, codingPath: codingPath) }
    mutating func encode(_ value: Double) throws { try slot.put(value, codingPath: codingPath) }
    mutating func encode(_ value: Float) throws { try slot.put(value, codingPath: codingPath) }
    mutating func encode(_ value: Int) throws { try slot.put(value, codingPath: codingPath) }
    mutating func encode(_ value: Int8) throws { try slot.put(value, codingPath: codingPath) }
    mutating func encode(_ value: Int16) throws { try slot.put(value, codingPath: codingPath) }
    mutating func encode(_ value: Int32) throws { try slot.put(value, codingPath: codingPath) }
    mutating func encode(_ value: Int64) throws { try slot.put(value, codingPath: codingPath) }
    mutating func encode(_ value: UInt) throws { try slot.put(value, codingPath: codingPath) }
    mutating func encode(_ value: UInt8) throws { try slot.put(value, codingPath: codingPath) }
    mutating func encode(_ value: UInt16) throws { try slot.put(value, codingPath: codingPath) }
    mutating func encode(_ value: UInt32) throws { try slot.put(value, codingPath: codingPath) }
    mutating func encode(_ value: UInt64) throws { try slot.put(value, codingPath: codingPath) }
}
