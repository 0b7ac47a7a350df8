import Logging
import NIOCore

/// Performing the state machine's actions: frames out, the close handshake, reads resumed.
extension WebSocketConnectionHandler {
    func perform(_ action: ConnectionStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .deliver(var message):
            if options.idleTimeout > .zero { keepAlive?.receivedMessage(now: context.eventLoop.now) }
            metrics?.messagesReceived.increment()
            if !message.reserved.isEmpty {
                do {
                    let compressed = message.data.readableBytes
                    message = try extensions.decode(
                        message, maxSize: EngineLimits.effectiveMessageLimit(options.maxMessageSize))
                    metrics?.receivedCompressed.increment(by: Int64(compressed))
                    metrics?.receivedUncompressed.increment(by: Int64(message.data.readableBytes))
                } catch {
                    if let action = machine?.fail(with: CloseReason(error.closeCode, error.description)) {
                        perform(action, context: context)
                    }
                    return
                }
            }
            if rateLimiter?.admit(size: message.data.readableBytes, now: .now()) == false {
                overRate(context: context)
                return
            }
            let frame: Frame = message.kind == .text ? .text(message.data) : .binary(message.data)
            if let onMessage {
                // A loop client takes each message as it is read: nothing is queued, so nothing waits for it.
                onMessage(frame)
                return
            }
            guard let source else { return }
            deliveredMessage = true
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
            // Wait for the handler when it reads `incoming`, or when a message is waiting for it there: its
            // task may not have started iterating yet (a message and a close in the same read).
            if then != .awaitPeerClose && (consumption.hasIterator || deliveredMessage) && !consumerGone {
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

    /// A message over the endpoint's rate: dropped (counted), or the connection closed with 1008.
    func overRate(context: ChannelHandlerContext) {
        switch options.rateLimit?.action ?? .drop {
        case .drop:
            metrics?.rateLimitedDropped.increment()
        case .close:
            metrics?.rateLimitedClosed.increment()
            let reason = CloseReason(.policyViolation, "message rate limit exceeded")
            if let action = machine?.fail(with: reason) { perform(action, context: context) }
        }
    }

    /// Writes a data message through the negotiated extensions; returns the error an extension threw.
    @discardableResult
    func writeMessage(_ opcode: Opcode, _ payload: ByteBuffer, flush: Bool, context: ChannelHandlerContext)
        -> (any Error)?
    {
        metrics?.messagesSent.increment()
        guard !extensions.extensions.isEmpty else {
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

    func writeClose(
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

    func flushPendingClose() {
        guard let (reason, then) = pendingClose.take(), let context, case .open = phase else { return }
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

    func finishInbound() {
        source?.finish()
        source = nil
        consumerWantsMore = true
        if let context { resumeReadIfPossible(context: context) }
    }

    func failWaiters() {
        let waiters = writabilityWaiters
        writabilityWaiters.removeAll()
        for waiter in waiters { waiter.fail(WebSocketError.sessionClosed) }
    }

    func resumeReadIfPossible(context: ChannelHandlerContext) {
        guard readPending else { return }
        if machine?.state == .open && (!consumerWantsMore || !context.channel.isWritable) { return }
        readPending = false
        context.read()
    }
}
