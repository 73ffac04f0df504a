#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where hashing saw an XMP packet begin, for formats that only the packet scan can read.
public enum XPacketHint: Sendable, Hashable {
    /// Not known: the reader scans the first and last megabyte itself.
    case unknown
    /// The whole file was seen and holds no `<?xpacket begin`.
    case none
    /// The last `<?xpacket begin` starts at this offset.
    case at(Int64)
}

/// Finds `<?xpacket begin` in a file as it streams past (while it is hashed), so the fallback
/// scan for unknown formats costs no second read.
struct XPacketStreamScanner {
    static let marker = Array("<?xpacket begin".utf8)
    private(set) var last: Int64?
    private var carry: [UInt8] = []
    private var carryOffset: Int64 = 0

    /// Feeds the bytes at `offset` (chunks arrive in order).
    mutating func feed(_ chunk: UnsafeRawBufferPointer, at offset: Int64) {
        let m = XPacketStreamScanner.marker
        // A marker split across the previous chunk's end and this one's start.
        if !carry.isEmpty {
            let joined = carry + Array(chunk.prefix(m.count - 1))
            if let i = joined.indexOfBytes(m) { last = carryOffset + Int64(i) }
        }
        // memchr for '<' (vectorised in libc), then the next byte, then the whole marker.
        // (Measured: glibc's memmem and a Swift SIMD16 loop were both slower on random data.)
        let start = UnsafeRawPointer(chunk.baseAddress!)
        var index = 0
        m.withUnsafeBytes { marker in
            while chunk.count - index >= m.count {
                guard let hit = memchr(start + index, 0x3C, chunk.count - index - m.count + 1) else { break }
                let at = UnsafeRawPointer(hit) - start
                if hit.load(fromByteOffset: 1, as: UInt8.self) == 0x3F && memcmp(hit, marker.baseAddress!, m.count) == 0 {
                    last = offset + Int64(at)
                }
                index = at + 1
            }
        }
        // The last m-1 bytes seen (over several chunks when they are short), for markers that
        // straddle this chunk and the next.
        let tail = carry + Array(chunk.suffix(m.count - 1))
        let keep = min(m.count - 1, tail.count)
        carry = Array(tail.suffix(keep))
        carryOffset = offset + Int64(chunk.count) - Int64(keep)
    }

    var hint: XPacketHint { last.map { .at($0) } ?? .none }
}

/// What the scan learns about a file's content besides its hash: its format from the magic
/// bytes, pixel dimensions, the SHA-256 of the image data alone (JPEG, PNG, TIFF and TIFF-based
/// raw, WebP: see `ImageDataHash`), and every
/// embedded metadata value with the one the file's own (MWG) reconciliation prefers.
public struct ContentInfo: Sendable, Hashable {
    public var format: MediaFormat
    public var width: Int?
    public var height: Int?
    public var imageSHA256: SHA256Digest?
    /// The SHA-256 of the first `ImageHashing.prefixBytes` of the image data (see
    /// `ImageDataHash.prefix`); equal to `imageSHA256` when the image data is no longer.
    public var imagePrefixSHA256: SHA256Digest?
    public var values: [SourcedValue]
    /// Parallel to `values`: true for the value chosen for its field inside the file.
    public var preferred: [Bool]
    public var problems: [MetadataProblem]
    /// The image's perceptual hash (or why it has none), when the scan computed one while it
    /// read the file for SHA-256 (`ImageFingerprinting`); nil: not an image it decodes.
    /// Stored per content (`CatalogueWrite.fingerprint`), not with the file's metadata.
    public var fingerprint: Result<ImageFingerprint, ImageFingerprintFailure>? = nil

    public init(format: MediaFormat, width: Int? = nil, height: Int? = nil, imageSHA256: SHA256Digest? = nil,
                values: [SourcedValue] = [], preferred: [Bool] = [], problems: [MetadataProblem] = []) {
        self.format = format; self.width = width; self.height = height; self.imageSHA256 = imageSHA256
        self.values = values; self.preferred = preferred; self.problems = problems
    }
}

/// How much of the image data `ContentInspector.inspect` hashes.
public enum ImageHashing: Sendable {
    /// All of it: `imageSHA256` is set (`silomerge inspect`).
    case full
    /// The first `prefixBytes` only (`imagePrefixSHA256`), and `imageSHA256` when that is all of
    /// it; the scan completes the others only where another file shares the prefix.
    case prefix
    /// Bytes of image data in the prefix digest. 4 KiB of entropy-coded or deflated picture
    /// data already tells different photos apart, and costs 2 µs of SHA-256 per file, where
    /// 64 KiB (before reader version 4) added 17 % to the hashing of a folder of 400 KB
    /// camera JPEGs. A shared prefix only makes a file a candidate: the whole image hash decides.
    ///
    /// A small file's image data is not hashed whole at once either (files up to 64 KiB once
    /// were): only files that share a prefix are ever read again, while hashing every small
    /// picture's data a second time cost a collection of camera thumbnails and test images
    /// several percent of its scan (up to 60 KiB of SHA-256 a file).
    public static let prefixBytes: Int64 = 4 * 1024
}

public enum ContentInspector {
    /// Reads the metadata of an open file (the caller keeps and closes `fd`). `scanForXMP`
    /// also searches for an XMP packet where the structure gave none (see
    /// `MetadataReadOptions`); `hint` is what the hashing pass saw of such packets.
    ///
    /// `head` and `known`: bytes of the file the caller already holds (the hashing pass's first
    /// chunk; a PNG's chunk headers, `PNGChunkRecorder`), read from memory instead of the file.
    /// `head` (the file's first bytes) is only borrowed for the call.
    public static func inspect(fd: Int32, size: Int64, hint: XPacketHint = .unknown, scanForXMP: Bool = false,
                               imageHashing: ImageHashing = .full, head: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                               known: [KnownRange] = []) -> ContentInfo {
        let file = FileByteSource(fd: fd, size: size, lending: head)
        if known.isEmpty {
            return inspect(file, size: size, hint: hint, scanForXMP: scanForXMP, imageHashing: imageHashing)
        }
        return inspect(PrimedByteSource(file, known: known), size: size, hint: hint, scanForXMP: scanForXMP,
                       imageHashing: imageHashing)
    }

    /// The same, from a file's whole content already in memory (the hashing pass read it in one
    /// chunk): the metadata then comes from exactly the bytes that were hashed, with no second
    /// read. `bytes` is only borrowed for the call.
    public static func inspect(bytes: UnsafeRawBufferPointer, hint: XPacketHint = .unknown, scanForXMP: Bool = false,
                               imageHashing: ImageHashing = .full) -> ContentInfo {
        inspect(BorrowedByteSource(bytes), size: Int64(bytes.count), hint: hint, scanForXMP: scanForXMP,
                imageHashing: imageHashing)
    }

    private static func inspect(_ source: some ByteSource, size: Int64, hint: XPacketHint, scanForXMP: Bool,
                                imageHashing: ImageHashing) -> ContentInfo {
        // Content of no format read here (most of a department's files): the first bytes say
        // so, and what the full path would give is the same for all of it. It cost about 9,000
        // instructions a file (the collector, its values, in-file reconciliation), 5 % of the
        // CPU of a scan of the benchmark corpus's random files.
        guard !scanForXMP, let head = try? source.read(at: 0, count: 64) else {
            return inspectFully(source, hint: hint, scanForXMP: scanForXMP, imageHashing: imageHashing)
        }
        if !FormatSniffer.mayBeKnown(head) { return unknownFormat }
        return inspectFully(source, hint: hint, scanForXMP: false, imageHashing: imageHashing, head: head)
    }

    /// What `inspectFully` gives for content of no format read here, without the packet scan:
    /// worked out once, by that same path, from bytes that no sniff recognises.
    static let unknownFormat: ContentInfo = {
        let info = inspectFully(DataByteSource([UInt8](repeating: 0x01, count: 64)), hint: .unknown,
                                scanForXMP: false, imageHashing: .prefix)
        precondition(info.format == .other && info.problems.isEmpty, "ContentInspector.unknownFormat: \(info)")
        return info
    }()

    /// `head`: the file's first 64 bytes, when already read (not with `scanForXMP`).
    static func inspectFully(_ source: some ByteSource, hint: XPacketHint, scanForXMP: Bool,
                             imageHashing: ImageHashing, head: [UInt8]? = nil) -> ContentInfo {
        // The structure the reader parsed serves the image hash (a HEIF's items, parsed once).
        let (metadata, heifPrimary) = scanForXMP ? (MetadataReader.read(source, xpacketHint: hint), nil)
                                                 : MetadataReader.readKeepingStructure(source, options: MetadataReadOptions(), head: head)
        var info = ContentInfo(format: metadata.format, width: metadata.width, height: metadata.height,
                               values: metadata.values, problems: metadata.problems)
        let winners = InFileReconciler.winners(metadata)
        info.preferred = metadata.values.map { v in
            guard let w = winners[v.field.index] else { return false }
            // The origin first: a value from another origin than the winner's (most of them)
            // differs there, before its texts are compared.
            return w.origin == v.origin && w == v
        }
        if ImageDataHash.supports(metadata.format) {
            do {
                switch imageHashing {
                case .prefix:
                    // Every picture's prefix covers the same bytes (so prefixes compare); image
                    // data no longer than the prefix has its whole hash with it.
                    if let r = try ImageDataHash.prefix(source, format: metadata.format, bytes: ImageHashing.prefixBytes,
                                                        heifPrimary: heifPrimary) {
                        info.imagePrefixSHA256 = r.digest
                        if r.complete { info.imageSHA256 = r.digest }
                    }
                case .full:
                    info.imageSHA256 = try ImageDataHash.compute(source, format: metadata.format)
                }
            } catch let problem as MetadataProblem {
                info.problems.append(problem)
            } catch {
                info.problems.append(MetadataProblem(block: "image data", reason: "\(error)"))
            }
        }
        return info
    }
}

extension MetadataReader {
    /// `read` with `scanForXMP`, using what hashing learnt about `<?xpacket` packets: for
    /// formats only the packet scan can read, `.none` skips the scan and `.at` reads the packet
    /// directly.
    public static func read(_ source: some ByteSource, xpacketHint: XPacketHint) -> EmbeddedMetadata {
        let scanning = MetadataReadOptions(scanForXMP: true)
        guard case .unknown = xpacketHint else {
            let c = MetadataCollector(source: source)
            do {
                c.format = try FormatSniffer.sniff(source)
                guard c.format == .other else { return read(source, options: scanning) }
                if case .at(let offset) = xpacketHint {
                    let length = Int(min(Int64(MetadataLimits.maxBlock), source.size - offset))
                    let bytes = try source.read(at: offset, count: max(0, length))
                    if let packet = XPacketScanner.lastPacket(in: bytes) { c.addXMP(packet, block: "XMP") }
                }
            } catch {
                c.problem("I/O", "read failed: \(error)")
            }
            return c.finish()
        }
        return read(source, options: scanning)
    }
}
