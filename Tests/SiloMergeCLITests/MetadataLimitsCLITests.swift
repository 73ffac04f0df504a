import CZlib
import Foundation
import Testing

@Suite("silomerge scan: per-file metadata limits, end to end")
struct MetadataLimitsCLITests {
    static func be32(_ v: Int) -> [UInt8] { [UInt8((v >> 24) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    static func deflate(_ input: [UInt8]) -> [UInt8] {
        var length = compressBound(uLong(input.count))
        var out = [UInt8](repeating: 0, count: Int(length))
        precondition(compress2(&out, &length, input, uLong(input.count), 9) == Z_OK)
        return Array(out[0..<Int(length)])
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        let crc = body.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        return be32(data.count) + body + be32(Int(crc))
    }

    /// Issue #10 item 5: a 1 MB PNG of 1,000 zTXt "Title" chunks took 92 s, 1.1 GB of memory
    /// and wrote a 2.1 GB catalogue. Each chunk here inflates to 512 KiB.
    static func bomb() -> [UInt8] {
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        png += chunk("IHDR", be32(1) + be32(1) + [8, 0, 0, 0, 0])
        for i in 0..<1000 {
            let text = Array("\(i) ".utf8) + [UInt8](repeating: 0x41 + UInt8(i % 26), count: 512 * 1024)
            png += chunk("zTXt", Array("Title".utf8) + [0, 0] + deflate(text))
        }
        png += chunk("IDAT", deflate([0, 0]))
        png += chunk("IEND", [])
        return png
    }

    @Test("a PNG of 1,000 zTXt Title chunks: scanned in seconds, into a small catalogue, with a note", .timeLimit(.minutes(2)))
    func textChunkBomb() throws {
        let ws = try Workspace()
        let silo = ws.url.appendingPathComponent("s")
        try FileManager.default.createDirectory(at: silo, withIntermediateDirectories: true)
        let png = Self.bomb()
        #expect(png.count < 1_500_000)
        try Data(png).write(to: silo.appendingPathComponent("bomb.png"))
        let start = Date()
        let r = try ws.run("scan", "s", timeout: 90)
        let elapsed = Date().timeIntervalSince(start)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(elapsed < 30, "scan took \(elapsed) s")
        let catalogue = try FileManager.default.attributesOfItem(atPath: ws.url.appendingPathComponent("silomerge.sqlite").path)[.size] as? Int ?? 0
        let wal = (try? FileManager.default.attributesOfItem(atPath: ws.url.appendingPathComponent("silomerge.sqlite-wal").path)[.size] as? Int) ?? 0
        #expect(catalogue + wal < 16 * 1024 * 1024, "catalogue \(catalogue) + WAL \(wal) bytes")
        // What the catalogue keeps is the first titles and the notes saying why there are no more.
        let inspect = try ws.run("inspect", "--format", "json", "s/bomb.png")
        let records = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout)) as? [[String: Any]])
        let notes = (records.first?["notes"] as? [[String: Any]] ?? []).compactMap { $0["reason"] as? String }
        #expect(notes.contains { $0.contains("more than 16 values for title") }, "\(notes)")
        #expect(notes.contains { $0.contains("values exceed 4194304 bytes") }, "\(notes)")
        // The chosen title under "fields", the others under "values": 4 × 1 MiB (value and raw
        // form) fill the 4 MiB a file may store.
        let others = (records.first?["values"] as? [[String: Any]] ?? []).filter { $0["field"] as? String == "title" }
        let chosen = (records.first?["fields"] as? [String: Any])?["title"] != nil
        #expect(others.count + (chosen ? 1 : 0) == 4)
    }
}
