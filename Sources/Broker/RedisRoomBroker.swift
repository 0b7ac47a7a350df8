import CoreMetrics
import Logging
import NIOConcurrencyHelpers
import NIOCore
import RedisClient

/// Broadcast rooms shared by several instances through Redis.
///
/// Publishing runs one Lua script per message (``RoomKeys/publishScript``): it takes the room's next
/// offset, appends the message to the room's stream and publishes it. Publishes are queued in call
/// order on one pipelined connection, so a member's messages keep their order. Each instance
/// subscribes to the rooms it has members in and hands every message to `onDelivery` in offset
/// order: duplicates are dropped, a gap is filled from the stream, and after a lost connection
/// every room catches up from its stream (what the stream no longer holds counts as lost).
///
/// Deliveries run one at a time on one task, so a room's messages reach `onDelivery` in order.
public final class RedisRoomBroker: Sendable {
    /// Where keys go and how much history Redis keeps.
    public struct Settings: Sendable, Equatable {
        /// The start of every key and channel.
        public var prefix: String
        /// Entries kept per room stream (about: `MAXLEN ~`).
        public var streamSize: Int
        /// Expiry of a room's keys after its last message.
        public var streamTTL: Duration

        /// Settings from their parts.
        public init(prefix: String = "wsgate", streamSize: Int = 1000, streamTTL: Duration = .seconds(86_400)) {
            self.prefix = prefix
            self.streamSize = streamSize
            self.streamTTL = streamTTL
        }
    }

    /// A message for this instance's members of a room.
    public struct Delivery: Sendable, Equatable {
        /// The room.
        public var room: String
        /// Its offset in the room.
        public var offset: UInt64
        /// The message and where it came from.
        public var envelope: RoomEnvelope
    }

    /// Counters, for health, metrics and tests (the `wsgate_broker_*` metrics count the same).
    public struct Statistics: Sendable, Equatable {
        /// Messages Redis accepted from this instance.
        public var published: Int = 0
        /// This instance's publishes that failed after they were sent (timed out, connection closed).
        public var publishErrors: Int = 0
        /// Messages handed to `onDelivery`.
        public var delivered: Int = 0
        /// Duplicates dropped.
        public var duplicates: Int = 0
        /// Rooms read from their streams after a gap, a resubscription or a reconnection.
        public var catchUps: Int = 0
        /// Messages read from streams to fill gaps or catch up.
        public var filled: Int = 0
        /// Offsets given up on: the stream no longer had them.
        public var lost: Int = 0
        /// Messages dropped because this instance fell more than its buffer behind.
        public var dropped: Int = 0
        /// Connections re-established (command and subscriber).
        public var reconnects: Int = 0
        /// The delivery lag of the last message delivered, in milliseconds (publisher's clock to ours).
        public var lastLagMilliseconds: Int = 0
    }

    /// What a member joining a room gets before the room's next messages (``replay(_:since:history:maxAge:reply:)``).
    public struct Replay: Sendable {
        /// The messages to send it first, in the room's order.
        public var messages: [Delivery]
        /// True when the messages are exactly those after `since` (nothing missed, nothing twice);
        /// false when `since` could not be honoured (another epoch, or the stream no longer holds
        /// them) and the messages are the room's latest `history` instead.
        public var resumed: Bool
        /// Where the member continues from: the room's position as this instance has delivered it
        /// (nil while the room has no messages).
        public var position: RoomPosition?
    }

    private enum SubscriptionChange: Sendable {
        /// `meta`: `HMGET meta e s`, queued when the room was joined (so before any later publish).
        case join(room: String, meta: EventLoopFuture<RESPValue>?)
        case leave(room: String)
        case replay(
            room: String, since: RoomPosition?, history: Int, maxAge: Duration?, reply: @Sendable (Replay) -> Void)
    }

    private enum Input: Sendable {
        case message(RedisPubSubMessage)
        case reconnected
        /// A room this instance joined: deliver what comes after `top` of `epoch`.
        case started(room: String, epoch: String?, top: UInt64)
        /// The room's subscription is confirmed: fetch what was published while it was being made.
        case subscribed(room: String)
        /// A member joined and waits for what it missed or the history (``replay(_:since:history:maxAge:reply:)``).
        case replay(
            room: String, since: RoomPosition?, history: Int, maxAge: Duration?, reply: @Sendable (Replay) -> Void)
        /// Time to try again the rooms whose stream could not be read (the command connection was away).
        case retryCatchUps
    }

    /// This instance's id in published messages (random per broker).
    public let instanceID: UInt64
    public let settings: Settings
    private let client: RedisClient
    private let subscriber: RedisSubscriber
    private let script: RedisScript
    private let scriptSHA: String
    private let logger: Logger
    private let onDelivery: @Sendable (Delivery) -> Void
    private let interest = NIOLockedValueBox<[String: Int]>([:])
    private let subscriptionChanges: AsyncStream<SubscriptionChange>.Continuation
    private let inbox: AsyncStream<Input>.Continuation
    private let tasks = NIOLockedValueBox<[Task<Void, Never>]>([])
    private let counters = NIOLockedValueBox(Statistics())
    private let requests: InstanceRequests
    private let metrics: BrokerMetrics

    private init(
        instanceID: UInt64,
        client: RedisClient,
        subscriber: RedisSubscriber,
        script: RedisScript,
        scriptSHA: String,
        settings: Settings,
        logger: Logger,
        metrics: BrokerMetrics,
        requests: InstanceRequests,
        onDelivery: @escaping @Sendable (Delivery) -> Void
    ) {
        self.instanceID = instanceID
        self.client = client
        self.subscriber = subscriber
        self.script = script
        self.scriptSHA = scriptSHA
        self.settings = settings
        self.logger = logger
        self.onDelivery = onDelivery
        self.metrics = metrics
        self.requests = requests
        let (changes, changesContinuation) = AsyncStream.makeStream(of: SubscriptionChange.self)
        subscriptionChanges = changesContinuation
        let (inputs, inboxContinuation) = AsyncStream.makeStream(
            of: Input.self,
            bufferingPolicy: .bufferingOldest(RedisSubscriber.defaultBufferSize)
        )
        inbox = inboxContinuation
        metrics.connected.record(1)
        let started = [
            Task { await self.applySubscriptionChanges(changes) },
            Task { await self.consume(inputs) },
            Task {
                for await message in subscriber.messages {
                    if requests.receive(message, client: client) { continue }
                    if case .dropped = inboxContinuation.yield(.message(message)) { self.countDrop() }
                }
            },
            Task {
                for await event in subscriber.events {
                    self.connectionChanged(event, reconnects: metrics.subscriberReconnects)
                    if event == .reconnected { inboxContinuation.yield(.reconnected) }
                }
            },
            Task {
                for await event in client.events {
                    self.connectionChanged(event, reconnects: metrics.commandReconnects)
                }
            },
        ]
        tasks.withLockedValue { $0 = started }
    }

    /// Connects a command connection and a subscriber connection and loads the publish script.
    public static func start(
        configuration: RedisConfiguration,
        settings: Settings,
        logger: Logger = Logger(label: "wsgate.broker"),
        onDelivery: @escaping @Sendable (Delivery) -> Void
    ) async throws -> RedisRoomBroker {
        let client = try await RedisClient.connect(to: configuration, logger: logger)
        let metrics = BrokerMetrics()
        var connected: RedisSubscriber?
        do {
            let subscriber = try await RedisSubscriber.connect(
                to: configuration, logger: logger, onDrop: { metrics.dropped.increment() })
            connected = subscriber
            let instanceID = UInt64.random(in: 1...UInt64.max)
            let script = RoomKeys.publishScript(instance: instanceID)
            let sha = try await client.load(script)
            let requests = InstanceRequests(prefix: settings.prefix, instanceID: instanceID)
            try await subscriber.subscribe(to: [requests.controlChannel, requests.replyChannel])
            return RedisRoomBroker(
                instanceID: instanceID,
                client: client,
                subscriber: subscriber,
                script: script,
                scriptSHA: sha,
                settings: settings,
                logger: logger,
                metrics: metrics,
                requests: requests,
                onDelivery: onDelivery
            )
        } catch {
            await connected?.close()
            await client.close()
            throw error
        }
    }

    /// True while both connections are up.
    public var isConnected: Bool { client.isConnected && subscriber.isConnected }

    /// True while the command connection is up: ``publish(_:to:positionMarks:keep:ttl:)`` takes messages
    /// (false: it throws at once, and the caller applies `on_unavailable`).
    public var acceptsPublishes: Bool { client.isConnected }

    /// The counters so far.
    public var statistics: Statistics {
        var statistics = counters.withLockedValue { $0 }
        statistics.dropped += subscriber.droppedMessages
        return statistics
    }

    private func count(_ published: Result<RESPValue, any Error>) {
        switch published {
        case .success(.error):
            // The script failed (e.g. the key holds another type): nothing was published.
            counters.withLockedValue { $0.publishErrors += 1 }
            metrics.publishErrors.increment()
        case .success:
            counters.withLockedValue { $0.published += 1 }
            metrics.publishes.increment()
        case .failure:
            counters.withLockedValue { $0.publishErrors += 1 }
            metrics.publishErrors.increment()
        }
    }

    private func countDrop() {
        counters.withLockedValue { $0.dropped += 1 }
        metrics.dropped.increment()
    }

    private func connectionChanged(_ event: RedisConnectionEvent, reconnects: Counter) {
        switch event {
        case .reconnected:
            reconnects.increment()
            counters.withLockedValue { $0.reconnects += 1 }
            if isConnected { metrics.connected.record(1) }
        case .disconnected:
            metrics.connected.record(0)
        case .reconnectFailed:
            break
        }
    }

    /// Publishes a message to a room, queued after the earlier calls; throws at once (nothing sent)
    /// while Redis is unreachable. The returned future holds the message's offset.
    ///
    /// `positionMarks` are byte counts into the payload (ascending) where Redis writes the message's
    /// own position (`EPOCH:OFFSET`, see ``RoomPosition``) as it takes its offset: `{position}` in a
    /// template, filled in the same bytes for every instance and in the stream. The room's stream
    /// keeps at least `keep` messages (else ``Settings/streamSize``) for at least `ttl` after this one
    /// (else ``Settings/streamTTL``).
    @discardableResult
    public func publish(
        _ envelope: RoomEnvelope,
        to room: String,
        positionMarks: [Int] = [],
        keep: Int = 0,
        ttl: Duration = .zero
    ) throws(RedisClientError) -> EventLoopFuture<UInt64> {
        let keys = RoomKeys(prefix: settings.prefix, room: room)
        let ttl = max(settings.streamTTL.components.seconds, ttl.components.seconds, 1)
        let marks = positionMarks.map { String($0 + RoomEnvelope.headerSize) }.joined(separator: ",")
        let arguments: [any RESPArgument] = [
            envelope.encoded(), max(settings.streamSize, keep), ttl, keys.channel,
            String(UInt64.random(in: 0...UInt64.max), radix: 16), marks,
        ]
        // After a Redis restart or SCRIPT FLUSH the client sends EVAL instead, keeping the order.
        let future = try client.enqueueEvaluation(
            script, sha: scriptSHA, keys: [keys.stream, keys.meta], arguments: arguments)
        future.whenComplete { result in self.count(result) }
        return future.flatMapThrowing { reply in
            if case .error(let message) = reply { throw RedisClientError.reply(command: "EVALSHA", message: message) }
            guard let offset = reply.array?.first?.int, offset > 0 else {
                throw RedisClientError.reply(command: "EVALSHA", message: "unexpected reply \(reply)")
            }
            return UInt64(offset)
        }
    }

    /// Sends `request` to every instance sharing this Redis and prefix (this one too) and returns their
    /// answers once every instance that received it answered, or after `timeout` what arrived by then.
    /// Throws when Redis cannot be reached. See ``answerRequests(with:)``.
    public func ask(_ request: [UInt8], timeout: Duration = .seconds(1)) async throws -> InstanceAnswers {
        try await requests.ask(request, timeout: timeout, client: client)
    }

    /// What this instance answers to the requests of ``ask(_:timeout:)`` (from any instance); until
    /// set, an empty answer.
    public func answerRequests(with answerer: @escaping @Sendable ([UInt8]) async -> [UInt8]) {
        requests.answer(with: answerer)
    }

    /// This instance has a member in `room` (the first one subscribes).
    public func join(_ room: String) {
        let first = interest.withLockedValue { interest in
            interest[room, default: 0] += 1
            return interest[room] == 1
        }
        guard first else { return }
        // The room's position is read now, queued before any message published after this call, so
        // those are this instance's to deliver (the subscription itself takes a while).
        let keys = RoomKeys(prefix: settings.prefix, room: room)
        let meta = try? client.enqueue(RedisCommand("HMGET", keys.meta, "e", "s"))
        subscriptionChanges.yield(.join(room: room, meta: meta))
    }

    /// For a member of `room` (after ``join(_:)``): the messages after `since`, or when that cannot be
    /// done (nil, another epoch, trimmed from the stream) the room's latest `history` messages, read
    /// from the stream, without those published more than `maxAge` ago (by their publisher's clock). `reply` runs on the delivery task at the point of the room's order it
    /// describes: deliveries before it are in the replay, those after it come after, so a member that
    /// `reply` adds to the room misses nothing and gets nothing twice. Never called after ``close()``.
    public func replay(
        _ room: String,
        since: RoomPosition?,
        history: Int,
        maxAge: Duration? = nil,
        reply: @escaping @Sendable (Replay) -> Void
    ) {
        subscriptionChanges.yield(.replay(room: room, since: since, history: history, maxAge: maxAge, reply: reply))
    }

    /// A member of `room` left (the last one unsubscribes).
    public func leave(_ room: String) {
        let last = interest.withLockedValue { interest -> Bool in
            guard let count = interest[room] else { return false }
            if count > 1 {
                interest[room] = count - 1
                return false
            }
            interest[room] = nil
            return true
        }
        if last { subscriptionChanges.yield(.leave(room: room)) }
    }

    /// Closes both connections and stops delivering.
    public func close() async {
        subscriptionChanges.finish()
        inbox.finish()
        for task in tasks.withLockedValue({ $0 }) { task.cancel() }
        await subscriber.close()
        await client.close()
    }

    /// Subscribes and unsubscribes in the order rooms gained and lost their members here; a new
    /// room starts after the offset it has now.
    private func applySubscriptionChanges(_ changes: AsyncStream<SubscriptionChange>) async {
        for await change in changes {
            switch change {
            case .join(let room, let queued):
                let keys = RoomKeys(prefix: settings.prefix, room: room)
                do {
                    // Where the room stands, before subscribing: what comes after it is this instance's
                    // to deliver, and what is published until the subscription holds is read from the
                    // stream once it does.
                    let reply: RESPValue
                    if let queued {
                        reply = try await queued.get()
                    } else {
                        reply = try await client.send("HMGET", keys.meta, "e", "s")
                    }
                    let meta = reply.array ?? []
                    let epoch = meta.first?.string
                    let top = meta.count > 1 ? UInt64(meta[1].int ?? 0) : 0
                    inbox.yield(.started(room: room, epoch: epoch, top: top))
                    try await subscriber.subscribe(to: [keys.channel])
                    inbox.yield(.subscribed(room: room))
                } catch {
                    logger.warning(
                        "broker: cannot subscribe to the room", metadata: ["room": "\(room)", "error": "\(error)"])
                }
            case .leave(let room):
                do {
                    try await subscriber.unsubscribe(from: [RoomKeys(prefix: settings.prefix, room: room).channel])
                } catch {
                    logger.warning(
                        "broker: cannot unsubscribe from the room", metadata: ["room": "\(room)", "error": "\(error)"])
                }
            case .replay(let room, let since, let history, let maxAge, let reply):
                // After the room's .started (queued above for its first member), so its sequence is set.
                inbox.yield(.replay(room: room, since: since, history: history, maxAge: maxAge, reply: reply))
            }
        }
    }

    /// Delivers messages in offset order per room, one at a time.
    private func consume(_ inputs: AsyncStream<Input>) async {
        var sequences: [String: RoomSequence] = [:]
        // Rooms with a gap that could not be read from the stream yet (the command connection was
        // away): nothing later is delivered until it is, and they are tried again with backoff.
        var waiting: Set<String> = []
        var retry = ReconnectBackoff(initial: .milliseconds(50), maximum: .seconds(2), jitter: 0)
        var retryScheduled = false
        func wait(_ room: String) {
            waiting.insert(room)
            guard !retryScheduled else { return }
            retryScheduled = true
            scheduleRetry(after: retry.nextDelay())
        }
        for await input in inputs {
            switch input {
            case .started(let room, let epoch, let top):
                sequences[room] = RoomSequence(epoch: epoch, after: top)
            case .replay(let room, let since, let history, let maxAge, let reply):
                reply(
                    await replay(
                        room: room, sequence: sequences[room] ?? RoomSequence(), since: since, history: history,
                        maxAge: maxAge))
            case .subscribed(let room):
                guard interest.withLockedValue({ $0[room] != nil }) else { continue }
                var sequence = sequences[room] ?? RoomSequence()
                if !(await catchUp(room: room, sequence: &sequence)) { wait(room) }
                sequences[room] = sequence
            case .message(let message):
                guard let room = RoomKeys.room(ofChannel: message.channel, prefix: settings.prefix),
                    interest.withLockedValue({ $0[room] != nil }),
                    let published = PublishedRoomMessage(message.payload)
                else { continue }
                var sequence = sequences[room] ?? RoomSequence()
                if !(await receive(published, room: room, sequence: &sequence)) { wait(room) }
                sequences[room] = sequence
            case .reconnected:
                let rooms = interest.withLockedValue { Set($0.keys) }
                sequences = sequences.filter { rooms.contains($0.key) }
                for room in rooms {
                    var sequence = sequences[room] ?? RoomSequence()
                    if await catchUp(room: room, sequence: &sequence) {
                        waiting.remove(room)
                    } else {
                        wait(room)
                    }
                    sequences[room] = sequence
                }
            case .retryCatchUps:
                retryScheduled = false
                for room in waiting {
                    guard interest.withLockedValue({ $0[room] != nil }) else {
                        waiting.remove(room)
                        continue
                    }
                    var sequence = sequences[room] ?? RoomSequence()
                    if await catchUp(room: room, sequence: &sequence) { waiting.remove(room) }
                    sequences[room] = sequence
                }
                if waiting.isEmpty {
                    retry.reset()
                } else {
                    retryScheduled = true
                    scheduleRetry(after: retry.nextDelay())
                }
            }
        }
    }

    /// Delivers `message` in the room's order; false when a gap before it could not be read from the
    /// stream (the command connection is away): then neither it nor the gap is delivered or given up,
    /// and a later catch-up reads them all from the stream.
    private func receive(_ message: PublishedRoomMessage, room: String, sequence: inout RoomSequence) async -> Bool {
        switch sequence.receive(offset: message.offset, epoch: message.epoch) {
        case .deliver:
            deliver(room: room, offset: message.offset, envelope: message.envelope)
        case .drop:
            counters.withLockedValue { $0.duplicates += 1 }
        case .fillGap(let from, let through):
            guard await fill(room: room, from: from, through: through, epoch: message.epoch, sequence: &sequence)
            else { return false }
            if sequence.receive(offset: message.offset, epoch: message.epoch) == .deliver {
                deliver(room: room, offset: message.offset, envelope: message.envelope)
            }
        }
        return true
    }

    /// Sends ``Input/retryCatchUps`` after `delay` (again later if the inbox is full).
    private func scheduleRetry(after delay: Duration) {
        let inbox = self.inbox
        Task {
            try? await Task.sleep(for: delay)
            while case .dropped = inbox.yield(.retryCatchUps) {
                try? await Task.sleep(for: delay)
            }
        }
    }

    /// After a reconnection or a gap: what the room's stream holds beyond the last delivered offset.
    /// False when Redis could not be asked (nothing is given up then: try again later).
    private func catchUp(room: String, sequence: inout RoomSequence) async -> Bool {
        let keys = RoomKeys(prefix: settings.prefix, room: room)
        guard let reply = try? await client.send("HMGET", keys.meta, "e", "s") else { return false }
        guard let meta = reply.array, meta.count == 2,
            let epoch = meta[0].string, let top = meta[1].int, top > 0
        else { return true }
        if sequence.epoch == nil {
            sequence = RoomSequence(epoch: epoch, after: sequence.last)
        } else if sequence.epoch != epoch {
            // Redis lost the room meanwhile: everything of the new epoch is new here.
            sequence = RoomSequence(epoch: epoch, after: 0)
        }
        let from = sequence.last + 1
        guard UInt64(top) >= from else { return true }
        return await fill(room: room, from: from, through: UInt64(top), epoch: epoch, sequence: &sequence)
    }

    /// What a joining member gets first (see ``replay(_:since:history:maxAge:reply:)``): `sequence` is what
    /// this instance has delivered of the room.
    private func replay(
        room: String,
        sequence: RoomSequence,
        since: RoomPosition?,
        history: Int,
        maxAge: Duration?
    ) async -> Replay {
        guard let epoch = sequence.epoch else { return Replay(messages: [], resumed: since == nil, position: nil) }
        let position = RoomPosition(epoch: epoch, offset: sequence.last)
        let keys = RoomKeys(prefix: settings.prefix, room: room)
        if let since, since.epoch == epoch {
            if since.offset >= sequence.last { return Replay(messages: [], resumed: true, position: position) }
            let wanted = sequence.last - since.offset
            if wanted <= UInt64(settings.streamSize * 2),
                let entries = await entries(
                    keys, "XRANGE", keys.stream, since.offset + 1, sequence.last, "COUNT", Int(wanted)),
                entries.first?.offset == since.offset + 1, entries.count == Int(wanted)
            {
                return Replay(
                    messages: entries.map { Delivery(room: room, offset: $0.offset, envelope: $0.envelope) },
                    resumed: true, position: position)
            }
        }
        var latest: [Delivery] = []
        if history > 0, sequence.last > 0,
            let entries = await entries(keys, "XREVRANGE", keys.stream, sequence.last, "-", "COUNT", history)
        {
            let oldest = maxAge.map { RoomEnvelope.now() &- UInt64(clamping: Self.milliseconds($0)) } ?? 0
            latest = entries.reversed().filter { $0.envelope.publishedAt >= oldest }.map {
                Delivery(room: room, offset: $0.offset, envelope: $0.envelope)
            }
        }
        return Replay(messages: latest, resumed: since == nil, position: position)
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds.multipliedReportingOverflow(by: 1000).partialValue + attoseconds / 1_000_000_000_000_000
    }

    /// Reads stream entries (`XRANGE`/`XREVRANGE` with its arguments); nil when Redis cannot be asked.
    private func entries(_ keys: RoomKeys, _ command: String, _ arguments: any RESPArgument...) async
        -> [(offset: UInt64, envelope: RoomEnvelope)]?
    {
        guard let reply = try? await client.send(RedisCommand(command, arguments: arguments)).array else {
            logger.warning("broker: cannot read the room's stream", metadata: ["stream": "\(keys.stream)"])
            return nil
        }
        return reply.compactMap { entry in
            guard let parts = entry.array, parts.count == 2, let id = parts[0].string,
                let offset = UInt64(id.split(separator: "-").first ?? ""),
                let fields = parts[1].array, fields.count >= 2, let data = fields[1].bytes,
                let envelope = RoomEnvelope(decoding: data)
            else { return nil }
            return (offset, envelope)
        }
    }

    /// Delivers the stream's entries `from...through` that the sequence has not delivered, and gives up
    /// (counts as lost) the offsets up to `through` that the stream no longer holds; false when the
    /// stream could not be read (what was read is delivered, nothing is given up).
    private func fill(room: String, from: UInt64, through: UInt64, epoch: String, sequence: inout RoomSequence)
        async -> Bool
    {
        let keys = RoomKeys(prefix: settings.prefix, room: room)
        let lostBefore = sequence.lost
        var complete = false
        defer {
            let lost = Int(sequence.lost - lostBefore)
            counters.withLockedValue {
                $0.lost += lost
                if complete { $0.catchUps += 1 }
            }
            metrics.lost.increment(by: lost)
            if complete { metrics.catchUps.increment() }
        }
        // In pages: the stream may hold more than stream_size (MAXLEN ~ trims whole nodes), and every
        // entry it still holds is delivered; what it no longer holds counts as lost.
        var next = from
        while next <= through {
            let count = min(Int(clamping: through - next) + 1, Self.fillPage)
            guard let entries = await entries(keys, "XRANGE", keys.stream, next, through, "COUNT", count) else {
                return false
            }
            for (offset, envelope) in entries {
                if offset > sequence.last + 1 { sequence.skip(through: offset - 1) }
                if sequence.receive(offset: offset, epoch: epoch) == .deliver {
                    counters.withLockedValue { $0.filled += 1 }
                    metrics.filled.increment()
                    deliver(room: room, offset: offset, envelope: envelope)
                }
            }
            guard entries.count == count, let last = entries.last?.offset else { break }
            next = last + 1
        }
        sequence.skip(through: through)
        complete = true
        return true
    }

    /// Stream entries read at once when filling a gap.
    static let fillPage = 1000

    private func deliver(room: String, offset: UInt64, envelope: RoomEnvelope) {
        let lag = envelope.publishedAt > 0 ? Int(clamping: RoomEnvelope.now()) - Int(clamping: envelope.publishedAt) : 0
        counters.withLockedValue {
            $0.delivered += 1
            $0.lastLagMilliseconds = max(lag, 0)
        }
        metrics.deliveryLag.recordMilliseconds(max(lag, 0))
        onDelivery(Delivery(room: room, offset: offset, envelope: envelope))
    }
}
