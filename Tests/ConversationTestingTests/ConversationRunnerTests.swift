import ConversationTesting
import GatewayConfig
import Testing

/// Ktor's echo, a plain echo and Ktor's chat, served by each run on 127.0.0.1 and an ephemeral port (and by
/// DeploymentRunnerTests as the deployment).
let conversationTestConfiguration = """
    version: 1
    endpoints:
      - path: /echo
        type: echo
        greeting: "Please enter your name"
        reply: "Hi, {message}!"
        bye: { text: bye, ignore_case: true, reason: "Client said BYE" }
      - { path: /raw, type: echo }
      - { path: /chat, type: broadcast }
      - { path: /private, type: echo, allowed_origins: ["https://example.com"], subprotocols: [chat] }
    """

private func run(_ yaml: String) async throws -> ConversationResult {
    let loaded = try ConfigLoader.parse(yaml: conversationTestConfiguration, file: "wsgate.yaml", baseDirectory: ".")
    let conversation = try ConversationLoader.parse(yaml: yaml, file: "t.test.yaml", environment: [:])
    return await ConversationRunner(configuration: loaded.configuration).run(conversation)
}

@Suite struct ConversationRunnerTests {
    @Test func ktorsEchoConversation_passes() async throws {
        let result = try await run(
            """
            name: echo
            endpoint: /echo
            steps:
              - expect: "Please enter your name"
              - send: JetBrains
              - expect: "Hi, JetBrains!"
              - send: bye
              - expect_close: { code: 1000, reason: "Client said BYE" }
            """)
        #expect(result.failure == nil)
        #expect(result.name == "echo")
        #expect(result.file == "t.test.yaml")
    }

    @Test func aWrongExpectation_failsAtItsStep_withExpectedAndActual() async throws {
        let result = try await run(
            """
            endpoint: /echo
            steps:
              - expect: "Please enter your name"
              - send: JetBrains
              - expect: "Hello, JetBrains!"
              - send: never sent
            """)
        #expect(
            result.failure
                == .init(
                    location: SourceLocation(file: "t.test.yaml", line: 5, column: 5), summary: "step 3 (expect)",
                    expected: #"text "Hello, JetBrains!""#, actual: #"text "Hi, JetBrains!""#))
    }

    @Test func aReplyThatNeverComes_failsAfterTheStepsTimeout() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        let result = try await run(
            """
            endpoint: /raw
            timeout: 10s
            steps:
              - expect: anything
                timeout: 300ms
            """)
        // The step's 300 ms, not the conversation's 10 s (the margin is for a loaded machine).
        #expect(clock.now - start < .seconds(9))
        #expect(result.failure?.summary == "step 1 (expect)")
        #expect(
            result.failure?.actual
                == "nothing within 300ms (the step's timeout; set 'timeout:' on the step or the file to wait longer)")
    }

    @Test func anUnexpectedClose_isWhatArrived() async throws {
        let result = try await run(
            """
            endpoint: /echo
            steps:
              - expect: "Please enter your name"
              - send: BYE
              - expect: "Hi, BYE!"
            """)
        #expect(result.failure?.expected == #"text "Hi, BYE!""#)
        #expect(result.failure?.actual == #"close 1000 "Client said BYE""#)
    }

    @Test func binaryRegexAndSilence_pass() async throws {
        let result = try await run(
            """
            endpoint: /raw
            steps:
              - expect_silence: 100ms
              - send: { hex: "00 ff" }
              - expect: { base64: "AP8=" }
              - send: "user42"
              - expect: { regex: "user[0-9]+" }
              - close: { code: 4000, reason: done }
              - expect_close: { code: 4000, reason: done }
            """)
        #expect(result.failure == nil)
    }

    @Test func aMessageDuringSilence_fails() async throws {
        let result = try await run("endpoint: /echo\nsteps:\n  - expect_silence: 300ms\n")
        #expect(result.failure?.expected == "no message for 300ms")
        #expect(result.failure?.actual == #"text "Please enter your name""#)
    }

    @Test func refusedHandshakes_areExpectedByStatus() async throws {
        let passing = try await run(
            """
            clients:
              lost: { endpoint: /nowhere }
              stranger: { endpoint: /private, headers: { Origin: "https://evil.example" } }
              friend: { endpoint: /private, headers: { Origin: "https://example.com" }, subprotocols: [chat] }
            steps:
              - lost: { expect_status: 404 }
              - stranger: { expect_status: 403 }
              - friend: { connect: { expect_headers: { Sec-WebSocket-Protocol: chat } } }
            """)
        #expect(passing.failure == nil)
        let failing = try await run("endpoint: /raw\nsteps:\n  - expect_status: 403\n")
        #expect(failing.failure?.expected == "the handshake refused with HTTP 403")
        #expect(failing.failure?.actual == "HTTP 101: the handshake was accepted")
        let refused = try await run("endpoint: /nowhere\nsteps:\n  - send: hello\n")
        #expect(refused.failure?.expected == "the handshake to succeed (HTTP 101)")
        #expect(refused.failure?.actual.map { $0.hasPrefix("HTTP 404") } == true)
    }

    @Test func severalClients_takeTurns_andEveryConversationGetsAFreshGateway() async throws {
        let chat = """
            endpoint: /chat
            clients: [ann, bob]
            steps:
              - ann: { expect: "You've logged in as [user0]" }
              - bob: { expect: "You've logged in as [user1]" }
              - ann: { send: hi }
              - bob: { expect: "[user0]: hi" }
              - bob: disconnect
              - ann: { expect: "[user0]: hi" }
              - ann: { expect: "[user1]: late" }
                timeout: 200ms
            """
        for _ in 0..<2 {
            let result = try await run(chat)
            #expect(result.failure?.summary == "step 7, ann: expect")
            #expect(result.failure?.location.line == 10)
            #expect(result.failure?.actual?.hasPrefix("nothing within 200ms") == true)
        }
    }
}
