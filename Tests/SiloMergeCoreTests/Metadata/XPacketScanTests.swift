import Foundation
import Testing
@testable import SiloMergeCore
import SiloMergeTestSupport

@Suite("Metadata: the <?xpacket scan while hashing")
struct XPacketScanTests {
    /// The last offset of the marker, the slow way.
    static func naive(_ data: [UInt8]) -> Int64? {
        let m = XPacketStreamScanner.marker
        guard data.count >= m.count else { return nil }
        return (0...(data.count - m.count)).last { data[$0..<($0 + m.count)].elementsEqual(m) }.map(Int64.init)
    }

    @Test("finds the last marker wherever it falls, across any chunking", arguments: [1, 7, 15, 16, 17, 33, 4096])
    func chunking(chunk: Int) {
        var state: UInt64 = 0x1234_5678
        for trial in 0..<60 {
            var data = [UInt8](repeating: 0, count: 300 + trial * 7)
            for i in data.indices { state = state &* 6364136223846793005 &+ 1442695040888963407; data[i] = UInt8(truncatingIfNeeded: state >> 33) }
            // Near misses everywhere, and a real marker at a trial-dependent place (or none).
            for k in stride(from: 3, to: data.count - 20, by: 41) { data.replaceSubrange(k..<(k + 9), with: Array("<?xpacket".utf8)) }
            if trial % 5 != 0 {
                let at = (trial * 37) % (data.count - XPacketStreamScanner.marker.count)
                data.replaceSubrange(at..<(at + XPacketStreamScanner.marker.count), with: XPacketStreamScanner.marker)
            }
            var scanner = XPacketStreamScanner()
            var offset = 0
            data.withUnsafeBytes { raw in
                while offset < raw.count {
                    let n = min(chunk, raw.count - offset)
                    scanner.feed(UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + n)]), at: Int64(offset))
                    offset += n
                }
            }
            #expect(scanner.last == Self.naive(data), "trial \(trial), chunk \(chunk)")
        }
    }
}
