import Logging
import NIOCore

/// Keep-alive and close timers.
extension WebSocketConnectionHandler {
    func scheduleKeepAlive(_ opened: OpenPhase, context: ChannelHandlerContext) {
        opened.keepAliveTimer?.cancel()
        opened.keepAliveTimer = nil
        guard let deadline = opened.keepAlive.nextDeadline else { return }
        opened.keepAliveTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            keepAliveFired(context: context)
        }
    }

    func keepAliveFired(context: ChannelHandlerContext) {
        guard let opened, opened.machine.state == .open else { return }
        let options = opened.options
        // The loop's clock, the one the timer was scheduled on: a timer that fires by one clock and asks
        // another whether it is due can find it not due and reschedule itself for the past, forever.
        let action = opened.keepAlive.tick(now: context.eventLoop.now)
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
            if let action = opened.machine.fail(with: reason) { perform(action, in: opened, context: context) }
            return
        case .closeForIdleTimeout:
            if let action = opened.machine.close(CloseReason(.normal, "idle for \(options.idleTimeout)")) {
                perform(action, in: opened, context: context)
            }
            return
        }
        scheduleKeepAlive(opened, context: context)
    }

    /// Closes the connection after `timeout` (or `atLeast`, when `timeout` is shorter or 0).
    func scheduleCloseTimer(context: ChannelHandlerContext, atLeast floor: TimeAmount = .zero) {
        phaseTimer?.cancel()
        // A timer made after the channel closed would never be cancelled, and it holds the handler.
        guard context.channel.isActive else { return }
        let configured = opened?.options.timeout ?? .zero
        let timeout = max(configured > .zero ? TimeAmount(configured) : .zero, floor)
        phaseTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            context.close(promise: nil)
        }
    }
}
