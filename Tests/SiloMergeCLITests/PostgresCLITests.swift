import Foundation
import SiloMergeTestSupport
import Testing

/// The shared PostgreSQL catalogue, end to end: the built binary with `--catalog postgresql://...`
/// (a schema of the test cluster per test), against the same commands on an SQLite catalogue,
/// and scanners of three "hosts" writing at once.
@Suite("A shared PostgreSQL catalogue: SQLite's answers, from scanners on many hosts",
       .enabled(if: TestCatalogues.postgresServer != nil, Comment(rawValue: TestCatalogues.postgresSkipReason)))
struct PostgresCLITests {
    /// A fresh catalogue on the test server (its own schema).
    static func freshURL(_ label: String = #function) throws -> String {
        try TestCatalogues.postgresURL(schema: "e2e_" + label.filter { $0.isLetter }.lowercased().prefix(20) + "_"
                                       + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased())
    }

    /// Starts `silomerge` without waiting (stdout and stderr to files in `directory`).
    static func start(_ arguments: [String], in directory: URL, tag: String) throws -> Process {
        let process = Process()
        process.executableURL = productsDirectory.appendingPathComponent("silomerge")
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = try FileHandle(forWritingTo: Self.touch(directory.appendingPathComponent(".out-\(tag)")))
        process.standardError = try FileHandle(forWritingTo: Self.touch(directory.appendingPathComponent(".err-\(tag)")))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    static func touch(_ url: URL) -> URL {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        return url
    }

    static func jdupesGroups(_ folders: [String], in directory: URL) throws -> Set<Set<String>> {
        let jdupes = Process()
        jdupes.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        jdupes.arguments = ["jdupes", "-r", "-q"] + folders
        jdupes.currentDirectoryURL = directory
        let pipe = Pipe()
        jdupes.standardOutput = pipe
        try jdupes.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        jdupes.waitUntilExit()
        return Set(output.components(separatedBy: "\n\n").map { Set($0.split(separator: "\n").map(String.init)) }.filter { !$0.isEmpty })
    }

    @Test("three hosts scan their silos at once into one catalogue; duplicates --format json equals jdupes over all three trees")
    func threeHostsAtOnce() throws {
        try #require(commandExists("jdupes"), "jdupes is not installed: apt-get install jdupes (.ci/run does)")
        let ws = try Workspace()
        try ws.copyFixtures()
        for junk in try truth()["ignored_junk"] as! [String] { try FileManager.default.removeItem(at: ws.url.appendingPathComponent(junk)) }
        let url = try Self.freshURL()
        let hosts = [("marketing", "studio-nas"), ("hr", "hr-server"), ("training", "site-b")]
        let scanners = try hosts.map { silo, host in
            try Self.start(["scan", "-q", silo, "--host", host, "--catalog", url], in: ws.url, tag: host)
        }
        for (process, (_, host)) in zip(scanners, hosts) {
            process.waitUntilExit()
            let err = String(decoding: (try? Data(contentsOf: ws.url.appendingPathComponent(".err-\(host)"))) ?? Data(), as: UTF8.self)
            #expect(process.terminationStatus == 0, "scanner on \(host) exited \(process.terminationStatus): \(err)")
        }
        let duplicates = try silomerge(["duplicates", "--format", "json", "--catalog", url], in: ws.url)
        #expect(duplicates.status == 0, "\(duplicates.stderr)")
        let groups = (try json(duplicates.stdout) as! [String: Any])["groups"] as! [[String: Any]]
        let ours = Set(groups.map { g in Set((g["files"] as! [[String: Any]]).map { "\($0["silo"]!)/\($0["path"]!)" }) })
        #expect(!ours.isEmpty)
        #expect(ours == (try Self.jdupesGroups(hosts.map(\.0), in: ws.url)))
        // Every silo is listed with the host that scanned it; every run ended well.
        let silos = try silomerge(["silos", "--catalog", url], in: ws.url)
        for (silo, host) in hosts {
            #expect(silos.out.contains(silo) && silos.out.contains(host), "\(silos.out)")
        }
        let history = try silomerge(["history", "--format", "json", "--catalog", url], in: ws.url)
        #expect(history.status == 0, "\(history.stderr)")
        let runs = (try json(history.stdout) as! [String: Any])["runs"] as! [[String: Any]]
        #expect(runs.count == 3 && runs.allSatisfy { $0["status"] as? String == "ok" }, "\(history.out)")
        #expect(Set(runs.compactMap { ($0["silos"] as? [String])?.first }) == Set(hosts.map(\.0)), "\(history.out)")
    }

    @Test("a second scanner of the same silo fails at once, naming the host and pid of the first")
    func secondScannerOfOneSilo() throws {
        let ws = try Workspace()
        try ws.write("big/a.txt", "small")
        let url = try Self.freshURL()
        #expect(try silomerge(["scan", "-q", "big", "--host", "h1", "--catalog", url], in: ws.url).status == 0)
        // A sparse 3 GiB file: no disk space, and seconds of SHA-256 for the first scanner.
        let sparse = ws.url.appendingPathComponent("big/sparse.bin")
        #expect(FileManager.default.createFile(atPath: sparse.path, contents: nil))
        #expect(truncate(sparse.path, 3 << 30) == 0)
        let first = try Self.start(["scan", "-q", "big", "--host", "h1", "--hash", "full", "--catalog", url], in: ws.url, tag: "first")
        defer { first.terminate(); first.waitUntilExit() }
        // Wait until the first holds its lock (its run is recorded as running).
        var running = false
        for _ in 0..<300 where !running && first.isRunning {
            running = try silomerge(["history", "--catalog", url], in: ws.url).out.contains("running")
            if !running { usleep(20_000) }
        }
        try #require(running, "the first scan ended before a second could race it: make its file larger")
        let second = try silomerge(["scan", "-q", "big", "--host", "h1", "--catalog", url], in: ws.url)
        #expect(second.status != 0)
        #expect(second.stderr.contains("silo 'big' is being scanned by SiloMerge on host"), "\(second.stderr)")
        #expect(second.stderr.contains("pid \(first.processIdentifier)"), "\(second.stderr)")
    }

    /// What differs between two catalogues whatever their backend: the catalogue's name, times,
    /// durations and rates.
    static func normalised(_ text: String, catalogues: [String]) -> String {
        var text = text
        for name in catalogues.sorted(by: { $0.count > $1.count }) { text = text.replacingOccurrences(of: name, with: "CATALOGUE") }
        let patterns = [
            #"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?Z?"#: "TIME",
            #"\d+(\.\d+)? ?(ms|s|min|µs)\b"#: "DURATION",
            #"\d+(\.\d+)? ?([KMG]i?B|B)/s"#: "RATE",
            #"\d+(\.\d+)? files/s"#: "RATE",
        ]
        for (pattern, replacement) in patterns {
            text = text.replacingOccurrences(of: pattern, with: replacement, options: .regularExpression)
        }
        return text
    }

    @Test("every command prints the same on PostgreSQL as on SQLite, over the bundled silos",
          arguments: [
            ["silos"], ["duplicates"], ["duplicates", "--format", "json"], ["duplicates", "--format", "csv"],
            ["conflicts"], ["conflicts", "--format", "json"], ["reconcile", "--config", "silomerge.yml"],
            ["export", "--format", "json"], ["export", "--format", "csv"], ["history"], ["check", "--config", "silomerge.yml"],
            ["audit", "--no-scan"], ["audit", "--no-scan", "--format", "json", "marketing", "hr"],
          ])
    func sameOutput(command: [String]) throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        let url = try Self.freshURL("same" + command.joined())
        let sqlite = "catalogue.sqlite"
        for catalogue in [sqlite, url] {
            let scan = try silomerge(["scan", "-q", "--config", "silomerge.yml", "--catalog", catalogue], in: ws.url)
            #expect(scan.status <= 1, "\(catalogue): \(scan.stderr)")
        }
        let onSQLite = try silomerge(command + ["--catalog", sqlite], in: ws.url)
        let onPostgres = try silomerge(command + ["--catalog", url], in: ws.url)
        #expect(onSQLite.status == onPostgres.status, "\(command): \(onSQLite.stderr) | \(onPostgres.stderr)")
        let names = [sqlite, ws.url.appendingPathComponent(sqlite).path, url, url.replacingOccurrences(of: "sslmode=disable&", with: "")]
        let a = Self.normalised(onSQLite.out, catalogues: names)
        let b = Self.normalised(onPostgres.out, catalogues: names)
        #expect(a == b, "\(command) differs:\n--- SQLite\n\(a)\n--- PostgreSQL\n\(b)")
        #expect(Self.normalised(onSQLite.stderr, catalogues: names) == Self.normalised(onPostgres.stderr, catalogues: names))
    }

    @Test("shards scanned offline merge into a PostgreSQL catalogue as a direct scan of their silos would fill it; twice is once; copy back to SQLite")
    func shardsIntoPostgres() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        let hosts = [("marketing", "studio-nas"), ("hr", "hr-server"), ("training", "site-b")]
        for (silo, host) in hosts {
            let r = try silomerge(["scan", "-q", silo, "--host", host, "--catalog", "\(silo).sqlite"], in: ws.url)
            #expect(r.status <= 1, "\(r.stderr)")
        }
        let merged = try Self.freshURL("shardsmerged"), direct = try Self.freshURL("shardsdirect")
        let merge = try silomerge(["catalogue", "merge", "--into", merged] + hosts.map { "\($0.0).sqlite" }, in: ws.url)
        #expect(merge.status == 0, "\(merge.stderr)")
        for (silo, host) in hosts {
            #expect(try silomerge(["scan", "-q", silo, "--host", host, "--catalog", direct], in: ws.url).status <= 1)
        }
        let a = try silomerge(["duplicates", "--format", "json", "--catalog", merged], in: ws.url)
        let b = try silomerge(["duplicates", "--format", "json", "--catalog", direct], in: ws.url)
        #expect(a.status == 0 && !a.stdout.isEmpty && a.stdout == b.stdout, "\(a.out)\n---\n\(b.out)")
        let again = try silomerge(["catalogue", "merge", "--into", merged] + hosts.map { "\($0.0).sqlite" }, in: ws.url)
        #expect(again.status == 0 && again.out.contains("0 runs merged (3 already there)"), "\(again.out)")
        let copy = try silomerge(["catalogue", "copy", merged, "back.sqlite"], in: ws.url)
        #expect(copy.status == 0, "\(copy.stderr)")
        #expect(try silomerge(["duplicates", "--format", "json", "--catalog", "back.sqlite"], in: ws.url).stdout == a.stdout)
    }

    @Test("a PostgreSQL schema with no catalogue is refused as a shard or a source by its role, and as a catalogue to read with a first scan's advice")
    func missingPostgresCatalogue() throws {
        let ws = try Workspace()
        let nothing = try Self.freshURL("missingsource")
        let copy = try silomerge(["catalogue", "copy", nothing, "new.sqlite"], in: ws.url)
        #expect(copy.status != 0)
        #expect(copy.stderr.contains("no SiloMerge catalogue in database") && copy.stderr.contains(": the catalogue to copy must be a catalogue that exists"),
                "\(copy.stderr)")
        #expect(!ws.exists("new.sqlite"))
        let duplicates = try silomerge(["duplicates", "--catalog", nothing], in: ws.url)
        #expect(duplicates.status == 2 && duplicates.stderr.contains("run `silomerge scan` or `silomerge audit` first"), "\(duplicates.stderr)")
    }

    @Test("SILOMERGE_CATALOG is every command's default catalogue; --catalog still wins")
    func environmentDefault() throws {
        let ws = try Workspace()
        try ws.write("s/a.txt", "alpha")
        try ws.write("s/b.txt", "alpha")
        let url = try Self.freshURL()
        let scan = try silomerge(["scan", "-q", "s"], in: ws.url, environment: ["SILOMERGE_CATALOG": url])
        #expect(scan.status == 0, "\(scan.stderr)")
        #expect(!ws.exists("silomerge.sqlite"), "the scan wrote the default SQLite file instead of the catalogue SILOMERGE_CATALOG names")
        let dupes = try silomerge(["duplicates", "--format", "json"], in: ws.url, environment: ["SILOMERGE_CATALOG": url])
        #expect(dupes.status == 0 && dupes.out.contains("a.txt") && dupes.out.contains("b.txt"), "\(dupes.out) \(dupes.stderr)")
        let local = try silomerge(["silos", "--catalog", "other.sqlite"], in: ws.url, environment: ["SILOMERGE_CATALOG": url])
        #expect(local.status != 0 || !local.out.contains(" s "), "\(local.out)")
    }

    @Test("a password in the URL never reaches stdout, stderr or a plan; a server that is not there is said with its address")
    func passwordNeverPrinted() throws {
        let ws = try Workspace()
        try ws.write("s/a.txt", "alpha")
        let refused = try silomerge(["silos", "--catalog", "postgresql://someone:s3cret-word@127.0.0.1:1/db"], in: ws.url)
        #expect(refused.status == 2, "\(refused.status) \(refused.stderr)")
        #expect(!refused.stderr.contains("s3cret-word") && !refused.out.contains("s3cret-word"))
        #expect(refused.stderr.contains("127.0.0.1:1"), "\(refused.stderr)")
    }
}
