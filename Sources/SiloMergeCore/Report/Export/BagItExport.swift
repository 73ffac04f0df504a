import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension ExportWriter {
    // MARK: bagit

    /// The manifest lines of one asset (one per copy whose path is UTF-8), sorted.
    public static func bagitLines(for asset: ReconciledAsset) -> [String] { renderBagIt(asset).records }

    /// RFC 8493 §2.1.3: CR, LF and "%" in a manifest path are percent-encoded.
    public static func bagitPath(_ s: String) -> String {
        guard s.contains(where: { $0 == "%" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { return s }
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "%": out += "%25"
            case "\r": out += "%0D"
            case "\n": out += "%0A"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func renderBagIt(_ asset: ReconciledAsset) -> Rendered {
        var out = Rendered()
        for copy in asset.copies {
            guard let path = copy.path.string else {
                out.skips.append(ExportSkip(reason: .pathNotUTF8, sha256: asset.sha256, silo: copy.silo, path: copy.path))
                continue
            }
            out.records.append("\(asset.sha256.hex)  \(bagitPath("data/\(copy.silo)/\(path)"))")
        }
        out.records.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        return out
    }
}

/// The manifest's lines, sorted (in bounded memory) when the export finishes.
final class BagItFormatWriter: ExportFormatWriter {
    let manifest: ManifestSorter

    init(temporaryParent: FilePath) { manifest = ManifestSorter(tempParent: temporaryParent, runLimit: 200_000) }

    func write(_ asset: ReconciledAsset, to sink: ExportSink, summary: inout ExportSummary) throws {
        let rendered = ExportWriter.renderBagIt(asset)
        rendered.skips.forEach { summary.record($0) }
        for line in rendered.records { try manifest.add(Array(line.utf8)) }
        summary.records += rendered.records.count
    }

    func finish(_ sink: ExportSink) throws {
        if let output = sink.output { try manifest.drain(into: output) }
        manifest.cleanup()
    }

    func abandon() { manifest.cleanup() }
}
