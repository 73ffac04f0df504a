import COpenSSL
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `silomerge verify --bagit` found in a bag, in RFC 8493's terms: *complete* (bagit.txt
/// and data/ are there, every file a payload manifest names exists, every payload file is named
/// by every payload manifest, every tag manifest entry exists, Payload-Oxum matches) and
/// *valid* (complete, and every checksum in every manifest matches).
public struct BagReport: Sendable {
    public struct Problem: Sendable, Hashable {
        public enum Kind: String, Sendable {
            /// A manifest names a file that is not there.
            case missing
            /// A payload file no manifest names (or not every manifest).
            case unlisted
            /// A checksum that does not match.
            case mismatch
            /// Payload-Oxum disagrees with the payload.
            case oxum
            /// A required file or line is missing or malformed; an entry escapes the bag.
            case malformed
            /// Could not be read; a symbolic link or other non-regular file in the payload.
            case unreadable
        }
        public var kind: Kind
        /// The path inside the bag (as the manifest writes it), or the tag file.
        public var path: String
        public var detail: String
    }
    public var version: String?
    public var algorithms: [String] = []
    public var payloadFiles = 0
    public var payloadBytes: Int64 = 0
    public var checksumsVerified = 0
    public var bytesRead: Int64 = 0
    public var problems: [Problem] = []

    public var isComplete: Bool { !problems.contains { $0.kind != .mismatch } }
    public var isValid: Bool { isComplete && !problems.contains { $0.kind == .mismatch } }
}

/// Validates a BagIt bag (RFC 8493, versions 0.97 and 1.0) the way the Library of Congress
/// `bagit` validator does: manifests of any algorithm OpenSSL knows (md5, sha1, sha256, sha512,
/// …), percent-encoded names, no entry outside the bag, the payload walked without following
/// symbolic links. Manifests are read a line at a time; each file is read once, for all its
/// algorithms.
public enum BagItValidator {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public static func validate(_ bag: FilePath, progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> BagReport {
        var report = BagReport()
        func problem(_ kind: BagReport.Problem.Kind, _ path: String, _ detail: String) {
            report.problems.append(.init(kind: kind, path: path, detail: detail))
        }
        guard case .success(let st) = Posix.stat(bag), st.kind == .directory else {
            throw Failure(description: "\(bag.display): is not a folder (a bag is a folder holding bagit.txt and data/)")
        }
        let root = bag.string ?? bag.display

        // bagit.txt: the version and the tag files' encoding.
        let declaration = try? InputFile.readBytes(root + "/bagit.txt", limit: 64 * 1024)
        if let declaration, let text = String(validatingUTF8Bytes: declaration) {
            let fields = tagFields(text)
            report.version = fields.first { $0.0 == "BagIt-Version" }?.1
            if report.version == nil { problem(.malformed, "bagit.txt", "has no BagIt-Version line") }
            let encoding = fields.first { $0.0 == "Tag-File-Character-Encoding" }?.1
            if encoding == nil { problem(.malformed, "bagit.txt", "has no Tag-File-Character-Encoding line") }
            else if encoding?.uppercased() != "UTF-8" { problem(.malformed, "bagit.txt", "tag files in \(encoding!) are not read (only UTF-8)") }
        } else {
            problem(.malformed, "bagit.txt", declaration == nil ? "is missing or unreadable" : "is not UTF-8")
        }
        guard case .success(let dataStat) = Posix.stat(FilePath(root + "/data")), dataStat.kind == .directory else {
            problem(.malformed, "data/", "the payload folder is missing")
            return report
        }

        // The manifests present.
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted()
        let payloadManifests = names.filter { $0.hasPrefix("manifest-") && $0.hasSuffix(".txt") }
        let tagManifests = names.filter { $0.hasPrefix("tagmanifest-") && $0.hasSuffix(".txt") }
        if payloadManifests.isEmpty { problem(.malformed, "manifest-<algorithm>.txt", "the bag has no payload manifest") }

        // Every checksum each file must have: path → [(algorithm, expected)].
        var wanted: [String: [(String, String)]] = [:]
        var listedBy: [String: Set<String>] = [:]
        for manifest in payloadManifests + tagManifests {
            let algorithm = String(manifest.dropFirst(manifest.hasPrefix("tag") ? 12 : 9).dropLast(4)).lowercased()
            guard Digest.available(algorithm) else {
                problem(.malformed, manifest, "the algorithm \(algorithm) is not known to OpenSSL here: its checksums are not checked")
                continue
            }
            let isTag = manifest.hasPrefix("tag")
            if !isTag { report.algorithms.append(algorithm) }
            let reader = try LineReader(FilePath(root + "/" + manifest))
            var number = 0
            while let raw = try reader.next() {
                number += 1
                var line = raw
                if line.last == 0x0D { line.removeLast() }
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                guard let text = String(validatingUTF8Bytes: line),
                      let split = text.firstIndex(where: { $0 == " " || $0 == "\t" }) else {
                    problem(.malformed, manifest, "line \(number) is not \"CHECKSUM  PATH\" in UTF-8")
                    continue
                }
                let checksum = text[..<split].lowercased()
                let path = decode(String(text[split...].drop(while: { $0 == " " || $0 == "\t" })))
                guard isSafe(path) else {
                    problem(.malformed, manifest, "line \(number) names \(path), outside the bag")
                    continue
                }
                if !isTag && !path.hasPrefix("data/") {
                    problem(.malformed, manifest, "line \(number) names \(path), outside data/")
                    continue
                }
                wanted[path, default: []].append((algorithm, checksum))
                if !isTag { listedBy[path, default: []].insert(algorithm) }
            }
        }

        // The payload as it is.
        var payload: [String: Int64] = [:]
        try walk(root, "data", into: &payload) { path, detail in problem(.unreadable, path, detail) }
        report.payloadFiles = payload.count
        report.payloadBytes = payload.values.reduce(0, +)
        let allAlgorithms = Set(report.algorithms)
        for path in payload.keys.sorted() {
            let listed = listedBy[path] ?? []
            if listed.isEmpty { problem(.unlisted, path, "is in the payload but in no manifest") }
            else if listed != allAlgorithms {
                problem(.unlisted, path, "is missing from manifest-\(allAlgorithms.subtracting(listed).sorted().joined(separator: ", manifest-")).txt")
            }
        }

        // Payload-Oxum.
        if let info = try? InputFile.readBytes(root + "/bag-info.txt", limit: 16 * 1024 * 1024),
           let text = String(validatingUTF8Bytes: info),
           let oxum = tagFields(text).first(where: { $0.0 == "Payload-Oxum" })?.1 {
            let parts = oxum.split(separator: ".")
            if parts.count == 2, let bytes = Int64(parts[0]), let count = Int(parts[1]) {
                if bytes != report.payloadBytes || count != report.payloadFiles {
                    problem(.oxum, "bag-info.txt", "Payload-Oxum says \(bytes) bytes in \(count) files; the payload holds \(report.payloadBytes) in \(report.payloadFiles)")
                }
            } else {
                problem(.malformed, "bag-info.txt", "Payload-Oxum \(oxum) is not OCTETS.COUNT")
            }
        }

        // Every named file: present, then its checksums (one read for all its algorithms).
        let paths = wanted.keys.sorted()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        for (index, path) in paths.enumerated() {
            progress?(index + 1, paths.count)
            let fd = open(root + "/" + path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else {
                let e = Errno(errno)
                if e.code == ENOENT || e.code == ENOTDIR { problem(.missing, path, "is named in a manifest but not in the bag") }
                else { problem(.unreadable, path, "\(e) (\(e.name))") }
                continue
            }
            defer { close(fd) }
            guard case .success(let fst) = Posix.fstat(fd), fst.kind == .regular else {
                problem(.unreadable, path, "is not a regular file")
                continue
            }
            let digests = try wanted[path]!.map { (try Digest($0.0), $0.1, $0.0) }
            var failed = false
            while true {
                let n = read(fd, buffer.baseAddress, buffer.count)
                if n < 0 {
                    if errno == EINTR { continue }
                    problem(.unreadable, path, "cannot be read: \(Errno(errno))")
                    failed = true
                    break
                }
                if n == 0 { break }
                for d in digests { try d.0.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) }
                report.bytesRead += Int64(n)
            }
            if failed { continue }
            for (digest, expected, algorithm) in digests {
                let found = try digest.finalize()
                if found == expected { report.checksumsVerified += 1 }
                else { problem(.mismatch, path, "\(algorithm) is \(found.prefix(16))…, the manifest says \(expected.prefix(16))…") }
            }
        }
        return report
    }

    /// "Label: value" lines (continuation lines, which start with white space, are joined).
    static func tagFields(_ text: String) -> [(String, String)] {
        var out: [(String, String)] = []
        for line in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) {
            if let first = line.first, first == " " || first == "\t", !out.isEmpty {
                out[out.count - 1].1 += " " + line.trimmingCharacters(in: .whitespaces)
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            out.append((line[..<colon].trimmingCharacters(in: .whitespaces), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        return out
    }

    /// A manifest path with RFC 8493's percent-encoding (%25, %0A, %0D) undone.
    static func decode(_ s: String) -> String {
        guard s.contains("%") else { return s }
        return s.replacingOccurrences(of: "%0A", with: "\n", options: .caseInsensitive)
            .replacingOccurrences(of: "%0D", with: "\r", options: .caseInsensitive)
            .replacingOccurrences(of: "%25", with: "%")
    }

    /// Relative, without `.`/`..` components: inside the bag.
    static func isSafe(_ path: String) -> Bool {
        guard !path.isEmpty, !path.hasPrefix("/"), !path.contains("\0") else { return false }
        return !path.split(separator: "/", omittingEmptySubsequences: false).contains { $0 == ".." || $0 == "." || $0.isEmpty }
    }

    /// Every regular file below `relative`, with its size; anything else is reported.
    static func walk(_ root: String, _ relative: String, into files: inout [String: Int64], report: (String, String) -> Void) throws {
        var stack = [relative]
        while let folder = stack.popLast() {
            let dir = open(root + "/" + folder, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard dir >= 0 else { report(folder + "/", "cannot be listed: \(Errno(errno))"); continue }
            guard let stream = fdopendir(dir) else { close(dir); report(folder + "/", "cannot be listed"); continue }
            defer { closedir(stream) }
            while let entry = readdir(stream) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> [UInt8] in
                    Array(raw.prefix(while: { $0 != 0 }))
                }
                if name == [0x2E] || name == [0x2E, 0x2E] { continue }
                guard let text = String(validatingUTF8Bytes: name) else {
                    report(folder + "/" + PathDisplay.escape(name), "a name that is not UTF-8 cannot be in a manifest")
                    continue
                }
                let path = folder + "/" + text
                switch Posix.lstat(at: dirfd(stream), text) {
                case .success(let st) where st.kind == .directory: stack.append(path)
                case .success(let st) where st.kind == .regular: files[path] = st.size
                case .success(let st): report(path, "is a \(st.kind.label), not a file")
                case .failure(let e): report(path, "\(e) (\(e.name))")
                }
            }
        }
    }

    /// One digest of an algorithm OpenSSL names ("sha256", "sha512", "md5", "sha1").
    final class Digest {
        private let context: OpaquePointer

        static func available(_ name: String) -> Bool {
            guard let md = EVP_MD_fetch(nil, name.uppercased(), nil) else { return false }
            EVP_MD_free(md)
            return true
        }

        init(_ name: String) throws {
            guard let md = EVP_MD_fetch(nil, name.uppercased(), nil) else { throw Failure(description: "OpenSSL has no \(name)") }
            defer { EVP_MD_free(md) }
            guard let ctx = EVP_MD_CTX_new() else { throw Failure(description: "EVP_MD_CTX_new failed") }
            context = ctx
            guard EVP_DigestInit_ex(ctx, md, nil) == 1 else { throw Failure(description: "EVP_DigestInit_ex failed for \(name)") }
        }

        deinit { EVP_MD_CTX_free(context) }

        func update(_ bytes: UnsafeRawBufferPointer) throws {
            guard bytes.count > 0 else { return }
            guard EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) == 1 else { throw Failure(description: "EVP_DigestUpdate failed") }
        }

        func finalize() throws -> String {
            var out = [UInt8](repeating: 0, count: 64)
            var length: UInt32 = 0
            guard EVP_DigestFinal_ex(context, &out, &length) == 1 else { throw Failure(description: "EVP_DigestFinal_ex failed") }
            return out.prefix(Int(length)).map { String(format: "%02x", $0) }.joined()
        }
    }
}
