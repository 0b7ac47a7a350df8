import Foundation
import WebSocketEngine

/// Every configuration key: its type, default and effect. The loader takes its key lists from here,
/// `wsgate schema` turns it into JSON Schema and docs/configuration.md is generated from it, so the
/// three cannot drift apart. Defaults are read from the settings types, never written twice.
public enum ConfigReference {
    /// The type of a value.
    public indirect enum ValueType: Sendable {
        case string, boolean, duration, size, hostPort, template
        case integer(ClosedRange<Int>)
        case stringList
        /// One text value, or a list of them.
        case stringOrList
        case oneOf([String])
        case nullable(ValueType)
        case object([Key])
        case stringOrObject([Key])
        /// A rate of things: `20/s`, `1200/m`, `100/h`, or a number per second.
        case rate
        /// A rate of bytes: `1MiB/s`, `64KiB/s`.
        case byteRate
        /// A value of the inner type, or the word `unlimited`.
        case unlimitedOr(ValueType)
        /// A rate, or a mapping with these keys.
        case rateOrObject([Key])
        /// `extensions:` — permessage-deflate's keys, or a registered name with text parameters.
        case extensions([Key])
        /// The `endpoints:` list.
        case endpoints
        /// A mapping of names to text.
        case stringMap
    }

    /// One key.
    public struct Key: Sendable {
        public let name: String
        public let type: ValueType
        public let defaultValue: String?
        public let summary: String
        public let required: Bool

        init(_ name: String, _ type: ValueType, _ defaultValue: String?, _ summary: String, required: Bool = false) {
            self.name = name
            self.type = type
            self.defaultValue = defaultValue
            self.summary = summary
            self.required = required
        }
    }

    static func duration(_ value: Duration) -> String {
        let (seconds, attoseconds) = value.components
        if seconds == 0 && attoseconds == 0 { return "0" }
        if attoseconds == 0 && seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if attoseconds == 0 { return seconds % 60 == 0 ? "\(seconds / 60)m" : "\(seconds)s" }
        return "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000)ms"
    }

    static func size(_ value: Int) -> String {
        if value == Int.max { return "unlimited" }
        if value >= 1 << 20 && value % (1 << 20) == 0 { return "\(value >> 20)MiB" }
        if value >= 1 << 10 && value % (1 << 10) == 0 { return "\(value >> 10)KiB" }
        return "\(value)"
    }

    static let serverDefaults = ServerSettings()
    static let endpointDefaults = EndpointSettings()
    static let deflateDefaults = PerMessageDeflateConfiguration()
    static let broadcastDefaults = BroadcastSettings()

    /// `server.log`.
    public static let log: [Key] = [
        Key(
            "level",
            .oneOf(ServerSettings.logLevels),
            serverDefaults.logLevel,
            "log level; `--log-level` overrides it"
        ),
        Key(
            "format", .oneOf(LogFormat.allCases.map(\.rawValue)), serverDefaults.logFormat.rawValue,
            "`text`, or `json`: one object per line for log collectors"),
    ]

    /// `server.tls`.
    public static let tls: [Key] = [
        Key("certificate", .string, nil, "PEM certificate chain, the server's first", required: true),
        Key("private_key", .string, nil, "PEM private key", required: true),
    ]

    /// `server.new_connections` and `server.new_connections_per_ip` written as a mapping.
    public static let connectionRate: [Key] = [
        Key("rate", .rate, nil, "sessions per second on average: `200/s`, `1200/m`", required: true),
        Key("burst", .integer(1...10_000_000), "one second's worth", "sessions allowed at once after a quiet period"),
    ]

    /// `rate:` of `defaults:` and every endpoint.
    public static let messageRate: [Key] = [
        Key("messages", .unlimitedOr(.rate), "unlimited", "messages per second on average: `20/s`, `1200/m`"),
        Key(
            "burst", .integer(1...1_000_000_000), "one second's worth",
            "messages allowed at once after a quiet period"),
        Key(
            "bytes", .unlimitedOr(.byteRate), "unlimited",
            "message payload bytes per second (after decompression): `1MiB/s`"),
        Key(
            "bytes_burst", .size, "one second's worth",
            "bytes allowed at once; a larger message passes only when the bucket is full"),
        Key(
            "action", .oneOf(MessageRateLimit.Action.allCases.map(\.rawValue)),
            MessageRateLimit.Action.drop.rawValue,
            "a message over the rate: `drop` it (counted in `wsgate_rate_limited_total`) or `close` with 1008"),
    ]

    /// `server.api`.
    public static let api: [Key] = [
        Key(
            "path", .string, "/api",
            "prefix of the routes: `POST {path}/publish`, `GET {path}/rooms`, `POST {path}/disconnect`"),
        Key(
            "key", .string, nil, "bearer key of every request (at least 16 bytes), e.g. `${WSGATE_API_KEY}`",
            required: true),
        Key(
            "listen", .hostPort, nil,
            "the API's own address, e.g. `127.0.0.1:8081` (keep it private); without it, the API answers under "
                + "`path` on the gateway's own port"),
        Key("max_body", .size, "1MiB", "a larger request body gets HTTP 413"),
    ]

    /// `server:`.
    public static let server: [Key] = [
        Key(
            "listen", .hostPort, "\(serverDefaults.listen)",
            "address to bind; `--listen` and `WSGATE_LISTEN` override it"),
        Key(
            "max_connections",
            .integer(1...10_000_000),
            "\(serverDefaults.maxConnections)",
            "sessions beyond it get HTTP 503 before upgrading"
        ),
        Key(
            "max_connections_per_ip", .unlimitedOr(.integer(1...10_000_000)), "unlimited",
            "WebSocket sessions open at once from one client IP; beyond it HTTP 429 with `Retry-After: 1`"),
        Key(
            "new_connections", .unlimitedOr(.rateOrObject(connectionRate)), "unlimited",
            "new WebSocket sessions per second over the server, e.g. `200/s` or `{ rate: 200/s, burst: 400 }`; beyond it HTTP 503 with `Retry-After`"
        ),
        Key(
            "new_connections_per_ip", .unlimitedOr(.rateOrObject(connectionRate)), "unlimited",
            "new WebSocket sessions per second from one client IP, e.g. `5/s`; beyond it HTTP 429 with `Retry-After`"
        ),
        Key(
            "handshake_timeout",
            .duration,
            duration(serverDefaults.handshakeTimeout),
            "a client that has not completed its handshake by then is dropped"
        ),
        Key(
            "shutdown_grace", .duration, duration(serverDefaults.shutdownGrace),
            "SIGTERM/SIGINT: sessions get 1001 and this long to close, then wsgate exits 0"),
        Key(
            "shutdown_spread", .duration, duration(serverDefaults.shutdownSpread),
            "spread the 1001 closes over this window (below shutdown_grace) so clients reconnect gradually"),
        Key(
            "health_path", .nullable(.string), serverDefaults.healthPath,
            "HTTP GET: 200 and a JSON status while serving, 503 while draining; null disables"),
        Key(
            "metrics_path", .nullable(.string), serverDefaults.metricsPath,
            "HTTP GET: Prometheus text format; null disables"),
        Key(
            "console_path", .nullable(.string), nil,
            "HTTP GET: the dev console page (connect, send, watch); null disables"),
        Key("tls", .nullable(.object(tls)), nil, "serve wss:// with this certificate and key; null: ws://"),
        Key("log", .object(log), nil, "logging"),
        Key(
            "api", .nullable(.object(api)), nil,
            "the backend API (publish, rooms, disconnect) behind a bearer key, on the gateway's port or its own; null: none"
        ),
    ]

    /// `extensions.permessage-deflate`.
    public static let deflate: [Key] = [
        Key("enabled", .boolean, "true", "offer compression (RFC 7692) to clients that ask for it"),
        Key(
            "compression_level", .integer(0...9), "\(deflateDefaults.compressionLevel)",
            "zlib level for what the server sends"),
        Key("compress_min_size", .size, size(deflateDefaults.compressMinSize), "smaller messages go uncompressed"),
        Key(
            "server_no_context_takeover",
            .boolean,
            "\(deflateDefaults.serverNoContextTakeover)",
            "compress each message on its own: no compressor per session, one compression per broadcast "
                + "(false: better ratio on small repetitive messages, a compressor per session; also when the client asks)"
        ),
        Key(
            "client_no_context_takeover",
            .boolean,
            "\(deflateDefaults.clientNoContextTakeover)",
            "ask clients to reset theirs after every message"
        ),
        Key(
            "server_max_window_bits",
            .integer(8...15),
            "\(deflateDefaults.serverMaxWindowBits)",
            "largest window the server compresses with (8 means 9: zlib cannot use 8)"
        ),
        Key(
            "client_max_window_bits",
            .integer(8...15),
            "\(deflateDefaults.clientMaxWindowBits)",
            "window clients are asked to keep to, when they offer to be limited"
        ),
        Key(
            "memory_level",
            .integer(1...9),
            "\(deflateDefaults.memoryLevel)",
            "zlib memory level of a compressor that keeps its context (lower: less memory, slower)"
        ),
    ]

    /// `auth.jwt`.
    public static let jwt: [Key] = [
        Key("secret", .string, nil, "HMAC secret for HS256/384/512 (at least 32 bytes), e.g. `${JWT_SECRET}`"),
        Key(
            "public_key", .string, nil,
            "PEM public key file (relative to the config file): RSA for RS*/PS*, EC for ES256/384/512, Ed25519 for EdDSA"
        ),
        Key(
            "jwks", .string, nil,
            "a JSON Web Key Set: https:// URL (cached, refreshed every 5m, and at once for an unknown `kid`, at most every 10s) or a file"
        ),
        Key("jwks_ca", .string, nil, "PEM roots the jwks URL's certificate must chain to; default: the system's"),
        Key("issuer", .string, nil, "the `iss` a token must carry; default: any"),
        Key("audience", .string, nil, "a value the token's `aud` must hold; default: any"),
        Key(
            "leeway", .duration, duration(JWTSettings(key: .secret("")).leeway),
            "clock skew allowed for `exp` and `nbf`"),
        Key(
            "token_from", .stringList, "[query:token, header:Authorization]",
            "where the token is looked for, in order: `query:NAME`, `header:NAME` (Authorization: Bearer), `cookie:NAME` (needs allowed_origins), `subprotocol` (`base64url.bearer.<token>`)"
        ),
        Key(
            "rooms_claim", .string, nil,
            "a claim listing the rooms a token may join (`\"*\"`, `\"team-*\"`); another room gets HTTP 403"),
    ]

    static let webhookDefaults = WebhookSettings(url: "")

    /// `auth.webhook` written as a mapping.
    public static let webhook: [Key] = [
        Key("url", .string, nil, "http:// or https:// URL the check is POSTed to", required: true),
        Key("timeout", .duration, duration(webhookDefaults.timeout), "no answer by then: HTTP 503 (fail closed)"),
        Key(
            "max_concurrent", .integer(1...100_000), "\(webhookDefaults.maxConcurrent)",
            "checks in flight at once; beyond it HTTP 503"),
        Key(
            "headers", .stringList, "[\(webhookDefaults.headers.joined(separator: ", "))]",
            "request headers forwarded to the backend (`Cookie` needs allowed_origins)"),
    ]

    /// `auth:`.
    public static let auth: [Key] = [
        Key("jwt", .object(jwt), nil, "a signed token (JWT) checked before the upgrade; missing or bad: HTTP 401"),
        Key(
            "webhook", .stringOrObject(webhook), nil,
            "POST the request to a backend: 2xx admits (JSON may set name, rooms, claims), 401/403 pass through, anything else 503"
        ),
    ]

    /// Settings every endpoint has (`defaults:` and each endpoint).
    public static let settings: [Key] = [
        Key(
            "ping_period", .duration, duration(endpointDefaults.options.pingPeriod),
            "server pings this often; 0 disables"),
        Key(
            "timeout",
            .duration,
            duration(endpointDefaults.options.timeout),
            "no pong within it: close 1011; also how long to wait for the client's close frame"
        ),
        Key(
            "idle_timeout", .duration, duration(endpointDefaults.options.idleTimeout),
            "no message for this long: close 1000; 0 disables"),
        Key("max_frame_size", .size, size(endpointDefaults.options.maxFrameSize), "larger frame: close 1009"),
        Key("max_message_size", .size, size(endpointDefaults.options.maxMessageSize), "larger message: close 1009"),
        Key(
            "masking", .boolean, "\(endpointDefaults.options.masking)",
            "mask server frames (browsers refuse it; validate warns)"),
        Key(
            "allowed_origins", .stringList, "[\"*\"]",
            "exact origins; another Origin gets HTTP 403; requests without Origin pass"),
        Key("subprotocols", .stringList, "[]", "server preference order: the first one the client offers wins"),
        Key(
            "extensions",
            .nullable(.extensions(deflate)),
            "permessage-deflate on",
            "extensions in negotiation order, by name; null turns all off"
        ),
        Key(
            "max_connections_per_ip", .unlimitedOr(.integer(1...10_000_000)), "unlimited",
            "sessions of this endpoint open at once from one client IP; beyond it HTTP 429 with `Retry-After: 1`"),
        Key(
            "rate", .unlimitedOr(.nullable(.object(messageRate))), "unlimited",
            "how fast one connection may send: `{ messages: 20/s, burst: 40, action: drop }`; `rate:` keys of an endpoint apply over those of `defaults:`"
        ),
        Key(
            "auth", .nullable(.object(auth)), nil,
            "who may connect: `{ jwt: { secret: ${JWT_SECRET} } }`; claims fill `{claims.NAME}`; null: anyone"),
    ]

    /// `bye:` of an echo endpoint.
    public static let bye: [Key] = [
        Key("text", .string, nil, "the message that ends the session", required: true),
        Key("ignore_case", .boolean, "true", "compare without case"),
        Key("reason", .string, "\"\"", "the close reason sent with 1000"),
    ]

    /// The keys of `type: echo`.
    public static let echo: [Key] = [
        Key("greeting", .nullable(.string), nil, "text sent when a client connects"),
        Key(
            "reply", .nullable(.template), nil,
            "answer template for text, `{message}` being the message; default: echo as received"),
        Key("bye", .nullable(.stringOrObject(bye)), nil, "a text that closes the session with 1000"),
    ]

    /// `announce:` of a broadcast endpoint.
    public static let announce: [Key] = [
        Key("join", .nullable(.template), nil, "sent to the room when a member joins; `{name}`, `{room}`"),
        Key("leave", .nullable(.template), nil, "sent to the room when a member leaves; `{name}`, `{room}`"),
    ]

    /// The keys of `type: broadcast`.
    public static let broadcast: [Key] = [
        Key("room", .template, "the request path", "room name; `{name}` path parameters"),
        Key(
            "name", .template, broadcastDefaults.name,
            "member name; `{n}` counts from 0 in the order handshakes are answered, `{query.NAME}` reads the query"),
        Key(
            "welcome", .nullable(.template), broadcastDefaults.welcome.map { "\"\($0)\"" },
            "sent to a joiner; `{name}`, `{room}`, with the broker `{position}`"),
        Key(
            "format", .template, "\"\(broadcastDefaults.format)\"",
            "how text is relayed; `{name}`, `{room}`, `{message}`, with the broker `{position}`; binary passes unchanged"
        ),
        Key("include_sender", .boolean, "\(broadcastDefaults.includeSender)", "the sender gets its own message"),
        Key(
            "history", .integer(0...10_000), "\(broadcastDefaults.history)",
            "the last N messages, replayed to a joiner (from Redis with the broker)"
        ),
        Key(
            "history_ttl", .duration, duration(broadcastDefaults.historyTTL),
            "replay only history younger than this (0: any age); with the broker, its stream lives at least this long"),
        Key(
            "reset", .nullable(.template), broadcastDefaults.reset.map { "\"\($0)\"" },
            "with the broker: sent when `?since=` cannot be resumed, before the history; `{position}`, `{name}`, `{room}`"
        ),
        Key(
            "unavailable", .nullable(.template), broadcastDefaults.unavailable.map { "\"\($0)\"" },
            "with the broker and on_unavailable: reject, sent to a sender whose message Redis could not take; `{name}`, `{room}`, `{message}`"
        ),
        Key(
            "max_queue", .size, size(broadcastDefaults.maxQueue), "bytes queued to a member before slow_client applies"),
        Key(
            "slow_client", .oneOf(["close", "drop"]), broadcastDefaults.slowClient.rawValue,
            "close (1008) or drop messages for a slow member"),
        Key("announce", .object(announce), nil, "join and leave notices"),
        Key(
            "broker", .oneOf(BroadcastSettings.RoomBroker.allCases.map(\.rawValue)),
            "redis with a broker, else local",
            "redis: rooms shared with other instances through `broker:`; local: this process only"),
    ]

    static let brokerDefaults = BrokerSettings(url: "")

    /// `broker:`.
    public static let broker: [Key] = [
        Key(
            "url", .string, nil,
            "redis://[[user]:password@]host[:port][/db] or rediss:// (TLS); e.g. ${REDIS_URL}", required: true),
        Key("prefix", .string, brokerDefaults.prefix, "start of every Redis key and channel wsgate uses"),
        Key(
            "on_unavailable", .oneOf(BrokerSettings.OnUnavailable.allCases.map(\.rawValue)),
            brokerDefaults.onUnavailable.rawValue,
            "while Redis is unreachable: reject a message (counted), or deliver it on this instance only"),
        Key(
            "stream_size", .integer(1...1_000_000), "\(brokerDefaults.streamSize)",
            "messages kept per room in Redis (about), for filling gaps after a reconnection"),
        Key(
            "stream_ttl", .duration, duration(brokerDefaults.streamTTL),
            "a room's stream and offset expire this long after its last message"),
        Key(
            "command_timeout", .duration, duration(brokerDefaults.commandTimeout),
            "a Redis command without a reply by then fails (with those behind it) and wsgate reconnects"),
    ]

    static let processDefaults = ProcessSettings()

    /// The keys of `type: process`.
    public static let process: [Key] = [
        Key(
            "command", .stringList, nil, "the argv, run without a shell; a bare name is looked up in wsgate's PATH",
            required: true),
        Key(
            "mode", .oneOf(["text", "binary"]), processDefaults.mode.rawValue,
            "text: a line per message; binary: raw chunks"),
        Key(
            "working_directory", .string, "the config file's folder",
            "where the process runs (relative to the config file)"),
        Key("env", .stringMap, "{}", "variables added to the CGI-style ones"),
        Key(
            "pass_env", .stringList, "[]",
            "names of wsgate's own variables to pass through (their values as wsgate had them when it loaded the file: at start and on reload)"
        ),
        Key(
            "max_processes", .integer(1...100_000), "\(processDefaults.maxProcesses)",
            "processes at once; beyond it HTTP 503"),
        Key(
            "close_grace", .duration, duration(processDefaults.closeGrace),
            "after the client leaves: stdin closed, then SIGTERM, then SIGKILL, this far apart"),
        Key(
            "instance",
            .oneOf(["connection", "shared"]),
            "connection",
            "a process per connection, or one shared process whose output every client receives"
        ),
        Key("input", .template, "{message}", "shared: a client message on stdin; `{message}`, `{connection}`"),
    ]

    static let staticDefaults = StaticSettings()

    /// The keys of `type: static`.
    public static let staticFiles: [Key] = [
        Key(
            "directory", .string, nil,
            "the folder served (relative to the config file); nothing outside it is ever served", required: true),
        Key(
            "index", .nullable(.string), staticDefaults.index,
            "the file served for a directory's path; null: directories are 404"),
    ]

    static let proxyDefaults = ProxySettings()

    /// The keys of `type: proxy`.
    public static let proxy: [Key] = [
        Key(
            "upstream", .stringOrList, nil,
            "ws:// or wss:// URL of the WebSocket service; a list is used round robin", required: true),
        Key(
            "connect_timeout", .duration, duration(proxyDefaults.connectTimeout),
            "longest wait to connect and upgrade to the upstream; beyond it the client gets HTTP 504"),
        Key(
            "pass_headers", .stringList, "[]",
            "request headers copied to the upstream (X-Forwarded-For, -Proto and -Host are always set)"),
        Key(
            "ca_file", .nullable(.string), "null",
            "PEM file of the CA certificates that sign the upstreams' certificates (wss://), instead of the system's roots"
        ),
        Key(
            "headers", .stringMap, "{}",
            "header fields set on the upstream request; values are templates with `{claims.NAME}` of the token `auth:` verified (control characters removed); the client's own fields of these names are dropped"
        ),
    ]

    /// The endpoint types and their own keys.
    public static let endpointTypes: [(name: String, keys: [Key])] = [
        ("echo", echo), ("broadcast", broadcast), ("process", process), ("static", staticFiles),
        ("proxy", proxy),
    ]

    /// The endpoint types that serve files, not WebSocket sessions: they take no session settings
    /// (`ping_period`, `extensions`, …).
    public static let plainTypes: Set<String> = ["static"]

    /// Keys every endpoint has besides its settings.
    public static let endpointBase: [Key] = [
        Key("path", .string, nil, "a literal path or a template such as `/chat/{room}`", required: true),
        Key("type", .oneOf(endpointTypes.map(\.name)), nil, "what the endpoint does", required: true),
    ]

    /// The top level.
    public static let topLevel: [Key] = [
        Key("version", .integer(1...1), nil, "the format version; must be 1", required: true),
        Key("server", .object(server), nil, "the listener"),
        Key("defaults", .object(settings), nil, "settings every endpoint starts from"),
        Key(
            "broker", .nullable(.object(broker)), nil,
            "Redis shared by several instances for their broadcast rooms; null: rooms stay in each process"),
        Key("endpoints", .endpoints, nil, "the endpoints", required: true),
    ]
}
