import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import RedisClient

@Suite struct RedisChannelHandlerTests {
    private func channel(
        maxReplySize: Int = RESPParser.defaultMaxReplySize,
        onMessage: (@Sendable (RedisPubSubMessage) -> Void)? = nil
    ) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            RedisChannelHandler(address: "test:6379", maxReplySize: maxReplySize, onMessage: onMessage)
        )
        return channel
    }

    private func send(
        _ command: RedisCommand,
        on channel: EmbeddedChannel,
        answer: RedisRequest.Answer = .reply
    ) throws -> EventLoopFuture<RESPValue> {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        // Not writeOutbound: it waits for the write, and the handler flushes in a later loop task.
        channel.write(RedisRequest(command: command, answer: answer, promise: promise), promise: nil)
        channel.flush()
        channel.embeddedEventLoop.run()
        return promise.futureResult
    }

    @Test func pipelinedCommands_getTheirRepliesInOrder_acrossReadBoundaries() throws {
        let channel = try channel()
        let futures = try (0..<3).map { _ in try send(RedisCommand("INCR", "n"), on: channel) }
        var written = ByteBuffer()
        while var chunk = try channel.readOutbound(as: ByteBuffer.self) { written.writeBuffer(&chunk) }
        #expect(String(buffer: written) == String(repeating: "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n", count: 3))

        try channel.writeInbound(ByteBuffer(string: ":1\r\n:"))
        #expect(try value(futures[0]) == .integer(1))
        try channel.writeInbound(ByteBuffer(string: "2\r\n-ERR boom\r\n"))
        #expect(try value(futures[1]) == .integer(2))
        #expect(try value(futures[2]) == .error("ERR boom"))
        #expect(try channel.finish().isClean)
    }

    @Test func closing_failsEveryCommandInFlight() throws {
        let channel = try channel()
        let pending = try send(RedisCommand("GET", "k"), on: channel)
        channel.close(promise: nil)
        channel.embeddedEventLoop.run()
        #expect(throws: RedisClientError.connectionClosed(address: "test:6379")) { try value(pending) }
    }

    @Test func replyNobodyAskedFor_closesTheConnection() throws {
        let channel = try channel()
        try channel.writeInbound(ByteBuffer(string: "+OK\r\n"))
        #expect(!channel.isActive)
    }

    @Test func hostileBulkLength_failsTheCommand_andClosesTheConnection() throws {
        let channel = try channel(maxReplySize: 1 << 20)
        let pending = try send(RedisCommand("GET", "k"), on: channel)
        try channel.writeInbound(ByteBuffer(string: "$2147483647\r\nabc"))
        #expect(throws: RedisClientError.protocolError(.replyTooLarge(limit: 1 << 20))) { try value(pending) }
        #expect(!channel.isActive)
    }

    @Test func subscriber_deliversPushedMessages_andCompletesSubscribeOnItsLastConfirmation() throws {
        let received = MessageBox()
        let channel = try channel(onMessage: { received.append($0) })
        let subscribed = try send(RedisCommand("SUBSCRIBE", "a", "b"), on: channel, answer: .confirmations(2))
        let done = Mutex(false)
        subscribed.whenComplete { _ in done.withLock { $0 = true } }
        try channel.writeInbound(ByteBuffer(string: "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"))
        #expect(!done.withLock { $0 })
        try channel.writeInbound(
            ByteBuffer(
                string: "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n"
                    + "*4\r\n$8\r\npmessage\r\n$2\r\nr*\r\n$2\r\nrx\r\n$3\r\nyo!\r\n"
            )
        )
        #expect(try value(subscribed)?.array?.count == 3)
        #expect(
            received.messages == [
                RedisPubSubMessage(channel: "a", payload: ByteBuffer(string: "hi")),
                RedisPubSubMessage(channel: "rx", pattern: "r*", payload: ByteBuffer(string: "yo!")),
            ]
        )
        // A plain connection treats the same array as the reply it is (LRANGE could return it).
        let plain = try self.channel()
        let reply = try send(RedisCommand("LRANGE", "l", 0, -1), on: plain)
        try plain.writeInbound(ByteBuffer(string: "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n"))
        #expect(try value(reply)?.array?.count == 3)
    }

    @Test func subscribeRefused_completesWithTheErrorReply() throws {
        let channel = try channel(onMessage: { _ in })
        let subscribed = try send(RedisCommand("SUBSCRIBE", "a", "b"), on: channel, answer: .confirmations(2))
        try channel.writeInbound(ByteBuffer(string: "-NOAUTH Authentication required.\r\n"))
        #expect(try value(subscribed) == .error("NOAUTH Authentication required."))
    }
}

/// The outcome of `future` once the embedded loop ran its tasks; nil while it is pending.
/// (`wait()` would block: an embedded loop runs nothing by itself.)
private func value(_ future: EventLoopFuture<RESPValue>) throws -> RESPValue? {
    let outcome = Mutex<Result<RESPValue, any Error>?>(nil)
    future.whenComplete { result in outcome.withLock { $0 = result } }
    (future.eventLoop as? EmbeddedEventLoop)?.run()
    return try outcome.withLock { $0 }?.get()
}

/// Messages collected from a handler's callback.
final class MessageBox: Sendable {
    private let storage = Mutex<[RedisPubSubMessage]>([])
    func append(_ message: RedisPubSubMessage) { storage.withLock { $0.append(message) } }
    var messages: [RedisPubSubMessage] { storage.withLock { $0 } }
}
