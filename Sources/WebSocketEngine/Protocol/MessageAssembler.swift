import NIOCore

/// A complete data message: text (valid UTF-8) or binary.
package struct AssembledMessage: Sendable, Equatable {
    package enum Kind: Sendable, Equatable { case text, binary }
    package var kind: Kind
    package var data: ByteBuffer
    /// The reserved bits of the message's first frame, for extensions (e.g. RSV1: compressed).
    package var reserved: ReservedBits
}

/// Reassembles data frames into messages (RFC 6455 §5.4): fragmentation rules, `max_message_size`,
/// and fail-fast UTF-8 validation of text, chunk by chunk.
///
/// Text whose first frame has a reserved bit set was transformed by an extension (e.g. compressed):
/// it is validated after the extension restores it, not here.
package struct MessageAssembler: Sendable {
    private struct Partial: Sendable {
        var kind: AssembledMessage.Kind
        var reserved: ReservedBits
        var data: ByteBuffer?
        var size: Int
        var validator: UTF8Validator
    }

    private let maxMessageSize: Int
    private var partial: Partial?
    private var frameFin = false
    private var frameLength = 0
    /// Shared by every assembler (an allocator is four function pointers: 32 bytes a connection).
    private static let allocator = ByteBufferAllocator()

    /// Creates an assembler; `maxMessageSize` bounds the reassembled message (`Int.max`: unlimited, which
    /// means ``EngineLimits/largestMessage``).
    package init(maxMessageSize: Int) {
        self.maxMessageSize = maxMessageSize
    }

    /// Bytes of storage the message being assembled holds now (0 between messages).
    package var heldCapacity: Int { partial?.data?.capacity ?? 0 }

    /// A data frame's header arrived.
    package mutating func frameStarted(_ header: FrameHeader) throws(ProtocolViolation) {
        switch header.opcode {
        case .continuation:
            guard partial != nil else { throw .continuationWithoutStart }
        case .text, .binary:
            guard partial == nil else { throw .dataFrameInsideFragmentedMessage }
            partial = Partial(
                kind: header.opcode == .text ? .text : .binary,
                reserved: header.reserved,
                data: nil,
                size: 0,
                validator: UTF8Validator()
            )
        case .close, .ping, .pong:
            return
        }
        guard let current = partial else { return }
        // Refuse an oversized message at the header, before its payload arrives. The declared length is
        // only compared, never allocated: a header may claim up to 2^63 − 1 bytes.
        if header.payloadLength > maxMessageSize - current.size {
            throw .messageTooLarge(limit: maxMessageSize)
        }
        if header.payloadLength > EngineLimits.largestMessage - current.size {
            throw .beyondEngineLimit(length: UInt64(header.payloadLength) &+ UInt64(current.size))
        }
        frameFin = header.fin
        frameLength = header.payloadLength
    }

    /// The next (unmasked) payload bytes of the current data frame.
    package mutating func append(_ chunk: ByteBuffer) throws(ProtocolViolation) {
        guard var current = partial else { return }
        partial = nil  // keep `current.data` uniquely referenced while appending
        if current.kind == .text && current.reserved.isEmpty {
            let valid = chunk.withUnsafeReadableBytes { current.validator.validate($0) }
            if !valid { throw .invalidUTF8InText }
        }
        current.size += chunk.readableBytes
        if current.data == nil {
            if frameFin && chunk.readableBytes == frameLength {
                // A whole single-frame message: keep the slice, no copy.
                current.data = chunk
            } else {
                // Sized by the bytes that arrived, not by the length the header claims: the buffer grows
                // (doubling) as payload comes in.
                var buffer = Self.allocator.buffer(capacity: chunk.readableBytes)
                var chunk = chunk
                buffer.writeBuffer(&chunk)
                current.data = buffer
            }
        } else {
            var chunk = chunk
            current.data?.writeBuffer(&chunk)
        }
        partial = current
    }

    /// The current data frame ended; returns the message when it was the final fragment.
    package mutating func frameEnded() throws(ProtocolViolation) -> AssembledMessage? {
        guard frameFin, let current = partial else { return nil }
        if current.kind == .text && current.reserved.isEmpty
            && !current.validator.isComplete
        {
            throw .invalidUTF8InText
        }
        partial = nil
        frameFin = false
        return AssembledMessage(
            kind: current.kind,
            data: current.data ?? Self.allocator.buffer(capacity: 0),
            reserved: current.reserved
        )
    }
}
