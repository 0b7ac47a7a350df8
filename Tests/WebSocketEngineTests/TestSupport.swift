import NIOCore
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
