import Foundation
import Yams

/// A departmental CSV manifest: which column names the file, and which columns map to which
/// unified field.
public struct ManifestDefinition: Sendable, Hashable, Codable {
    public struct Column: Sendable, Hashable, Codable {
        public var column: String
        public var field: UnifiedField
        /// For list fields: the separator between items inside one cell (`;`, `|`...).
        public var split: String?

        public init(column: String, field: UnifiedField, split: String? = nil) {
            self.column = column; self.field = field; self.split = split
        }
    }
    public var file: FilePath
    public var pathColumn: String
    public var columns: [Column]
    public var delimiter: String = ","

    public init(file: FilePath, pathColumn: String, columns: [Column], delimiter: String = ",") {
        self.file = file; self.pathColumn = pathColumn; self.columns = columns; self.delimiter = delimiter
    }

    /// As the catalogue stores it (`silo.manifest`): `{"columns","delimiter","file","path_column"}`.
    enum CodingKeys: String, CodingKey { case file, pathColumn = "path_column", columns, delimiter }
    enum OldKeys: String, CodingKey { case pathColumn }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        file = try c.decode(FilePath.self, forKey: .file)
        columns = try c.decode([Column].self, forKey: .columns)
        delimiter = try c.decodeIfPresent(String.self, forKey: .delimiter) ?? ","
        // Catalogues written by earlier versions stored "pathColumn".
        pathColumn = try c.decodeIfPresent(String.self, forKey: .pathColumn)
            ?? decoder.container(keyedBy: OldKeys.self).decode(String.self, forKey: .pathColumn)
    }
}

/// `silomerge.yml`: silos with their rules and manifests, and the reconciliation policies.
///
/// ```yaml
/// catalog: silomerge.sqlite        # optional; relative to this file
/// silos:
///   - name: marketing
///     path: /srv/marketing           # relative paths are relative to this file
///     priority: 1                    # 1 is the most important
///     include: ["**/*.jpg"]          # optional
///     exclude: ["tmp/", "*.bak"]     # optional, on top of the default ignore list
///     manifest:
///       file: manifests/marketing.csv
///       path_column: File
///       columns:
///         Title: title
///         Tags: keywords, split ";"
/// reconcile:
///   keywords: union
///   rights: conflict
///   derivatives: merge               # a group of similar images is one asset for metadata
/// ```
public struct SiloMergeConfiguration: Sendable {
    public var source: String
    public var catalog: String?
    public var silos: [SiloDefinition]
    public var manifests: [String: ManifestDefinition]
    /// The `reconcile:` policies; nil when the file has no such section (the catalogue's stored
    /// policies then stay as they are).
    public var reconcile: [UnifiedField: ReconcilePolicy]?
    /// `reconcile: rules:`, decisions for classes of conflicts (empty when the section has none).
    public var reconcileRules: [ReconcileRule] = []
    /// `reconcile: derivatives: merge | separate`: whether a group of similar images is one
    /// asset for its metadata (`DerivativeMerge`). `separate` unless the section says.
    public var reconcileDerivatives: DerivativeMode = .separate

    public init(source: String = "", catalog: String? = nil, silos: [SiloDefinition] = [],
                manifests: [String: ManifestDefinition] = [:], reconcile: [UnifiedField: ReconcilePolicy]? = nil) {
        self.source = source; self.catalog = catalog; self.silos = silos
        self.manifests = manifests; self.reconcile = reconcile
    }

    /// The largest configuration file read (a configuration is a few kilobytes).
    public static let maximumFileSize = 4 << 20

    /// Reads and validates a configuration file. Every problem names the file, line and key.
    public static func load(path: String) throws -> SiloMergeConfiguration {
        let text: String
        do { text = try InputFile.readText(path, limit: maximumFileSize) } catch {
            throw ConfigError(file: path, line: nil, message: error.reason)
        }
        let base = Posix.absolute(FilePath(path)).bytes
        let folder = base.lastIndex(of: 0x2F).map { Array(base[..<max($0, 1)]) } ?? base
        return try parse(text, source: path, relativeTo: FilePath(bytes: folder))
    }

    /// Parses configuration text; relative paths are taken relative to `folder`.
    public static func parse(_ text: String, source: String, relativeTo folder: FilePath) throws -> SiloMergeConfiguration {
        let root: Node?
        do { root = try YAMLInput.compose(text) } catch {
            throw ConfigError(file: source, line: error.line, message: error.message)
        }
        guard let root else { throw ConfigError(file: source, line: nil, message: "is empty") }
        let reader = ConfigReader(file: source, folder: folder)
        return try reader.read(root)
    }
}

/// A problem in a configuration file.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var line: Int?
    public var message: String
    public var description: String {
        if let line { return "\(file):\(line): \(message)" }
        return "\(file): \(message)"
    }
}

/// Walks the YAML tree by hand so that every error says where it is and unknown keys (typos)
/// are refused instead of silently ignored.
private struct ConfigReader {
    let file: String
    let folder: FilePath

    func fail(_ node: Node?, _ message: String) -> ConfigError {
        ConfigError(file: file, line: node?.mark?.line, message: message)
    }

    func mapping(_ node: Node, _ what: String) throws -> [(String, Node, Node)] {
        guard case .mapping(let m) = node else { throw fail(node, "\(what) must be a mapping of keys to values") }
        return try m.map { pair in
            guard case .scalar(let key) = pair.key else { throw fail(pair.key, "\(what): keys must be plain words") }
            return (key.string, pair.key, pair.value)
        }
    }

    func string(_ node: Node, _ what: String) throws -> String {
        guard case .scalar(let s) = node else { throw fail(node, "\(what) must be a single value") }
        return s.string
    }

    func int(_ node: Node, _ what: String) throws -> Int {
        guard case .scalar(let s) = node, let value = Int(s.string) else {
            throw fail(node, "\(what) must be a whole number")
        }
        return value
    }

    func stringList(_ node: Node, _ what: String) throws -> [String] {
        switch node {
        case .scalar(let s): return [s.string]
        case .sequence(let seq):
            return try seq.map { try string($0, what) }
        default: throw fail(node, "\(what) must be a list of patterns")
        }
    }

    /// `reconcile: rules:`: a list of {field | fields, prefer, silo?, path?, format?}.
    func rules(_ node: Node) throws -> [ReconcileRule] {
        guard case .sequence(let items) = node else {
            throw fail(node, "reconcile.rules must be a list (each item starting with '- field:')")
        }
        var out: [ReconcileRule] = []
        for (index, item) in items.enumerated() {
            let what = "reconcile.rules[\(index)]"
            var fields: [UnifiedField] = []
            var prefer: [ReconcileRule.Preference] = []
            var silo: String?, glob: String?, format: String?
            for (key, keyNode, value) in try mapping(item, what) {
                switch key {
                case "field", "fields":
                    for name in try stringList(value, "\(what).\(key)") {
                        guard let f = UnifiedField(rawValue: name) else {
                            throw fail(value, "\(what): unknown field '\(name)' (fields: \(UnifiedField.allCases.map(\.rawValue).joined(separator: ", ")))")
                        }
                        fields.append(f)
                    }
                case "prefer":
                    for text in try stringList(value, "\(what).prefer") {
                        guard let p = ReconcileRule.Preference(text: text) else {
                            throw fail(value, "\(what).prefer: '\(text)' is not a preference (sidecar, embedded, manifest, or silo NAME)")
                        }
                        prefer.append(p)
                    }
                case "silo": silo = try string(value, "\(what).silo")
                case "path": glob = try string(value, "\(what).path")
                case "format": format = try string(value, "\(what).format")
                default:
                    throw fail(keyNode, "\(what): unknown key '\(key)' (expected field, fields, prefer, silo, path, format)")
                }
            }
            if fields.isEmpty { throw fail(item, "\(what): name the field (field: rights) or fields ([creator, keywords])") }
            if prefer.isEmpty { throw fail(item, "\(what): say what to prefer (prefer: silo legal, manifest, embedded or sidecar)") }
            out.append(ReconcileRule(fields: fields, prefer: prefer, silo: silo, path: glob, format: format, number: index + 1))
        }
        return out
    }

    func path(_ text: String) -> FilePath {
        if text.hasPrefix("/") { return FilePath(text) }
        if text.hasPrefix("~/"), let home = ProcessInfo.processInfo.environment["HOME"] {
            return FilePath(home + String(text.dropFirst(1)))
        }
        return FilePath(bytes: folder.bytes + [0x2F] + Array(text.utf8))
    }

    func read(_ root: Node) throws -> SiloMergeConfiguration {
        var config = SiloMergeConfiguration(source: file)
        var sawSilos = false
        for (key, keyNode, value) in try mapping(root, "the configuration") {
            switch key {
            case "catalog", "catalogue":
                config.catalog = path(try string(value, key)).string
            case "silos":
                sawSilos = true
                guard case .sequence(let seq) = value else { throw fail(value, "silos must be a list (each item starting with '- name:')") }
                for (index, item) in seq.enumerated() {
                    let (silo, manifest) = try readSilo(item, index: index, defaultPriority: index + 1)
                    if config.silos.contains(where: { $0.name == silo.name }) {
                        throw fail(item, "silos[\(index)]: the name '\(silo.name)' is used twice")
                    }
                    config.silos.append(silo)
                    if let manifest { config.manifests[silo.name] = manifest }
                }
            case "reconcile":
                config.reconcile = [:]
                for (field, fieldNode, policyNode) in try mapping(value, "reconcile") {
                    if field == "rules" {
                        config.reconcileRules = try rules(policyNode)
                        continue
                    }
                    if field == "derivatives" {
                        let m = try string(policyNode, "reconcile.derivatives")
                        guard let mode = DerivativeMode(rawValue: m) else {
                            throw fail(policyNode, "reconcile.derivatives: unknown value '\(m)' (choices: \(DerivativeMode.allCases.map(\.rawValue).joined(separator: ", ")))")
                        }
                        config.reconcileDerivatives = mode
                        continue
                    }
                    guard let f = UnifiedField(rawValue: field) else {
                        throw fail(fieldNode, "reconcile: unknown field '\(field)' (fields: \(UnifiedField.allCases.map(\.rawValue).joined(separator: ", ")); also rules, derivatives)")
                    }
                    let p = try string(policyNode, "reconcile.\(field)")
                    guard let policy = ReconcilePolicy(rawValue: p) else {
                        throw fail(policyNode, "reconcile.\(field): unknown policy '\(p)' (policies: \(ReconcilePolicy.allCases.map(\.rawValue).joined(separator: ", ")))")
                    }
                    if policy == .union && f.kind != .list {
                        throw fail(policyNode, "reconcile.\(field): 'union' merges lists; it applies to keywords and creator only")
                    }
                    if policy == .longest && f.kind != .text {
                        throw fail(policyNode, "reconcile.\(field): 'longest' compares texts; it does not apply to \(field)")
                    }
                    config.reconcile?[f] = policy
                }
            default:
                throw fail(keyNode, "unknown key '\(key)' (expected catalog, silos, reconcile)")
            }
        }
        if !sawSilos { throw fail(root, "no 'silos:' list") }
        return config
    }

    func readSilo(_ node: Node, index: Int, defaultPriority: Int) throws -> (SiloDefinition, ManifestDefinition?) {
        let what = "silos[\(index)]"
        var name: String?
        var root: FilePath?
        var priority = defaultPriority
        var includes: [String] = [], excludes: [String] = []
        var oneFileSystem = false
        var manifestNode: Node?
        for (key, keyNode, value) in try mapping(node, what) {
            switch key {
            case "name": name = try string(value, "\(what).name")
            case "path": root = path(try string(value, "\(what).path"))
            case "priority":
                priority = try int(value, "\(what).priority")
                guard priority >= 1 else { throw fail(value, "\(what).priority must be 1 or more (1 is the most important)") }
            case "include": includes = try stringList(value, "\(what).include")
            case "exclude": excludes = try stringList(value, "\(what).exclude")
            case "manifest": manifestNode = value
            case "one_file_system":
                switch try string(value, "\(what).one_file_system").lowercased() {
                case "true", "yes", "on": oneFileSystem = true
                case "false", "no", "off": oneFileSystem = false
                default: throw fail(value, "\(what).one_file_system must be true or false")
                }
            default:
                throw fail(keyNode, "\(what): unknown key '\(key)' (expected name, path, priority, include, exclude, manifest, one_file_system)")
            }
        }
        guard let name else { throw fail(node, "\(what) has no name") }
        do { try ScanEngine.validateName(name) } catch { throw fail(node, "\(what): \(error)") }
        guard let root else { throw fail(node, "\(what) ('\(name)') has no path") }
        for pattern in includes + excludes {
            do { _ = try Glob(pattern) } catch { throw fail(node, "\(what): \(error)") }
        }
        let manifest = try manifestNode.map { try readManifest($0, what: "\(what).manifest") }
        let silo = SiloDefinition(name: name, root: root, priority: priority, includes: includes, excludes: excludes,
                                  manifest: manifest, oneFileSystem: oneFileSystem)
        return (silo, manifest)
    }

    func readManifest(_ node: Node, what: String) throws -> ManifestDefinition {
        var file: FilePath?
        var pathColumn: String?
        var columns: [ManifestDefinition.Column] = []
        var delimiter = ","
        for (key, keyNode, value) in try mapping(node, what) {
            switch key {
            case "file": file = path(try string(value, "\(what).file"))
            case "path_column": pathColumn = try string(value, "\(what).path_column")
            case "delimiter":
                let d = try string(value, "\(what).delimiter")
                guard d.unicodeScalars.count == 1 else { throw fail(value, "\(what).delimiter must be one character") }
                delimiter = d
            case "columns":
                for (column, _, spec) in try mapping(value, "\(what).columns") {
                    columns.append(try readColumn(column, spec, what: "\(what).columns.\(column)"))
                }
            default:
                throw fail(keyNode, "\(what): unknown key '\(key)' (expected file, path_column, columns, delimiter)")
            }
        }
        guard let file else { throw fail(node, "\(what) has no file") }
        guard let pathColumn else { throw fail(node, "\(what) has no path_column (the column naming each file)") }
        guard !columns.isEmpty else { throw fail(node, "\(what) maps no columns") }
        return ManifestDefinition(file: file, pathColumn: pathColumn, columns: columns, delimiter: delimiter)
    }

    /// `title`, `keywords, split ";"`, or a mapping `{field: keywords, split: ";"}`.
    func readColumn(_ column: String, _ node: Node, what: String) throws -> ManifestDefinition.Column {
        var fieldName: String
        var split: String?
        switch node {
        case .scalar(let s):
            let parts = s.string.split(separator: ",", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            fieldName = parts[0]
            if parts.count == 2 {
                let rest = parts[1]
                guard rest.hasPrefix("split") else {
                    throw fail(node, "\(what): expected 'FIELD' or 'FIELD, split \"SEPARATOR\"', found '\(s.string)'")
                }
                var sep = rest.dropFirst("split".count).trimmingCharacters(in: .whitespaces)
                if sep.count >= 2, (sep.hasPrefix("\"") && sep.hasSuffix("\"")) || (sep.hasPrefix("'") && sep.hasSuffix("'")) {
                    sep = String(sep.dropFirst().dropLast())
                }
                guard !sep.isEmpty else { throw fail(node, "\(what): the split separator is empty") }
                split = sep
            }
        case .mapping:
            fieldName = ""
            for (key, keyNode, value) in try mapping(node, what) {
                switch key {
                case "field": fieldName = try string(value, "\(what).field")
                case "split": split = try string(value, "\(what).split")
                default: throw fail(keyNode, "\(what): unknown key '\(key)' (expected field, split)")
                }
            }
        default:
            throw fail(node, "\(what) must name a field")
        }
        guard let field = UnifiedField(rawValue: fieldName) else {
            throw fail(node, "\(what): unknown field '\(fieldName)' (fields: \(UnifiedField.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return ManifestDefinition.Column(column: column, field: field, split: split)
    }
}
