import Foundation
import GRDB
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Runs the built `silomerge` as a child of this process and returns its exit status and peak
/// resident memory: the kernel's high-water mark of the child's own memory (`VmHWM` in
/// /proc/PID/status), read every 2 ms while it runs. (`wait4`'s `ru_maxrss` would not do: a
/// child made by posix_spawn shares this test process's memory until it execs, and the kernel
/// keeps that high-water mark too.) Paths in `arguments` must be absolute; stderr is kept in
/// `directory`.
func silomergeMeasured(_ arguments: [String], in directory: URL) throws -> (status: Int32, peakRSS: Int, stderr: String) {
    let binary = productsDirectory.appendingPathComponent("silomerge").path
    let errURL = directory.appendingPathComponent(".stderr-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: errURL) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, errURL.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let argv = ([binary] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, binary, &actions, nil, argv, environ)
    guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO) }
    var peak = 0
    var status: Int32 = 0
    let deadline = Date().addingTimeInterval(600)
    while true {
        if let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kib = Int(line.split(separator: " ").dropFirst().first ?? "") {
            peak = max(peak, kib * 1024)
        }
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { break }
        if r < 0 && errno != EINTR { break }
        if Date() > deadline { kill(pid, SIGKILL); Issue.record("silomerge \(arguments) did not finish in 10 minutes") }
        usleep(2000)
    }
    let exit = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    let stderr = String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self)
    return (exit, peak, stderr)
}

@Suite("Large manifests: streamed, read once, reported once")
struct LargeManifestCLITests {
    @Test("A 2,000,000-row manifest naming missing files: bounded memory, one summarised note, not read again while unchanged",
          .timeLimit(.minutes(5)))
    func twoMillionRows() throws {
        let ws = try Workspace()
        try ws.write("silo/present.jpg", "a file the manifest names")
        // ~60 MB: 2,000,000 rows naming files that do not exist, and one that does.
        let rows = 2_000_000
        let handle = try FileHandle(forWritingTo: {
            let url = ws.url.appendingPathComponent("manifest.csv")
            FileManager.default.createFile(atPath: url.path, contents: nil)
            return url
        }())
        var chunk = "File,Title,Tags\npresent.jpg,The one that exists,a;b\n"
        for i in 0..<rows {
            chunk += "gone/\(i).jpg,T\(i),a;b\n"
            if chunk.utf8.count > 1 << 20 { try handle.write(contentsOf: Data(chunk.utf8)); chunk = "" }
        }
        try handle.write(contentsOf: Data(chunk.utf8))
        try handle.close()
        try ws.write("silomerge.yml", """
            silos:
              - name: s
                path: silo
                manifest:
                  file: manifest.csv
                  path_column: File
                  columns:
                    Title: title
                    Tags: keywords, split ";"
            """)
        let scan = ["scan", "--config", ws.url.appendingPathComponent("silomerge.yml").path,
                    "--catalog", ws.url.appendingPathComponent("silomerge.sqlite").path]
        let first = try silomergeMeasured(scan, in: ws.url)
        #expect(first.status == 0, "\(first.stderr)")
        // 2.5 GB for 1.6 M rows before (845 MB here for these short rows); the rows now stream.
        #expect(first.peakRSS > 0, "the measurement saw the process")
        #expect(first.peakRSS < 150 << 20, "peak RSS \(first.peakRSS >> 20) MiB")
        let notes = first.stderr.split(separator: "\n").filter { $0.contains("manifest") }
        #expect(notes.count == 1, "\(notes)")
        #expect(notes.first?.contains("note: s: manifest ") == true)
        #expect(notes.first?.contains("2,000,000 of 2,000,001 rows name no catalogued file of silo 's' (row 2: gone/0.jpg; row 3: gone/1.jpg;") == true,
                "\(notes)")
        #expect(notes.first?.contains("(the first 10 shown)") == true)

        let catalogue = try DatabaseQueue(path: ws.url.appendingPathComponent("silomerge.sqlite").path)
        func figures() throws -> (diagnostics: Int, readRun: Int, title: String?) {
            try catalogue.read { db in
                (try Int.fetchOne(db, sql: "SELECT count(*) FROM diagnostic") ?? -1,
                 try Int.fetchOne(db, sql: "SELECT read_run FROM manifest") ?? -1,
                 try String.fetchOne(db, sql: "SELECT value FROM metadata WHERE origin = 'manifest' AND field = 'title'"))
            }
        }
        let afterFirst = try figures()
        #expect(afterFirst.diagnostics == 1)
        #expect(afterFirst.title == "\"The one that exists\"")

        // Unchanged manifest, unchanged silo: not read again, nothing new recorded.
        let second = try silomergeMeasured(scan, in: ws.url)
        #expect(second.status == 0)
        #expect(!second.stderr.contains("manifest"), "\(second.stderr)")
        let afterSecond = try figures()
        #expect(afterSecond.diagnostics == 1)
        #expect(afterSecond.readRun == afterFirst.readRun)

        // A new file the manifest names: read again, and the file gets its row's values.
        try ws.write("silo/gone/7.jpg", "now it exists")
        let third = try silomergeMeasured(scan, in: ws.url)
        #expect(third.status == 0)
        #expect(third.stderr.contains("1,999,999 of 2,000,001 rows"), "\(third.stderr)")
        let afterThird = try figures()
        #expect(afterThird.readRun > afterSecond.readRun)
        let seventh = try catalogue.read { db in
            try String.fetchOne(db, sql: """
                SELECT m.value FROM metadata m JOIN file f ON f.id = m.file_id WHERE f.name = '7.jpg' AND m.field = 'title'
                """)
        }
        #expect(seventh == "\"T7\"")
    }

    @Test("An unclosed quote cannot swallow the file: a row over 1 MiB is an error naming the manifest and the row")
    func unclosedQuote() throws {
        let ws = try Workspace()
        try ws.write("silo/a.jpg", "a")
        var text = "File,Title\na.jpg,\"never closed\n"
        for i in 0..<40_000 { text += "b\(i).jpg,some title that goes on\n" }
        try ws.write("m.csv", text)
        try ws.write("c.yml", "silos:\n  - name: s\n    path: silo\n    manifest:\n      file: m.csv\n      path_column: File\n      columns:\n        Title: title\n")
        let r = try ws.run("scan", "--config", "c.yml")
        #expect(r.status == 1)
        #expect(r.stderr.contains("manifest \(ws.url.path)/m.csv: row 1 is longer than 1.0 MiB (an unclosed quote?)"), "\(r.stderr)")
    }
}
