import CSiloMergeShims
import Foundation
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
#if canImport(Glibc)
import Glibc
#endif
import SiloMergeTestSupport

/// `--read-order`: on a spinning disk files are read in the order the disk holds them, not by
/// name. The test's disk is not spinning, so the order is asked for (`.disk`); what is checked
/// is the order of the reads, against where the kernel says each file starts.
@Suite("Reading files in the order the disk holds them")
struct ReadOrderTests {
    /// Ten files written last name first and flushed one by one: the file system places them
    /// (and numbers their inodes) mostly against their names' order.
    func reversedFolder(_ tree: TestTree) throws -> [String] {
        var written: [String] = []
        for i in (0..<10).reversed() {
            let name = "f\(i).bin"
            let url = try tree.write("disk/folder/\(name)", bytes(48_000 + i, seed: UInt64(i)))
            let fd = open(url.path, O_RDONLY)
            #expect(fd >= 0)
            fsync(fd)
            close(fd)
            written.append(name)
        }
        return written
    }

    /// Where the kernel says a file starts (FIEMAP), or nil where the file system does not say.
    func physical(_ url: URL) -> Int64? {
        let fd = open(url.path, O_RDONLY)
        defer { close(fd) }
        var offset: Int64 = 0
        return silomerge_first_physical(fd, &offset) == 0 ? offset : nil
    }

    @Test("a folder's files are read by where they lie with --read-order disk, by name with listing")
    func fullScanFollowsTheDisk() throws {
        let tree = try TestTree()
        let written = try reversedFolder(tree)
        _ = written
        let folder = tree.root.appendingPathComponent("disk/folder")
        // What the disk says, independently of the scan: FIEMAP where the file system
        // answers it, else inode numbers (the fallback the scan uses).
        let names = written.sorted()
        let key: (String) -> Int64 = { name in
            let url = folder.appendingPathComponent(name)
            if let p = self.physical(url) { return p }
            var st = stat()
            _ = lstat(url.path, &st)
            return Int64(st.st_ino)
        }
        let expected = names.sorted { key($0) < key($1) }
        // Otherwise the test could not tell the orders apart.
        #expect(expected != names)

        for (order, want) in [(ReadOrder.disk, expected), (.listing, names)] {
            try? FileManager.default.removeItem(atPath: tree.catalogue)
            let reads = Locked<[String]>([])
            let hooks = ScanEngine.TestHooks(beforeRead: { _, path in
                reads.withLock { $0.append(String(decoding: path.lastComponent, as: UTF8.self)) }
                return nil
            })
            let (result, _) = try scan(tree, [tree.silo("disk")], configure: { $0.readOrder = order; $0.jobs = 1 }, hooks: hooks)
            #expect(result.status == .ok)
            #expect(reads.value == want, "--read-order \(order.rawValue)")
        }
    }

    @Test("DiskOrder sorts by FIEMAP offset, files it cannot open keep their place at the front, inode order without FIEMAP")
    func diskOrderSorting() throws {
        let tree = try TestTree()
        let written = try reversedFolder(tree)
        let folder = tree.root.appendingPathComponent("disk/folder")
        let items = written.sorted() + ["vanished.bin"]
        let stat: (String) -> FileStat = { name in
            var st = Glibc.stat()
            if lstat(folder.appendingPathComponent(name).path, &st) != 0 { return FileStat(st) }
            return FileStat(st)
        }
        let open: (String) -> Int32? = { name in
            let fd = Glibc.open(folder.appendingPathComponent(name).path, O_RDONLY | O_NOFOLLOW)
            return fd >= 0 ? fd : nil
        }
        let byPhysical = written.sorted { (physical(folder.appendingPathComponent($0)) ?? 0) < (physical(folder.appendingPathComponent($1)) ?? 0) }
        let byInodeNumber = written.sorted { stat($0).inode < stat($1).inode }
        let (sorted, supported) = DiskOrder.sorted(items, useFiemap: true, stat: stat, open: open)
        if supported {
            #expect(physical(folder.appendingPathComponent(written[0])) != nil)
            #expect(sorted == ["vanished.bin"] + byPhysical)
        } else {
            // tmpfs and others: inode order.
            #expect(physical(folder.appendingPathComponent(written[0])) == nil)
            #expect(Array(sorted.filter { $0 != "vanished.bin" }) == byInodeNumber)
        }
        let (byInode, _) = DiskOrder.sorted(written.sorted(), useFiemap: false, stat: stat, open: { _ in Issue.record("opened without FIEMAP"); return nil })
        #expect(byInode == byInodeNumber)
    }
}
