import GatewayConfig
import Logging
import Synchronization
import WebSocketEngine

/// The endpoints of one configuration, built on the shared engine: their routes and their state
/// (such as the rooms of broadcast endpoints).
public final class GatewayApplication: Sendable {
    /// The routes, one per endpoint.
    public let router: WebSocketRouter
    private let hubs: [String: RoomHub]
    private let sharedProcesses: [SharedProcess]

    /// Builds the endpoints; the extensions each names come from `extensions` (by default the
    /// registry the command line runs with).
    public init(
        _ configuration: GatewayConfiguration,
        extensions: ExtensionRegistry = ExtensionRegistry.current,
        logger: Logger = Logger(label: "wsgate")
    ) throws {
        var router = WebSocketRouter()
        var hubs: [String: RoomHub] = [:]
        var sharedProcesses: [SharedProcess] = []
        for endpoint in configuration.endpoints {
            var options = endpoint.settings.options
            options.extensions = try extensions.factories(for: endpoint.settings.extensions)
            let handler: WebSocketHandler
            var admission: WebSocketAdmission?
            switch endpoint.kind {
            case .echo(let settings):
                let echo = EchoEndpoint(settings: settings)
                handler = { session in try await echo.handle(session) }
            case .broadcast(let settings):
                let broadcast = BroadcastEndpoint(settings: settings)
                hubs[endpoint.path] = broadcast.hub
                handler = { session in try await broadcast.handle(session) }
            case .process(let settings) where settings.shared:
                let shared = SharedProcess(
                    settings: settings,
                    path: endpoint.path,
                    maxMessageSize: options.maxMessageSize,
                    logger: logger
                )
                sharedProcesses.append(shared)
                hubs[endpoint.path] = shared.hub
                let connections = ConnectionCounter()
                handler = { session in try await shared.handle(session, connection: connections.next()) }
            case .process(let settings):
                let process = ProcessEndpoint(
                    settings: settings,
                    path: endpoint.path,
                    maxMessageSize: options.maxMessageSize,
                    logger: logger
                )
                admission = { request in process.admit(request) }
                handler = { session in try await process.handle(session) }
            }
            try router.webSocket(
                endpoint.path,
                options: options,
                allowedOrigins: endpoint.settings.allowedOrigins,
                subprotocols: endpoint.settings.subprotocols,
                admission: admission,
                handler: handler
            )
        }
        self.router = router
        self.hubs = hubs
        self.sharedProcesses = sharedProcesses
    }

    /// Starts what runs with the gateway rather than with a connection: `instance: shared` processes.
    public func start() {
        for process in sharedProcesses { process.start() }
    }

    /// Stops the shared processes (SIGTERM, then SIGKILL after their `close_grace`).
    public func shutdown() async {
        for process in sharedProcesses { await process.stop() }
    }

    /// Rooms and fan-out counters of the broadcast (or shared-process) endpoint declared at `path`.
    public func roomStatistics(path: String) -> RoomStatistics? {
        hubs[path]?.statistics()
    }
}

/// Numbers connections from 0.
final class ConnectionCounter: Sendable {
    private let counter = Atomic<Int>(0)
    func next() -> Int { counter.add(1, ordering: .relaxed).oldValue }
}

/// Builds and runs the endpoints a ``GatewayConfiguration`` declares.
public enum Gateway {
    /// The routes for a configuration (see ``GatewayApplication``).
    public static func router(
        for configuration: GatewayConfiguration,
        extensions: ExtensionRegistry = ExtensionRegistry.current,
        logger: Logger = Logger(label: "wsgate")
    ) throws -> WebSocketRouter {
        try GatewayApplication(configuration, extensions: extensions, logger: logger).router
    }

    /// The listener settings for a configuration, with `listen` overriding `server.listen` when given.
    public static func serverConfiguration(for configuration: GatewayConfiguration, listen: ListenAddress? = nil)
        -> WebSocketServer.Configuration
    {
        let address = listen ?? configuration.server.listen
        return WebSocketServer.Configuration(
            host: address.host,
            port: address.port,
            handshakeTimeout: configuration.server.handshakeTimeout,
            maxConnections: configuration.server.maxConnections
        )
    }

    /// Starts serving a configuration.
    public static func start(
        _ configuration: GatewayConfiguration,
        listen: ListenAddress? = nil,
        logger: Logger = Logger(label: "wsgate")
    ) async throws -> WebSocketServer {
        try await WebSocketServer.start(
            router: router(for: configuration, logger: logger),
            configuration: serverConfiguration(for: configuration, listen: listen),
            logger: logger
        )
    }

    /// The configuration `wsgate serve` uses when no file is given and there is no ./wsgate.yaml.
    public static let embeddedDefaultConfiguration = """
        # wsgate's embedded default configuration.
        version: 1
        server:
          listen: 0.0.0.0:8080
        endpoints:
          # Ktor's echo example, word for word.
          - path: /echo
            type: echo
            greeting: "Please enter your name"
            reply: "Hi, {message}!"
            bye: { text: bye, ignore_case: true, reason: "Client said BYE" }
          # Every message back as received.
          - path: /raw
            type: echo
          # Ktor's chat example: every message to every member, as "[user0]: hello".
          - path: /chat
            type: broadcast

        """
}
