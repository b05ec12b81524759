// swift-tools-version: 6.1
// Micro benchmarks of Switchboard's hot-path building blocks (ordo-one/benchmark): a package of its own, so that
// `swift test` of the main package never builds the benchmark harness. Run from this folder:
//   swift package benchmark                       (all, release build)
//   swift package benchmark --filter "history.*"  (a subset)
import PackageDescription

let package = Package(
    name: "SwitchboardBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "Switchboard", path: ".."),
        // Only the MallocInterposer trait: the default traits pull a package that is not mirrored here.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
    ],
    targets: [
        .executableTarget(
            name: "HubMicroBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SwitchboardCore", package: "Switchboard"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            path: "Benchmarks/HubMicroBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
