// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "wsgate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "wsgate", targets: ["wsgate"]),
        .library(name: "WebSocketEngine", targets: ["WebSocketEngine"]),
        .library(name: "WebSocketClient", targets: ["WebSocketClient"]),
        .library(name: "WebSocketTesting", targets: ["WebSocketTesting"]),
        .library(name: "GatewayConfig", targets: ["GatewayConfig"]),
        .library(name: "Gateway", targets: ["Gateway"]),
        .library(name: "WSGateCommand", targets: ["WSGateCommand"]),
        .library(name: "RedisClient", targets: ["RedisClient"]),
        .library(name: "Broker", targets: ["Broker"]),
        .library(name: "RedisTesting", targets: ["RedisTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        .target(name: "CProcessSpawn"),
        .target(
            name: "WebSocketEngine",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ]
        ),
        // The public WebSocket client (ws:// and wss://) on the engine's protocol core.
        .target(
            name: "WebSocketClient",
            dependencies: [
                "WebSocketEngine",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "WebSocketTesting",
            dependencies: [
                "WebSocketEngine",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // The broker's Redis client: a RESP2 codec and a reconnecting NIO connection (no Swift
        // Redis client is in the package set).
        .target(
            name: "RedisClient",
            dependencies: [
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Rooms across instances: the Redis layout, the publish script, delivery in offset order.
        .target(
            name: "Broker",
            dependencies: [
                "RedisClient",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // A real redis-server for tests, started on a free port.
        .target(
            name: "RedisTesting",
            dependencies: [
                "RedisClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "GatewayConfig",
            dependencies: [
                "WebSocketEngine",
                "RedisClient",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "Gateway",
            dependencies: [
                "WebSocketEngine",
                "WebSocketClient",
                "GatewayConfig",
                "Broker",
                "RedisClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                "CProcessSpawn",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            // The dev console's page, style and script, as real files compiled into the binary.
            resources: [
                .embedInCode("Console/console.html"), .embedInCode("Console/console.css"),
                .embedInCode("Console/console.js"),
            ]
        ),
        .target(
            name: "ConversationTesting",
            dependencies: [
                "Gateway",
                "GatewayConfig",
                "WebSocketClient",
                "WebSocketEngine",
                "WebSocketTesting",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `wsgate bench`: the load client, on the engine's WebSocketClient.
        .target(
            name: "WSGateBench",
            dependencies: [
                "WebSocketClient",
                "WebSocketEngine",
                "GatewayConfig",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .target(
            name: "WSGateCommand",
            dependencies: [
                "ConversationTesting",
                "WSGateBench",
                "WebSocketClient",
                "Gateway",
                "RedisClient",
                "GatewayConfig",
                "WebSocketEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .executableTarget(name: "wsgate", dependencies: ["WSGateCommand"]),
        // The Autobahn client cases' client under test (scripts/autobahn-client).
        .executableTarget(
            name: "wsgate-autobahn-client",
            dependencies: ["WebSocketClient", "WebSocketEngine", .product(name: "NIOCore", package: "swift-nio")]
        ),
        // examples/custom-extension: a third-party extension and a wsgate build that registers it.
        .target(
            name: "FlipExtension",
            dependencies: ["WebSocketEngine", .product(name: "NIOCore", package: "swift-nio")],
            path: "examples/custom-extension/FlipExtension"
        ),
        .executableTarget(
            name: "wsgate-flip",
            dependencies: ["FlipExtension", "Gateway", "WSGateCommand"],
            path: "examples/custom-extension/wsgate-flip"
        ),
        .testTarget(
            name: "WebSocketEngineTests",
            dependencies: [
                "WebSocketEngine",
                "WebSocketTesting",
                "FlipExtension",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ]
        ),
        .testTarget(
            name: "WebSocketClientTests",
            dependencies: [
                "WebSocketClient", "WebSocketEngine",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(name: "WebSocketTestingTests", dependencies: ["WebSocketTesting", "WebSocketEngine"]),
        .testTarget(
            name: "RedisClientTests",
            dependencies: [
                "RedisClient",
                "RedisTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "BrokerTests",
            dependencies: ["Broker", "RedisClient", "RedisTesting", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(name: "GatewayConfigTests", dependencies: ["GatewayConfig"], exclude: ["Corpus"]),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateway", "GatewayConfig", "WebSocketTesting", "WebSocketEngine", "RedisTesting",
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .testTarget(
            name: "WSGateBenchTests",
            dependencies: [
                "WSGateBench", "WebSocketEngine", "WebSocketTesting",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "ConversationTestingTests",
            dependencies: ["ConversationTesting", "Gateway", "GatewayConfig", "WebSocketClient", "WebSocketEngine"]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// libFuzzer targets (docs/fuzzing.md), only when WSGATE_FUZZ is set: `scripts/fuzz TARGET SECONDS` builds
// them with `-sanitize=fuzzer,address`. They are targets of this package so they can reach the engine's
// `package` API; normal builds neither see nor resolve them.
if Context.environment["WSGATE_FUZZ"] != nil {
    let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
        ("FuzzFrames", ["WebSocketEngine"]),
        ("FuzzInflate", ["WebSocketEngine"]),
        ("FuzzHTTP", ["WebSocketEngine"]),
        ("FuzzExtensionOffers", ["WebSocketEngine"]),
        ("FuzzConfig", ["GatewayConfig"]),
        ("FuzzConversation", ["GatewayConfig"]),
        (
            "FuzzDifferential",
            [
                "WebSocketEngine", .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        (
            "FuzzConnection",
            [
                "WebSocketEngine", .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
    package.products += fuzzTargets.map { .executable(name: $0.name, targets: [$0.name]) }
    package.targets += [
        .target(name: "CLibFuzzer", path: "Fuzz/CLibFuzzer"),
        .target(
            name: "FuzzSupport",
            dependencies: ["CLibFuzzer", .product(name: "NIOCore", package: "swift-nio")],
            path: "Fuzz/Support"
        ),
    ]
    package.targets += fuzzTargets.map { target in
        .executableTarget(
            name: target.name,
            dependencies: ["FuzzSupport", .product(name: "NIOCore", package: "swift-nio")] + target.dependencies,
            path: "Fuzz/Targets/\(target.name)"
        )
    }
}
