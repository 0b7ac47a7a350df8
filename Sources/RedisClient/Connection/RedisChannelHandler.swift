import NIOCore

/// A message published to a channel the subscriber listens to.
public struct RedisPubSubMessage: Sendable, Equatable {
    /// The channel it was published to.
    public var channel: String
    /// The pattern that matched, for `PSUBSCRIBE`; nil for `SUBSCRIBE`.
    public var pattern: String?
    /// The message, as published.
    public var payload: ByteBuffer

    /// A message from its parts.
    public init(channel: String, pattern: String? = nil, payload: ByteBuffer) {
        self.channel = channel
        self.pattern = pattern
        self.payload = payload
    }
}

/// A command on its way to the handler, with what completes when its answer arrives.
struct RedisRequest: Sendable {
    enum Answer: Sendable {
        /// One reply.
        case reply
        /// `(P)SUBSCRIBE` / `(P)UNSUBSCRIBE`: one confirmation per channel (or one error reply).
        case confirmations(Int)
    }

    var command: RedisCommand
    var answer: Answer
    var promise: EventLoopPromise<RESPValue>
    /// For `EVALSHA`: the `EVAL` that replaces it when the server answers `NOSCRIPT` (see
    /// ``RedisChannelHandler``).
    var fallback: RedisCommand?

    init(
        command: RedisCommand,
        answer: Answer,
        promise: EventLoopPromise<RESPValue>,
        fallback: RedisCommand? = nil
    ) {
        self.command = command
        self.answer = answer
        self.promise = promise
        self.fallback = fallback
    }
}

/// Writes commands and matches the replies to them in order (RESP has no request ids: the n-th
/// reply answers the n-th command), on one connection.
///
/// Any number of commands may be in flight (pipelining). Flushes are coalesced: a flush is
/// forwarded once per event loop task, so commands written by many callers at once go out in one
/// write. On a subscriber connection (`onMessage` set) pushed messages bypass the queue and
/// subscription confirmations complete the `(P)(UN)SUBSCRIBE` that asked for them.
///
/// A command that has waited `commandTimeout` for its reply fails, with every command behind it (their
/// replies would come after it), and the connection closes so that its owner reconnects: a Redis that
/// hangs never holds a caller longer than that.
///
/// A request with a `fallback` (`EVALSHA` with its `EVAL`) that gets `NOSCRIPT` is sent again as its
/// fallback, and so is, at once and in order, every fallback request already sent behind it: they
/// reached Redis before the script could be back, so they get `NOSCRIPT` too (their replies are
/// ignored), and nothing sent later can run before them. Scripts whose SHA-1 only this connection
/// loads (a nonce in the source) get that guarantee whatever other clients do.
///
/// Confined to its channel's event loop, as every channel handler.
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Waiting {
        var remaining: Int
        /// Nil once the request was sent again as its fallback: this reply is for nobody.
        var promise: EventLoopPromise<RESPValue>?
        var name: String
        var fallback: RedisCommand?
        var sentAt: NIODeadline
    }

    private var parser: RESPParser
    private var waiting = CircularBuffer<Waiting>(initialCapacity: 64)
    private let address: String
    private let onMessage: (@Sendable (RedisPubSubMessage) -> Void)?
    private let commandTimeout: TimeAmount?
    private var timer: Scheduled<Void>?
    private var closed = false
    private var flushScheduled = false

    /// A handler for the server at `address`; `commandTimeout` nil waits for replies for ever.
    init(
        address: String,
        maxReplySize: Int,
        commandTimeout: TimeAmount? = nil,
        onMessage: (@Sendable (RedisPubSubMessage) -> Void)? = nil
    ) {
        self.address = address
        self.parser = RESPParser(maxReplySize: maxReplySize)
        self.commandTimeout = commandTimeout
        self.onMessage = onMessage
    }

    /// Commands waiting for their answer.
    var inFlight: Int { waiting.count }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard !closed else {
            request.promise.fail(RedisClientError.connectionClosed(address: address))
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        let remaining: Int
        switch request.answer {
        case .reply: remaining = 1
        case .confirmations(let count): remaining = max(count, 1)
        }
        waiting.append(
            Waiting(
                remaining: remaining,
                promise: request.promise,
                name: request.command.name,
                fallback: request.fallback,
                sentAt: context.eventLoop.now
            )
        )
        armTimer(context)
        context.write(wrapOutboundOut(request.command.encoded), promise: promise)
    }

    /// Schedules the check of the oldest command's deadline, unless one is scheduled.
    private func armTimer(_ context: ChannelHandlerContext) {
        guard let commandTimeout, timer == nil, let oldest = waiting.first else { return }
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: oldest.sentAt + commandTimeout) {
            bound.value.handler.timer = nil
            bound.value.handler.checkDeadline(bound.value.context)
        }
    }

    private func checkDeadline(_ context: ChannelHandlerContext) {
        guard let commandTimeout, !closed, let oldest = waiting.first else { return }
        if oldest.sentAt + commandTimeout <= context.eventLoop.now {
            let after = Duration.nanoseconds(commandTimeout.nanoseconds)
            fail(context, RedisClientError.timedOut(address: address, command: oldest.name, after: after))
        } else {
            armTimer(context)
        }
    }

    func flush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            bound.value.handler.flushScheduled = false
            bound.value.context.flush()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        parser.append(unwrapInboundIn(data))
        do {
            while let value = try parser.next() {
                guard deliver(value, context: context) else {
                    fail(context, RedisClientError.protocolError(.invalid("a reply nobody asked for: \(value)")))
                    return
                }
            }
        } catch {
            fail(context, RedisClientError.protocolError(error))
        }
    }

    /// Hands a value to its waiter or, on a subscriber connection, to `onMessage`; false when no
    /// command waits for it.
    private func deliver(_ value: RESPValue, context: ChannelHandlerContext) -> Bool {
        if let onMessage, case .array(let items) = value, let kind = items.first?.bytes {
            switch (String(buffer: kind), items.count) {
            case ("message", 3):
                if let channel = items[1].string, let payload = items[2].bytes {
                    onMessage(RedisPubSubMessage(channel: channel, payload: payload))
                }
                return true
            case ("pmessage", 4):
                if let pattern = items[1].string, let channel = items[2].string, let payload = items[3].bytes {
                    onMessage(RedisPubSubMessage(channel: channel, pattern: pattern, payload: payload))
                }
                return true
            case ("subscribe", 3), ("unsubscribe", 3), ("psubscribe", 3), ("punsubscribe", 3):
                guard var first = waiting.first else { return true }  // e.g. a server-side unsubscribe
                first.remaining -= 1
                if first.remaining > 0 {
                    waiting[waiting.startIndex] = first
                } else {
                    waiting.removeFirst().promise?.succeed(value)
                }
                return true
            default:
                break
            }
        }
        guard let first = waiting.first else { return false }
        if first.fallback != nil, first.promise != nil, case .error(let message) = value,
            message.hasPrefix("NOSCRIPT")
        {
            sendFallbacks(context)
        }
        waiting.removeFirst().promise?.succeed(value)
        armTimer(context)
        return true
    }

    /// The first waiting request got `NOSCRIPT`: it and every fallback request behind it go again as
    /// their fallbacks, in order, in this event loop task (so nothing written later can come between).
    private func sendFallbacks(_ context: ChannelHandlerContext) {
        let now = context.eventLoop.now
        var resent: [Waiting] = []
        for index in waiting.indices {
            guard let fallback = waiting[index].fallback, let promise = waiting[index].promise else { continue }
            waiting[index].promise = nil
            resent.append(Waiting(remaining: 1, promise: promise, name: fallback.name, fallback: nil, sentAt: now))
            context.write(wrapOutboundOut(fallback.encoded), promise: nil)
        }
        waiting.append(contentsOf: resent)
        context.flush()
    }

    private func fail(_ context: ChannelHandlerContext, _ error: any Error) {
        failWaiting(error)
        context.close(promise: nil)
    }

    private func failWaiting(_ error: any Error) {
        closed = true
        timer?.cancel()
        timer = nil
        while let first = waiting.popFirst() { first.promise?.fail(error) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failWaiting(RedisClientError.connectionClosed(address: address))
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        failWaiting(RedisClientError.connectionClosed(address: address))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Usually TLS (an untrusted certificate) or a reset: say which, the close alone would not.
        fail(context, RedisClientError.connectionFailed(address: address, reason: "\(error)"))
    }
}
