// silomerge-bench: the project's benchmark.
//
// Measures every target of issue #14 in one run, each printed with its measured ratio and PASS
// or MISS (Targets.swift), then a summary table. Generates a deterministic corpus of departmental
// silos (duplicates across silos, near misses, hard links), warms the page cache, then times
// `silomerge audit`, a full-hash `silomerge scan` (with and without metadata), an unchanged
// rescan and check, `find` and the peers that are installed (jdupes, rdfind, rmlint) on the same
// corpus in the same run; audits with a cold page cache (root: the cache emptied before every run
// of each tool); the same ratios on a corpus of real media files (generated with ImageMagick,
// libheif, ffmpeg and exiftool, or given with --media DIR); and peak memory per file and audit
// CPU on trees of tiny files (10,000 and 1,000,000 by default). Reports medians, CPU time, peak
// memory and ratios, and checks that silomerge finds the same duplicate groups as jdupes.
//
//   swift run -c release silomerge-bench                 # the full run (~90,000 files, 4 GiB)
//   swift run -c release silomerge-bench --quick         # a small corpus, for a smoke test
//   swift run -c release silomerge-bench --help

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Options

struct Options {
    var files = 90_000
    var bytes: Int64 = 4 << 30
    var runs = 5
    var seed: UInt64 = 1
    var workdir = ".build-bench"
    var peers = true
    var scaleFiles = 1_000_000
    /// The base tree of the memory targets: the same commands' peak RSS on this many files is
    /// the fixed base that the per-file figure is measured above (at most a tenth of --scale).
    var scaleBase = 10_000
    var scaleRuns = 3
    /// Cold page-cache audits (root only): runs of each tool, 0 to skip.
    var coldRuns = 3
    var json: String?
    /// The real-media corpus: generated (nil) or a folder given with --media; "" skips it.
    var media: String?
    var mediaPhotos = 120
    /// Another silomerge binary (an earlier build) timed beside this one, run for run.
    var baseline: String?
    /// `--hosts N`: the many-hosts PostgreSQL benchmark instead (Hosts.swift).
    var hosts = HostsOptions()

    static let usage = """
        usage: silomerge-bench [--quick] [--files N] [--bytes SIZE] [--runs N] [--seed N]
                               [--workdir DIR] [--no-peers] [--no-cold | --cold-runs N]
                               [--scale N | --no-scale] [--scale-base N] [--scale-runs N]
                               [--media DIR | --media-photos N | --no-media] [--baseline BIN]
                               [--json FILE]
               silomerge-bench --hosts N [--pg URL] [--files-per-host N] [--catalogue-files N,N...] [--runs N]

        Measures every target of issue #14 in one run and prints each as
        `target · measured vs reference · ratio (limit) · PASS|MISS`, then a summary table:
          benchmark corpus   full-hash scan with metadata ≤ 1.3× the compute limit (corpus bytes ÷
                             (cores × `openssl speed -evp sha256` rate)); audit ≤ 0.5× jdupes -r -q,
                             warm cache and cold cache; unchanged rescan ≤ 1.2× and unchanged check
                             ≤ 1.3× `find` stat-ing the tree; metadata cost ≤ +10 % CPU
          tiny files         peak RSS per file ≤ 100 B above a fixed base for scan, audit, check and
                             duplicates: (peak at --scale files − peak at --scale-base files) ÷ the
                             difference; audit CPU (user + system) ≤ jdupes' on the same tree
          media corpus       the full scan, warm audit and rescan ratios again, and the metadata cost
        A run whose command fails (exit status other than 0 or 1, or killed) is shown FAILED and
        its target MISS; a target that cannot be measured says why and gets no verdict.

          --files N      files in the corpus (default 90000)
          --bytes SIZE   total size, e.g. 4G, 500M (default 4G)
          --runs N       measured runs per command, after one warm-up run (default 5); medians reported
          --seed N       the corpus's random seed (default 1)
          --workdir DIR  where corpora and catalogues go (default .build-bench, reused between runs)
          --no-peers     do not run jdupes, rdfind, rmlint (their targets are then not measured)
          --cold-runs N  cold-cache audits: N runs each of silomerge audit (fresh catalogue) and
                         jdupes -r -q, alternating, `sync; echo 3 > /proc/sys/vm/drop_caches`
                         before every run (needs root; checked with mincore) (default 3)
          --no-cold      skip the cold-cache audits
          --scale N      files in the largest tree of tiny files (default 1000000); --no-scale
                         skips the memory and audit-CPU targets. The trees (64 B to 1 KiB files, 16
                         sizes so that every size is shared, folders of 100, one file in ten a copy)
                         are generated once in the workdir and reused (a million: about a
                         minute and 4 GiB of disk)
          --scale-base N files in the base tree (default 10000; at most a tenth of --scale)
          --scale-runs N runs of each command on each tree, every command in turn, medians
                         (default 3)
          --quick        5000 files, 200M, 3 runs, 1 cold run, tiny files 3000 and 30000 (1 run),
                         8 photos in the media corpus: every target, small, in a few minutes
          --json FILE    also write the figures as JSON; "targets" lists each target: name, group,
                         kind (ratio, bytes_per_file, cpu_cost), measured, reference, ratio (the
                         figure compared with limit), limit, pass (null: not measured), why
          --media DIR    the media corpus is this folder of real photos, videos, audio and
                         documents instead of a generated one
          --media-photos N  12-megapixel JPEG photos in the generated media corpus (default 120; with
                         them: PNG, TIFF, HEIC, MP4, MOV, MP3 and PDF files made by ImageMagick, libheif,
                         ffmpeg, LibreOffice and exiftool, about 1.2 GB; generated once, reused);
                         needs convert, exiftool, ffmpeg
          --no-media     skip the media corpus
          --baseline BIN another silomerge binary (e.g. main's release build before a change):
                         every silomerge command is also run with it, alternating run for run,
                         and a before/after table gives both medians and their ratio

          --hosts N      the shared PostgreSQL catalogue instead: ingest of N trees of tiny files
                         (one per simulated host) into SQLite and PostgreSQL by one process, then by
                         1, 2, 4 ... N scanner processes at once; and duplicates, audit --no-scan,
                         report and silos over catalogues of --catalogue-files files across 20
                         hosts generated in the database (default 1000000,10000000)
          --pg URL       the server for --hosts (a role that may create schemas; default
                         $SILOMERGE_TEST_PG, e.g. from tools/pg-test-cluster.sh)
          --files-per-host N  files per simulated host's tree (default 20000)

        The metadata cost is the CPU time (user + system, medians) of a full scan with metadata over
        the same scan with --no-metadata, on the benchmark corpus and on the media corpus.
        """

    static func parse(_ args: [String]) -> Options {
        var o = Options()
        var i = 0
        func value() -> String {
            i += 1
            guard i < args.count else { fail("\(args[i - 1]) needs a value") }
            return args[i]
        }
        while i < args.count {
            switch args[i] {
            case "--quick":
                o.files = 5000; o.bytes = 200 << 20; o.runs = 3; o.scaleFiles = 30_000; o.scaleRuns = 1; o.mediaPhotos = 8
                o.coldRuns = min(o.coldRuns, 1)
            case "--files": o.files = need(Int(value()), "--files: a number")
            case "--bytes": o.bytes = need(parseSize(value()), "--bytes: a size like 4G")
            case "--runs": o.runs = max(1, need(Int(value()), "--runs: a number"))
            case "--seed": o.seed = need(UInt64(value()), "--seed: a number")
            case "--workdir": o.workdir = value()
            case "--no-peers": o.peers = false
            case "--scale": o.scaleFiles = need(Int(value()), "--scale: a number")
            case "--no-scale": o.scaleFiles = 0
            case "--scale-base": o.scaleBase = max(1, need(Int(value()), "--scale-base: a number"))
            case "--scale-runs": o.scaleRuns = max(1, need(Int(value()), "--scale-runs: a number"))
            case "--no-cold": o.coldRuns = 0
            case "--cold-runs": o.coldRuns = max(1, need(Int(value()), "--cold-runs: a number"))
            case "--json": o.json = value()
            case "--media": o.media = value()
            case "--media-photos": o.mediaPhotos = max(1, need(Int(value()), "--media-photos: a number"))
            case "--no-media": o.media = ""
            case "--baseline": o.baseline = value()
            case "--hosts": o.hosts.hosts = max(1, need(Int(value()), "--hosts: a number"))
            case "--pg": o.hosts.pg = value()
            case "--files-per-host": o.hosts.filesPerHost = max(1, need(Int(value()), "--files-per-host: a number"))
            case "--catalogue-files":
                o.hosts.catalogueSizes = value().split(separator: ",").map { need(Int($0), "--catalogue-files: numbers separated by commas") }
            case "-h", "--help": print(usage); exit(0)
            default: fail("unknown option \(args[i])\n\(usage)")
            }
            i += 1
        }
        return o
    }
}

func need<T>(_ value: T?, _ message: String) -> T {
    guard let value else { fail(message) }
    return value
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("silomerge-bench: \(message)\n".utf8))
    exit(2)
}

func parseSize(_ text: String) -> Int64? {
    var t = text.uppercased()
    var m: Int64 = 1
    if let last = t.last, let f = ["K": Int64(1) << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40][String(last)] { m = f; t.removeLast() }
    guard let v = Double(t) else { return nil }
    return Int64(v * Double(m))
}

func human(_ n: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n), u = 0
    while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
    return u == 0 ? "\(n) B" : String(format: "%.2f %@", v, units[u])
}

func grouped(_ n: Int) -> String {
    let s = String(n)
    var out = ""
    for (i, c) in s.enumerated() { if i > 0 && (s.count - i) % 3 == 0 { out += "," }; out.append(c) }
    return out
}

// MARK: - Deterministic data

/// xoshiro256**: fast, deterministic, good enough for file contents.
struct Random {
    var s: (UInt64, UInt64, UInt64, UInt64)
    init(seed: UInt64) {
        var z = seed &+ 0x9E3779B97F4A7C15
        func next() -> UInt64 {
            z = z &+ 0x9E3779B97F4A7C15
            var x = z
            x = (x ^ (x >> 30)) &* 0xBF58476D1CE4E5B9
            x = (x ^ (x >> 27)) &* 0x94D049BB133111EB
            return x ^ (x >> 31)
        }
        s = (next(), next(), next(), next())
    }
    mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3; s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        let words = buffer.count / 8
        let p = buffer.baseAddress!
        for i in 0..<words { p.storeBytes(of: next(), toByteOffset: i * 8, as: UInt64.self) }
        for i in (words * 8)..<buffer.count { p.storeBytes(of: UInt8(truncatingIfNeeded: next()), toByteOffset: i, as: UInt8.self) }
    }
}

/// Writes `size` bytes of content `id` (the same id always gives the same bytes).
func writeContent(path: String, id: UInt64, size: Int, seed: UInt64, buffer: UnsafeMutableRawBufferPointer,
                  patch: ((UnsafeMutableRawBufferPointer, Int) -> Void)? = nil) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { fail("cannot create \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var rng = Random(seed: seed &* 1_000_003 &+ id)
    var left = size
    var offset = 0
    while left > 0 {
        let n = min(left, buffer.count)
        let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n])
        rng.fill(chunk)
        patch?(chunk, offset)
        var done = 0
        while done < n {
            let w = write(fd, chunk.baseAddress! + done, n - done)
            guard w > 0 else { fail("write \(path): \(String(cString: strerror(errno)))") }
            done += w
        }
        left -= n
        offset += n
    }
}

// MARK: - Corpus

struct Corpus {
    let root: String
    let silos: [String]
    var files = 0
    var bytes: Int64 = 0
    var folders = 0
    var generatedIn: Double = 0
    var siloPaths: [String] { silos.map { "\(root)/\($0)" } }
}

let departments = ["marketing", "hr", "training", "rnd", "operations", "legal"]
let words = ["launch", "summer", "staff", "portrait", "site", "event", "product", "module", "lab", "brand",
             "logo", "banner", "hero", "team", "offsite", "safety", "audit", "catalog", "spring", "report"]
let exts = [".jpg", ".png", ".tif", ".pdf", ".mp4", ".psd", ".docx", ".xmp"]

/// Log-uniform sizes between 1 KiB and `top`, so most files are small and a few are large, as in
/// real asset folders; `top` is chosen so the average matches bytes ÷ files.
func sizeCeiling(mean: Double) -> Double {
    let a = 1024.0
    var lo = a * 1.01, hi = 1e12
    for _ in 0..<200 {
        let b = (lo + hi) / 2
        if (b - a) / log(b / a) < mean { lo = b } else { hi = b }
    }
    return lo
}

func generateCorpus(_ o: Options) -> Corpus {
    let name = "corpus-\(o.files)-\(o.bytes)-\(o.seed)"
    let root = URL(fileURLWithPath: o.workdir).appendingPathComponent(name).standardizedFileURL.path
    let stamp = "\(root)/.complete"
    var corpus = Corpus(root: root, silos: departments)
    if let text = try? String(contentsOfFile: stamp, encoding: .utf8) {
        let parts = text.split(separator: " ").compactMap { Int64($0) }
        if parts.count == 3 {
            corpus.files = Int(parts[0]); corpus.bytes = parts[1]; corpus.folders = Int(parts[2])
            return corpus
        }
    }
    try? FileManager.default.removeItem(atPath: root)
    let started = Date()
    var rng = Random(seed: o.seed)
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
    defer { buffer.deallocate() }

    // Folders: silo/year/project[/stage], ~55 files each.
    var folders: [[String]] = []
    for silo in departments {
        var list: [String] = []
        let projects = max(2, o.files / (departments.count * 6 * 3 * 55) + 1)
        for year in 2019...2024 {
            for p in 0..<projects {
                let project = "\(year)/\(words[(p * 7 + year) % words.count])-\(words[(p * 3) % words.count])-\(p)"
                list.append(project)
                for stage in ["raw", "final"] where rng.below(3) > 0 { list.append("\(project)/\(stage)") }
            }
        }
        for f in list { try? FileManager.default.createDirectory(atPath: "\(root)/\(silo)/\(f)", withIntermediateDirectories: true) }
        folders.append(list)
        corpus.folders += list.count
    }

    // Contents: 30% of them have 2–4 copies in random silos and folders, under other names.
    let copiesPerContent = 0.7 + 0.3 * (2 + 2 + 2 + 3 + 3 + 4) / 6
    let contents = max(10, Int(Double(o.files) / copiesPerContent))
    let top = sizeCeiling(mean: Double(o.bytes) / Double(o.files))
    var used = Set<String>()
    func place(_ silo: Int, _ ext: String) -> String {
        while true {
            let folder = folders[silo][rng.below(folders[silo].count)]
            let name = "\(words[rng.below(words.count)])_\(String(format: "%06d", rng.below(1_000_000)))\(ext)"
            let path = "\(root)/\(departments[silo])/\(folder)/\(name)"
            if used.insert(path).inserted { return path }
        }
    }
    var id: UInt64 = 0
    while corpus.files < o.files && id < UInt64(contents) * 2 {
        id += 1
        let size = Int(exp(log(1024.0) + rng.unit() * (log(top) - log(1024.0))))
        let ext = exts[rng.below(exts.count)]
        let copies = rng.unit() < 0.3 ? [2, 2, 2, 3, 3, 4][rng.below(6)] : 1
        for _ in 0..<copies where corpus.files < o.files {
            writeContent(path: place(rng.below(departments.count), ext), id: id, size: size, seed: o.seed, buffer: buffer)
            corpus.files += 1
            corpus.bytes += Int64(size)
        }
    }
    // Near misses: same size, different bytes; and same first and last 4 KiB, different middle.
    for k in 0..<min(200, o.files / 100) {
        let size = 50_000 + k
        for variant: UInt64 in 0..<2 {
            writeContent(path: place(rng.below(departments.count), ".bin"), id: 10_000_000 + UInt64(k) * 2 + variant,
                         size: size, seed: o.seed, buffer: buffer)
            corpus.files += 1; corpus.bytes += Int64(size)
        }
    }
    for k in 0..<min(50, o.files / 400) {
        let size = 200_000
        for variant in 0..<2 {
            writeContent(path: place(rng.below(departments.count), ".bin"), id: 20_000_000 + UInt64(k), size: size,
                         seed: o.seed, buffer: buffer) { chunk, offset in
                // Only the middle differs between the two variants.
                let mid = 100_000 - offset
                if mid >= 0 && mid < chunk.count { chunk[mid] = UInt8(variant) }
            }
            corpus.files += 1; corpus.bytes += Int64(size)
        }
    }
    // Hard links: one physical copy under two names.
    for k in 0..<min(100, o.files / 500) {
        let silo = k % departments.count
        let original = place(silo, ".jpg")
        writeContent(path: original, id: 30_000_000 + UInt64(k), size: 20_000 + k, seed: o.seed, buffer: buffer)
        link(original, place(silo, ".jpg"))
        corpus.files += 2; corpus.bytes += Int64(2 * (20_000 + k))
    }
    corpus.generatedIn = Date().timeIntervalSince(started)
    try? "\(corpus.files) \(corpus.bytes) \(corpus.folders)".write(toFile: stamp, atomically: true, encoding: .utf8)
    return corpus
}

/// Many tiny files (the --hosts benchmark's trees; the memory targets use generateTinyTree).
func generateScaleTree(files: Int, workdir: String) -> String {
    let root = URL(fileURLWithPath: workdir).appendingPathComponent("scale-\(files)").standardizedFileURL.path
    if FileManager.default.fileExists(atPath: "\(root)/.complete") { return root }
    try? FileManager.default.removeItem(atPath: root)
    var rng = Random(seed: 99)
    let perFolder = 100
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 64)
    defer { buffer.deallocate() }
    for i in 0..<files {
        let folder = "\(root)/big/\(i / (perFolder * 100))/\(i / perFolder)"
        if i % perFolder == 0 { try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        writeContent(path: "\(folder)/f\(i).dat", id: UInt64(i % (files / 3 + 1)), size: 16 + rng.below(240), seed: 7, buffer: buffer)
    }
    _ = FileManager.default.createFile(atPath: "\(root)/.complete", contents: nil)
    return root
}

/// A corpus of real media files, made by the programs that make them (ImageMagick, libheif,
/// ffmpeg, LibreOffice, exiftool) with the metadata cameras, phones and editors write: JPEG
/// photos with EXIF, IPTC and XMP (a few saved twice with other captions: the same picture,
/// different metadata), PNG, TIFF, HEIC (when heif-enc is installed), MP4 and MOV videos, MP3
/// audio, PDF (when soffice is). Generated once per size, reused.
func generateMediaCorpus(workdir: String, photos: Int) -> (root: String, files: Int, bytes: Int64)? {
    for tool in ["convert", "exiftool", "ffmpeg"] where which(tool) == nil {
        FileHandle.standardError.write(Data("silomerge-bench: \(tool) is not installed: no media corpus (give one with --media DIR)\n".utf8))
        return nil
    }
    let root = URL(fileURLWithPath: workdir).appendingPathComponent("media-\(photos)").standardizedFileURL.path
    if !FileManager.default.fileExists(atPath: "\(root)/.complete") {
        FileHandle.standardError.write(Data("Generating the media corpus in \(root) (once; a few minutes)…\n".utf8))
        try? FileManager.default.removeItem(atPath: root)
        let script = """
            set -e
            R="\(root)"; N=\(photos)
            mkdir -p "$R/photos" "$R/png" "$R/tiff" "$R/heic" "$R/video" "$R/audio" "$R/docs" "$R/.work"
            et() { exiftool -q -q -m -overwrite_original "$@"; }
            # 12-megapixel photos: crops of a few large noisy canvases, each a different picture.
            for c in $(seq 1 $(( (N + 9) / 10 ))); do
              convert -seed $c -size 6000x4500 plasma:fractal -blur 0x2 -attenuate 0.4 +noise Gaussian "$R/.work/canvas-$c.mpc"
            done
            for i in $(seq 1 $N); do
              c=$(( (i - 1) / 10 + 1 )); k=$(( (i - 1) % 10 ))
              convert "$R/.work/canvas-$c.mpc" -crop "4000x3000+$((k * 200))+$((k * 150))" +repage -quality 90 \\
                "$R/photos/IMG_$((1000 + i)).jpg"
            done
            et -EXIF:Make=Canon "-EXIF:Model=Canon EOS R6" "-EXIF:DateTimeOriginal=2023:06:14 18:32:07" -EXIF:Orientation#=1 \\
               -GPS:GPSLatitude=38.7139 -GPS:GPSLatitudeRef=N -GPS:GPSLongitude=9.1394 -GPS:GPSLongitudeRef=W \\
               "-IPTC:ObjectName=Summer offsite" "-IPTC:Keywords=offsite" "-IPTC:By-line=Ana Ribeiro" \\
               "-XMP-dc:Title=Summer offsite" "-XMP-dc:Description=Team gathering in Lisbon." -XMP-dc:Subject=offsite \\
               -XMP-dc:Subject=team "-XMP-dc:Creator=Ana Ribeiro" "-XMP-dc:Rights=(c) Northwind" -XMP-xmp:Rating=4 "$R/photos"
            for i in 1 2 3 4 5; do
              f="$R/photos/IMG_$((1000 + i)).jpg"; [ -e "$f" ] || continue
              cp "$f" "$R/photos/IMG_$((1000 + i))-captioned.jpg"
              et "-XMP-dc:Description=Captioned copy $i" "$R/photos/IMG_$((1000 + i))-captioned.jpg"
            done
            for i in $(seq 1 $(( (N + 2) / 3 ))); do
              convert -seed $((500 + i)) -size 1600x1000 plasma: "$R/png/screen-$i.png"
            done
            for i in $(seq 1 $(( (N + 5) / 6 ))); do
              convert "$R/photos/IMG_$((1000 + i)).jpg" -resize 2000x1333 -compress none "$R/tiff/scan-$i.tif"
              et "-XMP-dc:Title=Scan $i" "$R/tiff/scan-$i.tif"
            done
            if command -v heif-enc >/dev/null; then
              for i in $(seq 1 $(( (N + 2) / 3 ))); do
                convert -seed $((700 + i)) -size 2000x1500 plasma:fractal "$R/.work/h$i.png"
                heif-enc -q 60 -o "$R/heic/IMG_$((2000 + i)).heic" "$R/.work/h$i.png" >/dev/null
              done
              et -EXIF:Make=Apple "-EXIF:Model=iPhone 12" "-EXIF:DateTimeOriginal=2023:05:06 07:08:09" "-XMP-dc:Title=Phone photo" "$R/heic"
            fi
            for i in $(seq 1 $(( (N + 5) / 6 ))); do
              ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=1280x720:rate=25" -f lavfi -i "sine=frequency=$((200 + i * 40))" \\
                -t 12 -c:v libx264 -preset ultrafast -crf 20 -c:a aac -shortest -metadata "title=Clip $i" \\
                -metadata "creation_time=2023-06-20T10:00:00Z" -metadata "location=+38.7139-009.1394/" "$R/video/clip-$i.mp4"
            done
            for i in $(seq 1 $(( (N + 11) / 12 ))); do
              ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc=size=1920x1080:rate=30" -t 6 -c:v libx264 -preset ultrafast \\
                -crf 22 -movflags use_metadata_tags -metadata "com.apple.quicktime.make=Apple" -metadata "com.apple.quicktime.model=iPhone 12" \\
                -metadata "com.apple.quicktime.creationdate=2023-05-06T07:08:09+0100" -f mov "$R/video/IMG_$((3000 + i)).mov"
            done
            for i in $(seq 1 $(( (N + 5) / 6 ))); do
              ffmpeg -hide_banner -loglevel error -y -f lavfi -i "sine=frequency=$((300 + i * 20)):duration=90" -c:a libmp3lame -b:a 128k \\
                -metadata "title=Episode $i" -metadata "artist=Northwind Studio" "$R/audio/episode-$i.mp3"
            done
            if command -v soffice >/dev/null; then
              for i in $(seq 1 $(( (N + 11) / 12 ))); do
                convert "$R/photos/IMG_$((1000 + i)).jpg" -resize 1200x800 "$R/.work/brochure-$i.jpg"
                soffice "-env:UserInstallation=file://$R/.work/lo" --headless --convert-to pdf --outdir "$R/docs" \\
                  "$R/.work/brochure-$i.jpg" >/dev/null 2>&1 || true
              done
              for f in "$R"/docs/*.pdf; do [ -e "$f" ] && et "-Title=Brochure" "-Author=Marketing" "$f"; done
            fi
            rm -rf "$R/.work"
            touch "$R/.complete"
            """
        let scriptPath = "\(workdir)/make-media.sh"
        try? script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let m = spawnAndWait(["bash", scriptPath], cwd: nil, stdoutPath: "/dev/null")
        guard m.status == 0, FileManager.default.fileExists(atPath: "\(root)/.complete") else {
            FileHandle.standardError.write(Data("silomerge-bench: generating the media corpus failed (exit \(m.status)); see \(scriptPath)\n".utf8))
            return nil
        }
    }
    return countTree(root)
}

/// Regular files and bytes under a folder (hidden files aside).
func countTree(_ root: String) -> (root: String, files: Int, bytes: Int64) {
    var files = 0
    var bytes: Int64 = 0
    if let e = FileManager.default.enumerator(atPath: root) {
        for case let rel as String in e where !rel.split(separator: "/").contains(where: { $0.hasPrefix(".") }) {
            var st = stat()
            if lstat("\(root)/\(rel)", &st) == 0, (st.st_mode & S_IFMT) == S_IFREG { files += 1; bytes += Int64(st.st_size) }
        }
    }
    return (root, files, bytes)
}

// MARK: - Running and timing commands

struct Measurement {
    var wall: Double
    var peakRSSKiB: Int
    var status: Int32
    /// User + system CPU seconds of the command (and its children).
    var cpu: Double = 0
}

/// GNU time, when installed, measures peak memory truthfully: a child started with posix_spawn
/// (which shares our address space until exec) inherits this process's RSS as its ru_maxrss, so
/// small peers would all seem to use as much memory as the benchmark itself. GNU time forks for
/// real, from a small process.
let gnuTime: String? = FileManager.default.isExecutableFile(atPath: "/usr/bin/time") ? "/usr/bin/time" : nil

/// Runs a command, its output to `stdoutPath` (or /dev/null), and measures wall time and peak RSS.
func measure(_ argv: [String], cwd: String? = nil, stdoutPath: String = "/dev/null") -> Measurement {
    guard let gnuTime else { return spawnAndWait(argv, cwd: cwd, stdoutPath: stdoutPath) }
    let report = "\(NSTemporaryDirectory())/silomerge-bench-time-\(getpid()).txt"
    var m = spawnAndWait([gnuTime, "-f", "%M %x %U %S", "-o", report] + argv, cwd: cwd, stdoutPath: stdoutPath)
    if let text = try? String(contentsOfFile: report, encoding: .utf8) {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        if fields.count >= 4, let kib = Int(fields[fields.count - 4]), let status = Int32(fields[fields.count - 3]),
           let user = Double(fields[fields.count - 2]), let system = Double(fields[fields.count - 1]) {
            m.peakRSSKiB = kib
            m.cpu = user + system
            // GNU time's own exit status is the command's, or 128 + the signal that killed it;
            // its %x says 0 for a command killed by a signal, so it only fills in when time's is 0.
            if m.status == 0 { m.status = status }
        }
        if let range = text.range(of: "terminated by signal "),
           let signal = Int32(text[range.upperBound...].prefix(while: \.isNumber)) {
            m.status = 128 + signal
        }
    } else if m.status == 0 {
        m.status = 125   // no report: the measurement itself failed
    }
    try? FileManager.default.removeItem(atPath: report)
    return m
}

func spawnAndWait(_ argv: [String], cwd: String?, stdoutPath: String) -> Measurement {
    var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    // The child starts in `cwd` (the benchmark is single-threaded, so changing ours is safe).
    let previous = FileManager.default.currentDirectoryPath
    if let cwd { _ = FileManager.default.changeCurrentDirectoryPath(cwd) }
    defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
    var cargs = argv.map { strdup($0) } + [nil]
    defer { for p in cargs { free(p) } }
    var pid: pid_t = 0
    let start = DispatchTime.now()
    let rc = posix_spawnp(&pid, argv[0], &actions, nil, &cargs, environ)
    guard rc == 0 else { fail("cannot run \(argv[0]): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    let wall = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    let exitStatus: Int32 = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    let cpu = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    return Measurement(wall: wall, peakRSSKiB: Int(usage.ru_maxrss), status: exitStatus, cpu: cpu)
}

func which(_ name: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
        let path = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

struct Row {
    var label: String
    var runs: [Measurement]
    var median: Double { let w = runs.map(\.wall).sorted(); return w[w.count / 2] }
    var min: Double { runs.map(\.wall).min() ?? 0 }
    var max: Double { runs.map(\.wall).max() ?? 0 }
    var peak: Int { runs.map(\.peakRSSKiB).max() ?? 0 }
    var medianCPU: Double { let c = runs.map(\.cpu).sorted(); return c[c.count / 2] }
    var medianPeak: Int { let p = runs.map(\.peakRSSKiB).sorted(); return p[p.count / 2] }
    /// " (FAILED: exit 3)" when a measured run exited with a status other than 0 or 1 (its
    /// time measures an error, not the work), else "".
    var failure: String {
        let bad = Set(runs.map(\.status).filter { $0 != 0 && $0 != 1 })
        return bad.isEmpty ? "" : " (FAILED: exit \(bad.sorted().map(String.init).joined(separator: ", ")))"
    }
}

/// The baseline's rows (`--baseline`), by label, in the order measured.
nonisolated(unsafe) var baselineRows: [Row] = []
/// `--baseline`: that binary, and the path of this build's silomerge it stands in for. The
/// benchmark is one thread: nothing else touches these.
nonisolated(unsafe) var benchBaseline: (binary: String, ours: String)?

/// The baseline's own catalogue beside each of ours: a newer build migrates a catalogue the
/// baseline then refuses (and the reverse), so the two never share one.
func baselineCatalogue(_ path: String) -> String { path + ".baseline" }

/// `argv` for the baseline binary: its path in front, its own catalogue. nil when there is no
/// baseline or `argv` does not run silomerge.
func baselineArgv(_ argv: [String]) -> [String]? {
    guard let b = benchBaseline, argv.first == b.ours else { return nil }
    var out = [b.binary] + argv.dropFirst()
    for i in out.indices.dropFirst() where out[i - 1] == "--catalog" { out[i] = baselineCatalogue(out[i]) }
    return out
}

/// Runs an untimed preparation (a first scan that later commands rescan) with this build and,
/// with `--baseline`, with the baseline on its own catalogue.
func prepare(_ argv: [String]) {
    // A preparation that fails leaves the commands after it timing something else: say so.
    for command in [argv] + (baselineArgv(argv).map { [$0] } ?? []) {
        let m = measure(command)
        if m.status != 0 && m.status != 1 {
            FileHandle.standardError.write(Data("silomerge-bench: warning: \(command.prefix(3).joined(separator: " ")) … exited \(m.status): the rows after it measure a failed preparation\n".utf8))
        }
    }
}

/// A command of the benchmark: its label, argv, a catalogue removed ahead of each run (not
/// timed) and the folder it starts in.
struct BenchCommand {
    var label: String
    var argv: [String]
    var fresh: String? = nil
    var cwd: String? = nil
}

/// One warm-up run, then `runs` measured ones; `fresh` (a catalogue) is removed ahead of each
/// (not timed). With `--baseline`, a silomerge command is run with the baseline binary too, on
/// its own catalogue, alternating with this build run for run, so both see the same machine
/// noise. A run that exits with a status other than 0 or 1 marks the row failed.
func bench(_ label: String, runs: Int, fresh: String? = nil, _ argv: [String], cwd: String? = nil) -> Row {
    benchTogether([BenchCommand(label: label, argv: argv, fresh: fresh, cwd: cwd)], runs: runs)[0]
}

/// `bench` for commands whose times form a ratio: one warm-up run of each, then run for run
/// each command in turn (each with its baseline after it), so that the machine's noise falls
/// on all of them alike rather than on whichever ran during a busy minute.
func benchTogether(_ commands: [BenchCommand], runs: Int) -> [Row] {
    FileHandle.standardError.write(Data("  \(commands.map(\.label).joined(separator: " | ")) ".utf8))
    func ours(_ c: BenchCommand) -> Measurement {
        if let fresh = c.fresh { removeCatalogue(fresh) }
        return measure(c.argv, cwd: c.cwd)
    }
    func theirs(_ c: BenchCommand, _ b: [String]) -> Measurement {
        if let fresh = c.fresh { removeCatalogue(baselineCatalogue(fresh)) }
        return measure(b, cwd: c.cwd)
    }
    for c in commands {
        let warm = ours(c)
        if warm.status != 0 && warm.status != 1 {
            FileHandle.standardError.write(Data("(\(c.label): exit \(warm.status)) ".utf8))
        }
        if let b = baselineArgv(c.argv) { _ = theirs(c, b) }
    }
    var rows = commands.map { Row(label: $0.label, runs: []) }
    var bases = commands.map { Row(label: $0.label, runs: []) }
    for _ in 0..<runs {
        for (i, c) in commands.enumerated() {
            rows[i].runs.append(ours(c))
            if let b = baselineArgv(c.argv) { bases[i].runs.append(theirs(c, b)) }
        }
        FileHandle.standardError.write(Data(".".utf8))
    }
    FileHandle.standardError.write(Data((" " + rows.map { String(format: "%.2f s", $0.median) + $0.failure }.joined(separator: " | ") + "\n").utf8))
    for (i, c) in commands.enumerated() where baselineArgv(c.argv) != nil { baselineRows.append(bases[i]) }
    return rows
}

// MARK: - Duplicate groups, as sets of inodes

/// Reads fdupes-style output (paths, blank line between groups) into groups of (device, inode):
/// hard links to one inode count once, whichever tool listed them.
/// Whether silomerge takes this file for an XMP sidecar of an asset beside it: sidecars belong
/// to their asset and are never grouped on their own, where jdupes groups every file. As
/// silomerge decides (see SidecarPlan): `a.jpg.xmp` beside `a.jpg`, or `a.xmp` beside exactly
/// one `a.*` (or one raw file among them), and only when the file starts as an XMP packet.
func isSidecar(_ path: String) -> Bool {
    guard path.lowercased().hasSuffix(".xmp") else { return false }
    guard let handle = FileHandle(forReadingAtPath: path) else { return false }
    let head = String(decoding: handle.readData(ofLength: 4096), as: UTF8.self)
    try? handle.close()
    var text = Substring(head)
    while let c = text.first, c == "\u{FEFF}" || c.isWhitespace { text = text.dropFirst() }
    let starts = ["<?xpacket", "<x:xmpmeta", "<x:xapmeta", "<rdf:RDF"]
    guard starts.contains(where: text.hasPrefix) || (text.hasPrefix("<?xml") && starts.contains { text.contains($0) } && !text.contains("<svg")) else {
        return false
    }
    let base = String(path.dropLast(4))
    if FileManager.default.fileExists(atPath: base) { return true }
    let url = URL(fileURLWithPath: base)
    let stem = url.lastPathComponent
    let names = (try? FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path)) ?? []
    let candidates = names.filter { $0.hasPrefix(stem + ".") && !$0.lowercased().hasSuffix(".xmp") && !$0.dropFirst(stem.count + 1).contains(".") }
    let raw: Set<String> = ["3fr", "arw", "cr2", "cr3", "crw", "dng", "erf", "iiq", "kdc", "mef", "mos", "mrw", "nef", "nrw",
                            "orf", "pef", "raf", "raw", "rw2", "rwl", "sr2", "srf", "srw", "x3f"]
    return candidates.count == 1 || candidates.filter { raw.contains(($0.split(separator: ".").last.map(String.init) ?? "").lowercased()) }.count == 1
}

func inodeGroups(_ path: String, relativeTo cwd: String, withoutSidecars: Bool = false) -> Set<Set<String>> {
    guard let data = FileManager.default.contents(atPath: path) else { return [] }
    var groups = Set<Set<String>>()
    for block in data.split(separator: 0x0A, omittingEmptySubsequences: false).split(whereSeparator: { $0.isEmpty }) {
        var inodes = Set<String>()
        for line in block {
            if withoutSidecars, let text = String(bytes: line, encoding: .utf8),
               isSidecar(text.hasPrefix("/") ? text : "\(cwd)/\(text)") { continue }
            var p = Array(line)
            if p.first != 0x2F { p = Array("\(cwd)/".utf8) + p }
            var st = stat()
            let ok = (p + [0]).withUnsafeBufferPointer { b in b.withMemoryRebound(to: CChar.self) { lstat($0.baseAddress!, &st) } } == 0
            if ok { inodes.insert("\(st.st_dev):\(st.st_ino)") }
        }
        if inodes.count > 1 { groups.insert(inodes) }
    }
    return groups
}

// MARK: - Main

let options = Options.parse(Array(CommandLine.arguments.dropFirst()))
let selfURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
let silomerge = selfURL.deletingLastPathComponent().appendingPathComponent("silomerge").path
guard FileManager.default.isExecutableFile(atPath: silomerge) else {
    fail("no silomerge binary next to \(selfURL.path): build it first (swift build -c release)")
}
if let b = options.baseline {
    guard FileManager.default.isExecutableFile(atPath: b) else { fail("--baseline \(b): not an executable file") }
    benchBaseline = (b, silomerge)
}
if options.scaleFiles > 0 && options.scaleFiles < 1000 { fail("--scale: at least 1000 files (or --no-scale)") }
try? FileManager.default.createDirectory(atPath: options.workdir, withIntermediateDirectories: true)
let work = URL(fileURLWithPath: options.workdir).standardizedFileURL.path
if options.hosts.hosts > 0 {
    var hosts = options.hosts
    hosts.runs = options.runs
    runHostsBenchmark(hosts, silomerge: silomerge, work: work)
}

let cores = ProcessInfo.processInfo.activeProcessorCount
var cpu = "unknown CPU"
if let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
   let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }) {
    cpu = line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? cpu
}
let kernel = kernelRelease()
let filesystem = firstLine(["stat", "-f", "-c", "%T", work]) ?? "unknown file system"
let opensslVersion = firstLine(["openssl", "version"]) ?? "OpenSSL (version unknown)"
let jdupesPath = options.peers ? which("jdupes") : nil
let rdfindPath = options.peers ? which("rdfind") : nil
let noJdupes = options.peers ? "jdupes is not installed" : "--no-peers"

FileHandle.standardError.write(Data("Generating (or reusing) the corpus in \(work)…\n".utf8))
let corpus = generateCorpus(options)

// OpenSSL's own SHA-256 rate on this machine, 16 KiB blocks: the compute limit's denominator.
FileHandle.standardError.write(Data("Measuring openssl speed -evp sha256…\n".utf8))
var shaRate = 0.0   // bytes per second, one core
do {
    let out = "\(work)/openssl-speed.txt"
    _ = measure(["openssl", "speed", "-evp", "sha256", "-bytes", "16384", "-seconds", "3"], stdoutPath: out)
    if let text = try? String(contentsOfFile: out, encoding: .utf8),
       let line = text.split(separator: "\n").last(where: { $0.hasPrefix("sha256") }),
       let value = line.split(separator: " ").last.flatMap({ Double($0.replacingOccurrences(of: "k", with: "")) }) {
        shaRate = value * 1000
    }
}
// A debug build's times say nothing about the product's speed: say so on the report's first lines.
let buildNote = silomerge.contains("/debug/") ? " (a DEBUG build: these figures are not the product's; build with -c release)" : ""
if !buildNote.isEmpty { FileHandle.standardError.write(Data("silomerge-bench: warning: \(silomerge) is a debug build\n".utf8)) }
let machine = "\(cores) cores (\(cpu)) · \(opensslVersion), SHA-256 \(String(format: "%.2f", shaRate / 1e9)) GB/s per core · \(kernel) · workdir on \(filesystem)"
FileHandle.standardError.write(Data("Machine: \(machine)\n".utf8))

/// The compute limit of a full-hash scan of `bytes`: every byte through SHA-256 on every core.
@MainActor func computeLimit(_ bytes: Int64) -> Double { shaRate > 0 ? Double(bytes) / (Double(cores) * shaRate) : 0 }
let noLimit = "openssl speed -evp sha256 gave no rate"

func removeCatalogue(_ path: String) { for s in ["", "-wal", "-shm", "-lock", "-open-lock"] { try? FileManager.default.removeItem(atPath: path + s) } }

/// Reads every file once, so that the timed runs start with a warm page cache.
func warm(_ root: String) { _ = measure(["sh", "-c", "find \"$0\" -type f -print0 | xargs -0 cat > /dev/null", root]) }

FileHandle.standardError.write(Data("Warming the page cache…\n".utf8))
warm(corpus.root)

let runs = options.runs
let silos = zip(corpus.silos, corpus.siloPaths).map { "\($0)=\($1)" }
var rows: [Row] = []
FileHandle.standardError.write(Data("Timing (\(runs) runs after a warm-up, medians):\n".utf8))
let mainGroup = "benchmark corpus"

let auditDB = "\(work)/audit.sqlite"
let auditRows = benchTogether([BenchCommand(label: "silomerge audit", argv: [silomerge, "audit", "-q", "--catalog", auditDB] + silos, fresh: auditDB)]
                              + (jdupesPath.map { [BenchCommand(label: "jdupes -r -q", argv: [$0, "-r", "-q"] + corpus.siloPaths)] } ?? []),
                              runs: runs)
let audit = auditRows[0]
rows += auditRows
if auditRows.count == 2 {
    record(.rows(mainGroup, "audit ≤ 0.5× jdupes, warm cache", ours: audit, reference: auditRows[1], limit: 0.5))
} else {
    record(.notMeasured(mainGroup, "audit ≤ 0.5× jdupes, warm cache", limit: 0.5, why: noJdupes))
}

let fullDB = "\(work)/full.sqlite"
// With the metadata cost: the same scan without reading metadata, run for run.
let fullRows = benchTogether([
    BenchCommand(label: "silomerge scan --hash full", argv: [silomerge, "scan", "-q", "--hash", "full", "--catalog", fullDB] + silos, fresh: fullDB),
    BenchCommand(label: "silomerge scan --hash full --no-metadata",
                 argv: [silomerge, "scan", "-q", "--hash", "full", "--no-metadata", "--catalog", fullDB] + silos, fresh: fullDB),
], runs: runs)
let (full, fullNoMeta) = (fullRows[0], fullRows[1])
rows += fullRows
record(.ratio(mainGroup, "full-hash scan with metadata ≤ 1.3× compute limit", ours: full.median, reference: computeLimit(corpus.bytes),
              referenceLabel: "compute limit", limit: 1.3, failed: failedRows([full]), missing: shaRate > 0 ? nil : noLimit))

/// CPU with metadata over CPU without, less one: the cost of reading metadata (≤ +10 %).
func metadataCost(_ group: String, with: Row, without: Row) -> Target {
    var t = Target(group: group, name: "metadata cost ≤ +10 % CPU", kind: .cpuCost, measured: with.medianCPU,
                   reference: without.medianCPU, referenceLabel: "--no-metadata", unit: "cpu_s", ratio: nil, limit: 0.10,
                   pass: nil, why: nil)
    if let failed = failedRows([with, without]) { t.pass = false; t.why = failed } else if without.medianCPU > 0 {
        t.ratio = with.medianCPU / without.medianCPU - 1
        t.pass = t.ratio! <= t.limit
    } else { t.why = "the scan without metadata measured 0 CPU" }
    return t
}
record(metadataCost(mainGroup, with: full, without: fullNoMeta))

removeCatalogue(fullDB)
removeCatalogue(baselineCatalogue(fullDB))
prepare([silomerge, "scan", "-q", "--hash", "full", "--catalog", fullDB] + silos)
// The rescan, the nightly check (the same incremental rescan plus the comparison with the last
// scan) and the floor for both, `find` stat-ing every file of the tree single-threaded, run for run.
let rescanRows = benchTogether([
    BenchCommand(label: "silomerge scan (unchanged rescan)", argv: [silomerge, "scan", "-q", "--catalog", fullDB] + silos),
    BenchCommand(label: "silomerge check (unchanged)", argv: [silomerge, "check", "-q", "--catalog", fullDB]),
    BenchCommand(label: "find -printf (stat every file)", argv: ["find", corpus.root, "-printf", "%s %T@ %C@ %i\\n"]),
], runs: runs)
let (rescan, check, findRow) = (rescanRows[0], rescanRows[1], rescanRows[2])
// And with a tenth of the files re-read for bit rot.
let checkVerify = bench("silomerge check --verify-fraction 0.1", runs: runs,
                        [silomerge, "check", "-q", "--verify-fraction", "0.1", "--catalog", fullDB])
rows += rescanRows + [checkVerify]
record(.rows(mainGroup, "unchanged rescan ≤ 1.2× find", ours: rescan, reference: findRow, limit: 1.2))
record(.rows(mainGroup, "unchanged check ≤ 1.3× find", ours: check, reference: findRow, limit: 1.3))

var groupCheck = "not checked (\(noJdupes))"
if let jdupes = jdupesPath {
    // Same groups? Both outputs reduced to groups of inodes.
    let theirs = "\(work)/jdupes.txt", ours = "\(work)/silomerge-groups.txt"
    _ = measure([jdupes, "-r", "-q"] + corpus.siloPaths, stdoutPath: theirs)
    removeCatalogue(auditDB)
    _ = measure([silomerge, "audit", "-q", "--catalog", auditDB] + silos)
    _ = measure([silomerge, "duplicates", "--format", "fdupes", "--catalog", auditDB], stdoutPath: ours)
    let a = inodeGroups(ours, relativeTo: work), b = inodeGroups(theirs, relativeTo: work, withoutSidecars: true)
    groupCheck = a == b ? "yes: \(grouped(a.count)) groups, identical (XMP sidecars aside: silomerge attaches them to their asset)" : "NO: silomerge \(a.count) groups, jdupes \(b.count); \(a.subtracting(b).count) only in silomerge, \(b.subtracting(a).count) only in jdupes"
}
if let rdfind = rdfindPath {
    rows.append(bench("rdfind -dryrun true", runs: runs,
                      [rdfind, "-dryrun", "true", "-outputname", "/dev/null"] + corpus.siloPaths, cwd: work))
}
if options.peers, let rmlint = which("rmlint") {
    rows.append(bench("rmlint", runs: runs, [rmlint, "-o", "fdupes:/dev/null"] + corpus.siloPaths, cwd: work))
}

// Audit with a cold page cache: each run of each tool starts from an emptied cache (last of
// the benchmark corpus's measurements, since it leaves the cache cold).
var coldRows: [Row] = []
let coldName = "audit ≤ 0.5× jdupes, cold cache"
if options.coldRuns == 0 {
    record(.notMeasured(mainGroup, coldName, limit: 0.5, why: "--no-cold"))
} else {
    FileHandle.standardError.write(Data("  cold cache: silomerge audit\(jdupesPath == nil ? "" : " and jdupes -r -q"), \(options.coldRuns) runs each ".utf8))
    var commands: [(label: String, argv: [String], fresh: String?)] =
        [("silomerge audit (cold cache)", [silomerge, "audit", "-q", "--catalog", auditDB] + silos, auditDB)]
    if let jdupes = jdupesPath { commands.append(("jdupes -r -q (cold cache)", [jdupes, "-r", "-q"] + corpus.siloPaths, nil)) }
    switch coldRuns(commands, runs: options.coldRuns, sample: sampleFiles(corpus.root, count: 200)) {
    case .success(let measured):
        FileHandle.standardError.write(Data(String(format: " %.2f s\n", measured[0].median).utf8))
        coldRows = measured
        rows += measured
        if measured.count == 2 {
            record(.rows(mainGroup, coldName, ours: measured[0], reference: measured[1], limit: 0.5))
        } else {
            record(.notMeasured(mainGroup, coldName, limit: 0.5, why: noJdupes))
        }
    case .failure(let error):
        FileHandle.standardError.write(Data("\n".utf8))
        record(.notMeasured(mainGroup, coldName, limit: 0.5, why: error.why))
    }
}

// The media corpus: photos, videos, audio, documents, where reading metadata is real work.
var mediaInfo: (files: Int, bytes: Int64, root: String)?
let mediaGroup = "media corpus"
let mediaNames = [("full-hash scan with metadata ≤ 1.3× compute limit", 1.3), ("audit ≤ 0.5× jdupes, warm cache", 0.5),
                  ("unchanged rescan ≤ 1.2× find", 1.2)]
if options.media != "" {
    let media: (root: String, files: Int, bytes: Int64)?
    if let dir = options.media {
        media = countTree(URL(fileURLWithPath: dir).standardizedFileURL.path)
    } else {
        media = generateMediaCorpus(workdir: work, photos: options.mediaPhotos)
    }
    if let media, media.files > 0 {
        FileHandle.standardError.write(Data("Media corpus: \(grouped(media.files)) files, \(human(media.bytes)) in \(media.root)\n".utf8))
        warm(media.root)
        let db = "\(work)/media.sqlite"
        let silo = "media=\(media.root)"
        let scans = benchTogether([
            BenchCommand(label: "silomerge scan --hash full (media)", argv: [silomerge, "scan", "-q", "--hash", "full", "--catalog", db, silo], fresh: db),
            BenchCommand(label: "silomerge scan --hash full --no-metadata (media)",
                         argv: [silomerge, "scan", "-q", "--hash", "full", "--no-metadata", "--catalog", db, silo], fresh: db),
        ], runs: runs)
        let (with, without) = (scans[0], scans[1])
        rows += scans
        record(.ratio(mediaGroup, mediaNames[0].0, ours: with.median, reference: computeLimit(media.bytes),
                      referenceLabel: "compute limit", limit: 1.3, failed: failedRows([with]), missing: shaRate > 0 ? nil : noLimit))
        let mediaAuditDB = "\(work)/media-audit.sqlite"
        let audits = benchTogether(
            [BenchCommand(label: "silomerge audit (media)", argv: [silomerge, "audit", "-q", "--catalog", mediaAuditDB, silo], fresh: mediaAuditDB)]
                + (jdupesPath.map { [BenchCommand(label: "jdupes -r -q (media)", argv: [$0, "-r", "-q", media.root])] } ?? []),
            runs: runs)
        rows += audits
        removeCatalogue(mediaAuditDB)
        if audits.count == 2 {
            record(.rows(mediaGroup, mediaNames[1].0, ours: audits[0], reference: audits[1], limit: 0.5))
        } else {
            record(.notMeasured(mediaGroup, mediaNames[1].0, limit: 0.5, why: noJdupes))
        }
        removeCatalogue(db)
        removeCatalogue(baselineCatalogue(db))
        prepare([silomerge, "scan", "-q", "--hash", "full", "--catalog", db, silo])
        let rescans = benchTogether([
            BenchCommand(label: "silomerge scan (unchanged rescan, media)", argv: [silomerge, "scan", "-q", "--catalog", db, silo]),
            BenchCommand(label: "find -printf (media)", argv: ["find", media.root, "-printf", "%s %T@ %C@ %i\\n"]),
        ], runs: runs)
        let (mediaRescan, mediaFind) = (rescans[0], rescans[1])
        rows += rescans
        record(.rows(mediaGroup, mediaNames[2].0, ours: mediaRescan, reference: mediaFind, limit: 1.2))
        record(metadataCost(mediaGroup, with: with, without: without))
        removeCatalogue(db)
        removeCatalogue(baselineCatalogue(db))
        mediaInfo = (media.files, media.bytes, media.root)
    } else {
        for (name, limit) in mediaNames { record(.notMeasured(mediaGroup, name, limit: limit, why: "no media corpus (see above)")) }
        record(.notMeasured(mediaGroup, "metadata cost ≤ +10 % CPU", kind: .cpuCost, limit: 0.10, why: "no media corpus (see above)"))
    }
} else {
    for (name, limit) in mediaNames { record(.notMeasured(mediaGroup, name, limit: limit, why: "--no-media")) }
    record(.notMeasured(mediaGroup, "metadata cost ≤ +10 % CPU", kind: .cpuCost, limit: 0.10, why: "--no-media"))
}

// Memory per file and audit CPU on trees of tiny files: the base tree and --scale files, each
// command's median peak RSS on both; per file = (peak at N − peak at base) ÷ (N − base).
let scaleGroup = "tiny files at scale"
let scaleCommands = ["scan", "audit", "check", "duplicates"]
var scaleLines: [String] = []
var scaleFigures: [String: Any] = [:]
if options.scaleFiles > 0 {
    let sizes = [min(options.scaleBase, options.scaleFiles / 10), options.scaleFiles]
    FileHandle.standardError.write(Data("Scale test: \(grouped(sizes[0])) and \(grouped(sizes[1])) tiny files, \(options.scaleRuns) runs each (trees generated once, reused):\n".utf8))
    let db = "\(work)/scale.sqlite", auditScaleDB = "\(work)/scale-audit.sqlite"
    // Rows by command, for each size.
    var bySize: [[String: Row]] = []
    for files in sizes {
        let tree = generateTinyTree(files: files, workdir: work)
        let silo = "big=\(tree)/big"
        warm(tree)
        var commands: [(String, [String], String?, String)] = [
            ("scan", [silomerge, "scan", "-q", "--catalog", db, silo], db, "/dev/null"),
            ("check", [silomerge, "check", "-q", "--catalog", db], nil, "/dev/null"),
            ("duplicates", [silomerge, "duplicates", "--format", "json", "--catalog", db], nil, "/dev/null"),
            ("audit", [silomerge, "audit", "-q", "--catalog", auditScaleDB, silo], auditScaleDB, "/dev/null"),
        ]
        if let jdupes = jdupesPath { commands.append(("jdupes", [jdupes, "-r", "-q", "\(tree)/big"], nil, "/dev/null")) }
        if let rdfind = rdfindPath {
            commands.append(("rdfind", [rdfind, "-dryrun", "true", "-outputname", "/dev/null", "\(tree)/big"], nil, "/dev/null"))
        }
        var got: [String: Row] = [:]
        FileHandle.standardError.write(Data("  \(grouped(files)) files: ".utf8))
        // Run for run, every command in turn: scan (fresh catalogue), check and duplicates on
        // what it recorded, audit (fresh catalogue), then the peers.
        for _ in 0..<options.scaleRuns {
            for (label, argv, fresh, out) in commands {
                if let fresh { removeCatalogue(fresh) }
                got[label, default: Row(label: label, runs: [])].runs.append(measure(argv, stdoutPath: out))
                FileHandle.standardError.write(Data(".".utf8))
            }
        }
        FileHandle.standardError.write(Data("\n".utf8))
        removeCatalogue(db); removeCatalogue(auditScaleDB)
        if let b = options.baseline, files == options.scaleFiles {
            let m = measure([b, "scan", "-q", "--catalog", baselineCatalogue(db), silo])
            removeCatalogue(baselineCatalogue(db))
            scaleLines.append(String(format: "  baseline scan at %@ files: %.1f s, peak RSS %@ (this build: %@)", grouped(files), m.wall,
                                     human(Int64(m.peakRSSKiB) * 1024), human(Int64(got["scan"]!.medianPeak) * 1024)))
        }
        bySize.append(got)
    }
    let (base, all) = (bySize[0], bySize[1])
    let extra = Double(sizes[1] - sizes[0])
    for label in scaleCommands + ["jdupes", "rdfind"] {
        guard let b = base[label], let a = all[label] else { continue }
        let perFile = Double(a.medianPeak - b.medianPeak) * 1024 / extra
        scaleLines.append(String(format: "  %@: %@ files %.2f s, %.2f s CPU, peak RSS %@; %@ files: %.2f s, %.2f s CPU, peak RSS %@ → %.0f B per added file%@",
                                 label, grouped(sizes[0]), b.median, b.medianCPU, human(Int64(b.medianPeak) * 1024),
                                 grouped(sizes[1]), a.median, a.medianCPU, human(Int64(a.medianPeak) * 1024), perFile,
                                 failedRows([b, a]).map { " (FAILED: \($0))" } ?? ""))
        scaleFigures[label] = ["base_files": sizes[0], "files": sizes[1], "base_peak_rss_kib": b.medianPeak, "peak_rss_kib": a.medianPeak,
                               "bytes_per_file": perFile, "seconds": a.median, "cpu_seconds": a.medianCPU, "base_seconds": b.median,
                               "failed": failedRows([b, a]) ?? ""]
        guard scaleCommands.contains(label) else { continue }   // jdupes and rdfind: for reference
        var t = Target(group: scaleGroup, name: "\(label) ≤ 100 B/file peak RSS at \(grouped(sizes[1])) files", kind: .bytesPerFile,
                       measured: Double(a.medianPeak) * 1024, reference: Double(b.medianPeak) * 1024,
                       referenceLabel: "base (\(grouped(sizes[0])) files)", unit: "bytes", ratio: perFile, limit: 100, pass: perFile <= 100)
        if let failed = failedRows([b, a]) { t.pass = false; t.why = failed; t.ratio = nil }
        record(t)
    }
    let cpuName = "audit CPU ≤ 1.0× jdupes at \(grouped(sizes[1])) tiny files"
    if let ours = all["audit"], let theirs = all["jdupes"] {
        record(.rows(scaleGroup, cpuName, ours: ours, reference: theirs, limit: 1.0, cpu: true))
    } else {
        record(.notMeasured(scaleGroup, cpuName, limit: 1.0, why: noJdupes))
    }
} else {
    for label in scaleCommands {
        record(.notMeasured(scaleGroup, "\(label) ≤ 100 B/file peak RSS", kind: .bytesPerFile, limit: 100, why: "--no-scale"))
    }
    record(.notMeasured(scaleGroup, "audit CPU ≤ 1.0× jdupes at scale", limit: 1.0, why: "--no-scale"))
}

// MARK: - Report

var report = """
    SiloMerge benchmark · \(Date().formatted(.iso8601.year().month().day()))
    Machine: \(machine)
    silomerge: \(silomerge)\(buildNote)
    Corpus: \(grouped(corpus.files)) files, \(human(corpus.bytes)) in \(corpus.silos.count) silos and \(grouped(corpus.folders)) folders (seed \(options.seed)); page cache warm but for the cold-cache rows
    \(mediaInfo.map { "Media corpus: \(grouped($0.files)) files, \(human($0.bytes)) (\($0.root))" } ?? "Media corpus: not measured")

    | command | median | min | max | CPU (median) | peak RSS |
    |---|---:|---:|---:|---:|---:|

    """
for r in rows {
    report += String(format: "| %@%@ | %.2f s | %.2f s | %.2f s | %.2f s | %@ |\n", r.label, r.failure, r.median, r.min, r.max, r.medianCPU,
                     human(Int64(r.peak) * 1024))
}
report += "\nOther figures:\n"
var ratios: [String: Double] = [:]
ratios["full_over_rescan"] = full.median / rescan.median
ratios["full_over_check"] = full.median / check.median
ratios["full_over_check_verify"] = full.median / checkVerify.median
report += String(format: "- first full scan / unchanged rescan: %.1f×; / unchanged check: %.1f×; / check --verify-fraction 0.1: %.1f×%@\n",
                 full.median / rescan.median, full.median / check.median, full.median / checkVerify.median,
                 failedRows([full, rescan, check, checkVerify]).map { " (FAILED: \($0))" } ?? "")
report += String(format: "- full-hash scan --no-metadata / compute limit: %.2f× (limit %.2f s = %@ ÷ (%d cores × %.2f GB/s))%@\n",
                 fullNoMeta.median / max(0.001, computeLimit(corpus.bytes)), computeLimit(corpus.bytes), human(corpus.bytes), cores, shaRate / 1e9,
                 failedRows([fullNoMeta]).map { " (FAILED: \($0))" } ?? "")
report += "- same duplicate groups as jdupes -r (hard links aside): \(groupCheck)\n"
if let b = options.baseline, !baselineRows.isEmpty {
    report += "\nBefore/after: this build against --baseline \(b), run for run in the same session (ratio < 1: this build is faster)\n\n"
    report += "| command | this build | baseline | ratio | CPU this | CPU baseline | ratio |\n|---|---:|---:|---:|---:|---:|---:|\n"
    for base in baselineRows {
        guard let mine = rows.first(where: { $0.label == base.label }) else { continue }
        report += String(format: "| %@%@ | %.2f s | %.2f s | %.2f× | %.2f s | %.2f s | %.2f× |\n", base.label,
                         mine.failure + base.failure.replacingOccurrences(of: "FAILED", with: "baseline FAILED"), mine.median, base.median,
                         mine.median / max(0.001, base.median), mine.medianCPU, base.medianCPU,
                         mine.medianCPU / max(0.001, base.medianCPU))
    }
}
if !scaleLines.isEmpty { report += "\nTiny files at scale (medians of \(options.scaleRuns); peak RSS from GNU time):\n" + scaleLines.joined(separator: "\n") + "\n" }
report += "\nTargets of issue #14 (target · measured vs reference · ratio (limit) · result):\n"
let groupOrder = [mainGroup, scaleGroup, mediaGroup]
for group in groupOrder {
    report += "\n\(group):\n"
    for t in targets where t.group == group { report += "- \(t.line)\n" }
}
report += "\nSummary:\n\n" + summaryTable(groupOrder.flatMap { g in targets.filter { $0.group == g } })
print(report)

if let path = options.json {
    var object: [String: Any] = [
        "date": ISO8601DateFormatter().string(from: Date()), "cores": cores, "cpu": cpu, "sha256_bytes_per_second": shaRate,
        "machine": ["cores": cores, "cpu": cpu, "openssl": opensslVersion, "sha256_bytes_per_second": shaRate, "kernel": kernel,
                    "filesystem": filesystem],
        "silomerge": silomerge, "debug_build": !buildNote.isEmpty,
        "corpus": ["files": corpus.files, "bytes": corpus.bytes, "folders": corpus.folders, "seed": Int(options.seed)],
        "commands": rows.map { ["label": $0.label, "median": $0.median, "min": $0.min, "max": $0.max, "cpu_median": $0.medianCPU,
                                "peak_rss_kib": $0.peak, "failed": $0.failure.isEmpty ? false : true] },
        "ratios": ratios, "groups_equal_jdupes": groupCheck, "compute_limit_seconds": computeLimit(corpus.bytes),
    ]
    // The targets through their Codable form (explicit nulls for what was not measured).
    if let data = try? JSONEncoder().encode(targets), let list = try? JSONSerialization.jsonObject(with: data) {
        object["targets"] = list
    }
    if !scaleFigures.isEmpty { object["scale"] = scaleFigures }
    if let m = mediaInfo { object["media_corpus"] = ["root": m.root, "files": m.files, "bytes": m.bytes] }
    if !baselineRows.isEmpty {
        object["baseline"] = ["binary": options.baseline ?? "",
                              "commands": baselineRows.map { ["label": $0.label, "median": $0.median, "cpu_median": $0.medianCPU,
                                                              "peak_rss_kib": $0.peak] }]
    }
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]),
          FileManager.default.createFile(atPath: path, contents: data) else {
        fail("cannot write --json \(path)")
    }
}
