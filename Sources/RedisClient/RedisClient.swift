import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A Redis client on SwiftNIO: one pipelined connection, kept open.
///
/// `RedisClient` speaks RESP2 over TCP (or TLS for `rediss://`), authenticates (`AUTH password` or
/// `AUTH user password`), selects the database, and sends commands as they come: any number may
/// be in flight and each caller gets its own reply (replies come back in command order).
/// Commands from concurrent callers that arrive together go out in one write.
///
/// When the connection drops, commands in flight fail with
/// ``RedisClientError/connectionClosed(address:)`` (they may or may not have run), new ones fail at
/// once with ``RedisClientError/notConnected(address:)``, and the client reconnects with
/// exponential backoff (``RedisConfiguration/backoff``); ``events`` reports the loss and the
/// return. Scripts run with ``evaluate(_:keys:arguments:)``: `EVALSHA`, and `EVAL` when the server
/// has forgotten the script (`NOSCRIPT`, after a restart or `SCRIPT FLUSH`), without losing their
/// place in the order of commands. A command without a reply within
/// ``RedisConfiguration/commandTimeout`` fails with those behind it, and the client reconnects.
///
/// Pub/sub needs a connection of its own: ``RedisSubscriber``.
///
/// ```swift
/// let redis = try await RedisClient.connect(to: RedisConfiguration(url: "redis://localhost:6379/0"))
/// _ = try await redis.send("SET", "greeting", "hello")
/// let counts = try await redis.pipeline((0..<100).map { _ in RedisCommand("INCR", "n") })
/// await redis.close()
/// ```
public final class RedisClient: Sendable {
    private let manager: RedisConnectionManager
    private let scripts = NIOLockedValueBox<[String: String]>([:])

    /// The client's configuration.
    public var configuration: RedisConfiguration { manager.configuration }

    /// Losses and returns of the connection (newest 64 kept while nobody reads). One reader.
    public var events: AsyncStream<RedisConnectionEvent> { manager.events }

    /// True while a connection is open and ready.
    public var isConnected: Bool { manager.isConnected }

    private init(manager: RedisConnectionManager) {
        self.manager = manager
    }

    /// Connects, authenticates and selects the database; throws what went wrong
    /// (``RedisClientError/connectionFailed(address:reason:)``,
    /// ``RedisClientError/authenticationFailed(address:message:)``, …). Once connected, the client
    /// reconnects by itself until ``close()``.
    public static func connect(
        to configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "wsgate.redis")
    ) async throws -> RedisClient {
        let manager = RedisConnectionManager(
            configuration: configuration,
            group: eventLoopGroup,
            logger: logger,
            onMessage: nil
        )
        try await manager.start()
        return RedisClient(manager: manager)
    }

    /// Sends a command; an error reply throws ``RedisClientError/reply(command:message:)``.
    public func send(_ command: RedisCommand) async throws -> RESPValue {
        let reply = try await submit([command])[0].get()
        if case .error(let message) = reply { throw RedisClientError.reply(command: command.name, message: message) }
        return reply
    }

    /// Sends a command given by its name and arguments (see ``send(_:)-(RedisCommand)``).
    public func send(_ name: String, _ arguments: any RESPArgument...) async throws -> RESPValue {
        try await send(RedisCommand(name, arguments: arguments))
    }

    /// Sends the commands in one write and returns their replies in order; error replies are
    /// ``RESPValue/error(_:)`` values in place, not thrown.
    public func pipeline(_ commands: [RedisCommand]) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        var replies: [RESPValue] = []
        replies.reserveCapacity(commands.count)
        for future in try submit(commands) { replies.append(try await future.get()) }
        return replies
    }

    /// Queues a command at once, in call order, without waiting: commands queued by one caller
    /// reach Redis in the order of the calls. The future holds the reply (error replies as values).
    /// Throws ``RedisClientError/notConnected(address:)`` while reconnecting.
    public func enqueue(_ command: RedisCommand) throws(RedisClientError) -> EventLoopFuture<RESPValue> {
        try submit([command])[0]
    }

    /// The SHA-1 of a script, loaded into the server with `SCRIPT LOAD` the first time (then cached).
    public func load(_ script: RedisScript) async throws -> String {
        if let known = scripts.withLockedValue({ $0[script.source] }) { return known }
        guard let loaded = try await send(RedisCommand("SCRIPT", "LOAD", script.source)).string else {
            throw RedisClientError.reply(command: "SCRIPT LOAD", message: "no SHA-1 in the reply")
        }
        scripts.withLockedValue { $0[script.source] = loaded }
        return loaded
    }

    /// Publishes `message` to `channel`; returns how many subscribers received it.
    @discardableResult
    public func publish(_ message: some RESPArgument, to channel: String) async throws -> Int {
        Int(try await send(RedisCommand("PUBLISH", channel, message)).int ?? 0)
    }

    /// Runs a Lua script: `EVALSHA` with its SHA-1 (learned once with `SCRIPT LOAD`), then `EVAL`
    /// if the server answers `NOSCRIPT`. Error replies throw as in ``send(_:)-(RedisCommand)``.
    public func evaluate(
        _ script: RedisScript,
        keys: [any RESPArgument] = [],
        arguments: [any RESPArgument] = []
    ) async throws -> RESPValue {
        let sha = try await load(script)
        let reply = try await enqueueEvaluation(script, sha: sha, keys: keys, arguments: arguments).get()
        if case .error(let message) = reply { throw RedisClientError.reply(command: "EVALSHA", message: message) }
        return reply
    }

    /// Queues a script's `EVALSHA` at once, in call order, like ``enqueue(_:)``. When the server has
    /// forgotten the script (`NOSCRIPT`: a restart, `SCRIPT FLUSH`) it is sent again as `EVAL`, and so
    /// is every evaluation queued behind it that was already sent, in their order, before anything
    /// queued later: evaluations run in call order even then. `sha` is from ``load(_:)``. The future
    /// holds the reply (error replies as values).
    ///
    /// A script whose source only this client uses (say, with a random comment) keeps that order
    /// whatever other clients do; with a shared source another client's `EVAL` between two of this
    /// client's evaluations could let the second run first.
    public func enqueueEvaluation(
        _ script: RedisScript,
        sha: String,
        keys: [any RESPArgument] = [],
        arguments: [any RESPArgument] = []
    ) throws(RedisClientError) -> EventLoopFuture<RESPValue> {
        let tail: [any RESPArgument] = [keys.count] + keys + arguments
        var future: EventLoopFuture<RESPValue>?
        try manager.submit { loop in
            let promise = loop.makePromise(of: RESPValue.self)
            future = promise.futureResult
            return [
                RedisRequest(
                    command: RedisCommand("EVALSHA", arguments: [sha] + tail),
                    answer: .reply,
                    promise: promise,
                    fallback: RedisCommand("EVAL", arguments: [script.source] + tail)
                )
            ]
        }
        guard let future else { throw .closed }
        return future
    }

    /// Closes the connection and stops reconnecting; commands in flight fail.
    public func close() async {
        await manager.close()
    }

    private func submit(_ commands: [RedisCommand]) throws(RedisClientError) -> [EventLoopFuture<RESPValue>] {
        var futures: [EventLoopFuture<RESPValue>] = []
        futures.reserveCapacity(commands.count)
        try manager.submit { loop in
            commands.map { command in
                let promise = loop.makePromise(of: RESPValue.self)
                futures.append(promise.futureResult)
                return RedisRequest(command: command, answer: .reply, promise: promise)
            }
        }
        return futures
    }
}

/// A Lua script for ``RedisClient/evaluate(_:keys:arguments:)``.
public struct RedisScript: Sendable, Hashable {
    /// The Lua source.
    public let source: String

    /// A script from its Lua source.
    public init(_ source: String) {
        self.source = source
    }
}
