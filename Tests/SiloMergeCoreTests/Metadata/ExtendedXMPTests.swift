import Testing
@testable import SiloMergeCore

/// Extended XMP (GUID-keyed APP1 chunks) joined as ExifTool joins them: in offset order
/// whatever their order in the file, overlapping or repeated chunks allowed, and ignored with a
/// note when any byte of the declared length is missing.
@Suite("Metadata: extended XMP chunks, in any order, with a gap")
struct ExtendedXMPTests {
    static let signature = Array("http://ns.adobe.com/xmp/extension/\0".utf8)

    /// The file's segments before SOS: (offset of the 0xFF, whole length with the marker).
    static func segments(_ b: [UInt8]) -> [(at: Int, length: Int)] {
        var out: [(Int, Int)] = []
        var p = 2
        while p + 4 <= b.count, b[p] == 0xFF, b[p + 1] != 0xDA {
            let length = Int(b[p + 2]) << 8 | Int(b[p + 3])
            out.append((p, 2 + length))
            p += 2 + length
        }
        return out
    }

    static func isExtended(_ b: [UInt8], _ s: (at: Int, length: Int)) -> Bool {
        b[s.at + 1] == 0xE1 && s.length > 4 + signature.count && Array(b[(s.at + 4)..<(s.at + 4 + signature.count)]) == signature
    }

    /// The chunk's offset in the extended serialisation (after the signature and GUID: length, offset).
    static func chunkOffset(_ b: [UInt8], _ s: (at: Int, length: Int)) -> Int {
        let o = s.at + 4 + signature.count + 32 + 4
        return Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3])
    }

    /// The file with its extended chunks replaced by `order` (indices into them; repeats allowed).
    static func rebuilt(_ b: [UInt8], order: [Int]) -> [UInt8] {
        let all = segments(b)
        let chunks = all.filter { isExtended(b, $0) }
        let first = chunks[0].at
        var out = Array(b[0..<first])
        for i in order { out += b[chunks[i].at..<(chunks[i].at + chunks[i].length)] }
        var rest = Array(b[first...])
        // The original chunks removed from the rest (they lie together in the fixture, but
        // need not: remove each by its place, from the last).
        for c in chunks.reversed() { rest.removeSubrange((c.at - first)..<(c.at - first + c.length)) }
        return out + rest
    }

    @Test("chunks reversed, or one repeated, give the same description; a missing chunk gives a note and no extended values")
    func orderAndGaps() throws {
        let truth = try Fixture.truth()
        let info = try #require(truth["extended_xmp"] as? [String: String])
        let bytes = try Fixture.bytes(try #require(info["file"]))
        let original = MetadataReader.read(DataByteSource(bytes))
        let description = try #require(original.first(.description, from: .xmp)?.value.text)
        let chunks = Self.segments(bytes).filter { Self.isExtended(bytes, $0) }
        try #require(chunks.count >= 2, "the fixture's extended XMP spans several APP1 segments")

        let reversed = MetadataReader.read(DataByteSource(Self.rebuilt(bytes, order: Array(chunks.indices.reversed()))))
        #expect(reversed.first(.description, from: .xmp)?.value.text == description)
        #expect(reversed.problems.isEmpty)

        let repeated = MetadataReader.read(DataByteSource(Self.rebuilt(bytes, order: [1] + Array(chunks.indices) + [1])))
        #expect(repeated.first(.description, from: .xmp)?.value.text == description)

        // Without the second chunk: the bytes from its offset on are missing.
        let gapAt = Self.chunkOffset(bytes, chunks[1])
        let gap = MetadataReader.read(DataByteSource(Self.rebuilt(bytes, order: chunks.indices.filter { $0 != 1 })))
        #expect(gap.first(.description, from: .xmp)?.value.text != description)
        #expect(gap.problems.contains { $0.block == "XMP" && $0.reason.contains("is incomplete (no data at offset \(gapAt) of") })
        // The standard packet's own values stay.
        #expect(gap.first(.title, from: .xmp)?.value == .text("Northwind Glossary Poster"))
        // Without the first: nothing from offset 0.
        let noStart = MetadataReader.read(DataByteSource(Self.rebuilt(bytes, order: Array(chunks.indices.dropFirst()))))
        #expect(noStart.problems.contains { $0.reason.contains("is incomplete (no data at offset 0 of") })
    }
}
