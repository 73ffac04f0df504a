import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Account names of file owners (uid → name), looked up once per uid with getpwuid_r.
public enum UserNames {
    private static let cache = Mutex<[UInt32: String?]>([:])

    /// The account name, or nil when the uid has none on this machine.
    public static func name(of uid: UInt32) -> String? {
        if let known = cache.withLock({ $0[uid] }) { return known }
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        let found: String? = getpwuid_r(uid_t(uid), &entry, &buffer, buffer.count, &result) == 0 && result != nil
            ? String(cString: entry.pw_name) : nil
        cache.withLock { $0[uid] = .some(found) }
        return found
    }
}
