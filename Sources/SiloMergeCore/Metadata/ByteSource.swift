#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Random access to a file's bytes, so parsers read headers, segments and boxes by offset
/// instead of loading whole files.
public protocol ByteSource {
    var size: Int64 { get }
    /// Up to `count` bytes at `offset`; fewer at the end of the file, none past it or for a
    /// negative offset. Throws on an I/O error.
    func read(at offset: Int64, count: Int) throws -> [UInt8]
    /// The bytes `read(at:count:)` would return, lent to `body` instead of copied into a new
    /// array: a walker that hashes or scans a range needs no allocation per chunk. The buffer
    /// is valid only during `body`. (The default goes through `read`.)
    func withBytes<R>(at offset: Int64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R
    /// The bytes `read(at:count:)` would return, put at the front of `buffer` (which grows when
    /// it is shorter; what lies past them is left as it was): how many. For a walker that reads
    /// a file front to back through one buffer. (The default copies what `withBytes` lends; a
    /// file reads straight into `buffer`.)
    func load(into buffer: inout [UInt8], at offset: Int64, count: Int) throws -> Int
    /// All of the source's bytes, when they already lie in memory lent for the current call
    /// (`BorrowedByteSource`): a walker through the whole file then reads them in place, with
    /// no buffer to fill. Valid only while the source is; nil (the default) for the others.
    var contiguousBytes: UnsafeRawBufferPointer? { get }
    /// The source's first bytes, when they lie in memory lent for the source's life (a
    /// `FileByteSource` lent the hashing pass's first chunk) though the rest does not: a walker
    /// reads them in place, then goes on through its buffer. Nil (the default) for the others.
    var contiguousPrefix: UnsafeRawBufferPointer? { get }
}

extension ByteSource {
    public func withBytes<R>(at offset: Int64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try read(at: offset, count: count).withUnsafeBytes { try body($0) }
    }

    public func load(into buffer: inout [UInt8], at offset: Int64, count: Int) throws -> Int {
        try ByteSources.copy(self, into: &buffer, at: offset, count: count)
    }

    public var contiguousBytes: UnsafeRawBufferPointer? { nil }
    public var contiguousPrefix: UnsafeRawBufferPointer? { nil }
}

enum ByteSources {
    /// `load(into:at:count:)` through `withBytes`.
    static func copy(_ source: some ByteSource, into buffer: inout [UInt8], at offset: Int64, count: Int) throws -> Int {
        try source.withBytes(at: offset, count: count) { raw in
            guard let base = raw.baseAddress, raw.count > 0 else { return 0 }
            // Grown uninitialised (no memset before the copy overwrites it), as `pread` grows it.
            if buffer.count < raw.count { buffer = [UInt8](unsafeUninitializedCapacity: raw.count) { _, n in n = raw.count } }
            buffer.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: base, byteCount: raw.count) }
            return raw.count
        }
    }
}

/// Bytes already in memory (tests, embedded blocks, sidecars).
public struct DataByteSource: ByteSource, Sendable {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var size: Int64 { Int64(bytes.count) }

    public func read(at offset: Int64, count: Int) throws -> [UInt8] {
        try withBytes(at: offset, count: count) { Array($0) }
    }

    /// The bounds are `BorrowedByteSource`'s, over this array's storage.
    public func withBytes<R>(at offset: Int64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try bytes.withUnsafeBytes { try BorrowedByteSource($0).withBytes(at: offset, count: count, body) }
    }
}

/// Bytes lent by their owner for the length of one call (the hashing worker's buffer, which
/// holds the whole of a file that fit in one read): parsers read them in place, with no copy
/// and no system call. Valid only while the lender keeps the memory alive and unchanged: never
/// store one beyond the call it was made for.
///
/// Not `Sendable`: it points into memory another owner frees.
public struct BorrowedByteSource: ByteSource {
    private let bytes: UnsafeRawBufferPointer
    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }
    public var size: Int64 { Int64(bytes.count) }
    public var contiguousBytes: UnsafeRawBufferPointer? { bytes }

    public func read(at offset: Int64, count: Int) throws -> [UInt8] {
        try withBytes(at: offset, count: count) { Array($0) }
    }

    public func withBytes<R>(at offset: Int64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard offset >= 0, count > 0, offset < Int64(bytes.count) else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        let start = Int(offset)
        let end = start + min(count, bytes.count - start)
        return try body(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
    }
}

/// An open file read with `pread`, through a small cache of two 64 KiB windows (typically the
/// head and the tail of the file, or the current segment and the next). Does not own the file
/// descriptor: the caller closes it.
///
/// Not `Sendable`: the cache is mutable and unsynchronised; use one per file, on one thread.
public final class FileByteSource: ByteSource {
    public let fd: Int32
    public let size: Int64
    /// Counters, for tests and diagnostics: how many `pread` calls and bytes the parsers cost.
    public private(set) var readCalls = 0
    public private(set) var bytesRead: Int64 = 0

    private static let window = 64 * 1024
    /// A window: the file's bytes at `offset` are `bytes[0..<count]` (the array may be longer:
    /// an evicted window's array is reused for the next).
    private struct Slot { var offset: Int64; var bytes: [UInt8]; var count: Int }
    private var slots: [Slot] = []   // most recently used first, at most two
    /// Where the last window loaded from the file ended: reads that run on from there are a
    /// walk through consecutive blocks, worth reading ahead for.
    private var lastLoadEnd: Int64?

    public init(fd: Int32, size: Int64) {
        self.fd = fd
        self.size = max(0, size)
    }

    /// The file's first bytes, lent by the caller for this source's whole life (the hashing
    /// pass's first chunk, still in its buffer): read in place, never copied or read again.
    private var lent = UnsafeRawBufferPointer(start: nil, count: 0)
    public var contiguousPrefix: UnsafeRawBufferPointer? { lent.isEmpty ? nil : lent }

    /// A source whose first bytes are already in memory (the hashing pass just read them, up to
    /// a megabyte): reads inside `head` cost no system call and no copy, so a file of a format
    /// that needs nothing past its first chunk (a photo's EXIF, XMP and IPTC segments, and the
    /// start of its image data) is never read again. `head` is borrowed: it must stay valid
    /// and unchanged as long as this source is used.
    public convenience init(fd: Int32, size: Int64, lending head: UnsafeRawBufferPointer) {
        self.init(fd: fd, size: size)
        let count = Int(min(Int64(head.count), self.size))
        if count > 0 {
            lent = UnsafeRawBufferPointer(rebasing: head[0..<count])
            lastLoadEnd = Int64(count)
        }
    }

    /// A load as large as a window that no window holds goes straight into `buffer` (the
    /// image-data walk's, refilled 64 KiB at a time: no copy of every byte it reads).
    public func load(into buffer: inout [UInt8], at offset: Int64, count: Int) throws -> Int {
        if let wanted = uncachedWindow(at: offset, count: count) {
            return try pread(at: offset, count: wanted, into: &buffer)
        }
        return try ByteSources.copy(self, into: &buffer, at: offset, count: count)
    }

    /// The bytes to read when a request at `offset` is as large as a window and no window
    /// holds it (it then bypasses the cache); nil otherwise.
    private func uncachedWindow(at offset: Int64, count: Int) -> Int? {
        guard offset >= 0, count >= Self.window, offset < size else { return nil }
        let wanted = Int(min(Int64(count), size - offset))
        guard wanted >= Self.window, offset + Int64(wanted) > Int64(lent.count),
              !slots.contains(where: { offset >= $0.offset && offset + Int64(wanted) <= $0.offset + Int64($0.count) }) else { return nil }
        return wanted
    }

    public func read(at offset: Int64, count: Int) throws -> [UInt8] {
        // A read as large as a window that no window holds: straight into the result.
        if let wanted = uncachedWindow(at: offset, count: count) {
            var out: [UInt8] = []
            let n = try pread(at: offset, count: wanted, into: &out)
            out.removeSubrange(n...)
            return out
        }
        return try withBytes(at: offset, count: count) { Array($0) }
    }

    /// A reused buffer for reads as large as a window (which bypass the cache): a walk hashing
    /// a picture 64 KiB at a time costs no allocation, and no page faults, per chunk.
    private var scratch: [UInt8] = []

    public func withBytes<R>(at offset: Int64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard offset >= 0, count > 0, offset < size else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        let wanted = Int(min(Int64(count), size - offset))
        if offset + Int64(wanted) <= Int64(lent.count) {
            return try body(UnsafeRawBufferPointer(rebasing: lent[Int(offset)..<(Int(offset) + wanted)]))
        }
        // Found first, then moved to the front: swapping while iterating `slots` copied the
        // array on every hit that was not already in front.
        if let index = slots.firstIndex(where: { offset >= $0.offset && offset + Int64(wanted) <= $0.offset + Int64($0.count) }) {
            if index != 0 { slots.swapAt(0, index) }
            let slot = slots[0]
            let start = Int(offset - slot.offset)
            // `slot.bytes` is a local reference: should `body` read this source again (and
            // replace the slot), the array lives on until `body` returns.
            return try slot.bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<(start + wanted)])) }
        }
        // A read as large as a window gains nothing from the cache: straight into the scratch
        // buffer (taken out while `body` runs, so a nested read gets a buffer of its own).
        if wanted >= Self.window {
            var buffer = scratch
            scratch = []
            defer { scratch = buffer }
            let n = try pread(at: offset, count: wanted, into: &buffer)
            return try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        // Load a window that starts at a 4 KiB boundary when that still covers the request. A
        // small read loads 4 KiB unless it runs on from the last window (a walk through
        // consecutive segments, worth reading ahead): the first read of a file (most files need
        // only their magic bytes), and a walker hopping over image data — a PNG of 32 KiB IDAT
        // chunks, boxes, strips — which would otherwise copy the whole file 64 KiB at a time.
        let runsOn = lastLoadEnd.map { offset >= $0 - 4096 && offset <= $0 + 4096 } ?? false
        let window = wanted <= 4096 && !runsOn ? 4096 : Self.window
        var start = offset & ~4095
        if offset + Int64(wanted) > start + Int64(window) { start = offset }
        let length = Int(min(Int64(window), size - start))
        // The slot pushed out of the cache lends its array, when nothing else holds it.
        var bytes: [UInt8] = slots.count == 2 ? slots.removeLast().bytes : []
        let n = try pread(at: start, count: length, into: &bytes)
        lastLoadEnd = start + Int64(n)
        slots.insert(Slot(offset: start, bytes: bytes, count: n), at: 0)
        let from = Int(offset - start)
        guard from < n else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }   // the file shrank under us
        return try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[from..<min(n, from + wanted)])) }
    }

    /// Reads up to `count` bytes at `offset` into `buffer` (resized to hold `count`; its old
    /// contents are overwritten) and returns how many were read: fewer only at the end of the
    /// file.
    private func pread(at offset: Int64, count: Int, into buffer: inout [UInt8]) throws -> Int {
        if buffer.count < count {
            // Uninitialised: pread fills it (no memset of every window before the kernel
            // overwrites it); only the bytes it filled are ever read.
            buffer = [UInt8](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
        }
        var calls = 0
        let done = try buffer.withUnsafeMutableBytes { raw -> Int in
            var done = 0
            while done < count {
                calls += 1
                #if canImport(Darwin)
                let r = Darwin.pread(fd, raw.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                #else
                let r = Glibc.pread(fd, raw.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                #endif
                if r < 0 {
                    if errno == EINTR { continue }
                    throw Errno(errno)
                }
                if r == 0 { break }
                done += r
            }
            return done
        }
        readCalls += calls
        bytesRead += Int64(done)
        return done
    }
}

extension ByteSource {
    /// Exactly `count` bytes at `offset`, or nil when the file is shorter. Refuses (nil) reads
    /// larger than `limit`, so a corrupt length field can never cause a huge allocation.
    func exact(at offset: Int64, count: Int, limit: Int = MetadataLimits.maxBlock) throws -> [UInt8]? {
        guard count >= 0, count <= limit, offset >= 0 else { return nil }
        if count == 0 { return [] }
        guard let end = offset.checkedAdd(count), end <= size else { return nil }
        let bytes = try read(at: offset, count: count)
        return bytes.count == count ? bytes : nil
    }

    /// `exact`'s bytes lent to `body` (see `withBytes`): `body` gets nil when `exact` would
    /// return nil.
    func withExact<R>(at offset: Int64, count: Int, limit: Int = MetadataLimits.maxBlock,
                      _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        guard count >= 0, count <= limit, offset >= 0 else { return try body(nil) }
        if count == 0 { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        guard let end = offset.checkedAdd(count), end <= size else { return try body(nil) }
        return try withBytes(at: offset, count: count) { try body($0.count == count ? $0 : nil) }
    }
}

/// Hard limits that keep hostile files from costing unbounded memory or time.
enum MetadataLimits {
    /// The largest block (XMP packet, text chunk, IRB...) read into memory.
    static let maxBlock = 16 * 1024 * 1024
    /// The most problems kept per file.
    static let maxProblems = 64
    /// XML nesting depth.
    static let maxXMLDepth = 64
    /// Marker segments / chunks / boxes walked per file.
    static let maxSegments = 100_000
    /// Bytes searched for the XMP packet fallback, at each end of the file.
    static let scanWindow = 1024 * 1024
    /// Per file, whatever the format: bytes inflated from compressed blocks in all.
    static let maxInflatedPerFile = 16 * 1024 * 1024
    /// Per file: XMP packets parsed.
    static let maxXMPPackets = 16
    /// Per file: values kept for one field.
    static let maxValuesPerField = 16
    /// Per value: list items kept.
    static let maxListItems = 2000
    /// Per value: bytes of its text (or of its raw form, if longer).
    static let maxValueBytes = 1024 * 1024
    /// Per file: bytes of values stored in the catalogue (values and raw forms).
    static let maxStoredBytesPerFile = 4 * 1024 * 1024
}

extension Int64 {
    /// Checked addition: nil on overflow.
    func checkedAdd(_ other: Int) -> Int64? {
        let (r, o) = addingReportingOverflow(Int64(other))
        return o ? nil : r
    }
    func checkedAdd(_ other: Int64) -> Int64? {
        let (r, o) = addingReportingOverflow(other)
        return o ? nil : r
    }
}

extension Int {
    /// Checked multiplication: nil on overflow.
    func checkedMul(_ other: Int) -> Int? {
        let (r, o) = multipliedReportingOverflow(by: other)
        return o ? nil : r
    }
    func checkedAdd(_ other: Int) -> Int? {
        let (r, o) = addingReportingOverflow(other)
        return o ? nil : r
    }
}
