import Foundation
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
#if canImport(Glibc)
import Glibc
#endif
import SiloMergeTestSupport

/// Nested aliases: `levels` anchors, each a list of ten aliases of the one before, so the last
/// stands for 10^levels values while the text stays a few hundred bytes.
private func aliasBomb(levels: Int, indent: String) -> (anchors: String, top: String) {
    var lines = "\(indent)l0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
    for i in 1..<levels {
        lines += "\(indent)l\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ",") + "]\n"
    }
    return (lines, "*a\(levels - 1)")
}

/// A digest for any prefix: resolutions tests need no catalogue.
private func anyAsset(_ prefix: String) -> [SHA256Digest] {
    [SHA256Digest(hex: prefix + String(repeating: "0", count: 64 - prefix.count))!]
}

@Suite("Hostile YAML: one guard for every YAML input")
struct YAMLGuardTests {
    @Test("A configuration whose aliases would explode is refused at once, as a value or as a mapping key",
          .timeLimit(.minutes(3)))
    func configurationBomb() throws {
        // As a mapping key: Yams hashes keys while composing, so the guard must run before it.
        let bomb = aliasBomb(levels: 7, indent: "")
        let asKey = bomb.anchors + "? \(bomb.top)\n: 1\nsilos: []\n"
        var nested = "[&a0 [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]"
        for i in 1..<7 { nested += ", &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ",") + "]" }
        let asValue = "silos:\n  - name: a\n    path: x\n    exclude: \(nested)]\n"
        for (yaml, what) in [(asKey, "key"), (asValue, "value")] {
            let started = Date()
            do {
                _ = try SiloMergeConfiguration.parse(yaml, source: "bomb.yml", relativeTo: FilePath("/base"))
                Issue.record("accepted an alias bomb as a \(what)")
            } catch let error as ConfigError {
                #expect(error.description.contains("aliases"), "\(what): \(error)")
                #expect(error.description.hasPrefix("bomb.yml:"), "\(error)")
            }
            #expect(Date().timeIntervalSince(started) < 5, "\(what): the guard took too long")
        }
    }

    @Test("A resolutions file with an alias bomb under a valid asset's keywords is refused, with its line",
          .timeLimit(.minutes(3)))
    func resolutionsBomb() throws {
        var yaml = "9508fa57:\n  keywords: [&a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]"
        for i in 1..<7 { yaml += ", &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ",") + "]" }
        yaml += "]\n"
        #expect(yaml.utf8.count < 500)
        do {
            _ = try Resolutions.parse(yaml, file: "decisions.yml", lookup: anyAsset)
            Issue.record("accepted an alias bomb")
        } catch let error as ReconcileError {
            #expect(error.reason.contains("aliases"), "\(error)")
            #expect(error.line == 2, "\(error)")
        }
    }

    @Test("Ordinary anchors and aliases still work (a shared exclude list)")
    func plainAliases() throws {
        let c = try SiloMergeConfiguration.parse("""
            silos:
              - name: a
                path: a
                exclude: &junk ["*.tmp", "cache/"]
              - name: b
                path: b
                exclude: *junk
            """, source: "ok.yml", relativeTo: FilePath("/base"))
        #expect(c.silos[1].excludes == ["*.tmp", "cache/"])
    }

    @Test("Nesting deeper than the guard allows is refused with its line")
    func deepNesting() {
        let yaml = "silos: " + String(repeating: "[", count: 200) + String(repeating: "]", count: 200) + "\n"
        do {
            _ = try SiloMergeConfiguration.parse(yaml, source: "deep.yml", relativeTo: FilePath("/base"))
            Issue.record("accepted 200 levels")
        } catch let error as ConfigError {
            #expect(error.description.contains("nested more than"), "\(error)")
            #expect(error.line == 1)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("No reader composes YAML but through YAMLInput")
    func oneLoader() throws {
        let sources = fixturesURL.deletingLastPathComponent().appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(atPath: sources.path)!.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }
        var offenders: [String] = []
        for file in files where !file.hasSuffix("YAMLInput.swift") {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            for call in ["compose(yaml:", "load(yaml:", "load_all(yaml:", "compose_all(yaml:", "YAMLDecoder", "Yams.Parser"] where text.contains(call) {
                offenders.append("\(file): \(call)")
            }
        }
        #expect(offenders.isEmpty, "YAML read outside YAMLInput: \(offenders)")
    }
}

@Suite("Input files: every failure names the file and why")
struct InputFileTests {
    func message(_ path: String) -> String {
        do {
            _ = try SiloMergeConfiguration.load(path: path)
            return "loaded"
        } catch {
            return "\(error)"
        }
    }

    @Test("A folder, a missing file, a device, a FIFO with no writer, a huge file, and bytes that are not UTF-8",
          .timeLimit(.minutes(3)))
    func failures() throws {
        let tree = try TestTree()
        try tree.mkdir("folder.yml")
        try tree.fifo("pipe.yml")
        try tree.write("latin1.yml", [0x73, 0x69, 0x6C, 0x6F, 0x73, 0x3A, 0x20, 0xE9, 0x0A])
        try tree.write("huge.yml", [UInt8](repeating: 0x20, count: SiloMergeConfiguration.maximumFileSize + 1))
        let folder = message(tree.url("folder.yml").path)
        #expect(folder == "\(tree.url("folder.yml").path): is a folder, not a file")
        #expect(!folder.contains("NSCocoaErrorDomain"))
        #expect(message(tree.url("nothing.yml").path).hasSuffix("nothing.yml: no such file"))
        #expect(message("/dev/null").contains("/dev/null: is a character device, not a file"))
        // Opened without blocking: no writer reads as an empty file, at once.
        #expect(message(tree.url("pipe.yml").path).hasSuffix("pipe.yml: is empty"))
        #expect(message(tree.url("huge.yml").path).contains("more than the 4.0 MiB"))
        #expect(message(tree.url("latin1.yml").path).contains("is not UTF-8 text (the byte at offset 7"))
        do {
            _ = try Resolutions.load(path: tree.url("folder.yml").path, lookup: anyAsset)
            Issue.record("read a folder")
        } catch let error as ReconcileError {
            #expect(error.description == "\(tree.url("folder.yml").path): is a folder, not a file")
        }
    }

    @Test("A path through a file, and the reasons for every errno, say what is wrong")
    func reasons() throws {
        let tree = try TestTree()
        try tree.write("plain.txt", "x")
        #expect(message(tree.url("plain.txt").path + "/silomerge.yml").hasSuffix("a folder on its path is not a folder (ENOTDIR)"))
        #expect(InputFile.reason(opening: Errno(EACCES)) == "permission denied (EACCES)")
        #expect(InputFile.reason(opening: Errno(ELOOP)) == "too many symbolic links on its path (ELOOP)")
    }
}

@Suite("Resolutions are checked against their field's type and range")
struct ResolutionValidationTests {
    @Test("Values an export could not write are refused with their line",
          arguments: [
            ("rating: 7", "from -1 (rejected) to 5, found \"7\""),
            ("rating: 4.5", "from -1 (rejected) to 5, found \"4.5\""),
            ("rating: high", "from -1 (rejected) to 5"),
            ("orientation: 9", "from 1 to 8"),
            ("date_created: yesterday", "expected a date such as 2023-06-14"),
            ("date_created: \"2023-13-45\"", "expected a date"),
            ("gps: [91, 10]", "latitude -90 to 90"),
            ("gps: [45, 181]", "longitude -180 to 180"),
            ("title: \"\"", "is empty"),
            ("title: \"bell\\a\"", "control character U+0007"),
            ("keywords: []", "empty list"),
            ("width: 640", "measured from the content itself"),
            ("format: jpeg", "measured from the content itself"),
            ("title: [a, b]", "expected a text"),
          ])
    func refused(line: String, message: String) {
        let yaml = "9508fa57:\n  \(line)\n"
        do {
            _ = try Resolutions.parse(yaml, file: "d.yml", lookup: anyAsset)
            Issue.record("accepted \(line)")
        } catch let error as ReconcileError {
            #expect(error.line == 2, "\(error)")
            #expect(error.description.contains(message), "\(error)")
            #expect(error.description.hasPrefix("d.yml:2: \(line.prefix { $0 != ":" }):"), "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("Valid values are kept, dates in ISO 8601")
    func accepted() throws {
        let r = try Resolutions.parse("""
            9508fa57:
              rating: -1
              orientation: 6
              date_created: "2023:06:14 18:32:07"
              gps: [38.7139, -9.1394]
              keywords: a; b
              description: |
                Two lines,
                kept as written.
            """, file: "d.yml", lookup: anyAsset)
        let sha = anyAsset("9508fa57")[0]
        #expect(r.value(for: sha, field: .rating) == .integer(-1))
        #expect(r.value(for: sha, field: .orientation) == .integer(6))
        #expect(r.value(for: sha, field: .dateCreated) == .date("2023-06-14T18:32:07"))
        #expect(r.value(for: sha, field: .keywords) == .list(["a", "b"]))
        #expect(r.value(for: sha, field: .description) == .text("Two lines,\nkept as written."))
        let exported = ExportWriter.descriptive(ReconciledAsset(sha256: sha, size: 1, format: .jpeg, copies: [], fields: [
            ReconciledField(field: .rating, value: r.value(for: sha, field: .rating), status: .resolved, rule: .manual, sources: []),
            ReconciledField(field: .dateCreated, value: r.value(for: sha, field: .dateCreated), status: .resolved, rule: .manual, sources: []),
        ]))
        #expect(exported.1.isEmpty, "an accepted resolution must be writable: \(exported.1)")
    }
}

