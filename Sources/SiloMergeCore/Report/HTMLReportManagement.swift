import Foundation
import Plot

// The report's part for management: trends across runs, what is reclaimable by type and age,
// conflicts by field and by pair of silos, the decisions taken, and (with a plan) what the
// merge does.

extension HTMLReportData {
    public struct Management: Sendable {
        public struct Trend: Sendable, Equatable {
            public var run: Int64, kind: String, at: Date, status: String
            public var files: Int, bytes: Int64, new: Int, changed: Int, gone: Int, findings: Int?
            /// Corrupted and missing files still open when the run ended.
            public var openFindings: Int = 0
            /// What was reclaimable when it ended (audits and checks record it).
            public var reclaimable: Int64?
        }
        public struct Share: Sendable, Equatable {
            public var label: String, bytes: Int64, groups: Int
        }
        public struct Pair: Sendable, Equatable {
            public var silos: String, conflicts: Int, fields: String
        }
        public struct PlanSummary: Sendable, Equatable {
            public var target: String
            public var operations: [(kind: String, count: Int, bytes: Int64)]
            public var leftBehind: [(reason: String, count: Int, bytes: Int64)]
            public var leftBehindBySilo: [(silo: String, count: Int)]
            public static func == (a: Self, b: Self) -> Bool {
                a.target == b.target && a.operations.map(\.kind) == b.operations.map(\.kind) && a.leftBehind.map(\.reason) == b.leftBehind.map(\.reason)
            }
        }
        /// Scans, audits and checks, oldest first (the latest 30).
        public var trends: [Trend] = []
        public var reclaimableByType: [Share] = []
        public var reclaimableByAge: [Share] = []
        public var conflictsByField: [(field: String, conflicts: Int)] = []
        public var conflictsBySiloPair: [Pair] = []
        /// Fields decided: agreed, by policy, by a rule, by a person; and each rule's count.
        public var agreed = 0, byPolicy = 0, byRule = 0, byPerson = 0
        public var rules: [(label: String, fields: Int)] = []
        public var plan: PlanSummary?
    }

    /// The reclaimable bytes of a duplicate group, by file type and by the age of its oldest copy.
    static func reclaimShares(_ groups: [(ext: String, oldestNs: Int64, reclaimable: Int64)], now: Date) -> ([Management.Share], [Management.Share]) {
        var byType: [String: (Int64, Int)] = [:]
        let buckets = ["under 1 year", "1 to 3 years", "3 to 5 years", "over 5 years"]
        var byAge = Array(repeating: (Int64(0), 0), count: buckets.count)
        let nowNs = Int64(now.timeIntervalSince1970) * 1_000_000_000
        for g in groups where g.reclaimable > 0 {
            byType[g.ext, default: (0, 0)].0 += g.reclaimable
            byType[g.ext, default: (0, 0)].1 += 1
            let years = Double(nowNs - g.oldestNs) / 1e9 / (365.25 * 86_400)
            let i = years < 1 ? 0 : years < 3 ? 1 : years < 5 ? 2 : 3
            byAge[i].0 += g.reclaimable
            byAge[i].1 += 1
        }
        let types = byType.map { Management.Share(label: $0.key, bytes: $0.value.0, groups: $0.value.1) }
            .sorted { $0.bytes != $1.bytes ? $0.bytes > $1.bytes : $0.label < $1.label }
        let ages = buckets.indices.map { Management.Share(label: buckets[$0], bytes: byAge[$0].0, groups: byAge[$0].1) }
        return (types, ages)
    }

    static func planSummary(_ plan: MergePlan) -> Management.PlanSummary {
        var ops: [String: (Int, Int64)] = [:]
        for op in plan.operations { ops[op.kind.rawValue, default: (0, 0)].0 += 1; ops[op.kind.rawValue, default: (0, 0)].1 += op.size }
        var left: [String: (Int, Int64)] = [:]
        var bySilo: [String: Int] = [:]
        for l in plan.leftBehind {
            left[l.reason.rawValue, default: (0, 0)].0 += 1
            left[l.reason.rawValue, default: (0, 0)].1 += l.size ?? 0
            bySilo[l.silo, default: 0] += 1
        }
        return Management.PlanSummary(
            target: plan.targetRoot.display,
            operations: ops.map { ($0.key, $0.value.0, $0.value.1) }.sorted { $0.1 > $1.1 },
            leftBehind: left.map { ($0.key, $0.value.0, $0.value.1) }.sorted { $0.1 > $1.1 },
            leftBehindBySilo: bySilo.map { ($0.key, $0.value) }.sorted { $0.1 > $1.1 })
    }
}

private func mtext<C>(_ s: String) -> Node<C> { .text(HTMLReport.plotText(s)) }

extension HTMLPage {
    func management() -> Body {
        guard let m = data.management else { return .empty }
        let trendRows: [[Cell]] = m.trends.reversed().map { t in
            [Cell(HTMLDate.node(t.at), sort: String(t.at.timeIntervalSince1970)), Cell(mtext(t.kind)), Cell(mtext(t.status)),
             Cell.number(Int64(t.files), Format.count(t.files)), Cell.bytes(t.bytes),
             t.reclaimable.map { Cell(mtext(Format.bytes($0)), sort: String($0), cls: "num") } ?? Cell(mtext("–"), sort: "-1", cls: "num"),
             Cell.number(Int64(t.new), Format.count(t.new)), Cell.number(Int64(t.changed), Format.count(t.changed)),
             Cell.number(Int64(t.gone), Format.count(t.gone)),
             t.findings.map { Cell.number(Int64($0), Format.count($0)) } ?? Cell(mtext("–"), cls: "num"),
             Cell.number(Int64(t.openFindings), Format.count(t.openFindings))]
        }
        let trendBars = m.trends.suffix(12).map { t in
            HTMLChart.Bar(label: "#\(t.run) \(t.kind)", value: t.bytes, note: HTMLChart.plural(t.files, "file"),
                          tip: "run \(t.run) (\(t.kind)): \(Format.bytes(t.bytes)) in \(HTMLChart.plural(t.files, "file"))")
        }
        let typeBars = m.reclaimableByType.prefix(10).map { s in
            HTMLChart.Bar(label: s.label, value: s.bytes, note: HTMLChart.plural(s.groups, "group"),
                          tip: "\(s.label): \(Format.bytes(s.bytes)) reclaimable in \(HTMLChart.plural(s.groups, "group"))")
        }
        let ageBars = m.reclaimableByAge.map { s in
            HTMLChart.Bar(label: s.label, value: s.bytes, note: HTMLChart.plural(s.groups, "group"),
                          tip: "oldest copy \(s.label) old: \(Format.bytes(s.bytes)) reclaimable in \(HTMLChart.plural(s.groups, "group"))")
        }
        let decided = m.agreed + m.byPolicy + m.byRule + m.byPerson
        return section("management", "For management",
            .p(.class("lede"), mtext("How the collection changes from run to run, where the reclaimable space is, which disagreements remain, what was decided"
                                  + (m.plan == nil ? "." : ", and what the merge plan does."))),
            .h3(mtext("Trends across runs")),
            .if(m.trends.isEmpty, .p(.class("empty"), mtext("No finished scan or check yet."))),
            .if(!m.trends.isEmpty, .div(.class("split"),
                figure(HTMLChart.bars(trendBars, title: "Bytes catalogued per run", colour: "#4a6fa5"), caption: "Bytes catalogued, the latest runs"),
                table(id: "t-trends", caption: "Runs", columns: [Column("Finished"), Column("Kind"), Column("Status"), Column("Files", numeric: true),
                      Column("Size", numeric: true), Column("Reclaimable", numeric: true), Column("New", numeric: true), Column("Changed", numeric: true), Column("Gone", numeric: true),
                      Column("Findings", numeric: true), Column("Open findings", numeric: true)], rows: trendRows, total: trendRows.count, noun: "runs", empty: "", hints: ["silomerge history"],
                      filter: false))),
            .h3(mtext("Reclaimable space by file type and by age")),
            .if(m.reclaimableByType.isEmpty, .p(.class("empty"), mtext("Nothing is reclaimable: no content has two physical copies."))),
            .if(!m.reclaimableByType.isEmpty, .div(.class("split"),
                figure(HTMLChart.bars(typeBars, title: "Reclaimable by file type", colour: "#b5651d"), caption: "Reclaimable bytes by file type (extension)"),
                figure(HTMLChart.bars(ageBars, title: "Reclaimable by age", colour: "#8c5a8c"), caption: "Reclaimable bytes by the age of the oldest copy (its mtime)"))),
            .h3(mtext("Conflicts by field and by pair of silos")),
            .if(m.conflictsByField.isEmpty, .p(.class("empty"), mtext("No metadata conflict."))),
            .if(!m.conflictsByField.isEmpty, .div(.class("split"),
                table(id: "t-conflict-fields", caption: "Conflicts by field", columns: [Column("Field"), Column("Conflicts", numeric: true)],
                      rows: m.conflictsByField.map { [Cell(mtext($0.field)), Cell.number(Int64($0.conflicts), Format.count($0.conflicts))] },
                      total: m.conflictsByField.count, noun: "fields", empty: "", hints: ["silomerge conflicts"], filter: false),
                table(id: "t-conflict-pairs", caption: "Conflicts by pair of silos", columns: [Column("Silos"), Column("Conflicts", numeric: true), Column("On")],
                      rows: m.conflictsBySiloPair.prefix(rowLimit).map { [Cell(mtext($0.silos)), Cell.number(Int64($0.conflicts), Format.count($0.conflicts)), Cell(mtext($0.fields))] },
                      total: m.conflictsBySiloPair.count, noun: "pairs", empty: "", hints: ["silomerge conflicts --format json"], filter: false))),
            .h3(mtext("Decisions")),
            .div(.class("cards"),
                card("Fields decided", Format.count(decided)),
                card("Sources agreed", Format.count(m.agreed), note: Format.percent(Int64(m.agreed), of: Int64(max(decided, 1)))),
                card("By policy", Format.count(m.byPolicy)),
                card("By rule", Format.count(m.byRule), note: m.rules.map { "\($0.label): \($0.fields)" }.joined(separator: "; ")),
                card("By a person", Format.count(m.byPerson), note: "resolutions file")),
            .unwrap(m.plan) { p in
                .div(
                    .h3(mtext("The merge plan")),
                    .p(mtext("Into "), .code(mtext(p.target)), mtext(": \(HTMLChart.plural(p.operations.reduce(0) { $0 + $1.count }, "operation")), "
                           + "\(HTMLChart.plural(p.leftBehind.reduce(0) { $0 + $1.count }, "file")) left behind in the silos.")),
                    .div(.class("split"),
                        table(id: "t-plan-ops", caption: "Plan operations", columns: [Column("Operation"), Column("Count", numeric: true), Column("Bytes", numeric: true)],
                              rows: p.operations.map { [Cell(mtext($0.kind)), Cell.number(Int64($0.count), Format.count($0.count)), Cell.bytes($0.bytes)] },
                              total: p.operations.count, noun: "kinds", empty: "No operation.", hints: ["silomerge plan show"], filter: false),
                        table(id: "t-plan-left", caption: "Left behind", columns: [Column("Why"), Column("Files", numeric: true), Column("Bytes", numeric: true)],
                              rows: p.leftBehind.map { [Cell(mtext($0.reason)), Cell.number(Int64($0.count), Format.count($0.count)), Cell.bytes($0.bytes)] },
                              total: p.leftBehind.count, noun: "reasons", empty: "Nothing is left behind.", hints: ["silomerge plan show"], filter: false)))
            }
        )
    }
}
