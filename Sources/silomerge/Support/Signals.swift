import Dispatch
import Foundation
import SiloMergeCore
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGINT (Ctrl-C) and SIGTERM during a scan, a check, an audit, an apply or an undo. The first one asks the run to
/// stop: it is recorded `interrupted` at once, stops after the file it is reading, keeps what it
/// already recorded, and the command exits 130 (SIGINT) or 143 (SIGTERM). A second signal, or a
/// run still busy 10 s later (a huge file half read), ends the process at once with the same
/// code: every catalogue write is a transaction, so nothing half-written survives.
/// Signals the parent process ignores stay ignored, as for any well-behaved command.
enum Signals {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []
    private static let grace: DispatchTimeInterval = .seconds(10)

    /// Installs the handlers and returns the request they make.
    /// `stopping` says when the run stops ("after the files being read").
    static func interruptible(stopping: String = "after the files being read") -> Interruption {
        let interruption = Interruption()
        let queue = DispatchQueue(label: "silomerge-signals")
        let count = Mutex(0)
        for sig in [SIGINT, SIGTERM] {
            // A signal the parent ignores stays ignored (a job started with `&` by a script
            // ignores Ctrl-C meant for the terminal, as POSIX shells arrange).
            let previous = signal(sig, SIG_IGN)
            if let previous, unsafeBitCast(previous, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { continue }
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler {
                let n = count.withLock { c -> Int in c += 1; return c }
                if n > 1 {
                    Stderr.write("\nsilomerge: \(Interruption.name(of: sig)) again: stopping at once (the run is recorded as interrupted)\n")
                    _exit(128 + sig)
                }
                Stderr.write("\nsilomerge: \(Interruption.name(of: sig)): stopping \(stopping) (again to stop at once)…\n")
                interruption.request(signal: sig)
                DispatchQueue.global().asyncAfter(deadline: .now() + grace) {
                    Stderr.write("silomerge: still busy \(grace) after \(Interruption.name(of: sig)): stopping at once (the run is recorded as interrupted)\n")
                    _exit(128 + sig)
                }
            }
            source.resume()
            sources.append(source)
        }
        return interruption
    }
}
