// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "SiloMerge",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "silomerge", targets: ["silomerge"]),
        .executable(name: "silomerge-bench", targets: ["silomerge-bench"]),
        .library(name: "SiloMergeCore", targets: ["SiloMergeCore"]),
        .library(name: "SiloMergeImaging", targets: ["SiloMergeImaging"]),
        .executable(name: "silomerge-similar", targets: ["silomerge-similar"]),
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
        // Image decoders for perceptual hashing (issue #15): apt `libjpeg-dev` (libjpeg-turbo),
        // `libpng-dev`, `libwebp-dev`, `libtiff-dev`, `libheif-dev`.
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"]), .brew(["jpeg-turbo"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"]), .brew(["libpng"])]),
        .systemLibrary(name: "CWebP", pkgConfig: "libwebp", providers: [.apt(["libwebp-dev"]), .brew(["webp"])]),
        .systemLibrary(name: "CTIFF", pkgConfig: "libtiff-4", providers: [.apt(["libtiff-dev"]), .brew(["libtiff"])]),
        .systemLibrary(name: "CHeif", pkgConfig: "libheif", providers: [.apt(["libheif-dev"]), .brew(["libheif"])]),
        // The C side of the decoders: libjpeg and libpng report errors by longjmp, which Swift
        // cannot catch, so each decode runs in C and returns a status and a message.
        .target(
            name: "CSiloMergeImaging",
            dependencies: ["CJPEG", "CPNG", "CWebP", "CTIFF", "CHeif"],
            linkerSettings: [
                .linkedLibrary("jpeg"), .linkedLibrary("png16"), .linkedLibrary("webp"),
                .linkedLibrary("tiff"), .linkedLibrary("heif"),
            ]
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
        // Decoding and perceptual hashing of images (issue #15, section 2): the one target that
        // links the image libraries. Core declares what a fingerprint is (`ImageFingerprinting`);
        // this target implements it, as a catalogue backend implements the store.
        .target(
            name: "SiloMergeImaging",
            dependencies: ["SiloMergeCore", "CSiloMergeImaging"]
        ),
        // Measuring tool for the perceptual hash: hashes, groups and times files
        // (`swift run silomerge-similar --help`); used by tools/similar/.
        .executableTarget(
            name: "silomerge-similar",
            dependencies: [
                "SiloMergeImaging", "SiloMergeCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "silomerge",
            dependencies: [
                "SiloMergeCore",
                "SiloMergeSQLite",
                // Injects its `ImageFingerprinter` into the scan; core links no image library.
                "SiloMergeImaging",
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
            name: "SiloMergeImagingTests",
            dependencies: ["SiloMergeImaging", "SiloMergeCore"]
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
