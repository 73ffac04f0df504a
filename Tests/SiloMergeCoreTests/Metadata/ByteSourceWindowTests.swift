import Foundation
import Testing
@testable import SiloMergeCore
#if canImport(Glibc)
import Glibc
#endif
import SiloMergeTestSupport

/// The reading primitives that lend bytes instead of copying them (`ByteSource.withBytes`,
/// FileByteSource's reused windows) and the EPS reader's sliding line window: the same bytes,
/// the same lines, wherever the windows fall.
@Suite("Metadata: byte source windows and EPS lines")
struct ByteSourceWindowTests {
    /// Deterministic bytes (a linear congruential generator).
    static func noise(_ count: Int, seed: UInt64) -> [UInt8] {
        var x = seed
        return (0..<count).map { _ in
            x = x &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: x >> 33)
        }
    }

    /// A temporary file holding `bytes`; returns its path (the caller unlinks it).
    static func file(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("silomerge-bsw-\(getpid())-\(UUID().uuidString.prefix(8))-\(name)").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("FileByteSource.read and withBytes give DataByteSource's bytes across window boundaries, large reads and the end")
    func windowsAgree() throws {
        let bytes = Self.noise(300_000, seed: 7)
        let path = try Self.file(bytes, "w.bin")
        defer { unlink(path) }
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let reference = DataByteSource(bytes)
        // Without a head, and lent the file's first 100,000 bytes (the hashing pass's first
        // chunk): reads inside, across and past it.
        try check(FileByteSource(fd: fd, size: Int64(bytes.count)), reference, bytes)
        let head = Array(bytes.prefix(100_000))
        try head.withUnsafeBytes { head in
            let lending = FileByteSource(fd: fd, size: Int64(bytes.count), lending: head)
            try check(lending, reference, bytes)
            // A head longer than the file (it shrank since) lends only the file's bytes.
            let short = FileByteSource(fd: fd, size: 60_000, lending: head)
            #expect(try short.read(at: 59_990, count: 100) == Array(bytes[59_990..<60_000]))
            // Inside the head: no system call, even for a read as large as a window.
            let quiet = FileByteSource(fd: fd, size: Int64(bytes.count), lending: head)
            for (offset, count) in [(Int64(0), 64), (Int64(99_000), 1000), (Int64(20_000), 70_000)] {
                #expect(try quiet.read(at: offset, count: count) == Array(bytes[Int(offset)..<(Int(offset) + count)]))
            }
            #expect(quiet.readCalls == 0)
        }
    }

    func check(_ source: FileByteSource, _ reference: DataByteSource, _ bytes: [UInt8]) throws {
        var cases: [(Int64, Int)] = [(65_530, 20), (65_536 * 2 - 1, 2), (0, 65_536), (1000, 70_000), (4090, 10),
                                     (299_990, 100), (300_000, 5), (-1, 5), (10, 0), (131_000, 65_536), (5, 4096)]
        var x: UInt64 = 99
        for _ in 0..<600 {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            let offset = Int64(x >> 40) % 301_000
            let count = Int((x >> 8) & 0x1FFFF) % (x & 1 == 0 ? 5000 : 140_000)
            cases.append((offset, count))
        }
        for (offset, count) in cases {
            let expected = try reference.read(at: offset, count: count)
            #expect(try source.read(at: offset, count: count) == expected, "read \(offset) +\(count)")
            #expect(try source.withBytes(at: offset, count: count) { Array($0) } == expected, "withBytes \(offset) +\(count)")
            #expect(try reference.withBytes(at: offset, count: count) { Array($0) } == expected)
        }
        // A body that reads the source again (evicting both windows, and using the large-read
        // buffer) still sees the bytes it was lent.
        for (offset, count) in [(Int64(100), 50), (Int64(70_000), 65_536), (Int64(200_000), 80_000)] {
            let lent = try source.withBytes(at: offset, count: count) { outer -> [UInt8] in
                for (o, c) in [(Int64(150_000), 100), (Int64(250_000), 30), (Int64(0), 65_536), (Int64(10), 90_000)] {
                    let inner = try source.read(at: o, count: c)
                    #expect(inner == Array(bytes[Int(o)..<(Int(o) + c)]))
                }
                return Array(outer)
            }
            #expect(lent == Array(bytes[Int(offset)..<(Int(offset) + count)]))
        }
    }

    @Test("a file that shrinks under a FileByteSource gives short reads, and the image hash a problem, not a crash")
    func shrinkingFile() throws {
        // A real PNG made larger than two windows by an ancillary chunk of 128 KiB before IEND.
        var big = try MetadataFixture.bytes("png/ancillary.png")
        let iend = try #require(big.lastIndexOfBytes(Array("IEND".utf8))) - 4
        big.insert(contentsOf: [0, 2, 0, 0] + Array("zzZz".utf8) + Self.noise(0x20000, seed: 3) + [0, 0, 0, 0], at: iend)
        let path = try Self.file(big, "s.png")
        defer { unlink(path) }
        let fd = open(path, O_RDWR)
        try #require(fd >= 0)
        defer { close(fd) }
        let before = try ImageDataHash.compute(DataByteSource(big), format: .png)
        #expect(try ImageDataHash.compute(FileByteSource(fd: fd, size: Int64(big.count)), format: .png) == before)
        let source = FileByteSource(fd: fd, size: Int64(big.count))
        try #require(ftruncate(fd, 100_000) == 0)
        #expect(try source.read(at: 150_000, count: 10).isEmpty)
        #expect(try source.read(at: 90_000, count: 20_000) == Array(big[90_000..<100_000]))
        #expect(try source.withBytes(at: 0, count: 131_072) { Array($0) } == Array(big[0..<100_000]))
        #expect(try source.withBytes(at: 99_999, count: 10) { Array($0) } == [big[99_999]])
        // The walk meets the end of the file before IEND: a problem, as for any truncated file.
        #expect(throws: MetadataProblem.self) {
            try ImageDataHash.compute(FileByteSource(fd: fd, size: Int64(big.count)), format: .png)
        }
        // And the EPS line window ends where the file now ends.
        var lines = EPSReader.Lines(FileByteSource(fd: fd, size: Int64(big.count)), from: 0, count: Int64(big.count))
        var total = 0
        while let line = try lines.next() { total += line.count + 1 }
        #expect(total <= 100_001 && total > 90_000)
    }

    /// The lines as EPSReader split them before the sliding window: the whole range in memory,
    /// split at LF, CR or CR LF; `skip` jumps over lines that start with neither % nor <.
    struct ReferenceLines {
        let bytes: [UInt8]
        var index = 0
        mutating func next() -> [UInt8]? {
            guard index < bytes.count else { return nil }
            var end = index
            while end < bytes.count, bytes[end] != 0x0A, bytes[end] != 0x0D { end += 1 }
            let line = Array(bytes[index..<end])
            index = after(end)
            return line
        }
        func peek() -> [UInt8]? { var copy = self; return copy.next() }
        mutating func skip() {
            while index < bytes.count, bytes[index] != UInt8(ascii: "%"), bytes[index] != UInt8(ascii: "<") {
                var end = index
                while end < bytes.count, bytes[end] != 0x0A, bytes[end] != 0x0D { end += 1 }
                index = after(end)
            }
        }
        private func after(_ end: Int) -> Int {
            if end < bytes.count, bytes[end] == 0x0D, end + 1 < bytes.count, bytes[end + 1] == 0x0A { return end + 2 }
            return end + 1
        }
    }

    @Test("EPS lines: LF, CR and CR LF (also split between windows), skipping and peeking, as the in-memory split")
    func epsLinesMatchReference() throws {
        let pieces: [[UInt8]] = ["%%Title: (x)", "<?xpacket begin", "abc % def", "", "x<y", "%", "<", "0123456789ABCDEF0123",
                                 "%%+ more", " %not", "\t<no"].map { Array($0.utf8) }
        let terminators: [[UInt8]] = [[0x0A], [0x0D], [0x0D, 0x0A], [0x0A, 0x0D], [0x0D, 0x0D]]
        var x: UInt64 = 12_345
        func random(_ n: Int) -> Int {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            return Int(x >> 33) % n
        }
        for round in 0..<300 {
            var text: [UInt8] = []
            for _ in 0..<random(60) {
                text += pieces[random(pieces.count)]
                if random(10) > 0 { text += terminators[random(terminators.count)] }
            }
            // A range that may end early (the head window), or run past the bytes (a shrunk file).
            let count = random(4) == 0 ? Int64(random(text.count + 20)) : Int64(text.count)
            let reference = ReferenceLines(bytes: Array(text.prefix(Int(count))))
            for chunk in [1, 2, 3, 7, 64, 65_536] {
                var lines = EPSReader.Lines(DataByteSource(text), from: 0, count: count, chunk: chunk)
                var ref = reference
                var step = 0
                while true {
                    step += 1
                    let op = (round + step) % 3
                    if op == 0 { try lines.skipToCommentOrPacket(); ref.skip() }
                    if op == 1 { #expect(try lines.peek().map(Array.init) == ref.peek(), "round \(round) chunk \(chunk) step \(step)") }
                    let got = try lines.next().map(Array.init), want = ref.next()
                    #expect(got == want, "round \(round) chunk \(chunk) step \(step)")
                    if got == nil || want == nil { break }
                }
            }
        }
    }

    /// pillow.eps (Pillow, exiftool's DSC comments and XMP packet) with the %BeginPhotoshop
    /// block exiftool 13 writes for `-IPTC:ObjectName="IPTC object" -IPTC:Caption-Abstract="IPTC
    /// caption"`, moved by padding (PostScript lines, not comments) so that a 64 KiB window
    /// boundary falls inside the Photoshop block or inside the XMP packet; with LF, CR or CR LF
    /// lines; and a decoy packet at the end that only the fallback scan would find.
    static func paddedEPS(boundaryIn block: String, terminator: String) throws -> [UInt8] {
        let pillow = String(decoding: try MetadataFixture.bytes("eps/pillow.eps"), as: UTF8.self)
        let photoshop = "%BeginPhotoshop: 52\n% 3842494D04040000000000281C0205000B49505443206F626A6563741C027800\n"
            + "% 0C495054432063617074696F6E1C020000020004\n%EndPhotoshop\n"
        let marker = "%begin_xml_packet"
        let at = try #require(pillow.range(of: marker))
        let head = String(pillow[..<at.lowerBound]), tail = String(pillow[at.lowerBound...])
        let decoy = "x <?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?><x:xmpmeta xmlns:x='adobe:ns:meta/'>"
            + "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'><rdf:Description rdf:about=''"
            + " xmlns:dc='http://purl.org/dc/elements/1.1/'><dc:description><rdf:Alt><rdf:li xml:lang='x-default'>decoy"
            + "</rdf:li></rdf:Alt></dc:description></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end='w'?>\n"
        func build(_ pad: Int) -> [UInt8] {
            var padding = ""
            var left = pad
            while left > 0 {
                let n = min(left, 65)
                padding += String(repeating: "A", count: n - 1) + "\n"
                left -= n
            }
            let text = head + padding + photoshop + tail + decoy
            return Array(text.replacingOccurrences(of: "\n", with: terminator).utf8)
        }
        // Where the block starts without padding (in the converted text), then the padding
        // that puts the boundary 30 bytes (Photoshop) or 900 bytes (XMP) into it.
        let plain = build(0)
        let blockStart = try #require(plain.indexOfBytes(Array((block == "Photoshop" ? "%BeginPhotoshop" : "<?xpacket begin").utf8)))
        let into = block == "Photoshop" ? 30 : 900
        var pad = 65_536 - into - blockStart
        // The padding grows with the terminator's length; adjust until the boundary lands.
        for _ in 0..<4 {
            let bytes = build(pad)
            let start = try #require(bytes.indexOfBytes(Array((block == "Photoshop" ? "%BeginPhotoshop" : "<?xpacket begin").utf8)))
            if start == 65_536 - into { return bytes }
            pad -= start - (65_536 - into)
        }
        let bytes = build(pad)
        let start = try #require(bytes.indexOfBytes(Array((block == "Photoshop" ? "%BeginPhotoshop" : "<?xpacket begin").utf8)))
        #expect(start < 65_536 && start > 65_536 - 2000)
        return bytes
    }

    @Test("EPS without an XMP block: a packet inside a line is read only past the lines read (as ExifTool, which reads lines)")
    func epsPacketFallback() throws {
        let decoy = "x <?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?><x:xmpmeta xmlns:x='adobe:ns:meta/'>"
            + "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'><rdf:Description rdf:about=''"
            + " xmlns:dc='http://purl.org/dc/elements/1.1/'><dc:description><rdf:Alt><rdf:li xml:lang='x-default'>in a line"
            + "</rdf:li></rdf:Alt></dc:description></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end='w'?>\n"
        // Within the lines read (the first 4 MiB of PostScript) a packet counts only at the
        // start of a line, as ExifTool's line-by-line reading finds it; past them the bounded
        // scan of the file's end finds it anywhere.
        let lineWindow = EPSReader.headWindow
        for (padding, found) in [(1000, false), (1_500_000, false), (lineWindow + 200_000, true)] {
            let text = "%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 20 10\n%%Title: (T)\n%%EndComments\n"
                + String(repeating: String(repeating: "A", count: 63) + "\n", count: padding / 64) + decoy + "showpage\n"
            let eps = Array(text.utf8)
            let path = try Self.file(eps, "f.eps")
            defer { unlink(path) }
            let fd = open(path, O_RDONLY)
            try #require(fd >= 0)
            defer { close(fd) }
            let m = MetadataReader.read(FileByteSource(fd: fd, size: Int64(eps.count)))
            #expect(m.first(.description, from: .xmp)?.value == (found ? .text("in a line") : nil), "\(eps.count) bytes")
            #expect(m.first(.title, from: .postscript)?.value == .text("T"))
            #expect(m == MetadataReader.read(DataByteSource(eps)))
        }
        // The same packet at the start of a line is read wherever it is.
        let text = "%!PS-Adobe-3.0 EPSF-3.0\n%%Title: (T)\n%%EndComments\n" + decoy.dropFirst(2) + "showpage\n"
        let m = MetadataReader.read(DataByteSource(Array(text.utf8)))
        #expect(m.first(.description, from: .xmp)?.value == .text("in a line"))
    }

    @Test("EPS: a Photoshop block or an XMP packet across a window boundary, LF, CR or CR LF lines", arguments: ["\n", "\r", "\r\n"])
    func epsBlocksAcrossWindows(terminator: String) throws {
        for block in ["Photoshop", "XMP"] {
            let eps = try Self.paddedEPS(boundaryIn: block, terminator: terminator)
            let path = try Self.file(eps, "b.eps")
            defer { unlink(path) }
            let fd = open(path, O_RDONLY)
            try #require(fd >= 0)
            defer { close(fd) }
            let m = MetadataReader.read(FileByteSource(fd: fd, size: Int64(eps.count)))
            let what = "\(block) \(Array(terminator.utf8))"
            #expect(m.format == .eps, "\(what)")
            #expect(m.width == 20 && m.height == 10, "\(what)")
            #expect(m.first(.title, from: .postscript)?.value == .text("EPS title"), "\(what)")
            #expect(m.first(.title, from: .iptc)?.value == .text("IPTC object"), "\(what)")
            #expect(m.first(.description, from: .iptc)?.value == .text("IPTC caption"), "\(what)")
            #expect(m.first(.description, from: .xmp)?.value == .text("XMP in EPS"), "\(what)")
            #expect(m.first(.keywords, from: .xmp)?.value == .list(["alpha", "beta"]), "\(what)")
            #expect(m.problems.isEmpty, "\(what): \(m.problems)")
            #expect(m == MetadataReader.read(DataByteSource(eps)), "\(what)")
        }
    }
}
