import NIOConcurrencyHelpers
import NIOCore

/// The open sessions of a server: counted for `maxConnections`, told to go away at shutdown.
final class ConnectionRegistry: Sendable {
    /// Each session's channel, by its connection handler: one existential per session (the handler is
    /// found in the channel's pipeline, on its loop, when the server goes away).
    private let entries = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])

    /// Registers a session unless `limit` sessions are open already. Call on the connection's event loop.
    func add(_ id: ObjectIdentifier, limit: Int, context: ChannelHandlerContext) -> Bool {
        let channel = context.channel
        return entries.withLockedValue { entries in
            guard entries.count < limit else { return false }
            entries[id] = channel
            return true
        }
    }

    func remove(_ id: ObjectIdentifier) {
        _ = entries.withLockedValue { $0.removeValue(forKey: id) }
    }

    /// Sessions open now.
    var count: Int { entries.withLockedValue { $0.count } }

    /// Starts the close handshake on every session, spread evenly over `spread`; returns their channels'
    /// close futures.
    func closeAll(_ reason: CloseReason, spread: Duration = .zero) -> [EventLoopFuture<Void>] {
        let all = entries.withLockedValue { Array($0.values) }
        let step = all.count > 1 ? TimeAmount(spread).nanoseconds / Int64(all.count) : 0
        return all.enumerated().map { index, channel in
            let goAway: @Sendable () -> Void = {
                let handler = try? channel.pipeline.syncOperations.handler(type: WebSocketConnectionHandler.self)
                handler?.goAway(reason)
            }
            if step > 0 && index > 0 {
                channel.eventLoop.scheduleTask(in: .nanoseconds(step * Int64(index)), goAway)
            } else {
                channel.eventLoop.execute(goAway)
            }
            return channel.closeFuture
        }
    }

    /// Closes every connection at once, without a close handshake.
    func forceCloseAll() {
        let all = entries.withLockedValue { Array($0.values) }
        for channel in all { channel.close(promise: nil) }
    }
}
