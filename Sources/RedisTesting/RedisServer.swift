import Foundation
import NIOCore
import NIOPosix
import RedisClient
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Why a test server could not be started.
public struct RedisServerError: Error, CustomStringConvertible {
    /// What went wrong.
    public let description: String
}

/// A real `redis-server` on 127.0.0.1 and a free port, in a temporary directory, without
/// persistence; killed when the test ends (`stop()`, or when released). For tests of the Redis client
/// and the broker; `scripts/setup-test-tools` installs the binary.
public final class RedisServer: Sendable {
    /// The `redis-server` binary, if there is one on `PATH` (or in `REDIS_SERVER`).
    public static let binary: String? = {
        if let explicit = ProcessInfo.processInfo.environment["REDIS_SERVER"] { return explicit }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") + ["/usr/bin", "/usr/local/bin"] {
            let candidate = "\(directory)/redis-server"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }()

    /// Why tests that need the binary fail when it is missing (they fail rather than skip, so that a
    /// machine without it cannot pass them unseen).
    public static let missingMessage =
        "redis-server is not installed, and the Redis tests need a real one: run scripts/setup-test-tools "
        + "(it runs apt-get install redis-server), or set REDIS_SERVER=/path/to/redis-server"

    /// The port it listens on (the TLS port when started with `tls`).
    public var port: Int { state.withLock { $0.port } }
    /// Its working directory.
    public let directory: URL
    private let tls: Bool
    private let extra: [String]
    private let state: Mutex<(port: Int, process: Process?)>

    /// Starts a server with extra `redis-server` arguments (`["--requirepass", "pw"]`); with `tls`,
    /// it listens for TLS only, with a self-signed certificate for localhost (``certificatePath``).
    ///
    /// The port is one nothing listened on a moment before; when another process takes it first, the
    /// server cannot bind and exits, and it is started again on another port (at most five times).
    public init(_ extra: [String] = [], tls: Bool = false) async throws {
        self.extra = extra
        self.tls = tls
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("wsgate-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if tls {
            try Self.run(
                "openssl",
                [
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", directory.appendingPathComponent("tls.key").path,
                    "-out", directory.appendingPathComponent("tls.crt").path,
                ]
            )
        }
        state = Mutex((port: 0, process: nil))
        var lastError: Error = RedisServerError(description: "redis-server did not start")
        for _ in 0..<5 {
            let port = try await Self.freePort()
            state.withLock { $0.port = port }
            do {
                try await start()
                return
            } catch let error as PortTaken {
                lastError = error
            }
        }
        throw lastError
    }
    /// The server's certificate, when it was started with `tls`.
    public var certificatePath: String { directory.appendingPathComponent("tls.crt").path }

    /// Runs a tool from `PATH` and waits for it; throws when it fails.
    private static func run(_ tool: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw RedisServerError(description: "\(tool) failed") }
    }

    /// `redis://127.0.0.1:PORT`.
    public var url: String { "redis://127.0.0.1:\(port)" }

    /// A client configuration for it with fast reconnection; `path` is the URL's tail (`/3`).
    public func configuration(_ path: String = "") throws -> RedisConfiguration {
        var configuration = try RedisConfiguration(url: url + path)
        // Fast retries, so reconnection tests do not wait long; a patient first connection, so a
        // loaded machine (every suite at once) does not fail a test that is not about timeouts.
        configuration.backoff = ReconnectBackoff(initial: .milliseconds(20), maximum: .milliseconds(200))
        configuration.connectTimeout = .seconds(15)
        return configuration
    }

    /// The arguments for a server on `port`.
    private func arguments(port: Int) -> [String] {
        let listen =
            tls
            ? [
                "--port", "0", "--tls-port", "\(port)", "--tls-auth-clients", "no",
                "--tls-cert-file", directory.appendingPathComponent("tls.crt").path,
                "--tls-key-file", directory.appendingPathComponent("tls.key").path,
            ]
            : ["--port", "\(port)"]
        return listen + [
            "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", directory.path, "--daemonize", "no", "--loglevel", "warning",
        ] + extra
    }

    /// The server exited before it answered: most often another process holds its port.
    struct PortTaken: Error, CustomStringConvertible {
        let port: Int
        let status: Int32
        var description: String {
            "redis-server on port \(port) exited with status \(status) before it answered (is the port taken?)"
        }
    }

    /// Starts (or restarts) the server on the same port and waits until it answers: the process is
    /// still running and the port replies to PING as Redis does (a bare TCP accept could be another
    /// process that holds the port).
    public func start() async throws {
        let process = Process()
        guard let binary = Self.binary else { throw RedisServerError(description: Self.missingMessage) }
        let port = self.port
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments(port: port)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        state.withLock { $0.process = process }
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if !process.isRunning {
                state.withLock { $0.process = nil }
                throw PortTaken(port: port, status: process.terminationStatus)
            }
            if await Self.answers(port, tls: tls) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        kill()
        throw RedisServerError(description: "redis-server on port \(port) did not answer PING within 20 s")
    }

    /// SIGKILL: no goodbye to clients, as a crash.
    public func kill() {
        guard let process = state.withLock({ $0.process.take() }) else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        Glibc.kill(process.processIdentifier, SIGCONT)  // a paused server dies only once continued
        process.waitUntilExit()
    }

    /// SIGSTOP (`true`) or SIGCONT (`false`): a server that hangs with its connections open.
    public func pause(_ paused: Bool) {
        guard let pid = state.withLock({ $0.process?.processIdentifier }) else { return }
        Glibc.kill(pid, paused ? SIGSTOP : SIGCONT)
    }

    /// Kills the server and removes its directory.
    public func stop() {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }

    /// Whether `port` replies to a PING as Redis does (`+PONG`, or an error such as `-NOAUTH`). With
    /// TLS, an accepted connection is enough: the process check in `start()` tells ours from another.
    private static func answers(_ port: Int, tls: Bool) async -> Bool {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(1))
                .connect(host: "127.0.0.1", port: port).get()
            defer { channel.close(promise: nil) }
            if tls { return true }
            let promise = channel.eventLoop.makePromise(of: Bool.self)
            try await channel.pipeline.addHandler(FirstReply(promise: promise)).get()
            try await channel.writeAndFlush(ByteBuffer(string: "PING\r\n")).get()
            channel.eventLoop.scheduleTask(in: .seconds(1)) { promise.succeed(false) }
            return try await promise.futureResult.get()
        } catch {
            return false
        }
    }

    /// Completes with whether the first bytes read look like a RESP reply.
    private final class FirstReply: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<Bool>
        init(promise: EventLoopPromise<Bool>) { self.promise = promise }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let first = unwrapInboundIn(data).readableBytesView.first
            promise.succeed(first == UInt8(ascii: "+") || first == UInt8(ascii: "-"))
        }
        func channelInactive(context: ChannelHandlerContext) { promise.succeed(false) }
    }

    /// A port nothing listens on now (bound to port 0, then released).
    public static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0).get()
        guard let port = channel.localAddress?.port else { throw RedisServerError(description: "no local port") }
        try await channel.close()
        return port
    }
}

/// Runs `body` with a fresh server, stopped afterwards whatever happens.
public func withRedisServer<T>(
    _ extra: [String] = [],
    _ body: (RedisServer) async throws -> T
) async throws -> T {
    let server = try await RedisServer(extra)
    defer { server.stop() }
    return try await body(server)
}

/// Waits until `condition` holds, checking every 20 ms, at most `timeout`.
public func eventually(
    timeout: Duration = .seconds(10),
    _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return false
}

/// The next element of an async sequence, or nil after `timeout`.
public func next<S: AsyncSequence & Sendable>(
    _ sequence: S,
    timeout: Duration = .seconds(10)
) async -> S.Element? where S.Element: Sendable {
    await withTaskGroup(of: S.Element?.self) { group in
        group.addTask {
            var iterator = sequence.makeAsyncIterator()
            return try? await iterator.next()
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}
