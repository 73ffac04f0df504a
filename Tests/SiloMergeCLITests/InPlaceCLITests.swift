import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `stat` of a path (not following a final link).
private func lstatOf(_ path: String) -> stat? {
    var st = stat()
    return lstat(path, &st) == 0 ? st : nil
}

private func sha(_ path: String) throws -> String {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
    let inURL = FileManager.default.temporaryDirectory.appendingPathComponent("d15-sha-\(UUID().uuidString)")
    try data.write(to: inURL)
    defer { try? FileManager.default.removeItem(at: inURL) }
    let pipe = Pipe()
    p.arguments = [inURL.path]
    p.standardOutput = pipe
    try p.run()
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(String(decoding: out, as: UTF8.self).prefix(64))
}

/// Generated silos: `groups` contents of `size` bytes, each in silo a (a/dN/fN.bin) and twice in
/// silo b (b/copies/fN.bin, b/again/fN.bin), with distinct modes and mtimes; and one unique file.
private func makeSilos(_ root: URL, groups: Int, size: Int) throws {
    var rng = SystemRandomNumberGenerator()
    for i in 0..<groups {
        let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for (path, mode, mtime) in [("a/d\(i % 3)/f\(i).bin", 0o644, 1_600_000_000 + i), ("b/copies/f\(i).bin", 0o600, 1_650_000_000 + i),
                                    ("b/again/f\(i).bin", 0o640, 1_660_000_000 + i)] {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(bytes).write(to: url)
            chmod(url.path, mode_t(mode))
            var times = [timespec(tv_sec: mtime, tv_nsec: 0), timespec(tv_sec: mtime, tv_nsec: 0)]
            utimensat(AT_FDCWD, url.path, &times, 0)
        }
    }
    try Data("unique".utf8).write(to: root.appendingPathComponent("a/unique.txt"))
}

/// Mode, mtime and content of every file under `root` (skipping SiloMerge's own files).
private func listing(_ root: URL) throws -> [String: String] {
    var out: [String: String] = [:]
    let e = FileManager.default.enumerator(atPath: root.path)!
    while let rel = e.nextObject() as? String {
        let path = root.appendingPathComponent(rel).path
        guard let st = lstatOf(path), st.st_mode & S_IFMT == S_IFREG else { continue }
        out[rel] = "\(String(st.st_mode & 0o7777, radix: 8)) \(st.st_mtim.tv_sec) \(try sha(path))"
    }
    return out
}

@Suite("In-place deduplication, end to end (plan --in-place, apply, verify, undo, audit)")
struct InPlaceCLITests {
    @Test("verify of an in-place plan: before apply, pending (exit 3); a refused operation is counted with its reason, and the plan is not complete (exit 3); all applied: complete (exit 0); no quarantine folder named; plan show has no empty left-behind section")
    func verifyCountsInPlaceOperations() throws {
        let ws = try Workspace()
        try makeSilos(ws.url, groups: 3, size: 5_000)
        #expect(try ws.run("scan", "a", "b").status == 0)
        var r = try ws.run("plan", "--in-place", "--method", "remove", "-o", "plan.json")
        #expect(r.status == 0, "\(r.stderr)")
        let show = try ws.run("plan", "show", "plan.json")
        #expect(show.status == 0, "\(show.out)")
        #expect(!show.out.contains("Left behind") && !show.out.contains("into the target"), "\(show.out)")

        r = try ws.run("verify", "plan.json")
        #expect(r.status == 3, "\(r.out)")
        #expect(r.out.contains("6 operations: 0 applied, 6 pending") && r.out.contains("INCOMPLETE"), "\(r.out)")
        #expect(!r.out.contains("silomerge-quarantine"), "\(r.out)")

        // One copy edited behind the same size and mtime: apply refuses it.
        let edited = ws.url.appendingPathComponent("b/copies/f1.bin")
        var bytes = [UInt8](try Data(contentsOf: edited))
        bytes[10] ^= 0xFF
        try Data(bytes).write(to: edited)
        var times = [timespec(tv_sec: 1_650_000_001, tv_nsec: 0), timespec(tv_sec: 1_650_000_001, tv_nsec: 0)]
        utimensat(AT_FDCWD, edited.path, &times, 0)
        r = try ws.run("apply", "plan.json", "-q")
        #expect(r.status == 1, "\(r.out) \(r.stderr)")
        r = try ws.run("verify", "plan.json")
        #expect(r.status != 0, "\(r.out)")
        #expect(r.out.contains("6 operations: 5 applied, 1 refused") && !r.out.contains("complete and valid"), "\(r.out)")
        #expect(r.out.contains("refused") && r.out.contains("b:copies/f1.bin") && r.out.contains("SHA-256"), "\(r.out)")
        let j = try ws.run("verify", "plan.json", "--format", "json")
        let doc = try json(Array(j.out.utf8)) as! [String: Any]
        #expect(doc["complete"] as? Bool == false)
        #expect(doc["target"] is NSNull, "\(j.out)")
        let inPlace = try #require(doc["in_place"] as? [String: Any], "\(j.out)")
        #expect(inPlace["method"] as? String == "remove" && inPlace["applied"] as? Int == 5 && inPlace["refused"] as? Int == 1)
        #expect(inPlace["pending"] as? Int == 0)
        let refusal = try #require((inPlace["refusals"] as? [[String: Any]])?.first)
        #expect(refusal["path"] as? String == "b:copies/f1.bin" && (refusal["reason"] as? String)?.contains("SHA-256") == true, "\(refusal)")

        // The edit undone (the planned content back): apply does it; verify: complete.
        bytes[10] ^= 0xFF
        try Data(bytes).write(to: edited)
        utimensat(AT_FDCWD, edited.path, &times, 0)
        r = try ws.run("apply", "plan.json", "-q")
        #expect(r.status == 0, "\(r.out) \(r.stderr)")
        r = try ws.run("verify", "plan.json")
        #expect(r.status == 0, "\(r.out)")
        #expect(r.out.contains("the silos (in place, --method remove)") && r.out.contains("6 operations: 6 applied") && r.out.contains("complete and valid"), "\(r.out)")
    }

    @Test("ext4/tmpfs: reflink is refused at plan time, saying why and what to choose; hardlink works; verify passes; undo restores independent files byte-identical with their modes and times")
    func hardlinkOnTemporaryFolder() throws {
        let ws = try Workspace()
        try makeSilos(ws.url, groups: 6, size: 70_000)
        #expect(try ws.run("scan", "a", "b").status == 0)
        let before = try listing(ws.url.appendingPathComponent("a")).merging(try listing(ws.url.appendingPathComponent("b")).mapKeys { "b/" + $0 }) { a, _ in a }

        // The default method is reflink: not on this file system.
        for args in [["plan", "--in-place", "-o", "plan.json"], ["plan", "--in-place", "--method", "reflink", "-o", "plan.json"]] {
            let r = try silomerge(args, in: ws.url)
            #expect(r.status == 64, "\(r.out) \(r.stderr)")
            #expect(r.stderr.contains("cannot share blocks between files") && r.stderr.contains("--method hardlink"), "\(r.stderr)")
            #expect(!ws.exists("plan.json"))
        }
        // Options that build a target tree do not go with --in-place.
        let clash = try ws.run("plan", "--in-place", "--target", "dam", "-o", "plan.json")
        #expect(clash.status == 64 && clash.stderr.contains("--target"), "\(clash.stderr)")
        let folders = try ws.run("plan", "--in-place", "--keep-folders", "-o", "plan.json")
        #expect(folders.status == 64 && folders.stderr.contains("--keep-folders"), "\(folders.stderr)")

        var r = try ws.run("plan", "--in-place", "--method", "hardlink", "-o", "plan.json")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.out.contains("12 operations") && r.out.contains("in place, by hardlink"), "\(r.out)")
        let plan = try json([UInt8](Data(contentsOf: ws.url.appendingPathComponent("plan.json")))) as! [String: Any]
        #expect(plan["schema"] as? String == "silomerge-plan/4")
        #expect((plan["in_place"] as? [String: Any])?["method"] as? String == "hardlink")
        let show = try ws.run("plan", "show", "plan.json")
        // Six contents, each kept once with two copies linked to it.
        #expect(show.status == 0 && show.out.contains("12 operations for 6 distinct contents"), "\(show.out)")
        r = try ws.run("apply", "plan.json", "-q")
        #expect(r.status == 0, "\(r.out) \(r.stderr)")
        for i in 0..<6 {
            let canonical = lstatOf(ws.url.appendingPathComponent("a/d\(i % 3)/f\(i).bin").path)!
            for dup in ["b/copies/f\(i).bin", "b/again/f\(i).bin"] {
                let st = lstatOf(ws.url.appendingPathComponent(dup).path)!
                #expect(st.st_ino == canonical.st_ino, "\(dup) is not linked")
            }
        }
        #expect(try ws.run("verify", "plan.json").status == 0)
        // There is no merged tree to adopt as a silo.
        let adopt = try ws.run("silos", "add", "dedup=\(ws.url.path)/silomerge-quarantine", "--from-plan", "plan.json")
        #expect(adopt.status != 0 && adopt.stderr.contains("in-place deduplication"), "\(adopt.stderr)")
        r = try ws.run("undo", "plan.json")
        #expect(r.status == 0, "\(r.out) \(r.stderr)")
        let after = try listing(ws.url.appendingPathComponent("a")).merging(try listing(ws.url.appendingPathComponent("b")).mapKeys { "b/" + $0 }) { a, _ in a }
        #expect(after == before)
        var inodes: Set<UInt> = []
        for i in 0..<6 {
            for p in ["a/d\(i % 3)/f\(i).bin", "b/copies/f\(i).bin", "b/again/f\(i).bin"] {
                let st = lstatOf(ws.url.appendingPathComponent(p).path)!
                #expect(st.st_nlink == 1, "\(p)")
                inodes.insert(UInt(st.st_ino))
            }
        }
        #expect(inodes.count == 18, "undo left files sharing an inode")
    }

    @Test("a copy edited between plan and apply (same size and mtime) is refused and kept as edited; the rest is done")
    func editedBetweenPlanAndApply() throws {
        let ws = try Workspace()
        try makeSilos(ws.url, groups: 3, size: 10_000)
        #expect(try ws.run("scan", "a", "b").status == 0)
        #expect(try ws.run("plan", "--in-place", "--method", "remove", "-o", "plan.json").status == 0)
        // Same size, other bytes, the mtime put back: only the hash tells.
        let edited = ws.url.appendingPathComponent("b/copies/f0.bin")
        var bytes = [UInt8](try Data(contentsOf: edited))
        bytes[10] ^= 0xFF
        let st = lstatOf(edited.path)!
        try Data(bytes).write(to: edited)
        var times = [st.st_atim, st.st_mtim]
        utimensat(AT_FDCWD, edited.path, &times, 0)

        let r = try ws.run("apply", "plan.json")
        #expect(r.status != 0, "\(r.out)")
        let text = r.out + r.stderr
        #expect(text.contains("b:copies/f0.bin") && text.contains("SHA-256"), "\(text)")
        #expect([UInt8](try Data(contentsOf: edited)) == bytes, "the edited copy was lost")
        // The others were removed; the canonical copies stay.
        #expect(!ws.exists("b/again/f0.bin") && !ws.exists("b/again/f1.bin") && !ws.exists("b/copies/f1.bin"))
        for i in 0..<3 { #expect(ws.exists("a/d\(i % 3)/f\(i).bin")) }
    }

    @Test("a symbolic link swapped in for a copy between plan and apply: apply refuses the plan, naming it; nothing is touched")
    func symlinkSwappedIn() throws {
        let ws = try Workspace()
        try makeSilos(ws.url, groups: 3, size: 10_000)
        #expect(try ws.run("scan", "a", "b").status == 0)
        #expect(try ws.run("plan", "--in-place", "--method", "hardlink", "-o", "plan.json").status == 0)
        let swapped = ws.url.appendingPathComponent("b/copies/f1.bin")
        try Data("outside".utf8).write(to: ws.url.appendingPathComponent("outside.txt"))
        try FileManager.default.removeItem(at: swapped)
        try FileManager.default.createSymbolicLink(atPath: swapped.path, withDestinationPath: ws.url.appendingPathComponent("outside.txt").path)
        let before = try listing(ws.url.appendingPathComponent("b"))
        let r = try ws.run("apply", "plan.json")
        #expect(r.status != 0, "\(r.out)")
        #expect(r.stderr.contains("b:copies/f1.bin") && r.stderr.contains("symbolic link"), "\(r.stderr)")
        #expect(lstatOf(swapped.path).map { $0.st_mode & S_IFMT == S_IFLNK } == true)
        #expect(try String(contentsOf: ws.url.appendingPathComponent("outside.txt"), encoding: .utf8) == "outside")
        #expect(try listing(ws.url.appendingPathComponent("b")) == before)
        #expect(lstatOf(ws.url.appendingPathComponent("b/again/f0.bin").path)!.st_nlink == 1, "something was linked")
    }

    @Test("an apply killed midway resumes to the end; verify passes; undo restores every file")
    func killAndResume() throws {
        let ws = try Workspace()
        try makeSilos(ws.url, groups: 40, size: 200_000)
        #expect(try ws.run("scan", "a", "b").status == 0)
        let before = try listing(ws.url.appendingPathComponent("b"))
        #expect(try ws.run("plan", "--in-place", "--method", "hardlink", "-o", "plan.json").status == 0)
        let p = Process()
        p.executableURL = productsDirectory.appendingPathComponent("silomerge")
        p.arguments = ["apply", "plan.json", "-q"]
        p.currentDirectoryURL = ws.url
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let journal = ws.url.appendingPathComponent("plan.json.journal")
        let deadline = Date().addingTimeInterval(60)
        while p.isRunning && Date() < deadline {
            if let text = try? String(contentsOf: journal, encoding: .utf8), text.components(separatedBy: "\"event\":\"done\"").count > 3 { break }
            usleep(200)
        }
        let killedMidway = p.isRunning
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let r = try ws.run("apply", "plan.json", "-q")
        #expect(r.status == 0, "\(r.out) \(r.stderr)")
        #expect(!(try FileManager.default.subpathsOfDirectory(atPath: ws.url.path)).contains { $0.contains(".silomerge-hold-") || $0.contains(".silomerge-tmp-") })
        #expect(try ws.run("verify", "plan.json").status == 0)
        #expect(try ws.run("undo", "plan.json").status == 0)
        #expect(try listing(ws.url.appendingPathComponent("b")) == before)
        if !killedMidway { print("note: the apply finished before it could be killed") }
    }

    @Test("audit says what plan --in-place would reclaim per method, in text and JSON")
    func auditReclaim() throws {
        let ws = try Workspace()
        try makeSilos(ws.url, groups: 4, size: 1_000)
        // A hard link of a canonical copy: nothing to reclaim.
        #expect(link(ws.url.appendingPathComponent("a/d0/f0.bin").path, ws.url.appendingPathComponent("a/d0/f0-link.bin").path) == 0)
        #expect(try ws.run("scan", "a", "b").status == 0)
        let r = try ws.run("audit", "--no-scan")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.out.contains("IN-PLACE DEDUPLICATION"), "\(r.out)")
        #expect(r.out.contains("hardlink") && r.out.contains("8 files"), "\(r.out)")
        #expect(r.out.contains("1 name already hard links"), "\(r.out)")
        let j = try json(try ws.run("audit", "--no-scan", "--format", "json").stdout) as! [String: Any]
        let inPlace = try #require(j["in_place"] as? [String: Any])
        #expect((inPlace["hardlink"] as? [String: Any])?["bytes"] as? Int == 8_000)
        #expect((inPlace["remove"] as? [String: Any])?["files"] as? Int == 8)
        #expect((inPlace["reflink"] as? [String: Any])?["bytes"] as? Int == 0)
        #expect(inPlace["already_linked_names"] as? Int == 1)
        // It says which copy it takes as canonical (audit takes no --rule).
        #expect(r.out.contains("canonical copy assumed: each group's first copy by silo priority"), "\(r.out)")
        #expect((inPlace["canonical_copy"] as? String)?.contains("silo priority") == true)
        #expect(inPlace["groups_on_several_file_systems"] as? Int == 0)
    }

    @Test("audit's in-place estimate takes the canonical copy by silo priority and says so; where a group spans file systems, a plan with another --rule reclaims otherwise, and audit says that too")
    func auditReclaimAssumesSiloPriority() throws {
        let ws = try Workspace()
        // Silo a (priority 1) on another file system than the workspace: /dev/shm (tmpfs).
        let shm = URL(fileURLWithPath: "/dev/shm/silomerge-e2e-\(UUID().uuidString.prefix(8))")
        var here = stat(), there = stat()
        guard (try? FileManager.default.createDirectory(at: shm.appendingPathComponent("a"), withIntermediateDirectories: true)) != nil,
              stat(ws.url.path, &here) == 0, stat(shm.path, &there) == 0, here.st_dev != there.st_dev else {
            try? FileManager.default.removeItem(at: shm)
            return   // no second file system to put a silo on
        }
        defer { try? FileManager.default.removeItem(at: shm) }
        let content = Data((0..<1_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try content.write(to: shm.appendingPathComponent("a/x.bin"))
        for p in ["b/copies/x.bin", "b/again/x.bin"] {
            let url = ws.url.appendingPathComponent(p)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try content.write(to: url)
        }
        #expect(try ws.run("scan", "a=\(shm.path)/a", "b=b").status == 0)
        let audit = try ws.run("audit", "--no-scan")
        #expect(audit.out.contains("canonical copy assumed: each group's first copy by silo priority"), "\(audit.out)")
        #expect(audit.out.contains("1 group with copies on several file systems: a plan with other --rule lists may keep another copy of it"), "\(audit.out)")
        let j = try json(try ws.run("audit", "--no-scan", "--format", "json").stdout) as! [String: Any]
        let inPlace = try #require(j["in_place"] as? [String: Any])
        #expect(inPlace["groups_on_several_file_systems"] as? Int == 1)
        #expect((inPlace["hardlink"] as? [String: Any])?["bytes"] as? Int == 0)
        // The default rules keep a's copy, as audit assumed: nothing to link, as it said.
        func reclaim(_ extra: [String]) throws -> Int? {
            let r = try silomerge(["plan", "--in-place", "--method", "hardlink", "-o", "p.json"] + extra, in: ws.url)
            #expect(r.status == 0, "\(r.stderr)")
            let plan = try json([UInt8](Data(contentsOf: ws.url.appendingPathComponent("p.json")))) as! [String: Any]
            return (plan["in_place"] as? [String: Any])?["reclaim_bytes"] as? Int
        }
        #expect(try reclaim([]) == 0)
        // Another rule keeps a copy in b: one copy can be linked to it, which the estimate did not count.
        #expect(try reclaim(["--rule", "preferred-path:copies/*"]) == 1_000)
    }
}

/// A btrfs image made, loop-mounted and removed by the test: needs root and a kernel that lets
/// this process mount (not in most containers). Without, the test is skipped, saying why.
private let btrfsReason: String? = {
    guard getuid() == 0 else { return "not root: loop-mounting a btrfs image needs root" }
    guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/mkfs.btrfs") || FileManager.default.isExecutableFile(atPath: "/sbin/mkfs.btrfs") else {
        return "mkfs.btrfs is not installed (apt-get install btrfs-progs)"
    }
    return nil
}()

private func sh(_ command: String) -> (status: Int32, out: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try? p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

@Suite("In-place deduplication on btrfs (a loop-mounted image)")
struct InPlaceBtrfsTests {
    @Test("reflink: duplicates share their extents with the canonical copy (filefrag), bytes unchanged; verify; undo gives each its own extents back",
          .enabled(if: btrfsReason == nil, "\(btrfsReason ?? "")"))
    func reflinkOnBtrfs() throws {
        let ws = try Workspace()
        let image = ws.url.appendingPathComponent("btrfs.img").path
        let mount = ws.url.appendingPathComponent("mnt").path
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        #expect(sh("truncate -s 256M '\(image)' && mkfs.btrfs -q '\(image)'").status == 0)
        let mounted = sh("mount -o loop '\(image)' '\(mount)'")
        // Unmounted and removed whatever happens below.
        defer {
            _ = sh("umount '\(mount)' || umount -l '\(mount)'")
            try? FileManager.default.removeItem(atPath: image)
        }
        guard mounted.status == 0 else {
            print("skipped: this process may not loop-mount (\(mounted.out.trimmingCharacters(in: .whitespacesAndNewlines)))")
            return
        }
        let silos = URL(fileURLWithPath: mount)
        try makeSilos(silos, groups: 3, size: 1 << 20)
        _ = sh("sync")
        let before = try listing(silos)
        #expect(try silomerge(["scan", "\(mount)/a", "\(mount)/b"], in: ws.url).status == 0)
        let audit = try silomerge(["audit", "--no-scan", "--format", "json"], in: ws.url)
        let reflink = ((try json(audit.stdout) as! [String: Any])["in_place"] as! [String: Any])["reflink"] as! [String: Any]
        #expect(reflink["bytes"] as? Int == 6 << 20, "\(reflink)")
        // The default method on btrfs is reflink.
        var r = try silomerge(["plan", "--in-place", "-o", "plan.json"], in: ws.url)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.out.contains("in place, by reflink"), "\(r.out)")
        func shared(_ rel: String) -> Bool { sh("filefrag -v '\(mount)/\(rel)'").out.contains("shared") }
        #expect(!shared("b/copies/f0.bin"))
        r = try silomerge(["apply", "plan.json", "-q"], in: ws.url)
        #expect(r.status == 0, "\(r.out) \(r.stderr)")
        _ = sh("sync")
        for i in 0..<3 {
            for rel in ["a/d\(i % 3)/f\(i).bin", "b/copies/f\(i).bin", "b/again/f\(i).bin"] {
                #expect(shared(rel), "\(rel): \(sh("filefrag -v '\(mount)/\(rel)'").out)")
            }
        }
        // Each name keeps its own file, mode, times and bytes.
        #expect(try listing(silos) == before)
        let a = lstatOf("\(mount)/a/d0/f0.bin")!, b = lstatOf("\(mount)/b/copies/f0.bin")!
        #expect(a.st_ino != b.st_ino)
        #expect(try silomerge(["verify", "plan.json"], in: ws.url).status == 0)
        r = try silomerge(["undo", "plan.json"], in: ws.url)
        #expect(r.status == 0, "\(r.out) \(r.stderr)")
        _ = sh("sync")
        #expect(try listing(silos) == before)
        for i in 0..<3 { #expect(!shared("b/copies/f\(i).bin") && !shared("b/again/f\(i).bin")) }
    }
}

private extension Dictionary {
    func mapKeys(_ f: (Key) -> Key) -> [Key: Value] { Dictionary(uniqueKeysWithValues: map { (f($0.key), $0.value) }) }
}
