import CoreMetrics
import Foundation
import GatewayConfig
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Prometheus
import WebSocketEngine

/// A running gateway: the listener, the endpoints of the current configuration, and the plain HTTP
/// routes beside them (health, metrics, the dev console). It reloads a new configuration in place and
/// drains on shutdown.
public final class GatewayServer: Sendable {
    /// What a reload changed, by endpoint path.
    public struct ReloadSummary: Sendable, Equatable, CustomStringConvertible {
        /// Endpoints that are new.
        public var added: [String] = []
        /// Endpoints whose settings changed: new connections get the new settings.
        public var changed: [String] = []
        /// Endpoints that are gone: their sessions were closed with 1001.
        public var removed: [String] = []
        /// `server:` keys that changed but apply only after a restart.
        public var needsRestart: [String] = []

        public var description: String {
            var parts: [String] = []
            if !added.isEmpty { parts.append("added \(added.joined(separator: ", "))") }
            if !changed.isEmpty { parts.append("changed \(changed.joined(separator: ", "))") }
            if !removed.isEmpty { parts.append("removed \(removed.joined(separator: ", "))") }
            if parts.isEmpty { parts.append("no endpoint changed") }
            return parts.joined(separator: "; ")
        }
    }

    private struct State {
        var configuration: GatewayConfiguration
        var application: GatewayApplication
        /// Endpoints replaced or removed by reloads whose sessions may still run (a drain waits for them).
        /// Only endpoints the current configuration does not reuse, and only while they have sessions: a
        /// reused endpoint belongs to the current application, so reloads never pile up configurations.
        var retired: [EndpointRuntime] = []
    }

    /// The engine's server.
    public let server: WebSocketServer
    private let state: NIOLockedValueBox<State>
    private let extensions: ExtensionRegistry
    private let logger: Logger
    private let metrics: PrometheusCollectorRegistry?
    private let started = ContinuousClock.now
    /// The backend API's listener (`server.api`), when configured.
    private let api = NIOLockedValueBox<APIServer?>(nil)
    /// Counts reloads by result (`wsgate_config_reloads_total{result}`).
    private let reloads: (applied: CoreMetrics.Counter, refused: CoreMetrics.Counter)

    /// The version `wsgate --version` prints and the health check reports.
    public static let version = "0.4.0"

    private init(
        server: WebSocketServer,
        state: State,
        extensions: ExtensionRegistry,
        logger: Logger,
        metrics: PrometheusCollectorRegistry?
    ) {
        self.server = server
        self.state = NIOLockedValueBox(state)
        self.extensions = extensions
        self.logger = logger
        self.metrics = metrics
        reloads = (
            CoreMetrics.Counter(label: "wsgate_config_reloads_total", dimensions: [("result", "applied")]),
            CoreMetrics.Counter(label: "wsgate_config_reloads_total", dimensions: [("result", "refused")])
        )
    }

    /// Builds the endpoints and starts listening.
    ///
    /// - Parameters:
    ///   - listen: overrides `server.listen` (the `--listen` option).
    ///   - metrics: the registry `metrics_path` renders; give the one swift-metrics was bootstrapped
    ///     with (`PrometheusMetricsFactory(registry:)`). Without it, `metrics_path` is not served.
    public static func start(
        _ configuration: GatewayConfiguration,
        listen: ListenAddress? = nil,
        extensions: ExtensionRegistry = ExtensionRegistry.current,
        logger: Logger = Logger(label: "wsgate"),
        metrics: PrometheusCollectorRegistry? = nil
    ) async throws -> GatewayServer {
        // Redis first: an unreachable broker or a refused password is reported before anything listens.
        var broker: GatewayBroker?
        if let settings = configuration.broker { broker = try await GatewayBroker.start(settings, logger: logger) }
        let application: GatewayApplication
        do {
            application = try GatewayApplication(
                configuration, extensions: extensions, logger: logger, reusing: nil, broker: broker)
        } catch {
            await broker?.close()
            throw error
        }
        var initializer: (@Sendable (any Channel) throws -> Void)?
        if let settings = configuration.server.tls {
            let context = try TLS.makeContext(settings)
            initializer = { channel in try TLS.addHandler(context, to: channel) }
        }
        let factory: any MetricsFactory =
            metrics.map { PrometheusMetricsFactory(registry: $0) } ?? MetricsSystem.factory
        let server = try await WebSocketServer.start(
            router: application.router,
            configuration: Gateway.serverConfiguration(for: configuration, listen: listen),
            logger: logger,
            metrics: factory,
            channelInitializer: initializer
        )
        let gateway = GatewayServer(
            server: server,
            state: State(configuration: configuration, application: application),
            extensions: extensions,
            logger: logger,
            metrics: metrics
        )
        server.replaceRouter(try gateway.router(for: configuration, application: application))
        let target = LiveAPITarget(gateway)
        // Another instance's backend API (or this one's) counts members and disconnects sessions here too.
        broker?.answerRequests { request in await BackendAPI.answer(request, target: target) }
        if let settings = configuration.server.api, let listen = settings.listen {
            let api: APIServer
            do {
                api = try await APIServer.start(
                    host: listen.host, port: listen.port,
                    api: BackendAPI(settings: settings, target: target), logger: logger)
            } catch {
                await server.shutdown(grace: .zero)
                await application.shutdown()
                await broker?.close()
                throw GatewayError(
                    "server.api.listen \(listen): cannot listen (\(error)); choose a free port and an address of this host"
                )
            }
            gateway.api.withLockedValue { $0 = api }
            logger.info("backend API listening", metadata: ["address": "\(listen.host):\(api.port)"])
        }
        application.start()
        return gateway
    }

    /// The port it listens on.
    public var port: Int { server.port }

    /// The port of the backend API (`server.api.listen`), when it has one.
    public var apiPort: Int? { api.withLockedValue { $0?.port } }

    /// The configuration it serves now.
    public var configuration: GatewayConfiguration { state.withLockedValue { $0.configuration } }

    /// The endpoints it serves now.
    public var application: GatewayApplication { state.withLockedValue { $0.application } }

    /// Applies a new configuration: new and changed endpoints serve new connections from now on;
    /// removed endpoints close their sessions with 1001, and so do changed endpoints whose sessions share
    /// a room or a process (so that nobody is left in the old room). Per-connection sessions of a changed
    /// endpoint (echo, process) finish with the settings they started with. The limits at the door
    /// (`max_connections_per_ip`, `new_connections`, `new_connections_per_ip`) apply to new handshakes;
    /// `server:` keys other than those and the HTTP paths need a restart; they are listed in the summary.
    @discardableResult
    public func reload(_ next: GatewayConfiguration) async throws -> ReloadSummary {
        let (previous, oldConfiguration) = state.withLockedValue { ($0.application, $0.configuration) }
        // The broker stays (changing `broker:` needs a restart); new and changed endpoints register with it.
        let application = try GatewayApplication(
            next, extensions: extensions, logger: logger, reusing: previous, broker: previous.broker)
        let router = try self.router(for: next, application: application)
        var summary = ReloadSummary()
        for endpoint in next.endpoints where endpoint.kind.isWebSocket {
            guard let old = previous.endpoints[endpoint.path] else {
                summary.added.append(endpoint.path)
                continue
            }
            if application.endpoints[endpoint.path] !== old { summary.changed.append(endpoint.path) }
        }
        summary.removed = previous.endpoints.keys.filter { application.endpoints[$0] == nil }.sorted()
        summary.needsRestart = Self.restartKeys(from: oldConfiguration.server, to: next.server)
        state.withLockedValue { state in
            state.configuration = next
            state.application = application
            // Keep replaced endpoints only while their sessions run (a drain waits for those); an endpoint
            // the new configuration reuses is not retired at all.
            let reused = Set(application.endpoints.values.map(ObjectIdentifier.init))
            state.retired.append(
                contentsOf: previous.endpoints.values.filter { !reused.contains(ObjectIdentifier($0)) })
            state.retired.removeAll { $0.activeSessions == 0 }
        }
        server.replaceRouter(router)
        server.replaceConnectionLimits(next.server.connectionLimits)
        application.start()
        var retiring: [(EndpointRuntime, CloseReason)] = []
        for path in summary.removed {
            if let old = previous.endpoints[path] {
                retiring.append((old, CloseReason(.goingAway, "endpoint removed")))
            }
        }
        for path in summary.changed {
            if let old = previous.endpoints[path] {
                if old.sharesState {
                    retiring.append((old, CloseReason(.goingAway, "endpoint reconfigured; reconnect")))
                }
            }
        }
        for (old, reason) in retiring {
            await old.closeSessions(reason)
            await old.stop()
        }
        reloads.applied.increment()
        return summary
    }

    /// Counts a reload that was refused (an invalid file), for `wsgate_config_reloads_total`.
    public func reloadRefused() {
        reloads.refused.increment()
    }

    /// Endpoints that earlier configurations replaced or removed and that still run sessions (those
    /// sessions finish with their old settings). It drops to 0 as they end; it never grows with reloads
    /// that keep endpoints unchanged.
    public var retiredEndpoints: Int {
        state.withLockedValue { state in
            state.retired.removeAll { $0.activeSessions == 0 }
            return state.retired.count
        }
    }

    /// Whether a drain has begun.
    public var isDraining: Bool { server.isDraining }

    /// Drains: health turns 503, new handshakes get 503, every session gets 1001 (spread over
    /// `shutdown_spread`), processes get their `close_grace`; after `shutdown_grace` whatever is left is
    /// dropped and process groups still running are killed.
    public func drain() async {
        let (configuration, application, retired) = state.withLockedValue {
            ($0.configuration, $0.application, $0.retired)
        }
        let grace = configuration.server.shutdownGrace
        let deadline = ContinuousClock.now + grace
        logger.info(
            "draining",
            metadata: [
                "sessions": "\(server.openSessions)", "grace": "\(grace)",
                "spread": "\(configuration.server.shutdownSpread)",
            ])
        await server.drain(grace: grace, spread: configuration.server.shutdownSpread)
        // Session handlers (processes given EOF, then their close_grace) finish within the same grace.
        func left() -> Int { application.activeSessions + retired.reduce(0) { $0 + $1.activeSessions } }
        while left() > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        await api.withLockedValue { $0 }?.stop()
        await application.shutdown()
        await application.broker?.close()
        for endpoint in retired { await endpoint.stop() }
        logger.info("drained", metadata: ["left": "\(left())"])
    }

    // MARK: HTTP routes

    private func router(for configuration: GatewayConfiguration, application: GatewayApplication) throws
        -> WebSocketRouter
    {
        var router = application.router
        let server = configuration.server
        if let path = server.healthPath {
            try router.get(path) { [weak self] _ in
                self?.health() ?? PlainHTTPResponse(status: 503, contentType: "application/json", text: "{}")
            }
        }
        if let path = server.metricsPath, let registry = metrics {
            try router.get(path) { _ in
                PlainHTTPResponse(
                    contentType: "text/plain; version=0.0.4; charset=utf-8", body: registry.emitToBuffer())
            }
        }
        if let settings = server.api, settings.listen == nil {
            // The API on the gateway's own port, under its path.
            let api = BackendAPI(settings: settings, target: LiveAPITarget(self))
            let logger = self.logger
            try router.handle(under: settings.path, maxBodySize: settings.maxBody) { request in
                let response = await api.respond(
                    APIRequest(
                        method: request.method, path: request.path, query: request.query, headers: request.headers,
                        body: request.body))
                logger.info(
                    "api request",
                    metadata: [
                        "method": "\(request.method)", "path": "\(request.path)", "status": "\(response.status)",
                    ])
                return PlainHTTPResponse(
                    status: response.status, contentType: "application/json", text: response.json,
                    headers: ["Cache-Control": "no-store"])
            }
        }
        if let path = server.consolePath {
            let endpoints = configuration.endpoints.filter(\.kind.isWebSocket).map { endpoint in
                ConsoleEndpoint(
                    path: endpoint.path, type: endpoint.kind.typeName, subprotocols: endpoint.settings.subprotocols)
            }
            let page = ConsolePage.html(endpoints: endpoints, version: Self.version)
            try router.get(path) { _ in
                PlainHTTPResponse(
                    contentType: "text/html; charset=utf-8", text: page, headers: ["Cache-Control": "no-store"])
            }
        }
        return router
    }

    private func health() -> PlainHTTPResponse {
        let draining = server.isDraining
        let uptime = ContinuousClock.now - started
        let (endpoints, broker) = state.withLockedValue { ($0.application.endpoints.count, $0.application.broker) }
        var body =
            #"{"status":"\#(draining ? "draining" : "serving")","sessions":\#(server.openSessions),"#
            + #""endpoints":\#(endpoints),"uptime_seconds":\#(uptime.components.seconds),"#
            + #""version":"\#(Self.version)""#
        if let broker { body += #","broker":"# + broker.healthJSON() }
        body += "}"
        return PlainHTTPResponse(
            status: draining ? 503 : 200, contentType: "application/json", text: body + "\n",
            headers: ["Cache-Control": "no-store"])
    }

    private static func restartKeys(from old: ServerSettings, to new: ServerSettings) -> [String] {
        var keys: [String] = []
        if old.listen != new.listen { keys.append("listen") }
        if old.maxConnections != new.maxConnections { keys.append("max_connections") }
        if old.handshakeTimeout != new.handshakeTimeout { keys.append("handshake_timeout") }
        if old.tls != new.tls { keys.append("tls") }
        if old.logFormat != new.logFormat { keys.append("log.format") }
        if old.logLevel != new.logLevel { keys.append("log.level") }
        if old.api != new.api { keys.append("api") }
        return keys
    }
}

/// The backend API's view of the gateway: the endpoints it serves now, across reloads.
private struct LiveAPITarget: APITarget {
    private struct Weak: Sendable {
        weak var server: GatewayServer?
    }

    private let box: NIOLockedValueBox<Weak>

    init(_ server: GatewayServer) {
        box = NIOLockedValueBox(Weak(server: server))
    }

    func broadcastEndpoint(_ path: String) -> BroadcastEndpoint? {
        box.withLockedValue { $0.server }?.application.endpoints[path]?.broadcast
    }
}

extension EndpointKind {
    /// The `type:` name.
    var typeName: String {
        switch self {
        case .echo: return "echo"
        case .broadcast: return "broadcast"
        case .process: return "process"
        case .staticFiles: return "static"
        case .proxy: return "proxy"
        }
    }
}
