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
        // The form `string` writes, read by hand: an ISO8601DateFormatter costs milliseconds to
        // make (ICU), and every command reading the run history made one per run.
        if let d = written(text) { return d }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = formatter.date(from: text) { return d }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fff]Z`, the form `string` writes; nil for anything else.
    static func written(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count == 20 || b.count == 24, b[4] == 45, b[7] == 45, b[10] == 84, b[13] == 58, b[16] == 58,
              b[b.count - 1] == 90 else { return nil }
        func number(_ at: Int, _ width: Int) -> Int? {
            var v = 0
            for k in at..<(at + width) {
                guard b[k] >= 48, b[k] <= 57 else { return nil }
                v = v * 10 + Int(b[k] - 48)
            }
            return v
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60 else { return nil }
        var millis = 0
        if b.count == 24 {
            guard b[19] == 46, let m = number(20, 3) else { return nil }
            millis = m
        }
        var tm = tm()
        tm.tm_year = Int32(year - 1900); tm.tm_mon = Int32(month - 1); tm.tm_mday = Int32(day)
        tm.tm_hour = Int32(hour); tm.tm_min = Int32(minute); tm.tm_sec = Int32(second)
        let seconds = timegm(&tm)
        // A day past the month's end (2026-02-30) is no date, as for the formatter.
        guard tm.tm_mday == Int32(day), tm.tm_mon == Int32(month - 1) else { return nil }
        return Date(timeIntervalSince1970: Double(seconds) + Double(millis) / 1000)
    }
}
