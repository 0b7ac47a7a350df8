import Logging
import NIOCore

/// What a client handshake came to.
package enum ClientConnectOutcome: Sendable {
    /// The server answered 101: the session is open.
    case open(WebSocketSession)
    /// The server answered a redirect; the connection is closed.
    case redirect(status: Int, location: String)
    /// The server answered another status; the connection is closed.
    case refused(status: Int, reason: String, headers: [HTTPHeaderField])
}

/// Why a client handshake failed before an answer could be read.
package enum ClientHandshakeError: Error, Sendable, Equatable {
    /// The server's answer broke RFC 6455 §4.1.
    case invalidResponse(String)
    /// No complete answer within the handshake timeout.
    case timedOut
    /// The connection closed before the answer was complete.
    case connectionClosed
}

/// The client's opening handshake on a connected channel: writes the request, reads the response head, and
/// opens the session on the ``WebSocketConnectionHandler`` behind it. Passes bytes through afterwards.
final class ClientUpgradeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let handshake: ClientHandshake
    let requestHeaders: [(name: String, value: String)]
    let options: WebSocketOptions
    let deflate: PerMessageDeflateConfiguration?
    let timeout: TimeAmount
    let connection: WebSocketConnectionHandler
    let promise: EventLoopPromise<ClientConnectOutcome>
    private var buffer: ByteBuffer?
    private var timer: Scheduled<Void>?
    private var done = false

    init(
        handshake: ClientHandshake, requestHeaders: [(name: String, value: String)], options: WebSocketOptions,
        deflate: PerMessageDeflateConfiguration?, timeout: TimeAmount, connection: WebSocketConnectionHandler,
        promise: EventLoopPromise<ClientConnectOutcome>
    ) {
        self.handshake = handshake
        self.requestHeaders = requestHeaders
        self.options = options
        self.deflate = deflate
        self.timeout = timeout
        self.connection = connection
        self.promise = promise
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // A connection that never became active (the connect failed) ends here.
        if !done {
            done = true
            timer?.cancel()
            promise.fail(ClientHandshakeError.connectionClosed)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard timer == nil, !done else { return }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: handshake.request)), promise: nil)
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            finish(.failure(ClientHandshakeError.timedOut), context: context)
        }
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else {
            context.fireChannelRead(data)
            return
        }
        var bytes = unwrapInboundIn(data)
        if var existing = buffer.take() {
            existing.writeBuffer(&bytes)
            bytes = existing
        }
        let outcome: ClientHandshake.Outcome?
        do {
            outcome = try handshake.readResponse(from: &bytes)
        } catch {
            finish(.failure(ClientHandshakeError.invalidResponse(error.description)), context: context)
            return
        }
        guard let outcome else {
            buffer = bytes
            return
        }
        switch outcome {
        case .redirect(let status, let location):
            finish(.success(.redirect(status: status, location: location)), context: context)
        case .refused(let status, let reason, let headers):
            finish(.success(.refused(status: status, reason: reason, headers: headers)), context: context)
        case .upgraded(let agreement):
            var extensions: [any WebSocketExtension] = []
            for entry in agreement.extensions {
                guard let deflate,
                    let made = PerMessageDeflateClientNegotiation.makeExtension(entry, configuration: deflate)
                else {
                    finish(
                        .failure(ClientHandshakeError.invalidResponse("the server answered an unusable \(entry)")),
                        context: context)
                    return
                }
                extensions.append(made)
            }
            var request = WebSocketClientPipeline.request(
                target: handshake.target, headers: requestHeaders, remote: context.channel.remoteAddress)
            request.subprotocol = agreement.subprotocol
            request.responseHeaders = agreement.headers.map { (name: $0.name, value: $0.value) }
            guard let session = connection.openAsClient(request: request, options: options, extensions: extensions)
            else {
                finish(.failure(ClientHandshakeError.connectionClosed), context: context)
                return
            }
            done = true
            timer?.cancel()
            promise.succeed(.open(session))
            connection.clientOpened(leftover: bytes)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // The connection handler behind holds reads back until the session opens; the handshake reads itself.
        if !done { context.read() }
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            done = true
            timer?.cancel()
            promise.fail(ClientHandshakeError.connectionClosed)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !done { finish(.failure(error), context: context) } else { context.fireErrorCaught(error) }
    }

    private func finish(_ result: Result<ClientConnectOutcome, any Error>, context: ChannelHandlerContext) {
        guard !done else { return }
        done = true
        timer?.cancel()
        promise.completeWith(result)
        context.close(promise: nil)
    }
}

/// Puts a client connection's handlers on a channel.
package enum WebSocketClientPipeline {
    /// Adds the handshake and the connection handler to `channel` (call on its event loop, e.g. in a
    /// bootstrap's channel initializer, after any TLS handler). The future completes with the outcome, on the
    /// channel's loop and before any frame after the 101 is read.
    ///
    /// With `onMessage`, every message is handed to it on the event loop as it is read (a load client's hot
    /// loop) and the session's `incoming` stays empty; the caller reads no faster than it handles.
    package static func configure(
        _ channel: any Channel,
        handshake: ClientHandshake,
        requestHeaders: [(name: String, value: String)],
        options: WebSocketOptions,
        deflate: PerMessageDeflateConfiguration?,
        handshakeTimeout: TimeAmount,
        logger: Logger,
        onMessage: ((Frame) -> Void)? = nil
    ) throws -> EventLoopFuture<ClientConnectOutcome> {
        let promise = channel.eventLoop.makePromise(of: ClientConnectOutcome.self)
        let connection = WebSocketConnectionHandler.client(logger: logger)
        connection.onMessage = onMessage
        let upgrade = ClientUpgradeHandler(
            handshake: handshake, requestHeaders: requestHeaders, options: options, deflate: deflate,
            timeout: handshakeTimeout,
            connection: connection, promise: promise)
        try channel.pipeline.syncOperations.addHandler(upgrade)
        try channel.pipeline.syncOperations.addHandler(connection)
        return promise.futureResult
    }

    /// The request a client session reports as ``WebSocketSession/request``.
    static func request(target: String, headers: [(name: String, value: String)], remote: SocketAddress?)
        -> WebSocketRequest
    {
        let path = target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? "/"
        let query = target.firstIndex(of: "?").map { String(target[target.index(after: $0)...]) } ?? ""
        return WebSocketRequest.make(
            path: path, query: query, headers: headers, remoteAddress: remote?.ipAddress, remotePort: remote?.port)
    }
}
