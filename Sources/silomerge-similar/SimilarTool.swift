// silomerge-similar: the measuring tool for perceptual hashing (issue #15). Not the product's
// command line: it hashes, groups and times image files so that tools/similar/ can measure
// accuracy and speed on real photos with the code the scan will use.
import ArgumentParser
import Foundation
import SiloMergeCore
import SiloMergeImaging

@main
struct SimilarTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "silomerge-similar",
        abstract: "Hash, group and time images with SiloMerge's perceptual hash (a measuring tool).",
        discussion: """
            Decodes with libjpeg-turbo (DCT-scaled), libpng, libwebp, libtiff and libheif into a \
            64 x 64 grey preview in display orientation, and hashes it (64-bit DCT pHash; dHash \
            for comparison). tools/similar/measure-accuracy.py and measure-speed.sh drive it.
            """,
        subcommands: [Hash.self, Group.self, Speed.self, Libraries.self])
}

/// Files named on the command line, or one per line in --list.
struct Inputs: ParsableArguments {
    @Option(name: .long, help: "A file with one image path a line (instead of, or besides, FILE arguments).")
    var list: String?

    @Argument(help: "Image files.")
    var files: [String] = []

    func paths() throws -> [String] {
        var all = files
        if let list {
            let text = try String(contentsOfFile: list, encoding: .utf8)
            all += text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        }
        guard !all.isEmpty else { throw ValidationError("no image files given") }
        return all
    }
}

func decode(_ path: String) -> Result<DecodedImage, ImageDecodeError> {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return .failure(.unreadable(String(cString: strerror(errno)))) }
    defer { close(fd) }
    do { return .success(try ImageDecoder.decode(fd: fd)) } catch { return .failure(error) }
}

struct Hash: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print each file's pHash and dHash as JSON lines.")
    @OptionGroup var inputs: Inputs

    struct Line: Encodable {
        var path: String
        var phash: PerceptualHash?
        var phash_median: PerceptualHash?
        var dhash: PerceptualHash?
        var width: Int?
        var height: Int?
        var format: String?
        var orientation: Int?
        var error: String?
    }

    func run() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for path in try inputs.paths() {
            var line = Line(path: path)
            switch decode(path) {
            case .success(let image):
                // A featureless image has no hash the scan would keep: an error row here too.
                switch PerceptualHasher.checkedPHash(image.preview) {
                case .success(let hash): line.phash = hash
                case .failure(let why): line.error = why.description
                }
                line.phash_median = PerceptualHasher.pHashMedian(image.preview)
                line.dhash = PerceptualHasher.dHash(image.preview)
                line.width = image.width
                line.height = image.height
                line.format = image.format.rawValue
                line.orientation = image.orientation
            case .failure(let error):
                line.error = error.description
            }
            print(String(decoding: try encoder.encode(line), as: UTF8.self))
        }
    }
}

struct Group: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Group the files into masters and derivatives (DerivativeGrouping) and print the groups as JSON.",
        discussion: """
            Each file is one candidate: pixels from its decoded size, metadata richness and \
            capture time from SiloMerge's metadata reader (date_created), silo priority 1.
            """)
    @OptionGroup var inputs: Inputs
    @Option(help: "Largest Hamming distance from a master (default: \(DerivativeGrouping.defaultMaxDistance)).")
    var threshold = DerivativeGrouping.defaultMaxDistance
    @Flag(name: .customLong("no-turns"), help: "Do not match turned and mirrored copies.")
    var noTurns = false
    @Flag(name: .customLong("no-capture-times"), help: "Group images even when their capture times differ.")
    var noCaptureTimes = false

    struct Output: Encodable {
        struct Member: Encodable {
            var path: String; var distance: Int; var transform: String; var width: Int; var height: Int
            var captureTime: String?
        }
        struct GroupJSON: Encodable { var master: String; var reason: String; var captureTime: String?; var derivatives: [Member] }
        var groups: [GroupJSON]
        var failures: [String: String]
    }

    func run() throws {
        var candidates: [DerivativeCandidate<String>] = []
        var sizes: [String: (Int, Int)] = [:]
        var failures: [String: String] = [:]
        for path in try inputs.paths() {
            switch decode(path) {
            case .success(let image):
                guard case .success(let hash) = PerceptualHasher.checkedPHash(image.preview) else {
                    failures[path] = "too uniform to compare"
                    continue
                }
                let (richness, time) = metadata(path)
                candidates.append(.init(id: path, hash: hash, width: image.width, height: image.height,
                                        metadataRichness: richness, siloPriority: 1, captureTime: time))
                sizes[path] = (image.width, image.height)
            case .failure(let error):
                failures[path] = error.description
            }
        }
        let groups = DerivativeGrouping.group(candidates, maxDistance: threshold, turnsAndMirrors: !noTurns,
                                              separateCaptureTimes: !noCaptureTimes)
        let output = Output(groups: groups.map { g in
            .init(master: g.master.id, reason: g.reason.rawValue, captureTime: g.master.captureTime?.description,
                  derivatives: g.derivatives.map {
                      .init(path: $0.candidate.id, distance: $0.distance, transform: PerceptualHash.dihedralName($0.transform),
                            width: sizes[$0.candidate.id]!.0, height: sizes[$0.candidate.id]!.1,
                            captureTime: $0.candidate.captureTime?.description)
                  })
        }, failures: failures)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        print(String(decoding: try encoder.encode(output), as: UTF8.self))
    }

    /// How many unified fields the file's embedded metadata fills, and its capture time.
    func metadata(_ path: String) -> (Int, CaptureTime?) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return (0, nil) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return (0, nil) }
        let fields = MetadataReader.reconcileInFile(MetadataReader.read(FileByteSource(fd: fd, size: Int64(st.st_size))))
        return (fields.count, fields[.dateCreated]?.value.date.flatMap(CaptureTime.init(iso:)))
    }
}

struct Speed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time decode + pHash of the files on one thread (files read into memory first).",
        discussion: "Prints each run's images per second, their median, and the peak resident memory (VmHWM).")
    @OptionGroup var inputs: Inputs
    @Option(help: "Measured runs (after one warm-up run).")
    var runs = 5
    @Flag(help: "Read each file with pread inside the timed loop (page cache warm) instead of from memory.")
    var includeRead = false

    func run() throws {
        let paths = try inputs.paths()
        let blobs = try paths.map { try [UInt8](Data(contentsOf: URL(fileURLWithPath: $0))) }
        let loaded = Self.status("VmRSS:")
        func once() throws -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            var sink: UInt64 = 0
            for (i, blob) in blobs.enumerated() {
                let image: DecodedImage
                if includeRead {
                    guard case .success(let decoded) = decode(paths[i]) else { throw ValidationError("\(paths[i]) does not decode") }
                    image = decoded
                } else {
                    image = try blob.withUnsafeBytes { try ImageDecoder.decode($0) }
                }
                sink ^= PerceptualHasher.pHash(image.preview).bits
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if sink == 0x5eed { print("") }  // keep the work observable
            return Double(blobs.count) / seconds
        }
        _ = try once()
        var rates: [Double] = []
        for r in 1...max(1, runs) {
            let rate = try once()
            rates.append(rate)
            print(String(format: "run %d: %.1f images/s", r, rate))
        }
        let sorted = rates.sorted()
        let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        let bytes = blobs.reduce(0) { $0 + $1.count }
        print(String(format: "files: %d, %.2f MB on average", blobs.count, Double(bytes) / Double(blobs.count) / 1e6))
        print(String(format: "median: %.1f images/s on one thread (%.2f ms an image)", median, 1000 / median))
        print("resident with the files loaded: \(loaded), peak resident: \(Self.status("VmHWM:"))")
    }

    static func status(_ key: String) -> String {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return "?" }
        return line.dropFirst(key.count).trimmingCharacters(in: .whitespaces)
    }
}

struct Libraries: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the image libraries linked and what libheif can decode.")
    func run() {
        for (name, version) in ImageDecoder.libraries.sorted(by: { $0.key < $1.key }) { print("\(name): \(version)") }
    }
}
