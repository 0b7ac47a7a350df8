/// The opcode of a WebSocket frame (RFC 6455 §5.2).
package enum Opcode: UInt8, Sendable, Hashable {
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA

    /// Control frames (close, ping, pong) have the high bit of the opcode set.
    package var isControl: Bool { rawValue & 0x8 != 0 }
}

/// The three reserved bits of a frame header, as a mask over RSV1 (0b100), RSV2 (0b010) and RSV3 (0b001).
package struct ReservedBits: OptionSet, Sendable, Hashable {
    package let rawValue: UInt8
    package init(rawValue: UInt8) { self.rawValue = rawValue & 0b111 }

    package static let rsv1 = ReservedBits(rawValue: 0b100)
    package static let rsv2 = ReservedBits(rawValue: 0b010)
    package static let rsv3 = ReservedBits(rawValue: 0b001)
}
