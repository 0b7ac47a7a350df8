import NIOCore

/// A rate: `perSecond` units on average, with bursts of up to `burst` units at once. wsgate uses it for
/// new connections (server-wide and per client address) and for the messages and bytes of a connection.
public struct RateLimit: Sendable, Equatable, CustomStringConvertible {
    /// Units per second on average; above zero (`1200/m` is 20).
    public var perSecond: Double
    /// Units allowed at once after a quiet period: the bucket's size. At least 1.
    public var burst: Double

    /// A rate of `perSecond` with a burst of `burst`; without one, the burst is one second's worth
    /// (at least 1).
    public init(perSecond: Double, burst: Double? = nil) {
        self.perSecond = perSecond
        self.burst = max(1, burst ?? perSecond.rounded(.up))
    }

    /// `20.0/s burst 40.0`.
    public var description: String { "\(perSecond)/s burst \(burst)" }
}

/// A token bucket (the rule behind nginx's `limit_req` and most API gateways): it holds up to `burst`
/// tokens, refills at `perSecond`, and each request takes some. Time comes in as an argument, so the
/// rule is tested without a clock.
///
/// A request larger than the whole bucket passes when the bucket is full and leaves it in debt (below
/// zero), so a single large message is not refused for ever; the debt is paid back at the same rate.
package struct TokenBucket: Sendable, Equatable {
    package let rate: RateLimit
    private var tokens: Double
    private var updated: NIODeadline

    /// A full bucket at `now`.
    package init(_ rate: RateLimit, now: NIODeadline) {
        self.rate = rate
        self.tokens = rate.burst
        self.updated = now
    }

    /// Tokens available at `now` (negative while in debt).
    package mutating func available(now: NIODeadline) -> Double {
        refill(now: now)
        return tokens
    }

    /// Whether `amount` could be taken at `now`, without taking it.
    package mutating func allows(_ amount: Double, now: NIODeadline) -> Bool {
        refill(now: now)
        return tokens >= amount || (amount > rate.burst && tokens >= rate.burst)
    }

    /// Takes `amount` tokens when they are there (see ``allows(_:now:)``); returns whether it did.
    package mutating func take(_ amount: Double = 1, now: NIODeadline) -> Bool {
        guard allows(amount, now: now) else { return false }
        tokens -= amount
        return true
    }

    /// Whether the bucket is full at `now`: it then holds no more than a fresh bucket (an idle entry of a
    /// table may be forgotten).
    package mutating func isFull(now: NIODeadline) -> Bool {
        refill(now: now)
        return tokens >= rate.burst
    }

    /// How long from `now` until `amount` tokens (at most a full bucket) are there: what a refusal's
    /// `Retry-After` says. Zero when they are there now.
    package mutating func wait(for amount: Double = 1, now: NIODeadline) -> TimeAmount {
        refill(now: now)
        let missing = min(amount, rate.burst) - tokens
        guard missing > 0, rate.perSecond > 0 else { return .zero }
        let seconds = missing / rate.perSecond
        return .nanoseconds(Int64(min(seconds, 86_400) * 1e9))
    }

    private mutating func refill(now: NIODeadline) {
        guard now > updated else { return }
        let elapsed = Double((now - updated).nanoseconds) / 1e9
        tokens = min(rate.burst, tokens + elapsed * rate.perSecond)
        updated = now
    }
}
