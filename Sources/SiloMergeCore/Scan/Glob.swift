/// A gitignore-style glob, matched against the bytes of a path relative to a silo root.
///
/// - A pattern without `/` (other than a trailing one) matches the file or folder *name* at any
///   depth: `*.tmp`, `.DS_Store`, `._*`.
/// - A pattern with a `/` inside is anchored at the silo root and matched against the whole
///   relative path: `drafts/*.psd`, `/cache`, `2021/**/raw`.
/// - A trailing `/` makes the pattern match folders only: `.git/`.
/// - `*` matches any run of bytes except `/`; `**` also crosses `/` (`a/**/b` matches `a/b`);
///   `?` matches one byte except `/`; `[abc]`, `[a-z]`, `[!abc]` match one byte from a set;
///   `\` escapes the next character.
///
/// Matching is a dynamic programme over (pattern token, text position): linear in
/// pattern × text, so no hostile pattern can make it explode.
public struct Glob: Sendable, Hashable, CustomStringConvertible {
    public let pattern: String
    let tokens: [Token]
    public let anchored: Bool
    public let directoryOnly: Bool
    /// Most patterns are a plain name, a prefix (`._*`) or a suffix (`*.tmp`): those are
    /// matched with one comparison instead of the general matcher, since every entry of every
    /// walk is checked against every pattern.
    let fast: Fast

    enum Fast: Hashable, Sendable {
        case literal([UInt8])
        case prefix([UInt8])
        case suffix([UInt8])
        case general
    }

    enum Token: Hashable, Sendable {
        case literal(UInt8)
        case any                       // ?
        case star                      // *
        case globstar                  // ** (crosses /)
        case globstarSlash             // **/ : empty, or anything ending in /
        case set([ClosedRange<UInt8>], negated: Bool)
    }

    public enum ParseError: Error, CustomStringConvertible, Equatable {
        case empty
        case unterminatedClass(String)
        public var description: String {
            switch self {
            case .empty: "empty glob pattern"
            case .unterminatedClass(let p): "glob pattern '\(p)' has a '[' without its closing ']'"
            }
        }
    }

    public var description: String { pattern }

    public init(_ pattern: String) throws {
        self.pattern = pattern
        var bytes = Array(pattern.utf8)
        guard !bytes.isEmpty else { throw ParseError.empty }
        var dirOnly = false
        if bytes.count > 1, bytes.last == 0x2F { dirOnly = true; bytes.removeLast() }
        var anchored = false
        if bytes.first == 0x2F { anchored = true; bytes.removeFirst() }
        if bytes.contains(0x2F) { anchored = true }
        guard !bytes.isEmpty else { throw ParseError.empty }
        self.anchored = anchored
        self.directoryOnly = dirOnly
        let tokens = try Glob.tokenize(bytes, pattern: pattern)
        self.tokens = tokens
        func literals(_ t: ArraySlice<Token>) -> [UInt8]? {
            var out: [UInt8] = []
            for token in t { guard case .literal(let c) = token else { return nil }; out.append(c) }
            return out
        }
        if let all = literals(tokens[...]) {
            fast = .literal(all)
        } else if tokens.last == .star, let head = literals(tokens.dropLast()), !anchored {
            fast = .prefix(head)
        } else if tokens.first == .star, let tail = literals(tokens.dropFirst()), !anchored {
            fast = .suffix(tail)
        } else {
            fast = .general
        }
    }

    /// Matches a single name (for patterns that are not anchored).
    public func matches(name: ArraySlice<UInt8>, isDirectory: Bool) -> Bool {
        if directoryOnly && !isDirectory { return false }
        return matchName(name)
    }

    func matchName(_ name: ArraySlice<UInt8>) -> Bool {
        switch fast {
        case .literal(let l): return name.elementsEqual(l)
        case .prefix(let p): return name.count >= p.count && name.prefix(p.count).elementsEqual(p)
        case .suffix(let x): return name.count >= x.count && name.suffix(x.count).elementsEqual(x)
        case .general: return Glob.match(tokens, name)
        }
    }

    static func tokenize(_ b: [UInt8], pattern: String) throws -> [Token] {
        var out: [Token] = []
        var i = 0
        while i < b.count {
            let c = b[i]
            switch c {
            case UInt8(ascii: "\\"):
                if i + 1 < b.count { out.append(.literal(b[i + 1])); i += 2 } else { out.append(.literal(c)); i += 1 }
            case UInt8(ascii: "?"):
                out.append(.any); i += 1
            case UInt8(ascii: "*"):
                if i + 1 < b.count, b[i + 1] == UInt8(ascii: "*") {
                    // "**/" at a component start matches zero or more whole folders.
                    let atStart = i == 0 || b[i - 1] == 0x2F
                    if atStart, i + 2 < b.count, b[i + 2] == 0x2F {
                        out.append(.globstarSlash); i += 3
                    } else {
                        out.append(.globstar); i += 2
                    }
                    while i < b.count, b[i] == UInt8(ascii: "*") { i += 1 }
                } else {
                    out.append(.star); i += 1
                }
            case UInt8(ascii: "["):
                var j = i + 1
                var negated = false
                if j < b.count, b[j] == UInt8(ascii: "!") || b[j] == UInt8(ascii: "^") { negated = true; j += 1 }
                var ranges: [ClosedRange<UInt8>] = []
                var first = true
                var closed = false
                while j < b.count {
                    var ch = b[j]
                    if ch == UInt8(ascii: "]") && !first { closed = true; j += 1; break }
                    first = false
                    if ch == UInt8(ascii: "\\"), j + 1 < b.count { j += 1; ch = b[j] }
                    if j + 2 < b.count, b[j + 1] == UInt8(ascii: "-"), b[j + 2] != UInt8(ascii: "]") {
                        var hi = b[j + 2]
                        var step = 3
                        if hi == UInt8(ascii: "\\"), j + 3 < b.count { hi = b[j + 3]; step = 4 }
                        ranges.append(min(ch, hi)...max(ch, hi))
                        j += step
                    } else {
                        ranges.append(ch...ch)
                        j += 1
                    }
                }
                guard closed else { throw ParseError.unterminatedClass(pattern) }
                out.append(.set(ranges, negated: negated))
                i = j
            default:
                out.append(.literal(c)); i += 1
            }
        }
        return out
    }

    /// Matches a relative path (for anchored patterns) or a name (for the others).
    public func matches(path: RelativePath, isDirectory: Bool) -> Bool {
        if directoryOnly && !isDirectory { return false }
        if anchored { return matchName(path.bytes[...]) }
        return matchName(path.lastComponent)
    }

    static func match(_ tokens: [Token], _ text: ArraySlice<UInt8>) -> Bool {
        let t = Array(text)
        let n = t.count
        // reach[j]: the tokens consumed so far can match t[0..<j].
        var reach = [Bool](repeating: false, count: n + 1)
        reach[0] = true
        for token in tokens {
            var next = [Bool](repeating: false, count: n + 1)
            switch token {
            case .star, .globstar:
                var on = false
                for j in 0...n {
                    if reach[j] { on = true }
                    if on { next[j] = true }
                    // A plain star cannot cross a '/': t[j] == '/' stops the run.
                    if case .star = token, j < n, t[j] == 0x2F { on = false }
                }
            case .globstarSlash:
                // Empty, or any text that ends right after a '/'.
                var on = false
                for j in 0...n {
                    if reach[j] { next[j] = true; on = true }
                    if on, j > 0, t[j - 1] == 0x2F { next[j] = true }
                }
            case .literal(let c):
                for j in 0..<n where reach[j] && t[j] == c { next[j + 1] = true }
            case .any:
                for j in 0..<n where reach[j] && t[j] != 0x2F { next[j + 1] = true }
            case .set(let ranges, let negated):
                for j in 0..<n where reach[j] && t[j] != 0x2F {
                    let inSet = ranges.contains { $0.contains(t[j]) }
                    if inSet != negated { next[j + 1] = true }
                }
            }
            reach = next
            if !reach.contains(true) { return false }
        }
        return reach[n]
    }
}

/// Which entries a walk skips and which files it keeps.
public struct FilterRules: Sendable, Hashable {
    /// Junk every department's folders collect, skipped unless `useDefaultIgnores` is false.
    /// `*_original` is the backup exiftool leaves beside every file it writes into: the
    /// original, under another name, which would otherwise be catalogued (and merged) as a
    /// second content.
    public static let defaultIgnorePatterns: [String] = [
        ".DS_Store", "._*", "Thumbs.db", "ehthumbs.db", "desktop.ini", "Icon\r", "*_original",
        ".git/", ".svn/", ".hg/", ".Trashes/", ".Spotlight-V100/", ".fseventsd/",
        ".TemporaryItems/", "@eaDir/", "$RECYCLE.BIN/", "lost+found/",
    ]

    public var excludes: [Glob]
    public var includes: [Glob]
    /// How many of `excludes` (the first ones) are the default ignore list.
    public let defaultCount: Int
    /// True when some pattern looks at the whole path, so the walk must build it for each entry.
    public let needsPath: Bool

    public init(excludes: [Glob] = [], includes: [Glob] = [], useDefaultIgnores: Bool = true) {
        let defaults = useDefaultIgnores ? FilterRules.defaultIgnorePatterns.map { try! Glob($0) } : []
        self.excludes = defaults + excludes
        self.defaultCount = defaults.count
        self.includes = includes
        self.needsPath = (self.excludes + includes).contains { $0.anchored }
    }

    /// True when the entry (file or folder) is excluded.
    public func isExcluded(_ path: RelativePath, isDirectory: Bool) -> Bool {
        excludes.contains { $0.matches(path: path, isDirectory: isDirectory) }
    }

    /// True when a regular file passes the include list (an empty list includes everything).
    public func isIncluded(_ path: RelativePath) -> Bool {
        includes.isEmpty || includes.contains { $0.matches(path: path, isDirectory: false) }
    }

    /// Why `skips` skips an entry (nil: it does not): the default ignore list, an exclude rule
    /// (each with its pattern), or no include rule matching.
    public func skipReason(parent: RelativePath, name: [UInt8], isDirectory: Bool) -> (reason: UncataloguedReason, detail: String)? {
        let path = parent.appending(name)
        for (i, glob) in excludes.enumerated() where glob.matches(path: path, isDirectory: isDirectory) {
            return i < defaultCount ? (.ignored, "default ignore list: \(glob.pattern)") : (.excluded, "exclude rule: \(glob.pattern)")
        }
        if !isDirectory && !isIncluded(path) {
            return (.notIncluded, "no include rule matches (\(includes.map(\.pattern).joined(separator: ", ")))")
        }
        return nil
    }

    /// The walk's check for one entry: whether to skip it. `parent` and `name` make the path
    /// only when an anchored pattern needs it.
    public func skips(parent: RelativePath, name: [UInt8], isDirectory: Bool) -> Bool {
        if needsPath {
            let path = parent.appending(name)
            if isExcluded(path, isDirectory: isDirectory) { return true }
            return !isDirectory && !isIncluded(path)
        }
        let slice = name[...]
        if excludes.contains(where: { $0.matches(name: slice, isDirectory: isDirectory) }) { return true }
        return !isDirectory && !includes.isEmpty && !includes.contains { $0.matches(name: slice, isDirectory: false) }
    }
}
