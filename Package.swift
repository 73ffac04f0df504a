// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "SiloMerge",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "silomerge", targets: ["silomerge"]),
        .executable(name: "silomerge-bench", targets: ["silomerge-bench"]),
        .library(name: "SiloMergeCore", targets: ["SiloMergeCore"]),
        .library(name: "SiloMergeSQLite", targets: ["SiloMergeSQLite"]),
        .library(name: "SiloMergePostgres", targets: ["SiloMergePostgres"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/JohnSundell/Plot", from: "0.14.0"),
        // The PostgreSQL wire protocol (issue #13): a pure-Swift client over SwiftNIO, no libpq.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // Already brought by postgres-nio; named so the PostgreSQL layer can silence its logger.
        .package(url: "https://github.com/apple/swift-log.git", from: "1.5.3"),
    ],
    targets: [
        // OpenSSL's libcrypto (EVP SHA-256) from the system: apt `libssl-dev`, brew `openssl@3`.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        // zlib, for compressed PNG text chunks (zTXt, iTXt): apt `zlib1g-dev`.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        // The system calls Swift cannot reach through Glibc/Darwin (renameat2 RENAME_NOREPLACE,
        // FICLONE, FIDEDUPERANGE, copy_file_range, fstatfs), with fallbacks off Linux.
        .target(name: "CSiloMergeShims"),
        .target(
            name: "SiloMergeCore",
            dependencies: [
                "COpenSSL",
                "CZlib",
                "CSiloMergeShims",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Plot", package: "Plot"),
            ]
        ),
        // The SQLite catalogue (GRDB, the raw statement layer, the migrations): one backend of
        // the store protocols in SiloMergeCore, which itself knows no SQL.
        .target(
            name: "SiloMergeSQLite",
            dependencies: [
                "SiloMergeCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        // The shared PostgreSQL catalogue (issue #13): the store protocols over a synchronous
        // session layer on PostgresNIO (libpq-compatible connection settings, COPY, cursors,
        // advisory locks, migrations). No libpq.
        .target(
            name: "SiloMergePostgres",
            dependencies: [
                "SiloMergeCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "silomerge",
            dependencies: [
                "SiloMergeCore",
                "SiloMergeSQLite",
                "SiloMergePostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The benchmark: generates its own corpus, times silomerge against peers (jdupes,
        // rdfind, rmlint) in the same run. `swift run -c release silomerge-bench --help`.
        .executableTarget(name: "silomerge-bench"),
        // Helpers the test suites share (temporary trees of silos, deterministic bytes, the
        // fixtures). Not a product.
        .target(
            name: "SiloMergeTestSupport",
            dependencies: ["SiloMergeCore", "SiloMergeSQLite", "SiloMergePostgres",
                           .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "PostgresNIO", package: "postgres-nio")],
            path: "Tests/SiloMergeTestSupport"
        ),
        .testTarget(
            name: "SiloMergeCoreTests",
            dependencies: ["SiloMergeCore", "SiloMergeSQLite", "CSiloMergeShims", "SiloMergeTestSupport"]
        ),
        // The SQLite backend's own tests: its migrations from older schemas, what it refuses to
        // open, its SQL columns. The only tests besides the contract suite that open a catalogue
        // with SQL (core tests ask through the store protocols or SiloMergeTestSupport's probe).
        .testTarget(
            name: "SiloMergeSQLiteTests",
            dependencies: ["SiloMergeSQLite", "SiloMergeCore", "SiloMergeTestSupport",
                           .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // The store protocols' contract, run against every backend (Tests/CatalogueContractTests/Backends.swift).
        .testTarget(
            name: "CatalogueContractTests",
            dependencies: ["SiloMergeCore", "SiloMergeSQLite", "SiloMergePostgres", "SiloMergeTestSupport"]
        ),
        .testTarget(
            name: "SiloMergePostgresTests",
            dependencies: ["SiloMergePostgres"]
        ),
        .testTarget(
            name: "SiloMergeCLITests",
            dependencies: ["silomerge", "SiloMergeCore", "SiloMergeSQLite", "SiloMergeTestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
