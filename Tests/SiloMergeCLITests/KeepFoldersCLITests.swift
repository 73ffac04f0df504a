import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

// `plan --keep-folders` end to end: a folder copied whole into another silo (renamed files),
// one content twice inside it, loose copies elsewhere. The plan keeps the higher-priority
// silo's folder whole under Folders/<silo>/<path>; apply, verify and undo treat its
// placements like any other.

/// Deterministic bytes (xorshift).
private func bytes(_ count: Int, seed: UInt64) -> Data {
    var state = seed &* 0x9E3779B97F4A7C15 | 1
    return Data((0..<count).map { _ in
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return UInt8(truncatingIfNeeded: state)
    })
}

/// The project folder: five files, one content twice (raw/IMG_0001.CR2 and raw/dupe.CR2).
private let project: [(String, Data)] = [
    ("brief.pdf", bytes(9_000, seed: 1)), ("cover.jpg", bytes(7_000, seed: 2)),
    ("raw/IMG_0001.CR2", bytes(12_000, seed: 3)), ("raw/dupe.CR2", bytes(12_000, seed: 3)),
    ("notes/todo.txt", bytes(300, seed: 5)),
]

private func makeSilos(_ ws: Workspace) throws {
    func put(_ path: String, _ data: Data) throws {
        let url = ws.url.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url)
    }
    for (name, data) in project { try put("design/projects/alpha/\(name)", data) }
    // The copy in marketing, every file renamed (names do not count).
    for (i, (name, data)) in project.enumerated() {
        let folder = name.split(separator: "/").dropLast().joined(separator: "/")
        try put("marketing/from design/alpha copy/\(folder.isEmpty ? "" : folder + "/")renamed-\(i).bin", data)
    }
    // Loose copies, and files of their own.
    try put("design/loose/cover-copy.jpg", project[1].1)
    try put("marketing/misc/brief-again.pdf", project[0].1)
    try put("design/solo.bin", bytes(4_444, seed: 9))
    try put("marketing/solo.bin", bytes(5_555, seed: 10))
}

private let catalogueFiles: Set<String> = ["silomerge.sqlite", "silomerge.sqlite-wal", "silomerge.sqlite-shm", "silomerge.sqlite-lock"]

@Suite("plan --keep-folders, end to end")
struct KeepFoldersCLITests {
    @Test("the kept folder lands whole under Folders/<silo>/<path>; apply, verify, undo", arguments: ["copy", "move"])
    func keepFolders(method: String) throws {
        let ws = try Workspace()
        try makeSilos(ws)
        #expect(try ws.run("scan", "-q", "--hash", "full", "design=design", "marketing=marketing").status == 0)
        let silos = regularFiles(ws.url, skipping: catalogueFiles)

        let made = try ws.run("plan", "--target", "dam", "-o", "plan.json", "--keep-folders", "--method", method,
                              "--duplicates", "quarantine", "--allow-conflicts")
        #expect(made.status == 0, "\(made.stderr)")
        let plan = try json([UInt8](Data(contentsOf: ws.url.appendingPathComponent("plan.json")))) as! [String: Any]
        #expect((plan["settings"] as! [String: Any])["keep_folders"] as? Bool == true)
        let ops = plan["operations"] as! [[String: Any]]
        let transfers = ops.filter { ($0["kind"] as? String) == method }
        let destinations = Set(transfers.compactMap { $0["destination"] as? String })
        let kept = Set(project.map { "Folders/design/projects/alpha/\($0.0)" })
        // The folder's five files (its content held twice carried twice), and the two solo
        // files by the layout; nothing of the folder placed by the layout.
        #expect(destinations.filter { $0.hasPrefix("Folders/") } == kept, "\(destinations.sorted())")
        #expect(transfers.count == 7, "\(destinations.sorted())")
        let byLayout = destinations.filter { !$0.hasPrefix("Folders/") }
        #expect(byLayout.count == 2 && byLayout.allSatisfy { $0.split(separator: "/").last!.hasPrefix("solo") }, "\(byLayout)")
        // design/projects holds nothing but alpha, marketing/from design nothing but its copy:
        // the wrappers are the outer group, and the kept one brings alpha/ with it.
        let reasons = transfers.compactMap { $0["reason"] as? String }
        #expect(reasons.filter { $0.contains("in design:projects/, kept whole (--keep-folders) as the copy of marketing:from design/") }.count == 5,
                "\(reasons)")
        #expect(reasons.filter { $0.contains("another copy of a content the kept folders hold more than once") }.count == 1)
        // The marketing folder (five names) and the two loose copies are duplicates of it.
        let quarantined = ops.filter { ($0["kind"] as? String) == "quarantine-duplicate" }
        #expect(quarantined.count == 7)
        let show = try ws.run("plan", "show", "plan.json")
        #expect(show.out.contains("Duplicate folders: one of each group kept whole under Folders/<silo>/<path>"), "\(show.out)")

        let applied = try ws.run("apply", "plan.json")
        #expect(applied.status == 0, "\(applied.stderr)\(applied.out)")
        let verify = try ws.run("verify", "plan.json")
        #expect(verify.status == 0, "\(verify.out)")
        #expect(verify.out.contains("complete and valid"))
        let target = regularFiles(ws.url.appendingPathComponent("dam"), skipping: [".silomerge-quarantine"])
        for (name, data) in project {
            #expect(target["Folders/design/projects/alpha/\(name)"] == data, "\(name)")
        }
        #expect(target.count == 7, "\(target.keys.sorted())")
        #expect(ws.exists("dam/.silomerge-quarantine/marketing/from design/alpha copy/raw/renamed-3.bin"))
        #expect(ws.exists("dam/.silomerge-quarantine/design/loose/cover-copy.jpg"))
        #expect(ws.exists("design/projects/alpha/brief.pdf") == (method == "copy"))

        let undo = try ws.run("undo", "plan.json")
        #expect(undo.status == 0, "\(undo.stderr)")
        let after = regularFiles(ws.url, skipping: catalogueFiles.union(["plan.json", "plan.json.journal", "plan.json.journal-lock", "dam"]))
        #expect(after == silos, "undo restores every source byte for byte")
        #expect(regularFiles(ws.url.appendingPathComponent("dam")).isEmpty)
    }

    @Test("a layout or quarantine folder under Folders/ is refused with --keep-folders; fine without a folder group")
    func reservedRoot() throws {
        let ws = try Workspace()
        try makeSilos(ws)
        #expect(try ws.run("scan", "-q", "--hash", "full", "design=design", "marketing=marketing").status == 0)
        let layout = try ws.run("plan", "--target", "dam", "-o", "plan.json", "--keep-folders", "--layout", "folders/{silo}/{name}")
        #expect(layout.status == 64, "\(layout.stderr)")
        #expect(layout.stderr.contains("--keep-folders keeps folders under Folders/ in the target, and the layout places"), "\(layout.stderr)")
        #expect(!ws.exists("plan.json"))
        let quarantine = try ws.run("plan", "--target", "dam", "-o", "plan.json", "--keep-folders", "--duplicates", "quarantine",
                                    "--quarantine", "dam/Folders/q")
        #expect(quarantine.status == 64, "\(quarantine.stderr)")
        #expect(quarantine.stderr.contains("the quarantine folder is there too"), "\(quarantine.stderr)")
        // The same layout without --keep-folders is an ordinary plan.
        #expect(try ws.run("plan", "--target", "dam", "-o", "plan.json", "--layout", "folders/{silo}/{name}").status == 0)
    }
}
