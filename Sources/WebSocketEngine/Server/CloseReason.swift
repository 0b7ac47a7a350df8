/// Why a WebSocket session ended: a close code from RFC 6455 §7.4 and a text message.
///
/// The names follow the RFC; Ktor's names are noted where they differ
/// (`NORMAL` is ``Code/normal``, `TOO_BIG` is ``Code/messageTooBig`` …).
public struct CloseReason: Sendable, Equatable, CustomStringConvertible {
    /// A close status code. Any 16-bit value can be represented; ``isValidOnTheWire`` says
    /// whether a peer may send it.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public init(_ rawValue: UInt16) { self.rawValue = rawValue }

        /// 1000: the purpose of the connection was fulfilled (Ktor `NORMAL`).
        public static let normal = Code(1000)
        /// 1001: the endpoint is going away: server shutdown or browser navigation (Ktor `GOING_AWAY`).
        public static let goingAway = Code(1001)
        /// 1002: the peer broke the protocol (Ktor `PROTOCOL_ERROR`).
        public static let protocolError = Code(1002)
        /// 1003: a data type the endpoint cannot accept (Ktor `CANNOT_ACCEPT`).
        public static let unsupportedData = Code(1003)
        /// 1005: no code was present in the close frame. Never sent on the wire.
        public static let noStatusReceived = Code(1005)
        /// 1006: the connection ended without a close frame. Never sent on the wire (Ktor `CLOSED_ABNORMALLY`).
        public static let abnormalClosure = Code(1006)
        /// 1007: message data inconsistent with its type, e.g. invalid UTF-8 text (Ktor `NOT_CONSISTENT`).
        public static let invalidPayload = Code(1007)
        /// 1008: a message violates policy (Ktor `VIOLATED_POLICY`).
        public static let policyViolation = Code(1008)
        /// 1009: a frame or message is larger than the endpoint accepts (Ktor `TOO_BIG`).
        public static let messageTooBig = Code(1009)
        /// 1010: the client expected an extension the server did not negotiate (Ktor `NO_EXTENSION`).
        public static let mandatoryExtension = Code(1010)
        /// 1011: the server met an unexpected condition (Ktor `INTERNAL_ERROR`).
        public static let internalError = Code(1011)
        /// 1012: the service is restarting (Ktor `SERVICE_RESTART`).
        public static let serviceRestart = Code(1012)
        /// 1013: try again later (Ktor `TRY_AGAIN_LATER`).
        public static let tryAgainLater = Code(1013)
        /// 1014: bad gateway.
        public static let badGateway = Code(1014)
        /// 1015: the TLS handshake failed. Never sent on the wire.
        public static let tlsHandshakeFailure = Code(1015)

        /// Whether a peer may put this code in a close frame (RFC 6455 §7.4.1 and the IANA registry):
        /// 1000–1003, 1007–1014, and 3000–4999 for libraries, frameworks and applications.
        public var isValidOnTheWire: Bool {
            switch rawValue {
            case 1000...1003, 1007...1014, 3000...4999: return true
            default: return false
            }
        }

        public var description: String { String(rawValue) }
    }

    /// The close code.
    public var code: Code
    /// The reason text; at most 123 bytes of UTF-8 fit in a close frame (longer text is cut on a character boundary).
    public var message: String

    /// Creates a close reason from a code and an optional message.
    public init(_ code: Code, _ message: String = "") {
        self.code = code
        self.message = message
    }

    public var description: String { message.isEmpty ? "\(code.rawValue)" : "\(code.rawValue) \(message)" }
}
