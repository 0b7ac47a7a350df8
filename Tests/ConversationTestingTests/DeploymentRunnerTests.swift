import ConversationTesting
import Gateway
import GatewayConfig
import Logging
import Testing
import WebSocketClient
import WebSocketEngine

/// `wsgate test --url`: the runner holds conversations with a gateway that runs already (here one served on
/// 127.0.0.1 and an ephemeral port by the test), through the engine's client.
@Suite struct DeploymentRunnerTests {
    /// Serves the configuration, runs `body` with a runner aimed at it, and stops the gateway.
    func withDeployment(path: String = "", _ body: (ConversationRunner) async throws -> Void) async throws {
        let loaded = try ConfigLoader.parse(
            yaml: conversationTestConfiguration, file: "wsgate.yaml", baseDirectory: ".")
        let logger = Logger(label: "deployment-test")
        let application = try GatewayApplication(loaded.configuration, logger: logger)
        let server = try await WebSocketServer.start(
            router: application.router,
            configuration: Gateway.serverConfiguration(
                for: loaded.configuration, listen: ListenAddress(host: "127.0.0.1", port: 0)),
            logger: logger)
        application.start()
        let url = try #require(WebSocketURL("ws://127.0.0.1:\(server.port)\(path)"))
        do {
            try await body(ConversationRunner(deployment: url))
        } catch {
            await server.shutdown(grace: .seconds(1))
            await application.shutdown()
            throw error
        }
        await server.shutdown(grace: .seconds(1))
        await application.shutdown()
    }

    func conversation(_ yaml: String) throws -> Conversation {
        try ConversationLoader.parse(yaml: yaml, file: "t.test.yaml", environment: [:])
    }

    @Test func ktorsEcho_passesAgainstARunningGateway() async throws {
        try await withDeployment(path: "/") { runner in
            let result = await runner.run(
                try conversation(
                    """
                    endpoint: /echo
                    steps:
                      - expect: "Please enter your name"
                      - send: JetBrains
                      - expect: "Hi, JetBrains!"
                      - send: { hex: "00 ff" }
                      - expect: { hex: "00 ff" }
                      - send: BYE
                      - expect_close: { code: 1000, reason: "Client said BYE" }
                    """))
            #expect(result.failure == nil, "\(String(describing: result.failure))")
        }
    }

    @Test func headersSubprotocolsAndRefusals_reachTheDeployment() async throws {
        try await withDeployment { runner in
            let result = await runner.run(
                try conversation(
                    """
                    clients:
                      lost: { endpoint: /nowhere }
                      stranger: { endpoint: /private, headers: { Origin: "https://evil.example" } }
                      friend: { endpoint: /private, headers: { Origin: "https://example.com" }, subprotocols: [chat] }
                    steps:
                      - lost: { expect_status: 404 }
                      - stranger: { expect_status: 403 }
                      - friend: { connect: { expect_headers: { Sec-WebSocket-Protocol: chat } } }
                      - friend: { send: hi }
                      - friend: { expect: hi }
                      - friend: { close: { code: 4000, reason: done } }
                      - friend: { expect_close: 4000 }
                    """))
            #expect(result.failure == nil, "\(String(describing: result.failure))")
            let wrong = await runner.run(try conversation("endpoint: /nowhere\nsteps:\n  - expect_status: 403\n"))
            #expect(wrong.failure?.actual == "HTTP 404 Not Found")
        }
    }

    @Test func nothingStartsAfresh_betweenConversations() async throws {
        try await withDeployment { runner in
            let chat = try conversation(
                """
                endpoint: /chat
                clients: [ann, bob]
                steps:
                  - ann: { expect: "You've logged in as [user0]" }
                  - bob: { expect: "You've logged in as [user1]" }
                  - bob: disconnect
                  - ann: { send: hi }
                  - ann: { expect: "[user0]: hi" }
                """)
            #expect(await runner.run(chat).failure == nil)
            let again = await runner.run(chat)
            #expect(again.failure?.actual == #"text "You've logged in as [user2]""#)
        }
    }

    @Test func anUnreachableDeployment_failsWithWhatToCheck() async throws {
        // Port 1 on 127.0.0.1 refuses connections.
        let runner = ConversationRunner(deployment: try #require(WebSocketURL("ws://127.0.0.1:1")))
        let result = await runner.run(try conversation("endpoint: /echo\nsteps:\n  - send: hi\n"))
        #expect(result.failure?.actual?.hasPrefix("cannot connect: cannot connect to ws://127.0.0.1:1/echo") == true)
    }
}
