/// When a photo was taken, as its metadata says (the catalogue's `date_created`: EXIF
/// DateTimeOriginal with SubSecTimeOriginal, or XMP/IPTC), for telling a burst from a
/// derivative: frames of a burst look alike but were taken at different moments, while a
/// resized or re-encoded copy keeps its original's capture time or has none.
///
/// Wall-clock time to the second, plus the fraction when the metadata gives one. The zone is
/// ignored: DateTimeOriginal is local time and often carries no offset, so a copy that gained
/// or lost one must still compare equal.
public struct CaptureTime: Hashable, Sendable, CustomStringConvertible {
    /// YYYYMMDDhhmmss as one number.
    public var seconds: Int64
    /// The digits after the seconds' point, trailing zeros removed; nil when not recorded.
    public var fraction: String?

    /// From an ISO 8601 date with at least seconds ("2023-06-14T18:32:07", optionally
    /// ".123" and a zone); nil for a partial date ("2023-06") or anything else.
    public init?(iso: String) {
        let b = Array(iso.utf8)
        guard b.count >= 19, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
              b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: " "),
              b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":") else { return nil }
        var value: Int64 = 0
        for i in [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18] {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]) else { return nil }
            value = value * 10 + Int64(b[i] - UInt8(ascii: "0"))
        }
        seconds = value
        fraction = nil
        if b.count > 20, b[19] == UInt8(ascii: ".") {
            var digits = b[20...].prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
            while digits.last == UInt8(ascii: "0") { digits = digits.dropLast() }
            fraction = String(decoding: digits, as: UTF8.self)
        }
    }

    /// True when the two are known to be different moments: other seconds, or both fractions
    /// recorded and different. A time without a fraction does not differ from one with.
    public func differs(from other: CaptureTime) -> Bool {
        if seconds != other.seconds { return true }
        if let a = fraction, let b = other.fraction { return a != b }
        return false
    }

    public var description: String { "\(seconds)" + (fraction.map { ".\($0)" } ?? "") }
}
