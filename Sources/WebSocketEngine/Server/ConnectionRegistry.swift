import NIOConcurrencyHelpers
import NIOCore

/// The open sessions of a server: counted for `maxConnections`, told to go away at shutdown.
final class ConnectionRegistry: Sendable {
    private struct Entry: Sendable {
        let channel: any Channel
        let connection: NIOLoopBound<WebSocketConnectionHandler>
    }

    private let entries = NIOLockedValueBox<[ObjectIdentifier: Entry]>([:])

    /// Registers a session unless `limit` sessions are open already. Call on the connection's event loop.
    func add(
        _ id: ObjectIdentifier,
        limit: Int,
        connection: WebSocketConnectionHandler,
        context: ChannelHandlerContext
    ) -> Bool {
        let entry = Entry(channel: context.channel, connection: NIOLoopBound(connection, eventLoop: context.eventLoop))
        return entries.withLockedValue { entries in
            guard entries.count < limit else { return false }
            entries[id] = entry
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
        return all.enumerated().map { index, entry in
            let connection = entry.connection
            if step > 0 && index > 0 {
                entry.channel.eventLoop.scheduleTask(in: .nanoseconds(step * Int64(index))) {
                    connection.value.goAway(reason)
                }
            } else {
                entry.channel.eventLoop.execute { connection.value.goAway(reason) }
            }
            return entry.channel.closeFuture
        }
    }

    /// Closes every connection at once, without a close handshake.
    func forceCloseAll() {
        let all = entries.withLockedValue { Array($0.values) }
        for entry in all { entry.channel.close(promise: nil) }
    }
}
