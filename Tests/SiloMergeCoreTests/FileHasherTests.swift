import Foundation
import Testing
@testable import SiloMergeCore
#if canImport(Glibc)
import Glibc
#endif

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

    @Test("Partial hash covers the first and last block; small files are hashed whole")
    func partialHash() throws {
        let tree = try TestTree()
        let hasher = try FileHasher()
        let fd = rootFD(tree)
        defer { close(fd) }
        var spec = PartialHashSpec()
        spec.block = 4096
        spec.wholeFileLimit = 16 * 1024
        let small = bytes(10_000, seed: 7)
        try tree.write("small", small)
        guard case .success(let s) = hasher.hashPartial(rootFD: fd, path: RelativePath("small"), spec: spec) else {
            Issue.record("partial failed"); return
        }
        #expect(s.full?.hex == (try sha(small)))
        #expect(s.partial == s.full)

        // Same first and last 4 KiB, different middle: equal partial hashes, different full ones.
        let head = bytes(4096, seed: 1), tail = bytes(4096, seed: 2)
        let a = head + bytes(50_000, seed: 3) + tail
        let b = head + bytes(50_000, seed: 4) + tail
        try tree.write("a", a)
        try tree.write("b", b)
        guard case .success(let pa) = hasher.hashPartial(rootFD: fd, path: RelativePath("a"), spec: spec),
              case .success(let pb) = hasher.hashPartial(rootFD: fd, path: RelativePath("b"), spec: spec) else {
            Issue.record("partial failed"); return
        }
        #expect(pa.partial == pb.partial)
        #expect(pa.full == nil)
        #expect(pa.partial.hex == (try sha(head + tail)))
        guard case .success(let fa) = hasher.hashFull(rootFD: fd, path: RelativePath("a")),
              case .success(let fb) = hasher.hashFull(rootFD: fd, path: RelativePath("b")) else {
            Issue.record("full failed"); return
        }
        #expect(fa.0 != fb.0)
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
