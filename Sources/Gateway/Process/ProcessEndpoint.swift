import Foundation
import GatewayConfig
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Synchronization
import WebSocketEngine

/// `type: process`: one process per connection, on websocketd's contract.
///
/// - Text mode: each text message plus "\n" goes to stdin; each stdout line (without "\n" or "\r\n")
///   comes back as a text message. A line that is not valid UTF-8 comes back as a binary message, so no
///   byte is lost; a line longer than `max_message_size` comes back in pieces of that size.
/// - Binary mode: bytes both ways as they come; text messages are written as their bytes.
/// - stderr lines go to the log with the endpoint and connection id.
/// - The process exits: the rest of stdout is sent, then close 1000 (status 0) or 1011 (the reason
///   names the status or signal).
/// - The client leaves: stdin is closed; after `close_grace` SIGTERM, after another `close_grace`
///   SIGKILL, both to the process group, so grandchildren go too.
/// - Backpressure both ways: a process that does not read stdin stops wsgate reading the socket (the
///   write to stdin waits); a client that does not read stops wsgate reading stdout (the send waits).
final class ProcessEndpoint: Sendable {
    let settings: ProcessSettings
    let path: String
    let maxMessageSize: Int
    let logger: Logger
    private let running = Atomic<Int>(0)
    private let nextID = Atomic<Int>(0)
    private let metrics: ProcessMetrics
    /// Process groups running now (each child leads its own), for ``killAll()``.
    private let live = NIOLockedValueBox<Set<pid_t>>([])
    /// The program once found: looking it up on PATH for every session cost a sixth of a short session.
    private let found = NIOLockedValueBox<(path: String, folder: String)?>(nil)
    /// `pass_env` and `env`, read when the endpoint was made.
    private let added: [String: String]

    init(settings: ProcessSettings, path: String, maxMessageSize: Int, logger: Logger) {
        self.settings = settings
        self.path = path
        self.metrics = ProcessMetrics(endpoint: path)
        self.maxMessageSize = maxMessageSize
        self.logger = logger
        self.added = ProcessIO.added(by: settings)
    }

    /// Before the 101: a slot under `max_processes`, and a program that can start.
    func admit(_ request: WebSocketRequest) -> Admission {
        guard executable() != nil else {
            let program = settings.command.first ?? ""
            logger.error("cannot start process", metadata: ["endpoint": "\(path)", "command": "\(program)"])
            return .refuse(status: 502, message: "The endpoint's command '\(program)' cannot be started.")
        }
        let count = running.add(1, ordering: .relaxed).newValue
        if count > settings.maxProcesses {
            running.subtract(1, ordering: .relaxed)
            return .refuse(
                status: 503,
                message: "The endpoint runs its maximum of \(settings.maxProcesses) processes; retry later."
            )
        }
        return .accept
    }

    /// Gives back a slot ``admit(_:)`` took for a session that never started.
    func release() {
        running.subtract(1, ordering: .relaxed)
    }

    func handle(_ session: WebSocketSession) async throws {
        defer { running.subtract(1, ordering: .relaxed) }
        let id = nextID.add(1, ordering: .relaxed).newValue
        var connectionLogger = self.logger
        connectionLogger[metadataKey: "endpoint"] = "\(path)"
        connectionLogger[metadataKey: "connection"] = "\(id)"
        let logger = connectionLogger
        guard let executable = executable() else {
            await session.close(CloseReason(.internalError, "the command cannot be started"))
            return
        }
        let metrics = self.metrics
        let live = self.live
        let pump = ProcessPump(
            mode: settings.mode, maxMessageSize: maxMessageSize, grace: settings.closeGrace, logger: logger)
        let spec = ProcessIO.spec(executable, settings, variables: environment(for: session.request))
        let status: ProcessExit
        // Whether `running` counts this process: given back however the run ends.
        let counted = Atomic<Bool>(false)
        do {
            status = try await pump.run(
                spec, on: session.eventLoop,
                started: { pid in
                    counted.store(true, ordering: .relaxed)
                    metrics.started()
                    live.withLockedValue { _ = $0.insert(pid) }
                },
                ended: { pid in live.withLockedValue { _ = $0.remove(pid) } },
                // Client → stdin; when the client is gone: EOF, then SIGTERM, then SIGKILL.
                feed: { stdin in
                    for await frame in session.incoming {
                        // A failed write means the process closed its stdin: stop feeding it; how it exits
                        // decides the close.
                        guard await stdin.write(frame) else { break }
                    }
                },
                // stdout → client.
                emit: { frame in try? await session.send(frame) }
            )
            metrics.running.decrement()
            metrics.ended(status)
        } catch {
            // A process that started but whose end could not be read is no longer ours to count.
            if counted.load(ordering: .relaxed) { metrics.running.decrement() }
            metrics.failed.increment()
            logger.error("process failed", metadata: ["error": "\(error)"])
            await session.close(CloseReason(.internalError, "the process could not be run"))
            return
        }
        switch status {
        case .exited(0):
            await session.close(CloseReason(.normal))
        case .exited(let code):
            await session.close(CloseReason(.internalError, "process exited with status \(code)"))
        case .signaled(let signal):
            await session.close(CloseReason(.internalError, "process killed by signal \(signal)"))
        }
    }

    /// The program and its folder, looked up once it exists (a missing one is looked up again each time,
    /// so installing it later works without a reload).
    private func executable() -> (path: String, folder: String)? {
        if let cached = found.withLockedValue({ $0 }) { return cached }
        let resolved = ProcessIO.executable(for: settings)
        if let resolved { found.withLockedValue { $0 = resolved } }
        return resolved
    }

    /// Sends SIGKILL to the process group of every process still running (the end of a shutdown).
    func killAll() {
        for pid in live.withLockedValue({ $0 }) { kill(-pid, SIGKILL) }
    }

    /// Exactly the CGI-style variables, the endpoint's `env` and `pass_env`, and nothing else.
    func environment(for request: WebSocketRequest) -> [String: String] {
        var variables: [String: String] = [
            "GATEWAY_INTERFACE": "websocketd-CGI/0.1",
            "SERVER_SOFTWARE": "wsgate",
            "REQUEST_METHOD": "GET",
            "REMOTE_ADDR": request.remoteAddress ?? "",
            "REMOTE_HOST": request.remoteAddress ?? "",
            "REMOTE_PORT": request.remotePort.map(String.init) ?? "",
            "REQUEST_URI": request.query.isEmpty ? request.path : "\(request.path)?\(request.query)",
            "SCRIPT_NAME": path,
            "PATH_INFO": request.path,
            "QUERY_STRING": request.query,
        ]
        if let host = request.header("Host") {
            let parts = host.split(separator: ":", maxSplits: 1)
            variables["SERVER_NAME"] = parts.first.map(String.init) ?? host
            variables["SERVER_PORT"] = parts.count > 1 ? String(parts[1]) : ""
        }
        for (name, value) in request.headers {
            // Never `Proxy` (httpoxy) nor a name that could pose as another header: see CGIHeaderName.
            guard let key = CGIHeaderName.variable(forHeader: name) else { continue }
            variables[key] = variables[key].map { "\($0), \(value)" } ?? value
        }
        variables.merge(added) { _, added in added }
        // A verified token: `WSGATE_CLAIM_<NAME>` for its string and number claims, `{claims.NAME}` in `env`.
        if let claims = request.claims {
            variables.merge(claims.environment) { _, claim in claim }
            for (name, value) in settings.environment where value.contains("{claims.") {
                variables[name] = Template(value).render { claims.field($0) }
            }
        }
        return variables
    }
}

/// Splits a byte stream into lines ("\n", with a "\r" before it dropped); a line longer than
/// `maxLength` is cut into pieces of that length. Lines are slices of the chunks they came in when they
/// fit in one, so most lines cost no copy.
struct LineSplitter {
    let maxLength: Int
    /// The start of a line whose end has not come yet (always shorter than `maxLength`).
    private var pending = ByteBuffer()

    init(maxLength: Int) {
        self.maxLength = max(1, maxLength)
    }

    mutating func append(_ chunk: ByteBuffer) -> [ByteBuffer] {
        var chunk = chunk
        var lines: [ByteBuffer] = []
        while chunk.readableBytes > 0 {
            let view = chunk.readableBytesView
            let newline = view.firstIndex(of: 0x0A)
            let length = (newline ?? view.endIndex) - view.startIndex
            // Take at most what fits in the current line.
            let room = maxLength - pending.readableBytes
            if length > room {
                guard var piece = chunk.readSlice(length: room) else { break }
                lines.append(takeLine(with: &piece))
                continue
            }
            guard newline != nil else {
                pending.writeBuffer(&chunk)
                break
            }
            guard var piece = chunk.readSlice(length: length) else { break }
            chunk.moveReaderIndex(forwardBy: 1)
            var line = takeLine(with: &piece)
            if line.readableBytesView.last == 0x0D { line.moveWriterIndex(to: line.writerIndex - 1) }
            lines.append(line)
        }
        return lines
    }

    /// The last line when the stream ended without "\n".
    mutating func finishBuffer() -> ByteBuffer? {
        guard pending.readableBytes > 0 else { return nil }
        defer { pending = ByteBuffer() }
        return pending
    }

    /// `pending` followed by `piece`, as one line; `pending` is empty afterwards.
    private mutating func takeLine(with piece: inout ByteBuffer) -> ByteBuffer {
        guard pending.readableBytes > 0 else { return piece }
        var line = pending
        line.writeBuffer(&piece)
        pending = ByteBuffer()
        return line
    }
}
