import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Scans silos into the catalogue: walks them in parallel, compares every folder with what the
/// catalogue holds, reads what changed and records the run.
///
/// With `--hash full` the walk feeds the hashing workers directly, so reading starts with the
/// first folder and a new file is written to the catalogue once, with its hash. With
/// `--hash dupes` every file is recorded first; then only files whose size another file shares
/// are read (first and last blocks), and only those still alike are read whole.
public final class ScanEngine: Sendable {
    public typealias ProgressHandler = @Sendable (ScanProgress) -> Void

    let store: any CatalogueStore
    /// Called with each diagnostic as it happens (tests use it; the CLI reads the result).
    let testHooks: TestHooks?
    /// Set (on SIGINT, SIGTERM) to stop early; see `Interruption`.
    let interruption: Interruption?
    /// The host the silos' folders are on (`--host`); nil: this machine (`HostIdentity.local`).
    let host: HostIdentity?
    /// Collect `ScanResult.profile`: where the run's time went, by stage (`--profile`).
    let profile: Bool
    /// Decodes the images the scan reads for their perceptual hash (nil: none is computed).
    let fingerprinter: (any ImageFingerprinting)?

    /// Seams for tests: run code between stages, or make a read fail.
    public struct TestHooks: Sendable {
        /// Called once the walk is over, before `--hash dupes` starts reading.
        public var afterWalk: (@Sendable () -> Void)?
        /// Called before each file is opened for hashing; a returned errno makes the read fail with it.
        public var beforeRead: (@Sendable (String, RelativePath) -> Int32?)?
        /// Called on the catalogue writer thread before each batch is applied, with its size
        /// (a slow catalogue, for the profile's tests).
        public var beforeApply: (@Sendable (Int) -> Void)?
        public init(afterWalk: (@Sendable () -> Void)? = nil, beforeRead: (@Sendable (String, RelativePath) -> Int32?)? = nil,
                    beforeApply: (@Sendable (Int) -> Void)? = nil) {
            self.afterWalk = afterWalk; self.beforeRead = beforeRead; self.beforeApply = beforeApply
        }
    }

    public init(store: any CatalogueStore, testHooks: TestHooks? = nil, interruption: Interruption? = nil,
                host: HostIdentity? = nil, profile: Bool = false, fingerprinter: (any ImageFingerprinting)? = nil) {
        self.fingerprinter = fingerprinter
        self.host = host
        self.profile = profile
        self.store = store
        self.testHooks = testHooks
        self.interruption = interruption
    }

    /// Checks the silos and resolves their roots. Throws `ScanError` for anything the user must fix.
    public static func validate(_ silos: [SiloDefinition], options: ScanOptions) throws -> [SiloDefinition] {
        guard !silos.isEmpty else { throw ScanError.noSilos }
        var seen = Set<String>()
        for s in silos {
            try validateName(s.name)
            guard seen.insert(s.name).inserted else { throw ScanError.duplicateSiloName(s.name) }
            for p in s.includes + s.excludes {
                do { _ = try Glob(p) } catch { throw ScanError.invalidPattern(silo: s.name, pattern: p, reason: "\(error)") }
            }
        }
        for p in options.includes + options.excludes {
            do { _ = try Glob(p) } catch { throw ScanError.invalidPattern(silo: nil, pattern: p, reason: "\(error)") }
        }
        var resolved: [SiloDefinition] = []
        var byID: [FileID: String] = [:]
        for var s in silos {
            let absolute = Posix.absolute(s.root)
            let fd: Int32
            switch Posix.openPath(absolute, flags: O_RDONLY) {
            case .success(let f): fd = f
            case .failure(let e): throw ScanError.rootUnavailable(silo: s.name, path: absolute.display, errno: e)
            }
            defer { close(fd) }
            guard case .success(let st) = Posix.fstat(fd) else {
                throw ScanError.rootUnavailable(silo: s.name, path: absolute.display, errno: Errno(errno))
            }
            guard st.kind == .directory else { throw ScanError.rootNotDirectory(silo: s.name, path: absolute.display) }
            if let type = PseudoFileSystems.name(fd: fd, device: st.device) {
                throw ScanError.pseudoFileSystem(silo: s.name, path: absolute.display, type: type)
            }
            if let other = byID[st.fileID] {
                throw ScanError.sameFolder(first: other, second: s.name, path: absolute.display)
            }
            byID[st.fileID] = s.name
            s.rootIdentity = st.fileID
            switch Posix.realPath(absolute) {
            case .success(let real): s.root = real
            case .failure(let e): throw ScanError.rootUnavailable(silo: s.name, path: absolute.display, errno: e)
            }
            resolved.append(s)
        }
        return resolved
    }

    /// `definitions` marked as folders of `host`. A silo catalogued from another host is
    /// refused: its device and inode numbers, and its folder, are that host's. A silo from
    /// before hosts were recorded (no host) is this host's.
    static func onHost(_ host: HostIdentity, _ definitions: [SiloDefinition], catalogued: [Silo]) throws -> [SiloDefinition] {
        try definitions.map { d in
            if let other = catalogued.first(where: { $0.name.exactBytes == d.name.exactBytes })?.host, other.id != host.id {
                throw ScanError.otherHost(silo: d.name, host: other, here: host)
            }
            var d = d
            d.host = host
            return d
        }
    }

    public static func validateName(_ name: String) throws {
        if name.isEmpty { throw ScanError.invalidSiloName(name, reason: "it is empty") }
        if name.count > 64 { throw ScanError.invalidSiloName(name, reason: "longer than 64 characters") }
        if name.hasPrefix("-") { throw ScanError.invalidSiloName(name, reason: "it starts with '-'") }
        if name.unicodeScalars.contains(where: { $0 == "/" || $0 == "=" || $0.value < 0x20 || $0.value == 0x7F }) {
            throw ScanError.invalidSiloName(name, reason: "it holds '/', '=' or a control character")
        }
    }

    /// Runs a scan of `silos` (already validated or not) into the catalogue.
    ///
    /// `known`: files of one of the silos whose content is known without reading them (what
    /// the apply of a plan placed and verified, see `KnownFile`): while a file's device, inode,
    /// size and mtime are the recorded ones, its SHA-256 is taken as is; a file that differs
    /// is read, and a warning says when its content is not what was recorded.
    public func scan(_ silos: [SiloDefinition], options: ScanOptions, known: KnownContents? = nil,
                     progress: ProgressHandler? = nil) throws -> ScanResult {
        // The profile covers the whole run, the catalogue's work before and after the walk included.
        let profiler = profile ? ScanProfiler(workers: max(1, options.jobs)) : nil
        var definitions = try Self.validate(silos, options: options)
        let here = try host ?? HostIdentity.local()
        let lock = try store.lockForScan(silos: definitions.map(\.name), purpose: options.kind.rawValue)
        defer { withExtendedLifetime(lock) {} }
        definitions = try Self.onHost(here, definitions, catalogued: try store.silos())
        let registered = try store.registerSilos(definitions)
        let everySilo = try store.silos()
        // run.options: the options as JSON with snake_case keys, like every other JSON SiloMerge writes.
        let optionsEncoder = JSONEncoder.sorted
        optionsEncoder.keyEncodingStrategy = .convertToSnakeCase
        let optionsJSON = (try? String(decoding: optionsEncoder.encode(options), as: UTF8.self)) ?? "{}"
        let runID = try store.beginRun(kind: options.kind, hashMode: options.hashMode.rawValue,
                                       options: optionsJSON, silos: registered.map(\.name))
        let session = try ScanSession(store: store, runID: runID, silos: registered, everySilo: everySilo,
                                      options: options, progress: progress, hooks: testHooks, interruption: interruption,
                                      known: known, profiler: profiler, fingerprinter: fingerprinter)
        // Interrupted: recorded at once, whatever the scan is busy with (the counts are
        // brought up to date when it has stopped).
        let token = interruption?.onRequest { [store, session] in
            try? store.markInterrupted(runID, counts: session.currentCounts(),
                                       reason: "interrupted by \(Interruption.name(of: self.interruption?.signal ?? SIGINT))")
        }
        defer { if let token { interruption?.remove(token) } }
        do {
            var result = try session.run()
            if let signal = interruption?.signal { throw ScanError.interrupted(signal: signal) }
            // Corrupted and missing files stay open, and what restores them closes them, for
            // scans as for checks: one missed report never makes rot the baseline.
            // What applied plans did, as their journals say (an apply or undo killed before
            // recording its end included): files they took away are merged, not missing.
            let ledgerNotes = try store.syncMerges(runID: runID)
            if !ledgerNotes.isEmpty {
                let notes = ledgerNotes.map { Diagnostic(.note, .other, silo: nil, path: nil, message: $0) }
                try store.record(notes, runID: runID)
                result.diagnostics += notes
                result.diagnosticCount += notes.count
            }
            result.findings = try store.settleFindings(runID: runID, scope: options.kind == .check ? .all : .alerts)
            result.openFindings = try store.openFindings(silos: registered.map(\.name))
            try store.finishRun(runID, status: result.status, counts: result.counts, errorMessage: nil)
            result.profile = profiler?.finish()
            return result
        } catch {
            let counts = session.currentCounts()
            if let signal = interruption?.signal {
                try? store.finishRun(runID, status: .interrupted, counts: counts, errorMessage: "interrupted by \(Interruption.name(of: signal))")
                throw ScanError.interrupted(signal: signal)
            }
            try? store.finishRun(runID, status: .failed, counts: counts, errorMessage: "\(error)")
            throw error
        }
    }
}

extension JSONEncoder {
    /// What the catalogue's JSON columns are written with: sorted keys (the same value gives
    /// the same text), slashes as they are.
    package static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}
