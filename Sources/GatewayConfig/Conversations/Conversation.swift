/// A scripted conversation with a gateway's endpoints, read from a conversation file (`wsgate test`).
///
/// One or more named clients connect to endpoints and take turns: each ``Step`` sends something or
/// expects something, and the first step that does not get what it expects fails the conversation.
public struct Conversation: Sendable, Equatable {
    /// What the report calls it (`name:`, else the file name).
    public var name: String
    /// The file it was read from, as given.
    public var file: String
    /// The clients in declaration order; a file without `clients:` has one, named `client`.
    public var clients: [Client]
    /// The steps in order.
    public var steps: [Step]

    public init(name: String, file: String, clients: [Client], steps: [Step]) {
        self.name = name
        self.file = file
        self.clients = clients
        self.steps = steps
    }

    /// A client and the connection it opens (at its first step, or at a `connect` step).
    public struct Client: Sendable, Equatable {
        /// The name steps address it by.
        public var name: String
        /// Path and query of the request, e.g. `/rooms/lobby?nick=ann`.
        public var target: String
        /// Extra request headers, in file order (`Sec-WebSocket-Protocol` included when subprotocols are offered).
        public var headers: [Header]

        public init(name: String, target: String, headers: [Header] = []) {
            self.name = name
            self.target = target
            self.headers = headers
        }
    }

    /// A request or response header.
    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// The name of the only client of a file without `clients:`.
    public static let defaultClientName = "client"
    /// How long a step waits when neither it nor the file says (`timeout:`).
    public static let defaultTimeout: Duration = .seconds(5)
}

/// One turn of a conversation: a client does or expects one thing.
public struct Step: Sendable, Equatable {
    /// The client that acts.
    public var client: String
    /// What it does.
    public var action: Action
    /// How long an expectation waits before it fails.
    public var timeout: Duration
    /// Where the step is written: failures point here.
    public var location: SourceLocation

    public init(client: String, action: Action, timeout: Duration, location: SourceLocation) {
        self.client = client
        self.action = action
        self.timeout = timeout
        self.location = location
    }

    /// What a step does.
    public enum Action: Sendable, Equatable {
        /// Open the connection now and check response headers (names lowercased); a client otherwise
        /// connects at its first step.
        case connect(expectHeaders: [Conversation.Header])
        /// Send a message.
        case send(Payload)
        /// The next message (pings and pongs skipped) matches.
        case expect(Expectation)
        /// The next frame is a close frame; its code and reason match when given.
        case expectClose(code: Int?, reason: String?)
        /// Nothing but pings and pongs arrives for this long.
        case expectSilence(Duration)
        /// The handshake is refused with this HTTP status.
        case expectStatus(Int)
        /// Send a close frame (the server's answer can then be expected with `expect_close`).
        case close(code: Int, reason: String)
        /// Drop the TCP connection without a close handshake.
        case disconnect
        /// Pause.
        case wait(Duration)

        /// The key the step is written with, for reports.
        public var keyword: String {
            switch self {
            case .connect: return "connect"
            case .send: return "send"
            case .expect: return "expect"
            case .expectClose: return "expect_close"
            case .expectSilence: return "expect_silence"
            case .expectStatus: return "expect_status"
            case .close: return "close"
            case .disconnect: return "disconnect"
            case .wait: return "wait"
            }
        }
    }

    /// A message to send.
    public enum Payload: Sendable, Equatable {
        case text(String)
        case binary([UInt8])
    }

    /// What an expected message must be.
    public enum Expectation: Sendable, Equatable {
        /// A text message with exactly this text.
        case text(String)
        /// A text message whose whole text matches this regular expression.
        case regex(String)
        /// A message with exactly these bytes; `isText` says which kind of message.
        case bytes([UInt8], isText: Bool)
    }
}
