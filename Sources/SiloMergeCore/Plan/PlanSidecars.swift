import Foundation

/// The generated files a plan can carry: an XMP sidecar per destination and a DAM import
/// manifest. Kept small and self-contained on purpose (the report exporter has its own XMP
/// writer; the two are to be unified).
enum PlanSidecars {
    /// A minimal XMP packet holding the reconciled fields that have a value (conflicts are left
    /// out: a sidecar never states what people have not agreed on).
    static func xmpPacket(for asset: ReconciledAsset) -> String {
        var props: [String] = []
        func value(_ f: UnifiedField) -> FieldValue? {
            guard let field = asset.field(f), field.status != .conflict else { return nil }
            return field.value
        }
        func alt(_ tag: String, _ text: String) {
            props.append("   <\(tag)>\n    <rdf:Alt>\n     <rdf:li xml:lang=\"x-default\">\(escape(text))</rdf:li>\n    </rdf:Alt>\n   </\(tag)>")
        }
        func list(_ tag: String, _ container: String, _ items: [String]) {
            guard !items.isEmpty else { return }
            let lis = items.map { "     <rdf:li>\(escape($0))</rdf:li>" }.joined(separator: "\n")
            props.append("   <\(tag)>\n    <rdf:\(container)>\n\(lis)\n    </rdf:\(container)>\n   </\(tag)>")
        }
        func simple(_ tag: String, _ text: String) { props.append("   <\(tag)>\(escape(text))</\(tag)>") }

        if let t = value(.title)?.text { alt("dc:title", t) }
        if let d = value(.description)?.text { alt("dc:description", d) }
        if let v = value(.creator) { list("dc:creator", "Seq", v.list ?? v.text.map { [$0] } ?? []) }
        if let v = value(.keywords) { list("dc:subject", "Bag", v.list ?? v.text.map { [$0] } ?? []) }
        if let r = value(.rights)?.text { alt("dc:rights", r) }
        if let v = value(.dateCreated), let d = v.date ?? v.text { simple("photoshop:DateCreated", d) }
        if let c = value(.city)?.text { simple("photoshop:City", c) }
        if let s = value(.state)?.text { simple("photoshop:State", s) }
        if let c = value(.country)?.text { simple("photoshop:Country", c) }
        if let r = value(.rating)?.integer { simple("xmp:Rating", String(r)) }
        if let g = value(.gps)?.gps {
            simple("exif:GPSLatitude", gpsCoordinate(g.latitude, positive: "N", negative: "S"))
            simple("exif:GPSLongitude", gpsCoordinate(g.longitude, positive: "E", negative: "W"))
        }
        return """
        <?xpacket begin="\u{FEFF}" id="W5M0MpCehiHzreSzNTczkc9d"?>
        <x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="SiloMerge \(SiloMergeVersion.string)">
         <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
          <rdf:Description rdf:about=""
            xmlns:dc="http://purl.org/dc/elements/1.1/"
            xmlns:xmp="http://ns.adobe.com/xap/1.0/"
            xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
            xmlns:exif="http://ns.adobe.com/exif/1.0/">
        \(props.joined(separator: "\n"))
          </rdf:Description>
         </rdf:RDF>
        </x:xmpmeta>
        <?xpacket end="w"?>

        """
    }

    /// XMP's GPS form: "51,30.123456N".
    static func gpsCoordinate(_ value: Double, positive: String, negative: String) -> String {
        let a = abs(value)
        let degrees = Int(a)
        let minutes = (a - Double(degrees)) * 60
        return String(format: "%d,%.6f%@", degrees, minutes, value < 0 ? negative : positive)
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default:
                // XML 1.0 cannot hold most control characters, even escaped.
                if scalar.value < 0x20 && scalar != "\n" && scalar != "\t" && scalar != "\r" { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A CSV manifest for a DAM import: one row per destination.
    static func manifest(rows: [(destination: String, asset: ReconciledAsset, source: String)]) -> String {
        var out = "path,sha256,size,format,title,description,keywords,creator,rights,date_created,source\r\n"
        for row in rows {
            let a = row.asset
            func text(_ f: UnifiedField) -> String {
                guard let field = a.field(f), field.status != .conflict, let v = field.value else { return "" }
                return display(v)
            }
            let cells = [row.destination, a.sha256.hex, String(a.size), a.format.rawValue, text(.title), text(.description),
                         text(.keywords), text(.creator), text(.rights), text(.dateCreated), row.source]
            out += cells.map(Encode.csv).joined(separator: ",") + "\r\n"
        }
        return out
    }

    static func display(_ v: FieldValue) -> String {
        switch v {
        case .text(let s): s
        case .list(let l): l.joined(separator: "; ")
        case .integer(let i): String(i)
        case .gps(let lat, let lon): String(format: "%.6f, %.6f", lat, lon)
        case .date(let d): d
        }
    }
}
