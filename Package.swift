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
        .target(
            name: "SiloMergeCore",
            dependencies: [
                "COpenSSL",
                "CZlib",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Plot", package: "Plot"),
            ]
        ),
        // The layer under a future PostgreSQL catalogue: libpq-compatible connection settings,
        // a synchronous session over PostgresNIO, COPY, cursors, advisory locks, migrations.
        // The CLI does not use it yet.
        .target(
            name: "SiloMergePostgres",
            dependencies: [
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
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The benchmark: generates its own corpus, times silomerge against peers (jdupes,
        // rdfind, rmlint) in the same run. `swift run -c release silomerge-bench --help`.
        .executableTarget(name: "silomerge-bench"),
        .testTarget(
            name: "SiloMergeCoreTests",
            dependencies: ["SiloMergeCore"]
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
            dependencies: ["silomerge", "SiloMergeCore"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
