import Logging
import NIOCore

/// Keep-alive and close timers.
extension WebSocketConnectionHandler {
    func scheduleKeepAlive(context: ChannelHandlerContext) {
        keepAliveTimer?.cancel()
        keepAliveTimer = nil
        guard let deadline = keepAlive?.nextDeadline else { return }
        keepAliveTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            keepAliveFired(context: context)
        }
    }

    func keepAliveFired(context: ChannelHandlerContext) {
        guard machine?.state == .open, var keepAlive else { return }
        // The loop's clock, the one the timer was scheduled on: a timer that fires by one clock and asks
        // another whether it is due can find it not due and reschedule itself for the past, forever.
        let action = keepAlive.tick(now: context.eventLoop.now)
        self.keepAlive = keepAlive
        switch action {
        case .none:
            break
        case .sendPing(let payload):
            metrics?.pingsSent.increment()
            writeFrame(.ping, payload, context: context)
        case .closeForPongTimeout:
            let reason = CloseReason(.internalError, "no pong within \(options.timeout)")
            logger.debug("keep-alive timeout")
            metrics?.keepAliveTimeouts.increment()
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

    /// Closes the connection after `timeout` (or `atLeast`, when `timeout` is shorter or 0).
    func scheduleCloseTimer(context: ChannelHandlerContext, atLeast floor: TimeAmount = .zero) {
        closeTimer?.cancel()
        // A timer made after the channel closed would never be cancelled, and it holds the handler.
        guard context.channel.isActive else { return }
        let timeout = max(options.timeout > .zero ? TimeAmount(options.timeout) : .zero, floor)
        closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            context.close(promise: nil)
        }
    }
}
