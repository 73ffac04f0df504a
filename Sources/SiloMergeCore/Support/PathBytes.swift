import Foundation

/// A path relative to a silo root, held as the exact bytes the file system gave us.
///
/// On Linux a file name is a sequence of bytes, not a string: names that are not valid UTF-8
/// (a Latin-1 name copied from an old server, say) must survive scanning, cataloguing and
/// merging unchanged. `RelativePath` never normalises, decodes or re-encodes those bytes.
/// Components are separated by `/` (0x2F); the path never starts or ends with one.
public struct RelativePath: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// A path from a Swift string (always valid UTF-8).
    public init(_ string: String) { self.bytes = Array(string.utf8) }

    /// The empty path: the silo root itself.
    public static let root = RelativePath(bytes: [])

    public var isRoot: Bool { bytes.isEmpty }

    /// Appends one name (a directory entry) to this path.
    public func appending(_ name: [UInt8]) -> RelativePath {
        if bytes.isEmpty { return RelativePath(bytes: name) }
        var out = bytes
        out.reserveCapacity(bytes.count + 1 + name.count)
        out.append(0x2F)
        out.append(contentsOf: name)
        return RelativePath(bytes: out)
    }

    /// The last component (the file name) as bytes.
    public var lastComponent: ArraySlice<UInt8> {
        if let slash = bytes.lastIndex(of: 0x2F) { return bytes[(slash + 1)...] }
        return bytes[...]
    }

    /// The parent path ("" for a top-level entry).
    public var parent: RelativePath {
        if let slash = bytes.lastIndex(of: 0x2F) { return RelativePath(bytes: Array(bytes[..<slash])) }
        return .root
    }

    /// The components, as byte slices.
    public var components: [ArraySlice<UInt8>] {
        bytes.split(separator: 0x2F, omittingEmptySubsequences: true)
    }

    /// The exact string when the bytes are valid UTF-8, else nil.
    public var string: String? { String(validatingUTF8Bytes: bytes) }

    public var isValidUTF8: Bool { string != nil }

    /// A form safe to show a person: valid UTF-8 is shown as is, except that control characters
    /// (a newline inside a name, say) are escaped; each byte that is not valid UTF-8 is written
    /// `\xNN`. Two different paths may look alike here; `bytes` is the truth.
    public var display: String { PathDisplay.escape(bytes) }

    public var description: String { display }

    public static func < (lhs: RelativePath, rhs: RelativePath) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }
}

extension String {
    /// Decodes UTF-8 strictly: returns nil when the bytes are not valid UTF-8 (instead of
    /// repairing them with U+FFFD as `String(decoding:as:)` does).
    public init?<C: Collection>(validatingUTF8Bytes bytes: C) where C.Element == UInt8 {
        self.init(validating: bytes, as: UTF8.self)
    }
}

public enum PathDisplay {
    /// Escapes bytes for display. Valid UTF-8 without control characters is returned as is.
    /// Otherwise each byte that does not start a valid UTF-8 scalar becomes `\xNN`, control
    /// characters become `\n`, `\t`, `\r` or `\u{NN}`, and a backslash is doubled so the
    /// escapes cannot be confused with a name that really holds `\x41`.
    public static func escape<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        if let s = String(validatingUTF8Bytes: bytes), !s.unicodeScalars.contains(where: needsEscape) {
            return s
        }
        let all = Array(bytes)
        var out = ""
        var i = 0
        while i < all.count {
            let (scalar, length) = decodeScalar(all, at: i)
            if let scalar {
                if scalar == "\\" { out += "\\\\" }
                else if needsEscape(scalar) { out += escapeScalar(scalar) }
                else { out.unicodeScalars.append(scalar) }
                i += length
            } else {
                out += "\\x" + hex2(UInt32(all[i]))
                i += 1
            }
        }
        return out
    }

    static func needsEscape(_ s: Unicode.Scalar) -> Bool {
        s.value < 0x20 || s.value == 0x7F || (0x80...0x9F).contains(s.value)
    }

    static func escapeScalar(_ s: Unicode.Scalar) -> String {
        switch s {
        case "\n": return "\\n"
        case "\t": return "\\t"
        case "\r": return "\\r"
        default: return "\\u{" + hex2(s.value) + "}"
        }
    }

    /// `String(format: "%02X", v)` without Foundation's formatter (names of every file with
    /// an odd byte pass through here).
    static func hex2(_ v: UInt32) -> String {
        let digits = String(v, radix: 16, uppercase: true)
        return digits.count < 2 ? "0" + digits : digits
    }

    /// Decodes one UTF-8 scalar at `i`; returns nil when the bytes there are not valid UTF-8.
    static func decodeScalar(_ b: [UInt8], at i: Int) -> (Unicode.Scalar?, Int) {
        let b0 = b[i]
        if b0 < 0x80 { return (Unicode.Scalar(b0), 1) }
        let length: Int
        let minimum: UInt32
        var value: UInt32
        switch b0 {
        case 0xC2...0xDF: length = 2; value = UInt32(b0 & 0x1F); minimum = 0x80
        case 0xE0...0xEF: length = 3; value = UInt32(b0 & 0x0F); minimum = 0x800
        case 0xF0...0xF4: length = 4; value = UInt32(b0 & 0x07); minimum = 0x10000
        default: return (nil, 1)
        }
        guard i + length <= b.count else { return (nil, 1) }
        for k in 1..<length {
            let c = b[i + k]
            guard c & 0xC0 == 0x80 else { return (nil, 1) }
            value = (value << 6) | UInt32(c & 0x3F)
        }
        guard value >= minimum, let scalar = Unicode.Scalar(value) else { return (nil, 1) }
        return (scalar, length)
    }
}

/// An absolute file-system path as bytes, for silo roots and the catalogue location.
public struct FilePath: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]
    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(_ string: String) { self.bytes = Array(string.utf8) }
    public var string: String? { String(validatingUTF8Bytes: bytes) }
    public var display: String { PathDisplay.escape(bytes) }
    public var description: String { display }

    /// Calls `body` with a NUL-terminated C string of the path.
    public func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        try (bytes + [0]).withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }

    /// Appends a relative path.
    public func appending(_ relative: RelativePath) -> FilePath {
        if relative.isRoot { return self }
        if bytes.last == 0x2F { return FilePath(bytes: bytes + relative.bytes) }
        return FilePath(bytes: bytes + [0x2F] + relative.bytes)
    }

    /// The last component.
    public var lastComponent: [UInt8] {
        let trimmed = bytes.last == 0x2F && bytes.count > 1 ? Array(bytes.dropLast()) : bytes
        if let slash = trimmed.lastIndex(of: 0x2F) { return Array(trimmed[(slash + 1)...]) }
        return trimmed
    }

    /// True when `other` is this path or lies inside it (component-wise).
    public func contains(_ other: FilePath) -> Bool {
        let a = bytes.last == 0x2F ? Array(bytes.dropLast()) : bytes
        guard other.bytes.count >= a.count, Array(other.bytes.prefix(a.count)) == a else { return false }
        return other.bytes.count == a.count || other.bytes[a.count] == 0x2F || a.isEmpty
    }
}

extension RelativePath {
    /// Calls `body` with a NUL-terminated C string of the path ("." for the root).
    public func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        let b = bytes.isEmpty ? [UInt8(ascii: ".")] : bytes
        return try (b + [0]).withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }
}

extension String {
    /// The exact UTF-8 bytes, for identities (silo names, paths held as text).
    ///
    /// Swift's `String ==` and hashing compare canonically equivalent texts as equal: NFC `é`
    /// (one code point) and NFD `é` (`e` and a combining accent) are one string to Swift and two
    /// different names to the file system, which can hold both in one folder. Anything that
    /// identifies a file or a silo is keyed by these bytes, never by the `String` itself.
    public var exactBytes: [UInt8] { Array(utf8) }
}
