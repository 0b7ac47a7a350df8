import CoreMetrics
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// What every connection of one server shares: the current routes (replaceable while serving), whether
/// the server is draining, the session registry and the metrics.
final class ServerCore: Sendable {
    let configuration: WebSocketServer.Configuration
    let registry = ConnectionRegistry()
    let metrics: EngineMetrics
    let logger: Logger
    private let state: NIOLockedValueBox<(router: WebSocketRouter, draining: Bool)>
    private let executors = NIOLockedValueBox<[ObjectIdentifier: EventLoopTaskExecutor]>([:])

    init(
        router: WebSocketRouter,
        configuration: WebSocketServer.Configuration,
        metrics: any MetricsFactory,
        logger: Logger
    ) {
        self.configuration = configuration
        self.metrics = EngineMetrics(factory: metrics)
        self.logger = logger
        self.state = NIOLockedValueBox((router, false))
    }

    /// The routes new handshakes use.
    var router: WebSocketRouter {
        get { state.withLockedValue { $0.router } }
        set { state.withLockedValue { $0.router = newValue } }
    }

    /// The task executor of an event loop (one per loop, made on first use).
    func executor(for eventLoop: any EventLoop) -> EventLoopTaskExecutor {
        executors.withLockedValue { all in
            let id = ObjectIdentifier(eventLoop)
            if let existing = all[id] { return existing }
            let made = EventLoopTaskExecutor(eventLoop)
            all[id] = made
            return made
        }
    }

    /// While draining, new WebSocket handshakes get 503; plain HTTP routes (health) still answer.
    var draining: Bool {
        get { state.withLockedValue { $0.draining } }
        set { state.withLockedValue { $0.draining = newValue } }
    }
}
