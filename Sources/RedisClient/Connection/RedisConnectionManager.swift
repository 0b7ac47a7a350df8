import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What happened to a client's or subscriber's connection.
public enum RedisConnectionEvent: Sendable, Equatable {
    /// The connection was lost; commands fail with ``RedisClientError/notConnected(address:)`` until
    /// it is back. The reason is for logs.
    case disconnected(reason: String)
    /// A reconnection attempt failed; the next waits longer.
    case reconnectFailed(attempt: Int, reason: String)
    /// The connection is back, authenticated, with its database selected and, for a subscriber,
    /// every channel and pattern subscribed again. Messages published meanwhile were missed.
    case reconnected
}

/// One connection kept open: connect and authenticate, notice a loss, reconnect with backoff.
///
/// Shared by ``RedisClient`` and ``RedisSubscriber``. The current channel and the subscriber's
/// subscriptions sit behind one lock, and commands are queued to the channel's event loop while it
/// is held, so commands reach the wire in the order callers got the lock. Channel operations
/// never run under the lock (a synchronous close would re-enter it).
final class RedisConnectionManager: Sendable {
    struct Subscriptions: Sendable, Equatable {
        var channels: Set<String> = []
        var patterns: Set<String> = []
    }

    private struct State {
        var channel: (any Channel)?
        var closed = false
        var reconnecting = false
        var reconnectTask: Task<Void, Never>?
        var subscriptions = Subscriptions()
    }

    let configuration: RedisConfiguration
    private let group: any EventLoopGroup
    private let logger: Logger
    private let onMessage: (@Sendable (RedisPubSubMessage) -> Void)?
    private let state = NIOLockedValueBox(State())
    private let eventContinuation: AsyncStream<RedisConnectionEvent>.Continuation
    /// Connection events, newest kept when nobody reads them (at most 64).
    let events: AsyncStream<RedisConnectionEvent>

    init(
        configuration: RedisConfiguration,
        group: any EventLoopGroup,
        logger: Logger,
        onMessage: (@Sendable (RedisPubSubMessage) -> Void)?
    ) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        self.onMessage = onMessage
        (events, eventContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(64))
    }

    var isConnected: Bool { state.withLockedValue { $0.channel != nil } }

    var subscriptions: Subscriptions { state.withLockedValue { $0.subscriptions } }

    /// Connects for the first time; throws what went wrong, and then there is no reconnecting.
    func start() async throws {
        let channel = try await openChannel()
        guard activate(channel) else {
            try? await channel.close()
            throw RedisClientError.closed
        }
    }

    /// Queues requests on the current connection's event loop, under the lock so that requests
    /// from concurrent callers keep the order in which they got it.
    func submit(_ make: (any EventLoop) -> [RedisRequest]) throws(RedisClientError) {
        let queued: Result<Void, RedisClientError> = state.withLockedValue { state in
            guard !state.closed else { return .failure(.closed) }
            guard let channel = state.channel else { return .failure(.notConnected(address: configuration.address)) }
            Self.write(make(channel.eventLoop), to: channel, address: configuration.address)
            return .success(())
        }
        try queued.get()
    }

    /// Changes the subscriptions and, when connected, queues the command that applies them;
    /// returns its future, or nil when disconnected (the change applies on reconnection).
    func changeSubscriptions(
        _ change: (inout Subscriptions) -> RedisCommand?,
        confirmations: Int
    ) throws(RedisClientError) -> EventLoopFuture<RESPValue>? {
        let queued: Result<EventLoopFuture<RESPValue>?, RedisClientError> = state.withLockedValue { state in
            guard !state.closed else { return .failure(.closed) }
            guard let command = change(&state.subscriptions), let channel = state.channel else { return .success(nil) }
            let promise = channel.eventLoop.makePromise(of: RESPValue.self)
            Self.write(
                [RedisRequest(command: command, answer: .confirmations(confirmations), promise: promise)], to: channel,
                address: configuration.address)
            return .success(promise.futureResult)
        }
        return try queued.get()
    }

    private static func write(_ requests: [RedisRequest], to channel: any Channel, address: String) {
        channel.eventLoop.execute {
            // A closed channel's pipeline no longer reaches the handler that would fail them.
            guard channel.isActive else {
                for request in requests { request.promise.fail(RedisClientError.connectionClosed(address: address)) }
                return
            }
            for request in requests { channel.write(request, promise: nil) }
            channel.flush()
        }
    }

    /// Closes the connection and stops reconnecting; waiting commands fail with `connectionClosed`.
    func close() async {
        let (channel, task) = state.withLockedValue { state -> ((any Channel)?, Task<Void, Never>?) in
            state.closed = true
            defer {
                state.channel = nil
                state.reconnectTask = nil
            }
            return (state.channel, state.reconnectTask)
        }
        task?.cancel()
        eventContinuation.finish()
        try? await channel?.close()
    }

    /// Makes `channel` current (and resubscribes on it); false when the manager was closed.
    /// `subscribed` completes once Redis confirmed the resubscriptions (or failed them).
    private func activate(_ channel: any Channel, subscribed: EventLoopPromise<Void>? = nil) -> Bool {
        let active = state.withLockedValue { state -> Bool in
            guard !state.closed else { return false }
            state.channel = channel
            state.reconnecting = false
            state.reconnectTask = nil
            var requests: [RedisRequest] = []
            let subscriptions = state.subscriptions
            for (name, items) in [("SUBSCRIBE", subscriptions.channels), ("PSUBSCRIBE", subscriptions.patterns)]
            where !items.isEmpty {
                requests.append(
                    RedisRequest(
                        command: RedisCommand(name, arguments: items.sorted()),
                        answer: .confirmations(items.count),
                        promise: channel.eventLoop.makePromise()
                    )
                )
            }
            if let subscribed {
                EventLoopFuture.andAllComplete(requests.map(\.promise.futureResult), on: channel.eventLoop)
                    .cascade(to: subscribed)
            }
            if !requests.isEmpty { Self.write(requests, to: channel, address: configuration.address) }
            return true
        }
        if active {
            channel.closeFuture.whenComplete { _ in self.lost(channel) }
        }
        return active
    }

    /// The channel closed: unless the owner closed it, reconnect.
    private func lost(_ channel: any Channel) {
        let reconnect = state.withLockedValue { state -> Bool in
            guard let current = state.channel, current === channel else { return false }
            state.channel = nil
            guard !state.closed, !state.reconnecting else { return false }
            state.reconnecting = true
            return true
        }
        guard reconnect else { return }
        logger.warning("lost the connection to Redis", metadata: ["address": "\(configuration.address)"])
        eventContinuation.yield(.disconnected(reason: "connection closed"))
        let task = Task { await self.reconnect() }
        let closed = state.withLockedValue { state in
            if !state.closed { state.reconnectTask = task }
            return state.closed
        }
        if closed { task.cancel() }
    }

    private func reconnect() async {
        var backoff = configuration.backoff
        // The first attempt is at once: a connection that Redis closed (CLIENT KILL, an output-buffer
        // limit, a timeout) while the server stays up is back within a round trip, so a subscriber
        // misses only what its room's stream still holds. Backoff applies from the first failure on.
        var first = true
        while !state.withLockedValue({ $0.closed }) {
            if !first { try? await Task.sleep(for: backoff.nextDelay()) }
            first = false
            if Task.isCancelled { return }
            do {
                let channel = try await openChannel()
                let subscribed = channel.eventLoop.makePromise(of: Void.self)
                if activate(channel, subscribed: subscribed) {
                    // Announced once the subscriptions hold again: whoever catches up on `.reconnected`
                    // then misses nothing published between its catch-up and the subscription.
                    try? await subscribed.futureResult.get()
                    logger.info("reconnected to Redis", metadata: ["address": "\(configuration.address)"])
                    eventContinuation.yield(.reconnected)
                } else {
                    subscribed.succeed()
                    try? await channel.close()
                }
                return
            } catch {
                logger.debug(
                    "reconnecting to Redis failed",
                    metadata: ["address": "\(configuration.address)", "attempt": "\(backoff.attempts)"]
                )
                eventContinuation.yield(.reconnectFailed(attempt: backoff.attempts, reason: "\(error)"))
            }
        }
    }

    /// A new connection, authenticated and with its database selected.
    private func openChannel() async throws -> any Channel {
        let configuration = configuration
        let onMessage = onMessage
        let address = configuration.address
        let sslContext = try configuration.tls.map { try NIOSSLContext(configuration: $0) }
        let tlsReady = NIOLockedValueBox<EventLoopFuture<Void>?>(nil)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(Self.timeAmount(configuration.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        let serverName = configuration.host.isIPAddress ? nil : configuration.host
                        let waiter = TLSHandshakeWaiter(promise: channel.eventLoop.makePromise())
                        tlsReady.withLockedValue { $0 = waiter.promise.futureResult }
                        try channel.pipeline.syncOperations.addHandlers(
                            NIOSSLClientHandler(context: sslContext, serverHostname: serverName),
                            waiter
                        )
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        RedisChannelHandler(
                            address: address,
                            maxReplySize: configuration.maxReplySize,
                            commandTimeout: configuration.commandTimeout.map(Self.timeAmount),
                            onMessage: onMessage
                        )
                    )
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        } catch {
            throw RedisClientError.connectionFailed(address: address, reason: Self.describe(error))
        }
        if sslContext != nil {
            // Wait for TLS first, so that a refused certificate is reported as such.
            do {
                try await tlsReady.withLockedValue { $0 }?.get()
            } catch {
                try? await channel.close()
                throw RedisClientError.connectionFailed(address: address, reason: "TLS: \(error)")
            }
        }
        // A server that accepts and never answers (not Redis, or stuck) must not hang the caller.
        let timedOut = Atomic<Bool>(false)
        let timer = channel.eventLoop.scheduleTask(in: Self.timeAmount(configuration.connectTimeout)) {
            timedOut.store(true, ordering: .relaxed)
            channel.close(promise: nil)
        }
        do {
            try await handshake(channel)
            timer.cancel()
            return channel
        } catch {
            timer.cancel()
            try? await channel.close()
            if timedOut.load(ordering: .relaxed) {
                throw RedisClientError.connectionFailed(
                    address: address,
                    reason: "no answer to AUTH/PING within \(configuration.connectTimeout)"
                )
            }
            throw error
        }
    }

    /// `AUTH`, a `PING` that proves the connection works (and catches `NOAUTH`), `SELECT`.
    private func handshake(_ channel: any Channel) async throws {
        let address = configuration.address
        if let password = configuration.password {
            let auth =
                configuration.username.map { RedisCommand("AUTH", $0, password) } ?? RedisCommand("AUTH", password)
            if case .error(let message) = try await Self.send(auth, on: channel, address: address) {
                throw RedisClientError.authenticationFailed(address: address, message: message)
            }
        }
        if case .error(let message) = try await Self.send(RedisCommand("PING"), on: channel, address: address) {
            if message.hasPrefix("NOAUTH") { throw RedisClientError.authenticationRequired(address: address) }
            throw RedisClientError.reply(command: "PING", message: message)
        }
        if configuration.database != 0, onMessage == nil {
            if case .error(let message) = try await Self.send(
                RedisCommand("SELECT", configuration.database), on: channel, address: address)
            {
                throw RedisClientError.reply(command: "SELECT \(configuration.database)", message: message)
            }
        }
    }

    private static func send(_ command: RedisCommand, on channel: any Channel, address: String) async throws
        -> RESPValue
    {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        write([RedisRequest(command: command, answer: .reply, promise: promise)], to: channel, address: address)
        return try await promise.futureResult.get()
    }

    private static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        let nanoseconds = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !nanoseconds.overflow else { return .hours(1) }
        return .nanoseconds(max(nanoseconds.partialValue + attoseconds / 1_000_000_000, 1))
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? ChannelError, case .connectTimeout = error { return "connection timed out" }
        if let error = error as? NIOConnectionError {
            // One failure per address tried; the last says the most (e.g. "Connection refused").
            if let failure = error.connectionErrors.last { return describe(failure.error) }
            if let dns = error.dnsAAAAError ?? error.dnsAError { return "cannot resolve the host (\(dns))" }
        }
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        return "\(error)"
    }
}

extension String {
    /// True for a literal IPv4 or IPv6 address (no SNI is sent for those).
    fileprivate var isIPAddress: Bool {
        (try? SocketAddress(ipAddress: self, port: 0)) != nil
    }
}

/// Completes its promise when the TLS handshake has finished, or fails it with the reason it did not.
final class TLSHandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    let promise: EventLoopPromise<Void>

    init(promise: EventLoopPromise<Void>) {
        self.promise = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event { promise.succeed() }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        promise.fail(ChannelError.ioOnClosedChannel)
    }
}
