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
        /// Indirect: the largest payload would otherwise size every connection's phase (about 90 bytes).
        indirect case readingBody(BodyRead)
        /// The WebSocket session is open (or closing): its state lives here and nowhere else.
        case open(OpenPhase)
        case closed
    }

    let core: ServerCore
    var configuration: WebSocketServer.Configuration { core.configuration }
    var registry: ConnectionRegistry { core.registry }
    /// A client connection's own logger; nil: the server's (`core.logger`). A connection holds no metadata of
    /// its own, and a server connection no copy of the logger.
    var ownLogger: Boxed<Logger>?
    /// The server's (or the client's) logger, unchanged.
    var baseLogger: Logger { ownLogger?.value ?? core.logger }
    /// The request path and the endpoint's template once the session opened, for log lines.
    var loggedRoute: (path: String, endpoint: PathTemplate)?
    /// The endpoint's metrics, once the handshake picked a route.
    var metrics: EndpointMetrics?
    /// When the session opened (for the close log line).
    var openedAt: NIODeadline?

    var phase: Phase
    var context: ChannelHandlerContext?
    var pending: ByteBuffer?
    /// The phase's one timer: before the session opens, the handshake's (or a request body's, or kept-alive
    /// HTTP's idle limit); once it is open, the close's (the drain limit, the wait for the peer's close).
    var phaseTimer: Scheduled<Void>?
    /// HTTP keep-alive between plain requests.
    var httpKeepAlive: HTTPKeepAlive
    /// `process` is running: a response finished meanwhile lets its loop read the next request
    /// instead of calling it again (no recursion over pipelined requests).
    var processing = false
    /// The read gate and the close deferral.
    var flow = ConnectionFlow()
    /// A client that takes messages on the event loop (``WebSocketClientPipeline/configure``'s `onMessage`):
    /// messages go to it instead of `incoming`.
    var onMessage: ((Frame) -> Void)?
    /// A session driven on the loop (``WebSocketLoopCallbacks``): told once when the connection has closed.
    var onClosed: (@Sendable (CloseReason) -> Void)?
    var writabilityWaiters: [EventLoopPromise<Void>] = []
    /// Why the connection ended, for ``WebSocketSession/closeReason``: a promise made only when someone asks
    /// before the end (an idle session that nobody waits on holds none), then the reason itself.
    var closeOutcome: CloseOutcome?
    var registered = false
    /// The client address this session counts against (``ConnectionLimits/maxConnectionsPerAddress``).
    var countedAddress: String?
    /// The key this session counts under for its endpoint's own limit per address.
    var countedEndpointKey: String?
    /// A flush is queued on the loop (see `scheduleFlush`).
    var flushScheduled = false
    /// The channel's writability as its last `channelWritabilityChanged` said (the socket channel fires it
    /// synchronously inside the write or flush that crosses a watermark). Read per delivery in fan-out, where
    /// asking `context.channel.isWritable` (a pipeline hop and an atomic load) cost about a tenth of the time.
    var writable = true

    /// Fan-out bytes gathered in one loop turn are written to the channel once they reach this size (and at
    /// the flush): a batch counts against `maxQueuedBytes` in steps of at most this.
    static let corkLimit = 16 * 1024
    /// How long a close reply waits for the handler to take the messages before it.
    static let closeDrainLimit: TimeAmount = .seconds(1)
    /// The least time a close reply gets to reach a peer that stopped reading (`timeout` when longer).
    static let closeReplyLimit: TimeAmount = .seconds(1)

    init(core: ServerCore) {
        self.core = core
        self.phase = .handshake(HTTPHeadParser(maxSize: core.configuration.maxRequestHeadSize))
        self.httpKeepAlive = HTTPKeepAlive(maxRequests: core.configuration.maxRequestsPerConnection)
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        writable = context.channel.isWritable
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        // A client connection whose connect failed never saw channelInactive (ending twice is a no-op).
        ended(CloseReason(.abnormalClosure))
        endDrivenSession(CloseReason(.abnormalClosure))
    }

    /// The logger with this connection's metadata (`peer`, and `path` and `endpoint` once open), made when a
    /// line is logged: an idle connection holds no copy of it (about 0.7 KiB each).
    var logger: Logger {
        var logger = baseLogger
        if let remote = context?.channel.remoteAddress {
            logger[metadataKey: "peer"] = "\(remote.ipAddress ?? "?"):\(remote.port ?? 0)"
        }
        if let loggedRoute {
            logger[metadataKey: "path"] = "\(loggedRoute.path)"
            logger[metadataKey: "endpoint"] = "\(loggedRoute.endpoint)"
        }
        return logger
    }

    func channelActive(context: ChannelHandlerContext) {
        if configuration.handshakeTimeout > .zero {
            phaseTimer = context.eventLoop.assumeIsolated().scheduleTask(
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
        let opened = self.opened
        phase = .closed
        pending = nil
        phaseTimer?.cancel()
        opened?.keepAliveTimer?.cancel()
        let reason = opened?.machine.connectionClosed() ?? CloseReason(.abnormalClosure)
        opened?.source?.finish()
        opened?.source = nil
        failWaiters()
        ended(reason)
        endDrivenSession(reason)
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

    /// Tells a loop-driven session's callbacks that it ended, once, and lets them go (they hold the session,
    /// which holds this handler).
    func endDrivenSession(_ reason: CloseReason) {
        onMessage = nil
        guard let onClosed else { return }
        self.onClosed = nil
        onClosed(reason)
    }

    /// Why the connection ended, or a promise of it (``closeOutcome``): either fits in one pointer.
    enum CloseOutcome {
        case waiting(EventLoopPromise<CloseReason>)
        case ended(Boxed<CloseReason>)
    }

    /// Completes with the reason the connection ended (at once when it has); the promise is made on the first
    /// call. Call on `loop`, the connection's event loop.
    func closeFuture(on loop: any EventLoop) -> EventLoopFuture<CloseReason> {
        switch closeOutcome {
        case .waiting(let promise):
            return promise.futureResult
        case .ended(let reason):
            return loop.makeSucceededFuture(reason.value)
        case nil:
            let promise = loop.makePromise(of: CloseReason.self)
            closeOutcome = .waiting(promise)
            return promise.futureResult
        }
    }

    /// The connection ended with `reason`: kept for ``closeFuture(on:)``; only the first call counts.
    func ended(_ reason: CloseReason) {
        if case .ended = closeOutcome { return }
        if case .waiting(let promise) = closeOutcome { promise.succeed(reason) }
        closeOutcome = .ended(Boxed(reason))
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writable = context.channel.isWritable
        if writable {
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
        // Backpressure while open, nothing while busy between requests (see ConnectionFlow).
        if flow.read(hold: readHold, sessionOpen: sessionIsOpen, writable: writable) {
            context.read()
        }
    }

    /// The open phase's state, while the session is open or closing.
    var opened: OpenPhase? {
        if case .open(let opened) = phase { opened } else { nil }
    }

    /// Whether the session is open and not closing (the protocol state machine is `.open`).
    var sessionIsOpen: Bool { opened?.machine.state == .open }

    /// Whether the phase holds reads: while a plain response is written or an admission check runs, the
    /// next bytes wait in the socket.
    var readHold: ConnectionFlow.Hold {
        switch phase {
        case .responding, .admitting: .busy
        case .handshake, .readingBody, .open, .closed: .none
        }
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
        // The phase is looked up again after each action: one may close the connection.
        while let opened, let action = opened.machine.next(from: &buffer) {
            perform(action, in: opened, context: context)
        }
        if case .open = phase, buffer.readableBytes > 0 { pending = buffer }
    }
}
