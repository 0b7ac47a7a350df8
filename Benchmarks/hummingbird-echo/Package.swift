// swift-tools-version:6.1
// The Hummingbird WebSocket echo server that Benchmarks/run.py measures wsgate against. Its own
// package, so wsgate's build never pulls in Hummingbird; run.py builds it with
// --scratch-path .build/bench/hummingbird-echo.
import PackageDescription

let package = Package(
    name: "hummingbird-echo",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "hummingbird-echo",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSCompression", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
