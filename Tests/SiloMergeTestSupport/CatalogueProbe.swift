import Foundation
import GRDB
import SiloMergeCore
@testable import SiloMergeSQLite

// What a core test wants to know about a catalogue's contents, or deliberately break in it, that
// no store protocol answers (a protocol answers what the tool needs, not what a test checks).
// The questions are here, named; the answers are backend-specific, so the raw SQL stays in the
// test support and out of Tests/SiloMergeCoreTests. A second backend answers the same questions
// by conforming to `CatalogueProbe` and adding itself to `probe(_:)`.

/// One catalogued file as its row holds it.
public struct ProbedFile: Sendable, Equatable {
    public var path: String
    public var name: String
    public var sha256: String?
    public var format: String?
    public var width: Int?
    public var height: Int?
    public var metadataRead: Int?
    public var imagePrefix: String?
    public var imageSHA256: String?
}

/// One stored metadata value, with the file it belongs to.
public struct ProbedMetadata: Sendable, Equatable {
    public var fileName: String
    public var field: String
    /// Where the value was read (`exif`, `xmp`, `sidecar`, …).
    public var origin: String
    /// The sidecar or manifest it came from; nil for the file's own bytes.
    public var source: String?
    public var value: String
}

/// One recorded sidecar pairing.
public struct ProbedSidecar: Sendable, Equatable {
    public var silo: String
    public var dir: String
    public var asset: String
    public var sidecar: String
    public var used: Bool
    public var form: String
}

/// Changes to catalogued files' rows, each nil field left alone (`imagePrefix: .some(nil)` clears it).
public struct FileRowChange: Sendable {
    public var sha256: String?
    public var format: String?
    public var width: Int?
    public var height: Int?
    public var metadataRead: Int?
    public var imagePrefix: String??
    public var imageSHA256: String??

    public init(sha256: String? = nil, format: String? = nil, width: Int? = nil, height: Int? = nil,
                metadataRead: Int? = nil, imagePrefix: String?? = nil, imageSHA256: String?? = nil) {
        self.sha256 = sha256; self.format = format; self.width = width; self.height = height
        self.metadataRead = metadataRead; self.imagePrefix = imagePrefix; self.imageSHA256 = imageSHA256
    }
}

public protocol CatalogueProbe {
    /// Every catalogued file, in path order.
    func files() throws -> [ProbedFile]
    /// Every stored metadata value, in the order stored (per file, then insertion).
    func metadata() throws -> [ProbedMetadata]
    /// Every recorded sidecar pairing.
    func sidecars() throws -> [ProbedSidecar]
    /// The kinds of the changes recorded by `runID`, or by every run.
    func changeKinds(runID: Int64?) throws -> [String]
    /// The stored unified catalogue: (size, copies) of each asset.
    func assetCopies() throws -> [(size: Int64, copies: Int)]
    /// The status of every stored asset field.
    func assetFieldStatuses() throws -> [String]

    /// Rewrites the rows of the files named `name` (every file when nil) without touching the files.
    func change(filesNamed name: String?, _ change: FileRowChange) throws
    /// Forgets the metadata values read from `origin`.
    func deleteMetadata(origin: String) throws
}

/// The probe of `store`'s backend.
public func probe(_ store: any CatalogueStore) -> any CatalogueProbe {
    guard let sqlite = store as? SQLiteCatalogue else {
        preconditionFailure("no CatalogueProbe for \(type(of: store)): add the backend's to probe(_:)")
    }
    return SQLiteProbe(store: sqlite)
}

struct SQLiteProbe: CatalogueProbe {
    let store: SQLiteCatalogue

    func files() throws -> [ProbedFile] {
        try store.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT path, name, sha256, format, width, height, metadata_read, image_prefix, image_sha256
                FROM file ORDER BY path
                """).map {
                ProbedFile(path: $0["path"], name: $0["name"], sha256: $0["sha256"], format: $0["format"],
                           width: $0["width"], height: $0["height"], metadataRead: $0["metadata_read"],
                           imagePrefix: $0["image_prefix"], imageSHA256: $0["image_sha256"])
            }
        }
    }

    func metadata() throws -> [ProbedMetadata] {
        try store.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT f.name, m.field, m.origin, m.source, m.value
                FROM metadata m JOIN file f ON f.id = m.file_id ORDER BY m.file_id, m.rowid
                """).map {
                ProbedMetadata(fileName: $0["name"], field: $0["field"], origin: $0["origin"], source: $0["source"],
                               value: $0["value"])
            }
        }
    }

    func sidecars() throws -> [ProbedSidecar] {
        try store.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT s.name AS silo, f.dir AS dir, f.name AS asset, sc.name AS sidecar, sc.used AS used, sc.form AS form
                FROM sidecar sc JOIN file f ON f.id = sc.file_id JOIN silo s ON s.id = f.silo_id
                """).map {
                ProbedSidecar(silo: $0["silo"], dir: $0["dir"], asset: $0["asset"], sidecar: $0["sidecar"],
                              used: ($0["used"] as Int) != 0, form: $0["form"])
            }
        }
    }

    func changeKinds(runID: Int64?) throws -> [String] {
        try store.pool.read { db in
            if let runID {
                return try String.fetchAll(db, sql: "SELECT kind FROM change WHERE run_id = ?", arguments: [runID])
            }
            return try String.fetchAll(db, sql: "SELECT kind FROM change")
        }
    }

    func assetCopies() throws -> [(size: Int64, copies: Int)] {
        try store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT size, copies FROM asset").map { (size: $0[0] as Int64, copies: $0[1] as Int) }
        }
    }

    func assetFieldStatuses() throws -> [String] {
        try store.pool.read { db in try String.fetchAll(db, sql: "SELECT status FROM asset_field") }
    }

    func change(filesNamed name: String?, _ change: FileRowChange) throws {
        var sets: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        func set(_ column: String, _ value: (any DatabaseValueConvertible)?) { sets.append("\(column) = ?"); arguments.append(value) }
        if let v = change.sha256 { set("sha256", v) }
        if let v = change.format { set("format", v) }
        if let v = change.width { set("width", v) }
        if let v = change.height { set("height", v) }
        if let v = change.metadataRead { set("metadata_read", v) }
        if let v = change.imagePrefix { set("image_prefix", v) }
        if let v = change.imageSHA256 { set("image_sha256", v) }
        precondition(!sets.isEmpty, "a FileRowChange that changes nothing")
        var sql = "UPDATE file SET " + sets.joined(separator: ", ")
        if let name { sql += " WHERE name = ?"; arguments.append(name) }
        try store.pool.write { db in try db.execute(sql: sql, arguments: StatementArguments(arguments)) }
    }

    func deleteMetadata(origin: String) throws {
        try store.pool.write { db in try db.execute(sql: "DELETE FROM metadata WHERE origin = ?", arguments: [origin]) }
    }
}
