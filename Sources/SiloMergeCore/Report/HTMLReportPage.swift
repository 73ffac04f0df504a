import Foundation
import Plot

/// Escaped text.
private func text<C>(_ s: String) -> Node<C> { .text(HTMLReport.plotText(s)) }

/// An attribute whose value is escaped (Plot writes attribute values unescaped).
private func attr<C>(_ name: String, _ value: String) -> Node<C> {
    .attribute(named: name, value: HTMLReport.escape(value))
}

private func cls<C>(_ name: String) -> Node<C> { attr("class", name) }

/// Builds the report page with Plot's DSL. Every string that comes from `HTMLReportData` goes
/// through `text(_:)` or `attr(_:_:)`; `Node.raw` carries only the static CSS and script and the
/// charts of `HTMLChart`.
struct HTMLPage {
    typealias Body = Node<HTML.BodyContext>
    typealias Row = Node<HTML.TableContext>

    let data: HTMLReportData
    let rowLimit: Int

    func document() -> HTML {
        HTML(
            .lang(.english),
            .head(
                .meta(.charset(.utf8)),
                .meta(.name("viewport"), .content("width=device-width, initial-scale=1")),
                .meta(.name("generator"), .content("SiloMerge")),
                .element(named: "title", nodes: [text(data.title)]),
                .style(HTMLAssets.css)
            ),
            .body(
                header(),
                nav(),
                .main(
                    summary(),
                    management(),
                    silos(),
                    overlap(),
                    formats(),
                    folderGroups(),
                    groups(),
                    similarImages(),
                    sameImage(),
                    conflicts(),
                    check()
                ),
                .footer(
                    .p(text("SiloMerge \(data.toolVersion) · generated "), HTMLDate.node(data.generatedAt),
                       text(" · this page is self-contained: it needs no network and no other file."))
                ),
                .script(.raw(HTMLAssets.script))
            )
        )
    }

    // MARK: Header and navigation

    func header() -> Body {
        .header(cls("top"),
            .h1(text(data.title)),
            .p(cls("meta"),
               text("Generated "), HTMLDate.node(data.generatedAt),
               text(" by SiloMerge \(data.toolVersion) from the catalogue "),
               .code(text(data.catalogue)))
        )
    }

    func nav() -> Body {
        var links: [(String, String)] = [
            ("summary", "Summary"), ("management", "Management"), ("silos", "Silos"), ("overlap", "Overlap"), ("formats", "Formats"),
            ("folders", "Duplicate folders"), ("groups", "Duplicate groups"), ("similar", "Similar images"), ("same-image", "Same image"), ("conflicts", "Conflicts"), ("check", "Check"),
        ]
        if data.management == nil { links.removeAll { $0.0 == "management" } }
        if data.similar == nil { links.removeAll { $0.0 == "similar" } }
        return .nav(cls("toc"), attr("aria-label", "Sections"),
            .ul(.forEach(links) { id, label in
                .li(.a(attr("href", "#" + id), text(label)))
            })
        )
    }

    // MARK: Summary

    func summary() -> Body {
        let f = data.figures
        var cards: [Body] = [
            card("Silos", Format.count(f.silos)),
            card("Files", Format.count(f.files)),
            card("Total size", Format.bytes(f.bytes)),
            card("Distinct contents", Format.count(f.distinctContents)),
            card("Duplicated", Format.bytes(f.duplicatedBytes),
                 note: "\(Format.percent(f.duplicatedBytes, of: f.bytes)) of the total, every copy counted"),
            card("Reclaimable", Format.bytes(f.reclaimableBytes),
                 note: "\(Format.percent(f.reclaimableBytes, of: f.bytes)) of the total, in \(HTMLChart.plural(f.duplicateGroups, "duplicate group"))",
                 accent: true),
            card("Metadata conflicts", Format.count(f.conflicts), warn: f.conflicts > 0),
        ]
        cards.append(datesCard(scan: f.lastScan, check: f.lastCheck))
        return section("summary", "Summary",
            .div(cls("cards"), .group(cards)))
    }

    func card(_ label: String, _ value: String, note: String? = nil, accent: Bool = false, warn: Bool = false) -> Body {
        .div(cls("card" + (accent ? " accent" : "") + (warn ? " warn" : "")),
            .div(cls("label"), text(label)),
            .div(cls("value"), text(value)),
            .unwrap(note) { .div(cls("note"), text($0)) }
        )
    }

    func datesCard(scan: Date?, check: Date?) -> Body {
        .div(cls("card date"),
            .div(cls("label"), text("Last scan and check")),
            .div(cls("value small"), .span(text("scan")), scan.map(HTMLDate.node) ?? text("never"), .br(),
                 .span(text("check")), check.map(HTMLDate.node) ?? text("never"))
        )
    }

    // MARK: Silos

    func silos() -> Body {
        let rows = data.silos
        let shown = Array(rows.prefix(rowLimit))
        let bars = rows.sorted { $0.reclaimableBytes > $1.reclaimableBytes }.prefix(30).map { s in
            HTMLChart.Bar(label: s.name, value: s.reclaimableBytes,
                          note: "\(Format.percent(s.reclaimableBytes, of: s.bytes)) of the silo",
                          tip: "\(s.name): \(Format.bytes(s.reclaimableBytes)) reclaimable of \(Format.bytes(s.bytes)) (\(Format.percent(s.reclaimableBytes, of: s.bytes)))")
        }
        let columns = [Column("Silo"), Column("Priority", numeric: true), Column("Files", numeric: true),
                       Column("Size", numeric: true), Column("Duplicated inside", numeric: true),
                       Column("Also in other silos", numeric: true), Column("Reclaimable", numeric: true), Column("Root")]
        let tableRows: [[Cell]] = shown.map { s in
            [Cell(.strong(text(s.name)), cls: "name"),
             Cell.number(Int64(s.priority), Format.count(s.priority)),
             Cell.number(Int64(s.files), Format.count(s.files)),
             Cell.bytes(s.bytes), Cell.bytes(s.duplicateBytesInside), Cell.bytes(s.sharedBytes),
             Cell.bytes(s.reclaimableBytes),
             Cell(.code(text(s.root)), cls: "path")]
        }
        return section("silos", "Silos",
            .p(cls("lede"), text("What each silo holds, how much of it is duplicated inside the silo, how much another silo also holds, and what removing its redundant copies would free (the copy kept is the one in the silo of best priority).")),
            table(id: "t-silos", caption: "Silos", columns: columns, rows: tableRows,
                  total: rows.count, noun: "silos", empty: "No silo in the catalogue.", hints: ["silomerge silos", "silomerge audit --format json"], pinFirst: true),
            .unwrap(rows.isEmpty ? nil : bars) { bars in
                figure(HTMLChart.bars(bars, title: "Reclaimable bytes per silo", colour: "#2f6fb0"),
                       caption: "Reclaimable bytes per silo" + (rows.count > 30 ? " (the 30 largest)" : ""))
            }
        )
    }

    // MARK: Overlap

    func overlap() -> Body {
        let names = data.silos.map(\.name)
        let empty = names.isEmpty && data.overlap.isEmpty
        return section("overlap", "Overlap between silos",
            .p(cls("lede"), text("Bytes of identical content held by both silos of a row and a column; on the diagonal, bytes duplicated inside one silo. Hover a cell for the number of contents.")),
            .if(empty, .p(cls("empty"), text("No silo in the catalogue."))),
            // Side by side while the heatmap is small enough to share the width.
            .if(!empty, .div(cls(Set(names + data.overlap.flatMap { [$0.a, $0.b] }).count <= 6 ? "split overlap" : "stacked"),
                figure(HTMLChart.heatmap(silos: names, cells: data.overlap, title: "Silo × silo overlap"),
                       caption: "Blue: held by two silos; amber: duplicated inside one silo. Darker is more (log scale).",
                       wide: true),
                topPairs()))
        )
    }

    /// The largest cells of the heatmap as a list: the figures a reader looks for, in text.
    func topPairs() -> Body {
        var seen = Set<[String]>()
        var cells: [(offset: Int, cell: HTMLReportData.OverlapCell)] = []
        for (i, c) in data.overlap.enumerated() where c.bytes > 0 && seen.insert([c.a, c.b].sorted()).inserted {
            cells.append((i, c))
        }
        let top = cells.sorted { $0.cell.bytes != $1.cell.bytes ? $0.cell.bytes > $1.cell.bytes : $0.offset < $1.offset }.prefix(8)
        return .div(cls("top-pairs"),
            .h3(text("Largest overlaps")),
            .if(top.isEmpty, .p(cls("empty"), text("No content is held twice."))),
            .if(!top.isEmpty, .ol(.forEach(top) { item in
                let c = item.cell
                return .li(
                    .span(cls("swatch " + (c.a == c.b ? "sw-inside" : "sw-shared"))),
                    c.a == c.b ? .group(siloTag(c.a), text(" inside")) : .group(siloTag(c.a), text(" and "), siloTag(c.b)),
                    text(" "), .span(cls("amount"), text(Format.bytes(c.bytes))),
                    text(" "), .span(cls("n"), text("(\(HTMLChart.plural(c.contents, "content")))")))
            }))
        )
    }

    // MARK: Formats

    func formats() -> Body {
        let sorted = data.formats.enumerated().sorted {
            $0.element.bytes != $1.element.bytes ? $0.element.bytes > $1.element.bytes : $0.offset < $1.offset
        }.map(\.element)
        let total = sorted.reduce(Int64(0)) { $0 + $1.bytes }
        let chartLimit = 12
        var bars = sorted.prefix(chartLimit).map { f in
            HTMLChart.Bar(label: f.format, value: f.bytes, note: HTMLChart.plural(f.files, "file"),
                          tip: "\(f.format): \(Format.bytes(f.bytes)) in \(HTMLChart.plural(f.files, "file")) (\(Format.percent(f.bytes, of: total)))")
        }
        if sorted.count > chartLimit {
            let rest = sorted.dropFirst(chartLimit)
            let bytes = rest.reduce(Int64(0)) { $0 + $1.bytes }
            let files = rest.reduce(0) { $0 + $1.files }
            bars.append(HTMLChart.Bar(label: "\(rest.count) others", value: bytes, note: HTMLChart.plural(files, "file"),
                                      tip: "\(rest.count) other formats: \(Format.bytes(bytes)) in \(HTMLChart.plural(files, "file"))"))
        }
        let columns = [Column("Format"), Column("Files", numeric: true), Column("Size", numeric: true), Column("Share of bytes", numeric: true)]
        let rows: [[Cell]] = sorted.prefix(rowLimit).map { f in
            [Cell(text(f.format)), Cell.number(Int64(f.files), Format.count(f.files)), Cell.bytes(f.bytes),
             Cell.number(f.bytes, Format.percent(f.bytes, of: total))]
        }
        return section("formats", "File formats",
            .if(sorted.isEmpty, .p(cls("empty"), text("No file in the catalogue."))),
            .if(!sorted.isEmpty, .div(cls("split"),
                figure(HTMLChart.bars(bars, title: "File formats by bytes", colour: "#5b8c5a"),
                       caption: "File formats by bytes" + (sorted.count > chartLimit ? " (the \(chartLimit) largest, then the rest together)" : "")),
                table(id: "t-formats", caption: "File formats", columns: columns, rows: rows,
                      total: sorted.count, noun: "formats", empty: "", hints: ["silomerge export"], filter: false, pinFirst: true)
            ))
        )
    }

    // MARK: Duplicate groups

    func groups() -> Body {
        let shown = Array(data.largestGroups.prefix(rowLimit))
        let total = max(data.totalGroups, data.largestGroups.count)
        let columns = [Column("#", numeric: true), Column("Reclaimable", numeric: true), Column("Size of a copy", numeric: true),
                       Column("Copies", numeric: true), Column("Files (silo, path)", sortable: false), Column("SHA-256")]
        let rows: [[Cell]] = shown.enumerated().map { i, g in
            [Cell.number(Int64(i + 1), "\(i + 1)"),
             Cell.bytes(g.reclaimableBytes), Cell.bytes(g.size),
             Cell.number(Int64(g.copies.count), Format.count(g.copies.count)),
             Cell(.ul(cls("copies"), .forEach(g.copies) { c in
                 .li(siloTag(c.silo), text(" "), .code(cls("path"), text(c.path)),
                     .if(c.hardLinked, .span(cls("badge"), attr("title", "Another name of a copy already listed: not reclaimable"), text("hard link"))))
             }), cls: "files"),
             hashCell(g.sha256)]
        }
        let reclaim = data.figures.reclaimableBytes
        return section("groups", "Largest duplicate groups",
            .p(cls("lede"), text("\(HTMLChart.plural(total, "duplicate group")) hold \(Format.bytes(reclaim)) that keeping one copy of each content would free. Largest reclaimable first; every copy is listed, in silo priority order.")),
            table(id: "t-groups", caption: "Largest duplicate groups", columns: columns, rows: rows,
                  total: total, noun: "groups", empty: "No duplicate content: every file is unique.",
                  hints: ["silomerge export", "silomerge duplicates --format json"], stack: true)
        )
    }

    // MARK: Duplicate folders

    func folderGroups() -> Body {
        let shown = Array(data.folderGroups.prefix(rowLimit))
        let total = max(data.totalFolderGroups, data.folderGroups.count)
        let columns = [Column("#", numeric: true), Column("Reclaimable", numeric: true), Column("Size of a copy", numeric: true),
                       Column("Files", numeric: true), Column("Folders (silo, path)", sortable: false), Column("Folder hash")]
        let rows: [[Cell]] = shown.enumerated().map { i, g in
            [Cell.number(Int64(i + 1), "\(i + 1)"),
             Cell.bytes(g.reclaimableBytes), Cell.bytes(g.bytes),
             Cell.number(Int64(g.files), Format.count(g.files)),
             Cell(.ul(cls("copies"), .forEach(g.folders) { f in
                 .li(siloTag(f.silo), text(" "), .code(cls("path"), text(f.path + "/")))
             }), cls: "files"),
             hashCell(g.hash)]
        }
        return section("folders", "Duplicate folders",
            .p(cls("lede"), text("Folders holding the same files at the same places below them, whatever the names of files and folders: whole copies. Largest first; a group lying inside another group's folders is shown as the outer folders.")),
            table(id: "t-folders", caption: "Duplicate folders", columns: columns, rows: rows,
                  total: total, noun: "groups", empty: "No folder is a copy of another.",
                  hints: ["silomerge duplicates --folders"], stack: true),
            .h3(text("Partial copies")),
            .p(cls("lede"), text("Folders that are nearly copies: a subset (every file of the second has a copy in the first, which holds more: a half-finished copy) or an overlap (the two share at least 90% of the larger one's bytes: a copy someone kept working in). Most shared bytes first.")),
            partialCopies()
        )
    }

    func partialCopies() -> Body {
        let shown = Array(data.folderRelations.prefix(rowLimit))
        let total = max(data.totalFolderRelations, data.folderRelations.count)
        let columns = [Column("#", numeric: true), Column("Kind"), Column("Shared", numeric: true), Column("Shared files", numeric: true),
                       Column("Folders (silo, path, files, size)", sortable: false), Column("Missing from the second", numeric: true),
                       Column("Missing from the first", numeric: true)]
        let rows: [[Cell]] = shown.enumerated().map { i, r in
            [Cell.number(Int64(i + 1), "\(i + 1)"),
             Cell(text(r.kind)),
             Cell.bytes(r.sharedBytes),
             Cell.number(Int64(r.sharedFiles), Format.count(r.sharedFiles)),
             Cell(.ul(cls("copies"), .forEach([r.a, r.b]) { s in
                 .li(siloTag(s.silo), text(" "), .code(cls("path"), text(s.path + "/")),
                     text(" (\(Format.plural(s.files, "file")), \(Format.bytes(s.bytes)))"))
             }), cls: "files"),
             Cell.number(r.missingBytesFromB, "\(Format.plural(r.missingFromB, "file")), \(Format.bytes(r.missingBytesFromB))"),
             Cell.number(r.missingBytesFromA, "\(Format.plural(r.missingFromA, "file")), \(Format.bytes(r.missingBytesFromA))")]
        }
        return table(id: "t-partial", caption: "Partial copies", columns: columns, rows: rows,
                     total: total, noun: "partial copies", empty: "No folder is a partial copy of another.",
                     hints: ["silomerge duplicates --folders"], stack: true)
    }

    // MARK: Same image, different metadata

    func sameImage() -> Body {
        let shown = Array(data.sameImageGroups.prefix(rowLimit))
        let total = max(data.totalSameImageGroups, data.sameImageGroups.count)
        let columns = [Column("Image data"), Column("Copies", numeric: true), Column("Fields that differ"), Column("Files (silo, path, file SHA-256)", sortable: false)]
        let rows: [[Cell]] = shown.map { g in
            [hashCell(g.imageSHA256),
             Cell.number(Int64(g.copies.count), Format.count(g.copies.count)),
             Cell(.ul(cls("chips"), .forEach(g.fieldsThatDiffer) { .li(text($0)) })),
             Cell(.ul(cls("copies"), .forEach(g.copies) { c in
                 .li(siloTag(c.silo), text(" "), .code(cls("path"), text(c.path)), text(" "),
                     .code(cls("hash"), attr("title", c.sha256), text(String(c.sha256.prefix(12)))))
             }), cls: "files")]
        }
        return section("same-image", "Same image, different metadata",
            .p(cls("lede"), text("Files whose image data (the pixels) are identical but whose files differ, because their metadata do. They are one picture catalogued several times; the fields listed disagree.")),
            table(id: "t-same", caption: "Same image, different metadata", columns: columns, rows: rows,
                  total: total, noun: "groups", empty: "No image is held with different metadata.", hints: ["silomerge export"], stack: true)
        )
    }

    // MARK: Conflicts

    func conflicts() -> Body {
        let shown = Array(data.conflicts.prefix(rowLimit))
        let total = max(data.totalConflicts, data.conflicts.count)
        let columns = [Column("Asset"), Column("Field"), Column("Sources", numeric: true), Column("Values and where they come from", sortable: false)]
        let rows: [[Cell]] = shown.map { c in
            [Cell(.code(cls("hash"), text(c.asset)), cls: "sha"),
             Cell(.strong(text(c.field)), cls: "sha"),
             Cell.number(Int64(c.sources.count), Format.count(c.sources.count)),
             Cell(.ul(cls("sources"), .forEach(c.sources) { s in
                 .li(.span(cls("value"), text(s.value)),
                     .span(cls("from"), siloTag(s.silo), text(" "), .code(cls("path"), text(s.path)),
                           text(" "), .span(cls("origin"), text(s.origin))))
             }), cls: "files")]
        }
        return section("conflicts", "Metadata conflicts",
            .p(cls("lede"), text("Fields of one asset whose sources disagree and that the reconciliation policy leaves for a person to decide.")),
            table(id: "t-conflicts", caption: "Metadata conflicts", columns: columns, rows: rows,
                  total: total, noun: "conflicts", empty: "No metadata conflict.", hints: ["silomerge export"], stack: true)
        )
    }

    // MARK: Check

    /// Findings still open, oldest first: they stay until restored or accepted.
    func openFindings() -> Body {
        let columns = [Column("Kind"), Column("Silo"), Column("Path"), Column("Open since"), Column("Age"), Column("Detail")]
        let rows: [[Cell]] = data.openFindings.prefix(rowLimit).map { f in
            [Cell(.span(cls("kind"), text(f.kind))), Cell(siloTag(f.silo)), Cell(.code(cls("path"), text(f.path)), cls: "files"),
             Cell(.group(HTMLDate.node(f.since), text(" (run \(f.openedRun))"))), Cell(text(f.age)), Cell(text(f.detail))]
        }
        return .group(
            .h3(text("Open findings")),
            .p(cls("lede"), text("Corrupted and missing files stay open, whatever later checks read, until the file reads as its verified content again or a person accepts its state (silomerge check --accept SILO:PATH).")),
            table(id: "t-open", caption: "Open findings", columns: columns, rows: rows, total: max(data.totalOpenFindings, rows.count),
                  noun: "open findings", empty: "No finding is open.", hints: ["silomerge check", "silomerge history"], stack: true))
    }

    func check() -> Body {
        guard let check = data.check else {
            return section("check", "Latest check",
                .p(cls("empty"), text("No check yet: the catalogue holds no check run.")),
                .if(data.totalOpenFindings > 0, openFindings()))
        }
        let shown = Array(check.findings.prefix(rowLimit))
        let total = max(check.totalFindings, check.findings.count)
        let columns = [Column("Kind"), Column("Silo"), Column("Path"), Column("Detail")]
        let rows: [[Cell]] = shown.map { f in
            [Cell(.span(cls("kind"), text(f.kind))), Cell(siloTag(f.silo)),
             Cell(.code(cls("path"), text(f.path)), cls: "files"), Cell(text(f.detail))]
        }
        return section("check", "Latest check",
            .p(cls("lede"), text("Finished "), HTMLDate.node(check.finishedAt), text(": \(HTMLChart.plural(total, "finding")).")),
            .if(!check.countsByKind.isEmpty, .div(cls("cards kinds"), .forEach(check.countsByKind) { k in
                // What a reviewed plan did is news, not a warning.
                card(k.kind, Format.count(k.count), warn: k.count > 0 && k.kind != Finding.Kind.merged.rawValue)
            })),
            table(id: "t-check", caption: "Check findings", columns: columns, rows: rows,
                  total: total, noun: "findings", empty: "Nothing to report: every file is as catalogued.", hints: ["silomerge export"], stack: true),
            openFindings()
        )
    }

    // MARK: Building blocks

    /// Sections short enough to print on one page ask not to be split across two.
    func section(_ id: String, _ title: String, _ content: Body...) -> Body {
        .section(attr("id", id), attr("aria-labelledby", id + "-h"),
            .if(id == "summary" || id == "overlap", cls("keep")),
            .h2(attr("id", id + "-h"), text(title)),
            .group(content))
    }

    func siloTag(_ name: String) -> Body {
        .span(cls("silo"), text(name))
    }

    func hashCell(_ hex: String) -> Cell {
        Cell(.code(cls("hash"), attr("title", hex), text(String(hex.prefix(12)) + (hex.count > 12 ? "…" : ""))), cls: "sha")
    }

    func figure(_ svg: String, caption: String, wide: Bool = false) -> Body {
        .element(named: "figure", nodes: [
            cls(wide ? "chart wide" : "chart"),
            .div(cls("svg-wrap"), .raw(svg)),
            .element(named: "figcaption", nodes: [text(caption)]),
        ])
    }

    struct Column {
        var title: String
        var numeric: Bool
        /// Lists (every copy of a group…) have no order worth sorting by.
        var sortable: Bool
        init(_ title: String, numeric: Bool = false, sortable: Bool = true) {
            self.title = title; self.numeric = numeric; self.sortable = sortable
        }
    }

    struct Cell {
        var content: Body
        var sort: String?
        var cls: String?
        init(_ content: Body, sort: String? = nil, cls: String? = nil) {
            self.content = content; self.sort = sort; self.cls = cls
        }
        static func number(_ value: Int64, _ shown: String) -> Cell {
            Cell(text(shown), sort: String(value), cls: "num")
        }
        static func bytes(_ value: Int64) -> Cell {
            Cell(value == 0 ? text("–") : text(Format.bytes(value)), sort: String(value), cls: "num")
        }
    }

    /// A table in a horizontally scrolling box, with a filter box (shown by the script) and,
    /// when rows were left out, the line saying how many and where to find them.
    /// `pinFirst` keeps the first column in view while the box scrolls sideways; `stack` turns
    /// each row into a block on a phone (every cell labelled by its column), for tables whose
    /// rows hold lists of paths that a sideways-scrolling box would bury off screen.
    func table(id: String, caption: String, columns: [Column], rows: [[Cell]], total: Int, noun: String,
               empty: String, hints: [String], filter: Bool = true, pinFirst: Bool = false, stack: Bool = false) -> Body {
        if rows.isEmpty {
            return .p(cls("empty"), text(empty))
        }
        let more = total - rows.count
        let head: Row = .thead(.tr(.forEach(columns) { c in
            .th(attr("scope", "col"), .if(c.numeric, cls("num")), .if(!c.sortable, attr("data-nosort", "1")), text(c.title))
        }))
        let body: Row = .tbody(.forEach(rows) { cells in
            .tr(.forEach(Array(zip(columns, cells))) { column, cell in
                .td(.unwrap(cell.cls) { cls($0) }, .unwrap(cell.sort) { attr("data-sort", $0) },
                    .if(stack, attr("data-label", column.title)), cell.content)
            })
        })
        return .div(cls("table-block"),
            .if(filter && rows.count > 1,
                .div(cls("tools"), attr("hidden", "hidden"),
                    .label(text("Filter "),
                        .input(.attribute(named: "type", value: "search"),
                               .attribute(named: "class", value: "filter"),
                               .attribute(named: "data-table", value: HTMLReport.escape(id)),
                               .attribute(named: "placeholder", value: HTMLReport.escape("any text in the \(noun)")),
                               .attribute(named: "autocomplete", value: "off"))),
                    .span(cls("count"), attr("aria-live", "polite")))),
            .div(cls("table-wrap" + (rows.count > 12 ? " tall" : "")), attr("tabindex", "0"), attr("role", "region"),
                 attr("aria-label", caption),
                .table(attr("id", id), cls("data sortable" + (pinFirst ? " pin-first" : "") + (stack ? " stack" : "")),
                    .caption(cls("visually-hidden"), text(caption)),
                    head, body)),
            .if(more > 0,
                .p(cls("more"),
                   .strong(text("\(Format.count(more)) more \(noun)")),
                   text(" not shown (the first \(Format.count(rows.count)) of \(Format.count(total))) — see "),
                   .group(hints.enumerated().map { i, h in .group(i > 0 ? text(" or ") : .empty, .code(text(h))) }),
                   text(" for all of them.")))
        )
    }
}
