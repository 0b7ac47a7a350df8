import Foundation
import GatewayConfig
import Testing

private func conversation(_ yaml: String, environment: [String: String] = [:]) throws -> Conversation {
    try ConversationLoader.parse(yaml: yaml, file: "t.test.yaml", environment: environment)
}

/// The messages of the problems a conversation file has, as `line:column: message; hint`.
private func conversationProblems(_ yaml: String) -> [String] {
    do {
        _ = try ConversationLoader.parse(yaml: yaml, file: "t.test.yaml", environment: [:])
        return []
    } catch {
        return error.diagnostics.map {
            "\($0.location.line):\($0.location.column): \($0.message)" + ($0.hint.map { "; \($0)" } ?? "")
        }
    }
}

@Suite struct ConversationLoaderTests {
    @Test func ktorsEchoConversation_readsAsItsSteps() throws {
        let loaded = try conversation(
            """
            name: the echo greets, answers and says bye
            endpoint: /echo
            steps:
              - expect: "Please enter your name"
              - send: "JetBrains"
              - expect: "Hi, JetBrains!"
              - send: bye
              - expect_close: { code: 1000, reason: "Client said BYE" }
            """)
        #expect(loaded.name == "the echo greets, answers and says bye")
        #expect(loaded.clients == [Conversation.Client(name: "client", target: "/echo")])
        #expect(
            loaded.steps.map(\.action) == [
                .expect(.text("Please enter your name")), .send(.text("JetBrains")), .expect(.text("Hi, JetBrains!")),
                .send(.text("bye")), .expectClose(code: 1000, reason: "Client said BYE"),
            ])
        #expect(loaded.steps.map(\.location.line) == [4, 5, 6, 7, 8])
        #expect(loaded.steps.allSatisfy { $0.client == "client" && $0.timeout == .seconds(5) })
    }

    @Test func payloadsAndExpectations_takeEveryForm() throws {
        let loaded = try conversation(
            """
            endpoint: /raw
            timeout: 2s
            steps:
              - send: { hex: "00 01 FF" }
              - send: { base64: "AAH/" }
              - send: { text: "plain" }
              - expect: { regex: "Hi, .*!" }
              - expect: { hex: "cafe", type: text }
              - expect: { base64: "AAH/" }
              - expect_silence: 200ms
              - expect_close
              - close
              - close: 4000
              - close: { code: 1001, reason: away }
              - wait: 50ms
              - expect: late
                timeout: 10s
            """)
        #expect(
            loaded.steps.map(\.action) == [
                .send(.binary([0, 1, 255])), .send(.binary([0, 1, 255])), .send(.text("plain")),
                .expect(.regex("Hi, .*!")), .expect(.bytes([0xCA, 0xFE], isText: true)),
                .expect(.bytes([0, 1, 255], isText: false)), .expectSilence(.milliseconds(200)),
                .expectClose(code: nil, reason: nil), .close(code: 1000, reason: ""), .close(code: 4000, reason: ""),
                .close(code: 1001, reason: "away"), .wait(.milliseconds(50)), .expect(.text("late")),
            ])
        #expect(loaded.steps.map(\.timeout).last == .seconds(10))
        #expect(loaded.steps.first?.timeout == .seconds(2))
    }

    @Test func clients_takeTheirOwnEndpointQueryHeadersAndSubprotocols() throws {
        let loaded = try conversation(
            """
            endpoint: /rooms/lobby
            headers: { Origin: "https://example.com" }
            subprotocols: [chat, superchat]
            clients:
              ann: { query: { nick: ann, note: "a&b c" } }
              bob: { endpoint: "/rooms/dev?x=1", query: { nick: bob }, headers: { origin: "https://other.example" } }
              eve:
            steps:
              - ann: { send: hi }
              - bob: connect
              - eve: { connect: { expect_headers: { Sec-WebSocket-Protocol: chat } } }
            """)
        let protocols = Conversation.Header("Sec-WebSocket-Protocol", "chat, superchat")
        #expect(
            loaded.clients == [
                Conversation.Client(
                    name: "ann", target: "/rooms/lobby?nick=ann&note=a%26b%20c",
                    headers: [Conversation.Header("Origin", "https://example.com"), protocols]),
                Conversation.Client(
                    name: "bob", target: "/rooms/dev?x=1&nick=bob",
                    headers: [Conversation.Header("origin", "https://other.example"), protocols]),
                Conversation.Client(
                    name: "eve", target: "/rooms/lobby",
                    headers: [Conversation.Header("Origin", "https://example.com"), protocols]),
            ])
        #expect(loaded.steps.map(\.client) == ["ann", "bob", "eve"])
        #expect(
            loaded.steps.last?.action
                == .connect(expectHeaders: [Conversation.Header("sec-websocket-protocol", "chat")]))
    }

    @Test func clientList_sharesTheTopLevelEndpoint_andValuesReadTheEnvironment() throws {
        let loaded = try conversation(
            """
            endpoint: ${ROOM_PATH:-/chat}
            clients: [a, b]
            steps:
              - a: { send: "${GREETING}" }
              - b: { expect: "[user0]: hello" }
                timeout: 1s
            """, environment: ["GREETING": "hello"])
        #expect(loaded.clients.map(\.target) == ["/chat", "/chat"])
        #expect(loaded.steps.map(\.timeout) == [.seconds(5), .seconds(1)])
        #expect(loaded.steps.first?.action == .send(.text("hello")))
    }

    @Test func mistakes_areReportedWithLineColumnAndAFix() {
        #expect(
            conversationProblems(
                """
                endpoint: /echo
                stesp: []
                """) == [
                    "1:1: the conversation has no 'steps'; add a 'steps:' list, e.g. '- expect: hello'",
                    "2:1: unknown key 'stesp' in the top level; did you mean 'steps'?",
                ])
        #expect(
            conversationProblems(
                """
                endpoint: /echo
                steps:
                  - sned: hello
                  - expect: { hex: "abc" }
                  - expect: { regex: "(" }
                  - expect_status: 101
                  - { send: a, expect: b }
                  - expect_silence: 0
                  - expect_close: 999
                  - close: 1005
                  - frobnicate
                """) == [
                    "3:5: unknown key 'sned' in steps[0]: neither a step nor a client; did you mean 'send'?",
                    "4:20: steps[1].expect.hex must be pairs of hex digits; e.g. '00 01 ff' or '0001ff'",
                    "5:22: steps[2].expect.regex is not a valid regular expression: "
                        + regexError("("),
                    "6:20: 101 is an accepted handshake, not a refusal; write 'connect' to expect success",
                    "7:5: steps[4] has 'send' and 'expect'; a step does one thing: write them as separate steps",
                    "8:21: steps[5].expect_silence must be longer than 0; e.g. 200ms or 2s",
                    "9:19: steps[6].expect_close must be between 1000 and 4999, not 999",
                    "10:12: close code 1005 may not be sent; use 1000–1003, 1007–1014 or 3000–4999",
                    "11:5: steps[8] 'frobnicate' is not a step; write a step such as 'send: hello' or 'expect: hello'",
                ])
    }

    @Test func severalClients_needNamedSteps_andOrderRules() {
        #expect(
            conversationProblems(
                """
                endpoint: /chat
                clients: [ann, bob, send]
                steps:
                  - send: hello
                  - carl: { send: hi }
                  - bob: { expect_status: 403 }
                  - bob: { send: hi }
                  - ann: connect
                  - ann: connect
                """) == [
                    "2:21: 'send' cannot name a client: it is a step keyword; call the client something else",
                    "4:5: steps[0] does not say which client acts; start it with a client's name, e.g. '- ann: { send: hello }'",
                    "5:5: unknown key 'carl' in steps[1]: neither a step nor a client; steps are send, expect, expect_close, "
                        + "expect_silence, expect_status, connect, close, disconnect, wait; clients are ann, bob",
                    "7:5: steps[3]: bob's handshake was refused by an earlier expect_status; use another client for a second connection",
                    "9:5: steps[5]: ann is already connected by then; connect must be the client's first step",
                ])
        #expect(
            conversationProblems("clients: { ann: { query: { nick: ann } } }\nsteps: [ { ann: connect } ]\n") == [
                "1:12: no endpoint for client 'ann'; add 'endpoint: /path' at the top level or under the client"
            ])
        #expect(
            conversationProblems("endpoint: /chat\nclients: []\nsteps: [ connect ]\n") == [
                "2:10: clients is empty; name at least one client, e.g. clients: [ann]"
            ])
        #expect(
            conversationProblems("endpoint: echo\nsteps: [ connect ]\n") == [
                "1:1: no endpoint for the conversation; add 'endpoint: /path' at the top level or under the client",
                "1:11: endpoint must start with '/', not 'echo'; e.g. endpoint: /echo",
            ])
    }

    @Test func conversationFiles_areToldApartFromConfigurations() {
        #expect(ConversationLoader.isConversation(path: "a.test.yaml", yaml: "version: 1"))
        #expect(ConversationLoader.isConversation(path: "a.yaml", yaml: "endpoint: /e\nsteps: [connect]\n"))
        #expect(!ConversationLoader.isConversation(path: "a.yaml", yaml: "version: 1\nendpoints: []\n"))
        #expect(!ConversationLoader.isConversation(path: "a.yaml", yaml: "{ not yaml"))
    }

    @Test func committedConversationSchema_matchesTheKeyTable() throws {
        let committed = try String(
            contentsOf: repositoryRoot.appendingPathComponent("schemas/wsgate-test.schema.json"), encoding: .utf8)
        #expect(
            committed == ConversationSchema.json(),
            "run: wsgate schema --conversation > schemas/wsgate-test.schema.json")
    }

    @Test func everyExampleConversation_loads() throws {
        let folder = repositoryRoot.appendingPathComponent("examples/tests")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter {
            $0.hasSuffix(".test.yaml")
        }
        #expect(files.count >= 5)
        for file in files {
            #expect(throws: Never.self, "\(file)") {
                try ConversationLoader.load(path: folder.appendingPathComponent(file).path, environment: [:])
            }
        }
    }
}

private func regexError(_ pattern: String) -> String {
    do {
        _ = try Regex(pattern)
        return ""
    } catch {
        return "\(error)"
    }
}
