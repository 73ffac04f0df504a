import Foundation
import Testing
@testable import SiloMergeCore
import SiloMergeTestSupport

@Suite("Paths, globs and hashing primitives")
struct SupportTests {
    @Test("RelativePath keeps exact bytes and escapes only for display")
    func relativePathDisplay() {
        let latin1 = RelativePath(bytes: Array("caf".utf8) + [0xE9] + Array(".jpg".utf8))
        #expect(latin1.string == nil)
        #expect(latin1.display == "caf\\xE9.jpg")
        let newline = RelativePath("line\nbreak.jpg")
        #expect(newline.string == "line\nbreak.jpg")
        #expect(newline.display == "line\\nbreak.jpg")
        let normal = RelativePath("2021/été/photo.jpg")
        #expect(normal.display == "2021/été/photo.jpg")
        #expect(normal.parent == RelativePath("2021/été"))
        #expect(Array(normal.lastComponent) == Array("photo.jpg".utf8))
        #expect(RelativePath.root.appending(Array("a".utf8)).appending(Array("b".utf8)) == RelativePath("a/b"))
        // A backslash is doubled whenever a name needs escaping, so escapes stay unambiguous.
        let both = RelativePath(bytes: Array("a\\x41".utf8) + [0xFF])
        #expect(both.display == "a\\\\x41\\xFF")
    }

    @Test("FilePath.contains works component by component")
    func filePathContains() {
        #expect(FilePath("/srv/a").contains(FilePath("/srv/a/b")))
        #expect(FilePath("/srv/a").contains(FilePath("/srv/a")))
        #expect(!FilePath("/srv/a").contains(FilePath("/srv/ab")))
        #expect(!FilePath("/srv/a/b").contains(FilePath("/srv/a")))
    }

    @Test("Globs: names anywhere, anchored paths, folders only, classes and **",
          arguments: [
            ("*.tmp", "a/b/c.tmp", false, true),
            ("*.tmp", "a/b/c.tmpx", false, false),
            (".DS_Store", "x/.DS_Store", false, true),
            ("._*", "x/._hero.jpg", false, true),
            (".git/", "proj/.git", true, true),
            (".git/", "proj/.git", false, false),
            ("drafts/*.psd", "drafts/a.psd", false, true),
            ("drafts/*.psd", "x/drafts/a.psd", false, false),
            ("drafts/*.psd", "drafts/sub/a.psd", false, false),
            ("2021/**/raw", "2021/raw", true, true),
            ("2021/**/raw", "2021/a/b/raw", true, true),
            ("2021/**", "2021/a/b.jpg", false, true),
            ("img_[0-9][0-9].jpg", "img_42.jpg", false, true),
            ("img_[!0-9]*.jpg", "img_4x.jpg", false, false),
            ("img_?.jpg", "img_a.jpg", false, true),
            ("img_?.jpg", "img_ab.jpg", false, false),
            ("/top.txt", "top.txt", false, true),
            ("/top.txt", "a/top.txt", false, false),
          ])
    func globMatching(pattern: String, path: String, isDirectory: Bool, expected: Bool) throws {
        let glob = try Glob(pattern)
        #expect(glob.matches(path: RelativePath(path), isDirectory: isDirectory) == expected)
    }

    @Test("A hostile glob is matched in linear time")
    func globNoBlowUp() throws {
        let glob = try Glob(String(repeating: "*a", count: 40) + "b")
        let name = RelativePath(String(repeating: "a", count: 4000))
        let start = Date()
        #expect(!glob.matches(path: name, isDirectory: false))
        #expect(Date().timeIntervalSince(start) < 2)
    }

    @Test("Malformed globs are refused with a reason")
    func globErrors() {
        #expect(throws: Glob.ParseError.unterminatedClass("a[bc")) { try Glob("a[bc") }
        #expect(throws: Glob.ParseError.empty) { try Glob("") }
    }

    @Test("Default ignore rules skip junk and nothing else")
    func defaultIgnores() {
        let rules = FilterRules()
        #expect(rules.skips(parent: RelativePath("a"), name: Array(".DS_Store".utf8), isDirectory: false))
        #expect(rules.skips(parent: RelativePath("a"), name: Array("Thumbs.db".utf8), isDirectory: false))
        #expect(rules.skips(parent: RelativePath("a"), name: Array("._x.jpg".utf8), isDirectory: false))
        #expect(rules.skips(parent: .root, name: Array(".git".utf8), isDirectory: true))
        #expect(!rules.skips(parent: .root, name: Array(".git".utf8), isDirectory: false))
        #expect(!rules.skips(parent: .root, name: Array("photo.jpg".utf8), isDirectory: false))
        let none = FilterRules(useDefaultIgnores: false)
        #expect(!none.skips(parent: .root, name: Array(".DS_Store".utf8), isDirectory: false))
    }

    @Test("SHA-256 through OpenSSL matches known vectors, streamed or not")
    func sha256Vectors() throws {
        #expect(try sha([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(try sha(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(try sha(million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        let h = try SHA256Hasher()
        for chunk in stride(from: 0, to: million.count, by: 65_536) {
            try h.update(Array(million[chunk..<min(chunk + 65_536, million.count)]))
        }
        #expect(try h.finalize().hex == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        let digest = try SHA256Hasher.digest(Array("abc".utf8))
        #expect(SHA256Digest(hex: digest.hex) == digest)
        #expect(SHA256Digest(hex: digest.hex.uppercased()) == digest)
        #expect(SHA256Digest(hex: "zz") == nil)
    }

    @Test("Formatting: sizes, counts, durations")
    func formatting() {
        #expect(Format.bytes(0) == "0 B")
        #expect(Format.bytes(1023) == "1023 B")
        #expect(Format.bytes(1536) == "1.5 KiB")
        #expect(Format.bytes(5 << 30) == "5.0 GiB")
        #expect(Format.count(1_234_567) == "1,234,567")
        #expect(Format.duration(0.42) == "0.4 s")
        #expect(Format.duration(185) == "3:05")
        #expect(Encode.json("a\"b\\c\nd\u{1}") == "\"a\\\"b\\\\c\\nd\\u0001\"")
        #expect(CSV.quote("plain") == "plain")
        #expect(CSV.quote("a,b") == "\"a,b\"")
        #expect(CSV.quote("say \"hi\"") == "\"say \"\"hi\"\"\"")
    }

    @Test("Timestamps are ISO 8601 UTC with milliseconds and parse back")
    func timestamps() {
        let date = Date(timeIntervalSince1970: 1_700_000_000.123)
        let text = Timestamp.string(date)
        #expect(text == "2023-11-14T22:13:20.123Z")
        #expect(abs((Timestamp.date(text)?.timeIntervalSince1970 ?? 0) - 1_700_000_000.123) < 0.001)
    }
}

@Test("UnifiedField.index is the field's position in allCases, so per-field tables and the field order agree")
func unifiedFieldIndex() {
    for (i, f) in UnifiedField.allCases.enumerated() { #expect(f.index == i, "\(f)") }
    #expect(UnifiedField.allCases.sorted() == UnifiedField.allCases)
}
