import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A row of a departmental manifest that names a file.
public struct ManifestRow: Sendable {
    /// 1 is the first row after the header.
    public var number: Int
    /// The file it names, relative to the silo root.
    public var path: RelativePath
    /// The row's cells (UTF-8) and the mapped columns: values are made only for rows that
    /// name a catalogued file (a stale manifest of a million rows costs no more than its paths).
    let cells: [[UInt8]]
    let columns: [MappedColumn]

    struct MappedColumn: Sendable {
        let index: Int
        let column: ManifestDefinition.Column
    }

    /// The mapped values of the row.
    public var values: [SourcedValue] {
        columns.compactMap { c in
            c.index < cells.count ? ManifestReader.value(String(decoding: cells[c.index], as: UTF8.self), column: c.column) : nil
        }
    }
}

/// What identifies a manifest as unchanged without reading it: where it is, its size, times,
/// device and inode, and the column mapping it is read with.
public struct ManifestIdentity: Sendable, Hashable {
    public var path: String
    public var size: Int64
    public var mtimeNs: Int64
    public var ctimeNs: Int64
    public var device: UInt64
    public var inode: UInt64
    /// The mapping (`ManifestDefinition`) as sorted JSON: a new mapping means a new reading.
    public var definition: String
}

/// What reading a manifest found besides its rows.
public struct ManifestSummary: Sendable {
    public var rows: Int
    public var size: Int64
    public var mtimeNs: Int64
    public var sha256: SHA256Digest
    /// Rows skipped (no path, a path leaving the silo, too few columns): how many, and the first
    /// `ManifestReader.sampleLimit` with their reason.
    public var skipped: Int = 0
    public var skippedSample: [(row: Int, reason: String)] = []
    /// How the bytes were decoded: "UTF-8", or what a department's spreadsheet wrote instead
    /// ("UTF-16LE", "UTF-16BE", "Windows-1252" for files that are not valid UTF-8).
    public var encoding: String = "UTF-8"
}

/// A manifest that cannot be used at all.
public struct ManifestError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var reason: String
    public var description: String { "manifest \(file): \(reason)" }
}

/// Reads a department's CSV export as a stream: RFC 4180 (quotes, embedded newlines, CRLF), a
/// BOM, any one-character delimiter, UTF-8 — or UTF-16 and Windows-1252 as spreadsheets save
/// them, converted on the fly. Memory stays bounded whatever the size: the file is read in
/// 1 MiB chunks, twice (once to hash it and find its encoding, once to parse it), and a row
/// may hold at most 1 MiB (a longer one is an unclosed quote, reported as an error).
public enum ManifestReader {
    /// Rows reported by example (skipped rows, rows naming no catalogued file) at most.
    public static let sampleLimit = 10
    /// The longest row accepted.
    public static let maximumRowBytes = 1 << 20
    static let chunkSize = 1 << 20

    /// The manifest's identity, from `stat` alone.
    public static func identity(_ definition: ManifestDefinition) throws -> ManifestIdentity {
        let path = definition.file.string ?? definition.file.display
        let st: FileStat
        switch Posix.stat(definition.file) {
        case .success(let s): st = s
        case .failure(let e): throw ManifestError(file: path, reason: "cannot open: \(e) (\(e.name))")
        }
        guard st.kind == .regular else { throw ManifestError(file: path, reason: "is a \(st.kind.label), not a CSV file") }
        return ManifestIdentity(path: path, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, device: st.device,
                                inode: st.inode, definition: definition.canonicalJSON)
    }

    /// Calls `body` for each row naming a file, in order.
    public static func read(_ definition: ManifestDefinition, _ body: (ManifestRow) throws -> Void) throws -> ManifestSummary {
        let path = definition.file.string ?? definition.file.display
        func fail(_ reason: String) -> ManifestError { ManifestError(file: path, reason: reason) }
        guard let delimiter = definition.delimiter.unicodeScalars.first, definition.delimiter.unicodeScalars.count == 1,
              delimiter.isASCII, delimiter != "\"", delimiter != "\r", delimiter != "\n" else {
            throw fail("the delimiter must be one ASCII character other than a quote or a line break")
        }
        let fd: Int32
        switch Posix.openPath(definition.file, flags: O_RDONLY | O_NONBLOCK | O_NOCTTY) {
        case .success(let f): fd = f
        case .failure(let e): throw fail("cannot open: \(e) (\(e.name))")
        }
        defer { close(fd) }
        let before: FileStat
        switch Posix.fstat(fd) {
        case .success(let s): before = s
        case .failure(let e): throw fail("cannot examine: \(e) (\(e.name))")
        }
        guard before.kind == .regular else { throw fail("is a \(before.kind.label), not a CSV file") }

        // Pass 1: the SHA-256 and the encoding.
        let (digest, encoding) = try examine(fd, path: path)
        // Pass 2: the rows.
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw fail("cannot read it again: \(Errno(errno))") }
        typealias Counts = (header: Bool, rows: Int, skipped: Int, sample: [(row: Int, reason: String)])
        let parser = try withoutActuallyEscaping(body) { body -> Counts in
            var parser = RowParser(definition: definition, path: path, body: body)
            var splitter = RecordSplitter(delimiter: UInt8(delimiter.value), maximumRecord: maximumRowBytes)
            var transcoder = Transcoder(encoding)
            do {
                try readChunks(fd, path: path) { chunk in
                    try transcoder.convert(chunk) { utf8 in
                        try splitter.feed(utf8) { try parser.record($0) }
                    }
                }
                try transcoder.finish()
                try splitter.finish { try parser.record($0) }
            } catch let error as RecordSplitter.TooLong {
                throw fail("row \(parser.count + 1) is longer than \(Format.bytes(Int64(error.limit))) (an unclosed quote?)")
            } catch let error as Transcoder.TranscodeError {
                throw fail(error.reason)
            }
            // Only counts leave: the parser holds `body`, which must not escape.
            return (parser.header != nil, parser.count, parser.skipped, parser.skippedSample)
        }
        if case .success(let after) = Posix.fstat(fd), after.size != before.size || after.mtimeNs != before.mtimeNs {
            throw fail("changed while it was read; scan again")
        }
        guard parser.header else { throw fail("has no header row") }
        var summary = ManifestSummary(rows: parser.rows, size: before.size, mtimeNs: before.mtimeNs, sha256: digest)
        summary.skipped = parser.skipped
        summary.skippedSample = parser.sample
        summary.encoding = encoding.name
        return summary
    }

    /// Reads the file in chunks.
    static func readChunks(_ fd: Int32, path: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = systemRead(fd, buffer.baseAddress, chunkSize)
            if n < 0 {
                if errno == EINTR { continue }
                let e = Errno(errno)
                throw ManifestError(file: path, reason: "cannot read: \(e) (\(e.name))")
            }
            if n == 0 { return }
            try body(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
        }
    }

    /// Hashes the file and finds its encoding: a UTF-16 byte-order mark, else UTF-8 when every
    /// byte is valid UTF-8, else Windows-1252 (what Excel on Windows writes as "CSV").
    static func examine(_ fd: Int32, path: String) throws -> (SHA256Digest, Transcoder.Encoding) {
        let hasher = try SHA256Hasher()
        var first: [UInt8] = []
        var utf8Valid = true
        var carry: [UInt8] = []          // an incomplete UTF-8 sequence at a chunk's end
        try readChunks(fd, path: path) { chunk in
            try hasher.update(chunk)
            if first.count < 3 { first += chunk.prefix(3 - first.count) }
            if utf8Valid {
                var bytes = carry + chunk
                // Keep back up to 3 bytes that may start a sequence the next chunk completes.
                var keep = 0
                for back in 1...min(3, bytes.count) {
                    let b = bytes[bytes.count - back]
                    if b & 0xC0 == 0x80 { continue }            // a continuation byte: look further back
                    if b >= 0xC0 {
                        let length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
                        if length > back { keep = back }
                    }
                    break
                }
                carry = Array(bytes.suffix(keep))
                bytes.removeLast(keep)
                if String(validatingUTF8Bytes: bytes) == nil { utf8Valid = false }
            }
        }
        let digest = try hasher.finalize()
        if first.count >= 2, first[0] == 0xFF && first[1] == 0xFE { return (digest, .utf16(littleEndian: true)) }
        if first.count >= 2, first[0] == 0xFE && first[1] == 0xFF { return (digest, .utf16(littleEndian: false)) }
        if utf8Valid && carry.isEmpty { return (digest, .utf8) }
        return (digest, .windows1252)
    }

    /// A path as departments write it (`./a/b.jpg`, `a\b.jpg`, `/a/b.jpg`) relative to the silo
    /// root; nil when empty or when it would leave the silo (`..`). Spaces and tabs around it
    /// are ignored.
    static func normalize(_ text: String) -> RelativePath? { normalize(Array(text.utf8)) }

    static func normalize(_ cell: [UInt8]) -> RelativePath? {
        var start = cell.startIndex, end = cell.endIndex
        while start < end, cell[start] == 0x20 || cell[start] == 0x09 { start += 1 }
        while end > start, cell[end - 1] == 0x20 || cell[end - 1] == 0x09 { end -= 1 }
        var out: [UInt8] = []
        out.reserveCapacity(end - start)
        var part = start
        var i = start
        while i <= end {
            if i == end || cell[i] == 0x2F || cell[i] == 0x5C {
                let length = i - part
                if length == 2 && cell[part] == 0x2E && cell[part + 1] == 0x2E { return nil }
                if length > 0 && !(length == 1 && cell[part] == 0x2E) {
                    if !out.isEmpty { out.append(0x2F) }
                    out.append(contentsOf: cell[part..<i])
                }
                part = i + 1
            }
            i += 1
        }
        return out.isEmpty ? nil : RelativePath(bytes: out)
    }

    static func value(_ cell: String, column: ManifestDefinition.Column) -> SourcedValue? {
        let text = cell.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return nil }
        let tag = "manifest:\(column.column)"
        let value: FieldValue
        switch column.field.kind {
        case .list:
            let items = column.split.map { sep in text.components(separatedBy: sep) } ?? [text]
            var seen = Set<String>()
            let cleaned = items.map { FieldValue.normalize($0) }.filter { !$0.isEmpty && seen.insert($0.lowercased()).inserted }
            guard !cleaned.isEmpty else { return nil }
            value = .list(cleaned)
        case .date:
            value = .date(DateNormalizer.iso(text) ?? text)
        case .integer:
            guard let n = Int(text) else { return nil }
            value = .integer(n)
        case .gps:
            guard let gps = FieldValue.from(object: text, field: .gps) else { return nil }
            value = gps
        case .text:
            value = .text(FieldValue.normalize(text))
        }
        return SourcedValue(field: column.field, value: value, origin: .manifest, tag: tag, raw: cell)
    }
}

/// Turns records into rows: the header first, then one `ManifestRow` per record naming a file.
private struct RowParser {
    let definition: ManifestDefinition
    let path: String
    let body: (ManifestRow) throws -> Void
    var header: [String]?
    var pathIndex = 0
    var columns: [ManifestRow.MappedColumn] = []
    var count = 0
    var skipped = 0
    var skippedSample: [(row: Int, reason: String)] = []

    init(definition: ManifestDefinition, path: String, body: @escaping (ManifestRow) throws -> Void) {
        self.definition = definition; self.path = path; self.body = body
    }

    mutating func record(_ fields: [[UInt8]]) throws {
        func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
        guard header != nil else {
            var names = fields.map { text($0).trimmingCharacters(in: .whitespaces) }
            if let first = names.first, first.hasPrefix("\u{FEFF}") { names[0] = String(first.dropFirst()) }
            guard let p = names.firstIndex(of: definition.pathColumn) else {
                throw ManifestError(file: path, reason: "has no column '\(definition.pathColumn)' (path_column); its columns are: \(names.joined(separator: ", "))")
            }
            pathIndex = p
            for column in definition.columns {
                guard let i = names.firstIndex(of: column.column) else {
                    throw ManifestError(file: path, reason: "has no column '\(column.column)'; its columns are: \(names.joined(separator: ", "))")
                }
                columns.append(ManifestRow.MappedColumn(index: i, column: column))
            }
            self.header = names
            return
        }
        count += 1
        func skip(_ reason: String) {
            skipped += 1
            if skippedSample.count < ManifestReader.sampleLimit { skippedSample.append((count, reason)) }
        }
        guard pathIndex < fields.count else { skip("too few columns"); return }
        guard let relative = ManifestReader.normalize(fields[pathIndex]) else {
            let cell = text(fields[pathIndex])
            skip(cell.trimmingCharacters(in: .whitespaces).isEmpty ? "no path" : "the path '\(cell)' leaves the silo")
            return
        }
        try body(ManifestRow(number: count, path: relative, cells: fields, columns: columns))
    }
}

/// Splits a stream of UTF-8 bytes into CSV records (RFC 4180): fields separated by the
/// delimiter, records by CRLF, LF or CR, quoted fields holding delimiters, quotes (doubled) and
/// line breaks. Blank lines are skipped. A record longer than `maximumRecord` bytes is refused
/// (an unclosed quote would otherwise swallow the rest of the file). Lines without a quote are
/// split with `memchr`; only records holding a quote go through the byte-by-byte state machine.
struct RecordSplitter {
    struct TooLong: Error { let limit: Int }

    let delimiter: UInt8
    let maximumRecord: Int
    private var pending: [UInt8] = []

    init(delimiter: UInt8, maximumRecord: Int) {
        self.delimiter = delimiter; self.maximumRecord = maximumRecord
    }

    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ emit: ([[UInt8]]) throws -> Void) throws {
        pending.append(contentsOf: bytes)
        let consumed = try pending.withUnsafeBytes { try split($0, final: false, emit) }
        pending.removeFirst(consumed)
        if pending.count > maximumRecord { throw TooLong(limit: maximumRecord) }
    }

    mutating func feed(_ bytes: [UInt8], _ emit: ([[UInt8]]) throws -> Void) throws {
        try bytes.withUnsafeBytes { try feed($0, emit) }
    }

    mutating func finish(_ emit: ([[UInt8]]) throws -> Void) throws {
        if pending.count > maximumRecord { throw TooLong(limit: maximumRecord) }
        _ = try pending.withUnsafeBytes { try split($0, final: true, emit) }
        pending.removeAll()
    }

    /// Emits every complete record in `buffer`; returns how many bytes were consumed.
    private func split(_ buffer: UnsafeRawBufferPointer, final: Bool, _ emit: ([[UInt8]]) throws -> Void) throws -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        let end = buffer.count
        var start = 0
        while start < end {
            let remaining = end - start
            let newline = memchr(base + start, 0x0A, remaining).map { UnsafeRawPointer($0) - base }
            let lineEnd = newline ?? end
            let quote = memchr(base + start, 0x22, lineEnd - start)
            if quote == nil && memchr(base + start, 0x0D, lineEnd - start).map({ UnsafeRawPointer($0) - base < lineEnd - 1 }) != true {
                // No quote and no lone CR inside: one record, split at the delimiter.
                guard newline != nil || final else { return start }
                var stop = lineEnd
                if stop > start && base.load(fromByteOffset: stop - 1, as: UInt8.self) == 0x0D { stop -= 1 }
                if stop > start { try emit(fields(base, start, stop)) }
                start = newline.map { $0 + 1 } ?? end
                continue
            }
            // A quote (or a lone CR): walk byte by byte until the record ends outside quotes.
            guard let (record, next) = machine(base, start, end, final: final) else { return start }
            if !(record.count == 1 && record[0].isEmpty) { try emit(record) }
            start = next
        }
        return start
    }

    private func fields(_ base: UnsafeRawPointer, _ start: Int, _ stop: Int) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var from = start
        while true {
            let hit = memchr(base + from, Int32(delimiter), stop - from).map { UnsafeRawPointer($0) - base }
            let to = hit ?? stop
            out.append(Array(UnsafeRawBufferPointer(start: base + from, count: to - from)))
            guard let hit else { return out }
            from = hit + 1
        }
    }

    /// The state machine for one record from `start`: nil when the buffer ends inside it and
    /// more input may come.
    private func machine(_ base: UnsafeRawPointer, _ start: Int, _ end: Int, final: Bool) -> ([[UInt8]], Int)? {
        enum State { case fieldStart, unquoted, quoted, quoteInQuoted }
        var state = State.fieldStart
        var record: [[UInt8]] = []
        var field: [UInt8] = []
        var i = start
        while i < end {
            let b = base.load(fromByteOffset: i, as: UInt8.self)
            switch state {
            case .quoted:
                if b == 0x22 { state = .quoteInQuoted } else { field.append(b) }
            case .quoteInQuoted where b == 0x22:
                field.append(b); state = .quoted
            case .fieldStart where b == 0x22:
                state = .quoted
            default:
                if b == delimiter {
                    record.append(field); field = []; state = .fieldStart
                } else if b == 0x0A || b == 0x0D {
                    record.append(field)
                    var next = i + 1
                    if b == 0x0D {
                        if next == end && !final { return nil }      // a CRLF cut between chunks
                        if next < end && base.load(fromByteOffset: next, as: UInt8.self) == 0x0A { next += 1 }
                    }
                    return (record, next)
                } else {
                    field.append(b); state = .unquoted              // lenient: text after a closing quote is kept
                }
            }
            i += 1
        }
        guard final else { return nil }
        record.append(field)
        return (record, end)
    }
}

/// Converts a manifest's bytes to UTF-8, chunk by chunk.
struct Transcoder {
    enum Encoding {
        case utf8, utf16(littleEndian: Bool), windows1252
        var name: String {
            switch self {
            case .utf8: "UTF-8"
            case .utf16(let little): little ? "UTF-16LE" : "UTF-16BE"
            case .windows1252: "Windows-1252"
            }
        }
    }

    let encoding: Encoding
    private var carry: [UInt8] = []
    private var started = false
    private var bomDropped = 0

    init(_ encoding: Encoding) { self.encoding = encoding }

    /// Windows-1252's 0x80...0x9F (0 where it defines nothing); the other bytes are Latin-1.
    static let high: [UInt32] = [
        0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
        0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
    ]

    mutating func convert(_ chunk: UnsafeRawBufferPointer, _ emit: ([UInt8]) throws -> Void) throws {
        switch encoding {
        case .utf8:
            var bytes = UnsafeRawBufferPointer(rebasing: chunk[...])
            if !started {
                started = true
                if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = UnsafeRawBufferPointer(rebasing: bytes[3...]) }
            }
            try emit(Array(bytes))
        case .windows1252:
            var out: [UInt8] = []
            out.reserveCapacity(chunk.count + chunk.count / 8)
            for b in chunk {
                if b < 0x80 { out.append(b); continue }
                let value = b < 0xA0 ? Self.high[Int(b) - 0x80] : UInt32(b)
                guard value != 0, let scalar = Unicode.Scalar(value) else {
                    throw TranscodeError(reason: "is neither UTF-8, UTF-16 nor Windows-1252 text")
                }
                out.append(contentsOf: String(Character(scalar)).utf8)
            }
            try emit(out)
        case .utf16(let little):
            var bytes = carry + chunk
            // The byte-order mark (its two bytes may come in two chunks).
            if !started {
                let drop = min(2 - bomDropped, bytes.count)
                bytes.removeFirst(drop)
                bomDropped += drop
                started = bomDropped == 2
            }
            let usable = bytes.count & ~1
            var units: [UInt16] = []
            units.reserveCapacity(usable / 2)
            var i = 0
            while i < usable {
                let a = UInt16(bytes[i]), b = UInt16(bytes[i + 1])
                units.append(little ? a | b << 8 : a << 8 | b)
                i += 2
            }
            // A high surrogate whose pair is in the next chunk waits for it.
            var keep = bytes.count - usable
            if let last = units.last, (0xD800...0xDBFF).contains(last) { units.removeLast(); keep += 2 }
            carry = Array(bytes.suffix(keep))
            guard let text = String(validating: units, as: UTF16.self) else {
                throw TranscodeError(reason: "starts with a UTF-16 byte-order mark but is not valid UTF-16")
            }
            try emit(Array(text.utf8))
        }
    }

    func finish() throws {
        if case .utf16 = encoding, !carry.isEmpty {
            throw TranscodeError(reason: "starts with a UTF-16 byte-order mark but is not valid UTF-16 (it ends half way through a character)")
        }
    }

    struct TranscodeError: Error { let reason: String }
}

extension ManifestDefinition {
    /// The mapping as sorted JSON, for comparing identities.
    var canonicalJSON: String {
        (try? String(decoding: JSONEncoder.sorted.encode(self), as: UTF8.self)) ?? ""
    }
}
