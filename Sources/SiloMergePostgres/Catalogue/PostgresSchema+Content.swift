extension PostgresSchema {
    /// The unified catalogue: one record per distinct content, and its reconciled fields.
    ///
    /// `asset_field` names its asset without a foreign key: the two tables are only ever
    /// replaced together, by one statement pair in one transaction (`rebuildAssets`), and a key
    /// would cost a check per field row (tens of millions on a large catalogue) for nothing.
    static let contentTables: [String] = [
        """
        CREATE TABLE asset (
            sha256         bytea  PRIMARY KEY,
            size           bigint NOT NULL,
            format         text,
            width          bigint,
            height         bigint,
            image_sha256   bytea,
            copies         bigint NOT NULL,
            conflicts      bigint NOT NULL,
            reconciled_run bigint NOT NULL
        )
        """,
        """
        CREATE TABLE asset_field (
            sha256  bytea NOT NULL,
            field   text  NOT NULL,
            value   text,
            status  text  NOT NULL,
            rule    text  NOT NULL,
            sources text  NOT NULL,
            PRIMARY KEY (sha256, field)
        )
        """,
    ]
}
