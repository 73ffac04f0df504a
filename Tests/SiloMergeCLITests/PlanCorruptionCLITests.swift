import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("plan and open corruption, end to end")
struct PlanCorruptionCLITests {
    @Test("plan refuses while corruption is open (exit 4, the files and what to do), and plans again once restored or accepted")
    func planRefusesOpenCorruption() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        #expect(try ws.run("scan", "--config", "silomerge.yml").status == 0)
        // Two files rot behind an unchanged size and mtime.
        func rot(_ path: String) throws -> Data {
            let url = ws.url.appendingPathComponent(path)
            let good = try Data(contentsOf: url)
            var st = stat(); _ = stat(url.path, &st)
            var bytes = [UInt8](good); bytes[bytes.count / 2] ^= 0x20
            try Data(bytes).write(to: url)
            var times = [st.st_mtim, st.st_mtim]
            _ = utimensat(AT_FDCWD, url.path, &times, 0)
            return good
        }
        let logo = try rot("hr/logo.png")
        _ = try rot("training/module-02/images/venue-map.png")
        #expect(try ws.run("check", "--rehash", "-q").status == 4)

        let refused = try ws.run("plan", "--target", "dam", "-o", "plan.json", "--allow-conflicts")
        #expect(refused.status == 4, "\(refused.stderr)")
        #expect(refused.stderr.contains("2 files have corruption still open"), "\(refused.stderr)")
        #expect(refused.stderr.contains("hr:logo.png"))
        #expect(refused.stderr.contains("training:module-02/images/venue-map.png"))
        #expect(refused.stderr.contains("silomerge check --accept"))
        #expect(!ws.exists("plan.json"))

        // One restored from a good copy (here: its old bytes): still refused, for the other alone.
        var st = stat(); _ = stat(ws.url.appendingPathComponent("hr/logo.png").path, &st)
        try logo.write(to: ws.url.appendingPathComponent("hr/logo.png"))
        var times = [st.st_mtim, st.st_mtim]
        _ = utimensat(AT_FDCWD, ws.url.appendingPathComponent("hr/logo.png").path, &times, 0)
        #expect(try ws.run("check", "--rehash", "-q").status == 4)
        let still = try ws.run("plan", "--target", "dam", "-o", "plan.json", "--allow-conflicts")
        #expect(still.status == 4)
        #expect(still.stderr.contains("1 file has corruption still open"), "\(still.stderr)")
        #expect(!still.stderr.contains("hr:logo.png"))

        // The other accepted: planned.
        #expect(try ws.run("check", "--accept", "training:module-02/images/venue-map.png", "--reason", "re-exported").status == 0)
        let made = try ws.run("plan", "--target", "dam", "-o", "plan.json", "--allow-conflicts")
        #expect(made.status == 0, "\(made.stderr)")
        #expect(ws.exists("plan.json"))
    }
}
