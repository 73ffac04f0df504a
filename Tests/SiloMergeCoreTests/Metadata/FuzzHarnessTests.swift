import Foundation
import Testing

/// The libFuzzer harness (tools/fuzz) is built outside SwiftPM from a list of the core's
/// sources: a reader that comes to use a type from a file the list leaves out broke it once,
/// unnoticed until the next fuzzing session. Type-checking it here makes that a test failure.
@Suite("Fuzz harness")
struct FuzzHarnessTests {
    @Test("tools/fuzz/fuzz-metadata.sh --typecheck: the harness compiles from the sources it lists")
    func harnessTypeChecks() throws {
        let repository = Fixture.root.deletingLastPathComponent()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [repository.appendingPathComponent("tools/fuzz/fuzz-metadata.sh").path, "--typecheck"]
        process.currentDirectoryURL = repository
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text.split(separator: "\n").filter { $0.contains("error") }.prefix(10).joined(separator: "\n"))")
        #expect(text.contains("the harness builds from its sources"))
    }
}
