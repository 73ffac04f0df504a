import Foundation
import Testing
@testable import SiloMergeCore
#if canImport(Glibc)
import Glibc
#endif
import SiloMergeTestSupport

@Suite("Reading and hashing one file")
struct FileHasherTests {
    func rootFD(_ tree: TestTree) -> Int32 { open(tree.path, O_RDONLY | O_DIRECTORY) }

    @Test("Full hash equals SHA-256 of the bytes, for sizes around the buffer size")
    func fullHash() throws {
        let tree = try TestTree()
        let hasher = try FileHasher(bufferSize: 64 * 1024)
        let fd = rootFD(tree)
        defer { close(fd) }
        for (i, size) in [0, 1, 4095, 65_536, 65_537, 300_001].enumerated() {
            let data = bytes(size, seed: UInt64(i + 1))
            try tree.write("f\(i)", data)
            let result = hasher.hashFull(rootFD: fd, path: RelativePath("f\(i)"))
            guard case .success(let (digest, stat)) = result else { Issue.record("hash failed: \(result)"); continue }
            #expect(digest.hex == (try sha(data)))
            #expect(stat.size == Int64(size))
        }
    }

    @Test("A file edited after it is hashed, while its metadata is read through it, is refused; one read whole is not")
    func editedBeforeItsMetadataIsRead() throws {
        // A photo with 300 KiB after it: through a 128 KiB buffer it takes several reads and its
        // metadata is read through the file after hashing; through 1 MiB, from the very bytes
        // hashed. Between the two, its mtime changes (what an edit does).
        let photo = try #require(Fixture.files(extensions: ["jpg"]).first)
        let original = try [UInt8](Data(contentsOf: Fixture.root.appendingPathComponent(photo)))
        let tree = try TestTree()
        try tree.write("p.jpg", original + bytes(300 * 1024, seed: 7))
        let fd = rootFD(tree)
        defer { close(fd) }
        var stamp: Int = 1_000_000
        func touch() {
            stamp += 1
            var times = [timespec(tv_sec: stamp, tv_nsec: 0), timespec(tv_sec: stamp, tv_nsec: 0)]
            #expect(utimensat(fd, "p.jpg", &times, 0) == 0)
        }
        for (size, readThrough) in [(128 * 1024, true), (1 << 20, false)] {
            let hasher = try FileHasher(bufferSize: size)
            // Untouched: hashed and inspected.
            guard case .success(let clean) = hasher.hashFull(rootFD: fd, path: RelativePath("p.jpg"), inspect: true) else {
                Issue.record("buffer \(size): an untouched file was refused"); continue
            }
            #expect(clean.content?.format == .jpeg)
            hasher.afterHashing = touch
            let edited = hasher.hashFull(rootFD: fd, path: RelativePath("p.jpg"), inspect: true)
            if readThrough {
                guard case .failure(let why) = edited else { Issue.record("buffer \(size): an edited file was accepted"); continue }
                #expect(why == .changedWhileReading)
            } else {
                // Read whole from memory: hash and metadata are of the same bytes.
                guard case .success(let r) = edited else { Issue.record("buffer \(size): \(edited)"); continue }
                #expect(r.digest == clean.digest)
                #expect(r.content == clean.content)
            }
        }
    }

    func member(_ tree: TestTree, _ fd: Int32, _ name: String, id: Int64, known: SHA256Digest? = nil) throws -> GroupMember {
        guard case .success(let st) = Posix.stat(FilePath(tree.url(name).path)) else { throw Errno(ENOENT) }
        return GroupMember(fileID: id, rootFD: fd, silo: "t", path: RelativePath(name), stat: st, known: known)
    }

    @Test("Quick hash: equal ends agree, a difference at either end shows")
    func quickHash() throws {
        let tree = try TestTree()
        let hasher = try FileHasher()
        let fd = rootFD(tree)
        defer { close(fd) }
        let head = bytes(4096, seed: 1), tail = bytes(4096, seed: 2)
        try tree.write("a", head + bytes(50_000, seed: 3) + tail)
        try tree.write("b", head + bytes(50_000, seed: 4) + tail)
        var changedTail = tail
        changedTail[4095] ^= 1
        try tree.write("c", head + bytes(50_000, seed: 3) + changedTail)
        let spec = PartialHashSpec()
        func q(_ name: String) throws -> UInt64 {
            guard case .success(let (h, _)) = hasher.quick(try member(tree, fd, name, id: 0), spec: spec, onBytes: { _ in }) else {
                throw Errno(EIO)
            }
            return h
        }
        #expect(try q("a") == q("b"))
        #expect(try q("a") != q("c"))
    }

    @Test("Classify: copies share the first copy's hash; near misses and loners stay unhashed")
    func classify() throws {
        let tree = try TestTree()
        let hasher = try FileHasher(bufferSize: 128 * 1024)   // several chunks per file
        let fd = rootFD(tree)
        defer { close(fd) }
        let a = bytes(300_000, seed: 1)
        var nearMiss = a
        nearMiss[150_000] ^= 0xFF
        for name in ["a1", "a2", "a3"] { try tree.write(name, a) }
        try tree.write("near", nearMiss)
        try tree.write("other", bytes(300_000, seed: 9))
        let members = try ["a1", "near", "a2", "other", "a3"].enumerated().map { try member(tree, fd, $1, id: Int64($0)) }
        let outcomes = hasher.classify(members, hashSingles: false, onBytes: { _ in })
        let digest = try SHA256Hasher.digest(a)
        #expect(outcomes == [.digest(digest), .unique, .digest(digest), .unique, .digest(digest)])
        // When the hashes of loners are needed (files of other silos to compare with), they get them.
        let all = hasher.classify(members, hashSingles: true, onBytes: { _ in })
        #expect(all[1] == .digest(try SHA256Hasher.digest(nearMiss)))
        #expect(all[3] == .digest(try SHA256Hasher.digest(bytes(300_000, seed: 9))))
    }

    @Test("Classify reuses a trusted stored hash instead of hashing again")
    func classifyKnown() throws {
        let tree = try TestTree()
        let hasher = try FileHasher()
        let fd = rootFD(tree)
        defer { close(fd) }
        try tree.write("old", bytes(20_000, seed: 5))
        try tree.write("new", bytes(20_000, seed: 5))
        // A stand-in stored hash proves the reference was compared, not re-hashed.
        let stored = try SHA256Hasher.digest(Array("stand-in".utf8))
        let members = [try member(tree, fd, "new", id: 1), try member(tree, fd, "old", id: 2, known: stored)]
        let outcomes = hasher.classify(members, hashSingles: false, onBytes: { _ in })
        #expect(outcomes == [.digest(stored), .digest(stored)])
    }

    @Test("Classify reports a file that vanished and still sorts the rest")
    func classifyVanished() throws {
        let tree = try TestTree()
        let hasher = try FileHasher()
        let fd = rootFD(tree)
        defer { close(fd) }
        for name in ["x", "y", "z"] { try tree.write(name, bytes(10_000, seed: 3)) }
        let members = try ["x", "y", "z"].enumerated().map { try member(tree, fd, $1, id: Int64($0)) }
        try tree.remove("x")
        let outcomes = hasher.classify(members, hashSingles: false, onBytes: { _ in })
        #expect(outcomes[0] == .failed(.vanished))
        #expect(outcomes[1] == .digest(try SHA256Hasher.digest(bytes(10_000, seed: 3))))
        #expect(outcomes[2] == outcomes[1])
    }

    @Test("A vanished file, a FIFO and a symlink are refused without blocking")
    func refusals() throws {
        let tree = try TestTree()
        let hasher = try FileHasher()
        let fd = rootFD(tree)
        defer { close(fd) }
        #expect(hasher.hashFull(rootFD: fd, path: RelativePath("nothing-here")).failure == .vanished)
        try tree.fifo("pipe")
        // Opening a FIFO for reading would block until a writer appears: O_NONBLOCK prevents it.
        #expect(hasher.hashFull(rootFD: fd, path: RelativePath("pipe")).failure == .notRegular(.fifo))
        try tree.write("real", "x")
        try tree.symlink("link", to: "real")
        #expect(hasher.hashFull(rootFD: fd, path: RelativePath("link")).failure == .notRegular(.symlink))
        guard case .success = hasher.hashFull(rootFD: fd, path: RelativePath("link"), followSymlinks: true) else {
            Issue.record("a followed symlink to a file should hash"); return
        }
        try tree.mkdir("dir")
        #expect(hasher.hashFull(rootFD: fd, path: RelativePath("dir")).failure == .notRegular(.directory))
    }
}

extension Result {
    var failure: Failure? { if case .failure(let f) = self { return f }; return nil }
}
