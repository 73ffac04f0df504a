import Foundation
import Testing
@testable import SiloMergeCore
import SiloMergeTestSupport

@Suite("RecordSpool: records handed over after a commit")
struct RecordSpoolTests {
    struct Record: Codable, Equatable {
        var id: Int
        var text: String
        var coordinate: Double
    }

    @Test("records come back in order and exact, across blocks and larger than a block; no file is left")
    func roundTrip() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let spool = try RecordSpool<Record>(in: folder)
        var written: [Record] = []
        for i in 0..<20_000 {
            // A 3 MiB record in the middle: larger than the spool's 1 MiB blocks.
            let text = i == 7_000 ? String(repeating: "é", count: 3 << 19) : "record \(i) \u{2028}\u{7}"
            let r = Record(id: i, text: text, coordinate: 51.123456789012 + Double(i) / 3)
            try spool.append(r)
            written.append(r)
        }
        // The spool's file has no name: nothing in the folder even while it is in use.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
        var read: [Record] = []
        try spool.forEach { read.append($0) }
        #expect(read.count == written.count)
        #expect(read == written)
    }

    @Test("an empty spool hands nothing over; an error from the consumer stops it")
    func emptyAndStop() throws {
        let empty = try RecordSpool<Record>()
        var calls = 0
        try empty.forEach { _ in calls += 1 }
        #expect(calls == 0)
        struct Stop: Error {}
        let spool = try RecordSpool<Record>()
        for i in 0..<10 { try spool.append(Record(id: i, text: "", coordinate: 0)) }
        #expect(throws: Stop.self) { try spool.forEach { if $0.id == 3 { throw Stop() } } }
    }

    @Test("a folder where no file can be made is a clear error")
    func unwritableFolder() {
        #expect {
            _ = try RecordSpool<Record>(in: "/proc/no-such-folder")
        } throws: { error in
            "\(error)".contains("cannot create a temporary file in /proc/no-such-folder")
        }
    }

    @Test("field values come back as they went in: a date stays a date, coordinates keep every bit")
    func losslessValues() throws {
        let values: [FieldValue] = [.date("2023-05-25T17:30:00"), .text("2023-05-25T17:30:00"), .gps(latitude: 1.0 / 3, longitude: -2.0 / 3),
                                    .integer(6), .list(["a", "b"])]
        let spool = try RecordSpool<FieldValue>()
        for v in values { try spool.append(v) }
        var back: [FieldValue] = []
        try spool.forEach { back.append($0) }
        #expect(back == values)
        // The designed JSON shape (what export prints) is unchanged: a date is a plain string.
        #expect(String(decoding: try JSONEncoder().encode(FieldValue.date("2023")), as: UTF8.self) == "\"2023\"")
    }
}
