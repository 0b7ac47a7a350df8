import Gateway
import GatewayConfig
import NIOCore
import Testing
import WebSocketEngine
import WebSocketTesting

func gatewayRouter(_ yaml: String) throws -> WebSocketRouter {
    try Gateway.router(for: ConfigLoader.parse(yaml: yaml, file: "test.yaml", baseDirectory: ".").configuration)
}

@Suite struct EchoEndpointTests {
    @Test func embeddedDefaultConfiguration_holdsKtorsEchoConversation() async throws {
        let router = try gatewayRouter(Gateway.embeddedDefaultConfiguration)
        try await withTestServer(router) { server in
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
        let router = try gatewayRouter("version: 1\nendpoints:\n  - { path: /raw, type: echo }\n")
        try await withTestServer(router) { server in
            let client = try await server.connect("/raw")
            try await client.send(.binary([0, 1, 2, 255]))
            #expect(try await client.receive() == .binary([0, 1, 2, 255]))
            try await client.send("bye")
            #expect(try await client.receive().readText() == "bye")
        }
    }

    @Test func caseSensitiveBye_onlyMatchesExactly() async throws {
        let router = try gatewayRouter(
            "version: 1\nendpoints:\n  - { path: /e, type: echo, reply: \"<{message}>\", bye: { text: Quit, ignore_case: false } }\n"
        )
        try await withTestServer(router) { server in
            let client = try await server.connect("/e")
            try await client.send("quit")
            #expect(try await client.receive().readText() == "<quit>")
            try await client.send("Quit")
            #expect(try await client.receive() == .close(CloseReason(.normal)))
        }
    }

    @Test func endpointLimits_fromYAML_areEnforced() async throws {
        let router = try gatewayRouter(
            "version: 1\nendpoints:\n  - { path: /small, type: echo, max_frame_size: 16, max_message_size: 16 }\n")
        try await withTestServer(router) { server in
            let client = try await server.connect("/small")
            try await client.send(String(repeating: "x", count: 17))
            #expect(
                try await client.receive()
                    == .close(CloseReason(.messageTooBig, "frame of 17 bytes exceeds max_frame_size 16")))
        }
    }
}
