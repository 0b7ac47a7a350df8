import NIOCore
import NIOSSL
import WebSocketEngine

/// How ``WebSocketClient`` connects. Every property has a default.
public struct WebSocketClientOptions: Sendable {
    /// The session's limits and keep-alive: `pingPeriod`, `timeout`, `idleTimeout`, `maxFrameSize`,
    /// `maxMessageSize`, `maxQueuedBytes`. `masking` is ignored (a client masks every frame, RFC 6455 §5.3)
    /// and so are `extensions` (see ``deflate``). Default: ``WebSocketOptions``'s defaults.
    public var webSocket: WebSocketOptions
    /// permessage-deflate offered with these settings (the `server…`/`client…` names keep their RFC 7692
    /// meaning); nil offers no extension. Default: offered as `client_no_context_takeover;
    /// client_max_window_bits` — the client compresses each message on its own (its compressor is
    /// shared per event loop, not held by the session, as the server's is by default), lets the server
    /// choose its window, and asks nothing of the server's context.
    public var deflate: PerMessageDeflateConfiguration?
    /// Longest wait for the TCP connection. Default 10 s.
    public var connectTimeout: Duration
    /// Longest wait for the server's answer to the upgrade request (after TLS). Default 10 s.
    public var handshakeTimeout: Duration
    /// Redirects (3xx with `Location`) followed; 0 refuses them with ``WebSocketClientError/redirected(status:location:)``.
    /// Default 0.
    public var maxRedirects: Int
    /// TLS for `wss://`; certificates are verified against the system's trust roots by default.
    public var tls: TLSConfiguration
    /// The event loops the connection runs on. Default: NIO's shared `MultiThreadedEventLoopGroup.singleton`.
    public var eventLoopGroup: (any EventLoopGroup)?

    /// Creates options; every argument has a default.
    public init(
        webSocket: WebSocketOptions = WebSocketOptions(),
        deflate: PerMessageDeflateConfiguration? = PerMessageDeflateConfiguration(
            serverNoContextTakeover: false, clientNoContextTakeover: true),
        connectTimeout: Duration = .seconds(10),
        handshakeTimeout: Duration = .seconds(10),
        maxRedirects: Int = 0,
        tls: TLSConfiguration = .makeClientConfiguration(),
        eventLoopGroup: (any EventLoopGroup)? = nil
    ) {
        self.webSocket = webSocket
        self.deflate = deflate
        self.connectTimeout = connectTimeout
        self.handshakeTimeout = handshakeTimeout
        self.maxRedirects = maxRedirects
        self.tls = tls
        self.eventLoopGroup = eventLoopGroup
    }
}

/// Why ``WebSocketClient/connect(url:options:headers:subprotocols:)`` failed.
public enum WebSocketClientError: Error, Sendable, CustomStringConvertible {
    /// The URL is not `ws://` or `wss://` (http and https are taken as ws and wss).
    case invalidURL(String)
    /// The TCP (or TLS) connection failed.
    case unreachable(String, underlying: String)
    /// The TCP connection did not complete within ``WebSocketClientOptions/connectTimeout``.
    case connectTimeout(String, Duration)
    /// No complete answer to the upgrade within ``WebSocketClientOptions/handshakeTimeout``.
    case handshakeTimeout(String, Duration)
    /// The server answered with a status other than 101 (and not a followed redirect).
    case refused(status: Int, reason: String, headers: [(name: String, value: String)])
    /// The server redirected and redirects are not followed (``WebSocketClientOptions/maxRedirects``).
    case redirected(status: Int, location: String)
    /// More redirects than ``WebSocketClientOptions/maxRedirects``.
    case tooManyRedirects(Int)
    /// The server's answer broke RFC 6455 §4.1 (wrong accept key, an extension or subprotocol not offered…).
    case invalidResponse(String)
    /// The connection closed before the server answered.
    case connectionClosed(String)

    /// What happened, and what to do.
    public var description: String {
        switch self {
        case .invalidURL(let url):
            return "\(url) is not a WebSocket URL; write ws://host[:port]/path or wss://…"
        case .unreachable(let url, let underlying):
            return "cannot connect to \(url): \(underlying); check the host, the port and that the server runs"
        case .connectTimeout(let url, let timeout):
            return "connecting to \(url) timed out after \(timeout); check the address and firewalls"
        case .handshakeTimeout(let url, let timeout):
            return "\(url) did not answer the WebSocket upgrade within \(timeout); is it a WebSocket server?"
        case .refused(let status, let reason, _):
            return "the server refused the upgrade with HTTP \(status) \(reason)"
        case .redirected(let status, let location):
            return "the server redirected (HTTP \(status)) to \(location); connect there, or allow redirects"
        case .tooManyRedirects(let count):
            return "more than \(count) redirects; the server may be redirecting in a loop"
        case .invalidResponse(let problem):
            return "the server's answer is not a valid WebSocket handshake: \(problem)"
        case .connectionClosed(let url):
            return "\(url) closed the connection before answering the upgrade"
        }
    }
}
