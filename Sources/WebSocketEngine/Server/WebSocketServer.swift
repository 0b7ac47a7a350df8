import CoreMetrics
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
        /// Run each session handler on its connection's event loop thread (true, the default): no thread
        /// switch between the handler and its socket. A handler must then never block (no blocking I/O,
        /// no long computation): hand such work to another task. False runs handlers on Swift's global
        /// executor.
        public var handlersRunOnEventLoop: Bool
        /// Limits on new sessions per client address and per second (HTTP 429 or 503 with `Retry-After`).
        /// Default none; ``WebSocketServer/replaceConnectionLimits(_:)`` changes them while serving.
        public var connectionLimits: ConnectionLimits
        /// How long a kept-alive connection waits for its next plain HTTP request (the whole request head)
        /// after a response; then it closes. Never longer than ``handshakeTimeout``. Default 5 s.
        public var keepAliveTimeout: Duration
        /// Most plain HTTP requests answered on one connection; the last response says
        /// `Connection: close`. Default 1000 (as nginx).
        public var maxRequestsPerConnection: Int

        /// Creates a configuration; every argument has a default.
        public init(
            host: String = "127.0.0.1",
            port: Int = 8080,
            handshakeTimeout: Duration = .seconds(10),
            maxRequestHeadSize: Int = 16 * 1024,
            maxConnections: Int = 10_000,
            handlersRunOnEventLoop: Bool = true,
            connectionLimits: ConnectionLimits = ConnectionLimits(),
            keepAliveTimeout: Duration = .seconds(5),
            maxRequestsPerConnection: Int = 1000
        ) {
            self.host = host
            self.port = port
            self.handshakeTimeout = handshakeTimeout
            self.maxRequestHeadSize = maxRequestHeadSize
            self.maxConnections = maxConnections
            self.handlersRunOnEventLoop = handlersRunOnEventLoop
            self.connectionLimits = connectionLimits
            self.keepAliveTimeout = keepAliveTimeout
            self.maxRequestsPerConnection = maxRequestsPerConnection
        }
    }

    private let channel: any Channel
    private let core: ServerCore

    /// The address the server listens on.
    public var localAddress: SocketAddress? { channel.localAddress }
    /// The port the server listens on (useful after binding port 0).
    public var port: Int { channel.localAddress?.port ?? 0 }
    /// Sessions open now.
    public var openSessions: Int { core.registry.count }
    /// True once ``drain(grace:spread:)`` began: new WebSocket handshakes get HTTP 503.
    public var isDraining: Bool { core.draining }

    private init(channel: any Channel, core: ServerCore) {
        self.channel = channel
        self.core = core
    }

    /// Receive buffer sizes for sessions: from 512 bytes (an upgrade request or a few small messages)
    /// up to 64 KiB while reads keep filling them.
    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65536)

    /// Binds and starts serving. Throws when the address cannot be bound.
    ///
    /// - Parameters:
    ///   - metrics: where the engine reports its metrics (see the `wsgate_*` names in the README);
    ///     by default the backend bootstrapped with swift-metrics' `MetricsSystem`.
    ///   - channelInitializer: runs first on every accepted connection, before the WebSocket handler
    ///     is added: the place for a TLS handler.
    public static func start(
        router: WebSocketRouter,
        configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "wsgate"),
        metrics: any MetricsFactory = MetricsSystem.factory,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        channelInitializer: (@Sendable (any Channel) throws -> Void)? = nil
    ) async throws -> WebSocketServer {
        let core = ServerCore(router: router, configuration: configuration, metrics: metrics, logger: logger)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: false)
            // NIO keeps each channel's last receive buffer for its next read: starting it at 512 bytes
            // instead of 2 KiB saves 1.5 KiB per idle connection; it grows as reads fill it.
            .childChannelOption(.recvAllocator, value: Self.receiveBuffers)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channelInitializer?(channel)
                    try channel.pipeline.syncOperations.addHandler(WebSocketConnectionHandler(core: core))
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        return WebSocketServer(channel: channel, core: core)
    }

    /// Replaces the routes: handshakes from now on use `router`; open sessions keep the route they
    /// opened on.
    public func replaceRouter(_ router: WebSocketRouter) {
        core.router = router
    }

    /// Replaces the limits at the door: handshakes from now on use `limits`. Open sessions stay counted
    /// against their address; rate buckets start full.
    public func replaceConnectionLimits(_ limits: ConnectionLimits) {
        core.gate.replaceLimits(limits)
    }

    /// The limits at the door now.
    public var connectionLimits: ConnectionLimits { core.gate.limits }

    /// Drains and stops: new WebSocket handshakes get HTTP 503 (plain HTTP routes such as a health check
    /// still answer, so a load balancer sees the instance leave), every session is closed with 1001
    /// (Going Away) — spread evenly over `spread` when it is above zero, so clients do not all reconnect
    /// at once — and the close handshakes get until `grace` (counted from now) to finish. Then the
    /// listener closes and whatever is left is dropped.
    public func drain(grace: Duration = .seconds(10), spread: Duration = .zero) async {
        core.draining = true
        let closing = core.registry.closeAll(
            CloseReason(.goingAway, "server shutting down"), spread: min(spread, grace))
        if !closing.isEmpty {
            let all = EventLoopFuture.andAllComplete(closing, on: channel.eventLoop)
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await all.get() }
                group.addTask { try? await Task.sleep(for: grace) }
                await group.next()
                group.cancelAll()
            }
        }
        try? await channel.close()
        core.registry.forceCloseAll()
    }

    /// Stops at once: as ``drain(grace:spread:)`` without a spread.
    public func shutdown(grace: Duration = .seconds(10)) async {
        await drain(grace: grace, spread: .zero)
    }

    /// Waits until the listening socket closes (after ``shutdown(grace:)``).
    public func waitUntilClosed() async throws {
        try await channel.closeFuture.get()
    }
}

extension WebSocketServer {
    /// The handler the server puts on each accepted connection, for driving one connection without a
    /// socket: the `connection` fuzz target feeds it bytes in an `EmbeddedChannel` (docs/fuzzing.md).
    /// Each call makes a server of its own (routes, registry, metrics) for that one connection.
    package static func connectionHandler(
        router: WebSocketRouter,
        configuration: Configuration = Configuration(),
        logger: Logger,
        metrics: any MetricsFactory = MetricsSystem.factory
    ) -> any ChannelHandler {
        let core = ServerCore(router: router, configuration: configuration, metrics: metrics, logger: logger)
        return WebSocketConnectionHandler(core: core)
    }
}
