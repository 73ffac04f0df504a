import Foundation

/// What a `quarantine-duplicate` operation of a keep-master plan records about the derivative it
/// moves: the master's content (whose transfer is the operation's `canonical_op`), how far the
/// two perceptual hashes are apart, and both sizes in pixels.
public struct PlanDerivativeOf: Sendable, Hashable, Codable {
    /// The master's content (lower-case hex).
    public var sha256: String
    /// Hamming distance of the two perceptual hashes, in bits of 64.
    public var distance: Int
    public var width: Int
    public var height: Int
    public var masterWidth: Int
    public var masterHeight: Int

    public init(sha256: String, distance: Int, width: Int, height: Int, masterWidth: Int, masterHeight: Int) {
        self.sha256 = sha256; self.distance = distance; self.width = width; self.height = height
        self.masterWidth = masterWidth; self.masterHeight = masterHeight
    }

    enum CodingKeys: String, CodingKey {
        case sha256, distance, width, height, masterWidth = "master_width", masterHeight = "master_height"
    }
}

/// `plan --derivatives keep-master`: the master of each group of similar images
/// (`SimilarImages`: the same photo at another size, quality, format, crop or orientation) is
/// planned as usual, and every copy of each of its derivatives is moved to the quarantine
/// folder (whatever `--duplicates` says), once the master is verified in the target.
///
/// The safety rules, each a reason a derivative is planned as usual instead, said on its
/// transfer:
/// - **Its master is carried by the plan.** A derivative is quarantined only when the plan
///   places its master's content in the target; the quarantine operation names the master's
///   transfer as its canonical operation, so apply moves the derivative only after the master
///   is written and verified (and checks the derivative's own bytes first, as for any
///   quarantined duplicate). A master that is not carried keeps its derivatives.
/// - **Nothing the plan must keep.** A derivative that lies in a folder kept whole
///   (`--keep-folders`) is kept: the folder would not be whole without it. A derivative with a
///   copy on another host than its master's canonical copy is kept: a host acts only on what
///   follows copies it carries itself. (Open corruption refuses the whole plan, so a master
///   whose copies are rot is never taken.)
/// - **All or nothing per content.** Either every copy of a derivative goes to quarantine, or
///   the content is planned like any other (its duplicates as `--duplicates` says).
///
/// Nothing is deleted: quarantine keeps the bytes (under `<silo>/<path>`), and undo puts them
/// back.
struct DerivativePlan {
    struct Link {
        /// The master's content; nil when no asset of the plan holds it.
        var master: SHA256Digest?
        var masterImage: SimilarImages.Image
        var image: SimilarImages.Image
        var distance: Int
        var transform: String
    }

    /// A derivative content taken out of the placements: every copy goes to quarantine.
    struct Quarantined {
        var asset: ReconciledAsset
        var link: Link
        var master: SHA256Digest
    }

    /// Each derivative content's link to its master.
    private(set) var links: [SHA256Digest: Link] = [:]

    /// The links of `groups` whose images the assets hold (an image is found by the copy
    /// `SimilarImages` shows for it).
    init(groups: [SimilarImages.Group], assets: [ReconciledAsset]) {
        guard !groups.isEmpty else { return }
        func key(_ silo: String, _ path: RelativePath) -> [UInt8] { silo.exactBytes + [0] + path.bytes }
        var content: [[UInt8]: SHA256Digest] = [:]
        for a in assets { for c in a.copies { content[key(c.silo, c.path)] = a.sha256 } }
        for g in groups {
            let m = content[key(g.master.silo, g.master.path)]
            for d in g.derivatives {
                guard let sha = content[key(d.image.silo, d.image.path)], sha != m, links[sha] == nil else { continue }
                links[sha] = Link(master: m, masterImage: g.master, image: d.image, distance: d.distance, transform: d.transform)
            }
        }
    }

    var isEmpty: Bool { links.isEmpty }

    static func size(_ i: SimilarImages.Image) -> String { "\(i.width)×\(i.height) \(i.format)" }

    /// Takes the derivatives out of `placed` (those the rules let go), and says on the others
    /// and on each master why.
    func apply(to placed: inout [Planner.Placed]) -> [Quarantined] {
        guard !links.isEmpty else { return [] }
        var firstOf: [SHA256Digest: Int] = [:]
        for (i, p) in placed.enumerated() where !p.extra && firstOf[p.asset.sha256] == nil { firstOf[p.asset.sha256] = i }
        var out: [Quarantined] = []
        var leaving: Set<SHA256Digest> = []
        var perMaster: [SHA256Digest: Int] = [:]
        for sha in links.keys.sorted() {
            let link = links[sha]!
            guard let i = firstOf[sha] else { continue }
            let p = placed[i]
            let of = "a derivative of \(link.masterImage.silo):\(link.masterImage.path.display) (\(Self.size(link.masterImage))), "
                + "itself \(Self.size(link.image)) at distance \(link.distance)"
            func keep(_ why: String) {
                for j in placed.indices where placed[j].asset.sha256 == sha {
                    placed[j].choiceReason += "; \(of): planned as usual (--derivatives keep-master), \(why)"
                }
            }
            guard let master = link.master, let m = firstOf[master], links[master] == nil else {
                keep("as its master is not carried by this plan")
                continue
            }
            if let kept = placed.first(where: { $0.asset.sha256 == sha && $0.keptFolder != nil })?.keptFolder {
                keep("as it lies in \(kept.silo):\(kept.display)/, a folder kept whole (--keep-folders)")
                continue
            }
            let masterCopy = placed[m].canonical
            if let away = p.asset.copies.sorted(by: CanonicalChooser.stableOrder).first(where: { $0.host != masterCopy.host }) {
                keep("as its copy \(away.silo):\(away.path.display) is on another host than the master's canonical copy "
                     + "\(masterCopy.silo):\(masterCopy.path.display): a host acts only on what follows copies it carries itself")
                continue
            }
            leaving.insert(sha)
            perMaster[master, default: 0] += 1
            out.append(Quarantined(asset: p.asset, link: link, master: master))
        }
        for (master, n) in perMaster {
            placed[firstOf[master]!].choiceReason += "; the master of \(Format.plural(n, "derivative")), which go\(n == 1 ? "es" : "") to quarantine (--derivatives keep-master)"
        }
        placed.removeAll { leaving.contains($0.asset.sha256) }
        return out
    }

    /// Each copy of a quarantined derivative as a quarantine operation (ids to be numbered),
    /// following the transfer of its master (`masterOp`, placed at `masterDestination`).
    static func operations(_ d: Quarantined, masterOp: Int, masterCopy: AssetCopy, masterDestination: String,
                           silos: [[UInt8]: PlanSilo]) -> [PlanOperation] {
        let copies = d.asset.copies.sorted(by: CanonicalChooser.stableOrder)
        let namesPerFile = Dictionary(grouping: copies, by: \.physicalFile).mapValues(\.count)
        let l = d.link
        let how = l.transform == PerceptualHash.dihedralName(0) ? "" : ", \(l.transform)"
        let of = PlanDerivativeOf(sha256: d.master.hex, distance: l.distance, width: l.image.width, height: l.image.height,
                                  masterWidth: l.masterImage.width, masterHeight: l.masterImage.height)
        return copies.map { copy in
            var reason = "derivative of \(masterCopy.silo):\(masterCopy.path.display) (the master, \(Self.size(l.masterImage)), → \(masterDestination)): "
                + "\(Self.size(l.image)), perceptual distance \(l.distance) bits\(how); moved to the quarantine folder "
                + "(--derivatives keep-master) once the master is verified in the target, its own bytes verified first"
            if let n = namesPerFile[copy.physicalFile], n > 1 { reason += "; one of \(n) names of one file, each moved" }
            return PlanOperation(id: 0, kind: .quarantineDuplicate, source: Planner.source(copy, asset: d.asset, silos: silos),
                                 destination: RelativePath(NameSanitizer.component(copy.silo)).appending(copy.path.bytes),
                                 canonicalOp: masterOp, reason: reason, derivativeOf: of)
        }
    }
}
