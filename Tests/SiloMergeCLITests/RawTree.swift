import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A listing of a folder by exact name bytes. Swift strings compare names after Unicode
/// normalisation (NFC `é` equals NFD `é`), so a dictionary keyed by `String` would merge two
/// different files; these listings never do.
struct RawEntry: Hashable {
    enum Kind: String, Hashable { case file, folder, symlink, other }
    var kind: Kind
    /// Content (files), link target (symlinks).
    var data: [UInt8]
    var mode: UInt32
    var mtimeNs: Int64
}

enum RawTree {
    static func cPath<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        try (bytes + [0]).withUnsafeBufferPointer { b in try b.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) } }
    }

    static func names(_ dir: [UInt8]) -> [[UInt8]] {
        guard let d = cPath(dir, { opendir($0) }) else { return [] }
        defer { closedir(d) }
        var out: [[UInt8]] = []
        while let e = readdir(d) {
            let name: [UInt8] = withUnsafeBytes(of: &e.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
            if name != [0x2E] && name != [0x2E, 0x2E] { out.append(name) }
        }
        return out
    }

    static func read(_ path: [UInt8]) -> [UInt8] {
        let fd = cPath(path) { open($0, O_RDONLY) }
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }

    /// Every entry below `root` (relative path bytes → entry), folders included unless
    /// `foldersToo` is false. Folders named in `stopAt` are listed but not entered.
    static func list(_ root: String, foldersToo: Bool = true, stopAt: Set<[UInt8]> = []) -> [[UInt8]: RawEntry] {
        var out: [[UInt8]: RawEntry] = [:]
        func walk(_ dir: [UInt8], _ rel: [UInt8]) {
            for name in names(dir) {
                let full = dir + [0x2F] + name
                let r = rel.isEmpty ? name : rel + [0x2F] + name
                var st = stat()
                guard cPath(full, { lstat($0, &st) }) == 0 else { continue }
                let mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
                switch st.st_mode & S_IFMT {
                case S_IFDIR:
                    if foldersToo || stopAt.contains(r) { out[r] = RawEntry(kind: .folder, data: [], mode: st.st_mode & 0o7777, mtimeNs: 0) }
                    if !stopAt.contains(r) { walk(full, r) }
                case S_IFREG:
                    out[r] = RawEntry(kind: .file, data: read(full), mode: st.st_mode & 0o7777, mtimeNs: mtime)
                case S_IFLNK:
                    var buf = [CChar](repeating: 0, count: 4096)
                    let n = cPath(full) { readlink($0, &buf, buf.count) }
                    out[r] = RawEntry(kind: .symlink, data: buf.prefix(max(0, n)).map { UInt8(bitPattern: $0) }, mode: 0, mtimeNs: 0)
                default:
                    out[r] = RawEntry(kind: .other, data: [], mode: st.st_mode & 0o7777, mtimeNs: 0)
                }
            }
        }
        walk(Array(root.utf8), [])
        return out
    }

    /// Writes a file whose path is given as bytes (folders made as needed).
    static func write(_ root: String, _ path: [UInt8], _ content: [UInt8]) {
        var prefix = Array(root.utf8)
        for part in path.split(separator: 0x2F).dropLast() {
            prefix += [0x2F] + part
            _ = cPath(prefix) { mkdir($0, 0o755) }
        }
        let full = Array(root.utf8) + [0x2F] + path
        let fd = cPath(full) { open($0, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
        precondition(fd >= 0, "create failed: \(errno)")
        _ = content.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// "dir/na\u{301}me" as readable text for messages, with the bytes that differ visible.
    static func show(_ path: [UInt8]) -> String {
        path.map { $0 < 0x80 && $0 >= 0x20 ? String(UnicodeScalar($0)) : String(format: "\\x%02X", $0) }.joined()
    }
}
