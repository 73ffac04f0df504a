import CZlib

/// zlib inflation with a hard cap on the output, for compressed PNG text chunks and PDF
/// metadata streams (a "zip bomb" stops at the cap instead of filling memory).
enum Inflate {
    enum Failure: Error, Equatable {
        /// The output would exceed the cap.
        case tooLarge(limit: Int)
        /// zlib refused the data.
        case corrupt(String)
    }

    static func zlib(_ input: ArraySlice<UInt8>, limit: Int = MetadataLimits.maxBlock) -> Result<[UInt8], Failure> {
        inflate(input, windowBits: 15, limit: limit)
    }

    /// Raw deflate data (no zlib header), as zip archives store it.
    static func raw(_ input: ArraySlice<UInt8>, limit: Int = MetadataLimits.maxBlock) -> Result<[UInt8], Failure> {
        inflate(input, windowBits: -15, limit: limit)
    }

    private static func inflate(_ input: ArraySlice<UInt8>, windowBits: Int32, limit: Int) -> Result<[UInt8], Failure> {
        var stream = z_stream()
        guard inflateInit2_(&stream, windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            return .failure(.corrupt("inflateInit failed"))
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        // Uninitialised (zlib writes it; only what it wrote is read), and the input read in
        // place: no copy of the compressed block, no memset of 64 KiB per block.
        var chunk = [UInt8](unsafeUninitializedCapacity: 64 * 1024) { _, n in n = 64 * 1024 }
        return input.withUnsafeBufferPointer { inBuf -> Result<[UInt8], Failure> in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = UInt32(inBuf.count)
            while true {
                let (status, produced): (Int32, Int) = chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = UInt32(outBuf.count)
                    let s = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return (s, outBuf.count - Int(stream.avail_out))
                }
                if produced > 0 {
                    if output.count + produced > limit { return .failure(.tooLarge(limit: limit)) }
                    output.append(contentsOf: chunk[0..<produced])
                }
                switch status {
                case Z_STREAM_END:
                    return .success(output)
                case Z_OK:
                    continue
                case Z_BUF_ERROR:
                    // No progress possible: the input ended before the stream did.
                    if stream.avail_in == 0 { return .failure(.corrupt("the compressed data is truncated")) }
                    if produced == 0 { return .failure(.corrupt("zlib made no progress")) }
                default:
                    let message = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                    return .failure(.corrupt(message))
                }
            }
        }
    }
}
