import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Timestamps as the catalogue, plans and reports write them: ISO 8601, UTC, milliseconds
/// (`2026-11-21T19:04:05.123Z`), which SQLite's date functions read and which sort as text.
public enum Timestamp {
    /// `date` to the nearest millisecond.
    public static func string(_ date: Date) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded())
        return string(nanoseconds: millis * 1_000_000)
    }

    /// A nanosecond Unix time (as `FileStat` keeps mtimes), exactly: integer arithmetic only (a
    /// Double holds 15-16 digits, a nanosecond time 19), the fraction truncated to milliseconds
    /// as `ls` shows times, times before 1970 included. The one formatter of such times: the
    /// catalogue, plans, journals, exports and reports all go through it.
    public static func string(nanoseconds ns: Int64) -> String {
        let (whole, fraction) = split(nanoseconds: ns)
        var t = time_t(whole)
        var tm = tm()
        gmtime_r(&t, &tm)
        // Digits by hand: String(format:) costs more than the rest of recording a file.
        var out = [UInt8](repeating: 0, count: 24)
        func put(_ value: Int, _ at: Int, _ width: Int) {
            var v = value
            for k in stride(from: width - 1, through: 0, by: -1) { out[at + k] = UInt8(48 + v % 10); v /= 10 }
        }
        put(Int(tm.tm_year) + 1900, 0, 4); out[4] = 45
        put(Int(tm.tm_mon) + 1, 5, 2); out[7] = 45
        put(Int(tm.tm_mday), 8, 2); out[10] = 84
        put(Int(tm.tm_hour), 11, 2); out[13] = 58
        put(Int(tm.tm_min), 14, 2); out[16] = 58
        put(Int(tm.tm_sec), 17, 2); out[19] = 46
        put(Int(fraction / 1_000_000), 20, 3); out[23] = 90
        return String(decoding: out, as: UTF8.self)
    }

    /// Whole seconds (rounded down) and the nanoseconds after them (0 ..< 1e9), also before 1970.
    public static func split(nanoseconds ns: Int64) -> (seconds: Int64, nanoseconds: Int64) {
        var seconds = ns / 1_000_000_000
        var rest = ns % 1_000_000_000
        if rest < 0 { rest += 1_000_000_000; seconds -= 1 }
        return (seconds, rest)
    }

    /// The UTC day of a nanosecond time: ("2023", "06", "14").
    public static func utcDay(nanoseconds ns: Int64) -> (String, String, String) {
        let text = string(nanoseconds: ns)
        let b = Array(text.utf8)
        return (String(decoding: b[0..<4], as: UTF8.self), String(decoding: b[5..<7], as: UTF8.self), String(decoding: b[8..<10], as: UTF8.self))
    }

    /// Parses what `string(_:)` writes (also without the fraction, or with an offset).
    public static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = formatter.date(from: text) { return d }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
