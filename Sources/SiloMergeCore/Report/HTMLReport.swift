import Foundation
import Plot

// MARK: - The view model

/// Everything the HTML audit report shows, as plain values: the caller fills it from the
/// catalogue (or from anything else), `HTMLReport.render` turns it into one self-contained page.
///
/// Names, paths and metadata values are display strings (names that are not UTF-8 arrive already
/// escaped by `PathDisplay`); the renderer escapes every one of them for HTML and SVG.
public struct HTMLReportData: Sendable {
    /// The page title, e.g. "SiloMerge audit".
    public var title: String
    public var generatedAt: Date
    public var toolVersion: String
    /// The catalogue's path, as shown to the reader.
    public var catalogue: String
    public var figures: Figures
    /// Silos in the order to show them (priority order, usually).
    public var silos: [SiloRow]
    /// Bytes shared between two silos (`a != b`) or duplicated inside one (`a == b`). One cell
    /// per unordered pair is enough; a pair given in both orders uses the first one found.
    public var overlap: [OverlapCell]
    /// File formats; the chart shows them by bytes, largest first.
    public var formats: [FormatRow]
    /// The largest duplicate groups, largest reclaimable first (the table keeps the order given).
    public var largestGroups: [GroupRow]
    /// How many duplicate groups there are in all (for the "N more" line); at least `largestGroups.count`.
    public var totalGroups: Int
    /// Duplicate folders (`DuplicateFolders`), largest bytes first.
    public var folderGroups: [FolderGroupRow] = []
    /// How many folder groups there are in all.
    public var totalFolderGroups = 0
    /// Partial copies (`FolderRelation`: subsets and overlaps), most shared bytes first.
    public var folderRelations: [FolderRelationRow] = []
    /// How many partial copies there are in all.
    public var totalFolderRelations = 0
    /// The same photo at other sizes (`SimilarImages`), with thumbnails; nil: not gathered.
    public var similar: SimilarSection?
    /// Groups of files with the same image data (pixels) but different metadata.
    public var sameImageGroups: [SameImageRow]
    /// How many such groups there are in all.
    public var totalSameImageGroups: Int
    /// Metadata conflicts: one field of one asset whose sources disagree.
    public var conflicts: [ConflictRow]
    /// How many conflicts there are in all.
    public var totalConflicts: Int
    /// The latest check's findings; `nil` when no check has run (the page then says so).
    public var check: CheckSection?
    /// Findings still open (corrupted and missing files, until restored or accepted), oldest
    /// first; shown with the check, whether or not a check has run.
    public var openFindings: [OpenFindingRow] = []
    /// How many are open in all.
    public var totalOpenFindings = 0
    /// Trends, reclaimable space by type and age, conflicts by class, decisions, the plan.
    public var management: Management?

    public init(title: String, generatedAt: Date, toolVersion: String, catalogue: String, figures: Figures,
                silos: [SiloRow], overlap: [OverlapCell], formats: [FormatRow],
                largestGroups: [GroupRow], totalGroups: Int,
                sameImageGroups: [SameImageRow], totalSameImageGroups: Int,
                conflicts: [ConflictRow], totalConflicts: Int, check: CheckSection?) {
        self.title = title
        self.generatedAt = generatedAt
        self.toolVersion = toolVersion
        self.catalogue = catalogue
        self.figures = figures
        self.silos = silos
        self.overlap = overlap
        self.formats = formats
        self.largestGroups = largestGroups
        self.totalGroups = totalGroups
        self.sameImageGroups = sameImageGroups
        self.totalSameImageGroups = totalSameImageGroups
        self.conflicts = conflicts
        self.totalConflicts = totalConflicts
        self.check = check
    }

    /// The summary figures shown as cards at the top of the page.
    public struct Figures: Sendable, Equatable {
        public var silos: Int
        public var files: Int
        /// Bytes of every catalogued file.
        public var bytes: Int64
        /// Distinct contents (SHA-256 values), counting each duplicated content once.
        public var distinctContents: Int
        /// Bytes of every file whose content is held by two files or more — every copy counted,
        /// the one to keep included. (What is wasted is `reclaimableBytes`.)
        public var duplicatedBytes: Int64
        /// What keeping one physical copy of each content would free: per group,
        /// `(physical copies − 1) × size` (hard links are one physical copy).
        public var reclaimableBytes: Int64
        public var duplicateGroups: Int
        /// Metadata conflicts (fields of one asset whose sources disagree).
        public var conflicts: Int
        public var lastScan: Date?
        public var lastCheck: Date?

        public init(silos: Int, files: Int, bytes: Int64, distinctContents: Int, duplicatedBytes: Int64,
                    reclaimableBytes: Int64, duplicateGroups: Int, conflicts: Int, lastScan: Date?, lastCheck: Date?) {
            self.silos = silos
            self.files = files
            self.bytes = bytes
            self.distinctContents = distinctContents
            self.duplicatedBytes = duplicatedBytes
            self.reclaimableBytes = reclaimableBytes
            self.duplicateGroups = duplicateGroups
            self.conflicts = conflicts
            self.lastScan = lastScan
            self.lastCheck = lastCheck
        }
    }

    public struct SiloRow: Sendable, Equatable {
        public var name: String
        /// The silo's root folder, as shown to the reader.
        public var root: String
        public var priority: Int
        public var files: Int
        public var bytes: Int64
        /// Bytes of redundant copies whose content another file of the same silo also holds.
        public var duplicateBytesInside: Int64
        /// Bytes of this silo's files whose content another silo also holds.
        public var sharedBytes: Int64
        /// What removing this silo's redundant copies would free (the copy kept is the one in the
        /// silo of best priority). The bar chart shows this.
        public var reclaimableBytes: Int64

        public init(name: String, root: String, priority: Int, files: Int, bytes: Int64,
                    duplicateBytesInside: Int64, sharedBytes: Int64, reclaimableBytes: Int64) {
            self.name = name
            self.root = root
            self.priority = priority
            self.files = files
            self.bytes = bytes
            self.duplicateBytesInside = duplicateBytesInside
            self.sharedBytes = sharedBytes
            self.reclaimableBytes = reclaimableBytes
        }
    }

    /// Identical content held by silo `a` and silo `b`; when `a == b`, duplicated inside one silo.
    public struct OverlapCell: Sendable, Equatable {
        public var a: String
        public var b: String
        public var bytes: Int64
        /// How many distinct contents make up `bytes`.
        public var contents: Int

        public init(a: String, b: String, bytes: Int64, contents: Int) {
            self.a = a
            self.b = b
            self.bytes = bytes
            self.contents = contents
        }
    }

    public struct FormatRow: Sendable, Equatable {
        /// "JPEG", "PDF", "MP4", "other"…
        public var format: String
        public var files: Int
        public var bytes: Int64

        public init(format: String, files: Int, bytes: Int64) {
            self.format = format
            self.files = files
            self.bytes = bytes
        }
    }

    public struct GroupRow: Sendable, Equatable {
        /// The content's SHA-256, hex.
        public var sha256: String
        /// Size of one copy.
        public var size: Int64
        public var reclaimableBytes: Int64
        /// Every copy, in the order to show them (priority, then path).
        public var copies: [Copy]

        public init(sha256: String, size: Int64, reclaimableBytes: Int64, copies: [Copy]) {
            self.sha256 = sha256
            self.size = size
            self.reclaimableBytes = reclaimableBytes
            self.copies = copies
        }

        public struct Copy: Sendable, Equatable {
            public var silo: String
            public var path: String
            /// Another name of a physical copy already listed: shown, never reclaimable.
            public var hardLinked: Bool

            public init(silo: String, path: String, hardLinked: Bool = false) {
                self.silo = silo
                self.path = path
                self.hardLinked = hardLinked
            }
        }
    }

    /// Folders holding the same files at the same places below them.
    public struct FolderGroupRow: Sendable, Equatable {
        public var files: Int
        /// Bytes below one of the folders.
        public var bytes: Int64
        public var reclaimableBytes: Int64
        /// The folder identity, hex.
        public var hash: String
        /// (silo, path) of each folder, the silo root shown as ".".
        public var folders: [(silo: String, path: String)]

        public init(files: Int, bytes: Int64, reclaimableBytes: Int64, hash: String, folders: [(silo: String, path: String)]) {
            self.files = files; self.bytes = bytes; self.reclaimableBytes = reclaimableBytes; self.hash = hash; self.folders = folders
        }

        public static func == (a: FolderGroupRow, b: FolderGroupRow) -> Bool {
            a.files == b.files && a.bytes == b.bytes && a.reclaimableBytes == b.reclaimableBytes && a.hash == b.hash
                && a.folders.map(\.silo) == b.folders.map(\.silo) && a.folders.map(\.path) == b.folders.map(\.path)
        }
    }

    /// Two folders, one nearly a copy of the other (`FolderRelation`).
    public struct FolderRelationRow: Sendable, Equatable {
        /// "subset" or "overlap".
        public var kind: String
        /// The larger folder, then the other: silo, path (the silo root as "."), files, bytes.
        public var a: Side
        public var b: Side
        public var sharedFiles: Int
        public var sharedBytes: Int64
        /// Files and bytes of `a` with no copy in `b`, and of `b` with none in `a`.
        public var missingFromB: Int
        public var missingBytesFromB: Int64
        public var missingFromA: Int
        public var missingBytesFromA: Int64

        public struct Side: Sendable, Equatable {
            public var silo: String
            public var path: String
            public var files: Int
            public var bytes: Int64
            public init(silo: String, path: String, files: Int, bytes: Int64) {
                self.silo = silo; self.path = path; self.files = files; self.bytes = bytes
            }
        }

        public init(_ r: FolderRelation) {
            kind = r.kind.rawValue
            a = Side(silo: r.a.folder.silo, path: r.a.folder.display, files: r.a.files, bytes: r.a.bytes)
            b = Side(silo: r.b.folder.silo, path: r.b.folder.display, files: r.b.files, bytes: r.b.bytes)
            sharedFiles = r.sharedFiles; sharedBytes = r.sharedBytes
            (missingFromB, missingBytesFromB) = r.missingFromB
            (missingFromA, missingBytesFromA) = r.missingFromA
        }
    }

    public struct SameImageRow: Sendable, Equatable {
        /// The hash of the image data (pixels, without metadata), hex.
        public var imageSHA256: String
        public var copies: [Copy]
        /// The unified metadata fields whose values differ between the copies.
        public var fieldsThatDiffer: [String]

        public init(imageSHA256: String, copies: [Copy], fieldsThatDiffer: [String]) {
            self.imageSHA256 = imageSHA256
            self.copies = copies
            self.fieldsThatDiffer = fieldsThatDiffer
        }

        public struct Copy: Sendable, Equatable {
            public var silo: String
            public var path: String
            /// The whole file's SHA-256, hex.
            public var sha256: String

            public init(silo: String, path: String, sha256: String) {
                self.silo = silo
                self.path = path
                self.sha256 = sha256
            }
        }
    }

    public struct ConflictRow: Sendable, Equatable {
        /// A short identifier of the asset (e.g. the first characters of its content hash).
        public var asset: String
        /// The unified field, e.g. "rights", "creator".
        public var field: String
        public var sources: [Source]

        public init(asset: String, field: String, sources: [Source]) {
            self.asset = asset
            self.field = field
            self.sources = sources
        }

        public struct Source: Sendable, Equatable {
            public var silo: String
            public var path: String
            /// Where the value was read: "XMP dc:rights", "IPTC 2:116", "manifest Usage Rights"…
            public var origin: String
            public var value: String

            public init(silo: String, path: String, origin: String, value: String) {
                self.silo = silo
                self.path = path
                self.origin = origin
                self.value = value
            }
        }
    }

    /// A finding still open: what, where, since when.
    public struct OpenFindingRow: Sendable, Equatable {
        public var kind: String
        public var silo: String
        public var path: String
        public var since: Date
        /// How long it has been open, for people ("3 d 4 h").
        public var age: String
        public var openedRun: Int64
        public var detail: String

        public init(kind: String, silo: String, path: String, since: Date, age: String, openedRun: Int64, detail: String) {
            self.kind = kind; self.silo = silo; self.path = path; self.since = since; self.age = age
            self.openedRun = openedRun; self.detail = detail
        }
    }

    public struct CheckSection: Sendable, Equatable {
        public var finishedAt: Date
        /// Findings per kind, in the order to show them.
        public var countsByKind: [KindCount]
        /// The findings to list (the table caps them at the row limit).
        public var findings: [Finding]
        /// How many findings there are in all.
        public var totalFindings: Int

        public init(finishedAt: Date, countsByKind: [KindCount], findings: [Finding], totalFindings: Int) {
            self.finishedAt = finishedAt
            self.countsByKind = countsByKind
            self.findings = findings
            self.totalFindings = totalFindings
        }

        public struct KindCount: Sendable, Equatable {
            public var kind: String
            public var count: Int

            public init(kind: String, count: Int) {
                self.kind = kind
                self.count = count
            }
        }

        public struct Finding: Sendable, Equatable {
            /// "missing", "content changed", "unreadable"…
            public var kind: String
            public var silo: String
            public var path: String
            public var detail: String

            public init(kind: String, silo: String, path: String, detail: String) {
                self.kind = kind
                self.silo = silo
                self.path = path
                self.detail = detail
            }
        }
    }
}

// MARK: - Rendering

/// Renders `HTMLReportData` as one self-contained HTML page: inline CSS and script, SVG charts,
/// no external reference of any kind (it works offline, from a USB stick or an e-mail).
///
/// The page is built with Plot. Text goes through `Node.text` (Plot escapes `<` and `>`; the
/// renderer escapes `&` first, because Plot passes entity-like text such as `&lt;` through
/// unchanged); attribute values go through `HTMLReport.escape`, because Plot writes attribute
/// values as they are. `Node.raw` carries only the static CSS and script and the SVG charts,
/// which are built from XML-escaped parts.
public enum HTMLReport {
    /// The page. Each table shows at most `rowLimit` rows, then says how many more there are and
    /// which export holds them all. The output depends on `data` alone (deterministic).
    public static func render(_ data: HTMLReportData, rowLimit: Int = 200) -> String {
        let page = HTMLPage(data: data, rowLimit: max(1, rowLimit))
        return page.document().render()
    }
}

// MARK: - Escaping

extension HTMLReport {
    /// Text for an HTML attribute value or hand-built SVG (text and attributes): `Encode.xml`
    /// with `'` escaped too, and forbidden characters shown as U+FFFD so the SVG stays well-formed.
    public static func escape(_ s: String) -> String { Encode.xml(s, invalid: .replace, apostrophe: true) }

    /// Text for Plot's `Node.text`, which escapes `<` and `>` but leaves anything that looks like
    /// an entity (`&lt;`, `&#60;`) as it is: escaping `&` first makes a name holding `&lt;` show
    /// as `&lt;`, not `<`. Forbidden control characters become U+FFFD.
    static func plotText(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for scalar in s.unicodeScalars {
            let v = scalar.value
            if scalar == "&" { out += "&amp;" }
            else if (v < 0x20 && v != 0x09 && v != 0x0A && v != 0x0D) || v == 0x7F { out += "\u{FFFD}" }
            else { out.unicodeScalars.append(scalar) }
        }
        return out
    }
}

/// Dates as "2026-11-21 19:04 UTC", whatever the machine's time zone and locale.
enum HTMLDate {
    static func display(_ date: Date) -> String {
        let c = components(date)
        return String(format: "%04d-%02d-%02d %02d:%02d UTC", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0)
    }

    static func iso(_ date: Date) -> String {
        let c = components(date)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year ?? 0, c.month ?? 0, c.day ?? 0,
                      c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
    }

    private static func components(_ date: Date) -> DateComponents {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
    }

    /// A `<time>` element.
    static func node(_ date: Date) -> Node<HTML.BodyContext> {
        .time(.attribute(named: "datetime", value: iso(date)), .text(display(date)))
    }
}
