import Foundation
import GatewayConfig
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WebSocketEngine

/// `instance: shared`: one long-lived process for an endpoint. Client messages go to its stdin in
/// turn (through ``Handoff``, so a process that does not read holds its writers back and no queue
/// grows); each stdout line is broadcast to every connected client through a room, so slow clients
/// are handled as in `type: broadcast`. When the process exits it is started again after a backoff
/// (0.1 s doubling to 10 s, back to 0.1 s after it ran 10 s).
final class SharedProcess: Sendable {
    let settings: ProcessSettings
    let path: String
    let hub: RoomHub
    let input = Handoff<[UInt8]>()
    private let logger: Logger
    private let maxMessageSize: Int
    private let supervisor = NIOLockedValueBox<Task<Void, Never>?>(nil)
    /// The loop its pipes are read and written on.
    private let loop = MultiThreadedEventLoopGroup.singleton.next()
    private let metrics: ProcessMetrics

    init(settings: ProcessSettings, path: String, maxMessageSize: Int, logger: Logger) {
        self.settings = settings
        self.path = path
        self.metrics = ProcessMetrics(endpoint: path)
        self.maxMessageSize = maxMessageSize
        var broadcast = BroadcastSettings()
        broadcast.welcome = nil
        broadcast.format = "{message}"
        self.hub = RoomHub(settings: broadcast, endpoint: path)
        var logger = logger
        logger[metadataKey: "endpoint"] = "\(path)"
        self.logger = logger
    }

    /// Starts the process (once).
    func start() {
        supervisor.withLockedValue { task in
            guard task == nil else { return }
            task = Task { await self.supervise() }
        }
    }

    /// Stops the process: SIGTERM, then SIGKILL after `close_grace`.
    func stop() async {
        let task = supervisor.withLockedValue { $0 }
        task?.cancel()
        await task?.value
    }

    private func supervise() async {
        var backoff: Duration = .milliseconds(100)
        while !Task.isCancelled {
            let started = ContinuousClock.now
            let status = await runOnce()
            if Task.isCancelled { return }
            logger.warning(
                "shared process ended; starting it again", metadata: ["status": "\(status)", "after": "\(backoff)"])
            if ContinuousClock.now - started >= .seconds(10) { backoff = .milliseconds(100) }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(10))
        }
    }

    /// Runs the process until it exits (or the supervisor is cancelled); returns how it ended.
    private func runOnce() async -> String {
        guard let (executable, folder) = ProcessIO.executable(for: settings) else {
            logger.error("cannot start shared process", metadata: ["command": "\(settings.command.first ?? "")"])
            return "not started"
        }
        let variables = ProcessIO.variables(["SERVER_SOFTWARE": "wsgate", "SCRIPT_NAME": path], settings)
        let spec = ProcessIO.spec((executable, folder), settings, variables: variables)
        let pump = ProcessPump(
            mode: settings.mode, maxMessageSize: maxMessageSize, grace: settings.closeGrace, logger: logger)
        let hub = self.hub
        let input = self.input
        let path = self.path
        let logger = self.logger
        let metrics = self.metrics
        do {
            let status = try await pump.run(
                spec, on: loop,
                started: { pid in
                    logger.info("shared process started", metadata: ["pid": "\(pid)"])
                    metrics.started()
                },
                feed: { stdin in
                    // Messages are taken only while this loop reads them: before it starts and once it ends
                    // (exit, stdin closed, shutdown), senders return at once instead of waiting.
                    await input.open()
                    while let bytes = await input.next() {
                        guard await stdin.write(bytes) else { break }
                    }
                    await input.close()
                },
                emit: { frame in
                    if let message = PreparedMessage(frame) { hub.broadcast(message, room: path, from: nil) }
                }
            )
            metrics.running.decrement()
            metrics.ended(status)
            return "\(status)"
        } catch {
            metrics.failed.increment()
            return "failed: \(error)"
        }
    }

    /// A client of the shared process: joins its room and feeds its messages to stdin.
    ///
    /// A message waits while the process is busy (backpressure), but never for a process that is not
    /// running (stopped, restarting or unable to start): that message is dropped, logged and counted in
    /// `wsgate_process_input_dropped_total`. When the session closes, a waiting message is withdrawn, so
    /// the session always ends (and a drain never waits for it).
    func handle(_ session: WebSocketSession, connection: Int) async throws {
        start()
        let template = Template(settings.input)
        hub.join(session, room: path, welcome: { _ in nil }, joinNotice: nil)
        defer { hub.leave(session, room: path, leaveNotice: nil) }
        let input = self.input
        let watcher = Task {
            _ = await session.closeReason
            await input.withdraw(connection)
        }
        defer { watcher.cancel() }
        for await frame in session.incoming {
            var bytes: [UInt8]
            if let text = frame.readText() {
                let rendered = template.render { field in
                    switch field {
                    case "message": return text
                    case "connection": return String(connection)
                    default: return nil
                    }
                }
                bytes = Array(rendered.utf8)
                if settings.mode == .text { bytes.append(0x0A) }
            } else {
                bytes = frame.readBytes()
            }
            switch await input.send(bytes, from: connection) {
            case .taken:
                continue
            case .closed:
                metrics.inputDropped.increment()
                logger.warning(
                    "shared process is not running; message dropped", metadata: ["connection": "\(connection)"])
            case .withdrawn:
                return
            }
        }
    }
}
