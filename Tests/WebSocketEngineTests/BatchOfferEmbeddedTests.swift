import Logging
import NIOCore
import NIOEmbedded
import Synchronization
import Testing
import WebSocketEngine
import WebSocketTesting

/// A room's fan-out as the hub does it (``WebSocketSession/offerOnLoop(_:whenFull:flush:)`` with a
/// ``PreparedBatch``), driven through an `EmbeddedChannel`: what reaches the wire, in how many writes, and
/// what a full queue does to a batch.
@Suite struct BatchOfferEmbeddedTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    /// Chat-like texts, long and repetitive enough that deflate shrinks them.
    static let texts = (0..<5).map { "message \($0): " + String(repeating: "the room says hello ", count: 8) }

    /// A member: the session of a loop-driven route that reads nothing, and the channel under it.
    struct Member {
        let channel: EmbeddedChannel
        let session: WebSocketSession
    }

    /// Opens `/room` on a fresh channel of `loop`; `extensions` is the request's offer, if any.
    func member(
        loop: EmbeddedEventLoop, options: WebSocketOptions = WebSocketOptions(pingPeriod: .zero),
        extensions: String? = nil
    ) throws -> Member {
        let opened = Mutex<WebSocketSession?>(nil)
        var router = WebSocketRouter()
        try router.webSocket("/room", options: options) { session in
            opened.withLock { $0 = session }
            return WebSocketLoopCallbacks(onMessage: { _ in }, onClose: { _ in })
        }
        let handler = WebSocketServer.connectionHandler(router: router, logger: Self.logger)
        let channel = EmbeddedChannel(handler: handler, loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
        let offer = extensions.map { "Sec-WebSocket-Extensions: \($0)\r\n" } ?? ""
        try channel.writeInbound(
            ByteBuffer(
                string: "GET /room HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\(offer)\r\n"))
        loop.run()
        let head = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: head).hasPrefix("HTTP/1.1 101 "))
        let session = try #require(opened.withLock { $0 })
        return Member(channel: channel, session: session)
    }

    /// Every write that reached the channel since the last call, one buffer per write.
    func writes(_ channel: EmbeddedChannel) throws -> [ByteBuffer] {
        var writes: [ByteBuffer] = []
        while let chunk = try channel.readOutbound(as: ByteBuffer.self) { writes.append(chunk) }
        return writes
    }

    var batch: PreparedBatch { PreparedBatch(Self.texts.map { PreparedMessage(text: $0) }) }

    @Test func aBatch_leavesInOneWrite_withItsMessagesInOrder() throws {
        let loop = EmbeddedEventLoop()
        let room = try member(loop: loop)
        defer { _ = try? room.channel.finish(acceptAlreadyClosed: true) }
        #expect(room.session.offerOnLoop(batch, whenFull: .drop, flush: true) == .queued)
        let written = try writes(room.channel)
        #expect(written.count == 1)
        var parser = FrameParser(role: .client, maxFrameSize: Int.max)
        var bytes = try #require(written.first)
        var texts: [String] = []
        while let event = try parser.next(from: &bytes) {
            switch event {
            case .header(let header): #expect(header.opcode == .text)
            case .payload(let chunk): texts.append(String(buffer: chunk))
            case .end: break
            }
        }
        #expect(texts == Self.texts)
    }

    @Test func theSameMessagesOfferedOneByOne_takeAWriteEach() throws {
        // The contrast that makes the test above mean something: one write per message without a batch.
        let loop = EmbeddedEventLoop()
        let room = try member(loop: loop)
        defer { _ = try? room.channel.finish(acceptAlreadyClosed: true) }
        for text in Self.texts {
            #expect(room.session.offerOnLoop(PreparedMessage(text: text), whenFull: .drop, flush: true) == .queued)
        }
        #expect(try writes(room.channel).count == Self.texts.count)
    }

    @Test func withoutFlush_theBatchWaitsForTheFlush() throws {
        let loop = EmbeddedEventLoop()
        let room = try member(loop: loop)
        defer { _ = try? room.channel.finish(acceptAlreadyClosed: true) }
        #expect(room.session.offerOnLoop(batch, whenFull: .drop, flush: false) == .queued)
        #expect(try writes(room.channel).isEmpty)
        room.session.flushOnLoop()
        #expect(try writes(room.channel).count == 1)
    }

    @Test func sharedDeflate_givesEveryMemberTheSameCompressedBytes_inOneWrite() throws {
        // `server_no_context_takeover` (the default): the batch is compressed once and shared.
        let loop = EmbeddedEventLoop()
        let options = WebSocketOptions(pingPeriod: .zero, extensions: [PerMessageDeflateFactory()])
        let first = try member(loop: loop, options: options, extensions: "permessage-deflate")
        let second = try member(loop: loop, options: options, extensions: "permessage-deflate")
        defer {
            _ = try? first.channel.finish(acceptAlreadyClosed: true)
            _ = try? second.channel.finish(acceptAlreadyClosed: true)
        }
        let shared = batch
        #expect(first.session.offerOnLoop(shared, whenFull: .drop, flush: true) == .queued)
        #expect(second.session.offerOnLoop(shared, whenFull: .drop, flush: true) == .queued)
        let one = try writes(first.channel)
        let other = try writes(second.channel)
        #expect(one.count == 1)
        #expect(one == other)
        // Compressed: RSV1 set on the first frame, and fewer bytes than the texts themselves.
        #expect(one.first?.getInteger(at: one.first?.readerIndex ?? 0, as: UInt8.self) == 0xC1)
        #expect((one.first?.readableBytes ?? .max) < Self.texts.reduce(0) { $0 + $1.utf8.count })
    }

    @Test func aMemberStarts_beforeIts101IsFlushed() throws {
        // Whatever the session's start does (a room join) is done before the client can read the 101: a
        // message published after the client saw it reaches it.
        let log = EventLog()
        var router = WebSocketRouter()
        try router.webSocket("/room", options: WebSocketOptions(pingPeriod: .zero)) { _ in
            log.append("start")
            return WebSocketLoopCallbacks(onMessage: { _ in })
        }
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(
            handlers: [
                OutboundRecorder(log), WebSocketServer.connectionHandler(router: router, logger: Self.logger),
            ], loop: loop)
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
        try channel.writeInbound(
            ByteBuffer(
                string: "GET /room HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
        loop.run()
        #expect(log.events == ["write", "start", "flush"])
    }

    @Test(arguments: [true, false])
    func aFullQueue_refusesTheWholeBatch_byItsPolicy(closes: Bool) throws {
        let loop = EmbeddedEventLoop()
        let room = try member(loop: loop)
        defer { _ = try? room.channel.finish(acceptAlreadyClosed: true) }
        // Over `maxQueuedBytes`: the channel says it is not writable.
        room.channel.isWritable = false
        room.channel.pipeline.fireChannelWritabilityChanged()
        let policy: SlowConsumerPolicy = closes ? .close(CloseReason(.policyViolation, "too slow")) : .drop
        #expect(room.session.offerOnLoop(batch, whenFull: policy, flush: true) == (closes ? .closed : .dropped))
        let frames = try writtenFrames(room.channel)
        // None of the batch's messages was written; with `.close` the close frame is all that leaves.
        #expect(frames.allSatisfy { $0.opcode == .close })
        #expect(frames.count == (closes ? 1 : 0))
        if closes {
            let code = frames.first.flatMap { $0.payload.getInteger(at: $0.payload.readerIndex, as: UInt16.self) }
            #expect(code == 1008)
            // Closing: a later batch is not queued.
            #expect(room.session.offerOnLoop(batch, whenFull: .drop, flush: true) == .notOpen)
        } else {
            // Writable again: the next batch goes out whole.
            room.channel.isWritable = true
            room.channel.pipeline.fireChannelWritabilityChanged()
            #expect(room.session.offerOnLoop(batch, whenFull: .drop, flush: true) == .queued)
            #expect(try writtenFrames(room.channel).count == Self.texts.count)
        }
    }
}

/// What happened, in order: the writes and flushes that pass ``OutboundRecorder`` and a session's start.
private final class EventLog: Sendable {
    private let list = Mutex<[String]>([])
    func append(_ event: String) { list.withLock { $0.append(event) } }
    var events: [String] { list.withLock { $0 } }
}

/// Records the writes and flushes that pass it on their way to the socket.
private final class OutboundRecorder: ChannelOutboundHandler, Sendable {
    typealias OutboundIn = ByteBuffer
    let log: EventLog

    init(_ log: EventLog) { self.log = log }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        log.append("write")
        context.write(data, promise: promise)
    }

    func flush(context: ChannelHandlerContext) {
        log.append("flush")
        context.flush()
    }
}
