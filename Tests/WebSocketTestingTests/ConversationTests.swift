import Testing
import WebSocketEngine
import WebSocketTesting

/// Ktor's echo module, written against the Swift session API.
func ktorEchoModule() throws -> WebSocketRouter {
    var router = WebSocketRouter()
    try router.webSocket("/echo") { session in
        try await session.send("Please enter your name")
        for await frame in session.incoming {
            guard let receivedText = frame.readText() else { continue }
            if receivedText.lowercased() == "bye" {
                await session.close(CloseReason(.normal, "Client said BYE"))
            } else {
                try await session.send(.text("Hi, \(receivedText)!"))
            }
        }
    }
    return router
}

@Suite struct ConversationTests {
    /// The seed's `testConversation`, in Swift.
    @Test func testConversation() async throws {
        try await withTestServer(try ktorEchoModule()) { server in
            try await server.handleWebSocketConversation("/echo") { incoming, outgoing in
                let greetingText = try await incoming.receive().readText()
                #expect(greetingText == "Please enter your name")

                try await outgoing.send(.text("JetBrains"))
                let responseText = try await incoming.receive().readText()
                #expect(responseText == "Hi, JetBrains!")

                try await outgoing.send(.text("bye"))
                guard case .close(let reason) = try await incoming.receive() else {
                    Issue.record("expected a close frame")
                    return
                }
                #expect(reason?.message == "Client said BYE")
                #expect(reason?.code == .normal)
            }
        }
    }

    @Test func receive_timesOut_whenTheServerIsSilent() async throws {
        var router = WebSocketRouter()
        try router.webSocket("/silent") { session in
            for await _ in session.incoming {}
        }
        try await withTestServer(router) { server in
            let client = try await server.connect("/silent")
            await #expect(throws: WebSocketTestClient.ClientError.self) {
                _ = try await client.receive(timeout: .milliseconds(200))
            }
        }
    }

    @Test func connect_toAnUnknownPath_reports404() async throws {
        try await withTestServer(try ktorEchoModule()) { server in
            do {
                _ = try await server.connect("/missing")
                Issue.record("connected to a path that has no endpoint")
            } catch WebSocketTestClient.ClientError.handshakeRefused(let status, _, let body) {
                #expect(status == 404)
                #expect(body.contains("/missing"))
            }
        }
    }
}
