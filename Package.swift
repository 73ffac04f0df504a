// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "SiloMerge",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "silomerge", targets: ["silomerge"]),
        .executable(name: "silomerge-bench", targets: ["silomerge-bench"]),
        .library(name: "SiloMergeCore", targets: ["SiloMergeCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/JohnSundell/Plot", from: "0.14.0"),
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
            name: "SiloMergeCLITests",
            dependencies: ["silomerge", "SiloMergeCore"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
