import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Timestamps as the catalogue, plans and reports write them: ISO 8601, UTC, milliseconds
/// (`2026-11-21T19:04:05.123Z`), which SQLite's date functions read and which sort as text.
public enum Timestamp {
    public static func string(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        var whole = time_t(seconds.rounded(.down))
        var millis = Int(((seconds - Double(whole)) * 1000).rounded())
        if millis >= 1000 { whole += 1; millis -= 1000 }
        var tm = tm()
        gmtime_r(&whole, &tm)
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
        put(millis, 20, 3); out[23] = 90
        return String(decoding: out, as: UTF8.self)
    }

    /// A nanosecond Unix time (as `FileStat` keeps mtimes) in the same format, to the second
    /// when there is no fraction.
    public static func string(nanoseconds ns: Int64) -> String {
        string(Date(timeIntervalSince1970: Double(ns) / 1e9))
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
