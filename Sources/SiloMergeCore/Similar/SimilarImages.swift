import Foundation

/// A catalogued file whose content has a perceptual hash (`CatalogueWrite.fingerprint`).
public struct SimilarImageFile: Sendable, Hashable {
    public var fileID: Int64
    public var siloID: Int64
    public var path: RelativePath
    public var size: Int64
    public var sha256: SHA256Digest
    public var fingerprint: ImageFingerprint
    /// How many unified metadata fields the file has (embedded, sidecar or manifest).
    public var metadataFields: Int
    /// Its `date_created` as stored (a JSON string: "2023-06-14T18:32:07.12"), the file's own
    /// choice first; nil when it has none.
    public var dateCreated: String?

    package init(fileID: Int64, siloID: Int64, path: RelativePath, size: Int64, sha256: SHA256Digest,
                 fingerprint: ImageFingerprint, metadataFields: Int, dateCreated: String? = nil) {
        self.fileID = fileID; self.siloID = siloID; self.path = path; self.size = size; self.sha256 = sha256
        self.fingerprint = fingerprint; self.metadataFields = metadataFields; self.dateCreated = dateCreated
    }

    /// When the photo was taken, to the second or finer (nil: unknown, or only a day).
    public var captureTime: CaptureTime? {
        guard let dateCreated, let text = try? JSONDecoder().decode(String.self, from: Data(dateCreated.utf8)) else { return nil }
        return CaptureTime(iso: text)
    }
}

/// The store side of `duplicates --similar` and audit's SIMILAR IMAGES section.
public protocol SimilarImageSource: AnyObject, Sendable {
    /// Every file of these silos (nil: every silo) whose content has a perceptual hash, in
    /// (silo id, path) order.
    func similarImageFiles(siloIDs: [Int64]?) throws -> [SimilarImageFile]
}

/// The same photo at another size, quality, format, crop or orientation, found among the
/// catalogue's perceptual hashes (`DerivativeGrouping`: neighbours from a Hamming index, never
/// all pairs). Two images whose capture times (`date_created`) differ are two shots of a
/// burst, never a photo and its derivative, however alike they look. One candidate per content: the copies of one content are the same bytes, which
/// `duplicates` already lists; here each content is shown by its copy in the silo of best
/// priority (then by path), with its number of copies.
public struct SimilarImages: Sendable {
    public struct Image: Sendable, Hashable {
        public var silo: String
        public var siloPriority: Int
        public var path: RelativePath
        public var size: Int64
        public var width: Int
        public var height: Int
        /// The decoder's name of the format: jpeg, png, webp, tiff, heif.
        public var format: String
        /// Files holding this content (1: no exact copy).
        public var copies: Int
        public var metadataFields: Int
        /// The content (every copy of it is this image).
        public var sha256: SHA256Digest
    }

    public struct Derivative: Sendable, Hashable {
        public var image: Image
        /// Hamming distance of its hash from the master's (or from the master's turned or mirrored hash).
        public var distance: Int
        /// How it shows the master: "as is", "turned 90° clockwise", ...
        public var transform: String
    }

    public struct Group: Sendable, Hashable {
        public var master: Image
        /// Why this one is the master: most pixels, richest metadata, silo priority, first by id.
        public var reason: String
        public var derivatives: [Derivative]
    }

    public var groups: [Group]
    /// Contents with a perceptual hash that were compared.
    public var images: Int
    public var threshold: Int
    /// Contents with a perceptual hash left out for their size: under
    /// `DerivativeGrouping.minimumSide` pixels on a side (icons, test patterns).
    public var tooSmall = 0

    /// Groups the images of `files`. `silos` gives the names and priorities.
    public static func find(_ files: [SimilarImageFile], silos: [Silo],
                            threshold: Int = DerivativeGrouping.defaultMaxDistance) -> SimilarImages {
        let siloByID = Dictionary(uniqueKeysWithValues: silos.map { ($0.id, $0) })
        var byContent: [SHA256Digest: [SimilarImageFile]] = [:]
        for f in files where siloByID[f.siloID] != nil { byContent[f.sha256, default: []].append(f) }
        var images: [String: Image] = [:]
        var candidates: [DerivativeCandidate<String>] = []
        for (sha, copies) in byContent {
            let shown = copies.min { a, b in
                let pa = siloByID[a.siloID]!.priority, pb = siloByID[b.siloID]!.priority
                if pa != pb { return pa < pb }
                if a.siloID != b.siloID { return siloByID[a.siloID]!.name < siloByID[b.siloID]!.name }
                return a.path < b.path
            }!
            let silo = siloByID[shown.siloID]!
            let richness = copies.map(\.metadataFields).max() ?? 0
            let image = Image(silo: silo.name, siloPriority: silo.priority, path: shown.path, size: shown.size,
                              width: shown.fingerprint.width, height: shown.fingerprint.height,
                              format: shown.fingerprint.decoder, copies: copies.count, metadataFields: richness, sha256: sha)
            // The id orders ties: silo priority, silo name, then path, as people read them.
            let id = "\(String(format: "%010d", silo.priority + 1_000_000_000))\u{0}\(silo.name)\u{0}\(shown.path.display)\u{0}\(sha.hex)"
            images[id] = image
            candidates.append(DerivativeCandidate(id: id, hash: shown.fingerprint.hash,
                                                  width: shown.fingerprint.width, height: shown.fingerprint.height,
                                                  metadataRichness: richness,
                                                  siloPriority: copies.map { siloByID[$0.siloID]!.priority }.min()!,
                                                  captureTime: copies.lazy.compactMap(\.captureTime).first))
        }
        let tooSmall = candidates.count { !DerivativeGrouping.comparable(width: $0.width, height: $0.height) }
        let groups = DerivativeGrouping.group(candidates, maxDistance: threshold, turnsAndMirrors: true,
                                              separateCaptureTimes: true)
        return SimilarImages(groups: groups.map { g in
            Group(master: images[g.master.id]!, reason: g.reason.rawValue, derivatives: g.derivatives.map {
                Derivative(image: images[$0.candidate.id]!, distance: $0.distance, transform: PerceptualHash.dihedralName($0.transform))
            })
        }.sorted { a, b in
            // Largest groups first, then by the master's silo and path.
            if a.derivatives.count != b.derivatives.count { return a.derivatives.count > b.derivatives.count }
            if a.master.silo != b.master.silo { return a.master.silo < b.master.silo }
            return a.master.path < b.master.path
        }, images: candidates.count - tooSmall, threshold: threshold, tooSmall: tooSmall)
    }

    /// Reads the catalogue's perceptual hashes for these silos (nil: all) and groups them.
    public static func find(in store: any SimilarImageSource, silos: [Silo], only names: [String] = [],
                            threshold: Int = DerivativeGrouping.defaultMaxDistance) throws -> SimilarImages {
        let chosen = names.isEmpty ? silos : silos.filter { names.contains($0.name) }
        let files = try store.similarImageFiles(siloIDs: names.isEmpty ? nil : chosen.map(\.id))
        return find(files, silos: chosen, threshold: threshold)
    }

    public var derivativeCount: Int { groups.reduce(0) { $0 + $1.derivatives.count } }
    /// Bytes of the derivatives (one copy each): what keeping only the masters would leave out.
    public var derivativeBytes: Int64 { groups.reduce(0) { $0 + $1.derivatives.reduce(0) { $0 + $1.image.size } } }

    // MARK: Output

    /// `{"similar_image_groups":[{"master":{…},"reason","derivatives":[{…,"distance","transform"}]}],
    /// "summary":{"images","groups","derivatives","derivative_bytes","threshold","too_small"}}`.
    public func writeJSON(to sink: ReportSink, limit: Int? = nil) throws {
        let encoder = JSONOutput.encoder()
        sink.write("{\"similar_image_groups\":[")
        for (i, g) in groups.prefix(limit ?? groups.count).enumerated() {
            sink.write(i == 0 ? "\n" : ",\n")
            sink.write(bytes: [UInt8](try encoder.encode(GroupJSON(g: g))))
        }
        sink.write(groups.isEmpty ? "]," : "\n],")
        sink.write("\"summary\":")
        sink.write(bytes: [UInt8](try encoder.encode(SummaryJSON(s: self))))
        sink.write("}\n")
    }

    struct ImageJSON: Encodable {
        let i: Image
        var derivative: Derivative? = nil
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(i.silo, "silo"); try c.encodePath(i.path); try c.put(i.width, "width"); try c.put(i.height, "height")
            try c.put(i.format, "format"); try c.put(i.size, "size"); try c.put(i.copies, "copies")
            try c.put(i.metadataFields, "metadata_fields")
            if let derivative { try c.put(derivative.distance, "distance"); try c.put(derivative.transform, "transform") }
        }
    }

    struct GroupJSON: Encodable {
        let g: Group
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(ImageJSON(i: g.master), "master"); try c.put(g.reason, "reason")
            try c.put(g.derivatives.map { ImageJSON(i: $0.image, derivative: $0) }, "derivatives")
        }
    }

    struct SummaryJSON: Encodable {
        let s: SimilarImages
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            try c.put(s.images, "images"); try c.put(s.groups.count, "groups"); try c.put(s.derivativeCount, "derivatives")
            try c.put(s.derivativeBytes, "derivative_bytes"); try c.put(s.threshold, "threshold")
            try c.put(s.tooSmall, "too_small")
        }
    }

    /// The groups for people: each master, then its derivatives indented with their size in
    /// pixels and bytes, format and distance. At most `limit` groups.
    public func writeTable(to sink: ReportSink, limit: Int? = nil) {
        for g in groups.prefix(limit ?? groups.count) {
            sink.write("\(line(g.master)) master (\(g.reason))\n")
            for d in g.derivatives {
                let how = d.transform == PerceptualHash.dihedralName(0) ? "" : ", \(d.transform)"
                sink.write("  \(line(d.image)) distance \(d.distance)\(how)\n")
            }
            sink.write("\n")
        }
        let shown = min(limit ?? groups.count, groups.count)
        var summary = "\(Format.plural(groups.count, "group")) of similar images among \(Format.plural(images, "image")) "
            + "(\(Format.plural(derivativeCount, "derivative")), \(Format.bytes(derivativeBytes)); threshold \(threshold) bits)"
        if shown < groups.count { summary += "; \(shown) shown" }
        if tooSmall > 0 {
            summary += "; \(Format.plural(tooSmall, "image")) under \(DerivativeGrouping.minimumSide) pixels on a side not compared"
        }
        sink.write(summary + ".\n")
    }

    private func line(_ i: Image) -> String {
        let copies = i.copies > 1 ? ", \(i.copies) copies" : ""
        return "\(i.silo):\(i.path.display)  \(i.width)×\(i.height) \(i.format) \(Format.bytes(i.size))\(copies)"
    }
}
