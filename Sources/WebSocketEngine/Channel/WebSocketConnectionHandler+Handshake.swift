import Logging
import NIOCore

/// The opening handshake: route, check, answer 101 or an HTTP error, and start the session.
extension WebSocketConnectionHandler {
    func upgrade(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        phaseTimer?.cancel()
        phaseTimer = nil
        let router = core.router
        if let plain = router.plainRoute(for: head.path) {
            answerPlain(head, plain, context: context)
            return
        }
        let match = router.route(for: head.path)
        let upgrading = Handshake.asksForUpgrade(head)
        if !upgrading, let route = router.bodyRoute(for: head.path) {
            readBody(head, route, context: context)
            return
        }
        // A tree of files may share its path with a WebSocket endpoint: upgrades go to the endpoint.
        if let tree = router.treeRoute(for: head.path), match == nil || !upgrading {
            answerPlain(head, tree, context: context)
            return
        }
        guard let (route, parameters) = match else {
            if upgrading {
                refuse(.notFound, .error(404, "Not Found", "No endpoint at \(head.path)."), context: context)
            } else {
                core.metrics.refused(.notFound)
                respondPlain(
                    head,
                    PlainHTTPResponse(
                        status: 404, contentType: "text/plain; charset=utf-8", text: "No endpoint at \(head.path).\n"),
                    context: context)
            }
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
        if core.draining {
            refuse(
                .draining,
                .error(
                    503, "Service Unavailable", "The server is shutting down; connect again (to another instance).",
                    headers: [HTTPHeaderField("Retry-After", "1")]),
                context: context
            )
            return
        }
        if !admitAtTheDoor(context: context) || !admitToEndpoint(route, context: context) { return }
        guard
            registry.add(ObjectIdentifier(self), limit: configuration.maxConnections, context: context)
        else {
            releaseAddress()
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

        let remote = context.channel.remoteAddress
        var request = WebSocketRequest(
            path: head.path,
            query: head.query,
            headers: head.headers.map { (name: $0.name, value: $0.value) },
            pathParameters: parameters,
            remoteAddress: remote?.ipAddress,
            remotePort: remote?.port,
            subprotocol: subprotocol
        )
        var granted: [HTTPHeaderField] = []
        switch route.admission?(request) {
        case .refuse(let refusal):
            refuseAdmission(refusal, context: context)
            return
        case .grant(let grant):
            granted = request.apply(grant)
        case .accept, nil:
            break
        }
        guard let check = route.asyncAdmission else {
            open(head, route: route, request: request, acceptKey: acceptKey, headers: granted, context: context)
            return
        }
        phase = .admitting
        let loop = context.eventLoop
        let connection = NIOLoopBound(self, eventLoop: loop)
        let boundContext = NIOLoopBound(context, eventLoop: loop)
        let checked = request
        let grantedBySync = granted
        Task {
            let decision = await check(checked)
            loop.execute {
                var request = checked
                let handler = connection.value
                let context = boundContext.value
                guard case .admitting = handler.phase, context.channel.isActive else {
                    if case .grant(let grant) = decision { grant.abandoned?() }
                    return
                }
                switch decision {
                case .refuse(let refusal):
                    handler.refuseAdmission(refusal, context: context)
                case .accept:
                    handler.open(
                        head, route: route, request: request, acceptKey: acceptKey, headers: grantedBySync,
                        context: context)
                    handler.afterAdmission(context: context)
                case .grant(let grant):
                    let headers = grantedBySync + request.apply(grant)
                    handler.open(
                        head, route: route, request: request, acceptKey: acceptKey, headers: headers, context: context)
                    handler.afterAdmission(context: context)
                }
            }
        }
    }

    /// Answers 101 and opens the session.
    private func open(
        _ head: HTTPRequestHead, route: WebSocketRouter.Route, request: WebSocketRequest, acceptKey: String,
        headers: [HTTPHeaderField], context: ChannelHandlerContext
    ) {
        var extensions = ExtensionPipeline([])
        if !route.options.extensions.isEmpty {
            // A malformed offer is declined rather than refused: the client may proceed without extensions.
            let offers = ExtensionNegotiation.parseOffers(head.values("Sec-WebSocket-Extensions")) ?? []
            extensions = ExtensionPipeline(
                ExtensionNegotiation.negotiate(offers: offers, factories: route.options.extensions)
            )
        }
        var response = context.channel.allocator.buffer(capacity: 256)
        var answer = Handshake.switchingProtocols(
            acceptKey: acceptKey,
            subprotocol: request.subprotocol,
            extensions: extensions.responseHeader
        )
        answer.headers.append(contentsOf: headers)
        answer.write(into: &response)
        // Flushed once the session has started: a room member is in its room before its client can read the
        // 101, so whatever is published after the client saw it reaches it.
        context.write(wrapOutboundOut(response), promise: nil)

        let opened = enterOpen(route.sharedOptions, extensions: extensions, role: .server, context: context)
        loggedRoute = (request.path, route.path)
        let metrics = core.metrics.endpoint(route.path.description)
        metrics.opened.increment()
        metrics.open.increment()
        self.metrics = metrics
        openedAt = .now()
        logger.info("connection opened")
        opened.rateLimiter = route.options.rateLimit.map { Boxed(MessageRateLimiter($0, now: .now())) }
        startSession(request: request, route: route, opened: opened, context: context)
        context.flush()
    }

    /// Enters the open phase with `options` and `extensions` in `role` — the outbound queue limit, the
    /// protocol state machine, keep-alive (``OpenPhase``) — as both ends of a connection do once the 101 is
    /// written or read.
    func enterOpen(
        _ options: SharedOptions, extensions: ExtensionPipeline, role: FrameParser.Role,
        context: ChannelHandlerContext
    ) -> OpenPhase {
        let opened = OpenPhase(options: options, extensions: extensions, role: role, now: context.eventLoop.now)
        phase = .open(opened)
        // The outbound queue limit is the channel's high water mark: above it the channel is not
        // writable, `send` waits and `offer` applies its policy.
        let limit = max(1, options.value.maxQueuedBytes)
        try? context.channel.syncOptions?.setOption(
            .writeBufferWaterMark,
            value: ChannelOptions.Types.WriteBufferWaterMark(low: limit / 2, high: limit)
        )
        scheduleKeepAlive(opened, context: context)
        return opened
    }

    /// After an asynchronous admission opened the session: frames that came with the request are read,
    /// and reading resumes.
    private func afterAdmission(context: ChannelHandlerContext) {
        drainFrames(context: context)
        resumeReadIfPossible(context: context)
    }

    /// Refuses a request an admission check turned away, and gives back what the handshake held.
    private func refuseAdmission(_ refusal: AdmissionRefusal, context: ChannelHandlerContext) {
        registry.remove(ObjectIdentifier(self))
        registered = false
        releaseAddress()
        core.metrics.refused(reason: refusal.reason)
        refuse(
            .notAdmitted,
            .error(
                refusal.status, HTTPResponse.reasonPhrase(for: refusal.status), refusal.message,
                headers: refusal.headers.map { HTTPHeaderField($0.name, $0.value) }),
            counted: false,
            context: context)
    }

    func startSession(
        request: WebSocketRequest, route: WebSocketRouter.Route, opened: OpenPhase, context: ChannelHandlerContext
    ) {
        let handler: WebSocketHandler
        switch route.serving {
        case .loop(let start, let keepsHeaders):
            // Driven on the loop: no task, no `incoming`; the callbacks are dropped when the connection ends
            // (they hold the session, which holds this handler).
            var request = request
            if !keepsHeaders { request.headers = [] }
            let session = makeSession(request: request, opened: opened, context: context, driven: true)
            let callbacks = start(session)
            onMessage = callbacks.onMessage
            onClosed = callbacks.onClose
            return
        case .task(let run):
            handler = run
        }
        let session = makeSession(request: request, opened: opened, context: context)
        let logger = self.logger
        let executor = configuration.handlersRunOnEventLoop ? core.executor(for: context.eventLoop) : nil
        Task(executorPreference: executor) {
            do {
                try await handler(session)
                await session.close(CloseReason(.normal))
            } catch {
                logger.warning("session handler failed", metadata: ["error": "\(error)"])
                await session.close(CloseReason(.internalError, "handler failed"))
            }
        }
    }

    /// The session API over this connection (server or client side); `driven`: its messages go to callbacks
    /// on the loop, and `incoming` is empty.
    func makeSession(
        request: WebSocketRequest, opened: OpenPhase, context: ChannelHandlerContext, driven: Bool = false
    ) -> WebSocketSession {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        if driven {
            return WebSocketSession(
                request: request,
                incoming: WebSocketSession.Incoming(producer: nil, consumption: nil),
                connection: bound
            )
        }
        let delegate = InboundDelegate(connection: bound, eventLoop: context.eventLoop)
        let made = WebSocketSession.Incoming.Producer.makeSequence(
            elementType: Frame.self,
            backPressureStrategy: .init(lowWatermark: 2, highWatermark: 16),
            finishOnDeinit: false,
            delegate: delegate
        )
        opened.source = made.source
        let consumption = Consumption()
        opened.consumption = consumption
        let session = WebSocketSession(
            request: request,
            incoming: WebSocketSession.Incoming(producer: made.sequence, consumption: consumption),
            connection: bound
        )
        return session
    }

    /// Applies the server's ``ConnectionLimits``; refuses with 429 or 503 and returns false when one is
    /// reached. An admitted session counted against its address is released when it ends.
    func admitAtTheDoor(context: ChannelHandlerContext) -> Bool {
        let address = context.channel.remoteAddress?.ipAddress
        func retryAfter(_ wait: TimeAmount) -> [HTTPHeaderField] {
            let seconds = max(1, (wait.nanoseconds + 999_999_999) / 1_000_000_000)
            return [HTTPHeaderField("Retry-After", "\(seconds)")]
        }
        switch core.gate.admit(address: address) {
        case .admit(let counted):
            countedAddress = counted ? address : nil
            return true
        case .tooManyFromAddress(let limit):
            refuse(
                .addressLimit,
                .error(
                    429, "Too Many Requests",
                    "Your address holds its maximum of \(limit) connections; close one, or retry later.",
                    headers: retryAfter(.seconds(1))),
                context: context
            )
        case .addressRateLimited(let wait):
            refuse(
                .addressRateLimited,
                .error(
                    429, "Too Many Requests", "Too many new connections from your address; retry later.",
                    headers: retryAfter(wait)),
                context: context
            )
        case .rateLimited(let wait):
            refuse(
                .rateLimited,
                .error(
                    503, "Service Unavailable", "The server is taking too many new connections; retry later.",
                    headers: retryAfter(wait)),
                context: context
            )
        }
        return false
    }

    /// Applies the endpoint's ``WebSocketOptions/maxConnectionsPerAddress``; refuses with 429 and returns
    /// false when the client address holds that many sessions of the endpoint.
    func admitToEndpoint(_ route: WebSocketRouter.Route, context: ChannelHandlerContext) -> Bool {
        let limit = route.options.maxConnectionsPerAddress
        guard limit != .max, let address = context.channel.remoteAddress?.ipAddress else { return true }
        let endpoint = route.path.description
        if core.gate.admit(address: address, endpoint: endpoint, limit: limit) {
            countedEndpointKey = ConnectionGate.endpointKey(endpoint, address)
            return true
        }
        releaseAddress()
        refuse(
            .endpointAddressLimit,
            .error(
                429, "Too Many Requests",
                "Your address holds this endpoint's maximum of \(limit) connections; close one, or retry later.",
                headers: [HTTPHeaderField("Retry-After", "1")]),
            context: context
        )
        return false
    }

    /// Stops counting this connection against its client address (see ``admitAtTheDoor(context:)`` and
    /// ``admitToEndpoint(_:context:)``).
    func releaseAddress() {
        if let address = countedAddress.take() { core.gate.release(address: address) }
        if let key = countedEndpointKey.take() { core.gate.release(address: key) }
    }

    func refuse(
        _ refusal: HandshakeRefusal, _ response: HTTPResponse, counted: Bool = true, context: ChannelHandlerContext
    ) {
        logger.debug("handshake refused", metadata: ["reason": "\(refusal.rawValue)", "status": "\(response.status)"])
        if counted { core.metrics.refused(refusal) }
        phase = .closed
        pending = nil
        var buffer = context.channel.allocator.buffer(capacity: 256)
        response.write(into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
