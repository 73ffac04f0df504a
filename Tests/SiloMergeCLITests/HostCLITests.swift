import Foundation
import Testing

@Suite("--host: a silo is scanned on the host that catalogued it")
struct HostCLITests {
    @Test("scan, check and silos add take --host; another host's scan of a silo is refused with exit 64 and the way out")
    func otherHostRefused() throws {
        let ws = try Workspace()
        try ws.write("s/a.txt", "alpha")
        let first = try ws.run("scan", "s", "--host", "nas-1")
        #expect(first.status == 0, "\(first.stderr)")
        let other = try ws.run("scan", "s", "--host", "nas-2")
        #expect(other.status == 64)
        #expect(other.stderr.contains("silo 's' is catalogued as a folder of host nas-1, and this is host nas-2: scan it on that host, or give --host nas-1"),
                "\(other.stderr)")
        #expect(try ws.run("check", "--host", "nas-2").status == 64)
        #expect(try ws.run("check", "--host", "nas-1").status == 0)
        // Without --host, this machine's id is not nas-1: refused too.
        #expect(try ws.run("scan", "s").status == 64)
        #expect(try ws.run("silos", "add", "t=s", "--host", "bad\u{1}name").status == 64)
        // The list says which host a silo of another host is on.
        let list = try ws.run("silos")
        #expect(list.status == 0 && list.out.contains("(on host nas-1)"), "\(list.out)")
    }
}
