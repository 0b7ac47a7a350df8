import NIOCore

/// How fast one connection may send messages: a token bucket for messages, one for bytes, or both, and
/// what happens to a message over the rate (`WebSocketOptions.rateLimit`).
public struct MessageRateLimit: Sendable, Equatable {
    /// What happens to a message over the rate.
    public enum Action: String, Sendable, Equatable, CaseIterable {
        /// Discard it (counted); the connection stays open.
        case drop
        /// Close the connection with 1008 (policy violation), "message rate limit exceeded".
        case close
    }

    /// Messages per second and their burst; nil: not limited.
    public var messages: RateLimit?
    /// Message payload bytes per second (after decompression) and their burst; nil: not limited.
    public var bytes: RateLimit?
    /// What happens to a message over either rate. Default drop.
    public var action: Action

    /// A limit; every argument is optional.
    public init(messages: RateLimit? = nil, bytes: RateLimit? = nil, action: Action = .drop) {
        self.messages = messages
        self.bytes = bytes
        self.action = action
    }
}

/// The message rate of one connection: both buckets must have room for a message to pass, and a
/// message that does not pass takes nothing from either.
package struct MessageRateLimiter: Sendable {
    private var messages: TokenBucket?
    private var bytes: TokenBucket?

    /// Full buckets at `now`.
    package init(_ limit: MessageRateLimit, now: NIODeadline) {
        messages = limit.messages.map { TokenBucket($0, now: now) }
        bytes = limit.bytes.map { TokenBucket($0, now: now) }
    }

    /// Whether a message of `size` payload bytes arriving at `now` is within the rate (it is then counted).
    package mutating func admit(size: Int, now: NIODeadline) -> Bool {
        if messages?.allows(1, now: now) == false { return false }
        if bytes?.allows(Double(size), now: now) == false { return false }
        _ = messages?.take(1, now: now)
        _ = bytes?.take(Double(size), now: now)
        return true
    }
}
