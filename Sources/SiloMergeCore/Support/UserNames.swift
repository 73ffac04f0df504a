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

extension UserNames {
    /// Who runs this process, for records (who accepted a finding): the account name, and the
    /// user sudo ran it for.
    public static var current: String {
        let uid = UInt32(geteuid())
        var who = name(of: uid) ?? "uid \(uid)"
        if let sudo = getenv("SUDO_USER").map({ String(cString: $0) }), !sudo.isEmpty, sudo != who {
            who += " (sudo by \(sudo))"
        }
        return who
    }
}
