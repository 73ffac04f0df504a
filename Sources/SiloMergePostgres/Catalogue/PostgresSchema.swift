import PostgresNIO

/// The PostgreSQL catalogue's schema: the same tables as the SQLite catalogue's newest schema
/// (Sources/SiloMergeSQLite/Schema.swift), in PostgreSQL's types:
///
/// - folders, names and roots are `bytea`: a name that is not UTF-8 stays exact, and `bytea`
///   orders byte by byte as SQLite's BINARY collation does, so both backends list in one order;
/// - SHA-256 digests (content, image data, image-data prefix) are `bytea` of 32 bytes, half the
///   size of the hex text a 10-million-file catalogue would otherwise carry in every index;
/// - times are the same ISO 8601 UTC text as in SQLite (`Timestamp`), so a catalogue copied or
///   merged between the backends keeps every value byte for byte;
/// - ids are identity columns; a file's identity is (silo's host, device, inode).
///
/// Each concern's tables are listed beside the code that uses them (`PostgresSchema+Scan`,
/// `+Content`, `+Findings`, `+Shards`); version 1 creates them all. Later versions follow, never edited once
/// shipped, as in SQLite: version 2 keeps the references of the tables a scan fills by
/// statement-level triggers instead of per-row foreign-key checks (`+Integrity`), and keys the
/// content and size indexes by the digest and the size alone (`narrowIndexes`); version 3 adds
/// the perceptual hashes of images (`perceptualHashes`).
enum PostgresSchema {
    static var migrations: [PostgresMigration] {
        [PostgresMigration(version: 1, name: "catalogue", statements: scanTables + contentTables + findingTables + shardTables),
         PostgresMigration(version: 2, name: "set-wise references, narrow indexes", statements: integrityTriggers + narrowIndexes),
         PostgresMigration(version: 3, name: "perceptual hashes", statements: perceptualHashes)]
    }

    /// Version 3 (SQLite's v14-phash): the perceptual hash of each image content the scan
    /// decoded, keyed by the content's SHA-256 (every copy shares it; a content is decoded once).
    /// phash is the 64 bits as a signed bigint, NULL with `error` set when the decoders refused
    /// the image; width and height are the displayed size. An upgrade from 2 only adds the table.
    static var perceptualHashes: [String] {
        ["""
        CREATE TABLE image_phash (
            sha256  bytea  NOT NULL PRIMARY KEY,
            phash   bigint,
            width   bigint,
            height  bigint,
            decoder text,
            error   text
        )
        """]
    }

    static func migrator() throws(PostgresClientError) -> PostgresMigrator {
        try PostgresMigrator(migrations)
    }
}
