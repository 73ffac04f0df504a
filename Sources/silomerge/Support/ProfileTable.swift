import Foundation
import SiloMergeCore

/// `--profile` / `SILOMERGE_TRACE=1`: whether to profile, and the table printed at the end of
/// a scan, audit or check, on standard error.
enum ProfileTable {
    /// `SILOMERGE_TRACE` set to anything but empty, `0`, `no` or `false` turns profiling on
    /// (for cron jobs whose command line cannot change).
    static func wanted(flag: Bool, environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        if flag { return true }
        guard let value = environment["SILOMERGE_TRACE"]?.trimmingCharacters(in: .whitespaces).lowercased() else { return false }
        return !["", "0", "no", "false", "off"].contains(value)
    }

    static func print(_ profile: ScanProfile?, runID: Int64) {
        guard let profile else { return }
        Stderr.write(text(profile, runID: runID))
    }

    /// The table: one line per stage, then the clocks, then the verdict.
    static func text(_ p: ScanProfile, runID: Int64) -> String {
        let busy = p.workerSeconds
        let threads = Format.plural(p.workers, "worker thread")
        var out = "silomerge: profile of run \(runID): where the time went, in thread-seconds\n"
        out += "  (each stage's time summed over the \(threads); share: of the workers' time)\n"
        out += "  " + Format.pad("stage", 16) + Format.pad("thread-s", 9, right: true) + Format.pad("share", 7, right: true) + "  what\n"
        for figure in p.stages {
            let share: String
            switch figure.stage {
            case .catalogueWrite, .catalogueWait: share = ""
            default: share = busy > 0 ? ScanProfile.percent(figure.threadSeconds / busy) : "0 %"
            }
            out += "  " + Format.pad(label(figure.stage), 16)
                + Format.pad(String(format: "%.3f", figure.threadSeconds), 9, right: true)
                + Format.pad(share, 7, right: true) + "  " + detail(figure, p) + "\n"
        }
        let wall = p.wallSeconds
        let used = busy / (Double(max(1, p.workers)) * max(wall, 1e-9))
        out += String(format: "  wall %.3f s · CPU %.3f s (user %.3f, system %.3f) · workers busy %@\n",
                      wall, p.userSeconds + p.systemSeconds, p.userSeconds, p.systemSeconds, ScanProfile.percent(used))
        out += "silomerge: profile: \(p.verdict)\n"
        return out
    }

    static func label(_ stage: ScanProfile.Stage) -> String {
        switch stage {
        case .walk: "walk"
        case .stat: "stat"
        case .compare: "compare"
        case .open: "open"
        case .read: "read"
        case .hash: "hash"
        case .metadata: "metadata"
        case .imageHash: "image hash"
        case .catalogueWrite: "catalogue write"
        case .catalogueWait: "catalogue wait"
        }
    }

    static func detail(_ f: ScanProfile.Figure, _ p: ScanProfile) -> String {
        switch f.stage {
        case .walk: return "\(Format.plural(f.count, "folder")) listed"
        case .stat: return "\(Format.plural(f.count, "entry", "entries")) stat-ed"
        case .compare: return "\(Format.plural(f.count, "folder")) compared with the catalogue"
        case .open: return "\(Format.plural(f.count, "file")) opened"
        case .read:
            var s = "\(Format.plural(f.count, "file")) (\(Format.bytes(f.bytes)))"
            if let rate = p.readRate { s += " at \(ScanProfile.rate(rate))" }
            return s
        case .hash: return "SHA-256 (and comparing copies)"
        case .metadata: return "\(Format.count(f.count)) read (files' metadata, XMP sidecars)"
        case .imageHash: return "\(Format.plural(f.count, "picture")) (\(Format.bytes(f.bytes)))"
        case .catalogueWrite:
            let share = p.wallSeconds > 0 ? ScanProfile.percent(f.threadSeconds / p.wallSeconds) : "0 %"
            return "\(Format.plural(f.count, "write")), writer busy \(share) of the run"
        case .catalogueWait: return "\(Format.plural(f.count, "wait")) for the writer"
        }
    }
}
