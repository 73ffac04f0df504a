import SiloMergeCore
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
        migrator.registerMigration("v4-open-findings") { db in
            try db.execute(sql: """
                -- Findings that stay open until resolved: a corrupted or missing file is listed
                -- by every later check until its path reads as the verified content again
                -- (restored), its content turns up at another path (moved), or a person accepts
                -- the new state (silomerge check --accept). Closed rows are kept: they record
                -- how, when and by whom each finding was closed.
                CREATE TABLE open_finding (
                    id                INTEGER PRIMARY KEY,
                    kind              TEXT    NOT NULL,
                    silo_id           INTEGER,
                    silo              TEXT    NOT NULL,
                    dir               TEXT    NOT NULL,
                    name              TEXT    NOT NULL,
                    verified_size     INTEGER,
                    verified_mtime_ns INTEGER,
                    verified_sha256   TEXT,
                    seen_size         INTEGER,
                    seen_mtime_ns     INTEGER,
                    seen_sha256       TEXT,
                    opened_run        INTEGER NOT NULL,
                    opened_at         TEXT    NOT NULL,
                    last_run          INTEGER NOT NULL,
                    detail            TEXT,
                    closed_run        INTEGER,
                    closed_at         TEXT,
                    resolution        TEXT,
                    closed_by         TEXT,
                    closed_detail     TEXT
                );
                CREATE INDEX open_finding_path ON open_finding(silo_id, dir, name) WHERE closed_at IS NULL;

                -- Every sidecar's values, per field (JSON object of sorted JSON values), used or
                -- not: metadata drift is found for each source of an asset.
                ALTER TABLE sidecar ADD COLUMN fields TEXT;

                -- A standalone .xmp file's values used to pile up on every rescan (they were
                -- never replaced): keep only those of its latest read, the rows written with
                -- its format row.
                DELETE FROM metadata
                WHERE origin = 'sidecar' AND source IS NULL
                  AND rowid < coalesce((SELECT min(h.rowid) FROM metadata h
                                        WHERE h.file_id = metadata.file_id AND h.origin = 'header' AND h.source IS NULL), 0);
                """)
            // Corruption reported by checks before open findings existed, whose file still
            // holds the content the check read: open again, so it is not forgotten.
            let rows = try Row.fetchAll(db, sql: """
                SELECT f.silo, CAST(f.path AS BLOB) AS path, f.old_size, f.old_mtime_ns, f.old_sha256, f.new_size,
                       f.new_mtime_ns, f.new_sha256, f.run_id, r.started_at, s.id AS silo_id
                FROM finding f JOIN run r ON r.id = f.run_id JOIN silo s ON s.name = f.silo
                WHERE f.kind = 'corrupted' AND f.id IN (SELECT max(id) FROM finding WHERE kind = 'corrupted' GROUP BY silo, path)
                ORDER BY f.id
                """)
            for row in rows {
                let path = RelativePath(bytes: SQLiteCatalogue.bytes(row["path"]))
                let dir = path.parent.bytes, name = Array(path.lastComponent)
                let current = try String.fetchOne(db, sql: "SELECT sha256 FROM file WHERE silo_id = ? AND dir = CAST(? AS TEXT) AND name = CAST(? AS TEXT)",
                                                  arguments: [row["silo_id"] as Int64, SQLiteCatalogue.textArgument(dir), SQLiteCatalogue.textArgument(name)])
                guard let current, current == (row["new_sha256"] as String?) else { continue }
                try db.execute(sql: """
                    INSERT INTO open_finding (kind, silo_id, silo, dir, name, verified_size, verified_mtime_ns, verified_sha256,
                                              seen_size, seen_mtime_ns, seen_sha256, opened_run, opened_at, last_run, detail)
                    VALUES ('corrupted', ?, ?, CAST(? AS TEXT), CAST(? AS TEXT), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [row["silo_id"] as Int64, row["silo"] as String, SQLiteCatalogue.textArgument(dir),
                                     SQLiteCatalogue.textArgument(name), row["old_size"] as Int64?, row["old_mtime_ns"] as Int64?,
                                     row["old_sha256"] as String?, row["new_size"] as Int64?, row["new_mtime_ns"] as Int64?,
                                     current, row["run_id"] as Int64, row["started_at"] as String, row["run_id"] as Int64,
                                     "content changed, size and mtime did not"])
            }
            // Runs up to now are settled: their findings were reported (or are history).
            try db.execute(sql: """
                INSERT OR REPLACE INTO setting (key, value) SELECT 'findings.settled_through', CAST(coalesce(max(id), 0) AS TEXT) FROM run
                """)
        }
        migrator.registerMigration("v5-apply") { db in
            try db.execute(sql: """
                -- The device and inode of each silo's root folder when it was last scanned: a
                -- plan records them, and apply refuses a root that is no longer that folder.
                ALTER TABLE silo ADD COLUMN root_dev INTEGER;
                ALTER TABLE silo ADD COLUMN root_ino INTEGER;

                -- What an apply or undo run (run.kind 'apply' or 'undo') did with its plan.
                CREATE TABLE plan_run (
                    run_id        INTEGER PRIMARY KEY REFERENCES run(id) ON DELETE CASCADE,
                    plan          TEXT    NOT NULL,
                    plan_sha256   TEXT    NOT NULL,
                    journal       TEXT    NOT NULL,
                    operations    INTEGER NOT NULL,
                    done          INTEGER NOT NULL DEFAULT 0,
                    skipped       INTEGER NOT NULL DEFAULT 0,
                    refused       INTEGER NOT NULL DEFAULT 0,
                    failed        INTEGER NOT NULL DEFAULT 0,
                    bytes_written INTEGER NOT NULL DEFAULT 0
                );
                """)
        }
        migrator.registerMigration("v6-plan") { db in
            try db.execute(sql: """
                -- What a scan saw in a silo's folders and did not catalogue, and why: files and
                -- folders the ignore, exclude and include rules skip, symbolic links, FIFOs,
                -- sockets and devices, the catalogue's own files, entries that could not be
                -- read. Each folder's rows are replaced when the folder is listed again, so a
                -- plan can account for everything the silos hold (what a merge leaves behind).
                -- kind: regular, directory, symlink, fifo, socket, character-device,
                -- block-device, unknown; reason: ignored, excluded, not-included, symlink,
                -- special-file, catalogue, unreadable; detail: the rule or what was seen.
                CREATE TABLE uncatalogued (
                    silo_id  INTEGER NOT NULL REFERENCES silo(id) ON DELETE CASCADE,
                    dir      TEXT    NOT NULL,
                    name     TEXT    NOT NULL,
                    kind     TEXT    NOT NULL,
                    reason   TEXT    NOT NULL,
                    detail   TEXT    NOT NULL,
                    size     INTEGER,
                    PRIMARY KEY (silo_id, dir, name)
                ) WITHOUT ROWID;
                -- Runs up to this one predate the table: a silo last scanned by one of them has
                -- no record of what was passed over until it is scanned again.
                INSERT OR REPLACE INTO setting (key, value)
                SELECT 'uncatalogued.since_run', CAST(coalesce(max(id), 0) AS TEXT) FROM run;
                """)
        }
        migrator.registerMigration("v7-input") { db in
            // Marks the file as a SiloMerge catalogue in its header ("SLMG"), so that no
            // command mistakes it for somebody else's database, or the other way round.
            try db.execute(sql: "PRAGMA application_id = \(CatalogueFile.applicationID)")
            try db.execute(sql: """
                -- What identifies a manifest as unchanged since it was read (with size, mtime_ns
                -- and sha256): its ctime, device and inode, and the column mapping it was read
                -- with. An unchanged manifest of a silo whose files did not change is not read
                -- again. unmatched and skipped count its rows that name no catalogued file, and
                -- rows without a usable path.
                ALTER TABLE manifest ADD COLUMN ctime_ns INTEGER;
                ALTER TABLE manifest ADD COLUMN dev INTEGER;
                ALTER TABLE manifest ADD COLUMN ino INTEGER;
                ALTER TABLE manifest ADD COLUMN definition TEXT;
                ALTER TABLE manifest ADD COLUMN unmatched INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE manifest ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0;
                -- scan --one-file-system: folders on another file system than the silo root
                -- are not walked (remembered for rescans and checks).
                ALTER TABLE silo ADD COLUMN one_file_system INTEGER NOT NULL DEFAULT 0;
                """)
        }
        migrator.registerMigration("v8-merges") { db in
            try db.execute(sql: """
                -- Plans applied with this catalogue, one row per plan (by the SHA-256 of its
                -- encoding, as its journal names it): where its journal is, and how far the
                -- ledger below has read it. Scans and checks read a journal again when it has
                -- grown (an apply or undo killed before it could record its end).
                CREATE TABLE merge_plan (
                    plan_sha256     TEXT    PRIMARY KEY,
                    plan            TEXT    NOT NULL,
                    journal         TEXT    NOT NULL,
                    target_root     TEXT    NOT NULL,
                    quarantine_root TEXT    NOT NULL,
                    recorded_run    INTEGER NOT NULL,
                    synced_run      INTEGER,
                    journal_size    INTEGER
                ) WITHOUT ROWID;

                -- The ledger: what each operation of an applied plan did to which catalogued
                -- file, and where its content lives now. effect: moved, removed, quarantined,
                -- linked (replaced by a hard link into the target), copied (the source stays),
                -- written (a generated file), left (a sidecar that stays in the silo while the
                -- file it belonged to was moved or removed: op is NULL, follows_op the operation
                -- that took its file). state, from the journal: pending, taking (the source is
                -- being taken away), done, undone. dest_root/dest_dir/dest_name: where the
                -- content lives (relative to the target or the quarantine folder).
                CREATE TABLE merge_op (
                    id              INTEGER PRIMARY KEY,
                    plan_sha256     TEXT    NOT NULL REFERENCES merge_plan(plan_sha256) ON DELETE CASCADE,
                    op              INTEGER,
                    follows_op      INTEGER,
                    kind            TEXT    NOT NULL,
                    effect          TEXT    NOT NULL,
                    silo_id         INTEGER,
                    silo            TEXT,
                    dir             TEXT,
                    name            TEXT,
                    size            INTEGER,
                    mtime_ns        INTEGER,
                    dev             INTEGER,
                    ino             INTEGER,
                    sha256          TEXT,
                    dest_root       TEXT,
                    dest_dir        TEXT,
                    dest_name       TEXT,
                    note            TEXT,
                    state           TEXT    NOT NULL DEFAULT 'pending',
                    state_run       INTEGER,
                    placed_dev      INTEGER,
                    placed_ino      INTEGER,
                    placed_size     INTEGER,
                    placed_mtime_ns INTEGER,
                    format          TEXT,
                    width           INTEGER,
                    height          INTEGER,
                    image_sha256    TEXT,
                    metadata_read   INTEGER
                );
                CREATE UNIQUE INDEX merge_op_plan ON merge_op(plan_sha256, op) WHERE op IS NOT NULL;
                CREATE INDEX merge_op_source ON merge_op(silo_id, dir, name);
                CREATE INDEX merge_op_dest ON merge_op(plan_sha256, dest_dir, dest_name);

                -- What the content a transfer carries holds (format, dimensions, image hash in
                -- merge_op; its embedded metadata here), as the catalogue knew it when the apply
                -- began: a target adopted as a silo takes it as it takes the SHA-256, without
                -- reading the files again.
                CREATE TABLE merge_metadata (
                    plan_sha256 TEXT    NOT NULL REFERENCES merge_plan(plan_sha256) ON DELETE CASCADE,
                    op          INTEGER NOT NULL,
                    field       TEXT    NOT NULL,
                    origin      TEXT    NOT NULL,
                    tag         TEXT    NOT NULL,
                    value       TEXT    NOT NULL,
                    raw         TEXT    NOT NULL,
                    preferred   INTEGER NOT NULL
                );
                CREATE INDEX merge_metadata_op ON merge_metadata(plan_sha256, op);

                -- A silo adopted from a plan's target (silomerge silos add NAME=TARGET --from-plan):
                -- the plan's SHA-256.
                ALTER TABLE silo ADD COLUMN adopted_plan TEXT;
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
                -- The merge ledger carries it with the image hash, for a target adopted as a silo.
                ALTER TABLE merge_op ADD COLUMN image_prefix TEXT;
                """)
        }
        migrator.registerMigration("v10-hosts") { db in
            try db.execute(sql: """
                -- The host whose files a silo holds (see HostIdentity): device and inode numbers
                -- are unique on one host only, so a file's physical identity is (silo.host,
                -- dev, ino). host: the machine id or the --host name; host_name: for messages.
                -- NULL in a catalogue from before hosts: its files were all on the one host that
                -- used it, and the next scan claims every such silo for the host it runs on.
                ALTER TABLE silo ADD COLUMN host TEXT;
                ALTER TABLE silo ADD COLUMN host_name TEXT;
                """)
        }
        migrator.registerMigration("v11-run-counts") { db in
            // A run's counters (RunCounts) are one JSON object, `counts`, written and read
            // whole: a new counter needs no column and no migration. The columns of v1 stay,
            // readable as before by `sqlite3` users, as virtual columns over it (a counter
            // added later is read with json_extract(counts, '$.name')). SQLite cannot turn a
            // column into a generated one in place: the table is rebuilt, ids and every other
            // column kept (foreign keys are off while a migration runs, so the rows that refer
            // to runs stay as they are).
            try db.execute(sql: """
                CREATE TABLE run_v11 (
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
                    counts          TEXT    NOT NULL DEFAULT '{}',
                    files            INTEGER GENERATED ALWAYS AS (coalesce(json_extract(counts, '$.files'), 0)) VIRTUAL,
                    bytes            INTEGER GENERATED ALWAYS AS (coalesce(json_extract(counts, '$.bytes'), 0)) VIRTUAL,
                    directories      INTEGER GENERATED ALWAYS AS (coalesce(json_extract(counts, '$.directories'), 0)) VIRTUAL,
                    files_new        INTEGER GENERATED ALWAYS AS (coalesce(json_extract(counts, '$.files_new'), 0)) VIRTUAL,
                    files_changed    INTEGER GENERATED ALWAYS AS (coalesce(json_extract(counts, '$.files_changed'), 0)) VIRTUAL,
                    files_unchanged  INTEGER GENERATED ALWAYS AS (coalesce(json_extract(counts, '$.files_unchanged'), 0)) VIRTUAL,
                    files_missing    INTEGER GENERATED ALWAYS AS (coalesce(json_extract(counts, '$.files_missing'), 0)) VIRTUAL,
                    files_excluded   INTEGER GENERATED ALWAYS AS (coalesce(json_extract(counts, '$.files_excluded'), 0)) VIRTUAL,
                    files_hashed     INTEGER GENERATED ALWAYS AS (coalesce(json_extract(counts, '$.files_hashed'), 0)) VIRTUAL,
                    bytes_hashed     INTEGER GENERATED ALWAYS AS (coalesce(json_extract(counts, '$.bytes_hashed'), 0)) VIRTUAL,
                    hashes_reused    INTEGER GENERATED ALWAYS AS (coalesce(json_extract(counts, '$.hashes_reused'), 0)) VIRTUAL,
                    skipped_special  INTEGER GENERATED ALWAYS AS (coalesce(json_extract(counts, '$.skipped_special'), 0)) VIRTUAL,
                    skipped_symlinks INTEGER GENERATED ALWAYS AS (coalesce(json_extract(counts, '$.skipped_symlinks'), 0)) VIRTUAL,
                    ignored          INTEGER GENERATED ALWAYS AS (coalesce(json_extract(counts, '$.ignored'), 0)) VIRTUAL,
                    warnings         INTEGER GENERATED ALWAYS AS (coalesce(json_extract(counts, '$.warnings'), 0)) VIRTUAL,
                    errors           INTEGER GENERATED ALWAYS AS (coalesce(json_extract(counts, '$.errors'), 0)) VIRTUAL,
                    error_message   TEXT,
                    outcome         TEXT
                );
                INSERT INTO run_v11 (id, kind, status, started_at, finished_at, tool_version, host, hash_mode,
                                     options, silos, counts, error_message, outcome)
                    SELECT id, kind, status, started_at, finished_at, tool_version, host, hash_mode, options, silos,
                        json_object(
                        'files', files,
                        'bytes', bytes,
                        'directories', directories,
                        'files_new', files_new,
                        'files_changed', files_changed,
                        'files_unchanged', files_unchanged,
                        'files_missing', files_missing,
                        'files_excluded', files_excluded,
                        'files_hashed', files_hashed,
                        'bytes_hashed', bytes_hashed,
                        'hashes_reused', hashes_reused,
                        'skipped_special', skipped_special,
                        'skipped_symlinks', skipped_symlinks,
                        'ignored', ignored,
                        'warnings', warnings,
                        'errors', errors
                        ), error_message, outcome
                    FROM run;
                DROP TABLE run;
                ALTER TABLE run_v11 RENAME TO run;
                """)
        }
        migrator.registerMigration("v12-settled-runs") { db in
            // Which runs' findings are settled, run by run, instead of one watermark
            // (`findings.settled_through`): runs of different silos may run at once on a
            // shared catalogue, and one that ends later than a run after it must still be
            // settled, once. The runs up to the watermark were settled.
            try db.execute(sql: """
                CREATE TABLE settled_run (
                    run_id INTEGER PRIMARY KEY REFERENCES run(id) ON DELETE CASCADE
                );
                INSERT INTO settled_run (run_id)
                    SELECT id FROM run WHERE kind IN ('scan', 'audit', 'check')
                    AND id <= coalesce((SELECT CAST(value AS INTEGER) FROM setting WHERE key = 'findings.settled_through'), 0);
                DELETE FROM setting WHERE key = 'findings.settled_through';
                """)
        }
        migrator.registerMigration("v13-shards") { db in
            try db.execute(sql: """
                -- What a catalogue merged from shards (silomerge catalogue merge) remembers: each
                -- shard run it holds (the shard: the first run it recorded, hashed; shard: the
                -- path or URL it was merged from), so a shard merged again brings only its newer
                -- runs; and which shard brought each silo, so a second claim on a silo (another
                -- root, another host) names the first.
                CREATE TABLE shard_run (
                    shard_id         TEXT    NOT NULL,
                    shard_run_id     INTEGER NOT NULL,
                    shard_started_at TEXT    NOT NULL,
                    run_id           INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                    shard            TEXT    NOT NULL,
                    PRIMARY KEY (shard_id, shard_run_id)
                ) WITHOUT ROWID;
                CREATE TABLE shard_silo (
                    shard_id  TEXT    NOT NULL,
                    silo_id   INTEGER NOT NULL PRIMARY KEY REFERENCES silo(id) ON DELETE CASCADE,
                    shard     TEXT    NOT NULL
                );
                """)
        }
        migrator.registerMigration("v14-phash") { db in
            try db.execute(sql: """
                -- The perceptual hash of each image content the scan decoded (issue #15):
                -- keyed by the content's SHA-256, so every copy shares one row and a content is
                -- decoded once, whatever the files that hold it. phash is the 64 bits as a
                -- signed integer; NULL with error set when the decoders refused the image.
                -- width and height are the displayed size (after the EXIF orientation).
                CREATE TABLE image_phash (
                    sha256  TEXT    NOT NULL PRIMARY KEY,
                    phash   INTEGER,
                    width   INTEGER,
                    height  INTEGER,
                    decoder TEXT,
                    error   TEXT
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration(headerFactsMigration) { db in
            try db.execute(sql: """
                -- A file's header facts (its format, and the width and height its structure gives)
                -- are its columns only, no longer metadata rows as well (see HeaderFacts in the
                -- core): readers give them back as values. dimensions_group keeps the group of the
                -- tag the dimensions came from ("File", "IFD0", "Track"...), the one part of a
                -- header row the columns did not hold; merge_op keeps it for adopted files.
                ALTER TABLE file ADD COLUMN dimensions_group TEXT;
                ALTER TABLE merge_op ADD COLUMN dimensions_group TEXT;
                UPDATE file SET dimensions_group = (
                        SELECT substr(m.tag, 1, instr(m.tag, ':') - 1) FROM metadata m
                        WHERE m.file_id = file.id AND m.origin = 'header' AND m.field = 'width' AND m.source IS NULL
                          AND instr(m.tag, ':') > 1
                        ORDER BY m.rowid LIMIT 1)
                    WHERE width IS NOT NULL AND height IS NOT NULL AND metadata_read > 0;
                UPDATE merge_op SET dimensions_group = (
                        SELECT substr(md.tag, 1, instr(md.tag, ':') - 1) FROM merge_metadata md
                        WHERE md.plan_sha256 = merge_op.plan_sha256 AND md.op = merge_op.op AND md.origin = 'header'
                          AND md.field = 'width' AND instr(md.tag, ':') > 1
                        LIMIT 1)
                    WHERE op IS NOT NULL AND width IS NOT NULL AND height IS NOT NULL AND metadata_read > 0;
                -- Only rows the columns give back exactly are dropped: one that disagrees with its
                -- file's columns (no catalogue written by SiloMerge has one) stays a row.
                DELETE FROM metadata WHERE rowid IN (
                    SELECT m.rowid FROM metadata m JOIN file f ON f.id = m.file_id
                    WHERE m.origin = 'header' AND m.source IS NULL AND m.preferred = 1 AND f.metadata_read > 0 AND (
                           (m.field = 'format' AND m.tag = 'File:FileType' AND m.raw = f.format AND m.value = json_quote(f.format))
                        OR (m.field = 'width' AND m.tag = f.dimensions_group || ':ImageWidth'
                            AND m.raw = CAST(f.width AS TEXT) AND m.value = CAST(f.width AS TEXT))
                        OR (m.field = 'height' AND m.tag = f.dimensions_group || ':ImageHeight'
                            AND m.raw = CAST(f.height AS TEXT) AND m.value = CAST(f.height AS TEXT))));
                DELETE FROM merge_metadata WHERE rowid IN (
                    SELECT md.rowid FROM merge_metadata md
                    JOIN merge_op o ON o.plan_sha256 = md.plan_sha256 AND o.op = md.op
                    WHERE md.origin = 'header' AND md.preferred = 1 AND o.metadata_read > 0 AND (
                           (md.field = 'format' AND md.tag = 'File:FileType' AND md.raw = o.format AND md.value = json_quote(o.format))
                        OR (md.field = 'width' AND md.tag = o.dimensions_group || ':ImageWidth'
                            AND md.raw = CAST(o.width AS TEXT) AND md.value = CAST(o.width AS TEXT))
                        OR (md.field = 'height' AND md.tag = o.dimensions_group || ':ImageHeight'
                            AND md.raw = CAST(o.height AS TEXT) AND md.value = CAST(o.height AS TEXT))));
                """)
        }
        return migrator
    }

    /// Migrations a catalogue opened only to be read may lack: their tables matter only to a
    /// catalogue that is written (a shard from the release before them can still be merged).
    static let optionalForReading: Set<String> = ["v13-shards", "v14-phash", headerFactsMigration]

    /// Header facts in the file's columns, not metadata rows (see `HeaderFacts`). A catalogue
    /// without it, opened read-only, is read as it is: its header rows are the values.
    static let headerFactsMigration = "v15-header-facts"

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
