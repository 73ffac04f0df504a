import Foundation
import Testing
import SiloMergeTestSupport
#if canImport(Glibc)
import Glibc
#endif

// `report --html` shows the same photo at other sizes in its *Similar images* section, each image
// with a small thumbnail embedded as a data: URI, made from the file on disk when the page is
// written. Images made by ImageMagick (as in SimilarImagesCLITests); the thumbnails are decoded
// back by ImageMagick, a decoder other than the one that made them.
@Suite("Similar images in the HTML report")
struct SimilarReportCLITests {
    private func tool(_ name: String, _ arguments: [String], in dir: URL) throws -> String {
        let (status, data) = try toolOutput(name, arguments, in: dir)
        #expect(status == 0, "\(name) \(arguments.joined(separator: " "))")
        return String(decoding: data, as: UTF8.self)
    }

    static let hostile = "<img src=x onerror=alert(1)>\"&'.jpg"

    @Test("report --html lists derivative groups with decodable, bounded thumbnails, escapes every name, and notes files gone or undecodable")
    func similarSectionWithThumbnails() throws {
        try #require(commandExists("convert") && commandExists("identify"), "ImageMagick is needed (.ci/run installs imagemagick)")
        let ws = try Workspace()
        for d in ["archive", "web"] {
            try FileManager.default.createDirectory(at: ws.url.appendingPathComponent(d), withIntermediateDirectories: true)
        }
        func convert(_ a: String...) throws { _ = try tool("convert", a, in: ws.url) }
        try convert("-seed", "3", "-size", "800x600", "plasma:fractal", "-blur", "0x2", "-quality", "92", "archive/photo.jpg")
        try convert("-seed", "9", "-size", "800x600", "plasma:fractal", "-blur", "0x2", "-quality", "92", "archive/other.jpg")
        try convert("archive/photo.jpg", "-resize", "50%", "-quality", "60", "web/" + Self.hostile)
        try convert("archive/photo.jpg", "-resize", "60%", "web/photo.png")
        try convert("archive/photo.jpg", "-resize", "30%", "-rotate", "90", "web/turned.jpg")
        try convert("archive/photo.jpg", "-resize", "40%", "-quality", "75", "web/latin1.webp")
        try convert("archive/photo.jpg", "-resize", "45%", "-quality", "70", "web/zeroed.jpg")
        try convert("archive/other.jpg", "-resize", "25%", "-quality", "80", "web/other-thumb.jpg")
        try convert("archive/other.jpg", "-resize", "50%", "-quality", "80", "web/other-gone.jpg")
        // A name that is not UTF-8 (Latin-1 "café.webp").
        let web = Array(ws.url.appendingPathComponent("web").path.utf8)
        let renamed = RawTree.cPath(web + Array("/latin1.webp".utf8)) { from in
            RawTree.cPath(web + [0x2F, 0x63, 0x61, 0x66, 0xE9] + Array(".webp".utf8)) { to in rename(from, to) }
        }
        #expect(renamed == 0)

        let scan = try ws.run("scan", "--similar-images", "--catalog", "c.db", "archive=archive", "web=web")
        #expect(scan.status == 0, "\(scan.stderr)")
        // After the scan: one derivative vanishes, another is overwritten (same size) with bytes
        // that are no image.
        try FileManager.default.removeItem(at: ws.url.appendingPathComponent("web/other-gone.jpg"))
        let zeroed = ws.url.appendingPathComponent("web/zeroed.jpg")
        try Data(count: try Data(contentsOf: zeroed).count).write(to: zeroed)

        let r = try ws.run("report", "--html", "r.html", "--catalog", "c.db")
        #expect(r.status == 0, "\(r.stderr)")
        let page = try String(contentsOf: ws.url.appendingPathComponent("r.html"), encoding: .utf8)
        let start = try #require(page.range(of: "<section id=\"similar\""), "no Similar images section")
        let section = String(page[start.lowerBound...].prefix { _ in true })
        let end = try #require(section.range(of: "</section>"))
        let similar = String(section[..<end.lowerBound])
        #expect(page.contains("href=\"#similar\""))

        // Two groups: the photo (master: the original, most pixels) with five derivatives, the
        // other photo with two.
        let rows = similar.components(separatedBy: "<tr>").dropFirst(2)  // the header row, then one per group
        #expect(rows.count == 2, "\(similar)")
        let first = try #require(rows.first), second = try #require(rows.dropFirst().first)
        #expect(first.contains("photo.jpg") && first.contains("master: most pixels"))
        for name in ["photo.png", "turned.jpg", "caf\\xE9.webp", "zeroed.jpg", "&lt;img src=x onerror=alert(1)&gt;"] {
            #expect(first.contains(name), "group 1 lacks \(name)")
        }
        #expect(first.contains("turned 90°"))
        #expect(second.contains("other.jpg") && second.contains("other-thumb.jpg") && second.contains("other-gone.jpg"))
        #expect(!first.contains("other-thumb.jpg") && !second.contains("photo.png"))

        // No name reaches the page as markup.
        #expect(!page.contains("<img src=x"), "an unescaped name")
        #expect(!page.contains("onerror=alert(1)>\""))

        // Thumbnails: every image still readable has one; each decodes (ImageMagick) as a JPEG of
        // at most 96 pixels a side and 8 KB, in the proportions of its image.
        let pattern = try NSRegularExpression(pattern: "<img class=\"thumb\" src=\"data:image/jpeg;base64,([A-Za-z0-9+/=]+)\" alt=\"([^\"]*)\" width=\"([0-9]+)\" height=\"([0-9]+)\"")
        let ns = similar as NSString
        let matches = pattern.matches(in: similar, range: NSRange(location: 0, length: ns.length))
        #expect(matches.count == 7, "thumbnails: \(matches.count)")   // 9 images, 2 without
        var alts: [String] = []
        for (i, m) in matches.enumerated() {
            let bytes = try #require(Data(base64Encoded: ns.substring(with: m.range(at: 1))))
            #expect(bytes.count <= 8192)
            let file = "thumb\(i).jpg"
            try bytes.write(to: ws.url.appendingPathComponent(file))
            let info = try tool("identify", ["-format", "%m %w %h", file], in: ws.url).split(separator: " ").map(String.init)
            #expect(info.count == 3 && info[0] == "JPEG", "\(info)")
            let w = Int(info[1]) ?? 0, h = Int(info[2]) ?? 0
            #expect(w > 0 && h > 0 && max(w, h) <= 96, "\(w)×\(h)")
            #expect("\(w)" == ns.substring(with: m.range(at: 3)) && "\(h)" == ns.substring(with: m.range(at: 4)))
            let alt = ns.substring(with: m.range(at: 2))
            alts.append(alt)
            // Landscape photos give landscape thumbnails; the copy turned a quarter, a portrait one.
            if alt.hasSuffix("turned.jpg") { #expect(h > w, "\(alt): \(w)×\(h)") } else { #expect(w > h, "\(alt): \(w)×\(h)") }
        }
        #expect(alts.contains("web:&lt;img src=x onerror=alert(1)&gt;&quot;&amp;&#39;.jpg") || alts.contains { $0.contains("&lt;img src=x") },
                "\(alts)")
        #expect(alts.contains("web:caf\\xE9.webp"), "\(alts)")
        #expect(!alts.contains { $0.hasSuffix("zeroed.jpg") || $0.hasSuffix("other-gone.jpg") })
        // The two without one say why.
        #expect(similar.contains("no thumbnail: cannot be read: the file is gone since the scan"), "\(similar)")
        #expect(similar.contains("no thumbnail: not supported") || similar.contains("no thumbnail: cannot be decoded"), "\(similar)")
        #expect(similar.contains("7 images)") || similar.contains("(7 images"), "the lede counts the thumbnails")
    }

    @Test("without perceptual hashes the section says how to get them")
    func sectionWithoutHashes() throws {
        let ws = try Workspace()
        try ws.write("a/x.txt", "one")
        try ws.write("b/x.txt", "one")
        #expect(try ws.run("scan", "--catalog", "c.db", "a=a", "b=b").status == 0)
        let r = try ws.run("report", "--html", "r.html", "--catalog", "c.db")
        #expect(r.status == 0, "\(r.stderr)")
        let page = try String(contentsOf: ws.url.appendingPathComponent("r.html"), encoding: .utf8)
        #expect(page.contains("<section id=\"similar\""))
        #expect(page.contains("No perceptual hashes in the catalogue: silomerge scan --similar-images computes them."))
    }
}
