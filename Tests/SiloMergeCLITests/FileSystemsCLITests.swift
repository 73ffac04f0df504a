import Foundation
import GRDB
import Testing

private func catalogued(_ ws: Workspace) throws -> [String] {
    let db = try DatabaseQueue(path: ws.url.appendingPathComponent("silomerge.sqlite").path)
    return try db.read { try String.fetchAll($0, sql: "SELECT path FROM file ORDER BY path") }
}

@Suite("File systems: pseudo ones are never walked; --one-file-system stays on the root's")
struct FileSystemsCLITests {
    @Test("Links to /proc, /sys and /dev are not walked, even with --follow-symlinks", .timeLimit(.minutes(3)))
    func pseudoInsideSilo() throws {
        let ws = try Workspace()
        try ws.write("s/a.txt", "alpha")
        for (link, target) in [("proc", "/proc/self"), ("sys", "/sys/kernel"), ("dev", "/dev")] {
            try FileManager.default.createSymbolicLink(atPath: ws.url.appendingPathComponent("s/\(link)").path, withDestinationPath: target)
        }
        let r = try ws.run("scan", "--follow-symlinks", "s", timeout: 170)
        #expect(r.status == 0, "notes, not warnings: \(r.stderr)")
        #expect(r.stderr.contains("s:proc: is a proc file system (the kernel's view of itself, not files): never walked"), "\(r.stderr)")
        #expect(r.stderr.contains("s:sys: is a sysfs file system"), "\(r.stderr)")
        #expect(r.stderr.contains("s:dev: is a "), "\(r.stderr)")
        #expect(try catalogued(ws) == ["a.txt"])
    }

    @Test("A silo root on a pseudo file system is refused (exit 64)", arguments: ["/proc", "/sys", "/proc/self"])
    func pseudoRoot(root: String) throws {
        let ws = try Workspace()
        let r = try ws.run("scan", "k=\(root)", timeout: 60)
        #expect(r.status == 64)
        #expect(r.stderr.contains("silo 'k': \(root) is on a "), "\(r.stderr)")
        #expect(r.stderr.contains("SiloMerge never scans those"))
        #expect(!ws.exists("silomerge.sqlite"))
    }

    @Test("--one-file-system (-x) skips mount points like find -xdev; remembered for rescans and checks")
    func oneFileSystem() throws {
        let ws = try Workspace()
        // Another file system than the workspace's: /dev/shm (a tmpfs on Linux and in containers).
        let shm = URL(fileURLWithPath: "/dev/shm/silomerge-test-\(UUID().uuidString.prefix(8))")
        let here = try #require(try? FileManager.default.attributesOfItem(atPath: ws.url.path)[.systemNumber] as? Int)
        let there = try? FileManager.default.attributesOfItem(atPath: "/dev/shm")[.systemNumber] as? Int
        try #require(there != nil && there != here, "this test needs /dev/shm on another file system than \(ws.url.path)")
        try FileManager.default.createDirectory(at: shm, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: shm) }
        try Data("elsewhere".utf8).write(to: shm.appendingPathComponent("far.txt"))
        try ws.write("s/near.txt", "here")
        try FileManager.default.createSymbolicLink(atPath: ws.url.appendingPathComponent("s/mounted").path, withDestinationPath: shm.path)

        #expect(try ws.run("scan", "--follow-symlinks", "s").status == 0)
        #expect(try catalogued(ws) == ["mounted/far.txt", "near.txt"])

        let x = try ws.run("scan", "-x", "--follow-symlinks", "s")
        #expect(x.status == 0)
        #expect(x.stderr.contains("s:mounted: is on another file system (a mount point): not walked (--one-file-system)"), "\(x.stderr)")
        #expect(try catalogued(ws) == ["near.txt"])
        // Remembered: a bare rescan and a check do not walk it either.
        let rescan = try ws.run("scan", "--follow-symlinks")
        #expect(rescan.stderr.contains("not walked (--one-file-system)"), "\(rescan.stderr)")
        #expect(try catalogued(ws) == ["near.txt"])
        let check = try ws.run("check", "--format", "json")
        #expect(check.status == 0, "nothing changed: \(check.out)")
        // Naming the silo again without the flag walks it again.
        #expect(try ws.run("scan", "--follow-symlinks", "s").status == 0)
        #expect(try catalogued(ws) == ["mounted/far.txt", "near.txt"])
    }
}
