import Foundation
import Testing
@testable import SiloMergeCore
import SiloMergeTestSupport

@Suite("silomerge.yml")
struct ConfigurationTests {
    @Test("The bundled Fixtures configuration loads with silos, manifests and policies")
    func fixturesConfig() throws {
        let config = try SiloMergeConfiguration.load(path: fixturesURL.appendingPathComponent("silomerge.yml").path)
        #expect(config.silos.map(\.name) == ["marketing", "hr", "training"])
        #expect(config.silos.map(\.priority) == [1, 2, 3])
        #expect(config.silos[0].root.string == fixturesURL.appendingPathComponent("marketing").path)
        let marketing = try #require(config.manifests["marketing"])
        #expect(marketing.pathColumn == "File")
        #expect(marketing.columns.contains { $0.column == "Tags" && $0.field == .keywords && $0.split == ";" })
        #expect(config.manifests["training"]?.columns.contains { $0.column == "Subject" && $0.split == "|" } == true)
        #expect(config.reconcile?[.rights] == .conflict)
        #expect(config.reconcile?[.keywords] == .union)
    }

    func parse(_ yaml: String) throws -> SiloMergeConfiguration {
        try SiloMergeConfiguration.parse(yaml, source: "test.yml", relativeTo: FilePath("/base"))
    }

    @Test("Relative paths are relative to the file; includes and excludes are kept")
    func paths() throws {
        let c = try parse("""
            silos:
              - name: a
                path: silos/a
                exclude: ["*.tmp", "cache/"]
                include: "*.jpg"
              - name: b
                path: /abs/b
            """)
        #expect(c.silos[0].root.string == "/base/silos/a")
        #expect(c.silos[0].excludes == ["*.tmp", "cache/"])
        #expect(c.silos[0].includes == ["*.jpg"])
        #expect(c.silos[1].root.string == "/abs/b")
        #expect(c.silos[1].priority == 2)
    }

    @Test("Mistakes are refused with the file, line and what is wrong",
          arguments: [
            ("silos:\n  - name: a\n    path: x\n    priorty: 1\n", "unknown key 'priorty'", 4),
            ("silos:\n  - name: a\n    path: x\n    priority: high\n", "must be a whole number", 4),
            ("silos:\n  - path: x\n", "has no name", 2),
            ("silos:\n  - name: a\n", "has no path", 2),
            ("silos:\n  - name: a\n    path: x\n  - name: a\n    path: y\n", "used twice", 4),
            ("silos: []\nreconcile:\n  rights: maybe\n", "unknown policy 'maybe'", 3),
            ("silos: []\nreconcile:\n  colour: union\n", "unknown field 'colour'", 3),
            ("silos:\n  - name: a\n    path: x\n    manifest:\n      file: m.csv\n      path_column: File\n      columns:\n        Tags: keywords, splat \";\"\n", "split", 8),
            ("silos:\n  - name: a\n    path: x\n    exclude: ['[oops']\n", "without its closing", 2),
            ("catalog: x.sqlite\n", "no 'silos:' list", 1),
            ("silos: [unclosed\n", "not valid YAML", nil),
          ])
    func errors(yaml: String, message: String, line: Int?) {
        do {
            _ = try parse(yaml)
            Issue.record("accepted: \(yaml)")
        } catch let error as ConfigError {
            #expect(error.description.contains(message), "\(error)")
            if let line { #expect(error.line == line, "\(error)") }
            #expect(error.description.hasPrefix("test.yml"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("A missing or binary file says so")
    func unreadableFile() throws {
        #expect(throws: ConfigError.self) { try SiloMergeConfiguration.load(path: "/nonexistent/silomerge.yml") }
        let tree = try TestTree()
        try tree.write("bad.yml", [0xFF, 0xFE, 0x00, 0x41])
        #expect(throws: ConfigError.self) { try SiloMergeConfiguration.load(path: tree.url("bad.yml").path) }
    }
}
