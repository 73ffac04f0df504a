import Foundation

/// Reading and writing plan files: JSON with sorted keys and a fixed layout, so the same plan
/// is always the same bytes (and a plan can be diffed, reviewed and checksummed).
public enum PlanFile {
    /// The plan as JSON (pretty-printed, sorted keys, a final newline).
    public static func encode(_ plan: MergePlan) throws(PlanError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(plan)) + [0x0A]
        } catch {
            throw .cannotEncode(reason: "\(error)")
        }
    }

    /// A plan from JSON. Refuses other schemas with `.unsupportedSchema`.
    public static func decode(_ bytes: [UInt8], path: String? = nil) throws(PlanError) -> MergePlan {
        struct Head: Decodable { var schema: String? }
        let data = Data(bytes)
        guard let head = try? JSONDecoder().decode(Head.self, from: data) else {
            throw .cannotDecode(path: path, reason: "not a JSON object")
        }
        guard let schema = head.schema else { throw .cannotDecode(path: path, reason: "no \"schema\" field: not a SiloMerge plan") }
        guard MergePlan.readableSchemas.contains(schema) else { throw .unsupportedSchema(found: schema) }
        do {
            return try JSONDecoder().decode(MergePlan.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw .cannotDecode(path: path, reason: "missing \"\(key.stringValue)\" at \(Self.where(context.codingPath))")
        } catch let DecodingError.typeMismatch(_, context) {
            throw .cannotDecode(path: path, reason: "wrong type at \(Self.where(context.codingPath)): \(context.debugDescription)")
        } catch let DecodingError.valueNotFound(_, context) {
            throw .cannotDecode(path: path, reason: "null at \(Self.where(context.codingPath))")
        } catch let DecodingError.dataCorrupted(context) {
            throw .cannotDecode(path: path, reason: "\(context.debugDescription) at \(Self.where(context.codingPath))")
        } catch {
            throw .cannotDecode(path: path, reason: "\(error)")
        }
    }

    /// The largest plan file read (millions of operations).
    public static let maximumFileSize = 4 << 30

    /// Writes the plan to a file (atomically: a temporary file renamed over).
    public static func write(_ plan: MergePlan, to path: FilePath) throws(PlanError) {
        let bytes = try encode(plan)
        guard let p = path.string else { throw .cannotEncode(reason: "the plan path is not UTF-8: \(path.display)") }
        do { try InputFile.writeAtomically(p, bytes) } catch {
            throw .cannotEncode(reason: error.description)
        }
    }

    /// Reads a plan file.
    public static func read(_ path: FilePath) throws(PlanError) -> MergePlan {
        guard let p = path.string else { throw .cannotDecode(path: path.display, reason: "the path is not UTF-8") }
        let data: [UInt8]
        do { data = try InputFile.readBytes(p, limit: maximumFileSize) } catch {
            throw .cannotDecode(path: p, reason: error.reason)
        }
        return try decode(data, path: p)
    }

    /// The SHA-256 of the plan's encoding: what a journal is tied to.
    public static func digest(_ plan: MergePlan) throws(PlanError) -> String {
        let bytes = try encode(plan)
        do { return try SHA256Hasher.digest(bytes).hex } catch { throw .cannotEncode(reason: "\(error)") }
    }

    static func `where`(_ path: [CodingKey]) -> String {
        path.isEmpty ? "the top level" : path.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
    }
}

/// What a plan leaves in the silos, in figures.
public struct LeftBehindSummary: Sendable, Hashable, Codable {
    /// Entries the silos still hold once the plan is applied.
    public var entries: Int
    public var bytes: Int64
    /// Of those, the ones whose content is also in the target (copied sources, kept or linked
    /// duplicates, hard links, shared sidecars).
    public var inTarget: Int
    /// The ones that exist only in the silos (junk, excluded files, sidecars of duplicates…).
    public var onlyInSilos: Int
    /// By reason (`LeftBehindReason` raw values).
    public var byReason: [String: Int]

    enum CodingKeys: String, CodingKey {
        case entries, bytes, inTarget = "in_target", onlyInSilos = "only_in_silos", byReason = "by_reason"
    }

    public static func of(_ entries: [LeftBehind]) -> LeftBehindSummary {
        var s = LeftBehindSummary(entries: entries.count, bytes: 0, inTarget: 0, onlyInSilos: 0, byReason: [:])
        for e in entries {
            s.bytes += e.size ?? 0
            if e.reason.isInTarget { s.inTarget += 1 } else { s.onlyInSilos += 1 }
            s.byReason[e.reason.rawValue, default: 0] += 1
        }
        return s
    }

    /// The reasons present, in `LeftBehindReason` order, for printing.
    public var reasonsInOrder: [(reason: LeftBehindReason, count: Int)] {
        LeftBehindReason.allCases.compactMap { r in byReason[r.rawValue].map { (r, $0) } }
    }
}

/// What `silomerge plan show` prints: the plan in figures.
public struct PlanSummary: Sendable, Hashable, Codable {
    public struct KindTotal: Sendable, Hashable, Codable {
        public var operations: Int
        public var bytes: Int64
    }

    public var schema: String
    public var toolVersion: String
    public var createdAt: String
    public var catalogue: String
    public var scanRunID: Int64
    public var targetRoot: String
    public var quarantineRoot: String?
    public var layout: String
    public var transfer: TransferMethod
    public var duplicates: DuplicateAction
    public var canonicalRules: [String]
    public var carrySidecars: Bool

    /// Distinct contents placed in the target.
    public var contents: Int
    public var operations: Int
    /// By kind ("copy", "remove-duplicate"…), in `OperationKind` order.
    public var byKind: [String: KindTotal]
    /// Bytes brought into the target (contents and sidecars copied, cloned or moved, generated
    /// files; not hard links).
    public var bytesWritten: Int64
    /// Bytes freed in the silos: each physical file removed, quarantined, replaced by a link
    /// or moved away, counted once.
    public var bytesFreed: Int64
    public var collisions: Int
    /// Contents renamed because of a collision.
    public var renamed: Int
    /// Contents the layout's date tokens placed by their file's mtime (no metadata dates them).
    public var placedByFileModified: Int
    public var conflicts: Int
    /// What the silos still hold once the plan is applied.
    public var leftBehind: LeftBehindSummary
    /// `--derivatives keep-master`: what goes to quarantine as derivatives (nil: keep-all).
    public var derivatives: DerivativeSummary?

    /// The derivatives a keep-master plan moves to quarantine.
    public struct DerivativeSummary: Sendable, Hashable, Codable {
        /// Distinct derivative contents, and the files (copies) holding them.
        public var contents: Int
        public var files: Int
        /// Bytes of those files, each physical file once.
        public var bytes: Int64
        /// The masters they are derivatives of (each carried into the target).
        public var masters: Int

        static func of(_ plan: MergePlan) -> DerivativeSummary {
            var contents: Set<String> = [], masters: Set<String> = [], seen: Set<HostFileID> = []
            var files = 0
            var bytes: Int64 = 0
            for op in plan.operations {
                guard let d = op.derivativeOf, let s = op.source else { continue }
                files += 1
                contents.insert(s.sha256.lowercased()); masters.insert(d.sha256.lowercased())
                if seen.insert(plan.physicalFile(s)).inserted { bytes += s.size }
            }
            return DerivativeSummary(contents: contents.count, files: files, bytes: bytes, masters: masters.count)
        }
    }

    enum CodingKeys: String, CodingKey {
        case schema, toolVersion = "tool_version", createdAt = "created_at", catalogue, scanRunID = "scan_run_id"
        case targetRoot = "target_root", quarantineRoot = "quarantine_root", layout, transfer, duplicates
        case canonicalRules = "canonical_rules", carrySidecars = "carry_sidecars", contents, operations, byKind = "by_kind"
        case bytesWritten = "bytes_written", bytesFreed = "bytes_freed", collisions, renamed
        case placedByFileModified = "placed_by_file_modified", conflicts, leftBehind = "left_behind", derivatives
    }

    public static func of(_ plan: MergePlan) -> PlanSummary {
        var byKind: [String: KindTotal] = [:]
        var written: Int64 = 0
        var freedFiles: Set<HostFileID> = []
        var freed: Int64 = 0
        var contents: Set<String> = []
        for op in plan.operations {
            byKind[op.kind.rawValue, default: KindTotal(operations: 0, bytes: 0)].operations += 1
            byKind[op.kind.rawValue]!.bytes += op.size
            if op.kind.isTransfer, let s = op.source { contents.insert(s.sha256) }
            // In place nothing is transferred: the contents are those of the canonical copies kept.
            if plan.inPlace != nil, let c = op.canonical { contents.insert(c.sha256) }
            if (op.kind.carriesFile && op.kind.method != .hardlink) || op.kind.isGenerated { written += op.size }
            if op.kind.isDestructive, let s = op.source, freedFiles.insert(plan.physicalFile(s)).inserted { freed += s.size }
        }
        return PlanSummary(
            schema: plan.schema, toolVersion: plan.toolVersion, createdAt: plan.createdAt, catalogue: plan.catalogue,
            scanRunID: plan.scanRunID, targetRoot: plan.targetRoot.display,
            quarantineRoot: plan.settings.duplicates == .quarantine || plan.operations.contains { $0.derivativeOf != nil }
                ? plan.quarantineRoot.display : nil,
            layout: plan.settings.layout, transfer: plan.settings.transfer, duplicates: plan.settings.duplicates,
            canonicalRules: plan.settings.canonicalRules.map(\.description), carrySidecars: plan.settings.carrySidecars,
            contents: contents.count, operations: plan.operations.count, byKind: byKind, bytesWritten: written,
            bytesFreed: freed, collisions: plan.collisions.count,
            renamed: plan.collisions.reduce(0) { n, c in n + c.entries.filter { $0.destination != c.destination }.count },
            placedByFileModified: plan.operations.filter { $0.kind.isTransfer && $0.dateSource == .fileModified }.count,
            conflicts: plan.conflicts.count, leftBehind: LeftBehindSummary.of(plan.leftBehind),
            derivatives: plan.settings.derivatives == .keepMaster ? DerivativeSummary.of(plan) : nil)
    }

    /// The kinds present, in a fixed order, for printing.
    public var kindsInOrder: [(kind: OperationKind, total: KindTotal)] {
        OperationKind.allCases.compactMap { k in byKind[k.rawValue].map { (k, $0) } }
    }
}

/// What `silomerge plan show --format json` prints: the figures, every entry left behind,
/// collisions, conflicts and (with `--operations`) every operation.
public struct PlanReport: Sendable, Hashable, Codable {
    public var summary: PlanSummary
    public var leftBehind: [LeftBehind]
    public var collisions: [PlanCollision]
    public var conflicts: [PlanConflict]
    public var operations: [PlanOperation]?

    enum CodingKeys: String, CodingKey { case summary, leftBehind = "left_behind", collisions, conflicts, operations }

    public init(_ plan: MergePlan, operations: Bool) {
        summary = PlanSummary.of(plan)
        leftBehind = plan.leftBehind
        collisions = plan.collisions
        conflicts = plan.conflicts
        self.operations = operations ? plan.operations : nil
    }

    /// The report as JSON: sorted keys, one object.
    public func json() throws(PlanError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { return Array(try encoder.encode(self)) + [0x0A] } catch { throw .cannotEncode(reason: "\(error)") }
    }
}
