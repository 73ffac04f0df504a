import Foundation
import Testing
@testable import SiloMergeCore
#if canImport(Glibc)
import Glibc
#endif
import SiloMergeTestSupport

/// Export, the HTML report and plan files write through `AtomicFile`: the same crash and
/// full-disk injection that proves `apply` proves them. A crash at any step leaves the old file
/// or the whole new one under the final name; a full disk leaves the old file and no temporary.
@Suite("Complete files only: export, report and plan writes under crashes and a full disk")
struct AtomicFileTests {
    static let old = Array("the previous export, which must survive whole\n".utf8)

    /// The names in a folder other than `keep`.
    static func others(_ folder: URL, keep: Set<String>) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { !keep.contains($0) }.sorted()
    }

    /// Exports `assets` as `format` to `path` through `fs`.
    static func export(_ format: ExportFormat, to destination: ExportDestination, fs: any FileOps) throws {
        let assets = [ExportTests.assetA(), ExportTests.assetB(), ExportTests.assetC()]
        let writer = try ExportWriter(format: format, destination: destination, fileSystem: fs)
        for a in assets { try writer.write(a) }
        try writer.finish()
    }

    @Test("a crash at every step of a file export leaves the old file or the complete new one, for every single-file format",
          arguments: [ExportFormat.jsonl, .csv, .exiftool, .bagit])
    func crashAtEveryStep(format: ExportFormat) throws {
        let tree = try TestTree()
        let clean = tree.url("clean.out")
        try Self.export(format, to: .file(FilePath(clean.path)), fs: RealFileOps())
        let complete = try Data(contentsOf: clean)
        try FileManager.default.removeItem(at: clean)

        var step = 1
        var sawOld = 0, sawNew = 0
        while step < 200 {
            let target = tree.url("export.out")
            try Data(Self.old).write(to: target)
            let fs = FaultInjectingFileOps(faults: .init(crashAtStep: step))
            var crashed = false
            do { try Self.export(format, to: .file(FilePath(target.path)), fs: fs) } catch is SimulatedCrash {
                crashed = true
            }
            fs.closeAll()
            let now = try Data(contentsOf: target)
            #expect(now == Data(Self.old) || now == complete, "step \(step): \(now.count) bytes under the final name")
            if now == complete { sawNew += 1 } else { sawOld += 1 }
            // What a killed process leaves is a hidden temporary name, never a second visible file.
            for name in Self.others(tree.root, keep: ["export.out"]) {
                #expect(name.hasPrefix(".export.out.silomerge-tmp-"), "step \(step): \(name)")
                try FileManager.default.removeItem(at: tree.url(name))
            }
            if !crashed { break }
            step += 1
        }
        #expect(step > 3 && step < 200, "the export took \(step) steps")
        #expect(sawOld > 0 && sawNew > 0)
    }

    @Test("a disk that fills at any write of a file export: an error that says so, the old file intact, no temporary left",
          arguments: [ExportFormat.jsonl, .csv, .exiftool, .bagit])
    func diskFullAtEveryWrite(format: ExportFormat) throws {
        let tree = try TestTree()
        var write = 1
        while write < 100 {
            let target = tree.url("export.out")
            try Data(Self.old).write(to: target)
            let fs = FaultInjectingFileOps(faults: .init(failWrites: (write, ENOSPC, true)))
            do {
                try Self.export(format, to: .file(FilePath(target.path)), fs: fs)
                break
            } catch let e as ExportError {
                #expect(e.description.contains("disk is full"), "\(e)")
                #expect(e.path == FilePath(target.path), "\(e)")
            }
            #expect(try Data(contentsOf: target) == Data(Self.old))
            #expect(Self.others(tree.root, keep: ["export.out"]).isEmpty, "write \(write)")
            write += 1
        }
        #expect(write > 1, "the first write already failed: the test proves nothing")
    }

    @Test("XMP sidecars: a crash at every step never leaves a partial sidecar under its name; a full disk leaves none")
    func sidecarsUnderFaults() throws {
        let tree = try TestTree()
        let clean = tree.url("clean")
        try Self.export(.xmp, to: .directory(FilePath(clean.path)), fs: RealFileOps())
        let expected = Dictionary(uniqueKeysWithValues: try FileManager.default.contentsOfDirectory(atPath: clean.path).map {
            ($0, try Data(contentsOf: clean.appendingPathComponent($0)))
        })
        #expect(expected.count >= 2)
        var step = 1
        while step < 200 {
            let folder = tree.url("xmp-\(step)")
            let fs = FaultInjectingFileOps(faults: .init(crashAtStep: step))
            var crashed = false
            do { try Self.export(.xmp, to: .directory(FilePath(folder.path)), fs: fs) } catch is SimulatedCrash { crashed = true }
            fs.closeAll()
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] where !name.hasPrefix(".") {
                #expect(try Data(contentsOf: folder.appendingPathComponent(name)) == expected[name], "step \(step): \(name)")
            }
            if !crashed { break }
            step += 1
        }
        #expect(step > 3 && step < 200)

        let full = tree.url("full")
        let fs = FaultInjectingFileOps(faults: .init(failWrites: (2, ENOSPC, true)))
        #expect(throws: ExportError.self) { try Self.export(.xmp, to: .directory(FilePath(full.path)), fs: fs) }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: full.path)) ?? [] {
            #expect(!name.contains("silomerge-tmp"), "a temporary file was left: \(name)")
            #expect(try Data(contentsOf: full.appendingPathComponent(name)) == expected[name], "\(name)")
        }
    }

    @Test("the report and plan writer (InputFile.writeAtomically): a crash at every step, then a full disk")
    func reportAndPlanWrites() throws {
        let tree = try TestTree()
        let page = Array(String(repeating: "<p>SiloMerge report line</p>\n", count: 5000).utf8)  // more than one buffer
        var step = 1
        while step < 50 {
            let target = tree.url("report.html")
            try Data(Self.old).write(to: target)
            let fs = FaultInjectingFileOps(faults: .init(crashAtStep: step))
            var crashed = false
            do { try InputFile.writeAtomically(target.path, page, fs: fs) } catch {
                crashed = fs.crashed
                #expect(crashed, "\(error)")
            }
            fs.closeAll()
            let now = try Data(contentsOf: target)
            #expect(now == Data(Self.old) || now == Data(page), "step \(step)")
            for name in Self.others(tree.root, keep: ["report.html"]) {
                #expect(name.hasPrefix(".report.html.silomerge-tmp-"), "step \(step): \(name)")
                try FileManager.default.removeItem(at: tree.url(name))
            }
            if !crashed { #expect(now == Data(page)); break }
            step += 1
        }
        #expect(step >= 4, "create, write, fsync, rename: \(step)")

        let target = tree.url("plan.json")
        try Data(Self.old).write(to: target)
        let fs = FaultInjectingFileOps(faults: .init(failWrites: (1, ENOSPC, true)))
        do {
            try InputFile.writeAtomically(target.path, page, fs: fs)
            Issue.record("a write to a full disk succeeded")
        } catch {
            #expect(error.reason.contains("disk is full"), "\(error.reason)")
            #expect(error.file == target.path)
        }
        #expect(try Data(contentsOf: target) == Data(Self.old))
        #expect(Self.others(tree.root, keep: ["plan.json", "report.html"]).isEmpty)
    }
}
