import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A room message as it travels through Redis: its kind, where it came from, its bytes.
///
/// Layout of a stream entry's `d` field (fixed-width header, so no separator can clash with the
/// payload): one byte `t` (text), `b` (binary) or `n` (notice), 16 hex digits of the origin
/// instance, 16 hex digits of the sender on that instance (0: none), 16 hex digits of the publisher's
/// wall clock in milliseconds since 1970 (for the delivery lag), then the payload as sent. The published
/// pub/sub message is `OFFSET:EPOCH:` followed by the same entry.
public struct RoomEnvelope: Sendable, Equatable {
    /// Text or binary, as the WebSocket frame that carries it.
    public enum Kind: UInt8, Sendable, Equatable {
        /// A text frame.
        case text = 0x74  // "t"
        /// A binary frame.
        case binary = 0x62  // "b"
        /// A text frame about the sender (a join notice): never delivered to the sender itself.
        case notice = 0x6E  // "n"
    }

    /// Text or binary.
    public var kind: Kind
    /// The instance that published it (``RedisRoomBroker/instanceID``).
    public var origin: UInt64
    /// The publishing session on that instance, so it can be skipped; 0 for none.
    public var sender: UInt64
    /// When it was published: milliseconds since 1970 on the publisher's clock (0: unknown).
    public var publishedAt: UInt64
    /// The message as members receive it.
    public var payload: ByteBuffer

    /// An envelope from its parts; `publishedAt` defaults to now.
    public init(kind: Kind, origin: UInt64, sender: UInt64, publishedAt: UInt64? = nil, payload: ByteBuffer) {
        self.kind = kind
        self.origin = origin
        self.sender = sender
        self.publishedAt = publishedAt ?? Self.now()
        self.payload = payload
    }

    /// Milliseconds since 1970 by the wall clock.
    public static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return UInt64(max(time.tv_sec, 0)) * 1000 + UInt64(max(time.tv_nsec, 0) / 1_000_000)
    }

    static let headerSize = 49

    /// The stream entry's bytes.
    public func encoded() -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: Self.headerSize + payload.readableBytes)
        buffer.writeInteger(kind.rawValue)
        Self.writeHex(origin, into: &buffer)
        Self.writeHex(sender, into: &buffer)
        Self.writeHex(publishedAt, into: &buffer)
        var payload = payload
        buffer.writeBuffer(&payload)
        return buffer
    }

    /// Reads an entry; nil when it is not one (written by something else, or cut short).
    public init?(decoding entry: ByteBuffer) {
        var entry = entry
        guard let byte = entry.readInteger(as: UInt8.self), let kind = Kind(rawValue: byte),
            let origin = Self.readHex(&entry), let sender = Self.readHex(&entry),
            let publishedAt = Self.readHex(&entry)
        else { return nil }
        self.init(kind: kind, origin: origin, sender: sender, publishedAt: publishedAt, payload: entry)
    }

    private static func writeHex(_ value: UInt64, into buffer: inout ByteBuffer) {
        let digits = Array("0123456789abcdef".utf8)
        for shift in stride(from: 60, through: 0, by: -4) {
            buffer.writeInteger(digits[Int((value >> UInt64(shift)) & 0xF)])
        }
    }

    private static func readHex(_ buffer: inout ByteBuffer) -> UInt64? {
        guard let bytes = buffer.readBytes(length: 16) else { return nil }
        var value: UInt64 = 0
        for byte in bytes {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            default: return nil
            }
            value = value << 4 | UInt64(digit)
        }
        return value
    }
}

/// A published room message: `OFFSET:EPOCH:ENTRY`.
public struct PublishedRoomMessage: Sendable, Equatable {
    /// The room's offset of this message (1, 2, 3 … within one epoch).
    public var offset: UInt64
    /// The room's epoch: changes when Redis lost the room's offset (restart without persistence,
    /// expiry), so offsets restart.
    public var epoch: String
    /// The message.
    public var envelope: RoomEnvelope

    /// Parses a pub/sub payload; nil when it is not one of ours.
    public init?(_ payload: ByteBuffer) {
        let view = payload.readableBytesView
        guard let firstColon = view.firstIndex(of: UInt8(ascii: ":")),
            let secondColon = view[view.index(after: firstColon)...].firstIndex(of: UInt8(ascii: ":")),
            let offset = UInt64(String(decoding: view[..<firstColon], as: UTF8.self)),
            let envelope = RoomEnvelope(
                decoding: payload.getSlice(
                    at: payload.readerIndex + view.distance(from: view.startIndex, to: secondColon) + 1,
                    length: view.distance(from: secondColon, to: view.endIndex) - 1
                ) ?? ByteBuffer()
            )
        else { return nil }
        self.offset = offset
        self.epoch = String(decoding: view[view.index(after: firstColon)..<secondColon], as: UTF8.self)
        self.envelope = envelope
    }
}
