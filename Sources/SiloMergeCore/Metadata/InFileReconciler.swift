/// Reconciles the values found inside one file to one value per field, following the Metadata
/// Working Group's "Guidelines for Handling Image Metadata" 2.0 as ExifTool's MWG composite
/// tags implement them (Image::ExifTool::MWG, lib/Image/ExifTool/MWG.pm, version 1.24: the
/// `Desire` lists and `RawConv` of Description, Copyright, Creator, Keywords, City, State,
/// Country, DateTimeOriginal, Orientation, Rating; documented at
/// https://exiftool.org/TagNames/MWG.html).
///
/// Rules, per field:
///
/// 1. EXIF first, where EXIF has the field and the value is not blank:
///    description ← EXIF:ImageDescription, rights ← EXIF:Copyright, creator ← EXIF:Artist
///    (split as an MWG "; " list), date_created ← EXIF:DateTimeOriginal (+ SubSecTimeOriginal
///    + OffsetTimeOriginal, ExifTool's Composite:SubSecDateTimeOriginal). title, keywords, city,
///    state and country have no EXIF source.
/// 2. Then IPTC against XMP, decided by the IPTC digest (Photoshop resource 0x0425, compared with
///    the MD5 of the IPTC records, ExifTool's CurrentIPTCDigest):
///    - digest matches, or no digest stored: XMP, and IPTC only when XMP lacks the value.
///      (ExifTool: `return $xmp if not defined $current or (defined $xmp and (not defined
///      $stored or $current eq $stored))`, otherwise the IPTC.)
///    - digest stale (IPTC edited by a tool that did not update the XMP): IPTC — except that
///      an IPTC value cut at its IIM length limit (Caption-Abstract 2000, CopyrightNotice 128,
///      ObjectName/Keywords/Country 64, By-line/City/Province-State 32 bytes) which is a prefix
///      of the XMP value yields the XMP value (ExifTool's RecoverTruncatedIPTC).
///      Deviation: when the digest is stale and IPTC lacks the field, ExifTool returns nothing;
///      SiloMerge falls back to XMP, so that a value present in the file is never dropped (the
///      cross-copy reconciliation can still flag it).
///    Fields: title (IPTC:ObjectName / XMP-dc:title; MWG defines no title, the same rule is
///    applied), description, creator, rights, keywords, date_created (IPTC DateCreated +
///    TimeCreated / XMP-photoshop:DateCreated), city, state, country.
/// 3. Fields outside the MWG IPTC rules: gps ← EXIF GPS, else XMP exif:GPSLatitude/Longitude
///    (ExifTool's Composite:GPSPosition reads EXIF); rating ← XMP xmp:Rating (MWG: XMP only);
///    orientation ← EXIF:Orientation (MWG: EXIF only), else XMP tiff:Orientation;
///    make/model ← EXIF, else XMP tiff:Make/Model; width/height ← the image header, else EXIF,
///    else XMP; format ← the magic bytes.
/// 4. Last, sources the MWG does not cover, for fields still empty: PNG text chunks (after XMP,
///    as ExifTool's PNG reader treats iTXt XMP as the richer copy), then the PDF information
///    dictionary (XMP first, as PDF 1.4+ readers do when the two disagree), then QuickTime /
///    MP4 metadata (Apple keys, then iTunes items, then user data atoms, then the movie
///    header's date), document properties (OOXML, ODF), audio tags (ID3v2 before ID3v1).
///
/// Within one origin, XMP date candidates rank photoshop:DateCreated (MWG's), then
/// exif:DateTimeOriginal (when the photo was taken), then xmp:CreateDate (when the resource was
/// created: for a photo, MWG maps it to EXIF's DateTimeDigitized); XMP country ranks photoshop:Country, then Iptc4xmpCore:CountryName;
/// otherwise the first value read wins (the standard XMP packet before the extended one). XMP
/// values from a standalone XMP file (origin `.sidecar`) count as XMP.
enum InFileReconciler {
    /// IIM length limits (bytes), for recovering values IPTC truncated.
    static let iimLimits: [UnifiedField: Int] = [
        .description: 2000, .rights: 128, .title: 64, .keywords: 64, .country: 64,
        .creator: 32, .city: 32, .state: 32,
    ]

    static func reconcile(_ m: EmbeddedMetadata) -> [UnifiedField: SourcedValue] {
        var out: [UnifiedField: SourcedValue] = [:]
        for (i, v) in winners(m).enumerated() { if let v { out[UnifiedField.allCases[i]] = v } }
        return out
    }

    /// `reconcile`'s choice, indexed by `UnifiedField.index` (nil: no value for the field):
    /// what a scan asks of every file, with no dictionary made and hashed for it.
    static func winners(_ m: EmbeddedMetadata) -> [SourcedValue?] {
        let fields = UnifiedField.allCases.count
        var out = [SourcedValue?](repeating: nil, count: fields)
        // Most files of a silo carry no metadata at all: nothing to decide, or only what the
        // file's structure says (its format, its size), one value per field.
        guard !m.values.isEmpty else { return out }
        if m.values.allSatisfy({ $0.origin == .header }) {
            for v in m.values where out[v.field.index] == nil { out[v.field.index] = v }
            return out
        }
        // The values grouped by field, in the order read within each (a counting sort: one
        // array, no per-field allocation), so each field's rules look only at its own values.
        var start = [Int](repeating: 0, count: fields + 1)
        for v in m.values { start[v.field.index + 1] += 1 }
        for i in 0..<fields { start[i + 1] += start[i] }
        var fill = start
        let grouped = [Int](unsafeUninitializedCapacity: m.values.count) { buffer, n in
            for (i, v) in m.values.enumerated() {
                buffer[fill[v.field.index]] = i
                fill[v.field.index] += 1
            }
            n = m.values.count
        }
        for field in UnifiedField.allCases where start[field.index] < start[field.index + 1] {
            let of = Candidates(all: m.values, indices: grouped[start[field.index]..<start[field.index + 1]])
            out[field.index] = choose(field, of, m.iptcDigest)
        }
        return out
    }

    /// One field's values in one file.
    private struct Candidates {
        let all: [SourcedValue]
        let indices: ArraySlice<Int>
    }

    /// The value from origin `a` (or `b`) that is not blank, best ranked (see `rank`), else
    /// first read: its index in `of.all`. One pass over the field's own values, nothing
    /// allocated or copied (a value is copied only once it is chosen; `choose` asks up to
    /// eight origins of each field, most of which do not win).
    private static func first(_ of: Candidates, _ a: MetadataOrigin, _ b: MetadataOrigin? = nil) -> Int? {
        var best: Int? = nil
        var bestRank = 0
        for i in of.indices {
            let origin = of.all[i].origin
            guard origin == a || origin == b, !isBlank(of.all[i].value) else { continue }
            if best == nil {
                best = i
                bestRank = rank(of.all[i])
            } else {
                let r = rank(of.all[i])
                if r < bestRank { best = i; bestRank = r }
            }
        }
        return best
    }

    /// Only dates and countries have tags of different rank: no other value's tag is compared
    /// (five String comparisons per value, most of choosing a photo's values).
    private static func rank(_ v: SourcedValue) -> Int {
        guard v.field == .dateCreated || v.field == .country else { return 0 }
        switch v.tag {
        case "XMP-photoshop:DateCreated", "XMP-photoshop:Country": return 0
        case "XMP-exif:DateTimeOriginal", "XMP-Iptc4xmpCore:CountryName": return 1
        case "XMP-xmp:CreateDate": return 2
        default: return 0
        }
    }

    private static func isBlank(_ v: FieldValue) -> Bool {
        switch v {
        case .text(let s), .date(let s): return s.metadataTrimmed.isEmpty
        case .list(let l): return l.allSatisfy { $0.metadataTrimmed.isEmpty }
        default: return false
        }
    }

    private static func choose(_ field: UnifiedField, _ of: Candidates, _ iptcDigest: IPTCDigestState) -> SourcedValue? {
        func value(_ i: Int?) -> SourcedValue? { i.map { of.all[$0] } }
        if field == .format || field == .width || field == .height {
            if let i = first(of, .header) { return of.all[i] }
        }
        if field == .rating { return value(first(of, .xmp, .sidecar)) }
        if isEXIFFirst(field), let i = first(of, .exif) { return of.all[i] }
        let xmp = first(of, .xmp, .sidecar)
        if isIPTCField(field) {
            let iptc = first(of, .iptc)
            if iptcDigest == .stale, let i = iptc { return recoverTruncated(of.all[i], xmp: value(xmp), field: field) }
            // A stale digest without IPTC, or a current one: XMP, else IPTC.
            if let i = xmp ?? iptc { return of.all[i] }
        } else if let i = xmp {
            return of.all[i]
        }
        return value(first(of, .png) ?? first(of, .pdf) ?? first(of, .postscript)
            ?? first(of, .quicktime) ?? first(of, .document) ?? first(of, .audio))
    }

    /// The fields of the MWG IPTC rules (rule 2), and those EXIF decides first (rule 1, and
    /// the header for width and height): switches, asked for every field of every file.
    private static func isIPTCField(_ f: UnifiedField) -> Bool {
        switch f {
        case .title, .description, .creator, .rights, .keywords, .dateCreated, .city, .state, .country: true
        default: false
        }
    }

    private static func isEXIFFirst(_ f: UnifiedField) -> Bool {
        switch f {
        case .description, .creator, .rights, .dateCreated, .gps, .orientation, .make, .model, .width, .height: true
        default: false
        }
    }

    /// ExifTool's RecoverTruncatedIPTC: an IPTC value exactly at its IIM limit that is a prefix
    /// of the XMP value was cut by the IIM limit; the XMP value is the real one.
    static func recoverTruncated(_ iptc: SourcedValue, xmp: SourcedValue?, field: UnifiedField) -> SourcedValue {
        guard let xmp, let limit = iimLimits[field] else { return iptc }
        func recovered(_ i: String, _ x: String) -> String? {
            let ib = Array(i.utf8), xb = Array(x.utf8)
            return ib.count == limit && xb.count > limit && xb.starts(with: ib) ? x : nil
        }
        switch (iptc.value, xmp.value) {
        case (.text(let i), .text(let x)):
            return recovered(i, x) != nil ? xmp : iptc
        case (.list(let i), .list(let x)):
            var changed = false
            let items = i.enumerated().map { k, item -> String in
                guard k < x.count, let r = recovered(item, x[k]) else { return item }
                changed = true
                return r
            }
            guard changed else { return iptc }
            var v = iptc
            v.value = .list(items)
            return v
        default:
            return iptc
        }
    }
}
