import GRDB

/// The catalogue's schema, as versioned GRDB migrations. A migration, once released, never
/// changes: later versions add new ones. The README documents the tables for `sqlite3` users.
enum CatalogueSchema {
    static func migrator() -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-scan") { db in
            try db.execute(sql: """
                CREATE TABLE silo (
                    id            INTEGER PRIMARY KEY,
                    name          TEXT    NOT NULL UNIQUE,
                    root          TEXT    NOT NULL,
                    priority      INTEGER NOT NULL,
                    includes      TEXT    NOT NULL DEFAULT '[]',
                    excludes      TEXT    NOT NULL DEFAULT '[]',
                    added_at      TEXT    NOT NULL,
                    last_run_id   INTEGER
                );

                CREATE TABLE run (
                    id              INTEGER PRIMARY KEY,
                    kind            TEXT    NOT NULL,
                    status          TEXT    NOT NULL,
                    started_at      TEXT    NOT NULL,
                    finished_at     TEXT,
                    tool_version    TEXT    NOT NULL,
                    host            TEXT    NOT NULL,
                    hash_mode       TEXT    NOT NULL,
                    options         TEXT    NOT NULL,
                    silos           TEXT    NOT NULL,
                    files           INTEGER NOT NULL DEFAULT 0,
                    bytes           INTEGER NOT NULL DEFAULT 0,
                    directories     INTEGER NOT NULL DEFAULT 0,
                    files_new       INTEGER NOT NULL DEFAULT 0,
                    files_changed   INTEGER NOT NULL DEFAULT 0,
                    files_unchanged INTEGER NOT NULL DEFAULT 0,
                    files_missing   INTEGER NOT NULL DEFAULT 0,
                    files_excluded  INTEGER NOT NULL DEFAULT 0,
                    files_hashed    INTEGER NOT NULL DEFAULT 0,
                    bytes_hashed    INTEGER NOT NULL DEFAULT 0,
                    hashes_reused   INTEGER NOT NULL DEFAULT 0,
                    skipped_special INTEGER NOT NULL DEFAULT 0,
                    skipped_symlinks INTEGER NOT NULL DEFAULT 0,
                    ignored         INTEGER NOT NULL DEFAULT 0,
                    warnings        INTEGER NOT NULL DEFAULT 0,
                    errors          INTEGER NOT NULL DEFAULT 0,
                    error_message   TEXT
                );

                -- One row per regular file. dir and name hold the exact bytes of the name: valid
                -- UTF-8 reads as text; other names are stored byte for byte (see hex(name)).
                CREATE TABLE file (
                    id             INTEGER PRIMARY KEY,
                    silo_id        INTEGER NOT NULL REFERENCES silo(id) ON DELETE CASCADE,
                    dir            TEXT    NOT NULL,
                    name           TEXT    NOT NULL,
                    path           TEXT    GENERATED ALWAYS AS (iif(dir = '', name, dir || '/' || name)) VIRTUAL,
                    size           INTEGER NOT NULL,
                    mtime_ns       INTEGER NOT NULL,
                    ctime_ns       INTEGER NOT NULL,
                    dev            INTEGER NOT NULL,
                    ino            INTEGER NOT NULL,
                    nlink          INTEGER NOT NULL,
                    mode           INTEGER NOT NULL,
                    uid            INTEGER NOT NULL,
                    gid            INTEGER NOT NULL,
                    sha256         TEXT,
                    hashed_at      TEXT,
                    first_seen_run INTEGER NOT NULL,
                    changed_run    INTEGER,
                    UNIQUE (silo_id, dir, name)
                );
                CREATE INDEX file_hardlink ON file(dev, ino) WHERE nlink > 1;

                -- What changed between scans: files whose identity changed, that vanished or
                -- left scope, and contents that changed without their size or mtime changing.
                -- New files are those with file.first_seen_run = run.id.
                CREATE TABLE change (
                    id            INTEGER PRIMARY KEY,
                    run_id        INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                    kind          TEXT    NOT NULL,
                    silo_id       INTEGER NOT NULL,
                    dir           TEXT    NOT NULL,
                    name          TEXT    NOT NULL,
                    file_id       INTEGER,
                    old_size      INTEGER,
                    old_mtime_ns  INTEGER,
                    old_dev       INTEGER,
                    old_ino       INTEGER,
                    old_sha256    TEXT,
                    new_size      INTEGER,
                    new_mtime_ns  INTEGER,
                    new_sha256    TEXT
                );
                CREATE INDEX change_run ON change(run_id);

                CREATE TABLE diagnostic (
                    id        INTEGER PRIMARY KEY,
                    run_id    INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                    severity  TEXT    NOT NULL,
                    code      TEXT    NOT NULL,
                    silo      TEXT,
                    path      TEXT,
                    errno     INTEGER,
                    message   TEXT    NOT NULL
                );
                CREATE INDEX diagnostic_run ON diagnostic(run_id);
                """)
        }
        migrator.registerMigration("v2-metadata") { db in
            try db.execute(sql: """
                -- What the content is: format from magic bytes, pixel dimensions, and the SHA-256
                -- of the image data alone (JPEG, PNG, TIFF), shared by copies that differ only in
                -- embedded metadata. metadata_read is 1 once embedded metadata was read for
                -- the current content.
                ALTER TABLE silo ADD COLUMN manifest TEXT;
                CREATE TABLE setting (key TEXT PRIMARY KEY, value TEXT NOT NULL);

                ALTER TABLE file ADD COLUMN format TEXT;
                ALTER TABLE file ADD COLUMN width INTEGER;
                ALTER TABLE file ADD COLUMN height INTEGER;
                ALTER TABLE file ADD COLUMN image_sha256 TEXT;
                ALTER TABLE file ADD COLUMN metadata_read INTEGER NOT NULL DEFAULT 0;
                CREATE INDEX file_image ON file(image_sha256) WHERE image_sha256 IS NOT NULL;

                -- XMP sidecars attached to an asset (never catalogued as assets themselves).
                -- form: 'name.ext.xmp' or 'name.xmp'; used = 0 for a name.xmp that a
                -- name.ext.xmp of the same asset overrides.
                CREATE TABLE sidecar (
                    id        INTEGER PRIMARY KEY,
                    file_id   INTEGER NOT NULL REFERENCES file(id) ON DELETE CASCADE,
                    silo_id   INTEGER NOT NULL,
                    dir       TEXT    NOT NULL,
                    name      TEXT    NOT NULL,
                    size      INTEGER NOT NULL,
                    mtime_ns  INTEGER NOT NULL,
                    ctime_ns  INTEGER NOT NULL,
                    dev       INTEGER NOT NULL,
                    ino       INTEGER NOT NULL,
                    sha256    TEXT,
                    form      TEXT    NOT NULL,
                    used      INTEGER NOT NULL,
                    UNIQUE (file_id, name)
                );
                CREATE INDEX sidecar_dir ON sidecar(silo_id, dir);

                -- Every metadata value found, with where it came from. value is JSON (a string,
                -- a list of strings, a number, or {"latitude":…,"longitude":…}); raw is the value
                -- as found. preferred = 1 marks the value the file's own (MWG) reconciliation
                -- chose among its EXIF, IPTC and XMP.
                CREATE TABLE metadata (
                    file_id         INTEGER NOT NULL REFERENCES file(id) ON DELETE CASCADE,
                    field           TEXT    NOT NULL,
                    origin          TEXT    NOT NULL,
                    tag             TEXT    NOT NULL,
                    value           TEXT    NOT NULL,
                    raw             TEXT    NOT NULL,
                    source          TEXT,
                    source_mtime_ns INTEGER,
                    preferred       INTEGER NOT NULL DEFAULT 0
                );
                CREATE INDEX metadata_file ON metadata(file_id);

                -- Departmental CSV manifests as last read.
                CREATE TABLE manifest (
                    silo_id   INTEGER PRIMARY KEY REFERENCES silo(id) ON DELETE CASCADE,
                    path      TEXT    NOT NULL,
                    size      INTEGER NOT NULL,
                    mtime_ns  INTEGER NOT NULL,
                    sha256    TEXT    NOT NULL,
                    rows      INTEGER NOT NULL,
                    matched   INTEGER NOT NULL,
                    read_run  INTEGER NOT NULL
                );

                -- The unified catalogue: one row per distinct content, and its reconciled fields.
                CREATE TABLE asset (
                    sha256         TEXT    PRIMARY KEY,
                    size           INTEGER NOT NULL,
                    format         TEXT,
                    width          INTEGER,
                    height         INTEGER,
                    image_sha256   TEXT,
                    copies         INTEGER NOT NULL,
                    conflicts      INTEGER NOT NULL,
                    reconciled_run INTEGER NOT NULL
                );
                CREATE TABLE asset_field (
                    sha256  TEXT NOT NULL REFERENCES asset(sha256) ON DELETE CASCADE,
                    field   TEXT NOT NULL,
                    value   TEXT,
                    status  TEXT NOT NULL,
                    rule    TEXT NOT NULL,
                    sources TEXT NOT NULL,
                    PRIMARY KEY (sha256, field)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v3-check") { db in
            try db.execute(sql: """
                -- What a change was about when the row alone does not say (metadata drift: the
                -- sidecar or manifest and the fields whose values changed).
                ALTER TABLE change ADD COLUMN detail TEXT;
                -- A check's outcome: unchanged, changed or corrupted.
                ALTER TABLE run ADD COLUMN outcome TEXT;

                -- Every finding of a check (silomerge check), as it reported them.
                CREATE TABLE finding (
                    id            INTEGER PRIMARY KEY,
                    run_id        INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                    kind          TEXT    NOT NULL,
                    silo          TEXT    NOT NULL,
                    path          TEXT    NOT NULL,
                    old_silo      TEXT,
                    old_path      TEXT,
                    old_size      INTEGER,
                    old_mtime_ns  INTEGER,
                    old_sha256    TEXT,
                    new_size      INTEGER,
                    new_mtime_ns  INTEGER,
                    new_sha256    TEXT,
                    detail        TEXT
                );
                CREATE INDEX finding_run ON finding(run_id);
                """)
        }
        migrator.registerMigration("v9-meta") { db in
            try db.execute(sql: """
                -- The SHA-256 of the first 64 KiB of a picture's image data. A scan keeps it for
                -- every picture and computes the whole image_sha256 only where another file with
                -- other bytes has the same prefix (or the image data is no longer than that), so
                -- that reading metadata does not hash every picture a second time. Rows written
                -- before this migration have image_sha256 and no prefix.
                ALTER TABLE file ADD COLUMN image_prefix TEXT;
                CREATE INDEX file_image_prefix ON file(image_prefix) WHERE image_prefix IS NOT NULL;
                """)
        }
        return migrator
    }

    /// Covering indexes over `file` that duplicate groups, reports and `--hash dupes` read in
    /// order without touching the table. Not part of a migration: a first scan drops them
    /// while it loads (random inserts into them cost more than the rest of recording a file)
    /// and builds them once at the end; opening a catalogue re-creates any that a killed
    /// scan left missing.
    static let bulkIndexes = [
        "CREATE INDEX IF NOT EXISTS file_content ON file(sha256, size, silo_id, dev, ino) WHERE sha256 IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS file_size ON file(size, dev, ino, silo_id)",
    ]
    static let bulkIndexNames = ["file_content", "file_size"]
}
