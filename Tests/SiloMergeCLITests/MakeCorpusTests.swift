import Foundation
import Testing
import SiloMergeTestSupport

/// `tools/corpora/make-corpus` and the manifests that pin the corpora the README's metadata
/// figures were measured on.
@Suite("tools/corpora")
struct MakeCorpusTests {
    static let folder = fixturesURL.deletingLastPathComponent().appendingPathComponent("tools/corpora")
    static let tool = folder.appendingPathComponent("make-corpus").path

    func makeCorpus(_ arguments: [String], in ws: Workspace) throws -> CommandResult {
        try command(URL(fileURLWithPath: "/usr/bin/env"), ["python3", Self.tool] + arguments, in: ws.url)
    }

    /// Two checkouts (one with a name that is not ASCII) and a manifest naming three of their files.
    func sources(_ ws: Workspace) throws -> (manifest: String, digests: [String: String]) {
        let files = ["a/jpg/one.jpg": "first picture", "a/jpg/Olympus μ 800.JPG": "second", "b/heic/x.heic": "third"]
        var digests: [String: String] = [:]
        for (path, text) in files {
            try ws.write("src/" + path, text)
            digests[path] = try sha(Array(text.utf8))
        }
        var manifest = "# made up\nsource\ta\thttps://example.org/a\t0123\nsource\tb\thttps://example.org/b\t4567\n"
        for path in files.keys.sorted() {
            let source = String(path.prefix(1)), inside = String(path.dropFirst(2))
            manifest += "file\t\(digests[path]!)\t\(source)\t\(inside)\t\(source == "a" ? "mei" : "exif")/\(inside)\n"
        }
        try ws.write("corpus.tsv", manifest)
        return (manifest, digests)
    }

    @Test("copies every file of the manifest from its checkout and checks each copy's SHA-256", .enabled(if: commandExists("python3")))
    func copiesAndChecks() throws {
        let ws = try Workspace()
        _ = try sources(ws)
        let r = try makeCorpus(["corpus.tsv", "out", "a=src/a", "b=src/b"], in: ws)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.out.contains("3 of 3 files copied"))
        let copied = regularFiles(ws.url.appendingPathComponent("out"))
        #expect(copied.keys.sorted() == ["exif/heic/x.heic", "mei/jpg/Olympus μ 800.JPG", "mei/jpg/one.jpg"])
        #expect(copied["mei/jpg/one.jpg"] == Data("first picture".utf8))
    }

    @Test("a file that differs from the manifest, is missing or is a symbolic link is named, not copied, and the run exits 1", .enabled(if: commandExists("python3")))
    func differentAndMissing() throws {
        let ws = try Workspace()
        _ = try sources(ws)
        try ws.write("src/a/jpg/one.jpg", "edited picture")
        try FileManager.default.removeItem(at: ws.url.appendingPathComponent("src/b/heic/x.heic"))
        // A symbolic link where a file should be is not followed, even to the right bytes.
        let second = ws.url.appendingPathComponent("src/a/jpg/Olympus μ 800.JPG")
        try FileManager.default.moveItem(at: second, to: ws.url.appendingPathComponent("elsewhere.JPG"))
        try FileManager.default.createSymbolicLink(atPath: second.path, withDestinationPath: ws.url.appendingPathComponent("elsewhere.JPG").path)
        let r = try makeCorpus(["corpus.tsv", "out", "a=src/a", "b=src/b"], in: ws)
        #expect(r.status == 1)
        #expect(r.out.contains("0 of 3 files copied"))
        #expect(r.stderr.contains("different: a:jpg/one.jpg"))
        #expect(r.stderr.contains("missing: b:heic/x.heic"))
        #expect(r.stderr.contains("a symbolic link, not the file: a:jpg/Olympus μ 800.JPG"))
        #expect(regularFiles(ws.url.appendingPathComponent("out")).isEmpty, "no wrong or partial copy is left")
    }

    @Test("refuses a manifest path outside the corpus, a missing checkout, an interrupted run's folder and an output folder that is not empty", .enabled(if: commandExists("python3")))
    func refusals() throws {
        let ws = try Workspace()
        let (manifest, _) = try sources(ws)
        try ws.write("hostile.tsv", manifest + "file\t\(String(repeating: "0", count: 64))\ta\t../../etc/passwd\tmei/passwd\n")
        var r = try makeCorpus(["hostile.tsv", "out", "a=src/a", "b=src/b"], in: ws)
        #expect(r.status == 64 && r.stderr.contains("'../../etc/passwd' is not a plain relative path"))
        #expect(!ws.exists("out"), "nothing is written before the manifest is checked")
        try ws.write("twice.tsv", manifest + manifest.split(separator: "\n").last(where: { $0.hasPrefix("file") })! + "\n")
        r = try makeCorpus(["twice.tsv", "out", "a=src/a", "b=src/b"], in: ws)
        #expect(r.status == 64 && r.stderr.contains("is named twice"))
        r = try makeCorpus(["corpus.tsv", "out", "a=src/a"], in: ws)
        #expect(r.status == 64 && r.stderr.contains("no checkout given for b (https://example.org/b"))
        // A run killed part way leaves its marker: the next run into that folder says so.
        try ws.write("killed/.make-corpus-in-progress", "")
        r = try makeCorpus(["corpus.tsv", "killed", "a=src/a", "b=src/b"], in: ws)
        #expect(r.status == 64 && r.stderr.contains("an earlier make-corpus run into it was interrupted"))
        try ws.write("full/keep.txt", "mine")
        r = try makeCorpus(["corpus.tsv", "full", "a=src/a", "b=src/b"], in: ws)
        #expect(r.status == 64 && r.stderr.contains("exists and is not an empty folder"))
        #expect(regularFiles(ws.url.appendingPathComponent("full")).keys.sorted() == ["keep.txt"])
    }

    /// The checked-in manifests: every line well-formed, every file's source declared, and as
    /// many files as their headers (and the README) say were measured.
    @Test("the checked-in manifests are well-formed and hold the corpora the README measured", arguments: [
        ("real-photos.tsv", 516, ["mei", "exif", "immich"]),
        ("metadata-extractor-images.tsv", 1344, ["mei"]),
    ])
    func checkedInManifests(name: String, files: Int, sources: [String]) throws {
        let text = try String(contentsOf: Self.folder.appendingPathComponent(name), encoding: .utf8)
        var declared: [String] = [], targets = Set<String>(), count = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty && !line.hasPrefix("#") {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            if f[0] == "source", f.count == 4 {
                #expect(f[2].hasPrefix("https://github.com/") && f[3].count == 40, "\(line)")
                declared.append(f[1])
            } else {
                #expect(f.count == 5 && f[0] == "file" && f[1].count == 64 && declared.contains(f[2]), "\(line)")
                #expect(!f[3].hasPrefix("/") && !f[3].contains("..") && !f[4].hasPrefix("/") && !f[4].contains(".."))
                #expect(targets.insert(f[4]).inserted, "\(f[4]) twice")
                count += 1
            }
        }
        #expect(declared == sources)
        #expect(count == files)
    }
}
