/// Per-endpoint protocol settings (Ktor's `WebSocketOptions`). The defaults are wsgate's defaults.
public struct WebSocketOptions: Sendable, Equatable {
    /// How often the server pings the client; `.zero` disables pings. Default 15 s.
    public var pingPeriod: Duration
    /// How long to wait for a pong (or for the client's close frame after ours) before closing the
    /// connection. A missing pong closes with 1011 ("no pong within …"). Default 15 s.
    public var timeout: Duration
    /// Close (1000) when no message arrives for this long; `.zero` disables it. Default off.
    public var idleTimeout: Duration
    /// Largest frame payload accepted, in bytes; a larger frame closes the connection with 1009. Default 1 MiB.
    public var maxFrameSize: Int
    /// Largest reassembled message accepted, in bytes; a larger one closes with 1009. Default 4 MiB.
    public var maxMessageSize: Int
    /// Mask the frames the server sends (Ktor parity). Browsers refuse masked server frames. Default false.
    public var masking: Bool
    /// Bytes that may wait to be sent to the client before `send` waits (and before ``WebSocketSession/offer(_:whenFull:counters:)``
    /// applies its policy). Default 1 MiB.
    public var maxQueuedBytes: Int
    /// Extensions offered to clients, in the order they are negotiated (Ktor's `extensions { install(…) }`).
    /// Default none.
    public var extensions: [any WebSocketExtensionFactory]
    /// How fast the client may send messages (messages and payload bytes per second, token buckets) and
    /// what happens to a message over the rate: dropped (counted) or the connection closed with 1008.
    /// Default nil (unlimited).
    public var rateLimit: MessageRateLimit?
    /// Most sessions of this endpoint open at once from one client address (the TCP peer's IP); beyond it
    /// the handshake gets HTTP 429 with `Retry-After: 1`. Default `Int.max` (unlimited).
    public var maxConnectionsPerAddress: Int

    /// Creates options; every argument has wsgate's default.
    public init(
        pingPeriod: Duration = .seconds(15),
        timeout: Duration = .seconds(15),
        idleTimeout: Duration = .zero,
        maxFrameSize: Int = 1 << 20,
        maxMessageSize: Int = 4 << 20,
        masking: Bool = false,
        maxQueuedBytes: Int = 1 << 20,
        extensions: [any WebSocketExtensionFactory] = [],
        rateLimit: MessageRateLimit? = nil,
        maxConnectionsPerAddress: Int = .max
    ) {
        self.pingPeriod = pingPeriod
        self.timeout = timeout
        self.idleTimeout = idleTimeout
        self.maxFrameSize = maxFrameSize
        self.maxMessageSize = maxMessageSize
        self.masking = masking
        self.maxQueuedBytes = maxQueuedBytes
        self.extensions = extensions
        self.rateLimit = rateLimit
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
    }

    /// Options are equal when their settings are equal and they list extensions of the same names.
    public static func == (lhs: WebSocketOptions, rhs: WebSocketOptions) -> Bool {
        lhs.pingPeriod == rhs.pingPeriod && lhs.timeout == rhs.timeout && lhs.idleTimeout == rhs.idleTimeout
            && lhs.maxFrameSize == rhs.maxFrameSize && lhs.maxMessageSize == rhs.maxMessageSize
            && lhs.masking == rhs.masking && lhs.maxQueuedBytes == rhs.maxQueuedBytes
            && lhs.extensions.map(\.name) == rhs.extensions.map(\.name) && lhs.rateLimit == rhs.rateLimit
            && lhs.maxConnectionsPerAddress == rhs.maxConnectionsPerAddress
    }
}
