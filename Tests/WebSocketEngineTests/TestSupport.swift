import NIOCore
import NIOEmbedded
import Testing
import WebSocketEngine
import WebSocketTesting

/// A router with one echo endpoint at `/echo` using `options`, plus whatever `extra` adds.
func echoRouter(
    options: WebSocketOptions = WebSocketOptions(pingPeriod: .zero),
    allowedOrigins: [String] = ["*"],
    subprotocols: [String] = []
) throws -> WebSocketRouter {
    var router = WebSocketRouter()
    try router.webSocket("/echo", options: options, allowedOrigins: allowedOrigins, subprotocols: subprotocols) {
        session in
        for await frame in session.incoming {
            try await session.send(frame)
        }
    }
    return router
}

/// The close frame a client receives next, skipping pings.
func receiveClose(_ client: WebSocketTestClient, timeout: Duration = .seconds(5)) async throws -> CloseReason? {
    while true {
        let frame = try await client.receive(timeout: timeout)
        switch frame {
        case .close(let reason): return reason
        case .ping: continue
        default: Issue.record("expected a close frame, got \(frame)")
        }
    }
}

/// Checks that a client still gets its messages echoed.
func expectEcho(_ client: WebSocketTestClient, _ text: String = "still here") async throws {
    try await client.send(text)
    let frame = try await client.receive()
    #expect(frame.readText() == text)
}

/// Opens `rounds` sessions to `/echo` one after another, echoes once on each, and ends them half by
/// dropping the TCP connection and half with a close frame (both ways a session can end).
func churnEchoSessions(
    port: Int, rounds: Int = 20, headers: [(String, String)] = []
) async throws {
    for round in 0..<rounds {
        let client = try await WebSocketTestClient.connect(port: port, path: "/echo", headers: headers)
        try await expectEcho(client, "round \(round)")
        if round % 2 == 0 {
            await client.disconnect()
        } else {
            try await client.send(.close(CloseReason(.normal)))
            #expect(await client.waitForDisconnect())
        }
    }
}

/// The frames a connection handler in an `EmbeddedChannel` wrote since the last call: opcode and payload.
func writtenFrames(_ channel: EmbeddedChannel) throws -> [(opcode: Opcode, payload: ByteBuffer)] {
    var bytes = ByteBuffer()
    while var chunk = try channel.readOutbound(as: ByteBuffer.self) { bytes.writeBuffer(&chunk) }
    var parser = FrameParser(role: .client, maxFrameSize: Int.max)
    var frames: [(opcode: Opcode, payload: ByteBuffer)] = []
    while let event = try parser.next(from: &bytes) {
        switch event {
        case .header(let header): frames.append((header.opcode, ByteBuffer()))
        case .payload(var chunk): frames[frames.count - 1].payload.writeBuffer(&chunk)
        case .end: break
        }
    }
    return frames
}
