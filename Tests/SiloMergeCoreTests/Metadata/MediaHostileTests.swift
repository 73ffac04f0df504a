import CZlib
import Foundation
import Testing
@testable import SiloMergeCore
import SiloMergeTestSupport

/// The container, document and audio readers on broken input: truncations at every offset,
/// seeded mutations, hostile lengths and loops. Every case must finish, never trap, keep
/// memory bounded, and name what was wrong.
@Suite("Metadata: hostile containers, documents, audio")
struct MediaHostileTests {
    static let files = ["phone-photo.heic", "grid.heic", "poster.avif", "raw-sample.cr3", "scan.jp2", "drawing.jxl",
                        "clip.mp4", "phone-video.mov", "site-visit.3gp", "intro.avi", "jingle.mp3", "jingle-v23.mp3",
                        "jingle.ogg", "jingle.opus", "jingle.flac", "jingle.wav", "report.docx", "report.odt",
                        "report.pdf", "report-objstm.pdf", "report-aes256.pdf", "report-rc4.pdf"]

    static func read(_ bytes: [UInt8]) -> EmbeddedMetadata { MetadataReader.read(DataByteSource(bytes)) }

    @Test("truncated anywhere: never a trap, never a value the whole file does not hold", .timeLimit(.minutes(3)), arguments: files)
    func truncated(_ file: String) throws {
        let bytes = try Fixture.bytes("media/" + file)
        let full = Self.read(bytes)
        let fullValues = Set(full.values.filter { $0.origin != .header })
        let step = max(1, bytes.count / 1000)
        for n in stride(from: 0, to: bytes.count, by: step) {
            let m = Self.read(Array(bytes[0..<n]))
            let values = Set(m.values.filter { $0.origin != .header })
            #expect(values.isSubset(of: fullValues), "\(file) cut at \(n): \(values.subtracting(fullValues))")
            _ = try? ImageDataHash.compute(DataByteSource(Array(bytes[0..<n])), format: full.format)
        }
    }

    @Test("seeded mutations never trap", .timeLimit(.minutes(3)), arguments: files)
    func mutated(_ file: String) throws {
        let bytes = try Fixture.bytes("media/" + file)
        var rng = SplitMix(seed: UInt64(bytes.count))
        for _ in 0..<100 {
            var b = bytes
            for _ in 0..<(1 + Int(rng.next() % 8)) {
                let i = Int(rng.next() % UInt64(b.count))
                switch rng.next() % 4 {
                case 0: b[i] = UInt8(truncatingIfNeeded: rng.next())
                case 1: b[i] = 0xFF
                case 2: b[i] = 0
                default: b[i] ^= 0x80
                }
            }
            let m = Self.read(b)
            _ = MetadataReader.reconcileInFile(m)
            _ = try? ImageDataHash.compute(DataByteSource(b), format: m.format)
        }
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
    static func box(_ type: String, _ payload: [UInt8]) -> [UInt8] { be32(UInt32(8 + payload.count)) + Array(type.utf8) + payload }

    @Test("hostile lengths and counts are refused without allocating")
    func hostileLengths() {
        let ftyp = Self.box("ftyp", Array("heic".utf8) + [0, 0, 0, 0] + Array("mif1heic".utf8))
        // iloc claiming 2^32-1 items with 8-byte fields, an extent past the end of the file.
        let iloc = Self.box("iloc", [0, 0, 0, 0, 0x44, 0x00, 0xFF, 0xFF, 0, 1, 0, 0, 0, 1] + Self.be32(0x7FFF_0000) + Self.be32(0x7FFF_0000))
        let iinf = Self.box("iinf", [0, 0, 0, 0, 0, 1] + Self.box("infe", [2, 0, 0, 0, 0, 1, 0, 0] + Array("Exif".utf8) + [0]))
        let pitm = Self.box("pitm", [0, 0, 0, 0, 0, 1])
        let meta = Self.box("meta", [0, 0, 0, 0] + pitm + iinf + iloc)
        let m = Self.read(ftyp + meta)
        #expect(m.format == .heic)
        #expect(m.problems.contains { $0.block == "HEIF" && $0.reason.contains("past the end of the file") })
        #expect(throws: MetadataProblem.self) { try ImageDataHash.compute(DataByteSource(ftyp + meta), format: .heic) }
        // ID3v2 tag claiming 256 MiB; a frame claiming more than its tag.
        let id3 = Array("ID3".utf8) + [4, 0, 0, 0x7F, 0x7F, 0x7F, 0x7F]
        #expect(Self.read(id3 + [0xFF, 0xFB, 0x90, 0x64]).problems.contains { $0.block == "ID3" })
        let frame = Array("TIT2".utf8) + [0x7F, 0x7F, 0x7F, 0x7F, 0, 0, 3] + Array("x".utf8)
        let tag = Array("ID3".utf8) + [4, 0, 0, 0, 0, 0, UInt8(frame.count)] + frame
        #expect(Self.read(tag).problems.contains { $0.reason.contains("past the end of the tag") })
        // Vorbis comment count of 2^32-1 in FLAC.
        let vorbis: [UInt8] = [0, 0, 0, 0] + [0xFF, 0xFF, 0xFF, 0xFF] + [0xFF, 0xFF, 0xFF, 0x7F]
        let flac = Array("fLaC".utf8) + [0x84, 0, 0, UInt8(vorbis.count)] + vorbis
        #expect(Self.read(flac).problems.contains { $0.block == "Vorbis" })
        // A zip whose central directory claims to lie past the end of the file.
        let eocd: [UInt8] = [0x50, 0x4B, 5, 6, 0, 0, 0, 0, 1, 0, 1, 0] + [0xFF, 0xFF, 0, 0] + [0, 0, 0, 0x7F] + [0, 0]
        let zip = [0x50, 0x4B, 3, 4] + [UInt8](repeating: 0, count: 26) + eocd
        #expect(Self.read(zip).problems.contains { $0.block == "ZIP" })
        // A RIFF chunk of 0xFFFFFFF0 bytes.
        let riff = Array("RIFF".utf8) + [0xFF, 0xFF, 0xFF, 0x7F] + Array("WAVELIST".utf8) + [0xF0, 0xFF, 0xFF, 0xFF] + Array("INFO".utf8)
        #expect(Self.read(riff).problems.contains { $0.block == "RIFF" })
    }

    @Test("a zip bomb stops at the block limit")
    func zipBomb() throws {
        // docProps/core.xml: 17 MiB of spaces (more than the 16 MiB block limit), deflated to a few KiB.
        let big = [UInt8](repeating: 0x20, count: 17 << 20)
        let stream = try deflateRaw(big)
        let name = Array("docProps/core.xml".utf8)
        var local: [UInt8] = [0x50, 0x4B, 3, 4, 20, 0, 0, 0, 8, 0] + [0, 0, 0, 0] + [0, 0, 0, 0]
        local += le32(UInt32(stream.count)) + le32(UInt32(big.count)) + le16(name.count) + le16(0) + name + stream
        var central: [UInt8] = [0x50, 0x4B, 1, 2, 20, 0, 20, 0, 0, 0, 8, 0] + [0, 0, 0, 0] + [0, 0, 0, 0]
        central += le32(UInt32(stream.count)) + le32(UInt32(big.count)) + le16(name.count) + [0, 0, 0, 0, 0, 0, 0, 0] + [0, 0, 0, 0] + le32(0) + name
        let eocd: [UInt8] = [0x50, 0x4B, 5, 6, 0, 0, 0, 0, 1, 0, 1, 0] + le32(UInt32(central.count)) + le32(UInt32(local.count)) + [0, 0]
        let m = Self.read(local + central + eocd)
        #expect(m.problems.contains { $0.block == "ZIP" && $0.reason.contains("inflates to more than") })
    }

    @Test("a PDF whose object streams and cross-reference streams point at each other, or at themselves")
    func pdfLoops() {
        // An xref stream whose /Prev is itself, and an object stream naming itself as its container.
        let xref = "1 0 obj\n<< /Type /XRef /W [1 1 1] /Size 3 /Root 2 0 R /Prev 9 /Length 6 >>\nstream\n\u{2}\u{1}\u{0}\u{2}\u{1}\u{1}\nendstream\nendobj\n"
        let pdf = "%PDF-1.5\n" + xref + "startxref\n9\n%%EOF\n"
        let m = Self.read(Array(pdf.utf8))
        #expect(m.format == .pdf)
        #expect(m.values.allSatisfy { $0.origin == .header })
    }

    private func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
    private func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)] }
}

/// Raw deflate (no zlib header), as zip members hold it.
func deflateRaw(_ input: [UInt8]) throws -> [UInt8] {
    var s = z_stream()
    guard deflateInit2_(&s, Z_BEST_SPEED, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
        throw MetadataProblem(block: "test", reason: "deflateInit2 failed")
    }
    defer { deflateEnd(&s) }
    var out = [UInt8](repeating: 0, count: Int(deflateBound(&s, UInt(input.count))) + 64)
    let produced = input.withUnsafeBufferPointer { inBuf in
        out.withUnsafeMutableBufferPointer { outBuf -> Int in
            s.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            s.avail_in = UInt32(inBuf.count)
            s.next_out = outBuf.baseAddress
            s.avail_out = UInt32(outBuf.count)
            _ = deflate(&s, Z_FINISH)
            return outBuf.count - Int(s.avail_out)
        }
    }
    return Array(out.prefix(produced))
}

/// A small deterministic generator for the mutation tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
