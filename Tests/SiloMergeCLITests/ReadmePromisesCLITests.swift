import Foundation
import GRDB
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Creates a UNIX socket file at `path` (bound, then the descriptor closed: the file stays).
private func makeSocket(_ path: String) throws {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EIO) }
    defer { close(fd) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    precondition(bytes.count < MemoryLayout.size(ofValue: address.sun_path), "socket path too long")
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard bound == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
}

@Suite("README promises that had no test")
struct ReadmePromisesCLITests {
    @Test("audit --format json has the documented keys; --top limits the groups; --include-empty groups empty files")
    func auditOptions() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        let json = try ws.run("audit", "--format", "json", "--top", "2", "marketing", "hr", "training")
        #expect(json.status == 0, "\(json.stderr)")
        let object = try #require(try JSON(json.stdout) as? [String: Any])
        #expect(Set(object.keys) == ["silos", "overlap", "summary", "largest_groups", "same_image_groups", "folder_groups", "folders"])
        #expect((object["largest_groups"] as! [Any]).count == 2)
        let summary = object["summary"] as! [String: Any]
        let planted = try truth()["duplicate_groups"] as! [[String: Any]]
        #expect(summary["duplicate_groups"] as? Int == planted.count)
        let inside = try #require(summary["reclaimable_inside_silos"] as? Int)
        let across = try #require(summary["reclaimable_across_silos"] as? Int)
        #expect(inside + across == summary["reclaimable_bytes"] as? Int)

        let none = try ws.run("audit", "--top", "0", "marketing", "hr", "training")
        #expect(!none.out.contains("LARGEST DUPLICATE GROUPS"))
        let one = try ws.run("audit", "--top", "1", "marketing", "hr", "training")
        #expect(one.out.contains("LARGEST DUPLICATE GROUPS\n1.  "))
        #expect(!one.out.contains("\n2.  "))

        // Two empty files: a group only with --include-empty.
        try ws.write("marketing/empty-a.txt", "")
        try ws.write("hr/empty-b.txt", "")
        let without = try JSON(try ws.run("audit", "--format", "json", "marketing", "hr", "training").stdout) as! [String: Any]
        let with = try JSON(try ws.run("audit", "--format", "json", "--include-empty", "marketing", "hr", "training").stdout) as! [String: Any]
        #expect((without["summary"] as! [String: Any])["duplicate_groups"] as? Int == planted.count)
        #expect((with["summary"] as! [String: Any])["duplicate_groups"] as? Int == planted.count + 1)
    }

    @Test("audit -q hides progress and notes, not the report (as jdupes -q)")
    func auditQuiet() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        // Each on a fresh catalogue, so both read the manifests (whose rows name missing files: notes).
        let loud = try ws.run("audit", "--metadata", "--config", "silomerge.yml", "--catalog", "loud.sqlite")
        #expect(loud.stderr.contains("note: "), "without -q the notes are shown")
        #expect(loud.out.contains("Catalogue: "))
        let r = try ws.run("audit", "-q", "--metadata", "--config", "silomerge.yml", "--catalog", "quiet.sqlite")
        #expect(r.status == 0)
        #expect(r.out.contains("SiloMerge audit: 3 silos"))
        #expect(r.out.contains("RECLAIMABLE: "))
        #expect(!r.out.contains("Catalogue: "))
        #expect(r.stderr.isEmpty, "the manifests' notes are hidden: \(r.stderr)")
    }

    @Test("Sockets, FIFOs and devices are skipped with a warning, never opened or catalogued")
    func specialFiles() throws {
        let ws = try Workspace()
        try ws.write("s/plain.txt", "plain")
        try makeSocket(ws.url.appendingPathComponent("s/control.sock").path)
        #expect(mkfifo(ws.url.appendingPathComponent("s/pipe").path, 0o644) == 0)
        // A device without root: a followed link to /dev/null.
        try FileManager.default.createSymbolicLink(atPath: ws.url.appendingPathComponent("s/null").path, withDestinationPath: "/dev/null")
        let r = try ws.run("scan", "--follow-symlinks", "s", timeout: 60)
        #expect(r.status == 1, "skipped files are warnings: \(r.stderr)")
        #expect(r.stderr.contains("s:control.sock: skipped socket: special files are never opened"), "\(r.stderr)")
        #expect(r.stderr.contains("s:pipe: skipped FIFO (named pipe): special files are never opened"))
        #expect(r.stderr.contains("s:null: skipped character device: special files are never opened"))
        let db = try DatabaseQueue(path: ws.url.appendingPathComponent("silomerge.sqlite").path)
        let (names, skipped) = try db.read { db in
            (try String.fetchAll(db, sql: "SELECT name FROM file ORDER BY name"),
             try Int.fetchOne(db, sql: "SELECT skipped_special FROM run ORDER BY id DESC LIMIT 1"))
        }
        #expect(names == ["plain.txt"])
        #expect(skipped == 3)
    }

    @Test("The catalogue's own files inside a silo are never catalogued")
    func catalogueInsideSilo() throws {
        let ws = try Workspace()
        try ws.write("s/a.txt", "alpha")
        try ws.write("s/b.txt", "beta")
        #expect(try ws.run("scan", "s", "--catalog", "s/catalogue.sqlite").status == 0)
        // Rescan: the catalogue, its -wal, -shm and -lock now exist beside the files.
        let again = try ws.run("scan", "--catalog", "s/catalogue.sqlite")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.out.contains("new 0"), "\(again.out)")
        let db = try DatabaseQueue(path: ws.url.appendingPathComponent("s/catalogue.sqlite").path)
        #expect(try db.read { try String.fetchAll($0, sql: "SELECT name FROM file ORDER BY name") } == ["a.txt", "b.txt"])
    }

    @Test("duplicates --min-size also filters the same-image groups")
    func minSizeSameImage() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        let planted = try truth()["same_image_groups"] as! [[String: Any]]
        func sameImage(_ extra: [String]) throws -> [[String: Any]] {
            let r = try silomerge(["duplicates", "--format", "json"] + extra, in: ws.url)
            return (try JSON(r.stdout) as! [String: Any])["same_image_groups"] as! [[String: Any]]
        }
        let all = try sameImage([])
        #expect(all.count == planted.count)
        let sizes = all.flatMap { ($0["files"] as! [[String: Any]]).map { $0["size"] as! Int } }
        #expect(try sameImage(["--min-size", String(sizes.max()! + 1)]).isEmpty)
        // A threshold between sizes keeps only the groups with two files at least that large.
        let threshold = sizes.sorted()[sizes.count / 2]
        let kept = try sameImage(["--min-size", String(threshold)])
        #expect(kept.allSatisfy { ($0["files"] as! [[String: Any]]).allSatisfy { ($0["size"] as! Int) >= threshold } })
        #expect(kept.count < all.count || sizes.allSatisfy { $0 >= threshold })
        let table = try ws.run("duplicates", "--min-size", String(sizes.max()! + 1))
        #expect(!table.out.contains("Same image, different metadata"))
    }
}

private func JSON(_ bytes: [UInt8]) throws -> Any { try JSONSerialization.jsonObject(with: Data(bytes)) }

@Suite("Counts read as English: 1 file, 2 files")
struct PluralsCLITests {
    /// "1 files", "1 copies", "1 operations"...: a count of one with a plural noun.
    static let wrong = try! NSRegularExpression(pattern: #"(?<![\d,.])1 (files|copies|groups|duplicate groups|operations|conflicts|silos|folders|contents|distinct contents|hashes|rows|decisions|assets|records|paths|fields|redundant copies)\b"#)

    @Test("One of everything: every command's output says it in the singular")
    func singular() throws {
        let ws = try Workspace()
        try ws.write("one/only.txt", "the one file")
        try ws.write("two/same.txt", "the one file")
        var outputs: [(String, String)] = []
        func run(_ arguments: String...) throws {
            let r = try silomerge(arguments, in: ws.url)
            outputs.append((arguments.joined(separator: " "), r.out + r.stderr))
        }
        try run("scan", "one")
        try run("scan", "one")
        try run("audit", "one", "two")
        try run("duplicates")
        try run("check")
        try run("reconcile")
        try run("export", "--format", "jsonl", "-o", "x.jsonl")
        try run("report", "--html", "r.html")
        try run("plan", "--target", "merged", "-o", "p.json")
        try run("plan", "show", "p.json")
        #expect(outputs[0].1.contains("1 file, "), "\(outputs[0].1)")
        #expect(outputs[0].1.contains("read 1 file ("), "\(outputs[0].1)")
        #expect(outputs[1].1.contains("reused 1 hash"), "\(outputs[1].1)")
        #expect(outputs[2].1.contains("in 1 duplicate group, 1 redundant copy"), "\(outputs[2].1)")
        for (command, text) in outputs {
            let hits = Self.wrong.matches(in: text, range: NSRange(text.startIndex..., in: text))
                .map { String(text[Range($0.range, in: text)!]) }
            #expect(hits.isEmpty, "\(command): \(hits) in \(text)")
        }
    }
}

@Suite("Every file a command reads or writes: what, where and why")
struct FileErrorsCLITests {
    @Test("Folders, missing files and missing folders are named with the reason, never a Foundation error code")
    func fileErrors() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        _ = try ws.run("scan", "--config", "silomerge.yml")
        try FileManager.default.createDirectory(at: ws.url.appendingPathComponent("folder"), withIntermediateDirectories: true)
        let cases: [([String], Int32, String)] = [
            (["check", "--config", "folder"], 64, "folder: is a folder, not a file"),
            (["scan", "--config", "nothing.yml"], 64, "nothing.yml: no such file"),
            (["conflicts", "--resolutions", "folder"], 64, "/folder: is a folder, not a file"),
            (["plan", "show", "folder"], 64, "cannot read the plan folder: is a folder, not a file"),
            (["plan", "show", "nothing.json"], 64, "cannot read the plan nothing.json: no such file"),
            (["apply", "nothing.json"], 64, "cannot read the plan nothing.json: no such file"),
            (["verify", "folder"], 64, "cannot read the plan folder: is a folder, not a file"),
            (["plan", "--target", "t", "-o", "folder", "--allow-conflicts"], 64, "cannot write the plan: folder: is a folder; give a file name"),
            (["plan", "--target", "t", "-o", "none/plan.json", "--allow-conflicts"], 64, "none/plan.json: its folder none does not exist"),
            (["report", "--html", "folder"], 2, "folder: cannot write the report: is a folder; give a file name"),
            (["report", "--html", "none/r.html"], 2, "none/r.html: cannot write the report: its folder none does not exist"),
        ]
        for (arguments, status, message) in cases {
            let r = try silomerge(arguments, in: ws.url)
            #expect(r.status == status, "\(arguments): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(message), "\(arguments): \(r.stderr)")
            #expect(!r.stderr.contains("NSCocoaErrorDomain") && !r.stderr.contains("The operation could not be completed"), "\(arguments): \(r.stderr)")
        }
    }
}

@Suite("The catalogue's JSON columns have designed shapes")
struct CatalogueJSONCLITests {
    @Test("asset_field.sources, run.options, silo.manifest and the stored policies: snake_case, values as people read them, no Swift enum encoding")
    func shapes() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        #expect(try ws.run("reconcile").status == 0)
        let db = try DatabaseQueue(path: ws.url.appendingPathComponent("silomerge.sqlite").path)
        let (sources, options, manifest, policies) = try db.read { db in
            (try String.fetchAll(db, sql: "SELECT sources FROM asset_field"),
             try String.fetchOne(db, sql: "SELECT options FROM run") ?? "",
             try String.fetchOne(db, sql: "SELECT manifest FROM silo WHERE name = 'marketing'") ?? "",
             try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = 'reconcile.policies'") ?? "")
        }
        #expect(!sources.isEmpty)
        for text in sources + [options, manifest, policies] {
            #expect(!text.contains("\"_0\""), "\(text)")
            #expect(text.range(of: #""[a-z]+[A-Z][A-Za-z]*":"#, options: .regularExpression) == nil, "camelCase key in \(text)")
        }
        let all = try sources.flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [[String: Any]] }
        #expect(all.allSatisfy { Set($0.keys).isSuperset(of: ["silo", "path", "origin", "tag", "raw", "value"]) })
        // Values are strings, lists of strings, numbers or {latitude, longitude}.
        #expect(all.allSatisfy { v in
            let value = v["value"]
            if value is String || value is [String] || value is NSNumber { return true }
            if let gps = value as? [String: Any] { return Set(gps.keys) == ["latitude", "longitude"] }
            return false
        })
        #expect(all.contains { $0["value"] is [String] } && all.contains { $0["value"] is [String: Any] })
        #expect(options.contains("\"hash_mode\":\"full\""))
        #expect(manifest.contains("\"path_column\":\"File\""))
        #expect(policies.contains("\"rights\":\"conflict\""))
    }
}
