import Logging
import NIOCore

/// What the session (and fan-out) asks of the connection, always on its event loop.
extension WebSocketConnectionHandler {
    /// What ``sendNow(_:)`` did.
    enum SendOutcome {
        /// Written, and the outbound buffer has room.
        case done
        /// Not written, or an extension failed.
        case failed(any Error)
        /// Written; the outbound buffer is over its limit: wait with ``waitForWritable(_:)``.
        case mustWait
    }

    /// Sends a frame for the session, synchronously on the event loop.
    func sendNow(_ frame: Frame) -> SendOutcome {
        guard let context, let opened, flow.canSend else {
            if case .close = frame { return .done }
            return .failed(WebSocketError.sessionClosed)
        }
        switch frame {
        case .text(let payload), .binary(let payload):
            let opcode: Opcode
            if case .text = frame { opcode = .text } else { opcode = .binary }
            if let error = writeMessage(opcode, payload, flush: false, context: context) {
                return .failed(error)
            }
            scheduleFlush(context: context)
        case .ping(let payload), .pong(let payload):
            guard payload.readableBytes <= 125 else {
                return .failed(WebSocketError.controlFrameTooLong(payload.readableBytes))
            }
            if case .ping = frame {
                writeFrame(.ping, payload, context: context)
            } else {
                writeFrame(.pong, payload, context: context)
            }
        case .close(let reason):
            if let action = opened.machine.close(reason ?? CloseReason(.noStatusReceived)) {
                perform(action, in: opened, context: context)
            } else {
                // A close reply was waiting for this handler: it is done, so the reply goes now.
                flushPendingClose()
            }
            return .done
        }
        return writable ? .done : .mustWait
    }

    /// Flushes once the jobs queued on the loop now have run: a handler answering a batch of messages read
    /// together sends them in one write instead of one write each. Unflushed bytes count against the
    /// outbound limit, so backpressure is unchanged.
    func scheduleFlush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            flushScheduled = false
            flush()
        }
    }

    /// Completes `promise` once the outbound buffer has room again (or fails it when the session closes).
    func waitForWritable(_ promise: EventLoopPromise<Void>) {
        if context != nil, writable {
            promise.succeed()
        } else if context == nil || !flow.canSend {
            promise.fail(WebSocketError.sessionClosed)
        } else {
            writabilityWaiters.append(promise)
        }
    }

    /// Sends a frame for the session; completes `promise` once the outbound buffer has room again.
    func send(_ frame: Frame, promise: EventLoopPromise<Void>?) {
        switch sendNow(frame) {
        case .done: promise?.succeed()
        case .failed(let error): promise?.fail(error)
        case .mustWait: if let promise { waitForWritable(promise) }
        }
    }

    /// Queues a prepared message for fan-out, applying `whenFull` when the outbound queue is over its limit.
    func offer(_ message: PreparedMessage, whenFull: SlowConsumerPolicy, flush: Bool) -> OfferResult {
        guard let context, let opened, flow.canSend, opened.machine.state == .open else { return .notOpen }
        if !writable { return refuseWhenFull(whenFull, opened, context: context) }
        guard let key = opened.sharedEncodingKey else {
            // Per-session state (compression context, masking): encode for this session alone.
            writeMessage(message.opcode, message.payload, flush: flush, context: context)
            if !flush && !writable { context.flush() }
            return .queued
        }
        var frame = message.plainFrame
        if !key.isEmpty {
            guard let shared = try? sharedFrame(message, key: key, opened) else { return .notOpen }
            frame = shared
        }
        if flush {
            uncork(context: context)
            metrics?.messagesSent.increment()
            metrics?.bytesSent.increment(by: Int64(frame.readableBytes))
            context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
            return .queued
        }
        // A batch (the hub's loop turn): the frame's bytes are gathered and leave in one channel write at
        // the flush — per member one pass through the pipeline instead of one per message; they are
        // counted then too.
        if opened.corked == nil {
            opened.corked = context.channel.allocator.buffer(capacity: max(512, frame.readableBytes * 4))
        }
        opened.corked?.writeImmutableBuffer(frame)
        opened.corkedMessages += 1
        if let gathered = opened.corked?.readableBytes, gathered >= Self.corkLimit {
            uncork(context: context)
            // Unflushed bytes count against the queue limit too: past it, flush now so a batch cannot make
            // a fast reader look slow.
            if !writable { context.flush() }
        }
        return .queued
    }

    /// Queues a batch of prepared messages for fan-out in one write (its frames are shared by every session
    /// with the same encoding), applying `whenFull` to the batch as a whole.
    func offer(_ batch: PreparedBatch, whenFull: SlowConsumerPolicy, flush: Bool) -> OfferResult {
        guard let context, let opened, flow.canSend, opened.machine.state == .open else { return .notOpen }
        if !writable { return refuseWhenFull(whenFull, opened, context: context) }
        guard let key = opened.sharedEncodingKey else {
            for message in batch.messages {
                writeMessage(message.opcode, message.payload, flush: false, context: context)
            }
            if flush || !writable { context.flush() }
            return .queued
        }
        var frames = batch.plainFrames
        if !key.isEmpty {
            guard let shared = try? batch.frames(sharedAs: key, encode: { try sharedFrame($0, key: key, opened) })
            else { return .notOpen }
            frames = shared
        }
        uncork(context: context)
        metrics?.messagesSent.increment(by: Int64(batch.messages.count))
        metrics?.bytesSent.increment(by: Int64(frames.readableBytes))
        context.write(wrapOutboundOut(frames), promise: nil)
        if flush || !writable { context.flush() }
        return .queued
    }

    /// A fan-out message for a session whose outbound queue is over its limit: dropped, or the session closed.
    private func refuseWhenFull(
        _ whenFull: SlowConsumerPolicy, _ opened: OpenPhase, context: ChannelHandlerContext
    ) -> OfferResult {
        switch whenFull {
        case .drop:
            return .dropped
        case .close(let reason):
            if let action = opened.machine.close(reason) { perform(action, in: opened, context: context) }
            return .closed
        }
    }

    /// `message`'s frame after the extensions identified by `key`, encoded once for every session that
    /// shares them.
    private func sharedFrame(_ message: PreparedMessage, key: String, _ opened: OpenPhase) throws -> ByteBuffer {
        let extensions = opened.extensions
        let metrics = self.metrics
        return try message.frame(sharedAs: key) {
            let (payload, reserved) = try extensions.encode(message.payload, isText: message.opcode == .text)
            if !reserved.isEmpty {
                // Counted once per shared encoding: the compression work done.
                metrics?.sentUncompressed.increment(by: Int64(message.payload.readableBytes))
                metrics?.sentCompressed.increment(by: Int64(payload.readableBytes))
            }
            return FrameEncoder.encode(reserved: reserved, opcode: message.opcode, payload: payload)
        }
    }

    /// Flushes what ``offer(_:whenFull:flush:)`` queued without flushing.
    func flush() {
        guard let context else { return }
        uncork(context: context)
        context.flush()
    }

    /// The consumer of `incoming` wants more messages.
    func resumeReading() {
        flow.consumerWantsMore()
        if let context { resumeReadIfPossible(context: context) }
    }

    /// The consumer stopped iterating `incoming`: later messages are discarded, and reading goes on so
    /// pings and the close handshake still work.
    func consumerTerminated() {
        opened?.source = nil
        let close = flow.consumerTerminated()
        resumeReading()
        writeReleasedClose(close)
    }

    /// Server shutdown: close with `reason` (1001 Going Away).
    func goAway(_ reason: CloseReason) {
        guard let context else { return }
        // Still waiting for an admission check: no session yet, nothing to say goodbye on.
        if case .admitting = phase {
            phase = .closed
            context.close(promise: nil)
            return
        }
        if let opened, let action = opened.machine.close(reason) { perform(action, in: opened, context: context) }
    }
}
