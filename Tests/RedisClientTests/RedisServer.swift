import Foundation
import NIOCore
import NIOPosix
import RedisClient
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A real `redis-server` on 127.0.0.1 and a free port, in a temporary directory, without
/// persistence; killed when the test ends. `scripts/setup-test-tools` installs the binary.
final class RedisServer: Sendable {
    /// The `redis-server` binary, if there is one on `PATH` (or in `REDIS_SERVER`).
    static let binary: String? = {
        if let explicit = ProcessInfo.processInfo.environment["REDIS_SERVER"] { return explicit }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") + ["/usr/bin", "/usr/local/bin"] {
            let candidate = "\(directory)/redis-server"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }()

    static let missingMessage =
        "redis-server is not installed: run scripts/setup-test-tools (or apt-get install redis-server)"

    let port: Int
    let directory: URL
    let arguments: [String]
    private let process = Mutex<Process?>(nil)

    /// Starts a server with extra `redis-server` arguments (`["--requirepass", "pw"]`); with `tls`,
    /// it listens for TLS only, with a self-signed certificate for localhost (``certificatePath``).
    init(_ extra: [String] = [], tls: Bool = false) async throws {
        port = try await Self.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("wsgate-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var listen = ["--port", "\(port)"]
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
            listen = [
                "--port", "0", "--tls-port", "\(port)", "--tls-auth-clients", "no",
                "--tls-cert-file", directory.appendingPathComponent("tls.crt").path,
                "--tls-key-file", directory.appendingPathComponent("tls.key").path,
            ]
        }
        arguments =
            listen + [
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", directory.path, "--daemonize", "no", "--loglevel", "warning",
            ] + extra
        try await start()
    }

    /// The server's certificate, when it was started with `tls`.
    var certificatePath: String { directory.appendingPathComponent("tls.crt").path }

    /// Runs a tool from `PATH` and waits for it; throws when it fails.
    private static func run(_ tool: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "\(tool) failed")
    }

    var url: String { "redis://127.0.0.1:\(port)" }

    func configuration(_ path: String = "") throws -> RedisConfiguration {
        var configuration = try RedisConfiguration(url: url + path)
        // Fast retries, so reconnection tests do not wait long.
        configuration.backoff = ReconnectBackoff(initial: .milliseconds(20), maximum: .milliseconds(200))
        return configuration
    }

    /// Starts (or restarts) the server on the same port and waits until it accepts connections.
    func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(Self.binary, Comment(rawValue: Self.missingMessage)))
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.process.withLock { $0 = process }
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if await Self.accepts(port) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("redis-server on port \(port) did not start within 10 s")
    }

    /// SIGKILL: no goodbye to clients, as a crash.
    func kill() {
        guard let process = process.withLock({ $0.take() }) else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Kills the server and removes its directory.
    func stop() {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }

    private static func accepts(_ port: Int) async -> Bool {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port).get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }

    /// A port nothing listens on now (bound to port 0, then released).
    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(channel.localAddress?.port)
        try await channel.close()
        return port
    }
}

/// Runs `body` with a fresh server, stopped afterwards whatever happens.
func withRedisServer<T>(
    _ extra: [String] = [],
    _ body: (RedisServer) async throws -> T
) async throws -> T {
    let server = try await RedisServer(extra)
    defer { server.stop() }
    return try await body(server)
}

/// Waits until `condition` holds, checking every 20 ms, at most `timeout`.
func eventually(
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
func next<S: AsyncSequence & Sendable>(
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
