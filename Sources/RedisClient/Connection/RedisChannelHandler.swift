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
}

/// Writes commands and matches the replies to them in order (RESP has no request ids: the n-th
/// reply answers the n-th command), on one connection.
///
/// Any number of commands may be in flight (pipelining). Flushes are coalesced: a flush is
/// forwarded once per event loop task, so commands written by many callers at once go out in one
/// write. On a subscriber connection (`onMessage` set) pushed messages bypass the queue and
/// subscription confirmations complete the `(P)(UN)SUBSCRIBE` that asked for them.
///
/// Confined to its channel's event loop, as every channel handler.
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Waiting {
        var remaining: Int
        var promise: EventLoopPromise<RESPValue>
    }

    private var parser: RESPParser
    private var waiting = CircularBuffer<Waiting>(initialCapacity: 64)
    private let address: String
    private let onMessage: (@Sendable (RedisPubSubMessage) -> Void)?
    private var closed = false
    private var flushScheduled = false

    init(address: String, maxReplySize: Int, onMessage: (@Sendable (RedisPubSubMessage) -> Void)? = nil) {
        self.address = address
        self.parser = RESPParser(maxReplySize: maxReplySize)
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
        waiting.append(Waiting(remaining: remaining, promise: request.promise))
        context.write(wrapOutboundOut(request.command.encoded), promise: promise)
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
                guard deliver(value) else {
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
    private func deliver(_ value: RESPValue) -> Bool {
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
                    waiting.removeFirst().promise.succeed(value)
                }
                return true
            default:
                break
            }
        }
        guard let first = waiting.popFirst() else { return false }
        first.promise.succeed(value)
        return true
    }

    private func fail(_ context: ChannelHandlerContext, _ error: any Error) {
        failWaiting(error)
        context.close(promise: nil)
    }

    private func failWaiting(_ error: any Error) {
        closed = true
        while let first = waiting.popFirst() { first.promise.fail(error) }
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
