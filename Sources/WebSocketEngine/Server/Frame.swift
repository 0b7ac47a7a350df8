import NIOCore

/// A WebSocket frame as the session API sees it (Ktor's `Frame`).
///
/// `incoming` yields whole messages as `.text` or `.binary` (fragments are reassembled, pings are
/// answered by the engine); `send` accepts any case.
public enum Frame: Sendable, Equatable {
    /// A text message; its bytes are valid UTF-8 when it came from a peer.
    case text(ByteBuffer)
    /// A binary message.
    case binary(ByteBuffer)
    /// A close frame; `nil` means no status code.
    case close(CloseReason?)
    /// A ping, with at most 125 bytes of payload.
    case ping(ByteBuffer)
    /// A pong, with at most 125 bytes of payload.
    case pong(ByteBuffer)

    /// A text frame holding `string` (Ktor's `Frame.Text(String)`).
    public static func text(_ string: String) -> Frame { .text(ByteBuffer(string: string)) }

    /// A binary frame holding `bytes`.
    public static func binary(_ bytes: [UInt8]) -> Frame { .binary(ByteBuffer(bytes: bytes)) }

    /// The text of a `.text` frame (Ktor's `readText()`); nil for other frames.
    public func readText() -> String? {
        guard case .text(let buffer) = self else { return nil }
        return String(buffer: buffer)
    }

    /// The payload bytes (Ktor's `readBytes()`); for `.close`, the encoded code and reason.
    public func readBytes() -> [UInt8] {
        switch self {
        case .text(let buffer), .binary(let buffer), .ping(let buffer), .pong(let buffer):
            return Array(buffer.readableBytesView)
        case .close(let reason):
            return Array(FrameEncoder.closePayload(reason).readableBytesView)
        }
    }
}

/// Errors the session API throws.
public enum WebSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The session is closing or closed; nothing more can be sent.
    case sessionClosed
    /// A ping or pong payload longer than 125 bytes.
    case controlFrameTooLong(Int)

    public var description: String {
        switch self {
        case .sessionClosed: return "the WebSocket session is closed"
        case .controlFrameTooLong(let size): return "control frame payload of \(size) bytes (at most 125)"
        }
    }
}
