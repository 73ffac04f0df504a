extension PostgresSchema {
    /// Version 2: the references from `file` to `silo` and from `metadata` and `sidecar` to
    /// `file` are kept by statement-level triggers instead of foreign keys.
    ///
    /// A foreign key checks each inserted row with a query of its own. On a scan's `COPY` of
    /// 40,000 files that check cost as much as a third of the statement (psql, the same rows
    /// with the same indexes: 360 ms with the key, 260 ms without, 270 ms with these triggers),
    /// and a media scan writes ten or more metadata rows per file, each checked the same way.
    /// The triggers keep what the keys kept, one set-wise statement per statement:
    ///
    /// - rows inserted into a child name existing parents, or the whole statement fails with
    ///   SQLSTATE 23503 (foreign_key_violation), naming the table, the column and the value;
    /// - the parents they name are locked `FOR KEY SHARE` until the transaction ends, as a
    ///   foreign key locks them, so a parent being deleted by another session cannot lose the
    ///   race: one of the two waits, and the later one sees the other's outcome;
    /// - changing a child's reference is checked the same way (per row, and only when the
    ///   value changes: nothing SiloMerge does changes one);
    /// - deleting parents deletes their children in the same statement (`ON DELETE CASCADE`),
    ///   and a parent's id cannot change while children name it.
    ///
    /// The functions name every table with the schema of the table whose trigger runs them
    /// (`TG_TABLE_SCHEMA`), never through the session's search_path: a session whose path holds
    /// another schema with a `silo` or `file` table cannot point them elsewhere.
    static let integrityTriggers: [String] = [
        """
        CREATE FUNCTION silomerge_parent_exists() RETURNS trigger LANGUAGE plpgsql AS $fn$
        DECLARE
            col text := TG_ARGV[0];
            parent text := TG_ARGV[1];
            missing bigint;
        BEGIN
            EXECUTE format('SELECT 1 FROM %I.%I WHERE id IN (SELECT DISTINCT %I FROM new_rows) FOR KEY SHARE', TG_TABLE_SCHEMA, parent, col);
            EXECUTE format('SELECT n.%1$I FROM new_rows n WHERE NOT EXISTS (SELECT 1 FROM %3$I.%2$I p WHERE p.id = n.%1$I) LIMIT 1',
                           col, parent, TG_TABLE_SCHEMA) INTO missing;
            IF missing IS NOT NULL THEN
                RAISE EXCEPTION 'insert on table "%" violates its reference to "%": %.% = % is not in "%"',
                    TG_TABLE_NAME, parent, TG_TABLE_NAME, col, missing, parent USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END $fn$
        """,
        """
        CREATE FUNCTION silomerge_parent_exists_row() RETURNS trigger LANGUAGE plpgsql AS $fn$
        DECLARE
            col text := TG_ARGV[0];
            parent text := TG_ARGV[1];
            value bigint;
            found boolean;
        BEGIN
            EXECUTE format('SELECT ($1).%I', col) USING NEW INTO value;
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I WHERE id = $1 FOR KEY SHARE)', TG_TABLE_SCHEMA, parent) USING value INTO found;
            IF NOT found THEN
                RAISE EXCEPTION 'update on table "%" violates its reference to "%": %.% = % is not in "%"',
                    TG_TABLE_NAME, parent, TG_TABLE_NAME, col, value, parent USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NEW;
        END $fn$
        """,
        """
        CREATE FUNCTION silomerge_delete_children() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
            EXECUTE format('DELETE FROM %I.%I WHERE %I IN (SELECT id FROM old_rows)', TG_TABLE_SCHEMA, TG_ARGV[0], TG_ARGV[1]);
            RETURN NULL;
        END $fn$
        """,
        """
        CREATE FUNCTION silomerge_keep_parent_id() RETURNS trigger LANGUAGE plpgsql AS $fn$
        DECLARE
            found boolean;
        BEGIN
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I WHERE %I = $1)', TG_TABLE_SCHEMA, TG_ARGV[0], TG_ARGV[1]) USING OLD.id INTO found;
            IF found THEN
                RAISE EXCEPTION 'update on table "%" would change id % that "%" still names', TG_TABLE_NAME, OLD.id, TG_ARGV[0]
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NEW;
        END $fn$
        """,
    ] + [("file", "silo_id", "silo"), ("metadata", "file_id", "file"), ("sidecar", "file_id", "file")].flatMap { child, column, parent in
        [
            "ALTER TABLE \(child) DROP CONSTRAINT \(child)_\(column)_fkey",
            """
            CREATE TRIGGER \(child)_\(column)_exists AFTER INSERT ON \(child) REFERENCING NEW TABLE AS new_rows
                FOR EACH STATEMENT EXECUTE FUNCTION silomerge_parent_exists('\(column)', '\(parent)')
            """,
            """
            CREATE TRIGGER \(child)_\(column)_changed BEFORE UPDATE OF \(column) ON \(child)
                FOR EACH ROW WHEN (NEW.\(column) IS DISTINCT FROM OLD.\(column))
                EXECUTE FUNCTION silomerge_parent_exists_row('\(column)', '\(parent)')
            """,
            """
            CREATE TRIGGER \(parent)_delete_\(child) AFTER DELETE ON \(parent) REFERENCING OLD TABLE AS old_rows
                FOR EACH STATEMENT EXECUTE FUNCTION silomerge_delete_children('\(child)', '\(column)')
            """,
            """
            CREATE TRIGGER \(parent)_id_named_by_\(child) BEFORE UPDATE OF id ON \(parent)
                FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id)
                EXECUTE FUNCTION silomerge_keep_parent_id('\(child)', '\(column)')
            """,
        ]
    }
}
