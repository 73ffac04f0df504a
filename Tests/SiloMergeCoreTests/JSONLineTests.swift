import Foundation
import Testing
@testable import SiloMergeCore
import SiloMergeTestSupport

@Suite("The jsonl line from Codable types: keys in the designed order, the same escapes, numbers as written")
struct JSONLineTests {
    @Test("one asset: optional keys left out, a conflict as null, hostile text escaped, a non-UTF-8 path with its bytes, -0 kept")
    func line() throws {
        let digest = try SHA256Hasher.digest(Array("x".utf8))
        let odd = RelativePath(bytes: [0x66, 0xFF])
        let hostile = "T\"\u{1}\u{7F}\u{2028}/x\\"
        let source = FieldSource(silo: "a/b", path: odd, origin: .xmp, tag: "XMP-dc:Title", raw: "raw\n", value: .text(hostile),
                                 timeNs: 5)
        let gpsSource = FieldSource(silo: "a/b", path: RelativePath("p/q.jpg"), origin: .exif, tag: "GPS", raw: "1.5, -2.25",
                                    value: .gps(latitude: 1.5, longitude: -2.25))
        let asset = ReconciledAsset(
            sha256: digest, size: 3, format: .jpeg, width: 4,
            copies: [AssetCopy(silo: "a/b", siloPriority: 1, path: odd, size: 3, mtimeNs: 1_500_000_000_123_456_789,
                               uid: 4_242_424, gid: 0, device: 1, inode: 2, absolutePath: FilePath("/srv/a/f"))],
            fields: [
                ReconciledField(field: .gps, value: .gps(latitude: -0.00000001, longitude: 51.50740277777778), status: .resolved,
                                rule: .manual, sources: [gpsSource]),
                ReconciledField(field: .title, value: .text(hostile), status: .agreed, rule: .policy(.priority), sources: [source]),
                ReconciledField(field: .rights, value: .text("kept?"), status: .conflict, rule: .policy(.conflict), sources: []),
                ReconciledField(field: .keywords, value: .list(["a", "b\u{9}"]), status: .agreed, rule: .policy(.union), sources: []),
            ])
        let oddPath = Encode.json(odd.display)
        let mtime = Timestamp.string(nanoseconds: 1_500_000_000_123_456_789)
        let owner = UserNames.name(of: 4_242_424).map(Encode.json) ?? "null"
        let expected = #"{"sha256":"\#(digest.hex)","size":3,"format":"jpeg","width":4,"file_modified":"\#(mtime)","#
            + #""copies":[{"silo":"a/b","path":\#(oddPath),"path_b64":"Zv8=","size":3,"mtime":"\#(mtime)","#
            + #""mtime_ns":1500000000123456789,"uid":4242424,"owner":\#(owner)}],"fields":{"#
            + #""title":{"value":"T\"\u0001\u007f\u2028/x\\","status":"agreed","rule":"priority","sources":[{"silo":"a/b","#
            + #""path":\#(oddPath),"path_b64":"Zv8=","origin":"xmp","tag":"XMP-dc:Title","raw":"raw\n","#
            + #""value":"T\"\u0001\u007f\u2028/x\\"}]},"#
            + #""keywords":{"value":["a","b\t"],"status":"agreed","rule":"union","sources":[]},"#
            + #""rights":{"value":null,"status":"conflict","rule":"conflict","sources":[]},"#
            + #""gps":{"value":{"latitude":-0,"longitude":51.5074028},"status":"resolved","rule":"manual","sources":[{"#
            + #""silo":"a/b","path":"p/q.jpg","origin":"exif","tag":"GPS","raw":"1.5, -2.25","#
            + #""value":{"latitude":1.5,"longitude":-2.25}}]}}}"#
        let line = try ExportWriter.jsonLine(for: asset)
        #expect(line == expected)
        // Each value is what the catalogue's value column holds (FieldValue.json), byte for byte.
        for f in asset.fields where f.status != .conflict { #expect(line.contains("\"value\":\(f.value!.json),\"status\"")) }
        // And it is JSON.
        #expect(try JSONSerialization.jsonObject(with: Data(line.utf8)) is [String: Any])
    }

    @Test("the encoder keeps the order keys are encoded in, nested containers included, and refuses what JSON has no form for")
    func encoderOrder() throws {
        struct Z: Encodable {
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: JSONKey.self)
                try c.put(2, "z")
                try c.put([UInt8(1), 2], "a")
                var n = c.nestedContainer(keyedBy: JSONKey.self, forKey: JSONKey("m"))
                try n.put(true, "y")
                try n.encodeNil(forKey: JSONKey("b"))
                var u = c.nestedUnkeyedContainer(forKey: JSONKey("l"))
                try u.encode("é")
                try u.encodeNil()
            }
        }
        #expect(try OrderedJSONEncoder().encode(Z()) == #"{"z":2,"a":[1,2],"m":{"y":true,"b":null},"l":["é",null]}"#)
        #expect(throws: EncodingError.self) { try OrderedJSONEncoder().encode([Double.nan]) }
    }
}
