import NIOCore

/// What every connection of a run shares; all of it is Sendable.
struct RunShared: Sendable {
    let plan: BenchPlan
    let counters: BenchCounters
    let latency: LatencyRecorder
    /// Completes with the start time (uptime nanoseconds) once every connection is open.
    let start: EventLoopFuture<UInt64>
    /// The echo payload.
    let payload: ByteBuffer
}

/// Echo: keeps `inFlight` messages outstanding, times each until its echo, until the budget or the
/// time is up; then closes.
final class EchoDriver: BenchDriver {
    private let shared: RunShared
    private let shard: Int
    private let done: EventLoopPromise<ConnectionOutcome>
    private var outcome = ConnectionOutcome()
    private var sentAt = CircularBuffer<UInt64>()
    private var deadline = NIODeadline.distantFuture
    private var finished = false
    private var started = false

    init(shared: RunShared, shard: Int, done: EventLoopPromise<ConnectionOutcome>) {
        self.shared = shared
        self.shard = shard
        self.done = done
    }

    func opened(_ connection: BenchConnection) {
        outcome.deflateNegotiated = connection.deflateNegotiated
        shared.start.hop(to: connection.eventLoop).assumeIsolated().whenSuccess { [self] start in
            started = true
            deadline = NIODeadline.uptimeNanoseconds(start) + .nanoseconds(shared.plan.duration.nanoseconds)
            for _ in 0..<shared.plan.inFlight where sendNext(on: connection) {}
            if sentAt.isEmpty { finish(connection) }
        }
    }

    private func sendNext(on connection: BenchConnection) -> Bool {
        let now = NIODeadline.now()
        guard now < deadline, shared.counters.claim(limit: shared.plan.messages) else { return false }
        sentAt.append(now.uptimeNanoseconds)
        outcome.sent += 1
        connection.send(shared.payload, isText: !shared.plan.binary)
        return true
    }

    func received(isText: Bool, payload: ByteBuffer, on connection: BenchConnection) {
        // Before the start (a greeting) or after the last echo: not ours to time.
        guard started, let sent = sentAt.popFirst() else { return }
        let now = NIODeadline.now().uptimeNanoseconds
        if payload.readableBytes != shared.payload.readableBytes || isText == shared.plan.binary {
            outcome.error =
                outcome.error
                ?? "an echo of \(shared.payload.readableBytes) bytes came back as \(payload.readableBytes)"
        }
        shared.latency.record(nanoseconds: now &- sent, shard: shard)
        outcome.received += 1
        outcome.bytesReceived += payload.readableBytes
        shared.counters.completed.wrappingAdd(1, ordering: .relaxed)
        if !sendNext(on: connection) && sentAt.isEmpty { finish(connection) }
    }

    private func finish(_ connection: BenchConnection) {
        guard !finished else { return }
        finished = true
        done.succeed(outcome)
        connection.close()
    }

    func closed(_ connection: BenchConnection, error: String?) {
        guard !finished else { return }
        finished = true
        outcome.error = error ?? "closed after \(outcome.received) of \(outcome.sent) echoes"
        done.succeed(outcome)
    }
}

/// Broadcast: every member times each timed message it receives; member 0 also publishes, with
/// `inFlight` messages outstanding (it waits for its own copy of message k before sending
/// k + inFlight), and ends with `|end`. A member is done at `|end` or at the deadline.
final class BroadcastDriver: BenchDriver {
    private let shared: RunShared
    private let shard: Int
    private let isPublisher: Bool
    private let done: EventLoopPromise<ConnectionOutcome>
    private var outcome = ConnectionOutcome()
    private var startNanos: UInt64 = 0
    private var deadline = NIODeadline.distantFuture
    private var ownReceived = 0
    private var endSent = false
    private var finished = false
    private var timer: Scheduled<Void>?

    init(shared: RunShared, shard: Int, isPublisher: Bool, done: EventLoopPromise<ConnectionOutcome>) {
        self.shared = shared
        self.shard = shard
        self.isPublisher = isPublisher
        self.done = done
    }

    func opened(_ connection: BenchConnection) {
        outcome.deflateNegotiated = connection.deflateNegotiated
        shared.start.hop(to: connection.eventLoop).assumeIsolated().whenSuccess { [self] start in
            startNanos = start
            let duration = TimeAmount.nanoseconds(shared.plan.duration.nanoseconds)
            deadline = NIODeadline.uptimeNanoseconds(start) + duration
            let giveUp = deadline + .nanoseconds(shared.plan.timeout.nanoseconds)
            timer = connection.eventLoop.assumeIsolated().scheduleTask(deadline: giveUp) { [self] in
                fail("no |end after \(outcome.received) deliveries", connection)
            }
            if isPublisher { publish(on: connection) }
        }
    }

    private func publish(on connection: BenchConnection) {
        while !endSent, outcome.sent - ownReceived < shared.plan.inFlight {
            guard outcome.sent < shared.plan.messages, NIODeadline.now() < deadline else {
                // Ends after the last message in flight: the room keeps one publisher's order.
                endSent = true
                connection.send(ByteBuffer(string: BroadcastPayload.endMarker), isText: true)
                break
            }
            let sentAt = NIODeadline.now().uptimeNanoseconds &- startNanos
            connection.send(
                BroadcastPayload.make(sentAt: sentAt, size: shared.plan.size, allocator: connection.allocator),
                isText: true)
            outcome.sent += 1
            shared.counters.started.wrappingAdd(1, ordering: .relaxed)
        }
    }

    func received(isText: Bool, payload: ByteBuffer, on connection: BenchConnection) {
        guard startNanos != 0, !finished else { return }
        switch BroadcastPayload.parse(payload) {
        case .timed(let sentAt):
            let now = NIODeadline.now().uptimeNanoseconds &- startNanos
            shared.latency.record(nanoseconds: now &- sentAt, shard: shard)
            outcome.received += 1
            outcome.bytesReceived += payload.readableBytes
            shared.counters.completed.wrappingAdd(1, ordering: .relaxed)
            if isPublisher {
                ownReceived += 1
                publish(on: connection)
            }
        case .end:
            finished = true
            timer?.cancel()
            done.succeed(outcome)
            connection.close()
        case .other:
            break
        }
    }

    private func fail(_ error: String, _ connection: BenchConnection) {
        guard !finished else { return }
        finished = true
        outcome.error = error
        done.succeed(outcome)
        connection.close()
    }

    func closed(_ connection: BenchConnection, error: String?) {
        guard !finished else { return }
        timer?.cancel()
        finished = true
        outcome.error = error ?? "closed after \(outcome.received) deliveries"
        done.succeed(outcome)
    }
}

/// Connect: one session — the handshake, one message and its answer, the closing handshake.
final class SessionDriver: BenchDriver {
    private let message: ByteBuffer
    private let done: EventLoopPromise<ConnectionOutcome>
    private var outcome = ConnectionOutcome()
    private var finished = false

    init(message: ByteBuffer, done: EventLoopPromise<ConnectionOutcome>) {
        self.message = message
        self.done = done
    }

    func opened(_ connection: BenchConnection) {
        outcome.deflateNegotiated = connection.deflateNegotiated
        connection.send(message, isText: true)
        outcome.sent = 1
    }

    func received(isText: Bool, payload: ByteBuffer, on connection: BenchConnection) {
        guard outcome.received == 0 else { return }
        outcome.received = 1
        outcome.bytesReceived = payload.readableBytes
        connection.close()
    }

    func closed(_ connection: BenchConnection, error: String?) {
        guard !finished else { return }
        finished = true
        if outcome.received == 0 { outcome.error = error ?? "closed before an answer" }
        done.succeed(outcome)
    }
}

/// Idle: holds the connection (pings are answered by the connection itself); reports a close by
/// the server.
final class IdleDriver: BenchDriver {
    private let counters: BenchCounters
    private let done: EventLoopPromise<ConnectionOutcome>
    private var outcome = ConnectionOutcome()
    private var isOpen = false

    init(counters: BenchCounters, done: EventLoopPromise<ConnectionOutcome>) {
        self.counters = counters
        self.done = done
    }

    func opened(_ connection: BenchConnection) {
        outcome.deflateNegotiated = connection.deflateNegotiated
        isOpen = true
        counters.open.wrappingAdd(1, ordering: .relaxed)
        counters.completed.wrappingAdd(1, ordering: .relaxed)
    }

    func received(isText: Bool, payload: ByteBuffer, on connection: BenchConnection) {
        outcome.received += 1
        outcome.bytesReceived += payload.readableBytes
    }

    func closed(_ connection: BenchConnection, error: String?) {
        if isOpen { counters.open.wrappingSubtract(1, ordering: .relaxed) }
        isOpen = false
        outcome.error = error
        done.succeed(outcome)
    }
}
