import Foundation

/// Makes names safe on every common file system (ext4, XFS, btrfs, APFS, HFS+, NTFS, exFAT,
/// FAT32 through SMB), and compares them as a case-insensitive, normalising one would.
///
/// A sanitised component:
/// - is valid UTF-8 in Unicode NFC (the form macOS and Windows expect; a name that arrives in
///   NFD from a Mac becomes NFC);
/// - holds no `/`, NUL, control character (C0, DEL, C1) or Windows-reserved character
///   `< > : " \ | ? *` (each becomes `_`);
/// - is not `.` or `..`, does not end in a dot or a space, and is not a reserved DOS device name
///   (`CON`, `PRN`, `AUX`, `NUL`, `COM0`–`COM9`, `LPT0`–`LPT9`, `CONIN$`, `CONOUT$`, with or
///   without an extension, in any case: `con.txt` becomes `con_.txt`);
/// - does not start with `.silomerge-` (names the tool keeps for its own temporary files);
/// - is at most 255 bytes of UTF-8, cut on a character boundary, keeping the extension.
///
/// Sanitising is idempotent: a sanitised name comes back unchanged.
public enum NameSanitizer {
    public static let maxComponentBytes = 255
    /// Extensions longer than this are not kept apart when a long name is shortened.
    static let maxKeptExtensionBytes = 32
    static let forbidden: Set<Unicode.Scalar> = ["<", ">", ":", "\"", "/", "\\", "|", "?", "*"]
    static let reservedBases: Set<String> = {
        var s: Set<String> = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
        for i in 0...9 { s.insert("COM\(i)"); s.insert("LPT\(i)") }
        // Windows also treats the superscript digits as device numbers.
        for d in ["¹", "²", "³"] { s.insert("COM\(d)"); s.insert("LPT\(d)") }
        return s
    }()

    /// Turns exact name bytes into text: valid UTF-8 as is; otherwise every byte that is not
    /// part of a valid UTF-8 sequence becomes `%XX` (and `%` itself stays `%`). Deterministic,
    /// and two different byte names stay different.
    public static func text(fromBytes bytes: some Collection<UInt8>) -> String {
        if let s = String(validatingUTF8Bytes: bytes) { return s }
        let all = Array(bytes)
        var out = ""
        var i = 0
        while i < all.count {
            let (scalar, length) = PathDisplay.decodeScalar(all, at: i)
            if let scalar {
                out.unicodeScalars.append(scalar)
                i += length
            } else {
                out += String(format: "%%%02X", all[i])
                i += 1
            }
        }
        return out
    }

    /// One path component made safe (see the type's documentation).
    public static func component(_ input: String) -> String {
        var scalars = String.UnicodeScalarView()
        for s in input.precomposedStringWithCanonicalMapping.unicodeScalars {
            if isControl(s) || forbidden.contains(s) { scalars.append("_") } else { scalars.append(s) }
        }
        var name = String(scalars)
        name = trimTrailingDotsAndSpaces(name)
        if name.isEmpty { name = "_" }
        if name.hasPrefix(".silomerge-") { name = "_" + name.dropFirst() }
        name = avoidReserved(name)
        if name.utf8.count > maxComponentBytes { name = shorten(name, to: maxComponentBytes) }
        return name
    }

    /// True when `name` is what `component` would make of it.
    public static func isSafe(_ name: String) -> Bool { component(name) == name }

    /// The key two names collide under: NFC, then Unicode case folding (so `Foto.JPG`,
    /// `foto.jpg` and an NFD `foto.jpg` share one key, as on APFS, HFS+, NTFS and exFAT).
    public static func collisionKey(_ text: String) -> [UInt8] {
        let folded = text.precomposedStringWithCanonicalMapping.folding(options: [.caseInsensitive], locale: nil)
        return Array(folded.precomposedStringWithCanonicalMapping.utf8)
    }

    /// The collision key of a whole relative path (each byte that is not UTF-8 kept as `%XX`).
    public static func collisionKey(path: RelativePath) -> [UInt8] {
        collisionKey(text(fromBytes: path.bytes))
    }

    /// Splits a name into stem and extension (with its dot): "a.tar.gz" → ("a.tar", ".gz");
    /// ".profile" → (".profile", ""); "noext" → ("noext", "").
    public static func splitExtension(_ name: String) -> (stem: String, ext: String) {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return (name, "") }
        return (String(name[..<dot]), String(name[dot...]))
    }

    /// Shortens `name` to at most `limit` bytes of UTF-8 on a character boundary, keeping its
    /// extension when that is short.
    public static func shorten(_ name: String, to limit: Int) -> String {
        let (stem, ext) = splitExtension(name)
        let keepExt = !ext.isEmpty && ext.utf8.count <= maxKeptExtensionBytes && ext.utf8.count < limit
        var head = keepExt ? stem : name
        let tail = keepExt ? ext : ""
        let budget = limit - tail.utf8.count
        var used = 0
        var cut = head.startIndex
        for index in head.indices {
            let n = head[index].utf8.count
            if used + n > budget { break }
            used += n
            cut = head.index(after: index)
        }
        head = String(head[..<cut])
        // A character is never split; if one character is longer than the budget (a huge
        // combining sequence), fall back to whole scalars.
        if head.isEmpty, budget > 0 {
            var s = String.UnicodeScalarView()
            var u = 0
            for scalar in (keepExt ? stem : name).unicodeScalars {
                let n = String(scalar).utf8.count
                if u + n > budget { break }
                s.append(scalar); u += n
            }
            head = String(s)
        }
        head = trimTrailingDotsAndSpaces(head)
        if head.isEmpty { head = "_" }
        return head + tail
    }

    static func isControl(_ s: Unicode.Scalar) -> Bool {
        s.value < 0x20 || s.value == 0x7F || (0x80...0x9F).contains(s.value)
    }

    static func trimTrailingDotsAndSpaces(_ s: String) -> String {
        var scalars = Array(s.unicodeScalars)
        while let last = scalars.last, last == "." || last == " " { scalars.removeLast() }
        var v = String.UnicodeScalarView()
        v.append(contentsOf: scalars)
        return String(v)
    }

    static func avoidReserved(_ name: String) -> String {
        let firstDot = name.firstIndex(of: ".") ?? name.endIndex
        var base = String(name[..<firstDot])
        while base.hasSuffix(" ") { base.removeLast() }
        guard reservedBases.contains(base.uppercased()) else { return name }
        return String(name[..<firstDot]) + "_" + String(name[firstDot...])
    }
}
