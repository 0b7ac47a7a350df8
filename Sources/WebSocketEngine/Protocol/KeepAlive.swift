import NIOCore

/// The keep-alive rules of a session: a ping every `pingPeriod`, the connection closed when no pong
/// answers within `timeout`, and (optionally) when no message arrives within `idleTimeout`.
///
/// Time comes in as an argument, so the rules are tested without a clock or sleeps.
package struct KeepAlive: Sendable {
    package enum Action: Sendable, Equatable {
        case none
        /// Send a ping with this payload.
        case sendPing(ByteBuffer)
        /// No pong within the timeout: close the connection (wsgate uses 1011, as Ktor does).
        case closeForPongTimeout
        /// No message within the idle timeout: close the connection (1000).
        case closeForIdleTimeout
    }

    private let pingPeriod: TimeAmount
    private let timeout: TimeAmount
    private let idleTimeout: TimeAmount
    private var nextPing: NIODeadline?
    /// The oldest unanswered ping: its sequence number and when it expires.
    private var awaiting: (sequence: UInt64, deadline: NIODeadline)?
    private var sequence: UInt64 = 0
    private var lastActivity: NIODeadline

    /// `pingPeriod` or `idleTimeout` of zero disables that rule.
    package init(pingPeriod: TimeAmount, timeout: TimeAmount, idleTimeout: TimeAmount = .zero, now: NIODeadline) {
        self.pingPeriod = pingPeriod
        self.timeout = timeout
        self.idleTimeout = idleTimeout
        self.lastActivity = now
        self.nextPing = pingPeriod > .zero ? now + pingPeriod : nil
    }

    /// When `tick` has something to do next; nil when nothing is scheduled.
    package var nextDeadline: NIODeadline? {
        var deadlines: [NIODeadline] = []
        if let nextPing { deadlines.append(nextPing) }
        if let awaiting { deadlines.append(awaiting.deadline) }
        if idleTimeout > .zero { deadlines.append(lastActivity + idleTimeout) }
        return deadlines.min()
    }

    /// Advances to `now` and says what is due.
    package mutating func tick(now: NIODeadline) -> Action {
        if let awaiting, now >= awaiting.deadline { return .closeForPongTimeout }
        if idleTimeout > .zero, now >= lastActivity + idleTimeout { return .closeForIdleTimeout }
        guard let due = nextPing, now >= due else { return .none }
        sequence += 1
        nextPing = now + pingPeriod
        if awaiting == nil { awaiting = (sequence, now + timeout) }
        var payload = ByteBuffer()
        payload.writeInteger(sequence)
        return .sendPing(payload)
    }

    /// A pong arrived. It clears the wait when it answers the oldest unanswered ping or a later one
    /// (a peer may answer only the most recent ping, RFC 6455 §5.5.3); unsolicited pongs change nothing.
    package mutating func receivedPong(_ payload: ByteBuffer) {
        guard let awaiting, payload.readableBytes == 8,
            let answered = payload.getInteger(at: payload.readerIndex, as: UInt64.self)
        else { return }
        if answered >= awaiting.sequence && answered <= sequence { self.awaiting = nil }
    }

    /// A data message arrived: the connection is not idle.
    package mutating func receivedMessage(now: NIODeadline) {
        lastActivity = now
    }
}
