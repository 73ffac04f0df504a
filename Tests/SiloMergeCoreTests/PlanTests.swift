import Foundation
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

// MARK: - Synthetic input

enum P {
    static let silos = [
        PlanSilo(name: "marketing", root: FilePath("/srv/marketing"), priority: 1),
        PlanSilo(name: "hr", root: FilePath("/srv/hr"), priority: 2),
        PlanSilo(name: "training", root: FilePath("/srv/training"), priority: 3),
    ]
    static let target = FilePath("/srv/merged")

    static func ns(_ iso: String) -> Int64 { Int64(Timestamp.date(iso)!.timeIntervalSince1970) * 1_000_000_000 }

    static func copy(_ silo: String, _ path: String, mtime: String = "2022-01-01T00:00:00Z", inode: UInt64, device: UInt64 = 1,
                     size: Int64 = 100) -> AssetCopy {
        copy(silo, Array(path.utf8), mtime: mtime, inode: inode, device: device, size: size)
    }

    static func copy(_ silo: String, _ path: [UInt8], mtime: String = "2022-01-01T00:00:00Z", inode: UInt64, device: UInt64 = 1,
                     size: Int64 = 100) -> AssetCopy {
        let s = silos.first { $0.name == silo }!
        return AssetCopy(silo: silo, siloPriority: s.priority, path: RelativePath(bytes: path), size: size, mtimeNs: ns(mtime),
                         uid: 1000, gid: 1000, device: device, inode: inode,
                         absolutePath: s.root.appending(RelativePath(bytes: path)))
    }

    static func sha(_ seed: Int) -> SHA256Digest { try! SHA256Hasher.digest(Array("content \(seed)".utf8)) }

    static func asset(_ seed: Int, _ copies: [AssetCopy], fields: [ReconciledField] = [], format: MediaFormat = .jpeg) -> ReconciledAsset {
        ReconciledAsset(sha256: sha(seed), size: copies.first?.size ?? 100, format: format, copies: copies, fields: fields)
    }

    static func field(_ f: UnifiedField, _ value: FieldValue?, status: FieldStatus = .agreed,
                      from sources: [(silo: String, path: String, origin: MetadataOrigin, value: FieldValue)] = []) -> ReconciledField {
        ReconciledField(field: f, value: value, status: status, rule: .policy(.priority), sources: sources.map {
            FieldSource(silo: $0.silo, path: RelativePath($0.path), origin: $0.origin, tag: "test", raw: "\($0.value)", value: $0.value)
        })
    }

    static func input(_ assets: [ReconciledAsset]) -> PlanInput {
        PlanInput(assets: assets, silos: silos, catalogueIdentity: "catalogue-1", scanRunID: 42,
                  createdAt: Date(timeIntervalSince1970: 1_700_000_000))
    }

    static func settings(_ layout: String = "{silo}/{path}", rules: [CanonicalRule] = CanonicalRule.defaults,
                         duplicates: DuplicateAction = .keep, transfer: TransferMethod = .copy) -> PlanSettings {
        PlanSettings(targetRoot: target, layout: layout, canonicalRules: rules, duplicates: duplicates, transfer: transfer)
    }

    static func plan(_ assets: [ReconciledAsset], _ settings: PlanSettings = settings()) throws(PlanError) -> MergePlan {
        try Planner(settings: settings).plan(input(assets))
    }

    /// The transfer operation of a content.
    static func transfer(_ plan: MergePlan, _ seed: Int) -> PlanOperation? {
        plan.operations.first { $0.kind.isTransfer && $0.source?.sha256 == sha(seed).hex }
    }
}

// MARK: - Canonical choice

@Suite("Plan: the canonical copy, by ordered rules, with reasons")
struct PlanCanonicalTests {
    /// marketing: priority 1, newest, longest path, no metadata; hr: priority 2, oldest, the
    /// only one with keywords; training: priority 3, shortest path.
    static let hero = P.asset(1, [
        P.copy("marketing", "campaigns/2023/summer/hero.jpg", mtime: "2023-06-20T10:00:00Z", inode: 11),
        P.copy("hr", "staff/hero.jpg", mtime: "2019-03-02T08:00:00Z", inode: 12),
        P.copy("training", "h.jpg", mtime: "2020-05-05T00:00:00Z", inode: 13),
    ], fields: [
        P.field(.keywords, .list(["launch"]), from: [("hr", "staff/hero.jpg", .iptc, .list(["launch"]))]),
        P.field(.title, .text("Hero"), from: [("hr", "staff/hero.jpg", .xmp, .text("Hero")),
                                              ("marketing", "campaigns/2023/summer/hero.jpg", .filesystem, .text("hero"))]),
    ])

    static func chosen(_ rules: [CanonicalRule]) throws -> PlanOperation {
        try #require(P.transfer(try P.plan([hero], P.settings(rules: rules)), 1))
    }

    @Test("default order: silo priority first")
    func priority() throws {
        let op = try Self.chosen(CanonicalRule.defaults)
        #expect(op.source?.silo == "marketing")
        #expect(op.reason.hasPrefix("canonical copy: marketing has priority 1"))
    }

    @Test("richest metadata: the only copy with keywords (file-system facts do not count)")
    func richest() throws {
        let op = try Self.chosen([.richestMetadata, .siloPriority])
        #expect(op.source?.silo == "hr")
        #expect(op.reason == "canonical copy: only copy with title and keywords")
    }

    @Test("oldest mtime, with the date in the reason")
    func oldest() throws {
        let op = try Self.chosen([.oldestMtime])
        #expect(op.source?.silo == "hr")
        #expect(op.reason.contains("oldest copy (2019-03-02)"))
    }

    @Test("shortest path")
    func shortest() throws {
        let op = try Self.chosen([.shortestPath, .siloPriority])
        #expect(op.source?.silo == "training")
        #expect(op.reason.contains("shortest path (h.jpg)"))
    }

    @Test("a preferred path glob")
    func preferred() throws {
        let op = try Self.chosen([.preferredPath("staff/**"), .siloPriority])
        #expect(op.source?.silo == "hr")
        #expect(op.reason.contains("path matches preferred 'staff/**'"))
        let none = try Self.chosen([.preferredPath("nowhere/*"), .siloPriority])
        #expect(none.source?.silo == "marketing")
        #expect(!none.reason.contains("preferred"))
    }

    @Test("each rule that narrows the choice is named, in order")
    func combined() throws {
        let a = P.asset(2, [
            P.copy("marketing", "long/folder/name/a.jpg", inode: 21),
            P.copy("marketing", "a.jpg", inode: 22),
            P.copy("hr", "a.jpg", inode: 23),
        ])
        let op = try #require(P.transfer(try P.plan([a]), 2))
        #expect(op.source?.path == RelativePath("a.jpg"))
        #expect(op.source?.silo == "marketing")
        #expect(op.reason == "canonical copy: marketing has priority 1; shortest path (a.jpg)")
    }

    @Test("a single copy; hard links only; a full tie decided by silo and path")
    func ties() throws {
        let single = P.asset(3, [P.copy("hr", "x.jpg", inode: 31)])
        #expect(P.transfer(try P.plan([single]), 3)?.reason == "canonical copy: only copy")
        let links = P.asset(4, [P.copy("hr", "b/x.jpg", inode: 41), P.copy("hr", "a/x.jpg", inode: 41)])
        let l = try #require(P.transfer(try P.plan([links], P.settings(rules: [.oldestMtime])), 4))
        #expect(l.source?.path == RelativePath("a/x.jpg"))
        #expect(l.reason.contains("all copies are one file"))
        let tie = P.asset(5, [P.copy("hr", "b.jpg", inode: 51), P.copy("hr", "a.jpg", inode: 52)])
        let t = try #require(P.transfer(try P.plan([tie], P.settings(rules: [.oldestMtime])), 5))
        #expect(t.source?.path == RelativePath("a.jpg"))
        #expect(t.reason.contains("rules tie"))
    }

    @Test("rules parse from their text forms; unknown ones are refused")
    func parsing() throws {
        for rule in CanonicalRule.defaults + [.preferredPath("raw/**/*.dng")] {
            #expect(try CanonicalRule(parsing: rule.description) == rule)
        }
        #expect(try CanonicalRule(parsing: "preferred-path=a/*") == .preferredPath("a/*"))
        #expect(throws: PlanError.self) { try CanonicalRule(parsing: "biggest-file") }
        #expect(throws: PlanError.self) { try CanonicalRule(parsing: "preferred-path:[a-") }
        #expect(throws: PlanError.self) { try Planner(settings: P.settings(rules: [])) }
    }
}

// MARK: - Layout and names

@Suite("Plan: layout templates and names safe on every file system")
struct PlanLayoutTests {
    static let dated = P.asset(1, [P.copy("marketing", "campaigns/Hero Shot.JPG", mtime: "2019-03-02T08:00:00Z", inode: 1)], fields: [
        P.field(.dateCreated, .date("2023-06-14T18:30:00+02:00")),
        P.field(.creator, .list(["AC/DC Studio", "B"])),
        P.field(.keywords, .list(["launch", "summer"])),
    ])

    static func destination(_ asset: ReconciledAsset, _ layout: String) throws -> String {
        let plan = try P.plan([asset], P.settings(layout))
        return try #require(plan.operations.first?.destination?.string)
    }

    @Test("every token")
    func tokens() throws {
        let sha8 = String(P.sha(1).hex.prefix(8))
        #expect(try Self.destination(Self.dated, "{silo}/{year}/{month}/{day}/{creator}/{keyword}/{stem}-{sha256:8}.{ext}")
                == "marketing/2023/06/14/AC_DC Studio/launch/Hero Shot-\(sha8).JPG")
        #expect(try Self.destination(Self.dated, "{silo}/{path}") == "marketing/campaigns/Hero Shot.JPG")
        #expect(try Self.destination(Self.dated, "{format}/{sha256}") == "jpeg/" + P.sha(1).hex)
        #expect(try Self.destination(Self.dated, "by-date/{year}-{month}/{name}") == "by-date/2023-06/Hero Shot.JPG")
        // No creator, no keyword.
        let bare = P.asset(2, [P.copy("hr", "x.png", mtime: "2019-03-02T08:00:00Z", inode: 2)])
        #expect(try Self.destination(bare, "{creator}/{keyword}/{name}") == "unknown/untagged/x.png")
    }

    @Test("the date: date_created, else the mtime, said on the operation (also when date_created is in conflict)")
    func dates() throws {
        let bare = P.asset(2, [P.copy("hr", "x.png", mtime: "2019-03-02T08:00:00Z", inode: 2)])
        let plan = try P.plan([bare], P.settings("{year}/{month}/{name}"))
        #expect(plan.operations[0].destination?.string == "2019/03/x.png")
        #expect(plan.operations[0].reason.contains("no capture date; file modified 2019-03-02"))
        #expect(plan.operations[0].dateSource == .fileModified)
        #expect(PlanSummary.of(plan).placedByFileModified == 1)
        // A layout without date tokens says nothing about dates.
        let undated = try P.plan([bare], P.settings("{name}"))
        #expect(undated.operations[0].dateSource == nil && !undated.operations[0].reason.contains("file modified"))
        #expect(PlanSummary.of(undated).placedByFileModified == 0)
        var settings = P.settings("{year}/{month}/{name}")
        settings.allowConflicts = true
        let conflicted = P.asset(3, [P.copy("hr", "y.png", mtime: "2018-12-31T23:59:59Z", inode: 3)],
                                 fields: [P.field(.dateCreated, nil, status: .conflict)])
        let p2 = try P.plan([conflicted], settings)
        #expect(p2.operations[0].destination?.string == "2018/12/y.png")
        #expect(p2.operations[0].reason.contains("date_created in conflict; file modified 2018-12-31"))
        #expect(p2.operations[0].dateSource == .fileModified)
        let withDate = try P.plan([Self.dated], P.settings("{year}/{month}/{name}"))
        #expect(withDate.operations[0].reason.contains("date_created 2023-06-14"))
        #expect(withDate.operations[0].dateSource == .dateCreated)
        #expect(PlanSummary.of(withDate).placedByFileModified == 0)
    }

    @Test("unknown tokens and malformed layouts are refused with what is wrong")
    func badLayouts() throws {
        do { _ = try Planner(settings: P.settings("{camera}/{name}")); Issue.record("accepted") } catch {
            #expect(error == .unknownTemplateToken(token: "camera", template: "{camera}/{name}"))
            #expect(error.description.contains("{camera}"))
            #expect(error.description.contains("{sha256:N}"))
        }
        for (layout, why) in [("{year", "no closing"), ("year}/{name}", "no opening"), ("a//{name}", "empty folder level"),
                              ("{year}/{month}", "must name the file"), ("/abs/{name}", "relative"),
                              ("{silo}-{path}", "folder level of its own"), ("{sha256:0}", "1 to 64"), ("{sha256:65}", "1 to 64"),
                              ("../{name}", "not allowed"), ("", "empty")] {
            do { _ = try Planner(settings: P.settings(layout)); Issue.record("accepted \(layout)") } catch {
                guard case .malformedTemplate = error else { Issue.record("\(layout): \(error)"); continue }
                #expect(error.description.contains(why), "\(layout): \(error)")
            }
        }
    }

    @Test("names: reserved, forbidden characters, control characters, trailing dots and spaces, dot names")
    func sanitise() {
        let cases: [(String, String)] = [
            ("CON", "CON_"), ("con.txt", "con_.txt"), ("LPT9.jpg", "LPT9_.jpg"), ("aux", "aux_"), ("Nul.tar.gz", "Nul_.tar.gz"),
            ("COM1 .jpg", "COM1 _.jpg"), ("conference.jpg", "conference.jpg"),
            ("a<b>c:d\"e|f?g*h\\i/j", "a_b_c_d_e_f_g_h_i_j"), ("bell\u{7}\nnew\tline\u{7F}\u{85}", "bell__new_line__"),
            ("trailing. . ", "trailing"), (".", "_"), ("..", "_"), ("...", "_"), ("", "_"), (" ", "_"),
            (".silomerge-tmp-3-abc", "_silomerge-tmp-3-abc"), (".hidden", ".hidden"),
            ("cafe\u{301}.jpg", "caf\u{E9}.jpg"),
        ]
        for (input, expected) in cases {
            let out = NameSanitizer.component(input)
            #expect(Array(out.utf8) == Array(expected.utf8), "\(input.debugDescription) → \(out.debugDescription)")
            #expect(NameSanitizer.component(out) == out, "not idempotent: \(input.debugDescription)")
        }
    }

    @Test("long names are cut to 255 bytes on a character boundary, keeping the extension")
    func longNames() {
        let ascii = String(repeating: "a", count: 300) + ".jpeg"
        let a = NameSanitizer.component(ascii)
        #expect(a.utf8.count == 255)
        #expect(a.hasSuffix("a.jpeg"))
        let accents = String(repeating: "é", count: 200) + ".jpeg"          // 400 bytes + 5
        let b = NameSanitizer.component(accents)
        #expect(b.utf8.count <= 255 && b.utf8.count >= 253)
        #expect(b.hasSuffix("é.jpeg"))
        #expect(String(validatingUTF8Bytes: Array(b.utf8)) != nil)
        let emoji = String(repeating: "👩‍👩‍👧", count: 30)                   // 18 bytes each, no extension
        let c = NameSanitizer.component(emoji)
        #expect(c.utf8.count <= 255)
        #expect(c.count == 14)                                               // whole characters only
        let longExt = "x." + String(repeating: "e", count: 300)
        #expect(NameSanitizer.component(longExt).utf8.count == 255)
        for s in [a, b, c] { #expect(NameSanitizer.component(s) == s) }
    }

    @Test("names that are not UTF-8 become valid, distinct UTF-8, deterministically")
    func nonUTF8() throws {
        let latin1: [UInt8] = Array("caf".utf8) + [0xE9] + Array(".jpg".utf8)
        let other: [UInt8] = Array("caf".utf8) + [0xE8] + Array(".jpg".utf8)
        #expect(NameSanitizer.text(fromBytes: latin1) == "caf%E9.jpg")
        #expect(NameSanitizer.text(fromBytes: other) == "caf%E8.jpg")
        let a = P.asset(1, [P.copy("training", Array("old/".utf8) + latin1, inode: 1)])
        let b = P.asset(2, [P.copy("training", Array("old/".utf8) + other, inode: 2)])
        let plan = try P.plan([a, b])
        let dests = plan.operations.compactMap { $0.destination?.string }.sorted()
        #expect(dests == ["training/old/caf%E8.jpg", "training/old/caf%E9.jpg"])
        // The source keeps its exact bytes, in base64 beside a display form.
        let json = String(decoding: try PlanFile.encode(plan), as: UTF8.self)
        #expect(json.contains("\"path_b64\" : \"\(Data(Array("old/".utf8) + latin1).base64EncodedString())\""))
        #expect(json.contains("old/caf\\\\xE9.jpg"))
        let back = try PlanFile.decode(try PlanFile.encode(plan))
        #expect(back.operations.map { $0.source!.path.bytes }.sorted { $0.lexicographicallyPrecedes($1) }
                == [Array("old/".utf8) + other, Array("old/".utf8) + latin1])
    }

    @Test("planned names are safe whatever the silo holds")
    func throughThePlanner() throws {
        let names = ["CON.jpg", "bad:name?.jpg", "trailing. ", "bell\u{7}.png", String(repeating: "n", count: 300) + ".tif", ".."]
        let assets = names.enumerated().map { i, n in P.asset(i, [P.copy("hr", "in/" + (n == ".." ? "x" : n), inode: UInt64(i + 1))]) }
        let plan = try P.plan(assets, P.settings("{name}"))
        for op in plan.operations {
            let name = try #require(op.destination?.string)
            #expect(NameSanitizer.isSafe(name), "\(name.debugDescription)")
            #expect(name.utf8.count <= 255)
        }
        let dests = Set(plan.operations.compactMap { $0.destination?.string })
        #expect(dests.contains("CON_.jpg"))
        #expect(dests.contains("bad_name_.jpg"))
        #expect(dests.contains("trailing"))
        #expect(dests.contains("bell_.png"))
    }
}

// MARK: - Collisions and determinism

@Suite("Plan: collisions and determinism")
struct PlanCollisionTests {
    /// Three contents whose names differ only by Unicode normalisation and case.
    static let colliding = [
        P.asset(101, [P.copy("marketing", "caf\u{E9}.jpg", inode: 1)]),
        P.asset(102, [P.copy("hr", Array("cafe\u{301}.jpg".utf8), inode: 2)]),
        P.asset(103, [P.copy("training", "CAF\u{C9}.JPG", inode: 3)]),
    ]

    @Test("names equal after NFC and case folding collide; the first by SHA-256 keeps the name, the others get -<sha8>")
    func normalisationAndCase() throws {
        let plan = try P.plan(Self.colliding, P.settings("{name}"))
        let order = Self.colliding.sorted { $0.sha256 < $1.sha256 }
        #expect(plan.collisions.count == 1)
        let c = plan.collisions[0]
        #expect(c.entries.map(\.sha256) == order.map(\.sha256.hex))
        #expect(c.reason.contains("case folding"))
        var keys: Set<[UInt8]> = []
        for (i, a) in order.enumerated() {
            let op = try #require(plan.operations.first { $0.source?.sha256 == a.sha256.hex })
            let dest = try #require(op.destination?.string)
            #expect(keys.insert(NameSanitizer.collisionKey(dest)).inserted, "\(dest) still collides")
            if i == 0 {
                #expect(!dest.contains("-"))
            } else {
                #expect(dest.contains("-" + a.sha256.hex.prefix(8)), "\(dest)")
                #expect(op.reason.contains("renamed from"))
            }
            // Names come out NFC.
            #expect(dest == dest.precomposedStringWithCanonicalMapping && Array(dest.utf8) == Array(dest.precomposedStringWithCanonicalMapping.utf8))
        }
    }

    @Test("folders that differ only by case become one folder, spelt as the first content spells it")
    func folderSpelling() throws {
        let assets = [P.asset(1, [P.copy("hr", "Photos/a.jpg", inode: 1)]), P.asset(2, [P.copy("hr", "photos/b.jpg", inode: 2)]),
                      P.asset(3, [P.copy("hr", "PHOTOS/sub/c.jpg", inode: 3)])]
        let plan = try P.plan(assets, P.settings("{path}"))
        let folders = Set(plan.operations.compactMap { $0.destination?.string?.split(separator: "/").first.map(String.init) })
        #expect(folders.count == 1)
        let first = assets.min { $0.sha256 < $1.sha256 }!.copies[0].path.string!.split(separator: "/")[0]
        #expect(folders.first == String(first))
        #expect(plan.collisions.isEmpty)
    }

    @Test("a file that would take a folder's name is renamed")
    func fileVersusFolder() throws {
        let assets = [P.asset(1, [P.copy("hr", "docs", inode: 1)]), P.asset(2, [P.copy("hr", "Docs/a.pdf", inode: 2)])]
        let plan = try P.plan(assets, P.settings("{path}"))
        let file = try #require(P.transfer(plan, 1)?.destination?.string)
        #expect(file == "docs-" + P.sha(1).hex.prefix(8))
        #expect(P.transfer(plan, 2)?.destination?.string == "Docs/a.pdf")
        #expect(plan.collisions.first?.reason.contains("folder") == true)
    }

    @Test("the same input and settings give byte-identical plans, whatever the input order")
    func determinism() throws {
        var settings = P.settings("{year}/{name}", duplicates: .quarantine)
        settings.writeSidecars = true
        settings.writeManifest = true
        let assets = Self.colliding + [PlanCanonicalTests.hero, PlanLayoutTests.dated]
        let a = try PlanFile.encode(try P.plan(assets, settings))
        let b = try PlanFile.encode(try P.plan(assets, settings))
        #expect(a == b)
        let shuffled = assets.reversed().map { asset in
            var x = asset
            x.copies.reverse()
            return x
        }
        let c = try PlanFile.encode(try P.plan(Array(shuffled), settings))
        #expect(a == c)
        // Decoding and encoding again changes nothing.
        let decoded = try PlanFile.decode(a)
        #expect(try PlanFile.encode(decoded) == a)
        #expect(decoded == (try P.plan(assets, settings)))
        // The file carries what a reviewer needs.
        let text = String(decoding: a, as: UTF8.self)
        for key in ["\"schema\" : \"silomerge-plan/3\"", "\"tool_version\" : \"\(SiloMergeVersion.string)\"",
                    "\"created_at\" : \"2023-11-14T22:13:20.000Z\"", "\"catalogue\" : \"catalogue-1\"", "\"scan_run_id\" : 42",
                    "\"target_root\" : \"/srv/merged\"", "\"collisions\"", "\"left_behind\"", "\"carry_sidecars\" : true", "\"reason\""] {
            #expect(text.contains(key), "\(key)")
        }
    }

    @Test("plan files of another schema, or broken, are refused with what is wrong")
    func decodeErrors() throws {
        let plan = try P.plan([PlanCanonicalTests.hero])
        var text = String(decoding: try PlanFile.encode(plan), as: UTF8.self)
        #expect(text.contains("\"schema\" : \"\(MergePlan.currentSchema)\""))
        // Each must throw, and throw this error: the check is not only inside a `catch`.
        let newer = #expect(throws: PlanError.self) {
            try PlanFile.decode(Array(text.replacingOccurrences(of: MergePlan.currentSchema, with: "silomerge-plan/9").utf8))
        }
        #expect(newer == .unsupportedSchema(found: "silomerge-plan/9"))
        let older = #expect(throws: PlanError.self) {
            try PlanFile.decode(Array(text.replacingOccurrences(of: MergePlan.currentSchema, with: "silomerge-plan/1").utf8))
        }
        #expect(older == .unsupportedSchema(found: "silomerge-plan/1"))
        #expect(older?.description.contains("made by an older SiloMerge: run `silomerge plan` again") == true, "\(String(describing: older))")
        let notJSON = #expect(throws: PlanError.self) { try PlanFile.decode(Array("not json".utf8)) }
        #expect(notJSON == .cannotDecode(path: nil, reason: "not a JSON object"))
        text = text.replacingOccurrences(of: "\"scan_run_id\" : 42,", with: "")
        let missing = #expect(throws: PlanError.self) { try PlanFile.decode(Array(text.utf8)) }
        #expect(missing?.description.contains("scan_run_id") == true)
    }
}

// MARK: - Conflicts, duplicates, the invariant

@Suite("Plan: conflicts, duplicates and the one-verified-copy invariant")
struct PlanInvariantTests {
    static let conflicted = P.asset(7, [P.copy("marketing", "a.jpg", inode: 71), P.copy("hr", "a.jpg", inode: 72)], fields: [
        P.field(.rights, nil, status: .conflict, from: [("marketing", "a.jpg", .xmp, .text("CC-BY")),
                                                        ("hr", "a.jpg", .manifest, .text("All rights reserved"))]),
        P.field(.title, .text("Sunset & sea <1>")),
    ])

    @Test("unresolved conflicts refuse the plan, listed; --allow-conflicts lists them in the plan")
    func conflicts() throws {
        do { _ = try P.plan([Self.conflicted]); Issue.record("planned") } catch {
            guard case .unresolvedConflicts(let list) = error else { Issue.record("\(error)"); return }
            #expect(list.count == 1)
            #expect(list[0].field == "rights")
            #expect(list[0].values.contains { $0.hasPrefix("CC-BY (marketing:a.jpg, xmp)") })
            #expect(error.description.contains("--allow-conflicts"))
            #expect(error.description.contains("All rights reserved"))
        }
        var settings = P.settings()
        settings.allowConflicts = true
        settings.writeSidecars = true
        let plan = try P.plan([Self.conflicted], settings)
        #expect(plan.conflicts.count == 1)
        #expect(PlanSummary.of(plan).conflicts == 1)
        // The sidecar holds the agreed fields only, escaped.
        let sidecar = try #require(plan.operations.first { $0.kind == .xmpSidecar })
        #expect(sidecar.content?.contains("Sunset &amp; sea &lt;1&gt;") == true)
        #expect(sidecar.content?.contains("CC-BY") == false)
        #expect(sidecar.destination?.string == "marketing/a.xmp")
    }

    @Test("hard links are one file: when the only copies are hard links, nothing is removed, whatever the action",
          arguments: [DuplicateAction.remove, .quarantine, .hardlink])
    func onlyCopiesAreHardLinks(_ action: DuplicateAction) throws {
        // Real files: two names of one inode, in two silos' folders (as a bind-mounted share would show).
        let f = try MergeFixture("links\(action)")
        try f.addSilo("marketing", priority: 1)
        try f.addSilo("hr", priority: 2)
        try f.add("hr", "policies/leave.pdf", bytes(4_000, seed: 9))
        try f.hardlink("hr", "archive/leave-2022.pdf", to: "hr", "policies/leave.pdf")
        try f.hardlink("marketing", "shared/leave.pdf", to: "hr", "policies/leave.pdf")
        let plan = try f.plan(f.settings(duplicates: action))
        #expect(plan.operations.map(\.kind) == [.copy])
        #expect(plan.leftBehind.filter { $0.reason == .hardLink }.count == 2)
        #expect(plan.leftBehind.filter { $0.reason == .copied }.count == 1)
        #expect(PlanValidator.problems(in: plan).isEmpty)
        _ = try Applier(plan: plan, journal: f.journal).apply()
        #expect(f.silosSnapshot.values.filter { $0.kind == .regular }.count == 3)
    }

    @Test("a duplicate with several names is one physical copy: every name is acted on, freed bytes counted once")
    func duplicateWithSeveralNames() throws {
        let a = P.asset(8, [P.copy("marketing", "m.pdf", inode: 81), P.copy("training", "x/a.pdf", inode: 82),
                            P.copy("training", "x/b.pdf", inode: 82)])
        let plan = try P.plan([a], P.settings(duplicates: .remove))
        let removes = plan.operations.filter { $0.kind == .removeDuplicate }
        #expect(removes.count == 2)
        #expect(removes.allSatisfy { $0.reason.contains("one of 2 names of one file") && $0.canonicalOp == 1 })
        let summary = PlanSummary.of(plan)
        #expect(summary.bytesFreed == 100)
        #expect(summary.byKind["remove-duplicate"]?.operations == 2)
        #expect(summary.leftBehind.byReason["copied"] == 1 && summary.leftBehind.entries == 1)
    }

    static func removalPlan() throws -> MergePlan {
        let a = P.asset(9, [P.copy("marketing", "m.jpg", inode: 91), P.copy("hr", "h.jpg", inode: 92),
                            P.copy("training", "t.jpg", inode: 93), P.copy("training", "link-to-m.jpg", inode: 91)])
        let b = P.asset(10, [P.copy("marketing", "n.jpg", inode: 101), P.copy("hr", "n.jpg", inode: 102)])
        let plan = try P.plan([a, b], P.settings(duplicates: .remove))
        #expect(PlanValidator.problems(in: plan).isEmpty)
        return plan
    }

    static func expectRejected(_ plan: MergePlan, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let problems = PlanValidator.invariantProblems(in: plan)
        #expect(problems.contains { $0.description.contains(text) }, "\(problems)", sourceLocation: sourceLocation)
    }

    @Test("the validator rejects hand-edited plans that would remove the last copy")
    func validatorRejectsEdits() throws {
        let plan = try Self.removalPlan()
        let copyA = try #require(P.transfer(plan, 9))
        let copyB = try #require(P.transfer(plan, 10))
        let removeA = try #require(plan.operations.first { $0.kind == .removeDuplicate && $0.canonicalOp == copyA.id })
        // The hard link of the canonical copy (training/link-to-m.jpg) is not planned for removal.
        #expect(!plan.operations.contains { $0.source?.path == RelativePath("link-to-m.jpg") })

        var p = plan
        p.operations.removeAll { $0.id == copyA.id }
        Self.expectRejected(p, "is not in the plan")

        p = plan
        p.operations[p.operations.firstIndex { $0.id == removeA.id }!].canonicalOp = nil
        Self.expectRejected(p, "names no canonical operation")

        p = plan
        p.operations[p.operations.firstIndex { $0.id == removeA.id }!].canonicalOp = copyB.id
        Self.expectRejected(p, "is of another content")

        p = plan
        p.operations[p.operations.firstIndex { $0.id == removeA.id }!].canonicalOp = p.operations.last!.id
        Self.expectRejected(p, "comes after it")

        // Removing the canonical copy's own file, under its name or another (a hard link).
        for path in ["m.jpg", "link-to-m.jpg"] {
            p = plan
            var edited = removeA
            edited.id = p.operations.last!.id + 1
            edited.source!.silo = path == "m.jpg" ? "marketing" : "training"
            edited.source!.path = RelativePath(path)
            edited.source!.inode = 91
            p.operations.append(edited)
            Self.expectRejected(p, "hard link to the canonical copy's own file")
        }

        // One file taken twice.
        p = plan
        var twice = removeA
        twice.id = p.operations.last!.id + 1
        twice.kind = .quarantineDuplicate
        twice.destination = RelativePath("hr/h.jpg")
        p.operations.append(twice)
        Self.expectRejected(p, "a file can be taken away only once")

        // Turning the canonical transfer into something that brings nothing into the target.
        p = plan
        p.operations[p.operations.firstIndex { $0.id == copyA.id }!].kind = .removeDuplicate
        #expect(!PlanValidator.problems(in: p).isEmpty)
    }

    @Test("names and silo names that differ only by Unicode form are different files: each is taken away once, none refused")
    func unicodeFormsAreDifferentNames() throws {
        let nfc = Array("dup/caf\u{E9}.jpg".utf8), nfd = Array("dup/cafe\u{301}.jpg".utf8)
        #expect(String(decoding: nfc, as: UTF8.self) == String(decoding: nfd, as: UTF8.self))   // one string to Swift
        let a = P.asset(21, [P.copy("marketing", "a.jpg", inode: 211), P.copy("hr", nfc, inode: 212)])
        let b = P.asset(22, [P.copy("marketing", "b.jpg", inode: 221), P.copy("hr", nfd, inode: 222)])
        for action in [DuplicateAction.remove, .quarantine, .hardlink] {
            for transfer in [TransferMethod.move, .copy] {
                let plan = try P.plan([a, b], P.settings(duplicates: action, transfer: transfer))
                let taken = plan.operations.filter { $0.kind.isDuplicateAction }.map { $0.source!.path.bytes }
                #expect(Set(taken) == [nfc, nfd], "\(action) \(transfer)")
                #expect(PlanValidator.problems(in: plan).isEmpty, "\(action) \(transfer)")
            }
        }
        // Two silos whose names differ only by Unicode form are two silos.
        let silos = [PlanSilo(name: "caf\u{E9}", root: FilePath("/srv/one"), priority: 1),
                     PlanSilo(name: "cafe\u{301}", root: FilePath("/srv/two"), priority: 2)]
        func copy(_ silo: PlanSilo, _ inode: UInt64) -> AssetCopy {
            AssetCopy(silo: silo.name, siloPriority: silo.priority, path: RelativePath("x.jpg"), size: 100, mtimeNs: 0, uid: 0, gid: 0,
                      device: 1, inode: inode, absolutePath: silo.root.appending(RelativePath("x.jpg")))
        }
        let input = PlanInput(assets: [P.asset(23, [copy(silos[0], 231), copy(silos[1], 232)])], silos: silos,
                              catalogueIdentity: "c", scanRunID: 1, createdAt: Date(timeIntervalSince1970: 0))
        let plan = try Planner(settings: P.settings(duplicates: .remove, transfer: .move)).plan(input)
        let removed = try #require(plan.operations.first { $0.kind == .removeDuplicate }?.source)
        #expect(removed.silo.exactBytes == silos[1].name.exactBytes && removed.siloRoot == FilePath("/srv/two"))
        #expect(PlanValidator.problems(in: plan).isEmpty)
    }

    @Test("a plan file edited by hand (JSON) is checked the same way")
    func editedJSON() throws {
        let plan = try Self.removalPlan()
        let copyA = try #require(P.transfer(plan, 9))
        var json = try #require(try JSONSerialization.jsonObject(with: Data(try PlanFile.encode(plan))) as? [String: Any])
        var ops = try #require(json["operations"] as? [[String: Any]])
        ops.removeAll { ($0["id"] as? Int) == copyA.id }
        json["operations"] = ops
        let edited = try PlanFile.decode(Array(try JSONSerialization.data(withJSONObject: json)))
        let problems = PlanValidator.problems(in: edited)
        #expect(problems.count == 2)                         // both removals of that content
        #expect(problems.allSatisfy { $0.reason.contains("canonical operation \(copyA.id) is not in the plan") })
    }

    @Test("the planner checks its own output")
    func plannerSelfCheck() throws {
        // Every plan the planner makes passes the validator, whatever the options.
        for transfer in TransferMethod.allCases {
            for action in DuplicateAction.allCases {
                var settings = P.settings("{year}/{month}/{name}", duplicates: action, transfer: transfer)
                settings.allowConflicts = true
                settings.writeSidecars = true
                settings.writeManifest = true
                let plan = try P.plan([PlanCanonicalTests.hero, Self.conflicted] + PlanCollisionTests.colliding, settings)
                #expect(PlanValidator.problems(in: plan).isEmpty, "\(transfer) \(action)")
                // Every content has exactly one transfer into the target.
                let transfers = plan.operations.filter { $0.kind.isTransfer }
                #expect(transfers.count == 5)
                #expect(Set(transfers.map { $0.source!.sha256 }).count == 5)
                #expect(plan.operations.allSatisfy { !$0.reason.isEmpty })
            }
        }
    }

    @Test("settings that cannot work are refused")
    func badSettings() throws {
        #expect(throws: PlanError.self) { try Planner(settings: PlanSettings(targetRoot: FilePath("relative/target"))) }
        let overlap = #expect(throws: PlanError.self) {
            try Planner(settings: PlanSettings(targetRoot: FilePath("/srv/hr/merged"))).plan(P.input([PlanCanonicalTests.hero]))
        }
        #expect(overlap?.description.contains("overlaps silo 'hr'") == true)
        // The quarantine folder may not lie in a silo either (what `plan --quarantine` refuses).
        let quarantine = #expect(throws: PlanError.self) {
            try Planner(settings: PlanSettings(targetRoot: FilePath("/srv/merged"), duplicates: .quarantine,
                                               quarantineRoot: FilePath("/srv/hr/held"))).plan(P.input([PlanCanonicalTests.hero]))
        }
        #expect(quarantine?.description.contains("the quarantine folder /srv/hr/held overlaps silo 'hr'") == true)
        let stray = P.asset(11, [AssetCopy(silo: "finance", siloPriority: 9, path: RelativePath("x"), size: 1, mtimeNs: 0, uid: 0, gid: 0,
                                           device: 1, inode: 1, absolutePath: FilePath("/srv/finance/x"))])
        do { _ = try P.plan([stray]); Issue.record("planned") } catch {
            #expect(error == .unknownSilo(name: "finance", asset: stray.shortID))
        }
    }
}

// MARK: - Sidecars, manifest, summary

@Suite("Plan: sidecars, manifest and summary")
struct PlanOutputTests {
    @Test("sidecars beside each file: stem.xmp, or name.ext.xmp when two formats share a stem; the manifest at the root")
    func sidecarsAndManifest() throws {
        let assets = [
            P.asset(1, [P.copy("hr", "photo.jpg", inode: 1)], fields: [P.field(.title, .text("One")), P.field(.keywords, .list(["a", "b"]))]),
            P.asset(2, [P.copy("hr", "photo.png", inode: 2)], format: .png),
            P.asset(3, [P.copy("hr", "meta.xmp", inode: 3)], format: .xmp),
        ]
        var settings = P.settings("{name}")
        settings.writeSidecars = true
        settings.writeManifest = true
        let plan = try P.plan(assets, settings)
        let sidecars = plan.operations.filter { $0.kind == .xmpSidecar }
        #expect(sidecars.count == 2)                                     // not for the XMP file itself
        let names = Set(sidecars.compactMap { $0.destination?.string })
        #expect(names.count == 2)
        #expect(names.contains("photo.xmp"))
        #expect(names.contains("photo.jpg.xmp") || names.contains("photo.png.xmp"))
        let one = try #require(sidecars.first { $0.canonicalOp == P.transfer(plan, 1)?.id })
        #expect(one.content?.contains("<rdf:li xml:lang=\"x-default\">One</rdf:li>") == true)
        #expect(one.content?.contains("<rdf:li>b</rdf:li>") == true)
        #expect(one.contentSHA256 == (try SHA256Hasher.digest(Array(one.content!.utf8)).hex))
        let manifest = try #require(plan.operations.first { $0.kind == .importManifest })
        #expect(manifest.destination?.string == "silomerge-manifest.csv")
        let rows = manifest.content!.split(separator: "\r\n")
        #expect(rows.count == 4)
        #expect(rows[0].hasPrefix("path,sha256,size,format,title"))
        #expect(rows.contains { $0.hasPrefix("photo.jpg,\(P.sha(1).hex),100,jpeg,One,,a; b,") })
        // Sidecars and the manifest come after the files they describe.
        let lastTransfer = plan.operations.lastIndex { $0.kind.isTransfer }!
        #expect(plan.operations.firstIndex { $0.kind.isGenerated }! > lastTransfer)
    }

    @Test("the summary: operations and bytes by kind, collisions, conflicts, what stays untouched")
    func summary() throws {
        var settings = P.settings("{name}", duplicates: .quarantine)
        settings.allowConflicts = true
        let assets = PlanCollisionTests.colliding + [PlanCanonicalTests.hero, PlanInvariantTests.conflicted]
        let plan = try P.plan(assets, settings)
        let s = PlanSummary.of(plan)
        #expect(s.contents == 5)
        #expect(s.byKind["copy"]?.operations == 5)
        #expect(s.byKind["copy"]?.bytes == 500)
        #expect(s.byKind["quarantine-duplicate"]?.operations == 3)          // hero: 2, conflicted: 1
        #expect(s.bytesWritten == 500)
        #expect(s.bytesFreed == 300)
        #expect(s.collisions == 1)
        #expect(s.renamed == 2)
        #expect(s.conflicts == 1)
        #expect(s.leftBehind.entries == 5 && s.leftBehind.byReason == ["copied": 5] && s.leftBehind.inTarget == 5)
        #expect(s.quarantineRoot == "/srv/merged/.silomerge-quarantine")
        #expect(s.kindsInOrder.map(\.kind) == [.copy, .quarantineDuplicate])
        #expect(s.operations == plan.operations.count)
    }
}

// MARK: - Original sidecars and what stays behind

@Suite("Plan: original sidecars travel beside their files; everything else is listed as left behind")
struct PlanSidecarCarryTests {
    static func sidecar(_ silo: String, _ path: String, of asset: String, form: SidecarForm, sha: Int? = 900, inode: UInt64,
                        used: Bool = true) -> SidecarFileRecord {
        SidecarFileRecord(silo: silo, path: RelativePath(path), assetPath: RelativePath(asset), size: 50, mtimeNs: 0, device: 1,
                          inode: inode, sha256: sha.map { P.sha($0) }, form: form, used: used)
    }

    /// photo.jpg (marketing, with a copy in hr) and photo.png share marketing's folder; doc.pdf
    /// has a sidecar the scan did not hash; unhashed, junk and a symlink come from the catalogue.
    static func input() -> (PlanInput, [ReconciledAsset]) {
        let assets = [
            P.asset(31, [P.copy("marketing", "shoot/photo.jpg", inode: 1), P.copy("hr", "photo.jpg", inode: 2),
                         P.copy("marketing", "links/photo-link.jpg", inode: 1)]),
            P.asset(32, [P.copy("marketing", "shoot/photo.png", inode: 3)], format: .png),
            P.asset(33, [P.copy("training", "doc.pdf", inode: 4)], format: .pdf),
        ]
        let sidecars = [
            sidecar("marketing", "shoot/photo.jpg.xmp", of: "shoot/photo.jpg", form: .nameWithExtension, inode: 11),
            sidecar("marketing", "shoot/photo.xmp", of: "shoot/photo.jpg", form: .name, sha: 901, inode: 12, used: false),
            sidecar("marketing", "shoot/photo.xmp", of: "shoot/photo.png", form: .name, sha: 901, inode: 12),
            sidecar("hr", "photo.xmp", of: "photo.jpg", form: .name, sha: 902, inode: 13),
            sidecar("training", "doc.xmp", of: "doc.pdf", form: .name, sha: nil, inode: 14),
            sidecar("training", "gone.xmp", of: "gone.tif", form: .name, sha: 903, inode: 15),
        ]
        var input = P.input(assets)
        input.sidecars = sidecars.reversed()     // the order given never matters
        input.unhashed = [UnhashedFileRecord(silo: "training", path: RelativePath("gone.tif"), size: 7, problem: nil),
                          UnhashedFileRecord(silo: "hr", path: RelativePath("locked.jpg"), size: 9, problem: "cannot read it: Permission denied")]
        input.uncatalogued = [UncataloguedRecord(silo: "hr", path: RelativePath("Thumbs.db"), kind: .regular, reason: .ignored,
                                                 detail: "default ignore list: Thumbs.db", size: 3),
                              UncataloguedRecord(silo: "marketing", path: RelativePath("link"), kind: .symlink, reason: .symlink,
                                                 detail: "symbolic link, not followed", size: nil)]
        return (input, assets)
    }

    static func plan(_ transfer: TransferMethod, duplicates: DuplicateAction = .remove, carry: Bool = true) throws -> MergePlan {
        var settings = P.settings("{name}", duplicates: duplicates, transfer: transfer)
        settings.carrySidecars = carry
        return try Planner(settings: settings).plan(input().0)
    }

    static func reasons(_ plan: MergePlan) -> [String: LeftBehindReason] {
        Dictionary(uniqueKeysWithValues: plan.leftBehind.map { ($0.display, $0.reason) })
    }

    @Test("a canonical copy's sidecars travel beside it by its method; a shared one is copied beside each file and stays")
    func carried() throws {
        let plan = try Self.plan(.move)
        #expect(PlanValidator.problems(in: plan).isEmpty, "\(PlanValidator.problems(in: plan))")
        let ops = plan.operations.filter { $0.kind.isSidecarTransfer }
        let byDest = Dictionary(uniqueKeysWithValues: ops.map { ($0.destination!.string!, $0) })
        // photo.jpg.xmp is photo.jpg's alone: moved beside it, keeping its form.
        #expect(byDest["photo.jpg.xmp"]?.kind == .sidecarMove)
        #expect(byDest["photo.jpg.xmp"]?.source?.path == RelativePath("shoot/photo.jpg.xmp"))
        #expect(byDest["photo.jpg.xmp"]?.canonicalOp == P.transfer(plan, 31)?.id)
        // photo.xmp belongs to photo.jpg and photo.png: copied beside each, under a name that
        // stays theirs (photo.jpg.xmp is taken; photo.png.xmp since photo.* share a folder).
        #expect(byDest["photo.xmp"]?.kind == .sidecarCopy && byDest["photo.xmp"]?.canonicalOp == P.transfer(plan, 31)?.id)
        #expect(byDest["photo.png.xmp"]?.kind == .sidecarCopy && byDest["photo.png.xmp"]?.canonicalOp == P.transfer(plan, 32)?.id)
        #expect(ops.count == 3)
        // Sidecar operations come after every transfer, before the duplicate actions.
        let firstSidecar = plan.operations.firstIndex { $0.kind.isSidecarTransfer }!
        #expect(plan.operations[..<firstSidecar].allSatisfy { $0.kind.isTransfer })
        #expect(plan.operations[firstSidecar...].allSatisfy { !$0.kind.isTransfer })
        let reasons = Self.reasons(plan)
        #expect(reasons == [
            "marketing:shoot/photo.xmp": .sidecarShared,
            "hr:photo.xmp": .sidecarOfDuplicate,
            "training:doc.xmp": .sidecarNotHashed,
            "training:gone.xmp": .sidecarOfUnplanned,
            "training:gone.tif": .unhashed,
            "hr:locked.jpg": .unreadable,
            "hr:Thumbs.db": .ignored,
            "marketing:link": .symlink,
            "marketing:links/photo-link.jpg": .hardLink,
        ])
        // Sorted by silo, then path bytes.
        let order = plan.leftBehind.map { Array($0.silo.utf8) + [0] + $0.path.bytes }
        #expect(order == order.sorted { $0.lexicographicallyPrecedes($1) })
        let s = PlanSummary.of(plan)
        #expect(s.leftBehind.entries == 9 && s.leftBehind.inTarget == 2 && s.leftBehind.onlyInSilos == 7)
        // The moved file's other name stays, and undo links the moved name back to it.
        #expect(P.transfer(plan, 31)?.hardLinks == [SiloName(silo: "marketing", path: RelativePath("links/photo-link.jpg"))])
        #expect(s.byKind["sidecar-move"]?.operations == 1 && s.byKind["sidecar-copy"]?.operations == 2)
        #expect(s.contents == 3)
    }

    @Test("every catalogued name is accounted for: named by an operation, or left behind; with copy the sources are listed as copied",
          arguments: [TransferMethod.copy, .move, .hardlink], [DuplicateAction.keep, .remove, .hardlink])
    func everyNameAccountedFor(_ transfer: TransferMethod, _ duplicates: DuplicateAction) throws {
        let plan = try Self.plan(transfer, duplicates: duplicates)
        #expect(PlanValidator.problems(in: plan).isEmpty)
        let (input, assets) = Self.input()
        let catalogued = Set(assets.flatMap { $0.copies.map { "\($0.silo):\($0.path.display)" } }
                             + input.sidecars.map { "\($0.silo):\($0.path.display)" })
        let named = Set(plan.operations.compactMap { $0.source?.display })
        let left = Set(plan.leftBehind.map(\.display))
        #expect(catalogued.subtracting(named).subtracting(left).isEmpty, "unaccounted: \(catalogued.subtracting(named).subtracting(left))")
        // What stays after apply: not moved, removed or quarantined.
        for op in plan.operations where op.kind.isDestructive && op.kind != .linkDuplicate {
            #expect(!left.contains(op.source!.display), "\(op.display) takes it away, yet it is listed as left behind")
        }
        for op in plan.operations where op.source != nil && !op.kind.isDestructive || op.kind == .linkDuplicate {
            #expect(left.contains(op.source!.display), "\(op.display) leaves it in its silo, yet it is not listed")
        }
    }

    @Test("--no-sidecars: the originals stay, listed; nothing else changes")
    func notCarried() throws {
        let plan = try Self.plan(.move, carry: false)
        #expect(!plan.operations.contains { $0.kind.isSidecarTransfer })
        let reasons = Self.reasons(plan)
        #expect(reasons["marketing:shoot/photo.jpg.xmp"] == .sidecarNotCarried)
        #expect(reasons["marketing:shoot/photo.xmp"] == .sidecarNotCarried)
        #expect(reasons["hr:photo.xmp"] == .sidecarOfDuplicate)
        #expect(PlanSummary.of(plan).carrySidecars == false)
    }

    @Test("hand-edited sidecar operations are refused: elsewhere than beside their file, not an .xmp, no canonical transfer")
    func validatorChecksSidecars() throws {
        let plan = try Self.plan(.move)
        let index = plan.operations.firstIndex { $0.kind == .sidecarMove }!
        func rejected(_ edit: (inout PlanOperation) -> Void, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
            var p = plan
            edit(&p.operations[index])
            let problems = PlanValidator.problems(in: p)
            #expect(problems.contains { $0.reason.contains(text) }, "\(problems)", sourceLocation: sourceLocation)
        }
        rejected({ $0.destination = RelativePath("elsewhere/photo.jpg.xmp") }, "does not land beside its file")
        rejected({ $0.source!.path = RelativePath("shoot/photo.jpg") }, "carries .xmp files only")
        rejected({ $0.source!.path = RelativePath("other/photo.jpg.xmp") }, "not in the folder of its file")
        rejected({ $0.canonicalOp = nil }, "names no canonical operation")
        rejected({ $0.canonicalOp = plan.operations.last!.id }, "not a content transfer")
        rejected({ $0.fallbackToCopy = true }, "fallback_to_copy only applies to hardlink")
        // Moving it twice is taking one file away twice.
        var p = plan
        var twice = plan.operations[index]
        twice.id = p.operations.last!.id + 1
        twice.destination = RelativePath("photo-again.xmp")
        p.operations.append(twice)
        #expect(PlanValidator.problems(in: p).contains { $0.reason.contains("taken away only once") })
    }
}
