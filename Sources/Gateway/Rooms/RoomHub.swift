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
    /// Messages queued to members (one per member per message).
    public var deliveries: Int
    /// Messages skipped for slow members (`slow_client: drop`).
    public var drops: Int
    /// Members closed for being slow (`slow_client: close`).
    public var slowCloses: Int
    /// Rooms kept for their history while empty.
    public var idleRooms: Int
}

/// The rooms of one broadcast endpoint.
///
/// One lock guards membership and history; fan-out happens under it as one `execute` per event loop
/// (not per member), so every member of a room sees messages in the same order, and a joiner gets its
/// welcome and the history before anything newer.
final class RoomHub: Sendable {
    /// Empty rooms kept for their history, at most (the oldest emptied is dropped first).
    static let maxIdleRooms = 1000

    private struct Room {
        /// Members grouped by event loop: fan-out posts one task per loop.
        var groups: [ObjectIdentifier: (loop: any EventLoop, members: [ObjectIdentifier: WebSocketSession])] = [:]
        var count = 0
        var history: [PreparedMessage] = []
    }

    private struct State {
        var rooms: [String: Room] = [:]
        var idle: [String] = []
    }

    let settings: BroadcastSettings
    let counters = FanOutCounters()
    private let state = NIOLockedValueBox(State())
    private let messagesIn = Atomic<Int>(0)
    private let memberNumbers = Atomic<Int>(0)
    private let policy: SlowConsumerPolicy

    init(settings: BroadcastSettings) {
        self.settings = settings
        let queue = settings.maxQueue
        let text = queue % (1 << 20) == 0 ? "\(queue >> 20)MiB" : "\(queue) bytes"
        policy =
            settings.slowClient == .drop
            ? .drop
            : .close(CloseReason(.policyViolation, "slow consumer: more than \(text) queued"))
    }

    /// The next member number for `{n}`.
    func nextMemberNumber() -> Int {
        memberNumbers.add(1, ordering: .relaxed).oldValue
    }

    /// Adds a member; the welcome, then the history, reach it before any later message.
    func join(_ session: WebSocketSession, room name: String, welcome: PreparedMessage?, joinNotice: PreparedMessage?) {
        let id = ObjectIdentifier(session)
        let loopID = ObjectIdentifier(session.eventLoop)
        state.withLockedValue { state in
            if let index = state.idle.firstIndex(of: name) { state.idle.remove(at: index) }
            var room = state.rooms[name] ?? Room()
            if let joinNotice { fanOut(joinNotice, in: room, except: nil) }
            let history = room.history
            let policy = self.policy
            let counters = self.counters
            session.eventLoop.execute {
                if let welcome { session.offer(welcome, whenFull: policy, counters: counters) }
                for message in history { session.offer(message, whenFull: policy, counters: counters) }
            }
            if room.groups[loopID] == nil { room.groups[loopID] = (session.eventLoop, [:]) }
            room.groups[loopID]?.members[id] = session
            room.count += 1
            state.rooms[name] = room
        }
    }

    /// Removes a member; an empty room goes away unless it keeps history.
    func leave(_ session: WebSocketSession, room name: String, leaveNotice: PreparedMessage?) {
        let id = ObjectIdentifier(session)
        let loopID = ObjectIdentifier(session.eventLoop)
        state.withLockedValue { state in
            guard var room = state.rooms[name], room.groups[loopID]?.members.removeValue(forKey: id) != nil else {
                return
            }
            if room.groups[loopID]?.members.isEmpty == true { room.groups[loopID] = nil }
            room.count -= 1
            if let leaveNotice { fanOut(leaveNotice, in: room, except: nil) }
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
        }
    }

    /// Sends a member's message to its room.
    func broadcast(_ message: PreparedMessage, room name: String, from sender: WebSocketSession) {
        messagesIn.add(1, ordering: .relaxed)
        let except = settings.includeSender ? nil : ObjectIdentifier(sender)
        state.withLockedValue { state in
            guard var room = state.rooms[name] else { return }
            fanOut(message, in: room, except: except)
            if settings.history > 0 {
                room.history.append(message)
                if room.history.count > settings.history {
                    room.history.removeFirst(room.history.count - settings.history)
                }
                state.rooms[name] = room
            }
        }
    }

    /// Posts one task per event loop that offers `message` to that loop's members.
    private func fanOut(_ message: PreparedMessage, in room: Room, except: ObjectIdentifier?) {
        let policy = self.policy
        let counters = self.counters
        for group in room.groups.values {
            let members = group.members
            group.loop.execute {
                for (id, member) in members where id != except {
                    member.offer(message, whenFull: policy, counters: counters)
                }
            }
        }
    }

    func statistics() -> RoomStatistics {
        let (members, idle) = state.withLockedValue { state in
            (state.rooms.mapValues(\.count), state.idle.count)
        }
        return RoomStatistics(
            members: members,
            messagesIn: messagesIn.load(ordering: .relaxed),
            deliveries: counters.delivered,
            drops: counters.dropped,
            slowCloses: counters.slowClosed,
            idleRooms: idle
        )
    }
}
