import Foundation
import Testing
@testable import SiloMergeCore

/// `DateNormalizer` builds its ISO dates as bytes. The String-appending version it replaced is
/// kept here as the reference: on dates of every form, every separator, zone and fraction,
/// and on near misses (a digit off, a part missing, impossible days), both must give the same
/// answer, to the byte.
@Suite struct DateNormalizerBytesTests {
    // MARK: The former implementation (String appends), verbatim

    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    private static func number<C: Collection>(_ d: C) -> Int where C.Element == UInt8 { d.reduce(0) { $0 * 10 + Int($1 - 0x30) } }
    private static func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
    private static func format4(_ v: Int) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }
    private static func referenceZone(_ b: [UInt8]) -> String? {
        var z = b
        while z.first == UInt8(ascii: " ") { z.removeFirst() }
        if z == [UInt8(ascii: "Z")] { return "Z" }
        guard let sign = z.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") else { return nil }
        let digits = z.dropFirst().filter { $0 != UInt8(ascii: ":") }
        guard digits.allSatisfy(isDigit), digits.count == 2 || digits.count == 4 else { return nil }
        let d = Array(digits)
        let hh = number(d[0..<2]), mm = d.count == 4 ? number(d[2..<4]) : 0
        guard hh <= 14, mm < 60 else { return nil }
        return (sign == UInt8(ascii: "+") ? "+" : "-") + two(hh) + ":" + two(mm)
    }
    private static func referenceISO(_ b: [UInt8]) -> String? {
        guard b.count >= 4, b[0..<4].allSatisfy(isDigit) else { return nil }
        var out = format4(number(b[0..<4]))
        var i = 4
        var dateParts = 1
        var month = 0
        while dateParts < 3, i < b.count, b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: ":") {
            guard i + 3 <= b.count, b[(i + 1)..<(i + 3)].allSatisfy(isDigit) else { return nil }
            let v = number(b[(i + 1)..<(i + 3)])
            guard dateParts == 1 ? (1...12).contains(v) : (1...DateNormalizer.daysIn(month: month, year: number(b[0..<4]))).contains(v) else { return nil }
            if dateParts == 1 { month = v }
            out += "-" + two(v)
            i += 3
            dateParts += 1
        }
        if i == b.count { return out }
        guard dateParts == 3, b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: " ") else { return nil }
        i += 1
        guard i + 5 <= b.count, b[i..<(i + 2)].allSatisfy(isDigit), b[i + 2] == UInt8(ascii: ":"),
              b[(i + 3)..<(i + 5)].allSatisfy(isDigit) else { return nil }
        let hh = number(b[i..<(i + 2)]), mm = number(b[(i + 3)..<(i + 5)])
        guard hh <= 24, mm < 60 else { return nil }
        out += "T" + two(hh) + ":" + two(mm)
        i += 5
        if i < b.count, b[i] == UInt8(ascii: ":") {
            guard i + 3 <= b.count, b[(i + 1)..<(i + 3)].allSatisfy(isDigit) else { return nil }
            let ss = number(b[(i + 1)..<(i + 3)])
            guard ss <= 60 else { return nil }
            out += ":" + two(ss)
            i += 3
            if i < b.count, b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: ",") {
                var k = i + 1
                while k < b.count && isDigit(b[k]) { k += 1 }
                guard k > i + 1 else { return nil }
                out += "." + String(decoding: b[(i + 1)..<k], as: UTF8.self)
                i = k
            }
        }
        if i == b.count { return out }
        guard let zone = referenceZone(Array(b[i...])) else { return nil }
        return out + zone
    }

    // MARK: Inputs

    /// Dates as metadata writes them, then each mutated: a byte changed, dropped or doubled.
    static func inputs() -> [String] {
        var rng = SystemRandomNumberGenerator()
        var out: [String] = ["2023", "2023-06", "2023-06-14", "2023:06:14 18:32:07", "2023-02-29", "2024-02-29", "1900-02-29",
                             "2000-02-29", "2023-06-31", "2023-13-01", "2023-00-10", "2023-06-14T24:00", "2023-06-14T18:60",
                             "2023-06-14T18:32:61", "2023-06-14T18:32:07.042+01:00", "2023-06-14 18:32:07,5Z",
                             "2023-06-14T18:32Z", "2023-06-14T18:32:07 +0100", "2023-06-14T18:32:07-05", "2023-06-14T18:32:07+15:00",
                             "2023-06-14T18:32:07+01:60", "2023-06-14T18:32:07+1", "2023-06-14T18:32:07+01:00:00", "2023:06:14",
                             "2023-06-14T", "2023-06-14T18", "2023-06-14T18:3", "2023-06-14T18:32:", "2023-06-14T18:32:07.",
                             "0000:00:00 00:00:00", "12345-01-01", "2023-6-14", "2023-06-14X18:32", "2023-06-14T18:32:07 Z",
                             "2023-06-14T18:32:07  +01:00", "2023-06-14T18:32:07+0:100", "2023-06-14T18:32:07+:0100"]
        let seps: [String] = ["-", ":", "/", ""], times: [String] = ["T", " ", "t", ""], zones = ["", "Z", "+01:00", "-0530", "+14", "+99", " GMT", "z", "+1:00"]
        for _ in 0..<3000 {
            // Mostly valid parts (so that most dates are accepted), sometimes any.
            let valid = Int.random(in: 0..<5, using: &rng) > 0
            let y = Int.random(in: 0...9999, using: &rng)
            let m = valid ? Int.random(in: 1...12, using: &rng) : Int.random(in: 0...13, using: &rng)
            let d = valid ? Int.random(in: 1...28, using: &rng) : Int.random(in: 0...32, using: &rng)
            let hh = valid ? Int.random(in: 0...23, using: &rng) : Int.random(in: 0...25, using: &rng)
            let mm = valid ? Int.random(in: 0...59, using: &rng) : Int.random(in: 0...61, using: &rng)
            let ss = valid ? Int.random(in: 0...59, using: &rng) : Int.random(in: 0...62, using: &rng)
            let sep = valid ? ["-", ":"].randomElement(using: &rng)! : seps.randomElement(using: &rng)!
            let t = valid ? ["T", " "].randomElement(using: &rng)! : times.randomElement(using: &rng)!
            var s = String(format: "%04d%@%02d%@%02d", y, sep, m, sep, d)
            if Bool.random(using: &rng) { s += t + String(format: "%02d:%02d", hh, mm) }
            if Bool.random(using: &rng) { s += String(format: ":%02d", ss) }
            if Bool.random(using: &rng) { s += [".", ","].randomElement(using: &rng)! + String(Int.random(in: 0...99999, using: &rng)) }
            s += zones.randomElement(using: &rng)!
            out.append(s)
            var bytes = Array(s.utf8)
            switch Int.random(in: 0..<4, using: &rng) {
            case 0 where !bytes.isEmpty: bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0x20...0x7E, using: &rng)
            case 1 where !bytes.isEmpty: bytes.remove(at: Int.random(in: 0..<bytes.count, using: &rng))
            case 2 where !bytes.isEmpty: let k = Int.random(in: 0..<bytes.count, using: &rng); bytes.insert(bytes[k], at: k)
            default: break
            }
            out.append(String(decoding: bytes, as: UTF8.self))
        }
        return out
    }

    @Test("ISO and EXIF dates: the same answer as the String-appending version, to the byte, and valid ones accepted")
    func sameAsBefore() {
        var accepted = 0
        for s in Self.inputs() {
            let trimmed = s.metadataTrimmed
            guard !trimmed.isEmpty, trimmed.utf8.count <= 64 else { continue }
            let reference = Self.referenceISO(Array(trimmed.utf8))
            let now = DateNormalizer.iso(s)
            // rfc1123 is tried only when the ISO/EXIF reading fails; these inputs never are one.
            if reference != nil || now != nil { #expect(now == reference, "\(s)") }
            if reference != nil { accepted += 1 }
        }
        #expect(accepted > 500)   // the generator gives valid dates (about 750 of 6,000), not only rejects
    }

    @Test("zones: the same answer as before for every sign, digit count, colon and padding")
    func zonesSameAsBefore() {
        var zones: [String] = []
        for sign in ["+", "-", "", "Z", " +", "  -"] {
            for digits in ["", "1", "01", "010", "0130", "01300", "1459", "1500", "0060", "12:30", "1:230", "12:", ":12", "a1", "01:30:00"] {
                zones.append(sign + digits)
            }
        }
        zones += ["Z", " Z", "ZZ", "z", "", " "]
        for z in zones {
            #expect(DateNormalizer.zoneSuffix(Array(z.utf8)) == Self.referenceZone(Array(z.utf8)), "'\(z)'")
        }
    }
}
