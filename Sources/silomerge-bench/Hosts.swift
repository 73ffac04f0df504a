import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// `silomerge-bench --hosts N --pg URL`: the shared PostgreSQL catalogue of issue #13, measured.
//
// Ingest: N trees of tiny files (one per simulated host) scanned into SQLite and into PostgreSQL
// by one process, then into PostgreSQL by 1, 2, 4 … N scanner processes at once (each its own
// tree, with its own --host): files per second, and how the aggregate grows with scanners.
//
// Queries: a catalogue of M files across 20 hosts generated in the database itself (SQL
// generate_series, with planted duplicate groups; no files on disk), then `duplicates --format
// json`, `audit --no-scan`, `report --html` and `silos` over it: wall time and the client's peak memory, for each M
// of --catalogue-files (default 1,000,000 and 10,000,000), to see how each grows.

struct HostsOptions {
    var hosts = 0
    var pg: String?
    var filesPerHost = 20_000
    var catalogueSizes = [1_000_000, 10_000_000]
    var runs = 3
    var workdir = ".build-bench"
}

/// psql with the server's URL, running `sql`; fails the benchmark with psql's words.
func psql(_ url: String, _ sql: String) {
    let psql = which("psql") ?? (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql"))?
        .sorted().last.map { "/usr/lib/postgresql/\($0)/bin/psql" }
    guard let psql, FileManager.default.isExecutableFile(atPath: psql) else { fail("psql not found (apt-get install postgresql-client)") }
    let file = "\(NSTemporaryDirectory())/silomerge-bench-\(getpid()).sql"
    FileManager.default.createFile(atPath: file, contents: Data(sql.utf8))
    defer { try? FileManager.default.removeItem(atPath: file) }
    let log = "\(NSTemporaryDirectory())/silomerge-bench-psql-\(getpid()).txt"
    let m = spawnAndWait([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", file, url], cwd: nil, stdoutPath: log)
    if m.status != 0 { fail("psql failed (exit \(m.status)); see \(log) and the server log") }
}

/// A URL of `server` whose catalogue is schema `schema` (dropped and created anew).
func freshSchema(_ server: String, _ schema: String) -> String {
    psql(server, "DROP SCHEMA IF EXISTS \(schema) CASCADE; CREATE SCHEMA \(schema);")
    return server + (server.contains("?") ? "&" : "?") + "options=-csearch_path%3D" + schema
}

/// Runs several commands at once; returns the wall time until the last ended and each one's measurement.
func measureTogether(_ commands: [[String]]) -> (wall: Double, each: [Measurement]) {
    let start = DispatchTime.now()
    let results = Mutex(Array(repeating: Measurement(wall: 0, peakRSSKiB: 0, status: 0), count: commands.count))
    DispatchQueue.concurrentPerform(iterations: commands.count) { i in
        let m = spawnAndWaitConcurrent(commands[i])
        results.withLock { $0[i] = m }
    }
    return (Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9, results.withLock { $0 })
}

/// `spawnAndWait` without changing the current folder (safe from several threads).
func spawnAndWaitConcurrent(_ argv: [String]) -> Measurement {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    var cargs = argv.map { strdup($0) } + [nil]
    defer { for p in cargs { free(p) } }
    var pid: pid_t = 0
    let start = DispatchTime.now()
    guard posix_spawnp(&pid, argv[0], &actions, nil, &cargs, environ) == 0 else { fail("cannot run \(argv[0])") }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    let wall = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    let exitStatus: Int32 = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    return Measurement(wall: wall, peakRSSKiB: Int(usage.ru_maxrss), status: exitStatus)
}

func median(_ values: [Double]) -> Double { let s = values.sorted(); return s.isEmpty ? 0 : s[s.count / 2] }

func runHostsBenchmark(_ o: HostsOptions, silomerge: String, work: String) -> Never {
    guard let server = o.pg ?? ProcessInfo.processInfo.environment["SILOMERGE_TEST_PG"] else {
        fail("--hosts needs a PostgreSQL server: --pg postgresql://user@host:port/db (a superuser or the owner of that database), or SILOMERGE_TEST_PG (`eval \"$(bash tools/pg-test-cluster.sh start)\"`)")
    }
    var lines: [String] = ["SiloMerge many-hosts benchmark · \(ProcessInfo.processInfo.activeProcessorCount) cores · PostgreSQL at \(server.split(separator: "?").first ?? "")"]
    func say(_ line: String) { lines.append(line); FileHandle.standardError.write(Data((line + "\n").utf8)) }

    // MARK: Ingest
    FileHandle.standardError.write(Data("Generating (or reusing) \(o.hosts) trees of \(grouped(o.filesPerHost)) tiny files…\n".utf8))
    let trees = (1...o.hosts).map { k in generateScaleTree(files: o.filesPerHost, workdir: "\(work)/host-\(k)") + "/big" }
    try? FileManager.default.createDirectory(atPath: "\(work)/host-empty", withIntermediateDirectories: true)
    for tree in trees { _ = measure(["sh", "-c", "find '\(tree)' -type f -print0 | xargs -0 cat > /dev/null"]) }
    let total = o.hosts * o.filesPerHost
    let silos = trees.enumerated().map { "h\($0.offset + 1)=\($0.element)" }
    var sqliteTimes: [Double] = [], pgTimes: [Double] = []
    for run in 0..<o.runs {
        // Each catalogue is created first, by a scan of an empty folder, so that both times are
        // of ingesting files: creating PostgreSQL's schema (some 90 files on the server's disk)
        // costs more than creating an SQLite file, and is paid once per catalogue, not per scan.
        let db = "\(work)/hosts.sqlite"
        removeCatalogue(db)
        let sqliteSetup = measure([silomerge, "scan", "-q", "--host", "setup", "--catalog", db, "empty=\(work)/host-empty"])
        if sqliteSetup.status > 1 { fail("cannot create the SQLite catalogue (exit \(sqliteSetup.status))") }
        let s = measure([silomerge, "scan", "-q", "--host", "bench", "--catalog", db] + silos)
        if s.status > 1 { fail("the SQLite scan failed (exit \(s.status))") }
        sqliteTimes.append(s.wall)
        let url = freshSchema(server, "bench_one_\(run)")
        let pgSetup = measure([silomerge, "scan", "-q", "--host", "setup", "--catalog", url, "empty=\(work)/host-empty"])
        if pgSetup.status > 1 { fail("cannot create the catalogue schema (exit \(pgSetup.status))") }
        let p = measure([silomerge, "scan", "-q", "--host", "bench", "--catalog", url] + silos)
        if p.status > 1 { fail("the PostgreSQL scan failed (exit \(p.status))") }
        pgTimes.append(p.wall)
        FileHandle.standardError.write(Data(String(format: "  one process: SQLite %.2f s, PostgreSQL %.2f s\n", s.wall, p.wall).utf8))
    }
    let sqliteRate = Double(total) / median(sqliteTimes), pgRate = Double(total) / median(pgTimes)
    say("Ingest, one process, \(grouped(total)) files in \(o.hosts) silos (medians of \(o.runs)):")
    say(String(format: "  SQLite      %8.0f files/s", sqliteRate))
    say(String(format: "  PostgreSQL  %8.0f files/s   (%.2f× SQLite; target ≥ 0.7×)", pgRate, pgRate / sqliteRate))
    say("Ingest, concurrent scanner processes into one PostgreSQL catalogue (each its own tree and --host):")
    var scanners = 1
    var oneScanner = 0.0
    while scanners <= o.hosts {
        var walls: [Double] = []
        for run in 0..<o.runs {
            let url = freshSchema(server, "bench_many_\(scanners)_\(run)")
            // The schema first (otherwise one scanner creates it while the others wait for its
            // migration lock, and the first scanner's time includes the migration).
            let setup = measure([silomerge, "scan", "-q", "--host", "setup", "--catalog", url, "empty=\(work)/host-empty"])
            if setup.status > 1 { fail("cannot create the catalogue schema (exit \(setup.status))") }
            let commands = (0..<scanners).map { k in
                [silomerge, "scan", "-q", "--host", "host\(k + 1)", "--catalog", url, "h\(k + 1)=\(trees[k])"]
            }
            let (wall, each) = measureTogether(commands)
            if let bad = each.first(where: { $0.status > 1 }) { fail("a concurrent scanner failed (exit \(bad.status))") }
            walls.append(wall)
        }
        let rate = Double(scanners * o.filesPerHost) / median(walls)
        if scanners == 1 { oneScanner = rate }
        say(String(format: "  %2d scanner%@  %8.0f files/s aggregate (%.2f× one scanner's)", scanners, scanners == 1 ? " " : "s", rate,
                   rate / oneScanner))
        scanners = scanners == o.hosts ? o.hosts + 1 : min(o.hosts, scanners * 2)
    }

    // MARK: Queries on a generated catalogue
    for size in o.catalogueSizes {
        FileHandle.standardError.write(Data("Generating a catalogue of \(grouped(size)) files across 20 hosts in PostgreSQL…\n".utf8))
        let url = freshSchema(server, "bench_cat_\(size)")
        let create = measure([silomerge, "scan", "-q", "--host", "setup", "--catalog", url, "empty=\(work)/host-empty"])
        if create.status > 1 { fail("cannot create the catalogue schema (exit \(create.status))") }
        let schema = "bench_cat_\(size)"
        let genStart = DispatchTime.now()
        // VACUUM as well as ANALYZE: the catalogue is left as autovacuum leaves a long-lived one,
        // and autovacuum's own pass over the new rows (a minute or more at 10 M) cannot land in
        // the middle of a timed query (it did once: duplicates took 165 s instead of 110 s).
        // Content ids: 70 % unique, 30 % drawn from a tenth as many ids (duplicate groups of
        // about 3), sizes from the id; 20 silos on 20 hosts, 1,000 files a folder.
        psql(server, """
            SET search_path TO \(schema);
            INSERT INTO silo (name, root, priority, added_at, host, host_name)
            SELECT 'silo' || h, convert_to('/srv/silo' || h, 'UTF8'), h, '2026-12-01T00:00:00.000Z', 'host' || h, 'host' || h
            FROM generate_series(1, 20) h;
            INSERT INTO run (kind, status, started_at, finished_at, tool_version, host, hash_mode, options, silos)
            VALUES ('scan', 'ok', '2026-12-01T00:00:00.000Z', '2026-12-01T01:00:00.000Z', 'bench', 'bench', 'full', '{}', '[]');
            INSERT INTO file (silo_id, dir, name, size, mtime_ns, ctime_ns, dev, ino, nlink, mode, uid, gid, sha256, hashed_at,
                              first_seen_run, format, metadata_read)
            SELECT s.id, convert_to('d' || (i / 1000), 'UTF8'), convert_to('f' || i || '.jpg', 'UTF8'),
                   1024 + (c * 7919) % 4000000, 1700000000000000000 + i, 1700000000000000000 + i, 2049, i, 1, 33188, 1000, 1000,
                   sha256(int8send(c)), '2026-12-01T00:00:00.000Z', (SELECT max(id) FROM run), 'jpeg', 1
            FROM generate_series(1, \(size)) i
            CROSS JOIN LATERAL (SELECT CASE WHEN i % 10 < 3 THEN (i * 2654435761) % (\(size) / 10) ELSE \(size) + i END AS c) AS pick
            JOIN silo s ON s.name = 'silo' || (1 + i % 20);
            VACUUM ANALYZE;
            """)
        let genSeconds = Double(DispatchTime.now().uptimeNanoseconds - genStart.uptimeNanoseconds) / 1e9
        say("Queries on a generated catalogue of \(grouped(size)) files, 20 hosts (generated in \(String(format: "%.0f", genSeconds)) s; medians of \(o.runs)):")
        for (label, argv) in [("duplicates --format json", [silomerge, "duplicates", "--format", "json", "--catalog", url]),
                              ("audit --no-scan", [silomerge, "audit", "--no-scan", "-q", "--catalog", url]),
                              ("report --html", [silomerge, "report", "--html", "\(work)/bench-report.html", "--catalog", url]),
                              ("silos", [silomerge, "silos", "--catalog", url])] {
            var ms: [Measurement] = []
            for _ in 0..<o.runs { ms.append(measure(argv)) }
            let failed = ms.contains { $0.status > 1 }
            say(String(format: "  %@ %8.1f s   client peak RSS %@%@", label.padding(toLength: 26, withPad: " ", startingAt: 0), median(ms.map(\.wall)),
                       human(Int64(ms.map(\.peakRSSKiB).max() ?? 0) * 1024), failed ? "  FAILED" : ""))
        }
        psql(server, "DROP SCHEMA IF EXISTS \(schema) CASCADE;")
    }
    print(lines.joined(separator: "\n"))
    exit(0)
}
