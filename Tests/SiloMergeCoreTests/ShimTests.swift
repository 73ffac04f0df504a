import CSiloMergeShims
import Foundation
import Testing
@testable import SiloMergeCore
#if canImport(Glibc)
import Glibc
#endif
import SiloMergeTestSupport

/// The C shim (`CSiloMergeShims`): each call either does its job or fails with an errno the
/// callers fall back on, on whatever file system the test folder is.
@Suite("System-call shims")
struct ShimTests {
    func open(_ tree: TestTree, _ name: String, _ flags: Int32) -> Int32 {
        let fd = Glibc.open(tree.url(name).path, flags | O_CLOEXEC, 0o644)
        precondition(fd >= 0, "cannot open \(name): \(errno)")
        return fd
    }

    @Test("rename without replacing: renames to a free name, refuses an existing one (EEXIST) and leaves both files")
    func renameNoReplace() throws {
        let tree = try TestTree()
        try tree.write("a", "first")
        try tree.write("b", "second")
        let dir = open(tree, "", O_RDONLY | O_DIRECTORY)
        defer { close(dir) }
        let fs = RealFileOps()
        #expect(throws: Errno(EEXIST)) { try fs.rename(dir, Array("a".utf8), dir, Array("b".utf8), noReplace: true) }
        #expect(try String(contentsOf: tree.url("a"), encoding: .utf8) == "first")
        #expect(try String(contentsOf: tree.url("b"), encoding: .utf8) == "second")
        try fs.rename(dir, Array("a".utf8), dir, Array("c".utf8), noReplace: true)
        #expect(!FileManager.default.fileExists(atPath: tree.url("a").path))
        #expect(try String(contentsOf: tree.url("c"), encoding: .utf8) == "first")
        // The raw call says EEXIST itself where the kernel has renameat2 (else a fallback errno).
        let r = silomerge_rename_noreplace(dir, "c", dir, "b")
        #expect(r == -1)
        #expect([EEXIST, ENOSYS, EINVAL, ENOTSUP].contains(errno))
    }

    @Test("copy_file_range copies exact bytes in the kernel, or says why it cannot")
    func copyFileRange() throws {
        let tree = try TestTree()
        let content = bytes(300_000, seed: 7)
        try tree.write("src", content)
        let src = open(tree, "src", O_RDONLY), dst = open(tree, "dst", O_WRONLY | O_CREAT | O_TRUNC)
        var inOffset: Int64 = 0, outOffset: Int64 = 0
        var failure: Int32?
        while inOffset < Int64(content.count) {
            let n = silomerge_copy_file_range(src, &inOffset, dst, &outOffset, Int64(content.count) - inOffset)
            if n < 0 { failure = errno; break }
            if n == 0 { break }
        }
        close(src); close(dst)
        if let failure {
            #expect([ENOSYS, EXDEV, EINVAL, ENOTSUP, EOPNOTSUPP].contains(failure))
        } else {
            #expect(inOffset == Int64(content.count) && outOffset == inOffset)
            #expect(try [UInt8](Data(contentsOf: tree.url("dst"))) == content)
        }
    }

    @Test("FICLONE and FIDEDUPERANGE share blocks where the file system can, else fail with an errno; the bytes never change")
    func cloneAndDedupe() throws {
        let tree = try TestTree()
        let content = bytes(65_536, seed: 3)
        try tree.write("src", content)
        try tree.write("same", content)
        let src = open(tree, "src", O_RDONLY), dst = open(tree, "clone", O_WRONLY | O_CREAT | O_TRUNC)
        defer { close(src) }
        do {
            try RealFileOps().clone(from: src, to: dst)
            close(dst)
            #expect(try [UInt8](Data(contentsOf: tree.url("clone"))) == content)
        } catch let e as Errno {
            close(dst)
            #expect([EOPNOTSUPP, ENOTSUP, EXDEV, EINVAL, ENOTTY].contains(e.code))
        }
        let same = open(tree, "same", O_RDWR)
        defer { close(same) }
        var differs: Int32 = -1
        let n = silomerge_dedupe_range(src, 0, Int64(content.count), same, 0, &differs)
        if n < 0 {
            #expect([EOPNOTSUPP, ENOTSUP, EINVAL, ENOTTY, EXDEV, EPERM].contains(errno))
        } else {
            #expect(differs == 0)
            #expect(n == Int64(content.count))
        }
        #expect(try [UInt8](Data(contentsOf: tree.url("same"))) == content)
    }

    @Test("fstatfs reports the file system's type: a test folder is on a real one, /proc on proc")
    func fileSystemType() throws {
        let tree = try TestTree()
        let dir = open(tree, "", O_RDONLY | O_DIRECTORY)
        defer { close(dir) }
        var type: Int64 = 0
        #expect(silomerge_fs_type(dir, &type) == 0)
        #expect(PseudoFileSystems.magic[type] == nil)
        let proc = Glibc.open("/proc", O_RDONLY | O_DIRECTORY)
        defer { close(proc) }
        #expect(silomerge_fs_type(proc, &type) == 0)
        #expect(type == 0x9FA0)
    }
}
