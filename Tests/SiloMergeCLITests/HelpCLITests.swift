import Foundation
import Testing

@Suite("--help reads well at 80 columns and in a pipe")
struct HelpCLITests {
    static let commands: [[String]] = [
        [], ["audit"], ["scan"], ["duplicates"], ["reconcile"], ["conflicts"], ["export"], ["check"], ["report"],
        ["plan"], ["plan", "create"], ["plan", "show"], ["apply"], ["undo"], ["verify"], ["silos"], ["silos", "list"],
        ["silos", "remove"], ["history"], ["catalogue"], ["catalogue", "merge"], ["catalogue", "copy"],
    ]

    /// The prose SiloMerge wrote (from the paragraph after OVERVIEW to USAGE).
    static func prose(_ help: String) -> String {
        let lines = help.components(separatedBy: "\n")
        guard let usage = lines.firstIndex(where: { $0.hasPrefix("USAGE:") }) else { return help }
        let start = lines.firstIndex(of: "").map { $0 + 1 } ?? 0
        return start < usage ? lines[start..<usage].joined(separator: "\n") : ""
    }

    @Test("No line is wider than 80 columns, and no sentence of ours is re-wrapped into orphaned words",
          arguments: commands)
    func width(command: [String]) throws {
        let ws = try Workspace()
        let narrow = try silomerge(command + ["--help"], in: ws.url, environment: ["COLUMNS": "80"])
        let piped = try silomerge(command + ["--help"], in: ws.url, environment: ["COLUMNS": ""])
        let wide = try silomerge(command + ["--help"], in: ws.url, environment: ["COLUMNS": "300"])
        for (label, r) in [("80 columns", narrow), ("piped", piped)] {
            #expect(r.status == 0)
            let long = r.out.components(separatedBy: "\n").filter { $0.count > 80 }
            #expect(long.isEmpty, "\(command) \(label): \(long)")
        }
        // Our prose is wrapped by us, under 80 columns: the terminal width changes nothing in it.
        #expect(Self.prose(narrow.out) == Self.prose(wide.out), "\(command): re-wrapped at 80 columns")
        #expect(Self.prose(piped.out) == Self.prose(wide.out), "\(command): re-wrapped in a pipe")
    }
}
