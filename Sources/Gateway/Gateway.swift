import GatewayConfig
import Logging
import Synchronization
import WebSocketEngine

/// The endpoints of one configuration, built on the shared engine: their routes and their state
/// (such as the rooms of broadcast endpoints).
public final class GatewayApplication: Sendable {
    /// The routes, one per endpoint.
    public let router: WebSocketRouter
    /// The endpoints by path.
    let endpoints: [String: EndpointRuntime]
    /// The Redis broker rooms go through, if the configuration has one.
    public let broker: GatewayBroker?

    /// Builds the endpoints; the extensions each names come from `extensions` (by default the
    /// registry the command line runs with).
    ///
    /// With `broker` (see ``GatewayBroker/start(_:logger:)``) broadcast rooms are shared with the other
    /// instances using the same Redis, except on endpoints with `broker: local`; without one, every room
    /// stays in this process.
    public convenience init(
        _ configuration: GatewayConfiguration,
        extensions: ExtensionRegistry = ExtensionRegistry.current,
        logger: Logger = Logger(label: "wsgate"),
        broker: GatewayBroker? = nil
    ) throws {
        try self.init(configuration, extensions: extensions, logger: logger, reusing: nil, broker: broker)
    }

    /// Builds the endpoints, keeping those of `previous` whose configuration did not change (a reload):
    /// their rooms, shared processes and open sessions carry on.
    init(
        _ configuration: GatewayConfiguration,
        extensions: ExtensionRegistry,
        logger: Logger,
        reusing previous: GatewayApplication?,
        broker: GatewayBroker?
    ) throws {
        self.broker = broker
        var router = WebSocketRouter()
        var endpoints: [String: EndpointRuntime] = [:]
        for endpoint in configuration.endpoints {
            if case .staticFiles(let settings) = endpoint.kind {
                let files = StaticFiles(path: endpoint.path, settings: settings, logger: logger)
                do {
                    try router.get(under: endpoint.path) { request in files.respond(request) }
                } catch {
                    throw GatewayError("endpoint \(endpoint.path): \(error.description)")
                }
                continue
            }
            let runtime: EndpointRuntime
            if let kept = previous?.endpoints[endpoint.path], kept.serves(endpoint) {
                runtime = kept
            } else {
                runtime = try EndpointRuntime(
                    endpoint, extensions: extensions, logger: logger, broker: broker,
                    secure: configuration.server.tls != nil)
            }
            endpoints[endpoint.path] = runtime
            try router.add(
                endpoint.path,
                options: runtime.options,
                allowedOrigins: endpoint.settings.allowedOrigins,
                subprotocols: endpoint.settings.subprotocols,
                admission: runtime.admission,
                asyncAdmission: runtime.asyncAdmission,
                serving: runtime.serving
            )
        }
        self.router = router
        self.endpoints = endpoints
    }

    /// Starts what runs with the gateway rather than with a connection: `instance: shared` processes.
    public func start() {
        for endpoint in endpoints.values { endpoint.start() }
    }

    /// Stops the shared processes (SIGTERM, then SIGKILL after their `close_grace`) and kills the
    /// process groups of per-connection processes that are still running.
    public func shutdown() async {
        for endpoint in endpoints.values { await endpoint.stop() }
    }

    /// Sessions whose handlers are still running (processes included), over all endpoints.
    public var activeSessions: Int {
        endpoints.values.reduce(0) { $0 + $1.activeSessions }
    }

    /// Rooms and fan-out counters of the broadcast (or shared-process) endpoint declared at `path`.
    public func roomStatistics(path: String) -> RoomStatistics? {
        endpoints[path]?.hub?.statistics()
    }
}

/// Numbers connections from 0.
final class ConnectionCounter: Sendable {
    private let counter = Atomic<Int>(0)
    func next() -> Int { counter.add(1, ordering: .relaxed).oldValue }
}

/// Around a ``GatewayConfiguration``: its listener settings and the configuration used when none is given.
/// (The endpoints themselves are built by ``GatewayApplication``.)
public enum Gateway {
    /// The listener settings for a configuration, with `listen` overriding `server.listen` when given.
    public static func serverConfiguration(for configuration: GatewayConfiguration, listen: ListenAddress? = nil)
        -> WebSocketServer.Configuration
    {
        let address = listen ?? configuration.server.listen
        return WebSocketServer.Configuration(
            host: address.host,
            port: address.port,
            handshakeTimeout: configuration.server.handshakeTimeout,
            maxConnections: configuration.server.maxConnections,
            connectionLimits: configuration.server.connectionLimits
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
