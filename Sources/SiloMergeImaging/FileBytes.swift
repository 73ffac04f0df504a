#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole regular file from an open descriptor, bounded.
enum FileBytes {
    static func read(fd: Int32, limit: Int) throws(ImageDecodeError) -> [UInt8] {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .unreadable(String(cString: strerror(errno))) }
        // A FIFO, socket or device could block for ever or never end: only regular files.
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .unsupported("not a regular file") }
        let size = Int(st.st_size)
        guard size <= limit else { throw .tooLarge("\(size) bytes is over the limit of \(limit)") }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { raw in
                pread(fd, raw.baseAddress! + done, size - done, off_t(done))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .unreadable(String(cString: strerror(errno)))
            }
            if n == 0 { break }  // the file shrank since fstat: decode what is there
            done += n
        }
        if done < size { bytes.removeSubrange(done...) }
        return bytes
    }
}
