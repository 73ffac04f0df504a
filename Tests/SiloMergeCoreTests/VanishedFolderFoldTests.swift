import Foundation
import Testing
@testable import SiloMergeCore

/// Folder-vanish detection fed plain values: the folders a complete walk did not list, the
/// folders it could not read, the folders the rules excluded. No catalogue involved.
@Suite("Folder-vanish detection as a fold over the folders a walk did not list")
struct VanishedFolderFoldTests {
    func folder(_ dir: String, silo: Int64 = 1) -> SiloFolder { SiloFolder(siloID: silo, dir: RelativePath(dir)) }

    @Test("an unlisted folder is missing; at or below an excluded one, excluded; at or below an unreadable one, kept")
    func classify() {
        var fold = VanishedFolderFold(unreadable: [folder("locked")], excluded: [folder("cache"), folder("x/tmp", silo: 2)])
        for dir in ["gone", "gone/deeper", "locked", "locked/inner", "lockedness", "cache", "cache/a/b", "cached"] {
            fold.add(folder(dir))
        }
        // The same folder names in another silo: its own rules.
        fold.add(folder("locked/inner", silo: 2))
        fold.add(folder("x/tmp/y", silo: 2))
        fold.add(folder("cache", silo: 2))
        let kinds = Dictionary(uniqueKeysWithValues: fold.vanished.map { ("\($0.folder.siloID):\($0.folder.dir.display)", $0.kind) })
        #expect(kinds == ["1:gone": .missing, "1:gone/deeper": .missing, "1:lockedness": .missing, "1:cache": .excluded,
                          "1:cache/a/b": .excluded, "1:cached": .missing,
                          "2:locked/inner": .missing, "2:x/tmp/y": .excluded, "2:cache": .missing])
    }

    @Test("an unreadable silo root keeps everything; an excluded root stands for itself only")
    func roots() {
        var unread = VanishedFolderFold(unreadable: [folder("")], excluded: [])
        unread.add(folder(""))
        unread.add(folder("a/b"))
        #expect(unread.vanished.isEmpty)
        var rootExcluded = VanishedFolderFold(unreadable: [], excluded: [folder("")])
        rootExcluded.add(folder(""))
        rootExcluded.add(folder("a"))
        #expect(rootExcluded.vanished.map(\.kind) == [.excluded, .missing])
    }
}
