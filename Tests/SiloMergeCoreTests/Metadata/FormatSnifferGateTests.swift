import Foundation
import Testing
@testable import SiloMergeCore

/// The sniffer settles most files by their first byte (`FormatSniffer.mayBeKnown`), and the
/// inspector then answers content of no known format without reading it (`unknownFormat`).
/// Both must give exactly what the full tests give.
@Suite("Format sniffing: the first-byte gate and the no-format answer agree with the full path")
struct FormatSnifferGateTests {
    /// Every file under Fixtures (made by exiftool, ImageMagick, ffmpeg, LibreOffice...): its
    /// first bytes, as the sniffer sees them.
    static func fixtureHeads() throws -> [(name: String, bytes: [UInt8])] {
        var out: [(String, [UInt8])] = []
        let e = FileManager.default.enumerator(at: Fixture.root, includingPropertiesForKeys: [.isRegularFileKey])!
        for case let url as URL in e where (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true {
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            out.append((url.lastPathComponent, [UInt8](try handle.read(upToCount: 8192) ?? Data())))
        }
        return out
    }

    @Test("Each fixture's head, under each of the 256 first bytes and with box types at 4, sniffs as without the gate")
    func gateNeverHidesAFormat() throws {
        let heads = try Self.fixtureHeads()
        #expect(heads.count > 100)
        var known = Set<MediaFormat>()
        var gated = 0
        let boxes = ["ftyp", "moov", "mdat", "wide", "free", "skip", "pnot", "xxxx"].map { Array($0.utf8) }
        for (name, original) in heads where !original.isEmpty {
            known.insert(FormatSniffer.sniff(head: Array(original.prefix(64)), source: DataByteSource(original)))
            for first in 0...255 {
                for box in [nil] + boxes.map(Optional.some) {
                    var bytes = original
                    bytes[0] = UInt8(first)
                    if let box, bytes.count >= 8 { bytes.replaceSubrange(4..<8, with: box) }
                    let head = Array(bytes.prefix(64)), source = DataByteSource(bytes)
                    let full = FormatSniffer.sniffWithoutGate(head: head, source: source)
                    if !FormatSniffer.mayBeKnown(head) {
                        gated += 1
                        #expect(full == .other, "\(name) with first byte \(first), box \(box.map { String(decoding: $0, as: UTF8.self) } ?? "-"): \(full)")
                    }
                    #expect(FormatSniffer.sniff(head: head, source: source) == full)
                }
            }
        }
        // The fixtures cover most formats, and the gate did settle most variants.
        #expect(known.count >= 25, "\(known)")
        #expect(gated > heads.count * 100)
    }

    @Test("Content of no known format: the inspector's answer is the full path's, for random bytes of any size")
    func unknownFormatIsTheFullAnswer() throws {
        var generator = SystemRandomNumberGenerator()
        var fast = 0
        for round in 0..<3000 {
            let count = round < 70 ? round : Int.random(in: 0...4096, using: &generator)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // A third start like a format's magic but are not one (a gate pass, then .other).
            if round % 3 == 0, !bytes.isEmpty { bytes[0] = [0xFF, 0x89, 0x49, 0x25, 0x3C, 0x00][round % 6] }
            let expected = ContentInspector.inspectFully(DataByteSource(bytes), hint: .unknown,
                                                         scanForXMP: false, imageHashing: .prefix)
            let got = bytes.withUnsafeBytes { ContentInspector.inspect(bytes: $0, imageHashing: .prefix) }
            #expect(got == expected, "\(count) bytes starting \(bytes.prefix(8))")
            if !bytes.isEmpty, !FormatSniffer.mayBeKnown(Array(bytes.prefix(64))) { fast += 1 }
        }
        #expect(fast > 1000)
        #expect(ContentInspector.unknownFormat.format == .other)
        #expect(ContentInspector.unknownFormat.values.map(\.field) == [.format])
    }
}
