import Foundation
import Testing

/// `--profile` and `SILOMERGE_TRACE=1` on scan, audit and check: the table of where the time
/// went, on stderr, at the end of the run.
@Suite("--profile: where the time went, end to end")
struct ProfileCLITests {
    static let stageLabels = ["walk", "stat", "compare", "open", "read", "hash", "metadata", "image hash",
                              "catalogue write", "catalogue wait"]

    /// The table's line for a stage (`  read   0.004   3 %  102 files (1.0 MiB) at …`).
    func line(_ stderr: String, _ label: String) -> String? {
        stderr.split(separator: "\n").map(String.init).first { l in
            l.hasPrefix("  \(label) ") && l.dropFirst(2 + label.count).first == " "
                && Double(l.dropFirst(2 + label.count).split(separator: " ").first ?? "") != nil
        }
    }

    func expectTable(_ stderr: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(stderr.contains("where the time went, in thread-seconds"), sourceLocation: sourceLocation)
        #expect(stderr.contains("summed over the 2 worker threads"), sourceLocation: sourceLocation)
        for label in Self.stageLabels {
            #expect(line(stderr, label) != nil, "no '\(label)' line in:\n\(stderr)", sourceLocation: sourceLocation)
        }
        #expect(stderr.contains("  wall "), sourceLocation: sourceLocation)
        #expect(stderr.contains(" s (user "), sourceLocation: sourceLocation)
        #expect(stderr.contains("silomerge: profile: "), sourceLocation: sourceLocation)
    }

    /// "read 102 files (1.3 MiB)" of the scan's summary line: (files, size).
    func summaryRead(_ out: String) -> (String, String)? {
        guard let range = out.range(of: #"read ([0-9,]+) files? \(([^)]+)\)"#, options: .regularExpression) else { return nil }
        let text = String(out[range])
        let files = text.dropFirst(5).split(separator: " ")[0]
        let size = text[text.index(after: text.firstIndex(of: "(")!)..<text.lastIndex(of: ")")!]
        return (String(files), String(size))
    }

    @Test("scan --profile prints every stage; its reads are the summary's; without it nothing of it appears")
    func scan() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        // --no-metadata: no image hashing, so every byte the summary counts is the read stage's.
        let r = try ws.run("scan", "--config", "silomerge.yml", "--jobs", "2", "--no-metadata", "--profile")
        #expect(r.status == 0, "\(r.stderr)")
        expectTable(r.stderr)
        let (files, size) = try #require(summaryRead(r.out), "\(r.out)")
        #expect(files != "0")
        let read = try #require(line(r.stderr, "read"))
        #expect(read.contains(" \(files) files (\(size)) at "), "summary: \(files) files (\(size)); profile: \(read)")
        #expect(r.out.contains("Scanned "))                 // the summary stays on stdout
        #expect(!r.out.contains("thread-seconds"))          // the table is on stderr only

        // The same tree read again with metadata: the read stage's files are the summary's files.
        let again = try ws.run("scan", "--config", "silomerge.yml", "--jobs", "2", "--rehash", "--profile")
        #expect(again.status == 0, "\(again.stderr)")
        expectTable(again.stderr)
        let (againFiles, _) = try #require(summaryRead(again.out))
        #expect(try #require(line(again.stderr, "read")).contains(" \(againFiles) files ("))
        // Metadata: every file read, and the XMP sidecars besides.
        let metadata = try #require(line(again.stderr, "metadata"))
        let parsed = metadata.components(separatedBy: " read (files' metadata")[0].split(separator: " ").last.map(String.init) ?? ""
        let number = { (s: String) in Int(s.replacingOccurrences(of: ",", with: "")) ?? -1 }
        #expect(number(parsed) >= number(againFiles), "\(metadata)")

        let plain = try ws.run("scan", "--config", "silomerge.yml", "--jobs", "2", "--rehash")
        #expect(plain.status == 0)
        #expect(!plain.stderr.contains("thread-seconds"))
        #expect(!plain.stderr.contains("profile"))
        for label in Self.stageLabels { #expect(line(plain.stderr, label) == nil) }
    }

    @Test("SILOMERGE_TRACE=1 gives the same table as --profile; 0 or empty gives none")
    func trace() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        let r = try silomerge(["scan", "--config", "silomerge.yml", "--jobs", "2"], in: ws.url,
                              environment: ["SILOMERGE_TRACE": "1"])
        #expect(r.status == 0, "\(r.stderr)")
        expectTable(r.stderr)
        let (files, _) = try #require(summaryRead(r.out))
        #expect(try #require(line(r.stderr, "read")).contains(" \(files) files ("))
        for off in ["0", ""] {
            let quiet = try silomerge(["scan", "--config", "silomerge.yml", "--jobs", "2", "--rehash"], in: ws.url,
                                      environment: ["SILOMERGE_TRACE": off])
            #expect(quiet.status == 0)
            #expect(!quiet.stderr.contains("thread-seconds"), "SILOMERGE_TRACE='\(off)'")
        }
    }

    @Test("audit --profile: the table on stderr, the report on stdout; JSON gets a profile object only when asked")
    func audit() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        let r = try ws.run("audit", "--jobs", "2", "--profile", "marketing", "hr", "training")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.out.contains("SiloMerge audit: 3 silos"))
        expectTable(r.stderr)
        #expect(!r.out.contains("thread-seconds"))

        let plain = try ws.run("audit", "--format", "json", "--jobs", "2", "marketing", "hr", "training")
        #expect(plain.status == 0)
        #expect((try json(plain.stdout) as! [String: Any])["profile"] == nil)
        #expect(!plain.stderr.contains("thread-seconds"))

        let asked = try silomerge(["audit", "--format", "json", "--jobs", "2", "marketing", "hr", "training"], in: ws.url,
                                  environment: ["SILOMERGE_TRACE": "1"])
        #expect(asked.status == 0, "\(asked.stderr)")
        let object = try json(asked.stdout) as! [String: Any]
        let profile = try #require(object["profile"] as? [String: Any])
        let stages = try #require(profile["stages"] as? [[String: Any]])
        #expect(stages.compactMap { $0["stage"] as? String } == ["walk", "stat", "compare", "open", "read", "hash", "metadata",
                                                                  "image_hash", "catalogue_write", "catalogue_wait"])
        #expect(profile["workers"] as? Int == 2)
        #expect((profile["verdict"] as? String)?.isEmpty == false)
        // Every other key is what it was without the profile.
        let without = try json(plain.stdout) as! [String: Any]
        #expect(Set(object.keys).subtracting(["profile"]) == Set(without.keys))
        expectTable(asked.stderr)

        // --no-scan times nothing: the flag is refused; the environment (a cron job's) is not.
        let noScan = try ws.run("audit", "--no-scan", "--profile")
        #expect(noScan.status != 0)
        #expect(noScan.stderr.contains("--profile times a scan, and --no-scan runs none"), "\(noScan.stderr)")
        let traced = try silomerge(["audit", "--no-scan"], in: ws.url, environment: ["SILOMERGE_TRACE": "1"])
        #expect(traced.status == 0, "\(traced.stderr)")
        #expect(traced.out.contains("SiloMerge audit"))
        #expect(!traced.stderr.contains("thread-seconds"))
    }

    @Test("check --profile: the table on stderr; --format json: a profile whose reads are the check's reads")
    func check() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        let r = try ws.run("check", "--rehash", "--jobs", "2", "--profile")
        #expect(r.status == 0, "\(r.stderr)")
        expectTable(r.stderr)
        #expect(r.out.contains("Check of "))

        let plain = try ws.run("check", "--format", "json", "--jobs", "2")
        #expect((try json(plain.stdout) as! [String: Any])["profile"] == nil)
        #expect(!plain.stderr.contains("thread-seconds"))

        let j = try ws.run("check", "--format", "json", "--rehash", "--jobs", "2", "--profile")
        #expect(j.status == 0, "\(j.stderr)")
        let object = try json(j.stdout) as! [String: Any]
        let scan = try #require(object["scan"] as? [String: Any])
        let profile = try #require(object["profile"] as? [String: Any])
        let stages = try #require(profile["stages"] as? [[String: Any]])
        func stage(_ name: String) -> [String: Any] { stages.first { $0["stage"] as? String == name } ?? [:] }
        let filesRead = try #require(scan["files_read"] as? Int)
        let bytesRead = try #require(scan["bytes_read"] as? Int)
        #expect(filesRead > 0)
        #expect(stage("read")["count"] as? Int == filesRead)
        // The run's bytes: the read stage's, and the image hashing's re-reads of pictures.
        #expect((stage("read")["bytes"] as? Int ?? -1) + (stage("image_hash")["bytes"] as? Int ?? -1) == bytesRead)
        #expect((stage("read")["thread_seconds"] as? Double ?? 0) > 0)
        #expect((profile["wall_seconds"] as? Double ?? 0) > 0)
        expectTable(j.stderr)
    }
}
