import FuzzSupport
import Logging
import NIOCore
import NIOEmbedded
import WebSocketEngine

// The whole connection: bytes from a peer through the server's connection handler in an
// `EmbeddedChannel` (handshake, frames, extensions, the session's echo handler, timers), no socket.
//
// Input: flags, then records:
//   0x00-0xEF: the next (byte + 1) bytes arrive from the peer
//   0xF0: the connection goes away (the channel closes); 0xF1-0xF7: nothing
//   0xF8-0xFF: (byte - 0xF7) seconds pass
// flags bit 0: an upgrade request to /echo arrives first; bit 1: it offers permessage-deflate;
// flags bit 2: /echo has small limits (max_frame_size 1000, max_message_size 3000) instead of the defaults.
//
// Whatever arrives, the server answers with an HTTP response, and after a 101 with a stream of frames a
// client accepts (unmasked, reserved bits only as negotiated, valid close codes), nothing after its close
// frame; a connection open for a ping period by the loop's clock has been pinged (or closed).

let noLogs = Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })

func makeRouter(smallLimits: Bool) -> WebSocketRouter {
    var router = WebSocketRouter()
    let options = WebSocketOptions(
        maxFrameSize: smallLimits ? 1000 : 1 << 20,
        maxMessageSize: smallLimits ? 3000 : 4 << 20,
        extensions: [PerMessageDeflateFactory(PerMessageDeflateConfiguration(compressMinSize: 8))]
    )
    do {
        try router.webSocket("/echo", options: options, subprotocols: ["chat"]) { session in
            for await frame in session.incoming { try await session.send(frame) }
        }
        try router.webSocket("/rooms/{room}") { session in
            try await session.send("hello")
        }
        try router.get("/healthz") { _ in PlainHTTPResponse(contentType: "text/plain", text: "ok") }
    } catch {
        fuzzFail("routes: \(error)")
    }
    return router
}

let routers = [makeRouter(smallLimits: false), makeRouter(smallLimits: true)]

@main
enum FuzzConnection {
    static func main() { FuzzDriver.run(testOneInput) }
}

/// One input (libFuzzer's `LLVMFuzzerTestOneInput`).
func testOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let flags = input.byte()
    let handler = WebSocketServer.connectionHandler(
        router: routers[flags & 4 != 0 ? 1 : 0],
        configuration: .init(handshakeTimeout: .seconds(10)),
        logger: noLogs
    )
    let loop = EmbeddedEventLoop()
    let channel = EmbeddedChannel(handler: handler, loop: loop)
    var output = ByteBuffer()
    // When the handshake was answered with 101 and when the connection ended, by the loop's clock.
    var openedAt: NIODeadline?
    var closedAt: NIODeadline?
    func drain() {
        loop.run()
        while let bytes = try? channel.readOutbound(as: ByteBuffer.self) {
            var bytes = bytes
            output.writeBuffer(&bytes)
        }
        if openedAt == nil, output.readableBytesView.starts(with: "HTTP/1.1 101 ".utf8) { openedAt = loop.now }
        if closedAt == nil, !channel.isActive { closedAt = loop.now }
    }
    do {
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
    } catch {
        fuzzFail("EmbeddedChannel did not connect: \(error)")
    }
    if flags & 1 != 0 {
        var request = "GET /echo HTTP/1.1\r\nHost: fuzz\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        if flags & 2 != 0 { request += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" }
        _ = try? channel.writeInbound(ByteBuffer(string: request + "\r\n"))
        drain()
    }
    while !input.remaining.isEmpty && channel.isActive {
        let record = input.byte()
        switch record {
        case 0x00...0xEF:
            _ = try? channel.writeInbound(ByteBuffer(bytes: input.take(Int(record) + 1)))
        case 0xF0:
            _ = try? channel.close().wait()
        case 0xF8...0xFF:
            loop.advanceTime(by: .seconds(Int64(record - 0xF7)))
        default:
            break
        }
        drain()
    }
    _ = try? channel.close().wait()
    drain()
    loop.advanceTime(by: .seconds(60))
    drain()
    let summary = checkServerOutput(output)
    if let openedAt, let closedAt, closedAt - openedAt >= pingPeriod {
        fuzzCheck(
            summary.pinged || summary.closed,
            "open for \(closedAt - openedAt) by the loop's clock without a ping or a close (ping period \(pingPeriod))")
    }
    _ = try? channel.finish(acceptAlreadyClosed: true)
    try? loop.syncShutdownGracefully()
    return 0
}

/// The keep-alive's ping period on the echo endpoints (the default).
let pingPeriod = TimeAmount.seconds(15)

/// The server's bytes: an HTTP response head, then (after 101) frames a client accepts. Returns whether
/// the frames include a ping and a close frame.
@discardableResult
func checkServerOutput(_ output: ByteBuffer) -> (pinged: Bool, closed: Bool) {
    var pinged = false
    var closed = false
    guard output.readableBytes > 0 else { return (pinged, closed) }
    let bytes = Array(output.readableBytesView)
    let text = String(decoding: bytes, as: UTF8.self)
    fuzzCheck(text.hasPrefix("HTTP/1.1 "), "the server's first bytes are not an HTTP response: \(text.prefix(40))")
    guard text.hasPrefix("HTTP/1.1 101 "), let headEnd = findHeadEnd(bytes) else { return (pinged, closed) }
    let head = String(decoding: bytes[..<headEnd], as: UTF8.self)
    let deflate = head.contains("Sec-WebSocket-Extensions: permessage-deflate")
    var frames = ByteBuffer(bytes: bytes[headEnd...])
    var client = ConnectionStateMachine(
        role: .client, maxFrameSize: Int.max, maxMessageSize: Int.max,
        allowedReservedBits: deflate ? ReservedBits(rawValue: 0b100) : [])
    while let action = client.next(from: &frames) {
        switch action {
        case .sendClose(_, then: .closeConnection):
            fuzzCheck(frames.readableBytes == 0, "\(frames.readableBytes) bytes after the close frame")
            closed = true
        case .sendClose(let reason, then: _):
            fuzzFail("the server's frames break the protocol: \(reason)")
        case .sendPong:
            pinged = true
        case .deliver, .receivedPong, .closeConnection:
            break
        }
    }
    return (pinged, closed)
}

func findHeadEnd(_ bytes: [UInt8]) -> Int? {
    guard bytes.count >= 4 else { return nil }
    for index in 0...(bytes.count - 4)
    where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
        return index + 4
    }
    return nil
}
