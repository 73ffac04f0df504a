import Foundation
import Testing
@testable import SiloMergeCore
import SiloMergeTestSupport

/// Containers, documents and audio, on the files in Fixtures/media (written by libheif,
/// ImageMagick, libjxl, ffmpeg, LibreOffice, qpdf and exiftool; see
/// tools/fixtures/make-media-fixtures.sh): what each reader finds, where, and what the file's
/// own reconciliation chooses.
@Suite("Metadata: containers, documents, audio")
struct MediaFormatTests {
    static func read(_ name: String) throws -> EmbeddedMetadata { try Fixture.read("media/" + name) }

    /// The value the file's own reconciliation chooses for each field.
    static func chosen(_ m: EmbeddedMetadata) -> [UnifiedField: SourcedValue] { MetadataReader.reconcileInFile(m) }

    static func text(_ m: EmbeddedMetadata, _ f: UnifiedField) -> String? { chosen(m)[f]?.value.display }

    @Test("HEIC: dimensions from the primary item's ispe, EXIF from the Exif item, XMP from the mime item")
    func heic() throws {
        let m = try Self.read("phone-photo.heic")
        #expect(m.format == .heic && m.width == 64 && m.height == 48)
        #expect(m.problems.isEmpty, "\(m.problems)")
        let c = Self.chosen(m)
        #expect(c[.title]?.value == .text("Harbour at dawn") && c[.title]?.tag == "XMP-dc:title")
        #expect(c[.keywords]?.value == .list(["harbour", "dawn", "boats"]))
        #expect(c[.rights]?.value == .text("© 2023 Northwind Traders"))
        #expect(c[.city]?.value == .text("Cascais") && c[.country]?.value == .text("Portugal") && c[.rating]?.value == .integer(4))
        #expect(c[.make]?.value == .text("Apple") && c[.make]?.tag == "EXIF:Make" && c[.model]?.value == .text("iPhone 12"))
        #expect(c[.orientation]?.value == .integer(6))
        #expect(c[.dateCreated]?.value == .date("2023-05-06T07:08:09+01:00"))
        let gps = try #require(c[.gps]?.value.gps)
        #expect(abs(gps.latitude - 38.6979) < 1e-6 && abs(gps.longitude + 9.4215) < 1e-6)
        #expect(m.values.contains { $0.tag == "HEIF:ImageWidth" && $0.origin == .header })
    }

    @Test("HEIF grid: the primary item's size, not a tile's; AVIF like HEIC")
    func gridAndAVIF() throws {
        let g = try Self.read("grid.heic")
        #expect(g.format == .heic && g.width == 128 && g.height == 96)
        #expect(Self.text(g, .model) == "iPhone 14")
        let a = try Self.read("poster.avif")
        #expect(a.format == .avif && a.width == 64 && a.height == 48)
        #expect(Self.text(a, .model) == "ILCE-7M4" && Self.text(a, .title) == "Harbour at dawn")
    }

    @Test("CR3: IFD0 from CMT1, EXIF from CMT2, GPS from CMT4, XMP from the top-level uuid box")
    func cr3() throws {
        let m = try Self.read("raw-sample.cr3")
        #expect(m.format == .cr3)
        #expect(m.problems.isEmpty, "\(m.problems)")
        let c = Self.chosen(m)
        #expect(c[.make]?.value == .text("Canon") && c[.model]?.value == .text("Canon EOS R5"))
        #expect(c[.creator]?.value == .list(["Rui Santos"]) && c[.rights]?.value == .text("(c) 2023 Northwind Traders"))
        #expect(c[.dateCreated]?.value == .date("2023-04-05T06:07:08.25+01:00") && c[.dateCreated]?.tag == "EXIF:DateTimeOriginal")
        let gps = try #require(c[.gps]?.value.gps)
        #expect(abs(gps.latitude - 41.1496) < 1e-4 && abs(gps.longitude + 8.611) < 1e-4)
        #expect(c[.title]?.value == .text("Ribeira at night") && c[.rating]?.value == .integer(5))
        #expect(c[.width]?.value == .integer(8192))
    }

    @Test("JPEG 2000 and JPEG XL: header size, XMP and Exif boxes")
    func jp2AndJXL() throws {
        let j = try Self.read("scan.jp2")
        #expect(j.format == .jp2 && j.width == 64 && j.height == 48)
        #expect(Self.text(j, .title) == "Archive scan 1923" && Self.text(j, .dateCreated) == "1923-03-04")
        #expect(Self.chosen(j)[.keywords]?.value == .list(["archive", "scan"]))
        let x = try Self.read("drawing.jxl")
        #expect(x.format == .jxl && x.width == 64 && x.height == 48)
        #expect(Self.text(x, .title) == "Tram 28" && Self.text(x, .model) == "X-T5")
        #expect(Self.text(x, .dateCreated) == "2023-07-08T09:10:11")
    }

    @Test("MP4: iTunes items, the ©xyz location, the movie header's creation date, the video track's size")
    func mp4() throws {
        let m = try Self.read("clip.mp4")
        #expect(m.format == .mp4 && m.width == 64 && m.height == 48)
        let c = Self.chosen(m)
        #expect(c[.title]?.value == .text("Launch teaser") && c[.title]?.tag == "ItemList:Title" && c[.title]?.origin == .quicktime)
        #expect(c[.creator]?.value == .list(["Marketing Video Team"]))
        #expect(c[.rights]?.value == .text("© 2023 Northwind Traders"))
        #expect(c[.description]?.value == .text("Ten frames of the launch."))
        #expect(c[.dateCreated]?.value == .date("2023-06-20T10:00:00Z"))
        let gps = try #require(c[.gps]?.value.gps)
        // ffmpeg writes the location as a 3GPP loci box: 16.16 fixed point, shown to 5 decimals.
        #expect(abs(gps.latitude - 38.7139) < 1e-5 && abs(gps.longitude + 9.1394) < 1e-5)
        #expect(c[.gps]?.tag == "UserData:LocationInformation")
        #expect(m.values.contains { $0.tag == "QuickTime:CreateDate" && $0.value == .date("2023-06-20T10:00:00Z") })
    }

    @Test("MOV: Apple mdta keys win over the movie header; 3GP asset boxes; AVI INFO and frame size")
    func movAnd3gpAndAVI() throws {
        let m = try Self.read("phone-video.mov")
        #expect(m.format == .mov && m.width == 64)
        let c = Self.chosen(m)
        #expect(c[.title]?.tag == "Keys:Title" && c[.title]?.value == .text("Tram ride"))
        #expect(c[.dateCreated]?.value == .date("2023-05-06T07:08:09+01:00") && c[.dateCreated]?.tag == "Keys:CreationDate")
        #expect(c[.make]?.value == .text("Apple") && c[.model]?.value == .text("iPhone 12"))
        #expect(c[.keywords]?.value == .list(["tram", "Lisbon"]))
        let gps = try #require(c[.gps]?.value.gps)
        #expect(abs(gps.latitude - 38.7103) < 1e-6 && abs(gps.longitude + 9.1358) < 1e-6)
        let g = try Self.read("site-visit.3gp")
        #expect(g.format == .mp4)
        #expect(Self.text(g, .title) == "Site visit" && Self.text(g, .creator) == "Rui Santos")
        #expect(Self.text(g, .rights) == "© 2023 Northwind Traders" && Self.chosen(g)[.rights]?.tag == "UserData:Copyright")
        let a = try Self.read("intro.avi")
        #expect(a.format == .avi && a.width == 64 && a.height == 48)
        #expect(Self.text(a, .title) == "Training intro" && Self.text(a, .creator) == "Training Team")
        #expect(Self.text(a, .dateCreated) == "2021-09-10")
    }

    @Test("audio: ID3v2.4, ID3v2.3 + ID3v1, Vorbis comments in Ogg, Opus and FLAC, RIFF INFO", arguments: [
        ("jingle.mp3", MediaFormat.mp3, "ID3v2_4:Title", "2022-11-03"),
        ("jingle-v23.mp3", .mp3, "ID3v2_3:Title", "2022"),
        ("jingle.ogg", .ogg, "Vorbis:Title", "2022-11-03"),
        ("jingle.opus", .ogg, "Vorbis:Title", "2022-11-03"),
        ("jingle.flac", .flac, "Vorbis:Title", "2022-11-03"),
        ("jingle.wav", .wav, "RIFF:Title", "2022-11-03"),
    ])
    func audio(_ file: String, _ format: MediaFormat, _ titleTag: String, _ date: String) throws {
        let m = try Self.read(file)
        #expect(m.format == format)
        #expect(m.problems.isEmpty, "\(m.problems)")
        let c = Self.chosen(m)
        #expect(c[.title]?.value == .text("Jingle") && c[.title]?.tag == titleTag && c[.title]?.origin == .audio)
        #expect(c[.creator]?.value == .list(["Northwind Studio"]))
        #expect(c[.rights]?.value == .text("© 2023 Northwind Traders"))
        #expect(c[.dateCreated]?.value == .date(date))
        if file == "jingle-v23.mp3" {
            #expect(m.values.contains { $0.tag == "ID3v1:Title" && $0.value == .text("Jingle") })
        }
    }

    @Test("Office Open XML and OpenDocument: properties from the zip's directory, one member inflated", arguments: [
        ("report.docx", MediaFormat.docx), ("budget.xlsx", .xlsx), ("deck.pptx", .pptx),
        ("report.odt", .odt), ("budget.ods", .ods), ("deck.odp", .odp),
    ])
    func documents(_ file: String, _ format: MediaFormat) throws {
        let m = try Self.read(file)
        #expect(m.format == format)
        #expect(m.problems.isEmpty, "\(m.problems)")
        let c = Self.chosen(m)
        #expect(c[.title]?.value == .text("Quarterly report Q3") && c[.title]?.origin == .document)
        #expect(c[.description]?.value == .text("Sales in the third quarter"))
        #expect(m.values.contains { $0.field == .description && $0.value == .text("Figures for the board meeting.") })
        #expect(c[.creator]?.value == .list(["Marta Lopes"]))
        // ODF lists keywords one by one; LibreOffice joins them with spaces in OOXML's one
        // cp:keywords string, which is split only at commas and semicolons.
        let keywords = [.docx, .xlsx, .pptx].contains(format) ? ["sales Q3 board"] : ["sales", "Q3", "board"]
        #expect(c[.keywords]?.value == .list(keywords))
        #expect(c[.dateCreated]?.value.date?.hasPrefix("2023-10-02T09:30:00") == true)
    }

    @Test("PDF: XMP over Info, through classic tables (with an update), a cross-reference stream with object streams, and encryption with an empty user password", arguments: [
        "report.pdf", "report-objstm.pdf", "report-rc4.pdf", "report-aes128.pdf", "report-aes256.pdf",
    ])
    func pdf(_ file: String) throws {
        let m = try Self.read(file)
        #expect(m.format == .pdf)
        #expect(m.problems.isEmpty, "\(m.problems)")
        let c = Self.chosen(m)
        // The XMP metadata stream (added by exiftool in an incremental update) wins over the
        // Info dictionary, whose values are read too.
        #expect(c[.title]?.value == .text("Quarterly report Q3 (board copy)") && c[.title]?.tag == "XMP-dc:title", "\(m.values)")
        #expect(c[.creator]?.value == .list(["Marta Lopes"]))
        #expect(c[.dateCreated]?.value == .date("2023-10-02T09:30:00+01:00"))
        #expect(m.values.contains { $0.tag == "PDF:Title" && $0.value == .text("Quarterly report Q3") })
        #expect(m.values.contains { $0.tag == "PDF:Keywords" && $0.value == .list(["sales", "Q3", "board"]) })
        #expect(m.values.contains { $0.tag == "PDF:Subject" && $0.value == .text("Sales in the third quarter") })
    }

    @Test("PDF that needs a password: nothing shown scrambled, a note says why")
    func pdfPassword() throws {
        let m = try Self.read("report-password.pdf")
        #expect(m.values.allSatisfy { $0.origin == .header }, "\(m.values)")
        #expect(m.problems.contains { $0.reason.contains("user password") })
    }

    @Test("image hash: HEIC equal without metadata, different for another picture; MP4 equal after retitling")
    func imageHash() throws {
        func hash(_ f: String, _ format: MediaFormat) throws -> SHA256Digest? {
            try ImageDataHash.compute(DataByteSource(try Fixture.bytes("media/" + f)), format: format)
        }
        let photo = try #require(try hash("phone-photo.heic", .heic))
        #expect(try hash("phone-photo-stripped.heic", .heic) == photo)
        #expect(try hash("other-photo.heic", .heic) != photo)
        let clip = try #require(try hash("clip.mp4", .mp4))
        #expect(try hash("clip-retitled.mp4", .mp4) == clip)
        #expect(try Fixture.bytes("media/clip.mp4") != Fixture.bytes("media/clip-retitled.mp4"))
        #expect(try hash("phone-video.mov", .mov) != clip)
    }

    @Test("ID3v2.4 with iTunes' plain 32-bit frame sizes; several ARTIST comments make a list of creators")
    func audioQuirks() {
        func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        func syncsafe(_ v: Int) -> [UInt8] { [UInt8(v >> 21 & 0x7F), UInt8(v >> 14 & 0x7F), UInt8(v >> 7 & 0x7F), UInt8(v & 0x7F)] }
        // A 200-byte APIC frame whose size iTunes wrote as a plain integer (0xC8, not the
        // syncsafe 0x148), then the title: read as syncsafe, the title would be lost.
        let apic = Array("APIC".utf8) + be32(200) + [0, 0] + [UInt8](repeating: 0x41, count: 200)
        let title = Array("TIT2".utf8) + syncsafe(9) + [0, 0] + [3] + Array("Sunshine".utf8)
        let frames = apic + title + [UInt8](repeating: 0, count: 16)
        let tag = Array("ID3".utf8) + [4, 0, 0] + syncsafe(frames.count) + frames
        let m = MetadataReader.read(DataByteSource(tag))
        #expect(m.first(.title, from: .audio)?.value == .text("Sunshine"), "\(m.problems)")
        // Vorbis comments: ARTIST=piman, ARTIST=jzig.
        func le32(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24 & 0xFF)] }
        let comments = ["TITLE=Silence", "ARTIST=piman", "ARTIST=jzig"].map { le32($0.utf8.count) + Array($0.utf8) }.joined()
        let vorbis = le32(0) + le32(3) + Array(comments)
        let flac = Array("fLaC".utf8) + [0x84, 0, 0, UInt8(vorbis.count)] + vorbis
        let f = MetadataReader.read(DataByteSource(flac))
        #expect(f.first(.creator, from: .audio)?.value == .list(["piman", "jzig"]))
        #expect(f.first(.title, from: .audio)?.value == .text("Silence"))
    }

    @Test("a movie without media data has no image hash (an empty one would make such files all alike)")
    func emptyMediaData() throws {
        let ftyp: [UInt8] = [0, 0, 0, 16] + Array("ftypqt  ".utf8) + [0, 0, 0, 0]
        let moov: [UInt8] = [0, 0, 0, 8] + Array("moov".utf8)
        let mdat: [UInt8] = [0, 0, 0, 8] + Array("mdat".utf8)
        #expect(throws: MetadataProblem.self) { try ImageDataHash.compute(DataByteSource(ftyp + moov + mdat), format: .mov) }
        #expect(throws: MetadataProblem.self) { try ImageDataHash.compute(DataByteSource(ftyp + moov), format: .mov) }
        // Old QuickTime files start with an atom, not ftyp.
        #expect(FormatSniffer.sniff(head: moov + mdat) == .mov)
        #expect(FormatSniffer.sniff(head: [0, 0, 0, 8] + Array("wide".utf8) + mdat) == .mov)
    }

    @Test("image hash of a grid: every tile counts, the Exif item does not")
    func gridHash() throws {
        let bytes = try Fixture.bytes("media/grid.heic")
        let base = try #require(try ImageDataHash.compute(DataByteSource(bytes), format: .heic))
        // Change the camera model inside the Exif item (same length): the hash stays.
        var exifEdited = bytes
        let at = try #require(bytes.indexOfBytes(Array("iPhone 14".utf8)))
        exifEdited[at + 8] = UInt8(ascii: "5")
        #expect(MetadataReader.reconcileInFile(MetadataReader.read(DataByteSource(exifEdited)))[.model]?.value == .text("iPhone 15"))
        #expect(try ImageDataHash.compute(DataByteSource(exifEdited), format: .heic) == base)
        // Change one byte of the last tile (its bytes are 0x29): the hash changes.
        var tileEdited = bytes
        let tile = try #require(bytes.lastIndex(of: 0x29))
        tileEdited[tile] = 0x30
        #expect(try ImageDataHash.compute(DataByteSource(tileEdited), format: .heic) != base)
    }

    @Test("formats from magic bytes, whatever the name", arguments: [
        ([0, 0, 0, 0x1C] + Array("ftypavif".utf8) + [0, 0, 0, 0] + Array("avifmif1miaf".utf8), MediaFormat.avif),
        ([0, 0, 0, 0x18] + Array("ftypmif1".utf8) + [0, 0, 0, 0] + Array("avifmiaf".utf8), .avif),
        ([0, 0, 0, 0x18] + Array("ftypcrx ".utf8) + [0, 0, 0, 1] + Array("crx isom".utf8), .cr3),
        ([0, 0, 0, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A], .jp2),
        ([0xFF, 0x4F, 0xFF, 0x51, 0, 0x29], .jp2),
        ([0, 0, 0, 0x0C, 0x4A, 0x58, 0x4C, 0x20, 0x0D, 0x0A, 0x87, 0x0A], .jxl),
        ([0xFF, 0x0A, 0xFA], .jxl),
        (Array("OggS".utf8) + [0, 2], .ogg),
        (Array("fLaC".utf8) + [0, 0, 0, 0x22], .flac),
        (Array("RIFF".utf8) + [4, 0, 0, 0] + Array("WAVE".utf8), .wav),
        (Array("RIFF".utf8) + [4, 0, 0, 0] + Array("AVI ".utf8), .avi),
        (Array("ID3".utf8) + [4, 0, 0, 0, 0, 0, 0], .mp3),
        ([0x50, 0x4B, 3, 4] + [UInt8](repeating: 0, count: 26), .zip),
    ] as [([UInt8], MediaFormat)])
    func sniffing(_ head: [UInt8], _ format: MediaFormat) {
        #expect(FormatSniffer.sniff(head: head) == format)
    }
}
