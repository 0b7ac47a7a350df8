import Logging
import NIOCore
import NIOPosix
import NIOSSL
import WebSocketEngine

/// The WebSocket client: one connection per ``connect(url:options:headers:subprotocols:)``, returning the same
/// ``WebSocketSession`` API as the server side.
///
/// ```swift
/// let session = try await WebSocketClient.connect(url: "wss://example.com/live")
/// try await session.send("hello")
/// for await frame in session.incoming { … }
/// ```
///
/// Every frame the client sends is masked (RFC 6455 §5.3); frames from the server must not be. The session's
/// ``WebSocketSession/request`` is the request sent, with ``WebSocketRequest/subprotocol`` the server's choice
/// and ``WebSocketRequest/remoteAddress`` the server's address.
public enum WebSocketClient {
    /// Connects and completes the opening handshake.
    /// - Parameters:
    ///   - url: `ws://` or `wss://` (`http(s)://` are taken as `ws(s)://`).
    ///   - options: limits, keep-alive, permessage-deflate, timeouts, redirects, TLS.
    ///   - headers: extra request header fields (`Origin`, `Authorization`, …). Fields the handshake sets itself
    ///     (`Host`, `Upgrade`, `Sec-WebSocket-*`, …) and fields with line breaks are not sent.
    ///   - subprotocols: offered in this order; the server picks one or none.
    /// - Throws: ``WebSocketClientError``.
    public static func connect(
        url: String,
        options: WebSocketClientOptions = WebSocketClientOptions(),
        headers: [(name: String, value: String)] = [],
        subprotocols: [String] = []
    ) async throws -> WebSocketSession {
        guard var target = WebSocketURL(url) else { throw WebSocketClientError.invalidURL(url) }
        var redirects = 0
        while true {
            switch try await attempt(target, options: options, headers: headers, subprotocols: subprotocols) {
            case .open(let session):
                return session
            case .refused(let status, let reason, let fields):
                throw WebSocketClientError.refused(
                    status: status, reason: reason, headers: fields.map { (name: $0.name, value: $0.value) })
            case .redirect(let status, let location):
                guard options.maxRedirects > 0 else {
                    throw WebSocketClientError.redirected(status: status, location: location)
                }
                guard redirects < options.maxRedirects else {
                    throw WebSocketClientError.tooManyRedirects(options.maxRedirects)
                }
                guard let next = target.resolving(location) else { throw WebSocketClientError.invalidURL(location) }
                redirects += 1
                target = next
            }
        }
    }

    private static func attempt(
        _ url: WebSocketURL,
        options: WebSocketClientOptions,
        headers: [(name: String, value: String)],
        subprotocols: [String]
    ) async throws -> ClientConnectOutcome {
        var generator = SystemRandomNumberGenerator()
        let handshake = ClientHandshake(
            target: url.target,
            host: url.hostHeader,
            key: ClientHandshake.randomKey(using: &generator),
            subprotocols: subprotocols,
            extensionOffers: options.deflate.map { [PerMessageDeflateClientNegotiation.offer($0)] } ?? [],
            headers: headers.map { HTTPHeaderField($0.name, $0.value) }
        )
        let logger = Logger(label: "wsgate.client")
        let timeout = TimeAmount(options.handshakeTimeout)
        let outcome = try await openChannel(url, options: options) { channel in
            try WebSocketClientPipeline.configure(
                channel, handshake: handshake, requestHeaders: headers, options: options.webSocket,
                deflate: options.deflate, handshakeTimeout: timeout, logger: logger)
        }
        do {
            return try await outcome.get()
        } catch {
            throw handshakeFailure(error, url: url, timeout: options.handshakeTimeout)
        }
    }

    /// What a failed opening handshake on `url` was, as the client reports it (for the engine's other clients
    /// too: `wsgate bench`).
    package static func handshakeFailure(_ error: any Error, url: WebSocketURL, timeout: Duration)
        -> WebSocketClientError
    {
        switch error {
        case ClientHandshakeError.timedOut: return .handshakeTimeout(url.description, timeout)
        case ClientHandshakeError.invalidResponse(let problem): return .invalidResponse(problem)
        case ClientHandshakeError.connectionClosed: return .connectionClosed(url.description)
        // TLS failures surface here: the handshake is refused before any HTTP is read.
        default: return .unreachable(url.description, underlying: "\(error)")
        }
    }

    /// The connection layer under the handshake: connects TCP to `url`'s host and port (within
    /// ``WebSocketClientOptions/connectTimeout``, `TCP_NODELAY` on), adds TLS for a secure URL
    /// (``WebSocketClientOptions/tls``, with the host name for SNI and verification unless it is an address), then
    /// lets `initialize` add its handlers. For the engine's other clients (`wsgate healthcheck`'s GET).
    /// - Throws: ``WebSocketClientError/connectTimeout(_:_:)`` or ``WebSocketClientError/unreachable(_:underlying:)``.
    package static func openChannel<Output: Sendable>(
        _ url: WebSocketURL,
        options: WebSocketClientOptions,
        initialize: @escaping @Sendable (any Channel) throws -> Output
    ) async throws -> Output {
        let group = options.eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton
        let sslContext: NIOSSLContext?
        if url.secure {
            do {
                sslContext = try NIOSSLContext(configuration: options.tls)
            } catch {
                throw WebSocketClientError.unreachable(url.description, underlying: "TLS configuration: \(error)")
            }
        } else {
            sslContext = nil
        }
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(options.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
        do {
            return try await bootstrap.connect(host: url.host, port: url.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        let isAddress = (try? SocketAddress(ipAddress: url.host, port: 0)) != nil
                        let tls = try NIOSSLClientHandler(
                            context: sslContext, serverHostname: isAddress ? nil : url.host)
                        try channel.pipeline.syncOperations.addHandler(tls)
                    }
                    return try initialize(channel)
                }
            }
        } catch ChannelError.connectTimeout {
            throw WebSocketClientError.connectTimeout(url.description, options.connectTimeout)
        } catch {
            throw WebSocketClientError.unreachable(url.description, underlying: "\(error)")
        }
    }
}
