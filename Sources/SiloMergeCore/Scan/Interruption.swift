import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A request to stop a scan, a check or an audit early; the command line makes it on SIGINT
/// (Ctrl-C) or SIGTERM. The run is recorded `interrupted` as soon as it is asked; the scan then
/// stops walking and reading, keeps everything it already recorded (each batch of writes is one
/// transaction), marks nothing missing (its walk did not finish), and throws
/// `ScanError.interrupted`. Findings it made are kept open by the next run.
public final class Interruption: Sendable {
    private struct State {
        var signal: Int32?
        var handlers: [Int: @Sendable () -> Void] = [:]
        var next = 0
    }
    private let state = Mutex(State())

    public init() {}

    /// The signal that asked to stop, if one did.
    public var signal: Int32? { state.withLock { $0.signal } }
    public var isRequested: Bool { signal != nil }

    /// Asks to stop (the first request counts), and runs the handlers registered so far.
    public func request(signal: Int32) {
        let handlers = state.withLock { s -> [@Sendable () -> Void] in
            guard s.signal == nil else { return [] }
            s.signal = signal
            return Array(s.handlers.values)
        }
        for handler in handlers { handler() }
    }

    /// Runs `handler` when a stop is asked for (at once when it already was); returns a token
    /// for `remove`.
    func onRequest(_ handler: @escaping @Sendable () -> Void) -> Int {
        let (token, now) = state.withLock { s -> (Int, Bool) in
            s.next += 1
            if s.signal == nil { s.handlers[s.next] = handler }
            return (s.next, s.signal != nil)
        }
        if now { handler() }
        return token
    }

    func remove(_ token: Int) {
        state.withLock { _ = $0.handlers.removeValue(forKey: token) }
    }

    /// "SIGINT", "SIGTERM", or "signal N".
    public static func name(of signal: Int32) -> String {
        switch signal {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        case SIGHUP: "SIGHUP"
        default: "signal \(signal)"
        }
    }
}
