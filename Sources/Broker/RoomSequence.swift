/// The order of one room's messages on one instance: what to deliver, what to drop as a
/// duplicate, which gap to fill from the room's stream first.
///
/// Offsets come from Redis (one per message per room, in publish order), so every instance
/// delivers a room's messages in the same order.
public struct RoomSequence: Sendable, Equatable {
    /// What to do with a message that arrived.
    public enum Action: Sendable, Equatable {
        /// Deliver it (it is the next one, or the first seen).
        case deliver
        /// Already delivered (a duplicate, or one a gap fill brought earlier).
        case drop
        /// Offsets `from...through` are missing: read them from the stream, deliver them, then
        /// ``skip(through:)`` and receive this message again.
        case fillGap(from: UInt64, through: UInt64)
    }

    /// The room's epoch, once a message was seen.
    public private(set) var epoch: String?
    /// The last offset delivered (0: none yet).
    public private(set) var last: UInt64 = 0
    /// Messages skipped because the stream no longer had them.
    public private(set) var lost: UInt64 = 0

    /// A sequence that has seen nothing; the first message starts it.
    public init() {}

    /// Whether the start is fixed even before an epoch is known (a room that had no messages yet).
    private var anchored = false

    /// A sequence that starts after `offset` of `epoch` (what the room had when this instance joined);
    /// with no epoch (the room has no messages yet), after `offset` of whichever epoch comes first.
    public init(epoch: String?, after offset: UInt64) {
        self.epoch = epoch
        last = offset
        anchored = true
    }

    /// Decides about the message at `offset` of `epoch`; `.deliver` also records it as delivered.
    public mutating func receive(offset: UInt64, epoch: String) -> Action {
        if self.epoch == nil && anchored {
            self.epoch = epoch
        }
        if self.epoch != epoch {
            // First message, or Redis lost the room and counts again: start here.
            self.epoch = epoch
            last = offset
            return .deliver
        }
        if offset <= last { return .drop }
        if offset == last + 1 {
            last = offset
            return .deliver
        }
        return .fillGap(from: last + 1, through: offset - 1)
    }

    /// Gives up on offsets up to `offset` (the stream no longer has them); they count as lost.
    public mutating func skip(through offset: UInt64) {
        guard offset > last else { return }
        lost += offset - last
        last = offset
    }
}
