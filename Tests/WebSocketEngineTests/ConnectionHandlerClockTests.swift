import Logging
import NIOCore
import NIOEmbedded
import Testing
import WebSocketEngine

/// The connection handler in an `EmbeddedChannel` keeps time by its event loop's clock only.
///
/// Found by the `connection` fuzz target (docs/fuzzing.md): the keep-alive timer was scheduled and fired by
/// the loop's clock but asked the wall clock whether a ping was due, found it not due, and rescheduled
/// itself for a deadline the loop had already passed, forever. Under virtual time no ping was ever sent.
@Suite struct ConnectionHandlerClockTests {
    static let upgrade =
        "GET /echo HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

    /// An open session on `/echo` (ping every 15 s, 10 s to answer) over an `EmbeddedChannel`.
    func openSession(loop: EmbeddedEventLoop) throws -> EmbeddedChannel {
        var router = WebSocketRouter()
        try router.webSocket("/echo", options: WebSocketOptions(pingPeriod: .seconds(15), timeout: .seconds(10))) {
            session in
            for await frame in session.incoming { try await session.send(frame) }
        }
        let handler = WebSocketServer.connectionHandler(
            router: router, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let channel = EmbeddedChannel(handler: handler, loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
        try channel.writeInbound(ByteBuffer(string: Self.upgrade))
        loop.run()
        let response = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: response).hasPrefix("HTTP/1.1 101 "))
        return channel
    }

    @Test func keepAlive_followsTheEventLoopClock_pingsAfterThePeriod_andClosesWith1011WithoutAPong() throws {
        let loop = EmbeddedEventLoop()
        let channel = try openSession(loop: loop)
        defer {
            _ = try? channel.finish(acceptAlreadyClosed: true)
            loop.run()
        }

        loop.advanceTime(by: .seconds(14))
        #expect(try writtenFrames(channel).isEmpty)
        loop.advanceTime(by: .seconds(1))
        #expect(try writtenFrames(channel).map(\.opcode) == [.ping])

        // No pong by 25 s: the close waits at most a second more for the handler to finish its messages.
        loop.advanceTime(by: .seconds(11))
        let frames = try writtenFrames(channel)
        #expect(frames.map(\.opcode) == [.close])
        let code = frames.first.flatMap { $0.payload.getInteger(at: $0.payload.readerIndex, as: UInt16.self) }
        #expect(code == 1011)
    }
}
