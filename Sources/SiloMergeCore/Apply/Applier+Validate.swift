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

        let (targetRoot, targetDevice) = try probeRoot(.target, &problems)
        defer { if let targetRoot { fs.close(targetRoot) } }
        let needsQuarantine = myOperations.contains { $0.kind == .quarantineDuplicate && state.ops[$0.id]?.done == nil }
        let quarantineRoot: Int32? = needsQuarantine ? try probeRoot(.quarantine, &problems).fd : nil
        defer { if let quarantineRoot { fs.close(quarantineRoot) } }
        var reportedFolders: Set<String> = []
        // Each silo root the remaining operations read from, opened once (and kept for the run).
        var unusableSilos: Set<String> = []
        for silo in plan.silos where myOperations.contains(where: { $0.source?.silo == silo.name && state.ops[$0.id]?.done == nil }) {
            do { _ = try siloFD(silo.root) } catch let e as ApplyError {
                unusableSilos.insert(silo.name)
                if case .invalidPlan(let inner) = e { problems += inner } else { add(nil, nil, e.description) }
            }
        }

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

        for op in myOperations {
            let rec = state.ops[op.id]
            if rec?.done != nil { continue }
            if op.kind.writesTarget, let d = op.destination {
                checkDestination(op, root: targetRoot, dest: d, display: { self.targetDisplay($0) }, expectedSize: op.size)
            }
            if op.kind == .quarantineDuplicate, let d = op.destination {
                checkDestination(op, root: quarantineRoot, dest: d, display: { self.quarantineDisplay($0) }, expectedSize: nil)
            }
            guard let s = op.source, !unusableSilos.contains(s.silo) else { continue }
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

    /// Opens the target (or the quarantine folder) if it exists, checking it and its anchor;
    /// notes a problem when it cannot be used. Also the device it is (or will be made) on.
    func probeRoot(_ which: PlanRoot, _ problems: inout [PlanProblem]) throws -> (fd: Int32?, device: UInt64?) {
        do {
            if let fd = try openPlanRoot(which, create: false) {
                return (fd, try? fs.fstat(fd).device)
            }
            let anchor = which == .target ? scope.targetAnchor : scope.quarantineAnchor
            return (nil, anchor?.device)
        } catch let e as ApplyError {
            if case .invalidPlan(let inner) = e { problems += inner } else { problems.append(PlanProblem(reason: e.description)) }
        }
        return (nil, nil)
    }
}
