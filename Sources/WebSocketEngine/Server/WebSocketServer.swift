import Logging
import NIOCore
import NIOPosix

/// A running WebSocket server: a listening socket serving the routes of a ``WebSocketRouter``.
///
/// ```swift
/// var router = WebSocketRouter()
/// try router.webSocket("/echo") { session in
///     for await frame in session.incoming { try await session.send(frame) }
/// }
/// let server = try await WebSocketServer.start(router: router, configuration: .init(port: 8080))
/// try await server.waitUntilClosed()
/// ```
public final class WebSocketServer: Sendable {
    /// Listener settings.
    public struct Configuration: Sendable, Equatable {
        /// Address to bind; default `127.0.0.1`.
        public var host: String
        /// Port to bind; 0 picks a free one (see ``WebSocketServer/port``). Default 8080.
        public var port: Int
        /// A client that has not completed its handshake within this time is dropped. Default 10 s.
        public var handshakeTimeout: Duration
        /// Largest HTTP request head accepted, in bytes (431 beyond). Default 16 KiB.
        public var maxRequestHeadSize: Int
        /// Most sessions open at once; beyond it the handshake gets HTTP 503. Default 10,000.
        public var maxConnections: Int

        /// Creates a configuration; every argument has a default.
        public init(
            host: String = "127.0.0.1",
            port: Int = 8080,
            handshakeTimeout: Duration = .seconds(10),
            maxRequestHeadSize: Int = 16 * 1024,
            maxConnections: Int = 10_000
        ) {
            self.host = host
            self.port = port
            self.handshakeTimeout = handshakeTimeout
            self.maxRequestHeadSize = maxRequestHeadSize
            self.maxConnections = maxConnections
        }
    }

    private let channel: any Channel
    private let registry: ConnectionRegistry
    private let logger: Logger

    /// The address the server listens on.
    public var localAddress: SocketAddress? { channel.localAddress }
    /// The port the server listens on (useful after binding port 0).
    public var port: Int { channel.localAddress?.port ?? 0 }
    /// Sessions open now.
    public var openSessions: Int { registry.count }

    private init(channel: any Channel, registry: ConnectionRegistry, logger: Logger) {
        self.channel = channel
        self.registry = registry
        self.logger = logger
    }

    /// Binds and starts serving. Throws when the address cannot be bound.
    public static func start(
        router: WebSocketRouter,
        configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "wsgate"),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> WebSocketServer {
        let registry = ConnectionRegistry()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: false)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = WebSocketConnectionHandler(
                        router: router,
                        configuration: configuration,
                        registry: registry,
                        logger: logger
                    )
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        return WebSocketServer(channel: channel, registry: registry, logger: logger)
    }

    /// Stops accepting, closes every session with 1001 (Going Away), waits up to `grace` for the close
    /// handshakes, then drops whatever is left.
    public func shutdown(grace: Duration = .seconds(10)) async {
        try? await channel.close()
        let closing = registry.closeAll(CloseReason(.goingAway, "server shutting down"))
        if !closing.isEmpty {
            let all = EventLoopFuture.andAllComplete(closing, on: channel.eventLoop)
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await all.get() }
                group.addTask { try? await Task.sleep(for: grace) }
                await group.next()
                group.cancelAll()
            }
            registry.forceCloseAll()
        }
    }

    /// Waits until the listening socket closes (after ``shutdown(grace:)``).
    public func waitUntilClosed() async throws {
        try await channel.closeFuture.get()
    }
}
