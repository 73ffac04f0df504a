/// Bytes of a file that the hashing pass already held in memory, at their offsets, so the
/// metadata reader that runs right after it need not read them again.
public struct KnownRange: Sendable, Equatable {
    public var offset: Int64
    public var bytes: [UInt8]
    public init(offset: Int64, bytes: [UInt8]) { self.offset = offset; self.bytes = bytes }
}

/// Records a PNG's chunk structure while the hashing pass streams the file through memory:
/// every chunk's 8-byte header, and the whole of each small chunk that is not image data (text,
/// eXIf, IHDR…, with its CRC).
///
/// Why: ExifTool reads text chunks wherever they are, and ImageMagick writes some after the
/// image data, so the PNG reader walks every chunk header. A PNG of 8 MB in 32 KiB IDAT chunks
/// is 258 headers, each a `pread` of a 4 KiB window in a second pass over the file: measured on
/// the benchmark's media corpus, the largest single cost of reading PNG metadata. With the
/// headers recorded here the walk reads nothing again.
///
/// Bounded: at most `maxChunks` chunks are recorded (a hostile file of tiny chunks costs at
/// most that many small arrays); past that, or at a length no PNG can have, recording stops
/// and the reader reads the rest from the file as before. Nothing recorded is trusted beyond
/// being the bytes at that offset when they were hashed.
public struct PNGChunkRecorder: Sendable {
    public private(set) var ranges: [KnownRange] = []
    /// Offset of the next chunk header.
    private var next: Int64 = 8
    /// The record being assembled: where it starts, the bytes so far, how many it needs.
    private var start: Int64 = 8
    private var pending: [UInt8] = []
    private var want = 0
    private var stopped = false

    public static let maxChunks = 20_000
    /// Chunks other than image data up to this length are recorded whole.
    public static let maxKeptChunk = 1 << 20
    public init() {}

    /// The next bytes of the file, which start at `offset` (each call continuing the last).
    public mutating func feed(_ chunk: UnsafeRawBufferPointer, at offset: Int64) {
        let end = offset + Int64(chunk.count)
        while !stopped {
            if want == 0 {
                // Start the next header, if it lies in this piece.
                guard next >= offset, next < end else { return }
                start = next; want = 8; pending.removeAll(keepingCapacity: true)
            }
            let at = start + Int64(pending.count)
            guard at >= offset, at < end else { return }
            let take = min(want - pending.count, Int(end - at))
            let from = Int(at - offset)
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[from..<(from + take)]))
            guard pending.count == want else { return }   // continues in the next piece
            if want == 8 {
                let length = Int64(pending.u32(at: 0, bigEndian: true)!)
                guard length <= Int64(Int32.max) else { stopped = true; return }
                next = start + 12 + length
                let type = pending.u32(at: 4, bigEndian: true)!
                if !ImageDataHash.pngImageChunks.contains(type) && length <= Int64(Self.maxKeptChunk) {
                    want = 12 + Int(length)          // the data and CRC too
                    if pending.count < want { continue }
                }
            }
            let iend = pending.u32(at: 4, bigEndian: true) == ImageDataHash.fourCC("IEND")
            ranges.append(KnownRange(offset: start, bytes: pending))
            want = 0
            if iend || ranges.count >= Self.maxChunks { stopped = true }
        }
    }
}

/// A `ByteSource` that answers reads inside `known` ranges from memory and every other read
/// from `file`.
final class PrimedByteSource<File: ByteSource>: ByteSource {
    let file: File
    /// Sorted by offset, not overlapping (as `PNGChunkRecorder` makes them).
    private let known: [KnownRange]
    var size: Int64 { file.size }

    init(_ file: File, known: [KnownRange]) {
        self.file = file; self.known = known
    }

    /// The recorded range holding all of `[offset, offset + wanted)`, and where in it.
    private func lookup(_ offset: Int64, _ wanted: Int) -> (range: Int, from: Int)? {
        var lo = 0, hi = known.count   // the last range that starts at or before `offset`
        while lo < hi {
            let mid = (lo + hi) / 2
            if known[mid].offset <= offset { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0 else { return nil }
        let from = Int(offset - known[lo - 1].offset)
        return from + wanted <= known[lo - 1].bytes.count ? (lo - 1, from) : nil
    }

    func read(at offset: Int64, count: Int) throws -> [UInt8] {
        guard offset >= 0, count > 0, offset < size else { return [] }
        let wanted = Int(min(Int64(count), size - offset))
        if let (r, from) = lookup(offset, wanted) { return Array(known[r].bytes[from..<(from + wanted)]) }
        return try file.read(at: offset, count: count)
    }

    func withBytes<R>(at offset: Int64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        if offset >= 0, count > 0, offset < size, case let wanted = Int(min(Int64(count), size - offset)),
           let (r, from) = lookup(offset, wanted) {
            return try known[r].bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[from..<(from + wanted)])) }
        }
        return try file.withBytes(at: offset, count: count, body)
    }
}
