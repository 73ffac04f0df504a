import Foundation
import Testing
@testable import SiloMergeCore
#if canImport(FoundationXML)
import FoundationXML
#endif
import SiloMergeTestSupport

/// One time formatter and one XML escaper, used by every writer.
@Suite("One of each: the nanosecond time formatter and the XML escaper")
struct OneOfEachTests {
    @Test("nanosecond times are formatted exactly: truncated to the millisecond, never rounded up by a Double, before 1970 too")
    func exactTimes() {
        #expect(Timestamp.string(nanoseconds: 1_686_767_400_123_456_789) == "2023-06-14T18:30:00.123Z")
        // Through a Double this was 18:30:01.000Z: a file's time moved to the next second.
        #expect(Timestamp.string(nanoseconds: 1_686_767_400_999_999_999) == "2023-06-14T18:30:00.999Z")
        #expect(Timestamp.string(nanoseconds: -1) == "1969-12-31T23:59:59.999Z")
        #expect(Timestamp.string(nanoseconds: -1_000_000_000) == "1969-12-31T23:59:59.000Z")
        #expect(Timestamp.string(nanoseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.split(nanoseconds: -1) == (seconds: -1, nanoseconds: 999_999_999))
        #expect(Timestamp.utcDay(nanoseconds: -1) == ("1969", "12", "31"))
        #expect(Timestamp.utcDay(nanoseconds: 1_686_767_400_123_456_789) == ("2023", "06", "14"))
        // A Date (now, a run's start) to the nearest millisecond, as before.
        #expect(Timestamp.string(Date(timeIntervalSince1970: 0.9996)) == "1970-01-01T00:00:01.000Z")
        #expect(Timestamp.string(Date(timeIntervalSince1970: 1_686_767_400.1234)) == "2023-06-14T18:30:00.123Z")
    }

    @Test("the XML escaper: markup, quotes, CR as a reference; forbidden characters dropped in XMP, replaced in the report")
    func xmlEscaper() {
        let text = "a<b>&\"c'\r\u{1}\u{FFFE}d"
        #expect(Encode.xml(text, invalid: .drop) == "a&lt;b&gt;&amp;&quot;c'&#xD;d")
        #expect(Encode.xml(text, invalid: .replace, apostrophe: true) == "a&lt;b&gt;&amp;&quot;c&#39;&#xD;\u{FFFD}\u{FFFD}d")
        #expect(ExportWriter.xmlEscape(text) == Encode.xml(text, invalid: .drop))
        #expect(HTMLReport.escape(text) == Encode.xml(text, invalid: .replace, apostrophe: true))
        // Both parse back to the text (less what XML cannot hold).
        for escaped in [Encode.xml(text, invalid: .drop), HTMLReport.escape(text)] {
            let doc = "<r a=\"\(escaped)\">\(escaped)</r>"
            #expect(XMLParser(data: Data(doc.utf8)).parse(), "\(doc)")
        }
    }
}

@Test("Timestamp.date reads what Timestamp.string writes, as ISO8601DateFormatter does, and refuses what is no date")
func timestampDateMatchesFormatter() {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    var generator = SystemRandomNumberGenerator()
    var samples: [Int64] = [0, -1, -1_000_000_000, 1_686_767_400_123_456_789, 951_782_400_000_000_000 /* 2000-02-29 */]
    for _ in 0..<2000 { samples.append(Int64.random(in: -2_000_000_000_000_000_000...4_000_000_000_000_000_000, using: &generator)) }
    for ns in samples {
        let text = Timestamp.string(nanoseconds: ns)
        let mine = Timestamp.date(text), theirs = formatter.date(from: text)
        #expect(mine != nil && theirs != nil, "\(text)")
        if let mine, let theirs { #expect(abs(mine.timeIntervalSince1970 - theirs.timeIntervalSince1970) < 0.0005, "\(text)") }
        #expect(mine.map(Timestamp.string) == text)
    }
    #expect(Timestamp.date("2026-12-04T12:00:00Z") == Date(timeIntervalSince1970: 1_796_385_600))
    // (The formatter, which reads every other form, takes 2026-02-30 as 2026-03-02, and 24:00 as the
    // next day's midnight; those are not checked here.)
    for bad in ["2026-13-01T00:00:00.000Z", "2026-12-04T25:00:00.000Z", "2026-12-04 12:00:00.000Z",
                "2026-12-04T12:00:00.00xZ", "not a date"] {
        #expect(Timestamp.date(bad) == nil, "\(bad)")
    }
    // Other forms still go through the formatter.
    #expect(Timestamp.date("2026-12-04T13:00:00+01:00") == Date(timeIntervalSince1970: 1_796_385_600))
}
