// silomerge-bench: the project's benchmark.
//
// Generates a deterministic corpus of departmental silos (duplicates across silos, near misses,
// hard links), warms the page cache, then times `silomerge audit`, a full-hash `silomerge scan`
// (with and without metadata) and an unchanged rescan, and the peers that are installed (jdupes,
// rdfind, rmlint) on the same corpus in the same run. Reports medians, CPU time, peak memory and
// ratios, checks that silomerge finds the same duplicate groups as jdupes, measures the CPU that
// reading metadata adds on that corpus and on a corpus of real media files (generated with
// ImageMagick, libheif, ffmpeg and exiftool, or given with --media DIR), and measures memory per
// file on a large tree of tiny files.
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
    var scaleFiles = 300_000
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
                               [--workdir DIR] [--no-peers] [--scale N | --no-scale] [--json FILE]
                               [--media DIR | --media-photos N | --no-media] [--baseline BIN]
               silomerge-bench --hosts N [--pg URL] [--files-per-host N] [--catalogue-files N,N...] [--runs N]

          --files N      files in the corpus (default 90000)
          --bytes SIZE   total size, e.g. 4G, 500M (default 4G)
          --runs N       measured runs per command, after one warm-up run (default 5); medians reported
          --workdir DIR  where corpora and catalogues go (default .build-bench, reused between runs)
          --no-peers     do not run jdupes, rdfind, rmlint
          --scale N      files in the memory-per-file test (default 300000); --no-scale skips it
          --quick        5000 files, 200M, 3 runs, scale test at 30000 files
          --json FILE    also write the figures as JSON
          --media DIR    measure the metadata cost on this folder of real photos, videos, audio and
                         documents instead of generating one
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
            case "--quick": o.files = 5000; o.bytes = 200 << 20; o.runs = 3; o.scaleFiles = 30_000; o.mediaPhotos = 8
            case "--files": o.files = need(Int(value()), "--files: a number")
            case "--bytes": o.bytes = need(parseSize(value()), "--bytes: a size like 4G")
            case "--runs": o.runs = max(1, need(Int(value()), "--runs: a number"))
            case "--seed": o.seed = need(UInt64(value()), "--seed: a number")
            case "--workdir": o.workdir = value()
            case "--no-peers": o.peers = false
            case "--scale": o.scaleFiles = need(Int(value()), "--scale: a number")
            case "--no-scale": o.scaleFiles = 0
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

/// Many tiny files, for memory per file.
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
            m.status = status
            m.cpu = user + system
        }
    }
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
    _ = measure(argv)
    if let b = baselineArgv(argv) { _ = measure(b) }
}

/// One warm-up run, then `runs` measured ones; `fresh` (a catalogue) is removed ahead of each
/// (not timed). With `--baseline`, a silomerge command is run with the baseline binary too, on
/// its own catalogue, alternating with this build run for run, so both see the same machine
/// noise. A run that exits with a status other than 0 or 1 marks the row failed.
func bench(_ label: String, runs: Int, fresh: String? = nil, _ argv: [String], cwd: String? = nil) -> Row {
    FileHandle.standardError.write(Data("  \(label) ".utf8))
    let baseArgv = baselineArgv(argv)
    func ours() -> Measurement {
        if let fresh { removeCatalogue(fresh) }
        return measure(argv, cwd: cwd)
    }
    func theirs(_ b: [String]) -> Measurement {
        if let fresh { removeCatalogue(baselineCatalogue(fresh)) }
        return measure(b, cwd: cwd)
    }
    let warm = ours()
    if warm.status != 0 && warm.status != 1 {
        FileHandle.standardError.write(Data("(exit \(warm.status)) ".utf8))
    }
    if let baseArgv { _ = theirs(baseArgv) }
    var row = Row(label: label, runs: [])
    var base = Row(label: label, runs: [])
    for _ in 0..<runs {
        row.runs.append(ours())
        if let baseArgv { base.runs.append(theirs(baseArgv)) }
        FileHandle.standardError.write(Data(".".utf8))
    }
    FileHandle.standardError.write(Data(String(format: " %.2f s\n", row.median).utf8))
    if baseArgv != nil { baselineRows.append(base) }
    return row
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

// Warm the page cache: every file read once.
FileHandle.standardError.write(Data("Warming the page cache…\n".utf8))
_ = measure(["sh", "-c", "find \(corpus.root) -type f -print0 | xargs -0 cat > /dev/null"])

let runs = options.runs
let silos = zip(corpus.silos, corpus.siloPaths).map { "\($0)=\($1)" }
var rows: [Row] = []
FileHandle.standardError.write(Data("Timing (\(runs) runs after a warm-up, medians):\n".utf8))

let auditDB = "\(work)/audit.sqlite"
func removeCatalogue(_ path: String) { for s in ["", "-wal", "-shm", "-lock"] { try? FileManager.default.removeItem(atPath: path + s) } }
let audit = bench("silomerge audit", runs: runs, fresh: auditDB,
                  [silomerge, "audit", "-q", "--catalog", auditDB] + silos)
rows.append(audit)

let fullDB = "\(work)/full.sqlite"
let full = bench("silomerge scan --hash full", runs: runs, fresh: fullDB,
                 [silomerge, "scan", "-q", "--hash", "full", "--catalog", fullDB] + silos)
rows.append(full)
// The metadata cost: the same scan without reading metadata.
let fullNoMeta = bench("silomerge scan --hash full --no-metadata", runs: runs, fresh: fullDB,
                       [silomerge, "scan", "-q", "--hash", "full", "--no-metadata", "--catalog", fullDB] + silos)
rows.append(fullNoMeta)
removeCatalogue(fullDB)
removeCatalogue(baselineCatalogue(fullDB))
prepare([silomerge, "scan", "-q", "--hash", "full", "--catalog", fullDB] + silos)
let rescan = bench("silomerge scan (unchanged rescan)", runs: runs,
                   [silomerge, "scan", "-q", "--catalog", fullDB] + silos)
rows.append(rescan)
// The nightly check: the same incremental rescan plus the comparison with the last scan, and
// with a tenth of the files re-read for bit rot.
let check = bench("silomerge check (unchanged)", runs: runs, [silomerge, "check", "-q", "--catalog", fullDB])
rows.append(check)
let checkVerify = bench("silomerge check --verify-fraction 0.1", runs: runs,
                        [silomerge, "check", "-q", "--verify-fraction", "0.1", "--catalog", fullDB])
rows.append(checkVerify)

// The floor for any rescan: stat every file of the tree, single-threaded.
let findRow = bench("find -printf (stat every file)", runs: runs,
                    ["find", corpus.root, "-printf", "%s %T@ %C@ %i\\n"])
rows.append(findRow)

var jdupesRow: Row?
var groupCheck = "not checked (jdupes not installed)"
if options.peers, let jdupes = which("jdupes") {
    let row = bench("jdupes -r -q", runs: runs, [jdupes, "-r", "-q"] + corpus.siloPaths)
    rows.append(row)
    jdupesRow = row
    // Same groups? Both outputs reduced to groups of inodes.
    let theirs = "\(work)/jdupes.txt", ours = "\(work)/silomerge-groups.txt"
    _ = measure([jdupes, "-r", "-q"] + corpus.siloPaths, stdoutPath: theirs)
    removeCatalogue(auditDB)
    _ = measure([silomerge, "audit", "-q", "--catalog", auditDB] + silos)
    _ = measure([silomerge, "duplicates", "--format", "fdupes", "--catalog", auditDB], stdoutPath: ours)
    let a = inodeGroups(ours, relativeTo: work), b = inodeGroups(theirs, relativeTo: work, withoutSidecars: true)
    groupCheck = a == b ? "yes: \(grouped(a.count)) groups, identical (XMP sidecars aside: silomerge attaches them to their asset)" : "NO: silomerge \(a.count) groups, jdupes \(b.count); \(a.subtracting(b).count) only in silomerge, \(b.subtracting(a).count) only in jdupes"
}
if options.peers, let rdfind = which("rdfind") {
    rows.append(bench("rdfind -dryrun true", runs: runs,
                      [rdfind, "-dryrun", "true", "-outputname", "/dev/null"] + corpus.siloPaths, cwd: work))
}
if options.peers, let rmlint = which("rmlint") {
    rows.append(bench("rmlint", runs: runs, [rmlint, "-o", "fdupes:/dev/null"] + corpus.siloPaths, cwd: work))
}

// The metadata cost on real media: photos, videos, audio, documents.
var mediaRows: (with: Row, without: Row, files: Int, bytes: Int64, root: String)?
if options.media != "" {
    let media: (root: String, files: Int, bytes: Int64)?
    if let dir = options.media {
        media = countTree(URL(fileURLWithPath: dir).standardizedFileURL.path)
    } else {
        media = generateMediaCorpus(workdir: work, photos: options.mediaPhotos)
    }
    if let media, media.files > 0 {
        FileHandle.standardError.write(Data("Media corpus: \(grouped(media.files)) files, \(human(media.bytes)) in \(media.root)\n".utf8))
        _ = measure(["sh", "-c", "find '\(media.root)' -type f -print0 | xargs -0 cat > /dev/null"])
        let db = "\(work)/media.sqlite"
        let with = bench("silomerge scan --hash full (media)", runs: runs, fresh: db,
                         [silomerge, "scan", "-q", "--hash", "full", "--catalog", db, "media=\(media.root)"])
        let without = bench("silomerge scan --hash full --no-metadata (media)", runs: runs, fresh: db,
                            [silomerge, "scan", "-q", "--hash", "full", "--no-metadata", "--catalog", db, "media=\(media.root)"])
        removeCatalogue(db)
        rows.append(with)
        rows.append(without)
        mediaRows = (with, without, media.files, media.bytes, media.root)
    }
}

// Memory per file: trees of tiny files at a tenth, half and all of --scale. Peak memory should
// level off: the walk, the writer's queue and SQLite's caches are all capped.
var scaleLines: [String] = []
var scaleFigures: [String: Any] = [:]
var baselineScale: Measurement?
if options.scaleFiles > 0 {
    FileHandle.standardError.write(Data("Scale test: up to \(options.scaleFiles) files (generated once, reused)…\n".utf8))
    let db = "\(work)/scale.sqlite"
    var points: [(files: Int, m: Measurement)] = []
    for files in [options.scaleFiles / 10, options.scaleFiles / 2, options.scaleFiles] {
        let tree = generateScaleTree(files: files, workdir: work)
        removeCatalogue(db)
        points.append((files, measure([silomerge, "scan", "-q", "--catalog", db, "big=\(tree)/big"])))
        removeCatalogue(db)
        if let b = options.baseline, files == options.scaleFiles {
            baselineScale = measure([b, "scan", "-q", "--catalog", db, "big=\(tree)/big"])
            removeCatalogue(db)
        }
    }
    for p in points {
        scaleLines.append(String(format: "  %@ files: %.1f s, peak RSS %@ (%.0f bytes per file), exit %d", grouped(p.files), p.m.wall,
                                 human(Int64(p.m.peakRSSKiB) * 1024), Double(p.m.peakRSSKiB) * 1024 / Double(p.files), p.m.status))
    }
    let half = points[1], all = points[2]
    let growth = Double(all.m.peakRSSKiB - half.m.peakRSSKiB) * 1024 / Double(all.files - half.files)
    scaleLines.append(String(format: "  from %@ to %@ files, peak memory grew by %.0f bytes per additional file",
                             grouped(half.files), grouped(all.files), growth))
    if let b = baselineScale {
        scaleLines.append(String(format: "  baseline at %@ files: %.1f s, peak RSS %@ (this build: %@)", grouped(all.files), b.wall,
                                 human(Int64(b.peakRSSKiB) * 1024), human(Int64(all.m.peakRSSKiB) * 1024)))
    }
    scaleFigures = ["points": points.map { ["files": $0.files, "peak_rss_kib": $0.m.peakRSSKiB, "seconds": $0.m.wall, "exit": Int($0.m.status)] },
                    "bytes_per_additional_file": growth]
}

// MARK: - Report

let computeLimit = shaRate > 0 ? Double(corpus.bytes) / (Double(cores) * shaRate) : 0
var report = """
    SiloMerge benchmark · \(Date().formatted(.iso8601.year().month().day())) · \(cores) cores (\(cpu)) · OpenSSL SHA-256 \(String(format: "%.2f", shaRate / 1e9)) GB/s per core
    Corpus: \(grouped(corpus.files)) files, \(human(corpus.bytes)) in \(corpus.silos.count) silos and \(grouped(corpus.folders)) folders (seed \(options.seed)); page cache warm

    | command | median | min | max | CPU (median) | peak RSS |
    |---|---:|---:|---:|---:|---:|

    """
for r in rows {
    report += String(format: "| %@%@ | %.2f s | %.2f s | %.2f s | %.2f s | %@ |\n", r.label, r.failure, r.median, r.min, r.max, r.medianCPU,
                     human(Int64(r.peak) * 1024))
}
report += "\n"
var ratios: [String: Double] = [:]
if let j = jdupesRow {
    ratios["audit_over_jdupes"] = audit.median / j.median
    report += String(format: "- audit / jdupes: %.2f× (target ≤ 0.5×)\n", audit.median / j.median)
}
if computeLimit > 0 {
    ratios["full_over_compute_limit"] = full.median / computeLimit
    report += String(format: "- full-hash scan / compute limit: %.2f× (limit %.2f s = %@ ÷ (%d cores × %.2f GB/s); target ≤ 1.3×)\n",
                     full.median / computeLimit, computeLimit, human(corpus.bytes), cores, shaRate / 1e9)
}
ratios["full_over_rescan"] = full.median / rescan.median
report += String(format: "- first full scan / unchanged rescan: %.1f× (target ≥ 20×); the rescan takes %.1f× the time of `find` stat-ing the same tree\n",
                 full.median / rescan.median, rescan.median / findRow.median)
ratios["rescan_over_find"] = rescan.median / findRow.median
ratios["full_over_check"] = full.median / check.median
ratios["full_over_check_verify"] = full.median / checkVerify.median
report += String(format: "- first full scan / unchanged check: %.1f× (target ≥ 20×); with --verify-fraction 0.1: %.1f×\n",
                 full.median / check.median, full.median / checkVerify.median)
report += "- same duplicate groups as jdupes -r (hard links aside): \(groupCheck)\n"
// Metadata cost: CPU of the full scan with metadata over the same scan without (target ≤ +10 %).
let corpusCost = full.medianCPU / max(0.001, fullNoMeta.medianCPU) - 1
ratios["metadata_cpu_cost_corpus"] = corpusCost
report += String(format: "- metadata cost on this corpus: %+.1f %% CPU (%.2f s with metadata, %.2f s without; wall %.2f s vs %.2f s; target ≤ +10 %%)\n",
                 corpusCost * 100, full.medianCPU, fullNoMeta.medianCPU, full.median, fullNoMeta.median)
if let m = mediaRows {
    let cost = m.with.medianCPU / max(0.001, m.without.medianCPU) - 1
    ratios["metadata_cpu_cost_media"] = cost
    report += String(format: "- metadata cost on the media corpus (%@ files, %@): %+.1f %% CPU (%.2f s with metadata, %.2f s without; wall %.2f s vs %.2f s; target ≤ +10 %%)\n",
                     grouped(m.files), human(m.bytes), cost * 100, m.with.medianCPU, m.without.medianCPU, m.with.median, m.without.median)
}
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
if !scaleLines.isEmpty { report += "\nMemory at scale (silomerge scan, tiny files):\n" + scaleLines.joined(separator: "\n") + "\n" }
print(report)

if let path = options.json {
    var object: [String: Any] = [
        "date": ISO8601DateFormatter().string(from: Date()), "cores": cores, "cpu": cpu, "sha256_bytes_per_second": shaRate,
        "corpus": ["files": corpus.files, "bytes": corpus.bytes, "folders": corpus.folders, "seed": Int(options.seed)],
        "commands": rows.map { ["label": $0.label, "median": $0.median, "min": $0.min, "max": $0.max, "cpu_median": $0.medianCPU,
                                "peak_rss_kib": $0.peak] },
        "ratios": ratios, "groups_equal_jdupes": groupCheck, "compute_limit_seconds": computeLimit,
    ]
    if !scaleFigures.isEmpty { object["scale"] = scaleFigures }
    if let m = mediaRows { object["media_corpus"] = ["root": m.root, "files": m.files, "bytes": m.bytes] }
    if !baselineRows.isEmpty {
        object["baseline"] = ["binary": options.baseline ?? "",
                              "commands": baselineRows.map { ["label": $0.label, "median": $0.median, "cpu_median": $0.medianCPU,
                                                              "peak_rss_kib": $0.peak] }]
    }
    if let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) {
        _ = FileManager.default.createFile(atPath: path, contents: data)
    }
}
