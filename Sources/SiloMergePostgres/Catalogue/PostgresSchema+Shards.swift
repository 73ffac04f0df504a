extension PostgresSchema {
    /// What a catalogue merged from shards (`silomerge catalogue merge`) remembers: each shard
    /// run it holds (`shard_id`: the shard's first run, hashed; `shard`: the path or URL it was
    /// merged from), so a shard merged again brings only its newer runs; and which shard
    /// brought each silo, so a second claim on a silo (another root, another host) names the
    /// first. The same tables as SQLite's `v13-shards`.
    ///
    /// Not yet registered as a migration: `PostgresSchema.migrations` gains
    /// `PostgresMigration(version: N, name: "shards", statements: shardTables)` when the lead
    /// merges this branch (the version after those of the other PostgreSQL branches).
    static let shardTables: [String] = [
        """
        CREATE TABLE shard_run (
            shard_id         text   NOT NULL,
            shard_run_id     bigint NOT NULL,
            shard_started_at text   NOT NULL,
            run_id           bigint NOT NULL REFERENCES run(id) ON DELETE CASCADE,
            shard            text   NOT NULL,
            PRIMARY KEY (shard_id, shard_run_id)
        )
        """,
        """
        CREATE TABLE shard_silo (
            shard_id text   NOT NULL,
            silo_id  bigint NOT NULL PRIMARY KEY REFERENCES silo(id) ON DELETE CASCADE,
            shard    text   NOT NULL
        )
        """,
    ]
}
