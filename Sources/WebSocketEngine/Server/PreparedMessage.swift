import NIOConcurrencyHelpers
import NIOCore

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

/// Prepared messages written to each session as one: the messages a room's loop turn fans out to the same
/// members. Their frames, one after another, are built once per encoding (as a ``PreparedMessage``'s are)
/// and each member gets them in one write, instead of a pass through its pipeline per message.
package final class PreparedBatch: Sendable {
    /// The messages, in order.
    package let messages: [PreparedMessage]
    /// The messages' unextended frames, one after another.
    let plainFrames: ByteBuffer
    private let shared = NIOLockedValueBox<[String: ByteBuffer]>([:])

    /// A batch of `messages` (at least one), in order.
    package init(_ messages: [PreparedMessage]) {
        self.messages = messages
        var frames = ByteBuffer()
        frames.reserveCapacity(messages.reduce(0) { $0 + $1.plainFrame.readableBytes })
        for message in messages { frames.writeImmutableBuffer(message.plainFrame) }
        plainFrames = frames
    }

    /// The frames after the extensions identified by `key` (not empty), each message's made by `encode`
    /// (which shares it with the message's own cache), concatenated once and then shared.
    func frames(sharedAs key: String, encode: (PreparedMessage) throws -> ByteBuffer) rethrows -> ByteBuffer {
        if let cached = shared.withLockedValue({ $0[key] }) { return cached }
        var frames = ByteBuffer()
        for message in messages {
            var frame = try encode(message)
            frames.writeBuffer(&frame)
        }
        return shared.withLockedValue { cache in
            if let existing = cache[key] { return existing }
            cache[key] = frames
            return frames
        }
    }
}

/// What ``WebSocketSession/offer(_:whenFull:flush:)`` does when the session already has its
/// `maxQueuedBytes` waiting to be sent.
public enum SlowConsumerPolicy: Sendable, Equatable {
    /// Close the session with this reason (e.g. 1008 and why).
    case close(CloseReason)
    /// Skip this message for the session.
    case drop
}

/// What became of an offered message.
public enum OfferResult: Sendable, Equatable {
    /// Queued to be sent.
    case queued
    /// Skipped: the session's queue was full (`.drop`).
    case dropped
    /// The session's queue was full and it is now closing (`.close`).
    case closed
    /// The session is closing or closed (or the call was not on its event loop); nothing was queued.
    case notOpen
}
