import Foundation

/// The SVG charts of the HTML report, written by hand from XML-escaped parts: every name and
/// label goes through `HTMLReport.escape`, numbers are formatted here. Each chart is a
/// standalone, well-formed `<svg>` element with a `viewBox`, so CSS can shrink it to the width
/// of a phone.
enum HTMLChart {
    /// Approximate advance of one character of the 13 px system font (bold digits a little more),
    /// for truncating labels and sizing columns.
    static let charWidth = 7.6

    // MARK: Colours

    /// An RGB colour, interpolated along a ramp.
    struct RGB {
        var r: Double, g: Double, b: Double
        init(_ hex: UInt32) {
            r = Double((hex >> 16) & 0xFF); g = Double((hex >> 8) & 0xFF); b = Double(hex & 0xFF)
        }
        init(r: Double, g: Double, b: Double) { self.r = r; self.g = g; self.b = b }
        var hex: String { String(format: "#%02x%02x%02x", Int(r.rounded()), Int(g.rounded()), Int(b.rounded())) }
        /// Relative luminance (sRGB), to pick dark or light text.
        var luminance: Double {
            func lin(_ c: Double) -> Double { let s = c / 255; return s <= 0.04045 ? s / 12.92 : pow((s + 0.055) / 1.055, 2.4) }
            return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
        }
        static func mix(_ a: RGB, _ b: RGB, _ t: Double) -> RGB {
            RGB(r: a.r + (b.r - a.r) * t, g: a.g + (b.g - a.g) * t, b: a.b + (b.b - a.b) * t)
        }
    }

    /// A sequential ramp through three stops (light, middle, dark).
    struct Ramp {
        var stops: [RGB]
        func colour(_ t: Double) -> RGB {
            let t = min(1, max(0, t))
            let scaled = t * Double(stops.count - 1)
            let i = min(stops.count - 2, Int(scaled))
            return RGB.mix(stops[i], stops[i + 1], scaled - Double(i))
        }
    }

    /// Shared between silos: blues. Inside one silo: ambers. Both readable in greyscale print.
    static let sharedRamp = Ramp(stops: [RGB(0xDCEAF7), RGB(0x6BAED6), RGB(0x08306B)])
    static let insideRamp = Ramp(stops: [RGB(0xFDEBC8), RGB(0xF5A54A), RGB(0x8C3A06)])
    static let emptyFill = "#f4f5f7"

    /// Text that stays readable on a fill: white on dark fills, near-black on light ones.
    static func ink(on fill: RGB) -> String { fill.luminance < 0.33 ? "#ffffff" : "#1b1f24" }

    /// Log scale from the smallest non-zero value to the largest, onto [0.12, 1] so that the
    /// smallest overlap is still visibly tinted. Storage sizes span orders of magnitude
    /// (a shared logo of 40 KiB next to a shared video folder of 30 GiB): on a linear or even a
    /// square-root scale every small overlap would be white.
    struct LogScale {
        var low: Double, high: Double
        init(values: [Int64]) {
            let positive = values.filter { $0 > 0 }.map(Double.init)
            low = positive.min() ?? 1
            high = positive.max() ?? 1
        }
        func callAsFunction(_ v: Int64) -> Double {
            guard v > 0 else { return 0 }
            guard high > low else { return 1 }
            let t = (log(Double(v)) - log(low)) / (log(high) - log(low))
            return 0.12 + 0.88 * min(1, max(0, t))
        }
        /// The value at position `t` of the scale (inverse), for the legend.
        func value(at t: Double) -> Double {
            guard high > low else { return high }
            let u = (t - 0.12) / 0.88
            return exp(log(low) + u * (log(high) - log(low)))
        }
    }

    // MARK: Text helpers

    static func truncate(_ s: String, toWidth width: Double, charWidth: Double = charWidth) -> String {
        let maxChars = max(2, Int(width / charWidth))
        return s.count <= maxChars ? s : String(s.prefix(maxChars - 1)) + "…"
    }

    static func num(_ v: Double) -> String {
        let rounded = (v * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(format: "%.1f", rounded)
    }

    static func plural(_ n: Int, _ one: String, _ many: String? = nil) -> String {
        "\(Format.count(n)) \(n == 1 ? one : (many ?? one + "s"))"
    }

    // MARK: Heatmap

    /// The silo × silo overlap. Rows and columns follow `silos`; a silo named only in `cells` is
    /// added after them. Off-diagonal cells (blue) hold bytes shared by two silos, the diagonal
    /// (amber) bytes duplicated inside one silo; both share one log scale of bytes.
    static func heatmap(silos: [String], cells: [HTMLReportData.OverlapCell], title: String) -> String {
        var names = silos
        var seen = Set(names)
        for cell in cells {
            for n in [cell.a, cell.b] where !seen.contains(n) { names.append(n); seen.insert(n) }
        }
        var lookup: [String: HTMLReportData.OverlapCell] = [:]
        func key(_ a: String, _ b: String) -> String { a <= b ? "\(a)\u{0}\(b)" : "\(b)\u{0}\(a)" }
        for cell in cells where lookup[key(cell.a, cell.b)] == nil { lookup[key(cell.a, cell.b)] = cell }
        let scale = LogScale(values: lookup.values.map(\.bytes))

        let n = names.count
        // Labels are sized for 15 px text: on a phone the page's CSS enlarges them (and the
        // values) so they stay readable once the whole chart is shrunk to the screen's width.
        let labelChar = 8.6
        let cellW = 94.0, cellH = 56.0, gap = 2.0
        let longest = names.map(\.count).max() ?? 4
        let labelW = min(190, max(70, Double(longest) * labelChar + 14))
        // Column labels run across their column when every name fits in it; otherwise they are
        // slanted, so that long names (and names alike but for their ends) stay legible.
        let slanted = Double(longest) * labelChar > cellW - 6
        let slantChars = min(longest, 22)
        let slantLength = Double(slantChars) * labelChar
        let angle = 40.0 * Double.pi / 180
        let headerH = slanted ? (slantLength * sin(angle) + 18).rounded() : 36.0
        let overhang = slanted ? max(0, slantLength * cos(angle) - cellW / 2 + 4) : 0
        let legendH = 64.0
        let gridW = Double(n) * cellW
        let width = max(labelW + gridW + 8 + overhang, 400)
        let height = headerH + Double(n) * cellH + legendH

        var svg = SVG(width: width, height: height, label: title, kind: "heatmap", minScale: 0.66)
        for (j, name) in names.enumerated() {
            let x = labelW + Double(j) * cellW + cellW / 2
            if slanted {
                let y = headerH - 8
                svg.add("<text class=\"lbl\" x=\"\(num(x - 4))\" y=\"\(num(y))\" transform=\"rotate(-40 \(num(x - 4)) \(num(y)))\"><title>\(HTMLReport.escape(name))</title>\(HTMLReport.escape(truncate(name, toWidth: slantLength + 1, charWidth: labelChar)))</text>")
            } else {
                svg.add("<text class=\"lbl\" x=\"\(num(x))\" y=\"\(num(headerH - 14))\" text-anchor=\"middle\"><title>\(HTMLReport.escape(name))</title>\(HTMLReport.escape(name))</text>")
            }
        }
        for (i, a) in names.enumerated() {
            let y = headerH + Double(i) * cellH
            svg.add("<text class=\"lbl\" x=\"\(num(labelW - 8))\" y=\"\(num(y + cellH / 2 + 4))\" text-anchor=\"end\"><title>\(HTMLReport.escape(a))</title>\(HTMLReport.escape(truncate(a, toWidth: labelW - 14, charWidth: labelChar)))</text>")
            for (j, b) in names.enumerated() {
                let x = labelW + Double(j) * cellW
                let cell = lookup[key(a, b)]
                let bytes = cell?.bytes ?? 0
                let contents = cell?.contents ?? 0
                let inside = a == b
                let fill: RGB? = bytes > 0 ? (inside ? insideRamp : sharedRamp).colour(scale(bytes)) : nil
                let tip: String
                if inside {
                    tip = bytes > 0
                        ? "\(a): \(Format.bytes(bytes)) duplicated inside the silo (\(plural(contents, "content")))"
                        : "\(a): nothing duplicated inside the silo"
                } else {
                    tip = bytes > 0
                        ? "\(a) and \(b): \(Format.bytes(bytes)) of identical content (\(plural(contents, "content")))"
                        : "\(a) and \(b): no content in common"
                }
                let fillHex = fill?.hex ?? emptyFill
                let inkHex = fill.map(ink(on:)) ?? "#8a939e"
                svg.add("<g><title>\(HTMLReport.escape(tip))</title>"
                    + "<rect x=\"\(num(x + gap / 2))\" y=\"\(num(y + gap / 2))\" width=\"\(num(cellW - gap))\" height=\"\(num(cellH - gap))\" rx=\"3\" fill=\"\(fillHex)\""
                    + (inside ? " stroke=\"#8c3a06\" stroke-opacity=\"0.35\" stroke-dasharray=\"4 3\"" : "") + "/>")
                if bytes > 0 {
                    svg.add("<text x=\"\(num(x + cellW / 2))\" y=\"\(num(y + cellH / 2 - 1))\" text-anchor=\"middle\" class=\"val\" fill=\"\(inkHex)\">\(HTMLReport.escape(Format.bytes(bytes)))</text>")
                    svg.add("<text x=\"\(num(x + cellW / 2))\" y=\"\(num(y + cellH / 2 + 15))\" text-anchor=\"middle\" class=\"sub cnt\" fill=\"\(inkHex)\">\(HTMLReport.escape(plural(contents, "content")))</text>")
                } else {
                    svg.add("<text x=\"\(num(x + cellW / 2))\" y=\"\(num(y + cellH / 2 + 4))\" text-anchor=\"middle\" class=\"sub\" fill=\"\(inkHex)\">–</text>")
                }
                svg.add("</g>")
            }
        }
        // Legend: five swatches per ramp along the log scale.
        let ly = headerH + Double(n) * cellH + 16
        let swatch = 26.0
        var lx = 0.0
        if scale.high > 0 && !lookup.values.allSatisfy({ $0.bytes == 0 }) {
            let steps = [0.12, 0.34, 0.56, 0.78, 1.0]
            for (ramp, label) in [(sharedRamp, "shared"), (insideRamp, "inside")] {
                svg.add("<text class=\"sub\" x=\"\(num(lx))\" y=\"\(num(ly + 15))\">\(label)</text>")
                lx += 50
                for t in steps {
                    svg.add("<rect x=\"\(num(lx))\" y=\"\(num(ly + 3))\" width=\"\(num(swatch))\" height=\"16\" fill=\"\(ramp.colour(t).hex)\"><title>about \(HTMLReport.escape(Format.bytes(Int64(scale.value(at: t)))))</title></rect>")
                    lx += swatch
                }
                lx += 18
            }
            svg.add("<text class=\"sub\" x=\"0\" y=\"\(num(ly + 40))\">log scale, \(HTMLReport.escape(Format.bytes(Int64(scale.low)))) to \(HTMLReport.escape(Format.bytes(Int64(scale.high))))</text>")
        } else {
            svg.add("<text class=\"sub\" x=\"0\" y=\"\(num(ly + 15))\">No content is held twice.</text>")
        }
        return svg.finish()
    }

    // MARK: Horizontal bar chart

    struct Bar {
        var label: String
        var value: Int64
        /// Shown after the value: "12% of the silo", "340 files".
        var note: String
        /// The tooltip.
        var tip: String
    }

    /// Horizontal bars, one per row, in the order given; bar length linear in value from zero.
    static func bars(_ rows: [Bar], title: String, colour: String) -> String {
        // Sized for 15 px text, which the page's CSS uses on a phone (see `heatmap`).
        let wideChar = 8.8
        let labelW = min(140, max(56, Double(rows.map(\.label.count).max() ?? 4) * wideChar + 12))
        func valueText(_ row: Bar) -> String { row.note.isEmpty ? Format.bytes(row.value) : "\(Format.bytes(row.value)) · \(row.note)" }
        let valueW = Double(rows.map { valueText($0).count }.max() ?? 8) * 9.2 + 12  // bold
        let barMax = 190.0
        let rowH = 30.0, barH = 18.0
        let width = labelW + barMax + valueW
        let height = max(rowH, Double(rows.count) * rowH) + 4
        let maxValue = rows.map(\.value).max() ?? 0
        var svg = SVG(width: width, height: height, label: title, kind: "bars", minScale: 0.7)
        if rows.isEmpty {
            svg.add("<text class=\"sub\" x=\"0\" y=\"18\">Nothing to show.</text>")
        }
        for (i, row) in rows.enumerated() {
            let y = Double(i) * rowH + 4
            let len = maxValue > 0 ? max(row.value > 0 ? 2 : 0, Double(row.value) / Double(maxValue) * barMax) : 0
            svg.add("<g><title>\(HTMLReport.escape(row.tip))</title>")
            svg.add("<text class=\"lbl\" x=\"\(num(labelW - 8))\" y=\"\(num(y + barH - 4))\" text-anchor=\"end\">\(HTMLReport.escape(truncate(row.label, toWidth: labelW - 12, charWidth: wideChar)))</text>")
            svg.add("<rect x=\"\(num(labelW))\" y=\"\(num(y))\" width=\"\(num(barMax))\" height=\"\(num(barH))\" rx=\"2\" fill=\"#eef1f4\"/>")
            if len > 0 {
                svg.add("<rect x=\"\(num(labelW))\" y=\"\(num(y))\" width=\"\(num(len))\" height=\"\(num(barH))\" rx=\"2\" fill=\"\(colour)\"/>")
            }
            svg.add("<text class=\"val\" x=\"\(num(labelW + barMax + 8))\" y=\"\(num(y + barH - 4))\">\(HTMLReport.escape(valueText(row)))</text>")
            svg.add("</g>")
        }
        return svg.finish()
    }

    // MARK: SVG document

    struct SVG {
        private var parts: [String] = []
        private let open: String

        /// An `<svg>` drawn in a `width` × `height` coordinate space, shown at that size in pixels
        /// when there is room; CSS shrinks it to the width available, but never below
        /// `minScale` of its size (its text would become unreadable): below that, its box scrolls.
        init(width: Double, height: Double, label: String, kind: String, minScale: Double = 0.78) {
            // No xmlns: inline SVG in HTML needs none, and the page holds no URL at all.
            open = "<svg viewBox=\"0 0 \(num(width)) \(num(height))\" width=\"\(num(width))\" height=\"\(num(height))\""
                + " style=\"min-width:\(num((width * minScale).rounded()))px\" role=\"img\" aria-label=\"\(HTMLReport.escape(label))\" class=\"chart \(kind)\">"
                + "<title>\(HTMLReport.escape(label))</title>"
        }

        mutating func add(_ s: String) { parts.append(s) }

        func finish() -> String { open + parts.joined() + "</svg>" }
    }
}
