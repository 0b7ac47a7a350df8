import Gateway
import GatewayConfig
import NIOCore
import Testing
import WebSocketEngine
import WebSocketTesting

/// Serves the endpoints of `yaml` on a test server for `body`, then stops them (shared processes too).
func withGateway(_ yaml: String, _ body: (TestServer) async throws -> Void) async throws {
    let gateway = try application(yaml)
    do {
        try await withTestServer(gateway.router, body)
    } catch {
        await gateway.shutdown()
        throw error
    }
    await gateway.shutdown()
}

@Suite struct EchoEndpointTests {
    @Test func embeddedDefaultConfiguration_holdsKtorsEchoConversation() async throws {
        try await withGateway(Gateway.embeddedDefaultConfiguration) { server in
            try await server.handleWebSocketConversation("/echo") { incoming, outgoing in
                #expect(try await incoming.receive().readText() == "Please enter your name")
                try await outgoing.send("JetBrains")
                #expect(try await incoming.receive().readText() == "Hi, JetBrains!")
                try await outgoing.send("BYE")
                #expect(try await incoming.receive() == .close(CloseReason(.normal, "Client said BYE")))
                #expect(await incoming.waitForDisconnect())
            }
        }
    }

    @Test func plainEcho_returnsTextAndBinaryAsReceived() async throws {
        try await withGateway("version: 1\nendpoints:\n  - { path: /raw, type: echo }\n") { server in
            let client = try await server.connect("/raw")
            try await client.send(.binary([0, 1, 2, 255]))
            #expect(try await client.receive() == .binary([0, 1, 2, 255]))
            try await client.send("bye")
            #expect(try await client.receive().readText() == "bye")
        }
    }

    @Test func caseSensitiveBye_onlyMatchesExactly() async throws {
        try await withGateway(
            "version: 1\nendpoints:\n  - { path: /e, type: echo, reply: \"<{message}>\", bye: { text: Quit, ignore_case: false } }\n"
        ) { server in
            let client = try await server.connect("/e")
            try await client.send("quit")
            #expect(try await client.receive().readText() == "<quit>")
            try await client.send("Quit")
            #expect(try await client.receive() == .close(CloseReason(.normal)))
        }
    }

    @Test func endpointLimits_fromYAML_areEnforced() async throws {
        try await withGateway(
            "version: 1\nendpoints:\n  - { path: /small, type: echo, max_frame_size: 16, max_message_size: 16 }\n"
        ) { server in
            let client = try await server.connect("/small")
            try await client.send(String(repeating: "x", count: 17))
            #expect(
                try await client.receive()
                    == .close(CloseReason(.messageTooBig, "frame of 17 bytes exceeds max_frame_size 16")))
        }
    }
}
