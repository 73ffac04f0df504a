import Foundation
import Plot

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Thumbnails (implemented by SiloMergeImaging)

/// A small picture of an image, encoded, for embedding in the report as a `data:` URI.
public struct ImageThumbnail: Sendable, Hashable {
    /// "image/jpeg" or "image/png".
    public var mediaType: String
    public var bytes: [UInt8]
    public var width: Int
    public var height: Int

    public init(mediaType: String, bytes: [UInt8], width: Int, height: Int) {
        self.mediaType = mediaType; self.bytes = bytes; self.width = width; self.height = height
    }

    /// `data:image/jpeg;base64,...`: only base64 characters after the fixed prefix.
    public var dataURI: String { "data:\(mediaType);base64," + Data(bytes).base64EncodedString() }
}

/// What the HTML report asks for each image of its *Similar images* section: SiloMergeImaging's
/// `ImageThumbnailer` implements it with the decoders the scan uses, and the command line hands
/// one to `HTMLReportData.gather`, so core links no image library.
public protocol ImageThumbnailing: Sendable {
    /// The largest side of a thumbnail, in pixels.
    var maxSide: Int { get }
    /// The largest encoded thumbnail, in bytes.
    var maxBytes: Int { get }
    /// A thumbnail of the image in an open regular file, read from offset 0 (the descriptor
    /// stays the caller's), in display orientation, within `maxSide` and `maxBytes`.
    func thumbnail(fd: Int32) -> Result<ImageThumbnail, ImageFingerprintFailure>
}

// MARK: - The view model

extension HTMLReportData {
    /// The report's *Similar images* section (`SimilarImages`): groups of the same photo at
    /// another size, quality, format, crop or orientation, each image with a thumbnail made
    /// from the file on disk when the page was written.
    public struct SimilarSection: Sendable, Equatable {
        public var groups: [SimilarGroupRow]
        /// Groups in all (at least `groups.count`).
        public var totalGroups: Int
        /// Images (distinct contents) with a perceptual hash that were compared.
        public var images: Int
        public var derivatives: Int
        public var derivativeBytes: Int64
        /// The Hamming distance threshold, in bits.
        public var threshold: Int
        /// Thumbnails embedded, and images shown without one because the budget was spent.
        public var thumbnails = 0
        public var thumbnailsOverBudget = 0
        /// Why no thumbnails at all (no decoder given), else nil.
        public var thumbnailsOff: String?

        public init(groups: [SimilarGroupRow], totalGroups: Int, images: Int, derivatives: Int, derivativeBytes: Int64, threshold: Int) {
            self.groups = groups; self.totalGroups = totalGroups; self.images = images
            self.derivatives = derivatives; self.derivativeBytes = derivativeBytes; self.threshold = threshold
        }
    }

    public struct SimilarGroupRow: Sendable, Equatable {
        public var master: SimilarImageRow
        /// Why this one is the master ("most pixels", ...).
        public var reason: String
        /// Closest first; at most `HTMLReportData.similarDerivativesShown` of them.
        public var derivatives: [SimilarImageRow]
        /// Derivatives in the group (at least `derivatives.count`).
        public var totalDerivatives: Int

        public init(master: SimilarImageRow, reason: String, derivatives: [SimilarImageRow], totalDerivatives: Int) {
            self.master = master; self.reason = reason; self.derivatives = derivatives; self.totalDerivatives = totalDerivatives
        }
    }

    public struct SimilarImageRow: Sendable, Equatable {
        public var silo: String
        public var path: String
        public var width: Int
        public var height: Int
        public var format: String
        public var size: Int64
        public var copies: Int
        /// nil for the master.
        public var distance: Int?
        /// "as is", "turned 90° clockwise", ...; nil for the master.
        public var transform: String?
        /// The thumbnail as a `data:` URI, or nil with `note` saying why there is none.
        public var thumbnail: String?
        public var thumbnailWidth = 0
        public var thumbnailHeight = 0
        public var note: String?

        public init(silo: String, path: String, width: Int, height: Int, format: String, size: Int64, copies: Int,
                    distance: Int? = nil, transform: String? = nil) {
            self.silo = silo; self.path = path; self.width = width; self.height = height; self.format = format
            self.size = size; self.copies = copies; self.distance = distance; self.transform = transform
        }
    }

    /// At most this many derivatives of a group are listed (the rest are counted).
    public static let similarDerivativesShown = 12
    /// At most this many thumbnails in one page: with thumbnails of at most 8 KB, the section
    /// stays under about 4 MB however many photos the catalogue holds.
    public static let similarThumbnailBudget = 400

    /// The section from the catalogue's perceptual hashes: at most `rowLimit` groups, each with
    /// at most `similarDerivativesShown` derivatives, and thumbnails (when `thumbnailer` is
    /// given) for at most `similarThumbnailBudget` images, read from the silos now. A file that
    /// cannot be opened, changed size since the scan, or does not decode gets a note instead.
    public static func similarSection(store: any CatalogueStore, silos: [Silo], rowLimit: Int,
                                      thumbnailer: (any ImageThumbnailing)?) throws -> SimilarSection {
        let found = try SimilarImages.find(in: store, silos: silos)
        let roots = Dictionary(silos.map { ($0.name, $0.root) }, uniquingKeysWith: { a, _ in a })
        var section = SimilarSection(groups: [], totalGroups: found.groups.count, images: found.images,
                                     derivatives: found.derivativeCount, derivativeBytes: found.derivativeBytes,
                                     threshold: found.threshold)
        if thumbnailer == nil { section.thumbnailsOff = "no image decoder in this build" }
        func row(_ i: SimilarImages.Image, _ d: SimilarImages.Derivative?) -> SimilarImageRow {
            var r = SimilarImageRow(silo: i.silo, path: i.path.display, width: i.width, height: i.height, format: i.format,
                                    size: i.size, copies: i.copies, distance: d?.distance, transform: d?.transform)
            guard let thumbnailer else { return r }
            guard section.thumbnails < similarThumbnailBudget else {
                section.thumbnailsOverBudget += 1
                r.note = "no thumbnail: the page holds \(similarThumbnailBudget) at most"
                return r
            }
            guard let root = roots[i.silo] else { r.note = "no thumbnail: the silo is not known"; return r }
            switch thumbnail(root: root, path: i.path, size: i.size, with: thumbnailer) {
            case .success(let t):
                r.thumbnail = t.dataURI; r.thumbnailWidth = t.width; r.thumbnailHeight = t.height
                section.thumbnails += 1
            case .failure(let why):
                r.note = "no thumbnail: \(why)"
            }
            return r
        }
        for g in found.groups.prefix(rowLimit) {
            let master = row(g.master, nil)
            let derivatives = g.derivatives.prefix(similarDerivativesShown).map { row($0.image, $0) }
            section.groups.append(SimilarGroupRow(master: master, reason: g.reason, derivatives: derivatives,
                                                  totalDerivatives: g.derivatives.count))
        }
        return section
    }

    /// Opens the catalogued file without following a final symlink or blocking on a FIFO, checks
    /// it is still a regular file of its catalogued size, and asks for its thumbnail.
    static func thumbnail(root: FilePath, path: RelativePath, size: Int64,
                          with thumbnailer: any ImageThumbnailing) -> Result<ImageThumbnail, ImageFingerprintFailure> {
        let full = root.appending(path)
        let fd: Int32
        switch Posix.openPath(full, flags: O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW) {
        case .success(let opened): fd = opened
        case .failure(let e) where e.code == ENOENT: return .failure(.unreadable("the file is gone since the scan"))
        case .failure(let e): return .failure(.unreadable(e.description))
        }
        defer { close(fd) }
        switch Posix.fstat(fd) {
        case .failure(let e): return .failure(.unreadable(e.description))
        case .success(let st):
            guard st.kind == .regular else { return .failure(.unsupported("not a regular file any more")) }
            guard st.size == size else { return .failure(.unreadable("the file changed since the scan (\(st.size) bytes, catalogued \(size))")) }
        }
        return thumbnailer.thumbnail(fd: fd)
    }
}

// MARK: - Rendering

/// Escaped text.
private func text<C>(_ s: String) -> Node<C> { .text(HTMLReport.plotText(s)) }
/// An attribute whose value is escaped (Plot writes attribute values unescaped).
private func attr<C>(_ name: String, _ value: String) -> Node<C> { .attribute(named: name, value: HTMLReport.escape(value)) }
private func cls<C>(_ name: String) -> Node<C> { attr("class", name) }

extension HTMLPage {
    /// *Similar images*: one row per group, its master then its derivatives, each with its
    /// thumbnail (an embedded `data:` URI) or the note saying why there is none.
    func similarImages() -> Body {
        guard let s = data.similar else { return .empty }
        let shown = Array(s.groups.prefix(rowLimit))
        let total = max(s.totalGroups, s.groups.count)
        let columns = [Column("#", numeric: true), Column("Derivatives", numeric: true), Column("Master"),
                       Column("Images (master first, then closest)", sortable: false)]
        let rows: [[Cell]] = shown.enumerated().map { i, g in
            let more = g.totalDerivatives - g.derivatives.count
            return [Cell.number(Int64(i + 1), "\(i + 1)"),
                    Cell.number(Int64(g.totalDerivatives), Format.count(g.totalDerivatives)),
                    Cell(.group(siloTag(g.master.silo), text(" "), .code(cls("path"), text(g.master.path)), .br(),
                                .span(cls("n"), text("master: \(g.reason)"))), cls: "name"),
                    Cell(.group(
                        .ul(cls("similar"), .group([similarImage(g.master, master: true)] + g.derivatives.map { similarImage($0, master: false) })),
                        .if(more > 0, .p(cls("more"), text("and \(Format.plural(more, "more derivative")) (see silomerge duplicates --similar)")))),
                         cls: "files")]
        }
        var lede = "The same photo at another size, quality, format, crop or orientation, from the perceptual hashes of full scans "
            + "(silomerge scan --similar-images): \(HTMLChart.plural(total, "group")) among \(HTMLChart.plural(s.images, "image")), "
            + "\(HTMLChart.plural(s.derivatives, "derivative")) of \(Format.bytes(s.derivativeBytes)); a derivative is within "
            + "\(s.threshold) bits of its master's hash. The master of a group has the most pixels, then the richest metadata, then the best silo priority. "
        if let off = s.thumbnailsOff { lede += "No thumbnails: \(off)." }
        else {
            lede += "Thumbnails (greyscale, \(HTMLChart.plural(s.thumbnails, "image"))) were made from the files when this page was written."
            if s.thumbnailsOverBudget > 0 {
                lede += " \(HTMLChart.plural(s.thumbnailsOverBudget, "image")) beyond the first \(HTMLReportData.similarThumbnailBudget) have none, to keep the page small."
            }
        }
        let empty = s.images == 0
            ? "No perceptual hashes in the catalogue: silomerge scan --similar-images computes them."
            : "No image is another's derivative."
        return section("similar", "Similar images",
            .p(cls("lede"), text(lede)),
            table(id: "t-similar", caption: "Similar images", columns: columns, rows: rows,
                  total: total, noun: "groups", empty: empty,
                  hints: ["silomerge duplicates --similar --format json"], stack: true))
    }

    private func similarImage(_ r: HTMLReportData.SimilarImageRow, master: Bool) -> Node<HTML.ListContext> {
        var facts = "\(r.width)×\(r.height) \(r.format) \(Format.bytes(r.size))"
        if r.copies > 1 { facts += ", \(r.copies) copies" }
        if let d = r.distance { facts += " · distance \(d)" }
        if let t = r.transform, t != PerceptualHash.dihedralName(0) { facts += " · \(t)" }
        let picture: Body
        if let uri = r.thumbnail {
            // Plot's `.img` takes only its own attribute types; every value escaped here.
            let attributes: [Attribute<HTML.BodyContext>] = [
                ("class", "thumb"), ("src", uri), ("alt", "\(r.silo):\(r.path)"),
                ("width", String(r.thumbnailWidth)), ("height", String(r.thumbnailHeight)),
            ].map { Attribute(name: $0.0, value: HTMLReport.escape($0.1)) }
            picture = .selfClosedElement(named: "img", attributes: attributes)
        } else {
            picture = .span(cls("nothumb"), text(r.note ?? "no thumbnail"))
        }
        return .li(cls(master ? "master" : "derivative"),
            picture,
            .span(cls("about"),
                  .if(master, .strong(text("master "))), siloTag(r.silo), text(" "), .code(cls("path"), text(r.path)), .br(),
                  .span(cls("n"), text(facts))))
    }
}
