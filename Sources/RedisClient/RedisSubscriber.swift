import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A Redis pub/sub subscriber on a connection of its own.
///
/// Messages to the subscribed channels and patterns arrive in ``messages`` in the order Redis sent
/// them. The subscriber remembers its subscriptions: after a lost connection (a Redis restart,
/// `CLIENT KILL TYPE pubsub`) it reconnects with backoff, subscribes to all of them again and then
/// reports ``RedisConnectionEvent/reconnected`` in ``events`` — messages published meanwhile were
/// missed, so that is the moment to catch up from a durable source (a stream).
///
/// ```swift
/// let subscriber = try await RedisSubscriber.connect(to: configuration)
/// try await subscriber.subscribe(to: ["room:lobby"])
/// for await message in subscriber.messages { … }
/// ```
public final class RedisSubscriber: Sendable {
    /// The default ``messages`` buffer: 100,000 messages.
    public static let defaultBufferSize = 100_000

    private let manager: RedisConnectionManager
    private let dropped: DropCounter
    /// PINGs the server every ``RedisConfiguration/commandTimeout``, so that a server that stopped
    /// answering (hung, or gone without a reset) is noticed: the PING times out, the connection
    /// closes, and the subscriber reconnects and reports it.
    private let pinger: Task<Void, Never>?

    /// Messages received, in order. When the reader falls more than the buffer size behind, the
    /// newest messages are dropped (a gap the reader can fill from a stream). One reader.
    public let messages: AsyncStream<RedisPubSubMessage>
    private let messageContinuation: AsyncStream<RedisPubSubMessage>.Continuation

    /// Losses and returns of the connection (newest 64 kept while nobody reads). One reader.
    public var events: AsyncStream<RedisConnectionEvent> { manager.events }

    /// True while a connection is open.
    public var isConnected: Bool { manager.isConnected }

    /// Messages dropped so far because ``messages`` was full.
    public var droppedMessages: Int { dropped.count.load(ordering: .relaxed) }

    private init(
        manager: RedisConnectionManager,
        dropped: DropCounter,
        pinger: Task<Void, Never>?,
        messages: AsyncStream<RedisPubSubMessage>,
        continuation: AsyncStream<RedisPubSubMessage>.Continuation
    ) {
        self.manager = manager
        self.dropped = dropped
        self.pinger = pinger
        self.messages = messages
        self.messageContinuation = continuation
    }

    /// Connects and authenticates (see ``RedisClient/connect(to:eventLoopGroup:logger:)``);
    /// `bufferSize` bounds ``messages``, and `onDrop` is called (on the connection's event loop) for
    /// each message dropped because the buffer was full (also counted in ``droppedMessages``).
    public static func connect(
        to configuration: RedisConfiguration,
        bufferSize: Int = defaultBufferSize,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "wsgate.redis.subscriber"),
        onDrop: (@Sendable () -> Void)? = nil
    ) async throws -> RedisSubscriber {
        let (messages, continuation) = AsyncStream.makeStream(
            of: RedisPubSubMessage.self,
            bufferingPolicy: .bufferingOldest(max(bufferSize, 1))
        )
        let dropped = DropCounter()
        let manager = RedisConnectionManager(
            configuration: configuration,
            group: eventLoopGroup,
            logger: logger,
            onMessage: { message in
                if case .dropped = continuation.yield(message) {
                    dropped.count.add(1, ordering: .relaxed)
                    onDrop?()
                }
            }
        )
        do {
            try await manager.start()
        } catch {
            continuation.finish()
            throw error
        }
        let pinger = configuration.commandTimeout.map { interval in
            Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    // Ignored while reconnecting; unanswered, the handler's timeout closes the connection.
                    try? manager.submit { loop in
                        [RedisRequest(command: RedisCommand("PING"), answer: .reply, promise: loop.makePromise())]
                    }
                }
            }
        }
        return RedisSubscriber(
            manager: manager, dropped: dropped, pinger: pinger, messages: messages, continuation: continuation)
    }

    /// Subscribes to channels; returns once Redis confirmed them all (at once when disconnected:
    /// they are subscribed on reconnection).
    public func subscribe(to channels: [String]) async throws {
        try await change(channels, command: "SUBSCRIBE") { $0.channels.formUnion(channels) }
    }

    /// Unsubscribes from channels (see ``subscribe(to:)``).
    public func unsubscribe(from channels: [String]) async throws {
        try await change(channels, command: "UNSUBSCRIBE") { $0.channels.subtract(channels) }
    }

    /// Subscribes to glob-style patterns (`room:*`); messages carry the pattern that matched.
    public func psubscribe(to patterns: [String]) async throws {
        try await change(patterns, command: "PSUBSCRIBE") { $0.patterns.formUnion(patterns) }
    }

    /// Unsubscribes from patterns (see ``psubscribe(to:)``).
    public func punsubscribe(from patterns: [String]) async throws {
        try await change(patterns, command: "PUNSUBSCRIBE") { $0.patterns.subtract(patterns) }
    }

    /// The channels and patterns subscribed to (or to be subscribed on reconnection).
    public var subscriptions: (channels: Set<String>, patterns: Set<String>) {
        let current = manager.subscriptions
        return (current.channels, current.patterns)
    }

    /// Closes the connection, stops reconnecting and ends ``messages`` and ``events``.
    public func close() async {
        pinger?.cancel()
        await manager.close()
        messageContinuation.finish()
    }

    private func change(
        _ names: [String],
        command: String,
        _ update: @escaping (inout RedisConnectionManager.Subscriptions) -> Void
    ) async throws {
        guard !names.isEmpty else { return }
        let future = try manager.changeSubscriptions(
            { subscriptions in
                update(&subscriptions)
                return RedisCommand(command, arguments: names)
            },
            confirmations: names.count
        )
        guard let future else { return }
        if case .error(let message) = try await future.get() {
            throw RedisClientError.reply(command: command, message: message)
        }
    }
}

/// A count shared between the connection's event loop and readers.
final class DropCounter: Sendable {
    let count = Atomic<Int>(0)
}
