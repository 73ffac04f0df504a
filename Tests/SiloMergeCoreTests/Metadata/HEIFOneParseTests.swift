import Foundation
import Testing
@testable import SiloMergeCore

/// A HEIF/AVIF file's items are parsed once: the image-data prefix takes the primary picture's
/// ranges from the metadata reader (`MetadataReader.readKeepingStructure`) instead of parsing
/// the `meta` box again. Both must give the same prefix, or the same refusal.
@Suite("Image hash: a HEIF's items parsed once for metadata and image hash")
struct HEIFOneParseTests {
    enum Outcome: Equatable { case none, failed(String), prefix(SHA256Digest, Bool) }

    static func outcome(_ body: () throws -> (digest: SHA256Digest, complete: Bool)?) -> Outcome {
        do { return try body().map { .prefix($0.digest, $0.complete) } ?? .none } catch { return .failed("\(error)") }
    }

    @Test("every HEIC and AVIF fixture, cut short and with bytes flipped: the same prefix or the same problem")
    func sameAsParsingAgain() throws {
        var g = SystemRandomNumberGenerator()
        var files = 0, compared = 0, usedTheReaders = 0
        let e = FileManager.default.enumerator(at: Fixture.root, includingPropertiesForKeys: [.isRegularFileKey])!
        for case let url as URL in e where (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true {
            let bytes = [UInt8](try Data(contentsOf: url))
            let format = MetadataReader.read(DataByteSource(bytes)).format
            guard format == .heic || format == .avif else { continue }
            files += 1
            var variants = [bytes]
            for _ in 0..<10 { variants.append(Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &g)))) }
            for _ in 0..<20 {
                var flipped = bytes
                flipped[Int.random(in: 0..<min(bytes.count, 4096), using: &g)] ^= UInt8.random(in: 1...255, using: &g)
                variants.append(flipped)
            }
            for v in variants {
                let source = DataByteSource(v)
                let (m, primary) = MetadataReader.readKeepingStructure(source, options: MetadataReadOptions(), head: nil)
                guard m.format == .heic || m.format == .avif else { continue }
                if primary != nil { usedTheReaders += 1 }
                let again = Self.outcome { try ImageDataHash.prefix(source, format: m.format, bytes: ImageHashing.prefixBytes) }
                let once = Self.outcome { try ImageDataHash.prefix(source, format: m.format, bytes: ImageHashing.prefixBytes, heifPrimary: primary) }
                #expect(once == again, "\(url.lastPathComponent), \(v.count) of \(bytes.count) bytes")
                compared += 1
            }
        }
        #expect(files >= 3)
        #expect(compared > 50 && usedTheReaders > 0)
    }
}
