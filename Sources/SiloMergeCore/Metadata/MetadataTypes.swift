/// The container format of a file, decided from its magic bytes and structure (never from its
/// name).
public enum MediaFormat: String, Sendable, Codable, CaseIterable {
    case jpeg, png, tiff, webp, gif, mp4, mov, heic, pdf, svg, xmp
    /// Camera raw files built on TIFF: Adobe DNG, Nikon NEF, Canon CR2, Sony ARW, Olympus ORF,
    /// Panasonic RW2, Pentax PEF, Phase One IIQ.
    case dng, nef, cr2, arw, orf, rw2, pef, iiq
    /// Photoshop PSD and PSB, Encapsulated PostScript (and PostScript-based Illustrator files),
    /// Windows bitmaps and icons (ICO and CUR), PC Paintbrush, Netpbm (PBM, PGM, PPM).
    case psd, eps, bmp, ico, pcx, pnm
    // ISO base media file format relatives: AVIF images, Canon CR3 raw files.
    case avif, cr3
    // JPEG 2000 (JP2 boxes or a bare codestream) and JPEG XL (container or bare codestream).
    case jp2, jxl
    // Office documents: Office Open XML, OpenDocument, and any other zip archive.
    case docx, xlsx, pptx, odt, ods, odp, zip
    // Audio and RIFF video.
    case mp3, ogg, flac, wav, avi
    case other

    /// TIFF and the raw formats built on it: read, and their image data hashed, as TIFF.
    public var isTIFFBased: Bool {
        switch self {
        case .tiff, .dng, .nef, .cr2, .arw, .orf, .rw2, .pef, .iiq: true
        default: false
        }
    }
}

/// Where a value came from.
public enum MetadataOrigin: String, Sendable, Codable, CaseIterable {
    /// An XMP sidecar file (`name.xmp`, `name.ext.xmp`), or a standalone XMP file read with `read`.
    case sidecar
    /// XMP embedded in the file.
    case xmp
    /// IPTC IIM (JPEG APP13 / TIFF tag 33723 or 34377).
    case iptc
    /// EXIF / TIFF IFD tags.
    case exif
    /// PNG textual chunks (tEXt, zTXt, iTXt other than XMP).
    case png
    /// A departmental CSV manifest (filled by the catalogue layer, never by the readers here).
    case manifest
    /// File-system facts (filled by the scanner, never by the readers here).
    case filesystem
    /// The PDF document information dictionary (/Title, /Author, ...).
    case pdf
    /// PostScript / EPS document structuring comments (%%Title, %%Author, ...).
    case postscript
    /// The file's own structure: the format from its magic bytes and the pixel dimensions from
    /// its image header (JPEG SOF, PNG IHDR, GIF screen descriptor, TIFF IFD0, WebP, MP4 tkhd).
    case header
    /// QuickTime / MP4 metadata: `moov/udta` atoms, `meta`/`ilst` items, `mdta` keys, the movie
    /// header's creation date.
    case quicktime
    /// Document properties: Office Open XML `docProps/core.xml`, OpenDocument `meta.xml`.
    case document
    /// Audio tags: ID3 (MP3), Vorbis comments (Ogg, FLAC), RIFF INFO (WAV, AVI).
    case audio
}

/// A normalised value.
public enum FieldValue: Sendable, Hashable, Codable {
    case text(String)
    /// Keywords, creators: order kept, items trimmed, empty items dropped.
    case list([String])
    /// Width, height, orientation (1...8), rating.
    case integer(Int)
    /// Decimal degrees; south and west are negative.
    case gps(latitude: Double, longitude: Double)
    /// ISO 8601 as precise as the source: "2023-06-14", "2023-06-14T18:30:00",
    /// "2023-06-14T18:30:00.25+01:00".
    case date(String)

    /// The text of a `.text` value.
    public var text: String? { if case .text(let s) = self { return s }; return nil }
    /// The items of a `.list` value.
    public var list: [String]? { if case .list(let l) = self { return l }; return nil }
    public var integer: Int? { if case .integer(let i) = self { return i }; return nil }
    public var date: String? { if case .date(let d) = self { return d }; return nil }
    public var gps: (latitude: Double, longitude: Double)? {
        if case .gps(let lat, let lon) = self { return (lat, lon) }
        return nil
    }
}

/// One value with its provenance.
public struct SourcedValue: Sendable, Hashable, Codable {
    public var field: UnifiedField
    public var value: FieldValue
    public var origin: MetadataOrigin
    /// Where exactly: "EXIF:ImageDescription", "IPTC:Caption-Abstract", "XMP-dc:description",
    /// "PNG:Title", "PDF:Author", "File:ImageWidth"...
    public var tag: String
    /// The raw value as found, for provenance (lists joined with "; ").
    public var raw: String

    public init(field: UnifiedField, value: FieldValue, origin: MetadataOrigin, tag: String, raw: String) {
        self.field = field; self.value = value; self.origin = origin; self.tag = tag; self.raw = raw
    }
}

/// A block that could not be read (entirely or in part). Never fatal: the rest of the file is
/// still read. Also thrown by `ImageDataHash` when the image structure itself is broken.
public struct MetadataProblem: Sendable, Hashable, Codable, Error, CustomStringConvertible {
    /// The block: "EXIF", "IPTC", "XMP", "JPEG", "PNG", "TIFF", "PDF", "I/O", ...
    public var block: String
    /// A sentence for a person, e.g. "IFD offset 0x4f2a points past the end of the file".
    public var reason: String
    public init(block: String, reason: String) { self.block = block; self.reason = reason }
    public var description: String { "\(block): \(reason)" }
}

/// The state of Photoshop's IPTC digest (image resource 0x0425), which tells whether the IPTC
/// was edited by a tool that did not update the XMP.
public enum IPTCDigestState: String, Sendable, Codable {
    /// No digest stored (or no IPTC at all).
    case absent
    /// The stored digest equals the MD5 of the IPTC records: XMP and IPTC are in sync.
    case matches
    /// The IPTC changed after the digest was written: the IPTC is newer than the XMP.
    case stale
}

/// Everything read from one file's embedded metadata, before reconciliation.
public struct EmbeddedMetadata: Sendable, Hashable, Codable {
    public var format: MediaFormat
    /// Pixel dimensions from the image header (JPEG SOF, PNG IHDR, GIF LSD, TIFF IFD0,
    /// WebP VP8/VP8L/VP8X, MP4/MOV first visual track).
    public var width: Int?, height: Int?
    /// Every value found, all origins, in the order read.
    public var values: [SourcedValue]
    public var iptcDigest: IPTCDigestState
    public var problems: [MetadataProblem]

    public init(format: MediaFormat, width: Int? = nil, height: Int? = nil, values: [SourcedValue] = [],
                iptcDigest: IPTCDigestState = .absent, problems: [MetadataProblem] = []) {
        self.format = format; self.width = width; self.height = height; self.values = values
        self.iptcDigest = iptcDigest; self.problems = problems
    }

    /// The values found for one field, in the order read.
    public func values(for field: UnifiedField) -> [SourcedValue] { values.filter { $0.field == field } }

    /// The first value of `field` from `origin`.
    public func first(_ field: UnifiedField, from origin: MetadataOrigin) -> SourcedValue? {
        values.first { $0.field == field && $0.origin == origin }
    }
}
