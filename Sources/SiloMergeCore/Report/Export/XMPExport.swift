import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension ExportWriter {
    // MARK: xmp

    /// The sidecar's file name: the first 16 hex digits of the SHA-256, ".xmp".
    public static func xmpFileName(for asset: ReconciledAsset) -> String { String(asset.sha256.hex.prefix(16)) + ".xmp" }

    /// A complete XMP packet with the asset's descriptive fields (those in conflict or that XMP
    /// cannot carry are left out).
    public static func xmpPacket(for asset: ReconciledAsset) -> String {
        packet(descriptive(asset).0)
    }

    static func renderXMP(_ asset: ReconciledAsset) -> Rendered {
        let (d, skips) = descriptive(asset)
        var out = Rendered(skips: skips)
        if d.isEmpty { out.skips.append(ExportSkip(reason: .nothingToWrite, sha256: asset.sha256)) }
        else { out.records = [packet(d)] }
        return out
    }

    static func packet(_ d: Descriptive) -> String {
        var body = ""
        func alt(_ name: String, _ v: String?) {
            guard let v else { return }
            body += "   <\(name)>\n    <rdf:Alt>\n     <rdf:li xml:lang=\"x-default\">\(xmlEscape(v))</rdf:li>\n    </rdf:Alt>\n   </\(name)>\n"
        }
        func container(_ name: String, _ kind: String, _ items: [String]) {
            guard !items.isEmpty else { return }
            body += "   <\(name)>\n    <rdf:\(kind)>\n"
            for item in items { body += "     <rdf:li>\(xmlEscape(item))</rdf:li>\n" }
            body += "    </rdf:\(kind)>\n   </\(name)>\n"
        }
        func simple(_ name: String, _ v: String?) {
            guard let v else { return }
            body += "   <\(name)>\(xmlEscape(v))</\(name)>\n"
        }
        alt("dc:title", d.title)
        alt("dc:description", d.description)
        container("dc:subject", "Bag", d.subject)
        container("dc:creator", "Seq", d.creator)
        alt("dc:rights", d.rights)
        simple("photoshop:DateCreated", d.dateCreated)
        simple("photoshop:City", d.city)
        simple("photoshop:State", d.state)
        simple("photoshop:Country", d.country)
        if let g = d.gps {
            simple("exif:GPSLatitude", xmpCoordinate(g.latitude, latitude: true))
            simple("exif:GPSLongitude", xmpCoordinate(g.longitude, latitude: false))
        }
        simple("xmp:Rating", d.rating.map(String.init))
        // No tool version in the packet: re-exporting after an upgrade must find the same bytes.
        return "<?xpacket begin=\"\u{FEFF}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
            + "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\" x:xmptk=\"SiloMerge\">\n"
            + " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
            + "  <rdf:Description rdf:about=\"\"\n"
            + "    xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n"
            + "    xmlns:photoshop=\"http://ns.adobe.com/photoshop/1.0/\"\n"
            + "    xmlns:exif=\"http://ns.adobe.com/exif/1.0/\"\n"
            + "    xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\">\n"
            + body
            + "  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end=\"w\"?>\n"
    }

    /// XML text for an XMP packet: `Encode.xml`, characters XML 1.0 forbids dropped.
    public static func xmlEscape(_ s: String) -> String { Encode.xml(s, invalid: .drop) }

    /// XMP's GPSCoordinate "DDD,MM.mmmmmmk": degrees, decimal minutes (to a millionth of a
    /// minute, about 2 mm, trailing zeros dropped) and N/S or E/W.
    public static func xmpCoordinate(_ value: Double, latitude: Bool) -> String {
        let ref = latitude ? (value < 0 ? "S" : "N") : (value < 0 ? "W" : "E")
        let micro = Int64((abs(value) * 60_000_000).rounded())
        let degrees = micro / 60_000_000
        let rest = micro % 60_000_000
        var fraction = String(rest % 1_000_000)
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.count > 1 && fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(degrees),\(rest / 1_000_000).\(fraction)\(ref)"
    }
}

/// One sidecar per asset, in the folder.
struct XMPFormatWriter: ExportFormatWriter {
    func write(_ asset: ReconciledAsset, to sink: ExportSink, summary: inout ExportSummary) throws {
        let rendered = ExportWriter.renderXMP(asset)
        rendered.skips.forEach { summary.record($0) }
        guard let packet = rendered.records.first else { return }
        // After a plan: PATH.xmp beside where each copy sits in the target; else hash-named.
        let names: [RelativePath]
        if let placements = sink.options.placements {
            names = (placements[asset.sha256] ?? []).map { RelativePath(bytes: $0.bytes + Array(".xmp".utf8)) }
        } else {
            names = [RelativePath(ExportWriter.xmpFileName(for: asset))]
        }
        for name in names {
            if try sink.writeFile(Array(packet.utf8), at: name) {
                summary.records += 1
            } else {
                summary.unchanged += 1
            }
        }
    }
}
