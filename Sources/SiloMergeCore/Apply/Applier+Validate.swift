#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The checks that need the disk: folders on the way to every destination are real folders
/// (a symlink swapped in is refused), destinations are free, sources are still what the plan
/// says, hard links stay on one file system.
extension Applier {
    func fileSystemProblems(hashSources: Bool) throws -> [PlanProblem] {
        var problems: [PlanProblem] = []
        func add(_ op: Int?, _ path: String?, _ reason: String) { problems.append(PlanProblem(op: op, path: path, reason: reason)) }

        let targetRoot: Int32? = probeRoot(plan.targetRoot, "the target", &problems)
        defer { if let targetRoot { fs.close(targetRoot) } }
        let targetDevice = deviceOfNearestFolder(plan.targetRoot)
        let needsQuarantine = plan.operations.contains { $0.kind == .quarantineDuplicate && state.ops[$0.id]?.done == nil }
        let quarantineRoot: Int32? = needsQuarantine ? probeRoot(plan.quarantineRoot, "the quarantine folder", &problems) : nil
        defer { if let quarantineRoot { fs.close(quarantineRoot) } }
        var reportedFolders: Set<String> = []

        func checkDestination(_ op: PlanOperation, root: Int32?, dest: RelativePath, display: @escaping ([UInt8]) -> String,
                              expectedSize: Int64?) {
            guard let root else { return }
            let parts = dest.components.map { Array($0) }
            guard let name = parts.last else { return }
            let dir: Int32?
            do {
                dir = try openDirectory(root, Array(parts.dropLast()), create: false, root: .target, display: display)
            } catch let e as ApplyError {
                let text = e.description
                if reportedFolders.insert(text).inserted { add(op.id, nil, text) }
                return
            } catch {
                add(op.id, display(dest.bytes), "\(error)")
                return
            }
            guard let dir else { return }
            defer { fs.close(dir) }
            let rec = state.ops[op.id]
            if rec?.placing == true || rec?.placed != nil || rec?.taking != nil { return }
            guard let st = try? fs.lstat(dir, name) else { return }
            if st.kind != .regular {
                add(op.id, display(dest.bytes), "the destination exists and is a \(st.kind.label)")
            } else if let expectedSize, st.size != expectedSize {
                add(op.id, display(dest.bytes), "the destination exists with other content (\(st.size) bytes, the plan writes \(expectedSize))")
            }
        }

        for op in plan.operations {
            let rec = state.ops[op.id]
            if rec?.done != nil { continue }
            if op.kind.writesTarget, let d = op.destination {
                checkDestination(op, root: targetRoot, dest: d, display: { self.targetDisplay($0) }, expectedSize: op.size)
            }
            if op.kind == .quarantineDuplicate, let d = op.destination {
                checkDestination(op, root: quarantineRoot, dest: d, display: { self.quarantineDisplay($0) }, expectedSize: nil)
            }
            guard let s = op.source else { continue }
            // Sources an interrupted run already acted on are reconciled when the operation runs.
            let acted = rec?.taking != nil || rec?.placed != nil || rec?.placing == true
            var sourceStat: FileStat? = nil
            if !acted {
                do {
                    let (dir, name) = try openSourceParent(s)
                    defer { fs.close(dir) }
                    guard let st = try lstatIfPresent(dir, name, s.display) else {
                        add(op.id, s.display, "the source is gone")
                        continue
                    }
                    try checkIdentity(st, s)
                    sourceStat = st
                    if hashSources {
                        let (digest, _) = try hashFile(dir, name, s.display)
                        if digest.hex != s.sha256.lowercased() {
                            add(op.id, s.display, "the source's content has SHA-256 \(digest.hex.prefix(16))…, the plan says \(s.sha256.prefix(16))…")
                        }
                    }
                } catch let e as ApplyError {
                    add(op.id, nil, e.description)
                    continue
                }
            }
            if let targetDevice, let device = sourceStat?.device ?? (acted ? nil : s.device) {
                if op.kind.method == .hardlink && !op.fallbackToCopy && device != targetDevice {
                    add(op.id, s.display, "a hard link cannot cross file systems: the source is on device \(device), the target on \(targetDevice) (plan with the copy fallback, or copy)")
                }
                if op.kind == .linkDuplicate && device != targetDevice {
                    add(op.id, s.display, "cannot be replaced by a hard link into the target: it is on device \(device), the target on \(targetDevice)")
                }
            }
        }
        return problems
    }

    /// Opens a root folder if it exists; notes a problem when it is not a folder.
    func probeRoot(_ path: FilePath, _ what: String, _ problems: inout [PlanProblem]) -> Int32? {
        do {
            return try fs.open(AT_FDCWD, path.bytes, flags: O_RDONLY | O_DIRECTORY, mode: 0)
        } catch let e as Errno {
            if e.code == ENOENT { return nil }
            problems.append(PlanProblem(path: path.display, reason: e.code == ENOTDIR ? "\(what) is not a folder" : "\(what) cannot be opened: \(e) (\(e.name))"))
            return nil
        } catch {
            return nil
        }
    }

    /// The device of `path`, or of its nearest existing parent (where it would be created).
    func deviceOfNearestFolder(_ path: FilePath) -> UInt64? {
        var bytes = path.bytes
        while true {
            if case .success(let st) = Posix.stat(FilePath(bytes: bytes.isEmpty ? [0x2F] : bytes)) { return st.device }
            guard let slash = bytes.lastIndex(of: 0x2F), !bytes.isEmpty else { return nil }
            bytes = Array(bytes[..<slash])
        }
    }
}
