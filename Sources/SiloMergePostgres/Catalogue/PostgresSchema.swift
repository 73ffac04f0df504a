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
/// content and size indexes by the digest and the size alone (`narrowIndexes`).
enum PostgresSchema {
    static var migrations: [PostgresMigration] {
        [PostgresMigration(version: 1, name: "catalogue", statements: scanTables + contentTables + findingTables + shardTables),
         PostgresMigration(version: 2, name: "set-wise references, narrow indexes", statements: integrityTriggers + narrowIndexes)]
    }

    static func migrator() throws(PostgresClientError) -> PostgresMigrator {
        try PostgresMigrator(migrations)
    }
}
