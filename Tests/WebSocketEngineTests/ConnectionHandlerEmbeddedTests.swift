import Logging
import NIOCore
import NIOEmbedded
import Testing
import WebSocketEngine
import WebSocketTesting

/// The connection handler's rules driven byte by byte through an `EmbeddedChannel`, on virtual time:
/// no socket, no wall clock. The session handlers here never read their messages, so what the
/// connection does is the handler's own doing (the close that waits for them, the limits, the refusals).
@Suite struct ConnectionHandlerEmbeddedTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func request(_ path: String = "/idle", extra: String = "") -> String {
        "GET \(path) HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\(extra)\r\n"
    }

    /// A handler on a channel with `/idle` (a session that never reads its messages) and `/health`.
    func channel(
        loop: EmbeddedEventLoop, options: WebSocketOptions = WebSocketOptions(pingPeriod: .zero)
    ) throws -> EmbeddedChannel {
        var router = WebSocketRouter()
        // Waits for the close without taking a message.
        try router.webSocket("/idle", options: options) { session in _ = await session.closeReason }
        try router.get("/health") { _ in PlainHTTPResponse(contentType: "text/plain", text: "up") }
        try router.handle(under: "/api", maxBodySize: 64) { request in
            PlainHTTPResponse(
                contentType: "text/plain", text: "\(request.method) \(request.path) \(request.body.count)")
        }
        let handler = WebSocketServer.connectionHandler(router: router, logger: Self.logger)
        let channel = EmbeddedChannel(handler: handler, loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
        return channel
    }

    func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let chunk = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: chunk) }
        return text
    }

    func closeCode(_ frame: (opcode: Opcode, payload: ByteBuffer)?) -> UInt16? {
        guard let frame, frame.opcode == .close else { return nil }
        return frame.payload.getInteger(at: frame.payload.readerIndex, as: UInt16.self)
    }

    func open(_ channel: EmbeddedChannel, loop: EmbeddedEventLoop) throws {
        try channel.writeInbound(ByteBuffer(string: Self.request()))
        loop.run()
        #expect(try written(channel).hasPrefix("HTTP/1.1 101 "))
    }

    static let key: (UInt8, UInt8, UInt8, UInt8) = (1, 2, 3, 4)

    @Test func aRequestSplitAcrossReads_isAnsweredOnceWhole() throws {
        let loop = EmbeddedEventLoop()
        let channel = try channel(loop: loop)
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        let request = Array(Self.request().utf8)
        for byte in request.dropLast() {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
        }
        loop.run()
        #expect(try written(channel).isEmpty)
        try channel.writeInbound(ByteBuffer(bytes: [request[request.count - 1]]))
        loop.run()
        #expect(try written(channel).hasPrefix("HTTP/1.1 101 "))
    }

    @Test func aBadVersion_isRefusedWith426_andTheConnectionCloses() throws {
        let loop = EmbeddedEventLoop()
        let channel = try channel(loop: loop)
        try channel.writeInbound(
            ByteBuffer(string: Self.request().replacingOccurrences(of: "Version: 13", with: "Version: 8")))
        loop.run()
        let answer = try written(channel)
        #expect(answer.hasPrefix("HTTP/1.1 426 "))
        #expect(answer.contains("Sec-WebSocket-Version: 13"))
        #expect(!channel.isActive)
    }

    @Test func keptAlivePlainRequests_areAnsweredInOrder_thenAnUpgradeOpensASession() throws {
        let loop = EmbeddedEventLoop()
        let channel = try channel(loop: loop)
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        // Two pipelined requests in one read, then the upgrade.
        try channel.writeInbound(
            ByteBuffer(string: "GET /health HTTP/1.1\r\nHost: t\r\n\r\nGET /health?x HTTP/1.1\r\nHost: t\r\n\r\n"))
        loop.run()
        let answers = try written(channel)
        #expect(answers.components(separatedBy: "HTTP/1.1 200 OK").count == 3)
        #expect(channel.isActive)
        try open(channel, loop: loop)
    }

    @Test func anUnmaskedFrame_closesWith1002() throws {
        let loop = EmbeddedEventLoop()
        let channel = try channel(loop: loop)
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        try open(channel, loop: loop)
        try channel.writeInbound(
            WebSocketTestClient.frameBytes(opcode: 0x1, payload: Array("hi".utf8), maskingKey: nil))
        loop.run()
        #expect(closeCode(try writtenFrames(channel).last) == 1002)
    }

    @Test func aFrameOverTheLimit_closesWith1009_atItsHeader() throws {
        let loop = EmbeddedEventLoop()
        let channel = try channel(loop: loop, options: WebSocketOptions(pingPeriod: .zero, maxFrameSize: 1024))
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        try open(channel, loop: loop)
        // Only the header of a 1 MiB frame arrives: the close does not wait for the payload.
        var header = ByteBuffer(bytes: [0x82, 0x80 | 127])
        header.writeInteger(UInt64(1 << 20))
        header.writeBytes([1, 2, 3, 4])
        try channel.writeInbound(header)
        loop.run()
        #expect(closeCode(try writtenFrames(channel).last) == 1009)
    }

    @Test func aPing_isAnsweredWithItsPayload_evenWhileTheHandlerReadsNothing() throws {
        let loop = EmbeddedEventLoop()
        let channel = try channel(loop: loop)
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        try open(channel, loop: loop)
        try channel.writeInbound(WebSocketTestClient.frameBytes(opcode: 0x9, payload: [7, 8, 9], maskingKey: Self.key))
        loop.run()
        let answer = try writtenFrames(channel)
        #expect(answer.map(\.opcode) == [.pong])
        #expect(answer.first.map { Array($0.payload.readableBytesView) } == [7, 8, 9])
    }

    @Test func aCloseAfterUnreadMessages_isAnsweredOnceTheDrainLimitPasses() throws {
        // RFC 6455 §5.5.1 lets the server finish the messages before the close; one that never
        // reads them gets the close reply after the drain limit (1 s), by the loop's clock.
        let loop = EmbeddedEventLoop()
        let channel = try channel(loop: loop)
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        try open(channel, loop: loop)
        try channel.writeInbound(
            WebSocketTestClient.frameBytes(opcode: 0x1, payload: Array("unread".utf8), maskingKey: Self.key))
        var close = ByteBuffer()
        close.writeInteger(UInt16(1000))
        try channel.writeInbound(
            WebSocketTestClient.frameBytes(opcode: 0x8, payload: Array(close.readableBytesView), maskingKey: Self.key))
        loop.run()
        #expect(try writtenFrames(channel).isEmpty)
        loop.advanceTime(by: .milliseconds(999))
        #expect(try writtenFrames(channel).isEmpty)
        loop.advanceTime(by: .milliseconds(1))
        #expect(closeCode(try writtenFrames(channel).last) == 1000)
    }

    /// Runs the loop until the handler wrote something or `seconds` of wall time passed (body routes
    /// answer from a task).
    func awaitWritten(_ channel: EmbeddedChannel, loop: EmbeddedEventLoop) async throws -> String {
        var text = ""
        for _ in 0..<500 where text.isEmpty {
            loop.run()
            text = try written(channel)
            if text.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        }
        return text
    }

    @Test func aBodyRoute_readsTheBodyAcrossReads_answers_andKeepsTheConnectionForTheNext() async throws {
        let loop = EmbeddedEventLoop()
        let channel = try channel(loop: loop)
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        try channel.writeInbound(
            ByteBuffer(string: "POST /api/publish HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123"))
        loop.run()
        #expect(try written(channel).isEmpty)
        try channel.writeInbound(ByteBuffer(string: "456789GET /api/rooms HTTP/1.1\r\nHost: t\r\n\r\n"))
        let first = try await awaitWritten(channel, loop: loop)
        #expect(first.hasPrefix("HTTP/1.1 200 "))
        #expect(first.hasSuffix("POST /api/publish 10"))
        let second = try await awaitWritten(channel, loop: loop)
        #expect(second.hasSuffix("GET /api/rooms 0"))
        #expect(channel.isActive)
    }

    @Test func aBodyOverTheLimit_gets413_aChunkedOne411_andTwoLengths400() throws {
        for (header, status) in [
            ("Content-Length: 65", "413"), ("Transfer-Encoding: chunked", "411"),
            ("Content-Length: 3\r\nContent-Length: 4", "400"), ("Content-Length: +3", "400"),
        ] {
            let loop = EmbeddedEventLoop()
            let channel = try channel(loop: loop)
            try channel.writeInbound(ByteBuffer(string: "POST /api/x HTTP/1.1\r\nHost: t\r\n\(header)\r\n\r\n"))
            loop.run()
            #expect(try written(channel).hasPrefix("HTTP/1.1 \(status) "))
            #expect(!channel.isActive)
        }
    }
}
