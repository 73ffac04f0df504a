import CSiloMergeShims

/// A bounds-checked cursor over bytes. Every read returns nil instead of trapping when the
/// bytes run out, so parsers of untrusted data never index past the end.
struct ByteReader {
    let data: [UInt8]
    private(set) var offset: Int
    let end: Int
    var bigEndian: Bool

    init(_ data: [UInt8], bigEndian: Bool = true) {
        self.data = data
        self.offset = 0
        self.end = data.count
        self.bigEndian = bigEndian
    }

    init<C: Collection>(_ bytes: C, bigEndian: Bool = true) where C.Element == UInt8 {
        self.init(Array(bytes), bigEndian: bigEndian)
    }

    var remaining: Int { end - offset }
    var isAtEnd: Bool { offset >= end }

    mutating func u8() -> UInt8? {
        guard offset < end else { return nil }
        defer { offset += 1 }
        return data[offset]
    }

    mutating func u16() -> UInt16? {
        guard let v = data.u16(at: offset, bigEndian: bigEndian) else { return nil }
        offset += 2
        return v
    }

    mutating func u24() -> UInt32? {
        guard remaining >= 3 else { return nil }
        let b = (UInt32(data[offset]), UInt32(data[offset + 1]), UInt32(data[offset + 2]))
        offset += 3
        return bigEndian ? (b.0 << 16 | b.1 << 8 | b.2) : (b.2 << 16 | b.1 << 8 | b.0)
    }

    mutating func u32() -> UInt32? {
        guard let v = data.u32(at: offset, bigEndian: bigEndian) else { return nil }
        offset += 4
        return v
    }

    mutating func u64() -> UInt64? {
        guard let v = data.u64(at: offset, bigEndian: bigEndian) else { return nil }
        offset += 8
        return v
    }

    /// The next `count` bytes.
    mutating func bytes(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, count <= remaining else { return nil }
        defer { offset += count }
        return data[offset..<(offset + count)]
    }

    /// The rest of the bytes.
    mutating func rest() -> ArraySlice<UInt8> {
        defer { offset = end }
        return data[offset..<end]
    }

    /// Bytes up to (not including) the next NUL; the NUL is consumed. nil when there is none
    /// within `limit` bytes.
    mutating func cString(limit: Int = Int.max) -> ArraySlice<UInt8>? {
        let stop = offset + min(remaining, limit)
        var i = offset
        while i < stop {
            if data[i] == 0 {
                defer { offset = i + 1 }
                return data[offset..<i]
            }
            i += 1
        }
        return nil
    }

    @discardableResult
    mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, count <= remaining else { return false }
        offset += count
        return true
    }

    @discardableResult
    mutating func seek(to position: Int) -> Bool {
        guard position >= 0, position <= end else { return false }
        offset = position
        return true
    }

    func starts(with prefix: [UInt8]) -> Bool {
        guard prefix.count <= remaining else { return false }
        return data[offset..<(offset + prefix.count)].elementsEqual(prefix)
    }
}

extension Array where Element == UInt8 {
    func u8(at i: Int) -> UInt8? { i >= 0 && i < count ? self[i] : nil }

    func u16(at i: Int, bigEndian: Bool) -> UInt16? {
        guard i >= 0, i <= count - 2 else { return nil }
        let a = UInt16(self[i]), b = UInt16(self[i + 1])
        return bigEndian ? (a << 8 | b) : (b << 8 | a)
    }

    func u32(at i: Int, bigEndian: Bool) -> UInt32? {
        guard i >= 0, i <= count - 4 else { return nil }
        var v: UInt32 = 0
        if bigEndian {
            for k in 0..<4 { v = v << 8 | UInt32(self[i + k]) }
        } else {
            for k in (0..<4).reversed() { v = v << 8 | UInt32(self[i + k]) }
        }
        return v
    }

    func u64(at i: Int, bigEndian: Bool) -> UInt64? {
        guard i >= 0, i <= count - 8 else { return nil }
        var v: UInt64 = 0
        if bigEndian {
            for k in 0..<8 { v = v << 8 | UInt64(self[i + k]) }
        } else {
            for k in (0..<8).reversed() { v = v << 8 | UInt64(self[i + k]) }
        }
        return v
    }

    /// True when the bytes at `i` equal `prefix`.
    func hasBytes(_ prefix: [UInt8], at i: Int = 0) -> Bool {
        guard i >= 0, prefix.count <= count - i else { return false }
        for k in 0..<prefix.count where self[i + k] != prefix[k] { return false }
        return true
    }

    /// `hasBytes` for a literal, compared in place: format sniffing runs on every file a scan
    /// reads, and an array per literal per file showed in `perf` on a corpus of random bytes.
    func hasBytes(_ literal: StaticString, at i: Int = 0) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard i >= 0, n <= count - i else { return false }
        let p = literal.utf8Start
        for k in 0..<n where self[i + k] != p[k] { return false }
        return true
    }
}

/// Byte-string search on contiguous bytes (concrete, so it is fast without specialisation).
private func searchForward(_ buffer: UnsafeBufferPointer<UInt8>, _ needle: [UInt8], from start: Int) -> Int? {
    guard !needle.isEmpty, needle.count <= buffer.count, let base = buffer.baseAddress else { return nil }
    let from = max(0, start)
    guard from <= buffer.count - needle.count else { return nil }
    // memmem (libc's two-way search, vectorised): packets and markers are looked for in
    // megabytes of picture data, where a byte-by-byte loop cost more than the parsing.
    return needle.withUnsafeBufferPointer { n -> Int? in
        guard let hit = silomerge_memmem(base + from, buffer.count - from, n.baseAddress!, n.count) else { return nil }
        return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
    }
}

private func searchBackward(_ buffer: UnsafeBufferPointer<UInt8>, _ needle: [UInt8], before end: Int) -> Int? {
    guard let first = needle.first else { return nil }
    var i = min(end, buffer.count) - needle.count
    while i >= 0 {
        if buffer[i] == first {
            var k = 1
            while k < needle.count && buffer[i + k] == needle[k] { k += 1 }
            if k == needle.count { return i }
        }
        i -= 1
    }
    return nil
}

extension Array where Element == UInt8 {
    /// The first index where `needle` starts, searching `from` onwards.
    func indexOfBytes(_ needle: [UInt8], from start: Int = 0) -> Int? {
        withUnsafeBufferPointer { searchForward($0, needle, from: start) }
    }

    /// The last index where `needle` starts and ends at or before `before`.
    func lastIndexOfBytes(_ needle: [UInt8], before end: Int? = nil) -> Int? {
        withUnsafeBufferPointer { searchBackward($0, needle, before: end ?? count) }
    }
}

extension ArraySlice where Element == UInt8 {
    /// The first index (in the slice's own indices) where `needle` starts.
    func indexOfBytes(_ needle: [UInt8], from start: Int? = nil) -> Int? {
        let base = startIndex
        return withUnsafeBufferPointer { searchForward($0, needle, from: (start ?? base) - base) }.map { $0 + base }
    }
}

/// ASCII bytes of a string literal.
@inline(__always) func asciiBytes(_ s: StaticString) -> [UInt8] {
    Array(UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
}

/// "0x4f2a" for messages.
func hexString<T: BinaryInteger>(_ v: T) -> String { "0x" + String(v, radix: 16) }

extension UInt32 {
    /// The big-endian number in `bytes[i..<(i + 4)]` (the caller has checked the bounds).
    @inline(__always) init(bigEndianBytes bytes: UnsafeRawBufferPointer, at i: Int) {
        self = UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
    }
}
