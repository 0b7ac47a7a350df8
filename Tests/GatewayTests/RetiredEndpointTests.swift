import RedisTesting
import Testing
import WebSocketEngine
import WebSocketTesting

@testable import Gateway

/// A reload retires an endpoint's runtime (`closeSessions`): its open sessions get the reload's close, and a
/// session whose handshake was answered by the old routes but that starts only now is closed at once with
/// the same reason — for the kinds served on the event loop (echo, rooms) as for the task-driven ones.
@Suite struct RetiredEndpointTests {
    /// Each endpoint, and what its first reply to "hello" is (a room's welcome comes before it).
    @Test(arguments: [
        ("{ path: /e, type: echo }", "hello"),
        (#"{ path: /e, type: broadcast, welcome: "hi", format: "{message}" }"#, "hi"),
        ("{ path: /e, type: process, command: [cat] }", "hello"),
    ])
    func aSessionThatStartsAfterItsEndpointWasRetired_isClosedWithTheSameReason(
        _ endpoint: String, firstReply: String
    ) async throws {
        let app = try application("version: 1\ndefaults: { ping_period: 0 }\nendpoints:\n  - \(endpoint)\n")
        let runtime = try #require(app.endpoints["/e"])
        let reloaded = CloseReason(.goingAway, "configuration reloaded")
        try await withTestServer(app.router) { server in
            let before = try await server.connect("/e")
            try await before.send("hello")
            #expect(try await before.receive().readText() == firstReply)
            await runtime.closeSessions(reloaded)
            #expect(try await closeReason(of: before) == reloaded)
            // The old routes still answer (as they do for a request read just before a reload).
            let late = try await server.connect("/e")
            #expect(try await closeReason(of: late) == reloaded)
            #expect(try await eventually { runtime.activeSessions == 0 })
        }
        await app.shutdown()
    }

    /// The close frame a client receives next, skipping other frames.
    private func closeReason(of client: WebSocketTestClient) async throws -> CloseReason? {
        while true {
            if case .close(let reason) = try await client.receive(timeout: .seconds(5)) { return reason }
        }
    }
}
