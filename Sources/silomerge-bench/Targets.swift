import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The targets of issue #14, each measured in the run and judged PASS or MISS; the page cache
// emptied for the cold runs; the trees of tiny files of the memory and CPU targets; the machine.

// MARK: - Targets

/// One target of issue #14: what was measured, against what, the figure compared with the
/// limit, and the verdict. A target whose command failed is a MISS (its time measures an
/// error, not the work); one that could not be measured says why and is neither.
struct Target: Encodable {
    enum Kind: String, Encodable {
        /// measured ÷ reference (seconds, or CPU seconds), at most `limit` (e.g. 0.5×).
        case ratio
        /// (peak RSS at N files − peak RSS at the base tree) ÷ (N − base files), at most `limit` bytes.
        case bytesPerFile = "bytes_per_file"
        /// CPU with metadata ÷ CPU without − 1, at most `limit` (0.10 = +10 %).
        case cpuCost = "cpu_cost"
    }

    var group: String
    var name: String
    var kind: Kind
    /// Seconds (wall or CPU, see `unit`), or bytes of peak RSS.
    var measured: Double?
    var reference: Double?
    var referenceLabel: String
    /// "s" (wall seconds), "cpu_s" (user + system seconds) or "bytes".
    var unit: String
    /// The figure compared with `limit`.
    var ratio: Double?
    var limit: Double
    /// nil: not measured.
    var pass: Bool?
    /// Why it was not measured, or which command failed.
    var why: String?

    enum CodingKeys: String, CodingKey {
        case group, name, kind, measured, reference, referenceLabel = "reference_label", unit, ratio, limit, pass, why
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(group, forKey: .group)
        try c.encode(name, forKey: .name)
        try c.encode(kind, forKey: .kind)
        // Explicit nulls: a figure not measured is there as null, never left out or faked.
        try c.encode(measured, forKey: .measured)
        try c.encode(reference, forKey: .reference)
        try c.encode(referenceLabel, forKey: .referenceLabel)
        try c.encode(unit, forKey: .unit)
        try c.encode(ratio, forKey: .ratio)
        try c.encode(limit, forKey: .limit)
        try c.encode(pass, forKey: .pass)
        try c.encode(why, forKey: .why)
    }

    var result: String {
        switch pass {
        case true?: return "PASS"
        case false?: return "MISS"
        case nil: return "not measured: \(why ?? "unknown")"
        }
    }

    func amount(_ value: Double?) -> String {
        guard let value else { return "—" }
        switch unit {
        case "bytes": return human(Int64(value))
        case "cpu_s": return String(format: "%.2f s CPU", value)
        default: return String(format: "%.2f s", value)
        }
    }

    var measuredText: String {
        if pass == false, let why { return "FAILED (\(why))" }
        return amount(measured)
    }

    var referenceText: String {
        guard reference != nil else { return referenceLabel }
        return "\(referenceLabel) \(amount(reference))"
    }

    var ratioText: String {
        let figure: String
        let bound: String
        switch kind {
        case .ratio:
            figure = ratio.map { String(format: "%.2f×", $0) } ?? "—"
            bound = String(format: "≤ %.2g×", limit)
        case .bytesPerFile:
            figure = ratio.map { String(format: "%.0f B/file", $0) } ?? "—"
            bound = String(format: "≤ %.0f B/file", limit)
        case .cpuCost:
            figure = ratio.map { String(format: "%+.1f %%", $0 * 100) } ?? "—"
            bound = String(format: "≤ %+.0f %%", limit * 100)
        }
        return "\(figure) (\(bound))"
    }

    /// `target · measured · ratio · PASS|MISS`
    var line: String {
        if pass == nil { return "\(name) · \(result)" }
        return "\(name) · \(measuredText) vs \(referenceText) · \(ratioText) · \(result)"
    }

    /// A target of the form `ours ÷ reference ≤ limit`, from medians. `failed` names a command
    /// that failed (then: MISS); `missing` says why it could not be measured (then: no verdict).
    static func ratio(_ group: String, _ name: String, ours: Double, reference: Double, referenceLabel: String,
                      limit: Double, unit: String = "s", failed: String? = nil, missing: String? = nil) -> Target {
        var t = Target(group: group, name: name, kind: .ratio, measured: ours, reference: reference, referenceLabel: referenceLabel,
                       unit: unit, ratio: nil, limit: limit, pass: nil, why: nil)
        if let missing {
            t.measured = nil; t.reference = nil; t.why = missing
        } else if let failed {
            t.pass = false; t.why = failed
        } else if reference > 0 {
            t.ratio = ours / reference
            t.pass = ours / reference <= limit
        } else {
            t.why = "the reference measured 0"
        }
        return t
    }

    /// The same, from two rows of the benchmark: MISS when either failed.
    static func rows(_ group: String, _ name: String, ours: Row, reference: Row, limit: Double, cpu: Bool = false) -> Target {
        ratio(group, name, ours: cpu ? ours.medianCPU : ours.median, reference: cpu ? reference.medianCPU : reference.median,
              referenceLabel: reference.label, limit: limit, unit: cpu ? "cpu_s" : "s", failed: failedRows([ours, reference]))
    }

    static func notMeasured(_ group: String, _ name: String, kind: Kind = .ratio, limit: Double, why: String) -> Target {
        Target(group: group, name: name, kind: kind, measured: nil, reference: nil, referenceLabel: "", unit: "s", ratio: nil,
               limit: limit, pass: nil, why: why)
    }
}

/// "silomerge check: exit 2" for the rows with a failed run (exit status other than 0 or 1,
/// or killed: 128 + the signal), or nil.
func failedRows(_ rows: [Row]) -> String? {
    var seen: [String] = []
    for row in rows {
        let bad = Set(row.runs.map(\.status).filter { $0 != 0 && $0 != 1 })
        guard !bad.isEmpty else { continue }
        let text = "\(row.label): exit \(bad.sorted().map(String.init).joined(separator: ", "))"
        if !seen.contains(text) { seen.append(text) }
    }
    return seen.isEmpty ? nil : seen.joined(separator: "; ")
}

/// Every target measured so far, in order. The benchmark is one thread.
nonisolated(unsafe) var targets: [Target] = []

/// Records a target and shows it at once on stderr, so a long run says how it is going.
func record(_ t: Target) {
    targets.append(t)
    FileHandle.standardError.write(Data("  → [\(t.group)] \(t.line)\n".utf8))
}

/// The final table: every target with its figures and verdict, then the count.
func summaryTable(_ list: [Target]) -> String {
    var out = "| target | corpus | measured | reference | ratio (limit) | result |\n|---|---|---:|---:|---:|---|\n"
    for t in list {
        out += "| \(t.name) | \(t.group) | \(t.pass == nil ? "—" : t.measuredText) | \(t.pass == nil ? "—" : t.referenceText) | "
            + "\(t.pass == nil ? "—" : t.ratioText) | \(t.result) |\n"
    }
    let pass = list.filter { $0.pass == true }.count, miss = list.filter { $0.pass == false }.count
    out += "\n\(pass) PASS, \(miss) MISS, \(list.count - pass - miss) not measured, of \(list.count) targets\n"
    return out
}

// MARK: - A cold page cache

/// Empties the page cache, as a first audit of a file server starts: `sync`, then 3 into
/// /proc/sys/vm/drop_caches (root only). nil when done, else why not.
func dropCaches() -> String? {
    guard geteuid() == 0 else { return "not root (emptying the page cache needs root)" }
    sync()
    let fd = open("/proc/sys/vm/drop_caches", O_WRONLY)
    guard fd >= 0 else { return "cannot open /proc/sys/vm/drop_caches: \(String(cString: strerror(errno)))" }
    defer { close(fd) }
    let n = write(fd, "3\n", 2)
    guard n == 2 else { return "writing 3 to /proc/sys/vm/drop_caches: \(String(cString: strerror(errno)))" }
    return nil
}

/// The fraction of these files' pages in the page cache (mincore), to prove a drop worked: a
/// container may accept the write and keep the cache. nil when it cannot be told.
func residentFraction(_ paths: [String]) -> Double? {
    #if os(Linux)
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    var resident = 0, total = 0
    for path in paths {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { continue }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size > 0 else { continue }
        let size = Int(st.st_size)
        guard let map = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else { continue }
        defer { munmap(map, size) }
        var vec = [UInt8](repeating: 0, count: (size + page - 1) / page)
        guard mincore(map, size, &vec) == 0 else { continue }
        resident += vec.filter { $0 & 1 != 0 }.count
        total += vec.count
    }
    return total > 0 ? Double(resident) / Double(total) : nil
    #else
    return nil
    #endif
}

/// Up to `count` regular files under `root`, spread over the tree, for `residentFraction`.
func sampleFiles(_ root: String, count: Int) -> [String] {
    var all: [String] = []
    if let e = FileManager.default.enumerator(atPath: root) {
        for case let rel as String in e {
            var st = stat()
            if lstat("\(root)/\(rel)", &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 0 { all.append("\(root)/\(rel)") }
        }
    }
    guard all.count > count else { return all }
    return (0..<count).map { all[$0 * all.count / count] }
}

/// `runs` cold runs of each command, alternating run for run, the page cache emptied before
/// every one (and checked empty on `sample`). The rows, or why they could not be measured.
func coldRuns(_ commands: [(label: String, argv: [String], fresh: String?)], runs: Int, sample: [String]) -> Result<[Row], ColdError> {
    var rows = commands.map { Row(label: $0.label, runs: []) }
    for run in 0..<runs {
        // Alternate which command goes first, so neither always follows the other's writes.
        let order = run % 2 == 0 ? Array(commands.indices) : Array(commands.indices.reversed())
        for i in order {
            if let fresh = commands[i].fresh { removeCatalogue(fresh) }
            if let why = dropCaches() { return .failure(ColdError(why: why)) }
            if let f = residentFraction(sample), f > 0.2 {
                return .failure(ColdError(why: String(format: "drop_caches was accepted but %.0f %% of sampled corpus pages stayed cached", f * 100)))
            }
            rows[i].runs.append(measure(commands[i].argv))
            FileHandle.standardError.write(Data(".".utf8))
        }
    }
    return .success(rows)
}

struct ColdError: Error { var why: String }

// MARK: - Trees of tiny files

/// Sizes of the tiny files: 16 of them, so that every size is shared by many files (every
/// file is a duplicate candidate by size: jdupes and silomerge must read all of them).
let tinySizes = (1...16).map { $0 * 64 }

/// `files` tiny files (64 B to 1 KiB) in folders of 100 (`big/K/F/fN.dat`), written once and
/// reused: contents distinct, but every tenth file is a copy of the one before it. Written with
/// open/write from one reused buffer, so a million files take about a minute, not ten.
func generateTinyTree(files: Int, workdir: String) -> String {
    let root = URL(fileURLWithPath: workdir).appendingPathComponent("tiny-\(files)").standardizedFileURL.path
    if FileManager.default.fileExists(atPath: "\(root)/.complete") { return root }
    FileHandle.standardError.write(Data("Generating \(grouped(files)) tiny files in \(root) (once)…\n".utf8))
    try? FileManager.default.removeItem(atPath: root)
    let started = Date()
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 64)
    defer { buffer.deallocate() }
    let perFolder = 100
    var folder = ""
    for i in 0..<files {
        if i % perFolder == 0 {
            folder = "\(root)/big/\(i / (perFolder * 100))/\(i / perFolder)"
            do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                fail("cannot create \(folder): \(error.localizedDescription)")
            }
        }
        let content = i % 10 == 9 ? i - 1 : i
        let size = tinySizes[content % tinySizes.count]
        let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<size])
        var rng = Random(seed: 0x5113 &+ UInt64(content))
        rng.fill(chunk)
        let path = "\(folder)/f\(i).dat"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { fail("cannot create \(path): \(String(cString: strerror(errno)))") }
        let w = write(fd, chunk.baseAddress!, size)
        close(fd)
        guard w == size else { fail("write \(path): \(w < 0 ? String(cString: strerror(errno)) : "short write")") }
    }
    _ = FileManager.default.createFile(atPath: "\(root)/.complete", contents: nil)
    FileHandle.standardError.write(Data(String(format: "  generated in %.0f s\n", Date().timeIntervalSince(started)).utf8))
    return root
}

// MARK: - The machine

/// The first line a command prints, or nil.
func firstLine(_ argv: [String]) -> String? {
    guard which(argv[0]) != nil else { return nil }
    let out = "\(NSTemporaryDirectory())/silomerge-bench-out-\(getpid()).txt"
    defer { try? FileManager.default.removeItem(atPath: out) }
    guard spawnAndWait(argv, cwd: nil, stdoutPath: out).status == 0,
          let text = try? String(contentsOfFile: out, encoding: .utf8) else { return nil }
    return text.split(separator: "\n").first.map(String.init)
}

func kernelRelease() -> String {
    var u = utsname()
    guard uname(&u) == 0 else { return "unknown kernel" }
    func text<T>(_ field: T) -> String {
        withUnsafeBytes(of: field) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }
    return "\(text(u.sysname)) \(text(u.release))"
}
