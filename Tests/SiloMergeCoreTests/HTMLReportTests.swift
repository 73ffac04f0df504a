import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Plot
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

@Suite("HTML audit report")
struct HTMLReportTests {
    // MARK: Figures

    @Test("A sample audit renders its figures, silos, groups, conflicts and check")
    func sampleFigures() throws {
        let data = HTMLReportSample.realistic()
        let html = HTMLReport.render(data)
        #expect(html.hasPrefix("<!DOCTYPE html><html lang=\"en\">"))
        #expect(html.contains("<title>SiloMerge audit</title>"))
        let f = data.figures
        for figure in [Format.count(f.files), Format.bytes(f.bytes), Format.count(f.distinctContents),
                       Format.bytes(f.duplicatedBytes), Format.bytes(f.reclaimableBytes), Format.count(f.conflicts)] {
            #expect(html.contains(">\(figure)</div>"), "summary card \(figure)")
        }
        #expect(html.contains("2026-11-21 19:04 UTC"))
        for silo in data.silos {
            #expect(html.contains("<strong>\(silo.name)</strong>"))
            #expect(html.contains("<code>\(silo.root.replacingOccurrences(of: "&", with: "&amp;"))</code>"))
            #expect(html.contains(">\(Format.bytes(silo.reclaimableBytes)) · "), "bar of \(silo.name)")
        }
        // Every copy of every group, with its silo.
        for group in data.largestGroups {
            for copy in group.copies where !copy.path.contains("<") {
                #expect(html.contains("<span class=\"silo\">\(copy.silo)</span> <code class=\"path\">\(copy.path)</code>"))
            }
            #expect(html.contains("title=\"\(group.sha256)\""))
        }
        #expect(html.contains("117 more groups"))
        #expect(html.contains("silomerge duplicates --format json"))
        // Same image, conflicts, check.
        #expect(html.contains("<li>caption</li>"))
        #expect(html.contains("<span class=\"value\">© Acme Corp. All rights reserved.</span>"))
        #expect(html.contains("<span class=\"origin\">manifest Usage Rights</span>"))
        #expect(html.contains("id=\"t-check\""))
        #expect(html.contains("content changed"))
        // The heatmap: one cell per pair of silos, diagonal included, with tooltips.
        let svgs = Self.svgs(in: html)
        #expect(svgs.count == 3)
        let heatmap = try #require(svgs.first { $0.contains("Silo × silo overlap") })
        #expect(heatmap.components(separatedBy: "<rect").count - 1 >= data.silos.count * data.silos.count)
        #expect(heatmap.contains("<title>marketing and hr: \(Format.bytes(48_234_496)) of identical content (9 contents)</title>"))
        #expect(heatmap.contains("<title>hr: \(Format.bytes(1_258_291)) duplicated inside the silo (2 contents)</title>"))
        #expect(heatmap.contains("<title>rnd and operations: no content in common</title>"))
    }

    // MARK: Safety

    @Test("Hostile names and values appear only as text, in HTML and in SVG")
    func hostile() throws {
        let data = HTMLReportSample.hostile()
        let html = HTMLReport.render(data)
        #expect(html.contains("&lt;img src=x onerror=alert(1)&gt;.jpg"))
        #expect(!html.contains("<img"))
        #expect(!html.contains("<b>"))
        #expect(html.components(separatedBy: "</script>").count - 1 == 1)
        #expect(html.components(separatedBy: "<script").count - 1 == 1)
        #expect(html.contains("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"))
        // The only script is the page's own, at the end of the body.
        let script = try #require(html.range(of: "<script>"))
        #expect(html[script.upperBound...].hasPrefix(HTMLAssets.script))
        // Attribute values: a quote in a hash cannot close its title attribute.
        #expect(html.contains("title=\"&quot; onmouseover=&quot;alert(1)\""))
        #expect(!html.contains("\" onmouseover=\""))
        // Every tag is one the page makes, and no attribute is an event handler.
        let tags = try Self.tags(in: html)
        let allowed: Set<String> = ["!doctype", "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "p",
                                    "code", "time", "nav", "ul", "li", "a", "main", "section", "div", "strong", "span",
                                    "figure", "figcaption", "svg", "g", "rect", "text", "label", "input", "table",
                                    "caption", "thead", "tbody", "tr", "th", "td", "footer", "script", "br", "h3", "ol"]
        for tag in tags {
            #expect(allowed.contains(tag.name), "unexpected tag <\(tag.name)>")
            for attribute in tag.attributes.keys {
                #expect(!attribute.hasPrefix("on"), "event handler \(attribute) on <\(tag.name)>")
                #expect(!["src", "srcset", "action", "formaction", "xlink:href"].contains(attribute))
                if attribute == "style" {
                    // Only the charts' own minimum width, a number the renderer computes.
                    #expect(tag.name == "svg")
                    #expect(tag.attributes["style"]!.wholeMatch(of: /min-width:[0-9.]+px/) != nil)
                }
            }
        }
        // Hand-built SVG stays well-formed with hostile silo names and values.
        for svg in Self.svgs(in: html) { try Self.parseXML(svg) }
        #expect(html.contains("<title>&lt;b&gt;evil&lt;/b&gt; &amp; &quot;co&quot;: "))
    }

    @Test("Text that looks like an entity shows as written, not decoded")
    func entities() {
        var data = HTMLReportSample.realistic()
        data.largestGroups[0].copies[0].path = "AT&T/&lt;b&gt;bold&lt;/b&gt; &#60;x&#62;.jpg"
        data.conflicts[0].sources[0].value = "Smith &amp; Sons"
        let html = HTMLReport.render(data)
        #expect(html.contains("AT&amp;T/&amp;lt;b&amp;gt;bold&amp;lt;/b&amp;gt; &amp;#60;x&amp;#62;.jpg"))
        #expect(html.contains("Smith &amp;amp; Sons"))
    }

    @Test("Plot writes attribute values unescaped, so the report escapes them itself")
    func plotAttributes() {
        // Pins the third-party behaviour the report works around: if Plot starts escaping
        // attribute values, HTMLReport's own escaping would double-escape tooltips.
        let raw = Node<HTML.BodyContext>.div(.attribute(named: "title", value: "a\"b")).render()
        #expect(raw == "<div title=\"a\"b\"></div>")
        #expect(HTMLReport.escape("<a href=\"x\">'&'</a>") == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
        #expect(HTMLReport.escape("bell\u{07}") == "bell\u{FFFD}")
    }

    // MARK: Self-contained

    @Test("The page references nothing outside itself")
    func noExternalReferences() throws {
        var data = HTMLReportSample.realistic()
        // The sample holds one file named like an <img> tag (its text would hold "src=").
        data.largestGroups = data.largestGroups.map { g in
            var g = g
            g.copies = g.copies.map { c in var c = c; c.path = c.path.replacingOccurrences(of: "src=", with: "source-"); return c }
            return g
        }
        let html = HTMLReport.render(data)
        for needle in ["http://", "https://", "src=", "<link", "@import", "url(", "//cdn", "<iframe", "<object", "<embed"] {
            #expect(!html.lowercased().contains(needle), "found \(needle)")
        }
        for tag in try Self.tags(in: html) {
            if let href = tag.attributes["href"] { #expect(href.hasPrefix("#"), "href \(href)") }
        }
        // Every in-page link leads to a section that exists.
        for tag in try Self.tags(in: html) where tag.name == "a" {
            let id = String(tag.attributes["href"]!.dropFirst())
            #expect(html.contains("id=\"\(id)\""))
        }
    }

    // MARK: Caps, sections, determinism

    @Test("Tables cap their rows and say how many more there are and where they are")
    func rowCaps() throws {
        var data = HTMLReportSample.realistic()
        data.totalGroups = 20
        let full = HTMLReport.render(data, rowLimit: 200)
        #expect(!full.contains("more groups"))
        #expect(Self.rows(of: "t-groups", in: full) == 20)

        let capped = HTMLReport.render(data, rowLimit: 5)
        #expect(Self.rows(of: "t-groups", in: capped) == 5)
        #expect(capped.contains("<strong>15 more groups</strong> not shown (the first 5 of 20) — see <code>silomerge export</code> or <code>silomerge duplicates --format json</code>"))
        #expect(Self.rows(of: "t-check", in: capped) == 5)
        #expect(capped.contains("<strong>\(data.check!.totalFindings - 5) more findings</strong>"))
        #expect(Self.rows(of: "t-formats", in: capped) == 5)

        // Totals larger than the rows given (the caller capped them already).
        data.conflicts = Array(data.conflicts.prefix(2))
        data.totalConflicts = 4_321
        let partial = HTMLReport.render(data)
        #expect(partial.contains("<strong>4,319 more conflicts</strong> not shown (the first 2 of 4,321)"))
    }

    @Test("The check section lists findings only when a check ran")
    func checkSection() {
        var data = HTMLReportSample.realistic()
        let with = HTMLReport.render(data)
        #expect(with.contains("id=\"t-check\""))
        #expect(with.contains("Finished <time datetime=\"2026-11-22T06:30:00Z\">2026-11-22 06:30 UTC</time>"))
        #expect(!with.contains("No check yet"))

        data.check = nil
        data.figures.lastCheck = nil
        let without = HTMLReport.render(data)
        #expect(!without.contains("id=\"t-check\""))
        #expect(without.contains("No check yet"))
        #expect(without.contains("<span>check</span>never</div>"))
    }

    @Test("The same data always makes the same page")
    func deterministic() {
        let a = HTMLReport.render(HTMLReportSample.realistic())
        let b = HTMLReport.render(HTMLReportSample.realistic())
        #expect(a == b)
        #expect(HTMLReport.render(HTMLReportSample.hostile()) == HTMLReport.render(HTMLReportSample.hostile()))
    }

    @Test("Every SVG chart is well-formed XML")
    func svgWellFormed() throws {
        let html = HTMLReport.render(HTMLReportSample.realistic())
        let svgs = Self.svgs(in: html)
        #expect(svgs.count == 3)
        for svg in svgs {
            try Self.parseXML(svg)
            #expect(svg.contains("viewBox=\"0 0 "))
        }
    }

    @Test("An empty catalogue still makes a page")
    func empty() throws {
        let data = HTMLReportData(
            title: "Empty", generatedAt: Date(timeIntervalSince1970: 0), toolVersion: "0.0.0", catalogue: "x.sqlite",
            figures: .init(silos: 0, files: 0, bytes: 0, distinctContents: 0, duplicatedBytes: 0, reclaimableBytes: 0,
                           duplicateGroups: 0, conflicts: 0, lastScan: nil, lastCheck: nil),
            silos: [], overlap: [], formats: [], largestGroups: [], totalGroups: 0, sameImageGroups: [],
            totalSameImageGroups: 0, conflicts: [], totalConflicts: 0, check: nil)
        let html = HTMLReport.render(data)
        #expect(html.contains("No duplicate content"))
        #expect(html.contains("No metadata conflict."))
        #expect(html.contains("1970-01-01 00:00 UTC"))
        for svg in Self.svgs(in: html) { try Self.parseXML(svg) }
    }

    /// Writes the realistic sample page (where `SILOMERGE_HTML_SAMPLE` says, to look at it in a
    /// browser; else in a temporary folder) and checks what was written is the whole page.
    @Test("Sample page for a browser: written whole, one document, every section")
    func writeSample() throws {
        let tree = try TestTree()
        let path = ProcessInfo.processInfo.environment["SILOMERGE_HTML_SAMPLE"] ?? tree.url("sample.html").path
        let page = HTMLReport.render(HTMLReportSample.realistic())
        try page.write(toFile: path, atomically: true, encoding: .utf8)
        let written = try String(contentsOfFile: path, encoding: .utf8)
        #expect(written == page)
        #expect(written.hasPrefix("<!DOCTYPE html><html lang=\"en\">") && written.hasSuffix("</html>"))
        #expect(written.components(separatedBy: "<html").count == 2)
        for section in ["t-silos", "t-groups", "t-conflicts", "t-check"] {
            #expect(written.contains("id=\"\(section)\""), "\(section)")
        }
    }

    // MARK: Helpers

    static func svgs(in html: String) -> [String] {
        var out: [String] = []
        var rest = html[...]
        while let start = rest.range(of: "<svg"), let end = rest[start.lowerBound...].range(of: "</svg>") {
            out.append(String(rest[start.lowerBound..<end.upperBound]))
            rest = rest[end.upperBound...]
        }
        return out
    }

    static func parseXML(_ xml: String) throws {
        let parser = XMLParser(data: Data(xml.utf8))
        let ok = parser.parse()
        #expect(ok, "SVG is not well-formed: \(parser.parserError.map { "\($0)" } ?? "?") in \(xml.prefix(300))")
    }

    static func rows(of table: String, in html: String) -> Int {
        guard let start = html.range(of: "<table id=\"\(table)\""),
              let end = html[start.upperBound...].range(of: "</table>") else { return -1 }
        let body = html[start.upperBound..<end.lowerBound]
        return body.components(separatedBy: "<tr>").count - 1 - 1  // minus the header row
    }

    struct Tag { var name: String; var attributes: [String: String] }

    /// The tags of the page, outside the raw text of `<style>` and `<script>`, with their
    /// attributes: a small scanner, strict about quoting (every value double-quoted).
    static func tags(in html: String) throws -> [Tag] {
        var tags: [Tag] = []
        let s = Array(html.unicodeScalars)
        var i = 0
        func isNameChar(_ c: Unicode.Scalar) -> Bool {
            CharacterSet.alphanumerics.contains(c) || c == "-" || c == ":" || c == "!" || c == "_"
        }
        while i < s.count {
            guard s[i] == "<" else { i += 1; continue }
            i += 1
            if i < s.count && s[i] == "/" {
                while i < s.count && s[i] != ">" { i += 1 }
                continue
            }
            var name = ""
            while i < s.count && isNameChar(s[i]) { name.unicodeScalars.append(s[i]); i += 1 }
            name = name.lowercased()
            var attributes: [String: String] = [:]
            while i < s.count && s[i] != ">" {
                if s[i] == " " || s[i] == "/" { i += 1; continue }
                var attr = ""
                while i < s.count && isNameChar(s[i]) { attr.unicodeScalars.append(s[i]); i += 1 }
                if attr.isEmpty { throw ScanError.malformed(String(String.UnicodeScalarView(s[max(0, i - 40)..<min(s.count, i + 40)]))) }
                var value = ""
                if i < s.count && s[i] == "=" {
                    i += 1
                    guard i < s.count && s[i] == "\"" else { throw ScanError.malformed("unquoted \(attr)") }
                    i += 1
                    while i < s.count && s[i] != "\"" {
                        if s[i] == "<" { throw ScanError.malformed("< in \(attr)") }
                        value.unicodeScalars.append(s[i]); i += 1
                    }
                    i += 1
                }
                attributes[attr.lowercased()] = value
            }
            i += 1
            tags.append(Tag(name: name, attributes: attributes))
            if name == "style" || name == "script" {
                let close = "</\(name)>"
                let rest = String(String.UnicodeScalarView(s[i...]))
                guard let r = rest.range(of: close) else { throw ScanError.malformed("unclosed \(name)") }
                i += rest.unicodeScalars.distance(from: rest.unicodeScalars.startIndex, to: r.upperBound)
            }
        }
        return tags
    }

    enum ScanError: Error { case malformed(String) }
}

/// Sample data: a realistic audit of five silos, and one full of hostile names.
enum HTMLReportSample {
    static let generated = Date(timeIntervalSince1970: 1_795_287_845)  // 2026-11-21 19:04:05 UTC

    static func realistic() -> HTMLReportData {
        let silos: [HTMLReportData.SiloRow] = [
            .init(name: "marketing", root: "/srv/silos/marketing", priority: 1, files: 48_213, bytes: 412_316_860_416,
                  duplicateBytesInside: 3_221_225_472, sharedBytes: 61_203_283_968, reclaimableBytes: 3_221_225_472),
            .init(name: "hr", root: "/srv/silos/hr", priority: 2, files: 9_874, bytes: 21_474_836_480,
                  duplicateBytesInside: 1_258_291, sharedBytes: 2_147_483_648, reclaimableBytes: 2_148_741_939),
            .init(name: "training", root: "/mnt/nas/training", priority: 3, files: 15_402, bytes: 268_435_456_000,
                  duplicateBytesInside: 9_663_676_416, sharedBytes: 42_949_672_960, reclaimableBytes: 52_613_349_376),
            .init(name: "rnd", root: "/mnt/nas/r&d-archive", priority: 4, files: 120_554, bytes: 858_993_459_200,
                  duplicateBytesInside: 34_359_738_368, sharedBytes: 8_589_934_592, reclaimableBytes: 42_949_672_960),
            .init(name: "operations", root: "/srv/silos/ops", priority: 5, files: 7_311, bytes: 5_368_709_120,
                  duplicateBytesInside: 0, sharedBytes: 268_435_456, reclaimableBytes: 268_435_456),
        ]
        let overlap: [HTMLReportData.OverlapCell] = [
            .init(a: "marketing", b: "marketing", bytes: 3_221_225_472, contents: 212),
            .init(a: "marketing", b: "hr", bytes: 48_234_496, contents: 9),
            .init(a: "marketing", b: "training", bytes: 40_802_189_312, contents: 1_204),
            .init(a: "marketing", b: "rnd", bytes: 6_442_450_944, contents: 88),
            .init(a: "marketing", b: "operations", bytes: 268_435_456, contents: 14),
            .init(a: "hr", b: "hr", bytes: 1_258_291, contents: 2),
            .init(a: "hr", b: "training", bytes: 2_099_249_152, contents: 61),
            .init(a: "training", b: "training", bytes: 9_663_676_416, contents: 402),
            .init(a: "training", b: "rnd", bytes: 2_147_483_648, contents: 17),
            .init(a: "rnd", b: "rnd", bytes: 34_359_738_368, contents: 3_310),
        ]
        let formats: [HTMLReportData.FormatRow] = [
            .init(format: "MP4", files: 2_310, bytes: 498_216_206_336), .init(format: "TIFF", files: 31_022, bytes: 301_989_888_000),
            .init(format: "JPEG", files: 88_410, bytes: 210_453_397_504), .init(format: "MOV", files: 402, bytes: 180_388_626_432),
            .init(format: "PSD", files: 3_120, bytes: 150_323_855_360), .init(format: "PDF", files: 19_876, bytes: 64_424_509_440),
            .init(format: "PNG", files: 24_551, bytes: 42_949_672_960), .init(format: "ZIP", files: 1_203, bytes: 38_654_705_664),
            .init(format: "PPTX", files: 5_320, bytes: 21_474_836_480), .init(format: "DOCX", files: 12_480, bytes: 8_589_934_592),
            .init(format: "WebP", files: 4_410, bytes: 4_294_967_296), .init(format: "XLSX", files: 3_960, bytes: 3_221_225_472),
            .init(format: "GIF", files: 1_004, bytes: 1_073_741_824), .init(format: "SVG", files: 2_216, bytes: 536_870_912),
            .init(format: "other", files: 1_030, bytes: 268_435_456),
        ]
        let groupSpecs: [(String, Int64, [(String, String, Bool)])] = [
            ("training", 4_831_838_208, [("training", "module-07/recordings/all-hands-2024-q3.mp4", false), ("rnd", "archive/video/all-hands-2024-q3 (1).mp4", false), ("rnd", "archive/video/backup/all-hands-2024-q3.mp4", false)]),
            ("marketing", 3_435_973_836, [("marketing", "campaigns/2024/spring-launch/master/spring-launch-master-4k.mov", false), ("training", "module-02/media/spring-launch-master-4k.mov", false)]),
            ("rnd", 2_684_354_560, [("rnd", "prototypes/p7/cad/p7-assembly-full.step.zip", false), ("rnd", "prototypes/p7/cad/old/p7-assembly-full.step.zip", false), ("rnd", "shared/handover/p7-assembly-full.step.zip", true)]),
            ("training", 1_932_735_283, [("marketing", "events/2023/summit/keynote-recording.mp4", false), ("training", "module-01/video/keynote.mp4", false), ("hr", "onboarding/welcome-video/keynote.mp4", false)]),
            ("rnd", 1_288_490_188, [("rnd", "lab/microscopy/2022/batch-14/stack-0001.tiff", false), ("rnd", "lab/microscopy/2022/batch-14-copy/stack-0001.tiff", false)]),
            ("marketing", 987_842_478, [("marketing", "brand/photo-library/raw/DSC_4410.psd", false), ("marketing", "brand/photo-library/selects/DSC_4410.psd", false), ("training", "module-05/assets/DSC_4410.psd", false), ("rnd", "marketing-handover/DSC_4410.psd", false)]),
            ("training", 734_003_200, [("training", "module-03/video/safety-induction.mp4", false), ("operations", "safety/induction/safety-induction.mp4", false)]),
            ("marketing", 536_870_912, [("marketing", "campaigns/2023/summer-launch/print/summer-launch-poster-A0.tiff", false), ("training", "module-04/print/poster.tiff", false)]),
            ("hr", 402_653_184, [("hr", "policies/2024/handbook-print-ready.pdf", false), ("training", "module-00/handbook.pdf", false), ("operations", "hr-docs/handbook-print-ready.pdf", false)]),
            ("rnd", 314_572_800, [("rnd", "datasets/sensor-logs/2023-11.zip", false), ("rnd", "datasets/sensor-logs/mirror/2023-11.zip", false)]),
            ("marketing", 209_715_200, [("marketing", "<img src=x onerror=alert(1)>.jpg", false), ("hr", "staff-photos/offsite-2023/team_offsite.jpg", false)]),
            ("training", 157_286_400, [("training", "module-06/slides/customer-journeys.pptx", false), ("marketing", "decks/customer-journeys-final.pptx", false)]),
            ("marketing", 104_857_600, [("marketing", "campaigns/2024/spring-launch/hero-banner.jpg", false), ("training", "module-01/images/intro-hero.jpg", false), ("hr", "intranet/banners/spring.jpg", false), ("operations", "signage/lobby/spring.jpg", false)]),
            ("rnd", 73_400_320, [("rnd", "papers/2024/drafts/thermal-model-v3.pdf", false), ("rnd", "papers/2024/submitted/thermal-model.pdf", false)]),
            ("hr", 52_428_800, [("hr", "recruiting/2024/brochure.pdf", false), ("marketing", "print/recruiting-brochure-2024.pdf", false)]),
            ("operations", 31_457_280, [("operations", "facilities/site-plans/plant-2.pdf", false), ("rnd", "facilities/plant-2-site-plan.pdf", false)]),
            ("marketing", 20_971_520, [("marketing", "brand/logos/acme-logo-pack.zip", false), ("hr", "templates/acme-logo-pack.zip", false), ("training", "templates/logos.zip", false), ("rnd", "templates/acme-logo-pack.zip", false), ("operations", "templates/logos/acme-logo-pack.zip", false)]),
            ("training", 8_388_608, [("training", "module-02/quiz/answers.xlsx", false), ("training", "module-02/quiz/answers (copy).xlsx", false)]),
            ("hr", 2_097_152, [("hr", "onboarding/welcome-pack/org-chart.png", false), ("hr", "policies/2023/org-chart-2023.png", false), ("marketing", "about/org-chart.png", false)]),
            ("marketing", 7_695, [("marketing", "campaigns/2023/summer-launch/hero.jpg", false), ("hr", "staff-photos/offsite-2023/team_offsite-small.jpg", false)]),
        ]
        var groups: [HTMLReportData.GroupRow] = []
        for (i, spec) in groupSpecs.enumerated() {
            let physical = spec.2.filter { !$0.2 }.count
            groups.append(.init(sha256: hex(seed: UInt64(i + 1)), size: spec.1, reclaimableBytes: Int64(physical - 1) * spec.1,
                                copies: spec.2.map { .init(silo: $0.0, path: $0.1, hardLinked: $0.2) }))
        }
        groups.sort { $0.reclaimableBytes > $1.reclaimableBytes }
        let same: [HTMLReportData.SameImageRow] = [
            .init(imageSHA256: hex(seed: 101), copies: [
                .init(silo: "marketing", path: "campaigns/2024/spring-launch/hero-banner.jpg", sha256: hex(seed: 201)),
                .init(silo: "training", path: "module-01/images/intro-hero-retagged.jpg", sha256: hex(seed: 202)),
            ], fieldsThatDiffer: ["caption", "keywords", "rights"]),
            .init(imageSHA256: hex(seed: 102), copies: [
                .init(silo: "hr", path: "staff-photos/2024/portraits/j.doe.jpg", sha256: hex(seed: 203)),
                .init(silo: "marketing", path: "people/leadership/jane-doe.jpg", sha256: hex(seed: 204)),
                .init(silo: "operations", path: "badges/photos/0042.jpg", sha256: hex(seed: 205)),
            ], fieldsThatDiffer: ["creator", "date created", "title"]),
            .init(imageSHA256: hex(seed: 103), copies: [
                .init(silo: "rnd", path: "lab/microscopy/2022/batch-14/stack-0001-annotated.tiff", sha256: hex(seed: 206)),
                .init(silo: "training", path: "module-08/figures/microscopy.tiff", sha256: hex(seed: 207)),
            ], fieldsThatDiffer: ["description"]),
        ]
        let conflicts: [HTMLReportData.ConflictRow] = [
            .init(asset: String(hex(seed: 1).prefix(12)), field: "rights", sources: [
                .init(silo: "marketing", path: "campaigns/2024/spring-launch/hero-banner.jpg", origin: "XMP dc:rights", value: "© Acme Corp. All rights reserved."),
                .init(silo: "training", path: "module-01/images/intro-hero.jpg", origin: "manifest Usage Rights", value: "Internal training use only, expires 2025-12-31"),
            ]),
            .init(asset: String(hex(seed: 2).prefix(12)), field: "creator", sources: [
                .init(silo: "hr", path: "staff-photos/2024/portraits/j.doe.jpg", origin: "IPTC 2:080 By-line", value: "Studio Lumen"),
                .init(silo: "marketing", path: "people/leadership/jane-doe.jpg", origin: "XMP dc:creator", value: "Lumen Photography Ltd"),
                .init(silo: "operations", path: "badges/photos/0042.jpg", origin: "EXIF Artist", value: "badge printer"),
            ]),
            .init(asset: String(hex(seed: 3).prefix(12)), field: "title", sources: [
                .init(silo: "training", path: "module-03/video/safety-induction.mp4", origin: "QuickTime ©nam", value: "Safety induction (2024 edition)"),
                .init(silo: "operations", path: "safety/induction/safety-induction.mp4", origin: "manifest Title", value: "Site safety induction"),
            ]),
            .init(asset: String(hex(seed: 4).prefix(12)), field: "keywords", sources: [
                .init(silo: "marketing", path: "brand/photo-library/selects/DSC_4410.psd", origin: "XMP dc:subject", value: "launch; hero; spring; </script> test"),
                .init(silo: "rnd", path: "marketing-handover/DSC_4410.psd", origin: "IPTC 2:025 Keywords", value: "product; p7"),
            ]),
        ]
        var findings: [HTMLReportData.CheckSection.Finding] = []
        let kinds = ["content changed", "missing", "unreadable", "new since scan"]
        let siloNames = ["marketing", "hr", "training", "rnd", "operations"]
        for i in 0..<14 {
            let kind = kinds[i % 7 == 0 ? 0 : (i % 3 == 0 ? 2 : (i % 2 == 0 ? 1 : 3))]
            let detail: String
            switch kind {
            case "content changed": detail = "size and mtime unchanged, SHA-256 differs (possible corruption)"
            case "missing": detail = "catalogued 2026-10-02, not found"
            case "unreadable": detail = "EACCES: permission denied"
            default: detail = "not in the catalogue yet"
            }
            findings.append(.init(kind: kind, silo: siloNames[i % 5], path: "folder-\(i % 4)/sub/file-\(1000 + i * 37).\(["jpg", "pdf", "mp4", "tiff"][i % 4])", detail: detail))
        }
        let counts = kinds.map { k in HTMLReportData.CheckSection.KindCount(kind: k, count: findings.filter { $0.kind == k }.count) }
        let totalBytes = silos.reduce(Int64(0)) { $0 + $1.bytes }
        let reclaimable = silos.reduce(Int64(0)) { $0 + $1.reclaimableBytes }
        return HTMLReportData(
            title: "SiloMerge audit", generatedAt: generated, toolVersion: "0.4.0",
            catalogue: "/var/lib/silomerge/catalogue.sqlite",
            figures: .init(silos: silos.count, files: silos.reduce(0) { $0 + $1.files }, bytes: totalBytes,
                           distinctContents: 183_904, duplicatedBytes: 196_028_149_760, reclaimableBytes: reclaimable,
                           duplicateGroups: 137, conflicts: 41,
                           lastScan: Date(timeIntervalSince1970: 1_795_280_400), lastCheck: Date(timeIntervalSince1970: 1_795_329_000)),
            silos: silos, overlap: overlap, formats: formats, largestGroups: groups, totalGroups: 137,
            sameImageGroups: same, totalSameImageGroups: same.count, conflicts: conflicts, totalConflicts: 41,
            check: .init(finishedAt: Date(timeIntervalSince1970: 1_795_329_000), countsByKind: counts, findings: findings,
                         totalFindings: findings.count))
    }

    static func hostile() -> HTMLReportData {
        let evilSilo = "<b>evil</b> & \"co\""
        let evilPath = "<img src=x onerror=alert(1)>.jpg"
        let evilValue = "</script><script>alert(1)</script>"
        let evilHash = "\" onmouseover=\"alert(1)"
        var data = realistic()
        data.title = "Audit </title><script>alert(1)</script>"
        data.catalogue = "/tmp/<script>x</script>.sqlite"
        data.silos[0].name = evilSilo
        data.silos[0].root = evilPath
        data.overlap = data.overlap.map { c in
            var c = c
            if c.a == "marketing" { c.a = evilSilo }
            if c.b == "marketing" { c.b = evilSilo }
            return c
        }
        data.formats[0].format = "<svg onload=alert(1)>"
        data.largestGroups[0].sha256 = evilHash
        data.largestGroups[0].copies[0] = .init(silo: evilSilo, path: evilPath, hardLinked: false)
        data.largestGroups[1].copies[1].path = "caption \(evilValue)"
        data.sameImageGroups[0].fieldsThatDiffer.append("<i>field</i>")
        data.sameImageGroups[0].copies[0].sha256 = evilHash
        data.conflicts[0].field = "<u>rights</u>"
        data.conflicts[0].sources[0].value = evilValue
        data.conflicts[0].sources[1].origin = "XMP \"' <x>"
        data.conflicts[0].asset = "<a href=//evil>"
        data.check!.countsByKind[0].kind = "<blink>"
        data.check!.findings[0] = .init(kind: "<marquee>", silo: evilSilo, path: evilPath, detail: evilValue + "\u{01}")
        return data
    }

    /// 64 hex digits from a seed (a SplitMix64 stream): stable fake hashes.
    static func hex(seed: UInt64) -> String {
        var state = seed &* 0x9E37_79B9_7F4A_7C15
        var out = ""
        for _ in 0..<4 {
            state = state &+ 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            out += String(format: "%016llx", z)
        }
        return out
    }
}

extension HTMLReportTests {
    @Test("Many silos with long names: labels are shortened, full names stay in the tooltips")
    func manySilos() throws {
        var data = HTMLReportSample.realistic()
        let names = (1...12).map { "department-\($0)-shared-media-archive" }
        data.silos = names.enumerated().map { i, n in
            .init(name: n, root: "/srv/\(n)", priority: i + 1, files: 10, bytes: 1 << 30, duplicateBytesInside: 0,
                  sharedBytes: 1 << 20, reclaimableBytes: Int64(i) << 20)
        }
        data.overlap = names.indices.flatMap { i in
            names.indices.filter { $0 >= i }.map { j in
                HTMLReportData.OverlapCell(a: names[i], b: names[j], bytes: Int64((i + 1) * (j + 1)) << 16, contents: i + j)
            }
        }
        let html = HTMLReport.render(data)
        let heatmap = try #require(Self.svgs(in: html).first { $0.contains("class=\"chart heatmap\"") })
        try Self.parseXML(heatmap)
        #expect(heatmap.contains("<title>department-12-shared-media-archive</title>department-12-shared-…</text>"))  // column
        #expect(heatmap.contains("<title>department-12-shared-media-archive</title>department-12-share…</text>"))  // row
        #expect(heatmap.contains("transform=\"rotate(-40 "))
        #expect(html.contains("<div class=\"stacked\">"))
        #expect(heatmap.contains("<title>department-1-shared-media-archive and department-12-shared-media-archive: "))
        #expect(heatmap.components(separatedBy: "<g><title>").count - 1 == 144)
    }
}
