import NIOCore

/// Writes frames in RFC 6455 wire format.
package enum FrameEncoder {
    /// Writes the header of `header` (its payload length and masking key included) into `buffer`.
    package static func writeHeader(_ header: FrameHeader, into buffer: inout ByteBuffer) {
        let first = UInt8(header.fin ? 0x80 : 0) | (header.reserved.rawValue << 4) | header.opcode.rawValue
        let maskBit: UInt8 = header.maskingKey == nil ? 0 : 0x80
        buffer.writeInteger(first)
        if header.payloadLength < 126 {
            buffer.writeInteger(maskBit | UInt8(header.payloadLength))
        } else if header.payloadLength <= 0xFFFF {
            buffer.writeInteger(maskBit | 126)
            buffer.writeInteger(UInt16(header.payloadLength))
        } else {
            buffer.writeInteger(maskBit | 127)
            buffer.writeInteger(UInt64(header.payloadLength))
        }
        if let key = header.maskingKey {
            buffer.writeInteger(key.0)
            buffer.writeInteger(key.1)
            buffer.writeInteger(key.2)
            buffer.writeInteger(key.3)
        }
    }

    /// Encodes a whole frame into one new buffer, masking the payload copy when a key is given.
    package static func encode(
        fin: Bool = true,
        reserved: ReservedBits = [],
        opcode: Opcode,
        payload: ByteBuffer,
        maskingKey: (UInt8, UInt8, UInt8, UInt8)? = nil,
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) -> ByteBuffer {
        let header = FrameHeader(
            fin: fin,
            reserved: reserved,
            opcode: opcode,
            maskingKey: maskingKey,
            payloadLength: payload.readableBytes
        )
        var buffer = allocator.buffer(capacity: header.encodedSize + payload.readableBytes)
        writeHeader(header, into: &buffer)
        let payloadStart = buffer.writerIndex
        var payload = payload
        buffer.writeBuffer(&payload)
        if let maskingKey {
            let start = payloadStart - buffer.readerIndex
            buffer.withUnsafeMutableReadableBytes { bytes in
                applyMask(maskingKey, to: UnsafeMutableRawBufferPointer(rebasing: bytes[start...]), offset: 0)
            }
        }
        return buffer
    }

    /// The payload of a close frame: the code in network order and the reason cut to fit 125 bytes.
    package static func closePayload(_ reason: CloseReason?, allocator: ByteBufferAllocator = ByteBufferAllocator())
        -> ByteBuffer
    {
        guard let reason, reason.code != .noStatusReceived else { return allocator.buffer(capacity: 0) }
        var buffer = allocator.buffer(capacity: 2 + min(reason.message.utf8.count, 123))
        buffer.writeInteger(reason.code.rawValue)
        buffer.writeString(truncatedUTF8(reason.message, maxBytes: 123))
        return buffer
    }

    /// Cuts a string to at most `maxBytes` of UTF-8 without splitting a character.
    package static func truncatedUTF8(_ text: String, maxBytes: Int) -> String {
        if text.utf8.count <= maxBytes { return text }
        var result = ""
        var used = 0
        for character in text {
            let size = character.utf8.count
            if used + size > maxBytes { break }
            result.append(character)
            used += size
        }
        return result
    }
}
