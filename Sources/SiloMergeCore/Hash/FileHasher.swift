#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a file could not be hashed.
public enum ReadFailure: Error, Sendable, Equatable {
    /// Gone between the walk and the read.
    case vanished
    /// open or read failed with this errno.
    case unreadable(Errno, during: String)
    /// The path now names something that is not a regular file (a FIFO swapped in, say).
    case notRegular(FileKind)
    /// Size or mtime changed while the file was being read: the hash would describe no
    /// version of the file that ever existed.
    case changedWhileReading
}

/// Reads files and hashes them with SHA-256. One per hashing worker: it owns its OpenSSL
/// context and one large buffer, reused for every file, so reading allocates nothing.
public final class FileHasher {
    public static let defaultBufferSize = 1 << 20

    /// Files read side by side when comparing a group (each needs no buffer of its own: chunks
    /// are compared one file at a time against the reference's).
    static let lockstepFiles = 32

    private let hasher: SHA256Hasher
    /// `buffer` and `rest`, one allocation: 2 MiB aligned to 2 MiB, which Linux backs with one
    /// transparent huge page when it can (`MADV_HUGEPAGE`), so the two cost a worker one page
    /// fault instead of 512. A fault costs about 2 µs on the VMs measured: `rest`'s 256 were
    /// a millisecond of the CPU that reading metadata added to a scan of 516 real photos.
    private let region: UnsafeMutableRawBufferPointer
    let buffer: UnsafeMutableRawBufferPointer
    /// A small second buffer for partial reads.
    let scratch: UnsafeMutableRawBufferPointer
    /// Where the rest of a file streams when its metadata is read and it is larger than
    /// `buffer`: its first chunk stays in `buffer` until the metadata reader has read the
    /// file, so the reader finds the file's first megabyte in memory (a photo's segments, the
    /// start of its image data, a video's leading boxes) with no copy and no second read.
    /// The second half of `region`: without huge pages, a silo of small files never touches
    /// it. As large as `buffer`: a quarter of it made a scan of large videos read and hash in
    /// four times as many calls (media corpus +6.2 % → +7.7 % of CPU for metadata).
    private let rest: UnsafeMutableRawBufferPointer
    /// Where this hasher's worker adds its stage times (`--profile`); nil: not profiling, and
    /// then nothing is timed (a nil check per stage).
    var profile: ProfileSlot?
    /// Computes perceptual hashes of the images this hasher reads (nil: none are computed).
    var fingerprinter: (any ImageFingerprinting)?
    /// The bytes of the image being read, kept for its fingerprint while they stream past for
    /// SHA-256 (no second read). Reused from file to file; dropped after an image over 16 MiB,
    /// so a worker holds at most `maxFileBytes` while reading one and little after.
    private var imageBytes: [UInt8] = []
    /// Tests only: runs once a file is hashed and found unchanged, before its metadata is read.
    var afterHashing: (() -> Void)?

    public init(bufferSize: Int = FileHasher.defaultBufferSize) throws {
        hasher = try SHA256Hasher()
        let size = max(bufferSize, 128 * 1024)
        let hugePage = 2 << 20
        region = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * size, alignment: 2 * size >= hugePage ? hugePage : 4096)
        #if os(Linux)
        if 2 * size >= hugePage { _ = madvise(region.baseAddress, 2 * size, MADV_HUGEPAGE) }   // advice: no huge page is no error
        #endif
        buffer = UnsafeMutableRawBufferPointer(rebasing: region[0..<size])
        rest = UnsafeMutableRawBufferPointer(rebasing: region[size..<(2 * size)])
        scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 4096)
    }

    deinit {
        region.deallocate()
        scratch.deallocate()
    }

    func resetHasher() throws { try hasher.reset() }
    func updateHasher(_ bytes: UnsafeRawBufferPointer) throws { try hasher.update(bytes) }
    func finalizeHasher() throws -> SHA256Digest { try hasher.finalize() }

    /// Opens `path` below `rootFD` for reading without ever blocking on a FIFO (O_NONBLOCK) or
    /// following a final symlink (unless asked), then checks it is a regular file.
    func open(rootFD: Int32, path: RelativePath, followSymlinks: Bool) -> Result<(Int32, FileStat), ReadFailure> {
        var flags = O_RDONLY | O_NONBLOCK | O_NOCTTY
        if !followSymlinks { flags |= O_NOFOLLOW }
        let started = profile != nil ? MonotonicClock.now() : 0
        defer { profile?.add(.open, since: started) }
        let fd: Int32
        switch Posix.openAt(rootFD, path, flags: flags) {
        case .success(let f): fd = f
        case .failure(let e):
            if e.code == ENOENT || e.code == ENOTDIR { return .failure(.vanished) }
            if e.code == ELOOP { return .failure(.notRegular(.symlink)) }
            return .failure(.unreadable(e, during: "open"))
        }
        switch Posix.fstat(fd) {
        case .success(let st):
            guard st.kind == .regular else { close(fd); return .failure(.notRegular(st.kind)) }
            return .success((fd, st))
        case .failure(let e):
            close(fd)
            return .failure(.unreadable(e, during: "fstat"))
        }
    }

    /// The full SHA-256 of a file, with the `fstat` taken when it was opened.
    /// `onBytes` is called after every chunk with its size (for progress).
    public func hashFull(rootFD: Int32, path: RelativePath, followSymlinks: Bool = false,
                         onBytes: (Int) -> Void = { _ in }) -> Result<(SHA256Digest, FileStat), ReadFailure> {
        hashFull(rootFD: rootFD, path: path, followSymlinks: followSymlinks, inspect: false, onBytes: onBytes)
            .map { ($0.digest, $0.stat) }
    }

    /// The full SHA-256 of a file and, when `inspect`, its metadata (`ContentInspector`),
    /// read while the file is still open. With `scanForXMP`, the bytes streaming past are also
    /// searched for an XMP packet, so files of unknown format need no second read for it.
    public func hashFull(rootFD: Int32, path: RelativePath, followSymlinks: Bool = false, inspect: Bool,
                         scanForXMP: Bool = false, onBytes: (Int) -> Void = { _ in })
        -> Result<(digest: SHA256Digest, stat: FileStat, content: ContentInfo?), ReadFailure> {
        let fd: Int32, stat: FileStat
        switch open(rootFD: rootFD, path: path, followSymlinks: followSymlinks) {
        case .success(let pair): (fd, stat) = pair
        case .failure(let f): return .failure(f)
        }
        defer { close(fd) }
        // Not mmap, though it would save copying the page cache: a file truncated by another
        // process, or a disk error, while mapped arrives as SIGBUS and would kill the scan.
        if stat.size >= 4 << 20 {
            _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        }
        // The packet scan covers what the metadata reader's fallback would: the first and
        // last megabyte. It only matters for formats the readers do not know.
        var scanner: XPacketStreamScanner? = nil
        let window = Int64(MetadataLimits.scanWindow)
        // The first chunk stays in `buffer` for the metadata reader, the rest streaming through
        // `rest` (see `rest`), when the file takes more than one read.
        var firstCount = 0
        // A PNG's chunk headers and small chunks, recorded as they stream past (see
        // `PNGChunkRecorder`): its metadata reader's chunk walk then reads nothing again.
        var pngChunks: PNGChunkRecorder? = nil
        // The whole file came in the first read, so `buffer` holds all of it when hashing ends
        // (true of most pictures: the buffer is 1 MiB).
        var wholeInBuffer = false
        // --profile: each chunk's read, hash and metadata time, in the worker's slot.
        let profile = self.profile
        var mark = profile != nil ? MonotonicClock.now() : 0
        profile?.add(.read, nanoseconds: 0)   // a file read (even an empty one)
        // A decodable image's format while its bytes are kept, and its fingerprint.
        var keepImage: MediaFormat? = nil
        var fingerprint: Result<ImageFingerprint, ImageFingerprintFailure>? = nil
        defer {
            if imageBytes.capacity > 16 << 20 { imageBytes = [] } else { imageBytes.removeAll(keepingCapacity: true) }
        }
        do {
            try hasher.reset()
            var offset: Int64 = 0
            while offset < stat.size {
                var into = buffer
                if offset > 0 && inspect { into = rest }
                let want = Int(min(Int64(into.count), stat.size - offset))
                let got = read(fd, into.baseAddress, want)
                if got < 0 {
                    if errno == EINTR { continue }
                    return .failure(.unreadable(Errno(errno), during: "read"))
                }
                if got == 0 { return .failure(.changedWhileReading) }   // shorter than fstat said
                if let profile { mark = profile.add(.read, since: mark, count: 0, bytes: got) }
                let chunk = UnsafeRawBufferPointer(rebasing: into[0..<got])
                if offset == 0 { firstCount = got }
                try hasher.update(chunk)
                if let profile { mark = profile.add(.hash, since: mark, count: 0) }
                // The format from the first bytes, told once per file.
                let sniffed = inspect && offset == 0 ? FormatSniffer.sniff(head: Array(chunk.prefix(64))) : nil
                // A file read whole in this first chunk is inspected in it (see below).
                if offset == 0, Int64(got) == stat.size { wholeInBuffer = true }
                if sniffed == .png, !wholeInBuffer { pngChunks = PNGChunkRecorder() }
                pngChunks?.feed(chunk, at: offset)
                if let format = sniffed, let fingerprinter {
                    if fingerprinter.decodes(format) {
                        if stat.size <= fingerprinter.maxFileBytes {
                            keepImage = format
                            imageBytes.removeAll(keepingCapacity: true)
                            imageBytes.reserveCapacity(Int(stat.size))
                        } else {
                            fingerprint = .failure(.tooLarge(
                                "a file of \(stat.size) bytes; perceptual hashes are computed for images up to \(fingerprinter.maxFileBytes) bytes"))
                        }
                    }
                }
                if keepImage != nil { imageBytes.append(contentsOf: chunk) }
                if inspect && scanForXMP {
                    if sniffed == .other { scanner = XPacketStreamScanner() }
                    if scanner != nil, offset < window || offset + Int64(got) > stat.size - window {
                        scanner!.feed(chunk, at: offset)
                    }
                }
                offset += Int64(got)
                onBytes(got)
                if inspect, let profile { mark = profile.add(.metadata, since: mark, count: 0) }
            }
            let digest = try hasher.finalize()
            if let profile { mark = profile.add(.hash, since: mark) }
            // Size or mtime no longer what they were when the file was opened.
            func changed() -> Bool {
                if case .success(let now) = Posix.fstat(fd) { return now.size != stat.size || now.mtimeNs != stat.mtimeNs }
                return false
            }
            if changed() { return .failure(.changedWhileReading) }
            afterHashing?()
            // The metadata of a file that fit in the first chunk is read from the very bytes
            // just hashed (no `pread`, no copy); a larger one's through the file, helped by its
            // first chunk, still in memory, and the PNG chunks recorded while it streamed past.
            var content: ContentInfo? = nil
            if inspect {
                let head = UnsafeRawBufferPointer(rebasing: buffer[0..<firstCount])
                content = wholeInBuffer
                    ? ContentInspector.inspect(bytes: head, hint: scanner?.hint ?? .unknown, scanForXMP: scanForXMP, imageHashing: .prefix)
                    : ContentInspector.inspect(fd: fd, size: stat.size, hint: scanner?.hint ?? .unknown,
                                               scanForXMP: scanForXMP, imageHashing: .prefix, head: head,
                                               known: pngChunks?.ranges ?? [])
                // Read through the file after the check above: checked again, so the metadata
                // is of the content hashed too (a file edited meanwhile is read again later).
                if !wholeInBuffer && changed() { return .failure(.changedWhileReading) }
            }
            if inspect, let profile { mark = profile.add(.metadata, since: mark) }
            if let format = keepImage, let fingerprinter, imageBytes.count == Int(stat.size) {
                fingerprint = imageBytes.withUnsafeBytes { fingerprinter.fingerprint(bytes: $0, format: format) }
                if let profile { profile.add(.imageHash, since: mark) }
            }
            content?.fingerprint = fingerprint
            return .success((digest, stat, content))
        } catch {
            return .failure(.unreadable(Errno(EIO), during: "hash"))
        }
    }

    /// A small file read whole (an XMP sidecar), with its SHA-256. Files larger than `limit`
    /// are refused rather than read.
    public func readSmall(rootFD: Int32, path: RelativePath, limit: Int64) -> Result<(bytes: [UInt8], stat: FileStat, digest: SHA256Digest), ReadFailure> {
        let fd: Int32, stat: FileStat
        switch open(rootFD: rootFD, path: path, followSymlinks: false) {
        case .success(let pair): (fd, stat) = pair
        case .failure(let f): return .failure(f)
        }
        defer { close(fd) }
        guard stat.size <= limit else { return .failure(.unreadable(Errno(EFBIG), during: "read")) }
        var bytes = [UInt8](repeating: 0, count: Int(stat.size))
        var done = 0
        while done < bytes.count {
            let got = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
            if got < 0 {
                if errno == EINTR { continue }
                return .failure(.unreadable(Errno(errno), during: "read"))
            }
            if got == 0 { return .failure(.changedWhileReading) }
            done += got
        }
        do {
            try hasher.reset()
            try bytes.withUnsafeBytes { try hasher.update($0) }
            return .success((bytes, stat, try hasher.finalize()))
        } catch {
            return .failure(.unreadable(Errno(EIO), during: "hash"))
        }
    }

    /// Only the metadata of a file (its hash is known and still valid).
    public func inspect(rootFD: Int32, path: RelativePath, followSymlinks: Bool = false,
                        scanForXMP: Bool = false) -> Result<(FileStat, ContentInfo), ReadFailure> {
        switch open(rootFD: rootFD, path: path, followSymlinks: followSymlinks) {
        case .success(let (fd, stat)):
            defer { close(fd) }
            let started = profile != nil ? MonotonicClock.now() : 0
            defer { profile?.add(.metadata, since: started) }
            return .success((stat, ContentInspector.inspect(fd: fd, size: stat.size, scanForXMP: scanForXMP, imageHashing: .prefix)))
        case .failure(let f):
            return .failure(f)
        }
    }


}
