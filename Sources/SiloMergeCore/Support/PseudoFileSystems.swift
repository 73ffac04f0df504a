#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSiloMergeShims
import Foundation

/// File systems that hold no files of anyone's: the kernel's views of processes, devices and
/// control groups (`/proc`, `/sys`, `/dev`, cgroup...). Walking them reads endless or changing
/// "files" (`/proc/kcore`, `/sys/kernel/debug`), so a scan never does: a silo root on one is
/// refused, and a folder on one inside a silo (a mount point) is skipped with a note. Decided by
/// the file system type (`fstatfs`), not by path, so a bind mount of `/proc` elsewhere is
/// recognised too.
public enum PseudoFileSystems {
    #if os(Linux)
    /// `statfs.f_type` magic numbers (linux/magic.h).
    static let magic: [Int64: String] = [
        0x9FA0: "proc", 0x6265_6572: "sysfs", 0x0027_E0EB: "cgroup", 0x6367_7270: "cgroup2",
        0x1CD1: "devpts", 0x6462_6720: "debugfs", 0x7472_6163: "tracefs", 0x7363_6673: "securityfs",
        0x6165_676C: "pstore", 0xCAFE_4A11: "bpf", 0x6265_6570: "configfs", 0x1980_0202: "mqueue",
        0x6573_5543: "fusectl", 0x4249_4E4D: "binfmt_misc", 0xDE5E_81E4: "efivarfs", 0xF97C_FF8C: "selinuxfs",
        0x6E73_6673: "nsfs", 0x6759_6969: "rpc_pipefs",
    ]
    /// tmpfs' magic, which `/dev`'s devtmpfs shares: told apart by /proc/self/mountinfo.
    static let tmpfsMagic: Int64 = 0x0102_1994
    #endif

    /// The name of the pseudo file system the open folder `fd` is on, or nil for a real one.
    public static func name(fd: Int32, device: UInt64) -> String? {
        #if os(Linux)
        guard let type = fileSystemType(fd) else { return nil }
        if let name = magic[type] { return name }
        if type == tmpfsMagic, let mount = mount(device: device), mount.type == "devtmpfs" || mount.point == "/dev" {
            return mount.type == "devtmpfs" ? "devtmpfs" : "/dev (\(mount.type))"
        }
        return nil
        #elseif canImport(Darwin)
        var buffer = statfs()
        guard fstatfs(fd, &buffer) == 0 else { return nil }
        let name = withUnsafeBytes(of: buffer.f_fstypename) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return ["devfs", "fdesc"].contains(name) ? name : nil
        #else
        return nil
        #endif
    }

    #if os(Linux)
    /// `statfs.f_type` of the file system `fd` is on.
    static func fileSystemType(_ fd: Int32) -> Int64? {
        var type: Int64 = 0
        guard silomerge_fs_type(fd, &type) == 0 else { return nil }
        return type
    }

    /// The mount of `device` ("major:minor") in /proc/self/mountinfo: its type and mount point
    /// (a container's /dev is a tmpfs mounted there, holding device nodes like devtmpfs).
    static func mount(device: UInt64) -> (type: String, point: String)? {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        let id = "\(major(device)):\(minor(device))"
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 4, fields[2] == id, let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count else { continue }
            return (String(fields[dash + 1]), String(fields[4]))
        }
        return nil
    }

    /// glibc's `major` and `minor` (sys/sysmacros.h).
    static func major(_ dev: UInt64) -> UInt64 { ((dev & 0x0000_0000_000F_FF00) >> 8) | ((dev & 0xFFFF_F000_0000_0000) >> 32) }
    static func minor(_ dev: UInt64) -> UInt64 { (dev & 0x0000_0000_0000_00FF) | ((dev & 0x0000_0FFF_FFF0_0000) >> 12) }
    #endif
}
