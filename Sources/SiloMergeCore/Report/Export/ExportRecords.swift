import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension ExportWriter {
    /// Records of one asset and what was left out.
    struct Rendered {
        var records: [String] = []
        var skips: [ExportSkip] = []
    }

    /// One field per `UnifiedField`, in `UnifiedField` order (the first when a field repeats).
    static func orderedFields(_ asset: ReconciledAsset) -> [ReconciledField] {
        var seen = Set<UnifiedField>()
        return asset.fields.filter { seen.insert($0.field).inserted }.sorted { $0.field < $1.field }
    }
}
