#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// How the payload of a bag gets its bytes from the merged tree.
public enum BagPayload: String, Sendable, CaseIterable {
    /// Each file copied, hashed as it is read and compared with the plan's SHA-256 (a file that
    /// differs stops the bag: the merged tree is not what the plan made).
    case copy
    /// Each file hard-linked from the merged tree (same file system; nothing is read: the
    /// manifest comes from the plan's hashes). The bag and the tree then share the files.
    case hardlink
}

/// What `BagItBagger.bag` made.
public struct BagSummary: Sendable, Hashable {
    public var bag: FilePath
    public var files = 0
    public var bytes: Int64 = 0
    /// Bytes read (and verified) to copy the payload; 0 for hard links.
    public var bytesRead: Int64 = 0
    /// Files of the merged tree whose names BagIt manifests cannot hold (not UTF-8): left out.
    public var leftOut: [RelativePath] = []
}

/// A complete BagIt 1.0 bag (RFC 8493) of the tree a plan built: `bagit.txt`, `bag-info.txt`
/// (Payload-Oxum, Bagging-Date, the software and the plan), `manifest-sha256.txt` from the
/// plan's hashes (the catalogue's, never read again for hard links), `tagmanifest-sha256.txt`,
/// and `data/` holding every file the plan put in the target, at its place in the target.
///
/// The bag is built under a hidden temporary name beside `DIR` and renamed to `DIR` when it is
/// whole: `DIR` is a bag or is not there. The target is opened as apply and verify open it
/// (from `/`, no symbolic link followed, checked against the identities the plan recorded),
/// and each file below it without following links.
public enum BagItBagger {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public static func bag(plan: MergePlan, journal: FilePath?, into bag: FilePath, payload: BagPayload,
                           baggingDate: Date = Date(), progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> BagSummary {
        let expected = plan.targetFiles
        var summary = BagSummary(bag: bag)
        switch Posix.stat(bag) {
        case .success(let st) where st.kind == .directory:
            let names = (try? FileManager.default.contentsOfDirectory(atPath: bag.string ?? bag.display)) ?? ["?"]
            if !names.isEmpty { throw Failure(description: "\(bag.display): exists and is not empty; give a new folder for the bag") }
        case .success: throw Failure(description: "\(bag.display): exists and is not a folder; give a new folder for the bag")
        case .failure(let e) where e.code == ENOENT: break
        case .failure(let e): throw Failure(description: "\(bag.display): \(e) (\(e.name))")
        }
        if plan.targetRoot.contains(bag) || bag.contains(plan.targetRoot) {
            throw Failure(description: "\(bag.display): the bag cannot be inside the merged tree \(plan.targetRoot.display), nor hold it")
        }

        let targetFD = try PlanVerifier.openTarget(plan, scope: .whole(plan), journal: journal)
        defer { close(targetFD) }

        // The bag is built beside its final name and renamed into place when whole.
        let parent = ExportFileOps.parent(of: bag)
        let temp = FilePath(bytes: parent.bytes + (parent.bytes == [0x2F] ? [] : [0x2F]) + Array(".".utf8) + Array(bag.lastComponent)
                                + Array(".silomerge-tmp-\(getpid())".utf8))
        guard mkdir(temp.string ?? "", 0o755) == 0 else {
            let e = Errno(errno)
            throw Failure(description: "\(temp.display): cannot create the bag's temporary folder: \(e) (\(e.name))")
        }
        var finished = false
        defer { if !finished { try? FileManager.default.removeItem(atPath: temp.string ?? "") } }
        let bagFD = open(temp.string ?? "", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard bagFD >= 0 else { throw Failure(description: "\(temp.display): cannot open: \(Errno(errno))") }
        defer { close(bagFD) }
        guard mkdirat(bagFD, "data", 0o755) == 0 else { throw Failure(description: "\(temp.display)/data: cannot create: \(Errno(errno))") }
        let dataFD = openat(bagFD, "data", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        defer { close(dataFD) }

        let hasher = try SHA256Hasher()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        var manifest: [(String, String)] = []
        let paths = expected.keys.sorted()
        for (index, path) in paths.enumerated() {
            let (sha, size) = expected[path]!
            guard let text = path.string else { summary.leftOut.append(path); continue }
            let display = plan.targetRoot.appending(path).display
            let source = try openBeneath(targetFD, path, display: display)
            defer { close(source.fd) }
            guard source.stat.kind == .regular else { throw Failure(description: "\(display): is not a regular file; run silomerge verify") }
            guard source.stat.size == size else {
                throw Failure(description: "\(display): holds \(source.stat.size) bytes, the plan put \(size) there; run silomerge verify")
            }
            let (dirFD, name) = try makeFolders(dataFD, path, display: "\(bag.display)/data")
            defer { if dirFD != dataFD { close(dirFD) } }
            switch payload {
            case .hardlink:
                // The file that was opened (and checked) is the one linked: through /proc, as
                // linkat(AT_EMPTY_PATH) would need a privilege.
                let proc = "/proc/self/fd/\(source.fd)"
                let r = name.withUnsafeBufferPointer { n in
                    n.withMemoryRebound(to: CChar.self) { linkat(AT_FDCWD, proc, dirFD, $0.baseAddress!, AT_SYMLINK_FOLLOW) }
                }
                if r != 0 {
                    let e = Errno(errno)
                    throw Failure(description: "\(display): cannot hard-link into the bag: \(e) (\(e.name))"
                                  + (e.code == EXDEV ? "; the bag is on another file system: use --payload copy" : ""))
                }
            case .copy:
                let out = name.withUnsafeBufferPointer { n in
                    n.withMemoryRebound(to: CChar.self) { openat(dirFD, $0.baseAddress!, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644) }
                }
                guard out >= 0 else { throw Failure(description: "\(bag.display)/data/\(text): cannot create: \(Errno(errno))") }
                defer { close(out) }
                try hasher.reset()
                var total: Int64 = 0
                while true {
                    let n = read(source.fd, buffer.baseAddress, buffer.count)
                    if n < 0 { if errno == EINTR { continue }; throw Failure(description: "\(display): cannot be read: \(Errno(errno))") }
                    if n == 0 { break }
                    try hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                    var done = 0
                    while done < n {
                        let w = write(out, buffer.baseAddress! + done, n - done)
                        if w < 0 {
                            if errno == EINTR { continue }
                            let e = Errno(errno)
                            throw Failure(description: "\(bag.display)/data/\(text): cannot be written: "
                                          + (e.code == ENOSPC ? "the disk is full (ENOSPC)" : "\(e) (\(e.name))"))
                        }
                        done += w
                    }
                    total += Int64(n)
                }
                let found = try hasher.finalize().hex
                guard found == sha, total == size else {
                    throw Failure(description: "\(display): its content is \(found.prefix(16))…, not the \(sha.prefix(16))… the plan put there; run silomerge verify")
                }
                guard fsync(out) == 0 else { throw Failure(description: "\(bag.display)/data/\(text): cannot be synced: \(Errno(errno))") }
                let (sec, nsec) = Timestamp.split(nanoseconds: source.stat.mtimeNs)
                let when = timespec(tv_sec: time_t(sec), tv_nsec: Int(nsec))
                var times = [when, when]
                _ = futimens(out, &times)
                summary.bytesRead += total
            }
            manifest.append((sha, ExportWriter.bagitPath("data/" + text)))
            summary.files += 1
            summary.bytes += size
            progress?(index + 1, paths.count)
        }

        // The tag files.
        func writeTag(_ name: String, _ text: String) throws -> String {
            let bytes = Array(text.utf8)
            try AtomicFile.write(temp.appending(RelativePath(name)), bytes)
            let h = try SHA256Hasher()
            try h.update(bytes)
            return try h.finalize().hex
        }
        manifest.sort { $0.1.utf8.lexicographicallyPrecedes($1.1.utf8) }
        var tags: [(String, String)] = []
        tags.append((try writeTag("bagit.txt", "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"), "bagit.txt"))
        let day = Timestamp.string(baggingDate).prefix(10)
        let info = """
            Bag-Software-Agent: SiloMerge \(SiloMergeVersion.string)
            Bagging-Date: \(day)
            Payload-Oxum: \(summary.bytes).\(summary.files)
            External-Description: \(bagInfoValue("The merged tree \(plan.targetRoot.display), built by a SiloMerge plan from the silos \(plan.silos.map(\.name).joined(separator: ", "))"))
            External-Identifier: silomerge-plan-sha256:\((try? PlanFile.digest(plan)) ?? "")

            """
        tags.append((try writeTag("bag-info.txt", info), "bag-info.txt"))
        tags.append((try writeTag("manifest-sha256.txt", manifest.map { "\($0.0)  \($0.1)\n" }.joined()), "manifest-sha256.txt"))
        _ = try writeTag("tagmanifest-sha256.txt", tags.map { "\($0.0)  \($0.1)\n" }.joined())

        // Whole: put it under its name (an empty folder there is replaced; anything else refused above).
        guard rename(temp.string ?? "", bag.string ?? "") == 0 else {
            let e = Errno(errno)
            if e.code == ENOTEMPTY || e.code == EEXIST {
                throw Failure(description: "\(bag.display): another bag or other files appeared there while this one was made; nothing there was replaced")
            }
            throw Failure(description: "\(bag.display): cannot move the finished bag into place: \(e) (\(e.name))")
        }
        finished = true
        let dir = open(parent.string ?? ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 { _ = fsync(dir); close(dir) }
        return summary
    }

    /// A bag-info value on one line (RFC 8493 allows folding; SiloMerge never needs it).
    static func bagInfoValue(_ s: String) -> String {
        String(s.unicodeScalars.map { $0 == "\n" || $0 == "\r" ? " " : Character($0) })
    }

    /// Opens `path` below `root` one component at a time, never following a symbolic link.
    static func openBeneath(_ root: Int32, _ path: RelativePath, display: String) throws -> (fd: Int32, stat: FileStat) {
        var dir = root
        let parts = path.components
        for (i, part) in parts.enumerated() {
            let last = i == parts.count - 1
            let flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (last ? O_NONBLOCK : O_DIRECTORY)
            let fd = (Array(part) + [0]).withUnsafeBufferPointer { b in
                b.withMemoryRebound(to: CChar.self) { openat(dir, $0.baseAddress!, flags) }
            }
            let code = errno
            if dir != root { close(dir) }
            guard fd >= 0 else {
                let e = Errno(code)
                throw Failure(description: "\(display): " + (e.code == ENOENT ? "is missing from the merged tree; run silomerge verify"
                                                              : e.code == ELOOP || e.code == ENOTDIR ? "a symbolic link is on its way; run silomerge verify"
                                                              : "cannot be opened: \(e) (\(e.name))"))
            }
            dir = fd
        }
        guard case .success(let st) = Posix.fstat(dir) else { close(dir); throw Failure(description: "\(display): cannot stat") }
        return (dir, st)
    }

    /// Makes the folders of `path` below `root`; returns the last folder's descriptor and the name.
    static func makeFolders(_ root: Int32, _ path: RelativePath, display: String) throws -> (Int32, [UInt8]) {
        var dir = root
        let parts = path.components
        for part in parts.dropLast() {
            let name = Array(part) + [0]
            let made = name.withUnsafeBufferPointer { b in b.withMemoryRebound(to: CChar.self) { mkdirat(dir, $0.baseAddress!, 0o755) } }
            if made != 0 && errno != EEXIST { throw Failure(description: "\(display)/\(path.description): cannot create a folder: \(Errno(errno))") }
            let fd = name.withUnsafeBufferPointer { b in
                b.withMemoryRebound(to: CChar.self) { openat(dir, $0.baseAddress!, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            }
            if dir != root { close(dir) }
            guard fd >= 0 else { throw Failure(description: "\(display)/\(path.description): cannot open a folder: \(Errno(errno))") }
            dir = fd
        }
        return (dir, Array(parts.last ?? []) + [0])
    }
}
