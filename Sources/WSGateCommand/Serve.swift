import ArgumentParser
import Foundation
import Gateway
import GatewayConfig
import Logging
import Metrics
import NIOCore
import Prometheus
import RedisClient
import ServiceLifecycle
import UnixSignals
import WebSocketEngine

/// `wsgate serve [CONFIG] [--listen HOST:PORT]`.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the endpoints of a configuration file.",
        discussion: """
            Without CONFIG, wsgate reads ./wsgate.yaml, or else serves its embedded default
            configuration (an echo endpoint at /echo). An invalid file is refused with every problem
            listed as file:line:column before anything listens. SIGTERM or SIGINT drains: every
            session gets 1001 (Going Away) within server.shutdown_grace, then wsgate exits 0.
            SIGHUP reloads the file; an invalid file is refused and the old configuration keeps
            serving.
            """
    )

    @Argument(help: "The configuration file (YAML).")
    var config: String?

    @Option(help: "Listen on HOST:PORT instead of the file's server.listen (also WSGATE_LISTEN).")
    var listen: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (overrides server.log.level).")
    var logLevel: String?

    func run() async throws {
        let loaded: LoadedConfiguration
        let source: String
        do {
            (loaded, source) = try ConfigSource.load(config)
        } catch {
            ConfigSource.report(error.diagnostics)
            throw ExitCode(1)
        }
        ConfigSource.report(loaded.warnings)
        let path = config ?? source
        try await GatewayRunner.serve(
            loaded.configuration,
            source: source,
            reloadPath: FileManager.default.fileExists(atPath: path) ? path : nil,
            listen: listen,
            logLevel: logLevel
        )
    }
}

/// What `serve` and `relay` share once they hold a configuration: logging, metrics, the listener, and the
/// service that reloads on SIGHUP and drains on SIGTERM/SIGINT.
enum GatewayRunner {
    /// Serves `configuration` until a signal drains it. `reloadPath` is the file SIGHUP reads again
    /// (nil: nothing to reload); `listen` and `logLevel` are the command-line overrides.
    static func serve(
        _ configuration: GatewayConfiguration,
        source: String,
        reloadPath: String?,
        listen: String?,
        logLevel: String?
    ) async throws {
        var listenAddress: ListenAddress?
        if let text = listen ?? ProcessInfo.processInfo.environment["WSGATE_LISTEN"], !text.isEmpty {
            guard let address = ListenAddress(parsing: text) else {
                throw ValidationError("--listen must be HOST:PORT, e.g. 127.0.0.1:8080, not '\(text)'")
            }
            listenAddress = address
        }
        let levelName = logLevel ?? configuration.server.logLevel
        guard let level = Logger.Level(rawValue: levelName) else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        let format = configuration.server.logFormat
        LoggingSystem.bootstrap { label in
            switch format {
            case .json:
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            case .text:
                var handler = StreamLogHandler.standardOutput(label: label)
                handler.logLevel = level
                return handler
            }
        }
        let logger = Logger(label: "wsgate")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        // SIGHUP is trapped before the gateway listens: a reload signal sent as soon as the port
        // answers must reload, not terminate the process (SIGHUP's default) or be lost.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let gateway: GatewayServer
        do {
            gateway = try await GatewayServer.start(
                configuration, listen: listenAddress, logger: logger, metrics: registry)
        } catch let error as GatewayError {
            logger.critical("\(error)")
            throw ExitCode(1)
        } catch let error as RedisClientError {
            logger.critical("broker: \(error)")
            throw ExitCode(1)
        } catch {
            let address = listenAddress ?? configuration.server.listen
            logger.critical("cannot listen on \(address): \(error)")
            throw ExitCode(1)
        }
        let paths = configuration.endpoints.map(\.path).joined(separator: " ")
        logger.info(
            "wsgate listening",
            metadata: [
                "address": "\(gateway.server.localAddress.map { "\($0)" } ?? "?")",
                "tls": "\(configuration.server.tls != nil)",
                "config": "\(source)",
                "endpoints": "\(paths)",
            ]
        )
        let service = GatewayService(
            gateway: gateway, configPath: reloadPath, source: source, hangups: hangups, logger: logger)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await group.run()
        logger.info("wsgate stopped")
    }
}

/// Runs a started gateway under swift-service-lifecycle: SIGHUP reloads the configuration file;
/// SIGTERM or SIGINT drains (see ``GatewayServer/drain()``) and returns.
struct GatewayService: Service {
    let gateway: GatewayServer
    /// The file to read again on SIGHUP; nil when there is none (the embedded default, `wsgate relay`).
    let configPath: String?
    /// Where the configuration came from, for the log.
    let source: String
    /// SIGHUP, trapped before the gateway started listening.
    let hangups: UnixSignalsSequence
    let logger: Logger

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups { await reload() }
            }
            try? await gracefulShutdown()
            logger.info("signal received: draining (every session gets 1001)")
            await gateway.drain()
            group.cancelAll()
        }
    }

    /// Reads the file again and applies it; an invalid file is refused and the old one keeps serving.
    func reload() async {
        guard let configPath else {
            logger.warning("SIGHUP: serving \(source), there is no file to reload")
            return
        }
        let loaded: LoadedConfiguration
        do {
            loaded = try ConfigLoader.load(path: configPath, customExtensions: ExtensionRegistry.current.customNames)
        } catch {
            for diagnostic in error.diagnostics { logger.error("\(diagnostic.description)") }
            logger.error("SIGHUP: \(configPath) is invalid; still serving the previous configuration")
            gateway.reloadRefused()
            return
        }
        for warning in loaded.warnings { logger.warning("\(warning.description)") }
        do {
            let summary = try await gateway.reload(loaded.configuration)
            logger.info("SIGHUP: reloaded \(configPath): \(summary)")
            if !summary.needsRestart.isEmpty {
                logger.warning(
                    "SIGHUP: server.\(summary.needsRestart.joined(separator: ", server.")) changed; restart wsgate to apply"
                )
            }
        } catch {
            logger.error("SIGHUP: cannot apply \(configPath): \(error); still serving the previous configuration")
            gateway.reloadRefused()
        }
    }
}
