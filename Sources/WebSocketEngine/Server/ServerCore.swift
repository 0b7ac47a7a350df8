import CoreMetrics
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// What every connection of one server shares: the current routes (replaceable while serving), whether
/// the server is draining, the session registry and the metrics.
final class ServerCore: Sendable {
    let configuration: WebSocketServer.Configuration
    let registry = ConnectionRegistry()
    let gate: Gate
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
        self.gate = Gate(configuration.connectionLimits)
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

extension ServerCore {
    /// The ``ConnectionGate`` shared by every event loop, behind a lock (taken once per handshake and once
    /// per close of a counted session).
    final class Gate: Sendable {
        private let state: NIOLockedValueBox<ConnectionGate>

        init(_ limits: ConnectionLimits) {
            state = NIOLockedValueBox(ConnectionGate(limits, now: .now()))
        }

        var limits: ConnectionLimits { state.withLockedValue { $0.limits } }

        func replaceLimits(_ limits: ConnectionLimits) {
            state.withLockedValue { $0.replaceLimits(limits, now: .now()) }
        }

        func admit(address: String?) -> ConnectionGate.Decision {
            state.withLockedValue { $0.admit(address: address, now: .now()) }
        }

        func admit(address: String, endpoint: String, limit: Int) -> Bool {
            state.withLockedValue { $0.admit(address: address, endpoint: endpoint, limit: limit, now: .now()) }
        }

        func release(address: String) {
            state.withLockedValue { $0.release(address: address, now: .now()) }
        }
    }
}
