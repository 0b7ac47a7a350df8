import Logging
import NIOCore

/// What the session (and fan-out) asks of the connection, always on its event loop.
extension WebSocketConnectionHandler {
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
            let metrics = self.metrics
            guard
                let shared = try? message.frame(
                    sharedAs: key,
                    encode: {
                        let (payload, reserved) = try extensions.encode(
                            message.payload, isText: message.opcode == .text)
                        if !reserved.isEmpty {
                            // Counted once per shared encoding: the compression work done.
                            metrics?.sentUncompressed.increment(by: Int64(message.payload.readableBytes))
                            metrics?.sentCompressed.increment(by: Int64(payload.readableBytes))
                        }
                        return FrameEncoder.encode(reserved: reserved, opcode: message.opcode, payload: payload)
                    }
                )
            else { return .notOpen }
            frame = shared
        }
        metrics?.messagesSent.increment()
        metrics?.bytesSent.increment(by: Int64(frame.readableBytes))
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
