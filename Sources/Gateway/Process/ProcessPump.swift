import GatewayConfig
import Logging
import NIOConcurrencyHelpers
import NIOCore
import WebSocketEngine

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs one child process from start to exit, for per-connection and shared processes alike: its
/// stdin and stdout on an event loop (``ChildProcess``), stdout turned into messages (``emit``), what
/// the feed gives written to stdin, stderr logged line by line.
///
/// - The feed ends (its client left, or the pump was cancelled): stdin gets EOF. After a client left:
///   SIGTERM to the process group after `grace`, SIGKILL after as long again. On cancellation (a shared
///   process stopping): SIGTERM at once, SIGKILL after `grace`. Signals stop once the child exited and its
///   output ended.
/// - The run ends when stdout ended and the child exited; the feed is then cancelled.
/// - Backpressure both ways: a feed write waits while the pipe is full; stdout is read no faster than
///   `emit` returns.
struct ProcessPump: Sendable {
    let mode: ProcessSettings.Mode
    /// The longest text line sent as one message (longer ones go in pieces).
    let maxMessageSize: Int
    let grace: Duration
    let logger: Logger

    /// The child's stdin, for a feed.
    struct Input: Sendable {
        let stdin: StdinPipe
        let mode: ProcessSettings.Mode

        /// Writes a client's message: in text mode a text message gets "\n" after it. Returns false once
        /// the child closed its stdin (stop feeding it; how it exits decides the close).
        func write(_ frame: Frame) async -> Bool {
            switch frame {
            case .text(let buffer) where mode == .text:
                return await stdin.write(buffer, newline: true)
            case .text(let buffer), .binary(let buffer):
                return await stdin.write(buffer, newline: false)
            case .close, .ping, .pong:
                return true
            }
        }

        /// Writes bytes as they are.
        func write(_ bytes: [UInt8]) async -> Bool {
            await stdin.write(ByteBuffer(bytes: bytes), newline: false)
        }
    }

    /// Starts `spec` on `loop` and runs it to its end; returns how it ended.
    /// - Parameters:
    ///   - started: called with the child's pid once it runs.
    ///   - ended: called with the same pid when the run ends, however it ends.
    ///   - feed: writes to stdin until its source ends; cancelled when the run ends.
    ///   - emit: sends one message made from stdout; returns when the next may be sent.
    /// - Throws: ``SpawnError`` when the child could not be started.
    func run(
        _ spec: ProcessSpec,
        on loop: any EventLoop,
        started: @Sendable (pid_t) -> Void = { _ in },
        ended: @Sendable (pid_t) -> Void = { _ in },
        feed: @escaping @Sendable (Input) async -> Void,
        emit: @escaping @Sendable (Frame) async -> Void
    ) async throws -> ProcessExit {
        let child = try await ChildProcess.spawn(spec, on: loop, logger: logger)
        started(child.pid)
        defer { ended(child.pid) }
        let escalation = Escalation(child: child, loop: loop, grace: grace)
        let mode = self.mode
        let logger = self.logger
        let maxLength = EngineLimits.effectiveMessageLimit(maxMessageSize)
        try? await child.stdout.executeThenClose { stdout in
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await feed(Input(stdin: child.stdin, mode: mode))
                    child.stdin.finish()
                    escalation.begin(now: Task.isCancelled)
                }
                // `unlimited` still bounds a line: at the largest message the engine holds, a line without
                // "\n" goes out in pieces instead of growing without end.
                var lines = LineSplitter(maxLength: maxLength)
                do {
                    for try await chunk in stdout {
                        if mode == .binary {
                            await emit(.binary(chunk))
                            continue
                        }
                        for line in lines.append(chunk) { await emit(Self.message(line)) }
                    }
                } catch {
                    logger.debug("stdout ended with an error", metadata: ["error": "\(error)"])
                }
                if let last = lines.finishBuffer() { await emit(Self.message(last)) }
                escalation.outputEnded()
                _ = try? await child.exit.get()
                group.cancelAll()
            }
        }
        let exit = try await child.exit.get()
        // A child gone before it read all its input: its stdin closes without waiting for the feed.
        child.stdin.channel.close(promise: nil)
        return exit
    }

    /// A stdout line as a message: text when it is UTF-8, else binary.
    static func message(_ line: ByteBuffer) -> Frame {
        UTF8Validator.isValid(line.readableBytesView) ? .text(line) : .binary(line)
    }
}

/// SIGTERM, then SIGKILL, to a child's process group once its feed ended, until it exited and its output
/// ended (with both, the group may be gone and its id reused, so no signal is sent after that).
private final class Escalation: Sendable {
    private struct State {
        var exited = false
        var outputEnded = false
        var timers: [Scheduled<Void>] = []
        var done: Bool { exited && outputEnded }
    }

    private let child: ChildProcess
    private let loop: any EventLoop
    private let grace: TimeAmount
    private let state = NIOLockedValueBox(State())

    init(child: ChildProcess, loop: any EventLoop, grace: Duration) {
        self.child = child
        self.loop = loop
        self.grace = TimeAmount(grace)
        child.exit.whenComplete { [self] _ in update { $0.exited = true } }
    }

    func outputEnded() {
        update { $0.outputEnded = true }
    }

    /// `now`: SIGTERM at once and SIGKILL after the grace; else EOF first, SIGTERM after the grace,
    /// SIGKILL after another.
    func begin(now: Bool) {
        let steps: [(TimeAmount, Int32)] =
            now ? [(.zero, SIGTERM), (grace, SIGKILL)] : [(grace, SIGTERM), (grace + grace, SIGKILL)]
        for (delay, signal) in steps {
            let timer = loop.scheduleTask(in: delay) { [self] in
                if !state.withLockedValue({ $0.done }) { child.signalGroup(signal) }
            }
            let cancel = state.withLockedValue { state in
                state.timers.append(timer)
                return state.done
            }
            if cancel { timer.cancel() }
        }
    }

    private func update(_ change: (inout State) -> Void) {
        let timers = state.withLockedValue { state -> [Scheduled<Void>] in
            change(&state)
            guard state.done else { return [] }
            defer { state.timers.removeAll() }
            return state.timers
        }
        for timer in timers { timer.cancel() }
    }
}
