#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fast, non-cryptographic 64-bit hash of a few kilobytes, for telling same-size files apart
/// before comparing them whole. A collision only costs a comparison that finds the difference.
@inline(__always)
func quickHash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0x9E3779B97F4A7C15) -> UInt64 {
    var h = seed ^ (UInt64(bytes.count) &* 0xC2B2AE3D27D4EB4F)
    let words = bytes.count / 8
    for i in 0..<words {
        let w = bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
        h = (h ^ (w &* 0x87C37B91114253D5)) &* 0x4CF5AD432745937F
        h ^= h >> 31
    }
    for i in (words * 8)..<bytes.count {
        h = (h ^ UInt64(bytes[i])) &* 0x100000001B3
    }
    h ^= h >> 33; h = h &* 0xFF51AFD7ED558CCD; h ^= h >> 33
    return h
}

/// One file of a same-size group, as `--hash dupes` compares them.
public struct GroupMember: Sendable {
    public var fileID: Int64
    public var rootFD: Int32
    public var silo: String
    public var path: RelativePath
    public var stat: FileStat
    /// The stored SHA-256 of an unchanged file, when it may be trusted (not with --rehash).
    public var known: SHA256Digest?
    /// Reached through followed symlinks (`--follow-symlinks`).
    public var follow: Bool

    public init(fileID: Int64, rootFD: Int32, silo: String, path: RelativePath, stat: FileStat, known: SHA256Digest?,
                follow: Bool = false) {
        self.fileID = fileID; self.rootFD = rootFD; self.silo = silo; self.path = path; self.stat = stat; self.known = known
        self.follow = follow
    }
}

/// What comparing a group found for one member.
public enum GroupOutcome: Sendable, Equatable {
    /// Its content equals another member's (or a hash was needed anyway): its SHA-256.
    case digest(SHA256Digest)
    /// No other member has its content: nothing more to know for finding duplicates.
    case unique
    case failed(ReadFailure)
}

extension FileHasher {
    /// The quick hash of a file's first and last `spec.block` bytes (the whole file when it is
    /// no larger than `spec.wholeFileLimit`), with the `fstat` taken when it was opened.
    func quick(_ m: GroupMember, spec: PartialHashSpec, onBytes: (Int) -> Void) -> Result<(UInt64, FileStat), ReadFailure> {
        let fd: Int32, stat: FileStat
        switch open(rootFD: m.rootFD, path: m.path, followSymlinks: m.follow) {
        case .success(let pair): (fd, stat) = pair
        case .failure(let f): return .failure(f)
        }
        defer { close(fd) }
        guard stat.sameIdentity(as: m.stat) else { return .failure(.changedWhileReading) }
        let whole = stat.size <= Int64(max(spec.wholeFileLimit, 2 * spec.block))
        let ranges: [(offset: Int64, length: Int)] = whole ? [(Int64(0), Int(stat.size))]
            : [(Int64(0), spec.block), (stat.size - Int64(spec.block), spec.block)]
        var h: UInt64 = 0
        let profile = self.profile
        var mark = profile != nil ? MonotonicClock.now() : 0
        profile?.add(.read, nanoseconds: 0)
        for (offset, length) in ranges {
            guard length <= scratch.count else { return .failure(.changedWhileReading) }
            var done = 0
            while done < length {
                let got = pread(fd, scratch.baseAddress! + done, length - done, off_t(offset) + off_t(done))
                if got < 0 {
                    if errno == EINTR { continue }
                    return .failure(.unreadable(Errno(errno), during: "read"))
                }
                if got == 0 { return .failure(.changedWhileReading) }
                done += got
            }
            if let profile { mark = profile.add(.read, since: mark, count: 0, bytes: length) }
            h = quickHash(UnsafeRawBufferPointer(rebasing: scratch[0..<length]), seed: h ^ 0x9E3779B97F4A7C15)
            if let profile { mark = profile.add(.hash, since: mark, count: 0) }
            onBytes(length)
        }
        return .success((h, stat))
    }

    /// Sorts same-size files into classes of identical content by reading them side by side:
    /// the first file of a class is hashed (unless its hash is already known), the others are
    /// compared with it byte for byte and get its hash when they match, so each duplicated
    /// content is hashed once however many copies it has. A file that matches no other is
    /// `.unique` (not hashed) unless `hashSingles` (its hash is needed to compare with files
    /// that cannot be read now).
    func classify(_ members: [GroupMember], hashSingles: Bool, onBytes: (Int) -> Void) -> [GroupOutcome] {
        var outcomes = [GroupOutcome](repeating: .unique, count: members.count)
        var pending = Array(members.indices)
        // Trusted hashes first: a known file is the cheapest reference.
        pending.sort { (members[$0].known != nil ? 0 : 1) < (members[$1].known != nil ? 0 : 1) }
        while !pending.isEmpty {
            let reference = pending.removeFirst()
            var others = pending
            pending = []
            // Compare the reference with the others, at most `batch` files open at once.
            var result: (digest: SHA256Digest?, equal: [Int], different: [Int], failed: [(Int, ReadFailure)])
            result = (nil, [], [], [])
            var referenceFailure: ReadFailure?
            if others.isEmpty {
                if hashSingles || members[reference].known != nil {
                    result = lockstep(members, reference: reference, others: [], onBytes: onBytes, failure: &referenceFailure)
                }
            }
            while !others.isEmpty {
                let batch = Array(others.prefix(FileHasher.lockstepFiles))
                others.removeFirst(batch.count)
                let r = lockstep(members, reference: reference, others: batch, onBytes: onBytes, failure: &referenceFailure)
                if referenceFailure != nil { pending.append(contentsOf: batch); break }
                result.digest = r.digest
                result.equal += r.equal; result.different += r.different; result.failed += r.failed
            }
            if let f = referenceFailure {
                outcomes[reference] = .failed(f)
                pending += others
                continue
            }
            for (i, f) in result.failed { outcomes[i] = .failed(f) }
            if let digest = result.digest, !result.equal.isEmpty || hashSingles || members[reference].known != nil {
                outcomes[reference] = .digest(digest)
                for i in result.equal { outcomes[i] = .digest(digest) }
            }
            pending += result.different
        }
        return outcomes
    }

    /// Reads `reference` and `others` chunk by chunk; hashes the reference (unless known) and
    /// compares each other file's chunk with it.
    private func lockstep(_ members: [GroupMember], reference: Int, others: [Int], onBytes: (Int) -> Void,
                          failure: inout ReadFailure?)
        -> (digest: SHA256Digest?, equal: [Int], different: [Int], failed: [(Int, ReadFailure)]) {
        var failed: [(Int, ReadFailure)] = []
        func openChecked(_ i: Int) -> Result<Int32, ReadFailure> {
            switch open(rootFD: members[i].rootFD, path: members[i].path, followSymlinks: members[i].follow) {
            case .success(let (fd, stat)):
                // Swapped or modified since it was listed: its stored details would be wrong.
                guard stat.sameIdentity(as: members[i].stat) else {
                    close(fd)
                    return .failure(.changedWhileReading)
                }
                return .success(fd)
            case .failure(let f): return .failure(f)
            }
        }
        let refFD: Int32
        switch openChecked(reference) {
        case .success(let fd): refFD = fd
        case .failure(let f): failure = f; return (nil, [], [], [])
        }
        defer { close(refFD) }
        var live: [(index: Int, fd: Int32)] = []
        for i in others {
            switch openChecked(i) {
            case .success(let fd): live.append((i, fd))
            case .failure(let f): failed.append((i, f))
            }
        }
        var different: [Int] = []
        defer { for l in live { close(l.fd) } }
        let known = members[reference].known
        let size = members[reference].stat.size
        // The buffer holds the reference's chunk and one other file's at a time.
        let chunk = min(buffer.count / 2, 1 << 20)
        let refBuffer = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<chunk])
        let otherBuffer = UnsafeMutableRawBufferPointer(rebasing: buffer[chunk..<(2 * chunk)])
        // --profile: reads, and hashing and comparing, in the worker's slot.
        let profile = self.profile
        var mark = profile != nil ? MonotonicClock.now() : 0
        profile?.add(.read, nanoseconds: 0, count: 1 + live.count)
        do {
            if known == nil { try resetHasher() }
            var offset: Int64 = 0
            while offset < size {
                let length = Int(min(Int64(chunk), size - offset))
                if let f = readFully(refFD, into: refBuffer, length: length, offset: offset) { failure = f; return (nil, [], [], []) }
                if let profile { mark = profile.add(.read, since: mark, count: 0, bytes: length) }
                if known == nil { try updateHasher(UnsafeRawBufferPointer(rebasing: refBuffer[0..<length])) }
                if let profile { mark = profile.add(.hash, since: mark, count: 0) }
                onBytes(length)
                var still: [(index: Int, fd: Int32)] = []
                for l in live {
                    if let f = readFully(l.fd, into: otherBuffer, length: length, offset: offset) {
                        failed.append((l.index, f)); close(l.fd); continue
                    }
                    if let profile { mark = profile.add(.read, since: mark, count: 0, bytes: length) }
                    onBytes(length)
                    defer { if let profile { mark = profile.add(.hash, since: mark, count: 0) } }
                    if memcmp(refBuffer.baseAddress!, otherBuffer.baseAddress!, length) == 0 {
                        still.append(l)
                    } else {
                        different.append(l.index); close(l.fd)
                    }
                }
                live = still
                offset += Int64(length)
            }
            let digest = try known ?? finalizeHasher()
            if let profile { profile.add(.hash, since: mark) }
            // A reference that changed while it was read would give every match a wrong hash.
            if case .success(let after) = Posix.fstat(refFD), after.size != size || after.mtimeNs != members[reference].stat.mtimeNs {
                failure = .changedWhileReading
                return (nil, [], [], [])
            }
            let equal = live.map(\.index)
            return (digest, equal, different, failed)
        } catch {
            failure = .unreadable(Errno(EIO), during: "hash")
            return (nil, [], [], [])
        }
    }

    /// pread until `length` bytes are in `buffer`, or a failure.
    private func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, length: Int, offset: Int64) -> ReadFailure? {
        var done = 0
        while done < length {
            let got = pread(fd, buffer.baseAddress! + done, length - done, off_t(offset) + off_t(done))
            if got < 0 {
                if errno == EINTR { continue }
                return .unreadable(Errno(errno), during: "read")
            }
            if got == 0 { return .changedWhileReading }
            done += got
        }
        return nil
    }
}
