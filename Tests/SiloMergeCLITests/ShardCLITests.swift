import Foundation
import GRDB
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Catalogue shards (issue #13 item 4): hosts scan into catalogues of their own, merged later.
@Suite("catalogue merge and copy: shards merged equal a direct scan")
struct ShardCLITests {
    /// Three silos on three "hosts", with content shared between them, a name that is not
    /// UTF-8, and a sidecar.
    func silos(_ ws: Workspace) throws {
        try ws.write("a/photo.jpg", "shared picture bytes")
        try ws.write("a/notes.txt", "only in a")
        try ws.write("a/sub/report.pdf", "report of the year")
        try ws.write("b/copy-of-photo.jpg", "shared picture bytes")
        try ws.write("b/report.pdf", "report of the year")
        try ws.write("b/b-only.txt", "only in b")
        try ws.write("c/again.jpg", "shared picture bytes")
        try ws.write("c/c-only.txt", "only in c, longer")
        // c/caf\xe9.txt: Latin-1, not UTF-8, a copy of a's notes.
        let name = Array(ws.url.appendingPathComponent("c").path.utf8) + [0x2F, 0x63, 0x61, 0x66, 0xE9, 0x2E, 0x74, 0x78, 0x74]
        let fd = RawTree.cPath(name) { open($0, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
        #expect(fd >= 0)
        _ = Array("only in a".utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    func scan(_ ws: Workspace, _ silo: String, host: String, into catalogue: String) throws {
        let r = try ws.run("scan", "\(silo)=\(silo)", "--host", host, "--catalog", catalogue, "-q")
        #expect(r.status == 0, "scan \(silo) into \(catalogue): \(r.stderr)")
    }

    func run(_ ws: Workspace, _ args: String...) throws -> CommandResult {
        try silomerge(args, in: ws.url)
    }

    /// What must be equal between two catalogues of the same silos: duplicate groups, silos,
    /// and the runs (but their ids and times).
    func views(_ ws: Workspace, _ catalogue: String) throws -> (duplicates: String, silos: String, runs: [String]) {
        let dups = try run(ws, "duplicates", "--format", "json", "--catalog", catalogue)
        #expect(dups.status == 0, "\(dups.stderr)")
        let silos = try run(ws, "silos", "--catalog", catalogue)
        #expect(silos.status == 0, "\(silos.stderr)")
        let history = try run(ws, "history", "--format", "json", "--catalog", catalogue)
        #expect(history.status == 0, "\(history.stderr)")
        let runs = (try json(history.stdout) as? [String: Any])?["runs"] as? [[String: Any]] ?? []
        let kept = ["kind", "status", "silos", "files", "bytes", "new", "changed", "missing", "hashed", "bytes_hashed",
                    "warnings", "errors", "hash_mode", "host"]
        let described = runs.map { run in kept.map { "\($0)=\(run[$0] ?? "nil")" }.joined(separator: " ") }.sorted()
        return (dups.out, silos.out, described)
    }

    @Test("three shards merged into one equal a direct scan of the three; merging again changes nothing")
    func mergeEqualsDirectScan() throws {
        let ws = try Workspace()
        try silos(ws)
        for (silo, host) in [("a", "host-a"), ("b", "host-b"), ("c", "host-c")] {
            try scan(ws, silo, host: host, into: "\(silo).sqlite")
            try scan(ws, silo, host: host, into: "direct.sqlite")
        }
        let merge = try run(ws, "catalogue", "merge", "--into", "merged.sqlite", "a.sqlite", "b.sqlite", "c.sqlite")
        #expect(merge.status == 0, "\(merge.stderr)")
        #expect(merge.out.contains("In all: 3 runs merged (0 already there), silos: 3 added"), "\(merge.out)")
        #expect(merge.out.contains("silomerge reconcile"), "\(merge.out)")

        let direct = try views(ws, "direct.sqlite")
        let merged = try views(ws, "merged.sqlite")
        #expect(merged.duplicates == direct.duplicates)
        #expect(merged.duplicates.contains("path_b64") || merged.duplicates.contains("caf"), "\(merged.duplicates)")
        #expect(merged.silos == direct.silos)
        #expect(merged.runs == direct.runs)
        #expect(merged.runs.count == 3)

        // The non-UTF-8 name arrived byte for byte.
        let db = try DatabaseQueue(path: ws.url.appendingPathComponent("merged.sqlite").path)
        let names = try db.read { db in try Data.fetchAll(db, sql: "SELECT CAST(name AS BLOB) FROM file") }
        #expect(names.contains(Data([0x63, 0x61, 0x66, 0xE9, 0x2E, 0x74, 0x78, 0x74])))

        // Reconciled, the unified catalogue is that of the direct scan.
        for c in ["direct.sqlite", "merged.sqlite"] { #expect(try run(ws, "reconcile", "--catalog", c).status == 0) }
        let exported = try ["direct.sqlite", "merged.sqlite"].map { c in
            try run(ws, "export", "--format", "csv", "--catalog", c).out
        }
        #expect(exported[0] == exported[1] && !exported[0].isEmpty)

        // Twice is once.
        let before = try run(ws, "history", "--format", "json", "--catalog", "merged.sqlite").out
        let again = try run(ws, "catalogue", "merge", "--into", "merged.sqlite", "a.sqlite", "b.sqlite", "c.sqlite")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.out.contains("In all: 0 runs merged (3 already there), silos: 0 added, 0 updated, 3 already current, 0 files"), "\(again.out)")
        #expect(again.out.contains("Nothing new"), "\(again.out)")
        #expect(try run(ws, "history", "--format", "json", "--catalog", "merged.sqlite").out == before)
        #expect(try views(ws, "merged.sqlite").duplicates == merged.duplicates)
    }

    @Test("a shard scanned again brings only its new run, and its silo's files become the shard's")
    func rescannedShard() throws {
        let ws = try Workspace()
        try silos(ws)
        for (silo, host) in [("a", "host-a"), ("b", "host-b")] {
            try scan(ws, silo, host: host, into: "\(silo).sqlite")
        }
        #expect(try run(ws, "catalogue", "merge", "--into", "merged.sqlite", "a.sqlite", "b.sqlite").status == 0)
        // a changes on its host: a new copy of b's file, a file gone.
        try ws.write("a/b-copy.txt", "only in b")
        try FileManager.default.removeItem(at: ws.url.appendingPathComponent("a/notes.txt"))
        try scan(ws, "a", host: "host-a", into: "a.sqlite")
        try scan(ws, "a", host: "host-a", into: "direct.sqlite")
        try scan(ws, "b", host: "host-b", into: "direct.sqlite")
        let merge = try run(ws, "catalogue", "merge", "--into", "merged.sqlite", "a.sqlite", "b.sqlite")
        #expect(merge.status == 0, "\(merge.stderr)")
        #expect(merge.out.contains("a.sqlite: 1 run merged (1 already there), silos: 0 added, 1 updated"), "\(merge.out)")
        #expect(merge.out.contains("b.sqlite: 0 runs merged (1 already there), silos: 0 added, 0 updated, 1 already current"), "\(merge.out)")
        let merged = try views(ws, "merged.sqlite")
        #expect(merged.duplicates == (try views(ws, "direct.sqlite")).duplicates)
        #expect(merged.duplicates.contains("b-copy.txt") && !merged.duplicates.contains("notes.txt"), "\(merged.duplicates)")
        #expect(merged.runs.count == 3)
    }

    @Test("a silo claimed by two shards with different roots or hosts, or scanned into the destination by another host, is refused")
    func conflictingClaims() throws {
        let ws = try Workspace()
        try silos(ws)
        try ws.write("elsewhere/x.txt", "x")
        try scan(ws, "a", host: "host-a", into: "a.sqlite")
        let other = try run(ws, "scan", "a=elsewhere", "--host", "host-a", "--catalog", "a2.sqlite", "-q")
        #expect(other.status == 0, "\(other.stderr)")
        let refused = try run(ws, "catalogue", "merge", "--into", "merged.sqlite", "a.sqlite", "a2.sqlite")
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("silo 'a' is claimed twice: shard a.sqlite holds it as"), "\(refused.stderr)")
        #expect(refused.stderr.contains("/a on host host-a, shard a2.sqlite claims it as"), "\(refused.stderr)")
        #expect(refused.stderr.contains("/elsewhere on host host-a"), "\(refused.stderr)")
        // Nothing was merged, not even the first shard: the destination was not even made.
        #expect(!ws.exists("merged.sqlite"))

        // Another host: scanned into the destination directly, then claimed by a shard.
        try scan(ws, "b", host: "host-b", into: "merged.sqlite")
        try scan(ws, "b", host: "host-z", into: "b-elsewhere.sqlite")
        let hosts = try run(ws, "catalogue", "merge", "--into", "merged.sqlite", "b-elsewhere.sqlite")
        #expect(hosts.status == 64)
        #expect(hosts.stderr.contains("silo 'b' is claimed twice: merged.sqlite (scanned into it directly) holds it as"), "\(hosts.stderr)")
        #expect(hosts.stderr.contains("on host host-b") && hosts.stderr.contains("on host host-z"), "\(hosts.stderr)")
        // The same host and folder is the same silo: merged.
        try scan(ws, "b", host: "host-b", into: "b.sqlite")
        #expect(try run(ws, "catalogue", "merge", "--into", "merged.sqlite", "b.sqlite").status == 0)

        // A shard or a source that does not exist is named as such, and nothing is created.
        for (arguments, role) in [(["merge", "--into", "new.sqlite", "b.sqlite", "typo.sqlite"], "the shard must be a catalogue that exists"),
                                  (["copy", "typo.sqlite", "new.sqlite"], "the catalogue to copy must be a catalogue that exists")] {
            let missing = try silomerge(["catalogue"] + arguments, in: ws.url)
            #expect(missing.status != 0, "\(arguments)")
            #expect(missing.stderr.contains("typo.sqlite: no such file: \(role)"), "\(missing.stderr)")
            #expect(!missing.stderr.contains("silomerge scan"), "\(missing.stderr)")
            #expect(!ws.exists("new.sqlite") && !ws.exists("typo.sqlite"))
        }
    }

    @Test("a merge killed (SIGKILL) inside its transaction leaves the destination as it was; merged again, it completes")
    func killedMerge() throws {
        let ws = try Workspace()
        try silos(ws)
        try scan(ws, "a", host: "host-a", into: "a.sqlite")
        #expect(try run(ws, "catalogue", "merge", "--into", "merged.sqlite", "a.sqlite").status == 0)
        // A large shard: 40 folders of 100 files.
        for d in 0..<40 {
            let folder = ws.url.appendingPathComponent("big/d\(d)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for f in 0..<100 { try Data("file \(d)/\(f)".utf8).write(to: folder.appendingPathComponent("f\(f).txt")) }
        }
        try scan(ws, "big", host: "host-big", into: "big.sqlite")
        let before = try views(ws, "merged.sqlite")
        let dest = ws.url.appendingPathComponent("merged.sqlite").path

        var killedInside = false
        for _ in 0..<5 where !killedInside {
            let p = Process()
            p.executableURL = productsDirectory.appendingPathComponent("silomerge")
            p.arguments = ["catalogue", "merge", "--into", "merged.sqlite", "big.sqlite", "-q"]
            p.currentDirectoryURL = ws.url
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            // Step the process until it is caught holding the destination's write transaction.
            kill(p.processIdentifier, SIGSTOP)
            for _ in 0..<20_000 where p.isRunning {
                if writeTransactionOpen(dest) { killedInside = true; break }
                kill(p.processIdentifier, SIGCONT); usleep(300); kill(p.processIdentifier, SIGSTOP)
            }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            if !killedInside { break }   // it finished first: nothing to test on this machine
        }
        #expect(killedInside, "the merge was never caught inside its transaction")
        guard killedInside else { return }
        let after = try views(ws, "merged.sqlite")
        #expect(after.duplicates == before.duplicates)
        #expect(after.silos == before.silos)
        #expect(after.runs == before.runs)

        let merge = try run(ws, "catalogue", "merge", "--into", "merged.sqlite", "big.sqlite")
        #expect(merge.status == 0, "\(merge.stderr)")
        #expect(merge.out.contains("1 run merged (0 already there), silos: 1 added, 0 updated, 0 already current, 4,000 files"), "\(merge.out)")
    }

    /// True when another connection holds a write transaction on the catalogue.
    func writeTransactionOpen(_ path: String) -> Bool {
        var config = Configuration()
        config.busyMode = .immediateError
        guard let db = try? DatabaseQueue(path: path, configuration: config) else { return false }
        do {
            try db.inDatabase { db in
                try db.execute(sql: "BEGIN IMMEDIATE")
                try db.execute(sql: "ROLLBACK")
            }
            return false
        } catch let e as DatabaseError where e.resultCode == .SQLITE_BUSY {
            return true
        } catch {
            return false
        }
    }

    @Test("catalogue copy: every row, ids and all; twice is once; a foreign non-empty destination is refused; the source is untouched")
    func copyCatalogue() throws {
        let ws = try Workspace()
        try silos(ws)
        try scan(ws, "a", host: "host-a", into: "src.sqlite")
        try scan(ws, "c", host: "host-a", into: "src.sqlite")
        #expect(try run(ws, "reconcile", "--catalog", "src.sqlite").status == 0)
        // The source's file, byte for byte, before and after each copy, and nothing in a WAL
        // (reading a WAL catalogue may leave an empty one, as every command that reads does).
        let srcFiles = { ["src.sqlite", "src.sqlite-wal"].map { (try? Data(contentsOf: ws.url.appendingPathComponent($0))) ?? Data() } }
        let srcBytes = srcFiles()
        let copy = try run(ws, "catalogue", "copy", "src.sqlite", "dst.sqlite")
        #expect(copy.status == 0, "\(copy.stderr)")
        #expect(srcFiles() == srcBytes)
        #expect(copy.out.contains("Copied src.sqlite into dst.sqlite: 2 runs, 2 silos, 6 files"), "\(copy.out)")
        let history = { (c: String) throws -> String in try self.run(ws, "history", "--format", "json", "--catalog", c).out }
        #expect(try history("dst.sqlite") == history("src.sqlite"))
        #expect(try views(ws, "dst.sqlite").duplicates == views(ws, "src.sqlite").duplicates)
        let export = { (c: String) throws -> String in try self.run(ws, "export", "--format", "csv", "--catalog", c).out }
        #expect(try export("dst.sqlite") == export("src.sqlite"))
        // Twice is once.
        let srcBefore = srcFiles()
        #expect(try run(ws, "catalogue", "copy", "src.sqlite", "dst.sqlite").status == 0)
        #expect(srcFiles() == srcBefore)
        #expect(try history("dst.sqlite") == history("src.sqlite"))
        // The source scanned again: the earlier copy is brought up to date.
        try scan(ws, "a", host: "host-a", into: "src.sqlite")
        #expect(try run(ws, "catalogue", "copy", "src.sqlite", "dst.sqlite").status == 0)
        #expect(try history("dst.sqlite") == history("src.sqlite"))
        // Another catalogue is refused, and left alone.
        try scan(ws, "b", host: "host-b", into: "other.sqlite")
        let otherBefore = try history("other.sqlite")
        let refused = try run(ws, "catalogue", "copy", "src.sqlite", "other.sqlite")
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("other.sqlite is not empty and is not an earlier copy of src.sqlite"), "\(refused.stderr)")
        #expect(try history("other.sqlite") == otherBefore)
        #expect(try run(ws, "catalogue", "copy", "src.sqlite", "src.sqlite").status == 64)
    }
}
