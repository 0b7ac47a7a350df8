import NIOConcurrencyHelpers
import WebSocketEngine

/// The members of a broadcast endpoint on this instance by room and name, so the backend API can close
/// the sessions it names.
final class MemberDirectory: Sendable {
    /// The room member objects the members' callbacks hold already (one reference per member).
    private let members = NIOLockedValueBox<[ObjectIdentifier: BroadcastEndpoint.RoomMember]>([:])

    func add(_ member: BroadcastEndpoint.RoomMember) {
        members.withLockedValue { $0[ObjectIdentifier(member.session)] = member }
    }

    func remove(_ session: WebSocketSession) {
        _ = members.withLockedValue { $0.removeValue(forKey: ObjectIdentifier(session)) }
    }

    /// Closes the members in `room` (nil: any) named `name` (nil: any) with `reason`; returns how many.
    func close(room: String?, name: String?, _ reason: CloseReason) async -> Int {
        let matching = members.withLockedValue { members in
            members.values.filter { (room == nil || $0.room == room) && (name == nil || $0.name == name) }
                .map(\.session)
        }
        await withTaskGroup(of: Void.self) { group in
            for session in matching { group.addTask { await session.close(reason) } }
        }
        return matching.count
    }
}
