import CProcessSpawn
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a child process ended.
enum ProcessExit: Sendable, Equatable, CustomStringConvertible {
    /// It exited with this status.
    case exited(Int32)
    /// A signal ended it.
    case signaled(Int32)

    var description: String {
        switch self {
        case .exited(let code): "exited(\(code))"
        case .signaled(let signal): "signaled(\(signal))"
        }
    }

    /// From a `waitpid` status.
    init(waitStatus: Int32) {
        var value: Int32 = 0
        self = wsgate_exit_status(waitStatus, &value) != 0 ? .exited(value) : .signaled(value)
    }
}

/// What to start: a program, its arguments, exactly its environment and its folder.
struct ProcessSpec: Sendable, Equatable {
    /// The program's absolute path.
    var executable: String
    /// `argv[0]` and the rest, as the program sees them.
    var arguments: [String]
    /// Exactly these variables and no others.
    var environment: [String: String]
    /// Where it runs; nil: wsgate's own folder.
    var directory: String?
}

/// Why a child could not be started.
struct SpawnError: Error, CustomStringConvertible {
    let executable: String
    let errno: Int32

    var description: String { "cannot start \(executable): \(String(cString: strerror(errno)))" }
}

/// A started child: its stdout and stdin as channels on an event loop, its stderr logged line by line and
/// its exit learned on the reaper's one thread (not a thread per child).
///
/// The child leads its own session and process group (``signalGroup(_:)`` reaches its children too),
/// starts with every signal at its default disposition, and inherits no descriptor but 0, 1 and 2.
struct ChildProcess: Sendable {
    let pid: pid_t
    /// stdout, read no faster than it is consumed.
    let stdout: NIOAsyncChannel<ByteBuffer, Never>
    /// stdin.
    let stdin: StdinPipe
    /// Completes when the child has exited and was reaped.
    let exit: EventLoopFuture<ProcessExit>

    /// Sends `signal` to the child's process group (it and whatever it started).
    func signalGroup(_ signal: Int32) {
        _ = kill(-pid, signal)
    }

    /// Starts `spec` with its pipes on `loop`; its stderr lines go to `logger` at notice.
    static func spawn(_ spec: ProcessSpec, on loop: any EventLoop, logger: Logger) async throws -> ChildProcess {
        // [read, write] each: stdin (the child reads), stdout and stderr (the child writes).
        var descriptors: [Int32] = []
        func closeAll() { for descriptor in descriptors { _ = close(descriptor) } }
        for _ in 0..<3 {
            var ends: [Int32] = [-1, -1]
            let error = ends.withUnsafeMutableBufferPointer { wsgate_pipe($0.baseAddress) }
            guard error == 0 else {
                closeAll()
                throw SpawnError(executable: spec.executable, errno: error)
            }
            descriptors += ends
        }
        let (stdinRead, stdinWrite) = (descriptors[0], descriptors[1])
        let (stdoutRead, stdoutWrite) = (descriptors[2], descriptors[3])
        let (stderrRead, stderrWrite) = (descriptors[4], descriptors[5])

        var pid: pid_t = 0
        let error = withCStrings(spec.arguments) { argv in
            withCStrings(spec.environment.map { "\($0.key)=\($0.value)" }) { envp in
                wsgate_spawn(
                    &pid, spec.executable, argv, envp, spec.directory, stdinRead, stdoutWrite, stderrWrite)
            }
        }
        // The child's ends belong to the child now (or to nobody).
        for descriptor in [stdinRead, stdoutWrite, stderrWrite] { _ = close(descriptor) }
        guard error == 0 else {
            for descriptor in [stdinWrite, stdoutRead, stderrRead] { _ = close(descriptor) }
            throw SpawnError(executable: spec.executable, errno: error)
        }
        let exit = ChildReaper.shared.watch(pid, stderr: stderrRead, logger: logger, on: loop)

        let writer = StdinWriter()
        let stdinChannel: any Channel
        do {
            stdinChannel = try await NIOPipeBootstrap(group: loop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(writer) }
                }
                .takingOwnershipOfDescriptor(output: stdinWrite).get()
        } catch {
            // A failed bootstrap leaves the descriptors to us; the child is stopped and reaped.
            _ = close(stdinWrite)
            _ = close(stdoutRead)
            _ = kill(-pid, SIGKILL)
            throw error
        }
        do {
            let stdout = try await NIOPipeBootstrap(group: loop).takingOwnershipOfDescriptor(input: stdoutRead) {
                channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, Never>(wrappingChannelSynchronously: channel)
                }
            }
            return ChildProcess(
                pid: pid, stdout: stdout, stdin: StdinPipe(channel: stdinChannel, writer: writer), exit: exit)
        } catch {
            _ = close(stdoutRead)
            stdinChannel.close(promise: nil)
            _ = kill(-pid, SIGKILL)
            throw error
        }
    }
}

/// A child's stdin: writes go out together at the end of the event loop's turn (one `writev` for a burst
/// of messages, not one each), and a write waits while the pipe holds more than its high watermark.
struct StdinPipe: Sendable {
    let channel: any Channel
    fileprivate let writer: StdinWriter

    /// Writes `buffer` (and a "\n" after it when `newline`); returns false once the child's stdin is
    /// closed (it exited or closed it). A write that waits is ended by cancellation, which closes stdin.
    func write(_ buffer: ByteBuffer, newline: Bool) async -> Bool {
        let loop = channel.eventLoop
        let writer = self.writer
        let wait: EventLoopFuture<Bool>
        if loop.inEventLoop {
            guard let pending = writer.write(buffer, newline: newline) else { return !writer.isClosed }
            wait = pending
        } else {
            wait = loop.flatSubmit {
                writer.write(buffer, newline: newline) ?? loop.makeSucceededFuture(!writer.isClosed)
            }
        }
        let channel = self.channel
        return await withTaskCancellationHandler {
            (try? await wait.get()) ?? false
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    /// EOF for the child once what was written has gone out.
    func finish() {
        let writer = self.writer
        channel.eventLoop.execute { writer.finish() }
    }
}

/// The handler behind ``StdinPipe``. Every member is used on its channel's event loop only (``StdinPipe``
/// hops there), which is what makes it Sendable.
private final class StdinWriter: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private static let newline = ByteBuffer(integer: UInt8(0x0A))
    private var context: ChannelHandlerContext?
    private var waiting: [EventLoopPromise<Bool>] = []
    private var flushScheduled = false
    private(set) var isClosed = false

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        closed()
    }

    /// Writes now and flushes at the end of this turn of the loop; a future to wait on when the pipe is
    /// over its high watermark (true: writable again; false: closed), else nil.
    func write(_ buffer: ByteBuffer, newline: Bool) -> EventLoopFuture<Bool>? {
        guard let context, !isClosed else { return nil }
        context.write(wrapOutboundOut(buffer), promise: nil)
        if newline { context.write(wrapOutboundOut(Self.newline), promise: nil) }
        if !flushScheduled {
            flushScheduled = true
            context.eventLoop.execute { [self] in
                flushScheduled = false
                self.context?.flush()
            }
        }
        guard !context.channel.isWritable else { return nil }
        let promise = context.eventLoop.makePromise(of: Bool.self)
        waiting.append(promise)
        return promise.futureResult
    }

    func finish() {
        guard let context, !isClosed else { return }
        // Writes complete in order: once this empty one has, everything before it is in the pipe.
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: written)
        let channel = context.channel
        written.futureResult.whenComplete { _ in channel.close(promise: nil) }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { resume(true) }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A write to a child that closed its stdin (EPIPE): the channel closes; nothing more to write.
        context.close(promise: nil)
    }

    private func closed() {
        isClosed = true
        context = nil
        resume(false)
    }

    private func resume(_ value: Bool) {
        let promises = waiting
        waiting.removeAll()
        for promise in promises { promise.succeed(value) }
    }
}

/// Runs `body` with `strings` as a NULL-terminated array of C strings.
private func withCStrings<Result>(
    _ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>?) -> Result
) -> Result {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
}

/// Learns of every child's exit on one thread and logs the children's stderr there: a pidfd per child
/// and each stderr pipe in one epoll set on Linux (5.3 and later). Where pidfds are unavailable it polls
/// `waitpid` every 20 ms for the children it watches; without epoll (other systems) stderr is not read
/// but discarded by closing it. Each exit completes a promise on the loop that asked, after the child
/// was reaped.
final class ChildReaper: Sendable {
    static let shared = ChildReaper()

    private struct Watched {
        var pid: pid_t
        var promise: EventLoopPromise<ProcessExit>
    }

    private struct ErrorStream {
        var lines: LineSplitter
        var logger: Logger
    }

    private struct State {
        /// By pidfd.
        var watched: [Int32: Watched] = [:]
        /// Children without a pidfd, polled.
        var polled: [Watched] = []
        /// stderr pipes, by descriptor.
        var errors: [Int32: ErrorStream] = [:]
        var started = false
    }

    private let state = NIOLockedValueBox(State())
    /// The epoll set, or -1 where there is none.
    private let watcher: Int32
    /// Wakes the thread when a polled child is added.
    private let wakeup: Int32

    private init() {
        let watcher = wsgate_watcher_create()
        var wakeup: Int32 = -1
        if watcher >= 0 {
            wakeup = wsgate_eventfd()
            if wakeup >= 0 { _ = wsgate_watcher_add(watcher, wakeup) }
        }
        self.watcher = watcher
        self.wakeup = wakeup
    }

    /// A future that completes, on `loop`, once `pid` has exited and was reaped. `stderr` (the read end
    /// of its error pipe, which the reaper owns from now on) is logged to `logger` line by line.
    func watch(_ pid: pid_t, stderr: Int32, logger: Logger, on loop: any EventLoop) -> EventLoopFuture<ProcessExit> {
        let promise = loop.makePromise(of: ProcessExit.self)
        let pidfd = watcher >= 0 ? wsgate_pidfd_open(pid) : -1
        let startThread = state.withLockedValue { state in
            if pidfd >= 0 {
                state.watched[pidfd] = Watched(pid: pid, promise: promise)
            } else {
                state.polled.append(Watched(pid: pid, promise: promise))
            }
            state.errors[stderr] = ErrorStream(lines: LineSplitter(maxLength: 64 * 1024), logger: logger)
            defer { state.started = true }
            return !state.started
        }
        if watcher < 0 || wsgate_set_nonblocking(stderr) != 0 || wsgate_watcher_add(watcher, stderr) != 0 {
            _ = state.withLockedValue { $0.errors.removeValue(forKey: stderr) }
            _ = close(stderr)
        }
        if pidfd >= 0 {
            if wsgate_watcher_add(watcher, pidfd) != 0 {
                // Not watchable after all: poll it.
                state.withLockedValue { state in
                    if let entry = state.watched.removeValue(forKey: pidfd) { state.polled.append(entry) }
                }
                _ = close(pidfd)
                wake()
            }
        } else {
            wake()
        }
        if startThread {
            let thread = Thread { [self] in run() }
            thread.name = "wsgate-reaper"
            thread.start()
        }
        return promise.futureResult
    }

    private func wake() {
        guard wakeup >= 0 else { return }
        var one: UInt64 = 1
        _ = write(wakeup, &one, MemoryLayout<UInt64>.size)
    }

    private func run() {
        var ready = [Int32](repeating: -1, count: 64)
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let polling = state.withLockedValue { !$0.polled.isEmpty }
            let timeout: Int32 = polling || watcher < 0 ? 20 : -1
            let count: Int32
            if watcher >= 0 {
                count = ready.withUnsafeMutableBufferPointer {
                    wsgate_watcher_wait(watcher, $0.baseAddress, Int32($0.count), timeout)
                }
            } else {
                usleep(20_000)
                count = 0
            }
            for index in 0..<max(0, Int(count)) {
                let descriptor = ready[index]
                if descriptor == wakeup {
                    var value: UInt64 = 0
                    _ = read(wakeup, &value, MemoryLayout<UInt64>.size)
                } else if state.withLockedValue({ $0.errors[descriptor] != nil }) {
                    readErrors(descriptor, into: &chunk)
                } else if let entry = state.withLockedValue({ $0.watched[descriptor] }), let exit = reap(entry.pid) {
                    _ = state.withLockedValue { $0.watched.removeValue(forKey: descriptor) }
                    _ = wsgate_watcher_remove(watcher, descriptor)
                    _ = close(descriptor)
                    entry.promise.succeed(exit)
                }
            }
            if polling { reapPolled() }
        }
    }

    /// Reads what a stderr pipe holds and logs its whole lines; at its end, the rest, and lets it go.
    private func readErrors(_ descriptor: Int32, into chunk: inout [UInt8]) {
        var ended = false
        var received: [ByteBuffer] = []
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                received.append(ByteBuffer(bytes: chunk[0..<count]))
                continue
            }
            if count < 0 && errno == EINTR { continue }
            ended = count == 0 || errno != EAGAIN
            break
        }
        let (lines, logger) = state.withLockedValue { state -> ([ByteBuffer], Logger?) in
            guard var stream = state.errors[descriptor] else { return ([], nil) }
            var lines = received.flatMap { stream.lines.append($0) }
            if ended {
                if let last = stream.lines.finishBuffer() { lines.append(last) }
                state.errors.removeValue(forKey: descriptor)
            } else {
                state.errors[descriptor] = stream
            }
            return (lines, stream.logger)
        }
        for line in lines { logger?.notice("stderr: \(String(decoding: line.readableBytesView, as: UTF8.self))") }
        if ended {
            _ = wsgate_watcher_remove(watcher, descriptor)
            _ = close(descriptor)
        }
    }

    private func reapPolled() {
        let polled = state.withLockedValue { $0.polled }
        var ended: Set<pid_t> = []
        for entry in polled {
            if let exit = reap(entry.pid) {
                ended.insert(entry.pid)
                entry.promise.succeed(exit)
            }
        }
        if !ended.isEmpty {
            state.withLockedValue { $0.polled.removeAll { ended.contains($0.pid) } }
        }
    }

    /// Reaps `pid` when it has exited; nil while it runs. A child someone else reaped (ECHILD) counts as
    /// killed by SIGKILL, so its session still ends.
    private func reap(_ pid: pid_t) -> ProcessExit? {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { return ProcessExit(waitStatus: status) }
            if result == 0 { return nil }
            if errno == EINTR { continue }
            return .signaled(SIGKILL)
        }
    }
}
