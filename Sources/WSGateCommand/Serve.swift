import ArgumentParser
import Dispatch
import Foundation
import Gateway
import GatewayConfig
import Logging
import WebSocketEngine

/// `wsgate serve [CONFIG] [--listen HOST:PORT]`.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the endpoints of a configuration file.",
        discussion: """
            Without CONFIG, wsgate reads ./wsgate.yaml, or else serves its embedded default
            configuration (an echo endpoint at /echo). An invalid file is refused with every problem
            listed as file:line:column before anything listens. SIGTERM or SIGINT closes every
            session with 1001 (Going Away) and exits.
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
        let configuration = loaded.configuration

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
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "wsgate")

        let server: WebSocketServer
        let application: GatewayApplication
        do {
            application = try GatewayApplication(configuration, logger: logger)
            server = try await WebSocketServer.start(
                router: application.router,
                configuration: Gateway.serverConfiguration(for: configuration, listen: listenAddress),
                logger: logger
            )
        } catch let error as GatewayError {
            logger.critical("\(error)")
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
                "address": "\(server.localAddress.map { "\($0)" } ?? "?")",
                "config": "\(source)",
                "endpoints": "\(paths)",
            ]
        )
        application.start()
        let (signals, received) = AsyncStream<Int32>.makeStream()
        let watcher = SignalWatcher(signals: [SIGTERM, SIGINT]) { received.yield($0) }
        for await signal in signals {
            logger.info("signal \(signal): closing every session with 1001")
            break
        }
        await server.shutdown(grace: .seconds(10))
        await application.shutdown()
        watcher.cancel()
        logger.info("wsgate stopped")
    }
}

/// Turns POSIX signals into a callback on a dispatch queue.
final class SignalWatcher {
    private let sources: [any DispatchSourceSignal]

    init(signals: [Int32], handler: @escaping @Sendable (Int32) -> Void) {
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { handler(number) }
            source.resume()
            return source
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
    }
}
