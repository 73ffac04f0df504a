import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What a run of the built `silomerge` binary printed and returned.
struct CommandResult {
    var stdout: [UInt8]
    var stderr: String
    var status: Int32
    var out: String { String(decoding: stdout, as: UTF8.self) }
}

/// The folder SwiftPM built the products in (the test binary sits there too).
let productsDirectory: URL = {
    if let override = ProcessInfo.processInfo.environment["SILOMERGE_BIN_DIR"] { return URL(fileURLWithPath: override) }
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    for _ in 0..<4 {
        url.deleteLastPathComponent()
        if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("silomerge").path) { return url }
    }
    return Bundle.main.bundleURL
}()

/// Runs `silomerge` with `arguments` in `directory`, stdout and stderr captured through files
/// (no pipe can fill up and block), with a timeout so a hang fails the test instead of CI.
func silomerge(_ arguments: [String], in directory: URL, timeout: TimeInterval = 120,
               environment: [String: String] = [:]) throws -> CommandResult {
    try command(productsDirectory.appendingPathComponent("silomerge"), arguments, in: directory, timeout: timeout, environment: environment)
}

/// Runs `executable` as `silomerge(_:in:)` runs the binary (the repository's tools, too).
func command(_ executable: URL, _ arguments: [String], in directory: URL, timeout: TimeInterval = 120,
             environment: [String: String] = [:]) throws -> CommandResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.currentDirectoryURL = directory
    var env = ProcessInfo.processInfo.environment
    env.merge(environment) { $1 }
    process.environment = env
    let outURL = directory.appendingPathComponent(".stdout-\(UUID().uuidString)")
    let errURL = directory.appendingPathComponent(".stderr-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: outURL); try? FileManager.default.removeItem(at: errURL) }
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning {
        process.terminate()
        Issue.record("\(executable.lastPathComponent) \(arguments.joined(separator: " ")) did not finish within \(timeout) s")
    }
    process.waitUntilExit()
    try out.close(); try err.close()
    return CommandResult(stdout: [UInt8](try Data(contentsOf: outURL)),
                         stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self),
                         status: process.terminationStatus)
}

/// A temporary folder, removed at the end of the test.
final class Workspace {
    let url: URL
    init(_ label: String = #function) throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("silomerge-e2e-\(label.filter { $0.isLetter })-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    /// Copies the bundled Fixtures (silos, manifests, configuration) here.
    func copyFixtures() throws {
        for item in try FileManager.default.contentsOfDirectory(atPath: fixturesURL.path) {
            try FileManager.default.copyItem(at: fixturesURL.appendingPathComponent(item), to: url.appendingPathComponent(item))
        }
    }

    func write(_ relative: String, _ text: String) throws {
        let target = url.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: target)
    }

    func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: url.appendingPathComponent(relative).path) }

    func run(_ arguments: String..., timeout: TimeInterval = 120) throws -> CommandResult {
        try silomerge(arguments, in: url, timeout: timeout)
    }
}

let fixturesURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures")

func truth() throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: fixturesURL.appendingPathComponent("truth.json"))) as! [String: Any]
}

func json(_ bytes: [UInt8]) throws -> Any { try JSONSerialization.jsonObject(with: Data(bytes)) }

func commandExists(_ name: String) -> Bool {
    (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        .contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }
}

/// Every regular file under `root` (relative path → bytes), symlinks and folders aside, skipping
/// these top names (and what is below them): what a test compares before and after.
func regularFiles(_ root: URL, skipping: Set<String> = []) -> [String: Data] {
    var out: [String: Data] = [:]
    guard let e = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else { return out }
    for case let url as URL in e {
        let rel = String(url.path.dropFirst(root.path.count + 1))
        if skipping.contains(where: { rel == $0 || rel.hasPrefix($0 + "/") }) { e.skipDescendants(); continue }
        if (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true { out[rel] = try? Data(contentsOf: url) }
    }
    return out
}

/// Runs a real producer (ImageMagick's convert, exiftool, ...) in `dir`, its output discarded;
/// a failure is a test issue naming the command.
func runTool(_ name: String, _ arguments: [String], in dir: URL) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [name] + arguments
    p.currentDirectoryURL = dir
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0, "\(name) \(arguments.joined(separator: " "))")
}
