import Synchronization

/// Whether a scan must stop, and why: the first fatal error any stage meets (a catalogue
/// write that failed), or a request to stop (`Interruption`). Every stage asks `failed`
/// before each unit of work.
final class ScanControl: Sendable {
    let interruption: Interruption?
    private let fatal = Locked<String?>(nil)

    init(interruption: Interruption?) { self.interruption = interruption }

    /// Records the first fatal error; later ones add nothing.
    func fail(_ error: any Error) {
        fatal.withLock { if $0 == nil { $0 = "\(error)" } }
    }

    /// Stop working: a fatal error, or a request to stop.
    var failed: Bool { fatal.withLock { $0 != nil } || interruption?.isRequested == true }

    func checkFatal() throws {
        if let message = fatal.withLock({ $0 }) { throw ScanError.aborted(message) }
    }

    func checkInterrupted() throws {
        if let signal = interruption?.signal { throw ScanError.interrupted(signal: signal) }
    }
}

/// Files of known content (`ScanEngine.scan(_:options:known:)`), and what the stages found
/// about them, for the `ScanResult`.
final class KnownTally: Sendable {
    let contents: KnownContents?
    let taken = Atomic<Int>(0)
    let read = Atomic<Int>(0)
    let seen = Atomic<Int>(0)
    let differing = Locked<[RelativePath]>([])

    init(_ contents: KnownContents?) { self.contents = contents }

    /// What is recorded for `path` of `root`'s silo, if it is the known silo.
    func recorded(_ root: WalkRoot, _ path: RelativePath) -> KnownFile? {
        guard let contents, contents.silo == root.silo.name else { return nil }
        return contents.files[path]
    }
}

/// Reports a problem with one file of a silo.
struct FileReporter: Sendable {
    let diagnostics: DiagnosticCollector

    func callAsFunction(_ severity: Diagnostic.Severity, _ code: Diagnostic.Code, _ root: WalkRoot, _ path: RelativePath,
                        _ message: String, errno: Int32? = nil) {
        diagnostics.report(Diagnostic(severity, code, silo: root.silo.name, path: path, errno: errno, message: message))
    }
}
