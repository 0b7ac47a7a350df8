import Logging
import NIOCore

/// Performing the state machine's actions: frames out, the close handshake, reads resumed.
extension WebSocketConnectionHandler {
    func perform(_ action: ConnectionStateMachine.Action, in opened: OpenPhase, context: ChannelHandlerContext) {
        switch action {
        case .deliver(var message):
            let options = opened.sharedOptions
            if options.value.idleTimeout > .zero { opened.keepAlive.receivedMessage(now: context.eventLoop.now) }
            metrics?.messagesReceived.increment()
            if !message.reserved.isEmpty {
                do {
                    let compressed = message.data.readableBytes
                    message = try opened.extensions.decode(
                        message, maxSize: EngineLimits.effectiveMessageLimit(options.value.maxMessageSize))
                    metrics?.receivedCompressed.increment(by: Int64(compressed))
                    metrics?.receivedUncompressed.increment(by: Int64(message.data.readableBytes))
                } catch {
                    if let action = opened.machine.fail(with: CloseReason(error.closeCode, error.description)) {
                        perform(action, in: opened, context: context)
                    }
                    return
                }
            }
            if opened.rateLimiter?.value.admit(size: message.data.readableBytes, now: .now()) == false {
                overRate(opened, context: context)
                return
            }
            let frame: Frame = message.kind == .text ? .text(message.data) : .binary(message.data)
            if let onMessage {
                // A loop client takes each message as it is read: nothing is queued, so nothing waits for it.
                onMessage(frame)
                return
            }
            guard let source = opened.source else { return }
            switch source.yield(frame) {
            case .produceMore, .dropped: flow.delivered(stopProducing: false)
            case .stopProducing: flow.delivered(stopProducing: true)
            }
        case .sendPong(let payload):
            writeFrame(.pong, payload, context: context)
        case .receivedPong(let payload):
            opened.keepAlive.receivedPong(payload)
        case .sendClose(let reason, let then):
            finishInbound()
            opened.keepAliveTimer?.cancel()
            // A reply waits for the handler while it may still answer the messages before it (RFC 6455
            // §5.5.1 allows finishing the current message first); see ConnectionFlow.
            let iterating = opened.consumption?.hasIterator ?? false
            switch flow.closeRequested(reason, then: then, consumerIterating: iterating) {
            case .deferUntilDrained:
                phaseTimer?.cancel()
                phaseTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.closeDrainLimit) { [self] in
                    flushPendingClose()
                }
            case .write(let reason, let then):
                writeClose(reason, then: then, context: context)
            case .none:
                break
            }
        case .closeConnection:
            context.close(promise: nil)
        }
    }

    /// A message over the endpoint's rate: dropped (counted), or the connection closed with 1008.
    func overRate(_ opened: OpenPhase, context: ChannelHandlerContext) {
        switch opened.options.rateLimit?.action ?? .drop {
        case .drop:
            metrics?.rateLimitedDropped.increment()
        case .close:
            metrics?.rateLimitedClosed.increment()
            let reason = CloseReason(.policyViolation, "message rate limit exceeded")
            if let action = opened.machine.fail(with: reason) { perform(action, in: opened, context: context) }
        }
    }

    /// Writes a data message through the negotiated extensions; returns the error an extension threw.
    @discardableResult
    func writeMessage(_ opcode: Opcode, _ payload: ByteBuffer, flush: Bool, context: ChannelHandlerContext)
        -> (any Error)?
    {
        metrics?.messagesSent.increment()
        guard let extensions = opened?.extensions, !extensions.extensions.isEmpty else {
            writeFrame(opcode, payload, flush: flush, context: context)
            return nil
        }
        do {
            let (encoded, reserved) = try extensions.encode(payload, isText: opcode == .text)
            if !reserved.isEmpty {
                metrics?.sentUncompressed.increment(by: Int64(payload.readableBytes))
                metrics?.sentCompressed.increment(by: Int64(encoded.readableBytes))
            }
            writeFrame(opcode, encoded, reserved: reserved, flush: flush, context: context)
            return nil
        } catch {
            return error
        }
    }

    /// Writes the close frame ``ConnectionFlow`` released (it is then marked written there).
    func writeClose(
        _ reason: CloseReason,
        then: ConnectionStateMachine.AfterClose,
        context: ChannelHandlerContext
    ) {
        failWaiters()
        let payload = FrameEncoder.closePayload(reason, allocator: context.channel.allocator)
        let written = context.eventLoop.makePromise(of: Void.self)
        writeFrame(.close, payload, context: context, promise: written)
        switch then {
        case .closeConnection:
            // A peer that sent its close and stopped reading would hold the connection for ever (the
            // reply waits behind data it never takes, and keep-alive ended with the close): bound it.
            // Scheduled before the close below, which may run at once and must be able to cancel it.
            scheduleCloseTimer(context: context, atLeast: Self.closeReplyLimit)
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

    /// Writes the deferred close frame, if any (the drain limit passed or the handler is done).
    func flushPendingClose() {
        writeReleasedClose(flow.releaseDeferredClose())
    }

    /// Writes a close frame that ``ConnectionFlow`` released from deferral, while the session is open.
    func writeReleasedClose(_ action: ConnectionFlow.CloseAction) {
        guard case .write(let reason, let then) = action, let context, case .open = phase else { return }
        writeClose(reason, then: then, context: context)
    }

    func writeFrame(
        _ opcode: Opcode,
        _ payload: ByteBuffer,
        reserved: ReservedBits = [],
        flush: Bool = true,
        context: ChannelHandlerContext,
        promise: EventLoopPromise<Void>? = nil
    ) {
        // Fan-out bytes gathered for this loop turn go first: frames leave in the order they were sent.
        uncork(context: context)
        let maskingKey: (UInt8, UInt8, UInt8, UInt8)? =
            opened?.options.masking == true
            ? (.random(in: 0...255), .random(in: 0...255), .random(in: 0...255), .random(in: 0...255)) : nil
        if maskingKey != nil || payload.readableBytes <= 1024 {
            let frame = FrameEncoder.encode(
                reserved: reserved,
                opcode: opcode,
                payload: payload,
                maskingKey: maskingKey,
                allocator: context.channel.allocator
            )
            metrics?.bytesSent.increment(by: Int64(frame.readableBytes))
            context.write(wrapOutboundOut(frame), promise: promise)
        } else {
            // Large payloads go out as they are, after a separate small header (no copy).
            var header = context.channel.allocator.buffer(capacity: 10)
            FrameEncoder.writeHeader(
                FrameHeader(fin: true, reserved: reserved, opcode: opcode, payloadLength: payload.readableBytes),
                into: &header
            )
            metrics?.bytesSent.increment(by: Int64(header.readableBytes + payload.readableBytes))
            context.write(wrapOutboundOut(header), promise: nil)
            context.write(wrapOutboundOut(payload), promise: promise)
        }
        if flush { context.flush() }
    }

    /// Writes what ``offer(_:whenFull:flush:)`` gathered without flushing (one channel write for a loop turn's
    /// fan-out messages instead of one each); the caller flushes.
    func uncork(context: ChannelHandlerContext) {
        guard let opened, let corked = opened.corked else { return }
        opened.corked = nil
        metrics?.messagesSent.increment(by: Int64(opened.corkedMessages))
        metrics?.bytesSent.increment(by: Int64(corked.readableBytes))
        opened.corkedMessages = 0
        context.write(wrapOutboundOut(corked), promise: nil)
    }

    func finishInbound() {
        opened?.source?.finish()
        opened?.source = nil
        flow.inboundFinished()
        if let context { resumeReadIfPossible(context: context) }
    }

    func failWaiters() {
        let waiters = writabilityWaiters
        writabilityWaiters.removeAll()
        for waiter in waiters { waiter.fail(WebSocketError.sessionClosed) }
    }

    func resumeReadIfPossible(context: ChannelHandlerContext) {
        if flow.resume(hold: readHold, sessionOpen: sessionIsOpen, writable: writable) {
            context.read()
        }
    }
}
