import Foundation
import SiloMergeCore
import SiloMergeSQLite
#if canImport(Glibc)
import Glibc
#endif

// Helpers the test suites share (Core, the catalogue contract suite): temporary trees of
// silos, deterministic bytes, the bundled fixtures.

/// A temporary folder holding silos built by a test, removed when the test ends.
public final class TestTree {
    public let root: URL

    public init(_ label: String = #function) throws {
        let name = "silomerge-test-\(label.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString.prefix(8))"
        root = FileManager.default.temporaryDirectory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    public var path: String { root.path }
    public var catalogue: String { root.appendingPathComponent("catalogue.sqlite").path }

    /// Puts the catalogue and its side files aside, so the next scan makes a new one. They are
    /// renamed, not deleted: a store of the earlier scan may still hold them open, and a new file
    /// that reused a deleted one's inode would meet SQLite's state for that inode in this process
    /// ("disk I/O error"). The test tree's removal deletes them at the end.
    public func removeCatalogue() throws {
        let n = (try FileManager.default.contentsOfDirectory(atPath: root.path)).filter { $0.hasPrefix("old-catalogue-") }.count
        for suffix in ["", "-wal", "-shm", "-lock"] where FileManager.default.fileExists(atPath: catalogue + suffix) {
            try FileManager.default.moveItem(atPath: catalogue + suffix,
                                            toPath: root.appendingPathComponent("old-catalogue-\(n)\(suffix)").path)
        }
    }

    public func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// Writes a file (creating folders), returning its URL.
    @discardableResult
    public func write(_ relative: String, _ bytes: [UInt8]) throws -> URL {
        let url = self.url(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
        return url
    }

    @discardableResult
    public func write(_ relative: String, _ text: String) throws -> URL { try write(relative, Array(text.utf8)) }

    public func mkdir(_ relative: String) throws {
        try FileManager.default.createDirectory(at: url(relative), withIntermediateDirectories: true)
    }

    /// Writes a file whose last path component is given as raw bytes (possibly not UTF-8).
    public func writeRaw(folder: String, name: [UInt8], _ bytes: [UInt8]) throws {
        try mkdir(folder)
        let path = Array(url(folder).path.utf8) + [0x2F] + name + [0]
        let fd = path.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
        }
        precondition(fd >= 0, "cannot create raw-named file: \(errno)")
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    public func symlink(_ relative: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: url(relative).path, withDestinationPath: target)
    }

    public func hardlink(_ relative: String, to existing: String) throws {
        try FileManager.default.linkItem(at: url(existing), to: url(relative))
    }

    public func fifo(_ relative: String) throws {
        precondition(mkfifo(url(relative).path, 0o644) == 0, "mkfifo failed: \(errno)")
    }

    public func remove(_ relative: String) throws { try FileManager.default.removeItem(at: url(relative)) }

    /// Sets a file's mtime (and leaves its size alone).
    public func setMtime(_ relative: String, seconds: Int) {
        var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        _ = utimensat(AT_FDCWD, url(relative).path, &times, 0)
    }

    public func silo(_ name: String, priority: Int = 1) -> SiloDefinition {
        SiloDefinition(name: name, root: FilePath(url(name).path), priority: priority)
    }
}

/// Deterministic pseudo-random bytes (xorshift), so tests do not depend on /dev/urandom.
public func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed &* 0x9E3779B97F4A7C15 | 1
    var out = [UInt8](repeating: 0, count: count)
    for i in 0..<count {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        out[i] = UInt8(truncatingIfNeeded: state)
    }
    return out
}

/// Scans `silos` into the tree's catalogue and returns the result and the catalogue.
@discardableResult
public func scan(_ tree: TestTree, _ silos: [SiloDefinition], mode: HashMode = .full, configure: (inout ScanOptions) -> Void = { _ in },
          hooks: ScanEngine.TestHooks? = nil) throws -> (ScanResult, SQLiteCatalogue) {
    let store = try SQLiteCatalogue(path: tree.catalogue)
    var options = ScanOptions()
    options.hashMode = mode
    configure(&options)
    let result = try ScanEngine(store: store, testHooks: hooks).scan(silos, options: options)
    return (result, store)
}

/// All duplicate groups as sorted "silo/path" lists.
public func groups(_ store: any CatalogueStore, _ query: DuplicateQuery = DuplicateQuery()) throws -> [[String]] {
    var out: [[String]] = []
    try store.forEachDuplicateGroup(query) { g in
        out.append(g.files.map { "\($0.silo)/\($0.path.display)" }.sorted())
        return true
    }
    return out.sorted { $0.first ?? "" < $1.first ?? "" }
}

/// sha256sum of bytes, through OpenSSL.
public func sha(_ b: [UInt8]) throws -> String { try SHA256Hasher.digest(b).hex }

/// The bundled Fixtures folder.
public let fixturesURL: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures")

/// An XMP packet with a title and keywords, as a sidecar or a standalone .xmp file.
public func xmpPacket(title: String, keywords: [String] = [], creator: String? = nil) -> String {
    """
    <?xpacket begin="\u{FEFF}" id="W5M0MpCehiHzreSzNTczkc9d"?>
    <x:xmpmeta xmlns:x="adobe:ns:meta/">
     <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
      <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
       <dc:title><rdf:Alt><rdf:li xml:lang="x-default">\(title)</rdf:li></rdf:Alt></dc:title>
       <dc:subject><rdf:Bag>\(keywords.map { "<rdf:li>\($0)</rdf:li>" }.joined())</rdf:Bag></dc:subject>
       \(creator.map { "<dc:creator><rdf:Seq><rdf:li>\($0)</rdf:li></rdf:Seq></dc:creator>" } ?? "")
      </rdf:Description>
     </rdf:RDF>
    </x:xmpmeta>
    <?xpacket end="w"?>
    """
}

/// Runs a real tool found on PATH (exiftool, ImageMagick's convert...), in `dir` when given:
/// its exit status and standard output (standard error is discarded).
public func toolOutput(_ name: String, _ arguments: [String], in dir: URL? = nil) throws -> (status: Int32, output: Data) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [name] + arguments
    if let dir { p.currentDirectoryURL = dir }
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, data)
}
