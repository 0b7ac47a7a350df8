import NIOCore

/// Splits a byte stream into frame headers and payload chunks, enforcing the header rules of RFC 6455 §5.
///
/// The parser never waits for a whole frame: once a header is complete it hands out the payload as it
/// arrives (unmasked in place), so a text message can be checked byte by byte and fail fast.
package struct FrameParser: Sendable {
    /// Which side of the connection reads with this parser: a server requires masked frames, a client unmasked.
    package enum Role: Sendable { case server, client }

    /// What the parser found next in the stream.
    package enum Event: Sendable, Equatable {
        /// A complete header; its payload follows as `payload` events, then `end`.
        case header(FrameHeader)
        /// The next bytes of the current frame's payload, already unmasked.
        case payload(ByteBuffer)
        /// The current frame's payload is complete.
        case end
    }

    private enum State: Sendable {
        case header
        case payload(remaining: Int, key: (UInt8, UInt8, UInt8, UInt8)?, offset: Int)
        case endPending
    }

    private let role: Role
    private let maxFrameSize: Int
    private var state: State = .header
    /// The reserved bits negotiated extensions may set; any other reserved bit is a protocol error.
    package var allowedReservedBits: ReservedBits

    /// Creates a parser; `maxFrameSize` bounds the payload of a single frame (`Int.max`: unlimited).
    package init(role: Role, maxFrameSize: Int, allowedReservedBits: ReservedBits = []) {
        self.role = role
        self.maxFrameSize = maxFrameSize
        self.allowedReservedBits = allowedReservedBits
    }

    /// Reads the next event from `buffer`, or returns nil when more bytes are needed.
    package mutating func next(from buffer: inout ByteBuffer) throws(ProtocolViolation) -> Event? {
        switch state {
        case .header:
            guard let header = try parseHeader(&buffer) else { return nil }
            if header.payloadLength == 0 {
                state = .endPending
            } else {
                state = .payload(remaining: header.payloadLength, key: header.maskingKey, offset: 0)
            }
            return .header(header)
        case .endPending:
            state = .header
            return .end
        case .payload(let remaining, let key, let offset):
            let count = min(remaining, buffer.readableBytes)
            guard count > 0 else { return nil }
            guard var chunk = buffer.readSlice(length: count) else { return nil }
            if let key {
                // Unmask the slice, not the read buffer: once an earlier frame's slice shares the read
                // buffer's storage, writing to the buffer would copy all of it for every frame; writing
                // to the slice copies only this payload.
                chunk.withUnsafeMutableReadableBytes { bytes in applyMask(key, to: bytes, offset: offset) }
            }
            if remaining == count {
                state = .endPending
            } else {
                state = .payload(remaining: remaining - count, key: key, offset: offset + count)
            }
            return .payload(chunk)
        }
    }

    private func parseHeader(_ buffer: inout ByteBuffer) throws(ProtocolViolation) -> FrameHeader? {
        let start = buffer.readerIndex
        guard let first = buffer.getInteger(at: start, as: UInt8.self) else { return nil }
        // Check what the first byte tells as soon as it is there: fail fast.
        guard let opcode = Opcode(rawValue: first & 0x0F) else {
            throw .reservedOpcode(first & 0x0F)
        }
        let reserved = ReservedBits(rawValue: (first >> 4) & 0b111)
        guard allowedReservedBits.isSuperset(of: reserved) else {
            throw .reservedBitsSet(reserved.subtracting(allowedReservedBits))
        }
        // Extensions transform whole messages and mark only a message's first frame.
        if !reserved.isEmpty && (opcode.isControl || opcode == .continuation) {
            throw .reservedBitsSet(reserved)
        }
        let fin = first & 0x80 != 0
        if opcode.isControl && !fin { throw .fragmentedControlFrame }
        guard let second = buffer.getInteger(at: start + 1, as: UInt8.self) else { return nil }
        let masked = second & 0x80 != 0
        switch role {
        case .server where !masked: throw .unmaskedClientFrame
        case .client where masked: throw .maskedServerFrame
        default: break
        }
        let shortLength = Int(second & 0x7F)
        if opcode.isControl && shortLength > 125 { throw .controlFrameTooLong(shortLength) }
        var index = start + 2
        let length: UInt64
        switch shortLength {
        case 126:
            guard let value = buffer.getInteger(at: index, as: UInt16.self) else { return nil }
            length = UInt64(value)
            index += 2
        case 127:
            guard let value = buffer.getInteger(at: index, as: UInt64.self) else { return nil }
            if value & (1 << 63) != 0 { throw .payloadLengthTooLarge }
            length = value
            index += 8
        default:
            length = UInt64(shortLength)
        }
        if length > UInt64(maxFrameSize) { throw .frameTooLarge(length: length, limit: maxFrameSize) }
        var key: (UInt8, UInt8, UInt8, UInt8)?
        if masked {
            guard let bytes = buffer.getBytes(at: index, length: 4) else { return nil }
            key = (bytes[0], bytes[1], bytes[2], bytes[3])
            index += 4
        }
        buffer.moveReaderIndex(to: index)
        return FrameHeader(fin: fin, reserved: reserved, opcode: opcode, maskingKey: key, payloadLength: Int(length))
    }
}
