/// Where a room stands: the epoch of its offsets and the offset of a message, written `EPOCH:OFFSET`.
///
/// Clients treat it as opaque: they keep the last one they saw (`{position}` in a message) and come
/// back with `?since=POSITION` to get exactly what they missed. The epoch changes when Redis lost the
/// room (a restart without persistence, expiry), and offsets start again; a position of another
/// epoch then cannot be resumed.
public struct RoomPosition: Sendable, Hashable, CustomStringConvertible {
    /// The room's epoch (hex digits).
    public var epoch: String
    /// The offset of a message in that epoch (0: before the first).
    public var offset: UInt64

    /// A position from its parts.
    public init(epoch: String, offset: UInt64) {
        self.epoch = epoch
        self.offset = offset
    }

    /// Parses `EPOCH:OFFSET` (1 to 32 hex digits, a colon, a decimal offset); nil for anything else.
    public init?(_ text: some StringProtocol) {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let epoch = text[..<colon]
        guard (1...32).contains(epoch.count), epoch.allSatisfy(\.isHexDigit),
            let offset = UInt64(text[text.index(after: colon)...])
        else { return nil }
        self.init(epoch: String(epoch), offset: offset)
    }

    /// `EPOCH:OFFSET`.
    public var description: String { "\(epoch):\(offset)" }
}
