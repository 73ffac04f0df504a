import Foundation
import Testing
@testable import SiloMergeCore
import SiloMergeTestSupport

/// Feeds `text` to a splitter in chunks of the given sizes (cycled) and returns the records.
private func split(_ bytes: [UInt8], chunks: [Int], delimiter: UInt8 = 0x2C, limit: Int = 1 << 20) throws -> [[String]] {
    var splitter = RecordSplitter(delimiter: delimiter, maximumRecord: limit)
    var out: [[String]] = []
    let emit: ([[UInt8]]) throws -> Void = { out.append($0.map { String(decoding: $0, as: UTF8.self) }) }
    var i = 0, c = 0
    while i < bytes.count {
        let n = max(1, chunks[c % chunks.count])
        try splitter.feed(Array(bytes[i..<min(bytes.count, i + n)]), emit)
        i += n; c += 1
    }
    try splitter.finish(emit)
    return out
}

@Suite("Manifests as a stream: the record splitter and the transcoder")
struct ManifestStreamTests {
    @Test("RFC 4180 records: quotes, doubled quotes, line breaks inside quotes, CRLF, LF, CR, blank lines, no final newline",
          arguments: [
            ("a,b\r\nc,d\n", [["a", "b"], ["c", "d"]]),
            ("\"x,y\",\"q\"\"q\"\n", [["x,y", "q\"q"]]),
            ("\"line1\r\nline2\",z\r\nnext,1\r\n", [["line1\r\nline2", "z"], ["next", "1"]]),
            ("a\rb\r", [["a"], ["b"]]),
            ("\n\n a \n\r\n", [[" a "]]),
            ("last,row", [["last", "row"]]),
            ("a,,\n", [["a", "", ""]]),
            ("\"\"\n", []),                       // one empty cell: a blank row
            ("\"open\"tail,x\n", [["opentail", "x"]]),
          ])
    func records(text: String, expected: [[String]]) throws {
        #expect(try split(Array(text.utf8), chunks: [1 << 20]) == expected)
        // Whatever the chunk boundaries (one byte at a time included).
        for chunks in [[1], [2], [3], [1, 7, 2]] {
            #expect(try split(Array(text.utf8), chunks: chunks) == expected, "chunks \(chunks)")
        }
    }

    @Test("Random input gives the same records whatever the chunk boundaries")
    func chunkIndependence() throws {
        var state: UInt64 = 0x9E3779B97F4A7C15
        func next() -> UInt64 { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state }
        let alphabet = Array("ab,;\"\r\n é".utf8)
        for _ in 0..<300 {
            let length = Int(next() % 200)
            let bytes = (0..<length).map { _ in alphabet[Int(next() % UInt64(alphabet.count))] }
            let whole = try split(bytes, chunks: [1 << 20])
            let chunks = (0..<4).map { _ in Int(next() % 9) + 1 }
            #expect(try split(bytes, chunks: chunks) == whole, "\(String(decoding: bytes, as: UTF8.self).debugDescription) \(chunks)")
        }
    }

    @Test("A record longer than the limit is refused instead of growing without bound")
    func tooLong() {
        let text = Array(("a,\"never closed\n" + String(repeating: "b,c\n", count: 1000)).utf8)
        #expect(throws: RecordSplitter.TooLong.self) { try split(text, chunks: [64], limit: 1024) }
    }

    @Test("Paths as departments write them", arguments: [
        ("./a/b.jpg", "a/b.jpg"), ("a\\b.jpg", "a/b.jpg"), ("/a//b.jpg", "a/b.jpg"), ("  a.jpg\t", "a.jpg"),
        ("a/./b", "a/b"), ("../x", nil), ("a/../x", nil), ("", nil), ("  ", nil), ("..a/b", "..a/b"),
    ])
    func paths(cell: String, expected: String?) {
        #expect(ManifestReader.normalize(cell)?.string == expected)
    }

    @Test("Windows-1252 and UTF-16 are converted chunk by chunk, a surrogate pair cut between chunks included")
    func transcoding() throws {
        let text = "File,Title\r\na.txt,Caf\u{E9} \u{2013} \u{201C}Br\u{FC}cke\u{201D} \u{1F600}\r\n"
        for little in [true, false] {
            let data = [UInt8](Data(little ? [0xFF, 0xFE] : [0xFE, 0xFF]) + text.data(using: little ? .utf16LittleEndian : .utf16BigEndian)!)
            for size in [1, 3, 5, 64] {
                var t = Transcoder(.utf16(littleEndian: little))
                var out: [UInt8] = []
                var i = 0
                while i < data.count {
                    let chunk = Array(data[i..<min(data.count, i + size)])
                    try chunk.withUnsafeBytes { try t.convert($0) { out += $0 } }
                    i += size
                }
                try t.finish()
                #expect(String(decoding: out, as: UTF8.self) == text, "little \(little), chunks of \(size)")
            }
        }
        let latin = "File,Title\r\na.txt,Caf\u{E9} \u{2013} \u{201C}Br\u{FC}cke\u{201D}\r\n"
        var t = Transcoder(.windows1252)
        var out: [UInt8] = []
        try [UInt8](latin.data(using: .windowsCP1252)!).withUnsafeBytes { try t.convert($0) { out += $0 } }
        #expect(String(decoding: out, as: UTF8.self) == latin)
        // 0x81 is not a Windows-1252 character.
        #expect(throws: Transcoder.TranscodeError.self) { try [UInt8]([0x41, 0x81]).withUnsafeBytes { try t.convert($0) { _ in } } }
    }
}
