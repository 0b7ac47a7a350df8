import GatewayConfig
import Logging
import WebSocketEngine

/// Builds and runs the endpoints a ``GatewayConfiguration`` declares, on the shared engine.
public enum Gateway {
    /// The routes for a configuration: one ``WebSocketRouter`` entry per endpoint, with the extensions
    /// it names built from `extensions` (the registry the command line runs with, by default).
    public static func router(
        for configuration: GatewayConfiguration,
        extensions: ExtensionRegistry = ExtensionRegistry.current
    ) throws -> WebSocketRouter {
        var router = WebSocketRouter()
        for endpoint in configuration.endpoints {
            var options = endpoint.settings.options
            options.extensions = try extensions.factories(for: endpoint.settings.extensions)
            let handler: WebSocketHandler
            switch endpoint.kind {
            case .echo(let settings):
                let echo = EchoEndpoint(settings: settings)
                handler = { session in try await echo.handle(session) }
            }
            try router.webSocket(
                endpoint.path,
                options: options,
                allowedOrigins: endpoint.settings.allowedOrigins,
                subprotocols: endpoint.settings.subprotocols,
                handler: handler
            )
        }
        return router
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
            router: router(for: configuration),
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

        """
}
