/// A rule of RFC 6455 that the peer broke, with the close code it maps to.
///
/// This is the one table from wire errors to close codes: every failure the
/// state machines detect is one of these cases, and `closeCode` is the only
/// place that decides which RFC code the peer is told.
package enum ProtocolViolation: Error, Sendable, Equatable, CustomStringConvertible {
    case unmaskedClientFrame
    case maskedServerFrame
    case reservedBitsSet(ReservedBits)
    case reservedOpcode(UInt8)
    case fragmentedControlFrame
    case controlFrameTooLong(Int)
    case payloadLengthTooLarge
    case frameTooLarge(length: UInt64, limit: Int)
    case messageTooLarge(limit: Int)
    /// A frame or message claims more bytes than the engine can hold (``EngineLimits/largestMessage``),
    /// whatever the configured limits: the limits were `unlimited` or larger than that.
    case beyondEngineLimit(length: UInt64)
    case continuationWithoutStart
    case dataFrameInsideFragmentedMessage
    case invalidUTF8InText
    case invalidUTF8InCloseReason
    case closePayloadOfOneByte
    case invalidCloseCode(UInt16)
    case extensionFailed(String)

    /// The close code sent to the peer when the connection fails for this reason.
    package var closeCode: CloseReason.Code {
        switch self {
        case .frameTooLarge, .messageTooLarge, .beyondEngineLimit: return .messageTooBig
        case .invalidUTF8InText, .invalidUTF8InCloseReason: return .invalidPayload
        default: return .protocolError
        }
    }

    package var description: String {
        switch self {
        case .unmaskedClientFrame: return "client frame is not masked"
        case .maskedServerFrame: return "server frame is masked"
        case .reservedBitsSet(let bits): return "reserved bits \(bits.rawValue) set without an extension that uses them"
        case .reservedOpcode(let op): return "reserved opcode \(op)"
        case .fragmentedControlFrame: return "fragmented control frame"
        case .controlFrameTooLong(let n): return "control frame of \(n) bytes (at most 125)"
        case .payloadLengthTooLarge: return "payload length has its most significant bit set"
        case .frameTooLarge(let length, let limit): return "frame of \(length) bytes exceeds max_frame_size \(limit)"
        case .messageTooLarge(let limit): return "message exceeds max_message_size \(limit)"
        case .beyondEngineLimit(let length):
            return "message of \(length) bytes exceeds the largest this server holds (\(EngineLimits.largestMessage))"
        case .continuationWithoutStart: return "continuation frame without a message to continue"
        case .dataFrameInsideFragmentedMessage: return "new data frame before the fragmented message ended"
        case .invalidUTF8InText: return "text message is not valid UTF-8"
        case .invalidUTF8InCloseReason: return "close reason is not valid UTF-8"
        case .closePayloadOfOneByte: return "close frame with a one-byte payload"
        case .invalidCloseCode(let code): return "invalid close code \(code)"
        case .extensionFailed(let why): return "extension could not restore the message: \(why)"
        }
    }
}
