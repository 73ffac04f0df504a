import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The machine a silo's files are on. A file's physical identity is (host, device, inode):
/// device and inode numbers are unique on one host only, so hard links are collapsed, and
/// "physical copies" counted, per host. Every silo records the host that scans it.
///
/// The id is stable: the name given with `--host NAME`, else the systemd/D-Bus machine id
/// (`/etc/machine-id`, `/var/lib/dbus/machine-id`), else (a system without one, such as a
/// minimal container) `hostname:` and the host name — give `--host` where that is not stable.
public struct HostIdentity: Sendable, Hashable, Codable, CustomStringConvertible {
    /// What identifies the host in the catalogue.
    public let id: String
    /// For messages: the `--host` name, else the host name.
    public let name: String

    public init(id: String, name: String) { self.id = id; self.name = name }

    public var description: String { id == name ? name : "\(name) (\(id))" }

    /// A host named by the user (`--host NAME`): the name is its id.
    public static func named(_ name: String) throws -> HostIdentity {
        if name.isEmpty { throw HostIdentityError(name: name, reason: "it is empty") }
        if name.utf8.count > 255 { throw HostIdentityError(name: name, reason: "longer than 255 bytes") }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw HostIdentityError(name: name, reason: "it holds a control character")
        }
        return HostIdentity(id: name, name: name)
    }

    /// This machine: `named` when given, else its machine id, else its host name.
    public static func local(named name: String? = nil, machineIDFiles: [String] = ["/etc/machine-id", "/var/lib/dbus/machine-id"]) throws -> HostIdentity {
        if let name { return try named(name) }
        let hostname = hostName()
        for path in machineIDFiles {
            if let id = machineID(at: path) { return HostIdentity(id: id, name: hostname ?? id) }
        }
        guard let hostname else {
            throw HostIdentityError(name: "", reason: "this system has no machine id (/etc/machine-id) and no host name; give one with --host NAME")
        }
        return HostIdentity(id: "hostname:" + hostname, name: hostname)
    }

    /// The 32 lowercase hex digits of a machine-id file, or nil when it is missing, empty
    /// ("uninitialized" on first boot) or malformed.
    static func machineID(at path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 4096 else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard text.utf8.count == 32, text.allSatisfy({ $0.isHexDigit }), text != String(repeating: "0", count: 32) else { return nil }
        return text
    }

    static func hostName() -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return nil }
        let name = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? nil : name
    }
}

/// A `--host` name that cannot name a host, or a system without any stable id.
public struct HostIdentityError: Error, CustomStringConvertible, Sendable {
    public let name: String
    public let reason: String
    public init(name: String, reason: String) { self.name = name; self.reason = reason }
    public var description: String { name.isEmpty && reason.contains("--host") ? "cannot tell which host this is: \(reason)" : "invalid host name '\(name)': \(reason)" }
}
