import NIOCore

/// What a connection has only while its WebSocket session is open: the options and extensions it opened
/// with, the protocol state machine, keep-alive and its timer, the message rate.
///
/// Made when the 101 is written (server) or read (client) and held by
/// ``WebSocketConnectionHandler/Phase/open(_:)``, so a connection that never opens a session, or has
/// closed, holds none of it. A class so the handler mutates the state machine in place. Confined to the
/// connection's event loop, like the handler.
final class OpenPhase {
    /// The endpoint's options (the client's, with masking on, on the client side), shared with the other
    /// sessions of the endpoint: a copy in every session cost about 150 bytes.
    let sharedOptions: SharedOptions
    /// The endpoint's options.
    var options: WebSocketOptions { sharedOptions.value }
    /// The negotiated extensions.
    let extensions: ExtensionPipeline
    /// How this session shares encodings of prepared messages; nil: it encodes its own.
    let sharedEncodingKey: String?
    /// RFC 6455: framing, assembly, the close handshake.
    var machine: ConnectionStateMachine
    /// Pings, pong timeout, idle timeout.
    var keepAlive: KeepAlive
    var keepAliveTimer: Scheduled<Void>?
    /// The message rate of the session, when its endpoint limits it (boxed: an unlimited session holds
    /// one reference instead of two empty token buckets).
    var rateLimiter: Boxed<MessageRateLimiter>?
    /// Fan-out frames gathered since the last flush (``WebSocketConnectionHandler/uncork(context:)``).
    var corked: ByteBuffer?
    /// How many messages `corked` holds (counted in the metrics when it is written).
    var corkedMessages = 0
    /// Where received messages go: the session's `incoming`, until it ends or its consumer goes away.
    var source: WebSocketSession.Incoming.Producer.Source?
    /// Whether anyone iterates `incoming` (see ``ConnectionFlow/closeRequested(_:then:consumerIterating:)``).
    /// Made with `incoming` (a session driven on its loop has none).
    var consumption: Consumption?

    init(
        options sharedOptions: SharedOptions, extensions: ExtensionPipeline, role: FrameParser.Role, now: NIODeadline
    ) {
        let options = sharedOptions.value
        self.sharedOptions = sharedOptions
        self.extensions = extensions
        self.sharedEncodingKey = options.masking ? nil : extensions.sharedEncodingKey
        self.machine = ConnectionStateMachine(
            role: role,
            maxFrameSize: options.maxFrameSize,
            maxMessageSize: options.maxMessageSize,
            allowedReservedBits: extensions.reservedBits
        )
        self.keepAlive = KeepAlive(
            pingPeriod: TimeAmount(options.pingPeriod),
            timeout: TimeAmount(options.timeout),
            idleTimeout: TimeAmount(options.idleTimeout),
            now: now
        )
    }
}

/// An endpoint's ``WebSocketOptions``, made once per route and referenced by every session it opens.
final class SharedOptions: Sendable {
    let value: WebSocketOptions

    init(_ value: WebSocketOptions) {
        self.value = value
    }
}

/// A value kept by reference, so that an optional of it costs one pointer while absent.
final class Boxed<Value> {
    var value: Value

    init(_ value: Value) {
        self.value = value
    }
}
