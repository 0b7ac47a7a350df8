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

    private enum Phase {
        case handshake(HTTPHeadParser)
        case open
        case closed
    }

    private let router: WebSocketRouter
    private let configuration: WebSocketServer.Configuration
    private let registry: ConnectionRegistry
    private var logger: Logger

    private var phase: Phase
    private var context: ChannelHandlerContext?
    private var pending: ByteBuffer?
    private var options = WebSocketOptions()
    private var machine: ConnectionStateMachine?
    private var extensions = ExtensionPipeline([])
    /// How this session shares encodings of prepared messages; nil: it encodes its own.
    private var sharedEncodingKey: String? = ""
    private var keepAlive: KeepAlive?
    private var keepAliveTimer: Scheduled<Void>?
    private var closeTimer: Scheduled<Void>?
    private var handshakeTimer: Scheduled<Void>?
    private var source: WebSocketSession.Incoming.Producer.Source?
    private var consumerWantsMore = true
    private var readPending = false
    private var writabilityWaiters: [EventLoopPromise<Void>] = []
    private var closePromise: EventLoopPromise<CloseReason>?
    private var registered = false
    private let consumption = Consumption()
    /// A close reply or failure close waiting until the handler has finished with the messages that came
    /// before it (its `incoming` loop ended), so answers to those still go out before the close frame
    /// (RFC 6455 §5.5.1 allows finishing the current message first).
    private var pendingClose: (reason: CloseReason, then: ConnectionStateMachine.AfterClose)?
    /// Once the close frame is written, nothing more may be sent.
    private var closeWritten = false
    private var consumerGone = false

    /// How long a close reply waits for the handler to take the messages before it.
    static let closeDrainLimit: TimeAmount = .seconds(1)

    init(
        router: WebSocketRouter,
        configuration: WebSocketServer.Configuration,
        registry: ConnectionRegistry,
        logger: Logger
    ) {
        self.router = router
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        self.phase = .handshake(HTTPHeadParser(maxSize: configuration.maxRequestHeadSize))
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        closePromise = context.eventLoop.makePromise(of: CloseReason.self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
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
                phase = .closed
                context.close(promise: nil)
            }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
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
            logger.debug("session closed", metadata: ["code": "\(reason.code.rawValue)"])
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
        context.read()
    }

    // MARK: Input

    private func process(context: ChannelHandlerContext) {
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
            if case .open = phase { drainFrames(context: context) }
        case .open:
            drainFrames(context: context)
        case .closed:
            pending = nil
        }
    }

    private func drainFrames(context: ChannelHandlerContext) {
        guard var buffer = pending.take() else { return }
        while let action = machine?.next(from: &buffer) {
            perform(action, context: context)
        }
        if case .open = phase, buffer.readableBytes > 0 { pending = buffer }
    }

    // MARK: Handshake

    private func upgrade(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        handshakeTimer = nil
        guard let (route, parameters) = router.route(for: head.path) else {
            refuse(.notFound, .error(404, "Not Found", "No endpoint at \(head.path)."), context: context)
            return
        }
        let policy = HandshakePolicy(allowedOrigins: route.allowedOrigins, subprotocols: route.subprotocols)
        let acceptKey: String
        let subprotocol: String?
        switch Handshake.evaluate(head, policy: policy) {
        case .refuse(let refusal, let response):
            refuse(refusal, response, context: context)
            return
        case .accept(let key, let selected):
            acceptKey = key
            subprotocol = selected
        }
        guard
            registry.add(
                ObjectIdentifier(self), limit: configuration.maxConnections, connection: self, context: context)
        else {
            refuse(
                .serverBusy,
                .error(
                    503,
                    "Service Unavailable",
                    "The server holds its maximum of \(configuration.maxConnections) connections; retry later.",
                    headers: [HTTPHeaderField("Retry-After", "1")]
                ),
                context: context
            )
            return
        }
        registered = true

        if !route.options.extensions.isEmpty {
            // A malformed offer is declined rather than refused: the client may proceed without extensions.
            let offers = ExtensionNegotiation.parseOffers(head.values("Sec-WebSocket-Extensions")) ?? []
            extensions = ExtensionPipeline(
                ExtensionNegotiation.negotiate(offers: offers, factories: route.options.extensions)
            )
        }
        var response = context.channel.allocator.buffer(capacity: 256)
        Handshake.switchingProtocols(
            acceptKey: acceptKey,
            subprotocol: subprotocol,
            extensions: extensions.responseHeader
        )
        .write(into: &response)
        context.writeAndFlush(wrapOutboundOut(response), promise: nil)

        options = route.options
        phase = .open
        sharedEncodingKey = options.masking ? nil : extensions.sharedEncodingKey
        // The outbound queue limit is the channel's high water mark: above it the channel is not
        // writable, `send` waits and `offer` applies its policy.
        let limit = max(1, options.maxQueuedBytes)
        try? context.channel.syncOptions?.setOption(
            .writeBufferWaterMark,
            value: ChannelOptions.Types.WriteBufferWaterMark(low: limit / 2, high: limit)
        )
        logger[metadataKey: "path"] = "\(head.path)"
        machine = ConnectionStateMachine(
            role: .server,
            maxFrameSize: options.maxFrameSize,
            maxMessageSize: options.maxMessageSize,
            allowedReservedBits: extensions.reservedBits
        )
        keepAlive = KeepAlive(
            pingPeriod: TimeAmount(options.pingPeriod),
            timeout: TimeAmount(options.timeout),
            idleTimeout: TimeAmount(options.idleTimeout),
            now: .now()
        )
        scheduleKeepAlive(context: context)
        startSession(head: head, route: route, parameters: parameters, subprotocol: subprotocol, context: context)
    }

    private func startSession(
        head: HTTPRequestHead,
        route: WebSocketRouter.Route,
        parameters: [String: String],
        subprotocol: String?,
        context: ChannelHandlerContext
    ) {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let delegate = InboundDelegate(connection: bound, eventLoop: context.eventLoop)
        let made = WebSocketSession.Incoming.Producer.makeSequence(
            elementType: Frame.self,
            backPressureStrategy: .init(lowWatermark: 2, highWatermark: 16),
            finishOnDeinit: false,
            delegate: delegate
        )
        source = made.source
        let remote = context.channel.remoteAddress
        let request = WebSocketRequest(
            path: head.path,
            query: head.query,
            headers: head.headers.map { (name: $0.name, value: $0.value) },
            pathParameters: parameters,
            remoteAddress: remote?.ipAddress,
            remotePort: remote?.port,
            subprotocol: subprotocol
        )
        let closed = closePromise?.futureResult ?? context.eventLoop.makeSucceededFuture(CloseReason(.abnormalClosure))
        let session = WebSocketSession(
            request: request,
            incoming: WebSocketSession.Incoming(producer: made.sequence, consumption: consumption),
            connection: bound,
            eventLoop: context.eventLoop,
            closed: closed
        )
        let handler = route.handler
        let logger = self.logger
        logger.debug("session opened")
        Task {
            do {
                try await handler(session)
                await session.close(CloseReason(.normal))
            } catch {
                logger.warning("session handler failed", metadata: ["error": "\(error)"])
                await session.close(CloseReason(.internalError, "handler failed"))
            }
        }
    }

    private func refuse(_ refusal: HandshakeRefusal, _ response: HTTPResponse, context: ChannelHandlerContext) {
        logger.debug("handshake refused", metadata: ["reason": "\(refusal.rawValue)", "status": "\(response.status)"])
        phase = .closed
        pending = nil
        var buffer = context.channel.allocator.buffer(capacity: 256)
        response.write(into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    // MARK: Actions

    private func perform(_ action: ConnectionStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .deliver(var message):
            if options.idleTimeout > .zero { keepAlive?.receivedMessage(now: .now()) }
            if !message.reserved.isEmpty {
                do {
                    message = try extensions.decode(message, maxSize: options.maxMessageSize)
                } catch {
                    if let action = machine?.fail(with: CloseReason(error.closeCode, error.description)) {
                        perform(action, context: context)
                    }
                    return
                }
            }
            let frame: Frame = message.kind == .text ? .text(message.data) : .binary(message.data)
            guard let source else { return }
            switch source.yield(frame) {
            case .produceMore: break
            case .stopProducing: consumerWantsMore = false
            case .dropped: break
            }
        case .sendPong(let payload):
            writeFrame(.pong, payload, context: context)
        case .receivedPong(let payload):
            keepAlive?.receivedPong(payload)
        case .sendClose(let reason, let then):
            finishInbound()
            keepAliveTimer?.cancel()
            if then != .awaitPeerClose && consumption.hasIterator && !consumerGone {
                pendingClose = (reason, then)
                closeTimer?.cancel()
                closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.closeDrainLimit) { [self] in
                    flushPendingClose()
                }
            } else {
                writeClose(reason, then: then, context: context)
            }
        case .closeConnection:
            context.close(promise: nil)
        }
    }

    /// Writes a data message through the negotiated extensions; returns the error an extension threw.
    @discardableResult
    private func writeMessage(_ opcode: Opcode, _ payload: ByteBuffer, flush: Bool, context: ChannelHandlerContext)
        -> (any Error)?
    {
        guard !extensions.extensions.isEmpty else {
            writeFrame(opcode, payload, flush: flush, context: context)
            return nil
        }
        do {
            let (encoded, reserved) = try extensions.encode(payload, isText: opcode == .text)
            writeFrame(opcode, encoded, reserved: reserved, flush: flush, context: context)
            return nil
        } catch {
            return error
        }
    }

    private func writeClose(
        _ reason: CloseReason,
        then: ConnectionStateMachine.AfterClose,
        context: ChannelHandlerContext
    ) {
        guard !closeWritten else { return }
        closeWritten = true
        failWaiters()
        let payload = FrameEncoder.closePayload(reason, allocator: context.channel.allocator)
        let written = context.eventLoop.makePromise(of: Void.self)
        writeFrame(.close, payload, context: context, promise: written)
        switch then {
        case .closeConnection:
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        case .awaitPeerClose:
            scheduleCloseTimer(context: context)
        case .shutdownOutput:
            written.futureResult.assumeIsolated().whenComplete { _ in
                context.close(mode: .output).assumeIsolated().whenFailure { _ in context.close(promise: nil) }
            }
            scheduleCloseTimer(context: context)
        }
    }

    private func flushPendingClose() {
        guard let (reason, then) = pendingClose.take(), let context, case .open = phase else { return }
        writeClose(reason, then: then, context: context)
    }

    private func writeFrame(
        _ opcode: Opcode,
        _ payload: ByteBuffer,
        reserved: ReservedBits = [],
        flush: Bool = true,
        context: ChannelHandlerContext,
        promise: EventLoopPromise<Void>? = nil
    ) {
        let maskingKey: (UInt8, UInt8, UInt8, UInt8)? =
            options.masking
            ? (.random(in: 0...255), .random(in: 0...255), .random(in: 0...255), .random(in: 0...255)) : nil
        if maskingKey != nil || payload.readableBytes <= 1024 {
            let frame = FrameEncoder.encode(
                reserved: reserved,
                opcode: opcode,
                payload: payload,
                maskingKey: maskingKey,
                allocator: context.channel.allocator
            )
            context.write(wrapOutboundOut(frame), promise: promise)
        } else {
            // Large payloads go out as they are, after a separate small header (no copy).
            var header = context.channel.allocator.buffer(capacity: 10)
            FrameEncoder.writeHeader(
                FrameHeader(fin: true, reserved: reserved, opcode: opcode, payloadLength: payload.readableBytes),
                into: &header
            )
            context.write(wrapOutboundOut(header), promise: nil)
            context.write(wrapOutboundOut(payload), promise: promise)
        }
        if flush { context.flush() }
    }

    private func finishInbound() {
        source?.finish()
        source = nil
        consumerWantsMore = true
        if let context { resumeReadIfPossible(context: context) }
    }

    private func failWaiters() {
        let waiters = writabilityWaiters
        writabilityWaiters.removeAll()
        for waiter in waiters { waiter.fail(WebSocketError.sessionClosed) }
    }

    private func resumeReadIfPossible(context: ChannelHandlerContext) {
        guard readPending else { return }
        if machine?.state == .open && (!consumerWantsMore || !context.channel.isWritable) { return }
        readPending = false
        context.read()
    }

    // MARK: Timers

    private func scheduleKeepAlive(context: ChannelHandlerContext) {
        keepAliveTimer?.cancel()
        keepAliveTimer = nil
        guard let deadline = keepAlive?.nextDeadline else { return }
        keepAliveTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            keepAliveFired(context: context)
        }
    }

    private func keepAliveFired(context: ChannelHandlerContext) {
        guard machine?.state == .open, var keepAlive else { return }
        let action = keepAlive.tick(now: .now())
        self.keepAlive = keepAlive
        switch action {
        case .none:
            break
        case .sendPing(let payload):
            writeFrame(.ping, payload, context: context)
        case .closeForPongTimeout:
            let reason = CloseReason(.internalError, "no pong within \(options.timeout)")
            logger.debug("keep-alive timeout")
            if let action = machine?.fail(with: reason) { perform(action, context: context) }
            return
        case .closeForIdleTimeout:
            if let action = machine?.close(CloseReason(.normal, "idle for \(options.idleTimeout)")) {
                perform(action, context: context)
            }
            return
        }
        scheduleKeepAlive(context: context)
    }

    private func scheduleCloseTimer(context: ChannelHandlerContext) {
        closeTimer?.cancel()
        let timeout = options.timeout > .zero ? TimeAmount(options.timeout) : .zero
        closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            context.close(promise: nil)
        }
    }

    // MARK: Session calls (on the event loop)

    /// Sends a frame for the session; completes `promise` once the outbound buffer has room again.
    func send(_ frame: Frame, promise: EventLoopPromise<Void>?) {
        guard let context, case .open = phase, !closeWritten else {
            if case .close = frame { promise?.succeed() } else { promise?.fail(WebSocketError.sessionClosed) }
            return
        }
        switch frame {
        case .text(let payload), .binary(let payload):
            let opcode: Opcode
            if case .text = frame { opcode = .text } else { opcode = .binary }
            if let error = writeMessage(opcode, payload, flush: true, context: context) {
                promise?.fail(error)
                return
            }
        case .ping(let payload), .pong(let payload):
            guard payload.readableBytes <= 125 else {
                promise?.fail(WebSocketError.controlFrameTooLong(payload.readableBytes))
                return
            }
            if case .ping = frame {
                writeFrame(.ping, payload, context: context)
            } else {
                writeFrame(.pong, payload, context: context)
            }
        case .close(let reason):
            if let action = machine?.close(reason ?? CloseReason(.noStatusReceived)) {
                perform(action, context: context)
            } else {
                // A close reply was waiting for this handler: it is done, so the reply goes now.
                flushPendingClose()
            }
            promise?.succeed()
            return
        }
        guard let promise else { return }
        if context.channel.isWritable {
            promise.succeed()
        } else {
            writabilityWaiters.append(promise)
        }
    }

    /// Queues a prepared message for fan-out, applying `whenFull` when the outbound queue is over its limit.
    func offer(_ message: PreparedMessage, whenFull: SlowConsumerPolicy, flush: Bool) -> OfferResult {
        guard let context, case .open = phase, !closeWritten, machine?.state == .open else { return .notOpen }
        if !context.channel.isWritable {
            switch whenFull {
            case .drop:
                return .dropped
            case .close(let reason):
                if let action = machine?.close(reason) { perform(action, context: context) }
                return .closed
            }
        }
        guard let key = sharedEncodingKey else {
            // Per-session state (compression context, masking): encode for this session alone.
            writeMessage(message.opcode, message.payload, flush: flush, context: context)
            if !flush && !context.channel.isWritable { context.flush() }
            return .queued
        }
        var frame = message.plainFrame
        if !key.isEmpty {
            let extensions = self.extensions
            guard
                let shared = try? message.frame(
                    sharedAs: key,
                    encode: {
                        let (payload, reserved) = try extensions.encode(
                            message.payload, isText: message.opcode == .text)
                        return FrameEncoder.encode(reserved: reserved, opcode: message.opcode, payload: payload)
                    }
                )
            else { return .notOpen }
            frame = shared
        }
        context.write(wrapOutboundOut(frame), promise: nil)
        // Unflushed bytes count against the queue limit too: past it, flush now so a batch cannot make
        // a fast reader look slow.
        if flush || !context.channel.isWritable { context.flush() }
        return .queued
    }

    /// Flushes what ``offer(_:whenFull:flush:)`` queued without flushing.
    func flush() {
        context?.flush()
    }

    /// The consumer of `incoming` wants more messages.
    func resumeReading() {
        consumerWantsMore = true
        if let context { resumeReadIfPossible(context: context) }
    }

    /// The consumer stopped iterating `incoming`: later messages are discarded, and reading goes on so
    /// pings and the close handshake still work.
    func consumerTerminated() {
        source = nil
        consumerGone = true
        resumeReading()
        flushPendingClose()
    }

    /// Server shutdown: close with `reason` (1001 Going Away).
    func goAway(_ reason: CloseReason) {
        guard let context else { return }
        if let action = machine?.close(reason) { perform(action, context: context) }
    }
}
