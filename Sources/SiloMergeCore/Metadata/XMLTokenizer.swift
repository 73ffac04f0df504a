import CSiloMergeShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small, non-validating XML 1.0 parser over bytes, for the XML that metadata carries (XMP
/// packets, Office and OpenDocument properties). It replaces Foundation's `XMLParser`
/// (libxml2), which cost more than the rest of metadata reading (an NSObject delegate, a
/// dictionary per element, a String per text callback, a copy of the packet per pre-pass),
/// and accepts and refuses what libxml2 2.9 did in the way SiloMerge drove it (stop at the
/// first error), so a packet reads exactly as before:
///
/// - elements, empty elements, attributes in `'` or `"`, namespaces declared with `xmlns` /
///   `xmlns:p` and resolved per element scope (`xml` is predefined; an unbound prefix, a
///   QName with two colons, `xmlns:p=""`, a default namespace that is not an absolute URI, a
///   namespace name that is not a URI as RFC 3986 defines it are errors, as in libxml2);
/// - character data and attribute values with `&amp; &lt; &gt; &quot; &apos;` and `&#N;`
///   `&#xH;` (a reference to a code point XML does not allow is an error; any other entity is
///   undefined, an error); `]]>` in text is an error; a control character (other than TAB,
///   LF, CR) or U+FFFE / U+FFFF anywhere is an error;
/// - end-of-line handling (CR LF and a lone CR become LF) in text, attribute-value
///   normalisation (TAB, CR, LF, CR LF become one space; character references are kept);
/// - CDATA sections (appended raw, as libxml2 delivered them), comments (skipped; `--` inside
///   one is an error), processing instructions (the xpacket wrapper, an XML declaration: each
///   counts as that many spaces, as the blanking SiloMerge did before libxml2 saw them);
/// - a DOCTYPE or ENTITY declaration (anywhere outside a processing instruction, in any
///   case) refuses the document: no entity is ever declared or expanded;
/// - depth capped at `MetadataLimits.maxXMLDepth`, elements at `maxNodes`; the tree is built
///   with an explicit stack, never by recursion.
///
/// Bytes that are not UTF-8 are replaced (U+FFFD) first and reported; NUL counts as a space.
enum XMLTokenizer {
    static let maxNodes = 500_000

    enum Failure: Equatable {
        /// A DOCTYPE or ENTITY declaration.
        case declaration
        case tooDeep
        case tooManyNodes
        /// Not well-formed: the 1-based line and what is wrong.
        case malformed(line: Int, reason: String)
    }

    struct Outcome {
        var tree = XMLTree()
        /// The elements in document order (start tags), each with its own attributes, children
        /// and text: for callers that are not on a hot path (document properties, tests).
        var elements: [XMLElement] { tree.elements }
        var failure: Failure?
        /// The bytes were not valid UTF-8 and were repaired (U+FFFD) before parsing.
        var repairedUTF8 = false
    }

    /// Which namespaces the caller reads names and values in: an element or attribute in any
    /// other is checked exactly as XML requires, but such an element has an empty local name
    /// and no text in the tree, and such an attribute is left out of it, so no String is made
    /// for them and no text kept (an XMP packet's history, camera-raw settings and document
    /// IDs, a depth map's base64 of hundreds of KB). Asked once per namespace declaration, with
    /// its URI ("" for no namespace).
    typealias NamespaceFilter = (_ namespace: String) -> Bool

    /// Parses `bytes[range]` (which it may repair in place: NUL becomes a space, invalid
    /// UTF-8 is replaced). `reads`: see `NamespaceFilter` (nil: every namespace).
    static func parse(_ bytes: inout [UInt8], _ range: Range<Int>, reads: NamespaceFilter? = nil) -> Outcome {
        var outcome = Outcome()
        var range = range
        let (valid, hasNUL) = bytes.withUnsafeBufferPointer { scanUTF8(UnsafeBufferPointer(rebasing: $0[range])) }
        if !valid {
            bytes = Array(String(decoding: bytes[range], as: UTF8.self).utf8)
            range = 0..<bytes.count
            outcome.repairedUTF8 = true
        }
        if hasNUL || !valid {
            for i in range where bytes[i] == 0 { bytes[i] = 0x20 }
        }
        // Processing instructions are where the bytes say they are, whatever the markup
        // around them: `<?` to the next `?>` (or the end), as the blanking before libxml2
        // found them. Normally each is met where markup may start and skipped as it comes;
        // one inside a tag, an attribute value, a comment or CDATA makes the parse start
        // again over a copy with every one blanked, exactly the old way (rare).
        let instructions = bytes.withUnsafeBufferPointer { processingInstructions(UnsafeBufferPointer(rebasing: $0[range])) }
        var result = bytes.withUnsafeBufferPointer { all in
            var p = Parser(UnsafeBufferPointer(rebasing: all[range]), instructions: instructions, reads: reads)
            return p.run()
        }
        if result.misplacedInstruction {
            var blanked = Array(bytes[range])
            for r in instructions { for k in r { blanked[k] = 0x20 } }
            result = blanked.withUnsafeBufferPointer { all in
                var p = Parser(all, instructions: [], reads: reads)
                return p.run()
            }
        }
        outcome.tree = result.tree
        outcome.failure = result.failure
        // A declaration refuses the document whatever else is wrong with it (it was looked
        // for before parsing, with every processing instruction blanked): check again on
        // the paths where parsing stopped early or met `<!` inside a comment or CDATA.
        if outcome.failure != nil && outcome.failure != .declaration {
            if declaresEntities(bytes[range]) { outcome.failure = .declaration; outcome.tree = XMLTree() }
        }
        if outcome.failure != nil { outcome.tree = XMLTree() }
        return outcome
    }

    /// Each `<?` to the next `?>` (to the end when unterminated), searched from the end of
    /// the last.
    static func processingInstructions(_ b: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        guard let base = b.baseAddress else { return [] }
        let n = b.count
        // Both markers hold a `?`, rare elsewhere: `memchr` for it, then a look at its
        // neighbour (`memmem` for `<?` cost ~7,000 instructions per sidecar).
        func question(_ from: Int) -> Int? {
            guard from < n, let hit = memchr(base + from, Int32(UInt8(ascii: "?")), n - from) else { return nil }
            return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
        }
        var out: [Range<Int>] = []
        var i = 0
        while true {
            // The first `<?` at or after i: a `?` at or after i + 1 with `<` before it.
            var open = question(i + 1)
            while let q = open, base[q - 1] != UInt8(ascii: "<") { open = question(q + 1) }
            guard let q = open else { break }
            let start = q - 1
            // The first `?>` at or after start + 2.
            var close = question(start + 2)
            while let x = close, !(x + 1 < n && base[x + 1] == UInt8(ascii: ">")) { close = question(x + 1) }
            let end = close.map { $0 + 2 } ?? n
            out.append(start..<end)
            i = end
        }
        return out
    }

    /// True when the bytes hold `<!doctype` or `<!entity` (any case) outside processing
    /// instructions, the way the check before libxml2 worked.
    static func declaresEntities(_ slice: ArraySlice<UInt8>) -> Bool {
        var bytes = Array(slice)
        var i = 0
        while let start = bytes.indexOfBytes(asciiBytes("<?"), from: i) {
            let end = bytes.indexOfBytes(asciiBytes("?>"), from: start + 2).map { $0 + 2 } ?? bytes.count
            for k in start..<end { bytes[k] = 0x20 }
            i = end
        }
        var k = 0
        while let hit = bytes.indexOfBytes(asciiBytes("<!"), from: k) {
            if matchesKeyword(bytes, hit + 2, "doctype") || matchesKeyword(bytes, hit + 2, "entity") { return true }
            k = hit + 2
        }
        return false
    }

    private static func matchesKeyword(_ bytes: [UInt8], _ at: Int, _ word: StaticString) -> Bool {
        let w = asciiBytes(word)
        guard at + w.count <= bytes.count else { return false }
        for j in 0..<w.count {
            var b = bytes[at + j]
            if b >= 0x41 && b <= 0x5A { b += 32 }
            if b != w[j] { return false }
        }
        return true
    }

    /// (valid UTF-8, holds a NUL), in one pass with an ASCII fast path of 8 bytes at a time.
    static func scanUTF8(_ buffer: UnsafeBufferPointer<UInt8>) -> (valid: Bool, hasNUL: Bool) {
        guard let base = buffer.baseAddress else { return (true, false) }
        let n = buffer.count
        var hasNUL = false
        var i = 0
        while i < n {
            if i + 8 <= n {
                let w = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                if !ByteWord.hasHighBit(w) {
                    if ByteWord.zeroBytes(w) != 0 { hasNUL = true }
                    i += 8
                    continue
                }
            }
            let b = base[i]
            if b < 0x80 {
                if b == 0 { hasNUL = true }
                i += 1
                continue
            }
            let length: Int
            let minimum: UInt32
            var scalar: UInt32
            switch b {
            case 0xC2...0xDF: length = 2; minimum = 0x80; scalar = UInt32(b & 0x1F)
            case 0xE0...0xEF: length = 3; minimum = 0x800; scalar = UInt32(b & 0x0F)
            case 0xF0...0xF4: length = 4; minimum = 0x10000; scalar = UInt32(b & 0x07)
            default: return (false, hasNUL)
            }
            guard i + length <= n else { return (false, hasNUL) }
            for k in 1..<length {
                let c = base[i + k]
                guard c & 0xC0 == 0x80 else { return (false, hasNUL) }
                scalar = scalar << 6 | UInt32(c & 0x3F)
            }
            if scalar < minimum || scalar > 0x10FFFF || (0xD800...0xDFFF).contains(scalar) { return (false, hasNUL) }
            i += length
        }
        return (true, hasNUL)
    }
}

/// The parser proper: one forward pass over valid UTF-8 without NUL.
private struct Parser {
    let b: UnsafeBufferPointer<UInt8>
    let n: Int
    var pos = 0
    /// The elements so far; their attributes, children and text go into its shared arrays.
    var tree = XMLTree()
    /// Open elements: node index, the byte range of the qualified name, where its namespace
    /// bindings start in `bindings`.
    var stack: [(node: Int, name: Range<Int>, bindings: Int, children: Int)] = []
    /// Namespace bindings in scope, innermost last: the prefix's bytes in the buffer (empty for
    /// the default namespace), whether they are ASCII, and the URI. The first is the
    /// predefined `xml`, whose prefix is not in the buffer (`binding(of:)` knows it). A
    /// prefix's binding is the innermost one, found by a walk back (a packet binds a handful;
    /// no String or hash per name) while there are few.
    /// Each also says whether the caller reads its namespace (`XMLTokenizer.NamespaceFilter`).
    var bindings: [Binding] = [Binding(prefix: 0..<0, ascii: true, uri: XMPNamespace.xml, read: true)]
    /// Structs rather than tuples for the arrays whose elements hold a String: a tuple
    /// array's elements were copied and destroyed through the runtime's generic tuple
    /// witnesses (a tenth of tokenizing the real photos' packets).
    struct Binding { var prefix: Range<Int>; var ascii: Bool; var uri: String; var read: Bool }
    /// An attribute of the tag being opened: its qualified name's bytes, the local part's
    /// (all of it when unprefixed), compared as plain ranges with no String made, and the
    /// namespace, name and value the tree gets.
    struct Resolved { var qname: Range<Int>; var local: Range<Int>; var namespace: String; var name: String; var value: String }
    /// Past `Parser.fewBindings` bindings: the innermost binding of each prefix, and the
    /// binding of its prefix each one hides (so lookups stay constant-time).
    var innermost: [String: Int]?
    var hidden: [Int?] = []
    static let fewBindings = 32
    /// The children of each open element, in order, each element's after its parent's (a
    /// stack): an element's list is made once, at its close, at its final size.
    var pendingChildren: [Int] = []
    /// Scratch for one start tag's attributes other than declarations.
    var resolved: [Resolved] = []
    /// Character data of each open element, as bytes until it closes; kept only for an
    /// element of a namespace read (`keepsText`).
    var texts: [[UInt8]] = []
    /// Scratch for one start tag's attributes: the qualified name's bytes, its colon, and its
    /// value: where it lies in the buffer when it needed no normalisation (nearly always),
    /// else normalised into `value` (see `attributeValue`).
    var attributes: [RawAttribute] = []
    struct RawAttribute { var name: Range<Int>; var colon: Int?; var value: AttributeValue }
    var value: [UInt8] = []
    /// Which namespaces to make names and values of (`XMLTokenizer.NamespaceFilter`; nil: all),
    /// and its answer for no namespace.
    let reads: XMLTokenizer.NamespaceFilter?
    let readsNoNamespace: Bool

    enum AttributeValue {
        /// The value is these bytes of the buffer, as they are.
        case span(Range<Int>)
        /// The value, normalised (a reference replaced, white space made a space).
        case normalized(String)
    }

    /// An attribute's value as a String.
    func string(_ v: AttributeValue) -> String {
        switch v {
        case .span(let r): return qname(r)
        case .normalized(let s): return s
        }
    }
    /// `<!` met inside a comment or CDATA section: a declaration there refused the document.
    var bangInside = false

    /// Where the processing instructions are, and the next one to meet.
    let instructions: [Range<Int>]
    var nextInstruction = 0
    /// One was not where markup may start: the caller parses a blanked copy instead.
    var misplacedInstruction = false

    init(_ buffer: UnsafeBufferPointer<UInt8>, instructions: [Range<Int>], reads: XMLTokenizer.NamespaceFilter?) {
        b = buffer
        n = buffer.count
        self.instructions = instructions
        self.reads = reads
        readsNoNamespace = reads?("") ?? true
        bindings[0].read = reads?(XMPNamespace.xml) ?? true
        // Room for a typical packet's tree without regrowing (a sidecar: ~20 elements in
        // ~800 bytes).
        tree.nodes.reserveCapacity(min(max(n / 32, 8), 4096))
        tree.childList.reserveCapacity(min(max(n / 32, 8), 4096))
        tree.textBytes.reserveCapacity(min(n, 1 << 16))
        stack.reserveCapacity(16)
        bindings.reserveCapacity(8)
        pendingChildren.reserveCapacity(32)
        texts.reserveCapacity(16)
        attributes.reserveCapacity(8)
        resolved.reserveCapacity(8)
    }

    struct Misplaced: Error {}

    struct Stop: Error { var failure: XMLTokenizer.Failure }

    func line(at offset: Int) -> Int {
        var line = 1
        var i = 0
        let end = min(offset, n)
        while i < end {
            if b[i] == 0x0A { line += 1 } else if b[i] == 0x0D, i + 1 >= n || b[i + 1] != 0x0A { line += 1 }
            i += 1
        }
        return line
    }

    func error(_ reason: String, at offset: Int? = nil) -> Stop {
        Stop(failure: .malformed(line: line(at: offset ?? pos), reason: reason))
    }

    mutating func run() -> (tree: XMLTree, failure: XMLTokenizer.Failure?, misplacedInstruction: Bool) {
        var result = parse()
        // One left unmet was inside something else (or after the point parsing stopped,
        // which blanking could change).
        if nextInstruction != instructions.count { misplacedInstruction = true }
        if misplacedInstruction { result = (XMLTree(), nil) }
        return (result.tree, result.failure, misplacedInstruction)
    }

    mutating func parse() -> (tree: XMLTree, failure: XMLTokenizer.Failure?) {
        // Before libxml2 could start a document it needed 4 bytes; a shorter one read as
        // empty (none of it can be an element: `<a/>` is the shortest).
        if n < 4 { return (XMLTree(), nil) }
        if startsWith("\u{FEFF}", at: 0) { pos = 3 }   // a byte-order mark
        do {
            try document()
            if bangInside {
                // Judged the old way over the whole document (rare: `<!` in a comment or CDATA).
                if XMLTokenizer.declaresEntities(ArraySlice(b)) { return (XMLTree(), .declaration) }
            }
            return (tree, nil)
        } catch let stop as Stop {
            return (XMLTree(), stop.failure)
        } catch is Misplaced {
            misplacedInstruction = true
            return (XMLTree(), nil)
        } catch {
            return (XMLTree(), .malformed(line: line(at: pos), reason: "\(error)"))
        }
    }

    @inline(__always) func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x09 || c == 0x0D }

    /// Bytes that end a run of plain bytes: `textStop` in character data (`<`, `&`, `]`,
    /// CR, 0xEF and the control characters other than TAB and LF), `valueStop` in an
    /// attribute value (`<`, `&`, either quote, 0xEF and every control character, as TAB, CR
    /// and LF are normalised to spaces). One table look-up a byte, so a long value (a depth
    /// map's base64 in extended XMP, hundreds of KB) is crossed at memchr-like speed.
    static let textStop: UInt8 = 1, valueStop: UInt8 = 2
    static let stops: [UInt8] = (0..<256).map { i -> UInt8 in
        let c = UInt8(i)
        var k: UInt8 = 0
        if c == UInt8(ascii: "<") || c == UInt8(ascii: "&") || c == 0xEF { k |= textStop | valueStop }
        if c == UInt8(ascii: "]") || c == 0x0D || (c < 0x20 && c != 0x09 && c != 0x0A) { k |= textStop }
        if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") || c < 0x20 { k |= valueStop }
        return k
    }

    /// The first position at or after `from` whose byte `stops` marks with `kind` (else `n`).
    /// Past the first 64 bytes, eight at a time while none of them may stop the run (see
    /// `mayStop`), the table deciding byte by byte only in a word that may: a long value or
    /// text (base64 in extended XMP, a thumbnail, prose) crosses at some half the
    /// instructions of a look-up per byte.
    @inline(__always) func runEnd(from: Int, _ kind: UInt8) -> Int {
        Self.stops.withUnsafeBufferPointer { t in
            var i = from
            // Most runs (indentation between tags, a date, an ID) end within a few bytes: the
            // table alone for the first 64, where testing whole words cost more than it saves
            // (87 real packets: no fewer instructions with words from the 16th byte on).
            let short = min(from + 64, n)
            while i < short {
                if t[Int(b[i])] & kind != 0 { return i }
                i += 1
            }
            guard i < n, let start = b.baseAddress else { return n }
            let base = UnsafeRawPointer(start)
            while true {
                while i + 8 <= n && !Self.mayStop(base.loadUnaligned(fromByteOffset: i, as: UInt64.self), kind) { i += 8 }
                // The word that may hold a stop (or the last bytes): byte by byte through it.
                let end = min(i + 8, n)
                while i < end {
                    if t[Int(b[i])] & kind != 0 { return i }
                    i += 1
                }
                if i >= n { return n }
            }
        }
    }

    /// Whether any of the eight bytes of `w` may be one `stops` marks with `kind`: a byte
    /// with its high bit set (0xEF, or any other), one below 0x20, `<` or `&`, and `]` for
    /// text or either quote for a value. A superset of the stops (TAB and LF in text, and
    /// non-ASCII bytes other than 0xEF, are let through by the table). The tests are the
    /// `ByteWord` ones, exact when no byte has its high bit set, which is checked first.
    @inline(__always) static func mayStop(_ w: UInt64, _ kind: UInt8) -> Bool {
        if ByteWord.hasHighBit(w) { return true }
        var m = ByteWord.bytes(w, below: 0x20) | ByteWord.bytes(w, equalTo: 0x3C) | ByteWord.bytes(w, equalTo: 0x26)   // < &
        if kind == valueStop {
            m |= ByteWord.bytes(w, equalTo: 0x22) | ByteWord.bytes(w, equalTo: 0x27)   // " '
        } else {
            m |= ByteWord.bytes(w, equalTo: 0x5D)                                      // ]
        }
        return m != 0
    }

    @inline(__always) func at(_ i: Int) -> UInt8 { i < n ? b[i] : 0 }

    /// Whether the open element at `level` keeps its text: one of a namespace read (a name in
    /// the tree; see `XMLTokenizer.NamespaceFilter`).
    @inline(__always) func keepsText(_ level: Int) -> Bool { reads == nil || !tree.nodes[stack[level].node].name.isEmpty }

    func find(_ needle: StaticString, from: Int) -> Int? {
        let count = needle.utf8CodeUnitCount
        guard from <= n - count, let base = b.baseAddress else { return nil }
        guard let hit = silomerge_memmem(base + from, n - from, needle.utf8Start, count) else { return nil }
        return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
    }

    func startsWith(_ s: StaticString, at i: Int) -> Bool {
        let count = s.utf8CodeUnitCount
        guard i + count <= n else { return false }
        let p = s.utf8Start
        for k in 0..<count where b[i + k] != p[k] { return false }
        return true
    }

    /// Past white space: eight spaces at a time where there are so many (an XMP packet's
    /// padding is kilobytes of them: a byte at a time, some 4 % of parsing the real photos'
    /// packets), then byte by byte.
    mutating func skipSpace() {
        var i = pos
        while i < n && isSpace(b[i]) {
            i += 1
            if let base = b.baseAddress {
                while i + 8 <= n && UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self) == 0x2020_2020_2020_2020 { i += 8 }
            }
        }
        pos = i
    }

    // MARK: Document

    mutating func document() throws {
        var rootSeen = false
        while true {
            skipSpace()
            if pos >= n { break }
            guard b[pos] == UInt8(ascii: "<") else {
                throw error(rootSeen ? "content after the root element" : "text before the root element")
            }
            let c = at(pos + 1)
            if c == UInt8(ascii: "?") {
                _ = try skipProcessingInstruction()
            } else if c == UInt8(ascii: "!") {
                if startsWith("<!--", at: pos) { try comment() }
                else { try declarationOrError(inContent: false) }
            } else if rootSeen {
                throw error("content after the root element (a second root element)")
            } else {
                try element()
                rootSeen = true
            }
        }
        if !rootSeen { throw error("no root element") }
    }

    /// Skips `<?…?>` (to the end when unterminated); returns its length in bytes.
    mutating func skipProcessingInstruction() throws -> Int {
        guard nextInstruction < instructions.count, instructions[nextInstruction].lowerBound == pos else {
            throw Misplaced()
        }
        let start = pos
        pos = instructions[nextInstruction].upperBound
        nextInstruction += 1
        return pos - start
    }

    mutating func comment() throws {
        let start = pos
        var i = pos + 4
        guard let dashes = find("--", from: i) else {
            throw error("unterminated comment", at: start)
        }
        guard at(dashes + 2) == UInt8(ascii: ">") else {
            throw error("'--' inside a comment", at: dashes)
        }
        while i < dashes {
            let c = b[i]
            if c < 0x20 || c == 0xEF || c == UInt8(ascii: "<") {
                try checkChar(at: i)
                if c == UInt8(ascii: "<") && at(i + 1) == UInt8(ascii: "!") { bangInside = true }
            }
            i += 1
        }
        pos = dashes + 3
    }

    /// `<!` not starting a comment: a CDATA section in content, else a DOCTYPE / ENTITY
    /// declaration (refused) or an error.
    mutating func declarationOrError(inContent: Bool) throws {
        if keyword(at: pos + 2, "doctype") || keyword(at: pos + 2, "entity") {
            throw Stop(failure: .declaration)
        }
        if startsWith("<![CDATA[", at: pos) {
            guard inContent else { throw error("a CDATA section outside the root element") }
            let start = pos + 9
            guard let end = find("]]>", from: start) else { throw error("unterminated CDATA section") }
            var i = start
            while i < end {
                let c = b[i]
                if c < 0x20 || c == 0xEF || c == UInt8(ascii: "<") {
                    try checkChar(at: i)
                    if c == UInt8(ascii: "<") && at(i + 1) == UInt8(ascii: "!") { bangInside = true }
                }
                i += 1
            }
            if keepsText(stack.count - 1) { texts[stack.count - 1].append(contentsOf: UnsafeBufferPointer(rebasing: b[start..<end])) }
            pos = end + 3
            return
        }
        throw error("'<!' that starts no comment, CDATA section or declaration")
    }

    func keyword(at i: Int, _ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard i + count <= n else { return false }
        let p = word.utf8Start
        for k in 0..<count {
            var c = b[i + k]
            if c >= 0x41 && c <= 0x5A { c += 32 }
            if c != p[k] { return false }
        }
        return true
    }

    /// Fails on a character XML does not allow: a control character other than TAB, LF, CR,
    /// or U+FFFE / U+FFFF (EF BF BE / EF BF BF). Other bytes pass.
    func checkChar(at i: Int) throws {
        let c = b[i]
        if c < 0x20 && c != 0x09 && c != 0x0A && c != 0x0D {
            throw error("character 0x\(String(c, radix: 16)) is not allowed in XML", at: i)
        }
        if c == 0xEF && at(i + 1) == 0xBF && (at(i + 2) == 0xBE || at(i + 2) == 0xBF) {
            throw error("character U+FFF\(at(i + 2) == 0xBE ? "E" : "F") is not allowed in XML", at: i)
        }
    }

    // MARK: Elements

    /// The root element and everything in it, with an explicit stack (no recursion).
    mutating func element() throws {
        try startTag()
        while !stack.isEmpty {
            let level = stack.count - 1
            let keep = keepsText(level)
            // A run of plain text.
            let runStart = pos
            while true {
                pos = runEnd(from: pos, Self.textStop)
                guard pos < n else { break }
                let c = b[pos]
                if c == UInt8(ascii: "]") {
                    if at(pos + 1) == UInt8(ascii: "]") && at(pos + 2) == UInt8(ascii: ">") {
                        throw error("']]>' in character data")
                    }
                } else if c == 0xEF || (c < 0x20 && c != 0x0D) {
                    try checkChar(at: pos)
                } else {
                    break
                }
                pos += 1
            }
            if pos > runStart && keep { texts[level].append(contentsOf: UnsafeBufferPointer(rebasing: b[runStart..<pos])) }
            guard pos < n else {
                throw error("the element <\(qname(stack[level].name))> is not closed")
            }
            let c = b[pos]
            if c == 0x0D {
                if keep { texts[level].append(0x0A) }
                pos += at(pos + 1) == 0x0A ? 2 : 1
            } else if c == UInt8(ascii: "&") {
                let scalar = try reference()
                if keep { Parser.append(scalar, to: &texts[level]) }
            } else {
                // `<`
                let next = at(pos + 1)
                if next == UInt8(ascii: "/") {
                    try endTag()
                } else if next == UInt8(ascii: "?") {
                    let length = try skipProcessingInstruction()
                    if keep { texts[level].append(contentsOf: repeatElement(0x20, count: length)) }
                } else if next == UInt8(ascii: "!") {
                    if startsWith("<!--", at: pos) { try comment() } else { try declarationOrError(inContent: true) }
                } else {
                    try startTag()
                }
            }
        }
    }

    func qname(_ r: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: b[r]), as: UTF8.self) }

    static func append(_ scalar: Unicode.Scalar, to out: inout [UInt8]) {
        if scalar.value < 0x80 { out.append(UInt8(scalar.value)) } else { out.append(contentsOf: UTF8.encode(scalar)!) }
    }

    /// `&…;` at `pos`: its replacement.
    mutating func reference() throws -> Unicode.Scalar {
        let start = pos
        pos += 1
        if at(pos) == UInt8(ascii: "#") {
            pos += 1
            var value: UInt32 = 0
            var digits = 0
            let hex = at(pos) == UInt8(ascii: "x")
            if hex { pos += 1 }
            while pos < n {
                let c = b[pos]
                let d: UInt32
                if c >= 0x30 && c <= 0x39 { d = UInt32(c - 0x30) }
                else if hex && c >= 0x61 && c <= 0x66 { d = UInt32(c - 0x61 + 10) }
                else if hex && c >= 0x41 && c <= 0x46 { d = UInt32(c - 0x41 + 10) }
                else { break }
                if value <= 0x10FFFF { value = value * (hex ? 16 : 10) + d }
                digits += 1
                pos += 1
            }
            guard digits > 0, at(pos) == UInt8(ascii: ";") else {
                throw error("a malformed character reference", at: start)
            }
            pos += 1
            let allowed = value == 0x09 || value == 0x0A || value == 0x0D || (0x20...0xD7FF).contains(value)
                || (0xE000...0xFFFD).contains(value) || (0x10000...0x10FFFF).contains(value)
            guard allowed, let scalar = Unicode.Scalar(value) else {
                throw error("a character reference to a code point XML does not allow", at: start)
            }
            return scalar
        }
        let nameStart = pos
        try skipName()
        guard pos > nameStart, at(pos) == UInt8(ascii: ";") else {
            throw error("'&' that starts no entity or character reference", at: start)
        }
        let name = UnsafeBufferPointer(rebasing: b[nameStart..<pos])
        pos += 1
        switch String(decoding: name, as: UTF8.self) {
        case "amp": return "&"
        case "lt": return "<"
        case "gt": return ">"
        case "quot": return "\""
        case "apos": return "'"
        case let other: throw error("the entity '\(other)' is not defined", at: start)
        }
    }

    // MARK: Names

    /// Advances over an XML Name (NameStartChar NameChar*, XML 1.0 fifth edition); stays put
    /// when none starts here.
    mutating func skipName() throws {
        // ASCII through a table (nearly every name is ASCII); from the first other byte on,
        // character by character.
        let start = pos
        var i = pos
        Self.nameBytes.withUnsafeBufferPointer { t in
            if i < n && t[Int(b[i])] & Self.nameStart != 0 {
                i += 1
                while i < n && t[Int(b[i])] != 0 { i += 1 }
            }
        }
        pos = i
        if pos < n && b[pos] >= 0x80 { try skipNonASCIIName(first: pos == start) }
    }

    /// Which ASCII bytes may start a name (`nameStart`: letters, `_`, `:`) or continue one
    /// (non-zero: those, digits, `-`, `.`). Zero for every byte from 0x80.
    static let nameStart: UInt8 = 1, nameChar: UInt8 = 2
    static let nameBytes: [UInt8] = (0..<256).map { i -> UInt8 in
        let c = UInt8(i)
        if (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || c == UInt8(ascii: "_") || c == UInt8(ascii: ":") {
            return nameStart | nameChar
        }
        return (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") ? nameChar : 0
    }

    /// `skipName` from a byte of a non-ASCII character on (`first`: it would start the name).
    mutating func skipNonASCIIName(first start: Bool) throws {
        var first = start
        while pos < n {
            let c = b[pos]
            var length = 1
            let ok: Bool
            if c < 0x80 {
                let letter = (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || c == UInt8(ascii: "_") || c == UInt8(ascii: ":")
                ok = letter || (!first && ((c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")))
            } else {
                let (scalar, len) = decode(at: pos)
                length = len
                ok = Parser.isNameChar(scalar, first: first)
            }
            if !ok { return }
            first = false
            pos += length
        }
    }

    static func isNameChar(_ v: UInt32, first: Bool) -> Bool {
        switch v {
        case 0xC0...0xD6, 0xD8...0xF6, 0xF8...0x2FF, 0x370...0x37D, 0x37F...0x1FFF, 0x200C...0x200D,
             0x2070...0x218F, 0x2C00...0x2FEF, 0x3001...0xD7FF, 0xF900...0xFDCF, 0xFDF0...0xFFFD,
             0x10000...0xEFFFF:
            return true
        case 0xB7, 0x300...0x36F, 0x203F...0x2040:
            return !first
        default:
            return false
        }
    }

    /// The scalar at `i` (valid UTF-8) and its length.
    func decode(at i: Int) -> (UInt32, Int) {
        let c = b[i]
        if c < 0xE0 { return (UInt32(c & 0x1F) << 6 | UInt32(b[i + 1] & 0x3F), 2) }
        if c < 0xF0 { return (UInt32(c & 0x0F) << 12 | UInt32(b[i + 1] & 0x3F) << 6 | UInt32(b[i + 2] & 0x3F), 3) }
        return (UInt32(c & 0x07) << 18 | UInt32(b[i + 1] & 0x3F) << 12 | UInt32(b[i + 2] & 0x3F) << 6 | UInt32(b[i + 3] & 0x3F), 4)
    }

    /// A QName at `pos`: its byte range and the offset of its colon. libxml2's rules: NCName
    /// or NCName:NCName.
    mutating func qualifiedName(_ what: String) throws -> (Range<Int>, colon: Int?) {
        let start = pos
        try skipName()
        guard pos > start else { throw error("the \(what) name is missing or starts with a character no name may start with") }
        var colon: Int?
        for i in start..<pos where b[i] == UInt8(ascii: ":") {
            guard colon == nil, i > start, i < pos - 1 else {
                throw error("'\(qname(start..<pos))' is not a valid qualified name", at: start)
            }
            colon = i
        }
        if let colon {
            // The local part must start with a NameStartChar (not a digit, '-', '.').
            let c = b[colon + 1]
            if (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") || c == 0xC2 && b[colon + 2] == 0xB7 {
                throw error("'\(qname(start..<pos))' is not a valid qualified name", at: start)
            }
            if c >= 0x80 {
                let (scalar, _) = decode(at: colon + 1)
                if !Parser.isNameChar(scalar, first: true) {
                    throw error("'\(qname(start..<pos))' is not a valid qualified name", at: start)
                }
            }
        }
        return (start..<pos, colon)
    }

    // MARK: Tags

    mutating func startTag() throws {
        let tagStart = pos
        pos += 1   // <
        let (nameRange, colon) = try qualifiedName("element")
        if !attributes.isEmpty { attributes.removeAll(keepingCapacity: true) }
        var selfClosing = false
        while true {
            let spaced = pos < n && isSpace(b[pos])
            skipSpace()
            guard pos < n else { throw error("unterminated start tag <\(qname(nameRange))>", at: tagStart) }
            if b[pos] == UInt8(ascii: ">") { pos += 1; break }
            if b[pos] == UInt8(ascii: "/") {
                guard at(pos + 1) == UInt8(ascii: ">") else { throw error("'/' not followed by '>' in a start tag") }
                pos += 2
                selfClosing = true
                break
            }
            guard spaced else { throw error("attributes of <\(qname(nameRange))> not separated by white space") }
            let (attrRange, attrColon) = try qualifiedName("attribute")
            skipSpace()
            guard at(pos) == UInt8(ascii: "=") else { throw error("attribute '\(qname(attrRange))' has no value") }
            pos += 1
            skipSpace()
            let quote = at(pos)
            guard quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") else {
                throw error("the value of attribute '\(qname(attrRange))' is not quoted")
            }
            pos += 1
            let value = try attributeValue(quote)
            attributes.append(RawAttribute(name: attrRange, colon: attrColon, value: value))
        }
        try open(nameRange, colon: colon, at: tagStart)
        if selfClosing { close() }
    }

    /// The value up to `quote`: its bytes in the buffer when they are the value as they are,
    /// else normalised (through `value`).
    mutating func attributeValue(_ quote: UInt8) throws -> AttributeValue {
        let start = pos
        // Bytes up to the first one that normalisation changes (a reference, TAB, CR, LF) are
        // only looked at; from there on they are copied into `value`.
        var plain = true
        while true {
            let runStart = pos
            while true {
                pos = runEnd(from: pos, Self.valueStop)
                guard pos < n else { break }
                let c = b[pos]
                if c == 0xEF {
                    try checkChar(at: pos)
                } else if c == quote || c == UInt8(ascii: "<") || c == UInt8(ascii: "&") || c < 0x20 {
                    break
                }
                pos += 1   // 0xEF that is a character, or the other quote
            }
            if pos > runStart && !plain { value.append(contentsOf: UnsafeBufferPointer(rebasing: b[runStart..<pos])) }
            guard pos < n else { throw error("unterminated attribute value") }
            let c = b[pos]
            if c == quote {
                pos += 1
                return plain ? .span(start..<(pos - 1)) : .normalized(String(decoding: value, as: UTF8.self))
            }
            if c == UInt8(ascii: "<") { throw error("'<' in an attribute value") }
            if plain && (c == UInt8(ascii: "&") || c == 0x0D || c == 0x09 || c == 0x0A) {
                plain = false
                value.removeAll(keepingCapacity: true)
                value.append(contentsOf: UnsafeBufferPointer(rebasing: b[start..<pos]))
            }
            if c == UInt8(ascii: "&") { let scalar = try reference(); Parser.append(scalar, to: &value); continue }
            if c == 0x0D {
                value.append(0x20)
                pos += at(pos + 1) == 0x0A ? 2 : 1
            } else if c == 0x09 || c == 0x0A {
                value.append(0x20)
                pos += 1
            } else {
                try checkChar(at: pos)
                pos += 1
            }
        }
    }

    /// The order of two ranges of the packet by their bytes (memcmp, then the shorter first):
    /// for ASCII names, String order.
    static func byteOrder(_ base: UnsafePointer<UInt8>, _ x: Range<Int>, _ y: Range<Int>) -> Int32 {
        let c = memcmp(base + x.lowerBound, base + y.lowerBound, min(x.count, y.count))
        return c != 0 ? c : (x.count < y.count ? -1 : x.count > y.count ? 1 : 0)
    }

    func bytesEqual(_ x: Range<Int>, _ y: Range<Int>) -> Bool {
        x.count == y.count && memcmp(b.baseAddress! + x.lowerBound, b.baseAddress! + y.lowerBound, x.count) == 0
    }

    /// True for `xmlns` and `xmlns:…` (namespace declarations).
    func isDeclaration(_ name: Range<Int>, colon: Int?) -> Bool {
        let end = colon ?? name.upperBound
        return end - name.lowerBound == 5 && startsWith("xmlns", at: name.lowerBound)
    }

    /// Checks the start tag's namespaces and attributes and opens the element.
    mutating func open(_ nameRange: Range<Int>, colon: Int?, at tagStart: Int) throws {
        let bindingsStart = bindings.count
        // Namespace declarations, checked as libxml2 2.9 checks them.
        for a in attributes where isDeclaration(a.name, colon: a.colon) {
            let prefixRange = a.colon.map { ($0 + 1)..<a.name.upperBound } ?? a.name.upperBound..<a.name.upperBound
            if let existing = binding(of: prefixRange), existing >= bindingsStart {
                throw error("namespace '\(qname(prefixRange))' declared twice", at: tagStart)
            }
            // A namespace name met in most packets is the constant's storage (so comparing it
            // later is comparing identical strings), and judged once per process.
            var uri = string(a.value)
            let known = URIReference.known(uri)
            if let known { uri = known.uri }
            if prefixRange.isEmpty {
                if !uri.isEmpty {
                    let (valid, absolute) = known.map { ($0.valid, $0.absolute) } ?? URIReference.check(uri)
                    guard valid else { throw error("xmlns: '\(uri)' is not a valid URI", at: tagStart) }
                    guard absolute else { throw error("xmlns: URI \(uri) is not absolute", at: tagStart) }
                    if uri == XMPNamespace.xml { throw error("the xml namespace URI cannot be the default namespace", at: tagStart) }
                    if uri == "http://www.w3.org/2000/xmlns/" { throw error("reuse of the xmlns namespace name is forbidden", at: tagStart) }
                }
            } else if prefixRange.count == 3 && startsWith("xml", at: prefixRange.lowerBound) {
                if uri != XMPNamespace.xml { throw error("the xml namespace prefix is mapped to another URI", at: tagStart) }
            } else {
                let prefix = qname(prefixRange)
                if uri == XMPNamespace.xml { throw error("the xml namespace URI is bound to another prefix", at: tagStart) }
                if prefix == "xmlns" { throw error("redefinition of the xmlns prefix is forbidden", at: tagStart) }
                if uri == "http://www.w3.org/2000/xmlns/" { throw error("reuse of the xmlns namespace name is forbidden", at: tagStart) }
                if uri.isEmpty { throw error("xmlns:\(prefix): an empty namespace name is not allowed", at: tagStart) }
                guard known?.valid ?? URIReference.check(uri).valid else { throw error("xmlns:\(prefix): '\(uri)' is not a valid URI", at: tagStart) }
            }
            bindings.append(Binding(prefix: prefixRange, ascii: isASCII(prefixRange), uri: uri, read: reads?(uri) ?? true))
            if innermost != nil {
                let prefix = qname(prefixRange)
                hidden.append(innermost![prefix])
                innermost![prefix] = bindings.count - 1
            } else if bindings.count > Parser.fewBindings {
                var index: [String: Int] = ["xml": 0]
                hidden = [nil]
                for i in 1..<bindings.count {
                    let prefix = qname(bindings[i].prefix)
                    hidden.append(index[prefix])
                    index[prefix] = i
                }
                innermost = index
            }
        }
        let element = try resolve(nameRange, colon: colon, attribute: false, at: tagStart)
        let local = element.read ? qname(element.local) : ""
        // Attributes other than declarations, sorted by qualified name (as they were taken
        // from XMLParser's dictionary); a name twice, or two names for one namespace and
        // local name, is an error.
        if !resolved.isEmpty {
            resolved.removeAll(keepingCapacity: true)
        }
        var ascii = true
        for a in attributes where !isDeclaration(a.name, colon: a.colon) {
            // No namespace for an unprefixed attribute (never the default one).
            let r = a.colon == nil ? (namespace: "", local: a.name, read: readsNoNamespace)
                                   : try resolve(a.name, colon: a.colon, attribute: true, at: tagStart)
            resolved.append(Resolved(qname: a.name, local: r.local, namespace: r.namespace,
                                     name: r.read ? qname(r.local) : "", value: r.read ? string(a.value) : ""))
            if ascii { for i in a.name where b[i] >= 0x80 { ascii = false; break } }
        }
        if resolved.count > 1 {
            // ASCII names (nearly all): told apart by their bytes, with no String made or
            // compared; only a tag that does have a duplicate goes on to the checks below,
            // which name it.
            if !ascii || hasDuplicateAttribute() {
                if resolved.count <= 16 {
                    for i in 1..<resolved.count {
                        for j in 0..<i {
                            if bytesEqual(resolved[i].qname, resolved[j].qname) {
                                throw error("attribute '\(qname(resolved[i].qname))' given twice", at: tagStart)
                            }
                            if qname(resolved[i].local) == qname(resolved[j].local) && resolved[i].namespace == resolved[j].namespace {
                                throw error("attribute '\(qname(resolved[i].local))' in namespace '\(resolved[i].namespace)' given twice", at: tagStart)
                            }
                        }
                    }
                } else {
                    var seenNames = Set<String>(), expanded = Set<String>()
                    for r in resolved {
                        if !seenNames.insert(qname(r.qname)).inserted { throw error("attribute '\(qname(r.qname))' given twice", at: tagStart) }
                        if !expanded.insert(r.namespace + "\u{0}" + qname(r.local)).inserted {
                            throw error("attribute '\(qname(r.local))' in namespace '\(r.namespace)' given twice", at: tagStart)
                        }
                    }
                }
            }
        }
        // Checked, an attribute of a namespace not read leaves: it has no name or value to give
        // (Photoshop's hundred camera-raw settings were sorted and kept for nothing).
        if reads != nil, !resolved.isEmpty { resolved.removeAll { $0.name.isEmpty } }
        if resolved.count > 1 {
            if ascii {
                // Byte order is String order for ASCII.
                let base = b.baseAddress!
                resolved.sort { Parser.byteOrder(base, $0.qname, $1.qname) < 0 }
            } else {
                let buffer = b
                func name(_ r: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: buffer[r]), as: UTF8.self) }
                resolved.sort { name($0.qname) < name($1.qname) }
            }
        }
        if stack.count >= MetadataLimits.maxXMLDepth { throw Stop(failure: .tooDeep) }
        if tree.nodes.count >= XMLTokenizer.maxNodes { throw Stop(failure: .tooManyNodes) }
        let firstAttribute = tree.attributeList.count
        for r in resolved { tree.attributeList.append(XMLAttribute(namespace: r.namespace, name: r.name, value: r.value)) }
        tree.nodes.append(XMLNode(namespace: element.namespace, name: local, attributes: firstAttribute..<tree.attributeList.count))
        let index = tree.nodes.count - 1
        if !stack.isEmpty { pendingChildren.append(index) }
        stack.append((index, nameRange, bindingsStart, pendingChildren.count))
        if texts.count < stack.count { texts.append([]) } else { texts[stack.count - 1].removeAll(keepingCapacity: true) }
    }

    /// Whether two of `resolved` (ASCII names) have the same qualified name, or the same local
    /// name in the same namespace: byte comparisons of `resolved`'s qualified and local
    /// names, pairwise for a few, through one sort for many (Photoshop writes a hundred
    /// camera-raw settings as attributes of one element).
    func hasDuplicateAttribute() -> Bool {
        let count = resolved.count
        let base = b.baseAddress!
        func order(_ x: Range<Int>, _ y: Range<Int>) -> Int32 { Parser.byteOrder(base, x, y) }
        return resolved.withUnsafeBufferPointer { r in
            func sameNamespace(_ i: Int, _ j: Int) -> Bool { r[i].namespace == r[j].namespace }
            if count <= 16 {
                for i in 1..<count {
                    for j in 0..<i {
                        if bytesEqual(r[i].qname, r[j].qname) { return true }
                        if bytesEqual(r[i].local, r[j].local) && sameNamespace(i, j) { return true }
                    }
                }
                return false
            }
            var byName = Array(0..<count)
            byName.sort { order(r[$0].qname, r[$1].qname) < 0 }
            for k in 1..<count where order(r[byName[k]].qname, r[byName[k - 1]].qname) == 0 { return true }
            var byLocal = Array(0..<count)
            byLocal.sort { order(r[$0].local, r[$1].local) < 0 }
            var runStart = 0
            for k in 1...count {
                if k < count && order(r[byLocal[k]].local, r[byLocal[runStart]].local) == 0 { continue }
                // byLocal[runStart..<k]: one local name; two of them in one namespace is a duplicate.
                if k - runStart > 1 {
                    for x in runStart..<k {
                        for y in runStart..<x where sameNamespace(byLocal[x], byLocal[y]) { return true }
                    }
                }
                runStart = k
            }
            return false
        }
    }

    /// The namespace of a QName in the current scope, where its local name lies, and whether
    /// the caller reads that namespace; an unprefixed name takes the default namespace (an
    /// attribute's is never asked for), an unbound prefix is an error.
    func resolve(_ name: Range<Int>, colon: Int?, attribute: Bool, at tagStart: Int) throws
        -> (namespace: String, local: Range<Int>, read: Bool) {
        guard let colon else {
            guard let binding = binding(of: name.lowerBound..<name.lowerBound) else { return ("", name, readsNoNamespace) }
            return (bindings[binding].uri, name, bindings[binding].read)
        }
        guard let binding = binding(of: name.lowerBound..<colon) else {
            throw error("the namespace prefix '\(qname(name.lowerBound..<colon))' of \(attribute ? "attribute" : "element") '\(qname(name))' is not bound", at: tagStart)
        }
        return (bindings[binding].uri, (colon + 1)..<name.upperBound, bindings[binding].read)
    }

    /// The innermost binding of the prefix whose bytes are `prefix` (empty: the default
    /// namespace), or nil when it is not bound.
    ///
    /// Prefixes are the same as Strings are (canonical equivalence: a Kelvin sign is a K), as
    /// when they were dictionary keys; bytes decide when both are ASCII.
    func binding(of prefix: Range<Int>) -> Int? {
        if let innermost { return innermost[qname(prefix)] }
        let ascii = isASCII(prefix)
        var i = bindings.count - 1
        while i >= 1 {
            let p = bindings[i].prefix
            if ascii && bindings[i].ascii ? bytesEqual(p, prefix) : qname(p) == qname(prefix) { return i }
            i -= 1
        }
        let xml = ascii ? prefix.count == 3 && startsWith("xml", at: prefix.lowerBound) : qname(prefix) == "xml"
        return xml ? 0 : nil
    }

    func isASCII(_ r: Range<Int>) -> Bool {
        for i in r where b[i] >= 0x80 { return false }
        return true
    }

    mutating func close() {
        let top = stack.removeLast()
        let level = stack.count
        if !texts[level].isEmpty {
            let start = tree.textBytes.count
            tree.textBytes.append(contentsOf: texts[level])
            tree.nodes[top.node].text = start..<tree.textBytes.count
        }
        if pendingChildren.count > top.children {
            let start = tree.childList.count
            tree.childList.append(contentsOf: pendingChildren[top.children...])
            tree.nodes[top.node].children = start..<tree.childList.count
            pendingChildren.removeSubrange(top.children...)
        }
        while bindings.count > top.bindings {
            let gone = bindings.removeLast()
            if innermost != nil { innermost![qname(gone.prefix)] = hidden.removeLast() }
        }
    }

    mutating func endTag() throws {
        let start = pos
        pos += 2   // </
        let top = stack[stack.count - 1]
        let nameStart = pos
        try skipName()
        let name = nameStart..<pos
        guard bytesEqual(name, top.name) else {
            throw error("end tag </\(qname(name))> does not match <\(qname(top.name))>", at: start)
        }
        skipSpace()
        guard at(pos) == UInt8(ascii: ">") else { throw error("unterminated end tag </\(qname(name))>", at: start) }
        pos += 1
        close()
    }
}

/// Whether a string is a URI reference as libxml2 2.9's `xmlParseURI` (RFC 3986) accepts
/// one: how it judged namespace names.
enum URIReference {
    /// A namespace name most packets declare: the constant's own storage (a string compared
    /// with it later is the same string) and how `check` judges it, worked out once per
    /// process instead of once per declaration.
    static func known(_ s: String) -> (uri: String, valid: Bool, absolute: Bool)? {
        guard s.utf8.count >= 14, let i = common.index(forKey: s) else { return nil }
        let (uri, judged) = common[i]
        return (uri, judged.valid, judged.absolute)
    }

    /// Namespace names met in XMP packets and Office / OpenDocument properties, judged by `check`.
    private static let common: [String: (valid: Bool, absolute: Bool)] = {
        let names = [
            XMPNamespace.rdf, XMPNamespace.xml, XMPNamespace.dc, XMPNamespace.xmp, XMPNamespace.photoshop,
            XMPNamespace.exif, XMPNamespace.tiff, XMPNamespace.iptcCore, XMPNamespace.xmpNote, XMPNamespace.pdf,
            "adobe:ns:meta/", "http://ns.adobe.com/xap/1.0/mm/", "http://ns.adobe.com/xap/1.0/sType/ResourceRef#",
            "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#", "http://ns.adobe.com/xap/1.0/sType/Dimensions#",
            "http://ns.adobe.com/xap/1.0/rights/", "http://ns.adobe.com/xap/1.0/g/", "http://ns.adobe.com/xap/1.0/g/img/",
            "http://ns.adobe.com/xap/1.0/t/pg/", "http://ns.adobe.com/camera-raw-settings/1.0/",
            "http://ns.adobe.com/exif/1.0/aux/", "http://ns.adobe.com/lightroom/1.0/", "http://cipa.jp/exif/1.0/",
            "http://iptc.org/std/Iptc4xmpExt/2008-02-29/", "http://ns.adobe.com/illustrator/1.0/",
            "http://ns.microsoft.com/photo/1.0/", "http://www.metadataworkinggroup.com/schemas/regions/",
            "http://ns.adobe.com/xmp/sType/Area#", "http://ns.google.com/photos/1.0/image/",
            "http://schemas.openxmlformats.org/package/2006/metadata/core-properties",
            "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties",
            "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes",
            "http://purl.org/dc/terms/", "http://purl.org/dc/dcmitype/", "http://www.w3.org/2001/XMLSchema-instance",
            "urn:oasis:names:tc:opendocument:xmlns:office:1.0", "urn:oasis:names:tc:opendocument:xmlns:meta:1.0",
        ]
        var out: [String: (valid: Bool, absolute: Bool)] = [:]
        for name in names { out[name] = check(name) }
        return out
    }()

    /// (a URI reference, an absolute one: with a scheme).
    static func check(_ s: String) -> (valid: Bool, absolute: Bool) {
        let all = Array(s.utf8)[...]
        var u = all
        if scheme(&u), u.first == UInt8(ascii: ":") {
            u = u.dropFirst()
            if hierarchical(&u, relative: false), rest(&u) { return (true, true) }
        }
        u = all
        return (hierarchical(&u, relative: true) && rest(&u), false)
    }

    /// ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), consumed only when a scheme is there
    /// (without its colon).
    private static func scheme(_ u: inout ArraySlice<UInt8>) -> Bool {
        guard let f = u.first, isAlpha(f) else { return false }
        var v = u.dropFirst()
        while let c = v.first, isAlpha(c) || isDigit(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") {
            v = v.dropFirst()
        }
        u = v
        return true
    }

    /// [ "?" query ] [ "#" fragment ], then the end.
    private static func rest(_ u: inout ArraySlice<UInt8>) -> Bool {
        if u.first == UInt8(ascii: "?") {
            u = u.dropFirst()
            while let n = pchar(u) ?? slashOrQuestion(u) { u = u.dropFirst(n) }
        }
        if u.first == UInt8(ascii: "#") {
            u = u.dropFirst()
            while let n = pchar(u) ?? slashOrQuestion(u) ?? bracket(u) { u = u.dropFirst(n) }
        }
        return u.isEmpty
    }

    private static func slashOrQuestion(_ u: ArraySlice<UInt8>) -> Int? {
        u.first == UInt8(ascii: "/") || u.first == UInt8(ascii: "?") ? 1 : nil
    }

    private static func bracket(_ u: ArraySlice<UInt8>) -> Int? {
        u.first == UInt8(ascii: "[") || u.first == UInt8(ascii: "]") ? 1 : nil
    }

    /// hier-part (or relative-part): "//" authority path-abempty / path-absolute /
    /// path-rootless (path-noscheme when relative: no ':' in the first segment) / empty.
    private static func hierarchical(_ u: inout ArraySlice<UInt8>, relative: Bool) -> Bool {
        if u.starts(with: [UInt8(ascii: "/"), UInt8(ascii: "/")]) {
            u = u.dropFirst(2)
            guard authority(&u) else { return false }
            segments(&u)
            return true
        }
        if u.first == UInt8(ascii: "/") {
            u = u.dropFirst()
            if pchar(u) != nil {
                while let n = pchar(u) { u = u.dropFirst(n) }
                segments(&u)
            }
            return true
        }
        if pchar(u) != nil {
            while let n = pchar(u), !(relative && u.first == UInt8(ascii: ":")) { u = u.dropFirst(n) }
            segments(&u)
        }
        return true
    }

    /// *( "/" segment )
    private static func segments(_ u: inout ArraySlice<UInt8>) {
        while u.first == UInt8(ascii: "/") {
            u = u.dropFirst()
            while let n = pchar(u) { u = u.dropFirst(n) }
        }
    }

    /// [ userinfo "@" ] host [ ":" port ]; host is "[" … "]" or a reg-name (an IPv4
    /// address is one too).
    private static func authority(_ u: inout ArraySlice<UInt8>) -> Bool {
        var v = u
        while let n = unreservedOrEscapedOrSubDelim(v) ?? (v.first == UInt8(ascii: ":") ? 1 : nil) { v = v.dropFirst(n) }
        if v.first == UInt8(ascii: "@") { u = v.dropFirst() }
        if u.first == UInt8(ascii: "[") {
            guard let close = u.firstIndex(of: UInt8(ascii: "]")) else { return false }
            u = u[(close + 1)...]
        } else {
            while let n = unreservedOrEscapedOrSubDelim(u) { u = u.dropFirst(n) }
        }
        if u.first == UInt8(ascii: ":") {
            u = u.dropFirst()
            guard let c = u.first, isDigit(c) else { return false }
            while let c = u.first, isDigit(c) { u = u.dropFirst() }
        }
        return true
    }

    /// unreserved / pct-encoded / sub-delims / ":" / "@": its length, or nil.
    private static func pchar(_ u: ArraySlice<UInt8>) -> Int? {
        if let n = unreservedOrEscapedOrSubDelim(u) { return n }
        return u.first == UInt8(ascii: ":") || u.first == UInt8(ascii: "@") ? 1 : nil
    }

    private static func unreservedOrEscapedOrSubDelim(_ u: ArraySlice<UInt8>) -> Int? {
        guard let c = u.first else { return nil }
        if isAlpha(c) || isDigit(c) { return 1 }
        switch c {
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"),
             UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("),
             UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"),
             UInt8(ascii: "="):
            return 1
        case UInt8(ascii: "%"):
            let i = u.startIndex
            guard u.count >= 3, isHex(u[i + 1]), isHex(u[i + 2]) else { return nil }
            return 3
        default:
            return nil
        }
    }

    private static func isAlpha(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }
    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    private static func isHex(_ c: UInt8) -> Bool { isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66) }
}
