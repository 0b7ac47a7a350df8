import Foundation
import GatewayConfig
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Subprocess
import Synchronization
import WebSocketEngine

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

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
    private let found = NIOLockedValueBox<(path: FilePath, folder: FilePath)?>(nil)

    init(settings: ProcessSettings, path: String, maxMessageSize: Int, logger: Logger) {
        self.settings = settings
        self.path = path
        self.metrics = ProcessMetrics(endpoint: path)
        self.maxMessageSize = maxMessageSize
        self.logger = logger
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

    func handle(_ session: WebSocketSession) async throws {
        defer { running.subtract(1, ordering: .relaxed) }
        let id = nextID.add(1, ordering: .relaxed).newValue
        var connectionLogger = self.logger
        connectionLogger[metadataKey: "endpoint"] = "\(path)"
        connectionLogger[metadataKey: "connection"] = "\(id)"
        let logger = connectionLogger
        guard let (executable, folder) = executable() else {
            await session.close(CloseReason(.internalError, "the command cannot be started"))
            return
        }
        let settings = self.settings
        let maxMessageSize = self.maxMessageSize
        let metrics = self.metrics
        let live = self.live
        let status: TerminationStatus
        do {
            let result = try await run(
                .path(executable),
                arguments: Arguments(Array(settings.command.dropFirst())),
                environment: ProcessIO.environment(environment(for: session.request)),
                workingDirectory: folder,
                platformOptions: ProcessIO.platformOptions(grace: settings.closeGrace),
                input: .inputWriter,
                output: .sequence,
                error: .sequence
            ) { execution in
                metrics.started()
                let pid = execution.processIdentifier.value
                live.withLockedValue { _ = $0.insert(pid) }
                defer {
                    metrics.running.decrement()
                    live.withLockedValue { _ = $0.remove(pid) }
                }
                return try await withThrowingTaskGroup(of: Void.self) { group in
                    // Client → stdin; when the client is gone: EOF, then SIGTERM, then SIGKILL.
                    group.addTask {
                        let writer = execution.standardInputWriter
                        for await frame in session.incoming {
                            var bytes = frame.readBytes()
                            if settings.mode == .text, case .text = frame { bytes.append(0x0A) }
                            // A failed write means the process closed its stdin: stop feeding it; how it
                            // exits decides the close.
                            do { _ = try await writer.write(bytes) } catch { break }
                        }
                        try? await writer.finish()
                        try await Task.sleep(for: settings.closeGrace)
                        try? execution.send(signal: .terminate, toProcessGroup: true)
                        try await Task.sleep(for: settings.closeGrace)
                        try? execution.send(signal: .kill, toProcessGroup: true)
                    }
                    // stdout → client.
                    group.addTask {
                        try await ProcessIO.forwardOutput(
                            execution.standardOutput,
                            mode: settings.mode,
                            maxMessageSize: maxMessageSize
                        ) { frame in try? await session.send(frame) }
                    }
                    // stderr → log.
                    group.addTask { try await ProcessIO.logLines(execution.standardError, logger: logger) }
                    // Output and errors end when the process closes them (normally: exits); then stop
                    // waiting for the client.
                    _ = try await group.next()
                    _ = try await group.next()
                    group.cancelAll()
                }
            }
            status = result.terminationStatus
            metrics.ended(status)
        } catch {
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
    private func executable() -> (path: FilePath, folder: FilePath)? {
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
        return ProcessIO.variables(variables, settings)
    }
}

/// Splits a byte stream into lines ("\n", with a "\r" before it dropped); a line longer than
/// `maxLength` is cut into pieces of that length.
struct LineSplitter {
    let maxLength: Int
    private var pending: [UInt8] = []

    init(maxLength: Int) {
        self.maxLength = max(1, maxLength)
    }

    mutating func append(_ bytes: [UInt8]) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var rest = bytes[...]
        while !rest.isEmpty {
            let newline = rest.firstIndex(of: 0x0A)
            let end = newline ?? rest.endIndex
            // Take at most what fits in the current line.
            let room = maxLength - pending.count
            if end - rest.startIndex > room {
                pending.append(contentsOf: rest.prefix(room))
                lines.append(pending)
                pending.removeAll(keepingCapacity: true)
                rest = rest.dropFirst(room)
                continue
            }
            pending.append(contentsOf: rest[..<end])
            guard let newline else { break }
            if pending.last == 0x0D { pending.removeLast() }
            lines.append(pending)
            pending.removeAll(keepingCapacity: true)
            rest = rest[(newline + 1)...]
        }
        return lines
    }

    /// The last line when the stream ended without "\n".
    mutating func finish() -> [UInt8]? {
        defer { pending.removeAll() }
        return pending.isEmpty ? nil : pending
    }
}
