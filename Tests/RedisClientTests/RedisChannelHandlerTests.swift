import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import RedisClient

@Suite struct RedisChannelHandlerTests {
    private func channel(
        maxReplySize: Int = RESPParser.defaultMaxReplySize,
        commandTimeout: TimeAmount? = nil,
        onMessage: (@Sendable (RedisPubSubMessage) -> Void)? = nil
    ) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            RedisChannelHandler(
                address: "test:6379",
                maxReplySize: maxReplySize,
                commandTimeout: commandTimeout,
                onMessage: onMessage
            )
        )
        // Connected, so that isActive says whether the handler closed it.
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6379)).wait()
        return channel
    }

    private func send(
        _ command: RedisCommand,
        on channel: EmbeddedChannel,
        answer: RedisRequest.Answer = .reply,
        fallback: RedisCommand? = nil
    ) throws -> EventLoopFuture<RESPValue> {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        // Not writeOutbound: it waits for the write, and the handler flushes in a later loop task.
        channel.write(
            RedisRequest(command: command, answer: answer, promise: promise, fallback: fallback), promise: nil)
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

    @Test func commandWithoutReply_failsAfterTheTimeout_withThoseBehindIt_andClosesTheConnection() throws {
        let channel = try channel(commandTimeout: .seconds(5))
        let answered = try send(RedisCommand("GET", "a"), on: channel)
        channel.embeddedEventLoop.advanceTime(by: .seconds(3))
        let first = try send(RedisCommand("GET", "b"), on: channel)
        try channel.writeInbound(ByteBuffer(string: "$1\r\nx\r\n"))
        #expect(try value(answered) == .bulkString(ByteBuffer(string: "x")))
        channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        let second = try send(RedisCommand("GET", "c"), on: channel)
        // 7 s after the start: the first command waited 4 s of its 5, so nothing failed yet.
        #expect(try value(first) == nil)
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        let expected = RedisClientError.timedOut(address: "test:6379", command: "GET", after: .seconds(5))
        #expect(throws: expected) { try value(first) }
        #expect(throws: expected) { try value(second) }
        #expect(!channel.isActive)
        #expect(
            expected.description
                == "Redis at test:6379 did not answer GET within 5s; the connection was closed and is being re-established (a stuck or overloaded server?)"
        )
    }

    @Test func noTimeout_waitsForEver() throws {
        let channel = try channel(commandTimeout: nil)
        let pending = try send(RedisCommand("BLPOP", "q", 0), on: channel)
        channel.embeddedEventLoop.advanceTime(by: .hours(2))
        #expect(try value(pending) == nil)
        #expect(channel.isActive)
    }

    @Test func noscript_resendsItAndEveryEvaluationBehindIt_inOrder_beforeLaterCommands() throws {
        let channel = try channel()
        func evaluation(_ n: Int) throws -> EventLoopFuture<RESPValue> {
            try send(
                RedisCommand("EVALSHA", "abc", 0, n), on: channel,
                fallback: RedisCommand("EVAL", "return ARGV[1]", 0, n))
        }
        let a = try evaluation(1)
        let plain = try send(RedisCommand("GET", "k"), on: channel)
        let b = try evaluation(2)
        _ = drain(channel)
        try channel.writeInbound(ByteBuffer(string: "-NOSCRIPT No matching script.\r\n"))
        // a and b go again as EVAL at once, in their order; the GET between them is not a script.
        #expect(
            drain(channel)
                == RedisCommand("EVAL", "return ARGV[1]", 0, 1).encodedText
                + RedisCommand("EVAL", "return ARGV[1]", 0, 2).encodedText)
        let c = try evaluation(3)
        #expect(drain(channel) == RedisCommand("EVALSHA", "abc", 0, 3).encodedText)
        // The GET's reply, b's NOSCRIPT (for nobody), then the EVALs' replies and c's.
        try channel.writeInbound(
            ByteBuffer(string: "$1\r\nv\r\n-NOSCRIPT No matching script.\r\n:1\r\n:2\r\n:3\r\n"))
        #expect(try value(plain) == .bulkString(ByteBuffer(string: "v")))
        #expect(try value(a) == .integer(1))
        #expect(try value(b) == .integer(2))
        #expect(try value(c) == .integer(3))
        #expect(drain(channel).isEmpty)
        #expect(channel.isActive)
    }

    @Test func subscribeRefused_completesWithTheErrorReply() throws {
        let channel = try channel(onMessage: { _ in })
        let subscribed = try send(RedisCommand("SUBSCRIBE", "a", "b"), on: channel, answer: .confirmations(2))
        try channel.writeInbound(ByteBuffer(string: "-NOAUTH Authentication required.\r\n"))
        #expect(try value(subscribed) == .error("NOAUTH Authentication required."))
    }
}

/// What the handler wrote so far, as text.
private func drain(_ channel: EmbeddedChannel) -> String {
    var written = ByteBuffer()
    while var chunk = try? channel.readOutbound(as: ByteBuffer.self) { written.writeBuffer(&chunk) }
    return String(buffer: written)
}

extension RedisCommand {
    fileprivate var encodedText: String { String(buffer: encoded) }
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
