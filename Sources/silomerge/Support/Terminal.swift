import Foundation
import SiloMergeCore
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@inline(__always) func sysWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(fd, p, n)
    #else
    Darwin.write(fd, p, n)
    #endif
}

enum Terminal {
    static func isTTY(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    /// Width of the terminal on `fd`, or 100 when it is not one.
    static func columns(_ fd: Int32 = STDERR_FILENO) -> Int {
        var size = winsize()
        if ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 100
    }
}

/// Buffered writes to a file descriptor (standard output), for reports.
final class FDSink: ReportSink {
    private let fd: Int32
    private var buffer: [UInt8] = []
    init(fd: Int32) { self.fd = fd; buffer.reserveCapacity(1 << 16) }
    deinit { flush() }
    func write(_ text: String) { write(bytes: Array(text.utf8)) }
    func write(bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 16 { flush() }
    }
    func flush() {
        var offset = 0
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { sysWrite(fd, $0.baseAddress! + offset, buffer.count - offset) }
            if n < 0 { if errno == EINTR { continue }; break }   // EPIPE: the reader went away
            offset += n
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

enum Stderr {
    static func write(_ text: String) {
        var data = Array(text.utf8)
        data.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = sysWrite(STDERR_FILENO, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 { if errno == EINTR { continue }; return }
                offset += n
            }
        }
    }
}

/// The live status line on standard error: only on a terminal, never with --quiet.
final class ProgressLine: Sendable {
    private struct State {
        var lastWidth = 0
        var lastDraw = Date.distantPast
        var rateWindow: [(Date, Int64)] = []
    }
    private let enabled: Bool
    private let state = Mutex(State())

    init(quiet: Bool) {
        enabled = !quiet && Terminal.isTTY(STDERR_FILENO) && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    var isEnabled: Bool { enabled }

    func update(_ p: ScanProgress) {
        guard enabled else { return }
        let now = Date()
        let text = state.withLock { s -> String? in
            s.rateWindow.append((now, p.bytesRead))
            s.rateWindow.removeAll { now.timeIntervalSince($0.0) > 5 }
            if p.phase == .done { return nil }
            return render(p, rate: rate(s.rateWindow))
        }
        guard let text else { clear(); return }
        let width = Terminal.columns()
        let line = text.count >= width ? String(text.prefix(max(1, width - 1))) : text
        Stderr.write("\r\u{1B}[K" + line)
        state.withLock { $0.lastWidth = line.count; $0.lastDraw = now }
    }

    func clear() {
        guard enabled else { return }
        Stderr.write("\r\u{1B}[K")
    }

    /// A free-form status ("bagging 120/4000"), drawn at most ten times a second.
    func show(_ text: String) {
        guard enabled else { return }
        let now = Date()
        let draw = state.withLock { s -> Bool in
            guard now.timeIntervalSince(s.lastDraw) >= 0.1 else { return false }
            s.lastDraw = now
            return true
        }
        guard draw else { return }
        Stderr.write("\r\u{1B}[K" + String(text.prefix(max(1, Terminal.columns() - 1))))
    }

    private func rate(_ window: [(Date, Int64)]) -> Double? {
        guard let first = window.first, let last = window.last, last.0.timeIntervalSince(first.0) > 0.3 else { return nil }
        return Double(last.1 - first.1) / last.0.timeIntervalSince(first.0)
    }

    private func render(_ p: ScanProgress, rate: Double?) -> String {
        var parts: [String] = []
        switch p.phase {
        case .walking:
            parts.append("walking: \(Format.plural(p.filesWalked, "file")), \(Format.bytes(p.bytesWalked)) in \(Format.plural(p.directories, "folder"))")
            if p.filesToRead > 0 {
                parts.append("hashed \(Format.count(p.filesRead)) of \(Format.count(p.filesToRead)) (\(Format.bytes(p.bytesRead)))")
            }
        case .hashing:
            parts.append("comparing same-size files: \(Format.count(p.filesRead))/\(Format.plural(p.filesToRead, "file")), \(Format.bytes(p.bytesRead)) read")
        case .finishing: parts.append("finishing")
        case .done: break
        }
        if let rate, rate > 0 {
            parts.append("\(Format.bytes(Int64(rate)))/s")
            let remaining = p.bytesToRead - p.bytesRead
            if (p.walkFinished || p.phase != .walking) && remaining > 0 {
                parts.append("ETA \(Format.duration(Double(remaining) / rate))")
            }
        }
        parts.append(Format.duration(p.elapsed))
        return parts.joined(separator: " · ")
    }
}
