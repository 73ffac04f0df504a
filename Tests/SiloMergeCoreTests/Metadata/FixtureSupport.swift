import Foundation
@testable import SiloMergeCore
import SiloMergeTestSupport

/// Locates and loads the fixture files (Fixtures/ at the repository root).
enum Fixture {
    static let root: URL = {
        // Tests/SiloMergeCoreTests/Metadata/FixtureSupport.swift → repository root.
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures")
    }()

    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// Every file of Fixtures/ (made by real producers: JPEG, PNG, TIFF, HEIC, AVIF, MP4, MOV,
    /// CR3, PDF, Office, audio, sidecars...), its path relative to the fixture root, sorted;
    /// only those whose name ends in one of `extensions` (any case) when some are given.
    static func files(extensions: [String] = []) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: root.path) else { return [] }
        var out: [String] = []
        while let item = walker.nextObject() as? String {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root.path + "/" + item, isDirectory: &isDir), !isDir.boolValue else { continue }
            if extensions.isEmpty || extensions.contains(where: { item.lowercased().hasSuffix("." + $0) }) { out.append(item) }
        }
        return out.sorted()
    }

    static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url(relative)))
    }

    static func read(_ relative: String) throws -> EmbeddedMetadata {
        MetadataReader.read(DataByteSource(try bytes(relative)))
    }

    /// The asset files of the three silos: no sidecars, no junk, no empty or unknown files.
    static func assets() throws -> [String] {
        var out: [String] = []
        let junk: Set<String> = [".DS_Store", "Thumbs.db"]
        for silo in ["marketing", "hr", "training"] {
            let base = url(silo)
            guard let e = FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil) else { continue }
            for case let file as URL in e {
                let name = file.lastPathComponent
                guard !junk.contains(name), !name.hasPrefix("._"), file.pathExtension != "xmp" else { continue }
                var isDir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: file.path, isDirectory: &isDir), !isDir.boolValue else { continue }
                let relative = String(file.path.dropFirst(root.path.count + 1))
                out.append(relative)
            }
        }
        return out.sorted()
    }

    /// Fixtures/expected/exiftool.json, keyed by SourceFile.
    static func exiftool() throws -> [String: [String: Any]] {
        let data = try Data(contentsOf: url("expected/exiftool.json"))
        guard let records = try JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return [:] }
        var out: [String: [String: Any]] = [:]
        for r in records { if let f = r["SourceFile"] as? String { out[f] = r } }
        return out
    }

    static func truth() throws -> [String: Any] {
        let data = try Data(contentsOf: url("truth.json"))
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }
}
