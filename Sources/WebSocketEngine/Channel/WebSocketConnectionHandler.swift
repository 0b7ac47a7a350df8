import Logging
import NIOCore

/// Drives one TCP connection: reads the HTTP upgrade request, then runs the WebSocket protocol by
/// feeding bytes to ``ConnectionStateMachine`` and ``KeepAlive`` and performing the actions they return.
///
/// Confined to its channel's event loop; the session reaches it through `NIOLoopBound`.
final class WebSocketConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Phase {
        /// Reading a request head: the first, or the next one on a kept-alive connection.
        case handshake(HTTPHeadParser)
        /// Writing a plain HTTP response: later bytes wait in `pending` (pipelined requests are answered
        /// in order) and reading stops until the response is out.
        case responding
        /// The route's asynchronous admission runs: nothing is read until it answers.
        case admitting
        /// Reading the body of a request to a body route (``WebSocketRouter/handle(under:maxBodySize:handler:)``).
        case readingBody(BodyRead)
        case open
        case closed
    }

    let core: ServerCore
    var configuration: WebSocketServer.Configuration { core.configuration }
    var registry: ConnectionRegistry { core.registry }
    var logger: Logger
    /// The endpoint's metrics, once the handshake picked a route.
    var metrics: EndpointMetrics?
    /// When the session opened (for the close log line).
    var openedAt: NIODeadline?

    var phase: Phase
    var context: ChannelHandlerContext?
    var pending: ByteBuffer?
    var options = WebSocketOptions()
    var machine: ConnectionStateMachine?
    var extensions = ExtensionPipeline([])
    /// How this session shares encodings of prepared messages; nil: it encodes its own.
    var sharedEncodingKey: String? = ""
    var keepAlive: KeepAlive?
    var keepAliveTimer: Scheduled<Void>?
    var closeTimer: Scheduled<Void>?
    var handshakeTimer: Scheduled<Void>?
    /// HTTP keep-alive between plain requests.
    var httpKeepAlive: HTTPKeepAlive
    /// `process` is running: a response finished meanwhile lets its loop read the next request
    /// instead of calling it again (no recursion over pipelined requests).
    var processing = false
    var source: WebSocketSession.Incoming.Producer.Source?
    /// A client that takes messages on the event loop (``WebSocketClientPipeline/configure``'s `onMessage`):
    /// messages go to it instead of `incoming`.
    var onMessage: ((Frame) -> Void)?
    var consumerWantsMore = true
    var readPending = false
    var writabilityWaiters: [EventLoopPromise<Void>] = []
    var closePromise: EventLoopPromise<CloseReason>?
    var registered = false
    /// The client address this session counts against (``ConnectionLimits/maxConnectionsPerAddress``).
    var countedAddress: String?
    /// The key this session counts under for its endpoint's own limit per address.
    var countedEndpointKey: String?
    /// The message rate of the session, when its endpoint limits it.
    var rateLimiter: MessageRateLimiter?
    let consumption = Consumption()
    /// A close reply or failure close waiting until the handler has finished with the messages that came
    /// before it (its `incoming` loop ended), so answers to those still go out before the close frame
    /// (RFC 6455 §5.5.1 allows finishing the current message first).
    var pendingClose: (reason: CloseReason, then: ConnectionStateMachine.AfterClose)?
    /// Once the close frame is written, nothing more may be sent.
    var closeWritten = false
    var consumerGone = false
    /// A flush is queued on the loop (see `scheduleFlush`).
    var flushScheduled = false
    /// A message went into `incoming` (the handler has something to answer before a close reply).
    var deliveredMessage = false

    /// How long a close reply waits for the handler to take the messages before it.
    static let closeDrainLimit: TimeAmount = .seconds(1)
    /// The least time a close reply gets to reach a peer that stopped reading (`timeout` when longer).
    static let closeReplyLimit: TimeAmount = .seconds(1)

    init(core: ServerCore) {
        self.core = core
        self.logger = core.logger
        self.phase = .handshake(HTTPHeadParser(maxSize: core.configuration.maxRequestHeadSize))
        self.httpKeepAlive = HTTPKeepAlive(maxRequests: core.configuration.maxRequestsPerConnection)
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        closePromise = context.eventLoop.makePromise(of: CloseReason.self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        // A client connection whose connect failed never saw channelInactive (completing twice is a no-op).
        closePromise?.succeed(CloseReason(.abnormalClosure))
    }

    func channelActive(context: ChannelHandlerContext) {
        if let remote = context.channel.remoteAddress {
            logger[metadataKey: "peer"] = "\(remote.ipAddress ?? "?"):\(remote.port ?? 0)"
        }
        if configuration.handshakeTimeout > .zero {
            handshakeTimer = context.eventLoop.assumeIsolated().scheduleTask(
                in: TimeAmount(configuration.handshakeTimeout)
            ) { [self] in
                guard case .handshake = phase else { return }
                logger.debug("handshake timed out")
                core.metrics.refused(.handshakeTimeout)
                phase = .closed
                context.close(promise: nil)
            }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        metrics?.bytesReceived.increment(by: Int64(bytes.readableBytes))
        if var buffer = pending.take(), buffer.readableBytes > 0 {
            buffer.writeBuffer(&bytes)
            pending = buffer
        } else {
            pending = bytes
        }
        process(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        phase = .closed
        pending = nil
        handshakeTimer?.cancel()
        keepAliveTimer?.cancel()
        closeTimer?.cancel()
        let reason = machine?.connectionClosed() ?? CloseReason(.abnormalClosure)
        source?.finish()
        source = nil
        failWaiters()
        closePromise?.succeed(reason)
        if registered {
            registry.remove(ObjectIdentifier(self))
            registered = false
        }
        releaseAddress()
        if let metrics, let openedAt {
            metrics.open.decrement()
            metrics.closed(code: reason.code.rawValue)
            let milliseconds = (NIODeadline.now() - openedAt).nanoseconds / 1_000_000
            logger.info(
                "connection closed",
                metadata: [
                    "code": "\(reason.code.rawValue)", "reason": "\(reason.message)", "duration_ms": "\(milliseconds)",
                ]
            )
        }
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            let waiters = writabilityWaiters
            writabilityWaiters.removeAll()
            for waiter in waiters { waiter.succeed() }
            resumeReadIfPossible(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        // Backpressure: while the session is open, read only when the handler consumes messages and our
        // own output drains. While closing, keep reading to see the peer's close frame.
        if machine?.state == .open && (!consumerWantsMore || !context.channel.isWritable) {
            readPending = true
            return
        }
        // While a plain response is written or an admission check runs, the next bytes wait in the socket.
        switch phase {
        case .responding, .admitting:
            readPending = true
            return
        case .handshake, .readingBody, .open, .closed:
            break
        }
        context.read()
    }

    // MARK: Input

    func process(context: ChannelHandlerContext) {
        let outer = processing
        processing = true
        defer { processing = outer }
        // A loop, not recursion: a kept-alive connection may hold several pipelined requests.
        while true {
            switch phase {
            case .handshake(var parser):
                guard var buffer = pending.take() else { return }
                let head: HTTPRequestHead?
                do {
                    head = try parser.parse(&buffer)
                } catch {
                    switch error {
                    case .tooLarge(let limit):
                        refuse(
                            .headTooLarge,
                            .error(431, "Request Header Fields Too Large", "The request head exceeds \(limit) bytes."),
                            context: context
                        )
                    case .malformed(let problem):
                        refuse(
                            .malformedRequest,
                            .error(400, "Bad Request", "Malformed request: \(problem)."),
                            context: context
                        )
                    }
                    return
                }
                phase = .handshake(parser)
                pending = buffer.readableBytes > 0 ? buffer : nil
                guard let head else { return }
                upgrade(head, context: context)
                switch phase {
                case .handshake: continue
                case .open: drainFrames(context: context)
                case .readingBody: continue
                case .responding, .admitting, .closed: break
                }
                return
            case .open:
                drainFrames(context: context)
                return
            case .readingBody(var read):
                guard read.remaining > 0 else {
                    answerBody(read, context: context)
                    return
                }
                guard var buffer = pending.take() else { return }
                let taken = min(read.remaining, buffer.readableBytes)
                read.body += buffer.readBytes(length: taken) ?? []
                read.remaining -= taken
                pending = buffer.readableBytes > 0 ? buffer : nil
                if read.remaining > 0 {
                    phase = .readingBody(read)
                    return
                }
                answerBody(read, context: context)
                return
            case .responding, .admitting:
                return
            case .closed:
                pending = nil
                return
            }
        }
    }

    func drainFrames(context: ChannelHandlerContext) {
        guard var buffer = pending.take() else { return }
        while let action = machine?.next(from: &buffer) {
            perform(action, context: context)
        }
        if case .open = phase, buffer.readableBytes > 0 { pending = buffer }
    }
}
