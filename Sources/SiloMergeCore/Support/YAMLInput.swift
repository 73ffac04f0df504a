import Foundation
import Yams
// libyaml, as Yams builds it: its event parser lets the guard below measure a document
// before Yams builds (and hashes) its tree. Yams imports it the same way.
internal import CYaml

/// The one way SiloMerge turns YAML into a tree (`silomerge.yml`, resolutions files): every
/// YAML input gets the same guard against hostile documents.
///
/// Before Yams composes the document, libyaml's event stream is measured:
/// - aliases (`*name`) may add at most `aliasBudget` values to what the text itself holds — a
///   few hundred bytes of nested aliases ("billion laughs") would otherwise grow to gigabytes,
///   and Yams hashes mapping keys, so an alias used as a key would stall composing itself;
/// - nesting deeper than `maxDepth` is refused (no configuration needs it; Yams composes
///   recursively).
/// Plain anchors and aliases (a shared exclude list, say) stay allowed.
public enum YAMLInput {
    public static let maxDepth = 64
    public static let aliasBudget = 10_000

    /// A document refused by the guard or by the YAML parser. `line` is 1-based.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var line: Int?
        public var message: String
        public var description: String { line.map { "line \($0): \(message)" } ?? message }
    }

    /// The document's root node (nil for an empty document), once the guard has passed.
    public static func compose(_ text: String) throws(Failure) -> Node? {
        try measure(text)
        do {
            return try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw Failure(line: nil, message: "not valid YAML: \(error)")
        } catch {
            throw Failure(line: nil, message: "not valid YAML: \(error)")
        }
    }

    /// Walks libyaml's events, counting the values the document would hold once every alias is
    /// expanded. Parse errors are left for Yams to report (with its better message).
    static func measure(_ text: String) throws(Failure) {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return }
        defer { yaml_parser_delete(&parser) }
        var bytes = Array(text.utf8)
        if bytes.isEmpty { return }
        try bytes.withUnsafeMutableBufferPointer { (buffer: inout UnsafeMutableBufferPointer<UInt8>) throws(Failure) in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            // Values each anchor stands for, once expanded (saturating).
            var anchored: [String: Int] = [:]
            // Open sequences and mappings: their anchor and the values counted inside so far.
            var open: [(anchor: String?, values: Int)] = []
            var literal = 0
            var expanded = 0
            let cap = Int.max / 4
            func add(_ n: Int) { if !open.isEmpty { open[open.count - 1].values = min(cap, open[open.count - 1].values + n) } }
            func name(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? { p.map { String(cString: $0) } }
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else { return }
                defer { yaml_event_delete(&event) }
                let line = Int(event.start_mark.line) + 1
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return
                case YAML_SCALAR_EVENT:
                    literal += 1
                    expanded = min(cap, expanded + 1)
                    if let a = name(event.data.scalar.anchor) { anchored[a] = 1 }
                    add(1)
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    literal += 1
                    expanded = min(cap, expanded + 1)
                    let anchor = event.type == YAML_SEQUENCE_START_EVENT
                        ? name(event.data.sequence_start.anchor) : name(event.data.mapping_start.anchor)
                    open.append((anchor, 1))
                    if open.count > maxDepth {
                        throw Failure(line: line, message: "nested more than \(maxDepth) levels deep: refused")
                    }
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    guard let closed = open.popLast() else { continue }
                    if let a = closed.anchor { anchored[a] = closed.values }
                    add(closed.values)
                case YAML_ALIAS_EVENT:
                    let size = name(event.data.alias.anchor).flatMap { anchored[$0] } ?? 1
                    expanded = min(cap, expanded + size)
                    add(size)
                    if expanded - literal > aliasBudget {
                        throw Failure(line: line, message: "its aliases (*name) would repeat more than \(Format.count(aliasBudget)) values: refused (nested aliases grow without bound)")
                    }
                default:
                    continue
                }
            }
        }
    }
}
