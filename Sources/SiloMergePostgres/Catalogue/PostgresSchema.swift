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
/// the perceptual hashes of images (`perceptualHashes`); version 4 keeps a file's header facts in
/// its columns only, no longer as metadata rows as well (`headerFacts`).
enum PostgresSchema {
    static var migrations: [PostgresMigration] {
        [PostgresMigration(version: 1, name: "catalogue", statements: scanTables + contentTables + findingTables + shardTables),
         PostgresMigration(version: 2, name: "set-wise references, narrow indexes", statements: integrityTriggers + narrowIndexes),
         PostgresMigration(version: 3, name: "perceptual hashes", statements: perceptualHashes),
         PostgresMigration(version: 4, name: "header facts in the file's columns", statements: headerFacts)]
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

    /// Version 4 (SQLite's v15-header-facts): a file's format, width and height are its
    /// columns, not metadata rows as well (see `HeaderFacts` in the core); `dimensions_group`
    /// keeps the group of the tag the dimensions came from, on files and on the merge ledger's
    /// operations. Only rows the columns give back exactly are dropped.
    static var headerFacts: [String] {
        ["ALTER TABLE file ADD COLUMN dimensions_group text",
         "ALTER TABLE merge_op ADD COLUMN dimensions_group text",
         """
         UPDATE file f SET dimensions_group = (
                 SELECT split_part(m.tag, ':', 1) FROM metadata m
                 WHERE m.file_id = f.id AND m.origin = 'header' AND m.field = 'width' AND m.source IS NULL
                   AND position(':' in m.tag) > 1
                 ORDER BY m.id LIMIT 1)
             WHERE f.width IS NOT NULL AND f.height IS NOT NULL AND f.metadata_read > 0
         """,
         """
         UPDATE merge_op o SET dimensions_group = (
                 SELECT split_part(md.tag, ':', 1) FROM merge_metadata md
                 WHERE md.plan_sha256 = o.plan_sha256 AND md.op = o.op AND md.origin = 'header' AND md.field = 'width'
                   AND position(':' in md.tag) > 1
                 LIMIT 1)
             WHERE o.op IS NOT NULL AND o.width IS NOT NULL AND o.height IS NOT NULL AND o.metadata_read > 0
         """,
         """
         DELETE FROM metadata m USING file f
         WHERE f.id = m.file_id AND m.origin = 'header' AND m.source IS NULL AND m.preferred = 1 AND f.metadata_read > 0 AND (
                (m.field = 'format' AND m.tag = 'File:FileType' AND m.raw = f.format AND m.value = to_json(f.format)::text)
             OR (m.field = 'width' AND m.tag = f.dimensions_group || ':ImageWidth'
                 AND m.raw = f.width::text AND m.value = f.width::text)
             OR (m.field = 'height' AND m.tag = f.dimensions_group || ':ImageHeight'
                 AND m.raw = f.height::text AND m.value = f.height::text))
         """,
         """
         DELETE FROM merge_metadata md USING merge_op o
         WHERE o.plan_sha256 = md.plan_sha256 AND o.op = md.op AND md.origin = 'header' AND md.preferred = 1 AND o.metadata_read > 0 AND (
                (md.field = 'format' AND md.tag = 'File:FileType' AND md.raw = o.format AND md.value = to_json(o.format)::text)
             OR (md.field = 'width' AND md.tag = o.dimensions_group || ':ImageWidth'
                 AND md.raw = o.width::text AND md.value = o.width::text)
             OR (md.field = 'height' AND md.tag = o.dimensions_group || ':ImageHeight'
                 AND md.raw = o.height::text AND md.value = o.height::text))
         """]
    }

    static func migrator() throws(PostgresClientError) -> PostgresMigrator {
        try PostgresMigrator(migrations)
    }
}
