/// Exponential backoff between reconnection attempts: `initial`, doubling up to `maximum`, each
/// delay shortened by up to `jitter` (a fraction) so that many clients do not retry in step.
public struct ReconnectBackoff: Sendable, Equatable {
    /// The first delay (default 100 ms).
    public var initial: Duration
    /// The longest delay (default 5 s).
    public var maximum: Duration
    /// The fraction of each delay that may be taken off at random, 0 to 1 (default 0.2).
    public var jitter: Double
    /// Attempts since the last ``reset()``.
    public private(set) var attempts = 0

    /// A backoff with the given bounds.
    public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(5), jitter: Double = 0.2) {
        self.initial = max(initial, .milliseconds(1))
        self.maximum = max(maximum, self.initial)
        self.jitter = min(max(jitter, 0), 1)
    }

    /// The delay before the next attempt, which it counts.
    public mutating func nextDelay<Random: RandomNumberGenerator>(using random: inout Random) -> Duration {
        let doublings = min(attempts, 30)
        attempts += 1
        var delay = initial
        for _ in 0..<doublings where delay < maximum { delay = delay * 2 }
        delay = min(delay, maximum)
        guard jitter > 0 else { return delay }
        let keep = 1 - Double.random(in: 0...jitter, using: &random)
        return delay * keep
    }

    /// The delay before the next attempt, with the system's random numbers.
    public mutating func nextDelay() -> Duration {
        var random = SystemRandomNumberGenerator()
        return nextDelay(using: &random)
    }

    /// Starts again from `initial` (after a successful connection).
    public mutating func reset() { attempts = 0 }
}
