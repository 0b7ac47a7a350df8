/// The header of one WebSocket frame (RFC 6455 §5.2), without its payload.
package struct FrameHeader: Sendable, Equatable {
    package var fin: Bool
    package var reserved: ReservedBits
    package var opcode: Opcode
    /// The masking key, present on every client-to-server frame.
    package var maskingKey: (UInt8, UInt8, UInt8, UInt8)?
    package var payloadLength: Int

    package init(
        fin: Bool,
        reserved: ReservedBits = [],
        opcode: Opcode,
        maskingKey: (UInt8, UInt8, UInt8, UInt8)? = nil,
        payloadLength: Int
    ) {
        self.fin = fin
        self.reserved = reserved
        self.opcode = opcode
        self.maskingKey = maskingKey
        self.payloadLength = payloadLength
    }

    package static func == (lhs: FrameHeader, rhs: FrameHeader) -> Bool {
        lhs.fin == rhs.fin && lhs.reserved == rhs.reserved && lhs.opcode == rhs.opcode
            && lhs.payloadLength == rhs.payloadLength
            && lhs.maskingKey.map { [$0.0, $0.1, $0.2, $0.3] } == rhs.maskingKey.map { [$0.0, $0.1, $0.2, $0.3] }
    }

    /// Bytes the header takes on the wire.
    package var encodedSize: Int {
        let lengthBytes = payloadLength < 126 ? 0 : (payloadLength <= 0xFFFF ? 2 : 8)
        return 2 + lengthBytes + (maskingKey == nil ? 0 : 4)
    }
}
