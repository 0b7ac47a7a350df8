import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// A message encoded once for many sessions: fan-out writes the same bytes to every member.
///
/// The plain frame (no extension) is built once. Sessions whose extensions give the same output for
/// the same input (for example permessage-deflate without server context takeover) share one
/// encoding per setting; only sessions with per-session state (deflate with context takeover, or
/// `masking`) encode for themselves.
public final class PreparedMessage: Sendable {
    let opcode: Opcode
    /// The payload as given.
    public let payload: ByteBuffer
    /// Header and payload of the unextended frame.
    let plainFrame: ByteBuffer
    private let shared = NIOLockedValueBox<[String: ByteBuffer]>([:])

    /// Prepares a `.text` or `.binary` frame; other frames are refused (nil).
    public convenience init?(_ frame: Frame) {
        switch frame {
        case .text(let payload): self.init(opcode: .text, payload: payload)
        case .binary(let payload): self.init(opcode: .binary, payload: payload)
        default: return nil
        }
    }

    /// Prepares a text message.
    public convenience init(text: String) {
        self.init(opcode: .text, payload: ByteBuffer(string: text))
    }

    private init(opcode: Opcode, payload: ByteBuffer) {
        self.opcode = opcode
        self.payload = payload
        plainFrame = FrameEncoder.encode(opcode: opcode, payload: payload)
    }

    /// The frame after the extensions identified by `key`, made once by `encode` and then shared.
    func frame(sharedAs key: String, encode: () throws -> ByteBuffer) rethrows -> ByteBuffer {
        if let cached = shared.withLockedValue({ $0[key] }) { return cached }
        let encoded = try encode()
        return shared.withLockedValue { cache in
            if let existing = cache[key] { return existing }
            cache[key] = encoded
            return encoded
        }
    }
}

/// What ``WebSocketSession/offer(_:whenFull:counters:)`` does when the session already has its
/// `maxQueuedBytes` waiting to be sent.
public enum SlowConsumerPolicy: Sendable, Equatable {
    /// Close the session with this reason (e.g. 1008 and why).
    case close(CloseReason)
    /// Skip this message for the session and count it.
    case drop
}

/// Counts what fan-out did; shared by every session of a room or endpoint.
public final class FanOutCounters: Sendable {
    private let deliveredCount = Atomic<Int>(0)
    private let droppedCount = Atomic<Int>(0)
    private let slowClosedCount = Atomic<Int>(0)

    public init() {}

    /// Messages queued to sessions.
    public var delivered: Int { deliveredCount.load(ordering: .relaxed) }
    /// Messages skipped for sessions over their queue limit (`drop`).
    public var dropped: Int { droppedCount.load(ordering: .relaxed) }
    /// Sessions closed for being over their queue limit (`close`).
    public var slowClosed: Int { slowClosedCount.load(ordering: .relaxed) }

    func countDelivered() { deliveredCount.add(1, ordering: .relaxed) }
    func countDropped() { droppedCount.add(1, ordering: .relaxed) }
    func countSlowClosed() { slowClosedCount.add(1, ordering: .relaxed) }
}
