import Broker
import CoreMetrics
import GatewayConfig
import NIOConcurrencyHelpers
import NIOCore
import Synchronization
import WebSocketEngine

/// What a broadcast endpoint has done so far.
public struct RoomStatistics: Sendable, Equatable {
    /// Members per room, for rooms that exist now.
    public var members: [String: Int]
    /// Messages received from members.
    public var messagesIn: Int
    /// Messages queued to members (one per member per message, welcomes and history included).
    public var deliveries: Int
    /// Messages skipped for slow members (`slow_client: drop`).
    public var drops: Int
    /// Members closed for being slow (`slow_client: close`).
    public var slowCloses: Int
    /// Rooms kept for their history while empty.
    public var idleRooms: Int
    /// Messages refused while the broker's Redis was unreachable (`on_unavailable: reject`).
    public var rejected: Int = 0
}

/// The rooms of one broadcast endpoint.
///
/// One lock guards membership, history and a queue per event loop. Fan-out appends to the queue of
/// each loop that has members and the loop drains it in one task: every member of the batch gets all
/// its messages written and then one flush, so a busy room costs one write per member per batch, not
/// per message. Queue order is the lock's order, so every member sees a room's messages in the same
/// order, and a joiner gets its welcome and the history before anything newer.
final class RoomHub: Sendable {
    /// Empty rooms kept for their history, at most (the oldest emptied is dropped first).
    static let maxIdleRooms = 1000

    private typealias Members = [ObjectIdentifier: WebSocketSession]

    private struct Room {
        /// Members grouped by event loop.
        var groups: [ObjectIdentifier: Members] = [:]
        /// Changes with every join and leave (unique across the hub's rooms): fan-out entries with the same
        /// stamp went to the same members, so a loop turn writes them to each member as one batch.
        var stamp: UInt64 = 0
        /// Members waiting for their replay from the broker (`?since=`, `history`): counted, but not
        /// yet in `groups`, so the room's messages reach them only after the replay.
        var replaying: Members = [:]
        var count = 0
        /// The latest messages and when they came, for rooms in this process (the broker keeps them
        /// in Redis).
        var history: [(message: PreparedMessage, at: ContinuousClock.Instant)] = []
    }

    private enum Entry {
        /// A message for the members as they were when it was sent (`stamp`: the room's, then).
        case fanOut(PreparedMessage, Members, except: ObjectIdentifier?, stamp: UInt64)
        /// Messages for one member (its welcome and the history).
        case direct(WebSocketSession, [PreparedMessage])
    }

    private struct LoopQueue {
        let loop: any EventLoop
        var entries: [Entry] = []
        var scheduled = false
    }

    private struct State {
        var rooms: [String: Room] = [:]
        var idle: [String] = []
        var queues: [ObjectIdentifier: LoopQueue] = [:]
        /// The last stamp a room took (``Room/stamp``).
        var stamp: UInt64 = 0

        /// Marks `room`'s membership as changed.
        mutating func changed(_ room: inout Room) {
            stamp &+= 1
            room.stamp = stamp
        }
    }

    let settings: BroadcastSettings
    /// The broker its rooms go through; nil for an instance's own rooms (no `broker:`, or `broker: local`).
    let broker: GatewayBroker?
    private let endpoint: String
    private let state = NIOLockedValueBox(State())
    private let rejected = Atomic<Int>(0)
    private let messagesIn = Atomic<Int>(0)
    private let deliveries = Atomic<Int>(0)
    private let drops = Atomic<Int>(0)
    private let slowCloses = Atomic<Int>(0)
    private let memberNumbers = Atomic<Int>(0)
    private let policy: SlowConsumerPolicy
    private let metrics: RoomMetrics

    /// A hub for `endpoint`; with a `broker` (and unless the endpoint says `broker: local`) its rooms
    /// are shared with the other instances.
    init(settings: BroadcastSettings, endpoint: String, broker: GatewayBroker? = nil) {
        self.settings = settings
        self.endpoint = endpoint
        self.broker = settings.broker == .local ? nil : broker
        self.metrics = RoomMetrics(endpoint: endpoint)
        let queue = settings.maxQueue
        let text = queue % (1 << 20) == 0 ? "\(queue >> 20)MiB" : "\(queue) bytes"
        policy =
            settings.slowClient == .drop
            ? .drop
            : .close(CloseReason(.policyViolation, "slow consumer: more than \(text) queued"))
        self.broker?.register(self, endpoint: endpoint)
    }

    /// The next member number for `{n}`.
    func nextMemberNumber() -> Int {
        memberNumbers.add(1, ordering: .relaxed).oldValue
    }

    /// Adds a member; the welcome, then the history, reach it before any later message. `welcome` gets
    /// the room's position when `welcomeUsesPosition` (through the broker; nil otherwise).
    ///
    /// Through the broker, a member with `since` (the raw `?since=` value) gets exactly the messages
    /// after that position, or when they cannot be had `resetNotice` with the room's position and then
    /// the history; the history and those messages come from Redis
    /// (``RedisRoomBroker/replay(_:since:history:maxAge:reply:)``).
    func join(
        _ session: WebSocketSession,
        room name: String,
        welcome: @escaping @Sendable (RoomPosition?) -> PreparedMessage?,
        welcomeUsesPosition: Bool = false,
        joinNotice: PreparedMessage?,
        since: String? = nil,
        resetNotice: @escaping @Sendable (RoomPosition?) -> PreparedMessage? = { _ in nil }
    ) {
        let loopID = ObjectIdentifier(session.eventLoop)
        let replayed = broker != nil && (since != nil || settings.history > 0 || welcomeUsesPosition)
        state.withLockedValue { state in
            if let index = state.idle.firstIndex(of: name) { state.idle.remove(at: index) }
            var room = state.rooms[name] ?? Room()
            if room.count == 0, let broker {
                broker.broker.join(GatewayBroker.roomKey(endpoint: endpoint, room: name))
            }
            // Through the broker the notice comes back after the joiner is a member: it names the
            // joiner as its sender so that it skips them, as the local fan-out below does.
            let joiner = UInt64(UInt(bitPattern: ObjectIdentifier(session)))
            if let joinNotice, !publish(joinNotice, kind: .notice, room: name, sender: joiner) {
                fanOut(joinNotice, in: room, except: nil, state: &state)
            }
            if replayed {
                room.replaying[ObjectIdentifier(session)] = session
            } else {
                let first = (welcome(nil).map { [$0] } ?? []) + recentHistory(of: room)
                if !first.isEmpty { enqueue(.direct(session, first), on: session.eventLoop, state: &state) }
                room.groups[loopID, default: [:]][ObjectIdentifier(session)] = session
                state.changed(&room)
            }
            room.count += 1
            state.rooms[name] = room
        }
        metrics.members.increment()
        guard replayed, let broker else { return }
        // An unreadable since is a position of no epoch: it cannot be resumed, so the member gets the reset.
        let position = since.map { RoomPosition($0) ?? RoomPosition(epoch: "", offset: 0) }
        broker.broker.replay(
            GatewayBroker.roomKey(endpoint: endpoint, room: name), since: position, history: settings.history,
            maxAge: settings.historyTTL > .zero ? settings.historyTTL : nil
        ) { replay in
            self.replayed(
                replay, to: session, room: name, welcome: welcome(replay.position),
                reset: position != nil && !replay.resumed ? resetNotice(replay.position) : nil)
        }
    }

    /// The broker's replay for a joining member, at its place in the room's order: the welcome, the
    /// reset notice, the messages, then the member joins the room's fan-out.
    private func replayed(
        _ replay: RedisRoomBroker.Replay,
        to session: WebSocketSession,
        room name: String,
        welcome: PreparedMessage?,
        reset: PreparedMessage?
    ) {
        let joiner = UInt64(UInt(bitPattern: ObjectIdentifier(session)))
        let instance = broker?.broker.instanceID
        var first = [welcome, reset].compactMap { $0 }
        for delivery in replay.messages {
            let envelope = delivery.envelope
            // Its own join notice, published before the replay was read, is never the joiner's.
            if envelope.kind == .notice, envelope.origin == instance, envelope.sender == joiner { continue }
            if let message = Self.message(envelope) { first.append(message) }
        }
        state.withLockedValue { state in
            guard var room = state.rooms[name], room.replaying.removeValue(forKey: ObjectIdentifier(session)) != nil
            else { return }  // it left meanwhile
            if !first.isEmpty { enqueue(.direct(session, first), on: session.eventLoop, state: &state) }
            room.groups[ObjectIdentifier(session.eventLoop), default: [:]][ObjectIdentifier(session)] = session
            state.changed(&room)
            state.rooms[name] = room
        }
    }

    /// The history a joiner gets: without the messages older than `history_ttl`.
    private func recentHistory(of room: Room) -> [PreparedMessage] {
        guard settings.historyTTL > .zero else { return room.history.map(\.message) }
        let oldest = ContinuousClock.now - settings.historyTTL
        return room.history.filter { $0.at >= oldest }.map(\.message)
    }

    private static func message(_ envelope: RoomEnvelope) -> PreparedMessage? {
        envelope.kind == .binary
            ? PreparedMessage(.binary(envelope.payload)) : PreparedMessage(.text(envelope.payload))
    }

    /// Removes a member; an empty room goes away unless it keeps history.
    func leave(_ session: WebSocketSession, room name: String, leaveNotice: PreparedMessage?) {
        let loopID = ObjectIdentifier(session.eventLoop)
        let removed = state.withLockedValue { state -> Bool in
            guard var room = state.rooms[name],
                room.groups[loopID]?.removeValue(forKey: ObjectIdentifier(session)) != nil
                    || room.replaying.removeValue(forKey: ObjectIdentifier(session)) != nil
            else { return false }
            if room.groups[loopID]?.isEmpty == true { room.groups[loopID] = nil }
            state.changed(&room)
            room.count -= 1
            if room.count == 0, let broker {
                broker.broker.leave(GatewayBroker.roomKey(endpoint: endpoint, room: name))
            }
            if let leaveNotice, !publish(leaveNotice, kind: .text, room: name, sender: 0) {
                fanOut(leaveNotice, in: room, except: nil, state: &state)
            }
            if room.count > 0 {
                state.rooms[name] = room
            } else if settings.history > 0 && !room.history.isEmpty {
                state.rooms[name] = room
                state.idle.append(name)
                if state.idle.count > Self.maxIdleRooms {
                    state.rooms[state.idle.removeFirst()] = nil
                }
            } else {
                state.rooms[name] = nil
            }
            return true
        }
        if removed { metrics.members.decrement() }
    }

    /// Sends a member's message to its room: through the broker when there is one (every instance
    /// then delivers it in the room's order, this one included), else straight to the members here.
    /// `positionMarks`: where the broker writes the message's `{position}` (UTF-8 byte counts).
    /// Returns false when Redis could not take it and `on_unavailable: reject` refused it.
    @discardableResult
    func broadcast(
        _ message: PreparedMessage,
        kind: RoomEnvelope.Kind = .text,
        room name: String,
        from sender: WebSocketSession?,
        positionMarks: [Int] = []
    ) -> Bool {
        messagesIn.add(1, ordering: .relaxed)
        let senderID = sender.map { UInt64(UInt(bitPattern: ObjectIdentifier($0))) } ?? 0
        if publish(message, kind: kind, room: name, sender: senderID, positionMarks: positionMarks) { return true }
        broker?.countUnavailable()
        if broker != nil, broker?.settings.onUnavailable == .reject {
            rejected.add(1, ordering: .relaxed)
            return false
        }
        fanOutHere(message, room: name, except: settings.includeSender ? nil : sender.map(ObjectIdentifier.init))
        return true
    }

    /// Publishes through the broker; false when there is none or Redis cannot be reached now (the
    /// caller then applies `on_unavailable`).
    private func publish(
        _ message: PreparedMessage,
        kind: RoomEnvelope.Kind,
        room: String,
        sender: UInt64,
        positionMarks: [Int] = []
    ) -> Bool {
        guard let broker else { return false }
        let envelope = RoomEnvelope(
            kind: kind, origin: broker.broker.instanceID, sender: sender, payload: message.payload)
        do {
            try broker.broker.publish(
                envelope, to: GatewayBroker.roomKey(endpoint: endpoint, room: room), positionMarks: positionMarks,
                keep: settings.history, ttl: settings.historyTTL)
            return true
        } catch {
            return false
        }
    }

    /// A message the broker delivers, in the room's order: to the members here (skipping its sender
    /// when it came from this instance and `include_sender` is off), and into the history.
    func deliver(_ envelope: RoomEnvelope, room name: String) {
        guard let message = Self.message(envelope) else { return }
        let fromHere = envelope.origin == broker?.broker.instanceID && envelope.sender != 0
        let skipSender = envelope.kind == .notice || !settings.includeSender
        state.withLockedValue { state in
            guard let room = state.rooms[name] else { return }
            var except: ObjectIdentifier?
            if fromHere && skipSender {
                except = room.groups.values.lazy.flatMap(\.keys).first {
                    UInt64(UInt(bitPattern: $0)) == envelope.sender
                }
            }
            record(message, in: name, except: except, state: &state)
        }
    }

    /// Fans a message out to the members here and keeps it in the history.
    private func fanOutHere(_ message: PreparedMessage, room name: String, except: ObjectIdentifier?) {
        state.withLockedValue { state in
            record(message, in: name, except: except, state: &state)
        }
    }

    private func record(_ message: PreparedMessage, in name: String, except: ObjectIdentifier?, state: inout State) {
        guard var room = state.rooms[name] else { return }
        fanOut(message, in: room, except: except, state: &state)
        // Through the broker the history is the room's Redis stream.
        if settings.history > 0 && broker == nil {
            room.history.append((message, ContinuousClock.now))
            if room.history.count > settings.history {
                room.history.removeFirst(room.history.count - settings.history)
            }
            state.rooms[name] = room
        }
    }

    /// Queues `message` on every event loop that has members of `room` (the member sets are copied on
    /// write, so this is a reference per loop, not a copy per member).
    private func fanOut(_ message: PreparedMessage, in room: Room, except: ObjectIdentifier?, state: inout State) {
        for members in room.groups.values {
            guard let loop = members.first?.value.eventLoop else { continue }
            enqueue(.fanOut(message, members, except: except, stamp: room.stamp), on: loop, state: &state)
        }
    }

    private func enqueue(_ entry: Entry, on loop: any EventLoop, state: inout State) {
        let id = ObjectIdentifier(loop)
        var queue = state.queues[id] ?? LoopQueue(loop: loop)
        queue.entries.append(entry)
        if !queue.scheduled {
            queue.scheduled = true
            loop.execute { self.drain(id) }
        }
        state.queues[id] = queue
    }

    /// Runs on the loop (`enqueue` schedules it there): writes every queued message to its members, then
    /// flushes each member once. Every member of a loop's queue runs on that loop (groups are by loop), so
    /// the sessions are called without a check per delivery.
    private func drain(_ id: ObjectIdentifier) {
        let entries = state.withLockedValue { state -> [Entry] in
            guard var queue = state.queues[id] else { return [] }
            let entries = queue.entries
            queue.entries = []
            queue.scheduled = false
            state.queues[id] = queue
            return entries
        }
        var tally = (delivered: 0, dropped: 0, closed: 0)
        func count(_ result: OfferResult, messages: Int) {
            switch result {
            case .queued: tally.delivered += messages
            case .dropped: tally.dropped += messages
            case .closed: tally.closed += 1
            case .notOpen: break
            }
        }
        if entries.count == 1, case .fanOut(let message, let members, let except, _) = entries[0] {
            for (memberID, member) in members where memberID != except {
                count(member.offerOnLoop(message, whenFull: policy, flush: true), messages: 1)
            }
        } else {
            var written: Members = [:]
            var index = entries.startIndex
            while index < entries.endIndex {
                switch entries[index] {
                case .fanOut(let message, let members, let except, let stamp):
                    // The messages after it for the same members (same stamp, same exception) go as one batch.
                    var batch = [message]
                    index += 1
                    while index < entries.endIndex,
                        case .fanOut(let next, _, let nextExcept, let nextStamp) = entries[index],
                        nextStamp == stamp, nextExcept == except
                    {
                        batch.append(next)
                        index += 1
                    }
                    if batch.count == 1 {
                        for (memberID, member) in members where memberID != except {
                            count(member.offerOnLoop(message, whenFull: policy, flush: false), messages: 1)
                            written[memberID] = member
                        }
                    } else {
                        let prepared = PreparedBatch(batch)
                        for (memberID, member) in members where memberID != except {
                            count(member.offerOnLoop(prepared, whenFull: policy, flush: false), messages: batch.count)
                            written[memberID] = member
                        }
                    }
                case .direct(let member, let messages):
                    for message in messages {
                        count(member.offerOnLoop(message, whenFull: policy, flush: false), messages: 1)
                    }
                    written[ObjectIdentifier(member)] = member
                    index += 1
                }
            }
            for member in written.values { member.flushOnLoop() }
        }
        if tally.delivered > 0 {
            deliveries.add(tally.delivered, ordering: .relaxed)
            metrics.deliveries.increment(by: Int64(tally.delivered))
        }
        if tally.dropped > 0 {
            drops.add(tally.dropped, ordering: .relaxed)
            metrics.drops.increment(by: Int64(tally.dropped))
        }
        if tally.closed > 0 {
            slowCloses.add(tally.closed, ordering: .relaxed)
            metrics.slowCloses.increment(by: Int64(tally.closed))
        }
    }

    func statistics() -> RoomStatistics {
        let (members, idle) = state.withLockedValue { state in
            (state.rooms.mapValues(\.count), state.idle.count)
        }
        return RoomStatistics(
            members: members,
            messagesIn: messagesIn.load(ordering: .relaxed),
            deliveries: deliveries.load(ordering: .relaxed),
            drops: drops.load(ordering: .relaxed),
            slowCloses: slowCloses.load(ordering: .relaxed),
            idleRooms: idle,
            rejected: rejected.load(ordering: .relaxed)
        )
    }
}

/// A broadcast endpoint's metrics, through swift-metrics: `wsgate_room_members{endpoint}`,
/// `wsgate_room_deliveries_total{endpoint}`, `wsgate_room_drops_total{endpoint}`,
/// `wsgate_room_slow_closes_total{endpoint}`.
struct RoomMetrics: Sendable {
    let members: Meter
    let deliveries: Counter
    let drops: Counter
    let slowCloses: Counter

    init(endpoint: String) {
        let dimensions = [("endpoint", endpoint)]
        members = Meter(label: "wsgate_room_members", dimensions: dimensions)
        deliveries = Counter(label: "wsgate_room_deliveries_total", dimensions: dimensions)
        drops = Counter(label: "wsgate_room_drops_total", dimensions: dimensions)
        slowCloses = Counter(label: "wsgate_room_slow_closes_total", dimensions: dimensions)
    }
}
