import WebSocketEngine

/// A whole gateway configuration (version 1), with every default applied.
///
/// The defaults live in the initialisers of these structs and in ``WebSocketOptions``; the YAML
/// layer (``ConfigLoader``) only overrides what a file sets.
public struct GatewayConfiguration: Sendable {
    /// The listener and process-wide settings.
    public var server: ServerSettings
    /// The endpoint settings every endpoint starts from (`defaults:`).
    public var defaults: EndpointSettings
    /// The endpoints in file order.
    public var endpoints: [EndpointConfiguration]
    /// The folder relative paths resolve against: the config file's folder.
    public var baseDirectory: String
    /// `broker:`: the Redis that broadcast rooms share across instances; nil (the default) keeps
    /// every room in this process.
    public var broker: BrokerSettings?

    public init(
        server: ServerSettings = ServerSettings(),
        defaults: EndpointSettings = EndpointSettings(),
        endpoints: [EndpointConfiguration] = [],
        baseDirectory: String = ".",
        broker: BrokerSettings? = nil
    ) {
        self.server = server
        self.defaults = defaults
        self.endpoints = endpoints
        self.baseDirectory = baseDirectory
        self.broker = broker
    }
}

/// `broker:` — the Redis through which several wsgate instances share their broadcast rooms.
public struct BrokerSettings: Sendable, Equatable {
    /// What a broadcast endpoint does with a message while Redis cannot be reached.
    public enum OnUnavailable: String, Sendable, Equatable, CaseIterable {
        /// Refuse it: the sender's message is dropped (counted) and the session stays open.
        case reject
        /// Deliver it to this instance's members only; other instances never see it.
        case local
    }

    /// `url`: `redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS. Required; usually
    /// `${REDIS_URL}` so that the password stays out of the file.
    public var url: String
    /// `prefix`: the start of every key and channel wsgate uses, so instances of one deployment
    /// share rooms and other deployments on the same Redis do not. Default `wsgate`.
    public var prefix: String = "wsgate"
    /// `on_unavailable`. Default reject.
    public var onUnavailable: OnUnavailable = .reject
    /// `stream_size`: messages kept per room in its Redis stream (approximately, `MAXLEN ~`), from which
    /// instances fill gaps after a reconnection. Default 1000.
    public var streamSize: Int = 1000
    /// `stream_ttl`: a room's stream and offset expire this long after its last message. Default 24h.
    public var streamTTL: Duration = .seconds(86_400)
    /// `command_timeout`: how long a Redis command (a publish, a stream read) may wait for its reply;
    /// then it fails with those behind it and wsgate reconnects, so a hung Redis cannot hold publishes.
    /// Default 5s.
    public var commandTimeout: Duration = .seconds(5)

    /// Settings with `url` and every other key at its default.
    public init(url: String) {
        self.url = url
    }
}

/// `server:` — the listener.
public struct ServerSettings: Sendable, Equatable {
    /// `listen`: address and port to bind. Default `0.0.0.0:8080`.
    public var listen: ListenAddress = ListenAddress(host: "0.0.0.0", port: 8080)
    /// `max_connections`: most sessions at once; beyond it HTTP 503. Default 10000.
    public var maxConnections: Int = 10_000
    /// `max_connections_per_ip`: most sessions open at once from one client IP address; beyond it HTTP
    /// 429 with `Retry-After`. Default `Int.max` (unlimited).
    public var maxConnectionsPerIP: Int = .max
    /// `new_connections`: new sessions per second over the whole server (a token bucket); beyond it HTTP
    /// 503 with `Retry-After`. Default nil (unlimited).
    public var newConnections: RateLimit?
    /// `new_connections_per_ip`: new sessions per second from one client IP address (a token bucket
    /// each); beyond it HTTP 429 with `Retry-After`. Default nil (unlimited).
    public var newConnectionsPerIP: RateLimit?
    /// `handshake_timeout`: drop a client that has not completed its handshake by then. Default 10s.
    public var handshakeTimeout: Duration = .seconds(10)
    /// `shutdown_grace`: on SIGTERM/SIGINT, how long sessions get to close before wsgate exits. Default 10s.
    public var shutdownGrace: Duration = .seconds(10)
    /// `shutdown_spread`: spread the 1001 closes over this window so clients do not all reconnect in the
    /// same second. Default 0 (all at once).
    public var shutdownSpread: Duration = .zero
    /// `health_path`: 200 with a JSON body while serving, 503 while draining; nil disables. Default /healthz.
    public var healthPath: String? = "/healthz"
    /// `metrics_path`: Prometheus text format; nil disables. Default /metrics.
    public var metricsPath: String? = "/metrics"
    /// `console_path`: the dev console page; nil (the default) disables it.
    public var consolePath: String?
    /// `tls`: serve wss:// with this certificate; nil (the default) serves ws://.
    public var tls: TLSSettings?
    /// `api`: the backend API; nil (the default) serves none.
    public var api: APISettings?
    /// `log.level`: trace, debug, info, notice, warning, error, critical. Default info.
    public var logLevel: String = "info"
    /// The names `log.level` accepts, quietest last.
    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
    /// `log.format`: text (one readable line) or json (one object per line). Default text.
    public var logFormat: LogFormat = .text

    public init() {}

    /// The engine's limits at the door for these settings.
    public var connectionLimits: ConnectionLimits {
        ConnectionLimits(
            maxConnectionsPerAddress: maxConnectionsPerIP,
            newConnectionRate: newConnections,
            newConnectionRatePerAddress: newConnectionsPerIP
        )
    }
}

/// `server.log.format`.
public enum LogFormat: String, Sendable, Equatable, CaseIterable {
    /// `2026-11-27T10:00:00Z info wsgate: connection opened endpoint=/echo …`
    case text
    /// One JSON object per line, for log collectors.
    case json
}

/// `server.tls`: the certificate chain and key, as PEM files (paths resolved against the config file).
public struct TLSSettings: Sendable, Equatable {
    /// `certificate`: the PEM certificate chain, the server's certificate first.
    public var certificatePath: String
    /// `private_key`: the PEM private key.
    public var privateKeyPath: String

    public init(certificatePath: String, privateKeyPath: String) {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
    }
}

/// A `host:port` pair to listen on.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `[v6]:port` or `:port` (all interfaces); nil when malformed.
    public init?(parsing text: String) {
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return nil
            }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            if hostPart.contains(":") { return nil }
        }
        guard let port = Int(portPart), (0...65535).contains(port) else { return nil }
        self.host = hostPart.isEmpty ? "0.0.0.0" : String(hostPart)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Parses the authority of a URL: `host`, `host:port`, `[v6]` or `[v6]:port`, with `defaultPort` when
    /// none is written; nil when malformed, when the host is empty or the port is 0.
    public init?(authority: Substring, defaultPort: Int) {
        let hasPort =
            authority.hasPrefix("[")
            ? authority.contains("]:") : authority.contains(":")
        guard !authority.isEmpty, !authority.hasPrefix(":"),
            let parsed = ListenAddress(parsing: hasPort ? String(authority) : "\(authority):\(defaultPort)"),
            parsed.port > 0
        else { return nil }
        self = parsed
    }
}

/// Settings every endpoint has; `defaults:` sets them for all, an endpoint overrides them for itself.
public struct EndpointSettings: Sendable, Equatable {
    /// `ping_period`, `timeout`, `idle_timeout`, `max_frame_size`, `max_message_size`, `masking`,
    /// `max_connections_per_ip`.
    public var options: WebSocketOptions = WebSocketOptions()
    /// `allowed_origins`: exact origins, or `["*"]` for any. Default any.
    public var allowedOrigins: [String] = ["*"]
    /// `subprotocols`: in server preference order. Default none.
    public var subprotocols: [String] = []
    /// `extensions`: in negotiation order. Default: permessage-deflate with its defaults.
    public var extensions: [ExtensionSetting] = [.permessageDeflate(PerMessageDeflateConfiguration())]
    /// `rate`: how fast a connection may send. Default unlimited. `options.rateLimit` is made from it.
    public var rate: MessageRateSettings = MessageRateSettings() {
        didSet { options.rateLimit = rate.limit }
    }
    /// `auth`: who may open a session (a JWT). Default nil: anyone the origin check lets in.
    public var auth: AuthSettings?

    public init() {}

    /// The permessage-deflate settings, when it is enabled.
    public var deflate: PerMessageDeflateConfiguration? {
        for setting in extensions {
            if case .permessageDeflate(let configuration) = setting { return configuration }
        }
        return nil
    }
}

/// `rate: { messages, burst, bytes, bytes_burst, action }` — token buckets on what one connection
/// sends. Each key is optional; an endpoint's `rate:` keys apply over those of `defaults:`.
public struct MessageRateSettings: Sendable, Equatable {
    /// `messages`: messages per second on average. Default nil (unlimited).
    public var messagesPerSecond: Double?
    /// `burst`: messages allowed at once after a quiet period. Default: one second's worth.
    public var burst: Int?
    /// `bytes`: message payload bytes per second on average. Default nil (unlimited).
    public var bytesPerSecond: Double?
    /// `bytes_burst`: bytes allowed at once. Default: one second's worth.
    public var bytesBurst: Int?
    /// `action`: what happens to a message over the rate: drop (counted) or close (1008). Default drop.
    public var action: MessageRateLimit.Action = .drop

    public init(
        messagesPerSecond: Double? = nil,
        burst: Int? = nil,
        bytesPerSecond: Double? = nil,
        bytesBurst: Int? = nil,
        action: MessageRateLimit.Action = .drop
    ) {
        self.messagesPerSecond = messagesPerSecond
        self.burst = burst
        self.bytesPerSecond = bytesPerSecond
        self.bytesBurst = bytesBurst
        self.action = action
    }

    /// The engine's limit, nil when neither messages nor bytes are limited.
    public var limit: MessageRateLimit? {
        let messages = messagesPerSecond.map { RateLimit(perSecond: $0, burst: burst.map(Double.init)) }
        let bytes = bytesPerSecond.map { RateLimit(perSecond: $0, burst: bytesBurst.map(Double.init)) }
        guard messages != nil || bytes != nil else { return nil }
        return MessageRateLimit(messages: messages, bytes: bytes, action: action)
    }
}

/// One entry of `extensions:`.
public enum ExtensionSetting: Sendable, Equatable {
    /// `permessage-deflate: {…}` (RFC 7692).
    case permessageDeflate(PerMessageDeflateConfiguration)
    /// An extension a custom wsgate build registered by name; its parameters as written.
    case custom(name: String, parameters: [String: String])

    /// The extension name as written in YAML.
    public var name: String {
        switch self {
        case .permessageDeflate: return "permessage-deflate"
        case .custom(let name, _): return name
        }
    }
}

/// One entry of `endpoints:`.
public struct EndpointConfiguration: Sendable {
    /// `path`: a literal path or a template such as `/chat/{room}`.
    public var path: String
    /// The endpoint's settings, `defaults:` merged under its own.
    public var settings: EndpointSettings
    /// `type` and its settings.
    public var kind: EndpointKind
    /// Where the endpoint is declared.
    public var location: SourceLocation

    public init(path: String, settings: EndpointSettings, kind: EndpointKind, location: SourceLocation) {
        self.path = path
        self.settings = settings
        self.kind = kind
        self.location = location
    }
}

/// What an endpoint does.
public enum EndpointKind: Sendable, Equatable {
    /// `type: echo`.
    case echo(EchoSettings)
    /// `type: broadcast`.
    case broadcast(BroadcastSettings)
    /// `type: process`.
    case process(ProcessSettings)
    /// `type: static`: files for plain HTTP requests; may share its path with a WebSocket endpoint.
    case staticFiles(StaticSettings)
    /// `type: proxy`.
    case proxy(ProxySettings)

    /// Whether it serves WebSocket sessions (every type but `static`).
    public var isWebSocket: Bool {
        if case .staticFiles = self { return false }
        return true
    }
}

/// `type: proxy` — each client session opens one session to an upstream WebSocket service and messages
/// pass both ways (docs/proxy.md).
public struct ProxySettings: Sendable, Equatable {
    /// `upstream`: the ws:// or wss:// URLs, used round robin. Required.
    public var upstreams: [String] = []
    /// `connect_timeout`: longest wait for the upstream's TCP connection and its 101. Default 5 s.
    public var connectTimeout: Duration = .seconds(5)
    /// `pass_headers`: request header names copied to the upstream request. Default none.
    public var passHeaders: [String] = []
    /// `headers`: header fields set on the upstream request, name → value template (`{claims.NAME}` of
    /// a verified token). A client's own fields of these names are never passed. Default none.
    public var headers: [String: String] = [:]
    /// `ca_file`: a PEM file of the CA certificates that sign the upstreams' certificates (wss://), used
    /// instead of the system's roots (a private CA). Resolved against the config file's folder. Default nil.
    public var caFile: String?

    public init(
        upstreams: [String] = [], connectTimeout: Duration = .seconds(5), passHeaders: [String] = [],
        headers: [String: String] = [:], caFile: String? = nil
    ) {
        self.upstreams = upstreams
        self.connectTimeout = connectTimeout
        self.passHeaders = passHeaders
        self.headers = headers
        self.caFile = caFile
    }
}

/// `type: static` — files from a directory for `GET` and `HEAD` at the endpoint's path and below it
/// (websocketd's `--staticdir`). Nothing outside the directory is served.
public struct StaticSettings: Sendable, Equatable {
    /// `directory`: the folder served; relative to the configuration file's folder. Required.
    public var directory: String = ""
    /// `index`: the file served for a directory's path. Default `index.html`; nil: a directory is 404.
    public var index: String? = "index.html"

    public init(directory: String = "", index: String? = "index.html") {
        self.directory = directory
        self.index = index
    }
}

/// `type: process` — each connection gets its own process; messages go to its stdin, its stdout
/// comes back as messages (websocketd's contract).
public struct ProcessSettings: Sendable, Equatable {
    /// How messages map to the process's pipes.
    public enum Mode: String, Sendable, Equatable {
        /// A text message plus "\n" to stdin; each stdout line as a text message.
        case text
        /// Bytes both ways as they come.
        case binary
    }

    /// `command`: the argv, never run through a shell. Required.
    public var command: [String] = []
    /// `mode`. Default text.
    public var mode: Mode = .text
    /// `working_directory`: where the process runs; relative to the configuration file's folder.
    /// Default: that folder.
    public var workingDirectory: String?
    /// `env`: variables added to the CGI-style ones.
    public var environment: [String: String] = [:]
    /// `pass_env`: names of wsgate's own variables passed through. Default none.
    public var passEnvironment: [String] = []
    /// `max_processes`: processes at once for this endpoint; beyond it HTTP 503. Default 100.
    public var maxProcesses: Int = 100
    /// `close_grace`: after the client leaves, stdin is closed; after this SIGTERM, after as long again SIGKILL.
    /// Default 5s.
    public var closeGrace: Duration = .seconds(5)
    /// `instance: shared`: one long-lived process for the endpoint whose output every client receives.
    /// Default false (a process per connection).
    public var shared: Bool = false
    /// `input` (shared only): what a client message becomes on stdin; `{message}`, `{connection}` (the
    /// connection's number, from 0). Default `{message}`.
    public var input: String = "{message}"

    public init() {}
}

/// `type: broadcast` — a chat room: every message goes to every member. With the defaults it holds
/// Ktor's chat example word for word.
public struct BroadcastSettings: Sendable, Equatable {
    /// What a slow member gets when its queue is full.
    public enum SlowClient: String, Sendable, Equatable {
        /// Close it with 1008, saying why.
        case close
        /// Skip messages for it (counted) until its queue drains.
        case drop
    }

    /// `room`: the room name template; `{name}` path parameters are filled in. Default: the endpoint path,
    /// so the endpoint is one room.
    public var room: String?
    /// `name`: member names; `{n}` counts from 0 per endpoint, `{query.NAME}` takes a query parameter
    /// (1–32 letters, digits, `_`, `-`, `.`). Default `user{n}`.
    public var name: String = "user{n}"
    /// `welcome`: sent to a member when it joins; `{name}`, `{room}`, and with the broker `{position}` (the
    /// room's position the member starts after). Default "You've logged in as [{name}]".
    public var welcome: String? = "You've logged in as [{name}]"
    /// `format`: how a text message is relayed; `{name}`, `{message}`, `{room}`, and with the broker
    /// `{position}` (the message's own position, `EPOCH:OFFSET`, for `?since=`). Binary is relayed
    /// unchanged. Default "[{name}]: {message}".
    public var format: String = "[{name}]: {message}"
    /// `include_sender`: the sender gets its own message too. Default true.
    public var includeSender: Bool = true
    /// `history`: the last N messages replayed to a joiner (with the broker, read from the room's Redis
    /// stream). Default 0.
    public var history: Int = 0
    /// `history_ttl`: the history replays only messages younger than this; with the broker the room's
    /// stream also lives at least this long after its last message (and holds at least `history`
    /// messages). Zero: no age limit. Default 0.
    public var historyTTL: Duration = .zero
    /// `reset`: with the broker, sent to a member that asked for `?since=POSITION` when that cannot be
    /// resumed (another epoch, or older than the stream holds), before the history; `{position}` is the
    /// room's position it continues from, `{name}`, `{room}`. Nil sends nothing. Default "reset {position}".
    public var reset: String? = "reset {position}"
    /// `unavailable`: with the broker and `on_unavailable: reject`, sent to a member whose message was
    /// refused because Redis could not be reached; `{name}`, `{room}`, `{message}`. Nil (the default)
    /// sends nothing.
    public var unavailable: String?
    /// `max_queue`: bytes queued to a member before `slow_client` applies. Default 1 MiB.
    public var maxQueue: Int = 1 << 20
    /// `slow_client`. Default close.
    public var slowClient: SlowClient = .close
    /// `announce.join`: text sent to the room when a member joins; `{name}`, `{room}`. Default none.
    public var joinNotice: String?
    /// `announce.leave`: text sent to the room when a member leaves. Default none.
    public var leaveNotice: String?
    /// `broker`: where the rooms live. Default (nil): through the top-level `broker:` when the file has
    /// one, else in this process.
    public var broker: RoomBroker?

    /// Where a broadcast endpoint's rooms live.
    public enum RoomBroker: String, Sendable, Equatable, CaseIterable {
        /// Shared with other instances through the top-level `broker:`.
        case redis
        /// In this process only, even when the file has a broker.
        case local
    }

    public init() {}
}

/// `type: echo` — answers each message; with `greeting`, `reply` and `bye` it holds Ktor's echo conversation.
public struct EchoSettings: Sendable, Equatable {
    /// `greeting`: text sent when a client connects. Default none.
    public var greeting: String?
    /// `reply`: template for the answer to a text message, `{message}` being the message. Default: the
    /// message echoed as received (binary as binary).
    public var reply: String?
    /// `bye`: a text message that makes the server close the session.
    public var bye: ByeRule?

    public init(greeting: String? = nil, reply: String? = nil, bye: ByeRule? = nil) {
        self.greeting = greeting
        self.reply = reply
        self.bye = bye
    }
}

/// `bye: { text, ignore_case, reason }` of an echo endpoint.
public struct ByeRule: Sendable, Equatable {
    /// `text`: the message that ends the session.
    public var text: String
    /// `ignore_case`: compare without case. Default true.
    public var ignoreCase: Bool = true
    /// `reason`: the close reason sent with code 1000. Default empty.
    public var reason: String = ""

    public init(text: String, ignoreCase: Bool = true, reason: String = "") {
        self.text = text
        self.ignoreCase = ignoreCase
        self.reason = reason
    }

    /// Whether a received message is the bye text.
    public func matches(_ message: String) -> Bool {
        ignoreCase ? message.lowercased() == text.lowercased() : message == text
    }
}
