import GatewayConfig
import WebSocketClient
import WebSocketEngine

/// What `wsgate bench` measures.
public enum BenchMode: String, Sendable, CaseIterable {
    /// Connections × messages in flight: each message is timed until its echo comes back.
    case echo
    /// N subscribers on one URL, one of them publishing: every delivery is timed.
    case broadcast
    /// Sessions per second: connect, one round trip, close, several at a time.
    case connect
    /// Open N connections and hold them (for memory per connection).
    case idle

    /// What one unit of work is called in reports.
    public var unit: String {
        switch self {
        case .echo: "messages"
        case .broadcast: "deliveries"
        case .connect: "sessions"
        case .idle: "connections"
        }
    }
}

/// A `ws://host[:port]/path[?query]` or `wss://…` address.
public struct BenchURL: Sendable, Equatable, CustomStringConvertible {
    /// The URL as the engine's client dials it.
    public var webSocketURL: WebSocketURL
    /// Whether the connections use TLS (`wss://`).
    public var secure: Bool { webSocketURL.secure }
    public var host: String { webSocketURL.host }
    public var port: Int { webSocketURL.port }
    /// The request target: path and query, starting with `/`.
    public var target: String { webSocketURL.target }

    /// Parses a `ws://` or `wss://` URL; nil for anything else.
    public init?(_ text: String) {
        let lowered = text.lowercased()
        guard lowered.hasPrefix("ws://") || lowered.hasPrefix("wss://"), let url = WebSocketURL(text) else {
            return nil
        }
        webSocketURL = url
    }

    /// The value of the `Host` header.
    var hostHeader: String { webSocketURL.hostHeader }

    public var description: String {
        "\(secure ? "wss" : "ws")://\(host.contains(":") ? "[\(host)]" : host):\(port)\(target)"
    }
}

/// Everything one `wsgate bench` run does. Every load loop ends at `messages` units of work or after
/// `duration`, whichever comes first.
public struct BenchPlan: Sendable, Equatable {
    public var mode: BenchMode
    public var url: BenchURL
    /// More URLs (`--also`), e.g. the same room on other instances: connections are spread round robin
    /// over `url` and these, the first (the publisher in broadcast) on `url`.
    public var also: [BenchURL] = []
    /// Connections (echo), members with the publisher (broadcast), sessions at a time (connect),
    /// connections to hold (idle).
    public var connections: Int
    /// Messages in flight per connection (echo), published messages in flight (broadcast), dials at a
    /// time (idle).
    public var inFlight: Int
    /// Payload bytes of each message.
    public var size: Int
    /// Send binary messages instead of text (echo).
    public var binary: Bool
    /// Offer permessage-deflate (no context takeover either way); the run fails if it is refused.
    public var deflate: Bool
    /// Stop after this long (idle: hold this long).
    public var duration: Duration
    /// Stop after this many echoes (echo), published messages (broadcast) or sessions (connect).
    public var messages: Int
    /// Event loop threads of the load client.
    public var threads: Int
    /// Longest wait for a handshake, and in broadcast for the last deliveries after publishing ends.
    public var timeout: Duration
    /// For `wss://`: trust the CA certificate(s) in this PEM file instead of the system's roots.
    public var caFile: String?

    /// The defaults for `mode`: a short run on a laptop that says something.
    public init(mode: BenchMode, url: BenchURL) {
        self.mode = mode
        self.url = url
        binary = false
        deflate = false
        duration = .seconds(10)
        threads = 1
        timeout = .seconds(10)
        switch mode {
        case .echo:
            connections = 16
            inFlight = 8
            size = 64
            messages = 1_000_000
        case .broadcast:
            connections = 1000
            inFlight = 32
            size = 64
            messages = 2000
        case .connect:
            connections = 8
            inFlight = 1
            size = 16
            messages = 1000
        case .idle:
            connections = 1000
            inFlight = 64
            size = 0
            messages = 0
        }
    }

    /// The session settings of every connection: no pings of its own (the server's are answered), the
    /// close handshake waits up to `timeout`, and messages of `size` fit.
    var sessionOptions: WebSocketOptions {
        let room = Swift.max(4 << 20, size * 2 + 4096)
        return WebSocketOptions(
            pingPeriod: .zero, timeout: timeout, maxFrameSize: room, maxMessageSize: room,
            maxQueuedBytes: Swift.max(1 << 20, size * inFlight))
    }

    /// The URL connection `index` dials: `url`, then each of `also` in turn.
    public func url(for index: Int) -> BenchURL {
        let turn = index % (also.count + 1)
        return turn == 0 ? url : also[turn - 1]
    }

    /// Why the plan cannot run, in words a user can act on; empty when it can.
    public var problems: [String] {
        var problems: [String] = []
        if connections < 1 { problems.append("--connections must be at least 1") }
        if inFlight < 1 { problems.append("--in-flight must be at least 1") }
        if size < 0 || size > 1 << 26 { problems.append("--size must be between 0 and 64MiB") }
        if mode == .broadcast && size < BroadcastPayload.minimumSize {
            problems.append(
                "--size must be at least \(BroadcastPayload.minimumSize) in broadcast mode (a send time travels in each message)"
            )
        }
        if mode != .idle && messages < 1 { problems.append("--messages must be at least 1") }
        if duration <= .zero { problems.append("--duration must be more than 0") }
        if threads < 1 || threads > 64 { problems.append("--threads must be between 1 and 64") }
        if timeout <= .zero { problems.append("--timeout must be more than 0") }
        return problems
    }

    /// Parses `250ms`, `15s`, `2m` or a plain number of seconds (`1.5`).
    public static func parseDuration(_ text: String) -> Duration? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            // "ms" also ends in "s": leave "250ms" to its own suffix.
            if suffix == "s" && number.hasSuffix("m") { continue }
            guard let value = Double(number), value >= 0, value.isFinite else { return nil }
            return .milliseconds(Int64((value * scale * 1000).rounded()))
        }
        guard let value = Double(text), value >= 0, value.isFinite else { return nil }
        return .milliseconds(Int64((value * 1000).rounded()))
    }
}

extension Duration {
    /// Seconds as a Double.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
