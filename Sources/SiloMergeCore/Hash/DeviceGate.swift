import CSiloMergeShims
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Keeps a spinning disk from seeking between files: reads of a device that reports itself as
/// rotational go through one lock (`rotationalReaders` = 1: one file at a time, in the order
/// the walk found them), while SSDs, network file systems and the page cache take every
/// reading thread.
final class DeviceGate: Sendable {
    private let gates = Mutex<[UInt64: DeviceSlots?]>([:])
    private let rotationalReaders: Int
    let readOrder: ReadOrder
    /// Devices whose file system answered FIEMAP with "not supported": ordered by inode.
    private let noFiemap = Mutex<Set<UInt64>>([])

    init(rotationalReaders: Int, readOrder: ReadOrder = .auto) {
        self.rotationalReaders = max(1, rotationalReaders)
        self.readOrder = readOrder
    }

    private func slots(_ device: UInt64) -> DeviceSlots? {
        gates.withLock { g -> DeviceSlots? in
            if let known = g[device] { return known }
            let value: DeviceSlots? = DeviceInfo.isRotational(device) == true ? DeviceSlots(rotationalReaders) : nil
            g[device] = value
            return value
        }
    }

    /// Whether files of this device are read in the order the disk holds them.
    func followsDisk(_ device: UInt64) -> Bool {
        switch readOrder {
        case .listing: false
        case .disk: true
        case .auto: slots(device) != nil
        }
    }

    /// `items` in the order the disk holds them (see `DiskOrder`) when `followsDisk`, else as given.
    func ordered<T>(_ items: [T], device: UInt64, stat: (T) -> FileStat, open: (T) -> Int32?) -> [T] {
        guard items.count > 1, followsDisk(device) else { return items }
        let fiemap = !noFiemap.withLock { $0.contains(device) }
        let (sorted, supported) = DiskOrder.sorted(items, useFiemap: fiemap, stat: stat, open: open)
        if fiemap && !supported { noFiemap.withLock { _ = $0.insert(device) } }
        return sorted
    }

    func withDevice<R>(_ device: UInt64, _ body: () throws -> R) rethrows -> R {
        guard let slots = slots(device) else { return try body() }
        slots.semaphore.wait()
        defer { slots.semaphore.signal() }
        return try body()
    }
}

/// Sorting files by where they start on the disk.
enum DiskOrder {
    /// `items` sorted by the physical offset of each file's first extent (FIEMAP), files with
    /// no extent (empty, or held in the inode) first; by inode number instead when the file
    /// system does not answer FIEMAP (`supported` is then false) or a file cannot be opened.
    /// The sort is stable: ties keep the listing's order.
    static func sorted<T>(_ items: [T], useFiemap: Bool, stat: (T) -> FileStat, open: (T) -> Int32?) -> (items: [T], supported: Bool) {
        var keys: [Int64] = []
        var supported = useFiemap
        if useFiemap {
            keys.reserveCapacity(items.count)
            for item in items {
                guard let fd = open(item) else { keys.append(-1); continue }
                var offset: Int64 = 0
                let r = silomerge_first_physical(fd, &offset)
                let code = errno
                close(fd)
                if r == 0 { keys.append(offset) } else if r == 1 { keys.append(-1) } else {
                    // Not this file system (tmpfs, NFS, FUSE…): ordering by inode instead.
                    if [EOPNOTSUPP, ENOTTY, ENOTSUP, EINVAL, ENOSYS].contains(code) { supported = false; break }
                    keys.append(-1)
                }
            }
        }
        if !supported || keys.count != items.count {
            keys = items.map { Int64(bitPattern: stat($0).inode) }
        }
        let order = items.indices.sorted { (keys[$0], $0) < (keys[$1], $1) }
        return (order.map { items[$0] }, supported)
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
