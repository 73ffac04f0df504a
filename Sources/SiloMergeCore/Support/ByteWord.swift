/// Eight bytes at a time: the classic "has a zero byte" tests on a word of eight bytes (one
/// unaligned load), for scans that cross plain runs a word at a time and look at the bytes of
/// a word one by one only when it may hold one they stop at. Each test marks (high bit) at
/// least every byte it names; it is exact when no byte of the word has its high bit set, so
/// callers test `hasHighBit` first or treat such a word as a possible stop anyway.
enum ByteWord {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let high: UInt64 = 0x8080_8080_8080_8080

    @inline(__always) static func hasHighBit(_ w: UInt64) -> Bool { w & high != 0 }

    /// Marks of the zero bytes of `w`.
    @inline(__always) static func zeroBytes(_ w: UInt64) -> UInt64 { (w &- ones) & ~w & high }

    /// Marks of the bytes of `w` equal to `b`.
    @inline(__always) static func bytes(_ w: UInt64, equalTo b: UInt8) -> UInt64 { zeroBytes(w ^ (ones &* UInt64(b))) }

    /// Marks of the bytes of `w` below `n` (at most 0x80).
    @inline(__always) static func bytes(_ w: UInt64, below n: UInt8) -> UInt64 { (w &- ones &* UInt64(n)) & ~w & high }
}
