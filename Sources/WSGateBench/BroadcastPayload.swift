import NIOCore

/// The broadcast messages: `|`, the send time in 16 hex digits (nanoseconds since the run started),
/// then `x` up to the message size. The same format as Benchmarks/broadcast/loadclient, so either
/// client reads what the other sends. A server may put a prefix before it (`[user0]: |…`); the `|`
/// is looked for in the first 40 bytes. `|end` tells the members that publishing is over.
enum BroadcastPayload {
    static let minimumSize = 17
    static let endMarker = "|end"

    /// What a received message is.
    enum Kind: Equatable {
        /// A timed message, sent `sentAt` nanoseconds after the start.
        case timed(sentAt: UInt64)
        /// The publisher is done.
        case end
        /// Anything else (a welcome, someone else's message).
        case other
    }

    static func make(sentAt: UInt64, size: Int, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: max(size, minimumSize))
        buffer.writeInteger(UInt8(ascii: "|"))
        let hex = Array("0123456789abcdef".utf8)
        for shift in stride(from: 60, through: 0, by: -4) {
            buffer.writeInteger(hex[Int((sentAt >> UInt64(shift)) & 0xF)])
        }
        if size > minimumSize {
            buffer.writeRepeatingByte(UInt8(ascii: "x"), count: size - minimumSize)
        }
        return buffer
    }

    static func parse(_ payload: ByteBuffer) -> Kind {
        let view = payload.readableBytesView
        guard let bar = view.prefix(40).firstIndex(of: UInt8(ascii: "|")) else { return .other }
        let rest = view[view.index(after: bar)...]
        if rest.starts(with: "end".utf8) { return .end }
        guard rest.count >= 16 else { return .other }
        var value: UInt64 = 0
        for byte in rest.prefix(16) {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return .other
            }
            value = value << 4 | UInt64(digit)
        }
        return .timed(sentAt: value)
    }
}
