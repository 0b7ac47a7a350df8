/// Every key of a conversation file (`wsgate test`): its type and effect. The conversation loader takes
/// its key lists from here and ``ConversationSchema`` turns it into schemas/wsgate-test.schema.json, so
/// the two cannot drift apart.
public enum ConversationReference {
    /// The type of a value.
    public indirect enum ValueType: Sendable {
        case string, duration, stringMap, stringList
        case integer(ClosedRange<Int>)
        case oneOf([String])
        /// Nothing: the key alone (`- connect`) or `null`.
        case null
        /// Any one of these forms.
        case anyOf([ValueType])
        /// A mapping of these keys; when `exactlyOne` is not empty, exactly one of those keys is present.
        case object([Key], exactlyOne: [String])
        /// `clients:`: a list of names, or a mapping of names to connection keys.
        case clients
        /// `steps:`: the list of steps.
        case steps
    }

    /// One key.
    public struct Key: Sendable {
        public let name: String
        public let type: ValueType
        public let summary: String
        public let required: Bool

        init(_ name: String, _ type: ValueType, _ summary: String, required: Bool = false) {
            self.name = name
            self.type = type
            self.summary = summary
            self.required = required
        }
    }

    /// A message given as text or bytes (`send:`).
    public static let payload: [Key] = [
        Key("text", .string, "a text message"),
        Key("hex", .string, "a binary message, as hex digits (spaces allowed)"),
        Key("base64", .string, "a binary message, as base64"),
    ]

    /// What an expected message must be (`expect:`).
    public static let expectation: [Key] = [
        Key("text", .string, "a text message with exactly this text"),
        Key("regex", .string, "a text message whose whole text matches this regular expression"),
        Key("hex", .string, "a message with exactly these bytes, as hex digits (spaces allowed)"),
        Key("base64", .string, "a message with exactly these bytes, as base64"),
        Key("type", .oneOf(["text", "binary"]), "the kind of message for hex and base64 (default: binary)"),
    ]

    /// A close code and reason (`close:` and `expect_close:`).
    public static let close: [Key] = [
        Key("code", .integer(1000...4999), "the close code"),
        Key("reason", .string, "the close reason text"),
    ]

    /// What `connect:` checks.
    public static let connect: [Key] = [
        Key("expect_headers", .stringMap, "response headers that must have exactly these values (names in any case)")
    ]

    /// Where a client connects; at the top level for every client, or per client under `clients:`.
    public static let connection: [Key] = [
        Key("endpoint", .string, "the request path, e.g. `/echo` or `/rooms/lobby?nick=ann`"),
        Key("query", .stringMap, "query parameters added to the path"),
        Key("headers", .stringMap, "request headers, e.g. `Origin`"),
        Key("subprotocols", .stringList, "offered as `Sec-WebSocket-Protocol`"),
    ]

    /// What a step does: each step has exactly one of these.
    public static let actions: [Key] = [
        Key(
            "send", .anyOf([.string, .object(payload, exactlyOne: payload.map(\.name))]),
            "send a message: text, or `{ hex: … }` / `{ base64: … }` for binary"),
        Key(
            "expect", .anyOf([.string, .object(expectation, exactlyOne: ["text", "regex", "hex", "base64"])]),
            "the next message (pings skipped) is exactly this text, or matches `{ regex: … }`, `{ hex: … }`, `{ base64: … }`"
        ),
        Key(
            "expect_close", .anyOf([.null, .integer(1000...4999), .object(close, exactlyOne: [])]),
            "the next frame is a close frame, with this code (and reason) when given"),
        Key("expect_silence", .duration, "no message arrives for this long"),
        Key("expect_status", .integer(100...599), "the handshake is refused with this HTTP status"),
        Key(
            "connect", .anyOf([.null, .object(connect, exactlyOne: [])]),
            "open the connection now (a client otherwise connects at its first step)"),
        Key(
            "close", .anyOf([.null, .integer(1000...4999), .object(close, exactlyOne: [])]),
            "send a close frame (default code 1000)"),
        Key("disconnect", .null, "drop the connection without a close frame"),
        Key("wait", .duration, "pause"),
    ]

    /// Actions that may stand alone, without a value (`- connect`, `- ann: expect_close`).
    public static let bareActions: [String] = actions.filter { key in
        if case .null = key.type { return true }
        guard case .anyOf(let forms) = key.type else { return false }
        return forms.contains { if case .null = $0 { true } else { false } }
    }.map(\.name)

    /// Keys a step may have besides its action.
    public static let stepOptions: [Key] = [
        Key("timeout", .duration, "how long this step waits (default: the file's `timeout`)")
    ]

    /// The top level.
    public static let topLevel: [Key] =
        [
            Key("name", .string, "what the report calls the conversation (default: the file name)"),
            Key("timeout", .duration, "how long each step waits unless it says otherwise (default: 5s)"),
        ] + connection + [
            Key("clients", .clients, "named clients, e.g. `[ann, bob]`; steps then start with the name"),
            Key("steps", .steps, "the conversation, in order", required: true),
        ]
}
