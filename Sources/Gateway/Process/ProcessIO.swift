import CoreMetrics
import Foundation
import GatewayConfig
import NIOCore
import WebSocketEngine

/// What per-connection and shared processes have in common: what they start (the run itself is
/// ``ProcessPump``'s).
enum ProcessIO {
    /// The program's absolute path and the folder it runs in; nil when it is not an executable file.
    static func executable(for settings: ProcessSettings) -> (path: String, folder: String)? {
        let folder = settings.workingDirectory ?? "."
        guard let program = settings.command.first,
            let path = ConfigLoader.resolveExecutable(program, workingDirectory: folder)
        else { return nil }
        return (path, folder)
    }

    /// What to start for `settings`, with exactly `variables` as its environment.
    static func spec(
        _ executable: (path: String, folder: String), _ settings: ProcessSettings, variables: [String: String]
    ) -> ProcessSpec {
        ProcessSpec(
            executable: executable.path,
            arguments: settings.command,
            environment: variables,
            directory: executable.folder)
    }

    /// `base` plus the endpoint's `pass_env` (from wsgate's own environment) and `env`.
    static func variables(_ base: [String: String], _ settings: ProcessSettings) -> [String: String] {
        base.merging(added(by: settings)) { _, added in added }
    }

    /// The endpoint's `pass_env` (from wsgate's own environment, read now) and `env`: what every process
    /// of the endpoint gets beyond its CGI variables. Read once per endpoint, not per session (reading
    /// wsgate's environment cost a twentieth of a short session).
    static func added(by settings: ProcessSettings) -> [String: String] {
        var variables: [String: String] = [:]
        let own = ProcessInfo.processInfo.environment
        for name in settings.passEnvironment { if let value = own[name] { variables[name] = value } }
        for (name, value) in settings.environment { variables[name] = value }
        return variables
    }

    /// A stdout line as a message: text when it is UTF-8, else binary.
    static func message(_ line: [UInt8]) -> Frame {
        ProcessPump.message(ByteBuffer(bytes: line))
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
    func ended(_ status: ProcessExit) {
        if status != .exited(0) { failed.increment() }
    }
}
