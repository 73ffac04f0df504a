import Foundation
import Testing
@testable import SiloMergeCore
@testable import SiloMergeSQLite
import SiloMergeTestSupport

@Suite("Catalogue locations: a path or a postgresql:// URL, its identity and its side files")
struct CatalogueLocationTests {
    @Test("a relative path shows as given, is identified by its absolute path, and names its side files beside it")
    func relativePath() throws {
        let location = try CatalogueLocation.parse("sub/cat.sqlite")
        #expect(location.kind == .file(FilePath("sub/cat.sqlite")))
        #expect(location.display == "sub/cat.sqlite")
        let absolute = Posix.absolute(FilePath("sub/cat.sqlite")).display
        #expect(location.id == absolute)
        #expect(location.id.hasPrefix("/"))
        // parse knows no backend: no side files until the backend names them.
        #expect(location.ownFiles.map(\.display) == [absolute])
        let sqlite = CatalogueLocation.file("sub/cat.sqlite", sideSuffixes: SQLiteCatalogue.sideSuffixes)
        #expect(sqlite.id == location.id)
        #expect(sqlite.ownFiles.map(\.display) == [absolute, absolute + "-wal", absolute + "-shm", absolute + "-journal", absolute + "-lock",
                                                   absolute + "-open-lock"])
    }

    @Test("an opened SQLite catalogue carries its location, side files included")
    func openedStore() throws {
        let tree = try TestTree()
        let store = try SQLiteCatalogue(path: tree.catalogue)
        #expect(store.location.display == tree.catalogue)
        #expect(store.location.id == tree.catalogue)
        #expect(Set(store.location.ownFiles.map { String(decoding: $0.lastComponent, as: UTF8.self) })
                == ["catalogue.sqlite", "catalogue.sqlite-wal", "catalogue.sqlite-shm", "catalogue.sqlite-journal", "catalogue.sqlite-lock",
                    "catalogue.sqlite-open-lock"])
        // The scan lock is one of them.
        #expect(store.location.ownFiles.map(\.display).contains(store.lockPath))
    }

    @Test("a postgresql:// or postgres:// URL is a server catalogue; its password never reaches the identity or messages",
          arguments: [
            ("postgresql://alice:s3cret@db.example:5432/silos?sslmode=require", "postgresql://alice@db.example:5432/silos?sslmode=require"),
            ("postgres://db.example/silos", "postgres://db.example/silos"),
            ("POSTGRESQL://bob:p%40ss@h/d", "POSTGRESQL://bob@h/d"),
            ("postgresql://carol@h/d", "postgresql://carol@h/d"),
          ])
    func postgresURL(text: String, shown: String) throws {
        let location = try CatalogueLocation.parse(text)
        #expect(location.kind == .postgres(url: shown))
        #expect(location.id == shown && location.display == shown && "\(location)" == shown)
        #expect(location.ownFiles.isEmpty)
    }

    @Test("an empty path, a NUL byte or another URL scheme is refused with the reason", arguments: [
        ("", "the catalogue path is empty"),
        ("a\u{0}b", "NUL"),
        ("mysql://h/d", "mysql:// is not a catalogue SiloMerge knows"),
    ])
    func refused(text: String, reason: String) {
        #expect {
            _ = try CatalogueLocation.parse(text)
        } throws: { error in
            "\(error)".contains(reason)
        }
    }

    @Test("a file name with a colon is still a path")
    func colonInName() throws {
        #expect(try CatalogueLocation.parse("c:atalogue.sqlite").kind == .file(FilePath("c:atalogue.sqlite")))
        #expect(try CatalogueLocation.parse("./x://y").kind == .file(FilePath("./x://y")))
    }
}
