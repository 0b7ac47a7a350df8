import CoreMetrics
import Foundation
import GatewayConfig
import Logging
import NIOCore
import Subprocess
import WebSocketEngine

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// What per-connection and shared processes have in common: how they are started and how their
/// pipes become messages and log lines.
enum ProcessIO {
    /// The program's absolute path and the folder it runs in; nil when it is not an executable file.
    static func executable(for settings: ProcessSettings) -> (path: FilePath, folder: FilePath)? {
        let folder = settings.workingDirectory ?? "."
        guard let program = settings.command.first,
            let path = ConfigLoader.resolveExecutable(program, workingDirectory: folder)
        else { return nil }
        return (FilePath(path), FilePath(folder))
    }

    /// A child in its own process group (signals reach its children too), stopped on cancellation
    /// with SIGTERM and, `grace` later, SIGKILL.
    static func platformOptions(grace: Duration) -> PlatformOptions {
        var options = PlatformOptions()
        options.processGroupID = 0
        options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: grace)]
        return options
    }

    /// Exactly these variables. Raw entries go to execve as C strings, so each ends with a NUL.
    static func environment(_ variables: [String: String]) -> Environment {
        .custom(variables.map { Array("\($0.key)=\($0.value)".utf8) + [0] })
    }

    /// `base` plus the endpoint's `pass_env` (from wsgate's own environment) and `env`.
    static func variables(_ base: [String: String], _ settings: ProcessSettings) -> [String: String] {
        var variables = base
        let own = ProcessInfo.processInfo.environment
        for name in settings.passEnvironment { if let value = own[name] { variables[name] = value } }
        for (name, value) in settings.environment { variables[name] = value }
        return variables
    }

    /// Turns stdout into messages: binary chunks as they come, or text lines (binary when a line is
    /// not valid UTF-8, in pieces of `maxMessageSize` when longer), a last line without "\n" included.
    static func forwardOutput(
        _ stream: SubprocessOutputSequence,
        mode: ProcessSettings.Mode,
        maxMessageSize: Int,
        emit: (Frame) async -> Void
    ) async throws {
        // `unlimited` still bounds a line: at the largest message the engine holds, a line without "\n"
        // goes out in pieces instead of growing without end.
        var lines = LineSplitter(maxLength: EngineLimits.effectiveMessageLimit(maxMessageSize))
        for try await chunk in stream {
            let bytes = chunk.withUnsafeBytes { Array($0) }
            if mode == .binary {
                await emit(.binary(ByteBuffer(bytes: bytes)))
                continue
            }
            for line in lines.append(bytes) { await emit(message(line)) }
        }
        if let last = lines.finish() { await emit(message(last)) }
    }

    /// Logs each stderr line.
    static func logLines(_ stream: SubprocessOutputSequence, logger: Logger) async throws {
        var lines = LineSplitter(maxLength: 64 * 1024)
        for try await chunk in stream {
            for line in lines.append(chunk.withUnsafeBytes { Array($0) }) {
                logger.notice("stderr: \(String(decoding: line, as: UTF8.self))")
            }
        }
        if let last = lines.finish() { logger.notice("stderr: \(String(decoding: last, as: UTF8.self))") }
    }

    /// A stdout line as a message: text when it is UTF-8, else binary.
    static func message(_ line: [UInt8]) -> Frame {
        UTF8Validator.isValid(line) ? .text(ByteBuffer(bytes: line)) : .binary(ByteBuffer(bytes: line))
    }
}

/// A process endpoint's metrics, through swift-metrics: `wsgate_processes_running{endpoint}`,
/// `wsgate_processes_spawned_total{endpoint}`, `wsgate_processes_failed_total{endpoint}` (could not start,
/// exited with a non-zero status, or was killed by a signal), `wsgate_process_input_dropped_total{endpoint}`
/// (a client's message for a shared process that was not running).
struct ProcessMetrics: Sendable {
    let running: Meter
    let spawned: Counter
    let failed: Counter
    let inputDropped: Counter

    init(endpoint: String) {
        let dimensions = [("endpoint", endpoint)]
        running = Meter(label: "wsgate_processes_running", dimensions: dimensions)
        spawned = Counter(label: "wsgate_processes_spawned_total", dimensions: dimensions)
        failed = Counter(label: "wsgate_processes_failed_total", dimensions: dimensions)
        inputDropped = Counter(label: "wsgate_process_input_dropped_total", dimensions: dimensions)
    }

    /// Counts a started process; decrement `running` when it is gone.
    func started() {
        spawned.increment()
        running.increment()
    }

    /// Counts a process that ended with a non-zero status or a signal as failed.
    func ended(_ status: TerminationStatus) {
        if status != .exited(0) { failed.increment() }
    }
}
