import Foundation
import Synchronization

/// Keeps a spinning disk from seeking between files: reads of a device that reports itself as
/// rotational go through one lock (`rotationalReaders` = 1: one file at a time, in the order
/// the walk found them), while SSDs, network file systems and the page cache take every
/// reading thread.
final class DeviceGate: Sendable {
    private let gates = Mutex<[UInt64: DeviceSlots?]>([:])
    private let rotationalReaders: Int

    init(rotationalReaders: Int) { self.rotationalReaders = max(1, rotationalReaders) }

    func withDevice<R>(_ device: UInt64, _ body: () throws -> R) rethrows -> R {
        let slots = gates.withLock { g -> DeviceSlots? in
            if let known = g[device] { return known }
            let value: DeviceSlots? = DeviceInfo.isRotational(device) == true ? DeviceSlots(rotationalReaders) : nil
            g[device] = value
            return value
        }
        guard let slots else { return try body() }
        slots.semaphore.wait()
        defer { slots.semaphore.signal() }
        return try body()
    }
}

final class DeviceSlots: Sendable {
    let semaphore: DispatchSemaphore
    init(_ count: Int) { semaphore = DispatchSemaphore(value: count) }
}

/// What the machine says about the device behind a `st_dev`.
public enum DeviceInfo {
    /// True for a spinning disk, false for an SSD, nil when unknown (network and virtual file
    /// systems, macOS). Read from `/sys/dev/block/MAJOR:MINOR/queue/rotational` (or the
    /// parent device's, for a partition).
    ///
    /// Virtual disks (virtio, Xen, Hyper-V) are reported as unknown: their "rotational" flag
    /// is 1 unless the host sets it, whatever the storage behind them is, and treating every
    /// cloud volume as a spinning disk would read it with one thread.
    public static func isRotational(_ device: UInt64) -> Bool? {
        #if os(Linux)
        let major = ((device >> 8) & 0xFFF) | ((device >> 32) & ~UInt64(0xFFF))
        let minor = (device & 0xFF) | ((device >> 12) & ~UInt64(0xFF))
        guard major != 0 else { return nil }
        let base = "/sys/dev/block/\(major):\(minor)"
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: base),
           ["/virtio", "/xen", "/vmbus", "/vbd"].contains(where: { target.contains($0) }) {
            return nil
        }
        for candidate in ["\(base)/queue/rotational", "\(base)/../queue/rotational"] {
            if let text = try? String(contentsOfFile: candidate, encoding: .utf8) {
                return text.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
            }
        }
        return nil
        #else
        return nil
        #endif
    }
}
