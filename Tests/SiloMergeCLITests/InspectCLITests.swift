import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("silomerge inspect, end to end")
struct InspectCLITests {
    @Test("text: the chosen value of each field first, the file's other values under it, with tags and raw forms")
    func textOutput() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        let r = try ws.run("inspect", "marketing/products/widget-pro/widget-front.jpg")
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.out.split(separator: "\n").map(String.init)
        #expect(lines.first == "marketing/products/widget-pro/widget-front.jpg")
        #expect(lines.contains { $0.hasPrefix("  format        jpeg, 120 × 90") })
        #expect(lines.contains { $0.hasPrefix("  image data    sha256 ") })
        // MWG: the IPTC digest matches, so XMP's title is chosen over IPTC's; EXIF's description first.
        let title = try #require(lines.firstIndex { $0.hasPrefix("  title ") })
        #expect(lines[title].contains("Widget Pro") && lines[title].contains("XMP-dc:title [xmp]"))
        #expect(lines[title + 1].contains("also Widget Pro") && lines[title + 1].contains("IPTC:ObjectName [iptc]"))
        let description = try #require(lines.first { $0.hasPrefix("  description ") })
        #expect(description.contains("EXIF:ImageDescription [exif]"))
        let date = try #require(lines.first { $0.hasPrefix("  date_created ") })
        #expect(date.contains("2023-03-02T11:15:40+00:00") && date.contains("raw \"2023:03:02 11:15:40 +00:00\""))
        #expect(lines.contains { $0.hasPrefix("  gps ") && $0.contains("38.7223, -9.1393") })
    }

    @Test("json: one record per file of a folder, the same values a scan catalogues (format, size, image hash, chosen values)")
    func jsonMatchesScan() throws {
        let ws = try Workspace()
        try ws.copyFixtures()
        let r = try ws.run("inspect", "--format", "json", "marketing")
        #expect(r.status == 0, "\(r.stderr)")
        let records = try #require(try json(r.stdout) as? [[String: Any]])
        // Every regular file under marketing/, in byte order of their paths, nothing else.
        let expected = try regularFiles(under: ws.url.appendingPathComponent("marketing")).map { "marketing/" + $0 }
        #expect(records.map { $0["path"] as? String ?? "" } == expected)
        for record in records {
            // Exactly one chosen value per field, and `fields` holds it.
            let values = record["values"] as! [[String: Any]]
            let fields = record["fields"] as! [String: [String: Any]]
            let chosen = values.filter { $0["chosen"] as? Bool == true }
            #expect(Set(chosen.map { $0["field"] as! String }).count == chosen.count)
            #expect(Set(chosen.map { $0["field"] as! String }) == Set(fields.keys))
            for c in chosen {
                let f = fields[c["field"] as! String]!
                #expect(f["tag"] as? String == c["tag"] as? String && f["raw"] as? String == c["raw"] as? String)
            }
        }

        // The scan reads files through the same reader: what it catalogues per copy is what inspect shows.
        #expect(try ws.run("scan", "-q", "marketing").status == 0)
        let export = try ws.run("export", "--format", "jsonl")
        #expect(export.status == 0, "\(export.stderr)")
        let byPath = Dictionary(uniqueKeysWithValues: records.map { ($0["path"] as! String, $0) })
        var compared = 0
        for line in export.out.split(separator: "\n") {
            let asset = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            for copy in asset["copies"] as! [[String: Any]] {
                let path = "marketing/" + (copy["path"] as! String)
                let record = try #require(byPath[path], "\(path) was not inspected")
                #expect(record["format"] as? String == asset["format"] as? String, "\(path)")
                #expect(record["size"] as? Int == asset["size"] as? Int, "\(path)")
                #expect(record["width"] as? Int == asset["width"] as? Int, "\(path)")
                // The scan completes an image hash only where another file shares the picture's
                // prefix; where it has one, it is inspect's.
                if let catalogued = asset["image_sha256"] as? String {
                    #expect(record["image_sha256"] as? String == catalogued, "\(path)")
                } else if ["jpeg", "png", "tiff", "webp", "heic", "avif", "mp4", "mov"].contains(record["format"] as? String ?? "") {
                    // inspect hashes every picture's image data whole.
                    #expect(record["image_sha256"] is String, "\(path)")
                }
                let inspected = record["fields"] as! [String: [String: Any]]
                for (field, object) in asset["fields"] as! [String: [String: Any]] {
                    let embedded = (object["sources"] as! [[String: Any]]).filter {
                        $0["path"] as? String == copy["path"] as? String
                            && ["xmp", "iptc", "exif", "png", "pdf", "header"].contains($0["origin"] as? String ?? "")
                    }
                    guard let source = embedded.first else { continue }
                    let mine = try #require(inspected[field], "\(path): scan has \(field), inspect does not")
                    #expect(mine["tag"] as? String == source["tag"] as? String, "\(path) \(field)")
                    #expect(mine["raw"] as? String == source["raw"] as? String, "\(path) \(field)")
                    compared += 1
                }
            }
        }
        #expect(compared > 40)
    }

    @Test("unreadable, missing and special paths are error records and exit 1; nothing blocks on a FIFO")
    func hostilePaths() throws {
        let ws = try Workspace()
        try ws.write("box/a.txt", "plain")
        #expect(mkfifo(ws.url.appendingPathComponent("box/pipe").path, 0o644) == 0)
        #expect(symlink("a.txt", ws.url.appendingPathComponent("box/link").path) == 0)
        // A name that is not UTF-8: "caf\xE9.jpg".
        var oddPath = Array((ws.url.path + "/box/caf").utf8) + [0xE9] + Array(".jpg\0".utf8)
        let fd = oddPath.withUnsafeMutableBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_CREAT | O_WRONLY, 0o644) }
        }
        #expect(fd >= 0)
        close(fd)
        let r = try ws.run("inspect", "--format", "jsonl", "box", "nowhere.jpg", "box/link", timeout: 30)
        #expect(r.status == 1)
        #expect(r.stderr.contains("could not be read"))
        let records = try r.out.split(separator: "\n").map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        func record(_ path: String) -> [String: Any]? { records.first { $0["path"] as? String == path } }
        #expect(record("box/a.txt")?["format"] as? String == "other")
        let pipe = try #require(record("box/pipe")?["error"] as? [String: Any])
        #expect(pipe["kind"] as? String == "skipped" && (pipe["message"] as? String ?? "").contains("FIFO"))
        let link = try #require(record("box/link")?["error"] as? [String: Any])
        #expect(link["kind"] as? String == "skipped" && (link["message"] as? String ?? "").contains("symbolic link"))
        // Named on the command line, the link is followed.
        #expect(records.filter { $0["path"] as? String == "box/link" }.contains { $0["format"] as? String == "other" })
        let missing = try #require(record("nowhere.jpg")?["error"] as? [String: Any])
        #expect(missing["kind"] as? String == "missing" && missing["errno"] as? String == "ENOENT")
        let nonUTF8 = try #require(records.first { ($0["path"] as? String ?? "").hasSuffix("caf\\xE9.jpg") })
        let b64 = try #require(nonUTF8["path_b64"] as? String)
        #expect(Array(Data(base64Encoded: b64)!) == Array("box/caf".utf8) + [0xE9] + Array(".jpg".utf8))
        #expect(records.count == 6)
    }

    @Test("--help teaches the command: fields, origins, JSON shape, exit codes")
    func help() throws {
        let ws = try Workspace()
        let r = try ws.run("inspect", "--help")
        #expect(r.status == 0)
        for needle in ["--format", "jsonl", "image_sha256", "Exit codes", "path_b64", "compare-exiftool"] {
            #expect(r.out.contains(needle), "\(needle)")
        }
    }

    private func regularFiles(under root: URL) throws -> [String] {
        var out: [[UInt8]] = []
        func walk(_ dir: URL, _ prefix: [UInt8]) throws {
            let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).map { Array($0.utf8) }
                .sorted { $0.lexicographicallyPrecedes($1) }
            for name in names {
                let url = dir.appendingPathComponent(String(decoding: name, as: UTF8.self))
                var isDir: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir)
                let path = prefix.isEmpty ? name : prefix + [0x2F] + name
                if isDir.boolValue { try walk(url, path) } else { out.append(path) }
            }
        }
        try walk(root, [])
        return out.map { String(decoding: $0, as: UTF8.self) }
    }

    @Test("a file of unknown format is not searched for XMP unless --scan-for-xmp (scan and inspect)")
    func scanForXMP() throws {
        let ws = try Workspace()
        let packet = """
            <?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title><rdf:Alt><rdf:li xml:lang="x-default">Layout draft</rdf:li></rdf:Alt></dc:title></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>
            """
        try ws.write("silo/draft.indd", String(repeating: "\u{1}binary", count: 500) + packet + String(repeating: "\u{2}tail", count: 500))
        let plain = try ws.run("inspect", "--format", "jsonl", "silo/draft.indd")
        #expect(plain.status == 0)
        #expect(!plain.out.contains("Layout draft"))
        let scanned = try ws.run("inspect", "--format", "jsonl", "--scan-for-xmp", "silo/draft.indd")
        #expect(scanned.out.contains("\"title\":{\"origin\":\"xmp\",\"raw\":\"Layout draft\""), "\(scanned.out)")
        // The same through a scan, which searches the bytes as they stream past for hashing.
        #expect(try ws.run("scan", "-q", "--catalog", "a.sqlite", "silo").status == 0)
        #expect(!(try ws.run("export", "--format", "jsonl", "--catalog", "a.sqlite").out.contains("Layout draft")))
        #expect(try ws.run("scan", "-q", "--scan-for-xmp", "--catalog", "b.sqlite", "silo").status == 0)
        #expect(try ws.run("export", "--format", "jsonl", "--catalog", "b.sqlite").out.contains("Layout draft"))
    }
}
