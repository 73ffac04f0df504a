import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// `silomerge inspect`: what SiloMerge reads from a file, through the very reader the scan
// uses (`ContentInspector.inspect`, the call `FileHasher.hashFull` makes), so what it shows is
// what a scan would catalogue — format, dimensions, image hash, every value with its origin,
// tag and raw form, which value the file's own (MWG) reconciliation chooses, and the notes.

/// One value read from a file, with whether the file's own reconciliation chose it.
public struct InspectedValue: Sendable, Hashable, Encodable {
    public var field: UnifiedField
    public var value: FieldValue
    public var origin: MetadataOrigin
    /// "XMP-dc:title", "EXIF:DateTimeOriginal", "File:ImageWidth"...
    public var tag: String
    /// The value as found, before normalisation.
    public var raw: String
    /// True for the value chosen for its field inside the file (Metadata Working Group order).
    public var chosen: Bool

    public init(_ v: SourcedValue, chosen: Bool) {
        field = v.field; value = v.value; origin = v.origin; tag = v.tag; raw = v.raw; self.chosen = chosen
    }

    enum CodingKeys: String, CodingKey { case field, value, origin, tag, raw, chosen }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(field, forKey: .field)
        try c.encode(NaturalJSONValue(value), forKey: .value)
        try c.encode(origin, forKey: .origin)
        try c.encode(tag, forKey: .tag)
        try c.encode(raw, forKey: .raw)
        try c.encode(chosen, forKey: .chosen)
    }
}

/// A `FieldValue` as plain JSON: a string (text, ISO 8601 date), a list of strings, a number,
/// or `{"latitude":…,"longitude":…}` in decimal degrees (7 decimals, about 1 cm).
public struct NaturalJSONValue: Encodable, Sendable {
    public var value: FieldValue
    public init(_ value: FieldValue) { self.value = value }

    enum GPSKeys: String, CodingKey { case latitude, longitude }

    public func encode(to encoder: Encoder) throws {
        switch value {
        case .text(let s), .date(let s):
            var c = encoder.singleValueContainer()
            try c.encode(s)
        case .list(let items):
            var c = encoder.singleValueContainer()
            try c.encode(items)
        case .integer(let i):
            var c = encoder.singleValueContainer()
            try c.encode(i)
        case .gps(let lat, let lon):
            var c = encoder.container(keyedBy: GPSKeys.self)
            try c.encode((lat * 1e7).rounded() / 1e7, forKey: .latitude)
            try c.encode((lon * 1e7).rounded() / 1e7, forKey: .longitude)
        }
    }
}

/// Why a path gave no metadata at all.
public struct InspectFailure: Error, Sendable, Hashable, Encodable, CustomStringConvertible {
    public enum Kind: String, Sendable, Encodable {
        /// It does not exist (or vanished while being read).
        case missing
        /// open, read or listing failed.
        case unreadable
        /// A FIFO, socket, device, or a symbolic link met inside a folder: never opened.
        case skipped
    }
    public var kind: Kind
    /// ENOENT, EACCES... when the system said why.
    public var errno: String?
    public var message: String

    public var description: String { message }
}

/// Everything `silomerge inspect` reports about one path.
public struct InspectedFile: Sendable, Hashable, Encodable {
    public var path: FilePath
    public var size: Int64?
    public var format: MediaFormat?
    public var width: Int?
    public var height: Int?
    /// SHA-256 of the image data alone (see `ImageDataHash`), for the formats that have one.
    public var imageSHA256: SHA256Digest?
    /// Every value, in the order the readers found them.
    public var values: [InspectedValue]
    /// Blocks that could not be read, entirely or in part (the file is still catalogued).
    public var notes: [MetadataProblem]
    /// Set when the path could not be read at all; everything else is then empty.
    public var failure: InspectFailure?

    public init(path: FilePath, failure: InspectFailure) {
        self.path = path; self.values = []; self.notes = []; self.failure = failure
    }

    public init(path: FilePath, size: Int64, content: ContentInfo) {
        self.path = path
        self.size = size
        format = content.format
        width = content.width
        height = content.height
        imageSHA256 = content.imageSHA256
        values = zip(content.values, content.preferred + Array(repeating: false, count: max(0, content.values.count - content.preferred.count)))
            .map { InspectedValue($0, chosen: $1) }
        notes = content.problems
        failure = nil
    }

    /// The chosen value of each field, in `UnifiedField` order.
    public var chosen: [InspectedValue] {
        values.filter(\.chosen).sorted { $0.field < $1.field }
    }

    private struct FieldKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private struct ChosenValue: Encodable {
        var v: InspectedValue
        enum CodingKeys: String, CodingKey { case value, origin, tag, raw }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(NaturalJSONValue(v.value), forKey: .value)
            try c.encode(v.origin, forKey: .origin)
            try c.encode(v.tag, forKey: .tag)
            try c.encode(v.raw, forKey: .raw)
        }
    }

    private struct ChosenFields: Encodable {
        var values: [InspectedValue]
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: FieldKey.self)
            for v in values { try c.encode(ChosenValue(v: v), forKey: FieldKey(v.field.rawValue)) }
        }
    }

    enum CodingKeys: String, CodingKey {
        case path, pathB64 = "path_b64", size, format, width, height, imageSHA256 = "image_sha256", fields, values, notes, error
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(path.display, forKey: .path)
        if path.string == nil { try c.encode(Data(path.bytes).base64EncodedString(), forKey: .pathB64) }
        if let failure {
            try c.encode(failure, forKey: .error)
            return
        }
        try c.encodeIfPresent(size, forKey: .size)
        try c.encodeIfPresent(format, forKey: .format)
        try c.encodeIfPresent(width, forKey: .width)
        try c.encodeIfPresent(height, forKey: .height)
        try c.encodeIfPresent(imageSHA256?.hex, forKey: .imageSHA256)
        try c.encode(ChosenFields(values: chosen), forKey: .fields)
        try c.encode(values, forKey: .values)
        try c.encode(notes, forKey: .notes)
    }
}

/// Reads files and folders for `silomerge inspect`. Never prints; one record per path.
public enum FileInspector {
    /// Folders nested deeper than this are reported instead of walked.
    static let maxDepth = 256

    /// Inspects each path: a file is read, a folder is walked (depth first, names in byte
    /// order, symbolic links inside it not followed). A path named on the command line is
    /// followed if it is a symbolic link. `visit` gets one record per file, or per path that
    /// could not be read, in order.
    public static func inspect(_ paths: [FilePath], scanForXMP: Bool = false, visit: (InspectedFile) -> Void) {
        let options = MetadataReadOptions(scanForXMP: scanForXMP)
        for path in paths {
            switch Posix.stat(path) {
            case .failure(let e):
                visit(InspectedFile(path: path, failure: failure(e, "cannot read")))
            case .success(let st) where st.kind == .directory:
                walk(path, ancestors: [st.fileID], depth: 0, options: options, visit: visit)
            case .success:
                visit(inspectFile(path, dirFD: AT_FDCWD, name: path.bytes, followSymlink: true, options: options))
            }
        }
    }

    /// Reads one file, the way the scan does once it has it open.
    public static func inspectFile(_ path: FilePath, scanForXMP: Bool = false) -> InspectedFile {
        inspectFile(path, dirFD: AT_FDCWD, name: path.bytes, followSymlink: true, options: MetadataReadOptions(scanForXMP: scanForXMP))
    }

    private static func failure(_ e: Errno, _ what: String) -> InspectFailure {
        let kind: InspectFailure.Kind = e.code == ENOENT || e.code == ENOTDIR ? .missing : .unreadable
        return InspectFailure(kind: kind, errno: e.name, message: "\(what): \(e) (\(e.name))")
    }

    private static func inspectFile(_ path: FilePath, dirFD: Int32, name: [UInt8], followSymlink: Bool,
                                    options: MetadataReadOptions) -> InspectedFile {
        var flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC
        if !followSymlink { flags |= O_NOFOLLOW }
        let fd = (name + [0]).withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { p in Posix.retryingEINTR { openat(dirFD, p.baseAddress!, flags) } }
        }
        guard fd >= 0 else {
            let e = Errno(errno)
            if e.code == ELOOP {
                return InspectedFile(path: path, failure: InspectFailure(kind: .skipped, errno: nil,
                                                                         message: "symbolic link inside a folder; not followed"))
            }
            return InspectedFile(path: path, failure: failure(e, "cannot open"))
        }
        defer { close(fd) }
        switch Posix.fstat(fd) {
        case .failure(let e):
            return InspectedFile(path: path, failure: failure(e, "cannot stat"))
        case .success(let st):
            guard st.kind == .regular else {
                return InspectedFile(path: path, failure: InspectFailure(kind: .skipped, errno: nil,
                                                                         message: "\(st.kind.label); not read"))
            }
            return InspectedFile(path: path, size: st.size,
                                 content: ContentInspector.inspect(fd: fd, size: st.size, scanForXMP: options.scanForXMP))
        }
    }

    private static func walk(_ dir: FilePath, ancestors: Set<FileID>, depth: Int, options: MetadataReadOptions,
                             visit: (InspectedFile) -> Void) {
        guard depth < maxDepth else {
            visit(InspectedFile(path: dir, failure: InspectFailure(kind: .skipped, errno: nil,
                                                                   message: "folders nested more than \(maxDepth) deep; not walked")))
            return
        }
        let fd: Int32
        switch Posix.openPath(dir, flags: O_RDONLY | O_DIRECTORY | O_NONBLOCK) {
        case .success(let f): fd = f
        case .failure(let e):
            visit(InspectedFile(path: dir, failure: failure(e, "cannot open folder")))
            return
        }
        guard let stream = fdopendir(fd) else {
            let e = Errno(errno)
            close(fd)
            visit(InspectedFile(path: dir, failure: failure(e, "cannot list folder")))
            return
        }
        defer { closedir(stream) }
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 {
                    visit(InspectedFile(path: dir, failure: failure(Errno(errno), "listing the folder failed part way")))
                }
                break
            }
            let name = withUnsafePointer(to: &entry.pointee.d_name) { p in
                p.withMemoryRebound(to: UInt8.self, capacity: 256) { Array(UnsafeBufferPointer(start: $0, count: strlen(UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)))) }
            }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            names.append(name)
        }
        names.sort { $0.lexicographicallyPrecedes($1) }
        let dirFD = dirfd(stream)
        for name in names {
            let path = FilePath(bytes: dir.bytes.last == 0x2F ? dir.bytes + name : dir.bytes + [0x2F] + name)
            let st: FileStat
            switch (name + [0]).withUnsafeBufferPointer({ b in b.withMemoryRebound(to: CChar.self) { Posix.lstat(at: dirFD, $0.baseAddress!) } }) {
            case .success(let s): st = s
            case .failure(let e):
                visit(InspectedFile(path: path, failure: failure(e, "cannot stat")))
                continue
            }
            switch st.kind {
            case .directory:
                guard !ancestors.contains(st.fileID) else {
                    visit(InspectedFile(path: path, failure: InspectFailure(kind: .skipped, errno: nil,
                                                                            message: "folder loop (a bind mount?); not walked again")))
                    continue
                }
                walk(path, ancestors: ancestors.union([st.fileID]), depth: depth + 1, options: options, visit: visit)
            case .regular:
                visit(inspectFile(path, dirFD: dirFD, name: name, followSymlink: false, options: options))
            case .symlink:
                visit(InspectedFile(path: path, failure: InspectFailure(kind: .skipped, errno: nil,
                                                                        message: "symbolic link inside a folder; not followed")))
            default:
                visit(InspectedFile(path: path, failure: InspectFailure(kind: .skipped, errno: nil,
                                                                        message: "\(st.kind.label); not read")))
            }
        }
    }
}
