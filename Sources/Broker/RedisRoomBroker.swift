import Logging
import NIOCore
import RedisClient
import Synchronization

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

    /// Counters, for metrics and tests.
    public struct Statistics: Sendable, Equatable {
        /// Messages handed to `onDelivery`.
        public var delivered: Int
        /// Duplicates dropped.
        public var duplicates: Int
        /// Messages read from streams to fill gaps or catch up.
        public var filled: Int
        /// Offsets given up on: the stream no longer had them.
        public var lost: Int
    }

    private struct SubscriptionChange: Sendable {
        var room: String
        var join: Bool
        /// `HMGET meta e s`, queued when the room was joined (so before any later publish).
        var meta: EventLoopFuture<RESPValue>?
    }

    private enum Input: Sendable {
        case message(RedisPubSubMessage)
        case reconnected
        /// A room this instance joined: deliver what comes after `top` of `epoch`.
        case started(room: String, epoch: String?, top: UInt64)
        /// The room's subscription is confirmed: fetch what was published while it was being made.
        case subscribed(room: String)
    }

    /// This instance's id in published messages (random per broker).
    public let instanceID: UInt64
    public let settings: Settings
    private let client: RedisClient
    private let subscriber: RedisSubscriber
    private let scriptSHA: String
    private let logger: Logger
    private let onDelivery: @Sendable (Delivery) -> Void
    private let interest = Mutex<[String: Int]>([:])
    private let subscriptionChanges: AsyncStream<SubscriptionChange>.Continuation
    private let inbox: AsyncStream<Input>.Continuation
    private let tasks = Mutex<[Task<Void, Never>]>([])
    private let counters = Mutex(Statistics(delivered: 0, duplicates: 0, filled: 0, lost: 0))

    private init(
        client: RedisClient,
        subscriber: RedisSubscriber,
        scriptSHA: String,
        settings: Settings,
        logger: Logger,
        onDelivery: @escaping @Sendable (Delivery) -> Void
    ) {
        self.client = client
        self.subscriber = subscriber
        self.scriptSHA = scriptSHA
        self.settings = settings
        self.logger = logger
        self.onDelivery = onDelivery
        instanceID = UInt64.random(in: 1...UInt64.max)
        let (changes, changesContinuation) = AsyncStream.makeStream(of: SubscriptionChange.self)
        subscriptionChanges = changesContinuation
        let (inputs, inboxContinuation) = AsyncStream.makeStream(
            of: Input.self,
            bufferingPolicy: .bufferingOldest(RedisSubscriber.defaultBufferSize)
        )
        inbox = inboxContinuation
        let started = [
            Task { await self.applySubscriptionChanges(changes) },
            Task { await self.consume(inputs) },
            Task {
                for await message in subscriber.messages { inboxContinuation.yield(.message(message)) }
            },
            Task {
                for await event in subscriber.events where event == .reconnected {
                    inboxContinuation.yield(.reconnected)
                }
            },
        ]
        tasks.withLock { $0 = started }
    }

    /// Connects a command connection and a subscriber connection and loads the publish script.
    public static func start(
        configuration: RedisConfiguration,
        settings: Settings,
        logger: Logger = Logger(label: "wsgate.broker"),
        onDelivery: @escaping @Sendable (Delivery) -> Void
    ) async throws -> RedisRoomBroker {
        let client = try await RedisClient.connect(to: configuration, logger: logger)
        do {
            let subscriber = try await RedisSubscriber.connect(to: configuration, logger: logger)
            let sha = try await client.load(RoomKeys.publishScript)
            return RedisRoomBroker(
                client: client,
                subscriber: subscriber,
                scriptSHA: sha,
                settings: settings,
                logger: logger,
                onDelivery: onDelivery
            )
        } catch {
            await client.close()
            throw error
        }
    }

    /// True while both connections are up.
    public var isConnected: Bool { client.isConnected && subscriber.isConnected }

    /// The counters so far.
    public var statistics: Statistics { counters.withLock { $0 } }

    /// Publishes a message to a room, queued after the earlier calls; throws at once (nothing sent)
    /// while Redis is unreachable. The returned future holds the message's offset.
    @discardableResult
    public func publish(_ envelope: RoomEnvelope, to room: String) throws(RedisClientError) -> EventLoopFuture<UInt64> {
        let keys = RoomKeys(prefix: settings.prefix, room: room)
        let ttl = max(settings.streamTTL.components.seconds, 1)
        let arguments: [any RESPArgument] = [
            2, keys.stream, keys.meta, envelope.encoded(), settings.streamSize, ttl, keys.channel,
            String(UInt64.random(in: 0...UInt64.max), radix: 16),
        ]
        let future = try client.enqueue(RedisCommand("EVALSHA", arguments: [scriptSHA] + arguments))
        let client = client
        let source = RoomKeys.publishScript.source
        return future.flatMap { reply in
            if case .error(let message) = reply, message.hasPrefix("NOSCRIPT") {
                // Redis restarted or flushed its scripts: EVAL puts the script back.
                do {
                    return try client.enqueue(RedisCommand("EVAL", arguments: [source] + arguments))
                } catch {
                    return future.eventLoop.makeFailedFuture(error)
                }
            }
            return future.eventLoop.makeSucceededFuture(reply)
        }.flatMapThrowing { reply in
            if case .error(let message) = reply { throw RedisClientError.reply(command: "EVALSHA", message: message) }
            guard let offset = reply.array?.first?.int, offset > 0 else {
                throw RedisClientError.reply(command: "EVALSHA", message: "unexpected reply \(reply)")
            }
            return UInt64(offset)
        }
    }

    /// This instance has a member in `room` (the first one subscribes).
    public func join(_ room: String) {
        let first = interest.withLock { interest in
            interest[room, default: 0] += 1
            return interest[room] == 1
        }
        guard first else { return }
        // The room's position is read now, queued before any message published after this call, so
        // those are this instance's to deliver (the subscription itself takes a while).
        let keys = RoomKeys(prefix: settings.prefix, room: room)
        let meta = try? client.enqueue(RedisCommand("HMGET", keys.meta, "e", "s"))
        subscriptionChanges.yield(SubscriptionChange(room: room, join: true, meta: meta))
    }

    /// A member of `room` left (the last one unsubscribes).
    public func leave(_ room: String) {
        let last = interest.withLock { interest -> Bool in
            guard let count = interest[room] else { return false }
            if count > 1 {
                interest[room] = count - 1
                return false
            }
            interest[room] = nil
            return true
        }
        if last { subscriptionChanges.yield(SubscriptionChange(room: room, join: false)) }
    }

    /// Closes both connections and stops delivering.
    public func close() async {
        subscriptionChanges.finish()
        inbox.finish()
        for task in tasks.withLock({ $0 }) { task.cancel() }
        await subscriber.close()
        await client.close()
    }

    /// Subscribes and unsubscribes in the order rooms gained and lost their members here; a new
    /// room starts after the offset it has now.
    private func applySubscriptionChanges(_ changes: AsyncStream<SubscriptionChange>) async {
        for await change in changes {
            let keys = RoomKeys(prefix: settings.prefix, room: change.room)
            do {
                if change.join {
                    // Where the room stands, before subscribing: what comes after it is this instance's
                    // to deliver, and what is published until the subscription holds is read from the
                    // stream once it does.
                    let reply: RESPValue
                    if let queued = change.meta {
                        reply = try await queued.get()
                    } else {
                        reply = try await client.send("HMGET", keys.meta, "e", "s")
                    }
                    let meta = reply.array ?? []
                    let epoch = meta.first?.string
                    let top = meta.count > 1 ? UInt64(meta[1].int ?? 0) : 0
                    inbox.yield(.started(room: change.room, epoch: epoch, top: top))
                    try await subscriber.subscribe(to: [keys.channel])
                    inbox.yield(.subscribed(room: change.room))
                } else {
                    try await subscriber.unsubscribe(from: [keys.channel])
                }
            } catch {
                logger.warning(
                    "broker: cannot change the subscription",
                    metadata: ["room": "\(change.room)", "error": "\(error)"]
                )
            }
        }
    }

    /// Delivers messages in offset order per room, one at a time.
    private func consume(_ inputs: AsyncStream<Input>) async {
        var sequences: [String: RoomSequence] = [:]
        for await input in inputs {
            switch input {
            case .started(let room, let epoch, let top):
                sequences[room] = RoomSequence(epoch: epoch, after: top)
            case .subscribed(let room):
                guard interest.withLock({ $0[room] != nil }) else { continue }
                var sequence = sequences[room] ?? RoomSequence()
                await catchUp(room: room, sequence: &sequence)
                sequences[room] = sequence
            case .message(let message):
                guard let room = RoomKeys.room(ofChannel: message.channel, prefix: settings.prefix),
                    interest.withLock({ $0[room] != nil }),
                    let published = PublishedRoomMessage(message.payload)
                else { continue }
                var sequence = sequences[room] ?? RoomSequence()
                await receive(published, room: room, sequence: &sequence)
                sequences[room] = sequence
            case .reconnected:
                let rooms = interest.withLock { Set($0.keys) }
                sequences = sequences.filter { rooms.contains($0.key) }
                for room in rooms {
                    var sequence = sequences[room] ?? RoomSequence()
                    await catchUp(room: room, sequence: &sequence)
                    sequences[room] = sequence
                }
            }
        }
    }

    private func receive(_ message: PublishedRoomMessage, room: String, sequence: inout RoomSequence) async {
        switch sequence.receive(offset: message.offset, epoch: message.epoch) {
        case .deliver:
            deliver(room: room, offset: message.offset, envelope: message.envelope)
        case .drop:
            counters.withLock { $0.duplicates += 1 }
        case .fillGap(let from, let through):
            await fill(room: room, from: from, through: through, epoch: message.epoch, sequence: &sequence)
            sequence.skip(through: through)
            if sequence.receive(offset: message.offset, epoch: message.epoch) == .deliver {
                deliver(room: room, offset: message.offset, envelope: message.envelope)
            }
        }
    }

    /// After a reconnection: what the room's stream holds beyond the last delivered offset.
    private func catchUp(room: String, sequence: inout RoomSequence) async {
        let keys = RoomKeys(prefix: settings.prefix, room: room)
        guard let meta = try? await client.send("HMGET", keys.meta, "e", "s").array, meta.count == 2,
            let epoch = meta[0].string, let top = meta[1].int, top > 0
        else { return }
        if sequence.epoch == nil {
            sequence = RoomSequence(epoch: epoch, after: sequence.last)
        } else if sequence.epoch != epoch {
            // Redis lost the room meanwhile: everything of the new epoch is new here.
            sequence = RoomSequence(epoch: epoch, after: 0)
        }
        let from = sequence.last + 1
        guard UInt64(top) >= from else { return }
        await fill(room: room, from: from, through: UInt64(top), epoch: epoch, sequence: &sequence)
        sequence.skip(through: UInt64(top))
    }

    /// Delivers the stream's entries `from...through` that the sequence has not delivered.
    private func fill(room: String, from: UInt64, through: UInt64, epoch: String, sequence: inout RoomSequence)
        async
    {
        let keys = RoomKeys(prefix: settings.prefix, room: room)
        let lostBefore = sequence.lost
        defer { counters.withLock { $0.lost += Int(sequence.lost - lostBefore) } }
        let count = min(Int(through - from) + 1, settings.streamSize * 2)
        guard
            let entries = try? await client.send("XRANGE", keys.stream, from, through, "COUNT", count).array
        else {
            logger.warning("broker: cannot read the room's stream", metadata: ["room": "\(room)"])
            return
        }
        for entry in entries {
            guard let parts = entry.array, parts.count == 2, let id = parts[0].string,
                let offset = UInt64(id.split(separator: "-").first ?? ""),
                let fields = parts[1].array, fields.count >= 2, let data = fields[1].bytes,
                let envelope = RoomEnvelope(decoding: data)
            else { continue }
            if offset > sequence.last + 1 { sequence.skip(through: offset - 1) }
            if sequence.receive(offset: offset, epoch: epoch) == .deliver {
                counters.withLock { $0.filled += 1 }
                deliver(room: room, offset: offset, envelope: envelope)
            }
        }
    }

    private func deliver(room: String, offset: UInt64, envelope: RoomEnvelope) {
        counters.withLock { $0.delivered += 1 }
        onDelivery(Delivery(room: room, offset: offset, envelope: envelope))
    }
}
