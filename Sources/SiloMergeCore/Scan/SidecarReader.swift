import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// XMP sidecars, for the folder diff: what a `.xmp` beside an asset is, and reading one.
struct SidecarReader: Sendable {
    let options: ScanOptions
    let known: KnownTally
    let report: FileReporter

    /// Whether a sidecar is read: for its values (metadata on; overridden sidecars too, so their
    /// drift is found — their values are kept per sidecar and never reconciled), and with
    /// `--hash full` for its SHA-256 alone, so a plan can carry it verified.
    func readsSidecar(_ a: SidecarPlan.Attachment) -> Bool {
        options.readMetadata || options.hashMode == .full
    }

    /// What a `.xmp` file beside an asset holds, from its first 4 KiB (see `SidecarPlan`).
    func sidecarContent(root: WalkRoot, path: RelativePath) -> SidecarPlan.Content {
        let flags = O_RDONLY | O_NONBLOCK | (options.followSymlinks ? 0 : O_NOFOLLOW)
        guard case .success(let fd) = Posix.openAt(root.rootFD, path, flags: flags) else { return .unknown }
        defer { close(fd) }
        guard case .success(let st) = Posix.fstat(fd), st.kind == .regular else { return .unknown }
        var head = [UInt8](repeating: 0, count: 4096)
        let got = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard got >= 0 else { return .unknown }
        return SidecarPlan.classify(head: Array(head.prefix(got)))
    }

    /// Reads an XMP sidecar (never more than 16 MiB); a sidecar that cannot be read is
    /// recorded without values and reported.
    func readSidecar(_ a: SidecarPlan.Attachment, root: WalkRoot, dir: RelativePath, stat: FileStat?,
                             hasher: FileHasher) -> SidecarRecord? {
        guard let stat else { return nil }
        let path = dir.appending(a.name)
        guard readsSidecar(a) else {
            return SidecarRecord(name: a.name, stat: stat, form: a.form, used: a.used, sha256: nil, values: [])
        }
        // A sidecar the apply of a plan placed and verified: its hash is known; it is read
        // only for its values (metadata on), or when it is not as the apply left it.
        let recorded = known.recorded(root, path)
        if let recorded, recorded.matches(stat), !options.readMetadata {
            known.taken.add(1, ordering: .relaxed)
            return SidecarRecord(name: a.name, stat: stat, form: a.form, used: a.used, sha256: recorded.sha256, values: [], valuesRead: false)
        }
        // --profile: a sidecar's read and parse are metadata work.
        // (Opening it is counted as opening.)
        let started = hasher.profile != nil ? MonotonicClock.now() : 0
        let opening = hasher.profile?.nanoseconds(.open) ?? 0
        defer {
            if let profile = hasher.profile {
                let elapsed = MonotonicClock.now() &- started, opened = profile.nanoseconds(.open) &- opening
                profile.add(.metadata, nanoseconds: elapsed > opened ? elapsed - opened : 0)
            }
        }
        switch hasher.readSmall(rootFD: root.rootFD, path: path, limit: 16 << 20) {
        case .success(let (bytes, st, digest)):
            if let recorded {
                if recorded.matches(st) { known.taken.add(1, ordering: .relaxed) } else { known.read.add(1, ordering: .relaxed) }
                if digest != recorded.sha256 {
                    known.differing.withLock { $0.append(path) }
                    report(.warning, .mergeDiffers, root, path,
                           "sidecar: not the content the plan's apply placed and verified here (SHA-256 \(recorded.sha256.hex.prefix(12))…, now \(digest.hex.prefix(12))…): \(recorded.differences(from: st)) since \(recorded.origin) placed it; catalogued as it is now")
                }
            }
            guard options.readMetadata else {
                return SidecarRecord(name: a.name, stat: st, form: a.form, used: a.used, sha256: digest, values: [], valuesRead: false)
            }
            let (values, problems) = MetadataReader.readSidecar(bytes)
            for p in problems { report(.note, .metadata, root, path, "sidecar: \(p)") }
            return SidecarRecord(name: a.name, stat: st, form: a.form, used: a.used, sha256: digest, values: values)
        case .failure(let failure):
            switch failure {
            case .vanished: report(.warning, .vanished, root, path, "sidecar vanished before it could be read")
            case .notRegular(let kind): report(.warning, .specialFile, root, path, "sidecar is a \(kind.label); skipped")
            case .unreadable(let e, _):
                report(.warning, .unreadable, root, path, e.code == EFBIG ? "sidecar larger than 16 MiB; not read" : "cannot read sidecar: \(e)", errno: e.code)
            case .changedWhileReading: report(.warning, .changedWhileReading, root, path, "sidecar changed while it was read")
            }
            return SidecarRecord(name: a.name, stat: stat, form: a.form, used: a.used, sha256: nil, values: [])
        }
    }
}
