import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Records written once and read back once, in order, through a temporary file that has no
/// name (unlinked as soon as it is created, so nothing is left behind by a crash): a bounded
/// buffer between a producer that must finish quickly — a write transaction — and a consumer
/// that may be slow, such as a command streaming to a pipe nobody reads. Memory holds one
/// 1 MiB block; the disk holds the rest.
///
/// Each record is its JSON encoding after an 8-byte length, encoded with `.losslessValues` so
/// that field values read back exactly (a date stays a date, coordinates keep every bit).
public final class RecordSpool<Record: Codable> {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var written: Int64 = 0
    public private(set) var count = 0
    /// Where the spool lives, for messages.
    private let folder: String
    private static func shown(_ folder: String) -> String {
        folder.count > 1 && folder.hasSuffix("/") ? String(folder.dropLast()) : folder
    }
    private let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.userInfo[.losslessValues] = true
        return e
    }()
    private static var blockSize: Int { 1 << 20 }

    /// A spool in `folder` (the temporary folder by default).
    public init(in folder: String = NSTemporaryDirectory()) throws {
        var template = Array((folder.hasSuffix("/") ? folder : folder + "/").utf8CString.dropLast()) + Array("silomerge-spool-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw SpoolError(what: "create a temporary file in \(Self.shown(folder)) (TMPDIR)", errno: errno)
        }
        self.folder = Self.shown(folder)
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        self.fd = fd
        buffer.reserveCapacity(Self.blockSize)
    }

    deinit { close(fd) }

    public func append(_ record: Record) throws {
        let data = try encoder.encode(record)
        var length = UInt64(data.count).littleEndian
        withUnsafeBytes(of: &length) { buffer.append(contentsOf: $0) }
        buffer.append(contentsOf: data)
        count += 1
        if buffer.count >= Self.blockSize { try flush() }
    }

    private func flush() throws {
        var done = 0
        try buffer.withUnsafeBytes { raw in
            while done < raw.count {
                let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(written) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SpoolError(what: "write the temporary spool in \(folder) (TMPDIR)", errno: errno)
                }
                done += n
            }
        }
        written += Int64(done)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Hands every record to `body`, in the order appended. Call once, after the last append.
    public func forEach(_ body: (Record) throws -> Void) throws {
        try flush()
        let decoder = JSONDecoder()
        decoder.userInfo[.losslessValues] = true
        var pending: [UInt8] = []   // read but not yet decoded, from `start`
        var start = 0
        var offset: Int64 = 0
        /// Makes sure `pending[start...]` holds at least `n` bytes.
        func need(_ n: Int) throws {
            guard pending.count - start < n else { return }
            pending.removeSubrange(0..<start)   // once per block, not once per record
            start = 0
            while pending.count < n {
                let want = max(Self.blockSize, n - pending.count)
                let old = pending.count
                pending.append(contentsOf: repeatElement(0, count: want))
                let got = pending.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + old, want, off_t(offset)) }
                if got < 0 {
                    pending.removeLast(want)
                    if errno == EINTR { continue }
                    throw SpoolError(what: "read the temporary spool", errno: errno)
                }
                pending.removeLast(want - got)
                guard got > 0 else { throw SpoolError(what: "read the temporary spool (it is shorter than written)", errno: EIO) }
                offset += Int64(got)
            }
        }
        for _ in 0..<count {
            try need(8)
            let length = pending.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: start, as: UInt64.self))) }
            try need(8 + length)
            let record = try decoder.decode(Record.self, from: Data(pending[(start + 8)..<(start + 8 + length)]))
            start += 8 + length
            try body(record)
        }
    }
}

/// A spool's file could not be created, written or read (a full temporary folder, most often).
public struct SpoolError: Error, CustomStringConvertible {
    public var what: String
    public var errno: Int32
    public var description: String { "cannot \(what): \(String(cString: strerror(errno)))" }
}
